//! Kubernetes service discovery (`kubernetes_sd_configs`): targets from the
//! objects of a Kubernetes cluster's API, with Prometheus 3.x's roles (`node`,
//! `service`, `pod`, `endpoints`, `endpointslice`, `ingress`), group sources and
//! `__meta_kubernetes_*` labels.
//!
//! A small client of its own over the shared [`HttpClient`] rather than kube-rs:
//! discovery needs a handful of fields of six kinds of objects, read-only, and the
//! shared client already brings TLS, authentication and proxies from the job's
//! configuration; kube-rs and k8s-openapi would add a large dependency tree for it.
//!
//! How it runs, as client-go's informers do for Prometheus:
//!
//! - one watcher task per kind of object and namespace ([`watch`]): LIST (paged),
//!   then WATCH from the list's `resourceVersion` with `allowWatchBookmarks`,
//!   reading the newline-delimited JSON events as they arrive; a watch that ends
//!   is resumed from the last version seen, `410 Gone` (an expired version) means
//!   listing again, and failures are retried with a growing delay;
//! - the provider's task owns the caches ([`targets::Store`]), applies the
//!   watchers' changes, and once every watcher has listed once, rebuilds the
//!   role's groups ([`targets`]) and sends them when they changed. Rebuilding
//!   from the caches, rather than following each dependency as Prometheus's
//!   queues do, keeps groups that draw on several kinds (endpoints with their
//!   service, pods and nodes) right whichever object changed. A group whose
//!   object went away is sent once more, empty, as Prometheus sends it, so
//!   consumers drop its targets.
//!
//! Which objects are watched: those of the role in every configured namespace
//! (all namespaces when none are named), plus what the role draws labels from —
//! services and pods for `endpoints` and `endpointslice`, nodes with
//! `attach_metadata: node`, namespaces with `attach_metadata: namespace`, replica
//! sets and jobs for the `deployment`, `job` and `cronjob` options. `selectors`
//! become each list and watch request's `labelSelector` and `fieldSelector`.

mod client;
mod objects;
mod targets;
mod watch;

use crate::http::{HttpClient, HttpError};
use crate::{Group, Provider};
use ember_config::{KubernetesRole, KubernetesSdConfig};
use std::collections::BTreeSet;
use std::path::Path;
use tokio::sync::mpsc;
use watch::{Change, Kind, Watch};

/// What can go wrong talking to the API server.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KubernetesError {
    /// The configuration (kubeconfig, in-cluster files) cannot be used.
    #[error("{0}")]
    Config(String),
    /// The request failed.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The server answered with an error status.
    #[error("server returned HTTP status {code}: {message}")]
    Status {
        /// The HTTP status or the `Status` object's code.
        code: u16,
        /// What the server said.
        message: String,
    },
    /// The server's answer is not what the API describes.
    #[error("decoding the response: {0}")]
    Decode(String),
}

/// One `kubernetes_sd_configs` entry.
pub(crate) struct KubernetesProvider(pub(crate) KubernetesSdConfig);

impl Provider for KubernetesProvider {
    fn run(
        self: Box<Self>,
        out: mpsc::Sender<Vec<Group>>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        // Resolved here, before the task starts: it reads the environment and
        // the service account directory only once.
        let endpoint = client::resolve(
            &self.0,
            &|k| std::env::var(k).ok(),
            Path::new(client::SERVICE_ACCOUNT_DIR),
        );
        Box::pin(run(self.0, endpoint, out))
    }
}

/// The watches `cfg` needs: the role's objects and what its labels draw on.
fn watches(cfg: &KubernetesSdConfig, namespaces: &[String]) -> Vec<Watch> {
    let selector = |role: KubernetesRole| {
        cfg.selectors
            .iter()
            .find(|s| s.role == role)
            .map(|s| (s.label.clone(), s.field.clone()))
            .unwrap_or_default()
    };
    let mut v = Vec::new();
    let mut per_namespace = |kind: Kind, role: Option<KubernetesRole>| {
        let (label, field) = role.map(selector).unwrap_or_default();
        for ns in namespaces {
            v.push(Watch {
                kind,
                namespace: ns.clone(),
                label: label.clone(),
                field: field.clone(),
            });
        }
    };
    let a = &cfg.attach_metadata;
    let owners = |per_namespace: &mut dyn FnMut(Kind, Option<KubernetesRole>)| {
        if a.deployment {
            per_namespace(Kind::ReplicaSet, None);
        }
        if a.job || a.cronjob {
            per_namespace(Kind::Job, None);
        }
    };
    use KubernetesRole as R;
    let (mut nodes, mut namespaces_meta) = (a.node, a.namespace);
    match cfg.role {
        R::Pod => {
            per_namespace(Kind::Pod, Some(R::Pod));
            owners(&mut per_namespace);
        }
        R::Service => per_namespace(Kind::Service, Some(R::Service)),
        R::Ingress => per_namespace(Kind::Ingress, Some(R::Ingress)),
        R::Endpoints | R::EndpointSlice => {
            if cfg.role == R::Endpoints {
                per_namespace(Kind::Endpoints, Some(R::Endpoints));
            } else {
                per_namespace(Kind::EndpointSlice, Some(R::EndpointSlice));
            }
            per_namespace(Kind::Service, Some(R::Service));
            per_namespace(Kind::Pod, Some(R::Pod));
            owners(&mut per_namespace);
        }
        R::Node => {
            nodes = true;
            namespaces_meta = false;
        }
    }
    // Node metadata is for pods and endpoints only, as in Prometheus.
    if !matches!(cfg.role, R::Pod | R::Endpoints | R::EndpointSlice | R::Node) {
        nodes = false;
    }
    if nodes {
        let (label, field) = selector(R::Node);
        v.push(Watch {
            kind: Kind::Node,
            namespace: String::new(),
            label,
            field,
        });
    }
    if namespaces_meta {
        v.push(Watch {
            kind: Kind::Namespace,
            namespace: String::new(),
            label: String::new(),
            field: String::new(),
        });
    }
    v
}

/// Runs discovery for `cfg` until `out` closes.
async fn run(
    cfg: KubernetesSdConfig,
    endpoint: Result<client::Endpoint, KubernetesError>,
    out: mpsc::Sender<Vec<Group>>,
) {
    let endpoint = match endpoint {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(err = %e, "Kubernetes SD: cannot set up the API client");
            return out.closed().await;
        }
    };
    let http = HttpClient::from_config(&endpoint.http)
        .unwrap_or_else(|e| HttpClient::failing(format!("error creating HTTP client: {e}")));
    // Prometheus's getNamespaces: the named ones and the own one, else all ("").
    let mut namespaces = cfg.namespaces.names.clone();
    if let Some(own) = &endpoint.own_namespace {
        namespaces.push(own.clone());
    }
    if namespaces.is_empty() {
        namespaces.push(String::new());
    }
    let mut seen_ns = BTreeSet::new();
    namespaces.retain(|n| seen_ns.insert(n.clone()));
    let watches = watches(&cfg, &namespaces);
    let (tx, mut rx) = mpsc::channel::<Change>(256);
    let tasks: Vec<_> = watches
        .iter()
        .enumerate()
        .map(|(i, w)| {
            tokio::spawn(watch::run(
                http.clone(),
                endpoint.base.clone(),
                w.clone(),
                i,
                tx.clone(),
            ))
        })
        .collect();
    // Stop the watchers when discovery stops (the task running this is aborted
    // or `out` closes).
    struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            for t in &self.0 {
                t.abort();
            }
        }
    }
    let _tasks = AbortOnDrop(tasks);
    drop(tx);
    let mut store = targets::Store::default();
    let mut listed = vec![false; watches.len()];
    let mut last: Option<Vec<Group>> = None;
    let mut sources: BTreeSet<String> = BTreeSet::new();
    loop {
        let change = tokio::select! {
            c = rx.recv() => c,
            _ = out.closed() => return,
        };
        let Some(change) = change else {
            return out.closed().await;
        };
        apply(&mut store, &watches, &mut listed, change);
        // Whatever else already arrived goes into the same rebuild.
        while let Ok(c) = rx.try_recv() {
            apply(&mut store, &watches, &mut listed, c);
        }
        // As Prometheus waits for its informers' caches to sync.
        if !listed.iter().all(|l| *l) {
            continue;
        }
        let mut groups = targets::build(cfg.role, &store, &cfg.attach_metadata);
        let now: BTreeSet<String> = groups.iter().map(|g| g.source.clone()).collect();
        for gone in sources.difference(&now) {
            groups.push(Group {
                source: gone.clone(),
                targets: Vec::new(),
            });
        }
        sources = now;
        if last.as_ref() == Some(&groups) {
            continue;
        }
        last = Some(groups.clone());
        if out.send(groups).await.is_err() {
            return;
        }
    }
}

/// Applies one watcher's change to the caches.
fn apply(store: &mut targets::Store, watches: &[Watch], listed: &mut [bool], c: Change) {
    match c {
        Change::Listed(i, items) => {
            if let (Some(w), Some(l)) = (watches.get(i), listed.get_mut(i)) {
                watch::replace(store, w, items);
                *l = true;
            }
        }
        Change::Upsert(kind, obj) => watch::upsert(store, kind, obj),
        Change::Delete(kind, obj) => watch::delete(store, kind, &obj),
    }
}

#[cfg(test)]
#[path = "provider_tests.rs"]
mod provider_tests;
