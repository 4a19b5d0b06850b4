//! The crate's one error type.

use std::path::{Path, PathBuf};

/// Why an `alertmanager.yml` (or a matcher, or a time interval) could not be loaded.
///
/// Display reads `FILE:LINE:COL: field.path: problem` when the location is known, for
/// example `alertmanager.yml:14:9: receivers[1].slack_configs[0]: no global Slack API
/// URL set either inline or in a file`. The problem texts are Alertmanager's wherever
/// it has one, so that searching for a message finds the same answers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The YAML is malformed or does not fit the schema: an unknown field, a duplicate
    /// key, a value of the wrong type.
    #[error("{}{message}", prefix(.file, *.line, *.column, .field))]
    Syntax {
        /// The file the problem is in.
        file: PathBuf,
        /// 1-based line, 0 when unknown.
        line: u32,
        /// 1-based column, 0 when unknown.
        column: u32,
        /// Where in the document, e.g. `route.routes[0].group_wait`; may be empty.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The document parsed but a value or a combination of values is not valid.
    #[error("{}{message}", prefix(.file, *.line, *.column, .field))]
    Invalid {
        /// The file the problem is in.
        file: PathBuf,
        /// 1-based line, 0 when unknown.
        line: u32,
        /// 1-based column, 0 when unknown.
        column: u32,
        /// Where in the document; may be empty.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The configuration file could not be read.
    #[error("{}: {source}", .file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A standalone value (a matcher, a time range) given outside a file is malformed.
    #[error("{0}")]
    Value(String),
}

fn prefix(file: &Path, line: u32, column: u32, field: &str) -> String {
    let mut out = file.display().to_string();
    if line > 0 {
        out.push_str(&format!(":{line}:{column}"));
    }
    out.push_str(": ");
    if !field.is_empty() {
        out.push_str(field);
        out.push_str(": ");
    }
    out
}

impl Error {
    /// The file the problem is in (empty for [`Error::Value`]).
    pub fn file(&self) -> &Path {
        match self {
            Error::Syntax { file, .. } | Error::Invalid { file, .. } | Error::Io { file, .. } => {
                file
            }
            Error::Value(_) => Path::new(""),
        }
    }

    /// 1-based line of the problem, when known.
    pub fn line(&self) -> Option<u32> {
        match self {
            Error::Syntax { line, .. } | Error::Invalid { line, .. } => {
                Some(*line).filter(|l| *l > 0)
            }
            _ => None,
        }
    }

    /// The field path, such as `route.routes[0].receiver`, when known.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Syntax { field, .. } | Error::Invalid { field, .. } => {
                Some(field.as_str()).filter(|f| !f.is_empty())
            }
            _ => None,
        }
    }

    /// The problem alone, without file, position or field.
    pub fn message(&self) -> String {
        match self {
            Error::Syntax { message, .. } | Error::Invalid { message, .. } => message.clone(),
            Error::Io { source, .. } => source.to_string(),
            Error::Value(m) => m.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_line_and_field() {
        let e = Error::Invalid {
            file: "am.yml".into(),
            line: 3,
            column: 5,
            field: "route.receiver".into(),
            message: "boom".into(),
        };
        assert_eq!(e.to_string(), "am.yml:3:5: route.receiver: boom");
        assert_eq!(e.line(), Some(3));
        assert_eq!(e.field(), Some("route.receiver"));
        let e = Error::Invalid {
            file: "am.yml".into(),
            line: 0,
            column: 0,
            field: String::new(),
            message: "boom".into(),
        };
        assert_eq!(e.to_string(), "am.yml: boom");
        assert_eq!(e.line(), None);
    }
}
