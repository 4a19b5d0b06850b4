//! Sample values and the staleness marker.

use crate::Labels;

/// The bit pattern of Prometheus's staleness marker: a NaN no arithmetic produces,
/// written when a series disappears so that queries stop returning it at once.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker as a float.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Whether `v` is the staleness marker (compared bitwise: any other NaN is a value).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// An exemplar: a trace reference attached to a sample.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Exemplar {
    /// Exemplar labels (e.g. `trace_id`).
    pub labels: Labels,
    /// Observed value.
    pub value: f64,
    /// Timestamp in milliseconds, when the exposition gave one.
    pub ts: Option<i64>,
}

/// The type of a metric family, as declared by `# TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum MetricType {
    /// No type given (`untyped` in text 0.0.4, `unknown` in OpenMetrics).
    #[default]
    Unknown,
    /// Monotonic counter.
    Counter,
    /// Gauge.
    Gauge,
    /// Histogram (classic or native).
    Histogram,
    /// Gauge histogram (OpenMetrics).
    GaugeHistogram,
    /// Summary.
    Summary,
    /// Info (OpenMetrics).
    Info,
    /// State set (OpenMetrics).
    StateSet,
}

impl MetricType {
    /// The name used in Prometheus's metadata API.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Unknown => "unknown",
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
        }
    }
}

/// Per-metric metadata, as kept by scrape and stored in the WAL.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Metadata {
    /// Metric type.
    pub metric_type: MetricType,
    /// Unit (OpenMetrics `# UNIT`).
    pub unit: String,
    /// Help text.
    pub help: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_marker_is_distinct_nan() {
        assert!(is_stale_nan(stale_nan()));
        assert!(stale_nan().is_nan());
        assert!(!is_stale_nan(f64::NAN));
    }
}
