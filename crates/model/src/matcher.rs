//! Label matchers: `name="v"`, `name!="v"`, `name=~"re"`, `name!~"re"`.

use crate::labels::go_quote;
use crate::{Error, Regex};
use std::fmt;

/// The four matcher operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchType {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    RegexMatch,
    /// `!~`
    RegexNoMatch,
}

impl MatchType {
    /// The operator as written in PromQL.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::RegexMatch => "=~",
            MatchType::RegexNoMatch => "!~",
        }
    }
}

/// One label matcher. A missing label has the value `""` for matching purposes, as in
/// Prometheus, so `foo=""` selects series without `foo`.
#[derive(Clone, Debug)]
pub struct Matcher {
    /// Operator.
    pub kind: MatchType,
    /// Label name.
    pub name: String,
    /// Value or pattern as written.
    pub value: String,
    re: Option<Regex>,
}

impl Matcher {
    /// Builds a matcher; regex matchers compile their pattern (anchored, Go semantics).
    pub fn new(
        kind: MatchType,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, Error> {
        let value = value.into();
        let re = match kind {
            MatchType::RegexMatch | MatchType::RegexNoMatch => Some(Regex::new(&value)?),
            _ => None,
        };
        Ok(Matcher {
            kind,
            name: name.into(),
            value,
            re,
        })
    }

    /// Whether a label value (or `""` for an absent label) satisfies the matcher.
    pub fn matches(&self, v: &str) -> bool {
        match (self.kind, &self.re) {
            (MatchType::Equal, _) => v == self.value,
            (MatchType::NotEqual, _) => v != self.value,
            (MatchType::RegexMatch, Some(re)) => re.is_match(v),
            (MatchType::RegexNoMatch, Some(re)) => !re.is_match(v),
            _ => false,
        }
    }

    /// Whether the matcher selects series that lack the label.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// The compiled regex of a regex matcher.
    pub fn regex(&self) -> Option<&Regex> {
        self.re.as_ref()
    }

    /// For `=` and for `=~` over a literal set, the exact values that match.
    pub fn set_matches(&self) -> Option<Vec<&str>> {
        match self.kind {
            MatchType::Equal => Some(vec![self.value.as_str()]),
            MatchType::RegexMatch => self
                .re
                .as_ref()?
                .set_matches()
                .map(|s| s.iter().map(String::as_str).collect()),
            _ => None,
        }
    }
}

impl PartialEq for Matcher {
    fn eq(&self, o: &Self) -> bool {
        self.kind == o.kind && self.name == o.name && self.value == o.value
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if crate::labels::is_legacy_label_name(&self.name) {
            f.write_str(&self.name)?;
        } else {
            f.write_str(&go_quote(&self.name))?;
        }
        write!(f, "{}{}", self.kind.as_str(), go_quote(&self.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        let m = Matcher::new(MatchType::RegexMatch, "job", "api|web").unwrap();
        assert!(m.matches("api"));
        assert!(!m.matches("apix"));
        assert!(!m.matches_empty());
        assert_eq!(m.set_matches().unwrap(), vec!["api", "web"]);
        let m = Matcher::new(MatchType::NotEqual, "job", "").unwrap();
        assert!(!m.matches_empty());
        let m = Matcher::new(MatchType::RegexNoMatch, "job", "a.*").unwrap();
        assert!(m.matches("b"));
        assert!(m.matches_empty());
        assert_eq!(m.to_string(), r#"job!~"a.*""#);
        let m = Matcher::new(MatchType::Equal, "a.b", "x").unwrap();
        assert_eq!(m.to_string(), r#""a.b"="x""#);
        assert!(Matcher::new(MatchType::RegexMatch, "a", "(").is_err());
    }
}
