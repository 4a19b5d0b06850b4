/// Errors from building model values out of untrusted input.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// A regular expression failed to compile (message as the regex parser gives it).
    #[error("error parsing regexp: {0}")]
    Regex(String),
    /// A relabel configuration is inconsistent.
    #[error("{0}")]
    Relabel(String),
    /// A label name is not valid under the active validation scheme.
    #[error("invalid label name {0:?}")]
    LabelName(String),
}
