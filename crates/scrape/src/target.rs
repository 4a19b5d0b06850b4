//! From discovered label sets to scrape targets: Prometheus's defaults (`job`,
//! `__scheme__`, `__metrics_path__`, interval and timeout, `__param_*`), target
//! relabeling, the `instance` default, and the URL to scrape.

use ember_config::ScrapeConfig;
use ember_model::relabel::process_builder;
use ember_model::{Labels, LabelsBuilder};
use std::time::Duration;

/// A target ready to scrape.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// Labels attached to every scraped series (no `__` labels).
    pub labels: Labels,
    /// Labels as discovered with the job's defaults added, before relabeling:
    /// what the targets API shows as `discoveredLabels`.
    pub discovered: Labels,
    /// What to GET.
    pub url: String,
    /// Between scrapes.
    pub interval: Duration,
    /// Per scrape.
    pub timeout: Duration,
}

impl Target {
    /// A stable identity for the loop (labels and URL).
    pub fn hash(&self) -> u64 {
        let mut h = xxhash_rust::xxh64::Xxh64::new(0);
        h.update(&self.labels.hash64().to_be_bytes());
        h.update(self.url.as_bytes());
        h.digest()
    }
}

fn parse_dur(s: &str) -> Option<Duration> {
    s.parse::<ember_config::Duration>().ok().map(|d| d.as_std())
}

/// Discovered labels with the job's defaults (`job`, `__scheme__`,
/// `__metrics_path__`, interval, timeout, `__param_*`) where absent: the input of
/// target relabeling, and what Prometheus reports as a target's discovered labels.
pub fn with_defaults(cfg: &ScrapeConfig, discovered: &Labels) -> Labels {
    let mut b = LabelsBuilder::new(discovered.clone());
    let defaults = [
        ("job", cfg.job_name.clone()),
        ("__scrape_interval__", cfg.scrape_interval.to_string()),
        ("__scrape_timeout__", cfg.scrape_timeout.to_string()),
        ("__metrics_path__", cfg.metrics_path.clone()),
        ("__scheme__", cfg.scheme.clone()),
    ];
    for (k, v) in defaults {
        if b.get(k).is_empty() {
            b.set(k, v);
        }
    }
    for (k, vals) in &cfg.params {
        let name = format!("__param_{k}");
        if let Some(v) = vals.first()
            && b.get(&name).is_empty()
        {
            b.set(name, v.as_str());
        }
    }
    b.into_labels()
}

/// Builds a target from discovered labels; `Ok(None)` when relabeling drops it.
pub fn populate(cfg: &ScrapeConfig, discovered: &Labels) -> Result<Option<Target>, String> {
    let pre = with_defaults(cfg, discovered);
    let mut b = LabelsBuilder::new(pre.clone());
    if !process_builder(
        &mut b,
        &cfg.relabel_configs,
        cfg.metric_name_validation_scheme,
    ) {
        return Ok(None);
    }
    let addr = b.get("__address__").to_string();
    if addr.is_empty() {
        return Err("no address".into());
    }
    let interval = parse_dur(b.get("__scrape_interval__")).ok_or_else(|| {
        format!(
            "error parsing scrape interval: {:?}",
            b.get("__scrape_interval__")
        )
    })?;
    let timeout = parse_dur(b.get("__scrape_timeout__")).ok_or_else(|| {
        format!(
            "error parsing scrape timeout: {:?}",
            b.get("__scrape_timeout__")
        )
    })?;
    if interval.is_zero() {
        return Err("scrape interval cannot be 0".into());
    }
    if timeout > interval {
        return Err(format!(
            "scrape timeout cannot be greater than scrape interval ({timeout:?} > {interval:?})"
        ));
    }
    let scheme = b.get("__scheme__").to_string();
    let path = b.get("__metrics_path__").to_string();
    let mut query: Vec<String> = Vec::new();
    let params: Vec<(String, String)> = b
        .iter()
        .filter_map(|l| {
            l.name
                .strip_prefix("__param_")
                .map(|n| (n.to_string(), l.value.clone()))
        })
        .collect();
    for (k, v) in &params {
        query.push(format!("{}={}", encode(k), encode(v)));
        // Further values of a parameter come from the config only.
        if let Some(extra) = cfg.params.get(k) {
            for x in extra.iter().skip(1) {
                query.push(format!("{}={}", encode(k), encode(x)));
            }
        }
    }
    let url = if query.is_empty() {
        format!("{scheme}://{addr}{path}")
    } else {
        format!("{scheme}://{addr}{path}?{}", query.join("&"))
    };
    if b.get("instance").is_empty() {
        b.set("instance", addr.as_str());
    }
    b.retain(|l| !l.name.starts_with("__"));
    Ok(Some(Target {
        labels: b.into_labels(),
        discovered: pre,
        url,
        interval,
        timeout,
    }))
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
