//! A full disk: the data directory lives on a small tmpfs that a filler file fills.
//! Appends must then fail with an error (no panic), the WAL must stay well-formed,
//! appends must succeed again once space returns, and a restart must find every
//! acknowledged sample and nothing the WAL reader has to repair. Compaction on the
//! full disk fails cleanly too, leaving no half-written block behind.
//!
//! Mounting needs root with `CAP_SYS_ADMIN` (the development machines and CI have
//! it); without, the test says it was skipped.

use ember_model::{Labels, MatchType, Matcher};
use ember_storage::{Appendable, Queryable, ValueType};
use ember_tsdb::{Db, DbOptions, HeadOptions};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const SERIES: usize = 50;

struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn mount_tmpfs(at: &Path, size: &str) -> Option<Mount> {
    std::fs::create_dir_all(at).ok()?;
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(at)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        // Not a missing tool but a missing privilege (a container without
        // CAP_SYS_ADMIN): say so rather than fail the run.
        println!("skipped: cannot mount a tmpfs (needs root and CAP_SYS_ADMIN)");
        return None;
    }
    Some(Mount(at.to_path_buf()))
}

fn labels(s: usize) -> Labels {
    Labels::from_pairs([
        ("__name__", "disk_test".to_string()),
        ("s", format!("{s:04}")),
    ])
}

/// One commit of a sample at `t` for every series.
fn commit(db: &Db, t: i64) -> Result<(), ember_storage::Error> {
    let mut app = db.appender();
    for s in 0..SERIES {
        // Distinct values so that the XOR chunks grow with every sample.
        app.append(None, &labels(s), t, (t as f64).sqrt() * (s + 1) as f64)?;
    }
    app.commit()
}

/// Timestamps stored for each series (they must agree across series).
fn stored(db: &Db) -> BTreeSet<i64> {
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let m = Matcher::new(MatchType::Equal, "__name__", "disk_test").unwrap();
    let mut per_series = Vec::new();
    for s in q.select(true, None, &[m]) {
        let s = s.unwrap();
        let mut it = s.iter();
        let mut ts = BTreeSet::new();
        while it.next() == ValueType::Float {
            ts.insert(it.at().0);
        }
        per_series.push(ts);
    }
    assert_eq!(per_series.len(), SERIES);
    assert!(
        per_series.windows(2).all(|w| w[0] == w[1]),
        "series disagree"
    );
    per_series.pop().unwrap_or_default()
}

/// Fills the file system at `dir` up to `keep` free bytes with one file.
fn fill(dir: &Path, keep: u64) -> PathBuf {
    let f = dir.join("filler");
    let mut data = Vec::new();
    let free = free_bytes(dir);
    data.resize(free.saturating_sub(keep) as usize, 7u8);
    let _ = std::fs::write(&f, &data);
    f
}

fn free_bytes(dir: &Path) -> u64 {
    let out = Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap()
}

#[test]
fn appends_fail_cleanly_on_a_full_disk_and_recover() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(m) = mount_tmpfs(&tmp.path().join("mnt"), "16m") else {
        return;
    };
    let data = m.0.join("data");
    let opts = || DbOptions {
        head: HeadOptions {
            chunk_range: 60_000,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut acked = BTreeSet::new();
    let mut failed = BTreeSet::new();
    let mut t = 0i64;
    {
        let db = Db::open(&data, opts()).unwrap();
        for _ in 0..20 {
            commit(&db, t).unwrap();
            acked.insert(t);
            t += 1000;
        }
        let filler = fill(&m.0, 64 * 1024);
        // Append until the disk refuses, then a few more times: errors, never a panic.
        let mut refusals = 0;
        while refusals < 5 {
            match commit(&db, t) {
                Ok(()) => {
                    acked.insert(t);
                }
                Err(e) => {
                    assert!(e.to_string().contains("WAL"), "{e}");
                    failed.insert(t);
                    refusals += 1;
                }
            }
            t += 1000;
            assert!(t < 100_000_000, "the disk never filled");
        }
        // Queries still answer, with exactly the acknowledged samples.
        assert_eq!(stored(&db), acked);
        // Compaction on the full disk fails (or has nothing to do) without leaving
        // a partial block.
        let _ = db.compact();
        let leftovers: Vec<_> = std::fs::read_dir(&data)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        // Space returns: appends go on.
        std::fs::remove_file(filler).unwrap();
        for _ in 0..20 {
            commit(&db, t).unwrap();
            acked.insert(t);
            t += 1000;
        }
        assert_eq!(stored(&db), acked);
    }
    let db = Db::open(&data, opts()).unwrap();
    let rep = db.replay_report();
    assert!(
        rep.repaired.is_none(),
        "the WAL needed repair: {:?}",
        rep.repaired
    );
    assert!(rep.bad_blocks.is_empty(), "{:?}", rep.bad_blocks);
    let got = stored(&db);
    let lost: Vec<_> = acked.difference(&got).take(5).collect();
    assert!(lost.is_empty(), "acknowledged samples lost: {lost:?}");
    let extra: Vec<_> = got.difference(&acked).take(5).collect();
    assert!(extra.is_empty(), "refused samples came back: {extra:?}");
    assert!(!failed.is_empty());
}
