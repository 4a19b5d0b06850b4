//! Property: whatever the writers write, the parsers read back as the same samples.

mod common;

use ember_exposition::{Exemplar, Format, MetricFamily, MetricType, Sample, parse, write};
use ember_model::labels::Label;
use proptest::prelude::*;

/// Legacy names, UTF-8 names, and names made of the characters that need escaping.
/// No NUL: Prometheus's lexer rejects it in quoted names.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}",
        "[a-z]{1,4}[.\\-/ ][a-z]{1,4}",
        "[\\PC\"\\\\\n{}=,#]{1,8}",
    ]
}

fn label_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
        "[a-z]{1,3}[.:][a-z]{1,3}",
        "[\\PC\"\\\\\n]{0,6}",
    ]
}

/// Any text, NUL included unless `nul` is false (OpenMetrics exemplar values).
fn text(nul: bool) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..10).prop_map(move |cs| {
        cs.into_iter()
            .filter(|&c| nul || c != '\0')
            .collect::<String>()
    })
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        (0u32..1_000_000).prop_map(f64::from),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(1e6),
        Just(0.0001),
    ]
}

fn labels(nul: bool) -> impl Strategy<Value = Vec<Label>> {
    proptest::collection::vec((label_name(), text(nul)), 0..4)
        .prop_map(|v| v.into_iter().map(|(n, v)| Label::new(n, v)).collect())
}

fn metric_type() -> impl Strategy<Value = MetricType> {
    prop_oneof![
        Just(MetricType::Counter),
        Just(MetricType::Gauge),
        Just(MetricType::Histogram),
        Just(MetricType::GaugeHistogram),
        Just(MetricType::Summary),
        Just(MetricType::Info),
        Just(MetricType::StateSet),
        Just(MetricType::Unknown),
    ]
}

fn family(format: Format) -> impl Strategy<Value = MetricFamily> {
    // Text timestamps are unsigned in Prometheus's grammar.
    let ts = match format {
        Format::Text => (0..=i64::MAX).boxed(),
        Format::OpenMetrics => any::<i64>().boxed(),
    };
    let exemplar = (labels(false), value(), proptest::option::of(any::<i64>())).prop_map(
        |(labels, value, timestamp_ms)| Exemplar {
            labels,
            value,
            timestamp_ms,
        },
    );
    let sample = (
        any::<prop::sample::Index>(),
        labels(true),
        value(),
        proptest::option::of(ts),
        proptest::option::of(exemplar),
    );
    (
        name(),
        metric_type(),
        proptest::option::of(text(true)),
        any::<bool>(),
        proptest::collection::vec(sample, 0..5),
    )
        .prop_map(move |(name, metric_type, help, with_unit, samples)| {
            let suffixes = metric_type.suffixes();
            let samples = samples
                .into_iter()
                .map(|(i, labels, value, timestamp_ms, exemplar)| {
                    // The family's name or one of the suffixes its type allows.
                    let k = i.index(suffixes.len() + 1);
                    let suffix = suffixes.get(k).copied().unwrap_or("");
                    Sample {
                        name: format!("{name}{suffix}"),
                        labels,
                        value,
                        timestamp_ms,
                        exemplar: if format == Format::OpenMetrics {
                            exemplar
                        } else {
                            None
                        },
                    }
                })
                .collect();
            // A unit must end the name after an underscore (OpenMetrics checks it).
            let base = if metric_type == MetricType::Counter {
                name.strip_suffix("_total").unwrap_or(&name)
            } else {
                &name
            };
            let unit = match base.rsplit_once('_') {
                Some((head, tail))
                    if with_unit
                        && !head.is_empty()
                        && !tail.is_empty()
                        && !tail.contains('\n') =>
                {
                    Some(tail.to_owned())
                }
                _ => None,
            };
            // The text format cannot tell help of only blanks from no help.
            let help = help.filter(|h| {
                format == Format::OpenMetrics || !h.chars().all(|c| c == ' ' || c == '\t')
            });
            MetricFamily {
                name,
                help,
                metric_type,
                unit,
                samples,
            }
        })
}

fn check(families: &[MetricFamily], format: Format) -> Result<(), TestCaseError> {
    let mut out = Vec::new();
    write(&mut out, families, format);
    let back = parse(&out, format).map_err(|e| {
        TestCaseError::fail(format!(
            "{e}\n--- written ---\n{}",
            String::from_utf8_lossy(&out)
        ))
    })?;
    common::same_samples(families, &back, format).map_err(TestCaseError::fail)?;
    // Help survives too: find each written family's help among the parsed ones.
    for f in families.iter().filter(|f| f.help.is_some()) {
        prop_assert!(
            back.iter().any(|b| b.help == f.help),
            "help {:?} lost",
            f.help
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn text_round_trip(families in proptest::collection::vec(family(Format::Text), 0..4)) {
        check(&families, Format::Text)?;
    }

    #[test]
    fn openmetrics_round_trip(
        families in proptest::collection::vec(family(Format::OpenMetrics), 0..4)
    ) {
        check(&families, Format::OpenMetrics)?;
    }
}

#[test]
fn written_families_group_back_with_their_metadata() {
    let mut c = MetricFamily::new("jobs_total", MetricType::Counter);
    c.help = Some("Jobs.".to_owned());
    c.samples.push(Sample::new("jobs_total", 3.0));
    c.samples.push(Sample::new("jobs_created", 1.5e9));
    let mut h = MetricFamily::new("lat_seconds", MetricType::Histogram);
    h.unit = Some("seconds".to_owned());
    let mut b = Sample::new("lat_seconds_bucket", 1.0);
    b.labels.push(Label::new("le", "+Inf"));
    h.samples.push(b);
    h.samples.push(Sample::new("lat_seconds_count", 1.0));
    let fams = vec![c, h];
    for format in [Format::Text, Format::OpenMetrics] {
        let mut out = Vec::new();
        write(&mut out, &fams, format);
        let back = parse(&out, format).unwrap();
        let shape: Vec<_> = back
            .iter()
            .map(|f| (f.name.as_str(), f.metric_type, f.samples.len()))
            .collect();
        let want_counter = if format == Format::Text {
            vec![
                ("jobs_total", MetricType::Counter, 1),
                ("jobs_created", MetricType::Unknown, 1),
            ]
        } else {
            vec![("jobs", MetricType::Counter, 2)]
        };
        let mut want = want_counter;
        want.push(("lat_seconds", MetricType::Histogram, 2));
        assert_eq!(shape, want, "{format:?}");
    }
}
