//! Exemplar storage against Debian's `prometheus` (2.42, `--enable-feature=exemplar-storage`)
//! as the oracle: both scrape the same OpenMetrics target every second — a counter
//! and histogram buckets whose exemplars change every two seconds, some with their own
//! timestamps and one without — and must give the same `/api/v1/query_exemplars`
//! answers (selectors, a rate over buckets, two selectors, narrower time ranges, GET
//! and POST) and the same errors. Ember is then killed and restarted: the exemplars
//! come back from the WAL. Last, a reload shrinks `max_exemplars` on both, which must
//! keep the same newest exemplars and report the same `prometheus_tsdb_exemplar_*`
//! metrics.

mod common;

use common::{
    Kill, free_port, get, have_prometheus, request, start_ember, start_prometheus_with, wait_ready,
};
use serde_json::Value as J;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The exemplars change every `PERIOD` seconds: generation `g` holds from `g*PERIOD`.
const PERIOD: i64 = 2;

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn generation_now() -> i64 {
    now_secs() as i64 / PERIOD
}

/// The exposition of generation `g`. `req_total{path="a"}` and the buckets carry
/// exemplars with timestamps (`g*PERIOD + 0.25` s); `req_total{path="b"}`'s exemplar
/// has none, so it is stamped with the scrape time and must be stored once per
/// generation however often it is scraped.
fn body(g: i64) -> String {
    let ts = format!("{}.250", g * PERIOD);
    let n = g % 1000;
    format!(
        "# TYPE req counter\n\
         # HELP req Requests.\n\
         req_total{{path=\"a\"}} {a} # {{trace_id=\"a{g}\"}} {n}.5 {ts}\n\
         req_total{{path=\"b\"}} {b} # {{trace_id=\"b{g}\",span_id=\"s{g}\"}} {n}\n\
         # TYPE req_duration_seconds histogram\n\
         # HELP req_duration_seconds Latency.\n\
         req_duration_seconds_bucket{{le=\"0.1\"}} {c1} # {{trace_id=\"h{g}\"}} 0.05 {ts}\n\
         req_duration_seconds_bucket{{le=\"0.5\"}} {c2} # {{trace_id=\"H{g}\"}} 0.{n} {ts}\n\
         req_duration_seconds_bucket{{le=\"+Inf\"}} {c3}\n\
         req_duration_seconds_sum {s}\n\
         req_duration_seconds_count {c3}\n\
         # EOF\n",
        a = n * 10,
        b = n * 3,
        c1 = n,
        c2 = 2 * n,
        c3 = 3 * n,
        s = n as f64 * 0.7,
    )
}

/// The OpenMetrics target: the current generation, or `frozen` once set (>= 0).
fn serve_target(frozen: Arc<AtomicI64>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let frozen = frozen.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let f = frozen.load(Ordering::SeqCst);
                let b = body(if f >= 0 { f } else { generation_now() });
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                    b.len()
                );
            });
        }
    });
    port
}

fn config(target: u16, max: i64) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nstorage:\n  exemplars:\n    max_exemplars: {max}\nscrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
    )
}

/// Status code and parsed body of a GET.
fn answer(port: u16, path: &str) -> (u16, J) {
    let (code, body) = get(port, path).unwrap_or_else(|| panic!("no answer on {port}{path}"));
    if body.is_empty() {
        return (code, J::Null);
    }
    let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
    (code, v)
}

/// As [`answer`], as a form POST.
fn answer_post(port: u16, path: &str, form: &str) -> (u16, J) {
    let (code, body) = request(
        port,
        "POST",
        path,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
    .unwrap_or_else(|| panic!("no answer on {port}{path}"));
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{path}: {e}: {}", String::from_utf8_lossy(&body)));
    (code, v)
}

/// Both answers, asserted equal; returns Ember's.
fn same(ember: u16, prom: u16, path: &str) -> J {
    let e = answer(ember, path);
    let p = answer(prom, path);
    assert_eq!(e, p, "{path}\nember:      {}\nprometheus: {}", e.1, p.1);
    e.1
}

/// Number of exemplars in a `query_exemplars` answer.
fn count(v: &J) -> usize {
    v["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| s["exemplars"].as_array().map_or(0, Vec::len))
                .sum()
        })
        .unwrap_or(0)
}

/// An answer with the timestamps of exemplars that had none of their own (series
/// `path="b"`: stamped with each server's scrape time) blanked, and only generations
/// in `gens` kept for that series.
fn without_scrape_times(v: &J, gens: std::ops::RangeInclusive<i64>) -> J {
    let mut v = v.clone();
    for s in v["data"].as_array_mut().into_iter().flatten() {
        if s["seriesLabels"]["path"] != "b" {
            continue;
        }
        let ex = s["exemplars"].as_array_mut().unwrap();
        ex.retain(|e| {
            let g: i64 = e["labels"]["trace_id"].as_str().unwrap()[1..]
                .parse()
                .unwrap();
            gens.contains(&g)
        });
        for e in ex.iter_mut() {
            e["timestamp"] = J::Null;
        }
    }
    v
}

/// Number of `up` series a server has.
fn count_up(port: u16) -> usize {
    let (_, v) = answer(port, "/api/v1/query?query=up");
    v["data"]["result"].as_array().map_or(0, Vec::len)
}

fn metric(port: u16, name: &str) -> f64 {
    let (_, body) = get(port, "/metrics").unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing on {port}"))
}

fn reload(port: u16) {
    let (code, body) = request(port, "POST", "/-/reload", &[], b"").unwrap();
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
}

fn enc(q: &str) -> String {
    let mut out = String::new();
    for b in q.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[test]
fn exemplars_match_prometheus_and_survive_restart() {
    if !have_prometheus() {
        return;
    }
    let frozen = Arc::new(AtomicI64::new(-1));
    let target = serve_target(frozen.clone());
    let dir = tempfile::tempdir().unwrap();
    let (pp, ep) = (free_port(), free_port());
    let flags = [
        "--enable-feature=exemplar-storage",
        "--web.enable-lifecycle",
    ];
    let cfg = config(target, 1000);
    let _prom: Kill = start_prometheus_with(dir.path(), &cfg, pp, &flags);
    let mut ember = start_ember(dir.path(), &cfg, ep, &flags);
    wait_ready(pp);
    // Once both scrape (Prometheus waits for its first discovery update), they see
    // every generation from `lo` on: at least one scrape in each two seconds.
    for port in [pp, ep] {
        let t = std::time::Instant::now();
        while count_up(port) == 0 {
            assert!(t.elapsed() < Duration::from_secs(30), "no scrape on {port}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let lo = generation_now() + 1;
    let hi = lo + 5;
    while generation_now() < hi {
        std::thread::sleep(Duration::from_millis(200));
    }
    frozen.store(hi, Ordering::SeqCst);
    // A few scrapes of the frozen generation: repeats, to be dropped.
    std::thread::sleep(Duration::from_millis(3500));

    let (start, end) = (lo * PERIOD, hi * PERIOD + 1);
    let window = format!("&start={start}&end={end}");
    let queries = [
        r#"req_total{path="a"}"#,
        "rate(req_duration_seconds_bucket[1m])",
        r#"req_total{path="a"} or req_duration_seconds_bucket{le="0.5"}"#,
        r#"sum(rate(req_total{path="a"}[1m])) / sum(rate(req_duration_seconds_bucket{le="0.1"}[1m]))"#,
    ];
    let mut answers = Vec::new();
    for q in queries {
        let path = format!("/api/v1/query_exemplars?query={}{window}", enc(q));
        let v = same(ep, pp, &path);
        answers.push((path, v));
    }
    // Figures: 6 generations of one series, of two buckets, of one series + one bucket.
    assert_eq!(count(&answers[0].1), 6, "{}", answers[0].1);
    assert_eq!(count(&answers[1].1), 12);
    assert_eq!(count(&answers[2].1), 12);
    assert_eq!(count(&answers[3].1), 12);
    // A time range excluding the first and last generations (ends inclusive).
    let narrow = format!(
        "/api/v1/query_exemplars?query={}&start={}.25&end={}.25",
        enc("req_duration_seconds_bucket"),
        (lo + 1) * PERIOD,
        (hi - 1) * PERIOD
    );
    assert_eq!(count(&same(ep, pp, &narrow)), 8);
    // POST, form-encoded.
    let form = format!("query={}{window}", enc(r#"req_total{path="a"}"#));
    assert_eq!(
        answer_post(ep, "/api/v1/query_exemplars", &form),
        answer_post(pp, "/api/v1/query_exemplars", &form)
    );
    // The exemplar without a timestamp: once per generation, the same ones.
    let b_path = format!(
        "/api/v1/query_exemplars?query={}",
        enc(r#"req_total{path="b"}"#)
    );
    let (_, eb) = answer(ep, &b_path);
    let (_, pb) = answer(pp, &b_path);
    assert_eq!(
        without_scrape_times(&eb, lo..=hi),
        without_scrape_times(&pb, lo..=hi)
    );
    assert_eq!(count(&without_scrape_times(&eb, lo..=hi)), 6, "{eb}");
    let traces: Vec<&str> = eb["data"][0]["exemplars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["labels"]["trace_id"].as_str().unwrap())
        .collect();
    let mut unique = traces.clone();
    unique.dedup();
    assert_eq!(traces, unique, "an exemplar without timestamp stored twice");

    // Errors, and a query without selectors (204, no body).
    for path in [
        "/api/v1/query_exemplars?query=req_total%7B",
        "/api/v1/query_exemplars?query=req_total&start=x",
        "/api/v1/query_exemplars?query=req_total&end=yesterday",
        "/api/v1/query_exemplars?query=req_total&start=10&end=5",
        "/api/v1/query_exemplars?query=sum(",
        "/api/v1/query_exemplars?query=1%2B1",
        "/api/v1/query_exemplars?query=vector(1)",
        "/api/v1/query_exemplars?query=req_total&start=2020-01-01T00:00:00Z&end=2020-01-02T00:00:00Z",
    ] {
        same(ep, pp, path);
    }

    // An empty query: Prometheus 3.x has no position to give (2.42 said `1:1`).
    let (code, v) = answer(ep, "/api/v1/query_exemplars?query=");
    assert_eq!(code, 400);
    assert_eq!(
        v["error"],
        "unknown position: parse error: no expression found in input"
    );

    // Killed and restarted: the exemplars come back from the WAL.
    drop(ember);
    ember = start_ember(dir.path(), &cfg, ep, &flags);
    for (path, before) in &answers {
        let (code, after) = answer(ep, path);
        assert_eq!((code, &after), (200, before), "after restart: {path}");
    }
    let (_, eb2) = answer(ep, &b_path);
    assert_eq!(eb2, eb, "after restart: exemplars without timestamps");

    // A reload shrinking the buffer keeps the newest on both.
    let small = config(target, 6);
    std::fs::write(dir.path().join("prometheus.yml"), &small).unwrap();
    std::fs::write(dir.path().join("ember.yml"), &small).unwrap();
    reload(pp);
    reload(ep);
    let all = format!(
        "/api/v1/query_exemplars?query={}",
        enc(r#"{__name__=~"req_.+"}"#)
    );
    let (_, e_all) = answer(ep, &all);
    let (_, p_all) = answer(pp, &all);
    assert_eq!(count(&e_all), 6, "{e_all}");
    assert_eq!(
        without_scrape_times(&e_all, hi - 1..=hi),
        without_scrape_times(&p_all, hi - 1..=hi)
    );
    for m in [
        "prometheus_tsdb_exemplar_max_exemplars",
        "prometheus_tsdb_exemplar_exemplars_in_storage",
        "prometheus_tsdb_exemplar_series_with_exemplars_in_storage",
    ] {
        assert_eq!(metric(ep, m), metric(pp, m), "{m}");
    }
    assert_eq!(metric(ep, "prometheus_tsdb_exemplar_max_exemplars"), 6.0);
    assert!(metric(ep, "prometheus_tsdb_exemplar_exemplars_appended_total") >= 6.0);
    drop(ember);
}
