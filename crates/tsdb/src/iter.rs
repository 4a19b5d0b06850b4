//! Iterating a series' chunks as one sample stream, bounded to a time range. Shared
//! by head and block queriers and by compaction.
//!
//! A series may switch between float and histogram samples, so consecutive chunks
//! can have different encodings; each chunk gets the decoder its encoding byte asks
//! for and the iterator reports the value type of every sample.

use ember_chunkenc::Encoding;
use ember_chunkenc::float_histogram::FloatHistogramIterator;
use ember_chunkenc::histogram::HistogramIterator;
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

/// The decoder of the chunk being read.
enum Decoder<'a> {
    Xor(XorIterator<'a>),
    Histogram(HistogramIterator<'a>),
    FloatHistogram(FloatHistogramIterator<'a>),
}

impl<'a> Decoder<'a> {
    fn new(encoding: u8, bytes: &'a [u8]) -> Result<Self, Error> {
        let io = |e: ember_chunkenc::Error| Error::Io(e.to_string());
        match Encoding::from_u8(encoding) {
            Some(Encoding::Xor) => XorIterator::new(bytes).map(Decoder::Xor).map_err(io),
            Some(Encoding::Histogram) => HistogramIterator::new(bytes)
                .map(Decoder::Histogram)
                .map_err(io),
            Some(Encoding::FloatHistogram) => FloatHistogramIterator::new(bytes)
                .map(Decoder::FloatHistogram)
                .map_err(io),
            // The start-timestamp encodings (Prometheus 3.x, behind a feature flag)
            // are not decoded yet; fail loudly rather than return a partial series.
            _ => Err(Error::Io(format!(
                "chunk encoding {encoding} is not supported"
            ))),
        }
    }

    /// Moves to the next sample, returning its type (`None` at the end or on error).
    fn advance(&mut self) -> ValueType {
        let (moved, vt) = match self {
            Decoder::Xor(it) => (it.advance(), ValueType::Float),
            Decoder::Histogram(it) => (it.advance(), ValueType::Histogram),
            Decoder::FloatHistogram(it) => (it.advance(), ValueType::FloatHistogram),
        };
        if moved { vt } else { ValueType::None }
    }

    fn at_t(&self) -> i64 {
        match self {
            Decoder::Xor(it) => it.at().0,
            Decoder::Histogram(it) => it.at_t(),
            Decoder::FloatHistogram(it) => it.at_t(),
        }
    }

    fn err(&self) -> Option<&ember_chunkenc::Error> {
        match self {
            Decoder::Xor(it) => it.err(),
            Decoder::Histogram(it) => it.err(),
            Decoder::FloatHistogram(it) => it.err(),
        }
    }
}

/// Iterates chunks in time order, yielding samples in `[mint, maxt]`.
pub(crate) struct ChunksIterator<'a> {
    chunks: Vec<ChunkView<'a>>,
    next_chunk: usize,
    cur: Option<Decoder<'a>>,
    /// What the iterator stands on; `None` before the first move and at the end.
    vt: ValueType,
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
            vt: ValueType::None,
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
        self.finish();
    }

    fn finish(&mut self) {
        self.done = true;
        self.vt = ValueType::None;
    }
}

impl SampleIterator for ChunksIterator<'_> {
    fn next(&mut self) -> ValueType {
        while !self.done {
            let Some(it) = self.cur.as_mut() else {
                let Some(c) = self.chunks.get(self.next_chunk).copied() else {
                    self.finish();
                    break;
                };
                self.next_chunk += 1;
                match Decoder::new(c.encoding, c.bytes) {
                    Ok(d) => self.cur = Some(d),
                    Err(e) => self.fail(e),
                }
                continue;
            };
            let vt = it.advance();
            if vt != ValueType::None {
                let t = it.at_t();
                if t < self.mint {
                    continue;
                }
                if t > self.maxt {
                    self.finish();
                    break;
                }
                if let Decoder::Xor(x) = it {
                    self.v = x.at().1;
                }
                self.t = t;
                self.vt = vt;
                return vt;
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
        if self.vt != ValueType::None && self.t >= t {
            return self.vt;
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

    fn at_histogram(&self, into: &mut Histogram) -> Timestamp {
        match &self.cur {
            Some(Decoder::Histogram(it)) if self.vt == ValueType::Histogram => {
                it.at_histogram(into)
            }
            _ => self.t,
        }
    }

    fn at_float_histogram(&self, into: &mut FloatHistogram) -> Timestamp {
        match &self.cur {
            Some(Decoder::Histogram(it)) if self.vt == ValueType::Histogram => {
                it.at_float_histogram(into)
            }
            Some(Decoder::FloatHistogram(it)) if self.vt == ValueType::FloatHistogram => {
                it.at_float_histogram(into)
            }
            _ => self.t,
        }
    }

    fn at_t(&self) -> Timestamp {
        self.t
    }

    fn err(&self) -> Option<&Error> {
        self.err.as_ref()
    }
}

/// Whether `[min_t, max_t]` lies inside one of the (merged) deleted intervals.
pub(crate) fn covered(min_t: i64, max_t: i64, deleted: &[(i64, i64)]) -> bool {
    deleted.iter().any(|(a, b)| *a <= min_t && max_t <= *b)
}

/// `it` without the samples inside `deleted` (closed intervals, as tombstones hold
/// them); `it` itself when nothing is deleted.
pub(crate) fn without_deleted<'a, I: SampleIterator + 'a>(
    it: I,
    deleted: &'a [(i64, i64)],
) -> Box<dyn SampleIterator + 'a> {
    if deleted.is_empty() {
        Box::new(it)
    } else {
        Box::new(DeletedFilter { inner: it, deleted })
    }
}

/// Skips samples inside deleted intervals.
struct DeletedFilter<'a, I> {
    inner: I,
    deleted: &'a [(i64, i64)],
}

impl<I: SampleIterator> DeletedFilter<'_, I> {
    fn skip(&mut self, mut vt: ValueType) -> ValueType {
        while vt != ValueType::None {
            let t = self.inner.at_t();
            if !self.deleted.iter().any(|(a, b)| *a <= t && t <= *b) {
                break;
            }
            vt = self.inner.next();
        }
        vt
    }
}

impl<I: SampleIterator> SampleIterator for DeletedFilter<'_, I> {
    fn next(&mut self) -> ValueType {
        let vt = self.inner.next();
        self.skip(vt)
    }
    fn seek(&mut self, t: Timestamp) -> ValueType {
        let vt = self.inner.seek(t);
        self.skip(vt)
    }
    fn at(&self) -> (Timestamp, f64) {
        self.inner.at()
    }
    fn at_histogram(&self, into: &mut Histogram) -> Timestamp {
        self.inner.at_histogram(into)
    }
    fn at_float_histogram(&self, into: &mut FloatHistogram) -> Timestamp {
        self.inner.at_float_histogram(into)
    }
    fn at_t(&self) -> Timestamp {
        self.inner.at_t()
    }
    fn err(&self) -> Option<&Error> {
        self.inner.err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_chunkenc::Appended;
    use ember_chunkenc::float_histogram::FloatHistogramChunk;
    use ember_chunkenc::histogram::HistogramChunk;
    use ember_chunkenc::xor::XorChunk;
    use ember_model::histogram::Span;

    fn hist(i: u64) -> Histogram {
        Histogram {
            schema: 0,
            count: 2 * i,
            sum: i as f64,
            positive_spans: vec![Span {
                offset: 0,
                length: 2,
            }],
            positive_buckets: vec![i as i64, 0],
            ..Default::default()
        }
    }

    /// Float samples at 0..10, histograms at 10..20, float histograms at 20..30.
    fn mixed() -> Vec<(u8, Vec<u8>, i64)> {
        let mut x = XorChunk::new();
        for t in 0..10 {
            x.append(t, t as f64);
        }
        let mut h = HistogramChunk::new();
        for t in 10..20 {
            assert!(matches!(
                h.append(t, &hist(t as u64)).unwrap(),
                Appended::InPlace
            ));
        }
        let mut f = FloatHistogramChunk::new();
        for t in 20..30 {
            assert!(matches!(
                f.append(t, &hist(t as u64).to_float()).unwrap(),
                Appended::InPlace
            ));
        }
        vec![
            (Encoding::Xor as u8, x.bytes().to_vec(), 9),
            (Encoding::Histogram as u8, h.bytes().to_vec(), 19),
            (Encoding::FloatHistogram as u8, f.bytes().to_vec(), 29),
        ]
    }

    fn views(c: &[(u8, Vec<u8>, i64)]) -> Vec<ChunkView<'_>> {
        c.iter()
            .map(|(e, b, m)| ChunkView {
                max_t: *m,
                encoding: *e,
                bytes: b,
            })
            .collect()
    }

    #[test]
    fn decodes_every_encoding_in_order() {
        let c = mixed();
        let mut it = ChunksIterator::new(views(&c), 5, 25);
        let mut h = Histogram::default();
        let mut fh = FloatHistogram::default();
        for t in 5..=25 {
            let vt = it.next();
            assert_eq!(it.at_t(), t);
            match t {
                ..10 => {
                    assert_eq!(vt, ValueType::Float);
                    assert_eq!(it.at(), (t, t as f64));
                }
                10..20 => {
                    assert_eq!(vt, ValueType::Histogram);
                    assert_eq!(it.at_histogram(&mut h), t);
                    assert_eq!(h.count, 2 * t as u64);
                    // Integer histograms also read as float ones.
                    it.at_float_histogram(&mut fh);
                    assert_eq!(fh.positive_buckets, vec![t as f64, t as f64]);
                }
                _ => {
                    assert_eq!(vt, ValueType::FloatHistogram);
                    assert_eq!(it.at_float_histogram(&mut fh), t);
                    assert_eq!(fh.sum, t as f64);
                }
            }
        }
        assert_eq!(it.next(), ValueType::None);
        assert!(it.err().is_none());
    }

    #[test]
    fn seek_across_kinds() {
        let c = mixed();
        let mut it = ChunksIterator::new(views(&c), i64::MIN, i64::MAX);
        assert_eq!(it.seek(12), ValueType::Histogram);
        assert_eq!(it.at_t(), 12);
        // Seeking backwards stays put and reports the current type.
        assert_eq!(it.seek(3), ValueType::Histogram);
        assert_eq!(it.seek(27), ValueType::FloatHistogram);
        assert_eq!(it.at_t(), 27);
        assert_eq!(it.seek(30), ValueType::None);
        let mut it = ChunksIterator::new(views(&c), i64::MIN, i64::MAX);
        assert_eq!(it.seek(9), ValueType::Float);
        assert_eq!(it.next(), ValueType::Histogram);
        assert_eq!(it.at_t(), 10);
    }

    #[test]
    fn unknown_encodings_fail_loudly() {
        let c = [(5u8, vec![0u8, 0], 0i64)];
        let mut it = ChunksIterator::new(views(&c), i64::MIN, i64::MAX);
        assert_eq!(it.next(), ValueType::None);
        assert!(it.err().is_some());
    }
}
