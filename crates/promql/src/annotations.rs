//! Warnings and infos attached to a query result, with Prometheus's texts (the API
//! returns them and the upstream test files match on them).
//!
//! During evaluation they are kept by their text without position, as Prometheus
//! deduplicates them, and the position of the node they are about is appended only
//! when the result is handed out.

use std::collections::{BTreeSet, HashMap};

/// Non-fatal notes about a query, deduplicated.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Annotations {
    /// `PromQL warning: …` lines.
    pub warnings: BTreeSet<String>,
    /// `PromQL info: …` lines.
    pub infos: BTreeSet<String>,
}

impl Annotations {
    /// Adds a warning (text after `PromQL warning: `).
    pub fn warn(&mut self, msg: impl Into<String>) {
        self.warnings
            .insert(format!("PromQL warning: {}", msg.into()));
    }

    /// Adds an info (text after `PromQL info: `).
    pub fn info(&mut self, msg: impl Into<String>) {
        self.infos.insert(format!("PromQL info: {}", msg.into()));
    }

    /// Takes over another set.
    pub fn merge(&mut self, other: Annotations) {
        self.warnings.extend(other.warnings);
        self.infos.extend(other.infos);
    }

    /// Whether there is nothing.
    pub fn is_empty(&self) -> bool {
        self.warnings.is_empty() && self.infos.is_empty()
    }
}

/// The classic-histogram monotonicity fix-up, which Prometheus merges across steps
/// into one note with the affected range.
#[derive(Clone, Debug)]
struct Monotonicity {
    min_ts: i64,
    max_ts: i64,
    min_bucket: f64,
    max_bucket: f64,
    max_diff: f64,
    count: usize,
}

#[derive(Clone, Debug)]
struct Entry {
    warning: bool,
    pos: usize,
    mono: Option<Monotonicity>,
}

/// Annotations collected while evaluating, keyed by their text.
#[derive(Clone, Debug, Default)]
pub(crate) struct Annos {
    map: HashMap<String, Entry>,
    /// Storage warnings (a remote that did not answer), passed on as they are.
    storage: std::collections::BTreeSet<String>,
}

impl Annos {
    fn add(&mut self, warning: bool, msg: String, pos: usize) {
        self.map.insert(
            msg,
            Entry {
                warning,
                pos,
                mono: None,
            },
        );
    }

    /// A warning about the node starting at byte `pos` of the query.
    pub(crate) fn warn(&mut self, msg: impl Into<String>, pos: usize) {
        self.add(true, format!("PromQL warning: {}", msg.into()), pos);
    }

    /// Warnings a select returned beside its series, which Prometheus passes on
    /// verbatim (no position, no `PromQL` prefix).
    pub(crate) fn storage(&mut self, warnings: Vec<String>) {
        self.storage.extend(warnings);
    }

    /// An info about the node starting at byte `pos` of the query.
    pub(crate) fn info(&mut self, msg: impl Into<String>, pos: usize) {
        self.add(false, format!("PromQL info: {}", msg.into()), pos);
    }

    /// Records that classic buckets had to be made monotonic at `ts`.
    pub(crate) fn monotonicity(
        &mut self,
        metric: &str,
        pos: usize,
        ts: i64,
        min_bucket: f64,
        max_bucket: f64,
        max_diff: f64,
    ) {
        let mut msg = "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)".to_string();
        if !metric.is_empty() {
            msg.push_str(&format!(" for metric name {}", go_quote(metric)));
        }
        let new = Monotonicity {
            min_ts: ts,
            max_ts: ts,
            min_bucket,
            max_bucket,
            max_diff,
            count: 0,
        };
        match self.map.get_mut(&msg) {
            Some(Entry { mono: Some(m), .. }) => {
                m.min_ts = m.min_ts.min(new.min_ts);
                m.max_ts = m.max_ts.max(new.max_ts);
                m.min_bucket = m.min_bucket.min(new.min_bucket);
                m.max_bucket = m.max_bucket.max(new.max_bucket);
                if new.max_diff > m.max_diff {
                    m.max_diff = new.max_diff;
                }
                m.count += 1;
            }
            _ => {
                self.map.insert(
                    msg,
                    Entry {
                        warning: false,
                        pos,
                        mono: Some(new),
                    },
                );
            }
        }
    }

    /// The texts with positions in `query` appended.
    pub(crate) fn finish(self, query: &str) -> Annotations {
        let mut out = Annotations::default();
        out.warnings.extend(self.storage);
        for (msg, e) in self.map {
            let at = pos_suffix(query, e.pos);
            let text = match e.mono {
                Some(m) => format!(
                    "{msg}, from buckets {} to {}, with a max diff of {}, over {} samples from {} to {} {at}",
                    crate::fhist::go_g(m.min_bucket),
                    crate::fhist::go_g(m.max_bucket),
                    go_g_prec2(m.max_diff),
                    m.count + 1,
                    rfc3339(m.min_ts),
                    rfc3339(m.max_ts),
                ),
                None => format!("{msg} {at}"),
            };
            if e.warning {
                out.warnings.insert(text);
            } else {
                out.infos.insert(text);
            }
        }
        out
    }
}

fn go_quote(s: &str) -> String {
    ember_model::labels::go_quote(s)
}

/// Go's `%.2g`.
fn go_g_prec2(v: f64) -> String {
    if !v.is_finite() {
        return crate::fhist::go_g(v);
    }
    if v == 0.0 {
        return "0".into();
    }
    let e = format!("{v:.1e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mant = mant.trim_end_matches('0').trim_end_matches('.');
    if !(-4..2).contains(&exp) {
        return format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    let r: f64 = format!("{mant}e{exp}").parse().unwrap_or(v);
    format!("{r}")
}

/// `2006-01-02T15:04:05Z` for a millisecond timestamp (seconds precision).
fn rfc3339(ms: i64) -> String {
    let d = ember_model::time::civil(ms.div_euclid(1000));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        d.year, d.month, d.day, d.hour, d.minute, d.second
    )
}

/// `(line:col)` of a byte position, as Prometheus appends to annotations.
pub(crate) fn pos_suffix(query: &str, start: usize) -> String {
    if query.is_empty() {
        return "(unknown position)".into();
    }
    if start > query.len() {
        return "(invalid position)".into();
    }
    let before = &query.as_bytes()[..start];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let col = start
        - before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    format!("({line}:{col})")
}
