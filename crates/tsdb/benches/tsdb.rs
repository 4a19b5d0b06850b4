//! Micro benchmarks of the TSDB's hot paths: appending a scrape's worth of samples
//! (cached series references, as the scrape loop does) with and without the WAL,
//! selecting series by an equality and by a regex matcher over 100,000 series,
//! reading a series' samples back, replaying a WAL at start-up, and a restart
//! that finds full head chunks in `chunks_head/` beside the WAL.
//!
//! `cargo bench -p ember-tsdb --bench tsdb [-- FILTER]`. The macro comparison with
//! Prometheus (throughput per CPU-second, memory per series, bytes per sample,
//! replay time) is `bench/ingest_vs_prometheus.sh`.
#![allow(missing_docs)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ember_model::{Labels, MatchType, Matcher};
use ember_storage::{Appendable, Queryable, SeriesRef, ValueType};
use ember_tsdb::{Db, DbOptions, Head, HeadOptions};

const TARGETS: usize = 100;
const PER_TARGET: usize = 1000;

fn labels(target: usize, i: usize) -> Labels {
    Labels::from_pairs([
        ("__name__", format!("metric_{}", i % 100)),
        ("instance", format!("host-{target:03}:9100")),
        ("job", "node".to_string()),
        ("series", i.to_string()),
    ])
}

/// Appends one sample at `t` to every series of `target`, through cached refs.
fn scrape(app_src: &dyn Appendable, refs: &mut [Option<SeriesRef>], target: usize, t: i64) {
    let mut app = app_src.appender();
    for (i, r) in refs.iter_mut().enumerate() {
        let l = labels(target, i);
        *r = Some(app.append(*r, &l, t, (t as f64).sin() * i as f64).unwrap());
    }
    app.commit().unwrap();
}

fn append(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements((TARGETS * PER_TARGET) as u64));
    g.sample_size(10);
    let head = Head::new(HeadOptions::default());
    let mut refs = vec![vec![None; PER_TARGET]; TARGETS];
    let mut t = 0i64;
    g.bench_function("head_100k_series_no_wal", |b| {
        b.iter(|| {
            t += 15_000;
            for (target, r) in refs.iter_mut().enumerate() {
                scrape(&head, r, target, t);
            }
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    let mut refs = vec![vec![None; PER_TARGET]; TARGETS];
    let mut t = 0i64;
    g.bench_function("db_100k_series_with_wal", |b| {
        b.iter(|| {
            t += 15_000;
            for (target, r) in refs.iter_mut().enumerate() {
                scrape(&db, r, target, t);
            }
        })
    });
    g.finish();
}

fn filled_head() -> Head {
    let head = Head::new(HeadOptions::default());
    let mut refs = vec![vec![None; PER_TARGET]; TARGETS];
    for step in 0..240 {
        for (target, r) in refs.iter_mut().enumerate() {
            scrape(&head, r, target, step * 15_000);
        }
    }
    head
}

fn select(c: &mut Criterion) {
    let head = filled_head();
    let mut g = c.benchmark_group("select");
    let q = head.querier(0, i64::MAX).unwrap();
    let cases = [
        (
            "equal_name_1k_series",
            Matcher::new(MatchType::Equal, "__name__", "metric_7").unwrap(),
        ),
        (
            "regex_10_instances_10k_series",
            Matcher::new(MatchType::RegexMatch, "instance", "host-00[0-9]:9100").unwrap(),
        ),
        (
            "regex_alternation",
            Matcher::new(MatchType::RegexMatch, "series", "1|22|333|444").unwrap(),
        ),
    ];
    for (name, m) in cases {
        g.bench_function(name, |b| {
            b.iter(|| q.select(false, None, std::slice::from_ref(&m)).count())
        });
    }
    // Reading 2 h of 1,000 series back (240 samples each).
    let m = Matcher::new(MatchType::Equal, "__name__", "metric_7").unwrap();
    g.throughput(Throughput::Elements(1000 * 240));
    g.bench_function("read_1k_series_2h", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for s in q.select(false, None, std::slice::from_ref(&m)) {
                let s = s.unwrap();
                let mut it = s.iter();
                while it.next() == ValueType::Float {
                    n += 1;
                }
            }
            n
        })
    });
    g.finish();
}

fn replay(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        let mut refs = vec![vec![None; PER_TARGET]; TARGETS / 10];
        for step in 0..120 {
            for (target, r) in refs.iter_mut().enumerate() {
                scrape(&db, r, target, step * 15_000);
            }
        }
    }
    let mut g = c.benchmark_group("replay");
    g.sample_size(10);
    g.throughput(Throughput::Elements(
        (TARGETS / 10 * PER_TARGET * 120) as u64,
    ));
    g.bench_function("wal_10k_series_120_samples", |b| {
        b.iter_batched(
            || {
                // A copy per run: opening starts a new segment in the directory.
                let copy = tempfile::tempdir().unwrap();
                let wal = copy.path().join("wal");
                std::fs::create_dir_all(&wal).unwrap();
                for e in std::fs::read_dir(dir.path().join("wal")).unwrap().flatten() {
                    if e.path().is_file() {
                        std::fs::copy(e.path(), wal.join(e.file_name())).unwrap();
                    }
                }
                copy
            },
            |copy| {
                let db = Db::open(copy.path(), DbOptions::default()).unwrap();
                assert!(db.replay_report().samples > 0);
                (db, copy)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// Copies the files of `from` (one level of sub-directories) into `to`.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else if e.file_name() != "lock" {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A restart after two hours of 15 s scrapes: the head holds three full chunks
/// per series in `chunks_head/` and an open one only in the WAL, so this measures
/// what loading the m-mapped chunks saves over decoding every WAL sample.
fn restart(c: &mut Criterion) {
    const STEPS: i64 = 480;
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        let mut refs = vec![vec![None; PER_TARGET]; TARGETS / 10];
        for step in 0..STEPS {
            for (target, r) in refs.iter_mut().enumerate() {
                scrape(&db, r, target, step * 15_000);
            }
        }
    }
    let mut g = c.benchmark_group("replay");
    g.sample_size(10);
    g.throughput(Throughput::Elements(
        (TARGETS / 10 * PER_TARGET) as u64 * STEPS as u64,
    ));
    // Without `chunks_head/` the same directory replays every WAL sample (and
    // writes the chunks again): the start-up Ember had before it loaded them.
    for (case, keep_chunks) in [
        ("restart_10k_series_480_samples", true),
        ("restart_10k_series_480_samples_wal_only", false),
    ] {
        g.bench_function(case, |b| {
            b.iter_batched(
                || {
                    // A copy per run: opening starts a new WAL segment and chunk file.
                    let copy = tempfile::tempdir().unwrap();
                    copy_dir(dir.path(), copy.path());
                    if !keep_chunks {
                        std::fs::remove_dir_all(copy.path().join("chunks_head")).unwrap();
                    }
                    copy
                },
                |copy| {
                    let db = Db::open(copy.path(), DbOptions::default()).unwrap();
                    assert_eq!(db.replay_report().mmapped_chunks > 0, keep_chunks);
                    (db, copy)
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, append, select, replay, restart);
criterion_main!(benches);
