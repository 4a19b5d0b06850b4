//! A minimal WebDriver client for the UI tests: starts `chromedriver` and a headless
//! Debian `chromium` session, and speaks the W3C protocol's JSON over HTTP/1.1
//! (chromedriver answers only HTTP/1.1 and keeps connections open, so bodies are
//! read by their Content-Length).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Kill, free_port, have_binary};

/// One HTTP/1.1 exchange with the body read by its Content-Length.
pub(crate) fn http11(port: u16, method: &str, path: &str, body: &[u8]) -> Option<(u16, Vec<u8>)> {
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

/// A browser session; chromedriver and the profile go away with it.
pub(crate) struct Driver {
    port: u16,
    session: String,
    _driver: Kill,
    _profile: tempfile::TempDir,
}

impl Driver {
    /// A headless Chromium session, or `None` (after saying so) when chromium or
    /// chromedriver is missing; under `EMBER_REQUIRE_INTEROP=1` that fails instead.
    pub(crate) fn start() -> Option<Driver> {
        if !have_binary("chromium") || !have_binary("chromedriver") {
            return None;
        }
        let port = free_port();
        let driver = Kill(
            Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
        );
        let t = Instant::now();
        while !matches!(http11(port, "GET", "/status", b""), Some((200, _))) {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "chromedriver not ready"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().expect("profile dir");
        // The flags Chromium needs on this closed-network machine, as root.
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     format!("--user-data-dir={}", profile.path().display())]
        }}}});
        let (code, out) =
            http11(port, "POST", "/session", caps.to_string().as_bytes()).expect("new session");
        let v: Value = serde_json::from_slice(&out).expect("session json");
        assert_eq!(code, 200, "{v}");
        Some(Driver {
            port,
            session: v["value"]["sessionId"]
                .as_str()
                .expect("session id")
                .to_string(),
            _driver: driver,
            _profile: profile,
        })
    }

    /// A command of the session (`path` after `/session/{id}`); panics on an error.
    pub(crate) fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// A command of the session; the WebDriver error (`stale element reference`, …)
    /// on failure.
    pub(crate) fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let url = format!("/session/{}{path}", self.session);
        let (code, out) = http11(self.port, method, &url, body.as_bytes())
            .unwrap_or_else(|| panic!("chromedriver does not answer {method} {url}"));
        let v: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
        if code == 200 {
            Ok(v["value"].clone())
        } else {
            Err(format!(
                "{}: {}",
                v["value"]["error"], v["value"]["message"]
            ))
        }
    }

    /// Runs `f` on the elements matching `css`, finding them again when the page
    /// re-rendered them in between (a stale element), a few times.
    fn on_fresh<T>(&self, css: &str, f: impl Fn(&[String]) -> Result<T, String>) -> T {
        let mut last = String::new();
        for _ in 0..20 {
            match f(&self.elements(css)) {
                Ok(v) => return v,
                Err(e) if e.contains("stale element") => {
                    last = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("{css}: {e}"),
            }
        }
        panic!("{css}: still stale: {last}")
    }

    /// The texts of the elements matching `css`, in document order.
    pub(crate) fn texts(&self, css: &str) -> Vec<String> {
        self.on_fresh(css, |els| {
            els.iter()
                .map(|e| {
                    self.try_call("GET", &format!("/element/{e}/text"), None)
                        .map(|v| v.as_str().unwrap_or("").to_string())
                })
                .collect()
        })
    }

    /// Clicks the `index`th element matching `css`.
    pub(crate) fn click_css(&self, css: &str, index: usize) {
        self.on_fresh(css, |els| {
            let e = els
                .get(index)
                .ok_or_else(|| format!("no element {index} matching {css}"))?;
            self.try_call("POST", &format!("/element/{e}/click"), Some(json!({})))
        });
    }

    /// Clears the input matching `css` and types `text` into it.
    pub(crate) fn fill_css(&self, css: &str, text: &str) {
        self.on_fresh(css, |els| {
            let e = els
                .first()
                .ok_or_else(|| format!("no element matching {css}"))?;
            self.try_call("POST", &format!("/element/{e}/clear"), Some(json!({})))?;
            self.try_call(
                "POST",
                &format!("/element/{e}/value"),
                Some(json!({ "text": text })),
            )
        });
    }

    /// The current `value` of the input matching `css`.
    pub(crate) fn value_css(&self, css: &str) -> String {
        self.on_fresh(css, |els| {
            let e = els
                .first()
                .ok_or_else(|| format!("no element matching {css}"))?;
            self.try_call("GET", &format!("/element/{e}/property/value"), None)
                .map(|v| v.as_str().unwrap_or("").to_string())
        })
    }

    pub(crate) fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    /// Element ids matching a CSS selector.
    pub(crate) fn elements(&self, css: &str) -> Vec<String> {
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

    /// The one element matching `css`.
    pub(crate) fn element(&self, css: &str) -> String {
        let e = self.elements(css);
        assert_eq!(e.len(), 1, "elements matching {css}");
        e[0].clone()
    }

    pub(crate) fn text(&self, element: &str) -> String {
        self.call("GET", &format!("/element/{element}/text"), None)
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    pub(crate) fn attribute(&self, element: &str, name: &str) -> String {
        self.call("GET", &format!("/element/{element}/attribute/{name}"), None)
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// A DOM property (an input's current `value`, unlike its attribute).
    pub(crate) fn property(&self, element: &str, name: &str) -> String {
        self.call("GET", &format!("/element/{element}/property/{name}"), None)
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    pub(crate) fn click(&self, element: &str) {
        self.call(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        );
    }

    /// Clears an input and types `text` into it.
    pub(crate) fn fill(&self, element: &str, text: &str) {
        self.call(
            "POST",
            &format!("/element/{element}/clear"),
            Some(json!({})),
        );
        self.call(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        );
    }

    pub(crate) fn accept_alert(&self) {
        self.call("POST", "/alert/accept", Some(json!({})));
    }

    /// Waits until `f` holds (polling), or fails with `what`.
    pub(crate) fn wait(&self, what: &str, f: impl Fn(&Driver) -> bool) {
        let t = Instant::now();
        while !f(self) {
            assert!(t.elapsed() < Duration::from_secs(10), "timed out: {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a PNG of the page (for a human to look at).
    pub(crate) fn screenshot(&self, path: &std::path::Path) {
        if let Some(png) = self.call("GET", "/screenshot", None).as_str() {
            let _ = std::fs::write(path, base64_decode(png));
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = http11(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            b"",
        );
    }
}

/// Standard base64, for screenshots.
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
