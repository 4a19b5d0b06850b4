//! Service discovery: providers turn configuration into target groups, and the
//! [`Manager`] merges the groups of every provider of every scrape job and hands the
//! current picture to scraping whenever it changes.
//!
//! Implemented providers: `static_configs`, `file_sd_configs` (JSON or YAML files,
//! re-read when they change and every `refresh_interval`, `__meta_filepath` set),
//! `http_sd_configs` and `dns_sd_configs` ([`dns`]: SRV, A, AAAA, MX and NS records,
//! asked of the servers of `/etc/resolv.conf` by a small client of its own),
//! `consul_sd_configs` (`consul`: the catalog and health APIs with blocking
//! queries) and `kubernetes_sd_configs` (`kubernetes`: list and watch of the API
//! server for the node, service, pod, endpoints, endpointslice and ingress roles).
//!
//! [`sigv4`] signs requests with AWS Signature Version 4 (remote write,
//! Alertmanagers, the Alertmanager's SNS receiver).
//!
//! The crate also holds the HTTP client every outgoing request of Ember goes through
//! ([`http::HttpClient`]: HTTP and HTTPS, TLS and authentication from Prometheus's
//! `HttpClientConfig`), used by HTTP SD here, by scraping, by the notifier and by
//! Alertmanager's receivers; it lives here because discovery is the lowest crate that
//! makes requests. Besides `basic_auth`, `authorization` and `tls_config` it does
//! `oauth2` (client credentials and JWT bearer grants, tokens cached until 10 s
//! before they expire, `client_secret_file` re-read; `src/oauth2.rs`) and proxies
//! (`proxy_url` over HTTP, HTTPS or SOCKS5, `no_proxy`, `proxy_from_environment`
//! with Go's `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` rules, `proxy_connect_header`
//! on `CONNECT` tunnels; `src/proxy.rs`), with prometheus/common's semantics.
//! The proxy connector implements `tower-service`'s `Service`, the trait
//! hyper-util's pooled client takes connectors by (a crate already in the tree
//! through hyper-util).

mod consul;
pub mod dns;
pub mod http;
#[cfg(test)]
mod https_tests;
mod kubernetes;
mod oauth2;
#[cfg(test)]
mod oauth2_tests;
mod proxy;
#[cfg(test)]
mod proxy_tests;
pub mod sigv4;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
mod tls;

pub use tls::client_config as tls_client_config;

use ember_config::{FileSdConfig, HttpSdConfig, ServiceDiscoveryConfigs, TargetGroup as CfgGroup};
use ember_model::{Labels, LabelsBuilder};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, watch};

/// A set of targets from one source, each already carrying the group's labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// Identifies the group within its provider (file and index, URL, …).
    pub source: String,
    /// Label sets of the targets (`__address__` and `__meta_*` included).
    pub targets: Vec<Labels>,
}

/// The current groups of every job.
pub type Snapshot = Arc<BTreeMap<String, Vec<Group>>>;

/// A discovery mechanism: sends the complete list of its groups on every change.
pub trait Provider: Send + 'static {
    /// Runs until the sender is closed.
    fn run(
        self: Box<Self>,
        out: mpsc::Sender<Vec<Group>>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
}

fn group_from(cfg: &CfgGroup, source: String, extra: &[(&str, &str)]) -> Group {
    let targets = cfg
        .targets
        .iter()
        .map(|addr| {
            let mut b = LabelsBuilder::new(Labels::empty());
            for (k, v) in &cfg.labels {
                b.set(k.as_str(), v.as_str());
            }
            for (k, v) in extra {
                b.set(*k, *v);
            }
            b.set("__address__", addr.as_str());
            b.into_labels()
        })
        .collect();
    Group { source, targets }
}

/// The `targets`/`labels` file format of file and HTTP discovery.
#[derive(Deserialize)]
struct RawGroup {
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Parses a file-SD or HTTP-SD document (a JSON list, or a YAML list for `.yml`/`.yaml`).
pub fn parse_groups(text: &str, yaml: bool) -> Result<Vec<CfgGroup>, String> {
    let raw: Vec<RawGroup> = if yaml {
        serde_saphyr::from_str(text).map_err(|e| e.to_string())?
    } else {
        serde_json::from_str(text).map_err(|e| e.to_string())?
    };
    Ok(raw
        .into_iter()
        .map(|g| CfgGroup {
            targets: g.targets,
            labels: g.labels,
            source: String::new(),
        })
        .collect())
}

struct StaticProvider(Vec<Group>);

impl Provider for StaticProvider {
    fn run(
        self: Box<Self>,
        out: mpsc::Sender<Vec<Group>>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(async move {
            let _ = out.send(self.0).await;
            out.closed().await;
        })
    }
}

struct FileProvider(FileSdConfig);

impl FileProvider {
    fn read_all(&self) -> (Vec<Group>, Vec<(PathBuf, Option<SystemTime>)>) {
        let mut groups = Vec::new();
        let mut stamps = Vec::new();
        for pattern in &self.0.files {
            let paths: Vec<PathBuf> = glob::glob(pattern)
                .into_iter()
                .flatten()
                .flatten()
                .collect();
            for p in paths {
                let mtime = std::fs::metadata(&p).and_then(|m| m.modified()).ok();
                stamps.push((p.clone(), mtime));
                let yaml = p.extension().is_some_and(|e| e == "yml" || e == "yaml");
                let text = match std::fs::read_to_string(&p) {
                    Ok(t) => t,
                    Err(e) => {
                        tracing::error!(file = %p.display(), err = %e, "file SD: cannot read file");
                        continue;
                    }
                };
                match parse_groups(&text, yaml) {
                    Ok(gs) => {
                        let path = p.display().to_string();
                        for (i, g) in gs.iter().enumerate() {
                            groups.push(group_from(
                                g,
                                format!("{path}:{i}"),
                                &[("__meta_filepath", &path)],
                            ));
                        }
                    }
                    // A broken file keeps nothing of itself, the others still count.
                    Err(e) => {
                        tracing::error!(file = %p.display(), err = %e, "file SD: invalid file")
                    }
                }
            }
        }
        (groups, stamps)
    }
}

impl Provider for FileProvider {
    fn run(
        self: Box<Self>,
        out: mpsc::Sender<Vec<Group>>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(async move {
            let refresh = self.0.refresh_interval.as_std().max(Duration::from_secs(1));
            let mut last_full = tokio::time::Instant::now();
            let (groups, mut stamps) = self.read_all();
            if out.send(groups).await.is_err() {
                return;
            }
            // Watching by polling modification times keeps the dependency tree small.
            let mut tick = tokio::time::interval(Duration::from_secs(2));
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = out.closed() => return,
                }
                let (_, now_stamps) = {
                    let mut s = Vec::new();
                    for pattern in &self.0.files {
                        for p in glob::glob(pattern).into_iter().flatten().flatten() {
                            let m = std::fs::metadata(&p).and_then(|m| m.modified()).ok();
                            s.push((p, m));
                        }
                    }
                    ((), s)
                };
                if now_stamps != stamps || last_full.elapsed() >= refresh {
                    last_full = tokio::time::Instant::now();
                    let (groups, s) = self.read_all();
                    stamps = s;
                    if out.send(groups).await.is_err() {
                        return;
                    }
                }
            }
        })
    }
}

struct HttpProvider(HttpSdConfig);

impl Provider for HttpProvider {
    fn run(
        self: Box<Self>,
        out: mpsc::Sender<Vec<Group>>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(async move {
            // The provider's own client settings (TLS, auth); if they cannot be used,
            // every refresh fails with the reason, logged below.
            let client = http::HttpClient::from_config(&self.0.http_client).unwrap_or_else(|e| {
                http::HttpClient::failing(format!("error creating HTTP client: {e}"))
            });
            let mut tick =
                tokio::time::interval(self.0.refresh_interval.as_std().max(Duration::from_secs(1)));
            let url = self.0.url.clone();
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = out.closed() => return,
                }
                let headers = [
                    ("Accept", "application/json".to_string()),
                    (
                        "X-Prometheus-Refresh-Interval-Seconds",
                        self.0.refresh_interval.as_std().as_secs().to_string(),
                    ),
                ];
                match client.get(&url, &headers, Duration::from_secs(30), 0).await {
                    Ok(r) => match std::str::from_utf8(&r.body)
                        .map_err(|e| e.to_string())
                        .and_then(|t| parse_groups(t, false))
                    {
                        Ok(gs) => {
                            let groups = gs
                                .iter()
                                .enumerate()
                                .map(|(i, g)| {
                                    group_from(g, format!("{url}:{i}"), &[("__meta_url", &url)])
                                })
                                .collect();
                            if out.send(groups).await.is_err() {
                                return;
                            }
                        }
                        // Keep the last good groups on a bad answer, as Prometheus does.
                        Err(e) => {
                            tracing::error!(url = %url, err = %e, "HTTP SD: invalid response")
                        }
                    },
                    Err(e) => tracing::error!(url = %url, err = %e, "HTTP SD: request failed"),
                }
            }
        })
    }
}

/// The providers a job's configuration asks for.
pub fn providers(cfg: &ServiceDiscoveryConfigs) -> Vec<Box<dyn Provider>> {
    let mut v: Vec<Box<dyn Provider>> = Vec::new();
    if !cfg.static_configs.is_empty() {
        let groups = cfg
            .static_configs
            .iter()
            .enumerate()
            .map(|(i, g)| group_from(g, i.to_string(), &[]))
            .collect();
        v.push(Box::new(StaticProvider(groups)));
    }
    for f in &cfg.file_sd_configs {
        v.push(Box::new(FileProvider(f.clone())));
    }
    for h in &cfg.http_sd_configs {
        v.push(Box::new(HttpProvider(h.clone())));
    }
    for d in &cfg.dns_sd_configs {
        v.push(Box::new(dns::DnsProvider::new(d.clone())));
    }
    for c in &cfg.consul_sd_configs {
        v.push(Box::new(consul::ConsulProvider::new(c.clone())));
    }
    for k in &cfg.kubernetes_sd_configs {
        v.push(Box::new(kubernetes::KubernetesProvider(k.clone())));
    }
    v
}

/// The latest groups of one job, per provider, and the generation of the providers
/// that may still update them (updates from replaced providers are ignored).
#[derive(Default)]
struct JobGroups {
    generation: u64,
    per_provider: BTreeMap<usize, Vec<Group>>,
}

type Groups = Arc<std::sync::Mutex<BTreeMap<String, JobGroups>>>;

/// One update from a provider: its job, generation and index, and its groups.
type Update = (String, u64, usize, Vec<Group>);

/// The providers running for one job; they stop when it is dropped.
struct Job {
    cfg: ServiceDiscoveryConfigs,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Job {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Prometheus's `strutil.SanitizeLabelName`: every character outside
/// `[a-zA-Z0-9_]` becomes `_`, for label names made from free-form keys (Consul
/// metadata, Kubernetes labels and annotations).
pub(crate) fn sanitize_label_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Runs providers per job and publishes the merged groups.
///
/// As Prometheus's discovery manager does, [`Manager::apply`] keeps the providers
/// of a job whose name and configuration did not change, with the groups they
/// found: a reload therefore publishes those targets again at once instead of an
/// empty job, so that consumers (scraping, the notifier's Alertmanagers) keep what
/// is running instead of tearing it down and rebuilding it.
pub struct Manager {
    tx: watch::Sender<Snapshot>,
    jobs: BTreeMap<String, Job>,
    groups: Groups,
    updates: Option<(mpsc::Sender<Update>, tokio::task::JoinHandle<()>)>,
    generation: u64,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("jobs", &self.jobs.len())
            .finish()
    }
}

impl Default for Manager {
    fn default() -> Self {
        Self::new()
    }
}

/// The snapshot of `groups`: every job, its providers' groups in provider order.
fn snapshot(groups: &BTreeMap<String, JobGroups>) -> Snapshot {
    Arc::new(
        groups
            .iter()
            .map(|(job, g)| {
                (
                    job.clone(),
                    g.per_provider.values().flatten().cloned().collect(),
                )
            })
            .collect(),
    )
}

impl Manager {
    /// A manager with no jobs.
    pub fn new() -> Self {
        let (tx, _) = watch::channel(Arc::new(BTreeMap::new()));
        Manager {
            tx,
            jobs: BTreeMap::new(),
            groups: Arc::default(),
            updates: None,
            generation: 0,
        }
    }

    /// Receives every new snapshot.
    pub fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.tx.subscribe()
    }

    /// The current snapshot.
    pub fn current(&self) -> Snapshot {
        self.tx.borrow().clone()
    }

    /// The channel providers report on, and the task that merges their reports
    /// into snapshots (started with the first job, on the caller's runtime).
    fn updates(&mut self) -> mpsc::Sender<Update> {
        if let Some((tx, _)) = &self.updates {
            return tx.clone();
        }
        let (tx, mut rx) = mpsc::channel::<Update>(64);
        let groups = Arc::clone(&self.groups);
        let out = self.tx.clone();
        let task = tokio::spawn(async move {
            let apply = |(job, generation, i, g): Update| {
                if let Ok(mut all) = groups.lock()
                    && let Some(j) = all.get_mut(&job)
                    && j.generation == generation
                {
                    j.per_provider.insert(i, g);
                }
            };
            while let Some(u) = rx.recv().await {
                apply(u);
                // Coalesce bursts (many files changing at once) into one update.
                tokio::time::sleep(Duration::from_millis(100)).await;
                while let Ok(u) = rx.try_recv() {
                    apply(u);
                }
                // Built and sent under the lock, so that a concurrent `apply` and
                // this task publish in the order their changes were made.
                if let Ok(all) = groups.lock() {
                    out.send_replace(snapshot(&all));
                }
            }
        });
        self.updates = Some((tx.clone(), task));
        tx
    }

    /// Replaces the jobs with `jobs` (job name → its discovery config). Providers
    /// of a job whose configuration is unchanged keep running with their groups;
    /// the others stop, and new or changed jobs start with no groups until their
    /// providers report. The new snapshot is published before this returns.
    pub fn apply(&mut self, jobs: Vec<(String, ServiceDiscoveryConfigs)>) {
        let ptx = self.updates();
        let groups = Arc::clone(&self.groups);
        // Held throughout: a new provider may report at once, and its update must
        // find its job's new generation in place.
        let Ok(mut all) = groups.lock() else {
            return;
        };
        let mut old = std::mem::take(&mut self.jobs);
        for (name, cfg) in jobs {
            if let Some(job) = old.remove(&name) {
                if job.cfg == cfg {
                    self.jobs.insert(name, job);
                    continue;
                }
                // Changed: its providers stop here, before the new ones start.
                drop(job);
            }
            self.generation += 1;
            let generation = self.generation;
            all.insert(
                name.clone(),
                JobGroups {
                    generation,
                    per_provider: BTreeMap::new(),
                },
            );
            let mut tasks = Vec::new();
            for (i, p) in providers(&cfg).into_iter().enumerate() {
                let (tx, mut rx) = mpsc::channel(4);
                let fwd = ptx.clone();
                let job = name.clone();
                tasks.push(tokio::spawn(p.run(tx)));
                tasks.push(tokio::spawn(async move {
                    while let Some(g) = rx.recv().await {
                        if fwd.send((job.clone(), generation, i, g)).await.is_err() {
                            return;
                        }
                    }
                }));
            }
            self.jobs.insert(name, Job { cfg, tasks });
        }
        // Jobs no longer configured stop when `old` is dropped.
        drop(old);
        all.retain(|job, _| self.jobs.contains_key(job));
        self.tx.send_replace(snapshot(&all));
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        if let Some((_, task)) = &self.updates {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_formats() {
        let g = parse_groups(
            r#"[{"targets":["a:1","b:2"],"labels":{"env":"prod"}}]"#,
            false,
        )
        .unwrap();
        assert_eq!(g[0].targets.len(), 2);
        let g = parse_groups("- targets: ['c:3']\n  labels:\n    x: y\n", true).unwrap();
        assert_eq!(g[0].labels["x"], "y");
        assert!(parse_groups("{", false).is_err());
    }

    fn static_job(targets: &[&str]) -> ServiceDiscoveryConfigs {
        ServiceDiscoveryConfigs {
            static_configs: vec![CfgGroup {
                targets: targets.iter().map(|t| t.to_string()).collect(),
                labels: BTreeMap::new(),
                source: String::new(),
            }],
            ..ServiceDiscoveryConfigs::default()
        }
    }

    fn addresses(snap: &Snapshot, job: &str) -> Vec<String> {
        snap.get(job)
            .into_iter()
            .flatten()
            .flat_map(|g| g.targets.iter())
            .map(|t| t.get_or_empty("__address__").to_string())
            .collect()
    }

    /// A reload with unchanged jobs publishes their targets again at once, never an
    /// empty job in between (consumers would tear down what runs for them). On
    /// several threads, so that providers report while `apply` is still running.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn apply_keeps_unchanged_jobs_and_their_groups() {
        let mut m = Manager::new();
        let mut rx = m.subscribe();
        m.apply(vec![
            ("a".into(), static_job(&["a:1"])),
            ("b".into(), static_job(&["b:1"])),
        ]);
        // Right after `apply`, the new jobs are known, still without targets.
        assert_eq!(addresses(&m.current(), "a"), Vec::<String>::new());
        tokio::time::timeout(Duration::from_secs(10), async {
            while addresses(&rx.borrow_and_update(), "b").is_empty() {
                rx.changed().await.unwrap();
            }
        })
        .await
        .unwrap();
        assert_eq!(addresses(&m.current(), "a"), ["a:1"]);

        // The same jobs again, and a changed and a new one.
        m.apply(vec![
            ("a".into(), static_job(&["a:1"])),
            ("b".into(), static_job(&["b:2"])),
            ("c".into(), static_job(&["c:1"])),
        ]);
        let snap = m.current();
        assert_eq!(addresses(&snap, "a"), ["a:1"], "unchanged job kept");
        assert_eq!(addresses(&snap, "b"), Vec::<String>::new());
        assert!(snap.contains_key("c"));
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let s = rx.borrow_and_update().clone();
                assert_eq!(addresses(&s, "a"), ["a:1"], "never emptied");
                if addresses(&s, "b") == ["b:2"] && addresses(&s, "c") == ["c:1"] {
                    break;
                }
                rx.changed().await.unwrap();
            }
        })
        .await
        .unwrap();

        // A removed job disappears from the snapshot.
        m.apply(vec![("a".into(), static_job(&["a:1"]))]);
        let snap = m.current();
        assert_eq!(snap.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(addresses(&snap, "a"), ["a:1"]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn file_provider_follows_changes() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.json");
        std::fs::write(&f, r#"[{"targets":["a:1"]}]"#).unwrap();
        let cfg = FileSdConfig {
            files: vec![f.display().to_string()],
            refresh_interval: ember_config::Duration::from_secs(300),
        };
        let (tx, mut rx) = mpsc::channel(4);
        let task = tokio::spawn(Box::new(FileProvider(cfg)).run(tx));
        let first = rx.recv().await.unwrap();
        assert_eq!(first[0].targets[0].get("__address__"), Some("a:1"));
        assert_eq!(
            first[0].targets[0].get("__meta_filepath"),
            Some(f.display().to_string().as_str())
        );
        tokio::time::sleep(Duration::from_millis(1100)).await;
        std::fs::write(&f, r#"[{"targets":["b:2","c:3"]}]"#).unwrap();
        let second = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second[0].targets.len(), 2);
        task.abort();
    }
}
