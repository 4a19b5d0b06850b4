//! Reading a WAL segment while the TSDB is still writing it.
//!
//! `ember_wal::reader::Reader` treats the end of the data as the end of the log and
//! a record cut short as damage, which is right for replay but wrong for tailing:
//! here the end of the file only means "nothing more yet". This reader keeps the
//! bytes it could not use yet and resumes from them at the next call, and only a
//! checksum or framing error is damage. The framing (32 KiB pages, 7-byte fragment
//! headers, full/first/middle/last fragments, snappy flag) is the one documented in
//! `crates/wal/docs/format/wal.md`.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use ember_wal::reader::FragmentHeader;
use ember_wal::segment::{HEADER_SIZE, PAGE_SIZE};

/// Why a segment cannot be read further.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LiveError {
    /// Opening or reading the file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not a valid WAL (bad checksum, bad fragment sequence).
    #[error("corruption at offset {offset}: {reason}")]
    Corruption { offset: u64, reason: String },
}

/// A reader over one segment that may still grow.
pub(crate) struct LiveReader {
    file: File,
    /// Bytes read from the file and not consumed yet.
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    base: u64,
    /// The record being assembled from fragments, and whether it is snappy.
    rec: Vec<u8>,
    in_record: bool,
    snappy: snap::raw::Decoder,
}

impl LiveReader {
    pub(crate) fn open(path: &Path) -> Result<LiveReader, LiveError> {
        Ok(LiveReader {
            file: File::open(path)?,
            buf: Vec::new(),
            base: 0,
            rec: Vec::new(),
            in_record: false,
            snappy: snap::raw::Decoder::new(),
        })
    }

    /// Bytes of the file consumed so far.
    pub(crate) fn offset(&self) -> u64 {
        self.base
    }

    /// Whether bytes were read that do not make a complete record yet.
    pub(crate) fn has_partial(&self) -> bool {
        self.in_record || !self.buf.is_empty()
    }

    /// Reads up to about 1 MiB of what the writer added since the last call and
    /// returns the complete records it holds, and whether the file gave any bytes
    /// (call again until it gives none); an incomplete tail is kept for the next
    /// call. Bounded so that replaying a 128 MiB segment does not load it whole.
    pub(crate) fn read_some(&mut self) -> Result<(Vec<Vec<u8>>, bool), LiveError> {
        let mut chunk = [0u8; 64 * 1024];
        let mut got = false;
        while self.buf.len() < 1 << 20 {
            match self.file.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    got = true;
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        let mut out = Vec::new();
        let mut pos = 0usize;
        loop {
            let off = self.base + pos as u64;
            let in_page = (off % PAGE_SIZE as u64) as usize;
            let page_left = PAGE_SIZE - in_page;
            if page_left < HEADER_SIZE {
                // Too little room for a fragment: the writer pads to the next page.
                if self.buf.len() - pos < page_left {
                    break;
                }
                pos += page_left;
                continue;
            }
            let Some(first) = self.buf.get(pos..=pos) else {
                break;
            };
            if FragmentHeader::parse(first).is_ok_and(|h| h.is_page_end()) {
                // The rest of the page is zeros, written when the page was closed;
                // until all of it is here the writer may still be on this page.
                if self.buf.len() - pos < page_left {
                    break;
                }
                if self.buf[pos..pos + page_left].iter().any(|b| *b != 0) {
                    return Err(self.corrupt(off, "non-zero bytes after a page terminator"));
                }
                pos += page_left;
                continue;
            }
            if self.buf.len() - pos < HEADER_SIZE {
                break;
            }
            let h = FragmentHeader::parse(&self.buf[pos..]).map_err(|e| self.corrupt(off, e))?;
            let len = h.len;
            if HEADER_SIZE + len > page_left {
                return Err(self.corrupt(off, "fragment crosses a page boundary"));
            }
            if self.buf.len() - pos < HEADER_SIZE + len {
                break;
            }
            let data = &self.buf[pos + HEADER_SIZE..pos + HEADER_SIZE + len];
            h.check(data, self.in_record)
                .map_err(|e| self.corrupt(off, e))?;
            self.rec.extend_from_slice(data);
            pos += HEADER_SIZE + len;
            if h.ends_record() {
                self.in_record = false;
                let rec = std::mem::take(&mut self.rec);
                if h.snappy {
                    match self.snappy.decompress_vec(&rec) {
                        Ok(v) => out.push(v),
                        Err(e) => return Err(self.corrupt(off, format!("snappy: {e}"))),
                    }
                } else {
                    out.push(rec);
                }
            } else {
                self.in_record = true;
            }
        }
        self.buf.drain(..pos);
        self.base += pos as u64;
        Ok((out, got))
    }

    /// All complete records available now.
    pub(crate) fn read_available(&mut self) -> Result<Vec<Vec<u8>>, LiveError> {
        let mut out = Vec::new();
        loop {
            let (recs, more) = self.read_some()?;
            out.extend(recs);
            if !more {
                return Ok(out);
            }
        }
    }

    fn corrupt(&self, offset: u64, reason: impl Into<String>) -> LiveError {
        LiveError::Corruption {
            offset,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_wal::segment::{Wal, WalOptions};

    /// Records written between reads come out exactly once, whatever their size
    /// (several pages included), compressed or not.
    #[test]
    fn tails_a_growing_segment() {
        for compress in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let mut w = Wal::open(
                dir.path(),
                WalOptions {
                    segment_size: 64 * PAGE_SIZE,
                    compress,
                },
            )
            .unwrap();
            let path = ember_wal::segment::segment_name(dir.path(), w.current_segment());
            let mut r = LiveReader::open(&path).unwrap();
            assert!(r.read_available().unwrap().is_empty());
            let mut expect = Vec::new();
            let mut got = Vec::new();
            for i in 0..40usize {
                let len = (i * 7919) % (2 * PAGE_SIZE) + 1;
                let rec: Vec<u8> = (0..len).map(|j| (j * 13 + i) as u8).collect();
                w.log(&[&rec]).unwrap();
                expect.push(rec);
                if i % 3 == 0 {
                    got.extend(r.read_available().unwrap());
                }
            }
            got.extend(r.read_available().unwrap());
            assert_eq!(got, expect);
            assert!(!r.has_partial());
        }
    }

    /// A fragment cut in the middle (a write seen half done) waits for the rest.
    #[test]
    fn partial_fragment_waits() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Wal::open(
            dir.path(),
            WalOptions {
                segment_size: 64 * PAGE_SIZE,
                compress: false,
            },
        )
        .unwrap();
        w.log(&[b"hello world"]).unwrap();
        let path = ember_wal::segment::segment_name(dir.path(), 0);
        let all = std::fs::read(&path).unwrap();
        let cut = dir.path().join("cut");
        std::fs::write(&cut, &all[..10]).unwrap();
        let mut r = LiveReader::open(&cut).unwrap();
        assert!(r.read_available().unwrap().is_empty());
        let mut f = std::fs::OpenOptions::new().append(true).open(&cut).unwrap();
        std::io::Write::write_all(&mut f, &all[10..]).unwrap();
        assert_eq!(r.read_available().unwrap(), vec![b"hello world".to_vec()]);
    }
}
