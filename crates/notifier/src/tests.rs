use std::sync::{Arc, Mutex};
use std::time::Duration;

use ember_config::{AlertingConfig, AlertmanagerConfig};
use ember_model::labels::Labels;
use ember_model::relabel::RelabelConfig;

use super::*;

fn am_config(yaml_relabel: Option<RelabelConfig>) -> AlertmanagerConfig {
    let cfg = ember_config::load_str(
        "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['x:1']\n",
        std::path::Path::new("t.yml"),
        &ember_config::LoadOptions::default(),
    )
    .expect("config");
    let mut am = cfg.alerting.alertmanagers[0].clone();
    am.timeout = ember_config::Duration::from_millis(500);
    if let Some(r) = yaml_relabel {
        am.relabel_configs = vec![r];
    }
    am
}

fn alert(name: &str) -> Alert {
    Alert {
        labels: Labels::from_pairs([("alertname", name)]),
        annotations: Labels::from_pairs([("summary", "s")]),
        starts_at_ms: 1_700_000_000_000,
        ends_at_ms: Some(1_700_000_060_000),
        generator_url: "http://ember/graph".into(),
    }
}

/// A fake Alertmanager that records every body posted to it.
async fn fake_am() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/api/v2/alerts",
        axum::routing::post(move |body: axum::body::Bytes| {
            let g = Arc::clone(&g);
            async move {
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                g.lock().expect("lock").push(v);
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    tokio::spawn(async move { axum::serve(l, app).await });
    (addr, got)
}

fn target(addr: &str) -> Labels {
    Labels::from_pairs([("__address__", addr)])
}

async fn wait_for(got: &Arc<Mutex<Vec<serde_json::Value>>>, n: usize) {
    for _ in 0..100 {
        if got.lock().expect("lock").len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "expected {n} posts, got {}",
        got.lock().expect("lock").len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_to_every_alertmanager_even_when_one_is_down() {
    let (a, got_a) = fake_am().await;
    // Nothing listens there: connection refused, retried, then counted.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").to_string()
    };
    let n = Notifier::new(Options::default());
    let am = am_config(None);
    let cfg = AlertingConfig {
        alert_relabel_configs: Vec::new(),
        alertmanagers: vec![am],
    };
    n.apply_config(&cfg, Labels::from_pairs([("cluster", "eu1")]));
    n.set_alertmanagers(&cfg, &[vec![target(&a), target(&dead)]]);
    assert_eq!(
        n.alertmanagers().active,
        vec![
            format!("http://{a}/api/v2/alerts"),
            format!("http://{dead}/api/v2/alerts")
        ]
    );
    tokio::spawn(n.clone().run());
    n.send(vec![alert("HighLatency"), alert("Down")]);
    wait_for(&got_a, 1).await;
    let body = got_a.lock().expect("lock")[0].clone();
    assert_eq!(body.as_array().map(Vec::len), Some(2));
    assert_eq!(body[0]["labels"]["alertname"], "HighLatency");
    assert_eq!(body[0]["labels"]["cluster"], "eu1", "external label added");
    assert_eq!(body[0]["annotations"]["summary"], "s");
    assert_eq!(body[0]["startsAt"], "2023-11-14T22:13:20.000Z");
    assert_eq!(body[0]["endsAt"], "2023-11-14T22:14:20.000Z");
    assert_eq!(body[0]["generatorURL"], "http://ember/graph");
    // The dead one fails after its retries without holding up the live one.
    for _ in 0..200 {
        if n.stats()
            .errors
            .lock()
            .expect("lock")
            .contains_key(&format!("http://{dead}/api/v2/alerts"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let errors = n.stats().errors.lock().expect("lock").clone();
    assert_eq!(
        errors.get(&format!("http://{dead}/api/v2/alerts")),
        Some(&2)
    );
    let sent = n.stats().sent.lock().expect("lock").clone();
    assert_eq!(sent.get(&format!("http://{a}/api/v2/alerts")), Some(&2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_drops_the_oldest_and_relabeling_drops_alerts() {
    let n = Notifier::new(Options { queue_capacity: 3 });
    let drop_test: RelabelConfig =
        serde_saphyr_relabel("source_labels: [alertname]\nregex: Test.*\naction: drop\n");
    let cfg = AlertingConfig {
        alert_relabel_configs: vec![drop_test],
        alertmanagers: Vec::new(),
    };
    n.apply_config(&cfg, Labels::empty());
    n.send(vec![alert("A"), alert("TestOne"), alert("B")]);
    assert_eq!(n.queue_length(), 2, "relabeling dropped TestOne");
    n.send(vec![alert("C"), alert("D")]);
    assert_eq!(n.queue_length(), 3);
    assert_eq!(
        n.stats().dropped.load(Ordering::Relaxed),
        1,
        "A was dropped"
    );
    let q: Vec<String> = n
        .inner
        .queue
        .lock()
        .expect("lock")
        .iter()
        .map(|a| a.labels.get_or_empty("alertname").to_string())
        .collect();
    assert_eq!(q, ["B", "C", "D"]);
}

fn serde_saphyr_relabel(yaml: &str) -> RelabelConfig {
    let text = format!(
        "alerting:\n  alert_relabel_configs:\n{}",
        yaml.lines()
            .enumerate()
            .map(|(i, l)| if i == 0 {
                format!("    - {l}\n")
            } else {
                format!("      {l}\n")
            })
            .collect::<String>()
    );
    let cfg = ember_config::load_str(
        &text,
        std::path::Path::new("t.yml"),
        &ember_config::LoadOptions::default(),
    )
    .expect("config");
    cfg.alerting.alert_relabel_configs[0].clone()
}

#[test]
fn alertmanager_urls_follow_relabeling() {
    let am = am_config(None);
    assert_eq!(
        alertmanager_url(&am, &target("am:9093")),
        ("http://am:9093/api/v2/alerts".to_string(), true)
    );
    let mut prefixed = am.clone();
    prefixed.path_prefix = "/am/".into();
    prefixed.scheme = "http".into();
    assert_eq!(
        alertmanager_url(&prefixed, &target("am:9093")).0,
        "http://am:9093/am/api/v2/alerts"
    );
    let keep_only_b =
        serde_saphyr_relabel("source_labels: [__address__]\nregex: b:.*\naction: keep\n");
    let filtered = am_config(Some(keep_only_b));
    assert!(!alertmanager_url(&filtered, &target("a:1")).1);
    assert!(alertmanager_url(&filtered, &target("b:1")).1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_the_configured_authorization() {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let s2 = Arc::clone(&seen);
    let app = axum::Router::new().route(
        "/api/v2/alerts",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let s2 = Arc::clone(&s2);
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                s2.lock().expect("lock").push(auth);
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    tokio::spawn(async move { axum::serve(l, app).await });
    let mut am = am_config(None);
    am.http_client.basic_auth = Some(ember_config::BasicAuth {
        username: "alert".into(),
        password: ember_config::Secret::new("s3cret"),
        ..ember_config::BasicAuth::default()
    });
    let cfg = AlertingConfig {
        alert_relabel_configs: Vec::new(),
        alertmanagers: vec![am],
    };
    let n = Notifier::new(Options::default());
    n.set_alertmanagers(&cfg, &[vec![target(&addr)]]);
    tokio::spawn(n.clone().run());
    n.send(vec![alert("A")]);
    for _ in 0..100 {
        if !seen.lock().expect("lock").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        seen.lock().expect("lock").as_slice(),
        ["Basic YWxlcnQ6czNjcmV0"]
    );
}

/// `scheme: https` with `tls_config` and `basic_auth`: alerts reach an Alertmanager
/// behind TLS whose CA is configured, with the credentials; an Alertmanager whose
/// certificate the CA did not sign gets nothing and counts errors; a reload that
/// fixes the CA replaces the worker with one using the new settings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_to_an_https_alertmanager() {
    use ember_discovery::testing::{Pki, tls_front};
    let pki = Pki::new("ember");
    let other = Pki::new("other");
    let dir = tempfile::tempdir().expect("tempdir");
    let files = pki.write(dir.path());
    let wrong = dir.path().join("wrong.pem");
    std::fs::write(&wrong, &other.ca).expect("write");

    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let s2 = Arc::clone(&seen);
    let app = axum::Router::new().route(
        "/api/v2/alerts",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let s2 = Arc::clone(&s2);
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                s2.lock().expect("lock").push(auth);
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let plain = l.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(l, app).await });
    let front = tls_front(plain, pki.server_config(false)).await.to_string();

    let am = |ca: &std::path::Path| {
        let yaml = format!(
            "alerting:\n  alertmanagers:\n    - scheme: https\n      timeout: 1s\n      basic_auth:\n        username: alert\n        password: s3cret\n      tls_config:\n        ca_file: {}\n      static_configs:\n        - targets: ['x:1']\n",
            ca.display()
        );
        let cfg = ember_config::load_str(
            &yaml,
            std::path::Path::new("t.yml"),
            &ember_config::LoadOptions::default(),
        )
        .expect("config");
        cfg.alerting
    };
    let url = format!("https://{front}/api/v2/alerts");
    let n = Notifier::new(Options::default());
    tokio::spawn(n.clone().run());

    let bad = am(&wrong);
    n.set_alertmanagers(&bad, &[vec![target(&front)]]);
    assert_eq!(n.alertmanagers().active, vec![url.clone()]);
    n.send(vec![alert("A")]);
    for _ in 0..200 {
        if n.stats().errors.lock().expect("lock").contains_key(&url) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(n.stats().errors.lock().expect("lock").get(&url), Some(&1));
    assert!(seen.lock().expect("lock").is_empty());

    let good = am(&files.ca);
    n.set_alertmanagers(&good, &[vec![target(&front)]]);
    n.send(vec![alert("B")]);
    for _ in 0..200 {
        if n.stats().sent.lock().expect("lock").contains_key(&url) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        seen.lock().expect("lock").as_slice(),
        ["Basic YWxlcnQ6czNjcmV0"]
    );
    assert_eq!(n.stats().sent.lock().expect("lock").get(&url), Some(&1));
}
