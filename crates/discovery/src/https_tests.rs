//! The shared client against local HTTPS servers: roots, wrong CA, skip-verify,
//! server name, client certificates, CA reload, versions, authentication headers
//! and redirects. Certificates are made per run (`crate::testing`).

use crate::http::{HttpClient, HttpError};
use crate::testing::{Pki, tls_front};
use ember_config::{Authorization, BasicAuth, HttpClientConfig, HttpHeader, Secret, TlsVersion};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T: Duration = Duration::from_secs(5);

/// A plain HTTP/1.1 server: `/redirect` answers 302 to `/metrics`, anything else
/// 200 with the request's head as the body. Every request head is recorded.
async fn echo_server() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            let s = s.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                s.lock().unwrap().push(head.clone());
                let resp = if head.starts_with("GET /redirect ") {
                    "HTTP/1.1 302 Found\r\nLocation: /metrics\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
                } else {
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
                        head.len()
                    )
                };
                let _ = c.write_all(resp.as_bytes()).await;
            });
        }
    });
    (addr, seen)
}

fn tls(f: impl FnOnce(&mut ember_config::TlsConfig)) -> HttpClientConfig {
    let mut c = HttpClientConfig::default();
    f(&mut c.tls_config);
    c
}

fn client(c: &HttpClientConfig) -> HttpClient {
    HttpClient::from_config(c).expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_verification() {
    let pki = Pki::new("ember");
    let other = Pki::new("other");
    let dir = tempfile::tempdir().unwrap();
    let files = pki.write(dir.path());
    let (plain, _) = echo_server().await;
    let front = tls_front(plain, pki.server_config(false)).await;
    let url = format!("https://{front}/metrics");

    // The right CA, from a file and inline.
    let ok = tls(|t| t.ca_file = files.ca.display().to_string());
    let r = client(&ok)
        .get(&url, &[], T, 0)
        .await
        .expect("https with ca_file");
    assert!(String::from_utf8_lossy(&r.body).starts_with("GET /metrics HTTP/1.1"));
    let inline = tls(|t| t.ca = pki.ca.clone());
    client(&inline)
        .get(&url, &[], T, 0)
        .await
        .expect("https with ca");

    // Another CA: a clear error, in Go's words.
    let wrong = tls(|t| t.ca = other.ca.clone());
    let e = client(&wrong).get(&url, &[], T, 0).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("certificate signed by unknown authority"),
        "{e}"
    );
    // System roots do not know the test CA either.
    let e = HttpClient::new().get(&url, &[], T, 0).await.unwrap_err();
    assert!(e.to_string().contains("unknown authority"), "{e}");

    // Skipping verification accepts it.
    let skip = tls(|t| t.insecure_skip_verify = true);
    client(&skip)
        .get(&url, &[], T, 0)
        .await
        .expect("insecure_skip_verify");

    // server_name: verified against it (and sent as SNI).
    let named = tls(|t| {
        t.ca = pki.ca.clone();
        t.server_name = "localhost".into();
    });
    client(&named)
        .get(&url, &[], T, 0)
        .await
        .expect("server_name localhost");
    let misnamed = tls(|t| {
        t.ca = pki.ca.clone();
        t.server_name = "example.com".into();
    });
    let e = client(&misnamed).get(&url, &[], T, 0).await.unwrap_err();
    assert!(e.to_string().contains("not valid for"), "{e}");

    // Versions: 1.3 only works; a maximum below 1.2 is refused up front.
    let v13 = tls(|t| {
        t.ca = pki.ca.clone();
        t.min_version = Some(TlsVersion::Tls13);
    });
    client(&v13).get(&url, &[], T, 0).await.expect("TLS 1.3");
    let v12 = tls(|t| {
        t.ca = pki.ca.clone();
        t.max_version = Some(TlsVersion::Tls12);
    });
    client(&v12).get(&url, &[], T, 0).await.expect("TLS 1.2");
    let v11 = tls(|t| t.max_version = Some(TlsVersion::Tls11));
    assert!(matches!(
        HttpClient::from_config(&v11),
        Err(HttpError::Config(_))
    ));

    // Plain http through the same client still works.
    client(&ok)
        .get(&format!("http://{plain}/metrics"), &[], T, 0)
        .await
        .expect("http");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates() {
    let pki = Pki::new("ember");
    let dir = tempfile::tempdir().unwrap();
    let files = pki.write(dir.path());
    let (plain, _) = echo_server().await;
    let front = tls_front(plain, pki.server_config(true)).await;
    let url = format!("https://{front}/metrics");

    let without = tls(|t| t.ca_file = files.ca.display().to_string());
    let e = client(&without).get(&url, &[], T, 0).await.unwrap_err();
    // With TLS 1.3 the client may finish its side of the handshake before the
    // server refuses it: the error is the server's alert or the connection closing
    // under the request, depending on timing.
    let e = e.to_string();
    assert!(e.contains("tls: ") || e.contains("connection"), "{e}");

    let with_files = tls(|t| {
        t.ca_file = files.ca.display().to_string();
        t.cert_file = files.client_cert.display().to_string();
        t.key_file = files.client_key.display().to_string();
    });
    client(&with_files)
        .get(&url, &[], T, 0)
        .await
        .expect("client cert from files");
    let inline = tls(|t| {
        t.ca = pki.ca.clone();
        t.cert = pki.client_cert.clone();
        t.key = Secret::new(pki.client_key.clone());
    });
    let c = client(&inline);
    c.get(&url, &[], T, 0).await.expect("inline client cert");
    assert!(!format!("{c:?}").contains("PRIVATE KEY"), "{c:?}");

    // A key that does not belong to the certificate fails at construction.
    let other = Pki::new("other");
    let mismatched = tls(|t| {
        t.cert = pki.client_cert.clone();
        t.key = Secret::new(other.client_key.clone());
    });
    assert!(HttpClient::from_config(&mismatched).is_err());
    // So does an unreadable CA file.
    let missing = tls(|t| t.ca_file = dir.path().join("nope.pem").display().to_string());
    let e = HttpClient::from_config(&missing).unwrap_err();
    assert!(e.to_string().contains("nope.pem"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_files_are_read_again() {
    let pki = Pki::new("ember");
    let other = Pki::new("other");
    let dir = tempfile::tempdir().unwrap();
    let files = pki.write(dir.path());
    let (plain, _) = echo_server().await;
    let front = tls_front(plain, pki.server_config(true)).await;
    let url = format!("https://{front}/metrics");

    // Start with the wrong CA and a client certificate the server does not trust.
    std::fs::write(&files.ca, &other.ca).unwrap();
    std::fs::write(&files.client_cert, &other.client_cert).unwrap();
    std::fs::write(&files.client_key, &other.client_key).unwrap();
    let c = client(&tls(|t| {
        t.ca_file = files.ca.display().to_string();
        t.cert_file = files.client_cert.display().to_string();
        t.key_file = files.client_key.display().to_string();
    }));
    let e = c.get(&url, &[], T, 0).await.unwrap_err();
    assert!(e.to_string().contains("unknown authority"), "{e}");

    // The right CA: the server is trusted now, but it refuses the client.
    std::fs::write(&files.ca, &pki.ca).unwrap();
    let e = c.get(&url, &[], T, 0).await.unwrap_err();
    assert!(!e.to_string().contains("unknown authority"), "{e}");

    // The right client pair: accepted, with the same client.
    std::fs::write(&files.client_cert, &pki.client_cert).unwrap();
    std::fs::write(&files.client_key, &pki.client_key).unwrap();
    c.get(&url, &[], T, 0).await.expect("after rotation");

    // A CA file gone bad fails requests until it is fixed.
    std::fs::write(&files.ca, "garbage").unwrap();
    let e = c.get(&url, &[], T, 0).await.unwrap_err();
    assert!(e.to_string().contains("CA"), "{e}");
    std::fs::write(&files.ca, &pki.ca).unwrap();
    c.get(&url, &[], T, 0).await.expect("CA fixed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_headers_and_redirects() {
    let pki = Pki::new("ember");
    let (plain, seen) = echo_server().await;
    let front = tls_front(plain, pki.server_config(false)).await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "t0k\n").unwrap();

    let mut bearer = tls(|t| t.ca = pki.ca.clone());
    bearer.authorization = Some(Authorization {
        kind: "Bearer".into(),
        credentials: Secret::default(),
        credentials_file: token.display().to_string(),
    });
    bearer.http_headers.insert(
        "X-Scope-OrgID".into(),
        HttpHeader {
            values: vec!["tenant".into()],
            ..HttpHeader::default()
        },
    );
    let c = client(&bearer);
    // Through a redirect: the credentials go along to the next request too.
    let r = c
        .get(
            &format!("https://{front}/redirect"),
            &[("Accept", "text/plain".into())],
            T,
            0,
        )
        .await
        .expect("redirected");
    let head = String::from_utf8_lossy(&r.body).to_lowercase();
    assert!(head.starts_with("get /metrics "), "{head}");
    assert!(head.contains("authorization: bearer t0k\r\n"), "{head}");
    assert!(head.contains("x-scope-orgid: tenant\r\n"), "{head}");
    assert!(head.contains("accept: text/plain\r\n"), "{head}");
    // Credentials files are read at each request.
    std::fs::write(&token, "n3w").unwrap();
    let r = c
        .get(&format!("https://{front}/metrics"), &[], T, 0)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&r.body).contains("Bearer n3w\r\n"));

    let mut basic = HttpClientConfig {
        basic_auth: Some(BasicAuth {
            username: "user".into(),
            password: Secret::new("pass"),
            ..BasicAuth::default()
        }),
        ..HttpClientConfig::default()
    };
    basic.follow_redirects = false;
    let c = client(&basic);
    let e = c
        .get(&format!("http://{plain}/redirect"), &[], T, 0)
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "server returned HTTP status 302 Found");
    let last = seen.lock().unwrap().last().cloned().unwrap();
    assert!(
        last.contains("authorization: Basic dXNlcjpwYXNz\r\n"),
        "{last}"
    );

    // POST returns whatever status came back, with the body.
    let r = c
        .post(
            &format!("http://{plain}/api"),
            &[("Content-Type", "application/json".into())],
            b"{}".to_vec(),
            T,
            16,
        )
        .await
        .expect("post");
    assert_eq!((r.status, r.body.len()), (200, 16), "body cut at the limit");
}

#[tokio::test(flavor = "current_thread")]
async fn unusable_settings_are_refused() {
    let mut proxied = HttpClientConfig::default();
    proxied.proxy.proxy_url = "gopher://proxy:3128".into();
    let e = HttpClient::from_config(&proxied).unwrap_err();
    assert!(matches!(e, HttpError::Config(_)), "{e}");
    let failing = HttpClient::failing("error creating HTTP client: x");
    let e = failing
        .get("http://127.0.0.1:1/", &[], T, 0)
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "error creating HTTP client: x");
}
