//! Scraping over HTTPS with each job's own client: `scheme: https` with the job's
//! `tls_config` (CA, wrong CA, skip-verify, client certificates) and
//! authentication, against a local axum target behind a TLS front whose
//! certificates are made per run.

use super::*;
use ember_discovery::testing::{Pki, tls_front};
use ember_storage::list::MemStorage;
use std::time::Duration;

/// An axum target on plain HTTP that answers `/metrics` only to requests whose
/// `Authorization` is `auth` (any, if `None`), else 401.
async fn target(auth: Option<&'static str>) -> std::net::SocketAddr {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move |h: axum::http::HeaderMap| async move {
            let got = h.get("authorization").and_then(|v| v.to_str().ok());
            if auth.is_some() && got != auth {
                return (axum::http::StatusCode::UNAUTHORIZED, String::new());
            }
            (
                axum::http::StatusCode::OK,
                "# TYPE m gauge\nm 1\n".to_string(),
            )
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    addr
}

fn job(addr: std::net::SocketAddr, settings: &str) -> ScrapeConfig {
    let yaml = format!(
        "scrape_configs:\n  - job_name: tls\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs:\n      - targets: ['{addr}']\n{settings}"
    );
    let cfg = ember_config::load_str(&yaml, std::path::Path::new("t.yml"), &Default::default())
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    cfg.scrape_configs[0].clone()
}

/// One scrape of the job's single target with the client the manager builds for the
/// job; the target's health and the stored `up`.
async fn scrape(sc: ScrapeConfig) -> (Health, f64) {
    let st = Arc::new(MemStorage::new());
    let mut mgr = ScrapeManager::new(st.clone());
    mgr.apply_config(vec![sc.clone()]);
    let client = mgr.clients["tls"].clone();
    let addr = sc.service_discovery.static_configs[0].targets[0].clone();
    let labels = ember_model::Labels::from_pairs([("__address__", addr.as_str())]);
    let target = target::populate(&sc, &labels).unwrap().unwrap();
    let health = Arc::new(Mutex::new(Health::default()));
    let mut l = scrape_loop::LoopState::new(
        target,
        Arc::new(sc),
        st.clone(),
        client,
        health.clone(),
        Arc::new(Mutex::new(scrape_loop::SeriesCache::new())),
        Arc::new(Mutex::new(metadata::MetadataCache::default())),
    );
    l.scrape_once().await;
    let h = health.lock().unwrap().clone();
    (h, up(&st))
}

fn up(st: &MemStorage) -> f64 {
    use ember_storage::{Queryable, ValueType};
    let q = st.querier(i64::MIN, i64::MAX).unwrap();
    let m = ember_model::Matcher::new(ember_model::MatchType::Equal, "__name__", "up").unwrap();
    let s = q.select(true, None, &[m]).next().expect("up").unwrap();
    let mut it = s.iter();
    let mut last = f64::NAN;
    while it.next() == ValueType::Float {
        last = it.at().1;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_targets_with_ca_wrong_ca_and_skip_verify() {
    let pki = Pki::new("ember");
    let other = Pki::new("other");
    let dir = tempfile::tempdir().unwrap();
    let files = pki.write(dir.path());
    let wrong = dir.path().join("wrong-ca.pem");
    std::fs::write(&wrong, &other.ca).unwrap();
    let front = tls_front(target(None).await, pki.server_config(false)).await;

    let with = |tls: &str| format!("    scheme: https\n    tls_config:\n{tls}");
    let (h, v) = scrape(job(
        front,
        &with(&format!("      ca_file: {}\n", files.ca.display())),
    ))
    .await;
    assert!(h.up && v == 1.0, "{}", h.last_error);

    let (h, v) = scrape(job(
        front,
        &with(&format!("      ca_file: {}\n", wrong.display())),
    ))
    .await;
    assert!(!h.up && v == 0.0);
    assert!(
        h.last_error.contains(
            "tls: failed to verify certificate: x509: certificate signed by unknown authority"
        ),
        "{}",
        h.last_error
    );

    let (h, _) = scrape(job(front, &with("      insecure_skip_verify: true\n"))).await;
    assert!(h.up, "{}", h.last_error);

    // Without tls_config: the system roots, which do not know the test CA.
    let (h, _) = scrape(job(front, "    scheme: https\n")).await;
    assert!(
        !h.up && h.last_error.contains("unknown authority"),
        "{}",
        h.last_error
    );

    // An unusable CA file: the job's targets are down with the reason.
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let (h, _) = scrape(job(
        front,
        &with(&format!("      ca_file: {}\n", garbage.display())),
    ))
    .await;
    assert!(!h.up);
    assert!(
        h.last_error.starts_with("error creating HTTP client: ")
            && h.last_error.contains("garbage.pem: no certificate found"),
        "{}",
        h.last_error
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_required_by_the_target() {
    let pki = Pki::new("ember");
    let dir = tempfile::tempdir().unwrap();
    let files = pki.write(dir.path());
    let front = tls_front(target(None).await, pki.server_config(true)).await;
    let ca = format!(
        "    scheme: https\n    tls_config:\n      ca_file: {}\n",
        files.ca.display()
    );

    let (h, _) = scrape(job(front, &ca)).await;
    assert!(!h.up, "no client certificate, no scrape");
    // With TLS 1.3 the client may finish its side of the handshake before the
    // server refuses it: the error is then the server's alert or the connection
    // closing under the request, depending on timing.
    assert!(
        h.last_error.contains("tls: ") || h.last_error.contains("connection"),
        "{}",
        h.last_error
    );

    let with_cert = format!(
        "{ca}      cert_file: {}\n      key_file: {}\n",
        files.client_cert.display(),
        files.client_key.display()
    );
    let (h, v) = scrape(job(front, &with_cert)).await;
    assert!(h.up && v == 1.0, "{}", h.last_error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_and_basic_auth_reach_the_target() {
    let pki = Pki::new("ember");
    let dir = tempfile::tempdir().unwrap();
    let files = pki.write(dir.path());
    let tls = format!(
        "    scheme: https\n    tls_config:\n      ca_file: {}\n",
        files.ca.display()
    );

    let bearer = tls_front(
        target(Some("Bearer s3cret")).await,
        pki.server_config(false),
    )
    .await;
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret\n").unwrap();
    let (h, _) = scrape(job(
        bearer,
        &format!(
            "{tls}    authorization:\n      credentials_file: {}\n",
            token.display()
        ),
    ))
    .await;
    assert!(h.up, "{}", h.last_error);
    let (h, _) = scrape(job(bearer, &format!("{tls}    bearer_token: s3cret\n"))).await;
    assert!(h.up, "{}", h.last_error);
    let (h, _) = scrape(job(bearer, &format!("{tls}    bearer_token: wrong\n"))).await;
    assert_eq!(h.last_error, "server returned HTTP status 401 Unauthorized");

    // user:pass
    let basic = tls_front(
        target(Some("Basic dXNlcjpwYXNz")).await,
        pki.server_config(false),
    )
    .await;
    let (h, _) = scrape(job(
        basic,
        &format!("{tls}    basic_auth:\n      username: user\n      password: pass\n"),
    ))
    .await;
    assert!(h.up, "{}", h.last_error);
    // Plain http with the same credentials works too.
    let plain = target(Some("Basic dXNlcjpwYXNz")).await;
    let (h, _) = scrape(job(
        plain,
        "    basic_auth:\n      username: user\n      password: pass\n",
    ))
    .await;
    assert!(h.up, "{}", h.last_error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manager_scrapes_https_targets() {
    let pki = Pki::new("ember");
    let dir = tempfile::tempdir().unwrap();
    let files = pki.write(dir.path());
    let front = tls_front(target(Some("Bearer t")).await, pki.server_config(false)).await;
    let sc = job(
        front,
        &format!(
            "    scheme: https\n    bearer_token: t\n    tls_config:\n      ca_file: {}\n",
            files.ca.display()
        ),
    );
    let st = Arc::new(MemStorage::new());
    let mut mgr = ScrapeManager::new(st.clone());
    mgr.apply_config(vec![sc]);
    let addr = front.to_string();
    let snap: Snapshot = Arc::new(
        [(
            "tls".to_string(),
            vec![ember_discovery::Group {
                source: "0".into(),
                targets: vec![ember_model::Labels::from_pairs([(
                    "__address__",
                    addr.as_str(),
                )])],
            }],
        )]
        .into_iter()
        .collect(),
    );
    mgr.sync(&snap);
    let mut health = Health::default();
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        health = mgr.targets()[0].health.clone();
        if health.last_scrape != 0 {
            break;
        }
    }
    assert!(health.up, "{}", health.last_error);
    assert_eq!(
        mgr.targets()[0].target.url,
        format!("https://{front}/metrics")
    );
    mgr.stop_all();
}

/// Kills the child when dropped.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The oracle: Debian's `prometheus` scrapes the same HTTPS targets with the same
/// `prometheus.yml` jobs (CA, wrong CA, skip-verify, client certificate, bearer
/// token), and every job's `up` is Ember's. Skipped when `prometheus` is not
/// installed, unless `EMBER_REQUIRE_INTEROP=1` (CI).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debian_prometheus_agrees_on_up() {
    let have = std::process::Command::new("prometheus")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        assert!(
            std::env::var("EMBER_REQUIRE_INTEROP").as_deref() != Ok("1"),
            "prometheus not installed"
        );
        println!("skipped: prometheus not found");
        return;
    }
    let pki = Pki::new("ember");
    let other = Pki::new("other");
    let dir = tempfile::tempdir().unwrap();
    let files = pki.write(dir.path());
    let wrong = dir.path().join("wrong-ca.pem");
    std::fs::write(&wrong, &other.ca).unwrap();
    let open = tls_front(target(Some("Bearer t0k")).await, pki.server_config(false)).await;
    let mtls = tls_front(target(None).await, pki.server_config(true)).await;
    let (ca, cert, key) = (
        files.ca.display().to_string(),
        files.client_cert.display().to_string(),
        files.client_key.display().to_string(),
    );
    let jobs: Vec<(&str, String, String)> = vec![
        (
            "ca",
            open.to_string(),
            format!("bearer_token: t0k\n    tls_config: {{ca_file: {ca}}}"),
        ),
        (
            "wrong_ca",
            open.to_string(),
            format!(
                "bearer_token: t0k\n    tls_config: {{ca_file: {}}}",
                wrong.display()
            ),
        ),
        (
            "skip_verify",
            open.to_string(),
            "bearer_token: t0k\n    tls_config: {insecure_skip_verify: true}".into(),
        ),
        (
            "no_token",
            open.to_string(),
            format!("tls_config: {{ca_file: {ca}}}"),
        ),
        (
            "no_client_cert",
            mtls.to_string(),
            format!("tls_config: {{ca_file: {ca}}}"),
        ),
        (
            "client_cert",
            mtls.to_string(),
            format!("tls_config: {{ca_file: {ca}, cert_file: {cert}, key_file: {key}}}"),
        ),
    ];
    let mut yaml =
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n".to_string();
    for (name, addr, settings) in &jobs {
        yaml.push_str(&format!(
            "  - job_name: {name}\n    scheme: https\n    {settings}\n    static_configs:\n      - targets: ['{addr}']\n"
        ));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg_path = dir.path().join("prometheus.yml");
    std::fs::write(&cfg_path, &yaml).unwrap();
    let _prom = Kill(
        std::process::Command::new("prometheus")
            .arg(format!("--config.file={}", cfg_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("prom").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );

    // Ember, from the same file.
    let cfg =
        ember_config::load_str(&yaml, std::path::Path::new("t.yml"), &Default::default()).unwrap();
    let mut ember = std::collections::BTreeMap::new();
    for sc in cfg.scrape_configs {
        let name = sc.job_name.clone();
        let (h, _) = scrape(ScrapeConfig {
            job_name: "tls".into(),
            ..sc
        })
        .await;
        ember.insert(name, if h.up { 1.0 } else { 0.0 });
    }

    let client = ember_discovery::http::HttpClient::new();
    let url = format!("http://127.0.0.1:{port}/api/v1/query?query=up");
    let mut prom = std::collections::BTreeMap::new();
    for _ in 0..150 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Ok(r) = client.get(&url, &[], Duration::from_secs(5), 0).await else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        prom.clear();
        for s in v["data"]["result"].as_array().into_iter().flatten() {
            let job = s["metric"]["job"].as_str().unwrap_or_default().to_string();
            let up: f64 = s["value"][1].as_str().unwrap_or("nan").parse().unwrap();
            prom.insert(job, up);
        }
        if prom.len() == jobs.len() {
            break;
        }
    }
    assert_eq!(ember, prom, "Ember's up (left) vs Prometheus's (right)");
    assert_eq!(
        ember.values().filter(|v| **v == 1.0).count(),
        3,
        "ca, skip_verify and client_cert are up: {ember:?}"
    );
}
