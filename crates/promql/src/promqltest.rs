//! Runs Prometheus's data-driven PromQL test files (`promql/promqltest/testdata/*.test`
//! upstream): `load` and `load_with_nhcb` with the series notation, `clear`,
//! `eval instant at …`, `eval range from … to … step …`, the deprecated `eval_fail`,
//! `eval_warn`, `eval_info` and `eval_ordered` forms, and every `expect` line. A case
//! the runner or the engine cannot handle counts as failed, never as skipped.

use crate::value::{Sample, Value};
use crate::{Engine, EngineOptions};
use ember_model::histogram::{CounterResetHint, FloatHistogram, Span};
use ember_model::value::stale_nan;
use ember_model::{Labels, MatchType};
use ember_promql_parser::{Expr, ParserOptions};
use ember_storage::list::MemStorage;
use ember_storage::{Appendable, HistogramRef};
use std::time::Duration;

/// The result of running one file.
#[derive(Clone, Debug, Default)]
pub struct FileReport {
    /// Eval cases that passed.
    pub passed: usize,
    /// Eval cases in the file.
    pub total: usize,
    /// Failures: line number and why.
    pub failures: Vec<(usize, String)>,
}

/// One value of the series notation.
#[derive(Clone, Debug)]
enum SeqValue {
    Omitted,
    Float(f64),
    Hist(FloatHistogram, bool),
}

/// Parses a duration as promqltest does (`50m`, `1h30m`, `0`, plain seconds).
fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(v) = s.parse::<f64>() {
        return Ok((v * 1000.0) as i64);
    }
    ember_promql_parser::parse_duration(s)
        .map(|d| d.as_millis())
        .map_err(|e| format!("invalid time {s:?}: {e}"))
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
    if sign > 0.0 {
        crate::functions::histogram::add(a, b)
    } else {
        crate::functions::histogram::sub(a, b)
    }
}

/// Expands one token of the series notation.
fn expand_token(t: &str, out: &mut Vec<SeqValue>) -> Result<(), String> {
    if t.starts_with("{{") {
        let close = t.find("}}").ok_or_else(|| format!("bad histogram {t:?}"))? + 2;
        let (first, rest) = t.split_at(close);
        let (h, hint) = parse_hist(first)?;
        if rest.is_empty() {
            out.push(SeqValue::Hist(h, hint));
            return Ok(());
        }
        if let Some(n) = rest.strip_prefix('x') {
            let n: usize = n.parse().map_err(|_| format!("bad repetition in {t:?}"))?;
            for _ in 0..=n {
                out.push(SeqValue::Hist(h.clone(), hint));
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
        let (inc, _) = parse_hist(inc)?;
        let n: usize = times
            .strip_prefix('x')
            .and_then(|x| x.parse().ok())
            .ok_or_else(|| format!("bad repetition in {t:?}"))?;
        let mut cur = h;
        for i in 0..=n {
            if i > 0 {
                let mut next = hist_step(&cur, &inc, sign)?;
                next.counter_reset_hint = cur.counter_reset_hint;
                // Keep the layout of the start value where possible.
                cur = next;
            }
            out.push(SeqValue::Hist(cur.clone(), hint));
        }
        return Ok(());
    }
    if t == "_" {
        out.push(SeqValue::Omitted);
        return Ok(());
    }
    if let Some(n) = t.strip_prefix("_x") {
        let n: usize = n.parse().map_err(|_| format!("bad repetition {t:?}"))?;
        out.extend(std::iter::repeat_n(SeqValue::Omitted, n));
        return Ok(());
    }
    if t == "stale" {
        out.push(SeqValue::Float(stale_nan()));
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
        out.push(SeqValue::Float(parse_number(t)?));
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
    let mut v = start;
    for _ in 0..=n {
        out.push(SeqValue::Float(v));
        v += inc;
    }
    Ok(())
}

/// Parses `metric{a="b"} values…`; the metric part may be omitted (`{a="b"}`) or
/// absent altogether for a scalar.
fn parse_series_line(
    line: &str,
    opts: ParserOptions,
) -> Result<(Option<Labels>, Vec<SeqValue>), String> {
    let line = line.trim();
    // The metric ends after its closing brace, or at the first whitespace.
    let (metric, values) = if line
        .starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '_')
        && !line.starts_with("__")
        || line.starts_with("{{")
        || line.to_ascii_lowercase().starts_with("inf")
        || line.to_ascii_lowercase().starts_with("nan")
    {
        ("", line)
    } else if let Some(i) = find_metric_end(line) {
        (&line[..i], &line[i..])
    } else {
        (line, "")
    };
    let labels = if metric.is_empty() {
        None
    } else if metric.replace(' ', "") == "{}" {
        Some(Labels::empty())
    } else {
        let e = ember_promql_parser::Parser::new(opts)
            .parse_expr(metric)
            .map_err(|e| format!("bad series {metric:?}: {e}"))?;
        let Expr::VectorSelector(vs) = e else {
            return Err(format!("bad series {metric:?}"));
        };
        let mut pairs = Vec::new();
        for m in &vs.label_matchers {
            if m.kind != MatchType::Equal {
                return Err(format!("series {metric:?} may only use = matchers"));
            }
            pairs.push((m.name.clone(), m.value.clone()));
        }
        Some(Labels::from_pairs(pairs))
    };
    let mut vals = Vec::new();
    for t in tokens(values) {
        expand_token(&t, &mut vals)?;
    }
    Ok((labels, vals))
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

#[derive(Default, Debug)]
struct Expect {
    fail: Option<Option<Match>>,
    warn: Vec<Option<Match>>,
    info: Vec<Option<Match>>,
    no_warn: bool,
    no_info: bool,
    ordered: bool,
    string: Option<String>,
    range_vector: Option<(i64, i64, i64)>,
}

#[derive(Debug)]
enum Match {
    Msg(String),
    Re(regex::Regex),
}

impl Match {
    fn matches(&self, s: &str) -> bool {
        match self {
            Match::Msg(m) => m == s,
            Match::Re(r) => r.is_match(s),
        }
    }
}

fn strip_quotes(s: &str) -> String {
    let t = s.trim();
    if t.len() >= 2
        && ((t.starts_with('"') && t.ends_with('"')) || (t.starts_with('`') && t.ends_with('`')))
    {
        return t[1..t.len() - 1].to_string();
    }
    t.to_string()
}

fn parse_match(kind: &str, body: &str) -> Result<Match, String> {
    let body = strip_quotes(body);
    match kind {
        "msg" => Ok(Match::Msg(body)),
        _ => regex::Regex::new(&body)
            .map(Match::Re)
            .map_err(|e| format!("bad regex {body:?}: {e}")),
    }
}

struct Eval {
    line: usize,
    query: String,
    start: i64,
    end: i64,
    step: i64,
    instant: bool,
    expect: Expect,
    expected: Vec<(Option<Labels>, Vec<SeqValue>)>,
}

/// Runs the test file text; `name` is used in failure messages only.
pub fn run_file(text: &str) -> FileReport {
    let opts = ParserOptions {
        enable_experimental_functions: true,
        experimental_duration_expr: true,
        enable_extended_range_selectors: true,
        enable_binop_fill_modifiers: true,
    };
    let engine = Engine::new(EngineOptions {
        lookback_delta: Duration::from_secs(300),
        max_samples: 50_000_000,
        timeout: Duration::from_secs(30),
        default_subquery_step: Duration::from_secs(60),
        parser: opts,
    });
    let mut store = MemStorage::new();
    let mut report = FileReport::default();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let raw = lines[i];
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            i += 1;
            continue;
        }
        // The block of indented (or following non-blank) lines belongs to the command.
        let mut j = i + 1;
        while j < lines.len() && !lines[j].trim().is_empty() && !is_command(lines[j].trim()) {
            j += 1;
        }
        let body: Vec<(usize, &str)> = (i + 1..j)
            .map(|k| (k + 1, lines[k].trim()))
            .filter(|(_, l)| !l.starts_with('#'))
            .collect();
        if line == "clear" {
            store = MemStorage::new();
        } else if let Some(rest) = line.strip_prefix("load") {
            let (nhcb, interval) = match rest.strip_prefix("_with_nhcb") {
                Some(r) => (true, r.trim()),
                None => (false, rest.trim()),
            };
            if let Err(e) = load(&store, interval, &body, nhcb, opts) {
                // A load that fails makes every following eval meaningless; count the
                // file's evals as failed by recording the problem on them.
                report.failures.push((i + 1, format!("load failed: {e}")));
            }
        } else if line.starts_with("eval") {
            report.total += 1;
            match parse_eval(line, i + 1, &body, opts) {
                Ok(ev) => match check(&engine, &store, &ev) {
                    Ok(()) => report.passed += 1,
                    Err(e) => report
                        .failures
                        .push((ev.line, format!("{}: {e}", ev.query))),
                },
                Err(e) => report.failures.push((i + 1, e)),
            }
        } else {
            report
                .failures
                .push((i + 1, format!("unknown command {line:?}")));
        }
        i = j;
    }
    report
}

fn is_command(l: &str) -> bool {
    l == "clear"
        || l.starts_with("load ")
        || l.starts_with("load_with_nhcb ")
        || l.starts_with("eval ")
        || l.starts_with("eval_")
}

fn load(
    store: &MemStorage,
    interval: &str,
    body: &[(usize, &str)],
    nhcb: bool,
    opts: ParserOptions,
) -> Result<(), String> {
    let step = parse_time(interval)?;
    let mut app = store.appender();
    let mut classic: Vec<(Labels, Vec<SeqValue>)> = Vec::new();
    for (ln, l) in body {
        let (labels, vals) = parse_series_line(l, opts).map_err(|e| format!("line {ln}: {e}"))?;
        let labels = labels.ok_or_else(|| format!("line {ln}: series without labels"))?;
        for (k, v) in vals.iter().enumerate() {
            let t = k as i64 * step;
            match v {
                SeqValue::Omitted => {}
                SeqValue::Float(f) => {
                    app.append(None, &labels, t, *f)
                        .map_err(|e| format!("line {ln}: {e}"))?;
                }
                SeqValue::Hist(h, _) => {
                    app.append_histogram(None, &labels, t, HistogramRef::Float(h))
                        .map_err(|e| format!("line {ln}: {e}"))?;
                }
            }
        }
        if nhcb {
            classic.push((labels, vals));
        }
    }
    app.commit().map_err(|e| e.to_string())?;
    if nhcb {
        load_nhcb(store, step, &classic)?;
    }
    Ok(())
}

/// `load_with_nhcb`: classic `_bucket` series also become native histograms with
/// custom buckets, named without the suffix.
fn load_nhcb(
    store: &MemStorage,
    step: i64,
    series: &[(Labels, Vec<SeqValue>)],
) -> Result<(), String> {
    use std::collections::BTreeMap;
    // family key (labels without le and name suffix) -> (le -> values)
    // Per family: buckets by bound, then the `_count` and `_sum` series.
    type Family = (
        BTreeMap<u64, (f64, Vec<SeqValue>)>,
        Option<Vec<SeqValue>>,
        Option<Vec<SeqValue>>,
    );
    let mut fams: BTreeMap<Labels, Family> = BTreeMap::new();
    for (l, vals) in series {
        let name = l.metric_name();
        let (base, kind) = if let Some(b) = name.strip_suffix("_bucket") {
            (b, 0)
        } else if let Some(b) = name.strip_suffix("_count") {
            (b, 1)
        } else if let Some(b) = name.strip_suffix("_sum") {
            (b, 2)
        } else {
            continue;
        };
        let mut key = ember_model::LabelsBuilder::new(l.without(&["le"]));
        key.set("__name__", base);
        let key = key.into_labels();
        let e = fams.entry(key).or_default();
        match kind {
            0 => {
                let Some(le) = l.get("le").and_then(|v| {
                    if v == "+Inf" {
                        Some(f64::INFINITY)
                    } else {
                        v.parse().ok()
                    }
                }) else {
                    continue;
                };
                e.0.insert(f64_key(le), (le, vals.clone()));
            }
            1 => e.1 = Some(vals.clone()),
            _ => e.2 = Some(vals.clone()),
        }
    }
    let mut app = store.appender();
    for (labels, (buckets, count, sum)) in fams {
        if buckets.is_empty() {
            continue;
        }
        let bounds: Vec<f64> = buckets.values().map(|b| b.0).collect();
        let n = buckets.values().map(|b| b.1.len()).max().unwrap_or(0);
        for k in 0..n {
            let mut cum = Vec::new();
            let mut ok = true;
            for (_, (_, vals)) in buckets.iter() {
                match vals.get(k) {
                    Some(SeqValue::Float(f)) => cum.push(*f),
                    _ => ok = false,
                }
            }
            if !ok {
                continue;
            }
            let mut h = FloatHistogram {
                schema: ember_model::histogram::CUSTOM_BUCKETS_SCHEMA,
                ..Default::default()
            };
            h.custom_values = bounds.iter().copied().filter(|b| b.is_finite()).collect();
            let mut prev = 0.0;
            let mut counts = Vec::new();
            for c in &cum {
                counts.push(c - prev);
                prev = *c;
            }
            h.count = count
                .as_ref()
                .and_then(|v| match v.get(k) {
                    Some(SeqValue::Float(f)) => Some(*f),
                    _ => None,
                })
                .unwrap_or(prev);
            h.sum = sum
                .as_ref()
                .and_then(|v| match v.get(k) {
                    Some(SeqValue::Float(f)) => Some(*f),
                    _ => None,
                })
                .unwrap_or(0.0);
            h.positive_spans = vec![Span {
                offset: 0,
                length: counts.len() as u32,
            }];
            h.positive_buckets = counts;
            app.append_histogram(None, &labels, k as i64 * step, HistogramRef::Float(&h))
                .map_err(|e| e.to_string())?;
        }
    }
    app.commit().map_err(|e| e.to_string())
}

fn f64_key(f: f64) -> u64 {
    let b = f.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

fn parse_eval(
    line: &str,
    ln: usize,
    body: &[(usize, &str)],
    opts: ParserOptions,
) -> Result<Eval, String> {
    let (head, rest) = line
        .split_once(char::is_whitespace)
        .ok_or_else(|| format!("line {ln}: bad eval"))?;
    let variant = head
        .strip_prefix("eval")
        .unwrap_or("")
        .trim_start_matches('_');
    let rest = rest.trim();
    let mut ev = Eval {
        line: ln,
        query: String::new(),
        start: 0,
        end: 0,
        step: 1,
        instant: true,
        expect: Expect::default(),
        expected: vec![],
    };
    if let Some(r) = rest.strip_prefix("instant") {
        let r = r.trim();
        let r = r
            .strip_prefix("at")
            .ok_or_else(|| format!("line {ln}: expected 'at'"))?
            .trim();
        let (t, q) = r
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("line {ln}: missing query"))?;
        ev.start = parse_time(t)?;
        ev.end = ev.start;
        ev.query = q.trim().to_string();
    } else if let Some(r) = rest.strip_prefix("range") {
        let r = r
            .trim()
            .strip_prefix("from")
            .ok_or_else(|| format!("line {ln}: expected 'from'"))?
            .trim();
        let (s, r) = r
            .split_once(" to ")
            .ok_or_else(|| format!("line {ln}: expected 'to'"))?;
        let (e, r) = r
            .trim()
            .split_once(" step ")
            .ok_or_else(|| format!("line {ln}: expected 'step'"))?;
        let (st, q) = r
            .trim()
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("line {ln}: missing query"))?;
        ev.start = parse_time(s)?;
        ev.end = parse_time(e)?;
        ev.step = parse_time(st)?;
        ev.instant = false;
        ev.query = q.trim().to_string();
    } else {
        return Err(format!("line {ln}: bad eval {line:?}"));
    }
    match variant {
        "" => {}
        "fail" => ev.expect.fail = Some(None),
        "warn" => ev.expect.warn.push(None),
        "info" => ev.expect.info.push(None),
        "ordered" => ev.expect.ordered = true,
        other => return Err(format!("line {ln}: unknown eval variant {other:?}")),
    }
    for (bl, b) in body {
        if let Some(x) = b.strip_prefix("expect ") {
            let x = x.trim();
            if let Some(r) = x.strip_prefix("range vector") {
                let r = r
                    .trim()
                    .strip_prefix("from")
                    .ok_or_else(|| format!("line {bl}: bad expect range vector"))?
                    .trim();
                let (s, r) = r
                    .split_once(" to ")
                    .ok_or_else(|| format!("line {bl}: bad expect range vector"))?;
                let (e, st) = r
                    .trim()
                    .split_once(" step ")
                    .ok_or_else(|| format!("line {bl}: bad expect range vector"))?;
                ev.expect.range_vector = Some((parse_time(s)?, parse_time(e)?, parse_time(st)?));
                continue;
            }
            if let Some(s) = x.strip_prefix("string") {
                ev.expect.string = Some(strip_quotes(s));
                continue;
            }
            let (kind, m) = match x.split_once(char::is_whitespace) {
                Some((k, m)) => (k, Some(m.trim())),
                None => (x, None),
            };
            let matcher = match m {
                None => None,
                Some(m) => {
                    let (mk, mb) = m
                        .split_once(':')
                        .ok_or_else(|| format!("line {bl}: bad expect {x:?}"))?;
                    Some(parse_match(mk.trim(), mb)?)
                }
            };
            match kind {
                "fail" => ev.expect.fail = Some(matcher),
                "warn" => ev.expect.warn.push(matcher),
                "info" => ev.expect.info.push(matcher),
                "no_warn" => ev.expect.no_warn = true,
                "no_info" => ev.expect.no_info = true,
                "ordered" => ev.expect.ordered = true,
                other => return Err(format!("line {bl}: unknown expect {other:?}")),
            }
            continue;
        }
        if let Some(m) = b.strip_prefix("expected_fail_message ") {
            ev.expect.fail = Some(Some(Match::Msg(m.trim().to_string())));
            continue;
        }
        if let Some(m) = b.strip_prefix("expected_fail_regexp ") {
            ev.expect.fail = Some(Some(parse_match("regex", m)?));
            continue;
        }
        ev.expected
            .push(parse_series_line(b, opts).map_err(|e| format!("line {bl}: {e}"))?);
    }
    Ok(ev)
}

const EPS: f64 = 0.000001;

/// Prometheus's `almost.Equal`.
fn almost_equal(a: f64, b: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let min_normal = f64::from_bits(0x0010000000000000);
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < min_normal {
        return diff < EPS * min_normal;
    }
    diff / abs_sum.min(f64::MAX) < EPS
}

fn hist_equal(exp: &FloatHistogram, act: &FloatHistogram, hint_set: bool) -> bool {
    if hint_set && exp.counter_reset_hint != act.counter_reset_hint {
        return false;
    }
    if exp.schema != act.schema
        || !almost_equal(exp.count, act.count)
        || !almost_equal(exp.sum, act.sum)
    {
        return false;
    }
    if exp.zero_threshold != act.zero_threshold || !almost_equal(exp.zero_count, act.zero_count) {
        return false;
    }
    if exp.custom_values != act.custom_values {
        return false;
    }
    type Buckets = Vec<(i32, f64)>;
    let norm = |h: &FloatHistogram| -> (Buckets, Buckets) {
        let z = FloatHistogram::default();
        let p = crate::functions::histogram::add(
            h,
            &FloatHistogram {
                schema: h.schema,
                custom_values: h.custom_values.clone(),
                ..z.clone()
            },
        )
        .unwrap_or_else(|_| h.clone());
        (
            buckets(&p.positive_spans, &p.positive_buckets),
            buckets(&p.negative_spans, &p.negative_buckets),
        )
    };
    let (ep, en) = norm(exp);
    let (ap, an) = norm(act);
    let eq = |a: &[(i32, f64)], b: &[(i32, f64)]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.0 == y.0 && almost_equal(x.1, y.1))
    };
    eq(&ep, &ap) && eq(&en, &an)
}

fn buckets(spans: &[Span], counts: &[f64]) -> Vec<(i32, f64)> {
    let mut out = Vec::new();
    let mut idx = 0;
    let mut k = 0;
    for (i, s) in spans.iter().enumerate() {
        idx = if i == 0 { s.offset } else { idx + s.offset };
        for _ in 0..s.length {
            if let Some(c) = counts.get(k)
                && *c != 0.0
            {
                out.push((idx, *c));
            }
            k += 1;
            idx += 1;
        }
    }
    out
}

fn check(engine: &Engine, store: &MemStorage, ev: &Eval) -> Result<(), String> {
    let res = if ev.instant {
        engine.instant_query(store, &ev.query, ev.start)
    } else {
        engine.range_query(store, &ev.query, ev.start, ev.end, ev.step)
    };
    let res = match (res, &ev.expect.fail) {
        (Err(e), Some(m)) => {
            return match m {
                Some(m) if !m.matches(&e.to_string()) => {
                    Err(format!("error {:?} does not match {m:?}", e.to_string()))
                }
                _ => Ok(()),
            };
        }
        (Err(e), None) => return Err(format!("unexpected error: {e}")),
        (Ok(_), Some(_)) => return Err("expected the query to fail".into()),
        (Ok(r), None) => r,
    };
    check_annotations(
        "warn",
        &res.annotations.warnings,
        &ev.expect.warn,
        ev.expect.no_warn,
    )?;
    check_annotations(
        "info",
        &res.annotations.infos,
        &ev.expect.info,
        ev.expect.no_info,
    )?;
    if let Some(s) = &ev.expect.string {
        return match &res.value {
            Value::String { s: got, .. } if got == s => Ok(()),
            other => Err(format!("expected string {s:?}, got {other:?}")),
        };
    }
    compare(ev, &res.value)
}

fn check_annotations(
    kind: &str,
    got: &std::collections::BTreeSet<String>,
    want: &[Option<Match>],
    none: bool,
) -> Result<(), String> {
    if none && !got.is_empty() {
        return Err(format!("unexpected {kind} annotations: {got:?}"));
    }
    if want.is_empty() {
        return Ok(());
    }
    if got.is_empty() {
        return Err(format!("expected {kind} annotations, got none"));
    }
    for w in want.iter().flatten() {
        if !got.iter().any(|g| w.matches(g)) {
            return Err(format!("no {kind} annotation matches {w:?}; got {got:?}"));
        }
    }
    let matchers: Vec<&Match> = want.iter().flatten().collect();
    if !matchers.is_empty() {
        for g in got {
            if !matchers.iter().any(|m| m.matches(g)) {
                return Err(format!("unexpected {kind} annotation {g:?}"));
            }
        }
    }
    Ok(())
}

fn value_at(vals: &[SeqValue], k: usize) -> Option<&SeqValue> {
    vals.get(k)
}

fn compare(ev: &Eval, v: &Value) -> Result<(), String> {
    match v {
        Value::Scalar { v, .. } => {
            let Some((None, vals)) = ev.expected.first() else {
                return Err(format!("expected a vector or matrix, got scalar {v}"));
            };
            match vals.first() {
                Some(SeqValue::Float(f)) if almost_equal(*f, *v) => Ok(()),
                other => Err(format!("expected scalar {other:?}, got {v}")),
            }
        }
        Value::String { s, .. } => Err(format!("unexpected string result {s:?}")),
        Value::Vector(vec) => compare_vector(ev, vec),
        Value::Matrix(m) => {
            if ev.expect.ordered {
                return Err("expected ordered result, but query returned a matrix".into());
            }
            let (start, step) = match ev.expect.range_vector {
                Some((s, _, st)) => (s, st),
                None => (ev.start, ev.step),
            };
            if ev.expected.iter().any(|e| e.0.is_none()) {
                return Err("expected scalar result, but got matrix".into());
            }
            for s in m {
                let Some((_, vals)) = ev.expected.iter().find(|e| e.0.as_ref() == Some(&s.metric))
                else {
                    return Err(format!("unexpected metric {} in result", s.metric));
                };
                let mut ef = Vec::new();
                let mut eh = Vec::new();
                for (k, val) in vals.iter().enumerate() {
                    let t = start + k as i64 * step;
                    match val {
                        SeqValue::Float(f) => ef.push((t, *f)),
                        SeqValue::Hist(h, hint) => eh.push((t, h, *hint)),
                        SeqValue::Omitted => {}
                    }
                }
                if ef.len() != s.floats.len() || eh.len() != s.histograms.len() {
                    return Err(format!(
                        "expected {} float points and {} histogram points for {}, got {:?} / {} histograms",
                        ef.len(),
                        eh.len(),
                        s.metric,
                        s.floats.iter().map(|p| (p.t, p.f)).collect::<Vec<_>>(),
                        s.histograms.len()
                    ));
                }
                for ((t, f), p) in ef.iter().zip(&s.floats) {
                    if *t != p.t || !almost_equal(*f, p.f) {
                        return Err(format!(
                            "{}: expected {f} at {t}, got {} at {}",
                            s.metric, p.f, p.t
                        ));
                    }
                }
                for ((t, h, hint), p) in eh.iter().zip(&s.histograms) {
                    if *t != p.t || !hist_equal(h, &p.h, *hint) {
                        return Err(format!(
                            "{}: expected histogram {h:?} at {t}, got {:?} at {}",
                            s.metric, p.h, p.t
                        ));
                    }
                }
            }
            for (l, _) in &ev.expected {
                if let Some(l) = l
                    && !m.iter().any(|s| &s.metric == l)
                {
                    return Err(format!("expected metric {l} not found"));
                }
            }
            Ok(())
        }
    }
}

fn compare_vector(ev: &Eval, vec: &[Sample]) -> Result<(), String> {
    if ev.expected.iter().any(|e| e.0.is_none()) {
        return Err("expected scalar result, but got vector".into());
    }
    for (pos, s) in vec.iter().enumerate() {
        let Some(idx) = ev
            .expected
            .iter()
            .position(|e| e.0.as_ref() == Some(&s.metric))
        else {
            return Err(format!(
                "unexpected metric {} in result with value {}",
                s.metric, s.f
            ));
        };
        if ev.expect.ordered && idx != pos {
            return Err(format!(
                "expected metric {} at position {} but was at {}",
                s.metric,
                idx + 1,
                pos + 1
            ));
        }
        match (value_at(&ev.expected[idx].1, 0), &s.h) {
            (Some(SeqValue::Float(f)), None) if almost_equal(*f, s.f) => {}
            (Some(SeqValue::Hist(h, hint)), Some(a)) if hist_equal(h, a, *hint) => {}
            (exp, _) => {
                return Err(format!(
                    "expected {exp:?} for {}, got {} / {:?}",
                    s.metric, s.f, s.h
                ));
            }
        }
    }
    for (l, vals) in &ev.expected {
        if let Some(l) = l
            && !vec.iter().any(|s| &s.metric == l)
        {
            return Err(format!("expected metric {l} with {vals:?} not found"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_notation() {
        let mut v = Vec::new();
        expand_token("1+2x3", &mut v).unwrap();
        expand_token("_x2", &mut v).unwrap();
        expand_token("-1-1x1", &mut v).unwrap();
        expand_token("1e3", &mut v).unwrap();
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
                "Float(1000.0)"
            ]
        );
        let (l, v) = parse_series_line(
            r#"foo{a="b c"} 1 _ stale {{schema:1 sum:2 count:3 buckets:[1 2]}}x1"#,
            ParserOptions::default(),
        )
        .unwrap();
        assert_eq!(l.unwrap().to_string(), r#"{__name__="foo", a="b c"}"#);
        assert_eq!(v.len(), 5);
        let (l, v) = parse_series_line("3", ParserOptions::default()).unwrap();
        assert!(l.is_none());
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn a_tiny_file_passes_and_a_wrong_value_fails() {
        let ok = "load 1m\n  m{a=\"1\"} 0+1x10\n\neval instant at 5m m\n  m{a=\"1\"} 5\n\neval instant at 5m sum(m)\n  {} 5\n";
        let r = run_file(ok);
        assert_eq!((r.passed, r.total), (2, 2), "{:?}", r.failures);
        let bad = ok.replace("{} 5", "{} 6");
        let r = run_file(&bad);
        assert_eq!((r.passed, r.total), (1, 2));
    }
}
