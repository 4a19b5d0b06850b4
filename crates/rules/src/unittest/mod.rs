//! promtool's rule unit tests (`promtool test rules`): test files naming rule files,
//! input series in the series notation, and expectations on alerts
//! (`alert_rule_test`) and on query results (`promql_expr_test`) at given times.
//!
//! A test group runs as promtool runs it: input samples are loaded lazily up to each
//! evaluation time, every group is evaluated at each step of `evaluation_interval`
//! from the start (in `group_eval_order`), firing alerts are compared at the steps
//! covering each `eval_time`, and the PromQL expectations are checked after the last
//! step. Failures are reported as strings worded as promtool words them, so that the
//! command's output can be compared with promtool's.

mod storage;

use crate::group::{EvalContext, LoadOptions, load_groups};
use crate::rule::{AlertState, Rule};
use crate::{EngineQueryFunc, QueryFunc};
use ember_config::Duration;
use ember_model::Labels;
use ember_promql::series_notation::{SeriesValue, parse_series, parse_values, test_expression};
use ember_promql::{Engine, EngineOptions};
use ember_promql_parser::{ParserOptions, go_quote};
use ember_storage::{Appendable, HistogramRef};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use storage::TestStorage;

/// How to run test files.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Only run test groups whose name matches one of these regular expressions
    /// (`--run`, repeatable).
    pub run: Vec<String>,
    /// Accept unknown keys in the rule files (`--ignore-unknown-fields`).
    pub ignore_unknown_fields: bool,
    /// Record promtool's `--debug` output: start and end of each test group with
    /// its duration, and a dump of every series at the group's last evaluation.
    pub debug: bool,
    /// PromQL parser options.
    pub parser: ParserOptions,
}

/// The outcome of one test file.
#[derive(Debug, Default)]
pub struct FileResult {
    /// Warnings printed before the result (rule file patterns matching nothing).
    pub warnings: Vec<String>,
    /// Failures, each worded as promtool prints it; empty when the file passed.
    pub errors: Vec<String>,
    /// The test groups run, in file order, with their failures (for JUnit reports).
    pub cases: Vec<CaseResult>,
    /// The error that stopped the file before or between its test groups (unreadable
    /// file, bad YAML, a repeated group in `group_eval_order`).
    pub aborted: Option<String>,
}

/// One test group's outcome.
#[derive(Debug, Default)]
pub struct CaseResult {
    /// The group's `name`, or `unnamed#N` (N its index in the file), as promtool.
    pub name: String,
    /// Its failures, worded as printed.
    pub failures: Vec<String>,
    /// `--debug` lines (promtool prints them to standard error as the group runs).
    pub debug: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TestFile {
    rule_files: Option<Vec<String>>,
    evaluation_interval: Option<Duration>,
    group_eval_order: Option<Vec<String>>,
    tests: Option<Vec<Option<TestGroup>>>,
    fuzzy_compare: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TestGroup {
    interval: Option<Duration>,
    input_series: Option<Vec<InputSeries>>,
    alert_rule_test: Option<Vec<AlertTestCase>>,
    promql_expr_test: Option<Vec<PromqlTestCase>>,
    external_labels: Option<BTreeMap<String, String>>,
    external_url: Option<String>,
    name: Option<String>,
    start_timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSeries {
    series: Option<String>,
    values: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertTestCase {
    eval_time: Option<Duration>,
    alertname: Option<String>,
    exp_alerts: Option<Vec<ExpAlert>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ExpAlert {
    exp_labels: Option<BTreeMap<String, String>>,
    exp_annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PromqlTestCase {
    expr: Option<String>,
    eval_time: Option<Duration>,
    exp_samples: Option<Vec<ExpSample>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpSample {
    labels: Option<String>,
    value: Option<f64>,
    histogram: Option<String>,
}

/// Runs one test file.
pub fn run_file(path: &Path, opts: &Options) -> FileResult {
    let mut res = FileResult::default();
    if let Err(e) = run(path, opts, &mut res) {
        res.aborted = e.first().cloned();
        res.errors = e;
    } else {
        res.errors = res.cases.iter().flat_map(|c| c.failures.clone()).collect();
    }
    res
}

fn run(path: &Path, opts: &Options, res: &mut FileResult) -> Result<(), Vec<String>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| vec![format!("{}: {e}", path.display())])?;
    let mut so = serde_saphyr::Options::default();
    so.with_snippet = false;
    so.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    let file: Option<TestFile> =
        serde_saphyr::from_str_with_options(&text, so).map_err(|e| vec![yaml_error(&e)])?;
    let file = file.unwrap_or_default();
    let run_re = if opts.run.is_empty() {
        None
    } else {
        Some(
            regex::Regex::new(&opts.run.join("|"))
                .map_err(|e| vec![format!("invalid --run pattern: {e}")])?,
        )
    };
    let base = path.parent().unwrap_or(Path::new(""));
    let mut rule_files = Vec::new();
    for rf in file.rule_files.unwrap_or_default() {
        let p = if rf.is_empty() || Path::new(&rf).is_absolute() {
            PathBuf::from(&rf)
        } else {
            base.join(&rf)
        };
        let pattern = p.to_string_lossy().into_owned();
        let matches: Vec<PathBuf> = glob::glob(&pattern)
            .map_err(|e| vec![e.to_string()])?
            .filter_map(Result::ok)
            .collect();
        if matches.is_empty() {
            res.warnings
                .push(format!("  WARNING: no file match pattern {pattern}"));
        }
        rule_files.extend(matches);
    }
    let eval_interval = file
        .evaluation_interval
        .filter(|d| !d.is_zero())
        .unwrap_or(Duration::from_secs(60));
    let mut order: BTreeMap<String, usize> = BTreeMap::new();
    for (i, g) in file
        .group_eval_order
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        if order.contains_key(&g) {
            return Err(vec![format!(
                "group name repeated in evaluation order: {g}"
            )]);
        }
        order.insert(g, i);
    }
    let setup = Setup {
        rule_files,
        eval_interval,
        order,
        fuzzy: file.fuzzy_compare.unwrap_or(false),
        opts,
    };
    for (i, tg) in file.tests.unwrap_or_default().into_iter().enumerate() {
        let tg = tg.unwrap_or_default();
        let name = tg.name.clone().unwrap_or_default();
        if let Some(re) = &run_re
            && !re.is_match(&name)
        {
            continue;
        }
        let name = if name.is_empty() {
            format!("unnamed#{i}")
        } else {
            name
        };
        let started = std::time::Instant::now();
        let mut dump = None;
        let failures = setup.test(tg, &mut dump);
        let debug = if opts.debug {
            let mut d = vec![format!("DEBUG: Starting test {name}")];
            d.extend(dump);
            d.push(format!(
                "DEBUG: Test {name} finished, took {}",
                go_elapsed(started.elapsed())
            ));
            d
        } else {
            Vec::new()
        };
        res.cases.push(CaseResult {
            name,
            failures,
            debug,
        });
    }
    Ok(())
}

fn yaml_error(e: &serde_saphyr::Error) -> String {
    use serde_saphyr::MessageFormatter;
    let msg = serde_saphyr::DefaultMessageFormatter
        .format_message(e)
        .into_owned();
    match e.location() {
        Some(l) if l.line() > 0 => format!("yaml: unmarshal errors:\n  line {}: {msg}", l.line()),
        _ => format!("yaml: {msg}"),
    }
}

struct Setup<'a> {
    rule_files: Vec<PathBuf>,
    eval_interval: Duration,
    order: BTreeMap<String, usize>,
    fuzzy: bool,
    opts: &'a Options,
}

/// promtool's `parseTime`: seconds since the epoch (fractions allowed) or RFC 3339.
fn parse_start(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.trim().parse::<f64>() {
        return Ok((f * 1000.0).floor() as i64);
    }
    parse_rfc3339(s).ok_or_else(|| format!("cannot parse {s:?} to a valid timestamp"))
}

fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut ms = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        let digits = &frac[..n];
        ms = format!("{digits:0<3}").get(..3)?.parse().ok()?;
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    // Days from the civil date (proleptic Gregorian), Howard Hinnant's method.
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86400 + h * 3600 + mi * 60 + sec - offset) * 1000) + ms)
}

/// Go's `time.Duration.String` for whole milliseconds: `0s`, `1m0s`, `1h2m3.5s`.
fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let neg = ms < 0;
    let ms = ms.unsigned_abs();
    let sign = if neg { "-" } else { "" };
    if ms < 1000 {
        return format!("{sign}{ms}ms");
    }
    let (h, m, s, frac) = (
        ms / 3_600_000,
        (ms / 60_000) % 60,
        (ms / 1000) % 60,
        ms % 1000,
    );
    let secs = if frac == 0 {
        format!("{s}s")
    } else {
        format!("{s}.{}s", format!("{frac:03}").trim_end_matches('0'))
    };
    if h > 0 {
        format!("{sign}{h}h{m}m{secs}")
    } else if m > 0 {
        format!("{sign}{m}m{secs}")
    } else {
        format!("{sign}{secs}")
    }
}

fn indent_lines(s: &str, indent: &str) -> String {
    s.split('\n')
        .collect::<Vec<_>>()
        .join(&format!("\n{indent}"))
}

/// A map printed as Prometheus prints a label set: `{a="1", b=""}`.
fn map_string(m: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{k}={}", ember_model::labels::go_quote(v)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

type LabelsAndAnnotations = (Labels, BTreeMap<String, String>);

fn alerts_string(la: &[LabelsAndAnnotations]) -> String {
    if la.is_empty() {
        return "[]".into();
    }
    let mut s = String::from("[");
    for (i, (l, a)) in la.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let body = format!("\nLabels:{l}\nAnnotations:{}", map_string(a));
        s.push_str(&format!("\n{i}:{}", indent_lines(&body, "  ")));
    }
    s.push_str("\n]");
    s
}

#[derive(Debug, Clone)]
struct ParsedSample {
    labels: Labels,
    value: f64,
    histogram: String,
}

impl std::fmt::Display for ParsedSample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.histogram.is_empty() {
            write!(f, "{} {}", self.labels, go_e(self.value))
        } else {
            write!(f, "{} {}", self.labels, self.histogram)
        }
    }
}

fn samples_string(v: &[ParsedSample]) -> String {
    if v.is_empty() {
        return "nil".into();
    }
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Go's `strconv.FormatFloat(v, 'E', -1, 64)`: `1E+00`, `2.5E-07`.
fn go_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    // Rust's `{:E}` has Go's shortest digits; only the exponent's form differs.
    let e = format!("{v:E}");
    let (mant, exp) = e.split_once('E').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    format!("{mant}E{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

/// Go's `math.Nextafter`-based fuzzy equality: equal or one ulp apart.
fn float_eq(a: f64, b: f64, fuzzy: bool) -> bool {
    if a == b {
        return true;
    }
    fuzzy
        && a.is_finite()
        && b.is_finite()
        && (a.to_bits().abs_diff(b.to_bits()) == 1 && a.signum() == b.signum())
}

impl Setup<'_> {
    /// Runs one test group; its failures. With `--debug`, a group that ran to the end
    /// leaves its data dump in `dump`.
    fn test(&self, tg: TestGroup, dump: &mut Option<String>) -> Vec<String> {
        let interval = tg
            .interval
            .filter(|d| !d.is_zero())
            .unwrap_or(self.eval_interval);
        let mint = match tg.start_timestamp.as_deref().map(parse_start) {
            None => 0,
            Some(Ok(t)) => t,
            Some(Err(e)) => return vec![e],
        };
        // The input samples, loaded lazily up to each evaluation time.
        let mut pending: Vec<(Labels, i64, SeriesValue)> = Vec::new();
        for s in tg.input_series.unwrap_or_default() {
            let line = format!(
                "{} {}",
                s.series.unwrap_or_default(),
                s.values.unwrap_or_default()
            );
            // As promtool's load command: a missing metric is the empty label set.
            let (labels, values) = match parse_series(&line, self.opts.parser) {
                Ok((labels, values)) => (labels.unwrap_or_default(), values),
                Err(e) => return vec![e],
            };
            let step = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
            for (i, v) in values.into_iter().enumerate() {
                if !matches!(v, SeriesValue::Omitted) {
                    pending.push((labels.clone(), mint + step * i as i64, v));
                }
            }
        }
        pending.sort_by_key(|(_, t, _)| *t);
        let storage = Arc::new(TestStorage::default());
        let eval_ms = i64::try_from(self.eval_interval.as_millis()).unwrap_or(i64::MAX);
        let engine = Engine::new(EngineOptions {
            max_samples: 10_000,
            timeout: std::time::Duration::from_secs(100),
            default_subquery_step: self.eval_interval.as_std(),
            parser: self.opts.parser,
            ..EngineOptions::default()
        });
        let query: Arc<dyn QueryFunc> = Arc::new(EngineQueryFunc {
            engine: engine.clone(),
            queryable: storage.clone(),
        });
        let external_labels = tg.external_labels.clone().unwrap_or_default();
        let load = LoadOptions {
            default_interval: interval.as_std(),
            external_labels,
            external_url: tg.external_url.clone().unwrap_or_default(),
            parse: crate::file::ParseOptions {
                ignore_unknown_fields: self.opts.ignore_unknown_fields,
                parser: self.opts.parser,
                ..Default::default()
            },
            restored: true,
        };
        let mut groups = match load_groups(&self.rule_files, &load) {
            Ok(g) => g,
            Err(errs) => return errs.iter().map(ToString::to_string).collect(),
        };
        groups.sort_by_key(|g| self.order.get(g.name()).copied().unwrap_or(0));

        let alert_tests = tg.alert_rule_test.unwrap_or_default();
        let promql_tests = tg.promql_expr_test.unwrap_or_default();
        let group_name = tg.name.clone().unwrap_or_default();
        let max_eval = alert_tests
            .iter()
            .filter_map(|a| a.eval_time)
            .chain(promql_tests.iter().filter_map(|p| p.eval_time))
            .max()
            .unwrap_or_default();
        let maxt = mint + i64::try_from(max_eval.as_millis()).unwrap_or(i64::MAX);
        for a in &alert_tests {
            if a.alertname.as_deref().unwrap_or("").is_empty() {
                let in_group = if group_name.is_empty() {
                    String::new()
                } else {
                    format!(" (in TestGroup {group_name})")
                };
                return vec![format!(
                    "an item under alert_rule_test misses required attribute alertname at eval_time {}{in_group}",
                    a.eval_time.unwrap_or_default()
                )];
            }
        }
        let mut alert_times: Vec<Duration> = alert_tests
            .iter()
            .map(|a| a.eval_time.unwrap_or_default())
            .collect();
        alert_times.sort();
        alert_times.dedup();
        let name_prefix = if group_name.is_empty() {
            String::new()
        } else {
            format!("    name: {group_name},\n")
        };

        let ctx = EvalContext {
            query: query.clone(),
            appendable: storage.as_ref(),
            default_query_offset: std::time::Duration::ZERO,
            resend_delay: std::time::Duration::from_secs(60),
        };
        let mut errs = Vec::new();
        let mut curr = 0;
        let mut next_sample = 0;
        let mut ts = mint;
        while ts <= maxt {
            // Load the input samples up to this evaluation time.
            {
                let mut app = storage.appender();
                while let Some((l, t, p)) = pending.get(next_sample) {
                    if *t > ts {
                        break;
                    }
                    let r = match p {
                        SeriesValue::Float(f) => Some(app.append(None, l, *t, *f)),
                        SeriesValue::Histogram(h, _) => {
                            Some(app.append_histogram(None, l, *t, HistogramRef::Float(h)))
                        }
                        // Never queued.
                        SeriesValue::Omitted => None,
                    };
                    if let Some(Err(e)) = r {
                        errs.push(e.to_string());
                    }
                    next_sample += 1;
                }
                if let Err(e) = app.commit() {
                    errs.push(e.to_string());
                }
            }
            let mut eval_errs = Vec::new();
            for g in &mut groups {
                g.eval(&ctx, ts);
                for r in g.rules() {
                    if let Some(e) = r.last_error() {
                        eval_errs.push(format!(
                            "    rule: {}, time: {}, err: {e}",
                            r.name(),
                            go_duration(ts)
                        ));
                    }
                }
            }
            if !eval_errs.is_empty() {
                errs.extend(eval_errs);
                return errs;
            }
            while curr < alert_times.len() {
                let t = i64::try_from(alert_times[curr].as_millis()).unwrap_or(i64::MAX);
                if !(ts - mint <= t && t < ts + eval_ms - mint) {
                    break;
                }
                for tc in alert_tests
                    .iter()
                    .filter(|a| a.eval_time.unwrap_or_default() == alert_times[curr])
                {
                    let name = tc.alertname.as_deref().unwrap_or("");
                    let mut got: Vec<LabelsAndAnnotations> = groups
                        .iter()
                        .flat_map(|g| g.rules())
                        .filter_map(Rule::as_alerting)
                        .filter(|r| r.name() == name)
                        .flat_map(|r| r.active_alerts())
                        .filter(|a| a.state == AlertState::Firing)
                        .map(|a| (a.labels.clone(), a.annotations.clone()))
                        .collect();
                    let mut exp: Vec<LabelsAndAnnotations> = tc
                        .exp_alerts
                        .iter()
                        .flatten()
                        .map(|a| {
                            let mut l = a.exp_labels.clone().unwrap_or_default();
                            l.insert("alertname".into(), name.to_string());
                            (
                                Labels::from_pairs(l),
                                a.exp_annotations.clone().unwrap_or_default(),
                            )
                        })
                        .collect();
                    got.sort();
                    exp.sort();
                    if got != exp {
                        errs.push(format!(
                            "{name_prefix}    alertname: {name}, time: {}, \n        exp:{}, \n        got:{}",
                            tc.eval_time.unwrap_or_default(),
                            indent_lines(&alerts_string(&exp), "            "),
                            indent_lines(&alerts_string(&got), "            ")
                        ));
                    }
                }
                curr += 1;
            }
            ts = match ts.checked_add(eval_ms) {
                Some(t) => t,
                None => break,
            };
        }

        'cases: for tc in &promql_tests {
            let expr = tc.expr.clone().unwrap_or_default();
            let at = tc.eval_time.unwrap_or_default();
            let t = mint + i64::try_from(at.as_millis()).unwrap_or(i64::MAX);
            let got = match query.query(&expr, t) {
                Ok(v) => v,
                Err(e) => {
                    errs.push(format!(
                        "    expr: {}, time: {at}, err: {e}",
                        go_quote(&expr)
                    ));
                    continue;
                }
            };
            let mut got: Vec<ParsedSample> = got
                .into_iter()
                .map(|s| ParsedSample {
                    labels: s.metric,
                    value: s.f,
                    histogram: s.h.as_deref().map(test_expression).unwrap_or_default(),
                })
                .collect();
            let mut exp = Vec::new();
            for s in tc.exp_samples.iter().flatten() {
                let ltext = s.labels.clone().unwrap_or_default();
                let parsed = ember_promql_parser::Parser::new(self.opts.parser)
                    .parse_metric(&ltext)
                    .map_err(|e| e.to_string())
                    .and_then(|l| match s.histogram.as_deref().filter(|h| !h.is_empty()) {
                        None => Ok((l, String::new())),
                        Some(h) => match parse_values(h)?.as_slice() {
                            [SeriesValue::Histogram(h, _)] => Ok((l, test_expression(h))),
                            [v] => Err(format!("expected histogram, got {v:?}")),
                            vs => Err(format!("expected 1 value, got {}", vs.len())),
                        },
                    });
                match parsed {
                    Ok((labels, histogram)) => exp.push(ParsedSample {
                        labels,
                        value: s.value.unwrap_or(0.0),
                        histogram,
                    }),
                    Err(e) => {
                        errs.push(format!(
                            "    expr: {}, time: {at}, err: labels {}: {e}",
                            go_quote(&expr),
                            go_quote(&ltext)
                        ));
                        continue 'cases;
                    }
                }
            }
            exp.sort_by(|a, b| a.labels.cmp(&b.labels));
            got.sort_by(|a, b| a.labels.cmp(&b.labels));
            let same = exp.len() == got.len()
                && exp.iter().zip(&got).all(|(e, g)| {
                    e.labels == g.labels
                        && e.histogram == g.histogram
                        && float_eq(e.value, g.value, self.fuzzy)
                });
            if !same {
                errs.push(format!(
                    "    expr: {}, time: {at},\n        exp: {}\n        got: {}",
                    go_quote(&expr),
                    samples_string(&exp),
                    samples_string(&got)
                ));
            }
        }
        if self.opts.debug {
            *dump = Some(debug_dump(storage.as_ref(), mint, max_eval));
        }
        errs
    }
}

/// promtool's `--debug` dump: every series over the range `(mint, mint + T]`, with
/// T the group's last evaluation time rounded up to the next whole second, as Go's
/// `Matrix.String` prints it (floats as `v @[t]`). Histogram samples use the series
/// notation of test files, where promtool prints Go's histogram `String`.
fn debug_dump(storage: &TestStorage, mint: i64, max_eval: Duration) -> String {
    use ember_model::{MatchType, Matcher};
    use ember_storage::{Queryable, ValueType};
    let ms = i64::try_from(max_eval.as_millis()).unwrap_or(i64::MAX);
    let range = (ms / 1000 + 1).saturating_mul(1000);
    let maxt = mint.saturating_add(range);
    let header = format!(
        "DEBUG: Dump of all data (input_series and rules) at {}:",
        go_duration(range)
    );
    let q = match storage.querier(mint + 1, maxt) {
        Ok(q) => q,
        Err(e) => return format!("DEBUG: Failed querying, err: {e}"),
    };
    let Ok(all) = Matcher::new(MatchType::RegexMatch, "__name__", ".+") else {
        return header;
    };
    let mut series: Vec<(Labels, Vec<String>)> = Vec::new();
    for s in q.select(true, None, &[all]).flatten() {
        let mut floats = Vec::new();
        let mut hists = Vec::new();
        let mut it = s.iter();
        loop {
            match it.next() {
                ValueType::Float => {
                    let (t, v) = it.at();
                    if t > mint && t <= maxt && !ember_model::value::is_stale_nan(v) {
                        floats.push(format!("{} @[{t}]", go_float(v)));
                    }
                }
                ValueType::Histogram | ValueType::FloatHistogram => {
                    let mut h = ember_model::histogram::FloatHistogram::default();
                    let t = it.at_float_histogram(&mut h);
                    if t > mint && t <= maxt {
                        hists.push(format!("{} @[{t}]", test_expression(&h)));
                    }
                }
                ValueType::None => break,
            }
        }
        floats.extend(hists);
        if !floats.is_empty() {
            series.push((s.labels().clone(), floats));
        }
    }
    series.sort_by(|a, b| a.0.cmp(&b.0));
    let body: Vec<String> = series
        .iter()
        .map(|(l, v)| format!("{l} =>\n{}", v.join("\n")))
        .collect();
    format!("{header}\n{}", body.join("\n"))
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`.
fn go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// Go's `time.Duration.String` for an elapsed time.
fn go_elapsed(d: std::time::Duration) -> String {
    let ns = d.as_nanos();
    let trim = |whole: u128, frac: u128, digits: usize, unit: &str| {
        let f = format!("{frac:0digits$}");
        let f = f.trim_end_matches('0');
        if f.is_empty() {
            format!("{whole}{unit}")
        } else {
            format!("{whole}.{f}{unit}")
        }
    };
    match ns {
        0 => "0s".into(),
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => trim(n / 1_000, n % 1_000, 3, "µs"),
        n if n < 1_000_000_000 => trim(n / 1_000_000, n % 1_000_000, 6, "ms"),
        n => {
            let ms = i64::try_from(n / 1_000_000).unwrap_or(i64::MAX);
            if n < 60_000_000_000 {
                trim(n / 1_000_000_000, n % 1_000_000_000, 9, "s")
            } else {
                go_duration(ms)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(60_000), "1m0s");
        assert_eq!(go_duration(3_723_500), "1h2m3.5s");
        assert_eq!(
            parse_start("2024-01-01T00:00:00Z").unwrap(),
            1_704_067_200_000
        );
        assert_eq!(parse_start("1609459200").unwrap(), 1_609_459_200_000);
        assert!(parse_start("soon").is_err());
    }

    #[test]
    fn debug_formats() {
        assert_eq!(
            go_elapsed(std::time::Duration::from_nanos(1_234_567)),
            "1.234567ms"
        );
        assert_eq!(go_elapsed(std::time::Duration::from_nanos(1_500)), "1.5µs");
        assert_eq!(go_elapsed(std::time::Duration::from_millis(2000)), "2s");
        assert_eq!(go_float(0.1), "0.1");
        assert_eq!(go_float(1e21), "1000000000000000000000");
        assert_eq!(go_float(f64::INFINITY), "+Inf");
    }

    #[test]
    fn go_float_format() {
        assert_eq!(go_e(1.0), "1E+00");
        assert_eq!(go_e(2.9999999999999996), "2.9999999999999996E+00");
        assert_eq!(go_e(0.0), "0E+00");
        assert_eq!(go_e(-0.0), "-0E+00");
        assert_eq!(go_e(1e-7), "1E-07");
        assert_eq!(go_e(-2.5e123), "-2.5E+123");
        assert_eq!(go_e(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn fuzzy() {
        assert!(float_eq(3.0, 2.9999999999999996, true));
        assert!(!float_eq(3.0, 2.9999999999999996, false));
        assert!(!float_eq(3.0, 2.9999999999999987, true));
    }
}
