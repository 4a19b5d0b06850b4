//! Kubernetes service discovery against Debian's `prometheus` (2.42) as the oracle.
//!
//! A fake API server in this test (loopback, free port) serves LIST and WATCH of
//! nodes, pods, services, endpoints, endpoint slices and ingresses in two
//! namespaces, as newline-delimited JSON events on chunked responses, replaying
//! the events a watcher's `resourceVersion` has not seen. Prometheus and
//! `ember server` run jobs of every role against it; the discovered labels of
//! every job's targets must be the same on both, first after the initial lists,
//! then after changes sent through the watches (a pod added, a service deleted,
//! an Endpoints object and an EndpointSlice modified).

mod common;

use common::{free_port, get, have_prometheus, start_ember, start_prometheus, wait_ready};
use serde_json::{Value as J, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// (collection, namespace, name) → object.
type Objects = BTreeMap<(String, String, String), J>;

#[derive(Default)]
struct State {
    objects: Objects,
    version: u64,
    /// Every change: version, collection, namespace, object labels, event line.
    log: Vec<(u64, String, String, J, String)>,
    watchers: Vec<(Watcher, Sender<String>)>,
}

#[derive(Clone)]
struct Watcher {
    collection: String,
    namespace: String,
    selector: Vec<(String, String)>,
}

impl Watcher {
    fn wants(&self, collection: &str, namespace: &str, labels: &J) -> bool {
        self.collection == collection
            && (self.namespace.is_empty() || self.namespace == namespace)
            && self
                .selector
                .iter()
                .all(|(k, v)| labels[k].as_str() == Some(v.as_str()))
    }
}

/// The API group path and kind of a collection.
fn api(collection: &str) -> (&'static str, &'static str) {
    match collection {
        "pods" => ("v1", "Pod"),
        "services" => ("v1", "Service"),
        "endpoints" => ("v1", "Endpoints"),
        "nodes" => ("v1", "Node"),
        "endpointslices" => ("discovery.k8s.io/v1", "EndpointSlice"),
        "ingresses" => ("networking.k8s.io/v1", "Ingress"),
        _ => ("v1", "Unknown"),
    }
}

struct FakeApi {
    state: Arc<Mutex<State>>,
    port: u16,
}

impl FakeApi {
    fn start(objects: &[(&str, J)]) -> FakeApi {
        let state = Arc::new(Mutex::new(State::default()));
        let api = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = l.local_addr().unwrap().port();
            let st = state.clone();
            std::thread::spawn(move || {
                for c in l.incoming().flatten() {
                    let st = st.clone();
                    std::thread::spawn(move || serve(c, &st));
                }
            });
            FakeApi { state, port }
        };
        for (collection, o) in objects {
            api.put(collection, o.clone());
        }
        api
    }

    /// Adds or replaces an object, telling the watchers.
    fn put(&self, collection: &str, mut o: J) {
        let mut st = self.state.lock().unwrap();
        st.version += 1;
        o["metadata"]["resourceVersion"] = json!(st.version.to_string());
        let (ns, name) = meta(&o);
        let kind = if st
            .objects
            .contains_key(&(collection.into(), ns.clone(), name.clone()))
        {
            "MODIFIED"
        } else {
            "ADDED"
        };
        st.objects
            .insert((collection.into(), ns.clone(), name), o.clone());
        event(&mut st, collection, &ns, kind, o);
    }

    fn delete(&self, collection: &str, ns: &str, name: &str) {
        let mut st = self.state.lock().unwrap();
        st.version += 1;
        let mut o = st
            .objects
            .remove(&(collection.into(), ns.into(), name.into()))
            .expect("object to delete");
        o["metadata"]["resourceVersion"] = json!(st.version.to_string());
        event(&mut st, collection, ns, "DELETED", o);
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn meta(o: &J) -> (String, String) {
    let s = |v: &J| v.as_str().unwrap_or("").to_string();
    (s(&o["metadata"]["namespace"]), s(&o["metadata"]["name"]))
}

fn typed(collection: &str, mut o: J) -> J {
    let (version, kind) = api(collection);
    o["apiVersion"] = json!(version);
    o["kind"] = json!(kind);
    o
}

fn event(st: &mut State, collection: &str, ns: &str, kind: &str, o: J) {
    let labels = o["metadata"]["labels"].clone();
    let line = json!({"type": kind, "object": typed(collection, o)}).to_string() + "\n";
    let version = st.version;
    st.log.push((
        version,
        collection.into(),
        ns.into(),
        labels.clone(),
        line.clone(),
    ));
    st.watchers
        .retain(|(w, tx)| !w.wants(collection, ns, &labels) || tx.send(line.clone()).is_ok());
}

/// One connection: `GET /version`, a list, or a watch kept open.
fn serve(mut c: TcpStream, st: &Mutex<State>) {
    let mut head = String::new();
    let mut r = BufReader::new(c.try_clone().unwrap());
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let target = head.split(' ').nth(1).unwrap_or("").to_string();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let params: BTreeMap<String, String> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), decode(v)))
        .collect();
    let reply = |c: &mut TcpStream, code: &str, body: String| {
        let _ = write!(
            c,
            "HTTP/1.1 {code}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    };
    if path == "/version" {
        // Prometheus 2.42 asks before choosing discovery.k8s.io/v1 and
        // networking.k8s.io/v1.
        let v = json!({"major": "1", "minor": "28", "gitVersion": "v1.28.0"});
        return reply(&mut c, "200 OK", v.to_string());
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let rest = match parts.as_slice() {
        ["api", "v1", rest @ ..] => rest,
        ["apis", _, _, rest @ ..] => rest,
        _ => return reply(&mut c, "404 Not Found", "{}".into()),
    };
    let (namespace, collection) = match rest {
        ["namespaces", ns, coll] => (ns.to_string(), coll.to_string()),
        [coll] => (String::new(), coll.to_string()),
        _ => return reply(&mut c, "404 Not Found", "{}".into()),
    };
    let selector: Vec<(String, String)> = params
        .get("labelSelector")
        .map(|s| {
            s.split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let w = Watcher {
        collection: collection.clone(),
        namespace,
        selector,
    };
    if params.get("watch").map(String::as_str) != Some("true") {
        let st = st.lock().unwrap();
        let items: Vec<J> = st
            .objects
            .iter()
            .filter(|((coll, ns, _), o)| w.wants(coll, ns, &o["metadata"]["labels"]))
            .map(|(_, o)| o.clone())
            .collect();
        let (version, kind) = api(&collection);
        let body = json!({
            "apiVersion": version, "kind": format!("{kind}List"),
            "metadata": {"resourceVersion": st.version.to_string()},
            "items": items,
        });
        drop(st);
        return reply(&mut c, "200 OK", body.to_string());
    }
    let since: u64 = params
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let (tx, rx): (Sender<String>, Receiver<String>) = channel();
    {
        let mut st = st.lock().unwrap();
        for (v, coll, ns, labels, line) in &st.log {
            if *v > since && w.wants(coll, ns, labels) {
                let _ = tx.send(line.clone());
            }
        }
        st.watchers.push((w, tx));
    }
    if c.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .is_err()
    {
        return;
    }
    // Until the client goes away (the next write fails) or the test ends.
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(line) => {
                if write!(c, "{:x}\r\n{line}\r\n", line.len()).is_err() {
                    return;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(_) => return,
        }
    }
}

/// Percent-decoding of query values.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len() + 1
            && let Some(h) = s.get(i + 1..i + 3)
            && let Ok(v) = u8::from_str_radix(h, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn node(name: &str, addresses: J, labels: J) -> J {
    json!({
        "metadata": {"name": name, "uid": format!("uid-{name}"), "labels": labels,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
        "spec": {"providerID": format!("kind://docker/{name}")},
        "status": {"addresses": addresses,
            "conditions": [{"type": "Ready", "status": "True"},
                {"type": "DiskPressure", "status": "False"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}
    })
}

fn pod(ns: &str, name: &str, ip: &str, node: &str, app: &str) -> J {
    json!({
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{ns}-{name}"),
            "labels": {"app": app, "app.kubernetes.io/part-of": "shop"},
            "annotations": {"prometheus.io/scrape": "true"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "name": format!("{app}-rs"), "uid": "rs", "controller": true}]},
        "spec": {"nodeName": node,
            "containers": [
                {"name": "app", "image": format!("{app}:1.0"), "ports": [
                    {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                    {"name": "metrics", "containerPort": 9100, "protocol": "TCP"}]},
                {"name": "sidecar", "image": "envoy:1"}],
            "initContainers": [{"name": "migrate", "image": "migrate:1",
                "ports": [{"containerPort": 7000, "protocol": "UDP"}]}]},
        "status": {"phase": "Running", "podIP": ip, "hostIP": "192.168.1.1",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "containerID": format!("containerd://{name}")}],
            "initContainerStatuses": [{"name": "migrate", "containerID": "containerd://init"}]}
    })
}

fn objects() -> Vec<(&'static str, J)> {
    let ep_addr = |ip: &str, pod: Option<(&str, &str)>| match pod {
        Some((ns, name)) => json!({"ip": ip, "nodeName": "n1",
            "targetRef": {"kind": "Pod", "namespace": ns, "name": name}}),
        None => json!({"ip": ip, "hostname": "db-host"}),
    };
    vec![
        (
            "nodes",
            node(
                "n1",
                json!([{"type": "InternalIP", "address": "192.168.1.1"},
                       {"type": "Hostname", "address": "n1"}]),
                json!({"kubernetes.io/os": "linux", "zone": "a"}),
            ),
        ),
        (
            "nodes",
            node(
                "n2",
                json!([{"type": "ExternalIP", "address": "203.0.113.2"}]),
                json!({"kubernetes.io/os": "linux"}),
            ),
        ),
        ("pods", pod("default", "web-1", "10.0.0.5", "n1", "web")),
        ("pods", pod("default", "web-2", "10.0.0.6", "n2", "web")),
        ("pods", {
            let mut p = pod("default", "pending", "", "n1", "web");
            p["status"] = json!({"phase": "Pending"});
            p
        }),
        ("pods", pod("team-a", "db-0", "10.0.1.5", "n2", "db")),
        (
            "services",
            json!({"metadata": {"name": "web", "namespace": "default",
                    "labels": {"app": "web"}, "annotations": {"team": "shop"}},
                "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10",
                    "ports": [{"name": "http", "port": 80, "protocol": "TCP"},
                              {"name": "metrics", "port": 9100, "protocol": "TCP"}]}}),
        ),
        (
            "services",
            json!({"metadata": {"name": "db", "namespace": "team-a"},
                "spec": {"type": "ExternalName", "externalName": "db.example.com",
                    "ports": [{"port": 5432, "protocol": "TCP"}]}}),
        ),
        (
            "services",
            json!({"metadata": {"name": "lb", "namespace": "team-a"},
                "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.20",
                    "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]},
                "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}]}}}),
        ),
        (
            "endpoints",
            json!({"metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
                "subsets": [{
                    "addresses": [ep_addr("10.0.0.5", Some(("default", "web-1"))),
                                  ep_addr("10.0.0.6", Some(("default", "web-2")))],
                    "notReadyAddresses": [ep_addr("10.0.0.99", None)],
                    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]}),
        ),
        (
            "endpoints",
            json!({"metadata": {"name": "db", "namespace": "team-a"},
                "subsets": [{"addresses": [ep_addr("10.0.1.5", None)],
                    "ports": [{"port": 5432, "protocol": "TCP"}]}]}),
        ),
        (
            "endpointslices",
            json!({"metadata": {"name": "web-abc", "namespace": "default",
                    "labels": {"kubernetes.io/service-name": "web",
                               "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
                "addressType": "IPv4",
                "endpoints": [
                    {"addresses": ["10.0.0.5"], "nodeName": "n1", "zone": "zone-a",
                     "hostname": "web-1",
                     "conditions": {"ready": true, "serving": true, "terminating": false},
                     "targetRef": {"kind": "Pod", "namespace": "default", "name": "web-1"}},
                    {"addresses": ["10.0.0.77"], "conditions": {"ready": false}}],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "http"}]}),
        ),
        (
            "endpointslices",
            json!({"metadata": {"name": "db-xyz", "namespace": "team-a"},
                "addressType": "IPv4",
                "endpoints": [{"addresses": ["10.0.1.5"], "conditions": {"ready": true}}],
                "ports": [{"port": 5432, "protocol": "TCP"}]}),
        ),
        (
            "ingresses",
            json!({"metadata": {"name": "site", "namespace": "default",
                    "annotations": {"kubernetes.io/ingress.class": "nginx"}},
                "spec": {"ingressClassName": "nginx",
                    "tls": [{"hosts": ["*.example.com"]}],
                    "rules": [
                        {"host": "shop.example.com", "http": {"paths": [
                            {"path": "/", "pathType": "Prefix", "backend": {}},
                            {"path": "/api", "pathType": "Prefix", "backend": {}}]}},
                        {"host": "other.org", "http": {"paths": [{"pathType": "Prefix", "backend": {}}]}}]}}),
        ),
        (
            "ingresses",
            json!({"metadata": {"name": "plain", "namespace": "team-a", "labels": {"tier": "edge"}},
                "spec": {"rules": [{"host": "plain.team-a.org"}]}}),
        ),
    ]
}

/// Labels Prometheus added after 2.42, left out of the comparison with an
/// oracle of that version (Ember follows 3.x and checks them in `check_first`).
fn newer_than_2_42(name: &str) -> bool {
    // 2.52 "discovery(k8s): add metadata labels to endpointslices" (7704cde4ea).
    name == "__meta_kubernetes_endpointslice_endpoint_node_name"
        || name == "__meta_kubernetes_endpointslice_endpoint_zone"
        // 3.12 "feat(discovery): adding node condition labels" (7260801724).
        || name.starts_with("__meta_kubernetes_node_condition_")
}

/// Job → sorted discovered label sets (empty values dropped: Prometheus 3 keeps
/// none in discovered labels, 2.42 listed them).
fn discovered(port: u16) -> BTreeMap<String, Vec<BTreeMap<String, String>>> {
    let (code, body) = get(port, "/api/v1/targets?state=any").expect("targets API answers");
    assert_eq!(code, 200, "{body}");
    let v: J = serde_json::from_str(&body).unwrap();
    let mut out: BTreeMap<String, Vec<BTreeMap<String, String>>> = BTreeMap::new();
    for key in ["activeTargets", "droppedTargets"] {
        for t in v["data"][key].as_array().into_iter().flatten() {
            let labels: BTreeMap<String, String> = t["discoveredLabels"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .filter(|(_, v)| !v.is_empty())
                .collect();
            let job = labels.get("job").cloned().unwrap_or_default();
            out.entry(job).or_default().push(labels);
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

/// Whether the installed `prometheus` has Kubernetes SD: Debian's 2.42 package is
/// built without it (its config parser rejects `kubernetes_sd_configs`), and then
/// it cannot be the oracle; Ember's labels are still checked against the values
/// written below from Prometheus's documentation.
fn prometheus_has_kubernetes_sd(dir: &std::path::Path, config: &str) -> bool {
    let f = dir.join("probe.yml");
    std::fs::write(&f, config).unwrap();
    let ok = std::process::Command::new("promtool")
        .args(["check", "config", "--syntax-only"])
        .arg(&f)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!(
            "prometheus comparison skipped: the installed prometheus has no kubernetes_sd_configs (Debian builds it without)"
        );
    }
    ok
}

type Discovered = BTreeMap<String, Vec<BTreeMap<String, String>>>;

/// `d` without the labels 2.42 cannot have.
fn comparable(d: &Discovered) -> Discovered {
    d.iter()
        .map(|(job, ts)| {
            let mut ts: Vec<_> = ts
                .iter()
                .map(|t| {
                    t.iter()
                        .filter(|(k, _)| !newer_than_2_42(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .collect();
            ts.sort();
            (job.clone(), ts)
        })
        .collect()
}

fn counts(d: &Discovered, want: &BTreeMap<&str, usize>) -> BTreeMap<String, usize> {
    want.keys()
        .map(|j| (j.to_string(), d.get(*j).map_or(0, Vec::len)))
        .collect()
}

/// Waits until Ember (and Prometheus, if given) show `want` targets per job and
/// agree on every job's discovered labels, and returns Ember's.
fn converge(ember: u16, prom: Option<u16>, want: &BTreeMap<&str, usize>) -> Discovered {
    let want_counts: BTreeMap<String, usize> =
        want.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    let t = Instant::now();
    loop {
        let e = discovered(ember);
        let p = prom.map(discovered);
        if counts(&e, want) == want_counts
            && p.as_ref().is_none_or(|p| comparable(p) == comparable(&e))
        {
            return e;
        }
        if t.elapsed() > Duration::from_secs(60) {
            for job in want.keys() {
                let (e, p) = (comparable(&e), p.as_ref().map(comparable));
                let (a, b) = (e.get(*job), p.as_ref().and_then(|p| p.get(*job)));
                if p.is_some() && a != b {
                    eprintln!("job {job}:\n ember: {a:#?}\n prometheus: {b:#?}");
                }
            }
            panic!(
                "no agreement: ember {:?} prometheus {:?}, want {want:?}",
                counts(&e, want),
                p.as_ref().map(|p| counts(p, want))
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The target of `job` whose `__address__` is `addr` (and `extra` labels).
fn target<'a>(
    d: &'a Discovered,
    job: &str,
    addr: &str,
    extra: &[(&str, &str)],
) -> &'a BTreeMap<String, String> {
    d[job]
        .iter()
        .find(|t| {
            t["__address__"] == addr
                && extra
                    .iter()
                    .all(|(k, v)| t.get(*k).map(String::as_str) == Some(*v))
        })
        .unwrap_or_else(|| panic!("{job}: no target {addr} {extra:?} in {:#?}", d[job]))
}

/// `t`'s `__meta_*` and `__address__`/`instance` labels are exactly `want`.
fn assert_meta(t: &BTreeMap<String, String>, want: &[(&str, &str)]) {
    let got: BTreeMap<&str, &str> = t
        .iter()
        .filter(|(k, _)| k.starts_with("__meta_") || *k == "__address__" || *k == "instance")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let want: BTreeMap<&str, &str> = want.iter().copied().collect();
    assert_eq!(got, want);
}

#[test]
fn kubernetes_sd_matches_prometheus() {
    let api = FakeApi::start(&objects());
    let dir = tempfile::tempdir().unwrap();
    let server = api.url();
    // The meta labels kept as target labels, so that targets with the same
    // address (an ingress host's paths) stay apart and are all listed.
    let job = |name: &str, extra: &str| {
        format!(
            "  - job_name: {name}\n    relabel_configs: [{{action: labelmap, regex: '__meta_kubernetes_(.+)'}}]\n    kubernetes_sd_configs:\n      - api_server: {server}\n{extra}"
        )
    };
    let role = |r: &str| format!("        role: {r}\n");
    let jobs = [
        job("node", &role("node")),
        job("pod", &role("pod")),
        job(
            "pod-team-a",
            &(role("pod") + "        namespaces: {names: [team-a]}\n"),
        ),
        job(
            "pod-web",
            &(role("pod") + "        selectors: [{role: pod, label: app=web}]\n"),
        ),
        job(
            "pod-node",
            &(role("pod") + "        attach_metadata: {node: true}\n"),
        ),
        job("service", &role("service")),
        job("endpoints", &role("endpoints")),
        job("endpointslice", &role("endpointslice")),
        job("ingress", &role("ingress")),
    ];
    let config = format!(
        "global:\n  scrape_interval: 1h\nscrape_configs:\n{}",
        jobs.concat()
    );
    let (pp, ep) = (free_port(), free_port());
    let oracle = have_prometheus() && prometheus_has_kubernetes_sd(dir.path(), &config);
    let _prom = oracle.then(|| {
        let p = start_prometheus(dir.path(), &config, pp);
        wait_ready(pp);
        p
    });
    let prom = oracle.then_some(pp);
    let _ember = start_ember(dir.path(), &config, ep, &[]);

    // Per job: nodes 2; pods: web-1, web-2 4 targets each, db-0 4, pending none;
    // services 2+1+1; endpoints: web 2 ready + 1 not ready + 2×2 other pod ports,
    // db 1; slices: web-abc 2 + 2 other ports of web-1, db-xyz 1; ingress 3+1.
    let mut want = BTreeMap::from([
        ("node", 2),
        ("pod", 12),
        ("pod-team-a", 4),
        ("pod-web", 8),
        ("pod-node", 12),
        ("service", 4),
        ("endpoints", 8),
        ("endpointslice", 5),
        ("ingress", 4),
    ]);
    let d = converge(ep, prom, &want);
    check_first(&d);

    // Changes through the watches.
    api.put("pods", pod("team-a", "db-1", "10.0.1.6", "n1", "db"));
    api.delete("services", "default", "web");
    let mut eps = objects()
        .into_iter()
        .find(|(c, o)| *c == "endpoints" && o["metadata"]["name"] == "web")
        .unwrap()
        .1;
    eps["subsets"][0]["notReadyAddresses"] = json!([{"ip": "10.0.0.98"}, {"ip": "10.0.0.99"}]);
    api.put("endpoints", eps);
    let mut slice = objects()
        .into_iter()
        .find(|(c, o)| *c == "endpointslices" && o["metadata"]["name"] == "db-xyz")
        .unwrap()
        .1;
    slice["endpoints"][0]["conditions"]["ready"] = json!(false);
    api.put("endpointslices", slice);
    want.insert("pod", 16);
    want.insert("pod-team-a", 8);
    want.insert("pod-node", 16);
    want.insert("service", 2);
    want.insert("endpoints", 9);
    let d = converge(ep, prom, &want);
    // The deleted service's labels are gone from its endpoints' and slices'
    // targets; the new pod, the new address and the changed condition are there.
    for job in ["endpoints", "endpointslice"] {
        assert!(
            d[job]
                .iter()
                .all(|t| t["__meta_kubernetes_namespace"] == "team-a"
                    || !t.contains_key("__meta_kubernetes_service_name")),
            "{job}"
        );
    }
    target(&d, "pod-team-a", "10.0.1.6:9100", &[]);
    target(
        &d,
        "endpoints",
        "10.0.0.98:8080",
        &[("__meta_kubernetes_endpoint_ready", "false")],
    );
    target(
        &d,
        "endpointslice",
        "10.0.1.5:5432",
        &[(
            "__meta_kubernetes_endpointslice_endpoint_conditions_ready",
            "false",
        )],
    );
}

/// Ember's labels after the first lists, from Prometheus's documented labels.
fn check_first(d: &Discovered) {
    assert_meta(
        target(d, "node", "192.168.1.1:10250", &[]),
        &[
            ("__address__", "192.168.1.1:10250"),
            ("instance", "n1"),
            ("__meta_kubernetes_node_name", "n1"),
            ("__meta_kubernetes_node_provider_id", "kind://docker/n1"),
            ("__meta_kubernetes_node_address_InternalIP", "192.168.1.1"),
            ("__meta_kubernetes_node_address_Hostname", "n1"),
            ("__meta_kubernetes_node_label_kubernetes_io_os", "linux"),
            (
                "__meta_kubernetes_node_labelpresent_kubernetes_io_os",
                "true",
            ),
            ("__meta_kubernetes_node_label_zone", "a"),
            ("__meta_kubernetes_node_labelpresent_zone", "true"),
            (
                "__meta_kubernetes_node_annotation_node_alpha_kubernetes_io_ttl",
                "0",
            ),
            (
                "__meta_kubernetes_node_annotationpresent_node_alpha_kubernetes_io_ttl",
                "true",
            ),
            ("__meta_kubernetes_node_condition_ready", "true"),
            ("__meta_kubernetes_node_condition_diskpressure", "false"),
        ],
    );
    target(d, "node", "203.0.113.2:10250", &[("instance", "n2")]);
    let pod_meta = |name: &str, ip: &str, node: &str| -> Vec<(String, String)> {
        [
            ("__meta_kubernetes_namespace", "default"),
            ("__meta_kubernetes_pod_name", name),
            ("__meta_kubernetes_pod_ip", ip),
            ("__meta_kubernetes_pod_ready", "true"),
            ("__meta_kubernetes_pod_phase", "Running"),
            ("__meta_kubernetes_pod_node_name", node),
            ("__meta_kubernetes_pod_host_ip", "192.168.1.1"),
            ("__meta_kubernetes_pod_uid", &format!("uid-default-{name}")),
            ("__meta_kubernetes_pod_label_app", "web"),
            ("__meta_kubernetes_pod_labelpresent_app", "true"),
            (
                "__meta_kubernetes_pod_label_app_kubernetes_io_part_of",
                "shop",
            ),
            (
                "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_part_of",
                "true",
            ),
            (
                "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
                "true",
            ),
            (
                "__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape",
                "true",
            ),
            ("__meta_kubernetes_pod_controller_kind", "ReplicaSet"),
            ("__meta_kubernetes_pod_controller_name", "web-rs"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let owned = |base: Vec<(String, String)>, own: &[(&str, &str)]| {
        let mut v = base;
        v.extend(own.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        v
    };
    let check = |t: &BTreeMap<String, String>, v: Vec<(String, String)>| {
        let v: Vec<(&str, &str)> = v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_meta(t, &v);
    };
    check(
        target(d, "pod", "10.0.0.5:8080", &[]),
        owned(
            pod_meta("web-1", "10.0.0.5", "n1"),
            &[
                ("__address__", "10.0.0.5:8080"),
                ("__meta_kubernetes_pod_container_name", "app"),
                ("__meta_kubernetes_pod_container_id", "containerd://web-1"),
                ("__meta_kubernetes_pod_container_image", "web:1.0"),
                ("__meta_kubernetes_pod_container_init", "false"),
                ("__meta_kubernetes_pod_container_port_name", "http"),
                ("__meta_kubernetes_pod_container_port_number", "8080"),
                ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
            ],
        ),
    );
    check(
        target(d, "pod", "10.0.0.5", &[]),
        owned(
            pod_meta("web-1", "10.0.0.5", "n1"),
            &[
                ("__address__", "10.0.0.5"),
                ("__meta_kubernetes_pod_container_name", "sidecar"),
                ("__meta_kubernetes_pod_container_image", "envoy:1"),
                ("__meta_kubernetes_pod_container_init", "false"),
            ],
        ),
    );
    target(
        d,
        "pod",
        "10.0.0.5:7000",
        &[
            ("__meta_kubernetes_pod_container_init", "true"),
            ("__meta_kubernetes_pod_container_id", "containerd://init"),
        ],
    );
    // Selected by namespace and label; node attached.
    assert!(
        d["pod-team-a"]
            .iter()
            .all(|t| t["__meta_kubernetes_namespace"] == "team-a")
    );
    assert!(
        d["pod-web"]
            .iter()
            .all(|t| t["__meta_kubernetes_pod_label_app"] == "web")
    );
    target(
        d,
        "pod-node",
        "10.0.0.5:8080",
        &[
            ("__meta_kubernetes_node_name", "n1"),
            ("__meta_kubernetes_node_label_zone", "a"),
        ],
    );
    let svc_meta = [
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_service_name", "web"),
        ("__meta_kubernetes_service_label_app", "web"),
        ("__meta_kubernetes_service_labelpresent_app", "true"),
        ("__meta_kubernetes_service_annotation_team", "shop"),
        ("__meta_kubernetes_service_annotationpresent_team", "true"),
    ];
    assert_meta(
        target(d, "service", "web.default.svc:80", &[]),
        &[
            &svc_meta[..],
            &[
                ("__address__", "web.default.svc:80"),
                ("__meta_kubernetes_service_port_name", "http"),
                ("__meta_kubernetes_service_port_number", "80"),
                ("__meta_kubernetes_service_port_protocol", "TCP"),
                ("__meta_kubernetes_service_type", "ClusterIP"),
                ("__meta_kubernetes_service_cluster_ip", "10.96.0.10"),
            ],
        ]
        .concat(),
    );
    target(
        d,
        "service",
        "db.team-a.svc:5432",
        &[("__meta_kubernetes_service_external_name", "db.example.com")],
    );
    target(
        d,
        "service",
        "lb.team-a.svc:443",
        &[("__meta_kubernetes_service_loadbalancer_ip", "198.51.100.7")],
    );
    let ep = target(d, "endpoints", "10.0.0.5:8080", &[]);
    let mut want_ep: Vec<(String, String)> = owned(
        pod_meta("web-1", "10.0.0.5", "n1"),
        &[
            &svc_meta[..],
            &[
                ("__address__", "10.0.0.5:8080"),
                ("__meta_kubernetes_endpoints_name", "web"),
                ("__meta_kubernetes_endpoints_label_app", "web"),
                ("__meta_kubernetes_endpoints_labelpresent_app", "true"),
                ("__meta_kubernetes_endpoint_port_name", "http"),
                ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
                ("__meta_kubernetes_endpoint_ready", "true"),
                ("__meta_kubernetes_endpoint_node_name", "n1"),
                ("__meta_kubernetes_endpoint_address_target_kind", "Pod"),
                ("__meta_kubernetes_endpoint_address_target_name", "web-1"),
                ("__meta_kubernetes_pod_container_name", "app"),
                ("__meta_kubernetes_pod_container_image", "web:1.0"),
                ("__meta_kubernetes_pod_container_init", "false"),
                ("__meta_kubernetes_pod_container_port_name", "http"),
                ("__meta_kubernetes_pod_container_port_number", "8080"),
                ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
            ],
        ]
        .concat(),
    );
    want_ep.sort();
    want_ep.dedup();
    check(ep, want_ep);
    target(
        d,
        "endpoints",
        "10.0.0.99:8080",
        &[("__meta_kubernetes_endpoint_ready", "false")],
    );
    target(
        d,
        "endpoints",
        "10.0.0.6:9100",
        &[("__meta_kubernetes_pod_name", "web-2")],
    );
    target(
        d,
        "endpoints",
        "10.0.1.5:5432",
        &[("__meta_kubernetes_endpoint_hostname", "db-host")],
    );
    target(
        d,
        "endpointslice",
        "10.0.0.5:8080",
        &[
            ("__meta_kubernetes_endpointslice_name", "web-abc"),
            ("__meta_kubernetes_endpointslice_address_type", "IPv4"),
            ("__meta_kubernetes_endpointslice_port", "8080"),
            ("__meta_kubernetes_endpointslice_port_app_protocol", "http"),
            (
                "__meta_kubernetes_endpointslice_endpoint_conditions_ready",
                "true",
            ),
            (
                "__meta_kubernetes_endpointslice_endpoint_conditions_serving",
                "true",
            ),
            (
                "__meta_kubernetes_endpointslice_endpoint_conditions_terminating",
                "false",
            ),
            ("__meta_kubernetes_endpointslice_endpoint_zone", "zone-a"),
            ("__meta_kubernetes_endpointslice_endpoint_hostname", "web-1"),
            ("__meta_kubernetes_endpointslice_endpoint_node_name", "n1"),
            ("__meta_kubernetes_endpointslice_address_target_kind", "Pod"),
            ("__meta_kubernetes_service_name", "web"),
            ("__meta_kubernetes_pod_name", "web-1"),
            ("__meta_kubernetes_pod_container_port_name", "http"),
        ],
    );
    target(
        d,
        "endpointslice",
        "10.0.0.77:8080",
        &[(
            "__meta_kubernetes_endpointslice_endpoint_conditions_ready",
            "false",
        )],
    );
    for (host, path, scheme) in [
        ("shop.example.com", "/", "https"),
        ("shop.example.com", "/api", "https"),
        ("other.org", "/", "http"),
    ] {
        let t = target(
            d,
            "ingress",
            host,
            &[("__meta_kubernetes_ingress_path", path)],
        );
        assert_meta(
            t,
            &[
                ("__address__", host),
                ("__meta_kubernetes_namespace", "default"),
                ("__meta_kubernetes_ingress_name", "site"),
                ("__meta_kubernetes_ingress_class_name", "nginx"),
                (
                    "__meta_kubernetes_ingress_annotation_kubernetes_io_ingress_class",
                    "nginx",
                ),
                (
                    "__meta_kubernetes_ingress_annotationpresent_kubernetes_io_ingress_class",
                    "true",
                ),
                ("__meta_kubernetes_ingress_scheme", scheme),
                ("__meta_kubernetes_ingress_host", host),
                ("__meta_kubernetes_ingress_path", path),
            ],
        );
    }
    target(
        d,
        "ingress",
        "plain.team-a.org",
        &[("__meta_kubernetes_ingress_label_tier", "edge")],
    );
}
