//! Conformance against Prometheus's own config test files
//! (`config/testdata/` of prometheus/prometheus 3.x, read from
//! `$EMBER_TESTDATA/prometheus/config/testdata/`, by default the shared test data
//! beside the workspace).
//!
//! Every `*.bad.yml` must be rejected, and for the intended reason: the expected
//! texts below are the ones Prometheus's `config_test.go` checks for each file.
//! Every `*.good.yml` must load with `syntax_only`, except files using a service
//! discovery mechanism Ember does not implement, which must be rejected with an
//! error naming that mechanism.

use ember_config::{
    ByteSize, ConfigError, DnsRecordType, Duration, KubernetesRole, LoadOptions,
    RemoteWriteMessage, ScrapeProtocol, TlsVersion, load_file, load_str,
};
use std::path::{Path, PathBuf};

/// Prometheus's expected error text per bad file (`expectedErrors` and the other
/// tests of `config/config_test.go`). A rejection of a file using an SD mechanism
/// Ember does not implement is counted apart: Ember never reaches the mechanism's
/// own checks.
const EXPECTED: &[(&str, &str)] = &[
    ("jobname.bad.yml", "job_name is empty"),
    (
        "jobname_dup.bad.yml",
        r#"found multiple scrape configs with job name "prometheus""#,
    ),
    (
        "scrape_interval.bad.yml",
        "scrape timeout greater than scrape interval",
    ),
    ("labelname.bad.yml", r#""\xff" is not a valid label name"#),
    ("labelvalue.bad.yml", r#""\xff" is not a valid label value"#),
    ("regex.bad.yml", "error parsing regexp"),
    (
        "modulus_missing.bad.yml",
        "relabel configuration for hashmod requires non-zero modulus",
    ),
    (
        "labelkeep.bad.yml",
        "labelkeep action requires only 'regex', and no other fields",
    ),
    (
        "labelkeep2.bad.yml",
        "labelkeep action requires only 'regex', and no other fields",
    ),
    (
        "labelkeep3.bad.yml",
        "labelkeep action requires only 'regex', and no other fields",
    ),
    (
        "labelkeep4.bad.yml",
        "labelkeep action requires only 'regex', and no other fields",
    ),
    (
        "labelkeep5.bad.yml",
        "labelkeep action requires only 'regex', and no other fields",
    ),
    (
        "labeldrop.bad.yml",
        "labeldrop action requires only 'regex', and no other fields",
    ),
    (
        "labeldrop2.bad.yml",
        "labeldrop action requires only 'regex', and no other fields",
    ),
    (
        "labeldrop3.bad.yml",
        "labeldrop action requires only 'regex', and no other fields",
    ),
    (
        "labeldrop4.bad.yml",
        "labeldrop action requires only 'regex', and no other fields",
    ),
    (
        "labeldrop5.bad.yml",
        "labeldrop action requires only 'regex', and no other fields",
    ),
    (
        "dropequal.bad.yml",
        "relabel configuration for dropequal action requires 'target_label' value",
    ),
    (
        "dropequal1.bad.yml",
        "dropequal action requires only 'source_labels' and `target_label`, and no other fields",
    ),
    (
        "keepequal.bad.yml",
        "relabel configuration for keepequal action requires 'target_label' value",
    ),
    (
        "keepequal1.bad.yml",
        "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
    ),
    (
        "labelmap.bad.yml",
        "!!binary value contains invalid base64 data",
    ),
    (
        "lowercase.bad.yml",
        "relabel configuration for lowercase action requires 'target_label' value",
    ),
    (
        "lowercase3.bad.yml",
        "'replacement' can not be set for lowercase action",
    ),
    (
        "uppercase.bad.yml",
        "relabel configuration for uppercase action requires 'target_label' value",
    ),
    (
        "uppercase3.bad.yml",
        "'replacement' can not be set for uppercase action",
    ),
    ("rules.bad.yml", "invalid rule file path"),
    (
        "unknown_attr.bad.yml",
        "field consult_sd_configs not found in type",
    ),
    (
        "bearertoken.bad.yml",
        "at most one of bearer_token & bearer_token_file must be configured",
    ),
    (
        "bearertoken_basicauth.bad.yml",
        "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
    ),
    (
        "kubernetes_http_config_without_api_server.bad.yml",
        "to use custom HTTP client configuration please provide the 'api_server' URL explicitly",
    ),
    (
        "kubernetes_kubeconfig_with_own_namespace.bad.yml",
        "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously",
    ),
    (
        "kubernetes_api_server_with_own_namespace.bad.yml",
        "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously",
    ),
    (
        "kubernetes_kubeconfig_with_apiserver.bad.yml",
        "cannot use 'kubeconfig_file' and 'api_server' simultaneously",
    ),
    (
        "kubernetes_kubeconfig_with_http_config.bad.yml",
        "cannot use a custom HTTP client configuration together with 'kubeconfig_file'",
    ),
    (
        "kubernetes_bearertoken.bad.yml",
        "at most one of bearer_token & bearer_token_file must be configured",
    ),
    ("kubernetes_role.bad.yml", "role"),
    (
        "kubernetes_selectors_endpoints.bad.yml",
        "endpoints role supports only pod, service, endpoints selectors",
    ),
    (
        "kubernetes_selectors_ingress.bad.yml",
        "ingress role supports only ingress selectors",
    ),
    (
        "kubernetes_selectors_node.bad.yml",
        "node role supports only node selectors",
    ),
    (
        "kubernetes_selectors_pod.bad.yml",
        "pod role supports only pod, node selectors",
    ),
    (
        "kubernetes_selectors_service.bad.yml",
        "service role supports only service selectors",
    ),
    (
        "kubernetes_namespace_discovery.bad.yml",
        "field foo not found in type kubernetes.plain",
    ),
    (
        "kubernetes_selectors_duplicated_role.bad.yml",
        "duplicated selector role: pod",
    ),
    (
        "kubernetes_selectors_incorrect_selector.bad.yml",
        "invalid selector: 'metadata.status-Running'; can't understand 'metadata.status-Running'",
    ),
    (
        "kubernetes_bearertoken_basicauth.bad.yml",
        "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
    ),
    (
        "kubernetes_authorization_basicauth.bad.yml",
        "at most one of basic_auth, oauth2 & authorization must be configured",
    ),
    (
        "marathon_no_servers.bad.yml",
        "marathon_sd: must contain at least one Marathon server",
    ),
    (
        "marathon_authtoken_authtokenfile.bad.yml",
        "marathon_sd: at most one of auth_token & auth_token_file must be configured",
    ),
    (
        "marathon_authtoken_basicauth.bad.yml",
        "marathon_sd: at most one of basic_auth, auth_token & auth_token_file must be configured",
    ),
    (
        "marathon_authtoken_bearertoken.bad.yml",
        "marathon_sd: at most one of bearer_token, bearer_token_file, auth_token & auth_token_file must be configured",
    ),
    (
        "marathon_authtoken_authorization.bad.yml",
        "marathon_sd: at most one of auth_token, auth_token_file & authorization must be configured",
    ),
    ("openstack_role.bad.yml", "unknown OpenStack SD role"),
    (
        "openstack_availability.bad.yml",
        "unknown availability invalid, must be one of admin, internal or public",
    ),
    (
        "url_in_targetgroup.bad.yml",
        r#""http://bad" is not a valid hostname"#,
    ),
    (
        "target_label_missing.bad.yml",
        "relabel configuration for replace action requires 'target_label' value",
    ),
    (
        "target_label_hashmod_missing.bad.yml",
        "relabel configuration for hashmod action requires 'target_label' value",
    ),
    (
        "unknown_global_attr.bad.yml",
        "field nonexistent_field not found in type config.plain",
    ),
    (
        "remote_read_url_missing.bad.yml",
        "url for remote_read is empty",
    ),
    (
        "remote_write_header.bad.yml",
        "x-prometheus-remote-write-version is a reserved header. It must not be changed",
    ),
    (
        "remote_read_header.bad.yml",
        "x-prometheus-remote-write-version is a reserved header. It must not be changed",
    ),
    (
        "remote_write_authorization_header.bad.yml",
        "authorization header must be changed via the basic_auth, authorization, oauth2, sigv4, azuread or google_iam parameter",
    ),
    (
        "remote_write_wrong_msg.bad.yml",
        "invalid protobuf_message value: unknown type for remote write protobuf message io.prometheus.writet.v2.Request, supported: prometheus.WriteRequest, io.prometheus.write.v2.Request",
    ),
    (
        "remote_write_url_missing.bad.yml",
        "url for remote_write is empty",
    ),
    (
        "remote_write_dup.bad.yml",
        r#"found multiple remote write configs with job name "queue1""#,
    ),
    (
        "remote_write_queue_max_samples_per_send_zero.bad.yml",
        "remote write queue max_samples_per_send must be positive",
    ),
    (
        "remote_write_queue_max_shards_zero.bad.yml",
        "remote write queue max_shards must be positive",
    ),
    (
        "remote_write_queue_min_shards_zero.bad.yml",
        "remote write queue min_shards must be positive",
    ),
    (
        "remote_write_queue_capacity_zero.bad.yml",
        "remote write queue capacity must be positive",
    ),
    (
        "remote_write_queue_min_shards_greater_than_max.bad.yml",
        "remote write queue min_shards must not be greater than max_shards",
    ),
    (
        "remote_write_queue_max_backoff_less_than_min.bad.yml",
        "remote write queue max_backoff must not be less than min_backoff",
    ),
    (
        "remote_read_dup.bad.yml",
        r#"found multiple remote read configs with job name "queue1""#,
    ),
    (
        "ec2_filters_empty_values.bad.yml",
        "EC2 SD configuration filter values cannot be empty",
    ),
    (
        "ec2_token_file.bad.yml",
        "at most one of bearer_token & bearer_token_file must be configured",
    ),
    (
        "lightsail_token_file.bad.yml",
        "at most one of bearer_token & bearer_token_file must be configured",
    ),
    (
        "section_key_dup.bad.yml",
        "field scrape_configs already set in type config.plain",
    ),
    (
        "azure_client_id_missing.bad.yml",
        "azure SD configuration requires a client_id",
    ),
    (
        "azure_client_secret_missing.bad.yml",
        "azure SD configuration requires a client_secret",
    ),
    (
        "azure_subscription_id_missing.bad.yml",
        "azure SD configuration requires a subscription_id",
    ),
    (
        "azure_tenant_id_missing.bad.yml",
        "azure SD configuration requires a tenant_id",
    ),
    (
        "azure_authentication_method.bad.yml",
        r#"unknown authentication_type "invalid". Supported types are "OAuth", "ManagedIdentity", "SDK" or "WorkloadIdentity""#,
    ),
    (
        "oci_authentication_method.bad.yml",
        r#"oci_sd: unknown auth method "invalid", expected "api_key" or "instance_principal""#,
    ),
    (
        "azure_bearertoken_basicauth.bad.yml",
        "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
    ),
    (
        "empty_scrape_config.bad.yml",
        "empty or null scrape config section",
    ),
    (
        "empty_rw_config.bad.yml",
        "empty or null remote write config section",
    ),
    (
        "empty_rr_config.bad.yml",
        "empty or null remote read config section",
    ),
    (
        "empty_target_relabel_config.bad.yml",
        "empty or null target relabeling rule",
    ),
    (
        "empty_metric_relabel_config.bad.yml",
        "empty or null metric relabeling rule",
    ),
    (
        "empty_alert_relabel_config.bad.yml",
        "empty or null alert relabeling rule",
    ),
    (
        "empty_alertmanager_relabel_config.bad.yml",
        "empty or null Alertmanager target relabeling rule",
    ),
    (
        "empty_rw_relabel_config.bad.yml",
        "empty or null relabeling rule in remote write config",
    ),
    (
        "empty_static_config.bad.yml",
        "empty or null section in static_configs",
    ),
    ("puppetdb_no_query.bad.yml", "query missing"),
    ("puppetdb_no_url.bad.yml", "URL is missing"),
    ("puppetdb_bad_url.bad.yml", "host is missing in URL"),
    (
        "puppetdb_no_scheme.bad.yml",
        "URL scheme must be 'http' or 'https'",
    ),
    (
        "puppetdb_token_file.bad.yml",
        "at most one of bearer_token & bearer_token_file must be configured",
    ),
    ("hetzner_role.bad.yml", "unknown role"),
    ("eureka_no_server.bad.yml", "empty or null eureka server"),
    ("eureka_invalid_server.bad.yml", "invalid eureka server URL"),
    ("scaleway_role.bad.yml", r#"unknown role "invalid""#),
    (
        "scaleway_no_secret.bad.yml",
        "one of secret_key & secret_key_file must be configured",
    ),
    (
        "scaleway_two_secrets.bad.yml",
        "at most one of secret_key & secret_key_file must be configured",
    ),
    (
        "outscale_no_region.bad.yml",
        "outscale SD configuration requires a region",
    ),
    (
        "outscale_no_secret.bad.yml",
        "one of secret_key & secret_key_file must be configured",
    ),
    (
        "outscale_two_secrets.bad.yml",
        "at most one of secret_key & secret_key_file must be configured",
    ),
    (
        "scrape_body_size_limit.bad.yml",
        "units: unknown unit  in 100",
    ),
    (
        "http_url_no_scheme.bad.yml",
        "URL scheme must be 'http' or 'https'",
    ),
    ("http_url_no_host.bad.yml", "host is missing in URL"),
    (
        "http_token_file.bad.yml",
        "at most one of bearer_token & bearer_token_file must be configured",
    ),
    (
        "http_url_bad_scheme.bad.yml",
        "URL scheme must be 'http' or 'https'",
    ),
    (
        "empty_scrape_config_action.bad.yml",
        "relabel action cannot be empty",
    ),
    (
        "tracing_missing_endpoint.bad.yml",
        "tracing endpoint must be set",
    ),
    (
        "tracing_invalid_header.bad.yml",
        "x-prometheus-remote-write-version is a reserved header. It must not be changed",
    ),
    (
        "tracing_invalid_authorization_header.bad.yml",
        "authorization header configuration is not yet supported",
    ),
    (
        "tracing_invalid_compression.bad.yml",
        "invalid compression type foo provided, valid options: gzip",
    ),
    (
        "uyuni_no_server.bad.yml",
        "Uyuni SD configuration requires server host",
    ),
    (
        "uyuni_token_file.bad.yml",
        "at most one of bearer_token & bearer_token_file must be configured",
    ),
    ("ionos_datacenter.bad.yml", "datacenter id can't be empty"),
    (
        "ovhcloud_no_secret.bad.yml",
        "application secret can not be empty",
    ),
    (
        "ovhcloud_bad_service.bad.yml",
        "unknown service: fakeservice",
    ),
    (
        "scrape_config_files_glob.bad.yml",
        r#"invalid scrape config file path "scrape_configs/*/*""#,
    ),
    (
        "scrape_config_files_scrape_protocols.bad.yml",
        r#"scrape_protocols: unknown scrape protocol prometheusproto, supported: [OpenMetricsText0.0.1 OpenMetricsText1.0.0 PrometheusProto PrometheusText0.0.4 PrometheusText1.0.0] for scrape config with job name "node""#,
    ),
    (
        "scrape_config_files_scrape_protocols2.bad.yml",
        r#"duplicated protocol in scrape_protocols, got [OpenMetricsText1.0.0 PrometheusProto OpenMetricsText1.0.0] for scrape config with job name "node""#,
    ),
    (
        "scrape_config_files_fallback_scrape_protocol1.bad.yml",
        r#"invalid fallback_scrape_protocol for scrape config with job name "node": unknown scrape protocol prometheusproto, supported: [OpenMetricsText0.0.1 OpenMetricsText1.0.0 PrometheusProto PrometheusText0.0.4 PrometheusText1.0.0]"#,
    ),
    (
        "scrape_config_files_fallback_scrape_protocol2.bad.yml",
        "unmarshal errors",
    ),
    (
        "scrape_config_utf8_conflicting.bad.yml",
        "utf8 metric names requested but validation scheme is not set to UTF8",
    ),
    ("stackit_endpoint.bad.yml", "invalid endpoint"),
    (
        "tsdb_retention_time.bad.yml",
        r#"not a valid duration string: "-1h""#,
    ),
    (
        "tsdb_retention_size.bad.yml",
        "'storage.tsdb.retention.size' must be greater than or equal to 0",
    ),
    (
        "tsdb_retention_percentage.bad.yml",
        "'storage.tsdb.retention.percentage' must be in the range [0, 100]",
    ),
    (
        "tsdb_retention_percentage_negative.bad.yml",
        "'storage.tsdb.retention.percentage' must be in the range [0, 100]",
    ),
    (
        "tsdb_chunk_encoding_floats.bad.yml",
        r#"'storage.tsdb.chunk_encoding.floats' must be 'xor' or 'xor2', or the field must be omitted entirely, got "xor3""#,
    ),
    (
        "tsdb_chunk_encoding_floats_wrong_case.bad.yml",
        r#"'storage.tsdb.chunk_encoding.floats' must be 'xor' or 'xor2', or the field must be omitted entirely, got "XOR""#,
    ),
    (
        "tsdb_chunk_encoding_floats_wrong_case_xor2.bad.yml",
        r#"'storage.tsdb.chunk_encoding.floats' must be 'xor' or 'xor2', or the field must be omitted entirely, got "XOR2""#,
    ),
    (
        "metric_name_validation_scheme.bad.yml",
        r#"unrecognized ValidationScheme: "invalid_scheme""#,
    ),
    // TestOTLPSanitizeResourceAttributes and TestOTLPAllowUTF8.
    (
        "otlp_sanitize_promote_resource_attributes.bad.yml",
        r#"duplicated promoted OTel resource attribute "k8s.job.name""#,
    ),
    (
        "otlp_sanitize_ignore_resource_attributes.bad.yml",
        r#"duplicated ignored OTel resource attribute "k8s.job.name""#,
    ),
    (
        "otlp_promote_all_resource_attributes.bad.yml",
        "'promote_all_resource_attributes' and 'promote_resource_attributes' cannot be configured simultaneously",
    ),
    (
        "otlp_ignore_resource_attributes_without_promote_all.bad.yml",
        "'ignore_resource_attributes' cannot be configured unless 'promote_all_resource_attributes' is true",
    ),
    (
        "otlp_allow_utf8.bad.yml",
        r#"unsupported OTLP translation strategy "Invalid""#,
    ),
    // TestGetScrapeConfigs: errors found once scrape_config_files are loaded.
    (
        "scrape_config_files_double_import.bad.yml",
        r#"found multiple scrape configs with job name "prometheus""#,
    ),
    (
        "scrape_config_files_duplicate.bad.yml",
        r#"found multiple scrape configs with job name "prometheus""#,
    ),
    (
        "scrape_config_files_global.bad.yml",
        r#"scrape timeout greater than scrape interval for scrape config with job name "prometheus""#,
    ),
    // Not in Prometheus's tables; the reason follows from the file's content.
    (
        "scrape_config_files.bad.yml",
        r#"scrape timeout greater than scrape interval for scrape config with job name "prometheus""#,
    ),
    (
        "scrape_config_files_global_duplicate.bad.yml",
        r#"found multiple scrape configs with job name "prometheus""#,
    ),
    // A target group, not a config (TestBadStaticConfigsYML).
    (
        "static_config.bad.yml",
        "field targets not found in type config.plain",
    ),
];

/// Service discovery keys Ember implements.
const SUPPORTED_SD: &[&str] = &[
    "static_configs",
    "file_sd_configs",
    "http_sd_configs",
    "dns_sd_configs",
    "consul_sd_configs",
    "kubernetes_sd_configs",
];

fn testdata_dir() -> Option<PathBuf> {
    let root = match std::env::var_os("EMBER_TESTDATA") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"),
    };
    // Canonical, so that `..` in the default is resolved by the file system
    // (relative paths in configs are joined lexically, as Go joins them).
    std::fs::canonicalize(root.join("prometheus/config/testdata")).ok()
}

/// `*_sd_configs` keys in a file that Ember does not implement.
fn unsupported_sd_keys(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let key = l.trim_start().trim_start_matches("- ").split(':').next()?;
            (key.ends_with("_sd_configs") && !SUPPORTED_SD.contains(&key)).then(|| key.to_string())
        })
        .collect()
}

/// Unsupported SD keys in a file and in the `scrape_config_files` it includes (which
/// are loaded even by the syntax check).
fn unsupported_sd_keys_with_includes(path: &Path, text: &str) -> Vec<String> {
    let mut kinds = unsupported_sd_keys(text);
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut in_list = false;
    for line in text.lines() {
        if line.starts_with("scrape_config_files:") {
            in_list = true;
            continue;
        }
        if in_list {
            let Some(item) = line.trim_start().strip_prefix("- ") else {
                if !line.starts_with(' ') {
                    in_list = false;
                }
                continue;
            };
            let pattern = dir.join(item.trim().trim_matches('"'));
            for inc in glob::glob(&pattern.to_string_lossy())
                .into_iter()
                .flatten()
                .flatten()
            {
                if let Ok(t) = std::fs::read_to_string(&inc) {
                    kinds.extend(unsupported_sd_keys(&t));
                }
            }
        }
    }
    kinds
}

/// Removes the blocks of unsupported SD keys, for loading the rest of a file.
fn strip_unsupported_sd(text: &str) -> String {
    let mut out = String::new();
    let mut skip_indent: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(si) = skip_indent {
            let cont = line.trim().is_empty()
                || indent > si
                || (indent == si && line.trim_start().starts_with("- "));
            if cont {
                continue;
            }
            skip_indent = None;
        }
        let key = line.trim_start().split(':').next().unwrap_or("");
        if key.ends_with("_sd_configs") && !SUPPORTED_SD.contains(&key) {
            skip_indent = Some(indent);
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("testdata dir is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    v
}

fn name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn upstream_config_testdata() {
    let Some(dir) = testdata_dir() else {
        println!("skipped: Prometheus config testdata not found (set EMBER_TESTDATA)");
        return;
    };
    let full = LoadOptions::default();
    let syntax = LoadOptions {
        syntax_only: true,
        agent_mode: false,
    };

    let bad = files(&dir, ".bad.yml");
    let (mut rejected, mut matched, mut unsupported) = (0, 0, 0);
    let mut misses = Vec::new();
    let mut mismatches = Vec::new();
    for path in &bad {
        let n = name(path);
        match load_file(path, &full) {
            Ok(_) => misses.push(format!("{n}: accepted")),
            Err(e) => {
                rejected += 1;
                let msg = e.to_string();
                let expected = EXPECTED.iter().find(|(f, _)| *f == n).map(|(_, m)| *m);
                if let ConfigError::Unsupported { feature, .. } = &e
                    && feature.ends_with("_sd_configs")
                {
                    assert!(
                        e.line().is_some(),
                        "{n}: unsupported SD error without location: {msg}"
                    );
                    unsupported += 1;
                } else {
                    match expected {
                        Some(want) if msg.contains(want) => matched += 1,
                        Some(want) => mismatches.push(format!("{n}: want {want:?}, got {msg:?}")),
                        None => mismatches.push(format!("{n}: no expected text; got {msg:?}")),
                    }
                }
            }
        }
    }

    let good = files(&dir, ".good.yml");
    let (mut accepted, mut n_plain, mut sd_rejected, mut n_sd) = (0, 0, 0, 0);
    for path in &good {
        let n = name(path);
        let text = std::fs::read_to_string(path).expect("readable");
        let kinds = unsupported_sd_keys_with_includes(path, &text);
        let res = load_file(path, &syntax);
        if kinds.is_empty() {
            n_plain += 1;
            match res {
                Ok(_) => accepted += 1,
                Err(e) => misses.push(format!("{n}: rejected: {e}")),
            }
        } else {
            n_sd += 1;
            match res {
                Err(ConfigError::Unsupported {
                    ref feature, line, ..
                }) if kinds.contains(feature) && line > 0 => sd_rejected += 1,
                Err(e) => misses.push(format!("{n}: rejected for another reason: {e}")),
                Ok(_) => misses.push(format!("{n}: accepted despite {kinds:?}")),
            }
        }
    }

    println!(
        "bad: {rejected}/{} rejected ({matched} with Prometheus's reason, {unsupported} as unsupported SD, {} mismatched); good: {accepted}/{n_plain} accepted, {sd_rejected}/{n_sd} unsupported-SD rejected naming the kind",
        bad.len(),
        mismatches.len()
    );
    for m in &mismatches {
        println!("  reason mismatch: {m}");
    }
    for m in &misses {
        println!("  miss: {m}");
    }
    assert!(
        misses.is_empty(),
        "{} files misjudged: {misses:#?}",
        misses.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} files rejected for another reason: {mismatches:#?}",
        mismatches.len()
    );
}

#[test]
fn upstream_files_outside_the_count() {
    let Some(dir) = testdata_dir() else {
        println!("skipped: Prometheus config testdata not found (set EMBER_TESTDATA)");
        return;
    };
    let agent = LoadOptions {
        syntax_only: true,
        agent_mode: true,
    };
    let syntax = LoadOptions {
        syntax_only: true,
        agent_mode: false,
    };
    for (file, want) in [
        (
            "agent_mode.with_alert_manager.yml",
            "field alerting is not allowed in agent mode",
        ),
        (
            "agent_mode.with_alert_relabels.yml",
            "field alerting is not allowed in agent mode",
        ),
        (
            "agent_mode.with_rule_files.yml",
            "field rule_files is not allowed in agent mode",
        ),
        (
            "agent_mode.with_remote_reads.yml",
            "field remote_read is not allowed in agent mode",
        ),
    ] {
        let err = load_file(&dir.join(file), &agent).expect_err(file);
        assert!(err.to_string().contains(want), "{file}: {err}");
    }
    let c = load_file(&dir.join("agent_mode.good.yml"), &agent).expect("agent_mode.good.yml");
    assert_eq!(c.remote_write.len(), 1);
    assert_eq!(c.remote_write[0].url, "http://remote1/push");
    let c = load_file(&dir.join("agent_mode.without_remote_writes.yml"), &agent)
        .expect("agent_mode.without_remote_writes.yml");
    assert!(c.remote_write.is_empty());

    for (file, want) in [
        (
            "otlp_allow_utf8.incompatible.yml",
            r#"OTLP translation strategy "NoUTF8EscapingWithSuffixes" is not allowed when UTF8 is disabled"#,
        ),
        (
            "otlp_no_translation.incompatible.yml",
            r#"OTLP translation strategy "NoTranslation" is not allowed when UTF8 is disabled"#,
        ),
        (
            "config_with_deprecated_am_api_config.yml",
            "expected Alertmanager api version to be one of [v2] but got v1",
        ),
    ] {
        let err = load_file(&dir.join(file), &syntax).expect_err(file);
        assert!(err.to_string().contains(want), "{file}: {err}");
    }

    // TestScrapeConfigNameValidationSettings / NameEscapingSettings.
    use ember_config::EscapingScheme as E;
    use ember_model::labels::ValidationScheme as V;
    for (file, scheme, escaping) in [
        (
            "scrape_config_default_validation_mode.yml",
            V::Utf8,
            E::AllowUtf8,
        ),
        (
            "scrape_config_global_validation_mode.yml",
            V::Legacy,
            E::Dots,
        ),
        (
            "scrape_config_local_validation_mode.yml",
            V::Legacy,
            E::Values,
        ),
        (
            "scrape_config_local_global_validation_mode.yml",
            V::Utf8,
            E::Dots,
        ),
        (
            "scrape_config_local_infer_escaping.yml",
            V::Legacy,
            E::Underscores,
        ),
    ] {
        let c = load_file(&dir.join(file), &syntax).unwrap_or_else(|e| panic!("{e}"));
        let sc = &c.scrape_configs[0];
        assert_eq!(sc.metric_name_validation_scheme, scheme, "{file}");
        assert_eq!(sc.metric_name_escaping_scheme, escaping, "{file}");
    }
    let c = load_file(&dir.join("otlp_empty.yml"), &syntax).expect("otlp_empty.yml");
    assert!(c.otlp.label_name_underscore_sanitization);
    assert!(c.otlp.label_name_preserve_multiple_underscores);
}

/// What `to_yaml` prints loads again, to the same configuration.
#[test]
fn good_files_round_trip() {
    let Some(dir) = testdata_dir() else {
        println!("skipped: Prometheus config testdata not found (set EMBER_TESTDATA)");
        return;
    };
    let syntax = LoadOptions {
        syntax_only: true,
        agent_mode: false,
    };
    for path in files(&dir, ".good.yml") {
        let raw = std::fs::read_to_string(&path).expect("readable");
        // Included files cannot be stripped here; such files are covered by the
        // conformance count instead.
        if unsupported_sd_keys_with_includes(&path, &raw).len() > unsupported_sd_keys(&raw).len() {
            continue;
        }
        let text = strip_unsupported_sd(&raw);
        let c = load_str(&text, &path, &syntax).unwrap_or_else(|e| panic!("{}: {e}", name(&path)));
        let out = c.to_yaml();
        // Paths are already joined; reload from the working directory so they stay.
        let again = load_str(&out, Path::new("roundtrip.yml"), &syntax)
            .unwrap_or_else(|e| panic!("{}: {e}\n{out}", name(&path)));
        // External labels are expanded again on every load, as in Prometheus, so
        // a value holding `$` after one expansion changes on the next.
        if !text.contains('$') {
            assert_eq!(again.to_yaml(), out, "{}", name(&path));
        }
    }
}

#[test]
fn conf_good_without_unsupported_sd() {
    let Some(dir) = testdata_dir() else {
        println!("skipped: Prometheus config testdata not found (set EMBER_TESTDATA)");
        return;
    };
    let path = dir.join("conf.good.yml");
    let text = strip_unsupported_sd(&std::fs::read_to_string(&path).expect("readable"));
    assert!(unsupported_sd_keys(&text).is_empty());
    let syntax = LoadOptions {
        syntax_only: true,
        agent_mode: false,
    };
    let c = load_str(&text, &path, &syntax).unwrap_or_else(|e| panic!("{e}"));
    let d = |p: &str| format!("{}/{p}", dir.display());
    let secs = Duration::from_secs;

    // Values from `expectedConf` in Prometheus's config_test.go.
    let g = &c.global;
    assert_eq!(g.scrape_interval, secs(15));
    assert_eq!(g.scrape_timeout, secs(10));
    assert_eq!(g.evaluation_interval, secs(30));
    assert_eq!(g.body_size_limit, ByteSize(15 << 20));
    assert_eq!(
        (g.sample_limit, g.target_limit, g.label_limit),
        (1500, 30, 30)
    );
    assert_eq!(
        (g.label_name_length_limit, g.label_value_length_limit),
        (200, 200)
    );
    assert_eq!(g.query_log_file, d("query.log"));
    assert_eq!(g.scrape_failure_log_file, d("fail.log"));
    assert_eq!(g.external_labels.get("foo"), Some("bar"));
    assert_eq!(g.external_labels.get("monitor"), Some("codelab"));
    assert_eq!(c.runtime.gogc, 42);
    assert_eq!(c.rule_files, [d("first.rules"), d("my/*.rules")]);

    let rw = &c.remote_write;
    assert_eq!(rw[0].name, "drop_expensive");
    assert_eq!(rw[0].remote_timeout, secs(30));
    assert_eq!(rw[0].protobuf_message, RemoteWriteMessage::V1);
    assert_eq!(rw[0].write_relabel_configs.len(), 1);
    let oauth2 = rw[0].http_client.oauth2.as_ref().expect("oauth2");
    assert_eq!(
        (oauth2.client_id.as_str(), oauth2.client_secret.expose()),
        ("123", "456")
    );
    assert_eq!(oauth2.tls_config.cert_file, d("valid_cert_file"));
    assert!(rw[0].http_client.follow_redirects && !rw[0].http_client.enable_http2);
    assert_eq!(rw[1].protobuf_message, RemoteWriteMessage::V2);
    assert_eq!(rw[1].headers["name"], "value");
    let rr = &c.remote_read;
    assert!(rr[0].read_recent && !rr[0].http_client.enable_http2);
    assert_eq!(rr[0].remote_timeout, secs(60));
    assert_eq!(rr[0].chunked_read_limit, 50_000_000);
    assert_eq!(rr[1].required_matchers["job"], "special");
    assert!(rr[1].http_client.enable_http2 && rr[1].filter_external_labels);

    let job = |name: &str| {
        c.scrape_configs
            .iter()
            .find(|s| s.job_name == name)
            .unwrap_or_else(|| panic!("job {name}"))
    };
    let p = job("prometheus");
    assert!(p.honor_labels && p.honor_timestamps);
    assert_eq!(
        p.fallback_scrape_protocol,
        Some(ScrapeProtocol::PrometheusText0_0_4)
    );
    assert_eq!(p.scrape_protocols, ScrapeProtocol::DEFAULT);
    assert_eq!(p.scrape_failure_log_file, d("fail_prom.log"));
    assert_eq!(p.body_size_limit, ByteSize(15 << 20));
    let files = &p.service_discovery.file_sd_configs;
    assert_eq!(files[0].files[0], d("foo/*.slow.json"));
    assert_eq!(files[0].refresh_interval, secs(600));
    assert_eq!(files[1].refresh_interval, secs(300));
    let group = &p.service_discovery.static_configs[0];
    assert_eq!(group.targets, ["localhost:9090", "localhost:9191"]);
    assert_eq!(group.source, "0");
    let auth = p.http_client.authorization.as_ref().expect("authorization");
    assert_eq!(auth.kind, "Bearer");
    assert_eq!(auth.credentials_file, d("valid_token_file"));
    assert_eq!(
        p.http_client.tls_config.min_version,
        Some(TlsVersion::Tls10)
    );
    assert_eq!(
        p.http_client.http_headers["foo"].files,
        [d("valid_password_file")]
    );
    assert_eq!(p.relabel_configs.len(), 6);
    assert_eq!(
        p.relabel_configs[3].regex.as_ref().map(|r| r.as_str()),
        Some("")
    );
    assert!(p.relabel_configs[1].regex.is_none());

    let x = job("service-x");
    let basic = x.http_client.basic_auth.as_ref().expect("basic_auth");
    assert_eq!(basic.password.expose(), "multiline\nmysecret\ntest");
    assert_eq!((x.scrape_interval, x.scrape_timeout), (secs(50), secs(5)));
    assert_eq!(x.scrape_protocols, [ScrapeProtocol::PrometheusText0_0_4]);
    assert_eq!(x.body_size_limit, ByteSize(10 << 20));
    assert_eq!(
        (x.metrics_path.as_str(), x.scheme.as_str()),
        ("/my_path", "https")
    );
    let dns = &x.service_discovery.dns_sd_configs;
    assert_eq!(
        (dns[0].refresh_interval, dns[1].refresh_interval),
        (secs(15), secs(30))
    );
    assert_eq!(dns[0].record_type, DnsRecordType::Srv);
    assert_eq!(x.metric_relabel_configs.len(), 1);

    let consul = &job("service-y").service_discovery.consul_sd_configs[0];
    assert_eq!(consul.server, "localhost:1234");
    assert_eq!(consul.token.expose(), "mysecret");
    assert_eq!(consul.services, ["nginx", "cache", "mysql"]);
    assert_eq!(consul.tags, ["canary", "v1"]);
    assert_eq!(consul.node_meta["rack"], "123");
    assert_eq!(consul.scheme, "https");
    assert_eq!(consul.http_client.tls_config.ca_file, d("valid_ca_file"));
    let k8s = &job("service-kubernetes")
        .service_discovery
        .kubernetes_sd_configs[0];
    assert_eq!(k8s.api_server, "https://localhost:1234");
    assert_eq!(k8s.role, KubernetesRole::Endpoints);
    let k8s = &job("service-kubernetes-namespaces")
        .service_discovery
        .kubernetes_sd_configs[0];
    assert_eq!(k8s.namespaces.names, ["default"]);
    assert!(!job("badfederation").honor_timestamps);
    assert!(job("hetzner").scrape_native_histograms);
    assert_eq!(job("hetzner").scrape_protocols, ScrapeProtocol::PROTO_FIRST);
    job("測試");

    let am = &c.alerting.alertmanagers[0];
    assert_eq!(am.scheme, "https");
    assert_eq!(am.timeout, secs(10));
    assert_eq!(am.service_discovery.static_configs[0].targets.len(), 3);
    let tsdb = &c.storage.tsdb;
    assert_eq!(tsdb.out_of_order_time_window, secs(1800));
    assert_eq!(tsdb.stale_series_compaction_threshold, 0.5);
    assert_eq!(tsdb.retention.time, secs(86400));
    assert_eq!(tsdb.retention.size, ByteSize(1 << 30));
    assert_eq!(tsdb.retention.percentage, 28.0);
    let t = c.tracing.as_ref().expect("tracing");
    assert_eq!(
        (t.endpoint.as_str(), t.compression.as_str()),
        ("localhost:4317", "gzip")
    );
    assert_eq!(t.timeout, secs(5));
    assert!(t.tls_config.insecure_skip_verify);
    assert_eq!(
        c.otlp.promote_resource_attributes,
        ["k8s.cluster.name", "k8s.job.name", "k8s.namespace.name"]
    );

    // TestElideSecrets: the printed config shows none of them.
    let yaml = c.to_yaml();
    assert!(!yaml.contains("mysecret"), "{yaml}");
    assert!(yaml.contains("<secret>"));

    // The full check reads the referenced files, which the test data lacks.
    let e = load_str(&text, &path, &LoadOptions::default()).expect_err("missing files");
    assert!(matches!(e, ConfigError::Io { .. }), "{e}");
}

/// With the full check, `scrape_config_files` are loaded: the glob in
/// `scrape_config_files_glob.good.yml` reaches a job using Vultr discovery.
#[test]
fn included_files_are_checked_too() {
    let Some(dir) = testdata_dir() else {
        println!("skipped: Prometheus config testdata not found (set EMBER_TESTDATA)");
        return;
    };
    let e = load_file(
        &dir.join("scrape_config_files_glob.good.yml"),
        &LoadOptions::default(),
    )
    .expect_err("vultr");
    assert!(
        matches!(&e, ConfigError::Unsupported { feature, .. } if feature == "vultr_sd_configs"),
        "{e}"
    );
    assert!(
        e.file()
            .ends_with("scrape_configs/scrape_config_files2.good.yml"),
        "{e}"
    );
    let c = load_file(
        &dir.join("scrape_config_files_combined.good.yml"),
        &LoadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let jobs: Vec<_> = c
        .all_scrape_configs()
        .map(|s| s.job_name.as_str())
        .collect();
    assert_eq!(jobs, ["node", "prometheus", "alertmanager"]);
}
