//! Rule groups: loading them from files, evaluating their rules in order at a given
//! timestamp, writing the results (with stale markers for series that went away), and
//! the schedule arithmetic the server's loop needs.
//!
//! Evaluation is a plain method taking the timestamp, so that the server's ticker,
//! promtool's unit tests and the tests here all drive the same code; the schedule
//! helpers are pure functions of the group's identity and interval.

use crate::file::{ParseOptions, parse_file};
use crate::rule::{Alert, AlertingRule, AlertingRuleOptions, Health, RecordingRule, Rule};
use crate::{Error, QueryFunc};
use ember_model::Labels;
use ember_model::value::stale_nan;
use ember_storage::{Appendable, HistogramRef, Queryable, ValueType};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to turn rule files into groups.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// The interval of groups without their own (`evaluation_interval`).
    pub default_interval: Duration,
    /// The server's external labels (`$externalLabels` in templates).
    pub external_labels: BTreeMap<String, String>,
    /// The server's external URL (`$externalURL` in templates).
    pub external_url: String,
    /// Parsing options (unknown fields, name validation, PromQL features).
    pub parse: ParseOptions,
    /// Whether alerting rules start with their `for` state restored (no restore
    /// pass will run). promtool's unit tests set this; a server restoring state from
    /// storage leaves it false and calls [`Group::restore_for_state`].
    pub restored: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            default_interval: Duration::from_secs(60),
            external_labels: BTreeMap::new(),
            external_url: String::new(),
            parse: ParseOptions::default(),
            restored: false,
        }
    }
}

/// Loads the groups of rule files, in file and then group order. Paths are taken as
/// they are: expanding `rule_files` globs is the caller's.
pub fn load_groups<P: AsRef<Path>>(
    paths: &[P],
    opts: &LoadOptions,
) -> Result<Vec<Group>, Vec<Error>> {
    let mut out = Vec::new();
    for p in paths {
        let p = p.as_ref();
        let rgs = parse_file(p, &opts.parse)?;
        for g in rgs.groups {
            let mut rules = Vec::with_capacity(g.rules.len());
            for r in &g.rules {
                let expr = ember_promql_parser::Parser::new(opts.parse.parser)
                    .parse_expr(&r.expr)
                    .map_err(|e| {
                        vec![Error::Yaml {
                            file: p.to_path_buf(),
                            message: e.to_string(),
                        }]
                    })?;
                let mut labels = g.labels.clone();
                labels.extend(r.labels.clone());
                let labels = Labels::from_pairs(labels);
                if r.alert.is_empty() {
                    rules.push(Rule::Recording(RecordingRule::new(&r.record, expr, labels)));
                } else {
                    rules.push(Rule::Alerting(AlertingRule::new(
                        &r.alert,
                        expr,
                        AlertingRuleOptions {
                            hold: r.for_.as_std(),
                            keep_firing_for: r.keep_firing_for.as_std(),
                            labels,
                            annotations: r.annotations.clone(),
                            external_labels: opts.external_labels.clone(),
                            external_url: opts.external_url.clone(),
                            restored: opts.restored,
                        },
                    )));
                }
            }
            out.push(Group::new(GroupOptions {
                name: g.name,
                file: p.to_path_buf(),
                interval: g.interval.map_or(opts.default_interval, |d| d.as_std()),
                limit: g.limit,
                query_offset: g.query_offset.map(|d| d.as_std()),
                rules,
            }));
        }
    }
    Ok(out)
}

/// What a group is made of.
#[derive(Debug)]
pub struct GroupOptions {
    /// The group's name.
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// How often it is evaluated.
    pub interval: Duration,
    /// Most series or alerts per rule; 0 for no limit.
    pub limit: usize,
    /// The group's own `query_offset`; `None` uses the global one.
    pub query_offset: Option<Duration>,
    /// The rules, in evaluation order.
    pub rules: Vec<Rule>,
}

/// What one evaluation needs from its surroundings.
pub struct EvalContext<'a> {
    /// Runs the rules' queries (and the templates' `query`).
    pub query: Arc<dyn QueryFunc>,
    /// Where results are written.
    pub appendable: &'a dyn Appendable,
    /// The global `rule_query_offset`, for groups without their own.
    pub default_query_offset: Duration,
    /// `--rules.alert.resend-delay`: how often a firing alert is sent again.
    pub resend_delay: Duration,
}

/// A group of rules evaluated in order at the same timestamp.
#[derive(Debug)]
pub struct Group {
    name: String,
    file: PathBuf,
    interval: Duration,
    limit: usize,
    query_offset: Option<Duration>,
    rules: Vec<Rule>,
    /// Per rule, the series written at the previous evaluation, to mark those that
    /// disappear as stale.
    previous: Vec<HashSet<Labels>>,
    /// Series of rules removed by a reload, marked stale at the next evaluation.
    stale_series: Vec<Labels>,
    last_evaluation: Option<i64>,
    evaluation_duration: Duration,
    last_samples: usize,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Group {
    /// A group from its parts.
    pub fn new(opts: GroupOptions) -> Self {
        let n = opts.rules.len();
        Group {
            name: opts.name,
            file: opts.file,
            interval: opts.interval,
            limit: opts.limit,
            query_offset: opts.query_offset,
            rules: opts.rules,
            previous: vec![HashSet::new(); n],
            stale_series: Vec::new(),
            last_evaluation: None,
            evaluation_duration: Duration::ZERO,
            last_samples: 0,
        }
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file the group came from.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Prometheus's key for a group: `file;name`.
    pub fn key(&self) -> String {
        group_key(&self.file, &self.name)
    }

    /// The evaluation interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The group's `limit` (0 for none).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The query offset in effect, given the global default.
    pub fn query_offset(&self, default: Duration) -> Duration {
        self.query_offset.unwrap_or(default)
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rules, mutably (to mark alerting rules restored, say).
    pub fn rules_mut(&mut self) -> &mut [Rule] {
        &mut self.rules
    }

    /// When the last evaluation started (ms, wall clock).
    pub fn last_evaluation(&self) -> Option<i64> {
        self.last_evaluation
    }

    /// How long the last evaluation took.
    pub fn evaluation_duration(&self) -> Duration {
        self.evaluation_duration
    }

    /// Samples the rules produced at the last evaluation.
    pub fn last_samples(&self) -> usize {
        self.last_samples
    }

    /// Series to mark stale at the next evaluation (those of rules a reload removed).
    pub fn set_stale_series(&mut self, series: Vec<Labels>) {
        self.stale_series = series;
    }

    /// The series each rule wrote at its last evaluation, all together; what a reload
    /// that drops this group hands to [`Group::set_stale_series`] of a survivor.
    pub fn written_series(&self) -> Vec<Labels> {
        self.previous.iter().flatten().cloned().collect()
    }

    /// Carries evaluation state over from the group this one replaces after a reload:
    /// written series (so stale markers stay right), active alerts and rule health,
    /// matched by rule name and labels as Prometheus matches them. Series of old
    /// rules with no counterpart become this group's stale series.
    pub fn copy_state(&mut self, old: &Group) {
        // Rules match by name and labels only, as in Prometheus: editing an alert's
        // expression keeps its pending and firing alerts (and their `for` progress).
        let key = |r: &Rule| (r.name().to_string(), r.labels().clone());
        let mut used = vec![false; old.rules.len()];
        for (i, r) in self.rules.iter_mut().enumerate() {
            let k = key(r);
            let Some(j) = (0..old.rules.len()).find(|j| !used[*j] && key(&old.rules[*j]) == k)
            else {
                continue;
            };
            used[j] = true;
            self.previous[i] = old.previous[j].clone();
            // Health and last error describe the old expression; a changed one starts
            // over as unknown.
            if r.query() == old.rules[j].query() {
                *r.state_mut() = old.rules[j].state().clone();
            }
            if let (Rule::Alerting(new), Rule::Alerting(o)) = (r, &old.rules[j]) {
                new.active_from(o);
            }
        }
        self.last_evaluation = old.last_evaluation;
        self.evaluation_duration = old.evaluation_duration;
        // Series still waiting for their stale markers (a reload came before the next
        // evaluation) stay queued, joined by those of rules that went away.
        self.stale_series = old.stale_series.clone();
        self.stale_series.extend(
            old.previous
                .iter()
                .zip(&used)
                .filter(|(_, u)| !**u)
                .flat_map(|(s, _)| s.iter().cloned()),
        );
    }

    /// Prometheus's hash of the group's identity, which spreads groups' evaluations
    /// over their interval.
    pub fn hash(&self) -> u64 {
        group_hash(&self.file, &self.name)
    }

    /// The evaluation time at or before `start_ns` (ns since the epoch) on this group's
    /// grid: multiples of the interval shifted by `hash % interval`.
    pub fn eval_timestamp(&self, start_ns: i64) -> i64 {
        eval_timestamp(self.hash(), self.interval, start_ns)
    }

    /// Evaluates every rule at `ts` (ms) in order, writes their results and stale
    /// markers, and returns the alerts to hand to the notifier. Failures are recorded
    /// in each rule's health and last error; evaluation goes on with the next rule.
    pub fn eval(&mut self, ctx: &EvalContext<'_>, ts: i64) -> Vec<Alert> {
        self.eval_with_exprs(ctx, ts)
            .into_iter()
            .map(|(_, a)| a)
            .collect()
    }

    /// [`Group::eval`], each alert with the expression of the rule it comes from
    /// (for the notifier's generator URL: rules may share an alert name).
    pub fn eval_with_exprs(&mut self, ctx: &EvalContext<'_>, ts: i64) -> Vec<(String, Alert)> {
        let started = Instant::now();
        let wall = wall_clock_ms();
        let offset = ms(self.query_offset(ctx.default_query_offset));
        let interval = ms(self.interval);
        let mut to_send = Vec::new();
        let mut samples_total = 0;
        for i in 0..self.rules.len() {
            let rule_started = Instant::now();
            let result = match &mut self.rules[i] {
                Rule::Recording(r) => r.eval(ctx.query.as_ref(), ts - offset, self.limit),
                Rule::Alerting(r) => r.eval(&ctx.query, ts, offset, self.limit),
            };
            let rule = &mut self.rules[i];
            let vector = match result {
                Ok(v) => v,
                Err(e) => {
                    let st = rule.state_mut();
                    st.health = Health::Bad;
                    st.last_error = Some(e.to_string());
                    st.duration = rule_started.elapsed();
                    st.timestamp = Some(wall);
                    continue;
                }
            };
            {
                let st = rule.state_mut();
                st.health = Health::Good;
                st.last_error = None;
            }
            samples_total += vector.len();
            if let Rule::Alerting(r) = rule {
                let expr = r.query().to_string();
                to_send.extend(
                    r.alerts_to_send(ts, ms(ctx.resend_delay), interval)
                        .into_iter()
                        .map(|a| (expr.clone(), a)),
                );
            }
            let mut app = ctx.appendable.appender();
            let mut returned = HashSet::with_capacity(self.previous[i].len());
            let mut append_error = None;
            for s in &vector {
                let r = match &s.h {
                    Some(h) => app.append_histogram(None, &s.metric, s.t, HistogramRef::Float(h)),
                    None => app.append(None, &s.metric, s.t, s.f),
                };
                match r {
                    Ok(_) => {
                        returned.insert(s.metric.clone());
                    }
                    Err(e) => append_error = Some(e.to_string()),
                }
            }
            for gone in self.previous[i].difference(&returned) {
                // Out-of-order and duplicate errors mean a newer sample exists, which
                // is as good as a stale marker; nothing else can be done about others.
                let _ = app.append(None, gone, ts - offset, stale_nan());
            }
            let st = rule.state_mut();
            if let Some(e) = append_error {
                st.health = Health::Bad;
                st.last_error = Some(e);
            }
            match app.commit() {
                Ok(()) => self.previous[i] = returned,
                Err(e) => {
                    st.health = Health::Bad;
                    st.last_error = Some(e.to_string());
                }
            }
            st.duration = rule_started.elapsed();
            st.timestamp = Some(wall);
        }
        if !self.stale_series.is_empty() {
            let mut app = ctx.appendable.appender();
            for s in &self.stale_series {
                let _ = app.append(None, s, ts - offset, stale_nan());
            }
            if app.commit().is_ok() {
                self.stale_series.clear();
            }
        }
        self.last_samples = samples_total;
        self.last_evaluation = Some(wall);
        self.evaluation_duration = started.elapsed();
        to_send
    }

    /// Restores the `for` state of alerting rules from their `ALERTS_FOR_STATE` series
    /// after a restart, as Prometheus does once before the first evaluation that
    /// follows one evaluation pass: an alert that had been pending for some time
    /// resumes where it was, shifted by the downtime, unless less than `grace` would
    /// remain, in which case it gets `grace`. Rules with a `for` shorter than `grace`
    /// need no restoring. `ts` is the restore time (ms); only series written within
    /// `outage_tolerance` before it count.
    pub fn restore_for_state(
        &mut self,
        queryable: &dyn Queryable,
        ts: i64,
        outage_tolerance: Duration,
        grace: Duration,
    ) {
        let grace = ms(grace);
        let Ok(q) = queryable.querier(ts - ms(outage_tolerance), ts) else {
            for r in &mut self.rules {
                if let Rule::Alerting(a) = r {
                    a.set_restored(true);
                }
            }
            return;
        };
        for r in &mut self.rules {
            let Rule::Alerting(a) = r else { continue };
            let hold = ms(a.hold_duration());
            if hold < grace {
                a.set_restored(true);
                continue;
            }
            let matchers = a.for_state_matchers();
            let mut last: BTreeMap<Labels, (i64, f64)> = BTreeMap::new();
            for s in q.select(false, None, &matchers).flatten() {
                let key = s.labels().without(&["__name__"]);
                let mut it = s.iter();
                let mut lt = None;
                while it.next() == ValueType::Float {
                    let (t, v) = it.at();
                    if t <= ts {
                        lt = Some((t, v));
                    }
                }
                if let Some(x) = lt {
                    last.insert(key, x);
                }
            }
            for alert in a.alerts_mut() {
                let Some(&(t, v)) = last.get(&alert.labels) else {
                    continue;
                };
                if ember_model::value::is_stale_nan(v) {
                    continue;
                }
                let down_at = t.div_euclid(1000) * 1000;
                let mut active_at = (v as i64) * 1000;
                let remaining = hold - (down_at - active_at);
                if remaining <= 0 {
                } else if remaining < grace {
                    active_at = ts + grace - hold;
                } else {
                    active_at += ts - down_at;
                }
                alert.active_at = active_at;
            }
            a.set_restored(true);
        }
    }
}

impl AlertingRule {
    fn active_from(&mut self, old: &AlertingRule) {
        for a in old.alerts() {
            self.insert_alert(a.clone());
        }
    }
}

/// Prometheus's group key: `file;name`.
pub fn group_key(file: &Path, name: &str) -> String {
    format!("{};{name}", file.display())
}

/// The hash of a group's identity (the label set `{file, name}`), from which its
/// evaluation offset within the interval is taken.
pub fn group_hash(file: &Path, name: &str) -> u64 {
    Labels::from_pairs([
        ("name", name.to_string()),
        ("file", file.display().to_string()),
    ])
    .hash64()
}

/// The latest evaluation time at or before `start_ns` (ns) for a group with `hash` and
/// `interval`: the grid of interval multiples shifted by `hash % interval`, so that
/// groups spread over the interval yet keep their slot across restarts.
pub fn eval_timestamp(hash: u64, interval: Duration, start_ns: i64) -> i64 {
    let iv = i64::try_from(interval.as_nanos())
        .unwrap_or(i64::MAX)
        .max(1);
    let offset = (hash % iv as u64) as i64;
    let adj = start_ns - offset;
    let base = adj - adj.rem_euclid(iv);
    base + offset
}

fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::AlertState;
    use crate::{EngineQueryFunc, template::SampleValue};
    use ember_model::value::is_stale_nan;
    use ember_promql::Engine;
    use ember_storage::list::MemStorage;

    const MIN: i64 = 60_000;

    fn setup(rules: &str) -> (Arc<MemStorage>, Vec<Group>) {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ember-rules-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("r.yml");
        std::fs::write(&f, rules).unwrap();
        let groups = load_groups(
            &[&f],
            &LoadOptions {
                restored: true,
                external_url: "http://ember/".into(),
                ..Default::default()
            },
        )
        .unwrap();
        (Arc::new(MemStorage::new()), groups)
    }

    fn ctx(st: &Arc<MemStorage>) -> EvalContext<'_> {
        EvalContext {
            query: Arc::new(EngineQueryFunc {
                engine: Engine::default(),
                queryable: st.clone(),
            }),
            appendable: st.as_ref(),
            default_query_offset: Duration::ZERO,
            resend_delay: Duration::from_secs(60),
        }
    }

    fn put(st: &MemStorage, labels: &[(&str, &str)], t: i64, v: f64) {
        let mut app = st.appender();
        app.append(None, &Labels::from_pairs(labels.iter().copied()), t, v)
            .unwrap();
        app.commit().unwrap();
    }

    /// The last sample of the series with exactly these labels, at or before `t`.
    fn last(st: &MemStorage, labels: &[(&str, &str)], t: i64) -> Option<(i64, f64)> {
        let want = Labels::from_pairs(labels.iter().copied());
        let q = st.querier(0, t).unwrap();
        let m = ember_model::Matcher::new(
            ember_model::MatchType::Equal,
            "__name__",
            want.metric_name(),
        )
        .unwrap();
        let mut out = None;
        for s in q.select(false, None, &[m]).flatten() {
            if *s.labels() != want {
                continue;
            }
            let mut it = s.iter();
            while it.next() == ValueType::Float {
                if it.at().0 <= t {
                    out = Some(it.at());
                }
            }
        }
        out
    }

    #[test]
    fn alerts_go_pending_firing_and_resolve() {
        let (st, mut groups) = setup(
            "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 2m\n    labels: {sev: '{{ $labels.job }}-page'}\n    annotations: {s: 'value {{ $value }}'}\n",
        );
        let c = ctx(&st);
        let g = &mut groups[0];
        let job = [("__name__", "up"), ("job", "a")];
        let alert = |g: &Group| {
            g.rules()[0]
                .as_alerting()
                .unwrap()
                .active_alerts()
                .first()
                .map(|a| (a.state, a.active_at))
        };
        put(&st, &job, 0, 0.0);
        assert!(g.eval(&c, 0).is_empty());
        assert_eq!(alert(g), Some((AlertState::Pending, 0)));
        let a = g.rules()[0].as_alerting().unwrap().active_alerts()[0].clone();
        assert_eq!(
            a.labels.to_string(),
            "{alertname=\"Down\", job=\"a\", sev=\"a-page\"}"
        );
        assert_eq!(a.annotations["s"], "value 0");
        assert_eq!(a.value, SampleValue::Float(0.0));
        let alerts_series = [
            ("__name__", "ALERTS"),
            ("alertname", "Down"),
            ("alertstate", "pending"),
            ("job", "a"),
            ("sev", "a-page"),
        ];
        assert_eq!(last(&st, &alerts_series, 0), Some((0, 1.0)));
        let for_state = [
            ("__name__", "ALERTS_FOR_STATE"),
            ("alertname", "Down"),
            ("job", "a"),
            ("sev", "a-page"),
        ];
        assert_eq!(last(&st, &for_state, 0), Some((0, 0.0)));

        put(&st, &job, MIN, 0.0);
        g.eval(&c, MIN);
        assert_eq!(alert(g), Some((AlertState::Pending, 0)));
        put(&st, &job, 2 * MIN, 0.0);
        let sent = g.eval(&c, 2 * MIN);
        assert_eq!(alert(g), Some((AlertState::Firing, 0)));
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].valid_until, Some(2 * MIN + 4 * MIN));
        // The pending series went away: a stale marker ends it.
        let (t, v) = last(&st, &alerts_series, 2 * MIN).unwrap();
        assert_eq!(t, 2 * MIN);
        assert!(is_stale_nan(v));
        // Not re-sent before the resend delay.
        put(&st, &job, 2 * MIN + 30_000, 0.0);
        assert!(g.eval(&c, 2 * MIN + 30_000).is_empty());

        put(&st, &job, 3 * MIN, 1.0);
        let sent = g.eval(&c, 3 * MIN);
        assert!(alert(g).is_none());
        assert_eq!(sent.len(), 1, "the resolution is sent");
        assert_eq!(sent[0].state, AlertState::Inactive);
        assert_eq!(sent[0].resolved_at, Some(3 * MIN));
        assert_eq!(g.rules()[0].health(), Health::Good);
    }

    #[test]
    fn keep_firing_for_holds_alerts() {
        let (st, mut groups) = setup(
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    keep_firing_for: 2m\n",
        );
        let c = ctx(&st);
        let g = &mut groups[0];
        let job = [("__name__", "up"), ("job", "a")];
        let state = |g: &Group| g.rules()[0].as_alerting().unwrap().state();
        put(&st, &job, 0, 0.0);
        g.eval(&c, 0);
        assert_eq!(state(g), AlertState::Firing);
        put(&st, &job, MIN, 1.0);
        g.eval(&c, MIN);
        assert_eq!(state(g), AlertState::Firing, "kept firing");
        put(&st, &job, 2 * MIN, 1.0);
        g.eval(&c, 2 * MIN);
        assert_eq!(state(g), AlertState::Firing, "still within keep_firing_for");
        put(&st, &job, 3 * MIN, 1.0);
        g.eval(&c, 3 * MIN);
        assert_eq!(state(g), AlertState::Inactive);
    }

    #[test]
    fn recording_rules_write_and_mark_stale() {
        let (st, mut groups) = setup(
            "groups:\n- name: g\n  limit: 2\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n    labels: {src: rule}\n",
        );
        let c = ctx(&st);
        let g = &mut groups[0];
        put(&st, &[("__name__", "up"), ("job", "a")], 0, 3.0);
        g.eval(&c, 0);
        let rec = [("__name__", "job:up:sum"), ("job", "a"), ("src", "rule")];
        assert_eq!(last(&st, &rec, 0), Some((0, 3.0)));
        // The input goes stale, so the recorded series does too.
        put(&st, &[("__name__", "up"), ("job", "a")], MIN, stale_nan());
        g.eval(&c, MIN);
        assert!(last(&st, &rec, MIN).is_some_and(|(t, v)| t == MIN && is_stale_nan(v)));
        // Over the limit: an error, nothing written.
        for j in ["x", "y", "z"] {
            put(&st, &[("__name__", "up"), ("job", j)], 2 * MIN, 1.0);
        }
        g.eval(&c, 2 * MIN);
        assert_eq!(g.rules()[0].health(), Health::Bad);
        assert_eq!(
            g.rules()[0].last_error(),
            Some("exceeded limit of 2 with 3 series")
        );
        assert_eq!(
            last(
                &st,
                &[("__name__", "job:up:sum"), ("job", "x"), ("src", "rule")],
                2 * MIN
            ),
            None
        );
    }

    #[test]
    fn templates_can_query() {
        let (st, mut groups) = setup(
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: vector(1)\n    annotations:\n      q: '{{ with query \"sum(up)\" }}{{ . | first | value | humanize }}{{ end }}'\n      bad: '{{ query \"sum(\" }}'\n",
        );
        let c = ctx(&st);
        put(&st, &[("__name__", "up"), ("job", "a")], 0, 1500.0);
        groups[0].eval(&c, 0);
        let a = groups[0].rules()[0].as_alerting().unwrap().active_alerts()[0].clone();
        assert_eq!(a.annotations.get("q").map(String::as_str), Some("1.5k"));
        assert!(
            a.annotations
                .get("bad")
                .is_some_and(|v| v
                    .starts_with("<error expanding template: error executing template __alert_A:")),
            "{:?}",
            a.annotations
        );
    }

    #[test]
    fn copy_state_matches_rules_by_name_and_labels() {
        let (st, mut old) = setup(
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    for: 5m\n  - record: gone\n    expr: up\n",
        );
        let c = ctx(&st);
        let job = [("__name__", "up"), ("job", "a")];
        put(&st, &job, 0, 0.0);
        old[0].eval(&c, 0);
        // A reload before the next evaluation leaves queued stale series behind.
        old[0].set_stale_series(vec![Labels::from_pairs([("__name__", "queued")])]);
        let (_, mut new) =
            setup("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up < 1\n    for: 5m\n");
        new[0].copy_state(&old[0]);
        let a = new[0].rules()[0].as_alerting().unwrap();
        assert_eq!(
            a.active_alerts().len(),
            1,
            "a changed expression keeps alerts"
        );
        assert_eq!(a.active_alerts()[0].active_at, 0);
        assert_eq!(new[0].rules()[0].health(), Health::Unknown);
        put(&st, &job, MIN, 0.0);
        new[0].eval(&c, MIN);
        let a = &new[0].rules()[0].as_alerting().unwrap().active_alerts()[0];
        assert_eq!((a.state, a.active_at), (AlertState::Pending, 0));
        // Both the queued series and the removed rule's series got stale markers.
        let (t, v) = last(&st, &[("__name__", "queued")], MIN).unwrap();
        assert!(t == MIN && is_stale_nan(v));
        let (t, v) = last(&st, &[("__name__", "gone"), ("job", "a")], MIN).unwrap();
        assert!(t == MIN && is_stale_nan(v));
    }

    #[test]
    fn group_query_offset_and_labels() {
        let (st, mut groups) = setup(
            "groups:\n- name: g\n  query_offset: 1m\n  labels: {team: infra, src: group}\n  rules:\n  - record: r\n    expr: up\n    labels: {src: rule}\n",
        );
        let c = ctx(&st);
        let job = [("__name__", "up"), ("job", "a")];
        put(&st, &job, 0, 1.0);
        put(&st, &job, MIN, 2.0);
        groups[0].eval(&c, MIN);
        // Queried a minute back, written at the query time, rule labels over group's.
        let rec = [
            ("__name__", "r"),
            ("job", "a"),
            ("src", "rule"),
            ("team", "infra"),
        ];
        assert_eq!(last(&st, &rec, MIN), Some((0, 1.0)));
    }

    #[test]
    fn alert_limit_fails_the_rule_and_drops_its_alerts() {
        let (st, mut groups) =
            setup("groups:\n- name: g\n  limit: 1\n  rules:\n  - alert: A\n    expr: up == 0\n");
        let c = ctx(&st);
        for j in ["a", "b"] {
            put(&st, &[("__name__", "up"), ("job", j)], 0, 0.0);
        }
        groups[0].eval(&c, 0);
        let r = &groups[0].rules()[0];
        assert_eq!(r.health(), Health::Bad);
        assert_eq!(r.last_error(), Some("exceeded limit of 1 with 2 alerts"));
        assert!(r.as_alerting().unwrap().active_alerts().is_empty());
    }

    #[test]
    fn schedule_spreads_groups() {
        let iv = Duration::from_secs(60);
        let h = group_hash(Path::new("r.yml"), "g");
        let t = eval_timestamp(h, iv, 1_000_000_000_000_000_000);
        assert!(t <= 1_000_000_000_000_000_000);
        assert!(1_000_000_000_000_000_000 - t < 60_000_000_000);
        assert_eq!(
            (t as u64).wrapping_sub(h % 60_000_000_000) % 60_000_000_000,
            0
        );
        assert_eq!(eval_timestamp(h, iv, t), t);
        assert_eq!(group_key(Path::new("r.yml"), "g"), "r.yml;g");
    }
}
