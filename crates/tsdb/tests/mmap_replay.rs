//! Restarting from `chunks_head/`: the head takes the full chunks the previous run
//! wrote and replays from the WAL only the samples after each series' last chunk.
//! The oracle is the same directory opened without `chunks_head/` (a copy with it
//! deleted), which rebuilds everything from the WAL: every sample, and every head
//! chunk byte for byte, must be the same, before and after more appends and
//! compaction. Damaged chunk files must lose nothing the WAL acknowledged.

use ember_model::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};
use ember_model::{Labels, MatchType, Matcher};
use ember_storage::{Appendable, HistogramRef, Queryable, ValueType};
use ember_tsdb::head_chunks::HeadChunkFiles;
use ember_tsdb::{Db, DbOptions, HeadOptions};
use std::path::Path;

const STEP: i64 = 15_000;
const MINUTE: i64 = 60_000;

fn opts() -> DbOptions {
    DbOptions {
        head: HeadOptions {
            out_of_order_window: 30 * MINUTE,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn name(n: &str) -> Labels {
    Labels::from_pairs([("__name__", n.to_string()), ("job", "mmap".to_string())])
}

fn span(offset: i32, length: u32) -> Span {
    Span { offset, length }
}

/// A counter histogram that resets every 300 steps (so some chunks start with a
/// reset and the counter-reset headers differ).
fn hist(i: i64) -> Histogram {
    let k = i % 300;
    Histogram {
        count: 12 + (k * 9) as u64,
        zero_count: 2 + k as u64,
        zero_threshold: 0.001,
        sum: 18.4 * (k + 1) as f64,
        schema: 1,
        positive_spans: vec![span(0, 2), span(1, 2)],
        positive_buckets: vec![k + 1, 1, -1, 0],
        negative_spans: vec![span(0, 2), span(1, 2)],
        negative_buckets: vec![k + 1, 1, -1, 0],
        ..Default::default()
    }
}

fn fhist(i: i64) -> FloatHistogram {
    let f = (i % 250) as f64;
    FloatHistogram {
        counter_reset_hint: CounterResetHint::Unknown,
        count: 12.0 + f * 9.0,
        zero_count: 2.0 + f,
        zero_threshold: 0.001,
        sum: 18.4 * (f + 1.0),
        schema: 1,
        positive_spans: vec![span(0, 2), span(1, 2)],
        positive_buckets: vec![f + 1.0, f + 2.0, f + 1.0, f + 1.0],
        negative_spans: vec![span(0, 2), span(1, 2)],
        negative_buckets: vec![f + 1.0, f + 2.0, f + 1.0, f + 1.0],
        ..Default::default()
    }
}

/// Steps `from..to` (15 s apart) of floats, integer and float histograms, a series
/// that changes kind and goes stale now and then, and out-of-order floats.
fn write(db: &Db, from: i64, to: i64) {
    for i in from..to {
        let t = i * STEP;
        let mut app = db.appender();
        for s in 0..4 {
            let v = (i as f64 * 0.37 + s as f64).sin() * 100.0;
            app.append(None, &name(&format!("float_{s}")), t, v)
                .unwrap();
        }
        app.append(None, &name("counter"), t, (i * 3) as f64)
            .unwrap();
        let h = hist(i);
        app.append_histogram(None, &name("hist"), t, HistogramRef::Int(&h))
            .unwrap();
        let f = fhist(i);
        app.append_histogram(None, &name("fhist"), t, HistogramRef::Float(&f))
            .unwrap();
        let m = name("mixed");
        if i % 211 == 210 {
            app.append(None, &m, t, ember_model::value::stale_nan())
                .unwrap();
        } else {
            match (i / 150) % 3 {
                0 => app.append(None, &m, t, i as f64),
                1 => app.append_histogram(None, &m, t, HistogramRef::Int(&h)),
                _ => app.append_histogram(None, &m, t, HistogramRef::Float(&h.to_float())),
            }
            .unwrap();
        }
        app.commit().unwrap();
        if i % 40 == 39 {
            // Five minutes back, between two in-order samples: out of order.
            let mut app = db.appender();
            app.append(None, &name("float_0"), t - 5 * MINUTE + 7, -1.0)
                .unwrap();
            app.commit().unwrap();
        }
    }
}

/// Every sample of every series, in a comparable form.
fn dump(db: &Db) -> Vec<String> {
    let q = db.querier(i64::MIN, i64::MAX).unwrap();
    let m = Matcher::new(MatchType::Equal, "job", "mmap").unwrap();
    let mut out = Vec::new();
    for s in q.select(true, None, &[m]) {
        let s = s.unwrap();
        let mut it = s.iter();
        loop {
            let line = match it.next() {
                ValueType::Float => {
                    let (t, v) = it.at();
                    format!("{t} {:#x}", v.to_bits())
                }
                // The hint is left out (see `same_chunks`).
                ValueType::Histogram => {
                    let mut h = Histogram::default();
                    let t = it.at_histogram(&mut h);
                    h.counter_reset_hint = CounterResetHint::Unknown;
                    format!("{t} {h:?}")
                }
                ValueType::FloatHistogram => {
                    let mut h = FloatHistogram::default();
                    let t = it.at_float_histogram(&mut h);
                    h.counter_reset_hint = CounterResetHint::Unknown;
                    format!("{t} {h:?}")
                }
                ValueType::None => break,
            };
            out.push(format!("{} {line}", s.labels()));
        }
        assert!(it.err().is_none(), "{:?}", it.err());
    }
    out
}

type Chunk = (i64, i64, u8, Vec<u8>);

/// The head's in-order chunks, with their bytes.
fn head_chunks(db: &Db) -> Vec<(String, Vec<Chunk>)> {
    db.head()
        .block_series(i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|(l, cs)| {
            let cs = cs
                .into_iter()
                .map(|c| (c.min_t, c.max_t, c.encoding, c.bytes))
                .collect();
            (l.to_string(), cs)
        })
        .collect()
}

/// Asserts both heads hold the same chunks, naming the first series that differs.
/// Series with histogram chunks are left out: where a histogram chunk was cut by
/// the encoder (a counter reset, a layout change), an uninterrupted head keeps
/// Prometheus's end-time prediction state into the next chunk, which a restart
/// cannot know (nor can Prometheus's), so later chunk boundaries and the
/// counter-reset hints of chunks' first samples may differ; the samples do not.
fn same_chunks(a: &Db, b: &Db) {
    let (ca, cb) = (head_chunks(a), head_chunks(b));
    assert_eq!(ca.len(), cb.len(), "series with chunks");
    for ((la, xa), (lb, xb)) in ca.iter().zip(&cb) {
        assert_eq!(la, lb);
        if xa.iter().chain(xb).any(|c| c.2 != 1) {
            continue;
        }
        let meta = |x: &[Chunk]| -> Vec<(i64, i64, u8, usize)> {
            x.iter().map(|c| (c.0, c.1, c.2, c.3.len())).collect()
        };
        assert_eq!(meta(xa), meta(xb), "{la}");
        for (i, (p, q)) in xa.iter().zip(xb).enumerate() {
            assert!(p.3 == q.3, "{la}: bytes of chunk {i} differ");
        }
    }
}

/// Asserts two dumps are equal, showing the first difference only.
fn same_dump(a: &[String], b: &[String], what: &str) {
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x, y, "{what}");
    }
    assert_eq!(a.len(), b.len(), "{what}: samples");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else if e.file_name() != "lock" {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A copy of `dir` without `chunks_head/`: opening it replays the whole WAL.
fn copy_without_chunks(dir: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir, copy.path());
    std::fs::remove_dir_all(copy.path().join("chunks_head")).unwrap();
    copy
}

fn chunk_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("chunks_head"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Opens `dir` and a chunk-less copy of it, checks both hold the same, and returns
/// them.
fn open_and_compare(dir: &Path) -> (Db, Db, tempfile::TempDir) {
    let copy = copy_without_chunks(dir);
    let a = Db::open(dir, opts()).unwrap();
    let b = Db::open(copy.path(), opts()).unwrap();
    assert_eq!(b.replay_report().mmapped_chunks, 0);
    let da = dump(&a);
    assert!(!da.is_empty());
    same_dump(&da, &dump(&b), "restart");
    same_chunks(&a, &b);
    (a, b, copy)
}

#[test]
fn restart_from_head_chunks_equals_full_wal_replay() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        write(&db, 0, 900);
        // A block of the first two hours, a WAL checkpoint, and the chunk files
        // truncated: the head now starts at 2h.
        assert!(db.compact().unwrap() >= 1);
        write(&db, 900, 1000);
        let m = [
            Matcher::new(MatchType::Equal, "__name__", "float_1").unwrap(),
            Matcher::new(MatchType::Equal, "job", "mmap").unwrap(),
        ];
        db.delete(600 * STEP, 700 * STEP, &m).unwrap();
        db.delete(950 * STEP, 960 * STEP, &m).unwrap();
        write(&db, 1000, 1037);
    }
    let (a, b, _copy) = open_and_compare(dir.path());
    // Every in-order sample is there: blocks of out-of-order samples reach past
    // the head's start and must not move it.
    let n = dump(&a)
        .iter()
        .filter(|l| l.starts_with("{__name__=\"float_2\""))
        .count();
    assert_eq!(n, 1037);
    let rep = a.replay_report();
    assert!(rep.mmapped_chunks >= 20, "{rep:?}");
    assert!(rep.chunks_corruption.is_none(), "{rep:?}");
    assert!(rep.out_of_order_samples > 0, "{rep:?}");
    // Both continue alike: a repeat of the newest sample is accepted as a no-op,
    // a different value at that time is refused, and new samples go on.
    for db in [&a, &b] {
        let last = 1036 * STEP;
        let v = (1036.0f64 * 0.37 + 2.0).sin() * 100.0;
        let mut app = db.appender();
        app.append(None, &name("float_2"), last, v).unwrap();
        app.commit().unwrap();
        let mut app = db.appender();
        assert!(app.append(None, &name("float_2"), last, v + 1.0).is_err());
        let h = hist(1036);
        app.append_histogram(None, &name("hist"), last, HistogramRef::Int(&h))
            .unwrap();
        app.rollback().unwrap();
        write(db, 1037, 1500);
    }
    same_dump(&dump(&a), &dump(&b), "after appends");
    same_chunks(&a, &b);
    // Compaction cuts the same blocks from loaded chunks as from rebuilt ones.
    assert!(a.compact().unwrap() >= 1);
    assert!(b.compact().unwrap() >= 1);
    same_dump(&dump(&a), &dump(&b), "after compaction");
    same_chunks(&a, &b);
    drop(b);
    drop(a);
    // A second restart reads the files of both runs.
    let files = chunk_files(dir.path());
    assert!(files.len() >= 2, "{files:?}");
    let (a, _b, _copy) = open_and_compare(dir.path());
    assert!(a.replay_report().mmapped_chunks > 0);
    assert!(a.replay_report().chunks_corruption.is_none());
}

/// Three runs, so that `chunks_head/` holds three files.
fn three_runs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (from, to) in [(0, 400), (400, 800), (800, 1100)] {
        let db = Db::open(dir.path(), opts()).unwrap();
        write(&db, from, to);
    }
    assert_eq!(
        chunk_files(dir.path()),
        ["000001", "000002", "000003"],
        "one file per run"
    );
    dir
}

fn damage(dir: &Path, file: &str, f: impl FnOnce(&mut Vec<u8>)) {
    let p = dir.join("chunks_head").join(file);
    let mut b = std::fs::read(&p).unwrap();
    f(&mut b);
    std::fs::write(&p, b).unwrap();
}

#[test]
fn damaged_chunk_files_lose_nothing_the_wal_has() {
    let base = three_runs();
    let expected = {
        let copy = copy_without_chunks(base.path());
        dump(&Db::open(copy.path(), opts()).unwrap())
    };
    type Damage = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<(&str, &str, Damage, bool)> = vec![
        // A torn tail: the file is cut in the middle of a chunk.
        (
            "000002",
            "truncated",
            Box::new(|b| b.truncate(b.len() * 2 / 3)),
            true,
        ),
        // A flipped byte in a chunk of the first file: every file goes.
        ("000001", "flipped", Box::new(|b| b[300] ^= 0x5a), true),
        // A bad magic number in the last file.
        ("000003", "magic", Box::new(|b| b[1] ^= 0xff), true),
        // Garbage after the last chunk.
        (
            "000003",
            "garbage",
            Box::new(|b| b.extend_from_slice(&[0xab; 100])),
            true,
        ),
        // Zero padding after the last chunk is where the data ends, as in
        // Prometheus's preallocated files: not damage.
        (
            "000003",
            "zeros",
            Box::new(|b| b.extend_from_slice(&[0; 100])),
            false,
        ),
    ];
    for (file, what, f, corrupt) in cases {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(base.path(), dir.path());
        damage(dir.path(), file, f);
        {
            let db = Db::open(dir.path(), opts()).unwrap();
            let rep = db.replay_report();
            assert_eq!(rep.chunks_corruption.is_some(), corrupt, "{what}: {rep:?}");
            same_dump(&dump(&db), &expected, what);
        }
        // The files rewritten by the replay serve the next start.
        let db = Db::open(dir.path(), opts()).unwrap();
        assert!(db.replay_report().chunks_corruption.is_none(), "{what}");
        same_dump(&dump(&db), &expected, &format!("{what} (second start)"));
    }
}

#[test]
fn foreign_chunks_are_ignored() {
    let base = three_runs();
    let expected = dump(&Db::open(base.path(), opts()).unwrap());
    // A file after the others with a chunk of a series the WAL never defined,
    // and an out-of-order chunk (Prometheus's 0x80 flag) of an existing series
    // over the head's time range.
    let scratch = tempfile::tempdir().unwrap();
    {
        let mut f = HeadChunkFiles::create(scratch.path()).unwrap();
        let mut c = ember_chunkenc::xor::XorChunk::new();
        for i in 0..10 {
            c.append(100 * STEP + i * 1000 + 3, 42.0);
        }
        f.write(999_999, 100 * STEP + 3, 100 * STEP + 9003, 1, c.bytes())
            .unwrap();
        f.write(1, 100 * STEP + 3, 100 * STEP + 9003, 0x81, c.bytes())
            .unwrap();
    }
    std::fs::copy(
        scratch.path().join("000001"),
        base.path().join("chunks_head").join("000005"),
    )
    .unwrap();
    // Out of sequence with the others (a gap): dropped as damage.
    {
        let db = Db::open(base.path(), opts()).unwrap();
        assert!(db.replay_report().chunks_corruption.is_some());
        same_dump(&dump(&db), &expected, "gap");
    }
    let files = chunk_files(base.path());
    let next = format!("{:06}", files.len() + 1);
    std::fs::copy(
        scratch.path().join("000001"),
        base.path().join("chunks_head").join(&next),
    )
    .unwrap();
    let db = Db::open(base.path(), opts()).unwrap();
    assert!(db.replay_report().chunks_corruption.is_none());
    same_dump(&dump(&db), &expected, "foreign");
    // New series are numbered after every reference in the files.
    let mut app = db.appender();
    let r = app.append(None, &name("new"), 2000 * STEP, 1.0).unwrap();
    app.commit().unwrap();
    assert!(r > 999_999, "{r}");
}
