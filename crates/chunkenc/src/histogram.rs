//! The integer histogram chunk, byte-compatible with Prometheus's `EncHistogram`.
//!
//! A chunk starts with the sample count (big-endian `u16`) and a flags byte whose
//! top two bits are the [`CounterResetHeader`]. The first sample is preceded by the
//! layout all samples share: the zero threshold (one byte for 0 and for powers of
//! two from 2^-243 to 2^10, else 255 and the float), the schema, the positive and
//! negative spans (count, then length and offset of each) and, for custom-bucket
//! schema −53, the bounds. Then each sample stores these fields, as `varbit`
//! integers ([`crate::varbit`]) except the Gorilla-XOR sum:
//!
//! | field      | sample 0 | sample 1 | later |
//! | ---------- | -------- | -------- | ----- |
//! | timestamp  | raw      | delta    | dod   |
//! | count      | raw      | delta    | dod   |
//! | zero count | raw      | delta    | dod   |
//! | sum        | raw f64  | xor      | xor   |
//! | buckets    | raw      | delta    | dod   |
//!
//! ("delta" is a delta-of-delta against zero, so samples 1 and later decode alike.)
//! All samples of a chunk share one bucket layout; when a new bucket appears the
//! chunk is rewritten with the wider layout, and a counter reset starts a new chunk.

use std::borrow::Cow;

use ember_model::histogram::{CounterResetHint, FloatHistogram, Histogram};
use ember_model::value::is_stale_nan;

use crate::bstream::{BitReader, BitWriter};
use crate::histogram_meta::{
    EXPONENTIAL_SCHEMA_MAX, HEADER_SIZE, Insert, Layout, ReadError, adjust_for_inserts,
    check_structure, counter_reset_hint, custom_bounds_match, expand_spans_and_buckets,
    expand_spans_both_ways, header, insert_deltas, needs_reduction, num_samples, read_first_layout,
    reduce_resolution, set_header, set_num_samples,
};
use crate::varbit::{put_varbit_int, put_varbit_uint, read_varbit_int, read_varbit_uint};
use crate::xor::{xor_read, xor_write};
use crate::{Appended, CounterResetHeader};
use crate::{Error, histogram_meta};

/// Encoder or decoder state after a sample: everything the next sample is coded
/// against. The appender and the iterator share it, which is how a chunk reopened
/// from bytes continues exactly as Prometheus's appender would.
#[derive(Clone, Debug)]
struct State {
    layout: Layout,
    t: i64,
    count: u64,
    zero_count: u64,
    // Signed, since gauge histograms go down as well as up.
    t_delta: i64,
    count_delta: i64,
    zero_count_delta: i64,
    /// The last sample's buckets, delta-encoded between buckets as in [`Histogram`].
    pos: Vec<i64>,
    neg: Vec<i64>,
    /// Per bucket, the change from the sample before.
    pos_delta: Vec<i64>,
    neg_delta: Vec<i64>,
    sum: f64,
    leading: u8,
    trailing: u8,
}

impl State {
    fn new(leading: u8) -> Self {
        State {
            layout: Layout::default(),
            t: i64::MIN,
            count: 0,
            zero_count: 0,
            t_delta: 0,
            count_delta: 0,
            zero_count_delta: 0,
            pos: Vec::new(),
            neg: Vec::new(),
            pos_delta: Vec::new(),
            neg_delta: Vec::new(),
            sum: 0.0,
            leading,
            trailing: 0,
        }
    }

    /// The last sample as a histogram (hint left unknown, no schema reduction).
    fn histogram(&self) -> Histogram {
        if is_stale_nan(self.sum) {
            return stale(self.sum);
        }
        Histogram {
            counter_reset_hint: CounterResetHint::Unknown,
            schema: self.layout.schema,
            zero_threshold: self.layout.zero_threshold,
            zero_count: self.zero_count,
            count: self.count,
            sum: self.sum,
            positive_spans: self.layout.positive_spans.clone(),
            negative_spans: self.layout.negative_spans.clone(),
            positive_buckets: self.pos.clone(),
            negative_buckets: self.neg.clone(),
            custom_values: self.layout.custom_values.clone(),
        }
    }
}

/// What Prometheus stores for a staleness marker: the sum and nothing else.
fn stale(sum: f64) -> Histogram {
    Histogram {
        sum,
        ..Histogram::default()
    }
}

/// The result of [`HistogramChunk::appendable`]: Prometheus's `appendable`.
#[derive(Debug, Default)]
struct Appendability {
    pos_forward: Vec<Insert>,
    neg_forward: Vec<Insert>,
    pos_backward: Vec<Insert>,
    neg_backward: Vec<Insert>,
    ok: bool,
    header: CounterResetHeader,
}

/// The result of [`HistogramChunk::appendable_gauge`].
#[derive(Debug, Default)]
struct GaugeAppendability {
    pos_forward: Vec<Insert>,
    neg_forward: Vec<Insert>,
    pos_backward: Vec<Insert>,
    neg_backward: Vec<Insert>,
    pos_spans: Vec<ember_model::histogram::Span>,
    neg_spans: Vec<ember_model::histogram::Span>,
    ok: bool,
}

/// Running sums of delta-encoded buckets.
fn absolute(deltas: &[i64]) -> impl Iterator<Item = i64> + '_ {
    deltas.iter().scan(0i64, |cur, d| {
        *cur = cur.wrapping_add(*d);
        Some(*cur)
    })
}

/// An integer native-histogram chunk being written or read.
#[derive(Clone, Debug)]
pub struct HistogramChunk {
    w: BitWriter,
    s: State,
}

impl Default for HistogramChunk {
    fn default() -> Self {
        Self::new()
    }
}

impl HistogramChunk {
    /// An empty chunk (counter-reset header unknown).
    pub fn new() -> Self {
        HistogramChunk {
            w: BitWriter::from_bytes(vec![0; HEADER_SIZE], 0),
            s: State::new(0xff),
        }
    }

    /// Reopens encoded chunk bytes for appending, replaying them to restore the
    /// encoder state as Prometheus's `Appender()` does. Bytes after the last
    /// sample are dropped.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut it = HistogramIterator::new(bytes)?;
        while it.advance() {}
        if let Some(e) = it.err {
            return Err(e);
        }
        if it.total == 0 {
            let mut c = Self::new();
            set_header(c.w.bytes_mut(), it.header);
            return Ok(c);
        }
        Ok(HistogramChunk {
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

    /// Whether the chunk is past the size-based part of Prometheus's cut rule: at
    /// least twice [`crate::TARGET_BYTES_PER_HISTOGRAM_CHUNK`] bytes and at least
    /// [`crate::MIN_SAMPLES_PER_HISTOGRAM_CHUNK`] samples (or no room in the sample count).
    /// [`Self::append`] cuts by this itself; the time-based part of the rule (the
    /// head's predicted chunk end) is the caller's.
    pub fn is_full(&self) -> bool {
        histogram_meta::is_full(self.w.bytes().len(), self.num_samples())
    }

    /// Iterates the samples.
    pub fn iter(&self) -> HistogramIterator<'_> {
        HistogramIterator::new(self.w.bytes()).unwrap_or_else(|_| HistogramIterator::empty())
    }

    /// Appends a sample with Prometheus's rules (`AppendHistogram`): in place, or by
    /// rewriting this chunk with a wider bucket layout, or by starting a new chunk
    /// (see [`Appended`]). A counter reset gives the new chunk the
    /// [`CounterResetHeader::CounterReset`] header; schema and zero-threshold changes
    /// give it `Unknown`; gauge histograms ([`CounterResetHint::Gauge`]) go into
    /// gauge chunks, which tolerate any change except of schema, zero threshold or
    /// custom bounds. A full chunk ([`Self::is_full`]) is cut with the header
    /// Prometheus computes from the previous chunk. Timestamps are not checked.
    ///
    /// Errors only for a malformed histogram (spans that do not account for its
    /// buckets, or a span after the first with a negative offset).
    pub fn append(&mut self, t: i64, h: &Histogram) -> Result<Appended<Self>, Error> {
        self.append_impl(None, t, h, false)
    }

    /// Like [`Self::append`], for the first sample of a chunk the caller cut after
    /// `prev` (for example by time): the header is then `NotCounterReset`,
    /// `CounterReset` or `Unknown` depending on how `h` follows `prev`, as
    /// Prometheus's head sets it. On a non-empty chunk `prev` is ignored.
    pub fn append_after(
        &mut self,
        prev: Option<&HistogramChunk>,
        t: i64,
        h: &Histogram,
    ) -> Result<Appended<Self>, Error> {
        self.append_impl(prev, t, h, false)
    }

    /// Appends only if neither a new chunk nor a rewrite of this one is needed
    /// (Prometheus's `appendOnly` mode, used when re-encoding a chunk); otherwise
    /// returns [`Error::NotAppendable`] with Prometheus's message and changes nothing.
    pub fn append_in_place(&mut self, t: i64, h: &Histogram) -> Result<(), Error> {
        self.append_impl(None, t, h, true).map(|_| ())
    }

    fn append_impl(
        &mut self,
        prev: Option<&HistogramChunk>,
        t: i64,
        h: &Histogram,
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
                        self.set_counter_reset_header(p.appendable(h).header);
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
        if !a.ok || a.header != CounterResetHeader::NotCounterReset {
            if append_only {
                return Err(Error::NotAppendable(
                    if a.header == CounterResetHeader::CounterReset {
                        "histogram counter reset"
                    } else {
                        "histogram schema change"
                    }
                    .into(),
                ));
            }
            return Ok(self.cut(a.header, t, h));
        }
        let mut h = Cow::Borrowed(h);
        if !a.pos_backward.is_empty() || !a.neg_backward.is_empty() {
            // The sample lacks empty buckets the chunk has: give it them.
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
                    "histogram layout change with {} positive and {} negative forwards inserts",
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
        h: &Histogram,
        append_only: bool,
    ) -> Result<Appended<Self>, Error> {
        let g = self.appendable_gauge(h);
        if !g.ok {
            if append_only {
                return Err(Error::NotAppendable("gauge histogram schema change".into()));
            }
            return Ok(self.cut(CounterResetHeader::Gauge, t, h));
        }
        let mut h = Cow::Borrowed(h);
        if !g.pos_backward.is_empty() || !g.neg_backward.is_empty() {
            if append_only {
                return Err(Error::NotAppendable(format!(
                    "gauge histogram layout change with {} positive and {} negative backwards inserts",
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
                    "gauge histogram layout change with {} positive and {} negative forwards inserts",
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

    /// A new chunk with `header`, starting with `h`.
    fn cut(&self, header: CounterResetHeader, t: i64, h: &Histogram) -> Appended<Self> {
        let mut c = Self::new();
        c.set_counter_reset_header(header);
        c.write_sample(t, h);
        Appended::NewChunk(Box::new(c))
    }

    /// Whether `h` may follow the chunk's last sample (Prometheus's `appendable`).
    fn appendable(&self, h: &Histogram) -> Appendability {
        let mut a = Appendability {
            header: CounterResetHeader::NotCounterReset,
            ..Appendability::default()
        };
        let s = &self.s;
        if self.num_samples() > 0 && self.counter_reset_header() == CounterResetHeader::Gauge {
            return a;
        }
        if h.counter_reset_hint == CounterResetHint::CounterReset {
            a.header = CounterResetHeader::CounterReset;
            return a;
        }
        if is_stale_nan(h.sum) {
            a.ok = true;
            return a;
        }
        // After a staleness marker only more markers fit.
        if is_stale_nan(s.sum) {
            a.header = CounterResetHeader::Unknown;
            return a;
        }
        if h.count < s.count {
            a.header = CounterResetHeader::CounterReset;
            return a;
        }
        // Prometheus does not look for resets across a resolution change.
        if h.schema != s.layout.schema || h.zero_threshold != s.layout.zero_threshold {
            a.header = CounterResetHeader::Unknown;
            return a;
        }
        if h.uses_custom_buckets()
            && !custom_bounds_match(&h.custom_values, &s.layout.custom_values)
        {
            a.header = CounterResetHeader::CounterReset;
            return a;
        }
        if h.zero_count < s.zero_count {
            a.header = CounterResetHeader::CounterReset;
            return a;
        }
        let Some((pf, pb)) = expand_spans_and_buckets(
            &s.layout.positive_spans,
            &h.positive_spans,
            absolute(&s.pos),
            absolute(&h.positive_buckets),
        ) else {
            a.header = CounterResetHeader::CounterReset;
            return a;
        };
        let Some((nf, nb)) = expand_spans_and_buckets(
            &s.layout.negative_spans,
            &h.negative_spans,
            absolute(&s.neg),
            absolute(&h.negative_buckets),
        ) else {
            a.header = CounterResetHeader::CounterReset;
            return a;
        };
        a.pos_forward = pf;
        a.pos_backward = pb;
        a.neg_forward = nf;
        a.neg_backward = nb;
        a.ok = true;
        a
    }

    /// Prometheus's `appendableGauge`: only layout changes that cannot be merged stop
    /// a gauge histogram from joining the chunk.
    fn appendable_gauge(&self, h: &Histogram) -> GaugeAppendability {
        let mut g = GaugeAppendability::default();
        let s = &self.s;
        if self.num_samples() > 0 && self.counter_reset_header() != CounterResetHeader::Gauge {
            return g;
        }
        if is_stale_nan(h.sum) {
            g.ok = true;
            return g;
        }
        if is_stale_nan(s.sum)
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

    /// Rewrites the chunk with buckets inserted into every sample, switches to the
    /// spans of `h` (which cover the widened layout) and appends `h`.
    fn recode_and_append(
        &mut self,
        pos_inserts: &[Insert],
        neg_inserts: &[Insert],
        t: i64,
        h: &Histogram,
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

    /// Guards the encoder's bucket indexing: `h` must have exactly the chunk's
    /// buckets. The appendability rules guarantee this; a failure means `h` was
    /// malformed in a way [`check_structure`] did not catch.
    fn check_fits(&self, h: &Histogram) -> Result<(), Error> {
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

    /// Encodes `h` after the last sample (Prometheus's `appendHistogram`); the
    /// caller has checked that it fits.
    fn write_sample(&mut self, t: i64, h: &Histogram) {
        let marker;
        let h = if is_stale_nan(h.sum) {
            // A marker keeps only its sum; as a first sample it gets an empty layout.
            marker = stale(h.sum);
            &marker
        } else {
            h
        };
        let n = self.num_samples();
        let w = &mut self.w;
        let s = &mut self.s;
        let (mut t_delta, mut count_delta, mut zero_count_delta) = (0, 0, 0);
        if n == 0 {
            s.layout = Layout {
                schema: h.schema,
                zero_threshold: h.zero_threshold,
                positive_spans: h.positive_spans.clone(),
                negative_spans: h.negative_spans.clone(),
                custom_values: h.custom_values.clone(),
            };
            s.layout.write(w);
            s.pos = vec![0; h.positive_buckets.len()];
            s.neg = vec![0; h.negative_buckets.len()];
            s.pos_delta = vec![0; h.positive_buckets.len()];
            s.neg_delta = vec![0; h.negative_buckets.len()];
            put_varbit_int(w, t);
            put_varbit_uint(w, h.count);
            put_varbit_uint(w, h.zero_count);
            w.write_bits(h.sum.to_bits(), 64);
            for b in h.positive_buckets.iter().chain(&h.negative_buckets) {
                put_varbit_int(w, *b);
            }
        } else {
            t_delta = t.wrapping_sub(s.t);
            count_delta = (h.count as i64).wrapping_sub(s.count as i64);
            zero_count_delta = (h.zero_count as i64).wrapping_sub(s.zero_count as i64);
            let mut count_dod = count_delta.wrapping_sub(s.count_delta);
            let mut zero_count_dod = zero_count_delta.wrapping_sub(s.zero_count_delta);
            if is_stale_nan(h.sum) {
                count_dod = 0;
                zero_count_dod = 0;
            }
            put_varbit_int(w, t_delta.wrapping_sub(s.t_delta));
            put_varbit_int(w, count_dod);
            put_varbit_int(w, zero_count_dod);
            xor_write(w, h.sum, s.sum, &mut s.leading, &mut s.trailing);
            for (new, (last, last_delta)) in h
                .positive_buckets
                .iter()
                .zip(s.pos.iter().zip(s.pos_delta.iter_mut()))
                .chain(
                    h.negative_buckets
                        .iter()
                        .zip(s.neg.iter().zip(s.neg_delta.iter_mut())),
                )
            {
                let delta = new.wrapping_sub(*last);
                put_varbit_int(w, delta.wrapping_sub(*last_delta));
                *last_delta = delta;
            }
        }
        s.t = t;
        s.count = h.count;
        s.zero_count = h.zero_count;
        s.t_delta = t_delta;
        s.count_delta = count_delta;
        s.zero_count_delta = zero_count_delta;
        for (d, v) in s.pos.iter_mut().zip(&h.positive_buckets) {
            *d = *v;
        }
        for (d, v) in s.neg.iter_mut().zip(&h.negative_buckets) {
            *d = *v;
        }
        s.sum = h.sum;
        set_num_samples(w.bytes_mut(), n.wrapping_add(1));
    }
}

/// Inserts empty buckets into `h` (whose spans already describe the result).
fn widen(h: &mut Histogram, pos: &[Insert], neg: &[Insert]) {
    if !pos.is_empty() {
        h.positive_buckets = insert_deltas(&h.positive_buckets, pos);
    }
    if !neg.is_empty() {
        h.negative_buckets = insert_deltas(&h.negative_buckets, neg);
    }
}

/// Decodes an integer histogram chunk.
#[derive(Clone, Debug)]
pub struct HistogramIterator<'a> {
    r: BitReader<'a>,
    total: u16,
    read: u16,
    header: CounterResetHeader,
    s: State,
    err: Option<Error>,
}

impl<'a> HistogramIterator<'a> {
    /// Iterates encoded chunk bytes (header included).
    pub fn new(bytes: &'a [u8]) -> Result<Self, Error> {
        if bytes.len() < HEADER_SIZE {
            return Err(Error::Corrupt(
                "histogram chunk shorter than its header".into(),
            ));
        }
        Ok(HistogramIterator {
            r: BitReader::new(&bytes[HEADER_SIZE..]),
            total: num_samples(bytes),
            read: 0,
            header: header(bytes),
            s: State::new(0),
            err: None,
        })
    }

    fn empty() -> Self {
        HistogramIterator {
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
                self.err = Some(e.into_error("histogram", self.read, self.total));
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
            s.count = read_varbit_uint(r)?;
            s.zero_count = read_varbit_uint(r)?;
            s.sum = f64::from_bits(r.read_bits(64)?);
            s.pos = Vec::with_capacity(np);
            for _ in 0..np {
                s.pos.push(read_varbit_int(r)?);
            }
            s.neg = Vec::with_capacity(nn);
            for _ in 0..nn {
                s.neg.push(read_varbit_int(r)?);
            }
            s.pos_delta = vec![0; np];
            s.neg_delta = vec![0; nn];
            return Ok(());
        }
        s.t_delta = s.t_delta.wrapping_add(read_varbit_int(r)?);
        s.t = s.t.wrapping_add(s.t_delta);
        s.count_delta = s.count_delta.wrapping_add(read_varbit_int(r)?);
        s.count = (s.count as i64).wrapping_add(s.count_delta) as u64;
        s.zero_count_delta = s.zero_count_delta.wrapping_add(read_varbit_int(r)?);
        s.zero_count = (s.zero_count as i64).wrapping_add(s.zero_count_delta) as u64;
        xor_read(r, &mut s.sum, &mut s.leading, &mut s.trailing)?;
        if is_stale_nan(s.sum) {
            return Ok(());
        }
        for (b, d) in s
            .pos
            .iter_mut()
            .zip(s.pos_delta.iter_mut())
            .chain(s.neg.iter_mut().zip(s.neg_delta.iter_mut()))
        {
            *d = d.wrapping_add(read_varbit_int(r)?);
            *b = b.wrapping_add(*d);
        }
        Ok(())
    }

    /// The current sample's timestamp.
    pub fn at_t(&self) -> i64 {
        self.s.t
    }

    /// Fills `h` with the current sample (reusing its allocations) and returns the
    /// timestamp. The hint is `Gauge` in gauge chunks, `NotCounterReset` after the
    /// first sample and `Unknown` for the first, as Prometheus reports it. A
    /// staleness marker comes back as a default histogram with the marker sum.
    pub fn at_histogram(&self, h: &mut Histogram) -> i64 {
        let s = &self.s;
        if is_stale_nan(s.sum) {
            clear_histogram(h);
            h.sum = s.sum;
            return s.t;
        }
        h.counter_reset_hint = counter_reset_hint(self.header, self.read);
        h.schema = s.layout.schema;
        h.zero_threshold = s.layout.zero_threshold;
        h.zero_count = s.zero_count;
        h.count = s.count;
        h.sum = s.sum;
        h.positive_spans.clone_from(&s.layout.positive_spans);
        h.negative_spans.clone_from(&s.layout.negative_spans);
        h.positive_buckets.clone_from(&s.pos);
        h.negative_buckets.clone_from(&s.neg);
        h.custom_values.clone_from(&s.layout.custom_values);
        if needs_reduction(h.schema) {
            (h.positive_spans, h.positive_buckets) = reduce_resolution(
                &h.positive_spans,
                &h.positive_buckets,
                h.schema,
                EXPONENTIAL_SCHEMA_MAX,
                true,
            );
            (h.negative_spans, h.negative_buckets) = reduce_resolution(
                &h.negative_spans,
                &h.negative_buckets,
                h.schema,
                EXPONENTIAL_SCHEMA_MAX,
                true,
            );
            h.schema = EXPONENTIAL_SCHEMA_MAX;
        }
        s.t
    }

    /// Fills `h` with the current sample converted to float counts (see
    /// [`Self::at_histogram`]) and returns the timestamp.
    pub fn at_float_histogram(&self, h: &mut FloatHistogram) -> i64 {
        let s = &self.s;
        if is_stale_nan(s.sum) {
            crate::float_histogram::clear_float_histogram(h);
            h.sum = s.sum;
            return s.t;
        }
        h.counter_reset_hint = counter_reset_hint(self.header, self.read);
        h.schema = s.layout.schema;
        h.zero_threshold = s.layout.zero_threshold;
        h.zero_count = s.zero_count as f64;
        h.count = s.count as f64;
        h.sum = s.sum;
        h.positive_spans.clone_from(&s.layout.positive_spans);
        h.negative_spans.clone_from(&s.layout.negative_spans);
        h.positive_buckets.clear();
        h.positive_buckets
            .extend(absolute(&s.pos).map(|c| c as f64));
        h.negative_buckets.clear();
        h.negative_buckets
            .extend(absolute(&s.neg).map(|c| c as f64));
        h.custom_values.clone_from(&s.layout.custom_values);
        if needs_reduction(h.schema) {
            crate::float_histogram::reduce_float(h);
        }
        s.t
    }

    /// The corruption that stopped iteration, if any.
    pub fn err(&self) -> Option<&Error> {
        self.err.as_ref()
    }
}

/// Resets `h` to the default histogram, keeping its allocations.
fn clear_histogram(h: &mut Histogram) {
    h.counter_reset_hint = CounterResetHint::Unknown;
    h.schema = 0;
    h.zero_threshold = 0.0;
    h.zero_count = 0;
    h.count = 0;
    h.sum = 0.0;
    h.positive_spans.clear();
    h.negative_spans.clear();
    h.positive_buckets.clear();
    h.negative_buckets.clear();
    h.custom_values.clear();
}

#[cfg(test)]
#[path = "histogram_tests.rs"]
mod tests;
