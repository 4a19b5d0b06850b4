//! Per-target metric metadata (`# HELP`, `# TYPE`, `# UNIT`), for the metadata APIs.
//!
//! Prometheus keeps, per target, what the last scrapes declared for each metric family
//! and forgets a family ten successful scrapes after its declarations stopped appearing
//! (so a family that flaps in and out of an exposition keeps its help text). The same
//! rule is kept here.

use std::collections::HashMap;

/// How many successful scrapes a family's metadata outlives its last declaration.
const KEEP_SCRAPES: u64 = 10;

/// One metric family's metadata, as `/api/v1/targets/metadata` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricMetadata {
    /// The family name as declared.
    pub metric: String,
    /// The type (`counter`, `gauge`, …, `unknown` when undeclared or `untyped`).
    pub metric_type: String,
    /// The help text, unescaped.
    pub help: String,
    /// The unit, empty when none.
    pub unit: String,
}

/// What one declaration line said.
#[derive(Debug)]
pub(crate) enum Declared {
    Help(String),
    Type(&'static str),
    Unit(String),
}

struct Entry {
    metric_type: &'static str,
    help: String,
    unit: String,
    last_iter: u64,
}

/// A target's metadata across scrapes.
#[derive(Default)]
pub(crate) struct MetadataCache {
    entries: HashMap<String, Entry>,
    iter: u64,
}

impl MetadataCache {
    /// Records one scrape's declarations; `success` ends the iteration (and forgets
    /// stale families) as Prometheus's `iterDone(true)` does.
    pub(crate) fn update(&mut self, declared: Vec<(String, Declared)>, success: bool) {
        let iter = self.iter;
        for (name, d) in declared {
            let e = self.entries.entry(name).or_insert_with(|| Entry {
                metric_type: "unknown",
                help: String::new(),
                unit: String::new(),
                last_iter: iter,
            });
            e.last_iter = iter;
            match d {
                Declared::Help(h) => e.help = h,
                Declared::Type(t) => e.metric_type = t,
                Declared::Unit(u) => e.unit = u,
            }
        }
        if success {
            self.entries
                .retain(|_, e| iter.saturating_sub(e.last_iter) <= KEEP_SCRAPES);
            self.iter += 1;
        }
    }

    /// Every family, sorted by name.
    pub(crate) fn list(&self) -> Vec<MetricMetadata> {
        let mut v: Vec<MetricMetadata> = self
            .entries
            .iter()
            .map(|(name, e)| MetricMetadata {
                metric: name.clone(),
                metric_type: e.metric_type.to_string(),
                help: e.help.clone(),
                unit: e.unit.clone(),
            })
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_outlive_their_declarations_by_ten_scrapes() {
        let mut c = MetadataCache::default();
        c.update(
            vec![
                ("a".into(), Declared::Help("h".into())),
                ("b".into(), Declared::Type("gauge")),
            ],
            true,
        );
        let l = c.list();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].metric_type, "unknown");
        assert_eq!(l[0].help, "h");
        assert_eq!(l[1].metric_type, "gauge");
        for _ in 0..10 {
            c.update(vec![("b".into(), Declared::Type("gauge"))], true);
        }
        assert_eq!(c.list().len(), 2);
        c.update(vec![("b".into(), Declared::Type("gauge"))], true);
        assert_eq!(c.list().len(), 1);
        // A failed scrape forgets nothing.
        for _ in 0..20 {
            c.update(Vec::new(), false);
        }
        assert_eq!(c.list().len(), 1);
    }
}
