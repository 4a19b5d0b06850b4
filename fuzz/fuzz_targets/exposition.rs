//! Shared body of the exposition fuzz targets.
//!
//! Arbitrary bytes go through both layers: the pull parser, with every accessor a
//! consumer would call, must never panic; and when a whole payload parses, writing
//! it in the same format must give a payload that parses back to the same samples.

use ember_exposition::{Entry, Format, MetricFamily, Parser, Sample, parse, write};

pub fn check(data: &[u8], format: Format) {
    pull(data, format);
    let Ok(families) = parse(data, format) else {
        return;
    };
    let mut out = Vec::new();
    write(&mut out, &families, format);
    let back = match parse(&out, format) {
        Ok(b) => b,
        Err(e) => panic!(
            "written payload does not re-parse: {e}\n--- input ---\n{:?}\n--- written ---\n{:?}",
            String::from_utf8_lossy(data),
            String::from_utf8_lossy(&out)
        ),
    };
    if let Err(e) = same_samples(&families, &back, format) {
        panic!(
            "round trip changed samples: {e}\n--- input ---\n{:?}\n--- written ---\n{:?}",
            String::from_utf8_lossy(data),
            String::from_utf8_lossy(&out)
        );
    }
}

fn pull(data: &[u8], format: Format) {
    let mut p = Parser::new(data, format);
    while let Ok(Some(e)) = p.next_entry() {
        match e {
            Entry::Help { name, help } => {
                let _ = (name.unescape(), help.unescape(), help == "x");
            }
            Entry::Type { name, metric_type } => {
                let _ = (name.to_string(), metric_type.as_str());
            }
            Entry::Unit { name, unit } => {
                let _ = (name.unescape(), unit.len());
            }
            Entry::Comment(c) => {
                let _ = c.len();
            }
            Entry::Series(s) => {
                let _ = (s.to_labels(), s.is_created(), s.name.unescape());
                for l in s.labels {
                    let _ = (l.name == "le", l.value.unescape());
                }
                if let Some(e) = s.exemplar {
                    let _ = e.to_labels();
                }
            }
        }
    }
    // An error must stick, and its message must format.
    if let Err(e) = p.next_entry() {
        let _ = (e.to_string(), e.position());
    }
}

fn same_float(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

fn same_sample(a: &Sample, b: &Sample) -> bool {
    let exemplars = match (&a.exemplar, &b.exemplar) {
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

fn same_samples(a: &[MetricFamily], b: &[MetricFamily], _format: Format) -> Result<(), String> {
    let xs: Vec<&Sample> = a.iter().flat_map(|f| &f.samples).collect();
    let ys: Vec<&Sample> = b.iter().flat_map(|f| &f.samples).collect();
    if xs.len() != ys.len() {
        return Err(format!("{} samples became {}", xs.len(), ys.len()));
    }
    for (x, y) in xs.iter().zip(&ys) {
        if !same_sample(x, y) {
            return Err(format!("{x:?} became {y:?}"));
        }
    }
    Ok(())
}
