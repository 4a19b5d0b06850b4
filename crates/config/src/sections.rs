//! The sections that stand on their own: `alerting`, `remote_write`,
//! `remote_read`, `storage`, `otlp` and `tracing`.

use crate::discovery::{RawSd, convert_sd, take_sd};
use crate::http::{RawTls, convert_http, convert_tls_only, parse_go_url, with_http};
use crate::load::{Ctx, idx, sub};
use crate::relabel::{PendingRelabel, RawRelabels, any, convert_relabels, validate_relabels};
use crate::types::*;
use crate::yaml::{Pairs, Pos, Sp};
use crate::{ByteSize, ConfigError, Duration};
use ember_model::labels::ValidationScheme;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlerting {
    alert_relabel_configs: RawRelabels,
    alertmanagers: Option<Vec<Sp<Option<RawAlertmanager>>>>,
}

with_http! {
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct RawAlertmanager {
        scheme: Option<String>,
        path_prefix: Option<String>,
        timeout: Option<Duration>,
        api_version: Option<Sp<String>>,
        sigv4: Option<Sp<Option<RawSigV4>>>,
        relabel_configs: RawRelabels,
        alert_relabel_configs: RawRelabels,
        static_configs: Option<Vec<Sp<Option<crate::discovery::RawTargetGroup>>>>,
        file_sd_configs: Option<Vec<Sp<Option<crate::discovery::RawFileSd>>>>,
        http_sd_configs: Option<Vec<Sp<Option<crate::discovery::RawHttpSd>>>>,
        dns_sd_configs: Option<Vec<Sp<Option<crate::discovery::RawDnsSd>>>>,
        consul_sd_configs: Option<Vec<Sp<Option<crate::discovery::RawConsulSd>>>>,
        kubernetes_sd_configs: Option<Vec<Sp<Option<crate::discovery::RawKubernetesSd>>>>,
    }
}

with_http! {
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct RawRemoteWrite {
        url: Option<Sp<String>>,
        remote_timeout: Option<Duration>,
        headers: Option<Pairs<Sp<String>, String>>,
        write_relabel_configs: RawRelabels,
        name: Option<Sp<String>>,
        send_exemplars: Option<bool>,
        send_native_histograms: Option<bool>,
        round_robin_dns: Option<bool>,
        protobuf_message: Option<Sp<String>>,
        failed_request_logging: Option<bool>,
        queue_config: Option<Sp<RawQueue>>,
        metadata_config: Option<RawMetadata>,
        sigv4: Option<Sp<Option<RawSigV4>>>,
        azuread: Option<Sp<serde::de::IgnoredAny>>,
        google_iam: Option<Sp<serde::de::IgnoredAny>>,
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSigV4 {
    region: Option<String>,
    access_key: Option<String>,
    secret_key: Option<crate::Secret>,
    profile: Option<String>,
    role_arn: Option<Sp<String>>,
    external_id: Option<String>,
    use_fips_sts_endpoint: Option<bool>,
}

/// A `sigv4` block (`sigv4: {}` takes everything from the AWS environment), with
/// the checks of Prometheus's sigv4 package; `role_arn` is refused as unsupported.
fn convert_sigv4(
    raw: Option<Sp<Option<RawSigV4>>>,
    ctx: &Ctx,
    field: &str,
) -> Result<Option<crate::SigV4Config>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let pos = Pos::of(&raw);
    let field = sub(field, "sigv4");
    let r = raw.value.unwrap_or_default();
    let cfg = crate::SigV4Config {
        region: r.region.unwrap_or_default(),
        access_key: r.access_key.unwrap_or_default(),
        secret_key: r.secret_key.unwrap_or_default(),
        profile: r.profile.unwrap_or_default(),
        role_arn: r
            .role_arn
            .as_ref()
            .map(|v| v.value.clone())
            .unwrap_or_default(),
        external_id: r.external_id.unwrap_or_default(),
        use_fips_sts_endpoint: r.use_fips_sts_endpoint.unwrap_or(false),
    };
    if cfg.access_key.is_empty() != cfg.secret_key.is_empty() {
        return Err(ctx.invalid(
            &field,
            pos,
            "must provide a AWS SigV4 Access key and Secret Key if credentials are provided in the SigV4 config",
        ));
    }
    if !cfg.external_id.is_empty() && cfg.role_arn.is_empty() {
        return Err(ctx.invalid(&field, pos, "external_id can only be used with role_arn"));
    }
    if let Some(role) = r.role_arn.as_ref().filter(|v| !v.value.is_empty()) {
        return Err(ctx.unsupported(&sub(&field, "role_arn"), Pos::of(role), "sigv4.role_arn"));
    }
    Ok(Some(cfg))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQueue {
    capacity: Option<i64>,
    max_shards: Option<i64>,
    min_shards: Option<i64>,
    max_samples_per_send: Option<i64>,
    batch_send_deadline: Option<Duration>,
    min_backoff: Option<Duration>,
    max_backoff: Option<Duration>,
    retry_on_http_429: Option<bool>,
    sample_age_limit: Option<Duration>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetadata {
    send: Option<bool>,
    send_interval: Option<Duration>,
    max_samples_per_send: Option<i64>,
}

with_http! {
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct RawRemoteRead {
        url: Option<Sp<String>>,
        remote_timeout: Option<Duration>,
        chunked_read_limit: Option<u64>,
        headers: Option<Pairs<Sp<String>, String>>,
        read_recent: Option<bool>,
        name: Option<Sp<String>>,
        required_matchers: Option<BTreeMap<String, String>>,
        filter_external_labels: Option<bool>,
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStorage {
    tsdb: Option<RawTsdb>,
    exemplars: Option<RawExemplars>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTsdb {
    out_of_order_time_window: Option<Duration>,
    stale_series_compaction_threshold: Option<f64>,
    chunk_encoding: Option<RawChunkEncoding>,
    retention: Option<RawRetention>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChunkEncoding {
    floats: Option<Sp<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetention {
    time: Option<Duration>,
    size: Option<Sp<ByteSize>>,
    percentage: Option<Sp<f64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExemplars {
    max_exemplars: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOtlp {
    promote_all_resource_attributes: Option<bool>,
    promote_resource_attributes: Option<Vec<String>>,
    ignore_resource_attributes: Option<Vec<String>>,
    translation_strategy: Option<Sp<String>>,
    keep_identifying_resource_attributes: Option<bool>,
    convert_histograms_to_nhcb: Option<bool>,
    promote_scope_metadata: Option<bool>,
    label_name_underscore_sanitization: Option<bool>,
    label_name_preserve_multiple_underscores: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTracing {
    client_type: Option<Sp<String>>,
    endpoint: Option<String>,
    sampling_fraction: Option<f64>,
    insecure: Option<bool>,
    tls_config: Option<Sp<RawTls>>,
    headers: Option<Pairs<Sp<String>, String>>,
    compression: Option<Sp<String>>,
    timeout: Option<Duration>,
}

// ---------------------------------------------------------------------------------
// Alerting.

pub(crate) struct AmStage {
    cfg: AlertmanagerConfig,
    relabel: Vec<PendingRelabel>,
    alert_relabel: Vec<PendingRelabel>,
}

pub(crate) struct AlertingStage {
    alert_relabel: Vec<PendingRelabel>,
    alertmanagers: Vec<AmStage>,
}

pub(crate) fn alerting_stage(
    raw: Option<Sp<RawAlerting>>,
    ctx: &mut Ctx,
) -> Result<AlertingStage, ConfigError> {
    let Some(raw) = raw else {
        return Ok(AlertingStage {
            alert_relabel: Vec::new(),
            alertmanagers: Vec::new(),
        });
    };
    let r = raw.value;
    let mut alertmanagers = Vec::new();
    for (i, item) in r.alertmanagers.unwrap_or_default().into_iter().enumerate() {
        let field = idx("alerting.alertmanagers", i);
        let pos = Pos::of(&item);
        let Some(mut am) = item.value else {
            return Err(ctx.invalid(&field, pos, "empty or null Alertmanager config section"));
        };
        let api_version = match &am.api_version {
            Some(v) if v.value != "v2" => {
                return Err(ctx.invalid(
                    &sub(&field, "api_version"),
                    Pos::of(v),
                    format!(
                        "expected Alertmanager api version to be one of [v2] but got {}",
                        v.value
                    ),
                ));
            }
            _ => "v2".to_string(),
        };
        let check_targets = !any(&am.relabel_configs);
        let sd: RawSd = take_sd!(am);
        let service_discovery = convert_sd(sd, ctx, &field, check_targets)?;
        let http_client = convert_http(am.take_http(), (true, true), ctx, &field, pos)?;
        let sigv4 = convert_sigv4(am.sigv4.take(), ctx, &field)?;
        if sigv4.is_some()
            && (http_client.basic_auth.is_some()
                || http_client.authorization.is_some()
                || http_client.oauth2.is_some())
        {
            return Err(ctx.invalid(
                &field,
                pos,
                "at most one of basic_auth, authorization, oauth2, & sigv4 must be configured",
            ));
        }
        let relabel = convert_relabels(
            am.relabel_configs.take(),
            ctx,
            &sub(&field, "relabel_configs"),
            "empty or null Alertmanager target relabeling rule",
        )?;
        let alert_relabel = convert_relabels(
            am.alert_relabel_configs.take(),
            ctx,
            &sub(&field, "alert_relabel_configs"),
            "empty or null Alertmanager alert relabeling rule",
        )?;
        alertmanagers.push(AmStage {
            cfg: AlertmanagerConfig {
                http_client,
                service_discovery,
                scheme: am.scheme.unwrap_or_else(|| "http".into()),
                path_prefix: am.path_prefix.unwrap_or_default(),
                timeout: am.timeout.unwrap_or(Duration::from_secs(10)),
                api_version,
                relabel_configs: Vec::new(),
                alert_relabel_configs: Vec::new(),
                sigv4,
            },
            relabel,
            alert_relabel,
        });
    }
    let alert_relabel = convert_relabels(
        r.alert_relabel_configs,
        ctx,
        "alerting.alert_relabel_configs",
        "empty or null alert relabeling rule",
    )?;
    Ok(AlertingStage {
        alert_relabel,
        alertmanagers,
    })
}

pub(crate) fn alerting_finish(
    s: AlertingStage,
    scheme: ValidationScheme,
    ctx: &Ctx,
) -> Result<AlertingConfig, ConfigError> {
    let alert_relabel_configs = validate_relabels(s.alert_relabel, scheme, ctx)?;
    let mut alertmanagers = Vec::new();
    for am in s.alertmanagers {
        let mut cfg = am.cfg;
        cfg.alert_relabel_configs = validate_relabels(am.alert_relabel, scheme, ctx)?;
        cfg.relabel_configs = validate_relabels(am.relabel, scheme, ctx)?;
        alertmanagers.push(cfg);
    }
    Ok(AlertingConfig {
        alert_relabel_configs,
        alertmanagers,
    })
}

// ---------------------------------------------------------------------------------
// Remote write and read.

/// Headers Prometheus sets itself or that would change the connection
/// (`reservedHeaders`, compared in lower case).
const RESERVED_REMOTE_HEADERS: &[&str] = &[
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

fn convert_headers(
    raw: Option<Pairs<Sp<String>, String>>,
    ctx: &Ctx,
    field: &str,
    authorization_msg: &str,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for (k, v) in raw.unwrap_or_default().0 {
        let lower = k.value.to_lowercase();
        let here = format!("{field}[{:?}]", k.value);
        if lower == "authorization" {
            return Err(ctx.invalid(&here, Pos::of(&k), authorization_msg));
        }
        if RESERVED_REMOTE_HEADERS.contains(&lower.as_str()) {
            return Err(ctx.invalid(
                &here,
                Pos::of(&k),
                format!("{} is a reserved header. It must not be changed", k.value),
            ));
        }
        out.insert(k.value, v);
    }
    Ok(out)
}

const REMOTE_AUTH_MSG: &str = "authorization header must be changed via the basic_auth, authorization, oauth2, sigv4, azuread or google_iam parameter";

fn check_url(url: &Sp<String>, ctx: &Ctx, field: &str) -> Result<String, ConfigError> {
    parse_go_url(&url.value).map_err(|e| ctx.invalid(&sub(field, "url"), Pos::of(url), e))?;
    Ok(url.value.clone())
}

pub(crate) struct RemoteWriteStage {
    pub(crate) cfg: RemoteWriteConfig,
    pub(crate) relabel: Vec<PendingRelabel>,
    pub(crate) name_pos: Pos,
    pub(crate) field: String,
}

pub(crate) fn remote_write_stage(
    item: Sp<Option<RawRemoteWrite>>,
    ctx: &mut Ctx,
    field: &str,
) -> Result<Option<RemoteWriteStage>, ConfigError> {
    let pos = Pos::of(&item);
    let Some(mut r) = item.value else {
        return Ok(None);
    };
    let Some(url) = &r.url else {
        return Err(ctx.invalid(field, pos, "url for remote_write is empty"));
    };
    let url = check_url(url, ctx, field)?;
    let relabel = convert_relabels(
        r.write_relabel_configs.take(),
        ctx,
        &sub(field, "write_relabel_configs"),
        "empty or null relabeling rule in remote write config",
    )?;
    let headers = convert_headers(
        r.headers.take(),
        ctx,
        &sub(field, "headers"),
        REMOTE_AUTH_MSG,
    )?;
    let protobuf_message = match &r.protobuf_message {
        None => RemoteWriteMessage::V1,
        Some(m) if m.value.is_empty() || m.value == RemoteWriteMessage::V1.as_str() => {
            RemoteWriteMessage::V1
        }
        Some(m) if m.value == RemoteWriteMessage::V2.as_str() => RemoteWriteMessage::V2,
        Some(m) => {
            return Err(ctx.invalid(
                &sub(field, "protobuf_message"),
                Pos::of(m),
                format!(
                    "invalid protobuf_message value: unknown type for remote write protobuf message {}, supported: {}, {}",
                    m.value,
                    RemoteWriteMessage::V1.as_str(),
                    RemoteWriteMessage::V2.as_str()
                ),
            ));
        }
    };
    let http_client = convert_http(r.take_http(), (true, false), ctx, field, pos)?;
    let rq = r.queue_config.take();
    let qpos = rq.as_ref().map_or(pos, Pos::of);
    let rq = rq.map(|q| q.value).unwrap_or_default();
    let d = QueueConfig::default();
    let queue_config = QueueConfig {
        capacity: rq.capacity.unwrap_or(d.capacity),
        max_shards: rq.max_shards.unwrap_or(d.max_shards),
        min_shards: rq.min_shards.unwrap_or(d.min_shards),
        max_samples_per_send: rq.max_samples_per_send.unwrap_or(d.max_samples_per_send),
        batch_send_deadline: rq.batch_send_deadline.unwrap_or(d.batch_send_deadline),
        min_backoff: rq.min_backoff.unwrap_or(d.min_backoff),
        max_backoff: rq.max_backoff.unwrap_or(d.max_backoff),
        retry_on_http_429: rq.retry_on_http_429.unwrap_or(false),
        sample_age_limit: rq.sample_age_limit.unwrap_or_default(),
    };
    let q = &queue_config;
    let queue_err = if q.max_shards <= 0 {
        Some("remote write queue max_shards must be positive")
    } else if q.min_shards <= 0 {
        Some("remote write queue min_shards must be positive")
    } else if q.min_shards > q.max_shards {
        Some("remote write queue min_shards must not be greater than max_shards")
    } else if q.max_samples_per_send <= 0 {
        Some("remote write queue max_samples_per_send must be positive")
    } else if q.capacity <= 0 {
        Some("remote write queue capacity must be positive")
    } else if q.max_backoff < q.min_backoff {
        Some("remote write queue max_backoff must not be less than min_backoff")
    } else {
        None
    };
    if let Some(m) = queue_err {
        return Err(ctx.invalid(&sub(field, "queue_config"), qpos, m));
    }
    let mut auths = Vec::new();
    if http_client.basic_auth.is_some() {
        auths.push("basic_auth");
    }
    if http_client.authorization.is_some() {
        auths.push("authorization");
    }
    if http_client.oauth2.is_some() {
        auths.push("oauth2");
    }
    if r.sigv4.is_some() {
        auths.push("sigv4");
    }
    let clouds = [("azuread", &r.azuread), ("google_iam", &r.google_iam)];
    auths.extend(clouds.iter().filter(|(_, v)| v.is_some()).map(|(n, _)| *n));
    if auths.len() > 1 {
        return Err(ctx.invalid(
            field,
            pos,
            format!(
                "at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam must be configured. Currently configured: [{}]",
                auths.join(" ")
            ),
        ));
    }
    if let Some((name, Some(v))) = clouds.iter().find(|(_, v)| v.is_some()) {
        return Err(ctx.unsupported(&sub(field, name), Pos::of(v), name));
    }
    let sigv4 = convert_sigv4(r.sigv4.take(), ctx, field)?;
    let rm = r.metadata_config.take().unwrap_or_default();
    let md = MetadataConfig::default();
    let name_pos = r.name.as_ref().map_or(pos, Pos::of);
    Ok(Some(RemoteWriteStage {
        cfg: RemoteWriteConfig {
            url,
            remote_timeout: r.remote_timeout.unwrap_or(Duration::from_secs(30)),
            headers,
            write_relabel_configs: Vec::new(),
            name: r.name.map(|n| n.value).unwrap_or_default(),
            send_exemplars: r.send_exemplars.unwrap_or(false),
            send_native_histograms: r.send_native_histograms.unwrap_or(false),
            round_robin_dns: r.round_robin_dns.unwrap_or(false),
            protobuf_message,
            failed_request_logging: r.failed_request_logging.unwrap_or(false),
            http_client,
            queue_config,
            metadata_config: MetadataConfig {
                send: rm.send.unwrap_or(md.send),
                send_interval: rm.send_interval.unwrap_or(md.send_interval),
                max_samples_per_send: rm.max_samples_per_send.unwrap_or(md.max_samples_per_send),
            },
            sigv4,
        },
        relabel,
        name_pos,
        field: field.to_string(),
    }))
}

pub(crate) struct RemoteReadStage {
    pub(crate) cfg: RemoteReadConfig,
    pub(crate) name_pos: Pos,
    pub(crate) field: String,
}

pub(crate) fn remote_read_stage(
    item: Sp<Option<RawRemoteRead>>,
    ctx: &mut Ctx,
    field: &str,
) -> Result<Option<RemoteReadStage>, ConfigError> {
    let pos = Pos::of(&item);
    let Some(mut r) = item.value else {
        return Ok(None);
    };
    let Some(url) = &r.url else {
        return Err(ctx.invalid(field, pos, "url for remote_read is empty"));
    };
    let url = check_url(url, ctx, field)?;
    let headers = convert_headers(
        r.headers.take(),
        ctx,
        &sub(field, "headers"),
        REMOTE_AUTH_MSG,
    )?;
    let http_client = convert_http(r.take_http(), (true, true), ctx, field, pos)?;
    let name_pos = r.name.as_ref().map_or(pos, Pos::of);
    Ok(Some(RemoteReadStage {
        cfg: RemoteReadConfig {
            url,
            remote_timeout: r.remote_timeout.unwrap_or(Duration::from_secs(60)),
            chunked_read_limit: r.chunked_read_limit.unwrap_or(50_000_000),
            headers,
            read_recent: r.read_recent.unwrap_or(false),
            name: r.name.map(|n| n.value).unwrap_or_default(),
            http_client,
            required_matchers: r.required_matchers.unwrap_or_default(),
            filter_external_labels: r.filter_external_labels.unwrap_or(true),
        },
        name_pos,
        field: field.to_string(),
    }))
}

// ---------------------------------------------------------------------------------
// Storage, OTLP, tracing.

pub(crate) fn convert_storage(
    raw: Option<RawStorage>,
    ctx: &Ctx,
) -> Result<StorageConfig, ConfigError> {
    let raw = raw.unwrap_or_default();
    let t = raw.tsdb.unwrap_or_default();
    let floats = match t.chunk_encoding.and_then(|c| c.floats) {
        None => None,
        Some(f) if f.value.is_empty() => None,
        Some(f) if f.value == "xor" || f.value == "xor2" => Some(f.value),
        Some(f) => {
            return Err(ctx.invalid(
                "storage.tsdb.chunk_encoding.floats",
                Pos::of(&f),
                format!(
                    "'storage.tsdb.chunk_encoding.floats' must be 'xor' or 'xor2', or the field must be omitted entirely, got {:?}",
                    f.value
                ),
            ));
        }
    };
    let ret = t.retention.unwrap_or_default();
    let size = match ret.size {
        Some(s) if s.value.0 < 0 => {
            return Err(ctx.invalid(
                "storage.tsdb.retention.size",
                Pos::of(&s),
                format!(
                    "'storage.tsdb.retention.size' must be greater than or equal to 0, got {}",
                    s.value
                ),
            ));
        }
        Some(s) => s.value,
        None => ByteSize(0),
    };
    let percentage = match ret.percentage {
        Some(p) if !(0.0..=100.0).contains(&p.value) => {
            return Err(ctx.invalid(
                "storage.tsdb.retention.percentage",
                Pos::of(&p),
                format!(
                    "'storage.tsdb.retention.percentage' must be in the range [0, 100], got {}",
                    p.value
                ),
            ));
        }
        Some(p) => p.value,
        None => 0.0,
    };
    Ok(StorageConfig {
        tsdb: TsdbConfig {
            out_of_order_time_window: t.out_of_order_time_window.unwrap_or_default(),
            stale_series_compaction_threshold: t.stale_series_compaction_threshold.unwrap_or(0.0),
            chunk_encoding: ChunkEncodingConfig { floats },
            retention: RetentionConfig {
                time: ret.time.unwrap_or_default(),
                size,
                percentage,
            },
        },
        exemplars: raw.exemplars.map(|e| ExemplarsConfig {
            max_exemplars: e.max_exemplars.unwrap_or(0),
        }),
    })
}

/// Trims attribute names and rejects empty and repeated ones, reporting them all.
fn sanitize_attributes(attrs: Vec<String>, adjective: &str) -> Result<Vec<String>, String> {
    let mut errors = Vec::new();
    let mut out: Vec<String> = Vec::new();
    for a in attrs {
        let a = a.trim().to_string();
        if a.is_empty() {
            errors.push(format!("empty {adjective} OTel resource attribute"));
        } else if out.contains(&a) {
            errors.push(format!(
                "duplicated {adjective} OTel resource attribute {a:?}"
            ));
        } else {
            out.push(a);
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.join("; "))
    }
}

pub(crate) fn convert_otlp(
    raw: Option<Sp<RawOtlp>>,
    ctx: &Ctx,
) -> Result<(OtlpConfig, Pos), ConfigError> {
    let mut o = OtlpConfig::default();
    let Some(raw) = raw else {
        return Ok((o, Pos::default()));
    };
    let pos = Pos::of(&raw);
    let r = raw.value;
    let mut strategy_pos = pos;
    if let Some(t) = &r.translation_strategy {
        strategy_pos = Pos::of(t);
        if !t.value.is_empty() {
            o.translation_strategy = TranslationStrategy::from_name(&t.value).ok_or_else(|| {
                ctx.invalid(
                    "otlp.translation_strategy",
                    strategy_pos,
                    format!("unsupported OTLP translation strategy {:?}", t.value),
                )
            })?;
        }
    }
    o.promote_all_resource_attributes = r.promote_all_resource_attributes.unwrap_or(false);
    let promote = r.promote_resource_attributes.unwrap_or_default();
    let ignore = r.ignore_resource_attributes.unwrap_or_default();
    if o.promote_all_resource_attributes {
        if !promote.is_empty() {
            return Err(ctx.invalid(
                "otlp",
                pos,
                "'promote_all_resource_attributes' and 'promote_resource_attributes' cannot be configured simultaneously",
            ));
        }
        o.ignore_resource_attributes = sanitize_attributes(ignore, "ignored").map_err(|e| {
            ctx.invalid(
                "otlp.ignore_resource_attributes",
                pos,
                format!("invalid 'ignore_resource_attributes': {e}"),
            )
        })?;
    } else {
        if !ignore.is_empty() {
            return Err(ctx.invalid(
                "otlp",
                pos,
                "'ignore_resource_attributes' cannot be configured unless 'promote_all_resource_attributes' is true",
            ));
        }
        o.promote_resource_attributes = sanitize_attributes(promote, "promoted").map_err(|e| {
            ctx.invalid(
                "otlp.promote_resource_attributes",
                pos,
                format!("invalid 'promote_resource_attributes': {e}"),
            )
        })?;
    }
    o.keep_identifying_resource_attributes =
        r.keep_identifying_resource_attributes.unwrap_or(false);
    o.convert_histograms_to_nhcb = r.convert_histograms_to_nhcb.unwrap_or(false);
    o.promote_scope_metadata = r.promote_scope_metadata.unwrap_or(false);
    o.label_name_underscore_sanitization = r.label_name_underscore_sanitization.unwrap_or(true);
    o.label_name_preserve_multiple_underscores =
        r.label_name_preserve_multiple_underscores.unwrap_or(true);
    Ok((o, strategy_pos))
}

pub(crate) fn convert_tracing(
    raw: Option<Sp<RawTracing>>,
    ctx: &mut Ctx,
) -> Result<Option<TracingConfig>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let pos = Pos::of(&raw);
    let r = raw.value;
    let client_type = match &r.client_type {
        None => TracingClientType::Grpc,
        Some(c) if c.value == "grpc" => TracingClientType::Grpc,
        Some(c) if c.value == "http" => TracingClientType::Http,
        Some(c) => {
            return Err(ctx.invalid(
                "tracing.client_type",
                Pos::of(c),
                format!(
                    "expected tracing client type to be to be http or grpc, but got {}",
                    c.value
                ),
            ));
        }
    };
    let tls_config = convert_tls_only(r.tls_config, ctx, "tracing.tls_config")?;
    let headers = convert_headers(
        r.headers,
        ctx,
        "tracing.headers",
        "custom authorization header configuration is not yet supported",
    )?;
    let endpoint = r.endpoint.unwrap_or_default();
    if endpoint.is_empty() {
        return Err(ctx.invalid("tracing", pos, "tracing endpoint must be set"));
    }
    let compression = match r.compression {
        None => String::new(),
        Some(c) if c.value.is_empty() || c.value == "gzip" => c.value,
        Some(c) => {
            return Err(ctx.invalid(
                "tracing.compression",
                Pos::of(&c),
                format!(
                    "invalid compression type {} provided, valid options: gzip",
                    c.value
                ),
            ));
        }
    };
    Ok(Some(TracingConfig {
        client_type,
        endpoint,
        sampling_fraction: r.sampling_fraction.unwrap_or(0.0),
        insecure: r.insecure.unwrap_or(false),
        tls_config,
        headers,
        compression,
        timeout: r.timeout.unwrap_or_default(),
    }))
}
