//! Regular expressions with Go RE2 semantics, as Prometheus uses them.
//!
//! Prometheus parses a label-matcher pattern with Go's `regexp/syntax` (Perl flags, `.`
//! matching `\n`) and matches it fully anchored. Go's grammar differs from the `regex`
//! crate's in what it accepts (`a**` and `a{1001}` are errors in Go, `a{x}` is a
//! literal), in what escapes and classes mean (`\d \w \s \b` are ASCII-only, `\Q…\E`
//! and octal escapes exist) and in its limits, so [`syntax`] parses every pattern with
//! Go's own rules and error messages and writes out an equivalent pattern for the
//! `regex` crate, which then does the matching. Patterns that reduce to a literal, a
//! set of literals or a literal prefix get a fast path that skips the automaton; the
//! TSDB uses the same literals to look up postings without scanning every value.

mod syntax;

use crate::Error;
use regex_syntax::hir::{Hir, HirKind};

/// A regular expression with Go semantics: fully anchored with `.` matching `\n`
/// ([`Regex::new`], Prometheus's matchers and relabeling), or exactly as Go's
/// `regexp.Compile` ([`Regex::go`], for callers that anchor the pattern themselves).
#[derive(Clone, Debug)]
pub struct Regex {
    original: String,
    re: regex::Regex,
    fast: Fast,
    /// Capture names by group number, for [`Regex::expand`].
    names: Vec<Option<String>>,
    /// Whether `re` is anchored at both ends (a full match) or searches, as Go's
    /// `MatchString` does.
    anchored: bool,
}

#[derive(Clone, Debug)]
enum Fast {
    None,
    /// Exactly one of these strings (sorted, deduplicated).
    Set(Vec<String>),
    /// Any string starting with this prefix.
    Prefix(String),
}

/// The `regex` crate's default limits are below Go's: Go nests up to 1000 deep and
/// builds programs of up to 3.3 million instructions (`\pL{1000}` is fine in Go).
const NEST_LIMIT: u32 = 4000;
const SIZE_LIMIT: usize = 256 << 20;

impl Regex {
    /// Compiles `pattern` as Prometheus compiles a label matcher: parsed by Go's rules
    /// with `.` matching `\n` (`syntax.Parse(pattern, Perl|DotNL)`, so errors quote the
    /// pattern itself), then matched against the whole string.
    pub fn new(pattern: &str) -> Result<Regex, Error> {
        let parsed = syntax::parse(pattern, true).map_err(|e| Error::Regex(e.to_string()))?;
        if parsed.wrapped_height > syntax::MAX_HEIGHT {
            // Prometheus compiles the parsed pattern a second time inside `^(?s:…)$`,
            // which can cross Go's depth limit; Go quotes that second expression
            // (printed from its tree, which for such patterns is the pattern itself).
            return Err(Error::Regex(format!(
                "{}: `^(?s:{pattern})$`",
                syntax::NESTING_DEPTH
            )));
        }
        let anchored = format!("\\A(?:{})\\z", parsed.rust);
        let re = build(&anchored)?;
        let fast = regex_syntax::ParserBuilder::new()
            .nest_limit(NEST_LIMIT)
            .build()
            .parse(&parsed.rust)
            .map(|h| analyse(&h))
            .unwrap_or(Fast::None);
        Ok(Regex {
            original: pattern.to_string(),
            re,
            fast,
            names: parsed.names,
            anchored: true,
        })
    }

    /// Compiles `expr` exactly as Go's `regexp.Compile` does: Perl syntax, `.` not
    /// matching `\n` unless `(?s)`, and no implicit anchors — [`Regex::is_match`] then
    /// says whether the pattern matches anywhere in the string, as Go's `MatchString`.
    /// Alertmanager compiles its matchers as `^(?:…)$` this way, and its error
    /// messages quote that whole expression.
    pub fn go(expr: &str) -> Result<Regex, Error> {
        let parsed = syntax::parse(expr, false).map_err(|e| Error::Regex(e.to_string()))?;
        let re = build(&parsed.rust)?;
        Ok(Regex {
            original: expr.to_string(),
            re,
            fast: Fast::None,
            names: parsed.names,
            anchored: false,
        })
    }

    /// The pattern as written by the user.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// Whether the whole of `s` matches (for [`Regex::go`], whether the pattern
    /// matches anywhere in `s`).
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

    /// Matches `s` and, on success, expands `template` with Go's `Expand` rules: `$1`,
    /// `${1}`, `$name`, `${name}` (names are the longest run of letters, digits and
    /// `_`, so `$1x` names group `1x`), `$$` for `$`; a group that does not exist or
    /// did not take part expands to nothing, and a malformed reference stays as text.
    pub fn expand(&self, s: &str, template: &str) -> Option<String> {
        let caps = self.re.captures(s)?;
        if !self.anchored && caps.get(0).is_none() {
            return None;
        }
        let group = |k: usize| caps.get(k).map(|m| m.as_str()).unwrap_or("");
        let mut out = String::with_capacity(template.len());
        let mut t = template;
        while let Some(d) = t.find('$') {
            out.push_str(&t[..d]);
            t = &t[d + 1..];
            if let Some(rest) = t.strip_prefix('$') {
                out.push('$');
                t = rest;
                continue;
            }
            let Some((name, rest)) = expand_name(t) else {
                out.push('$');
                continue;
            };
            t = rest;
            match group_number(name) {
                Some(k) => out.push_str(group(k)),
                None => {
                    // The first group of that name that took part, as Go does.
                    if let Some(k) = self
                        .names
                        .iter()
                        .enumerate()
                        .position(|(k, n)| n.as_deref() == Some(name) && caps.get(k).is_some())
                    {
                        out.push_str(group(k));
                    }
                }
            }
        }
        out.push_str(t);
        Some(out)
    }
}

/// Go's `extract`: a leading `name` or `{name}`, and what follows it.
fn expand_name(t: &str) -> Option<(&str, &str)> {
    let (brace, body) = match t.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, t),
    };
    let end = body
        .char_indices()
        .find(|&(_, c)| !(c.is_alphabetic() || c.is_numeric() || c == '_'))
        .map_or(body.len(), |(k, _)| k);
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    if brace {
        let rest = body[end..].strip_prefix('}')?;
        return Some((name, rest));
    }
    Some((name, &body[end..]))
}

/// A group reference by number: decimal digits, no leading zero, below 10^8.
fn group_number(name: &str) -> Option<usize> {
    if !name.bytes().all(|b| b.is_ascii_digit()) || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    name.parse::<usize>().ok().filter(|&n| n < 100_000_000)
}

fn build(pattern: &str) -> Result<regex::Regex, Error> {
    regex::RegexBuilder::new(pattern)
        .nest_limit(NEST_LIMIT)
        .size_limit(SIZE_LIMIT)
        .build()
        .map_err(|e| Error::Regex(one_line(&e.to_string())))
}

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.original == other.original && self.anchored == other.anchored
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

    /// Acceptance, error messages and matches as Go's `regexp/syntax` gives them
    /// (`syntax.Parse(p, Perl|DotNL)`, then matched as `^(?s:…)$`); the expectations
    /// were produced by Go's own regexp package.
    #[allow(clippy::type_complexity)]
    const GO_TABLE: &[(&str, Result<&[(&str, bool)], &str>)] = &[
        ("a**", Err("invalid nested repetition operator: `**`")),
        ("a+*", Err("invalid nested repetition operator: `+*`")),
        ("a*??", Err("invalid nested repetition operator: `*??`")),
        (
            "a{2}{3}x",
            Err("invalid nested repetition operator: `{2}{3}`"),
        ),
        ("a{2}*", Err("invalid nested repetition operator: `{2}*`")),
        ("x{2}{,3}", Ok(&[("xx{,3}", true), ("xx", false)])),
        ("*", Err("missing argument to repetition operator: `*`")),
        ("(*)", Err("missing argument to repetition operator: `*`")),
        ("a|*", Err("missing argument to repetition operator: `*`")),
        ("{2}", Err("missing argument to repetition operator: `{2}`")),
        ("a{1001}", Err("invalid repeat count: `{1001}`")),
        (
            "a{1000}",
            Ok(&[
                (
                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                    true,
                ),
                (
                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                    false,
                ),
            ]),
        ),
        ("a{3,2}", Err("invalid repeat count: `{3,2}`")),
        ("a{2,1001}", Err("invalid repeat count: `{2,1001}`")),
        ("(a{100}){100}", Err("invalid repeat count: `{100}`")),
        (
            "(a{10}){100}",
            Ok(&[(
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                true,
            )]),
        ),
        ("((a{10}){10}){11}", Err("invalid repeat count: `{11}`")),
        ("(?:a{1000}){2}", Err("invalid repeat count: `{2}`")),
        (
            "a{0}{2}",
            Err("invalid nested repetition operator: `{0}{2}`"),
        ),
        ("a{x}", Ok(&[("a{x}", true), ("a", false)])),
        ("a{,2}", Ok(&[("a{,2}", true), ("aa", false)])),
        ("{", Ok(&[("{", true)])),
        ("x{2,1", Ok(&[("x{2,1", true)])),
        ("a{01}", Ok(&[("a{01}", true), ("a", false)])),
        ("a{1, 2}", Ok(&[("a{1, 2}", true)])),
        ("a{1", Ok(&[("a{1", true)])),
        ("a{1,", Ok(&[("a{1,", true)])),
        ("{}", Ok(&[("{}", true)])),
        ("a{x}*", Ok(&[("a{x}}}", true), ("a{x", true)])),
        ("}", Ok(&[("}", true)])),
        ("^*a", Ok(&[("a", true)])),
        ("\\b+a", Ok(&[("a", true)])),
        ("a(?i)*", Ok(&[("aAa", false)])),
        ("a*(?i)*", Ok(&[("aa", true)])),
        ("[]a]", Ok(&[("]", true), ("a", true)])),
        ("[^]a]", Ok(&[("b", true), ("]", false)])),
        ("[]", Err("missing closing ]: `[]`")),
        ("[a", Err("missing closing ]: `[a`")),
        ("a[bc", Err("missing closing ]: `[bc`")),
        ("[z-a]", Err("invalid character class range: `z-a`")),
        ("[a-\\d]", Err("invalid escape sequence: `\\d`")),
        (
            "[\\d-z]",
            Ok(&[("-", true), ("5", true), ("z", true), ("y", false)]),
        ),
        ("[[:foo:]]", Err("invalid character class range: `[:foo:]`")),
        (
            "[[:alpha:][:^digit:]]",
            Ok(&[("a", true), ("-", true), ("1", false)]),
        ),
        ("[a-]", Ok(&[("-", true)])),
        ("\\pL+", Ok(&[("héllo", true), ("h1", false)])),
        ("\\p{Greek}", Ok(&[("α", true), ("a", false)])),
        ("\\p{^Greek}", Ok(&[("α", false), ("a", true)])),
        ("\\PL", Ok(&[("1", true), ("a", false)])),
        ("\\pC", Ok(&[("\0", true), ("a", false)])),
        (
            "\\p{greek}",
            Err("invalid character class range: `\\p{greek}`"),
        ),
        ("\\p{Foo}", Err("invalid character class range: `\\p{Foo}`")),
        ("\\p", Err("invalid character class range: `\\p`")),
        ("\\p{L", Err("invalid character class range: `\\p{L`")),
        (
            "\\d\\w\\s",
            Ok(&[("1a ", true), ("٣a ", false), ("1é ", false)]),
        ),
        ("(?i)k", Ok(&[("K", true), ("K", true)])),
        ("(?i)\\W", Ok(&[("K", false), ("é", true)])),
        ("\\Qa.b\\E+", Ok(&[("a.bb", true), ("axb", false)])),
        ("\\Qa.b", Ok(&[("a.b", true)])),
        ("[\\Q]\\E]", Err("invalid escape sequence: `\\Q`")),
        ("\\C", Err("invalid escape sequence: `\\C`")),
        ("\\8", Err("invalid escape sequence: `\\8`")),
        ("\\1", Err("invalid escape sequence: `\\1`")),
        ("\\18", Err("invalid escape sequence: `\\1`")),
        ("\\101\\0", Ok(&[("A\0", true)])),
        ("\\e", Err("invalid escape sequence: `\\e`")),
        ("\\<", Ok(&[("<", true)])),
        ("\\_", Ok(&[("_", true)])),
        ("\\é", Err("invalid escape sequence: `\\é`")),
        ("[\\b]", Err("invalid escape sequence: `\\b`")),
        ("\\x{110000}", Err("invalid escape sequence: `\\x{110000`")),
        ("\\x{}", Err("invalid escape sequence: `\\x{}`")),
        ("\\xZ1", Err("invalid escape sequence: `\\xZ1`")),
        ("\\xA", Err("invalid escape sequence: `\\xA`")),
        ("\\x{263a}\\x41", Ok(&[("☺A", true)])),
        ("\\u0041", Err("invalid escape sequence: `\\u`")),
        ("a\\", Err("trailing backslash at end of expression: ``")),
        ("(?P<n>a)(?P<n>b)", Ok(&[("ab", true)])),
        ("(?P<1a>x)", Ok(&[("x", true)])),
        ("(?P<a-b>x)", Err("invalid named capture: `(?P<a-b>`")),
        ("(?P<>x)", Err("invalid named capture: `(?P<>`")),
        ("(?P<n", Err("invalid named capture: `(?P<n`")),
        ("(?P=n)", Err("invalid or unsupported Perl syntax: `(?P`")),
        ("(?=a)", Err("invalid or unsupported Perl syntax: `(?=`")),
        ("(?x)a", Err("invalid or unsupported Perl syntax: `(?x`")),
        ("(?)a", Ok(&[("a", true)])),
        ("(?i-)a", Err("invalid or unsupported Perl syntax: `(?i-)`")),
        ("(?-)a", Err("invalid or unsupported Perl syntax: `(?-)`")),
        ("(?i-s:a.)b", Ok(&[("A\nb", false), ("a\nB", false)])),
        ("(?m)^a$", Ok(&[("a", true)])),
        ("(?U)(a+)(a*)", Ok(&[("aaa", true)])),
        ("a)", Err("unexpected ): `a)`")),
        ("(a", Err("missing closing ): `(a`")),
        ("x(y", Err("missing closing ): `x(y`")),
        ("a.b", Ok(&[("a\nb", true)])),
        ("\\Aa\\z", Ok(&[("a", true)])),
    ];

    #[test]
    fn go_table() {
        for (pattern, want) in GO_TABLE {
            match (Regex::new(pattern), want) {
                (Ok(re), Ok(cases)) => {
                    for (input, m) in cases.iter() {
                        assert_eq!(re.is_match(input), *m, "{pattern:?} on {input:?}");
                    }
                }
                (Err(e), Err(msg)) => {
                    assert_eq!(
                        e.to_string(),
                        format!("error parsing regexp: {msg}"),
                        "{pattern:?}"
                    )
                }
                (got, _) => panic!("{pattern:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn go_mode_is_regexp_compile() {
        // Alertmanager's `^(?:…)$`: `.` stops at newlines, errors quote the whole
        // expression, and a pattern may escape the group.
        let am = |v: &str| Regex::go(&format!("^(?:{v})$"));
        assert!(!am("a.*").unwrap().is_match("ab\nc"));
        assert!(am("a.*").unwrap().is_match("abc"));
        assert_eq!(
            am("(").unwrap_err().to_string(),
            "error parsing regexp: missing closing ): `^(?:()$`"
        );
        let escaped = am("a)|(b").unwrap();
        assert!(escaped.is_match("axx"));
        assert!(escaped.is_match("xxb"));
        assert!(!escaped.is_match("xx"));
        assert!(Regex::go("b").unwrap().is_match("abc"));
    }

    #[test]
    fn expand_names_and_numbers_like_go() {
        let r = Regex::new("(?P<n>a)(b)?(c)").unwrap();
        let t = "[$0|$1|${2}|$n|$$|$1x|${x}|$01|$]";
        assert_eq!(r.expand("ac", t).as_deref(), Some("[ac|a||a|$||||$]"));
        let r = Regex::new("(?P<n>x)?(?P<n>y)").unwrap();
        assert_eq!(r.expand("y", "$n").as_deref(), Some("y"));
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
