//! Behaviour of the whole loader: defaults, inheritance, secrets, error locations,
//! the full (file-reading) check.

use crate::*;
use std::path::{Path, PathBuf};

const SYNTAX: LoadOptions = LoadOptions {
    syntax_only: true,
    agent_mode: false,
};

fn load(text: &str) -> Result<Config, ConfigError> {
    load_str(text, Path::new("conf.yml"), &SYNTAX)
}

fn ok(text: &str) -> Config {
    load(text).unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str) -> ConfigError {
    match load(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

/// A scratch directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "ember-config-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn empty_file_is_the_default() {
    assert_eq!(ok(""), Config::default());
    assert_eq!(ok("# nothing here\n\n"), Config::default());
    assert_eq!(ok("global:\n"), Config::default());
    assert_eq!(ok("global: {}\nruntime: {}\n"), Config::default());
    let d = Config::default();
    assert_eq!(d.global.scrape_interval, Duration::from_secs(60));
    assert_eq!(d.global.scrape_timeout, Duration::from_secs(10));
    assert_eq!(d.global.evaluation_interval, Duration::from_secs(60));
    assert_eq!(d.runtime.gogc, 75);
    assert_eq!(
        d.otlp.translation_strategy,
        TranslationStrategy::UnderscoreEscapingWithSuffixes
    );
    assert!(d.storage.exemplars.is_none());
    assert!(d.tracing.is_none());
}

#[test]
fn default_config_constant_loads() {
    let c = ok(DEFAULT_CONFIG_YAML);
    assert_eq!(c.global.scrape_interval, Duration::from_secs(15));
    assert_eq!(c.global.evaluation_interval, Duration::from_secs(15));
    let jobs: Vec<_> = c
        .scrape_configs
        .iter()
        .map(|s| {
            (
                s.job_name.as_str(),
                s.service_discovery.static_configs[0].targets[0].as_str(),
            )
        })
        .collect();
    assert_eq!(
        jobs,
        [
            ("ember", "localhost:9090"),
            ("node", "localhost:9100"),
            ("pushgateway", "localhost:9091")
        ]
    );
    // Pushed job and instance labels are kept, as the Pushgateway's docs require.
    assert!(c.scrape_configs[2].honor_labels);
    // Alerts go to the all-in-one's Alertmanager.
    assert_eq!(
        c.alerting.alertmanagers[0].service_discovery.static_configs[0].targets,
        ["localhost:9093"]
    );
    assert_eq!(c.scrape_configs[0].scrape_interval, Duration::from_secs(15));
    assert_eq!(c.scrape_configs[0].scrape_timeout, Duration::from_secs(10));
    // The full check has nothing to read and so passes too.
    load_str(
        DEFAULT_CONFIG_YAML,
        Path::new("x.yml"),
        &LoadOptions::default(),
    )
    .expect("full");
}

#[test]
fn jobs_inherit_from_global() {
    let c = ok(r#"
global:
  scrape_interval: 30s
  body_size_limit: 10MB
  sample_limit: 100
  label_limit: 7
  scrape_failure_log_file: fail.log
  scrape_native_histograms: true
  extra_scrape_metrics: true
scrape_configs:
  - job_name: a
  - job_name: b
    scrape_interval: 5s
    sample_limit: 0
    label_limit: 9
    scrape_native_histograms: false
  - job_name: c
    scrape_interval: 1m
    scrape_timeout: 20s
    honor_timestamps: false
    scrape_protocols: [PrometheusText0.0.4]
"#);
    let [a, b, cc] = &c.scrape_configs[..] else {
        panic!("three jobs")
    };
    assert_eq!(a.scrape_interval, Duration::from_secs(30));
    assert_eq!(a.scrape_timeout, Duration::from_secs(10));
    assert_eq!(a.body_size_limit, ByteSize(10 << 20));
    assert_eq!(a.sample_limit, 100);
    assert_eq!(a.label_limit, 7);
    assert_eq!(a.scrape_failure_log_file, "fail.log");
    assert!(a.scrape_native_histograms && a.extra_scrape_metrics);
    assert_eq!(a.scrape_protocols, ScrapeProtocol::PROTO_FIRST);
    assert!(a.honor_timestamps && a.enable_compression);
    assert_eq!(
        (a.metrics_path.as_str(), a.scheme.as_str()),
        ("/metrics", "http")
    );
    // Timeout is capped at the job's own interval.
    assert_eq!(b.scrape_timeout, Duration::from_secs(5));
    // 0 means "inherit", as in Prometheus.
    assert_eq!(b.sample_limit, 100);
    assert_eq!(b.label_limit, 9);
    assert_eq!(b.scrape_protocols, ScrapeProtocol::DEFAULT);
    assert_eq!(cc.scrape_timeout, Duration::from_secs(20));
    assert!(!cc.honor_timestamps);
    assert_eq!(cc.scrape_protocols, [ScrapeProtocol::PrometheusText0_0_4]);

    let c = ok("global:\n  scrape_interval: 5s\n");
    assert_eq!(c.global.scrape_timeout, Duration::from_secs(5));
    let c = ok(
        "global:\n  scrape_interval: 1m\n  scrape_timeout: 20s\nscrape_configs:\n  - job_name: x\n    scrape_interval: 15s\n",
    );
    assert_eq!(c.scrape_configs[0].scrape_timeout, Duration::from_secs(15));
}

#[test]
fn timeout_above_interval_is_located() {
    let e =
        err("scrape_configs:\n  - job_name: x\n    scrape_interval: 5s\n    scrape_timeout: 10s\n");
    assert_eq!(
        e.to_string(),
        r#"conf.yml:4:21: scrape_configs[0].scrape_timeout: scrape timeout greater than scrape interval for scrape config with job name "x""#
    );
    assert_eq!((e.line(), e.column()), (Some(4), Some(21)));
    assert_eq!(e.field(), Some("scrape_configs[0].scrape_timeout"));
    assert_eq!(e.file(), Path::new("conf.yml"));
    let e = err("global:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n");
    assert_eq!(
        e.message(),
        "global scrape timeout greater than scrape interval"
    );
    assert_eq!(e.line(), Some(3));
}

#[test]
fn syntax_errors_are_located() {
    let e = err("scrape_configs:\n  - job_name: x\n    scrape_intervall: 5s\n");
    assert!(matches!(e, ConfigError::Syntax { .. }));
    assert_eq!(
        e.to_string(),
        "conf.yml:3:5: scrape_configs[0].scrape_intervall: field scrape_intervall not found in type config.plain"
    );
    let e = err("global:\n  scrape_interval: 5s\n  scrape_interval: 6s\n");
    assert_eq!(e.line(), Some(3));
    assert!(e.message().contains("already set"), "{e}");
    let e = err("global:\n  scrape_interval: 5\n");
    assert_eq!(
        e.to_string(),
        r#"conf.yml:2:20: global.scrape_interval: not a valid duration string: "5""#
    );
    let e = err("scrape_configs:\n  - job_name: x\n    sample_limit: lots\n");
    assert_eq!(e.field(), Some("scrape_configs[0].sample_limit"));
    assert!(e.message().contains("cannot unmarshal"), "{e}");
    let e = err("scrape_configs: {a: 1}\n");
    assert_eq!(e.field(), Some("scrape_configs"));
    let e = err("global: [\n");
    assert!(e.line().is_some(), "{e}");
}

#[test]
fn unsupported_discovery_is_named_and_located() {
    let e =
        err("scrape_configs:\n  - job_name: x\n    ec2_sd_configs:\n      - region: us-east-1\n");
    assert!(matches!(e, ConfigError::Unsupported { .. }));
    assert_eq!(
        e.to_string(),
        "conf.yml:3:5: scrape_configs[0].ec2_sd_configs: ec2_sd_configs is not supported by Ember"
    );
    let e = err("alerting:\n  alertmanagers:\n    - gce_sd_configs: []\n");
    assert!(
        e.to_string()
            .contains("gce_sd_configs is not supported by Ember"),
        "{e}"
    );
    // Outside a scrape job or Alertmanager set it is just an unknown field.
    let e = err("global:\n  ec2_sd_configs: []\n");
    assert!(matches!(e, ConfigError::Syntax { .. }), "{e}");
    let e = err("remote_write:\n  - url: http://x/\n    azuread: {cloud: AzurePublic}\n");
    assert!(
        e.to_string().contains("azuread is not supported by Ember"),
        "{e}"
    );
}

#[test]
fn sigv4_blocks() {
    let c = ok(
        "remote_write:\n  - url: http://x/\n    sigv4: {region: eu-west-1, access_key: AK, secret_key: SK}\nalerting:\n  alertmanagers:\n    - sigv4: {}\n      static_configs: [{targets: ['am:9093']}]\n",
    );
    let s = c.remote_write[0].sigv4.as_ref().expect("sigv4");
    assert_eq!(
        (
            s.region.as_str(),
            s.access_key.as_str(),
            s.secret_key.expose()
        ),
        ("eu-west-1", "AK", "SK")
    );
    assert_eq!(
        c.alerting.alertmanagers[0].sigv4,
        Some(crate::SigV4Config::default())
    );
    assert!(!c.to_yaml().contains("SK"), "the secret key never prints");
    for (yaml, want) in [
        (
            "remote_write:\n  - url: http://x/\n    sigv4: {access_key: AK}\n",
            "remote_write[0].sigv4: must provide a AWS SigV4 Access key and Secret Key if credentials are provided in the SigV4 config",
        ),
        (
            "remote_write:\n  - url: http://x/\n    sigv4: {external_id: x}\n",
            "external_id can only be used with role_arn",
        ),
        (
            "remote_write:\n  - url: http://x/\n    sigv4: {role_arn: 'arn:aws:iam::1:role/r'}\n",
            "remote_write[0].sigv4.role_arn: sigv4.role_arn is not supported by Ember",
        ),
        (
            "remote_write:\n  - url: http://x/\n    sigv4: {}\n    basic_auth: {username: u}\n",
            "at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam must be configured. Currently configured: [basic_auth sigv4]",
        ),
        (
            "alerting:\n  alertmanagers:\n    - sigv4: {}\n      bearer_token: t\n",
            "at most one of basic_auth, authorization, oauth2, & sigv4 must be configured",
        ),
    ] {
        let e = err(yaml).to_string();
        assert!(e.contains(want), "{yaml}: {e}");
    }
}

#[test]
fn secrets_never_print() {
    let c = ok(r#"
scrape_configs:
  - job_name: a
    basic_auth: {username: u, password: pw-basic}
    tls_config: {cert: c, key: pw-key}
    http_headers:
      X-Thing: {secrets: [pw-header]}
    proxy_url: http://proxy:3128
    proxy_connect_header:
      Proxy-Auth: [pw-proxy]
  - job_name: b
    bearer_token: pw-bearer
    consul_sd_configs:
      - token: pw-consul
        password: pw-consul-pass
        username: u
  - job_name: c
    oauth2:
      client_id: id
      client_secret: pw-oauth
      token_url: http://t/
      client_certificate_key: pw-cert-key
remote_write:
  - url: http://user:pw-url@remote/write
    authorization: {credentials: pw-auth}
"#);
    let yaml = c.to_yaml();
    // URLs are plain strings: only the YAML output redacts their passwords.
    let debug = format!("{c:?}").replace("pw-url", "");
    for out in [&yaml, &debug] {
        assert!(!out.contains("pw-"), "secret leaked:\n{out}");
        assert!(out.contains("<secret>"));
    }
    assert!(yaml.contains("http://user:xxxxx@remote/write"), "{yaml}");
    // The legacy bearer token became an Authorization, as Prometheus rewrites it.
    let auth = c.scrape_configs[1]
        .http_client
        .authorization
        .as_ref()
        .expect("authorization");
    assert_eq!(auth.kind, "Bearer");
    assert_eq!(auth.credentials.expose(), "pw-bearer");
    // Consul's username and password move into basic auth.
    let consul = &c.scrape_configs[1].service_discovery.consul_sd_configs[0];
    assert_eq!(
        consul
            .http_client
            .basic_auth
            .as_ref()
            .map(|b| b.password.expose()),
        Some("pw-consul-pass")
    );
}

#[test]
fn http_client_defaults_and_rules() {
    let c = ok(
        "scrape_configs:\n  - job_name: a\nremote_write:\n  - url: http://x/\nremote_read:\n  - url: http://y/\n",
    );
    assert!(c.scrape_configs[0].http_client.enable_http2);
    assert!(!c.remote_write[0].http_client.enable_http2);
    assert!(c.remote_read[0].http_client.enable_http2);
    assert!(c.remote_read[0].filter_external_labels);
    assert_eq!(c.remote_write[0].queue_config, QueueConfig::default());
    let e =
        err("scrape_configs:\n  - job_name: a\n    authorization: {type: Basic, credentials: x}\n");
    assert!(
        e.message()
            .contains(r#"authorization type cannot be set to "basic""#),
        "{e}"
    );
    let e = err("scrape_configs:\n  - job_name: a\n    no_proxy: localhost\n");
    assert_eq!(
        e.message(),
        "if no_proxy is configured, proxy_url must also be configured"
    );
    let e = err(
        "scrape_configs:\n  - job_name: a\n    http_headers:\n      user-agent: {values: [x]}\n",
    );
    assert_eq!(e.message(), r#"setting header "User-Agent" is not allowed"#);
    let e = err(
        "scrape_configs:\n  - job_name: a\n    tls_config: {min_version: TLS13, max_version: TLS12}\n",
    );
    assert!(e.message().contains("max_version"), "{e}");
    let e = err("scrape_configs:\n  - job_name: a\n    tls_config: {min_version: TLS14}\n");
    assert_eq!(e.message(), "unknown TLS version: TLS14");
    let e = err("scrape_configs:\n  - job_name: a\n    oauth2: {client_id: x}\n");
    assert_eq!(e.message(), "oauth2 token_url must be configured");
}

#[test]
fn discovery_defaults_and_rules() {
    let c = ok(r#"
scrape_configs:
  - job_name: a
    file_sd_configs: [{files: [targets/*.json]}]
    dns_sd_configs: [{names: [x.example], type: a, port: 9100}]
    consul_sd_configs: [{}]
    http_sd_configs: [{url: "https://sd.example/targets"}]
    kubernetes_sd_configs: [{role: pod}]
    static_configs:
      - targets: [a:1]
      - targets: [b:2]
        labels: {env: prod}
"#);
    let sd = &c.scrape_configs[0].service_discovery;
    assert_eq!(sd.file_sd_configs[0].files, ["targets/*.json"]);
    assert_eq!(
        sd.file_sd_configs[0].refresh_interval,
        Duration::from_secs(300)
    );
    assert_eq!(sd.dns_sd_configs[0].record_type, DnsRecordType::A);
    assert_eq!(sd.consul_sd_configs[0].server, "localhost:8500");
    assert!(sd.consul_sd_configs[0].allow_stale);
    assert_eq!(
        sd.http_sd_configs[0].refresh_interval,
        Duration::from_secs(60)
    );
    assert_eq!(sd.kubernetes_sd_configs[0].role, KubernetesRole::Pod);
    assert_eq!(sd.static_configs[1].source, "1");
    assert_eq!(sd.static_configs[1].labels["env"], "prod");
    let e = err("scrape_configs:\n  - job_name: a\n    dns_sd_configs: [{names: [x], type: A}]\n");
    assert_eq!(
        e.message(),
        "a port is required in DNS-SD configs for all record types except SRV"
    );
    let e = err("scrape_configs:\n  - job_name: a\n    file_sd_configs: [{files: [x.txt]}]\n");
    assert_eq!(
        e.message(),
        r#"path name "x.txt" is not valid for file discovery"#
    );
    // URLs in static targets are caught, unless relabeling could fix them.
    let e =
        err("scrape_configs:\n  - job_name: a\n    static_configs: [{targets: [\"http://x/\"]}]\n");
    assert_eq!(e.message(), r#""http://x/" is not a valid hostname"#);
    ok(
        "scrape_configs:\n  - job_name: a\n    static_configs: [{targets: [\"http://x/\"]}]\n    relabel_configs: [{target_label: a, replacement: b}]\n",
    );
    // Consul's username and password count as basic_auth in the HTTP checks.
    let e = err(
        "scrape_configs:\n  - job_name: a\n    consul_sd_configs: [{username: u, authorization: {credentials: c}}]\n",
    );
    assert_eq!(
        e.message(),
        "at most one of basic_auth, oauth2 & authorization must be configured"
    );
    // An empty label value is kept as written (Go's decoder reads null as "").
    let c = ok(
        "scrape_configs:\n  - job_name: a\n    static_configs: [{targets: [x], labels: {a: }}]\n",
    );
    let group = &c.scrape_configs[0].service_discovery.static_configs[0];
    assert_eq!(group.labels["a"], "");
}

#[test]
fn relabel_rules_follow_the_job_scheme() {
    let legacy = "global:\n  metric_name_validation_scheme: legacy\nscrape_configs:\n  - job_name: a\n    relabel_configs: [{target_label: \"a.b\"}]\n";
    let e = err(legacy);
    assert_eq!(
        e.message(),
        r#""a.b" is invalid 'target_label' for replace action"#
    );
    assert_eq!(e.field(), Some("scrape_configs[0].relabel_configs[0]"));
    ok(&legacy.replace("legacy", "utf8"));
    let c = ok(
        "scrape_configs:\n  - job_name: a\n    relabel_configs: [{target_label: x, regex: \"a.*\"}, {target_label: y}]\n",
    );
    let r = &c.scrape_configs[0].relabel_configs;
    assert_eq!(r[0].regex.as_ref().map(|r| r.as_str()), Some("a.*"));
    assert!(r[1].regex.is_none());
    let e = err("scrape_configs:\n  - job_name: a\n    relabel_configs: [{action: explode}]\n");
    assert_eq!(e.message(), r#"unknown relabel action "explode""#);
}

#[test]
fn paths_are_joined_with_the_config_directory() {
    let c = load_str(
        "global:\n  query_log_file: q.log\nrule_files: [rules/*.yml, /abs/r.yml]\nscrape_configs:\n  - job_name: a\n    tls_config: {ca_file: ../ca.pem}\n",
        Path::new("/etc/ember/ember.yml"),
        &SYNTAX,
    )
    .expect("loads");
    assert_eq!(c.global.query_log_file, "/etc/ember/q.log");
    assert_eq!(c.rule_files, ["/etc/ember/rules/*.yml", "/abs/r.yml"]);
    assert_eq!(
        c.scrape_configs[0].http_client.tls_config.ca_file,
        "/etc/ca.pem"
    );
}

#[test]
fn full_check_reads_referenced_files() {
    let dir = Scratch::new("full");
    let main = dir.write(
        "ember.yml",
        "rule_files: [rules.yml, 'more/*.yml']\nscrape_config_files: ['jobs/*.yml']\nscrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password_file: secret.txt}\n",
    );
    dir.write(
        "jobs/b.yml",
        "scrape_configs:\n  - job_name: b\n    authorization: {credentials_file: ../token}\n",
    );
    let full = LoadOptions::default();
    // Nothing referenced exists yet: rule files are looked at first, then the
    // main file's `*_file`s, then the included files'.
    let e = load_file(&main, &full).expect_err("missing rule file");
    assert!(matches!(e, ConfigError::Io { .. }), "{e}");
    assert_eq!(e.field(), Some("rule_files[0]"));
    assert_eq!(e.line(), Some(1));
    dir.write("rules.yml", "groups: []\n");
    let e = load_file(&main, &full).expect_err("missing password file");
    assert_eq!(
        e.field(),
        Some("scrape_configs[0].basic_auth.password_file")
    );
    assert!(e.to_string().contains("secret.txt"), "{e}");
    dir.write("secret.txt", "pw");
    let e = load_file(&main, &full).expect_err("missing token");
    assert_eq!(e.file(), dir.0.join("jobs/b.yml"));
    assert_eq!(
        e.field(),
        Some("scrape_configs[0].authorization.credentials_file")
    );
    dir.write("token", "t");
    let c = load_file(&main, &full).unwrap_or_else(|e| panic!("{e}"));
    let jobs: Vec<_> = c
        .all_scrape_configs()
        .map(|s| s.job_name.as_str())
        .collect();
    assert_eq!(jobs, ["a", "b"]);
    // The syntax check loads the included jobs (they are part of the configuration)
    // but not the files they refer to.
    std::fs::remove_file(dir.0.join("token")).expect("remove token");
    let c = load_file(&main, &SYNTAX).expect("syntax only");
    assert_eq!(c.included_scrape_configs.len(), 1);
    dir.write("token", "t");

    dir.write("jobs/c.yml", "global: {}\n");
    let e = load_file(&main, &full).expect_err("global in included file");
    assert_eq!(
        e.message(),
        "field global not found in type config.ScrapeConfigs"
    );
    dir.write("jobs/c.yml", "scrape_configs:\n  - job_name: a\n");
    let e = load_file(&main, &full).expect_err("duplicate across files");
    assert_eq!(
        e.message(),
        r#"found multiple scrape configs with job name "a", first found in main config file"#
    );

    let e = load_file(&dir.0.join("nope.yml"), &full).expect_err("no such file");
    assert!(matches!(e, ConfigError::Io { .. }));
    assert!(
        e.to_string()
            .starts_with(&format!("{}: ", dir.0.join("nope.yml").display()))
    );
}

#[test]
fn agent_mode_rejects_server_sections() {
    let agent = LoadOptions {
        syntax_only: true,
        agent_mode: true,
    };
    let e = load_str("rule_files: [a.yml]\n", Path::new("a.yml"), &agent).expect_err("rules");
    assert_eq!(e.message(), "field rule_files is not allowed in agent mode");
    load_str(
        "remote_write: [{url: 'http://x/'}]\n",
        Path::new("a.yml"),
        &agent,
    )
    .expect("ok");
}

#[test]
fn external_labels_expand_and_validate() {
    let c =
        ok("global:\n  external_labels:\n    b: x$$y\n    a: ${EMBER_CONFIG_TEST_SURELY_UNSET}z\n");
    let labels: Vec<_> = c
        .global
        .external_labels
        .iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect();
    assert_eq!(labels, [("a", "z"), ("b", "x$y")]);
    let e =
        err("global:\n  metric_name_validation_scheme: legacy\n  external_labels:\n    a.b: x\n");
    assert_eq!(e.message(), r#""a.b" is not a valid label name"#);
}

#[test]
fn storage_otlp_tracing() {
    let c = ok(r#"
storage:
  tsdb:
    out_of_order_time_window: 30m
    retention: {time: 15d, size: 512MiB, percentage: 50}
  exemplars: {max_exemplars: 10}
otlp:
  promote_resource_attributes: [" a ", b]
  translation_strategy: NoTranslation
tracing:
  endpoint: localhost:4317
"#);
    assert_eq!(
        c.storage.tsdb.out_of_order_time_window,
        Duration::from_secs(1800)
    );
    assert_eq!(c.storage.tsdb.retention.size, ByteSize(512 << 20));
    assert_eq!(
        c.storage.exemplars.as_ref().map(|e| e.max_exemplars),
        Some(10)
    );
    assert_eq!(c.otlp.promote_resource_attributes, ["a", "b"]);
    let t = c.tracing.as_ref().expect("tracing");
    assert_eq!(t.client_type, TracingClientType::Grpc);
    let e = err("tracing:\n  endpoint: x\n  client_type: udp\n");
    assert_eq!(
        e.message(),
        "expected tracing client type to be to be http or grpc, but got udp"
    );
}

#[test]
fn standalone_values_parse() {
    assert_eq!(
        "1h30m".parse::<Duration>().ok(),
        Some(Duration::from_secs(5400))
    );
    assert_eq!("1KB".parse::<ByteSize>().ok(), Some(ByteSize(1024)));
    let e = "1x".parse::<Duration>().expect_err("bad");
    assert!(matches!(e, ConfigError::Value(_)));
    assert_eq!(e.file(), Path::new(""));
}

mod robustness {
    use super::*;
    use proptest::prelude::*;

    const SEED: &str = r#"global:
  scrape_interval: 15s
  external_labels: {a: "${X}"}
scrape_configs:
  - job_name: "j"
    scrape_timeout: 5s
    basic_auth: {username: u, password: p}
    relabel_configs: [{source_labels: [a], regex: "(.+)", target_label: b}]
    static_configs: [{targets: ["h:1"], labels: {x: y}}]
    kubernetes_sd_configs: [{role: pod, selectors: [{role: pod, label: "a in (b)"}]}]
remote_write: [{url: "http://u:p@x/", queue_config: {max_shards: 2}}]
"#;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any text gives a config or an error, never a panic.
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = load(&text);
        }

        /// Damaged versions of a realistic file, likewise.
        #[test]
        fn damaged_config_never_panics(cut in 0usize..400, at in 0usize..400, junk in "[ :\\-\\[\\]{}$'\"#a-z0-9\\n]{0,8}") {
            let mut text: String = SEED.chars().take(cut.min(SEED.len())).collect();
            let at = text.char_indices().map(|(i, _)| i).nth(at).unwrap_or(text.len());
            text.insert_str(at, &junk);
            text.push_str(&SEED[cut.min(SEED.len())..]);
            let _ = load(&text);
        }
    }
}
