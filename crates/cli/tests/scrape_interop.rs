//! Ember and Debian's `prometheus` scrape the same real targets with the same
//! configuration — Debian's `prometheus-node-exporter`, Debian's
//! `prometheus-pushgateway` (with a pushed group, `honor_labels: true`), and each
//! other — and after several scrapes must agree on target health and labels, on the
//! series and metric names of the exporters, and on instant queries (exactly where
//! the value cannot move between two scrapes, within scrape-time noise elsewhere).

mod common;

use common::{
    Kill, free_port, get, have_binary, have_prometheus, request, start_ember, start_prometheus,
    wait_ready,
};
use serde_json::Value as J;
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn json(port: u16, path: &str) -> J {
    let (code, body) = get(port, path).unwrap_or_else(|| panic!("no answer on {port}{path}"));
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

fn spawn(bin: &str, port: u16, extra: &[&str]) -> Kill {
    let k = Kill(
        Command::new(bin)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{bin}: {e}")),
    );
    let t = Instant::now();
    while get(port, "/metrics").is_none() {
        assert!(t.elapsed() < Duration::from_secs(20), "{bin} did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    k
}

/// (scrapePool, scrapeUrl) → (health, labels) of the active targets.
fn targets(port: u16) -> BTreeMap<(String, String), (String, J)> {
    let v = json(port, "/api/v1/targets?state=active");
    v["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                (
                    t["scrapePool"].as_str().unwrap().to_string(),
                    t["scrapeUrl"].as_str().unwrap().to_string(),
                ),
                (
                    t["health"].as_str().unwrap().to_string(),
                    t["labels"].clone(),
                ),
            )
        })
        .collect()
}

/// A label set as text, with `le` and `quantile` values compared as numbers:
/// Prometheus 3.x (which Ember follows) writes `quantile="0"` from the text format
/// as `"0.0"`, 2.42 keeps it as scraped.
fn labels_key(m: &J) -> String {
    let mut m = m.clone();
    if let Some(o) = m.as_object_mut() {
        for k in ["le", "quantile"] {
            if let Some(f) = o
                .get(k)
                .and_then(J::as_str)
                .and_then(|v| v.parse::<f64>().ok())
            {
                o.insert(k.into(), J::String(format!("{f}")));
            }
        }
    }
    m.to_string()
}

fn series(port: u16, selector: &str) -> BTreeSet<String> {
    let v = json(port, &format!("/api/v1/series?match[]={selector}"));
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(labels_key)
        .collect()
}

/// The instant vector of `q` as labels → value.
fn query(port: u16, q: &str) -> BTreeMap<String, f64> {
    let v = json(port, &format!("/api/v1/query?query={q}"));
    v["data"]["result"]
        .as_array()
        .unwrap_or_else(|| panic!("{q}: {v}"))
        .iter()
        .map(|s| {
            (
                labels_key(&s["metric"]),
                s["value"][1].as_str().unwrap().parse::<f64>().unwrap(),
            )
        })
        .collect()
}

#[test]
fn same_targets_same_answers_as_prometheus() {
    if !have_prometheus()
        || !have_binary("prometheus-node-exporter")
        || !have_binary("prometheus-pushgateway")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (np, gp, pp, ep) = (free_port(), free_port(), free_port(), free_port());
    let _node = spawn("prometheus-node-exporter", np, &[]);
    let _gw = spawn(
        "prometheus-pushgateway",
        gp,
        &[&format!(
            "--persistence.file={}",
            dir.path().join("pgw").display()
        )],
    );
    let pushed = "# TYPE batch_records_total counter\nbatch_records_total{stage=\"load\"} 1234\n# TYPE batch_last_success_seconds gauge\nbatch_last_success_seconds 1.7e9\n";
    let (code, _) = request(
        gp,
        "PUT",
        "/metrics/job/nightly/instance/db1",
        &[],
        pushed.as_bytes(),
    )
    .unwrap();
    assert!(code == 200 || code == 202, "push: {code}");
    let config = [
        "global:".to_string(),
        "  scrape_interval: 1s".into(),
        "  scrape_timeout: 1s".into(),
        "scrape_configs:".into(),
        "  - job_name: node".into(),
        format!("    static_configs: [{{targets: ['127.0.0.1:{np}']}}]"),
        "  - job_name: pushgateway".into(),
        "    honor_labels: true".into(),
        format!("    static_configs: [{{targets: ['127.0.0.1:{gp}']}}]"),
        "  - job_name: prometheus".into(),
        format!("    static_configs: [{{targets: ['127.0.0.1:{pp}']}}]"),
        "  - job_name: ember".into(),
        format!("    static_configs: [{{targets: ['127.0.0.1:{ep}']}}]"),
        "    metric_relabel_configs:".into(),
        "      - {source_labels: [__name__], regex: 'go_.*', action: drop}".into(),
        String::new(),
    ]
    .join("\n");
    let _prom = start_prometheus(dir.path(), &config, pp);
    wait_ready(pp);
    let _ember = start_ember(dir.path(), &config, ep, &[]);
    // Every target up on both, then a few more scrapes.
    let t = Instant::now();
    loop {
        let (a, b) = (query(ep, "up"), query(pp, "up"));
        if a.len() == 4 && b.len() == 4 && a.values().chain(b.values()).all(|v| *v == 1.0) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "not all up: {a:?} / {b:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_secs(4));

    // Targets: the same pools, URLs, health and labels.
    let (ours, theirs) = (targets(ep), targets(pp));
    assert_eq!(ours, theirs);
    assert_eq!(ours.len(), 4);

    // Scrape pools, and the targets API's filters.
    assert_eq!(
        json(ep, "/api/v1/scrape_pools"),
        json(pp, "/api/v1/scrape_pools")
    );
    for q in [
        "scrapePool=node&state=active",
        "state=dropped",
        "scrapePool=nope",
    ] {
        let strip = |mut v: J| {
            // 3.x adds droppedTargetCounts; volatile fields differ between servers.
            v["data"]
                .as_object_mut()
                .map(|o| o.remove("droppedTargetCounts"));
            for t in v["data"]["activeTargets"]
                .as_array_mut()
                .into_iter()
                .flatten()
            {
                for k in ["lastScrape", "lastScrapeDuration", "globalUrl"] {
                    t.as_object_mut().map(|o| o.remove(k));
                }
            }
            v
        };
        let path = format!("/api/v1/targets?{q}");
        assert_eq!(strip(json(ep, &path)), strip(json(pp, &path)), "{path}");
    }

    // The exporters' series and metric names, exactly (both scrape the same
    // processes; the synthetic series included).
    for sel in [
        "%7Bjob%3D%22node%22%7D",
        "%7Bjob%3D%22nightly%22%7D",
        "%7Bjob%3D%22pushgateway%22%7D",
        "%7B__name__%3D~%22up%7Cscrape_.%2A%22%7D",
    ] {
        let (a, b) = (series(ep, sel), series(pp, sel));
        assert!(!a.is_empty(), "{sel}: nothing");
        let only_ours: Vec<_> = a.difference(&b).take(5).collect();
        let only_theirs: Vec<_> = b.difference(&a).take(5).collect();
        assert!(
            only_ours.is_empty() && only_theirs.is_empty(),
            "{sel}: only in Ember {only_ours:?}, only in Prometheus {only_theirs:?} ({} vs {})",
            a.len(),
            b.len()
        );
    }
    let names = |port| {
        json(
            port,
            "/api/v1/label/__name__/values?match[]=%7Bjob%3D~%22node%7Cpushgateway%7Cnightly%22%7D",
        )["data"]
            .clone()
    };
    assert_eq!(names(ep), names(pp));

    // Instant queries. Exact where nothing moves between scrapes.
    for q in [
        "up",
        "count%20by%20(job)(%7Bjob%3D~%22node%7Cpushgateway%7Cnightly%22%7D)",
        "batch_records_total",
        "node_memory_MemTotal_bytes",
        "count(node_cpu_seconds_total)",
        "scrape_samples_post_metric_relabeling%7Bjob%3D~%22node%7Cpushgateway%22%7D",
    ] {
        assert_eq!(query(ep, q), query(pp, q), "{q}");
    }
    // Within scrape-time noise: counters that move between the two servers' scrapes.
    for q in [
        "sum(node_cpu_seconds_total)",
        "sum(node_network_receive_bytes_total)",
        // Not the servers' own jobs: their expositions grow with the API requests
        // this test makes (new handler series), at different moments on each side.
        "sum%20by%20(job)(scrape_samples_scraped%7Bjob%3D~%22node%7Cpushgateway%22%7D)",
    ] {
        let (a, b) = (query(ep, q), query(pp, q));
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{q}"
        );
        for (k, x) in &a {
            let y = b[k];
            let tol = (y.abs() * 0.05).max(1.0);
            assert!((x - y).abs() <= tol, "{q} {k}: Ember {x}, Prometheus {y}");
        }
    }
}

/// (scrapeUrl → (health, lastError)) of a pool once every target was tried.
fn pool_state(port: u16, pool: &str) -> BTreeMap<String, (String, String)> {
    let t = Instant::now();
    loop {
        let v = json(port, "/api/v1/targets?state=active");
        let m: BTreeMap<String, (String, String)> = v["data"]["activeTargets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["scrapePool"] == pool && t["health"] != "unknown")
            .map(|t| {
                (
                    t["scrapeUrl"].as_str().unwrap().to_string(),
                    (
                        t["health"].as_str().unwrap().to_string(),
                        t["lastError"].as_str().unwrap().to_string(),
                    ),
                )
            })
            .collect();
        if m.len() == 2 {
            return m;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "{pool}: {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn target_limit_fails_the_whole_pool_like_prometheus() {
    if !have_prometheus() {
        return;
    }
    let (a, b) = (
        common::serve_exposition("text/plain; version=0.0.4", "x 1\n"),
        common::serve_exposition("text/plain; version=0.0.4", "x 2\n"),
    );
    let dir = tempfile::tempdir().unwrap();
    let (pp, ep) = (free_port(), free_port());
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: limited\n    target_limit: 1\n    static_configs: [{{targets: ['127.0.0.1:{a}', '127.0.0.1:{b}']}}]\n"
    );
    let _prom = start_prometheus(dir.path(), &config, pp);
    wait_ready(pp);
    let _ember = start_ember(dir.path(), &config, ep, &[]);
    let (ours, theirs) = (pool_state(ep, "limited"), pool_state(pp, "limited"));
    assert_eq!(ours, theirs);
    assert!(
        ours.values()
            .all(|(h, e)| h == "down"
                && e == "target_limit exceeded (number of targets: 2, limit: 1)"),
        "{ours:?}"
    );
    // Nothing was scraped from either target.
    assert_eq!(query(ep, "x"), BTreeMap::new());
}
