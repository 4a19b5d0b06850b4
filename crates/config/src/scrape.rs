//! `global` and `scrape_configs`: the scrape job schema and how a job inherits from
//! `global`, following Prometheus's `ScrapeConfig.UnmarshalYAML` and `Validate`.

use crate::discovery::{RawSd, convert_sd, take_sd};
use crate::http::{convert_http, with_http};
use crate::load::{Ctx, idx, sub};
use crate::relabel::{PendingRelabel, RawRelabels, any, convert_relabels, validate_relabels};
use crate::types::*;
use crate::yaml::{Pairs, Pos, Sp};
use crate::{ByteSize, ConfigError, Duration};
use ember_model::labels::{Labels, ValidationScheme, is_valid_label_name};
use serde::{Deserialize, Deserializer};
use std::collections::{BTreeMap, HashMap};

/// `metric_name_validation_scheme`: empty (unset), `legacy` or `utf8`.
pub(crate) struct SchemeName(Option<ValidationScheme>);

impl<'de> Deserialize<'de> for SchemeName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "" => Ok(SchemeName(None)),
            "legacy" => Ok(SchemeName(Some(ValidationScheme::Legacy))),
            "utf8" => Ok(SchemeName(Some(ValidationScheme::Utf8))),
            _ => Err(serde::de::Error::custom(format!(
                "unrecognized ValidationScheme: {s:?}"
            ))),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGlobal {
    scrape_interval: Option<Duration>,
    scrape_timeout: Option<Sp<Duration>>,
    scrape_protocols: Option<Sp<Vec<String>>>,
    evaluation_interval: Option<Duration>,
    rule_query_offset: Option<Duration>,
    query_log_file: Option<String>,
    scrape_failure_log_file: Option<String>,
    external_labels: Option<Pairs<Sp<String>, Option<String>>>,
    body_size_limit: Option<ByteSize>,
    sample_limit: Option<u64>,
    target_limit: Option<u64>,
    label_limit: Option<u64>,
    label_name_length_limit: Option<u64>,
    label_value_length_limit: Option<u64>,
    keep_dropped_targets: Option<u64>,
    metric_name_validation_scheme: Option<SchemeName>,
    metric_name_escaping_scheme: Option<Sp<String>>,
    scrape_native_histograms: Option<bool>,
    convert_classic_histograms_to_nhcb: Option<bool>,
    always_scrape_classic_histograms: Option<bool>,
    extra_scrape_metrics: Option<bool>,
}

with_http! {
    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct RawScrapeConfig {
        job_name: Option<Sp<String>>,
        honor_labels: Option<bool>,
        honor_timestamps: Option<bool>,
        track_timestamps_staleness: Option<bool>,
        params: Option<BTreeMap<String, Vec<String>>>,
        scrape_interval: Option<Duration>,
        scrape_timeout: Option<Sp<Duration>>,
        scrape_protocols: Option<Sp<Vec<String>>>,
        fallback_scrape_protocol: Option<Sp<String>>,
        scrape_native_histograms: Option<bool>,
        always_scrape_classic_histograms: Option<bool>,
        convert_classic_histograms_to_nhcb: Option<bool>,
        scrape_failure_log_file: Option<String>,
        metrics_path: Option<String>,
        scheme: Option<String>,
        enable_compression: Option<bool>,
        body_size_limit: Option<ByteSize>,
        sample_limit: Option<u64>,
        target_limit: Option<u64>,
        label_limit: Option<u64>,
        label_name_length_limit: Option<u64>,
        label_value_length_limit: Option<u64>,
        native_histogram_bucket_limit: Option<u64>,
        native_histogram_min_bucket_factor: Option<f64>,
        keep_dropped_targets: Option<u64>,
        metric_name_validation_scheme: Option<SchemeName>,
        metric_name_escaping_scheme: Option<Sp<String>>,
        extra_scrape_metrics: Option<bool>,
        relabel_configs: RawRelabels,
        metric_relabel_configs: RawRelabels,
        static_configs: Option<Vec<Sp<Option<crate::discovery::RawTargetGroup>>>>,
        file_sd_configs: Option<Vec<Sp<Option<crate::discovery::RawFileSd>>>>,
        http_sd_configs: Option<Vec<Sp<Option<crate::discovery::RawHttpSd>>>>,
        dns_sd_configs: Option<Vec<Sp<Option<crate::discovery::RawDnsSd>>>>,
        consul_sd_configs: Option<Vec<Sp<Option<crate::discovery::RawConsulSd>>>>,
        kubernetes_sd_configs: Option<Vec<Sp<Option<crate::discovery::RawKubernetesSd>>>>,
    }
}

// ---------------------------------------------------------------------------------
// Global.

/// What the scrape jobs still need from `global` that the effective
/// [`GlobalConfig`] cannot hold: the escaping scheme as written, which Prometheus
/// checks per job.
pub(crate) struct GlobalExtra {
    escaping: Option<(String, Pos)>,
}

fn protocol_list(sps: &[String]) -> String {
    format!("[{}]", sps.join(" "))
}

fn supported_protocols() -> String {
    protocol_list(
        &ScrapeProtocol::ALL
            .iter()
            .map(|p| p.as_str().to_string())
            .collect::<Vec<_>>(),
    )
}

fn unknown_protocol(p: &str) -> String {
    format!(
        "unknown scrape protocol {p}, supported: {}",
        supported_protocols()
    )
}

/// Prometheus's `validateAcceptScrapeProtocols`, before the caller's suffix.
fn validate_protocols(sps: &[String]) -> Result<Vec<ScrapeProtocol>, String> {
    if sps.is_empty() {
        return Err("scrape_protocols cannot be empty".into());
    }
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for sp in sps {
        let lower = sp.to_lowercase();
        if seen.contains(&lower) {
            return Err(format!(
                "duplicated protocol in scrape_protocols, got {}",
                protocol_list(sps)
            ));
        }
        let p = ScrapeProtocol::from_name(sp)
            .ok_or_else(|| format!("scrape_protocols: {}", unknown_protocol(sp)))?;
        seen.push(lower);
        out.push(p);
    }
    Ok(out)
}

pub(crate) fn convert_global(
    raw: Option<Sp<RawGlobal>>,
    ctx: &Ctx,
) -> Result<(GlobalConfig, GlobalExtra), ConfigError> {
    let mut g = GlobalConfig::default();
    let Some(raw) = raw else {
        return Ok((g, GlobalExtra { escaping: None }));
    };
    let r = raw.value;
    let scheme = r
        .metric_name_validation_scheme
        .and_then(|s| s.0)
        .unwrap_or(ValidationScheme::Utf8);
    let mut labels = Vec::new();
    for (name, value) in r.external_labels.unwrap_or_default().0 {
        if !is_valid_label_name(&name.value, scheme) {
            return Err(ctx.invalid(
                &format!("global.external_labels[{:?}]", name.value),
                Pos::of(&name),
                format!("{:?} is not a valid label name", name.value),
            ));
        }
        labels.push((name.value, value.unwrap_or_default()));
    }
    g.external_labels = Labels::from_pairs(labels);
    if let Some(i) = r.scrape_interval.filter(|d| !d.is_zero()) {
        g.scrape_interval = i;
    }
    let timeout = r.scrape_timeout.map(|t| (t.value, Pos::of(&t)));
    if let Some((t, pos)) = timeout
        && t > g.scrape_interval
    {
        return Err(ctx.invalid(
            "global.scrape_timeout",
            pos,
            "global scrape timeout greater than scrape interval",
        ));
    }
    g.scrape_timeout = match timeout {
        Some((t, _)) if !t.is_zero() => t,
        _ => Duration::from_secs(10).min(g.scrape_interval),
    };
    if let Some(e) = r.evaluation_interval.filter(|d| !d.is_zero()) {
        g.evaluation_interval = e;
    }
    g.rule_query_offset = r.rule_query_offset.unwrap_or_default();
    if let Some(sps) = r.scrape_protocols {
        let pos = Pos::of(&sps);
        g.scrape_protocols = Some(validate_protocols(&sps.value).map_err(|e| {
            ctx.invalid(
                "global.scrape_protocols",
                pos,
                format!("{e} for global config"),
            )
        })?);
    }
    g.query_log_file = ctx.join(&r.query_log_file.unwrap_or_default());
    g.scrape_failure_log_file = ctx.join(&r.scrape_failure_log_file.unwrap_or_default());
    g.body_size_limit = r.body_size_limit.unwrap_or_default();
    g.sample_limit = r.sample_limit.unwrap_or(0);
    g.target_limit = r.target_limit.unwrap_or(0);
    g.label_limit = r.label_limit.unwrap_or(0);
    g.label_name_length_limit = r.label_name_length_limit.unwrap_or(0);
    g.label_value_length_limit = r.label_value_length_limit.unwrap_or(0);
    g.keep_dropped_targets = r.keep_dropped_targets.unwrap_or(0);
    g.metric_name_validation_scheme = scheme;
    let escaping = r
        .metric_name_escaping_scheme
        .map(|e| (e.value.clone(), Pos::of(&e)))
        .filter(|(e, _)| !e.is_empty());
    g.metric_name_escaping_scheme = escaping
        .as_ref()
        .and_then(|(e, _)| EscapingScheme::from_name(e));
    g.scrape_native_histograms = r.scrape_native_histograms.unwrap_or(false);
    g.convert_classic_histograms_to_nhcb = r.convert_classic_histograms_to_nhcb.unwrap_or(false);
    g.always_scrape_classic_histograms = r.always_scrape_classic_histograms.unwrap_or(false);
    g.extra_scrape_metrics = r.extra_scrape_metrics.unwrap_or(false);
    Ok((g, GlobalExtra { escaping }))
}

// ---------------------------------------------------------------------------------
// Scrape configs.

/// A scrape job after decoding, before `global` is applied.
pub(crate) struct ScrapeStage {
    pub(crate) raw: RawScrapeConfig,
    job_name: String,
    http_client: crate::http::HttpClientConfig,
    service_discovery: crate::discovery::ServiceDiscoveryConfigs,
    relabel: Vec<PendingRelabel>,
    metric_relabel: Vec<PendingRelabel>,
    field: String,
    pos: Pos,
}

/// Decode-time checks of one job (`ScrapeConfig.UnmarshalYAML`); `None` for a
/// `null` entry, which the next round reports.
fn scrape_stage(
    item: Sp<Option<RawScrapeConfig>>,
    ctx: &mut Ctx,
    field: String,
) -> Result<Option<ScrapeStage>, ConfigError> {
    let pos = Pos::of(&item);
    let Some(mut raw) = item.value else {
        return Ok(None);
    };
    let check_targets = !any(&raw.relabel_configs);
    let sd: RawSd = take_sd!(raw);
    let service_discovery = convert_sd(sd, ctx, &field, check_targets)?;
    let job_name = raw
        .job_name
        .as_ref()
        .map(|j| j.value.clone())
        .unwrap_or_default();
    if job_name.is_empty() {
        let (f, p) = match &raw.job_name {
            Some(j) => (sub(&field, "job_name"), Pos::of(j)),
            None => (field.clone(), pos),
        };
        return Err(ctx.invalid(&f, p, "job_name is empty"));
    }
    let http_client = convert_http(raw.take_http(), (true, true), ctx, &field, pos)?;
    let relabel = convert_relabels(
        raw.relabel_configs.take(),
        ctx,
        &sub(&field, "relabel_configs"),
        "empty or null target relabeling rule in scrape config",
    )?;
    let metric_relabel = convert_relabels(
        raw.metric_relabel_configs.take(),
        ctx,
        &sub(&field, "metric_relabel_configs"),
        "empty or null metric relabeling rule in scrape config",
    )?;
    Ok(Some(ScrapeStage {
        raw,
        job_name,
        http_client,
        service_discovery,
        relabel,
        metric_relabel,
        field,
        pos,
    }))
}

fn escaping_choices() -> &'static str {
    "must be one of 'allow-utf-8', 'underscores', 'dots', or 'values'"
}

/// `ScrapeConfig.Validate`: applies `global` and checks what depends on it.
fn scrape_finish(
    stage: ScrapeStage,
    g: &GlobalConfig,
    gx: &GlobalExtra,
    ctx: &Ctx,
) -> Result<ScrapeConfig, ConfigError> {
    let ScrapeStage {
        raw: r,
        job_name,
        http_client,
        service_discovery,
        relabel,
        metric_relabel,
        field,
        pos,
    } = stage;
    let job = &job_name;
    let scrape_interval = r
        .scrape_interval
        .filter(|d| !d.is_zero())
        .unwrap_or(g.scrape_interval);
    let timeout = r.scrape_timeout.as_ref().map(|t| (t.value, Pos::of(t)));
    if let Some((t, tpos)) = timeout
        && t > scrape_interval
    {
        return Err(ctx.invalid(
            &sub(&field, "scrape_timeout"),
            tpos,
            format!("scrape timeout greater than scrape interval for scrape config with job name {job:?}"),
        ));
    }
    let scrape_timeout = match timeout {
        Some((t, _)) if !t.is_zero() => t,
        _ => g.scrape_timeout.min(scrape_interval),
    };
    let or_global = |v: Option<u64>, gv: u64| v.filter(|n| *n != 0).unwrap_or(gv);
    let scrape_native_histograms = r
        .scrape_native_histograms
        .unwrap_or(g.scrape_native_histograms);
    let scrape_protocols = match &r.scrape_protocols {
        Some(sps) => validate_protocols(&sps.value).map_err(|e| {
            ctx.invalid(
                &sub(&field, "scrape_protocols"),
                Pos::of(sps),
                format!("{e} for scrape config with job name {job:?}"),
            )
        })?,
        None => match &g.scrape_protocols {
            Some(p) => p.clone(),
            None if scrape_native_histograms => ScrapeProtocol::PROTO_FIRST.to_vec(),
            None => ScrapeProtocol::DEFAULT.to_vec(),
        },
    };
    let fallback_scrape_protocol = match &r.fallback_scrape_protocol {
        Some(f) if !f.value.is_empty() => {
            Some(ScrapeProtocol::from_name(&f.value).ok_or_else(|| {
                ctx.invalid(
                &sub(&field, "fallback_scrape_protocol"),
                Pos::of(f),
                format!(
                    "invalid fallback_scrape_protocol for scrape config with job name {job:?}: {}",
                    unknown_protocol(&f.value)
                ),
            )
            })?)
        }
        _ => None,
    };
    let local_scheme = r.metric_name_validation_scheme.as_ref().and_then(|s| s.0);
    let scheme = local_scheme.unwrap_or(g.metric_name_validation_scheme);
    let global_escaping = match &gx.escaping {
        None => match g.metric_name_validation_scheme {
            ValidationScheme::Legacy => EscapingScheme::Underscores,
            ValidationScheme::Utf8 => EscapingScheme::AllowUtf8,
        },
        Some((e, epos)) => EscapingScheme::from_name(e).ok_or_else(|| {
            ctx.invalid(
                "global.metric_name_escaping_scheme",
                *epos,
                format!(
                    "unknown global name escaping method specified, {}, got {e:?}",
                    escaping_choices()
                ),
            )
        })?,
    };
    let escaping_field = sub(&field, "metric_name_escaping_scheme");
    let (escaping, epos) = match r
        .metric_name_escaping_scheme
        .as_ref()
        .filter(|e| !e.value.is_empty())
    {
        Some(e) => (
            EscapingScheme::from_name(&e.value).ok_or_else(|| {
                ctx.invalid(
                    &escaping_field,
                    Pos::of(e),
                    format!(
                        "unknown scrape config name escaping method specified, {}, got {:?}",
                        escaping_choices(),
                        e.value
                    ),
                )
            })?,
            Pos::of(e),
        ),
        None if local_scheme.is_none() => {
            (global_escaping, gx.escaping.as_ref().map_or(pos, |e| e.1))
        }
        None if scheme == ValidationScheme::Legacy => (EscapingScheme::Underscores, pos),
        None => (EscapingScheme::AllowUtf8, pos),
    };
    if escaping == EscapingScheme::AllowUtf8 && scheme != ValidationScheme::Utf8 {
        return Err(ctx.invalid(
            &escaping_field,
            epos,
            "utf8 metric names requested but validation scheme is not set to UTF8",
        ));
    }
    let relabel_configs = validate_relabels(relabel, scheme, ctx)?;
    let metric_relabel_configs = validate_relabels(metric_relabel, scheme, ctx)?;
    let own_failure_log = ctx.join(r.scrape_failure_log_file.as_deref().unwrap_or(""));
    Ok(ScrapeConfig {
        job_name,
        honor_labels: r.honor_labels.unwrap_or(false),
        honor_timestamps: r.honor_timestamps.unwrap_or(true),
        track_timestamps_staleness: r.track_timestamps_staleness.unwrap_or(false),
        params: r.params.unwrap_or_default(),
        scrape_interval,
        scrape_timeout,
        scrape_protocols,
        fallback_scrape_protocol,
        scrape_native_histograms,
        always_scrape_classic_histograms: r
            .always_scrape_classic_histograms
            .unwrap_or(g.always_scrape_classic_histograms),
        convert_classic_histograms_to_nhcb: r
            .convert_classic_histograms_to_nhcb
            .unwrap_or(g.convert_classic_histograms_to_nhcb),
        scrape_failure_log_file: if own_failure_log.is_empty() {
            g.scrape_failure_log_file.clone()
        } else {
            own_failure_log
        },
        metrics_path: r.metrics_path.unwrap_or_else(|| "/metrics".into()),
        scheme: r.scheme.unwrap_or_else(|| "http".into()),
        enable_compression: r.enable_compression.unwrap_or(true),
        body_size_limit: r
            .body_size_limit
            .filter(|b| b.0 != 0)
            .unwrap_or(g.body_size_limit),
        sample_limit: or_global(r.sample_limit, g.sample_limit),
        target_limit: or_global(r.target_limit, g.target_limit),
        label_limit: or_global(r.label_limit, g.label_limit),
        label_name_length_limit: or_global(r.label_name_length_limit, g.label_name_length_limit),
        label_value_length_limit: or_global(r.label_value_length_limit, g.label_value_length_limit),
        native_histogram_bucket_limit: r.native_histogram_bucket_limit.unwrap_or(0),
        native_histogram_min_bucket_factor: r.native_histogram_min_bucket_factor.unwrap_or(0.0),
        keep_dropped_targets: or_global(r.keep_dropped_targets, g.keep_dropped_targets),
        metric_name_validation_scheme: scheme,
        metric_name_escaping_scheme: escaping,
        extra_scrape_metrics: r.extra_scrape_metrics.unwrap_or(g.extra_scrape_metrics),
        http_client,
        service_discovery,
        relabel_configs,
        metric_relabel_configs,
    })
}

/// Decodes and validates a list of jobs against `global`, as both the main file
/// and `scrape_config_files` do; `names` collects job names across files.
pub(crate) fn scrape_list(
    stages: Vec<(Option<ScrapeStage>, String, Pos)>,
    g: &GlobalConfig,
    gx: &GlobalExtra,
    ctx: &Ctx,
    names: &mut HashMap<String, String>,
    origin: &str,
) -> Result<Vec<ScrapeConfig>, ConfigError> {
    let mut out = Vec::new();
    for (stage, field, pos) in stages {
        let Some(stage) = stage else {
            return Err(ctx.invalid(&field, pos, "empty or null scrape config section"));
        };
        let name_pos = stage.raw.job_name.as_ref().map_or(pos, Pos::of);
        let cfg = scrape_finish(stage, g, gx, ctx)?;
        if let Some(first) = names.get(&cfg.job_name) {
            let mut msg = format!(
                "found multiple scrape configs with job name {:?}",
                cfg.job_name
            );
            if origin != "main config file" {
                msg.push_str(&format!(", first found in {first}"));
            }
            return Err(ctx.invalid(&sub(&field, "job_name"), name_pos, msg));
        }
        names.insert(cfg.job_name.clone(), origin.to_string());
        out.push(cfg);
    }
    Ok(out)
}

pub(crate) fn stage_all(
    raw: Option<Vec<Sp<Option<RawScrapeConfig>>>>,
    ctx: &mut Ctx,
) -> Result<Vec<(Option<ScrapeStage>, String, Pos)>, ConfigError> {
    let mut out = Vec::new();
    for (i, item) in raw.unwrap_or_default().into_iter().enumerate() {
        let field = idx("scrape_configs", i);
        let pos = Pos::of(&item);
        out.push((scrape_stage(item, ctx, field.clone())?, field, pos));
    }
    Ok(out)
}
