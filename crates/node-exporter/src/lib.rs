//! Ember's node exporter: the host's CPU, memory, disk, filesystem, network and
//! kernel metrics, read from `/proc` and `/sys`, served on `/metrics` under
//! node_exporter's exact names, labels, types and help texts.
//!
//! `ember node-exporter` runs it alone with node_exporter's flags ([`Args`], then
//! [`run`]); the all-in-one `ember` mounts [`router`] on its own port and scrapes it
//! like any target. Every family it emits is one node_exporter emits, with the same
//! labels, help and type, so dashboards such as "Node Exporter Full" and the
//! node-mixin alerts and recording rules work unchanged. Two tests hold it to that:
//! `tests/e2e_fixtures.rs` runs it over node_exporter's own end-to-end fixtures
//! (upstream's current release) and compares with upstream's expected output series by
//! series, and `tests/vs_node_exporter.rs` runs Debian's `prometheus-node-exporter`
//! (1.5) beside it on this machine and on Ember's fixture trees, allowing only the
//! documented changes upstream made since 1.5.
//!
//! How it is shaped, and why:
//!
//! - One file per collector in `src/collectors/`, each a port of node_exporter's
//!   collector of the same name (and of the `procfs` parsing beneath it), with its
//!   own unit tests over the hand-written fixture trees in `testdata/`
//!   (`--path.procfs`, `--path.sysfs`, `--path.rootfs`, `--path.udev.data` point
//!   there). Collectors are on or off by node_exporter's defaults; the flags of the
//!   collectors Ember lacks are accepted and ignored, so existing unit files start.
//! - A scrape ([`Exporter::gather`]) runs the collectors concurrently on a few
//!   blocking threads (one per core), which take collectors from a shared queue:
//!   they read files, and most take less time than handing a task to a thread
//!   costs, so one thread per collector would spend more on wake-ups than on work.
//!   A collector whose source is missing or holds something unexpected fails alone
//!   (`node_scrape_collector_success 0`); nothing read from a file can panic or stop
//!   the process, and every read is bounded.
//! - `statfs(2)` on a hung NFS mount never returns, so the `filesystem` collector
//!   calls it on threads of its own with a timeout and reports such a mount as
//!   `node_filesystem_device_error 1` until the call comes back.
//! - Output goes through `ember-exposition`'s writers, in client_golang's order
//!   (families by name, series by label values): text 0.0.4 by default, OpenMetrics
//!   when the `Accept` header prefers it, gzip (at the fastest level) when accepted.
//! - Listening is `ember-serve`'s, shared with every Ember component: Go-style
//!   `--web.listen-address`es and `--web.config.file` (TLS, client certificates,
//!   basic auth, headers), checked at start so that a bad file stops it.
//!
//! Dependencies beyond the workspace's usual ones: `libc`, for the system calls
//! node_exporter makes through Go's `syscall` package — `statfs` (filesystem, selinux),
//! `uname` (uname), `adjtimex` (timex), `localtime_r` (the time zone) and `sysconf`
//! (page size) — and for the one rtnetlink request the netdev collector makes
//! (`rtnetlink.rs`, a few dozen lines rather than a netlink crate); `regex`, because node_exporter's filter flags are regular
//! expressions; `glob`, for `--collector.textfile.directory` patterns; `flate2`, to
//! answer Prometheus's `Accept-Encoding: gzip` as promhttp does.

mod args;
mod collectors;
mod exporter;
mod http;
mod metrics;
mod process;
mod read;
mod rtnetlink;

use std::io;

pub use args::{Args, CollectorFlags};
pub use exporter::Exporter;

/// Errors of the node exporter.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag holds an invalid regular expression.
    #[error("invalid regular expression in --{flag}: {source}")]
    Regex {
        /// The flag, without dashes.
        flag: String,
        /// The parse error.
        #[source]
        source: Box<regex::Error>,
    },
    /// Flags that contradict each other, or an invalid value.
    #[error("{0}")]
    Flags(String),
    /// `collect[]` named a collector node_exporter does not have.
    #[error("missing collector: {0}")]
    MissingCollector(String),
    /// `collect[]` named a collector that is not enabled.
    #[error("disabled collector: {0}")]
    DisabledCollector(String),
    /// A listen address could not be bound, or the web configuration file
    /// (`--web.config.file`) is unreadable or invalid.
    #[error(transparent)]
    Web(#[from] ember_serve::Error),
    /// The HTTP server stopped with an error.
    #[error("HTTP server on {addr} failed: {source}")]
    Serve {
        /// The address as given.
        addr: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// The HTTP router of an exporter built from `args`: the metrics path
/// (`--web.telemetry-path`, `?collect[]=` to select collectors) and a landing page on
/// every other path. For the all-in-one, which serves it on a port of its own.
pub fn router(args: &Args) -> Result<axum::Router, Error> {
    Ok(Exporter::new(args)?.router())
}

impl Exporter {
    /// The HTTP router serving this exporter (see [`router`]).
    pub fn router(&self) -> axum::Router {
        http::router(self.clone())
    }
}

/// Serves the exporter on every `--web.listen-address` until one of the servers
/// fails; it never returns `Ok` on its own, so the caller stops it by dropping the
/// future (on a signal, say). `:9100` listens on all interfaces, IPv6 and IPv4.
pub async fn run(args: Args) -> Result<(), Error> {
    if args.web_systemd_socket {
        return Err(Error::Flags(
            "--web.systemd-socket is not supported by Ember's node exporter".into(),
        ));
    }
    let web = match args.web_config_file.as_str() {
        "" => None,
        path => Some(ember_serve::WebConfigFile::load(path)?),
    };
    let exporter = Exporter::new(&args)?;
    let app = exporter.router();
    let (tx, mut rx) = tokio::sync::mpsc::channel(args.web_listen_address.len().max(1));
    for addr in &args.web_listen_address {
        let listener = ember_serve::bind(addr).await?;
        if let Ok(local) = listener.local_addr() {
            tracing::info!(address = %local, "listening");
        }
        let app = app.clone();
        let web = web.clone();
        let tx = tx.clone();
        let addr = addr.clone();
        tokio::spawn(async move {
            let r = ember_serve::serve(listener, app, web, std::future::pending()).await;
            let _ = tx
                .send(r.map_err(|source| Error::Serve { addr, source }))
                .await;
        });
    }
    drop(tx);
    match rx.recv().await {
        Some(r) => r,
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn fixture_args(extra: &[&str]) -> Args {
        let td = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        let mut argv = vec![
            "node-exporter".to_owned(),
            format!("--path.procfs={}", td.join("proc").display()),
            format!("--path.sysfs={}", td.join("sys").display()),
            format!("--path.rootfs={}", td.join("rootfs").display()),
            format!("--path.udev.data={}", td.join("udev").display()),
        ];
        argv.extend(extra.iter().map(|s| s.to_string()));
        Args::try_parse_from(argv).unwrap()
    }

    async fn get(addr: std::net::SocketAddr, req: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.unwrap();
        String::from_utf8_lossy(&buf).into_owned()
    }

    async fn serve(args: &Args) -> std::net::SocketAddr {
        let app = router(args).unwrap();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await });
        addr
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn gathers_every_collector_over_fixtures() {
        let e = Exporter::new(&fixture_args(&[])).unwrap();
        let fams = e.gather(&[]).await.unwrap();
        let success = fams
            .iter()
            .find(|f| f.name == "node_scrape_collector_success")
            .unwrap();
        for s in &success.samples {
            let c = &s.labels[0].value;
            assert_eq!(s.value, 1.0, "collector {c} failed over the fixtures");
        }
        assert_eq!(success.samples.len(), e.collectors().len());
        let names: Vec<&str> = fams.iter().map(|f| f.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(names.contains(&"node_exporter_build_info"));
        assert!(names.contains(&"process_open_fds"));
    }

    #[tokio::test]
    async fn a_failing_collector_does_not_stop_the_others() {
        let args = fixture_args(&["--path.procfs=/nonexistent"]);
        let e = Exporter::new(&args).unwrap();
        let fams = e.gather(&[]).await.unwrap();
        let success = fams
            .iter()
            .find(|f| f.name == "node_scrape_collector_success")
            .unwrap();
        let value = |c: &str| {
            success
                .samples
                .iter()
                .find(|s| s.labels[0].value == c)
                .map(|s| s.value)
        };
        assert_eq!(value("meminfo"), Some(0.0));
        assert_eq!(value("hwmon"), Some(1.0));
        assert!(fams.iter().any(|f| f.name == "node_hwmon_temp_celsius"));
    }

    #[tokio::test]
    async fn filters_and_flags() {
        let e = Exporter::new(&fixture_args(&["--web.disable-exporter-metrics"])).unwrap();
        let fams = e
            .gather(&["loadavg".to_owned(), "meminfo".to_owned()])
            .await
            .unwrap();
        let mut prefixes: Vec<&str> = fams
            .iter()
            .map(|f| f.name.split('_').take(2).last().unwrap_or(""))
            .collect();
        prefixes.dedup();
        assert_eq!(
            prefixes,
            ["exporter", "load1", "load15", "load5", "memory", "scrape"]
        );
        assert!(matches!(
            e.gather(&["nope".to_owned()]).await,
            Err(Error::MissingCollector(_))
        ));
        assert!(matches!(
            e.gather(&["systemd".to_owned()]).await,
            Err(Error::DisabledCollector(_))
        ));
        assert!(matches!(
            Exporter::new(&fixture_args(&["--collector.vmstat.fields=("])),
            Err(Error::Regex { .. })
        ));
        assert!(matches!(
            Exporter::new(&fixture_args(&[
                "--collector.netdev.device-include=a",
                "--collector.netdev.device-exclude=b"
            ])),
            Err(Error::Flags(_))
        ));
    }

    #[tokio::test]
    async fn refuses_what_it_cannot_honour() {
        let args = fixture_args(&["--web.config.file=/nonexistent/web.yml"]);
        let e = run(args).await.unwrap_err();
        assert!(
            matches!(e, Error::Web(ember_serve::Error::Config(_))),
            "{e}"
        );
        assert!(e.to_string().contains("/nonexistent/web.yml"), "{e}");
        let args = fixture_args(&["--web.listen-address=256.0.0.1:1"]);
        assert!(matches!(
            run(args).await,
            Err(Error::Web(ember_serve::Error::Listen { .. }))
        ));
        let args = fixture_args(&["--web.systemd-socket"]);
        assert!(matches!(run(args).await, Err(Error::Flags(_))));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serves_http() {
        let addr = serve(&fixture_args(&[])).await;
        let r = get(addr, "GET /metrics HTTP/1.0\r\n\r\n").await;
        assert!(
            r.starts_with("HTTP/1.0 200") || r.starts_with("HTTP/1.1 200"),
            "{r}"
        );
        assert!(r.contains("content-type: text/plain; version=0.0.4; charset=utf-8"));
        assert!(r.contains("\n# TYPE node_load1 gauge\nnode_load1 0.21\n"));
        assert!(r.contains("promhttp_metric_handler_requests_total{code=\"200\"} 0\n"));

        let r = get(
            addr,
            "GET /metrics?collect%5B%5D=loadavg HTTP/1.0\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n\r\n",
        )
        .await;
        assert!(r.contains("content-type: application/openmetrics-text; version=1.0.0"));
        assert!(r.ends_with("# EOF\n"), "{r}");
        assert!(!r.contains("node_memory"));
        // OpenMetrics spells floats with a fraction.
        assert!(
            r.contains("promhttp_metric_handler_requests_total{code=\"200\"} 1.0\n"),
            "{r}"
        );

        let r = get(addr, "GET /metrics?collect[]=bogus HTTP/1.0\r\n\r\n").await;
        assert!(r.contains(" 400 "), "{r}");
        assert!(r.contains("missing collector: bogus"));

        let r = get(
            addr,
            "GET /metrics HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n",
        )
        .await;
        assert!(r.contains("content-encoding: gzip"));

        let r = get(addr, "GET / HTTP/1.0\r\n\r\n").await;
        assert!(r.contains("<a href=\"/metrics\">Metrics</a>"));
    }
}
