//! Parse errors shaped like Prometheus's `ParseErr`/`ParseErrors`.

use crate::ast::PositionRange;
use std::fmt;
use std::sync::Arc;

/// One problem found in a query: where it is (byte offsets into the query) and what
/// it is, worded as Prometheus words it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseErr {
    /// Where the problem is, in bytes from the start of [`ParseErr::query`].
    pub position_range: PositionRange,
    /// The message without position, e.g. `unexpected <op:+>`.
    pub message: String,
    /// The text the positions refer to; shared by all errors of one parse.
    pub query: Arc<str>,
    /// Lines to add to the reported line number, for queries embedded in a larger file
    /// (promqltest, rule unit tests).
    pub line_offset: usize,
}

impl ParseErr {
    /// An error at `position_range` in `query`.
    pub fn new(position_range: PositionRange, message: impl Into<String>, query: Arc<str>) -> Self {
        ParseErr {
            position_range,
            message: message.into(),
            query,
            line_offset: 0,
        }
    }

    /// `line:column` of the start of the error, both 1-based, the column counted in
    /// bytes; `unknown position` for an empty query, `invalid position` when out of
    /// bounds (Prometheus's `StartPosInput`).
    pub fn start_pos(&self) -> String {
        if self.query.is_empty() {
            return "unknown position".to_string();
        }
        let pos = self.position_range.start;
        if pos > self.query.len() {
            return "invalid position".to_string();
        }
        let before = &self.query.as_bytes()[..pos];
        let line = self.line_offset + 1 + before.iter().filter(|b| **b == b'\n').count();
        let col = match before.iter().rposition(|b| *b == b'\n') {
            Some(nl) => pos - nl,
            None => pos + 1,
        };
        format!("{line}:{col}")
    }
}

impl fmt::Display for ParseErr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: parse error: {}", self.start_pos(), self.message)
    }
}

/// The crate's error: every problem found in one query, in the order found. It
/// displays as its first problem, as Prometheus's `ParseErrors` does, because that is
/// what the HTTP API and the UI show.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", match .errors.first() { Some(e) => e.to_string(), None => "error contains no error message".to_string() })]
pub struct ParseErrors {
    /// The problems, never empty when returned by the parser.
    pub errors: Vec<ParseErr>,
}

impl ParseErrors {
    /// The first problem, which is the one Prometheus reports.
    pub fn first(&self) -> Option<&ParseErr> {
        self.errors.first()
    }

    /// Adjusts every error, e.g. to shift positions and lines when the query was cut
    /// out of a larger text (Prometheus's `EnrichParseError`).
    pub fn enrich(&mut self, mut f: impl FnMut(&mut ParseErr)) {
        for e in &mut self.errors {
            f(e);
        }
    }
}

/// The crate's error type.
pub type Error = ParseErrors;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_render_as_line_and_column() {
        let q: Arc<str> = Arc::from("foo +\n  bar baz");
        let e = ParseErr::new(
            PositionRange::new(12, 15),
            "unexpected identifier \"baz\"",
            q,
        );
        assert_eq!(
            e.to_string(),
            "2:7: parse error: unexpected identifier \"baz\""
        );
        let mut errs = ParseErrors { errors: vec![e] };
        errs.enrich(|e| e.line_offset = 3);
        assert_eq!(
            errs.to_string(),
            "5:7: parse error: unexpected identifier \"baz\""
        );
        let empty = ParseErr::new(
            PositionRange::new(0, 0),
            "no expression found in input",
            Arc::from(""),
        );
        assert_eq!(
            empty.to_string(),
            "unknown position: parse error: no expression found in input"
        );
        assert_eq!(
            ParseErrors { errors: vec![] }.to_string(),
            "error contains no error message"
        );
    }
}
