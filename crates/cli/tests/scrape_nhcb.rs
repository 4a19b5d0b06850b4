//! `convert_classic_histograms_to_nhcb` end to end: a target exposes a classic
//! histogram; with the conversion on (and the classic series kept), the native
//! histogram with custom buckets answers the same quantiles, count and sum as the
//! classic series do, and without `always_scrape_classic_histograms` only the
//! native one is stored. (Debian's Prometheus 2.42 predates the option, so the
//! classic series are the oracle.)

mod common;

use common::{free_port, get, serve_exposition, start_ember};
use serde_json::Value as J;
use std::time::{Duration, Instant};

const EXPOSITION: &str = "# HELP req_seconds Request latency.\n\
# TYPE req_seconds histogram\n\
req_seconds_bucket{path=\"/a\",le=\"0.1\"} 2\n\
req_seconds_bucket{path=\"/a\",le=\"0.5\"} 2\n\
req_seconds_bucket{path=\"/a\",le=\"1\"} 7\n\
req_seconds_bucket{path=\"/a\",le=\"+Inf\"} 8\n\
req_seconds_sum{path=\"/a\"} 5.25\n\
req_seconds_count{path=\"/a\"} 8\n\
req_seconds_bucket{path=\"/b\",le=\"0.1\"} 1.5\n\
req_seconds_bucket{path=\"/b\",le=\"+Inf\"} 3.5\n\
req_seconds_sum{path=\"/b\"} 2\n\
req_seconds_count{path=\"/b\"} 3.5\n\
# TYPE up_since gauge\n\
up_since 42\n";

fn query(port: u16, q: &str) -> Vec<J> {
    let (code, body) = get(port, &format!("/api/v1/query?query={q}")).unwrap();
    assert_eq!(code, 200, "{q}: {body}");
    let v: J = serde_json::from_str(&body).unwrap();
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// `q`'s values by `path`, sorted.
fn by_path(port: u16, q: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = query(port, q)
        .iter()
        .map(|s| {
            (
                s["metric"]["path"].as_str().unwrap_or("").to_string(),
                s["value"][1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn config(target: u16, keep: bool) -> String {
    format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: t\n    convert_classic_histograms_to_nhcb: true\n    always_scrape_classic_histograms: {keep}\n    scrape_protocols: [PrometheusText0.0.4]\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
    )
}

fn wait_for(port: u16, q: &str) {
    let t = Instant::now();
    while query(port, q).is_empty() {
        assert!(t.elapsed() < Duration::from_secs(30), "{q}: no data");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn classic_histograms_convert_to_custom_bucket_histograms() {
    let target = serve_exposition("text/plain; version=0.0.4", EXPOSITION);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _e = start_ember(dir.path(), &config(target, true), port, &[]);
    wait_for(port, "req_seconds");
    wait_for(port, "req_seconds_count");
    for (native, classic) in [
        (
            "histogram_quantile(0.5,req_seconds)",
            "histogram_quantile(0.5,req_seconds_bucket)",
        ),
        (
            "histogram_quantile(0.9,req_seconds)",
            "histogram_quantile(0.9,req_seconds_bucket)",
        ),
        ("histogram_count(req_seconds)", "req_seconds_count"),
        ("histogram_sum(req_seconds)", "req_seconds_sum"),
    ] {
        let (a, b) = (by_path(port, native), by_path(port, classic));
        assert_eq!(a.len(), 2, "{native}: {a:?}");
        assert_eq!(a, b, "{native} vs {classic}");
    }
    // The native histogram is one with custom buckets: its bounds are the `le`s.
    let h = &query(port, "req_seconds%7Bpath%3D%22%2Fa%22%7D")[0]["histogram"][1];
    assert_eq!(h["count"], "8");
    let uppers: Vec<&str> = h["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b[2].as_str().unwrap())
        .collect();
    assert_eq!(uppers, ["0.1", "1", "+Inf"], "{h}");
    // Other families are untouched.
    assert_eq!(
        by_path(port, "up_since"),
        [(String::new(), "42".to_string())]
    );
}

#[test]
fn without_classic_series_only_the_native_histogram_is_stored() {
    let target = serve_exposition("text/plain; version=0.0.4", EXPOSITION);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _e = start_ember(dir.path(), &config(target, false), port, &[]);
    wait_for(port, "req_seconds");
    wait_for(port, "up_since");
    let names: Vec<J> = query(port, "count%20by%20(__name__)(%7Bjob%3D%22t%22%7D)")
        .iter()
        .map(|s| s["metric"]["__name__"].clone())
        .collect();
    assert!(!names.contains(&J::from("req_seconds_bucket")), "{names:?}");
    assert!(names.contains(&J::from("req_seconds")), "{names:?}");
    // One native sample per histogram, plus up_since: what the scrape reports.
    let scraped = by_path(port, "scrape_samples_scraped");
    assert_eq!(scraped, [(String::new(), "3".to_string())]);
}
