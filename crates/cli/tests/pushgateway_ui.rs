//! The Pushgateway's UI page in headless Chromium, driven over WebDriver
//! (`chromedriver`): the page lists every group with its labels and last push time,
//! and its delete button removes the group (after the confirmation dialog) and the
//! page shows the rest.
//!
//! Needs Debian's `chromium` and `chromium-driver`; without them the test says so and
//! passes, unless `EMBER_REQUIRE_INTEROP=1`. A screenshot of the page before the
//! click is left in the target directory (`pushgateway-ui.png`) for a human to look at.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::webdriver::Driver;
use common::{Kill, free_port, get, request};
use serde_json::Value;

#[test]
fn ui_lists_groups_and_deletes_one() {
    let Some(d) = Driver::start() else { return };
    let gw_port = free_port();
    let _gw = Kill(
        Command::new(env!("CARGO_BIN_EXE_ember"))
            .args(["pushgateway", "--log.level=error"])
            .arg(format!("--web.listen-address=127.0.0.1:{gw_port}"))
            .stdout(Stdio::null())
            .spawn()
            .expect("start ember pushgateway"),
    );
    let t = Instant::now();
    while !matches!(get(gw_port, "/-/ready"), Some((200, _))) {
        assert!(t.elapsed() < Duration::from_secs(30), "gateway not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    for (path, body) in [
        ("/metrics/job/nightly_backup/instance/db1", "backup_ok 1\n"),
        (
            "/metrics/job/report/path@base64/L3Zhci9yZXBvcnRz",
            "report_rows 42\n",
        ),
    ] {
        let (code, _) = request(gw_port, "PUT", path, &[], body.as_bytes()).expect("push");
        assert_eq!(code, 200);
    }

    d.goto(&format!("http://127.0.0.1:{gw_port}/"));
    let rows = d.elements("tr.group");
    assert_eq!(rows.len(), 2, "one row per group");
    let texts: Vec<String> = rows.iter().map(|r| d.text(r)).collect();
    assert!(
        texts[0].contains("instance=\"db1\"") && texts[0].contains("job=\"nightly_backup\""),
        "{texts:?}"
    );
    assert!(
        texts[1].contains("path=\"/var/reports\"") && texts[1].contains("job=\"report\""),
        "{texts:?}"
    );
    // The last push time is shown as a date, not "never".
    assert!(
        texts.iter().all(|t| t.contains("T") && t.contains("Z")),
        "{texts:?}"
    );
    d.screenshot(&std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("pushgateway-ui.png"));

    let buttons = d.elements("tr.group button.delete");
    assert_eq!(buttons.len(), 2);
    d.click(&buttons[1]);
    d.accept_alert();
    d.wait("page reloaded to one group", |d| {
        d.elements("tr.group").len() == 1
    });
    let rows = d.elements("tr.group");
    assert!(d.text(&rows[0]).contains("nightly_backup"));
    let (_, api) = request(gw_port, "GET", "/api/v1/metrics", &[], b"").expect("api");
    let v: Value = serde_json::from_slice(&api).expect("json");
    let groups = v["data"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "the group is gone from the gateway");
    assert_eq!(groups[0]["labels"]["job"], "nightly_backup");
}
