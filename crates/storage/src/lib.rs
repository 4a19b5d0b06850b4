//! The storage seam: the traits through which everything that writes samples
//! (scrape, rules, remote-write receiver) and everything that reads them (the PromQL
//! engine, federation, remote read) meets the TSDB — or any other backend.
//!
//! No storage code lives here, only contracts (in the doc comments, as Prometheus's
//! `storage/interface.go` keeps them), the shared error type, a list-backed series for
//! tests and small adapters, and the merging of several queriers into one ([`merge`]),
//! which is what lets the engine run unchanged over the head, blocks, a fan-out of
//! both, or remote read.
//!
//! Iteration is pull-based and allocation-aware: a [`SampleIterator`] reports what
//! kind of value it stands on and the caller fetches it, decoding histograms into
//! buffers it owns, because this is the innermost loop of every query.

mod error;
pub mod list;
pub mod merge;

use ember_model::histogram::{FloatHistogram, Histogram};
use ember_model::value::{Exemplar, Metadata};
use ember_model::{Labels, Matcher};
pub use error::Error;

/// A reference to a series inside one storage, returned by appends so that the next
/// append of the same series skips the label lookup. Only meaningful to the storage
/// that issued it; `0` is never issued.
pub type SeriesRef = u64;

/// Milliseconds since the Unix epoch, as everywhere in Prometheus.
pub type Timestamp = i64;

/// A histogram value to append: integer (as scraped) or float (as computed by rules).
#[derive(Clone, Copy, Debug)]
pub enum HistogramRef<'a> {
    /// Integer histogram.
    Int(&'a Histogram),
    /// Float histogram.
    Float(&'a FloatHistogram),
}

/// Something that hands out [`Appender`]s.
pub trait Appendable: Send + Sync {
    /// A new appender. Appenders are cheap; use one per scrape or rule evaluation.
    fn appender(&self) -> Box<dyn Appender + '_>;
}

/// A transaction of appends.
///
/// Samples become visible to queriers only at [`Appender::commit`]; on
/// [`Appender::rollback`] (or when an error makes the caller give up) none of them do.
/// A scrape therefore appends a whole payload and commits once, so that a malformed
/// scrape leaves nothing behind.
///
/// Every append takes an optional [`SeriesRef`] from an earlier append to this
/// storage; when it is `Some` and still valid the labels may be ignored. Labels must be
/// sorted and unique (a [`Labels`] always is) and must not be empty.
///
/// Errors are per sample and leave the transaction usable: the caller counts them
/// (out of order, duplicates…) and carries on with the next sample.
pub trait Appender: Send {
    /// Appends a float sample.
    ///
    /// # Errors
    /// [`Error::OutOfOrderSample`] when `t` is before the series' latest sample and
    /// outside the out-of-order window; [`Error::OutOfBounds`] when `t` is before what
    /// the storage accepts; [`Error::TooOldSample`] when out-of-order is enabled but `t`
    /// is older than the window; [`Error::DuplicateSampleForTimestamp`] when `t` equals
    /// the latest timestamp with a different value (the same value is a no-op).
    fn append(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        t: Timestamp,
        v: f64,
    ) -> Result<SeriesRef, Error>;

    /// Appends a native histogram sample; same errors as [`Appender::append`], plus
    /// [`Error::InvalidSample`] for an inconsistent histogram and
    /// [`Error::NativeHistogramsDisabled`].
    fn append_histogram(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        t: Timestamp,
        h: HistogramRef<'_>,
    ) -> Result<SeriesRef, Error>;

    /// Attaches an exemplar to the series. Exemplars are kept apart from samples and
    /// are best-effort: [`Error::OutOfOrderExemplar`] and [`Error::DuplicateExemplar`]
    /// are expected and should only be counted; a storage that keeps no exemplars
    /// accepts and drops them.
    ///
    /// An exemplar without a timestamp (`e.ts == None`, as most expositions write
    /// them) is stamped with the timestamp of the sample last appended to the series
    /// in this transaction — the scrape's — and, as in Prometheus, compares equal to
    /// an earlier exemplar with the same labels and value whatever their timestamps,
    /// so that an exemplar exposed unchanged over many scrapes is stored once. Call it
    /// after appending the series' sample.
    fn append_exemplar(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        e: &Exemplar,
    ) -> Result<SeriesRef, Error>;

    /// Records the series' metadata (type, unit, help) when it changed.
    fn update_metadata(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        m: &Metadata,
    ) -> Result<SeriesRef, Error>;

    /// Makes all appends of this transaction durable (as durable as the storage is)
    /// and visible.
    fn commit(self: Box<Self>) -> Result<(), Error>;

    /// Discards all appends of this transaction.
    fn rollback(self: Box<Self>) -> Result<(), Error>;
}

/// Options a caller may pass to [`Querier::select`]; implementations may ignore them,
/// except that they must not return fewer series or samples than asked for.
#[derive(Clone, Debug, Default)]
pub struct SelectHints {
    /// Start of the data needed, in ms (inclusive).
    pub start: Timestamp,
    /// End of the data needed, in ms (inclusive).
    pub end: Timestamp,
    /// Query step in ms; 0 for an instant query.
    pub step: i64,
    /// The function or aggregation around the selector, e.g. `rate`; `series` when
    /// only labels are wanted (the samples may then be omitted).
    pub func: String,
    /// Aggregation grouping labels.
    pub grouping: Vec<String>,
    /// Whether `grouping` is `by` (true) or `without`.
    pub by: bool,
    /// Range of a range selector in ms.
    pub range: i64,
    /// At most this many series; 0 for no limit.
    pub limit: usize,
}

/// Options for label-name and label-value lookups.
#[derive(Clone, Debug, Default)]
pub struct LabelHints {
    /// At most this many results; 0 for no limit.
    pub limit: usize,
}

/// Something that opens [`Querier`]s over a time range.
pub trait Queryable: Send + Sync {
    /// A querier over `[mint, maxt]` (inclusive, ms). Its methods consider only data in
    /// that range; samples outside it may still be returned by iterators, and callers
    /// must bound their reads.
    fn querier(&self, mint: Timestamp, maxt: Timestamp) -> Result<Box<dyn Querier + '_>, Error>;
}

/// Reads label names and values.
pub trait LabelQuerier {
    /// Values of label `name`, sorted, deduplicated, without the empty value. With
    /// matchers, only values of series that match them all.
    fn label_values(
        &self,
        name: &str,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, Error>;

    /// Label names present, sorted. With matchers, only names of matching series.
    fn label_names(&self, hints: &LabelHints, matchers: &[Matcher]) -> Result<Vec<String>, Error>;
}

/// Reads series over a fixed time range.
pub trait Querier: LabelQuerier + Send + Sync {
    /// The series matching all `matchers`. At least one matcher is given, and
    /// implementations may reject a set of matchers that all match the empty string.
    ///
    /// With `sorted`, series come in label order (required for merging); without it
    /// the order is the implementation's. Each series appears once.
    fn select(
        &self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> SeriesSet<'_>;
}

/// The exemplars of one series that an exemplar query found, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct ExemplarSeries {
    /// The labels of the series the exemplars are attached to.
    pub series_labels: Labels,
    /// The exemplars, in time order; each has its timestamp set.
    pub exemplars: Vec<Exemplar>,
}

/// Reads exemplars (Prometheus's `ExemplarQueryable` and `ExemplarQuerier` in one:
/// exemplars live in memory only, so there is nothing to open per query).
pub trait ExemplarQueryable: Send + Sync {
    /// The exemplars with timestamps in `[start, end]` (ms, inclusive) of the series
    /// that match all matchers of at least one of `matcher_sets`, sorted by series
    /// labels. No matcher set selects nothing. A storage without exemplars answers
    /// an empty list.
    fn select_exemplars(
        &self,
        start: Timestamp,
        end: Timestamp,
        matcher_sets: &[Vec<Matcher>],
    ) -> Result<Vec<ExemplarSeries>, Error>;
}

/// One series: its labels and a way to iterate its samples in time order.
pub trait Series: Send {
    /// The series' labels.
    fn labels(&self) -> &Labels;
    /// A fresh iterator positioned before the first sample.
    fn iter(&self) -> Box<dyn SampleIterator + '_>;
}

/// A boxed series borrowed from a querier.
pub type BoxSeries<'a> = Box<dyn Series + 'a>;

/// The series a select returned, plus warnings (e.g. a remote that did not answer in a
/// fan-out, which still yields the other results).
pub struct SeriesSet<'a> {
    iter: Box<dyn Iterator<Item = Result<BoxSeries<'a>, Error>> + 'a>,
    /// Non-fatal problems met while selecting.
    pub warnings: Vec<String>,
}

impl<'a> SeriesSet<'a> {
    /// Wraps an iterator of series.
    pub fn new(iter: impl Iterator<Item = Result<BoxSeries<'a>, Error>> + 'a) -> Self {
        SeriesSet {
            iter: Box::new(iter),
            warnings: Vec::new(),
        }
    }

    /// The empty set.
    pub fn empty() -> Self {
        SeriesSet::new(std::iter::empty())
    }

    /// A set that fails with `e`.
    pub fn error(e: Error) -> Self {
        SeriesSet::new(std::iter::once(Err(e)))
    }
}

impl<'a> Iterator for SeriesSet<'a> {
    type Item = Result<BoxSeries<'a>, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        self.iter.next()
    }
}

/// What a [`SampleIterator`] stands on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// Exhausted (or failed: see [`SampleIterator::err`]).
    None,
    /// A float sample; read it with [`SampleIterator::at`].
    Float,
    /// An integer histogram; read it with [`SampleIterator::at_histogram`] or
    /// [`SampleIterator::at_float_histogram`].
    Histogram,
    /// A float histogram; read it with [`SampleIterator::at_float_histogram`].
    FloatHistogram,
}

/// Iterates a series' samples in increasing timestamp order, each timestamp once.
///
/// Before the first `next`/`seek` the iterator stands on nothing. The `at*` methods
/// may only be called for the value type the last move returned.
pub trait SampleIterator {
    /// Moves to the next sample.
    fn next(&mut self) -> ValueType;

    /// Moves to the first sample with timestamp `>= t`; stays put if the current
    /// sample already qualifies. Never moves backwards.
    fn seek(&mut self, t: Timestamp) -> ValueType;

    /// The current float sample.
    fn at(&self) -> (Timestamp, f64);

    /// Decodes the current integer histogram into `into`, returning its timestamp.
    fn at_histogram(&self, into: &mut Histogram) -> Timestamp;

    /// Decodes the current histogram (integer ones converted) into `into`.
    fn at_float_histogram(&self, into: &mut FloatHistogram) -> Timestamp;

    /// The current timestamp, whatever the value type.
    fn at_t(&self) -> Timestamp;

    /// The error that ended iteration, if any.
    fn err(&self) -> Option<&Error> {
        None
    }
}
