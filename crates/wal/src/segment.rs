//! Writing the log: segments of 32 KiB pages holding record fragments.
//!
//! Durability: every [`Wal::log`] call ends with a `write(2)` of what it added, so a
//! record is in the kernel's page cache — and survives the process being killed —
//! when `log` returns. `fsync` happens when a segment is closed and on
//! [`Wal::sync`]; surviving a machine crash between those needs the caller to sync.

use crate::Error;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Page size: records are split into fragments that never cross a page.
pub const PAGE_SIZE: usize = 32 * 1024;
/// Fragment header: type (1), length (2), CRC32-C (4).
pub const HEADER_SIZE: usize = 7;
/// Prometheus's default segment size.
pub const DEFAULT_SEGMENT_SIZE: usize = 128 * 1024 * 1024;

pub(crate) const SNAPPY_FLAG: u8 = 1 << 3;
pub(crate) const ZSTD_FLAG: u8 = 1 << 4;
pub(crate) const TYPE_MASK: u8 = SNAPPY_FLAG - 1;

/// Fragment types.
pub(crate) const REC_PAGE_TERM: u8 = 0;
pub(crate) const REC_FULL: u8 = 1;
pub(crate) const REC_FIRST: u8 = 2;
pub(crate) const REC_MIDDLE: u8 = 3;
pub(crate) const REC_LAST: u8 = 4;

/// Writer settings.
#[derive(Clone, Debug)]
pub struct WalOptions {
    /// Segment size in bytes; a multiple of [`PAGE_SIZE`].
    pub segment_size: usize,
    /// Compress records with snappy (Prometheus's default).
    pub compress: bool,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_size: DEFAULT_SEGMENT_SIZE,
            compress: true,
        }
    }
}

/// The file name of segment `i`.
pub fn segment_name(dir: &Path, i: u32) -> PathBuf {
    dir.join(format!("{i:08}"))
}

/// The segments in `dir`, in order. Other files (checkpoints, temp files) are ignored.
pub fn segments(dir: &Path) -> Result<Vec<(u32, PathBuf)>, Error> {
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io("read dir", dir, e)),
    };
    for e in rd {
        let e = e.map_err(|e| Error::io("read dir", dir, e))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.bytes().all(|b| b.is_ascii_digit()) || name.is_empty() {
            continue;
        }
        if let Ok(i) = name.parse::<u32>() {
            out.push((i, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The writing end of a WAL directory.
pub struct Wal {
    dir: PathBuf,
    opts: WalOptions,
    file: File,
    segment: u32,
    page: Box<[u8; PAGE_SIZE]>,
    /// Bytes of the page in use.
    alloc: usize,
    /// Bytes of the page already written to the file.
    flushed: usize,
    /// Complete pages in the current segment.
    done_pages: usize,
    snappy: snap::raw::Encoder,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.dir)
            .field("segment", &self.segment)
            .finish()
    }
}

fn create_segment(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io("create segment", path, e))
}

impl Wal {
    /// Opens `dir` for writing. As Prometheus does, writing starts in a fresh segment
    /// after the last one; the last existing segment is padded to a whole page so
    /// that readers find only complete pages before the new segment.
    pub fn open(dir: &Path, opts: WalOptions) -> Result<Wal, Error> {
        assert!(
            opts.segment_size.is_multiple_of(PAGE_SIZE) && opts.segment_size > 0,
            "segment size must be whole pages"
        );
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create dir", dir, e))?;
        let segs = segments(dir)?;
        if let Some((_, last)) = segs.last() {
            let f = OpenOptions::new()
                .append(true)
                .open(last)
                .map_err(|e| Error::io("open segment", last, e))?;
            let len = f
                .metadata()
                .map_err(|e| Error::io("stat segment", last, e))?
                .len() as usize;
            if !len.is_multiple_of(PAGE_SIZE) {
                (&f).write_all(&vec![0u8; PAGE_SIZE - len % PAGE_SIZE])
                    .map_err(|e| Error::io("pad segment", last, e))?;
                f.sync_all()
                    .map_err(|e| Error::io("sync segment", last, e))?;
            }
        }
        let segment = segs.last().map_or(0, |(i, _)| i + 1);
        let file = create_segment(&segment_name(dir, segment))?;
        sync_dir(dir)?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            opts,
            file,
            segment,
            page: Box::new([0u8; PAGE_SIZE]),
            alloc: 0,
            flushed: 0,
            done_pages: 0,
            snappy: snap::raw::Encoder::new(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The segment being written.
    pub fn current_segment(&self) -> u32 {
        self.segment
    }

    fn pages_per_segment(&self) -> usize {
        self.opts.segment_size / PAGE_SIZE
    }

    fn path(&self) -> PathBuf {
        segment_name(&self.dir, self.segment)
    }

    /// Writes the unflushed part of the page; with `close`, the page is finished
    /// (zero-padded to its full size) and a new one begins.
    fn flush_page(&mut self, close: bool) -> Result<(), Error> {
        let end = if close { PAGE_SIZE } else { self.alloc };
        if end > self.flushed {
            let r = self.file.write_all(&self.page[self.flushed..end]);
            r.map_err(|e| Error::io("write segment", self.path(), e))?;
            self.flushed = end;
        }
        if close || self.alloc == PAGE_SIZE {
            self.page.fill(0);
            self.alloc = 0;
            self.flushed = 0;
            self.done_pages += 1;
        }
        Ok(())
    }

    /// Closes the current segment (padding and syncing it) and starts the next one.
    pub fn next_segment(&mut self) -> Result<u32, Error> {
        if self.alloc > 0 {
            self.flush_page(true)?;
        }
        self.file
            .sync_all()
            .map_err(|e| Error::io("sync segment", self.path(), e))?;
        self.segment += 1;
        self.file = create_segment(&self.path())?;
        self.done_pages = 0;
        sync_dir(&self.dir)?;
        Ok(self.segment)
    }

    /// Appends records as one batch and writes them out before returning. When
    /// writing fails (a full disk), the segment is cut back to where the batch
    /// began and the page restored, so that the log stays well-formed and the next
    /// batch continues it once space returns; a batch that failed after starting a
    /// new segment leaves that segment empty (its first records may survive in the
    /// previous one, which only ever adds records the caller was told failed).
    pub fn log(&mut self, records: &[&[u8]]) -> Result<(), Error> {
        let start = (self.segment, self.done_pages, self.alloc);
        let page = self.page[..self.alloc].to_vec();
        let r = records
            .iter()
            .try_for_each(|rec| self.log_one(rec))
            .and_then(|()| {
                if self.alloc > 0 {
                    self.flush_page(false)
                } else {
                    Ok(())
                }
            });
        if r.is_err() {
            self.restore(start, &page);
        }
        r
    }

    /// Puts the writer back to `(segment, done_pages, alloc)` with the page's used
    /// bytes `page`, cutting the file to match (see [`Wal::log`]).
    fn restore(&mut self, (segment, done_pages, alloc): (u32, usize, usize), page: &[u8]) {
        self.page.fill(0);
        if segment == self.segment {
            self.page[..alloc].copy_from_slice(page);
            (self.done_pages, self.alloc, self.flushed) = (done_pages, alloc, alloc);
        } else {
            (self.done_pages, self.alloc, self.flushed) = (0, 0, 0);
        }
        let len = (self.done_pages * PAGE_SIZE + self.alloc) as u64;
        // Shrinking needs no space; should it fail anyway, the reader's repair at the
        // next start truncates the torn tail.
        let _ = self.file.set_len(len);
    }

    fn log_one(&mut self, rec: &[u8]) -> Result<(), Error> {
        if PAGE_SIZE - self.alloc < HEADER_SIZE {
            self.flush_page(true)?;
        }
        let compressed;
        let (data, flag) = if self.opts.compress {
            compressed = self
                .snappy
                .compress_vec(rec)
                .map_err(|e| Error::InvalidRecord(format!("snappy: {e}")))?;
            // Keep the raw bytes when compression does not pay, as Prometheus does.
            if compressed.len() < rec.len() {
                (&compressed[..], SNAPPY_FLAG)
            } else {
                (rec, 0)
            }
        } else {
            (rec, 0)
        };
        // Records never cross segments: start a new one if this will not fit.
        let left = (PAGE_SIZE - self.alloc - HEADER_SIZE)
            + (PAGE_SIZE - HEADER_SIZE)
                * self.pages_per_segment().saturating_sub(self.done_pages + 1);
        if data.len() > left && (self.done_pages > 0 || self.alloc > 0) {
            self.next_segment()?;
        }
        let mut rest = data;
        let mut first = true;
        loop {
            let room = PAGE_SIZE - self.alloc - HEADER_SIZE;
            let n = rest.len().min(room);
            let (part, tail) = rest.split_at(n);
            let typ = match (first, tail.is_empty()) {
                (true, true) => REC_FULL,
                (false, true) => REC_LAST,
                (true, false) => REC_FIRST,
                (false, false) => REC_MIDDLE,
            } | flag;
            let a = self.alloc;
            self.page[a] = typ;
            self.page[a + 1..a + 3].copy_from_slice(&(n as u16).to_be_bytes());
            self.page[a + 3..a + 7].copy_from_slice(&crc32c::crc32c(part).to_be_bytes());
            self.page[a + 7..a + 7 + n].copy_from_slice(part);
            self.alloc += HEADER_SIZE + n;
            if PAGE_SIZE - self.alloc < HEADER_SIZE {
                self.flush_page(true)?;
            }
            rest = tail;
            first = false;
            if rest.is_empty() {
                return Ok(());
            }
        }
    }

    /// Flushes and fsyncs the current segment.
    pub fn sync(&mut self) -> Result<(), Error> {
        if self.alloc > self.flushed {
            self.flush_page(false)?;
        }
        self.file
            .sync_data()
            .map_err(|e| Error::io("sync segment", self.path(), e))
    }

    /// Deletes segments numbered below `before` (after a checkpoint covers them).
    pub fn truncate(&self, before: u32) -> Result<(), Error> {
        for (i, p) in segments(&self.dir)? {
            if i >= before || i == self.segment {
                break;
            }
            std::fs::remove_file(&p).map_err(|e| Error::io("remove segment", &p, e))?;
        }
        Ok(())
    }

    /// Pads, syncs and closes the log.
    pub fn close(mut self) -> Result<(), Error> {
        if self.alloc > 0 {
            self.flush_page(true)?;
        }
        self.file
            .sync_all()
            .map_err(|e| Error::io("sync segment", self.path(), e))
    }
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("sync dir", dir, e))
}
