//! The exporter: the enabled collectors, one scrape's concurrent run of them, and the
//! exporter's own metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ember_exposition::MetricFamily;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::Error;
use crate::args::{self, Args};
use crate::collectors::{self, CollectError, Collector, Config};
use crate::metrics::{Out, normalize};

/// A node exporter built from an [`Args`]: its collectors, which keep state between
/// scrapes (the `cpu` collector's last values, the `filesystem` collector's stuck
/// mounts), and its own request counters. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Exporter {
    inner: Arc<Inner>,
}

/// Collectors by name.
type Named = Vec<(&'static str, Arc<dyn Collector>)>;

struct Inner {
    collectors: Named,
    exporter_metrics: bool,
    telemetry_path: String,
    limit: Option<(usize, Arc<Semaphore>)>,
    /// Completed scrapes by status: 200, 500, 503.
    requests: [AtomicU64; 3],
    in_flight: AtomicI64,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("collectors", &self.collectors())
            .field("telemetry_path", &self.inner.telemetry_path)
            .finish_non_exhaustive()
    }
}

impl Exporter {
    /// Builds the exporter: compiles the flags' regular expressions and creates the
    /// enabled collectors. Fails on an invalid regular expression or conflicting
    /// flags, as node_exporter refuses to start on them.
    pub fn new(args: &Args) -> Result<Exporter, Error> {
        if !args.web_telemetry_path.starts_with('/') {
            return Err(Error::Flags(format!(
                "--web.telemetry-path must start with '/': {:?}",
                args.web_telemetry_path
            )));
        }
        let cfg = Arc::new(Config::new(args)?);
        for name in args.unimplemented_requested() {
            if args.collectors.explicit.get(name) == Some(&true) {
                tracing::warn!(
                    collector = name,
                    "collector is not implemented by Ember; ignoring it"
                );
            } else {
                tracing::debug!(
                    collector = name,
                    "default collector not implemented by Ember"
                );
            }
        }
        let mut collectors = Vec::new();
        for name in args.enabled_collectors() {
            if let Some(c) = collectors::build(name, &cfg) {
                collectors.push((name, c));
            }
        }
        tracing::info!(
            collectors = %collectors.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(","),
            "enabled collectors"
        );
        let limit = (args.web_max_requests > 0).then(|| {
            (
                args.web_max_requests,
                Arc::new(Semaphore::new(args.web_max_requests)),
            )
        });
        Ok(Exporter {
            inner: Arc::new(Inner {
                collectors,
                exporter_metrics: !args.web_disable_exporter_metrics,
                telemetry_path: args.web_telemetry_path.clone(),
                limit,
                requests: Default::default(),
                in_flight: AtomicI64::new(0),
            }),
        })
    }

    /// The names of the enabled collectors, in name order.
    pub fn collectors(&self) -> Vec<&'static str> {
        self.inner.collectors.iter().map(|(n, _)| *n).collect()
    }

    /// The path `/metrics` is served on (`--web.telemetry-path`).
    pub fn telemetry_path(&self) -> &str {
        &self.inner.telemetry_path
    }

    /// Runs one scrape: every enabled collector (or only those named in `collect`,
    /// as `?collect[]=` selects them) concurrently, each on a blocking thread of the
    /// Tokio runtime, then adds `node_scrape_collector_duration_seconds` and
    /// `node_scrape_collector_success` per collector, `node_exporter_build_info`, and
    /// unless disabled the exporter's own `process_*` and `promhttp_*` metrics.
    /// Families come sorted by name and samples by label values, as client_golang
    /// serves them.
    ///
    /// A collector that fails reports success 0 and keeps what it collected before
    /// failing; the others are unaffected. Fails only when `collect` names a
    /// collector that does not exist or is not enabled. Must be called within a
    /// Tokio runtime.
    pub async fn gather(&self, collect: &[String]) -> Result<Vec<MetricFamily>, Error> {
        let selected = self.select(collect)?;
        let mut running = Vec::with_capacity(selected.len());
        for (name, c) in selected {
            let task = tokio::task::spawn_blocking(move || {
                let start = Instant::now();
                let mut out = Out::default();
                let r = c.update(&mut out);
                (out, r, start.elapsed())
            });
            running.push((name, task));
        }
        let mut families = Vec::new();
        let mut scrape = Out::default();
        for (name, task) in running {
            let (ok, took) = match task.await {
                Ok((out, r, took)) => {
                    families.extend(out.into_families());
                    (report(name, r, took), took)
                }
                Err(e) => {
                    tracing::error!(collector = name, error = %e, "collector panicked");
                    (false, Duration::ZERO)
                }
            };
            scrape.gauge(
                "node_scrape_collector_duration_seconds",
                "node_exporter: Duration of a collector scrape.",
                &[("collector", name)],
                took.as_secs_f64(),
            );
            scrape.gauge(
                "node_scrape_collector_success",
                "node_exporter: Whether a collector succeeded.",
                &[("collector", name)],
                if ok { 1.0 } else { 0.0 },
            );
        }
        families.extend(scrape.into_families());
        families.extend(build_info());
        if self.inner.exporter_metrics {
            families.extend(crate::process::families());
            families.extend(self.promhttp());
        }
        Ok(normalize(families))
    }

    fn select(&self, collect: &[String]) -> Result<Named, Error> {
        if collect.is_empty() {
            return Ok(self.inner.collectors.clone());
        }
        for name in collect {
            if args::spec(name).is_none() {
                return Err(Error::MissingCollector(name.clone()));
            }
            if !self.inner.collectors.iter().any(|(n, _)| n == name) {
                return Err(Error::DisabledCollector(name.clone()));
            }
        }
        Ok(self
            .inner
            .collectors
            .iter()
            .filter(|(n, _)| collect.iter().any(|c| c == n))
            .cloned()
            .collect())
    }

    /// Takes a scrape slot under `--web.max-requests`; `Err(limit)` when all are busy.
    pub(crate) fn try_begin(&self) -> Result<Option<OwnedSemaphorePermit>, usize> {
        match &self.inner.limit {
            None => Ok(None),
            Some((n, sem)) => Arc::clone(sem)
                .try_acquire_owned()
                .map(Some)
                .map_err(|_| *n),
        }
    }

    /// Counts a scrape in flight until the guard drops.
    pub(crate) fn in_flight(&self) -> InFlight {
        self.inner.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(&self.inner))
    }

    /// Counts a completed scrape by its status code.
    pub(crate) fn count_request(&self, code: u16) {
        let i = match code {
            200 => 0,
            503 => 2,
            _ => 1,
        };
        self.inner.requests[i].fetch_add(1, Ordering::Relaxed);
    }

    fn promhttp(&self) -> Vec<MetricFamily> {
        let mut out = Out::default();
        for cause in ["encoding", "gathering"] {
            out.counter(
                "promhttp_metric_handler_errors_total",
                "Total number of internal errors encountered by the promhttp metric handler.",
                &[("cause", cause)],
                0.0,
            );
        }
        out.gauge(
            "promhttp_metric_handler_requests_in_flight",
            "Current number of scrapes being served.",
            &[],
            self.inner.in_flight.load(Ordering::Relaxed) as f64,
        );
        for (i, code) in ["200", "500", "503"].into_iter().enumerate() {
            out.counter(
                "promhttp_metric_handler_requests_total",
                "Total number of scrapes by HTTP status code.",
                &[("code", code)],
                self.inner.requests[i].load(Ordering::Relaxed) as f64,
            );
        }
        out.into_families()
    }
}

/// Decrements the in-flight gauge when dropped.
pub(crate) struct InFlight(Arc<Inner>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Logs a collector's outcome; whether it succeeded.
fn report(name: &str, r: Result<(), CollectError>, took: Duration) -> bool {
    match r {
        Ok(()) => {
            tracing::debug!(
                collector = name,
                duration_seconds = took.as_secs_f64(),
                "collector succeeded"
            );
            true
        }
        Err(e @ CollectError::NoData(_)) => {
            tracing::debug!(collector = name, error = %e, "collector returned no data");
            false
        }
        Err(e) => {
            tracing::error!(collector = name, error = %e, "collector failed");
            false
        }
    }
}

/// `node_exporter_build_info`, with Ember's version. The Go-specific labels are kept
/// for dashboards that select on them: `goos`/`goarch` in Go's spelling,
/// `goversion` empty.
fn build_info() -> Vec<MetricFamily> {
    let goarch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    };
    let mut out = Out::default();
    out.gauge(
        "node_exporter_build_info",
        "A metric with a constant '1' value labeled by version, revision, branch, goversion from which node_exporter was built, and the goos and goarch for the build.",
        &[
            ("branch", ""),
            ("goarch", goarch),
            ("goos", std::env::consts::OS),
            ("goversion", ""),
            ("revision", option_env!("EMBER_REVISION").unwrap_or("")),
            ("version", env!("CARGO_PKG_VERSION")),
        ],
        1.0,
    );
    out.into_families()
}
