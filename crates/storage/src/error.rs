/// Storage errors. Messages are Prometheus's, since they surface in scrape logs,
/// remote-write responses and API errors that users grep for.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Sample older than the series' latest and outside the out-of-order window.
    #[error("out of order sample")]
    OutOfOrderSample,
    /// Sample older than the storage accepts at all.
    #[error("out of bounds")]
    OutOfBounds,
    /// Out-of-order is enabled but the sample is older than its window.
    #[error("too old sample")]
    TooOldSample,
    /// Same timestamp as the latest sample, different value.
    #[error("duplicate sample for timestamp")]
    DuplicateSampleForTimestamp,
    /// Exemplar older than the series' latest exemplar.
    #[error("out of order exemplar")]
    OutOfOrderExemplar,
    /// The same exemplar again.
    #[error("duplicate exemplar")]
    DuplicateExemplar,
    /// Exemplar labels too long.
    #[error("label length for exemplar exceeds maximum of 128 UTF-8 characters")]
    ExemplarLabelLength,
    /// Exemplar storage is off.
    #[error("exemplar storage is disabled or max exemplars is less than or equal to 0")]
    ExemplarsDisabled,
    /// Native histograms are off.
    #[error("native histograms are disabled")]
    NativeHistogramsDisabled,
    /// The sample itself is malformed (e.g. an inconsistent histogram, empty labels).
    #[error("invalid sample: {0}")]
    InvalidSample(String),
    /// The requested thing does not exist.
    #[error("not found")]
    NotFound,
    /// The storage was closed.
    #[error("storage is closed")]
    Closed,
    /// The query touched more than it may.
    #[error("{0}")]
    Limit(String),
    /// An I/O or corruption problem underneath.
    #[error("{0}")]
    Io(String),
}
