//! Each role's groups from hand-written objects, against the labels Prometheus's
//! documentation lists for the role.

use super::*;
use crate::kubernetes::watch::{Kind, upsert};
use serde_json::json;

fn store(objects: &[(Kind, serde_json::Value)]) -> Store {
    let mut s = Store::default();
    for (k, o) in objects {
        upsert(&mut s, *k, o.clone());
    }
    s
}

/// Targets of the group as sorted `name=value` lists.
fn targets(g: &Group) -> Vec<Vec<String>> {
    let mut v: Vec<Vec<String>> = g
        .targets
        .iter()
        .map(|t| {
            t.iter()
                .map(|l| format!("{}={}", l.name, l.value))
                .collect()
        })
        .collect();
    v.sort();
    v
}

fn labels(pairs: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = pairs.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn pod() -> serde_json::Value {
    json!({
        "metadata": {"name": "web-1", "namespace": "default", "uid": "u-1",
            "labels": {"app": "web", "app.kubernetes.io/name": "x"},
            "annotations": {"scrape": "yes"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "web-rs", "controller": true}]},
        "spec": {"nodeName": "n1",
            "containers": [
                {"name": "app", "image": "app:1", "ports": [
                    {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                    {"name": "grpc", "containerPort": 9090, "protocol": "TCP"}]},
                {"name": "side", "image": "side:1"}],
            "initContainers": [{"name": "init", "image": "init:1",
                "ports": [{"containerPort": 7000, "protocol": "UDP"}]}]},
        "status": {"podIP": "10.0.0.5", "hostIP": "192.168.1.1", "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "containerID": "containerd://abc"}]}
    })
}

const POD_COMMON: &[&str] = &[
    "__meta_kubernetes_namespace=default",
    "__meta_kubernetes_pod_name=web-1",
    "__meta_kubernetes_pod_ip=10.0.0.5",
    "__meta_kubernetes_pod_ready=true",
    "__meta_kubernetes_pod_phase=Running",
    "__meta_kubernetes_pod_node_name=n1",
    "__meta_kubernetes_pod_host_ip=192.168.1.1",
    "__meta_kubernetes_pod_uid=u-1",
    "__meta_kubernetes_pod_label_app=web",
    "__meta_kubernetes_pod_labelpresent_app=true",
    "__meta_kubernetes_pod_label_app_kubernetes_io_name=x",
    "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name=true",
    "__meta_kubernetes_pod_annotation_scrape=yes",
    "__meta_kubernetes_pod_annotationpresent_scrape=true",
    "__meta_kubernetes_pod_controller_kind=ReplicaSet",
    "__meta_kubernetes_pod_controller_name=web-rs",
];

fn with(common: &[&str], own: &[&str]) -> Vec<String> {
    labels(&[common, own].concat())
}

#[test]
fn pod_role() {
    let s = store(&[(Kind::Pod, pod())]);
    let g = build(KubernetesRole::Pod, &s, &AttachMetadata::default());
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].source, "pod/default/web-1");
    let port = |addr: &str, name: &str, num: &str| {
        vec![
            format!("__address__={addr}"),
            "__meta_kubernetes_pod_container_name=app".into(),
            "__meta_kubernetes_pod_container_id=containerd://abc".into(),
            "__meta_kubernetes_pod_container_image=app:1".into(),
            "__meta_kubernetes_pod_container_init=false".into(),
            format!("__meta_kubernetes_pod_container_port_name={name}"),
            format!("__meta_kubernetes_pod_container_port_number={num}"),
            "__meta_kubernetes_pod_container_port_protocol=TCP".into(),
        ]
    };
    let own = |v: Vec<String>| {
        let v: Vec<&str> = v.iter().map(String::as_str).collect();
        with(POD_COMMON, &v)
    };
    let mut want = vec![
        own(port("10.0.0.5:8080", "http", "8080")),
        own(port("10.0.0.5:9090", "grpc", "9090")),
        // A container without ports: the bare IP, no port labels, no ID known.
        with(
            POD_COMMON,
            &[
                "__address__=10.0.0.5",
                "__meta_kubernetes_pod_container_name=side",
                "__meta_kubernetes_pod_container_image=side:1",
                "__meta_kubernetes_pod_container_init=false",
            ],
        ),
        with(
            POD_COMMON,
            &[
                "__address__=10.0.0.5:7000",
                "__meta_kubernetes_pod_container_name=init",
                "__meta_kubernetes_pod_container_image=init:1",
                "__meta_kubernetes_pod_container_init=true",
                "__meta_kubernetes_pod_container_port_number=7000",
                "__meta_kubernetes_pod_container_port_protocol=UDP",
            ],
        ),
    ];
    want.sort();
    assert_eq!(targets(&g[0]), want);

    // Without an IP yet: the group is there, empty.
    let mut p = pod();
    p["status"]["podIP"] = json!(null);
    let g = build(
        KubernetesRole::Pod,
        &store(&[(Kind::Pod, p)]),
        &AttachMetadata::default(),
    );
    assert!(g[0].targets.is_empty());
}

#[test]
fn pod_role_attaches_node_namespace_and_owners() {
    let node = json!({"metadata": {"name": "n1", "labels": {"zone": "a"}}});
    let ns = json!({"metadata": {"name": "default", "annotations": {"team": "t"}}});
    let rs = json!({"metadata": {"name": "web-rs", "namespace": "default",
        "ownerReferences": [{"kind": "Deployment", "name": "web", "controller": true}]}});
    let attach = AttachMetadata {
        node: true,
        namespace: true,
        deployment: true,
        ..AttachMetadata::default()
    };
    // The node is not known yet: no targets, as Prometheus.
    let s = store(&[(Kind::Pod, pod())]);
    assert!(
        build(KubernetesRole::Pod, &s, &attach)[0]
            .targets
            .is_empty()
    );
    let s = store(&[
        (Kind::Pod, pod()),
        (Kind::Node, node),
        (Kind::Namespace, ns),
        (Kind::ReplicaSet, rs),
    ]);
    let g = build(KubernetesRole::Pod, &s, &attach);
    let t = &g[0].targets[0];
    assert_eq!(t.get("__meta_kubernetes_node_name"), Some("n1"));
    assert_eq!(t.get("__meta_kubernetes_node_label_zone"), Some("a"));
    assert_eq!(
        t.get("__meta_kubernetes_node_labelpresent_zone"),
        Some("true")
    );
    assert_eq!(
        t.get("__meta_kubernetes_namespace_annotation_team"),
        Some("t")
    );
    assert_eq!(t.get("__meta_kubernetes_pod_deployment_name"), Some("web"));
}

fn service(kind: &str) -> serde_json::Value {
    json!({
        "metadata": {"name": "web", "namespace": "default", "labels": {"tier": "front"}},
        "spec": {"type": kind, "clusterIP": "10.96.0.10", "externalName": "db.example.com",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "x"}, {"ip": "5.6.7.8"}]}}
    })
}

#[test]
fn service_role() {
    let common = [
        "__meta_kubernetes_namespace=default",
        "__meta_kubernetes_service_name=web",
        "__meta_kubernetes_service_label_tier=front",
        "__meta_kubernetes_service_labelpresent_tier=true",
        "__address__=web.default.svc:80",
        "__meta_kubernetes_service_port_name=http",
        "__meta_kubernetes_service_port_number=80",
        "__meta_kubernetes_service_port_protocol=TCP",
    ];
    let cases: [(&str, &[&str]); 3] = [
        (
            "ClusterIP",
            &[
                "__meta_kubernetes_service_type=ClusterIP",
                "__meta_kubernetes_service_cluster_ip=10.96.0.10",
            ],
        ),
        (
            "ExternalName",
            &[
                "__meta_kubernetes_service_type=ExternalName",
                "__meta_kubernetes_service_external_name=db.example.com",
            ],
        ),
        (
            "LoadBalancer",
            &[
                "__meta_kubernetes_service_type=LoadBalancer",
                "__meta_kubernetes_service_cluster_ip=10.96.0.10",
                "__meta_kubernetes_service_loadbalancer_ip=1.2.3.4,5.6.7.8",
            ],
        ),
    ];
    for (kind, own) in cases {
        let s = store(&[(Kind::Service, service(kind))]);
        let g = build(KubernetesRole::Service, &s, &AttachMetadata::default());
        assert_eq!(g[0].source, "svc/default/web");
        assert_eq!(targets(&g[0]), vec![with(&common, own)], "{kind}");
    }
}

#[test]
fn endpoints_role() {
    let eps = json!({
        "metadata": {"name": "web", "namespace": "default", "labels": {"l": "v"}},
        "subsets": [{
            "addresses": [
                {"ip": "10.0.0.5", "nodeName": "n1",
                 "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "default"}},
                {"ip": "10.0.0.9", "hostname": "h9"}],
            "notReadyAddresses": [{"ip": "10.0.0.7"}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
        }]
    });
    let s = store(&[
        (Kind::Endpoints, eps),
        (Kind::Pod, pod()),
        (Kind::Service, service("ClusterIP")),
    ]);
    let g = build(KubernetesRole::Endpoints, &s, &AttachMetadata::default());
    assert_eq!(g[0].source, "endpoints/default/web");
    let common = [
        "__meta_kubernetes_namespace=default",
        "__meta_kubernetes_endpoints_name=web",
        "__meta_kubernetes_endpoints_label_l=v",
        "__meta_kubernetes_endpoints_labelpresent_l=true",
        "__meta_kubernetes_service_name=web",
        "__meta_kubernetes_service_label_tier=front",
        "__meta_kubernetes_service_labelpresent_tier=true",
    ];
    let ep = |addr: &str, ready: &str| {
        vec![
            format!("__address__={addr}"),
            "__meta_kubernetes_endpoint_port_name=http".to_string(),
            "__meta_kubernetes_endpoint_port_protocol=TCP".to_string(),
            format!("__meta_kubernetes_endpoint_ready={ready}"),
        ]
    };
    let pod_common: Vec<&str> = POD_COMMON
        .iter()
        .copied()
        .filter(|l| !l.starts_with("__meta_kubernetes_namespace="))
        .collect();
    let mut pod_target = ep("10.0.0.5:8080", "true");
    pod_target.extend(
        [
            "__meta_kubernetes_endpoint_node_name=n1",
            "__meta_kubernetes_endpoint_address_target_kind=Pod",
            "__meta_kubernetes_endpoint_address_target_name=web-1",
            "__meta_kubernetes_pod_container_name=app",
            "__meta_kubernetes_pod_container_image=app:1",
            "__meta_kubernetes_pod_container_init=false",
            "__meta_kubernetes_pod_container_port_name=http",
            "__meta_kubernetes_pod_container_port_number=8080",
            "__meta_kubernetes_pod_container_port_protocol=TCP",
        ]
        .map(String::from),
    );
    pod_target.extend(pod_common.iter().map(|s| s.to_string()));
    let mut h9 = ep("10.0.0.9:8080", "true");
    h9.push("__meta_kubernetes_endpoint_hostname=h9".into());
    // The pod's other container ports, not behind the endpoint port.
    let extra = |addr: &str, c: &str, img: &str, name: &str, num: &str, proto: &str, init: &str| {
        let mut v: Vec<String> = [
            format!("__address__={addr}"),
            format!("__meta_kubernetes_pod_container_name={c}"),
            format!("__meta_kubernetes_pod_container_image={img}"),
            format!("__meta_kubernetes_pod_container_port_name={name}"),
            format!("__meta_kubernetes_pod_container_port_number={num}"),
            format!("__meta_kubernetes_pod_container_port_protocol={proto}"),
            format!("__meta_kubernetes_pod_container_init={init}"),
        ]
        .into_iter()
        .filter(|l| !l.ends_with('='))
        .collect();
        v.extend(pod_common.iter().map(|s| s.to_string()));
        v
    };
    let mut want: Vec<Vec<String>> = [
        pod_target,
        h9,
        ep("10.0.0.7:8080", "false"),
        extra(
            "10.0.0.5:9090",
            "app",
            "app:1",
            "grpc",
            "9090",
            "TCP",
            "false",
        ),
        extra("10.0.0.5:7000", "init", "init:1", "", "7000", "UDP", "true"),
    ]
    .into_iter()
    .map(|own| {
        let own: Vec<&str> = own.iter().map(String::as_str).collect();
        with(&common, &own)
    })
    .collect();
    want.sort();
    assert_eq!(targets(&g[0]), want);
}

#[test]
fn endpointslice_role() {
    let slice = json!({
        "metadata": {"name": "web-abc", "namespace": "default",
            "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [{
            "addresses": ["10.0.0.5"],
            "conditions": {"ready": true, "serving": true, "terminating": false},
            "hostname": "h", "nodeName": "n1", "zone": "z1",
            "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "default"},
            "deprecatedTopology": {"topology.kubernetes.io/zone": "z1"}
        }],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "http"}]
    });
    let s = store(&[
        (Kind::EndpointSlice, slice.clone()),
        (Kind::Pod, pod()),
        (Kind::Service, service("ClusterIP")),
    ]);
    let g = build(
        KubernetesRole::EndpointSlice,
        &s,
        &AttachMetadata::default(),
    );
    assert_eq!(g[0].source, "endpointslice/default/web-abc");
    let t = g[0]
        .targets
        .iter()
        .find(|t| t.get("__address__") == Some("10.0.0.5:8080"))
        .unwrap();
    for (k, v) in [
        ("__meta_kubernetes_endpointslice_name", "web-abc"),
        ("__meta_kubernetes_endpointslice_address_type", "IPv4"),
        (
            "__meta_kubernetes_endpointslice_label_kubernetes_io_service_name",
            "web",
        ),
        ("__meta_kubernetes_endpointslice_port", "8080"),
        ("__meta_kubernetes_endpointslice_port_name", "http"),
        ("__meta_kubernetes_endpointslice_port_protocol", "TCP"),
        ("__meta_kubernetes_endpointslice_port_app_protocol", "http"),
        (
            "__meta_kubernetes_endpointslice_endpoint_conditions_ready",
            "true",
        ),
        (
            "__meta_kubernetes_endpointslice_endpoint_conditions_serving",
            "true",
        ),
        (
            "__meta_kubernetes_endpointslice_endpoint_conditions_terminating",
            "false",
        ),
        ("__meta_kubernetes_endpointslice_endpoint_hostname", "h"),
        ("__meta_kubernetes_endpointslice_endpoint_node_name", "n1"),
        ("__meta_kubernetes_endpointslice_endpoint_zone", "z1"),
        (
            "__meta_kubernetes_endpointslice_endpoint_topology_topology_kubernetes_io_zone",
            "z1",
        ),
        (
            "__meta_kubernetes_endpointslice_endpoint_topology_present_topology_kubernetes_io_zone",
            "true",
        ),
        ("__meta_kubernetes_endpointslice_address_target_kind", "Pod"),
        (
            "__meta_kubernetes_endpointslice_address_target_name",
            "web-1",
        ),
        ("__meta_kubernetes_service_name", "web"),
        ("__meta_kubernetes_pod_name", "web-1"),
        ("__meta_kubernetes_pod_container_name", "app"),
        ("__meta_kubernetes_pod_container_port_number", "8080"),
    ] {
        assert_eq!(t.get(k), Some(v), "{k}");
    }
    // 1 endpoint port + the pod's 2 other container ports.
    assert_eq!(g[0].targets.len(), 3);

    // A dual-stack service's slice of its secondary family has no targets.
    let mut svc = service("ClusterIP");
    svc["spec"]["ipFamilyPolicy"] = json!("PreferDualStack");
    svc["spec"]["ipFamilies"] = json!(["IPv6", "IPv4"]);
    let s = store(&[(Kind::EndpointSlice, slice), (Kind::Service, svc)]);
    let g = build(
        KubernetesRole::EndpointSlice,
        &s,
        &AttachMetadata::default(),
    );
    assert!(g[0].targets.is_empty());
}

#[test]
fn ingress_role() {
    let ing = json!({
        "metadata": {"name": "site", "namespace": "web"},
        "spec": {"ingressClassName": "nginx",
            "tls": [{"hosts": ["*.example.com"]}],
            "rules": [
                {"host": "a.example.com", "http": {"paths": [{"path": "/api"}, {"path": ""}]}},
                {"host": "plain.org"},
                {"host": "none.org", "http": {"paths": []}}]}
    });
    let g = build(
        KubernetesRole::Ingress,
        &store(&[(Kind::Ingress, ing)]),
        &AttachMetadata::default(),
    );
    assert_eq!(g[0].source, "ingress/web/site");
    let common = [
        "__meta_kubernetes_namespace=web",
        "__meta_kubernetes_ingress_name=site",
        "__meta_kubernetes_ingress_class_name=nginx",
    ];
    let t = |host: &str, scheme: &str, path: &str| {
        let own = [
            format!("__address__={host}"),
            format!("__meta_kubernetes_ingress_host={host}"),
            format!("__meta_kubernetes_ingress_scheme={scheme}"),
            format!("__meta_kubernetes_ingress_path={path}"),
        ];
        let own: Vec<&str> = own.iter().map(String::as_str).collect();
        with(&common, &own)
    };
    let mut want = vec![
        t("a.example.com", "https", "/api"),
        t("a.example.com", "https", "/"),
        t("plain.org", "http", "/"),
    ];
    want.sort();
    assert_eq!(targets(&g[0]), want);
}

#[test]
fn node_role() {
    let node = json!({
        "metadata": {"name": "n1", "labels": {"kubernetes.io/os": "linux"}},
        "spec": {"providerID": "aws:///i-1"},
        "status": {
            "addresses": [
                {"type": "Hostname", "address": "n1.local"},
                {"type": "InternalIP", "address": "192.168.1.1"},
                {"type": "InternalIP", "address": "192.168.1.2"}],
            "conditions": [{"type": "Ready", "status": "True"},
                {"type": "MemoryPressure", "status": "False"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}
        }
    });
    let g = build(
        KubernetesRole::Node,
        &store(&[(Kind::Node, node)]),
        &AttachMetadata::default(),
    );
    assert_eq!(g[0].source, "node/n1");
    assert_eq!(
        targets(&g[0]),
        vec![labels(&[
            "__address__=192.168.1.1:10250",
            "instance=n1",
            "__meta_kubernetes_node_name=n1",
            "__meta_kubernetes_node_provider_id=aws:///i-1",
            "__meta_kubernetes_node_label_kubernetes_io_os=linux",
            "__meta_kubernetes_node_labelpresent_kubernetes_io_os=true",
            "__meta_kubernetes_node_address_Hostname=n1.local",
            "__meta_kubernetes_node_address_InternalIP=192.168.1.1",
            "__meta_kubernetes_node_condition_ready=true",
            "__meta_kubernetes_node_condition_memorypressure=false",
        ])]
    );
}

#[test]
fn ipv6_addresses_are_bracketed() {
    assert_eq!(join_host_port("fd00::1", 80), "[fd00::1]:80");
    assert_eq!(join_host_port("10.0.0.1", 80), "10.0.0.1:80");
    assert!(host_matches("*.a.b", "x.a.b"));
    assert!(!host_matches("*.a.b", "y.x.a.b"));
    assert!(!host_matches("x.a.b", "y.a.b"));
}
