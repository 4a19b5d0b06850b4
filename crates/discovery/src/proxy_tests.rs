//! The shared client through local proxies: an HTTP proxy that records what it is
//! asked (absolute-form requests, `CONNECT` tunnels), the same behind TLS, and a
//! SOCKS5 proxy; `no_proxy` and `proxy_from_environment` end to end. Also the
//! helpers (an echo target; the recording proxy from `testing`) the OAuth2 tests
//! reuse.

use crate::http::{HttpClient, HttpError};
use crate::testing::{Pki, tls_front};
pub(crate) use crate::testing::{Seen, header, http_proxy, read_head};
use ember_config::{BasicAuth, HttpClientConfig, Secret};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub(crate) const T: Duration = Duration::from_secs(5);

/// A plain HTTP/1.1 target: answers every request with its head as the body and
/// closes; `/redirect?to=URL` answers 302 to URL. Heads are recorded.
pub(crate) async fn echo_target() -> (SocketAddr, Seen) {
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
                s.lock().unwrap().push(head.clone());
                let target = head.split(' ').nth(1).unwrap_or("");
                let resp = if let Some(to) = target.strip_prefix("/redirect?to=") {
                    format!(
                        "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
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

/// The same proxy behind TLS (an `https://` proxy).
async fn https_proxy(pki: &Pki) -> (SocketAddr, Seen) {
    let (plain, seen) = http_proxy(false).await;
    (tls_front(plain, pki.server_config(false)).await, seen)
}

/// A SOCKS5 proxy; with `user`, username/password authentication is required.
/// Records `auth user:pass` and `connect host:port`.
async fn socks5_proxy(user: Option<(&'static str, &'static str)>) -> (SocketAddr, Seen) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Seen::default();
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            let s = s.clone();
            tokio::spawn(async move {
                let mut hdr = [0u8; 2];
                c.read_exact(&mut hdr).await.ok()?;
                let mut methods = vec![0u8; usize::from(hdr[1])];
                c.read_exact(&mut methods).await.ok()?;
                if let Some((want_user, want_pass)) = user {
                    if !methods.contains(&2) {
                        c.write_all(&[5, 0xff]).await.ok()?;
                        return None;
                    }
                    c.write_all(&[5, 2]).await.ok()?;
                    let mut v = [0u8; 2];
                    c.read_exact(&mut v).await.ok()?;
                    let mut u = vec![0u8; usize::from(v[1])];
                    c.read_exact(&mut u).await.ok()?;
                    let plen = c.read_u8().await.ok()?;
                    let mut p = vec![0u8; usize::from(plen)];
                    c.read_exact(&mut p).await.ok()?;
                    let (u, p) = (String::from_utf8(u).ok()?, String::from_utf8(p).ok()?);
                    s.lock().unwrap().push(format!("auth {u}:{p}"));
                    let ok = u == want_user && p == want_pass;
                    c.write_all(&[1, if ok { 0 } else { 1 }]).await.ok()?;
                    if !ok {
                        return None;
                    }
                } else {
                    c.write_all(&[5, 0]).await.ok()?;
                }
                let mut req = [0u8; 4];
                c.read_exact(&mut req).await.ok()?;
                let host = match req[3] {
                    1 => {
                        let mut a = [0u8; 4];
                        c.read_exact(&mut a).await.ok()?;
                        std::net::Ipv4Addr::from(a).to_string()
                    }
                    3 => {
                        let n = c.read_u8().await.ok()?;
                        let mut h = vec![0u8; usize::from(n)];
                        c.read_exact(&mut h).await.ok()?;
                        String::from_utf8(h).ok()?
                    }
                    _ => return None,
                };
                let port = c.read_u16().await.ok()?;
                s.lock().unwrap().push(format!("connect {host}:{port}"));
                let Ok(mut up) = TcpStream::connect((host.as_str(), port)).await else {
                    c.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await.ok()?;
                    return None;
                };
                c.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).await.ok()?;
                let _ = tokio::io::copy_bidirectional(&mut c, &mut up).await;
                Some(())
            });
        }
    });
    (addr, seen)
}

fn proxied(url: &str) -> HttpClientConfig {
    let mut c = HttpClientConfig::default();
    c.proxy.proxy_url = url.into();
    c
}

fn client(c: &HttpClientConfig) -> HttpClient {
    HttpClient::from_config(c).expect("client")
}

fn body(r: &crate::http::Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn last(seen: &Seen) -> String {
    seen.lock().unwrap().last().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_targets_get_absolute_form_requests() {
    let (target, target_seen) = echo_target().await;
    let (proxy, proxy_seen) = http_proxy(false).await;
    let mut cfg = proxied(&format!("http://user:p%40ss@{proxy}"));
    cfg.basic_auth = Some(BasicAuth {
        username: "target-user".into(),
        password: Secret::new("target-pass"),
        ..BasicAuth::default()
    });
    let c = client(&cfg);
    let url = format!("http://{target}/metrics?x=1");
    for _ in 0..2 {
        let r = c
            .get(&url, &[("User-Agent", "ember-test".into())], T, 0)
            .await
            .expect("through the proxy");
        assert!(
            body(&r).starts_with("GET /metrics?x=1 HTTP/1.1\r\n"),
            "{}",
            body(&r)
        );
    }
    let head = last(&proxy_seen);
    assert!(
        head.starts_with(&format!("GET http://{target}/metrics?x=1 HTTP/1.1\r\n")),
        "{head}"
    );
    assert_eq!(
        header(&head, "proxy-authorization").as_deref(),
        Some("Basic dXNlcjpwQHNz")
    );
    assert_eq!(header(&head, "host"), Some(target.to_string()));
    assert_eq!(header(&head, "user-agent").as_deref(), Some("ember-test"));
    // The target's own credentials go to the target as usual.
    let got = last(&target_seen);
    assert_eq!(
        header(&got, "authorization").as_deref(),
        Some("Basic dGFyZ2V0LXVzZXI6dGFyZ2V0LXBhc3M=")
    );
    assert_eq!(proxy_seen.lock().unwrap().len(), 2);

    // Without userinfo, no Proxy-Authorization; POSTs go the same way.
    let c = client(&proxied(&format!("http://{proxy}")));
    let r = c
        .post(
            &format!("http://{target}/api"),
            &[("Content-Type", "application/json".into())],
            b"{}".to_vec(),
            T,
            0,
        )
        .await
        .expect("post through the proxy");
    assert_eq!(r.status, 200);
    let head = last(&proxy_seen);
    assert!(
        head.starts_with(&format!("POST http://{target}/api HTTP/1.1\r\n")),
        "{head}"
    );
    assert_eq!(header(&head, "proxy-authorization"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_targets_get_a_connect_tunnel() {
    let pki = Pki::new("proxy-tests");
    let (plain, target_seen) = echo_target().await;
    let front = tls_front(plain, pki.server_config(false)).await;
    let (proxy, proxy_seen) = http_proxy(false).await;
    let mut cfg = proxied(&format!("http://u:pw@{proxy}"));
    cfg.tls_config.ca = pki.ca.clone();
    cfg.proxy.proxy_connect_header = BTreeMap::from([
        (
            "X-Tenant".to_string(),
            vec![Secret::new("a"), Secret::new("b")],
        ),
        ("Another".to_string(), vec![Secret::new("c\r\nInjected: x")]),
    ]);
    let url = format!("https://localhost:{}/metrics", front.port());
    let r = client(&cfg)
        .get(&url, &[], T, 0)
        .await
        .expect("tunnelled https");
    assert!(
        body(&r).starts_with("GET /metrics HTTP/1.1\r\n"),
        "{}",
        body(&r)
    );
    let port = front.port();
    assert_eq!(
        last(&proxy_seen),
        format!(
            "CONNECT localhost:{port} HTTP/1.1\r\nHost: localhost:{port}\r\nAnother: c  Injected: x\r\nProxy-Authorization: Basic dTpwdw==\r\nX-Tenant: a\r\nX-Tenant: b\r\n\r\n"
        )
    );
    // Inside the tunnel the request is in origin form, without proxy credentials.
    let inner = last(&target_seen);
    assert_eq!(header(&inner, "proxy-authorization"), None, "{inner}");

    // A proxy that refuses the tunnel fails the request with its status.
    let (refusing, _) = http_proxy(true).await;
    let mut cfg = proxied(&format!("http://{refusing}"));
    cfg.tls_config.ca = pki.ca.clone();
    let e = client(&cfg).get(&url, &[], T, 0).await.unwrap_err();
    assert!(matches!(e, HttpError::Transport(_)), "{e:?}");
    assert!(
        e.to_string().contains(&format!(
            "proxy refused CONNECT to localhost:{port}: 407 Proxy Authentication Required"
        )),
        "{e}"
    );

    // The target's certificate is checked through the tunnel.
    let e = client(&proxied(&format!("http://{proxy}")))
        .get(&url, &[], T, 0)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("unknown authority"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_proxies() {
    let pki = Pki::new("proxy-tls");
    let (plain, _) = echo_target().await;
    let front = tls_front(plain, pki.server_config(false)).await;
    let (proxy, proxy_seen) = https_proxy(&pki).await;
    let mut cfg = proxied(&format!("https://localhost:{}", proxy.port()));
    cfg.tls_config.ca = pki.ca.clone();
    let c = client(&cfg);
    let r = c
        .get(&format!("http://{plain}/m"), &[], T, 0)
        .await
        .expect("http target through an https proxy");
    assert!(body(&r).starts_with("GET /m HTTP/1.1"));
    assert!(last(&proxy_seen).starts_with(&format!("GET http://{plain}/m HTTP/1.1")));
    // TLS inside TLS.
    let r = c
        .get(&format!("https://localhost:{}/n", front.port()), &[], T, 0)
        .await
        .expect("https target through an https proxy");
    assert!(body(&r).starts_with("GET /n HTTP/1.1"));
    assert!(last(&proxy_seen).starts_with("CONNECT localhost:"));
    // The proxy's certificate is verified too.
    let e = client(&proxied(&format!("https://localhost:{}", proxy.port())))
        .get(&format!("http://{plain}/m"), &[], T, 0)
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("proxyconnect tcp: tls:") && msg.contains("unknown authority"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5_proxies() {
    let pki = Pki::new("socks");
    let (plain, _) = echo_target().await;
    let front = tls_front(plain, pki.server_config(false)).await;
    let (open, open_seen) = socks5_proxy(None).await;
    let r = client(&proxied(&format!("socks5://{open}")))
        .get(&format!("http://{plain}/s"), &[], T, 0)
        .await
        .expect("through socks5");
    // Plain origin-form requests: the proxy only relays bytes.
    assert!(body(&r).starts_with("GET /s HTTP/1.1"));
    assert_eq!(last(&open_seen), format!("connect {plain}"));

    let (auth, auth_seen) = socks5_proxy(Some(("sam", "s3cret"))).await;
    let mut cfg = proxied(&format!("socks5h://sam:s3cret@{auth}"));
    cfg.tls_config.ca = pki.ca.clone();
    let url = format!("https://localhost:{}/t", front.port());
    let r = client(&cfg)
        .get(&url, &[], T, 0)
        .await
        .expect("https via socks5");
    assert!(body(&r).starts_with("GET /t HTTP/1.1"));
    assert_eq!(
        *auth_seen.lock().unwrap(),
        [
            "auth sam:s3cret".to_string(),
            format!("connect localhost:{}", front.port())
        ]
    );
    let mut wrong = proxied(&format!("socks5://sam:nope@{auth}"));
    wrong.tls_config.ca = pki.ca.clone();
    let e = client(&wrong).get(&url, &[], T, 0).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("username/password authentication failed"),
        "{e}"
    );
    let e = client(&proxied(&format!("socks5://{auth}")))
        .get(&url, &[], T, 0)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("no acceptable authentication methods"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_selection_end_to_end() {
    let (target, target_seen) = echo_target().await;
    let (proxy, proxy_seen) = http_proxy(false).await;
    // no_proxy turns on Go's rules, under which loopback targets go direct.
    let mut cfg = proxied(&format!("http://{proxy}"));
    cfg.proxy.no_proxy = "example.com".into();
    client(&cfg)
        .get(&format!("http://{target}/direct"), &[], T, 0)
        .await
        .expect("direct");
    assert!(proxy_seen.lock().unwrap().is_empty());
    assert_eq!(target_seen.lock().unwrap().len(), 1);
    let r = client(&cfg)
        .get("http://other.invalid/x", &[], T, 0)
        .await
        .expect("proxied");
    assert_eq!(body(&r), "via proxy");

    // The environment, read when the client is made.
    let mut env_cfg = HttpClientConfig::default();
    env_cfg.proxy.proxy_from_environment = true;
    let proxy_var = proxy.to_string();
    let env = move |k: &str| (k == "http_proxy").then(|| proxy_var.clone());
    let c = HttpClient::from_config_env(&env_cfg, &env).expect("client");
    let r = c
        .get("http://target.invalid/env", &[], T, 0)
        .await
        .expect("proxied by the environment");
    assert_eq!(body(&r), "via proxy");
    assert!(last(&proxy_seen).starts_with("GET http://target.invalid/env HTTP/1.1\r\n"));
    c.get(&format!("http://{target}/loopback"), &[], T, 0)
        .await
        .expect("loopback is never proxied");
    assert!(last(&target_seen).starts_with("GET /loopback "));
    assert_eq!(proxy_seen.lock().unwrap().len(), 2);

    // Under CGI, HTTP_PROXY is refused.
    let proxy_var = proxy.to_string();
    let cgi = move |k: &str| match k {
        "HTTP_PROXY" => Some(proxy_var.clone()),
        "REQUEST_METHOD" => Some("GET".to_string()),
        _ => None,
    };
    let e = HttpClient::from_config_env(&env_cfg, &cgi)
        .expect("client")
        .get("http://target.invalid/", &[], T, 0)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("CGI environment"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_failures() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = l.local_addr().unwrap();
    drop(l);
    let e = client(&proxied(&format!("http://{closed}")))
        .get("http://target.invalid/", &[], T, 0)
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("proxyconnect tcp: "), "{e}");
    let e = HttpClient::from_config(&proxied("ftp://proxy:21")).unwrap_err();
    assert!(
        matches!(&e, HttpError::Config(m) if m.contains("unsupported proxy scheme \"ftp\"")),
        "{e}"
    );
}
