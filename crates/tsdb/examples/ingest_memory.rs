//! Heap bytes per head series while ingesting scraped data, reproducibly and in
//! process: 100 targets x 1,000 counter series (the labels of
//! `bench/targets.py` plus the `instance` and `job` a scrape adds), appended for 40
//! scrapes 5 s apart through a [`Db`] with its WAL and `chunks_head/`, each target
//! through cached series references as the scrape loop appends.
//!
//! A counting allocator reports the live heap when done: the bytes asked for, and
//! the bytes glibc's malloc hands out for them (16-byte granules, 8 bytes of header,
//! 32 at least), each divided by the number of series. Run it under a heap
//! profiler for the breakdown by call site:
//!
//! ```text
//! cargo run --release -p ember-tsdb --example ingest_memory [TARGETS SERIES SCRAPES]
//! valgrind --tool=massif target/release/examples/ingest_memory
//! ```
#![allow(missing_docs)]

use ember_model::Labels;
use ember_storage::{Appendable, SeriesRef};
use ember_tsdb::{Db, DbOptions};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ASKED: AtomicUsize = AtomicUsize::new(0);
static GRANTED: AtomicUsize = AtomicUsize::new(0);

/// What glibc's malloc takes for a request of `n` bytes.
fn granted(n: usize) -> usize {
    ((n + 8 + 15) & !15).max(32)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ASKED.fetch_add(l.size(), Ordering::Relaxed);
        GRANTED.fetch_add(granted(l.size()), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        ASKED.fetch_sub(l.size(), Ordering::Relaxed);
        GRANTED.fetch_sub(granted(l.size()), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        ASKED.fetch_add(new, Ordering::Relaxed);
        ASKED.fetch_sub(l.size(), Ordering::Relaxed);
        GRANTED.fetch_add(granted(new), Ordering::Relaxed);
        GRANTED.fetch_sub(granted(l.size()), Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers"))
        .collect();
    let targets = args.first().copied().unwrap_or(100);
    let per = args.get(1).copied().unwrap_or(1000);
    let scrapes = args.get(2).copied().unwrap_or(40);
    let dir = tempfile::tempdir().unwrap();
    let base = (
        ASKED.load(Ordering::Relaxed),
        GRANTED.load(Ordering::Relaxed),
    );
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    // What each target's scrape cache keeps: the labels and the reference.
    let mut cache: Vec<Vec<(Labels, Option<SeriesRef>)>> = (0..targets)
        .map(|target| {
            let port = 21000 + target;
            (0..per)
                .map(|i| {
                    let l = Labels::from_pairs([
                        ("__name__", "bench_requests_total".to_string()),
                        ("instance", format!("127.0.0.1:{port}")),
                        ("job", "bench".to_string()),
                        ("port", port.to_string()),
                        ("series", i.to_string()),
                        ("shard", (i % 10).to_string()),
                    ]);
                    (l, None)
                })
                .collect()
        })
        .collect();
    let t0 = 1_700_000_000_000i64;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for k in 0..scrapes as i64 {
        for (target, series) in cache.iter_mut().enumerate() {
            // A few milliseconds of jitter, as real scrapes have.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let t = t0 + k * 5000 + (seed % 25) as i64 + target as i64;
            let now = t / 1000;
            let mut app = db.appender();
            for (i, (l, r)) in series.iter_mut().enumerate() {
                let v = (now * (i as i64 % 7 + 1)) as f64;
                *r = Some(app.append(*r, l, t, v).unwrap());
            }
            app.commit().unwrap();
        }
    }
    let n = db.head().num_series();
    let (asked, granted) = (
        ASKED.load(Ordering::Relaxed) - base.0,
        GRANTED.load(Ordering::Relaxed) - base.1,
    );
    println!(
        "series={n} scrapes={scrapes} heap_asked={asked} heap_malloc={granted} \
         asked_per_series={:.0} malloc_per_series={:.0}",
        asked as f64 / n as f64,
        granted as f64 / n as f64
    );
    drop(cache);
    drop(db);
}
