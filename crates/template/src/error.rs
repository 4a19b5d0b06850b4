//! The crate's one error type.

/// Errors from parsing or executing templates.
///
/// The `Display` texts follow Go's so that messages copied from Prometheus or Alertmanager
/// logs match: parse errors read `template: NAME:LINE: message` (Go reports only the line
/// for parse errors; the column is kept here for tools), execution errors read
/// `template: NAME:LINE:COL: executing "NAME" at <node>: message`.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The template text is malformed.
    #[error("template: {name}:{line}: {message}")]
    Parse {
        /// The name given to the parse (Go's `ParseName`).
        name: String,
        /// 1-based line of the offending token.
        line: usize,
        /// 0-based byte column of the offending token within its line.
        col: usize,
        /// Go's message, e.g. `unexpected "}" in operand`.
        message: String,
    },
    /// Execution failed at a node; `Display` gives Go's full text.
    #[error("template: {location}: executing \"{template}\" at <{context}>: {message}")]
    Exec {
        /// `PARSENAME:LINE:COL` of the node, as Go's `ErrorContext` gives it.
        location: String,
        /// Name of the template being executed.
        template: String,
        /// The node's text, cut to 20 bytes as Go does.
        context: String,
        /// The cause, e.g. `error calling index: index out of range: 5`.
        message: String,
    },
    /// Execution failed before reaching any node (unknown or empty template).
    #[error("template: {template}: {message}")]
    ExecNoNode {
        /// Name of the template asked for.
        template: String,
        /// The cause.
        message: String,
    },
    /// `execute_template` named a template not in the set.
    #[error("template: no template {name:?} associated with template {set:?}")]
    NoSuchTemplate {
        /// The name asked for.
        name: String,
        /// The name of the template the set was created with.
        set: String,
    },
    /// A bad value for [`crate::Template::option`].
    #[error("template: {0}")]
    Option(String),
}
