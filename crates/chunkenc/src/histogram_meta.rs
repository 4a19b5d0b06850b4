//! What the integer and float histogram chunks share: the three-byte header with its
//! counter-reset bits, the layout block written before the first sample (zero
//! threshold, schema, spans, custom bounds), and the bucket-layout arithmetic that
//! decides whether a histogram fits a chunk and how to widen one or the other
//! (Prometheus's `histogram_meta.go`).

use crate::bstream::{BitReader, BitWriter, Eof};
use crate::varbit::{put_varbit_int, put_varbit_uint, read_varbit_int, read_varbit_uint};
use ember_model::histogram::{CUSTOM_BUCKETS_SCHEMA, CounterResetHint, Span};

/// Bytes before the bit stream: sample count (big-endian `u16`) and flags.
pub(crate) const HEADER_SIZE: usize = 3;
/// The flags byte; its top two bits hold the [`CounterResetHeader`].
const FLAGS_POS: usize = 2;
const FLAGS_MASK: u8 = 0b1100_0000;

/// Prometheus cuts a histogram chunk once it has grown past twice this size (and
/// has at least [`MIN_SAMPLES_PER_HISTOGRAM_CHUNK`] samples); its head also aims
/// for this size when predicting chunk end times.
pub const TARGET_BYTES_PER_HISTOGRAM_CHUNK: usize = 1024;
/// The fewest samples a histogram chunk gets before being cut for size, so that
/// very large histograms still compress across samples.
pub const MIN_SAMPLES_PER_HISTOGRAM_CHUNK: u16 = 10;

/// Largest exponential schema Prometheus 3 stores as is; chunks with schemas up to
/// [`EXPONENTIAL_SCHEMA_MAX_RESERVED`] (written by newer versions) are read back
/// reduced to it.
pub(crate) const EXPONENTIAL_SCHEMA_MAX: i32 = 8;
const EXPONENTIAL_SCHEMA_MAX_RESERVED: i32 = 52;
const EXPONENTIAL_SCHEMA_MIN_RESERVED: i32 = -9;

/// The chunk-level counter-reset information, in the top two bits of the third
/// header byte: how this chunk relates to the one before it in the series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CounterResetHeader {
    /// Bits `00`: not known; readers detect resets themselves.
    #[default]
    Unknown,
    /// Bits `10`: the chunk was cut because the counter reset.
    CounterReset,
    /// Bits `01`: definitely no counter reset since the previous chunk.
    NotCounterReset,
    /// Bits `11`: the chunk holds gauge histograms, which do not reset.
    Gauge,
}

impl CounterResetHeader {
    /// From the flags byte (only its top two bits count).
    pub fn from_flags(b: u8) -> Self {
        match b & FLAGS_MASK {
            0b1000_0000 => CounterResetHeader::CounterReset,
            0b0100_0000 => CounterResetHeader::NotCounterReset,
            0b1100_0000 => CounterResetHeader::Gauge,
            _ => CounterResetHeader::Unknown,
        }
    }

    /// The flags-byte bits (top two bits set, the rest zero).
    pub fn to_flags(self) -> u8 {
        match self {
            CounterResetHeader::Unknown => 0,
            CounterResetHeader::CounterReset => 0b1000_0000,
            CounterResetHeader::NotCounterReset => 0b0100_0000,
            CounterResetHeader::Gauge => 0b1100_0000,
        }
    }

    /// The header a chunk gets from a sample's hint (Prometheus's
    /// `CounterResetHintToHeader`).
    pub fn from_hint(hint: CounterResetHint) -> Self {
        match hint {
            CounterResetHint::CounterReset => CounterResetHeader::CounterReset,
            CounterResetHint::NotCounterReset => CounterResetHeader::NotCounterReset,
            CounterResetHint::Gauge => CounterResetHeader::Gauge,
            CounterResetHint::Unknown => CounterResetHeader::Unknown,
        }
    }
}

/// What an append did with a sample.
#[derive(Debug)]
pub enum Appended<C> {
    /// The sample went into this chunk; the bytes already there are unchanged.
    InPlace,
    /// New buckets appeared: this chunk was rewritten with the wider bucket layout
    /// (earlier samples gain empty buckets) and the sample appended. The bytes
    /// changed as a whole, so any copy of the old bytes is stale. Prometheus's
    /// `recoded == true`; its head replaces the chunk without counting a new one.
    Recoded,
    /// The sample could not go into this chunk (counter reset, schema, zero
    /// threshold or custom-bounds change, counter/gauge switch, a normal sample
    /// after a staleness marker, or the chunk is full). It is the first sample of
    /// the returned chunk, whose counter-reset header is already what Prometheus
    /// would set. This chunk is unchanged and complete; the caller makes the new
    /// one its head chunk.
    NewChunk(Box<C>),
}

pub(crate) fn num_samples(bytes: &[u8]) -> u16 {
    match bytes {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    }
}

pub(crate) fn set_num_samples(bytes: &mut [u8], n: u16) {
    if let Some(h) = bytes.get_mut(..2) {
        h.copy_from_slice(&n.to_be_bytes());
    }
}

pub(crate) fn header(bytes: &[u8]) -> CounterResetHeader {
    CounterResetHeader::from_flags(bytes.get(FLAGS_POS).copied().unwrap_or(0))
}

pub(crate) fn set_header(bytes: &mut [u8], h: CounterResetHeader) {
    if let Some(b) = bytes.get_mut(FLAGS_POS) {
        *b = (*b & !FLAGS_MASK) | h.to_flags();
    }
}

/// A writer continuing after the `read_bits` bits that follow the header, for a
/// chunk reopened for appending: later bytes are dropped and the padding cleared
/// so that new bits OR in cleanly.
pub(crate) fn reopen_writer(bytes: &[u8], read_bits: usize) -> BitWriter {
    let used = HEADER_SIZE * 8 + read_bits;
    let len = used.div_ceil(8).min(bytes.len());
    let free = (len * 8).saturating_sub(used) as u8;
    let mut v = bytes[..len].to_vec();
    if let Some(last) = v.last_mut()
        && free > 0
    {
        *last &= !((1u8 << free) - 1);
    }
    BitWriter::from_bytes(v, free)
}

/// Whether a chunk of this size and sample count is past the size-based part of
/// Prometheus's cut rule (`numBytes >= 2*TargetBytesPerHistogramChunk` with at
/// least `MinSamplesPerHistogramChunk` samples), or cannot count another sample.
pub(crate) fn is_full(len: usize, samples: u16) -> bool {
    samples == u16::MAX
        || (len >= 2 * TARGET_BYTES_PER_HISTOGRAM_CHUNK
            && samples >= MIN_SAMPLES_PER_HISTOGRAM_CHUNK)
}

/// The sample-level hint readers report: chunks carry reset information for their
/// first sample only at chunk level, and Prometheus deliberately reports
/// "unknown" for it because the previous chunk may not be the one it followed.
pub(crate) fn counter_reset_hint(h: CounterResetHeader, num_read: u16) -> CounterResetHint {
    if h == CounterResetHeader::Gauge {
        CounterResetHint::Gauge
    } else if num_read > 1 {
        CounterResetHint::NotCounterReset
    } else {
        CounterResetHint::Unknown
    }
}

/// Schema, zero threshold, spans and custom bounds: fixed for a whole chunk and
/// written once, before the first sample.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Layout {
    pub(crate) schema: i32,
    pub(crate) zero_threshold: f64,
    pub(crate) positive_spans: Vec<Span>,
    pub(crate) negative_spans: Vec<Span>,
    pub(crate) custom_values: Vec<f64>,
}

impl Layout {
    pub(crate) fn write(&self, w: &mut BitWriter) {
        put_zero_threshold(w, self.zero_threshold);
        put_varbit_int(w, self.schema as i64);
        put_spans(w, &self.positive_spans);
        put_spans(w, &self.negative_spans);
        if self.schema == CUSTOM_BUCKETS_SCHEMA {
            put_varbit_uint(w, self.custom_values.len() as u64);
            for v in &self.custom_values {
                put_custom_bound(w, *v);
            }
        }
    }

    pub(crate) fn read(r: &mut BitReader<'_>) -> Result<Self, Eof> {
        let zero_threshold = read_zero_threshold(r)?;
        // Go truncates to int32 here; so do we, so that both reject the same chunks.
        let schema = read_varbit_int(r)? as i32;
        let positive_spans = read_spans(r)?;
        let negative_spans = read_spans(r)?;
        let mut custom_values = Vec::new();
        if schema == CUSTOM_BUCKETS_SCHEMA {
            let n = read_varbit_uint(r)?;
            // No preallocation: a corrupt count must run into the end of the stream,
            // not into the allocator.
            for _ in 0..n {
                custom_values.push(read_custom_bound(r)?);
            }
        }
        Ok(Layout {
            schema,
            zero_threshold,
            positive_spans,
            negative_spans,
            custom_values,
        })
    }
}

fn put_spans(w: &mut BitWriter, spans: &[Span]) {
    put_varbit_uint(w, spans.len() as u64);
    for s in spans {
        put_varbit_uint(w, s.length as u64);
        put_varbit_int(w, s.offset as i64);
    }
}

fn read_spans(r: &mut BitReader<'_>) -> Result<Vec<Span>, Eof> {
    let n = read_varbit_uint(r)?;
    let mut spans = Vec::new();
    for _ in 0..n {
        let length = read_varbit_uint(r)? as u32;
        let offset = read_varbit_int(r)? as i32;
        spans.push(Span { offset, length });
    }
    Ok(spans)
}

/// One byte for zero and for powers of two from 2^-243 to 2^10 (the byte is the
/// `frexp` exponent plus 243), otherwise 255 and the eight bytes of the float.
fn put_zero_threshold(w: &mut BitWriter, t: f64) {
    if t == 0.0 {
        w.write_byte(0);
        return;
    }
    match power_of_two_exponent(t) {
        Some(e) if (-243..=10).contains(&e) => w.write_byte((e + 244) as u8),
        _ => {
            w.write_byte(255);
            w.write_bits(t.to_bits(), 64);
        }
    }
}

/// `e` when `t == 2^e` exactly for a normal positive float.
fn power_of_two_exponent(t: f64) -> Option<i32> {
    let bits = t.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let mantissa = bits & ((1 << 52) - 1);
    (t > 0.0 && mantissa == 0 && biased != 0 && biased != 0x7ff).then_some(biased - 1023)
}

fn read_zero_threshold(r: &mut BitReader<'_>) -> Result<f64, Eof> {
    Ok(match r.read_bits(8)? as u8 {
        0 => 0.0,
        255 => f64::from_bits(r.read_bits(64)?),
        // 2^(b-244), always a normal float for 1..=254.
        b => f64::from_bits(((b as i64 - 244 + 1023) as u64) << 52),
    })
}

/// Bounds that are whole thousandths from 0 to 33554.43 are stored as the unsigned
/// varbit of a thousand times the bound plus one (which always starts with a one
/// bit); anything else as a zero bit and the eight bytes of the float.
fn put_custom_bound(w: &mut BitWriter, v: f64) {
    let scaled = v * 1000.0;
    if !(0.0..=33_554_430.0).contains(&scaled) || !whole_when_multiplied(v) {
        w.write_bit(false);
        w.write_bits(v.to_bits(), 64);
        return;
    }
    put_varbit_uint(w, scaled.round() as u64 + 1);
}

/// Go's `isWholeWhenMultiplied`, including its conversion through an unsigned
/// integer (NaN and negatives convert to 0 here; they never reach the varbit path).
fn whole_when_multiplied(v: f64) -> bool {
    let i = (v * 1000.0).round() as u64;
    i as f64 / 1000.0 == v
}

fn read_custom_bound(r: &mut BitReader<'_>) -> Result<f64, Eof> {
    match read_varbit_uint(r)? {
        0 => Ok(f64::from_bits(r.read_bits(64)?)),
        v => Ok((v - 1) as f64 / 1000.0),
    }
}

/// Whether readers accept the schema: the exponential ones, including those
/// reserved for future resolutions, and custom buckets.
pub(crate) fn is_known_schema(s: i32) -> bool {
    s == CUSTOM_BUCKETS_SCHEMA
        || (EXPONENTIAL_SCHEMA_MIN_RESERVED..=EXPONENTIAL_SCHEMA_MAX_RESERVED).contains(&s)
}

/// Schemas newer Prometheus versions may write and this one reads reduced.
pub(crate) fn needs_reduction(s: i32) -> bool {
    s > EXPONENTIAL_SCHEMA_MAX && s <= EXPONENTIAL_SCHEMA_MAX_RESERVED
}

pub(crate) fn count_spans(spans: &[Span]) -> u64 {
    spans.iter().map(|s| s.length as u64).sum()
}

/// Rejects histograms whose buckets an encoder would index out of range: spans
/// must account for exactly the buckets given, and only the first span may have
/// a negative offset (as Prometheus's `Validate`, which its head runs first).
pub(crate) fn check_structure(
    pos: &[Span],
    pos_buckets: usize,
    neg: &[Span],
    neg_buckets: usize,
) -> Result<(), crate::Error> {
    for (side, spans, n) in [
        ("positive", pos, pos_buckets),
        ("negative", neg, neg_buckets),
    ] {
        if let Some(i) = spans.iter().skip(1).position(|s| s.offset < 0) {
            return Err(crate::Error::InvalidHistogram(format!(
                "{side} side: span number {} has negative offset {}",
                i + 2,
                spans[i + 1].offset
            )));
        }
        let want = count_spans(spans);
        if want != n as u64 {
            return Err(crate::Error::InvalidHistogram(format!(
                "{side} side: spans need {want} buckets, have {n} buckets"
            )));
        }
    }
    Ok(())
}

/// Walks the bucket indices a span list covers.
struct BucketIter<'a> {
    spans: &'a [Span],
    span: usize,
    /// Position within the current span of the last bucket returned.
    bucket: i64,
    /// Index of the last bucket returned.
    idx: i64,
}

impl<'a> BucketIter<'a> {
    fn new(spans: &'a [Span]) -> Self {
        BucketIter {
            spans,
            span: 0,
            bucket: -1,
            idx: spans.first().map_or(0, |s| s.offset as i64) - 1,
        }
    }
}

impl Iterator for BucketIter<'_> {
    type Item = i64;

    fn next(&mut self) -> Option<i64> {
        let cur = self.spans.get(self.span)?;
        if self.bucket < cur.length as i64 - 1 {
            self.bucket += 1;
            self.idx = self.idx.wrapping_add(1);
            return Some(self.idx);
        }
        while self.span + 1 < self.spans.len() {
            self.span += 1;
            let s = self.spans[self.span];
            self.idx = self.idx.wrapping_add(s.offset as i64 + 1);
            self.bucket = 0;
            if s.length == 0 {
                // An empty span only moves the origin of the next one.
                self.idx = self.idx.wrapping_sub(1);
                continue;
            }
            return Some(self.idx);
        }
        None
    }
}

/// `num` new buckets go in before the `pos`-th bucket of the original list;
/// `bucket_idx` is the first one's index (used to rebuild spans).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Insert {
    pub(crate) pos: usize,
    pub(crate) num: usize,
    pub(crate) bucket_idx: i64,
}

/// Builds spans from increasing bucket indices, as Prometheus does (so equal
/// inputs give equal span lists, byte for byte once encoded).
#[derive(Default)]
struct SpanBuilder {
    spans: Vec<Span>,
    last: i64,
}

impl SpanBuilder {
    fn add(&mut self, b: i64) {
        let mut offset = b.wrapping_sub(self.last).wrapping_sub(1);
        match self.spans.last_mut() {
            Some(s) if offset == 0 => s.length += 1,
            _ => {
                if self.spans.is_empty() {
                    offset = offset.wrapping_add(1);
                }
                self.spans.push(Span {
                    offset: offset as i32,
                    length: 1,
                });
            }
        }
        self.last = b;
    }
}

/// Counter histograms: the inserts that widen `a` (the chunk) to also cover the
/// buckets of `b` (the new sample), and those that widen `b` by the buckets only
/// `a` has. `None` means a counter reset: a bucket's count went down, or a bucket
/// that held observations in `a` is missing from `b`. Counts are absolute.
pub(crate) fn expand_spans_and_buckets<T: Copy + PartialOrd + Default>(
    a: &[Span],
    b: &[Span],
    mut a_counts: impl Iterator<Item = T>,
    mut b_counts: impl Iterator<Item = T>,
) -> Option<(Vec<Insert>, Vec<Insert>)> {
    // Counts are consumed in bucket order, one per bucket the spans cover.
    let (mut a_count, mut b_count) = (
        a_counts.next().unwrap_or_default(),
        b_counts.next().unwrap_or_default(),
    );
    let mut ai = BucketIter::new(a);
    let mut bi = BucketIter::new(b);
    let (mut a_inserts, mut b_inserts) = (Vec::new(), Vec::new());
    let (mut a_inter, mut b_inter) = (Insert::default(), Insert::default());
    let (mut a_idx, mut b_idx) = (ai.next(), bi.next());

    // Extends the pending insert by the bucket at `idx`, or closes it and opens a
    // new one when `idx` is not adjacent.
    fn add_insert(inserts: &mut Vec<Insert>, ins: &mut Insert, idx: i64) {
        if ins.num == 0 {
            ins.bucket_idx = idx;
        } else if ins.bucket_idx.wrapping_add(ins.num as i64) != idx {
            inserts.push(*ins);
            ins.num = 0;
            ins.bucket_idx = idx;
        }
        ins.num += 1;
    }

    loop {
        let advance_a = match (a_idx, b_idx) {
            (Some(x), Some(y)) if x == y => {
                if a_count > b_count {
                    return None;
                }
                Some(true)
            }
            // `b` lacks a bucket of `a`: fine only if it was empty.
            (Some(x), Some(y)) if x < y => {
                if a_count != T::default() {
                    return None;
                }
                add_insert(&mut b_inserts, &mut b_inter, x);
                Some(false)
            }
            (Some(x), None) => {
                if a_count != T::default() {
                    return None;
                }
                add_insert(&mut b_inserts, &mut b_inter, x);
                Some(false)
            }
            // `a` lacks a bucket of `b`.
            (_, Some(y)) => {
                add_insert(&mut a_inserts, &mut a_inter, y);
                None
            }
            (None, None) => {
                if a_inter.num > 0 {
                    a_inserts.push(a_inter);
                }
                if b_inter.num > 0 {
                    b_inserts.push(b_inter);
                }
                return Some((a_inserts, b_inserts));
            }
        };
        // Some(true): both advance; Some(false): only `a`; None: only `b`.
        if advance_a.is_some() {
            if a_inter.num > 0 {
                a_inserts.push(a_inter);
                a_inter.num = 0;
            }
            a_idx = ai.next();
            a_inter.pos += 1;
            a_count = a_counts.next().unwrap_or_default();
        }
        if advance_a != Some(false) {
            if b_inter.num > 0 {
                b_inserts.push(b_inter);
                b_inter.num = 0;
            }
            b_idx = bi.next();
            b_inter.pos += 1;
            b_count = b_counts.next().unwrap_or_default();
        }
    }
}

/// Gauge histograms: like [`expand_spans_and_buckets`] but `b` may cover any
/// buckets and counts do not matter. Also returns the spans of the union.
pub(crate) fn expand_spans_both_ways(
    a: &[Span],
    b: &[Span],
) -> (Vec<Insert>, Vec<Insert>, Vec<Span>) {
    let mut ai = BucketIter::new(a);
    let mut bi = BucketIter::new(b);
    let (mut f_inserts, mut b_inserts) = (Vec::new(), Vec::new());
    let (mut f_inter, mut b_inter) = (Insert::default(), Insert::default());
    let mut merged = SpanBuilder::default();
    let (mut av, mut bv) = (ai.next(), bi.next());
    loop {
        match (av, bv) {
            (Some(x), Some(y)) if x == y => {
                if f_inter.num > 0 {
                    f_inserts.push(f_inter);
                    f_inter.num = 0;
                }
                if b_inter.num > 0 {
                    b_inserts.push(b_inter);
                    b_inter.num = 0;
                }
                merged.add(x);
                av = ai.next();
                bv = bi.next();
                f_inter.pos += 1;
                b_inter.pos += 1;
            }
            (Some(x), Some(y)) if x < y => {
                b_inter.num += 1;
                if f_inter.num > 0 {
                    f_inserts.push(f_inter);
                    f_inter.num = 0;
                }
                merged.add(x);
                f_inter.pos += 1;
                av = ai.next();
            }
            (Some(_), Some(y)) => {
                f_inter.num += 1;
                if b_inter.num > 0 {
                    b_inserts.push(b_inter);
                    b_inter.num = 0;
                }
                merged.add(y);
                b_inter.pos += 1;
                bv = bi.next();
            }
            (Some(x), None) => {
                b_inter.num += 1;
                merged.add(x);
                av = ai.next();
            }
            (None, Some(y)) => {
                f_inter.num += 1;
                merged.add(y);
                bv = bi.next();
            }
            (None, None) => {
                if f_inter.num > 0 {
                    f_inserts.push(f_inter);
                }
                if b_inter.num > 0 {
                    b_inserts.push(b_inter);
                }
                return (f_inserts, b_inserts, merged.spans);
            }
        }
    }
}

/// Applies inserts to delta-encoded buckets: each run of new (empty) buckets starts
/// with the delta back to zero, and the old bucket after it re-bases its delta.
pub(crate) fn insert_deltas(input: &[i64], inserts: &[Insert]) -> Vec<i64> {
    let extra: usize = inserts.iter().map(|i| i.num.max(1)).sum();
    let mut out = Vec::with_capacity(input.len() + extra);
    let mut v = 0i64;
    let mut ii = 0;
    for (i, &d) in input.iter().enumerate() {
        if inserts.get(ii).is_none_or(|ins| ins.pos != i) {
            out.push(d);
            v = v.wrapping_add(d);
            continue;
        }
        let mut first = true;
        while let Some(ins) = inserts.get(ii).filter(|ins| ins.pos == i) {
            out.push(if first { v.wrapping_neg() } else { 0 });
            first = false;
            out.extend(std::iter::repeat_n(0, ins.num.saturating_sub(1)));
            ii += 1;
        }
        out.push(d.wrapping_add(v));
        v = v.wrapping_add(d);
    }
    for ins in inserts.get(ii..).unwrap_or_default() {
        out.push(v.wrapping_neg());
        out.extend(std::iter::repeat_n(0, ins.num.saturating_sub(1)));
        v = 0;
    }
    out
}

/// Applies inserts to absolute bucket counts: new buckets are zero.
pub(crate) fn insert_absolute(input: &[f64], inserts: &[Insert]) -> Vec<f64> {
    let extra: usize = inserts.iter().map(|i| i.num.max(1)).sum();
    let mut out = Vec::with_capacity(input.len() + extra);
    let mut ii = 0;
    for (i, &d) in input.iter().enumerate() {
        while let Some(ins) = inserts.get(ii).filter(|ins| ins.pos == i) {
            out.extend(std::iter::repeat_n(0.0, ins.num.max(1)));
            ii += 1;
        }
        out.push(d);
    }
    for ins in inserts.get(ii..).unwrap_or_default() {
        out.extend(std::iter::repeat_n(0.0, ins.num.max(1)));
    }
    out
}

/// The spans of `spans` plus the buckets the inserts add (by their `bucket_idx`).
pub(crate) fn adjust_for_inserts(spans: &[Span], inserts: &[Insert]) -> Vec<Span> {
    let Some(first) = inserts.first() else {
        return spans.to_vec();
    };
    let mut merged = SpanBuilder::default();
    let mut i = 0;
    let (mut ins_idx, mut ins_num) = (first.bucket_idx, first.num);
    let consume = |i: &mut usize, ins_idx: &mut i64, ins_num: &mut usize| {
        if *ins_num <= 1 {
            *i += 1;
            if let Some(next) = inserts.get(*i) {
                *ins_idx = next.bucket_idx;
                *ins_num = next.num;
            }
        } else {
            *ins_num -= 1;
            *ins_idx = ins_idx.wrapping_add(1);
        }
    };
    let mut it = BucketIter::new(spans);
    let mut bucket = it.next();
    while let Some(b) = bucket {
        if i < inserts.len() && ins_idx < b {
            merged.add(ins_idx);
            consume(&mut i, &mut ins_idx, &mut ins_num);
        } else {
            merged.add(b);
            bucket = it.next();
        }
    }
    while i < inserts.len() {
        merged.add(ins_idx);
        consume(&mut i, &mut ins_idx, &mut ins_num);
    }
    merged.spans
}

/// Whether two custom-bound lists are equal (`NaN` never is).
pub(crate) fn custom_bounds_match(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Bucket counts [`reduce_resolution`] merges: wrapping deltas or absolute floats.
pub(crate) trait BucketCount: Copy + Default {
    fn plus(self, o: Self) -> Self;
    fn minus(self, o: Self) -> Self;
}

impl BucketCount for i64 {
    fn plus(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
    fn minus(self, o: Self) -> Self {
        self.wrapping_sub(o)
    }
}

impl BucketCount for f64 {
    fn plus(self, o: Self) -> Self {
        self + o
    }
    fn minus(self, o: Self) -> Self {
        self - o
    }
}

/// The bucket of schema `target` that bucket `idx` of schema `origin` falls in.
fn target_idx(idx: i32, origin: i32, target: i32) -> i32 {
    let shift = origin.wrapping_sub(target).clamp(0, 31) as u32;
    (idx.wrapping_sub(1) >> shift).wrapping_add(1)
}

/// Merges buckets down to a coarser schema (Prometheus's `reduceResolution`), for
/// chunks written at resolutions this version does not compute with. `deltas`
/// says whether `buckets` are delta-encoded. The caller ensures the spans count
/// exactly `buckets.len()` buckets at increasing indices.
pub(crate) fn reduce_resolution<T: BucketCount>(
    spans: &[Span],
    buckets: &[T],
    origin: i32,
    target: i32,
    deltas: bool,
) -> (Vec<Span>, Vec<T>) {
    let mut out_spans: Vec<Span> = Vec::new();
    let mut out: Vec<T> = Vec::new();
    let mut bucket_idx = 0i32;
    let mut counts = buckets.iter();
    let (mut last_count, mut last_target_count) = (T::default(), T::default());
    let mut last_target = 0i32;
    for span in spans {
        bucket_idx = bucket_idx.wrapping_add(span.offset);
        for _ in 0..span.length {
            let Some(&c) = counts.next() else {
                return (out_spans, out);
            };
            let t = target_idx(bucket_idx, origin, target);
            let next = last_target.wrapping_add(1);
            match out.last_mut() {
                None => {
                    out_spans.push(Span {
                        offset: t,
                        length: 1,
                    });
                    out.push(c);
                    last_target = t;
                    last_count = c;
                    last_target_count = c;
                }
                Some(o) if t == last_target => {
                    if deltas {
                        last_count = last_count.plus(c);
                        *o = o.plus(last_count);
                        last_target_count = last_target_count.plus(last_count);
                    } else {
                        *o = o.plus(c);
                    }
                }
                Some(_) if next <= t => {
                    match out_spans.last_mut() {
                        Some(s) if next == t => s.length += 1,
                        _ => out_spans.push(Span {
                            offset: t.wrapping_sub(next),
                            length: 1,
                        }),
                    }
                    last_target = t;
                    if deltas {
                        last_count = last_count.plus(c);
                        out.push(last_count.minus(last_target_count));
                        last_target_count = last_count;
                    } else {
                        out.push(c);
                    }
                }
                // Indices only grow for valid spans; like Go, drop anything else.
                Some(_) => {}
            }
            bucket_idx = bucket_idx.wrapping_add(1);
        }
    }
    (out_spans, out)
}

/// Why a histogram chunk stopped decoding.
pub(crate) enum ReadError {
    Eof,
    Bad(String),
}

impl From<Eof> for ReadError {
    fn from(_: Eof) -> Self {
        ReadError::Eof
    }
}

impl ReadError {
    pub(crate) fn into_error(self, kind: &str, read: u16, total: u16) -> crate::Error {
        match self {
            ReadError::Eof => {
                crate::Error::Corrupt(format!("{kind} chunk ends after {read} of {total} samples"))
            }
            ReadError::Bad(m) => crate::Error::Corrupt(format!("{kind} chunk: {m}")),
        }
    }
}

/// Reads the layout at the start of a chunk's first sample and checks what the
/// decoder relies on: a known schema, and no more buckets than bits left (so a
/// corrupt span cannot make the reader allocate gigabytes).
pub(crate) fn read_first_layout(r: &mut BitReader<'_>) -> Result<Layout, ReadError> {
    let l = Layout::read(r)?;
    if !is_known_schema(l.schema) {
        return Err(ReadError::Bad(format!(
            "unknown histogram schema {}",
            l.schema
        )));
    }
    if needs_reduction(l.schema)
        && [&l.positive_spans, &l.negative_spans]
            .iter()
            .any(|s| s.iter().skip(1).any(|s| s.offset < 0))
    {
        return Err(ReadError::Bad("span with negative offset".into()));
    }
    let n = count_spans(&l.positive_spans) + count_spans(&l.negative_spans);
    if n > r.remaining_bits() as u64 {
        return Err(ReadError::Bad(format!(
            "layout declares {n} buckets, more than the chunk can hold"
        )));
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(v: &[(i32, u32)]) -> Vec<Span> {
        v.iter()
            .map(|&(offset, length)| Span { offset, length })
            .collect()
    }

    fn ins(v: &[(usize, usize, i64)]) -> Vec<Insert> {
        v.iter()
            .map(|&(pos, num, bucket_idx)| Insert {
                pos,
                num,
                bucket_idx,
            })
            .collect()
    }

    fn absolute(d: &[i64]) -> Vec<i64> {
        d.iter()
            .scan(0i64, |c, x| {
                *c += x;
                Some(*c)
            })
            .collect()
    }

    fn absolute_f(d: &[i64]) -> Vec<f64> {
        absolute(d).into_iter().map(|x| x as f64).collect()
    }

    #[test]
    fn bucket_iterator() {
        type Case = (&'static [(i32, u32)], &'static [i64]);
        let cases: [Case; 6] = [
            (&[(0, 1)], &[0]),
            (&[(0, 2), (1, 1)], &[0, 1, 3]),
            (
                &[(100, 4), (8, 7), (0, 1)],
                &[100, 101, 102, 103, 112, 113, 114, 115, 116, 117, 118, 119],
            ),
            (
                &[(0, 2), (2, 1), (3, 2), (3, 1), (1, 1)],
                &[0, 1, 4, 8, 9, 13, 15],
            ),
            (
                &[(0, 3), (1, 1), (1, 4), (3, 3)],
                &[0, 1, 2, 4, 6, 7, 8, 9, 13, 14, 15],
            ),
            (&[(-5, 0), (2, 0), (3, 2)], &[0, 1]),
        ];
        for (spans, want) in cases {
            let got: Vec<i64> = BucketIter::new(&sp(spans)).collect();
            assert_eq!(got, want, "{spans:?}");
        }
    }

    #[test]
    fn expand_both_ways_and_insert() {
        // (a, b, forward, backward, buckets in, buckets out, merged), from
        // Prometheus's TestExpandSpansBothWaysAndInsert.
        type Case = (
            &'static [(i32, u32)],
            &'static [(i32, u32)],
            &'static [(usize, usize, i64)],
            &'static [(usize, usize, i64)],
            &'static [i64],
            &'static [i64],
            &'static [(i32, u32)],
        );
        let cases: [Case; 11] = [
            (
                &[(-10, 3)],
                &[(-11, 4)],
                &[(0, 1, 0)],
                &[],
                &[6, -3, 0],
                &[0, 6, -3, 0],
                &[(-11, 4)],
            ),
            (
                &[(-10, 3)],
                &[(-10, 4)],
                &[(3, 1, 0)],
                &[],
                &[6, -3, 0],
                &[6, -3, 0, -3],
                &[(-10, 4)],
            ),
            (
                &[(-10, 3)],
                &[(-12, 5)],
                &[(0, 2, 0)],
                &[],
                &[6, -3, 0],
                &[0, 0, 6, -3, 0],
                &[(-12, 5)],
            ),
            (
                &[(-10, 3)],
                &[(-10, 5)],
                &[(3, 2, 0)],
                &[],
                &[6, -3, 0],
                &[6, -3, 0, -3, 0],
                &[(-10, 5)],
            ),
            (
                &[(-10, 3)],
                &[(-12, 7)],
                &[(0, 2, 0), (3, 2, 0)],
                &[],
                &[6, -3, 0],
                &[0, 0, 6, -3, 0, -3, 0],
                &[(-12, 7)],
            ),
            (
                &[(-10, 4)],
                &[(-9, 3)],
                &[],
                &[(0, 1, 0)],
                &[1, 2, -1, 2],
                &[1, 2, -1, 2],
                &[(-10, 4)],
            ),
            (
                &[(-10, 4)],
                &[(-10, 2), (1, 1)],
                &[],
                &[(2, 1, 0)],
                &[1, 2, -1, 2],
                &[1, 2, -1, 2],
                &[(-10, 4)],
            ),
            (
                &[(-10, 4)],
                &[(-10, 3)],
                &[],
                &[(3, 1, 0)],
                &[1, 2, -1, 2],
                &[1, 2, -1, 2],
                &[(-10, 4)],
            ),
            (
                &[(0, 2), (2, 1), (3, 2), (3, 1), (1, 1)],
                &[(0, 3), (1, 1), (1, 4), (3, 3)],
                &[(2, 1, 0), (3, 2, 0), (6, 1, 0)],
                &[],
                &[6, -3, 0, -1, 2, 1, -4],
                &[6, -3, -3, 3, -3, 0, 2, 2, 1, -5, 1],
                &[(0, 3), (1, 1), (1, 4), (3, 3)],
            ),
            (
                &[(0, 2), (2, 1), (3, 2), (3, 1), (1, 1)],
                &[(1, 2), (1, 1), (1, 2), (1, 1), (4, 1)],
                &[(2, 1, 0), (3, 2, 0), (6, 1, 0)],
                &[(0, 1, 0), (5, 1, 0), (6, 1, 0), (7, 1, 0)],
                &[1, 2, -1, 2, 0, 3, 1],
                &[1, 2, -3, 2, -2, 0, 4, 0, 3, -7, 8],
                &[(0, 3), (1, 1), (1, 4), (3, 3)],
            ),
            (
                &[(-19, 2), (1, 2)],
                &[(-19, 1), (4, 1), (3, 1)],
                &[(4, 2, 0)],
                &[(1, 3, 0)],
                &[1, 2, -1, 1],
                &[1, 2, -1, 1, -3, 0],
                &[(-19, 2), (1, 3), (3, 1)],
            ),
        ];
        for (a, b, f, bw, bin, bout, merged) in cases {
            let (gf, gb, gm) = expand_spans_both_ways(&sp(a), &sp(b));
            assert_eq!(gf, ins(f), "{a:?} {b:?}");
            assert_eq!(gb, ins(bw), "{a:?} {b:?}");
            assert_eq!(gm, sp(merged));
            assert_eq!(insert_deltas(bin, &gf), bout);
            assert_eq!(insert_absolute(&absolute_f(bin), &gf), absolute_f(bout));
        }
    }

    #[test]
    fn union_of_spans_is_symmetric() {
        // From Prometheus's TestSpansFromBidirectionalCompareSpans.
        type Case = (
            &'static [(i32, u32)],
            &'static [(i32, u32)],
            &'static [(i32, u32)],
        );
        let cases: [Case; 5] = [
            (
                &[(0, 3), (3, 3), (5, 3)],
                &[(0, 2), (2, 2), (2, 3), (3, 3)],
                &[(0, 3), (1, 7), (3, 3)],
            ),
            (
                &[(0, 3), (3, 5), (3, 3)],
                &[(0, 2), (5, 3), (4, 3)],
                &[(0, 3), (3, 5), (3, 3)],
            ),
            (
                &[(0, 3), (3, 3), (5, 3)],
                &[(3, 3), (4, 2)],
                &[(0, 9), (1, 2), (2, 3)],
            ),
            (&[(0, 3), (3, 3), (5, 3)], &[], &[(0, 3), (3, 3), (5, 3)]),
            (
                &[
                    (-5, 0),
                    (2, 0),
                    (3, 3),
                    (1, 0),
                    (2, 3),
                    (2, 0),
                    (2, 0),
                    (1, 3),
                    (4, 0),
                    (5, 0),
                ],
                &[(0, 2), (2, 2), (1, 0), (1, 3), (3, 3)],
                &[(0, 3), (1, 7), (3, 3)],
            ),
        ];
        for (a, b, want) in cases {
            assert_eq!(expand_spans_both_ways(&sp(a), &sp(b)).2, sp(want));
            assert_eq!(expand_spans_both_ways(&sp(b), &sp(a)).2, sp(want));
        }
        assert!(expand_spans_both_ways(&[], &[]).2.is_empty());
    }

    #[test]
    fn expand_with_counts() {
        // Prometheus's TestExpandIntOrFloatSpansAndBuckets: (a, a buckets, b,
        // b buckets, reset?, forward, backward, merged, a out, b out).
        struct Case {
            a: &'static [(i32, u32)],
            ab: &'static [i64],
            b: &'static [(i32, u32)],
            bb: &'static [i64],
            reset: bool,
            fwd: &'static [(usize, usize, i64)],
            bwd: &'static [(usize, usize, i64)],
            merged: &'static [(i32, u32)],
            a_out: &'static [i64],
            b_out: &'static [i64],
        }
        const NONE: &[(usize, usize, i64)] = &[];
        let reset = |a, ab, b, bb| Case {
            a,
            ab,
            b,
            bb,
            reset: true,
            fwd: NONE,
            bwd: NONE,
            merged: &[],
            a_out: &[],
            b_out: &[],
        };
        let cases = [
            Case {
                a: &[],
                ab: &[],
                b: &[],
                bb: &[],
                reset: false,
                fwd: NONE,
                bwd: NONE,
                merged: &[],
                a_out: &[],
                b_out: &[],
            },
            reset(&[(1, 1)], &[1], &[], &[]),
            reset(&[(1, 1)], &[2], &[(1, 1)], &[1]),
            Case {
                a: &[(1, 1)],
                ab: &[1],
                b: &[(1, 1)],
                bb: &[2],
                reset: false,
                fwd: NONE,
                bwd: NONE,
                merged: &[(1, 1)],
                a_out: &[1],
                b_out: &[2],
            },
            Case {
                a: &[(1, 1)],
                ab: &[1],
                b: &[(-2, 2), (1, 2), (3, 1)],
                bb: &[2, 0, 0, 0, 0],
                reset: false,
                fwd: &[(0, 2, -2), (1, 1, 2), (1, 1, 6)],
                bwd: NONE,
                merged: &[(-2, 2), (1, 2), (3, 1)],
                a_out: &[0, 0, 1, -1, 0],
                b_out: &[2, 0, 0, 0, 0],
            },
            reset(
                &[(1, 1)],
                &[2],
                &[(-2, 2), (1, 2), (3, 1)],
                &[1, 0, 0, 0, 0],
            ),
            reset(&[(1, 1)], &[2], &[(-2, 2), (2, 1), (3, 1)], &[1, 0, 0, 0]),
            Case {
                a: &[(1, 1)],
                ab: &[0],
                b: &[(3, 1)],
                bb: &[1],
                reset: false,
                fwd: &[(1, 1, 3)],
                bwd: &[(0, 1, 1)],
                merged: &[(1, 1), (1, 1)],
                a_out: &[0, 0],
                b_out: &[0, 1],
            },
            Case {
                a: &[(1, 3), (1, 2), (2, 1), (2, 2)],
                ab: &[0, 0, 0, 0, 0, 0, 0, 0],
                b: &[(8, 1)],
                bb: &[1],
                reset: false,
                fwd: &[(5, 1, 8)],
                bwd: &[(0, 3, 1), (0, 2, 5), (1, 1, 9), (1, 2, 12)],
                merged: &[(1, 3), (1, 2), (1, 2), (2, 2)],
                a_out: &[0, 0, 0, 0, 0, 0, 0, 0, 0],
                b_out: &[0, 0, 0, 0, 0, 1, -1, 0, 0],
            },
            Case {
                a: &[(1, 3), (1, 2), (1, 2), (2, 2)],
                ab: &[0, 0, 0, 0, 0, 1, -1, 0, 0],
                b: &[(8, 1)],
                bb: &[2],
                reset: false,
                fwd: NONE,
                bwd: &[(0, 3, 1), (0, 2, 5), (1, 1, 9), (1, 2, 12)],
                merged: &[(1, 3), (1, 2), (1, 2), (2, 2)],
                a_out: &[0, 0, 0, 0, 0, 1, -1, 0, 0],
                b_out: &[0, 0, 0, 0, 0, 2, -2, 0, 0],
            },
            Case {
                a: &[(1, 3), (1, 2), (1, 2), (1, 0), (1, 2)],
                ab: &[0, 0, 0, 0, 0, 1, -1, 0, 0],
                b: &[(1, 0), (7, 1)],
                bb: &[2],
                reset: false,
                fwd: NONE,
                bwd: &[(0, 3, 1), (0, 2, 5), (1, 1, 9), (1, 2, 12)],
                merged: &[(1, 3), (1, 2), (1, 2), (2, 2)],
                a_out: &[0, 0, 0, 0, 0, 1, -1, 0, 0],
                b_out: &[0, 0, 0, 0, 0, 2, -2, 0, 0],
            },
            Case {
                a: &[(-51, 8), (11, 1), (14, 1)],
                ab: &[1, 0, 1, -1, 1, 1, 0, -1, -1, 0],
                b: &[(-51, 9), (9, 2), (14, 1)],
                bb: &[1, 1, 0, 1, -1, 1, 0, -1, -1, 0, 0, 0],
                reset: false,
                fwd: &[(8, 1, -43), (8, 1, -33)],
                bwd: NONE,
                merged: &[(-51, 9), (9, 2), (14, 1)],
                a_out: &[1, 0, 1, -1, 1, 1, 0, -1, -2, 0, 1, 0],
                b_out: &[1, 1, 0, 1, -1, 1, 0, -1, -1, 0, 0, 0],
            },
            Case {
                a: &[(-16, 1), (2, 1), (7, 1)],
                ab: &[0, 2, -2],
                b: &[(-15, 4), (5, 2), (1, 1)],
                bb: &[0, 1, 2, -3, 0, 0, 0],
                reset: false,
                fwd: &[(1, 2, -15), (2, 1, -12), (2, 1, -6), (3, 1, -3)],
                bwd: &[(0, 1, -16)],
                merged: &[(-16, 5), (5, 2), (1, 1)],
                a_out: &[0, 0, 0, 2, -2, 0, 0, 0],
                b_out: &[0, 0, 1, 2, -3, 0, 0, 0],
            },
        ];
        for c in cases {
            let (a, b) = (sp(c.a), sp(c.b));
            let got_i = expand_spans_and_buckets(
                &a,
                &b,
                absolute(c.ab).into_iter(),
                absolute(c.bb).into_iter(),
            );
            let got_f = expand_spans_and_buckets(
                &a,
                &b,
                absolute_f(c.ab).into_iter(),
                absolute_f(c.bb).into_iter(),
            );
            assert_eq!(got_i, got_f, "{:?}", c.a);
            let Some((fwd, bwd)) = got_i else {
                assert!(c.reset, "unexpected reset for {:?} -> {:?}", c.a, c.b);
                continue;
            };
            assert!(!c.reset, "missed reset for {:?} -> {:?}", c.a, c.b);
            assert_eq!(fwd, ins(c.fwd), "{:?}", c.a);
            assert_eq!(bwd, ins(c.bwd), "{:?}", c.a);
            assert_eq!(adjust_for_inserts(&b, &bwd), sp(c.merged));
            assert_eq!(insert_deltas(c.ab, &fwd), c.a_out);
            assert_eq!(insert_deltas(c.bb, &bwd), c.b_out);
            assert_eq!(
                insert_absolute(&absolute_f(c.ab), &fwd),
                absolute_f(c.a_out)
            );
            assert_eq!(
                insert_absolute(&absolute_f(c.bb), &bwd),
                absolute_f(c.b_out)
            );
        }
    }

    #[test]
    fn layouts_round_trip() {
        let layouts = [
            (3, 0.0, sp(&[(-4, 3), (2, 42)]), vec![], vec![]),
            (
                -2,
                2.938735877055719e-39,
                vec![],
                sp(&[(2, 5), (1, 34)]),
                vec![],
            ),
            (6, 1024.0, vec![], vec![], vec![]),
            (
                6,
                1025.0,
                sp(&[(2, 5), (1, 34), (0, 0)]),
                sp(&[(-345, 4545), (53645665, 345), (945995, 85848)]),
                vec![],
            ),
            (6, 2048.0, vec![], vec![], vec![]),
            (
                0,
                2f64.powi(-243),
                sp(&[(-4, 3)]),
                sp(&[(2, 5), (1, 34)]),
                vec![],
            ),
            (
                0,
                2f64.powi(-244),
                sp(&[(-4, 3)]),
                sp(&[(2, 5), (1, 34)]),
                vec![],
            ),
            (4, 42.0, vec![], vec![], vec![]),
            (
                -53,
                0.0,
                sp(&[(-4, 3), (2, 42)]),
                vec![],
                vec![
                    -5.0, -2.5, 0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 255.0,
                    500.0, 1000.0, 50000.0, 1e7,
                ],
            ),
            (
                -53,
                0.0,
                sp(&[(0, 3)]),
                vec![],
                vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0,
                ],
            ),
            (
                -53,
                0.0,
                vec![],
                vec![],
                vec![
                    0.001, 0.002, 0.004, 0.008, 0.016, 1.024, 2.048, 4.096, 8.192,
                ],
            ),
            (
                -53,
                0.0,
                vec![],
                vec![],
                vec![1.001, 1.023, 2.01, 4.007, 8.19, 16.24],
            ),
        ];
        let mut w = BitWriter::default();
        let ls: Vec<Layout> = layouts
            .into_iter()
            .map(|(schema, zero_threshold, p, n, c)| Layout {
                schema,
                zero_threshold,
                positive_spans: p,
                negative_spans: n,
                custom_values: c,
            })
            .collect();
        for l in &ls {
            l.write(&mut w);
        }
        let b = w.into_bytes();
        let mut r = BitReader::new(&b);
        for l in &ls {
            assert_eq!(&Layout::read(&mut r).unwrap(), l);
        }
    }

    #[test]
    fn zero_threshold_encoding() {
        // (threshold, bytes): 2^-128 is the client libraries' default and codes as
        // frexp exponent -127 + 243 = 116; 2^10 = 0.5*2^11 → 254; 2^-243 → 1.
        let cases: [(f64, &[u8]); 7] = [
            (0.0, &[0]),
            (2f64.powi(-128), &[116]),
            (1024.0, &[254]),
            (2f64.powi(-243), &[1]),
            (1.0, &[244]),
            (2048.0, &[255, 0x40, 0xa0, 0, 0, 0, 0, 0, 0]),
            (
                0.001,
                &[255, 0x3f, 0x50, 0x62, 0x4d, 0xd2, 0xf1, 0xa9, 0xfc],
            ),
        ];
        for (t, want) in cases {
            let mut w = BitWriter::default();
            put_zero_threshold(&mut w, t);
            assert_eq!(w.bytes(), want, "{t}");
            let b = w.into_bytes();
            assert_eq!(read_zero_threshold(&mut BitReader::new(&b)).unwrap(), t);
        }
        for t in [-0.25, f64::INFINITY, f64::MIN_POSITIVE / 4.0, f64::NAN] {
            let mut w = BitWriter::default();
            put_zero_threshold(&mut w, t);
            assert_eq!(w.bytes()[0], 255, "{t}");
        }
    }

    #[test]
    fn custom_bound_encoding() {
        // 0.005 → 5+1 = 6 → '10' '110'; 2.5 → 2501 → '11110' + 12 bits 1001_1100_0101;
        // -1 → '0' + the 64 bits of -1.0 (bff0 0000 0000 0000), 87 bits in all:
        // 10110111 10100111 00010101 01111111 11100000 then zeros → b7 a7 15 7f e0 + 6×00.
        let mut w = BitWriter::default();
        put_custom_bound(&mut w, 0.005);
        put_custom_bound(&mut w, 2.5);
        put_custom_bound(&mut w, -1.0);
        let got: String = w.bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, "b7a7157fe0000000000000");
        let b = w.into_bytes();
        let mut r = BitReader::new(&b);
        for v in [0.005, 2.5, -1.0] {
            assert_eq!(read_custom_bound(&mut r).unwrap(), v);
        }
        // The largest varbit-coded bound and the first one past it.
        for v in [33554.43, 33554.431, 0.0, f64::INFINITY, 1e-4] {
            let mut w = BitWriter::default();
            put_custom_bound(&mut w, v);
            let b = w.into_bytes();
            assert_eq!(read_custom_bound(&mut BitReader::new(&b)).unwrap(), v);
        }
    }

    #[test]
    fn adjust_for_inserts_keeps_order() {
        let spans = sp(&[(0, 1), (3, 1), (3, 1), (4, 1), (1, 1)]);
        let got = adjust_for_inserts(&spans, &ins(&[(1, 1, 1), (3, 1, 9)]));
        assert_eq!(got, sp(&[(0, 2), (2, 1), (3, 2), (3, 1), (1, 1)]));
        assert_eq!(adjust_for_inserts(&spans, &[]), spans);
    }

    #[test]
    fn reduce_resolution_merges_buckets() {
        // Schema 9 → 8 halves the resolution: bucket i goes to ((i-1)>>1)+1, so
        // indices 0,1 → 0,1; 3,4 → 2,2 (first span {0,2}, then {1,2} covers 3,4).
        let spans = sp(&[(0, 2), (1, 2)]);
        let (s, b) = reduce_resolution(&spans, &[1i64, 2, 3, 4], 9, 8, true);
        // Absolute counts 1,3,6,10 → targets 0:1, 1:3, 2:16.
        assert_eq!(s, sp(&[(0, 3)]));
        assert_eq!(absolute(&b), vec![1, 3, 16]);
        let (s, b) = reduce_resolution(&spans, &[1.0, 3.0, 6.0, 10.0], 9, 8, false);
        assert_eq!(s, sp(&[(0, 3)]));
        assert_eq!(b, vec![1.0, 3.0, 16.0]);
        // A 44-step reduction maps everything to bucket 0 or 1.
        let (s, b) = reduce_resolution(&sp(&[(-3, 2), (5, 3)]), &[1i64; 5], 52, 8, true);
        assert_eq!(s, sp(&[(0, 2)]));
        assert_eq!(absolute(&b), vec![3, 12]);
    }

    #[test]
    fn header_bits() {
        for h in [
            CounterResetHeader::Unknown,
            CounterResetHeader::CounterReset,
            CounterResetHeader::NotCounterReset,
            CounterResetHeader::Gauge,
        ] {
            assert_eq!(CounterResetHeader::from_flags(h.to_flags() | 0x15), h);
        }
        assert_eq!(CounterResetHeader::CounterReset.to_flags(), 0x80);
        assert_eq!(CounterResetHeader::NotCounterReset.to_flags(), 0x40);
        assert_eq!(CounterResetHeader::Gauge.to_flags(), 0xc0);
        let mut b = [0, 0, 0x3f];
        set_header(&mut b, CounterResetHeader::Gauge);
        assert_eq!(b[2], 0xff);
        set_header(&mut b, CounterResetHeader::Unknown);
        assert_eq!(b[2], 0x3f);
    }
}
