//! Remote read both ways against Debian's `prometheus` (2.42), on loopback:
//!
//! - the same samples are remote-written into an Ember (E1) and a Prometheus (P1),
//!   both with the external label `region="eu"`;
//! - a second, empty Prometheus (P2) reads E1 through `remote_read`: its answers to
//!   range and instant queries equal E1's own (plus E1's external label, which the
//!   read endpoint adds);
//! - a second Ember (E2), holding other data of its own, reads P1: its answers equal
//!   P1's own, local data still answers, and a reload with `required_matchers`
//!   takes effect;
//! - direct `/api/v1/read` requests to E1 and P1, SAMPLES and STREAMED_XOR_CHUNKS,
//!   decode to the same series; the sample limit fails both with the same message.

mod common;

use common::{
    Kill, free_port, get, have_prometheus, request, start_ember, start_prometheus_with, wait_ready,
};
use ember_remote::proto::{Label, Sample, TimeSeries, WriteRequest};
use ember_remote::read::client::{decode_samples, decode_streamed};
use ember_remote::read::proto::{LabelMatcher, Query, ReadRequest};
use prost::Message;
use serde_json::Value as J;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn series(name: &str, job: &str, base: i64, f: impl Fn(i64) -> f64) -> TimeSeries {
    TimeSeries {
        labels: vec![
            Label {
                name: "__name__".into(),
                value: name.into(),
            },
            Label {
                name: "instance".into(),
                value: format!("{job}:9100"),
            },
            Label {
                name: "job".into(),
                value: job.into(),
            },
        ],
        // One hour at 15 s: 241 samples.
        samples: (0..241)
            .map(|i| Sample {
                value: f(i),
                timestamp: base + i * 15_000,
            })
            .collect(),
        ..Default::default()
    }
}

fn write(port: u16, ts: Vec<TimeSeries>) {
    let req = WriteRequest {
        timeseries: ts,
        ..Default::default()
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap();
    let (code, b) = request(
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
    .expect("remote write answered");
    assert_eq!(code, 204, "{}", String::from_utf8_lossy(&b));
}

fn enc(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `data.result` of a query, sorted by metric.
fn result(port: u16, path: &str) -> J {
    let (code, body) = get(port, path).expect("answer");
    assert_eq!(code, 200, "{path}: {body}");
    let v: J = serde_json::from_str(&body).unwrap();
    let mut r = v["data"]["result"].as_array().cloned().unwrap_or_default();
    r.sort_by_key(|x| x["metric"].to_string());
    J::Array(r)
}

fn with_region(mut r: J) -> J {
    for s in r.as_array_mut().into_iter().flatten() {
        if let Some(m) = s["metric"].as_object_mut() {
            m.insert("region".into(), J::String("eu".into()));
        }
    }
    if let Some(a) = r.as_array_mut() {
        a.sort_by_key(|x| x["metric"].to_string());
    }
    r
}

/// POSTs a read request; returns status, `Content-Type` and body.
fn read(port: u16, req: &ReadRequest) -> (u16, String, Vec<u8>) {
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST /api/v1/read HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\nX-Prometheus-Remote-Read-Version: 0.1.0\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(&body).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let code = head[9..12].parse().unwrap();
    let ct = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    (code, ct, out[split..].to_vec())
}

fn read_req(types: &[i32], name: &str, mint: i64, maxt: i64) -> ReadRequest {
    ReadRequest {
        queries: vec![Query {
            start_timestamp_ms: mint,
            end_timestamp_ms: maxt,
            matchers: vec![LabelMatcher {
                r#type: 2,
                name: "__name__".into(),
                value: name.into(),
            }],
            hints: None,
        }],
        accepted_response_types: types.to_vec(),
    }
}

fn reload(port: u16) {
    let (code, body) = request(port, "POST", "/-/reload", &[], b"").unwrap();
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
}

const EXT: &str = "global:\n  external_labels:\n    region: eu\n";

#[test]
fn remote_read_both_ways_matches_prometheus() {
    if !have_prometheus() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let base_s = now / 60 * 60 - 3600;
    let base = base_s * 1000;
    let data = || {
        vec![
            series("rr_metric", "a", base, |i| (i * i) as f64 * 0.5),
            series("rr_metric", "b", base, |i| 1000.0 - i as f64),
            series("rr_other", "a", base, |i| (i % 7) as f64),
        ]
    };
    let d = |n: &str| {
        let p = dir.path().join(n);
        std::fs::create_dir_all(&p).unwrap();
        p
    };
    let (e1, p1, p2, e2) = (free_port(), free_port(), free_port(), free_port());

    let _e1 = start_ember(
        &d("e1"),
        EXT,
        e1,
        &[
            "--web.enable-remote-write-receiver",
            "--storage.remote.read-sample-limit=500",
        ],
    );
    let _p1: Kill = start_prometheus_with(
        &d("p1"),
        EXT,
        p1,
        &[
            "--web.enable-remote-write-receiver",
            "--storage.remote.read-sample-limit=500",
            // Series split over several frames, which E2 must put together again.
            "--storage.remote.read-max-bytes-in-frame=256",
        ],
    );
    wait_ready(p1);
    write(e1, data());
    write(p1, data());

    let p2_cfg = format!(
        "global:\n  scrape_interval: 1h\nremote_read:\n  - url: http://127.0.0.1:{e1}/api/v1/read\n    read_recent: true\n"
    );
    let _p2 = start_prometheus_with(&d("p2"), &p2_cfg, p2, &[]);
    wait_ready(p2);
    let e2_cfg = |extra: &str| {
        format!(
            "{EXT}remote_read:\n  - url: http://127.0.0.1:{p1}/api/v1/read\n    read_recent: true\n{extra}"
        )
    };
    let e2_dir = d("e2");
    let _e2 = start_ember(
        &e2_dir,
        &e2_cfg(""),
        e2,
        &[
            "--web.enable-remote-write-receiver",
            "--web.enable-lifecycle",
        ],
    );
    write(e2, vec![series("rr_local", "l", base, |i| i as f64)]);

    // Evaluation times 7 s off the 15 s sample grid: Prometheus 3.x (Ember's
    // reference) made range windows left-open where 2.42 includes a sample on the
    // boundary; off the grid both select the same samples.
    let start = base_s + 7;
    let end = base_s + 3600 - 8;
    let queries: [(&str, bool); 6] = [
        ("rr_metric", true),
        ("rate(rr_metric{job=\"a\"}[5m])", true),
        ("sum by (job) (rr_metric)", false),
        ("rr_other + on(job) group_left rr_metric", true),
        ("max_over_time(rr_other[10m])", true),
        ("count(rr_metric{job=\"b\"})", false),
    ];
    let mut checked = 0;
    for (q, keeps_labels) in queries {
        let paths = [
            format!(
                "/api/v1/query_range?query={}&start={start}&end={end}&step=60",
                enc(q)
            ),
            format!("/api/v1/query?query={}&time={}", enc(q), base_s + 1807),
            format!("/api/v1/query?query={}&time={end}", enc(q)),
        ];
        for path in &paths {
            // (a) Prometheus reading Ember answers as Ember.
            let ours = result(e1, path);
            assert!(
                ours.as_array().is_some_and(|a| !a.is_empty()),
                "{path}: {ours}"
            );
            let expected = if keeps_labels {
                with_region(ours.clone())
            } else {
                ours.clone()
            };
            assert_eq!(result(p2, path), expected, "P2 reading E1: {path}");
            // (b) Ember reading Prometheus answers as Prometheus.
            assert_eq!(result(e2, path), result(p1, path), "E2 reading P1: {path}");
            checked += 1;
        }
    }
    assert_eq!(checked, 18);
    // A matcher on the external label, through Prometheus: E1 treats region="eu"
    // as matching its unlabelled series and labels them with it.
    let path = format!(
        "/api/v1/query?query={}&time={end}",
        enc("rr_metric{region=\"eu\"}")
    );
    assert_eq!(
        result(p2, &path),
        with_region(result(
            e1,
            &format!("/api/v1/query?query=rr_metric&time={end}")
        ))
    );
    assert_eq!(
        result(
            p2,
            &format!(
                "/api/v1/query?query={}&time={end}",
                enc("rr_metric{region=\"us\"}")
            )
        ),
        J::Array(vec![])
    );
    // E2's own data answers beside the remote's.
    let local = result(e2, &format!("/api/v1/query?query=rr_local&time={end}"));
    assert_eq!(local[0]["value"][1], "239");
    // `/federate` serves local data only, as Prometheus does: E2's own series, none
    // of the remote's.
    let (code, fed) = get(
        e2,
        &format!("/federate?match[]={}", enc("{__name__=~\"rr_.+\"}")),
    )
    .unwrap();
    assert_eq!(code, 200, "{fed}");
    assert!(fed.contains("rr_local{"), "{fed}");
    assert!(
        !fed.contains("rr_metric") && !fed.contains("rr_other"),
        "{fed}"
    );

    // (c) Direct requests: both response types from both servers decode alike.
    let (mint, maxt) = (base, base + 3_600_000);
    let mut answers = Vec::new();
    for port in [e1, p1] {
        let (code, ct, body) = read(port, &read_req(&[0], "rr_metric", mint, maxt));
        assert_eq!(
            (code, ct.as_str()),
            (200, "application/x-protobuf"),
            "{port}"
        );
        let samples = decode_samples(&body).unwrap();
        let (code, ct, body) = read(port, &read_req(&[1, 0], "rr_metric", mint, maxt));
        assert_eq!(code, 200);
        assert_eq!(
            ct,
            "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"
        );
        let streamed = decode_streamed(&body, 0, mint, maxt).unwrap();
        assert_eq!(streamed, samples, "{port}: streamed vs samples");
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].samples.len(), 241);
        assert_eq!(samples[0].labels.get("region"), Some("eu"));
        answers.push(samples);
    }
    assert_eq!(answers[0], answers[1], "E1 and P1 answer the same");
    // 723 samples over the limit of 500: the same 400 and message from both.
    let over = read_req(&[0], "rr_.*", mint, maxt);
    let (ce, _, be) = read(e1, &over);
    let (cp, _, bp) = read(p1, &over);
    assert_eq!((ce, cp), (400, 400));
    assert_eq!(String::from_utf8_lossy(&be), String::from_utf8_lossy(&bp));
    assert_eq!(
        String::from_utf8_lossy(&be),
        "exceeded sample limit (500)\n"
    );
    // Not snappy: 400 from both.
    let bad = |port| {
        request(port, "POST", "/api/v1/read", &[], b"nonsense")
            .unwrap()
            .0
    };
    assert_eq!((bad(e1), bad(p1)), (400, 400));

    // (d) A reload adds required_matchers: only selects with job="a" reach P1.
    std::fs::write(
        e2_dir.join("ember.yml"),
        e2_cfg("    required_matchers:\n      job: a\n"),
    )
    .unwrap();
    reload(e2);
    let at = |q: &str| result(e2, &format!("/api/v1/query?query={}&time={end}", enc(q)));
    assert_eq!(at("rr_metric"), J::Array(vec![]));
    assert_eq!(
        at("rr_metric{job=\"a\"}"),
        result(
            p1,
            &format!(
                "/api/v1/query?query={}&time={end}",
                enc("rr_metric{job=\"a\"}")
            )
        )
    );
    assert_eq!(at("rr_local").as_array().map(Vec::len), Some(1));
    // read_recent: false with no local block yet: Prometheus trusts the local
    // storage only from now plus twice the block duration, so the remote is
    // still read for the past hour.
    std::fs::write(
        e2_dir.join("ember.yml"),
        e2_cfg("").replace("read_recent: true", "read_recent: false"),
    )
    .unwrap();
    reload(e2);
    assert_eq!(
        at("rr_metric"),
        result(p1, &format!("/api/v1/query?query=rr_metric&time={end}"))
    );
    // An unreachable remote is a warning, not a failure.
    std::fs::write(
        e2_dir.join("ember.yml"),
        format!(
            "{EXT}remote_read:\n  - url: http://127.0.0.1:{}/api/v1/read\n",
            free_port()
        ),
    )
    .unwrap();
    reload(e2);
    let (code, body) = get(e2, &format!("/api/v1/query?query=rr_local&time={end}")).unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("rr_local"), "{body}");
    // …reported in the answer's `warnings`, as Prometheus reports a failed remote.
    let v: J = serde_json::from_str(&body).unwrap();
    let warnings = v["warnings"].as_array().cloned().unwrap_or_default();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.starts_with("remote_read: "))),
        "{body}"
    );
}
