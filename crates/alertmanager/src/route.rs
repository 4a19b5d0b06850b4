//! The routing tree: which routes an alert goes to, with what options, in which
//! group.
//!
//! A [`Route`] is built from a [`RouteConfig`] with every option inherited from its
//! parent (the root inherits Alertmanager's defaults: 30s, 5m, 4h, no grouping).
//! Matching is depth-first: a route that matches tries its children in order; the
//! first child that matches ends the search unless it has `continue: true`; a route
//! none of whose children match is itself the result. Keys and group keys are
//! Alertmanager's strings (`{}/{env="prod"}:{alertname="X"}`), since they show in the
//! API and in notifications (`groupKey` of webhooks).

use crate::config::RouteConfig;
use crate::matcher::Matchers;
use ember_model::labels::go_quote;
use ember_model::{Label, Labels};
use std::collections::BTreeSet;
use std::time::Duration;

/// Options of a route after inheritance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteOpts {
    /// Receiver name.
    pub receiver: String,
    /// Grouping labels.
    pub group_by: BTreeSet<String>,
    /// Group by all labels (`...`).
    pub group_by_all: bool,
    /// Wait before a new group's first notification.
    pub group_wait: Duration,
    /// Wait between notifications about a changed group.
    pub group_interval: Duration,
    /// Wait before repeating an unchanged notification.
    pub repeat_interval: Duration,
    /// Named intervals muting the route (not inherited).
    pub mute_time_intervals: Vec<String>,
    /// Named intervals outside which the route is muted (not inherited).
    pub active_time_intervals: Vec<String>,
}

impl Default for RouteOpts {
    fn default() -> Self {
        RouteOpts {
            receiver: String::new(),
            group_by: BTreeSet::new(),
            group_by_all: false,
            group_wait: Duration::from_secs(30),
            group_interval: Duration::from_secs(5 * 60),
            repeat_interval: Duration::from_secs(4 * 3600),
            mute_time_intervals: Vec::new(),
            active_time_intervals: Vec::new(),
        }
    }
}

/// A node of the routing tree.
#[derive(Clone, Debug)]
pub struct Route {
    /// Options, inherited where not set.
    pub opts: RouteOpts,
    /// Matchers (from `match`, `match_re` and `matchers`), sorted.
    pub matchers: Matchers,
    /// Whether matching goes on with the next sibling.
    pub continue_: bool,
    /// Children.
    pub routes: Vec<Route>,
    key: String,
    /// Position in the tree: child indexes from the root.
    index: Vec<usize>,
}

impl Route {
    /// Builds the tree from the root's configuration.
    pub fn new(root: &RouteConfig) -> Route {
        Route::build(root, None, Vec::new())
    }

    fn build(cr: &RouteConfig, parent: Option<(&RouteOpts, &str)>, index: Vec<usize>) -> Route {
        let mut opts = parent.map(|(o, _)| o.clone()).unwrap_or_default();
        if !cr.receiver.is_empty() {
            opts.receiver.clone_from(&cr.receiver);
        }
        if let Some(labels) = cr.group_by_labels() {
            opts.group_by = labels.into_iter().collect();
            opts.group_by_all = false;
        } else if cr.group_by_all() {
            opts.group_by_all = true;
        }
        if let Some(d) = cr.group_wait {
            opts.group_wait = d.as_std();
        }
        if let Some(d) = cr.group_interval {
            opts.group_interval = d.as_std();
        }
        if let Some(d) = cr.repeat_interval {
            opts.repeat_interval = d.as_std();
        }
        opts.mute_time_intervals.clone_from(&cr.mute_time_intervals);
        opts.active_time_intervals
            .clone_from(&cr.active_time_intervals);
        let matchers = cr.all_matchers();
        let key = match parent {
            Some((_, pk)) => format!("{pk}/{matchers}"),
            None => matchers.to_string(),
        };
        let routes = cr
            .routes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut idx = index.clone();
                idx.push(i);
                Route::build(c, Some((&opts, &key)), idx)
            })
            .collect();
        Route {
            opts,
            matchers,
            continue_: cr.continue_,
            routes,
            key,
            index,
        }
    }

    /// The routes an alert with `labels` goes to, in order; empty when this route
    /// does not match.
    pub fn matches(&self, labels: &Labels) -> Vec<&Route> {
        if !self.matchers.matches(labels) {
            return Vec::new();
        }
        let mut all = Vec::new();
        for child in &self.routes {
            let m = child.matches(labels);
            let matched = !m.is_empty();
            all.extend(m);
            if matched && !child.continue_ {
                break;
            }
        }
        if all.is_empty() {
            all.push(self);
        }
        all
    }

    /// Alertmanager's route key: the parent's key, `/`, and this route's matchers.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Child indexes from the root to this route (empty for the root); a stable id
    /// within one configuration (Alertmanager's route ids in the UI are these).
    pub fn index(&self) -> &[usize] {
        &self.index
    }

    /// Visits this route and its descendants depth-first.
    pub fn walk<'a>(&'a self, visit: &mut impl FnMut(&'a Route)) {
        visit(self);
        for r in &self.routes {
            r.walk(visit);
        }
    }

    /// The labels of `labels` that this route groups by.
    pub fn group_labels(&self, labels: &Labels) -> Labels {
        let kept: Vec<Label> = labels
            .iter()
            .filter(|l| self.opts.group_by_all || self.opts.group_by.contains(&l.name))
            .cloned()
            .collect();
        Labels::from_sorted_unchecked(kept)
    }

    /// The key of the aggregation group an alert with `labels` falls in on this
    /// route: `route key:group labels`.
    pub fn group_key(&self, labels: &Labels) -> String {
        format!(
            "{}:{}",
            self.key,
            label_set_string(&self.group_labels(labels))
        )
    }
}

/// A label set as Alertmanager prints one (`model.LabelSet.String()`):
/// `{a="1", b="2"}`, entries sorted as `name="value"` strings.
pub fn label_set_string(labels: &Labels) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|l| format!("{}={}", l.name, go_quote(&l.value)))
        .collect();
    parts.sort();
    format!("{{{}}}", parts.join(", "))
}

/// A label set's fingerprint (`model.LabelSet.Fingerprint()`): FNV-1a 64 over the
/// names and values sorted by name, each followed by the byte 255. Alertmanager
/// identifies alerts and groups by it.
pub fn fingerprint(labels: &Labels) -> u64 {
    const OFFSET: u64 = 14_695_981_039_346_656_037;
    const PRIME: u64 = 1_099_511_628_211;
    let mut h = OFFSET;
    let mut add = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(PRIME);
        }
    };
    // `Labels` is kept sorted by name.
    for l in labels.iter() {
        add(l.name.as_bytes());
        add(&[255]);
        add(l.value.as_bytes());
        add(&[255]);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_matches_prometheus_common() {
        // The empty set hashes to FNV-1a's offset basis.
        assert_eq!(fingerprint(&Labels::empty()), 14_695_981_039_346_656_037);
        assert_eq!(
            format!("{:016x}", fingerprint(&Labels::empty())),
            "cbf29ce484222325"
        );
    }

    #[test]
    fn label_set_string_sorts_like_go() {
        let l = Labels::from_pairs([("a", "x"), ("a0", "y"), ("b", "q\"")]);
        assert_eq!(label_set_string(&l), r#"{a0="y", a="x", b="q\""}"#);
    }
}
