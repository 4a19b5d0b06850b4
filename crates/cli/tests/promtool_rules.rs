//! `ember tool test rules` and `ember tool check rules` against Prometheus's promtool
//! test data: every command listed in `cmd/promtool/EXPECTED.md` must exit with the
//! code Prometheus 3.x's promtool gives, run from that folder's `testdata/`.
//!
//! The data is read from `$EMBER_TESTDATA/prometheus/cmd/promtool/` (by default the
//! shared test data beside the repository). Where it is absent the tests say so and
//! pass, unless `EMBER_TESTDATA` names it explicitly (as CI does): then its absence
//! is a failure, so a wrong path cannot turn the suite green.

use std::path::{Path, PathBuf};
use std::process::Command;

fn promtool_dir() -> Option<PathBuf> {
    let root = std::env::var_os("EMBER_TESTDATA").map_or_else(
        // crates/cli → workspace root → its sibling shared/testdata.
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"),
        PathBuf::from,
    );
    let dir = root.join("prometheus/cmd/promtool");
    let found = dir.join("EXPECTED.md").is_file();
    assert!(
        found || std::env::var_os("EMBER_TESTDATA").is_none(),
        "EMBER_TESTDATA is set but {} has no EXPECTED.md",
        dir.display()
    );
    found.then_some(dir)
}

/// Why each failing command fails: a text its output must contain, so that an exit
/// code of 1 for the wrong reason does not pass.
const REASONS: &[(&str, &str)] = &[
    (
        "test rules bad-input-series.yml",
        "1:48: parse error: unexpected character inside braces: '0'",
    ),
    (
        "test rules bad-promql.yml",
        "expr: \"join_1 + on(a) join_2\", time: 0s, err: found duplicate series for the match group {a=\"1\"} on the right hand-side of the operation",
    ),
    (
        "test rules bad-rules-syntax-test.yml",
        "bad-rules-syntax.yml: 7:15: group \"bad-syntax\", rule 1, \"x\": could not parse expression: 1:7: parse error: unexpected end of input",
    ),
    (
        "test rules bad-rules-error-test.yml",
        "rule: joined, time: 0s, err: found duplicate series for the match group {a=\"1\"}",
    ),
    ("test rules failing.yml", "alertname: Test, time: 0s,"),
    (
        "test rules rules_run.yml",
        "exp: {__name__=\"test\"} 1E+00\n        got: {__name__=\"test\"} 0E+00",
    ),
    (
        "test rules --run wrong rules_run.yml",
        "exp: {__name__=\"test\"} 1E+00\n        got: {__name__=\"test\"} 0E+00",
    ),
    (
        "test rules rules_run_no_fuzzy.yml",
        "got: {__name__=\"test_low\"} 2.9999999999999996E+00",
    ),
    (
        "test rules --run wrong rules_run_fuzzy.yml",
        "got: {__name__=\"test_high\"} 3.0000000000000013E+00",
    ),
];

/// The `| \`test rules ARGS\` | CODE |` rows of EXPECTED.md.
fn expected(text: &str) -> Vec<(Vec<String>, i32)> {
    text.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let cmd = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let code = cells.get(2)?.parse().ok()?;
            Some((cmd.split_whitespace().map(String::from).collect(), code))
        })
        .collect()
}

fn run(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ember"))
        .arg("tool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("ember runs");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn test_rules_exit_codes_match_promtool() {
    let Some(dir) = promtool_dir() else {
        println!("skipped: promtool testdata not found (set EMBER_TESTDATA)");
        return;
    };
    let text = std::fs::read_to_string(dir.join("EXPECTED.md")).expect("EXPECTED.md reads");
    let cases = expected(&text);
    assert!(!cases.is_empty(), "no commands found in EXPECTED.md");
    let data = dir.join("testdata");
    let mut failures = Vec::new();
    for (args, want) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (got, output) = run(&data, &args);
        let cmd = args.join(" ");
        if got != *want {
            failures.push(format!(
                "`{cmd}`: exit {got}, promtool gives {want}\n{output}"
            ));
            continue;
        }
        if *want != 0 {
            match REASONS.iter().find(|(c, _)| *c == cmd) {
                Some((_, why)) if !output.contains(why) => {
                    failures.push(format!("`{cmd}`: fails without {why:?}:\n{output}"));
                }
                Some(_) => {}
                None => failures.push(format!("`{cmd}`: no expected reason listed")),
            }
        }
    }
    println!(
        "promtool EXPECTED.md: {} of {} commands give promtool's exit code",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn check_rules_matches_promtool() {
    let Some(dir) = promtool_dir() else {
        println!("skipped: promtool testdata not found (set EMBER_TESTDATA)");
        return;
    };
    let data = dir.join("testdata");
    let cases: &[(&[&str], i32, &str)] = &[
        (&["rules.yml"], 0, "SUCCESS: 5 rules found"),
        (
            &["bad-rules-syntax.yml"],
            1,
            "bad-rules-syntax.yml: 7:15: group \"bad-syntax\", rule 1, \"x\": could not parse expression: 1:7: parse error: unexpected end of input",
        ),
        (
            &["rules-bad.yml"],
            1,
            "annotation \"summary\": template: __alert_InstanceDown:1: undefined variable \"$label\"",
        ),
        (
            &["rules_extrafields.yml"],
            1,
            "line 7: field namespace not found in type rulefmt.RuleGroup",
        ),
        (
            &["--ignore-unknown-fields", "rules_extrafields.yml"],
            0,
            "SUCCESS",
        ),
        (&["rules_duplicates.yml"], 0, "1 duplicate rule(s) found"),
        (
            &["--lint-fatal", "rules_duplicates.yml"],
            3,
            "Metric: job:test:count_over_time1m",
        ),
        (&["--lint=none", "rules_duplicates.yml"], 0, "SUCCESS"),
    ];
    for (args, code, needle) in cases {
        let mut full = vec!["check", "rules"];
        full.extend_from_slice(args);
        let (got, output) = run(&data, &full);
        assert_eq!(got, *code, "check rules {args:?}:\n{output}");
        assert!(
            output.contains(needle),
            "check rules {args:?}: no {needle:?} in\n{output}"
        );
    }
}

#[test]
fn test_rules_output_reads_like_promtool() {
    let Some(dir) = promtool_dir() else {
        println!("skipped: promtool testdata not found (set EMBER_TESTDATA)");
        return;
    };
    let (code, out) = run(&dir.join("testdata"), &["test", "rules", "failing.yml"]);
    assert_eq!(code, 1);
    for needle in [
        "  FAILED:",
        "    name: Failing test,\n    alertname: Test, time: 0s, \n        exp:[\n            0:\n              Labels:{alertname=\"Test\"}\n              Annotations:{}\n            ], \n        got:[]",
        "    expr: \"test\", time: 0s,\n        exp: {__name__=\"test\"} 1E+00\n        got: {__name__=\"test\"} 0E+00",
        "Annotations:{description=\" of job test has been down for more than 5 minutes.\", summary=\"Instance  down\"}",
    ] {
        assert!(out.contains(needle), "no {needle:?} in\n{out}");
    }
}

#[test]
fn test_rules_writes_junit_like_promtool() {
    let Some(dir) = promtool_dir() else {
        println!("skipped: promtool testdata not found (set EMBER_TESTDATA)");
        return;
    };
    let out = tempfile::NamedTempFile::new().expect("temp file");
    let junit = format!("--junit={}", out.path().display());
    let (code, _) = run(
        &dir.join("testdata"),
        &["test", &junit, "rules", "unittest.yml", "failing.yml"],
    );
    assert_eq!(code, 1);
    let xml = std::fs::read_to_string(out.path()).expect("junit file");
    assert!(
        xml.starts_with(
            "<testsuites><testsuite name=\"unittest.yml\" tests=\"5\" failures=\"0\" errors=\"0\""
        ),
        "{xml}"
    );
    assert!(
        xml.contains("<testsuite name=\"failing.yml\" tests=\"2\" failures=\"4\" errors=\"0\""),
        "{xml}"
    );
    assert!(
        xml.contains(
            "<testcase name=\"Failing alert test\"><failure>    name: Failing alert test,&#xA;"
        ),
        "{xml}"
    );
    assert!(xml.ends_with("</testsuite></testsuites>"), "{xml}");
}

#[test]
fn test_rules_debug_prints_like_promtool() {
    let Some(dir) = promtool_dir() else {
        println!("skipped: promtool testdata not found (set EMBER_TESTDATA)");
        return;
    };
    let (code, out) = run(
        &dir.join("testdata"),
        &["test", "rules", "--debug", "unittest.yml"],
    );
    assert_eq!(code, 0, "{out}");
    for needle in [
        "DEBUG: Starting test unnamed#0\n",
        "DEBUG: Dump of all data (input_series and rules) at 5m1s:\n",
        "{__name__=\"fixed_data\"} =>\n1 @[60000]\n1 @[120000]\n",
        "DEBUG: Test unnamed#0 finished, took ",
    ] {
        assert!(out.contains(needle), "no {needle:?} in\n{out}");
    }
}
