//! Runs Prometheus's PromQL test files from the shared test data and reports, per
//! file, how many eval cases pass. Fails when the total falls below the recorded
//! baseline, so that a regression shows; raise the baseline as the engine improves.

use std::path::PathBuf;

/// Experimental-feature files, counted apart (the headline figure excludes them).
const EXPERIMENTAL: &[&str] = &[
    "fill-modifier",
    "extended_vectors",
    "duration_expression",
    "info",
    "type_and_unit",
    "start_timestamps",
];

/// Passing cases over the 13 stable files; raise it when more pass.
const BASELINE_STABLE_PASSED: usize = 1691;

fn dir() -> Option<PathBuf> {
    let root = match std::env::var("EMBER_TESTDATA") {
        Ok(p) => PathBuf::from(p),
        Err(_) => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"),
    };
    let d = root.join("prometheus/promql/promqltest/testdata");
    d.is_dir().then_some(d)
}

#[test]
fn upstream_promql_test_files() {
    let Some(dir) = dir() else {
        println!("skipped: PromQL test data not found (set EMBER_TESTDATA)");
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "test"));
    files.sort();
    let (mut sp, mut st, mut ep, mut et) = (0, 0, 0, 0);
    for f in &files {
        let name = f.file_stem().unwrap().to_string_lossy().to_string();
        let r = ember_promql::promqltest::run_file(&std::fs::read_to_string(f).unwrap());
        println!("{name}.test: passed {} of {}", r.passed, r.total);
        if std::env::var("EMBER_PROMQLTEST_VERBOSE").is_ok() {
            for (l, m) in &r.failures {
                println!("  line {l}: {m}");
            }
        }
        if EXPERIMENTAL.contains(&name.as_str()) {
            ep += r.passed;
            et += r.total;
        } else {
            sp += r.passed;
            st += r.total;
        }
    }
    println!("stable files: {sp} passed, {} failed (of {st})", st - sp);
    println!(
        "experimental files: {ep} passed, {} failed (of {et})",
        et - ep
    );
    assert!(
        sp >= BASELINE_STABLE_PASSED,
        "stable passes fell to {sp}, baseline {BASELINE_STABLE_PASSED}"
    );
}

/// Altering one expected value in a passing upstream file makes exactly that case
/// fail: the runner compares values, not just shapes.
#[test]
fn altering_one_expected_value_fails_that_case() {
    let Some(dir) = dir() else {
        println!("skipped: PromQL test data not found (set EMBER_TESTDATA)");
        return;
    };
    for file in ["aggregators.test", "functions.test", "operators.test"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // The first instant eval whose first expected sample has a plain number.
        let (eval_line, value_line, value) = lines
            .windows(2)
            .enumerate()
            .find_map(|(i, w)| {
                let v = w[1].split_whitespace().last()?;
                let f = v.parse::<f64>().ok().filter(|f| f.is_finite())?;
                (w[0].starts_with("eval instant at ") && w[1].starts_with("  ")).then_some((
                    i + 1,
                    i + 1,
                    (v.to_string(), f),
                ))
            })
            .unwrap_or_else(|| panic!("{file}: no instant eval with a number"));
        let mut altered: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        let l = &mut altered[value_line];
        let cut = l.rfind(&value.0).unwrap();
        l.replace_range(cut.., &format!("{}", value.1 + 1.0));
        let before = ember_promql::promqltest::run_file(&text);
        let after = ember_promql::promqltest::run_file(&altered.join("\n"));
        assert_eq!(before.total, after.total, "{file}");
        assert_eq!(
            after.passed + 1,
            before.passed,
            "{file}: {:?}",
            after.failures
        );
        let new: Vec<_> = after
            .failures
            .iter()
            .filter(|f| !before.failures.contains(f))
            .collect();
        assert_eq!(new.len(), 1, "{file}: {new:?}");
        assert_eq!(
            new[0].0, eval_line,
            "{file}: the failure is the altered case: {new:?}"
        );
    }
}
