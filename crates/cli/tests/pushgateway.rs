//! Interop: the same sequence of pushes against Debian's `prometheus-pushgateway`
//! and `ember pushgateway` must give the same status codes and, after every step,
//! the same `/metrics` (families, HELP, TYPE, series and values; the gateways' own
//! `go_*`, `process_*` and `pushgateway_*` families aside, and push timestamps
//! compared only as zero or not). Then Ember alone: restart keeps every group, a
//! damaged persistence file is reported and the gateway still starts.
//!
//! The flags' side is compared too: with `--web.route-prefix`, `--web.external-url`
//! (a path), `--web.enable-admin-api`, `--web.enable-lifecycle` and
//! `--push.disable-consistency-check`, the same requests (pushes, wipe, quit, the
//! API, paths outside the prefix) get the same status codes from both, and
//! `/api/v1/status` has the same JSON shape.
//!
//! The binary is `prometheus-pushgateway` on PATH or `$EMBER_PUSHGATEWAY_BIN`.
//! Without it the interop part says so and passes, unless `EMBER_REQUIRE_INTEROP=1`.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Kill, free_port, get, have_binary, request};
use ember_exposition::proto::{
    self, Bucket, Counter, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};
use ember_exposition::{Format, parse};

fn pushgateway_bin() -> String {
    std::env::var("EMBER_PUSHGATEWAY_BIN").unwrap_or_else(|_| "prometheus-pushgateway".into())
}

fn start_debian(port: u16) -> Kill {
    start_debian_at(port, &[], "")
}

/// Debian's gateway with `extra` flags, ready once `{prefix}/-/ready` answers. The
/// persistence file is always off: Debian's default is a system path.
fn start_debian_at(port: u16, extra: &[&str], prefix: &str) -> Kill {
    let k = Kill(
        Command::new(pushgateway_bin())
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--persistence.file=")
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus-pushgateway"),
    );
    common::wait_ready_at(port, &format!("{prefix}/-/ready"));
    k
}

fn start_ember(port: u16, extra: &[&str]) -> Kill {
    start_ember_at(port, extra, "")
}

/// `ember pushgateway` with `extra` flags, ready once `{prefix}/-/ready` answers.
fn start_ember_at(port: u16, extra: &[&str], prefix: &str) -> Kill {
    let k = Kill(
        Command::new(env!("CARGO_BIN_EXE_ember"))
            .arg("pushgateway")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=error")
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ember pushgateway"),
    );
    common::wait_ready_at(port, &format!("{prefix}/-/ready"));
    k
}

/// `/metrics` reduced to what both gateways must agree on: per family, HELP and TYPE,
/// then each series with its value (push timestamps as `zero`/`set`).
fn exposition(port: u16) -> BTreeMap<String, Vec<String>> {
    exposition_at(port, "/metrics")
}

/// [`exposition`] of the telemetry path `path` (under a route prefix).
fn exposition_at(port: u16, path: &str) -> BTreeMap<String, Vec<String>> {
    let (code, body) = request(port, "GET", path, &[], b"").expect("scrape");
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    let families = parse(&body, Format::Text).expect("exposition parses");
    let mut out = BTreeMap::new();
    for f in families {
        if f.name.starts_with("go_")
            || f.name.starts_with("process_")
            || f.name.starts_with("pushgateway_")
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
            let value = if f.name.starts_with("push_") && f.name.ends_with("time_seconds") {
                if s.value == 0.0 { "zero" } else { "set" }.to_string()
            } else {
                format!("{}", s.value)
            };
            lines.push(format!("{}{{{}}} {value}", s.name, labels.join(",")));
        }
        out.insert(f.name.clone(), lines);
    }
    out
}

/// `/api/v1/metrics` with groups in a fixed order, push times as `zero`/`set` and
/// the families' `time_stamp`s as present or not.
fn api_metrics(port: u16) -> serde_json::Value {
    use serde_json::Value;
    let (code, body) = request(port, "GET", "/api/v1/metrics", &[], b"").expect("api");
    assert_eq!(code, 200);
    let mut v: Value = serde_json::from_slice(&body).expect("json");
    let Some(groups) = v["data"].as_array_mut() else {
        panic!("no data array: {v}");
    };
    for g in groups.iter_mut() {
        let Some(obj) = g.as_object_mut() else {
            continue;
        };
        for (name, fam) in obj.iter_mut() {
            if let Some(ts) = fam.get_mut("time_stamp") {
                *ts = Value::Bool(ts.is_string());
            }
            if name.starts_with("push_")
                && let Some(ms) = fam["metrics"].as_array_mut()
            {
                for m in ms {
                    let zero = m["value"] == "0";
                    m["value"] = Value::String(if zero { "zero" } else { "set" }.into());
                }
            }
        }
    }
    groups.sort_by_key(|g| g["labels"].to_string());
    v
}

struct Step {
    what: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, &'static str)>,
    body: Vec<u8>,
}

fn step(what: &'static str, method: &'static str, path: &str, body: &str) -> Step {
    Step {
        what,
        method,
        path: path.to_string(),
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
    }
}

fn protobuf_body() -> Vec<u8> {
    let families = vec![
        MetricFamily {
            name: Some("proto_requests_total".into()),
            help: Some("Requests, pushed as protobuf.".into()),
            r#type: Some(MetricType::Counter as i32),
            metric: vec![Metric {
                label: vec![LabelPair::new("code", "200")],
                counter: Some(Counter {
                    value: Some(42.0),
                    ..Counter::default()
                }),
                ..Metric::default()
            }],
            unit: None,
        },
        MetricFamily {
            name: Some("proto_latency_seconds".into()),
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
    ];
    let mut out = Vec::new();
    proto::encode_delimited(&mut out, &families);
    out
}

fn gzip(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).expect("gzip");
    e.finish().expect("gzip")
}

fn steps() -> Vec<Step> {
    let full = "# HELP batch_last_success_seconds Last success.\n# TYPE batch_last_success_seconds gauge\nbatch_last_success_seconds 1.7e9\n# TYPE batch_items untyped\nbatch_items{kind=\"a\"} 10\nbatch_items{kind=\"b\"} 1e6\n# HELP batch_duration_seconds Duration.\n# TYPE batch_duration_seconds histogram\nbatch_duration_seconds_bucket{le=\"0.5\"} 1\nbatch_duration_seconds_bucket{le=\"1\"} 2\nbatch_duration_seconds_sum 1.25\nbatch_duration_seconds_count 2\n# TYPE batch_size summary\nbatch_size{quantile=\"0.5\"} 3\nbatch_size{quantile=\"0.99\"} 0.000001\nbatch_size_sum 30\nbatch_size_count 7\nno_type_total 5\n";
    let mut v = vec![
        step(
            "PUT a full group",
            "PUT",
            "/metrics/job/batch/instance/host1",
            full,
        ),
        step(
            "POST replaces same-named families only",
            "POST",
            "/metrics/job/batch/instance/host1",
            "# TYPE batch_items untyped\nbatch_items{kind=\"c\"} 7\nextra_metric 2\n",
        ),
        step(
            "PUT with a base64 label value holding slashes, pushed job/instance labels",
            "PUT",
            "/metrics/job/files/path@base64/L3Zhci90bXAvYQ",
            "batch_items{kind=\"z\",job=\"other\",instance=\"pushed\",path=\"x\"} 3\n",
        ),
        step(
            "PUT with a base64 job and an empty label value",
            "PUT",
            "/metrics/job@base64/YS9i/empty@base64/=",
            // Same HELP as the first group: where groups disagree, the original
            // picks a winner at random (its README says so), so no test can compare.
            "# HELP batch_last_success_seconds Last success.\n# TYPE batch_last_success_seconds gauge\nbatch_last_success_seconds 5\n",
        ),
        step(
            "PUT a type conflict with another group",
            "PUT",
            "/metrics/job/conflict",
            "# TYPE batch_last_success_seconds counter\nbatch_last_success_seconds 1\n",
        ),
        step(
            "PUT a series another group already has",
            "PUT",
            "/metrics/job/batch",
            "batch_items{instance=\"host1\",kind=\"c\"} 1\n",
        ),
        step(
            "PUT duplicate series in one push",
            "PUT",
            "/metrics/job/dups",
            "dup_metric 1\ndup_metric 2\n",
        ),
        step(
            "PUT a sample with a timestamp",
            "PUT",
            "/metrics/job/stamped",
            "stamped_metric 1 1700000000000\n",
        ),
        step(
            "PUT a gauge named like a summary's count",
            "PUT",
            "/metrics/job/suffix",
            "batch_size_count 1\n",
        ),
        step(
            "PUT a malformed body",
            "PUT",
            "/metrics/job/bad",
            "a{b=\"c\" 1\n",
        ),
        step(
            "PUT an odd label path",
            "PUT",
            "/metrics/job/x/onlyname",
            "a 1\n",
        ),
        step(
            "PUT a reserved label name",
            "PUT",
            "/metrics/job/x/__r/1",
            "a 1\n",
        ),
        step(
            "PUT an invalid label name",
            "PUT",
            "/metrics/job/x/a-b/1",
            "a 1\n",
        ),
        step(
            "PUT bad base64",
            "PUT",
            "/metrics/job/x/a@base64/%25%25",
            "a 1\n",
        ),
        step(
            "PUT an empty base64 job",
            "PUT",
            "/metrics/job@base64/=",
            "a 1\n",
        ),
        step(
            "POST to a fresh group",
            "POST",
            "/metrics/job/fresh/instance/i/zone/eu",
            "# HELP fresh_total Fresh.\n# TYPE fresh_total counter\nfresh_total 1\n",
        ),
        step(
            "PUT with an empty body keeps the group with push time only",
            "PUT",
            "/metrics/job/fresh/instance/i/zone/eu",
            "",
        ),
        step(
            "DELETE the base64 group",
            "DELETE",
            "/metrics/job/files/path@base64/L3Zhci90bXAvYQ",
            "",
        ),
        step(
            "DELETE a group that does not exist",
            "DELETE",
            "/metrics/job/none",
            "",
        ),
        step(
            "DELETE the conflict group",
            "DELETE",
            "/metrics/job/conflict",
            "",
        ),
    ];
    v.insert(
        4,
        Step {
            what: "PUT a protobuf body",
            method: "PUT",
            path: "/metrics/job/proto".into(),
            headers: vec![(
                "Content-Type",
                "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
            )],
            body: protobuf_body(),
        },
    );
    v.insert(
        5,
        Step {
            what: "PUT a gzip-encoded text body",
            method: "PUT",
            path: "/metrics/job/zipped".into(),
            headers: vec![("Content-Encoding", "gzip")],
            body: gzip("# HELP zipped_metric Zipped.\n# TYPE zipped_metric gauge\nzipped_metric{a=\"1\"} 9\n"),
        },
    );
    v
}

#[test]
fn same_answers_as_debian_pushgateway() {
    if !have_binary(&pushgateway_bin()) {
        return;
    }
    let (dp, ep) = (free_port(), free_port());
    let _debian = start_debian(dp);
    let _ember = start_ember(ep, &[]);
    let mut mismatches = Vec::new();
    let all = steps();
    for (i, s) in all.iter().enumerate() {
        let headers: Vec<(&str, &str)> = s.headers.clone();
        let d = request(dp, s.method, &s.path, &headers, &s.body)
            .unwrap_or_else(|| panic!("step {i}: debian does not answer"));
        let e = request(ep, s.method, &s.path, &headers, &s.body)
            .unwrap_or_else(|| panic!("step {i}: ember does not answer"));
        println!("step {i:2} {:<70} debian {} ember {}", s.what, d.0, e.0);
        if d.0 != e.0 {
            mismatches.push(format!(
                "step {i} ({}): status debian {} ({}) vs ember {} ({})",
                s.what,
                d.0,
                String::from_utf8_lossy(&d.1).trim(),
                e.0,
                String::from_utf8_lossy(&e.1).trim()
            ));
        }
        let (de, ee) = (exposition(dp), exposition(ep));
        if de != ee {
            let mut diff = Vec::new();
            for name in de
                .keys()
                .chain(ee.keys())
                .collect::<std::collections::BTreeSet<_>>()
            {
                if de.get(name) != ee.get(name) {
                    diff.push(format!(
                        "  {name}:\n    debian {:?}\n    ember  {:?}",
                        de.get(name),
                        ee.get(name)
                    ));
                }
            }
            mismatches.push(format!(
                "step {i} ({}): /metrics differs\n{}",
                s.what,
                diff.join("\n")
            ));
        }
    }
    let (dj, ej) = (api_metrics(dp), api_metrics(ep));
    if dj != ej {
        mismatches.push(format!(
            "/api/v1/metrics differs:\n  debian {dj}\n  ember  {ej}"
        ));
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatch(es):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    println!(
        "{} steps, same status codes and /metrics after each",
        all.len()
    );
}

#[test]
fn restart_keeps_groups_and_corrupt_file_is_survived() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("pg.data");
    let flag = format!("--persistence.file={}", file.display());
    let port = free_port();
    let body = "# TYPE kept gauge\nkept{a=\"1\"} 1\n";
    let groups = [
        "/metrics/job/a",
        "/metrics/job/b/instance/x",
        "/metrics/job@base64/Yi9j/e@base64/=",
    ];
    let before;
    {
        let mut gw = start_ember(port, &[&flag, "--persistence.interval=1h"]);
        for (i, g) in groups.iter().enumerate() {
            let b = body.replace("a=\"1\"", &format!("a=\"{i}\""));
            assert_eq!(
                request(port, "PUT", g, &[], b.as_bytes()).expect("push").0,
                200
            );
        }
        before = exposition(port);
        // SIGTERM: the gateway writes the file on its way out.
        let pid = gw.0.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        let status = gw.0.wait().expect("exits");
        assert!(status.success(), "{status}");
    }
    assert!(file.exists(), "persistence file written at shutdown");
    {
        let _gw = start_ember(port, &[&flag]);
        assert_eq!(exposition(port), before, "restart keeps every group");
        let (_, api) = request(port, "GET", "/api/v1/metrics", &[], b"").expect("api");
        let v: serde_json::Value = serde_json::from_slice(&api).expect("json");
        assert_eq!(v["data"].as_array().map(Vec::len), Some(groups.len()));
    }
    // Damage the file: the gateway starts, empty, and says why.
    let mut bytes = std::fs::read(&file).expect("read");
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&file, &bytes).expect("write");
    let mut gw = start_ember(port, &[&flag]);
    assert!(exposition(port).is_empty(), "starts empty");
    let (_, page) = request(port, "GET", "/", &[], b"").expect("ui");
    assert!(
        String::from_utf8_lossy(&page).contains("corrupt persistence file"),
        "the UI reports the damaged file"
    );
    let moved = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().contains(".corrupt-"));
    assert!(moved, "the damaged file is kept aside");
    let _ = gw.0.kill();
    let mut err = String::new();
    if let Some(mut s) = gw.0.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut s, &mut err);
    }
    assert!(err.contains("corrupt persistence file"), "logged: {err}");
}

#[test]
fn groups_expire_when_asked() {
    let port = free_port();
    let _gw = start_ember(port, &["--push.expire-after=1s"]);
    let (code, _) = request(port, "PUT", "/metrics/job/done", &[], b"finished 1\n").expect("push");
    assert_eq!(code, 200);
    // A job whose later pushes all fail: only successful pushes keep a group.
    let (code, _) = request(port, "PUT", "/metrics/job/failing", &[], b"stale 1\n").expect("push");
    assert_eq!(code, 200);
    assert!(exposition(port).contains_key("finished"));
    let t = Instant::now();
    while exposition(port).contains_key("finished") || exposition(port).contains_key("stale") {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "groups not expired after 10 s with --push.expire-after=1s: {:?}",
            exposition(port).keys().collect::<Vec<_>>()
        );
        let (code, _) = request(port, "POST", "/metrics/job/failing", &[], b"dup 1\ndup 2\n")
            .expect("failing push");
        assert_eq!(code, 400, "a push with duplicate series is refused");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn server_scraping_with_honor_labels_keeps_pushed_job_and_instance() {
    let (gp, sp) = (free_port(), free_port());
    let _gw = start_ember(gp, &[]);
    let body = "# TYPE batch_done gauge\nbatch_done 1\n";
    let (code, _) = request(
        gp,
        "PUT",
        "/metrics/job/nightly/instance/db1",
        &[],
        body.as_bytes(),
    )
    .expect("push");
    assert_eq!(code, 200);
    // No instance in the grouping key: the gateway exposes `instance=""`, which under
    // honor_labels must hide the target's instance rather than take its address.
    let (code, _) =
        request(gp, "PUT", "/metrics/job/weekly", &[], b"weekly_done 1\n").expect("push");
    assert_eq!(code, 200);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: pushgateway\n    honor_labels: true\n    static_configs:\n      - targets: ['127.0.0.1:{gp}']\n"
    );
    let _server = common::start_ember(dir.path(), &config, sp, &[]);
    let t = Instant::now();
    loop {
        let (_, out) = get(sp, "/api/v1/query?query=batch_done").expect("query");
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        if let Some(r) = v["data"]["result"].as_array().and_then(|r| r.first()) {
            assert_eq!(r["metric"]["job"], "nightly", "{v}");
            assert_eq!(r["metric"]["instance"], "db1", "{v}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "never scraped: {v}");
        std::thread::sleep(Duration::from_millis(250));
    }
    let (_, out) = get(sp, "/api/v1/query?query=weekly_done").expect("query");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let m = &v["data"]["result"][0]["metric"];
    assert_eq!(m["job"], "weekly", "{v}");
    assert!(
        m.get("instance").is_none(),
        "instance must stay absent: {v}"
    );
}

/// One request to both gateways: its status codes, and a mismatch line if they
/// differ.
fn same_code(
    dp: u16,
    ep: u16,
    method: &str,
    path: &str,
    body: &str,
    mismatches: &mut Vec<String>,
) -> u16 {
    let d = request(dp, method, path, &[], body.as_bytes())
        .unwrap_or_else(|| panic!("{method} {path}: debian does not answer"));
    let e = request(ep, method, path, &[], body.as_bytes())
        .unwrap_or_else(|| panic!("{method} {path}: ember does not answer"));
    println!("{method:<7} {path:<45} debian {} ember {}", d.0, e.0);
    if d.0 != e.0 {
        mismatches.push(format!(
            "{method} {path}: debian {} ({}) vs ember {} ({})",
            d.0,
            String::from_utf8_lossy(&d.1).trim(),
            e.0,
            String::from_utf8_lossy(&e.1).trim()
        ));
    }
    d.0
}

fn status_json(port: u16, path: &str) -> serde_json::Value {
    let (code, body) = request(port, "GET", path, &[], b"").expect("status");
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).expect("status JSON")
}

fn keys(v: &serde_json::Value) -> std::collections::BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Flags only one side has: Debian patches in `--web.local-assets` (its UI files
/// live under /usr/share), and `--push.expire-after` is Ember's addition.
const DEBIAN_ONLY_FLAGS: &[&str] = &["web.local-assets"];
const EMBER_ONLY_FLAGS: &[&str] = &["push.expire-after"];

/// `/api/v1/status` of both: the same keys at every level (versions, build data and
/// start times differ legitimately and are only checked for presence), and the same
/// flag values but the listen address (each its own port).
fn compare_status(dp: u16, ep: u16, path: &str, mismatches: &mut Vec<String>) {
    let (d, e) = (status_json(dp, path), status_json(ep, path));
    let mut shape = |what: &str, a: &serde_json::Value, b: &serde_json::Value| {
        if keys(a) != keys(b) {
            mismatches.push(format!(
                "{path} {what} keys: debian {:?} vs ember {:?}",
                keys(a),
                keys(b)
            ));
        }
    };
    shape("top-level", &d, &e);
    shape("data", &d["data"], &e["data"]);
    shape(
        "build_information",
        &d["data"]["build_information"],
        &e["data"]["build_information"],
    );
    assert_eq!(d["status"], "success");
    assert_eq!(e["status"], "success");
    for v in [&d, &e] {
        let start = v["data"]["start_time"].as_str().unwrap_or_default();
        assert!(
            start.contains('T') && start.ends_with('Z'),
            "start_time as Go marshals a time: {v}"
        );
    }
    let (df, ef) = (&d["data"]["flags"], &e["data"]["flags"]);
    let dk: std::collections::BTreeSet<String> = keys(df)
        .into_iter()
        .filter(|k| !DEBIAN_ONLY_FLAGS.contains(&k.as_str()))
        .collect();
    let ek: std::collections::BTreeSet<String> = keys(ef)
        .into_iter()
        .filter(|k| !EMBER_ONLY_FLAGS.contains(&k.as_str()))
        .collect();
    if dk != ek {
        mismatches.push(format!(
            "{path} flags: only debian {:?}, only ember {:?}",
            dk.difference(&ek).collect::<Vec<_>>(),
            ek.difference(&dk).collect::<Vec<_>>()
        ));
    }
    let mut compared = 0;
    for k in dk.intersection(&ek) {
        // Each listens on its own port (and says so in its external URL); Ember is
        // started with --log.level=error to keep its stderr pipe quiet.
        if ["web.listen-address", "web.external-url", "log.level"].contains(&k.as_str()) {
            continue;
        }
        compared += 1;
        if df[k] != ef[k] {
            mismatches.push(format!(
                "{path} flag {k}: debian {} vs ember {}",
                df[k], ef[k]
            ));
        }
    }
    println!(
        "{path}: {} flags on both, {compared} values compared; debian-only {DEBIAN_ONLY_FLAGS:?}, ember-only {EMBER_ONLY_FLAGS:?}",
        dk.intersection(&ek).count()
    );
}

/// Waits for a gateway to exit after `/-/quit`; its exit status.
fn exits(k: &mut Kill, who: &str) -> std::process::ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(s) = k.0.try_wait().expect("wait") {
            return s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{who} still running 10 s after /-/quit"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_none(mismatches: &[String]) {
    assert!(
        mismatches.is_empty(),
        "{} mismatch(es):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn admin_lifecycle_and_status_under_a_route_prefix_as_debian() {
    if !have_binary(&pushgateway_bin()) {
        return;
    }
    let flags = [
        "--web.enable-admin-api",
        "--web.enable-lifecycle",
        "--web.route-prefix=/pg",
    ];
    let (dp, ep) = (free_port(), free_port());
    let mut debian = start_debian_at(dp, &flags, "/pg");
    let mut ember = start_ember_at(ep, &flags, "/pg");
    let mut m = Vec::new();
    let requests: &[(&str, &str, &str)] = &[
        (
            "PUT",
            "/pg/metrics/job/a/instance/x",
            "# TYPE a gauge\na 1\n",
        ),
        ("POST", "/pg/metrics/job/b", "b 2\n"),
        ("PUT", "/pg/metrics/job/c", "# TYPE a counter\na 1\n"),
        ("PUT", "/metrics/job/outside", "a 1\n"),
        ("GET", "/pg/metrics", ""),
        ("GET", "/metrics", ""),
        ("GET", "/-/ready", ""),
        ("GET", "/pg/-/healthy", ""),
        ("GET", "/pg/api/v1/metrics", ""),
        ("GET", "/pg/api/v1/status", ""),
        ("GET", "/api/v1/status", ""),
        ("POST", "/pg/api/v1/status", ""),
        ("OPTIONS", "/pg/api/v1/status", ""),
        ("OPTIONS", "/pg/api/v1/admin/wipe", ""),
        ("OPTIONS", "/pg/api/v1/unknown", ""),
        ("GET", "/pg/api/v1/unknown", ""),
        ("GET", "/pg/api/v1/admin/wipe", ""),
        ("POST", "/pg/api/v1/admin/wipe", ""),
        ("DELETE", "/pg/api/v1/admin/wipe", ""),
        ("PUT", "/api/v1/admin/wipe", ""),
        ("GET", "/pg", ""),
        ("GET", "/pg/", ""),
        ("GET", "/pg/-/quit", ""),
        ("DELETE", "/pg/-/quit", ""),
        ("GET", "/-/quit", ""),
        ("PUT", "/-/quit", ""),
        ("POST", "/-/quit", ""),
    ];
    for (method, path, body) in requests {
        same_code(dp, ep, method, path, body, &mut m);
    }
    assert_eq!(
        exposition_at(dp, "/pg/metrics"),
        exposition_at(ep, "/pg/metrics"),
        "groups pushed under the prefix"
    );
    assert!(exposition_at(ep, "/pg/metrics").contains_key("a"));
    compare_status(dp, ep, "/pg/api/v1/status", &mut m);

    // Wipe: every group goes.
    assert_eq!(
        same_code(dp, ep, "PUT", "/pg/api/v1/admin/wipe", "", &mut m),
        202
    );
    let t = Instant::now();
    while !exposition_at(dp, "/pg/metrics").is_empty() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(exposition_at(dp, "/pg/metrics").is_empty(), "debian wiped");
    assert!(exposition_at(ep, "/pg/metrics").is_empty(), "ember wiped");
    let (_, api) = request(ep, "GET", "/pg/api/v1/metrics", &[], b"").expect("api");
    let v: serde_json::Value = serde_json::from_slice(&api).expect("json");
    assert_eq!(v["data"], serde_json::json!([]), "no groups left: {v}");

    // Quit: the answer, then both processes end.
    let d = request(dp, "POST", "/pg/-/quit", &[], b"").expect("debian quit");
    let e = request(ep, "POST", "/pg/-/quit", &[], b"").expect("ember quit");
    assert_eq!((d.0, &d.1), (e.0, &e.1), "quit answer");
    assert_eq!(e.0, 200);
    exits(&mut debian, "debian");
    let status = exits(&mut ember, "ember");
    assert!(
        status.success(),
        "ember exits cleanly after /-/quit: {status}"
    );
    assert_none(&m);
}

#[test]
fn external_url_path_and_disabled_lifecycle_and_admin_as_debian() {
    if !have_binary(&pushgateway_bin()) {
        return;
    }
    let (dp, ep) = (free_port(), free_port());
    let durl = format!("--web.external-url=http://127.0.0.1:{dp}/ext/");
    let eurl = format!("--web.external-url=http://127.0.0.1:{ep}/ext/");
    let _debian = start_debian_at(dp, &[&durl], "/ext");
    let _ember = start_ember_at(ep, &[&eurl], "/ext");
    let mut m = Vec::new();
    let requests: &[(&str, &str, &str)] = &[
        ("PUT", "/ext/metrics/job/a", "a 1\n"),
        ("PUT", "/metrics/job/a", "a 1\n"),
        ("GET", "/ext/metrics", ""),
        ("GET", "/-/ready", ""),
        ("GET", "/ext/api/v1/status", ""),
        ("PUT", "/ext/api/v1/admin/wipe", ""),
        ("GET", "/ext/api/v1/admin/wipe", ""),
        ("PUT", "/ext/-/quit", ""),
        ("POST", "/ext/-/quit", ""),
        ("GET", "/ext/-/quit", ""),
        ("GET", "/ext", ""),
        ("GET", "/ext/", ""),
    ];
    for (method, path, body) in requests {
        same_code(dp, ep, method, path, body, &mut m);
    }
    // Still up after the refused quit, with the group kept (no wipe).
    assert_eq!(get(ep, "/ext/-/ready").map(|r| r.0), Some(200));
    assert_eq!(
        exposition_at(dp, "/ext/metrics"),
        exposition_at(ep, "/ext/metrics")
    );
    assert!(exposition_at(ep, "/ext/metrics").contains_key("a"));
    compare_status(dp, ep, "/ext/api/v1/status", &mut m);
    let flags = status_json(ep, "/ext/api/v1/status")["data"]["flags"].clone();
    assert_eq!(
        flags["web.route-prefix"], "/ext",
        "the prefix in use: {flags}"
    );
    assert_eq!(
        flags["web.external-url"],
        format!("http://127.0.0.1:{ep}/ext/")
    );
    assert_none(&m);
}

#[test]
fn disabled_consistency_check_as_debian() {
    if !have_binary(&pushgateway_bin()) {
        return;
    }
    let flag = ["--push.disable-consistency-check"];
    let (dp, ep) = (free_port(), free_port());
    let _debian = start_debian_at(dp, &flag, "");
    let _ember = start_ember_at(ep, &flag, "");
    let mut m = Vec::new();
    // Unchecked pushes are answered 202 before they are applied; only what cannot
    // be parsed is refused.
    let requests: &[(&str, &str, &str)] = &[
        ("PUT", "/metrics/job/a", "# TYPE x gauge\nx 1\n"),
        ("PUT", "/metrics/job/b", "# TYPE x counter\nx 2\n"),
        ("PUT", "/metrics/job/c", "stamped 1 1700000000000\n"),
        ("POST", "/metrics/job/e", "dup 1\ndup 2\n"),
        ("PUT", "/metrics/job/d", "bad{ 1\n"),
        ("PUT", "/metrics/job/x/onlyname", "a 1\n"),
    ];
    for (method, path, body) in requests {
        same_code(dp, ep, method, path, body, &mut m);
    }
    assert_eq!(
        request(ep, "PUT", "/metrics/job/b", &[], b"# TYPE x counter\nx 2\n").map(|r| r.0),
        Some(202),
        "an inconsistent push is accepted unchecked"
    );
    // What got in makes the exposition inconsistent: both refuse to serve it.
    let scrape_code = |port| request(port, "GET", "/metrics", &[], b"").map(|r| r.0);
    let t = Instant::now();
    while scrape_code(dp) == Some(200) && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (dc, ec) = (scrape_code(dp), scrape_code(ep));
    println!("scrape of an inconsistent store: debian {dc:?} ember {ec:?}");
    if dc != ec {
        m.push(format!("scrape: debian {dc:?} vs ember {ec:?}"));
    }
    // Deleting the offending groups makes it servable again, with the same series.
    same_code(dp, ep, "DELETE", "/metrics/job/b", "", &mut m);
    same_code(dp, ep, "DELETE", "/metrics/job/e", "", &mut m);
    let t = Instant::now();
    while scrape_code(dp) != Some(200) && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (de, ee) = (exposition(dp), exposition(ep));
    if de != ee {
        m.push(format!(
            "/metrics differs:\n  debian {de:?}\n  ember  {ee:?}"
        ));
    }
    compare_status(dp, ep, "/api/v1/status", &mut m);
    assert_none(&m);
}
