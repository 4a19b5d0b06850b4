//! The write-ahead log, in Prometheus's on-disk format, so that Ember replays a WAL
//! Prometheus wrote and Prometheus replays Ember's.
//!
//! Two layers. [`segment`] writes opaque records into numbered segment files of
//! 32 KiB pages, splitting records into CRC32-Castagnoli-checked fragments and
//! compressing them with snappy; [`reader`] reads them back page by page (bounded
//! memory whatever the WAL's size) and reports the exact place where a torn or corrupt
//! tail starts so that [`reader::repair`] can cut it off. [`record`] encodes and
//! decodes the record payloads: series, samples, tombstones, exemplars, metadata and
//! native histograms. The format is documented in `docs/format/wal.md` of this crate.

pub mod enc;
pub mod reader;
pub mod record;
pub mod segment;

use std::path::PathBuf;

/// WAL errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The log is damaged at a known place; everything before it is good.
    #[error("corruption in segment {segment} at offset {offset}: {reason}")]
    Corruption {
        /// Segment number.
        segment: u32,
        /// Byte offset in the segment where the damaged record starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A record payload does not decode.
    #[error("invalid record: {0}")]
    InvalidRecord(String),
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
