//! End-to-end tests of the `ember` binary: version output, promtool-style config
//! checks, and a server's lifecycle (ready, status, reload with good and bad configs,
//! quit).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn ember() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ember"))
}

#[test]
fn version_reports_revision_date_and_compiler() {
    let out = ember().arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!("ember {} (branch: ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    for want in ["revision: ", "build date:", "rustc version:", "platform:"] {
        assert!(text.contains(want), "missing {want:?} in {text}");
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn check_config_like_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "good.yml",
        "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [localhost:9090]\n",
    );
    let bad = write(
        dir.path(),
        "bad.yml",
        "scrape_configs:\n  - job_name: a\n    scrape_timeout: 1m\n    scrape_interval: 10s\n",
    );
    let rules = write(dir.path(), "rules.yml", "rule_files: [missing.rules]\n");

    let out = ember()
        .args(["tool", "check", "config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            " SUCCESS: {} is valid prometheus config file syntax",
            good.display()
        )),
        "{stdout}"
    );

    let out = ember()
        .args(["tool", "check", "config"])
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("  FAILED: "), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:3:", bad.display())),
        "error names file and line: {stderr}"
    );
    assert!(
        stderr.contains("scrape_timeout"),
        "error names the field: {stderr}"
    );

    // A missing rule file fails the full check but not the syntax check.
    let out = ember()
        .args(["tool", "check", "config"])
        .arg(&rules)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = ember()
        .args(["tool", "check", "config", "--syntax-only"])
        .arg(&rules)
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn check_metrics_reads_stdin() {
    let run = |input: &str| {
        let mut c = ember()
            .args(["tool", "check", "metrics"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        c.wait_with_output().unwrap()
    };
    assert!(run("# TYPE a counter\na_total 1\n").status.success());
    let out = run("a{b=\"c\" 1\n");
    assert_eq!(out.status.code(), Some(1));
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let code = out.get(9..12)?.parse().ok()?;
    let body = out
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    Some((code, body))
}

fn wait_ready(port: u16) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Some((200, _)) = http(port, "GET", "/-/ready") {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server did not become ready");
}

#[test]
fn server_lifecycle_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "prometheus.yml",
        "global:\n  scrape_interval: 7s\nscrape_configs:\n  - job_name: first\n",
    );
    let port = free_port();
    let mut server = Server(
        ember()
            .args(["server", "--web.enable-lifecycle", "--log.level=error"])
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .spawn()
            .unwrap(),
    );
    wait_ready(port);
    assert_eq!(http(port, "GET", "/-/healthy").unwrap().0, 200);
    let (code, body) = http(port, "GET", "/api/v1/status/config").unwrap();
    assert_eq!(code, 200);
    assert!(
        body.contains("job_name: first") && body.contains("7s"),
        "{body}"
    );
    let (_, flags) = http(port, "GET", "/api/v1/status/flags").unwrap();
    assert!(
        flags.contains("\"web.enable-lifecycle\":\"true\""),
        "{flags}"
    );

    // A bad config is rejected and the running one stays.
    write(
        dir.path(),
        "prometheus.yml",
        "scrape_configs:\n  - job_name: [oops\n",
    );
    let (code, body) = http(port, "POST", "/-/reload").unwrap();
    assert_eq!(code, 500, "{body}");
    assert!(
        body.contains("prometheus.yml"),
        "reload error names the file: {body}"
    );
    let (_, body) = http(port, "GET", "/api/v1/status/config").unwrap();
    assert!(body.contains("job_name: first"), "{body}");
    let (_, metrics) = http(port, "GET", "/metrics").unwrap();
    assert!(
        metrics.contains("prometheus_config_last_reload_successful 0"),
        "{metrics}"
    );

    // A good one is picked up, through SIGHUP as well.
    write(
        dir.path(),
        "prometheus.yml",
        "scrape_configs:\n  - job_name: second\n",
    );
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let start = Instant::now();
    loop {
        let (_, body) = http(port, "GET", "/api/v1/status/config").unwrap();
        if body.contains("job_name: second") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "SIGHUP reload not applied: {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, metrics) = http(port, "GET", "/metrics").unwrap();
    assert!(
        metrics.contains("prometheus_config_last_reload_successful 1"),
        "{metrics}"
    );

    assert_eq!(http(port, "POST", "/-/quit").unwrap().0, 200);
    let start = Instant::now();
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            assert!(status.success());
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "server did not quit"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn server_refuses_to_start_on_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "p.yml", "global:\n  scrape_interval: 1x\n");
    let out = ember()
        .args(["server"])
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("p.yml:2:"), "{stderr}");
}

/// The query API over data in the TSDB directory: instant, range, series, labels and
/// label values, with Prometheus's JSON shapes; and a bad query is a 400 with the
/// parse error.
#[test]
fn query_api_over_stored_data() {
    use ember_storage::Appendable;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let t0 = (now / 1000 - 600) * 1000;
    {
        let db = ember_tsdb::Db::open(&data, ember_tsdb::DbOptions::default()).unwrap();
        for i in 0..=40 {
            let mut app = db.appender();
            for (job, mul) in [("api", 1.0), ("web", 2.0)] {
                let l = ember_model::Labels::from_pairs([
                    ("__name__", "http_requests_total"),
                    ("job", job),
                ]);
                app.append(None, &l, t0 + i * 15_000, i as f64 * mul)
                    .unwrap();
            }
            app.commit().unwrap();
        }
    }
    let cfg = write(dir.path(), "p.yml", "global: {}\n");
    let port = free_port();
    let _server = Server(
        ember()
            .args(["server", "--log.level=error"])
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .spawn()
            .unwrap(),
    );
    wait_ready(port);
    let get = |path: &str| {
        let (code, body) = http(port, "GET", path).unwrap();
        (
            code,
            serde_json::from_str::<serde_json::Value>(&body).unwrap_or(serde_json::Value::Null),
            body,
        )
    };
    let at = (t0 + 600_000) / 1000;
    let (code, v, body) = get(&format!(
        "/api/v1/query?query=sum(rate(http_requests_total[5m]))&time={at}"
    ));
    assert_eq!(code, 200, "{body}");
    assert_eq!(v["data"]["resultType"], "vector");
    let val: f64 = v["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // 1/15 + 2/15 per second.
    assert!((val - 0.2).abs() < 1e-9, "{body}");
    let (code, v, body) = get(&format!(
        "/api/v1/query_range?query=http_requests_total%7Bjob%3D%22web%22%7D&start={}&end={at}&step=60",
        at - 300
    ));
    assert_eq!(code, 200, "{body}");
    assert_eq!(v["data"]["resultType"], "matrix");
    assert_eq!(
        v["data"]["result"][0]["values"].as_array().unwrap().len(),
        6
    );
    assert_eq!(v["data"]["result"][0]["values"][5][1], "80");
    let (_, v, _) = get("/api/v1/label/job/values");
    assert_eq!(v["data"], serde_json::json!(["api", "web"]));
    let (_, v, _) = get("/api/v1/labels");
    assert_eq!(v["data"], serde_json::json!(["__name__", "job"]));
    let (_, v, _) = get("/api/v1/series?match[]=http_requests_total%7Bjob%3D%22api%22%7D");
    assert_eq!(
        v["data"],
        serde_json::json!([{"__name__": "http_requests_total", "job": "api"}])
    );
    let (code, v, _) = get("/api/v1/query?query=sum(");
    assert_eq!(code, 400);
    assert_eq!(v["errorType"], "bad_data");
    assert!(v["error"].as_str().unwrap().contains("parse error"));
}

/// The server scrapes targets from its configuration into its TSDB: here itself,
/// every second; `up` and its own metrics become queryable.
#[test]
fn server_scrapes_itself() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = write(
        dir.path(),
        "p.yml",
        &format!(
            "scrape_configs:\n  - job_name: self\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    );
    let _server = Server(
        ember()
            .args(["server", "--log.level=error"])
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .spawn()
            .unwrap(),
    );
    wait_ready(port);
    let start = Instant::now();
    loop {
        let (code, body) = http(port, "GET", "/api/v1/query?query=up").unwrap();
        assert_eq!(code, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if let Some(r) = v["data"]["result"].as_array().and_then(|a| a.first()) {
            assert_eq!(r["metric"]["job"], "self");
            assert_eq!(r["metric"]["instance"], format!("127.0.0.1:{port}"));
            assert_eq!(r["value"][1], "1");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no up series after 20s: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, body) = http(port, "GET", "/api/v1/query?query=prometheus_build_info").unwrap();
    assert!(body.contains("\"job\":\"self\""), "{body}");
    let (code, body) = http(port, "GET", "/api/v1/targets").unwrap();
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let t = &v["data"]["activeTargets"][0];
    assert_eq!(t["health"], "up", "{body}");
    assert_eq!(t["scrapePool"], "self");
    assert_eq!(t["scrapeUrl"], format!("http://127.0.0.1:{port}/metrics"));
    assert_eq!(t["labels"]["instance"], format!("127.0.0.1:{port}"));
    // Debian's promtool speaks to Ember's query API as to Prometheus's.
    if let Ok(out) = Command::new("promtool")
        .args(["query", "instant"])
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("up")
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "promtool: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("job=\"self\"") && text.contains("=> 1 @"),
            "{text}"
        );
        let out = Command::new("promtool")
            .args(["query", "range", "--step=1s"])
            .arg(format!("http://127.0.0.1:{port}"))
            .arg("sum(up)")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool range: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("{} =>"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// `ember node-exporter` serves the host's metrics under node_exporter's names.
#[test]
fn node_exporter_subcommand() {
    let port = free_port();
    let _ne = Server(
        ember()
            .args(["node-exporter"])
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    let body = loop {
        if let Some((200, b)) = http(port, "GET", "/metrics") {
            break b;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "node exporter did not answer"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    for family in [
        "node_cpu_seconds_total",
        "node_memory_MemTotal_bytes",
        "node_load1",
        "node_scrape_collector_success",
    ] {
        assert!(
            body.contains(&format!("# TYPE {family} ")),
            "missing {family}"
        );
    }
}

/// `ember tool promqltest` runs promqltest files; one wrong expected value makes the
/// case fail and the exit status non-zero.
#[test]
fn promqltest_tool_counts_passes_and_failures() {
    let dir = tempfile::tempdir().unwrap();
    let good = "load 1m\n  m{a=\"1\"} 0+1x10\n\neval instant at 5m sum(m)\n  {} 5\n\neval instant at 5m m\n  m{a=\"1\"} 5\n";
    let f = write(dir.path(), "ok.test", good);
    let out = ember()
        .args(["tool", "promqltest"])
        .arg(&f)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("ok.test: passed 2 of 2") && text.ends_with("2 passed, 0 failed\n"),
        "{text}"
    );
    let bad = write(dir.path(), "bad.test", &good.replace("{} 5", "{} 6"));
    let out = ember()
        .args(["tool", "promqltest"])
        .arg(&bad)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(text.ends_with("1 passed, 1 failed\n"), "{text}");
}
