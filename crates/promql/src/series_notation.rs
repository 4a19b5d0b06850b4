//! The series notation of Prometheus's test files, shared by the promqltest runner
//! ([`crate::promqltest`]) and promtool's rule unit tests (`input_series`,
//! expected histograms): `metric{a="b"} 1+2x3 _ _x2 stale` and native histograms
//! such as `{{schema:0 sum:5 count:4 buckets:[1 2 1]}}` with their `x`/`+`/`-`
//! forms, as Prometheus's `parser.ParseSeriesDesc` reads them.
//!
//! Also here, because they belong to the notation's round trip: the text form of
//! a histogram promtool compares ([`test_expression`]) and the counter-reset hints a
//! loaded histogram reads back with from Prometheus's TSDB ([`ChunkHints`]).

use crate::fhist::go_g;
use ember_model::Labels;
use ember_model::histogram::{CounterResetHint, FloatHistogram, Span};
use ember_model::value::stale_nan;
use ember_promql_parser::ParserOptions;

/// One value of the series notation.
#[derive(Clone, Debug, PartialEq)]
pub enum SeriesValue {
    /// `_`: no sample at this step.
    Omitted,
    /// A float; `stale` is Prometheus's stale-marker NaN.
    Float(f64),
    /// A native histogram, and whether its text set `counter_reset_hint` (a
    /// comparison looks at the hint only then).
    Histogram(FloatHistogram, bool),
}

/// Splits series values at whitespace, keeping `{{…}}` histogram literals whole.
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == '{' && b.get(i + 1) == Some(&'{') {
            depth += 1;
            cur.push_str("{{");
            i += 2;
            continue;
        }
        if c == '}' && b.get(i + 1) == Some(&'}') && depth > 0 {
            depth -= 1;
            cur.push_str("}}");
            i += 2;
            continue;
        }
        if c.is_whitespace() && depth == 0 {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
        i += 1;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn parse_number(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let v = match body.to_ascii_lowercase().as_str() {
        "inf" => f64::INFINITY,
        "nan" => f64::NAN,
        "stale" => return Ok(stale_nan()),
        b if b.starts_with("0x") => {
            i64::from_str_radix(&b[2..], 16).map_err(|e| format!("bad number {s:?}: {e}"))? as f64
        }
        _ => body
            .parse::<f64>()
            .map_err(|e| format!("bad number {s:?}: {e}"))?,
    };
    Ok(if neg { -v } else { v })
}

/// Parses `{{schema:1 sum:3 count:22 buckets:[5 10 7] …}}`.
fn parse_hist(s: &str) -> Result<(FloatHistogram, bool), String> {
    let inner = s
        .trim()
        .strip_prefix("{{")
        .and_then(|x| x.strip_suffix("}}"))
        .ok_or_else(|| format!("bad histogram {s:?}"))?;
    let mut h = FloatHistogram::default();
    let (mut buckets, mut n_buckets) = (Vec::new(), Vec::new());
    let (mut offset, mut n_offset) = (0i32, 0i32);
    let mut hint_set = false;
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once(':')
            .ok_or_else(|| format!("bad histogram item in {s:?}"))?;
        let after = after.trim_start();
        let (val, next) = if after.starts_with('[') {
            let end = after
                .find(']')
                .ok_or_else(|| format!("unclosed list in {s:?}"))?;
            (&after[..=end], &after[end + 1..])
        } else {
            match after.find(char::is_whitespace) {
                Some(i) => (&after[..i], &after[i..]),
                None => (after, ""),
            }
        };
        let list = |v: &str| -> Result<Vec<f64>, String> {
            v.trim_matches(|c| c == '[' || c == ']')
                .split_whitespace()
                .map(parse_number)
                .collect()
        };
        match key.trim() {
            "schema" => h.schema = val.parse().map_err(|_| format!("bad schema {val:?}"))?,
            "sum" => h.sum = parse_number(val)?,
            "count" => h.count = parse_number(val)?,
            "z_bucket" => h.zero_count = parse_number(val)?,
            "z_bucket_w" => h.zero_threshold = parse_number(val)?,
            "buckets" => buckets = list(val)?,
            "n_buckets" => n_buckets = list(val)?,
            "offset" => offset = val.parse().map_err(|_| format!("bad offset {val:?}"))?,
            "n_offset" => n_offset = val.parse().map_err(|_| format!("bad n_offset {val:?}"))?,
            "custom_values" => h.custom_values = list(val)?,
            "counter_reset_hint" => {
                hint_set = true;
                h.counter_reset_hint = match val {
                    "unknown" => CounterResetHint::Unknown,
                    "reset" => CounterResetHint::CounterReset,
                    "not_reset" => CounterResetHint::NotCounterReset,
                    "gauge" => CounterResetHint::Gauge,
                    other => return Err(format!("bad counter_reset_hint {other:?}")),
                }
            }
            other => return Err(format!("unknown histogram key {other:?}")),
        }
        rest = next.trim_start();
    }
    if !buckets.is_empty() {
        h.positive_spans = vec![Span {
            offset,
            length: buckets.len() as u32,
        }];
        h.positive_buckets = buckets;
    }
    if !n_buckets.is_empty() {
        h.negative_spans = vec![Span {
            offset: n_offset,
            length: n_buckets.len() as u32,
        }];
        h.negative_buckets = n_buckets;
    }
    Ok((h, hint_set))
}

fn hist_step(a: &FloatHistogram, b: &FloatHistogram, sign: f64) -> Result<FloatHistogram, String> {
    let r = if sign > 0.0 {
        crate::fhist::add(a, b)
    } else {
        crate::fhist::sub(a, b)
    };
    r.map(|x| x.0)
        .map_err(|_| "cannot combine exponential and custom buckets".to_string())
}

/// Expands one token of the series notation.
fn expand_token(t: &str, out: &mut Vec<SeriesValue>) -> Result<(), String> {
    if t.starts_with("{{") {
        let close = t.find("}}").ok_or_else(|| format!("bad histogram {t:?}"))? + 2;
        let (first, rest) = t.split_at(close);
        let (h, hint) = parse_hist(first)?;
        if rest.is_empty() {
            out.push(SeriesValue::Histogram(h, hint));
            return Ok(());
        }
        if let Some(n) = rest.strip_prefix('x') {
            let n: usize = n.parse().map_err(|_| format!("bad repetition in {t:?}"))?;
            for _ in 0..=n {
                out.push(SeriesValue::Histogram(h.clone(), hint));
            }
            return Ok(());
        }
        let sign = if rest.starts_with('+') { 1.0 } else { -1.0 };
        let rest = &rest[1..];
        let close2 = rest
            .find("}}")
            .ok_or_else(|| format!("bad histogram {t:?}"))?
            + 2;
        let (inc, times) = rest.split_at(close2);
        let (inc, inc_hint) = parse_hist(inc)?;
        let hint = inc_hint;
        let n: usize = times
            .strip_prefix('x')
            .and_then(|x| x.parse().ok())
            .ok_or_else(|| format!("bad repetition in {t:?}"))?;
        let mut cur = h;
        for i in 0..=n {
            if i > 0 {
                if cur.schema > inc.schema {
                    return Err(format!(
                        "error combining histograms: cannot merge from schema {} to {}",
                        inc.schema, cur.schema
                    ));
                }
                cur = hist_step(&cur, &inc, sign)?;
            }
            out.push(SeriesValue::Histogram(cur.clone(), hint));
        }
        return Ok(());
    }
    if t == "_" {
        out.push(SeriesValue::Omitted);
        return Ok(());
    }
    if let Some(n) = t.strip_prefix("_x") {
        let n: usize = n.parse().map_err(|_| format!("bad repetition {t:?}"))?;
        out.extend(std::iter::repeat_n(SeriesValue::Omitted, n));
        return Ok(());
    }
    if t == "stale" {
        out.push(SeriesValue::Float(stale_nan()));
        return Ok(());
    }
    // a, axN, a+bxN, a-bxN.
    let (base, reps) = match t.rsplit_once('x') {
        Some((b, n)) if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() && !b.is_empty() => {
            (
                b,
                Some(
                    n.parse::<usize>()
                        .map_err(|_| format!("bad repetition {t:?}"))?,
                ),
            )
        }
        _ => (t, None),
    };
    let Some(n) = reps else {
        out.push(SeriesValue::Float(parse_number(t)?));
        return Ok(());
    };
    // Find the sign that separates start and increment (not a leading sign or one
    // after an exponent `e`).
    let bytes = base.as_bytes();
    let mut split = None;
    for i in 1..bytes.len() {
        if (bytes[i] == b'+' || bytes[i] == b'-') && !matches!(bytes[i - 1], b'e' | b'E') {
            split = Some(i);
        }
    }
    let (start, inc) = match split {
        Some(i) => (parse_number(&base[..i])?, parse_number(&base[i..])?),
        None => (parse_number(base)?, 0.0),
    };
    // Accumulated rather than computed as start + i·step, as Prometheus's grammar
    // does (`$1 += $2`), so that rounding matches its values bit for bit.
    let mut v = start;
    for _ in 0..=n {
        out.push(SeriesValue::Float(v));
        v += inc;
    }
    Ok(())
}

/// Parses a series description, `metric{a="b"} values…`, into its labels and its
/// values expanded one per step. The metric part may be a bare label set
/// (`{a="b"}`) or absent altogether (the labels are then `None`), as in the
/// expected results of an `eval` in promqltest. The metric is read as
/// `ParseSeriesDesc` reads it (a name, `label="value"` pairs, quoted names), not
/// as a selector, so that names such as `sum` are metric names.
///
/// # Errors
/// A description of the first problem: a metric that does not parse, a value that
/// is not a number, `stale`, `_` or a histogram, a malformed repetition, or
/// histograms that cannot be combined.
pub fn parse_series(
    line: &str,
    opts: ParserOptions,
) -> Result<(Option<Labels>, Vec<SeriesValue>), String> {
    let line = line.trim();
    // The metric ends after its closing brace, or at the first whitespace.
    let (metric, values) = if line
        .starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '_')
        && !line.starts_with("__")
        || line.starts_with("{{")
        || starts_with_special_value(line)
    {
        ("", line)
    } else if let Some(i) = find_metric_end(line) {
        (&line[..i], &line[i..])
    } else {
        (line, "")
    };
    let labels = if metric.is_empty() {
        None
    } else {
        // The parse error alone, as `ParseSeriesDesc` reports it.
        Some(
            ember_promql_parser::Parser::new(opts)
                .parse_metric(metric)
                .map_err(|e| e.to_string())?,
        )
    };
    Ok((labels, parse_values(values)?))
}

/// Parses the values part of a series description alone (numbers, `_`, `stale`,
/// histograms, with their repetitions), as promtool reads an expected histogram.
///
/// # Errors
/// As [`parse_series`] for the values.
pub fn parse_values(values: &str) -> Result<Vec<SeriesValue>, String> {
    let mut vals = Vec::new();
    for t in tokens(values) {
        expand_token(&t, &mut vals)?;
    }
    Ok(vals)
}

/// Whether a line starts with `Inf` or `NaN` as a value (not a metric name such
/// as `info_metric`).
fn starts_with_special_value(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    ["inf", "nan"].iter().any(|w| {
        lower
            .strip_prefix(w)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', 'x', '+', '-']))
    })
}

fn find_metric_end(line: &str) -> Option<usize> {
    let mut in_str: Option<char> = None;
    let mut escaped = false;
    let mut seen_brace = false;
    for (i, c) in line.char_indices() {
        if let Some(q) = in_str {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                in_str = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => in_str = Some(c),
            '{' if !line[i..].starts_with("{{") => seen_brace = true,
            '{' => return Some(i),
            '}' if seen_brace => return Some(i + 1),
            c if c.is_whitespace() && !seen_brace => return Some(i),
            _ => {}
        }
    }
    None
}

/// Gives histograms the counter-reset hints Prometheus's TSDB reads back: its
/// histogram chunks store a hint only for the whole chunk, so a histogram that
/// starts a chunk (the first of a series, one after a reset, a layout change or a
/// float) reads as "unknown", every later one in the chunk as "no reset", and a
/// gauge chunk's as "gauge".
///
/// Prometheus 3.x reads the first histogram of every chunk as "unknown", even when
/// the chunk was cut for a counter reset (`counterResetHint` in `chunkenc`), so a
/// reset never reads back as "reset". Use one per series, in time order.
#[derive(Clone, Debug, Default)]
pub struct ChunkHints {
    prev: Option<FloatHistogram>,
}

impl ChunkHints {
    /// A float sample: the next histogram starts a new chunk.
    pub fn float(&mut self) {
        self.prev = None;
    }

    /// The histogram `h` as it reads back after being appended in turn.
    pub fn hist(&mut self, h: &FloatHistogram) -> FloatHistogram {
        let mut out = h.clone();
        let gauge = h.counter_reset_hint == CounterResetHint::Gauge;
        let same_layout = |p: &FloatHistogram| {
            p.schema == h.schema
                && p.zero_threshold == h.zero_threshold
                && (p.schema != ember_model::histogram::CUSTOM_BUCKETS_SCHEMA
                    || p.custom_values == h.custom_values)
        };
        if gauge {
            out.counter_reset_hint = CounterResetHint::Gauge;
        } else {
            let continues = self.prev.as_ref().is_some_and(|p| {
                let mut probe = h.clone();
                probe.counter_reset_hint = CounterResetHint::Unknown;
                p.counter_reset_hint != CounterResetHint::Gauge
                    && h.counter_reset_hint != CounterResetHint::CounterReset
                    && same_layout(p)
                    && !crate::fhist::detect_reset(&probe, p)
            });
            out.counter_reset_hint = if continues {
                CounterResetHint::NotCounterReset
            } else {
                CounterResetHint::Unknown
            };
        }
        self.prev = Some(out.clone());
        out
    }
}

/// A histogram in the notation, as Prometheus's `FloatHistogram.TestExpression`
/// writes it and promtool compares expected and actual histograms: fields that are
/// zero are left out, the hint is spelled out unless unknown, and each side's
/// buckets form one span from the first to the last non-empty bucket (as after
/// `Compact(math.MaxInt)`).
pub fn test_expression(h: &FloatHistogram) -> String {
    let mut res = Vec::new();
    if h.schema != 0 {
        res.push(format!("schema:{}", h.schema));
    }
    if h.count != 0.0 {
        res.push(format!("count:{}", go_g(h.count)));
    }
    if h.sum != 0.0 {
        res.push(format!("sum:{}", go_g(h.sum)));
    }
    if h.zero_count != 0.0 {
        res.push(format!("z_bucket:{}", go_g(h.zero_count)));
    }
    if h.zero_threshold != 0.0 {
        res.push(format!("z_bucket_w:{}", go_g(h.zero_threshold)));
    }
    if h.uses_custom_buckets() {
        let v: Vec<String> = h.custom_values.iter().map(|x| go_g(*x)).collect();
        res.push(format!("custom_values:[{}]", v.join(" ")));
    }
    match h.counter_reset_hint {
        CounterResetHint::Unknown => {}
        CounterResetHint::CounterReset => res.push("counter_reset_hint:reset".into()),
        CounterResetHint::NotCounterReset => res.push("counter_reset_hint:not_reset".into()),
        CounterResetHint::Gauge => res.push("counter_reset_hint:gauge".into()),
    }
    for (spans, buckets, bkey, okey) in [
        (&h.positive_spans, &h.positive_buckets, "buckets", "offset"),
        (
            &h.negative_spans,
            &h.negative_buckets,
            "n_buckets",
            "n_offset",
        ),
    ] {
        let Some((offset, counts)) = one_span(spans, buckets) else {
            continue;
        };
        if offset != 0 {
            res.push(format!("{okey}:{offset}"));
        }
        let v: Vec<String> = counts.iter().map(|x| go_g(*x)).collect();
        res.push(format!("{bkey}:[{}]", v.join(" ")));
    }
    format!("{{{{{}}}}}", res.join(" "))
}

/// The first non-empty bucket's index and the counts from it to the last
/// non-empty one, gaps filled with zeros; `None` when all are empty.
fn one_span(spans: &[Span], buckets: &[f64]) -> Option<(i32, Vec<f64>)> {
    let items = crate::fhist::side(spans, buckets);
    let first = items.iter().position(|(_, v)| *v != 0.0)?;
    let last = items.iter().rposition(|(_, v)| *v != 0.0)?;
    let lo = items[first].0;
    let mut counts = vec![0.0; usize::try_from(items[last].0 - lo).unwrap_or(0) + 1];
    for (i, v) in &items[first..=last] {
        if let Some(c) = usize::try_from(i - lo).ok().and_then(|k| counts.get_mut(k)) {
            *c = *v;
        }
    }
    Some((lo, counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_floats() {
        let v = parse_values("1+2x3 _x2 -1-1x1 1e3 1x2 0 _ stale").unwrap();
        let got: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
        assert_eq!(
            got,
            [
                "Float(1.0)",
                "Float(3.0)",
                "Float(5.0)",
                "Float(7.0)",
                "Omitted",
                "Omitted",
                "Float(-1.0)",
                "Float(-2.0)",
                "Float(1000.0)",
                "Float(1.0)",
                "Float(1.0)",
                "Float(1.0)",
                "Float(0.0)",
                "Omitted",
                "Float(NaN)"
            ]
        );
    }

    #[test]
    fn parses_series_lines() {
        let opts = ParserOptions::default();
        let (l, v) = parse_series(
            r#"foo{a="b c"} 1 _ stale {{schema:1 sum:2 count:3 buckets:[1 2]}}x1"#,
            opts,
        )
        .unwrap();
        assert_eq!(l.unwrap().to_string(), r#"{__name__="foo", a="b c"}"#);
        assert_eq!(v.len(), 5);
        let (l, v) = parse_series("3", opts).unwrap();
        assert!(l.is_none());
        assert_eq!(v.len(), 1);
        assert!(parse_series(r#"up{job="a" 1"#, opts).is_err());
        assert!(parse_series(r#"up{job=~"a"} 1"#, opts).is_err());
        let (l, _) = parse_series("sum 1", opts).unwrap();
        assert_eq!(l.unwrap().to_string(), r#"{__name__="sum"}"#);
        let (l, _) = parse_series("{} 1", opts).unwrap();
        assert_eq!(l, Some(Labels::empty()));
    }

    #[test]
    fn histograms_and_their_test_expression() {
        let v = parse_values("{{sum:3 count:2 buckets:[2]}}+{{sum:1.3 count:1 buckets:[1]}}x2")
            .unwrap();
        let Some(SeriesValue::Histogram(h, false)) = v.get(2) else {
            panic!("not a histogram without hint: {v:?}")
        };
        assert_eq!(test_expression(h), "{{count:4 sum:5.6 buckets:[4]}}");
        let text = "{{schema:1 sum:-0.3 count:32.1 z_bucket:7.1 z_bucket_w:0.05 buckets:[5.1 10 7] offset:-3 n_buckets:[4.1 5] n_offset:-5}}";
        let v = parse_values(text).unwrap();
        let [SeriesValue::Histogram(h, _)] = v.as_slice() else {
            panic!("not one histogram: {v:?}")
        };
        assert_eq!(
            test_expression(h),
            "{{schema:1 count:32.1 sum:-0.3 z_bucket:7.1 z_bucket_w:0.05 offset:-3 buckets:[5.1 10 7] n_offset:-5 n_buckets:[4.1 5]}}"
        );
        let v =
            parse_values("{{buckets:[0 1 0 0 2 0] offset:-1 counter_reset_hint:gauge}}").unwrap();
        let [SeriesValue::Histogram(h, true)] = v.as_slice() else {
            panic!("not one histogram with a hint: {v:?}")
        };
        assert_eq!(
            test_expression(h),
            "{{counter_reset_hint:gauge buckets:[1 0 0 2]}}"
        );
    }

    #[test]
    fn chunk_hints_follow_tsdb() {
        let h = |count: f64| FloatHistogram {
            count,
            ..Default::default()
        };
        let mut hints = ChunkHints::default();
        let got: Vec<CounterResetHint> = [h(1.0), h(2.0), h(1.0), h(3.0)]
            .iter()
            .map(|x| hints.hist(x).counter_reset_hint)
            .collect();
        use CounterResetHint::{NotCounterReset, Unknown};
        assert_eq!(got, [Unknown, NotCounterReset, Unknown, NotCounterReset]);
        hints.float();
        assert_eq!(hints.hist(&h(4.0)).counter_reset_hint, Unknown);
    }
}
