//! The crate's one error type.

use std::fmt;
use std::path::PathBuf;

/// A 1-based line and column in a YAML file; `0:0` when the node is absent, which is
/// what Prometheus prints for a missing key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub column: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Why rule files could not be loaded, or a rule could not be evaluated.
///
/// The `Display` texts are Prometheus's (`rules.yml: 7:15: group "g", rule 1, "x":
/// could not parse expression: …`), because `promtool check rules` output is matched
/// by scripts and searched for on the web.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("{}: {source}", .file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The YAML is malformed or does not fit the schema (unknown fields, wrong types).
    #[error("{}: {message}", .file.display())]
    Yaml {
        /// The file.
        file: PathBuf,
        /// Go's `yaml` package's wording, e.g. `yaml: unmarshal errors:\n  line 7:
        /// field x not found in type rulefmt.RuleGroup`.
        message: String,
    },
    /// A group-level problem (empty or repeated name, bad group label).
    #[error("{}: {}{message}", .file.display(), pos_prefix(.position))]
    Group {
        /// The file.
        file: PathBuf,
        /// Where the group starts, when the problem has a place.
        position: Option<Position>,
        /// What is wrong.
        message: String,
    },
    /// A problem with one rule.
    #[error("{0}")]
    Rule(Box<RuleProblem>),
    /// A query failed while evaluating a rule.
    #[error("{0}")]
    Query(#[from] ember_promql::Error),
    /// A rule's result could not be used: duplicate label sets, the group's `limit`
    /// exceeded, or a result that is neither a vector nor a scalar.
    #[error("{0}")]
    Eval(String),
    /// Writing a rule's results failed.
    #[error("{0}")]
    Storage(#[from] ember_storage::Error),
    /// A promtool unit-test file is malformed.
    #[error("{0}")]
    UnitTest(String),
}

fn pos_prefix(p: &Option<Position>) -> String {
    p.map(|p| format!("{p}: ")).unwrap_or_default()
}

/// What is wrong with one rule of a rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    /// The file.
    pub file: PathBuf,
    /// The group's name.
    pub group: String,
    /// 1-based index of the rule in its group.
    pub index: usize,
    /// The rule's `record` or `alert` name.
    pub name: String,
    /// Where the offending node is, when it has one.
    pub position: Option<Position>,
    /// A second node involved (the `alert` key when both or neither of `record` and
    /// `alert` are set).
    pub alt_position: Option<Position>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}{}group {:?}, rule {}, {:?}: {}",
            self.file.display(),
            pos_prefix(&self.position),
            pos_prefix(&self.alt_position),
            self.group,
            self.index,
            self.name,
            self.message
        )
    }
}
