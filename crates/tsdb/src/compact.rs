//! Leveled compaction: adjacent blocks are merged into larger ones along
//! exponentially growing ranges (block duration × 3ⁿ), as Prometheus's compactor
//! plans them, so that long retention means few, large blocks and small indexes.
//!
//! Chunks are copied as they are when the merged series' chunks do not overlap and
//! nothing in them is deleted; otherwise the series' samples are decoded, merged (the
//! first block wins on equal timestamps), filtered and re-encoded.

use crate::block::{Block, BlockCompaction, BlockDesc, BlockError, ChunkData, write_block};
use crate::iter::{ChunkView, ChunksIterator};
use ember_chunkenc::xor::XorChunk;
use ember_model::Labels;
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

/// Picks the blocks to merge next, if any: following Prometheus's planner, the newest
/// block is left alone (room for backfills of the latest range), and the first group
/// of two or more blocks that fills a whole range, or ends before the start of the
/// newest remaining block, is chosen, trying small ranges first.
pub fn plan(blocks: &[Arc<Block>], ranges: &[i64]) -> Vec<Arc<Block>> {
    if blocks.len() < 2 {
        return Vec::new();
    }
    let mut sorted: Vec<Arc<Block>> = blocks.to_vec();
    sorted.sort_by_key(|b| b.meta().min_time);
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
    let mint = blocks.iter().map(|b| b.meta().min_time).min().unwrap_or(0);
    let maxt = blocks.iter().map(|b| b.meta().max_time).max().unwrap_or(0);
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
        chunks.sort_by_key(|c| c.min_t);
        let overlapping = chunks.windows(2).any(|w| w[1].min_t <= w[0].max_t);
        let all_xor = chunks
            .iter()
            .all(|c| c.encoding == ember_chunkenc::Encoding::Xor as u8);
        if (overlapping || !deleted.is_empty()) && all_xor {
            chunks = reencode(&chunks, &deleted)?;
        } else if overlapping {
            return Err(BlockError::Write(format!(
                "{labels}: overlapping native-histogram chunks cannot be merged yet"
            )));
        }
        if !chunks.is_empty() {
            series.push((labels, chunks));
        }
    }
    let level = blocks
        .iter()
        .map(|b| b.meta().compaction.level)
        .max()
        .unwrap_or(1)
        + 1;
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
    let meta = write_block(
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
    )?;
    Ok(meta.ulid)
}

/// Decodes, merges (earliest chunk wins on equal timestamps), drops deleted samples and
/// re-encodes into chunks of at most 120 samples.
fn reencode(chunks: &[ChunkData], deleted: &[(i64, i64)]) -> Result<Vec<ChunkData>, BlockError> {
    let mut samples: Vec<(i64, f64)> = Vec::new();
    for c in chunks {
        let view = ChunkView {
            max_t: c.max_t,
            encoding: c.encoding,
            bytes: &c.bytes,
        };
        let mut it = ChunksIterator::new(vec![view], i64::MIN, i64::MAX);
        while it.next() == ValueType::Float {
            samples.push(it.at());
        }
        if let Some(e) = it.err() {
            return Err(BlockError::Write(e.to_string()));
        }
    }
    // Stable sort keeps the first occurrence of a timestamp first.
    samples.sort_by_key(|s| s.0);
    samples.dedup_by_key(|s| s.0);
    samples.retain(|(t, _)| !deleted.iter().any(|(a, b)| a <= t && t <= b));
    let mut out = Vec::new();
    for part in samples.chunks(120) {
        let mut c = XorChunk::new();
        for (t, v) in part {
            c.append(*t, *v);
        }
        out.push(ChunkData {
            min_t: part[0].0,
            max_t: part[part.len() - 1].0,
            encoding: ember_chunkenc::Encoding::Xor as u8,
            bytes: c.bytes().to_vec(),
            samples: part.len() as u64,
        });
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
}
