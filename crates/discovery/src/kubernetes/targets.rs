//! From the objects in the caches to target groups: one group per object of the
//! role (a pod, a service, an Endpoints object, an EndpointSlice, an ingress or a
//! node), named and labelled as Prometheus 3.x's Kubernetes discovery names and
//! labels them, so that relabeling rules written for Prometheus work unchanged.
//!
//! Each builder fills a group's common labels and its targets' own labels
//! separately, as Prometheus does, and merges them at the end with the target's
//! labels winning, as Prometheus's scrape manager merges a group into its targets.

use super::objects::{
    Container, EndpointSlice, Endpoints, Ingress, Meta, Node, ObjectMeta, ObjectReference, Pod,
    Service,
};
use crate::Group;
use crate::sanitize_label_name as sanitize;
use ember_config::{AttachMetadata, KubernetesRole};
use ember_model::Labels;
use std::collections::BTreeMap;

const PREFIX: &str = "__meta_kubernetes_";
const NAMESPACE: &str = "__meta_kubernetes_namespace";

/// A label set being built.
type Set = BTreeMap<String, String>;

/// The objects seen so far, keyed by `namespace/name` (by name for nodes and
/// namespaces, which have none).
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) pods: BTreeMap<String, Pod>,
    pub(crate) services: BTreeMap<String, Service>,
    pub(crate) endpoints: BTreeMap<String, Endpoints>,
    pub(crate) slices: BTreeMap<String, EndpointSlice>,
    pub(crate) ingresses: BTreeMap<String, Ingress>,
    pub(crate) nodes: BTreeMap<String, Node>,
    pub(crate) namespaces: BTreeMap<String, Meta>,
    pub(crate) replica_sets: BTreeMap<String, Meta>,
    pub(crate) jobs: BTreeMap<String, Meta>,
}

/// `namespace/name`, the key of namespaced objects.
pub(crate) fn key(meta: &ObjectMeta) -> String {
    if meta.namespace.is_empty() {
        meta.name.clone()
    } else {
        format!("{}/{}", meta.namespace, meta.name)
    }
}

/// Go's `net.JoinHostPort`: IPv6 addresses in brackets.
fn join_host_port(host: &str, port: impl std::fmt::Display) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn set(s: &mut Set, name: &str, value: impl Into<String>) {
    s.insert(name.to_string(), value.into());
}

/// `<resource>_label_*`, `_labelpresent_*`, `_annotation_*` and
/// `_annotationpresent_*` of an object's metadata.
fn labels_and_annotations(s: &mut Set, meta: &ObjectMeta, resource: &str) {
    for (k, v) in &meta.labels {
        let n = sanitize(k);
        s.insert(format!("{PREFIX}{resource}_label_{n}"), v.clone());
        s.insert(
            format!("{PREFIX}{resource}_labelpresent_{n}"),
            "true".into(),
        );
    }
    for (k, v) in &meta.annotations {
        let n = sanitize(k);
        s.insert(format!("{PREFIX}{resource}_annotation_{n}"), v.clone());
        s.insert(
            format!("{PREFIX}{resource}_annotationpresent_{n}"),
            "true".into(),
        );
    }
}

/// `<role>_name` and the labels and annotations of an object.
fn object_meta(s: &mut Set, meta: &ObjectMeta, role: &str) {
    s.insert(format!("{PREFIX}{role}_name"), meta.name.clone());
    labels_and_annotations(s, meta, role);
}

/// A group from common labels and targets' own labels (which win).
fn group(source: String, common: &Set, targets: Vec<Set>) -> Group {
    let targets = targets
        .into_iter()
        .map(|t| {
            let mut all = common.clone();
            all.extend(t);
            // Empty values are no labels, as in Prometheus 3's discovered labels.
            Labels::from_pairs(all)
        })
        .collect();
    Group { source, targets }
}

/// Every group of `role` from the objects in `store`.
pub(crate) fn build(role: KubernetesRole, store: &Store, attach: &AttachMetadata) -> Vec<Group> {
    let b = Builder { store, attach };
    match role {
        KubernetesRole::Pod => store.pods.values().map(|p| b.pod(p)).collect(),
        KubernetesRole::Service => store.services.values().map(|s| b.service(s)).collect(),
        KubernetesRole::Endpoints => store.endpoints.values().map(|e| b.endpoints(e)).collect(),
        KubernetesRole::EndpointSlice => store.slices.values().map(|e| b.slice(e)).collect(),
        KubernetesRole::Ingress => store.ingresses.values().map(|i| b.ingress(i)).collect(),
        // A node without any address has no group (Prometheus logs and skips it).
        KubernetesRole::Node => store.nodes.values().filter_map(node).collect(),
    }
}

struct Builder<'a> {
    store: &'a Store,
    attach: &'a AttachMetadata,
}

impl Builder<'_> {
    /// The namespace's labels and annotations, with `attach_metadata: namespace`.
    fn namespace_labels(&self, s: &mut Set, namespace: &str) {
        if !self.attach.namespace {
            return;
        }
        if let Some(ns) = self.store.namespaces.get(namespace) {
            labels_and_annotations(s, &ns.metadata, "namespace");
        }
    }

    /// The node's name, labels and annotations, with `attach_metadata: node`.
    fn node_labels(&self, s: &mut Set, node: Option<&str>) {
        if !self.attach.node {
            return;
        }
        if let Some(n) = node.and_then(|n| self.store.nodes.get(n)) {
            object_meta(s, &n.metadata, "node");
        }
    }

    /// The labels every target of a pod has (Prometheus's `podLabels`).
    fn pod_labels(&self, s: &mut Set, pod: &Pod) {
        set(s, "__meta_kubernetes_pod_ip", &pod.status.pod_ip);
        set(s, "__meta_kubernetes_pod_ready", pod_ready(pod));
        set(s, "__meta_kubernetes_pod_phase", &pod.status.phase);
        set(s, "__meta_kubernetes_pod_node_name", &pod.spec.node_name);
        set(s, "__meta_kubernetes_pod_host_ip", &pod.status.host_ip);
        set(s, "__meta_kubernetes_pod_uid", &pod.metadata.uid);
        object_meta(s, &pod.metadata, "pod");
        let Some(owner) = pod.metadata.controller() else {
            return;
        };
        set(s, "__meta_kubernetes_pod_controller_kind", &owner.kind);
        set(s, "__meta_kubernetes_pod_controller_name", &owner.name);
        let owner_key = format!("{}/{}", pod.metadata.namespace, owner.name);
        match owner.kind.as_str() {
            "ReplicaSet" if self.attach.deployment => {
                if let Some(rs) = self.store.replica_sets.get(&owner_key)
                    && let Some(o) = rs.metadata.controller()
                    && o.kind == "Deployment"
                {
                    set(s, "__meta_kubernetes_pod_deployment_name", &o.name);
                }
            }
            "Job" => {
                if self.attach.job {
                    set(s, "__meta_kubernetes_pod_job_name", &owner.name);
                }
                if self.attach.cronjob
                    && let Some(job) = self.store.jobs.get(&owner_key)
                    && let Some(o) = job.metadata.controller()
                    && o.kind == "CronJob"
                {
                    set(s, "__meta_kubernetes_pod_cronjob_name", &o.name);
                }
            }
            _ => {}
        }
    }

    /// Pod role: a target per container port, one per container without ports
    /// (address without port), init containers included; none until the pod has
    /// an IP, nor while the node to attach is unknown.
    fn pod(&self, pod: &Pod) -> Group {
        let source = format!("pod/{}/{}", pod.metadata.namespace, pod.metadata.name);
        let ip = &pod.status.pod_ip;
        if ip.is_empty()
            || (self.attach.node && !self.store.nodes.contains_key(&pod.spec.node_name))
        {
            return Group {
                source,
                targets: Vec::new(),
            };
        }
        let mut common = Set::new();
        self.pod_labels(&mut common, pod);
        set(&mut common, NAMESPACE, &pod.metadata.namespace);
        self.node_labels(&mut common, Some(&pod.spec.node_name));
        self.namespace_labels(&mut common, &pod.metadata.namespace);
        let mut targets = Vec::new();
        for (c, init) in containers(pod) {
            let statuses = if init {
                &pod.status.init_container_statuses
            } else {
                &pod.status.container_statuses
            };
            let id = statuses
                .iter()
                .find(|s| s.name == c.name)
                .map(|s| s.container_id.as_str())
                .unwrap_or("");
            let mut t = Set::new();
            set(&mut t, "__meta_kubernetes_pod_container_name", &c.name);
            set(&mut t, "__meta_kubernetes_pod_container_id", id);
            set(&mut t, "__meta_kubernetes_pod_container_image", &c.image);
            set(
                &mut t,
                "__meta_kubernetes_pod_container_init",
                init.to_string(),
            );
            if c.ports.is_empty() {
                set(&mut t, "__address__", ip);
                targets.push(t);
                continue;
            }
            for p in &c.ports {
                let mut t = t.clone();
                set(&mut t, "__address__", join_host_port(ip, p.container_port));
                set(
                    &mut t,
                    "__meta_kubernetes_pod_container_port_number",
                    p.container_port.to_string(),
                );
                set(&mut t, "__meta_kubernetes_pod_container_port_name", &p.name);
                set(
                    &mut t,
                    "__meta_kubernetes_pod_container_port_protocol",
                    &p.protocol,
                );
                targets.push(t);
            }
        }
        group(source, &common, targets)
    }

    /// Service role: a target per service port, at `name.namespace.svc:port`.
    fn service(&self, svc: &Service) -> Group {
        let source = format!("svc/{}/{}", svc.metadata.namespace, svc.metadata.name);
        let mut common = Set::new();
        service_labels(&mut common, svc);
        self.namespace_labels(&mut common, &svc.metadata.namespace);
        let host = format!("{}.{}.svc", svc.metadata.name, svc.metadata.namespace);
        let targets = svc
            .spec
            .ports
            .iter()
            .map(|p| {
                let mut t = Set::new();
                set(&mut t, "__address__", join_host_port(&host, p.port));
                set(&mut t, "__meta_kubernetes_service_port_name", &p.name);
                set(
                    &mut t,
                    "__meta_kubernetes_service_port_number",
                    p.port.to_string(),
                );
                set(
                    &mut t,
                    "__meta_kubernetes_service_port_protocol",
                    &p.protocol,
                );
                set(&mut t, "__meta_kubernetes_service_type", &svc.spec.kind);
                if svc.spec.kind == "ExternalName" {
                    set(
                        &mut t,
                        "__meta_kubernetes_service_external_name",
                        &svc.spec.external_name,
                    );
                } else {
                    set(
                        &mut t,
                        "__meta_kubernetes_service_cluster_ip",
                        &svc.spec.cluster_ip,
                    );
                }
                if svc.spec.kind == "LoadBalancer" {
                    set(
                        &mut t,
                        "__meta_kubernetes_service_loadbalancer_ip",
                        load_balancer_ips(svc),
                    );
                }
                t
            })
            .collect();
        group(source, &common, targets)
    }

    /// Endpoints role: a target per address and port (ready and not ready), with
    /// the pod's labels when the address is a known pod, plus a target for each
    /// port of those pods' containers that no endpoint port covers.
    fn endpoints(&self, eps: &Endpoints) -> Group {
        let meta = &eps.metadata;
        let source = format!("endpoints/{}/{}", meta.namespace, meta.name);
        let mut common = Set::new();
        set(&mut common, NAMESPACE, &meta.namespace);
        if let Some(svc) = self.store.services.get(&key(meta)) {
            service_labels(&mut common, svc);
        }
        object_meta(&mut common, meta, "endpoints");
        self.namespace_labels(&mut common, &meta.namespace);
        let mut targets = Vec::new();
        // Pods met, with the endpoint ports they were met with, in order.
        let mut seen: Vec<(&Pod, Vec<i32>)> = Vec::new();
        for ss in &eps.subsets {
            for port in &ss.ports {
                let ready = ss.addresses.iter().map(|a| (a, "true"));
                let not_ready = ss.not_ready_addresses.iter().map(|a| (a, "false"));
                for (addr, ready) in ready.chain(not_ready) {
                    let mut t = Set::new();
                    set(&mut t, "__address__", join_host_port(&addr.ip, port.port));
                    set(&mut t, "__meta_kubernetes_endpoint_port_name", &port.name);
                    set(
                        &mut t,
                        "__meta_kubernetes_endpoint_port_protocol",
                        &port.protocol,
                    );
                    set(&mut t, "__meta_kubernetes_endpoint_ready", ready);
                    if let Some(r) = &addr.target_ref {
                        set(
                            &mut t,
                            "__meta_kubernetes_endpoint_address_target_kind",
                            &r.kind,
                        );
                        set(
                            &mut t,
                            "__meta_kubernetes_endpoint_address_target_name",
                            &r.name,
                        );
                    }
                    if let Some(n) = &addr.node_name {
                        set(&mut t, "__meta_kubernetes_endpoint_node_name", n);
                    }
                    set(
                        &mut t,
                        "__meta_kubernetes_endpoint_hostname",
                        &addr.hostname,
                    );
                    let node = match (&addr.node_name, &addr.target_ref) {
                        (Some(n), _) => Some(n.as_str()),
                        (None, Some(r)) if r.kind == "Node" => Some(r.name.as_str()),
                        _ => None,
                    };
                    self.node_labels(&mut t, node);
                    let Some(pod) = self.pod_ref(addr.target_ref.as_ref()) else {
                        targets.push(t);
                        continue;
                    };
                    self.pod_labels(&mut t, pod);
                    if let Some((c, init, cport)) = container_with_port(pod, port.port) {
                        container_port_labels(&mut t, c, init, cport.container_port);
                        set(
                            &mut t,
                            "__meta_kubernetes_pod_container_port_name",
                            &cport.name,
                        );
                        // The endpoint's protocol here (the slice role takes the
                        // container's), as Prometheus does.
                        set(
                            &mut t,
                            "__meta_kubernetes_pod_container_port_protocol",
                            &port.protocol,
                        );
                    }
                    remember(&mut seen, pod, port.port);
                    targets.push(t);
                }
            }
        }
        self.unserved_container_ports(&seen, &mut targets);
        group(source, &common, targets)
    }

    /// EndpointSlice role: as the endpoints role, from discovery.k8s.io/v1 slices;
    /// a dual-stack service's slices of its secondary family have no targets.
    fn slice(&self, eps: &EndpointSlice) -> Group {
        let meta = &eps.metadata;
        let source = format!("endpointslice/{}/{}", meta.namespace, meta.name);
        let mut common = Set::new();
        set(&mut common, NAMESPACE, &meta.namespace);
        set(
            &mut common,
            "__meta_kubernetes_endpointslice_address_type",
            &eps.address_type,
        );
        object_meta(&mut common, meta, "endpointslice");
        let svc = meta
            .labels
            .get("kubernetes.io/service-name")
            .and_then(|name| {
                self.store
                    .services
                    .get(&format!("{}/{name}", meta.namespace))
            });
        if let Some(svc) = svc {
            service_labels(&mut common, svc);
        }
        self.namespace_labels(&mut common, &meta.namespace);
        if svc.is_some_and(|svc| secondary_family(svc, eps)) {
            return group(source, &common, Vec::new());
        }
        let mut targets = Vec::new();
        let mut seen: Vec<(&Pod, Vec<i32>)> = Vec::new();
        let b = |v: bool| v.to_string();
        for ep in &eps.endpoints {
            for port in &eps.ports {
                for addr in &ep.addresses {
                    let mut t = Set::new();
                    let a = match port.port {
                        Some(p) => join_host_port(addr, p),
                        None => addr.clone(),
                    };
                    set(&mut t, "__address__", a);
                    let opt = [
                        ("port_name", port.name.clone()),
                        ("port_protocol", port.protocol.clone()),
                        ("port", port.port.map(|p| p.to_string())),
                        ("port_app_protocol", port.app_protocol.clone()),
                        ("endpoint_conditions_ready", ep.conditions.ready.map(b)),
                        ("endpoint_conditions_serving", ep.conditions.serving.map(b)),
                        (
                            "endpoint_conditions_terminating",
                            ep.conditions.terminating.map(b),
                        ),
                        ("endpoint_hostname", ep.hostname.clone()),
                        ("endpoint_node_name", ep.node_name.clone()),
                        ("endpoint_zone", ep.zone.clone()),
                    ];
                    for (name, v) in opt {
                        if let Some(v) = v {
                            t.insert(format!("{PREFIX}endpointslice_{name}"), v);
                        }
                    }
                    if let Some(r) = &ep.target_ref {
                        set(
                            &mut t,
                            "__meta_kubernetes_endpointslice_address_target_kind",
                            &r.kind,
                        );
                        set(
                            &mut t,
                            "__meta_kubernetes_endpointslice_address_target_name",
                            &r.name,
                        );
                    }
                    for (k, v) in &ep.deprecated_topology {
                        let n = sanitize(k);
                        t.insert(
                            format!("{PREFIX}endpointslice_endpoint_topology_{n}"),
                            v.clone(),
                        );
                        t.insert(
                            format!("{PREFIX}endpointslice_endpoint_topology_present_{n}"),
                            "true".into(),
                        );
                    }
                    let node = match &ep.target_ref {
                        Some(r) if r.kind == "Node" => Some(r.name.as_str()),
                        _ => ep.node_name.as_deref(),
                    };
                    self.node_labels(&mut t, node);
                    let Some(pod) = self.pod_ref(ep.target_ref.as_ref()) else {
                        targets.push(t);
                        continue;
                    };
                    self.pod_labels(&mut t, pod);
                    if let Some(p) = port.port
                        && let Some((c, init, cport)) = container_with_port(pod, p)
                    {
                        container_port_labels(&mut t, c, init, p);
                        set(
                            &mut t,
                            "__meta_kubernetes_pod_container_port_name",
                            &cport.name,
                        );
                        set(
                            &mut t,
                            "__meta_kubernetes_pod_container_port_protocol",
                            &cport.protocol,
                        );
                    }
                    // A port without a number covers no container port.
                    remember(&mut seen, pod, port.port.unwrap_or(-1));
                    targets.push(t);
                }
            }
        }
        self.unserved_container_ports(&seen, &mut targets);
        group(source, &common, targets)
    }

    /// The pod a `targetRef` names, if it is a pod in the cache.
    fn pod_ref(&self, r: Option<&ObjectReference>) -> Option<&Pod> {
        let r = r.filter(|r| r.kind == "Pod")?;
        self.store.pods.get(&format!("{}/{}", r.namespace, r.name))
    }

    /// Targets for the container ports of `seen` pods (with an IP) that none of
    /// the endpoint ports they were seen with covers.
    fn unserved_container_ports(&self, seen: &[(&Pod, Vec<i32>)], targets: &mut Vec<Set>) {
        for (pod, ports) in seen {
            if pod.status.pod_ip.is_empty() {
                continue;
            }
            for (c, init) in containers(pod) {
                for cport in &c.ports {
                    if ports.contains(&cport.container_port) {
                        continue;
                    }
                    let mut t = Set::new();
                    set(
                        &mut t,
                        "__address__",
                        join_host_port(&pod.status.pod_ip, cport.container_port),
                    );
                    container_port_labels(&mut t, c, init, cport.container_port);
                    set(
                        &mut t,
                        "__meta_kubernetes_pod_container_port_name",
                        &cport.name,
                    );
                    set(
                        &mut t,
                        "__meta_kubernetes_pod_container_port_protocol",
                        &cport.protocol,
                    );
                    self.pod_labels(&mut t, pod);
                    targets.push(t);
                }
            }
        }
    }

    /// Ingress role: a target per rule and path, at the rule's host; `https` when
    /// a TLS entry's host (wildcards included) matches the rule's.
    fn ingress(&self, ing: &Ingress) -> Group {
        let meta = &ing.metadata;
        let source = format!("ingress/{}/{}", meta.namespace, meta.name);
        let mut common = Set::new();
        set(&mut common, NAMESPACE, &meta.namespace);
        if let Some(c) = &ing.spec.ingress_class_name {
            set(&mut common, "__meta_kubernetes_ingress_class_name", c);
        }
        object_meta(&mut common, meta, "ingress");
        self.namespace_labels(&mut common, &meta.namespace);
        let mut targets = Vec::new();
        for rule in &ing.spec.rules {
            let tls = ing
                .spec
                .tls
                .iter()
                .flat_map(|t| &t.hosts)
                .any(|pattern| host_matches(pattern, &rule.host));
            let scheme = if tls { "https" } else { "http" };
            // No `http` section: the root path; an empty path list: no targets.
            let paths: Vec<&str> = match &rule.http {
                None => vec!["/"],
                Some(h) => h
                    .paths
                    .iter()
                    .map(|p| if p.path.is_empty() { "/" } else { &p.path })
                    .collect(),
            };
            for path in paths {
                let mut t = Set::new();
                set(&mut t, "__address__", &rule.host);
                set(&mut t, "__meta_kubernetes_ingress_scheme", scheme);
                set(&mut t, "__meta_kubernetes_ingress_host", &rule.host);
                set(&mut t, "__meta_kubernetes_ingress_path", path);
                targets.push(t);
            }
        }
        group(source, &common, targets)
    }
}

/// Node role: one target at the node's preferred address and the kubelet port.
fn node(n: &Node) -> Option<Group> {
    let mut common = Set::new();
    set(
        &mut common,
        "__meta_kubernetes_node_provider_id",
        &n.spec.provider_id,
    );
    for c in &n.status.conditions {
        common.insert(
            format!(
                "{PREFIX}node_condition_{}",
                sanitize(&c.kind.to_lowercase())
            ),
            c.status.to_lowercase(),
        );
    }
    object_meta(&mut common, &n.metadata, "node");
    let addresses = &n.status.addresses;
    let first = |kind: &str| addresses.iter().find(|a| a.kind == kind);
    let addr = [
        "InternalIP",
        "InternalDNS",
        "ExternalIP",
        "ExternalDNS",
        "LegacyHostIP",
        "Hostname",
    ]
    .into_iter()
    .find_map(first)?;
    let mut t = Set::new();
    set(
        &mut t,
        "__address__",
        join_host_port(
            &addr.address,
            n.status.daemon_endpoints.kubelet_endpoint.port,
        ),
    );
    set(&mut t, "instance", &n.metadata.name);
    // The first address of each type.
    for a in addresses.iter().rev() {
        t.insert(
            sanitize(&format!("{PREFIX}node_address_{}", a.kind)),
            a.address.clone(),
        );
    }
    Some(group(format!("node/{}", n.metadata.name), &common, vec![t]))
}

/// Labels of a service's targets shared with endpoints and slices.
fn service_labels(s: &mut Set, svc: &Service) {
    set(s, NAMESPACE, &svc.metadata.namespace);
    object_meta(s, &svc.metadata, "service");
}

/// The load balancer's ingress IPs, comma-separated, else `loadBalancerIP`.
fn load_balancer_ips(svc: &Service) -> String {
    let ips: Vec<&str> = svc
        .status
        .load_balancer
        .ingress
        .iter()
        .map(|i| i.ip.as_str())
        .filter(|ip| !ip.is_empty())
        .collect();
    if ips.is_empty() {
        svc.spec.load_balancer_ip.clone()
    } else {
        ips.join(",")
    }
}

/// Whether `eps` is a dual-stack service's slice of its secondary IP family.
fn secondary_family(svc: &Service, eps: &EndpointSlice) -> bool {
    let dual = matches!(
        svc.spec.ip_family_policy.as_deref(),
        Some("PreferDualStack" | "RequireDualStack")
    );
    dual && svc
        .spec
        .ip_families
        .first()
        .is_some_and(|f| *f != eps.address_type)
}

/// `ready` condition's status, lower-cased; `unknown` without one.
fn pod_ready(pod: &Pod) -> String {
    pod.status
        .conditions
        .iter()
        .find(|c| c.kind == "Ready")
        .map_or_else(|| "unknown".into(), |c| c.status.to_lowercase())
}

/// Containers then init containers, with whether each is an init container.
fn containers(pod: &Pod) -> impl Iterator<Item = (&Container, bool)> {
    let c = pod.spec.containers.iter().map(|c| (c, false));
    c.chain(pod.spec.init_containers.iter().map(|c| (c, true)))
}

/// The container with a port numbered `port`, and that port: the last such
/// container (init containers after the others), as Prometheus's loop leaves its
/// labels, each container's first such port.
fn container_with_port(
    pod: &Pod,
    port: i32,
) -> Option<(&Container, bool, &super::objects::ContainerPort)> {
    containers(pod)
        .filter_map(|(c, init)| {
            c.ports
                .iter()
                .find(|p| p.container_port == port)
                .map(|p| (c, init, p))
        })
        .last()
}

/// Name, image, port number and init flag of a container target.
fn container_port_labels(t: &mut Set, c: &Container, init: bool, port: i32) {
    set(t, "__meta_kubernetes_pod_container_name", &c.name);
    set(t, "__meta_kubernetes_pod_container_image", &c.image);
    set(
        t,
        "__meta_kubernetes_pod_container_port_number",
        port.to_string(),
    );
    set(t, "__meta_kubernetes_pod_container_init", init.to_string());
}

fn remember<'a>(seen: &mut Vec<(&'a Pod, Vec<i32>)>, pod: &'a Pod, port: i32) {
    match seen.iter_mut().find(|(p, _)| std::ptr::eq(*p, pod)) {
        Some((_, ports)) => ports.push(port),
        None => seen.push((pod, vec![port])),
    }
}

/// Whether an ingress TLS host `pattern` (`*.example.com` allowed) covers `host`.
fn host_matches(pattern: &str, host: &str) -> bool {
    if pattern == host {
        return true;
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let h: Vec<&str> = host.split('.').collect();
    p[0] == "*" && p.len() == h.len() && p[1..] == h[1..]
}

#[cfg(test)]
#[path = "targets_tests.rs"]
mod tests;
