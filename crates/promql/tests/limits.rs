//! Query limits: `--query.max-samples` is an error rather than memory growth, and
//! `--query.timeout` stops an evaluation.

use ember_model::Labels;
use ember_promql::{Engine, EngineOptions, Error};
use ember_storage::Appendable;
use ember_storage::list::MemStorage;
use std::time::Duration;

fn store() -> MemStorage {
    let st = MemStorage::new();
    let mut app = st.appender();
    for s in 0..100 {
        let l = Labels::from_pairs([("__name__", "m".to_string()), ("s", s.to_string())]);
        for t in 0..60 {
            app.append(None, &l, t * 15_000, t as f64).unwrap();
        }
    }
    app.commit().unwrap();
    st
}

#[test]
fn max_samples_is_an_error() {
    let st = store();
    let small = Engine::new(EngineOptions {
        max_samples: 50,
        ..Default::default()
    });
    let e = small.instant_query(&st, "sum(m)", 600_000).unwrap_err();
    assert!(matches!(e, Error::TooManySamples(_)), "{e}");
    assert!(e.to_string().contains("too many samples"), "{e}");
    let e = small
        .range_query(&st, "rate(m[5m])", 300_000, 900_000, 15_000)
        .unwrap_err();
    assert!(matches!(e, Error::TooManySamples(_)), "{e}");
    // The same queries fit a normal limit.
    let ok = Engine::new(EngineOptions::default());
    assert!(ok.instant_query(&st, "sum(m)", 600_000).is_ok());
}

#[test]
fn timeout_stops_the_query() {
    let st = store();
    let e = Engine::new(EngineOptions {
        timeout: Duration::ZERO,
        ..Default::default()
    })
    .range_query(&st, "sum(rate(m[5m]))", 0, 900_000, 1_000)
    .unwrap_err();
    assert!(matches!(e, Error::Timeout(_)), "{e}");
    assert!(e.to_string().contains("query timed out"), "{e}");
}

#[test]
fn cancellation_stops_the_query() {
    let st = store();
    let engine = Engine::new(EngineOptions::default());
    let expr = engine.parse("sum(rate(m[5m]))").unwrap();
    let cancel = std::sync::atomic::AtomicBool::new(true);
    let e = engine
        .exec(
            &st,
            "sum(rate(m[5m]))",
            &expr,
            0,
            900_000,
            1_000,
            Some(&cancel),
        )
        .unwrap_err();
    assert!(matches!(e, Error::Canceled(_)), "{e}");
}
