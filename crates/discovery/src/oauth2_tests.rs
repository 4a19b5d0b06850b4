//! OAuth2 through the shared client against a local token endpoint that counts its
//! calls and checks the form and the client authentication: caching, expiry,
//! secret rotation, the Basic-then-form-fields detection, errors, cross-host
//! redirects, the token request's own proxy, and the JWT bearer grant.

use crate::http::{HttpClient, HttpError};
use crate::proxy_tests::{T, echo_target, header, http_proxy, read_head};
use ember_config::{HttpClientConfig, OAuth2, Secret};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One token request as the endpoint saw it.
#[derive(Clone, Debug)]
struct TokenRequest {
    head: String,
    /// The form, decoded.
    form: BTreeMap<String, String>,
}

type Answer = (u16, &'static str, String);
type Handler = Arc<dyn Fn(&TokenRequest, usize) -> Answer + Send + Sync>;

/// A token endpoint: each request is recorded and answered by `handler`, given
/// the request and its number (from 1).
async fn token_endpoint(handler: Handler) -> (SocketAddr, Arc<Mutex<Vec<TokenRequest>>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<TokenRequest>>> = Arc::default();
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            let (s, handler) = (s.clone(), handler.clone());
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
                let form = url::form_urlencoded::parse(&body).into_owned().collect();
                let req = TokenRequest { head, form };
                let n = {
                    let mut s = s.lock().unwrap();
                    s.push(req.clone());
                    s.len()
                };
                let (status, ct, body) = handler(&req, n);
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = c.write_all(resp.as_bytes()).await;
            });
        }
    });
    (addr, seen)
}

/// Answers `tok-<n>` valid for `expires_in` seconds (no `expires_in` when 0).
fn tokens(expires_in: i64) -> Handler {
    Arc::new(move |_, n| {
        let exp = if expires_in == 0 {
            String::new()
        } else {
            format!(r#","expires_in":{expires_in}"#)
        };
        (
            200,
            "application/json",
            format!(r#"{{"access_token":"tok-{n}","token_type":"bearer"{exp}}}"#),
        )
    })
}

fn config(token_url: String) -> HttpClientConfig {
    HttpClientConfig {
        oauth2: Some(OAuth2 {
            client_id: "client id".into(),
            client_secret: Secret::new("s3cr/t"),
            scopes: vec!["A".into(), "B".into()],
            token_url,
            endpoint_params: BTreeMap::from([("hi".into(), "hello".into())]),
            ..OAuth2::default()
        }),
        ..HttpClientConfig::default()
    }
}

fn oauth(cfg: &mut HttpClientConfig) -> &mut OAuth2 {
    cfg.oauth2.as_mut().expect("oauth2")
}

async fn authorization_seen(c: &HttpClient, target: SocketAddr) -> Result<String, HttpError> {
    let r = c
        .get(
            &format!("http://{target}/metrics"),
            &[("User-Agent", "Prometheus/test".into())],
            T,
            0,
        )
        .await?;
    let head = String::from_utf8_lossy(&r.body).into_owned();
    Ok(header(&head, "authorization").unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_token_is_fetched_once_and_sent() {
    let (target, _) = echo_target().await;
    let (ep, calls) = token_endpoint(tokens(3600)).await;
    let mut cfg = config(format!("http://{ep}/token"));
    // The client's own Authorization is replaced by the token.
    cfg.authorization = None;
    let c = HttpClient::from_config(&cfg).expect("client");
    for _ in 0..3 {
        assert_eq!(
            authorization_seen(&c, target).await.unwrap(),
            "Bearer tok-1"
        );
    }
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let req = &calls[0];
    assert!(
        req.head.starts_with("POST /token HTTP/1.1\r\n"),
        "{}",
        req.head
    );
    assert_eq!(
        header(&req.head, "content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    // Basic with the form-escaped id and secret: base64("client+id:s3cr%2Ft").
    assert_eq!(
        header(&req.head, "authorization").as_deref(),
        Some("Basic Y2xpZW50K2lkOnMzY3IlMkZ0")
    );
    assert_eq!(
        header(&req.head, "user-agent").as_deref(),
        Some("Prometheus/test")
    );
    assert_eq!(
        req.form,
        BTreeMap::from([
            ("grant_type".into(), "client_credentials".into()),
            ("hi".into(), "hello".into()),
            ("scope".into(), "A B".into()),
        ])
    );
    // The caller's Authorization header gives way to the token.
    let r = c
        .get(
            &format!("http://{target}/x"),
            &[("Authorization", "Basic other".into())],
            T,
            0,
        )
        .await
        .unwrap();
    let head = String::from_utf8_lossy(&r.body).into_owned();
    assert_eq!(
        header(&head, "authorization").as_deref(),
        Some("Bearer tok-1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_renewed_ten_seconds_before_expiry() {
    let (target, _) = echo_target().await;
    // 11 s: usable for one second.
    let (ep, calls) = token_endpoint(tokens(11)).await;
    let c = HttpClient::from_config(&config(format!("http://{ep}/token"))).unwrap();
    assert_eq!(
        authorization_seen(&c, target).await.unwrap(),
        "Bearer tok-1"
    );
    assert_eq!(
        authorization_seen(&c, target).await.unwrap(),
        "Bearer tok-1"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        authorization_seen(&c, target).await.unwrap(),
        "Bearer tok-2"
    );
    assert_eq!(calls.lock().unwrap().len(), 2);

    // Under 10 s: every request fetches a token (and uses it).
    let (ep, calls) = token_endpoint(tokens(5)).await;
    let c = HttpClient::from_config(&config(format!("http://{ep}/token"))).unwrap();
    for n in 1..=3 {
        assert_eq!(
            authorization_seen(&c, target).await.unwrap(),
            format!("Bearer tok-{n}")
        );
    }
    assert_eq!(calls.lock().unwrap().len(), 3);

    // Without expires_in: never expires.
    let (ep, calls) = token_endpoint(tokens(0)).await;
    let c = HttpClient::from_config(&config(format!("http://{ep}/token"))).unwrap();
    for _ in 0..3 {
        assert_eq!(
            authorization_seen(&c, target).await.unwrap(),
            "Bearer tok-1"
        );
    }
    assert_eq!(calls.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_file_changes_fetch_a_new_token() {
    let (target, _) = echo_target().await;
    let (ep, calls) = token_endpoint(tokens(3600)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, "").unwrap();
    let mut cfg = config(format!("http://{ep}/token"));
    oauth(&mut cfg).client_secret = Secret::default();
    oauth(&mut cfg).client_secret_file = file.display().to_string();
    oauth(&mut cfg).scopes.clear();
    oauth(&mut cfg).endpoint_params.clear();
    let c = HttpClient::from_config(&cfg).unwrap();
    let auths = || {
        calls
            .lock()
            .unwrap()
            .iter()
            .map(|r| header(&r.head, "authorization").unwrap_or_default())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        authorization_seen(&c, target).await.unwrap(),
        "Bearer tok-1"
    );
    authorization_seen(&c, target).await.unwrap();
    std::fs::write(&file, "123456\n").unwrap();
    assert_eq!(
        authorization_seen(&c, target).await.unwrap(),
        "Bearer tok-2"
    );
    authorization_seen(&c, target).await.unwrap();
    std::fs::write(&file, "1234567").unwrap();
    assert_eq!(
        authorization_seen(&c, target).await.unwrap(),
        "Bearer tok-3"
    );
    // prometheus/common's TestOAuth2WithFile: client id "1" there, here "client id".
    assert_eq!(
        auths(),
        [
            "Basic Y2xpZW50K2lkOg==",
            "Basic Y2xpZW50K2lkOjEyMzQ1Ng==",
            "Basic Y2xpZW50K2lkOjEyMzQ1Njc="
        ]
    );
    assert_eq!(calls.lock().unwrap()[0].form.len(), 1, "grant_type only");
    // A file that goes away fails the request, naming it.
    std::fs::remove_file(&file).unwrap();
    let e = authorization_seen(&c, target).await.unwrap_err();
    assert!(matches!(e, HttpError::OAuth2(_)), "{e:?}");
    assert!(
        e.to_string().starts_with(&format!(
            "unable to read oauth2 client secret: unable to read file {}",
            file.display()
        )),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_fall_back_to_form_fields_and_the_choice_is_kept() {
    let (target, _) = echo_target().await;
    // Refuses HTTP Basic, accepts the id and secret as form fields; tokens of 5 s
    // so that each request fetches one.
    let handler: Handler = Arc::new(|req, n| {
        if header(&req.head, "authorization").is_some() {
            return (
                401,
                "application/json",
                r#"{"error":"invalid_client"}"#.into(),
            );
        }
        let ok = req.form.get("client_id").map(String::as_str) == Some("client id")
            && req.form.get("client_secret").map(String::as_str) == Some("s3cr/t");
        if !ok {
            return (400, "text/plain", "error=invalid_request".into());
        }
        (
            200,
            "application/x-www-form-urlencoded",
            format!("access_token=tok-{n}&token_type=bearer&expires_in=5"),
        )
    });
    let (ep, calls) = token_endpoint(handler).await;
    let c = HttpClient::from_config(&config(format!("http://{ep}/token"))).unwrap();
    assert_eq!(
        authorization_seen(&c, target).await.unwrap(),
        "Bearer tok-2"
    );
    assert_eq!(
        authorization_seen(&c, target).await.unwrap(),
        "Bearer tok-3"
    );
    let calls = calls.lock().unwrap().clone();
    let with_basic: Vec<bool> = calls
        .iter()
        .map(|r| header(&r.head, "authorization").is_some())
        .collect();
    assert_eq!(with_basic, [true, false, false]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_errors_fail_the_request() {
    let (target, target_seen) = echo_target().await;
    let refusing: Handler = Arc::new(|_, _| {
        (
            400,
            "application/json",
            r#"{"error":"invalid_client","error_description":"unknown client"}"#.into(),
        )
    });
    let (ep, calls) = token_endpoint(refusing).await;
    let c = HttpClient::from_config(&config(format!("http://{ep}/token"))).unwrap();
    let e = authorization_seen(&c, target).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"oauth2: "invalid_client" "unknown client""#
    );
    // Both styles were tried, the target was never asked.
    assert_eq!(calls.lock().unwrap().len(), 2);
    assert!(target_seen.lock().unwrap().is_empty());

    let down: Handler = Arc::new(|_, _| (503, "text/html", "<h1>down</h1>".into()));
    let (ep, _) = token_endpoint(down).await;
    let c = HttpClient::from_config(&config(format!("http://{ep}/token"))).unwrap();
    let e = authorization_seen(&c, target).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "oauth2: cannot fetch token: 503 Service Unavailable\nResponse: <h1>down</h1>"
    );

    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = l.local_addr().unwrap();
    drop(l);
    let c = HttpClient::from_config(&config(format!("http://{closed}/token"))).unwrap();
    let e = authorization_seen(&c, target).await.unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("Post \"http://{closed}/token\": ")),
        "{e}"
    );

    // endpoint_params may replace grant_type, not what the grant sets.
    let (ep, calls) = token_endpoint(tokens(3600)).await;
    let mut cfg = config(format!("http://{ep}/token"));
    oauth(&mut cfg)
        .endpoint_params
        .insert("scope".into(), "C".into());
    let e = authorization_seen(&HttpClient::from_config(&cfg).unwrap(), target)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"oauth2: cannot overwrite parameter "scope""#
    );
    oauth(&mut cfg).scopes.clear();
    oauth(&mut cfg)
        .endpoint_params
        .insert("grant_type".into(), "password".into());
    authorization_seen(&HttpClient::from_config(&cfg).unwrap(), target)
        .await
        .unwrap();
    let form = calls.lock().unwrap()[0].form.clone();
    assert_eq!(
        (form["grant_type"].as_str(), form["scope"].as_str()),
        ("password", "C")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_on_redirects_to_other_hosts() {
    let (target, seen) = echo_target().await;
    let (ep, _) = token_endpoint(tokens(3600)).await;
    let c = HttpClient::from_config(&config(format!("http://{ep}/token"))).unwrap();
    // Same host: the token follows.
    let to = format!("http://127.0.0.1:{}/same", target.port());
    c.get(&format!("http://{target}/redirect?to={to}"), &[], T, 0)
        .await
        .unwrap();
    let heads = seen.lock().unwrap().clone();
    assert_eq!(
        header(&heads[1], "authorization").as_deref(),
        Some("Bearer tok-1")
    );
    // Another host (localhost is not 127.0.0.1): it does not, even coming back.
    let back = format!("http://127.0.0.1:{}/back", target.port());
    let to = format!("http://localhost:{}/redirect?to={back}", target.port());
    c.get(&format!("http://{target}/redirect?to={to}"), &[], T, 0)
        .await
        .unwrap();
    let heads = seen.lock().unwrap().clone();
    assert!(
        heads[3].starts_with("GET /redirect?to=http://127.0.0.1"),
        "{}",
        heads[3]
    );
    assert_eq!(header(&heads[3], "authorization"), None);
    assert!(heads[4].starts_with("GET /back "));
    assert_eq!(header(&heads[4], "authorization"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_requests_use_the_oauth2_proxy() {
    let (target, _) = echo_target().await;
    let (ep, calls) = token_endpoint(tokens(3600)).await;
    let (proxy, proxy_seen) = http_proxy(false).await;
    let mut cfg = config(format!("http://{ep}/token"));
    oauth(&mut cfg).proxy.proxy_url = format!("http://p:q@{proxy}");
    let c = HttpClient::from_config(&cfg).unwrap();
    assert_eq!(
        authorization_seen(&c, target).await.unwrap(),
        "Bearer tok-1"
    );
    // Only the token request went through the proxy.
    let seen = proxy_seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].starts_with(&format!("POST http://{ep}/token HTTP/1.1\r\n")));
    assert_eq!(
        header(&seen[0], "proxy-authorization").as_deref(),
        Some("Basic cDpx")
    );
    assert_eq!(calls.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_bearer_grant() {
    use ember_model::base64::{Alphabet, decode};
    let (target, _) = echo_target().await;
    let (ep, calls) = token_endpoint(tokens(3600)).await;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("RSA key");
    let token_url = format!("http://{ep}/token");
    let mut cfg = config(token_url.clone());
    let o = oauth(&mut cfg);
    o.grant_type = "urn:ietf:params:oauth:grant-type:jwt-bearer".into();
    o.client_secret = Secret::default();
    o.client_certificate_key = Secret::new(key.serialize_pem());
    o.client_certificate_key_id = "key-1".into();
    o.signature_algorithm = "RS384".into();
    o.claims = BTreeMap::from([(
        "tenant".into(),
        ember_config::YamlValue::String("t1".into()),
    )]);
    let c = HttpClient::from_config(&cfg).unwrap();
    assert_eq!(
        authorization_seen(&c, target).await.unwrap(),
        "Bearer tok-1"
    );
    assert_eq!(
        authorization_seen(&c, target).await.unwrap(),
        "Bearer tok-1"
    );
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    let req = &calls[0];
    assert_eq!(header(&req.head, "authorization"), None);
    assert_eq!(
        req.form["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    assert_eq!(
        (req.form["scope"].as_str(), req.form["hi"].as_str()),
        ("A B", "hello")
    );
    let parts: Vec<&str> = req.form["assertion"].split('.').collect();
    assert_eq!(parts.len(), 3);
    let json = |p: &str| -> serde_json::Value {
        serde_json::from_slice(&decode(p, Alphabet::UrlSafe).unwrap()).unwrap()
    };
    assert_eq!(
        json(parts[0]),
        serde_json::json!({"alg": "RS384", "kid": "key-1", "typ": "JWT"})
    );
    let claims = json(parts[1]);
    assert_eq!(claims["iss"], "client id");
    assert_eq!(claims["sub"], "client id");
    assert_eq!(claims["aud"], token_url);
    assert_eq!(claims["scope"], "A B");
    assert_eq!(claims["tenant"], "t1");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        600
    );
    assert_eq!(claims["jti"].as_str().unwrap().len(), 36);
    // 2048-bit RSA: 256-byte signatures (checked once by hand with `openssl dgst
    // -sha384 -verify`).
    assert_eq!(decode(parts[2], Alphabet::UrlSafe).unwrap().len(), 256);

    // A key that is not RSA fails the request.
    let ec = rcgen::KeyPair::generate().unwrap();
    oauth(&mut cfg).client_certificate_key = Secret::new(ec.serialize_pem());
    let e = authorization_seen(&HttpClient::from_config(&cfg).unwrap(), target)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not a valid RSA private key"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_over_tls_uses_the_oauth2_tls_config() {
    let pki = crate::testing::Pki::new("oauth2-tls");
    let (target, _) = echo_target().await;
    let (plain, calls) = token_endpoint(tokens(3600)).await;
    let front = crate::testing::tls_front(plain, pki.server_config(false)).await;
    let mut cfg = config(format!("https://localhost:{}/token", front.port()));
    // Without the CA the token request fails, and so does the scrape.
    let e = authorization_seen(&HttpClient::from_config(&cfg).unwrap(), target)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("unknown authority"), "{e}");
    // oauth2.tls_config is for the token endpoint only.
    oauth(&mut cfg).tls_config.ca = pki.ca.clone();
    let c = HttpClient::from_config(&cfg).unwrap();
    assert_eq!(
        authorization_seen(&c, target).await.unwrap(),
        "Bearer tok-1"
    );
    assert_eq!(calls.lock().unwrap().len(), 1);
}
