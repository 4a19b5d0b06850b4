//! Every exposition in Prometheus's `model/textparse/testdata` must parse, build
//! label sets, and survive parse → write → parse unchanged.

mod common;

use std::path::{Path, PathBuf};

use ember_exposition::{Entry, Format, Parser};

fn testdata_dir() -> PathBuf {
    let base = std::env::var_os("EMBER_TESTDATA").map_or_else(
        || {
            // crates/exposition → workspace root → its sibling shared/testdata.
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata")
        },
        PathBuf::from,
    );
    base.join("prometheus/model/textparse/testdata")
}

fn format_of(name: &str) -> Option<Format> {
    if name.ends_with(".om.txt") {
        Some(Format::OpenMetrics)
    } else if name.ends_with(".prom.txt") {
        Some(Format::Text)
    } else {
        None
    }
}

#[test]
fn upstream_testdata_parses_and_round_trips() {
    let dir = testdata_dir();
    if !dir.is_dir() {
        println!("skipping: no test data at {}", dir.display());
        return;
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read testdata dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    paths.sort();
    let (mut files, mut samples) = (0, 0);
    let mut failures = Vec::new();
    for path in &paths {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let Some(format) = format_of(&name) else {
            println!("not an exposition, ignored: {name}");
            continue;
        };
        let input = std::fs::read(path).expect("read testdata file");
        files += 1;
        // The pull parser's label sets, as the scrape builds them.
        let mut p = Parser::new(&input, format);
        loop {
            match p.next_entry() {
                Ok(Some(Entry::Series(s))) => {
                    if let Err(e) = s.to_labels() {
                        failures.push(format!("{name}: {e}"));
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    failures.push(format!("{name}: {e}"));
                    break;
                }
            }
        }
        match common::round_trip(&input, format) {
            Ok(fams) => {
                let n = common::sample_count(&fams);
                println!("{name}: {} families, {n} samples", fams.len());
                samples += n;
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    println!("{files} files, {samples} samples round-tripped");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(files > 0, "no exposition files in {}", dir.display());
}
