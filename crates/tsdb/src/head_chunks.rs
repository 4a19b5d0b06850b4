//! `chunks_head/`: full head chunks written to disk so the head keeps only a
//! reference to them in memory, in Prometheus's head-chunk format (documented in
//! `docs/format/head_chunks.md`): files of up to 128 MiB with a header (magic
//! `0x0130BC91`, version 1, 3 bytes padding), then per chunk: series ref (8), min
//! time (8), max time (8), encoding (1), data length (uvarint), data, and a CRC32-C
//! over everything from the series ref to the end of the data.
//!
//! At start-up [`HeadChunkFiles::open`] scans the files left by the previous run
//! (Ember's or Prometheus's) and hands their chunks to the head, which then
//! replays from the WAL only what came after each series' last chunk. A damaged
//! file is deleted with every later one, as Prometheus does: the WAL still holds
//! their samples, so nothing acknowledged is lost, only replayed the slow way.
//! New chunks always go to a new file after the ones found.
//!
//! Reads use positioned reads on the files rather than memory maps, since the file
//! being written keeps growing; the page cache serves them.

use crate::encoding::put_uvarint;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const MAGIC: u32 = 0x0130_BC91;
const HEADER: u64 = 8;
/// Series ref, min and max time, encoding and the longest length Prometheus writes
/// (a 32-bit uvarint): less than this left in a file is either zero padding or a
/// torn chunk (Prometheus's `MaxHeadChunkMetaSize`).
const MAX_META: usize = 8 + 8 + 8 + 1 + 5;
/// Prometheus marks out-of-order chunks with the encoding byte's top bit.
const OOO_MASK: u8 = 0x80;
/// Largest head chunk file, as Prometheus.
pub const MAX_FILE_SIZE: u64 = 128 * 1024 * 1024;

/// A full in-order chunk found in `chunks_head/` at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadedChunk {
    /// The series reference the chunk was written for (the WAL's).
    pub series: u64,
    /// Where it is (file number << 32 | offset), for [`HeadChunkFiles::read`].
    pub r: u64,
    /// First sample time.
    pub min_t: i64,
    /// Last sample time.
    pub max_t: i64,
    /// Samples in it (the first two bytes of the data, as Prometheus reads them).
    pub samples: u16,
    /// Encoding byte (1 XOR, 2 histogram, 3 float histogram).
    pub encoding: u8,
}

/// What [`HeadChunkFiles::open`] found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// In-order chunks ending at or after the head's lower bound, in file order,
    /// which is each series' time order.
    pub chunks: Vec<LoadedChunk>,
    /// The largest series reference in any chunk of the files kept, so that new
    /// series are never given a reference old chunks were written for.
    pub max_series: u64,
    /// The damage found, if any, and the files deleted for it.
    pub corruption: Option<String>,
}

/// Writes and reads head chunk files.
#[derive(Debug)]
pub struct HeadChunkFiles {
    dir: PathBuf,
    /// Current file number (names start at 1) and its write offset.
    seq: u32,
    offset: u64,
    file: Option<File>,
    readers: HashMap<u32, File>,
    /// Newest sample time in each file, for deleting files the head no longer needs.
    max_t: BTreeMap<u32, i64>,
}

impl HeadChunkFiles {
    /// Starts afresh in `dir`, removing any files there: for a head that is not
    /// to continue from them ([`HeadChunkFiles::open`] is the restart path).
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        if dir.exists() {
            for e in std::fs::read_dir(dir)? {
                let e = e?;
                if e.path().is_file() {
                    std::fs::remove_file(e.path())?;
                }
            }
        }
        std::fs::create_dir_all(dir)?;
        Ok(HeadChunkFiles {
            dir: dir.to_path_buf(),
            seq: 0,
            offset: 0,
            file: None,
            readers: HashMap::new(),
            max_t: BTreeMap::new(),
        })
    }

    /// Opens `dir` after a restart: scans the chunk files there in order, keeping
    /// their in-order chunks that end at or after `min_valid_t` (older ones are in
    /// blocks already; out-of-order chunks Prometheus may have written are left to
    /// the write-behind log, from which Ember rebuilds out-of-order data). As in
    /// Prometheus, a file that does not scan cleanly is deleted together with every
    /// later file, and chunks of one series that overlap or go back in time (which
    /// no writer produces) make every file go: in both cases the WAL replays what
    /// was lost. An empty last file (a crash right after it was cut) is removed
    /// quietly. Writing resumes in a new file after the last one kept.
    pub fn open(dir: &Path, min_valid_t: i64) -> std::io::Result<(Self, Loaded)> {
        std::fs::create_dir_all(dir)?;
        let mut names: Vec<(u32, PathBuf)> = Vec::new();
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let name = e.file_name();
            // Prometheus names files by number; anything else is not ours.
            if let Some(seq) = name.to_str().and_then(|n| n.parse::<u32>().ok())
                && e.file_type()?.is_file()
            {
                names.push((seq, e.path()));
            }
        }
        names.sort();
        let mut files = HeadChunkFiles {
            dir: dir.to_path_buf(),
            seq: 0,
            offset: 0,
            file: None,
            readers: HashMap::new(),
            max_t: BTreeMap::new(),
        };
        let mut loaded = Loaded::default();
        let mut bad: Option<(usize, String)> = None;
        for (i, (seq, path)) in names.iter().enumerate() {
            if i > 0 && *seq != names[i - 1].0 + 1 {
                bad = Some((i, format!("head chunk file {seq} follows a gap")));
                break;
            }
            let f = File::open(path)?;
            let len = f.metadata()?.len();
            let last = i + 1 == names.len();
            if len < HEADER {
                if last {
                    // Cut but never written to: Prometheus's repairLastChunkFile.
                    std::fs::remove_file(path)?;
                } else {
                    bad = Some((i, format!("head chunk file {seq} is {len} bytes long")));
                }
                break;
            }
            // SAFETY: files found at start-up are never written again (new chunks go
            // to a new file) nor removed while the map lives; it is dropped below.
            let map = unsafe { memmap2::Mmap::map(&f) }?;
            if last && map[..4] == [0; 4] {
                drop(map);
                std::fs::remove_file(path)?;
                break;
            }
            let before = loaded.chunks.len();
            match scan(&map, *seq, min_valid_t, &mut loaded) {
                Ok(max_t) => {
                    files.max_t.insert(*seq, max_t);
                    files.readers.insert(*seq, f);
                    files.seq = *seq;
                }
                Err(why) => {
                    loaded.chunks.truncate(before);
                    bad = Some((i, format!("head chunk file {seq}: {why}")));
                    break;
                }
            }
        }
        if let Some((from, why)) = bad {
            for (_, p) in &names[from..] {
                std::fs::remove_file(p)?;
            }
            loaded.corruption = Some(format!(
                "{why}; deleted it and the {} file(s) after it",
                names.len() - from - 1
            ));
        }
        if let Some(why) = out_of_sequence(&loaded.chunks) {
            for seq in std::mem::take(&mut files.max_t).into_keys() {
                std::fs::remove_file(files.path(seq))?;
            }
            files.readers.clear();
            files.seq = 0;
            loaded = Loaded {
                corruption: Some(format!("{why}; deleted every head chunk file")),
                ..Loaded::default()
            };
        }
        // The next file follows the last one kept, whatever was deleted after it:
        // the numbers must stay contiguous for Prometheus and for the next start.
        Ok((files, loaded))
    }

    fn path(&self, seq: u32) -> PathBuf {
        self.dir.join(format!("{seq:06}"))
    }

    fn cut(&mut self) -> std::io::Result<()> {
        let seq = self.seq + 1;
        let path = self.path(seq);
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)?;
        let mut h = [0u8; HEADER as usize];
        h[..4].copy_from_slice(&MAGIC.to_be_bytes());
        h[4] = 1;
        f.write_all_at(&h, 0)?;
        if let Some(old) = self.file.take() {
            old.sync_data()?;
        }
        self.readers.insert(seq, f.try_clone()?);
        self.file = Some(f);
        self.seq = seq;
        self.offset = HEADER;
        Ok(())
    }

    /// Appends a chunk; returns its reference (file number << 32 | offset).
    pub fn write(
        &mut self,
        series: u64,
        min_t: i64,
        max_t: i64,
        encoding: u8,
        data: &[u8],
    ) -> std::io::Result<u64> {
        let mut buf = Vec::with_capacity(25 + 10 + data.len() + 4);
        buf.extend_from_slice(&series.to_be_bytes());
        buf.extend_from_slice(&(min_t as u64).to_be_bytes());
        buf.extend_from_slice(&(max_t as u64).to_be_bytes());
        buf.push(encoding);
        put_uvarint(&mut buf, data.len() as u64);
        buf.extend_from_slice(data);
        let crc = crc32c::crc32c(&buf);
        buf.extend_from_slice(&crc.to_be_bytes());
        if self.file.is_none() || self.offset + buf.len() as u64 > MAX_FILE_SIZE {
            self.cut()?;
        }
        let Some(f) = self.file.as_ref() else {
            return Err(std::io::Error::other("no head chunk file"));
        };
        f.write_all_at(&buf, self.offset)?;
        let r = ((self.seq as u64) << 32) | self.offset;
        self.offset += buf.len() as u64;
        let m = self.max_t.entry(self.seq).or_insert(i64::MIN);
        *m = (*m).max(max_t);
        Ok(r)
    }

    /// Reads back a chunk's encoding and data, checking its CRC.
    pub fn read(&self, r: u64) -> std::io::Result<(u8, Vec<u8>)> {
        let (seq, off) = ((r >> 32) as u32, r & 0xffff_ffff);
        let f = self
            .readers
            .get(&seq)
            .ok_or_else(|| std::io::Error::other(format!("head chunk file {seq} is gone")))?;
        let mut head = [0u8; 35];
        let n = f.read_at(&mut head, off)?;
        if n < 26 {
            return Err(std::io::Error::other("head chunk header cut short"));
        }
        let encoding = head[24];
        let (mut len, mut shift, mut i) = (0u64, 0, 25);
        loop {
            let b = *head
                .get(i)
                .ok_or_else(|| std::io::Error::other("bad head chunk length"))?;
            len |= ((b & 0x7f) as u64) << shift;
            i += 1;
            if b < 0x80 {
                break;
            }
            shift += 7;
        }
        let mut rest = vec![0u8; len as usize + 4];
        f.read_exact_at(&mut rest, off + i as u64)?;
        let (data, crc) = rest.split_at(len as usize);
        let want = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
        let got = crc32c::crc32c_append(crc32c::crc32c(&head[..i]), data);
        if got != want {
            return Err(std::io::Error::other(format!(
                "head chunk {r:#x}: checksum mismatch"
            )));
        }
        let data = data.to_vec();
        Ok((encoding, data))
    }

    /// Deletes the oldest files while all their chunks end before `mint` (never
    /// the file being written). Only a prefix of the files goes, so that the
    /// numbers stay contiguous: Prometheus refuses a directory with a gap.
    pub fn truncate_before(&mut self, mint: i64) {
        let doomed: Vec<u32> = self
            .max_t
            .iter()
            .take_while(|(s, m)| **s != self.seq && **m < mint)
            .map(|(s, _)| *s)
            .collect();
        for s in doomed {
            self.max_t.remove(&s);
            self.readers.remove(&s);
            let _ = std::fs::remove_file(self.path(s));
        }
    }
}

/// Scans one file's chunks into `out` (Prometheus's `IterateAllChunks`): the
/// newest chunk time in the file, or why the file is damaged.
fn scan(b: &[u8], seq: u32, min_valid_t: i64, out: &mut Loaded) -> Result<i64, String> {
    let header = HEADER as usize;
    if b.len() < header {
        return Err("shorter than its header".into());
    }
    let magic = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    if magic != MAGIC {
        return Err(format!("bad magic {magic:#x}"));
    }
    if b[4] != 1 {
        return Err(format!("unknown format version {}", b[4]));
    }
    let be64 = |i: usize| {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[i..i + 8]);
        u64::from_be_bytes(x)
    };
    let mut max_t = i64::MIN;
    let mut i = header;
    while i < b.len() {
        if b.len() - i < MAX_META {
            // Files end in zeros when preallocated; anything else is a torn chunk.
            if b[i..].iter().all(|&x| x == 0) {
                break;
            }
            return Err(format!(
                "{} bytes at {i} are too few for a chunk",
                b.len() - i
            ));
        }
        let start = i;
        let series = be64(i);
        let min_t = be64(i + 8) as i64;
        let t = be64(i + 16) as i64;
        // Series references start at 1: an all-zero entry is where the data ends.
        if series == 0 && min_t == 0 && t == 0 {
            break;
        }
        let encoding = b[i + 24];
        i += 25;
        let (len, n) = uvarint(&b[i..i + 5]).ok_or_else(|| format!("bad length at {i}"))?;
        i += n;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| i.checked_add(l))
            .filter(|e| e.checked_add(4).is_some_and(|e| e <= b.len()))
            .ok_or_else(|| format!("chunk at {start} runs past the end of the file"))?;
        let samples = match b.get(i..i + 2) {
            Some(x) if len >= 2 => u16::from_be_bytes([x[0], x[1]]),
            _ => 0,
        };
        let want = u32::from_be_bytes([b[end], b[end + 1], b[end + 2], b[end + 3]]);
        if crc32c::crc32c(&b[start..end]) != want {
            return Err(format!("checksum mismatch in the chunk at {start}"));
        }
        i = end + 4;
        max_t = max_t.max(t);
        out.max_series = out.max_series.max(series);
        let in_order = encoding & OOO_MASK == 0;
        // Encodings Ember cannot decode are skipped, as Prometheus skips invalid
        // ones: the WAL brings their samples back.
        if in_order && t >= min_valid_t && (1..=3).contains(&encoding) {
            out.chunks.push(LoadedChunk {
                series,
                r: ((seq as u64) << 32) | start as u64,
                min_t,
                max_t: t,
                samples,
                encoding,
            });
        }
    }
    Ok(max_t)
}

fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut x = 0u64;
    for (i, &byte) in b.iter().enumerate() {
        x |= ((byte & 0x7f) as u64) << (7 * i);
        if byte < 0x80 {
            return Some((x, i + 1));
        }
    }
    None
}

/// Why the chunks are unusable, if one series' chunks overlap or go back in time.
fn out_of_sequence(chunks: &[LoadedChunk]) -> Option<String> {
    let mut last: HashMap<u64, (i64, i64)> = HashMap::new();
    for c in chunks {
        if let Some((a, b)) = last.insert(c.series, (c.min_t, c.max_t))
            && b >= c.min_t
        {
            return Some(format!(
                "out of sequence head chunk for series {}: [{a}, {b}] then [{}, {}]",
                c.series, c.min_t, c.max_t
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = HeadChunkFiles::create(dir.path()).unwrap();
        let a = f.write(7, 10, 20, 1, b"abc").unwrap();
        let b = f.write(8, 30, 40, 1, &[9u8; 500]).unwrap();
        assert_eq!(a, (1 << 32) | 8);
        assert_eq!(f.read(a).unwrap(), (1, b"abc".to_vec()));
        assert_eq!(f.read(b).unwrap().1.len(), 500);
        let bytes = std::fs::read(dir.path().join("000001")).unwrap();
        assert_eq!(&bytes[..5], &[0x01, 0x30, 0xBC, 0x91, 1]);
        f.truncate_before(100);
        assert!(f.read(a).is_ok(), "the current file stays");
    }
}
