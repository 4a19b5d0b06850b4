use ember_model::histogram::{CounterResetHint, FloatHistogram};
use ember_model::value::{is_stale_nan, stale_nan};
use proptest::prelude::*;

use super::*;
use crate::test_util::{
    Expect, appendable_cases, calm_steps, hex, outcome, run_series, series, sp, steps,
};

fn collect(c: &FloatHistogramChunk) -> Vec<(i64, FloatHistogram)> {
    let mut it = c.iter();
    let mut v = Vec::new();
    while it.advance() {
        let mut h = FloatHistogram::default();
        let t = it.at_float_histogram(&mut h);
        v.push((t, h));
    }
    assert_eq!(it.err(), None);
    v
}

fn expect(a: &Appended<FloatHistogramChunk>) -> Expect {
    outcome(a, |c| c.counter_reset_header())
}

fn with_hint(h: &FloatHistogram, hint: CounterResetHint) -> FloatHistogram {
    FloatHistogram {
        counter_reset_hint: hint,
        ..h.clone()
    }
}

fn absolute(deltas: &[i64]) -> Vec<f64> {
    deltas
        .iter()
        .scan(0i64, |c, d| {
            *c += d;
            Some(*c as f64)
        })
        .collect()
}

// The integer golden test's series as floats, derived field by field (bits after
// the 000300 header; the layout block is the integer chunk's):
//   layout:   01110100 | 0 | 10 001 | 10 010 | 0 | 0
//   sample 0: t 1000 → 11110 001111101000 | count 5.0, zero count 1.0, sum 8.0,
//             buckets 1.0, 3.0 as raw 64-bit floats (4014…, 3ff0…, 4020…, 3ff0…,
//             4008…)
//   sample 1: t dod 1000 → 11110 001111101000 |
//             count 8.0^5.0 = 0x0034… → 1 1 01010 000100 1101 (10 leading zeros,
//             4 significant bits) | zero count unchanged → 0 |
//             sum 12.0^8.0 = 0x0008… → 1 1 01100 000001 1 |
//             bucket 2.0^1.0 = 0x7ff0… → 1 1 00001 001011 11111111111 |
//             bucket 5.0^3.0 = 0x001c… → 1 1 01011 000011 111
//   sample 2: t dod 0 → 0 |
//             count 11.0^8.0 = 0x0006… → 13 leading, 49 trailing: the window
//             (10, 50) does not fit, so a new one: 1 1 01101 000010 11 |
//             zero count 2.0^1.0 = 0x7ff0…, first change → 1 1 00001 001011
//             11111111111 | sum unchanged → 0 |
//             bucket 3.0^2.0 = 0x0008… → new window 1 1 01100 000001 1 |
//             bucket 6.0^5.0 = 0x000c… (12 leading, 50 trailing) fits the window
//             (11, 50) → 1 0 011
// 507 bits, padded to 64 bytes.
const GOLDEN: &str = "0003007446478fa10050000000000000ffc00000000000010080000000000000\
                      ffc00000000000010020000000000003c7d1a84d6c0784bfffac3eda1784bff\
                      ed80e60";

fn golden_samples() -> Vec<(i64, FloatHistogram)> {
    let h = |count, zero_count, sum, b: &[f64]| FloatHistogram {
        schema: 0,
        zero_threshold: 2f64.powi(-128),
        zero_count,
        count,
        sum,
        positive_spans: sp(&[(0, 2)]),
        positive_buckets: b.to_vec(),
        ..FloatHistogram::default()
    };
    vec![
        (1000, h(5.0, 1.0, 8.0, &[1.0, 3.0])),
        (2000, h(8.0, 1.0, 12.0, &[2.0, 5.0])),
        (3000, h(11.0, 2.0, 12.0, &[3.0, 6.0])),
    ]
}

fn bytes_of(hex: &str) -> Vec<u8> {
    let hex: String = hex.split_whitespace().collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn golden_bytes_match_prometheus() {
    let mut c = FloatHistogramChunk::new();
    for (t, h) in golden_samples() {
        assert!(matches!(c.append(t, &h).unwrap(), Appended::InPlace));
    }
    assert_eq!(c.bytes(), bytes_of(GOLDEN), "{}", hex(c.bytes()));
    let want: Vec<_> = golden_samples()
        .into_iter()
        .enumerate()
        .map(|(i, (t, h))| {
            let hint = if i == 0 {
                CounterResetHint::Unknown
            } else {
                CounterResetHint::NotCounterReset
            };
            (t, with_hint(&h, hint))
        })
        .collect();
    assert_eq!(collect(&c), want);
}

#[test]
fn first_sample_sets_header_from_hint() {
    // Prometheus's TestFirstFloatHistogramExplicitCounterReset.
    for (hint, header) in [
        (
            CounterResetHint::CounterReset,
            CounterResetHeader::CounterReset,
        ),
        (
            CounterResetHint::NotCounterReset,
            CounterResetHeader::Unknown,
        ),
        (CounterResetHint::Unknown, CounterResetHeader::Unknown),
        (CounterResetHint::Gauge, CounterResetHeader::Gauge),
    ] {
        let mut c = FloatHistogramChunk::new();
        let h = FloatHistogram {
            counter_reset_hint: hint,
            ..FloatHistogram::default()
        };
        assert!(matches!(c.append(0, &h).unwrap(), Appended::InPlace));
        assert_eq!(c.counter_reset_header(), header, "{hint:?}");
        let read = collect(&c)[0].1.counter_reset_hint;
        let want = if hint == CounterResetHint::Gauge {
            CounterResetHint::Gauge
        } else {
            CounterResetHint::Unknown
        };
        assert_eq!(read, want);
    }
}

/// The shared appendability table on float chunks (counts converted to floats).
#[test]
fn appendable_table() {
    for case in appendable_cases() {
        let (first, second) = (case.first.to_float(), case.second.to_float());
        let want = match (case.want, case.float_header) {
            (Expect::New(_), Some(h)) => Expect::New(h),
            (w, _) => w,
        };
        let mut c = FloatHistogramChunk::new();
        c.append(1234567890, &first).unwrap();
        let before = c.bytes().to_vec();
        let got = c.append(1234567891, &second).unwrap();
        assert_eq!(expect(&got), want, "{}", case.name);
        let (chunk, n) = match &got {
            Appended::NewChunk(new) => {
                assert_eq!(c.bytes(), before, "{}: old chunk touched", case.name);
                (new.as_ref(), 1)
            }
            Appended::InPlace => {
                let kept = HEADER_SIZE..before.len() - 1;
                assert_eq!(c.bytes()[kept.clone()], before[kept], "{}", case.name);
                (&c, 2)
            }
            Appended::Recoded => (&c, 2),
        };
        let samples = collect(chunk);
        assert_eq!(samples.len(), n, "{}", case.name);
        let (t, stored) = samples.last().unwrap();
        assert_eq!(*t, 1234567891);
        if let Some((buckets, spans)) = &case.stored {
            assert_eq!(stored.positive_buckets, absolute(buckets), "{}", case.name);
            assert_eq!(stored.positive_spans, sp(spans), "{}", case.name);
        } else if !is_stale_nan(second.sum) && matches!(got, Appended::NewChunk(_)) {
            assert_eq!(stored.positive_buckets, second.positive_buckets);
        }
    }
}

#[test]
fn bucket_changes_recode_earlier_samples() {
    // Prometheus's TestFloatHistogramChunkBucketChanges.
    let h1 = FloatHistogram {
        count: 27.0,
        zero_count: 2.0,
        sum: 18.4,
        zero_threshold: 1e-125,
        schema: 1,
        positive_spans: sp(&[(0, 2), (2, 1), (3, 2), (3, 1), (1, 1)]),
        positive_buckets: vec![6., 3., 3., 2., 4., 5., 1.],
        negative_spans: sp(&[(1, 1)]),
        negative_buckets: vec![1.0],
        ..FloatHistogram::default()
    };
    let h2 = FloatHistogram {
        positive_spans: sp(&[(0, 3), (1, 1), (1, 4), (3, 3)]),
        negative_spans: sp(&[(0, 2)]),
        count: 35.0,
        zero_count: 3.0,
        sum: 30.0,
        positive_buckets: vec![7., 5., 1., 3., 1., 0., 2., 5., 5., 0., 1.],
        negative_buckets: vec![2., 1.],
        ..h1.clone()
    };
    let mut c = FloatHistogramChunk::new();
    c.append(1234567890, &h1).unwrap();
    assert!(matches!(
        c.append(1234567906, &h2).unwrap(),
        Appended::Recoded
    ));
    let h1_wide = FloatHistogram {
        positive_spans: h2.positive_spans.clone(),
        positive_buckets: vec![6., 3., 0., 3., 0., 0., 2., 4., 5., 0., 1.],
        negative_spans: h2.negative_spans.clone(),
        negative_buckets: vec![0., 1.],
        ..h1.clone()
    };
    assert_eq!(
        collect(&c),
        vec![
            (1234567890, h1_wide),
            (
                1234567906,
                with_hint(&h2, CounterResetHint::NotCounterReset)
            )
        ]
    );
}

#[test]
fn append_after_sets_header_from_previous_chunk() {
    let eh = FloatHistogram {
        count: 5.0,
        zero_count: 2.0,
        sum: 18.4,
        zero_threshold: 1e-125,
        schema: 1,
        positive_spans: sp(&[(0, 2), (2, 1), (3, 2), (3, 1), (1, 1)]),
        positive_buckets: vec![6., 3., 3., 2., 4., 5., 1.],
        ..FloatHistogram::default()
    };
    let mut prev = FloatHistogramChunk::new();
    prev.append(0, &eh).unwrap();
    let needs_recode = FloatHistogram {
        positive_spans: sp(&[(0, 3), (1, 1), (1, 4), (3, 3)]),
        count: 14.0,
        positive_buckets: vec![7., 5., 1., 3., 1., 0., 2., 5., 5., 0., 1.],
        ..eh.clone()
    };
    for (h, header) in [
        (eh.clone(), CounterResetHeader::NotCounterReset),
        (
            FloatHistogram {
                count: 4.0,
                ..eh.clone()
            },
            CounterResetHeader::CounterReset,
        ),
        (needs_recode, CounterResetHeader::NotCounterReset),
        // Prometheus's float appender has no "unknown" verdict here.
        (
            FloatHistogram {
                schema: 3,
                ..eh.clone()
            },
            CounterResetHeader::NotCounterReset,
        ),
        (
            with_hint(&eh, CounterResetHint::Gauge),
            CounterResetHeader::Gauge,
        ),
    ] {
        let mut next = FloatHistogramChunk::new();
        assert!(matches!(
            next.append_after(Some(&prev), 1, &h).unwrap(),
            Appended::InPlace
        ));
        assert_eq!(next.counter_reset_header(), header);
    }
}

#[test]
fn append_in_place_errors() {
    let h = FloatHistogram {
        count: 10.0,
        zero_count: 2.0,
        sum: 18.4,
        schema: 1,
        positive_spans: sp(&[(0, 2), (1, 2)]),
        positive_buckets: vec![1., 2., 1., 1.],
        ..FloatHistogram::default()
    };
    let g = |h: &FloatHistogram| with_hint(h, CounterResetHint::Gauge);
    let wider = FloatHistogram {
        positive_spans: sp(&[(0, 5)]),
        positive_buckets: vec![1., 2., 1., 1., 1.],
        count: 11.0,
        ..h.clone()
    };
    let narrower = FloatHistogram {
        positive_spans: sp(&[(0, 2)]),
        positive_buckets: vec![1., 2.],
        ..h.clone()
    };
    let cases = [
        (
            h.clone(),
            FloatHistogram {
                schema: 2,
                ..h.clone()
            },
            "float histogram schema change",
        ),
        (
            h.clone(),
            with_hint(&h, CounterResetHint::CounterReset),
            "float histogram counter reset",
        ),
        (
            h.clone(),
            wider.clone(),
            "float histogram layout change with 1 positive and 0 negative forwards inserts",
        ),
        (
            g(&h),
            g(&FloatHistogram {
                zero_threshold: 1.0,
                ..h.clone()
            }),
            "float gauge histogram schema change",
        ),
        (
            g(&h),
            g(&narrower),
            "float gauge histogram layout change with 1 positive and 0 negative backwards inserts",
        ),
        (
            g(&h),
            g(&wider),
            "float gauge histogram layout change with 1 positive and 0 negative forwards inserts",
        ),
    ];
    for (h1, h2, msg) in cases {
        let mut c = FloatHistogramChunk::new();
        c.append_in_place(1, &h1).unwrap();
        let before = c.bytes().to_vec();
        assert_eq!(
            c.append_in_place(2, &h2),
            Err(Error::NotAppendable(msg.into()))
        );
        assert_eq!(c.bytes(), before);
    }
}

#[test]
fn reopened_chunk_continues_like_prometheus() {
    let h = |i: u32, count: f64| FloatHistogram {
        count,
        sum: i as f64 * 1.5,
        positive_spans: sp(&[(0, 1)]),
        positive_buckets: vec![count],
        ..FloatHistogram::default()
    };
    // Every field changed before the reopen: same encoder state, same bytes.
    let (mut a, mut b) = (FloatHistogramChunk::new(), FloatHistogramChunk::new());
    for i in 0..4 {
        a.append(i as i64, &h(i, i as f64)).unwrap();
        b.append(i as i64, &h(i, i as f64)).unwrap();
    }
    let mut b = FloatHistogramChunk::from_bytes(b.bytes()).unwrap();
    for i in 4..10 {
        a.append(i as i64, &h(i, i as f64 * 3.0)).unwrap();
        b.append(i as i64, &h(i, i as f64 * 3.0)).unwrap();
    }
    assert_eq!(a.bytes(), b.bytes());
    // A count that never changed has no XOR window yet. Prometheus's reopened
    // appender takes the iterator's (0, 0) window where a fresh one has none, so the
    // bytes differ, as in Prometheus, while the samples are the same.
    let (mut a, mut b) = (FloatHistogramChunk::new(), FloatHistogramChunk::new());
    for i in 0..3 {
        a.append(i as i64, &h(i, 1.0)).unwrap();
        b.append(i as i64, &h(i, 1.0)).unwrap();
    }
    let mut b = FloatHistogramChunk::from_bytes(b.bytes()).unwrap();
    a.append(3, &h(3, 2.0)).unwrap();
    b.append(3, &h(3, 2.0)).unwrap();
    assert_ne!(a.bytes(), b.bytes());
    assert_eq!(collect(&a), collect(&b));
}

#[test]
fn staleness_markers() {
    let h = FloatHistogram {
        count: 4.0,
        sum: 3.0,
        positive_spans: sp(&[(0, 1)]),
        positive_buckets: vec![4.0],
        ..FloatHistogram::default()
    };
    let marker = FloatHistogram {
        sum: stale_nan(),
        ..h.clone()
    };
    let mut c = FloatHistogramChunk::new();
    c.append(1, &h).unwrap();
    assert!(matches!(c.append(2, &marker).unwrap(), Appended::InPlace));
    assert!(matches!(c.append(3, &marker).unwrap(), Appended::InPlace));
    assert_eq!(
        expect(&c.append(4, &h).unwrap()),
        Expect::New(CounterResetHeader::Unknown)
    );
    let got = collect(&c);
    assert_eq!(got.len(), 3);
    for (_, m) in &got[1..] {
        assert!(is_stale_nan(m.sum));
        assert!(m.positive_buckets.is_empty() && m.count == 0.0);
    }
    let mut r = FloatHistogramChunk::from_bytes(c.bytes()).unwrap();
    assert!(matches!(r.append(4, &marker).unwrap(), Appended::InPlace));
}

#[test]
fn reserved_schemas_read_reduced() {
    let h = FloatHistogram {
        schema: 10,
        count: 20.0,
        sum: 15.0,
        positive_spans: sp(&[(0, 2), (1, 2)]),
        positive_buckets: vec![1., 3., 6., 10.],
        ..FloatHistogram::default()
    };
    let mut c = FloatHistogramChunk::new();
    c.append(1, &h).unwrap();
    let got = &collect(&c)[0].1;
    // Schema 10 → 8 maps bucket i to ((i-1)>>2)+1: 0 → 0 and 1, 3, 4 → 1.
    assert_eq!(got.schema, 8);
    assert_eq!(got.positive_spans, sp(&[(0, 2)]));
    assert_eq!(got.positive_buckets, vec![1., 19.]);
}

#[test]
fn full_chunk_is_cut() {
    let h = |i: u32| FloatHistogram {
        count: i as f64 * 1000.0,
        sum: i as f64 * 0.1,
        positive_spans: sp(&[(-10, 20)]),
        positive_buckets: (0..20).map(|k| (i * (k + 1)) as f64 * 0.37).collect(),
        ..FloatHistogram::default()
    };
    let mut c = FloatHistogramChunk::new();
    let mut i = 0;
    let cut = loop {
        if let Appended::NewChunk(n) = c.append(i as i64, &h(i)).unwrap() {
            break n;
        }
        i += 1;
    };
    assert!(c.bytes().len() >= 2 * crate::TARGET_BYTES_PER_HISTOGRAM_CHUNK);
    assert_eq!(
        cut.counter_reset_header(),
        CounterResetHeader::NotCounterReset
    );
    assert_eq!(collect(&cut)[0].1.positive_buckets, h(i).positive_buckets);
}

#[test]
fn invalid_histograms_are_rejected() {
    let mut c = FloatHistogramChunk::new();
    let bad = FloatHistogram {
        negative_spans: sp(&[(0, 1)]),
        ..FloatHistogram::default()
    };
    assert!(matches!(c.append(1, &bad), Err(Error::InvalidHistogram(_))));
    assert_eq!(c.bytes(), [0, 0, 0]);
}

#[test]
fn truncated_chunks_are_errors_not_panics() {
    let full = bytes_of(GOLDEN);
    for n in 0..full.len() {
        let b = &full[..n];
        assert!(FloatHistogramChunk::from_bytes(b).is_err(), "{n}");
        if let Ok(mut it) = FloatHistogramIterator::new(b) {
            while it.advance() {}
            assert!(it.err().is_some());
        }
    }
    let c = FloatHistogramChunk::from_bytes(&full).unwrap();
    assert_eq!(c.bytes(), full);
    assert_eq!(c.num_samples(), 3);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(mut it) = FloatHistogramIterator::new(&b) {
            let mut h = FloatHistogram::default();
            while it.advance() {
                it.at_float_histogram(&mut h);
            }
        }
        if let Ok(mut c) = FloatHistogramChunk::from_bytes(&b) {
            let _ = c.append(0, &golden_samples()[0].1);
        }
    }

    #[test]
    fn mutated_chunks_never_panic(flips in prop::collection::vec((0usize..64, 0u8..8), 1..4)) {
        let mut b = bytes_of(GOLDEN);
        for (i, bit) in flips {
            b[i] ^= 1 << bit;
        }
        if let Ok(mut c) = FloatHistogramChunk::from_bytes(&b) {
            for (t, h) in golden_samples() {
                let _ = c.append(t, &h);
            }
        }
    }

    #[test]
    fn series_round_trip(st in steps(100)) {
        run_series::<FloatHistogramChunk>(&series(&st, false), false)?;
    }

    #[test]
    fn gauge_series_round_trip(st in steps(60)) {
        run_series::<FloatHistogramChunk>(&series(&st, true), true)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn long_series_are_cut_for_size(st in calm_steps(400), gauge in any::<bool>()) {
        run_series::<FloatHistogramChunk>(&series(&st, gauge), gauge)?;
    }
}
