use ember_model::histogram::{CounterResetHint, FloatHistogram, Histogram};
use ember_model::value::{is_stale_nan, stale_nan};
use proptest::prelude::*;

use super::*;
use crate::test_util::{
    Expect, appendable_cases, calm_steps, hex, hist, outcome, run_series, series, sp, steps,
    with_hint,
};
use crate::{MIN_SAMPLES_PER_HISTOGRAM_CHUNK, TARGET_BYTES_PER_HISTOGRAM_CHUNK};

fn collect(c: &HistogramChunk) -> Vec<(i64, Histogram)> {
    let mut it = c.iter();
    let mut v = Vec::new();
    while it.advance() {
        let mut h = Histogram::default();
        let t = it.at_histogram(&mut h);
        v.push((t, h));
    }
    assert_eq!(it.err(), None);
    v
}

fn expect(a: &Appended<HistogramChunk>) -> Expect {
    outcome(a, |c| c.counter_reset_header())
}

// Three samples derived field by field from chunks.md (bits after the 000300
// header, '|' between fields):
//   layout:   zero threshold 2^-128 → 0x74 = 01110100 | schema 0 → 0 |
//             1 positive span → 10 001 | length 2 → 10 010 | offset 0 → 0 |
//             0 negative spans → 0
//   sample 0: t 1000 → 11110 001111101000 | count 5 → 10 101 | zero count 1 →
//             10 001 | sum 8.0 → 4020000000000000 | buckets 1, 2 → 10 001, 10 010
//   sample 1: t dod 1000 → 11110 001111101000 | count dod 3 → 10 011 |
//             zero count dod 0 → 0 | sum 12.0 xor 8.0 = 0x0008… → 1 1 01100
//             000001 1 (new window: 12 leading zeros, 1 significant bit) |
//             bucket dods 1, 1 → 10 001, 10 001
//   sample 2: t dod 0 → 0 | count dod 0 → 0 | zero count dod 1 → 10 001 |
//             sum unchanged → 0 | bucket dods 0, -1 → 0, 10 111
// 183 bits, padded to 23 bytes.
const GOLDEN: &str = "0003007446478fa2b140200000000000008cbc7d136c0718912e";

fn golden_samples() -> Vec<(i64, Histogram)> {
    let h = |count, zero_count, sum, b: &[i64]| Histogram {
        schema: 0,
        zero_threshold: 2f64.powi(-128),
        zero_count,
        count,
        sum,
        positive_spans: sp(&[(0, 2)]),
        positive_buckets: b.to_vec(),
        ..Histogram::default()
    };
    vec![
        (1000, h(5, 1, 8.0, &[1, 2])),
        (2000, h(8, 1, 12.0, &[2, 3])),
        (3000, h(11, 2, 12.0, &[3, 3])),
    ]
}

#[test]
fn golden_bytes_match_prometheus() {
    let mut c = HistogramChunk::new();
    for (t, h) in golden_samples() {
        assert!(matches!(c.append(t, &h).unwrap(), Appended::InPlace));
    }
    assert_eq!(hex(c.bytes()), GOLDEN);
    let got = collect(&c);
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
    assert_eq!(got, want);
}

// Custom buckets and a staleness marker (after the 000200 header):
//   layout:   zero threshold 0 → 00000000 | schema -53 → 1110 + 9-bit 459
//             (512-53) | 1 span, length 2, offset 0 → 10 001, 10 010, 0 |
//             0 negative spans → 0 | 2 bounds → 10 010 | 0.5 → 501 →
//             1110 111110101 | 1.0 → 1001 → 11110 001111101001
//   sample 0: t 0 → 0 | count 3 → 10 011 | zero count 0 → 0 | sum 1.5 →
//             3ff8000000000000 | buckets 1, 1 → 10 001, 10 001
//   sample 1 (stale marker): t dod 1000 → 11110 001111101000 | count and zero
//             count dods forced to 0 → 0, 0 | sum 0x7ff0000000000002 xor 1.5 =
//             0x4008000000000002 → 1 1 00001 111110 + its 62 significant bits;
//             no buckets
// 243 bits, padded to 31 bytes.
#[test]
fn golden_custom_buckets_and_stale_marker() {
    let h = Histogram {
        schema: -53,
        count: 3,
        sum: 1.5,
        positive_spans: sp(&[(0, 2)]),
        positive_buckets: vec![1, 1],
        custom_values: vec![0.5, 1.0],
        ..Histogram::default()
    };
    let mut c = HistogramChunk::new();
    c.append(0, &h).unwrap();
    let marker = Histogram {
        sum: stale_nan(),
        ..h.clone()
    };
    assert!(matches!(
        c.append(1000, &marker).unwrap(),
        Appended::InPlace
    ));
    assert_eq!(
        hex(c.bytes()),
        "00020000ee5c644bbebe3e94c7ff000000000000118f8fa0c3f40080000000000020"
    );
    let got = collect(&c);
    assert_eq!(got[0], (0, h));
    assert_eq!(got[1].0, 1000);
    assert!(is_stale_nan(got[1].1.sum));
    assert_eq!(
        Histogram {
            sum: 0.0,
            ..got[1].1.clone()
        },
        Histogram::default()
    );
}

#[test]
fn first_sample_sets_header_from_hint() {
    // Prometheus's TestFirstHistogramExplicitCounterReset.
    for (hint, header, read_hint) in [
        (
            CounterResetHint::CounterReset,
            CounterResetHeader::CounterReset,
            CounterResetHint::Unknown,
        ),
        (
            CounterResetHint::NotCounterReset,
            CounterResetHeader::Unknown,
            CounterResetHint::Unknown,
        ),
        (
            CounterResetHint::Unknown,
            CounterResetHeader::Unknown,
            CounterResetHint::Unknown,
        ),
        (
            CounterResetHint::Gauge,
            CounterResetHeader::Gauge,
            CounterResetHint::Gauge,
        ),
    ] {
        let mut c = HistogramChunk::new();
        let h = Histogram {
            counter_reset_hint: hint,
            ..Histogram::default()
        };
        assert!(matches!(c.append(0, &h).unwrap(), Appended::InPlace));
        assert_eq!(c.counter_reset_header(), header, "{hint:?}");
        assert_eq!(collect(&c)[0].1.counter_reset_hint, read_hint);
    }
}

#[test]
fn same_buckets_and_reopen() {
    // Prometheus's TestHistogramChunkSameBuckets, with the third append going
    // through a chunk reopened from its bytes.
    let mut c = HistogramChunk::new();
    let mut h = Histogram {
        count: 15,
        zero_count: 2,
        sum: 18.4,
        zero_threshold: 1e-100,
        schema: 1,
        positive_spans: sp(&[(0, 2), (1, 2)]),
        positive_buckets: vec![1, 1, -1, 0],
        negative_spans: sp(&[(1, 1), (2, 3)]),
        negative_buckets: vec![2, 1, -1, -1],
        ..Histogram::default()
    };
    let mut want = vec![(1234567890, h.clone())];
    c.append(1234567890, &h).unwrap();
    h.count = 32;
    h.zero_count += 1;
    h.sum = 24.4;
    h.positive_buckets = vec![5, -2, 1, -2];
    h.negative_buckets = vec![4, -1, 1, -1];
    assert!(matches!(
        c.append(1234567906, &h).unwrap(),
        Appended::InPlace
    ));
    want.push((1234567906, with_hint(&h, CounterResetHint::NotCounterReset)));
    let mut c = HistogramChunk::from_bytes(c.bytes()).unwrap();
    h.count = 54;
    h.zero_count += 2;
    h.positive_buckets = vec![6, 1, -3, 6];
    h.negative_buckets = vec![5, 1, -2, 3];
    assert!(matches!(
        c.append(1234567920, &h).unwrap(),
        Appended::InPlace
    ));
    want.push((1234567920, with_hint(&h, CounterResetHint::NotCounterReset)));
    assert_eq!(c.num_samples(), 3);
    assert_eq!(collect(&c), want);
}

#[test]
fn reopened_chunk_continues_byte_for_byte() {
    // Once every XOR-coded field has changed, a reopened chunk's encoder state is
    // the original's, so both write the same bytes.
    let (mut a, mut b) = (HistogramChunk::new(), HistogramChunk::new());
    let h = |i: u64| Histogram {
        count: 10 * i,
        sum: i as f64 * 1.5,
        positive_spans: sp(&[(0, 2)]),
        positive_buckets: vec![(3 * i) as i64, i as i64],
        ..Histogram::default()
    };
    for i in 0..5 {
        a.append(i as i64 * 15_000, &h(i)).unwrap();
        b.append(i as i64 * 15_000, &h(i)).unwrap();
    }
    let mut b = HistogramChunk::from_bytes(b.bytes()).unwrap();
    for i in 5..20 {
        a.append(i as i64 * 15_000, &h(i)).unwrap();
        b.append(i as i64 * 15_000, &h(i)).unwrap();
    }
    assert_eq!(a.bytes(), b.bytes());
}

#[test]
fn bucket_changes_recode_earlier_samples() {
    // Prometheus's TestHistogramChunkBucketChanges (the layout of the doc comment of
    // expandIntSpansAndBuckets).
    let h1 = hist(
        27,
        2,
        18.4,
        &[(0, 2), (2, 1), (3, 2), (3, 1), (1, 1)],
        &[6, -3, 0, -1, 2, 1, -4],
        &[(1, 1)],
        &[1],
    );
    let mut c = HistogramChunk::new();
    c.append(1234567890, &h1).unwrap();
    let h2 = hist(
        35,
        3,
        30.0,
        &[(0, 3), (1, 1), (1, 4), (3, 3)],
        &[7, -2, -4, 2, -2, -1, 2, 3, 0, -5, 1],
        &[(0, 2)],
        &[2, -1],
    );
    assert!(matches!(
        c.append(1234567906, &h2).unwrap(),
        Appended::Recoded
    ));
    let got = collect(&c);
    let mut h1_wide = h1.clone();
    h1_wide.positive_spans = h2.positive_spans.clone();
    h1_wide.positive_buckets = vec![6, -3, -3, 3, -3, 0, 2, 2, 1, -5, 1];
    h1_wide.negative_spans = h2.negative_spans.clone();
    h1_wide.negative_buckets = vec![0, 1];
    assert_eq!(
        got,
        vec![
            (1234567890, h1_wide),
            (
                1234567906,
                with_hint(&h2, CounterResetHint::NotCounterReset)
            )
        ]
    );
}

/// The shared appendability table (see [`appendable_cases`]) on integer chunks.
#[test]
fn appendable_table() {
    let cases = appendable_cases();
    for case in cases {
        let mut c = HistogramChunk::new();
        c.append(1234567890, &case.first).unwrap();
        let before = c.bytes().to_vec();
        let got = c.append(1234567891, &case.second).unwrap();
        assert_eq!(expect(&got), case.want, "{}", case.name);
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
        if n == 1 {
            let hint = if case.second.counter_reset_hint == CounterResetHint::Gauge {
                CounterResetHint::Gauge
            } else {
                CounterResetHint::Unknown
            };
            assert_eq!(stored.counter_reset_hint, hint, "{}", case.name);
        }
        if let Some((buckets, spans)) = &case.stored {
            assert_eq!(&stored.positive_buckets, buckets, "{}", case.name);
            assert_eq!(stored.positive_spans, sp(spans), "{}", case.name);
        } else if !is_stale_nan(case.second.sum) && matches!(got, Appended::NewChunk(_)) {
            assert_eq!(stored.positive_buckets, case.second.positive_buckets);
        }
    }
}

#[test]
fn appendable_with_empty_spans() {
    // Prometheus's TestHistogramChunkAppendableWithEmptySpan: zero-length spans in
    // either histogram do not change the bucket set.
    let h = |count, zc, sum, pos: &[(i32, u32)], pb: &[i64], neg: &[(i32, u32)], nb: &[i64]| {
        Histogram {
            schema: 0,
            zero_threshold: 0.001,
            ..hist(count, zc, sum, pos, pb, neg, nb)
        }
    };
    let neg = [(1, 4), (2, 0), (2, 3)];
    let (nb1, nb2) = ([1, 1, -1, 1, 0, 0, 0], [1, 3, -2, 5, -2, 0, -3]);
    let (pb1, pb2) = ([1, 1, -1, 0, 0, 0, 0], [1, 2, -2, 1, -1, 0, 0]);
    type Spans = &'static [(i32, u32)];
    let cases: [(Spans, Spans); 4] = [
        (&[(0, 4), (0, 0), (0, 3)], &[(0, 4), (0, 0), (0, 3)]),
        (&[(1, 0), (2, 4), (0, 3)], &[(3, 4), (0, 3)]),
        (&[(0, 4), (3, 3)], &[(0, 4), (1, 0), (2, 3)]),
        (
            &[(0, 4), (1, 0), (3, 0), (4, 3)],
            &[(0, 4), (3, 0), (1, 0), (4, 3)],
        ),
    ];
    for (p1, p2) in cases {
        let mut c = HistogramChunk::new();
        c.append(0, &h(21, 4, 1234.5, p1, &pb1, &neg, &nb1))
            .unwrap();
        let got = c
            .append(1, &h(37, 5, 2345.6, p2, &pb2, &neg, &nb2))
            .unwrap();
        assert!(matches!(got, Appended::InPlace), "{p1:?} {p2:?}");
    }
    let cb = |count, b: &[i64]| Histogram {
        schema: -53,
        count,
        sum: 1.0,
        positive_spans: sp(&[(0, 4), (0, 0), (0, 3)]),
        positive_buckets: b.to_vec(),
        custom_values: (1..=10).map(|x| x as f64).collect(),
        ..Histogram::default()
    };
    let mut c = HistogramChunk::new();
    c.append(0, &cb(7, &pb1)).unwrap();
    assert!(matches!(
        c.append(1, &cb(10, &pb2)).unwrap(),
        Appended::InPlace
    ));
}

#[test]
fn at_float_histogram_accumulates() {
    // Prometheus's TestAtFloatHistogram.
    let neg = [(1, 4), (2, 0), (2, 3)];
    let pos = [(0, 4), (0, 0), (0, 3)];
    let h = |count, zc, sum, pb: &[i64], nb: &[i64]| Histogram {
        schema: 0,
        zero_threshold: 0.001,
        ..hist(count, zc, sum, &pos, pb, &neg, nb)
    };
    let input = [
        h(
            21,
            4,
            1234.5,
            &[1, 1, -1, 0, 0, 0, 0],
            &[1, 1, -1, 1, 0, 0, 0],
        ),
        h(
            36,
            5,
            2345.6,
            &[1, 2, -2, 1, -1, 0, 0],
            &[1, 3, -2, 5, -2, 0, -3],
        ),
        h(
            36,
            5,
            1111.1,
            &[1, 2, -2, 2, -1, 0, 0],
            &[1, 3, -2, 5, -1, 0, -3],
        ),
    ];
    let want: [(&[f64], &[f64]); 3] = [
        (&[1., 2., 1., 1., 1., 1., 1.], &[1., 2., 1., 2., 2., 2., 2.]),
        (&[1., 3., 1., 2., 1., 1., 1.], &[1., 4., 2., 7., 5., 5., 2.]),
        (&[1., 3., 1., 3., 2., 2., 2.], &[1., 4., 2., 7., 6., 6., 3.]),
    ];
    let mut c = HistogramChunk::new();
    for (i, h) in input.iter().enumerate() {
        assert!(matches!(c.append(i as i64, h).unwrap(), Appended::InPlace));
    }
    let mut it = c.iter();
    let mut fh = FloatHistogram::default();
    for (i, (p, n)) in want.iter().enumerate() {
        assert!(it.advance());
        assert_eq!(it.at_float_histogram(&mut fh), i as i64);
        assert_eq!(fh.positive_buckets, *p);
        assert_eq!(fh.negative_buckets, *n);
        assert_eq!(fh.count, input[i].count as f64);
        assert_eq!(fh.sum, input[i].sum);
        assert_eq!(
            fh.counter_reset_hint,
            if i == 0 {
                CounterResetHint::Unknown
            } else {
                CounterResetHint::NotCounterReset
            }
        );
    }
    assert!(!it.advance());
}

#[test]
fn append_after_sets_header_from_previous_chunk() {
    // The "start new chunk explicitly" cases of TestHistogramChunkAppendable.
    let eh = hist(
        5,
        2,
        18.4,
        &[(0, 2), (2, 1), (3, 2), (3, 1), (1, 1)],
        &[6, -3, 0, -1, 2, 1, -4],
        &[],
        &[],
    );
    let mut prev = HistogramChunk::new();
    prev.append(0, &eh).unwrap();
    let needs_recode = Histogram {
        positive_spans: sp(&[(0, 3), (1, 1), (1, 4), (3, 3)]),
        count: 14,
        zero_count: 3,
        sum: 30.0,
        positive_buckets: vec![7, -2, -4, 2, -2, -1, 2, 3, 0, -5, 1],
        ..eh.clone()
    };
    for (h, header) in [
        (eh.clone(), CounterResetHeader::NotCounterReset),
        (
            Histogram {
                count: 4,
                ..eh.clone()
            },
            CounterResetHeader::CounterReset,
        ),
        (needs_recode, CounterResetHeader::NotCounterReset),
        (
            Histogram {
                schema: 3,
                ..eh.clone()
            },
            CounterResetHeader::Unknown,
        ),
        (
            with_hint(&eh, CounterResetHint::Gauge),
            CounterResetHeader::Gauge,
        ),
    ] {
        let mut next = HistogramChunk::new();
        let got = next.append_after(Some(&prev), 1, &h).unwrap();
        assert!(matches!(got, Appended::InPlace));
        assert_eq!(next.counter_reset_header(), header);
        assert_eq!(next.num_samples(), 1);
        let hint = collect(&next)[0].1.counter_reset_hint;
        assert_ne!(hint, CounterResetHint::NotCounterReset);
    }
    // Without a previous chunk the header stays unknown.
    let mut next = HistogramChunk::new();
    next.append_after(None, 1, &eh).unwrap();
    assert_eq!(next.counter_reset_header(), CounterResetHeader::Unknown);
}

#[test]
fn append_in_place_errors() {
    // Prometheus's TestHistogramAppendOnlyErrors, plus the layout-change messages.
    let h = Histogram {
        count: 10,
        zero_count: 2,
        sum: 18.4,
        zero_threshold: 1e-128,
        schema: 1,
        positive_spans: sp(&[(0, 2), (1, 2)]),
        positive_buckets: vec![1, 1, -1, 0],
        ..Histogram::default()
    };
    let cases = [
        (
            Histogram {
                schema: 2,
                ..h.clone()
            },
            "histogram schema change",
        ),
        (
            with_hint(&h, CounterResetHint::CounterReset),
            "histogram counter reset",
        ),
        (
            Histogram {
                positive_spans: sp(&[(0, 5)]),
                positive_buckets: vec![1, 1, -1, 0, 0],
                count: 11,
                ..h.clone()
            },
            "histogram layout change with 1 positive and 0 negative forwards inserts",
        ),
    ];
    for (h2, msg) in cases {
        let mut c = HistogramChunk::new();
        c.append_in_place(1, &h).unwrap();
        let before = c.bytes().to_vec();
        assert_eq!(
            c.append_in_place(2, &h2),
            Err(Error::NotAppendable(msg.into()))
        );
        assert_eq!(c.bytes(), before);
    }
    let cb = Histogram {
        schema: -53,
        count: 3,
        positive_spans: sp(&[(0, 2)]),
        positive_buckets: vec![1, 1],
        custom_values: vec![1.0, 2.0],
        ..Histogram::default()
    };
    let mut c = HistogramChunk::new();
    c.append_in_place(1, &cb).unwrap();
    let changed = Histogram {
        custom_values: vec![0.0, 1.0, 2.0],
        ..cb.clone()
    };
    assert_eq!(
        c.append_in_place(2, &changed),
        Err(Error::NotAppendable("histogram counter reset".into()))
    );
    // Missing empty buckets are put back without a rewrite, so that is allowed.
    let g = |h: &Histogram| with_hint(h, CounterResetHint::Gauge);
    let mut c = HistogramChunk::new();
    c.append_in_place(1, &g(&h)).unwrap();
    let fewer = g(&Histogram {
        positive_spans: sp(&[(0, 2)]),
        positive_buckets: vec![1, 1],
        ..h.clone()
    });
    assert_eq!(
        c.append_in_place(2, &fewer),
        Err(Error::NotAppendable(
            "gauge histogram layout change with 1 positive and 0 negative backwards inserts".into()
        ))
    );
    // For counters, missing empty buckets are put back without a rewrite.
    let with_empty = Histogram {
        count: 2,
        positive_spans: sp(&[(0, 3)]),
        positive_buckets: vec![1, -1, 1],
        ..Histogram::default()
    };
    let mut c = HistogramChunk::new();
    c.append_in_place(1, &with_empty).unwrap();
    let without = Histogram {
        positive_spans: sp(&[(0, 1), (1, 1)]),
        positive_buckets: vec![1, 0],
        ..with_empty.clone()
    };
    c.append_in_place(2, &without).unwrap();
    let got = collect(&c);
    assert_eq!(got[1].1.positive_spans, sp(&[(0, 3)]));
    assert_eq!(got[1].1.positive_buckets, vec![1, -1, 1]);
}

#[test]
fn empty_buckets_with_gaps_recode_validly() {
    // Prometheus's TestIntHistogramEmptyBucketsWithGaps.
    let h1 = Histogram {
        positive_spans: sp(&[(-19, 2), (1, 2)]),
        positive_buckets: vec![0, 0, 0, 0],
        ..Histogram::default()
    };
    let h2 = Histogram {
        positive_spans: sp(&[(-19, 1), (4, 1), (3, 1)]),
        positive_buckets: vec![0, 0, 0],
        ..Histogram::default()
    };
    let mut c = HistogramChunk::new();
    c.append(1, &h1).unwrap();
    assert!(matches!(c.append(2, &h2).unwrap(), Appended::Recoded));
    let got = collect(&c);
    assert_eq!(got.len(), 2);
    for (_, h) in &got {
        h.validate().unwrap();
        assert_eq!(h.positive_spans, sp(&[(-19, 2), (1, 3), (3, 1)]));
    }
}

#[test]
fn unknown_schema_is_a_read_error() {
    // Prometheus's TestHistogramIteratorFailIfSchemaInValid: appending works,
    // reading does not.
    for schema in [-101, 101, -10, 53] {
        let h = Histogram {
            schema,
            count: 10,
            sum: 15.0,
            zero_threshold: 1e-100,
            positive_spans: sp(&[(0, 2), (1, 2)]),
            positive_buckets: vec![1, 2, 3, 4],
            ..Histogram::default()
        };
        let mut c = HistogramChunk::new();
        c.append(1, &h).unwrap();
        let mut it = c.iter();
        assert!(!it.advance());
        assert!(matches!(it.err(), Some(Error::Corrupt(m)) if m.contains("schema")));
        assert!(HistogramChunk::from_bytes(c.bytes()).is_err());
    }
}

#[test]
fn reserved_schemas_read_reduced() {
    // Prometheus's TestHistogramIteratorReduceSchema.
    for schema in [9, 52] {
        let h = Histogram {
            schema,
            count: 20,
            sum: 15.0,
            zero_threshold: 1e-100,
            positive_spans: sp(&[(0, 2), (1, 2)]),
            positive_buckets: vec![1, 2, 3, 4],
            ..Histogram::default()
        };
        let mut c = HistogramChunk::new();
        c.append(1, &h).unwrap();
        let mut it = c.iter();
        assert!(it.advance());
        let mut got = Histogram::default();
        it.at_histogram(&mut got);
        assert_eq!(got.schema, 8);
        got.validate().unwrap();
        let mut fh = FloatHistogram::default();
        it.at_float_histogram(&mut fh);
        assert_eq!(fh, got.to_float());
        // Counts 1, 3, 6, 10 at 0, 1, 3, 4 merge into schema 8's buckets.
        let total: f64 = fh.positive_buckets.iter().sum();
        assert_eq!(total, 20.0);
    }
}

#[test]
fn staleness_markers() {
    let h = Histogram {
        count: 4,
        sum: 3.0,
        positive_spans: sp(&[(0, 1)]),
        positive_buckets: vec![4],
        ..Histogram::default()
    };
    let marker = Histogram {
        sum: stale_nan(),
        ..Histogram::default()
    };
    let mut c = HistogramChunk::new();
    c.append(1, &h).unwrap();
    assert!(matches!(c.append(2, &marker).unwrap(), Appended::InPlace));
    assert!(matches!(c.append(3, &marker).unwrap(), Appended::InPlace));
    // Nothing but markers may follow a marker in the same chunk.
    let got = c.append(4, &h).unwrap();
    assert_eq!(expect(&got), Expect::New(CounterResetHeader::Unknown));
    let samples = collect(&c);
    assert_eq!(samples.len(), 3);
    assert!(samples[1..].iter().all(|(_, h)| is_stale_nan(h.sum)));
    // A reopened chunk ending in a marker behaves the same.
    let mut r = HistogramChunk::from_bytes(c.bytes()).unwrap();
    assert_eq!(
        expect(&r.append(4, &h).unwrap()),
        Expect::New(CounterResetHeader::Unknown)
    );
    assert!(matches!(r.append(4, &marker).unwrap(), Appended::InPlace));
    // A marker may start a chunk.
    let mut c = HistogramChunk::new();
    c.append(1, &marker).unwrap();
    assert!(is_stale_nan(collect(&c)[0].1.sum));
}

#[test]
fn full_chunk_is_cut_with_prometheus_header() {
    // Bucket k holds i²(k+1)+k observations at step i: all counts grow, and the
    // delta-of-deltas stay nonzero so the chunk fills in a few dozen samples.
    let h = |i: u64| Histogram {
        count: i * i * 5050 + 4950,
        sum: i as f64 * 0.1,
        positive_spans: sp(&[(-50, 100)]),
        positive_buckets: (0..100)
            .map(|k| (i * i + u64::from(k > 0)) as i64)
            .collect(),
        ..Histogram::default()
    };
    let mut c = HistogramChunk::new();
    let mut i = 0;
    let cut = loop {
        let full = c.is_full();
        match c.append(i as i64 * 1000, &h(i)).unwrap() {
            Appended::NewChunk(n) => {
                assert!(full);
                break n;
            }
            Appended::InPlace => assert!(!full),
            Appended::Recoded => panic!("layout is fixed"),
        }
        i += 1;
    };
    assert!(c.bytes().len() >= 2 * TARGET_BYTES_PER_HISTOGRAM_CHUNK);
    assert!(c.num_samples() >= MIN_SAMPLES_PER_HISTOGRAM_CHUNK);
    assert_eq!(c.num_samples() as u64, i);
    assert_eq!(
        cut.counter_reset_header(),
        CounterResetHeader::NotCounterReset
    );
    assert_eq!(cut.num_samples(), 1);
    // A reset at the cut still says so.
    let got = c
        .append(i as i64 * 1000, &Histogram { count: 0, ..h(0) })
        .unwrap();
    assert_eq!(expect(&got), Expect::New(CounterResetHeader::CounterReset));
}

#[test]
fn invalid_histograms_are_rejected() {
    let mut c = HistogramChunk::new();
    let bad = Histogram {
        positive_spans: sp(&[(0, 3)]),
        positive_buckets: vec![1, 2],
        ..Histogram::default()
    };
    assert!(matches!(c.append(1, &bad), Err(Error::InvalidHistogram(_))));
    assert_eq!(c.num_samples(), 0);
    let backwards = Histogram {
        positive_spans: sp(&[(0, 1), (-3, 1)]),
        positive_buckets: vec![1, 0],
        ..Histogram::default()
    };
    assert!(matches!(
        c.append(1, &backwards),
        Err(Error::InvalidHistogram(_))
    ));
    assert_eq!(c.bytes(), HistogramChunk::new().bytes());
}

#[test]
fn header_get_set() {
    let mut c = HistogramChunk::new();
    c.append(1, &golden_samples()[0].1).unwrap();
    for h in [
        CounterResetHeader::CounterReset,
        CounterResetHeader::NotCounterReset,
        CounterResetHeader::Gauge,
        CounterResetHeader::Unknown,
    ] {
        c.set_counter_reset_header(h);
        assert_eq!(c.counter_reset_header(), h);
        assert_eq!(c.iter().counter_reset_header(), h);
        assert_eq!(c.bytes()[2] & 0x3f, 0);
        assert_eq!(
            HistogramChunk::from_bytes(c.bytes())
                .unwrap()
                .counter_reset_header(),
            h
        );
    }
    // An empty chunk keeps its header through a reopen.
    let mut e = HistogramChunk::new();
    e.set_counter_reset_header(CounterResetHeader::CounterReset);
    let e = HistogramChunk::from_bytes(e.bytes()).unwrap();
    assert_eq!(e.counter_reset_header(), CounterResetHeader::CounterReset);
    assert_eq!(e.bytes(), [0, 0, 0x80]);
}

#[test]
fn truncated_chunks_are_errors_not_panics() {
    let full = HistogramChunk::from_bytes(&bytes_of(GOLDEN)).unwrap();
    assert_eq!(full.bytes(), bytes_of(GOLDEN));
    for n in 0..full.bytes().len() {
        let b = &full.bytes()[..n];
        if n < HEADER_SIZE {
            assert!(HistogramIterator::new(b).is_err());
            assert!(HistogramChunk::from_bytes(b).is_err());
            continue;
        }
        let mut it = HistogramIterator::new(b).unwrap();
        let mut read = 0;
        while it.advance() {
            read += 1;
        }
        assert!(read < 3);
        assert!(it.err().is_some(), "{n}");
        assert!(HistogramChunk::from_bytes(b).is_err());
    }
}

#[test]
fn corrupt_layouts_are_errors() {
    // A span claiming 2^32-1 buckets must not make the reader allocate them.
    let mut w = crate::bstream::BitWriter::from_bytes(vec![0, 1, 0], 0);
    w.write_byte(0); // zero threshold 0
    crate::varbit::put_varbit_int(&mut w, 0); // schema 0
    crate::varbit::put_varbit_uint(&mut w, 1);
    crate::varbit::put_varbit_uint(&mut w, u32::MAX as u64);
    crate::varbit::put_varbit_int(&mut w, 0);
    crate::varbit::put_varbit_uint(&mut w, 0);
    let mut it = HistogramIterator::new(w.bytes()).unwrap();
    assert!(!it.advance());
    assert!(matches!(it.err(), Some(Error::Corrupt(m)) if m.contains("buckets")));
    // A sample count far beyond the data.
    let mut b = bytes_of(GOLDEN);
    b[0] = 0xff;
    assert!(HistogramChunk::from_bytes(&b).is_err());
}

fn bytes_of(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(mut it) = HistogramIterator::new(&b) {
            let mut h = Histogram::default();
            let mut fh = FloatHistogram::default();
            while it.advance() {
                it.at_histogram(&mut h);
                it.at_float_histogram(&mut fh);
            }
        }
        if let Ok(mut c) = HistogramChunk::from_bytes(&b) {
            let _ = c.append(i64::MAX, &golden_samples()[0].1);
        }
    }

    #[test]
    fn mutated_chunks_never_panic(flips in prop::collection::vec((0usize..23, 0u8..8), 1..4)) {
        let mut b = bytes_of(GOLDEN);
        for (i, bit) in flips {
            b[i] ^= 1 << bit;
        }
        if let Ok(mut c) = HistogramChunk::from_bytes(&b) {
            for (t, h) in golden_samples() {
                let _ = c.append(t, &h);
            }
        }
    }

    #[test]
    fn series_round_trip(st in steps(100)) {
        run_series::<HistogramChunk>(&series(&st, false), false)?;
    }

    #[test]
    fn gauge_series_round_trip(st in steps(60)) {
        run_series::<HistogramChunk>(&series(&st, true), true)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn long_series_are_cut_for_size(st in calm_steps(400), gauge in any::<bool>()) {
        run_series::<HistogramChunk>(&series(&st, gauge), gauge)?;
    }
}
