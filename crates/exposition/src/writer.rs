//! Writers for both formats, byte for byte what Prometheus's `expfmt` writes for the
//! same families where the model allows it: the same escaping, the same float
//! spelling, names quoted only when they are not legacy names.

use ember_model::labels::{Label, is_legacy_label_name, is_legacy_metric_name};

use crate::escape::write_escaped;
use crate::float::{
    write_go_float, write_i64, write_om_float, write_om_timestamp, write_text_float, write_u64,
};
use crate::model::{MetricFamily, Sample};
use crate::types::{Format, MetricType};

/// Appends `families` in `format` to `out` (OpenMetrics ends with `# EOF`).
pub fn write(out: &mut Vec<u8>, families: &[MetricFamily], format: Format) {
    match format {
        Format::Text => write_text(out, families),
        Format::OpenMetrics => write_openmetrics(out, families),
    }
}

/// Appends `families` in the Prometheus text format 0.0.4.
///
/// Every family gets a `# TYPE` line (`untyped` when unknown; gauge histograms as
/// `histogram`, infos and statesets as `untyped`, which is all the format has) and a
/// `# HELP` line when it has help. Units and exemplars have no place in this format
/// and are left out. Help text that is only blanks reads back empty: the format
/// cannot tell it from no text.
pub fn write_text(out: &mut Vec<u8>, families: &[MetricFamily]) {
    for f in families {
        if let Some(help) = &f.help {
            out.extend_from_slice(b"# HELP ");
            write_metadata_name(out, &f.name);
            out.push(b' ');
            write_escaped(out, help, false);
            out.push(b'\n');
        }
        out.extend_from_slice(b"# TYPE ");
        write_metadata_name(out, &f.name);
        out.push(b' ');
        out.extend_from_slice(f.metric_type.text_name().as_bytes());
        out.push(b'\n');
        for s in &f.samples {
            write_series(out, &s.name, &s.labels);
            out.push(b' ');
            write_text_float(out, s.value);
            if let Some(ts) = s.timestamp_ms {
                out.push(b' ');
                write_i64(out, ts);
            }
            out.push(b'\n');
        }
    }
}

/// Appends `families` in OpenMetrics 1.0, then `# EOF`.
///
/// A counter's metadata names the family without `_total`, as the format requires.
/// Timestamps are written as seconds; bucket and count values that are whole numbers
/// are written as integers, as `expfmt` writes them. A unit containing a newline
/// cannot be written and is left out.
pub fn write_openmetrics(out: &mut Vec<u8>, families: &[MetricFamily]) {
    for f in families {
        let meta_name = om_metadata_name(f);
        if let Some(help) = &f.help {
            out.extend_from_slice(b"# HELP ");
            write_metadata_name(out, meta_name);
            out.push(b' ');
            write_escaped(out, help, true);
            out.push(b'\n');
        }
        out.extend_from_slice(b"# TYPE ");
        write_metadata_name(out, meta_name);
        out.push(b' ');
        out.extend_from_slice(f.metric_type.as_str().as_bytes());
        out.push(b'\n');
        if let Some(unit) = &f.unit
            && !unit.contains('\n')
        {
            out.extend_from_slice(b"# UNIT ");
            write_metadata_name(out, meta_name);
            out.push(b' ');
            out.extend_from_slice(unit.as_bytes());
            out.push(b'\n');
        }
        let counts_are_integers = matches!(
            f.metric_type,
            MetricType::Histogram | MetricType::GaugeHistogram | MetricType::Summary
        );
        for s in &f.samples {
            write_om_sample(out, s, counts_are_integers);
        }
    }
    out.extend_from_slice(b"# EOF\n");
}

/// The name OpenMetrics metadata gives a family: a counter's without `_total`, unless
/// that would leave its unit no longer a suffix of the name (the parser checks it).
fn om_metadata_name(f: &MetricFamily) -> &str {
    if f.metric_type != MetricType::Counter {
        return &f.name;
    }
    let Some(stripped) = f.name.strip_suffix("_total") else {
        return &f.name;
    };
    match f.unit.as_deref() {
        Some(unit) if !unit.is_empty() => {
            let keeps_unit = stripped
                .strip_suffix(unit)
                .is_some_and(|rest| !rest.is_empty() && rest.ends_with('_'));
            if keeps_unit { stripped } else { &f.name }
        }
        _ => stripped,
    }
}

fn write_om_sample(out: &mut Vec<u8>, s: &Sample, counts_are_integers: bool) {
    write_series(out, &s.name, &s.labels);
    out.push(b' ');
    let is_count = counts_are_integers
        && (s.name.ends_with("_bucket")
            || s.name.ends_with("_count")
            || s.name.ends_with("_gcount"));
    match whole_number(s.value) {
        Some(n) if is_count => {
            write_u64(out, n);
        }
        _ => write_om_float(out, s.value),
    }
    if let Some(ts) = s.timestamp_ms {
        out.push(b' ');
        write_om_timestamp(out, ts);
    }
    if let Some(e) = &s.exemplar {
        out.extend_from_slice(b" # {");
        write_label_pairs(out, &e.labels);
        out.extend_from_slice(b"} ");
        write_om_float(out, e.value);
        if let Some(ts) = e.timestamp_ms {
            out.push(b' ');
            write_om_timestamp(out, ts);
        }
    }
    out.push(b'\n');
}

/// `v` as an unsigned integer, when it is one that an f64 holds exactly.
fn whole_number(v: f64) -> Option<u64> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if (0.0..=EXACT).contains(&v) && v.fract() == 0.0 {
        // Checked above: a whole number in 0..=2^53.
        Some(v as u64)
    } else {
        None
    }
}

/// A name on a metadata line: bare if it is a legacy metric name, quoted otherwise.
fn write_metadata_name(out: &mut Vec<u8>, name: &str) {
    if is_legacy_metric_name(name) {
        out.extend_from_slice(name.as_bytes());
    } else {
        write_quoted(out, name);
    }
}

fn write_quoted(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    write_escaped(out, s, true);
    out.push(b'"');
}

/// `name{labels}`, or `{"name",labels}` when the name is not a legacy metric name.
fn write_series(out: &mut Vec<u8>, name: &str, labels: &[Label]) {
    write_series_parts(
        out,
        name,
        "",
        labels.iter().map(|l| (l.name.as_str(), l.value.as_str())),
        None,
    );
}

/// `name` + `suffix` with `labels` and then `extra` (a bucket's `le`, a quantile),
/// spelled as [`write_series`] spells a series.
fn write_series_parts<'a>(
    out: &mut Vec<u8>,
    name: &str,
    suffix: &str,
    labels: impl Iterator<Item = (&'a str, &'a str)>,
    extra: Option<(&str, f64)>,
) {
    let mut labels = labels.peekable();
    // Suffixes are legacy characters, so they do not change whether the name is one.
    let legacy = is_legacy_metric_name(name);
    let any = labels.peek().is_some() || extra.is_some();
    if legacy {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(suffix.as_bytes());
        if !any {
            return;
        }
        out.push(b'{');
    } else {
        out.push(b'{');
        out.push(b'"');
        write_escaped(out, name, true);
        write_escaped(out, suffix, true);
        out.push(b'"');
        if any {
            out.push(b',');
        }
    }
    let mut first = true;
    for (n, v) in labels {
        if !first {
            out.push(b',');
        }
        first = false;
        write_label_pair(out, n, v);
    }
    if let Some((n, b)) = extra {
        if !first {
            out.push(b',');
        }
        write_label_name(out, n);
        out.extend_from_slice(b"=\"");
        write_go_float(out, b);
        out.push(b'"');
    }
    out.push(b'}');
}

/// One text-format sample line: the series (see [`write_series_parts`]), the value
/// and the timestamp if any.
pub(crate) fn write_sample_line<'a>(
    out: &mut Vec<u8>,
    name: &str,
    suffix: &str,
    labels: impl Iterator<Item = (&'a str, &'a str)>,
    extra: Option<(&str, f64)>,
    value: f64,
    timestamp_ms: Option<i64>,
) {
    write_series_parts(out, name, suffix, labels, extra);
    out.push(b' ');
    write_text_float(out, value);
    if let Some(ts) = timestamp_ms {
        out.push(b' ');
        write_i64(out, ts);
    }
    out.push(b'\n');
}

fn write_label_name(out: &mut Vec<u8>, name: &str) {
    // Unlike expfmt, which checks label names against the metric-name rules and
    // so writes `a:b` bare where no parser reads it back.
    if is_legacy_label_name(name) {
        out.extend_from_slice(name.as_bytes());
    } else {
        write_quoted(out, name);
    }
}

fn write_label_pair(out: &mut Vec<u8>, name: &str, value: &str) {
    write_label_name(out, name);
    out.extend_from_slice(b"=\"");
    write_escaped(out, value, true);
    out.push(b'"');
}

fn write_label_pairs(out: &mut Vec<u8>, labels: &[Label]) {
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_label_pair(out, &l.name, &l.value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Exemplar;

    fn family() -> Vec<MetricFamily> {
        let mut c = MetricFamily::new("http_requests_total", MetricType::Counter);
        c.help = Some("Requests.\nBy code \\ \"method\".".to_owned());
        let mut s = Sample::new("http_requests_total", 1027.0);
        s.labels = vec![
            Label::new("method", "post"),
            Label::new("code", "200"),
            Label::new("path", "a\"b\\c\nd"),
        ];
        s.timestamp_ms = Some(1395066363000);
        s.exemplar = Some(Exemplar {
            labels: vec![Label::new("trace_id", "abc")],
            value: 1.0,
            timestamp_ms: Some(1520879607789),
        });
        c.samples.push(s);
        let mut h = MetricFamily::new("rpc_seconds", MetricType::Histogram);
        h.unit = Some("seconds".to_owned());
        let mut b = Sample::new("rpc_seconds_bucket", 3.0);
        b.labels = vec![Label::new("le", "+Inf")];
        h.samples.push(b);
        h.samples.push(Sample::new("rpc_seconds_sum", 1e6));
        h.samples.push(Sample::new("rpc_seconds_count", 3.0));
        let mut u = MetricFamily::new("my.metric", MetricType::Gauge);
        let mut s = Sample::new("my.metric", f64::NAN);
        s.labels = vec![Label::new("a.b", "c"), Label::new("x:y", "z")];
        u.samples.push(s);
        u.samples.push(Sample::new("my.metric", f64::NEG_INFINITY));
        vec![c, h, u]
    }

    #[test]
    fn text_output() {
        let mut out = Vec::new();
        write_text(&mut out, &family());
        let want = r#"# HELP http_requests_total Requests.\nBy code \\ "method".
# TYPE http_requests_total counter
http_requests_total{method="post",code="200",path="a\"b\\c\nd"} 1027 1395066363000
# TYPE rpc_seconds histogram
rpc_seconds_bucket{le="+Inf"} 3
rpc_seconds_sum 1e+06
rpc_seconds_count 3
# TYPE "my.metric" gauge
{"my.metric","a.b"="c","x:y"="z"} NaN
{"my.metric"} -Inf
"#;
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    #[test]
    fn openmetrics_output() {
        let mut out = Vec::new();
        write_openmetrics(&mut out, &family());
        let want = r#"# HELP http_requests Requests.\nBy code \\ \"method\".
# TYPE http_requests counter
http_requests_total{method="post",code="200",path="a\"b\\c\nd"} 1027.0 1.395066363e+09 # {trace_id="abc"} 1.0 1.520879607789e+09
# TYPE rpc_seconds histogram
# UNIT rpc_seconds seconds
rpc_seconds_bucket{le="+Inf"} 3
rpc_seconds_sum 1e+06
rpc_seconds_count 3
# TYPE "my.metric" gauge
{"my.metric","a.b"="c","x:y"="z"} NaN
{"my.metric"} -Inf
# EOF
"#;
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    #[test]
    fn counter_metadata_keeps_total_when_the_unit_needs_it() {
        let mut f = MetricFamily::new("req_seconds_total", MetricType::Counter);
        f.unit = Some("seconds".to_owned());
        assert_eq!(om_metadata_name(&f), "req_seconds");
        f.unit = Some("total".to_owned());
        assert_eq!(om_metadata_name(&f), "req_seconds_total");
        f.unit = None;
        assert_eq!(om_metadata_name(&f), "req_seconds");
        let g = MetricFamily::new("x_total", MetricType::Gauge);
        assert_eq!(om_metadata_name(&g), "x_total");
    }

    #[test]
    fn whole_numbers() {
        assert_eq!(whole_number(3.0), Some(3));
        assert_eq!(whole_number(0.0), Some(0));
        assert_eq!(whole_number(-1.0), None);
        assert_eq!(whole_number(1.5), None);
        assert_eq!(whole_number(f64::NAN), None);
        assert_eq!(whole_number(f64::INFINITY), None);
        assert_eq!(whole_number(1e300), None);
    }
}
