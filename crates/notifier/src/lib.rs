//! The notifier: the queue between rule evaluation and the Alertmanagers.
//!
//! Rules hand firing and resolved alerts to [`Notifier::send`], which never blocks:
//! it adds the external labels, applies `alerting.alert_relabel_configs`, and queues
//! the alerts (`--alertmanager.notification-queue-capacity`; when full, the oldest are
//! dropped and counted). A sender task takes batches of up to
//! `--alertmanager.notification-batch-size` alerts ([`DEFAULT_MAX_BATCH`] by
//! default) and hands each batch to every discovered Alertmanager, as Prometheus's
//! `notifier` package does: `POST {scheme}://{address}{path_prefix}/api/v2/alerts`
//! with the alerts as JSON. [`Notifier::stop`] sends what is still queued before it
//! returns (`--alertmanager.drain-notification-queue-on-shutdown`, the default), or
//! drops and counts it.
//!
//! How it differs from Prometheus, on purpose: each Alertmanager has its own worker
//! with a small queue of batches, and a failed send is retried with backoff (up to
//! [`ATTEMPTS`] tries within the set's `timeout` each) before it is counted as an
//! error. A slow or unreachable Alertmanager therefore neither delays the others nor
//! the queue, and a short outage loses nothing; Prometheus does not retry. While
//! draining at shutdown, failed attempts are not retried either, so that stopping
//! takes at most about one `timeout` per queued batch, as in Prometheus.
//!
//! Alertmanagers come from each `alerting.alertmanagers` entry's service discovery
//! (`static_configs`, `file_sd_configs`, `http_sd_configs`, through
//! `ember-discovery`), relabeled with its `relabel_configs` over `__address__`,
//! `__scheme__` and `__alerts_path__`; [`Notifier::alertmanagers`] lists the active
//! and dropped ones for `/api/v1/alertmanagers`. A reload that leaves an
//! Alertmanager's URL and sending settings as they were keeps its worker, with the
//! batches it holds.

mod latency;
mod send;

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ember_config::{AlertingConfig, AlertmanagerConfig};
use ember_model::labels::{Labels, LabelsBuilder};
use ember_model::relabel::{RelabelConfig, process};
use tokio::sync::{Notify, watch};

pub use latency::{BUCKETS as LATENCY_BUCKETS, Latency, QUANTILES as LATENCY_QUANTILES};
pub use send::SendError;

/// Prometheus's default batch size (`--alertmanager.notification-batch-size`): at
/// most this many alerts per request.
pub const DEFAULT_MAX_BATCH: usize = 256;
/// Tries per batch and Alertmanager before the batch counts as failed.
pub const ATTEMPTS: u32 = 3;
/// Batches an Alertmanager's worker holds while it is busy; beyond that, the oldest
/// waiting batch is dropped for that Alertmanager (and counted as errors).
const WORKER_QUEUE: usize = 16;

/// An alert as Alertmanager's API v2 receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Identifying labels (`alertname` among them).
    pub labels: Labels,
    /// Annotations.
    pub annotations: Labels,
    /// When the alert started firing, Unix milliseconds.
    pub starts_at_ms: i64,
    /// When it stops being valid (resolved alerts: when it resolved), Unix
    /// milliseconds; `None` leaves it to the Alertmanager.
    pub ends_at_ms: Option<i64>,
    /// A link back to the expression (the server's graph page).
    pub generator_url: String,
}

/// Settings that do not come from the configuration file.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--alertmanager.notification-queue-capacity`.
    pub queue_capacity: usize,
    /// `--alertmanager.notification-batch-size`: alerts per request at most.
    pub max_batch_size: usize,
    /// `--alertmanager.drain-notification-queue-on-shutdown`: whether
    /// [`Notifier::stop`] sends the queued alerts or drops them.
    pub drain_on_shutdown: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            queue_capacity: 10_000,
            max_batch_size: DEFAULT_MAX_BATCH,
            drain_on_shutdown: true,
        }
    }
}

/// Counters exposed under Prometheus's `prometheus_notifications_*` names.
#[derive(Debug, Default)]
pub struct Stats {
    /// Alerts dropped: queue overflow, relabeled away, or a full worker queue.
    pub dropped: AtomicU64,
    /// Per Alertmanager URL: alerts sent.
    pub sent: Mutex<BTreeMap<String, u64>>,
    /// Per Alertmanager URL: alerts whose sending failed.
    pub errors: Mutex<BTreeMap<String, u64>>,
    /// Per Alertmanager URL: how long successful requests took.
    pub latency: Mutex<BTreeMap<String, Latency>>,
}

impl Stats {
    fn add(map: &Mutex<BTreeMap<String, u64>>, am: &str, n: u64) {
        if let Ok(mut m) = map.lock() {
            *m.entry(am.to_string()).or_default() += n;
        }
    }
}

/// One Alertmanager: where to send, and its worker's queue.
struct Target {
    url: String,
    worker: send::Worker,
}

/// One `alerting.alertmanagers` entry with its discovered Alertmanagers.
struct AmSet {
    cfg: AlertmanagerConfig,
    active: Vec<Target>,
    dropped: Vec<String>,
}

struct Inner {
    queue: Mutex<VecDeque<Alert>>,
    capacity: usize,
    max_batch: usize,
    drain_on_shutdown: bool,
    /// Set by [`Notifier::stop`]: no more alerts are taken.
    stopped: AtomicBool,
    /// Turned on while draining at shutdown; workers stop retrying.
    draining: watch::Sender<bool>,
    more: Notify,
    stats: Arc<Stats>,
    config: Mutex<(Labels, Vec<RelabelConfig>)>,
    sets: Mutex<Vec<AmSet>>,
}

/// The notifier; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").finish_non_exhaustive()
    }
}

/// The Alertmanagers a configuration entry discovered, for `/api/v1/alertmanagers`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alertmanagers {
    /// URLs alerts are sent to.
    pub active: Vec<String>,
    /// URLs of discovered Alertmanagers that relabeling dropped.
    pub dropped: Vec<String>,
}

impl Notifier {
    /// A notifier with no Alertmanagers yet (see [`Notifier::apply_config`]); call
    /// [`Notifier::run`] on a task to start sending.
    pub fn new(opts: Options) -> Self {
        Notifier {
            inner: Arc::new(Inner {
                queue: Mutex::new(VecDeque::new()),
                capacity: opts.queue_capacity.max(1),
                max_batch: opts.max_batch_size.max(1),
                drain_on_shutdown: opts.drain_on_shutdown,
                stopped: AtomicBool::new(false),
                draining: watch::channel(false).0,
                more: Notify::new(),
                stats: Arc::new(Stats::default()),
                config: Mutex::new((Labels::empty(), Vec::new())),
                sets: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    /// Alerts waiting to be sent.
    pub fn queue_length(&self) -> usize {
        self.inner.queue.lock().map(|q| q.len()).unwrap_or(0)
    }

    /// The queue's capacity.
    pub fn queue_capacity(&self) -> usize {
        self.inner.capacity
    }

    /// Takes the external labels and the global alert relabeling from a (re)loaded
    /// configuration. The Alertmanager entries come with their targets through
    /// [`Notifier::set_alertmanagers`], after discovery.
    pub fn apply_config(&self, cfg: &AlertingConfig, external_labels: Labels) {
        if let Ok(mut c) = self.inner.config.lock() {
            *c = (external_labels, cfg.alert_relabel_configs.clone());
        }
    }

    /// Sets the Alertmanagers of each `alerting.alertmanagers` entry from the targets
    /// discovery found for it (`discovered[i]` for entry `i`), taken as one target
    /// group per entry; see [`Notifier::set_alertmanager_groups`].
    pub fn set_alertmanagers(&self, cfg: &AlertingConfig, discovered: &[Vec<Labels>]) {
        let groups: Vec<Vec<Vec<Labels>>> = discovered.iter().map(|t| vec![t.clone()]).collect();
        self.set_alertmanager_groups(cfg, &groups);
    }

    /// Sets the Alertmanagers of each `alerting.alertmanagers` entry from the target
    /// groups discovery found for it (`discovered[i]` for entry `i`). A group with
    /// a target whose address is not a host and port is skipped whole, with an
    /// error logged, as Prometheus does. Workers of Alertmanagers that remain with
    /// the same timeout and HTTP client settings keep running (and their queued
    /// batches); changed settings start a new worker with a new client, which
    /// takes over the batches still waiting.
    pub fn set_alertmanager_groups(&self, cfg: &AlertingConfig, discovered: &[Vec<Vec<Labels>>]) {
        let Ok(mut sets) = self.inner.sets.lock() else {
            return;
        };
        let mut old: BTreeMap<String, send::Worker> = sets
            .drain(..)
            .flat_map(|s| s.active.into_iter().map(|t| (t.url, t.worker)))
            .collect();
        for (i, am) in cfg.alertmanagers.iter().enumerate() {
            let mut set = AmSet {
                cfg: am.clone(),
                active: Vec::new(),
                dropped: Vec::new(),
            };
            let settings = (
                Duration::from(am.timeout),
                am.http_client.clone(),
                am.sigv4.clone(),
            );
            // One client per entry (its TLS and authentication), made when a new
            // worker needs it; settings that cannot be used fail every send, with
            // the reason in the log and the error counts.
            let mut client: Option<send::Client> = None;
            let mut active = Vec::new();
            for group in discovered.get(i).map(Vec::as_slice).unwrap_or(&[]) {
                match alertmanagers_from_group(am, group) {
                    Ok((a, d)) => {
                        active.extend(a);
                        set.dropped.extend(d);
                    }
                    Err(e) => {
                        tracing::error!(err = %e, "Creating discovered Alertmanagers failed");
                    }
                }
            }
            for url in active {
                if set.active.iter().any(|t| t.url == url) {
                    continue;
                }
                let kept = old.remove(&url);
                let waiting = match kept {
                    Some(w) if w.settings == settings => {
                        set.active.push(Target { url, worker: w });
                        continue;
                    }
                    // Its replacement sends what it still had to send.
                    Some(w) => w.take_queue(),
                    None => VecDeque::new(),
                };
                let client = client
                    .get_or_insert_with(|| send::Client::new(&am.http_client, am.sigv4.as_ref()))
                    .clone();
                let worker = send::Worker::spawn(
                    url.clone(),
                    client,
                    settings.clone(),
                    Arc::clone(&self.inner.stats),
                    WORKER_QUEUE,
                    self.inner.draining.subscribe(),
                );
                for b in waiting {
                    worker.submit(b);
                }
                set.active.push(Target { url, worker });
            }
            sets.push(set);
        }
        // Workers of vanished Alertmanagers stop when dropped.
    }

    /// The Alertmanagers per configuration entry.
    pub fn alertmanagers(&self) -> Alertmanagers {
        let mut out = Alertmanagers::default();
        if let Ok(sets) = self.inner.sets.lock() {
            for s in sets.iter() {
                out.active.extend(s.active.iter().map(|t| t.url.clone()));
                out.dropped.extend(s.dropped.iter().cloned());
            }
        }
        out
    }

    /// Queues `alerts` (never blocks): external labels are added where the alert
    /// lacks them, then the global alert relabeling runs; alerts it drops are gone.
    pub fn send(&self, alerts: Vec<Alert>) {
        // As Prometheus: once stopping, new alerts are not taken any more.
        if self.inner.stopped.load(Ordering::Acquire) {
            return;
        }
        let (ext, relabel) = match self.inner.config.lock() {
            Ok(c) => c.clone(),
            Err(_) => return,
        };
        let mut ready = Vec::with_capacity(alerts.len());
        for mut a in alerts {
            if !ext.is_empty() {
                let mut b = LabelsBuilder::new(a.labels.clone());
                for l in ext.iter() {
                    if !a.labels.has(&l.name) {
                        b.set(l.name.clone(), l.value.clone());
                    }
                }
                a.labels = b.into_labels();
            }
            if !relabel.is_empty() {
                match process(&a.labels, &relabel) {
                    Some(l) if !l.is_empty() => a.labels = l,
                    _ => continue,
                }
            }
            ready.push(a);
        }
        if ready.is_empty() {
            return;
        }
        if let Ok(mut q) = self.inner.queue.lock() {
            // Keep the newest: if this batch alone is too big, only its tail fits.
            let skip = ready.len().saturating_sub(self.inner.capacity);
            let overflow = (q.len() + ready.len() - skip).saturating_sub(self.inner.capacity);
            let drop = overflow.min(q.len());
            q.drain(..drop);
            q.extend(ready.into_iter().skip(skip));
            self.inner
                .stats
                .dropped
                .fetch_add((overflow + skip) as u64, Ordering::Relaxed);
        }
        self.inner.more.notify_one();
    }

    /// Takes the next batch off the queue.
    fn next_batch(&self) -> Vec<Alert> {
        match self.inner.queue.lock() {
            Ok(mut q) => {
                let n = q.len().min(self.inner.max_batch);
                q.drain(..n).collect()
            }
            Err(_) => Vec::new(),
        }
    }

    /// Sends queued alerts until [`Notifier::stop`] is called or the future is
    /// dropped.
    pub async fn run(self) {
        loop {
            self.inner.more.notified().await;
            loop {
                // Once stopping, `stop` takes the rest of the queue.
                if self.inner.stopped.load(Ordering::Acquire) {
                    return;
                }
                let batch = self.next_batch();
                if batch.is_empty() {
                    break;
                }
                self.dispatch(&batch);
            }
        }
    }

    /// Stops taking alerts and, with `drain_on_shutdown`, sends what is queued to
    /// every Alertmanager before returning, as Prometheus's notifier does when it
    /// stops: batch after batch, each Alertmanager's requests bounded by its
    /// `timeout`, without the usual retries. Without draining, the queued alerts are
    /// dropped and counted. Calling it again does nothing.
    pub async fn stop(&self) {
        if self.inner.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        // Wakes `run` so that it sees `stopped` and returns.
        self.inner.more.notify_one();
        if !self.inner.drain_on_shutdown {
            let mut n = self
                .inner
                .queue
                .lock()
                .map(|mut q| q.drain(..).count())
                .unwrap_or(0);
            if let Ok(sets) = self.inner.sets.lock() {
                n += sets
                    .iter()
                    .flat_map(|s| s.active.iter())
                    .map(|t| t.worker.discard())
                    .sum::<usize>();
            }
            if n > 0 {
                tracing::warn!(
                    count = n,
                    "Alert notification queue not drained on shutdown, dropping alerts"
                );
            }
            self.inner
                .stats
                .dropped
                .fetch_add(n as u64, Ordering::Relaxed);
            return;
        }
        self.inner.draining.send_replace(true);
        // Hands the queue over batch by batch, each once every worker has room for
        // it, so that draining drops nothing.
        loop {
            self.wait_for_workers(send::Worker::has_room).await;
            let batch = self.next_batch();
            if batch.is_empty() {
                break;
            }
            self.dispatch(&batch);
        }
        self.wait_for_workers(send::Worker::is_idle).await;
    }

    /// Waits until `ready` holds for every Alertmanager's worker.
    async fn wait_for_workers(&self, ready: fn(&send::Worker) -> bool) {
        loop {
            let done = self.inner.sets.lock().map_or(true, |sets| {
                sets.iter()
                    .flat_map(|s| s.active.iter())
                    .all(|t| ready(&t.worker))
            });
            if done {
                return;
            }
            // Shutdown only: a short poll keeps the workers free of extra signalling.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Hands a batch to every Alertmanager, with each entry's own alert relabeling.
    fn dispatch(&self, batch: &[Alert]) {
        let Ok(sets) = self.inner.sets.lock() else {
            return;
        };
        if sets.iter().all(|s| s.active.is_empty()) {
            self.inner
                .stats
                .dropped
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            return;
        }
        for set in sets.iter() {
            if set.active.is_empty() {
                continue;
            }
            let alerts: Vec<Alert> = if set.cfg.alert_relabel_configs.is_empty() {
                batch.to_vec()
            } else {
                batch
                    .iter()
                    .filter_map(|a| {
                        let l = process(&a.labels, &set.cfg.alert_relabel_configs)?;
                        (!l.is_empty()).then(|| Alert {
                            labels: l,
                            ..a.clone()
                        })
                    })
                    .collect()
            };
            if alerts.is_empty() {
                continue;
            }
            let body = Arc::new(send::encode(&alerts));
            for t in &set.active {
                t.worker.submit(send::Batch {
                    body: Arc::clone(&body),
                    alerts: alerts.len(),
                });
            }
        }
    }
}

/// A discovered Alertmanager whose address (after relabeling) is not a host and
/// port, which Prometheus's `CheckTargetAddress` rejects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a valid hostname")]
pub struct InvalidAddress(pub String);

/// What becomes of one discovered Alertmanager.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resolved {
    /// Alerts go to this URL.
    Active(String),
    /// Relabeling dropped it; the URL it would have had.
    Dropped(String),
}

/// The active and dropped Alertmanager URLs of one target group, as Prometheus's
/// `AlertmanagerFromGroup`: an invalid address fails the whole group.
fn alertmanagers_from_group(
    cfg: &AlertmanagerConfig,
    group: &[Labels],
) -> Result<(Vec<String>, Vec<String>), InvalidAddress> {
    let (mut active, mut dropped) = (Vec::new(), Vec::new());
    for target in group {
        match resolve(cfg, target)? {
            Resolved::Active(u) => active.push(u),
            Resolved::Dropped(u) => dropped.push(u),
        }
    }
    Ok((active, dropped))
}

/// A discovered Alertmanager's URL, as Prometheus builds it: the entry's `scheme`
/// replaces any `__scheme__` discovery set, and only relabeling can change it (as
/// it can change `__alerts_path__`, `path_prefix` joined with `/api/v2/alerts`).
fn resolve(cfg: &AlertmanagerConfig, target: &Labels) -> Result<Resolved, InvalidAddress> {
    let mut b = LabelsBuilder::new(target.clone());
    b.set("__scheme__", cfg.scheme.clone());
    let version = if cfg.api_version.is_empty() {
        "v2"
    } else {
        cfg.api_version.as_str()
    };
    b.set(
        "__alerts_path__",
        join_path(&["/", &cfg.path_prefix, &format!("/api/{version}/alerts")]),
    );
    let base = b.into_labels();
    let url = |l: &Labels| {
        format!(
            "{}://{}{}",
            l.get_or_empty("__scheme__"),
            l.get_or_empty("__address__"),
            l.get_or_empty("__alerts_path__")
        )
    };
    let kept = if cfg.relabel_configs.is_empty() {
        Some(base.clone())
    } else {
        process(&base, &cfg.relabel_configs).filter(|l| l.has("__address__"))
    };
    let Some(l) = kept else {
        return Ok(Resolved::Dropped(url(&base)));
    };
    let addr = l.get_or_empty("__address__");
    if addr.contains('/') {
        return Err(InvalidAddress(addr.to_string()));
    }
    Ok(Resolved::Active(url(&l)))
}

/// Go's `path.Join`: the non-empty elements joined with `/`, then cleaned
/// (repeated slashes, `.` and `..` resolved, no trailing slash).
fn join_path(elems: &[&str]) -> String {
    let joined = elems
        .iter()
        .filter(|e| !e.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    if joined.is_empty() {
        return String::new();
    }
    let rooted = joined.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_string(),
        (false, false) => body,
    }
}

#[cfg(test)]
mod tests;
