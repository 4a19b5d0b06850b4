//! The Alertmanager's UI in headless Chromium over WebDriver: alerts grouped by
//! route, the matcher filter, a silence created from the form (the alert it covers
//! becomes silenced), edited, and expired with its button.
//!
//! Needs Debian's `chromium` and `chromium-driver`; without them the test says so and
//! passes, unless `EMBER_REQUIRE_INTEROP=1`. A screenshot is left in the target
//! directory (`alertmanager-ui.png`).

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::webdriver::Driver;
use common::{Kill, free_port, get, request};
use serde_json::Value;

fn api(port: u16, path: &str) -> Value {
    let (code, body) = request(port, "GET", path, &[], b"").expect("api");
    assert_eq!(code, 200);
    serde_json::from_slice(&body).expect("json")
}

fn silences(port: u16) -> Vec<Value> {
    api(port, "/api/v2/silences")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn ui_groups_filters_and_silences() {
    let Some(d) = Driver::start() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("am.yml");
    std::fs::write(
        &cfg,
        "route:\n  receiver: team\n  group_by: ['alertname']\nreceivers:\n  - name: team\n",
    )
    .expect("config");
    let port = free_port();
    let _am = Kill(
        Command::new(env!("CARGO_BIN_EXE_ember"))
            .args([
                "alertmanager",
                "--log.level=error",
                "--cluster.listen-address=",
            ])
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .spawn()
            .expect("start ember alertmanager"),
    );
    let t = Instant::now();
    while !matches!(get(port, "/-/ready"), Some((200, _))) {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "alertmanager not ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let alerts = r#"[{"labels":{"alertname":"DiskFull","instance":"db1","severity":"page"},"annotations":{"summary":"disk 97% full"}},
                    {"labels":{"alertname":"HighLatency","instance":"api1","severity":"ticket"}}]"#;
    let (code, _) = request(
        port,
        "POST",
        "/api/v2/alerts",
        &[("Content-Type", "application/json")],
        alerts.as_bytes(),
    )
    .expect("post alerts");
    assert_eq!(code, 200);

    d.goto(&format!("http://127.0.0.1:{port}/"));
    d.wait("two groups", |d| d.elements("div.group").len() == 2);
    let heads = d.texts("div.group-head");
    assert!(
        heads[0].contains("team") && heads[0].contains("alertname=\"DiskFull\""),
        "{heads:?}"
    );
    assert!(d.texts("div.group")[0].contains("disk 97% full"));
    d.screenshot(&std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("alertmanager-ui.png"));

    // Filter by matchers.
    d.fill_css("#filter", "{severity=\"ticket\"}");
    d.click_css("#apply-filter", 0);
    d.wait("one group after filtering", |d| {
        let g = d.texts("div.group");
        g.len() == 1 && g[0].contains("HighLatency")
    });
    d.fill_css("#filter", "");
    d.click_css("#apply-filter", 0);
    d.wait("both groups again", |d| d.elements("div.group").len() == 2);

    // Silence DiskFull from its alert's button, which fills the form.
    d.click_css("button.silence-alert", 0);
    assert!(
        d.value_css("#silence-matchers")
            .contains("alertname=\"DiskFull\""),
        "form prefilled"
    );
    d.fill_css("#silence-creator", "oncall");
    d.fill_css("#silence-comment", "disk replacement scheduled");
    d.click_css("#silence-submit", 0);
    d.wait("the silence is listed as active", |d| {
        d.elements("tr.silence[data-state=active]").len() == 1
    });
    let s = silences(port);
    assert_eq!(s[0]["createdBy"], "oncall");
    assert_eq!(s[0]["comment"], "disk replacement scheduled");
    let id = s[0]["id"].as_str().expect("id").to_string();
    // The covered alert is silenced and leaves the default view.
    d.wait("one group left in view", |d| {
        d.elements("div.group").len() == 1
    });
    let v = api(port, "/api/v2/alerts?silenced=true");
    let disk = v
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["labels"]["alertname"] == "DiskFull")
        .expect("DiskFull");
    assert_eq!(disk["status"]["silencedBy"][0], id);

    // Edit: the comment changes and the silence stays active.
    d.click_css("tr.silence[data-state=active] button.edit-silence", 0);
    d.fill_css("#silence-comment", "disk replaced tomorrow");
    d.click_css("#silence-submit", 0);
    d.wait("the table shows the edit", |d| {
        d.texts("tr.silence[data-state=active]")
            .first()
            .is_some_and(|t| t.contains("disk replaced tomorrow"))
    });
    assert!(
        silences(port)
            .iter()
            .any(|s| s["comment"] == "disk replaced tomorrow" && s["status"]["state"] == "active")
    );

    // Expire it from the table.
    d.click_css("tr.silence[data-state=active] button.expire-silence", 0);
    d.wait("no active silence", |d| {
        d.elements("tr.silence[data-state=active]").is_empty()
    });
    assert!(
        silences(port)
            .iter()
            .all(|s| s["status"]["state"] == "expired"),
        "{:?}",
        silences(port)
    );
}
