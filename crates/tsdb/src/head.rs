//! The head: the in-memory part of the TSDB that takes every append and holds the
//! most recent data (up to a few hours) before it is cut into blocks.
//!
//! Series are found by label hash (sharded maps, so appends to different series do
//! not contend) or by reference. Each series keeps its samples in chunks cut the way
//! Prometheus's `memSeries` cuts them, so that the chunks written out later are the
//! ones Prometheus would have written: XOR chunks of about 120 samples spread evenly
//! over the chunk range, histogram and float-histogram chunks of about a kilobyte
//! (with the same end-time prediction), and a new chunk of the right encoding
//! whenever a series switches between floats, integer histograms and float
//! histograms.
//!
//! An appender keeps its samples in batches in which every series has one kind of
//! sample, as Prometheus's head appender does: the WAL logs float, histogram and
//! float-histogram records per batch, so that replaying them applies each series'
//! samples in the order they were appended even when the kind changes mid-commit.

use crate::head_chunks::{HeadChunkFiles, Loaded};
use crate::hist;
use crate::iter::{ChunkView, ChunksIterator};
use crate::postings::{MemPostings, Ref};
use ember_chunkenc::float_histogram::FloatHistogramChunk;
use ember_chunkenc::histogram::HistogramChunk;
use ember_chunkenc::xor::XorChunk;
use ember_chunkenc::{
    Appended, Encoding, MIN_SAMPLES_PER_HISTOGRAM_CHUNK, TARGET_BYTES_PER_HISTOGRAM_CHUNK,
};
use ember_model::Labels;
use ember_model::histogram::{FloatHistogram, Histogram};
use ember_model::value::{Exemplar, Metadata, is_stale_nan};
use ember_storage::{
    Appendable, Appender, BoxSeries, Error, HistogramRef, LabelHints, LabelQuerier, Querier,
    Queryable, SampleIterator, SelectHints, Series, SeriesRef, SeriesSet, Timestamp,
};
use ember_wal::record::{RefFloatHistogram, RefHistogram, RefSample};
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
    /// `storage.tsdb.out_of_order_time_window` (ms); 0 refuses out-of-order
    /// samples. Changeable at run time with [`Head::set_out_of_order_window`].
    pub out_of_order_window: i64,
    /// Prometheus's `--enable-feature=exemplar-storage`: without it no exemplar is
    /// kept whatever the configuration says.
    pub enable_exemplar_storage: bool,
    /// Size of the exemplar buffer (`storage.exemplars.max_exemplars`); 0 keeps no
    /// exemplars. Changeable with [`Head::apply_exemplar_config`].
    pub max_exemplars: i64,
}

impl Default for HeadOptions {
    fn default() -> Self {
        HeadOptions {
            chunk_range: 2 * 3600 * 1000,
            samples_per_chunk: 120,
            out_of_order_window: 0,
            enable_exemplar_storage: false,
            max_exemplars: 0,
        }
    }
}

/// A sample value of any kind, as applied to a series.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    Float(f64),
    Histogram(Box<Histogram>),
    FloatHistogram(Box<FloatHistogram>),
}

/// A borrowed [`Value`], for comparisons without copying histograms.
#[derive(Clone, Copy, Debug)]
enum ValueRef<'a> {
    Float(f64),
    Histogram(&'a Histogram),
    FloatHistogram(&'a FloatHistogram),
}

impl Value {
    fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Float(v) => ValueRef::Float(*v),
            Value::Histogram(h) => ValueRef::Histogram(h),
            Value::FloatHistogram(h) => ValueRef::FloatHistogram(h),
        }
    }
}

impl ValueRef<'_> {
    /// Whether a sample at the latest timestamp repeats the latest sample exactly,
    /// which Prometheus accepts as a no-op (federation and retried remote writes
    /// send such repeats); a value of another kind never does.
    fn repeats(self, last: ValueRef<'_>) -> bool {
        match (self, last) {
            (ValueRef::Float(a), ValueRef::Float(b)) => a.to_bits() == b.to_bits(),
            (ValueRef::Histogram(a), ValueRef::Histogram(b)) => hist::equals(a, b),
            (ValueRef::FloatHistogram(a), ValueRef::FloatHistogram(b)) => hist::equals_float(a, b),
            _ => false,
        }
    }

    fn kind(self) -> Kind {
        match self {
            ValueRef::Float(_) => Kind::Float,
            ValueRef::Histogram(_) => Kind::Histogram,
            ValueRef::FloatHistogram(_) => Kind::FloatHistogram,
        }
    }
}

/// The kind of a series' latest sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Float,
    Histogram,
    FloatHistogram,
}

/// What Prometheus stores as a staleness marker in a histogram series: a histogram
/// with the stale-NaN sum and nothing else.
fn stale_histogram(sum: f64) -> Histogram {
    Histogram {
        sum,
        ..Histogram::default()
    }
}

fn stale_float_histogram(sum: f64) -> FloatHistogram {
    FloatHistogram {
        sum,
        ..FloatHistogram::default()
    }
}

/// The open chunk of a series, of whichever encoding its samples need. The
/// histogram encoders carry several times the state of an XOR chunk; they are boxed
/// so that the common float series' open chunk stays small.
#[derive(Clone, Debug)]
enum MemChunk {
    Xor(XorChunk),
    Histogram(Box<HistogramChunk>),
    FloatHistogram(Box<FloatHistogramChunk>),
}

impl MemChunk {
    fn encoding(&self) -> Encoding {
        match self {
            MemChunk::Xor(_) => Encoding::Xor,
            MemChunk::Histogram(_) => Encoding::Histogram,
            MemChunk::FloatHistogram(_) => Encoding::FloatHistogram,
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            MemChunk::Xor(c) => c.bytes(),
            MemChunk::Histogram(c) => c.bytes(),
            MemChunk::FloatHistogram(c) => c.bytes(),
        }
    }

    fn num_samples(&self) -> u16 {
        match self {
            MemChunk::Xor(c) => c.num_samples(),
            MemChunk::Histogram(c) => c.num_samples(),
            MemChunk::FloatHistogram(c) => c.num_samples(),
        }
    }
}

/// The two histogram chunk types, so that one implementation of Prometheus's
/// histogram cutting rules serves both.
trait HistogramChunkKind: Sized {
    type Sample;
    const ENCODING: Encoding;
    fn new_chunk() -> Self;
    /// Reopens a chunk read back from `chunks_head/`.
    fn reopen(bytes: &[u8]) -> Option<Self>;
    fn wrap(self: Box<Self>) -> MemChunk;
    fn get(c: &MemChunk) -> Option<&Self>;
    fn get_mut(c: &mut MemChunk) -> Option<&mut Self>;
    fn append_after(
        &mut self,
        prev: Option<&Self>,
        t: i64,
        h: &Self::Sample,
    ) -> Result<Appended<Self>, ember_chunkenc::Error>;
}

impl HistogramChunkKind for HistogramChunk {
    type Sample = Histogram;
    const ENCODING: Encoding = Encoding::Histogram;
    fn new_chunk() -> Self {
        HistogramChunk::new()
    }
    fn reopen(bytes: &[u8]) -> Option<Self> {
        HistogramChunk::from_bytes(bytes).ok()
    }
    fn wrap(self: Box<Self>) -> MemChunk {
        MemChunk::Histogram(self)
    }
    fn get(c: &MemChunk) -> Option<&Self> {
        match c {
            MemChunk::Histogram(x) => Some(&**x),
            _ => None,
        }
    }
    fn get_mut(c: &mut MemChunk) -> Option<&mut Self> {
        match c {
            MemChunk::Histogram(x) => Some(&mut **x),
            _ => None,
        }
    }
    fn append_after(
        &mut self,
        prev: Option<&Self>,
        t: i64,
        h: &Histogram,
    ) -> Result<Appended<Self>, ember_chunkenc::Error> {
        HistogramChunk::append_after(self, prev, t, h)
    }
}

impl HistogramChunkKind for FloatHistogramChunk {
    type Sample = FloatHistogram;
    const ENCODING: Encoding = Encoding::FloatHistogram;
    fn new_chunk() -> Self {
        FloatHistogramChunk::new()
    }
    fn reopen(bytes: &[u8]) -> Option<Self> {
        FloatHistogramChunk::from_bytes(bytes).ok()
    }
    fn wrap(self: Box<Self>) -> MemChunk {
        MemChunk::FloatHistogram(self)
    }
    fn get(c: &MemChunk) -> Option<&Self> {
        match c {
            MemChunk::FloatHistogram(x) => Some(&**x),
            _ => None,
        }
    }
    fn get_mut(c: &mut MemChunk) -> Option<&mut Self> {
        match c {
            MemChunk::FloatHistogram(x) => Some(&mut **x),
            _ => None,
        }
    }
    fn append_after(
        &mut self,
        prev: Option<&Self>,
        t: i64,
        h: &FloatHistogram,
    ) -> Result<Appended<Self>, ember_chunkenc::Error> {
        FloatHistogramChunk::append_after(self, prev, t, h)
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
    // Boxed: full chunks on disk, the common case, stay small.
    Mem(Box<MemChunk>),
    Disk { r: u64, samples: u16, encoding: u8 },
}

impl HeadChunk {
    fn num_samples(&self) -> u16 {
        match &self.store {
            ChunkStore::Mem(c) => c.num_samples(),
            ChunkStore::Disk { samples, .. } => *samples,
        }
    }

    fn encoding(&self) -> u8 {
        match &self.store {
            ChunkStore::Mem(c) => c.encoding() as u8,
            ChunkStore::Disk { encoding, .. } => *encoding,
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
    /// Prometheus's `histogramChunkHasComputedEndTime`: whether `next_at` was
    /// already predicted from the open histogram chunk's size.
    hist_end_computed: bool,
    /// Whether `last` holds only the kind of the latest sample, which is the last
    /// sample of the last chunk loaded from `chunks_head/` at start-up: decoding it
    /// for every series would cost start-up time, and only a repeat of the latest
    /// timestamp needs the value ([`SeriesData::resolve_last`]).
    last_on_disk: bool,
    last_t: i64,
    /// The latest sample (Prometheus's `lastValue`/`lastHistogramValue`/
    /// `lastFloatHistogramValue`): what a repeat at `last_t` must equal, and what
    /// kind of staleness marker the series takes.
    last: Value,
    /// Boxed: few series have any, and the head keeps one `SeriesData` per series.
    metadata: Option<Box<Metadata>>,
    /// Out-of-order samples, when the series has any.
    ooo: Option<Box<crate::ooo::OooData>>,
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
                hist_end_computed: false,
                last_on_disk: false,
                last_t: i64::MIN,
                last: Value::Float(0.0),
                metadata: None,
                ooo: None,
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
    /// Applies a sample that passed the appender's checks (or comes from the WAL);
    /// false when it is not newer than the latest sample, which can happen when
    /// another appender committed in between. A float staleness marker in a
    /// histogram series becomes a histogram staleness marker of the series' kind,
    /// as in Prometheus's commit and WAL replay.
    fn apply(
        &mut self,
        series: Ref,
        t: i64,
        v: Value,
        opts: &HeadOptions,
        files: Option<&Mutex<HeadChunkFiles>>,
    ) -> bool {
        if t <= self.last_t {
            return false;
        }
        let v = match v {
            Value::Float(x) if is_stale_nan(x) => match self.last {
                Value::Histogram(_) => Value::Histogram(Box::new(stale_histogram(x))),
                Value::FloatHistogram(_) => {
                    Value::FloatHistogram(Box::new(stale_float_histogram(x)))
                }
                Value::Float(_) => Value::Float(x),
            },
            v => v,
        };
        let ok = match &v {
            Value::Float(x) => {
                self.append_float(series, t, *x, opts, files);
                true
            }
            Value::Histogram(h) => {
                self.append_histogram::<HistogramChunk>(series, t, h, opts, files)
            }
            Value::FloatHistogram(h) => {
                self.append_histogram::<FloatHistogramChunk>(series, t, h, opts, files)
            }
        };
        if ok {
            self.last_t = t;
            self.last = v;
            self.last_on_disk = false;
        }
        ok
    }

    /// Takes the chunks loaded from `chunks_head/` for this series, as a series
    /// record of the WAL re-creates it: the series continues after them, so WAL
    /// samples up to the last one's end are skipped by [`SeriesData::apply`], and
    /// the next sample starts a new chunk, as it did when the last one was cut.
    fn attach(&mut self, chunks: Vec<HeadChunk>) {
        let Some(last) = chunks.last() else { return };
        self.last_t = last.max_t;
        self.last = match Encoding::from_u8(last.encoding()) {
            Some(Encoding::Histogram) => Value::Histogram(Box::default()),
            Some(Encoding::FloatHistogram) => Value::FloatHistogram(Box::default()),
            _ => Value::Float(0.0),
        };
        self.last_on_disk = true;
        self.hist_end_computed = false;
        self.chunks = chunks;
    }

    /// Decodes the latest sample from the last chunk, when only its kind is known.
    fn resolve_last(&mut self, files: Option<&Mutex<HeadChunkFiles>>) {
        if !self.last_on_disk {
            return;
        }
        let Some(c) = self.chunks.last() else { return };
        let Ok(bytes) = c.bytes(files) else { return };
        let view = ChunkView {
            max_t: c.max_t,
            encoding: c.encoding(),
            bytes: &bytes,
        };
        let mut it = ChunksIterator::new(vec![view], c.max_t, c.max_t);
        self.last = match it.next() {
            ember_storage::ValueType::Float => Value::Float(it.at().1),
            ember_storage::ValueType::Histogram => {
                let mut h = Histogram::default();
                it.at_histogram(&mut h);
                Value::Histogram(Box::new(h))
            }
            ember_storage::ValueType::FloatHistogram => {
                let mut h = FloatHistogram::default();
                it.at_float_histogram(&mut h);
                Value::FloatHistogram(Box::new(h))
            }
            _ => return,
        };
        self.last_on_disk = false;
    }

    /// Makes a new open chunk starting at `t`. The previous one stays in memory
    /// until [`SeriesData::write_out`], since a histogram chunk's first sample is
    /// coded against it.
    fn push(&mut self, t: i64, chunk: MemChunk, opts: &HeadOptions) {
        // Grown one at a time: a series cuts a chunk every few minutes at most, and
        // the head keeps this vector for every series.
        self.chunks.reserve_exact(1);
        self.chunks.push(HeadChunk {
            min_t: t,
            max_t: t,
            store: ChunkStore::Mem(Box::new(chunk)),
        });
        self.next_at = range_end(t, opts.chunk_range);
    }

    /// Sends the full chunks still in memory to `chunks_head/` (if there are chunk
    /// files): normally just the one before the open chunk. Should a write fail
    /// (disk full), that chunk and the ones after it stay in memory and are tried
    /// again at the next cut, oldest first, so that the chunks a series has on disk
    /// are always its oldest: start-up takes everything up to the last one on disk
    /// from the files and replays only later samples from the WAL.
    fn write_out(&mut self, series: Ref, files: Option<&Mutex<HeadChunkFiles>>) {
        let Some(files) = files else { return };
        let Some(open) = self.chunks.len().checked_sub(1) else {
            return;
        };
        let mut first = open;
        while first > 0 && matches!(self.chunks[first - 1].store, ChunkStore::Mem(_)) {
            first -= 1;
        }
        if first == open {
            return;
        }
        let mut f = files.lock().unwrap_or_else(|p| p.into_inner());
        for c in &mut self.chunks[first..open] {
            let ChunkStore::Mem(m) = &c.store else { break };
            let encoding = m.encoding() as u8;
            match f.write(series, c.min_t, c.max_t, encoding, m.bytes()) {
                Ok(r) => {
                    c.store = ChunkStore::Disk {
                        r,
                        samples: m.num_samples(),
                        encoding,
                    }
                }
                Err(_) => break,
            }
        }
    }

    /// Prometheus's `appendPreprocessor` and `append` for a float sample.
    fn append_float(
        &mut self,
        series: Ref,
        t: i64,
        v: f64,
        opts: &HeadOptions,
        files: Option<&Mutex<HeadChunkFiles>>,
    ) {
        let per_chunk = opts.samples_per_chunk;
        let open_xor = self.chunks.last().and_then(|c| match &c.store {
            ChunkStore::Mem(m) => match &**m {
                MemChunk::Xor(x) => Some((c.min_t, c.max_t, x)),
                _ => None,
            },
            ChunkStore::Disk { .. } => None,
        });
        let need_new = match open_xor {
            // Size first: Prometheus cuts a chunk that could not take a maximally
            // sized sample before predicting anything from it.
            Some((_, _, x)) if x.is_full() => true,
            Some((min_t, max_t, x)) => {
                let n = x.num_samples();
                if n == per_chunk / 4 {
                    self.next_at = compute_chunk_end(min_t, max_t, self.next_at, 4.0);
                }
                t >= self.next_at || n >= per_chunk.saturating_mul(2)
            }
            // No chunk yet, or the series held histograms until now.
            None => true,
        };
        if need_new {
            self.push(t, MemChunk::Xor(XorChunk::new()), opts);
        }
        if let Some(c) = self.chunks.last_mut()
            && let ChunkStore::Mem(m) = &mut c.store
            && let MemChunk::Xor(x) = &mut **m
        {
            x.append(t, v);
            c.max_t = t;
        }
        if need_new {
            self.write_out(series, files);
        }
    }

    /// Prometheus's `histogramsAppendPreprocessor` and `appendHistogram` (or
    /// `appendFloatHistogram`): histogram chunks are cut by time like XOR chunks, but
    /// the end time is predicted from the chunk's size in bytes, a chunk past twice
    /// the target size is cut, and no chunk is cut for either reason before it has
    /// [`MIN_SAMPLES_PER_HISTOGRAM_CHUNK`] samples unless the chunk range ends. The
    /// chunk encoder itself may also start a new chunk (counter reset, layout
    /// change) or rewrite the open one with more buckets.
    fn append_histogram<C: HistogramChunkKind>(
        &mut self,
        series: Ref,
        t: i64,
        h: &C::Sample,
        opts: &HeadOptions,
        files: Option<&Mutex<HeadChunkFiles>>,
    ) -> bool {
        let target = TARGET_BYTES_PER_HISTOGRAM_CHUNK;
        let mut created = false;
        let open_is_c = matches!(
            self.chunks.last().map(|c| &c.store),
            Some(ChunkStore::Mem(m)) if C::get(m).is_some()
        );
        if !open_is_c {
            self.push(t, Box::new(C::new_chunk()).wrap(), opts);
            created = true;
        }
        let Some(open) = self.chunks.last() else {
            return false;
        };
        let (n, n_bytes, c_min, c_max) = match &open.store {
            ChunkStore::Mem(m) => (m.num_samples(), m.bytes().len(), open.min_t, open.max_t),
            ChunkStore::Disk { .. } => return false,
        };
        let next_range_start = if self.hist_end_computed {
            range_end(c_min, opts.chunk_range)
        } else {
            // Either the end of the chunk's range (set when it was cut) or an end
            // set for an immediate cut: both override the minimum sample count.
            self.next_at
        };
        if !self.hist_end_computed && n_bytes >= target / 4 {
            let ratio = target as f64 / n_bytes as f64;
            self.next_at = compute_chunk_end(c_min, c_max, self.next_at, ratio);
            self.hist_end_computed = true;
        }
        if (t >= self.next_at || n_bytes >= 2 * target)
            && (n >= MIN_SAMPLES_PER_HISTOGRAM_CHUNK || t >= next_range_start)
        {
            self.push(t, Box::new(C::new_chunk()).wrap(), opts);
            created = true;
        }
        if created {
            self.hist_end_computed = false;
        }

        // After a restart the chunk before a new one may be one loaded from
        // `chunks_head/`: reopened, it gives the new chunk the counter-reset header
        // an uninterrupted head would have given it.
        let disk_prev = if created {
            self.chunks
                .len()
                .checked_sub(2)
                .map(|i| &self.chunks[i])
                .filter(|p| {
                    matches!(p.store, ChunkStore::Disk { encoding, .. }
                        if encoding == C::ENCODING as u8)
                })
                .and_then(|p| p.bytes(files).ok())
                .and_then(|b| C::reopen(&b))
        } else {
            None
        };

        enum Outcome<C> {
            Done,
            New(Box<C>),
            Failed,
        }
        let outcome = {
            let len = self.chunks.len();
            let (before, open) = self.chunks.split_at_mut(len - 1);
            let open = &mut open[0];
            // A chunk cut here continues the previous chunk's counter, if that held
            // the same kind of histogram: its header says whether the counter reset.
            let prev = if created {
                before.last().and_then(|p| match &p.store {
                    ChunkStore::Mem(m) => C::get(m),
                    ChunkStore::Disk { .. } => disk_prev.as_ref(),
                })
            } else {
                None
            };
            match &mut open.store {
                ChunkStore::Mem(m) => match C::get_mut(m).map(|c| c.append_after(prev, t, h)) {
                    Some(Ok(Appended::InPlace | Appended::Recoded)) => {
                        open.max_t = t;
                        Outcome::Done
                    }
                    Some(Ok(Appended::NewChunk(c))) => Outcome::New(c),
                    Some(Err(_)) | None => Outcome::Failed,
                },
                ChunkStore::Disk { .. } => Outcome::Failed,
            }
        };
        match outcome {
            Outcome::Done => {}
            Outcome::New(c) => {
                // Prometheus leaves `hist_end_computed` alone here; so do we, so
                // that the next cut lands where Prometheus's would.
                self.push(t, c.wrap(), opts);
                created = true;
            }
            Outcome::Failed => {
                // Only a structurally broken histogram (from a damaged WAL; appends
                // are validated) gets here: drop it, and the chunk made for it.
                if created && self.chunks.last().is_some_and(|c| c.num_samples() == 0) {
                    self.chunks.pop();
                }
                return false;
            }
        }
        if created {
            self.write_out(series, files);
        }
        true
    }
}

/// The series sharing one label hash: nearly always one, kept without a vector of
/// its own (the head has one bucket per series); collisions rebuild the slice.
#[derive(Debug)]
enum HashBucket {
    One(Arc<MemSeries>),
    Many(Box<[Arc<MemSeries>]>),
}

impl HashBucket {
    fn find(&self, labels: &Labels) -> Option<&Arc<MemSeries>> {
        match self {
            HashBucket::One(s) => (&s.labels == labels).then_some(s),
            HashBucket::Many(v) => v.iter().find(|s| &s.labels == labels),
        }
    }

    fn push(&mut self, s: Arc<MemSeries>) {
        let all: Vec<_> = match self {
            HashBucket::One(first) => vec![first.clone(), s],
            HashBucket::Many(v) => v.iter().cloned().chain([s]).collect(),
        };
        *self = HashBucket::Many(all.into());
    }

    /// Removes series `r`; false when the bucket is left empty.
    fn remove(&mut self, r: Ref) -> bool {
        let HashBucket::Many(v) = self else {
            return matches!(self, HashBucket::One(s) if s.r != r);
        };
        let mut rest: Vec<_> = v.iter().filter(|s| s.r != r).cloned().collect();
        *self = match rest.len() {
            0 => return false,
            1 => HashBucket::One(rest.remove(0)),
            _ => HashBucket::Many(rest.into()),
        };
        true
    }
}

/// The in-memory head.
#[derive(Debug)]
pub struct Head {
    opts: HeadOptions,
    by_hash: Vec<RwLock<FastMap<u64, HashBucket>>>,
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
    /// Chunks found in `chunks_head/` at start-up, by series reference, until WAL
    /// replay re-creates their series; empty afterwards.
    loaded_chunks: Mutex<FastMap<Ref, Vec<HeadChunk>>>,
    /// The write-behind log of out-of-order samples (`wbl/`).
    wbl: Mutex<Option<ember_wal::segment::Wal>>,
    /// `storage.tsdb.out_of_order_time_window` in ms.
    ooo_window: AtomicI64,
    /// Deleted intervals per series (the admin API's `delete_series`): hidden from
    /// queries and left out of the blocks the head is cut into.
    tombstones: RwLock<FastMap<Ref, Vec<(i64, i64)>>>,
    stats: HeadStats,
    /// Exemplars of the head's series (in memory only; the WAL brings them back).
    exemplars: crate::exemplar::ExemplarStorage,
}

/// Counters kept by the head (exported under Prometheus's `prometheus_tsdb_*` names).
#[derive(Debug, Default)]
pub struct HeadStats {
    /// Samples appended, of every kind.
    pub samples_appended: AtomicU64,
    /// Of those, native-histogram samples (Prometheus's `type="histogram"`).
    pub histogram_samples_appended: AtomicU64,
    /// Samples rejected for being out of order (including at commit).
    pub out_of_order_samples: AtomicU64,
    /// WAL corruptions found (and repaired) at start-up.
    pub wal_corruptions: AtomicU64,
    /// Records skipped at replay because their series was unknown.
    pub wal_unknown_refs: AtomicU64,
    /// Out-of-order samples accepted (within the window).
    pub out_of_order_appended: AtomicU64,
    /// Samples refused for being older than the out-of-order window.
    pub too_old_samples: AtomicU64,
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

    /// Keeps the chunks [`HeadChunkFiles::open`] found until WAL replay re-creates
    /// their series ([`Head::replay_series`]). New series are numbered after every
    /// reference in the files, so a chunk left behind by a dropped series can
    /// never be taken for a new one's at the next start.
    pub(crate) fn load_chunks(&self, loaded: &Loaded) {
        let mut map = self.loaded_chunks.lock().unwrap_or_else(|p| p.into_inner());
        for c in &loaded.chunks {
            map.entry(c.series).or_default().push(HeadChunk {
                min_t: c.min_t,
                max_t: c.max_t,
                store: ChunkStore::Disk {
                    r: c.r,
                    samples: c.samples,
                    encoding: c.encoding,
                },
            });
        }
        self.next_ref
            .fetch_max(loaded.max_series.saturating_add(1), Ordering::Relaxed);
    }

    /// Ends start-up: drops the loaded chunks no series record claimed (series
    /// gone from the WAL, as Prometheus ignores them) and returns how many.
    pub(crate) fn finish_chunk_load(&self) -> usize {
        let mut map = self.loaded_chunks.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *map)
            .into_values()
            .map(|v| v.len())
            .sum()
    }

    /// Attaches a WAL: from now on every commit is logged before it is applied.
    pub fn set_wal(&mut self, wal: ember_wal::segment::Wal) {
        self.wal = Some(Mutex::new(wal));
    }

    /// Writes out and fsyncs the WAL and the write-behind log, for a clean shutdown
    /// (appends are written to the page cache as they commit; this makes them
    /// durable against a power failure too).
    pub fn sync_logs(&self) -> Result<(), Error> {
        let sync = |w: &mut ember_wal::segment::Wal| {
            w.sync().map_err(|e| Error::Io(format!("syncing WAL: {e}")))
        };
        if let Some(w) = &self.wal {
            sync(&mut w.lock().unwrap_or_else(|p| p.into_inner()))?;
        }
        if let Some(w) = self.wbl.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            sync(w)?;
        }
        Ok(())
    }

    /// Attaches the write-behind log: out-of-order samples are logged there.
    pub fn set_wbl(&self, wbl: ember_wal::segment::Wal) {
        *self.wbl.lock().unwrap_or_else(|p| p.into_inner()) = Some(wbl);
    }

    /// Whether a write-behind log is attached.
    pub fn has_wbl(&self) -> bool {
        self.wbl.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Sets `storage.tsdb.out_of_order_time_window` (ms; 0 turns it off), as a
    /// configuration reload does; appenders created from now on use it.
    pub fn set_out_of_order_window(&self, ms: i64) {
        self.ooo_window.store(ms.max(0), Ordering::Release);
        // Prometheus takes late exemplars within the same window.
        self.exemplars.set_out_of_order_window(ms);
    }

    /// The exemplar storage.
    pub fn exemplars(&self) -> &crate::exemplar::ExemplarStorage {
        &self.exemplars
    }

    /// Applies `storage.exemplars.max_exemplars` from a (re)loaded configuration:
    /// resizes the exemplar storage, keeping the newest exemplars, when exemplar
    /// storage is enabled; otherwise nothing. Returns how many were kept.
    pub fn apply_exemplar_config(&self, max_exemplars: i64) -> usize {
        if !self.opts.enable_exemplar_storage {
            return 0;
        }
        self.exemplars.resize(max_exemplars)
    }

    /// Applies an exemplar replayed from the WAL. As in Prometheus, exemplars older
    /// than the head's lower bound are dropped, replayed exemplars count as having no
    /// timestamp of their own, and refusals (repeats logged twice) are ignored.
    pub(crate) fn replay_exemplar(&self, r: Ref, t: i64, v: f64, labels: Labels) {
        let Some(s) = self.series_by_ref(r) else {
            self.stats.wal_unknown_refs.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if t < self.min_valid_time.load(Ordering::Acquire) {
            return;
        }
        let e = crate::exemplar::StoredExemplar {
            labels,
            value: v,
            ts: t,
            has_ts: false,
        };
        let _ = self.exemplars.add(&s.labels, e);
    }

    /// The out-of-order window (ms).
    pub fn out_of_order_window(&self) -> i64 {
        self.ooo_window.load(Ordering::Acquire)
    }

    /// Applies an out-of-order sample replayed from the write-behind log.
    pub(crate) fn replay_ooo(&self, r: Ref, t: i64, v: Value) {
        let Some(s) = self.series_by_ref(r) else {
            self.stats.wal_unknown_refs.fetch_add(1, Ordering::Relaxed);
            return;
        };
        // The head's bounds are those of its in-order data (what is cut into
        // blocks by time); out-of-order data is compacted on its own.
        s.lock().ooo.get_or_insert_default().insert(t, v);
    }

    /// Re-creates a series from a WAL series record, with the chunks loaded from
    /// `chunks_head/` for its reference.
    pub(crate) fn replay_series(&self, r: Ref, labels: &Labels) -> Result<(), Error> {
        let (s, created) = self.get_or_create_with_ref(labels, Some(r))?;
        if !created || s.r != r {
            return Ok(());
        }
        let chunks = {
            let mut map = self.loaded_chunks.lock().unwrap_or_else(|p| p.into_inner());
            if map.is_empty() {
                return Ok(());
            }
            map.remove(&r)
        };
        if let Some(chunks) = chunks
            && let (Some(first), Some(last)) = (chunks.first(), chunks.last())
        {
            let (min, max) = (first.min_t, last.max_t);
            s.lock().attach(chunks);
            self.update_bounds(min, max);
        }
        Ok(())
    }

    /// Applies a replayed sample of any kind. As in Prometheus, samples before the
    /// head's lower bound (already in a block) are dropped, and so are samples
    /// that no longer fit (duplicates after a crash mid-commit).
    pub(crate) fn replay_value(&self, r: Ref, t: i64, v: Value) {
        let Some(s) = self.series_by_ref(r) else {
            self.stats.wal_unknown_refs.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if t < self.min_valid_time.load(Ordering::Acquire) {
            return;
        }
        let mut d = s.lock();
        if d.apply(s.r, t, v, &self.opts, self.chunk_files.as_ref()) {
            drop(d);
            self.update_bounds(t, t);
        }
    }

    /// An empty head.
    pub fn new(opts: HeadOptions) -> Self {
        let ooo_window = opts.out_of_order_window;
        Head {
            exemplars: crate::exemplar::ExemplarStorage::new(
                if opts.enable_exemplar_storage {
                    opts.max_exemplars
                } else {
                    0
                },
                ooo_window,
            ),
            wal: None,
            chunk_files: None,
            loaded_chunks: Mutex::default(),
            stats: HeadStats::default(),
            opts,
            by_hash: (0..SHARDS).map(|_| RwLock::default()).collect(),
            by_ref: (0..SHARDS).map(|_| RwLock::default()).collect(),
            postings: RwLock::default(),
            tombstones: RwLock::default(),
            wbl: Mutex::new(None),
            ooo_window: AtomicI64::new(ooo_window),
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

    /// Cardinality statistics of the head's index (`/api/v1/status/tsdb`), by values
    /// of `label` (Prometheus uses `__name__`), each list cut to `limit`.
    pub fn postings_stats(&self, label: &str, limit: usize) -> crate::postings::PostingsStats {
        self.postings
            .read()
            .map(|p| p.stats(label, limit))
            .unwrap_or_default()
    }

    /// Chunks held by the head, open and full (Prometheus's
    /// `prometheus_tsdb_head_chunks`).
    pub fn num_chunks(&self) -> usize {
        self.by_ref
            .iter()
            .map(|shard| {
                shard
                    .read()
                    .map(|m| m.values().map(|s| s.lock().chunks.len()).sum::<usize>())
                    .unwrap_or(0)
            })
            .sum()
    }

    /// Oldest sample time, or `i64::MAX` when empty.
    pub fn min_time(&self) -> i64 {
        self.min_time.load(Ordering::Acquire)
    }

    /// Lowest timestamp the head keeps (data before it is in blocks).
    pub(crate) fn min_valid_time(&self) -> i64 {
        self.min_valid_time.load(Ordering::Acquire)
    }

    /// Newest sample time, or `i64::MIN` when empty.
    pub fn max_time(&self) -> i64 {
        self.max_time.load(Ordering::Acquire)
    }

    fn series_by_ref(&self, r: Ref) -> Option<Arc<MemSeries>> {
        let shard = &self.by_ref[(r as usize) % SHARDS];
        shard.read().ok()?.get(&r).cloned()
    }

    /// The series with `labels`, if the head has it.
    fn series_by_labels(&self, labels: &Labels) -> Option<Arc<MemSeries>> {
        let hash = labels.hash64();
        let shard = self.by_hash[(hash as usize) % SHARDS].read().ok()?;
        shard.get(&hash).and_then(|b| b.find(labels)).cloned()
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
            .and_then(|b| b.find(labels))
        {
            return Ok((s.clone(), false));
        }
        let mut map = shard
            .write()
            .map_err(|_| Error::Io("head lock poisoned".into()))?;
        let bucket = map.get(&hash);
        if let Some(s) = bucket.and_then(|b| b.find(labels)) {
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
        match map.get_mut(&hash) {
            Some(b) => b.push(s.clone()),
            None => {
                map.insert(hash, HashBucket::One(s.clone()));
            }
        }
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
                        encoding: c.encoding(),
                        bytes: c.bytes(self.chunk_files.as_ref())?,
                        samples: c.num_samples() as u64,
                    });
                }
                drop(d);
                let deleted = self.deleted_of(s.r);
                if !deleted.is_empty() {
                    chunks = crate::compact::remove_deleted(chunks, &deleted)
                        .map_err(|e| Error::Io(format!("{}: {e}", s.labels)))?;
                }
                if !chunks.is_empty() {
                    out.push((s.labels.clone(), chunks));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
    /// Marks the samples in `[mint, maxt]` of the series matching `matchers` deleted,
    /// as Prometheus's head does: a tombstones record goes to the WAL first (so the
    /// deletion survives a restart), then queries stop seeing them and blocks cut
    /// from the head leave them out. Returns the number of series touched.
    pub fn delete(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[ember_model::Matcher],
    ) -> Result<usize, Error> {
        let refs = self
            .postings
            .read()
            .map_err(|_| Error::Io("head lock poisoned".into()))?
            .for_matchers(matchers);
        let mut stones = Vec::new();
        for r in refs {
            let Some(s) = self.series_by_ref(r) else {
                continue;
            };
            let d = s.lock();
            let in_order = d.chunks.first().zip(d.chunks.last());
            let bounds = in_order
                .map(|(f, l)| (f.min_t, l.max_t))
                .into_iter()
                .chain(d.ooo.as_ref().and_then(|o| o.bounds()))
                .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)));
            let Some((first, last)) = bounds else {
                continue;
            };
            if first <= maxt && mint <= last {
                stones.push(ember_wal::record::Stone {
                    r,
                    mint: mint.max(first),
                    maxt: maxt.min(last),
                });
            }
        }
        if stones.is_empty() {
            return Ok(0);
        }
        if let Some(w) = &self.wal {
            let mut buf = Vec::new();
            ember_wal::record::encode_tombstones(&stones, &mut buf);
            w.lock()
                .unwrap_or_else(|p| p.into_inner())
                .log(&[&buf])
                .map_err(|e| Error::Io(format!("writing WAL: {e}")))?;
        }
        self.add_tombstones(&stones);
        Ok(stones.len())
    }

    /// Compacts the out-of-order data: hands every series' out-of-order samples
    /// (sorted by labels, each sorted by time, deletions applied) to `write`, and
    /// when it succeeds drops them from the head and starts a new write-behind log
    /// segment, whose number is returned with `write`'s result so that older
    /// segments can be deleted. Commits wait meanwhile, so no sample arrives
    /// between the copy and the drop. `None` when there is nothing to compact.
    pub(crate) fn compact_ooo<T, E: From<Error>>(
        &self,
        write: impl FnOnce(Vec<(Labels, Vec<(i64, Value)>)>) -> Result<T, E>,
    ) -> Result<Option<(T, Option<u32>)>, E> {
        let _commits = self
            .wal
            .as_ref()
            .map(|w| w.lock().unwrap_or_else(|p| p.into_inner()));
        let mut series = Vec::new();
        for shard in &self.by_ref {
            let Ok(map) = shard.read() else { continue };
            for s in map.values() {
                // The tombstones before the series lock: the order every path takes.
                let deleted = self.deleted_of(s.r);
                let d = s.lock();
                let Some(o) = d.ooo.as_ref() else { continue };
                let mut v = o
                    .samples(i64::MIN, i64::MAX)
                    .map_err(|e| Error::Io(format!("{}: out-of-order chunk: {e}", s.labels)))?;
                v.retain(|(t, _)| !crate::iter::covered(*t, *t, &deleted));
                if !v.is_empty() {
                    series.push((s.labels.clone(), v));
                }
            }
        }
        if series.is_empty() {
            return Ok(None);
        }
        series.sort_by(|a, b| a.0.cmp(&b.0));
        let out = write(series)?;
        for shard in &self.by_ref {
            let Ok(map) = shard.read() else { continue };
            for s in map.values() {
                s.lock().ooo = None;
            }
        }
        let segment = match self.wbl.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            Some(w) => Some(
                w.next_segment()
                    .map_err(|e| Error::Io(format!("WBL: {e}")))?,
            ),
            None => None,
        };
        Ok(Some((out, segment)))
    }

    /// Applies deletion intervals (from [`Head::delete`] or a replayed record).
    pub(crate) fn add_tombstones(&self, stones: &[ember_wal::record::Stone]) {
        let mut t = self.tombstones.write().unwrap_or_else(|p| p.into_inner());
        for st in stones {
            crate::block::add_interval(t.entry(st.r).or_default(), (st.mint, st.maxt));
        }
    }

    /// The deletion intervals of every series, for WAL checkpoints.
    pub(crate) fn tombstones(&self) -> Vec<ember_wal::record::Stone> {
        let t = self.tombstones.read().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<_> = t
            .iter()
            .flat_map(|(r, ivs)| {
                ivs.iter().map(|(a, b)| ember_wal::record::Stone {
                    r: *r,
                    mint: *a,
                    maxt: *b,
                })
            })
            .collect();
        v.sort_by_key(|s| (s.r, s.mint));
        v
    }

    fn deleted_of(&self, r: Ref) -> Vec<(i64, i64)> {
        let t = self.tombstones.read().unwrap_or_else(|p| p.into_inner());
        t.get(&r).cloned().unwrap_or_default()
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
                    None if d.last_t < mint && d.ooo.is_none() => {
                        gone.push((s.r, s.labels.clone()))
                    }
                    None => {}
                }
            }
        }
        if let Some(f) = &self.chunk_files {
            // Every chunk dropped above ended before `mint`; files holding only
            // such chunks are no longer referenced.
            f.lock()
                .unwrap_or_else(|p| p.into_inner())
                .truncate_before(mint);
        }
        for (r, labels) in &gone {
            if let Ok(mut m) = self.by_ref[(*r as usize) % SHARDS].write() {
                m.remove(r);
            }
            let hash = labels.hash64();
            if let Ok(mut m) = self.by_hash[(hash as usize) % SHARDS].write()
                && let Some(b) = m.get_mut(&hash)
                && !b.remove(*r)
            {
                m.remove(&hash);
            }
        }
        {
            let mut t = self.tombstones.write().unwrap_or_else(|p| p.into_inner());
            for (r, _) in &gone {
                t.remove(r);
            }
            t.retain(|_, ivs| {
                ivs.retain(|(_, b)| *b >= mint);
                !ivs.is_empty()
            });
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

/// The kinds of sample an append batch keeps apart (Prometheus's `sampleType`):
/// each goes to its own WAL record type or chunk encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SampleType {
    Float,
    Histogram,
    CustomBucketsHistogram,
    FloatHistogram,
    CustomBucketsFloatHistogram,
}

/// Appended data in which every series has one kind of sample, except that
/// histograms may follow floats (floats are applied first). Batches are logged and
/// applied in order, so each series' samples keep their order through the WAL.
#[derive(Default)]
struct Batch {
    floats: Vec<RefSample>,
    float_series: Vec<Arc<MemSeries>>,
    histograms: Vec<RefHistogram>,
    histogram_series: Vec<Arc<MemSeries>>,
    float_histograms: Vec<RefFloatHistogram>,
    float_histogram_series: Vec<Arc<MemSeries>>,
    metadata: Vec<(Arc<MemSeries>, Metadata)>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.floats.is_empty()
            && self.histograms.is_empty()
            && self.float_histograms.is_empty()
            && self.metadata.is_empty()
    }
}

/// Where a series' latest pending sample is, to check the next one against it.
#[derive(Clone, Copy, Debug)]
enum Pending {
    Float(f64),
    Histogram { batch: usize, i: usize },
    FloatHistogram { batch: usize, i: usize },
}

/// Prometheus's ordering rule: older is out of order, the same timestamp is a
/// no-op for an exact repeat (`Ok(false)`) and a duplicate otherwise.
fn check_order(t: i64, v: ValueRef<'_>, last_t: i64, last: ValueRef<'_>) -> Result<bool, Error> {
    if t < last_t {
        return Err(Error::OutOfOrderSample);
    }
    if t == last_t {
        return if v.repeats(last) {
            Ok(false)
        } else {
            Err(Error::DuplicateSampleForTimestamp)
        };
    }
    Ok(true)
}

/// A transaction against the head.
pub struct HeadAppender<'a> {
    head: &'a Head,
    min_valid: i64,
    batches: Vec<Batch>,
    /// The histogram kind each series holds in the newest batch (floats are
    /// implicit), to know when a new batch must start.
    types_in_batch: FastMap<Ref, SampleType>,
    /// Latest pending sample per series, for in-transaction ordering.
    pending_last: FastMap<Ref, (i64, Pending)>,
    /// Series this transaction created; their definitions go to the WAL with it.
    created: Vec<Arc<MemSeries>>,
    /// The head's newest timestamp when the transaction began, and the
    /// out-of-order window then.
    head_max: i64,
    ooo_window: i64,
    /// Out-of-order samples, applied after the in-order ones.
    ooo: Vec<(Arc<MemSeries>, i64, Value)>,
    /// Exemplars, validated when appended and stored after the samples at commit.
    exemplars: Vec<(Arc<MemSeries>, crate::exemplar::StoredExemplar)>,
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

    fn pending_value(&self, p: Pending) -> ValueRef<'_> {
        match p {
            Pending::Float(v) => ValueRef::Float(v),
            Pending::Histogram { batch, i } => {
                ValueRef::Histogram(&self.batches[batch].histograms[i].h)
            }
            Pending::FloatHistogram { batch, i } => {
                ValueRef::FloatHistogram(&self.batches[batch].float_histograms[i].h)
            }
        }
    }

    /// Where a sample goes (Prometheus's `memSeries.appendable`): in order
    /// (`Ok(Some(true))`), nowhere for an exact repeat (`Ok(Some(false))`), or into
    /// the out-of-order data (`Ok(None)`) when it is older than the series' latest
    /// but inside the window; otherwise the error says why it is refused.
    fn place(&self, s: &MemSeries, t: i64, v: ValueRef<'_>) -> Result<Option<bool>, Error> {
        if t >= self.min_valid {
            match self.check(s, t, v) {
                Err(Error::OutOfOrderSample) => {}
                other => return other.map(Some),
            }
        }
        if self.ooo_window > 0 {
            if t >= self.head_max.saturating_sub(self.ooo_window) {
                return Ok(None);
            }
            self.head
                .stats
                .too_old_samples
                .fetch_add(1, Ordering::Relaxed);
            return Err(Error::TooOldSample);
        }
        if t < self.min_valid {
            return Err(Error::OutOfBounds);
        }
        Err(Error::OutOfOrderSample)
    }

    /// Checks a sample against the series' latest one, pending in this transaction
    /// or else committed: `Ok(true)` to queue it, `Ok(false)` for an exact repeat
    /// (accepted, nothing to do).
    fn check(&self, s: &MemSeries, t: i64, v: ValueRef<'_>) -> Result<bool, Error> {
        if let Some((last_t, p)) = self.pending_last.get(&s.r) {
            return check_order(t, v, *last_t, self.pending_value(*p));
        }
        let mut d = s.lock();
        if d.chunks.is_empty() && d.last_t == i64::MIN {
            return Ok(true);
        }
        if t == d.last_t {
            d.resolve_last(self.head.chunk_files.as_ref());
        }
        check_order(t, v, d.last_t, d.last.as_ref())
    }

    /// The kind of the series' latest sample, pending or committed.
    fn last_kind(&self, s: &MemSeries) -> Kind {
        match self.pending_last.get(&s.r) {
            Some((_, p)) => self.pending_value(*p).kind(),
            None => s.lock().last.as_ref().kind(),
        }
    }

    /// The batch a sample of type `st` (or metadata, `None`) for series `r` goes
    /// into: Prometheus's `getCurrentBatch`.
    fn batch_for(&mut self, st: Option<SampleType>, r: Ref) -> usize {
        let last = self.batches.len().checked_sub(1);
        let new_batch = match (last, st) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(_), Some(st)) => match (self.types_in_batch.get(&r).copied(), st) {
                (Some(prev), st) if prev == st => false,
                (None, SampleType::Float) => false,
                // A float after a histogram of the same series.
                (Some(_), SampleType::Float) => true,
                // Histograms after floats are fine: floats are applied first.
                (None, st) => {
                    self.types_in_batch.insert(r, st);
                    false
                }
                // One histogram kind after another.
                (Some(_), _) => true,
            },
        };
        if !new_batch {
            return last.unwrap_or(0);
        }
        self.types_in_batch.clear();
        if let Some(st) = st
            && st != SampleType::Float
        {
            self.types_in_batch.insert(r, st);
        }
        self.batches.push(Batch::default());
        self.batches.len() - 1
    }

    fn push_histogram(
        &mut self,
        s: Arc<MemSeries>,
        t: i64,
        h: &Histogram,
    ) -> Result<SeriesRef, Error> {
        let r = s.r;
        match self.place(&s, t, ValueRef::Histogram(h))? {
            Some(true) => {}
            Some(false) => return Ok(r),
            None => {
                self.ooo.push((s, t, Value::Histogram(Box::new(h.clone()))));
                return Ok(r);
            }
        }
        let st = if h.uses_custom_buckets() {
            SampleType::CustomBucketsHistogram
        } else {
            SampleType::Histogram
        };
        let batch = self.batch_for(Some(st), r);
        let b = &mut self.batches[batch];
        b.histograms.push(RefHistogram { r, t, h: h.clone() });
        b.histogram_series.push(s);
        let i = b.histograms.len() - 1;
        self.pending_last
            .insert(r, (t, Pending::Histogram { batch, i }));
        Ok(r)
    }

    fn push_float_histogram(
        &mut self,
        s: Arc<MemSeries>,
        t: i64,
        h: &FloatHistogram,
    ) -> Result<SeriesRef, Error> {
        let r = s.r;
        match self.place(&s, t, ValueRef::FloatHistogram(h))? {
            Some(true) => {}
            Some(false) => return Ok(r),
            None => {
                self.ooo
                    .push((s, t, Value::FloatHistogram(Box::new(h.clone()))));
                return Ok(r);
            }
        }
        let st = if h.uses_custom_buckets() {
            SampleType::CustomBucketsFloatHistogram
        } else {
            SampleType::FloatHistogram
        };
        let batch = self.batch_for(Some(st), r);
        let b = &mut self.batches[batch];
        b.float_histograms
            .push(RefFloatHistogram { r, t, h: h.clone() });
        b.float_histogram_series.push(s);
        let i = b.float_histograms.len() - 1;
        self.pending_last
            .insert(r, (t, Pending::FloatHistogram { batch, i }));
        Ok(r)
    }

    /// Checks an exemplar and keeps it for the commit (Prometheus's
    /// `headAppender.AppendExemplar`): like Prometheus, it never creates a series,
    /// and a repeat or a disabled storage is a silent no-op.
    fn queue_exemplar(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        e: &Exemplar,
    ) -> Result<SeriesRef, Error> {
        let head = self.head;
        if !head.exemplars.enabled() {
            return Ok(r.unwrap_or(0));
        }
        let s = match r.and_then(|r| head.series_by_ref(r)) {
            Some(s) => s,
            None => head.series_by_labels(labels).ok_or(Error::NotFound)?,
        };
        // An exemplar without its own timestamp takes its sample's (see the trait).
        let ts = match e.ts {
            Some(t) => t,
            None => match self.pending_last.get(&s.r) {
                Some((t, _)) => *t,
                None => {
                    let last = s.lock().last_t;
                    if last == i64::MIN {
                        // No sample to take a time from: nothing to attach it to.
                        return Ok(s.r);
                    }
                    last
                }
            },
        };
        let stored = crate::exemplar::StoredExemplar {
            labels: e.labels.clone(),
            value: e.value,
            ts,
            has_ts: e.ts.is_some(),
        };
        match head.exemplars.validate(&s.labels, &stored) {
            Ok(()) => {}
            Err(Error::DuplicateExemplar | Error::ExemplarsDisabled) => return Ok(s.r),
            Err(err) => return Err(err),
        }
        let r = s.r;
        self.exemplars.push((s, stored));
        Ok(r)
    }

    /// The WAL records of this transaction, in Prometheus's order: new series, then
    /// per batch its metadata, floats, histograms (exponential, then custom
    /// buckets) and float histograms; exemplars last, so that a reader of the WAL
    /// (remote write) never sees an exemplar before its sample.
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
        for batch in &self.batches {
            if !batch.metadata.is_empty() {
                let md: Vec<record::RefMetadata> = batch
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
            if !batch.floats.is_empty() {
                let mut b = Vec::new();
                record::encode_samples(&batch.floats, &mut b);
                recs.push(b);
            }
            if !batch.histograms.is_empty() {
                recs.extend(record::encode_histograms(&batch.histograms));
            }
            if !batch.float_histograms.is_empty() {
                recs.extend(record::encode_float_histograms(&batch.float_histograms));
            }
        }
        if !self.exemplars.is_empty() {
            let ex: Vec<record::RefExemplar> = self
                .exemplars
                .iter()
                .map(|(s, e)| record::RefExemplar {
                    r: s.r,
                    t: e.ts,
                    v: e.value,
                    labels: e.labels.clone(),
                })
                .collect();
            let mut b = Vec::new();
            record::encode_exemplars(&ex, &mut b);
            recs.push(b);
        }
        recs
    }
}

/// The WAL/WBL records of out-of-order samples: one record per kind present.
fn ooo_records(ooo: &[(Arc<MemSeries>, i64, Value)]) -> Vec<Vec<u8>> {
    use ember_wal::record;
    let (mut floats, mut hs, mut fhs) = (Vec::new(), Vec::new(), Vec::new());
    for (s, t, v) in ooo {
        let (r, t) = (s.r, *t);
        match v {
            Value::Float(v) => floats.push(RefSample { r, t, v: *v }),
            Value::Histogram(h) => hs.push(RefHistogram {
                r,
                t,
                h: (**h).clone(),
            }),
            Value::FloatHistogram(h) => fhs.push(RefFloatHistogram {
                r,
                t,
                h: (**h).clone(),
            }),
        }
    }
    let mut recs = Vec::new();
    if !floats.is_empty() {
        let mut b = Vec::new();
        record::encode_samples(&floats, &mut b);
        recs.push(b);
    }
    if !hs.is_empty() {
        recs.extend(record::encode_histograms(&hs));
    }
    if !fhs.is_empty() {
        recs.extend(record::encode_float_histograms(&fhs));
    }
    recs
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
        if t < self.min_valid && self.ooo_window == 0 {
            return Err(Error::OutOfBounds);
        }
        let s = self.series(r, labels)?;
        if is_stale_nan(v) {
            // Callers (scrape, rules) mark staleness with a float whatever the
            // series holds; a histogram series gets a histogram marker, so that it
            // does not cut a float chunk of one sample.
            match self.last_kind(&s) {
                Kind::Histogram => return self.push_histogram(s, t, &stale_histogram(v)),
                Kind::FloatHistogram => {
                    return self.push_float_histogram(s, t, &stale_float_histogram(v));
                }
                Kind::Float => {}
            }
        }
        let r = s.r;
        match self.place(&s, t, ValueRef::Float(v))? {
            Some(true) => {}
            Some(false) => return Ok(r),
            None => {
                self.ooo.push((s, t, Value::Float(v)));
                return Ok(r);
            }
        }
        let batch = self.batch_for(Some(SampleType::Float), r);
        let b = &mut self.batches[batch];
        b.floats.push(RefSample { r, t, v });
        b.float_series.push(s);
        self.pending_last.insert(r, (t, Pending::Float(v)));
        Ok(r)
    }

    fn append_histogram(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        t: Timestamp,
        h: HistogramRef<'_>,
    ) -> Result<SeriesRef, Error> {
        if t < self.min_valid && self.ooo_window == 0 {
            return Err(Error::OutOfBounds);
        }
        // Validated before the series is looked up, so that an invalid histogram
        // does not create one.
        match h {
            HistogramRef::Int(h) => hist::validate(h),
            HistogramRef::Float(h) => hist::validate_float(h),
        }
        .map_err(Error::InvalidSample)?;
        let s = self.series(r, labels)?;
        match h {
            HistogramRef::Int(h) => self.push_histogram(s, t, h),
            HistogramRef::Float(h) => self.push_float_histogram(s, t, h),
        }
    }

    fn append_exemplar(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        e: &Exemplar,
    ) -> Result<SeriesRef, Error> {
        self.queue_exemplar(r, labels, e)
    }

    fn update_metadata(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        m: &Metadata,
    ) -> Result<SeriesRef, Error> {
        let s = self.series(r, labels)?;
        let r = s.r;
        let batch = self.batch_for(None, r);
        self.batches[batch].metadata.push((s, m.clone()));
        Ok(r)
    }

    fn commit(self: Box<Self>) -> Result<(), Error> {
        let this = *self;
        let head = this.head;
        let opts = &head.opts;
        let files = head.chunk_files.as_ref();
        // Log first: a sample is acknowledged only once it is in the WAL. The guard is
        // held while applying so that the WAL's order is the head's order.
        let has_data = !this.created.is_empty()
            || this.batches.iter().any(|b| !b.is_empty())
            || !this.ooo.is_empty()
            || !this.exemplars.is_empty();
        let _wal_guard = match &head.wal {
            Some(w) if has_data => {
                let mut w = w.lock().unwrap_or_else(|p| p.into_inner());
                let mut recs = this.wal_records();
                // As Prometheus: out-of-order samples go to the WAL with the others
                // (what remote write reads) and to the write-behind log (what
                // replay rebuilds the out-of-order data from).
                let ooo_recs = ooo_records(&this.ooo);
                let wal_len = recs.len();
                recs.extend(ooo_recs.iter().cloned());
                let refs: Vec<&[u8]> = recs.iter().map(Vec::as_slice).collect();
                w.log(&refs)
                    .map_err(|e| Error::Io(format!("writing WAL: {e}")))?;
                if recs.len() > wal_len
                    && let Some(wbl) = head.wbl.lock().unwrap_or_else(|p| p.into_inner()).as_mut()
                {
                    let refs: Vec<&[u8]> = ooo_recs.iter().map(Vec::as_slice).collect();
                    wbl.log(&refs)
                        .map_err(|e| Error::Io(format!("writing WBL: {e}")))?;
                }
                Some(w)
            }
            _ => None,
        };
        let (mut min, mut max) = (i64::MAX, i64::MIN);
        let (mut appended, mut histograms, mut rejected) = (0u64, 0u64, 0u64);
        let mut apply = |s: &MemSeries, t: i64, v: Value| {
            let is_histogram = !matches!(v, Value::Float(_));
            // Another appender may have committed newer samples since the checks.
            if s.lock().apply(s.r, t, v, opts, files) {
                appended += 1;
                histograms += is_histogram as u64;
                min = min.min(t);
                max = max.max(t);
            } else {
                rejected += 1;
            }
        };
        for b in this.batches {
            // Floats first, then histograms: a batch may hold a series' floats
            // followed by its histograms, never the other way round.
            for (x, s) in b.floats.into_iter().zip(&b.float_series) {
                apply(s, x.t, Value::Float(x.v));
            }
            for (x, s) in b.histograms.into_iter().zip(&b.histogram_series) {
                apply(s, x.t, Value::Histogram(Box::new(x.h)));
            }
            for (x, s) in b
                .float_histograms
                .into_iter()
                .zip(&b.float_histogram_series)
            {
                apply(s, x.t, Value::FloatHistogram(Box::new(x.h)));
            }
            for (s, m) in b.metadata {
                s.lock().metadata = Some(Box::new(m));
            }
        }
        if min <= max {
            head.update_bounds(min, max);
        }
        let mut ooo_appended = 0u64;
        for (s, t, v) in this.ooo {
            if s.lock().ooo.get_or_insert_default().insert(t, v) {
                ooo_appended += 1;
            } else {
                rejected += 1;
            }
        }
        appended += ooo_appended;
        // Exemplars after their samples; refusals (another appender got there
        // first) are counted by the storage and otherwise ignored, as in Prometheus.
        for (s, e) in this.exemplars {
            let _ = head.exemplars.add(&s.labels, e);
        }
        let st = &head.stats;
        st.out_of_order_appended
            .fetch_add(ooo_appended, Ordering::Relaxed);
        st.samples_appended.fetch_add(appended, Ordering::Relaxed);
        st.histogram_samples_appended
            .fetch_add(histograms, Ordering::Relaxed);
        st.out_of_order_samples
            .fetch_add(rejected, Ordering::Relaxed);
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
            head_max: self.max_time(),
            ooo_window: self.out_of_order_window(),
            ooo: Vec::new(),
            exemplars: Vec::new(),
            batches: Vec::new(),
            types_in_batch: FastMap::default(),
            pending_last: FastMap::default(),
            created: Vec::new(),
        })
    }
}

/// A copy of one chunk taken for a query, so readers never hold series locks while
/// iterating.
#[derive(Clone, Debug)]
struct ChunkSnapshot {
    max_t: i64,
    encoding: u8,
    bytes: Vec<u8>,
}

/// A series as seen by a query.
#[derive(Debug)]
struct HeadSeries {
    labels: Labels,
    chunks: Vec<ChunkSnapshot>,
    /// Out-of-order samples in range, deletions already applied.
    ooo: Vec<(i64, ember_storage::list::Value)>,
    deleted: Vec<(i64, i64)>,
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
                encoding: c.encoding,
                bytes: &c.bytes,
            })
            .collect();
        let in_order = crate::iter::without_deleted(
            ChunksIterator::new(chunks, self.mint, self.maxt),
            &self.deleted,
        );
        if self.ooo.is_empty() {
            return in_order;
        }
        // On equal timestamps the in-order sample wins.
        Box::new(ember_storage::merge::ChainIterator::new(vec![
            in_order,
            Box::new(ember_storage::list::ListIterator::new(&self.ooo)),
        ]))
    }
}

/// A head value as the storage traits' list series holds it.
fn to_list_value(v: Value) -> ember_storage::list::Value {
    use ember_storage::list::Value as L;
    match v {
        Value::Float(f) => L::Float(f),
        Value::Histogram(h) => L::Histogram(Arc::new(*h)),
        Value::FloatHistogram(h) => L::FloatHistogram(Arc::new(*h)),
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
    fn snapshot(&self, s: &MemSeries, tombstones: bool) -> Option<Result<HeadSeries, Error>> {
        let deleted = if tombstones {
            self.head.deleted_of(s.r)
        } else {
            Vec::new()
        };
        let d = s.lock();
        let mut chunks: Vec<ChunkSnapshot> = Vec::new();
        // A chunk wholly deleted is left out, so that a series deleted over the
        // queried range is not returned at all (as in Prometheus).
        for c in d.chunks.iter().filter(|c| {
            c.max_t >= self.mint
                && c.min_t <= self.maxt
                && !crate::iter::covered(c.min_t, c.max_t, &deleted)
        }) {
            match c.bytes(self.head.chunk_files.as_ref()) {
                Ok(bytes) => chunks.push(ChunkSnapshot {
                    max_t: c.max_t,
                    encoding: c.encoding(),
                    bytes,
                }),
                Err(e) => return Some(Err(e)),
            }
        }
        let ooo = match d.ooo.as_ref().map(|o| o.samples(self.mint, self.maxt)) {
            None => Vec::new(),
            Some(Ok(v)) => v
                .into_iter()
                .filter(|(t, _)| !crate::iter::covered(*t, *t, &deleted))
                .map(|(t, v)| (t, to_list_value(v)))
                .collect(),
            Some(Err(e)) => return Some(Err(Error::Io(format!("out-of-order chunk: {e}")))),
        };
        drop(d);
        (!chunks.is_empty() || !ooo.is_empty()).then(|| {
            Ok(HeadSeries {
                labels: s.labels.clone(),
                chunks,
                ooo,
                deleted,
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
        // Deletions are rare: without any, no per-series lookup.
        let tombstones = !self
            .tombstones
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty();
        let mut out: Vec<HeadSeries> = Vec::new();
        for s in refs.into_iter().filter_map(|r| self.series_by_ref(r)) {
            match q.snapshot(&s, tombstones) {
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
pub(crate) mod tests {
    use super::*;
    use ember_model::histogram::CounterResetHint;
    use ember_model::{MatchType, Matcher};
    use ember_storage::ValueType;

    fn lbl(job: &str) -> Labels {
        Labels::from_pairs([("__name__", "up"), ("job", job)])
    }

    #[test]
    fn hash_buckets_hold_colliding_series() {
        let s = |r, job| Arc::new(MemSeries::new(r, lbl(job)));
        let mut b = HashBucket::One(s(1, "a"));
        b.push(s(2, "b"));
        b.push(s(3, "c"));
        for (job, r) in [("a", 1), ("b", 2), ("c", 3)] {
            assert_eq!(b.find(&lbl(job)).map(|s| s.r), Some(r));
        }
        assert!(b.find(&lbl("d")).is_none());
        assert!(b.remove(2));
        assert!(b.find(&lbl("b")).is_none());
        assert!(b.remove(1));
        assert!(matches!(&b, HashBucket::One(x) if x.r == 3));
        assert!(b.remove(7));
        assert!(!b.remove(3));
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

    fn span(offset: i32, length: u32) -> ember_model::histogram::Span {
        ember_model::histogram::Span { offset, length }
    }

    /// Prometheus's `tsdbutil.GenerateTestHistogram`.
    pub(crate) fn test_histogram(i: i64) -> Histogram {
        Histogram {
            count: 12 + (i * 9) as u64,
            zero_count: 2 + i as u64,
            zero_threshold: 0.001,
            sum: 18.4 * (i + 1) as f64,
            schema: 1,
            positive_spans: vec![span(0, 2), span(1, 2)],
            positive_buckets: vec![i + 1, 1, -1, 0],
            negative_spans: vec![span(0, 2), span(1, 2)],
            negative_buckets: vec![i + 1, 1, -1, 0],
            ..Default::default()
        }
    }

    /// Prometheus's `tsdbutil.GenerateTestHistograms`.
    pub(crate) fn test_histograms(n: i64) -> Vec<Histogram> {
        (0..n)
            .map(|i| {
                let mut h = test_histogram(i);
                if i > 0 {
                    h.counter_reset_hint = CounterResetHint::NotCounterReset;
                }
                h
            })
            .collect()
    }

    /// Prometheus's `tsdbutil.GenerateTestFloatHistograms`.
    pub(crate) fn test_float_histograms(n: i64) -> Vec<FloatHistogram> {
        (0..n)
            .map(|i| {
                let f = i as f64;
                FloatHistogram {
                    counter_reset_hint: if i > 0 {
                        CounterResetHint::NotCounterReset
                    } else {
                        CounterResetHint::Unknown
                    },
                    count: 12.0 + f * 9.0,
                    zero_count: 2.0 + f,
                    zero_threshold: 0.001,
                    sum: 18.4 * (f + 1.0),
                    schema: 1,
                    positive_spans: vec![span(0, 2), span(1, 2)],
                    positive_buckets: vec![f + 1.0, f + 2.0, f + 1.0, f + 1.0],
                    negative_spans: vec![span(0, 2), span(1, 2)],
                    negative_buckets: vec![f + 1.0, f + 2.0, f + 1.0, f + 1.0],
                    ..Default::default()
                }
            })
            .collect()
    }

    /// Prometheus's `tsdbutil.GenerateTestCustomBucketsHistogram`.
    pub(crate) fn test_custom_histogram(i: i64) -> Histogram {
        Histogram {
            count: 5 + (i * 4) as u64,
            sum: 18.4 * (i + 1) as f64,
            schema: ember_model::histogram::CUSTOM_BUCKETS_SCHEMA,
            positive_spans: vec![span(0, 2), span(1, 2)],
            positive_buckets: vec![i + 1, 1, -1, 0],
            custom_values: vec![0.0, 1.0, 2.0, 3.0, 4.0],
            ..Default::default()
        }
    }

    /// A sample of any kind, as read back.
    #[derive(Clone, Debug, PartialEq)]
    pub(crate) enum S {
        F(f64),
        H(Histogram),
        Fh(FloatHistogram),
    }

    pub(crate) fn read_samples(it: &mut dyn SampleIterator) -> Vec<(i64, S)> {
        let mut v = Vec::new();
        loop {
            match it.next() {
                ValueType::None => break,
                ValueType::Float => {
                    let (t, x) = it.at();
                    v.push((t, S::F(x)));
                }
                ValueType::Histogram => {
                    let mut h = Histogram::default();
                    let t = it.at_histogram(&mut h);
                    v.push((t, S::H(h)));
                }
                ValueType::FloatHistogram => {
                    let mut h = FloatHistogram::default();
                    let t = it.at_float_histogram(&mut h);
                    v.push((t, S::Fh(h)));
                }
            }
        }
        assert!(it.err().is_none(), "{:?}", it.err());
        v
    }

    fn query(q: &dyn Querier, name: &str, value: &str) -> Vec<(i64, S)> {
        let m = Matcher::new(MatchType::Equal, name, value).unwrap();
        let set: Vec<_> = q.select(true, None, &[m]).collect();
        assert_eq!(set.len(), 1);
        let s = set[0].as_ref().unwrap();
        read_samples(s.iter().as_mut())
    }

    fn encodings(h: &Head, l: &Labels) -> Vec<u8> {
        let (s, _) = h.get_or_create(l).unwrap();
        s.lock().chunks.iter().map(|c| c.encoding()).collect()
    }

    fn headers(h: &Head, l: &Labels) -> Vec<ember_chunkenc::CounterResetHeader> {
        let (s, _) = h.get_or_create(l).unwrap();
        s.lock()
            .chunks
            .iter()
            .map(|c| ember_chunkenc::CounterResetHeader::from_flags(c.bytes(None).unwrap()[2]))
            .collect()
    }

    fn ab() -> Labels {
        Labels::from_pairs([("a", "b")])
    }

    /// Prometheus's `TestMemSeries_appendHistogram`: a new chunk at the chunk-range
    /// boundary, none for a sample that only widens the bucket layout.
    #[test]
    fn histogram_chunk_cut_at_range_end_and_recoded_in_place() {
        let opts = HeadOptions {
            chunk_range: 1000,
            ..Default::default()
        };
        let s = MemSeries::new(1, Labels::empty());
        let mut d = s.lock();
        let hs = test_histograms(4);
        let mut wider = hs[3].clone();
        wider.count += 1;
        wider.sum += 1.23;
        wider.positive_spans[1].length = 3;
        wider.positive_buckets.push(1);
        for (t, h) in [998, 999, 1000, 1001].into_iter().zip(&hs) {
            assert!(d.apply(1, t, Value::Histogram(Box::new(h.clone())), &opts, None));
        }
        let bounds = |d: &SeriesData| -> Vec<(i64, i64)> {
            d.chunks.iter().map(|c| (c.min_t, c.max_t)).collect()
        };
        assert_eq!(bounds(&d), vec![(998, 999), (1000, 1001)]);
        assert!(d.apply(1, 1002, Value::Histogram(Box::new(wider)), &opts, None));
        assert_eq!(bounds(&d), vec![(998, 999), (1000, 1002)]);
        assert!(!d.apply(
            1,
            1002,
            Value::Histogram(Box::new(hs[0].clone())),
            &opts,
            None
        ));
    }

    /// Prometheus's `TestHistogramCounterResetHeader`, integer and float.
    #[test]
    fn histogram_counter_reset_headers() {
        use ember_chunkenc::CounterResetHeader::{CounterReset, NotCounterReset, Unknown};
        for float in [false, true] {
            let h = Head::new(HeadOptions {
                chunk_range: 1000,
                ..Default::default()
            });
            let l = ab();
            let mut ts = 0;
            let mut append = |x: &Histogram| {
                ts += 1;
                let mut app = h.appender();
                let f = x.to_float();
                let v = if float {
                    HistogramRef::Float(&f)
                } else {
                    HistogramRef::Int(x)
                };
                app.append_histogram(None, &l, ts, v).unwrap();
                app.commit().unwrap();
            };
            let mut want = Vec::new();
            let mut x = test_histogram(0);
            x.positive_buckets = vec![100, 1, 1, 1];
            x.negative_buckets = vec![100, 1, 1, 1];
            x.count = 814;
            append(&x);
            want.push(Unknown);
            assert_eq!(headers(&h, &l), want, "float={float}");
            *x.positive_buckets.last_mut().unwrap() += 1;
            x.count += 1;
            append(&x);
            assert_eq!(headers(&h, &l), want);
            *x.positive_buckets.last_mut().unwrap() -= 1;
            x.count -= 1;
            append(&x);
            want.push(CounterReset);
            assert_eq!(headers(&h, &l), want);
            // Cut two chunks by size and time: they continue the counter.
            let n = want.len();
            while headers(&h, &l).len() < n + 2 {
                append(&x);
            }
            want.extend([NotCounterReset, NotCounterReset]);
            assert_eq!(headers(&h, &l), want);
            x.schema += 1;
            append(&x);
            want.push(Unknown);
            assert_eq!(headers(&h, &l), want);
            x.zero_threshold += 0.01;
            append(&x);
            want.push(Unknown);
            assert_eq!(headers(&h, &l), want);
            x.positive_spans[1].length -= 1;
            x.positive_buckets.remove(0);
            x.count = 414;
            append(&x);
            want.push(CounterReset);
            assert_eq!(headers(&h, &l), want);
            x.negative_spans[1].length -= 1;
            x.negative_buckets.remove(0);
            x.count = 14;
            append(&x);
            want.push(CounterReset);
            assert_eq!(headers(&h, &l), want);
            let n = want.len();
            while headers(&h, &l).len() < n + 2 {
                append(&x);
            }
            want.extend([NotCounterReset, NotCounterReset]);
            assert_eq!(headers(&h, &l), want);
            *x.positive_buckets.last_mut().unwrap() -= 1;
            x.count = 13;
            append(&x);
            want.push(CounterReset);
            *x.negative_buckets.last_mut().unwrap() -= 1;
            x.count = 12;
            append(&x);
            want.push(CounterReset);
            assert_eq!(headers(&h, &l), want, "float={float}");
        }
    }

    /// Prometheus's `TestHistogramStaleSample`: a float staleness marker in a
    /// histogram series is stored as a histogram marker in the same chunk, and the
    /// series continues in a new chunk after it.
    #[test]
    fn histogram_staleness_markers() {
        use ember_model::value::stale_nan;
        for float in [false, true] {
            let h = Head::new(HeadOptions {
                chunk_range: 100_000,
                ..Default::default()
            });
            let l = ab();
            let hs = test_histograms(40);
            let mut want: Vec<(i64, S)> = Vec::new();
            let add =
                |app: &mut Box<dyn Appender + '_>, want: &mut Vec<(i64, S)>, x: &Histogram| {
                    let t = 100 * want.len() as i64;
                    if float {
                        let f = x.to_float();
                        app.append_histogram(None, &l, t, HistogramRef::Float(&f))
                            .unwrap();
                        want.push((t, S::Fh(f)));
                    } else {
                        app.append_histogram(None, &l, t, HistogramRef::Int(x))
                            .unwrap();
                        want.push((t, S::H(x.clone())));
                    }
                };
            let stale = |t: i64| {
                if float {
                    (t, S::Fh(stale_float_histogram(stale_nan())))
                } else {
                    (t, S::H(stale_histogram(stale_nan())))
                }
            };
            // The marker in the same transaction as the histograms.
            let mut app = h.appender();
            for x in &hs[..20] {
                add(&mut app, &mut want, x);
            }
            let t = 100 * want.len() as i64 + 1;
            app.append(None, &l, t, stale_nan()).unwrap();
            want.push(stale(t));
            app.commit().unwrap();
            assert_eq!(encodings(&h, &l).len(), 1);
            // Then in a transaction of its own, after the series came back.
            let mut app = h.appender();
            for x in &hs[20..] {
                add(&mut app, &mut want, x);
            }
            app.commit().unwrap();
            let mut app = h.appender();
            let t = 100 * want.len() as i64 + 1;
            app.append(None, &l, t, stale_nan()).unwrap();
            want.push(stale(t));
            // A repeated marker is a no-op.
            app.append(None, &l, t, stale_nan()).unwrap();
            app.commit().unwrap();
            let enc = if float {
                Encoding::FloatHistogram
            } else {
                Encoding::Histogram
            } as u8;
            assert_eq!(encodings(&h, &l), vec![enc, enc]);

            let q = h.querier(i64::MIN, i64::MAX).unwrap();
            let got = query(q.as_ref(), "a", "b");
            assert_eq!(got.len(), want.len());
            for (i, ((gt, g), (wt, w))) in got.iter().zip(&want).enumerate() {
                assert_eq!(gt, wt);
                let (gs, ws) = match (g, w) {
                    (S::H(g), S::H(w)) => (g.sum, w.sum),
                    (S::Fh(g), S::Fh(w)) => (g.sum, w.sum),
                    _ => panic!("{g:?} for {w:?}"),
                };
                if is_stale_nan(ws) {
                    assert!(is_stale_nan(gs), "sample {i}");
                    continue;
                }
                // The first sample of each chunk reads back with an unknown hint.
                let mut w = w.clone();
                if i == 0 || i == 21 {
                    match &mut w {
                        S::H(x) => x.counter_reset_hint = CounterResetHint::Unknown,
                        S::Fh(x) => x.counter_reset_hint = CounterResetHint::Unknown,
                        S::F(_) => {}
                    }
                }
                assert_eq!(g, &w, "sample {i}");
            }
        }
    }

    /// Prometheus's `TestAppendingDifferentEncodingToSameSeries`.
    #[test]
    fn switching_sample_kinds_cuts_chunks() {
        let h = Head::new(HeadOptions::default());
        let l = ab();
        let hists = test_histograms(10);
        let fhists = test_float_histograms(10);
        let (hh, fh) = (
            |i: usize| S::H(hists[i].clone()),
            |i: usize| S::Fh(fhists[i].clone()),
        );
        type Step = (Vec<(i64, S)>, Result<usize, Error>);
        let steps: Vec<Step> = vec![
            (vec![(100, hh(0))], Ok(1)),
            (vec![(200, S::F(2.0))], Ok(2)),
            (vec![(210, fh(0))], Ok(3)),
            (vec![(220, hh(1))], Ok(4)),
            (vec![(230, fh(3))], Ok(5)),
            (vec![(100, hh(2))], Err(Error::OutOfOrderSample)),
            (vec![(300, hh(3))], Ok(6)),
            (vec![(100, S::F(2.0))], Err(Error::OutOfOrderSample)),
            (vec![(100, fh(4))], Err(Error::OutOfOrderSample)),
            (
                vec![(400, S::F(4.0)), (500, hh(5)), (600, S::F(6.0))],
                Ok(9),
            ),
            (vec![(700, hh(7)), (800, S::F(8.0)), (900, hh(9))], Ok(12)),
            (vec![(1000, fh(7)), (1100, hh(9))], Ok(14)),
        ];
        let mut want: Vec<(i64, S)> = Vec::new();
        for (samples, res) in steps {
            let mut app = h.appender();
            let mut err = None;
            for (t, s) in &samples {
                let r = match s {
                    S::F(v) => app.append(None, &l, *t, *v),
                    S::H(x) => app.append_histogram(None, &l, *t, HistogramRef::Int(x)),
                    S::Fh(x) => app.append_histogram(None, &l, *t, HistogramRef::Float(x)),
                };
                if let Err(e) = r {
                    err = Some(e);
                }
            }
            match res {
                Ok(n) => {
                    assert_eq!(err, None);
                    app.commit().unwrap();
                    want.extend(samples);
                    assert_eq!(encodings(&h, &l).len(), n);
                }
                Err(e) => {
                    assert_eq!(err, Some(e));
                    app.rollback().unwrap();
                }
            }
        }
        // Every histogram here starts a chunk, so it reads back with no hint.
        for (_, s) in &mut want {
            match s {
                S::H(x) => x.counter_reset_hint = CounterResetHint::Unknown,
                S::Fh(x) => x.counter_reset_hint = CounterResetHint::Unknown,
                S::F(_) => {}
            }
        }
        let q = h.querier(i64::MIN, i64::MAX).unwrap();
        assert_eq!(query(q.as_ref(), "a", "b"), want);
    }

    #[test]
    fn histogram_append_errors() {
        let h = Head::new(HeadOptions::default());
        let l = ab();
        let x = test_histogram(1);
        let mut app = h.appender();
        app.append(None, &l, 1000, 10.0).unwrap();
        app.commit().unwrap();
        let mut app = h.appender();
        app.append_histogram(None, &l, 2000, HistogramRef::Int(&x))
            .unwrap();
        app.commit().unwrap();
        let mut app = h.appender();
        // Prometheus's TestHeadAppender_AppendFloatWithSameTimestampAsPreviousHistogram.
        assert_eq!(
            app.append(None, &l, 2000, 10.0),
            Err(Error::DuplicateSampleForTimestamp)
        );
        // The same histogram again is fine, a different one or a float histogram not.
        assert!(
            app.append_histogram(None, &l, 2000, HistogramRef::Int(&x))
                .is_ok()
        );
        let y = test_histogram(2);
        assert_eq!(
            app.append_histogram(None, &l, 2000, HistogramRef::Int(&y)),
            Err(Error::DuplicateSampleForTimestamp)
        );
        assert_eq!(
            app.append_histogram(None, &l, 2000, HistogramRef::Float(&x.to_float())),
            Err(Error::DuplicateSampleForTimestamp)
        );
        assert_eq!(
            app.append_histogram(None, &l, 1999, HistogramRef::Int(&y)),
            Err(Error::OutOfOrderSample)
        );
        // Invalid histograms are refused before a series is created for them.
        let bad = Histogram {
            count: 1,
            ..test_histogram(1)
        };
        let n = h.num_series();
        let other = Labels::from_pairs([("a", "c")]);
        assert!(matches!(
            app.append_histogram(None, &other, 3000, HistogramRef::Int(&bad)),
            Err(Error::InvalidSample(_))
        ));
        let bad = FloatHistogram {
            schema: 9,
            ..x.to_float()
        };
        assert!(matches!(
            app.append_histogram(None, &other, 3000, HistogramRef::Float(&bad)),
            Err(Error::InvalidSample(_))
        ));
        assert_eq!(h.num_series(), n);
        // In-transaction ordering holds across kinds too.
        app.append_histogram(None, &l, 3000, HistogramRef::Int(&y))
            .unwrap();
        assert_eq!(
            app.append(None, &l, 3000, 1.0),
            Err(Error::DuplicateSampleForTimestamp)
        );
        assert_eq!(
            app.append(None, &l, 2500, 1.0),
            Err(Error::OutOfOrderSample)
        );
        app.commit().unwrap();
        assert_eq!(
            h.stats().histogram_samples_appended.load(Ordering::Relaxed),
            2
        );
    }

    #[test]
    fn custom_bucket_histograms() {
        let h = Head::new(HeadOptions::default());
        let l = ab();
        let mut app = h.appender();
        let mut want = Vec::new();
        for i in 0..5 {
            let mut x = test_custom_histogram(i);
            if i > 0 {
                x.counter_reset_hint = CounterResetHint::NotCounterReset;
            }
            app.append_histogram(None, &l, i * 1000, HistogramRef::Int(&x))
                .unwrap();
            want.push((i * 1000, S::H(x)));
        }
        app.commit().unwrap();
        let q = h.querier(i64::MIN, i64::MAX).unwrap();
        assert_eq!(query(q.as_ref(), "a", "b"), want);
        assert_eq!(encodings(&h, &l), vec![Encoding::Histogram as u8]);
    }

    #[test]
    fn full_histogram_chunks_go_to_chunks_head_with_their_encoding() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = Head::new(HeadOptions {
            chunk_range: 1000,
            ..Default::default()
        });
        h.set_chunk_files(HeadChunkFiles::create(dir.path()).unwrap());
        let l = ab();
        let hs = test_histograms(4);
        let fs = test_float_histograms(4);
        let mut app = h.appender();
        // One chunk of each kind per range; the open one stays in memory.
        for (i, t) in [10, 20, 1010, 1020, 2010].into_iter().enumerate() {
            if !(1000..=2000).contains(&t) {
                app.append_histogram(None, &l, t, HistogramRef::Int(&hs[i % 4]))
                    .unwrap();
            } else {
                app.append_histogram(None, &l, t, HistogramRef::Float(&fs[i % 4]))
                    .unwrap();
            }
        }
        app.commit().unwrap();
        let (s, _) = h.get_or_create(&l).unwrap();
        let d = s.lock();
        let stores: Vec<(u8, bool)> = d
            .chunks
            .iter()
            .map(|c| (c.encoding(), matches!(c.store, ChunkStore::Disk { .. })))
            .collect();
        assert_eq!(stores, vec![(2, true), (3, true), (2, false)]);
        let files = h.chunk_files.as_ref().unwrap().lock().unwrap();
        for c in &d.chunks[..2] {
            let ChunkStore::Disk { r, encoding, .. } = c.store else {
                unreachable!()
            };
            let (e, bytes) = files.read(r).unwrap();
            assert_eq!(e, encoding);
            assert_eq!(
                ember_chunkenc::CounterResetHeader::from_flags(bytes[2]),
                ember_chunkenc::CounterResetHeader::Unknown
            );
        }
        drop(files);
        drop(d);
        let q = h.querier(i64::MIN, i64::MAX).unwrap();
        assert_eq!(query(q.as_ref(), "a", "b").len(), 5);
    }
}
