//! Interoperability with the real node_exporter (Debian's `prometheus-node-exporter`):
//! its `/metrics`, in both formats, must parse and round-trip.
//!
//! Skipped when the binary is missing, unless `EMBER_REQUIRE_INTEROP=1`.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ember_exposition::{Entry, Format, Parser};

const BINARY: &str = "prometheus-node-exporter";

/// Kills the exporter when the test ends, however it ends.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn on_path(binary: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(binary).is_file()))
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// A plain HTTP/1.0 GET; returns the Content-Type and the body.
fn get(addr: SocketAddr, path: &str, accept: &str) -> std::io::Result<(String, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: {accept}\r\n\r\n"
    )?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let head = String::from_utf8_lossy(&resp[..split]).into_owned();
    let body = resp[split + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default();
    if !status.contains(" 200") {
        return Err(std::io::Error::other(format!("status {status}")));
    }
    let content_type = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    Ok((content_type, body))
}

fn check_body(what: &str, content_type: &str, body: &[u8]) -> Format {
    let format = Format::from_content_type(content_type).unwrap_or_else(|e| panic!("{what}: {e}"));
    // Every sample's label set builds, as the scrape would build it.
    let mut p = Parser::new(body, format);
    let mut series = 0;
    while let Some(e) = p.next_entry().unwrap_or_else(|e| panic!("{what}: {e}")) {
        if let Entry::Series(s) = e {
            s.to_labels().unwrap_or_else(|e| panic!("{what}: {e}"));
            series += 1;
        }
    }
    let fams = common::round_trip(body, format).unwrap_or_else(|e| panic!("{what}: {e}"));
    println!(
        "{what}: {content_type}: {} bytes, {} families, {series} samples, round-tripped",
        body.len(),
        fams.len()
    );
    assert!(series > 0, "{what}: no samples");
    format
}

#[test]
fn node_exporter_metrics_parse_and_round_trip() {
    if !on_path(BINARY) {
        assert!(
            std::env::var("EMBER_REQUIRE_INTEROP").as_deref() != Ok("1"),
            "{BINARY} not on PATH and EMBER_REQUIRE_INTEROP=1"
        );
        println!("skipping: {BINARY} not on PATH");
        return;
    }
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let child = Command::new(BINARY)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start node exporter");
    let _daemon = Daemon(child);

    let deadline = Instant::now() + Duration::from_secs(20);
    let (content_type, body) = loop {
        match get(addr, "/metrics", "text/plain;version=0.0.4") {
            Ok(r) => break r,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("node exporter did not answer on {addr}: {e}"),
        }
    };
    assert_eq!(check_body("text", &content_type, &body), Format::Text);

    let (content_type, body) = get(
        addr,
        "/metrics",
        "application/openmetrics-text; version=1.0.0",
    )
    .expect("fetch OpenMetrics");
    if check_body("openmetrics", &content_type, &body) == Format::Text {
        // Exporters built without promhttp's EnableOpenMetrics (node_exporter 1.5
        // among them) answer with the text format. Then exercise OpenMetrics on the
        // same data: write the families as OpenMetrics and read them back.
        println!("openmetrics: the exporter answered with the text format");
        let fams = ember_exposition::parse(&body, Format::Text).expect("parse text");
        let mut om = Vec::new();
        ember_exposition::write_openmetrics(&mut om, &fams);
        let back = ember_exposition::parse(&om, Format::OpenMetrics)
            .unwrap_or_else(|e| panic!("text as OpenMetrics: {e}"));
        common::same_samples(&fams, &back, Format::OpenMetrics)
            .unwrap_or_else(|e| panic!("text as OpenMetrics: {e}"));
        check_body(
            "text written as openmetrics",
            Format::OpenMetrics.content_type(),
            &om,
        );
    }
}
