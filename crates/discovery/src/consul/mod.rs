//! Consul service discovery (`consul_sd_configs`): targets from the service
//! instances Consul's catalog knows, with Prometheus's `__meta_consul_*` labels.
//!
//! The provider follows Prometheus's discoverer step by step, because the order
//! and the timing of its requests are what users tune `refresh_interval` and
//! `allow_stale` against:
//!
//! 1. Without a `datacenter`, the local agent's one is asked for once
//!    (`/v1/agent/self`), retried every 15 s until it answers; it only labels the
//!    targets (`__meta_consul_dc`), requests still go without `dc`.
//! 2. When `services` is empty, or `tags` or `filter` is set, the catalog's list of
//!    services (`/v1/catalog/services`) is watched with blocking queries (`index`,
//!    `wait=2m`); each listed service that passes the name and tag filters gets a
//!    watcher, and a service that leaves the catalog has its watcher stopped and
//!    an empty group in place of its targets. Otherwise each named service is
//!    watched directly.
//! 3. Each watcher follows `/v1/health/service/<name>` (with the `tags`,
//!    `node_meta` and `health_filter`) with blocking queries and turns each
//!    answer into one group whose `source` is the service name.
//!
//! Both loops wait for the next `refresh_interval` tick after each query, and an
//! answer whose `X-Consul-Index` equals the last one is a blocking query that
//! timed out: nothing changed. A failed query is logged, waits 15 s and is tried
//! again, and the groups found so far stay as they are.
//!
//! Requests go through the job's shared [`HttpClient`] (TLS, `basic_auth` —
//! `username`/`password` are moved there by the configuration crate —,
//! `authorization`, proxies); `token` is sent as `X-Consul-Token`. Every query
//! carries `dc`, `ns` and `partition` when they are configured, and `stale` when
//! `allow_stale` is on.
//!
//! The provider's own tasks (the catalog watcher, one task per service) report to
//! its main task, which keeps the latest group of every source and sends the whole
//! list on each change, as the [`Provider`] contract asks. Dropping the main task
//! (the manager aborts it on reload) drops the [`JoinSet`]s and so stops them all.

use crate::http::{HttpClient, HttpError};
use crate::sanitize_label_name as sanitize;
use crate::{Group, Provider};
use ember_config::ConsulSdConfig;
use ember_model::{Labels, LabelsBuilder};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::MissedTickBehavior;

/// How long a blocking query may wait on the server, as Prometheus asks.
const WATCH_TIMEOUT: Duration = Duration::from_secs(120);
/// Margin over [`WATCH_TIMEOUT`] before the client gives up on an answer.
const REQUEST_SLACK: Duration = Duration::from_secs(15);
/// Pause after a failed query.
const RETRY_INTERVAL: Duration = Duration::from_secs(15);

/// Why a Consul query failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConsulError {
    /// The server address, scheme or path prefix do not make a URL.
    #[error("invalid Consul URL {0:?}")]
    Url(String),
    /// The request failed or Consul answered with an error status.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The answer was not the JSON expected.
    #[error("decoding Consul answer: {0}")]
    Decode(#[from] serde_json::Error),
    /// `X-Consul-Index` was not a number.
    #[error("Failed to parse X-Consul-Index: {0:?}")]
    Index(String),
    /// `/v1/agent/self` had no usable datacenter.
    #[error("invalid value '{0}' for Config.Datacenter")]
    Datacenter(String),
}

/// One entry of `/v1/health/service/<name>`: an instance, its node and checks.
/// Fields Consul may send as `null` or leave out (OSS has no namespaces) default.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ServiceEntry {
    node: Node,
    service: Service,
    checks: Option<Vec<Check>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Node {
    node: String,
    address: String,
    tagged_addresses: Option<BTreeMap<String, String>>,
    meta: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Service {
    #[serde(rename = "ID")]
    id: String,
    tags: Option<Vec<String>>,
    address: String,
    meta: Option<BTreeMap<String, String>>,
    port: i64,
    namespace: String,
    partition: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Check {
    #[serde(rename = "CheckID")]
    check_id: String,
    status: String,
}

/// The single health word for an instance's checks, with the precedence of
/// Consul's Go client (`HealthChecks.AggregatedStatus`): maintenance, critical,
/// warning, passing; no checks is passing, and an unknown status gives "" (so
/// the label is absent).
fn aggregated_status(checks: &[Check]) -> &'static str {
    // No check, or passing ones only, is passing: no flag needed for it.
    let (mut warning, mut critical, mut maintenance) = (false, false, false);
    for c in checks {
        if c.check_id == "_node_maintenance" || c.check_id.starts_with("_service_maintenance:") {
            maintenance = true;
            continue;
        }
        match c.status.as_str() {
            "passing" => {}
            "warning" => warning = true,
            "critical" => critical = true,
            _ => return "",
        }
    }
    if maintenance {
        "maintenance"
    } else if critical {
        "critical"
    } else if warning {
        "warning"
    } else {
        "passing"
    }
}

/// Go's `net.JoinHostPort`: brackets around hosts with a colon (IPv6).
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The group of service `name` from its health entries: the group's labels
/// (`__meta_consul_service`, `__meta_consul_dc`) under each target's own.
fn service_group(name: &str, dc: &str, separator: &str, entries: &[ServiceEntry]) -> Group {
    let targets = entries
        .iter()
        .map(|e| {
            let mut b = LabelsBuilder::new(Labels::empty());
            b.set("__meta_consul_service", name);
            b.set("__meta_consul_dc", dc);
            let (node, svc) = (&e.node, &e.service);
            // The service's own address wins: it may be registered on behalf of
            // another host than the node it was registered through.
            let host = if svc.address.is_empty() {
                &node.address
            } else {
                &svc.address
            };
            b.set("__address__", join_host_port(host, svc.port));
            b.set("__meta_consul_address", node.address.as_str());
            b.set("__meta_consul_node", node.node.as_str());
            b.set("__meta_consul_namespace", svc.namespace.as_str());
            b.set("__meta_consul_partition", svc.partition.as_str());
            // Separators at both ends, so relabeling regexes need not care where
            // in the list a tag is.
            let tags = svc.tags.as_deref().unwrap_or_default().join(separator);
            b.set(
                "__meta_consul_tags",
                format!("{separator}{tags}{separator}"),
            );
            b.set("__meta_consul_service_address", svc.address.as_str());
            b.set("__meta_consul_service_port", svc.port.to_string());
            b.set("__meta_consul_service_id", svc.id.as_str());
            b.set(
                "__meta_consul_health",
                aggregated_status(e.checks.as_deref().unwrap_or_default()),
            );
            for (prefix, map) in [
                ("__meta_consul_metadata_", &node.meta),
                ("__meta_consul_service_metadata_", &svc.meta),
                ("__meta_consul_tagged_address_", &node.tagged_addresses),
            ] {
                for (k, v) in map.iter().flatten() {
                    b.set(format!("{prefix}{}", sanitize(k)), v.as_str());
                }
            }
            b.into_labels()
        })
        .collect();
    Group {
        source: name.to_string(),
        targets,
    }
}

/// Whether a catalog service is to be watched: named in `services` (or no names
/// given) and carrying every one of `tags`.
fn should_watch(cfg: &ConsulSdConfig, name: &str, tags: &[String]) -> bool {
    (cfg.services.is_empty() || cfg.services.iter().any(|s| s == name))
        && cfg.tags.iter().all(|t| tags.contains(t))
}

/// Whether the catalog must be listed, rather than the named services watched
/// directly (Prometheus 3.x also lists it when a catalog `filter` is set).
fn watches_catalog(cfg: &ConsulSdConfig) -> bool {
    cfg.services.is_empty() || !cfg.tags.is_empty() || !cfg.filter.is_empty()
}

/// The endpoint and credentials of one `consul_sd_configs` entry.
struct Api {
    client: HttpClient,
    cfg: ConsulSdConfig,
}

/// What a query adds to the parameters every request carries.
#[derive(Default)]
struct Query<'a> {
    /// A blocking query from this index (0: answer at once).
    blocking: Option<u64>,
    /// `filter` expression.
    filter: &'a str,
    /// `tag` parameters.
    tags: &'a [String],
}

impl Api {
    /// The URL of `path` (under `path_prefix`) with the configuration's and
    /// `query`'s parameters, encoded as Go's `url.Values` does.
    fn url(&self, path: &str, query: &Query<'_>) -> Result<String, ConsulError> {
        let base = format!("{}://{}", self.cfg.scheme, self.cfg.server);
        let mut url = url::Url::parse(&base).map_err(|_| ConsulError::Url(base.clone()))?;
        url.set_path(&format!("{}{path}", self.cfg.path_prefix));
        let mut params: Vec<(&str, String)> = Vec::new();
        for (k, v) in [
            ("dc", &self.cfg.datacenter),
            ("ns", &self.cfg.namespace),
            ("partition", &self.cfg.partition),
        ] {
            if !v.is_empty() {
                params.push((k, v.clone()));
            }
        }
        if let Some(index) = query.blocking {
            if self.cfg.allow_stale {
                params.push(("stale", String::new()));
            }
            if index != 0 {
                params.push(("index", index.to_string()));
            }
            params.push(("wait", format!("{}ms", WATCH_TIMEOUT.as_millis())));
            for (k, v) in &self.cfg.node_meta {
                params.push(("node-meta", format!("{k}:{v}")));
            }
        }
        if !query.filter.is_empty() {
            params.push(("filter", query.filter.to_string()));
        }
        for t in query.tags {
            params.push(("tag", t.clone()));
        }
        if !params.is_empty() {
            // Sorted by key, as `url.Values.Encode` writes them.
            params.sort_by(|a, b| a.0.cmp(b.0));
            url.query_pairs_mut().extend_pairs(params);
        }
        Ok(url.into())
    }

    /// GETs `path` and returns the body and the `X-Consul-Index` (0 when absent,
    /// as Consul's Go client leaves it).
    async fn get(&self, path: &str, query: &Query<'_>) -> Result<(Vec<u8>, u64), ConsulError> {
        let url = self.url(path, query)?;
        let mut headers = vec![("Accept", "application/json".to_string())];
        if !self.cfg.token.is_empty() {
            headers.push(("X-Consul-Token", self.cfg.token.expose().to_string()));
        }
        let r = self
            .client
            .get(&url, &headers, WATCH_TIMEOUT + REQUEST_SLACK, 0)
            .await?;
        let index = match r.headers.get("x-consul-index") {
            None => 0,
            Some(v) => v
                .to_str()
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| ConsulError::Index(String::from_utf8_lossy(v.as_bytes()).into()))?,
        };
        Ok((r.body, index))
    }

    /// The local agent's datacenter.
    async fn datacenter(&self) -> Result<String, ConsulError> {
        let (body, _) = self.get("/v1/agent/self", &Query::default()).await?;
        let info: serde_json::Value = serde_json::from_slice(&body)?;
        let dc = &info["Config"]["Datacenter"];
        dc.as_str()
            .map(str::to_string)
            .ok_or_else(|| ConsulError::Datacenter(dc.to_string()))
    }

    /// The catalog's services and their tags, from `index` on.
    async fn services(
        &self,
        index: u64,
    ) -> Result<(BTreeMap<String, Vec<String>>, u64), ConsulError> {
        let query = Query {
            blocking: Some(index),
            filter: &self.cfg.filter,
            ..Query::default()
        };
        let (body, index) = self.get("/v1/catalog/services", &query).await?;
        let services: Option<BTreeMap<String, Option<Vec<String>>>> =
            serde_json::from_slice(&body)?;
        let services = services
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect();
        Ok((services, index))
    }

    /// The instances of service `name` with their health, from `index` on.
    async fn health(
        &self,
        name: &str,
        index: u64,
    ) -> Result<(Vec<ServiceEntry>, u64), ConsulError> {
        let query = Query {
            blocking: Some(index),
            filter: &self.cfg.health_filter,
            tags: &self.cfg.tags,
        };
        let path = format!("/v1/health/service/{name}");
        let (body, index) = self.get(&path, &query).await?;
        let entries: Option<Vec<ServiceEntry>> = serde_json::from_slice(&body)?;
        Ok((entries.unwrap_or_default(), index))
    }
}

/// What the provider's tasks tell its main task.
enum Report {
    /// The latest group of a service, from watcher `id`.
    Service { id: u64, group: Group },
    /// The service's watcher `id` was stopped: its targets are gone.
    Gone { name: String, id: u64 },
    /// The catalog has nothing to watch (Prometheus sends one empty group then).
    Nothing,
}

/// A ticker as Go's `time.Ticker`: the first tick one period from now, a tick
/// missed while busy delivered at once and the rest dropped.
async fn ticker(period: Duration) -> tokio::time::Interval {
    let mut t = tokio::time::interval(period.max(Duration::from_millis(1)));
    t.set_missed_tick_behavior(MissedTickBehavior::Skip);
    t.tick().await;
    t
}

/// Follows service `name` until aborted.
async fn watch_service(api: std::sync::Arc<Api>, dc: String, name: String, id: u64, tx: Tx) {
    let mut tick = ticker(api.cfg.refresh_interval.as_std()).await;
    let mut last = 0;
    loop {
        match api.health(&name, last).await {
            Err(e) => {
                tracing::error!(service = %name, err = %e, "Consul SD: error refreshing service");
                tokio::time::sleep(RETRY_INTERVAL).await;
            }
            // The same index: the blocking query timed out with nothing new.
            Ok((_, index)) if index == last => {}
            Ok((entries, index)) => {
                last = index;
                let group = service_group(&name, &dc, &api.cfg.tag_separator, &entries);
                if tx.send(Report::Service { id, group }).is_err() {
                    return;
                }
            }
        }
        tick.tick().await;
    }
}

type Tx = mpsc::UnboundedSender<Report>;

/// Follows the catalog's list of services, starting and stopping watchers.
async fn watch_catalog(api: std::sync::Arc<Api>, dc: String, tx: Tx) {
    let mut tick = ticker(api.cfg.refresh_interval.as_std()).await;
    let mut last = 0;
    let mut next_id = 0u64;
    let mut watchers: JoinSet<()> = JoinSet::new();
    let mut watched: HashMap<String, (u64, AbortHandle)> = HashMap::new();
    loop {
        match api.services(last).await {
            Err(e) => {
                tracing::error!(err = %e, "Consul SD: error refreshing service list");
                tokio::time::sleep(RETRY_INTERVAL).await;
            }
            Ok((_, index)) if index == last => {}
            Ok((services, index)) => {
                last = index;
                for (name, tags) in &services {
                    if !should_watch(&api.cfg, name, tags) || watched.contains_key(name) {
                        continue;
                    }
                    next_id += 1;
                    let handle = watchers.spawn(watch_service(
                        api.clone(),
                        dc.clone(),
                        name.clone(),
                        next_id,
                        tx.clone(),
                    ));
                    watched.insert(name.clone(), (next_id, handle));
                }
                // As Prometheus, only services gone from the catalog stop (one whose
                // tags changed keeps its watcher).
                let gone: Vec<String> = watched
                    .keys()
                    .filter(|n| !services.contains_key(*n))
                    .cloned()
                    .collect();
                for name in gone {
                    if let Some((id, handle)) = watched.remove(&name) {
                        handle.abort();
                        if tx.send(Report::Gone { name, id }).is_err() {
                            return;
                        }
                    }
                }
                while watchers.try_join_next().is_some() {}
                if watched.is_empty() && tx.send(Report::Nothing).is_err() {
                    return;
                }
            }
        }
        tick.tick().await;
    }
}

/// The provider of one `consul_sd_configs` entry.
pub(crate) struct ConsulProvider(ConsulSdConfig);

impl ConsulProvider {
    pub(crate) fn new(cfg: ConsulSdConfig) -> Self {
        ConsulProvider(cfg)
    }
}

impl Provider for ConsulProvider {
    fn run(
        self: Box<Self>,
        out: mpsc::Sender<Vec<Group>>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(async move {
            let cfg = self.0;
            // Settings the client refuses make every query fail with the reason.
            let client = HttpClient::from_config(&cfg.http_client).unwrap_or_else(|e| {
                HttpClient::failing(format!("error creating HTTP client: {e}"))
            });
            let api = std::sync::Arc::new(Api { client, cfg });
            let dc = if api.cfg.datacenter.is_empty() {
                loop {
                    match api.datacenter().await {
                        Ok(dc) => break dc,
                        Err(e) => {
                            tracing::error!(err = %e, "Consul SD: error retrieving datacenter name")
                        }
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY_INTERVAL) => {}
                        _ = out.closed() => return,
                    }
                }
            } else {
                api.cfg.datacenter.clone()
            };

            let (tx, mut rx) = mpsc::unbounded_channel();
            let mut tasks = JoinSet::new();
            let mut next_id = 0u64;
            if watches_catalog(&api.cfg) {
                tasks.spawn(watch_catalog(api.clone(), dc, tx));
            } else {
                for name in &api.cfg.services {
                    next_id += 1;
                    tasks.spawn(watch_service(
                        api.clone(),
                        dc.clone(),
                        name.clone(),
                        next_id,
                        tx.clone(),
                    ));
                }
                drop(tx);
            }

            // Latest group per source, and the watcher a source's reports must
            // come from (a stopped watcher's late report is dropped).
            let mut groups: BTreeMap<String, Group> = BTreeMap::new();
            let mut current: HashMap<String, u64> = HashMap::new();
            loop {
                let report = tokio::select! {
                    r = rx.recv() => r,
                    _ = out.closed() => return,
                };
                let Some(report) = report else {
                    // Every watcher ended (cannot happen while they loop): keep
                    // the groups published and idle until stopped.
                    out.closed().await;
                    return;
                };
                match report {
                    Report::Service { id, group } => {
                        let floor = current.entry(group.source.clone()).or_insert(id);
                        if id < *floor {
                            continue;
                        }
                        *floor = id;
                        groups.insert(group.source.clone(), group);
                    }
                    Report::Gone { name, id } => {
                        current.insert(name.clone(), id + 1);
                        groups.insert(
                            name.clone(),
                            Group {
                                source: name,
                                targets: Vec::new(),
                            },
                        );
                    }
                    Report::Nothing => {
                        groups.insert(
                            String::new(),
                            Group {
                                source: String::new(),
                                targets: Vec::new(),
                            },
                        );
                    }
                }
                if out.send(groups.values().cloned().collect()).await.is_err() {
                    return;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests;
