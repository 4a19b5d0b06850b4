//! Protobuf scraping: a target serving delimited `MetricFamily` messages, scraped by
//! `ember server` with `scrape_protocols: [PrometheusProto]`, gives the same series
//! and values as the same metrics served in the text format; Ember offers protobuf
//! in `Accept` as Prometheus does; with `scrape_native_histograms` the native parts
//! of a histogram are stored as a native histogram.

mod common;

use common::{free_port, get, start_ember};
use ember_exposition::{Format, parse, proto};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TEXT: &str = "\
# HELP rpc_seconds RPC latency.
# TYPE rpc_seconds histogram
rpc_seconds_bucket{svc=\"a\",le=\"0.1\"} 3
rpc_seconds_bucket{svc=\"a\",le=\"1\"} 5
rpc_seconds_bucket{svc=\"a\",le=\"+Inf\"} 6
rpc_seconds_sum{svc=\"a\"} 4.5
rpc_seconds_count{svc=\"a\"} 6
# HELP lat Latency summary.
# TYPE lat summary
lat{quantile=\"0.5\"} 1.5
lat{quantile=\"0.99\"} 3.25
lat_sum 10
lat_count 4
# HELP reqs_total Requests.
# TYPE reqs_total counter
reqs_total{code=\"200\",method=\"get\"} 7
reqs_total{code=\"500\",method=\"get\"} 1
# TYPE temp gauge
temp{room=\"x\"} -3.5e-3
# TYPE thing untyped
thing 42
";

/// Serves `body` with `content_type` on a fresh port, recording each request's
/// `Accept` header.
fn serve(body: Vec<u8>, content_type: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let accepts = Arc::new(Mutex::new(Vec::new()));
    let seen = accepts.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head).to_string();
            if let Some(a) = head
                .lines()
                .find_map(|l| l.strip_prefix("Accept: ").or(l.strip_prefix("accept: ")))
            {
                seen.lock().unwrap().push(a.trim().to_string());
            }
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(&body);
        }
    });
    (port, accepts)
}

fn json(port: u16, path: &str) -> serde_json::Value {
    let (code, body) = get(port, path).unwrap();
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// The job's series, without `job` and `instance`, as sorted strings.
fn series(port: u16, job: &str) -> BTreeSet<String> {
    let v = json(
        port,
        &format!("/api/v1/series?match[]=%7Bjob%3D%22{job}%22%7D"),
    );
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let mut m = s.as_object().unwrap().clone();
            m.remove("job");
            m.remove("instance");
            serde_json::Value::Object(m).to_string()
        })
        .collect()
}

/// `(series, value)` of an instant query over the job's scraped (not report) series.
fn values(port: u16, job: &str) -> BTreeSet<String> {
    let q = format!("/api/v1/query?query=%7Bjob%3D%22{job}%22%2C__name__!~%22up%7Cscrape_.*%22%7D");
    let v = json(port, &q);
    v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let mut m = s["metric"].as_object().unwrap().clone();
            m.remove("job");
            m.remove("instance");
            format!("{} {}", serde_json::Value::Object(m), s["value"][1])
        })
        .collect()
}

fn wait_for_samples(port: u16, job: &str, min: usize) {
    let t = Instant::now();
    loop {
        let v = json(
            port,
            &format!("/api/v1/query?query=scrape_samples_scraped%7Bjob%3D%22{job}%22%7D"),
        );
        let n = v["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0);
        if n >= min as f64 {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{job}: no successful scrape after 30s: {v} / targets: {:?}",
            get(port, "/api/v1/targets")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn protobuf_scrape_matches_text() {
    let families = proto::from_flat(parse(TEXT.as_bytes(), Format::Text).unwrap()).unwrap();
    let mut pb = Vec::new();
    proto::encode_delimited(&mut pb, &families);
    // The same metrics, the histogram with native parts as well (classic buckets kept).
    let mut with_native = families.clone();
    let h = with_native[0].metric[0].histogram.as_deref_mut().unwrap();
    h.schema = Some(0);
    h.zero_threshold = Some(1e-128);
    h.zero_count = Some(1);
    h.positive_span = vec![proto::BucketSpan {
        offset: Some(-3),
        length: Some(2),
    }];
    h.positive_delta = vec![2, 1];
    let mut pb_native = Vec::new();
    proto::encode_delimited(&mut pb_native, &with_native);

    const PROTO_CT: &str = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
    let (text_port, _) = serve(TEXT.as_bytes().to_vec(), "text/plain; version=0.0.4");
    let (proto_port, proto_accepts) = serve(pb, PROTO_CT);
    let (native_port, _) = serve(pb_native.clone(), PROTO_CT);
    let (classic_port, _) = serve(pb_native, PROTO_CT);

    let dir = tempfile::tempdir().unwrap();
    let ep = free_port();
    let job = |name: &str, port: u16, extra: &str| {
        format!(
            "  - job_name: {name}\n    scrape_protocols: [PrometheusProto]\n{extra}    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        )
    };
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: text\n    static_configs:\n      - targets: ['127.0.0.1:{text_port}']\n{}{}{}",
        job("proto", proto_port, ""),
        job(
            "native",
            native_port,
            "    scrape_native_histograms: true\n"
        ),
        // Native parts ignored: classic series only, as from the text target.
        job("classic", classic_port, ""),
    );
    let _ember = start_ember(dir.path(), &config, ep, &[]);
    // 5 + 4 + 2 + 1 + 1 float series.
    for j in ["text", "proto", "classic"] {
        wait_for_samples(ep, j, 13);
    }
    wait_for_samples(ep, "native", 9);

    let text_series = series(ep, "text");
    assert_eq!(text_series.len(), 13 + 5, "{text_series:?}");
    assert_eq!(series(ep, "proto"), text_series);
    assert_eq!(series(ep, "classic"), text_series);
    let text_values = values(ep, "text");
    assert_eq!(values(ep, "proto"), text_values);
    assert_eq!(values(ep, "classic"), text_values);

    // Prometheus's Accept header for `[PrometheusProto]`.
    let accepts = proto_accepts.lock().unwrap().clone();
    assert_eq!(
        accepts.first().map(String::as_str),
        Some(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,*/*;q=0.5"
        )
    );

    // The native job: one native histogram series instead of the five classic ones.
    let native = series(ep, "native");
    assert!(
        native.contains(r#"{"__name__":"rpc_seconds","svc":"a"}"#),
        "{native:?}"
    );
    assert!(!native.iter().any(|s| s.contains("rpc_seconds_bucket")));
    let v = json(
        ep,
        "/api/v1/query?query=histogram_count(rpc_seconds%7Bjob%3D%22native%22%7D)",
    );
    assert_eq!(v["data"]["result"][0]["value"][1], "6", "{v}");
    let v = json(
        ep,
        "/api/v1/query?query=histogram_sum(rpc_seconds%7Bjob%3D%22native%22%7D)",
    );
    assert_eq!(v["data"]["result"][0]["value"][1], "4.5", "{v}");
}
