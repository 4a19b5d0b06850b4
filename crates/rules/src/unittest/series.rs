//! The series notation of promtool's `input_series` (`metric{a="b"} 1+2x10 _ stale
//! {{count:3 buckets:[1 2]}}x2`), native histograms' test expressions, and the
//! in-memory storage the tests run on.

use ember_model::Labels;
use ember_model::histogram::{CounterResetHint, FloatHistogram, Span};
use ember_model::value::{Exemplar, Metadata, stale_nan};
use ember_storage::list::MemStorage;
use ember_storage::{
    Appendable, Appender, Error as StorageError, HistogramRef, Querier, Queryable, SeriesRef,
    Timestamp,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// One value of a series description; `None` is an omitted value (`_`).
pub(crate) type SeriesValue = Option<Point>;

/// A float or a histogram.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Point {
    Float(f64),
    Histogram(FloatHistogram),
}

/// Parses `metric{labels} values…`: the labels and the expanded values.
pub(crate) fn parse_series_desc(line: &str) -> Result<(Labels, Vec<SeriesValue>), String> {
    let line = line.trim();
    let end = metric_end(line)?;
    let (metric, values) = line.split_at(end);
    let labels = ember_promql_parser::Parser::default()
        .parse_metric(metric.trim())
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for tok in tokens(values) {
        expand(&tok, &mut out)?;
    }
    Ok((labels, out))
}

/// Parses the values part alone (`{{…}}` or numbers), as for expected histograms.
pub(crate) fn parse_values(values: &str) -> Result<Vec<SeriesValue>, String> {
    let mut out = Vec::new();
    for tok in tokens(values) {
        expand(&tok, &mut out)?;
    }
    Ok(out)
}

/// Where the metric part ends: after the closing brace of its labels, or at the first
/// whitespace when it has none.
fn metric_end(line: &str) -> Result<usize, String> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut in_braces = false;
    for (i, c) in line.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' if in_braces => quote = Some(c),
            '{' if !in_braces => {
                if line[i..].starts_with("{{") {
                    return Ok(i);
                }
                in_braces = true;
            }
            '}' if in_braces => return Ok(i + 1),
            c if c.is_whitespace() && !in_braces => return Ok(i),
            _ => {}
        }
    }
    if in_braces {
        return Err(format!(
            "1:{}: parse error: unexpected end of input inside braces",
            line.len() + 1
        ));
    }
    Ok(line.len())
}

/// Splits values at whitespace, keeping `{{…}}` together.
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '{' && chars.peek() == Some(&'{') {
            chars.next();
            depth += 1;
            cur.push_str("{{");
        } else if c == '}' && chars.peek() == Some(&'}') && depth > 0 {
            chars.next();
            depth -= 1;
            cur.push_str("}}");
        } else if c.is_whitespace() && depth == 0 {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A number as the PromQL lexer reads it: decimal, hex, `Inf`, `NaN`, signed.
fn number(s: &str) -> Result<f64, String> {
    let bad = || format!("invalid number {s:?} in series values");
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let lower = body.to_ascii_lowercase();
    let v = match lower.as_str() {
        "inf" => f64::INFINITY,
        "nan" => f64::NAN,
        l if l.starts_with("0x") => i64::from_str_radix(&l[2..], 16).map_err(|_| bad())? as f64,
        l if l.starts_with(|c: char| c.is_ascii_digit() || c == '.') => {
            body.replace('_', "").parse().map_err(|_| bad())?
        }
        _ => return Err(bad()),
    };
    Ok(if neg { -v } else { v })
}

fn repeat_count(s: &str) -> Result<usize, String> {
    s.parse()
        .map_err(|_| format!("invalid repetition in series values: {s:?}"))
}

fn expand(tok: &str, out: &mut Vec<SeriesValue>) -> Result<(), String> {
    if tok.starts_with("{{") {
        return expand_histogram(tok, out);
    }
    if tok == "_" {
        out.push(None);
        return Ok(());
    }
    if let Some(n) = tok.strip_prefix("_x") {
        out.extend(std::iter::repeat_n(None, repeat_count(n)?));
        return Ok(());
    }
    if tok == "stale" {
        out.push(Some(Point::Float(stale_nan())));
        return Ok(());
    }
    let Some((base, n)) = tok
        .rsplit_once('x')
        .filter(|(b, n)| !b.is_empty() && !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
    else {
        out.push(Some(Point::Float(number(tok)?)));
        return Ok(());
    };
    let n = repeat_count(n)?;
    // The sign separating start and step: not a leading sign, nor one after an
    // exponent's `e`.
    let b = base.as_bytes();
    let split = (1..b.len())
        .rev()
        .find(|&i| (b[i] == b'+' || b[i] == b'-') && !matches!(b[i - 1], b'e' | b'E'));
    let (start, step) = match split {
        Some(i) => (number(&base[..i])?, number(&base[i..])?),
        None => (number(base)?, 0.0),
    };
    // Each value is computed from the start, as Prometheus does, so that rounding
    // errors do not accumulate.
    for i in 0..=n {
        out.push(Some(Point::Float(start + step * i as f64)));
    }
    Ok(())
}

fn expand_histogram(tok: &str, out: &mut Vec<SeriesValue>) -> Result<(), String> {
    let close = tok
        .find("}}")
        .ok_or_else(|| format!("unterminated histogram {tok:?}"))?
        + 2;
    let (first, rest) = tok.split_at(close);
    let h = parse_histogram(first)?;
    if rest.is_empty() {
        out.push(Some(Point::Histogram(h)));
        return Ok(());
    }
    if let Some(n) = rest.strip_prefix('x') {
        for _ in 0..=repeat_count(n)? {
            out.push(Some(Point::Histogram(h.clone())));
        }
        return Ok(());
    }
    let sign = match rest.as_bytes()[0] {
        b'+' => 1.0,
        b'-' => -1.0,
        _ => return Err(format!("invalid histogram series values {tok:?}")),
    };
    let rest = &rest[1..];
    let close = rest
        .find("}}")
        .ok_or_else(|| format!("unterminated histogram {tok:?}"))?
        + 2;
    let (inc, times) = rest.split_at(close);
    let inc = parse_histogram(inc)?;
    let n = repeat_count(
        times
            .strip_prefix('x')
            .ok_or_else(|| format!("missing repetition in {tok:?}"))?,
    )?;
    let mut cur = h;
    for i in 0..=n {
        if i > 0 {
            cur = add(&cur, &inc, sign)?;
        }
        out.push(Some(Point::Histogram(cur.clone())));
    }
    Ok(())
}

/// Parses `{{schema:1 sum:3 count:22 buckets:[5 10 7] offset:1 …}}`.
pub(crate) fn parse_histogram(s: &str) -> Result<FloatHistogram, String> {
    let inner = s
        .trim()
        .strip_prefix("{{")
        .and_then(|x| x.strip_suffix("}}"))
        .ok_or_else(|| format!("invalid histogram {s:?}"))?;
    let mut h = FloatHistogram::default();
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    let (mut offset, mut n_offset) = (0i32, 0i32);
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once(':')
            .ok_or_else(|| format!("invalid histogram {s:?}"))?;
        let after = after.trim_start();
        let (val, next) = if after.starts_with('[') {
            let end = after
                .find(']')
                .ok_or_else(|| format!("unclosed bucket list in {s:?}"))?;
            (&after[..=end], &after[end + 1..])
        } else {
            after.split_at(after.find(char::is_whitespace).unwrap_or(after.len()))
        };
        let list = |v: &str| -> Result<Vec<f64>, String> {
            v.trim_matches(['[', ']'])
                .split_whitespace()
                .map(number)
                .collect()
        };
        let int = |v: &str| -> Result<i32, String> {
            v.parse()
                .map_err(|_| format!("invalid integer {v:?} in {s:?}"))
        };
        match key.trim() {
            "schema" => h.schema = int(val)?,
            "sum" => h.sum = number(val)?,
            "count" => h.count = number(val)?,
            "z_bucket" => h.zero_count = number(val)?,
            "z_bucket_w" => h.zero_threshold = number(val)?,
            "buckets" => pos = list(val)?,
            "n_buckets" => neg = list(val)?,
            "offset" => offset = int(val)?,
            "n_offset" => n_offset = int(val)?,
            "custom_values" => h.custom_values = list(val)?,
            "counter_reset_hint" => {
                h.counter_reset_hint = match val {
                    "unknown" => CounterResetHint::Unknown,
                    "reset" => CounterResetHint::CounterReset,
                    "not_reset" => CounterResetHint::NotCounterReset,
                    "gauge" => CounterResetHint::Gauge,
                    other => return Err(format!("invalid counter_reset_hint {other:?}")),
                }
            }
            other => return Err(format!("unknown histogram field {other:?}")),
        }
        rest = next.trim_start();
    }
    if !pos.is_empty() {
        h.positive_spans = vec![Span {
            offset,
            length: pos.len() as u32,
        }];
        h.positive_buckets = pos;
    }
    if !neg.is_empty() {
        h.negative_spans = vec![Span {
            offset: n_offset,
            length: neg.len() as u32,
        }];
        h.negative_buckets = neg;
    }
    Ok(h)
}

/// Buckets by absolute index.
fn by_index(spans: &[Span], buckets: &[f64]) -> BTreeMap<i32, f64> {
    let mut out = BTreeMap::new();
    let mut idx = 0i32;
    let mut b = buckets.iter();
    // Each span's offset counts from the end of the previous span (from 0 for the
    // first), so a running index gives absolute positions.
    for s in spans {
        idx += s.offset;
        for _ in 0..s.length {
            if let Some(v) = b.next() {
                out.insert(idx, *v);
            }
            idx += 1;
        }
    }
    out
}

/// One span from the first to the last non-zero bucket, as Prometheus's `Compact`
/// leaves a histogram when any gap may be filled.
fn compact(m: &BTreeMap<i32, f64>) -> (Vec<Span>, Vec<f64>) {
    let nonzero: Vec<i32> = m
        .iter()
        .filter(|(_, v)| **v != 0.0)
        .map(|(k, _)| *k)
        .collect();
    let (Some(&lo), Some(&hi)) = (nonzero.first(), nonzero.last()) else {
        return (Vec::new(), Vec::new());
    };
    let buckets: Vec<f64> = (lo..=hi)
        .map(|i| m.get(&i).copied().unwrap_or(0.0))
        .collect();
    (
        vec![Span {
            offset: lo,
            length: buckets.len() as u32,
        }],
        buckets,
    )
}

/// `a + sign·b` for histograms of the same schema.
fn add(a: &FloatHistogram, b: &FloatHistogram, sign: f64) -> Result<FloatHistogram, String> {
    if a.schema != b.schema {
        return Err(format!(
            "error combining histograms: cannot merge from schema {} to {}",
            b.schema, a.schema
        ));
    }
    let merge = |sa: &[Span], ba: &[f64], sb: &[Span], bb: &[f64]| {
        let mut m = by_index(sa, ba);
        for (k, v) in by_index(sb, bb) {
            *m.entry(k).or_insert(0.0) += sign * v;
        }
        // Keep the spans as wide as the inputs (zeros included) so that the test
        // expression's compaction decides what is shown.
        let lo = m.keys().next().copied();
        let hi = m.keys().next_back().copied();
        match (lo, hi) {
            (Some(lo), Some(hi)) => {
                let buckets: Vec<f64> = (lo..=hi)
                    .map(|i| m.get(&i).copied().unwrap_or(0.0))
                    .collect();
                (
                    vec![Span {
                        offset: lo,
                        length: buckets.len() as u32,
                    }],
                    buckets,
                )
            }
            _ => (Vec::new(), Vec::new()),
        }
    };
    let (ps, pb) = merge(
        &a.positive_spans,
        &a.positive_buckets,
        &b.positive_spans,
        &b.positive_buckets,
    );
    let (ns, nb) = merge(
        &a.negative_spans,
        &a.negative_buckets,
        &b.negative_spans,
        &b.negative_buckets,
    );
    Ok(FloatHistogram {
        counter_reset_hint: a.counter_reset_hint,
        schema: a.schema,
        zero_threshold: a.zero_threshold.max(b.zero_threshold),
        zero_count: a.zero_count + sign * b.zero_count,
        count: a.count + sign * b.count,
        sum: a.sum + sign * b.sum,
        positive_spans: ps,
        negative_spans: ns,
        positive_buckets: pb,
        negative_buckets: nb,
        custom_values: a.custom_values.clone(),
    })
}

/// Go's `%g` (shortest digits, exponent form from 1e6 or below 1e-4).
pub(crate) fn go_g(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let (digits, exp, neg) = shortest(v);
    let sign = if neg { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        return format!(
            "{sign}{first}{frac}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        );
    }
    fixed(sign, &digits, exp)
}

fn fixed(sign: &str, digits: &str, exp: i32) -> String {
    if exp < 0 {
        return format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize));
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        format!("{sign}{digits}{}", "0".repeat(int_len - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
    }
}

/// Shortest round-tripping digits and the decimal exponent of the first digit.
fn shortest(v: f64) -> (String, i32, bool) {
    let e = format!("{:e}", v.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    (digits, exp.parse().unwrap_or(0), v < 0.0)
}

/// Go's `strconv.FormatFloat(v, 'E', -1, 64)`: `1E+00`, `2.5E-07`.
pub(crate) fn go_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let (digits, exp, neg) = if v == 0.0 {
        ("0".to_string(), 0, v.is_sign_negative())
    } else {
        shortest(v)
    };
    let (first, rest) = digits.split_at(1);
    let frac = if rest.is_empty() {
        String::new()
    } else {
        format!(".{rest}")
    };
    format!(
        "{}{first}{frac}E{}{:02}",
        if neg { "-" } else { "" },
        if exp < 0 { '-' } else { '+' },
        exp.abs()
    )
}

/// Prometheus's `FloatHistogram.TestExpression`, the form promtool compares.
pub(crate) fn test_expression(h: &FloatHistogram) -> String {
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
        let (spans, buckets) = compact(&by_index(spans, buckets));
        if let Some(s) = spans.first()
            && s.offset != 0
        {
            res.push(format!("{okey}:{}", s.offset));
        }
        if !buckets.is_empty() {
            let v: Vec<String> = buckets.iter().map(|x| go_g(*x)).collect();
            res.push(format!("{bkey}:[{}]", v.join(" ")));
        }
    }
    format!("{{{{{}}}}}", res.join(" "))
}

/// Whether `cur` cannot continue the counter `prev` (some count went down or the
/// layout changed incompatibly).
fn is_reset(prev: &FloatHistogram, cur: &FloatHistogram) -> bool {
    if cur.count < prev.count
        || cur.zero_count < prev.zero_count
        || cur.schema > prev.schema
        || cur.zero_threshold != prev.zero_threshold
    {
        return true;
    }
    let lower = |spans: &[Span], b: &[f64], other: &BTreeMap<i32, f64>| {
        by_index(spans, b)
            .iter()
            .any(|(k, v)| other.get(k).is_none_or(|o| o < v))
    };
    lower(
        &prev.positive_spans,
        &prev.positive_buckets,
        &by_index(&cur.positive_spans, &cur.positive_buckets),
    ) || lower(
        &prev.negative_spans,
        &prev.negative_buckets,
        &by_index(&cur.negative_spans, &cur.negative_buckets),
    )
}

/// The test storage: an in-memory store that, like the TSDB's histogram chunks,
/// gives histogram samples after the first of a series a counter-reset hint
/// (`not_reset`, or `reset` where a count went down), which promtool's expected
/// histograms spell out.
#[derive(Debug, Default)]
pub(crate) struct TestStorage {
    mem: MemStorage,
    last: Mutex<HashMap<Labels, FloatHistogram>>,
}

struct TestAppender<'a> {
    inner: Box<dyn Appender + 'a>,
    last: &'a Mutex<HashMap<Labels, FloatHistogram>>,
}

impl Appender for TestAppender<'_> {
    fn append(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        t: Timestamp,
        v: f64,
    ) -> Result<SeriesRef, StorageError> {
        self.inner.append(r, labels, t, v)
    }
    fn append_histogram(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        t: Timestamp,
        h: HistogramRef<'_>,
    ) -> Result<SeriesRef, StorageError> {
        let mut fh = match h {
            HistogramRef::Int(h) => h.to_float(),
            HistogramRef::Float(h) => h.clone(),
        };
        let mut last = self
            .last
            .lock()
            .map_err(|_| StorageError::Io("lock poisoned".into()))?;
        if fh.counter_reset_hint != CounterResetHint::Gauge {
            fh.counter_reset_hint = match last.get(labels) {
                None => CounterResetHint::Unknown,
                Some(p) if is_reset(p, &fh) => CounterResetHint::CounterReset,
                Some(_) => CounterResetHint::NotCounterReset,
            };
        }
        let res = self
            .inner
            .append_histogram(r, labels, t, HistogramRef::Float(&fh));
        if res.is_ok() {
            last.insert(labels.clone(), fh);
        }
        res
    }
    fn append_exemplar(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        e: &Exemplar,
    ) -> Result<SeriesRef, StorageError> {
        self.inner.append_exemplar(r, labels, e)
    }
    fn update_metadata(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        m: &Metadata,
    ) -> Result<SeriesRef, StorageError> {
        self.inner.update_metadata(r, labels, m)
    }
    fn commit(self: Box<Self>) -> Result<(), StorageError> {
        self.inner.commit()
    }
    fn rollback(self: Box<Self>) -> Result<(), StorageError> {
        self.inner.rollback()
    }
}

impl Appendable for TestStorage {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(TestAppender {
            inner: self.mem.appender(),
            last: &self.last,
        })
    }
}

impl Queryable for TestStorage {
    fn querier(
        &self,
        mint: Timestamp,
        maxt: Timestamp,
    ) -> Result<Box<dyn Querier + '_>, StorageError> {
        self.mem.querier(mint, maxt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(s: &str) -> Vec<Option<f64>> {
        parse_values(s)
            .unwrap()
            .into_iter()
            .map(|v| match v {
                Some(Point::Float(f)) => Some(f),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn expands_notation() {
        assert_eq!(floats("1+1x2"), vec![Some(1.0), Some(2.0), Some(3.0)]);
        assert_eq!(floats("1x2"), vec![Some(1.0); 3]);
        assert_eq!(
            floats("0 _ _x2 -1-1x1"),
            vec![Some(0.0), None, None, None, Some(-1.0), Some(-2.0)]
        );
        assert_eq!(floats("1e3"), vec![Some(1000.0)]);
        let (l, v) = parse_series_desc("up{job=\"a b\"} 1 2").unwrap();
        assert_eq!(l.to_string(), "{__name__=\"up\", job=\"a b\"}");
        assert_eq!(v.len(), 2);
        assert!(parse_series_desc("up{job=\"a\" 1").is_err());
    }

    #[test]
    fn histograms() {
        let v = parse_values("{{sum:3 count:2 buckets:[2]}}+{{sum:1.3 count:1 buckets:[1]}}x2")
            .unwrap();
        let Some(Point::Histogram(h)) = &v[2] else {
            panic!("not a histogram")
        };
        assert_eq!(test_expression(h), "{{count:4 sum:5.6 buckets:[4]}}");
        let h = parse_histogram("{{schema:1 sum:-0.3 count:32.1 z_bucket:7.1 z_bucket_w:0.05 buckets:[5.1 10 7] offset:-3 n_buckets:[4.1 5] n_offset:-5}}").unwrap();
        assert_eq!(
            test_expression(&h),
            "{{schema:1 count:32.1 sum:-0.3 z_bucket:7.1 z_bucket_w:0.05 offset:-3 buckets:[5.1 10 7] n_offset:-5 n_buckets:[4.1 5]}}"
        );
    }

    #[test]
    fn go_float_formats() {
        assert_eq!(go_e(1.0), "1E+00");
        assert_eq!(go_e(2.9999999999999996), "2.9999999999999996E+00");
        assert_eq!(go_e(0.0), "0E+00");
        assert_eq!(go_e(1e-7), "1E-07");
        assert_eq!(go_g(100000.0), "100000");
        assert_eq!(go_g(1e6), "1e+06");
        assert_eq!(go_g(0.5), "0.5");
    }
}
