//! The crate's one error type.

use std::path::{Path, PathBuf};

/// Why a configuration could not be loaded.
///
/// Display reads `FILE:LINE:COL: field_path: problem` when the location is known
/// (for example `prometheus.yml:12:5: scrape_configs[0].scrape_timeout: scrape
/// timeout greater than scrape interval for scrape config with job name "x"`), and
/// `FILE: problem` otherwise. The problem texts are Prometheus's wherever it has one,
/// so that searches for Prometheus's messages find the same answers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The YAML is malformed or does not fit the schema: an unknown field, a
    /// duplicate key, a value of the wrong type.
    #[error("{}{message}", prefix(.file, *.line, *.column, .field))]
    Syntax {
        /// The file the problem is in.
        file: PathBuf,
        /// 1-based line, 0 when unknown.
        line: u32,
        /// 1-based column, 0 when unknown.
        column: u32,
        /// Where in the document, e.g. `scrape_configs[0].scrape_timeout`; may be empty.
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
    /// A Prometheus feature that Ember does not implement (a service discovery
    /// mechanism, a cloud authentication scheme).
    #[error("{}{feature} is not supported by Ember", prefix(.file, *.line, *.column, .field))]
    Unsupported {
        /// The file the problem is in.
        file: PathBuf,
        /// 1-based line, 0 when unknown.
        line: u32,
        /// 1-based column, 0 when unknown.
        column: u32,
        /// Where in the document; may be empty.
        field: String,
        /// The configuration key, e.g. `ec2_sd_configs`.
        feature: String,
    },
    /// The configuration file, or a file it refers to, could not be read.
    #[error("{}{}", prefix(.file, *.line, *.column, .field), io_text(.file, .path, .source))]
    Io {
        /// The configuration file (for a referenced file: the one that refers to it).
        file: PathBuf,
        /// 1-based line of the reference, 0 when unknown.
        line: u32,
        /// 1-based column of the reference, 0 when unknown.
        column: u32,
        /// The referring field; may be empty.
        field: String,
        /// The file that could not be read.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A standalone value (a duration or a size parsed with `FromStr`) is malformed.
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

fn io_text(file: &Path, path: &Path, source: &std::io::Error) -> String {
    if file == path {
        source.to_string()
    } else {
        format!("cannot read {:?}: {source}", path.display().to_string())
    }
}

impl ConfigError {
    /// The file the problem is in (empty for [`ConfigError::Value`]).
    pub fn file(&self) -> &Path {
        match self {
            ConfigError::Syntax { file, .. }
            | ConfigError::Invalid { file, .. }
            | ConfigError::Unsupported { file, .. }
            | ConfigError::Io { file, .. } => file,
            ConfigError::Value(_) => Path::new(""),
        }
    }

    fn position(&self) -> (u32, u32) {
        match self {
            ConfigError::Syntax { line, column, .. }
            | ConfigError::Invalid { line, column, .. }
            | ConfigError::Unsupported { line, column, .. }
            | ConfigError::Io { line, column, .. } => (*line, *column),
            ConfigError::Value(_) => (0, 0),
        }
    }

    /// 1-based line of the problem, when known.
    pub fn line(&self) -> Option<u32> {
        Some(self.position().0).filter(|l| *l > 0)
    }

    /// 1-based column of the problem, when known.
    pub fn column(&self) -> Option<u32> {
        self.line().map(|_| self.position().1)
    }

    /// The field path, such as `scrape_configs[0].scrape_timeout`, when known.
    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Syntax { field, .. }
            | ConfigError::Invalid { field, .. }
            | ConfigError::Unsupported { field, .. }
            | ConfigError::Io { field, .. } => Some(field.as_str()).filter(|f| !f.is_empty()),
            ConfigError::Value(_) => None,
        }
    }

    /// The problem alone, without file, position or field.
    pub fn message(&self) -> String {
        match self {
            ConfigError::Syntax { message, .. } | ConfigError::Invalid { message, .. } => {
                message.clone()
            }
            ConfigError::Unsupported { feature, .. } => {
                format!("{feature} is not supported by Ember")
            }
            ConfigError::Io {
                file, path, source, ..
            } => io_text(file, path, source),
            ConfigError::Value(m) => m.clone(),
        }
    }

    /// Sort key: errors found in one pass are reported earliest-first, as Go's
    /// decoder meets them in document order.
    pub(crate) fn sort_key(&self) -> (u32, u32) {
        match self.position() {
            (0, _) => (u32::MAX, u32::MAX),
            p => p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_with_and_without_location() {
        let e = ConfigError::Invalid {
            file: "conf.yml".into(),
            line: 12,
            column: 5,
            field: "scrape_configs[0].scrape_timeout".into(),
            message: "boom".into(),
        };
        assert_eq!(
            e.to_string(),
            "conf.yml:12:5: scrape_configs[0].scrape_timeout: boom"
        );
        assert_eq!(e.line(), Some(12));
        assert_eq!(e.column(), Some(5));
        assert_eq!(e.field(), Some("scrape_configs[0].scrape_timeout"));
        assert_eq!(e.message(), "boom");
        let e = ConfigError::Invalid {
            file: "conf.yml".into(),
            line: 0,
            column: 0,
            field: String::new(),
            message: "boom".into(),
        };
        assert_eq!(e.to_string(), "conf.yml: boom");
        assert_eq!(e.line(), None);
        assert_eq!(e.field(), None);
        let e = ConfigError::Unsupported {
            file: "c.yml".into(),
            line: 3,
            column: 5,
            field: "scrape_configs[0].ec2_sd_configs".into(),
            feature: "ec2_sd_configs".into(),
        };
        assert_eq!(
            e.to_string(),
            "c.yml:3:5: scrape_configs[0].ec2_sd_configs: ec2_sd_configs is not supported by Ember"
        );
    }
}
