//! The parts of Kubernetes API objects that discovery reads, as the API server
//! sends them in JSON (camelCase names). Everything else in an object is ignored,
//! and absent or `null` fields take their empty value, so that objects from any
//! server version decode.

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// `null` decodes as the empty value, as a missing field does (Go's zero values).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `metadata` of every object.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ObjectMeta {
    #[serde(deserialize_with = "nullable")]
    pub(crate) name: String,
    #[serde(deserialize_with = "nullable")]
    pub(crate) namespace: String,
    #[serde(deserialize_with = "nullable")]
    pub(crate) uid: String,
    #[serde(deserialize_with = "nullable")]
    pub(crate) resource_version: String,
    #[serde(deserialize_with = "nullable")]
    pub(crate) labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable")]
    pub(crate) annotations: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable")]
    pub(crate) owner_references: Vec<OwnerReference>,
}

impl ObjectMeta {
    /// The owner that controls this object, as Kubernetes's `GetControllerOf`.
    pub(crate) fn controller(&self) -> Option<&OwnerReference> {
        self.owner_references
            .iter()
            .find(|r| r.controller == Some(true))
    }
}

/// `metadata.ownerReferences[]`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct OwnerReference {
    #[serde(deserialize_with = "nullable")]
    pub(crate) kind: String,
    #[serde(deserialize_with = "nullable")]
    pub(crate) name: String,
    pub(crate) controller: Option<bool>,
}

/// A reference to another object (`targetRef`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ObjectReference {
    #[serde(deserialize_with = "nullable")]
    pub(crate) kind: String,
    #[serde(deserialize_with = "nullable")]
    pub(crate) name: String,
    #[serde(deserialize_with = "nullable")]
    pub(crate) namespace: String,
}

/// Any object of which only the metadata matters (namespaces, replica sets, jobs).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct Meta {
    pub(crate) metadata: ObjectMeta,
}

/// A pod.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct Pod {
    pub(crate) metadata: ObjectMeta,
    pub(crate) spec: PodSpec,
    pub(crate) status: PodStatus,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct PodSpec {
    #[serde(deserialize_with = "nullable")]
    pub(crate) node_name: String,
    #[serde(deserialize_with = "nullable")]
    pub(crate) containers: Vec<Container>,
    #[serde(deserialize_with = "nullable")]
    pub(crate) init_containers: Vec<Container>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Container {
    #[serde(deserialize_with = "nullable")]
    pub(crate) name: String,
    #[serde(deserialize_with = "nullable")]
    pub(crate) image: String,
    #[serde(deserialize_with = "nullable")]
    pub(crate) ports: Vec<ContainerPort>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ContainerPort {
    #[serde(deserialize_with = "nullable")]
    pub(crate) name: String,
    pub(crate) container_port: i32,
    #[serde(deserialize_with = "nullable")]
    pub(crate) protocol: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct PodStatus {
    #[serde(rename = "podIP", deserialize_with = "nullable")]
    pub(crate) pod_ip: String,
    #[serde(rename = "hostIP", deserialize_with = "nullable")]
    pub(crate) host_ip: String,
    #[serde(deserialize_with = "nullable")]
    pub(crate) phase: String,
    #[serde(deserialize_with = "nullable")]
    pub(crate) conditions: Vec<Condition>,
    #[serde(deserialize_with = "nullable")]
    pub(crate) container_statuses: Vec<ContainerStatus>,
    #[serde(deserialize_with = "nullable")]
    pub(crate) init_container_statuses: Vec<ContainerStatus>,
}

/// A pod's or node's condition.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct Condition {
    #[serde(rename = "type", deserialize_with = "nullable")]
    pub(crate) kind: String,
    #[serde(deserialize_with = "nullable")]
    pub(crate) status: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct ContainerStatus {
    #[serde(deserialize_with = "nullable")]
    pub(crate) name: String,
    #[serde(rename = "containerID", deserialize_with = "nullable")]
    pub(crate) container_id: String,
}

/// A service.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct Service {
    pub(crate) metadata: ObjectMeta,
    pub(crate) spec: ServiceSpec,
    pub(crate) status: ServiceStatus,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ServiceSpec {
    #[serde(deserialize_with = "nullable")]
    pub(crate) ports: Vec<ServicePort>,
    #[serde(rename = "type", deserialize_with = "nullable")]
    pub(crate) kind: String,
    #[serde(rename = "clusterIP", deserialize_with = "nullable")]
    pub(crate) cluster_ip: String,
    #[serde(deserialize_with = "nullable")]
    pub(crate) external_name: String,
    #[serde(rename = "loadBalancerIP", deserialize_with = "nullable")]
    pub(crate) load_balancer_ip: String,
    pub(crate) ip_family_policy: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub(crate) ip_families: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct ServicePort {
    #[serde(deserialize_with = "nullable")]
    pub(crate) name: String,
    pub(crate) port: i32,
    #[serde(deserialize_with = "nullable")]
    pub(crate) protocol: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ServiceStatus {
    pub(crate) load_balancer: LoadBalancerStatus,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct LoadBalancerStatus {
    #[serde(deserialize_with = "nullable")]
    pub(crate) ingress: Vec<LoadBalancerIngress>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct LoadBalancerIngress {
    #[serde(deserialize_with = "nullable")]
    pub(crate) ip: String,
}

/// A (core/v1) Endpoints object.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct Endpoints {
    pub(crate) metadata: ObjectMeta,
    #[serde(deserialize_with = "nullable")]
    pub(crate) subsets: Vec<EndpointSubset>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct EndpointSubset {
    #[serde(deserialize_with = "nullable")]
    pub(crate) addresses: Vec<EndpointAddress>,
    #[serde(deserialize_with = "nullable")]
    pub(crate) not_ready_addresses: Vec<EndpointAddress>,
    #[serde(deserialize_with = "nullable")]
    pub(crate) ports: Vec<EndpointPort>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct EndpointAddress {
    #[serde(deserialize_with = "nullable")]
    pub(crate) ip: String,
    #[serde(deserialize_with = "nullable")]
    pub(crate) hostname: String,
    pub(crate) node_name: Option<String>,
    pub(crate) target_ref: Option<ObjectReference>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct EndpointPort {
    #[serde(deserialize_with = "nullable")]
    pub(crate) name: String,
    pub(crate) port: i32,
    #[serde(deserialize_with = "nullable")]
    pub(crate) protocol: String,
}

/// A discovery.k8s.io/v1 EndpointSlice.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct EndpointSlice {
    pub(crate) metadata: ObjectMeta,
    #[serde(deserialize_with = "nullable")]
    pub(crate) address_type: String,
    #[serde(deserialize_with = "nullable")]
    pub(crate) endpoints: Vec<SliceEndpoint>,
    #[serde(deserialize_with = "nullable")]
    pub(crate) ports: Vec<SlicePort>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct SliceEndpoint {
    #[serde(deserialize_with = "nullable")]
    pub(crate) addresses: Vec<String>,
    pub(crate) conditions: SliceConditions,
    pub(crate) hostname: Option<String>,
    pub(crate) target_ref: Option<ObjectReference>,
    pub(crate) node_name: Option<String>,
    pub(crate) zone: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub(crate) deprecated_topology: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct SliceConditions {
    pub(crate) ready: Option<bool>,
    pub(crate) serving: Option<bool>,
    pub(crate) terminating: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct SlicePort {
    pub(crate) name: Option<String>,
    pub(crate) protocol: Option<String>,
    pub(crate) port: Option<i32>,
    pub(crate) app_protocol: Option<String>,
}

/// A networking.k8s.io/v1 Ingress.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct Ingress {
    pub(crate) metadata: ObjectMeta,
    pub(crate) spec: IngressSpec,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct IngressSpec {
    pub(crate) ingress_class_name: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub(crate) rules: Vec<IngressRule>,
    #[serde(deserialize_with = "nullable")]
    pub(crate) tls: Vec<IngressTls>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct IngressRule {
    #[serde(deserialize_with = "nullable")]
    pub(crate) host: String,
    pub(crate) http: Option<IngressHttp>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct IngressHttp {
    #[serde(deserialize_with = "nullable")]
    pub(crate) paths: Vec<IngressPath>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct IngressPath {
    #[serde(deserialize_with = "nullable")]
    pub(crate) path: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct IngressTls {
    #[serde(deserialize_with = "nullable")]
    pub(crate) hosts: Vec<String>,
}

/// A node.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct Node {
    pub(crate) metadata: ObjectMeta,
    pub(crate) spec: NodeSpec,
    pub(crate) status: NodeStatus,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct NodeSpec {
    #[serde(rename = "providerID", deserialize_with = "nullable")]
    pub(crate) provider_id: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct NodeStatus {
    #[serde(deserialize_with = "nullable")]
    pub(crate) addresses: Vec<NodeAddress>,
    #[serde(deserialize_with = "nullable")]
    pub(crate) conditions: Vec<Condition>,
    pub(crate) daemon_endpoints: DaemonEndpoints,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct NodeAddress {
    #[serde(rename = "type", deserialize_with = "nullable")]
    pub(crate) kind: String,
    #[serde(deserialize_with = "nullable")]
    pub(crate) address: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct DaemonEndpoints {
    pub(crate) kubelet_endpoint: KubeletEndpoint,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct KubeletEndpoint {
    /// Capitalised in the API's JSON (`DaemonEndpoint.Port`).
    #[serde(rename = "Port")]
    pub(crate) port: i32,
}
