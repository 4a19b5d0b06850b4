//! `convert_classic_histograms_to_nhcb`: a classic histogram's `_bucket`, `_sum` and
//! `_count` series, as a scrape exposes them one after another, become one native
//! histogram with custom buckets (schema -53) under the family's name, as
//! Prometheus 3.x's `NHCBParser` and `convertnhcb` do: only families declared
//! `# TYPE … histogram`, grouped while the name and the labels other than `le`
//! stay the same, cumulative counts turned into per-bucket ones, an integer
//! histogram when every count is whole and a float one otherwise; a group that does
//! not convert (counts not cumulative, a count that disagrees with the `+Inf`
//! bucket) yields nothing. The classic series are kept too with
//! `always_scrape_classic_histograms`.

use crate::scrape_loop::NativeHist;
use ember_exposition::MetricType;
use ember_exposition::Series;
use ember_model::histogram::{CUSTOM_BUCKETS_SCHEMA, FloatHistogram, Histogram, Span};
use ember_model::{Labels, LabelsBuilder};

/// Runs of at most this many empty buckets stay inside a span of an integer
/// histogram (Prometheus's `Compact(2)`); float histograms drop every empty bucket.
const INT_MAX_EMPTY: usize = 2;

/// A converted histogram ready to append.
#[derive(Debug)]
pub(crate) struct Converted {
    /// The family's labels without `le` (before target labels and relabeling).
    pub(crate) labels: Labels,
    /// When the group's first series was scraped.
    pub(crate) timestamp_ms: Option<i64>,
    pub(crate) h: NativeHist,
}

/// Collects a scrape's classic histogram series.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    /// The latest `# TYPE` line: family name and type.
    family: Option<(String, MetricType)>,
    pending: Option<Pending>,
    /// Label sets that already have an exponential native histogram in this
    /// scrape: their classic series are not converted (Prometheus's inhibiting).
    natives: Vec<Labels>,
}

#[derive(Debug)]
struct Pending {
    labels: Labels,
    timestamp_ms: Option<i64>,
    hist: Temp,
}

impl Collector {
    /// A collector that leaves the classic series of these native histograms alone.
    pub(crate) fn new(natives: Vec<Labels>) -> Self {
        Collector {
            natives,
            ..Default::default()
        }
    }

    /// A `# TYPE` line: ends the group being collected.
    pub(crate) fn declare(&mut self, name: &str, t: MetricType) -> Option<Converted> {
        let done = self.finish();
        self.family = Some((name.to_string(), t));
        done
    }

    /// Ends the group being collected (another kind of line, or the end).
    pub(crate) fn finish(&mut self) -> Option<Converted> {
        let p = self.pending.take()?;
        let h = p.hist.convert().ok()?;
        Some(Converted {
            labels: p.labels,
            timestamp_ms: p.timestamp_ms,
            h,
        })
    }

    /// Offers a series: returns the group it ended, if any, and whether the series
    /// is part of a classic histogram being converted.
    pub(crate) fn offer(&mut self, s: &Series<'_>) -> (Option<Converted>, bool) {
        let part = self.part(s);
        let ends = match (&self.pending, &part) {
            (Some(p), Some((labels, _))) => p.labels != *labels,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let done = if ends { self.finish() } else { None };
        let Some((labels, which)) = part else {
            return (done, false);
        };
        let p = self.pending.get_or_insert_with(|| Pending {
            labels,
            timestamp_ms: s.timestamp_ms,
            hist: Temp::default(),
        });
        match which {
            Part::Bucket(le) => p.hist.set_bucket(le, s.value),
            Part::Count => p.hist.set_count(s.value),
            Part::Sum => p.hist.sum = s.value,
        }
        (done, true)
    }

    /// The family labels and the role of `s` when it belongs to a classic histogram
    /// of the declared family.
    fn part(&self, s: &Series<'_>) -> Option<(Labels, Part)> {
        let (family, t) = self.family.as_ref()?;
        if *t != MetricType::Histogram {
            return None;
        }
        let name = s.name.unescape();
        let (base, which) = if let Some(b) = name.strip_suffix("_bucket") {
            (b, None)
        } else if let Some(b) = name.strip_suffix("_count") {
            (b, Some(Part::Count))
        } else if let Some(b) = name.strip_suffix("_sum") {
            (b, Some(Part::Sum))
        } else {
            return None;
        };
        if base != family {
            return None;
        }
        let all = s.to_labels().ok()?;
        let which = match which {
            Some(w) => w,
            None => {
                let le = all.get("le")?.parse::<f64>().ok().filter(|f| !f.is_nan())?;
                Part::Bucket(le)
            }
        };
        let mut b = LabelsBuilder::new(all);
        b.del("le");
        b.set("__name__", base);
        let labels = b.into_labels();
        if self.natives.contains(&labels) {
            return None;
        }
        Some((labels, which))
    }
}

#[derive(Debug, Clone, Copy)]
enum Part {
    Bucket(f64),
    Count,
    Sum,
}

/// Prometheus's `convertnhcb.TempHistogram`.
#[derive(Debug, Default)]
struct Temp {
    /// (upper bound, cumulative count), sorted by bound.
    buckets: Vec<(f64, f64)>,
    count: Option<f64>,
    sum: f64,
    err: Option<String>,
}

impl Temp {
    fn set_bucket(&mut self, le: f64, count: f64) {
        if self.err.is_some() {
            return;
        }
        if count < 0.0 {
            self.err = Some(format!(
                "bucket count must be non-negative: le={le}, count={count}"
            ));
            return;
        }
        let i = self.buckets.partition_point(|b| b.0 < le);
        if self.buckets.get(i).is_some_and(|b| b.0 == le) {
            return; // a duplicate: the first one counts
        }
        if i > 0 && count < self.buckets[i - 1].1 {
            self.err = Some("count is not cumulative".into());
            return;
        }
        if self.buckets.get(i).is_some_and(|b| count > b.1) {
            self.err = Some("count is not cumulative".into());
            return;
        }
        self.buckets.insert(i, (le, count));
    }

    fn set_count(&mut self, count: f64) {
        if self.err.is_none() && count < 0.0 {
            self.err = Some("count must be non-negative".into());
        }
        self.count = Some(count);
    }

    fn convert(mut self) -> Result<NativeHist, String> {
        if let Some(e) = self.err {
            return Err(e);
        }
        let count = match self.count {
            Some(c) => c,
            None => self.buckets.last().map_or(0.0, |b| b.1),
        };
        if self.buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
            self.buckets.push((f64::INFINITY, count));
        }
        let last = self.buckets[self.buckets.len() - 1].1;
        if count != last {
            return Err(format!(
                "count mismatch: count={count} != le=+Inf count={last}"
            ));
        }
        let custom_values: Vec<f64> = self.buckets[..self.buckets.len() - 1]
            .iter()
            .map(|b| b.0)
            .collect();
        let mut prev = 0.0;
        let per_bucket: Vec<f64> = self
            .buckets
            .iter()
            .map(|b| {
                let d = b.1 - prev;
                prev = b.1;
                d
            })
            .collect();
        let whole = |f: f64| f == f.round() && f.abs() < 9.0e15;
        if self.buckets.iter().all(|b| whole(b.1)) && whole(count) {
            let (positive_spans, kept) = compact(&per_bucket, INT_MAX_EMPTY);
            let mut prev = 0i64;
            let positive_buckets = kept
                .iter()
                .map(|c| {
                    let c = *c as i64;
                    let d = c - prev;
                    prev = c;
                    d
                })
                .collect();
            let h = Histogram {
                schema: CUSTOM_BUCKETS_SCHEMA,
                count: count as u64,
                sum: self.sum,
                positive_spans,
                positive_buckets,
                custom_values,
                ..Default::default()
            };
            h.validate()?;
            Ok(NativeHist::Int(h))
        } else {
            let (positive_spans, positive_buckets) = compact(&per_bucket, 0);
            let h = FloatHistogram {
                schema: CUSTOM_BUCKETS_SCHEMA,
                count,
                sum: self.sum,
                positive_spans,
                positive_buckets,
                custom_values,
                ..Default::default()
            };
            Ok(NativeHist::Float(h))
        }
    }
}

/// Spans over the non-empty buckets of `counts` (indexed from 0), keeping runs of
/// at most `max_empty` empty buckets inside a span, and the counts the spans cover:
/// Prometheus's `Compact` of a histogram whose buckets form one span.
fn compact(counts: &[f64], max_empty: usize) -> (Vec<Span>, Vec<f64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut kept = Vec::new();
    let mut last: Option<usize> = None;
    for (i, &c) in counts.iter().enumerate() {
        if c == 0.0 {
            continue;
        }
        match last {
            Some(l) if i - l - 1 <= max_empty => {
                let gap = i - l - 1;
                kept.extend(std::iter::repeat_n(0.0, gap));
                if let Some(s) = spans.last_mut() {
                    s.length += gap as u32 + 1;
                }
            }
            Some(l) => spans.push(Span {
                offset: (i - l - 1) as i32,
                length: 1,
            }),
            None => spans.push(Span {
                offset: i as i32,
                length: 1,
            }),
        }
        kept.push(c);
        last = Some(i);
    }
    (spans, kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_exposition::{Entry, Format, Parser};

    fn convert(text: &str, natives: Vec<Labels>) -> (Vec<Converted>, Vec<String>) {
        let mut p = Parser::new(text.as_bytes(), Format::Text);
        let mut c = Collector::new(natives);
        let (mut out, mut passed) = (Vec::new(), Vec::new());
        while let Some(e) = p.next_entry().unwrap() {
            match e {
                Entry::Type { name, metric_type } => {
                    out.extend(c.declare(&name.unescape(), metric_type));
                }
                Entry::Series(s) => {
                    let (done, part) = c.offer(&s);
                    out.extend(done);
                    if !part {
                        passed.push(s.name.unescape().into_owned());
                    }
                }
                _ => out.extend(c.finish()),
            }
        }
        out.extend(c.finish());
        (out, passed)
    }

    const TEXT: &str = "# TYPE req histogram\n\
req_bucket{le=\"0.1\",path=\"/a\"} 2\n\
req_bucket{le=\"0.5\",path=\"/a\"} 2\n\
req_bucket{le=\"1\",path=\"/a\"} 5\n\
req_bucket{le=\"+Inf\",path=\"/a\"} 6\n\
req_sum{path=\"/a\"} 3.5\n\
req_count{path=\"/a\"} 6\n\
req_bucket{le=\"0.1\",path=\"/b\"} 0.5\n\
req_bucket{le=\"+Inf\",path=\"/b\"} 1.5\n\
req_sum{path=\"/b\"} 1\n\
req_count{path=\"/b\"} 1.5\n\
# TYPE other gauge\n\
other 1\n";

    #[test]
    fn classic_series_become_custom_bucket_histograms() {
        let (out, passed) = convert(TEXT, Vec::new());
        assert_eq!(passed, ["other"]);
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0].labels,
            Labels::from_pairs([("__name__", "req"), ("path", "/a")])
        );
        let NativeHist::Int(h) = &out[0].h else {
            panic!("whole counts give an integer histogram")
        };
        assert_eq!(h.schema, CUSTOM_BUCKETS_SCHEMA);
        assert_eq!((h.count, h.sum), (6, 3.5));
        assert_eq!(h.custom_values, [0.1, 0.5, 1.0]);
        // Per bucket 2, 0, 3, 1: one span (a single empty bucket stays inside it),
        // delta-encoded.
        assert_eq!(
            h.positive_spans,
            [Span {
                offset: 0,
                length: 4
            }]
        );
        assert_eq!(h.positive_buckets, [2, -2, 3, -2]);
        let NativeHist::Float(f) = &out[1].h else {
            panic!("fractional counts give a float histogram")
        };
        assert_eq!((f.count, f.sum), (1.5, 1.0));
        assert_eq!(f.custom_values, [0.1]);
        assert_eq!(f.positive_buckets, [0.5, 1.0]);
    }

    #[test]
    fn bad_groups_and_natives_are_left_alone() {
        let text = "# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"2\"} 3\nh_count 5\n";
        let (out, passed) = convert(text, Vec::new());
        assert!(out.is_empty(), "not cumulative: nothing");
        assert!(passed.is_empty(), "the classic series were still taken");
        let text = "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 4\nh_count 5\n";
        assert!(convert(text, Vec::new()).0.is_empty(), "count mismatch");
        // Untyped families and other types are not converted.
        let text = "h_bucket{le=\"+Inf\"} 4\n# TYPE g summary\ng_count 1\n";
        let (out, passed) = convert(text, Vec::new());
        assert!(out.is_empty());
        assert_eq!(passed.len(), 2);
        // A native histogram of the same series inhibits the conversion.
        let natives = vec![Labels::from_pairs([("__name__", "req"), ("path", "/a")])];
        let (out, _) = convert(TEXT, natives);
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].labels,
            Labels::from_pairs([("__name__", "req"), ("path", "/b")])
        );
    }

    #[test]
    fn compaction_like_prometheus() {
        let (s, k) = compact(&[0.0, 1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 3.0, 0.0], 2);
        assert_eq!(
            s,
            [
                Span {
                    offset: 1,
                    length: 1
                },
                Span {
                    offset: 3,
                    length: 4
                }
            ]
        );
        assert_eq!(k, [1.0, 2.0, 0.0, 0.0, 3.0]);
        let (s, k) = compact(&[1.0, 0.0, 2.0], 0);
        assert_eq!(
            s,
            [
                Span {
                    offset: 0,
                    length: 1
                },
                Span {
                    offset: 1,
                    length: 1
                }
            ]
        );
        assert_eq!(k, [1.0, 2.0]);
        assert!(compact(&[0.0, 0.0], 2).0.is_empty());
    }
}
