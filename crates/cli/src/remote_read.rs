//! Wiring of remote read into `ember server`: the `remote_read` entries of the
//! configuration become [`RemoteReadQueryable`]s, merged behind the local TSDB into
//! the one [`Queryable`] the query API and the rules read (Prometheus's fan-out
//! storage), and rebuilt on every configuration reload.
//!
//! The HTTP exchange goes through `ember-discovery`'s shared client, so
//! `basic_auth`, `authorization`, `oauth2`, `tls_config`, proxies and
//! `http_headers` behave as for scrapes; `headers` and the remote read protocol
//! headers are added per request. Storage selects are synchronous and run on
//! blocking threads, so each request is driven to completion on the runtime from a
//! short-lived thread of its own.

use ember_discovery::http::HttpClient;
use ember_model::Labels;
use ember_remote::read::ReadError;
use ember_remote::read::client::{
    ClientOptions, HttpReply, REQUEST_HEADERS, ReadTransport, RemoteReadQueryable, StartTimeFn,
};
use ember_storage::merge::MergeQuerier;
use ember_storage::{Error as StorageError, Querier, Queryable, Timestamp};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What remote read requests say they are.
const USER_AGENT: &str = concat!("Ember/", env!("CARGO_PKG_VERSION"));

/// The local storage first, then every configured remote; series with the same
/// labels are merged, the local sample winning at equal timestamps.
pub(crate) struct Fanout {
    local: Arc<dyn Queryable>,
    remotes: RwLock<Arc<Vec<RemoteReadQueryable>>>,
}

impl Queryable for Fanout {
    fn querier(
        &self,
        mint: Timestamp,
        maxt: Timestamp,
    ) -> Result<Box<dyn Querier + '_>, StorageError> {
        let remotes = self.remotes.read().map(|r| r.clone()).unwrap_or_default();
        let local = self.local.querier(mint, maxt)?;
        if remotes.is_empty() {
            return Ok(local);
        }
        let mut all = vec![local];
        for r in remotes.iter() {
            all.push(r.owned_querier(mint, maxt)?);
        }
        Ok(Box::new(MergeQuerier::new(all)))
    }
}

/// The remote read side of the server.
pub(crate) struct RemoteReads {
    fanout: Arc<Fanout>,
    start: StartTimeFn,
    runtime: tokio::runtime::Handle,
}

impl RemoteReads {
    /// Over the local TSDB; `margin_ms` is added to its start time for
    /// `read_recent: false` (Prometheus adds twice the minimum block duration).
    pub(crate) fn new(db: Arc<ember_tsdb::Db>, margin_ms: i64) -> Self {
        let local: Arc<dyn Queryable> = db.clone();
        // Prometheus's `readyStorage.StartTime`: the oldest block's start, or now
        // when there is no block yet, plus the margin.
        let start: StartTimeFn = Arc::new(move || {
            let oldest = db.blocks().iter().map(|b| b.meta().min_time).min();
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            Ok(oldest.unwrap_or(now).saturating_add(margin_ms))
        });
        RemoteReads {
            fanout: Arc::new(Fanout {
                local,
                remotes: RwLock::new(Arc::new(Vec::new())),
            }),
            start,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// The merged storage for the query API and the rules.
    pub(crate) fn queryable(&self) -> Arc<dyn Queryable> {
        self.fanout.clone()
    }

    /// Rebuilds the remotes from `cfg`. An entry whose client cannot be built
    /// (unreadable CA file, …) fails the whole reload and the running remotes stay,
    /// as Prometheus refuses such a configuration.
    pub(crate) fn apply(&self, cfg: &ember_config::Config) -> Result<(), String> {
        let mut remotes = Vec::with_capacity(cfg.remote_read.len());
        for rr in &cfg.remote_read {
            let client = HttpClient::from_config(&rr.http_client)
                .map_err(|e| format!("remote_read {}: {e}", rr.url))?;
            let transport = HttpTransport {
                client,
                url: rr.url.clone(),
                timeout: rr.remote_timeout.into(),
                headers: rr
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                runtime: self.runtime.clone(),
            };
            let opts = ClientOptions {
                external_labels: if rr.filter_external_labels {
                    cfg.global.external_labels.clone()
                } else {
                    Labels::empty()
                },
                required_matchers: rr
                    .required_matchers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                read_recent: rr.read_recent,
                chunked_read_limit: rr.chunked_read_limit,
            };
            remotes.push(RemoteReadQueryable::new(
                Box::new(transport),
                opts,
                self.start.clone(),
            ));
        }
        if let Ok(mut r) = self.fanout.remotes.write() {
            *r = Arc::new(remotes);
        }
        Ok(())
    }
}

struct HttpTransport {
    client: HttpClient,
    url: String,
    timeout: Duration,
    headers: Vec<(String, String)>,
    runtime: tokio::runtime::Handle,
}

impl ReadTransport for HttpTransport {
    fn post(&self, body: Vec<u8>) -> Result<HttpReply, ReadError> {
        let mut headers: Vec<(&str, String)> = REQUEST_HEADERS
            .iter()
            .map(|(k, v)| (*k, v.to_string()))
            .collect();
        headers.push(("User-Agent", USER_AGENT.to_string()));
        for (k, v) in &self.headers {
            headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
            headers.push((k.as_str(), v.clone()));
        }
        let fut = self.client.post(&self.url, &headers, body, self.timeout, 0);
        // Selects run on blocking threads (or, for rules, wherever the engine
        // runs); a thread outside the runtime may always block on it.
        let r = std::thread::scope(|s| s.spawn(|| self.runtime.block_on(fut)).join())
            .map_err(|_| ReadError::Transport("remote read request panicked".into()))?;
        // Worded as Prometheus's client, which the querier prefixes with `remote_read: `.
        let r = r.map_err(|e| {
            ReadError::Transport(format!("error sending request: Post {:?}: {e}", self.url))
        })?;
        Ok(HttpReply {
            status: r.status,
            content_type: r.content_type,
            body: r.body,
        })
    }

    fn url(&self) -> &str {
        &self.url
    }
}
