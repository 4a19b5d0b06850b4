//! Unit tests of the Consul provider: label sets built from health answers
//! written from the documented `__meta_consul_*` labels, the health word, the
//! query URLs, and the provider against a small blocking fake Consul.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn labels(l: &Labels) -> Vec<(String, String)> {
    l.iter()
        .map(|x| (x.name.to_string(), x.value.to_string()))
        .collect()
}

fn config() -> ConsulSdConfig {
    ConsulSdConfig {
        server: "localhost:8500".into(),
        path_prefix: String::new(),
        token: Default::default(),
        datacenter: String::new(),
        namespace: String::new(),
        partition: String::new(),
        tag_separator: ",".into(),
        scheme: "http".into(),
        username: String::new(),
        password: Default::default(),
        allow_stale: true,
        refresh_interval: ember_config::Duration::from_secs(30),
        services: Vec::new(),
        tags: Vec::new(),
        node_meta: BTreeMap::new(),
        filter: String::new(),
        health_filter: String::new(),
        http_client: Default::default(),
    }
}

const HEALTH: &str = r#"[
  {
    "Node": {"ID": "n1", "Node": "node-1", "Address": "10.0.0.1", "Datacenter": "dc1",
             "TaggedAddresses": {"lan": "10.0.0.1", "wan": "192.0.2.1"},
             "Meta": {"rack": "r1", "consul-network-segment": ""}},
    "Service": {"ID": "web-1", "Service": "web", "Tags": ["a", "b"], "Address": "",
                "Meta": {"version": "1.2", "git.sha": "abc"}, "Port": 8080},
    "Checks": [{"CheckID": "serfHealth", "Status": "passing"},
               {"CheckID": "service:web-1", "Status": "warning"}]
  },
  {
    "Node": {"Node": "node-2", "Address": "10.0.0.2", "TaggedAddresses": null, "Meta": null},
    "Service": {"ID": "web-2", "Service": "web", "Tags": null, "Address": "2001:db8::2",
                "Meta": null, "Port": 9090, "Namespace": "team", "Partition": "p1"},
    "Checks": []
  }
]"#;

#[test]
fn labels_of_health_entries() {
    let entries: Vec<ServiceEntry> = serde_json::from_str(HEALTH).unwrap();
    let g = service_group("web", "dc1", ",", &entries);
    assert_eq!(g.source, "web");
    let s = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        labels(&g.targets[0]),
        [
            s("__address__", "10.0.0.1:8080"),
            s("__meta_consul_address", "10.0.0.1"),
            s("__meta_consul_dc", "dc1"),
            s("__meta_consul_health", "warning"),
            s("__meta_consul_metadata_rack", "r1"),
            s("__meta_consul_node", "node-1"),
            s("__meta_consul_service", "web"),
            s("__meta_consul_service_id", "web-1"),
            s("__meta_consul_service_metadata_git_sha", "abc"),
            s("__meta_consul_service_metadata_version", "1.2"),
            s("__meta_consul_service_port", "8080"),
            s("__meta_consul_tagged_address_lan", "10.0.0.1"),
            s("__meta_consul_tagged_address_wan", "192.0.2.1"),
            s("__meta_consul_tags", ",a,b,"),
        ]
    );
    assert_eq!(
        labels(&g.targets[1]),
        [
            s("__address__", "[2001:db8::2]:9090"),
            s("__meta_consul_address", "10.0.0.2"),
            s("__meta_consul_dc", "dc1"),
            s("__meta_consul_health", "passing"),
            s("__meta_consul_namespace", "team"),
            s("__meta_consul_node", "node-2"),
            s("__meta_consul_partition", "p1"),
            s("__meta_consul_service", "web"),
            s("__meta_consul_service_address", "2001:db8::2"),
            s("__meta_consul_service_id", "web-2"),
            s("__meta_consul_service_port", "9090"),
            s("__meta_consul_tags", ",,"),
        ]
    );
    // Another separator surrounds the list too.
    let g = service_group("web", "dc1", ";", &entries);
    assert_eq!(g.targets[0].get("__meta_consul_tags"), Some(";a;b;"));
}

#[test]
fn health_precedence() {
    let c = |id: &str, status: &str| Check {
        check_id: id.into(),
        status: status.into(),
    };
    assert_eq!(aggregated_status(&[]), "passing");
    assert_eq!(
        aggregated_status(&[c("a", "passing"), c("b", "critical")]),
        "critical"
    );
    assert_eq!(
        aggregated_status(&[c("a", "warning"), c("b", "passing")]),
        "warning"
    );
    assert_eq!(
        aggregated_status(&[c("_node_maintenance", "critical"), c("b", "critical")]),
        "maintenance"
    );
    assert_eq!(
        aggregated_status(&[c("_service_maintenance:web-1", "critical")]),
        "maintenance"
    );
    assert_eq!(aggregated_status(&[c("a", "passing"), c("b", "bogus")]), "");
}

#[test]
fn names_and_tags_filters() {
    let mut cfg = config();
    assert!(should_watch(&cfg, "any", &[]));
    assert!(watches_catalog(&cfg));
    cfg.services = vec!["web".into()];
    assert!(!watches_catalog(&cfg));
    assert!(should_watch(&cfg, "web", &[]));
    assert!(!should_watch(&cfg, "db", &[]));
    cfg.tags = vec!["a".into(), "b".into()];
    assert!(watches_catalog(&cfg));
    assert!(should_watch(
        &cfg,
        "web",
        &["b".into(), "c".into(), "a".into()]
    ));
    assert!(!should_watch(&cfg, "web", &["a".into()]));
    cfg.tags.clear();
    cfg.filter = "Meta.env == prod".into();
    assert!(watches_catalog(&cfg));
}

#[test]
fn query_urls() {
    let mut cfg = config();
    cfg.path_prefix = "/consul".into();
    cfg.datacenter = "dc2".into();
    cfg.namespace = "ns1".into();
    cfg.node_meta = [("rack".to_string(), "r1".to_string())].into();
    cfg.tags = vec!["a b".into(), "c".into()];
    cfg.health_filter = "Service.Port > 80".into();
    let api = Api {
        client: HttpClient::new(),
        cfg,
    };
    assert_eq!(
        api.url("/v1/agent/self", &Query::default()).unwrap(),
        "http://localhost:8500/consul/v1/agent/self?dc=dc2&ns=ns1"
    );
    let q = Query {
        blocking: Some(7),
        filter: &api.cfg.health_filter,
        tags: &api.cfg.tags,
    };
    assert_eq!(
        api.url("/v1/health/service/web", &q).unwrap(),
        "http://localhost:8500/consul/v1/health/service/web?dc=dc2&filter=Service.Port+%3E+80\
         &index=7&node-meta=rack%3Ar1&ns=ns1&stale=&tag=a+b&tag=c&wait=120000ms"
    );
    let mut api = api;
    api.cfg.allow_stale = false;
    api.cfg.server = "bad host:x".into();
    assert!(matches!(
        api.url("/v1/catalog/services", &Query::default()),
        Err(ConsulError::Url(_))
    ));
}

/// The fake Consul's state: an index and the services with their entries.
type Catalog = std::sync::Arc<std::sync::Mutex<(u64, BTreeMap<String, String>)>>;

/// A fake Consul on loopback: `/v1/agent/self` says `dc7`, the catalog and health
/// endpoints answer from `catalog` and hold a request whose `index` is the
/// current one for up to 2 s. Returns the address.
async fn fake_consul(catalog: Catalog) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut c, _)) = l.accept().await else {
                return;
            };
            let catalog = catalog.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = c.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let target = req.split(' ').nth(1).unwrap_or("").to_string();
                let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                let wait_from: Option<u64> = query
                    .split('&')
                    .find_map(|p| p.strip_prefix("index="))
                    .and_then(|v| v.parse().ok());
                let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
                let (index, body) = loop {
                    let (index, body) = {
                        let st = catalog.lock().unwrap();
                        let body = if path == "/v1/agent/self" {
                            r#"{"Config":{"Datacenter":"dc7"}}"#.to_string()
                        } else if path == "/v1/catalog/services" {
                            let m: BTreeMap<&String, Vec<String>> =
                                st.1.keys().map(|k| (k, Vec::new())).collect();
                            serde_json::to_string(&m).unwrap()
                        } else if let Some(name) = path.strip_prefix("/v1/health/service/") {
                            st.1.get(name).cloned().unwrap_or_else(|| "[]".into())
                        } else {
                            String::new()
                        };
                        (st.0, body)
                    };
                    if wait_from != Some(index) || tokio::time::Instant::now() >= deadline {
                        break (index, body);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Consul-Index: {index}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = c.write_all(head.as_bytes()).await;
                let _ = c.write_all(body.as_bytes()).await;
            });
        }
    });
    addr
}

fn entry(node: &str, port: u16, status: &str) -> String {
    format!(
        r#"{{"Node":{{"Node":"{node}","Address":"127.0.0.1"}},"Service":{{"ID":"{node}-{port}","Port":{port},"Tags":["t"]}},"Checks":[{{"CheckID":"c","Status":"{status}"}}]}}"#
    )
}

fn addresses(groups: &[Group]) -> BTreeMap<String, Vec<String>> {
    groups
        .iter()
        .map(|g| {
            let mut a: Vec<String> = g
                .targets
                .iter()
                .map(|t| {
                    format!(
                        "{} {}",
                        t.get_or_empty("__address__"),
                        t.get_or_empty("__meta_consul_health")
                    )
                })
                .collect();
            a.sort();
            (g.source.clone(), a)
        })
        .collect()
}

/// Waits for the provider's report that satisfies `want`.
async fn until(
    rx: &mut mpsc::Receiver<Vec<Group>>,
    want: impl Fn(&BTreeMap<String, Vec<String>>) -> bool,
) -> BTreeMap<String, Vec<String>> {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let got = addresses(&rx.recv().await.unwrap());
            if want(&got) {
                return got;
            }
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn follows_the_catalog_with_blocking_queries() {
    let catalog: Catalog = Default::default();
    {
        let mut st = catalog.lock().unwrap();
        st.0 = 10;
        st.1.insert("web".into(), format!("[{}]", entry("n1", 81, "passing")));
        st.1.insert("db".into(), format!("[{}]", entry("n2", 82, "passing")));
    }
    let mut cfg = config();
    cfg.server = fake_consul(catalog.clone()).await;
    cfg.refresh_interval = ember_config::Duration::from_millis(50);
    let (tx, mut rx) = mpsc::channel(4);
    let task = tokio::spawn(Box::new(ConsulProvider::new(cfg)).run(tx));

    let got = until(&mut rx, |g| g.len() == 2).await;
    assert_eq!(got["web"], ["127.0.0.1:81 passing"]);
    assert_eq!(got["db"], ["127.0.0.1:82 passing"]);

    // A new instance and a health change reach the held queries.
    {
        let mut st = catalog.lock().unwrap();
        st.0 = 11;
        st.1.insert(
            "web".into(),
            format!(
                "[{},{}]",
                entry("n1", 81, "critical"),
                entry("n3", 83, "passing")
            ),
        );
    }
    let got = until(&mut rx, |g| g["web"].len() == 2).await;
    assert_eq!(
        got["web"],
        ["127.0.0.1:81 critical", "127.0.0.1:83 passing"]
    );

    // A service gone from the catalog leaves an empty group.
    {
        let mut st = catalog.lock().unwrap();
        st.0 = 12;
        st.1.remove("db");
    }
    let got = until(&mut rx, |g| g["db"].is_empty()).await;
    assert_eq!(got["web"].len(), 2);
    // And the dc came from /v1/agent/self.
    task.abort();
}

#[tokio::test(flavor = "current_thread")]
async fn datacenter_from_the_agent_and_named_services() {
    let catalog: Catalog = Default::default();
    {
        let mut st = catalog.lock().unwrap();
        st.0 = 3;
        st.1.insert("web".into(), format!("[{}]", entry("n1", 81, "passing")));
    }
    let mut cfg = config();
    cfg.server = fake_consul(catalog).await;
    cfg.services = vec!["web".into(), "missing".into()];
    let (tx, mut rx) = mpsc::channel(4);
    let task = tokio::spawn(Box::new(ConsulProvider::new(cfg)).run(tx));
    let groups = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let g = rx.recv().await.unwrap();
            if g.len() == 2 {
                return g;
            }
        }
    })
    .await
    .unwrap();
    let web = groups.iter().find(|g| g.source == "web").unwrap();
    assert_eq!(web.targets[0].get("__meta_consul_dc"), Some("dc7"));
    assert!(
        groups
            .iter()
            .any(|g| g.source == "missing" && g.targets.is_empty())
    );
    task.abort();
}
