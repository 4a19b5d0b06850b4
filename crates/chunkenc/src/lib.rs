//! Prometheus's chunk encodings, byte for byte: the XOR chunk for float samples and
//! the histogram and float-histogram chunks for native histograms, over a bit stream
//! laid out as Prometheus's `bstream`.
//!
//! Byte compatibility is the point: chunks written here end up in block `chunks/`
//! files and `chunks_head/` files that Prometheus, promtool and Thanos read, and
//! chunks Prometheus wrote are read here. The formats are documented in Prometheus's
//! `tsdb/docs/format/chunks.md`; tests pin golden bytes so that an encoder change
//! shows as a diff. No crate implements these encodings, so they are written here.

pub mod bstream;
pub mod xor;

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
}
