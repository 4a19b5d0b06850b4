//! Proxies and OAuth2 in the HTTP client, against Debian's `prometheus` as the
//! oracle: each server scrapes its own copy of the same local targets (plain HTTP
//! through a recording HTTP proxy, HTTPS through the same proxy's `CONNECT`
//! tunnel with `proxy_connect_header`, and plain HTTP with `oauth2` against a local
//! token endpoint), and what the proxy, the token endpoint and the targets saw
//! from Ember must match what they saw from Prometheus: the request line's form,
//! `Proxy-Authorization`, the `CONNECT` headers, the token request's form fields
//! and client authentication, the `Authorization: Bearer` on scrapes; `up` is 1
//! everywhere. Without `prometheus` the test checks Ember alone against the
//! expected values (and fails under `EMBER_REQUIRE_INTEROP=1`).

mod common;

use common::{Kill, free_port, get, have_prometheus, start_ember, start_prometheus, wait_ready};
use ember_discovery::testing::{Pki, Seen, http_proxy, read_head, tls_front};
use serde_json::Value as J;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Header lines of a head as lower-case name → values, in order.
fn headers(head: &str) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in head.lines().skip(1) {
        if let Some((k, v)) = l.split_once(':') {
            m.entry(k.trim().to_ascii_lowercase())
                .or_default()
                .push(v.trim().to_string());
        }
    }
    m
}

fn header(head: &str, name: &str) -> Option<String> {
    headers(head).get(name).and_then(|v| v.first().cloned())
}

fn first_line(head: &str) -> String {
    head.lines().next().unwrap_or("").to_string()
}

/// A `/metrics` target answering one sample and closing; request heads recorded.
async fn target() -> (SocketAddr, Seen) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Seen::default();
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            let s = s.clone();
            tokio::spawn(async move {
                let Some((head, _)) = read_head(&mut c).await else {
                    return;
                };
                s.lock().unwrap().push(head);
                let body = "# TYPE interop_metric gauge\ninterop_metric 1\n";
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = c.write_all(resp.as_bytes()).await;
            });
        }
    });
    (addr, seen)
}

/// A token endpoint issuing `tok-<n>` for an hour; records head and body.
async fn token_endpoint() -> (SocketAddr, Seen) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Seen::default();
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            let s = s.clone();
            tokio::spawn(async move {
                let Some((head, mut body)) = read_head(&mut c).await else {
                    return;
                };
                let len: usize = header(&head, "content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                while body.len() < len {
                    let mut chunk = [0u8; 1024];
                    match c.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => body.extend_from_slice(&chunk[..n]),
                    }
                }
                let n = {
                    let mut s = s.lock().unwrap();
                    s.push(format!("{head}{}", String::from_utf8_lossy(&body)));
                    s.len()
                };
                let answer = format!(
                    r#"{{"access_token":"tok-{n}","token_type":"bearer","expires_in":3600}}"#
                );
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = c.write_all(resp.as_bytes()).await;
            });
        }
    });
    (addr, seen)
}

/// The decoded form of a recorded request (head and body).
fn form(req: &str) -> BTreeMap<String, String> {
    let body = req.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    body.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (unescape(k), unescape(v))
        })
        .collect()
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One server's mocks and what they saw.
struct Mocks {
    plain: (SocketAddr, Seen),
    tls: (SocketAddr, Seen),
    proxy: (SocketAddr, Seen),
    tokens: (SocketAddr, Seen),
    oauth_target: (SocketAddr, Seen),
}

impl Mocks {
    async fn start(pki: &Pki) -> Mocks {
        let (tls_plain, tls_seen) = target().await;
        let front = tls_front(tls_plain, pki.server_config(false)).await;
        Mocks {
            plain: target().await,
            tls: (front, tls_seen),
            proxy: http_proxy(false).await,
            tokens: token_endpoint().await,
            oauth_target: target().await,
        }
    }

    fn config(&self, ca: &std::path::Path) -> String {
        let (plain, tls, proxy, tokens, oauth_target) = (
            self.plain.0,
            self.tls.0,
            self.proxy.0,
            self.tokens.0,
            self.oauth_target.0,
        );
        format!(
            "global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: via_proxy
    proxy_url: http://scraper:pa%40ss@{proxy}
    static_configs: [{{targets: ['{plain}']}}]
  - job_name: via_tunnel
    scheme: https
    proxy_url: http://scraper:pa%40ss@{proxy}
    proxy_connect_header:
      X-Tenant: [team-a, team-b]
    tls_config:
      ca_file: {ca}
    static_configs: [{{targets: ['{tls}']}}]
  - job_name: oauth
    oauth2:
      client_id: ember client
      client_secret: s3cr/t+
      scopes: [metrics.read, metrics.write]
      token_url: http://{tokens}/oauth/token
      endpoint_params:
        audience: https://metrics.example
    static_configs: [{{targets: ['{oauth_target}']}}]
",
            ca = ca.display()
        )
    }
}

/// `up` by job.
fn up(port: u16) -> BTreeMap<String, f64> {
    let Some((200, body)) = get(port, "/api/v1/query?query=up") else {
        return BTreeMap::new();
    };
    let v: J = serde_json::from_str(&body).unwrap_or(J::Null);
    v["data"]["result"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter_map(|r| {
                    Some((
                        r["metric"]["job"].as_str()?.to_string(),
                        r["value"][1].as_str()?.parse().ok()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn wait_all_up(port: u16, who: &str) {
    let t = Instant::now();
    loop {
        let u = up(port);
        if u.len() == 3 && u.values().all(|v| *v == 1.0) {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{who}: not all up: {u:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// What one server's scrapes looked like from the outside, with the parts that
/// differ by nature (ports, user agents) taken out.
#[derive(Debug, PartialEq)]
struct Observed {
    /// First absolute-form request line at the proxy, with the port as `PORT`.
    proxy_line: String,
    proxy_auth: Option<String>,
    proxy_host_is_target: bool,
    /// The target never sees the proxy's credentials.
    plain_target_saw_proxy_auth: bool,
    /// `CONNECT` line and headers (User-Agent aside: Go sends its own).
    connect_line: String,
    connect_headers: BTreeMap<String, Vec<String>>,
    /// The `CONNECT` head as sent, User-Agent line aside: same order, same case.
    connect_raw: String,
    tls_target_line: String,
    tls_target_saw_proxy_auth: bool,
    /// Token requests: line, content type, client authentication, form.
    token_calls: usize,
    token_line: String,
    token_content_type: Option<String>,
    token_auth: Option<String>,
    token_form: BTreeMap<String, String>,
    token_user_agent_is_scrapers: bool,
    /// `Authorization` on every oauth scrape.
    scrape_auth: Vec<String>,
}

fn observe(m: &Mocks) -> Observed {
    let proxy = m.proxy.1.lock().unwrap().clone();
    let absolute = proxy
        .iter()
        .find(|h| h.starts_with("GET "))
        .cloned()
        .expect("an absolute-form request at the proxy");
    let connect = proxy
        .iter()
        .find(|h| h.starts_with("CONNECT "))
        .cloned()
        .expect("a CONNECT at the proxy");
    let plain = m.plain.1.lock().unwrap().clone();
    let tls = m.tls.1.lock().unwrap().clone();
    let tokens = m.tokens.1.lock().unwrap().clone();
    let token = tokens.first().cloned().expect("a token request");
    let oauth = m.oauth_target.1.lock().unwrap().clone();
    let scrape_ua = header(oauth.first().expect("an oauth scrape"), "user-agent");
    let connect_raw = connect
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("user-agent:"))
        .collect::<Vec<_>>()
        .join("\r\n")
        .replace(&m.tls.0.port().to_string(), "PORT");
    let mut connect_headers = headers(&connect);
    connect_headers.remove("user-agent");
    Observed {
        proxy_line: first_line(&absolute).replace(&m.plain.0.port().to_string(), "PORT"),
        proxy_auth: header(&absolute, "proxy-authorization"),
        proxy_host_is_target: header(&absolute, "host") == Some(m.plain.0.to_string()),
        plain_target_saw_proxy_auth: plain
            .iter()
            .any(|h| headers(h).contains_key("proxy-authorization")),
        connect_line: first_line(&connect).replace(&m.tls.0.port().to_string(), "PORT"),
        connect_headers: connect_headers
            .into_iter()
            .map(|(k, v)| {
                let v = v
                    .into_iter()
                    .map(|v| v.replace(&m.tls.0.port().to_string(), "PORT"))
                    .collect();
                (k, v)
            })
            .collect(),
        connect_raw,
        tls_target_line: tls.first().map(|h| first_line(h)).unwrap_or_default(),
        tls_target_saw_proxy_auth: tls
            .iter()
            .any(|h| headers(h).contains_key("proxy-authorization")),
        token_calls: tokens.len(),
        token_line: first_line(&token),
        token_content_type: header(&token, "content-type"),
        token_auth: header(&token, "authorization"),
        token_form: form(&token),
        token_user_agent_is_scrapers: header(&token, "user-agent") == scrape_ua,
        scrape_auth: oauth
            .iter()
            .map(|h| header(h, "authorization").unwrap_or_default())
            .collect(),
    }
}

#[test]
fn proxies_and_oauth2_look_the_same_as_prometheus() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("http-client-interop");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca).unwrap();

    let ember_mocks = rt.block_on(Mocks::start(&pki));
    let ep = free_port();
    let _ember: Kill = start_ember(dir.path(), &ember_mocks.config(&ca), ep, &[]);
    wait_all_up(ep, "Ember");
    // A few more scrapes: the token must be reused.
    std::thread::sleep(Duration::from_secs(3));
    let ours = observe(&ember_mocks);

    // What Prometheus does, as read in prometheus/common and Go's net/http; the
    // Debian binary, when present, is the judge.
    assert_eq!(
        ours.proxy_line,
        "GET http://127.0.0.1:PORT/metrics HTTP/1.1"
    );
    assert_eq!(
        ours.proxy_auth.as_deref(),
        Some("Basic c2NyYXBlcjpwYUBzcw==")
    );
    assert!(ours.proxy_host_is_target);
    assert!(!ours.plain_target_saw_proxy_auth);
    assert_eq!(ours.connect_line, "CONNECT 127.0.0.1:PORT HTTP/1.1");
    assert_eq!(
        ours.connect_headers.get("x-tenant"),
        Some(&vec!["team-a".to_string(), "team-b".to_string()])
    );
    assert_eq!(
        ours.connect_raw,
        "CONNECT 127.0.0.1:PORT HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nProxy-Authorization: Basic c2NyYXBlcjpwYUBzcw==\r\nX-Tenant: team-a\r\nX-Tenant: team-b\r\n\r\n"
    );
    assert_eq!(ours.tls_target_line, "GET /metrics HTTP/1.1");
    assert_eq!(ours.token_calls, 1);
    assert_eq!(ours.token_line, "POST /oauth/token HTTP/1.1");
    assert_eq!(
        ours.token_auth.as_deref(),
        Some("Basic ZW1iZXIrY2xpZW50OnMzY3IlMkZ0JTJC")
    );
    assert!(ours.scrape_auth.len() >= 3);
    assert!(ours.scrape_auth.iter().all(|a| a == "Bearer tok-1"));

    if !have_prometheus() {
        return;
    }
    let prom_mocks = rt.block_on(Mocks::start(&pki));
    let pp = free_port();
    let _prom = start_prometheus(dir.path(), &prom_mocks.config(&ca), pp);
    wait_ready(pp);
    wait_all_up(pp, "Prometheus");
    std::thread::sleep(Duration::from_secs(3));
    let theirs = observe(&prom_mocks);
    // Scrape counts differ with timing; everything else must not.
    let (mut ours, mut theirs) = (ours, theirs);
    assert!(theirs.scrape_auth.len() >= 3, "{theirs:?}");
    ours.scrape_auth.dedup();
    theirs.scrape_auth.dedup();
    assert_eq!(ours, theirs);
}
