//! The float histogram chunk, byte-compatible with Prometheus's `EncFloatHistogram`.
//!
//! Same header and layout block as the integer chunk ([`crate::histogram`]); the
//! samples differ: the first stores its timestamp as a `varbit` integer and every
//! float (count, zero count, sum, each bucket) as its 64 raw bits, later samples a
//! timestamp delta-of-delta and each float Gorilla-XOR-ed against its own previous
//! value. Buckets are absolute counts.

use std::borrow::Cow;

use ember_model::histogram::{CounterResetHint, FloatHistogram, Span};
use ember_model::value::is_stale_nan;

use crate::bstream::{BitReader, BitWriter};
use crate::histogram_meta::{
    self, EXPONENTIAL_SCHEMA_MAX, HEADER_SIZE, Insert, Layout, ReadError, adjust_for_inserts,
    check_structure, counter_reset_hint, custom_bounds_match, expand_spans_and_buckets,
    expand_spans_both_ways, header, insert_absolute, needs_reduction, num_samples,
    read_first_layout, reduce_resolution, set_header, set_num_samples,
};
use crate::varbit::{put_varbit_int, read_varbit_int};
use crate::xor::{xor_read, xor_write};
use crate::{Appended, CounterResetHeader, Error};

/// A float and its XOR window (`leading == 0xff`: no window yet).
#[derive(Clone, Copy, Debug)]
struct XorValue {
    value: f64,
    leading: u8,
    trailing: u8,
}

impl XorValue {
    fn new(value: f64, leading: u8) -> Self {
        XorValue {
            value,
            leading,
            trailing: 0,
        }
    }

    fn write(&mut self, w: &mut BitWriter, v: f64) {
        xor_write(w, v, self.value, &mut self.leading, &mut self.trailing);
        self.value = v;
    }

    fn read(&mut self, r: &mut BitReader<'_>) -> Result<(), ReadError> {
        Ok(xor_read(
            r,
            &mut self.value,
            &mut self.leading,
            &mut self.trailing,
        )?)
    }
}

/// Encoder or decoder state after a sample (see the integer chunk's `State`).
#[derive(Clone, Debug)]
struct State {
    layout: Layout,
    t: i64,
    t_delta: i64,
    count: XorValue,
    zero_count: XorValue,
    sum: XorValue,
    pos: Vec<XorValue>,
    neg: Vec<XorValue>,
}

impl State {
    /// Prometheus's fresh appender starts XOR windows at 0xff, its iterator at 0; a
    /// reopened chunk keeps the iterator's, so both are reproduced.
    fn new(leading: u8) -> Self {
        State {
            layout: Layout::default(),
            t: i64::MIN,
            t_delta: 0,
            count: XorValue::new(0.0, leading),
            zero_count: XorValue::new(0.0, leading),
            sum: XorValue::new(0.0, leading),
            pos: Vec::new(),
            neg: Vec::new(),
        }
    }

    /// The last sample (hint unknown, no schema reduction).
    fn histogram(&self) -> FloatHistogram {
        if is_stale_nan(self.sum.value) {
            return stale(self.sum.value);
        }
        FloatHistogram {
            counter_reset_hint: CounterResetHint::Unknown,
            schema: self.layout.schema,
            zero_threshold: self.layout.zero_threshold,
            zero_count: self.zero_count.value,
            count: self.count.value,
            sum: self.sum.value,
            positive_spans: self.layout.positive_spans.clone(),
            negative_spans: self.layout.negative_spans.clone(),
            positive_buckets: self.pos.iter().map(|v| v.value).collect(),
            negative_buckets: self.neg.iter().map(|v| v.value).collect(),
            custom_values: self.layout.custom_values.clone(),
        }
    }
}

fn stale(sum: f64) -> FloatHistogram {
    FloatHistogram {
        sum,
        ..FloatHistogram::default()
    }
}

/// Prometheus's float `appendable` result; unlike the integer one it only says
/// whether there was a counter reset, so the headers it leads to differ slightly.
#[derive(Debug, Default)]
struct Appendability {
    pos_forward: Vec<Insert>,
    neg_forward: Vec<Insert>,
    pos_backward: Vec<Insert>,
    neg_backward: Vec<Insert>,
    ok: bool,
    counter_reset: bool,
}

#[derive(Debug, Default)]
struct GaugeAppendability {
    pos_forward: Vec<Insert>,
    neg_forward: Vec<Insert>,
    pos_backward: Vec<Insert>,
    neg_backward: Vec<Insert>,
    pos_spans: Vec<Span>,
    neg_spans: Vec<Span>,
    ok: bool,
}

/// A float native-histogram chunk being written or read.
#[derive(Clone, Debug)]
pub struct FloatHistogramChunk {
    w: BitWriter,
    s: State,
}

impl Default for FloatHistogramChunk {
    fn default() -> Self {
        Self::new()
    }
}

impl FloatHistogramChunk {
    /// An empty chunk (counter-reset header unknown).
    pub fn new() -> Self {
        FloatHistogramChunk {
            w: BitWriter::from_bytes(vec![0; HEADER_SIZE], 0),
            s: State::new(0xff),
        }
    }

    /// Reopens encoded chunk bytes for appending, replaying them to restore the
    /// encoder state as Prometheus's `Appender()` does. Bytes after the last
    /// sample are dropped.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut it = FloatHistogramIterator::new(bytes)?;
        while it.advance() {}
        if let Some(e) = it.err {
            return Err(e);
        }
        if it.total == 0 {
            let mut c = Self::new();
            set_header(c.w.bytes_mut(), it.header);
            return Ok(c);
        }
        Ok(FloatHistogramChunk {
            w: histogram_meta::reopen_writer(bytes, it.r.position()),
            s: it.s,
        })
    }

    /// The encoded bytes (header and bit stream, padding zeroed).
    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    /// Number of samples.
    pub fn num_samples(&self) -> u16 {
        num_samples(self.w.bytes())
    }

    /// The chunk's counter-reset header.
    pub fn counter_reset_header(&self) -> CounterResetHeader {
        header(self.w.bytes())
    }

    /// Overwrites the counter-reset header (the other flag bits are kept).
    pub fn set_counter_reset_header(&mut self, h: CounterResetHeader) {
        set_header(self.w.bytes_mut(), h);
    }

    /// Whether the chunk is past the size-based part of Prometheus's cut rule; see
    /// [`crate::histogram::HistogramChunk::is_full`].
    pub fn is_full(&self) -> bool {
        histogram_meta::is_full(self.w.bytes().len(), self.num_samples())
    }

    /// Iterates the samples.
    pub fn iter(&self) -> FloatHistogramIterator<'_> {
        FloatHistogramIterator::new(self.w.bytes())
            .unwrap_or_else(|_| FloatHistogramIterator::empty())
    }

    /// Appends a sample with Prometheus's rules (`AppendFloatHistogram`); see
    /// [`crate::histogram::HistogramChunk::append`]. One difference is Prometheus's:
    /// a new chunk cut for anything but a counter reset (schema or zero-threshold
    /// change, counter/gauge switch, after a staleness marker) gets the `Unknown`
    /// header, never `NotCounterReset`.
    pub fn append(&mut self, t: i64, h: &FloatHistogram) -> Result<Appended<Self>, Error> {
        self.append_impl(None, t, h, false)
    }

    /// Like [`Self::append`], for the first sample of a chunk the caller cut after
    /// `prev`: the header becomes `CounterReset` or `NotCounterReset` depending on
    /// whether `h` is a counter reset against `prev` (Prometheus does not use
    /// `Unknown` here for float histograms). On a non-empty chunk `prev` is ignored.
    pub fn append_after(
        &mut self,
        prev: Option<&FloatHistogramChunk>,
        t: i64,
        h: &FloatHistogram,
    ) -> Result<Appended<Self>, Error> {
        self.append_impl(prev, t, h, false)
    }

    /// Appends only if neither a new chunk nor a rewrite of this one is needed
    /// (Prometheus's `appendOnly` mode); otherwise returns
    /// [`Error::NotAppendable`] with Prometheus's message and changes nothing.
    pub fn append_in_place(&mut self, t: i64, h: &FloatHistogram) -> Result<(), Error> {
        self.append_impl(None, t, h, true).map(|_| ())
    }

    fn append_impl(
        &mut self,
        prev: Option<&FloatHistogramChunk>,
        t: i64,
        h: &FloatHistogram,
        append_only: bool,
    ) -> Result<Appended<Self>, Error> {
        if !is_stale_nan(h.sum) {
            check_structure(
                &h.positive_spans,
                h.positive_buckets.len(),
                &h.negative_spans,
                h.negative_buckets.len(),
            )?;
        }
        let n = self.num_samples();
        if n == 0 {
            self.write_sample(t, h);
            match h.counter_reset_hint {
                CounterResetHint::Gauge => self.set_counter_reset_header(CounterResetHeader::Gauge),
                CounterResetHint::CounterReset => {
                    self.set_counter_reset_header(CounterResetHeader::CounterReset)
                }
                _ => {
                    if let Some(p) = prev {
                        self.set_counter_reset_header(if p.appendable(h).counter_reset {
                            CounterResetHeader::CounterReset
                        } else {
                            CounterResetHeader::NotCounterReset
                        });
                    }
                }
            }
            return Ok(Appended::InPlace);
        }
        if append_only && n == u16::MAX {
            return Err(Error::NotAppendable("chunk capacity exceeded".into()));
        }
        if !append_only && self.is_full() {
            let mut c = Self::new();
            c.append_impl(Some(self), t, h, false)?;
            return Ok(Appended::NewChunk(Box::new(c)));
        }
        if h.counter_reset_hint == CounterResetHint::Gauge {
            return self.append_gauge(t, h, append_only);
        }

        let a = self.appendable(h);
        if !a.ok || a.counter_reset {
            if append_only {
                return Err(Error::NotAppendable(
                    if a.counter_reset {
                        "float histogram counter reset"
                    } else {
                        "float histogram schema change"
                    }
                    .into(),
                ));
            }
            let header = if a.counter_reset {
                CounterResetHeader::CounterReset
            } else {
                CounterResetHeader::Unknown
            };
            return Ok(self.cut(header, t, h));
        }
        let mut h = Cow::Borrowed(h);
        if !a.pos_backward.is_empty() || !a.neg_backward.is_empty() {
            let hm = h.to_mut();
            if a.pos_forward.is_empty() && a.neg_forward.is_empty() {
                hm.positive_spans = self.s.layout.positive_spans.clone();
                hm.negative_spans = self.s.layout.negative_spans.clone();
            } else {
                hm.positive_spans = adjust_for_inserts(&hm.positive_spans, &a.pos_backward);
                hm.negative_spans = adjust_for_inserts(&hm.negative_spans, &a.neg_backward);
            }
            widen(hm, &a.pos_backward, &a.neg_backward);
        }
        if !a.pos_forward.is_empty() || !a.neg_forward.is_empty() {
            if append_only {
                return Err(Error::NotAppendable(format!(
                    "float histogram layout change with {} positive and {} negative forwards inserts",
                    a.pos_forward.len(),
                    a.neg_forward.len()
                )));
            }
            return self.recode_and_append(&a.pos_forward, &a.neg_forward, t, &h);
        }
        self.check_fits(&h)?;
        self.write_sample(t, &h);
        Ok(Appended::InPlace)
    }

    fn append_gauge(
        &mut self,
        t: i64,
        h: &FloatHistogram,
        append_only: bool,
    ) -> Result<Appended<Self>, Error> {
        let g = self.appendable_gauge(h);
        if !g.ok {
            if append_only {
                return Err(Error::NotAppendable(
                    "float gauge histogram schema change".into(),
                ));
            }
            return Ok(self.cut(CounterResetHeader::Gauge, t, h));
        }
        let mut h = Cow::Borrowed(h);
        if !g.pos_backward.is_empty() || !g.neg_backward.is_empty() {
            if append_only {
                return Err(Error::NotAppendable(format!(
                    "float gauge histogram layout change with {} positive and {} negative backwards inserts",
                    g.pos_backward.len(),
                    g.neg_backward.len()
                )));
            }
            let hm = h.to_mut();
            hm.positive_spans = g.pos_spans;
            hm.negative_spans = g.neg_spans;
            widen(hm, &g.pos_backward, &g.neg_backward);
        }
        if !g.pos_forward.is_empty() || !g.neg_forward.is_empty() {
            if append_only {
                return Err(Error::NotAppendable(format!(
                    "float gauge histogram layout change with {} positive and {} negative forwards inserts",
                    g.pos_forward.len(),
                    g.neg_forward.len()
                )));
            }
            return self.recode_and_append(&g.pos_forward, &g.neg_forward, t, &h);
        }
        self.check_fits(&h)?;
        self.write_sample(t, &h);
        Ok(Appended::InPlace)
    }

    fn cut(&self, header: CounterResetHeader, t: i64, h: &FloatHistogram) -> Appended<Self> {
        let mut c = Self::new();
        c.set_counter_reset_header(header);
        c.write_sample(t, h);
        Appended::NewChunk(Box::new(c))
    }

    /// Whether `h` may follow the chunk's last sample (Prometheus's float
    /// `appendable`).
    fn appendable(&self, h: &FloatHistogram) -> Appendability {
        let mut a = Appendability::default();
        let s = &self.s;
        if self.num_samples() > 0 && self.counter_reset_header() == CounterResetHeader::Gauge {
            return a;
        }
        if h.counter_reset_hint == CounterResetHint::CounterReset {
            a.counter_reset = true;
            return a;
        }
        if is_stale_nan(h.sum) {
            a.ok = true;
            return a;
        }
        if is_stale_nan(s.sum.value) {
            return a;
        }
        if h.count < s.count.value {
            a.counter_reset = true;
            return a;
        }
        if h.schema != s.layout.schema || h.zero_threshold != s.layout.zero_threshold {
            return a;
        }
        if h.uses_custom_buckets()
            && !custom_bounds_match(&h.custom_values, &s.layout.custom_values)
        {
            a.counter_reset = true;
            return a;
        }
        if h.zero_count < s.zero_count.value {
            a.counter_reset = true;
            return a;
        }
        let Some((pf, pb)) = expand_spans_and_buckets(
            &s.layout.positive_spans,
            &h.positive_spans,
            s.pos.iter().map(|x| x.value),
            h.positive_buckets.iter().copied(),
        ) else {
            a.counter_reset = true;
            return a;
        };
        let Some((nf, nb)) = expand_spans_and_buckets(
            &s.layout.negative_spans,
            &h.negative_spans,
            s.neg.iter().map(|x| x.value),
            h.negative_buckets.iter().copied(),
        ) else {
            a.counter_reset = true;
            return a;
        };
        a.pos_forward = pf;
        a.pos_backward = pb;
        a.neg_forward = nf;
        a.neg_backward = nb;
        a.ok = true;
        a
    }

    fn appendable_gauge(&self, h: &FloatHistogram) -> GaugeAppendability {
        let mut g = GaugeAppendability::default();
        let s = &self.s;
        if self.num_samples() > 0 && self.counter_reset_header() != CounterResetHeader::Gauge {
            return g;
        }
        if is_stale_nan(h.sum) {
            g.ok = true;
            return g;
        }
        if is_stale_nan(s.sum.value)
            || h.schema != s.layout.schema
            || h.zero_threshold != s.layout.zero_threshold
            || (h.uses_custom_buckets()
                && !custom_bounds_match(&h.custom_values, &s.layout.custom_values))
        {
            return g;
        }
        (g.pos_forward, g.pos_backward, g.pos_spans) =
            expand_spans_both_ways(&s.layout.positive_spans, &h.positive_spans);
        (g.neg_forward, g.neg_backward, g.neg_spans) =
            expand_spans_both_ways(&s.layout.negative_spans, &h.negative_spans);
        g.ok = true;
        g
    }

    fn recode_and_append(
        &mut self,
        pos_inserts: &[Insert],
        neg_inserts: &[Insert],
        t: i64,
        h: &FloatHistogram,
    ) -> Result<Appended<Self>, Error> {
        let mut c = Self::new();
        let mut it = self.iter();
        while it.advance() {
            let mut old = it.s.histogram();
            if !is_stale_nan(old.sum) {
                old.positive_spans.clone_from(&h.positive_spans);
                old.negative_spans.clone_from(&h.negative_spans);
                widen(&mut old, pos_inserts, neg_inserts);
            }
            c.check_fits(&old)?;
            c.write_sample(it.s.t, &old);
        }
        if let Some(e) = it.err {
            return Err(e);
        }
        c.set_counter_reset_header(self.counter_reset_header());
        c.check_fits(h)?;
        c.write_sample(t, h);
        *self = c;
        Ok(Appended::Recoded)
    }

    fn check_fits(&self, h: &FloatHistogram) -> Result<(), Error> {
        if self.num_samples() == 0 || is_stale_nan(h.sum) {
            return Ok(());
        }
        if h.positive_buckets.len() != self.s.pos.len()
            || h.negative_buckets.len() != self.s.neg.len()
        {
            return Err(Error::InvalidHistogram(format!(
                "{}+{} buckets do not fit the chunk's {}+{}",
                h.positive_buckets.len(),
                h.negative_buckets.len(),
                self.s.pos.len(),
                self.s.neg.len()
            )));
        }
        Ok(())
    }

    /// Encodes `h` after the last sample (Prometheus's `appendFloatHistogram`).
    fn write_sample(&mut self, t: i64, h: &FloatHistogram) {
        let marker;
        let h = if is_stale_nan(h.sum) {
            marker = stale(h.sum);
            &marker
        } else {
            h
        };
        let n = self.num_samples();
        let w = &mut self.w;
        let s = &mut self.s;
        let mut t_delta = 0;
        if n == 0 {
            s.layout = Layout {
                schema: h.schema,
                zero_threshold: h.zero_threshold,
                positive_spans: h.positive_spans.clone(),
                negative_spans: h.negative_spans.clone(),
                custom_values: h.custom_values.clone(),
            };
            s.layout.write(w);
            s.pos = h
                .positive_buckets
                .iter()
                .map(|v| XorValue::new(*v, 0xff))
                .collect();
            s.neg = h
                .negative_buckets
                .iter()
                .map(|v| XorValue::new(*v, 0xff))
                .collect();
            put_varbit_int(w, t);
            for v in [h.count, h.zero_count, h.sum]
                .iter()
                .chain(&h.positive_buckets)
                .chain(&h.negative_buckets)
            {
                w.write_bits(v.to_bits(), 64);
            }
            s.count.value = h.count;
            s.zero_count.value = h.zero_count;
            s.sum.value = h.sum;
        } else {
            t_delta = t.wrapping_sub(s.t);
            put_varbit_int(w, t_delta.wrapping_sub(s.t_delta));
            s.count.write(w, h.count);
            s.zero_count.write(w, h.zero_count);
            s.sum.write(w, h.sum);
            for (x, v) in s
                .pos
                .iter_mut()
                .zip(&h.positive_buckets)
                .chain(s.neg.iter_mut().zip(&h.negative_buckets))
            {
                x.write(w, *v);
            }
        }
        s.t = t;
        s.t_delta = t_delta;
        set_num_samples(w.bytes_mut(), n.wrapping_add(1));
    }
}

/// Inserts empty buckets into `h` (whose spans already describe the result).
fn widen(h: &mut FloatHistogram, pos: &[Insert], neg: &[Insert]) {
    if !pos.is_empty() {
        h.positive_buckets = insert_absolute(&h.positive_buckets, pos);
    }
    if !neg.is_empty() {
        h.negative_buckets = insert_absolute(&h.negative_buckets, neg);
    }
}

/// Decodes a float histogram chunk.
#[derive(Clone, Debug)]
pub struct FloatHistogramIterator<'a> {
    r: BitReader<'a>,
    total: u16,
    read: u16,
    header: CounterResetHeader,
    s: State,
    err: Option<Error>,
}

impl<'a> FloatHistogramIterator<'a> {
    /// Iterates encoded chunk bytes (header included).
    pub fn new(bytes: &'a [u8]) -> Result<Self, Error> {
        if bytes.len() < HEADER_SIZE {
            return Err(Error::Corrupt(
                "float histogram chunk shorter than its header".into(),
            ));
        }
        Ok(FloatHistogramIterator {
            r: BitReader::new(&bytes[HEADER_SIZE..]),
            total: num_samples(bytes),
            read: 0,
            header: header(bytes),
            s: State::new(0),
            err: None,
        })
    }

    fn empty() -> Self {
        FloatHistogramIterator {
            r: BitReader::new(&[]),
            total: 0,
            read: 0,
            header: CounterResetHeader::Unknown,
            s: State::new(0),
            err: None,
        }
    }

    /// The chunk's counter-reset header.
    pub fn counter_reset_header(&self) -> CounterResetHeader {
        self.header
    }

    /// Moves to the next sample; false at the end or on corruption (see [`Self::err`]).
    pub fn advance(&mut self) -> bool {
        if self.err.is_some() || self.read >= self.total {
            return false;
        }
        match self.decode() {
            Ok(()) => {
                self.read += 1;
                true
            }
            Err(e) => {
                self.err = Some(e.into_error("float histogram", self.read, self.total));
                false
            }
        }
    }

    fn decode(&mut self) -> Result<(), ReadError> {
        let r = &mut self.r;
        let s = &mut self.s;
        if self.read == 0 {
            s.layout = read_first_layout(r)?;
            let np = histogram_meta::count_spans(&s.layout.positive_spans) as usize;
            let nn = histogram_meta::count_spans(&s.layout.negative_spans) as usize;
            s.t = read_varbit_int(r)?;
            s.count.value = f64::from_bits(r.read_bits(64)?);
            s.zero_count.value = f64::from_bits(r.read_bits(64)?);
            s.sum.value = f64::from_bits(r.read_bits(64)?);
            s.pos = Vec::with_capacity(np);
            for _ in 0..np {
                s.pos
                    .push(XorValue::new(f64::from_bits(r.read_bits(64)?), 0));
            }
            s.neg = Vec::with_capacity(nn);
            for _ in 0..nn {
                s.neg
                    .push(XorValue::new(f64::from_bits(r.read_bits(64)?), 0));
            }
            return Ok(());
        }
        s.t_delta = s.t_delta.wrapping_add(read_varbit_int(r)?);
        s.t = s.t.wrapping_add(s.t_delta);
        s.count.read(r)?;
        s.zero_count.read(r)?;
        s.sum.read(r)?;
        if is_stale_nan(s.sum.value) {
            return Ok(());
        }
        for x in s.pos.iter_mut().chain(s.neg.iter_mut()) {
            x.read(r)?;
        }
        Ok(())
    }

    /// The current sample's timestamp.
    pub fn at_t(&self) -> i64 {
        self.s.t
    }

    /// Fills `h` with the current sample (reusing its allocations) and returns the
    /// timestamp; hints and staleness markers as in
    /// [`crate::histogram::HistogramIterator::at_histogram`].
    pub fn at_float_histogram(&self, h: &mut FloatHistogram) -> i64 {
        let s = &self.s;
        if is_stale_nan(s.sum.value) {
            clear_float_histogram(h);
            h.sum = s.sum.value;
            return s.t;
        }
        h.counter_reset_hint = counter_reset_hint(self.header, self.read);
        h.schema = s.layout.schema;
        h.zero_threshold = s.layout.zero_threshold;
        h.zero_count = s.zero_count.value;
        h.count = s.count.value;
        h.sum = s.sum.value;
        h.positive_spans.clone_from(&s.layout.positive_spans);
        h.negative_spans.clone_from(&s.layout.negative_spans);
        h.positive_buckets.clear();
        h.positive_buckets.extend(s.pos.iter().map(|x| x.value));
        h.negative_buckets.clear();
        h.negative_buckets.extend(s.neg.iter().map(|x| x.value));
        h.custom_values.clone_from(&s.layout.custom_values);
        if needs_reduction(h.schema) {
            reduce_float(h);
        }
        s.t
    }

    /// The corruption that stopped iteration, if any.
    pub fn err(&self) -> Option<&Error> {
        self.err.as_ref()
    }
}

/// Resets `h` to the default histogram, keeping its allocations.
pub(crate) fn clear_float_histogram(h: &mut FloatHistogram) {
    h.counter_reset_hint = CounterResetHint::Unknown;
    h.schema = 0;
    h.zero_threshold = 0.0;
    h.zero_count = 0.0;
    h.count = 0.0;
    h.sum = 0.0;
    h.positive_spans.clear();
    h.negative_spans.clear();
    h.positive_buckets.clear();
    h.negative_buckets.clear();
    h.custom_values.clear();
}

/// Reduces a histogram of a schema reserved for newer versions to the finest one
/// this version computes with.
pub(crate) fn reduce_float(h: &mut FloatHistogram) {
    (h.positive_spans, h.positive_buckets) = reduce_resolution(
        &h.positive_spans,
        &h.positive_buckets,
        h.schema,
        EXPONENTIAL_SCHEMA_MAX,
        false,
    );
    (h.negative_spans, h.negative_buckets) = reduce_resolution(
        &h.negative_spans,
        &h.negative_buckets,
        h.schema,
        EXPONENTIAL_SCHEMA_MAX,
        false,
    );
    h.schema = EXPONENTIAL_SCHEMA_MAX;
}

#[cfg(test)]
#[path = "float_histogram_tests.rs"]
mod tests;
