//! What collectors write into, and how a scrape's families are put in
//! client_golang's order.

use std::collections::HashMap;

use ember_exposition::{MetricFamily, MetricType, Sample};
use ember_model::labels::Label;

/// The families one collector produced in one scrape.
#[derive(Debug, Default)]
pub(crate) struct Out {
    families: Vec<MetricFamily>,
    index: HashMap<String, usize>,
}

impl Out {
    /// A gauge sample.
    pub(crate) fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.add(name, help, MetricType::Gauge, labels, value);
    }

    /// A counter sample.
    pub(crate) fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.add(name, help, MetricType::Counter, labels, value);
    }

    /// An untyped sample.
    pub(crate) fn untyped(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.add(name, help, MetricType::Unknown, labels, value);
    }

    /// A sample of family `name`, its labels sorted by name as client_golang writes
    /// them. The family keeps the help and type of its first sample.
    pub(crate) fn add(
        &mut self,
        name: &str,
        help: &str,
        metric_type: MetricType,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        let mut ls: Vec<Label> = labels.iter().map(|(n, v)| Label::new(*n, *v)).collect();
        ls.sort_by(|a, b| a.name.cmp(&b.name));
        let sample = Sample {
            name: name.to_owned(),
            labels: ls,
            value,
            ..Sample::default()
        };
        self.family(name, help, metric_type).samples.push(sample);
    }

    /// The family called `name`, created with this help and type if new.
    pub(crate) fn family(
        &mut self,
        name: &str,
        help: &str,
        metric_type: MetricType,
    ) -> &mut MetricFamily {
        // Collectors mostly write a family's samples one after another: check the
        // last family before hashing the name.
        if let Some(last) = self.families.last()
            && last.name == name
        {
            let i = self.families.len() - 1;
            return &mut self.families[i];
        }
        let i = match self.index.get(name) {
            Some(&i) => i,
            None => {
                let mut f = MetricFamily::new(name, metric_type);
                f.help = Some(help.to_owned());
                self.families.push(f);
                self.index.insert(name.to_owned(), self.families.len() - 1);
                self.families.len() - 1
            }
        };
        &mut self.families[i]
    }

    /// The families, in the order they were first written.
    pub(crate) fn into_families(self) -> Vec<MetricFamily> {
        self.families
    }
}

/// Merges families from all collectors and puts them in client_golang's order:
/// families by name, samples by label values. A family met again with another help
/// or type is dropped (client_golang's gatherer reports it and moves on), and so is a
/// series met twice.
pub(crate) fn normalize(mut parts: Vec<MetricFamily>) -> Vec<MetricFamily> {
    // A stable sort keeps families of the same name in the order they came, so the
    // first one met sets the help and type, as in client_golang. Sorting the
    // families themselves, rather than collecting them in a map, costs no key copies.
    parts.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out: Vec<MetricFamily> = Vec::with_capacity(parts.len());
    for f in parts {
        match out.last_mut() {
            Some(existing) if existing.name == f.name => {
                if existing.help == f.help && existing.metric_type == f.metric_type {
                    existing.samples.extend(f.samples);
                } else {
                    tracing::warn!(
                        family = %f.name,
                        "family collected twice with different help or type; dropping the second"
                    );
                }
            }
            _ => out.push(f),
        }
    }
    for f in &mut out {
        sort_samples(f);
    }
    out
}

fn sort_samples(f: &mut MetricFamily) {
    let skip = match f.metric_type {
        MetricType::Histogram | MetricType::GaugeHistogram => "le",
        MetricType::Summary => "quantile",
        _ => "",
    };
    fn key<'a>(s: &'a Sample, skip: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        s.labels
            .iter()
            .filter(move |l| l.name != skip)
            .map(|l| l.value.as_str())
    }
    // client_golang's metricSorter: fewer labels first, then values pairwise. The
    // keys are compared in place (no copies of the values), and the sort is stable,
    // so `le` buckets and `quantile`s keep their order. Collectors mostly write
    // their samples in order already, which the sort notices and passes through.
    f.samples.sort_by(|a, b| {
        key(a, skip)
            .count()
            .cmp(&key(b, skip).count())
            .then_with(|| key(a, skip).cmp(key(b, skip)))
    });
    if skip.is_empty() {
        let name = &f.name;
        f.samples.dedup_by(|later, kept| {
            let dup = later.name == kept.name && later.labels == kept.labels;
            if dup {
                tracing::warn!(family = %name, "series collected twice; dropping the second");
            }
            dup
        });
    }
}

/// Formats a float as Go's `strconv.FormatFloat(f, 'g', -1, 64)` with expfmt's
/// spellings of the infinities, for label values such as `le` and `quantile`.
pub(crate) fn go_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "d.ddde±x".
    let e = format!("{v:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((e.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant),
    };
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    // Go uses the exponent form when the exponent is below -4 or at least 6 (its
    // precision for the shortest representation).
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push('0');
        }
        out.push_str(&a.to_string());
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let point = exp as usize + 1;
        if digits.len() <= point {
            out.push_str(&digits);
            for _ in digits.len()..point {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_floats() {
        for (v, s) in [
            (1.0, "1"),
            (0.5, "0.5"),
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (9.214e-06, "9.214e-06"),
            (-2.5, "-2.5"),
            (f64::INFINITY, "+Inf"),
            (1.8446744073709552e19, "1.8446744073709552e+19"),
            (1e100, "1e+100"),
            (0.000178797, "0.000178797"),
        ] {
            assert_eq!(go_float(v), s, "{v}");
        }
    }

    #[test]
    fn normalizes_like_client_golang() {
        let mut a = Out::default();
        a.gauge("b", "B.", &[("x", "2")], 2.0);
        a.gauge("b", "B.", &[("x", "1")], 1.0);
        a.gauge("b", "B.", &[("x", "1")], 9.0);
        let mut b = Out::default();
        b.counter("a_total", "A.", &[("z", "1"), ("y", "2")], 1.0);
        b.gauge("b", "other help", &[("x", "0")], 0.0);
        let mut all = a.into_families();
        all.extend(b.into_families());
        let fams = normalize(all);
        assert_eq!(fams[0].name, "a_total");
        assert_eq!(fams[0].samples[0].labels[0].name, "y");
        let b = &fams[1];
        let vals: Vec<f64> = b.samples.iter().map(|s| s.value).collect();
        assert_eq!(vals, vec![1.0, 2.0]);
    }
}
