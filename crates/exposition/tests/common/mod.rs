//! Helpers shared by the integration tests.

#![allow(dead_code)]

use ember_exposition::{Format, MetricFamily, Sample};

/// Floats equal as values, with every NaN equal to every other.
pub(crate) fn same_float(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

fn same_sample(a: &Sample, b: &Sample, format: Format) -> bool {
    let exemplars = match (&a.exemplar, &b.exemplar) {
        _ if format == Format::Text => true,
        (None, None) => true,
        (Some(x), Some(y)) => {
            x.labels == y.labels && same_float(x.value, y.value) && x.timestamp_ms == y.timestamp_ms
        }
        _ => false,
    };
    a.name == b.name
        && a.labels == b.labels
        && same_float(a.value, b.value)
        && a.timestamp_ms == b.timestamp_ms
        && exemplars
}

/// Checks that two parses hold the same samples in the same order (exemplars only
/// for OpenMetrics, which is the only format that carries them).
pub(crate) fn same_samples(
    a: &[MetricFamily],
    b: &[MetricFamily],
    format: Format,
) -> Result<(), String> {
    let xs: Vec<&Sample> = a.iter().flat_map(|f| &f.samples).collect();
    let ys: Vec<&Sample> = b.iter().flat_map(|f| &f.samples).collect();
    if xs.len() != ys.len() {
        return Err(format!("{} samples became {}", xs.len(), ys.len()));
    }
    for (x, y) in xs.iter().zip(&ys) {
        if !same_sample(x, y, format) {
            return Err(format!("{x:?}\nbecame\n{y:?}"));
        }
    }
    Ok(())
}

/// Parses, writes in the same format, parses again; returns the first parse.
pub(crate) fn round_trip(input: &[u8], format: Format) -> Result<Vec<MetricFamily>, String> {
    let first = ember_exposition::parse(input, format).map_err(|e| format!("parse: {e}"))?;
    let mut out = Vec::new();
    ember_exposition::write(&mut out, &first, format);
    let second = ember_exposition::parse(&out, format).map_err(|e| {
        format!(
            "re-parse: {e}\n--- written ---\n{}",
            String::from_utf8_lossy(&out)
        )
    })?;
    same_samples(&first, &second, format)?;
    Ok(first)
}

/// Number of samples in `families`.
pub(crate) fn sample_count(families: &[MetricFamily]) -> usize {
    families.iter().map(|f| f.samples.len()).sum()
}
