//! `ember server` (and the all-in-one start): Prometheus's flags, configuration
//! loading and reload, the HTTP listener, signals and graceful shutdown.

use anyhow::Context;
use clap::Args;
use ember_web::{Lifecycle, WebState};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Flags as `prometheus` names them. Those whose component has not landed yet are
/// accepted and shown in `/api/v1/status/flags`, so an existing unit file starts.
#[derive(Args, Debug, Clone)]
pub(crate) struct ServerArgs {
    /// Prometheus configuration file path.
    #[arg(long = "config.file", default_value = "prometheus.yml")]
    pub(crate) config_file: PathBuf,
    /// Address(es) to listen on for the UI, API and telemetry.
    #[arg(long = "web.listen-address", default_value = "0.0.0.0:9090")]
    pub(crate) listen_address: Vec<String>,
    /// Path to a web configuration file (TLS, basic auth).
    #[arg(long = "web.config.file")]
    pub(crate) web_config_file: Option<PathBuf>,
    /// URL under which Ember is externally reachable.
    #[arg(long = "web.external-url")]
    pub(crate) external_url: Option<String>,
    /// Prefix for the internal routes of web endpoints.
    #[arg(long = "web.route-prefix")]
    pub(crate) route_prefix: Option<String>,
    /// Enable shutdown and reload via HTTP request.
    #[arg(
        long = "web.enable-lifecycle",
        default_value_t = false,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        overrides_with = "enable_lifecycle"
    )]
    pub(crate) enable_lifecycle: bool,
    /// Enable API endpoints for admin control actions.
    #[arg(
        long = "web.enable-admin-api",
        default_value_t = false,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        overrides_with = "enable_admin_api"
    )]
    pub(crate) enable_admin_api: bool,
    /// Accept remote write requests on /api/v1/write.
    #[arg(
        long = "web.enable-remote-write-receiver",
        default_value_t = false,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        overrides_with = "enable_remote_write_receiver"
    )]
    pub(crate) enable_remote_write_receiver: bool,
    /// Accept OTLP metrics on /api/v1/otlp/v1/metrics.
    #[arg(
        long = "web.enable-otlp-receiver",
        default_value_t = false,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        overrides_with = "enable_otlp_receiver"
    )]
    pub(crate) enable_otlp_receiver: bool,
    /// Maximum duration before timing out read of the request.
    #[arg(long = "web.read-timeout", default_value = "5m")]
    pub(crate) read_timeout: String,
    /// Maximum number of simultaneous connections.
    #[arg(long = "web.max-connections", default_value = "512")]
    pub(crate) max_connections: u32,
    /// Document title of the UI.
    #[arg(
        long = "web.page-title",
        default_value = "Ember Time Series Collection and Processing Server"
    )]
    pub(crate) page_title: String,
    /// Regex for CORS origin; fully anchored.
    #[arg(long = "web.cors.origin", default_value = ".*")]
    pub(crate) cors_origin: String,
    /// Base path for metrics storage.
    #[arg(long = "storage.tsdb.path", default_value = "data/")]
    pub(crate) tsdb_path: PathBuf,
    /// How long to retain samples in storage.
    #[arg(long = "storage.tsdb.retention.time")]
    pub(crate) retention_time: Option<String>,
    /// Maximum number of bytes that can be stored for blocks.
    #[arg(long = "storage.tsdb.retention.size")]
    pub(crate) retention_size: Option<String>,
    /// Do not create a lockfile in the data directory.
    #[arg(
        long = "storage.tsdb.no-lockfile",
        default_value_t = false,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        overrides_with = "no_lockfile"
    )]
    pub(crate) no_lockfile: bool,
    /// Duration of a block cut from the head; compaction merges blocks up from it.
    #[arg(long = "storage.tsdb.min-block-duration", default_value = "2h")]
    pub(crate) min_block_duration: String,
    /// Largest block compaction produces (default: 10% of the retention time, at most 31d).
    #[arg(long = "storage.tsdb.max-block-duration")]
    pub(crate) max_block_duration: Option<String>,
    /// Compress the WAL with snappy.
    #[arg(
        long = "storage.tsdb.wal-compression",
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        overrides_with = "wal_compression"
    )]
    pub(crate) wal_compression: bool,
    /// Size of the queue through which head chunks are written to disk.
    #[arg(
        long = "storage.tsdb.head-chunks-write-queue-size",
        default_value = "0"
    )]
    pub(crate) head_chunks_write_queue_size: u64,
    /// How long to wait flushing sample on shutdown or config reload.
    #[arg(long = "storage.remote.flush-deadline", default_value = "1m")]
    pub(crate) remote_flush_deadline: String,
    /// Maximum overall number of samples to return via the remote read interface.
    #[arg(long = "storage.remote.read-sample-limit", default_value = "50000000")]
    pub(crate) remote_read_sample_limit: u64,
    /// Maximum number of concurrent remote read calls.
    #[arg(long = "storage.remote.read-concurrent-limit", default_value = "10")]
    pub(crate) remote_read_concurrent_limit: u64,
    /// Maximum number of bytes in a single frame for streaming remote read
    /// response types before marshalling.
    #[arg(
        long = "storage.remote.read-max-bytes-in-frame",
        default_value = "1048576"
    )]
    pub(crate) remote_read_max_bytes_in_frame: u64,
    /// Max tolerance for restoring the "for" state of alerts.
    #[arg(long = "rules.alert.for-outage-tolerance", default_value = "1h")]
    pub(crate) for_outage_tolerance: String,
    /// Minimum duration between alert and restored "for" state.
    #[arg(long = "rules.alert.for-grace-period", default_value = "10m")]
    pub(crate) for_grace_period: String,
    /// Minimum amount of time to wait before resending an alert to Alertmanager.
    #[arg(long = "rules.alert.resend-delay", default_value = "1m")]
    pub(crate) resend_delay: String,
    /// Global concurrency limit for independent rules that can run concurrently.
    #[arg(long = "rules.max-concurrent-evals", default_value = "4")]
    pub(crate) max_concurrent_evals: u64,
    /// Capacity of the queue for pending Alertmanager notifications.
    #[arg(
        long = "alertmanager.notification-queue-capacity",
        default_value = "10000"
    )]
    pub(crate) notification_queue_capacity: u64,
    /// The maximum number of notifications per batch to send to the Alertmanager.
    #[arg(
        long = "alertmanager.notification-batch-size",
        default_value = "256",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub(crate) notification_batch_size: u64,
    /// Send any outstanding Alertmanager notifications when shutting down. If
    /// false, any outstanding Alertmanager notifications will be dropped when
    /// shutting down.
    // Kingpin's boolean flags: `--flag`, `--flag=true|false` and `--no-flag`,
    // whichever comes last winning.
    #[arg(
        long = "alertmanager.drain-notification-queue-on-shutdown",
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        overrides_with = "no_drain_notification_queue"
    )]
    pub(crate) drain_notification_queue: bool,
    #[arg(
        long = "no-alertmanager.drain-notification-queue-on-shutdown",
        hide = true,
        overrides_with = "drain_notification_queue"
    )]
    pub(crate) no_drain_notification_queue: bool,
    /// Lookback delta for instant vector selectors.
    #[arg(long = "query.lookback-delta", default_value = "5m")]
    pub(crate) lookback_delta: String,
    /// Maximum time a query may take before being aborted.
    #[arg(long = "query.timeout", default_value = "2m")]
    pub(crate) query_timeout: String,
    /// Maximum number of queries executed concurrently.
    #[arg(long = "query.max-concurrency", default_value = "20")]
    pub(crate) query_max_concurrency: u64,
    /// Maximum number of samples a single query can load into memory.
    #[arg(long = "query.max-samples", default_value = "50000000")]
    pub(crate) query_max_samples: u64,
    /// Comma separated feature names to enable.
    #[arg(long = "enable-feature", value_delimiter = ',')]
    pub(crate) enable_feature: Vec<String>,
    /// Run in agent mode.
    #[arg(
        long = "agent",
        default_value_t = false,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        overrides_with = "agent"
    )]
    pub(crate) agent: bool,
    /// The `--storage.agent.*` flags (see `agent.rs`).
    #[command(flatten)]
    pub(crate) agent_opts: crate::agent::AgentArgs,
    /// Only log messages with the given severity or above: debug, info, warn, error.
    #[arg(long = "log.level", default_value = "info", value_parser = ["debug", "info", "warn", "error"])]
    pub(crate) log_level: String,
    /// Output format of log messages: logfmt, json.
    #[arg(long = "log.format", default_value = "logfmt", value_parser = ["logfmt", "json"])]
    pub(crate) log_format: String,
}

impl ServerArgs {
    /// `--alertmanager.drain-notification-queue-on-shutdown`, after its `--no-` form.
    fn drain_on_shutdown(&self) -> bool {
        self.drain_notification_queue && !self.no_drain_notification_queue
    }

    /// The flags and their effective values, as `/api/v1/status/flags` shows them.
    pub(crate) fn flag_values(&self) -> Vec<(String, String)> {
        let s = |v: &dyn std::fmt::Display| v.to_string();
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        let mut f = vec![
            ("config.file", self.config_file.display().to_string()),
            ("web.listen-address", self.listen_address.join(",")),
            (
                "web.config.file",
                self.web_config_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            ("web.external-url", o(&self.external_url)),
            ("web.route-prefix", o(&self.route_prefix)),
            ("web.enable-lifecycle", s(&self.enable_lifecycle)),
            ("web.enable-admin-api", s(&self.enable_admin_api)),
            (
                "web.enable-remote-write-receiver",
                s(&self.enable_remote_write_receiver),
            ),
            ("web.enable-otlp-receiver", s(&self.enable_otlp_receiver)),
            ("web.read-timeout", self.read_timeout.clone()),
            ("web.max-connections", s(&self.max_connections)),
            ("web.page-title", self.page_title.clone()),
            ("web.cors.origin", self.cors_origin.clone()),
            ("storage.tsdb.path", self.tsdb_path.display().to_string()),
            ("storage.tsdb.retention.time", o(&self.retention_time)),
            ("storage.tsdb.retention.size", o(&self.retention_size)),
            ("storage.tsdb.no-lockfile", s(&self.no_lockfile)),
            (
                "storage.tsdb.min-block-duration",
                self.min_block_duration.clone(),
            ),
            (
                "storage.tsdb.max-block-duration",
                o(&self.max_block_duration),
            ),
            ("storage.tsdb.wal-compression", s(&self.wal_compression)),
            (
                "storage.tsdb.head-chunks-write-queue-size",
                s(&self.head_chunks_write_queue_size),
            ),
            (
                "storage.remote.flush-deadline",
                self.remote_flush_deadline.clone(),
            ),
            (
                "storage.remote.read-sample-limit",
                s(&self.remote_read_sample_limit),
            ),
            (
                "storage.remote.read-concurrent-limit",
                s(&self.remote_read_concurrent_limit),
            ),
            (
                "storage.remote.read-max-bytes-in-frame",
                s(&self.remote_read_max_bytes_in_frame),
            ),
            (
                "rules.alert.for-outage-tolerance",
                self.for_outage_tolerance.clone(),
            ),
            (
                "rules.alert.for-grace-period",
                self.for_grace_period.clone(),
            ),
            ("rules.alert.resend-delay", self.resend_delay.clone()),
            ("rules.max-concurrent-evals", s(&self.max_concurrent_evals)),
            (
                "alertmanager.notification-queue-capacity",
                s(&self.notification_queue_capacity),
            ),
            (
                "alertmanager.notification-batch-size",
                s(&self.notification_batch_size),
            ),
            (
                "alertmanager.drain-notification-queue-on-shutdown",
                s(&self.drain_on_shutdown()),
            ),
            ("query.lookback-delta", self.lookback_delta.clone()),
            ("query.timeout", self.query_timeout.clone()),
            ("query.max-concurrency", s(&self.query_max_concurrency)),
            ("query.max-samples", s(&self.query_max_samples)),
            ("enable-feature", self.enable_feature.join(",")),
            ("agent", s(&self.agent)),
            ("log.level", self.log_level.clone()),
            ("log.format", self.log_format.clone()),
        ];
        f.extend(self.agent_opts.flag_values());
        f.sort_by(|a, b| a.0.cmp(b.0));
        f.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

/// Where the configuration comes from: a file the user names, or the embedded default.
#[derive(Clone, Debug)]
pub(crate) enum ConfigSource {
    File(PathBuf),
    Embedded,
}

impl ConfigSource {
    fn load(&self) -> Result<ember_config::Config, ember_config::ConfigError> {
        let opts = ember_config::LoadOptions::default();
        match self {
            ConfigSource::File(p) => ember_config::load_file(p, &opts),
            ConfigSource::Embedded => ember_config::load_str(
                ember_config::DEFAULT_CONFIG_YAML,
                std::path::Path::new("<embedded default>"),
                &opts,
            ),
        }
    }
}

/// `ember node-exporter`.
pub(crate) fn run_node_exporter(args: ember_node_exporter::Args) -> ExitCode {
    init_logging(&args.log_level, &args.log_format);
    let Some(rt) = runtime() else {
        return ExitCode::FAILURE;
    };
    rt.block_on(async {
        tokio::select! {
            r = ember_node_exporter::run(args) => match r {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(err = %e, "node exporter failed");
                    ExitCode::FAILURE
                }
            },
            // SIGTERM (systemd, Docker, Kubernetes) as well as Ctrl-C.
            _ = termination() => ExitCode::SUCCESS,
        }
    })
}

/// The multi-threaded runtime every subcommand runs on; `None` (logged) if it
/// cannot start.
pub(crate) fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            tracing::error!(err = %e, "cannot start the async runtime");
            None
        }
    }
}

/// Completes on SIGTERM or SIGINT.
async fn termination() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// `ember pushgateway`: serves until SIGTERM, SIGINT or `/-/quit`, then writes the
/// persistence file.
pub(crate) fn run_pushgateway(args: ember_pushgateway::Args) -> ExitCode {
    init_logging(&args.log_level, &args.log_format);
    let Some(rt) = runtime() else {
        return ExitCode::FAILURE;
    };
    let build = crate::version::pushgateway_build_info();
    match rt.block_on(ember_pushgateway::run(args, build, termination())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(err = %e, "pushgateway failed");
            ExitCode::FAILURE
        }
    }
}

/// `ember` with no subcommand: the whole stack on the embedded default configuration.
pub(crate) fn run_all_in_one() -> ExitCode {
    use clap::Parser;
    #[derive(Parser)]
    struct Defaults {
        #[command(flatten)]
        server: ServerArgs,
    }
    let args = Defaults::parse_from(["ember"]).server;
    run(args, Some(ConfigSource::Embedded))
}

pub(crate) fn init_logging(level: &str, format: &str) {
    let filter = tracing_subscriber::EnvFilter::new(level);
    // Colour only on a terminal: log files and journald get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        b.json().try_init()
    } else {
        b.try_init()
    };
}

/// Runs the server until SIGTERM, SIGINT or `/-/quit`.
pub(crate) fn run(args: ServerArgs, source: Option<ConfigSource>) -> ExitCode {
    if crate::agent::enabled(&args) {
        return crate::agent::run(args);
    }
    init_logging(&args.log_level, &args.log_format);
    let announce = source.is_some();
    let all_in_one = announce;
    let source = source.unwrap_or_else(|| ConfigSource::File(args.config_file.clone()));
    let Some(rt) = runtime() else {
        return ExitCode::FAILURE;
    };
    match rt.block_on(serve(args, source, announce, all_in_one)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Reload bookkeeping, exposed under Prometheus's metric names so that existing
/// dashboards and alerts on config reloads keep working.
#[derive(Default)]
struct ReloadStats {
    last_successful: AtomicBool,
    last_success_ts: AtomicU64,
    failures: AtomicU64,
    start_ts: AtomicU64,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// PromQL settings from the `--query.*` flags.
fn engine_options(args: &ServerArgs) -> anyhow::Result<ember_promql::EngineOptions> {
    let ms = |flag: &str, v: &str| -> anyhow::Result<std::time::Duration> {
        Ok(std::time::Duration::from_millis(
            parse_duration_flag(flag, v)?.max(0) as u64,
        ))
    };
    Ok(ember_promql::EngineOptions {
        lookback_delta: ms("query.lookback-delta", &args.lookback_delta)?,
        max_samples: args.query_max_samples as usize,
        timeout: ms("query.timeout", &args.query_timeout)?,
        ..Default::default()
    })
}

pub(crate) fn parse_duration_flag(flag: &str, v: &str) -> anyhow::Result<i64> {
    let d: ember_config::Duration = v
        .parse()
        .map_err(|e| anyhow::anyhow!("invalid --{flag} {v:?}: {e}"))?;
    Ok(d.as_millis() as i64)
}

/// TSDB settings from the flags, with Prometheus's defaults: 15 days of retention
/// when neither a time nor a size is given, and blocks up to 10% of the retention
/// (at most 31 days).
fn tsdb_options(args: &ServerArgs) -> anyhow::Result<ember_tsdb::DbOptions> {
    let retention_time = match (&args.retention_time, &args.retention_size) {
        (Some(t), _) => parse_duration_flag("storage.tsdb.retention.time", t)?,
        (None, None) => 15 * 24 * 3_600_000,
        (None, Some(_)) => 0,
    };
    let retention_size = match &args.retention_size {
        Some(v) => {
            let b: ember_config::ByteSize = v
                .parse()
                .map_err(|e| anyhow::anyhow!("invalid --storage.tsdb.retention.size {v:?}: {e}"))?;
            b.0.max(0) as u64
        }
        None => 0,
    };
    let min_block =
        parse_duration_flag("storage.tsdb.min-block-duration", &args.min_block_duration)?;
    anyhow::ensure!(
        min_block > 0,
        "--storage.tsdb.min-block-duration must be positive"
    );
    let max_block = match &args.max_block_duration {
        Some(v) => parse_duration_flag("storage.tsdb.max-block-duration", v)?,
        None if retention_time > 0 => (retention_time / 10).min(31 * 24 * 3_600_000),
        None => 31 * 24 * 3_600_000,
    };
    Ok(ember_tsdb::DbOptions {
        head: ember_tsdb::HeadOptions {
            chunk_range: min_block,
            ..Default::default()
        },
        wal: ember_wal::segment::WalOptions {
            compress: args.wal_compression,
            ..Default::default()
        },
        retention_time,
        retention_size,
        max_block_duration: max_block.max(min_block),
        no_lockfile: args.no_lockfile,
    })
}

/// `storage.tsdb.out_of_order_time_window` in ms.
fn ooo_window(cfg: &ember_config::Config) -> i64 {
    cfg.storage.tsdb.out_of_order_time_window.as_millis() as i64
}

/// Applies the reloadable storage settings (the out-of-order window), as
/// Prometheus does on reload.
fn apply_storage(db: &ember_tsdb::Db, cfg: &ember_config::Config) {
    if let Err(e) = db.set_out_of_order_window(ooo_window(cfg)) {
        tracing::error!(err = %e, "applying storage.tsdb.out_of_order_time_window");
    }
    db.head().apply_exemplar_config(max_exemplars(cfg));
}

/// `storage.exemplars.max_exemplars`, Prometheus's 100000 when the section is
/// absent (it matters only with exemplar storage on).
fn max_exemplars(cfg: &ember_config::Config) -> i64 {
    cfg.storage
        .exemplars
        .as_ref()
        .map_or(100_000, |e| e.max_exemplars)
}

/// Exemplar storage, as in Prometheus 3.x: on with `--enable-feature=exemplar-storage`,
/// sized by the configuration.
fn exemplar_options(
    args: &ServerArgs,
    cfg: &ember_config::Config,
    head: &mut ember_tsdb::HeadOptions,
) {
    head.enable_exemplar_storage = args.enable_feature.iter().any(|f| f == "exemplar-storage");
    head.max_exemplars = max_exemplars(cfg);
    if head.enable_exemplar_storage {
        tracing::info!("Experimental in-memory exemplar storage enabled");
    }
}

async fn serve(
    args: ServerArgs,
    source: ConfigSource,
    announce: bool,
    all_in_one: bool,
) -> anyhow::Result<()> {
    // The all-in-one start runs the node exporter beside the server, on :9100, which
    // the embedded configuration scrapes. A busy port is a warning, not a failure.
    let node_exporter = all_in_one.then(|| {
        tokio::spawn(async {
            if let Err(e) = ember_node_exporter::run(ember_node_exporter::Args::default()).await {
                tracing::warn!(err = %e, "node exporter not started");
            }
        })
    });
    // And the Pushgateway on :9091, scraped with `honor_labels: true`. Its groups
    // are kept in memory only, unless `ember pushgateway` is run on its own with
    // `--persistence.file`.
    let (pg_stop, pg_stopped) = tokio::sync::oneshot::channel::<()>();
    let pushgateway = all_in_one.then(|| {
        tokio::spawn(async move {
            let stop = async {
                let _ = pg_stopped.await;
            };
            if let Err(e) = ember_pushgateway::run(
                ember_pushgateway::Args::default(),
                crate::version::pushgateway_build_info(),
                stop,
            )
            .await
            {
                tracing::warn!(err = %e, "pushgateway not started");
            }
        })
    });
    // And the Alertmanager on :9093, which the embedded configuration sends alerts
    // to; its configuration, silences and notification log live in
    // `<storage.tsdb.path>/alertmanager`.
    let (am_stop, am_stopped) = tokio::sync::oneshot::channel::<()>();
    let alertmanager = all_in_one.then(|| {
        let dir = args.tsdb_path.join("alertmanager");
        tokio::spawn(crate::alertmanager::run_embedded(dir, async move {
            let _ = am_stopped.await;
        }))
    });
    let cfg = source.load().context("Error loading config")?;
    tracing::info!(source = ?source, "configuration loaded");

    let mut db_opts = tsdb_options(&args)?;
    // `read_recent: false` trusts local data from the oldest block on, plus
    // Prometheus's margin of two minimum block durations.
    let read_margin = 2 * db_opts.head.chunk_range;
    db_opts.head.out_of_order_window = ooo_window(&cfg);
    exemplar_options(&args, &cfg, &mut db_opts.head);
    let path = args.tsdb_path.clone();
    let db = tokio::task::spawn_blocking(move || ember_tsdb::Db::open(&path, db_opts))
        .await?
        .with_context(|| format!("opening storage at {}", args.tsdb_path.display()))?;
    let db = Arc::new(db);
    // Queries and rules read the TSDB merged with the `remote_read` remotes.
    let remote_read = crate::remote_read::RemoteReads::new(db.clone(), read_margin);
    remote_read.apply(&cfg).map_err(|e| anyhow::anyhow!(e))?;
    // `remote_write`: queues tailing the WAL just opened.
    let mut remote_write =
        crate::remote_write::RemoteWrite::start(&args.tsdb_path, &args.remote_flush_deadline, &cfg)
            .await?;
    {
        let r = db.replay_report();
        tracing::info!(
            blocks = db.blocks().len(),
            series = r.series,
            samples = r.samples,
            duration = ?r.duration,
            "TSDB started"
        );
        if let Some((reason, repair)) = &r.repaired {
            tracing::warn!(%reason, ?repair, "WAL was damaged; repaired by truncating at the last good record");
        }
        for b in &r.bad_blocks {
            tracing::error!(block = %b, "block could not be opened and is not served");
        }
    }
    let compactor = {
        let db = db.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                let db = db.clone();
                match tokio::task::spawn_blocking(move || db.compact()).await {
                    Ok(Ok(n)) if n > 0 => tracing::info!(blocks = n, "compaction wrote blocks"),
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!(err = %e, "compaction failed"),
                    Err(e) => tracing::error!(err = %e, "compaction task failed"),
                }
            }
        })
    };

    let stats = Arc::new(ReloadStats::default());
    stats.last_successful.store(true, Ordering::Relaxed);
    stats.last_success_ts.store(now_secs(), Ordering::Relaxed);
    stats.start_ts.store(now_secs(), Ordering::Relaxed);

    let scrape = Arc::new(tokio::sync::Mutex::new(ember_scrape::ScrapeManager::new(
        db.clone(),
    )));
    let mut alerting = crate::alerting::Alerting::start(
        ember_notifier::Options {
            queue_capacity: args.notification_queue_capacity as usize,
            max_batch_size: args.notification_batch_size as usize,
            drain_on_shutdown: args.drain_on_shutdown(),
        },
        external_url(&args),
    );
    alerting.apply(&cfg);
    let notifier = alerting.notifier.clone();
    let dur = |flag: &str, v: &str| -> anyhow::Result<std::time::Duration> {
        Ok(std::time::Duration::from_millis(
            parse_duration_flag(flag, v)?.max(0) as u64,
        ))
    };
    alerting.rules = Some(ember_rules::Manager::new(ember_rules::ManagerOptions {
        queryable: remote_read.queryable(),
        appendable: db.clone(),
        engine: ember_promql::Engine::new(engine_options(&args)?),
        notifier: Some(notifier.clone()),
        outage_tolerance: dur(
            "rules.alert.for-outage-tolerance",
            &args.for_outage_tolerance,
        )?,
        grace: dur("rules.alert.for-grace-period", &args.for_grace_period)?,
        resend_delay: dur("rules.alert.resend-delay", &args.resend_delay)?,
        state_file: Some(args.tsdb_path.join("ember_rules_state.json")),
    }));
    alerting
        .apply_rules(&cfg)
        .map_err(|e| anyhow::anyhow!("error loading rules:\n{e}"))?;
    let (tx, mut rx) = mpsc::channel(8);
    let metrics_stats = stats.clone();
    let metrics_db = db.clone();
    let state = Arc::new(WebState {
        build: crate::version::build_info(),
        config_yaml: RwLock::new(cfg.to_yaml()),
        external_labels: RwLock::new(cfg.global.external_labels.clone()),
        flags: args.flag_values(),
        ready: AtomicBool::new(false),
        enable_lifecycle: args.enable_lifecycle,
        lifecycle: tx,
        metrics: Box::new({
            let notifier = notifier.clone();
            let remote = remote_write.metrics();
            move || render_metrics(&metrics_stats, &metrics_db, &notifier, &remote)
        }),
        query: Some(Arc::new(ember_web::QueryService {
            storage: remote_read.queryable(),
            local: db.clone(),
            engine: ember_promql::Engine::new(engine_options(&args)?),
        })),
        remote_write: args
            .enable_remote_write_receiver
            .then(|| db.clone() as Arc<dyn ember_storage::Appendable>),
        scrape: Some(scrape.clone()),
        rules: alerting.rules.clone(),
        alertmanagers: Some(Box::new(move || {
            let a = notifier.alertmanagers();
            (a.active, a.dropped)
        })),
    });

    let status = Arc::new(ember_web::StatusSources {
        tsdb: Some(db.clone()),
        runtime: None,
        enable_admin: args.enable_admin_api,
    });
    // `--web.config.file` (TLS, basic auth, headers): checked before listening, as
    // Prometheus does; a bad file stops the start with its file, line and field.
    let web_config = match &args.web_config_file {
        Some(path) => Some(
            ember_serve::WebConfigFile::load(path)
                .context("Unable to validate web configuration file")?,
        ),
        None => None,
    };
    let app = ember_web::RemoteReadServer::new(
        args.remote_read_sample_limit,
        args.remote_read_concurrent_limit,
        args.remote_read_max_bytes_in_frame,
    )
    .install(ember_web::router_with_status(state.clone(), status.clone()));
    let mut servers = Vec::new();
    let mut first_addr = None;
    for addr in &args.listen_address {
        let listener = ember_serve::bind(addr).await?;
        let local = listener.local_addr()?;
        first_addr.get_or_insert(local);
        tracing::info!(address = %local, "listening");
        servers.push(tokio::spawn(ember_serve::serve(
            listener,
            app.clone(),
            web_config.clone(),
            std::future::pending(),
        )));
    }
    state.ready.store(true, Ordering::Release);
    if announce && let Some(a) = first_addr {
        let host = if a.ip().is_unspecified() {
            "localhost".to_string()
        } else {
            a.ip().to_string()
        };
        println!("Ember is running: open http://{host}:{}/", a.port());
    }

    // Discovery feeds scraping; scraping writes into the TSDB.
    let (mut discovery, syncer) = start_discovery(&cfg, &scrape).await;

    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                if let Ok(cfg) = reload(&source, &state, &stats) {
                    apply_storage(&db, &cfg);
                    let _ = apply_remote_read(&remote_read, &cfg, &stats);
                    let _ = apply_remote_write(&mut remote_write, &cfg, &stats).await;
                    apply_scrape(&cfg, &mut discovery, &scrape).await;
                    alerting.apply(&cfg);
                    let _ = apply_rules(&alerting, &cfg, &stats);
                }
            }
            msg = rx.recv() => match msg {
                Some(Lifecycle::Reload(done)) => {
                    let r = match reload(&source, &state, &stats) {
                        Ok(cfg) => {
                            apply_storage(&db, &cfg);
                            apply_scrape(&cfg, &mut discovery, &scrape).await;
                            alerting.apply(&cfg);
                            let written = apply_remote_write(&mut remote_write, &cfg, &stats).await;
                            apply_remote_read(&remote_read, &cfg, &stats)
                                .and(written)
                                .and(apply_rules(&alerting, &cfg, &stats))
                        }
                        Err(e) => Err(e),
                    };
                    let _ = done.send(r);
                }
                Some(Lifecycle::Quit) | None => break,
            },
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    tracing::info!("shutting down");
    state.ready.store(false, Ordering::Release);
    compactor.abort();
    syncer.abort();
    if let Some(n) = node_exporter {
        n.abort();
    }
    if let Some(p) = pushgateway {
        let _ = pg_stop.send(());
        let _ = p.await;
    }
    drop(discovery);
    if let Some(r) = &alerting.rules {
        r.stop();
    }
    // As Prometheus: the rules first, then the notifier, which sends what is
    // still queued (bounded by the Alertmanagers' timeouts) unless told not to;
    // the embedded Alertmanager of the all-in-one start stops after it, so that
    // it still receives them.
    alerting.stop().await;
    drop(alerting);
    if let Some(a) = alertmanager {
        let _ = am_stop.send(());
        let _ = a.await;
    }
    // Stopping the loops marks their series stale, as Prometheus does on shutdown.
    scrape.lock().await.stop_all();
    // Then the remote-write queues, each sending what it holds within
    // --storage.remote.flush-deadline.
    remote_write.stop().await;
    for s in servers {
        s.abort();
    }
    // Every acknowledged sample is already in the WAL; it is fsynced now, and
    // dropping the handle releases the lock file.
    if let Err(e) = db.head().sync_logs() {
        tracing::error!(err = %e, "syncing the WAL at shutdown");
    }
    drop(state);
    drop(db);
    Ok(())
}

/// The server's boolean flags, which Prometheus (kingpin) also takes as `--no-<flag>`
/// (and as `--<flag>=true|false`, which their declarations accept).
const KINGPIN_BOOLS: &[&str] = &[
    "web.enable-lifecycle",
    "web.enable-admin-api",
    "web.enable-remote-write-receiver",
    "web.enable-otlp-receiver",
    "storage.tsdb.no-lockfile",
    "storage.tsdb.wal-compression",
    "agent",
    "storage.agent.wal-compression",
    "storage.agent.no-lockfile",
];

/// `ember server`'s arguments with kingpin's `--no-<flag>` of [`KINGPIN_BOOLS`]
/// spelled `--<flag>=false`, which clap parses; other arguments are untouched.
pub(crate) fn kingpin_negations(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    if args.get(1).and_then(|a| a.to_str()) != Some("server") {
        return args;
    }
    args.into_iter()
        .map(|a| {
            let negated = a
                .to_str()
                .and_then(|s| s.strip_prefix("--no-"))
                .filter(|name| KINGPIN_BOOLS.contains(name));
            match negated {
                Some(name) => format!("--{name}=false").into(),
                None => a,
            }
        })
        .collect()
}

/// Starts discovery for `cfg`'s scrape jobs and a task handing each change of
/// targets to `scrape`; the manager (for reloads) and the task.
pub(crate) async fn start_discovery(
    cfg: &ember_config::Config,
    scrape: &Arc<tokio::sync::Mutex<ember_scrape::ScrapeManager>>,
) -> (ember_discovery::Manager, tokio::task::JoinHandle<()>) {
    let mut discovery = ember_discovery::Manager::new();
    apply_scrape(cfg, &mut discovery, scrape).await;
    let scrape = scrape.clone();
    let mut rx = discovery.subscribe();
    let syncer = tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let snap = rx.borrow_and_update().clone();
            scrape.lock().await.sync(&snap);
        }
    });
    (discovery, syncer)
}

/// Rebuilds the `remote_read` remotes; a failure counts as a failed reload and the
/// running remotes stay.
fn apply_remote_read(
    rr: &crate::remote_read::RemoteReads,
    cfg: &ember_config::Config,
    stats: &ReloadStats,
) -> Result<(), String> {
    rr.apply(cfg).map_err(|e| {
        stats.last_successful.store(false, Ordering::Relaxed);
        stats.failures.fetch_add(1, Ordering::Relaxed);
        tracing::error!(err = %e, "error applying remote_read; keeping the running remotes");
        e
    })
}

/// Re-applies `remote_write`; a failure counts as a failed reload and the running
/// queues stay.
async fn apply_remote_write(
    rw: &mut crate::remote_write::RemoteWrite,
    cfg: &ember_config::Config,
    stats: &ReloadStats,
) -> Result<(), String> {
    rw.apply(cfg).await.inspect_err(|_| {
        stats.last_successful.store(false, Ordering::Relaxed);
        stats.failures.fetch_add(1, Ordering::Relaxed);
    })
}

/// Loads the rule files of a reloaded configuration; a failure is logged and
/// counted like a bad configuration, and the running rules stay.
fn apply_rules(
    alerting: &crate::alerting::Alerting,
    cfg: &ember_config::Config,
    stats: &ReloadStats,
) -> Result<(), String> {
    alerting.apply_rules(cfg).map_err(|e| {
        stats.last_successful.store(false, Ordering::Relaxed);
        stats.failures.fetch_add(1, Ordering::Relaxed);
        tracing::error!(err = %e, "error loading rules; keeping the running rules");
        format!("error loading rules: {e}")
    })
}

/// `--web.external-url`, or Prometheus's default: `http://<hostname>:<port>`.
fn external_url(args: &ServerArgs) -> String {
    if let Some(u) = &args.external_url {
        return u.trim_end_matches('/').to_string();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    let port = args
        .listen_address
        .first()
        .and_then(|a| a.rsplit_once(':'))
        .map(|(_, p)| p.to_string())
        .unwrap_or_else(|| "9090".into());
    format!("http://{host}:{port}")
}

/// Points discovery and scraping at the jobs of `cfg`.
pub(crate) async fn apply_scrape(
    cfg: &ember_config::Config,
    discovery: &mut ember_discovery::Manager,
    scrape: &tokio::sync::Mutex<ember_scrape::ScrapeManager>,
) {
    let jobs: Vec<ember_config::ScrapeConfig> = cfg.all_scrape_configs().cloned().collect();
    discovery.apply(
        jobs.iter()
            .map(|j| (j.job_name.clone(), j.service_discovery.clone()))
            .collect(),
    );
    // Jobs whose discovery did not change keep their targets without a new
    // snapshot; those whose scrape settings changed were stopped by
    // `apply_config` and start again here from the current targets.
    let snap = discovery.current();
    let mut m = scrape.lock().await;
    m.apply_config(jobs);
    m.sync(&snap);
}

/// Loads the configuration again; a bad one is logged and counted and the running
/// one stays.
fn reload(
    source: &ConfigSource,
    state: &WebState,
    stats: &ReloadStats,
) -> Result<ember_config::Config, String> {
    match source.load() {
        Ok(cfg) => {
            if let Ok(mut y) = state.config_yaml.write() {
                *y = cfg.to_yaml();
            }
            if let Ok(mut l) = state.external_labels.write() {
                *l = cfg.global.external_labels.clone();
            }
            stats.last_successful.store(true, Ordering::Relaxed);
            stats.last_success_ts.store(now_secs(), Ordering::Relaxed);
            tracing::info!("completed loading of configuration file");
            Ok(cfg)
        }
        Err(e) => {
            stats.last_successful.store(false, Ordering::Relaxed);
            stats.failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(err = %e, "error reloading config; keeping the running configuration");
            Err(e.to_string())
        }
    }
}

fn render_metrics(
    stats: &ReloadStats,
    db: &ember_tsdb::Db,
    notifier: &ember_notifier::Notifier,
    remote_write: &ember_remote::write::MetricsHandle,
) -> String {
    use ember_exposition::{MetricFamily, MetricType, Sample, write_text};
    use ember_model::Label;
    let v = crate::version::build_info();
    let gauge = |name: &str, help: &str, value: f64| MetricFamily {
        help: Some(help.to_string()),
        samples: vec![Sample::new(name, value)],
        ..MetricFamily::new(name, MetricType::Gauge)
    };
    let mut build = Sample::new("prometheus_build_info", 1.0);
    build.labels = vec![
        Label::new("branch", v.branch.as_str()),
        Label::new("goversion", v.go_version.as_str()),
        Label::new("revision", v.revision.as_str()),
        Label::new("version", v.version.as_str()),
    ];
    let mut families = vec![
        MetricFamily {
            help: Some(
                "A metric with a constant '1' value labeled by version, revision, branch, and goversion from which Ember was built.".into(),
            ),
            samples: vec![build],
            ..MetricFamily::new("prometheus_build_info", MetricType::Gauge)
        },
        gauge(
            "prometheus_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
            if stats.last_successful.load(Ordering::Relaxed) { 1.0 } else { 0.0 },
        ),
        gauge(
            "prometheus_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
            stats.last_success_ts.load(Ordering::Relaxed) as f64,
        ),
        MetricFamily {
            help: Some("Total number of failed configuration reloads.".into()),
            samples: vec![Sample::new("ember_config_reload_failures_total", stats.failures.load(Ordering::Relaxed) as f64)],
            ..MetricFamily::new("ember_config_reload_failures_total", MetricType::Counter)
        },
        gauge("prometheus_tsdb_head_series", "Total number of series in the head block.", db.head().num_series() as f64),
        MetricFamily {
            help: Some("Total number of appended samples.".into()),
            samples: vec![Sample::new(
                "prometheus_tsdb_head_samples_appended_total",
                db.head().stats().samples_appended.load(Ordering::Relaxed) as f64,
            )],
            ..MetricFamily::new("prometheus_tsdb_head_samples_appended_total", MetricType::Counter)
        },
        MetricFamily {
            help: Some("Total number of WAL corruptions.".into()),
            samples: vec![Sample::new(
                "prometheus_tsdb_wal_corruptions_total",
                db.head().stats().wal_corruptions.load(Ordering::Relaxed) as f64,
            )],
            ..MetricFamily::new("prometheus_tsdb_wal_corruptions_total", MetricType::Counter)
        },
        gauge("prometheus_tsdb_blocks_loaded", "Number of currently loaded data blocks.", db.blocks().len() as f64),
        gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            stats.start_ts.load(Ordering::Relaxed) as f64,
        ),
    ];
    families.extend(crate::alerting::metrics(notifier));
    families.extend(remote_write.families());
    families.extend(exemplar_families(db));
    families.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::new();
    write_text(&mut out, &families);
    String::from_utf8_lossy(&out).into_owned()
}

/// The `prometheus_tsdb_exemplar_*` metrics (registered whether or not exemplar
/// storage is on, as in Prometheus).
fn exemplar_families(db: &ember_tsdb::Db) -> Vec<ember_exposition::MetricFamily> {
    use ember_exposition::{MetricFamily, MetricType, Sample};
    let st = db.head().exemplars().stats();
    let one = |name: &str, t: MetricType, help: &str, v: f64| MetricFamily {
        help: Some(help.to_string()),
        samples: vec![Sample::new(name, v)],
        ..MetricFamily::new(name, t)
    };
    vec![
        one(
            "prometheus_tsdb_exemplar_exemplars_appended_total",
            MetricType::Counter,
            "Total number of appended exemplars.",
            st.appended as f64,
        ),
        one(
            "prometheus_tsdb_exemplar_exemplars_in_storage",
            MetricType::Gauge,
            "Number of exemplars currently in circular storage.",
            st.in_storage as f64,
        ),
        one(
            "prometheus_tsdb_exemplar_series_with_exemplars_in_storage",
            MetricType::Gauge,
            "Number of series with exemplars currently in circular storage.",
            st.series as f64,
        ),
        one(
            "prometheus_tsdb_exemplar_last_exemplars_timestamp_seconds",
            MetricType::Gauge,
            "The timestamp of the oldest exemplar stored in circular storage.",
            st.oldest_timestamp_seconds,
        ),
        one(
            "prometheus_tsdb_exemplar_out_of_order_exemplars_total",
            MetricType::Counter,
            "Total number of out of order exemplar ingestion failed attempts.",
            st.out_of_order as f64,
        ),
        one(
            "prometheus_tsdb_exemplar_max_exemplars",
            MetricType::Gauge,
            "Total number of exemplars the exemplar storage can store, resizeable.",
            st.max_exemplars as f64,
        ),
    ]
}
