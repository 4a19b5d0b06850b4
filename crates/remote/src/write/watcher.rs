//! The WAL watcher: follows the TSDB's write-ahead log and hands what it reads to a
//! queue, as Prometheus's `tsdb/wlog` watcher does.
//!
//! On start it reads the series of the newest checkpoint and of every segment (so
//! that any sample's reference resolves to labels), then tails the newest segment
//! and follows the segments the TSDB starts after it. Samples, histograms and
//! exemplars are only taken from the tailed segments and only when newer than the
//! watcher's start: what was written before the start was either sent by the
//! previous run or is too old to matter, which is Prometheus's behaviour too.
//!
//! The TSDB checkpoints and deletes segments at compaction. Every few seconds the
//! watcher looks for a newer checkpoint; once it has read past it, the series the
//! checkpoint no longer holds are forgotten. Should a segment it needs be gone
//! (the queue fell so far behind that truncation overtook it), the watcher starts
//! over from the newest checkpoint after a pause, with a new start time.
//!
//! The TSDB gives no notification after a commit, so the live segment is polled
//! every 100 ms; a poll that finds nothing costs one `read(2)`.

use super::live::{LiveError, LiveReader};
use ember_wal::record::{
    self, Record, RefExemplar, RefFloatHistogram, RefHistogram, RefMetadata, RefSample, RefSeries,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// How often the live segment is read.
const POLL: Duration = Duration::from_millis(100);
/// How often a new checkpoint is looked for (Prometheus: 5s).
const CHECKPOINT_PERIOD: Duration = Duration::from_secs(5);
/// Pause before starting over after an error (Prometheus: 5s).
const RETRY_PAUSE: Duration = Duration::from_secs(5);

/// Where the watcher's records go: the queue manager. Append calls block while
/// the queue is full, which keeps the data in the WAL rather than in memory; they
/// return false once the queue is stopping.
pub(crate) trait Consumer: Send + Sync {
    /// Series read from segment (or checkpoint) `segment`.
    fn store_series(&self, series: Vec<RefSeries>, segment: u32);
    /// Series still alive at checkpoint `segment`.
    fn update_series_segment(&self, series: &[RefSeries], segment: u32);
    /// Forgets series last seen before `segment`.
    fn series_reset(&self, segment: u32);
    /// Metadata records.
    fn store_metadata(&self, metadata: Vec<RefMetadata>);
    /// Float samples to send.
    fn append_samples(&self, samples: Vec<RefSample>) -> bool;
    /// Integer histograms to send.
    fn append_histograms(&self, h: Vec<RefHistogram>) -> bool;
    /// Float histograms to send.
    fn append_float_histograms(&self, h: Vec<RefFloatHistogram>) -> bool;
    /// Exemplars to send.
    fn append_exemplars(&self, e: Vec<RefExemplar>) -> bool;
}

/// What to read besides series and float samples.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Options {
    pub(crate) exemplars: bool,
    pub(crate) histograms: bool,
    pub(crate) metadata: bool,
}

#[derive(Debug, thiserror::Error)]
enum WatchError {
    #[error("reading the WAL directory: {0}")]
    Wal(#[from] ember_wal::Error),
    #[error("segment {segment}: {source}")]
    Segment { segment: u32, source: LiveError },
    #[error("no WAL segment at or after {0}")]
    NoSegment(u32),
}

/// Watcher state visible to metrics.
#[derive(Debug, Default)]
pub(crate) struct WatcherStats {
    /// Segment being read (`prometheus_wal_watcher_current_segment`).
    pub(crate) current_segment: AtomicI64,
}

pub(crate) struct Watcher {
    wal_dir: PathBuf,
    consumer: Arc<dyn Consumer>,
    stop: Arc<AtomicBool>,
    opts: Options,
    stats: Arc<WatcherStats>,
    /// Samples at or before this (ms) are not sent.
    start_ts: i64,
    last_checkpoint: Option<u32>,
    name: String,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The newest `checkpoint.N` directory of `wal_dir`.
pub(crate) fn last_checkpoint(wal_dir: &Path) -> Option<(u32, PathBuf)> {
    let rd = std::fs::read_dir(wal_dir).ok()?;
    rd.flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let n = name
                .to_str()?
                .strip_prefix("checkpoint.")?
                .parse::<u32>()
                .ok()?;
            e.path().is_dir().then(|| (n, e.path()))
        })
        .max_by_key(|(n, _)| *n)
}

impl Watcher {
    pub(crate) fn new(
        wal_dir: PathBuf,
        consumer: Arc<dyn Consumer>,
        stop: Arc<AtomicBool>,
        opts: Options,
        stats: Arc<WatcherStats>,
        name: String,
    ) -> Watcher {
        Watcher {
            wal_dir,
            consumer,
            stop,
            opts,
            stats,
            start_ts: now_ms(),
            last_checkpoint: None,
            name,
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Sleeps `d` unless asked to stop first; false when stopping.
    fn pause(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        while Instant::now() < until {
            if self.stopped() {
                return false;
            }
            std::thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
        }
        !self.stopped()
    }

    /// Runs until stopped, starting over after errors.
    pub(crate) fn run_forever(mut self) {
        tracing::info!(queue = %self.name, "starting WAL watcher");
        while !self.stopped() {
            self.start_ts = now_ms();
            if let Err(e) = self.run() {
                tracing::error!(queue = %self.name, err = %e, "error tailing WAL");
            }
            if !self.pause(RETRY_PAUSE) {
                break;
            }
        }
        tracing::info!(queue = %self.name, "WAL watcher stopped");
    }

    fn run(&mut self) -> Result<(), WatchError> {
        let segs = ember_wal::segment::segments(&self.wal_dir)?;
        let last_segment = segs.last().map(|s| s.0);
        let cp = last_checkpoint(&self.wal_dir);
        if let Some((idx, dir)) = &cp {
            self.read_checkpoint(dir, *idx, false);
        }
        self.last_checkpoint = cp.as_ref().map(|c| c.0);
        let from = cp.as_ref().map_or(0, |c| c.0);
        let mut current = ember_wal::segment::segments(&self.wal_dir)?
            .into_iter()
            .map(|s| s.0)
            .find(|i| *i >= from)
            .ok_or(WatchError::NoSegment(from))?;
        while !self.stopped() {
            self.stats
                .current_segment
                .store(i64::from(current), Ordering::Relaxed);
            let tail = last_segment.is_none_or(|l| current >= l);
            self.watch(current, tail)?;
            current += 1;
        }
        Ok(())
    }

    /// Reads a checkpoint's series (all its segments, which are complete).
    fn read_checkpoint(&mut self, dir: &Path, idx: u32, gc: bool) {
        let Ok(segs) = ember_wal::segment::segments(dir) else {
            return;
        };
        let mut r = ember_wal::reader::Reader::from_segments(segs);
        while let Some(rec) = r.next() {
            match rec {
                Ok(rec) => match record::decode(&rec) {
                    Ok(Record::Series(s)) if gc => self.consumer.update_series_segment(&s, idx),
                    Ok(Record::Series(s)) => self.consumer.store_series(s, idx),
                    Ok(Record::Metadata(m)) if !gc && self.opts.metadata => {
                        self.consumer.store_metadata(m)
                    }
                    _ => {}
                },
                Err(e) => {
                    tracing::warn!(queue = %self.name, err = %e, "reading checkpoint");
                    return;
                }
            }
        }
    }

    /// Reads segment `segment`: to its end when it is an old one (series only),
    /// or following it while it grows when it is the live one, until the TSDB
    /// starts a newer segment.
    fn watch(&mut self, segment: u32, tail: bool) -> Result<(), WatchError> {
        let path = ember_wal::segment::segment_name(&self.wal_dir, segment);
        let err = |source| WatchError::Segment { segment, source };
        let mut r = LiveReader::open(&path).map_err(err)?;
        if !tail {
            loop {
                match r.read_some() {
                    Ok((recs, more)) => {
                        self.process(recs, segment, false);
                        if !more {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(queue = %self.name, segment, err = %e, "ignoring error reading to end of segment, may have dropped data");
                        break;
                    }
                }
            }
            return Ok(());
        }
        let mut last_gc = Instant::now();
        loop {
            if self.stopped() {
                return Ok(());
            }
            let recs = r.read_available().map_err(err)?;
            if !self.process(recs, segment, true) {
                return Ok(());
            }
            if last_gc.elapsed() >= CHECKPOINT_PERIOD {
                last_gc = Instant::now();
                self.garbage_collect(segment);
            }
            let last = ember_wal::segment::segments(&self.wal_dir)?
                .last()
                .map(|s| s.0);
            if last.is_some_and(|l| l > segment) {
                // The TSDB closed this segment before starting the next: what is
                // left to read is complete.
                let recs = r.read_available().map_err(err)?;
                self.process(recs, segment, true);
                if r.has_partial() {
                    tracing::warn!(queue = %self.name, segment, offset = r.offset(), "segment ends in an incomplete record");
                }
                return Ok(());
            }
            std::thread::sleep(POLL);
        }
    }

    /// Forgets the series a new checkpoint dropped, once the watcher is past it.
    fn garbage_collect(&mut self, segment: u32) {
        let Some((idx, dir)) = last_checkpoint(&self.wal_dir) else {
            return;
        };
        if self.last_checkpoint == Some(idx) {
            return;
        }
        self.last_checkpoint = Some(idx);
        if idx >= segment {
            return;
        }
        self.read_checkpoint(&dir, idx, true);
        self.consumer.series_reset(idx);
    }

    /// Hands decoded records to the consumer; false when it is stopping.
    fn process(&mut self, recs: Vec<Vec<u8>>, segment: u32, tail: bool) -> bool {
        let start = self.start_ts;
        for rec in recs {
            let rec = match record::decode(&rec) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(queue = %self.name, segment, err = %e, "undecodable WAL record skipped");
                    continue;
                }
            };
            let ok = match rec {
                Record::Series(s) => {
                    self.consumer.store_series(s, segment);
                    true
                }
                Record::Metadata(m) if self.opts.metadata => {
                    self.consumer.store_metadata(m);
                    true
                }
                Record::Samples(mut s) if tail => {
                    s.retain(|x| x.t > start);
                    s.is_empty() || self.consumer.append_samples(s)
                }
                Record::Histograms(mut h) if tail && self.opts.histograms => {
                    h.retain(|x| x.t > start);
                    h.is_empty() || self.consumer.append_histograms(h)
                }
                Record::FloatHistograms(mut h) if tail && self.opts.histograms => {
                    h.retain(|x| x.t > start);
                    h.is_empty() || self.consumer.append_float_histograms(h)
                }
                Record::Exemplars(e) if tail && self.opts.exemplars => {
                    e.is_empty() || self.consumer.append_exemplars(e)
                }
                _ => true,
            };
            if !ok {
                return false;
            }
        }
        true
    }
}
