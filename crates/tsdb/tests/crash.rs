//! Crash safety: a child process appends through the public path and reports every
//! acknowledged commit; the parent kills it with SIGKILL at arbitrary moments,
//! reopens the database and checks that every acknowledged sample is there.

use ember_model::{Labels, MatchType, Matcher};
use ember_storage::{Appendable, Queryable, ValueType};
use ember_tsdb::{Db, DbOptions};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const SERIES: usize = 10;

fn labels(s: usize) -> Labels {
    Labels::from_pairs([("__name__", "crash_test".to_string()), ("s", s.to_string())])
}

/// Child side: opens the DB, continues after the last stored sample, and prints
/// `ack N` after each commit returns.
#[test]
#[ignore = "run by crash_safety_under_sigkill in a child process"]
fn crash_child() {
    let Ok(dir) = std::env::var("EMBER_CRASH_DIR") else {
        return;
    };
    let db = Db::open(std::path::Path::new(&dir), DbOptions::default()).unwrap();
    let start = last_timestamp(&db).map_or(0, |t| t + 1);
    let mut out = std::io::stdout().lock();
    for i in start.. {
        let mut app = db.appender();
        for s in 0..SERIES {
            app.append(None, &labels(s), i, i as f64).unwrap();
        }
        app.commit().unwrap();
        writeln!(out, "ack {i}").unwrap();
        out.flush().unwrap();
    }
}

fn last_timestamp(db: &Db) -> Option<i64> {
    timestamps(db, 0).last().copied()
}

fn timestamps(db: &Db, series: usize) -> Vec<i64> {
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let m = Matcher::new(MatchType::Equal, "s", series.to_string()).unwrap();
    let mut v = Vec::new();
    for s in q.select(false, None, &[m]) {
        let s = s.unwrap();
        let mut it = s.iter();
        while it.next() == ValueType::Float {
            let (t, x) = it.at();
            assert_eq!(t as f64, x);
            v.push(t);
        }
    }
    v
}

#[test]
fn crash_safety_under_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acked: i64 = -1;
    let rounds = 12;
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("EMBER_CRASH_DIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        // Vary the kill point: after a different number of acknowledgements each round.
        let kill_after = 20 + (round * 37) % 150;
        let mut seen = 0;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("ack ") {
                acked = acked.max(n.parse().unwrap());
                seen += 1;
                if seen >= kill_after {
                    break;
                }
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        for s in 0..SERIES {
            let ts = timestamps(&db, s);
            assert!(
                ts.len() as i64 > acked,
                "round {round}, series {s}: {} samples, {} acknowledged",
                ts.len(),
                acked + 1
            );
            for (i, t) in ts.iter().take((acked + 1) as usize).enumerate() {
                assert_eq!(*t, i as i64, "round {round}: sample {i} of series {s}");
            }
        }
    }
    assert!(acked > 500, "the child made progress: {acked}");
    println!(
        "{rounds} SIGKILLs, {} acknowledged commits, all found after restart",
        acked + 1
    );
}
