//! The metric store: pushed groups, the rules that decide whether a push is
//! accepted, and the merged view a scrape sees.
//!
//! The original checks a push by copying its whole store, applying the push to the
//! copy and gathering everything, so a push costs as much as a scrape of all groups.
//! Here a push is checked against an index kept beside the groups — per family
//! name, how many groups hold it with which type, and the hashes of every series —
//! so its cost grows with the push, not with the store. The rules are the same;
//! a scrape still runs the full check ([`crate::check::check_all`]), which also
//! catches what `--push.disable-consistency-check` let in.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

use ember_exposition::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};

use crate::check::{check_all, check_family, check_suffixes, describe, series_hash};
use crate::grouping::GroupingKey;

/// The gauge of each group's last successful push.
pub const PUSH_TIME: &str = "push_time_seconds";
/// The gauge of each group's last failed push.
pub const PUSH_FAILURE_TIME: &str = "push_failure_time_seconds";
const PUSH_TIME_HELP: &str =
    "Last Unix time when changing this group in the Pushgateway succeeded.";
const PUSH_FAILURE_TIME_HELP: &str =
    "Last Unix time when changing this group in the Pushgateway failed.";

/// Nanoseconds since the Unix epoch.
pub type Nanos = i64;

/// A family as pushed, with the time of the push that stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// When the push happened.
    pub pushed_at: Nanos,
    /// The family, its metrics' labels sanitized (grouping labels set, sorted).
    pub family: MetricFamily,
}

/// One group: what was pushed under one grouping key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    /// The grouping key.
    pub labels: GroupingKey,
    /// Families by name, `push_time_seconds` and `push_failure_time_seconds` among
    /// them.
    pub families: BTreeMap<String, Stored>,
}

impl Group {
    fn gauge_value(&self, name: &str) -> f64 {
        self.families
            .get(name)
            .and_then(|s| s.family.metric.first())
            .and_then(|m| m.gauge.as_ref())
            .and_then(|g| g.value)
            .unwrap_or(0.0)
    }

    /// Last successful push, Unix seconds; 0 when there was none.
    pub fn push_time(&self) -> f64 {
        self.gauge_value(PUSH_TIME)
    }

    /// Last failed push, Unix seconds; 0 when there was none.
    pub fn push_failure_time(&self) -> f64 {
        self.gauge_value(PUSH_FAILURE_TIME)
    }

    /// Whether the last push to the group succeeded.
    pub fn last_push_successful(&self) -> bool {
        self.push_time() >= self.push_failure_time()
    }
}

/// A family of the gateway's own, which pushed families of the same name must agree
/// with in type and lose to in help.
#[derive(Debug, Clone, Copy)]
pub struct OwnFamily {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub metric_type: MetricType,
    /// Its help.
    pub help: &'static str,
}

/// One family of a scrape, borrowed from the store.
#[derive(Debug, Clone)]
pub struct Gathered<'a> {
    /// The family's name.
    pub name: &'a str,
    /// Its help, if any group (or the gateway) gave one.
    pub help: Option<&'a str>,
    /// Its type.
    pub metric_type: MetricType,
    /// Its metrics from every group, sorted.
    pub metrics: Vec<&'a Metric>,
}

/// Why a push was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PushError {
    /// A pushed metric carries a timestamp.
    #[error("pushed metrics must not have timestamps")]
    Timestamp,
    /// The push would make the exposition inconsistent.
    #[error("{0}")]
    Inconsistent(String),
}

#[derive(Debug, Default, Clone)]
struct NameIndex {
    /// Groups holding the name, per type (indexed by the proto enum's value).
    types: [u32; 6],
    /// Series hashes and how many stored metrics have each.
    series: HashMap<u64, u32>,
}

impl NameIndex {
    fn groups(&self) -> u32 {
        self.types.iter().sum()
    }
}

/// All groups, and the index a push is checked against.
#[derive(Debug, Default)]
pub struct Store {
    groups: BTreeMap<GroupingKey, Group>,
    index: HashMap<String, NameIndex>,
    own: Vec<OwnFamily>,
}

fn type_slot(t: MetricType) -> usize {
    t as usize
}

fn metric_sort(a: &Metric, b: &Metric) -> Ordering {
    // client_golang's metricSorter: fewer labels first, then label values in order,
    // then timestamps.
    a.label
        .len()
        .cmp(&b.label.len())
        .then_with(|| {
            for (x, y) in a.label.iter().zip(&b.label) {
                let o = x.value.cmp(&y.value);
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        })
        .then_with(|| a.timestamp_ms.cmp(&b.timestamp_ms))
}

/// Sets the grouping labels on every metric (they win over pushed values), adds
/// `instance=""` when absent, and sorts labels by name, as the original does.
pub fn sanitize_labels(f: &mut MetricFamily, key: &GroupingKey) {
    for m in &mut f.metric {
        for l in &mut m.label {
            if let Some(v) = l.name.as_deref().and_then(|n| key.get(n)) {
                l.value = Some(v.clone());
            }
        }
        for (n, v) in key {
            if m.label.iter().all(|l| l.name.as_deref() != Some(n)) {
                m.label.push(LabelPair::new(n.clone(), v.clone()));
            }
        }
        if m.label
            .iter()
            .all(|l| l.name.as_deref() != Some("instance"))
        {
            m.label.push(LabelPair::new("instance", ""));
        }
        m.label.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

fn timestamp_gauge(name: &str, help: &str, key: &GroupingKey, seconds: f64) -> MetricFamily {
    let mut f = MetricFamily {
        name: Some(name.to_string()),
        help: Some(help.to_string()),
        r#type: Some(MetricType::Gauge as i32),
        metric: vec![Metric {
            gauge: Some(Gauge {
                value: Some(seconds),
            }),
            ..Metric::default()
        }],
        unit: None,
    };
    sanitize_labels(&mut f, key);
    f
}

fn seconds(t: Nanos) -> f64 {
    t as f64 / 1e9
}

impl Store {
    /// An empty store whose pushes must agree with the gateway's `own` families.
    pub fn new(own: Vec<OwnFamily>) -> Self {
        Store {
            own,
            ..Store::default()
        }
    }

    /// Every group, in grouping-key order.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// The number of groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether no group is stored.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    fn own(&self, name: &str) -> Option<&OwnFamily> {
        self.own.iter().find(|o| o.name == name)
    }

    fn index_add(&mut self, f: &MetricFamily) {
        let e = self.index.entry(f.name().to_string()).or_default();
        e.types[type_slot(f.metric_type())] += 1;
        for m in &f.metric {
            *e.series.entry(series_hash(f.name(), m)).or_default() += 1;
        }
    }

    fn index_remove(&mut self, f: &MetricFamily) {
        let Some(e) = self.index.get_mut(f.name()) else {
            return;
        };
        let slot = &mut e.types[type_slot(f.metric_type())];
        *slot = slot.saturating_sub(1);
        for m in &f.metric {
            let h = series_hash(f.name(), m);
            if let Some(c) = e.series.get_mut(&h) {
                *c -= 1;
                if *c == 0 {
                    e.series.remove(&h);
                }
            }
        }
        if e.groups() == 0 {
            self.index.remove(f.name());
        }
    }

    fn insert_family(&mut self, key: &GroupingKey, stored: Stored) {
        self.index_add(&stored.family);
        let name = stored.family.name().to_string();
        let group = self.groups.entry(key.clone()).or_insert_with(|| Group {
            labels: key.clone(),
            families: BTreeMap::new(),
        });
        if let Some(old) = group.families.insert(name, stored) {
            self.index_remove(&old.family);
        }
    }

    fn remove_family(&mut self, key: &GroupingKey, name: &str) {
        let removed = self
            .groups
            .get_mut(key)
            .and_then(|g| g.families.remove(name));
        if let Some(old) = removed {
            self.index_remove(&old.family);
        }
    }

    /// Stores a push to the group `key`: with `replace` (PUT) every family of the
    /// group is replaced, otherwise (POST) only those of the pushed names. With
    /// `check`, a push that breaks the exposition's rules is refused, changes
    /// nothing but the group's `push_failure_time_seconds`, and says why.
    pub fn push(
        &mut self,
        key: &GroupingKey,
        mut families: Vec<MetricFamily>,
        replace: bool,
        check: bool,
        now: Nanos,
    ) -> Result<(), PushError> {
        // Refused even unchecked: a scrape would misread a pushed timestamp.
        if families
            .iter()
            .any(|f| f.metric.iter().any(|m| m.timestamp_ms.is_some()))
        {
            self.record_failure(key, now);
            return Err(PushError::Timestamp);
        }
        // The gateway writes these two itself, whatever was pushed under their names.
        families.retain(|f| f.name() != PUSH_TIME && f.name() != PUSH_FAILURE_TIME);
        // A delimited protobuf body may repeat a family; the last one wins.
        let mut by_name: BTreeMap<String, MetricFamily> = BTreeMap::new();
        for mut f in families {
            sanitize_labels(&mut f, key);
            by_name.insert(f.name().to_string(), f);
        }
        if check && let Err(e) = self.check_push(key, &by_name, replace) {
            self.record_failure(key, now);
            return Err(PushError::Inconsistent(e));
        }
        if replace && let Some(g) = self.groups.get(key) {
            let names: Vec<String> = g
                .families
                .keys()
                .filter(|n| *n != PUSH_TIME && *n != PUSH_FAILURE_TIME)
                .cloned()
                .collect();
            for n in names {
                self.remove_family(key, &n);
            }
        }
        for (_, f) in by_name {
            self.insert_family(
                key,
                Stored {
                    pushed_at: now,
                    family: f,
                },
            );
        }
        self.insert_family(
            key,
            Stored {
                pushed_at: now,
                family: timestamp_gauge(PUSH_TIME, PUSH_TIME_HELP, key, seconds(now)),
            },
        );
        let has_failure = self
            .groups
            .get(key)
            .is_some_and(|g| g.families.contains_key(PUSH_FAILURE_TIME));
        if !has_failure {
            self.insert_family(
                key,
                Stored {
                    pushed_at: now,
                    family: timestamp_gauge(PUSH_FAILURE_TIME, PUSH_FAILURE_TIME_HELP, key, 0.0),
                },
            );
        }
        Ok(())
    }

    fn record_failure(&mut self, key: &GroupingKey, now: Nanos) {
        self.insert_family(
            key,
            Stored {
                pushed_at: now,
                family: timestamp_gauge(
                    PUSH_FAILURE_TIME,
                    PUSH_FAILURE_TIME_HELP,
                    key,
                    seconds(now),
                ),
            },
        );
        let has_push = self
            .groups
            .get(key)
            .is_some_and(|g| g.families.contains_key(PUSH_TIME));
        if !has_push {
            self.insert_family(
                key,
                Stored {
                    pushed_at: now,
                    family: timestamp_gauge(PUSH_TIME, PUSH_TIME_HELP, key, 0.0),
                },
            );
        }
    }

    /// The rules of [`check_all`], for the store as it would be after the push, with
    /// the cost of the push only.
    fn check_push(
        &self,
        key: &GroupingKey,
        pushed: &BTreeMap<String, MetricFamily>,
        replace: bool,
    ) -> Result<(), String> {
        let old = self.groups.get(key);
        // The group's family of `name` that the push takes away, if any.
        let leaving = |name: &str| -> Option<&MetricFamily> {
            let f = &old?.families.get(name)?.family;
            (replace && name != PUSH_TIME && name != PUSH_FAILURE_TIME || pushed.contains_key(name))
                .then_some(f)
        };
        // The types other groups (and the group's families that stay) give `name`.
        let others = |name: &str| -> Vec<MetricType> {
            let mut types = Vec::new();
            if let Some(e) = self.index.get(name) {
                let mut counts = e.types;
                if let Some(f) = leaving(name) {
                    let s = &mut counts[type_slot(f.metric_type())];
                    *s = s.saturating_sub(1);
                }
                for (i, c) in counts.iter().enumerate() {
                    if *c > 0
                        && let Ok(t) = MetricType::try_from(i as i32)
                    {
                        types.push(t);
                    }
                }
            }
            types
        };
        let type_of = |name: &str| -> Option<MetricType> {
            if let Some(f) = pushed.get(name) {
                return Some(f.metric_type());
            }
            if let Some(o) = self.own(name) {
                return Some(o.metric_type);
            }
            others(name).first().copied()
        };
        for (name, f) in pushed {
            if f.metric.is_empty() {
                continue;
            }
            check_family(f)?;
            let ty = f.metric_type();
            let mut existing: Vec<MetricType> = others(name);
            if let Some(o) = self.own(name) {
                existing.push(o.metric_type);
            }
            if let Some(t) = existing.into_iter().find(|t| *t != ty) {
                // The original merges same-named families under the first one's
                // type, so the pushed metrics fail as not being of that type.
                return Err(format!(
                    "collected metric {} is not a {}",
                    describe(name, &f.metric[0]),
                    t.proto_name()
                ));
            }
            check_suffixes(name, ty, type_of)?;
            let leaving_hashes: HashMap<u64, u32> = leaving(name)
                .map(|lf| {
                    let mut m = HashMap::new();
                    for x in &lf.metric {
                        *m.entry(series_hash(name, x)).or_default() += 1;
                    }
                    m
                })
                .unwrap_or_default();
            let stored = self.index.get(name.as_str());
            let mut mine = HashSet::with_capacity(f.metric.len());
            for m in &f.metric {
                let h = series_hash(name, m);
                let elsewhere = stored
                    .and_then(|e| e.series.get(&h))
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(leaving_hashes.get(&h).copied().unwrap_or(0));
                if elsewhere > 0 || !mine.insert(h) {
                    return Err(format!(
                        "collected metric {} was collected before with the same name and label values",
                        describe(name, m)
                    ));
                }
            }
        }
        Ok(())
    }

    /// Deletes the group `key`; whether there was one.
    pub fn delete(&mut self, key: &GroupingKey) -> bool {
        match self.groups.remove(key) {
            Some(g) => {
                for s in g.families.values() {
                    self.index_remove(&s.family);
                }
                true
            }
            None => false,
        }
    }

    /// Deletes every group.
    pub fn wipe(&mut self) {
        self.groups.clear();
        self.index.clear();
    }

    /// Deletes the groups whose last successful push (or, without one, first
    /// failed push) is older than `cutoff`; how many went.
    ///
    /// The clock is the `pushed_at` of the group's `push_time_seconds`: a
    /// successful push sets it, and a failed push only creates it (with value 0)
    /// when the group had none. A failed push stores its own
    /// `push_failure_time_seconds` too, so the newest family of the group is not
    /// the clock: a job that keeps failing would otherwise keep its stale metrics
    /// alive forever.
    pub fn expire(&mut self, cutoff: Nanos) -> usize {
        let old: Vec<GroupingKey> = self
            .groups
            .iter()
            .filter(|(_, g)| {
                let last = match g.families.get(PUSH_TIME) {
                    Some(s) => s.pushed_at,
                    // Only a group restored from a file written otherwise lacks
                    // it; its newest family is the best guess.
                    None => g
                        .families
                        .values()
                        .map(|s| s.pushed_at)
                        .max()
                        .unwrap_or(Nanos::MIN),
                };
                last < cutoff
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in &old {
            self.delete(k);
        }
        old.len()
    }

    /// Puts a group back as it was saved, bypassing the push rules (the file held a
    /// state the gateway accepted; a scrape's full check still guards the output).
    pub fn restore_group(&mut self, group: Group) {
        let key = group.labels.clone();
        self.delete(&key);
        for (_, s) in group.families {
            self.insert_family(&key, s);
        }
    }

    /// What a scrape exposes: the groups' families merged by name (type and help of
    /// the first group holding it, help from a later group when the first has none,
    /// the gateway's own help for its own names), then `own` merged in, families
    /// sorted by name and metrics as client_golang sorts them; or the consistency
    /// errors that make it unservable. Borrows rather than copies: a scrape of a
    /// large store costs its output, not a second store.
    pub fn gather<'a>(&'a self, own: &'a [MetricFamily]) -> Result<Vec<Gathered<'a>>, Vec<String>> {
        let mut merged: BTreeMap<&'a str, Gathered<'a>> = BTreeMap::new();
        for g in self.groups.values() {
            for (name, s) in &g.families {
                let f = &s.family;
                match merged.get_mut(name.as_str()) {
                    Some(m) => {
                        // A family pushed without HELP takes another group's, as
                        // the original's exposition does.
                        if m.help.is_none_or(str::is_empty) {
                            m.help = f.help.as_deref();
                        }
                        m.metrics.extend(f.metric.iter());
                    }
                    None => {
                        let help = match self.own(name) {
                            Some(o) => Some(o.help),
                            None => f.help.as_deref(),
                        };
                        merged.insert(
                            name.as_str(),
                            Gathered {
                                name: name.as_str(),
                                help,
                                metric_type: f.metric_type(),
                                metrics: f.metric.iter().collect(),
                            },
                        );
                    }
                }
            }
        }
        let mut errors = Vec::new();
        for f in own {
            match merged.get_mut(f.name()) {
                Some(m) => {
                    if m.metric_type != f.metric_type() {
                        errors.push(format!(
                            "gathered metric family {} has type {} but should have {}",
                            f.name(),
                            m.metric_type.proto_name(),
                            f.metric_type().proto_name()
                        ));
                    }
                    m.metrics.extend(f.metric.iter());
                }
                None => {
                    merged.insert(
                        f.name(),
                        Gathered {
                            name: f.name(),
                            help: f.help.as_deref(),
                            metric_type: f.metric_type(),
                            metrics: f.metric.iter().collect(),
                        },
                    );
                }
            }
        }
        let mut out: Vec<Gathered<'a>> = merged
            .into_values()
            .filter(|f| !f.metrics.is_empty())
            .collect();
        for f in &mut out {
            f.metrics.sort_by(|a, b| metric_sort(a, b));
        }
        errors.extend(check_all(&out));
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// Families the gateway itself says push times with; used by the tests and the UI.
    pub fn own_help(name: &str) -> Option<&'static str> {
        match name {
            PUSH_TIME => Some(PUSH_TIME_HELP),
            PUSH_FAILURE_TIME => Some(PUSH_FAILURE_TIME_HELP),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_exposition::{Format, parse, proto::from_flat};

    fn key(pairs: &[(&str, &str)]) -> GroupingKey {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn fams(text: &str) -> Vec<MetricFamily> {
        from_flat(parse(text.as_bytes(), Format::Text).expect("parses")).expect("converts")
    }

    fn series(s: &Store) -> Vec<String> {
        let mut out = Vec::new();
        for f in s.gather(&[]).expect("consistent") {
            for m in &f.metrics {
                out.push(describe(f.name, m));
            }
        }
        out
    }

    #[test]
    fn put_post_delete() {
        let mut s = Store::new(Vec::new());
        let k = key(&[("job", "j")]);
        s.push(&k, fams("a 1\nb 2\n"), true, true, 1_000_000_000)
            .expect("put");
        s.push(&k, fams("b 3\nc 4\n"), false, true, 2_000_000_000)
            .expect("post");
        let g = s.groups().next().expect("group");
        assert_eq!(g.push_time(), 2.0);
        assert_eq!(g.push_failure_time(), 0.0);
        assert_eq!(
            series(&s),
            [
                "\"a\" {instance=\"\",job=\"j\"}",
                "\"b\" {instance=\"\",job=\"j\"}",
                "\"c\" {instance=\"\",job=\"j\"}",
                "\"push_failure_time_seconds\" {instance=\"\",job=\"j\"}",
                "\"push_time_seconds\" {instance=\"\",job=\"j\"}",
            ]
        );
        s.push(&k, fams("d 1\n"), true, true, 3_000_000_000)
            .expect("put");
        assert_eq!(series(&s).len(), 3);
        assert!(s.delete(&k));
        assert!(s.is_empty());
        assert!(s.index.is_empty());
    }

    #[test]
    fn grouping_labels_win_and_instance_is_added() {
        let mut s = Store::new(Vec::new());
        let k = key(&[("job", "j2"), ("a", "/x")]);
        s.push(
            &k,
            fams("b{x=\"1\",job=\"other\",instance=\"zz\",a=\"q\"} 5\n"),
            true,
            true,
            1,
        )
        .expect("put");
        assert!(
            series(&s).contains(&"\"b\" {a=\"/x\",instance=\"zz\",job=\"j2\",x=\"1\"}".to_string())
        );
    }

    #[test]
    fn inconsistent_pushes_are_refused_and_recorded() {
        let mut s = Store::new(Vec::new());
        let k1 = key(&[("job", "j1")]);
        s.push(
            &k1,
            fams("# TYPE b gauge\nb 1\n"),
            true,
            true,
            1_000_000_000,
        )
        .expect("put");
        // A type conflict with another group.
        let k2 = key(&[("job", "j2")]);
        let e = s
            .push(
                &k2,
                fams("# TYPE b counter\nb 1\n"),
                true,
                true,
                2_000_000_000,
            )
            .expect_err("type conflict");
        assert!(e.to_string().contains("is not a GAUGE"), "{e}");
        let g2 = s
            .groups()
            .find(|g| g.labels == k2)
            .expect("failure recorded");
        assert_eq!(g2.push_failure_time(), 2.0);
        assert_eq!(g2.push_time(), 0.0);
        assert!(!g2.last_push_successful());
        // The same group may change a family's type: its old family goes.
        s.push(
            &k1,
            fams("# TYPE b counter\nb 1\n"),
            true,
            true,
            3_000_000_000,
        )
        .expect("own family replaced");
        // Duplicates inside a push, and across groups through a pushed label.
        assert!(s.push(&k2, fams("c 1\nc 2\n"), true, true, 4).is_err());
        let k3 = key(&[("job", "j"), ("instance", "i")]);
        s.push(&k3, fams("d 1\n"), true, true, 5).expect("put");
        let k4 = key(&[("job", "j")]);
        assert!(
            s.push(&k4, fams("d{instance=\"i\"} 1\n"), true, true, 6)
                .is_err()
        );
        // Timestamps.
        assert_eq!(
            s.push(&k4, fams("e 1 1000\n"), true, true, 7),
            Err(PushError::Timestamp)
        );
        // A summary beside a gauge named like its count.
        s.push(
            &k4,
            fams("# TYPE f summary\nf_sum 1\nf_count 1\n"),
            true,
            true,
            8,
        )
        .expect("summary");
        assert!(s.push(&k3, fams("f_count 1\n"), false, true, 9).is_err());
        // Without the check everything goes in, and the scrape reports it.
        s.push(&k3, fams("f_count 1\n"), false, false, 10)
            .expect("unchecked");
        assert!(s.gather(&[]).is_err());
    }

    #[test]
    fn own_families_fix_help_and_type() {
        let own = vec![OwnFamily {
            name: "pushgateway_build_info",
            metric_type: MetricType::Gauge,
            help: "build info",
        }];
        let mut s = Store::new(own);
        let k = key(&[("job", "j")]);
        assert!(
            s.push(
                &k,
                fams("# TYPE pushgateway_build_info counter\npushgateway_build_info 1\n"),
                true,
                true,
                1
            )
            .is_err()
        );
        s.push(&k, fams("# HELP pushgateway_build_info mine\n# TYPE pushgateway_build_info gauge\npushgateway_build_info 1\n"), true, true, 2)
            .expect("same type");
        let out = s.gather(&[]).expect("ok");
        let f = out
            .iter()
            .find(|f| f.name == "pushgateway_build_info")
            .expect("family");
        assert_eq!(f.help, Some("build info"));
    }

    #[test]
    fn metrics_sort_like_client_golang() {
        let mut s = Store::new(Vec::new());
        for (k, v) in [("j5", ""), ("j4", "")] {
            s.push(
                &key(&[("job", k)]),
                fams(&format!("x{v} 1\n")),
                true,
                true,
                1,
            )
            .expect("push");
        }
        s.push(
            &key(&[("job", "j1"), ("instance", "i1")]),
            fams("x 1\n"),
            true,
            true,
            1,
        )
        .expect("push");
        s.push(
            &key(&[("job", "j3"), ("e", "")]),
            fams("x 1\n"),
            true,
            true,
            1,
        )
        .expect("push");
        let xs: Vec<String> = series(&s)
            .into_iter()
            .filter(|l| l.starts_with("\"x\""))
            .collect();
        assert_eq!(
            xs,
            [
                "\"x\" {instance=\"\",job=\"j4\"}",
                "\"x\" {instance=\"\",job=\"j5\"}",
                "\"x\" {instance=\"i1\",job=\"j1\"}",
                "\"x\" {e=\"\",instance=\"\",job=\"j3\"}",
            ]
        );
    }

    #[test]
    fn expiry_removes_stale_groups() {
        let mut s = Store::new(Vec::new());
        s.push(&key(&[("job", "old")]), fams("a 1\n"), true, true, 10)
            .expect("push");
        s.push(&key(&[("job", "new")]), fams("a 1\n"), true, true, 100)
            .expect("push");
        assert_eq!(s.expire(50), 1);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn failed_pushes_do_not_reset_the_expiry_clock() {
        let mut s = Store::new(Vec::new());
        let ok = key(&[("job", "ok")]);
        s.push(&ok, fams("# TYPE a gauge\na 1\n"), true, true, 10)
            .expect("push");
        // Later pushes to the group that fail: a type conflict, a timestamp.
        assert!(
            s.push(&ok, fams("a 1\na 2\n"), false, true, 100).is_err(),
            "duplicate series"
        );
        assert_eq!(
            s.push(&ok, fams("a 1 1000\n"), true, true, 120),
            Err(PushError::Timestamp)
        );
        // A group that never had a successful push: its first failure starts the
        // clock, later ones do not move it.
        let never = key(&[("job", "never")]);
        assert!(s.push(&never, fams("b 1\nb 2\n"), true, true, 20).is_err());
        assert!(s.push(&never, fams("b 1\nb 2\n"), true, true, 110).is_err());
        // A group pushed successfully after a failure counts from the success.
        let fixed = key(&[("job", "fixed")]);
        assert!(s.push(&fixed, fams("c 1\nc 2\n"), true, true, 5).is_err());
        s.push(&fixed, fams("c 1\n"), true, true, 90).expect("push");
        assert_eq!(s.len(), 3);
        assert_eq!(s.expire(50), 2, "only successful pushes keep a group");
        let left: Vec<_> = s.groups().map(|g| g.labels.clone()).collect();
        assert_eq!(left, [fixed]);
    }
}
