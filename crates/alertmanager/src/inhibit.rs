//! Inhibition: a firing "source" alert mutes "target" alerts that agree with it on
//! the `equal` labels. Pure functions over label sets; the alert store and the
//! marker (which alert inhibits which) belong to the pipeline.

use crate::config::{InhibitRuleConfig, legacy_matchers};
use crate::matcher::Matchers;
use ember_model::Labels;

/// An inhibition rule with its matchers built.
#[derive(Clone, Debug)]
pub struct InhibitRule {
    /// Matchers a source alert must satisfy (`source_match`, `source_match_re`,
    /// `source_matchers`).
    pub source_matchers: Matchers,
    /// Matchers a target alert must satisfy.
    pub target_matchers: Matchers,
    /// Labels whose values must be equal in source and target (absent reads as "").
    pub equal: Vec<String>,
}

impl InhibitRule {
    /// Builds a rule from its configuration.
    pub fn new(c: &InhibitRuleConfig) -> InhibitRule {
        // Alertmanager does not sort these; order does not change the result.
        let mut source = legacy_matchers(&c.source_match, &c.source_match_re);
        source.extend(c.source_matchers.0.iter().cloned());
        let mut target = legacy_matchers(&c.target_match, &c.target_match_re);
        target.extend(c.target_matchers.0.iter().cloned());
        InhibitRule {
            source_matchers: Matchers(source),
            target_matchers: Matchers(target),
            equal: c.equal.clone(),
        }
    }

    /// Whether `labels` can be a source of this rule.
    pub fn is_source(&self, labels: &Labels) -> bool {
        self.source_matchers.matches(labels)
    }

    /// Whether `labels` can be a target of this rule.
    pub fn is_target(&self, labels: &Labels) -> bool {
        self.target_matchers.matches(labels)
    }

    /// Whether the firing alert `source` inhibits `target` under this rule.
    ///
    /// As in Alertmanager, when the target also matches the source matchers, only a
    /// source that does *not* match the target matchers counts: an alert matching
    /// both sides never inhibits another such alert (nor itself).
    pub fn inhibits(&self, source: &Labels, target: &Labels) -> bool {
        if !self.is_target(target) || !self.is_source(source) {
            return false;
        }
        let equal = self
            .equal
            .iter()
            .all(|n| source.get_or_empty(n) == target.get_or_empty(n));
        if !equal {
            return false;
        }
        !(self.is_source(target) && self.is_target(source))
    }
}

/// The first of `sources` (firing alerts, with any id the caller keeps, such as a
/// fingerprint) that inhibits `target` under any of `rules`, trying rules in order.
pub fn find_inhibitor<'a, T>(
    rules: &[InhibitRule],
    target: &Labels,
    sources: impl IntoIterator<Item = (&'a Labels, T)> + Clone,
) -> Option<T> {
    for r in rules {
        if !r.is_target(target) {
            continue;
        }
        for (labels, id) in sources.clone() {
            if r.inhibits(labels, target) {
                return Some(id);
            }
        }
    }
    None
}
