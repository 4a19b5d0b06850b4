//! The pieces both sides of remote read share: the frame format of streamed
//! responses, snappy bodies, and conversions between the protobuf messages and
//! Ember's labels, matchers, histograms and chunks.
//!
//! A streamed response is a sequence of frames, each `uvarint(len) ‖
//! CRC32-Castagnoli(message), big-endian ‖ message`, where the message is a
//! [`ChunkedReadResponse`] (Prometheus's `storage/remote/chunked.go`). The checksum
//! covers the message bytes only.

use super::ReadError;
use super::proto::{Chunk, ChunkedReadResponse, LabelMatcher, MatcherType};
use crate::proto::{self as pb, BucketSpan, Count, ZeroCount};
use ember_chunkenc::float_histogram::{FloatHistogramChunk, FloatHistogramIterator};
use ember_chunkenc::histogram::{HistogramChunk, HistogramIterator};
use ember_chunkenc::xor::{XorChunk, XorIterator};
use ember_chunkenc::{Appended, Encoding};
use ember_model::histogram::{FloatHistogram, Histogram};
use ember_model::{Label, Labels, MatchType, Matcher};
use ember_storage::Timestamp;
use ember_storage::list::Value;
use prost::Message;
use std::sync::Arc;

/// Largest request body, compressed or not, that the server accepts (Prometheus's
/// `decodeReadLimit`).
pub const DECODE_READ_LIMIT: usize = 32 * 1024 * 1024;

/// Samples per chunk when series are re-encoded for a streamed response, as
/// Prometheus's `seriesToChunkEncoder` cuts them.
pub const SAMPLES_PER_CHUNK: usize = 120;

/// Snappy-compresses a message body (block format, as Prometheus's `snappy.Encode`).
pub fn snappy_encode(raw: &[u8]) -> Result<Vec<u8>, ReadError> {
    snap::raw::Encoder::new()
        .compress_vec(raw)
        .map_err(|e| ReadError::Internal(format!("snappy: {e}")))
}

/// Decompresses a snappy block, refusing bodies that would decode to more than
/// `limit` bytes before allocating them.
pub fn snappy_decode(body: &[u8], limit: usize) -> Result<Vec<u8>, ReadError> {
    let len = snap::raw::decompress_len(body).map_err(|e| ReadError::BadRequest(e.to_string()))?;
    if len > limit {
        return Err(ReadError::BadRequest(format!(
            "snappy: decoded length {len} exceeds limit {limit}"
        )));
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| ReadError::BadRequest(e.to_string()))
}

/// Appends one frame holding `msg` to `out`.
pub fn write_frame(out: &mut Vec<u8>, msg: &[u8]) {
    let mut n = msg.len() as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(&crc32c::crc32c(msg).to_be_bytes());
    out.extend_from_slice(msg);
}

/// Reads frames off a streamed body.
#[derive(Debug)]
pub struct FrameReader<'a> {
    rest: &'a [u8],
    limit: u64,
}

impl<'a> FrameReader<'a> {
    /// Frames of `body`; a frame whose message is over `limit` bytes is an error
    /// (Prometheus's `chunked_read_limit`; 0 for none).
    pub fn new(body: &'a [u8], limit: u64) -> Self {
        FrameReader { rest: body, limit }
    }

    /// The next frame's message, `None` at a clean end.
    pub fn next_frame(&mut self) -> Result<Option<&'a [u8]>, ReadError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let mut size = 0u64;
        let mut shift = 0;
        let mut used = 0;
        loop {
            let Some(&b) = self.rest.get(used) else {
                return Err(ReadError::Decode("truncated frame length".into()));
            };
            used += 1;
            if shift >= 64 {
                return Err(ReadError::Decode("frame length overflows".into()));
            }
            size |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                break;
            }
            shift += 7;
        }
        if self.limit > 0 && size > self.limit {
            return Err(ReadError::Decode(format!(
                "chunkedReader: message size exceeded the limit {} bytes; got: {size} bytes",
                self.limit
            )));
        }
        let rest = &self.rest[used..];
        let (crc, rest) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| ReadError::Decode("truncated frame checksum".into()))?;
        let size = usize::try_from(size)
            .map_err(|_| ReadError::Decode("frame length overflows".into()))?;
        if rest.len() < size {
            return Err(ReadError::Decode("truncated frame".into()));
        }
        let (msg, rest) = rest.split_at(size);
        if crc32c::crc32c(msg) != u32::from_be_bytes(*crc) {
            return Err(ReadError::Decode(
                "chunkedReader: corrupted frame; checksum mismatch".into(),
            ));
        }
        self.rest = rest;
        Ok(Some(msg))
    }

    /// The next frame decoded as a [`ChunkedReadResponse`].
    pub fn next_response(&mut self) -> Result<Option<ChunkedReadResponse>, ReadError> {
        match self.next_frame()? {
            Some(m) => ChunkedReadResponse::decode(m)
                .map(Some)
                .map_err(|e| ReadError::Decode(format!("decoding frame: {e}"))),
            None => Ok(None),
        }
    }
}

/// Protobuf matchers to Ember's (regexes compiled, Go semantics).
pub fn from_label_matchers(ms: &[LabelMatcher]) -> Result<Vec<Matcher>, ReadError> {
    ms.iter()
        .map(|m| {
            let kind = match MatcherType::try_from(m.r#type) {
                Ok(MatcherType::Eq) => MatchType::Equal,
                Ok(MatcherType::Neq) => MatchType::NotEqual,
                Ok(MatcherType::Re) => MatchType::RegexMatch,
                Ok(MatcherType::Nre) => MatchType::RegexNoMatch,
                Err(_) => {
                    return Err(ReadError::BadRequest(format!(
                        "invalid matcher type {}",
                        m.r#type
                    )));
                }
            };
            Matcher::new(kind, m.name.clone(), m.value.clone())
                .map_err(|e| ReadError::BadRequest(e.to_string()))
        })
        .collect()
}

/// Ember's matchers to protobuf ones.
pub fn to_label_matchers(ms: &[Matcher]) -> Vec<LabelMatcher> {
    ms.iter()
        .map(|m| LabelMatcher {
            r#type: match m.kind {
                MatchType::Equal => MatcherType::Eq,
                MatchType::NotEqual => MatcherType::Neq,
                MatchType::RegexMatch => MatcherType::Re,
                MatchType::RegexNoMatch => MatcherType::Nre,
            } as i32,
            name: m.name.clone(),
            value: m.value.clone(),
        })
        .collect()
}

/// Labels as protobuf pairs, in order.
pub fn to_pb_labels(l: &Labels) -> Vec<pb::Label> {
    l.iter()
        .map(|l| pb::Label {
            name: l.name.clone(),
            value: l.value.clone(),
        })
        .collect()
}

/// Protobuf pairs to labels; an empty name or a duplicate is an error, an empty
/// value drops the label (it means "absent").
pub fn from_pb_labels(ls: &[pb::Label]) -> Result<Labels, ReadError> {
    let mut v: Vec<Label> = Vec::with_capacity(ls.len());
    for l in ls {
        if l.name.is_empty() {
            return Err(ReadError::Decode("invalid label name \"\"".into()));
        }
        if !l.value.is_empty() {
            v.push(Label::new(l.name.clone(), l.value.clone()));
        }
    }
    v.sort();
    if let Some(w) = v.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(ReadError::Decode(format!(
            "duplicate label name {:?}",
            w[0].name
        )));
    }
    Ok(Labels::from_sorted_unchecked(v))
}

/// Merges two label lists sorted by name; on equal names `primary` wins
/// (Prometheus's `MergeLabels`, used to add external labels to returned series).
pub fn merge_labels(primary: &[pb::Label], secondary: &[pb::Label]) -> Vec<pb::Label> {
    let mut out = Vec::with_capacity(primary.len() + secondary.len());
    let (mut i, mut j) = (0, 0);
    while i < primary.len() && j < secondary.len() {
        match primary[i].name.cmp(&secondary[j].name) {
            std::cmp::Ordering::Less => {
                out.push(primary[i].clone());
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(secondary[j].clone());
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(primary[i].clone());
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&primary[i..]);
    out.extend_from_slice(&secondary[j..]);
    out
}

fn spans(s: &[ember_model::histogram::Span]) -> Vec<BucketSpan> {
    s.iter()
        .map(|s| BucketSpan {
            offset: s.offset,
            length: s.length,
        })
        .collect()
}

/// An integer histogram as a protobuf one (Prometheus's `FromIntHistogram`).
pub fn from_int_histogram(t: Timestamp, h: &Histogram) -> pb::Histogram {
    pb::Histogram {
        count: Some(Count::CountInt(h.count)),
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: Some(ZeroCount::ZeroCountInt(h.zero_count)),
        negative_spans: spans(&h.negative_spans),
        negative_deltas: h.negative_buckets.clone(),
        positive_spans: spans(&h.positive_spans),
        positive_deltas: h.positive_buckets.clone(),
        reset_hint: h.counter_reset_hint as i32,
        timestamp: t,
        custom_values: h.custom_values.clone(),
        ..Default::default()
    }
}

/// A float histogram as a protobuf one (Prometheus's `FromFloatHistogram`).
pub fn from_float_histogram(t: Timestamp, h: &FloatHistogram) -> pb::Histogram {
    pb::Histogram {
        count: Some(Count::CountFloat(h.count)),
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: Some(ZeroCount::ZeroCountFloat(h.zero_count)),
        negative_spans: spans(&h.negative_spans),
        negative_counts: h.negative_buckets.clone(),
        positive_spans: spans(&h.positive_spans),
        positive_counts: h.positive_buckets.clone(),
        reset_hint: h.counter_reset_hint as i32,
        timestamp: t,
        custom_values: h.custom_values.clone(),
        ..Default::default()
    }
}

/// A protobuf histogram as a sample value.
pub fn to_value(h: &pb::Histogram) -> Option<Value> {
    match crate::convert_histogram(h) {
        (Some(i), _) => Some(Value::Histogram(Arc::new(i))),
        (_, Some(f)) => Some(Value::FloatHistogram(Arc::new(f))),
        _ => None,
    }
}

/// Encodes samples (sorted, unique timestamps) into chunks as Prometheus's
/// `seriesToChunkEncoder` does: a new chunk when the value type changes, every
/// [`SAMPLES_PER_CHUNK`] samples, and whenever a histogram chunk asks for one
/// (counter reset, layout change).
#[derive(Default)]
pub struct ChunkEncoder {
    done: Vec<Chunk>,
    cur: Option<(Cur, i64, i64, usize)>,
}

enum Cur {
    Xor(XorChunk),
    Hist(HistogramChunk),
    Float(FloatHistogramChunk),
}

impl Cur {
    fn kind(&self) -> Encoding {
        match self {
            Cur::Xor(_) => Encoding::Xor,
            Cur::Hist(_) => Encoding::Histogram,
            Cur::Float(_) => Encoding::FloatHistogram,
        }
    }
    fn bytes(&self) -> &[u8] {
        match self {
            Cur::Xor(c) => c.bytes(),
            Cur::Hist(c) => c.bytes(),
            Cur::Float(c) => c.bytes(),
        }
    }
}

impl ChunkEncoder {
    /// An encoder with no samples yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn cut(&mut self) {
        if let Some((c, mint, maxt, n)) = self.cur.take()
            && n > 0
        {
            self.done.push(Chunk {
                min_time_ms: mint,
                max_time_ms: maxt,
                r#type: c.kind() as i32,
                data: c.bytes().to_vec(),
            });
        }
    }

    fn start(&mut self, kind: Encoding) {
        let fresh = match &self.cur {
            Some((c, _, _, n)) => c.kind() != kind || *n >= SAMPLES_PER_CHUNK,
            None => true,
        };
        if fresh {
            self.cut();
            let c = match kind {
                Encoding::Histogram => Cur::Hist(HistogramChunk::new()),
                Encoding::FloatHistogram => Cur::Float(FloatHistogramChunk::new()),
                _ => Cur::Xor(XorChunk::new()),
            };
            self.cur = Some((c, i64::MAX, i64::MIN, 0));
        }
    }

    /// Appends one sample.
    pub fn push(&mut self, t: Timestamp, v: &Value) -> Result<(), ReadError> {
        let kind = match v {
            Value::Float(_) => Encoding::Xor,
            Value::Histogram(_) => Encoding::Histogram,
            Value::FloatHistogram(_) => Encoding::FloatHistogram,
        };
        self.start(kind);
        let err = |e: ember_chunkenc::Error| ReadError::Internal(e.to_string());
        let Some((cur, mint, maxt, n)) = self.cur.as_mut() else {
            return Ok(());
        };
        // A histogram chunk may refuse the sample and hand back a new chunk holding
        // it: the old one is complete.
        let mut next: Option<Cur> = None;
        match (cur, v) {
            (Cur::Xor(c), Value::Float(f)) => c.append(t, *f),
            (Cur::Hist(c), Value::Histogram(h)) => {
                if let Appended::NewChunk(nc) = c.append(t, h).map_err(err)? {
                    next = Some(Cur::Hist(*nc));
                }
            }
            (Cur::Float(c), Value::FloatHistogram(h)) => {
                if let Appended::NewChunk(nc) = c.append(t, h).map_err(err)? {
                    next = Some(Cur::Float(*nc));
                }
            }
            _ => return Err(ReadError::Internal("chunk type mismatch".into())),
        }
        match next {
            Some(nc) => {
                self.cut();
                self.cur = Some((nc, t, t, 1));
            }
            None => {
                *mint = (*mint).min(t);
                *maxt = t;
                *n += 1;
            }
        }
        Ok(())
    }

    /// The chunks, the last one cut.
    pub fn finish(mut self) -> Vec<Chunk> {
        self.cut();
        self.done
    }
}

/// Decodes chunks into samples within `[mint, maxt]`, appending to `out`; samples
/// not after the last one kept are dropped (overlapping chunks).
pub fn decode_chunks(
    chunks: &[Chunk],
    mint: Timestamp,
    maxt: Timestamp,
    out: &mut Vec<(Timestamp, Value)>,
) -> Result<(), ReadError> {
    let bad = |e: ember_chunkenc::Error| ReadError::Decode(format!("decoding chunk: {e}"));
    for c in chunks {
        if c.max_time_ms < mint || c.min_time_ms > maxt {
            continue;
        }
        let mut keep = |t: Timestamp, v: Value| {
            if t >= mint && t <= maxt && out.last().is_none_or(|l| l.0 < t) {
                out.push((t, v));
            }
        };
        match u8::try_from(c.r#type).ok().and_then(Encoding::from_u8) {
            Some(Encoding::Xor) => {
                let mut it = XorIterator::new(&c.data).map_err(bad)?;
                while it.advance() {
                    let (t, v) = it.at();
                    keep(t, Value::Float(v));
                }
                if let Some(e) = it.err() {
                    return Err(ReadError::Decode(format!("decoding chunk: {e}")));
                }
            }
            Some(Encoding::Histogram) => {
                let mut it = HistogramIterator::new(&c.data).map_err(bad)?;
                while it.advance() {
                    let mut h = Histogram::default();
                    let t = it.at_histogram(&mut h);
                    keep(t, Value::Histogram(Arc::new(h)));
                }
                if let Some(e) = it.err() {
                    return Err(ReadError::Decode(format!("decoding chunk: {e}")));
                }
            }
            Some(Encoding::FloatHistogram) => {
                let mut it = FloatHistogramIterator::new(&c.data).map_err(bad)?;
                while it.advance() {
                    let mut h = FloatHistogram::default();
                    let t = it.at_float_histogram(&mut h);
                    keep(t, Value::FloatHistogram(Arc::new(h)));
                }
                if let Some(e) = it.err() {
                    return Err(ReadError::Decode(format!("decoding chunk: {e}")));
                }
            }
            _ => {
                return Err(ReadError::Decode(format!(
                    "unsupported chunk encoding {}",
                    c.r#type
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_checksum() {
        let mut body = Vec::new();
        write_frame(&mut body, b"hello");
        let long = vec![7u8; 300];
        write_frame(&mut body, &long);
        // 300 needs a two-byte uvarint.
        assert_eq!(body[0], 5);
        assert_eq!(body[1..5], crc32c::crc32c(b"hello").to_be_bytes());
        assert_eq!(&body[5..10], b"hello");
        assert_eq!(&body[10..12], &[0xac, 0x02]);
        let mut r = FrameReader::new(&body, 0);
        assert_eq!(r.next_frame().unwrap(), Some(&b"hello"[..]));
        assert_eq!(r.next_frame().unwrap(), Some(&long[..]));
        assert_eq!(r.next_frame().unwrap(), None);
        // Limit.
        let mut r = FrameReader::new(&body, 100);
        r.next_frame().unwrap();
        assert!(
            r.next_frame()
                .unwrap_err()
                .to_string()
                .contains("exceeded the limit")
        );
        // Flipped byte in the message.
        let mut bad = body.clone();
        bad[6] ^= 1;
        let e = FrameReader::new(&bad, 0).next_frame().unwrap_err();
        assert!(e.to_string().contains("checksum mismatch"), "{e}");
        // Truncated.
        assert!(FrameReader::new(&body[..8], 0).next_frame().is_err());
    }

    #[test]
    fn castagnoli_known_value() {
        // The standard CRC-32C check value.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn merge_labels_primary_wins() {
        let l = |n: &str, v: &str| pb::Label {
            name: n.into(),
            value: v.into(),
        };
        let got = merge_labels(
            &[l("a", "1"), l("c", "3"), l("e", "5")],
            &[l("b", "x"), l("c", "y"), l("z", "z")],
        );
        assert_eq!(
            got,
            vec![
                l("a", "1"),
                l("b", "x"),
                l("c", "3"),
                l("e", "5"),
                l("z", "z")
            ]
        );
    }

    #[test]
    fn chunks_round_trip_and_split() {
        let mut enc = ChunkEncoder::new();
        let samples: Vec<(i64, Value)> = (0..250)
            .map(|i| (i * 1000, Value::Float(i as f64 * 0.5)))
            .collect();
        for (t, v) in &samples {
            enc.push(*t, v).unwrap();
        }
        let chunks = enc.finish();
        assert_eq!(chunks.len(), 3, "120 + 120 + 10");
        assert_eq!((chunks[0].min_time_ms, chunks[0].max_time_ms), (0, 119_000));
        assert_eq!(chunks[2].min_time_ms, 240_000);
        assert!(chunks.iter().all(|c| c.r#type == 1));
        // The XOR header counts the samples, as Prometheus's chunks do.
        assert_eq!(&chunks[0].data[..2], &[0, 120]);
        let mut out = Vec::new();
        decode_chunks(&chunks, i64::MIN, i64::MAX, &mut out).unwrap();
        assert_eq!(out, samples);
        let mut out = Vec::new();
        decode_chunks(&chunks, 5_000, 130_000, &mut out).unwrap();
        assert_eq!(out.len(), 126);
        assert_eq!(out[0].0, 5_000);
    }

    #[test]
    fn matchers_round_trip() {
        let ms = vec![
            Matcher::new(MatchType::Equal, "__name__", "up").unwrap(),
            Matcher::new(MatchType::RegexNoMatch, "job", "a|b").unwrap(),
        ];
        let back = from_label_matchers(&to_label_matchers(&ms)).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1].kind, MatchType::RegexNoMatch);
        assert_eq!(back[1].value, "a|b");
        let bad = LabelMatcher {
            r#type: 2,
            name: "x".into(),
            value: "(".into(),
        };
        assert!(matches!(
            from_label_matchers(&[bad]),
            Err(ReadError::BadRequest(_))
        ));
    }
}
