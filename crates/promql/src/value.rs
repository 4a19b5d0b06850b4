//! The values PromQL computes with: scalars, strings, instant vectors and range
//! vectors (matrices), float samples and float native histograms.

use ember_model::Labels;
use ember_model::histogram::FloatHistogram;
use std::sync::Arc;

/// A float point of a series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FPoint {
    /// Timestamp (ms).
    pub t: i64,
    /// Value.
    pub f: f64,
}

/// A histogram point of a series.
#[derive(Clone, Debug, PartialEq)]
pub struct HPoint {
    /// Timestamp (ms).
    pub t: i64,
    /// Value.
    pub h: Arc<FloatHistogram>,
}

/// One element of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Labels.
    pub metric: Labels,
    /// Timestamp (ms).
    pub t: i64,
    /// Float value (meaningless when `h` is set).
    pub f: f64,
    /// Histogram value.
    pub h: Option<Arc<FloatHistogram>>,
}

impl Sample {
    /// A float sample.
    pub fn float(metric: Labels, t: i64, f: f64) -> Self {
        Sample {
            metric,
            t,
            f,
            h: None,
        }
    }
}

/// An instant vector.
pub type Vector = Vec<Sample>;

/// A series of a range vector (or of a range query's result).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Series {
    /// Labels.
    pub metric: Labels,
    /// Float points in time order.
    pub floats: Vec<FPoint>,
    /// Histogram points in time order.
    pub histograms: Vec<HPoint>,
}

impl Series {
    /// Points held (histograms count by their size, as Prometheus's sample limit does).
    pub fn num_samples(&self) -> usize {
        self.floats.len()
            + self
                .histograms
                .iter()
                .map(|h| hist_size(&h.h))
                .sum::<usize>()
    }
}

/// What a histogram counts for against `--query.max-samples`: Prometheus counts its
/// size in units of float samples (16 bytes).
pub(crate) fn hist_size(h: &FloatHistogram) -> usize {
    (std::mem::size_of::<FloatHistogram>()
        + 8 * (h.positive_buckets.len() + h.negative_buckets.len()))
        / 16
}

/// A range vector.
pub type Matrix = Vec<Series>;

/// The result of an expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A scalar at a time.
    Scalar {
        /// Timestamp.
        t: i64,
        /// Value.
        v: f64,
    },
    /// A string at a time.
    String {
        /// Timestamp.
        t: i64,
        /// Value.
        s: String,
    },
    /// An instant vector.
    Vector(Vector),
    /// A range vector, or the result of a range query.
    Matrix(Matrix),
}

impl Value {
    /// Prometheus's name for the type, as the API's `resultType` gives it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}
