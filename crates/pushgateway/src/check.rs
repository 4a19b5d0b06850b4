//! The consistency rules an exposition must satisfy, as client_golang's registry
//! enforces them when it gathers (`checkMetricConsistency`,
//! `checkSuffixCollisions`): every metric carries the value its family's type says,
//! label names are valid and unique, summaries and histograms do not carry their own
//! `quantile`/`le` label, no two metrics of a name share a label set, and a summary
//! or histogram `x` does not coexist with a family named `x_count`, `x_sum` (or
//! `x_bucket`). The Pushgateway rejects a push that would break them, so a scrape of
//! it never fails.

use std::hash::{BuildHasher, Hasher};

use ember_exposition::proto::{Metric, MetricFamily, MetricType};

use crate::store::Gathered;
use ember_model::labels::{is_legacy_label_name, is_legacy_metric_name};

/// A metric's identity within its family's name: the hash of the name and its label
/// pairs in order (labels are sorted by name before this is taken).
pub(crate) fn series_hash(name: &str, m: &Metric) -> u64 {
    let mut h = foldhash::fast::FixedState::with_seed(0x5eed).build_hasher();
    h.write(name.as_bytes());
    h.write_u8(0xff);
    for l in &m.label {
        h.write(l.name.as_deref().unwrap_or("").as_bytes());
        h.write_u8(0xfe);
        h.write(l.value.as_deref().unwrap_or("").as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

/// The field a family of type `t` expects in each metric.
fn expected_kind(t: MetricType) -> MetricType {
    match t {
        MetricType::GaugeHistogram => MetricType::Histogram,
        other => other,
    }
}

/// Go's `%s` of a metric in its errors is the proto text form; a Prometheus series
/// spelling reads better and says the same.
pub(crate) fn describe(name: &str, m: &Metric) -> String {
    let mut s = format!("{name:?} {{");
    for (i, l) in m.label.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(l.name.as_deref().unwrap_or(""));
        s.push('=');
        s.push_str(&format!("{:?}", l.value.as_deref().unwrap_or("")));
    }
    s.push('}');
    s
}

/// Checks one family on its own: name, each metric's value kind and labels.
/// Duplicates are the caller's business, since they span families and groups.
pub(crate) fn check_family(f: &MetricFamily) -> Result<(), String> {
    check_metrics(f.name(), f.metric_type(), &f.metric)
}

/// [`check_family`] for a family given by parts.
pub(crate) fn check_metrics<'a>(
    name: &str,
    ty: MetricType,
    metrics: impl IntoIterator<Item = &'a Metric>,
) -> Result<(), String> {
    if !is_legacy_metric_name(name) {
        return Err(format!("{name:?} is not a valid metric name"));
    }
    let want = expected_kind(ty);
    let reserved = match ty {
        MetricType::Summary => Some("quantile"),
        MetricType::Histogram | MetricType::GaugeHistogram => Some("le"),
        _ => None,
    };
    for m in metrics {
        if m.kind() != Some(want) {
            return Err(format!(
                "collected metric {} is not a {}",
                describe(name, m),
                ty.proto_name()
            ));
        }
        for (i, l) in m.label.iter().enumerate() {
            let ln = l.name.as_deref().unwrap_or("");
            if !is_legacy_label_name(ln) || ln.starts_with("__") {
                return Err(format!(
                    "collected metric {} has a label with an invalid name: {ln:?}",
                    describe(name, m)
                ));
            }
            if m.label[..i].iter().any(|p| p.name.as_deref() == Some(ln)) {
                return Err(format!(
                    "collected metric {} has two or more labels with the same name: {ln}",
                    describe(name, m)
                ));
            }
            if reserved == Some(ln) {
                return Err(format!(
                    "{} metric {} has label {ln:?} that is forbidden for this type",
                    ty.proto_name().to_lowercase(),
                    describe(name, m)
                ));
            }
        }
    }
    Ok(())
}

/// The suffix rule for a family `name` of type `ty`, given a way to look up the type
/// of any other family that will exist.
pub(crate) fn check_suffixes(
    name: &str,
    ty: MetricType,
    type_of: impl Fn(&str) -> Option<MetricType>,
) -> Result<(), String> {
    for suffix in ["_count", "_sum", "_bucket"] {
        if let Some(base) = name.strip_suffix(suffix) {
            match type_of(base) {
                Some(MetricType::Summary) if suffix != "_bucket" => {
                    return Err(format!(
                        "collected metric named {name:?} collides with previously collected summary named {base:?}"
                    ));
                }
                Some(MetricType::Histogram) => {
                    return Err(format!(
                        "collected metric named {name:?} collides with previously collected histogram named {base:?}"
                    ));
                }
                _ => {}
            }
        }
    }
    let own: &[&str] = match ty {
        MetricType::Summary => &["_count", "_sum"],
        MetricType::Histogram => &["_count", "_sum", "_bucket"],
        _ => &[],
    };
    for suffix in own {
        let other = format!("{name}{suffix}");
        if type_of(&other).is_some() {
            return Err(format!(
                "collected {} named {name:?} collides with previously collected metric named {other:?}",
                ty.proto_name().to_lowercase()
            ));
        }
    }
    Ok(())
}

/// The whole-exposition check a scrape runs: each family, duplicates, suffixes.
/// `families` are merged by name already.
pub(crate) fn check_all(families: &[Gathered<'_>]) -> Vec<String> {
    let mut errors = Vec::new();
    let types: std::collections::HashMap<&str, MetricType> =
        families.iter().map(|f| (f.name, f.metric_type)).collect();
    let mut seen = std::collections::HashSet::new();
    for f in families {
        if let Err(e) = check_metrics(f.name, f.metric_type, f.metrics.iter().copied()) {
            errors.push(e);
            continue;
        }
        if let Err(e) = check_suffixes(f.name, f.metric_type, |n| types.get(n).copied()) {
            errors.push(e);
        }
        for m in &f.metrics {
            if !seen.insert(series_hash(f.name, m)) {
                errors.push(format!(
                    "collected metric {} was collected before with the same name and label values",
                    describe(f.name, m)
                ));
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_exposition::proto::{Gauge, LabelPair, Untyped};

    fn gauge(name: &str, labels: &[(&str, &str)]) -> MetricFamily {
        MetricFamily {
            name: Some(name.into()),
            r#type: Some(MetricType::Gauge as i32),
            metric: vec![Metric {
                label: labels.iter().map(|(a, b)| LabelPair::new(*a, *b)).collect(),
                gauge: Some(Gauge { value: Some(1.0) }),
                ..Metric::default()
            }],
            ..MetricFamily::default()
        }
    }

    #[test]
    fn kinds_labels_and_duplicates() {
        let mut f = gauge("a", &[("job", "x")]);
        assert!(check_family(&f).is_ok());
        f.metric[0].gauge = None;
        f.metric[0].untyped = Some(Untyped { value: Some(1.0) });
        assert!(
            check_family(&f)
                .expect_err("kind")
                .contains("is not a GAUGE")
        );
        assert!(check_family(&gauge("a", &[("__x", "1")])).is_err());
        assert!(check_family(&gauge("a", &[("x", "1"), ("x", "2")])).is_err());
        assert!(check_family(&gauge("a-b", &[])).is_err());
        let mut twice = gauge("a", &[("job", "x")]);
        twice.metric.push(twice.metric[0].clone());
        let g = Gathered {
            name: "a",
            help: None,
            metric_type: MetricType::Gauge,
            metrics: twice.metric.iter().collect(),
        };
        assert_eq!(check_all(&[g]).len(), 1);
    }

    #[test]
    fn suffix_collisions() {
        let types = |n: &str| match n {
            "s" => Some(MetricType::Summary),
            "h" => Some(MetricType::Histogram),
            "x_sum" => Some(MetricType::Gauge),
            _ => None,
        };
        assert!(check_suffixes("s_count", MetricType::Gauge, types).is_err());
        assert!(check_suffixes("s_bucket", MetricType::Gauge, types).is_ok());
        assert!(check_suffixes("h_bucket", MetricType::Untyped, types).is_err());
        assert!(check_suffixes("x", MetricType::Summary, types).is_err());
        assert!(check_suffixes("x", MetricType::Gauge, types).is_ok());
    }
}
