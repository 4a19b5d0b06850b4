//! Merging several queriers into one: series with equal labels from different
//! sources become one series whose samples interleave by timestamp, each timestamp
//! once (the first source wins). This is how the head and the blocks, or local and
//! remote-read data, are queried as one.

use crate::{
    BoxSeries, Error, LabelHints, LabelQuerier, Querier, SampleIterator, SelectHints, Series,
    SeriesSet, Timestamp, ValueType,
};
use ember_model::histogram::{FloatHistogram, Histogram};
use ember_model::{Labels, Matcher};
use std::collections::BTreeSet;
use std::iter::Peekable;

/// Several queriers answering as one.
pub struct MergeQuerier<'a> {
    queriers: Vec<Box<dyn Querier + 'a>>,
}

impl<'a> MergeQuerier<'a> {
    /// Merges `queriers`; with a single querier, it is used as is.
    pub fn new(queriers: Vec<Box<dyn Querier + 'a>>) -> Self {
        MergeQuerier { queriers }
    }
}

fn union(
    lists: impl Iterator<Item = Result<Vec<String>, Error>>,
    limit: usize,
) -> Result<Vec<String>, Error> {
    let mut set = BTreeSet::new();
    for l in lists {
        set.extend(l?);
    }
    let mut v: Vec<String> = set.into_iter().collect();
    if limit > 0 {
        v.truncate(limit);
    }
    Ok(v)
}

impl LabelQuerier for MergeQuerier<'_> {
    fn label_values(
        &self,
        name: &str,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, Error> {
        union(
            self.queriers
                .iter()
                .map(|q| q.label_values(name, hints, matchers)),
            hints.limit,
        )
    }
    fn label_names(&self, hints: &LabelHints, matchers: &[Matcher]) -> Result<Vec<String>, Error> {
        union(
            self.queriers.iter().map(|q| q.label_names(hints, matchers)),
            hints.limit,
        )
    }
}

impl Querier for MergeQuerier<'_> {
    fn select(
        &self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> SeriesSet<'_> {
        if self.queriers.len() == 1 {
            return self.queriers[0].select(sorted, hints, matchers);
        }
        // Merging needs every input sorted, whatever the caller asked for.
        merge_sets(
            self.queriers
                .iter()
                .map(|q| q.select(true, hints, matchers))
                .collect(),
        )
    }
}

/// Merges series sets that are each sorted by labels into one sorted set; series with
/// equal labels are chained.
pub fn merge_sets(sets: Vec<SeriesSet<'_>>) -> SeriesSet<'_> {
    let mut warnings = Vec::new();
    let mut peekable = Vec::with_capacity(sets.len());
    for mut s in sets {
        warnings.append(&mut s.warnings);
        peekable.push(s.peekable());
    }
    let mut out = if peekable.len() == 1 {
        peekable
            .pop()
            .map(SeriesSet::new)
            .unwrap_or_else(SeriesSet::empty)
    } else {
        SeriesSet::new(MergeSets { sets: peekable })
    };
    out.warnings = warnings;
    out
}

/// k-way merge of sorted series sets; k is small (head + blocks, or a few remotes),
/// so a linear scan for the minimum beats a heap.
struct MergeSets<'a> {
    sets: Vec<Peekable<SeriesSet<'a>>>,
}

impl<'a> Iterator for MergeSets<'a> {
    type Item = Result<BoxSeries<'a>, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        let mut min: Option<Labels> = None;
        for s in &mut self.sets {
            match s.peek() {
                Some(Err(_)) => return s.next(),
                Some(Ok(series)) if min.as_ref().is_none_or(|m| series.labels() < m) => {
                    min = Some(series.labels().clone());
                }
                _ => {}
            }
        }
        let min = min?;
        let mut parts = Vec::new();
        for s in &mut self.sets {
            if matches!(s.peek(), Some(Ok(series)) if series.labels() == &min)
                && let Some(Ok(series)) = s.next()
            {
                parts.push(series);
            }
        }
        if parts.len() == 1 {
            return parts.pop().map(Ok);
        }
        Some(Ok(Box::new(ChainSeries { labels: min, parts })))
    }
}

/// Several series with the same labels read as one.
pub struct ChainSeries<'a> {
    labels: Labels,
    parts: Vec<BoxSeries<'a>>,
}

impl<'a> ChainSeries<'a> {
    /// Chains `parts`, which must all carry `labels`.
    pub fn new(labels: Labels, parts: Vec<BoxSeries<'a>>) -> Self {
        ChainSeries { labels, parts }
    }
}

impl Series for ChainSeries<'_> {
    fn labels(&self) -> &Labels {
        &self.labels
    }
    fn iter(&self) -> Box<dyn SampleIterator + '_> {
        let its: Vec<_> = self.parts.iter().map(|p| p.iter()).collect();
        let n = its.len();
        Box::new(ChainIterator {
            its,
            state: vec![ValueType::None; n],
            cur: None,
            started: false,
        })
    }
}

/// Interleaves iterators by timestamp; on equal timestamps the earliest input wins and
/// the others are skipped.
pub struct ChainIterator<'a> {
    its: Vec<Box<dyn SampleIterator + 'a>>,
    state: Vec<ValueType>,
    cur: Option<usize>,
    started: bool,
}

impl<'a> ChainIterator<'a> {
    /// Chains `its`.
    pub fn new(its: Vec<Box<dyn SampleIterator + 'a>>) -> Self {
        let n = its.len();
        ChainIterator {
            its,
            state: vec![ValueType::None; n],
            cur: None,
            started: false,
        }
    }

    fn pick(&mut self) -> ValueType {
        let mut best: Option<(Timestamp, usize)> = None;
        for (i, st) in self.state.iter().enumerate() {
            if *st == ValueType::None {
                continue;
            }
            let t = self.its[i].at_t();
            if best.is_none_or(|(bt, _)| t < bt) {
                best = Some((t, i));
            }
        }
        self.cur = best.map(|b| b.1);
        self.cur.map_or(ValueType::None, |i| self.state[i])
    }
}

impl SampleIterator for ChainIterator<'_> {
    fn next(&mut self) -> ValueType {
        if !self.started {
            self.started = true;
            for (i, it) in self.its.iter_mut().enumerate() {
                self.state[i] = it.next();
            }
        } else if let Some(c) = self.cur {
            let t = self.its[c].at_t();
            for (i, it) in self.its.iter_mut().enumerate() {
                if self.state[i] != ValueType::None && it.at_t() == t {
                    self.state[i] = it.next();
                }
            }
        } else {
            return ValueType::None;
        }
        self.pick()
    }

    fn seek(&mut self, t: Timestamp) -> ValueType {
        if let Some(c) = self.cur
            && self.its[c].at_t() >= t
        {
            return self.state[c];
        }
        let fresh = !self.started;
        self.started = true;
        for (i, it) in self.its.iter_mut().enumerate() {
            if fresh || self.state[i] != ValueType::None {
                self.state[i] = it.seek(t);
            }
        }
        self.pick()
    }

    fn at(&self) -> (Timestamp, f64) {
        self.cur.map_or((i64::MIN, f64::NAN), |c| self.its[c].at())
    }
    fn at_histogram(&self, into: &mut Histogram) -> Timestamp {
        self.cur
            .map_or(i64::MIN, |c| self.its[c].at_histogram(into))
    }
    fn at_float_histogram(&self, into: &mut FloatHistogram) -> Timestamp {
        self.cur
            .map_or(i64::MIN, |c| self.its[c].at_float_histogram(into))
    }
    fn at_t(&self) -> Timestamp {
        self.cur.map_or(i64::MIN, |c| self.its[c].at_t())
    }
    fn err(&self) -> Option<&Error> {
        self.its.iter().find_map(|i| i.err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::{ListQuerier, ListSeries, Value};
    use ember_model::MatchType;

    fn series(name: &str, pts: &[(i64, f64)]) -> ListSeries {
        ListSeries {
            labels: Labels::from_pairs([("__name__", name)]),
            samples: pts.iter().map(|(t, v)| (*t, Value::Float(*v))).collect(),
        }
    }

    fn drain(it: &mut dyn SampleIterator) -> Vec<(i64, f64)> {
        let mut v = Vec::new();
        while it.next() == ValueType::Float {
            v.push(it.at());
        }
        v
    }

    #[test]
    fn merges_series_and_samples() {
        let a = ListQuerier::new(vec![
            series("a", &[(1, 1.0), (3, 3.0)]),
            series("c", &[(1, 1.0)]),
        ]);
        let b = ListQuerier::new(vec![
            series("a", &[(2, 2.0), (3, 30.0), (4, 4.0)]),
            series("b", &[(5, 5.0)]),
        ]);
        let q = MergeQuerier::new(vec![Box::new(a), Box::new(b)]);
        let m = Matcher::new(MatchType::RegexMatch, "__name__", ".+").unwrap();
        let set: Vec<_> = q
            .select(true, None, &[m])
            .collect::<Result<_, _>>()
            .unwrap();
        let names: Vec<_> = set
            .iter()
            .map(|s| s.labels().metric_name().to_string())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
        let mut it = set[0].iter();
        assert_eq!(
            drain(it.as_mut()),
            vec![(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0)]
        );
        let mut it = set[0].iter();
        assert_eq!(it.seek(3), ValueType::Float);
        assert_eq!(it.at(), (3, 3.0));
        assert_eq!(it.seek(2), ValueType::Float);
        assert_eq!(it.at_t(), 3);
        assert_eq!(it.next(), ValueType::Float);
        assert_eq!(it.at(), (4, 4.0));
        assert_eq!(it.next(), ValueType::None);
        assert_eq!(
            q.label_values("__name__", &LabelHints::default(), &[])
                .unwrap(),
            ["a", "b", "c"]
        );
    }
}
