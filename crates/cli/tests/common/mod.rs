//! Helpers shared by the server tests: free ports, a bare HTTP/1.0 GET, waiting for
//! readiness, and children killed on drop so a failing test leaves no process behind.
#![allow(dead_code)]

pub(crate) mod webdriver;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when dropped.
pub(crate) struct Kill(pub(crate) Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Status code and body of `GET path`, or `None` when the server does not answer.
pub(crate) fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    // A real Host: chromedriver refuses requests naming another host.
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some((
        out.get(9..12)?.parse().ok()?,
        out.split_once("\r\n\r\n")?.1.to_string(),
    ))
}

pub(crate) fn wait_ready(port: u16) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(30) {
        if matches!(get(port, "/-/ready"), Some((200, _))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("not ready on {port}");
}

/// Whether Debian's `prometheus` is on PATH; when it is not, fails under
/// `EMBER_REQUIRE_INTEROP=1` (CI) and otherwise tells the caller to skip.
pub(crate) fn have_prometheus() -> bool {
    have_binary("prometheus")
}

/// Starts Debian's `prometheus` on `port` with `config` and data under `dir`.
pub(crate) fn start_prometheus(dir: &std::path::Path, config: &str, port: u16) -> Kill {
    start_prometheus_with(dir, config, port, &[])
}

/// As [`start_prometheus`], plus `extra` flags (`--web.enable-admin-api`, …).
pub(crate) fn start_prometheus_with(
    dir: &std::path::Path,
    config: &str,
    port: u16,
    extra: &[&str],
) -> Kill {
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, config).unwrap();
    Kill(
        Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("prom").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// Starts `ember server` on `port` with `config` and data under `dir`, plus `extra`
/// flags, and waits until it is ready.
pub(crate) fn start_ember(dir: &std::path::Path, config: &str, port: u16, extra: &[&str]) -> Kill {
    let child = spawn_ember(dir, config, port, extra);
    wait_ready(port);
    child
}

/// Starts `ember server` as [`start_ember`] does, without waiting.
fn spawn_ember(dir: &std::path::Path, config: &str, port: u16, extra: &[&str]) -> Kill {
    let cfg = dir.join("ember.yml");
    std::fs::write(&cfg, config).unwrap();
    Kill(
        Command::new(env!("CARGO_BIN_EXE_ember"))
            .args(["server", "--log.level=error"])
            .args(extra)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("ember").display()
            ))
            .spawn()
            .unwrap(),
    )
}

/// Status code and body of `method path` with `headers` and `body`, over HTTP/1.0.
pub(crate) fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut head = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).ok()?;
    // A server may answer and close before reading the whole body (Go does, on a
    // bad URL), which can reset the connection: keep whatever answer arrived.
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let code = std::str::from_utf8(out.get(9..12)?).ok()?.parse().ok()?;
    let split = out.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    Some((code, out[split..].to_vec()))
}

/// Whether `bin` runs (`bin --version`); when it does not, fails under
/// `EMBER_REQUIRE_INTEROP=1` (CI) and otherwise tells the caller to skip.
pub(crate) fn have_binary(bin: &str) -> bool {
    let ok = Command::new(bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("EMBER_REQUIRE_INTEROP").as_deref() != Ok("1"),
            "{bin} not installed"
        );
        println!("skipped: {bin} not found");
    }
    ok
}

/// Which Alertmanager to start: Debian's 0.25 or `ember alertmanager`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Am {
    Debian,
    Ember,
}

/// Starts an Alertmanager on `port` with configuration `cfg`, its files under `dir`
/// (`real.yml`/`real/` or `ember.yml`/`ember/`), clustering off, plus `extra` flags,
/// and waits until it is ready.
pub(crate) fn start_alertmanager(
    which: Am,
    dir: &std::path::Path,
    cfg: &str,
    port: u16,
    extra: &[&str],
) -> Kill {
    let name = match which {
        Am::Debian => "real",
        Am::Ember => "ember",
    };
    let path = dir.join(format!("{name}.yml"));
    std::fs::write(&path, cfg).expect("alertmanager config");
    let mut cmd = match which {
        Am::Debian => Command::new("prometheus-alertmanager"),
        Am::Ember => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_ember"));
            c.args(["alertmanager", "--log.level=error"]);
            c
        }
    };
    let child = Kill(
        cmd.arg(format!("--config.file={}", path.display()))
            .arg(format!("--storage.path={}", dir.join(name).display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start alertmanager"),
    );
    wait_ready(port);
    child
}

/// Waits until `GET path` answers 200 on `port` (`/-/ready` under a route prefix).
pub(crate) fn wait_ready_at(port: u16, path: &str) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(30) {
        if matches!(get(port, path), Some((200, _))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{path} not ready on {port}");
}

/// As [`start_ember`], with every route under `prefix` (`--web.route-prefix`).
pub(crate) fn start_ember_prefixed(
    dir: &std::path::Path,
    config: &str,
    port: u16,
    prefix: &str,
) -> Kill {
    let child = spawn_ember(
        dir,
        config,
        port,
        &[&format!("--web.route-prefix={prefix}")],
    );
    wait_ready_at(port, &format!("{prefix}/-/ready"));
    child
}

/// A scrape target answering every request with `body` as `content_type`, on a
/// thread per connection; returns its port.
pub(crate) fn serve_exposition(content_type: &'static str, body: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

/// A POST (or any request) as [`serve_http`] reads it.
pub(crate) struct Req {
    /// The method, e.g. `POST`.
    pub(crate) method: String,
    /// The request target, e.g. `/ember/hook`.
    pub(crate) path: String,
    /// The headers as sent (names as written, values trimmed).
    pub(crate) headers: Vec<(String, String)>,
    /// The body (by `Content-Length`).
    pub(crate) body: Vec<u8>,
}

/// A keep-alive HTTP/1.1 server on loopback, a thread per connection, for tests that
/// stand in for notification endpoints: `handle` sees every request and gives the
/// 200 answer's body. Returns the port.
pub(crate) fn serve_http(handle: impl Fn(Req) -> &'static str + Send + Sync + 'static) -> u16 {
    use std::io::BufRead;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let handle = std::sync::Arc::new(handle);
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let handle = handle.clone();
            std::thread::spawn(move || {
                let Ok(read) = conn.try_clone() else { return };
                let mut r = std::io::BufReader::new(read);
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let method = line.split(' ').next().unwrap_or("").to_string();
                    let path = line.split(' ').nth(1).unwrap_or("").to_string();
                    let mut headers = Vec::new();
                    let mut len = 0;
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        if h == "\r\n" {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                len = v.trim().parse().unwrap_or(0);
                            }
                            headers.push((k.to_string(), v.trim().to_string()));
                        }
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    let answer = handle(Req {
                        method,
                        path,
                        headers,
                        body,
                    });
                    let _ = write!(
                        conn,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                }
            });
        }
    });
    port
}

/// Copies a directory tree (a data directory for a second server).
pub(crate) fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}
