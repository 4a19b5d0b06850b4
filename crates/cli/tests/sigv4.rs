//! AWS Signature Version 4 on remote write and Alertmanager requests (`sigv4:`).
//!
//! Ember remote-writes and sends an alert with `sigv4` to a capture server; the
//! signature of each request is computed again from the request as it arrived
//! (method, path, the signed headers — the `Host` hyper wrote included — body and
//! date) and must equal the one sent, for the `aps` service as Prometheus signs.
//! The signer itself is checked against AWS's published examples in
//! `ember_discovery::sigv4`. Debian's `prometheus` 2.42 cannot be the oracle here:
//! it accepts a `sigv4` block but sends its requests unsigned.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Req, serve_http, start_ember};
use ember_discovery::sigv4::{Credentials, ToSign, authorization};

const KEY: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

type Seen = Arc<Mutex<Vec<Req>>>;

fn capture() -> (u16, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let port = serve_http(move |r| {
        s.lock().unwrap().push(r);
        ""
    });
    (port, seen)
}

fn header<'a>(r: &'a Req, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Recomputes the request's signature from what arrived; the `Authorization`
/// header it was sent with, and the one computed.
fn verify(r: &Req) -> (String, String) {
    let auth = header(r, "authorization")
        .unwrap_or_else(|| panic!("unsigned: {} {:?}", r.path, r.headers))
        .to_string();
    let signed = auth
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .expect("SignedHeaders");
    let names: Vec<&str> = signed.split(';').collect();
    assert!(
        names.contains(&"host") && names.contains(&"x-amz-date"),
        "{auth}"
    );
    let values: Vec<(String, String)> = names
        .iter()
        .filter(|n| **n != "host")
        .map(|n| (n.to_string(), header(r, n).unwrap_or("").to_string()))
        .collect();
    let headers: Vec<(&str, &str)> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let date = header(r, "x-amz-date").expect("X-Amz-Date");
    let (path, query) = r.path.split_once('?').unwrap_or((&r.path, ""));
    let again = authorization(
        &ToSign {
            method: &r.method,
            host: header(r, "host").expect("Host"),
            path,
            query,
            headers: &headers,
            body: &r.body,
        },
        &Credentials {
            access_key: KEY.into(),
            secret_key: SECRET.into(),
            session_token: String::new(),
        },
        "us-east-1",
        "aps",
        date,
    );
    (auth, again)
}

fn wait_for(seen: &Seen, what: &str, path: &str) -> Req {
    let t = Instant::now();
    loop {
        {
            let mut s = seen.lock().unwrap();
            if let Some(i) = s.iter().position(|r| r.path == path) {
                return s.remove(i);
            }
        }
        assert!(t.elapsed() < Duration::from_secs(30), "no {what} request");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sigv4_block() -> String {
    format!(
        "    sigv4:\n      region: us-east-1\n      access_key: {KEY}\n      secret_key: {SECRET}\n"
    )
}

#[test]
fn remote_write_and_alerts_are_signed_for_what_is_sent() {
    let (cap, seen) = capture();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: Always\n        expr: vector(1)\n",
    )
    .unwrap();
    let ep = common::free_port();
    let ember_cfg = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['{}']\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:{ep}']\nremote_write:\n  - url: http://127.0.0.1:{cap}/ember/api/v1/write?workspace=a%2Fb\n    queue_config: {{batch_send_deadline: 1s}}\n{}alerting:\n  alertmanagers:\n  - path_prefix: /am\n    static_configs:\n      - targets: ['127.0.0.1:{cap}']\n{}",
        rules.display(),
        sigv4_block(),
        sigv4_block()
    );
    let _ember = start_ember(dir.path(), &ember_cfg, ep, &[]);
    let r = wait_for(&seen, "remote write", "/ember/api/v1/write?workspace=a%2Fb");
    let (sent, again) = verify(&r);
    assert!(sent.contains("/us-east-1/aps/aws4_request"), "{sent}");
    assert!(
        sent.contains(
            "content-encoding;content-type;host;x-amz-date;x-prometheus-remote-write-version"
        ),
        "{sent}"
    );
    assert_eq!(
        again, sent,
        "remote write signed for another request than sent"
    );
    let r = wait_for(&seen, "alert", "/am/api/v2/alerts");
    let (sent, again) = verify(&r);
    assert_eq!(again, sent, "alert signed for another request than sent");
}
