//! Reading the log back, page by page, and repairing a damaged tail.
//!
//! Memory stays bounded by one page plus the largest record, whatever the size of the
//! WAL. A problem (bad CRC, impossible length, a record cut short, torn page) stops
//! reading with [`Error::Corruption`] naming the segment and the offset where the
//! damaged record begins; everything before it was good, and [`repair`] truncates the
//! log there.

use crate::Error;
use crate::segment::{
    HEADER_SIZE, PAGE_SIZE, REC_FIRST, REC_FULL, REC_LAST, REC_MIDDLE, REC_PAGE_TERM, SNAPPY_FLAG,
    TYPE_MASK, ZSTD_FLAG, segments,
};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What a fragment's 7-byte header says: how to read the payload that follows.
/// Shared by this replaying reader and readers that tail a segment still being
/// written (the remote-write watcher), which differ only in what the end of the
/// available bytes means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentHeader {
    /// `REC_PAGE_TERM` (0), full (1), first (2), middle (3) or last (4).
    pub kind: u8,
    /// The record's bytes are snappy-compressed (flag of its fragments).
    pub snappy: bool,
    /// Payload length.
    pub len: usize,
    crc: u32,
}

impl FragmentHeader {
    /// Decodes the header at the start of `h` (at least [`HEADER_SIZE`] bytes, unless
    /// it is a page terminator, which is one byte). Zstd-compressed records are an
    /// error: Ember writes and reads snappy only.
    pub fn parse(h: &[u8]) -> Result<FragmentHeader, &'static str> {
        let Some(&typ_byte) = h.first() else {
            return Err("empty fragment header");
        };
        let kind = typ_byte & TYPE_MASK;
        if kind == REC_PAGE_TERM {
            return Ok(FragmentHeader {
                kind,
                snappy: false,
                len: 0,
                crc: 0,
            });
        }
        if typ_byte & ZSTD_FLAG != 0 {
            return Err("zstd-compressed WAL records are not supported");
        }
        if h.len() < HEADER_SIZE {
            return Err("fragment header cut short");
        }
        Ok(FragmentHeader {
            kind,
            snappy: typ_byte & SNAPPY_FLAG != 0,
            len: u16::from_be_bytes([h[1], h[2]]) as usize,
            crc: u32::from_be_bytes([h[3], h[4], h[5], h[6]]),
        })
    }

    /// Whether this is a page terminator (the rest of the page is zeros).
    pub fn is_page_end(&self) -> bool {
        self.kind == REC_PAGE_TERM
    }

    /// Whether this fragment ends a record (full or last).
    pub fn ends_record(&self) -> bool {
        self.kind == REC_FULL || self.kind == REC_LAST
    }

    /// Checks the payload's CRC32-C and that the fragment may come here: full and
    /// first outside a record, middle and last inside one.
    pub fn check(&self, data: &[u8], in_record: bool) -> Result<(), String> {
        if crc32c::crc32c(data) != self.crc {
            return Err("CRC32-C mismatch".into());
        }
        match (self.kind, in_record) {
            (REC_FULL | REC_FIRST, false) | (REC_MIDDLE | REC_LAST, true) => Ok(()),
            (k, _) => Err(format!("unexpected fragment type {k}")),
        }
    }
}

/// Reads records from segments in order.
pub struct Reader {
    segs: Vec<(u32, PathBuf)>,
    seg_idx: usize,
    file: Option<File>,
    page: Box<[u8; PAGE_SIZE]>,
    page_len: usize,
    /// Offset of the current page within its segment.
    page_off: u64,
    pos: usize,
    rec: Vec<u8>,
    rec_start: u64,
    snappy: snap::raw::Decoder,
    /// Segment and offset just past the last complete record.
    last_good: Option<(u32, u64)>,
    failed: bool,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("segments", &self.segs.len())
            .field("at", &self.seg_idx)
            .finish()
    }
}

impl Reader {
    /// Reads all segments of `dir` numbered `from` or later.
    pub fn open(dir: &Path, from: u32) -> Result<Reader, Error> {
        let segs = segments(dir)?
            .into_iter()
            .filter(|(i, _)| *i >= from)
            .collect();
        Ok(Self::from_segments(segs))
    }

    /// Reads exactly these segments, in the order given.
    pub fn from_segments(segs: Vec<(u32, PathBuf)>) -> Reader {
        Reader {
            segs,
            seg_idx: 0,
            file: None,
            page: Box::new([0u8; PAGE_SIZE]),
            page_len: 0,
            page_off: 0,
            pos: 0,
            rec: Vec::new(),
            rec_start: 0,
            snappy: snap::raw::Decoder::new(),
            last_good: None,
            failed: false,
        }
    }

    /// Segment number currently being read.
    pub fn segment(&self) -> Option<u32> {
        self.segs.get(self.seg_idx).map(|s| s.0)
    }

    /// Where the last complete record ended.
    pub fn last_good(&self) -> Option<(u32, u64)> {
        self.last_good
    }

    fn corruption(&mut self, offset: u64, reason: impl Into<String>) -> Error {
        self.failed = true;
        Error::Corruption {
            segment: self.segment().unwrap_or(0),
            offset,
            reason: reason.into(),
        }
    }

    /// Loads the next page of the current segment; false at its end.
    fn load_page(&mut self) -> Result<bool, Error> {
        let Some((_, path)) = self.segs.get(self.seg_idx) else {
            return Ok(false);
        };
        let path = path.clone();
        if self.file.is_none() {
            self.file = Some(File::open(&path).map_err(|e| Error::io("open segment", &path, e))?);
            self.page_off = 0;
            self.page_len = 0;
        } else {
            self.page_off += self.page_len as u64;
        }
        let Some(f) = self.file.as_mut() else {
            return Ok(false);
        };
        let mut n = 0;
        while n < PAGE_SIZE {
            match f.read(&mut self.page[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io("read segment", &path, e)),
            }
        }
        self.page_len = n;
        self.pos = 0;
        Ok(n > 0)
    }

    /// The next record, `None` at the end of the log.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<Vec<u8>, Error>> {
        if self.failed {
            return None;
        }
        match self.next_inner() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }

    fn next_inner(&mut self) -> Result<Option<Vec<u8>>, Error> {
        self.rec.clear();
        let mut in_record = false;
        let mut compressed;
        loop {
            if self.pos + HEADER_SIZE > self.page_len {
                // What is left of the page cannot hold a fragment: it must be padding.
                let from = self.pos.min(self.page_len);
                if self.page[from..self.page_len].iter().any(|b| *b != 0) {
                    let off = if in_record {
                        self.rec_start
                    } else {
                        self.page_off + from as u64
                    };
                    return Err(self.corruption(off, "torn or garbled bytes at the end of a page"));
                }
                if self.load_page()? {
                    continue;
                }
                // End of this segment; records never continue into the next one.
                if in_record {
                    let off = self.rec_start;
                    return Err(self.corruption(off, "last record of the segment is incomplete"));
                }
                self.file = None;
                self.seg_idx += 1;
                if self.seg_idx >= self.segs.len() {
                    return Ok(None);
                }
                continue;
            }
            let frag_off = self.page_off + self.pos as u64;
            let h = match FragmentHeader::parse(&self.page[self.pos..self.page_len]) {
                Ok(h) => h,
                Err(e) => return Err(self.corruption(frag_off, e)),
            };
            if h.is_page_end() {
                if self.page[self.pos..self.page_len].iter().any(|b| *b != 0) {
                    return Err(self
                        .corruption(frag_off, "unexpected non-zero bytes after page terminator"));
                }
                self.pos = self.page_len;
                continue;
            }
            let len = h.len;
            let start = self.pos + HEADER_SIZE;
            if start + len > self.page_len {
                let reason = if self.page_len < PAGE_SIZE {
                    "record cut short (torn write)"
                } else {
                    "invalid record size"
                };
                let off = if in_record { self.rec_start } else { frag_off };
                return Err(self.corruption(off, reason));
            }
            let data = &self.page[start..start + len];
            if let Err(e) = h.check(data, in_record) {
                let off = if in_record { self.rec_start } else { frag_off };
                return Err(self.corruption(off, e));
            }
            if !in_record {
                self.rec_start = frag_off;
            }
            compressed = h.snappy;
            self.rec.extend_from_slice(data);
            self.pos = start + len;
            if h.ends_record() {
                let seg = self.segment().unwrap_or(0);
                self.last_good = Some((seg, self.page_off + self.pos as u64));
                let out = if compressed {
                    match self.snappy.decompress_vec(&self.rec) {
                        Ok(v) => v,
                        Err(e) => {
                            let off = self.rec_start;
                            return Err(self.corruption(off, format!("snappy: {e}")));
                        }
                    }
                } else {
                    std::mem::take(&mut self.rec)
                };
                return Ok(Some(out));
            }
            in_record = true;
        }
    }
}

/// What a repair did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// Segment truncated.
    pub segment: u32,
    /// Its new length.
    pub truncated_to: u64,
    /// Later segments removed.
    pub removed_segments: Vec<u32>,
}

/// Cuts the log at a corruption: the damaged segment is truncated where the damaged
/// record began and every later segment is deleted. Records before the damage stay.
pub fn repair(dir: &Path, segment: u32, offset: u64) -> Result<Repair, Error> {
    let mut removed = Vec::new();
    for (i, p) in segments(dir)? {
        if i > segment {
            std::fs::remove_file(&p).map_err(|e| Error::io("remove segment", &p, e))?;
            removed.push(i);
        }
    }
    let path = crate::segment::segment_name(dir, segment);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| Error::io("open segment", &path, e))?;
    f.set_len(offset)
        .map_err(|e| Error::io("truncate segment", &path, e))?;
    f.sync_all()
        .map_err(|e| Error::io("sync segment", &path, e))?;
    crate::segment::sync_dir(dir)?;
    Ok(Repair {
        segment,
        truncated_to: offset,
        removed_segments: removed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::{Wal, WalOptions};

    fn records(n: usize) -> Vec<Vec<u8>> {
        // Sizes from tiny to several pages, some incompressible.
        (0..n)
            .map(|i| {
                let len = (i * 7919) % (3 * PAGE_SIZE) + i % 3;
                (0..len)
                    .map(|j| ((j * 31 + i * 17) ^ (j >> 3)) as u8)
                    .collect()
            })
            .collect()
    }

    fn read_all(dir: &Path) -> (Vec<Vec<u8>>, Option<Error>) {
        let mut r = Reader::open(dir, 0).unwrap();
        let mut out = Vec::new();
        while let Some(x) = r.next() {
            match x {
                Ok(v) => out.push(v),
                Err(e) => return (out, Some(e)),
            }
        }
        (out, None)
    }

    #[test]
    fn round_trip_across_pages_and_segments() {
        for compress in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let recs = records(60);
            let mut w = Wal::open(
                dir.path(),
                WalOptions {
                    segment_size: 4 * PAGE_SIZE,
                    compress,
                },
            )
            .unwrap();
            for chunk in recs.chunks(3) {
                let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
                w.log(&refs).unwrap();
            }
            assert!(
                w.current_segment() >= if compress { 1 } else { 3 },
                "segment {}",
                w.current_segment()
            );
            // Read while still open (partial last page), then after close.
            let (got, err) = read_all(dir.path());
            assert!(err.is_none(), "{err:?}");
            assert_eq!(got, recs);
            w.close().unwrap();
            let (got, err) = read_all(dir.path());
            assert!(err.is_none());
            assert_eq!(got, recs);
            // Reopening starts a new segment after padding; old records still read.
            let mut w = Wal::open(
                dir.path(),
                WalOptions {
                    segment_size: 4 * PAGE_SIZE,
                    compress,
                },
            )
            .unwrap();
            w.log(&[b"after restart"]).unwrap();
            let (got, _) = read_all(dir.path());
            assert_eq!(got.len(), recs.len() + 1);
            assert_eq!(got.last().unwrap(), b"after restart");
        }
    }

    #[test]
    fn torn_tail_is_found_and_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let recs = records(20);
        let mut w = Wal::open(
            dir.path(),
            WalOptions {
                segment_size: 64 * PAGE_SIZE,
                compress: false,
            },
        )
        .unwrap();
        let refs: Vec<&[u8]> = recs.iter().map(Vec::as_slice).collect();
        w.log(&refs).unwrap();
        drop(w);
        let seg = segment_name_of_last(dir.path());
        let len = std::fs::metadata(&seg).unwrap().len();
        // Cut the file in the middle of the last record.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(len - 100)
            .unwrap();
        let (got, err) = read_all(dir.path());
        let Some(Error::Corruption {
            segment, offset, ..
        }) = err
        else {
            panic!("expected corruption, got {err:?}")
        };
        assert_eq!(got.len(), recs.len() - 1);
        repair(dir.path(), segment, offset).unwrap();
        let (got, err) = read_all(dir.path());
        assert!(err.is_none());
        assert_eq!(got, recs[..recs.len() - 1]);
    }

    #[test]
    fn flipped_byte_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let recs = records(10);
        let mut w = Wal::open(
            dir.path(),
            WalOptions {
                segment_size: 64 * PAGE_SIZE,
                compress: true,
            },
        )
        .unwrap();
        let refs: Vec<&[u8]> = recs.iter().map(Vec::as_slice).collect();
        w.log(&refs).unwrap();
        w.close().unwrap();
        let seg = segment_name_of_last(dir.path());
        let mut bytes = std::fs::read(&seg).unwrap();
        bytes[PAGE_SIZE + 100] ^= 0x40;
        std::fs::write(&seg, &bytes).unwrap();
        let (got, err) = read_all(dir.path());
        assert!(matches!(err, Some(Error::Corruption { .. })), "{err:?}");
        assert!(got.len() < recs.len());
        assert_eq!(got[..], recs[..got.len()]);
    }

    fn segment_name_of_last(dir: &Path) -> PathBuf {
        segments(dir).unwrap().pop().unwrap().1
    }
}
