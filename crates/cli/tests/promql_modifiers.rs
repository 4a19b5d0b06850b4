//! `@`, `offset` and subqueries in the combinations the PromQL documentation
//! describes — each modifier alone, both together in either order, negative
//! offsets, `start()`/`end()`, subqueries with and without a step, nested
//! subqueries, subqueries under `@` and `offset`, functions over subqueries — as
//! instant and as range queries, against Debian's `prometheus` over the same blocks
//! (made by `promtool tsdb create-blocks-from openmetrics`).
//!
//! Prometheus 2.42 closes the left edge of lookback, range and subquery windows
//! where 3.x (and Ember) leaves it open. To keep that known difference out of the
//! comparison, nothing may sit on a window's left edge: samples are at 7 s past
//! each 15 s, evaluation times at 20 s past a minute, and every subquery range is
//! chosen so that no subquery step (aligned to multiples of the step) lands on an
//! edge either — hence `[5m30s:1m]` for the inner subquery of a nested one.

mod common;

use common::{free_port, get, have_prometheus, start_ember, start_prometheus_with, wait_ready};
use serde_json::Value as J;
use std::process::{Command, Stdio};

/// Data start (seconds): a whole hour.
const BASE: i64 = 1_700_002_800;
/// Data end: two hours later.
const END: i64 = BASE + 7200;

fn openmetrics() -> String {
    let mut s = String::from("# TYPE m gauge\n");
    for i in 1..=3 {
        let mut t = BASE + 7;
        while t < END {
            let v = ((t - BASE) / 15 * (i + 1)) % 97;
            s.push_str(&format!("m{{i=\"{i}\"}} {v} {t}\n"));
            t += 15;
        }
    }
    s.push_str("# TYPE c counter\n");
    for i in 1..=2 {
        let (mut t, mut v) = (BASE + 7, 0i64);
        while t < END {
            v += (t / 15 % 5) * i;
            // One counter reset half-way.
            if t == BASE + 3607 {
                v = 3;
            }
            s.push_str(&format!("c_total{{i=\"{i}\"}} {v} {t}\n"));
            t += 15;
        }
    }
    s.push_str("# EOF\n");
    s
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

/// The status code and the result (`data` on success, the whole error envelope
/// otherwise), series sorted by labels (Prometheus leaves the order of most
/// results unspecified).
fn api(port: u16, path: &str) -> (u16, J) {
    let (code, body) = get(port, path).unwrap();
    let v: J = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
    if code != 200 {
        return (code, v);
    }
    let mut v = v["data"].clone();
    if let Some(a) = v["result"].as_array_mut() {
        a.sort_by_key(|s| s["metric"].to_string());
    }
    (code, v)
}

/// Whether two results are the same: the same series, timestamps and shape, and
/// values equal within 1e-12 relative (float sums may differ in the last digit
/// between Prometheus 2.42's and 3.x's summation: `avg_over_time` changed).
fn same(a: &J, b: &J) -> bool {
    match (a, b) {
        (J::String(x), J::String(y)) => {
            x == y
                || match (x.parse::<f64>(), y.parse::<f64>()) {
                    (Ok(x), Ok(y)) => (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
                    _ => false,
                }
        }
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn at_offset_and_subqueries_match_prometheus() {
    if !have_prometheus() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let om = dir.path().join("data.om");
    std::fs::write(&om, openmetrics()).unwrap();
    let blocks = dir.path().join("blocks");
    let st = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&blocks)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    common::copy_dir(&blocks, &dir.path().join("prom"));
    common::copy_dir(&blocks, &dir.path().join("ember"));
    let (pp, ep) = (free_port(), free_port());
    // Negative offsets are on by default in 3.x.
    let _p = start_prometheus_with(
        dir.path(),
        "global: {}\n",
        pp,
        &["--enable-feature=promql-negative-offset"],
    );
    wait_ready(pp);
    let _e = start_ember(dir.path(), "global: {}\n", ep, &[]);

    let t0 = BASE + 3620; // 20 s past a minute, inside the data
    let exprs = [
        "m offset 5m".to_string(),
        "m offset -2m".to_string(),
        format!("m @ {t0}"),
        "m @ start()".to_string(),
        "m @ end()".to_string(),
        format!("m @ {t0} offset 5m"),
        format!("m offset 5m @ {t0}"),
        format!("m @ {t0} offset -10m"),
        format!("rate(c_total[5m] @ {t0})"),
        "rate(c_total[5m] offset 10m)".to_string(),
        format!("increase(c_total[10m] @ {t0} offset 3m)"),
        "max_over_time(m[10m:1m])".to_string(),
        "max_over_time(m[10m:1m] offset 5m)".to_string(),
        format!("max_over_time(m[10m:1m] @ {t0})"),
        format!("max_over_time(m[10m:1m] @ {t0} offset 2m)"),
        "sum_over_time(m[10m:])".to_string(),
        "avg_over_time(rate(c_total[5m])[20m:2m])".to_string(),
        "max_over_time(max_over_time(m[5m30s:1m])[20m:5m])".to_string(),
        format!("min_over_time(max_over_time(m[5m:1m] @ {t0})[20m:5m])"),
        format!("max_over_time((m @ {t0})[10m:1m])"),
        "rate(c_total[5m:30s])".to_string(),
        "min_over_time(rate(c_total[2m])[10m:1m] @ end())".to_string(),
        "last_over_time(m[10m:1m] offset -5m)".to_string(),
        "sum by (i) (m @ start())".to_string(),
        "m - m offset 1h".to_string(),
        format!("count_over_time(m[1h:5m] @ {t0} offset 30m)"),
        format!("timestamp(m @ {t0})"),
        "timestamp(max_over_time(m[10m:1m]))".to_string(),
        "deriv(m[10m:30s] offset 1m)".to_string(),
        "sum(rate(c_total[5m])) by (i) - sum(rate(c_total[5m] offset 5m)) by (i)".to_string(),
        // Misplaced or repeated modifiers: the same errors.
        format!("topk(1, m @ {t0}) offset 1m"),
        format!("m @ {t0} @ {t0}"),
        "m offset 1m offset 2m".to_string(),
        "m[5m] offset 1m [1m]".to_string(),
        "quantile_over_time(0.5, m[30m:90s])".to_string(),
    ];
    let (mut checked, mut errors) = (0, 0);
    for e in &exprs {
        let q = enc(e);
        // Instant queries at a few times from the data's start to its end.
        for at in [BASE + 620, t0, END - 40] {
            let path = format!("/api/v1/query?query={q}&time={at}");
            let (ours, theirs) = (api(ep, &path), api(pp, &path));
            assert!(
                ours.0 == theirs.0 && same(&ours.1, &theirs.1),
                "instant {e} at {at}:\n{ours:?}\n{theirs:?}"
            );
            checked += 1;
        }
        // A range query over 40 minutes at a 1-minute step.
        let path = format!(
            "/api/v1/query_range?query={q}&start={}&end={}&step=60",
            t0 - 1200,
            t0 + 1200
        );
        let (ours, theirs) = (api(ep, &path), api(pp, &path));
        assert!(
            ours.0 == theirs.0 && same(&ours.1, &theirs.1),
            "range {e}:\n{ours:?}\n{theirs:?}"
        );
        if ours.0 == 200 {
            assert!(
                ours.1["result"].as_array().is_some_and(|a| !a.is_empty()),
                "range {e}: empty on both, compare something"
            );
        } else {
            errors += 1;
        }
        checked += 1;
    }
    assert_eq!(checked, exprs.len() * 4);
    assert_eq!(errors, 4, "the four bad expressions fail on both");
}
