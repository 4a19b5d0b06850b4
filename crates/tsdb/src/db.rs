//! A TSDB directory: opening it (loading blocks, replaying and, when needed,
//! repairing the WAL), cutting the head into blocks, WAL checkpoints, retention, and
//! the appendable/queryable handle the server uses.

use crate::block::{Block, BlockCompaction, BlockError, write_block};
use crate::head::{Head, HeadOptions, Value};
use crate::head_chunks::HeadChunkFiles;
use ember_model::Matcher;
use ember_storage::merge::merge_sets;
use ember_storage::{
    Appendable, Appender, Error as StorageError, LabelHints, LabelQuerier, Querier, Queryable,
    SelectHints, SeriesSet, Timestamp,
};
use ember_wal::reader::{Reader, Repair, repair};
use ember_wal::record::{self, Record, decode};
use ember_wal::segment::{Wal, WalOptions, segments};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Errors opening or maintaining a TSDB directory.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The WAL could not be read or written (other than a repairable corruption).
    #[error("WAL: {0}")]
    Wal(#[from] ember_wal::Error),
    /// Replaying a record into the head failed.
    #[error("replaying WAL: {0}")]
    Replay(#[from] StorageError),
    /// Writing or opening a block failed.
    #[error(transparent)]
    Block(#[from] BlockError),
    /// File system.
    #[error("{path}: {source}")]
    Io {
        /// Path involved.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DbError + '_ {
    move |source| DbError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Settings for a TSDB directory.
#[derive(Clone, Debug, Default)]
pub struct DbOptions {
    /// Head settings; `chunk_range` is also the block duration
    /// (`--storage.tsdb.min-block-duration`).
    pub head: HeadOptions,
    /// WAL settings.
    pub wal: WalOptions,
    /// Delete blocks older than this (ms) relative to the newest block; 0 keeps all.
    pub retention_time: i64,
    /// Delete the oldest blocks while blocks take more bytes than this; 0 for no limit.
    pub retention_size: u64,
    /// Largest block compaction may produce (ms); 0 for 31 days.
    pub max_block_duration: i64,
    /// Do not take the `lock` file (`--storage.tsdb.no-lockfile`).
    pub no_lockfile: bool,
}

/// What start-up found.
#[derive(Clone, Debug, Default)]
pub struct ReplayReport {
    /// Records read (checkpoint included).
    pub records: u64,
    /// Series definitions replayed.
    pub series: u64,
    /// Float samples replayed.
    pub samples: u64,
    /// Native-histogram samples (integer and float) replayed.
    pub histogram_samples: u64,
    /// Deletion intervals replayed.
    pub tombstones: u64,
    /// Out-of-order samples replayed from the write-behind log.
    pub out_of_order_samples: u64,
    /// Exemplars replayed (into the exemplar storage, when it is on).
    pub exemplars: u64,
    /// Records of kinds not replayed (metadata, unknown types).
    pub skipped_records: u64,
    /// Full head chunks taken from `chunks_head/` instead of being rebuilt from
    /// the WAL.
    pub mmapped_chunks: u64,
    /// Damage found in `chunks_head/`, if any, and the files deleted for it (their
    /// samples were replayed from the WAL).
    pub chunks_corruption: Option<String>,
    /// The WAL corruption found, if any, and how it was repaired.
    pub repaired: Option<(String, Repair)>,
    /// Blocks that could not be opened; they are left on disk and not served.
    pub bad_blocks: Vec<String>,
    /// Time spent.
    pub duration: Duration,
}

/// An open TSDB directory.
#[derive(Debug)]
pub struct Db {
    dir: PathBuf,
    opts: DbOptions,
    head: Head,
    blocks: RwLock<Vec<Arc<Block>>>,
    replay: ReplayReport,
    /// Serialises compactions.
    compacting: std::sync::Mutex<()>,
    /// Held for the life of the handle so that a second server on the same directory
    /// fails to start instead of corrupting it.
    _lock: Option<std::fs::File>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Db {
    /// Opens (or creates) the TSDB in `dir`: opens its blocks (a block that does not
    /// open is reported and skipped, the others are served), replays the WAL
    /// checkpoint and segments into the head — repairing a torn or corrupt tail, which
    /// is reported, keeping the good prefix — and starts a new WAL segment.
    pub fn open(dir: &Path, opts: DbOptions) -> Result<Db, DbError> {
        let start = Instant::now();
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock = if opts.no_lockfile {
            None
        } else {
            match crate::lock_dir(dir) {
                Ok(f) => Some(f),
                Err(crate::LockFailure::Held(path)) => {
                    return Err(DbError::Io {
                        path,
                        source: std::io::Error::other(
                            "the data directory is in use by another process (lock file held)",
                        ),
                    });
                }
                Err(crate::LockFailure::Io(path, source)) => {
                    return Err(DbError::Io { path, source });
                }
            }
        };
        let wal_dir = dir.join("wal");
        std::fs::create_dir_all(&wal_dir).map_err(io(&wal_dir))?;
        let mut report = ReplayReport::default();
        let blocks = open_blocks(dir, &mut report.bad_blocks)?;
        let mut head = Head::new(opts.head.clone());
        // In-order data up to the newest block's end lives in blocks: the head
        // starts there. Blocks of out-of-order samples do not count (as in
        // Prometheus's inOrderBlocksMaxTime): they can reach past the head's start,
        // and truncating there would drop in-order samples no block holds.
        let in_order_end = blocks
            .iter()
            .filter(|b| {
                !b.meta()
                    .compaction
                    .hints
                    .iter()
                    .any(|h| h == "from-out-of-order")
            })
            .map(|b| b.meta().max_time)
            .max();
        if let Some(end) = in_order_end {
            head.truncate(end);
        }
        // Full chunks of the previous run first, as Prometheus loads them: WAL
        // replay then attaches them to their series and skips the samples they
        // hold, decoding only what came after each series' last chunk.
        let chunks_dir = dir.join("chunks_head");
        let (files, loaded) =
            HeadChunkFiles::open(&chunks_dir, head.min_valid_time()).map_err(io(&chunks_dir))?;
        head.load_chunks(&loaded);
        head.set_chunk_files(files);
        report.chunks_corruption = loaded.corruption;
        let found = loaded.chunks.len();
        drop(loaded.chunks);
        replay(&wal_dir, &head, &mut report)?;
        report.mmapped_chunks = (found - head.finish_chunk_load()) as u64;
        head.set_wal(Wal::open(&wal_dir, opts.wal.clone())?);
        // The write-behind log of out-of-order samples, replayed after the WAL (its
        // samples' series are defined there). Opened only when it exists or the
        // window is on, so that a directory that never had out-of-order data does
        // not grow a `wbl/` folder.
        let wbl_dir = dir.join("wbl");
        if wbl_dir.exists() || opts.head.out_of_order_window > 0 {
            std::fs::create_dir_all(&wbl_dir).map_err(io(&wbl_dir))?;
            replay_wbl(&wbl_dir, &head, &mut report)?;
            head.set_wbl(Wal::open(&wbl_dir, opts.wal.clone())?);
        }
        report.duration = start.elapsed();
        Ok(Db {
            dir: dir.to_path_buf(),
            opts,
            head,
            blocks: RwLock::new(blocks),
            replay: report,
            compacting: std::sync::Mutex::new(()),
            _lock: lock,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The head.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Sets `storage.tsdb.out_of_order_time_window` (ms), as a configuration
    /// reload does, opening the write-behind log the first time it is turned on.
    pub fn set_out_of_order_window(&self, ms: i64) -> Result<(), DbError> {
        if ms > 0 && !self.head.has_wbl() {
            let wbl_dir = self.dir.join("wbl");
            std::fs::create_dir_all(&wbl_dir).map_err(io(&wbl_dir))?;
            self.head
                .set_wbl(Wal::open(&wbl_dir, self.opts.wal.clone())?);
        }
        self.head.set_out_of_order_window(ms);
        Ok(())
    }

    /// What start-up found.
    pub fn replay_report(&self) -> &ReplayReport {
        &self.replay
    }

    /// The blocks served, oldest first.
    pub fn blocks(&self) -> Vec<Arc<Block>> {
        self.blocks.read().map(|b| b.clone()).unwrap_or_default()
    }

    /// Cuts every complete block range out of the head while the head spans more than
    /// one and a half block ranges (as Prometheus does, leaving room for late
    /// samples), then checkpoints the WAL and applies retention. Returns the number of
    /// blocks written.
    pub fn compact(&self) -> Result<usize, DbError> {
        let _guard = self.compacting.lock().unwrap_or_else(|p| p.into_inner());
        let range = self.opts.head.chunk_range;
        let mut written = 0;
        loop {
            let (min, max) = (self.head.min_time(), self.head.max_time());
            if min == i64::MAX || max == i64::MIN || max - min <= range * 3 / 2 {
                break;
            }
            let mint = min.div_euclid(range) * range;
            let maxt = mint + range;
            let series = self.head.block_series(mint, maxt)?;
            if !series.is_empty() {
                let meta = write_block(
                    &self.dir,
                    mint,
                    maxt,
                    series,
                    BlockCompaction {
                        level: 1,
                        ..Default::default()
                    },
                    now_ms(),
                )?;
                let b = Block::open(&self.dir.join(&meta.ulid))?;
                if let Ok(mut blocks) = self.blocks.write() {
                    blocks.push(Arc::new(b));
                    blocks.sort_by_key(|b| b.meta().min_time);
                }
                written += 1;
            }
            self.head.truncate(maxt);
        }
        if written > 0 {
            self.checkpoint()?;
            // As Prometheus: out-of-order data is compacted when the head was.
            written += self.compact_ooo()?;
        }
        written += self.compact_blocks()?;
        if written > 0 {
            self.apply_retention()?;
        }
        Ok(written)
    }

    /// Writes the head's out-of-order samples into blocks, one per block range they
    /// fall in (marked `from-out-of-order`; they overlap other blocks until the
    /// planner merges them), then drops them from the head and deletes the
    /// write-behind log segments that held them.
    fn compact_ooo(&self) -> Result<usize, DbError> {
        let range = self.opts.head.chunk_range;
        let dir = self.dir.clone();
        let done = self
            .head
            .compact_ooo(|series| -> Result<Vec<Arc<Block>>, DbError> {
                type Span = Vec<(ember_model::Labels, Vec<(i64, Value)>)>;
                let mut spans: std::collections::BTreeMap<i64, Span> = Default::default();
                for (labels, samples) in series {
                    let mut cur: Option<(i64, Vec<(i64, Value)>)> = None;
                    for (t, v) in samples {
                        let start = t.div_euclid(range) * range;
                        if cur.as_ref().is_some_and(|c| c.0 != start)
                            && let Some((s0, v0)) = cur.take()
                        {
                            spans.entry(s0).or_default().push((labels.clone(), v0));
                        }
                        cur.get_or_insert_with(|| (start, Vec::new()))
                            .1
                            .push((t, v));
                    }
                    if let Some((s0, v0)) = cur {
                        spans.entry(s0).or_default().push((labels.clone(), v0));
                    }
                }
                let mut blocks = Vec::new();
                for (start, list) in spans {
                    let mut series = Vec::with_capacity(list.len());
                    for (labels, samples) in list {
                        let chunks = crate::compact::encode_series(samples)
                            .map_err(|e| BlockError::Write(format!("{labels}: {e}")))?;
                        series.push((labels, chunks));
                    }
                    let meta = write_block(
                        &dir,
                        start,
                        start + range,
                        series,
                        BlockCompaction {
                            level: 1,
                            hints: vec!["from-out-of-order".into()],
                            ..Default::default()
                        },
                        now_ms(),
                    )?;
                    blocks.push(Arc::new(Block::open(&dir.join(&meta.ulid))?));
                }
                Ok(blocks)
            })?;
        let Some((blocks, segment)) = done else {
            return Ok(0);
        };
        let n = blocks.len();
        if let Ok(mut all) = self.blocks.write() {
            all.extend(blocks);
            all.sort_by_key(|b| b.meta().min_time);
        }
        if let Some(current) = segment {
            let wbl_dir = self.dir.join("wbl");
            for (i, p) in segments(&wbl_dir)? {
                if i < current {
                    std::fs::remove_file(&p).map_err(io(&p))?;
                }
            }
        }
        Ok(n)
    }

    /// Merges blocks level by level while the planner finds groups to merge.
    fn compact_blocks(&self) -> Result<usize, DbError> {
        let max = if self.opts.max_block_duration > 0 {
            self.opts.max_block_duration
        } else {
            31 * 24 * 3_600_000
        };
        let ranges = crate::compact::exponential_ranges(self.opts.head.chunk_range, 10, max);
        let mut n = 0;
        loop {
            let group = crate::compact::plan(&self.blocks(), &ranges);
            if group.is_empty() {
                return Ok(n);
            }
            let ulid = crate::compact::merge_blocks(&self.dir, &group, now_ms())?;
            let merged = Arc::new(Block::open(&self.dir.join(&ulid))?);
            if let Ok(mut blocks) = self.blocks.write() {
                blocks.retain(|b| !group.iter().any(|g| Arc::ptr_eq(b, g)));
                blocks.push(merged);
                blocks.sort_by_key(|b| b.meta().min_time);
            }
            for g in &group {
                // The merged block names its parents, so a crash here only leaves
                // directories that the next start removes.
                let _ = std::fs::remove_dir_all(g.dir());
            }
            n += 1;
        }
    }

    /// Rewrites the WAL up to the current segment into a checkpoint holding only what
    /// the head still needs (its series, and samples it still holds), then deletes
    /// the segments and older checkpoints it replaces.
    fn checkpoint(&self) -> Result<(), DbError> {
        let wal_dir = self.dir.join("wal");
        let Some(last) = self.head.with_wal(|w| -> Result<u32, ember_wal::Error> {
            let cur = w.current_segment();
            w.next_segment()?;
            Ok(cur)
        }) else {
            return Ok(());
        };
        let last = last?;
        let keep_from = self.head.min_time();
        let alive: std::collections::HashSet<u64> =
            self.head.all_series().into_iter().map(|s| s.0).collect();
        let tmp = wal_dir.join(format!("checkpoint.{last:08}.tmp"));
        let _ = std::fs::remove_dir_all(&tmp);
        let mut out = Wal::open(&tmp, self.opts.wal.clone())?;
        let mut reader = Reader::from_segments(segments_to_replay(&wal_dir, Some(last))?);
        while let Some(rec) = reader.next() {
            let rec = rec?;
            let mut buf = Vec::new();
            let mut more = Vec::new();
            let keep = |r: u64, t: i64| t >= keep_from && alive.contains(&r);
            match decode(&rec) {
                Ok(Record::Series(s)) => {
                    let s: Vec<_> = s.into_iter().filter(|x| alive.contains(&x.r)).collect();
                    if !s.is_empty() {
                        record::encode_series(&s, &mut buf);
                    }
                }
                Ok(Record::Samples(s)) => {
                    let s: Vec<_> = s.into_iter().filter(|x| keep(x.r, x.t)).collect();
                    if !s.is_empty() {
                        record::encode_samples(&s, &mut buf);
                    }
                }
                Ok(Record::Histograms(h)) => {
                    let h: Vec<_> = h.into_iter().filter(|x| keep(x.r, x.t)).collect();
                    more = record::encode_histograms(&h);
                }
                Ok(Record::FloatHistograms(h)) => {
                    let h: Vec<_> = h.into_iter().filter(|x| keep(x.r, x.t)).collect();
                    more = record::encode_float_histograms(&h);
                }
                // Only the head's current tombstones: those of dropped series and
                // of data now in blocks are gone from it.
                Ok(Record::Tombstones(_)) => {}
                Ok(Record::Metadata(m)) => {
                    let m: Vec<_> = m.into_iter().filter(|x| alive.contains(&x.r)).collect();
                    if !m.is_empty() {
                        record::encode_metadata(&m, &mut buf);
                    }
                }
                // As Prometheus: exemplars of live series not older than the head.
                Ok(Record::Exemplars(ex)) => {
                    let ex: Vec<_> = ex.into_iter().filter(|x| keep(x.r, x.t)).collect();
                    if !ex.is_empty() {
                        record::encode_exemplars(&ex, &mut buf);
                    }
                }
                // Other records are kept as they are.
                _ => buf = rec,
            }
            if !buf.is_empty() {
                out.log(&[&buf])?;
            }
            for b in more {
                out.log(&[&b])?;
            }
        }
        let stones: Vec<_> = self
            .head
            .tombstones()
            .into_iter()
            .filter(|st| alive.contains(&st.r))
            .collect();
        if !stones.is_empty() {
            let mut buf = Vec::new();
            record::encode_tombstones(&stones, &mut buf);
            out.log(&[&buf])?;
        }
        out.close()?;
        let dest = wal_dir.join(format!("checkpoint.{last:08}"));
        std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
        for (i, p) in segments(&wal_dir)? {
            if i <= last {
                std::fs::remove_file(&p).map_err(io(&p))?;
            }
        }
        for (n, p) in checkpoints(&wal_dir)? {
            if n < last {
                std::fs::remove_dir_all(&p).map_err(io(&p))?;
            }
        }
        Ok(())
    }

    /// Deletes `[mint, maxt]` of the series matching `matchers` everywhere: the head
    /// records tombstones through its WAL, each block touched gets a new
    /// `tombstones` file. Queries stop returning the samples at once; the bytes go
    /// at the next compaction or [`Db::clean_tombstones`]. A block that cannot be
    /// updated fails the call after the others were done.
    pub fn delete(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<(), DbError> {
        let _guard = self.compacting.lock().unwrap_or_else(|p| p.into_inner());
        let mut first_err = None;
        for b in self.blocks() {
            if b.meta().max_time < mint || b.meta().min_time > maxt {
                continue;
            }
            match b.delete(mint, maxt, matchers) {
                Ok(Some(updated)) => self.replace_block(&b, Some(Arc::new(updated))),
                Ok(None) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        self.head.delete(mint, maxt, matchers)?;
        match first_err {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// Rewrites every block that has tombstones without the deleted samples (the
    /// admin API's `clean_tombstones`); a block left empty is removed. Returns how
    /// many blocks were rewritten.
    pub fn clean_tombstones(&self) -> Result<usize, DbError> {
        let _guard = self.compacting.lock().unwrap_or_else(|p| p.into_inner());
        let mut n = 0;
        for b in self.blocks().into_iter().filter(|b| b.has_tombstones()) {
            let new = match crate::compact::rewrite_without_tombstones(&self.dir, &b, now_ms())? {
                Some(ulid) => Some(Arc::new(Block::open(&self.dir.join(ulid))?)),
                None => None,
            };
            self.replace_block(&b, new);
            // The new block names the old one as its parent, so a crash before this
            // removal is cleaned up at the next start.
            std::fs::remove_dir_all(b.dir()).map_err(io(b.dir()))?;
            n += 1;
        }
        Ok(n)
    }

    fn replace_block(&self, old: &Arc<Block>, new: Option<Arc<Block>>) {
        if let Ok(mut blocks) = self.blocks.write() {
            blocks.retain(|b| !Arc::ptr_eq(b, old));
            blocks.extend(new);
            blocks.sort_by_key(|b| b.meta().min_time);
        }
    }

    /// Writes a snapshot into `dest` (created; must not exist yet): every block
    /// hard-linked (copied where the file system cannot link), and unless
    /// `skip_head`, the head's data as one more block, so that `dest` opens as a
    /// TSDB directory of its own (Prometheus's `/api/v1/admin/tsdb/snapshot`).
    pub fn snapshot(&self, dest: &Path, skip_head: bool) -> Result<(), DbError> {
        std::fs::create_dir_all(dest).map_err(io(dest))?;
        for b in self.blocks() {
            let to = dest.join(&b.meta().ulid);
            link_tree(b.dir(), &to)?;
        }
        if !skip_head {
            let (min, max) = (self.head.min_time(), self.head.max_time());
            if min != i64::MAX && max != i64::MIN && min <= max {
                let series = self.head.block_series(min, max + 1)?;
                if !series.is_empty() {
                    write_block(
                        dest,
                        min,
                        max + 1,
                        series,
                        BlockCompaction {
                            level: 1,
                            ..Default::default()
                        },
                        now_ms(),
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Deletes blocks beyond the time or size retention.
    fn apply_retention(&self) -> Result<(), DbError> {
        let Ok(mut blocks) = self.blocks.write() else {
            return Ok(());
        };
        let newest = blocks.last().map(|b| b.meta().max_time).unwrap_or(i64::MIN);
        let mut doomed = Vec::new();
        if self.opts.retention_time > 0 {
            blocks.retain(|b| {
                let keep = newest - b.meta().max_time <= self.opts.retention_time;
                if !keep {
                    doomed.push(b.dir().to_path_buf());
                }
                keep
            });
        }
        if self.opts.retention_size > 0 {
            let sizes: Vec<u64> = blocks.iter().map(|b| dir_size(b.dir())).collect();
            let mut total: u64 = sizes.iter().sum();
            let mut drop_n = 0;
            while drop_n < blocks.len() && total > self.opts.retention_size {
                total -= sizes[drop_n];
                drop_n += 1;
            }
            for b in blocks.drain(..drop_n) {
                doomed.push(b.dir().to_path_buf());
            }
        }
        drop(blocks);
        for d in doomed {
            // Queries holding the block keep its mapped files alive until they end.
            std::fs::remove_dir_all(&d).map_err(io(&d))?;
        }
        Ok(())
    }
}

/// Hard-links the files of `from` into a new `to`, recursively; copies a file when
/// linking fails (another file system).
fn link_tree(from: &Path, to: &Path) -> Result<(), DbError> {
    std::fs::create_dir_all(to).map_err(io(to))?;
    for e in std::fs::read_dir(from).map_err(io(from))? {
        let e = e.map_err(io(from))?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type().map_err(io(&src))?.is_dir() {
            link_tree(&src, &dst)?;
        } else if std::fs::hard_link(&src, &dst).is_err() {
            std::fs::copy(&src, &dst).map_err(io(&dst))?;
        }
    }
    Ok(())
}

fn dir_size(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn checkpoints(wal_dir: &Path) -> Result<Vec<(u32, PathBuf)>, DbError> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(wal_dir).map_err(io(wal_dir))? {
        let e = e.map_err(io(wal_dir))?;
        let name = e.file_name();
        let Some(n) = name.to_str().and_then(|s| s.strip_prefix("checkpoint.")) else {
            continue;
        };
        if let Ok(n) = n.parse::<u32>() {
            v.push((n, e.path()));
        }
    }
    v.sort();
    Ok(v)
}

/// The segments to read, in order: the newest checkpoint's, then the WAL's segments
/// after it (up to `upto` when given).
fn segments_to_replay(wal_dir: &Path, upto: Option<u32>) -> Result<Vec<(u32, PathBuf)>, DbError> {
    let mut segs = Vec::new();
    let after = match checkpoints(wal_dir)?.pop() {
        Some((n, p)) => {
            segs.extend(segments(&p)?);
            Some(n)
        }
        None => None,
    };
    segs.extend(
        segments(wal_dir)?
            .into_iter()
            .filter(|(i, _)| after.is_none_or(|a| *i > a) && upto.is_none_or(|u| *i <= u)),
    );
    Ok(segs)
}

fn open_blocks(dir: &Path, bad: &mut Vec<String>) -> Result<Vec<Arc<Block>>, DbError> {
    let mut blocks = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io(dir))? {
        let e = e.map_err(io(dir))?;
        let name = e.file_name().to_string_lossy().to_string();
        let path = e.path();
        if !path.is_dir() {
            continue;
        }
        if name.ends_with(".tmp-for-creation") || name.ends_with(".tmp-for-deletion") {
            // Left by a crash mid-write or mid-delete: never a valid block.
            let _ = std::fs::remove_dir_all(&path);
            continue;
        }
        if !path.join("meta.json").exists() {
            continue;
        }
        match Block::open(&path) {
            Ok(b) => blocks.push(Arc::new(b)),
            Err(e) => bad.push(format!("{name}: {e}")),
        }
    }
    // A compaction that crashed before removing its inputs leaves them beside the
    // block that replaced them: drop every block that is another one's parent.
    let parents: std::collections::HashSet<String> = blocks
        .iter()
        .flat_map(|b| b.meta().compaction.parents.iter().map(|p| p.ulid.clone()))
        .collect();
    blocks.retain(|b| {
        let superseded = parents.contains(&b.meta().ulid);
        if superseded {
            let _ = std::fs::remove_dir_all(b.dir());
        }
        !superseded
    });
    blocks.sort_by_key(|b| b.meta().min_time);
    Ok(blocks)
}

/// Replays the write-behind log: its sample records become the series'
/// out-of-order data. Other records (Prometheus's mmap markers) are skipped: Ember
/// keeps out-of-order chunks in memory and rebuilds them from the log alone. A torn
/// or corrupt tail is repaired like the WAL's.
fn replay_wbl(wbl_dir: &Path, head: &Head, rep: &mut ReplayReport) -> Result<(), DbError> {
    let mut reader = Reader::from_segments(segments(wbl_dir)?);
    while let Some(rec) = reader.next() {
        let rec = match rec {
            Ok(r) => r,
            Err(ember_wal::Error::Corruption {
                segment,
                offset,
                reason,
            }) => {
                let r = repair(wbl_dir, segment, offset)?;
                head.stats()
                    .wal_corruptions
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                rep.repaired = Some((format!("WBL: {reason}"), r));
                break;
            }
            Err(e) => return Err(e.into()),
        };
        match decode(&rec) {
            Ok(Record::Samples(samples)) => {
                for s in samples {
                    head.replay_ooo(s.r, s.t, Value::Float(s.v));
                    rep.out_of_order_samples += 1;
                }
            }
            Ok(Record::Histograms(hs)) => {
                for h in hs {
                    head.replay_ooo(h.r, h.t, Value::Histogram(Box::new(h.h)));
                    rep.out_of_order_samples += 1;
                }
            }
            Ok(Record::FloatHistograms(hs)) => {
                for h in hs {
                    head.replay_ooo(h.r, h.t, Value::FloatHistogram(Box::new(h.h)));
                    rep.out_of_order_samples += 1;
                }
            }
            Ok(_) | Err(_) => rep.skipped_records += 1,
        }
    }
    Ok(())
}

/// Reads the checkpoint and WAL record by record — memory stays bounded by the largest
/// record, not the WAL's size — and applies series and samples to the head.
fn replay(wal_dir: &Path, head: &Head, rep: &mut ReplayReport) -> Result<(), DbError> {
    let mut reader = Reader::from_segments(segments_to_replay(wal_dir, None)?);
    while let Some(rec) = reader.next() {
        let rec = match rec {
            Ok(r) => r,
            Err(ember_wal::Error::Corruption {
                segment,
                offset,
                reason,
            }) => {
                let r = repair(wal_dir, segment, offset)?;
                head.stats()
                    .wal_corruptions
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                rep.repaired = Some((reason, r));
                break;
            }
            Err(e) => return Err(e.into()),
        };
        rep.records += 1;
        match decode(&rec) {
            Ok(Record::Series(series)) => {
                for s in series {
                    head.replay_series(s.r, &s.labels)?;
                    rep.series += 1;
                }
            }
            Ok(Record::Samples(samples)) => {
                for s in samples {
                    head.replay_value(s.r, s.t, Value::Float(s.v));
                    rep.samples += 1;
                }
            }
            Ok(Record::Histograms(hs)) => {
                for h in hs {
                    head.replay_value(h.r, h.t, Value::Histogram(Box::new(h.h)));
                    rep.histogram_samples += 1;
                }
            }
            Ok(Record::FloatHistograms(hs)) => {
                for h in hs {
                    head.replay_value(h.r, h.t, Value::FloatHistogram(Box::new(h.h)));
                    rep.histogram_samples += 1;
                }
            }
            Ok(Record::Tombstones(stones)) => {
                head.add_tombstones(&stones);
                rep.tombstones += stones.len() as u64;
            }
            Ok(Record::Exemplars(ex)) => {
                if head.exemplars().enabled() {
                    for e in ex {
                        head.replay_exemplar(e.r, e.t, e.v, e.labels);
                        rep.exemplars += 1;
                    }
                }
            }
            // A record that passed its CRC but does not decode is skipped and counted,
            // rather than refusing to start.
            Ok(_) | Err(_) => rep.skipped_records += 1,
        }
    }
    Ok(())
}

impl ember_storage::ExemplarQueryable for Db {
    fn select_exemplars(
        &self,
        start: Timestamp,
        end: Timestamp,
        matcher_sets: &[Vec<Matcher>],
    ) -> Result<Vec<ember_storage::ExemplarSeries>, StorageError> {
        Ok(self.head.exemplars().select(start, end, matcher_sets))
    }
}

impl Appendable for Db {
    fn appender(&self) -> Box<dyn Appender + '_> {
        self.head.appender()
    }
}

/// Head and blocks over one time range, merged.
struct DbQuerier<'a> {
    db: &'a Db,
    blocks: Vec<Arc<Block>>,
    mint: i64,
    maxt: i64,
}

impl DbQuerier<'_> {
    fn queriers(&self) -> Vec<Box<dyn Querier + '_>> {
        let mut v: Vec<Box<dyn Querier + '_>> = self
            .blocks
            .iter()
            .map(|b| Box::new(b.querier(self.mint, self.maxt)) as Box<dyn Querier + '_>)
            .collect();
        if let Ok(h) = self.db.head.querier(self.mint, self.maxt) {
            v.push(h);
        }
        v
    }
}

impl LabelQuerier for DbQuerier<'_> {
    fn label_values(
        &self,
        name: &str,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        ember_storage::merge::MergeQuerier::new(self.queriers()).label_values(name, hints, matchers)
    }
    fn label_names(
        &self,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, StorageError> {
        ember_storage::merge::MergeQuerier::new(self.queriers()).label_names(hints, matchers)
    }
}

impl Querier for DbQuerier<'_> {
    fn select(
        &self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> SeriesSet<'_> {
        let mut sets: Vec<SeriesSet<'_>> = self
            .blocks
            .iter()
            .map(|b| {
                b.querier(self.mint, self.maxt)
                    .select_owned(hints, matchers)
            })
            .collect();
        // Merging needs sorted inputs; a head-only query may skip the sort.
        let sort = sorted || !sets.is_empty();
        sets.push(
            self.db
                .head
                .select_range(self.mint, self.maxt, sort, hints, matchers),
        );
        merge_sets(sets)
    }
}

impl Queryable for Db {
    fn querier(
        &self,
        mint: Timestamp,
        maxt: Timestamp,
    ) -> Result<Box<dyn Querier + '_>, StorageError> {
        // Blocks whose range misses the query are pruned here; max_time is exclusive.
        let blocks = self
            .blocks()
            .into_iter()
            .filter(|b| b.meta().min_time <= maxt && b.meta().max_time > mint)
            .collect();
        Ok(Box::new(DbQuerier {
            db: self,
            blocks,
            mint,
            maxt,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_model::{Labels, MatchType, Matcher};
    use ember_storage::ValueType;

    fn count(db: &Db) -> usize {
        let q = db.querier(i64::MIN, i64::MAX).unwrap();
        let m = Matcher::new(MatchType::RegexMatch, "__name__", ".+").unwrap();
        q.select(false, None, &[m])
            .map(|s| {
                let s = s.unwrap();
                let mut it = s.iter();
                let mut n = 0;
                while it.next() == ValueType::Float {
                    n += 1;
                }
                n
            })
            .sum()
    }

    #[test]
    fn restart_replays_everything() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Db::open(dir.path(), DbOptions::default()).unwrap();
            for i in 0..300 {
                let mut app = db.appender();
                for s in 0..20 {
                    let l =
                        Labels::from_pairs([("__name__", format!("m{s}")), ("i", "x".to_string())]);
                    app.append(None, &l, i * 15_000, i as f64).unwrap();
                }
                app.commit().unwrap();
            }
            // Rolled back: must not come back.
            let mut app = db.appender();
            app.append(
                None,
                &Labels::from_pairs([("__name__", "gone")]),
                1_000_000,
                1.0,
            )
            .unwrap();
            app.rollback().unwrap();
            assert_eq!(count(&db), 6000);
        }
        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        assert_eq!(db.replay_report().samples, 6000);
        assert_eq!(count(&db), 6000);
        // New appends continue after the replayed ones and survive another restart.
        let mut app = db.appender();
        app.append(
            None,
            &Labels::from_pairs([("__name__", "m0"), ("i", "x")]),
            300 * 15_000,
            1.0,
        )
        .unwrap();
        app.commit().unwrap();
        drop(db);
        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        assert_eq!(count(&db), 6001);
    }

    fn small_blocks() -> DbOptions {
        DbOptions {
            head: HeadOptions {
                chunk_range: 60_000,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn fill(db: &Db, from: i64, to: i64) {
        for t in from..to {
            let mut app = db.appender();
            for s in 0..5 {
                let l = Labels::from_pairs([("__name__", format!("m{s}")), ("i", "x".to_string())]);
                app.append(None, &l, t * 1000, t as f64).unwrap();
            }
            app.commit().unwrap();
        }
    }

    #[test]
    fn compaction_cuts_blocks_and_keeps_every_sample() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Db::open(dir.path(), small_blocks()).unwrap();
            fill(&db, 0, 400); // 400 s at 1 s: spans ~6.7 block ranges of 60 s
            let n = db.compact().unwrap();
            // Cut while the head spans more than 1.5 ranges: [0,60s) … [300s,360s),
            // then [0,180s) merged into one level-2 block; [180s,360s) stays split
            // because it holds the newest block.
            assert_eq!(n, 7);
            let spans: Vec<(i64, i64, u32)> = db
                .blocks()
                .iter()
                .map(|b| {
                    (
                        b.meta().min_time,
                        b.meta().max_time,
                        b.meta().compaction.level,
                    )
                })
                .collect();
            assert_eq!(
                spans,
                vec![
                    (0, 180_000, 2),
                    (180_000, 240_000, 1),
                    (240_000, 300_000, 1),
                    (300_000, 360_000, 1)
                ]
            );
            assert!(db.head().min_time() >= 360_000);
            assert_eq!(count(&db), 2000);
            // A checkpoint replaced the old segments.
            let wal = dir.path().join("wal");
            assert_eq!(checkpoints(&wal).unwrap().len(), 1);
            // Samples behind the head are refused now.
            let mut app = db.appender();
            let l = Labels::from_pairs([("__name__", "m0"), ("i", "x")]);
            assert!(app.append(None, &l, 10_000, 1.0).is_err());
            fill(&db, 400, 420);
        }
        let db = Db::open(dir.path(), small_blocks()).unwrap();
        assert!(db.replay_report().bad_blocks.is_empty());
        assert_eq!(db.blocks().len(), 4);
        assert_eq!(count(&db), 2100);
        // Pruned querying: a range inside one block.
        let q = db.querier(61_000, 62_000).unwrap();
        let m = Matcher::new(MatchType::Equal, "__name__", "m3").unwrap();
        let set: Vec<_> = q
            .select(true, None, &[m])
            .collect::<Result<_, _>>()
            .unwrap();
        let mut it = set[0].iter();
        let mut v = Vec::new();
        while it.next() == ValueType::Float {
            v.push(it.at());
        }
        assert_eq!(v, vec![(61_000, 61.0), (62_000, 62.0)]);
    }

    #[test]
    fn second_open_is_refused_while_locked() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        let err = Db::open(dir.path(), DbOptions::default()).unwrap_err();
        assert!(err.to_string().contains("in use"), "{err}");
        drop(db);
        assert!(Db::open(dir.path(), DbOptions::default()).is_ok());
    }

    #[test]
    fn retention_drops_old_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(
            dir.path(),
            DbOptions {
                retention_time: 120_000,
                ..small_blocks()
            },
        )
        .unwrap();
        fill(&db, 0, 400);
        db.compact().unwrap();
        let mins: Vec<i64> = db.blocks().iter().map(|b| b.meta().min_time).collect();
        // Kept: blocks ending within 120 s of the newest block's end (360 s); the
        // merged [0,180s) block ends 180 s before it.
        assert_eq!(mins, vec![180_000, 240_000, 300_000]);
    }

    #[test]
    fn corrupt_block_is_skipped_others_served() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Db::open(dir.path(), small_blocks()).unwrap();
            fill(&db, 0, 400);
            db.compact().unwrap();
        }
        let victim = {
            let db = Db::open(dir.path(), small_blocks()).unwrap();
            db.blocks()[1].dir().to_path_buf()
        };
        std::fs::write(victim.join("index"), b"garbage").unwrap();
        let db = Db::open(dir.path(), small_blocks()).unwrap();
        assert_eq!(db.replay_report().bad_blocks.len(), 1);
        assert_eq!(db.blocks().len(), 3);
        assert_eq!(count(&db), 2000 - 60 * 5);
    }

    #[test]
    fn corrupt_tail_is_repaired_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Db::open(dir.path(), DbOptions::default()).unwrap();
            for i in 0..100 {
                let mut app = db.appender();
                app.append(None, &Labels::from_pairs([("__name__", "a")]), i, i as f64)
                    .unwrap();
                app.commit().unwrap();
            }
        }
        let seg = ember_wal::segment::segments(&dir.path().join("wal"))
            .unwrap()
            .pop()
            .unwrap()
            .1;
        let len = std::fs::metadata(&seg).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(len - 5)
            .unwrap();
        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        assert!(db.replay_report().repaired.is_some());
        assert_eq!(
            db.head()
                .stats()
                .wal_corruptions
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert_eq!(count(&db), 99);
    }

    /// Every sample of every series, rendered so that NaNs (staleness markers)
    /// compare equal.
    fn dump(db: &Db) -> Vec<String> {
        let q = db.querier(i64::MIN, i64::MAX).unwrap();
        let m = Matcher::new(MatchType::RegexMatch, "__name__", ".+").unwrap();
        let mut out = Vec::new();
        for s in q.select(true, None, &[m]) {
            let s = s.unwrap();
            for (t, x) in crate::head::tests::read_samples(s.iter().as_mut()) {
                out.push(format!("{} {t} {x:?}", s.labels()));
            }
        }
        out
    }

    /// Appends one second of every kind of sample: integer, float and custom-bucket
    /// histograms, and a series that changes kind every 25 s and goes stale for a
    /// second every 70 s.
    fn fill_histograms(db: &Db, from: i64, to: i64) {
        use crate::head::tests::{test_custom_histogram, test_float_histograms, test_histogram};
        use ember_storage::HistogramRef;
        let name = |n: &str| Labels::from_pairs([("__name__", n)]);
        for t in from..to {
            let mut app = db.appender();
            let h = test_histogram(t);
            app.append_histogram(None, &name("h"), t * 1000, HistogramRef::Int(&h))
                .unwrap();
            let f = test_float_histograms(1)[0].clone();
            let f = ember_model::histogram::FloatHistogram {
                count: f.count + t as f64,
                zero_count: f.zero_count + t as f64,
                ..f
            };
            app.append_histogram(None, &name("fh"), t * 1000, HistogramRef::Float(&f))
                .unwrap();
            let c = test_custom_histogram(t);
            app.append_histogram(None, &name("nhcb"), t * 1000, HistogramRef::Int(&c))
                .unwrap();
            let m = name("mixed");
            if t % 70 == 69 {
                app.append(None, &m, t * 1000, ember_model::value::stale_nan())
                    .unwrap();
            } else {
                match (t / 25) % 3 {
                    0 => app.append(None, &m, t * 1000, t as f64),
                    1 => app.append_histogram(None, &m, t * 1000, HistogramRef::Int(&h)),
                    _ => {
                        app.append_histogram(None, &m, t * 1000, HistogramRef::Float(&h.to_float()))
                    }
                }
                .unwrap();
            }
            app.commit().unwrap();
        }
    }

    #[test]
    fn histograms_survive_restart_and_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let want = {
            let db = Db::open(dir.path(), small_blocks()).unwrap();
            fill_histograms(&db, 0, 400);
            let want = dump(&db);
            assert_eq!(want.len(), 1600);
            assert!(
                want.iter()
                    .any(|s| s.contains("mixed") && s.contains("NaN"))
            );
            want
        };
        // Replay alone (the WAL holds histogram records of types 7 to 10).
        let db = Db::open(dir.path(), small_blocks()).unwrap();
        // "mixed" holds floats for 6 × 25 s; its staleness markers all fall in its
        // histogram stretches, so they were logged as histogram markers.
        assert_eq!(db.replay_report().histogram_samples, 1600 - 150);
        assert_eq!(db.replay_report().samples, 150);
        assert_eq!(dump(&db), want);
        // Blocks carry the histogram chunks, and the checkpoint keeps what the
        // head still needs.
        assert!(db.compact().unwrap() > 0);
        let stats: u64 = db
            .blocks()
            .iter()
            .map(|b| b.meta().stats.num_histogram_samples)
            .sum();
        assert!(stats > 1000, "{stats}");
        assert_eq!(dump(&db), want);
        drop(db);
        let db = Db::open(dir.path(), small_blocks()).unwrap();
        assert_eq!(dump(&db), want);
        // And the head goes on after the replayed histograms.
        fill_histograms(&db, 400, 410);
        assert_eq!(dump(&db).len(), 1640);
    }

    fn series_count(db: &Db, mint: i64, maxt: i64) -> usize {
        let q = db.querier(mint, maxt).unwrap();
        let m = Matcher::new(MatchType::RegexMatch, "__name__", ".+").unwrap();
        q.select(false, None, &[m]).count()
    }

    #[test]
    fn delete_hides_samples_in_head_and_blocks_survives_restart_and_cleans() {
        let dir = tempfile::tempdir().unwrap();
        let m1 = || vec![Matcher::new(MatchType::Equal, "__name__", "m1").unwrap()];
        let m2 = || vec![Matcher::new(MatchType::Equal, "__name__", "m2").unwrap()];
        {
            let db = Db::open(dir.path(), small_blocks()).unwrap();
            fill(&db, 0, 400);
            db.compact().unwrap();
            assert_eq!(count(&db), 2000);
            // 100 s of m1 straddling blocks and the head, then all of m2.
            db.delete(300_000, 399_000, &m1()).unwrap();
            db.delete(i64::MIN, i64::MAX, &m2()).unwrap();
            assert_eq!(count(&db), 2000 - 100 - 400);
            // m2 is gone as a series too, over any range.
            assert_eq!(series_count(&db, i64::MIN, i64::MAX), 4);
            // Deleting again changes nothing.
            db.delete(300_000, 399_000, &m1()).unwrap();
            assert_eq!(count(&db), 1500);
            let tombstoned = db.blocks().iter().filter(|b| b.has_tombstones()).count();
            assert!(tombstoned >= 2, "{tombstoned}");
            let meta: serde_json::Value = serde_json::from_slice(
                &std::fs::read(db.blocks().last().unwrap().dir().join("meta.json")).unwrap(),
            )
            .unwrap();
            assert!(
                meta["stats"]["numTombstones"].as_u64().unwrap() >= 1,
                "{meta}"
            );
        }
        // Head tombstones come back from the WAL, block ones from their files.
        let db = Db::open(dir.path(), small_blocks()).unwrap();
        assert!(db.replay_report().tombstones >= 2);
        assert_eq!(count(&db), 1500);
        // More samples, a head cut and a checkpoint: the deletion still holds, and
        // (as in Prometheus, which clamps a deletion to the data present) samples
        // appended later after the deleted range are kept.
        fill(&db, 400, 500);
        db.compact().unwrap();
        assert_eq!(count(&db), 1500 + 500);
        let n = db.clean_tombstones().unwrap();
        assert!(n >= 1);
        assert!(db.blocks().iter().all(|b| !b.has_tombstones()));
        assert_eq!(count(&db), 2000);
        drop(db);
        let db = Db::open(dir.path(), small_blocks()).unwrap();
        assert!(db.replay_report().bad_blocks.is_empty());
        assert_eq!(count(&db), 2000);
    }

    #[test]
    fn snapshot_opens_as_a_database_with_head_data() {
        let dir = tempfile::tempdir().unwrap();
        let snap = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), small_blocks()).unwrap();
        fill(&db, 0, 200);
        db.compact().unwrap();
        assert!(!db.blocks().is_empty());
        db.snapshot(&snap.path().join("a"), false).unwrap();
        db.snapshot(&snap.path().join("b"), true).unwrap();
        let with_head = Db::open(&snap.path().join("a"), small_blocks()).unwrap();
        assert_eq!(count(&with_head), 1000);
        let blocks_only = Db::open(&snap.path().join("b"), small_blocks()).unwrap();
        let in_blocks: u64 = db.blocks().iter().map(|b| b.meta().stats.num_samples).sum();
        assert_eq!(count(&blocks_only) as u64, in_blocks);
        assert!(in_blocks < 1000);
        // The snapshot is independent: deleting in the source leaves it whole.
        db.delete(
            i64::MIN,
            i64::MAX,
            &[Matcher::new(MatchType::RegexMatch, "__name__", ".+").unwrap()],
        )
        .unwrap();
        db.clean_tombstones().unwrap();
        assert_eq!(count(&db), 0);
        assert_eq!(count(&with_head), 1000);
    }

    fn samples_of(db: &Db, name: &str, mint: i64, maxt: i64) -> Vec<(i64, f64)> {
        let q = db.querier(mint, maxt).unwrap();
        let m = Matcher::new(MatchType::Equal, "__name__", name).unwrap();
        let mut out = Vec::new();
        for s in q.select(true, None, &[m]) {
            let s = s.unwrap();
            let mut it = s.iter();
            while it.next() == ValueType::Float {
                out.push(it.at());
            }
        }
        out
    }

    fn append_one(db: &Db, name: &str, t: i64, v: f64) -> Result<(), StorageError> {
        let mut app = db.appender();
        let l = Labels::from_pairs([("__name__", name), ("i", "x")]);
        app.append(None, &l, t, v)?;
        app.commit()
    }

    #[test]
    fn out_of_order_window_accepts_replays_and_compacts() {
        let dir = tempfile::tempdir().unwrap();
        let opts = || {
            let mut o = small_blocks();
            o.head.out_of_order_window = 100_000;
            o
        };
        {
            // Without a window the same sample is refused.
            let plain = tempfile::tempdir().unwrap();
            let db = Db::open(plain.path(), small_blocks()).unwrap();
            fill(&db, 0, 100);
            assert_eq!(
                append_one(&db, "m0", 80_500, -1.0),
                Err(StorageError::OutOfOrderSample)
            );
            assert!(!plain.path().join("wbl").exists());
        }
        {
            let db = Db::open(dir.path(), opts()).unwrap();
            fill(&db, 0, 150);
            append_one(&db, "m0", 80_500, -1.0).unwrap();
            // Same timestamp as an in-order sample: kept apart, the in-order one wins.
            append_one(&db, "m0", 81_000, -2.0).unwrap();
            // Out of the window (head max 149 s - 100 s).
            assert_eq!(
                append_one(&db, "m0", 40_000, -3.0),
                Err(StorageError::TooOldSample)
            );
            // A series with only out-of-order data so far in this range.
            append_one(&db, "late", 70_000, 7.0).unwrap();
            assert_eq!(
                samples_of(&db, "m0", 80_000, 81_000),
                vec![(80_000, 80.0), (80_500, -1.0), (81_000, 81.0)]
            );
            assert_eq!(samples_of(&db, "late", 0, i64::MAX), vec![(70_000, 7.0)]);
            assert_eq!(
                db.head()
                    .stats()
                    .out_of_order_appended
                    .load(std::sync::atomic::Ordering::Relaxed),
                3
            );
        }
        // Replayed from the write-behind log.
        let db = Db::open(dir.path(), opts()).unwrap();
        assert_eq!(db.replay_report().out_of_order_samples, 3);
        assert_eq!(
            samples_of(&db, "m0", 80_000, 81_000),
            vec![(80_000, 80.0), (80_500, -1.0), (81_000, 81.0)]
        );
        // Cut the head: the out-of-order data becomes blocks that overlap the
        // in-order ones, and the planner merges them.
        fill(&db, 150, 260);
        let n = db.compact().unwrap();
        assert!(n > 0);
        assert!(
            db.blocks()
                .windows(2)
                .all(|w| w[0].meta().max_time <= w[1].meta().min_time),
            "overlaps left: {:?}",
            db.blocks()
                .iter()
                .map(|b| (b.meta().min_time, b.meta().max_time))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            samples_of(&db, "m0", 80_000, 81_000),
            vec![(80_000, 80.0), (80_500, -1.0), (81_000, 81.0)]
        );
        assert_eq!(samples_of(&db, "late", 0, i64::MAX), vec![(70_000, 7.0)]);
        assert_eq!(count(&db), 5 * 260 + 2);
        // An out-of-order sample for a range already in a block.
        let max = db.head().max_time();
        append_one(&db, "m1", max - 90_500, -5.0).unwrap();
        assert!(max - 90_500 < db.blocks().last().unwrap().meta().max_time);
        assert_eq!(count(&db), 5 * 260 + 3);
        drop(db);
        let db = Db::open(dir.path(), opts()).unwrap();
        // Only the newest out-of-order sample is left in the log.
        assert_eq!(db.replay_report().out_of_order_samples, 1);
        assert_eq!(count(&db), 5 * 260 + 3);
        fill(&db, 260, 400);
        db.compact().unwrap();
        assert_eq!(count(&db), 5 * 400 + 3);
        assert_eq!(
            db.blocks()
                .iter()
                .filter(|b| b
                    .meta()
                    .compaction
                    .hints
                    .iter()
                    .any(|h| h == "from-out-of-order"))
                .count(),
            0,
            "out-of-order blocks are merged away"
        );
        drop(db);
        let db = Db::open(dir.path(), opts()).unwrap();
        assert_eq!(db.replay_report().out_of_order_samples, 0);
        assert_eq!(count(&db), 5 * 400 + 3);
    }

    #[test]
    fn exemplars_visible_at_commit_and_replayed_from_the_wal() {
        use ember_model::value::Exemplar;
        use ember_storage::ExemplarQueryable;
        let dir = tempfile::tempdir().unwrap();
        let opts = || DbOptions {
            head: HeadOptions {
                enable_exemplar_storage: true,
                max_exemplars: 5,
                ..Default::default()
            },
            ..Default::default()
        };
        let sel = vec![vec![
            Matcher::new(MatchType::Equal, "__name__", "req_total").unwrap(),
        ]];
        let series = Labels::from_pairs([("__name__", "req_total")]);
        let ex = |trace: &str, v: f64, ts: Option<i64>| Exemplar {
            labels: Labels::from_pairs([("trace_id", trace)]),
            value: v,
            ts,
        };
        let ts_of = |db: &Db| -> Vec<i64> {
            db.select_exemplars(i64::MIN, i64::MAX, &sel)
                .unwrap()
                .iter()
                .flat_map(|s| s.exemplars.iter().map(|e| e.ts.unwrap_or(0)))
                .collect()
        };
        {
            let db = Db::open(dir.path(), opts()).unwrap();
            // No series yet: an exemplar has nothing to attach to.
            let mut app = db.appender();
            assert!(
                app.append_exemplar(None, &series, &ex("0", 1.0, Some(1)))
                    .is_err()
            );
            for i in 0..8i64 {
                let t = 1_000 * (i + 1);
                let mut app = db.appender();
                let r = app.append(None, &series, t, i as f64).unwrap();
                // Without its own timestamp it takes the sample's.
                app.append_exemplar(Some(r), &series, &ex(&i.to_string(), i as f64, None))
                    .unwrap();
                if i == 3 {
                    assert!(ts_of(&db).len() == 3, "invisible before commit");
                }
                app.commit().unwrap();
            }
            // The newest again in the next scrape, without a timestamp: a repeat,
            // dropped silently.
            let mut app = db.appender();
            let r = app.append(None, &series, 8_500, 7.0).unwrap();
            app.append_exemplar(Some(r), &series, &ex("7", 7.0, None))
                .unwrap();
            app.commit().unwrap();
            // Rolled back: neither visible nor logged.
            let mut app = db.appender();
            let r = app.append(None, &series, 9_000, 8.0).unwrap();
            app.append_exemplar(Some(r), &series, &ex("rb", 1.0, Some(9_000)))
                .unwrap();
            app.rollback().unwrap();
            // An older exemplar than the newest: an error the caller counts.
            let mut app = db.appender();
            assert!(matches!(
                app.append_exemplar(None, &series, &ex("old", 1.0, Some(10))),
                Err(StorageError::OutOfOrderExemplar)
            ));
            app.rollback().unwrap();
            assert_eq!(ts_of(&db), vec![4_000, 5_000, 6_000, 7_000, 8_000]);
            let st = db.head().exemplars().stats();
            assert_eq!((st.appended, st.in_storage, st.series), (8, 5, 1));
        }
        let db = Db::open(dir.path(), opts()).unwrap();
        assert_eq!(db.replay_report().exemplars, 8);
        assert_eq!(ts_of(&db), vec![4_000, 5_000, 6_000, 7_000, 8_000]);
        // Resizing on reload keeps the newest.
        db.head().apply_exemplar_config(2);
        assert_eq!(ts_of(&db), vec![7_000, 8_000]);
        drop(db);
        // Exemplar storage off: the records are read and dropped.
        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        assert_eq!(db.replay_report().exemplars, 0);
        assert!(ts_of(&db).is_empty());
    }
}
