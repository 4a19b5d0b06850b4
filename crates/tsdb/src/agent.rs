//! Agent storage: the WAL-only [`Appendable`] behind `ember server --agent`, with
//! the semantics of Prometheus's agent (`tsdb/agent`).
//!
//! In agent mode nothing is queried locally: scraped samples only have to reach the
//! remote-write queues, which tail the WAL (`ember_remote::write`). So this storage
//! keeps no chunks, only, per series, its reference, labels and newest timestamp —
//! enough to hand out stable references, to apply the agent's out-of-order rule and
//! to know which series are still alive when the WAL is truncated. Everything else
//! goes straight into `<dir>/wal`, in the TSDB's WAL format (documented in
//! `crates/wal/docs/format/wal.md`), so that Prometheus's agent can take over an
//! Ember agent's directory and the other way round.
//!
//! The pieces, as in Prometheus:
//!
//! - appends log a series record the first time a series is seen, then float,
//!   histogram and exemplar records at commit (metadata is not logged: Prometheus's
//!   agent drops it too, and its WAL replay refuses record types it does not expect);
//! - a sample at or before `newest - out_of_order_window` is refused as out of order;
//! - [`AgentDb::truncate`], run every `--storage.agent.wal-truncate-frequency` by the
//!   binary, forgets series not written since `mint` (garbage collection), then
//!   checkpoints the older two thirds of the segments (live series, samples at or
//!   after `mint`) and deletes them; the binary picks `mint` from the remote-write
//!   queues' progress bounded by `--storage.agent.retention.{min,max}-time`;
//! - at open the checkpoint and segments are replayed to rebuild the series (same
//!   references, so the remote-write watcher's view of the WAL stays valid), and a
//!   damaged tail is cut off;
//! - a `lock` file in the directory, unless `--storage.agent.no-lockfile`.

use crate::hist;
use ember_model::Labels;
use ember_model::value::{Exemplar, Metadata};
use ember_storage::{Appendable, Appender, Error, HistogramRef, SeriesRef};
use ember_wal::reader::{Reader, repair};
use ember_wal::record::{
    self, Record, RefExemplar, RefFloatHistogram, RefHistogram, RefMetadata, RefSample, RefSeries,
};
use ember_wal::segment::{Wal, WalOptions, segments};
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

/// Prometheus's default `--storage.agent.wal-truncate-frequency`.
pub const DEFAULT_TRUNCATE_FREQUENCY: Duration = Duration::from_secs(2 * 3600);
/// Prometheus's default `--storage.agent.retention.min-time`, in ms.
pub const DEFAULT_MIN_WAL_TIME: i64 = 5 * 60 * 1000;
/// Prometheus's default `--storage.agent.retention.max-time`, in ms.
pub const DEFAULT_MAX_WAL_TIME: i64 = 4 * 3600 * 1000;

/// The longest exemplar label set, in characters, as Prometheus limits it.
const EXEMPLAR_MAX_LABEL_CHARS: usize = 128;

/// Errors of opening or truncating the agent storage.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A filesystem operation failed.
    #[error("{path}: {source}")]
    Io {
        /// On which file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Another process holds the directory's lock file.
    #[error("{0}: the data directory is in use by another process (lock file held)")]
    Locked(PathBuf),
    /// The WAL could not be read or written.
    #[error(transparent)]
    Wal(#[from] ember_wal::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AgentError + '_ {
    move |source| AgentError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Settings, from the `--storage.agent.*` flags.
#[derive(Clone, Debug)]
pub struct AgentOptions {
    /// Segment size and compression (`--storage.agent.wal-compression`).
    pub wal: WalOptions,
    /// How often the binary truncates (`--storage.agent.wal-truncate-frequency`).
    pub truncate_frequency: Duration,
    /// Samples younger than this (ms) behind the remote-write progress are kept
    /// (`--storage.agent.retention.min-time`).
    pub min_wal_time: i64,
    /// Samples older than this (ms) are dropped whatever the remote-write progress
    /// (`--storage.agent.retention.max-time`).
    pub max_wal_time: i64,
    /// Do not take the `lock` file (`--storage.agent.no-lockfile`).
    pub no_lockfile: bool,
    /// How far (ms) behind a series' newest sample a sample is still accepted
    /// (`storage.tsdb.out_of_order_time_window`); 0 refuses anything not newer.
    pub out_of_order_window: i64,
}

impl Default for AgentOptions {
    fn default() -> Self {
        AgentOptions {
            wal: WalOptions::default(),
            truncate_frequency: DEFAULT_TRUNCATE_FREQUENCY,
            min_wal_time: DEFAULT_MIN_WAL_TIME,
            max_wal_time: DEFAULT_MAX_WAL_TIME,
            no_lockfile: false,
            out_of_order_window: 0,
        }
    }
}

impl AgentOptions {
    /// The options corrected as Prometheus corrects them: non-positive values take
    /// the defaults, the maximum age is at least the minimum and at least one
    /// truncation period (so that truncation never drops what the next period
    /// would still have kept).
    pub fn validated(mut self) -> Self {
        if self.truncate_frequency.is_zero() {
            self.truncate_frequency = DEFAULT_TRUNCATE_FREQUENCY;
        }
        if self.min_wal_time <= 0 {
            self.min_wal_time = DEFAULT_MIN_WAL_TIME;
        }
        if self.max_wal_time <= 0 {
            self.max_wal_time = DEFAULT_MAX_WAL_TIME;
        }
        self.max_wal_time = self
            .max_wal_time
            .max(self.min_wal_time)
            .max(self.truncate_frequency.as_millis() as i64);
        self.out_of_order_window = self.out_of_order_window.max(0);
        self
    }

    /// The truncation point Prometheus's agent picks: `min_wal_time` before the
    /// oldest progress of the remote-write queues (`lowest_sent`, ms; 0 when no
    /// queue has sent anything or none runs), but never keeping more than
    /// `max_wal_time` before `now`.
    pub fn truncation_point(&self, lowest_sent: i64, now: i64) -> i64 {
        let ts = lowest_sent.saturating_sub(self.min_wal_time).max(0);
        ts.max(now - self.max_wal_time)
    }
}

/// `prometheus_agent_*` counters and gauges.
#[derive(Debug, Default)]
pub struct AgentMetrics {
    /// `prometheus_agent_active_series`.
    pub active_series: AtomicI64,
    /// `prometheus_agent_deleted_series`: garbage-collected series whose records
    /// the next checkpoints must still keep.
    pub deleted_series: AtomicI64,
    /// `prometheus_agent_samples_appended_total{type="float"}`.
    pub float_samples_appended: AtomicU64,
    /// `prometheus_agent_samples_appended_total{type="histogram"}`.
    pub histogram_samples_appended: AtomicU64,
    /// `prometheus_agent_exemplars_appended_total`.
    pub exemplars_appended: AtomicU64,
    /// `prometheus_agent_out_of_order_samples_total`.
    pub out_of_order_samples: AtomicU64,
    /// `prometheus_agent_corruptions_total`.
    pub corruptions: AtomicU64,
    /// `prometheus_agent_data_replay_duration_seconds`, in µs.
    pub replay_duration_us: AtomicU64,
    /// `prometheus_agent_checkpoint_creations_total`.
    pub checkpoint_creations: AtomicU64,
    /// `prometheus_agent_checkpoint_creations_failed_total`.
    pub checkpoint_creations_failed: AtomicU64,
    /// `prometheus_agent_checkpoint_deletions_total`.
    pub checkpoint_deletions: AtomicU64,
    /// `prometheus_agent_checkpoint_deletions_failed_total`.
    pub checkpoint_deletions_failed: AtomicU64,
    /// `prometheus_agent_truncate_duration_seconds_count`.
    pub truncations: AtomicU64,
    /// `prometheus_agent_truncate_duration_seconds_sum`, in µs.
    pub truncate_duration_us: AtomicU64,
}

/// What replay found at open.
#[derive(Clone, Debug, Default)]
pub struct AgentReplay {
    /// Series rebuilt.
    pub series: u64,
    /// Samples (float and histogram) read.
    pub samples: u64,
    /// Samples naming a series no record defines.
    pub orphan_samples: u64,
    /// Where the WAL was cut because of damage: (reason, segment, new length).
    pub repaired: Option<(String, u32, u64)>,
    /// How long replay took.
    pub duration: Duration,
}

/// What one truncation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Truncation {
    /// Series garbage-collected.
    pub removed_series: usize,
    /// The checkpoint written (covering segments up to this one), if any.
    pub checkpoint: Option<u32>,
}

/// One series: its reference, labels and newest committed timestamp.
#[derive(Debug)]
struct Series {
    r: u64,
    labels: Labels,
    last_ts: AtomicI64,
    /// Set when garbage collection removed the series, so that a transaction that
    /// picked it up before logs it again.
    gone: AtomicBool,
    /// The newest exemplar, for Prometheus's duplicate check.
    last_exemplar: Mutex<Option<(Labels, u64, i64)>>,
}

impl Series {
    fn new(r: u64, labels: Labels, last_ts: i64) -> Arc<Series> {
        Arc::new(Series {
            r,
            labels,
            last_ts: AtomicI64::new(last_ts),
            gone: AtomicBool::new(false),
            last_exemplar: Mutex::new(None),
        })
    }
}

#[derive(Debug, Default)]
struct Index {
    by_ref: HashMap<u64, Arc<Series>>,
    by_labels: HashMap<Labels, Arc<Series>>,
}

impl Index {
    fn insert(&mut self, s: Arc<Series>) {
        self.by_labels.insert(s.labels.clone(), s.clone());
        self.by_ref.insert(s.r, s);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The agent's storage over one directory.
#[derive(Debug)]
pub struct AgentDb {
    dir: PathBuf,
    opts: AgentOptions,
    wal: Mutex<Wal>,
    index: RwLock<Index>,
    next_ref: AtomicU64,
    /// Removed series (ref → the segment current when they were removed, or the
    /// last one naming them at replay): checkpoints keep their series record until
    /// every segment that may mention them is gone.
    deleted: Mutex<HashMap<u64, u32>>,
    truncating: Mutex<()>,
    metrics: AgentMetrics,
    replay: AgentReplay,
    _lock: Option<File>,
}

impl AgentDb {
    /// Opens (or creates) the agent storage in `dir`: takes the lock file, replays
    /// `dir/wal` (checkpoint, then segments; a damaged tail is cut off and counted)
    /// and starts a new segment.
    pub fn open(dir: &Path, opts: AgentOptions) -> Result<AgentDb, AgentError> {
        let start = Instant::now();
        let opts = opts.validated();
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock = if opts.no_lockfile {
            None
        } else {
            match crate::lock_dir(dir) {
                Ok(f) => Some(f),
                Err(crate::LockFailure::Held(path)) => return Err(AgentError::Locked(path)),
                Err(crate::LockFailure::Io(path, source)) => {
                    return Err(AgentError::Io { path, source });
                }
            }
        };
        let wal_dir = dir.join("wal");
        std::fs::create_dir_all(&wal_dir).map_err(io(&wal_dir))?;
        let metrics = AgentMetrics::default();
        let mut loader = Loader::default();
        let repaired = loader.replay(&wal_dir)?;
        if repaired.is_some() {
            metrics.corruptions.fetch_add(1, Ordering::Relaxed);
        }
        let wal = Wal::open(&wal_dir, opts.wal.clone())?;
        let mut replay = loader.report;
        replay.repaired = repaired;
        replay.series = loader.index.by_ref.len() as u64;
        replay.duration = start.elapsed();
        metrics
            .active_series
            .store(replay.series as i64, Ordering::Relaxed);
        metrics
            .deleted_series
            .store(loader.deleted.len() as i64, Ordering::Relaxed);
        metrics
            .replay_duration_us
            .store(replay.duration.as_micros() as u64, Ordering::Relaxed);
        Ok(AgentDb {
            dir: dir.to_path_buf(),
            opts,
            wal: Mutex::new(wal),
            index: RwLock::new(loader.index),
            next_ref: AtomicU64::new(loader.max_ref),
            deleted: Mutex::new(loader.deleted),
            truncating: Mutex::new(()),
            metrics,
            replay,
            _lock: lock,
        })
    }

    /// The directory (the WAL is in its `wal` subdirectory).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options in force (after [`AgentOptions::validated`]).
    pub fn options(&self) -> &AgentOptions {
        &self.opts
    }

    /// The `prometheus_agent_*` metrics.
    pub fn metrics(&self) -> &AgentMetrics {
        &self.metrics
    }

    /// What replay found at open.
    pub fn replay_report(&self) -> &AgentReplay {
        &self.replay
    }

    /// Number of series in memory.
    pub fn num_series(&self) -> usize {
        self.index.read().map(|i| i.by_ref.len()).unwrap_or(0)
    }

    /// The reference of the series with these labels, if it is in memory.
    pub fn series_ref(&self, labels: &Labels) -> Option<SeriesRef> {
        let i = self.index.read().ok()?;
        i.by_labels.get(labels).map(|s| s.r)
    }

    /// Flushes and fsyncs the WAL (at shutdown).
    pub fn sync(&self) -> Result<(), AgentError> {
        Ok(lock(&self.wal).sync()?)
    }

    /// Garbage-collects the series not written since `mint` (ms), then checkpoints
    /// the older two thirds of the closed segments and deletes them, as
    /// Prometheus's agent does; the segment being written is never touched. A
    /// checkpoint keeps the series still in memory (and removed ones that later
    /// segments may still name) and the samples at or after `mint`.
    pub fn truncate(&self, mint: i64) -> Result<Truncation, AgentError> {
        let _serial = lock(&self.truncating);
        let start = Instant::now();
        let mut out = Truncation {
            removed_series: self.gc(mint),
            checkpoint: None,
        };
        let wal_dir = self.dir.join("wal");
        let (first, cur) = {
            let mut w = lock(&self.wal);
            let cur = w.current_segment();
            w.next_segment()?;
            let first = segments(&wal_dir)?.first().map_or(cur, |s| s.0);
            (first, cur)
        };
        // Never the segment that was being written; of the others, the older two
        // thirds, so that a queue slightly behind still finds its segment.
        let Some(last) = cur.checked_sub(1) else {
            return Ok(out);
        };
        let last = first + last.saturating_sub(first) * 2 / 3;
        if last <= first {
            return Ok(out);
        }
        self.metrics
            .checkpoint_creations
            .fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.checkpoint(&wal_dir, first, last, mint) {
            self.metrics
                .checkpoint_creations_failed
                .fetch_add(1, Ordering::Relaxed);
            if matches!(e, AgentError::Wal(ember_wal::Error::Corruption { .. })) {
                self.metrics.corruptions.fetch_add(1, Ordering::Relaxed);
            }
            return Err(e);
        }
        out.checkpoint = Some(last);
        lock(&self.wal).truncate(last + 1)?;
        {
            let mut d = lock(&self.deleted);
            d.retain(|_, seg| *seg > last);
            self.metrics
                .deleted_series
                .store(d.len() as i64, Ordering::Relaxed);
        }
        self.metrics
            .checkpoint_deletions
            .fetch_add(1, Ordering::Relaxed);
        if delete_checkpoints(&wal_dir, last).is_err() {
            self.metrics
                .checkpoint_deletions_failed
                .fetch_add(1, Ordering::Relaxed);
        }
        self.metrics.truncations.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .truncate_duration_us
            .fetch_add(start.elapsed().as_micros() as u64, Ordering::Relaxed);
        Ok(out)
    }

    /// Removes the series whose newest sample is before `mint` (those never
    /// committed too), remembering them as deleted at the current segment.
    fn gc(&self, mint: i64) -> usize {
        // The WAL lock keeps commits out, so that one that picked up a series
        // before it was removed sees the `gone` mark and logs it again.
        let w = lock(&self.wal);
        let seg = w.current_segment();
        let Ok(mut index) = self.index.write() else {
            return 0;
        };
        let old: Vec<Arc<Series>> = index
            .by_ref
            .values()
            .filter(|s| s.last_ts.load(Ordering::Relaxed) < mint)
            .cloned()
            .collect();
        let mut deleted = lock(&self.deleted);
        for s in &old {
            s.gone.store(true, Ordering::Relaxed);
            index.by_ref.remove(&s.r);
            index.by_labels.remove(&s.labels);
            deleted.insert(s.r, seg);
        }
        self.metrics
            .active_series
            .fetch_sub(old.len() as i64, Ordering::Relaxed);
        self.metrics
            .deleted_series
            .store(deleted.len() as i64, Ordering::Relaxed);
        old.len()
    }

    /// Writes `checkpoint.<last>` from the previous checkpoint and segments
    /// `first..=last`.
    fn checkpoint(
        &self,
        wal_dir: &Path,
        first: u32,
        last: u32,
        mint: i64,
    ) -> Result<(), AgentError> {
        let keep: Box<dyn Fn(u64) -> bool> = {
            let alive: std::collections::HashSet<u64> = self
                .index
                .read()
                .map(|i| i.by_ref.keys().copied().collect())
                .unwrap_or_default();
            let deleted = lock(&self.deleted).clone();
            Box::new(move |r| alive.contains(&r) || deleted.get(&r).is_some_and(|s| *s > last))
        };
        let mut segs = Vec::new();
        let mut from = first;
        if let Some((n, p)) = last_checkpoint(wal_dir)?
            && n < last
        {
            segs.extend(segments(&p)?);
            from = from.max(n + 1);
        }
        segs.extend(
            segments(wal_dir)?
                .into_iter()
                .filter(|(i, _)| *i >= from && *i <= last),
        );
        let tmp = wal_dir.join(format!("checkpoint.{last:08}.tmp"));
        let _ = std::fs::remove_dir_all(&tmp);
        let mut out = Wal::open(&tmp, self.opts.wal.clone())?;
        let mut metadata: HashMap<u64, RefMetadata> = HashMap::new();
        let mut reader = Reader::from_segments(segs);
        while let Some(rec) = reader.next() {
            let rec = rec?;
            let mut recs: Vec<Vec<u8>> = Vec::new();
            match record::decode(&rec) {
                Ok(Record::Series(s)) => {
                    let s: Vec<_> = s.into_iter().filter(|x| keep(x.r)).collect();
                    if !s.is_empty() {
                        let mut b = Vec::new();
                        record::encode_series(&s, &mut b);
                        recs.push(b);
                    }
                }
                Ok(Record::Samples(s)) => {
                    let s: Vec<_> = s.into_iter().filter(|x| x.t >= mint).collect();
                    if !s.is_empty() {
                        let mut b = Vec::new();
                        record::encode_samples(&s, &mut b);
                        recs.push(b);
                    }
                }
                Ok(Record::Histograms(h)) => {
                    let h: Vec<_> = h.into_iter().filter(|x| x.t >= mint).collect();
                    if !h.is_empty() {
                        recs = record::encode_histograms(&h);
                    }
                }
                Ok(Record::FloatHistograms(h)) => {
                    let h: Vec<_> = h.into_iter().filter(|x| x.t >= mint).collect();
                    if !h.is_empty() {
                        recs = record::encode_float_histograms(&h);
                    }
                }
                Ok(Record::Exemplars(e)) => {
                    let e: Vec<_> = e.into_iter().filter(|x| x.t >= mint).collect();
                    if !e.is_empty() {
                        let mut b = Vec::new();
                        record::encode_exemplars(&e, &mut b);
                        recs.push(b);
                    }
                }
                // Only the newest metadata of each kept series, written at the end.
                Ok(Record::Metadata(m)) => {
                    for x in m.into_iter().filter(|x| keep(x.r)) {
                        metadata.insert(x.r, x);
                    }
                }
                // The agent never deletes: tombstones and unknown records are
                // not carried over.
                Ok(_) | Err(_) => {}
            }
            let refs: Vec<&[u8]> = recs.iter().map(Vec::as_slice).collect();
            if !refs.is_empty() {
                out.log(&refs)?;
            }
        }
        if !metadata.is_empty() {
            let mut m: Vec<RefMetadata> = metadata.into_values().collect();
            m.sort_by_key(|x| x.r);
            let mut b = Vec::new();
            record::encode_metadata(&m, &mut b);
            out.log(&[&b])?;
        }
        out.close()?;
        let dest = wal_dir.join(format!("checkpoint.{last:08}"));
        let _ = std::fs::remove_dir_all(&dest);
        std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
        File::open(wal_dir)
            .and_then(|d| d.sync_all())
            .map_err(io(wal_dir))?;
        Ok(())
    }

    /// The series with these labels, created (and queued for logging) when new.
    fn get_or_create(
        &self,
        r: Option<SeriesRef>,
        labels: &Labels,
        created: &mut Vec<Arc<Series>>,
    ) -> Result<Arc<Series>, Error> {
        if let Some(r) = r
            && let Some(s) = self
                .index
                .read()
                .ok()
                .and_then(|i| i.by_ref.get(&r).cloned())
        {
            return Ok(s);
        }
        let labels = if labels.iter().any(|l| l.value.is_empty()) {
            Labels::from_sorted_unchecked(
                labels
                    .iter()
                    .filter(|l| !l.value.is_empty())
                    .cloned()
                    .collect(),
            )
        } else {
            labels.clone()
        };
        if labels.is_empty() {
            return Err(Error::InvalidSample("empty labelset".into()));
        }
        if let Some(n) = labels.duplicate_name() {
            return Err(Error::InvalidSample(format!(
                "label name \"{n}\" is not unique"
            )));
        }
        if let Some(s) = self
            .index
            .read()
            .ok()
            .and_then(|i| i.by_labels.get(&labels).cloned())
        {
            return Ok(s);
        }
        let mut index = self
            .index
            .write()
            .map_err(|_| Error::Io("agent series index poisoned".into()))?;
        if let Some(s) = index.by_labels.get(&labels) {
            return Ok(s.clone());
        }
        let r = self.next_ref.fetch_add(1, Ordering::Relaxed) + 1;
        let s = Series::new(r, labels, i64::MIN);
        index.insert(s.clone());
        self.metrics.active_series.fetch_add(1, Ordering::Relaxed);
        created.push(s.clone());
        Ok(s)
    }

    /// Whether `t` is too old for a series whose newest sample is at `last`: the
    /// agent refuses anything at or before `last - out_of_order_window`.
    fn out_of_order(&self, last: i64, t: i64) -> bool {
        let min_valid = if last < i64::MIN + self.opts.out_of_order_window {
            i64::MIN
        } else {
            last - self.opts.out_of_order_window
        };
        t <= min_valid
    }
}

impl Appendable for AgentDb {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(AgentAppender {
            db: self,
            created: Vec::new(),
            floats: Vec::new(),
            histograms: Vec::new(),
            float_histograms: Vec::new(),
            exemplars: Vec::new(),
        })
    }
}

/// One transaction; nothing reaches the WAL before commit, except the series
/// records of new series, which a rollback logs too (their references were
/// handed out).
struct AgentAppender<'a> {
    db: &'a AgentDb,
    created: Vec<Arc<Series>>,
    floats: Vec<(RefSample, Arc<Series>)>,
    histograms: Vec<(RefHistogram, Arc<Series>)>,
    float_histograms: Vec<(RefFloatHistogram, Arc<Series>)>,
    exemplars: Vec<RefExemplar>,
}

impl AgentAppender<'_> {
    fn checked(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        t: i64,
    ) -> Result<Arc<Series>, Error> {
        let s = self.db.get_or_create(r, labels, &mut self.created)?;
        if self.db.out_of_order(s.last_ts.load(Ordering::Relaxed), t) {
            self.db
                .metrics
                .out_of_order_samples
                .fetch_add(1, Ordering::Relaxed);
            return Err(Error::OutOfOrderSample);
        }
        Ok(s)
    }

    fn series_records(series: &[Arc<Series>]) -> Vec<u8> {
        let v: Vec<RefSeries> = series
            .iter()
            .map(|s| RefSeries {
                r: s.r,
                labels: s.labels.clone(),
            })
            .collect();
        let mut b = Vec::new();
        record::encode_series(&v, &mut b);
        b
    }
}

impl Appender for AgentAppender<'_> {
    fn append(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        t: i64,
        v: f64,
    ) -> Result<SeriesRef, Error> {
        let s = self.checked(r, labels, t)?;
        let r = s.r;
        self.floats.push((RefSample { r, t, v }, s));
        self.db
            .metrics
            .float_samples_appended
            .fetch_add(1, Ordering::Relaxed);
        Ok(r)
    }

    fn append_histogram(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        t: i64,
        h: HistogramRef<'_>,
    ) -> Result<SeriesRef, Error> {
        match h {
            HistogramRef::Int(h) => hist::validate(h),
            HistogramRef::Float(h) => hist::validate_float(h),
        }
        .map_err(Error::InvalidSample)?;
        let s = self.checked(r, labels, t)?;
        let r = s.r;
        match h {
            HistogramRef::Int(h) => self
                .histograms
                .push((RefHistogram { r, t, h: h.clone() }, s)),
            HistogramRef::Float(h) => self
                .float_histograms
                .push((RefFloatHistogram { r, t, h: h.clone() }, s)),
        }
        self.db
            .metrics
            .histogram_samples_appended
            .fetch_add(1, Ordering::Relaxed);
        Ok(r)
    }

    fn append_exemplar(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        e: &Exemplar,
    ) -> Result<SeriesRef, Error> {
        // Exemplars attach to a series a sample just created or used.
        let s = {
            let i = self
                .db
                .index
                .read()
                .map_err(|_| Error::Io("agent series index poisoned".into()))?;
            r.and_then(|r| i.by_ref.get(&r).cloned())
                .or_else(|| i.by_labels.get(labels).cloned())
        };
        let Some(s) = s else {
            return Err(Error::NotFound);
        };
        let chars: usize = e
            .labels
            .iter()
            .map(|l| l.name.chars().count() + l.value.chars().count())
            .sum();
        if chars > EXEMPLAR_MAX_LABEL_CHARS {
            return Err(Error::ExemplarLabelLength);
        }
        // Without its own timestamp, an exemplar takes its series' sample's.
        let t = e.ts.unwrap_or_else(|| {
            self.floats
                .iter()
                .rev()
                .find(|(x, _)| x.r == s.r)
                .map(|(x, _)| x.t)
                .unwrap_or_else(|| s.last_ts.load(Ordering::Relaxed))
        });
        {
            let mut last = lock(&s.last_exemplar);
            let this = (e.labels.clone(), e.value.to_bits(), t);
            // The same exemplar again is silently dropped, as in Prometheus.
            if last.as_ref() == Some(&this) {
                return Ok(s.r);
            }
            *last = Some(this);
        }
        self.exemplars.push(RefExemplar {
            r: s.r,
            t,
            v: e.value,
            labels: e.labels.clone(),
        });
        self.db
            .metrics
            .exemplars_appended
            .fetch_add(1, Ordering::Relaxed);
        Ok(s.r)
    }

    /// Prometheus's agent does not keep metadata (the remote-write queues take it
    /// from the scrape targets).
    fn update_metadata(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        _m: &Metadata,
    ) -> Result<SeriesRef, Error> {
        Ok(r.or_else(|| self.db.series_ref(labels)).unwrap_or(0))
    }

    fn commit(self: Box<Self>) -> Result<(), Error> {
        let this = *self;
        if this.created.is_empty()
            && this.floats.is_empty()
            && this.histograms.is_empty()
            && this.float_histograms.is_empty()
            && this.exemplars.is_empty()
        {
            return Ok(());
        }
        let db = this.db;
        let mut w = lock(&db.wal);
        // Series garbage-collected since this transaction picked them up are
        // brought back and logged again, so that every sample logged below names a
        // series the WAL defines.
        let mut revived: Vec<Arc<Series>> = Vec::new();
        let all = this
            .floats
            .iter()
            .map(|x| &x.1)
            .chain(this.histograms.iter().map(|x| &x.1))
            .chain(this.float_histograms.iter().map(|x| &x.1))
            .chain(this.created.iter());
        for s in all {
            if s.gone.swap(false, Ordering::Relaxed) {
                if let Ok(mut i) = db.index.write()
                    && !i.by_labels.contains_key(&s.labels)
                {
                    i.insert(s.clone());
                    db.metrics.active_series.fetch_add(1, Ordering::Relaxed);
                }
                revived.push(s.clone());
            }
        }
        let mut recs: Vec<Vec<u8>> = Vec::new();
        let mut series = this.created.clone();
        series.extend(
            revived
                .into_iter()
                .filter(|s| !this.created.iter().any(|c| c.r == s.r)),
        );
        if !series.is_empty() {
            recs.push(Self::series_records(&series));
        }
        if !this.floats.is_empty() {
            let v: Vec<RefSample> = this.floats.iter().map(|x| x.0).collect();
            let mut b = Vec::new();
            record::encode_samples(&v, &mut b);
            recs.push(b);
        }
        if !this.histograms.is_empty() {
            let v: Vec<RefHistogram> = this.histograms.iter().map(|x| x.0.clone()).collect();
            recs.extend(record::encode_histograms(&v));
        }
        if !this.float_histograms.is_empty() {
            let v: Vec<RefFloatHistogram> =
                this.float_histograms.iter().map(|x| x.0.clone()).collect();
            recs.extend(record::encode_float_histograms(&v));
        }
        if !this.exemplars.is_empty() {
            let mut b = Vec::new();
            record::encode_exemplars(&this.exemplars, &mut b);
            recs.push(b);
        }
        let refs: Vec<&[u8]> = recs.iter().map(Vec::as_slice).collect();
        w.log(&refs)
            .map_err(|e| Error::Io(format!("writing WAL: {e}")))?;
        drop(w);
        let ts = this
            .floats
            .iter()
            .map(|x| (x.0.t, &x.1))
            .chain(this.histograms.iter().map(|x| (x.0.t, &x.1)))
            .chain(this.float_histograms.iter().map(|x| (x.0.t, &x.1)));
        for (t, s) in ts {
            // Another transaction may have committed a newer sample meanwhile:
            // this one is in the WAL all the same, and counted as out of order.
            if s.last_ts.fetch_max(t, Ordering::Relaxed) > t {
                db.metrics
                    .out_of_order_samples
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    fn rollback(self: Box<Self>) -> Result<(), Error> {
        if self.created.is_empty() {
            return Ok(());
        }
        let b = Self::series_records(&self.created);
        lock(&self.db.wal)
            .log(&[&b])
            .map_err(|e| Error::Io(format!("writing WAL: {e}")))
    }
}

/// Rebuilds the series from the checkpoint and segments.
#[derive(Default)]
struct Loader {
    index: Index,
    deleted: HashMap<u64, u32>,
    /// A series record repeating labels already known under another reference:
    /// that reference's samples belong to the first one.
    dup: HashMap<u64, u64>,
    max_ref: u64,
    report: AgentReplay,
}

impl Loader {
    /// Replays `wal_dir`; returns the repair done on a damaged segment.
    fn replay(&mut self, wal_dir: &Path) -> Result<Option<(String, u32, u64)>, AgentError> {
        let mut from = 0;
        if let Some((n, p)) = last_checkpoint(wal_dir)? {
            let mut r = Reader::from_segments(segments(&p)?);
            while let Some(rec) = r.next() {
                self.apply(&rec?, n);
            }
            from = n + 1;
        }
        let mut r = Reader::open(wal_dir, from)?;
        while let Some(rec) = r.next() {
            match rec {
                Ok(rec) => {
                    let seg = r.segment().unwrap_or(from);
                    self.apply(&rec, seg);
                }
                Err(ember_wal::Error::Corruption {
                    segment,
                    offset,
                    reason,
                }) => {
                    let rep = repair(wal_dir, segment, offset)?;
                    return Ok(Some((reason, rep.segment, rep.truncated_to)));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    fn sample(&mut self, r: u64, t: i64, seg: u32) {
        let r = match self.dup.get(&r) {
            Some(valid) => {
                if let Some(s) = self.deleted.get_mut(&r) {
                    *s = (*s).max(seg);
                }
                *valid
            }
            None => r,
        };
        self.report.samples += 1;
        match self.index.by_ref.get(&r) {
            Some(s) => {
                s.last_ts.fetch_max(t, Ordering::Relaxed);
            }
            None => self.report.orphan_samples += 1,
        }
    }

    fn apply(&mut self, rec: &[u8], seg: u32) {
        match record::decode(rec) {
            Ok(Record::Series(v)) => {
                for s in v {
                    self.max_ref = self.max_ref.max(s.r);
                    match self.index.by_labels.get(&s.labels) {
                        Some(known) if known.r != s.r => {
                            self.dup.insert(s.r, known.r);
                            let e = self.deleted.entry(s.r).or_insert(seg);
                            *e = (*e).max(seg);
                        }
                        Some(_) => {}
                        None => self.index.insert(Series::new(s.r, s.labels, i64::MIN)),
                    }
                }
            }
            Ok(Record::Samples(v)) => v.iter().for_each(|x| self.sample(x.r, x.t, seg)),
            Ok(Record::Histograms(v)) => v.iter().for_each(|x| self.sample(x.r, x.t, seg)),
            Ok(Record::FloatHistograms(v)) => v.iter().for_each(|x| self.sample(x.r, x.t, seg)),
            // Exemplars, metadata, tombstones: nothing to rebuild.
            Ok(_) | Err(_) => {}
        }
    }
}

/// The newest `checkpoint.N` directory of `wal_dir`.
fn last_checkpoint(wal_dir: &Path) -> Result<Option<(u32, PathBuf)>, AgentError> {
    Ok(checkpoints(wal_dir)?.pop())
}

fn checkpoints(wal_dir: &Path) -> Result<Vec<(u32, PathBuf)>, AgentError> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(wal_dir).map_err(io(wal_dir))? {
        let e = e.map_err(io(wal_dir))?;
        let name = e.file_name();
        // `checkpoint.N.tmp` (a checkpoint cut short) does not parse and is skipped.
        if let Some(n) = name
            .to_str()
            .and_then(|s| s.strip_prefix("checkpoint."))
            .and_then(|n| n.parse::<u32>().ok())
        {
            v.push((n, e.path()));
        }
    }
    v.sort();
    Ok(v)
}

/// Deletes the checkpoints older than `checkpoint.<keep>`.
fn delete_checkpoints(wal_dir: &Path, keep: u32) -> Result<(), AgentError> {
    for (n, p) in checkpoints(wal_dir)? {
        if n < keep {
            std::fs::remove_dir_all(&p).map_err(io(&p))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_model::histogram::Histogram;

    fn labels(name: &str, v: &str) -> Labels {
        Labels::from_pairs([("__name__", name), ("i", v)])
    }

    fn open(dir: &Path) -> AgentDb {
        AgentDb::open(dir, AgentOptions::default()).expect("open")
    }

    fn append(db: &AgentDb, l: &Labels, t: i64) -> Result<SeriesRef, Error> {
        let mut app = db.appender();
        let r = app.append(None, l, t, t as f64);
        app.commit()?;
        r
    }

    /// Every record of the WAL directory, checkpoint first, as the remote-write
    /// watcher reads them.
    fn read_all(wal_dir: &Path) -> Vec<Record> {
        let mut segs = Vec::new();
        if let Some((_, p)) = last_checkpoint(wal_dir).unwrap() {
            segs.extend(segments(&p).unwrap());
        }
        segs.extend(segments(wal_dir).unwrap());
        let mut r = Reader::from_segments(segs);
        let mut out = Vec::new();
        while let Some(rec) = r.next() {
            out.push(record::decode(&rec.unwrap()).unwrap());
        }
        out
    }

    #[test]
    fn appends_are_logged_and_replay_keeps_references() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (labels("m", "a"), labels("m", "b"));
        let (ra, rb) = {
            let db = open(dir.path());
            let mut app = db.appender();
            let ra = app.append(None, &a, 1000, 1.0).unwrap();
            let rb = app.append(None, &b, 1000, 2.0).unwrap();
            // The reference skips the label lookup.
            assert_eq!(app.append(Some(ra), &a, 2000, 3.0).unwrap(), ra);
            let h = Histogram {
                count: 1,
                zero_count: 1,
                ..Default::default()
            };
            let hl = labels("h", "a");
            app.append_histogram(None, &hl, 1000, HistogramRef::Int(&h))
                .unwrap();
            app.commit().unwrap();
            assert_eq!(
                db.metrics().float_samples_appended.load(Ordering::Relaxed),
                3
            );
            assert_eq!(
                db.metrics()
                    .histogram_samples_appended
                    .load(Ordering::Relaxed),
                1
            );
            assert_eq!(db.metrics().active_series.load(Ordering::Relaxed), 3);
            (ra, rb)
        };
        let recs = read_all(&dir.path().join("wal"));
        assert!(matches!(&recs[0], Record::Series(s) if s.len() == 3));
        assert!(matches!(&recs[1], Record::Samples(s) if s.len() == 3));
        assert!(matches!(&recs[2], Record::Histograms(h) if h.len() == 1));

        let db = open(dir.path());
        assert_eq!(db.replay_report().series, 3);
        assert_eq!(db.replay_report().samples, 4);
        assert_eq!(db.series_ref(&a), Some(ra));
        assert_eq!(db.series_ref(&b), Some(rb));
        // The newest timestamp came back: 2000 is out of order now, and a new
        // series gets a reference after the replayed ones.
        assert_eq!(append(&db, &a, 2000), Err(Error::OutOfOrderSample));
        let rc = append(&db, &labels("m", "c"), 3000).unwrap();
        assert!(rc > ra.max(rb), "{rc}");
    }

    #[test]
    fn out_of_order_rule_of_the_agent() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let a = labels("m", "a");
        append(&db, &a, 1000).unwrap();
        // Not newer is refused, even at the same timestamp.
        assert_eq!(append(&db, &a, 1000), Err(Error::OutOfOrderSample));
        assert_eq!(append(&db, &a, 999), Err(Error::OutOfOrderSample));
        append(&db, &a, 1001).unwrap();
        assert_eq!(db.metrics().out_of_order_samples.load(Ordering::Relaxed), 2);
        drop(db);

        let opts = AgentOptions {
            out_of_order_window: 100,
            ..Default::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let db = AgentDb::open(dir.path(), opts).unwrap();
        append(&db, &a, 1000).unwrap();
        append(&db, &a, 950).unwrap();
        append(&db, &a, 1000).unwrap();
        assert_eq!(append(&db, &a, 900), Err(Error::OutOfOrderSample));
        // Empty label sets are refused.
        assert!(matches!(
            append(&db, &Labels::empty(), 2000),
            Err(Error::InvalidSample(_))
        ));
    }

    #[test]
    fn truncation_keeps_live_series_and_drops_old_segments() {
        let dir = tempfile::tempdir().unwrap();
        let wal_dir = dir.path().join("wal");
        let db = open(dir.path());
        let (live, old) = (labels("m", "live"), labels("m", "old"));
        let r_old = append(&db, &old, 1_000).unwrap();
        let mut r_live = 0;
        let mut written = Vec::new();
        for i in 0..10i64 {
            r_live = append(&db, &live, 10_000 + i * 1000).unwrap();
            let t = db.truncate(5_000).unwrap();
            if i == 0 {
                assert_eq!(t.removed_series, 1, "the old series is collected");
            }
            written.extend(t.checkpoint);
        }
        assert!(!written.is_empty(), "a checkpoint was written");
        assert_eq!(db.num_series(), 1);
        assert_eq!(db.series_ref(&old), None);
        let segs = segments(&wal_dir).unwrap();
        assert!(segs.len() <= 4, "segments left: {segs:?}");
        assert_eq!(checkpoints(&wal_dir).unwrap().len(), 1);
        assert!(db.metrics().checkpoint_creations.load(Ordering::Relaxed) >= 1);

        // Every sample still in the WAL names a series it defines; the old series
        // and its sample are gone.
        let recs = read_all(&wal_dir);
        let mut defined = std::collections::HashSet::new();
        for r in &recs {
            match r {
                Record::Series(s) => defined.extend(s.iter().map(|x| x.r)),
                Record::Samples(s) => {
                    for x in s {
                        assert!(defined.contains(&x.r), "sample of undefined {}", x.r);
                        assert!(x.t >= 5_000);
                    }
                }
                _ => {}
            }
        }
        assert!(defined.contains(&r_live) && !defined.contains(&r_old));
        drop(db);

        let db = open(dir.path());
        assert_eq!(db.series_ref(&live), Some(r_live));
        assert_eq!(db.series_ref(&old), None);
        assert_eq!(append(&db, &live, 19_000), Err(Error::OutOfOrderSample));
    }

    #[test]
    fn gc_forgets_idle_series_and_a_late_commit_logs_them_again() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let a = labels("m", "a");
        let ra = append(&db, &a, 1_000).unwrap();
        // A transaction picks the series up, then garbage collection removes it.
        let mut app = db.appender();
        app.append(Some(ra), &a, 2_000, 1.0).unwrap();
        assert_eq!(db.gc(1_500), 1);
        assert_eq!(db.num_series(), 0);
        assert_eq!(db.metrics().deleted_series.load(Ordering::Relaxed), 1);
        app.commit().unwrap();
        // Back, under its reference, and logged again after the collection.
        assert_eq!(db.series_ref(&a), Some(ra));
        let recs = read_all(&dir.path().join("wal"));
        let series_records = recs
            .iter()
            .filter(|r| matches!(r, Record::Series(s) if s[0].r == ra))
            .count();
        assert_eq!(series_records, 2);
        // Collected and written again later: a new reference.
        assert_eq!(db.gc(10_000), 1);
        let rb = append(&db, &a, 20_000).unwrap();
        assert_ne!(rb, ra);
    }

    #[test]
    fn lockfile_and_rollback() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        assert!(matches!(
            AgentDb::open(dir.path(), AgentOptions::default()),
            Err(AgentError::Locked(_))
        ));
        let a = labels("m", "a");
        let mut app = db.appender();
        let ra = app.append(None, &a, 1_000, 1.0).unwrap();
        app.rollback().unwrap();
        drop(db);
        // The rolled-back sample is not there, its series (reference handed out) is.
        let db = open(dir.path());
        assert_eq!(db.series_ref(&a), Some(ra));
        append(&db, &a, 1_000).unwrap();
        let other = AgentDb::open(
            dir.path(),
            AgentOptions {
                no_lockfile: true,
                ..Default::default()
            },
        );
        assert!(other.is_ok(), "no-lockfile ignores the lock");
    }

    #[test]
    fn options_and_truncation_point_as_prometheus() {
        let o = AgentOptions {
            truncate_frequency: Duration::from_secs(3 * 3600),
            min_wal_time: 0,
            max_wal_time: 3_600_000,
            ..Default::default()
        }
        .validated();
        assert_eq!(o.min_wal_time, DEFAULT_MIN_WAL_TIME);
        assert_eq!(o.max_wal_time, 3 * 3_600_000, "at least one period");
        let o = AgentOptions::default();
        let now = 100 * 3_600_000;
        // Nothing sent: keep max_wal_time.
        assert_eq!(o.truncation_point(0, now), now - DEFAULT_MAX_WAL_TIME);
        // Sent up to a minute ago: keep min_wal_time before it.
        let sent = now - 60_000;
        assert_eq!(o.truncation_point(sent, now), sent - DEFAULT_MIN_WAL_TIME);
    }
}
