//! The provider against a small fake API server: the first list, watch events,
//! a deleted object's empty group, re-listing after `410 Gone`, and selectors
//! and namespaces in the request paths.

use super::*;
use ember_config::{KubernetesSelector, NamespaceDiscovery};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn pod(name: &str, rv: u32) -> String {
    format!(
        r#"{{"metadata":{{"name":"{name}","namespace":"a","resourceVersion":"{rv}"}},"spec":{{"containers":[{{"name":"c","ports":[{{"containerPort":80}}]}}]}},"status":{{"podIP":"10.0.0.{rv}"}}}}"#
    )
}

/// Serves lists and watches of pods in namespace `a`; records request targets.
async fn fake_server(log: Arc<Mutex<Vec<String>>>) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut lists, mut watches) = (0, 0);
        loop {
            let (mut c, _) = l.accept().await.unwrap();
            let mut buf = vec![0u8; 8192];
            let n = c.read(&mut buf).await.unwrap();
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let target = head.split(' ').nth(1).unwrap_or("").to_string();
            log.lock().unwrap().push(target.clone());
            if !target.contains("watch=true") {
                lists += 1;
                let items = if lists == 1 {
                    pod("p1", 5)
                } else {
                    format!("{},{}", pod("p2", 6), pod("p3", 20))
                };
                let rv = if lists == 1 { 5 } else { 20 };
                let body = format!(
                    r#"{{"kind":"PodList","metadata":{{"resourceVersion":"{rv}"}},"items":[{items}]}}"#
                );
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                c.write_all(resp.as_bytes()).await.unwrap();
                continue;
            }
            watches += 1;
            tokio::spawn(async move {
                let _ = c
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .await;
                let chunk = |s: String| format!("{:x}\r\n{s}\r\n", s.len());
                if watches == 1 {
                    // One event split over two chunks, then a deletion, a
                    // bookmark, and an expired version.
                    let added = format!("{{\"type\":\"ADDED\",\"object\":{}}}\n", pod("p2", 6));
                    let (x, y) = added.split_at(30);
                    for part in [
                        x.to_string(),
                        y.to_string(),
                        format!("{{\"type\":\"DELETED\",\"object\":{}}}\n", pod("p1", 7)),
                        "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"8\"}}}\n".into(),
                    ] {
                        let _ = c.write_all(chunk(part).as_bytes()).await;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    let gone = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}\n";
                    let _ = c.write_all(chunk(gone.into()).as_bytes()).await;
                    let _ = c.write_all(b"0\r\n\r\n").await;
                } else {
                    // Stays open with nothing to say.
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
            });
        }
    });
    format!("http://{addr}")
}

fn addresses(groups: &[Group]) -> Vec<(String, Vec<String>)> {
    groups
        .iter()
        .map(|g| {
            (
                g.source.clone(),
                g.targets
                    .iter()
                    .map(|t| t.get_or_empty("__address__").to_string())
                    .collect(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn lists_watches_deletes_and_relists() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let base = fake_server(log.clone()).await;
    let cfg = KubernetesSdConfig {
        api_server: base.clone(),
        role: KubernetesRole::Pod,
        kubeconfig_file: String::new(),
        http_client: Default::default(),
        namespaces: NamespaceDiscovery {
            own_namespace: false,
            names: vec!["a".into()],
        },
        selectors: vec![KubernetesSelector {
            role: KubernetesRole::Pod,
            label: "app=x".into(),
            field: String::new(),
        }],
        attach_metadata: Default::default(),
    };
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(Box::new(KubernetesProvider(cfg)).run(tx));
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("an update")
            .expect("provider running")
    };
    let s = |v: &str| v.to_string();
    assert_eq!(
        addresses(&next().await),
        [(s("pod/a/p1"), vec![s("10.0.0.5:80")])]
    );
    // p2 added, then p1 deleted: its group goes out once more, empty.
    let mut got = addresses(&next().await);
    if got.len() == 2 && got[1].1.len() == 1 {
        got = addresses(&next().await);
    }
    assert_eq!(
        got,
        [
            (s("pod/a/p2"), vec![s("10.0.0.6:80")]),
            (s("pod/a/p1"), vec![])
        ]
    );
    // 410: listed again, p3 appears.
    assert_eq!(
        addresses(&next().await),
        [
            (s("pod/a/p2"), vec![s("10.0.0.6:80")]),
            (s("pod/a/p3"), vec![s("10.0.0.20:80")])
        ]
    );
    task.abort();
    let log = log.lock().unwrap().clone();
    assert!(
        log[0].starts_with("/api/v1/namespaces/a/pods?limit=500&labelSelector=app%3Dx"),
        "{log:?}"
    );
    assert!(
        log[1].contains("allowWatchBookmarks=true&resourceVersion=5&")
            && log[1].contains("watch=true"),
        "{log:?}"
    );
    assert!(log[2].contains("limit=500"), "{log:?}");
}
