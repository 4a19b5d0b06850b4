//! Alerts as the Alertmanager keeps them, and the alert store.
//!
//! An alert is identified by its label set's [`fingerprint`]. When a client re-sends
//! an alert, the store merges the two copies as Alertmanager 0.25 does
//! (`types.Alert.Merge` and the memory provider's overlap rule): the earliest start
//! wins, and an explicit end time wins over one the Alertmanager invented from
//! `resolve_timeout`. An alert is resolved once its end time has passed.

use crate::route::fingerprint;
use ember_model::Labels;
use jiff::Timestamp;
use std::cmp::Ordering;
use std::collections::HashMap;

/// One alert.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Identifying labels (never empty).
    pub labels: Labels,
    /// Annotations.
    pub annotations: Labels,
    /// When the alert started firing.
    pub starts_at: Timestamp,
    /// When it ends (or ended); `None` only in notifications, where firing alerts
    /// carry Go's zero time.
    pub ends_at: Option<Timestamp>,
    /// Link back to the rule that produced it.
    pub generator_url: String,
    /// When the Alertmanager last received it.
    pub updated_at: Timestamp,
    /// Whether `ends_at` was set by the Alertmanager from `resolve_timeout` rather
    /// than by the client.
    pub timeout: bool,
}

impl Alert {
    /// The label set's fingerprint, the alert's identity.
    pub fn fingerprint(&self) -> u64 {
        fingerprint(&self.labels)
    }

    /// Whether the alert is resolved at `now` (its end is not after `now`).
    pub fn resolved_at(&self, now: Timestamp) -> bool {
        self.ends_at.is_some_and(|e| e <= now)
    }

    /// `"firing"` or `"resolved"` at `now`.
    pub fn status(&self, now: Timestamp) -> &'static str {
        if self.resolved_at(now) {
            "resolved"
        } else {
            "firing"
        }
    }

    /// Merges a newer copy `o` of the same alert into this one, with
    /// Alertmanager's rules: `o` is the younger unless its `updated_at` is earlier;
    /// the earliest start is kept; an explicit, later end time of the older copy
    /// survives.
    pub fn merge(&self, o: &Alert, now: Timestamp) -> Alert {
        if o.updated_at < self.updated_at {
            return o.merge(self, now);
        }
        let mut res = o.clone();
        if self.starts_at < o.starts_at {
            res.starts_at = self.starts_at;
        }
        let later = match (self.ends_at, o.ends_at) {
            (Some(a), Some(b)) => a > b,
            (Some(_), None) => true,
            _ => false,
        };
        if o.resolved_at(now) {
            // Both resolved: the latest explicit end wins.
            if self.resolved_at(now) && later {
                res.ends_at = self.ends_at;
            }
        } else if later && !self.timeout {
            // A client-set end time beats one invented from resolve_timeout.
            res.ends_at = self.ends_at;
        }
        res
    }
}

/// Alertmanager's order for alerts in a notification (`types.AlertSlice`): by
/// `job`, then `instance` (alerts having the label first), then by label set.
pub fn alert_order(a: &Alert, b: &Alert) -> Ordering {
    for key in ["job", "instance"] {
        match (a.labels.get(key), b.labels.get(key)) {
            (None, None) => continue,
            (None, Some(_)) => return Ordering::Greater,
            (Some(_), None) => return Ordering::Less,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    label_set_order(&a.labels, &b.labels)
}

/// Prometheus's `LabelSet.Before` as an ordering: shorter sets first, then the
/// first differing label in name order decides (a set missing it comes first).
pub fn label_set_order(a: &Labels, b: &Labels) -> Ordering {
    match a.len().cmp(&b.len()) {
        Ordering::Equal => {}
        o => return o,
    }
    let mut names: Vec<&str> = a.iter().chain(b.iter()).map(|l| l.name.as_str()).collect();
    names.sort_unstable();
    for n in names {
        let (Some(x), Some(y)) = (a.get(n), b.get(n)) else {
            return if a.get(n).is_none() {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        };
        match x.cmp(y) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    Ordering::Equal
}

/// All alerts the Alertmanager knows, by fingerprint.
#[derive(Debug, Default)]
pub struct AlertStore {
    alerts: HashMap<u64, Alert>,
}

impl AlertStore {
    /// An empty store.
    pub fn new() -> AlertStore {
        AlertStore::default()
    }

    /// Inserts an alert, merging it with a stored copy whose activity overlaps it
    /// (as Alertmanager's memory provider does), and returns what is now stored.
    pub fn put(&mut self, alert: Alert, now: Timestamp) -> Alert {
        let fp = alert.fingerprint();
        let merged = match self.alerts.get(&fp) {
            Some(old) => {
                let inside =
                    |t: Timestamp| t > old.starts_at && old.ends_at.is_none_or(|oe| t < oe);
                let overlaps = alert.ends_at.is_some_and(inside) || inside(alert.starts_at);
                if overlaps {
                    old.merge(&alert, now)
                } else {
                    alert
                }
            }
            None => alert,
        };
        self.alerts.insert(fp, merged.clone());
        merged
    }

    /// The alert with this fingerprint.
    pub fn get(&self, fp: u64) -> Option<&Alert> {
        self.alerts.get(&fp)
    }

    /// All alerts, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values()
    }

    /// How many alerts are stored.
    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// Drops resolved alerts (`--alerts.gc-interval`), returning how many went.
    pub fn gc(&mut self, now: Timestamp) -> usize {
        let before = self.alerts.len();
        self.alerts.retain(|_, a| !a.resolved_at(now));
        before - self.alerts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn alert(start: i64, end: Option<i64>, updated: i64, timeout: bool) -> Alert {
        Alert {
            labels: Labels::from_pairs([("alertname", "A")]),
            annotations: Labels::empty(),
            starts_at: ts(start),
            ends_at: end.map(ts),
            generator_url: String::new(),
            updated_at: ts(updated),
            timeout,
        }
    }

    #[test]
    fn merge_keeps_earliest_start_and_explicit_end() {
        let now = ts(1000);
        let old = alert(100, Some(2000), 500, false);
        let new = alert(200, Some(1300), 900, true);
        let m = old.merge(&new, now);
        assert_eq!(m.starts_at, ts(100));
        // The older copy's explicit, later end time survives a timeout end.
        assert_eq!(m.ends_at, Some(ts(2000)));
        // A timeout end in the older copy does not survive.
        let old = alert(100, Some(2000), 500, true);
        assert_eq!(old.merge(&new, now).ends_at, Some(ts(1300)));
    }

    #[test]
    fn resolve_via_ends_at() {
        let now = ts(1000);
        let mut store = AlertStore::new();
        store.put(alert(100, Some(1300), 900, true), now);
        let got = store.put(alert(100, Some(950), 990, false), now);
        assert!(got.resolved_at(now));
        assert_eq!(store.gc(now), 1);
        assert!(store.is_empty());
    }

    #[test]
    fn order_is_job_instance_then_labels() {
        let mk = |pairs: &[(&str, &str)]| Alert {
            labels: Labels::from_pairs(pairs.iter().copied()),
            ..alert(0, None, 0, false)
        };
        let a = mk(&[("alertname", "Z"), ("job", "a")]);
        let b = mk(&[("alertname", "A")]);
        assert_eq!(alert_order(&a, &b), Ordering::Less);
        let c = mk(&[("alertname", "A"), ("x", "1")]);
        assert_eq!(alert_order(&b, &c), Ordering::Less);
    }
}
