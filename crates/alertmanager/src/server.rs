//! The running Alertmanager: configuration and reload, the alert store, the
//! dispatcher with its aggregation groups and timers, the notification pipeline, and
//! maintenance.
//!
//! Everything hangs off one [`Alertmanager`] handle (cheap to clone) that the HTTP
//! API ([`crate::api`]) and the binary share. The pipeline follows Alertmanager
//! 0.25's:
//!
//! 1. an alert posted to the API is merged into the store, then handed to the
//!    dispatcher, which puts it into one aggregation group per matching route
//!    (group key = route key + group labels);
//! 2. each group runs a timer task: the first flush comes `group_wait` after the
//!    group was created (at once if the alert started more than `group_wait` ago),
//!    the next ones every `group_interval`;
//! 3. a flush takes the group's alerts (end times of firing ones zeroed), drops the
//!    inhibited ones, stops if the route is outside its active or inside a mute time
//!    interval, drops the silenced ones, and then, for each integration of the
//!    receiver *concurrently*, asks the notification log whether anything changed
//!    (or `repeat_interval` passed), sends with retries and exponential backoff until
//!    the flush's deadline (`group_interval`, at least 10s), and logs what was sent;
//! 4. when every integration succeeded, the resolved alerts that did not change
//!    meanwhile leave the group; empty groups are removed by maintenance.
//!
//! A group's flush only holds up that group: groups run as separate tasks and
//! integrations as separate futures, so a slow or failing receiver delays nobody
//! else.
//!
//! Two extensions of Ember's own:
//!
//! - **Notify on unmute** (prometheus/alertmanager#3367; on by default, off with
//!   `--notify.on-unmute=false`, which gives Alertmanager's behaviour): when a
//!   silence ends (at its end time, or expired through the API) or a route's mute
//!   time interval ends / active time interval begins, every group that has already
//!   notified and holds a firing alert the silence matches (or the route's groups)
//!   is flushed at once instead of at its next `group_interval` tick; groups still
//!   in `group_wait` keep waiting. The flush applies the usual filters, so alerts
//!   still silenced or inhibited stay quiet, and the notification log's muting
//!   record ([`crate::nflog`]) makes the alerts that were notified, then muted, and
//!   now fire unmuted count as news exactly once.
//! - **Silence notifications** (prometheus/alertmanager#730, `silence_notifications:`
//!   in the configuration): a silence created through the API, or ending, is
//!   reported through a receiver's integrations. Ends are detected by a watcher
//!   that sleeps until the next end (or a change); the instant up to which ends were
//!   handled is persisted with the silences, so silences that ended while Ember was
//!   down are reported once after a restart (at most once: the mark is written
//!   before sending).

use crate::alert::{Alert, AlertStore, alert_order};
use crate::config::Config;
use crate::config::SilenceEvent;
use crate::error::Error;
use crate::inhibit::{InhibitRule, find_inhibitor};
use crate::nflog::{self, NotificationLog};
use crate::notify::{self, HttpClient, Integration};
use crate::route::{Route, RouteOpts};
use crate::silence::{Silence, SilenceError, Silences};
use crate::timeinterval::{TimeInterval, any_contains};
use crate::tmpl::{Data, SilenceData, Templates};
use ember_model::Labels;
use jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;
use tokio::sync::Notify;

/// What the Alertmanager is started with (the binary's flags).
#[derive(Clone, Debug)]
pub struct Options {
    /// `--config.file`.
    pub config_file: PathBuf,
    /// `--storage.path`: silences and notification log live here; `None` keeps
    /// them in memory (tests).
    pub storage_path: Option<PathBuf>,
    /// `--web.external-url`, resolved (no trailing slash).
    pub external_url: String,
    /// `--data.retention`: how long expired silences and notification log entries
    /// are kept.
    pub retention: Duration,
    /// `--alerts.gc-interval`: how often resolved alerts leave the store.
    pub gc_interval: Duration,
    /// `--notify.on-unmute` (Ember's own, default true): notify firing alerts again
    /// as soon as the silence or time interval that muted them ends; false keeps
    /// Alertmanager's behaviour (next `repeat_interval`).
    pub notify_on_unmute: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config_file: PathBuf::from("alertmanager.yml"),
            storage_path: None,
            external_url: "http://localhost:9093".into(),
            retention: Duration::from_secs(120 * 3600),
            gc_interval: Duration::from_secs(30 * 60),
            notify_on_unmute: true,
        }
    }
}

/// Notification timeouts never go below this (Alertmanager's `MinTimeout`).
const MIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a silence notification is retried.
const SILENCE_NOTIFY_TIMEOUT: Duration = Duration::from_secs(60);

/// A loaded configuration with everything derived from it.
pub(crate) struct Loaded {
    pub(crate) config: Config,
    pub(crate) original: String,
    pub(crate) route: Route,
    pub(crate) inhibit: Vec<InhibitRule>,
    pub(crate) receivers: HashMap<String, Vec<(Integration, usize)>>,
    pub(crate) templates: Templates,
    pub(crate) intervals: HashMap<String, Vec<TimeInterval>>,
}

impl Loaded {
    fn load(path: &std::path::Path) -> Result<Loaded, Error> {
        let original = std::fs::read_to_string(path).map_err(|source| Error::Io {
            file: path.to_path_buf(),
            source,
        })?;
        let config = crate::config::load_file(path)?;
        let root = config.route.as_ref().ok_or_else(|| Error::Invalid {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            field: String::new(),
            message: "no route provided in config".into(),
        })?;
        let route = Route::new(root);
        let inhibit = config.inhibit_rules.iter().map(InhibitRule::new).collect();
        let receivers = config
            .receivers
            .iter()
            .map(|r| (r.name.clone(), notify::integrations(r)))
            .collect();
        let templates = Templates::load(&config.templates)?;
        let intervals = config
            .time_intervals
            .iter()
            .chain(&config.mute_time_intervals)
            .map(|n| (n.name.clone(), n.time_intervals.clone()))
            .collect();
        Ok(Loaded {
            original: mask_secrets(&original),
            route,
            inhibit,
            receivers,
            templates,
            intervals,
            config,
        })
    }

    /// Whether a route with `opts` is muted by time at `now`: outside its active
    /// time intervals (when it has any) or inside a mute time interval.
    pub(crate) fn time_muted(&self, opts: &RouteOpts, now: Timestamp) -> bool {
        (!opts.active_time_intervals.is_empty()
            && !self.in_intervals(&opts.active_time_intervals, now))
            || self.in_intervals(&opts.mute_time_intervals, now)
    }

    fn in_intervals(&self, names: &[String], now: Timestamp) -> bool {
        let at = now.to_zoned_datetime(jiff::tz::TimeZone::UTC);
        names.iter().any(|n| {
            self.intervals
                .get(n)
                .is_some_and(|list| any_contains(list, &at))
        })
    }
}

/// Keys whose values are credentials in `alertmanager.yml` (Alertmanager's
/// `Secret` and `SecretURL` fields).
const SECRET_KEYS: &[&str] = &[
    "password",
    "smtp_auth_password",
    "smtp_auth_secret",
    "auth_password",
    "auth_secret",
    "slack_api_url",
    "api_url",
    "webhook_url",
    "service_key",
    "routing_key",
    "api_key",
    "opsgenie_api_key",
    "victorops_api_key",
    "wechat_api_secret",
    "api_secret",
    "bot_token",
    "token",
    "user_key",
    "secret_key",
    "client_secret",
    "credentials",
    "bearer_token",
];

/// The configuration text as `/api/v2/status` shows it: the file with credential
/// values replaced by `<secret>`, as Alertmanager shows them (it re-marshals the
/// parsed configuration; Ember keeps the user's layout and comments). Only
/// single-line values are recognised. Slack's `api_url` is a secret; other
/// integrations' `api_url` is not, but masking it too errs on the safe side.
pub(crate) fn mask_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let trimmed = body.trim_start().trim_start_matches("- ");
        let masked = trimmed.split_once(':').and_then(|(k, v)| {
            let v = v.trim();
            (SECRET_KEYS.contains(&k.trim()) && !v.is_empty() && !v.starts_with(['|', '>'])).then(
                || {
                    let indent = &body[..body.len() - trimmed.len()];
                    format!("{indent}{}: <secret>", k.trim())
                },
            )
        });
        match masked {
            Some(m) => {
                out.push_str(&m);
                out.push_str(&line[body.len()..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// Counters exposed at `/metrics` under Alertmanager's names.
#[derive(Default)]
pub(crate) struct Metrics {
    /// Per integration: notifications, failed notifications, requests, failed
    /// requests.
    pub(crate) integrations: Mutex<BTreeMap<&'static str, [u64; 4]>>,
    pub(crate) alerts_firing: Mutex<u64>,
    pub(crate) alerts_resolved: Mutex<u64>,
    pub(crate) alerts_invalid: Mutex<u64>,
    pub(crate) reload_ok: AtomicBool,
    pub(crate) reload_time: Mutex<f64>,
}

impl Metrics {
    fn bump(&self, integration: &'static str, slot: usize) {
        let mut m = lock(&self.integrations);
        m.entry(integration).or_default()[slot] += 1;
    }
}

/// Locks a mutex, recovering from poisoning: a panic in one notification must not
/// stop the whole Alertmanager.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct GroupState {
    alerts: HashMap<u64, Alert>,
    next: tokio::time::Instant,
    has_flushed: bool,
    /// Whether the route was muted by time at the last check (`None` before the
    /// first), to see mute intervals end and active intervals begin.
    time_muted: Option<bool>,
}

/// An aggregation group.
pub(crate) struct Group {
    pub(crate) key: String,
    pub(crate) opts: RouteOpts,
    pub(crate) labels: Labels,
    state: Mutex<GroupState>,
    wake: Notify,
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Group {
    fn insert(&self, alert: Alert) {
        let mut st = lock(&self.state);
        let started_long_ago = jiff::SignedDuration::try_from(self.opts.group_wait)
            .ok()
            .and_then(|w| alert.starts_at.checked_add(w).ok())
            .is_some_and(|t| t < Timestamp::now());
        st.alerts.insert(alert.fingerprint(), alert);
        // An alert that started more than group_wait ago is not news to wait for.
        if !st.has_flushed && started_long_ago {
            st.next = tokio::time::Instant::now();
            self.wake.notify_one();
        }
    }

    pub(crate) fn alerts(&self) -> Vec<Alert> {
        lock(&self.state).alerts.values().cloned().collect()
    }

    /// Flushes the group at once if it has notified before (a group still in
    /// `group_wait` keeps waiting); returns whether it will.
    fn flush_now(&self) -> bool {
        let mut st = lock(&self.state);
        if !st.has_flushed {
            return false;
        }
        st.next = tokio::time::Instant::now();
        drop(st);
        self.wake.notify_one();
        true
    }

    fn is_empty(&self) -> bool {
        lock(&self.state).alerts.is_empty()
    }

    fn stop(&self) {
        if let Some(t) = lock(&self.task).take() {
            t.abort();
        }
    }
}

type GroupId = (Vec<usize>, String);

/// Inhibition rules with the candidate source alerts.
pub(crate) struct Inhibitor<'a> {
    rules: &'a [InhibitRule],
    sources: Vec<(Labels, u64)>,
}

impl Inhibitor<'_> {
    /// Fingerprint (hex) of an alert inhibiting `labels`, if any.
    pub(crate) fn inhibited_by(&self, labels: &Labels) -> Option<String> {
        if self.sources.is_empty() {
            return None;
        }
        find_inhibitor(
            self.rules,
            labels,
            self.sources.iter().map(|(l, f)| (l, *f)),
        )
        .map(|fp| format!("{fp:016x}"))
    }
}

pub(crate) struct Inner {
    pub(crate) opts: Options,
    pub(crate) loaded: RwLock<Arc<Loaded>>,
    pub(crate) alerts: Mutex<AlertStore>,
    pub(crate) silences: Mutex<Silences>,
    pub(crate) nflog: Mutex<NotificationLog>,
    groups: Mutex<HashMap<GroupId, Arc<Group>>>,
    pub(crate) metrics: Metrics,
    client: HttpClient,
    pub(crate) started: Timestamp,
    /// Wakes the silence watcher when silences change.
    silence_wake: Notify,
}

/// A running Alertmanager. Clones share it.
#[derive(Clone)]
pub struct Alertmanager {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Alertmanager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alertmanager")
            .field("opts", &self.inner.opts)
            .finish_non_exhaustive()
    }
}

impl Alertmanager {
    /// Loads the configuration and the persisted silences and notification log.
    /// Must be called within a Tokio runtime; [`Alertmanager::start`] then starts
    /// maintenance.
    pub fn new(opts: Options) -> Result<Alertmanager, Error> {
        let loaded = Loaded::load(&opts.config_file)?;
        let io = |dir: &PathBuf, e: std::io::Error| Error::Io {
            file: dir.clone(),
            source: e,
        };
        let (mut silences, nflog) = match &opts.storage_path {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
                (
                    Silences::open(dir).map_err(|e| io(dir, e))?,
                    NotificationLog::open(dir).map_err(|e| io(dir, e))?,
                )
            }
            None => (Silences::new(), NotificationLog::new()),
        };
        let metrics = Metrics::default();
        {
            let mut m = lock(&metrics.integrations);
            // The integrations Alertmanager 0.25 reports from the start.
            for n in [
                "email",
                "opsgenie",
                "pagerduty",
                "pushover",
                "slack",
                "sns",
                "telegram",
                "victorops",
                "webhook",
                "wechat",
            ] {
                m.insert(n, [0; 4]);
            }
        }
        metrics.reload_ok.store(true, Ordering::Relaxed);
        *lock(&metrics.reload_time) = Timestamp::now().as_millisecond() as f64 / 1000.0;
        // A set without an expiry mark (new, or written before Ember kept one):
        // silences that ended before now are history, not news.
        if silences.expiry_mark().is_none() {
            silences.set_expiry_mark(Timestamp::now());
        }
        Ok(Alertmanager {
            inner: Arc::new(Inner {
                opts,
                loaded: RwLock::new(Arc::new(loaded)),
                alerts: Mutex::new(AlertStore::new()),
                silences: Mutex::new(silences),
                nflog: Mutex::new(nflog),
                groups: Mutex::new(HashMap::new()),
                metrics,
                client: HttpClient::new(),
                started: Timestamp::now(),
                silence_wake: Notify::new(),
            }),
        })
    }

    /// Starts the maintenance task (garbage collection, persistence of the
    /// notification log, removal of empty groups, time interval transitions) and
    /// the silence watcher (silence ends); they run until the runtime stops.
    pub fn start(&self) {
        let inner = self.inner.clone();
        tokio::spawn(async move { maintenance(inner).await });
        let am = self.clone();
        tokio::spawn(async move { silence_watcher(am).await });
    }

    /// Creates or updates a silence (API v2's `POST /api/v2/silences`), reporting a
    /// newly created one to `silence_notifications`. A silence that an update
    /// expires is handled by the watcher like any other end.
    pub fn set_silence(&self, sil: Silence) -> Result<String, SilenceError> {
        let given = sil.id.clone();
        let (id, created, now) = {
            let mut silences = lock(&self.inner.silences);
            // The time is taken under the lock, so that ends it writes are never
            // before the watcher's mark.
            let now = Timestamp::now();
            let id = silences.set(sil, now)?;
            let created = (id != given).then(|| silences.get(&id).cloned()).flatten();
            (id, created, now)
        };
        self.inner.silence_wake.notify_one();
        if let Some(s) = created {
            self.silence_event(SilenceEvent::Create, &s, now);
        }
        Ok(id)
    }

    /// Expires a silence now (API v2's `DELETE /api/v2/silence/{id}`); the watcher
    /// then handles its end.
    pub fn expire_silence(&self, id: &str) -> Result<(), SilenceError> {
        {
            let mut silences = lock(&self.inner.silences);
            let now = Timestamp::now();
            silences.expire(id, now)?;
        }
        self.inner.silence_wake.notify_one();
        Ok(())
    }

    /// Handles the silences that ended since the last call (the expiry mark):
    /// flushes the groups they muted (notify on unmute) and reports them to
    /// `silence_notifications`. Returns when the next silence ends.
    fn process_silence_ends(&self) -> Option<Timestamp> {
        let (ended, now, next) = {
            let mut silences = lock(&self.inner.silences);
            let now = Timestamp::now();
            let mark = silences.expiry_mark().unwrap_or(now);
            let ended = if now > mark {
                silences.ended_between(mark, now)
            } else {
                Vec::new()
            };
            if !ended.is_empty() {
                // Written before anything is sent: at most once across restarts.
                silences.set_expiry_mark(now);
            } else if now > mark {
                // Nothing ended in between: the mark on disk stays valid.
                silences.advance_expiry_mark(now);
            }
            (ended, now, silences.next_end_after(now))
        };
        for s in &ended {
            tracing::debug!(silence = %s.id, "silence ended");
            if self.inner.opts.notify_on_unmute {
                self.flush_groups_muted_by(s, now);
            }
            self.silence_event(SilenceEvent::Expire, s, now);
        }
        next
    }

    /// Flushes at once the groups holding a firing alert that `silence` matches.
    fn flush_groups_muted_by(&self, silence: &Silence, now: Timestamp) {
        for g in self.groups() {
            let holds = lock(&g.state)
                .alerts
                .values()
                .any(|a| !a.resolved_at(now) && silence.matches(&a.labels));
            if holds && g.flush_now() {
                tracing::debug!(aggrGroup = %g.key, silence = %silence.id, "flushing on unmute");
            }
        }
    }

    /// Notes for each group whose route has time intervals whether it is muted by
    /// time at `now`, and flushes at once those whose mute ended (notify on unmute).
    pub(crate) fn check_time_intervals(&self, now: Timestamp) {
        let loaded = self.loaded();
        for g in self.groups() {
            if g.opts.mute_time_intervals.is_empty() && g.opts.active_time_intervals.is_empty() {
                continue;
            }
            let muted = loaded.time_muted(&g.opts, now);
            let prev = lock(&g.state).time_muted.replace(muted);
            if prev == Some(true) && !muted && g.flush_now() {
                tracing::debug!(aggrGroup = %g.key, "flushing on the end of a time mute");
            }
        }
    }

    /// Reports `event` for `silence` through the `silence_notifications` receiver,
    /// if configured for it: one delivery per integration that carries silences,
    /// each retried for a minute.
    fn silence_event(&self, event: SilenceEvent, silence: &Silence, now: Timestamp) {
        let loaded = self.loaded();
        let Some(sn) = loaded.config.silence_notifications.clone() else {
            return;
        };
        if !sn.reports(event) {
            return;
        }
        let Some(integrations) = loaded.receivers.get(&sn.receiver).cloned() else {
            return;
        };
        let ext = &self.inner.opts.external_url;
        let data = Data::for_silence(
            &sn.receiver,
            SilenceData::new(event, silence, now, ext),
            ext,
        );
        let key = format!("silence/{}", silence.id);
        let deadline = tokio::time::Instant::now() + SILENCE_NOTIFY_TIMEOUT;
        for (integration, idx) in integrations {
            if !integration.carries_silences() {
                continue;
            }
            let (am, loaded, data, key, receiver) = (
                self.clone(),
                loaded.clone(),
                data.clone(),
                key.clone(),
                sn.receiver.clone(),
            );
            tokio::spawn(async move {
                am.deliver(&loaded, &integration, idx, &receiver, &key, data, deadline)
                    .await
            });
        }
    }

    pub(crate) fn loaded(&self) -> Arc<Loaded> {
        self.inner
            .loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The options it runs with.
    pub fn options(&self) -> &Options {
        &self.inner.opts
    }

    /// Re-reads the configuration file. A bad file is rejected and the running
    /// configuration kept; a good one replaces it and the aggregation groups are
    /// rebuilt from the stored alerts (the notification log keeps them from
    /// re-notifying what was already sent).
    pub fn reload(&self) -> Result<(), Error> {
        let m = &self.inner.metrics;
        match Loaded::load(&self.inner.opts.config_file) {
            Ok(l) => {
                *self.inner.loaded.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(l);
                m.reload_ok.store(true, Ordering::Relaxed);
                *lock(&m.reload_time) = Timestamp::now().as_millisecond() as f64 / 1000.0;
                let old: Vec<Arc<Group>> =
                    lock(&self.inner.groups).drain().map(|(_, g)| g).collect();
                for g in old {
                    g.stop();
                }
                let alerts: Vec<Alert> = lock(&self.inner.alerts).iter().cloned().collect();
                for a in alerts {
                    self.dispatch(a);
                }
                tracing::info!(file = %self.inner.opts.config_file.display(), "Completed loading of configuration file");
                Ok(())
            }
            Err(e) => {
                m.reload_ok.store(false, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Stores alerts (already validated, with times filled in) and dispatches them.
    pub fn put_alerts(&self, alerts: Vec<Alert>) {
        let now = Timestamp::now();
        let merged: Vec<Alert> = {
            let mut store = lock(&self.inner.alerts);
            alerts.into_iter().map(|a| store.put(a, now)).collect()
        };
        for a in merged {
            self.dispatch(a);
        }
    }

    fn dispatch(&self, alert: Alert) {
        let loaded = self.loaded();
        let routes = loaded.route.matches(&alert.labels);
        let mut groups = lock(&self.inner.groups);
        for r in routes {
            let key = r.group_key(&alert.labels);
            let id = (r.index().to_vec(), key.clone());
            let g = groups
                .entry(id)
                .or_insert_with(|| self.new_group(r, key, &alert.labels))
                .clone();
            g.insert(alert.clone());
        }
    }

    fn new_group(&self, route: &Route, key: String, labels: &Labels) -> Arc<Group> {
        let g = Arc::new(Group {
            key,
            opts: route.opts.clone(),
            labels: route.group_labels(labels),
            state: Mutex::new(GroupState {
                alerts: HashMap::new(),
                next: tokio::time::Instant::now() + route.opts.group_wait,
                has_flushed: false,
                time_muted: None,
            }),
            wake: Notify::new(),
            task: Mutex::new(None),
        });
        let task = tokio::spawn(run_group(self.clone(), g.clone()));
        *lock(&g.task) = Some(task.abort_handle());
        g
    }

    /// The aggregation groups, for the API.
    pub(crate) fn groups(&self) -> Vec<Arc<Group>> {
        lock(&self.inner.groups).values().cloned().collect()
    }

    /// A snapshot of the firing alerts that can inhibit others under `loaded`'s
    /// rules, taken once per flush or API request rather than once per alert.
    pub(crate) fn inhibitor<'a>(&self, loaded: &'a Loaded, now: Timestamp) -> Inhibitor<'a> {
        let sources = if loaded.inhibit.is_empty() {
            Vec::new()
        } else {
            lock(&self.inner.alerts)
                .iter()
                .filter(|a| {
                    !a.resolved_at(now) && loaded.inhibit.iter().any(|r| r.is_source(&a.labels))
                })
                .map(|a| (a.labels.clone(), a.fingerprint()))
                .collect()
        };
        Inhibitor {
            rules: &loaded.inhibit,
            sources,
        }
    }

    /// Writes the notification log; called on shutdown (silences are written on
    /// every change).
    pub fn flush(&self) {
        if let Err(e) = lock(&self.inner.nflog).flush() {
            tracing::error!(err = %e, "writing the notification log failed");
        }
    }

    /// The metrics in the text exposition format.
    pub fn metrics_text(&self) -> String {
        crate::api::metrics_text(self)
    }

    /// Runs one flush of `g`: returns whether every integration succeeded.
    async fn flush_group(&self, g: &Arc<Group>) {
        let now = Timestamp::now();
        let mut originals = g.alerts();
        originals.sort_by(alert_order);
        let alerts: Vec<Alert> = originals
            .iter()
            .map(|a| {
                let mut a = a.clone();
                if !a.resolved_at(now) {
                    a.ends_at = None;
                }
                a
            })
            .collect();
        let timeout = g.opts.group_interval.max(MIN_TIMEOUT);
        let ok = self.notify_group(g, alerts, now, timeout).await;
        if ok {
            let mut st = lock(&g.state);
            for a in originals.iter().filter(|a| a.resolved_at(now)) {
                let fp = a.fingerprint();
                if st
                    .alerts
                    .get(&fp)
                    .is_some_and(|c| c.updated_at == a.updated_at)
                {
                    st.alerts.remove(&fp);
                }
            }
        }
    }

    async fn notify_group(
        &self,
        g: &Arc<Group>,
        alerts: Vec<Alert>,
        now: Timestamp,
        timeout: Duration,
    ) -> bool {
        let loaded = self.loaded();
        let Some(integrations) = loaded.receivers.get(&g.opts.receiver) else {
            tracing::error!(receiver = %g.opts.receiver, "receiver not found");
            return false;
        };
        // Inhibited alerts, a route muted by time, silenced alerts: none is sent.
        let inhibitor = self.inhibitor(&loaded, now);
        let time_muted = loaded.time_muted(&g.opts, now);
        let mut muted_firing = BTreeSet::new();
        let alerts: Vec<Alert> = {
            let sil = lock(&self.inner.silences);
            alerts
                .into_iter()
                .filter(|a| {
                    let muted = time_muted
                        || inhibitor.inhibited_by(&a.labels).is_some()
                        || !sil.mutes(&a.labels, now).is_empty();
                    if muted && !a.resolved_at(now) {
                        muted_firing.insert(a.fingerprint());
                    }
                    !muted
                })
                .collect()
        };
        // Notify on unmute: the notification log notes which notified alerts are
        // muted now, so that they are news when they fire unmuted again.
        if self.inner.opts.notify_on_unmute && !muted_firing.is_empty() {
            let mut log = lock(&self.inner.nflog);
            for (integration, idx) in integrations {
                let rkey = nflog::receiver_key(&g.opts.receiver, integration.name(), *idx);
                log.record_muted(&g.key, &rkey, &muted_firing);
            }
        }
        if alerts.is_empty() {
            return true;
        }
        let firing: BTreeSet<u64> = alerts
            .iter()
            .filter(|a| !a.resolved_at(now))
            .map(Alert::fingerprint)
            .collect();
        let resolved: BTreeSet<u64> = alerts
            .iter()
            .filter(|a| a.resolved_at(now))
            .map(Alert::fingerprint)
            .collect();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut tasks = Vec::new();
        for (integration, idx) in integrations.clone() {
            let am = self.clone();
            let g = g.clone();
            let (alerts, firing, resolved, loaded) = (
                alerts.clone(),
                firing.clone(),
                resolved.clone(),
                loaded.clone(),
            );
            tasks.push(tokio::spawn(async move {
                am.notify_integration(
                    &loaded,
                    &g,
                    &integration,
                    idx,
                    alerts,
                    &firing,
                    &resolved,
                    now,
                    deadline,
                )
                .await
            }));
        }
        let mut ok = true;
        for t in tasks {
            ok &= t.await.unwrap_or(false);
        }
        ok
    }

    #[allow(clippy::too_many_arguments)]
    async fn notify_integration(
        &self,
        loaded: &Loaded,
        g: &Group,
        integration: &Integration,
        idx: usize,
        alerts: Vec<Alert>,
        firing: &BTreeSet<u64>,
        resolved: &BTreeSet<u64>,
        now: Timestamp,
        deadline: tokio::time::Instant,
    ) -> bool {
        let name = integration.name();
        let rkey = nflog::receiver_key(&g.opts.receiver, name, idx);
        let entry = lock(&self.inner.nflog).query(&g.key, &rkey).cloned();
        if !nflog::needs_update(
            entry.as_ref(),
            firing,
            resolved,
            integration.send_resolved(),
            g.opts.repeat_interval,
            now,
        ) {
            return true;
        }
        let sent: Vec<Alert> = if integration.send_resolved() {
            alerts
        } else {
            alerts.into_iter().filter(|a| !a.resolved_at(now)).collect()
        };
        // Without send_resolved, "all resolved" is logged without being sent, so
        // that the next firing alert is news again.
        if !sent.is_empty() {
            let data = Data::new(
                &g.opts.receiver,
                &g.labels,
                &sent,
                &self.inner.opts.external_url,
                now,
            );
            if !self
                .deliver(
                    loaded,
                    integration,
                    idx,
                    &g.opts.receiver,
                    &g.key,
                    data,
                    deadline,
                )
                .await
            {
                return false;
            }
        }
        let expires_at = jiff::SignedDuration::try_from(self.inner.opts.retention)
            .ok()
            .and_then(|r| now.checked_add(r).ok())
            .unwrap_or(Timestamp::MAX);
        lock(&self.inner.nflog).log(
            &g.key,
            &rkey,
            nflog::Entry {
                timestamp: now,
                firing: firing.clone(),
                resolved: resolved.clone(),
                muted: BTreeSet::new(),
                expires_at,
            },
        );
        true
    }
}

impl Alertmanager {
    /// Sends one notification through `integration` with retries and exponential
    /// backoff until `deadline`, counting it in the metrics; returns whether it went
    /// out.
    #[allow(clippy::too_many_arguments)]
    async fn deliver(
        &self,
        loaded: &Loaded,
        integration: &Integration,
        idx: usize,
        receiver: &str,
        key: &str,
        data: Data,
        deadline: tokio::time::Instant,
    ) -> bool {
        let name = integration.name();
        let m = &self.inner.metrics;
        m.bump(name, 0);
        let ctx = notify::Context {
            group_key: key,
            templates: &loaded.templates,
            client: &self.inner.client,
            global_http: loaded.config.global.http_config.as_ref(),
        };
        let mut backoff = Duration::from_millis(500);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            m.bump(name, 2);
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let res = match tokio::time::timeout(
                remaining,
                notify::notify(integration, &ctx, data.clone()),
            )
            .await
            {
                Ok(r) => r,
                Err(_) => Err(notify::NotifyError {
                    retry: false,
                    message: "context deadline exceeded".into(),
                }),
            };
            match res {
                Ok(()) => return true,
                Err(e) => {
                    m.bump(name, 3);
                    let give_up = !e.retry || tokio::time::Instant::now() + backoff >= deadline;
                    if give_up {
                        m.bump(name, 1);
                        tracing::error!(
                            receiver = %receiver,
                            integration = %format!("{name}[{idx}]"),
                            aggrGroup = %key,
                            attempts = attempt,
                            err = %e.message,
                            "Notify for alerts failed"
                        );
                        return false;
                    }
                    tracing::warn!(
                        integration = %format!("{name}[{idx}]"),
                        attempt,
                        err = %e.message,
                        "Notify attempt failed, will retry later"
                    );
                    tokio::time::sleep(jitter(backoff)).await;
                    backoff = (backoff * 3 / 2).min(Duration::from_secs(60));
                }
            }
        }
    }
}

/// Sleeps until the next silence ends (at most a minute) or silences change, and
/// handles the ends.
async fn silence_watcher(am: Alertmanager) {
    loop {
        let next = am.process_silence_ends();
        let wait = next
            .and_then(|t| Duration::try_from(t.duration_since(Timestamp::now())).ok())
            .map_or(Duration::from_secs(60), |d| {
                (d + Duration::from_millis(1)).min(Duration::from_secs(60))
            });
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = am.inner.silence_wake.notified() => {}
        }
    }
}

/// Spreads retries by ±50%, as the exponential backoff of Alertmanager's retrier.
fn jitter(d: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    let r = (h.finish() % 1000) as f64 / 1000.0; // 0..1
    d.mul_f64(0.5 + r)
}

async fn run_group(am: Alertmanager, g: Arc<Group>) {
    loop {
        let next = lock(&g.state).next;
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = g.wake.notified() => continue,
        }
        {
            let mut st = lock(&g.state);
            let now = tokio::time::Instant::now();
            if now < st.next {
                continue;
            }
            // The next flush is due group_interval after this one starts.
            st.next = now + g.opts.group_interval;
            st.has_flushed = true;
        }
        am.flush_group(&g).await;
    }
}

async fn maintenance(inner: Arc<Inner>) {
    let am = Alertmanager { inner };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut secs: u64 = 0;
    loop {
        tick.tick().await;
        secs += 1;
        let now = Timestamp::now();
        // The notification log is written at most once a second.
        am.flush();
        if am.inner.opts.notify_on_unmute {
            am.check_time_intervals(now);
        }
        if secs.is_multiple_of(30) {
            let mut groups = lock(&am.inner.groups);
            groups.retain(|_, g| {
                let keep = !g.is_empty();
                if !keep {
                    g.stop();
                }
                keep
            });
        }
        if secs.is_multiple_of(am.inner.opts.gc_interval.as_secs().max(1)) {
            let n = lock(&am.inner.alerts).gc(now);
            if n > 0 {
                tracing::debug!(count = n, "garbage-collected resolved alerts");
            }
        }
        if secs.is_multiple_of(900) {
            lock(&am.inner.silences).gc(now, am.inner.opts.retention);
            lock(&am.inner.nflog).gc(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_model::MatchType;

    /// An Alertmanager over `config` (receivers without integrations, so that
    /// flushes send nothing), with maintenance and the watcher not started: the
    /// tests drive them by hand, at chosen instants.
    fn am(dir: &std::path::Path, config: &str, notify_on_unmute: bool) -> Alertmanager {
        let file = dir.join("am.yml");
        std::fs::write(&file, config).unwrap();
        Alertmanager::new(Options {
            config_file: file,
            notify_on_unmute,
            ..Options::default()
        })
        .unwrap()
    }

    fn firing(pairs: &[(&str, &str)]) -> Alert {
        let now = Timestamp::now();
        Alert {
            labels: Labels::from_pairs(pairs.iter().copied()),
            annotations: Labels::default(),
            starts_at: now,
            ends_at: Some(now + jiff::SignedDuration::from_hours(1)),
            generator_url: String::new(),
            updated_at: now,
            timeout: false,
        }
    }

    fn group(am: &Alertmanager, alertname: &str) -> Arc<Group> {
        am.groups()
            .into_iter()
            .find(|g| g.labels.get_or_empty("alertname") == alertname)
            .unwrap()
    }

    /// Whether the group was asked to flush at once.
    fn due(g: &Group) -> bool {
        lock(&g.state).next <= tokio::time::Instant::now()
    }

    fn flushed_before(g: &Group) {
        lock(&g.state).has_flushed = true;
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const INTERVALS: &str = "route:\n  receiver: r\n  group_by: [alertname]\n  group_wait: 1h\n  group_interval: 1h\n  routes:\n  - matchers: [alertname=Muted]\n    mute_time_intervals: [morning]\n  - matchers: [alertname=Active]\n    active_time_intervals: [morning]\nreceivers:\n- name: r\ntime_intervals:\n- name: morning\n  time_intervals:\n  - times:\n    - start_time: '06:00'\n      end_time: '12:00'\n";

    #[tokio::test]
    async fn time_mute_ending_flushes_groups_that_notified() {
        let dir = tempfile::tempdir().unwrap();
        let am = am(dir.path(), INTERVALS, true);
        am.put_alerts(vec![
            firing(&[("alertname", "Muted")]),
            firing(&[("alertname", "Active")]),
        ]);
        let (muted, active) = (group(&am, "Muted"), group(&am, "Active"));
        flushed_before(&muted);
        flushed_before(&active);
        // 07:00: Muted is in its mute interval, Active in its active one.
        am.check_time_intervals(at("2026-03-02T07:00:00Z"));
        assert!(!due(&muted) && !due(&active));
        // 12:00: the mute interval ends (Muted flushes), the active one ends
        // (Active becomes muted: nothing to do).
        am.check_time_intervals(at("2026-03-02T12:00:00Z"));
        assert!(due(&muted), "mute interval ended");
        assert!(!due(&active));
        // Still outside: no transition, no flush.
        lock(&muted.state).next = tokio::time::Instant::now() + Duration::from_secs(3600);
        am.check_time_intervals(at("2026-03-02T13:00:00Z"));
        assert!(!due(&muted));
        // The next morning the active interval begins: Active flushes.
        am.check_time_intervals(at("2026-03-03T06:00:00Z"));
        assert!(due(&active), "active interval began");
        assert!(!due(&muted), "mute interval began: no flush");
    }

    #[tokio::test]
    async fn time_mute_ending_respects_group_wait_and_the_option() {
        let dir = tempfile::tempdir().unwrap();
        let am_ = am(dir.path(), INTERVALS, true);
        am_.put_alerts(vec![firing(&[("alertname", "Muted")])]);
        let g = group(&am_, "Muted");
        // A group still in group_wait keeps waiting.
        am_.check_time_intervals(at("2026-03-02T07:00:00Z"));
        am_.check_time_intervals(at("2026-03-02T12:00:00Z"));
        assert!(!due(&g));
        // With --notify.on-unmute=false maintenance does not look at all.
        let dir = tempfile::tempdir().unwrap();
        let off = am(dir.path(), INTERVALS, false);
        assert!(!off.inner.opts.notify_on_unmute);
    }

    fn silence(value: &str) -> Silence {
        let now = Timestamp::now();
        Silence {
            id: String::new(),
            matchers: vec![crate::Matcher::new(MatchType::Equal, "instance", value).unwrap()],
            starts_at: now,
            ends_at: now + jiff::SignedDuration::from_hours(1),
            updated_at: now,
            created_by: "t".into(),
            comment: "c".into(),
        }
    }

    const PLAIN: &str = "route:\n  receiver: r\n  group_by: [alertname]\n  group_wait: 1h\n  group_interval: 1h\nreceivers:\n- name: r\n";

    #[tokio::test]
    async fn silence_end_flushes_the_groups_it_muted() {
        let dir = tempfile::tempdir().unwrap();
        let am = am(dir.path(), PLAIN, true);
        am.put_alerts(vec![
            firing(&[("alertname", "A"), ("instance", "x")]),
            firing(&[("alertname", "B"), ("instance", "y")]),
            firing(&[("alertname", "C"), ("instance", "x")]),
        ]);
        let (a, b, c) = (group(&am, "A"), group(&am, "B"), group(&am, "C"));
        flushed_before(&a);
        flushed_before(&b);
        // C is still in group_wait.
        let id = am.set_silence(silence("x")).unwrap();
        assert_eq!(
            am.process_silence_ends(),
            lock(&am.inner.silences).get(&id).map(|s| s.ends_at)
        );
        assert!(!due(&a) && !due(&b) && !due(&c));
        am.expire_silence(&id).unwrap();
        am.process_silence_ends();
        assert!(due(&a), "held an alert the silence matched");
        assert!(!due(&b), "nothing of it was silenced");
        assert!(!due(&c), "still in group_wait");
        // Handled once: a second pass finds no new end.
        lock(&a.state).next = tokio::time::Instant::now() + Duration::from_secs(3600);
        am.process_silence_ends();
        assert!(!due(&a));
    }

    #[tokio::test]
    async fn silence_end_without_notify_on_unmute_flushes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let am = am(dir.path(), PLAIN, false);
        am.put_alerts(vec![firing(&[("alertname", "A"), ("instance", "x")])]);
        let a = group(&am, "A");
        flushed_before(&a);
        let id = am.set_silence(silence("x")).unwrap();
        am.expire_silence(&id).unwrap();
        am.process_silence_ends();
        assert!(!due(&a));
    }

    #[test]
    fn secrets_are_masked_in_status() {
        let text = "global:\n  slack_api_url: https://hooks/x\nreceivers:\n- name: r\n  email_configs:\n  - to: a@b\n    auth_password: hunter2\n";
        assert_eq!(
            super::mask_secrets(text),
            "global:\n  slack_api_url: <secret>\nreceivers:\n- name: r\n  email_configs:\n  - to: a@b\n    auth_password: <secret>\n"
        );
    }
}
