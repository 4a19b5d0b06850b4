//! Load on `ember alertmanager` (issue 7's acceptance): 10,000 alerts in 100 groups
//! posted again and again, as Prometheus re-sends its active alerts, with the
//! process's memory (VmRSS from /proc) sampled after each round and the webhook
//! notifications counted per group.
//!
//! Compressed in time: a round every `EMBER_LOAD_PERIOD_SECS` (default 10 s) for
//! `EMBER_LOAD_ROUNDS` rounds (default 6, one minute), instead of one a minute for
//! several minutes; the behaviour per round is the same (the alerts' `endsAt` is
//! pushed forward each time, nothing in the groups changes). Then all alerts are
//! posted resolved.
//!
//! Expected: exactly one firing notification per group (100, each with its 100
//! alerts) however many rounds, then exactly one resolved notification per group;
//! RSS after the last round within 1.5× (plus 16 MiB) of RSS after the first.
//!
//! Ignored by default (it takes over a minute); run with
//! `cargo test -p ember-cli --release --test alertmanager_load -- --ignored --nocapture`.

mod common;

use common::{Kill, free_port, request, wait_ready};
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const GROUPS: usize = 100;
const PER_GROUP: usize = 100;

/// (group label, status, number of alerts) of every webhook notification.
type Got = Arc<Mutex<Vec<(String, String, usize)>>>;

fn webhook(got: Got) -> u16 {
    common::serve_http(move |req| {
        let v: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
        got.lock().unwrap().push((
            v["groupLabels"]["group"].as_str().unwrap_or("").to_string(),
            v["status"].as_str().unwrap_or("").to_string(),
            v["alerts"].as_array().map_or(0, Vec::len),
        ));
        ""
    })
}

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

fn rfc3339(offset_ms: i64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    ember_model::time::format_rfc3339_millis(now.as_millis() as i64 + offset_ms)
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Posts all alerts, in batches of 1,000, ending at `ends_at`; returns the time
/// taken.
fn post_all(port: u16, starts_at: &str, ends_at: &str) -> Duration {
    let t = Instant::now();
    for batch in 0..(GROUPS * PER_GROUP / 1000) {
        let alerts: Vec<serde_json::Value> = (batch * 1000..(batch + 1) * 1000)
            .map(|i| {
                serde_json::json!({
                    "labels": {
                        "alertname": "LoadTest",
                        "group": format!("g{:03}", i / PER_GROUP),
                        "instance": format!("host-{:03}:9100", i % PER_GROUP),
                        "severity": "warning",
                    },
                    "annotations": {"summary": format!("alert {i} of the load test")},
                    "startsAt": starts_at,
                    "endsAt": ends_at,
                    "generatorURL": "http://prometheus.example/graph?g0.expr=up",
                })
            })
            .collect();
        let body = serde_json::to_vec(&alerts).unwrap();
        let r = request(
            port,
            "POST",
            "/api/v2/alerts",
            &[("Content-Type", "application/json")],
            &body,
        );
        assert_eq!(r.map(|r| r.0), Some(200), "post of batch {batch}");
    }
    t.elapsed()
}

#[test]
#[ignore = "load test, over a minute: run with --ignored"]
fn ten_thousand_alerts_in_a_hundred_groups() {
    let rounds = env_or("EMBER_LOAD_ROUNDS", 6);
    let period = Duration::from_secs(env_or("EMBER_LOAD_PERIOD_SECS", 10));
    let dir = tempfile::tempdir().unwrap();
    let got: Got = Arc::default();
    let hook = webhook(got.clone());
    let port = free_port();
    let cfg = dir.path().join("am.yml");
    std::fs::write(
        &cfg,
        format!(
            r#"route:
  receiver: hook
  group_by: [group]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
- name: hook
  webhook_configs:
  - url: http://127.0.0.1:{hook}/hook
    send_resolved: true
"#
        ),
    )
    .unwrap();
    let child = Kill(
        Command::new(env!("CARGO_BIN_EXE_ember"))
            .arg("alertmanager")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--alerts.gc-interval=5s")
            .arg("--log.level=error")
            .spawn()
            .unwrap(),
    );
    wait_ready(port);
    let pid = child.0.id();
    println!("idle RSS: {} KiB", rss_kib(pid));

    let starts_at = rfc3339(0);
    let mut rss = Vec::new();
    let start = Instant::now();
    for round in 0..rounds {
        let next = start + period * (round as u32 + 1);
        // Alive until well after the next round, as Prometheus's endsAt is.
        let took = post_all(port, &starts_at, &rfc3339(4 * period.as_millis() as i64));
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let kib = rss_kib(pid);
        let n = got.lock().unwrap().len();
        println!(
            "round {round}: posted 10000 alerts in {took:?}; RSS {kib} KiB; notifications so far {n}"
        );
        rss.push(kib);
    }
    // Resolve everything.
    let took = post_all(port, &starts_at, &rfc3339(-1));
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.lock().unwrap().len() < 2 * GROUPS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(5));
    println!(
        "resolved: posted in {took:?}; RSS {} KiB; notifications {}",
        rss_kib(pid),
        got.lock().unwrap().len()
    );

    let got = got.lock().unwrap().clone();
    let mut per: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (g, status, n) in got {
        per.entry((g, status)).or_default().push(n);
    }
    let firing = per.iter().filter(|((_, s), _)| s == "firing").count();
    let resolved = per.iter().filter(|((_, s), _)| s == "resolved").count();
    assert_eq!((firing, resolved), (GROUPS, GROUPS), "groups notified");
    for ((g, s), v) in &per {
        assert_eq!(
            v,
            &vec![PER_GROUP],
            "{g} {s}: notifications (alerts in each)"
        );
    }
    let (first, last) = (rss[0], *rss.last().unwrap());
    assert!(
        last <= first + first / 2 + 16 * 1024,
        "RSS grew from {first} KiB to {last} KiB"
    );
}
