//! Runs Prometheus's data-driven PromQL test files (`promql/promqltest/testdata/*.test`
//! upstream) the way Prometheus's `promqltest` package does: `load` and
//! `load_with_nhcb` with the series notation, `clear`, `eval instant at …`,
//! `eval range from … to … step …`, the `eval_fail`/`eval_warn`/`eval_info`/
//! `eval_ordered` forms and every `expect` line.
//!
//! As upstream, an instant evaluation is also re-run with every selector pinned by
//! `@` to the evaluation time (at several other evaluation times), and each of
//! those as a range query around the evaluation time whose middle step must give
//! the same result. A case the runner or the engine cannot handle counts as
//! failed, never as skipped.

use crate::series_notation::{ChunkHints, SeriesValue, parse_series};
use crate::value::{Sample, Series, Value};
use crate::{Engine, EngineOptions};
use ember_model::Labels;
use ember_model::histogram::{FloatHistogram, Span};
use ember_promql_parser::{AtModifier, Expr, ParserOptions};
use ember_storage::list::MemStorage;
use ember_storage::{Appendable, HistogramRef};
use std::collections::HashMap;
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

/// Prometheus's `model.ParseDuration` (`1h30m`, `0`, units `ms s m h d w y`).
fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(0);
    }
    let bad = || format!("not a valid duration string: {s:?}");
    if s.is_empty() {
        return Err(bad());
    }
    let units: [(&str, i64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    let mut rest = s;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..letters];
        let Some(k) = units[next_unit..].iter().position(|(u, _)| *u == unit) else {
            return Err(bad());
        };
        total = n
            .checked_mul(units[next_unit + k].1)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        next_unit += k + 1;
        rest = &rest[letters..];
    }
    Ok(total)
}

/// Go's `parseNumber` in promqltest: `strconv.ParseInt(s, 0, 64)`, else
/// `strconv.ParseFloat`.
fn go_parse_number(s: &str) -> Option<f64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let sign = if neg { -1.0 } else { 1.0 };
    let int = |digits: &str, radix: u32| -> Option<f64> {
        let d: String = digits.chars().filter(|c| *c != '_').collect();
        if d.is_empty() {
            return None;
        }
        i64::from_str_radix(&d, radix).ok().map(|v| sign * v as f64)
    };
    let lower = body.to_ascii_lowercase();
    if let Some(h) = lower.strip_prefix("0x") {
        return int(h, 16);
    }
    if let Some(o) = lower.strip_prefix("0o") {
        return int(o, 8);
    }
    if let Some(b) = lower.strip_prefix("0b") {
        return int(b, 2);
    }
    if body.len() > 1 && body.starts_with('0') && body.bytes().all(|c| c.is_ascii_digit()) {
        return int(&body[1..], 8);
    }
    match lower.as_str() {
        "inf" | "infinity" => return Some(sign * f64::INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if body.is_empty()
        || !body
            .bytes()
            .all(|c| c.is_ascii_digit() || b".eE+-".contains(&c))
    {
        return None;
    }
    body.parse::<f64>().ok().map(|v| sign * v)
}

/// What an `expect` line matches: an exact text or a pattern.
#[derive(Debug, Clone)]
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ExpectKind {
    Ordered,
    Fail,
    Warn,
    NoWarn,
    Info,
    NoInfo,
}

/// One `eval` command.
struct Eval {
    line: usize,
    query: String,
    start: i64,
    end: i64,
    step: i64,
    /// The evaluation time of an instant query.
    eval_time: i64,
    is_range: bool,
    fail: bool,
    warn: bool,
    info: bool,
    ordered: bool,
    fail_message: Option<String>,
    fail_regexp: Option<regex::Regex>,
    expects: HashMap<ExpectKind, Vec<Match>>,
    /// Expected series by labels: position (for ordered results) and values.
    expected: HashMap<Labels, (usize, Vec<SeriesValue>)>,
    /// The expectation is a scalar (kept under the empty label set).
    expect_scalar: bool,
    expected_string: Option<String>,
    exclude_from_range: bool,
}

impl Eval {
    fn is_ordered(&self) -> bool {
        self.ordered || self.expects.contains_key(&ExpectKind::Ordered)
    }

    fn is_fail(&self) -> bool {
        self.fail || self.expects.contains_key(&ExpectKind::Fail)
    }
}

enum Command {
    Clear,
    Load(Vec<(Labels, Vec<SeriesValue>)>, i64, bool),
    Eval(Box<Eval>),
}

fn parser_options() -> ParserOptions {
    ParserOptions::all()
}

/// Runs the test file text.
pub fn run_file(text: &str) -> FileReport {
    let opts = parser_options();
    let engine = Engine::new(EngineOptions {
        lookback_delta: Duration::from_secs(300),
        max_samples: 50_000_000,
        timeout: Duration::from_secs(100),
        default_subquery_step: Duration::from_secs(60),
        parser: opts,
        delayed_name_removal: true,
    });
    let mut report = FileReport::default();
    let lines: Vec<String> = text
        .split('\n')
        .map(|l| {
            let t = l.trim();
            if t.starts_with('#') {
                String::new()
            } else {
                t.to_string()
            }
        })
        .collect();
    let mut store = MemStorage::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].is_empty() {
            i += 1;
            continue;
        }
        let (next, cmd) = parse_command(&lines, i, opts);
        match cmd {
            Err(e) => {
                if lines[i].to_ascii_lowercase().starts_with("eval") {
                    report.total += 1;
                }
                report.failures.push((i + 1, e));
            }
            Ok(Command::Clear) => store = MemStorage::new(),
            Ok(Command::Load(series, step, nhcb)) => {
                if let Err(e) = load(&store, &series, step, nhcb) {
                    report.failures.push((i + 1, format!("load failed: {e}")));
                }
            }
            Ok(Command::Eval(ev)) => {
                report.total += 1;
                let r = if ev.is_range {
                    run_range(&engine, &store, &ev)
                } else {
                    run_instant(&engine, &store, &ev, opts)
                };
                match r {
                    Ok(()) => report.passed += 1,
                    Err(e) => report
                        .failures
                        .push((ev.line, format!("{}: {e}", ev.query))),
                }
            }
        }
        i = next + 1;
    }
    report
}

/// Parses the command at line `i`; returns the index of its last line.
fn parse_command(
    lines: &[String],
    i: usize,
    opts: ParserOptions,
) -> (usize, Result<Command, String>) {
    let l = &lines[i];
    let first = l
        .split([' ', '\t'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if first == "clear" {
        return (i, Ok(Command::Clear));
    }
    if first.starts_with("load") {
        return parse_load(lines, i, opts);
    }
    if first.starts_with("eval") {
        return parse_eval(lines, i, opts);
    }
    (i, Err(format!("invalid command {l:?}")))
}

fn parse_load(
    lines: &[String],
    mut i: usize,
    opts: ParserOptions,
) -> (usize, Result<Command, String>) {
    let re = regex::Regex::new(r"^load(?:_(with_nhcb))?\s+(.+?)$").ok();
    let Some(caps) = re.as_ref().and_then(|r| r.captures(&lines[i])) else {
        return (
            i,
            Err("invalid load command. (load[_with_nhcb] <step:duration>)".into()),
        );
    };
    let nhcb = caps.get(1).is_some();
    let step = match parse_time(caps.get(2).map_or("", |m| m.as_str())) {
        Ok(s) => s,
        Err(e) => return (i, Err(format!("invalid step definition: {e}"))),
    };
    let mut series: Vec<(Labels, Vec<SeriesValue>)> = Vec::new();
    let mut err = None;
    while i + 1 < lines.len() && !lines[i + 1].is_empty() {
        i += 1;
        let l = &lines[i];
        // Start-timestamp lines (`metric@st …`) need storage support Ember's
        // storage traits do not have; their values are not loaded.
        let head = l.split([' ', '\t']).next().unwrap_or("");
        if head.ends_with("@st") {
            continue;
        }
        match parse_series(l, opts) {
            Ok((Some(labels), vals)) => {
                // As upstream, a series defined twice keeps the later definition.
                series.retain(|(x, _)| x != &labels);
                series.push((labels, vals));
            }
            Ok((None, _)) => err = Some(format!("line {}: series without labels", i + 1)),
            Err(e) => err = Some(format!("line {}: {e}", i + 1)),
        }
    }
    match err {
        Some(e) => (i, Err(e)),
        None => (i, Ok(Command::Load(series, step, nhcb))),
    }
}

fn parse_eval(
    lines: &[String],
    mut i: usize,
    opts: ParserOptions,
) -> (usize, Result<Command, String>) {
    let start_line = i;
    let head = &lines[i];
    let instant_re = regex::Regex::new(
        r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$",
    )
    .ok();
    let range_re = regex::Regex::new(
        r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
    )
    .ok();
    let ic = instant_re.as_ref().and_then(|r| r.captures(head));
    let rc = range_re.as_ref().and_then(|r| r.captures(head));
    let cap = |c: &regex::Captures<'_>, k: usize| c.get(k).map_or("", |m| m.as_str()).to_string();
    let (modifier, query) = match (&ic, &rc) {
        (Some(c), _) => (cap(c, 1), cap(c, 3)),
        (None, Some(c)) => (cap(c, 1), cap(c, 5)),
        _ => return (i, Err(format!("invalid evaluation command {head:?}"))),
    };
    if let Err(e) = ember_promql_parser::Parser::new(opts).parse_expr(&query) {
        return (i, Err(format!("query does not parse: {e}")));
    }
    let mut ev = Eval {
        line: start_line + 1,
        query,
        start: 0,
        end: 0,
        step: 0,
        eval_time: 0,
        is_range: rc.is_some() && ic.is_none(),
        fail: false,
        warn: false,
        info: false,
        ordered: false,
        fail_message: None,
        fail_regexp: None,
        expects: HashMap::new(),
        expected: HashMap::new(),
        expect_scalar: false,
        expected_string: None,
        exclude_from_range: false,
    };
    let r: Result<(), String> = (|| {
        if let Some(c) = &ic {
            let t = parse_time(&cap(c, 2))?;
            ev.start = t;
            ev.eval_time = t;
            // Upstream leaves the end at Go's zero time: an instant query gives
            // no points to compare unless `expect range vector` sets a range.
            ev.end = i64::MIN;
        } else if let Some(c) = &rc {
            ev.start = parse_time(&cap(c, 2))?;
            ev.end = parse_time(&cap(c, 3))?;
            ev.step = parse_time(&cap(c, 4))?;
            if ev.end < ev.start {
                return Err("end timestamp is before start timestamp".into());
            }
        }
        Ok(())
    })();
    if let Err(e) = r {
        return (i, Err(e));
    }
    match modifier.as_str() {
        "ordered" => ev.ordered = true,
        "fail" => ev.fail = true,
        "warn" => ev.warn = true,
        "info" => ev.info = true,
        _ => {}
    }
    let expect_re = regex::Regex::new(
        r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$",
    )
    .ok();
    let range_vector_re =
        regex::Regex::new(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$").ok();
    let any_re = regex::Regex::new("^.*$").ok();
    let mut expect_range = false;
    let mut j = 1usize;
    while i + 1 < lines.len() {
        i += 1;
        let l = lines[i].clone();
        if l.is_empty() {
            i -= 1;
            break;
        }
        if ev.fail
            && let Some(m) = l.strip_prefix("expected_fail_message")
        {
            ev.fail_message = Some(m.trim().to_string());
            break;
        }
        if ev.fail
            && let Some(m) = l.strip_prefix("expected_fail_regexp")
        {
            match regex::Regex::new(m.trim()) {
                Ok(r) => ev.fail_regexp = Some(r),
                Err(e) => return (i, Err(format!("invalid expected_fail_regexp: {e}"))),
            }
            break;
        }
        if l.starts_with("expect range vector") {
            let Some(c) = range_vector_re.as_ref().and_then(|r| r.captures(&l)) else {
                return (i, Err(format!("invalid range vector definition {l:?}")));
            };
            let r = (|| -> Result<(i64, i64, i64), String> {
                let (s, e, st) = (
                    parse_time(&cap(&c, 1))?,
                    parse_time(&cap(&c, 2))?,
                    parse_time(&cap(&c, 3))?,
                );
                if e < s {
                    return Err("end timestamp is before start timestamp".into());
                }
                Ok((s, e, st))
            })();
            match r {
                Ok((s, e, st)) => {
                    expect_range = true;
                    ev.start = s;
                    ev.end = e;
                    ev.step = st;
                    ev.eval_time = e;
                    ev.exclude_from_range = true;
                }
                Err(e) => return (i, Err(e)),
            }
            j += 1;
            continue;
        }
        if l.starts_with("expect string") {
            match parse_string_literal(&l) {
                Ok(s) => ev.expected_string = Some(s),
                Err(e) => return (i, Err(e)),
            }
            ev.exclude_from_range = true;
            j += 1;
            continue;
        }
        if l.split(' ').next() == Some("expect") {
            let Some(c) = expect_re.as_ref().and_then(|r| r.captures(l.trim())) else {
                return (i, Err("invalid expect statement, must match `expect <type> <match_type>: <string>` format".into()));
            };
            let kind = match &cap(&c, 1)[..] {
                "ordered" => ExpectKind::Ordered,
                "fail" => ExpectKind::Fail,
                "warn" => ExpectKind::Warn,
                "no_warn" => ExpectKind::NoWarn,
                "info" => ExpectKind::Info,
                _ => ExpectKind::NoInfo,
            };
            let m = match c.get(2).map(|m| m.as_str()) {
                Some("msg") => Match::Msg(cap(&c, 3).trim().to_string()),
                Some(_) => match regex::Regex::new(cap(&c, 3).trim()) {
                    Ok(r) => Match::Re(r),
                    Err(e) => return (i, Err(format!("invalid regex: {e}"))),
                },
                None => match &any_re {
                    Some(r) => Match::Re(r.clone()),
                    None => return (i, Err("regex".into())),
                },
            };
            ev.expects.entry(kind).or_default().push(m);
            let has = |k| ev.expects.contains_key(&k);
            if (has(ExpectKind::Info) && has(ExpectKind::NoInfo))
                || (has(ExpectKind::Warn) && has(ExpectKind::NoWarn))
                || ev
                    .expects
                    .get(&ExpectKind::Fail)
                    .is_some_and(|v| v.len() > 1)
            {
                return (i, Err("invalid expect lines".into()));
            }
            continue;
        }
        if let Some(f) = go_parse_number(&l) {
            ev.expect_scalar = true;
            ev.expected
                .insert(Labels::empty(), (0, vec![SeriesValue::Float(f)]));
            break;
        }
        match parse_series(&l, opts) {
            Ok((labels, vals)) => {
                if vals.len() > 1 && !ev.is_range && !expect_range {
                    return (
                        i,
                        Err("expecting multiple values in instant evaluation not allowed".into()),
                    );
                }
                ev.expect_scalar = false;
                ev.expected.insert(labels.unwrap_or_default(), (j, vals));
            }
            Err(e) => return (i, Err(format!("line {}: {e}", i + 1))),
        }
        j += 1;
    }
    (i, Ok(Command::Eval(Box::new(ev))))
}

/// `expect string "…"`: a Go-quoted string.
fn parse_string_literal(l: &str) -> Result<String, String> {
    let bad =
        || "expected string literal not valid - a quoted string literal is required".to_string();
    let s = l.strip_prefix("expect string").ok_or_else(bad)?;
    let s = s.strip_prefix(' ').ok_or_else(bad)?;
    let q = s.chars().next().ok_or_else(bad)?;
    if s.len() < 2 || !matches!(q, '"' | '`' | '\'') || !s.ends_with(q) {
        return Err(bad());
    }
    let inner = &s[1..s.len() - 1];
    if q == '`' {
        return Ok(inner.to_string());
    }
    // Enough of Go's unquoting for the test files.
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('\'') => out.push('\''),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => return Err(bad()),
        }
    }
    Ok(out)
}

fn load(
    store: &MemStorage,
    series: &[(Labels, Vec<SeriesValue>)],
    step: i64,
    nhcb: bool,
) -> Result<(), String> {
    let mut app = store.appender();
    for (labels, vals) in series {
        let mut hints = ChunkHints::default();
        for (k, v) in vals.iter().enumerate() {
            let t = k as i64 * step;
            match v {
                SeriesValue::Omitted => {}
                SeriesValue::Float(f) => {
                    hints.float();
                    app.append(None, labels, t, *f).map_err(|e| e.to_string())?;
                }
                SeriesValue::Histogram(h, _) => {
                    let h = hints.hist(h);
                    app.append_histogram(None, labels, t, HistogramRef::Float(&h))
                        .map_err(|e| e.to_string())?;
                }
            }
        }
    }
    app.commit().map_err(|e| e.to_string())?;
    if nhcb {
        load_nhcb(store, step, series)?;
    }
    Ok(())
}

/// `load_with_nhcb`: classic histograms (`_bucket`, `_count`, `_sum` series) also
/// become native histograms with custom buckets, named without the suffix.
fn load_nhcb(
    store: &MemStorage,
    step: i64,
    series: &[(Labels, Vec<SeriesValue>)],
) -> Result<(), String> {
    use std::collections::BTreeMap;
    #[derive(Default)]
    struct Temp {
        buckets: Vec<(f64, f64)>,
        count: Option<f64>,
        sum: f64,
    }
    let mut fams: BTreeMap<Labels, BTreeMap<i64, Temp>> = BTreeMap::new();
    for (l, vals) in series {
        let name = l.metric_name();
        let (base, kind) = if let Some(b) = name.strip_suffix("_bucket") {
            (b, 0)
        } else if let Some(b) = name.strip_suffix("_sum") {
            (b, 2)
        } else if let Some(b) = name.strip_suffix("_count") {
            (b, 1)
        } else {
            continue;
        };
        let le = if kind == 0 {
            match l.get("le").map(|v| v.parse::<f64>()) {
                Some(Ok(le)) if !le.is_nan() => le,
                Some(Ok(_)) | Some(Err(_)) => {
                    let v = l.get_or_empty("le");
                    match v {
                        "+Inf" | "Inf" | "inf" | "+inf" => f64::INFINITY,
                        "-Inf" | "-inf" => f64::NEG_INFINITY,
                        _ => continue,
                    }
                }
                None => return Err(format!("expected bucket label in metric {l}")),
            }
        } else {
            0.0
        };
        let mut key = ember_model::LabelsBuilder::new(l.without(&["le"]));
        key.set("__name__", base);
        let fam = fams.entry(key.into_labels()).or_default();
        for (k, v) in vals.iter().enumerate() {
            let SeriesValue::Float(f) = v else { continue };
            let t = fam.entry(k as i64 * step).or_default();
            match kind {
                0 => {
                    if !t.buckets.iter().any(|b| b.0 == le) {
                        t.buckets.push((le, *f));
                    }
                }
                1 => t.count = Some(*f),
                _ => t.sum = *f,
            }
        }
    }
    let mut app = store.appender();
    for (labels, by_ts) in fams {
        let mut hints = ChunkHints::default();
        for (ts, mut t) in by_ts {
            t.buckets
                .sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
            let count = t
                .count
                .or_else(|| t.buckets.last().map(|b| b.1))
                .unwrap_or(0.0);
            if t.buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
                t.buckets.push((f64::INFINITY, count));
            }
            let mut h = FloatHistogram {
                schema: ember_model::histogram::CUSTOM_BUCKETS_SCHEMA,
                count,
                sum: t.sum,
                ..Default::default()
            };
            let mut prev = 0.0;
            let mut counts = Vec::new();
            for (le, c) in &t.buckets {
                counts.push(c - prev);
                prev = *c;
                if le.is_finite() {
                    h.custom_values.push(*le);
                }
            }
            h.positive_spans = vec![Span {
                offset: 0,
                length: counts.len() as u32,
            }];
            h.positive_buckets = counts;
            crate::fhist::compact(&mut h);
            let h = hints.hist(&h);
            app.append_histogram(None, &labels, ts, HistogramRef::Float(&h))
                .map_err(|e| e.to_string())?;
        }
    }
    app.commit().map_err(|e| e.to_string())
}

/// Prometheus's `almost.Equal` with the test epsilon.
fn almost_equal(a: f64, b: f64) -> bool {
    const EPS: f64 = 0.000001;
    let stale = ember_model::value::is_stale_nan;
    if stale(a) || stale(b) {
        return stale(a) && stale(b);
    }
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

/// Prometheus's `compareNativeHistogram` after compacting both sides.
fn hist_equal(exp: &FloatHistogram, act: &FloatHistogram, hint_set: bool) -> bool {
    if exp.schema != act.schema
        || !almost_equal(exp.count, act.count)
        || !almost_equal(exp.sum, act.sum)
    {
        return false;
    }
    if exp.schema == ember_model::histogram::CUSTOM_BUCKETS_SCHEMA
        && exp.custom_values != act.custom_values
    {
        return false;
    }
    if exp.zero_threshold != act.zero_threshold || !almost_equal(exp.zero_count, act.zero_count) {
        return false;
    }
    let nonzero = |spans: &[Span], b: &[f64]| -> Vec<(i32, f64)> {
        crate::fhist::side(spans, b)
            .into_iter()
            .filter(|x| x.1 != 0.0)
            .collect()
    };
    let eq = |a: Vec<(i32, f64)>, b: Vec<(i32, f64)>| {
        a.len() == b.len()
            && a.iter()
                .zip(&b)
                .all(|(x, y)| x.0 == y.0 && almost_equal(x.1, y.1))
    };
    if !eq(
        nonzero(&exp.negative_spans, &exp.negative_buckets),
        nonzero(&act.negative_spans, &act.negative_buckets),
    ) || !eq(
        nonzero(&exp.positive_spans, &exp.positive_buckets),
        nonzero(&act.positive_spans, &act.positive_buckets),
    ) {
        return false;
    }
    !hint_set || exp.counter_reset_hint == act.counter_reset_hint
}

fn check_failure(ev: &Eval, err: &str) -> Result<(), String> {
    if let Some(m) = &ev.fail_message
        && m != err
    {
        return Err(format!("expected error {m:?}, got {err:?}"));
    }
    if let Some(r) = &ev.fail_regexp
        && !r.is_match(err)
    {
        return Err(format!(
            "expected error matching {:?}, got {err:?}",
            r.as_str()
        ));
    }
    if let Some(m) = ev.expects.get(&ExpectKind::Fail).and_then(|v| v.first())
        && !m.matches(err)
    {
        return Err(format!("expected error matching {m:?}, got {err:?}"));
    }
    Ok(())
}

fn check_annotations(ev: &Eval, a: &crate::Annotations) -> Result<(), String> {
    if ev.warn && a.warnings.is_empty() {
        return Err("expected warnings but got none".into());
    }
    if ev.info && a.infos.is_empty() {
        return Err("expected info annotations but got none".into());
    }
    for (kind, got) in [
        (ExpectKind::Warn, &a.warnings),
        (ExpectKind::Info, &a.infos),
    ] {
        let Some(want) = ev.expects.get(&kind) else {
            continue;
        };
        if got.is_empty() {
            return Err(format!("expected {kind:?} annotations but none were found"));
        }
        for w in want {
            if !got.iter().any(|g| w.matches(g)) {
                return Err(format!(
                    "expected {kind:?} annotation matching {w:?}, found {got:?}"
                ));
            }
        }
        for g in got {
            if !want.iter().any(|w| w.matches(g)) {
                return Err(format!("unexpected {kind:?} annotation {g:?}"));
            }
        }
    }
    if ev.expects.contains_key(&ExpectKind::NoWarn) && !a.warnings.is_empty() {
        return Err(format!("unexpected warning annotations: {:?}", a.warnings));
    }
    if ev.expects.contains_key(&ExpectKind::NoInfo) && !a.infos.is_empty() {
        return Err(format!("unexpected info annotations: {:?}", a.infos));
    }
    Ok(())
}

fn compare(ev: &Eval, v: &Value) -> Result<(), String> {
    match v {
        Value::Matrix(m) => {
            if ev.is_ordered() {
                return Err("expected ordered result, but query returned a matrix".into());
            }
            if ev.expect_scalar {
                return Err("expected scalar result, but got matrix".into());
            }
            if m.windows(2).any(|w| w[0].metric > w[1].metric) {
                return Err("matrix results should always be sorted by labels".into());
            }
            for s in m {
                let Some((_, vals)) = ev.expected.get(&s.metric) else {
                    return Err(format!(
                        "unexpected metric {} in result, has {}",
                        s.metric,
                        fmt_series(s)
                    ));
                };
                compare_series(ev, s, vals)?;
            }
            for l in ev.expected.keys() {
                if !m.iter().any(|s| &s.metric == l) {
                    return Err(format!("expected metric {l} not found"));
                }
            }
            Ok(())
        }
        Value::Vector(vec) => compare_vector(ev, vec),
        Value::Scalar { v, .. } => {
            if !ev.expect_scalar {
                return Err(format!(
                    "expected vector or matrix result, but got scalar {v}"
                ));
            }
            match ev.expected.get(&Labels::empty()).and_then(|e| e.1.first()) {
                Some(SeriesValue::Histogram(..)) => {
                    Err(format!("expected histogram but got scalar {v}"))
                }
                Some(SeriesValue::Float(f)) if almost_equal(*f, *v) => Ok(()),
                Some(SeriesValue::Omitted) if almost_equal(0.0, *v) => Ok(()),
                other => Err(format!("expected scalar {other:?} but got {v}")),
            }
        }
        Value::String { s, .. } => match &ev.expected_string {
            Some(e) if e == s => Ok(()),
            e => Err(format!("expected string {e:?} but got {s:?}")),
        },
    }
}

fn fmt_series(s: &Series) -> String {
    format!(
        "{} float points {:?} and {} histogram points",
        s.floats.len(),
        s.floats.iter().map(|p| (p.t, p.f)).collect::<Vec<_>>(),
        s.histograms.len()
    )
}

fn compare_series(ev: &Eval, s: &Series, vals: &[SeriesValue]) -> Result<(), String> {
    let mut ef = Vec::new();
    let mut eh = Vec::new();
    for (k, val) in vals.iter().enumerate() {
        let t = ev.start + k as i64 * ev.step;
        if t > ev.end {
            return Err(format!(
                "expected {} points for {}, but query time range cannot return this many points",
                vals.len(),
                s.metric
            ));
        }
        match val {
            SeriesValue::Float(f) => ef.push((t, *f)),
            SeriesValue::Histogram(h, hint) => eh.push((t, h, *hint)),
            SeriesValue::Omitted => {}
        }
    }
    if ef.len() != s.floats.len() || eh.len() != s.histograms.len() {
        return Err(format!(
            "expected {} float points and {} histogram points for {}, but got {}",
            ef.len(),
            eh.len(),
            s.metric,
            fmt_series(s)
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
                "{}: expected histogram {} at {t}, got {} at {}",
                s.metric,
                crate::fhist::to_string(h),
                crate::fhist::to_string(&p.h),
                p.t
            ));
        }
    }
    Ok(())
}

fn compare_vector(ev: &Eval, vec: &[Sample]) -> Result<(), String> {
    if ev.expect_scalar {
        return Err("expected scalar result, but got vector".into());
    }
    for (pos, s) in vec.iter().enumerate() {
        let Some((epos, vals)) = ev.expected.get(&s.metric) else {
            return Err(match &s.h {
                Some(h) => format!(
                    "unexpected metric {} in result, has value {}",
                    s.metric,
                    crate::fhist::to_string(h)
                ),
                None => format!(
                    "unexpected metric {} in result, has value {}",
                    s.metric, s.f
                ),
            });
        };
        if ev.is_ordered() && *epos != pos + 1 {
            return Err(format!(
                "expected metric {} at position {} but was at {}",
                s.metric,
                epos,
                pos + 1
            ));
        }
        let ok = match (vals.first(), &s.h) {
            (Some(SeriesValue::Histogram(h, hint)), Some(a)) => {
                hist_equal(h, a, *hint) && almost_equal(0.0, s.f)
            }
            (Some(SeriesValue::Float(f)), None) => almost_equal(*f, s.f),
            (Some(SeriesValue::Omitted), None) => almost_equal(0.0, s.f),
            _ => false,
        };
        if !ok {
            return Err(format!(
                "expected {:?} for {}, got {}",
                vals.first(),
                s.metric,
                match &s.h {
                    Some(h) => crate::fhist::to_string(h),
                    None => s.f.to_string(),
                }
            ));
        }
    }
    for l in ev.expected.keys() {
        if !vec.iter().any(|s| &s.metric == l) {
            return Err(format!("expected metric {l} not found"));
        }
    }
    Ok(())
}

fn run_range(engine: &Engine, store: &MemStorage, ev: &Eval) -> Result<(), String> {
    let res = match engine.range_query(store, &ev.query, ev.start, ev.end, ev.step) {
        Err(e) => {
            if ev.is_fail() {
                return check_failure(ev, &e.to_string());
            }
            return Err(format!("error evaluating query: {e}"));
        }
        Ok(r) => r,
    };
    if ev.is_fail() {
        return Err("expected error evaluating query but got none".into());
    }
    check_annotations(ev, &res.annotations)?;
    compare(ev, &res.value)
}

/// Functions whose result depends on the evaluation time even with step-invariant
/// arguments: no `@` variants for queries using them.
const AT_UNSAFE: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "end",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "range",
    "start",
    "step",
    "time",
    "timestamp",
];

/// Pins every selector and subquery outside `@`-pinned subqueries to `t`; says
/// whether the query uses a function that makes that pointless.
/// Whether `@` gives a fixed time (upstream keeps `@ start()`/`@ end()` apart
/// from the timestamp, so the pinning replaces them).
fn pinned(at: Option<AtModifier>) -> bool {
    matches!(at, Some(AtModifier::Timestamp(_)))
}

fn pin_at(e: &mut Expr, t: i64, under_at: bool) -> bool {
    if under_at {
        return false;
    }
    let mut unsafe_fn = false;
    let mut child_under = false;
    match e {
        Expr::VectorSelector(vs) if !pinned(vs.at) => {
            vs.at = Some(AtModifier::Timestamp(t));
        }
        Expr::MatrixSelector(ms) => {
            if let Some(vs) = ms.vs_mut()
                && !pinned(vs.at)
            {
                vs.at = Some(AtModifier::Timestamp(t));
            }
        }
        Expr::Subquery(sq) => {
            if !pinned(sq.at) {
                sq.at = Some(AtModifier::Timestamp(t));
            }
            child_under = true;
        }
        Expr::Call(c) => unsafe_fn = AT_UNSAFE.contains(&c.func.name),
        _ => {}
    }
    for c in e.children_mut() {
        unsafe_fn |= pin_at(c, t, child_under);
    }
    unsafe_fn
}

fn run_instant(
    engine: &Engine,
    store: &MemStorage,
    ev: &Eval,
    opts: ParserOptions,
) -> Result<(), String> {
    let mut queries = vec![(ev.query.clone(), ev.eval_time)];
    if let Ok(mut e) = ember_promql_parser::Parser::new(opts).parse_expr(&ev.query) {
        let ts = ev.eval_time;
        if !pin_at(&mut e, ts, false) {
            let pinned = e.to_string();
            let times = if ts == 0 {
                vec![-1000, 0, 1000]
            } else {
                vec![-10 * ts, 0, ts / 5, ts, 10 * ts]
            };
            for t in times {
                queries.push((pinned.clone(), t));
            }
        }
    }
    for (q, t) in queries {
        run_instant_query(engine, store, ev, &q, t).map_err(|e| {
            if q == ev.query && t == ev.eval_time {
                e
            } else {
                format!("[as {q} at {t}] {e}")
            }
        })?;
    }
    Ok(())
}

fn run_instant_query(
    engine: &Engine,
    store: &MemStorage,
    ev: &Eval,
    q: &str,
    t: i64,
) -> Result<(), String> {
    let res = match engine.instant_query(store, q, t) {
        Err(e) => {
            if ev.is_fail() {
                return check_failure(ev, &e.to_string());
            }
            return Err(format!("error evaluating query: {e}"));
        }
        Ok(r) => r,
    };
    if ev.is_fail() {
        return Err("expected error evaluating query but got none".into());
    }
    check_annotations(ev, &res.annotations)?;
    compare(ev, &res.value)?;
    if ev.exclude_from_range {
        return Ok(());
    }
    if ["start()", "end()", "range()", "step()"]
        .iter()
        .any(|f| q.contains(f))
    {
        return Ok(());
    }
    let rr = engine
        .range_query(store, q, t - 60_000, t + 60_000, 60_000)
        .map_err(|e| format!("error evaluating query in range mode: {e}"))?;
    if ev.is_ordered() {
        return Ok(());
    }
    let Value::Matrix(m) = rr.value else {
        return Err("range query did not return a matrix".into());
    };
    if m.windows(2).any(|w| w[0].metric > w[1].metric) {
        return Err("matrix results should always be sorted by labels".into());
    }
    let mut vec = Vec::new();
    for s in &m {
        if let Some(p) = s.floats.iter().find(|p| p.t == t) {
            vec.push(Sample {
                metric: s.metric.clone(),
                t,
                f: p.f,
                h: None,
            });
        }
        if let Some(p) = s.histograms.iter().find(|p| p.t == t) {
            vec.push(Sample {
                metric: s.metric.clone(),
                t,
                f: 0.0,
                h: Some(p.h.clone()),
            });
        }
    }
    let r = if matches!(res.value, Value::Scalar { .. }) {
        match vec.first() {
            Some(s) => compare(ev, &Value::Scalar { t, v: s.f }),
            None => Err("range mode returned no value for a scalar".into()),
        }
    } else {
        compare_vector(ev, &vec)
    };
    r.map_err(|e| format!("range mode: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_numbers_parse_as_in_go() {
        assert_eq!(parse_time("1h30m"), Ok(5_400_000));
        assert_eq!(parse_time("0"), Ok(0));
        assert!(parse_time("30m1h").is_err());
        assert!(parse_time("").is_err());
        assert_eq!(go_parse_number("0x10"), Some(16.0));
        assert_eq!(go_parse_number("-Inf"), Some(f64::NEG_INFINITY));
        assert_eq!(go_parse_number("{} 1"), None);
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
