//! The server's rule manager: one task per group, evaluating on the group's grid
//! ([`eval_timestamp`]), handing due alerts to the notifier, and replacing groups on
//! a configuration reload without losing their state.
//!
//! As Prometheus's `rules.Manager`: a reload loads every file first and changes
//! nothing if any fails; a group that survives a reload (same file and name) keeps
//! its alerts, health and written series ([`Group::copy_state`]); series of groups
//! that went away get stale markers. Groups present at start-up restore their
//! alerts' `for` state from `ALERTS_FOR_STATE` after their second evaluation (the
//! first may come before the data alerts depend on); groups added by a later reload
//! start fresh.
//!
//! Beyond Prometheus, firing alerts (with their `keep_firing_for` progress) are
//! saved to a state file ([`ManagerOptions::state_file`], see `state_file`) every
//! [`SAVE_EVERY`] and at [`Manager::stop`], and put back at start-up, so that a
//! restart neither resolves an alert held by `keep_firing_for` nor re-fires one with
//! a new start time.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ember_model::labels::Labels;
use ember_promql::Engine;
use ember_storage::{Appendable, Queryable};

use crate::file::ParseOptions;
use crate::group::{EvalContext, Group, LoadOptions, load_groups};
use crate::rule::{Alert, Rule};
use crate::{EngineQueryFunc, Error, QueryFunc};

/// Where a manager reads, writes and sends.
pub struct ManagerOptions {
    /// Queried by the rules.
    pub queryable: Arc<dyn Queryable>,
    /// Receives recorded series, `ALERTS` and `ALERTS_FOR_STATE`.
    pub appendable: Arc<dyn Appendable>,
    /// The PromQL engine.
    pub engine: Engine,
    /// Receives alerts due for sending.
    pub notifier: Option<ember_notifier::Notifier>,
    /// `--rules.alert.for-outage-tolerance`.
    pub outage_tolerance: Duration,
    /// `--rules.alert.for-grace-period`.
    pub grace: Duration,
    /// `--rules.alert.resend-delay`.
    pub resend_delay: Duration,
    /// Where firing alerts are saved across restarts; `None` keeps them in memory
    /// only, as Prometheus does.
    pub state_file: Option<PathBuf>,
}

/// How often the alert state file is written while running.
pub const SAVE_EVERY: Duration = Duration::from_secs(30);

/// What a (re)load takes from the configuration.
#[derive(Clone, Debug, Default)]
pub struct RuleConfig {
    /// Rule files, globs already expanded.
    pub files: Vec<PathBuf>,
    /// `global.evaluation_interval`.
    pub interval: Duration,
    /// `global.rule_query_offset`.
    pub query_offset: Duration,
    /// `global.external_labels`.
    pub external_labels: BTreeMap<String, String>,
    /// `--web.external-url`.
    pub external_url: String,
    /// How the files are parsed.
    pub parse: ParseOptions,
}

struct Running {
    group: Arc<Mutex<Group>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    query: Arc<dyn QueryFunc>,
    queryable: Arc<dyn Queryable>,
    appendable: Arc<dyn Appendable>,
    notifier: Option<ember_notifier::Notifier>,
    outage_tolerance: Duration,
    grace: Duration,
    resend_delay: Duration,
    state_file: Option<PathBuf>,
}

struct State {
    groups: Vec<Running>,
    /// Whether the first load happened: groups of later loads do not restore.
    started: bool,
    /// Writes the state file every [`SAVE_EVERY`].
    saver: Option<tokio::task::JoinHandle<()>>,
}

/// The rule manager; cheap to clone.
#[derive(Clone)]
pub struct Manager {
    shared: Arc<Shared>,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager").finish_non_exhaustive()
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Go's `url.QueryEscape`: everything but letters, digits and `-_.~` is escaped,
/// spaces as `+`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The notifier's view of a rule's alert, as Prometheus's `sendAlerts` builds it:
/// the start is when it fired, the end when it resolved or until when this
/// notification is valid, and the link goes to the expression in the graph page.
pub fn to_notifier_alert(a: &Alert, expr: &str, external_url: &str) -> ember_notifier::Alert {
    ember_notifier::Alert {
        labels: a.labels.clone(),
        annotations: Labels::from_pairs(a.annotations.iter().map(|(k, v)| (k.clone(), v.clone()))),
        starts_at_ms: a.fired_at.unwrap_or(a.active_at),
        ends_at_ms: a.resolved_at.or(a.valid_until),
        generator_url: format!(
            "{}/graph?g0.expr={}&g0.tab=1",
            external_url.trim_end_matches('/'),
            query_escape(expr)
        ),
    }
}

impl Manager {
    /// A manager with no groups.
    pub fn new(opts: ManagerOptions) -> Manager {
        let query: Arc<dyn QueryFunc> = Arc::new(EngineQueryFunc {
            engine: opts.engine,
            queryable: Arc::clone(&opts.queryable),
        });
        Manager {
            shared: Arc::new(Shared {
                query,
                queryable: opts.queryable,
                appendable: opts.appendable,
                notifier: opts.notifier,
                outage_tolerance: opts.outage_tolerance,
                grace: opts.grace,
                resend_delay: opts.resend_delay,
                state_file: opts.state_file,
            }),
            state: Arc::new(Mutex::new(State {
                groups: Vec::new(),
                started: false,
                saver: None,
            })),
        }
    }

    /// Loads `cfg`'s rule files and replaces the running groups; on any error the
    /// running groups stay and the errors come back. Must run inside a Tokio runtime.
    pub fn update(&self, cfg: &RuleConfig) -> Result<(), Vec<Error>> {
        let loaded = load_groups(
            &cfg.files,
            &LoadOptions {
                default_interval: cfg.interval,
                external_labels: cfg.external_labels.clone(),
                external_url: cfg.external_url.clone(),
                parse: cfg.parse,
                restored: false,
            },
        )?;
        let Ok(mut state) = self.state.lock() else {
            return Err(vec![Error::Eval("rule manager state poisoned".into())]);
        };
        let restore = !state.started;
        state.started = true;
        let saved = match (&self.shared.state_file, restore) {
            (Some(path), true) => crate::state_file::load(path),
            _ => crate::state_file::Saved::new(),
        };
        if restore && self.shared.state_file.is_some() {
            let m = self.clone();
            state.saver = Some(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(SAVE_EVERY).await;
                    let m = m.clone();
                    let _ = tokio::task::spawn_blocking(move || m.save_state()).await;
                }
            }));
        }
        let mut old: HashMap<String, Running> = state
            .groups
            .drain(..)
            .map(|r| {
                let key = r.group.lock().map(|g| g.key()).unwrap_or_default();
                (key, r)
            })
            .collect();
        let mut running = Vec::with_capacity(loaded.len());
        for mut g in loaded {
            let mut restore_this = restore;
            crate::state_file::apply(&saved, &mut g);
            if let Some(prev) = old.remove(&g.key()) {
                prev.task.abort();
                if let Ok(p) = prev.group.lock() {
                    g.copy_state(&p);
                }
                restore_this = false;
            }
            // Only the groups of the first load restore `for` state from the TSDB, as
            // in Prometheus; a group added by a later reload starts fresh and writes
            // `ALERTS`/`ALERTS_FOR_STATE` from its first evaluation.
            if !restore_this {
                for r in g.rules_mut() {
                    if let Rule::Alerting(a) = r {
                        a.set_restored(true);
                    }
                }
            }
            let group = Arc::new(Mutex::new(g));
            let task = tokio::spawn(run_group(
                Arc::clone(&group),
                Arc::clone(&self.shared),
                cfg.query_offset,
                cfg.external_url.clone(),
                restore_this,
            ));
            running.push(Running { group, task });
        }
        // Groups that went away: their series get stale markers now.
        for (_, r) in old.drain() {
            r.task.abort();
            let series = r
                .group
                .lock()
                .map(|g| g.written_series())
                .unwrap_or_default();
            if !series.is_empty() {
                mark_stale(
                    self.shared.appendable.as_ref(),
                    &series,
                    now_ns() / 1_000_000,
                );
            }
        }
        state.groups = running;
        Ok(())
    }

    /// The running groups, in file and group order, for the API.
    pub fn groups(&self) -> Vec<Arc<Mutex<Group>>> {
        self.state
            .lock()
            .map(|s| s.groups.iter().map(|r| Arc::clone(&r.group)).collect())
            .unwrap_or_default()
    }

    /// Writes the alert state file now, if there is one.
    pub fn save_state(&self) {
        let Some(path) = &self.shared.state_file else {
            return;
        };
        let groups = self.groups();
        let guards: Vec<_> = groups.iter().filter_map(|g| g.lock().ok()).collect();
        let refs: Vec<&Group> = guards.iter().map(|g| &**g).collect();
        let content = crate::state_file::encode(&refs);
        drop(guards);
        if let Err(e) = crate::state_file::save(path, &content) {
            tracing::error!(file = %path.display(), err = %e, "cannot write alert state file");
        }
    }

    /// Stops every group and writes the alert state file.
    pub fn stop(&self) {
        if let Ok(mut s) = self.state.lock() {
            for r in &s.groups {
                r.task.abort();
            }
            if let Some(t) = s.saver.take() {
                t.abort();
            }
        }
        self.save_state();
        if let Ok(mut s) = self.state.lock() {
            s.groups.clear();
        }
    }
}

fn mark_stale(appendable: &dyn Appendable, series: &[Labels], ts: i64) {
    let stale = f64::from_bits(ember_model::value::STALE_NAN_BITS);
    let mut app = appendable.appender();
    for s in series {
        let _ = app.append(None, s, ts, stale);
    }
    if let Err(e) = app.commit() {
        tracing::warn!(err = %e, "writing stale markers for removed rule groups");
    }
}

async fn run_group(
    group: Arc<Mutex<Group>>,
    shared: Arc<Shared>,
    query_offset: Duration,
    external_url: String,
    mut restore: bool,
) {
    let (hash, interval) = match group.lock() {
        Ok(g) => (g.hash(), g.interval()),
        Err(_) => return,
    };
    let iv = i64::try_from(interval.as_nanos())
        .unwrap_or(i64::MAX)
        .max(1);
    let mut next = crate::group::eval_timestamp(hash, interval, now_ns()) + iv;
    let mut evaluations = 0u64;
    loop {
        let wait = next - now_ns();
        if wait > 0 {
            tokio::time::sleep(Duration::from_nanos(wait as u64)).await;
        }
        let ts_ms = next / 1_000_000;
        let g = Arc::clone(&group);
        let s = Arc::clone(&shared);
        let url = external_url.clone();
        // Restoring waits for the second evaluation, as in Prometheus: the first may
        // run before scrapes and recording rules have produced what alerts depend on.
        evaluations += 1;
        let do_restore = restore && evaluations == 2;
        let done = tokio::task::spawn_blocking(move || {
            let Ok(mut g) = g.lock() else { return };
            let ctx = EvalContext {
                query: Arc::clone(&s.query),
                appendable: s.appendable.as_ref(),
                default_query_offset: query_offset,
                resend_delay: s.resend_delay,
            };
            let alerts = g.eval_with_exprs(&ctx, ts_ms);
            if do_restore {
                g.restore_for_state(
                    s.queryable.as_ref(),
                    now_ns() / 1_000_000,
                    s.outage_tolerance,
                    s.grace,
                );
            }
            if let Some(n) = &s.notifier
                && !alerts.is_empty()
            {
                n.send(
                    alerts
                        .iter()
                        .map(|(expr, a)| to_notifier_alert(a, expr, &url))
                        .collect(),
                );
            }
        })
        .await;
        if let Err(e) = done {
            tracing::error!(err = %e, "rule group evaluation panicked");
        }
        if do_restore {
            restore = false;
        }
        // Skip iterations that were missed (a slow evaluation or a suspended
        // process), as Prometheus does, rather than running them back to back.
        let now = now_ns();
        next += iv;
        if next <= now {
            next += ((now - next) / iv + 1) * iv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn groups_added_by_a_reload_write_alerts_series() {
        use ember_model::{MatchType, Matcher};
        use ember_storage::list::MemStorage;
        let dir = std::env::temp_dir().join(format!("ember-rules-mgr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = dir.join("first.yml");
        let added = dir.join("added.yml");
        std::fs::write(&first, "groups:\n- name: rec\n  interval: 1s\n  rules:\n  - record: one\n    expr: vector(1)\n").unwrap();
        std::fs::write(&added, "groups:\n- name: alerts\n  interval: 1s\n  rules:\n  - alert: Always\n    expr: vector(1)\n").unwrap();
        let st = Arc::new(MemStorage::new());
        let m = Manager::new(ManagerOptions {
            queryable: st.clone(),
            appendable: st.clone(),
            engine: Engine::default(),
            notifier: None,
            outage_tolerance: Duration::from_secs(3600),
            grace: Duration::from_secs(600),
            resend_delay: Duration::from_secs(60),
            state_file: None,
        });
        let mut cfg = RuleConfig {
            files: vec![first.clone()],
            interval: Duration::from_secs(1),
            ..Default::default()
        };
        m.update(&cfg).unwrap();
        cfg.files.push(added);
        m.update(&cfg).unwrap();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        m.stop();
        let q = st.querier(0, i64::MAX).unwrap();
        let sel = [Matcher::new(MatchType::Equal, "__name__", "ALERTS").unwrap()];
        let n = q.select(false, None, &sel).flatten().count();
        assert_eq!(n, 1, "ALERTS of the added group");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn generator_urls_escape_like_go() {
        assert_eq!(query_escape("up == 0"), "up+%3D%3D+0");
        assert_eq!(query_escape("a_b-c.d~e"), "a_b-c.d~e");
        assert_eq!(query_escape("rate(x[5m])"), "rate%28x%5B5m%5D%29");
    }
}
