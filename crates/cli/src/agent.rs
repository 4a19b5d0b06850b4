//! `ember server --agent` (or the 2.x spelling `--enable-feature=agent`):
//! Prometheus's agent mode — discovery, scraping and remote write, nothing else.
//!
//! Scrapes go to the WAL-only storage of `ember_tsdb::agent` under
//! `--storage.agent.path` (default `data-agent/`), whose `wal` directory the
//! remote-write queues tail exactly as they tail the TSDB's in the server. There
//! is no TSDB, no PromQL, no rules and no notifier: the configuration is loaded
//! with the agent's rules (`alerting`, `rule_files` and `remote_read` refused, as
//! `ember tool check config --agent` refuses them), and the HTTP API answers the
//! query endpoints as Prometheus's agent does (`ember_web::router_for_agent`).
//! Every `--storage.agent.wal-truncate-frequency` the WAL is truncated behind what
//! every queue has sent, within `--storage.agent.retention.{min,max}-time`.
//!
//! As in Prometheus, the server's storage, query, rules and notifier flags given
//! on the command line are refused in agent mode (exit code 3), and the agent's
//! flags outside it.

use crate::server::{ServerArgs, apply_scrape, init_logging, parse_duration_flag, runtime};
use anyhow::Context;
use clap::Args;
use ember_tsdb::agent::{AgentDb, AgentOptions};
use ember_web::{Lifecycle, WebState};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// The `--storage.agent.*` flags, as `prometheus` names them.
#[derive(Args, Debug, Clone)]
pub(crate) struct AgentArgs {
    /// Base path for metrics storage. Use with agent mode only.
    #[arg(long = "storage.agent.path", default_value = "data-agent/")]
    pub(crate) path: PathBuf,
    /// Compress the agent WAL. Use with agent mode only.
    #[arg(
        long = "storage.agent.wal-compression",
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        overrides_with = "agent_wal_compression"
    )]
    pub(crate) agent_wal_compression: bool,
    /// The frequency at which to truncate the WAL and remove old data. Use with
    /// agent mode only.
    #[arg(long = "storage.agent.wal-truncate-frequency", hide = true)]
    pub(crate) wal_truncate_frequency: Option<String>,
    /// Minimum age samples may be before being considered for deletion when the
    /// WAL is truncated. Use with agent mode only.
    #[arg(long = "storage.agent.retention.min-time", default_value = "5m")]
    pub(crate) retention_min_time: String,
    /// Maximum age samples may be before being forcibly deleted when the WAL is
    /// truncated. Use with agent mode only.
    #[arg(long = "storage.agent.retention.max-time", default_value = "4h")]
    pub(crate) retention_max_time: String,
    /// Do not create lockfile in data directory. Use with agent mode only.
    #[arg(
        long = "storage.agent.no-lockfile",
        default_value_t = false,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        overrides_with = "agent_no_lockfile"
    )]
    pub(crate) agent_no_lockfile: bool,
}

impl AgentArgs {
    /// The flags and their values for `/api/v1/status/flags`.
    pub(crate) fn flag_values(&self) -> Vec<(&'static str, String)> {
        vec![
            ("storage.agent.path", self.path.display().to_string()),
            (
                "storage.agent.wal-compression",
                self.agent_wal_compression.to_string(),
            ),
            (
                "storage.agent.wal-truncate-frequency",
                self.wal_truncate_frequency.clone().unwrap_or_default(),
            ),
            (
                "storage.agent.retention.min-time",
                self.retention_min_time.clone(),
            ),
            (
                "storage.agent.retention.max-time",
                self.retention_max_time.clone(),
            ),
            (
                "storage.agent.no-lockfile",
                self.agent_no_lockfile.to_string(),
            ),
        ]
    }

    /// The storage options, with the out-of-order window of the configuration.
    fn options(&self, ooo_window: i64) -> anyhow::Result<AgentOptions> {
        let ms = |flag: &str, v: &str| parse_duration_flag(flag, v);
        let truncate_frequency = match &self.wal_truncate_frequency {
            Some(v) => {
                Duration::from_millis(ms("storage.agent.wal-truncate-frequency", v)?.max(0) as u64)
            }
            None => Duration::ZERO,
        };
        Ok(AgentOptions {
            wal: ember_wal::segment::WalOptions {
                compress: self.agent_wal_compression,
                ..Default::default()
            },
            truncate_frequency,
            min_wal_time: ms("storage.agent.retention.min-time", &self.retention_min_time)?,
            max_wal_time: ms("storage.agent.retention.max-time", &self.retention_max_time)?,
            no_lockfile: self.agent_no_lockfile,
            out_of_order_window: ooo_window,
        }
        .validated())
    }
}

/// Whether the server runs as an agent: `--agent`, or 2.x's `--enable-feature=agent`.
pub(crate) fn enabled(args: &ServerArgs) -> bool {
    args.agent || args.enable_feature.iter().any(|f| f == "agent")
}

/// Flags Prometheus marks "Use with server mode only" (its `serverOnlyFlag`) that
/// Ember has; giving one in agent mode is an error.
const SERVER_ONLY: &[&str] = &[
    "storage.tsdb.path",
    "storage.tsdb.min-block-duration",
    "storage.tsdb.max-block-duration",
    "storage.tsdb.retention.time",
    "storage.tsdb.retention.size",
    "storage.tsdb.no-lockfile",
    "storage.tsdb.wal-compression",
    "storage.tsdb.head-chunks-write-queue-size",
    "storage.remote.read-sample-limit",
    "storage.remote.read-concurrent-limit",
    "storage.remote.read-max-bytes-in-frame",
    "rules.alert.for-outage-tolerance",
    "rules.alert.for-grace-period",
    "rules.alert.resend-delay",
    "rules.max-concurrent-evals",
    "alertmanager.notification-queue-capacity",
    "alertmanager.notification-batch-size",
    "alertmanager.drain-notification-queue-on-shutdown",
    "query.lookback-delta",
    "query.timeout",
    "query.max-concurrency",
    "query.max-samples",
];

/// Prometheus's agent-only flags that Ember has.
const AGENT_ONLY: &[&str] = &[
    "storage.agent.path",
    "storage.agent.wal-compression",
    "storage.agent.wal-truncate-frequency",
    "storage.agent.retention.min-time",
    "storage.agent.retention.max-time",
    "storage.agent.no-lockfile",
];

/// The names of the flags given on the command line (`--name`, `--name=v`; the
/// `--no-name` form was already rewritten to `--name=false`).
fn given(argv: &[OsString]) -> Vec<String> {
    argv.iter()
        .filter_map(|a| a.to_str()?.strip_prefix("--"))
        .map(|a| a.split_once('=').map_or(a, |(n, _)| n).to_string())
        .collect()
}

/// Prometheus's check of the flags against the mode: server-only flags in agent
/// mode, or agent-only flags without it, print the list and exit with code 3.
pub(crate) fn check_mode_flags(argv: &[OsString], args: &ServerArgs) -> Result<(), ExitCode> {
    let agent = enabled(args);
    let (list, msg): (&[&str], &str) = if agent {
        (SERVER_ONLY, "can not be used in agent mode")
    } else {
        (AGENT_ONLY, "can only be used in agent mode")
    };
    let mut bad: Vec<String> = Vec::new();
    for name in given(argv) {
        let flag = format!("--{name}");
        if list.contains(&name.as_str()) && !bad.contains(&flag) {
            bad.push(flag);
        }
    }
    if bad.is_empty() {
        return Ok(());
    }
    // Go's %q of a []string: quoted, space-separated, in brackets.
    let quoted: Vec<String> = bad.iter().map(|f| format!("{f:?}")).collect();
    eprint!("The following flag(s) {msg}: [{}]", quoted.join(" "));
    Err(ExitCode::from(3))
}

/// Runs the agent until SIGTERM, SIGINT or `/-/quit`.
pub(crate) fn run(args: ServerArgs) -> ExitCode {
    init_logging(&args.log_level, &args.log_format);
    // As Prometheus: a configuration the agent cannot run stops the start with
    // exit code 2.
    let cfg = match load(&args.config_file) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(
                file = %args.config_file.display(),
                err = %e,
                "Error loading config (--config.file={})",
                args.config_file.display()
            );
            return ExitCode::from(2);
        }
    };
    let Some(rt) = runtime() else {
        return ExitCode::FAILURE;
    };
    match rt.block_on(serve(args, cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(path: &std::path::Path) -> Result<ember_config::Config, ember_config::ConfigError> {
    let opts = ember_config::LoadOptions {
        agent_mode: true,
        ..Default::default()
    };
    ember_config::load_file(path, &opts)
}

/// Reload bookkeeping, under Prometheus's metric names.
#[derive(Default)]
struct Stats {
    last_successful: AtomicBool,
    last_success_ts: AtomicU64,
    failures: AtomicU64,
    start_ts: AtomicU64,
}

fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

async fn serve(args: ServerArgs, cfg: ember_config::Config) -> anyhow::Result<()> {
    let opts = args
        .agent_opts
        .options(cfg.storage.tsdb.out_of_order_time_window.as_millis() as i64)?;
    let path = args.agent_opts.path.clone();
    let db = {
        let (dir, opts) = (path.clone(), opts.clone());
        tokio::task::spawn_blocking(move || AgentDb::open(&dir, opts))
            .await?
            .with_context(|| format!("opening storage at {}", path.display()))?
    };
    let db = Arc::new(db);
    {
        let r = db.replay_report();
        tracing::info!(series = r.series, samples = r.samples, duration = ?r.duration, "Agent WAL storage started");
        if let Some((reason, segment, len)) = &r.repaired {
            tracing::warn!(%reason, segment, len, "WAL was damaged; repaired by truncating at the last good record");
        }
    }
    // The queues tail `<storage.agent.path>/wal`.
    let mut remote_write =
        crate::remote_write::RemoteWrite::start(&path, &args.remote_flush_deadline, &cfg).await?;
    let sent = remote_write.metrics();
    let truncator = {
        let (db, sent) = (db.clone(), sent.clone());
        let every = opts.truncate_frequency;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                let mint = db
                    .options()
                    .truncation_point(sent.lowest_sent_timestamp(), now().as_millis() as i64);
                let db = db.clone();
                match tokio::task::spawn_blocking(move || db.truncate(mint)).await {
                    Ok(Ok(t)) => tracing::info!(
                        mint,
                        removed_series = t.removed_series,
                        checkpoint = ?t.checkpoint,
                        "WAL truncated"
                    ),
                    Ok(Err(e)) => tracing::warn!(err = %e, "failed to truncate WAL"),
                    Err(e) => tracing::error!(err = %e, "WAL truncation task failed"),
                }
            }
        })
    };

    let stats = Arc::new(Stats::default());
    stats.last_successful.store(true, Ordering::Relaxed);
    stats
        .last_success_ts
        .store(now().as_secs(), Ordering::Relaxed);
    stats.start_ts.store(now().as_secs(), Ordering::Relaxed);

    let scrape = Arc::new(tokio::sync::Mutex::new(ember_scrape::ScrapeManager::new(
        db.clone(),
    )));
    let (tx, mut rx) = mpsc::channel(8);
    let state = Arc::new(WebState {
        build: crate::version::build_info(),
        config_yaml: RwLock::new(cfg.to_yaml()),
        external_labels: RwLock::new(cfg.global.external_labels.clone()),
        flags: args.flag_values(),
        ready: AtomicBool::new(false),
        enable_lifecycle: args.enable_lifecycle,
        lifecycle: tx,
        metrics: Box::new({
            let (stats, db, sent) = (stats.clone(), db.clone(), sent.clone());
            move || render_metrics(&stats, &db, &sent)
        }),
        query: None,
        remote_write: args
            .enable_remote_write_receiver
            .then(|| db.clone() as Arc<dyn ember_storage::Appendable>),
        scrape: Some(scrape.clone()),
        rules: None,
        alertmanagers: None,
    });
    let status = Arc::new(ember_web::StatusSources {
        tsdb: None,
        runtime: None,
        enable_admin: args.enable_admin_api,
    });
    let web_config = match &args.web_config_file {
        Some(p) => Some(
            ember_serve::WebConfigFile::load(p)
                .context("Unable to validate web configuration file")?,
        ),
        None => None,
    };
    let app = ember_web::router_for_agent(state.clone(), status);
    let mut servers = Vec::new();
    for addr in &args.listen_address {
        let listener = ember_serve::bind(addr).await?;
        tracing::info!(address = %listener.local_addr()?, "listening");
        servers.push(tokio::spawn(ember_serve::serve(
            listener,
            app.clone(),
            web_config.clone(),
            std::future::pending(),
        )));
    }
    state.ready.store(true, Ordering::Release);

    let (mut discovery, syncer) = crate::server::start_discovery(&cfg, &scrape).await;

    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        let done = tokio::select! {
            _ = hup.recv() => None,
            msg = rx.recv() => match msg {
                Some(Lifecycle::Reload(done)) => Some(done),
                Some(Lifecycle::Quit) | None => break,
            },
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        };
        let r = reload(
            &args.config_file,
            &state,
            &stats,
            &mut discovery,
            &scrape,
            &mut remote_write,
        )
        .await;
        if let Some(done) = done {
            let _ = done.send(r);
        }
    }
    tracing::info!("shutting down");
    state.ready.store(false, Ordering::Release);
    truncator.abort();
    syncer.abort();
    drop(discovery);
    // Stopping the loops writes their staleness markers; then the queues send what
    // they hold within --storage.remote.flush-deadline.
    scrape.lock().await.stop_all();
    remote_write.stop().await;
    for s in servers {
        s.abort();
    }
    if let Err(e) = db.sync() {
        tracing::error!(err = %e, "syncing the WAL at shutdown");
    }
    Ok(())
}

/// Loads the configuration again with the agent's rules and applies it; a bad
/// one is logged and counted and the running one stays.
async fn reload(
    path: &std::path::Path,
    state: &WebState,
    stats: &Stats,
    discovery: &mut ember_discovery::Manager,
    scrape: &tokio::sync::Mutex<ember_scrape::ScrapeManager>,
    remote_write: &mut crate::remote_write::RemoteWrite,
) -> Result<(), String> {
    let fail = |e: String| {
        stats.last_successful.store(false, Ordering::Relaxed);
        stats.failures.fetch_add(1, Ordering::Relaxed);
        e
    };
    let cfg = load(path).map_err(|e| {
        tracing::error!(err = %e, "error reloading config; keeping the running configuration");
        fail(e.to_string())
    })?;
    if let Ok(mut y) = state.config_yaml.write() {
        *y = cfg.to_yaml();
    }
    if let Ok(mut l) = state.external_labels.write() {
        *l = cfg.global.external_labels.clone();
    }
    apply_scrape(&cfg, discovery, scrape).await;
    remote_write.apply(&cfg).await.map_err(fail)?;
    stats.last_successful.store(true, Ordering::Relaxed);
    stats
        .last_success_ts
        .store(now().as_secs(), Ordering::Relaxed);
    tracing::info!("completed loading of configuration file");
    Ok(())
}

/// `/metrics` of the agent: build and reload facts, `prometheus_agent_*` and the
/// remote-write queues'.
fn render_metrics(
    stats: &Stats,
    db: &AgentDb,
    remote_write: &ember_remote::write::MetricsHandle,
) -> String {
    use ember_exposition::{MetricFamily, MetricType, Sample, write_text};
    use ember_model::Label;
    let family = |name: &str, kind: MetricType, help: &str, samples: Vec<Sample>| MetricFamily {
        help: Some(help.to_string()),
        samples,
        ..MetricFamily::new(name, kind)
    };
    let one = |name: &str, kind: MetricType, help: &str, v: f64| {
        family(name, kind, help, vec![Sample::new(name, v)])
    };
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
    let m = db.metrics();
    let v = crate::version::build_info();
    let mut build = Sample::new("prometheus_build_info", 1.0);
    build.labels = vec![
        Label::new("branch", v.branch.as_str()),
        Label::new("goversion", v.go_version.as_str()),
        Label::new("revision", v.revision.as_str()),
        Label::new("version", v.version.as_str()),
    ];
    let mut float = Sample::new(
        "prometheus_agent_samples_appended_total",
        load(&m.float_samples_appended),
    );
    float.labels = vec![Label::new("type", "float")];
    let mut hist = Sample::new(
        "prometheus_agent_samples_appended_total",
        load(&m.histogram_samples_appended),
    );
    hist.labels = vec![Label::new("type", "histogram")];
    use MetricType::{Counter, Gauge};
    let mut families = vec![
        family(
            "prometheus_build_info",
            Gauge,
            "A metric with a constant '1' value labeled by version, revision, branch, and goversion from which Ember was built.",
            vec![build],
        ),
        one(
            "prometheus_config_last_reload_successful",
            Gauge,
            "Whether the last configuration reload attempt was successful.",
            if stats.last_successful.load(Ordering::Relaxed) {
                1.0
            } else {
                0.0
            },
        ),
        one(
            "prometheus_config_last_reload_success_timestamp_seconds",
            Gauge,
            "Timestamp of the last successful configuration reload.",
            load(&stats.last_success_ts),
        ),
        one(
            "ember_config_reload_failures_total",
            Counter,
            "Total number of failed configuration reloads.",
            load(&stats.failures),
        ),
        one(
            "process_start_time_seconds",
            Gauge,
            "Start time of the process since unix epoch in seconds.",
            load(&stats.start_ts),
        ),
        one(
            "prometheus_agent_active_series",
            Gauge,
            "Number of active series being tracked by the WAL storage",
            m.active_series.load(Ordering::Relaxed) as f64,
        ),
        one(
            "prometheus_agent_deleted_series",
            Gauge,
            "Number of series pending deletion from the WAL",
            m.deleted_series.load(Ordering::Relaxed) as f64,
        ),
        family(
            "prometheus_agent_samples_appended_total",
            Counter,
            "Total number of samples appended to the storage",
            vec![float, hist],
        ),
        one(
            "prometheus_agent_exemplars_appended_total",
            Counter,
            "Total number of exemplars appended to the storage",
            load(&m.exemplars_appended),
        ),
        one(
            "prometheus_agent_out_of_order_samples_total",
            Counter,
            "Total number of out of order samples ingestion failed attempts.",
            load(&m.out_of_order_samples),
        ),
        one(
            "prometheus_agent_corruptions_total",
            Counter,
            "Total number of WAL corruptions.",
            load(&m.corruptions),
        ),
        one(
            "prometheus_agent_data_replay_duration_seconds",
            Gauge,
            "Time taken to replay the data on disk.",
            load(&m.replay_duration_us) / 1e6,
        ),
        one(
            "prometheus_agent_checkpoint_creations_total",
            Counter,
            "Total number of checkpoint creations attempted.",
            load(&m.checkpoint_creations),
        ),
        one(
            "prometheus_agent_checkpoint_creations_failed_total",
            Counter,
            "Total number of checkpoint creations that failed.",
            load(&m.checkpoint_creations_failed),
        ),
        one(
            "prometheus_agent_checkpoint_deletions_total",
            Counter,
            "Total number of checkpoint deletions attempted.",
            load(&m.checkpoint_deletions),
        ),
        one(
            "prometheus_agent_checkpoint_deletions_failed_total",
            Counter,
            "Total number of checkpoint deletions that failed.",
            load(&m.checkpoint_deletions_failed),
        ),
        family(
            "prometheus_agent_truncate_duration_seconds",
            MetricType::Summary,
            "Duration of WAL truncation.",
            vec![
                Sample::new(
                    "prometheus_agent_truncate_duration_seconds_sum",
                    load(&m.truncate_duration_us) / 1e6,
                ),
                Sample::new(
                    "prometheus_agent_truncate_duration_seconds_count",
                    load(&m.truncations),
                ),
            ],
        ),
    ];
    families.extend(remote_write.families());
    families.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::new();
    write_text(&mut out, &families);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn given_flag_names() {
        assert_eq!(
            given(&argv(&[
                "ember",
                "server",
                "--agent",
                "--storage.tsdb.path=/x",
                "--query.timeout",
                "1m"
            ])),
            vec!["agent", "storage.tsdb.path", "query.timeout"]
        );
    }
}
