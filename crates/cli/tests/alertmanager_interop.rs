//! `ember alertmanager` against Debian's `prometheus-alertmanager` 0.25, the oracle:
//! the same sequence of `amtool` commands runs against both, and their outputs must
//! be the same; both deliver to one local webhook receiver (webhook and Slack
//! integrations, Slack with the default templates), and the payloads must be the
//! same.
//!
//! Normalised before comparing: silence ids (random UUIDs on both sides), and in
//! webhook payloads nothing else — `groupKey` is Alertmanager's route-and-labels
//! string (not a hash), `externalURL` is set by flag, and every time in the payloads
//! comes from the alerts posted (or is Go's zero time for firing alerts), so they are
//! compared as they are.

mod common;

use common::{Am, free_port, get, have_binary, start_alertmanager};
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type Deliveries = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

/// A webhook receiver: records (path, JSON body) of every POST and answers 200.
fn webhook_receiver() -> (u16, Deliveries) {
    let got: Deliveries = Arc::default();
    let g = got.clone();
    let port = common::serve_http(move |req| {
        let v = serde_json::from_slice(&req.body).unwrap_or(serde_json::Value::Null);
        g.lock().unwrap().push((req.path, v));
        ""
    });
    (port, got)
}

fn config(hook_port: u16, name: &str) -> String {
    format!(
        r#"route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
  routes:
  - matchers: ['severity="critical"']
    receiver: pager
    continue: true
receivers:
- name: hook
  webhook_configs:
  - url: http://127.0.0.1:{hook_port}/{name}/hook
  slack_configs:
  - api_url: http://127.0.0.1:{hook_port}/{name}/slack
    channel: '#ops'
    send_resolved: true
    fields:
    - title: Zone
      value: '{{{{ .CommonLabels.zone }}}}'
      short: true
- name: pager
  webhook_configs:
  - url: http://127.0.0.1:{hook_port}/{name}/pager
    max_alerts: 1
inhibit_rules:
- source_matchers: [alertname="Outage"]
  target_matchers: [severity="warning"]
  equal: [zone]
"#
    )
}

/// Runs amtool against `port`; returns (success, stdout).
fn amtool(port: u16, args: &[&str]) -> (bool, String) {
    let out = Command::new("amtool")
        .arg(format!("--alertmanager.url=http://127.0.0.1:{port}"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn rfc3339(offset_secs: i64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let ms = now.as_millis() as i64 + offset_secs * 1000;
    // Whole seconds, so that both sides print the same thing whatever precision.
    ember_model::time::format_rfc3339_millis(ms - ms.rem_euclid(1000))
}

struct Side {
    port: u16,
    name: &'static str,
}

#[test]
fn amtool_and_webhooks_agree_with_alertmanager() {
    if !have_binary("prometheus-alertmanager") || !have_binary("amtool") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (hook, deliveries) = webhook_receiver();
    let real = Side {
        port: free_port(),
        name: "real",
    };
    let ember = Side {
        port: free_port(),
        name: "ember",
    };
    let url = ["--web.external-url=http://am.example:9093"];
    let _r = start_alertmanager(
        Am::Debian,
        dir.path(),
        &config(hook, real.name),
        real.port,
        &url,
    );
    // Alertmanager's behaviour when the silence below expires: no renotification
    // before repeat_interval (Ember's notify-on-unmute would renotify the alerts
    // the silence muted; crates/cli/tests/alertmanager_renotify.rs covers it).
    let _e = start_alertmanager(
        Am::Ember,
        dir.path(),
        &config(hook, ember.name),
        ember.port,
        &[url[0], "--notify.on-unmute=false"],
    );
    let sides = [&real, &ember];

    let start = rfc3339(-30);
    let end = rfc3339(3600);
    let mut compared = 0;
    let mut same = |what: &str, args: &[&str], ids: &BTreeMap<&str, String>| {
        let outs: Vec<(bool, String)> = sides
            .iter()
            .map(|s| {
                let (ok, mut out) = amtool(s.port, args);
                if let Some(id) = ids.get(s.name) {
                    out = out.replace(id.as_str(), "<ID>");
                }
                (ok, out)
            })
            .collect();
        assert_eq!(
            outs[0], outs[1],
            "{what}: amtool {args:?} (left: Alertmanager, right: Ember)"
        );
        compared += 1;
        outs[0].1.clone()
    };
    let none = BTreeMap::new();

    // Alerts, posted by amtool with explicit times so both sides hold the same data.
    let posts: [&[&str]; 4] = [
        &[
            "alertname=DiskFull",
            "instance=a",
            "severity=warning",
            "zone=eu",
        ],
        &[
            "alertname=DiskFull",
            "instance=b",
            "severity=warning",
            "zone=us",
        ],
        &[
            "alertname=CPU",
            "instance=a",
            "severity=critical",
            "zone=eu",
        ],
        &[
            "alertname=CPU",
            "instance=b",
            "severity=critical",
            "zone=us",
        ],
    ];
    for labels in posts {
        let mut args = vec!["alert", "add"];
        args.extend_from_slice(labels);
        let ann = format!("--annotation=summary=problem on {}", labels[1]);
        let (s, e) = (format!("--start={start}"), format!("--end={end}"));
        args.extend([
            ann.as_str(),
            s.as_str(),
            e.as_str(),
            "--generator-url=http://prom/graph",
        ]);
        same("alert add", &args, &none);
    }
    std::thread::sleep(Duration::from_millis(3500));
    let q = same("alert query", &["alert", "query"], &none);
    assert!(q.contains("DiskFull") && q.contains("CPU"), "{q}");
    same(
        "alert query extended",
        &["alert", "query", "-o", "extended"],
        &none,
    );
    same(
        "alert query filter",
        &["alert", "query", "severity=critical"],
        &none,
    );
    same(
        "alert query receiver",
        &["alert", "query", "--receiver=pager"],
        &none,
    );
    same("config routes", &["config", "routes"], &none);
    same(
        "routes test",
        &[
            "config",
            "routes",
            "test",
            "severity=critical",
            "alertname=CPU",
        ],
        &none,
    );

    // A silence.
    let mut ids = BTreeMap::new();
    let end_flag = format!("--end={}", rfc3339(7200));
    for s in sides {
        let (ok, out) = amtool(
            s.port,
            &[
                "silence",
                "add",
                "instance=a",
                "-c",
                "maintenance",
                "-a",
                "tester",
                &end_flag,
            ],
        );
        assert!(ok, "{}: silence add failed", s.name);
        ids.insert(s.name, out.trim().to_string());
    }
    same("silence query", &["silence", "query"], &ids);
    same(
        "silence query filter",
        &["silence", "query", "instance=a"],
        &ids,
    );
    let q = same("alert query while silenced", &["alert", "query"], &ids);
    assert!(!q.contains(" a "), "{q}");
    same("alert query silenced", &["alert", "query", "-s"], &ids);
    // An inhibiting alert: Outage in zone eu mutes the warnings there.
    let s = format!("--start={start}");
    let e = format!("--end={end}");
    same(
        "alert add outage",
        &["alert", "add", "alertname=Outage", "zone=eu", &s, &e],
        &none,
    );
    same("alert query inhibited", &["alert", "query", "-i"], &none);
    same("alert query all", &["alert", "query", "-a"], &none);
    // Expire it.
    for s in sides {
        let (ok, _) = amtool(s.port, &["silence", "expire", &ids[s.name]]);
        assert!(ok, "{}: silence expire failed", s.name);
    }
    same("silence query after expiry", &["silence", "query"], &ids);
    same(
        "silence query expired",
        &["silence", "query", "--expired"],
        &ids,
    );
    same("alert query after expiry", &["alert", "query"], &ids);

    // Resolve one alert: a resolved notification follows.
    let past = format!("--end={}", rfc3339(-1));
    same(
        "alert resolve",
        &[
            "alert",
            "add",
            "alertname=DiskFull",
            "instance=b",
            "severity=warning",
            "zone=us",
            "--annotation=summary=problem on instance=b",
            &s,
            &past,
            "--generator-url=http://prom/graph",
        ],
        &none,
    );
    std::thread::sleep(Duration::from_millis(4500));
    same("alert query after resolve", &["alert", "query"], &none);

    // Webhook payloads: per side, in delivery order per receiver path and group.
    let got = deliveries.lock().unwrap().clone();
    let per_side = |name: &str| {
        let mut m: BTreeMap<(String, String), Vec<serde_json::Value>> = BTreeMap::new();
        for (path, v) in &got {
            if let Some(rest) = path.strip_prefix(&format!("/{name}/")) {
                let key = v["groupKey"].as_str().unwrap_or("").to_string();
                m.entry((rest.to_string(), key))
                    .or_default()
                    .push(v.clone());
            }
        }
        // Slack payloads carry no group key: their order across groups depends on
        // timing, so they are compared as a multiset.
        for ((p, _), v) in m.iter_mut() {
            if p == "slack" {
                v.sort_by_key(|x| x.to_string());
            }
        }
        m
    };
    let (r, e) = (per_side(real.name), per_side(ember.name));
    assert!(!r.is_empty(), "Alertmanager delivered nothing");
    let count = |m: &BTreeMap<_, Vec<_>>| m.values().map(Vec::len).sum::<usize>();
    println!(
        "compared {compared} amtool outputs; webhook deliveries: Alertmanager {}, Ember {}",
        count(&r),
        count(&e)
    );
    assert_eq!(
        r.keys().collect::<Vec<_>>(),
        e.keys().collect::<Vec<_>>(),
        "notified groups differ"
    );
    assert!(r.keys().any(|(p, _)| p == "slack"), "no Slack delivery");
    for (k, rv) in &r {
        assert_eq!(
            rv, &e[k],
            "payloads for {k:?} differ (left: Alertmanager, right: Ember)"
        );
    }
    // Sanity: the pager receiver truncates to one alert.
    assert!(
        r.iter()
            .filter(|((p, _), _)| p == "pager")
            .flat_map(|(_, v)| v)
            .any(|v| v["truncatedAlerts"] == 1),
        "no truncated pager payload"
    );
    // Lifecycle.
    assert_eq!(get(ember.port, "/-/healthy").map(|r| r.0), Some(200));
}
