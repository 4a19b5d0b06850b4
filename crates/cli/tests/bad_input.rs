//! Bad input, side by side with Debian's `prometheus`: a target whose exposition
//! does not parse is marked down with the parser's error and nothing of that scrape
//! is stored; a remote-write body that does not decode gets 400 and stores nothing;
//! bad API parameters get 400 `bad_data` with Prometheus's wording.

mod common;

use common::{
    free_port, get, have_prometheus, request, start_ember, start_prometheus_with, wait_ready,
};
use serde_json::Value as J;
use std::time::{Duration, Instant};

fn json(port: u16, path: &str) -> (u16, J) {
    let (code, body) = get(port, path).unwrap_or_else(|| panic!("no answer on {path}"));
    (
        code,
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}")),
    )
}

/// (health, lastError) of the only target of `pool`, once scraped.
fn target(port: u16, pool: &str) -> (String, String) {
    let t = Instant::now();
    loop {
        let (_, v) = json(port, "/api/v1/targets");
        let found = v["data"]["activeTargets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["scrapePool"] == pool && t["health"] != "unknown")
            .map(|t| {
                (
                    t["health"].as_str().unwrap().to_string(),
                    t["lastError"].as_str().unwrap().to_string(),
                )
            });
        if let Some(f) = found {
            return f;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "{pool}: {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn bad_input_is_refused_like_prometheus() {
    if !have_prometheus() {
        return;
    }
    // The second line is broken; the first and last are fine and must not be kept.
    let broken = common::serve_exposition(
        "text/plain; version=0.0.4",
        "good_before 1\nbroken{a=\"1\" 2\ngood_after 3\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let (pp, ep) = (free_port(), free_port());
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: broken\n    static_configs: [{{targets: ['127.0.0.1:{broken}']}}]\n"
    );
    let _prom = start_prometheus_with(
        dir.path(),
        &config,
        pp,
        &["--web.enable-remote-write-receiver"],
    );
    wait_ready(pp);
    let _ember = start_ember(
        dir.path(),
        &config,
        ep,
        &["--web.enable-remote-write-receiver"],
    );

    // Malformed exposition: down, with the same parse error, nothing stored.
    let (ours, theirs) = (target(ep, "broken"), target(pp, "broken"));
    assert_eq!((ours.0.as_str(), theirs.0.as_str()), ("down", "down"));
    // 3.x's parser (which Ember follows) words it with the token's text and the
    // entry so far; 2.42's only names the token's kind.
    assert_eq!(
        ours.1,
        r#"expected label name, got "2" ("INVALID") while parsing: "broken{a=\"1\" 2""#
    );
    assert_eq!(theirs.1, r#"expected label name, got "INVALID""#);
    for port in [ep, pp] {
        let (_, v) = json(
            port,
            "/api/v1/query?query=good_before%20or%20good_after%20or%20broken",
        );
        assert_eq!(v["data"]["result"], J::Array(vec![]), "{port}: {v}");
        let (_, v) = json(port, "/api/v1/query?query=up");
        assert_eq!(v["data"]["result"][0]["value"][1], "0");
    }

    // Remote write bodies that do not decode: 400 from both, nothing stored.
    let snappy_garbage = snap::raw::Encoder::new()
        .compress_vec(b"\xff\xff\xff not a protobuf")
        .unwrap();
    for (what, body) in [
        ("not snappy", b"definitely not snappy".to_vec()),
        ("not protobuf", snappy_garbage),
    ] {
        for port in [ep, pp] {
            let (code, resp) = request(
                port,
                "POST",
                "/api/v1/write",
                &[
                    ("Content-Type", "application/x-protobuf"),
                    ("Content-Encoding", "snappy"),
                    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
                ],
                &body,
            )
            .unwrap();
            assert_eq!(
                code,
                400,
                "{what} on {port}: {}",
                String::from_utf8_lossy(&resp)
            );
        }
    }
    for port in [ep, pp] {
        let (_, v) = json(
            port,
            "/api/v1/series?match[]=%7B__name__%3D~%22.%2B%22%2Cjob!%3D%22broken%22%7D",
        );
        assert_eq!(v["data"], J::Array(vec![]), "{port}: {v}");
    }

    // Bad API parameters: the same status, error type and message.
    for path in [
        "/api/v1/query",
        "/api/v1/query?query=up&time=soon",
        "/api/v1/query?query=up&timeout=fast",
        "/api/v1/query?query=sum(",
        "/api/v1/query_range?query=up&start=1&end=2",
        "/api/v1/query_range?query=up&start=1&end=2&step=0",
        "/api/v1/query_range?query=up&start=1&end=2&step=-1",
        "/api/v1/query_range?query=up&start=2&end=1&step=1",
        "/api/v1/query_range?query=up&start=0&end=20000&step=1",
        "/api/v1/query_range?query=up&start=x&end=2&step=1",
        "/api/v1/query_range?query=sum(&start=1&end=2&step=1",
        "/api/v1/series",
        "/api/v1/series?match[]=up%7B",
        "/api/v1/series?match[]=up&start=x",
        "/api/v1/labels?match[]=%7B%7D",
        "/api/v1/labels?start=x",
        "/api/v1/label/__name__/values?end=y",
        "/api/v1/targets/metadata?match_target=%7B",
        "/api/v1/query_exemplars?query=up&start=x",
    ] {
        let (a, b) = (json(ep, path), json(pp, path));
        assert_eq!(a.0, b.0, "{path}: status: {} / {}", a.1, b.1);
        assert_eq!(a.1["errorType"], b.1["errorType"], "{path}");
        if path == "/api/v1/query" {
            // An empty query: 3.x says "unknown position" where 2.42 says "1:1".
            assert_eq!(
                a.1["error"],
                "invalid parameter \"query\": unknown position: parse error: no expression found in input"
            );
        } else {
            assert_eq!(a.1["error"], b.1["error"], "{path}");
        }
        assert_eq!(a.0, 400, "{path}: {}", a.1);
    }
}
