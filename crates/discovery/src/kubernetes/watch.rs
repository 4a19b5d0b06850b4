//! LIST and WATCH of one kind of object in one namespace (or all), as client-go's
//! reflector does it, reporting to the provider's task as [`Change`]s:
//!
//! - LIST in pages of 500 (`limit`/`continue`), then WATCH from the list's
//!   `resourceVersion` with `allowWatchBookmarks=true` and a `timeoutSeconds` of
//!   5 to 10 minutes (spread so that many watchers do not reconnect together);
//! - events are newline-delimited JSON objects (`{"type": …, "object": …}`) on a
//!   response that stays open; `BOOKMARK`s only move the version on;
//! - a watch that ends (its timeout, a dropped connection) is resumed from the
//!   last version seen; `410 Gone`, as an HTTP status or an `ERROR` event, means
//!   the version is too old, so the objects are listed again;
//! - failures wait 1 s, doubling up to 30 s, before the next try.

use super::KubernetesError;
use super::objects::Meta;
use super::targets::{Store, key};
use crate::http::HttpClient;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::mpsc;

/// The kinds of objects discovery reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Pod,
    Service,
    Endpoints,
    EndpointSlice,
    Ingress,
    Node,
    Namespace,
    ReplicaSet,
    Job,
}

impl Kind {
    /// The collection's path, in `namespace` (all namespaces if empty).
    fn path(self, namespace: &str) -> String {
        let (group, resource) = match self {
            Kind::Pod => ("api/v1", "pods"),
            Kind::Service => ("api/v1", "services"),
            Kind::Endpoints => ("api/v1", "endpoints"),
            Kind::EndpointSlice => ("apis/discovery.k8s.io/v1", "endpointslices"),
            Kind::Ingress => ("apis/networking.k8s.io/v1", "ingresses"),
            Kind::Node => ("api/v1", "nodes"),
            Kind::Namespace => ("api/v1", "namespaces"),
            Kind::ReplicaSet => ("apis/apps/v1", "replicasets"),
            Kind::Job => ("apis/batch/v1", "jobs"),
        };
        if namespace.is_empty() {
            format!("/{group}/{resource}")
        } else {
            format!("/{group}/namespaces/{namespace}/{resource}")
        }
    }
}

/// One collection to follow, with its selectors.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Watch {
    pub(crate) kind: Kind,
    /// Empty: all namespaces (and cluster-wide kinds).
    pub(crate) namespace: String,
    pub(crate) label: String,
    pub(crate) field: String,
}

impl Watch {
    /// The URL of the collection with the selectors and `extra` parameters.
    pub(crate) fn url(&self, base: &str, extra: &[(&str, &str)]) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in extra {
            q.append_pair(k, v);
        }
        if !self.label.is_empty() {
            q.append_pair("labelSelector", &self.label);
        }
        if !self.field.is_empty() {
            q.append_pair("fieldSelector", &self.field);
        }
        let q = q.finish();
        let path = self.kind.path(&self.namespace);
        if q.is_empty() {
            format!("{base}{path}")
        } else {
            format!("{base}{path}?{q}")
        }
    }
}

/// What a watcher reports.
#[derive(Debug)]
pub(crate) enum Change {
    /// Watcher number `.0` listed its collection: these are all its objects.
    Listed(usize, Vec<Value>),
    /// An object was added or modified.
    Upsert(Kind, Value),
    /// An object was deleted.
    Delete(Kind, Value),
}

/// Replaces the objects of `w`'s collection in `store` with `items`.
pub(crate) fn replace(store: &mut Store, w: &Watch, items: Vec<Value>) {
    fn keep<T>(map: &mut std::collections::BTreeMap<String, T>, ns: &str) {
        if ns.is_empty() {
            map.clear();
        } else {
            let prefix = format!("{ns}/");
            map.retain(|k, _| !k.starts_with(&prefix));
        }
    }
    let ns = w.namespace.as_str();
    match w.kind {
        Kind::Pod => keep(&mut store.pods, ns),
        Kind::Service => keep(&mut store.services, ns),
        Kind::Endpoints => keep(&mut store.endpoints, ns),
        Kind::EndpointSlice => keep(&mut store.slices, ns),
        Kind::Ingress => keep(&mut store.ingresses, ns),
        Kind::Node => keep(&mut store.nodes, ns),
        Kind::Namespace => keep(&mut store.namespaces, ns),
        Kind::ReplicaSet => keep(&mut store.replica_sets, ns),
        Kind::Job => keep(&mut store.jobs, ns),
    }
    for item in items {
        upsert(store, w.kind, item);
    }
}

/// Adds or replaces an object; one that does not decode is logged and skipped.
pub(crate) fn upsert(store: &mut Store, kind: Kind, obj: Value) {
    fn put<T: serde::de::DeserializeOwned>(
        map: &mut std::collections::BTreeMap<String, T>,
        obj: Value,
        meta: impl Fn(&T) -> &super::objects::ObjectMeta,
    ) {
        match serde_json::from_value::<T>(obj) {
            Ok(o) => {
                map.insert(key(meta(&o)), o);
            }
            Err(e) => {
                tracing::warn!(err = %e, "Kubernetes SD: skipping an object that does not decode")
            }
        }
    }
    match kind {
        Kind::Pod => put(&mut store.pods, obj, |o| &o.metadata),
        Kind::Service => put(&mut store.services, obj, |o| &o.metadata),
        Kind::Endpoints => put(&mut store.endpoints, obj, |o| &o.metadata),
        Kind::EndpointSlice => put(&mut store.slices, obj, |o| &o.metadata),
        Kind::Ingress => put(&mut store.ingresses, obj, |o| &o.metadata),
        Kind::Node => put(&mut store.nodes, obj, |o| &o.metadata),
        Kind::Namespace => put(&mut store.namespaces, obj, |o| &o.metadata),
        Kind::ReplicaSet => put(&mut store.replica_sets, obj, |o| &o.metadata),
        Kind::Job => put(&mut store.jobs, obj, |o| &o.metadata),
    }
}

/// Removes an object (found by the metadata of its last state).
pub(crate) fn delete(store: &mut Store, kind: Kind, obj: &Value) {
    let Ok(m) = Meta::deserialize(obj) else {
        return;
    };
    let k = key(&m.metadata);
    match kind {
        Kind::Pod => drop(store.pods.remove(&k)),
        Kind::Service => drop(store.services.remove(&k)),
        Kind::Endpoints => drop(store.endpoints.remove(&k)),
        Kind::EndpointSlice => drop(store.slices.remove(&k)),
        Kind::Ingress => drop(store.ingresses.remove(&k)),
        Kind::Node => drop(store.nodes.remove(&k)),
        Kind::Namespace => drop(store.namespaces.remove(&k)),
        Kind::ReplicaSet => drop(store.replica_sets.remove(&k)),
        Kind::Job => drop(store.jobs.remove(&k)),
    }
}

/// A list response.
#[derive(Deserialize)]
struct List {
    #[serde(default)]
    metadata: ListMeta,
    #[serde(default)]
    items: Option<Vec<Value>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ListMeta {
    resource_version: String,
    #[serde(rename = "continue")]
    cont: String,
}

/// One watch event.
#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    object: Value,
}

/// Why a watch stopped.
enum WatchEnd {
    /// Ended normally (timeout, closed): resume from the last version.
    Resume,
    /// The version is too old: list again.
    Gone,
}

const USER_AGENT: &str = concat!("Ember/", env!("CARGO_PKG_VERSION"));
/// Watch responses can be large (a whole object per line); more than this on
/// one line is refused rather than held.
const MAX_LINE: usize = 64 << 20;

/// Follows `w` until the provider's task stops listening.
pub(crate) async fn run(
    http: HttpClient,
    base: String,
    w: Watch,
    index: usize,
    tx: mpsc::Sender<Change>,
) {
    let mut backoff = Backoff::default();
    'list: loop {
        let mut rv = match list(&http, &base, &w).await {
            Ok((items, rv)) => {
                if tx.send(Change::Listed(index, items)).await.is_err() {
                    return;
                }
                backoff.reset();
                rv
            }
            Err(e) => {
                tracing::error!(url = %w.url(&base, &[]), err = %e, "Kubernetes SD: list failed");
                backoff.wait().await;
                continue;
            }
        };
        loop {
            match watch(&http, &base, &w, &mut rv, &tx, &mut backoff).await {
                Ok(WatchEnd::Resume) => {}
                Ok(WatchEnd::Gone) => continue 'list,
                Err(e) => {
                    if tx.is_closed() {
                        return;
                    }
                    tracing::warn!(url = %w.url(&base, &[]), err = %e, "Kubernetes SD: watch failed");
                    backoff.wait().await;
                }
            }
            if tx.is_closed() {
                return;
            }
        }
    }
}

fn headers() -> [(&'static str, String); 2] {
    [
        ("Accept", "application/json".into()),
        ("User-Agent", USER_AGENT.into()),
    ]
}

/// Every object of the collection, and the version to watch from.
async fn list(
    http: &HttpClient,
    base: &str,
    w: &Watch,
) -> Result<(Vec<Value>, String), KubernetesError> {
    let mut items = Vec::new();
    let mut cont = String::new();
    loop {
        let mut params = vec![("limit", "500")];
        if !cont.is_empty() {
            params.push(("continue", cont.as_str()));
        }
        let url = w.url(base, &params);
        let r = http
            .get(&url, &headers(), Duration::from_secs(60), 0)
            .await?;
        let page: List =
            serde_json::from_slice(&r.body).map_err(|e| KubernetesError::Decode(e.to_string()))?;
        items.extend(page.items.unwrap_or_default());
        if page.metadata.cont.is_empty() {
            return Ok((items, page.metadata.resource_version));
        }
        cont = page.metadata.cont;
    }
}

/// One WATCH request, its events reported until it ends.
async fn watch(
    http: &HttpClient,
    base: &str,
    w: &Watch,
    rv: &mut String,
    tx: &mpsc::Sender<Change>,
    backoff: &mut Backoff,
) -> Result<WatchEnd, KubernetesError> {
    let timeout = 300 + jitter(300);
    let ts = timeout.to_string();
    let url = w.url(
        base,
        &[
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", rv.as_str()),
            ("timeoutSeconds", &ts),
            ("watch", "true"),
        ],
    );
    let mut stream = http
        .get_stream(&url, &headers(), Duration::from_secs(30))
        .await?;
    if stream.status == 410 {
        return Ok(WatchEnd::Gone);
    }
    if !(200..300).contains(&stream.status) {
        let body = stream.rest(4096).await;
        return Err(KubernetesError::Status {
            code: stream.status,
            message: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    // The server ends the watch after `timeoutSeconds`; silence well past that
    // means the connection is gone without a word.
    let idle = Duration::from_secs(timeout + 60);
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let chunk = match tokio::time::timeout(idle, stream.chunk()).await {
            Err(_) => return Ok(WatchEnd::Resume),
            Ok(None) => return Ok(WatchEnd::Resume),
            Ok(Some(c)) => c?,
        };
        buf.extend_from_slice(&chunk);
        while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let ev: Event = serde_json::from_slice(&line)
                .map_err(|e| KubernetesError::Decode(e.to_string()))?;
            if let Some(end) = event(ev, w.kind, rv, tx).await? {
                return Ok(end);
            }
            backoff.reset();
        }
        if buf.len() > MAX_LINE {
            return Err(KubernetesError::Decode("watch event too large".into()));
        }
    }
}

/// Handles one event; `Some` when the watch must stop.
async fn event(
    ev: Event,
    kind: Kind,
    rv: &mut String,
    tx: &mpsc::Sender<Change>,
) -> Result<Option<WatchEnd>, KubernetesError> {
    let version = ev.object["metadata"]["resourceVersion"]
        .as_str()
        .map(str::to_string);
    let change = match ev.kind.as_str() {
        "ADDED" | "MODIFIED" => Change::Upsert(kind, ev.object),
        "DELETED" => Change::Delete(kind, ev.object),
        "BOOKMARK" => {
            if let Some(v) = version {
                *rv = v;
            }
            return Ok(None);
        }
        "ERROR" => {
            let code = ev.object["code"].as_u64().unwrap_or(0);
            if code == 410 {
                return Ok(Some(WatchEnd::Gone));
            }
            return Err(KubernetesError::Status {
                code: u16::try_from(code).unwrap_or(0),
                message: ev.object["message"].as_str().unwrap_or("").to_string(),
            });
        }
        other => {
            return Err(KubernetesError::Decode(format!(
                "unknown watch event type {other:?}"
            )));
        }
    };
    if let Some(v) = version {
        *rv = v;
    }
    if tx.send(change).await.is_err() {
        // Nobody listens any more; `run` sees the closed channel and stops.
        return Ok(Some(WatchEnd::Resume));
    }
    Ok(None)
}

/// 0..n from the clock's nanoseconds: enough to spread reconnections.
fn jitter(n: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    u64::from(nanos) % n.max(1)
}

/// 1 s doubling to 30 s, back to 1 s after a success.
struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Backoff(Duration::from_secs(1))
    }
}

impl Backoff {
    fn reset(&mut self) {
        self.0 = Duration::from_secs(1);
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(Duration::from_secs(30));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_namespace_and_selectors() {
        let w = Watch {
            kind: Kind::EndpointSlice,
            namespace: "team-a".into(),
            label: "app=web,tier!=db".into(),
            field: "metadata.name=x".into(),
        };
        assert_eq!(
            w.url("https://k:6443", &[("limit", "500")]),
            "https://k:6443/apis/discovery.k8s.io/v1/namespaces/team-a/endpointslices?limit=500&labelSelector=app%3Dweb%2Ctier%21%3Ddb&fieldSelector=metadata.name%3Dx"
        );
        let w = Watch {
            kind: Kind::Pod,
            namespace: String::new(),
            label: String::new(),
            field: String::new(),
        };
        assert_eq!(w.url("http://k", &[]), "http://k/api/v1/pods");
        assert_eq!(Kind::Node.path(""), "/api/v1/nodes");
        assert_eq!(
            Kind::Ingress.path("x"),
            "/apis/networking.k8s.io/v1/namespaces/x/ingresses"
        );
    }
}
