//! `prometheus.yml`: Ember's server configuration, read exactly as Prometheus 3.x
//! reads it.
//!
//! [`load_file`] and [`load_str`] turn a document into a [`Config`] that holds the
//! *effective* configuration: Prometheus's defaults applied, `global` values copied
//! down into each scrape job (with the same `scrape_timeout = min(global timeout,
//! interval)` rule), relative paths joined with the config file's directory, and
//! `$VAR` expanded in external labels. Everything is validated the way Prometheus
//! validates it, with its messages, so that a file Prometheus rejects is rejected here
//! with the same words, and a file it accepts loads. Errors also carry what
//! Prometheus's do not: the line, column and field path of the problem
//! (`conf.yml:12:5: scrape_configs[0].scrape_timeout: scrape timeout greater than
//! scrape interval for scrape config with job name "x"`).
//!
//! Parsing is strict (unknown fields and duplicate keys are errors, as with Go's
//! `yaml.UnmarshalStrict`) and goes through private "raw" structs that keep source
//! locations (`serde_saphyr::Spanned`); the public types are plain data. The HTTP
//! client settings that Prometheus inlines in many sections are written out in each
//! raw struct by a macro rather than with `#[serde(flatten)]`, which would lose both
//! locations and strictness.
//!
//! Relabel rules are `ember_model::relabel::RelabelConfig`s, validated by the model
//! crate under the job's name validation scheme. Service discovery covers what Ember
//! implements (static, file, HTTP, DNS, Consul, Kubernetes); any other
//! `*_sd_configs` key Prometheus knows is rejected with a located "not supported by
//! Ember" error rather than silently ignored. Credentials are [`Secret`]s, which
//! print as `<secret>` everywhere, including in [`Config::to_yaml`], the text behind
//! `/api/v1/status/config`.
//!
//! With [`LoadOptions::syntax_only`] unset (the default) the files a config points
//! to are checked too: named rule files must exist, and every `*_file` (passwords,
//! tokens, certificates) must be readable. `scrape_config_files` are loaded either
//! way, since their jobs are part of the configuration.
//! That is what `promtool check config` does without `--syntax-only`.

mod discovery;
mod duration;
mod error;
mod http;
mod load;
mod relabel;
mod scrape;
mod secret;
mod sections;
mod selector;
mod size;
#[cfg(test)]
mod tests;
mod types;
mod yaml;

pub use discovery::{
    AttachMetadata, ConsulSdConfig, DnsRecordType, DnsSdConfig, FileSdConfig, HttpSdConfig,
    KubernetesRole, KubernetesSdConfig, KubernetesSelector, NamespaceDiscovery,
    ServiceDiscoveryConfigs, TargetGroup,
};
pub use duration::Duration;
pub use error::ConfigError;
pub use http::{
    Authorization, BasicAuth, HttpClientConfig, HttpHeader, OAuth2, ProxyConfig, TlsConfig,
    TlsVersion,
};
pub use secret::Secret;
pub use size::ByteSize;
pub use types::{
    AlertingConfig, AlertmanagerConfig, ChunkEncodingConfig, Config, EscapingScheme,
    ExemplarsConfig, GlobalConfig, MetadataConfig, OtlpConfig, QueueConfig, RemoteReadConfig,
    RemoteWriteConfig, RemoteWriteMessage, RetentionConfig, RuntimeConfig, ScrapeConfig,
    ScrapeProtocol, SigV4Config, StorageConfig, TracingClientType, TracingConfig,
    TranslationStrategy, TsdbConfig,
};
pub use yaml::{YamlNode, YamlValue, is_blank_document, strict_options};

use std::path::Path;

/// How thoroughly to check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Check only the configuration itself (the file and its `scrape_config_files`):
    /// do not look at rule files and `*_file` references (`promtool check config
    /// --syntax-only`, except that promtool also skips `scrape_config_files`).
    pub syntax_only: bool,
    /// Reject what the agent does not run: `alerting`, `rule_files`, `remote_read`.
    pub agent_mode: bool,
}

/// The configuration `ember` runs with when given none: Ember scraping itself and a
/// node exporter on this host, every 15 seconds.
pub const DEFAULT_CONFIG_YAML: &str = r#"# Ember's built-in configuration, used when no configuration file is given.
global:
  scrape_interval: 15s
  evaluation_interval: 15s

alerting:
  alertmanagers:
    - static_configs:
        - targets: ["localhost:9093"]

scrape_configs:
  - job_name: ember
    static_configs:
      - targets: ["localhost:9090"]

  - job_name: node
    static_configs:
      - targets: ["localhost:9100"]

  - job_name: pushgateway
    honor_labels: true
    static_configs:
      - targets: ["localhost:9091"]
"#;

/// Reads and loads a configuration file.
pub fn load_file(path: &Path, opts: &LoadOptions) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        field: String::new(),
        path: path.to_path_buf(),
        source,
    })?;
    load_str(&text, path, opts)
}

/// Loads a configuration document. `file_name` is used in errors and, for relative
/// paths inside the document, as if the text had been read from it.
pub fn load_str(text: &str, file_name: &Path, opts: &LoadOptions) -> Result<Config, ConfigError> {
    load::load(text, file_name, opts)
}
