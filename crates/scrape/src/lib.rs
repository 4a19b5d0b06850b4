//! Scraping: turns discovered targets into scrape loops and writes what they scrape
//! into a `storage::Appendable` (the TSDB in the server).
//!
//! [`ScrapeManager`] keeps one loop per target per job. On every discovery update
//! it builds the target list ([`target::populate`]: defaults, relabeling,
//! `instance`), starts loops for new targets and stops those that went away (writing
//! staleness markers for their series). Each loop scrapes on Prometheus's schedule —
//! an offset within the interval derived from the target, so that targets spread out —
//! over HTTP or HTTPS with gzip; parses text 0.0.4 or OpenMetrics by content type; and
//! appends in one transaction per scrape.
//!
//! Each job (scrape pool) has its own [`HttpClient`], built from the job's HTTP
//! client settings (`tls_config`, `basic_auth`, `authorization`, `http_headers`,
//! `follow_redirects`) when the job's configuration is applied, and shared by its
//! targets' loops. A job whose settings cannot be used (an unreadable CA file, say)
//! still gets its loops: every scrape fails with the reason, which the targets page
//! shows, and `up` is 0.

mod metadata;
mod nhcb;
mod scrape_loop;
pub mod target;

pub use metadata::MetricMetadata;

use ember_config::ScrapeConfig;
use ember_discovery::Snapshot;
use ember_discovery::http::HttpClient;
use ember_storage::Appendable;
pub use scrape_loop::Health;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use target::Target;

struct Running {
    target: Target,
    job: String,
    health: Arc<Mutex<Health>>,
    metadata: Arc<Mutex<metadata::MetadataCache>>,
    handle: tokio::task::JoinHandle<()>,
    stopper: Option<scrape_loop::LoopState>,
}

/// A target as the targets API shows it.
#[derive(Clone, Debug)]
pub struct TargetStatus {
    /// Job name.
    pub job: String,
    /// The target.
    pub target: Target,
    /// Its health.
    pub health: Health,
}

/// Runs the scrape loops.
pub struct ScrapeManager {
    store: Arc<dyn Appendable>,
    /// Each job's client, built from its configuration.
    clients: HashMap<String, HttpClient>,
    configs: HashMap<String, Arc<ScrapeConfig>>,
    running: HashMap<(String, u64), Running>,
    dropped: Vec<(String, ember_model::Labels)>,
    /// Per job, the error that fails all its scrapes (`target_limit` exceeded).
    forced: HashMap<String, Arc<Mutex<Option<String>>>>,
}

impl std::fmt::Debug for ScrapeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeManager")
            .field("targets", &self.running.len())
            .finish()
    }
}

impl ScrapeManager {
    /// A manager appending to `store`.
    pub fn new(store: Arc<dyn Appendable>) -> Self {
        ScrapeManager {
            store,
            clients: HashMap::new(),
            configs: HashMap::new(),
            running: HashMap::new(),
            dropped: Vec::new(),
            forced: HashMap::new(),
        }
    }

    /// Takes a new set of scrape configs; loops of jobs whose config changed restart at
    /// the next [`ScrapeManager::sync`].
    pub fn apply_config(&mut self, cfgs: Vec<ScrapeConfig>) {
        let new: HashMap<String, Arc<ScrapeConfig>> = cfgs
            .into_iter()
            .map(|c| (c.job_name.clone(), Arc::new(c)))
            .collect();
        let changed: Vec<(String, u64)> = self
            .running
            .keys()
            .filter(|(job, _)| {
                new.get(job)
                    .map(|c| **c != *self.configs[job])
                    .unwrap_or(true)
            })
            .cloned()
            .collect();
        for k in changed {
            if let Some(r) = self.running.remove(&k) {
                stop(r);
            }
        }
        // A job keeps its client (and connections) while its settings stay the same.
        let mut clients = HashMap::new();
        for (job, cfg) in &new {
            let kept = self
                .configs
                .get(job)
                .filter(|old| old.http_client == cfg.http_client)
                .and_then(|_| self.clients.remove(job));
            let client = kept.unwrap_or_else(|| {
                HttpClient::from_config(&cfg.http_client).unwrap_or_else(|e| {
                    tracing::error!(job = %job, err = %e, "error creating HTTP client");
                    HttpClient::failing(format!("error creating HTTP client: {e}"))
                })
            });
            clients.insert(job.clone(), client);
        }
        self.clients = clients;
        self.configs = new;
    }

    /// Brings the loops in line with the discovered targets.
    pub fn sync(&mut self, snap: &Snapshot) {
        let mut wanted: HashMap<(String, u64), (Target, Arc<ScrapeConfig>)> = HashMap::new();
        self.dropped.clear();
        for (job, groups) in snap.iter() {
            let Some(cfg) = self.configs.get(job) else {
                continue;
            };
            let mut n = 0u64;
            for g in groups {
                for t in &g.targets {
                    match target::populate(cfg, t) {
                        Ok(Some(target)) => {
                            n += 1;
                            wanted.insert((job.clone(), target.hash()), (target, cfg.clone()));
                        }
                        Ok(None) => self
                            .dropped
                            .push((job.clone(), target::with_defaults(cfg, t))),
                        Err(e) => tracing::warn!(job = %job, err = %e, "dropping invalid target"),
                    }
                }
            }
            // As Prometheus: over the limit, every target of the pool stays listed
            // but fails with the reason instead of being scraped.
            let err = (cfg.target_limit > 0 && n > cfg.target_limit).then(|| {
                tracing::error!(job = %job, targets = n, limit = cfg.target_limit, "target_limit exceeded");
                format!(
                    "target_limit exceeded (number of targets: {n}, limit: {})",
                    cfg.target_limit
                )
            });
            let f = self.forced.entry(job.clone()).or_default();
            if let Ok(mut f) = f.lock() {
                *f = err;
            }
        }
        let gone: Vec<(String, u64)> = self
            .running
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        for k in gone {
            if let Some(r) = self.running.remove(&k) {
                stop(r);
            }
        }
        for (k, (target, cfg)) in wanted {
            if let Some(r) = self.running.get_mut(&k) {
                // Same final labels, so the loop goes on; but the targets API shows
                // the latest discovered labels (a Consul health change), as
                // Prometheus's sync refreshes them on the target it keeps.
                r.target.discovered = target.discovered;
                continue;
            }
            let Some(client) = self.clients.get(&k.0).cloned() else {
                continue;
            };
            let health = Arc::new(Mutex::new(Health::default()));
            let prev = Arc::new(Mutex::new(scrape_loop::SeriesCache::new()));
            let metadata = Arc::new(Mutex::new(metadata::MetadataCache::default()));
            let state = scrape_loop::LoopState::new(
                target.clone(),
                cfg.clone(),
                self.store.clone(),
                client.clone(),
                health.clone(),
                prev.clone(),
                metadata.clone(),
            );
            let stopper = scrape_loop::LoopState::new(
                target.clone(),
                cfg,
                self.store.clone(),
                client,
                health.clone(),
                prev,
                metadata.clone(),
            );
            let forced = self.forced.entry(k.0.clone()).or_default().clone();
            let handle = tokio::spawn(state.with_forced_error(forced).run());
            self.running.insert(
                k.clone(),
                Running {
                    target,
                    job: k.0.clone(),
                    health,
                    metadata,
                    handle,
                    stopper: Some(stopper),
                },
            );
        }
    }

    /// Active targets and their health.
    pub fn targets(&self) -> Vec<TargetStatus> {
        let mut v: Vec<TargetStatus> = self
            .running
            .values()
            .map(|r| TargetStatus {
                job: r.job.clone(),
                target: r.target.clone(),
                health: r.health.lock().map(|h| h.clone()).unwrap_or_default(),
            })
            .collect();
        v.sort_by(|a, b| (&a.job, &a.target.url).cmp(&(&b.job, &b.target.url)));
        v
    }

    /// Each active target (sorted by job, then URL) with the metric metadata of its
    /// last scrapes (sorted by metric name), for `/api/v1/metadata` and
    /// `/api/v1/targets/metadata`.
    pub fn metadata(&self) -> Vec<(TargetStatus, Vec<MetricMetadata>)> {
        let mut v: Vec<(TargetStatus, Vec<MetricMetadata>)> = self
            .running
            .values()
            .map(|r| {
                let status = TargetStatus {
                    job: r.job.clone(),
                    target: r.target.clone(),
                    health: r.health.lock().map(|h| h.clone()).unwrap_or_default(),
                };
                let md = r.metadata.lock().map(|m| m.list()).unwrap_or_default();
                (status, md)
            })
            .collect();
        v.sort_by(|a, b| (&a.0.job, &a.0.target.url).cmp(&(&b.0.job, &b.0.target.url)));
        v
    }

    /// The configured scrape pools (job names), sorted, whether or not they have
    /// targets: `/api/v1/scrape_pools`.
    pub fn pools(&self) -> Vec<String> {
        let mut v: Vec<String> = self.configs.keys().cloned().collect();
        v.sort();
        v
    }

    /// Targets relabeling dropped, by job.
    pub fn dropped(&self) -> &[(String, ember_model::Labels)] {
        &self.dropped
    }

    /// Stops every loop (marking their series stale).
    pub fn stop_all(&mut self) {
        for (_, r) in self.running.drain() {
            stop(r);
        }
    }
}

fn stop(mut r: Running) {
    r.handle.abort();
    // The stopper shares the loop's series memory: it marks every series the target
    // last produced, and its report series, stale.
    if let Some(s) = r.stopper.take() {
        s.stop();
    }
}

#[cfg(test)]
mod https_tests;
#[cfg(test)]
mod tests {
    use super::*;
    use ember_model::value::is_stale_nan;
    use ember_model::{Labels, MatchType, Matcher};
    use ember_storage::list::MemStorage;
    use ember_storage::{Queryable, ValueType};

    async fn serve(body: Arc<Mutex<String>>) -> String {
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let b = body.clone();
                async move { b.lock().unwrap().clone() }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(l, app).await });
        addr
    }

    fn samples(st: &MemStorage, name: &str) -> Vec<(Labels, Vec<(i64, f64)>)> {
        let q = st.querier(i64::MIN, i64::MAX).unwrap();
        let m = Matcher::new(MatchType::Equal, "__name__", name).unwrap();
        q.select(true, None, &[m])
            .map(|s| {
                let s = s.unwrap();
                let mut it = s.iter();
                let mut v = Vec::new();
                while it.next() == ValueType::Float {
                    v.push(it.at());
                }
                (s.labels().clone(), v)
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scrape_relabel_report_and_staleness() {
        let body = Arc::new(Mutex::new(
            "# TYPE a counter\na_total{job=\"inner\"} 1\nb 2\n".to_string(),
        ));
        let addr = serve(body.clone()).await;
        let yaml = format!(
            "scrape_configs:\n  - job_name: test\n    static_configs:\n      - targets: ['{addr}']\n        labels: {{env: prod}}\n    metric_relabel_configs:\n      - source_labels: [__name__]\n        regex: b\n        action: drop\n"
        );
        let cfg = ember_config::load_str(&yaml, std::path::Path::new("t.yml"), &Default::default())
            .unwrap();
        let sc = cfg.scrape_configs[0].clone();
        let labels = Labels::from_pairs([("__address__", addr.as_str()), ("env", "prod")]);
        let target = target::populate(&sc, &labels).unwrap().unwrap();
        assert_eq!(target.url, format!("http://{addr}/metrics"));
        assert_eq!(target.labels.get("instance"), Some(addr.as_str()));
        let st = Arc::new(MemStorage::new());
        let health = Arc::new(Mutex::new(Health::default()));
        let prev = Arc::new(Mutex::new(scrape_loop::SeriesCache::new()));
        let md = Arc::new(Mutex::new(metadata::MetadataCache::default()));
        let mut l = scrape_loop::LoopState::new(
            target,
            Arc::new(sc),
            st.clone(),
            HttpClient::new(),
            health.clone(),
            prev,
            md.clone(),
        );
        l.scrape_once().await;
        assert!(
            health.lock().unwrap().up,
            "{}",
            health.lock().unwrap().last_error
        );
        let listed = md.lock().unwrap().list();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (listed[0].metric.as_str(), listed[0].metric_type.as_str()),
            ("a", "counter")
        );
        let a = samples(&st, "a_total");
        assert_eq!(a.len(), 1);
        // The target's job wins; the scraped one is kept as exported_job.
        assert_eq!(a[0].0.get("job"), Some("test"));
        assert_eq!(a[0].0.get("exported_job"), Some("inner"));
        assert_eq!(a[0].0.get("env"), Some("prod"));
        assert!(samples(&st, "b").is_empty(), "dropped by metric relabeling");
        assert_eq!(samples(&st, "scrape_samples_scraped")[0].1[0].1, 2.0);
        assert_eq!(
            samples(&st, "scrape_samples_post_metric_relabeling")[0].1[0].1,
            1.0
        );
        assert_eq!(samples(&st, "up")[0].1[0].1, 1.0);

        // A malformed payload stores nothing of itself: up=0, old series go stale.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        *body.lock().unwrap() = "a_total{job=\"inner\"} 1\nbroken{ 3\n".into();
        l.scrape_once().await;
        assert!(!health.lock().unwrap().up);
        let a = samples(&st, "a_total");
        assert_eq!(a[0].1.len(), 2);
        assert!(
            is_stale_nan(a[0].1[1].1),
            "stale marker after a failed scrape"
        );
        assert_eq!(samples(&st, "up")[0].1.last().unwrap().1, 0.0);
    }

    /// A storage whose appenders panic on the first append.
    struct Panicking(std::sync::atomic::AtomicUsize);

    impl Appendable for Panicking {
        fn appender(&self) -> Box<dyn ember_storage::Appender + '_> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Box::new(PanickingAppender)
        }
    }

    struct PanickingAppender;

    impl ember_storage::Appender for PanickingAppender {
        fn append(
            &mut self,
            _: Option<ember_storage::SeriesRef>,
            _: &Labels,
            _: i64,
            _: f64,
        ) -> Result<ember_storage::SeriesRef, ember_storage::Error> {
            panic!("injected fault")
        }
        fn append_histogram(
            &mut self,
            _: Option<ember_storage::SeriesRef>,
            _: &Labels,
            _: i64,
            _: ember_storage::HistogramRef<'_>,
        ) -> Result<ember_storage::SeriesRef, ember_storage::Error> {
            panic!("injected fault")
        }
        fn append_exemplar(
            &mut self,
            r: Option<ember_storage::SeriesRef>,
            _: &Labels,
            _: &ember_model::value::Exemplar,
        ) -> Result<ember_storage::SeriesRef, ember_storage::Error> {
            Ok(r.unwrap_or_default())
        }
        fn update_metadata(
            &mut self,
            r: Option<ember_storage::SeriesRef>,
            _: &Labels,
            _: &ember_model::value::Metadata,
        ) -> Result<ember_storage::SeriesRef, ember_storage::Error> {
            Ok(r.unwrap_or_default())
        }
        fn commit(self: Box<Self>) -> Result<(), ember_storage::Error> {
            Ok(())
        }
        fn rollback(self: Box<Self>) -> Result<(), ember_storage::Error> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_scrape_does_not_end_its_loop() {
        let addr = serve(Arc::new(Mutex::new("a 1\n".to_string()))).await;
        let yaml = format!(
            "scrape_configs:\n  - job_name: test\n    scrape_interval: 100ms\n    scrape_timeout: 100ms\n    static_configs:\n      - targets: ['{addr}']\n"
        );
        let cfg = ember_config::load_str(&yaml, std::path::Path::new("t.yml"), &Default::default())
            .unwrap();
        let sc = cfg.scrape_configs[0].clone();
        let labels = Labels::from_pairs([("__address__", addr.as_str())]);
        let target = target::populate(&sc, &labels).unwrap().unwrap();
        let st = Arc::new(Panicking(Default::default()));
        let health = Arc::new(Mutex::new(Health::default()));
        let l = scrape_loop::LoopState::new(
            target,
            Arc::new(sc),
            st.clone(),
            HttpClient::new(),
            health.clone(),
            Arc::new(Mutex::new(scrape_loop::SeriesCache::new())),
            Arc::new(Mutex::new(metadata::MetadataCache::default())),
        );
        let h = tokio::spawn(l.run());
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        assert!(!h.is_finished(), "the loop survived");
        let scrapes = st.0.load(std::sync::atomic::Ordering::Relaxed);
        assert!(scrapes >= 3, "it kept scraping: {scrapes}");
        let hl = health.lock().unwrap().clone();
        assert!(!hl.up);
        assert_eq!(hl.last_error, "scrape panicked: injected fault");
        h.abort();
    }
}
