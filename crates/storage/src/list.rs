//! Series held in plain vectors, and an in-memory storage built from them.
//!
//! For tests (the PromQL test runner loads its data here) and for small adapters
//! (remote-read results, federation); the TSDB is the real storage.

use crate::{
    Appendable, Appender, BoxSeries, Error, HistogramRef, LabelHints, LabelQuerier, Querier,
    Queryable, SampleIterator, SelectHints, Series, SeriesRef, SeriesSet, Timestamp, ValueType,
};
use ember_model::histogram::{FloatHistogram, Histogram};
use ember_model::value::{Exemplar, Metadata};
use ember_model::{Labels, Matcher};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

/// One stored value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Float sample.
    Float(f64),
    /// Integer histogram.
    Histogram(Arc<Histogram>),
    /// Float histogram.
    FloatHistogram(Arc<FloatHistogram>),
}

impl Value {
    fn value_type(&self) -> ValueType {
        match self {
            Value::Float(_) => ValueType::Float,
            Value::Histogram(_) => ValueType::Histogram,
            Value::FloatHistogram(_) => ValueType::FloatHistogram,
        }
    }
}

/// A series whose samples are a sorted vector.
#[derive(Clone, Debug, PartialEq)]
pub struct ListSeries {
    /// Labels.
    pub labels: Labels,
    /// Samples in increasing timestamp order.
    pub samples: Vec<(Timestamp, Value)>,
}

impl Series for ListSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }
    fn iter(&self) -> Box<dyn SampleIterator + '_> {
        Box::new(ListIterator {
            samples: &self.samples,
            pos: None,
        })
    }
}

/// Iterates a slice of samples.
#[derive(Debug)]
pub struct ListIterator<'a> {
    samples: &'a [(Timestamp, Value)],
    /// `None` before the first move.
    pos: Option<usize>,
}

impl<'a> ListIterator<'a> {
    /// Iterates `samples`, which must be sorted by timestamp.
    pub fn new(samples: &'a [(Timestamp, Value)]) -> Self {
        ListIterator { samples, pos: None }
    }

    fn cur(&self) -> Option<&'a (Timestamp, Value)> {
        self.samples.get(self.pos?)
    }
}

impl SampleIterator for ListIterator<'_> {
    fn next(&mut self) -> ValueType {
        let p = self.pos.map_or(0, |p| p + 1).min(self.samples.len());
        self.pos = Some(p);
        self.cur().map_or(ValueType::None, |s| s.1.value_type())
    }
    fn seek(&mut self, t: Timestamp) -> ValueType {
        let from = self.pos.unwrap_or(0).min(self.samples.len());
        let rel = self.samples[from..].partition_point(|s| s.0 < t);
        self.pos = Some(from + rel);
        self.cur().map_or(ValueType::None, |s| s.1.value_type())
    }
    fn at(&self) -> (Timestamp, f64) {
        match self.cur() {
            Some((t, Value::Float(v))) => (*t, *v),
            Some((t, _)) => (*t, f64::NAN),
            None => (i64::MIN, f64::NAN),
        }
    }
    fn at_histogram(&self, into: &mut Histogram) -> Timestamp {
        match self.cur() {
            Some((t, Value::Histogram(h))) => {
                into.clone_from(h);
                *t
            }
            Some((t, _)) => *t,
            None => i64::MIN,
        }
    }
    fn at_float_histogram(&self, into: &mut FloatHistogram) -> Timestamp {
        match self.cur() {
            Some((t, Value::Histogram(h))) => {
                *into = h.to_float();
                *t
            }
            Some((t, Value::FloatHistogram(h))) => {
                into.clone_from(h);
                *t
            }
            Some((t, _)) => *t,
            None => i64::MIN,
        }
    }
    fn at_t(&self) -> Timestamp {
        self.cur().map_or(i64::MIN, |s| s.0)
    }
}

/// Whether `labels` satisfies every matcher (an absent label reads as `""`).
pub fn matches_all(labels: &Labels, matchers: &[Matcher]) -> bool {
    matchers
        .iter()
        .all(|m| m.matches(labels.get_or_empty(&m.name)))
}

/// A simple in-memory storage: appends are buffered per transaction and applied at
/// commit, with the same ordering rules as the TSDB (out-of-order and duplicate
/// samples rejected). Not indexed: selects scan every series.
#[derive(Debug, Default)]
pub struct MemStorage {
    series: RwLock<BTreeMap<Labels, Vec<(Timestamp, Value)>>>,
}

impl MemStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of series held.
    pub fn series_count(&self) -> usize {
        self.series.read().map(|s| s.len()).unwrap_or(0)
    }
}

struct MemAppender<'a> {
    store: &'a MemStorage,
    pending: Vec<(Labels, Timestamp, Value)>,
    last: std::collections::HashMap<Labels, (Timestamp, Value)>,
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

impl MemAppender<'_> {
    /// Applies the TSDB's ordering rules against committed and pending samples.
    fn push(&mut self, labels: &Labels, t: Timestamp, v: Value) -> Result<SeriesRef, Error> {
        check_labels(labels)?;
        let committed = || {
            self.store
                .series
                .read()
                .ok()
                .and_then(|m| m.get(labels).and_then(|s| s.last().cloned()))
        };
        let last = self.last.get(labels).cloned().or_else(committed);
        match last {
            Some((lt, _)) if lt > t => return Err(Error::OutOfOrderSample),
            Some((lt, lv)) if lt == t => {
                return if same(&lv, &v) {
                    Ok(labels.hash64().max(1))
                } else {
                    Err(Error::DuplicateSampleForTimestamp)
                };
            }
            _ => {}
        }
        self.last.insert(labels.clone(), (t, v.clone()));
        self.pending.push((labels.clone(), t, v));
        Ok(labels.hash64().max(1))
    }
}

fn check_labels(l: &Labels) -> Result<(), Error> {
    if l.is_empty() {
        return Err(Error::InvalidSample("empty labelset".into()));
    }
    Ok(())
}

impl Appender for MemAppender<'_> {
    fn append(
        &mut self,
        _r: Option<SeriesRef>,
        labels: &Labels,
        t: Timestamp,
        v: f64,
    ) -> Result<SeriesRef, Error> {
        self.push(labels, t, Value::Float(v))
    }
    fn append_histogram(
        &mut self,
        _r: Option<SeriesRef>,
        labels: &Labels,
        t: Timestamp,
        h: HistogramRef<'_>,
    ) -> Result<SeriesRef, Error> {
        let v = match h {
            HistogramRef::Int(h) => {
                h.validate().map_err(Error::InvalidSample)?;
                Value::Histogram(Arc::new(h.clone()))
            }
            HistogramRef::Float(h) => Value::FloatHistogram(Arc::new(h.clone())),
        };
        self.push(labels, t, v)
    }
    fn append_exemplar(
        &mut self,
        _r: Option<SeriesRef>,
        labels: &Labels,
        _e: &Exemplar,
    ) -> Result<SeriesRef, Error> {
        Ok(labels.hash64().max(1))
    }
    fn update_metadata(
        &mut self,
        _r: Option<SeriesRef>,
        labels: &Labels,
        _m: &Metadata,
    ) -> Result<SeriesRef, Error> {
        Ok(labels.hash64().max(1))
    }
    fn commit(self: Box<Self>) -> Result<(), Error> {
        let mut map = self
            .store
            .series
            .write()
            .map_err(|_| Error::Io("lock poisoned".into()))?;
        for (l, t, v) in self.pending {
            let s = map.entry(l).or_default();
            // Another appender may have committed later samples meanwhile.
            if s.last().is_none_or(|(lt, _)| *lt < t) {
                s.push((t, v));
            }
        }
        Ok(())
    }
    fn rollback(self: Box<Self>) -> Result<(), Error> {
        Ok(())
    }
}

impl Appendable for MemStorage {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(MemAppender {
            store: self,
            pending: Vec::new(),
            last: Default::default(),
        })
    }
}

/// A querier over a snapshot of list series.
#[derive(Debug)]
pub struct ListQuerier {
    series: Vec<ListSeries>,
}

impl ListQuerier {
    /// Serves `series` (any order; they are sorted by labels here).
    pub fn new(mut series: Vec<ListSeries>) -> Self {
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        ListQuerier { series }
    }
}

impl LabelQuerier for ListQuerier {
    fn label_values(
        &self,
        name: &str,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, Error> {
        let set: BTreeSet<&str> = self
            .series
            .iter()
            .filter(|s| matches_all(&s.labels, matchers))
            .filter_map(|s| s.labels.get(name))
            .collect();
        Ok(limit(
            set.into_iter().map(str::to_string).collect(),
            hints.limit,
        ))
    }
    fn label_names(&self, hints: &LabelHints, matchers: &[Matcher]) -> Result<Vec<String>, Error> {
        let set: BTreeSet<&str> = self
            .series
            .iter()
            .filter(|s| matches_all(&s.labels, matchers))
            .flat_map(|s| s.labels.iter().map(|l| l.name.as_str()))
            .collect();
        Ok(limit(
            set.into_iter().map(str::to_string).collect(),
            hints.limit,
        ))
    }
}

fn limit(mut v: Vec<String>, n: usize) -> Vec<String> {
    if n > 0 {
        v.truncate(n);
    }
    v
}

impl Querier for ListQuerier {
    fn select(
        &self,
        _sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> SeriesSet<'_> {
        let lim = hints.map_or(0, |h| h.limit);
        let it = self
            .series
            .iter()
            .filter(move |s| matches_all(&s.labels, matchers))
            .take(if lim == 0 { usize::MAX } else { lim })
            .map(|s| Ok(Box::new(s.clone()) as BoxSeries<'_>));
        let v: Vec<_> = it.collect();
        SeriesSet::new(v.into_iter())
    }
}

impl Queryable for MemStorage {
    fn querier(&self, mint: Timestamp, maxt: Timestamp) -> Result<Box<dyn Querier + '_>, Error> {
        let map = self
            .series
            .read()
            .map_err(|_| Error::Io("lock poisoned".into()))?;
        let series = map
            .iter()
            .filter_map(|(l, s)| {
                let lo = s.partition_point(|x| x.0 < mint);
                let hi = s.partition_point(|x| x.0 <= maxt);
                (lo < hi).then(|| ListSeries {
                    labels: l.clone(),
                    samples: s[lo..hi].to_vec(),
                })
            })
            .collect();
        Ok(Box::new(ListQuerier::new(series)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_model::MatchType;

    #[test]
    fn append_commit_query() {
        let st = MemStorage::new();
        let l = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let mut app = st.appender();
        app.append(None, &l, 10, 1.0).unwrap();
        app.append(None, &l, 20, 2.0).unwrap();
        assert_eq!(app.append(None, &l, 15, 9.0), Err(Error::OutOfOrderSample));
        assert_eq!(
            app.append(None, &l, 20, 9.0),
            Err(Error::DuplicateSampleForTimestamp)
        );
        assert!(app.append(None, &l, 20, 2.0).is_ok());
        assert!(app.append(None, &Labels::empty(), 1, 1.0).is_err());
        app.commit().unwrap();
        let mut app = st.appender();
        app.append(None, &l, 30, 3.0).unwrap();
        app.rollback().unwrap();

        let q = st.querier(0, 100).unwrap();
        let m = Matcher::new(MatchType::Equal, "job", "a").unwrap();
        let set: Vec<_> = q
            .select(true, None, &[m])
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(set.len(), 1);
        let mut it = set[0].iter();
        assert_eq!(it.next(), ValueType::Float);
        assert_eq!(it.at(), (10, 1.0));
        assert_eq!(it.seek(11), ValueType::Float);
        assert_eq!(it.at(), (20, 2.0));
        assert_eq!(it.seek(5), ValueType::Float);
        assert_eq!(it.at_t(), 20);
        assert_eq!(it.next(), ValueType::None);
        assert_eq!(
            q.label_values("job", &LabelHints::default(), &[]).unwrap(),
            vec!["a"]
        );
        assert_eq!(
            q.label_names(&LabelHints::default(), &[]).unwrap(),
            vec!["__name__", "job"]
        );
    }
}
