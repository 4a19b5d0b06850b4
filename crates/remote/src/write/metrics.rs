//! The sender's metrics, under Prometheus's names and help texts
//! (`prometheus_remote_storage_*`, labelled `remote_name` and `url`), so that the
//! dashboards and alerts written for Prometheus's remote write work unchanged.
//!
//! Kept as atomics updated by the shards and the watcher, and turned into
//! exposition families only when `/metrics` is scraped.

use ember_exposition::{MetricFamily, MetricType, Sample};
use ember_model::Label;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Buckets of `sent_batch_duration_seconds`: Prometheus's default buckets plus
/// 25, 60, 120 and 300 seconds, as Prometheus declares them.
pub(crate) const BATCH_BUCKETS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0, 120.0, 300.0,
];

/// Why a sample was dropped before sending (the `reason` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum DropReason {
    /// `write_relabel_configs` dropped its series.
    DroppedSeries,
    /// Its series reference was never seen in the WAL.
    UnknownSeries,
    /// Older than `sample_age_limit`.
    TooOld,
}

impl DropReason {
    fn as_str(self) -> &'static str {
        match self {
            DropReason::DroppedSeries => "dropped_series",
            DropReason::UnknownSeries => "unintentionally_dropped_series",
            DropReason::TooOld => "too_old",
        }
    }
}

/// A counter per kind of data: float samples, exemplars, histograms, metadata.
#[derive(Debug, Default)]
pub(crate) struct PerKind {
    pub(crate) samples: AtomicU64,
    pub(crate) exemplars: AtomicU64,
    pub(crate) histograms: AtomicU64,
    pub(crate) metadata: AtomicU64,
}

impl PerKind {
    pub(crate) fn add(&self, c: &Counts) {
        self.samples.fetch_add(c.samples, Ordering::Relaxed);
        self.exemplars.fetch_add(c.exemplars, Ordering::Relaxed);
        self.histograms.fetch_add(c.histograms, Ordering::Relaxed);
        self.metadata.fetch_add(c.metadata, Ordering::Relaxed);
    }
}

/// How many of each kind a batch holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) samples: u64,
    pub(crate) exemplars: u64,
    pub(crate) histograms: u64,
    pub(crate) metadata: u64,
}

impl Counts {
    pub(crate) fn total(&self) -> u64 {
        self.samples + self.exemplars + self.histograms + self.metadata
    }
}

/// One queue's metrics.
#[derive(Debug, Default)]
pub(crate) struct QueueMetrics {
    pub(crate) sent: PerKind,
    pub(crate) failed: PerKind,
    pub(crate) retried: PerKind,
    /// (kind, reason) → count; kind 0 samples, 1 exemplars, 2 histograms.
    pub(crate) dropped: Mutex<BTreeMap<(u8, DropReason), u64>>,
    pub(crate) pending_samples: AtomicI64,
    pub(crate) pending_exemplars: AtomicI64,
    pub(crate) pending_histograms: AtomicI64,
    pub(crate) enqueue_retries: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) metadata_bytes: AtomicU64,
    pub(crate) shards: AtomicI64,
    pub(crate) shards_desired: AtomicU64,
    /// Highest timestamp enqueued and sent, in ms.
    pub(crate) highest_enqueued_ms: AtomicI64,
    pub(crate) highest_sent_ms: AtomicI64,
    /// Highest timestamp read from the WAL, before relabelling (ms).
    pub(crate) highest_read_ms: AtomicI64,
    /// `sent_batch_duration_seconds`: bucket counts, count, sum (ns).
    pub(crate) batch_buckets: [AtomicU64; BATCH_BUCKETS.len()],
    pub(crate) batch_count: AtomicU64,
    pub(crate) batch_sum_ns: AtomicU64,
}

impl QueueMetrics {
    pub(crate) fn drop_samples(&self, kind: u8, reason: DropReason, n: u64) {
        if n == 0 {
            return;
        }
        if let Ok(mut m) = self.dropped.lock() {
            *m.entry((kind, reason)).or_default() += n;
        }
    }

    pub(crate) fn observe_batch(&self, d: std::time::Duration) {
        let s = d.as_secs_f64();
        for (b, n) in BATCH_BUCKETS.iter().zip(&self.batch_buckets) {
            if s <= *b {
                n.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.batch_count.fetch_add(1, Ordering::Relaxed);
        self.batch_sum_ns
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }

    pub(crate) fn pending_add(&self, c: &Counts, sign: i64) {
        self.pending_samples
            .fetch_add(sign * c.samples as i64, Ordering::Relaxed);
        self.pending_exemplars
            .fetch_add(sign * c.exemplars as i64, Ordering::Relaxed);
        self.pending_histograms
            .fetch_add(sign * c.histograms as i64, Ordering::Relaxed);
    }
}

/// What a queue shows besides its counters.
pub(crate) struct QueueView<'a> {
    pub(crate) name: &'a str,
    pub(crate) url: &'a str,
    pub(crate) metrics: &'a QueueMetrics,
    pub(crate) capacity: i64,
    pub(crate) min_shards: i64,
    pub(crate) max_shards: i64,
    pub(crate) max_samples_per_send: i64,
    pub(crate) current_segment: i64,
}

/// Families gathered from every queue, one family per name.
#[derive(Default)]
pub(crate) struct Families(BTreeMap<String, MetricFamily>);

const NS: &str = "prometheus_remote_storage_";

impl Families {
    fn push(&mut self, name: &str, help: &str, ty: MetricType, s: Sample) {
        self.0
            .entry(name.to_string())
            .or_insert_with(|| MetricFamily {
                help: Some(help.to_string()),
                ..MetricFamily::new(name, ty)
            })
            .samples
            .push(s);
    }

    /// Adds one queue's samples.
    pub(crate) fn queue(&mut self, q: &QueueView<'_>) {
        let m = q.metrics;
        let labels = |extra: Option<(&str, String)>| {
            let mut l = vec![Label::new("remote_name", q.name), Label::new("url", q.url)];
            if let Some((k, v)) = extra {
                l.push(Label::new(k, v));
            }
            l
        };
        let mut put = |suffix: &str, help: &str, ty: MetricType, v: f64| {
            let name = format!("{NS}{suffix}");
            let mut s = Sample::new(name.as_str(), v);
            s.labels = labels(None);
            self.push(&name, help, ty, s);
        };
        let ld = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        let li = |a: &AtomicI64| a.load(Ordering::Relaxed) as f64;
        let c = MetricType::Counter;
        let g = MetricType::Gauge;
        for (kind, plural, per) in [
            ("samples", "samples", 0u8),
            ("exemplars", "exemplars", 1),
            ("histograms", "histograms", 2),
            ("metadata", "metadata entries", 3),
        ] {
            let pick = |p: &PerKind| match per {
                0 => ld(&p.samples),
                1 => ld(&p.exemplars),
                2 => ld(&p.histograms),
                _ => ld(&p.metadata),
            };
            put(
                &format!("{kind}_total"),
                &format!("Total number of {plural} sent to remote storage."),
                c,
                pick(&m.sent),
            );
            put(
                &format!("{kind}_failed_total"),
                &format!(
                    "Total number of {plural} which failed on send to remote storage, non-recoverable errors."
                ),
                c,
                pick(&m.failed),
            );
            put(
                &format!("{kind}_retried_total"),
                &format!(
                    "Total number of {plural} which failed on send to remote storage but were retried because the send error was recoverable."
                ),
                c,
                pick(&m.retried),
            );
        }
        put(
            "samples_pending",
            "The number of samples pending in the queues shards to be sent to the remote storage.",
            g,
            li(&m.pending_samples),
        );
        put(
            "exemplars_pending",
            "The number of exemplars pending in the queues shards to be sent to the remote storage.",
            g,
            li(&m.pending_exemplars),
        );
        put(
            "histograms_pending",
            "The number of histograms pending in the queues shards to be sent to the remote storage.",
            g,
            li(&m.pending_histograms),
        );
        put(
            "enqueue_retries_total",
            "Total number of times enqueue has failed because a shards queue was full.",
            c,
            ld(&m.enqueue_retries),
        );
        put(
            "bytes_total",
            "The total number of bytes of data (not metadata) sent by the queue after compression. Note that when exemplars over remote write is enabled the exemplars included in a remote write request count towards this metric.",
            c,
            ld(&m.bytes),
        );
        put(
            "metadata_bytes_total",
            "The total number of bytes of metadata sent by the queue after compression.",
            c,
            ld(&m.metadata_bytes),
        );
        put(
            "shards",
            "The number of shards used for parallel sending to the remote storage.",
            g,
            li(&m.shards),
        );
        put(
            "shards_max",
            "The maximum number of shards that the queue is allowed to run.",
            g,
            q.max_shards as f64,
        );
        put(
            "shards_min",
            "The minimum number of shards that the queue is allowed to run.",
            g,
            q.min_shards as f64,
        );
        put(
            "shards_desired",
            "The number of shards that the queues shard calculation wants to run based on the rate of samples in vs. samples out.",
            g,
            f64::from_bits(m.shards_desired.load(Ordering::Relaxed)),
        );
        put(
            "shard_capacity",
            "The capacity of each shard of the queue used for parallel sending to the remote storage.",
            g,
            q.capacity as f64,
        );
        put(
            "max_samples_per_send",
            "The maximum number of samples to be sent, in a single request, to the remote storage. Note that, when sending of exemplars over remote write is enabled, exemplars count towards this limit.",
            g,
            q.max_samples_per_send as f64,
        );
        put(
            "queue_highest_timestamp_seconds",
            "Highest timestamp that was enqueued, in seconds since epoch. Initialized to 0 when no data has been received yet.",
            g,
            (m.highest_enqueued_ms.load(Ordering::Relaxed) / 1000) as f64,
        );
        put(
            "queue_highest_sent_timestamp_seconds",
            "Highest timestamp successfully sent by this queue, in seconds since epoch. Initialized to 0 when no data has been sent yet.",
            g,
            (m.highest_sent_ms.load(Ordering::Relaxed) / 1000) as f64,
        );

        // Dropped, by reason; the reasons seen so far only.
        let dropped = m.dropped.lock().map(|d| d.clone()).unwrap_or_default();
        for ((kind, reason), n) in dropped {
            let noun = ["samples", "exemplars", "histograms"][usize::from(kind.min(2))];
            let name = format!("{NS}{noun}_dropped_total");
            let mut s = Sample::new(name.as_str(), n as f64);
            s.labels = labels(Some(("reason", reason.as_str().to_string())));
            self.push(&name, &format!("Total number of {noun} which were dropped after being read from the WAL before being sent via remote write, either via relabelling, due to being too old or unintentionally because of an unknown reference ID."), c, s);
        }

        let hname = format!("{NS}sent_batch_duration_seconds");
        let help = "Duration of send calls to the remote storage.";
        for (b, n) in BATCH_BUCKETS.iter().zip(&m.batch_buckets) {
            let mut s = Sample::new(format!("{hname}_bucket"), ld(n));
            s.labels = labels(Some(("le", b.to_string())));
            self.push(&hname, help, MetricType::Histogram, s);
        }
        let count = ld(&m.batch_count);
        let mut s = Sample::new(format!("{hname}_bucket"), count);
        s.labels = labels(Some(("le", "+Inf".into())));
        self.push(&hname, help, MetricType::Histogram, s);
        let mut s = Sample::new(format!("{hname}_sum"), ld(&m.batch_sum_ns) / 1e9);
        s.labels = labels(None);
        self.push(&hname, help, MetricType::Histogram, s);
        let mut s = Sample::new(format!("{hname}_count"), count);
        s.labels = labels(None);
        self.push(&hname, help, MetricType::Histogram, s);

        let wname = "prometheus_wal_watcher_current_segment";
        let mut s = Sample::new(wname, q.current_segment as f64);
        s.labels = vec![Label::new("consumer", q.name)];
        self.push(
            wname,
            "Current segment the WAL watcher is reading records from.",
            g,
            s,
        );
    }

    /// `prometheus_remote_storage_highest_timestamp_in_seconds`, over all queues.
    pub(crate) fn highest(&mut self, ms: i64) {
        let name = format!("{NS}highest_timestamp_in_seconds");
        self.push(
            &name,
            "Highest timestamp that has come into the remote storage via the Appender interface, in seconds since epoch. Initialized to 0 when no data has been received yet. Deprecated, check prometheus_remote_storage_queue_highest_timestamp_seconds which is more accurate.",
            MetricType::Gauge,
            Sample::new(name.as_str(), (ms.max(0) / 1000) as f64),
        );
    }

    pub(crate) fn into_vec(self) -> Vec<MetricFamily> {
        self.0.into_values().collect()
    }
}
