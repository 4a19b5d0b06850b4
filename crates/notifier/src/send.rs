//! Delivery to one Alertmanager: the JSON body of `POST /api/v2/alerts`, the request
//! (over `ember-discovery`'s shared client, so `scheme: https`, `tls_config` and
//! authentication work as for scrapes), and a worker per Alertmanager that sends its
//! batches one after the other, retrying with backoff.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ember_config::{HttpClientConfig, SigV4Config};
use ember_discovery::http::{HttpClient, HttpError};
use ember_discovery::sigv4::Signer;
use ember_model::time::format_rfc3339_millis;
use hyper::body::Bytes;
use serde_json::{Map, Value};
use tokio::sync::watch;

use crate::{ATTEMPTS, Alert, Stats};

/// Why one attempt to deliver a batch failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// The URL cannot be used.
    #[error("invalid Alertmanager URL {0:?}")]
    Url(String),
    /// Connecting or transferring failed (TLS and client settings included).
    #[error("{0}")]
    Transport(String),
    /// The set's timeout passed.
    #[error("context deadline exceeded")]
    Timeout,
    /// The Alertmanager answered with a status other than 2xx.
    #[error("bad response status {0}")]
    Status(u16),
}

fn labels_json(l: &ember_model::labels::Labels) -> Value {
    Value::Object(
        l.iter()
            .map(|l| (l.name.clone(), Value::String(l.value.clone())))
            .collect::<Map<String, Value>>(),
    )
}

/// The body Alertmanager's API v2 takes (`PostableAlerts`): times with milliseconds,
/// as Go's `strfmt.DateTime` writes them.
pub(crate) fn encode(alerts: &[Alert]) -> Bytes {
    let list: Vec<Value> = alerts
        .iter()
        .map(|a| {
            let mut o = Map::new();
            o.insert("labels".into(), labels_json(&a.labels));
            o.insert("annotations".into(), labels_json(&a.annotations));
            o.insert(
                "startsAt".into(),
                Value::String(format_rfc3339_millis(a.starts_at_ms)),
            );
            if let Some(e) = a.ends_at_ms {
                o.insert("endsAt".into(), Value::String(format_rfc3339_millis(e)));
            }
            o.insert(
                "generatorURL".into(),
                Value::String(a.generator_url.clone()),
            );
            Value::Object(o)
        })
        .collect();
    Bytes::from(Value::Array(list).to_string())
}

/// Response bytes kept (Alertmanager answers with a few bytes; the rest is dropped).
const RESPONSE_LIMIT: usize = 64 * 1024;

/// The HTTP client of one `alertmanagers` entry and, with `sigv4`, its signer.
#[derive(Clone)]
pub(crate) struct Client {
    /// Sends.
    pub(crate) http: HttpClient,
    /// Signs each request; `Err` when `sigv4` is set but unusable (no credentials
    /// or region), which fails every send with the reason.
    pub(crate) signer: Option<Result<Signer, String>>,
}

impl Client {
    /// The client for an entry's settings.
    pub(crate) fn new(http: &HttpClientConfig, sigv4: Option<&SigV4Config>) -> Client {
        let http = HttpClient::from_config(http).unwrap_or_else(|e| {
            tracing::error!(err = %e, "error creating HTTP client for Alertmanagers");
            HttpClient::failing(format!("error creating HTTP client: {e}"))
        });
        // Prometheus signs requests to Alertmanagers for the `aps` service.
        let signer = sigv4.map(|c| Signer::new(c, "aps"));
        if let Some(Err(e)) = &signer {
            tracing::error!(err = %e, "sigv4 for Alertmanagers cannot sign");
        }
        Client { http, signer }
    }
}

/// What a worker sends with: timeout, HTTP client configuration and `sigv4`.
pub(crate) type Settings = (Duration, HttpClientConfig, Option<SigV4Config>);

/// One attempt: posts `body` to `url`; 2xx is success.
pub(crate) async fn post(
    client: &Client,
    url: &str,
    body: Bytes,
    timeout: Duration,
) -> Result<(), SendError> {
    let mut headers = vec![
        ("Content-Type", "application/json".to_string()),
        (
            "User-Agent",
            concat!("Ember/", env!("CARGO_PKG_VERSION")).to_string(),
        ),
    ];
    match &client.signer {
        Some(Ok(s)) => {
            let signed = s
                .sign("POST", url, &headers, &body)
                .map_err(SendError::Transport)?;
            headers.extend(signed);
        }
        Some(Err(e)) => return Err(SendError::Transport(e.clone())),
        None => {}
    }
    let resp = client
        .http
        .post(url, &headers, body, timeout, RESPONSE_LIMIT)
        .await
        .map_err(|e| match e {
            HttpError::Url(_) => SendError::Url(url.into()),
            HttpError::Timeout => SendError::Timeout,
            other => SendError::Transport(other.to_string()),
        })?;
    if (200..300).contains(&resp.status) {
        Ok(())
    } else {
        Err(SendError::Status(resp.status))
    }
}

/// A batch ready for one Alertmanager.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    pub(crate) body: Arc<Bytes>,
    pub(crate) alerts: usize,
}

/// What a worker shares with its task.
#[derive(Default)]
struct Shared {
    /// Batches waiting, and whether one is being sent.
    queue: Mutex<(VecDeque<Batch>, bool)>,
    work: tokio::sync::Notify,
}

/// Sends one Alertmanager's batches in order on a task of its own; the task ends
/// when the worker is dropped.
pub(crate) struct Worker {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
    capacity: usize,
    url: String,
    stats: Arc<Stats>,
    /// The settings it sends with (timeout, HTTP client configuration): a reload
    /// that changes them replaces the worker.
    pub(crate) settings: Settings,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Worker {
    /// Starts the worker's task. Once `draining` turns true (shutdown), a failed
    /// attempt is no longer retried, so that draining is bounded by the timeout.
    pub(crate) fn spawn(
        url: String,
        client: Client,
        settings: Settings,
        stats: Arc<Stats>,
        capacity: usize,
        draining: watch::Receiver<bool>,
    ) -> Worker {
        let shared = Arc::new(Shared::default());
        let sh = Arc::clone(&shared);
        let (u, s) = (url.clone(), Arc::clone(&stats));
        let timeout = settings.0;
        let task = tokio::spawn(async move {
            loop {
                let next = sh.queue.lock().ok().and_then(|mut g| {
                    let b = g.0.pop_front();
                    g.1 = b.is_some();
                    b
                });
                let Some(batch) = next else {
                    sh.work.notified().await;
                    continue;
                };
                deliver(&client, &u, &batch, timeout, &s, draining.clone()).await;
                if let Ok(mut g) = sh.queue.lock() {
                    g.1 = false;
                }
            }
        });
        Worker {
            shared,
            task,
            capacity,
            url,
            stats,
            settings,
        }
    }

    /// Queues a batch; if the worker is that far behind, its oldest batch is dropped
    /// and counted as errors.
    pub(crate) fn submit(&self, batch: Batch) {
        if let Ok(mut q) = self.shared.queue.lock() {
            if q.0.len() >= self.capacity
                && let Some(old) = q.0.pop_front()
            {
                Stats::add(&self.stats.errors, &self.url, old.alerts as u64);
                self.stats
                    .dropped
                    .fetch_add(old.alerts as u64, Ordering::Relaxed);
            }
            q.0.push_back(batch);
        }
        self.shared.work.notify_one();
    }

    /// Whether another batch fits without dropping one.
    pub(crate) fn has_room(&self) -> bool {
        self.shared
            .queue
            .lock()
            .map(|q| q.0.len() < self.capacity)
            .unwrap_or(true)
    }

    /// Whether nothing is waiting or being sent (or the task is gone).
    pub(crate) fn is_idle(&self) -> bool {
        self.task.is_finished()
            || self
                .shared
                .queue
                .lock()
                .map(|q| q.0.is_empty() && !q.1)
                .unwrap_or(true)
    }

    /// Takes the waiting batches, for a worker that replaces this one.
    pub(crate) fn take_queue(&self) -> VecDeque<Batch> {
        self.shared
            .queue
            .lock()
            .map(|mut q| std::mem::take(&mut q.0))
            .unwrap_or_default()
    }

    /// Drops the waiting batches; the number of alerts in them.
    pub(crate) fn discard(&self) -> usize {
        self.take_queue().iter().map(|b| b.alerts).sum()
    }
}

async fn deliver(
    client: &Client,
    url: &str,
    batch: &Batch,
    timeout: Duration,
    stats: &Stats,
    mut draining: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(100);
    for attempt in 1.. {
        let start = Instant::now();
        let r = post(client, url, (*batch.body).clone(), timeout).await;
        let last = attempt >= ATTEMPTS || *draining.borrow();
        match r {
            Ok(()) => {
                // Prometheus observes the latency of successful sends only.
                if let Ok(mut m) = stats.latency.lock() {
                    m.entry(url.to_string())
                        .or_default()
                        .observe(start.elapsed().as_secs_f64());
                }
                Stats::add(&stats.sent, url, batch.alerts as u64);
                return;
            }
            Err(e) if last => {
                tracing::error!(alertmanager = url, count = batch.alerts, err = %e, "Error sending alerts");
                Stats::add(&stats.errors, url, batch.alerts as u64);
                return;
            }
            Err(e) => {
                tracing::warn!(alertmanager = url, attempt, err = %e, "sending alerts failed, retrying");
                // Shutdown cuts the wait short: one last attempt, then give up.
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    Ok(_) = draining.wait_for(|d| *d) => {}
                }
                backoff = (backoff * 4).min(Duration::from_secs(5));
            }
        }
    }
}
