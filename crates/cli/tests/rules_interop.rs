//! Interop for rules and alerting: Ember and Debian's `prometheus` run the same rule
//! file over the same target (Ember's Pushgateway, scraped with `honor_labels`),
//! each sending to its own Debian `prometheus-alertmanager`. `amtool alert query`
//! must show the same alerts with the same labels and annotations from both; when
//! the condition goes away, the alerts resolve in both (one held a little longer by
//! `keep_firing_for`); and `/api/v1/rules` and `/api/v1/alerts` agree on names,
//! states, labels and health (a group over its `limit` included). External labels,
//! `$externalLabels` and `alert_relabel_configs` are part of what is compared.
//!
//! Needs `prometheus`, `prometheus-alertmanager` and `amtool`; without them the test
//! says so and passes, unless `EMBER_REQUIRE_INTEROP=1`.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    Am, Kill, free_port, get, have_binary, request, start_alertmanager, start_ember,
    start_prometheus,
};
use serde_json::Value;

const RULES: &str = r#"groups:
  - name: batch
    interval: 1s
    rules:
      - alert: BatchFailed
        expr: batch_failed > 0
        labels:
          severity: page
        annotations:
          summary: "Batch {{ $labels.task }} failed {{ $value }} times"
          description: "{{ $value | humanize }} failures on {{ $labels.job }}; {{ if gt $value 1.0 }}several{{ else }}once{{ end }}"
      - alert: BatchFailedLong
        expr: batch_failed > 0
        for: 1h
        annotations:
          summary: "still failing"
      - alert: BatchHeld
        expr: batch_failed > 0
        keep_firing_for: 10s
        annotations:
          summary: "held in {{ $externalLabels.region }}"
      - record: job:batch_failed:sum
        expr: sum by (job) (batch_failed)
  - name: limited
    interval: 1s
    limit: 1
    rules:
      - record: two_series
        expr: vector(1) or label_replace(vector(2), "x", "y", "", "")
"#;

/// `amtool alert query -o json` against the Alertmanager on `port`: alert name to
/// (labels, annotations).
fn amtool_alerts(port: u16) -> BTreeMap<String, (Value, Value)> {
    let out = Command::new("amtool")
        .args(["alert", "query", "-o", "json"])
        .arg(format!("--alertmanager.url=http://127.0.0.1:{port}/"))
        .output()
        .expect("amtool runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("amtool json");
    v.as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["labels"]["alertname"].as_str().unwrap_or("").to_string(),
                (a["labels"].clone(), a["annotations"].clone()),
            )
        })
        .collect()
}

fn wait<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let t = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            t.elapsed() < Duration::from_secs(40),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn api(port: u16, path: &str) -> Value {
    let (code, body) = get(port, path).expect("api answers");
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("json")
}

/// `/api/v1/rules` reduced to what both servers must agree on.
fn rules_summary(port: u16) -> Vec<String> {
    let v = api(port, "/api/v1/rules");
    let mut out = Vec::new();
    for g in v["data"]["groups"].as_array().into_iter().flatten() {
        out.push(format!("group {} interval {}", g["name"], g["interval"]));
        for r in g["rules"].as_array().into_iter().flatten() {
            let alerts: Vec<String> = r["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| format!("{} {} {}", a["state"], a["labels"], a["value"]))
                .collect();
            out.push(format!(
                "{} {} {} query={} duration={} labels={} annotations={} health={} state={} alerts={:?}",
                r["type"],
                r["name"],
                r["lastError"],
                r["query"],
                r["duration"],
                r["labels"],
                r["annotations"],
                r["health"],
                r["state"],
                alerts
            ));
        }
    }
    out
}

fn alerts_summary(port: u16) -> Vec<String> {
    let v = api(port, "/api/v1/alerts");
    let mut out: Vec<String> = v["data"]["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            format!(
                "{} {} {} {}",
                a["state"], a["labels"], a["annotations"], a["value"]
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn same_alerts_as_prometheus_through_alertmanager() {
    if !have_binary("prometheus")
        || !have_binary("prometheus-alertmanager")
        || !have_binary("amtool")
    {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (gw, am_p, am_e, pp, ep) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let _gw = Kill(
        Command::new(env!("CARGO_BIN_EXE_ember"))
            .args(["pushgateway", "--log.level=error"])
            .arg(format!("--web.listen-address=127.0.0.1:{gw}"))
            .spawn()
            .expect("pushgateway"),
    );
    wait("pushgateway", || {
        matches!(get(gw, "/-/ready"), Some((200, _))).then_some(())
    });
    let push = |v: &str| {
        let body = format!("# TYPE batch_failed gauge\nbatch_failed{{task=\"nightly\"}} {v}\n");
        let (code, _) =
            request(gw, "PUT", "/metrics/job/batch", &[], body.as_bytes()).expect("push");
        assert_eq!(code, 200);
    };
    push("3");

    let (pdir, edir) = (dir.path().join("p"), dir.path().join("e"));
    std::fs::create_dir_all(&pdir).expect("dir");
    std::fs::create_dir_all(&edir).expect("dir");
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).expect("rules");
    let config = |am: u16| {
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  external_labels: {{region: eu}}\nrule_files: ['{}']\nalerting:\n  alert_relabel_configs:\n    - target_label: via\n      replacement: relabeled\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am}']\nscrape_configs:\n  - job_name: pushgateway\n    honor_labels: true\n    static_configs:\n      - targets: ['127.0.0.1:{gw}']\n",
            rules.display()
        )
    };
    let am_cfg = "route:\n  receiver: none\n  group_wait: 0s\nreceivers:\n  - name: none\n";
    let _amp = start_alertmanager(Am::Debian, &pdir, am_cfg, am_p, &[]);
    let _ame = start_alertmanager(Am::Debian, &edir, am_cfg, am_e, &[]);
    let _prom = start_prometheus(&pdir, &config(am_p), pp);
    let _ember = start_ember(&edir, &config(am_e), ep, &[]);

    // Firing: both Alertmanagers hold BatchFailed and BatchHeld with the same labels
    // and annotations; BatchFailedLong is pending (for: 1h) and never sent.
    let from_ember = wait("ember's alerts in alertmanager", || {
        let a = amtool_alerts(am_e);
        (a.len() == 2).then_some(a)
    });
    let from_prom = wait("prometheus's alerts in alertmanager", || {
        let a = amtool_alerts(am_p);
        (a.len() == 2).then_some(a)
    });
    assert_eq!(from_ember, from_prom, "amtool alert query differs");
    let (labels, annotations) = &from_ember["BatchFailed"];
    assert_eq!(labels["severity"], "page");
    assert_eq!(labels["task"], "nightly");
    // External labels and alert relabeling apply to what is sent.
    assert_eq!(labels["region"], "eu");
    assert_eq!(labels["via"], "relabeled");
    assert_eq!(from_ember["BatchHeld"].1["summary"], "held in eu");
    assert_eq!(annotations["summary"], "Batch nightly failed 3 times");
    assert_eq!(annotations["description"], "3 failures on batch; several");

    // The APIs agree once both have evaluated.
    wait("the same /api/v1/alerts", || {
        let (p, e) = (alerts_summary(pp), alerts_summary(ep));
        (p == e && p.len() == 3).then_some(())
    });
    let (pr, er) = (rules_summary(pp), rules_summary(ep));
    assert_eq!(er, pr, "/api/v1/rules differs");
    // The group limit fails the rule in both, with the same error.
    assert!(
        er.iter()
            .any(|r| r.contains("two_series") && r.contains("exceeded limit of 1 with 2 series")),
        "{er:?}"
    );

    // The recording rule wrote its series.
    let v = api(ep, "/api/v1/query?query=job:batch_failed:sum");
    assert_eq!(v["data"]["result"][0]["value"][1], "3", "{v}");

    // Resolved: both Alertmanagers drop the alerts from their active list;
    // keep_firing_for holds BatchHeld a little longer in both.
    push("0");
    wait("BatchHeld held by keep_firing_for in both", || {
        let (p, e) = (amtool_alerts(am_p), amtool_alerts(am_e));
        (p.len() == 1 && e.len() == 1 && p.contains_key("BatchHeld") && e.contains_key("BatchHeld"))
            .then_some(())
    });
    wait("prometheus's alert resolved", || {
        amtool_alerts(am_p).is_empty().then_some(())
    });
    wait("ember's alert resolved", || {
        amtool_alerts(am_e).is_empty().then_some(())
    });
    wait("no active alerts in either API", || {
        (alerts_summary(pp).is_empty() && alerts_summary(ep).is_empty()).then_some(())
    });
}
