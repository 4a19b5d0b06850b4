//! Exposition throughput on Prometheus's own test expositions: the pull parser (as the
//! scrape loop drives it), label-set building, collecting into families, and the
//! writers. Each is reported in bytes/s and in samples/s.

// criterion_group! generates undocumented public functions.
#![allow(missing_docs)]
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ember_exposition::{Entry, Format, Parser, parse, write};

fn testdata_dir() -> PathBuf {
    let base = std::env::var_os("EMBER_TESTDATA").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"),
        PathBuf::from,
    );
    base.join("prometheus/model/textparse/testdata")
}

const FILES: [(&str, Format); 3] = [
    ("alltypes.237mfs.prom.txt", Format::Text),
    ("alltypes.5mfs.om.txt", Format::OpenMetrics),
    ("1histogram.om.txt", Format::OpenMetrics),
];

/// Walks every entry without building anything: the parser alone.
fn pull(input: &[u8], format: Format) -> usize {
    let mut p = Parser::new(input, format);
    let mut n = 0;
    while let Some(e) = p.next_entry().expect("bench input parses") {
        if let Entry::Series(s) = e {
            black_box(s.value);
            n += 1;
        }
    }
    n
}

/// What a scrape does per sample: parse and build the label set to store.
fn pull_with_labels(input: &[u8], format: Format) -> usize {
    let mut p = Parser::new(input, format);
    let mut n = 0;
    while let Some(e) = p.next_entry().expect("bench input parses") {
        if let Entry::Series(s) = e {
            black_box(s.to_labels().expect("unique label names"));
            n += 1;
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    let dir = testdata_dir();
    let mut inputs = Vec::new();
    for (name, format) in FILES {
        match std::fs::read(dir.join(name)) {
            Ok(bytes) => inputs.push((name, format, bytes)),
            Err(_) => println!("skipping {name}: not found in {}", dir.display()),
        }
    }
    if inputs.is_empty() {
        return;
    }

    for (unit, per_sample) in [("bytes", false), ("samples", true)] {
        let mut g = c.benchmark_group(format!("parse_{unit}"));
        for (name, format, bytes) in &inputs {
            let samples = pull(bytes, *format) as u64;
            g.throughput(if per_sample {
                Throughput::Elements(samples)
            } else {
                Throughput::Bytes(bytes.len() as u64)
            });
            g.bench_with_input(BenchmarkId::new("pull", name), bytes, |b, bytes| {
                b.iter(|| pull(black_box(bytes), *format));
            });
            g.bench_with_input(BenchmarkId::new("pull+labels", name), bytes, |b, bytes| {
                b.iter(|| pull_with_labels(black_box(bytes), *format));
            });
            g.bench_with_input(BenchmarkId::new("families", name), bytes, |b, bytes| {
                b.iter(|| parse(black_box(bytes), *format).expect("parses"));
            });
        }
        g.finish();
    }

    let mut g = c.benchmark_group("write");
    for (name, format, bytes) in &inputs {
        let fams = parse(bytes, *format).expect("parses");
        let mut out = Vec::with_capacity(bytes.len() * 2);
        write(&mut out, &fams, *format);
        g.throughput(Throughput::Bytes(out.len() as u64));
        g.bench_with_input(BenchmarkId::new("same_format", name), &fams, |b, fams| {
            b.iter(|| {
                out.clear();
                write(&mut out, black_box(fams), *format);
                out.len()
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
