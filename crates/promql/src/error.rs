/// Errors that end a query. Texts follow Prometheus's, since API clients show them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The query does not parse.
    #[error("{0}")]
    Parse(String),
    /// Evaluation failed (e.g. many-to-many matching, duplicate series).
    #[error("{0}")]
    Eval(String),
    /// `--query.max-samples` was exceeded.
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// `--query.timeout` passed or the query was cancelled.
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The client went away.
    #[error("query was canceled in {0}")]
    Canceled(&'static str),
    /// The storage failed.
    #[error("{0}")]
    Storage(String),
}

impl From<ember_storage::Error> for Error {
    fn from(e: ember_storage::Error) -> Self {
        Error::Storage(e.to_string())
    }
}
