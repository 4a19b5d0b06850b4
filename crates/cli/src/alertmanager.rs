//! `ember alertmanager`: Alertmanager's flags, logging, the listener, reload on
//! SIGHUP and `POST /-/reload`, and graceful shutdown (which writes the
//! notification log, so that a restart re-sends nothing already notified).

use anyhow::Context;
use clap::Args;
use ember_alertmanager::{Alertmanager, Options, parse_go_duration};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags as `alertmanager` 0.25 names them. Clustering flags are accepted so that
/// existing unit files start, but clustering is not implemented.
#[derive(Args, Debug, Clone)]
pub(crate) struct AlertmanagerArgs {
    /// Alertmanager configuration file name.
    #[arg(long = "config.file", default_value = "alertmanager.yml")]
    config_file: PathBuf,
    /// Base path for data storage (silences, notification log).
    #[arg(long = "storage.path", default_value = "data/")]
    storage_path: PathBuf,
    /// How long to keep data (expired silences, notification log entries).
    #[arg(long = "data.retention", default_value = "120h")]
    retention: String,
    /// Interval between alert GC.
    #[arg(long = "alerts.gc-interval", default_value = "30m")]
    gc_interval: String,
    /// Address to listen on for the web interface and API.
    #[arg(long = "web.listen-address", default_value = ":9093")]
    listen_address: String,
    /// The URL under which Alertmanager is externally reachable (for example, if it
    /// is served via a reverse proxy). Used for generating relative and absolute
    /// links back to Alertmanager itself.
    #[arg(long = "web.external-url")]
    external_url: Option<String>,
    /// Prefix for the internal routes of web endpoints. Defaults to the path of
    /// --web.external-url.
    #[arg(long = "web.route-prefix")]
    route_prefix: Option<String>,
    /// Path to a configuration file that can enable TLS or authentication.
    #[arg(long = "web.config.file")]
    web_config_file: Option<PathBuf>,
    /// Maximum number of GET requests processed concurrently (accepted, unused).
    #[arg(long = "web.get-concurrency", default_value = "0")]
    get_concurrency: u32,
    /// Timeout for HTTP requests (accepted, unused).
    #[arg(long = "web.timeout", default_value = "0")]
    web_timeout: String,
    /// Listen address for cluster (clustering is not implemented).
    #[arg(long = "cluster.listen-address", default_value = "0.0.0.0:9094")]
    cluster_listen_address: String,
    /// Explicit address to advertise in cluster (accepted, unused).
    #[arg(long = "cluster.advertise-address")]
    cluster_advertise_address: Option<String>,
    /// Initial peers (accepted, unused).
    #[arg(long = "cluster.peer")]
    cluster_peer: Vec<String>,
    /// Only log messages with the given severity or above.
    #[arg(long = "log.level", default_value = "info", value_parser = ["debug", "info", "warn", "error"])]
    log_level: String,
    /// Output format of log messages.
    #[arg(long = "log.format", default_value = "logfmt", value_parser = ["logfmt", "json"])]
    log_format: String,
    /// Ember's own: notify firing alerts again as soon as the silence or time
    /// interval that muted them ends; `--notify.on-unmute=false` keeps
    /// Alertmanager's behaviour (they are notified at the next repeat_interval).
    #[arg(long = "notify.on-unmute", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    notify_on_unmute: bool,
}

/// Alertmanager's `extURL`: the given URL, or `http://<hostname>:<port>` from the
/// listen address; the path without trailing slash.
fn external_url(given: Option<&str>, listen: &str) -> anyhow::Result<String> {
    let url = match given.filter(|u| !u.is_empty()) {
        Some(u) => u.to_string(),
        None => {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "localhost".into());
            let port = listen.rsplit_once(':').map(|(_, p)| p).unwrap_or("");
            let port = if port.is_empty() { "80" } else { port };
            format!("http://{host}:{port}/")
        }
    };
    let (scheme, rest) = url
        .split_once("://")
        .with_context(|| format!("invalid external URL {url:?}"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let path = path.trim_end_matches('/');
    Ok(format!("{scheme}://{host}{path}"))
}

fn url_path(url: &str) -> String {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
        .unwrap_or_default()
}

fn duration(flag: &str, s: &str) -> anyhow::Result<std::time::Duration> {
    parse_go_duration(s).map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
}

/// Runs the Alertmanager until SIGTERM or SIGINT.
pub(crate) fn run(args: AlertmanagerArgs) -> ExitCode {
    crate::server::init_logging(&args.log_level, &args.log_format);
    let Some(rt) = crate::server::runtime() else {
        return ExitCode::FAILURE;
    };
    match rt.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: AlertmanagerArgs) -> anyhow::Result<()> {
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        "Starting Ember Alertmanager"
    );
    if !args.cluster_listen_address.is_empty() {
        tracing::warn!(
            address = %args.cluster_listen_address,
            "clustering is not implemented in Ember: running as a single instance (pass --cluster.listen-address= to silence this)"
        );
    }
    let web_config = match &args.web_config_file {
        Some(path) => Some(ember_serve::WebConfigFile::load(path)?),
        None => None,
    };
    let external = external_url(args.external_url.as_deref(), &args.listen_address)?;
    let prefix = match &args.route_prefix {
        Some(p) => p.clone(),
        None => url_path(&external),
    };
    let prefix = format!("/{}", prefix.trim_matches('/'));
    let opts = Options {
        config_file: args.config_file.clone(),
        storage_path: Some(args.storage_path.clone()),
        external_url: external,
        retention: duration("data.retention", &args.retention)?,
        gc_interval: duration("alerts.gc-interval", &args.gc_interval)?,
        notify_on_unmute: args.notify_on_unmute,
    };
    tracing::info!(file = %args.config_file.display(), "Loading configuration file");
    let am = Alertmanager::new(opts).context("loading configuration")?;
    am.start();
    let listener = ember_serve::bind(&args.listen_address).await?;
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| args.listen_address.clone());
    tracing::info!(%address, "Listening on");

    // SIGHUP reloads; a bad file is logged and the running configuration kept.
    let reloader = am.clone();
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            if let Err(e) = reloader.reload() {
                tracing::error!(err = %e, "Loading configuration file failed");
            }
        }
    });

    let shutdown = async {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
        tracing::info!("Received shutdown signal, exiting gracefully");
    };
    let app = ember_alertmanager::api::router(am.clone(), &prefix);
    ember_serve::serve(listener, app, web_config, shutdown)
        .await
        .context("serving HTTP")?;
    am.flush();
    Ok(())
}

/// The all-in-one `ember`'s Alertmanager configuration: every alert goes to one
/// receiver with no integrations, so alerts are grouped and shown (API, amtool)
/// but sent nowhere until the user points it at a real receiver.
const EMBEDDED_CONFIG: &str = "# Written by the all-in-one `ember`; edit it and restart, or run\n# `ember alertmanager --config.file=...` with your own.\nroute:\n  receiver: default\n  group_by: ['alertname']\nreceivers:\n  - name: default\n";

/// Runs an Alertmanager for the all-in-one `ember` on `:9093`, keeping its
/// configuration (written once, then the user's to edit), silences and notification
/// log in `dir`, until `stop` completes. A busy port or a bad file is a warning.
pub(crate) async fn run_embedded(
    dir: PathBuf,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let run = async {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let config_file = dir.join("alertmanager.yml");
        if !config_file.exists() {
            std::fs::write(&config_file, EMBEDDED_CONFIG)
                .with_context(|| format!("writing {}", config_file.display()))?;
        }
        let am = Alertmanager::new(Options {
            config_file,
            storage_path: Some(dir.clone()),
            external_url: "http://localhost:9093".into(),
            ..Options::default()
        })
        .context("loading configuration")?;
        am.start();
        let listener = tokio::net::TcpListener::bind("0.0.0.0:9093")
            .await
            .context("listening on :9093")?;
        ember_alertmanager::api::serve(am.clone(), listener, "/", stop)
            .await
            .context("serving HTTP")?;
        am.flush();
        anyhow::Ok(())
    };
    if let Err(e) = run.await {
        tracing::warn!(err = %format!("{e:#}"), "alertmanager not started");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_url_like_alertmanager() {
        assert_eq!(
            external_url(Some("http://am.example:9093/x/"), ":9093").unwrap(),
            "http://am.example:9093/x"
        );
        assert!(external_url(None, ":9093").unwrap().ends_with(":9093"));
        assert_eq!(url_path("http://h:1/a/b"), "/a/b");
    }
}
