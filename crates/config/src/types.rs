//! The effective configuration: every default applied, every inherited value copied
//! down from `global`, every relative path joined with the config file's directory.
//!
//! These types serialize back to YAML in Prometheus's shape (see
//! [`Config::to_yaml`](crate::Config::to_yaml)); secrets print as `<secret>`.

use crate::discovery::ServiceDiscoveryConfigs;
use crate::http::{HttpClientConfig, TlsConfig};
use crate::{ByteSize, Duration, Secret};
use ember_model::labels::{Labels, ValidationScheme};
use ember_model::relabel::{Action, RelabelConfig};
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}
fn is_zero_f64(n: &f64) -> bool {
    *n == 0.0
}
fn is_zero_size(n: &ByteSize) -> bool {
    n.0 == 0
}
fn is_zero_duration(d: &Duration) -> bool {
    d.is_zero()
}

/// The whole of `prometheus.yml`. `Config::default()` is what an empty file gives.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Config {
    /// Defaults for the other sections.
    pub global: GlobalConfig,
    /// Process tuning.
    pub runtime: RuntimeConfig,
    /// Where alerts go.
    #[serde(skip_serializing_if = "AlertingConfig::is_empty")]
    pub alerting: AlertingConfig,
    /// Rule file paths or globs, joined with the config file's directory.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rule_files: Vec<String>,
    /// Globs of files holding more `scrape_configs`, joined with the config file's
    /// directory. Loaded into [`Config::included_scrape_configs`] unless only the
    /// syntax is checked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scrape_config_files: Vec<String>,
    /// The scrape jobs written in this file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Scrape jobs from `scrape_config_files`, validated against this file's
    /// `global` section, in glob order.
    #[serde(skip)]
    pub included_scrape_configs: Vec<ScrapeConfig>,
    /// Runtime-reloadable storage settings.
    pub storage: StorageConfig,
    /// Trace export; `None` when the section is absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracing: Option<TracingConfig>,
    /// Remote write endpoints.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remote_write: Vec<RemoteWriteConfig>,
    /// Remote read endpoints.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remote_read: Vec<RemoteReadConfig>,
    /// The OTLP receiver.
    pub otlp: OtlpConfig,
}

impl Config {
    /// The effective configuration as YAML, in Prometheus's shape, for
    /// `/api/v1/status/config`. Secrets print as `<secret>`, passwords in URLs as
    /// `xxxxx`.
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self)
            .unwrap_or_else(|e| format!("<error creating config string: {e}>"))
    }

    /// Every scrape job: this file's, then those from `scrape_config_files`.
    pub fn all_scrape_configs(&self) -> impl Iterator<Item = &ScrapeConfig> {
        self.scrape_configs
            .iter()
            .chain(self.included_scrape_configs.iter())
    }
}

/// A protocol offered to targets in the `Accept` header, most preferred first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScrapeProtocol {
    /// Protobuf, the only format that carries native histograms.
    PrometheusProto,
    /// The classic text format.
    PrometheusText0_0_4,
    /// The text format with UTF-8 names.
    PrometheusText1_0_0,
    /// OpenMetrics 0.0.1.
    OpenMetricsText0_0_1,
    /// OpenMetrics 1.0.0.
    OpenMetricsText1_0_0,
}

impl ScrapeProtocol {
    /// All protocols, in the sorted order Prometheus lists them in errors.
    pub const ALL: [ScrapeProtocol; 5] = [
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::PrometheusProto,
        ScrapeProtocol::PrometheusText0_0_4,
        ScrapeProtocol::PrometheusText1_0_0,
    ];

    /// Offered when native histograms are not scraped.
    pub const DEFAULT: [ScrapeProtocol; 4] = [
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::PrometheusText1_0_0,
        ScrapeProtocol::PrometheusText0_0_4,
    ];

    /// Offered when native histograms are scraped: protobuf first.
    pub const PROTO_FIRST: [ScrapeProtocol; 5] = [
        ScrapeProtocol::PrometheusProto,
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::PrometheusText1_0_0,
        ScrapeProtocol::PrometheusText0_0_4,
    ];

    /// The name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => "PrometheusProto",
            ScrapeProtocol::PrometheusText0_0_4 => "PrometheusText0.0.4",
            ScrapeProtocol::PrometheusText1_0_0 => "PrometheusText1.0.0",
            ScrapeProtocol::OpenMetricsText0_0_1 => "OpenMetricsText0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "OpenMetricsText1.0.0",
        }
    }

    /// The media type with parameters, as sent in `Accept`.
    pub fn header(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => {
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
            }
            ScrapeProtocol::PrometheusText0_0_4 => "text/plain;version=0.0.4",
            ScrapeProtocol::PrometheusText1_0_0 => "text/plain;version=1.0.0",
            ScrapeProtocol::OpenMetricsText0_0_1 => "application/openmetrics-text;version=0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "application/openmetrics-text;version=1.0.0",
        }
    }

    /// Exact, case-sensitive match, as Prometheus requires.
    pub fn from_name(s: &str) -> Option<ScrapeProtocol> {
        ScrapeProtocol::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl Serialize for ScrapeProtocol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// How metric and label names that are not legacy-valid are asked to be escaped
/// by targets (the `escaping` parameter of the `Accept` header).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EscapingScheme {
    /// `allow-utf-8`: no escaping.
    AllowUtf8,
    /// `underscores`.
    Underscores,
    /// `dots`.
    Dots,
    /// `values`.
    Values,
}

impl EscapingScheme {
    /// The name used in configuration files and headers.
    pub fn as_str(self) -> &'static str {
        match self {
            EscapingScheme::AllowUtf8 => "allow-utf-8",
            EscapingScheme::Underscores => "underscores",
            EscapingScheme::Dots => "dots",
            EscapingScheme::Values => "values",
        }
    }

    pub(crate) fn from_name(s: &str) -> Option<EscapingScheme> {
        [
            EscapingScheme::AllowUtf8,
            EscapingScheme::Underscores,
            EscapingScheme::Dots,
            EscapingScheme::Values,
        ]
        .into_iter()
        .find(|e| e.as_str() == s)
    }
}

impl Serialize for EscapingScheme {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

pub(crate) fn ser_scheme<S: Serializer>(v: &ValidationScheme, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match v {
        ValidationScheme::Utf8 => "utf8",
        ValidationScheme::Legacy => "legacy",
    })
}

fn ser_labels<S: Serializer>(l: &Labels, s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(l.iter().map(|l| (&l.name, &l.value)))
}

/// Relabel rules print with every field, as Prometheus's do.
pub(crate) fn ser_relabel<S: Serializer>(v: &[RelabelConfig], s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Out<'a> {
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        source_labels: &'a [String],
        separator: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        regex: Option<&'a str>,
        #[serde(skip_serializing_if = "is_zero_u64")]
        modulus: u64,
        #[serde(skip_serializing_if = "str::is_empty")]
        target_label: &'a str,
        replacement: &'a str,
        action: &'a str,
    }
    s.collect_seq(v.iter().map(|r| Out {
        source_labels: &r.source_labels,
        separator: &r.separator,
        // Prometheus prints the default `(.*)`, but for keepequal and dropequal
        // any regex counts as set and fails to load again, so it is left out there.
        regex: match (&r.regex, r.action) {
            (None, Action::KeepEqual | Action::DropEqual) => None,
            _ => Some(r.regex().as_str()),
        },
        modulus: r.modulus,
        target_label: &r.target_label,
        replacement: &r.replacement,
        action: r.action.as_str(),
    }))
}

/// `global`: defaults for scrape jobs and rule evaluation, and external labels.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GlobalConfig {
    /// Default scrape interval (1m).
    pub scrape_interval: Duration,
    /// Default scrape timeout (10s, capped at the interval).
    pub scrape_timeout: Duration,
    /// Protocols offered to targets; `None` means jobs pick by whether they scrape
    /// native histograms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape_protocols: Option<Vec<ScrapeProtocol>>,
    /// Default rule evaluation interval (1m).
    pub evaluation_interval: Duration,
    /// Default offset of rule evaluation timestamps into the past.
    #[serde(skip_serializing_if = "is_zero_duration")]
    pub rule_query_offset: Duration,
    /// Where PromQL queries are logged; empty for nowhere.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub query_log_file: String,
    /// Where scrape failures are logged; empty for nowhere.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scrape_failure_log_file: String,
    /// Labels added to series and alerts leaving this server, after `$VAR` and
    /// `${VAR}` expansion from the environment.
    #[serde(
        skip_serializing_if = "Labels::is_empty",
        serialize_with = "ser_labels"
    )]
    pub external_labels: Labels,
    /// Largest uncompressed scrape body; 0 for no limit.
    #[serde(skip_serializing_if = "is_zero_size")]
    pub body_size_limit: ByteSize,
    /// Most samples per scrape after metric relabeling; 0 for no limit.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub sample_limit: u64,
    /// Most targets per job after target relabeling; 0 for no limit.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub target_limit: u64,
    /// Most labels per series; 0 for no limit.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub label_limit: u64,
    /// Longest label name; 0 for no limit.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub label_name_length_limit: u64,
    /// Longest label value; 0 for no limit.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub label_value_length_limit: u64,
    /// Most dropped targets kept per job for the UI; 0 for no limit.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub keep_dropped_targets: u64,
    /// Which metric and label names are valid (UTF-8 unless `legacy`).
    #[serde(serialize_with = "ser_scheme")]
    pub metric_name_validation_scheme: ValidationScheme,
    /// Escaping asked of targets; `None` to infer from the validation scheme.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_name_escaping_scheme: Option<EscapingScheme>,
    /// Whether to scrape native histograms.
    pub scrape_native_histograms: bool,
    /// Whether to convert classic histograms to native histograms with custom buckets.
    #[serde(skip_serializing_if = "is_false")]
    pub convert_classic_histograms_to_nhcb: bool,
    /// Whether to keep a classic histogram also exposed as a native one.
    #[serde(skip_serializing_if = "is_false")]
    pub always_scrape_classic_histograms: bool,
    /// Whether to store `scrape_timeout_seconds`, `scrape_sample_limit` and
    /// `scrape_body_size_bytes`.
    pub extra_scrape_metrics: bool,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: Duration::from_secs(60),
            scrape_timeout: Duration::from_secs(10),
            scrape_protocols: None,
            evaluation_interval: Duration::from_secs(60),
            rule_query_offset: Duration::ZERO,
            query_log_file: String::new(),
            scrape_failure_log_file: String::new(),
            external_labels: Labels::empty(),
            body_size_limit: ByteSize(0),
            sample_limit: 0,
            target_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            keep_dropped_targets: 0,
            metric_name_validation_scheme: ValidationScheme::Utf8,
            metric_name_escaping_scheme: None,
            scrape_native_histograms: false,
            convert_classic_histograms_to_nhcb: false,
            always_scrape_classic_histograms: false,
            extra_scrape_metrics: false,
        }
    }
}

/// `runtime`: process tuning.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuntimeConfig {
    /// Go's GC target percentage; accepted for compatibility (default 75), unused by
    /// Ember.
    pub gogc: i64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig { gogc: 75 }
    }
}

/// One entry of `scrape_configs`, with `global`'s values filled in.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScrapeConfig {
    /// The job name, also the default `job` label.
    pub job_name: String,
    /// Keep the target's labels on conflict instead of renaming them `exported_*`.
    #[serde(skip_serializing_if = "is_false")]
    pub honor_labels: bool,
    /// Use timestamps the target exposes (default true).
    pub honor_timestamps: bool,
    /// Mark series with explicit timestamps stale when they disappear.
    pub track_timestamps_staleness: bool,
    /// Query parameters added to the scrape URL.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Vec<String>>,
    /// How often to scrape.
    pub scrape_interval: Duration,
    /// Scrape deadline, never above the interval.
    pub scrape_timeout: Duration,
    /// Protocols offered, most preferred first.
    pub scrape_protocols: Vec<ScrapeProtocol>,
    /// Format assumed when the target's `Content-Type` is missing or unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_scrape_protocol: Option<ScrapeProtocol>,
    /// Whether to scrape native histograms.
    pub scrape_native_histograms: bool,
    /// Whether to keep classic histograms also exposed as native ones.
    pub always_scrape_classic_histograms: bool,
    /// Whether to convert classic histograms to native ones with custom buckets.
    pub convert_classic_histograms_to_nhcb: bool,
    /// Where this job's scrape failures are logged; empty for nowhere.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scrape_failure_log_file: String,
    /// HTTP path of the metrics (default `/metrics`).
    pub metrics_path: String,
    /// `http` or `https` (default `http`).
    pub scheme: String,
    /// Ask targets for compressed responses (default true).
    pub enable_compression: bool,
    /// Largest uncompressed body; 0 for no limit.
    #[serde(skip_serializing_if = "is_zero_size")]
    pub body_size_limit: ByteSize,
    /// Most samples per scrape; 0 for no limit.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub sample_limit: u64,
    /// Most targets; 0 for no limit.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub target_limit: u64,
    /// Most labels per series; 0 for no limit.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub label_limit: u64,
    /// Longest label name; 0 for no limit.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub label_name_length_limit: u64,
    /// Longest label value; 0 for no limit.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub label_value_length_limit: u64,
    /// Most buckets per native histogram before buckets are merged; 0 for no limit.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub native_histogram_bucket_limit: u64,
    /// Smallest growth factor between native histogram buckets before merging.
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub native_histogram_min_bucket_factor: f64,
    /// Most dropped targets kept for the UI; 0 for no limit.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub keep_dropped_targets: u64,
    /// Which names are valid for this job.
    #[serde(serialize_with = "ser_scheme")]
    pub metric_name_validation_scheme: ValidationScheme,
    /// Escaping asked of targets.
    pub metric_name_escaping_scheme: EscapingScheme,
    /// Whether to store the extra scrape metrics.
    pub extra_scrape_metrics: bool,
    /// How to reach the targets.
    #[serde(flatten)]
    pub http_client: HttpClientConfig,
    /// Where the targets come from.
    #[serde(flatten)]
    pub service_discovery: ServiceDiscoveryConfigs,
    /// Rules applied to targets before scraping.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ser_relabel")]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Rules applied to scraped series before ingestion.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ser_relabel")]
    pub metric_relabel_configs: Vec<RelabelConfig>,
}

/// `alerting`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AlertingConfig {
    /// Rules applied to every alert before it is sent.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ser_relabel")]
    pub alert_relabel_configs: Vec<RelabelConfig>,
    /// The Alertmanagers to send to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alertmanagers: Vec<AlertmanagerConfig>,
}

impl AlertingConfig {
    fn is_empty(&self) -> bool {
        self.alert_relabel_configs.is_empty() && self.alertmanagers.is_empty()
    }
}

/// One entry of `alerting.alertmanagers`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlertmanagerConfig {
    /// How to reach the Alertmanagers.
    #[serde(flatten)]
    pub http_client: HttpClientConfig,
    /// Where the Alertmanagers come from.
    #[serde(flatten)]
    pub service_discovery: ServiceDiscoveryConfigs,
    /// `http` or `https`.
    pub scheme: String,
    /// Prefix of the push path.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path_prefix: String,
    /// Deadline for sending alerts (default 10s).
    pub timeout: Duration,
    /// Alertmanager API version; only `v2` is accepted.
    pub api_version: String,
    /// Rules applied to discovered Alertmanagers.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ser_relabel")]
    pub relabel_configs: Vec<RelabelConfig>,
    /// Rules applied to alerts sent to these Alertmanagers.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ser_relabel")]
    pub alert_relabel_configs: Vec<RelabelConfig>,
    /// AWS Signature Version 4 for the requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigv4: Option<SigV4Config>,
}

/// A `sigv4` block (`remote_write`, `alertmanager_config`): sign requests with AWS
/// Signature Version 4. Empty fields fall back to the AWS environment.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SigV4Config {
    /// The AWS region.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub region: String,
    /// The access key id.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub access_key: String,
    /// The secret access key.
    #[serde(skip_serializing_if = "Secret::is_empty")]
    pub secret_key: Secret,
    /// A profile of the shared credentials file.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub profile: String,
    /// A role to assume (refused: not supported by Ember).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub role_arn: String,
    /// The external id for `role_arn`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub external_id: String,
    /// Use the FIPS STS endpoint (for `role_arn`).
    #[serde(skip_serializing_if = "is_false")]
    pub use_fips_sts_endpoint: bool,
}

/// The remote write protocol message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RemoteWriteMessage {
    /// Remote write 1.0, `prometheus.WriteRequest`.
    V1,
    /// Remote write 2.0, `io.prometheus.write.v2.Request`.
    V2,
}

impl RemoteWriteMessage {
    /// The name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            RemoteWriteMessage::V1 => "prometheus.WriteRequest",
            RemoteWriteMessage::V2 => "io.prometheus.write.v2.Request",
        }
    }
}

impl Serialize for RemoteWriteMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One entry of `remote_write`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RemoteWriteConfig {
    /// Endpoint URL; a password in it prints as `xxxxx`.
    #[serde(serialize_with = "crate::http::ser_url")]
    pub url: String,
    /// Request deadline (default 30s).
    pub remote_timeout: Duration,
    /// Extra request headers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Rules applied to series before sending.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ser_relabel")]
    pub write_relabel_configs: Vec<RelabelConfig>,
    /// Name used in metrics and logs; unique when set.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Send exemplars.
    #[serde(skip_serializing_if = "is_false")]
    pub send_exemplars: bool,
    /// Send native histograms.
    #[serde(skip_serializing_if = "is_false")]
    pub send_native_histograms: bool,
    /// Spread connections over the endpoint's DNS addresses.
    #[serde(skip_serializing_if = "is_false")]
    pub round_robin_dns: bool,
    /// Protocol message.
    pub protobuf_message: RemoteWriteMessage,
    /// Log failed 2.0 requests at debug level.
    #[serde(skip_serializing_if = "is_false")]
    pub failed_request_logging: bool,
    /// How to reach the endpoint (HTTP/2 off by default here).
    #[serde(flatten)]
    pub http_client: HttpClientConfig,
    /// Sharding and retries.
    pub queue_config: QueueConfig,
    /// Metadata sending.
    pub metadata_config: MetadataConfig,
    /// AWS Signature Version 4 for the requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigv4: Option<SigV4Config>,
}

/// `remote_write[].queue_config`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueConfig {
    /// Samples buffered per shard (default 10000).
    pub capacity: i64,
    /// Most shards (default 50).
    pub max_shards: i64,
    /// Fewest shards (default 1).
    pub min_shards: i64,
    /// Samples per request (default 2000).
    pub max_samples_per_send: i64,
    /// Longest wait before sending a partial batch (default 5s).
    pub batch_send_deadline: Duration,
    /// First retry delay (default 30ms).
    pub min_backoff: Duration,
    /// Longest retry delay (default 5s).
    pub max_backoff: Duration,
    /// Retry on HTTP 429.
    #[serde(skip_serializing_if = "is_false")]
    pub retry_on_http_429: bool,
    /// Drop samples older than this; zero for never.
    #[serde(skip_serializing_if = "is_zero_duration")]
    pub sample_age_limit: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 10_000,
            max_shards: 50,
            min_shards: 1,
            max_samples_per_send: 2000,
            batch_send_deadline: Duration::from_secs(5),
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
            retry_on_http_429: false,
            sample_age_limit: Duration::ZERO,
        }
    }
}

/// `remote_write[].metadata_config`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetadataConfig {
    /// Send metric metadata (default true).
    pub send: bool,
    /// How often (default 1m).
    pub send_interval: Duration,
    /// Entries per request (default 2000).
    pub max_samples_per_send: i64,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        MetadataConfig {
            send: true,
            send_interval: Duration::from_secs(60),
            max_samples_per_send: 2000,
        }
    }
}

/// One entry of `remote_read`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RemoteReadConfig {
    /// Endpoint URL; a password in it prints as `xxxxx`.
    #[serde(serialize_with = "crate::http::ser_url")]
    pub url: String,
    /// Request deadline (default 1m).
    pub remote_timeout: Duration,
    /// Largest streamed frame in bytes (default 50 MB).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub chunked_read_limit: u64,
    /// Extra request headers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Also read time ranges the local storage has complete data for.
    #[serde(skip_serializing_if = "is_false")]
    pub read_recent: bool,
    /// Name used in metrics and logs; unique when set.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// How to reach the endpoint.
    #[serde(flatten)]
    pub http_client: HttpClientConfig,
    /// Equality matchers a query must contain to be sent here.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub required_matchers: BTreeMap<String, String>,
    /// Add external labels as matchers (default true).
    #[serde(skip_serializing_if = "is_false")]
    pub filter_external_labels: bool,
}

/// `storage`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StorageConfig {
    /// TSDB settings.
    pub tsdb: TsdbConfig,
    /// Exemplar storage; `None` when the section is absent (flags decide).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exemplars: Option<ExemplarsConfig>,
}

/// `storage.tsdb`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TsdbConfig {
    /// How far back out-of-order samples are accepted; zero disables.
    #[serde(skip_serializing_if = "is_zero_duration")]
    pub out_of_order_time_window: Duration,
    /// Share of stale series in the head that triggers their compaction (0..1).
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub stale_series_compaction_threshold: f64,
    /// Chunk encoding overrides.
    pub chunk_encoding: ChunkEncodingConfig,
    /// Retention overrides; zero values leave the flags in charge.
    pub retention: RetentionConfig,
}

/// `storage.tsdb.chunk_encoding`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ChunkEncodingConfig {
    /// `xor` or `xor2`; `None` follows the feature flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floats: Option<String>,
}

/// `storage.tsdb.retention`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RetentionConfig {
    /// Keep blocks this long; zero for the flag's value.
    #[serde(skip_serializing_if = "is_zero_duration")]
    pub time: Duration,
    /// Keep at most this many bytes of blocks; zero for the flag's value.
    #[serde(skip_serializing_if = "is_zero_size")]
    pub size: ByteSize,
    /// Keep at most this share of the disk, 0..100; zero for the flag's value.
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub percentage: f64,
}

/// `storage.exemplars`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ExemplarsConfig {
    /// Size of the exemplar ring buffer; 0 or less disables exemplar storage.
    pub max_exemplars: i64,
}

/// How OTLP metric and attribute names become Prometheus names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TranslationStrategy {
    /// Escape to legacy names, add unit and type suffixes (the default).
    UnderscoreEscapingWithSuffixes,
    /// Escape to legacy names, no suffixes.
    UnderscoreEscapingWithoutSuffixes,
    /// Keep UTF-8 names, add suffixes.
    NoUtf8EscapingWithSuffixes,
    /// Keep names as they are.
    NoTranslation,
}

impl TranslationStrategy {
    /// The name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            TranslationStrategy::UnderscoreEscapingWithSuffixes => "UnderscoreEscapingWithSuffixes",
            TranslationStrategy::UnderscoreEscapingWithoutSuffixes => {
                "UnderscoreEscapingWithoutSuffixes"
            }
            TranslationStrategy::NoUtf8EscapingWithSuffixes => "NoUTF8EscapingWithSuffixes",
            TranslationStrategy::NoTranslation => "NoTranslation",
        }
    }

    pub(crate) fn from_name(s: &str) -> Option<TranslationStrategy> {
        [
            TranslationStrategy::UnderscoreEscapingWithSuffixes,
            TranslationStrategy::UnderscoreEscapingWithoutSuffixes,
            TranslationStrategy::NoUtf8EscapingWithSuffixes,
            TranslationStrategy::NoTranslation,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

impl Serialize for TranslationStrategy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// `otlp`: the OTLP receiver's translation settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OtlpConfig {
    /// Promote every resource attribute to a label.
    #[serde(skip_serializing_if = "is_false")]
    pub promote_all_resource_attributes: bool,
    /// Resource attributes promoted to labels (trimmed, unique).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub promote_resource_attributes: Vec<String>,
    /// With `promote_all_resource_attributes`, the ones not promoted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignore_resource_attributes: Vec<String>,
    /// Name translation.
    pub translation_strategy: TranslationStrategy,
    /// Keep `service.name` and friends on `target_info`.
    #[serde(skip_serializing_if = "is_false")]
    pub keep_identifying_resource_attributes: bool,
    /// Convert explicit-bucket histograms to native histograms with custom buckets.
    #[serde(skip_serializing_if = "is_false")]
    pub convert_histograms_to_nhcb: bool,
    /// Promote scope name, version and attributes to labels.
    #[serde(skip_serializing_if = "is_false")]
    pub promote_scope_metadata: bool,
    /// Prefix `key_` to label names starting with one `_` (default true).
    pub label_name_underscore_sanitization: bool,
    /// Keep runs of underscores in label names (default true).
    pub label_name_preserve_multiple_underscores: bool,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            promote_all_resource_attributes: false,
            promote_resource_attributes: Vec::new(),
            ignore_resource_attributes: Vec::new(),
            translation_strategy: TranslationStrategy::UnderscoreEscapingWithSuffixes,
            keep_identifying_resource_attributes: false,
            convert_histograms_to_nhcb: false,
            promote_scope_metadata: false,
            label_name_underscore_sanitization: true,
            label_name_preserve_multiple_underscores: true,
        }
    }
}

/// The OTLP trace exporter's transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TracingClientType {
    /// gRPC (the default).
    Grpc,
    /// HTTP.
    Http,
}

impl Serialize for TracingClientType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            TracingClientType::Grpc => "grpc",
            TracingClientType::Http => "http",
        })
    }
}

/// `tracing`: export of Ember's own traces.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TracingConfig {
    /// Transport.
    pub client_type: TracingClientType,
    /// Collector address.
    pub endpoint: String,
    /// Share of traces sampled.
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub sampling_fraction: f64,
    /// Send without TLS.
    #[serde(skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// TLS settings.
    pub tls_config: TlsConfig,
    /// Extra headers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Empty or `gzip`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub compression: String,
    /// Export deadline; zero for the exporter's default.
    #[serde(skip_serializing_if = "is_zero_duration")]
    pub timeout: Duration,
}
