//! Parses every query of Prometheus's promqltest files.
//!
//! Prometheus's test runner parses each `eval` query when it loads a file, with every
//! experimental feature enabled, and refuses the file if one does not parse; so every
//! query there must parse here too, including those expected to fail (they fail when
//! evaluated). Where a file expects a *parse* error, the message must be ours too.
//! Each query is also printed and parsed again, which must give the same tree.
//!
//! The files are read from `$EMBER_TESTDATA/prometheus/promql/promqltest/testdata`
//! (default: `shared/testdata` beside the workspace); without them the test says so
//! and passes.

use crate::parse_tests::normalized;
use crate::{Parser, ParserOptions};
use regex::Regex;
use std::path::PathBuf;

fn testdata_dir() -> PathBuf {
    let base = match std::env::var_os("EMBER_TESTDATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"),
    };
    base.join("prometheus/promql/promqltest/testdata")
}

/// One `eval` command.
struct Eval {
    file: String,
    line: usize,
    expr: String,
    /// The expected failure message or pattern, when the query is expected to fail.
    fail: Option<Expectation>,
}

enum Expectation {
    Any,
    Message(String),
    Pattern(String),
}

/// Extracts the `eval` commands as Prometheus's `test.go` reads them: lines trimmed,
/// comment lines blank, an eval's expectations on the lines that follow it up to a
/// blank line.
fn evals(file: &str, text: &str) -> Vec<Eval> {
    let instant =
        Regex::new(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
            .expect("pattern");
    let range = Regex::new(
        r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
    )
    .expect("pattern");
    let expect =
        Regex::new(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$")
            .expect("pattern");
    let lines: Vec<String> = text
        .split('\n')
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                String::new()
            } else {
                l.to_string()
            }
        })
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if !l.to_lowercase().starts_with("eval") {
            i += 1;
            continue;
        }
        let (modifier, expr) = if let Some(c) = instant.captures(l) {
            (c.get(1).map(|m| m.as_str()), c[3].to_string())
        } else if let Some(c) = range.captures(l) {
            (c.get(1).map(|m| m.as_str()), c[5].to_string())
        } else {
            panic!("{file}:{}: unreadable eval command {l:?}", i + 1);
        };
        let mut fail = (modifier == Some("fail")).then_some(Expectation::Any);
        let line = i + 1;
        i += 1;
        while i < lines.len() && !lines[i].is_empty() {
            let d = &lines[i];
            if let Some(rest) = d.strip_prefix("expected_fail_message") {
                fail = Some(Expectation::Message(rest.trim().to_string()));
            } else if let Some(rest) = d.strip_prefix("expected_fail_regexp") {
                fail = Some(Expectation::Pattern(rest.trim().to_string()));
            } else if let Some(c) = expect.captures(d)
                && &c[1] == "fail"
            {
                fail = Some(match (c.get(2).map(|m| m.as_str()), c.get(3)) {
                    (Some("msg"), Some(m)) => Expectation::Message(m.as_str().trim().to_string()),
                    (Some("regex"), Some(m)) => Expectation::Pattern(m.as_str().trim().to_string()),
                    _ => Expectation::Any,
                });
            }
            i += 1;
        }
        out.push(Eval {
            file: file.to_string(),
            line,
            expr,
            fail,
        });
    }
    out
}

#[test]
fn promqltest_expressions_parse() {
    let dir = testdata_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!(
            "skipping: no promqltest files at {} (set EMBER_TESTDATA)",
            dir.display()
        );
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .test files in {}", dir.display());

    let parser = Parser::new(ParserOptions::all());
    let (mut parsed, mut expected_failures, mut parse_errors_matched) = (0, 0, 0);
    let mut mismatches = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path).expect("readable test file");
        for ev in evals(&name, &text) {
            let at = format!("{}:{}", ev.file, ev.line);
            let result = parser.parse_expr(&ev.expr);
            // A failure Prometheus reports while parsing is worded "… parse error: …".
            let parse_failure_expected = match &ev.fail {
                Some(Expectation::Message(m)) => m.contains("parse error"),
                Some(Expectation::Pattern(p)) => p.contains("parse error"),
                _ => false,
            };
            match (result, parse_failure_expected) {
                (Ok(e), false) => {
                    parsed += 1;
                    if ev.fail.is_some() {
                        expected_failures += 1;
                    }
                    let printed = e.to_string();
                    match parser.parse_expr(&printed) {
                        Ok(again) => {
                            if normalized(&e) != normalized(&again) {
                                mismatches.push(format!(
                                    "{at}: {:?} prints as {printed:?}, which parses differently",
                                    ev.expr
                                ));
                            }
                        }
                        Err(err) => mismatches.push(format!(
                            "{at}: {:?} prints as {printed:?}, which does not parse: {err}",
                            ev.expr
                        )),
                    }
                }
                (Ok(_), true) => mismatches.push(format!(
                    "{at}: {:?} parsed, but a parse error is expected",
                    ev.expr
                )),
                (Err(err), true) => {
                    let msg = err.to_string();
                    let ok = match &ev.fail {
                        Some(Expectation::Message(m)) => msg.ends_with(m.as_str()),
                        Some(Expectation::Pattern(p)) => {
                            Regex::new(p).is_ok_and(|re| re.is_match(&msg))
                        }
                        _ => true,
                    };
                    if ok {
                        parse_errors_matched += 1;
                    } else {
                        mismatches.push(format!("{at}: {:?}: got {msg}", ev.expr));
                    }
                }
                (Err(err), false) => {
                    mismatches.push(format!("{at}: {:?} does not parse: {err}", ev.expr));
                }
            }
        }
    }
    println!(
        "promqltest expressions: {parsed} parsed ok ({expected_failures} of them expected to fail when evaluated), {parse_errors_matched} expected parse errors matched, {} mismatches",
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
