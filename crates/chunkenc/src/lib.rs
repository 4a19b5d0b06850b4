//! Prometheus's chunk encodings, byte for byte: the XOR chunk for float samples and
//! the histogram and float-histogram chunks for native histograms, over a bit stream
//! laid out as Prometheus's `bstream`.
//!
//! Byte compatibility is the point: chunks written here end up in block `chunks/`
//! files and `chunks_head/` files that Prometheus, promtool and Thanos read, and
//! chunks Prometheus wrote are read here. The formats are documented in Prometheus's
//! `tsdb/docs/format/chunks.md`; tests pin golden bytes so that an encoder change
//! shows as a diff. No crate implements these encodings, so they are written here.
//!
//! # Supported encodings
//!
//! | encoding | on disk | module | read | write |
//! | --- | --- | --- | --- | --- |
//! | XOR (float samples) | 1 | [`xor`] | yes | yes |
//! | histogram (integer native histograms) | 2 | [`histogram`] | yes | yes, with Prometheus's appender rules |
//! | float histogram | 3 | [`float_histogram`] | yes | yes, with Prometheus's appender rules |
//! | XOR2, histogram ST, float histogram ST | 4–6 | — | no | no |
//!
//! Both histogram chunks handle exponential schemas (those Prometheus reserves for
//! future resolutions, 9 to 52, are read back reduced to 8), custom-bucket (NHCB,
//! schema −53) histograms with their bounds, gauge histograms and staleness
//! markers. Appending follows Prometheus's `AppendHistogram`: a sample goes in
//! place, or widens the chunk's bucket layout (the chunk is rewritten), or starts a
//! new chunk whose counter-reset header says why ([`Appended`],
//! [`CounterResetHeader`]). The [`varbit`] integers they are built on are public
//! too.

pub mod bstream;
pub mod float_histogram;
pub mod histogram;
mod histogram_meta;
pub mod varbit;
pub mod xor;

#[cfg(test)]
mod test_util;

pub use histogram_meta::{
    Appended, CounterResetHeader, MIN_SAMPLES_PER_HISTOGRAM_CHUNK, TARGET_BYTES_PER_HISTOGRAM_CHUNK,
};

/// Chunk encodings, with the numbers used on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Encoding {
    /// No encoding (never on disk).
    None = 0,
    /// Float samples, Gorilla XOR.
    Xor = 1,
    /// Integer native histograms.
    Histogram = 2,
    /// Float native histograms.
    FloatHistogram = 3,
    /// Float samples with start timestamps (Prometheus 3.x, `XOR2`).
    Xor2 = 4,
    /// Integer histograms with start timestamps.
    HistogramSt = 5,
    /// Float histograms with start timestamps.
    FloatHistogramSt = 6,
}

impl Encoding {
    /// From the on-disk byte.
    pub fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            0 => Encoding::None,
            1 => Encoding::Xor,
            2 => Encoding::Histogram,
            3 => Encoding::FloatHistogram,
            4 => Encoding::Xor2,
            5 => Encoding::HistogramSt,
            6 => Encoding::FloatHistogramSt,
            _ => return None,
        })
    }
}

/// Chunk decoding errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The bytes do not decode.
    #[error("corrupt chunk: {0}")]
    Corrupt(String),
    /// An encoding this build does not read.
    #[error("unsupported chunk encoding {0}")]
    Unsupported(u8),
    /// A histogram that cannot be encoded: its spans do not account for its buckets.
    #[error("invalid histogram: {0}")]
    InvalidHistogram(String),
    /// An append-only append (`append_in_place`) that would need a new chunk or a
    /// rewrite of this one; the message is Prometheus's.
    #[error("{0}")]
    NotAppendable(String),
}
