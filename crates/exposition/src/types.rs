//! Metric types and formats.

use std::fmt;

use crate::error::Error;

/// A metric family's type, as `# TYPE` declares it.
///
/// The text format's `untyped` and OpenMetrics' `unknown` are the same thing
/// ([`MetricType::Unknown`]), as in Prometheus's `model.MetricType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum MetricType {
    /// A monotonic counter.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A classic histogram (`_bucket`, `_sum`, `_count`).
    Histogram,
    /// A histogram of a gauge (OpenMetrics only).
    GaugeHistogram,
    /// Quantiles with `_sum` and `_count`.
    Summary,
    /// Key-value information as labels of an `_info` series (OpenMetrics only).
    Info,
    /// A set of boolean states (OpenMetrics only).
    StateSet,
    /// No type given: `untyped` in the text format, `unknown` in OpenMetrics.
    #[default]
    Unknown,
}

impl MetricType {
    /// Prometheus's name for the type (`model.MetricType`), which is also the
    /// OpenMetrics spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }

    /// The spelling the text format uses. The text format has no gauge histograms,
    /// infos or statesets: they are written as the nearest type it has (`histogram`,
    /// `untyped`), as `expfmt` does for gauge histograms.
    pub fn text_name(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram | MetricType::GaugeHistogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Info | MetricType::StateSet | MetricType::Unknown => "untyped",
        }
    }

    /// Reads a `# TYPE` word of the text format.
    pub fn from_text(word: &[u8]) -> Option<MetricType> {
        Some(match word {
            b"counter" => MetricType::Counter,
            b"gauge" => MetricType::Gauge,
            b"histogram" => MetricType::Histogram,
            b"summary" => MetricType::Summary,
            b"untyped" => MetricType::Unknown,
            _ => return None,
        })
    }

    /// Reads a `# TYPE` word of OpenMetrics.
    pub fn from_openmetrics(word: &[u8]) -> Option<MetricType> {
        Some(match word {
            b"counter" => MetricType::Counter,
            b"gauge" => MetricType::Gauge,
            b"histogram" => MetricType::Histogram,
            b"gaugehistogram" => MetricType::GaugeHistogram,
            b"summary" => MetricType::Summary,
            b"info" => MetricType::Info,
            b"stateset" => MetricType::StateSet,
            b"unknown" => MetricType::Unknown,
            _ => return None,
        })
    }

    /// Whether OpenMetrics gives this type a `_created` series (and so Prometheus a
    /// start timestamp).
    pub fn has_created(self) -> bool {
        matches!(
            self,
            MetricType::Counter | MetricType::Summary | MetricType::Histogram
        )
    }

    /// The suffixes a sample name may add to its family's name under this type.
    pub fn suffixes(self) -> &'static [&'static str] {
        match self {
            MetricType::Counter => &["_total", "_created"],
            MetricType::Histogram => &["_bucket", "_count", "_sum", "_created"],
            MetricType::GaugeHistogram => &["_bucket", "_gcount", "_gsum"],
            MetricType::Summary => &["_count", "_sum", "_created"],
            MetricType::Info => &["_info"],
            MetricType::Gauge | MetricType::StateSet | MetricType::Unknown => &[],
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// The Prometheus text format, version 0.0.4.
    Text,
    /// The OpenMetrics 1.0 text format.
    OpenMetrics,
}

impl Format {
    /// The Content-Type a server sends with this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// Picks the format from a Content-Type header, as Prometheus's scrape does: the
    /// media type decides (`text/plain`, `application/openmetrics-text`), parameters
    /// such as `version` do not.
    ///
    /// A blank header, a malformed one and any other media type (the protobuf format
    /// included, which this crate does not read yet) are errors; the caller may then
    /// fall back to a configured format, as `fallback_scrape_protocol` does.
    pub fn from_content_type(content_type: &str) -> Result<Format, Error> {
        let unsupported = || Error::UnsupportedContentType {
            content_type: content_type.to_owned(),
        };
        let media = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim_matches([' ', '\t']);
        let (kind, sub) = media.split_once('/').ok_or_else(unsupported)?;
        if kind.eq_ignore_ascii_case("text") && sub.eq_ignore_ascii_case("plain") {
            Ok(Format::Text)
        } else if kind.eq_ignore_ascii_case("application")
            && sub.eq_ignore_ascii_case("openmetrics-text")
        {
            Ok(Format::OpenMetrics)
        } else {
            Err(unsupported())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            Format::from_content_type("text/plain; version=0.0.4; charset=utf-8"),
            Ok(Format::Text)
        );
        assert_eq!(Format::from_content_type("text/plain"), Ok(Format::Text));
        assert_eq!(
            Format::from_content_type("application/openmetrics-text; version=1.0.0"),
            Ok(Format::OpenMetrics)
        );
        assert_eq!(
            Format::from_content_type("Application/OpenMetrics-Text;version=0.0.1"),
            Ok(Format::OpenMetrics)
        );
        for bad in [
            "",
            "application/json",
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily",
            "garbage",
        ] {
            assert!(Format::from_content_type(bad).is_err(), "{bad}");
        }
        for f in [Format::Text, Format::OpenMetrics] {
            assert_eq!(Format::from_content_type(f.content_type()), Ok(f));
        }
    }

    #[test]
    fn type_words() {
        assert_eq!(MetricType::from_text(b"untyped"), Some(MetricType::Unknown));
        assert_eq!(MetricType::from_text(b"unknown"), None);
        assert_eq!(MetricType::from_text(b"gaugehistogram"), None);
        assert_eq!(
            MetricType::from_openmetrics(b"stateset"),
            Some(MetricType::StateSet)
        );
        assert_eq!(MetricType::from_openmetrics(b"untyped"), None);
        assert_eq!(MetricType::GaugeHistogram.text_name(), "histogram");
        assert_eq!(MetricType::Unknown.to_string(), "unknown");
    }
}
