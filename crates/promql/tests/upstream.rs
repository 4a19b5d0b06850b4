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
