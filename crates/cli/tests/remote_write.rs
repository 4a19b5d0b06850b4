//! Remote-write interop: Debian's `prometheus` (2.42) scrapes itself and remote-writes
//! to Ember's receiver; the series then answer queries on Ember.

mod common;

use common::{free_port, get, have_prometheus, start_ember, start_prometheus};
use std::time::{Duration, Instant};

#[test]
fn prometheus_remote_writes_into_ember() {
    if !have_prometheus() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ep, pp) = (free_port(), free_port());
    let _ember = start_ember(
        dir.path(),
        "global: {}\n",
        ep,
        &["--web.enable-remote-write-receiver"],
    );
    let _prom = start_prometheus(
        dir.path(),
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: prom\n    static_configs:\n      - targets: ['127.0.0.1:{pp}']\nremote_write:\n  - url: http://127.0.0.1:{ep}/api/v1/write\n    queue_config:\n      batch_send_deadline: 1s\n"
        ),
        pp,
    );
    let t = Instant::now();
    loop {
        let (code, body) = get(ep, "/api/v1/query?query=up%7Bjob%3D%22prom%22%7D").unwrap();
        assert_eq!(code, 200, "{body}");
        if body.contains(&format!("\"instance\":\"127.0.0.1:{pp}\"")) && body.contains("\"1\"]") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no remote-written series in Ember after 60s: {body}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Prometheus's own metrics arrived too, many series of them.
    let (_, body) = get(ep, "/api/v1/query?query=count(%7Bjob%3D%22prom%22%7D)").unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let n: f64 = v["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(n > 100.0, "{body}");

    // Every sample arrives: the samples of a fixed past window (full of samples:
    // scraping began a moment ago), counted on both sides, become equal once the
    // queue has caught up.
    std::thread::sleep(Duration::from_secs(12));
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 2;
    // The raw samples of every series in the window (a range selector: no lookback).
    let q = format!("/api/v1/query?query=%7Bjob%3D%22prom%22%7D%5B20s%5D&time={t}");
    let count = |port| -> usize {
        let (_, body) = get(port, &q).unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["data"]["result"].as_array().map_or(0, |a| {
            a.iter()
                .map(|s| s["values"].as_array().map_or(0, Vec::len))
                .sum()
        })
    };
    let started = Instant::now();
    loop {
        let (ours, theirs) = (count(ep), count(pp));
        if ours == theirs && ours > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "samples in the window: Ember {ours}, Prometheus {theirs}: {:?}",
            get(pp, &q).map(|b| b.1.chars().take(300).collect::<String>())
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
