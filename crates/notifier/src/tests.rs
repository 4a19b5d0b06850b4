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
    let n = Notifier::new(Options {
        queue_capacity: 3,
        ..Options::default()
    });
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

fn resolved(am: &AlertmanagerConfig, t: &Labels) -> Resolved {
    resolve(am, t).expect("valid address")
}

#[test]
fn alertmanager_urls_follow_relabeling() {
    let am = am_config(None);
    assert_eq!(
        resolved(&am, &target("am:9093")),
        Resolved::Active("http://am:9093/api/v2/alerts".into())
    );
    let mut prefixed = am.clone();
    for (prefix, path) in [
        ("/am/", "/am/api/v2/alerts"),
        ("am", "/am/api/v2/alerts"),
        ("am/sub/", "/am/sub/api/v2/alerts"),
        ("//am//x/../y", "/am/y/api/v2/alerts"),
        ("/", "/api/v2/alerts"),
    ] {
        prefixed.path_prefix = prefix.into();
        assert_eq!(
            resolved(&prefixed, &target("am:9093")),
            Resolved::Active(format!("http://am:9093{path}")),
            "path_prefix {prefix:?}"
        );
    }
    let keep_only_b =
        serde_saphyr_relabel("source_labels: [__address__]\nregex: b:.*\naction: keep\n");
    let filtered = am_config(Some(keep_only_b));
    assert_eq!(
        resolved(&filtered, &target("a:1")),
        Resolved::Dropped("http://a:1/api/v2/alerts".into())
    );
    assert_eq!(
        resolved(&filtered, &target("b:1")),
        Resolved::Active("http://b:1/api/v2/alerts".into())
    );
}

#[test]
fn join_path_is_go_path_join() {
    assert_eq!(join_path(&["/", "", "/api/v2/alerts"]), "/api/v2/alerts");
    assert_eq!(join_path(&["/", "a/b/", "/c"]), "/a/b/c");
    assert_eq!(join_path(&["/", "../../a", "b/."]), "/a/b");
    assert_eq!(join_path(&["a", "../..", "b"]), "../b");
    assert_eq!(join_path(&["", ""]), "");
    assert_eq!(join_path(&["a", ".."]), ".");
}

/// As Prometheus's `AlertmanagerFromGroup`: the entry's `scheme` replaces a
/// discovered `__scheme__`; relabeling may set it.
#[test]
fn configured_scheme_wins_over_discovery_and_relabeling_wins_over_both() {
    let mut am = am_config(None);
    am.scheme = "https".into();
    let discovered = Labels::from_pairs([("__address__", "am:9093"), ("__scheme__", "http")]);
    assert_eq!(
        resolved(&am, &discovered),
        Resolved::Active("https://am:9093/api/v2/alerts".into())
    );
    let to_http = serde_saphyr_relabel(
        "source_labels: [__address__]\nregex: 'am:.*'\ntarget_label: __scheme__\nreplacement: http\n",
    );
    let mut relabeled = am_config(Some(to_http));
    relabeled.scheme = "https".into();
    assert_eq!(
        resolved(&relabeled, &target("am:9093")),
        Resolved::Active("http://am:9093/api/v2/alerts".into())
    );
}

/// An address with a `/` is rejected with its whole group, as Prometheus's
/// `CheckTargetAddress` does; other groups of the entry still count.
#[test]
fn invalid_addresses_fail_their_group() {
    let am = am_config(None);
    assert_eq!(
        resolve(&am, &target("am:9093/x")),
        Err(InvalidAddress("am:9093/x".into()))
    );
    assert_eq!(
        InvalidAddress("am:9093/x".into()).to_string(),
        "\"am:9093/x\" is not a valid hostname"
    );
    assert!(alertmanagers_from_group(&am, &[target("a:1"), target("http://b:1")]).is_err());
    // A relabeling that drops the bad target leaves nothing to check.
    let drop_bad =
        serde_saphyr_relabel("source_labels: [__address__]\nregex: '.*/.*'\naction: drop\n");
    let filtered = am_config(Some(drop_bad));
    assert_eq!(
        alertmanagers_from_group(&filtered, &[target("a:1"), target("b:1/x")]),
        Ok((
            vec!["http://a:1/api/v2/alerts".to_string()],
            vec!["http://b:1/x/api/v2/alerts".to_string()]
        ))
    );
    let n_cfg = AlertingConfig {
        alert_relabel_configs: Vec::new(),
        alertmanagers: vec![am],
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let n = Notifier::new(Options::default());
        n.set_alertmanager_groups(
            &n_cfg,
            &[vec![
                vec![target("a:1"), target("a:2/metrics")],
                vec![target("c:1")],
            ]],
        );
        assert_eq!(n.alertmanagers().active, ["http://c:1/api/v2/alerts"]);
    });
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

/// A fake Alertmanager that answers 503 while `fail` is set and otherwise records
/// the alert names of every body, after `delay`; it also counts requests.
async fn flaky_am(
    fail: Arc<std::sync::atomic::AtomicBool>,
    delay: Duration,
) -> (
    String,
    Arc<Mutex<Vec<Vec<String>>>>,
    Arc<std::sync::atomic::AtomicUsize>,
) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (g, r) = (Arc::clone(&got), Arc::clone(&requests));
    let app = axum::Router::new().route(
        "/api/v2/alerts",
        axum::routing::post(move |body: axum::body::Bytes| {
            let (g, r, fail) = (Arc::clone(&g), Arc::clone(&r), Arc::clone(&fail));
            async move {
                r.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                if fail.load(Ordering::SeqCst) {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let names = v
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|x| x["labels"]["alertname"].as_str().unwrap_or("").to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                g.lock().expect("lock").push(names);
                axum::http::StatusCode::OK
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    tokio::spawn(async move { axum::serve(l, app).await });
    (addr, got, requests)
}

fn alerting(am: AlertmanagerConfig) -> AlertingConfig {
    AlertingConfig {
        alert_relabel_configs: Vec::new(),
        alertmanagers: vec![am],
    }
}

async fn until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..250 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

/// `stop` sends what is still queued, in batches of the configured size, before it
/// returns; nothing else runs the queue here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_drains_the_queue_in_batches() {
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (addr, got, _) = flaky_am(fail, Duration::ZERO).await;
    let n = Notifier::new(Options {
        max_batch_size: 2,
        ..Options::default()
    });
    let cfg = alerting(am_config(None));
    n.set_alertmanagers(&cfg, &[vec![target(&addr)]]);
    n.send(["A", "B", "C", "D", "E"].into_iter().map(alert).collect());
    assert_eq!(n.queue_length(), 5);
    tokio::time::timeout(Duration::from_secs(10), n.stop())
        .await
        .expect("stop returns");
    assert_eq!(
        *got.lock().expect("lock"),
        [vec!["A", "B"], vec!["C", "D"], vec!["E"]]
    );
    assert_eq!(n.queue_length(), 0);
    assert_eq!(n.stats().dropped.load(Ordering::Relaxed), 0);
    // Stopped: new alerts are not taken.
    n.send(vec![alert("F")]);
    assert_eq!(n.queue_length(), 0);
}

/// Draining does not retry: an Alertmanager that keeps failing costs one attempt
/// per batch, and the failures are counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_gives_up_after_one_attempt() {
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (addr, got, requests) = flaky_am(fail, Duration::ZERO).await;
    let n = Notifier::new(Options::default());
    n.set_alertmanagers(&alerting(am_config(None)), &[vec![target(&addr)]]);
    n.send(vec![alert("A")]);
    tokio::time::timeout(Duration::from_secs(10), n.stop())
        .await
        .expect("stop returns");
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    assert!(got.lock().expect("lock").is_empty());
    let url = format!("http://{addr}/api/v2/alerts");
    assert_eq!(n.stats().errors.lock().expect("lock").get(&url), Some(&1));
}

/// With `--alertmanager.drain-notification-queue-on-shutdown=false`, `stop` drops
/// and counts what is queued, in the notifier and in the workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_without_draining_drops_the_queue() {
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // A slow Alertmanager: the first batch is in flight, the second waits.
    let (addr, got, requests) = flaky_am(fail, Duration::from_millis(300)).await;
    let n = Notifier::new(Options {
        max_batch_size: 1,
        drain_on_shutdown: false,
        ..Options::default()
    });
    n.set_alertmanagers(&alerting(am_config(None)), &[vec![target(&addr)]]);
    tokio::spawn(n.clone().run());
    n.send(vec![alert("A"), alert("B")]);
    until("the first request", || requests.load(Ordering::SeqCst) == 1).await;
    n.send(vec![alert("C"), alert("D"), alert("E")]);
    n.stop().await;
    // B waited in the worker; C, D and E in the queue (or the worker).
    assert_eq!(n.stats().dropped.load(Ordering::Relaxed), 4);
    assert_eq!(n.queue_length(), 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(got.lock().expect("lock").len() <= 1, "at most A arrives");
}

/// A reload that keeps an Alertmanager with the same settings keeps its worker: a
/// batch being retried still arrives, and nothing is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_workers_and_their_retrying_batches() {
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (addr, got, requests) = flaky_am(Arc::clone(&fail), Duration::ZERO).await;
    let n = Notifier::new(Options::default());
    let cfg = alerting(am_config(None));
    n.set_alertmanagers(&cfg, &[vec![target(&addr)]]);
    tokio::spawn(n.clone().run());
    n.send(vec![alert("A")]);
    until("the first attempt", || requests.load(Ordering::SeqCst) >= 1).await;
    // The reload: the same Alertmanager, and a second entry besides.
    let mut two = cfg.clone();
    two.alertmanagers.push(am_config(None));
    n.set_alertmanagers(&two, &[vec![target(&addr)], vec![]]);
    fail.store(false, Ordering::SeqCst);
    until("the retried batch", || {
        !got.lock().expect("lock").is_empty()
    })
    .await;
    assert_eq!(*got.lock().expect("lock"), [vec!["A"]]);
    assert_eq!(n.stats().dropped.load(Ordering::Relaxed), 0);
    assert!(n.stats().errors.lock().expect("lock").is_empty());
}

/// Changed sending settings replace the worker; the new one sends the batches the
/// old one still had waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_settings_hand_waiting_batches_over() {
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (addr, got, requests) = flaky_am(fail, Duration::from_millis(300)).await;
    let n = Notifier::new(Options {
        max_batch_size: 1,
        ..Options::default()
    });
    let cfg = alerting(am_config(None));
    n.set_alertmanagers(&cfg, &[vec![target(&addr)]]);
    tokio::spawn(n.clone().run());
    n.send(vec![alert("A"), alert("B"), alert("C")]);
    until("the first request", || requests.load(Ordering::SeqCst) == 1).await;
    let mut slower = cfg.clone();
    slower.alertmanagers[0].timeout = ember_config::Duration::from_millis(2000);
    n.set_alertmanagers(&slower, &[vec![target(&addr)]]);
    until("B and C", || {
        let g = got.lock().expect("lock");
        let all: Vec<&String> = g.iter().flatten().collect();
        all.iter().any(|a| *a == "B") && all.iter().any(|a| *a == "C")
    })
    .await;
}

#[test]
fn latency_is_kept_for_successful_sends() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (addr, got, _) = flaky_am(fail, Duration::from_millis(20)).await;
        let n = Notifier::new(Options::default());
        n.set_alertmanagers(&alerting(am_config(None)), &[vec![target(&addr)]]);
        tokio::spawn(n.clone().run());
        n.send(vec![alert("A")]);
        until("delivery", || !got.lock().expect("lock").is_empty()).await;
        let url = format!("http://{addr}/api/v2/alerts");
        until("the latency", || {
            n.stats().latency.lock().expect("lock").contains_key(&url)
        })
        .await;
        let l = n.stats().latency.lock().expect("lock")[&url].clone();
        assert_eq!(l.count, 1);
        assert!(l.sum >= 0.02, "{}", l.sum);
        assert!(l.quantiles().iter().all(|q| *q >= 0.02));
    });
}
