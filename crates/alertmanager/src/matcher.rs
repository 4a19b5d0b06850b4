//! Alertmanager's matcher syntax (`pkg/labels` of Alertmanager 0.25): `foo="bar"`,
//! `foo=~"ba.*"`, `{a="b", c!="d"}`, unquoted values, escapes.
//!
//! The parser is written after 0.25's behaviour, quirks included, because the same
//! strings must be accepted and rejected as the real `amtool` and `alertmanager.yml`
//! do: a string is split on commas outside double quotes; each piece must fit
//! `name op value` with ASCII blanks around; the value may be quoted (then `\"`, `\\`
//! and `\n` are escapes, any other backslash is kept) or bare (then an unescaped `"`
//! is an error). Label names are the classic ones plus `:`.
//!
//! Regular expressions are compiled as Alertmanager compiles them (`^(?:re)$`, where
//! `.` does not match a newline, unlike Prometheus's), with Go's RE2 syntax and
//! semantics from [`ember_model::Regex::go`].

use crate::Error;
use ember_model::{Labels, MatchType, Regex};
use std::cmp::Ordering;
use std::fmt;

/// One matcher, as Alertmanager builds it. `MatchType` orders `=`, `!=`, `=~`, `!~`,
/// as Alertmanager's enum does.
#[derive(Clone, Debug)]
pub struct Matcher {
    /// Operator.
    pub kind: MatchType,
    /// Label name.
    pub name: String,
    /// Value, or the pattern as written for regex operators.
    pub value: String,
    re: Option<Regex>,
}

impl Matcher {
    /// Builds a matcher; regex matchers compile `^(?:value)$` with Go semantics.
    pub fn new(
        kind: MatchType,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Matcher, Error> {
        let value = value.into();
        let re = match kind {
            MatchType::RegexMatch | MatchType::RegexNoMatch => Some(compile(&value)?),
            MatchType::Equal | MatchType::NotEqual => None,
        };
        Ok(Matcher {
            kind,
            name: name.into(),
            value,
            re,
        })
    }

    /// Whether a label value (`""` for an absent label) satisfies the matcher.
    pub fn matches(&self, v: &str) -> bool {
        match (self.kind, &self.re) {
            (MatchType::Equal, _) => v == self.value,
            (MatchType::NotEqual, _) => v != self.value,
            (MatchType::RegexMatch, Some(re)) => re.is_match(v),
            (MatchType::RegexNoMatch, Some(re)) => !re.is_match(v),
            // A regex matcher always has its regex (see `new`).
            _ => false,
        }
    }

    /// Whether the operator is `=` or `=~` (API v2's `isEqual`).
    pub fn is_equal(&self) -> bool {
        matches!(self.kind, MatchType::Equal | MatchType::RegexMatch)
    }

    /// Whether the operator is `=~` or `!~` (API v2's `isRegex`).
    pub fn is_regex(&self) -> bool {
        matches!(self.kind, MatchType::RegexMatch | MatchType::RegexNoMatch)
    }
}

/// Compiles an Alertmanager pattern as Alertmanager does,
/// `regexp.Compile("^(?:" + pattern + ")$")`: anchored, `.` not matching `\n`, and
/// error messages quoting that whole expression.
pub(crate) fn compile(pattern: &str) -> Result<Regex, Error> {
    Regex::go(&format!("^(?:{pattern})$")).map_err(|e| Error::Value(e.to_string()))
}

fn op_order(k: MatchType) -> u8 {
    match k {
        MatchType::Equal => 0,
        MatchType::NotEqual => 1,
        MatchType::RegexMatch => 2,
        MatchType::RegexNoMatch => 3,
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        self.kind == other.kind && self.name == other.name && self.value == other.value
    }
}

impl Eq for Matcher {}

impl PartialOrd for Matcher {
    fn partial_cmp(&self, other: &Matcher) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Matcher {
    /// Alertmanager's order: by name, then value, then operator.
    fn cmp(&self, other: &Matcher) -> Ordering {
        self.name
            .cmp(&other.name)
            .then_with(|| self.value.cmp(&other.value))
            .then_with(|| op_order(self.kind).cmp(&op_order(other.kind)))
    }
}

impl fmt::Display for Matcher {
    /// `name="value"` with `\`, newline and `"` escaped, whatever the operator.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}\"", self.name, self.kind.as_str())?;
        for c in self.value.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '"' => f.write_str("\\\"")?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

/// A list of matchers that must all match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matchers(pub Vec<Matcher>);

impl Matchers {
    /// Whether every matcher matches `labels` (absent labels read as `""`).
    pub fn matches(&self, labels: &Labels) -> bool {
        self.0
            .iter()
            .all(|m| m.matches(labels.get_or_empty(&m.name)))
    }

    /// Whether there are no matchers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sorts in Alertmanager's order (name, value, operator).
    pub fn sort(&mut self) {
        self.0.sort();
    }
}

impl fmt::Display for Matchers {
    /// `{a="b",c=~"d"}`, as Alertmanager prints route keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("}")
    }
}

/// Go's `\s` in `regexp`: ASCII blanks only, without `\v`.
fn is_go_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

/// Parses a list of matchers: `{a="b", c=~"d"}` or `a=b,c=~d` (braces optional).
pub fn parse_matchers(s: &str) -> Result<Vec<Matcher>, Error> {
    let s = s.strip_prefix('{').unwrap_or(s);
    let s = s.strip_suffix('}').unwrap_or(s);
    let mut inside_quotes = false;
    let mut escaped = false;
    let mut token = String::new();
    let mut tokens = Vec::new();
    for c in s.chars() {
        match c {
            ',' if !inside_quotes => {
                tokens.push(std::mem::take(&mut token));
                continue;
            }
            // A comma inside quotes leaves the escape state as it is, as in 0.25.
            ',' => {}
            '"' => {
                if escaped {
                    escaped = false;
                } else {
                    inside_quotes = !inside_quotes;
                }
            }
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
        token.push(c);
    }
    let last = token.trim();
    if !last.is_empty() {
        tokens.push(last.to_string());
    }
    tokens.iter().map(|t| parse_matcher(t)).collect()
}

/// Parses one matcher: `name op value`.
pub fn parse_matcher(s: &str) -> Result<Matcher, Error> {
    let bad = || Error::Value(format!("bad matcher format: {s}"));
    let rest = s.trim_start_matches(is_go_space);
    let name_len = rest
        .char_indices()
        .find(|&(i, c)| {
            let ok =
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit());
            !ok
        })
        .map_or(rest.len(), |(i, _)| i);
    if name_len == 0 {
        return Err(bad());
    }
    let (name, rest) = rest.split_at(name_len);
    let rest = rest.trim_start_matches(is_go_space);
    // Alternatives in the order Go's leftmost-first regex tries them.
    let (kind, rest) = if let Some(r) = rest.strip_prefix("=~") {
        (MatchType::RegexMatch, r)
    } else if let Some(r) = rest.strip_prefix('=') {
        (MatchType::Equal, r)
    } else if let Some(r) = rest.strip_prefix("!=") {
        (MatchType::NotEqual, r)
    } else if let Some(r) = rest.strip_prefix("!~") {
        (MatchType::RegexNoMatch, r)
    } else {
        return Err(bad());
    };
    let raw = rest
        .trim_start_matches(is_go_space)
        .trim_end_matches(is_go_space);
    let value = unquote(raw)?;
    Matcher::new(kind, name, value)
}

fn unquote(raw: &str) -> Result<String, Error> {
    let unescaped_quote = || {
        Error::Value(format!(
            "matcher value contains unescaped double quote: {raw}"
        ))
    };
    let (body, mut expect_trailing_quote) = match raw.strip_prefix('"') {
        Some(b) => (b, true),
        None => (raw, false),
    };
    let mut value = String::with_capacity(body.len());
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        // Go compares byte offsets with the byte length here; a multi-byte last
        // character is therefore never "last" for these checks, as in 0.25.
        let is_last_byte = i + 1 == body.len();
        if escaped {
            escaped = false;
            match c {
                'n' => value.push('\n'),
                '"' | '\\' => value.push(c),
                _ => {
                    value.push('\\');
                    value.push(c);
                }
            }
            continue;
        }
        match c {
            '\\' if !is_last_byte => escaped = true,
            '\\' => value.push('\\'),
            '"' => {
                if !expect_trailing_quote || !is_last_byte {
                    return Err(unescaped_quote());
                }
                expect_trailing_quote = false;
            }
            c => value.push(c),
        }
    }
    if expect_trailing_quote {
        return Err(unescaped_quote());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> Matcher {
        let ms = parse_matchers(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(ms.len(), 1, "{s}");
        ms.into_iter().next().unwrap_or_else(|| unreachable!())
    }

    #[test]
    fn forms_accepted_by_0_25() {
        let m = one(r#"foo="bar""#);
        assert_eq!(
            (m.kind, m.name.as_str(), m.value.as_str()),
            (MatchType::Equal, "foo", "bar")
        );
        assert_eq!(one("foo=bar").value, "bar");
        assert_eq!(one("foo=~ba.*").kind, MatchType::RegexMatch);
        assert_eq!(one("foo!=bar").kind, MatchType::NotEqual);
        assert_eq!(one("foo!~bar").kind, MatchType::RegexNoMatch);
        assert_eq!(one("  foo  =  bar baz  ").value, "bar baz");
        assert_eq!(one(r#"foo="b\"a\\r\n""#).value, "b\"a\\r\n");
        assert_eq!(one(r#"foo="a\tb""#).value, "a\\tb");
        assert_eq!(one("foo=").value, "");
        assert_eq!(one("foo==bar").value, "=bar");
        assert_eq!(one("a:b=c").name, "a:b");
        assert_eq!(one(r#"foo="a,b""#).value, "a,b");
        assert_eq!(one(r"foo=bar\").value, "bar\\");
        let ms = parse_matchers(r#"{a="b", c!="d",e=~f}"#).unwrap_or_default();
        assert_eq!(ms.len(), 3);
        assert_eq!(parse_matchers("a=b,").unwrap_or_default().len(), 1);
        assert_eq!(parse_matchers("").unwrap_or_default().len(), 0);
        assert_eq!(parse_matchers("{}").unwrap_or_default().len(), 0);
    }

    #[test]
    fn forms_rejected_by_0_25() {
        for s in [
            r#"foo="bar"#,
            r#"foo=bar""#,
            r#"foo=b"ar"#,
            r#"foo="b"ar""#,
            "1foo=bar",
            "foo",
            "foo~=bar",
            ",a=b",
            "a=b,,c=d",
            "fo-o=bar",
            "foo=~(",
            "foo=~a**",
            "foo=~a+*",
            r#"foo=~"a{2}{3}""#,
            "foo=~a*??",
            r#"foo=~"a{1001}""#,
            r#"foo=~"a{3,2}""#,
        ] {
            assert!(parse_matchers(s).is_err(), "{s} should be rejected");
        }
    }

    #[test]
    fn single_repetitions_are_fine() {
        for s in [
            "foo=~a*?",
            "foo=~(a*)*",
            "foo=~a{2}b+",
            "foo=~[*+]+",
            r"foo=~\*+",
            r#"foo=~"a{x}*""#,
            r#"foo=~"a{,2}""#,
        ] {
            assert!(parse_matchers(s).is_ok(), "{s} should be accepted");
        }
    }

    #[test]
    fn regex_is_anchored_and_dot_excludes_newline() {
        let m = one("foo=~ba.*");
        assert!(m.matches("bar"));
        assert!(!m.matches("xbar"));
        assert!(!m.matches("ba\nr"));
        let m = one("foo!~a|b");
        assert!(!m.matches("a"));
        assert!(m.matches("ab"));
    }

    #[test]
    fn display_and_order() {
        let mut ms = Matchers(parse_matchers(r#"b=~"x\"y", a!=1, a=1"#).unwrap_or_default());
        ms.sort();
        assert_eq!(ms.to_string(), r#"{a="1",a!="1",b=~"x\"y"}"#);
        let labels = Labels::from_pairs([("a", "1"), ("b", "x\"y")]);
        assert!(!ms.matches(&labels));
        let ms = Matchers(parse_matchers("a=1,c=").unwrap_or_default());
        assert!(ms.matches(&labels));
    }
}
