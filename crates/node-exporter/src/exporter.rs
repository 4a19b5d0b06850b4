//! The exporter: the enabled collectors, one scrape's concurrent run of them, and the
//! exporter's own metrics.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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

/// What one collector's run left: its samples, its result and how long it took.
type Outcome = (Out, Result<(), CollectError>, Duration);

/// One scrape's collectors, taken one at a time by the lanes.
struct Queue {
    collectors: Named,
    /// Indexes into `collectors`, in the order to run them.
    order: Vec<usize>,
    /// The next position in `order` to take.
    next: AtomicUsize,
    /// Each collector's outcome, by index into `collectors`.
    results: Mutex<Vec<Option<Outcome>>>,
    runtime: tokio::runtime::Handle,
}

impl Queue {
    /// Starts a lane on a blocking thread, which starts the next of the `lanes`
    /// lanes and then runs collectors until the queue is empty. `done` is dropped
    /// when it finishes.
    fn start_lane(queue: &Arc<Queue>, lanes: usize, done: tokio::sync::mpsc::Sender<()>) {
        if lanes == 0 {
            return;
        }
        let q = Arc::clone(queue);
        queue.runtime.spawn_blocking(move || {
            // Another lane is worth its wake-up only if this one would leave it at
            // least one collector.
            if q.order.len() > q.next.load(Ordering::Relaxed) + 1 {
                Queue::start_lane(&q, lanes - 1, done.clone());
            }
            q.drain();
            drop(done);
        });
    }

    /// Runs collectors until the queue is empty. A panic in a collector is caught
    /// here, so it costs that collector only, not the others on the same lane.
    fn drain(&self) {
        loop {
            let pos = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(&i) = self.order.get(pos) else {
                return;
            };
            let c = &self.collectors[i].1;
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let start = Instant::now();
                let mut out = Out::default();
                let r = c.update(&mut out);
                (out, r, start.elapsed())
            }))
            .ok();
            if let Some(slot) = lock(&self.results).get_mut(i) {
                *slot = outcome;
            }
        }
    }
}

struct Inner {
    collectors: Named,
    exporter_metrics: bool,
    telemetry_path: String,
    limit: Option<(usize, Arc<Semaphore>)>,
    /// Completed scrapes by status: 200, 500, 503.
    requests: [AtomicU64; 3],
    in_flight: AtomicI64,
    /// How many blocking threads a scrape runs its collectors on.
    lanes: usize,
    /// Each collector's duration in the last scrape that ran it, to start the long
    /// ones first.
    last_durations: Mutex<HashMap<&'static str, Duration>>,
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
                // One lane per core; at least two, so one slow collector never
                // leaves the rest waiting, and at most eight, past which the
                // handoffs cost more than the parallelism gains.
                lanes: std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8)),
                last_durations: Mutex::default(),
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
    /// as `?collect[]=` selects them) concurrently on a few blocking threads of the
    /// Tokio runtime (see `run_collectors`), then adds
    /// `node_scrape_collector_duration_seconds` and
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
        let results = self.run_collectors(selected).await;
        let mut families = Vec::new();
        let mut scrape = Out::default();
        for (name, result) in results {
            let (ok, took) = match result {
                Some((out, r, took)) => {
                    families.extend(out.into_families());
                    (report(name, r, took), took)
                }
                None => {
                    tracing::error!(collector = name, "collector panicked");
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

    /// Runs the selected collectors on a few blocking threads ("lanes") that take
    /// collectors from a shared queue, longest-running (last scrape) first, and
    /// returns each one's outcome in the order given; `None` for one that panicked.
    ///
    /// Why lanes rather than one blocking task per collector: most collectors read a
    /// few small files and take tens of microseconds, less than handing a task to a
    /// pool thread and waking it costs; with ~45 collectors the handoffs (futex
    /// wake-ups, the pool's lock, context switches) cost more CPU than the
    /// collectors themselves. A few lanes keep the cores busy with a handful of
    /// handoffs per scrape. A collector that blocks (a slow sysfs attribute) holds
    /// up only its lane: the other lanes keep taking collectors from the queue, so
    /// the scrape waits for the slow one alone, as it would with one task each.
    /// `statfs`, which can hang for good on a dead NFS mount, runs on threads of its
    /// own with a timeout inside the `filesystem` collector, so it never holds a
    /// lane past `--collector.filesystem.mount-timeout`.
    ///
    /// Each lane starts the next one before taking its first collector, rather than
    /// this task starting them all: a woken thread tends to run on the waker's CPU
    /// and preempt it, so lanes started from here in a row would often run one
    /// after the other; started from a running lane, the next one lands on another,
    /// idle CPU.
    async fn run_collectors(&self, selected: Named) -> Vec<(&'static str, Option<Outcome>)> {
        let n = selected.len();
        // Longest first (by the last scrape's durations), so a long collector does
        // not start last and leave the other lanes idle while it finishes.
        let mut order: Vec<usize> = (0..n).collect();
        {
            let last = lock(&self.inner.last_durations);
            let cost = |i: usize| last.get(selected[i].0).copied().unwrap_or(Duration::MAX);
            order.sort_by_key(|&i| std::cmp::Reverse(cost(i)));
        }
        let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(1);
        let queue = Arc::new(Queue {
            collectors: selected,
            order,
            next: AtomicUsize::new(0),
            results: Mutex::new((0..n).map(|_| None).collect()),
            runtime: tokio::runtime::Handle::current(),
        });
        let lanes = self.inner.lanes.clamp(1, n.max(1));
        Queue::start_lane(&queue, lanes, done_tx);
        // Every lane holds a sender until it finishes (or unwinds, or is dropped
        // unrun by a runtime shutting down): `None` means all are done.
        while done_rx.recv().await.is_some() {}
        let results = std::mem::take(&mut *lock(&queue.results));
        let mut last = lock(&self.inner.last_durations);
        queue
            .collectors
            .iter()
            .zip(results)
            .map(|((name, _), r)| {
                if let Some((_, _, took)) = &r {
                    last.insert(name, *took);
                }
                (*name, r)
            })
            .collect()
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// Writes one gauge named after itself.
    struct Fixed(&'static str);

    impl Collector for Fixed {
        fn update(&self, out: &mut Out) -> Result<(), CollectError> {
            out.gauge(self.0, "A test gauge.", &[], 1.0);
            Ok(())
        }
    }

    struct Panics;

    impl Collector for Panics {
        fn update(&self, _: &mut Out) -> Result<(), CollectError> {
            panic!("a collector bug");
        }
    }

    /// Blocks until `Releases` runs (or 10 s pass, and fails).
    struct Blocks(Mutex<mpsc::Receiver<()>>);

    impl Collector for Blocks {
        fn update(&self, _: &mut Out) -> Result<(), CollectError> {
            match lock(&self.0).recv_timeout(Duration::from_secs(10)) {
                Ok(()) => Ok(()),
                Err(_) => Err(CollectError::NoData("never released".into())),
            }
        }
    }

    struct Releases(Mutex<mpsc::Sender<()>>);

    impl Collector for Releases {
        fn update(&self, _: &mut Out) -> Result<(), CollectError> {
            let _ = lock(&self.0).send(());
            Ok(())
        }
    }

    fn exporter(collectors: Named, lanes: usize) -> Exporter {
        Exporter {
            inner: Arc::new(Inner {
                collectors,
                exporter_metrics: false,
                telemetry_path: "/metrics".into(),
                limit: None,
                requests: Default::default(),
                in_flight: AtomicI64::new(0),
                lanes,
                last_durations: Mutex::default(),
            }),
        }
    }

    fn success(fams: &[MetricFamily]) -> Vec<(String, f64)> {
        fams.iter()
            .find(|f| f.name == "node_scrape_collector_success")
            .map(|f| {
                f.samples
                    .iter()
                    .map(|s| (s.labels[0].value.clone(), s.value))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lanes_run_every_collector_and_contain_panics() {
        let mut collectors: Named =
            vec![("a", Arc::new(Fixed("a_gauge"))), ("b", Arc::new(Panics))];
        let names = ["c", "d", "e", "f", "g", "h", "i", "j"];
        let gauges = [
            "c_gauge", "d_gauge", "e_gauge", "f_gauge", "g_gauge", "h_gauge", "i_gauge", "j_gauge",
        ];
        for (n, g) in names.into_iter().zip(gauges) {
            collectors.push((n, Arc::new(Fixed(g))));
        }
        for lanes in [1, 2, 3, 20] {
            let e = exporter(collectors.clone(), lanes);
            // Twice: the second scrape orders the queue by the first one's durations.
            for _ in 0..2 {
                let fams = e.gather(&[]).await.unwrap();
                for (name, ok) in success(&fams) {
                    assert_eq!(
                        ok,
                        if name == "b" { 0.0 } else { 1.0 },
                        "{name}, {lanes} lanes"
                    );
                }
                for g in std::iter::once("a_gauge").chain(gauges) {
                    assert!(fams.iter().any(|f| f.name == g), "{g}, {lanes} lanes");
                }
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_blocked_collector_holds_up_only_its_lane() {
        // `blocks` runs first and waits for `releases`, which only another lane can
        // run: with one lane per collector-at-a-time this would fail after 10 s.
        let (tx, rx) = mpsc::channel();
        let collectors: Named = vec![
            ("blocks", Arc::new(Blocks(Mutex::new(rx)))),
            ("fixed", Arc::new(Fixed("fixed_gauge"))),
            ("releases", Arc::new(Releases(Mutex::new(tx)))),
        ];
        let fams = exporter(collectors, 2).gather(&[]).await.unwrap();
        assert_eq!(
            success(&fams),
            [
                ("blocks".to_owned(), 1.0),
                ("fixed".to_owned(), 1.0),
                ("releases".to_owned(), 1.0)
            ]
        );
    }
}
