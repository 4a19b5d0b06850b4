//! Block chunk files (`<block>/chunks/000001`, …): a header, then chunks back to back,
//! each `len | encoding | data | CRC32-C(encoding, data)`. A chunk reference packs the
//! file's position in the sorted file list (upper 32 bits, from 0) and the byte
//! offset (lower 32 bits), as Prometheus's `BlockChunkRef` does.

use crate::encoding::{Dec, put_uvarint};
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: u32 = 0x85BD_40DD;
const HEADER: usize = 8;
/// Prometheus's maximum chunk segment size.
pub const SEGMENT_SIZE: u64 = 512 * 1024 * 1024;

/// Errors on chunk files.
#[derive(Debug, thiserror::Error)]
pub enum ChunksError {
    /// File system.
    #[error("chunks {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Damaged or unknown data.
    #[error("chunks: {0}")]
    Corrupt(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ChunksError + '_ {
    move |source| ChunksError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes chunks into numbered segment files.
#[derive(Debug)]
pub struct ChunkWriter {
    dir: PathBuf,
    file: Option<(std::io::BufWriter<std::fs::File>, PathBuf)>,
    /// Index of the current file in the list (0-based), and bytes written to it.
    seq: u64,
    pos: u64,
}

impl ChunkWriter {
    /// Writes into `dir` (created if needed).
    pub fn new(dir: &Path) -> Result<Self, ChunksError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        Ok(ChunkWriter {
            dir: dir.to_path_buf(),
            file: None,
            seq: 0,
            pos: 0,
        })
    }

    fn cut(&mut self) -> Result<(), ChunksError> {
        self.finish_file()?;
        let n = if self.file.is_none() && self.pos == 0 {
            self.seq
        } else {
            self.seq + 1
        };
        let path = self.dir.join(format!("{:06}", n + 1));
        let f = std::fs::File::create(&path).map_err(io(&path))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        let mut h = [0u8; HEADER];
        h[..4].copy_from_slice(&MAGIC.to_be_bytes());
        h[4] = 1;
        w.write_all(&h).map_err(io(&path))?;
        self.seq = n;
        self.pos = HEADER as u64;
        self.file = Some((w, path));
        Ok(())
    }

    fn finish_file(&mut self) -> Result<(), ChunksError> {
        if let Some((w, path)) = self.file.take() {
            let f = w.into_inner().map_err(|e| ChunksError::Io {
                path: path.clone(),
                source: e.into_error(),
            })?;
            f.sync_all().map_err(io(&path))?;
        }
        Ok(())
    }

    /// Appends one chunk and returns its reference.
    pub fn write_chunk(&mut self, encoding: u8, data: &[u8]) -> Result<u64, ChunksError> {
        let mut head = Vec::with_capacity(11);
        put_uvarint(&mut head, data.len() as u64);
        let size = (head.len() + 1 + data.len() + 4) as u64;
        if self.file.is_none() || self.pos + size > SEGMENT_SIZE {
            self.cut()?;
        }
        let r = (self.seq << 32) | self.pos;
        let Some((w, path)) = self.file.as_mut() else {
            return Err(ChunksError::Corrupt("no chunk file open".into()));
        };
        let mut crc = crc32c::crc32c(&[encoding]);
        crc = crc32c::crc32c_append(crc, data);
        let write = |w: &mut std::io::BufWriter<std::fs::File>| -> std::io::Result<()> {
            w.write_all(&head)?;
            w.write_all(&[encoding])?;
            w.write_all(data)?;
            w.write_all(&crc.to_be_bytes())
        };
        write(w).map_err(io(path))?;
        self.pos += size;
        Ok(r)
    }

    /// Flushes and syncs the last file.
    pub fn close(mut self) -> Result<(), ChunksError> {
        self.finish_file()
    }
}

/// Reads chunks by reference from a block's memory-mapped chunk files.
#[derive(Debug)]
pub struct ChunkReader {
    files: Vec<memmap2::Mmap>,
}

impl ChunkReader {
    /// Maps every segment in `dir`, checking headers.
    pub fn open(dir: &Path) -> Result<Self, ChunksError> {
        let mut names: Vec<(u64, PathBuf)> = Vec::new();
        for e in std::fs::read_dir(dir).map_err(io(dir))? {
            let e = e.map_err(io(dir))?;
            if let Some(n) = e.file_name().to_str().and_then(|s| s.parse::<u64>().ok()) {
                names.push((n, e.path()));
            }
        }
        names.sort();
        let mut files = Vec::with_capacity(names.len());
        for (_, p) in names {
            let f = std::fs::File::open(&p).map_err(io(&p))?;
            // SAFETY: block files are immutable once written; blocks are deleted only
            // after their readers are gone.
            let m = unsafe { memmap2::Mmap::map(&f) }.map_err(io(&p))?;
            if m.len() < HEADER || u32::from_be_bytes([m[0], m[1], m[2], m[3]]) != MAGIC {
                return Err(ChunksError::Corrupt(format!(
                    "{}: not a chunks file",
                    p.display()
                )));
            }
            if m[4] != 1 {
                return Err(ChunksError::Corrupt(format!(
                    "{}: unknown chunks format {}",
                    p.display(),
                    m[4]
                )));
            }
            files.push(m);
        }
        Ok(ChunkReader { files })
    }

    /// The encoding byte and data of chunk `r`, CRC-checked.
    pub fn chunk(&self, r: u64) -> Result<(u8, &[u8]), ChunksError> {
        let (seq, off) = ((r >> 32) as usize, (r & 0xffff_ffff) as usize);
        let f = self
            .files
            .get(seq)
            .ok_or_else(|| ChunksError::Corrupt(format!("chunk file {seq} missing")))?;
        if off >= f.len() {
            return Err(ChunksError::Corrupt(format!(
                "chunk offset {off} beyond file {seq}"
            )));
        }
        let mut d = Dec::new(&f[off..]);
        let len = d.uvarint().map_err(|e| ChunksError::Corrupt(e.0))? as usize;
        let enc = d.byte().map_err(|e| ChunksError::Corrupt(e.0))?;
        let data = d.bytes(len).map_err(|e| ChunksError::Corrupt(e.0))?;
        let want = d.be32().map_err(|e| ChunksError::Corrupt(e.0))?;
        let got = crc32c::crc32c_append(crc32c::crc32c(&[enc]), data);
        if got != want {
            return Err(ChunksError::Corrupt(format!(
                "chunk {r:#x}: checksum mismatch"
            )));
        }
        Ok((enc, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ChunkWriter::new(dir.path()).unwrap();
        let a = w.write_chunk(1, b"hello").unwrap();
        let b = w.write_chunk(1, &[7u8; 300]).unwrap();
        w.close().unwrap();
        assert_eq!(a, 8);
        assert_eq!(b >> 32, 0);
        assert!(dir.path().join("000001").exists());
        let r = ChunkReader::open(dir.path()).unwrap();
        assert_eq!(r.chunk(a).unwrap(), (1, &b"hello"[..]));
        assert_eq!(r.chunk(b).unwrap().1.len(), 300);
        assert!(r.chunk(3 << 32).is_err());
    }
}
