//! Templates in alerting rules' labels and annotations: Prometheus's data (`$labels`,
//! `$value`, `$externalLabels`, `$externalURL`) and function set (`humanize`,
//! `query`, `first`, …) on top of the Go template engine of `ember-template`.
//!
//! Like Prometheus, each text is prefixed with the definitions of the four variables
//! and parsed as one template named `__alert_<name>`, so positions in error messages
//! count from the start of that prefix, exactly as Prometheus reports them; a failed
//! expansion yields `<error expanding template: …>` as the value.

use crate::QueryFunc;
use ember_model::histogram::FloatHistogram;
use ember_template::time::{Duration as GoDuration, Time};
use ember_template::{ContentKind, FuncMap, Object, Template, Value};
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What Prometheus defines in front of every rule template.
const DEFS: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// The value of an alert's sample: a float or a native histogram.
#[derive(Clone, Debug, PartialEq)]
pub enum SampleValue {
    /// A float sample.
    Float(f64),
    /// A histogram sample.
    Histogram(Arc<FloatHistogram>),
}

/// Everything a rule template may refer to.
#[derive(Clone)]
pub struct TemplateData<'a> {
    /// The alert's labels (`$labels`).
    pub labels: &'a BTreeMap<String, String>,
    /// The server's external labels (`$externalLabels`).
    pub external_labels: &'a BTreeMap<String, String>,
    /// The server's external URL (`$externalURL`), as configured.
    pub external_url: &'a str,
    /// The sample's value (`$value`).
    pub value: SampleValue,
    /// Evaluation time in ms (`query` runs at it, `now` returns it).
    pub timestamp: i64,
    /// Runs `query` calls; without it they fail.
    pub query: Option<Arc<dyn QueryFunc>>,
}

/// Checks that `text` parses as a template of the alerting rule `alert`, as
/// `promtool check rules` does; the error reads `template: __alert_X:1: …`.
pub fn check(alert: &str, text: &str) -> Result<(), String> {
    let mut t = Template::new(&format!("__alert_{alert}"));
    t.funcs(functions(None, 0, ""));
    t.parse(&format!("{DEFS}{text}"))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Expands `text` for the alerting rule `alert`; a failure gives Prometheus's
/// `<error expanding template: …>` text instead of an error, because that is what
/// Prometheus puts in the label or annotation.
pub fn expand_or_error(alert: &str, text: &str, data: &TemplateData<'_>) -> String {
    expand(alert, text, data).unwrap_or_else(|e| format!("<error expanding template: {e}>"))
}

/// Expands `text` for the alerting rule `alert`. Errors read as Prometheus's:
/// `error parsing template __alert_X: …` or `error executing template __alert_X: …`.
pub fn expand(alert: &str, text: &str, data: &TemplateData<'_>) -> Result<String, String> {
    // Most labels and annotations hold no template at all.
    if !text.contains("{{") {
        return Ok(text.to_string());
    }
    let name = format!("__alert_{alert}");
    let mut t = Template::new(&name);
    t.funcs(functions(
        data.query.clone(),
        data.timestamp,
        data.external_url,
    ));
    t.option("missingkey=zero")
        .map_err(|e| format!("error parsing template {name}: {e}"))?;
    t.parse(&format!("{DEFS}{text}"))
        .map_err(|e| format!("error parsing template {name}: {e}"))?;
    let value = match &data.value {
        SampleValue::Float(f) => Value::Float(*f),
        SampleValue::Histogram(h) => Value::object(HistogramValue(h.clone())),
    };
    let root = Value::object(AlertData {
        labels: string_map(data.labels),
        external_labels: string_map(data.external_labels),
        external_url: data.external_url.to_string(),
        value,
    });
    t.execute(&root)
        .map_err(|e| format!("error executing template {name}: {e}"))
}

/// Go's `map[string]string`: missing keys read as `""` under `missingkey=zero`.
struct StringMap(Value);

fn string_map(m: &BTreeMap<String, String>) -> Value {
    Value::object(StringMap(Value::map(
        m.iter().map(|(k, v)| (k.clone(), v.clone())),
    )))
}

impl Object for StringMap {
    fn type_name(&self) -> &str {
        "map[string]string"
    }
    fn as_value(&self) -> Option<&Value> {
        Some(&self.0)
    }
    fn zero_element(&self) -> Value {
        Value::String(String::new())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The struct Prometheus passes as the template's dot.
struct AlertData {
    labels: Value,
    external_labels: Value,
    external_url: String,
    value: Value,
}

impl Object for AlertData {
    fn type_name(&self) -> &str {
        "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }"
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Labels" => self.labels.clone(),
            "ExternalLabels" => self.external_labels.clone(),
            "ExternalURL" => Value::String(self.external_url.clone()),
            "Value" => self.value.clone(),
            _ => return None,
        })
    }
    fn to_text(&self) -> String {
        format!(
            "{{{} {} {} {}}}",
            self.labels, self.external_labels, self.external_url, self.value
        )
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A native histogram as a template value (`*histogram.FloatHistogram`).
struct HistogramValue(Arc<FloatHistogram>);

impl Object for HistogramValue {
    fn type_name(&self) -> &str {
        "*histogram.FloatHistogram"
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Count" => Value::Float(self.0.count),
            "Sum" => Value::Float(self.0.sum),
            "ZeroCount" => Value::Float(self.0.zero_count),
            "ZeroThreshold" => Value::Float(self.0.zero_threshold),
            "Schema" => Value::Int(self.0.schema.into()),
            _ => return None,
        })
    }
    fn to_text(&self) -> String {
        format!(
            "{{count:{}, sum:{}}}",
            Value::Float(self.0.count),
            Value::Float(self.0.sum)
        )
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// One element of a `query` result (Prometheus's `*template.sample`).
struct QuerySample {
    labels: BTreeMap<String, String>,
    value: Value,
}

impl Object for QuerySample {
    fn type_name(&self) -> &str {
        "*template.sample"
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Labels" => string_map(&self.labels),
            "Value" => self.value.clone(),
            _ => return None,
        })
    }
    fn to_text(&self) -> String {
        format!("{{{} {}}}", string_map(&self.labels), self.value)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn sample_arg(v: &Value) -> Result<&QuerySample, String> {
    v.downcast_ref::<QuerySample>().ok_or_else(|| {
        format!(
            "wrong type for value; expected *template.sample; got {}",
            v.type_name()
        )
    })
}

fn str_arg(v: &Value) -> Result<&str, String> {
    v.as_str().ok_or_else(|| {
        format!(
            "wrong type for value; expected string; got {}",
            v.type_name()
        )
    })
}

fn arity(args: &[Value], n: usize) -> Result<(), String> {
    if args.len() != n {
        return Err(format!("wrong number of args: got {} want {n}", args.len()));
    }
    Ok(())
}

/// prometheus/common's `ConvertToFloat`: numbers, numeric strings and durations.
pub(crate) fn to_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::String(s) => parse_go_float(s)
            .ok_or_else(|| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax")),
        Value::Object(_) => match v.downcast_ref::<GoDuration>() {
            Some(d) => Ok(d.0 as f64 / 1e9),
            None => Err(format!("can't convert {} to float", v.type_name())),
        },
        other => Err(format!("can't convert {} to float", other.type_name())),
    }
}

fn parse_go_float(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    match body {
        "inf" | "infinity" => {
            return Some(if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if body.is_empty() || !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    s.parse().ok()
}

/// Go's `%.4g`.
pub(crate) fn g4(v: f64) -> String {
    format_g(v, 4)
}

/// Go's `%.<prec>g`: `prec` significant digits, exponent form when the exponent is
/// below -4 or at least the precision, trailing zeros dropped.
fn format_g(v: f64, prec: usize) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let e = format!("{:.*e}", prec.saturating_sub(1), v);
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let sign = if neg { "-" } else { "" };
    if exp < -4 || exp >= prec as i32 {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    if exp < 0 {
        let zeros = "0".repeat((-exp - 1) as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        format!("{sign}{digits}{}", "0".repeat(int_len - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
    }
}

fn humanize(v: f64) -> String {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    let mut v = v;
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", g4(v))
}

fn humanize_1024(v: f64) -> String {
    if v.abs() <= 1.0 || v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", g4(v))
}

fn humanize_duration(v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        let v = v.abs();
        let d = v as i64;
        let (s, m, h, days) = (d % 60, (d / 60) % 60, (d / 3600) % 24, d / 86400);
        if days != 0 {
            return format!("{sign}{days}d {h}h {m}m {s}s");
        }
        if h != 0 {
            return format!("{sign}{h}h {m}m {s}s");
        }
        if m != 0 {
            return format!("{sign}{m}m {s}s");
        }
        return format!("{sign}{}s", g4(v));
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", g4(v))
}

/// Prometheus's `floatToTime`: seconds to a time, truncated to milliseconds.
fn float_to_time(v: f64) -> Result<Time, String> {
    if v.is_nan() || v.is_infinite() {
        return Err("value is NaN or Inf".into());
    }
    let ns = v * 1e9;
    if ns > i64::MAX as f64 || ns < i64::MIN as f64 {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            Value::Float(v)
        ));
    }
    Ok(Time::from_unix_millis((ns as i64) / 1_000_000))
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `cases.Title` with `NoLower`: the first letter of each word upper-cased, the rest
/// left alone.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    for c in s.chars() {
        if in_word {
            out.push(c);
        } else {
            out.extend(c.to_uppercase());
        }
        in_word = c.is_alphanumeric() || c == '_' || c == '\'';
    }
    out
}

fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        return Some((host, port));
    }
    let (host, port) = s.rsplit_once(':')?;
    if host.contains(':') {
        return None;
    }
    Some((host, port))
}

fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Prometheus's template function map. `query` runs at `ts` (ms); `external_url` feeds
/// `externalURL` and `pathPrefix`.
pub(crate) fn functions(query: Option<Arc<dyn QueryFunc>>, ts: i64, external_url: &str) -> FuncMap {
    let url = external_url.to_string();
    let path = url::Url::parse(external_url)
        .map(|u| u.path().to_string())
        .unwrap_or_default();
    let path = if path == "/" && !external_url.ends_with('/') {
        String::new()
    } else {
        path
    };
    let num = |f: fn(f64) -> String| {
        move |args: &[Value]| -> Result<Value, String> {
            arity(args, 1)?;
            Ok(Value::String(f(to_float(&args[0])?)))
        }
    };
    FuncMap::new()
        .add("query", move |args| {
            arity(args, 1)?;
            let q = str_arg(&args[0])?;
            let Some(qf) = &query else {
                return Err("no query function".into());
            };
            let v = qf.query(q, ts).map_err(|e| e.to_string())?;
            Ok(Value::list(v.into_iter().map(|s| {
                let labels: BTreeMap<String, String> = s
                    .metric
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect();
                let value = match s.h {
                    Some(h) => Value::object(HistogramValue(h)),
                    None => Value::Float(s.f),
                };
                Value::object(QuerySample { labels, value })
            })))
        })
        .add("first", |args| {
            arity(args, 1)?;
            match &args[0] {
                Value::List(l) => l
                    .first()
                    .cloned()
                    .ok_or_else(|| "first() called on vector with no elements".to_string()),
                Value::Nil | Value::NoValue => {
                    Err("first() called on vector with no elements".into())
                }
                other => Err(format!(
                    "wrong type for value; expected template.queryResult; got {}",
                    other.type_name()
                )),
            }
        })
        .add("label", |args| {
            arity(args, 2)?;
            let name = str_arg(&args[0])?;
            let s = sample_arg(&args[1])?;
            Ok(Value::String(
                s.labels.get(name).cloned().unwrap_or_default(),
            ))
        })
        .add("value", |args| {
            arity(args, 1)?;
            Ok(sample_arg(&args[0])?.value.clone())
        })
        .add("strvalue", |args| {
            arity(args, 1)?;
            let s = sample_arg(&args[0])?;
            Ok(Value::String(
                s.labels.get("__value__").cloned().unwrap_or_default(),
            ))
        })
        .add("args", |args| {
            Ok(Value::map(
                args.iter()
                    .enumerate()
                    .map(|(i, a)| (format!("arg{i}"), a.clone())),
            ))
        })
        .add("reReplaceAll", |args| {
            arity(args, 3)?;
            let (pat, repl, text) = (str_arg(&args[0])?, str_arg(&args[1])?, str_arg(&args[2])?);
            let re = regex::Regex::new(pat)
                .map_err(|e| format!("regexp: Compile({pat:?}): error parsing regexp: {e}"))?;
            Ok(Value::String(re.replace_all(text, repl).into_owned()))
        })
        .add("safeHtml", |args| {
            arity(args, 1)?;
            Ok(Value::Safe(
                ContentKind::Html,
                str_arg(&args[0])?.to_string(),
            ))
        })
        .add("match", |args| {
            arity(args, 2)?;
            let (pat, s) = (str_arg(&args[0])?, str_arg(&args[1])?);
            let re = regex::Regex::new(pat).map_err(|e| format!("error parsing regexp: {e}"))?;
            Ok(Value::Bool(re.is_match(s)))
        })
        .add("title", |args| {
            arity(args, 1)?;
            Ok(Value::String(title(str_arg(&args[0])?)))
        })
        .add("toUpper", |args| {
            arity(args, 1)?;
            Ok(Value::String(str_arg(&args[0])?.to_uppercase()))
        })
        .add("toLower", |args| {
            arity(args, 1)?;
            Ok(Value::String(str_arg(&args[0])?.to_lowercase()))
        })
        .add("graphLink", |args| {
            arity(args, 1)?;
            Ok(Value::String(format!(
                "/graph?g0.expr={}&g0.tab=0",
                query_escape(str_arg(&args[0])?)
            )))
        })
        .add("tableLink", |args| {
            arity(args, 1)?;
            Ok(Value::String(format!(
                "/graph?g0.expr={}&g0.tab=1",
                query_escape(str_arg(&args[0])?)
            )))
        })
        .add("sortByLabel", |args| {
            arity(args, 2)?;
            let name = str_arg(&args[0])?.to_string();
            let Value::List(l) = &args[1] else {
                return Ok(args[1].clone());
            };
            let mut items: Vec<Value> = l.as_ref().clone();
            let key = |v: &Value| {
                v.downcast_ref::<QuerySample>()
                    .and_then(|s| s.labels.get(&name).cloned())
                    .unwrap_or_default()
            };
            items.sort_by_key(key);
            Ok(Value::List(Arc::new(items)))
        })
        .add("stripPort", |args| {
            arity(args, 1)?;
            let s = str_arg(&args[0])?;
            Ok(Value::String(
                split_host_port(s).map_or(s, |(h, _)| h).to_string(),
            ))
        })
        .add("stripDomain", |args| {
            arity(args, 1)?;
            let s = str_arg(&args[0])?;
            let (host, port) = split_host_port(s).unwrap_or((s, ""));
            if host.parse::<std::net::IpAddr>().is_ok() {
                return Ok(Value::String(s.to_string()));
            }
            let short = host.split('.').next().unwrap_or(host);
            Ok(Value::String(if port.is_empty() {
                short.to_string()
            } else {
                join_host_port(short, port)
            }))
        })
        .add("humanize", num(humanize))
        .add("humanize1024", num(humanize_1024))
        .add("humanizeDuration", num(humanize_duration))
        .add("humanizePercentage", num(|v| format!("{}%", g4(v * 100.0))))
        .add("humanizeTimestamp", |args| {
            arity(args, 1)?;
            let v = to_float(&args[0])?;
            if v.is_nan() || v.is_infinite() {
                return Ok(Value::String(g4(v)));
            }
            Ok(Value::String(float_to_time(v)?.go_string()))
        })
        .add("toTime", |args| {
            arity(args, 1)?;
            Ok(Value::object(float_to_time(to_float(&args[0])?)?))
        })
        .add("toDuration", |args| {
            arity(args, 1)?;
            let v = to_float(&args[0])?;
            Ok(Value::object(GoDuration((v * 1e9) as i64)))
        })
        .add("now", move |args| {
            arity(args, 0)?;
            Ok(Value::Float(ts as f64 / 1000.0))
        })
        .add("pathPrefix", move |args| {
            arity(args, 0)?;
            Ok(Value::String(path.clone()))
        })
        .add("externalURL", move |args| {
            arity(args, 0)?;
            Ok(Value::String(url.clone()))
        })
        .add("parseDuration", |args| {
            arity(args, 1)?;
            let s = str_arg(&args[0])?;
            let (neg, body) = match s.strip_prefix('-') {
                Some(b) => (true, b),
                None => (false, s),
            };
            let d: ember_config::Duration = body
                .parse()
                .map_err(|e: ember_config::ConfigError| e.to_string())?;
            let secs = d.as_millis() as f64 / 1000.0;
            Ok(Value::Float(if neg { -secs } else { secs }))
        })
        .add("urlQueryEscape", |args| {
            arity(args, 1)?;
            Ok(Value::String(query_escape(str_arg(&args[0])?)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data<'a>(
        labels: &'a BTreeMap<String, String>,
        ext: &'a BTreeMap<String, String>,
        v: f64,
    ) -> TemplateData<'a> {
        TemplateData {
            labels,
            external_labels: ext,
            external_url: "http://example.com/prom",
            value: SampleValue::Float(v),
            timestamp: 1_000,
            query: None,
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(g4(1234.5678), "1235");
        assert_eq!(g4(12345.0), "1.234e+04");
        assert_eq!(g4(0.000012345), "1.234e-05");
        assert_eq!(g4(0.0012345), "0.001234");
        assert_eq!(g4(1.5), "1.5");
        assert_eq!(g4(100.0), "100");
        assert_eq!(humanize(1234567.0), "1.235M");
        assert_eq!(humanize(0.001), "1m");
        assert_eq!(humanize_1024(1024.0 * 1024.0), "1Mi");
        assert_eq!(humanize_duration(3661.0), "1h 1m 1s");
        assert_eq!(humanize_duration(90061.0), "1d 1h 1m 1s");
        assert_eq!(humanize_duration(1.5), "1.5s");
        assert_eq!(humanize_duration(0.0012), "1.2ms");
        assert_eq!(humanize_duration(0.0), "0s");
        assert_eq!(query_escape("a b&c=~\"d\""), "a+b%26c%3D~%22d%22");
        assert_eq!(title("foo bar-baz"), "Foo Bar-Baz");
    }

    #[test]
    fn expands_alert_templates() {
        let labels = BTreeMap::from([("instance".to_string(), "h:9".to_string())]);
        let ext = BTreeMap::from([("dc".to_string(), "eu".to_string())]);
        let d = data(&labels, &ext, 0.5);
        let e = |t: &str| expand_or_error("A", t, &d);
        assert_eq!(e("{{ $labels.instance }} down"), "h:9 down");
        assert_eq!(e("{{ $labels.missing }}"), "");
        assert_eq!(e("{{ $value | humanizePercentage }}"), "50%");
        assert_eq!(
            e("{{ $externalLabels.dc }} {{ $externalURL }}"),
            "eu http://example.com/prom"
        );
        assert_eq!(e("{{ pathPrefix }}"), "/prom");
        assert_eq!(
            e("{{ 1 | humanizeTimestamp }}"),
            "1970-01-01 00:00:01 +0000 UTC"
        );
        assert_eq!(e("{{ \"1h\" | parseDuration }}"), "3600");
        assert_eq!(
            e("{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}"),
            "h"
        );
        assert_eq!(e("{{ (toTime 60).Unix }}"), "60");
        assert_eq!(
            e("{{ humanize \"x\" }}"),
            "<error expanding template: error executing template __alert_A: template: __alert_A:1:115: executing \"__alert_A\" at <humanize \"x\">: error calling humanize: strconv.ParseFloat: parsing \"x\": invalid syntax>"
        );
        assert!(e("{{ first (query \"up\") }}").starts_with("<error expanding template:"));
    }

    #[test]
    fn checks_parsing() {
        assert!(check("A", "{{ $labels.x }}").is_ok());
        assert_eq!(
            check("A", "{{ $label.x }}").unwrap_err(),
            "template: __alert_A:1: undefined variable \"$label\""
        );
    }
}
