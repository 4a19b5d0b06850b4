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

use common::{Kill, free_port, get, have_binary, request};
use serde_json::{Value, json};

/// One HTTP/1.1 exchange, the body read by its Content-Length: chromedriver answers
/// only HTTP/1.1 and keeps the connection open whatever the client asks.
fn http11(port: u16, method: &str, path: &str, body: &[u8]) -> Option<(u16, Vec<u8>)> {
    use std::io::{BufRead, BufReader, Read, Write};
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    let mut w = s.try_clone().ok()?;
    write!(
        w,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .ok()?;
    w.write_all(body).ok()?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let code = line.get(9..12)?.parse().ok()?;
    let mut len = 0usize;
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().ok()?;
        }
    }
    let mut out = vec![0; len];
    r.read_exact(&mut out).ok()?;
    Some((code, out))
}

struct Driver {
    port: u16,
    session: String,
}

impl Driver {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let url = format!("/session/{}{path}", self.session);
        let (code, out) = http11(self.port, method, &url, body.as_bytes())
            .unwrap_or_else(|| panic!("chromedriver does not answer {method} {url}"));
        let v: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
        assert_eq!(code, 200, "{method} {url}: {v}");
        v["value"].clone()
    }

    fn elements(&self, css: &str) -> Vec<String> {
        let v = self.call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_object()?.values().next()?.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn text(&self, element: &str) -> String {
        self.call("GET", &format!("/element/{element}/text"), None)
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

#[test]
fn ui_lists_groups_and_deletes_one() {
    if !have_binary("chromium") || !have_binary("chromedriver") {
        return;
    }
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

    let dport = free_port();
    let _driver = Kill(
        Command::new("chromedriver")
            .arg(format!("--port={dport}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    let t = Instant::now();
    while !matches!(http11(dport, "GET", "/status", b""), Some((200, _))) {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "chromedriver not ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let profile = tempfile::tempdir().expect("profile dir");
    let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
        "binary": "/usr/bin/chromium",
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 format!("--user-data-dir={}", profile.path().display())]
    }}}});
    let (code, out) =
        http11(dport, "POST", "/session", caps.to_string().as_bytes()).expect("new session");
    let v: Value = serde_json::from_slice(&out).expect("session json");
    assert_eq!(code, 200, "{v}");
    let d = Driver {
        port: dport,
        session: v["value"]["sessionId"]
            .as_str()
            .expect("session id")
            .to_string(),
    };

    d.call(
        "POST",
        "/url",
        Some(json!({"url": format!("http://127.0.0.1:{gw_port}/")})),
    );
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
    if let Some(png) = d.call("GET", "/screenshot", None).as_str() {
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("pushgateway-ui.png");
        let _ = std::fs::write(path, base64_decode(png));
    }

    let buttons = d.elements("tr.group button.delete");
    assert_eq!(buttons.len(), 2);
    d.call(
        "POST",
        &format!("/element/{}/click", buttons[1]),
        Some(json!({})),
    );
    d.call("POST", "/alert/accept", Some(json!({})));
    let t = Instant::now();
    loop {
        if d.elements("tr.group").len() == 1 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "page did not reload to one group"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let rows = d.elements("tr.group");
    assert!(d.text(&rows[0]).contains("nightly_backup"));
    let (_, api) = request(gw_port, "GET", "/api/v1/metrics", &[], b"").expect("api");
    let v: Value = serde_json::from_slice(&api).expect("json");
    let groups = v["data"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "the group is gone from the gateway");
    assert_eq!(groups[0]["labels"]["job"], "nightly_backup");
    d.call("DELETE", "", None);
}

/// Standard base64 (WebDriver screenshots), for the PNG left behind.
fn base64_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}
