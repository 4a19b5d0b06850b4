//! The remote-write sender: what makes `remote_write` in `prometheus.yml` send
//! the server's samples to Mimir, Thanos, Cortex, VictoriaMetrics or another
//! Prometheus, with Prometheus's semantics.
//!
//! As in Prometheus, the sender reads the TSDB's write-ahead log rather than
//! sitting on the append path: scrapes never wait on a slow receiver, and a
//! receiver that is down gets what it missed from the WAL once it is back (as long
//! as the WAL still holds it). The parts:
//!
//! - `watcher` follows `<storage.tsdb.path>/wal` (checkpoint, segments, the live
//!   segment) and hands series, samples, histograms, exemplars and metadata to…
//! - `queue`, one per `remote_write` entry: labels (external labels, then
//!   `write_relabel_configs`), shards, batches, retries with backoff, resharding,
//!   the 1.0 and 2.0 messages;
//! - `metrics`: `prometheus_remote_storage_*` as Prometheus names them;
//! - [`WriteStorage`]: the queues of the current configuration, rebuilt on reload
//!   only where an entry (or the external labels) changed.
//!
//! HTTP goes through [`WriteClient`], which the binary implements with the shared
//! client of `ember-discovery` (TLS, basic auth, authorization, OAuth2, proxies):
//! that crate sits above this one in the layering, so the dependency points the
//! other way.

mod live;
mod metrics;
mod queue;
mod watcher;

#[cfg(test)]
mod tests;

use ember_config::RemoteWriteConfig;
use ember_exposition::MetricFamily;
use ember_model::Labels;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A boxed future, for [`WriteClient`] to be object safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One remote-write request: a snappy-compressed protobuf body and its headers
/// (`Content-Type`, `Content-Encoding`, `X-Prometheus-Remote-Write-Version`,
/// `User-Agent`, the configuration's `headers`).
#[derive(Clone, Debug)]
pub struct WriteRequest {
    /// The compressed body.
    pub body: Arc<[u8]>,
    /// Headers to send, the configuration's included.
    pub headers: Vec<(String, String)>,
    /// `remote_timeout`: the whole exchange must finish within it.
    pub timeout: Duration,
}

/// The receiver's answer.
#[derive(Clone, Debug, Default)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The start of the body, for the error message.
    pub body: Vec<u8>,
    /// `Retry-After`, when the client can read it; used instead of the backoff.
    pub retry_after: Option<Duration>,
}

/// Sends remote-write requests. An `Err` is a transport failure (connection
/// refused, timeout, TLS), which is retried; a reply with any status is `Ok`.
pub trait WriteClient: Send + Sync {
    /// POSTs `req` to `url`.
    fn store<'a>(&'a self, url: &'a str, req: WriteRequest)
    -> BoxFuture<'a, Result<Reply, String>>;
}

/// Makes the client of a `remote_write` entry; an error fails the (re)load, as
/// Prometheus fails on a client it cannot build.
pub type ClientFactory =
    Arc<dyn Fn(&RemoteWriteConfig) -> Result<Arc<dyn WriteClient>, String> + Send + Sync>;

/// Errors of applying a configuration.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Two entries are the same (same settings, same URL).
    #[error("duplicate remote write configs are not allowed, found duplicate for URL: {0}")]
    Duplicate(String),
    /// Two entries have the same name.
    #[error("duplicate remote write configs found: {0}")]
    DuplicateName(String),
    /// The client of an entry cannot be built.
    #[error("remote write {url}: {reason}")]
    Client {
        /// The entry's URL.
        url: String,
        /// Why.
        reason: String,
    },
}

/// A queue's identity: an entry is restarted on reload only when this changes.
type Key = (RemoteWriteConfig, Labels);

/// The name of an unnamed entry: six hex digits of a hash of its settings, as
/// Prometheus names queues (the digits differ from Prometheus's: its hash is of
/// the Go JSON form).
fn default_name(cfg: &RemoteWriteConfig) -> String {
    let h = xxhash_rust::xxh64::xxh64(format!("{cfg:?}").as_bytes(), 0);
    format!("{h:016x}")[..6].to_string()
}

/// The queues of the running configuration.
pub struct WriteStorage {
    wal_dir: PathBuf,
    factory: ClientFactory,
    flush_deadline: Duration,
    queues: Vec<(Key, queue::QueueManager)>,
    view: MetricsHandle,
}

impl std::fmt::Debug for WriteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteStorage")
            .field("wal_dir", &self.wal_dir)
            .field("queues", &self.queues.len())
            .finish_non_exhaustive()
    }
}

/// Renders the sender's metrics; cheap to clone, for the `/metrics` handler.
#[derive(Clone, Default)]
pub struct MetricsHandle(Arc<Mutex<Vec<Arc<queue::Shared>>>>);

impl std::fmt::Debug for MetricsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsHandle")
    }
}

impl MetricsHandle {
    /// The newest timestamp (ms) every running queue has sent, i.e. the lowest of
    /// their highest sent timestamps; 0 when no queue runs. The agent truncates its
    /// WAL behind it, as Prometheus's `LowestSentTimestamp` lets it (and, like it,
    /// at second precision).
    pub fn lowest_sent_timestamp(&self) -> i64 {
        let queues = self.0.lock().map(|q| q.clone()).unwrap_or_default();
        queues
            .iter()
            .map(|q| q.metrics.highest_sent_ms.load(Ordering::Relaxed) / 1000 * 1000)
            .min()
            .unwrap_or(0)
    }

    /// The families of every running queue (none without `remote_write`).
    pub fn families(&self) -> Vec<MetricFamily> {
        let queues = self.0.lock().map(|q| q.clone()).unwrap_or_default();
        if queues.is_empty() {
            return Vec::new();
        }
        let mut f = metrics::Families::default();
        let mut highest = 0i64;
        for q in &queues {
            let qc = &q.cfg.queue_config;
            f.queue(&metrics::QueueView {
                name: &q.name,
                url: &q.url,
                metrics: &q.metrics,
                capacity: qc.capacity,
                min_shards: qc.min_shards,
                max_shards: qc.max_shards,
                max_samples_per_send: qc.max_samples_per_send,
                current_segment: q.watcher_stats.current_segment.load(Ordering::Relaxed),
            });
            highest = highest.max(q.metrics.highest_read_ms.load(Ordering::Relaxed));
        }
        f.highest(highest);
        f.into_vec()
    }
}

impl WriteStorage {
    /// A sender reading the WAL in `wal_dir` (`<storage.tsdb.path>/wal`), giving
    /// queues `flush_deadline` (`--storage.remote.flush-deadline`) to send what
    /// they hold when they stop.
    pub fn new(wal_dir: PathBuf, factory: ClientFactory, flush_deadline: Duration) -> Self {
        WriteStorage {
            wal_dir,
            factory,
            flush_deadline,
            queues: Vec::new(),
            view: MetricsHandle::default(),
        }
    }

    /// The metrics of the running queues.
    pub fn metrics(&self) -> MetricsHandle {
        self.view.clone()
    }

    /// Number of running queues.
    pub fn len(&self) -> usize {
        self.queues.len()
    }

    /// Whether no queue runs.
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Takes the `remote_write` entries and external labels of a (re)loaded
    /// configuration: unchanged entries keep running (with what they hold),
    /// changed and removed ones are flushed and stopped, new ones start reading
    /// the WAL from now. Must run inside a Tokio runtime. On error nothing changes.
    pub async fn apply_config(
        &mut self,
        remote_write: &[RemoteWriteConfig],
        external_labels: &Labels,
    ) -> Result<(), WriteError> {
        let mut names = std::collections::HashSet::new();
        let mut keys: Vec<Key> = Vec::new();
        for rw in remote_write {
            if !rw.name.is_empty() && !names.insert(rw.name.clone()) {
                return Err(WriteError::DuplicateName(rw.name.clone()));
            }
            let key = (rw.clone(), external_labels.clone());
            if keys.contains(&key) {
                return Err(WriteError::Duplicate(rw.url.clone()));
            }
            keys.push(key);
        }
        // Clients first, so that a bad one leaves the running queues alone.
        let mut fresh = Vec::new();
        for key in &keys {
            if self.queues.iter().any(|(k, _)| k == key) {
                fresh.push(None);
                continue;
            }
            let client = (self.factory)(&key.0).map_err(|reason| WriteError::Client {
                url: key.0.url.clone(),
                reason,
            })?;
            fresh.push(Some(client));
        }
        let mut old = std::mem::take(&mut self.queues);
        let mut next = Vec::with_capacity(keys.len());
        for (key, client) in keys.into_iter().zip(fresh) {
            if let Some(pos) = old.iter().position(|(k, _)| *k == key) {
                next.push(old.swap_remove(pos));
                continue;
            }
            let Some(client) = client else { continue };
            let name = if key.0.name.is_empty() {
                default_name(&key.0)
            } else {
                key.0.name.clone()
            };
            let shared = queue::Shared::new(name, key.0.clone(), key.1.clone(), client);
            // The replaced queue stops (and flushes) before its successor starts,
            // so that a series is never sent by both at once.
            if let Some(pos) = old.iter().position(|(k, _)| k.0.url == key.0.url) {
                let (_, q) = old.swap_remove(pos);
                q.stop(self.flush_deadline).await;
            }
            let q = queue::QueueManager::start(shared, self.wal_dir.clone());
            next.push((key, q));
        }
        for (_, q) in old {
            q.stop(self.flush_deadline).await;
        }
        self.queues = next;
        if let Ok(mut v) = self.view.0.lock() {
            *v = self.queues.iter().map(|(_, q)| q.shared.clone()).collect();
        }
        Ok(())
    }

    /// Stops every queue, each sending what it holds within the flush deadline.
    pub async fn stop(&mut self) {
        let queues = std::mem::take(&mut self.queues);
        let deadline = self.flush_deadline;
        let stops: Vec<_> = queues
            .into_iter()
            .map(|(_, q)| tokio::spawn(q.stop(deadline)))
            .collect();
        for s in stops {
            let _ = s.await;
        }
        if let Ok(mut v) = self.view.0.lock() {
            v.clear();
        }
    }
}
