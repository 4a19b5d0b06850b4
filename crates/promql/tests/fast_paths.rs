//! The engine's faster evaluations give the same answers as the plain ones: a range
//! query's `max_over_time`/`min_over_time` (sliding windows) against instant
//! queries at each step, and aggregations over range functions (which leave the
//! name on their input series until grouping) against the same aggregation over
//! an expression that drops the name on the spot.

use ember_model::Labels;
use ember_promql::{Engine, EngineOptions, Value};
use ember_storage::Appendable;
use ember_storage::list::MemStorage;

const STEP: i64 = 15_000;

fn store() -> MemStorage {
    let st = MemStorage::new();
    let mut app = st.appender();
    // Ties, signed zeros, NaN and counter resets, on two metrics whose label sets
    // are equal but for the name.
    let shapes: [&dyn Fn(i64) -> f64; 5] = [
        &|t| ((t * 7) % 5) as f64,
        &|t| if t % 3 == 0 { -0.0 } else { 0.0 },
        &|t| {
            if t % 11 == 4 {
                f64::NAN
            } else {
                (t % 6) as f64
            }
        },
        &|t| (t % 13) as f64 * 2.5,
        &|t| -((t * 3) % 4) as f64,
    ];
    for (name, extra) in [
        ("a_total", None),
        ("b_total", Some(("__type__", "counter"))),
    ] {
        for (i, f) in shapes.iter().enumerate() {
            for g in ["x", "y"] {
                let mut pairs = vec![
                    ("__name__", name.to_string()),
                    ("i", i.to_string()),
                    ("g", g.to_string()),
                ];
                if let Some((n, v)) = extra {
                    pairs.push((n, v.to_string()));
                }
                let l = Labels::from_pairs(pairs);
                for t in 0..120 {
                    // One series misses a stretch of samples.
                    if i == 3 && g == "y" && (40..55).contains(&t) {
                        continue;
                    }
                    app.append(None, &l, t * STEP, f(t)).unwrap();
                }
            }
        }
    }
    app.commit().unwrap();
    st
}

/// The points of a range query's result, as `(labels, time, value bits)`.
fn points(v: Value) -> Vec<(String, i64, u64)> {
    let mut out = Vec::new();
    match v {
        Value::Matrix(m) => {
            for s in m {
                for p in s.floats {
                    out.push((s.metric.to_string(), p.t, p.f.to_bits()));
                }
            }
        }
        Value::Vector(v) => {
            for s in v {
                out.push((s.metric.to_string(), s.t, s.f.to_bits()));
            }
        }
        other => panic!("unexpected {other:?}"),
    }
    out.sort();
    out
}

#[test]
fn extreme_over_time_ranges_match_instant_queries() {
    let st = store();
    let e = Engine::new(EngineOptions::default());
    for q in [
        "max_over_time(a_total[1m])",
        "min_over_time(a_total[1m])",
        "max_over_time(a_total[2m] offset 1m)",
        "min_over_time(a_total[45s])",
        "max_over_time(a_total[1m] @ 600)",
    ] {
        let (start, end) = (60_000, 1_700_000);
        let range = points(e.range_query(&st, q, start, end, STEP).unwrap().value);
        let mut instants = Vec::new();
        let mut t = start;
        while t <= end {
            instants.extend(points(e.instant_query(&st, q, t).unwrap().value));
            t += STEP;
        }
        instants.sort();
        assert_eq!(range, instants, "{q}");
    }
}

#[test]
fn aggregations_over_range_functions_match_eager_name_removal() {
    let st = store();
    for delayed in [false, true] {
        let e = Engine::new(EngineOptions {
            delayed_name_removal: delayed,
            ..Default::default()
        });
        for agg in [
            "sum",
            "sum by (g)",
            "sum by (__name__, g)",
            "sum by (__type__)",
            "avg without (i)",
            "max without (g)",
            "count by (i)",
            "quantile by (g) (0.3,",
        ] {
            for f in [
                "rate(a_total[1m])",
                "increase(b_total[1m])",
                "delta({__name__=~\"a_total|b_total\", g=\"x\"}[1m])",
                "max_over_time({__name__=~\"a_total|b_total\"}[1m])",
                "resets(b_total[1m])",
                "stddev_over_time(a_total[1m])",
            ] {
                let (fast, plain) = match agg.strip_suffix(',') {
                    Some(a) => (format!("{a} {f})"), format!("{a} {f} * 1)")),
                    None => (format!("{agg} ({f})"), format!("{agg} ({f} * 1)")),
                };
                let run = |q: &str, range: bool| {
                    let r = if range {
                        e.range_query(&st, q, 60_000, 1_700_000, STEP)
                    } else {
                        e.instant_query(&st, q, 900_000)
                    };
                    r.map(|r| points(r.value)).map_err(|e| e.to_string())
                };
                for range in [false, true] {
                    assert_eq!(
                        run(&fast, range),
                        run(&plain, range),
                        "{fast} (delayed name removal {delayed}, range {range})"
                    );
                }
            }
        }
    }
}
