//! Iterating a series' chunks as one sample stream, bounded to a time range. Shared
//! by head and block queriers.

use ember_chunkenc::xor::XorIterator;
use ember_model::histogram::{FloatHistogram, Histogram};
use ember_storage::{Error, SampleIterator, Timestamp, ValueType};

/// One chunk as a query sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChunkView<'a> {
    pub(crate) max_t: i64,
    pub(crate) encoding: u8,
    pub(crate) bytes: &'a [u8],
}

/// Iterates chunks in time order, yielding samples in `[mint, maxt]`.
pub(crate) struct ChunksIterator<'a> {
    chunks: Vec<ChunkView<'a>>,
    next_chunk: usize,
    cur: Option<XorIterator<'a>>,
    t: i64,
    v: f64,
    mint: i64,
    maxt: i64,
    done: bool,
    err: Option<Error>,
}

impl<'a> ChunksIterator<'a> {
    pub(crate) fn new(chunks: Vec<ChunkView<'a>>, mint: i64, maxt: i64) -> Self {
        ChunksIterator {
            chunks,
            next_chunk: 0,
            cur: None,
            t: i64::MIN,
            v: 0.0,
            mint,
            maxt,
            done: false,
            err: None,
        }
    }

    fn fail(&mut self, e: Error) {
        self.err = Some(e);
        self.done = true;
    }
}

impl SampleIterator for ChunksIterator<'_> {
    fn next(&mut self) -> ValueType {
        while !self.done {
            let Some(it) = self.cur.as_mut() else {
                let Some(c) = self.chunks.get(self.next_chunk).copied() else {
                    self.done = true;
                    break;
                };
                self.next_chunk += 1;
                if c.encoding != ember_chunkenc::Encoding::Xor as u8 {
                    // Native-histogram chunks are not decoded yet; fail loudly rather
                    // than return a partial series.
                    self.fail(Error::Io(format!(
                        "chunk encoding {} is not supported yet",
                        c.encoding
                    )));
                    break;
                }
                match XorIterator::new(c.bytes) {
                    Ok(it) => self.cur = Some(it),
                    Err(e) => self.fail(Error::Io(e.to_string())),
                }
                continue;
            };
            if it.advance() {
                let (t, v) = it.at();
                if t < self.mint {
                    continue;
                }
                if t > self.maxt {
                    self.done = true;
                    break;
                }
                self.t = t;
                self.v = v;
                return ValueType::Float;
            }
            if let Some(e) = it.err() {
                let e = Error::Io(e.to_string());
                self.fail(e);
                break;
            }
            self.cur = None;
        }
        ValueType::None
    }

    fn seek(&mut self, t: Timestamp) -> ValueType {
        if self.done {
            return ValueType::None;
        }
        if self.t != i64::MIN && self.t >= t {
            return ValueType::Float;
        }
        // Skip whole chunks that end before `t`.
        let cur_ends_before = self.next_chunk > 0 && self.chunks[self.next_chunk - 1].max_t < t;
        if self.cur.is_none() || cur_ends_before {
            while self
                .chunks
                .get(self.next_chunk)
                .is_some_and(|c| c.max_t < t)
            {
                self.next_chunk += 1;
            }
            self.cur = None;
        }
        self.mint = self.mint.max(t);
        self.next()
    }

    fn at(&self) -> (Timestamp, f64) {
        (self.t, self.v)
    }
    fn at_histogram(&self, _into: &mut Histogram) -> Timestamp {
        self.t
    }
    fn at_float_histogram(&self, _into: &mut FloatHistogram) -> Timestamp {
        self.t
    }
    fn at_t(&self) -> Timestamp {
        self.t
    }
    fn err(&self) -> Option<&Error> {
        self.err.as_ref()
    }
}
