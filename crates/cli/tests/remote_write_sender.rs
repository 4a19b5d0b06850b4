//! `remote_write` against real receivers: Ember scrapes a target every second and
//! remote-writes to Debian's `prometheus --web.enable-remote-write-receiver` and to
//! Debian's `victoria-metrics`, the latter started only some seconds after Ember
//! (so its first samples wait in the queue, retried with backoff). Over a fixed
//! past window the raw samples (timestamps and values, per series) must be the
//! same in Ember's own TSDB and in each receiver, with the external labels added
//! (a series' own label winning) and the series a `write_relabel_configs` rule
//! drops absent; Ember's `/metrics` must account for the retries and drops.

mod common;

use common::{Kill, free_port, get, have_binary, have_prometheus, start_ember};
use serde_json::Value as J;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Series (labels without the external ones, as text) → (timestamp ms, value).
type Samples = BTreeMap<String, Vec<(i64, f64)>>;

const METRICS: &str = "metric_a|metric_b|up|scrape_samples_scraped|go_goroutines";

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The labels as text, without `cluster`/`replica` when `strip` (checking then
/// that they are the external labels, or the series' own `cluster`).
fn key(metric: &serde_json::Map<String, J>, strip: bool) -> String {
    let mut out = Vec::new();
    for (k, v) in metric {
        let v = v.as_str().unwrap_or_default();
        if strip && k == "replica" {
            assert_eq!(v, "r1", "{metric:?}");
            continue;
        }
        if strip && k == "cluster" {
            let own = metric.get("__name__").and_then(J::as_str) == Some("metric_b");
            assert_eq!(v, if own { "own" } else { "test" }, "{metric:?}");
            if !own {
                continue;
            }
        }
        out.push(format!("{k}={v}"));
    }
    if strip {
        assert!(
            metric.contains_key("replica"),
            "external labels missing: {metric:?}"
        );
    }
    out.sort();
    out.join(",")
}

/// Raw samples of the last 2 minutes through `/api/v1/query` of a range selector.
fn query_raw(port: u16, strip: bool) -> Samples {
    let q = format!("{{__name__=~\"{METRICS}\"}}[2m]");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let path = format!("/api/v1/query?query={}&time={now:.3}", enc(&q));
    let (code, body) = get(port, &path).unwrap_or_else(|| panic!("no answer on {port}"));
    assert_eq!(code, 200, "{body}");
    let v: J = serde_json::from_str(&body).unwrap();
    let mut out = Samples::new();
    for s in v["data"]["result"].as_array().unwrap() {
        let k = key(s["metric"].as_object().unwrap(), strip);
        let pts = s["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    (p[0].as_f64().unwrap() * 1000.0).round() as i64,
                    p[1].as_str().unwrap().parse::<f64>().unwrap(),
                )
            })
            .collect();
        out.insert(k, pts);
    }
    out
}

/// Raw samples from VictoriaMetrics' `/api/v1/export` (JSON lines).
fn export_vm(port: u16) -> Samples {
    let m = format!("{{__name__=~\"{METRICS}\"}}");
    let path = format!("/api/v1/export?match[]={}", enc(&m));
    let Some((200, body)) = get(port, &path) else {
        return Samples::new();
    };
    let mut out = Samples::new();
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        let v: J = serde_json::from_str(line).unwrap();
        let k = key(v["metric"].as_object().unwrap(), true);
        let ts = v["timestamps"].as_array().unwrap();
        let vals = v["values"].as_array().unwrap();
        let mut pts: Vec<(i64, f64)> = ts
            .iter()
            .zip(vals)
            .map(|(t, x)| (t.as_i64().unwrap(), x.as_f64().unwrap()))
            .collect();
        pts.sort_by_key(|p| p.0);
        out.entry(k).or_default().extend(pts);
    }
    out
}

fn window(s: &Samples, a: i64, b: i64) -> Samples {
    s.iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.iter()
                    .copied()
                    .filter(|(t, _)| *t > a && *t <= b)
                    .collect(),
            )
        })
        .filter(|(_, v): &(String, Vec<(i64, f64)>)| !v.is_empty())
        .collect()
}

fn start_vm(dir: &std::path::Path, port: u16) -> Kill {
    let k = Kill(
        Command::new("victoria-metrics")
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg(format!("-storageDataPath={}", dir.display()))
            .arg("-retentionPeriod=100y")
            .arg("-search.latencyOffset=0s")
            .arg("-search.disableCache")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("victoria-metrics starts"),
    );
    let t = Instant::now();
    while !matches!(get(port, "/health"), Some((200, _))) {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "victoria-metrics did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    k
}

fn metric_value(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
                && labels.iter().all(|x| l.contains(x))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn remote_write_to_prometheus_and_victoria_metrics() {
    if !have_prometheus() || !have_binary("victoria-metrics") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let target = common::serve_exposition(
        "text/plain; version=0.0.4",
        "# TYPE metric_a gauge\nmetric_a 1\nmetric_b{x=\"1\",cluster=\"own\"} 2\ngo_goroutines 7\n",
    );
    let (pport, vport, eport) = (free_port(), free_port(), free_port());
    let pdir = dir.path().join("p");
    std::fs::create_dir_all(&pdir).unwrap();
    let _prom = common::start_prometheus_with(
        &pdir,
        "global: {}\n",
        pport,
        &["--web.enable-remote-write-receiver"],
    );
    common::wait_ready(pport);
    let rw = |name: &str, url: String| {
        format!(
            "  - url: {url}\n    name: {name}\n    queue_config: {{batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 1s}}\n    write_relabel_configs:\n      - {{source_labels: [__name__], regex: 'go_.*', action: drop}}\n"
        )
    };
    let config = format!(
        "global:\n  scrape_interval: 1s\n  external_labels: {{cluster: test, replica: r1}}\nscrape_configs:\n  - job_name: t\n    static_configs: [{{targets: ['127.0.0.1:{target}']}}]\nremote_write:\n{}{}",
        rw("prom", format!("http://127.0.0.1:{pport}/api/v1/write")),
        rw("vm", format!("http://127.0.0.1:{vport}/api/v1/write")),
    );
    let _ember = start_ember(dir.path(), &config, eport, &[]);
    // VictoriaMetrics is down for the first seconds.
    std::thread::sleep(Duration::from_secs(6));
    let _vm = start_vm(&dir.path().join("vm"), vport);
    std::thread::sleep(Duration::from_secs(8));

    // The window: from just after the first scrape to a few scrapes ago, its
    // edges half-way between scrapes.
    let local = query_raw(eport, false);
    let up = local
        .iter()
        .find(|(k, _)| k.starts_with("__name__=up,"))
        .map(|(_, v)| v.clone())
        .expect("Ember scraped");
    assert!(up.len() >= 10, "{} scrapes", up.len());
    let (a, b) = (up[0].0 + 500, up[up.len() - 4].0 + 500);
    let mut expect = window(&local, a, b);
    assert!(
        expect.keys().any(|k| k.contains("go_goroutines")),
        "{expect:?}"
    );
    expect.retain(|k, _| !k.contains("go_goroutines"));
    let per_series: Vec<usize> = expect.values().map(Vec::len).collect();
    assert_eq!(expect.len(), 4, "{:?}", expect.keys());
    assert!(per_series.iter().all(|n| *n >= 6), "{per_series:?}");

    let t = Instant::now();
    let (mut prom, mut vm);
    loop {
        prom = window(&query_raw(pport, true), a, b);
        vm = window(&export_vm(vport), a, b);
        if (prom == expect && vm == expect) || t.elapsed() > Duration::from_secs(20) {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    assert_eq!(prom, expect, "Prometheus receiver");
    assert_eq!(vm, expect, "VictoriaMetrics (down for its first 6s)");
    println!(
        "window {}ms, {} series, samples per series {per_series:?}",
        b - a,
        expect.len()
    );

    let (_, text) = get(eport, "/metrics").unwrap();
    let vm_l = ["remote_name=\"vm\""];
    let sent = metric_value(&text, "prometheus_remote_storage_samples_total", &vm_l);
    let retried = metric_value(
        &text,
        "prometheus_remote_storage_samples_retried_total",
        &vm_l,
    );
    let dropped = metric_value(
        &text,
        "prometheus_remote_storage_samples_dropped_total",
        &["remote_name=\"prom\"", "reason=\"dropped_series\""],
    );
    let failed = metric_value(&text, "prometheus_remote_storage_samples_failed_total", &[]);
    println!("vm: sent {sent} retried {retried}; prom: relabel-dropped {dropped}");
    assert!(retried > 0.0, "{text}");
    assert!(sent > retried, "{text}");
    assert!(dropped >= 10.0, "{text}");
    assert_eq!(failed, 0.0, "{text}");
    assert!(text.contains(
        "prometheus_remote_storage_sent_batch_duration_seconds_bucket{remote_name=\"prom\""
    ));
    assert_eq!(
        metric_value(&text, "prometheus_remote_storage_shards", &vm_l),
        1.0
    );
}
