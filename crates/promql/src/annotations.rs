//! Warnings and infos attached to a query result, with Prometheus's texts (the API
//! returns them and the upstream test files match on them).

use std::collections::BTreeSet;

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

/// `(line:col)` of a position range's start, as Prometheus appends to annotations.
pub(crate) fn pos_suffix(query: &str, start: usize) -> String {
    let before = &query.as_bytes()[..start.min(query.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let col = start
        - before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    format!(" ({line}:{col})")
}
