//! Recording and alerting rules: what one evaluation of a rule computes.
//!
//! A rule evaluates its expression through a [`QueryFunc`] and returns the samples to
//! write (the recorded series, or the `ALERTS`/`ALERTS_FOR_STATE` series); writing
//! them, and stale markers, is the group's job (see [`crate::Group`]), so that one
//! appender serves the rule and its failures are counted in one place.

use crate::template::{SampleValue, TemplateData, expand_or_error};
use crate::{Error, QueryFunc};
use ember_model::{Labels, LabelsBuilder};
use ember_promql::{Sample, Vector};
use ember_promql_parser::Expr;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// A rule's health after its last evaluation, as the API reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Health {
    /// Not evaluated yet.
    #[default]
    Unknown,
    /// The last evaluation succeeded.
    Good,
    /// The last evaluation failed; see [`Rule::last_error`].
    Bad,
}

impl Health {
    /// The API's spelling: `unknown`, `ok`, `err`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Good => "ok",
            Health::Bad => "err",
        }
    }
}

/// Evaluation bookkeeping shared by both kinds of rule.
#[derive(Clone, Debug, Default)]
pub(crate) struct EvalState {
    pub(crate) health: Health,
    pub(crate) last_error: Option<String>,
    pub(crate) duration: Duration,
    pub(crate) timestamp: Option<i64>,
}

/// A recording rule: evaluates `expr` and stores the result under a new metric name.
#[derive(Debug, Clone)]
pub struct RecordingRule {
    name: String,
    expr: Expr,
    query: String,
    labels: Labels,
    pub(crate) state: EvalState,
}

const DUPLICATE_RECORDING: &str =
    "vector contains metrics with the same labelset after applying rule labels";
const DUPLICATE_ALERT: &str =
    "vector contains metrics with the same labelset after applying alert labels";

impl RecordingRule {
    /// A rule recording `expr` as `name`, adding `labels` to each result.
    pub fn new(name: &str, expr: Expr, labels: Labels) -> Self {
        RecordingRule {
            name: name.to_string(),
            query: expr.to_string(),
            expr,
            labels,
            state: EvalState::default(),
        }
    }

    /// The metric name recorded.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The expression as Prometheus prints it (the API's `query`).
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The labels added to each result.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// Evaluates at `t` (ms, the query offset already subtracted): the samples to
    /// record, renamed and relabelled. Fails on duplicate label sets and when more than
    /// `limit` series result (0 for no limit).
    pub fn eval(&self, query: &dyn QueryFunc, t: i64, limit: usize) -> Result<Vector, Error> {
        let mut vector = query.query_expr(&self.expr, &self.query, t)?;
        let mut seen = HashSet::with_capacity(vector.len());
        for s in &mut vector {
            let mut b = LabelsBuilder::new(std::mem::take(&mut s.metric));
            b.set("__name__", self.name.as_str());
            for l in self.labels.iter() {
                b.set(l.name.as_str(), l.value.as_str());
            }
            s.metric = b.into_labels();
            if !seen.insert(s.metric.clone()) {
                return Err(Error::Eval(DUPLICATE_RECORDING.into()));
            }
        }
        if limit > 0 && vector.len() > limit {
            return Err(Error::Eval(format!(
                "exceeded limit of {limit} with {} series",
                vector.len()
            )));
        }
        Ok(vector)
    }
}

/// Where an alert is in its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertState {
    /// The rule has not been evaluated yet.
    #[default]
    Unknown,
    /// Resolved (kept for a while so that the resolution is sent).
    Inactive,
    /// The condition holds but not yet for the rule's `for` duration.
    Pending,
    /// Firing.
    Firing,
}

impl AlertState {
    /// Prometheus's spelling, as in the `alertstate` label and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Unknown => "unknown",
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of an alerting rule: a label set for which the condition held. Times are
/// ms since the epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// The state.
    pub state: AlertState,
    /// The labels: the sample's (without `__name__`), the rule's (templated) and
    /// `alertname`.
    pub labels: Labels,
    /// The templated annotations. A map rather than [`Labels`] because an
    /// annotation may expand to the empty string and is kept then.
    pub annotations: BTreeMap<String, String>,
    /// The value of the sample at the last evaluation.
    pub value: SampleValue,
    /// When the condition started holding.
    pub active_at: i64,
    /// When the alert started firing.
    pub fired_at: Option<i64>,
    /// When the alert was resolved.
    pub resolved_at: Option<i64>,
    /// When the alert was last handed to the notifier.
    pub last_sent_at: Option<i64>,
    /// Until when the last notification is valid (its `endsAt`).
    pub valid_until: Option<i64>,
    /// Since when the alert has been kept firing by `keep_firing_for`.
    pub keep_firing_since: Option<i64>,
}

impl Alert {
    /// Whether the notifier should be told about this alert at `ts`.
    fn needs_sending(&self, ts: i64, resend_delay: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        if let Some(r) = self.resolved_at
            && self.last_sent_at.is_none_or(|l| r > l)
        {
            return true;
        }
        self.last_sent_at
            .is_none_or(|l| l.saturating_add(resend_delay) < ts)
    }
}

/// How long resolved alerts are kept, so that the resolution reaches the notifier.
const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// An alerting rule: each sample of `expr` is an alert, pending until it has held for
/// `for`, then firing; with `keep_firing_for` it keeps firing that long after the
/// condition goes away.
#[derive(Debug, Clone)]
pub struct AlertingRule {
    name: String,
    expr: Expr,
    query: String,
    hold: i64,
    keep_firing_for: i64,
    labels: Labels,
    annotations: BTreeMap<String, String>,
    external_labels: BTreeMap<String, String>,
    external_url: String,
    restored: bool,
    active: HashMap<Labels, Alert>,
    pub(crate) state: EvalState,
}

/// What [`AlertingRule::new`] needs besides the expression.
#[derive(Clone, Debug, Default)]
pub struct AlertingRuleOptions {
    /// `for`.
    pub hold: Duration,
    /// `keep_firing_for`.
    pub keep_firing_for: Duration,
    /// The rule's (and its group's) labels, as templates.
    pub labels: Labels,
    /// The annotations, as templates.
    pub annotations: BTreeMap<String, String>,
    /// The server's external labels, for `$externalLabels`.
    pub external_labels: BTreeMap<String, String>,
    /// The server's external URL, for `$externalURL`.
    pub external_url: String,
    /// Whether the `for` state is considered restored already; until it is, no
    /// `ALERTS` series are written (see [`crate::Group::restore_for_state`]).
    pub restored: bool,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl AlertingRule {
    /// An alerting rule called `name` over `expr`.
    pub fn new(name: &str, expr: Expr, opts: AlertingRuleOptions) -> Self {
        AlertingRule {
            name: name.to_string(),
            query: expr.to_string(),
            expr,
            hold: ms(opts.hold),
            keep_firing_for: ms(opts.keep_firing_for),
            labels: opts.labels,
            annotations: opts.annotations,
            external_labels: opts.external_labels,
            external_url: opts.external_url,
            restored: opts.restored,
            active: HashMap::new(),
            state: EvalState::default(),
        }
    }

    /// The alert name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The expression as Prometheus prints it.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// `for`.
    pub fn hold_duration(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.hold).unwrap_or(0))
    }

    /// `keep_firing_for`.
    pub fn keep_firing_for(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.keep_firing_for).unwrap_or(0))
    }

    /// The label templates.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// The annotation templates.
    pub fn annotations(&self) -> &BTreeMap<String, String> {
        &self.annotations
    }

    /// Whether the `for` state has been restored (or needs no restoring).
    pub fn restored(&self) -> bool {
        self.restored
    }

    pub(crate) fn insert_alert(&mut self, a: Alert) {
        self.active.insert(a.labels.clone(), a);
    }

    /// Marks the `for` state as restored, so that `ALERTS` series are written.
    pub fn set_restored(&mut self, restored: bool) {
        self.restored = restored;
    }

    /// Alerts that are pending or firing (not resolved).
    pub fn active_alerts(&self) -> Vec<&Alert> {
        let mut v: Vec<&Alert> = self
            .active
            .values()
            .filter(|a| a.resolved_at.is_none())
            .collect();
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        v
    }

    /// All alerts held, resolved ones included.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.active.values()
    }

    /// Mutable access to the alerts held, for restoring their `active_at`.
    pub fn alerts_mut(&mut self) -> impl Iterator<Item = &mut Alert> {
        self.active.values_mut()
    }

    /// The highest state among the alerts; `Unknown` before the first evaluation.
    pub fn state(&self) -> AlertState {
        if self.state.timestamp.is_none() {
            return AlertState::Unknown;
        }
        self.active
            .values()
            .map(|a| a.state)
            .max()
            .unwrap_or(AlertState::Inactive)
            .max(AlertState::Inactive)
    }

    fn alert_sample(&self, a: &Alert, t: i64) -> Sample {
        let mut b = LabelsBuilder::new(self.labels.clone());
        for l in a.labels.iter() {
            b.set(l.name.as_str(), l.value.as_str());
        }
        b.set("__name__", "ALERTS");
        b.set("alertname", self.name.as_str());
        b.set("alertstate", a.state.as_str());
        Sample::float(b.into_labels(), t, 1.0)
    }

    fn for_state_sample(&self, a: &Alert, t: i64) -> Sample {
        let mut b = LabelsBuilder::new(self.labels.clone());
        for l in a.labels.iter() {
            b.set(l.name.as_str(), l.value.as_str());
        }
        b.set("__name__", "ALERTS_FOR_STATE");
        b.set("alertname", self.name.as_str());
        Sample::float(b.into_labels(), t, a.active_at.div_euclid(1000) as f64)
    }

    /// The matchers selecting this rule's `ALERTS_FOR_STATE` series (label values
    /// holding templates are left out), for restoring the `for` state.
    pub fn for_state_matchers(&self) -> Vec<ember_model::Matcher> {
        let mut b = LabelsBuilder::new(self.labels.clone());
        b.set("__name__", "ALERTS_FOR_STATE");
        b.set("alertname", self.name.as_str());
        b.labels()
            .iter()
            .filter(|l| !l.value.contains("{{"))
            .filter_map(|l| {
                ember_model::Matcher::new(ember_model::MatchType::Equal, &l.name, &l.value).ok()
            })
            .collect()
    }

    /// Evaluates at `ts` (ms): queries at `ts - query_offset`, updates the alerts'
    /// states, and returns the `ALERTS` and `ALERTS_FOR_STATE` samples to write (none
    /// until the `for` state is restored). Fails when two samples end up with the same
    /// labels and when more than `limit` alerts are active (which also drops them all).
    pub fn eval(
        &mut self,
        query: &Arc<dyn QueryFunc>,
        ts: i64,
        query_offset: i64,
        limit: usize,
    ) -> Result<Vector, Error> {
        let qt = ts - query_offset;
        let res = query.query_expr(&self.expr, &self.query, qt)?;
        let mut fresh: HashMap<Labels, Alert> = HashMap::with_capacity(res.len());
        for s in res {
            let labels_map: BTreeMap<String, String> = s
                .metric
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect();
            let value = match &s.h {
                Some(h) => SampleValue::Histogram(h.clone()),
                None => SampleValue::Float(s.f),
            };
            let data = TemplateData {
                labels: &labels_map,
                external_labels: &self.external_labels,
                external_url: &self.external_url,
                value: value.clone(),
                timestamp: ts,
                query: Some(query.clone()),
            };
            let mut b = LabelsBuilder::new(s.metric);
            b.del("__name__");
            for l in self.labels.iter() {
                b.set(
                    l.name.as_str(),
                    expand_or_error(&self.name, &l.value, &data),
                );
            }
            b.set("alertname", self.name.as_str());
            let annotations: BTreeMap<String, String> = self
                .annotations
                .iter()
                .map(|(k, v)| (k.clone(), expand_or_error(&self.name, v, &data)))
                .collect();
            let labels = b.into_labels();
            if fresh.contains_key(&labels) {
                return Err(Error::Eval(DUPLICATE_ALERT.into()));
            }
            fresh.insert(
                labels.clone(),
                Alert {
                    state: AlertState::Pending,
                    labels,
                    annotations,
                    value,
                    active_at: ts,
                    fired_at: None,
                    resolved_at: None,
                    last_sent_at: None,
                    valid_until: None,
                    keep_firing_since: None,
                },
            );
        }
        let returned: HashSet<Labels> = fresh.keys().cloned().collect();
        for (k, a) in fresh {
            match self.active.get_mut(&k) {
                Some(old) if old.state != AlertState::Inactive => {
                    old.value = a.value;
                    old.annotations = a.annotations;
                }
                _ => {
                    self.active.insert(k, a);
                }
            }
        }
        let mut vec = Vector::new();
        let mut active_count = 0;
        let mut drop = Vec::new();
        let mut keys: Vec<Labels> = self.active.keys().cloned().collect();
        keys.sort();
        for k in keys {
            let Some(a) = self.active.get_mut(&k) else {
                continue;
            };
            if !returned.contains(&k) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && self.keep_firing_for > 0 {
                    let since = *a.keep_firing_since.get_or_insert(ts);
                    keep_firing = ts - since < self.keep_firing_for;
                }
                // Pending alerts go at once; resolved ones after the retention.
                if a.state == AlertState::Pending
                    || a.resolved_at
                        .is_some_and(|r| ts - r > RESOLVED_RETENTION_MS)
                {
                    drop.push(k.clone());
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at = Some(ts);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                a.keep_firing_since = None;
            }
            active_count += 1;
            if a.state == AlertState::Pending && ts - a.active_at >= self.hold {
                a.state = AlertState::Firing;
                a.fired_at = Some(ts);
            }
            if self.restored {
                let a = a.clone();
                vec.push(self.alert_sample(&a, qt));
                vec.push(self.for_state_sample(&a, qt));
            }
        }
        for k in drop {
            self.active.remove(&k);
        }
        if limit > 0 && active_count > limit {
            self.active.clear();
            return Err(Error::Eval(format!(
                "exceeded limit of {limit} with {active_count} alerts"
            )));
        }
        Ok(vec)
    }

    /// Marks the alerts due for (re)sending at `ts` as sent and returns copies of them,
    /// with `valid_until` set to four times the larger of `interval` and `resend_delay`
    /// after `ts`, as Prometheus computes the `endsAt` it sends.
    pub fn alerts_to_send(&mut self, ts: i64, resend_delay: i64, interval: i64) -> Vec<Alert> {
        let mut out = Vec::new();
        for a in self.active.values_mut() {
            if a.needs_sending(ts, resend_delay) {
                a.last_sent_at = Some(ts);
                a.valid_until = Some(ts + 4 * interval.max(resend_delay));
                out.push(a.clone());
            }
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }
}

/// A rule of either kind.
#[derive(Debug, Clone)]
pub enum Rule {
    /// A recording rule.
    Recording(RecordingRule),
    /// An alerting rule.
    Alerting(AlertingRule),
}

impl Rule {
    /// The recorded metric or alert name.
    pub fn name(&self) -> &str {
        match self {
            Rule::Recording(r) => r.name(),
            Rule::Alerting(r) => r.name(),
        }
    }

    /// The expression as Prometheus prints it.
    pub fn query(&self) -> &str {
        match self {
            Rule::Recording(r) => r.query(),
            Rule::Alerting(r) => r.query(),
        }
    }

    /// The rule's labels (templates for an alerting rule).
    pub fn labels(&self) -> &Labels {
        match self {
            Rule::Recording(r) => r.labels(),
            Rule::Alerting(r) => r.labels(),
        }
    }

    pub(crate) fn state(&self) -> &EvalState {
        match self {
            Rule::Recording(r) => &r.state,
            Rule::Alerting(r) => &r.state,
        }
    }

    pub(crate) fn state_mut(&mut self) -> &mut EvalState {
        match self {
            Rule::Recording(r) => &mut r.state,
            Rule::Alerting(r) => &mut r.state,
        }
    }

    /// Health after the last evaluation.
    pub fn health(&self) -> Health {
        self.state().health
    }

    /// The last evaluation's error, if it failed.
    pub fn last_error(&self) -> Option<&str> {
        self.state().last_error.as_deref()
    }

    /// How long the last evaluation took.
    pub fn evaluation_duration(&self) -> Duration {
        self.state().duration
    }

    /// When the last evaluation started (ms, wall clock), if there was one.
    pub fn evaluation_timestamp(&self) -> Option<i64> {
        self.state().timestamp
    }

    /// The alerting rule, if this is one.
    pub fn as_alerting(&self) -> Option<&AlertingRule> {
        match self {
            Rule::Alerting(r) => Some(r),
            Rule::Recording(_) => None,
        }
    }

    /// The alerting rule, mutably, if this is one.
    pub fn as_alerting_mut(&mut self) -> Option<&mut AlertingRule> {
        match self {
            Rule::Alerting(r) => Some(r),
            Rule::Recording(_) => None,
        }
    }
}
