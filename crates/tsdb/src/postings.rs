//! Postings: for each label name and value, the sorted list of series references
//! that carry it, and the set operations matchers need.
//!
//! Values are kept per name in a sorted map so that a regex matcher reduced to a
//! literal prefix scans only the values with that prefix, and one reduced to a literal
//! set looks each value up directly; only a general regex walks every value.

use ember_model::{MatchType, Matcher};
use std::collections::BTreeMap;

/// A series reference as stored in postings.
pub type Ref = u64;

/// What the matcher logic needs from an index: value lists and postings lists.
/// Implemented by the head's in-memory postings and by block indexes.
pub trait PostingsIndex {
    /// Values of `name`, sorted.
    fn label_values_of(&self, name: &str) -> Vec<&str>;
    /// Values of `name` starting with `prefix`, sorted.
    fn label_values_with_prefix(&self, name: &str, prefix: &str) -> Vec<&str> {
        self.label_values_of(name)
            .into_iter()
            .filter(|v| v.starts_with(prefix))
            .collect()
    }
    /// Series with `name="value"`, sorted.
    fn postings_for(&self, name: &str, value: &str) -> Vec<Ref>;
    /// Every series, sorted.
    fn all_postings(&self) -> Vec<Ref>;

    /// The series matching all `matchers`, with Prometheus's treatment of matchers
    /// that match the empty string (they also select series lacking the label).
    fn select_postings(&self, matchers: &[Matcher]) -> Vec<Ref> {
        let mut its: Vec<Vec<Ref>> = Vec::new();
        let mut not_its: Vec<Vec<Ref>> = Vec::new();
        for m in matchers {
            let is_not = matches!(m.kind, MatchType::NotEqual | MatchType::RegexNoMatch);
            match (is_not, m.matches_empty()) {
                // l="v", l=~"re" not matching "": the label must carry a matching value.
                (false, false) => its.push(positive(self, m)),
                // l="", l=~"x|": drop series whose value does not match.
                (false, true) => not_its.push(negative(self, m)),
                // l!="v", l!~"re" where "" matches: drop series whose value matches.
                (true, true) => not_its.push(positive(self, m)),
                // l!="", l!~"x|": keep series whose value the positive form rejects.
                (true, false) => its.push(negative(self, m)),
            }
        }
        if its.is_empty() {
            its.push(self.all_postings());
        }
        its.sort_by_key(Vec::len);
        let mut acc = its.swap_remove(0);
        for other in &its {
            acc = intersect(&acc, other);
            if acc.is_empty() {
                return acc;
            }
        }
        for n in &not_its {
            acc = subtract(&acc, n);
        }
        acc
    }
}

/// Union of the postings of the values that `m`'s positive form (`=` for `=`/`!=`,
/// `=~` for `=~`/`!~`) matches, through the literal set or prefix when there is one.
fn positive<I: PostingsIndex + ?Sized>(ix: &I, m: &Matcher) -> Vec<Ref> {
    if matches!(m.kind, MatchType::Equal | MatchType::NotEqual) {
        return ix.postings_for(&m.name, &m.value);
    }
    let Some(re) = m.regex() else {
        return Vec::new();
    };
    let lists: Vec<Vec<Ref>> = if let Some(set) = re.set_matches() {
        set.iter().map(|v| ix.postings_for(&m.name, v)).collect()
    } else if let Some(prefix) = re.literal_prefix() {
        ix.label_values_with_prefix(&m.name, prefix)
            .into_iter()
            .map(|v| ix.postings_for(&m.name, v))
            .collect()
    } else {
        ix.label_values_of(&m.name)
            .into_iter()
            .filter(|v| re.is_match(v))
            .map(|v| ix.postings_for(&m.name, v))
            .collect()
    };
    let refs: Vec<&[Ref]> = lists.iter().map(Vec::as_slice).collect();
    union_all(&refs)
}

/// Union of the postings of the values that `m`'s positive form does not match.
fn negative<I: PostingsIndex + ?Sized>(ix: &I, m: &Matcher) -> Vec<Ref> {
    let lists: Vec<Vec<Ref>> = ix
        .label_values_of(&m.name)
        .into_iter()
        .filter(|v| match m.kind {
            MatchType::Equal | MatchType::NotEqual => *v != m.value,
            _ => !m.regex().is_some_and(|re| re.is_match(v)),
        })
        .map(|v| ix.postings_for(&m.name, v))
        .collect();
    let refs: Vec<&[Ref]> = lists.iter().map(Vec::as_slice).collect();
    union_all(&refs)
}

/// One entry of a cardinality top list: a name and its count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// Metric name, label name, or `name=value` pair.
    pub name: String,
    /// Series count, distinct-value count, or bytes.
    pub count: u64,
}

/// Cardinality statistics of an index, as Prometheus's `PostingsStats` (each list the
/// `limit` largest entries, largest first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostingsStats {
    /// Series per value of the chosen label (`__name__`: series per metric name).
    pub by_metric: Vec<Stat>,
    /// Distinct values per label name.
    pub values_per_label: Vec<Stat>,
    /// Bytes per label name, as Prometheus 3.x's default (`stringlabels`) build
    /// counts them: each `name=value` pair's encoded size times its series count.
    pub bytes_per_label: Vec<Stat>,
    /// Series per `name=value` pair.
    pub series_per_pair: Vec<Stat>,
    /// Distinct `name=value` pairs.
    pub num_label_pairs: usize,
}

/// Keeps the `limit` largest, largest first; ties by name, so that answers are stable
/// (Prometheus leaves ties in map order).
fn top(mut v: Vec<Stat>, limit: usize) -> Vec<Stat> {
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    v.truncate(limit);
    v
}

/// A label's size in Prometheus 3.x's `stringlabels` encoding (`SizeOfLabels`): each
/// of name and value as a varint length then the bytes. Prometheus 2.x counted only
/// the value's length once per distinct value, which `/api/v1/status/tsdb` of Debian's
/// 2.42 shows.
fn string_labels_size(name: &str, value: &str) -> u64 {
    fn varint_len(n: usize) -> u64 {
        let mut n = n as u64;
        let mut len = 1;
        while n >= 0x80 {
            n >>= 7;
            len += 1;
        }
        len
    }
    varint_len(name.len()) + name.len() as u64 + varint_len(value.len()) + value.len() as u64
}

/// In-memory postings index.
#[derive(Debug, Default)]
pub struct MemPostings {
    by_name: BTreeMap<String, BTreeMap<String, Vec<Ref>>>,
    all: Vec<Ref>,
}

impl MemPostings {
    /// Cardinality statistics, as Prometheus's `MemPostings.Stats(label, limit)`.
    pub fn stats(&self, label: &str, limit: usize) -> PostingsStats {
        let (mut metrics, mut labels, mut bytes, mut pairs) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut num_label_pairs = 0;
        for (name, values) in &self.by_name {
            labels.push(Stat {
                name: name.clone(),
                count: values.len() as u64,
            });
            num_label_pairs += values.len();
            let mut size = 0u64;
            for (value, refs) in values {
                let n = refs.len() as u64;
                if name == label {
                    metrics.push(Stat {
                        name: value.clone(),
                        count: n,
                    });
                }
                pairs.push(Stat {
                    name: format!("{name}={value}"),
                    count: n,
                });
                size += string_labels_size(name, value) * n;
            }
            bytes.push(Stat {
                name: name.clone(),
                count: size,
            });
        }
        PostingsStats {
            by_metric: top(metrics, limit),
            values_per_label: top(labels, limit),
            bytes_per_label: top(bytes, limit),
            series_per_pair: top(pairs, limit),
            num_label_pairs,
        }
    }

    /// Adds a series. References are handed out in increasing order, so pushing
    /// keeps every list sorted; an out-of-order add (WAL replay) inserts in place.
    pub fn add(&mut self, r: Ref, labels: &ember_model::Labels) {
        insert_sorted(&mut self.all, r);
        for l in labels {
            let list = self
                .by_name
                .entry(l.name.clone())
                .or_default()
                .entry(l.value.clone())
                .or_default();
            insert_sorted(list, r);
        }
    }

    /// Removes series (after garbage collection).
    pub fn remove(&mut self, gone: &[Ref], labels_of: impl Fn(Ref) -> Option<ember_model::Labels>) {
        let mut sorted = gone.to_vec();
        sorted.sort_unstable();
        self.all = subtract(&self.all, &sorted);
        for r in gone {
            let Some(labels) = labels_of(*r) else {
                continue;
            };
            for l in &labels {
                if let Some(values) = self.by_name.get_mut(&l.name) {
                    if let Some(list) = values.get_mut(&l.value)
                        && let Ok(i) = list.binary_search(r)
                    {
                        list.remove(i);
                        if list.is_empty() {
                            values.remove(&l.value);
                        }
                    }
                    if values.is_empty() {
                        self.by_name.remove(&l.name);
                    }
                }
            }
        }
    }

    /// Every series.
    pub fn all(&self) -> &[Ref] {
        &self.all
    }

    /// Label names in use, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Values of `name`, sorted.
    pub fn values(&self, name: &str) -> impl Iterator<Item = &str> {
        self.by_name
            .get(name)
            .into_iter()
            .flat_map(|v| v.keys().map(String::as_str))
    }

    /// Series with `name="value"`.
    pub fn get(&self, name: &str, value: &str) -> &[Ref] {
        self.by_name
            .get(name)
            .and_then(|v| v.get(value))
            .map_or(&[], Vec::as_slice)
    }

    /// The series matching all `matchers` (see [`PostingsIndex::select_postings`]).
    pub fn for_matchers(&self, matchers: &[Matcher]) -> Vec<Ref> {
        self.select_postings(matchers)
    }
}

impl PostingsIndex for MemPostings {
    fn label_values_of(&self, name: &str) -> Vec<&str> {
        self.values(name).collect()
    }
    fn label_values_with_prefix(&self, name: &str, prefix: &str) -> Vec<&str> {
        let Some(values) = self.by_name.get(name) else {
            return Vec::new();
        };
        values
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(v, _)| v.starts_with(prefix))
            .map(|(v, _)| v.as_str())
            .collect()
    }
    fn postings_for(&self, name: &str, value: &str) -> Vec<Ref> {
        self.get(name, value).to_vec()
    }
    fn all_postings(&self) -> Vec<Ref> {
        self.all.clone()
    }
}

fn insert_sorted(v: &mut Vec<Ref>, r: Ref) {
    match v.last() {
        Some(last) if *last < r => v.push(r),
        None => v.push(r),
        _ => {
            if let Err(i) = v.binary_search(&r) {
                v.insert(i, r);
            }
        }
    }
}

/// Intersection of two sorted lists; gallops through the longer one.
pub fn intersect(a: &[Ref], b: &[Ref]) -> Vec<Ref> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(small.len());
    let mut rest = large;
    for x in small {
        match rest.binary_search(x) {
            Ok(i) => {
                out.push(*x);
                rest = &rest[i + 1..];
            }
            Err(i) => rest = &rest[i..],
        }
        if rest.is_empty() {
            break;
        }
    }
    out
}

/// `a` without the elements of `b` (both sorted).
pub fn subtract(a: &[Ref], b: &[Ref]) -> Vec<Ref> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for x in a {
        while j < b.len() && b[j] < *x {
            j += 1;
        }
        if j < b.len() && b[j] == *x {
            continue;
        }
        out.push(*x);
    }
    out
}

/// Union of sorted lists.
pub fn union_all(lists: &[&[Ref]]) -> Vec<Ref> {
    match lists.len() {
        0 => Vec::new(),
        1 => lists[0].to_vec(),
        _ => {
            let mut v: Vec<Ref> = lists.iter().flat_map(|l| l.iter().copied()).collect();
            v.sort_unstable();
            v.dedup();
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_model::Labels;

    fn m(kind: MatchType, n: &str, v: &str) -> Matcher {
        Matcher::new(kind, n, v).unwrap()
    }

    fn index() -> MemPostings {
        let mut p = MemPostings::default();
        p.add(1, &Labels::from_pairs([("__name__", "up"), ("job", "api")]));
        p.add(2, &Labels::from_pairs([("__name__", "up"), ("job", "web")]));
        p.add(3, &Labels::from_pairs([("__name__", "up")]));
        p.add(
            4,
            &Labels::from_pairs([("__name__", "down"), ("job", "api-2")]),
        );
        p
    }

    #[test]
    fn matcher_semantics_like_prometheus() {
        let p = index();
        use MatchType::*;
        assert_eq!(p.for_matchers(&[m(Equal, "job", "api")]), [1]);
        assert_eq!(
            p.for_matchers(&[m(Equal, "__name__", "up"), m(Equal, "job", "")]),
            [3]
        );
        assert_eq!(p.for_matchers(&[m(NotEqual, "job", "api")]), [2, 3, 4]);
        assert_eq!(p.for_matchers(&[m(NotEqual, "job", "")]), [1, 2, 4]);
        assert_eq!(p.for_matchers(&[m(RegexMatch, "job", "api.*")]), [1, 4]);
        assert_eq!(p.for_matchers(&[m(RegexMatch, "job", "api|web")]), [1, 2]);
        assert_eq!(p.for_matchers(&[m(RegexMatch, "job", "a.i|")]), [1, 3]);
        assert_eq!(p.for_matchers(&[m(RegexNoMatch, "job", "a.*")]), [2, 3]);
        assert_eq!(p.for_matchers(&[m(RegexMatch, "job", ".+")]), [1, 2, 4]);
        assert_eq!(p.for_matchers(&[m(Equal, "nope", "x")]), Vec::<Ref>::new());
    }

    #[test]
    fn set_ops() {
        assert_eq!(intersect(&[1, 3, 5, 7], &[2, 3, 7, 9]), [3, 7]);
        assert_eq!(subtract(&[1, 3, 5, 7], &[3, 4, 7]), [1, 5]);
        assert_eq!(union_all(&[&[1, 4], &[2, 4, 6]]), [1, 2, 4, 6]);
    }
}
