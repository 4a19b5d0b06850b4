//! Leveled compaction: adjacent blocks are merged into larger ones along
//! exponentially growing ranges (block duration × 3ⁿ), as Prometheus's compactor
//! plans them, so that long retention means few, large blocks and small indexes.
//!
//! Chunks are copied as they are when the merged series' chunks do not overlap and
//! nothing in them is deleted. Overlapping chunks are decoded, merged (the first
//! block wins on equal timestamps) and re-encoded as Prometheus's vertical
//! compaction does (a new chunk every 120 samples or when the sample kind changes);
//! a chunk with deleted samples is re-encoded on its own, as Prometheus's
//! `populateWithDelChunkSeriesIterator` does. Floats, integer and float histograms
//! all take these paths; histogram chunks are re-encoded with the chunk encoders'
//! own rules (new chunks on counter resets and layout changes).

use crate::block::{Block, BlockCompaction, BlockDesc, BlockError, ChunkData, write_block};
use crate::iter::{ChunkView, ChunksIterator};
use ember_chunkenc::float_histogram::FloatHistogramChunk;
use ember_chunkenc::histogram::HistogramChunk;
use ember_chunkenc::xor::XorChunk;
use ember_chunkenc::{
    Appended, Encoding, MIN_SAMPLES_PER_HISTOGRAM_CHUNK, TARGET_BYTES_PER_HISTOGRAM_CHUNK,
};
use ember_model::Labels;
use ember_model::histogram::{CounterResetHint, FloatHistogram, Histogram};
use ember_storage::{SampleIterator, ValueType};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Block ranges for compaction levels: `base × 3ⁿ`, up to `max` when given.
pub fn exponential_ranges(base: i64, steps: usize, max: i64) -> Vec<i64> {
    let mut v = Vec::with_capacity(steps);
    let mut r = base;
    for _ in 0..steps {
        if max > 0 && r > max {
            break;
        }
        v.push(r);
        r = r.saturating_mul(3);
    }
    v
}

/// Picks the blocks to merge next, if any: following Prometheus's planner,
/// overlapping blocks first; otherwise the newest block is left alone (room for
/// backfills of the latest range), and the first group of two or more blocks that
/// fills a whole range, or ends before the start of the newest remaining block, is
/// chosen, trying small ranges first.
pub fn plan(blocks: &[Arc<Block>], ranges: &[i64]) -> Vec<Arc<Block>> {
    if blocks.len() < 2 {
        return Vec::new();
    }
    let mut sorted: Vec<Arc<Block>> = blocks.to_vec();
    sorted.sort_by_key(|b| b.meta().min_time);
    // Overlapping blocks (out-of-order data, backfills) are merged first, the
    // newest included, as Prometheus's `selectOverlappingDirs` does.
    let mut group: Vec<Arc<Block>> = Vec::new();
    let mut group_max = i64::MIN;
    for b in &sorted {
        if b.meta().min_time < group_max {
            group.push(b.clone());
            group_max = group_max.max(b.meta().max_time);
            continue;
        }
        if group.len() > 1 {
            return group;
        }
        group = vec![b.clone()];
        group_max = b.meta().max_time;
    }
    if group.len() > 1 {
        return group;
    }
    let candidates = &sorted[..sorted.len() - 1];
    // As Prometheus: the newest *candidate's* start bounds groups that do not fill
    // their range.
    let high_time = candidates
        .last()
        .map(|b| b.meta().min_time)
        .unwrap_or(i64::MIN);
    for &r in ranges.iter().skip(1) {
        let mut groups: BTreeMap<i64, Vec<Arc<Block>>> = BTreeMap::new();
        for b in candidates {
            let start = b.meta().min_time.div_euclid(r) * r;
            // Only blocks that fit entirely inside the range take part.
            if b.meta().max_time <= start + r {
                groups.entry(start).or_default().push(b.clone());
            }
        }
        for (_, g) in groups {
            if g.len() < 2 {
                continue;
            }
            let mint = g[0].meta().min_time;
            let maxt = g[g.len() - 1].meta().max_time;
            if maxt - mint == r || maxt <= high_time {
                return g;
            }
        }
    }
    Vec::new()
}

/// Merges `blocks` into one new block under `dir`; returns the new block's ULID.
pub fn merge_blocks(dir: &Path, blocks: &[Arc<Block>], now_ms: u64) -> Result<String, BlockError> {
    let level = blocks
        .iter()
        .map(|b| b.meta().compaction.level)
        .max()
        .unwrap_or(1)
        + 1;
    let series = merged_series(blocks)?;
    Ok(write_merged(dir, blocks, series, level, now_ms)?.ulid)
}

/// Rewrites one block without its deleted samples (the admin API's
/// `clean_tombstones`), keeping its level and naming it as the parent. Returns the
/// new block's ULID, or `None` when nothing is left, in which case no block is
/// written and the caller just removes the old one.
pub fn rewrite_without_tombstones(
    dir: &Path,
    block: &Arc<Block>,
    now_ms: u64,
) -> Result<Option<String>, BlockError> {
    let blocks = std::slice::from_ref(block);
    let series = merged_series(blocks)?;
    if series.is_empty() {
        return Ok(None);
    }
    let level = block.meta().compaction.level;
    Ok(Some(write_merged(dir, blocks, series, level, now_ms)?.ulid))
}

type SeriesChunks = Vec<(Labels, Vec<ChunkData>)>;

/// The blocks' series merged by label set, overlaps merged and deletions applied.
fn merged_series(blocks: &[Arc<Block>]) -> Result<SeriesChunks, BlockError> {
    type Merged = (Vec<ChunkData>, Vec<(i64, i64)>);
    let mut by_labels: BTreeMap<Labels, Merged> = BTreeMap::new();
    for b in blocks {
        for (labels, chunks, deleted) in b.all_series()? {
            let e = by_labels.entry(labels).or_default();
            e.0.extend(chunks);
            e.1.extend(deleted);
        }
    }
    let mut series = Vec::with_capacity(by_labels.len());
    for (labels, (mut chunks, deleted)) in by_labels {
        // Stable: among chunks starting together, the first block's comes first.
        chunks.sort_by_key(|c| c.min_t);
        let overlapping = chunks.windows(2).any(|w| w[1].min_t <= w[0].max_t);
        let chunks = if overlapping {
            merge_overlapping(&chunks, &deleted)
        } else if !deleted.is_empty() {
            remove_deleted(chunks, &deleted)
        } else {
            Ok(chunks)
        }
        .map_err(|e| BlockError::Write(format!("{labels}: {e}")))?;
        if !chunks.is_empty() {
            series.push((labels, chunks));
        }
    }
    Ok(series)
}

fn write_merged(
    dir: &Path,
    blocks: &[Arc<Block>],
    series: SeriesChunks,
    level: u32,
    now_ms: u64,
) -> Result<crate::block::BlockMeta, BlockError> {
    let mint = blocks.iter().map(|b| b.meta().min_time).min().unwrap_or(0);
    let maxt = blocks.iter().map(|b| b.meta().max_time).max().unwrap_or(0);
    let mut sources: Vec<String> = blocks
        .iter()
        .flat_map(|b| b.meta().compaction.sources.clone())
        .collect();
    sources.sort();
    sources.dedup();
    let parents = blocks
        .iter()
        .map(|b| BlockDesc {
            ulid: b.meta().ulid.clone(),
            min_time: b.meta().min_time,
            max_time: b.meta().max_time,
        })
        .collect();
    write_block(
        dir,
        mint,
        maxt,
        series,
        BlockCompaction {
            level,
            sources,
            parents,
            ..Default::default()
        },
        now_ms,
    )
}

/// A decoded sample of any kind: the head's value type, so that the head's
/// out-of-order samples and merged block data are encoded by the same code.
pub(crate) use crate::head::Value as Sample;

impl Sample {
    fn encoding(&self) -> Encoding {
        match self {
            Sample::Float(_) => Encoding::Xor,
            Sample::Histogram(_) => Encoding::Histogram,
            Sample::FloatHistogram(_) => Encoding::FloatHistogram,
        }
    }

    /// Forgets what the sample's chunk said about counter resets, for a sample
    /// that no longer follows its chunk predecessor (Prometheus's merge does the
    /// same: the chunk encoder then detects resets itself).
    fn forget_reset_hint(&mut self) {
        let hint = match self {
            Sample::Float(_) => return,
            Sample::Histogram(h) => &mut h.counter_reset_hint,
            Sample::FloatHistogram(h) => &mut h.counter_reset_hint,
        };
        if *hint != CounterResetHint::Gauge {
            *hint = CounterResetHint::Unknown;
        }
    }
}

/// Decodes chunks into `(t, chunk index, sample)`, in chunk order.
pub(crate) fn decode<'a>(
    chunks: impl IntoIterator<Item = &'a ChunkData>,
) -> Result<Vec<(i64, usize, Sample)>, String> {
    let mut out = Vec::new();
    for (i, c) in chunks.into_iter().enumerate() {
        let view = ChunkView {
            max_t: c.max_t,
            encoding: c.encoding,
            bytes: &c.bytes,
        };
        let mut it = ChunksIterator::new(vec![view], i64::MIN, i64::MAX);
        loop {
            let s = match it.next() {
                ValueType::None => break,
                ValueType::Float => Sample::Float(it.at().1),
                ValueType::Histogram => {
                    let mut h = Histogram::default();
                    it.at_histogram(&mut h);
                    Sample::Histogram(Box::new(h))
                }
                ValueType::FloatHistogram => {
                    let mut h = FloatHistogram::default();
                    it.at_float_histogram(&mut h);
                    Sample::FloatHistogram(Box::new(h))
                }
            };
            out.push((it.at_t(), i, s));
        }
        if let Some(e) = it.err() {
            return Err(e.to_string());
        }
    }
    Ok(out)
}

fn is_deleted(t: i64, deleted: &[(i64, i64)]) -> bool {
    deleted.iter().any(|(a, b)| *a <= t && t <= *b)
}

/// Overlapping chunks: decodes, merges (earliest chunk wins on equal timestamps),
/// drops deleted samples and re-encodes like Prometheus's `seriesToChunkEncoder`.
fn merge_overlapping(
    chunks: &[ChunkData],
    deleted: &[(i64, i64)],
) -> Result<Vec<ChunkData>, String> {
    let mut samples = decode(chunks)?;
    // Stable sort keeps the first occurrence of a timestamp first.
    samples.sort_by_key(|s| s.0);
    samples.dedup_by_key(|s| s.0);
    samples.retain(|(t, _, _)| !is_deleted(*t, deleted));
    let mut prev_chunk = None;
    for (_, c, s) in &mut samples {
        if prev_chunk.is_some_and(|p| p != *c) {
            s.forget_reset_hint();
        }
        prev_chunk = Some(*c);
    }
    encode(samples.into_iter().map(|(t, _, s)| (t, s)), |_, n| {
        n >= SERIES_TO_CHUNK_SPLIT
    })
}

/// Non-overlapping chunks with deletions: chunks that no deletion touches are kept
/// as they are; the others lose their deleted samples and are re-encoded one by
/// one with the size rules of Prometheus's `populateChunksFromIterable`.
pub(crate) fn remove_deleted(
    chunks: Vec<ChunkData>,
    deleted: &[(i64, i64)],
) -> Result<Vec<ChunkData>, String> {
    let mut out = Vec::with_capacity(chunks.len());
    for c in chunks {
        if !deleted.iter().any(|(a, b)| *a <= c.max_t && c.min_t <= *b) {
            out.push(c);
            continue;
        }
        let samples = decode([&c])?
            .into_iter()
            .filter(|(t, _, _)| !is_deleted(*t, deleted))
            .map(|(t, _, s)| (t, s));
        out.extend(encode(samples, |open, _| match open {
            Open::Xor(x) => x.bytes().len() > MAX_BYTES_PER_XOR_CHUNK_BEFORE_APPEND,
            Open::Histogram(h) => {
                h.bytes().len() > TARGET_BYTES_PER_HISTOGRAM_CHUNK
                    && h.num_samples() > MIN_SAMPLES_PER_HISTOGRAM_CHUNK
            }
            Open::FloatHistogram(h) => {
                h.bytes().len() > TARGET_BYTES_PER_HISTOGRAM_CHUNK
                    && h.num_samples() > MIN_SAMPLES_PER_HISTOGRAM_CHUNK
            }
        })?);
    }
    Ok(out)
}

/// Samples per chunk when Prometheus re-encodes a merged series.
const SERIES_TO_CHUNK_SPLIT: usize = 120;
/// Prometheus's `MaxBytesPerXORChunkBeforeAppend`: room for one more sample of at
/// most 19 bytes.
const MAX_BYTES_PER_XOR_CHUNK_BEFORE_APPEND: usize = ember_chunkenc::xor::MAX_BYTES - 19;

/// The chunk being filled while re-encoding.
enum Open {
    Xor(XorChunk),
    Histogram(HistogramChunk),
    FloatHistogram(FloatHistogramChunk),
}

impl Open {
    fn new(e: Encoding) -> Self {
        match e {
            Encoding::Histogram => Open::Histogram(HistogramChunk::new()),
            Encoding::FloatHistogram => Open::FloatHistogram(FloatHistogramChunk::new()),
            _ => Open::Xor(XorChunk::new()),
        }
    }

    fn encoding(&self) -> Encoding {
        match self {
            Open::Xor(_) => Encoding::Xor,
            Open::Histogram(_) => Encoding::Histogram,
            Open::FloatHistogram(_) => Encoding::FloatHistogram,
        }
    }

    fn into_chunk(self, min_t: i64, max_t: i64) -> ChunkData {
        let (bytes, samples) = match &self {
            Open::Xor(c) => (c.bytes(), c.num_samples()),
            Open::Histogram(c) => (c.bytes(), c.num_samples()),
            Open::FloatHistogram(c) => (c.bytes(), c.num_samples()),
        };
        ChunkData {
            min_t,
            max_t,
            encoding: self.encoding() as u8,
            bytes: bytes.to_vec(),
            samples: samples as u64,
        }
    }
}

/// Encodes one series' sorted out-of-order samples for a block, in chunks of
/// Prometheus's merged-series size; histogram counter-reset hints are dropped,
/// since out-of-order samples do not follow their chunk predecessors.
pub(crate) fn encode_series(samples: Vec<(i64, Sample)>) -> Result<Vec<ChunkData>, String> {
    let samples = samples.into_iter().map(|(t, mut s)| {
        s.forget_reset_hint();
        (t, s)
    });
    encode(samples, |_, n| n >= SERIES_TO_CHUNK_SPLIT)
}

/// Encodes sorted samples into as few chunks as the encodings allow (a new one only
/// when the sample kind changes or a histogram encoder starts one): the head's
/// out-of-order chunks.
pub(crate) fn encode_unsplit(
    samples: impl Iterator<Item = (i64, Sample)>,
) -> Result<Vec<ChunkData>, String> {
    encode(samples, |_, _| false)
}

/// Encodes samples into chunks: a new chunk when the sample kind changes, when
/// `cut(open chunk, samples in it)` says so, or when a histogram chunk encoder
/// starts one itself.
fn encode(
    samples: impl Iterator<Item = (i64, Sample)>,
    cut: impl Fn(&Open, usize) -> bool,
) -> Result<Vec<ChunkData>, String> {
    let mut out = Vec::new();
    // The open chunk, its first and last timestamps and its sample count.
    let mut open: Option<(Open, i64, i64, usize)> = None;
    for (t, s) in samples {
        let need_new = match &open {
            Some((c, ..)) if c.encoding() != s.encoding() => true,
            Some((c, _, _, n)) => cut(c, *n),
            None => true,
        };
        if need_new {
            if let Some((c, min, max, _)) = open.take() {
                out.push(c.into_chunk(min, max));
            }
            open = Some((Open::new(s.encoding()), t, t, 0));
        }
        let Some((c, min, max, n)) = open.as_mut() else {
            continue;
        };
        let started = match (&mut *c, s) {
            (Open::Xor(x), Sample::Float(v)) => {
                x.append(t, v);
                None
            }
            (Open::Histogram(x), Sample::Histogram(h)) => match x.append(t, &h) {
                Ok(Appended::NewChunk(nc)) => Some(Open::Histogram(*nc)),
                Ok(_) => None,
                Err(e) => return Err(e.to_string()),
            },
            (Open::FloatHistogram(x), Sample::FloatHistogram(h)) => match x.append(t, &h) {
                Ok(Appended::NewChunk(nc)) => Some(Open::FloatHistogram(*nc)),
                Ok(_) => None,
                Err(e) => return Err(e.to_string()),
            },
            _ => return Err("sample kind does not match its chunk".into()),
        };
        if let Some(nc) = started {
            let done = std::mem::replace(c, nc);
            out.push(done.into_chunk(*min, *max));
            *min = t;
            *n = 0;
        }
        *max = t;
        *n += 1;
    }
    if let Some((c, min, max, _)) = open {
        out.push(c.into_chunk(min, max));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_grow_by_three() {
        assert_eq!(exponential_ranges(2, 4, 0), vec![2, 6, 18, 54]);
        assert_eq!(exponential_ranges(2, 10, 20), vec![2, 6, 18]);
    }

    use crate::block::{Tombstones, encode_tombstones};
    use crate::head::tests::{S, read_samples, test_histogram};
    use ember_model::{MatchType, Matcher};
    use ember_storage::Querier;

    fn hist_chunk(ts: std::ops::Range<i64>, add: i64) -> ChunkData {
        let samples = ts.map(|t| (t, Sample::Histogram(Box::new(test_histogram(t + add)))));
        let mut c = encode(samples, |_, _| false).unwrap();
        assert_eq!(c.len(), 1);
        c.pop().unwrap()
    }

    fn float_hist_chunk(ts: std::ops::Range<i64>) -> ChunkData {
        let samples = ts.map(|t| {
            let h = test_histogram(t + 1000).to_float();
            (t, Sample::FloatHistogram(Box::new(h)))
        });
        let mut c = encode(samples, |_, _| false).unwrap();
        c.pop().unwrap()
    }

    fn block(dir: &Path, chunks: Vec<ChunkData>, stones: Option<Vec<(i64, i64)>>) -> Arc<Block> {
        let l = Labels::from_pairs([("__name__", "x")]);
        let meta = write_block(
            dir,
            0,
            1000,
            vec![(l, chunks)],
            BlockCompaction {
                level: 1,
                ..Default::default()
            },
            1,
        )
        .unwrap();
        let bdir = dir.join(&meta.ulid);
        if let Some(iv) = stones {
            // Tombstones are keyed by the series' id in the block's index.
            let b = Block::open(&bdir).unwrap();
            let id = b.series_ids()[0];
            let mut t = Tombstones::new();
            t.insert(id, iv);
            std::fs::write(bdir.join("tombstones"), encode_tombstones(&t)).unwrap();
        }
        Arc::new(Block::open(&bdir).unwrap())
    }

    fn read(dir: &Path, ulid: &str) -> (Block, Vec<(i64, S)>) {
        let b = Block::open(&dir.join(ulid)).unwrap();
        let q = b.querier(i64::MIN, i64::MAX);
        let m = Matcher::new(MatchType::Equal, "__name__", "x").unwrap();
        let set: Vec<_> = q.select(true, None, &[m]).collect();
        let got = read_samples(set[0].as_ref().unwrap().iter().as_mut());
        drop(set);
        (b, got)
    }

    #[test]
    fn overlapping_histogram_chunks_are_merged_and_reencoded() {
        let dir = tempfile::tempdir().unwrap();
        // The first block's integer histograms win where the second block's float
        // histograms overlap them.
        let a = block(dir.path(), vec![hist_chunk(0..150, 0)], None);
        let b = block(dir.path(), vec![float_hist_chunk(100..200)], None);
        let ulid = merge_blocks(dir.path(), &[a, b], 2).unwrap();
        let (b, got) = read(dir.path(), &ulid);
        assert_eq!(got.len(), 200);
        for (t, s) in &got {
            match s {
                S::H(h) if *t < 150 => assert_eq!(h.count, test_histogram(*t).count),
                S::Fh(h) if *t >= 150 => {
                    assert_eq!(h.count, test_histogram(t + 1000).count as f64)
                }
                _ => panic!("{t}: {s:?}"),
            }
        }
        // A new chunk every 120 samples and where the kind changes.
        let chunks = &b.all_series().unwrap()[0].1;
        let layout: Vec<(i64, i64, u8)> = chunks
            .iter()
            .map(|c| (c.min_t, c.max_t, c.encoding))
            .collect();
        assert_eq!(layout, vec![(0, 119, 2), (120, 149, 2), (150, 199, 3)]);
        assert_eq!(b.meta().stats.num_histogram_samples, 200);
        assert_eq!(b.meta().stats.num_float_samples, 0);
    }

    #[test]
    fn deleted_histogram_samples_are_dropped_untouched_chunks_copied() {
        let dir = tempfile::tempdir().unwrap();
        let first = hist_chunk(0..50, 0);
        let a = block(
            dir.path(),
            vec![first.clone(), hist_chunk(50..100, 0)],
            Some(vec![(60, 69)]),
        );
        let ulid = merge_blocks(dir.path(), &[a], 2).unwrap();
        let (b, got) = read(dir.path(), &ulid);
        let ts: Vec<i64> = got.iter().map(|s| s.0).collect();
        let want: Vec<i64> = (0..60).chain(70..100).collect();
        assert_eq!(ts, want);
        let chunks = &b.all_series().unwrap()[0].1;
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].bytes, first.bytes, "untouched chunk copied");
        assert_eq!((chunks[1].min_t, chunks[1].max_t), (50, 99));
    }
}
