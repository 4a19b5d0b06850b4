//! Migration: a user replaces Prometheus's Pushgateway with `ember pushgateway` and
//! keeps `--persistence.file` pointing at the original's file (Go `gob`). Debian's
//! `prometheus-pushgateway` is fed several groups (text and protobuf bodies,
//! `@base64` grouping labels, every metric type, failed pushes) and stopped with
//! SIGTERM so that it writes its file; then Ember starts on that file and Debian's
//! gateway on a copy of it, and both must expose the same thing: `/metrics`
//! (families, HELP, TYPE, every series with its exact value, push times included)
//! and `/api/v1/metrics` (groups, labels, values, push timestamps). Finally Ember is
//! restarted, now reading its own format, and must still show the same, with the
//! original's file kept as `<file>.gob-imported`.
//!
//! The binary is `prometheus-pushgateway` on PATH or `$EMBER_PUSHGATEWAY_BIN`.
//! Without it the test says so and passes, unless `EMBER_REQUIRE_INTEROP=1`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Kill, free_port, have_binary, request};
use ember_exposition::proto::{
    self, Bucket, Counter, Histogram, LabelPair, Metric, MetricFamily, MetricType, Quantile,
    Summary,
};
use ember_exposition::{Format, parse};

fn pushgateway_bin() -> String {
    std::env::var("EMBER_PUSHGATEWAY_BIN").unwrap_or_else(|_| "prometheus-pushgateway".into())
}

/// Debian's gateway persisting to `file` every second. `TZ=UTC`, so that the
/// timestamps it shows in `/api/v1/metrics` are written as Ember writes them.
fn start_debian(port: u16, file: &Path) -> Kill {
    let k = Kill(
        Command::new(pushgateway_bin())
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--persistence.file={}", file.display()))
            .arg("--persistence.interval=1s")
            .env("TZ", "UTC")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus-pushgateway"),
    );
    common::wait_ready_at(port, "/-/ready");
    k
}

fn start_ember(port: u16, file: &Path) -> Kill {
    let k = Kill(
        Command::new(env!("CARGO_BIN_EXE_ember"))
            .arg("pushgateway")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--persistence.file={}", file.display()))
            .arg("--log.level=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ember pushgateway"),
    );
    common::wait_ready_at(port, "/-/ready");
    k
}

/// Stops a gateway with SIGTERM, as a service manager does, and waits: both write
/// their persistence file on the way out. Returns what it logged, if captured.
fn stop(mut k: Kill, who: &str) -> String {
    let pid = k.0.id().to_string();
    let sent = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(sent.success(), "signal {who}");
    let status = k.0.wait().expect("exits");
    assert!(status.success(), "{who} exited with {status}");
    let mut log = String::new();
    if let Some(mut s) = k.0.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut s, &mut log);
    }
    log
}

/// `/metrics` without the gateways' own `go_*`, `process_*` and `pushgateway_*`
/// families: per family, HELP and TYPE, then each series with its exact value.
fn exposition(port: u16) -> BTreeMap<String, Vec<String>> {
    let (code, body) = request(port, "GET", "/metrics", &[], b"").expect("scrape");
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    let families = parse(&body, Format::Text).expect("exposition parses");
    let mut out = BTreeMap::new();
    for f in families {
        if ["go_", "process_", "pushgateway_"]
            .iter()
            .any(|p| f.name.starts_with(p))
        {
            continue;
        }
        let mut lines = vec![format!(
            "# {} {}",
            f.metric_type.as_str(),
            f.help.clone().unwrap_or_default()
        )];
        for s in &f.samples {
            let labels: Vec<String> = s
                .labels
                .iter()
                .map(|l| format!("{}={:?}", l.name, l.value))
                .collect();
            lines.push(format!("{}{{{}}} {}", s.name, labels.join(","), s.value));
        }
        lines.sort();
        out.insert(f.name.clone(), lines);
    }
    out
}

/// `/api/v1/metrics` with its groups in a fixed order; nothing else normalized.
fn api_metrics(port: u16) -> serde_json::Value {
    let (code, body) = request(port, "GET", "/api/v1/metrics", &[], b"").expect("api");
    assert_eq!(code, 200);
    let mut v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    if let Some(groups) = v["data"].as_array_mut() {
        groups.sort_by_key(|g| g["labels"].to_string());
    }
    v
}

fn protobuf_body() -> Vec<u8> {
    let families = vec![
        MetricFamily {
            name: Some("mig_proto_requests_total".into()),
            help: Some("Requests, pushed as protobuf.".into()),
            r#type: Some(MetricType::Counter as i32),
            metric: vec![
                Metric {
                    label: vec![LabelPair::new("code", "200")],
                    counter: Some(Counter {
                        value: Some(42.0),
                        ..Counter::default()
                    }),
                    ..Metric::default()
                },
                Metric {
                    label: vec![LabelPair::new("code", "500")],
                    counter: Some(Counter {
                        value: Some(0.5),
                        ..Counter::default()
                    }),
                    ..Metric::default()
                },
            ],
            unit: None,
        },
        MetricFamily {
            name: Some("mig_proto_latency_seconds".into()),
            help: Some("Latency, pushed as protobuf.".into()),
            r#type: Some(MetricType::Histogram as i32),
            metric: vec![Metric {
                histogram: Some(Box::new(Histogram {
                    sample_count: Some(3),
                    sample_sum: Some(0.75),
                    bucket: vec![
                        Bucket {
                            cumulative_count: Some(1),
                            upper_bound: Some(0.1),
                            ..Bucket::default()
                        },
                        Bucket {
                            cumulative_count: Some(3),
                            upper_bound: Some(1.0),
                            ..Bucket::default()
                        },
                    ],
                    ..Histogram::default()
                })),
                ..Metric::default()
            }],
            unit: None,
        },
        MetricFamily {
            name: Some("mig_proto_size_bytes".into()),
            help: None,
            r#type: Some(MetricType::Summary as i32),
            metric: vec![Metric {
                summary: Some(Box::new(Summary {
                    sample_count: Some(4),
                    sample_sum: Some(1024.0),
                    quantile: vec![Quantile {
                        quantile: Some(0.9),
                        value: Some(512.0),
                    }],
                    ..Summary::default()
                })),
                ..Metric::default()
            }],
            unit: None,
        },
    ];
    let mut out = Vec::new();
    proto::encode_delimited(&mut out, &families);
    out
}

const PROTOBUF: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// A push to the original: method, path, content type, body, expected status.
type Push = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Vec<u8>,
    u16,
);

fn pushes() -> Vec<Push> {
    let text = |s: &str| s.as_bytes().to_vec();
    vec![
        (
            "PUT",
            "/metrics/job/batch/instance/host1",
            None,
            text(
                "# HELP mig_last_success_seconds Last success.\n# TYPE mig_last_success_seconds gauge\nmig_last_success_seconds 1.7e9\n# HELP mig_jobs_total Jobs done.\n# TYPE mig_jobs_total counter\nmig_jobs_total{kind=\"a\"} 10\nmig_jobs_total{kind=\"b\"} 1e6\n# TYPE mig_items untyped\nmig_items 3\n# HELP mig_duration_seconds Duration.\n# TYPE mig_duration_seconds histogram\nmig_duration_seconds_bucket{le=\"0.5\"} 1\nmig_duration_seconds_bucket{le=\"1\"} 2\nmig_duration_seconds_bucket{le=\"+Inf\"} 2\nmig_duration_seconds_sum 1.25\nmig_duration_seconds_count 2\n# TYPE mig_size summary\nmig_size{quantile=\"0.5\"} 3\nmig_size{quantile=\"0.99\"} 0.000001\nmig_size_sum 30\nmig_size_count 7\nno_type_total 5\n",
            ),
            200,
        ),
        (
            "POST",
            "/metrics/job/batch/instance/host1",
            None,
            text("# TYPE mig_items untyped\nmig_items{kind=\"c\"} 7\nmig_extra 2\n"),
            200,
        ),
        (
            "PUT",
            "/metrics/job/proto",
            Some(PROTOBUF),
            protobuf_body(),
            200,
        ),
        (
            // job "/var/tmp", path "a/b", and an empty label value.
            "PUT",
            "/metrics/job@base64/L3Zhci90bXA=/path@base64/YS9i/empty@base64/=",
            None,
            text(
                "# HELP mig_last_success_seconds Last success.\n# TYPE mig_last_success_seconds gauge\nmig_last_success_seconds 5\n",
            ),
            200,
        ),
        (
            // A type conflict with the first group: refused, and the group gets
            // a push_failure_time_seconds (and a zero push_time_seconds).
            "PUT",
            "/metrics/job/conflict",
            None,
            text("# TYPE mig_last_success_seconds counter\nmig_last_success_seconds 1\n"),
            400,
        ),
        (
            // A failed push to an existing group: its metrics stay.
            "PUT",
            "/metrics/job/proto",
            None,
            text("# TYPE mig_jobs_total gauge\nmig_jobs_total 1\n"),
            400,
        ),
    ]
}

#[test]
fn ember_restores_the_original_pushgateways_file() {
    if !have_binary(&pushgateway_bin()) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("pushgateway.data");
    let copy = dir.path().join("original-copy.data");

    // 1. The original collects the groups and writes its file on SIGTERM.
    let port = free_port();
    let original = start_debian(port, &file);
    for (i, (method, path, ct, body, want)) in pushes().into_iter().enumerate() {
        let headers: Vec<(&str, &str)> = ct.map(|c| ("Content-Type", c)).into_iter().collect();
        let (code, answer) = request(port, method, path, &headers, &body).expect("push");
        assert_eq!(
            code,
            want,
            "push {i} {method} {path}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    let before = exposition(port);
    stop(original, "prometheus-pushgateway");
    let gob = std::fs::read(&file).expect("the original wrote its file");
    assert!(!gob.starts_with(b"EMBERPGW"));
    std::fs::write(&copy, &gob).expect("copy");

    // 2. The original on a copy, Ember on the file itself.
    let (dp, ep) = (free_port(), free_port());
    let _debian = start_debian(dp, &copy);
    let ember = start_ember(ep, &file);
    let (de, ee) = (exposition(dp), exposition(ep));
    assert_eq!(de, before, "the original restores what it had");
    assert!(
        de.contains_key("push_failure_time_seconds") && de.len() > 8,
        "the scenario covers failures: {de:#?}"
    );
    let mut mismatches = Vec::new();
    for name in de
        .keys()
        .chain(ee.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        if de.get(name) != ee.get(name) {
            mismatches.push(format!(
                "/metrics {name}:\n    original {:?}\n    ember    {:?}",
                de.get(name),
                ee.get(name)
            ));
        }
    }
    let (dj, ej) = (api_metrics(dp), api_metrics(ep));
    if dj != ej {
        mismatches.push(format!(
            "/api/v1/metrics differs:\n  original {dj}\n  ember    {ej}"
        ));
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatch(es):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    let groups = dj["data"].as_array().map_or(0, Vec::len);
    let series: usize = ee.values().map(|v| v.len() - 1).sum();

    // 3. Ember kept the original's file and writes its own format on the way out.
    let kept = dir.path().join("pushgateway.data.gob-imported");
    assert_eq!(std::fs::read(&kept).expect("copy kept"), gob);
    let log = stop(ember, "ember pushgateway");
    assert!(
        log.contains("original Pushgateway") && log.contains("gob-imported"),
        "the import is logged: {log}"
    );
    let now = std::fs::read(&file).expect("file");
    assert!(now.starts_with(b"EMBERPGW"), "rewritten in Ember's format");

    // 4. Restarted on its own format, Ember still has every group.
    let ep2 = free_port();
    let _ember = start_ember(ep2, &file);
    assert_eq!(exposition(ep2), de, "groups survive a restart");
    assert_eq!(api_metrics(ep2), dj);
    println!(
        "{groups} groups, {} families, {series} series: same /metrics and /api/v1/metrics as the original, before and after a restart",
        de.len()
    );
}
