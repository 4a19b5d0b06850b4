//! The head: the in-memory part of the TSDB that takes every append and holds the
//! most recent data (up to a few hours) before it is cut into blocks.
//!
//! Series are found by label hash (sharded maps, so appends to different series do
//! not contend) or by reference; each series keeps its samples in XOR chunks cut the
//! way Prometheus cuts them (about 120 samples, spread evenly over the chunk range),
//! so the chunks written out later are the ones Prometheus would have written.

use crate::head_chunks::HeadChunkFiles;
use crate::iter::{ChunkView, ChunksIterator};
use crate::postings::{MemPostings, Ref};
use ember_chunkenc::xor::XorChunk;
use ember_model::Labels;
use ember_model::value::{Exemplar, Metadata};
use ember_storage::{
    Appendable, Appender, BoxSeries, Error, HistogramRef, LabelHints, LabelQuerier, Querier,
    Queryable, SampleIterator, SelectHints, Series, SeriesRef, SeriesSet, Timestamp,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

const SHARDS: usize = 32;

/// Head settings.
#[derive(Clone, Debug)]
pub struct HeadOptions {
    /// Width of a block, and the range over which head chunks are spread (ms).
    pub chunk_range: i64,
    /// Samples per chunk Prometheus aims at.
    pub samples_per_chunk: u16,
}

impl Default for HeadOptions {
    fn default() -> Self {
        HeadOptions {
            chunk_range: 2 * 3600 * 1000,
            samples_per_chunk: 120,
        }
    }
}

/// A chunk of one series, with its time bounds.
#[derive(Clone, Debug)]
struct HeadChunk {
    min_t: i64,
    max_t: i64,
    store: ChunkStore,
}

/// Where a head chunk's bytes are: the open chunk in memory; full ones, once written
/// to `chunks_head/`, only as a reference.
#[derive(Clone, Debug)]
enum ChunkStore {
    Mem(XorChunk),
    Disk { r: u64, samples: u16 },
}

impl HeadChunk {
    fn num_samples(&self) -> u16 {
        match &self.store {
            ChunkStore::Mem(c) => c.num_samples(),
            ChunkStore::Disk { samples, .. } => *samples,
        }
    }

    /// The encoded bytes, read back from disk when the chunk was written out.
    fn bytes(&self, files: Option<&Mutex<HeadChunkFiles>>) -> Result<Vec<u8>, Error> {
        match &self.store {
            ChunkStore::Mem(c) => Ok(c.bytes().to_vec()),
            ChunkStore::Disk { r, .. } => {
                let f = files
                    .ok_or_else(|| Error::Io("head chunk on disk without chunk files".into()))?;
                let f = f.lock().unwrap_or_else(|p| p.into_inner());
                f.read(*r)
                    .map(|(_, b)| b)
                    .map_err(|e| Error::Io(format!("reading head chunk: {e}")))
            }
        }
    }
}

#[derive(Debug)]
struct SeriesData {
    chunks: Vec<HeadChunk>,
    /// Time at which the open chunk should be cut.
    next_at: i64,
    last_t: i64,
    last_v: u64,
    metadata: Option<Metadata>,
}

/// One series in the head.
#[derive(Debug)]
pub struct MemSeries {
    r: Ref,
    labels: Labels,
    data: Mutex<SeriesData>,
}

impl MemSeries {
    fn new(r: Ref, labels: Labels) -> Self {
        MemSeries {
            r,
            labels,
            data: Mutex::new(SeriesData {
                chunks: Vec::new(),
                next_at: i64::MIN,
                last_t: i64::MIN,
                last_v: 0,
                metadata: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SeriesData> {
        // A panic while holding the lock leaves consistent data (appends are
        // single assignments), so poisoning is ignored.
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// End of the chunk range that `t` falls in.
fn range_end(t: i64, width: i64) -> i64 {
    (t.div_euclid(width) + 1) * width
}

/// Prometheus's prediction of where to cut the open chunk so that the remaining
/// samples of the range spread evenly over chunks of about the target size.
fn compute_chunk_end(start: i64, cur: i64, max: i64, ratio_to_full: f64) -> i64 {
    let n = (max - start) as f64 / ((cur - start + 1) as f64 * ratio_to_full);
    if n <= 1.0 {
        return max;
    }
    (start as f64 + (max - start) as f64 / n.floor()) as i64
}

impl SeriesData {
    /// Appends a sample that passed the ordering checks. When this cuts a new chunk,
    /// the full one goes to `chunks_head/` (if there are chunk files); should the write
    /// fail (disk full), it simply stays in memory.
    fn append(
        &mut self,
        series: Ref,
        t: i64,
        v: f64,
        opts: &HeadOptions,
        files: Option<&Mutex<HeadChunkFiles>>,
    ) {
        let per_chunk = opts.samples_per_chunk;
        let need_new = match self.chunks.last() {
            None => true,
            Some(c) => {
                let n = c.num_samples();
                if n == per_chunk / 4 {
                    self.next_at = compute_chunk_end(c.min_t, c.max_t, self.next_at, 4.0);
                }
                let full = matches!(&c.store, ChunkStore::Mem(x) if x.is_full());
                t >= self.next_at || n >= per_chunk.saturating_mul(2) || full
            }
        };
        if need_new {
            if let (Some(files), Some(last)) = (files, self.chunks.last_mut())
                && let ChunkStore::Mem(c) = &last.store
            {
                let mut f = files.lock().unwrap_or_else(|p| p.into_inner());
                if let Ok(r) = f.write(
                    series,
                    last.min_t,
                    last.max_t,
                    ember_chunkenc::Encoding::Xor as u8,
                    c.bytes(),
                ) {
                    last.store = ChunkStore::Disk {
                        r,
                        samples: c.num_samples(),
                    };
                }
            }
            let end = range_end(t, opts.chunk_range);
            self.next_at = end;
            self.chunks.push(HeadChunk {
                min_t: t,
                max_t: t,
                store: ChunkStore::Mem(XorChunk::new()),
            });
        }
        if let Some(c) = self.chunks.last_mut()
            && let ChunkStore::Mem(x) = &mut c.store
        {
            x.append(t, v);
            c.max_t = t;
        }
        self.last_t = t;
        self.last_v = v.to_bits();
    }
}

/// The in-memory head.
#[derive(Debug)]
pub struct Head {
    opts: HeadOptions,
    by_hash: Vec<RwLock<FastMap<u64, Vec<Arc<MemSeries>>>>>,
    by_ref: Vec<RwLock<FastMap<Ref, Arc<MemSeries>>>>,
    postings: RwLock<MemPostings>,
    next_ref: AtomicU64,
    min_time: AtomicI64,
    max_time: AtomicI64,
    min_valid_time: AtomicI64,
    /// The log every commit goes through before it is applied; also serialises
    /// commits, so that replay order equals apply order.
    wal: Option<Mutex<ember_wal::segment::Wal>>,
    /// `chunks_head/`, when the head has a directory.
    chunk_files: Option<Mutex<HeadChunkFiles>>,
    stats: HeadStats,
}

/// Counters kept by the head (exported under Prometheus's `prometheus_tsdb_*` names).
#[derive(Debug, Default)]
pub struct HeadStats {
    /// Samples appended.
    pub samples_appended: AtomicU64,
    /// Samples rejected for being out of order (including at commit).
    pub out_of_order_samples: AtomicU64,
    /// WAL corruptions found (and repaired) at start-up.
    pub wal_corruptions: AtomicU64,
    /// Records skipped at replay because their series was unknown.
    pub wal_unknown_refs: AtomicU64,
}

impl Head {
    /// Counters.
    pub fn stats(&self) -> &HeadStats {
        &self.stats
    }

    /// Attaches `chunks_head/` files: full chunks are written there from now on.
    pub fn set_chunk_files(&mut self, files: HeadChunkFiles) {
        self.chunk_files = Some(Mutex::new(files));
    }

    /// Attaches a WAL: from now on every commit is logged before it is applied.
    pub fn set_wal(&mut self, wal: ember_wal::segment::Wal) {
        self.wal = Some(Mutex::new(wal));
    }

    /// Re-creates a series from a WAL series record.
    pub(crate) fn replay_series(&self, r: Ref, labels: &Labels) -> Result<(), Error> {
        self.get_or_create_with_ref(labels, Some(r)).map(|_| ())
    }

    /// Applies a replayed sample; samples that no longer fit (duplicates after a
    /// crash mid-commit) are skipped.
    pub(crate) fn replay_sample(&self, r: Ref, t: i64, v: f64) {
        let Some(s) = self.series_by_ref(r) else {
            self.stats.wal_unknown_refs.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let mut d = s.lock();
        if t > d.last_t {
            d.append(s.r, t, v, &self.opts, self.chunk_files.as_ref());
            drop(d);
            self.update_bounds(t, t);
        }
    }

    /// An empty head.
    pub fn new(opts: HeadOptions) -> Self {
        Head {
            wal: None,
            chunk_files: None,
            stats: HeadStats::default(),
            opts,
            by_hash: (0..SHARDS).map(|_| RwLock::default()).collect(),
            by_ref: (0..SHARDS).map(|_| RwLock::default()).collect(),
            postings: RwLock::default(),
            next_ref: AtomicU64::new(1),
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
            min_valid_time: AtomicI64::new(i64::MIN),
        }
    }

    /// Number of series.
    pub fn num_series(&self) -> usize {
        self.by_ref
            .iter()
            .map(|s| s.read().map(|m| m.len()).unwrap_or(0))
            .sum()
    }

    /// Oldest sample time, or `i64::MAX` when empty.
    pub fn min_time(&self) -> i64 {
        self.min_time.load(Ordering::Acquire)
    }

    /// Newest sample time, or `i64::MIN` when empty.
    pub fn max_time(&self) -> i64 {
        self.max_time.load(Ordering::Acquire)
    }

    fn series_by_ref(&self, r: Ref) -> Option<Arc<MemSeries>> {
        let shard = &self.by_ref[(r as usize) % SHARDS];
        shard.read().ok()?.get(&r).cloned()
    }

    /// The series with `labels`, created if new. Creation is immediate (as in
    /// Prometheus): a series appended to and rolled back stays until garbage
    /// collection.
    fn get_or_create(&self, labels: &Labels) -> Result<(Arc<MemSeries>, bool), Error> {
        self.get_or_create_with_ref(labels, None)
    }

    /// As [`Head::get_or_create`], with the reference WAL replay dictates.
    fn get_or_create_with_ref(
        &self,
        labels: &Labels,
        want: Option<Ref>,
    ) -> Result<(Arc<MemSeries>, bool), Error> {
        let hash = labels.hash64();
        let shard = &self.by_hash[(hash as usize) % SHARDS];
        if let Some(s) = shard
            .read()
            .map_err(|_| Error::Io("head lock poisoned".into()))?
            .get(&hash)
            .and_then(|v| v.iter().find(|s| &s.labels == labels))
        {
            return Ok((s.clone(), false));
        }
        let mut map = shard
            .write()
            .map_err(|_| Error::Io("head lock poisoned".into()))?;
        let list = map.entry(hash).or_default();
        if let Some(s) = list.iter().find(|s| &s.labels == labels) {
            return Ok((s.clone(), false));
        }
        if labels.is_empty() {
            return Err(Error::InvalidSample("empty labelset".into()));
        }
        if let Some(name) = labels.duplicate_name() {
            return Err(Error::InvalidSample(format!(
                "label name {name:?} is not unique"
            )));
        }
        let r = match want {
            Some(r) => {
                self.next_ref.fetch_max(r + 1, Ordering::Relaxed);
                r
            }
            None => self.next_ref.fetch_add(1, Ordering::Relaxed),
        };
        let s = Arc::new(MemSeries::new(r, labels.clone()));
        list.push(s.clone());
        drop(map);
        self.by_ref[(r as usize) % SHARDS]
            .write()
            .map_err(|_| Error::Io("head lock poisoned".into()))?
            .insert(r, s.clone());
        self.postings
            .write()
            .map_err(|_| Error::Io("head lock poisoned".into()))?
            .add(r, labels);
        Ok((s, true))
    }

    /// Lowest timestamp an appender accepts: samples far older than the head's newest
    /// would land in a range already being cut into a block.
    fn appendable_min_valid_time(&self) -> i64 {
        let mv = self.min_valid_time.load(Ordering::Acquire);
        let max = self.max_time();
        if max == i64::MIN {
            return mv;
        }
        mv.max(max.saturating_sub(self.opts.chunk_range / 2))
    }

    /// The chunks of every series that fall in `[mint, maxt)`, sorted by labels, for
    /// writing a block. Head chunks are cut at chunk-range boundaries, so a range
    /// aligned to the chunk range never splits one.
    pub fn block_series(
        &self,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Vec<crate::block::ChunkData>)>, Error> {
        let mut out = Vec::new();
        for shard in &self.by_ref {
            let Ok(map) = shard.read() else { continue };
            for s in map.values() {
                let d = s.lock();
                let mut chunks: Vec<crate::block::ChunkData> = Vec::new();
                for c in d
                    .chunks
                    .iter()
                    .filter(|c| c.min_t >= mint && c.max_t < maxt)
                {
                    chunks.push(crate::block::ChunkData {
                        min_t: c.min_t,
                        max_t: c.max_t,
                        encoding: ember_chunkenc::Encoding::Xor as u8,
                        bytes: c.bytes(self.chunk_files.as_ref())?,
                        samples: c.num_samples() as u64,
                    });
                }
                if !chunks.is_empty() {
                    out.push((s.labels.clone(), chunks));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Drops data before `mint` (now in a block): chunks that end before it, and
    /// series left with no data. Appends before `mint` are refused from now on.
    pub fn truncate(&self, mint: i64) {
        self.min_valid_time.fetch_max(mint, Ordering::AcqRel);
        let mut gone = Vec::new();
        let mut new_min = i64::MAX;
        for shard in &self.by_ref {
            let Ok(map) = shard.read() else { continue };
            for s in map.values() {
                let mut d = s.lock();
                d.chunks.retain(|c| c.max_t >= mint);
                match d.chunks.first() {
                    Some(c) => new_min = new_min.min(c.min_t),
                    None if d.last_t < mint => gone.push((s.r, s.labels.clone())),
                    None => {}
                }
            }
        }
        for (r, labels) in &gone {
            if let Ok(mut m) = self.by_ref[(*r as usize) % SHARDS].write() {
                m.remove(r);
            }
            let hash = labels.hash64();
            if let Ok(mut m) = self.by_hash[(hash as usize) % SHARDS].write()
                && let Some(list) = m.get_mut(&hash)
            {
                list.retain(|s| s.r != *r);
                if list.is_empty() {
                    m.remove(&hash);
                }
            }
        }
        if !gone.is_empty()
            && let Ok(mut p) = self.postings.write()
        {
            let labels: FastMap<Ref, Labels> = gone.iter().cloned().collect();
            let refs: Vec<Ref> = gone.iter().map(|g| g.0).collect();
            p.remove(&refs, |r| labels.get(&r).cloned());
        }
        self.min_time.store(
            if new_min == i64::MAX {
                mint
            } else {
                new_min.max(mint)
            },
            Ordering::Release,
        );
    }

    /// Every series with its reference, for WAL checkpoints.
    pub(crate) fn all_series(&self) -> Vec<(Ref, Labels)> {
        let mut v = Vec::new();
        for shard in &self.by_ref {
            if let Ok(map) = shard.read() {
                v.extend(map.values().map(|s| (s.r, s.labels.clone())));
            }
        }
        v.sort_by_key(|x| x.0);
        v
    }

    /// The WAL segment being written, if there is a WAL.
    pub(crate) fn with_wal<T>(
        &self,
        f: impl FnOnce(&mut ember_wal::segment::Wal) -> T,
    ) -> Option<T> {
        self.wal
            .as_ref()
            .map(|w| f(&mut w.lock().unwrap_or_else(|p| p.into_inner())))
    }

    fn update_bounds(&self, min: i64, max: i64) {
        self.min_time.fetch_min(min, Ordering::AcqRel);
        self.max_time.fetch_max(max, Ordering::AcqRel);
    }
}

/// A transaction against the head.
pub struct HeadAppender<'a> {
    head: &'a Head,
    min_valid: i64,
    samples: Vec<(Arc<MemSeries>, i64, f64)>,
    /// Latest pending (timestamp, value bits) per series, for in-batch ordering.
    pending_last: FastMap<Ref, (i64, u64)>,
    metadata: Vec<(Arc<MemSeries>, Metadata)>,
    /// Series this transaction created; their definitions go to the WAL with it.
    created: Vec<Arc<MemSeries>>,
}

impl HeadAppender<'_> {
    fn series(&mut self, r: Option<SeriesRef>, labels: &Labels) -> Result<Arc<MemSeries>, Error> {
        if let Some(s) = r.and_then(|r| self.head.series_by_ref(r)) {
            return Ok(s);
        }
        let (s, created) = self.head.get_or_create(labels)?;
        if created {
            self.created.push(s.clone());
        }
        Ok(s)
    }

    fn wal_records(&self) -> Vec<Vec<u8>> {
        use ember_wal::record;
        let mut recs = Vec::new();
        if !self.created.is_empty() {
            let series: Vec<record::RefSeries> = self
                .created
                .iter()
                .map(|s| record::RefSeries {
                    r: s.r,
                    labels: s.labels.clone(),
                })
                .collect();
            let mut b = Vec::new();
            record::encode_series(&series, &mut b);
            recs.push(b);
        }
        if !self.samples.is_empty() {
            let samples: Vec<record::RefSample> = self
                .samples
                .iter()
                .map(|(s, t, v)| record::RefSample {
                    r: s.r,
                    t: *t,
                    v: *v,
                })
                .collect();
            let mut b = Vec::new();
            record::encode_samples(&samples, &mut b);
            recs.push(b);
        }
        if !self.metadata.is_empty() {
            let md: Vec<record::RefMetadata> = self
                .metadata
                .iter()
                .map(|(s, m)| record::RefMetadata {
                    r: s.r,
                    metric_type: wal_metric_type(m.metric_type),
                    unit: m.unit.clone(),
                    help: m.help.clone(),
                })
                .collect();
            let mut b = Vec::new();
            record::encode_metadata(&md, &mut b);
            recs.push(b);
        }
        recs
    }
}

/// The WAL's numbering of metric types.
fn wal_metric_type(t: ember_model::value::MetricType) -> u8 {
    use ember_model::value::MetricType::*;
    match t {
        Unknown => 0,
        Counter => 1,
        Gauge => 2,
        Histogram => 3,
        GaugeHistogram => 4,
        Summary => 5,
        Info => 6,
        StateSet => 7,
    }
}

impl Appender for HeadAppender<'_> {
    fn append(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        t: Timestamp,
        v: f64,
    ) -> Result<SeriesRef, Error> {
        if t < self.min_valid {
            return Err(Error::OutOfBounds);
        }
        let s = self.series(r, labels)?;
        let last = match self.pending_last.get(&s.r) {
            Some(p) => *p,
            None => {
                let d = s.lock();
                (d.last_t, d.last_v)
            }
        };
        if t < last.0 {
            return Err(Error::OutOfOrderSample);
        }
        if t == last.0 {
            // Prometheus compares bit patterns, so a repeated stale marker is a no-op.
            return if last.1 == v.to_bits() {
                Ok(s.r)
            } else {
                Err(Error::DuplicateSampleForTimestamp)
            };
        }
        self.pending_last.insert(s.r, (t, v.to_bits()));
        let r = s.r;
        self.samples.push((s, t, v));
        Ok(r)
    }

    fn append_histogram(
        &mut self,
        _r: Option<SeriesRef>,
        _labels: &Labels,
        _t: Timestamp,
        _h: HistogramRef<'_>,
    ) -> Result<SeriesRef, Error> {
        // The head stores native histograms once the histogram chunk encodings land
        // in ember-chunkenc; until then it refuses them rather than dropping data.
        Err(Error::NativeHistogramsDisabled)
    }

    fn append_exemplar(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        _e: &Exemplar,
    ) -> Result<SeriesRef, Error> {
        // No exemplar storage yet (`storage.exemplars.max_exemplars` defaults to 0 in
        // Prometheus too, which answers this way).
        let _ = (r, labels);
        Err(Error::ExemplarsDisabled)
    }

    fn update_metadata(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        m: &Metadata,
    ) -> Result<SeriesRef, Error> {
        let s = self.series(r, labels)?;
        let r = s.r;
        self.metadata.push((s, m.clone()));
        Ok(r)
    }

    fn commit(self: Box<Self>) -> Result<(), Error> {
        let opts = &self.head.opts;
        // Log first: a sample is acknowledged only once it is in the WAL. The guard is
        // held while applying so that the WAL's order is the head's order.
        let _wal_guard = match &self.head.wal {
            Some(w)
                if !self.samples.is_empty()
                    || !self.created.is_empty()
                    || !self.metadata.is_empty() =>
            {
                let mut w = w.lock().unwrap_or_else(|p| p.into_inner());
                let recs = self.wal_records();
                let refs: Vec<&[u8]> = recs.iter().map(Vec::as_slice).collect();
                w.log(&refs)
                    .map_err(|e| Error::Io(format!("writing WAL: {e}")))?;
                Some(w)
            }
            _ => None,
        };
        let (mut min, mut max) = (i64::MAX, i64::MIN);
        let mut appended = 0u64;
        for (s, t, v) in &self.samples {
            let mut d = s.lock();
            // Another appender may have committed newer samples since the checks.
            if *t <= d.last_t {
                self.head
                    .stats
                    .out_of_order_samples
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
            appended += 1;
            d.append(s.r, *t, *v, opts, self.head.chunk_files.as_ref());
            min = min.min(*t);
            max = max.max(*t);
        }
        for (s, m) in self.metadata {
            s.lock().metadata = Some(m);
        }
        if min <= max {
            self.head.update_bounds(min, max);
        }
        self.head
            .stats
            .samples_appended
            .fetch_add(appended, Ordering::Relaxed);
        Ok(())
    }

    fn rollback(self: Box<Self>) -> Result<(), Error> {
        Ok(())
    }
}

impl Appendable for Head {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(HeadAppender {
            head: self,
            min_valid: self.appendable_min_valid_time(),
            samples: Vec::new(),
            pending_last: FastMap::default(),
            metadata: Vec::new(),
            created: Vec::new(),
        })
    }
}

/// A copy of one chunk taken for a query, so readers never hold series locks while
/// iterating.
#[derive(Clone, Debug)]
struct ChunkSnapshot {
    max_t: i64,
    bytes: Vec<u8>,
}

/// A series as seen by a query.
#[derive(Debug)]
struct HeadSeries {
    labels: Labels,
    chunks: Vec<ChunkSnapshot>,
    mint: i64,
    maxt: i64,
}

impl Series for HeadSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }
    fn iter(&self) -> Box<dyn SampleIterator + '_> {
        let chunks = self
            .chunks
            .iter()
            .map(|c| ChunkView {
                max_t: c.max_t,
                encoding: ember_chunkenc::Encoding::Xor as u8,
                bytes: &c.bytes,
            })
            .collect();
        Box::new(ChunksIterator::new(chunks, self.mint, self.maxt))
    }
}

/// Reads the head over a time range.
pub struct HeadQuerier<'a> {
    head: &'a Head,
    mint: i64,
    maxt: i64,
}

impl HeadQuerier<'_> {
    fn refs(&self, matchers: &[ember_model::Matcher]) -> Result<Vec<Ref>, Error> {
        Ok(self
            .head
            .postings
            .read()
            .map_err(|_| Error::Io("head lock poisoned".into()))?
            .for_matchers(matchers))
    }

    /// The series' chunks in range, or `None` when it has none; a chunk that cannot
    /// be read back is an error for the query, never a silently shortened series.
    fn snapshot(&self, s: &MemSeries) -> Option<Result<HeadSeries, Error>> {
        let d = s.lock();
        let mut chunks: Vec<ChunkSnapshot> = Vec::new();
        for c in d
            .chunks
            .iter()
            .filter(|c| c.max_t >= self.mint && c.min_t <= self.maxt)
        {
            match c.bytes(self.head.chunk_files.as_ref()) {
                Ok(bytes) => chunks.push(ChunkSnapshot {
                    max_t: c.max_t,
                    bytes,
                }),
                Err(e) => return Some(Err(e)),
            }
        }
        (!chunks.is_empty()).then(|| {
            Ok(HeadSeries {
                labels: s.labels.clone(),
                chunks,
                mint: self.mint,
                maxt: self.maxt,
            })
        })
    }
}

impl LabelQuerier for HeadQuerier<'_> {
    fn label_values(
        &self,
        name: &str,
        hints: &LabelHints,
        matchers: &[ember_model::Matcher],
    ) -> Result<Vec<String>, Error> {
        let mut out: Vec<String> = if matchers.is_empty() {
            let p = self
                .head
                .postings
                .read()
                .map_err(|_| Error::Io("head lock poisoned".into()))?;
            p.values(name).map(str::to_string).collect()
        } else {
            let mut set = std::collections::BTreeSet::new();
            for r in self.refs(matchers)? {
                if let Some(v) = self
                    .head
                    .series_by_ref(r)
                    .and_then(|s| s.labels.get(name).map(str::to_string))
                {
                    set.insert(v);
                }
            }
            set.into_iter().collect()
        };
        if hints.limit > 0 {
            out.truncate(hints.limit);
        }
        Ok(out)
    }

    fn label_names(
        &self,
        hints: &LabelHints,
        matchers: &[ember_model::Matcher],
    ) -> Result<Vec<String>, Error> {
        let mut out: Vec<String> = if matchers.is_empty() {
            let p = self
                .head
                .postings
                .read()
                .map_err(|_| Error::Io("head lock poisoned".into()))?;
            p.names().map(str::to_string).collect()
        } else {
            let mut set = std::collections::BTreeSet::new();
            for r in self.refs(matchers)? {
                if let Some(s) = self.head.series_by_ref(r) {
                    set.extend(s.labels.iter().map(|l| l.name.clone()));
                }
            }
            set.into_iter().collect()
        };
        if hints.limit > 0 {
            out.truncate(hints.limit);
        }
        Ok(out)
    }
}

impl Querier for HeadQuerier<'_> {
    fn select(
        &self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[ember_model::Matcher],
    ) -> SeriesSet<'_> {
        self.head
            .select_range(self.mint, self.maxt, sorted, hints, matchers)
    }
}

impl Head {
    /// The series matching `matchers` with data in `[mint, maxt]`, copied out of the
    /// head so that no lock is held while they are read.
    pub fn select_range<'a>(
        &self,
        mint: i64,
        maxt: i64,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[ember_model::Matcher],
    ) -> SeriesSet<'a> {
        let q = HeadQuerier {
            head: self,
            mint,
            maxt,
        };
        let refs = match q.refs(matchers) {
            Ok(r) => r,
            Err(e) => return SeriesSet::error(e),
        };
        let mut out: Vec<HeadSeries> = Vec::new();
        for s in refs.into_iter().filter_map(|r| self.series_by_ref(r)) {
            match q.snapshot(&s) {
                Some(Ok(x)) => out.push(x),
                Some(Err(e)) => return SeriesSet::error(e),
                None => {}
            }
        }
        if sorted {
            out.sort_by(|a, b| a.labels.cmp(&b.labels));
        }
        if let Some(l) = hints.map(|h| h.limit).filter(|l| *l > 0) {
            out.truncate(l);
        }
        SeriesSet::new(out.into_iter().map(|s| Ok(Box::new(s) as BoxSeries<'a>)))
    }
}

impl Queryable for Head {
    fn querier(&self, mint: Timestamp, maxt: Timestamp) -> Result<Box<dyn Querier + '_>, Error> {
        Ok(Box::new(HeadQuerier {
            head: self,
            mint,
            maxt,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_model::{MatchType, Matcher};
    use ember_storage::ValueType;

    fn lbl(job: &str) -> Labels {
        Labels::from_pairs([("__name__", "up"), ("job", job)])
    }

    fn read_all(q: &dyn Querier, m: &[Matcher]) -> Vec<(Labels, Vec<(i64, f64)>)> {
        q.select(true, None, m)
            .map(|s| {
                let s = s.unwrap();
                let mut it = s.iter();
                let mut v = Vec::new();
                while it.next() == ValueType::Float {
                    v.push(it.at());
                }
                (s.labels().clone(), v)
            })
            .collect()
    }

    #[test]
    fn append_and_query() {
        let h = Head::new(HeadOptions::default());
        let mut app = h.appender();
        let r = app.append(None, &lbl("a"), 1000, 1.0).unwrap();
        assert_eq!(app.append(Some(r), &lbl("a"), 2000, 2.0).unwrap(), r);
        app.append(None, &lbl("b"), 1500, 5.0).unwrap();
        assert_eq!(
            app.append(None, &lbl("a"), 1500, 9.0),
            Err(Error::OutOfOrderSample)
        );
        assert_eq!(
            app.append(None, &lbl("a"), 2000, 9.0),
            Err(Error::DuplicateSampleForTimestamp)
        );
        assert!(app.append(None, &lbl("a"), 2000, 2.0).is_ok());
        assert!(app.append(None, &Labels::empty(), 1, 1.0).is_err());
        app.commit().unwrap();

        let mut app = h.appender();
        app.append(None, &lbl("a"), 3000, 3.0).unwrap();
        app.rollback().unwrap();

        assert_eq!((h.min_time(), h.max_time()), (1000, 2000));
        let q = h.querier(0, 10_000).unwrap();
        let all = read_all(
            q.as_ref(),
            &[Matcher::new(MatchType::Equal, "__name__", "up").unwrap()],
        );
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].1, vec![(1000, 1.0), (2000, 2.0)]);
        assert_eq!(all[1].1, vec![(1500, 5.0)]);
        let q = h.querier(1600, 10_000).unwrap();
        let a = read_all(
            q.as_ref(),
            &[Matcher::new(MatchType::Equal, "job", "a").unwrap()],
        );
        assert_eq!(a[0].1, vec![(2000, 2.0)]);
        assert_eq!(
            q.label_values("job", &LabelHints::default(), &[]).unwrap(),
            ["a", "b"]
        );
    }

    #[test]
    fn out_of_bounds_behind_the_head() {
        let h = Head::new(HeadOptions::default());
        let mut app = h.appender();
        app.append(None, &lbl("a"), 10 * 3600 * 1000, 1.0).unwrap();
        app.commit().unwrap();
        let mut app = h.appender();
        assert_eq!(
            app.append(None, &lbl("b"), 8 * 3600 * 1000, 1.0),
            Err(Error::OutOfBounds)
        );
    }

    #[test]
    fn chunks_cut_like_prometheus() {
        let h = Head::new(HeadOptions::default());
        // 15s scrapes over one 2h range: 480 samples spread over 4 chunks of 120.
        for i in 0..480 {
            let mut app = h.appender();
            app.append(None, &lbl("a"), i * 15_000, i as f64).unwrap();
            app.commit().unwrap();
        }
        let s = h.series_by_ref(1).unwrap();
        let sizes: Vec<u16> = s.lock().chunks.iter().map(|c| c.num_samples()).collect();
        assert_eq!(sizes, vec![120, 120, 120, 120]);
        let q = h.querier(0, i64::MAX).unwrap();
        let all = read_all(
            q.as_ref(),
            &[Matcher::new(MatchType::Equal, "job", "a").unwrap()],
        );
        assert_eq!(all[0].1.len(), 480);
        // Seeking across chunk boundaries.
        let set: Vec<_> = q
            .select(
                false,
                None,
                &[Matcher::new(MatchType::Equal, "job", "a").unwrap()],
            )
            .collect();
        let s = set[0].as_ref().unwrap();
        let mut it = s.iter();
        assert_eq!(it.seek(200 * 15_000 + 1), ValueType::Float);
        assert_eq!(it.at(), (201 * 15_000, 201.0));
        assert_eq!(it.seek(0), ValueType::Float);
        assert_eq!(it.at_t(), 201 * 15_000);
        assert_eq!(it.seek(479 * 15_000), ValueType::Float);
        assert_eq!(it.next(), ValueType::None);
    }

    #[test]
    fn concurrent_appends() {
        let h = Arc::new(Head::new(HeadOptions::default()));
        let threads: Vec<_> = (0..4)
            .map(|w| {
                let h = h.clone();
                std::thread::spawn(move || {
                    for i in 0..200 {
                        let mut app = h.appender();
                        for s in 0..50 {
                            let l = Labels::from_pairs([
                                ("__name__", format!("m{s}")),
                                ("w", w.to_string()),
                            ]);
                            app.append(None, &l, i * 1000, i as f64).unwrap();
                        }
                        app.commit().unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(h.num_series(), 200);
        let q = h.querier(0, i64::MAX).unwrap();
        let all = read_all(
            q.as_ref(),
            &[Matcher::new(MatchType::Equal, "w", "2").unwrap()],
        );
        assert_eq!(all.len(), 50);
        assert!(all.iter().all(|(_, v)| v.len() == 200));
    }
}
