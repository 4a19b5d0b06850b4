//! Consul service discovery: `ember server` watches a fake Consul (served by
//! this test on loopback: `/v1/agent/self`, `/v1/catalog/services` and
//! `/v1/health/service/<name>`, with `X-Consul-Index`, `node-meta` and `tag`
//! filtering, and blocking queries held until the catalog changes) through five
//! `consul_sd_configs` jobs — every service; a `services` list (watched directly,
//! one name never registered); a `tags` filter; `node_meta`; another
//! `tag_separator` with a fixed `datacenter` — and must show, per job in
//! `/api/v1/targets?state=any`, the `__address__` and `__meta_consul_*` labels
//! written here from Prometheus's documented labels, before and after the catalog
//! changes (an instance added, a service removed, a check turned critical).
//!
//! Prometheus is the oracle too where its build has Consul SD: then both servers
//! must show the same full `discoveredLabels`. Debian's 2.42 is built without it
//! (its changelog: "Disable Consul SD until its Debian package is back in
//! shape"), so there the Prometheus half is skipped with a notice.
//! Prometheus 2.42 and 3.x build the same `__meta_consul_*` labels (only the
//! `filter`, `health_filter` and `path_prefix` settings are new), so nothing
//! would be excluded from that comparison.

mod common;

use common::{Kill, free_port, get, have_prometheus, start_ember, start_prometheus, wait_ready};
use serde_json::{Value as J, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// One registered service instance of the fake catalog.
#[derive(Clone)]
struct Instance {
    service: &'static str,
    id: &'static str,
    node: &'static str,
    node_address: &'static str,
    node_meta: &'static [(&'static str, &'static str)],
    address: &'static str,
    port: u16,
    tags: &'static [&'static str],
    meta: &'static [(&'static str, &'static str)],
    status: &'static str,
}

impl Instance {
    fn has_node_meta(&self, wanted: &[(String, String)]) -> bool {
        wanted
            .iter()
            .all(|(k, v)| self.node_meta.iter().any(|(a, b)| a == k && b == v))
    }

    /// The instance as `/v1/health/service` lists it.
    fn entry(&self) -> J {
        let map = |kv: &[(&str, &str)]| -> J {
            kv.iter()
                .map(|(k, v)| (k.to_string(), J::from(*v)))
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        json!({
            "Node": {
                "ID": format!("id-{}", self.node),
                "Node": self.node,
                "Address": self.node_address,
                "Datacenter": "dc1",
                "TaggedAddresses": {"lan": self.node_address, "wan": "192.0.2.10"},
                "Meta": map(self.node_meta),
            },
            "Service": {
                "ID": self.id,
                "Service": self.service,
                "Tags": self.tags,
                "Address": self.address,
                "Meta": map(self.meta),
                "Port": self.port,
            },
            "Checks": [
                {"Node": self.node, "CheckID": "serfHealth", "Status": "passing"},
                {"Node": self.node, "CheckID": format!("service:{}", self.id), "Status": self.status},
            ],
        })
    }
}

/// The fake catalog: a Raft-like index bumped on every change, and instances.
#[derive(Default)]
struct State {
    index: u64,
    instances: Vec<Instance>,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

/// Query parameters of a request target, decoded as forms are.
fn params(query: &str) -> Vec<(String, String)> {
    let dec = |s: &str| {
        let s = s.replace('+', " ");
        let mut out = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%'
                && let Some(v) = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
            out.push(b[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (dec(k), dec(v))
        })
        .collect()
}

/// The body answering `path` with `q` in `st`.
fn answer(st: &State, path: &str, q: &[(String, String)]) -> (u16, String) {
    let node_meta: Vec<(String, String)> = q
        .iter()
        .filter(|(k, _)| k == "node-meta")
        .filter_map(|(_, v)| v.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if path == "/v1/agent/self" {
        return (200, json!({"Config": {"Datacenter": "dc1"}}).to_string());
    }
    if path == "/v1/catalog/services" {
        let mut m: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for i in st.instances.iter().filter(|i| i.has_node_meta(&node_meta)) {
            let tags = m.entry(i.service).or_default();
            for t in i.tags {
                if !tags.contains(t) {
                    tags.push(t);
                }
            }
        }
        return (200, serde_json::to_string(&m).unwrap());
    }
    if let Some(name) = path.strip_prefix("/v1/health/service/") {
        let tags: Vec<&str> = q
            .iter()
            .filter(|(k, _)| k == "tag")
            .map(|(_, v)| v.as_str())
            .collect();
        let entries: Vec<J> = st
            .instances
            .iter()
            .filter(|i| i.service == name && i.has_node_meta(&node_meta))
            .filter(|i| tags.iter().all(|t| i.tags.contains(t)))
            .map(Instance::entry)
            .collect();
        return (200, J::from(entries).to_string());
    }
    (404, "not found".into())
}

/// Serves the fake Consul on a free loopback port, a thread per keep-alive
/// connection. A query whose `index` is the current one is held until the index
/// moves or 5 s pass (then answered unchanged, as a timed-out blocking query).
fn serve_consul(state: Shared) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let state = state.clone();
            std::thread::spawn(move || {
                let Ok(read) = conn.try_clone() else { return };
                let mut r = BufReader::new(read);
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        if h == "\r\n" || h == "\n" {
                            break;
                        }
                    }
                    let target = line.split(' ').nth(1).unwrap_or("").to_string();
                    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                    let q = params(query);
                    let from: Option<u64> = q
                        .iter()
                        .find(|(k, _)| k == "index")
                        .and_then(|(_, v)| v.parse().ok());
                    let (lock, cv) = &*state;
                    let mut st = lock.lock().unwrap();
                    let deadline = Instant::now() + Duration::from_secs(5);
                    while from == Some(st.index) {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        st = cv.wait_timeout(st, left).unwrap().0;
                    }
                    let (code, body) = answer(&st, path, &q);
                    let index = st.index;
                    drop(st);
                    let _ = write!(
                        conn,
                        "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nX-Consul-Index: {index}\r\n\
                         X-Consul-LastContact: 0\r\nX-Consul-KnownLeader: true\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                }
            });
        }
    });
    port
}

fn change(state: &Shared, f: impl FnOnce(&mut Vec<Instance>)) {
    let (lock, cv) = &**state;
    let mut st = lock.lock().unwrap();
    f(&mut st.instances);
    st.index += 1;
    cv.notify_all();
}

const WEB1: Instance = Instance {
    service: "web",
    id: "web-1",
    node: "node-a",
    node_address: "127.0.0.1",
    node_meta: &[("rack", "r1"), ("os-family", "linux")],
    address: "",
    port: 1,
    tags: &["prod", "v1"],
    meta: &[("version", "1.0"), ("git.sha", "abc")],
    status: "passing",
};
const WEB2: Instance = Instance {
    service: "web",
    id: "web-2",
    node: "node-b",
    node_address: "127.0.0.2",
    node_meta: &[("rack", "r2")],
    address: "127.0.0.20",
    port: 2,
    tags: &["prod"],
    meta: &[],
    status: "warning",
};
const DB1: Instance = Instance {
    service: "db",
    id: "db-1",
    node: "node-a",
    node_address: "127.0.0.1",
    node_meta: &[("rack", "r1"), ("os-family", "linux")],
    address: "",
    port: 3,
    tags: &[],
    meta: &[("role", "primary")],
    status: "passing",
};
const CACHE1: Instance = Instance {
    service: "cache",
    id: "cache-1",
    node: "node-b",
    node_address: "127.0.0.2",
    node_meta: &[("rack", "r2")],
    address: "",
    port: 4,
    tags: &["prod", "v2"],
    meta: &[],
    status: "passing",
};
const WEB3: Instance = Instance {
    service: "web",
    id: "web-3",
    node: "node-c",
    node_address: "127.0.0.3",
    node_meta: &[("rack", "r1")],
    address: "",
    port: 5,
    tags: &["prod", "v3"],
    meta: &[],
    status: "passing",
};

const JOBS: [&str; 5] = ["all", "named", "tagged", "rack", "separator"];

fn config(consul: u16) -> String {
    let sd = |extra: &str| {
        format!(
            "    consul_sd_configs:\n      - server: 127.0.0.1:{consul}\n        refresh_interval: 1s\n{extra}"
        )
    };
    let job = |name: &str, extra: &str| {
        format!(
            "  - job_name: {name}\n    scrape_interval: 1h\n    scrape_timeout: 10s\n{}",
            sd(extra)
        )
    };
    [
        "global:\n  scrape_interval: 1h\nscrape_configs:\n".to_string(),
        job("all", ""),
        job("named", "        services: [web, db, never]\n"),
        job("tagged", "        tags: [prod]\n"),
        job("rack", "        node_meta:\n          rack: r1\n"),
        job(
            "separator",
            "        tag_separator: ';'\n        datacenter: dc9\n        services: [web]\n",
        ),
    ]
    .concat()
}

/// Every job's `discoveredLabels` (active and dropped), each job's list sorted.
fn discovered(port: u16) -> BTreeMap<String, Vec<BTreeMap<String, String>>> {
    let (code, body) = get(port, "/api/v1/targets?state=any").expect("targets answer");
    assert_eq!(code, 200, "{body}");
    let v: J = serde_json::from_str(&body).expect("targets JSON");
    let mut out: BTreeMap<String, Vec<BTreeMap<String, String>>> =
        JOBS.iter().map(|j| (j.to_string(), Vec::new())).collect();
    for kind in ["activeTargets", "droppedTargets"] {
        for t in v["data"][kind].as_array().into_iter().flatten() {
            let pool = t["scrapePool"].as_str().unwrap_or("").to_string();
            let labels: BTreeMap<String, String> = t["discoveredLabels"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect();
            out.entry(pool).or_default().push(labels);
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

type Picture = BTreeMap<String, Vec<BTreeMap<String, String>>>;

/// What a job's `consul_sd_configs` selects, as the jobs of [`config`] say.
struct Selection {
    services: &'static [&'static str],
    tags: &'static [&'static str],
    rack: Option<&'static str>,
    separator: &'static str,
    dc: &'static str,
}

fn selection(job: &str) -> Selection {
    let all = Selection {
        services: &[],
        tags: &[],
        rack: None,
        separator: ",",
        dc: "dc1",
    };
    match job {
        "named" => Selection {
            services: &["web", "db", "never"],
            ..all
        },
        "tagged" => Selection {
            tags: &["prod"],
            ..all
        },
        "rack" => Selection {
            rack: Some("r1"),
            ..all
        },
        "separator" => Selection {
            services: &["web"],
            separator: ";",
            dc: "dc9",
            ..all
        },
        _ => all,
    }
}

/// The `__address__` and `__meta_consul_*` labels each job must show for the
/// catalog `instances`, written from the labels Prometheus documents (node
/// metadata and tagged addresses of the node, service metadata, the tags with the
/// separator at both ends, the worst check as health, empty values absent).
fn expected(instances: &[Instance]) -> Picture {
    let mut out = Picture::new();
    for job in JOBS {
        let sel = selection(job);
        let mut v: Vec<BTreeMap<String, String>> = instances
            .iter()
            .filter(|i| sel.services.is_empty() || sel.services.contains(&i.service))
            .filter(|i| sel.tags.iter().all(|t| i.tags.contains(t)))
            .filter(|i| sel.rack.is_none_or(|r| i.node_meta.contains(&("rack", r))))
            .map(|i| {
                let host = if i.address.is_empty() {
                    i.node_address
                } else {
                    i.address
                };
                let mut l: BTreeMap<String, String> = [
                    ("__address__", format!("{host}:{}", i.port)),
                    ("__meta_consul_address", i.node_address.into()),
                    ("__meta_consul_dc", sel.dc.into()),
                    ("__meta_consul_health", i.status.into()),
                    ("__meta_consul_node", i.node.into()),
                    ("__meta_consul_service", i.service.into()),
                    ("__meta_consul_service_address", i.address.into()),
                    ("__meta_consul_service_id", i.id.into()),
                    ("__meta_consul_service_port", i.port.to_string()),
                    ("__meta_consul_tagged_address_lan", i.node_address.into()),
                    ("__meta_consul_tagged_address_wan", "192.0.2.10".into()),
                    (
                        "__meta_consul_tags",
                        format!("{0}{1}{0}", sel.separator, i.tags.join(sel.separator)),
                    ),
                ]
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                for (k, v) in i.node_meta {
                    l.insert(
                        format!("__meta_consul_metadata_{}", k.replace(['-', '.'], "_")),
                        v.to_string(),
                    );
                }
                for (k, v) in i.meta {
                    l.insert(
                        format!(
                            "__meta_consul_service_metadata_{}",
                            k.replace(['-', '.'], "_")
                        ),
                        v.to_string(),
                    );
                }
                l
            })
            .collect();
        v.sort();
        out.insert(job.to_string(), v);
    }
    out
}

/// `d` with only `__address__` and the `__meta_consul_*` labels, after checking
/// that every target carries its job's name.
fn consul_labels(d: &Picture) -> Picture {
    d.iter()
        .map(|(job, targets)| {
            let mut v: Vec<BTreeMap<String, String>> = targets
                .iter()
                .map(|l| {
                    assert_eq!(l.get("job"), Some(job), "job label");
                    l.iter()
                        .filter(|(k, _)| *k == "__address__" || k.starts_with("__meta_consul_"))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .collect();
            v.sort();
            (job.clone(), v)
        })
        .collect()
}

/// Waits until every server shows `want` (Consul labels) and, when Prometheus
/// runs, both show the same full `discoveredLabels`; on timeout fails with the
/// pictures that differ.
fn agree(ember: u16, prom: Option<u16>, what: &str, want: &Picture) -> Picture {
    let t = Instant::now();
    loop {
        let e = discovered(ember);
        let p = prom.map(discovered);
        let ok = consul_labels(&e) == *want
            && p.as_ref()
                .is_none_or(|p| *p == e && consul_labels(p) == *want);
        if ok {
            return e;
        }
        if t.elapsed() > Duration::from_secs(40) {
            let e = consul_labels(&e);
            for job in JOBS {
                if e.get(job) != want.get(job) {
                    eprintln!(
                        "{what}: job {job}\n want: {:#?}\n ember: {:#?}",
                        want.get(job),
                        e.get(job)
                    );
                }
                if let Some(p) = &p
                    && p.get(job).map(|v| v.len()) != e.get(job).map(|v| v.len())
                {
                    eprintln!("{what}: job {job}\n prometheus: {:#?}", p.get(job));
                }
            }
            panic!("{what}: the discovered targets are not the expected ones");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn counts(d: &Picture) -> Vec<usize> {
    JOBS.iter().map(|j| d.get(*j).map_or(0, Vec::len)).collect()
}

/// Whether this `prometheus` was built with Consul SD: Debian's 2.42 is not
/// ("Disable Consul SD until its Debian package is back in shape" in its
/// changelog), and refuses `consul_sd_configs` as an unknown field. Its promtool
/// has the same set of discovery mechanisms, so it tells without a server.
fn prometheus_has_consul(dir: &std::path::Path, config: &str) -> bool {
    let f = dir.join("check.yml");
    std::fs::write(&f, config).unwrap();
    let out = std::process::Command::new("promtool")
        .args(["check", "config"])
        .arg(&f)
        .output();
    match out {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            assert!(
                text.contains("field consul_sd_configs not found"),
                "promtool refuses the configuration for another reason: {text}"
            );
            false
        }
        Err(e) => panic!("promtool (from the prometheus package) does not run: {e}"),
    }
}

#[test]
fn consul_targets_as_documented_and_as_prometheus() {
    let state: Shared = Arc::default();
    change(&state, |v| v.extend([WEB1, WEB2, DB1, CACHE1]));
    let consul = serve_consul(state.clone());
    let cfg = config(consul);
    let dir = tempfile::tempdir().unwrap();

    // Prometheus is the oracle where its build has Consul SD; the expected labels
    // are checked in every case.
    let prom_port = if !have_prometheus() {
        eprintln!("Debian's prometheus is not installed: checking Ember alone");
        None
    } else if !prometheus_has_consul(dir.path(), &cfg) {
        eprintln!("this prometheus is built without Consul SD: checking Ember alone");
        None
    } else {
        Some(free_port())
    };
    let _prom: Option<Kill> = prom_port.map(|p| {
        let k = start_prometheus(dir.path(), &cfg, p);
        wait_ready(p);
        k
    });
    let ep = free_port();
    let _ember: Kill = start_ember(dir.path(), &cfg, ep, &[]);

    let instances = |state: &Shared| state.0.lock().unwrap().instances.clone();
    let want = expected(&instances(&state));
    // all: 4 instances; named: web ×2 + db; tagged: web ×2 + cache;
    // rack r1: web-1 + db-1; separator: web ×2.
    assert_eq!(counts(&want), [4, 3, 3, 2, 2]);
    let first = agree(ep, prom_port, "initial catalog", &want);
    let web1 = first["all"]
        .iter()
        .find(|l| l.get("__meta_consul_service_id").map(String::as_str) == Some("web-1"))
        .expect("web-1 discovered");
    // Spot checks of what the expectation is built on.
    for (k, v) in [
        ("__address__", "127.0.0.1:1"),
        ("__meta_consul_tags", ",prod,v1,"),
        ("__meta_consul_metadata_os_family", "linux"),
        ("__meta_consul_service_metadata_git_sha", "abc"),
    ] {
        assert_eq!(web1.get(k).map(String::as_str), Some(v), "{k}");
    }

    // An instance added, a service removed, a check turned critical.
    change(&state, |v| {
        v.push(WEB3);
        v.retain(|i| i.service != "db");
        for i in v.iter_mut().filter(|i| i.id == "cache-1") {
            i.status = "critical";
        }
    });
    let want = expected(&instances(&state));
    assert_eq!(counts(&want), [4, 3, 4, 2, 3]);
    agree(ep, prom_port, "changed catalog", &want);
}
