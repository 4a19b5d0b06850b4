//! Ember's Pushgateway: batch and short-lived jobs push their metrics here, and the
//! server scrapes them (with `honor_labels: true`, so `job` and `instance` stay as
//! pushed). A drop-in replacement for Prometheus's Pushgateway: the same flags, push
//! API (`PUT`/`POST`/`DELETE` on `/metrics/job/<job>{/<label>/<value>}`, `@base64`
//! values, text and delimited-protobuf bodies, gzip and snappy request bodies), the
//! same `/metrics` exposition, `push_time_seconds` and
//! `push_failure_time_seconds`, the same consistency rules and status codes, and the
//! same `/api/v1` JSON.
//!
//! How it fits: bodies are read by `ember-exposition` (text parser, protobuf codec)
//! into `io.prometheus.client.MetricFamily` messages, the model the original stores,
//! which keeps summaries, histograms and native histograms whole. [`store`] holds
//! the groups and decides whether a push is accepted; [`persist`] writes them to
//! `--persistence.file`; `http` serves it all, with a small UI page.
//!
//! Where Ember differs on purpose:
//!
//! - A push is checked against an index of what is stored, not by gathering the
//!   whole store again, so its cost does not grow with the number of groups.
//! - `--push.expire-after` (off by default) deletes groups not pushed for that long.
//! - The persistence file is a checksummed protobuf (`docs/format/persistence.md`),
//!   not Go's `gob`: a damaged file is moved aside and reported, and the gateway
//!   starts empty rather than refusing to start. A file written by the original is
//!   read too (by the hand-written `gob` module), a copy of it is kept beside it,
//!   and the next write is in Ember's format. A file that cannot be read at all
//!   (permission denied), or a damaged one that cannot be moved aside, stops the
//!   start instead: starting empty would overwrite it at the first write.
//! - Groups are listed in grouping-key order and merged families take their help
//!   from the first group in that order, where the original's order is random.

pub mod check;
mod gob;
pub mod grouping;
mod http;
pub mod persist;
mod process;
pub mod store;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;

pub use grouping::GroupingKey;
pub use store::{Group, Store};

/// The command line, with the original's flag names and defaults.
#[derive(Parser, Debug, Clone)]
#[command(about = "Accepts pushed metrics from batch jobs and exposes them for scraping.")]
pub struct Args {
    /// Addresses on which to expose metrics and web interface. Repeatable.
    #[arg(long = "web.listen-address", default_value = ":9091")]
    pub web_listen_address: Vec<String>,
    /// Path to a configuration file that can enable TLS or authentication
    /// (exporter-toolkit's `web-config.yml`; see `ember-serve`).
    #[arg(long = "web.config.file", default_value = "")]
    pub web_config_file: String,
    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    pub web_telemetry_path: String,
    /// The URL under which the Pushgateway is externally reachable.
    #[arg(long = "web.external-url", default_value = "")]
    pub web_external_url: String,
    /// Prefix for the internal routes of web endpoints. Defaults to the path of
    /// --web.external-url.
    #[arg(long = "web.route-prefix", default_value = "")]
    pub web_route_prefix: String,
    /// Enable shutdown via HTTP request.
    #[arg(long = "web.enable-lifecycle")]
    pub web_enable_lifecycle: bool,
    /// Enable API endpoints for admin control actions.
    #[arg(long = "web.enable-admin-api")]
    pub web_enable_admin_api: bool,
    /// File to persist metrics. If empty, metrics are only kept in memory.
    #[arg(long = "persistence.file", default_value = "")]
    pub persistence_file: String,
    /// The minimum interval at which to write out the persistence file.
    #[arg(long = "persistence.interval", default_value = "5m")]
    pub persistence_interval: String,
    /// Do not check consistency of pushed metrics. DANGEROUS.
    #[arg(long = "push.disable-consistency-check")]
    pub push_disable_consistency_check: bool,
    /// Delete a group that was not pushed again for this long (Ember's addition;
    /// empty or 0 keeps groups forever, as the original does).
    #[arg(long = "push.expire-after", default_value = "")]
    pub push_expire_after: String,
    /// Use systemd socket activation listeners (exporter-toolkit's flag; accepted so
    /// that unit files parse, and refused by [`run`] when set).
    #[arg(long = "web.systemd-socket", hide = true)]
    pub web_systemd_socket: bool,
    /// Only log messages with the given severity or above.
    #[arg(long = "log.level", default_value = "info", value_parser = ["debug", "info", "warn", "error"])]
    pub log_level: String,
    /// Output format of log messages.
    #[arg(long = "log.format", default_value = "logfmt", value_parser = ["logfmt", "json"])]
    pub log_format: String,
}

impl Default for Args {
    fn default() -> Self {
        Args::parse_from(["pushgateway"])
    }
}

/// What the gateway reports about its build (`/api/v1/status`,
/// `pushgateway_build_info`); the binary fills it in.
#[derive(Debug, Clone)]
pub struct BuildInfo {
    /// Version.
    pub version: String,
    /// Git revision.
    pub revision: String,
    /// Git branch.
    pub branch: String,
    /// Build date.
    pub build_date: String,
    /// Compiler version, reported where Go reports its own.
    pub compiler: String,
}

impl Default for BuildInfo {
    fn default() -> Self {
        BuildInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            revision: String::new(),
            branch: String::new(),
            build_date: String::new(),
            compiler: String::new(),
        }
    }
}

/// Errors that stop the gateway.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag's value is invalid.
    #[error("{0}")]
    Flags(String),
    /// A listen address could not be bound, or the web configuration file
    /// (`--web.config.file`) is unreadable or invalid.
    #[error(transparent)]
    Web(#[from] ember_serve::Error),
    /// Serving failed.
    #[error("serving on {addr}: {source}")]
    Serve {
        /// The address.
        addr: String,
        /// The error.
        source: std::io::Error,
    },
    /// The persistence file could not be written at shutdown.
    #[error(transparent)]
    Persist(#[from] persist::PersistError),
    /// The persistence file exists but could not be read (not a damaged file: an
    /// I/O error such as permission denied), so the gateway does not start.
    #[error("cannot restore persisted metrics: {0}")]
    Restore(#[source] persist::PersistError),
    /// The persistence file was written by the original Pushgateway and no copy of
    /// it could be kept, so the gateway does not start: its first write would
    /// replace the only copy with Ember's format.
    #[error(
        "{0}: could not keep a copy of the original Pushgateway's persistence file; not starting, so that Ember's format does not replace it: make its directory writable, or copy the file away yourself and remove it"
    )]
    OriginalNotKept(#[source] persist::PersistError),
    /// The persistence file is damaged and could not be moved aside, so the gateway
    /// does not start.
    #[error(
        "{corrupt}; could not move it aside ({moved}); not starting, so that the file is not overwritten: move or delete it"
    )]
    CorruptNotMoved {
        /// What is wrong with the file.
        corrupt: persist::PersistError,
        /// Why it could not be renamed.
        moved: persist::PersistError,
    },
}

/// Options resolved from [`Args`].
#[derive(Debug, Clone)]
struct Options {
    check: bool,
    lifecycle: bool,
    admin: bool,
    telemetry_path: String,
    route_prefix: String,
    persistence_file: Option<PathBuf>,
    persistence_interval: Duration,
    expire_after: Option<Duration>,
    flags: BTreeMap<String, String>,
}

fn parse_duration(flag: &str, v: &str) -> Result<Duration, Error> {
    v.parse::<ember_config::Duration>()
        .map(Duration::from)
        .map_err(|e| Error::Flags(format!("invalid --{flag}={v}: {e}")))
}

/// A duration as Go's `time.Duration.String` spells it (`5m0s`, `1h0m0s`, `1.5s`,
/// `300ms`), which the original's `/api/v1/status` shows for duration flags.
fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    let frac = |v: u128, unit: u128| -> String {
        let whole = v / unit;
        let rest = v % unit;
        if rest == 0 {
            return whole.to_string();
        }
        let width = unit.ilog10() as usize;
        let f = format!("{rest:0width$}");
        format!("{whole}.{}", f.trim_end_matches('0'))
    };
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", frac(ns, 1_000));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", frac(ns, 1_000_000));
    }
    let secs = ns / 1_000_000_000;
    let (h, m) = (secs / 3600, (secs % 3600) / 60);
    let s = frac(ns % 60_000_000_000, 1_000_000_000);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, m) => format!("{m}m{s}s"),
        (h, m) => format!("{h}h{m}m{s}s"),
    }
}

/// The route prefix: the flag, else the external URL's path; never ending in `/`.
fn route_prefix(flag: &str, external: &str) -> String {
    let p = if !flag.is_empty() {
        flag.to_string()
    } else {
        // scheme://host[:port]/path → /path
        external
            .split_once("://")
            .map(|(_, rest)| rest.find('/').map(|i| &rest[i..]).unwrap_or(""))
            .unwrap_or("")
            .to_string()
    };
    let p = p.trim_end_matches('/');
    if p.is_empty() {
        String::new()
    } else if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}

impl Options {
    fn from_args(a: &Args) -> Result<Options, Error> {
        let persistence_interval = parse_duration("persistence.interval", &a.persistence_interval)?;
        let expire_after = match a.push_expire_after.as_str() {
            "" => None,
            v => Some(parse_duration("push.expire-after", v)?).filter(|d| !d.is_zero()),
        };
        let prefix = route_prefix(&a.web_route_prefix, &a.web_external_url);
        if !a.web_telemetry_path.starts_with('/') {
            return Err(Error::Flags(format!(
                "--web.telemetry-path={} must start with /",
                a.web_telemetry_path
            )));
        }
        let flags = BTreeMap::from([
            ("web.listen-address".into(), a.web_listen_address.join(",")),
            ("web.config.file".into(), a.web_config_file.clone()),
            (
                "web.systemd-socket".into(),
                a.web_systemd_socket.to_string(),
            ),
            ("web.telemetry-path".into(), a.web_telemetry_path.clone()),
            ("web.external-url".into(), a.web_external_url.clone()),
            // The original shows the prefix it routes under, computed from
            // --web.external-url when the flag is empty.
            ("web.route-prefix".into(), prefix.clone()),
            (
                "web.enable-lifecycle".into(),
                a.web_enable_lifecycle.to_string(),
            ),
            (
                "web.enable-admin-api".into(),
                a.web_enable_admin_api.to_string(),
            ),
            ("persistence.file".into(), a.persistence_file.clone()),
            (
                "persistence.interval".into(),
                go_duration(persistence_interval),
            ),
            (
                "push.disable-consistency-check".into(),
                a.push_disable_consistency_check.to_string(),
            ),
            ("push.expire-after".into(), a.push_expire_after.clone()),
            ("log.level".into(), a.log_level.clone()),
            ("log.format".into(), a.log_format.clone()),
        ]);
        Ok(Options {
            check: !a.push_disable_consistency_check,
            lifecycle: a.web_enable_lifecycle,
            admin: a.web_enable_admin_api,
            telemetry_path: a.web_telemetry_path.clone(),
            route_prefix: prefix,
            persistence_file: (!a.persistence_file.is_empty())
                .then(|| PathBuf::from(&a.persistence_file)),
            persistence_interval,
            expire_after,
            flags,
        })
    }
}

/// A running gateway's shared state; cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    store: RwLock<Store>,
    opts: Options,
    build: BuildInfo,
    start_time: SystemTime,
    /// Woken on every change, so the persister knows there is something to write.
    changed: tokio::sync::Notify,
    /// Woken by `/-/quit`.
    quit: tokio::sync::Notify,
    /// `pushgateway_http_requests_total` by (code, handler, method).
    requests: Mutex<BTreeMap<(u16, &'static str, String), u64>>,
    /// What happened to the persistence file at start-up, for the log and the UI.
    restore_note: Mutex<Option<String>>,
}

fn now_nanos() -> store::Nanos {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Loads the persistence file at `path` into `store`; what went wrong with it, if
/// anything, for the log and the UI.
///
/// Only a damaged file (one that was read but does not decode) is moved aside, and
/// then the gateway starts empty. Any other failure stops the start: the gateway
/// writes `path` on every change and at shutdown, so starting empty beside a file
/// it could not read (permission denied, an I/O error) or could not move away would
/// replace the operator's data with an empty store. Refusing keeps the file intact
/// and says what to fix.
fn restore(path: &std::path::Path, store: &mut Store) -> Result<Option<String>, Error> {
    match persist::load(path) {
        Ok(loaded) => {
            let n = loaded.groups.len();
            // The original's file is kept before anything else: from here on the
            // gateway may write `path` at any time, in Ember's format.
            if loaded.origin == persist::Origin::Original {
                let kept = persist::keep_original(path).map_err(Error::OriginalNotKept)?;
                tracing::info!(
                    file = %path.display(),
                    copy = %kept.display(),
                    groups = n,
                    "read the original Pushgateway's persistence file (Go gob); a copy is kept, and the next write replaces the file with Ember's format"
                );
            }
            for g in loaded.groups {
                store.restore_group(g);
            }
            if n > 0 {
                tracing::info!(file = %path.display(), groups = n, "metrics restored");
            }
            Ok(None)
        }
        Err(corrupt @ persist::PersistError::Corrupt { .. }) => match persist::move_aside(path) {
            Ok(dest) => {
                let msg = format!("{corrupt}; moved to {} and starting empty", dest.display());
                tracing::error!(err = %msg, "cannot restore persisted metrics");
                Ok(Some(msg))
            }
            Err(moved) => Err(Error::CorruptNotMoved { corrupt, moved }),
        },
        Err(e) => Err(Error::Restore(e)),
    }
}

impl Gateway {
    /// A gateway configured by `args`, with its persistence file (if any) restored:
    /// a damaged file is moved aside and reported, and the gateway starts empty; a
    /// file that cannot be read, or a damaged one that cannot be moved aside, is an
    /// error (see `restore`).
    pub fn new(args: &Args, build: BuildInfo) -> Result<Gateway, Error> {
        let opts = Options::from_args(args)?;
        let mut store = Store::new(http::own_families());
        let note = match &opts.persistence_file {
            Some(path) => restore(path, &mut store)?,
            None => None,
        };
        Ok(Gateway {
            inner: Arc::new(Inner {
                store: RwLock::new(store),
                opts,
                build,
                start_time: SystemTime::now(),
                changed: tokio::sync::Notify::new(),
                quit: tokio::sync::Notify::new(),
                requests: Mutex::new(BTreeMap::new()),
                restore_note: Mutex::new(note),
            }),
        })
    }

    /// The HTTP router, every route under the route prefix.
    pub fn router(&self) -> axum::Router {
        http::router(self.clone())
    }

    /// Why the persistence file was not restored, if it was not.
    pub fn restore_problem(&self) -> Option<String> {
        self.inner.restore_note.lock().ok().and_then(|n| n.clone())
    }

    fn read_store(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        // A panic while holding the lock cannot leave the store half-changed in a
        // way later readers would misread (each change is one call), so go on.
        self.inner.store.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_store(&self) -> std::sync::RwLockWriteGuard<'_, Store> {
        self.inner.store.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the persistence file now, if one is configured.
    pub fn persist(&self) -> Result<(), persist::PersistError> {
        let Some(path) = &self.inner.opts.persistence_file else {
            return Ok(());
        };
        let bytes = persist::encode(self.read_store().groups());
        persist::write_atomic(path, &bytes)
    }

    /// Writes the persistence file at most once per `--persistence.interval`, after a
    /// change; runs until dropped.
    async fn persister(self) {
        let interval = self.inner.opts.persistence_interval;
        let mut last = tokio::time::Instant::now();
        loop {
            self.inner.changed.notified().await;
            tokio::time::sleep_until(last + interval).await;
            last = tokio::time::Instant::now();
            let gw = self.clone();
            match tokio::task::spawn_blocking(move || gw.persist()).await {
                Ok(Ok(())) => tracing::debug!("metrics persisted"),
                Ok(Err(e)) => tracing::error!(err = %e, "error persisting metrics"),
                Err(e) => tracing::error!(err = %e, "persisting panicked"),
            }
        }
    }

    /// Deletes groups older than `--push.expire-after`; runs until dropped.
    async fn expirer(self, after: Duration) {
        let tick = (after / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
        loop {
            tokio::time::sleep(tick).await;
            let cutoff = now_nanos() - after.as_nanos() as i64;
            let n = self.write_store().expire(cutoff);
            if n > 0 {
                tracing::info!(groups = n, "expired groups deleted");
                self.inner.changed.notify_one();
            }
        }
    }
}

/// Serves the gateway on every `--web.listen-address` until `shutdown` completes,
/// `/-/quit` is called, or a server fails; then writes the persistence file.
pub async fn run(
    args: Args,
    build: BuildInfo,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    if args.web_systemd_socket {
        return Err(Error::Flags(
            "--web.systemd-socket is not supported by Ember's Pushgateway".into(),
        ));
    }
    let web = match args.web_config_file.as_str() {
        "" => None,
        path => Some(ember_serve::WebConfigFile::load(path)?),
    };
    let gw = Gateway::new(&args, build)?;
    let app = gw.router();
    let (tx, mut rx) = tokio::sync::mpsc::channel(args.web_listen_address.len().max(1));
    let mut servers = Vec::new();
    for addr in &args.web_listen_address {
        let listener = ember_serve::bind(addr).await?;
        if let Ok(local) = listener.local_addr() {
            tracing::info!(address = %local, "listening");
        }
        let app = app.clone();
        let web = web.clone();
        let tx = tx.clone();
        let addr = addr.clone();
        servers.push(tokio::spawn(async move {
            let r = ember_serve::serve(listener, app, web, std::future::pending()).await;
            let _ = tx
                .send(r.map_err(|source| Error::Serve { addr, source }))
                .await;
        }));
    }
    drop(tx);
    let persister = tokio::spawn(gw.clone().persister());
    let expirer = gw
        .inner
        .opts
        .expire_after
        .map(|d| tokio::spawn(gw.clone().expirer(d)));
    let result = tokio::select! {
        r = rx.recv() => r.unwrap_or(Ok(())),
        _ = shutdown => Ok(()),
        _ = gw.inner.quit.notified() => {
            tracing::info!("received an HTTP quit request");
            Ok(())
        }
    };
    for s in servers {
        s.abort();
    }
    persister.abort();
    if let Some(e) = expirer {
        e.abort();
    }
    let g = gw.clone();
    match tokio::task::spawn_blocking(move || g.persist()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::error!(err = %e, "problem shutting down metric storage");
            result?;
            return Err(e.into());
        }
        Err(e) => tracing::error!(err = %e, "persisting at shutdown panicked"),
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_prefix_from_flag_or_external_url() {
        assert_eq!(route_prefix("", ""), "");
        assert_eq!(route_prefix("/", ""), "");
        assert_eq!(route_prefix("pg/", ""), "/pg");
        assert_eq!(route_prefix("", "http://example.com:9091/push/"), "/push");
        assert_eq!(route_prefix("", "http://example.com"), "");
    }

    #[test]
    fn durations_as_go_prints_them() {
        for (secs, ms, want) in [
            (300, 0, "5m0s"),
            (3600, 0, "1h0m0s"),
            (5400, 0, "1h30m0s"),
            (1, 500, "1.5s"),
            (0, 300, "300ms"),
            (0, 0, "0s"),
        ] {
            let d = Duration::from_secs(secs) + Duration::from_millis(ms);
            assert_eq!(go_duration(d), want);
        }
    }

    #[test]
    fn flags_are_checked() {
        let bad = Args::parse_from(["pg", "--persistence.interval=soon"]);
        assert!(matches!(Options::from_args(&bad), Err(Error::Flags(_))));
        let ok = Args::parse_from(["pg", "--push.expire-after=1h", "--web.config.file=web.yml"]);
        assert_eq!(
            Options::from_args(&ok).expect("ok").expire_after,
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            Options::from_args(&ok).expect("ok").flags["web.config.file"],
            "web.yml"
        );
    }

    #[test]
    fn log_flags_take_only_the_originals_values() {
        for level in ["debug", "info", "warn", "error"] {
            assert!(Args::try_parse_from(["pg", &format!("--log.level={level}")]).is_ok());
        }
        let e = Args::try_parse_from(["pg", "--log.level=verbose"]).expect_err("refused");
        let msg = e.to_string();
        assert!(msg.contains("invalid value 'verbose'"), "{msg}");
        assert!(msg.contains("debug, info, warn, error"), "{msg}");
        assert!(Args::try_parse_from(["pg", "--log.format=xml"]).is_err());
    }

    #[test]
    fn status_shows_the_route_prefix_in_use() {
        let a = Args::parse_from(["pg", "--web.external-url=http://h:9091/ext/"]);
        let o = Options::from_args(&a).expect("ok");
        assert_eq!(o.route_prefix, "/ext");
        assert_eq!(o.flags["web.route-prefix"], "/ext");
        let a = Args::parse_from(["pg", "--web.route-prefix=pg/"]);
        assert_eq!(
            Options::from_args(&a).expect("ok").flags["web.route-prefix"],
            "/pg"
        );
    }

    fn with_file(path: &std::path::Path) -> Args {
        Args::parse_from([
            "pg".to_string(),
            format!("--persistence.file={}", path.display()),
        ])
    }

    fn refused(path: &std::path::Path) -> Error {
        match Gateway::new(&with_file(path), BuildInfo::default()) {
            Ok(_) => panic!("started with {}", path.display()),
            Err(e) => e,
        }
    }

    #[test]
    fn a_damaged_file_is_moved_aside_and_the_gateway_starts_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("pg.data");
        std::fs::write(&p, b"not a persistence file").expect("write");
        let gw = Gateway::new(&with_file(&p), BuildInfo::default()).expect("starts");
        assert!(gw.read_store().is_empty());
        let note = gw.restore_problem().expect("reported");
        assert!(note.contains("corrupt persistence file"), "{note}");
        assert!(!p.exists(), "moved away");
    }

    fn original_file() -> Vec<u8> {
        let text = "# TYPE x counter\nx{a=\"1\"} 3\n";
        let families = ember_exposition::proto::from_flat(
            ember_exposition::parse(text.as_bytes(), ember_exposition::Format::Text)
                .expect("parse"),
        )
        .expect("convert");
        let spec = vec![(
            vec![("job", "j"), ("instance", "i")],
            families
                .into_iter()
                .map(|f| (1_700_000_000_000_000_000, f))
                .collect(),
        )];
        persist::tests::original_file(&spec)
    }

    #[test]
    fn the_originals_file_is_restored_and_a_copy_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("pg.data");
        let bytes = original_file();
        std::fs::write(&p, &bytes).expect("write");
        let gw = Gateway::new(&with_file(&p), BuildInfo::default()).expect("starts");
        assert_eq!(gw.restore_problem(), None);
        let groups: Vec<Group> = gw.read_store().groups().cloned().collect();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].labels["job"], "j");
        assert_eq!(groups[0].families["x"].pushed_at, 1_700_000_000_000_000_000);
        let kept = dir.path().join("pg.data.gob-imported");
        assert_eq!(std::fs::read(&kept).expect("kept"), bytes);
        // The next write is Ember's format; the copy stays.
        gw.persist().expect("persist");
        let loaded = persist::load(&p).expect("load");
        assert_eq!(loaded.origin, persist::Origin::Ember);
        assert_eq!(loaded.groups, groups);
        assert_eq!(std::fs::read(&kept).expect("kept"), bytes);
    }

    #[test]
    fn the_originals_file_that_cannot_be_kept_stops_the_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        // As below: the copy's name is too long, so keeping it fails even for root.
        let p = dir.path().join("p".repeat(255));
        let bytes = original_file();
        std::fs::write(&p, &bytes).expect("write");
        let e = refused(&p);
        assert!(matches!(e, Error::OriginalNotKept(_)), "{e}");
        assert!(e.to_string().contains("could not keep a copy"), "{e}");
        assert_eq!(std::fs::read(&p).expect("still there"), bytes);
    }

    #[test]
    fn a_damaged_file_that_cannot_be_moved_stops_the_start_and_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A name of 255 bytes, the longest a file may have: the `.corrupt-<time>`
        // name is too long, so the rename fails even for root.
        let p = dir.path().join("p".repeat(255));
        let bytes = b"not a persistence file";
        std::fs::write(&p, bytes).expect("write");
        let e = refused(&p);
        assert!(matches!(e, Error::CorruptNotMoved { .. }), "{e}");
        let msg = e.to_string();
        assert!(msg.contains("corrupt persistence file"), "{msg}");
        assert!(msg.contains("could not move it aside"), "{msg}");
        assert_eq!(std::fs::read(&p).expect("still there"), bytes);
    }

    #[test]
    fn an_unreadable_file_is_an_io_error_not_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A directory where the file should be: reading fails with EISDIR.
        let p = dir.path().join("pg.data");
        std::fs::create_dir(&p).expect("mkdir");
        let e = refused(&p);
        assert!(
            matches!(e, Error::Restore(persist::PersistError::Io { .. })),
            "{e}"
        );
        assert!(!e.to_string().contains("corrupt"), "{e}");
        assert!(p.is_dir(), "left where it was");

        // Permission denied, where the test runs unprivileged (root reads anyway).
        use std::os::unix::fs::PermissionsExt;
        let f = dir.path().join("locked.data");
        std::fs::write(&f, b"whatever").expect("write");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o000)).expect("chmod");
        if std::fs::read(&f).is_err() {
            let e = refused(&f);
            assert!(
                e.to_string().contains("Permission denied") && !e.to_string().contains("corrupt"),
                "{e}"
            );
            assert!(f.exists(), "not moved");
        }
    }

    #[tokio::test]
    async fn a_bad_web_config_file_stops_the_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let web = dir.path().join("web.yml");
        std::fs::write(&web, "tls_server_config:\n  cert_file: a.pem\n").expect("write");
        let args = Args::parse_from([
            "pg".to_string(),
            "--web.listen-address=127.0.0.1:0".to_string(),
            format!("--web.config.file={}", web.display()),
        ]);
        let e = run(args, BuildInfo::default(), std::future::pending())
            .await
            .expect_err("refused");
        assert!(
            matches!(e, Error::Web(ember_serve::Error::Config(_))),
            "{e}"
        );
        assert!(
            e.to_string().contains("missing one of key or key_file"),
            "{e}"
        );
        assert!(e.to_string().contains("web.yml:2:"), "{e}");
    }
}
