//! Serving over real sockets: TLS, client certificates, SANs, basic auth, headers,
//! the rate limit, reloads and certificate rotation.

use super::*;
use axum::routing::get;
use ember_discovery::testing::Pki;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn app() -> axum::Router {
    axum::Router::new().route("/", get(|| async { "hello" }))
}

async fn start(web: Option<WebConfigFile>) -> SocketAddr {
    let l = bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(serve(l, app(), web, std::future::pending()));
    addr
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn load(dir: &Path, yaml: &str) -> Result<WebConfigFile, Error> {
    write(dir, "web.yml", yaml);
    WebConfigFile::load(dir.join("web.yml"))
}

/// The raw HTTP/1.0 response to `GET /` with extra header lines, in the clear.
async fn http_get(addr: SocketAddr, headers: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET / HTTP/1.0\r\n{headers}\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn client(cas: &[&str], cert: Option<(&str, &str)>) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = RootCertStore::empty();
    for ca in cas {
        for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
    }
    let b = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    Arc::new(match cert {
        Some((c, k)) => b
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(c.as_bytes())
                    .collect::<Result<_, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_slice(k.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => b.with_no_client_auth(),
    })
}

/// `GET /` over TLS: the response and the server's certificate, or why it failed.
async fn https_get(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    headers: &str,
) -> Result<(String, Vec<u8>), String> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let served = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default();
    tls.write_all(format!("GET / HTTP/1.0\r\nHost: localhost\r\n{headers}\r\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    tls.read_to_end(&mut out).await.map_err(|e| e.to_string())?;
    if out.is_empty() {
        return Err("no response".into());
    }
    Ok((String::from_utf8_lossy(&out).into_owned(), served))
}

fn der_of(pem: &str) -> Vec<u8> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

fn server_files(dir: &Path, pki: &Pki) {
    write(dir, "server.crt", &pki.server_cert);
    write(dir, "server.key", &pki.server_key);
    write(dir, "ca.pem", &pki.ca);
}

#[tokio::test]
async fn binds_go_style_addresses() {
    let l = bind(":0").await.unwrap();
    assert!(l.local_addr().unwrap().ip().is_unspecified());
    assert!(matches!(
        bind("256.0.0.1:1").await,
        Err(Error::Listen { addr, .. }) if addr == "256.0.0.1:1"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_without_a_file() {
    let addr = start(None).await;
    let r = http_get(addr, "").await;
    assert!(r.starts_with("HTTP/1.0 200"), "{r}");
    assert!(r.ends_with("hello"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_and_headers_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let web = load(
        dir.path(),
        &format!(
            "basic_auth_users:\n  alice: {hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
        ),
    )
    .unwrap();
    assert!(!web.tls());
    let addr = start(Some(web)).await;

    let r = http_get(addr, "").await;
    assert!(r.starts_with("HTTP/1.0 401"), "{r}");
    assert!(r.contains("www-authenticate: Basic\r\n"), "{r}");
    assert!(r.contains("x-frame-options: deny\r\n"), "{r}");
    assert!(r.ends_with("Unauthorized\n"), "{r}");

    // alice:s3cret, alice:wrong, bob:s3cret.
    let r = http_get(addr, "Authorization: Basic YWxpY2U6czNjcmV0\r\n").await;
    assert!(r.starts_with("HTTP/1.0 200"), "{r}");
    assert!(r.contains("x-frame-options: deny\r\n"), "{r}");
    assert!(r.ends_with("hello"));
    let r = http_get(addr, "Authorization: Basic YWxpY2U6d3Jvbmc=\r\n").await;
    assert!(r.starts_with("HTTP/1.0 401"), "{r}");
    let r = http_get(addr, "Authorization: Basic Ym9iOnMzY3JldA==\r\n").await;
    assert!(r.starts_with("HTTP/1.0 401"), "{r}");

    // A new user and a new header take effect without a restart.
    write(
        dir.path(),
        "web.yml",
        &format!(
            "basic_auth_users:\n  bob: {hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: sameorigin\n"
        ),
    );
    let r = http_get(addr, "Authorization: Basic Ym9iOnMzY3JldA==\r\n").await;
    assert!(r.starts_with("HTTP/1.0 200"), "{r}");
    assert!(r.contains("x-frame-options: sameorigin\r\n"), "{r}");
    let r = http_get(addr, "Authorization: Basic YWxpY2U6czNjcmV0\r\n").await;
    assert!(r.starts_with("HTTP/1.0 401"), "{r}");

    // A file that turns bad is refused, not ignored.
    write(dir.path(), "web.yml", "basic_auth_users: [\n");
    let r = http_get(addr, "Authorization: Basic Ym9iOnMzY3JldA==\r\n").await;
    assert!(r.starts_with("HTTP/1.0 500"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let web = load(dir.path(), "rate_limit:\n  interval: 1h\n  burst: 2\n").unwrap();
    let addr = start(Some(web)).await;
    assert!(http_get(addr, "").await.starts_with("HTTP/1.0 200"));
    assert!(http_get(addr, "").await.starts_with("HTTP/1.0 200"));
    let r = http_get(addr, "").await;
    assert!(r.starts_with("HTTP/1.0 429"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_relative_paths() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("serve");
    server_files(dir.path(), &pki);
    let web = load(
        dir.path(),
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
    )
    .unwrap();
    assert!(web.tls());
    let addr = start(Some(web)).await;
    let (r, served) = https_get(addr, client(&[&pki.ca], None), "").await.unwrap();
    assert!(r.starts_with("HTTP/1.0 200"), "{r}");
    assert_eq!(served, der_of(&pki.server_cert));
    // Plain HTTP on a TLS port gets no HTTP answer.
    let r = http_get(addr, "").await;
    assert!(!r.starts_with("HTTP/"), "{r}");
    // A client that does not trust the CA gives up.
    let other = Pki::new("other");
    assert!(
        https_get(addr, client(&[&other.ca], None), "")
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_certificate_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("inline");
    let indent = |s: &str| s.lines().map(|l| format!("    {l}\n")).collect::<String>();
    let web = load(
        dir.path(),
        &format!(
            "tls_server_config:\n  cert: |\n{}  key: |\n{}",
            indent(&pki.server_cert),
            indent(&pki.server_key)
        ),
    )
    .unwrap();
    let addr = start(Some(web)).await;
    let (r, _) = https_get(addr, client(&[&pki.ca], None), "").await.unwrap();
    assert!(r.starts_with("HTTP/1.0 200"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("mtls");
    server_files(dir.path(), &pki);
    let ok = client(&[&pki.ca], Some((&pki.client_cert, &pki.client_key)));
    let none = client(&[&pki.ca], None);
    let stranger = Pki::new("stranger");
    let foreign = client(
        &[&pki.ca],
        Some((&stranger.client_cert, &stranger.client_key)),
    );
    let base = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";

    let web = load(
        dir.path(),
        &format!(
            "{base}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n"
        ),
    )
    .unwrap();
    let addr = start(Some(web)).await;
    let (r, _) = https_get(addr, ok.clone(), "").await.unwrap();
    assert!(r.starts_with("HTTP/1.0 200"), "{r}");
    assert!(https_get(addr, none.clone(), "").await.is_err());
    assert!(https_get(addr, foreign.clone(), "").await.is_err());

    let web = load(
        dir.path(),
        &format!("{base}  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.pem\n"),
    )
    .unwrap();
    let addr = start(Some(web)).await;
    assert!(https_get(addr, ok.clone(), "").await.is_ok());
    assert!(https_get(addr, none.clone(), "").await.is_ok());
    assert!(https_get(addr, foreign.clone(), "").await.is_err());

    let web = load(
        dir.path(),
        &format!("{base}  client_auth_type: RequireAnyClientCert\n"),
    )
    .unwrap();
    let addr = start(Some(web)).await;
    assert!(https_get(addr, ok.clone(), "").await.is_ok());
    assert!(https_get(addr, foreign.clone(), "").await.is_ok());
    assert!(https_get(addr, none.clone(), "").await.is_err());

    let web = load(
        dir.path(),
        &format!("{base}  client_auth_type: RequestClientCert\n"),
    )
    .unwrap();
    let addr = start(Some(web)).await;
    assert!(https_get(addr, foreign.clone(), "").await.is_ok());
    assert!(https_get(addr, none.clone(), "").await.is_ok());
}

/// A CA, and a client certificate with the given DNS SANs, in PEM.
fn client_with_sans(sans: &[&str]) -> (String, String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut p =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = p.signed_by(&key, &issuer).unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_allowed_sans() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("sans");
    server_files(dir.path(), &pki);
    let (ca, cert, key) = client_with_sans(&["test3", "10.0.0.1"]);
    write(dir.path(), "client-ca.pem", &ca);
    let with = client(&[&pki.ca], Some((&cert, &key)));
    let base = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: client-ca.pem\n";

    let web = load(
        dir.path(),
        &format!("{base}  client_allowed_sans: [one, test3, two]\n"),
    )
    .unwrap();
    let addr = start(Some(web)).await;
    assert!(https_get(addr, with.clone(), "").await.is_ok());

    let web = load(
        dir.path(),
        &format!("{base}  client_allowed_sans: [\"10.0.0.1\"]\n"),
    )
    .unwrap();
    let addr = start(Some(web)).await;
    assert!(https_get(addr, with.clone(), "").await.is_ok());

    let web = load(dir.path(), &format!("{base}  client_allowed_sans: [bad]\n")).unwrap();
    let addr = start(Some(web)).await;
    assert!(https_get(addr, with.clone(), "").await.is_err());
}

#[test]
fn sans_as_go_spells_them() {
    let (_, cert, _) = client_with_sans(&["a.example", "10.0.0.1", "::1"]);
    let sans = tls::subject_alt_names(&der_of(&cert)).unwrap();
    assert_eq!(sans, ["a.example", "10.0.0.1", "::1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_rotation_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (Pki::new("old"), Pki::new("new"));
    server_files(dir.path(), &old);
    let web = load(
        dir.path(),
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
    )
    .unwrap();
    let addr = start(Some(web)).await;
    let trust = client(&[&old.ca, &new.ca], None);
    let (_, served) = https_get(addr, trust.clone(), "").await.unwrap();
    assert_eq!(served, der_of(&old.server_cert));

    // Half done: a new certificate with the old key keeps the old pair in use.
    write(dir.path(), "server.crt", &new.server_cert);
    let (_, served) = https_get(addr, trust.clone(), "").await.unwrap();
    assert_eq!(served, der_of(&old.server_cert));

    // Done: the next connection sees the new certificate.
    write(dir.path(), "server.key", &new.server_key);
    let (r, served) = https_get(addr, trust.clone(), "").await.unwrap();
    assert!(r.starts_with("HTTP/1.0 200"), "{r}");
    assert_eq!(served, der_of(&new.server_cert));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_basic_auth_together() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("both");
    server_files(dir.path(), &pki);
    let hash = bcrypt::hash("pw", 4).unwrap();
    let web = load(
        dir.path(),
        &format!("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  u: {hash}\n"),
    )
    .unwrap();
    let addr = start(Some(web)).await;
    let c = client(&[&pki.ca], None);
    let (r, _) = https_get(addr, c.clone(), "").await.unwrap();
    assert!(r.starts_with("HTTP/1.0 401"), "{r}");
    // u:pw
    let (r, _) = https_get(addr, c, "Authorization: Basic dTpwdw==\r\n")
        .await
        .unwrap();
    assert!(r.starts_with("HTTP/1.0 200"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let web = load(dir.path(), "").unwrap();
    let l = bind("127.0.0.1:0").await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(l, app(), Some(web), async {
        let _ = rx.await;
    }));
    tx.send(()).unwrap();
    let r = tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    assert!(r.is_ok());
}

#[test]
fn start_up_checks_like_exporter_toolkit() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("checks");
    server_files(dir.path(), &pki);
    let other = Pki::new("other");
    write(dir.path(), "other.key", &other.server_key);
    let err = |yaml: &str| match load(dir.path(), yaml) {
        Err(Error::Config(e)) => *e,
        other => panic!("{yaml}: expected an error, got {other:?}"),
    };

    let e = err("tls_server_config:\n  cert_file: \"\"\n  key_file: server.key\n");
    assert_eq!(e.message(), "missing one of cert or cert_file");
    let e = err("tls_server_config:\n  cert_file: server.crt\n");
    assert_eq!(e.message(), "missing one of key or key_file");
    assert!(
        e.to_string()
            .starts_with(&format!("{}:2:", dir.path().join("web.yml").display())),
        "{e}"
    );
    let e = err("tls_server_config:\n  cert_file: \"\"\n  key_file: \"\"\n  client_auth_type: x\n");
    assert_eq!(e.message(), "missing one of cert or cert_file");

    let e = err("tls_server_config:\n  cert_file: server.crt\n  key_file: somefile\n");
    assert!(matches!(e, ember_config::ConfigError::Io { .. }), "{e}");
    assert_eq!(e.line(), Some(3));
    assert_eq!(e.field(), Some("tls_server_config.key_file"));
    assert!(e.to_string().contains("somefile"), "{e}");

    let e = err("tls_server_config:\n  cert_file: server.crt\n  key_file: other.key\n");
    assert!(e.message().starts_with("failed to load X509KeyPair"), "{e}");

    let e = err(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: ca.pem\n",
    );
    assert_eq!(
        e.message(),
        "client CA's have been configured without a Client Auth Policy"
    );
    assert_eq!(e.line(), Some(4));

    let e = err(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: Sometimes\n",
    );
    assert_eq!(e.message(), "invalid ClientAuth: Sometimes");
    assert_eq!(e.line(), Some(4));

    let e = err(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: nope.pem\n  client_auth_type: RequireAndVerifyClientCert\n",
    );
    assert!(matches!(e, ember_config::ConfigError::Io { .. }), "{e}");

    let e = err(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  max_version: TLS11\n",
    );
    assert!(e.message().contains("not supported"), "{e}");
    let e = err(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS13\n  max_version: TLS12\n",
    );
    assert!(e.message().contains("MinVersion"), "{e}");
    let e = err(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA]\n  max_version: TLS12\n",
    );
    assert!(e.message().contains("cipher suites"), "{e}");
    let e = err(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  curve_preferences: [CurveP521]\n",
    );
    assert!(e.message().contains("curves"), "{e}");

    // Missing file.
    assert!(matches!(
        WebConfigFile::load(dir.path().join("absent.yml")),
        Err(Error::Config(e)) if matches!(*e, ember_config::ConfigError::Io { .. })
    ));

    // Accepted: every curve and cipher Go knows, some of which rustls lacks.
    load(dir.path(), "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.pem\n  curve_preferences: [CurveP256, CurveP384, CurveP521, X25519]\n  cipher_suites:\n  - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n  - TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA\n  - TLS_AES_128_GCM_SHA256\n").unwrap();
    load(dir.path(), "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS10\n").unwrap();
    load(dir.path(), "").unwrap();
    check(&dir.path().join("web.yml")).unwrap();
}
