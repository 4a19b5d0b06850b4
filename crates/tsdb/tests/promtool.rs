//! Ember → Prometheus tools: blocks and WAL written by Ember are read by Debian's
//! `promtool` (Prometheus 2.42): `promtool tsdb analyze` accepts every block and
//! `promtool tsdb dump` lists exactly the samples Ember was given.

use ember_model::Labels;
use ember_storage::Appendable;
use ember_tsdb::{Db, DbOptions, HeadOptions};
use std::collections::BTreeSet;
use std::process::Command;

fn promtool() -> Option<&'static str> {
    if Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some("promtool");
    }
    assert!(
        std::env::var("EMBER_REQUIRE_INTEROP").as_deref() != Ok("1"),
        "promtool is not installed (apt-get install prometheus) and EMBER_REQUIRE_INTEROP=1"
    );
    println!("skipped: promtool not found (install Debian's prometheus package)");
    None
}

fn value(i: i64, s: usize) -> f64 {
    // Mixed magnitudes and fractions so the XOR encoding takes all its paths.
    match s {
        0 => i as f64,
        1 => (i as f64).sin() * 1e6,
        2 => 0.5,
        _ => (i * i) as f64 / 7.0,
    }
}

#[test]
fn promtool_reads_ember_blocks_and_wal() {
    let Some(promtool) = promtool() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut want = BTreeSet::new();
    {
        let opts = DbOptions {
            head: HeadOptions {
                chunk_range: 3_600_000,
                ..Default::default()
            },
            ..Default::default()
        };
        let db = Db::open(dir.path(), opts).unwrap();
        // 6 hours at 15 s; timestamps not aligned to the scrape interval.
        for i in 0..(6 * 240) {
            let t = 1_700_000_000_000 + i * 15_000 + (i % 7);
            let mut app = db.appender();
            for s in 0..4 {
                let l = Labels::from_pairs([
                    ("__name__", "ember_interop".to_string()),
                    ("series", s.to_string()),
                    ("job", "x\"y".to_string()),
                ]);
                let v = value(i, s);
                app.append(None, &l, t, v).unwrap();
                want.insert((s, t, v.to_bits()));
            }
            app.commit().unwrap();
        }
        assert!(db.compact().unwrap() >= 3);
    }
    let blocks: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("meta.json").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(blocks.len() >= 3);
    for b in &blocks {
        let out = Command::new(promtool)
            .args(["tsdb", "analyze"])
            .arg(dir.path())
            .arg(b)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool tsdb analyze {b}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("\nSeries: 4\n"), "{text}");
    }

    // dump reads blocks and replays the WAL (head) too.
    let out = Command::new(promtool)
        .args(["tsdb", "dump"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool tsdb dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut got = BTreeSet::new();
    for line in text.lines() {
        // {__name__="ember_interop", job="x\"y", series="2"} 0.5 1700000000000
        let (labels, rest) = line.rsplit_once("} ").expect("labels end");
        let mut parts = rest.split(' ');
        let v: f64 = parts.next().unwrap().parse().unwrap();
        let t: i64 = parts.next().unwrap().parse().unwrap();
        let s: usize = labels.split("series=\"").nth(1).unwrap()[..1]
            .parse()
            .unwrap();
        assert!(labels.contains(r#"job="x\"y""#), "{labels}");
        got.insert((s, t, v.to_bits()));
    }
    let missing: Vec<_> = want.difference(&got).take(5).collect();
    let extra: Vec<_> = got.difference(&want).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    println!(
        "promtool: {} blocks analyzed, {} samples dumped, all equal",
        blocks.len(),
        got.len()
    );
}
