//! Owned metric families: what a whole exposition parses into and what the writers
//! take.

use ember_model::labels::Label;

use crate::error::Error;
use crate::parser::{Entry, Parser};
use crate::types::{Format, MetricType};

/// A metric family: metadata and the samples that belong to it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct MetricFamily {
    /// The family's name, as the metadata lines name it (for OpenMetrics counters
    /// without `_total`).
    pub name: String,
    /// Help text, unescaped, if a `# HELP` line gave one.
    pub help: Option<String>,
    /// The declared type; [`MetricType::Unknown`] when none was declared.
    pub metric_type: MetricType,
    /// The unit, if a `# UNIT` line gave one (OpenMetrics).
    pub unit: Option<String>,
    /// The samples, in input order, `_created` series included.
    pub samples: Vec<Sample>,
}

/// One sample of a family.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Sample {
    /// The series' metric name, including any suffix (`_bucket`, `_total`, …).
    pub name: String,
    /// Labels other than the name, unescaped, in input order; values of `le` and
    /// `quantile` exactly as written.
    pub labels: Vec<Label>,
    /// The value.
    pub value: f64,
    /// Timestamp in milliseconds.
    pub timestamp_ms: Option<i64>,
    /// An exemplar (written by OpenMetrics only).
    pub exemplar: Option<Exemplar>,
}

/// An exemplar: a sample of a trace or event that contributed to a value.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Exemplar {
    /// Its labels (e.g. `trace_id`), unescaped, in input order.
    pub labels: Vec<Label>,
    /// Its value.
    pub value: f64,
    /// Timestamp in milliseconds.
    pub timestamp_ms: Option<i64>,
}

impl MetricFamily {
    /// An empty family.
    pub fn new(name: impl Into<String>, metric_type: MetricType) -> Self {
        MetricFamily {
            name: name.into(),
            metric_type,
            ..MetricFamily::default()
        }
    }

    /// Whether a sample called `sample_name` belongs to this family: its name, or its
    /// name plus a suffix the type allows (`_total`, `_bucket`, `_created`, …).
    pub fn accepts(&self, sample_name: &str) -> bool {
        match sample_name.strip_prefix(self.name.as_str()) {
            Some("") => true,
            Some(rest) => self.metric_type.suffixes().contains(&rest),
            None => false,
        }
    }

    /// The start timestamp of `sample` in milliseconds, from the family's matching
    /// `_created` series (same labels, `le` and `quantile` aside), as Prometheus's
    /// `StartTimestamp` finds it.
    pub fn start_timestamp_ms(&self, sample: &Sample) -> Option<i64> {
        if !self.metric_type.has_created() || sample.name.ends_with("_created") {
            return None;
        }
        let base = self.name.strip_suffix("_total").unwrap_or(&self.name);
        let created = format!("{base}_created");
        let skip = match self.metric_type {
            MetricType::Histogram => "le",
            MetricType::Summary => "quantile",
            _ => "",
        };
        let want = label_key(&sample.labels, skip);
        let c = self
            .samples
            .iter()
            .find(|s| s.name == created && label_key(&s.labels, skip) == want)?;
        // As Prometheus: int64(seconds * 1000), saturating here.
        Some((c.value * 1000.0) as i64)
    }
}

/// Labels less `skip`, sorted, for comparing label sets written in any order.
fn label_key<'l>(labels: &'l [Label], skip: &str) -> Vec<&'l Label> {
    let mut v: Vec<&Label> = labels.iter().filter(|l| l.name != skip).collect();
    v.sort();
    v
}

impl Sample {
    /// A sample without labels, timestamp or exemplar.
    pub fn new(name: impl Into<String>, value: f64) -> Self {
        Sample {
            name: name.into(),
            value,
            ..Sample::default()
        }
    }
}

/// Parses a whole exposition into families, or fails as a whole: a malformed payload
/// yields its first error and nothing of it is kept, as a failed scrape appends
/// nothing.
///
/// Samples join the family of the metadata before them when their name is the
/// family's or a suffix its type allows; any other sample starts a family of its own
/// with no metadata. Comments are dropped.
pub fn parse(input: &[u8], format: Format) -> Result<Vec<MetricFamily>, Error> {
    let mut p = Parser::new(input, format);
    let mut out: Vec<MetricFamily> = Vec::new();
    // Whether each family's type was declared, to tell a second `# TYPE` apart.
    let mut typed: Vec<bool> = Vec::new();
    while let Some(entry) = p.next_entry()? {
        match entry {
            Entry::Help { name, help } => {
                let i = meta_family(&mut out, &mut typed, &name.unescape(), |f, _| {
                    f.help.is_none()
                });
                if let Some(f) = out.get_mut(i) {
                    f.help = Some(help.unescape().into_owned());
                }
            }
            Entry::Type { name, metric_type } => {
                let i = meta_family(&mut out, &mut typed, &name.unescape(), |_, t| !t);
                if let Some(f) = out.get_mut(i) {
                    f.metric_type = metric_type;
                }
                if let Some(t) = typed.get_mut(i) {
                    *t = true;
                }
            }
            Entry::Unit { name, unit } => {
                let i = meta_family(&mut out, &mut typed, &name.unescape(), |f, _| {
                    f.unit.is_none()
                });
                if let Some(f) = out.get_mut(i) {
                    f.unit = Some(unit.to_owned());
                }
            }
            Entry::Comment(_) => {}
            Entry::Series(s) => {
                let name = s.name.unescape().into_owned();
                let fits = out.last().is_some_and(|f| f.accepts(&name));
                if !fits {
                    out.push(MetricFamily::new(name.clone(), MetricType::Unknown));
                    typed.push(false);
                }
                let sample = Sample {
                    name,
                    labels: s
                        .labels
                        .iter()
                        .map(|l| Label {
                            name: l.name.unescape().into_owned(),
                            value: l.value.unescape().into_owned(),
                        })
                        .collect(),
                    value: s.value,
                    timestamp_ms: s.timestamp_ms,
                    exemplar: s.exemplar.map(|e| Exemplar {
                        labels: e
                            .labels
                            .iter()
                            .map(|l| Label {
                                name: l.name.unescape().into_owned(),
                                value: l.value.unescape().into_owned(),
                            })
                            .collect(),
                        value: e.value,
                        timestamp_ms: e.timestamp_ms,
                    }),
                };
                if let Some(f) = out.last_mut() {
                    f.samples.push(sample);
                }
            }
        }
    }
    Ok(out)
}

/// The family a metadata line for `name` belongs to: the current one if it has that
/// name, no samples yet and the field still free; otherwise a new one.
fn meta_family(
    out: &mut Vec<MetricFamily>,
    typed: &mut Vec<bool>,
    name: &str,
    free: impl Fn(&MetricFamily, bool) -> bool,
) -> usize {
    if let (Some(f), Some(&t)) = (out.last(), typed.last())
        && f.name == name
        && f.samples.is_empty()
        && free(f, t)
    {
        return out.len() - 1;
    }
    out.push(MetricFamily::new(name, MetricType::Unknown));
    typed.push(false);
    out.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_openmetrics_families() {
        let input = b"# HELP foo A counter.\n# TYPE foo counter\n# UNIT foo \nfoo_total{a=\"b\"} 1 # {id=\"x\"} 2 3\nfoo_created{a=\"b\"} 1520872607.123\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 3\nh_count 3\nh_sum 1.5\nh_created 10\nother 1\n# EOF\n";
        let fams = parse(input, Format::OpenMetrics).unwrap();
        assert_eq!(fams.len(), 3);
        let foo = &fams[0];
        assert_eq!(foo.name, "foo");
        assert_eq!(foo.help.as_deref(), Some("A counter."));
        assert_eq!(foo.metric_type, MetricType::Counter);
        assert_eq!(foo.unit.as_deref(), Some(""));
        assert_eq!(foo.samples.len(), 2);
        let ex = foo.samples[0].exemplar.as_ref().unwrap();
        assert_eq!(ex.labels, vec![Label::new("id", "x")]);
        assert_eq!((ex.value, ex.timestamp_ms), (2.0, Some(3000)));
        assert_eq!(foo.start_timestamp_ms(&foo.samples[0]), Some(1520872607123));
        let h = &fams[1];
        assert_eq!(h.samples.len(), 4);
        assert_eq!(h.start_timestamp_ms(&h.samples[0]), Some(10000));
        assert_eq!(fams[2].name, "other");
        assert_eq!(fams[2].metric_type, MetricType::Unknown);
    }

    #[test]
    fn groups_text_families_with_help_after_type() {
        let input = b"# TYPE a_total counter\n# HELP a_total Help.\na_total 1\n# HELP a_total Again.\na_total 2\nb 1\nb{x=\"y\"} 2\n";
        let fams = parse(input, Format::Text).unwrap();
        let names: Vec<_> = fams.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a_total", "a_total", "b"]);
        assert_eq!(fams[0].help.as_deref(), Some("Help."));
        assert_eq!(fams[0].metric_type, MetricType::Counter);
        assert_eq!(fams[1].help.as_deref(), Some("Again."));
        assert_eq!(fams[2].samples.len(), 2);
    }

    #[test]
    fn fails_as_a_whole() {
        assert!(parse(b"a 1\nb 2\nc x\n", Format::Text).is_err());
        assert!(parse(b"a 1\n", Format::OpenMetrics).is_err());
    }

    #[test]
    fn unescapes_names_and_values() {
        let fams = parse(br#"{"a.b\"c",x="1\n2","y\\z"="w"} 1"#, Format::Text).unwrap();
        let s = &fams[0].samples[0];
        assert_eq!(s.name, "a.b\"c");
        assert_eq!(
            s.labels,
            vec![Label::new("x", "1\n2"), Label::new("y\\z", "w")]
        );
    }
}
