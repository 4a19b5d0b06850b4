//! The queries of `bench/promql_bench.py` over data shaped like
//! `bench/gen_openmetrics.py` (10,000 series x 2 h at 15 s, classic histograms),
//! held in memory so that only the engine is measured: instant queries at the end
//! of the data and 1-hour range queries at a 15 s step.
//!
//! `cargo bench -p ember-promql --bench queries [-- FILTER]`; with `EMBER_BENCH_ONCE=1`
//! each query runs N times and
//! the median is printed (quick, and fit for profilers).
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use ember_model::histogram::FloatHistogram;
use ember_model::{Labels, Matcher};
use ember_promql::{Engine, EngineOptions};
use ember_storage::list::{ListIterator, ListSeries, Value, matches_all};
use ember_storage::{
    BoxSeries, Error, LabelHints, LabelQuerier, Querier, Queryable, SampleIterator, SelectHints,
    Series, SeriesSet,
};

const QUERIES: &[&str] = &[
    "sum(rate(http_requests_total[5m]))",
    "sum by (code) (rate(http_requests_total[5m]))",
    r#"sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))"#,
    "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
    "histogram_quantile(0.9, sum by (le, instance) (rate(http_request_duration_seconds_bucket[5m])))",
    "topk(5, sum by (instance) (rate(http_requests_total[5m])))",
    "avg(memory_bytes)",
    "max_over_time(memory_bytes[10m])",
    r#"sum by (instance) (rate(http_requests_total{code="500"}[5m])) / sum by (instance) (rate(http_requests_total[5m]))"#,
    "count by (mode) (node_cpu_seconds_total)",
    "sum(rate(http_request_duration_seconds_sum[5m])) / sum(rate(http_request_duration_seconds_count[5m]))",
    "quantile(0.95, memory_bytes)",
];

const START: i64 = 1_700_000_000_000;
const STEPS: i64 = 2 * 3600 / 15;

/// Series in memory, handed out without copying.
struct Store {
    series: Vec<ListSeries>,
    /// Series indices by metric name, standing in for the TSDB's postings.
    by_name: std::collections::HashMap<String, Vec<usize>>,
}

struct Q<'a>(&'a Store);
struct S<'a>(&'a ListSeries);

impl Series for S<'_> {
    fn labels(&self) -> &Labels {
        &self.0.labels
    }
    fn iter(&self) -> Box<dyn SampleIterator + '_> {
        Box::new(ListIterator::new(&self.0.samples))
    }
}

impl LabelQuerier for Q<'_> {
    fn label_values(&self, _: &str, _: &LabelHints, _: &[Matcher]) -> Result<Vec<String>, Error> {
        Ok(Vec::new())
    }
    fn label_names(&self, _: &LabelHints, _: &[Matcher]) -> Result<Vec<String>, Error> {
        Ok(Vec::new())
    }
}

impl Querier for Q<'_> {
    fn select(&self, _: bool, _: Option<&SelectHints>, m: &[Matcher]) -> SeriesSet<'_> {
        let name = m
            .iter()
            .find(|m| m.name == "__name__" && m.kind == ember_model::MatchType::Equal)
            .map(|m| m.value.clone());
        let ids = name.and_then(|n| self.0.by_name.get(&n));
        let m = m.to_vec();
        let store = self.0;
        SeriesSet::new(
            ids.into_iter()
                .flatten()
                .map(move |&i| &store.series[i])
                .filter(move |s| matches_all(&s.labels, &m))
                .map(|s| Ok(Box::new(S(s)) as BoxSeries<'_>)),
        )
    }
}

impl Queryable for Store {
    fn querier(&self, _: i64, _: i64) -> Result<Box<dyn Querier + '_>, Error> {
        Ok(Box::new(Q(self)))
    }
}

/// A small deterministic generator (xorshift), standing in for Python's `random`.
struct Rng(u64);
impl Rng {
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + (hi - lo) * ((self.0 >> 11) as f64 / (1u64 << 53) as f64)
    }
}

fn data() -> Store {
    let mut rng = Rng(42);
    let mut series = Vec::new();
    let mut family = |name: &str, labels: Vec<(String, String)>, v: &dyn Fn(i64) -> f64| {
        let mut l = labels;
        l.push(("__name__".into(), name.into()));
        let samples = (0..STEPS)
            .map(|i| (START + i * 15_000, Value::Float(v(i))))
            .collect();
        series.push(ListSeries {
            labels: Labels::from_pairs(l),
            samples,
        });
    };
    let s = |x: &str| x.to_string();
    for inst in 0..100 {
        for m in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            for code in ["200", "404", "500", "503"] {
                let r = rng.uniform(0.1, 20.0);
                let l = vec![
                    (s("job"), s("api")),
                    (s("instance"), format!("i{inst}")),
                    (s("method"), s(m)),
                    (s("code"), s(code)),
                ];
                family("http_requests_total", l, &|i| (r * (i * 15) as f64).trunc());
            }
        }
    }
    for inst in 0..100 {
        for c in 0..8 {
            for m in ["idle", "user", "system", "iowait"] {
                let r = rng.uniform(0.01, 1.0);
                let l = vec![
                    (s("job"), s("node")),
                    (s("instance"), format!("i{inst}")),
                    (s("cpu"), c.to_string()),
                    (s("mode"), s(m)),
                ];
                family("node_cpu_seconds_total", l, &|i| {
                    (r * (i * 15) as f64 * 1000.0).round() / 1000.0
                });
            }
        }
    }
    let les = [
        "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
    ];
    for inst in 0..100 {
        let rate = rng.uniform(1.0, 50.0);
        let mut shares: Vec<f64> = (0..9).map(|_| rng.uniform(0.0, 1.0)).collect();
        shares.sort_by(|a, b| a.total_cmp(b));
        shares.push(1.0);
        let base = vec![(s("job"), s("api")), (s("instance"), format!("i{inst}"))];
        let total = move |i: i64| (rate * (i * 15) as f64).trunc();
        for (le, sh) in les.iter().zip(shares) {
            let mut l = base.clone();
            l.push((s("le"), s(le)));
            family("http_request_duration_seconds_bucket", l, &|i| {
                (total(i) * sh).trunc()
            });
        }
        family("http_request_duration_seconds_sum", base.clone(), &|i| {
            (total(i) * 0.123 * 1000.0).round() / 1000.0
        });
        family("http_request_duration_seconds_count", base, &total);
    }
    for inst in 0..100 {
        for k in 0..36 {
            let r = rng.uniform(1e6, 1e9);
            let l = vec![
                (s("job"), s("node")),
                (s("instance"), format!("i{inst}")),
                (s("kind"), format!("k{k}")),
            ];
            family("memory_bytes", l, &|i| (r + (i % 40) as f64 * 1e5).trunc());
        }
    }
    let _ = FloatHistogram::default;
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    let mut by_name: std::collections::HashMap<String, Vec<usize>> = Default::default();
    for (i, s) in series.iter().enumerate() {
        by_name
            .entry(s.labels.metric_name().to_string())
            .or_default()
            .push(i);
    }
    Store { series, by_name }
}

fn bench(c: &mut Criterion) {
    let store = data();
    let engine = Engine::new(EngineOptions::default());
    let end = START + 2 * 3600 * 1000 - 22_000;
    let once: usize = std::env::var("EMBER_BENCH_ONCE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    for (i, q) in QUERIES.iter().enumerate() {
        for kind in ["instant", "range"] {
            let run = || match kind {
                "instant" => engine.instant_query(&store, q, end),
                _ => engine.range_query(&store, q, end - 3_600_000, end, 15_000),
            };
            let name = format!("{i:02}_{kind} {q}");
            if once > 0 {
                if filter.as_ref().is_none_or(|f| name.contains(f.as_str())) {
                    let mut times: Vec<f64> = (0..once)
                        .map(|_| {
                            let t = std::time::Instant::now();
                            std::hint::black_box(run().expect("query"));
                            t.elapsed().as_secs_f64() * 1e3
                        })
                        .collect();
                    times.sort_by(f64::total_cmp);
                    eprintln!("{:8.2} ms  {name}", times[times.len() / 2]);
                }
                continue;
            }
            c.bench_function(&name, |b| b.iter(|| run().expect("query")));
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
