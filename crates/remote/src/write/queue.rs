//! One queue per `remote_write` entry, as Prometheus's `QueueManager`: series
//! labels from the WAL (external labels added, `write_relabel_configs` applied),
//! samples spread over shards by series so that each series stays in order, each
//! shard batching up to `max_samples_per_send` or `batch_send_deadline`, and
//! sending with retries.
//!
//! Retries: a transport error, a 5xx, or a 429 with `retry_on_http_429` is tried
//! again after `min_backoff`, doubling up to `max_backoff` (a `Retry-After` the
//! client reports replaces the wait), for as long as it takes: the WAL watcher
//! stops reading when the shards are full, so nothing is lost while the receiver
//! is down for less than the WAL keeps. Any other status drops the batch and
//! counts it as failed, since sending it again would fail the same way.
//!
//! Resharding follows Prometheus's rule: every 10 s the number of shards is
//! derived from the rates of samples in and out (exponentially weighted) and the
//! time a sample takes to send; changes within 30% are ignored, and none happen
//! while retries are backing off or nothing was sent lately. The old shards are
//! flushed before the new ones send, so order per series holds.

use super::metrics::{Counts, DropReason, QueueMetrics};
use super::watcher::{Consumer, WatcherStats};
use super::{Reply, WriteClient, WriteRequest};
use crate::proto;
use ember_config::{RemoteWriteConfig, RemoteWriteMessage};
use ember_model::histogram::{FloatHistogram, Histogram, Span};
use ember_model::{Labels, LabelsBuilder};
use ember_wal::record::{
    RefExemplar, RefFloatHistogram, RefHistogram, RefMetadata, RefSample, RefSeries,
};
use prost::Message;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::{AbortHandle, JoinHandle};

/// How often the number of shards is reconsidered (Prometheus: 10s).
const SHARD_UPDATE: Duration = Duration::from_secs(10);
/// Weight of the newest interval in the rate averages (Prometheus: 0.2).
const EWMA_WEIGHT: f64 = 0.2;
/// Changes of fewer than this fraction of the shards are not made.
const SHARD_TOLERANCE: f64 = 0.3;
/// Error bodies are cut to this many bytes in logs (Prometheus: 1024).
const MAX_ERR_BODY: usize = 1024;

/// What a queued item carries.
#[derive(Clone, Debug)]
pub(crate) enum Data {
    Float(f64),
    Histogram(Box<Histogram>),
    FloatHistogram(Box<FloatHistogram>),
    Exemplar { labels: Labels, value: f64 },
}

/// One sample (or histogram, or exemplar) of a series, ready to send.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub(crate) series: Labels,
    pub(crate) t: i64,
    pub(crate) data: Data,
}

impl Item {
    fn counts(&self) -> Counts {
        let mut c = Counts::default();
        match self.data {
            Data::Float(_) => c.samples = 1,
            Data::Histogram(_) | Data::FloatHistogram(_) => c.histograms = 1,
            Data::Exemplar { .. } => c.exemplars = 1,
        }
        c
    }
}

fn counts_of(batch: &[Item]) -> Counts {
    let mut c = Counts::default();
    for i in batch {
        let x = i.counts();
        c.samples += x.samples;
        c.exemplars += x.exemplars;
        c.histograms += x.histograms;
    }
    c
}

/// A series as the queue knows it: `None` when relabelling dropped it.
struct SeriesEntry {
    labels: Option<Labels>,
    segment: u32,
}

/// Metadata of a metric family: WAL type number, help, unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FamilyMeta {
    pub(crate) metric_type: u8,
    pub(crate) help: String,
    pub(crate) unit: String,
}

/// The running shards: one channel each.
struct ShardSet {
    senders: Vec<mpsc::Sender<Item>>,
}

/// Rates for the resharding rule.
#[derive(Default)]
struct Flow {
    data_in: AtomicU64,
    data_out: AtomicU64,
    data_dropped: AtomicU64,
    out_duration_ns: AtomicU64,
    last_send_unix: AtomicI64,
    reshard_disabled_until_unix: AtomicI64,
}

/// An exponentially weighted rate, ticked every [`SHARD_UPDATE`].
#[derive(Default)]
struct Ewma {
    last: u64,
    rate: f64,
    init: bool,
}

impl Ewma {
    fn tick(&mut self, total: u64) -> f64 {
        let new = total.saturating_sub(self.last);
        self.last = total;
        let instant = new as f64 / SHARD_UPDATE.as_secs_f64();
        if self.init {
            self.rate += EWMA_WEIGHT * (instant - self.rate);
        } else if new > 0 {
            self.init = true;
            self.rate = instant;
        }
        self.rate
    }
}

/// State shared by the watcher thread, the shards and the background tasks.
pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) cfg: RemoteWriteConfig,
    external: Labels,
    client: Arc<dyn WriteClient>,
    pub(crate) metrics: Arc<QueueMetrics>,
    pub(crate) watcher_stats: Arc<WatcherStats>,
    series: Mutex<HashMap<u64, SeriesEntry>>,
    /// Metric family name (after relabelling) → metadata.
    pub(crate) metadata: Mutex<HashMap<String, FamilyMeta>>,
    shards: Mutex<Arc<ShardSet>>,
    /// The current shards' tasks, awaited at stop.
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Every task ever started, aborted when the flush deadline passes.
    aborts: Mutex<Vec<AbortHandle>>,
    num_shards: AtomicU64,
    stop: Arc<AtomicBool>,
    flow: Flow,
    user_agent: String,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Adds the external labels a series lacks (its own win), then applies
/// `write_relabel_configs`; `None` when the series is dropped.
pub(crate) fn series_labels(
    labels: &Labels,
    external: &Labels,
    cfg: &RemoteWriteConfig,
) -> Option<Labels> {
    let with_external = if external.is_empty() {
        labels.clone()
    } else {
        let mut b = LabelsBuilder::new(labels.clone());
        for l in external.iter() {
            if !labels.has(&l.name) {
                b.set(l.name.clone(), l.value.clone());
            }
        }
        b.into_labels()
    };
    let out = ember_model::relabel::process(&with_external, &cfg.write_relabel_configs)?;
    (!out.is_empty()).then_some(out)
}

impl Shared {
    pub(crate) fn new(
        name: String,
        cfg: RemoteWriteConfig,
        external: Labels,
        client: Arc<dyn WriteClient>,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            name,
            url: cfg.url.clone(),
            cfg,
            external,
            client,
            metrics: Arc::new(QueueMetrics::default()),
            watcher_stats: Arc::new(WatcherStats::default()),
            series: Mutex::new(HashMap::new()),
            metadata: Mutex::new(HashMap::new()),
            shards: Mutex::new(Arc::new(ShardSet {
                senders: Vec::new(),
            })),
            tasks: Mutex::new(Vec::new()),
            aborts: Mutex::new(Vec::new()),
            num_shards: AtomicU64::new(0),
            stop: Arc::new(AtomicBool::new(false)),
            flow: Flow::default(),
            user_agent: format!("Prometheus/{} (Ember)", env!("CARGO_PKG_VERSION")),
        })
    }

    pub(crate) fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Starts `n` shards; they begin sending once `after` says the previous
    /// shards are done (so that no series overtakes itself).
    fn start_shards(self: &Arc<Self>, n: usize, after: Option<watch::Receiver<bool>>) {
        let cap = self.cfg.queue_config.capacity.max(1) as usize;
        let mut senders = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = mpsc::channel(cap);
            senders.push(tx);
            let me = self.clone();
            let after = after.clone();
            let h = tokio::spawn(async move {
                if let Some(mut a) = after {
                    let _ = a.wait_for(|done| *done).await;
                }
                me.run_shard(rx).await;
            });
            lock(&self.aborts).push(h.abort_handle());
            handles.push(h);
        }
        *lock(&self.shards) = Arc::new(ShardSet { senders });
        *lock(&self.tasks) = handles;
        self.num_shards.store(n as u64, Ordering::Relaxed);
        self.metrics.shards.store(n as i64, Ordering::Relaxed);
    }

    /// Replaces the shards by `n` new ones; the old ones send what they hold first.
    fn reshard(self: &Arc<Self>, n: usize) {
        let old = std::mem::take(&mut *lock(&self.tasks));
        lock(&self.aborts).retain(|a| !a.is_finished());
        let (tx, rx) = watch::channel(false);
        let joiner = tokio::spawn(async move {
            for h in old {
                let _ = h.await;
            }
            let _ = tx.send(true);
        });
        lock(&self.aborts).push(joiner.abort_handle());
        // Dropping the old set closes the old channels once the watcher lets go
        // of its copy; their shards then flush and end.
        self.start_shards(n, Some(rx));
    }

    /// Puts an item on its series' shard, waiting while that shard is full;
    /// false when the queue is stopping.
    fn enqueue(&self, r: u64, mut item: Item) -> bool {
        let mut backoff = Duration::from_millis(5);
        let max = self.cfg.queue_config.max_backoff.as_std().max(backoff);
        loop {
            if self.stop.load(Ordering::Acquire) {
                return false;
            }
            let set = lock(&self.shards).clone();
            if set.senders.is_empty() {
                return false;
            }
            let tx = &set.senders[(r % set.senders.len() as u64) as usize];
            let c = item.counts();
            match tx.try_send(item) {
                Ok(()) => {
                    self.metrics.pending_add(&c, 1);
                    return true;
                }
                Err(mpsc::error::TrySendError::Full(back)) => {
                    item = back;
                    self.metrics.enqueue_retries.fetch_add(1, Ordering::Relaxed);
                    drop(set);
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(max);
                }
                // Resharding swapped the set: take the new one.
                Err(mpsc::error::TrySendError::Closed(back)) => {
                    item = back;
                    drop(set);
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }

    fn lookup(&self, r: u64, kind: u8) -> Option<Labels> {
        let found = lock(&self.series).get(&r).map(|e| e.labels.clone());
        match found {
            Some(Some(l)) => Some(l),
            Some(None) => {
                self.metrics
                    .drop_samples(kind, DropReason::DroppedSeries, 1);
                self.flow.data_dropped.fetch_add(1, Ordering::Relaxed);
                None
            }
            None => {
                self.metrics
                    .drop_samples(kind, DropReason::UnknownSeries, 1);
                self.flow.data_dropped.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    fn note_read(&self, t: i64) {
        self.metrics.highest_read_ms.fetch_max(t, Ordering::Relaxed);
        self.flow.data_in.fetch_add(1, Ordering::Relaxed);
    }

    fn push(&self, r: u64, t: i64, data: Data, kind: u8) -> bool {
        self.note_read(t);
        let Some(series) = self.lookup(r, kind) else {
            return true;
        };
        let ok = self.enqueue(r, Item { series, t, data });
        if ok && kind != 1 {
            self.metrics
                .highest_enqueued_ms
                .fetch_max(t, Ordering::Relaxed);
        }
        ok
    }

    /// One shard: batches what arrives and sends it, until its channel closes.
    async fn run_shard(self: Arc<Self>, mut rx: mpsc::Receiver<Item>) {
        let max = self.cfg.queue_config.max_samples_per_send.max(1) as usize;
        let deadline = self.cfg.queue_config.batch_send_deadline.as_std();
        let mut batch: Vec<Item> = Vec::with_capacity(max);
        let mut flush_at = tokio::time::Instant::now() + deadline;
        loop {
            tokio::select! {
                item = rx.recv() => match item {
                    Some(item) => {
                        if batch.is_empty() {
                            flush_at = tokio::time::Instant::now() + deadline;
                        }
                        batch.push(item);
                        if batch.len() >= max {
                            self.send_batch(std::mem::take(&mut batch)).await;
                        }
                    }
                    None => {
                        if !batch.is_empty() {
                            self.send_batch(std::mem::take(&mut batch)).await;
                        }
                        return;
                    }
                },
                _ = tokio::time::sleep_until(flush_at), if !batch.is_empty() => {
                    self.send_batch(std::mem::take(&mut batch)).await;
                }
            }
        }
    }

    /// Sends one batch with retries, and accounts for it.
    pub(crate) async fn send_batch(&self, mut batch: Vec<Item>) {
        let all = counts_of(&batch);
        let limit = self.cfg.queue_config.sample_age_limit;
        if !limit.is_zero() {
            let oldest = now_ms() - limit.as_millis() as i64;
            batch.retain(|i| {
                let keep = i.t >= oldest;
                if !keep {
                    let kind = match i.data {
                        Data::Float(_) => 0,
                        Data::Exemplar { .. } => 1,
                        _ => 2,
                    };
                    self.metrics.drop_samples(kind, DropReason::TooOld, 1);
                }
                keep
            });
        }
        let counts = counts_of(&batch);
        if !batch.is_empty() {
            let highest = batch
                .iter()
                .filter(|i| !matches!(i.data, Data::Exemplar { .. }))
                .map(|i| i.t)
                .max();
            let meta = lock(&self.metadata).clone();
            let body = match self.cfg.protobuf_message {
                RemoteWriteMessage::V1 => build_v1(&batch).encode_to_vec(),
                RemoteWriteMessage::V2 => build_v2(&batch, &meta).encode_to_vec(),
            };
            match snap::raw::Encoder::new().compress_vec(&body) {
                Ok(body) => {
                    let sent = self.send_with_backoff(body, counts, false).await;
                    if sent && let Some(h) = highest {
                        self.metrics.highest_sent_ms.fetch_max(h, Ordering::Relaxed);
                    }
                }
                Err(e) => {
                    tracing::error!(queue = %self.name, err = %e, "cannot compress a remote write request");
                    self.metrics.failed.add(&counts);
                }
            }
        }
        self.metrics.pending_add(&all, -1);
    }

    fn headers(&self, attempt: u32) -> Vec<(String, String)> {
        let (ct, version) = match self.cfg.protobuf_message {
            RemoteWriteMessage::V1 => ("application/x-protobuf".to_string(), "0.1.0"),
            RemoteWriteMessage::V2 => (
                format!(
                    "application/x-protobuf;proto={}",
                    RemoteWriteMessage::V2.as_str()
                ),
                "2.0.0",
            ),
        };
        let mut h = vec![
            ("Content-Encoding".to_string(), "snappy".to_string()),
            ("Content-Type".to_string(), ct),
            ("User-Agent".to_string(), self.user_agent.clone()),
            (
                "X-Prometheus-Remote-Write-Version".to_string(),
                version.to_string(),
            ),
        ];
        if attempt > 0 {
            h.push(("Retry-Attempt".to_string(), attempt.to_string()));
        }
        // `headers` of the configuration win over ours, as Prometheus sets them
        // last.
        for (k, v) in &self.cfg.headers {
            h.retain(|(n, _)| !n.eq_ignore_ascii_case(k));
            h.push((k.clone(), v.clone()));
        }
        h
    }

    /// Sends `body` until it is accepted, refused for good, or the queue is
    /// aborted; true when accepted. `metadata`: counted as metadata.
    pub(crate) async fn send_with_backoff(&self, body: Vec<u8>, c: Counts, metadata: bool) -> bool {
        let q = &self.cfg.queue_config;
        let mut backoff = q.min_backoff.as_std();
        let mut attempt = 0u32;
        let len = body.len() as u64;
        let body = bytes_of(body);
        loop {
            if metadata {
                self.metrics
                    .metadata_bytes
                    .fetch_add(len, Ordering::Relaxed);
            } else {
                self.metrics.bytes.fetch_add(len, Ordering::Relaxed);
            }
            // Counted at each attempt, as Prometheus does: `_total` is what was
            // put on the wire.
            self.metrics.sent.add(&c);
            let begin = Instant::now();
            let req = WriteRequest {
                body: body.clone(),
                headers: self.headers(attempt),
                timeout: self.cfg.remote_timeout.as_std(),
            };
            let res = self.client.store(&self.url, req).await;
            let took = begin.elapsed();
            self.metrics.observe_batch(took);
            self.flow.data_out.fetch_add(c.total(), Ordering::Relaxed);
            self.flow
                .out_duration_ns
                .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
            self.flow
                .last_send_unix
                .store(now_unix(), Ordering::Relaxed);
            let (err, retry_after) = match res {
                Ok(Reply { status, .. }) if (200..300).contains(&status) => return true,
                Ok(Reply {
                    status,
                    body,
                    retry_after,
                }) => {
                    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_ERR_BODY)])
                        .trim()
                        .to_string();
                    let err = format!("server returned HTTP status {status}: {text}");
                    let recoverable = status / 100 == 5 || (q.retry_on_http_429 && status == 429);
                    if !recoverable {
                        tracing::error!(queue = %self.name, err = %err, "non-recoverable error sending to remote storage; dropping the batch");
                        self.metrics.failed.add(&c);
                        return false;
                    }
                    (err, retry_after)
                }
                Err(e) => (e, None),
            };
            let sleep = retry_after.filter(|d| !d.is_zero()).unwrap_or(backoff);
            // No resharding while backing off: more shards would make an
            // overloaded receiver worse.
            let until = now_unix() + (2 * sleep).as_secs() as i64 + 1;
            self.flow
                .reshard_disabled_until_unix
                .fetch_max(until, Ordering::Relaxed);
            tracing::warn!(queue = %self.name, err = %err, retry_in = ?sleep, "failed to send batch, retrying");
            tokio::time::sleep(sleep).await;
            self.metrics.retried.add(&c);
            backoff = (sleep * 2).min(q.max_backoff.as_std());
            attempt += 1;
        }
    }

    /// The resharding rule (see the module doc); the shard count to run.
    fn desired_shards(&self, st: &mut ReshardState) -> usize {
        let cur = self.num_shards.load(Ordering::Relaxed) as usize;
        let data_in = st.data_in.tick(self.flow.data_in.load(Ordering::Relaxed));
        let data_out = st.data_out.tick(self.flow.data_out.load(Ordering::Relaxed));
        let dropped = st
            .dropped
            .tick(self.flow.data_dropped.load(Ordering::Relaxed));
        let out_dur = st
            .duration
            .tick(self.flow.out_duration_ns.load(Ordering::Relaxed))
            / 1e9;
        if data_out <= 0.0 {
            return cur;
        }
        let kept = data_out / (dropped + data_out);
        let highest_sent = self.metrics.highest_sent_ms.load(Ordering::Relaxed) / 1000;
        let highest_recv = self.metrics.highest_read_ms.load(Ordering::Relaxed) / 1000;
        let delay = (highest_recv - highest_sent) as f64;
        let pending = delay * data_in * kept;
        let time_per_sample = out_dur / data_out;
        let desired = time_per_sample * (data_in * kept + 0.05 * pending);
        self.metrics
            .shards_desired
            .store(desired.to_bits(), Ordering::Relaxed);
        let lower = cur as f64 * (1.0 - SHARD_TOLERANCE);
        let upper = cur as f64 * (1.0 + SHARD_TOLERANCE);
        let desired = desired.ceil();
        if lower <= desired && desired <= upper {
            return cur;
        }
        let mut n = desired as usize;
        if n < cur && delay > 10.0 {
            return cur;
        }
        let q = &self.cfg.queue_config;
        n = n.clamp(q.min_shards.max(1) as usize, q.max_shards.max(1) as usize);
        n
    }

    fn should_reshard(&self, desired: usize) -> bool {
        if desired == self.num_shards.load(Ordering::Relaxed) as usize {
            return false;
        }
        let now = now_unix();
        if self.flow.last_send_unix.load(Ordering::Relaxed) < now - SHARD_UPDATE.as_secs() as i64 {
            return false;
        }
        now >= self
            .flow
            .reshard_disabled_until_unix
            .load(Ordering::Relaxed)
    }

    async fn reshard_loop(self: Arc<Self>) {
        let mut st = ReshardState::default();
        let mut tick = tokio::time::interval(SHARD_UPDATE);
        tick.tick().await;
        loop {
            tick.tick().await;
            let n = self.desired_shards(&mut st);
            if self.should_reshard(n) {
                tracing::info!(queue = %self.name, from = self.num_shards.load(Ordering::Relaxed), to = n, "remote storage resharding");
                self.reshard(n);
            }
        }
    }

    /// Sends the metadata gathered from the WAL every `send_interval` (remote
    /// write 1.0 only: 2.0 carries it with each series).
    async fn metadata_loop(self: Arc<Self>) {
        let mc = &self.cfg.metadata_config;
        let mut tick = tokio::time::interval(mc.send_interval.as_std().max(Duration::from_secs(1)));
        tick.tick().await;
        loop {
            tick.tick().await;
            let mut all: Vec<proto::MetricMetadata> = lock(&self.metadata)
                .iter()
                .map(|(name, m)| proto::MetricMetadata {
                    r#type: i32::from(m.metric_type),
                    metric_family_name: name.clone(),
                    help: m.help.clone(),
                    unit: m.unit.clone(),
                })
                .collect();
            all.sort_by(|a, b| a.metric_family_name.cmp(&b.metric_family_name));
            for chunk in all.chunks(mc.max_samples_per_send.max(1) as usize) {
                let req = proto::WriteRequest {
                    timeseries: Vec::new(),
                    metadata: chunk.to_vec(),
                };
                let Ok(body) = snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()) else {
                    continue;
                };
                let c = Counts {
                    metadata: chunk.len() as u64,
                    ..Counts::default()
                };
                self.send_with_backoff(body, c, true).await;
            }
        }
    }
}

fn bytes_of(v: Vec<u8>) -> Arc<[u8]> {
    Arc::from(v)
}

#[derive(Default)]
struct ReshardState {
    data_in: Ewma,
    data_out: Ewma,
    dropped: Ewma,
    duration: Ewma,
}

impl Consumer for Shared {
    fn store_series(&self, series: Vec<RefSeries>, segment: u32) {
        let mut m = lock(&self.series);
        for s in series {
            let labels = series_labels(&s.labels, &self.external, &self.cfg);
            m.insert(s.r, SeriesEntry { labels, segment });
        }
    }

    fn update_series_segment(&self, series: &[RefSeries], segment: u32) {
        let mut m = lock(&self.series);
        for s in series {
            if let Some(e) = m.get_mut(&s.r) {
                e.segment = segment;
            }
        }
    }

    fn series_reset(&self, segment: u32) {
        lock(&self.series).retain(|_, e| e.segment >= segment);
    }

    fn store_metadata(&self, metadata: Vec<RefMetadata>) {
        let series = lock(&self.series);
        let mut md = lock(&self.metadata);
        for m in metadata {
            let Some(Some(l)) = series.get(&m.r).map(|e| e.labels.as_ref()) else {
                continue;
            };
            let name = l.metric_name();
            if name.is_empty() {
                continue;
            }
            md.insert(
                name.to_string(),
                FamilyMeta {
                    metric_type: m.metric_type,
                    help: m.help,
                    unit: m.unit,
                },
            );
        }
    }

    fn append_samples(&self, samples: Vec<RefSample>) -> bool {
        samples
            .into_iter()
            .all(|s| self.push(s.r, s.t, Data::Float(s.v), 0))
    }

    fn append_histograms(&self, h: Vec<RefHistogram>) -> bool {
        h.into_iter()
            .all(|x| self.push(x.r, x.t, Data::Histogram(Box::new(x.h)), 2))
    }

    fn append_float_histograms(&self, h: Vec<RefFloatHistogram>) -> bool {
        h.into_iter()
            .all(|x| self.push(x.r, x.t, Data::FloatHistogram(Box::new(x.h)), 2))
    }

    fn append_exemplars(&self, e: Vec<RefExemplar>) -> bool {
        e.into_iter().all(|x| {
            self.push(
                x.r,
                x.t,
                Data::Exemplar {
                    labels: x.labels,
                    value: x.v,
                },
                1,
            )
        })
    }
}

/// A running queue: its watcher thread, shards and background tasks.
pub(crate) struct QueueManager {
    pub(crate) shared: Arc<Shared>,
    background: Vec<JoinHandle<()>>,
}

impl QueueManager {
    /// Starts the shards (`min_shards` of them) and the watcher over `wal_dir`.
    pub(crate) fn start(shared: Arc<Shared>, wal_dir: std::path::PathBuf) -> QueueManager {
        let n = shared.cfg.queue_config.min_shards.max(1) as usize;
        shared.start_shards(n, None);
        let mut background = vec![tokio::spawn(shared.clone().reshard_loop())];
        let send_metadata = shared.cfg.metadata_config.send;
        if send_metadata && shared.cfg.protobuf_message == RemoteWriteMessage::V1 {
            background.push(tokio::spawn(shared.clone().metadata_loop()));
        }
        let opts = super::watcher::Options {
            exemplars: shared.cfg.send_exemplars,
            histograms: shared.cfg.send_native_histograms,
            metadata: send_metadata,
        };
        let watcher = super::watcher::Watcher::new(
            wal_dir,
            shared.clone() as Arc<dyn Consumer>,
            shared.stop_flag(),
            opts,
            shared.watcher_stats.clone(),
            shared.name.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name(format!("wal-watcher-{}", shared.name))
            .spawn(move || watcher.run_forever());
        if let Err(e) = spawned {
            tracing::error!(queue = %shared.name, err = %e, "cannot start the WAL watcher thread");
        }
        QueueManager { shared, background }
    }

    /// Stops reading the WAL, sends what the shards hold within `deadline`, then
    /// drops the rest.
    pub(crate) async fn stop(self, deadline: Duration) {
        let s = &self.shared;
        s.stop.store(true, Ordering::Release);
        for b in &self.background {
            b.abort();
        }
        *lock(&s.shards) = Arc::new(ShardSet {
            senders: Vec::new(),
        });
        let tasks = std::mem::take(&mut *lock(&s.tasks));
        let flushed = tokio::time::timeout(deadline, async {
            for t in tasks {
                let _ = t.await;
            }
        })
        .await;
        if flushed.is_err() {
            let pending = s.metrics.pending_samples.load(Ordering::Relaxed);
            tracing::error!(queue = %s.name, pending, "failed to flush all samples on shutdown");
        }
        for a in lock(&s.aborts).drain(..) {
            a.abort();
        }
        s.metrics.shards.store(0, Ordering::Relaxed);
    }
}

fn proto_labels(l: &Labels) -> Vec<proto::Label> {
    l.iter()
        .map(|x| proto::Label {
            name: x.name.clone(),
            value: x.value.clone(),
        })
        .collect()
}

fn spans(s: &[Span]) -> Vec<proto::BucketSpan> {
    s.iter()
        .map(|x| proto::BucketSpan {
            offset: x.offset,
            length: x.length,
        })
        .collect()
}

fn proto_histogram(h: &Histogram, t: i64) -> proto::Histogram {
    proto::Histogram {
        count: Some(proto::Count::CountInt(h.count)),
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: Some(proto::ZeroCount::ZeroCountInt(h.zero_count)),
        negative_spans: spans(&h.negative_spans),
        negative_deltas: h.negative_buckets.clone(),
        negative_counts: Vec::new(),
        positive_spans: spans(&h.positive_spans),
        positive_deltas: h.positive_buckets.clone(),
        positive_counts: Vec::new(),
        reset_hint: h.counter_reset_hint as i32,
        timestamp: t,
        custom_values: h.custom_values.clone(),
    }
}

fn proto_float_histogram(h: &FloatHistogram, t: i64) -> proto::Histogram {
    proto::Histogram {
        count: Some(proto::Count::CountFloat(h.count)),
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: Some(proto::ZeroCount::ZeroCountFloat(h.zero_count)),
        negative_spans: spans(&h.negative_spans),
        negative_deltas: Vec::new(),
        negative_counts: h.negative_buckets.clone(),
        positive_spans: spans(&h.positive_spans),
        positive_deltas: Vec::new(),
        positive_counts: h.positive_buckets.clone(),
        reset_hint: h.counter_reset_hint as i32,
        timestamp: t,
        custom_values: h.custom_values.clone(),
    }
}

/// A `prometheus.WriteRequest`: one time series per item, as Prometheus sends.
pub(crate) fn build_v1(batch: &[Item]) -> proto::WriteRequest {
    let timeseries = batch
        .iter()
        .map(|i| {
            let mut ts = proto::TimeSeries {
                labels: proto_labels(&i.series),
                ..Default::default()
            };
            match &i.data {
                Data::Float(v) => ts.samples.push(proto::Sample {
                    value: *v,
                    timestamp: i.t,
                }),
                Data::Histogram(h) => ts.histograms.push(proto_histogram(h, i.t)),
                Data::FloatHistogram(h) => ts.histograms.push(proto_float_histogram(h, i.t)),
                Data::Exemplar { labels, value } => ts.exemplars.push(proto::Exemplar {
                    labels: proto_labels(labels),
                    value: *value,
                    timestamp: i.t,
                }),
            }
            ts
        })
        .collect();
    proto::WriteRequest {
        timeseries,
        metadata: Vec::new(),
    }
}

/// The symbol table of a 2.0 request; the empty string is always symbol 0.
struct Symbols {
    list: Vec<String>,
    index: HashMap<String, u32>,
}

impl Symbols {
    fn new() -> Symbols {
        let mut s = Symbols {
            list: Vec::new(),
            index: HashMap::new(),
        };
        s.get("");
        s
    }

    fn get(&mut self, v: &str) -> u32 {
        if let Some(i) = self.index.get(v) {
            return *i;
        }
        let i = self.list.len() as u32;
        self.list.push(v.to_string());
        self.index.insert(v.to_string(), i);
        i
    }

    fn labels(&mut self, l: &Labels) -> Vec<u32> {
        l.iter()
            .flat_map(|x| [self.get(&x.name), self.get(&x.value)])
            .collect()
    }
}

/// An `io.prometheus.write.v2.Request`, metadata attached from the WAL's.
pub(crate) fn build_v2(batch: &[Item], meta: &HashMap<String, FamilyMeta>) -> proto::v2::Request {
    let mut sym = Symbols::new();
    let mut timeseries = Vec::with_capacity(batch.len());
    for i in batch {
        let mut ts = proto::v2::TimeSeries {
            labels_refs: sym.labels(&i.series),
            ..Default::default()
        };
        if let Some(m) = meta.get(i.series.metric_name()) {
            ts.metadata = Some(proto::v2::Metadata {
                r#type: i32::from(m.metric_type),
                help_ref: sym.get(&m.help),
                unit_ref: sym.get(&m.unit),
            });
        }
        match &i.data {
            Data::Float(v) => ts.samples.push(proto::v2::Sample {
                value: *v,
                timestamp: i.t,
                start_timestamp: 0,
            }),
            Data::Histogram(h) => ts.histograms.push(proto_histogram(h, i.t)),
            Data::FloatHistogram(h) => ts.histograms.push(proto_float_histogram(h, i.t)),
            Data::Exemplar { labels, value } => ts.exemplars.push(proto::v2::Exemplar {
                labels_refs: sym.labels(labels),
                value: *value,
                timestamp: i.t,
            }),
        }
        timeseries.push(ts);
    }
    proto::v2::Request {
        symbols: sym.list,
        timeseries,
    }
}
