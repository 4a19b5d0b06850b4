//! Remote-write interop: Debian's `prometheus` (2.42) scrapes itself and remote-writes
//! to Ember's receiver; the series then answer queries on Ember.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Kill(Child);
impl Drop for Kill {
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

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some((
        out.get(9..12)?.parse().ok()?,
        out.split_once("\r\n\r\n")?.1.to_string(),
    ))
}

fn wait_ready(port: u16) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(30) {
        if matches!(get(port, "/-/ready"), Some((200, _))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("not ready on {port}");
}

#[test]
fn prometheus_remote_writes_into_ember() {
    if !Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        assert!(
            std::env::var("EMBER_REQUIRE_INTEROP").as_deref() != Ok("1"),
            "prometheus not installed"
        );
        println!("skipped: prometheus not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ep, pp) = (free_port(), free_port());
    std::fs::write(dir.path().join("e.yml"), "global: {}\n").unwrap();
    std::fs::write(
        dir.path().join("p.yml"),
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: prom\n    static_configs:\n      - targets: ['127.0.0.1:{pp}']\nremote_write:\n  - url: http://127.0.0.1:{ep}/api/v1/write\n    queue_config:\n      batch_send_deadline: 1s\n"
        ),
    )
    .unwrap();
    let _ember = Kill(
        Command::new(env!("CARGO_BIN_EXE_ember"))
            .args([
                "server",
                "--web.enable-remote-write-receiver",
                "--log.level=error",
            ])
            .arg(format!(
                "--config.file={}",
                dir.path().join("e.yml").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{ep}"))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("ember").display()
            ))
            .spawn()
            .unwrap(),
    );
    wait_ready(ep);
    let _prom = Kill(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("p.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("prom").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{pp}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let t = Instant::now();
    loop {
        let (code, body) = get(ep, "/api/v1/query?query=up%7Bjob%3D%22prom%22%7D").unwrap();
        assert_eq!(code, 200, "{body}");
        if body.contains(&format!("\"instance\":\"127.0.0.1:{pp}\"")) && body.contains("\"1\"]") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no remote-written series in Ember after 60s: {body}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Prometheus's own metrics arrived too, many series of them.
    let (_, body) = get(ep, "/api/v1/query?query=count(%7Bjob%3D%22prom%22%7D)").unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let n: f64 = v["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(n > 100.0, "{body}");
}
