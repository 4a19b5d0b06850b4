//! `--web.config.file` end to end: the `ember` binary's listeners with TLS (a
//! throwaway PKI), basic auth, a required client certificate and a certificate
//! replaced while running; a bad file stops every component with its file, line and
//! field; and Debian's `prometheus-node-exporter` and `promtool check web-config`
//! as oracles for which files are accepted (exit codes only).
//!
//! Without those binaries the comparisons say so and pass, unless
//! `EMBER_REQUIRE_INTEROP=1`.

mod common;

use common::{Kill, free_port, get, have_binary};
use ember_discovery::testing::Pki;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn client(cas: &[&str], cert: Option<(&str, &str)>) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = RootCertStore::empty();
    for ca in cas {
        for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
            roots.add(c.expect("CA")).expect("CA");
        }
    }
    let b = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    Arc::new(match cert {
        Some((c, k)) => b
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(c.as_bytes())
                    .collect::<Result<_, _>>()
                    .expect("cert"),
                PrivateKeyDer::from_pem_slice(k.as_bytes()).expect("key"),
            )
            .expect("client cert"),
        None => b.with_no_client_auth(),
    })
}

/// An HTTPS answer: status, head and body, and the certificate the server showed.
#[derive(Debug)]
struct Answer {
    code: u16,
    text: String,
    server_cert: Vec<u8>,
}

/// `GET path` over TLS with extra header lines; `Err` when the handshake or the
/// exchange fails (a refused client certificate shows here).
fn https(
    port: u16,
    config: &Arc<ClientConfig>,
    path: &str,
    headers: &str,
) -> Result<Answer, String> {
    let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(config.clone(), name).map_err(|e| e.to_string())?;
    let sock = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    write!(
        tls,
        "GET {path} HTTP/1.0\r\nHost: localhost\r\n{headers}\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    match tls.read_to_end(&mut out) {
        Ok(_) => {}
        // A peer that closes without close_notify, after answering.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => {}
        Err(e) => return Err(e.to_string()),
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let code = text
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no HTTP answer: {text:?}"))?;
    let server_cert = tls
        .conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    Ok(Answer {
        code,
        text,
        server_cert,
    })
}

fn der_of(pem: &str) -> Vec<u8> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .expect("a certificate")
        .expect("PEM")
        .to_vec()
}

/// Waits until `ready` holds, or panics naming `what`.
fn wait(what: &str, mut ready: impl FnMut() -> bool) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} not up");
}

fn ember(args: &[String]) -> Kill {
    Kill(
        Command::new(env!("CARGO_BIN_EXE_ember"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ember"),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

fn basic(user: &str, password: &str) -> String {
    // RFC 4648 base64, enough for a header in a test.
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let raw = format!("{user}:{password}").into_bytes();
    let mut out = String::new();
    for chunk in raw.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Authorization: Basic {out}\r\n")
}

#[test]
fn node_exporter_over_tls_with_basic_auth_and_rotation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (old, new) = (Pki::new("old"), Pki::new("new"));
    write(dir.path(), "server.crt", &old.server_cert);
    write(dir.path(), "server.key", &old.server_key);
    let hash = bcrypt::hash("s3cret", 4).expect("hash");
    // Relative paths: resolved against the file's directory, not the working one.
    let web = write(
        dir.path(),
        "web.yml",
        &format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  alice: {hash}\nhttp_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n"
        ),
    );
    let port = free_port();
    let _ne = ember(&[
        "node-exporter".into(),
        format!("--web.listen-address=127.0.0.1:{port}"),
        format!("--web.config.file={web}"),
        "--collector.disable-defaults".into(),
        "--collector.loadavg".into(),
    ]);
    let trust = client(&[&old.ca, &new.ca], None);
    wait("ember node-exporter", || {
        https(port, &trust, "/", "").is_ok()
    });

    let a = https(port, &trust, "/metrics", "").expect("answer");
    assert_eq!(a.code, 401, "{}", a.text);
    assert!(a.text.contains("www-authenticate: Basic\r\n"), "{}", a.text);
    assert!(
        a.text.contains("x-content-type-options: nosniff\r\n"),
        "{}",
        a.text
    );
    let a = https(port, &trust, "/metrics", &basic("alice", "wrong")).expect("answer");
    assert_eq!(a.code, 401);
    let a = https(port, &trust, "/metrics", &basic("alice", "s3cret")).expect("answer");
    assert_eq!(a.code, 200, "{}", a.text);
    assert!(a.text.contains("\nnode_load1 "), "{}", a.text);
    assert_eq!(a.server_cert, der_of(&old.server_cert));
    // No answer in the clear on a TLS port.
    assert!(!matches!(get(port, "/metrics"), Some((200 | 401, _))));

    // Rotation: replace the files; the next connection gets the new certificate.
    write(dir.path(), "server.key", &new.server_key);
    write(dir.path(), "server.crt", &new.server_cert);
    let a = https(port, &trust, "/metrics", &basic("alice", "s3cret")).expect("answer");
    assert_eq!(a.code, 200, "{}", a.text);
    assert_eq!(a.server_cert, der_of(&new.server_cert));
    // A client that trusts only the old CA now gives up.
    assert!(https(port, &client(&[&old.ca], None), "/", "").is_err());
}

#[test]
fn server_requires_a_client_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new("mtls");
    write(dir.path(), "server.crt", &pki.server_cert);
    write(dir.path(), "server.key", &pki.server_key);
    write(dir.path(), "ca.pem", &pki.ca);
    let web = write(
        dir.path(),
        "web.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n",
    );
    let cfg = write(dir.path(), "prometheus.yml", "scrape_configs: []\n");
    let port = free_port();
    let _server = ember(&[
        "server".into(),
        "--log.level=error".into(),
        format!("--config.file={cfg}"),
        format!("--storage.tsdb.path={}", dir.path().join("data").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        format!("--web.config.file={web}"),
    ]);
    let with = client(&[&pki.ca], Some((&pki.client_cert, &pki.client_key)));
    wait("ember server", || {
        https(port, &with, "/-/ready", "").is_ok_and(|a| a.code == 200)
    });
    let a = https(port, &with, "/api/v1/status/buildinfo", "").expect("answer");
    assert_eq!(a.code, 200, "{}", a.text);

    // Without a certificate, or with one from another CA: refused.
    let without = client(&[&pki.ca], None);
    let e = https(port, &without, "/-/ready", "").expect_err("refused");
    assert!(!e.is_empty());
    let stranger = Pki::new("stranger");
    let foreign = client(
        &[&pki.ca],
        Some((&stranger.client_cert, &stranger.client_key)),
    );
    assert!(https(port, &foreign, "/-/ready", "").is_err());
}

#[test]
fn pushgateway_and_alertmanager_with_basic_auth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hash = bcrypt::hash("pw", 4).expect("hash");
    let web = write(
        dir.path(),
        "web.yml",
        &format!("basic_auth_users:\n  u: {hash}\n"),
    );
    let auth = basic("u", "pw");
    let status = |port: u16, headers: &str| {
        let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
        write!(s, "GET /-/ready HTTP/1.0\r\nHost: x\r\n{headers}\r\n").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        out.get(9..12)?.parse::<u16>().ok()
    };

    let pg = free_port();
    let _pg = ember(&[
        "pushgateway".into(),
        format!("--web.listen-address=127.0.0.1:{pg}"),
        format!("--web.config.file={web}"),
    ]);
    wait("ember pushgateway", || status(pg, "").is_some());
    assert_eq!(status(pg, ""), Some(401));
    assert_eq!(status(pg, &auth), Some(200));

    let am_cfg = write(
        dir.path(),
        "alertmanager.yml",
        "route:\n  receiver: default\nreceivers:\n  - name: default\n",
    );
    let am = free_port();
    let _am = ember(&[
        "alertmanager".into(),
        format!("--config.file={am_cfg}"),
        format!("--storage.path={}", dir.path().join("am").display()),
        format!("--web.listen-address=127.0.0.1:{am}"),
        "--cluster.listen-address=".into(),
        format!("--web.config.file={web}"),
    ]);
    wait("ember alertmanager", || status(am, "").is_some());
    assert_eq!(status(am, ""), Some(401));
    assert_eq!(status(am, &auth), Some(200));
}

/// Runs `cmd` until it exits or `patience` passes: `Some(success)` if it exited,
/// `None` if it was still running (then it is killed). Standard error is returned.
fn outcome(cmd: &mut Command, patience: Duration) -> (Option<bool>, String) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let t = Instant::now();
    let exited = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s.success());
        }
        if t.elapsed() > patience {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    (exited, err)
}

/// Web configuration files, good and bad, over one directory's certificates.
fn cases(dir: &Path) -> Vec<(&'static str, String, bool)> {
    let pki = Pki::new("cases");
    write(dir, "server.crt", &pki.server_cert);
    write(dir, "server.key", &pki.server_key);
    write(dir, "ca.pem", &pki.ca);
    let tls = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
    let hash = "$2y$10$qRTBuFoULoYNA7AQ/F3ck.trZBPyjV64.oA4ZsSBCIWvXuvQlQTuu";
    vec![
        ("empty", String::new(), true),
        ("tls", tls.to_string(), true),
        (
            "users",
            format!("basic_auth_users:\n  carol: {hash}\n"),
            true,
        ),
        (
            "verify",
            format!(
                "{tls}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n"
            ),
            true,
        ),
        (
            "headers",
            "http_server_config:\n  headers:\n    X-Frame-Options: deny\n".into(),
            true,
        ),
        (
            "unknown-field",
            "tls_server_config:\n  cert_filse: server.crt\n".into(),
            false,
        ),
        ("unknown-top", "tls_config:\n  cert_file: a\n".into(), false),
        (
            "missing-key-file",
            "tls_server_config:\n  cert_file: server.crt\n".into(),
            false,
        ),
        (
            "missing-cert-file",
            "tls_server_config:\n  key_file: server.key\n".into(),
            false,
        ),
        (
            "no-such-cert",
            "tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n".into(),
            false,
        ),
        (
            "ca-without-policy",
            format!("{tls}  client_ca_file: ca.pem\n"),
            false,
        ),
        (
            "bad-client-auth",
            format!("{tls}  client_auth_type: Sometimes\n"),
            false,
        ),
        (
            "bad-version",
            format!("{tls}  min_version: TLS111\n"),
            false,
        ),
        (
            "bad-cipher",
            format!("{tls}  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA2048]\n"),
            false,
        ),
        ("bad-hash", "basic_auth_users:\n  john: doe\n".into(), false),
        (
            "bad-header",
            "http_server_config:\n  headers:\n    Content-Type: foo\n".into(),
            false,
        ),
        (
            "bad-header-value",
            "http_server_config:\n  headers:\n    X-Frame-Options: foo\n".into(),
            false,
        ),
        (
            "junk",
            "hWkNKCp3fvIx3jKnsaBI\nTuEjdwNS8A2vYdFbiKqr\n".into(),
            false,
        ),
    ]
}

/// Every component refuses a bad file at start, naming file, line and field, with a
/// non-zero exit; `ember tool check web-config` gives the verdicts.
#[test]
fn a_bad_file_stops_the_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = write(
        dir.path(),
        "bad.yml",
        "basic_auth_users: {}\ntls_server_config:\n  cert_filse: server.crt\n",
    );
    let cfg = write(dir.path(), "prometheus.yml", "scrape_configs: []\n");
    let am_cfg = write(
        dir.path(),
        "alertmanager.yml",
        "route:\n  receiver: default\nreceivers:\n  - name: default\n",
    );
    // Port 0: nothing to race for; a bad file stops the start before listening.
    let listen = || "--web.listen-address=127.0.0.1:0".to_string();
    let runs: Vec<(&str, Vec<String>)> = vec![
        (
            "server",
            vec![
                format!("--config.file={cfg}"),
                format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            ],
        ),
        ("node-exporter", vec![]),
        ("pushgateway", vec![]),
        (
            "alertmanager",
            vec![
                format!("--config.file={am_cfg}"),
                format!("--storage.path={}", dir.path().join("am").display()),
                "--cluster.listen-address=".into(),
            ],
        ),
    ];
    for (sub, extra) in runs {
        let (exited, err) = outcome(
            Command::new(env!("CARGO_BIN_EXE_ember"))
                .arg(sub)
                .args(&extra)
                .arg(listen())
                .arg(format!("--web.config.file={bad}")),
            Duration::from_secs(30),
        );
        assert_eq!(exited, Some(false), "ember {sub}: {err}");
        assert!(
            err.contains(&format!("{bad}:3:3: tls_server_config.cert_filse: field cert_filse not found in type web.TLSConfig")),
            "ember {sub}: {err}"
        );
    }

    for (name, yaml, good) in cases(dir.path()) {
        let f = write(dir.path(), &format!("{name}.yml"), &yaml);
        let (exited, err) = outcome(
            Command::new(env!("CARGO_BIN_EXE_ember")).args(["tool", "check", "web-config", &f]),
            Duration::from_secs(30),
        );
        assert_eq!(exited, Some(good), "{name}: {err}");
        let verdict = if good { "SUCCESS" } else { "FAILED" };
        assert!(err.starts_with(&format!("{f} {verdict}")), "{name}: {err}");
    }
}

/// Debian's node exporter (1.5, exporter-toolkit 0.8) and promtool (2.42) accept and
/// refuse the same files as Ember. Exit codes only: the messages differ.
#[test]
fn same_verdicts_as_node_exporter_and_promtool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = cases(dir.path());
    if have_binary("prometheus-node-exporter") {
        for (name, yaml, good) in &cases {
            let f = write(dir.path(), &format!("{name}.yml"), yaml);
            let run = |bin: &str, pre: &[&str]| {
                let (exited, err) = outcome(
                    Command::new(bin)
                        .args(pre)
                        // Port 0, so that a busy port cannot pass for a refusal.
                        .arg("--web.listen-address=127.0.0.1:0")
                        .arg(format!("--web.config.file={f}"))
                        .args(["--collector.disable-defaults", "--collector.loadavg"]),
                    Duration::from_secs(3),
                );
                // Still running: accepted; exited: refused (whatever the code).
                (exited.is_none(), err)
            };
            let (theirs, their_err) = run("prometheus-node-exporter", &[]);
            let (ours, our_err) = run(env!("CARGO_BIN_EXE_ember"), &["node-exporter"]);
            assert_eq!(theirs, *good, "{name}: node_exporter: {their_err}");
            assert_eq!(ours, *good, "{name}: ember: {our_err}");
        }
    }
    if have_binary("promtool") {
        for (name, yaml, good) in &cases {
            let f = write(dir.path(), &format!("{name}.yml"), yaml);
            let check = |cmd: &mut Command| outcome(cmd, Duration::from_secs(30));
            let (theirs, their_err) =
                check(Command::new("promtool").args(["check", "web-config", &f]));
            let (ours, our_err) = check(Command::new(env!("CARGO_BIN_EXE_ember")).args([
                "tool",
                "check",
                "web-config",
                &f,
            ]));
            assert_eq!(theirs, Some(*good), "{name}: promtool: {their_err}");
            assert_eq!(ours, Some(*good), "{name}: ember: {our_err}");
        }
    }
}
