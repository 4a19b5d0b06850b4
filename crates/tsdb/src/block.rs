//! Persistent blocks: a directory named by a ULID holding `meta.json`, `index`,
//! `chunks/` and `tombstones`, in Prometheus's format, so that `promtool tsdb`,
//! Thanos and Prometheus itself read what Ember writes and the other way round.
//!
//! Blocks are written into `<ulid>.tmp-for-creation` and renamed into place, so a
//! crash never leaves a half-written block where a reader would take it for whole.

use crate::chunks::{ChunkReader, ChunkWriter, ChunksError};
use crate::encoding::{Dec, put_uvarint, put_varint};
use crate::index::{ChunkMeta, IndexError, IndexReader, build_index};
use crate::iter::{ChunkView, ChunksIterator};
use crate::postings::PostingsIndex;
use ember_model::{Labels, Matcher};
use ember_storage::{
    BoxSeries, Error as StorageError, LabelHints, LabelQuerier, Querier, SampleIterator,
    SelectHints, Series, SeriesSet,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Block errors.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// File system.
    #[error("block {path}: {source}")]
    Io {
        /// Path involved.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `meta.json` unreadable.
    #[error("block {path}: meta.json: {msg}")]
    Meta {
        /// Block directory.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// Index problem.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// Chunk files problem.
    #[error(transparent)]
    Chunks(#[from] ChunksError),
    /// Tombstones unreadable.
    #[error("block {path}: tombstones: {msg}")]
    Tombstones {
        /// Block directory.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// The data handed to the writer is inconsistent.
    #[error("writing block: {0}")]
    Write(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BlockError + '_ {
    move |source| BlockError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `meta.json` statistics.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BlockStats {
    /// Samples.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_samples: u64,
    /// Float samples.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_float_samples: u64,
    /// Histogram samples.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_histogram_samples: u64,
    /// Series.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_series: u64,
    /// Chunks.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_chunks: u64,
    /// Tombstones.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_tombstones: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// A parent block in `compaction.parents`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BlockDesc {
    /// Its ULID.
    pub ulid: String,
    /// Its min time.
    pub min_time: i64,
    /// Its max time.
    pub max_time: i64,
}

/// `meta.json` compaction history.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BlockCompaction {
    /// 1 for a block cut from the head, +1 per compaction.
    pub level: u32,
    /// ULIDs of the level-1 blocks this one derives from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// Marked for deletion after a compaction.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deletable: bool,
    /// Direct parents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<BlockDesc>,
    /// A compaction of this block failed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failed: bool,
    /// Free-form hints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
}

/// A block's `meta.json`. `max_time` is exclusive, as in Prometheus.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BlockMeta {
    /// Block id.
    pub ulid: String,
    /// First timestamp covered (inclusive).
    pub min_time: i64,
    /// End of the covered range (exclusive).
    pub max_time: i64,
    /// Statistics.
    #[serde(default)]
    pub stats: BlockStats,
    /// Compaction history.
    pub compaction: BlockCompaction,
    /// Format version: 1.
    pub version: u32,
}

/// A new ULID (48-bit millisecond time, 80 random bits, Crockford base32), the
/// identifier Prometheus gives blocks.
pub fn new_ulid(now_ms: u64) -> String {
    use std::hash::{BuildHasher, Hasher};
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    // Randomness from the std hasher's per-process random keys plus a counter: ids
    // only need to be unique, not unpredictable.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    h.write_u64(now_ms);
    let r1 = h.finish();
    h.write_u64(r1);
    let r2 = h.finish();
    let v: u128 =
        ((now_ms as u128 & ((1 << 48) - 1)) << 80) | ((r1 as u128) << 16) | (r2 as u128 & 0xffff);
    (0..26)
        .map(|i| ALPHABET[((v >> (125 - 5 * i)) & 31) as usize] as char)
        .collect()
}

/// A series read out of a block for compaction: labels, chunks, deleted intervals.
pub(crate) type SeriesData = (Labels, Vec<ChunkData>, Vec<(i64, i64)>);

/// One chunk handed to the block writer.
#[derive(Clone, Debug)]
pub struct ChunkData {
    /// First sample time.
    pub min_t: i64,
    /// Last sample time.
    pub max_t: i64,
    /// Encoding byte.
    pub encoding: u8,
    /// Encoded chunk.
    pub bytes: Vec<u8>,
    /// Samples in it (for the statistics).
    pub samples: u64,
}

/// Writes a block under `parent` from series sorted by labels; returns its meta.
pub fn write_block(
    parent: &Path,
    min_time: i64,
    max_time: i64,
    series: Vec<(Labels, Vec<ChunkData>)>,
    compaction: BlockCompaction,
    now_ms: u64,
) -> Result<BlockMeta, BlockError> {
    let ulid = new_ulid(now_ms);
    let tmp = parent.join(format!("{ulid}.tmp-for-creation"));
    let r = write_block_into(&tmp, parent, ulid, min_time, max_time, series, compaction);
    if r.is_err() {
        // A full disk must not keep what was written so far.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    r
}

fn write_block_into(
    tmp: &Path,
    parent: &Path,
    ulid: String,
    min_time: i64,
    max_time: i64,
    series: Vec<(Labels, Vec<ChunkData>)>,
    compaction: BlockCompaction,
) -> Result<BlockMeta, BlockError> {
    let dest = parent.join(&ulid);
    std::fs::create_dir_all(tmp).map_err(io(tmp))?;
    let mut cw = ChunkWriter::new(&tmp.join("chunks"))?;
    let mut stats = BlockStats::default();
    let mut index_series = Vec::with_capacity(series.len());
    for (labels, chunks) in series {
        if chunks.is_empty() {
            continue;
        }
        let mut metas = Vec::with_capacity(chunks.len());
        for c in &chunks {
            let r = cw.write_chunk(c.encoding, &c.bytes)?;
            metas.push(ChunkMeta {
                min_t: c.min_t,
                max_t: c.max_t,
                r,
            });
            stats.num_chunks += 1;
            stats.num_samples += c.samples;
            if c.encoding == ember_chunkenc::Encoding::Xor as u8 {
                stats.num_float_samples += c.samples;
            } else {
                stats.num_histogram_samples += c.samples;
            }
        }
        stats.num_series += 1;
        index_series.push((labels, metas));
    }
    cw.close()?;
    let index = build_index(&index_series).map_err(BlockError::Write)?;
    write_synced(&tmp.join("index"), &index)?;
    write_synced(
        &tmp.join("tombstones"),
        &encode_tombstones(&BTreeMap::new()),
    )?;
    let mut compaction = compaction;
    if compaction.sources.is_empty() {
        compaction.sources = vec![ulid.clone()];
    }
    let meta = BlockMeta {
        ulid: ulid.clone(),
        min_time,
        max_time,
        stats,
        compaction,
        version: 1,
    };
    let json = serde_json::to_vec_pretty(&meta).map_err(|e| BlockError::Write(e.to_string()))?;
    write_synced(&tmp.join("meta.json"), &json)?;
    sync_dir(tmp)?;
    std::fs::rename(tmp, &dest).map_err(io(&dest))?;
    sync_dir(parent)?;
    Ok(meta)
}

fn write_synced(path: &Path, data: &[u8]) -> Result<(), BlockError> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(io(path))?;
    f.write_all(data).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

fn sync_dir(dir: &Path) -> Result<(), BlockError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

const TOMBSTONES_MAGIC: u32 = 0x0130_BA30;

/// Deleted intervals per series id.
pub type Tombstones = BTreeMap<u64, Vec<(i64, i64)>>;

/// Adds `iv` to a sorted list of disjoint closed intervals, merging it with those it
/// overlaps or touches (as Prometheus's `Intervals.Add`), so that repeated deletions
/// of the same range do not grow the tombstones.
pub(crate) fn add_interval(ivs: &mut Vec<(i64, i64)>, iv: (i64, i64)) {
    let (mut a, mut b) = iv;
    let mut out = Vec::with_capacity(ivs.len() + 1);
    let mut placed = false;
    for &(x, y) in ivs.iter() {
        if y.saturating_add(1) < a {
            out.push((x, y));
        } else if b.saturating_add(1) < x {
            if !placed {
                out.push((a, b));
                placed = true;
            }
            out.push((x, y));
        } else {
            a = a.min(x);
            b = b.max(y);
        }
    }
    if !placed {
        out.push((a, b));
    }
    *ivs = out;
}

pub(crate) fn encode_tombstones(t: &Tombstones) -> Vec<u8> {
    let mut body = Vec::new();
    for (r, ivs) in t {
        for (a, b) in ivs {
            put_uvarint(&mut body, *r);
            put_varint(&mut body, *a);
            put_varint(&mut body, *b);
        }
    }
    let mut out = TOMBSTONES_MAGIC.to_be_bytes().to_vec();
    out.push(1);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
    out
}

fn decode_tombstones(b: &[u8]) -> Result<Tombstones, String> {
    if b.len() < 9 {
        return Err("file too short".into());
    }
    if u32::from_be_bytes([b[0], b[1], b[2], b[3]]) != TOMBSTONES_MAGIC {
        return Err("bad magic number".into());
    }
    if b[4] != 1 {
        return Err(format!("unknown format version {}", b[4]));
    }
    let body = &b[5..b.len() - 4];
    let want = u32::from_be_bytes([
        b[b.len() - 4],
        b[b.len() - 3],
        b[b.len() - 2],
        b[b.len() - 1],
    ]);
    if crc32c::crc32c(body) != want {
        return Err("checksum mismatch".into());
    }
    let mut d = Dec::new(body);
    let mut t = Tombstones::new();
    while !d.is_empty() {
        let r = d.uvarint().map_err(|e| e.0)?;
        let a = d.varint().map_err(|e| e.0)?;
        let z = d.varint().map_err(|e| e.0)?;
        t.entry(r).or_default().push((a, z));
    }
    Ok(t)
}

/// An open block.
#[derive(Debug)]
pub struct Block {
    dir: PathBuf,
    meta: BlockMeta,
    index: IndexReader,
    chunks: ChunkReader,
    tombstones: Tombstones,
}

impl Block {
    /// Opens the block in `dir`, checking its index and chunk files.
    pub fn open(dir: &Path) -> Result<Block, BlockError> {
        let meta_path = dir.join("meta.json");
        let raw = std::fs::read(&meta_path).map_err(io(&meta_path))?;
        let meta: BlockMeta = serde_json::from_slice(&raw).map_err(|e| BlockError::Meta {
            path: dir.to_path_buf(),
            msg: e.to_string(),
        })?;
        if meta.version != 1 {
            return Err(BlockError::Meta {
                path: dir.to_path_buf(),
                msg: format!("unknown version {}", meta.version),
            });
        }
        let index = IndexReader::open(&dir.join("index"))?;
        let chunks = ChunkReader::open(&dir.join("chunks"))?;
        let tombstones = match std::fs::read(dir.join("tombstones")) {
            Ok(b) => decode_tombstones(&b).map_err(|msg| BlockError::Tombstones {
                path: dir.to_path_buf(),
                msg,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Tombstones::new(),
            Err(e) => {
                return Err(BlockError::Io {
                    path: dir.join("tombstones"),
                    source: e,
                });
            }
        };
        Ok(Block {
            dir: dir.to_path_buf(),
            meta,
            index,
            chunks,
            tombstones,
        })
    }

    /// The block's metadata.
    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether any deletion is recorded.
    pub fn has_tombstones(&self) -> bool {
        !self.tombstones.is_empty()
    }

    /// Deletes `[mint, maxt]` (clamped to the block's range, as Prometheus does) of
    /// the series matching `matchers` that have a chunk in it: rewrites
    /// `tombstones` and `meta.json` (each to a temporary file renamed into place)
    /// and returns the block opened afresh, or `None` when nothing matched. The
    /// samples stay in the chunk files until `clean_tombstones` or a compaction.
    pub fn delete(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Option<Block>, BlockError> {
        let (a, z) = (mint.max(self.meta.min_time), maxt.min(self.meta.max_time));
        if a > z {
            return Ok(None);
        }
        let mut stones = self.tombstones.clone();
        let mut changed = false;
        for id in self.index.select_postings(matchers) {
            let (_, metas) = self.index.series(id).map_err(|e| BlockError::Tombstones {
                path: self.dir.clone(),
                msg: e.0,
            })?;
            if metas.iter().any(|m| m.min_t <= maxt && mint <= m.max_t) {
                add_interval(stones.entry(id).or_default(), (a, z));
                changed = true;
            }
        }
        if !changed || stones == self.tombstones {
            return Ok(None);
        }
        let mut meta = self.meta.clone();
        meta.stats.num_tombstones = stones.values().map(|v| v.len() as u64).sum();
        let json =
            serde_json::to_vec_pretty(&meta).map_err(|e| BlockError::Write(e.to_string()))?;
        for (name, data) in [
            ("tombstones", encode_tombstones(&stones)),
            ("meta.json", json),
        ] {
            let tmp = self.dir.join(format!("{name}.tmp"));
            write_synced(&tmp, &data)?;
            let dest = self.dir.join(name);
            std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
        }
        sync_dir(&self.dir)?;
        Block::open(&self.dir).map(Some)
    }

    /// Every series with its chunks (encoding and bytes), in label order, with the
    /// block's deletions, for compaction.
    pub(crate) fn all_series(&self) -> Result<Vec<SeriesData>, BlockError> {
        let corrupt = |msg: String| BlockError::Write(format!("block {}: {msg}", self.meta.ulid));
        let mut out = Vec::new();
        for id in self.index.all_postings() {
            let (labels, metas) = self.index.series(id).map_err(|e| corrupt(e.0))?;
            let mut chunks = Vec::with_capacity(metas.len());
            for m in metas {
                let (encoding, bytes) = self.chunks.chunk(m.r)?;
                let samples = if bytes.len() >= 2 {
                    u16::from_be_bytes([bytes[0], bytes[1]]) as u64
                } else {
                    0
                };
                chunks.push(ChunkData {
                    min_t: m.min_t,
                    max_t: m.max_t,
                    encoding,
                    bytes: bytes.to_vec(),
                    samples,
                });
            }
            let deleted = self.tombstones.get(&id).cloned().unwrap_or_default();
            out.push((labels, chunks, deleted));
        }
        Ok(out)
    }

    /// Ids of the block's series (the keys of its tombstones), in label order.
    #[cfg(test)]
    pub(crate) fn series_ids(&self) -> Vec<u64> {
        self.index.all_postings()
    }

    /// A querier over `[mint, maxt]`.
    pub fn querier(&self, mint: i64, maxt: i64) -> BlockQuerier<'_> {
        BlockQuerier {
            block: self,
            mint,
            maxt,
        }
    }
}

/// Reads a block over a time range.
#[derive(Debug)]
pub struct BlockQuerier<'a> {
    block: &'a Block,
    mint: i64,
    maxt: i64,
}

struct BlockSeries<'a> {
    labels: Labels,
    chunks: Vec<ChunkView<'a>>,
    deleted: Vec<(i64, i64)>,
    mint: i64,
    maxt: i64,
}

impl Series for BlockSeries<'_> {
    fn labels(&self) -> &Labels {
        &self.labels
    }
    fn iter(&self) -> Box<dyn SampleIterator + '_> {
        crate::iter::without_deleted(
            ChunksIterator::new(self.chunks.clone(), self.mint, self.maxt),
            &self.deleted,
        )
    }
}

impl LabelQuerier for BlockQuerier<'_> {
    fn label_values(
        &self,
        name: &str,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        let ix = &self.block.index;
        let mut v: Vec<String> = if matchers.is_empty() {
            ix.label_values_of(name)
                .into_iter()
                .map(str::to_string)
                .collect()
        } else {
            let mut set = BTreeSet::new();
            for id in ix.select_postings(matchers) {
                let (l, _) = ix.series(id).map_err(|e| StorageError::Io(e.0))?;
                if let Some(x) = l.get(name) {
                    set.insert(x.to_string());
                }
            }
            set.into_iter().collect()
        };
        if hints.limit > 0 {
            v.truncate(hints.limit);
        }
        Ok(v)
    }

    fn label_names(
        &self,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        let ix = &self.block.index;
        let mut v: Vec<String> = if matchers.is_empty() {
            ix.label_names().into_iter().map(str::to_string).collect()
        } else {
            let mut set = BTreeSet::new();
            for id in ix.select_postings(matchers) {
                let (l, _) = ix.series(id).map_err(|e| StorageError::Io(e.0))?;
                set.extend(l.iter().map(|x| x.name.clone()));
            }
            set.into_iter().collect()
        };
        if hints.limit > 0 {
            v.truncate(hints.limit);
        }
        Ok(v)
    }
}

impl Querier for BlockQuerier<'_> {
    fn select(
        &self,
        _sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> SeriesSet<'_> {
        self.select_owned(hints, matchers)
    }
}

impl<'a> BlockQuerier<'a> {
    /// As [`Querier::select`], with a result that borrows only the block. Always in
    /// label order: series ids are offsets into a label-sorted series section.
    pub fn select_owned(&self, hints: Option<&SelectHints>, matchers: &[Matcher]) -> SeriesSet<'a> {
        let b = self.block;
        let ids = b.index.select_postings(matchers);
        let limit = hints.map_or(0, |h| h.limit);
        let (mint, maxt) = (self.mint, self.maxt);
        let mut n = 0usize;
        let it = ids.into_iter().filter_map(move |id| {
            if limit > 0 && n >= limit {
                return None;
            }
            let (labels, metas) = match b.index.series(id) {
                Ok(x) => x,
                Err(e) => {
                    return Some(Err(StorageError::Io(format!(
                        "block {}: {}",
                        b.meta.ulid, e.0
                    ))));
                }
            };
            let deleted = b.tombstones.get(&id).cloned().unwrap_or_default();
            let mut chunks = Vec::new();
            for m in metas.iter().filter(|m| {
                m.max_t >= mint
                    && m.min_t <= maxt
                    && !crate::iter::covered(m.min_t, m.max_t, &deleted)
            }) {
                match b.chunks.chunk(m.r) {
                    Ok((encoding, bytes)) => chunks.push(ChunkView {
                        max_t: m.max_t,
                        encoding,
                        bytes,
                    }),
                    Err(e) => {
                        return Some(Err(StorageError::Io(format!("block {}: {e}", b.meta.ulid))));
                    }
                }
            }
            if chunks.is_empty() {
                return None;
            }
            n += 1;
            Some(Ok(Box::new(BlockSeries {
                labels,
                chunks,
                deleted,
                mint,
                maxt,
            }) as BoxSeries<'a>))
        });
        SeriesSet::new(it)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_chunkenc::xor::XorChunk;
    use ember_model::MatchType;
    use ember_storage::ValueType;

    fn chunk(ts: std::ops::Range<i64>) -> ChunkData {
        let mut c = XorChunk::new();
        for t in ts.clone() {
            c.append(t, t as f64);
        }
        ChunkData {
            min_t: ts.start,
            max_t: ts.end - 1,
            encoding: 1,
            bytes: c.bytes().to_vec(),
            samples: (ts.end - ts.start) as u64,
        }
    }

    #[test]
    fn ulids_are_valid_and_distinct() {
        let a = new_ulid(1_700_000_000_000);
        let b = new_ulid(1_700_000_000_000);
        assert_eq!(a.len(), 26);
        assert_ne!(a, b);
        assert!(a.starts_with("01H"), "{a}");
    }

    #[test]
    fn write_open_query() {
        let dir = tempfile::tempdir().unwrap();
        let series = vec![
            (
                Labels::from_pairs([("__name__", "a"), ("job", "x")]),
                vec![chunk(0..100), chunk(100..150)],
            ),
            (
                Labels::from_pairs([("__name__", "b"), ("job", "x")]),
                vec![chunk(10..20)],
            ),
        ];
        let meta = write_block(
            dir.path(),
            0,
            150,
            series,
            BlockCompaction {
                level: 1,
                ..Default::default()
            },
            1,
        )
        .unwrap();
        assert_eq!(meta.stats.num_samples, 160);
        assert_eq!(meta.stats.num_series, 2);
        let b = Block::open(&dir.path().join(&meta.ulid)).unwrap();
        assert_eq!(b.meta(), &meta);
        let q = b.querier(90, 120);
        let m = Matcher::new(MatchType::Equal, "job", "x").unwrap();
        let set: Vec<_> = q
            .select(true, None, &[m])
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(set.len(), 1, "b has no data in range");
        let mut it = set[0].iter();
        let mut got = Vec::new();
        while it.next() == ValueType::Float {
            got.push(it.at().0);
        }
        assert_eq!(got, (90..=120).collect::<Vec<_>>());
        assert_eq!(
            q.label_values("__name__", &LabelHints::default(), &[])
                .unwrap(),
            ["a", "b"]
        );
        // meta.json uses Prometheus's field names.
        let json = std::fs::read_to_string(dir.path().join(&meta.ulid).join("meta.json")).unwrap();
        for f in [
            "\"ulid\"",
            "\"minTime\"",
            "\"maxTime\"",
            "\"numSamples\"",
            "\"compaction\"",
            "\"level\"",
            "\"version\"",
        ] {
            assert!(json.contains(f), "{f} in {json}");
        }
    }

    #[test]
    fn tombstones_round_trip() {
        let mut t = Tombstones::new();
        t.insert(16, vec![(0, 10), (20, 30)]);
        let b = encode_tombstones(&t);
        assert_eq!(decode_tombstones(&b).unwrap(), t);
        assert_eq!(
            encode_tombstones(&Tombstones::new()),
            vec![0x01, 0x30, 0xBA, 0x30, 1, 0, 0, 0, 0]
        );
    }
}
