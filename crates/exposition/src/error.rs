//! The crate's one error type.
//!
//! Messages follow Prometheus's `model/textparse` wording (`expected label value, got
//! "'" ("INVALID") while parsing: "a{b='"`), so that a scrape error reads the same in
//! Ember as in Prometheus, prefixed with the line and column where it was found.

use std::fmt;

/// Where in the input an error was found: 1-based line and column (column in
/// characters, counting an invalid UTF-8 byte as one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    /// Line number, starting at 1.
    pub line: u32,
    /// Column number, starting at 1.
    pub column: u32,
}

impl Position {
    /// The position of byte offset `offset` in `input`.
    pub fn of(input: &[u8], offset: usize) -> Position {
        let prefix = input.get(..offset).unwrap_or(input);
        let line_start = prefix
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let newlines = prefix.iter().filter(|&&b| b == b'\n').count();
        let column = prefix
            .get(line_start..)
            .unwrap_or_default()
            .iter()
            .filter(|&&b| b & 0xC0 != 0x80)
            .count();
        Position {
            line: saturate(newlines + 1),
            column: saturate(column + 1),
        }
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Everything that can go wrong reading or choosing an exposition format.
///
/// Quoted fields (`got`, `context`, `text`, …) hold the offending bytes already quoted
/// the way Go's `%q` prints them, because that is how Prometheus reports them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A token other than the one the grammar allows here.
    #[error("{pos}: {expected}, got {got} ({token:?}) while parsing: {context}")]
    Unexpected {
        /// Where the offending token starts.
        pos: Position,
        /// What the grammar wanted, e.g. `expected label value`.
        expected: String,
        /// The offending token and the byte after it, quoted.
        got: String,
        /// The lexer's name for the offending token (`INVALID`, `EOF`, `BCLOSE`, …).
        token: &'static str,
        /// The entry from its start up to the offending token, quoted.
        context: String,
    },
    /// A sample value, timestamp or exemplar value that is not a number.
    #[error("{pos}: strconv.{func}: parsing {text}: {reason} while parsing: {context}")]
    InvalidNumber {
        /// Where the number starts.
        pos: Position,
        /// `ParseFloat` or `ParseInt`, as in Go's message.
        func: &'static str,
        /// The number as written, quoted.
        text: String,
        /// `invalid syntax` or `value out of range`.
        reason: &'static str,
        /// The entry up to and including the number, quoted.
        context: String,
    },
    /// A float spelled with `_`, `p` or `P`, which Go accepts and the formats do not.
    #[error("{pos}: unsupported character in float while parsing: {context}")]
    UnsupportedFloat {
        /// Where the number starts.
        pos: Position,
        /// The entry up to and including the number, quoted.
        context: String,
    },
    /// A NaN or infinite timestamp (OpenMetrics).
    #[error("{pos}: invalid {}timestamp {value}", if *.exemplar { "exemplar " } else { "" })]
    InvalidTimestamp {
        /// Where the timestamp starts.
        pos: Position,
        /// `NaN`, `+Inf` or `-Inf`.
        value: &'static str,
        /// Whether it was an exemplar's timestamp.
        exemplar: bool,
    },
    /// A `# TYPE` line naming a type the format does not have.
    #[error("{pos}: invalid metric type {text}")]
    InvalidType {
        /// Where the type starts.
        pos: Position,
        /// The type as written, quoted.
        text: String,
    },
    /// Text that must be UTF-8 (label values, names, help, units) is not.
    #[error("{pos}: invalid UTF-8 {what}: {text}")]
    InvalidUtf8 {
        /// Where the text starts.
        pos: Position,
        /// `label value`, `label name`, `metric name`, `help text` or `unit`.
        what: &'static str,
        /// The bytes, quoted.
        text: String,
    },
    /// A `# HELP`, `# TYPE` or `# UNIT` line with a name but no text (OpenMetrics).
    #[error("{pos}: expected text in {keyword}")]
    MissingText {
        /// Where the line starts.
        pos: Position,
        /// `HELP`, `TYPE` or `UNIT`.
        keyword: &'static str,
    },
    /// A series without a metric name: `{a="b"} 1`.
    #[error("{pos}: metric name not set while parsing: {context}")]
    MetricNameNotSet {
        /// Where the series starts.
        pos: Position,
        /// The series, quoted.
        context: String,
    },
    /// A series naming its metric twice: `a{"b"} 1`.
    #[error("{pos}: metric name already set while parsing: {context}")]
    MetricNameAlreadySet {
        /// Where the second name starts.
        pos: Position,
        /// The series up to the second name, quoted.
        context: String,
    },
    /// `# UNIT` whose unit is not a `_`-separated suffix of the metric name (OpenMetrics).
    #[error("{pos}: unit {unit} not a suffix of metric {metric}")]
    UnitNotSuffix {
        /// Where the line starts.
        pos: Position,
        /// The unit, quoted.
        unit: String,
        /// The metric name, quoted.
        metric: String,
    },
    /// OpenMetrics input that stops before `# EOF`.
    #[error("{pos}: data does not end with # EOF")]
    MissingEof {
        /// The end of the input.
        pos: Position,
    },
    /// OpenMetrics input with something after `# EOF`.
    #[error("{pos}: unexpected data after # EOF")]
    DataAfterEof {
        /// Where the extra data starts.
        pos: Position,
    },
    /// A series with the same label name twice, found when building its label set.
    #[error("{pos}: label name {name} is not unique")]
    DuplicateLabelName {
        /// Where the series starts.
        pos: Position,
        /// The repeated name, quoted.
        name: String,
    },
    /// A Content-Type this crate cannot parse.
    #[error("received unsupported Content-Type {content_type:?}")]
    UnsupportedContentType {
        /// The header as received.
        content_type: String,
    },
}

impl Error {
    /// The message without its `line:column: ` prefix: what Prometheus reports as
    /// a scrape's error (its parsers give no position).
    pub fn message(&self) -> String {
        let s = self.to_string();
        match self.position() {
            Some(p) => match s.strip_prefix(&format!("{p}: ")) {
                Some(rest) => rest.to_string(),
                None => s,
            },
            None => s,
        }
    }

    /// Where the error was found, if it concerns a position in the input.
    pub fn position(&self) -> Option<Position> {
        match self {
            Error::Unexpected { pos, .. }
            | Error::InvalidNumber { pos, .. }
            | Error::UnsupportedFloat { pos, .. }
            | Error::InvalidTimestamp { pos, .. }
            | Error::InvalidType { pos, .. }
            | Error::InvalidUtf8 { pos, .. }
            | Error::MissingText { pos, .. }
            | Error::MetricNameNotSet { pos, .. }
            | Error::MetricNameAlreadySet { pos, .. }
            | Error::UnitNotSuffix { pos, .. }
            | Error::MissingEof { pos }
            | Error::DataAfterEof { pos }
            | Error::DuplicateLabelName { pos, .. } => Some(*pos),
            Error::UnsupportedContentType { .. } => None,
        }
    }
}

/// Quotes bytes as Go's `%q` does for a byte slice: printable UTF-8 kept, control
/// characters escaped, bytes that are not UTF-8 as `\xNN`.
pub(crate) fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{7}' => out.push_str("\\a"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\u{b}' => out.push_str("\\v"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    out.push_str(&format!("\\x{:02x}", c as u32));
                }
                c if c.is_control() => {
                    if (c as u32) <= 0xffff {
                        out.push_str(&format!("\\u{:04x}", c as u32));
                    } else {
                        out.push_str(&format!("\\U{:08x}", c as u32));
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_counts_lines_and_characters() {
        let input = "ab\ncä d\n".as_bytes();
        assert_eq!(Position::of(input, 0), Position { line: 1, column: 1 });
        assert_eq!(Position::of(input, 3), Position { line: 2, column: 1 });
        // "cä " is four bytes but three characters.
        assert_eq!(Position::of(input, 7), Position { line: 2, column: 4 });
        assert_eq!(Position::of(input, 999).line, 3);
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(quote(b"a\"b\\\n"), r#""a\"b\\\n""#);
        assert_eq!(quote(b"\xff\x00"), r#""\xff\x00""#);
        assert_eq!(quote("ä€".as_bytes()), "\"ä€\"");
    }

    #[test]
    fn messages_read_like_prometheus() {
        let e = Error::InvalidTimestamp {
            pos: Position { line: 1, column: 5 },
            value: "NaN",
            exemplar: true,
        };
        assert_eq!(e.to_string(), "1:5: invalid exemplar timestamp NaN");
        assert_eq!(e.position(), Some(Position { line: 1, column: 5 }));
    }
}
