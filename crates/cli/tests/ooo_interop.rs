//! The out-of-order window against Debian's `prometheus`: both get
//! `storage.tsdb.out_of_order_time_window: 1h` and the same remote-write requests —
//! in-order samples, then older ones interleaved with them, then one older than the
//! window — and must then hold the same samples, before and after a restart
//! (which rebuilds the out-of-order data from the write-behind log).

mod common;

use common::{
    free_port, get, have_prometheus, request, start_ember, start_prometheus_with, wait_ready,
};
use ember_remote::proto::{Label, Sample, TimeSeries, WriteRequest};
use prost::Message;
use serde_json::Value as J;

const CONFIG: &str = "global: {}\nstorage:\n  tsdb:\n    out_of_order_time_window: 1h\n";

fn write(port: u16, name: &str, samples: &[(i64, f64)]) -> u16 {
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![
                Label {
                    name: "__name__".into(),
                    value: name.into(),
                },
                Label {
                    name: "job".into(),
                    value: "ooo".into(),
                },
            ],
            samples: samples
                .iter()
                .map(|&(timestamp, value)| Sample { value, timestamp })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap();
    request(
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
    .expect("remote write answered")
    .0
}

/// Raw samples of `name` over the 2 h before `at` (seconds).
fn raw(port: u16, name: &str, at: i64) -> J {
    let (code, body) = get(
        port,
        &format!("/api/v1/query?query={name}%5B2h%5D&time={at}"),
    )
    .unwrap();
    assert_eq!(code, 200, "{body}");
    let v: J = serde_json::from_str(&body).unwrap();
    v["data"]["result"].clone()
}

#[test]
fn out_of_order_samples_match_prometheus() {
    if !have_prometheus() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let base = (now_ms - 30 * 60_000) / 1000 * 1000;
    let in_order: Vec<(i64, f64)> = (0..60).map(|i| (base + i * 10_000, i as f64)).collect();
    // Between the in-order ones, newest first, and one on an in-order timestamp.
    let mut late: Vec<(i64, f64)> = (0..30)
        .rev()
        .map(|i| (base + i * 10_000 + 5_000, 1000.0 + i as f64))
        .collect();
    late.push((base + 100_000, -1.0));
    // A series whose first samples arrive late for the head.
    let only_late: Vec<(i64, f64)> = (0..5).map(|i| (base + i * 1000, i as f64)).collect();
    let too_old = [(base - 2 * 3_600_000, 0.5)];

    let (ep, pp) = (free_port(), free_port());
    let (edir, pdir) = (dir.path().join("e"), dir.path().join("p"));
    std::fs::create_dir_all(&edir).unwrap();
    std::fs::create_dir_all(&pdir).unwrap();
    let check = |ep: u16, pp: u16, when: &str| {
        let at = now_ms / 1000 + 60;
        for name in ["ooo_a", "ooo_b"] {
            let (ours, theirs) = (raw(ep, name, at), raw(pp, name, at));
            assert_eq!(ours, theirs, "{when}: {name}");
            assert_eq!(
                ours.as_array().map(Vec::len),
                Some(1),
                "{when}: {name}: {ours}"
            );
        }
        let n = raw(ep, "ooo_a", at)[0]["values"].as_array().unwrap().len();
        assert_eq!(n, 90, "{when}: 60 in order + 30 between them");
    };
    {
        let _e = start_ember(&edir, CONFIG, ep, &["--web.enable-remote-write-receiver"]);
        let _p = start_prometheus_with(&pdir, CONFIG, pp, &["--web.enable-remote-write-receiver"]);
        wait_ready(pp);
        for port in [ep, pp] {
            assert_eq!(write(port, "ooo_a", &in_order), 204);
            // A late sample for a series that has only newer ones: the head's
            // newest sample is what the window is measured from.
            assert_eq!(write(port, "ooo_b", &[(base + 600_000, 9.0)]), 204);
            for s in &late {
                assert_eq!(write(port, "ooo_a", std::slice::from_ref(s)), 204, "{s:?}");
            }
            assert_eq!(write(port, "ooo_b", &only_late), 204);
        }
        // Older than the window: refused by both (2.42 answers 500 for "too old",
        // later versions 400, as Ember does) and stored by neither.
        assert_eq!(write(ep, "ooo_a", &too_old), 400);
        assert!(write(pp, "ooo_a", &too_old) >= 400);
        check(ep, pp, "before restart");
    }
    // Killed (SIGKILL) and started again on the same directories.
    let _e = start_ember(&edir, CONFIG, ep, &["--web.enable-remote-write-receiver"]);
    let _p = start_prometheus_with(&pdir, CONFIG, pp, &["--web.enable-remote-write-receiver"]);
    wait_ready(pp);
    check(ep, pp, "after restart");
    assert!(edir.join("ember/wbl").is_dir());
}
