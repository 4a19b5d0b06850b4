//! Service discovery configs for the mechanisms Ember implements: static, file,
//! HTTP, DNS, Consul and Kubernetes, with Prometheus's defaults and validation.
//! Every other `*_sd_configs` key Prometheus knows is rejected by name (see
//! `yaml::UNSUPPORTED_SD`).

use crate::http::{
    HttpClientConfig, RawHttp, convert_http, convert_http_with, parse_go_url, with_http,
};
use crate::load::{Ctx, idx, sub};
use crate::secret::Secret;
use crate::yaml::{Pairs, Pos, Sp};
use crate::{ConfigError, Duration};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// All the discovery configs of one scrape job or Alertmanager set.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ServiceDiscoveryConfigs {
    /// Fixed target groups.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub static_configs: Vec<TargetGroup>,
    /// Target groups read from files.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub file_sd_configs: Vec<FileSdConfig>,
    /// Target groups fetched over HTTP.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http_sd_configs: Vec<HttpSdConfig>,
    /// Targets from DNS records.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_sd_configs: Vec<DnsSdConfig>,
    /// Targets from Consul's catalog.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub consul_sd_configs: Vec<ConsulSdConfig>,
    /// Targets from the Kubernetes API.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
}

/// One entry of `static_configs`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TargetGroup {
    /// `host:port` addresses.
    pub targets: Vec<String>,
    /// Labels for every target of the group.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The group's index among the job's static groups, as Prometheus numbers them.
    #[serde(skip)]
    pub source: String,
}

/// One entry of `file_sd_configs`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileSdConfig {
    /// Paths or globs (`*` in the last element only), joined with the config
    /// file's directory.
    pub files: Vec<String>,
    /// Re-read interval in addition to file watching (default 5m).
    pub refresh_interval: Duration,
}

/// One entry of `http_sd_configs`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HttpSdConfig {
    /// How to fetch.
    #[serde(flatten)]
    pub http_client: HttpClientConfig,
    /// How often (default 60s).
    pub refresh_interval: Duration,
    /// Where; `http` or `https` with a host.
    #[serde(serialize_with = "crate::http::ser_url")]
    pub url: String,
}

/// A DNS record type for DNS-SD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DnsRecordType {
    /// SRV (the default): targets and ports from the records.
    Srv,
    /// A, with `port`.
    A,
    /// AAAA, with `port`.
    Aaaa,
    /// MX, with `port`.
    Mx,
    /// NS, with `port`.
    Ns,
}

impl DnsRecordType {
    /// The record type's name.
    pub fn as_str(self) -> &'static str {
        match self {
            DnsRecordType::Srv => "SRV",
            DnsRecordType::A => "A",
            DnsRecordType::Aaaa => "AAAA",
            DnsRecordType::Mx => "MX",
            DnsRecordType::Ns => "NS",
        }
    }
}

impl Serialize for DnsRecordType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One entry of `dns_sd_configs`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DnsSdConfig {
    /// Names to query.
    pub names: Vec<String>,
    /// How often (default 30s).
    pub refresh_interval: Duration,
    /// Record type.
    #[serde(rename = "type")]
    pub record_type: DnsRecordType,
    /// Port for every record type but SRV.
    pub port: u16,
}

/// One entry of `consul_sd_configs`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConsulSdConfig {
    /// Consul address (default `localhost:8500`).
    pub server: String,
    /// Prefix for API paths.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path_prefix: String,
    /// ACL token.
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub token: Secret,
    /// Datacenter.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub datacenter: String,
    /// Namespace (Consul Enterprise).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Admin partition (Consul Enterprise).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub partition: String,
    /// Joins tags in `__meta_consul_tags` (default `,`).
    pub tag_separator: String,
    /// `http` or `https` (default `http`).
    pub scheme: String,
    /// User name, also copied into `http_client.basic_auth`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// Password, also copied into `http_client.basic_auth`.
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub password: Secret,
    /// Allow stale reads (default true).
    pub allow_stale: bool,
    /// Delay between blocking queries (default 30s).
    pub refresh_interval: Duration,
    /// Services to watch; all when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// Tags a service instance must all have.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Node metadata to match.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub node_meta: BTreeMap<String, String>,
    /// Catalog API filter expression.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter: String,
    /// Health API filter expression.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub health_filter: String,
    /// How to reach Consul.
    #[serde(flatten)]
    pub http_client: HttpClientConfig,
}

/// What Kubernetes objects become targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KubernetesRole {
    /// Nodes.
    Node,
    /// Pods.
    Pod,
    /// Services.
    Service,
    /// Endpoints.
    Endpoints,
    /// EndpointSlices.
    EndpointSlice,
    /// Ingresses.
    Ingress,
}

impl KubernetesRole {
    /// The name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            KubernetesRole::Node => "node",
            KubernetesRole::Pod => "pod",
            KubernetesRole::Service => "service",
            KubernetesRole::Endpoints => "endpoints",
            KubernetesRole::EndpointSlice => "endpointslice",
            KubernetesRole::Ingress => "ingress",
        }
    }

    fn from_name(s: &str) -> Option<KubernetesRole> {
        [
            KubernetesRole::Node,
            KubernetesRole::Pod,
            KubernetesRole::Service,
            KubernetesRole::Endpoints,
            KubernetesRole::EndpointSlice,
            KubernetesRole::Ingress,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }

    /// Selector roles this role accepts, in Prometheus's order.
    fn allowed_selectors(self) -> &'static [KubernetesRole] {
        use KubernetesRole::*;
        match self {
            Pod => &[Pod, Node],
            Service => &[Service],
            EndpointSlice => &[Pod, Service, EndpointSlice],
            Endpoints => &[Pod, Service, Endpoints],
            Node => &[Node],
            Ingress => &[Ingress],
        }
    }
}

impl Serialize for KubernetesRole {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for KubernetesRole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        KubernetesRole::from_name(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown Kubernetes SD role {s:?}")))
    }
}

/// `kubernetes_sd_configs[].namespaces`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NamespaceDiscovery {
    /// Watch the namespace Ember runs in.
    pub own_namespace: bool,
    /// Namespaces to watch; all when empty.
    pub names: Vec<String>,
}

/// `kubernetes_sd_configs[].selectors[]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KubernetesSelector {
    /// Which objects the selector applies to.
    pub role: KubernetesRole,
    /// Label selector.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub label: String,
    /// Field selector.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub field: String,
}

/// `kubernetes_sd_configs[].attach_metadata`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AttachMetadata {
    /// Attach node metadata to pod targets.
    pub node: bool,
    /// Attach namespace metadata.
    pub namespace: bool,
    /// Attach the owning deployment.
    pub deployment: bool,
    /// Attach the owning job.
    pub job: bool,
    /// Attach the owning cron job.
    pub cronjob: bool,
}

/// One entry of `kubernetes_sd_configs`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KubernetesSdConfig {
    /// API server URL; empty for in-cluster or kubeconfig.
    #[serde(
        skip_serializing_if = "String::is_empty",
        serialize_with = "crate::http::ser_url"
    )]
    pub api_server: String,
    /// Objects to discover.
    pub role: KubernetesRole,
    /// kubeconfig path, joined with the config file's directory.
    pub kubeconfig_file: String,
    /// How to reach the API server.
    #[serde(flatten)]
    pub http_client: HttpClientConfig,
    /// Namespaces to watch.
    pub namespaces: NamespaceDiscovery,
    /// Label and field selectors per object kind.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub selectors: Vec<KubernetesSelector>,
    /// Extra metadata to attach.
    pub attach_metadata: AttachMetadata,
}

// ---------------------------------------------------------------------------------
// Raw forms.

/// A label name in a target group's `labels`.
struct GroupLabel(String);

impl<'de> Deserialize<'de> for GroupLabel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Err(serde::de::Error::custom("\"\" is not a valid label name"));
        }
        Ok(GroupLabel(s))
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTargetGroup {
    targets: Option<Vec<Sp<String>>>,
    labels: Option<Pairs<GroupLabel, Option<String>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFileSd {
    files: Option<Vec<Sp<String>>>,
    refresh_interval: Option<Duration>,
}

with_http! {
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct RawHttpSd {
        url: Option<Sp<String>>,
        refresh_interval: Option<Duration>,
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDnsSd {
    names: Option<Vec<String>>,
    refresh_interval: Option<Duration>,
    #[serde(rename = "type")]
    record_type: Option<Sp<String>>,
    port: Option<u16>,
}

with_http! {
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct RawConsulSd {
        server: Option<String>,
        path_prefix: Option<String>,
        token: Option<Secret>,
        datacenter: Option<String>,
        namespace: Option<String>,
        partition: Option<String>,
        tag_separator: Option<String>,
        scheme: Option<String>,
        username: Option<String>,
        password: Option<Secret>,
        allow_stale: Option<bool>,
        refresh_interval: Option<Duration>,
        services: Option<Vec<String>>,
        tags: Option<Vec<String>>,
        node_meta: Option<BTreeMap<String, String>>,
        filter: Option<String>,
        health_filter: Option<String>,
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNamespaces {
    own_namespace: Option<bool>,
    names: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSelector {
    role: Option<KubernetesRole>,
    label: Option<Sp<String>>,
    field: Option<Sp<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAttachMetadata {
    node: Option<bool>,
    namespace: Option<bool>,
    deployment: Option<bool>,
    job: Option<bool>,
    cronjob: Option<bool>,
}

with_http! {
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct RawKubernetesSd {
        api_server: Option<Sp<String>>,
        role: Option<KubernetesRole>,
        kubeconfig_file: Option<Sp<String>>,
        namespaces: Option<RawNamespaces>,
        selectors: Option<Vec<Sp<RawSelector>>>,
        attach_metadata: Option<RawAttachMetadata>,
    }
}

/// A list of one kind of SD config as written; `null` entries are kept to be
/// reported.
type RawList<T> = Option<Vec<Sp<Option<T>>>>;

/// The discovery keys of a scrape job or Alertmanager set, as written.
#[derive(Default)]
pub(crate) struct RawSd {
    pub(crate) static_configs: RawList<RawTargetGroup>,
    pub(crate) file_sd_configs: RawList<RawFileSd>,
    pub(crate) http_sd_configs: RawList<RawHttpSd>,
    pub(crate) dns_sd_configs: RawList<RawDnsSd>,
    pub(crate) consul_sd_configs: RawList<RawConsulSd>,
    pub(crate) kubernetes_sd_configs: RawList<RawKubernetesSd>,
}

/// Moves the discovery fields of a raw holder into a [`RawSd`].
macro_rules! take_sd {
    ($raw:expr) => {
        $crate::discovery::RawSd {
            static_configs: $raw.static_configs.take(),
            file_sd_configs: $raw.file_sd_configs.take(),
            http_sd_configs: $raw.http_sd_configs.take(),
            dns_sd_configs: $raw.dns_sd_configs.take(),
            consul_sd_configs: $raw.consul_sd_configs.take(),
            kubernetes_sd_configs: $raw.kubernetes_sd_configs.take(),
        }
    };
}
pub(crate) use take_sd;

// ---------------------------------------------------------------------------------
// Conversion.

fn each<T, U>(
    list: RawList<T>,
    key: &str,
    ctx: &mut Ctx,
    field: &str,
    mut f: impl FnMut(T, &mut Ctx, &str, Pos) -> Result<U, ConfigError>,
) -> Result<Vec<U>, ConfigError> {
    let here = sub(field, key);
    let mut out = Vec::new();
    for (i, item) in list.unwrap_or_default().into_iter().enumerate() {
        let pos = Pos::of(&item);
        let at = idx(&here, i);
        let Some(v) = item.value else {
            return Err(ctx.invalid(&at, pos, format!("empty or null section in {key}")));
        };
        out.push(f(v, ctx, &at, pos)?);
    }
    Ok(out)
}

/// Converts and validates every discovery config. `check_targets` applies
/// Prometheus's check that static targets are not URLs (done when the holder has
/// no target relabeling that could fix them).
pub(crate) fn convert_sd(
    raw: RawSd,
    ctx: &mut Ctx,
    field: &str,
    check_targets: bool,
) -> Result<ServiceDiscoveryConfigs, ConfigError> {
    let mut n_groups = 0usize;
    let static_configs = each(
        raw.static_configs,
        "static_configs",
        ctx,
        field,
        |g, ctx, at, _| {
            let mut targets = Vec::new();
            for t in g.targets.unwrap_or_default() {
                if check_targets && t.value.contains('/') {
                    return Err(ctx.invalid(
                        &sub(at, "targets"),
                        Pos::of(&t),
                        format!("{:?} is not a valid hostname", t.value),
                    ));
                }
                targets.push(t.value);
            }
            let source = n_groups.to_string();
            n_groups += 1;
            Ok(TargetGroup {
                targets,
                labels: g
                    .labels
                    .unwrap_or_default()
                    .0
                    .into_iter()
                    .map(|(k, v)| (k.0, v.unwrap_or_default()))
                    .collect(),
                source,
            })
        },
    )?;
    let file_sd_configs = each(
        raw.file_sd_configs,
        "file_sd_configs",
        ctx,
        field,
        convert_file,
    )?;
    let http_sd_configs = each(
        raw.http_sd_configs,
        "http_sd_configs",
        ctx,
        field,
        convert_http_sd,
    )?;
    let dns_sd_configs = each(
        raw.dns_sd_configs,
        "dns_sd_configs",
        ctx,
        field,
        convert_dns,
    )?;
    let consul_sd_configs = each(
        raw.consul_sd_configs,
        "consul_sd_configs",
        ctx,
        field,
        convert_consul,
    )?;
    let kubernetes_sd_configs = each(
        raw.kubernetes_sd_configs,
        "kubernetes_sd_configs",
        ctx,
        field,
        convert_kubernetes,
    )?;
    Ok(ServiceDiscoveryConfigs {
        static_configs,
        file_sd_configs,
        http_sd_configs,
        dns_sd_configs,
        consul_sd_configs,
        kubernetes_sd_configs,
    })
}

/// `^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$`: a glob only in the last
/// path element, and a known extension.
fn valid_file_sd_name(name: &str) -> bool {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    if !["json", "yml", "yaml", "JSON", "YML", "YAML"].contains(&ext) {
        return false;
    }
    match stem.find('*') {
        None => true,
        Some(i) => !stem[i + 1..].contains(['*', '/']),
    }
}

fn convert_file(
    r: RawFileSd,
    ctx: &mut Ctx,
    at: &str,
    pos: Pos,
) -> Result<FileSdConfig, ConfigError> {
    let files = r.files.unwrap_or_default();
    if files.is_empty() {
        return Err(ctx.invalid(
            at,
            pos,
            "file service discovery config must contain at least one path name",
        ));
    }
    let mut out = Vec::new();
    for f in files {
        if !valid_file_sd_name(&f.value) {
            return Err(ctx.invalid(
                &sub(at, "files"),
                Pos::of(&f),
                format!("path name {:?} is not valid for file discovery", f.value),
            ));
        }
        out.push(ctx.join(&f.value));
    }
    Ok(FileSdConfig {
        files: out,
        refresh_interval: r.refresh_interval.unwrap_or(Duration::from_secs(300)),
    })
}

fn convert_http_sd(
    mut r: RawHttpSd,
    ctx: &mut Ctx,
    at: &str,
    pos: Pos,
) -> Result<HttpSdConfig, ConfigError> {
    let http: RawHttp = r.take_http();
    let Some(url) = r.url else {
        return Err(ctx.invalid(at, pos, "URL is missing"));
    };
    let url_at = sub(at, "url");
    let upos = Pos::of(&url);
    if url.value.is_empty() {
        return Err(ctx.invalid(&url_at, upos, "URL is missing"));
    }
    let parsed = parse_go_url(&url.value).map_err(|e| ctx.invalid(&url_at, upos, e))?;
    if parsed.scheme != "http" && parsed.scheme != "https" {
        return Err(ctx.invalid(&url_at, upos, "URL scheme must be 'http' or 'https'"));
    }
    if parsed.host.is_empty() {
        return Err(ctx.invalid(&url_at, upos, "host is missing in URL"));
    }
    Ok(HttpSdConfig {
        http_client: convert_http(http, (true, true), ctx, at, pos)?,
        refresh_interval: r.refresh_interval.unwrap_or(Duration::from_secs(60)),
        url: url.value,
    })
}

fn convert_dns(r: RawDnsSd, ctx: &mut Ctx, at: &str, pos: Pos) -> Result<DnsSdConfig, ConfigError> {
    let names = r.names.unwrap_or_default();
    if names.is_empty() {
        return Err(ctx.invalid(
            at,
            pos,
            "DNS-SD config must contain at least one SRV record name",
        ));
    }
    let port = r.port.unwrap_or(0);
    let (type_text, tpos) = match &r.record_type {
        Some(t) => (t.value.clone(), Pos::of(t)),
        None => ("SRV".to_string(), pos),
    };
    let record_type = match type_text.to_ascii_uppercase().as_str() {
        "SRV" => DnsRecordType::Srv,
        other => {
            let t = match other {
                "A" => DnsRecordType::A,
                "AAAA" => DnsRecordType::Aaaa,
                "MX" => DnsRecordType::Mx,
                "NS" => DnsRecordType::Ns,
                _ => {
                    return Err(ctx.invalid(
                        &sub(at, "type"),
                        tpos,
                        format!("invalid DNS-SD records type {type_text}"),
                    ));
                }
            };
            if port == 0 {
                return Err(ctx.invalid(
                    at,
                    pos,
                    "a port is required in DNS-SD configs for all record types except SRV",
                ));
            }
            t
        }
    };
    Ok(DnsSdConfig {
        names,
        refresh_interval: r.refresh_interval.unwrap_or(Duration::from_secs(30)),
        record_type,
        port,
    })
}

fn convert_consul(
    mut r: RawConsulSd,
    ctx: &mut Ctx,
    at: &str,
    pos: Pos,
) -> Result<ConsulSdConfig, ConfigError> {
    let raw_http = r.take_http();
    let server = r.server.unwrap_or_else(|| "localhost:8500".into());
    if server.trim().is_empty() {
        return Err(ctx.invalid(at, pos, "consul SD configuration requires a server address"));
    }
    let username = r.username.unwrap_or_default();
    let password = r.password.unwrap_or_default();
    let token = r.token.unwrap_or_default();
    let had_basic = raw_http.basic_auth.is_some();
    let had_auth = raw_http.authorization.is_some() || raw_http.oauth2.is_some();
    if (!username.is_empty() || !password.is_empty()) && had_basic {
        return Err(ctx.invalid(
            at,
            pos,
            "at most one of consul SD configuration username and password and basic auth can be configured",
        ));
    }
    if !token.is_empty() && had_auth {
        return Err(ctx.invalid(
            at,
            pos,
            "at most one of consul SD token, authorization, or oauth2 can be configured",
        ));
    }
    // Prometheus moves username and password into basic_auth before validating
    // the HTTP settings, so they conflict with authorization and oauth2 as
    // basic_auth would.
    let injected = (!username.is_empty() || !password.is_empty()).then(|| crate::http::BasicAuth {
        username: username.clone(),
        password: password.clone(),
        ..Default::default()
    });
    let http_client = convert_http_with(raw_http, (true, true), ctx, at, pos, injected)?;
    Ok(ConsulSdConfig {
        server,
        path_prefix: r.path_prefix.unwrap_or_default(),
        token,
        datacenter: r.datacenter.unwrap_or_default(),
        namespace: r.namespace.unwrap_or_default(),
        partition: r.partition.unwrap_or_default(),
        tag_separator: r.tag_separator.unwrap_or_else(|| ",".into()),
        scheme: r.scheme.unwrap_or_else(|| "http".into()),
        username,
        password,
        allow_stale: r.allow_stale.unwrap_or(true),
        refresh_interval: r.refresh_interval.unwrap_or(Duration::from_secs(30)),
        services: r.services.unwrap_or_default(),
        tags: r.tags.unwrap_or_default(),
        node_meta: r.node_meta.unwrap_or_default(),
        filter: r.filter.unwrap_or_default(),
        health_filter: r.health_filter.unwrap_or_default(),
        http_client,
    })
}

fn convert_kubernetes(
    mut r: RawKubernetesSd,
    ctx: &mut Ctx,
    at: &str,
    pos: Pos,
) -> Result<KubernetesSdConfig, ConfigError> {
    let raw_http = r.take_http();
    let Some(role) = r.role else {
        return Err(ctx.invalid(
            at,
            pos,
            "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)",
        ));
    };
    let http_client = convert_http(raw_http, (true, true), ctx, at, pos)?;
    let api_server = match &r.api_server {
        Some(u) => {
            parse_go_url(&u.value)
                .map_err(|e| ctx.invalid(&sub(at, "api_server"), Pos::of(u), e))?;
            u.value.clone()
        }
        None => String::new(),
    };
    let has_api = r.api_server.is_some();
    let kubeconfig_file = r
        .kubeconfig_file
        .as_ref()
        .filter(|k| !k.value.is_empty())
        .map(|k| ctx.file_ref(&sub(at, "kubeconfig_file"), k))
        .unwrap_or_default();
    let has_kubeconfig = !kubeconfig_file.is_empty();
    let custom_http = http_client != HttpClientConfig::default();
    let ns = r.namespaces.unwrap_or_default();
    let own_namespace = ns.own_namespace.unwrap_or(false);
    let fail = |m: &str| Err(ctx.invalid(at, pos, m));
    if has_api && has_kubeconfig {
        return fail("cannot use 'kubeconfig_file' and 'api_server' simultaneously");
    }
    if has_kubeconfig && custom_http {
        return fail(
            "cannot use a custom HTTP client configuration together with 'kubeconfig_file'",
        );
    }
    if !has_api && custom_http {
        return fail(
            "to use custom HTTP client configuration please provide the 'api_server' URL explicitly",
        );
    }
    if has_api && own_namespace {
        return fail("cannot use 'api_server' and 'namespaces.own_namespace' simultaneously");
    }
    if has_kubeconfig && own_namespace {
        return fail("cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously");
    }
    let mut selectors = Vec::new();
    let mut seen: Vec<Option<KubernetesRole>> = Vec::new();
    for (i, s) in r.selectors.unwrap_or_default().into_iter().enumerate() {
        let spos = Pos::of(&s);
        let sat = idx(&sub(at, "selectors"), i);
        let s = s.value;
        let role_name = s.role.map_or("", KubernetesRole::as_str);
        if seen.contains(&s.role) {
            return Err(ctx.invalid(&sat, spos, format!("duplicated selector role: {role_name}")));
        }
        seen.push(s.role);
        let allowed = role.allowed_selectors();
        if !s.role.is_some_and(|r| allowed.contains(&r)) {
            let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
            return Err(ctx.invalid(
                &sat,
                spos,
                format!(
                    "{} role supports only {} selectors",
                    role.as_str(),
                    names.join(", ")
                ),
            ));
        }
        let field = s.field.map(|f| (Pos::of(&f), f.value)).unwrap_or_default();
        let label = s.label.map(|l| (Pos::of(&l), l.value)).unwrap_or_default();
        crate::selector::parse_field_selector(&field.1)
            .map_err(|e| ctx.invalid(&sub(&sat, "field"), field.0, e))?;
        crate::selector::parse_label_selector(&label.1)
            .map_err(|e| ctx.invalid(&sub(&sat, "label"), label.0, e))?;
        selectors.push(KubernetesSelector {
            role: s.role.unwrap_or(role),
            label: label.1,
            field: field.1,
        });
    }
    let am = r.attach_metadata.unwrap_or_default();
    Ok(KubernetesSdConfig {
        api_server,
        role,
        kubeconfig_file,
        http_client,
        namespaces: NamespaceDiscovery {
            own_namespace,
            names: ns.names.unwrap_or_default(),
        },
        selectors,
        attach_metadata: AttachMetadata {
            node: am.node.unwrap_or(false),
            namespace: am.namespace.unwrap_or(false),
            deployment: am.deployment.unwrap_or(false),
            job: am.job.unwrap_or(false),
            cronjob: am.cronjob.unwrap_or(false),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_sd_names() {
        for ok in [
            "a.json",
            "foo/*.slow.json",
            "single/file.yml",
            "/x/y/*.YAML",
            "*.yaml",
        ] {
            assert!(valid_file_sd_name(ok), "{ok}");
        }
        for bad in ["a.txt", "a", "*/x.json", "a*b*.yml", "x.json.bak"] {
            assert!(!valid_file_sd_name(bad), "{bad}");
        }
    }
}
