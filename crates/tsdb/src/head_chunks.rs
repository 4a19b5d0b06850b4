//! `chunks_head/`: full head chunks written to disk so the head keeps only a
//! reference to them in memory, in Prometheus's head-chunk format (see
//! `docs/format/head_chunks.md` upstream): files of up to 128 MiB with a header
//! (magic `0x0130BC91`, version 1, 3 bytes padding), then per chunk: series ref (8),
//! min time (8), max time (8), encoding (1), data length (uvarint), data, and a
//! CRC32-C over everything from the series ref to the end of the data.
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
/// Largest head chunk file, as Prometheus.
pub const MAX_FILE_SIZE: u64 = 128 * 1024 * 1024;

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
    /// Starts afresh in `dir`: existing files are removed, since the head is rebuilt
    /// from the WAL at start-up.
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

    /// Deletes files whose chunks all end before `mint` (never the file being written).
    pub fn truncate_before(&mut self, mint: i64) {
        let doomed: Vec<u32> = self
            .max_t
            .iter()
            .filter(|(s, m)| **s != self.seq && **m < mint)
            .map(|(s, _)| *s)
            .collect();
        for s in doomed {
            self.max_t.remove(&s);
            self.readers.remove(&s);
            let _ = std::fs::remove_file(self.path(s));
        }
    }
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
