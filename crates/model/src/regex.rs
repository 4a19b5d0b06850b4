//! Regular expressions with Go RE2 semantics, as Prometheus uses them.
//!
//! Prometheus anchors every pattern (`^(?s:…)$`) and compiles it with Go's `regexp`,
//! whose `\d \w \s \b` are ASCII-only and which accepts `\Q…\E` and octal escapes. The
//! `regex` crate differs on each of those, so a pattern is first translated to a Rust
//! pattern with the same meaning, then compiled. Patterns that reduce to a literal, a
//! set of literals or a literal prefix get a fast path that skips the automaton; the
//! TSDB uses the same literals to look up postings without scanning every value.

use crate::Error;
use regex_syntax::hir::{Hir, HirKind};

/// A fully anchored regular expression with Go semantics.
#[derive(Clone, Debug)]
pub struct Regex {
    original: String,
    re: regex::Regex,
    fast: Fast,
}

#[derive(Clone, Debug)]
enum Fast {
    None,
    /// Exactly one of these strings (sorted, deduplicated).
    Set(Vec<String>),
    /// Any string starting with this prefix.
    Prefix(String),
}

impl Regex {
    /// Compiles `pattern` as Prometheus would: anchored at both ends, `.` matching `\n`.
    pub fn new(pattern: &str) -> Result<Regex, Error> {
        let translated = translate(pattern)?;
        let anchored = format!("^(?s:{translated})$");
        let re = regex::RegexBuilder::new(&anchored)
            .octal(true)
            .size_limit(32 << 20)
            .build()
            .map_err(|e| Error::Regex(one_line(&e.to_string())))?;
        let fast = regex_syntax::ParserBuilder::new()
            .octal(true)
            .build()
            .parse(&format!("(?s:{translated})"))
            .map(|h| analyse(&h))
            .unwrap_or(Fast::None);
        Ok(Regex {
            original: pattern.to_string(),
            re,
            fast,
        })
    }

    /// The pattern as written by the user.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// Whether the whole of `s` matches.
    pub fn is_match(&self, s: &str) -> bool {
        match &self.fast {
            Fast::Set(set) => set.binary_search_by(|x| x.as_str().cmp(s)).is_ok(),
            Fast::Prefix(p) => s.starts_with(p.as_str()),
            Fast::None => self.re.is_match(s),
        }
    }

    /// If the pattern matches exactly a finite set of strings, that set (sorted).
    pub fn set_matches(&self) -> Option<&[String]> {
        match &self.fast {
            Fast::Set(s) => Some(s),
            _ => None,
        }
    }

    /// If every match starts with a literal prefix that decides the match alone
    /// (`foo.*`), that prefix.
    pub fn literal_prefix(&self) -> Option<&str> {
        match &self.fast {
            Fast::Prefix(p) => Some(p),
            _ => None,
        }
    }

    /// Whether the pattern matches the empty string (Prometheus treats such a matcher as
    /// also selecting series that lack the label).
    pub fn matches_empty(&self) -> bool {
        self.is_match("")
    }

    /// Matches `s` and, on success, expands `template` with Go's `Expand` rules (`$1`,
    /// `${name}`, `$$`; unknown groups expand to nothing).
    pub fn expand(&self, s: &str, template: &str) -> Option<String> {
        let caps = self.re.captures(s)?;
        let mut out = String::new();
        caps.expand(template, &mut out);
        Some(out)
    }
}

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.original == other.original
    }
}

impl std::fmt::Display for Regex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.original)
    }
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}

const DIGIT: &str = "0-9";
const WORD: &str = "0-9A-Za-z_";
const SPACE: &str = "\\t\\n\\f\\r ";

/// Rewrites the Go-only or Go-different parts of a pattern into Rust syntax.
fn translate(p: &str) -> Result<String, Error> {
    let mut out = String::with_capacity(p.len() + 8);
    let mut chars = p.chars().peekable();
    // Depth of character classes; Go has no nested classes, but `[[:alpha:]]` contains
    // a bracket that does not open one.
    let mut in_class = false;
    let mut class_start = false;
    while let Some(c) = chars.next() {
        if c == '\\' {
            let Some(e) = chars.next() else {
                return Err(Error::Regex(
                    "trailing backslash at end of expression: ``".into(),
                ));
            };
            let (cls, neg) = match e {
                'd' => (Some(DIGIT), false),
                'D' => (Some(DIGIT), true),
                'w' => (Some(WORD), false),
                'W' => (Some(WORD), true),
                's' => (Some(SPACE), false),
                'S' => (Some(SPACE), true),
                _ => (None, false),
            };
            class_start = false;
            if let Some(cls) = cls {
                match (in_class, neg) {
                    (true, false) => out.push_str(cls),
                    _ => {
                        out.push('[');
                        if neg {
                            out.push('^');
                        }
                        out.push_str(cls);
                        out.push(']');
                    }
                }
                continue;
            }
            match e {
                'b' if !in_class => out.push_str("(?-u:\\b)"),
                'B' if !in_class => out.push_str("(?-u:\\B)"),
                'Q' => {
                    // Literal text up to `\E` or the end.
                    let mut lit = String::new();
                    loop {
                        match chars.next() {
                            None => break,
                            Some('\\') if chars.peek() == Some(&'E') => {
                                chars.next();
                                break;
                            }
                            Some(x) => lit.push(x),
                        }
                    }
                    if in_class {
                        for x in lit.chars() {
                            if x.is_ascii_punctuation() {
                                out.push('\\');
                            }
                            out.push(x);
                        }
                    } else {
                        out.push_str(&regex::escape(&lit));
                    }
                }
                'E' => {}
                '1'..='7' if !matches!(chars.peek(), Some('0'..='7')) => {
                    return Err(Error::Regex(format!("invalid escape sequence: `\\{e}`")));
                }
                '8' | '9' => {
                    return Err(Error::Regex(format!("invalid escape sequence: `\\{e}`")));
                }
                _ => {
                    out.push('\\');
                    out.push(e);
                }
            }
            continue;
        }
        if in_class {
            if c == '[' && chars.peek() == Some(&':') {
                // POSIX class `[:alpha:]`: copy through to the closing `:]`.
                out.push('[');
                for x in chars.by_ref() {
                    out.push(x);
                    if x == ']' {
                        break;
                    }
                }
                class_start = false;
                continue;
            }
            if c == '[' {
                // A literal `[` inside a Go class; Rust would read it as a nested class.
                out.push_str("\\[");
                class_start = false;
                continue;
            }
            if c == ']' && !class_start {
                in_class = false;
            }
            if c == '^' && class_start {
                out.push(c);
                continue;
            }
            // Rust reads `&&`, `--` and `~~` inside a class as set operations; Go as literals.
            if matches!(c, '&' | '-' | '~') && chars.peek() == Some(&c) {
                out.push('\\');
            }
            class_start = false;
            out.push(c);
            continue;
        }
        if c == '[' {
            in_class = true;
            class_start = true;
        }
        out.push(c);
    }
    Ok(out)
}

fn analyse(h: &Hir) -> Fast {
    if let Some(mut set) = literal_set(h) {
        set.sort();
        set.dedup();
        return Fast::Set(set);
    }
    if let HirKind::Concat(parts) = strip(h).kind()
        && parts.len() == 2
        && let (Some(p), true) = (literal(&parts[0]), is_any_star(&parts[1]))
    {
        return Fast::Prefix(p);
    }
    Fast::None
}

fn strip(h: &Hir) -> &Hir {
    match h.kind() {
        HirKind::Capture(c) => strip(&c.sub),
        _ => h,
    }
}

fn literal(h: &Hir) -> Option<String> {
    match strip(h).kind() {
        HirKind::Literal(l) => String::from_utf8(l.0.to_vec()).ok(),
        HirKind::Empty => Some(String::new()),
        HirKind::Concat(parts) => {
            let mut s = String::new();
            for p in parts {
                s.push_str(&literal(p)?);
            }
            Some(s)
        }
        _ => None,
    }
}

/// The finite set of strings `h` matches, if it is small; the parser folds `a|b|c`
/// into a class and `foo(a|b)` into a concatenation, so both are expanded.
fn literal_set(h: &Hir) -> Option<Vec<String>> {
    const MAX: usize = 256;
    let v = match strip(h).kind() {
        HirKind::Alternation(alts) => {
            let mut v = Vec::new();
            for a in alts {
                v.extend(literal_set(a)?);
                if v.len() > MAX {
                    return None;
                }
            }
            v
        }
        HirKind::Class(regex_syntax::hir::Class::Unicode(c)) => {
            let mut v = Vec::new();
            for r in c.ranges() {
                if (r.end() as u32 - r.start() as u32) as usize + v.len() >= MAX {
                    return None;
                }
                v.extend((r.start()..=r.end()).map(String::from));
            }
            v
        }
        HirKind::Concat(parts) => {
            let mut acc = vec![String::new()];
            for p in parts {
                let next = literal_set(p)?;
                if acc.len() * next.len() > MAX {
                    return None;
                }
                acc = acc
                    .iter()
                    .flat_map(|a| next.iter().map(move |n| format!("{a}{n}")))
                    .collect();
            }
            acc
        }
        _ => vec![literal(h)?],
    };
    Some(v)
}

fn is_any_star(h: &Hir) -> bool {
    match strip(h).kind() {
        HirKind::Repetition(r) if r.min == 0 && r.max.is_none() => match r.sub.kind() {
            HirKind::Class(regex_syntax::hir::Class::Unicode(c)) => {
                c.ranges().len() == 1
                    && c.ranges()[0].start() == '\0'
                    && c.ranges()[0].end() == char::MAX
            }
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Regex::new(p).unwrap().is_match(s)
    }

    #[test]
    fn anchored_and_dotall() {
        assert!(m("foo", "foo"));
        assert!(!m("foo", "xfoo"));
        assert!(!m("foo", "foox"));
        assert!(m("a.b", "a\nb"));
        assert!(m("foo|bar", "bar"));
        assert!(!m("foo|bar", "foobar"));
    }

    #[test]
    fn ascii_classes_like_go() {
        assert!(m(r"\d+", "123"));
        assert!(!m(r"\d", "٣"));
        assert!(!m(r"\w", "é"));
        assert!(m(r"\W", "é"));
        assert!(m(r"[\d_]+", "1_2"));
        assert!(m(r"[^\d]", "a"));
        assert!(m(r"[a\D]", "x"));
        assert!(!m(r"\s", "\u{a0}"));
        assert!(m(r"\bfoo\b.*", "foo bar"));
    }

    #[test]
    fn go_only_syntax() {
        assert!(m(r"\Qa.b\E", "a.b"));
        assert!(!m(r"\Qa.b\E", "axb"));
        assert!(m(r"\101", "A"));
        assert!(Regex::new(r"\1").is_err());
        assert!(m(r"[a&&b]+", "a&&b"));
        assert!(m(r"[[:alpha:]]+", "abc"));
        assert!(m(r"[a[]+", "[a"));
        assert!(Regex::new("(").is_err());
    }

    #[test]
    fn fast_paths() {
        let r = Regex::new("b|a|c").unwrap();
        assert_eq!(r.set_matches().unwrap(), &["a", "b", "c"]);
        let r = Regex::new("x(a|bc)").unwrap();
        assert_eq!(r.set_matches().unwrap(), &["xa", "xbc"]);
        let r = Regex::new("foo.*").unwrap();
        assert_eq!(r.literal_prefix(), Some("foo"));
        assert!(r.is_match("foo\nbar"));
        assert!(!r.is_match("fo"));
        let r = Regex::new("(?i)foo").unwrap();
        assert!(r.set_matches().unwrap().iter().any(|s| s == "fOo"));
        assert!(r.is_match("FOO"));
        assert!(Regex::new(".*").unwrap().matches_empty());
        assert_eq!(Regex::new("").unwrap().set_matches().unwrap(), &[""]);
    }

    #[test]
    fn expand_like_go() {
        let r = Regex::new("(a+)(b*)").unwrap();
        assert_eq!(r.expand("aab", "${1}x$2").as_deref(), Some("aaxb"));
        assert_eq!(r.expand("aab", "$1x").as_deref(), Some(""));
        assert_eq!(r.expand("aab", "$$1").as_deref(), Some("$1"));
        assert_eq!(r.expand("c", "$1"), None);
    }
}
