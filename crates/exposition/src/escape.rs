//! Escaped text borrowed from the input, and the escaping the writers apply.
//!
//! The parser hands out text as written, with a note of whether it contains a
//! backslash, so that the common case (no escapes) costs no copy: a consumer
//! unescapes only what it keeps.

use std::borrow::Cow;
use std::fmt;

/// Which escape sequences a piece of text uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Escaping {
    /// No backslash in the text: it reads as written.
    None,
    /// `\\`, `\"` and `\n`: label values, quoted names, OpenMetrics help.
    Quoted,
    /// `\\` and `\n` only: help text in the Prometheus text format.
    Help,
}

/// Text borrowed from the input, still escaped as written.
///
/// Compare it, print it or [`unescape`](Self::unescape) it; each unescapes on the fly.
/// An unknown escape (`\x`) stays as written, as Prometheus's replacer leaves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EscapedStr<'a> {
    raw: &'a str,
    escaping: Escaping,
}

impl<'a> EscapedStr<'a> {
    /// Wraps `raw`, which uses `escaping` if it contains a backslash.
    pub fn new(raw: &'a str, escaping: Escaping) -> Self {
        let escaping = if raw.as_bytes().contains(&b'\\') {
            escaping
        } else {
            Escaping::None
        };
        EscapedStr { raw, escaping }
    }

    /// Text a scanner has already searched for backslashes.
    pub(crate) fn from_scan(raw: &'a str, escaped: bool) -> Self {
        EscapedStr {
            raw,
            escaping: if escaped {
                Escaping::Quoted
            } else {
                Escaping::None
            },
        }
    }

    /// Text that needs no unescaping.
    pub const fn plain(raw: &'a str) -> Self {
        EscapedStr {
            raw,
            escaping: Escaping::None,
        }
    }

    /// The text exactly as written (without surrounding quotes).
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// Whether the text contains an escape sequence.
    pub fn has_escapes(&self) -> bool {
        self.escaping != Escaping::None
    }

    /// The text with escapes resolved; borrowed when there are none.
    pub fn unescape(&self) -> Cow<'a, str> {
        if self.escaping == Escaping::None {
            Cow::Borrowed(self.raw)
        } else {
            let mut s = String::with_capacity(self.raw.len());
            self.unescape_into(&mut s);
            Cow::Owned(s)
        }
    }

    /// Appends the unescaped text to `out`.
    pub fn unescape_into(&self, out: &mut String) {
        let quoted = self.escaping == Escaping::Quoted;
        let mut rest = self.raw;
        while let Some(i) = rest.find('\\') {
            let (before, from_backslash) = rest.split_at(i);
            out.push_str(before);
            let after = from_backslash.get(1..).unwrap_or_default();
            let consumed = match after.as_bytes().first() {
                Some(b'\\') => Some('\\'),
                Some(b'n') => Some('\n'),
                Some(b'"') if quoted => Some('"'),
                _ => None,
            };
            match consumed {
                Some(c) => {
                    out.push(c);
                    rest = after.get(1..).unwrap_or_default();
                }
                None => {
                    out.push('\\');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
    }

    /// Unescaped characters, without allocating.
    fn chars(&self) -> impl Iterator<Item = char> + 'a {
        let quoted = self.escaping == Escaping::Quoted;
        let escaping = self.escaping != Escaping::None;
        let mut it = self.raw.chars().peekable();
        std::iter::from_fn(move || {
            let c = it.next()?;
            if !escaping || c != '\\' {
                return Some(c);
            }
            match it.peek() {
                Some('\\') => {
                    it.next();
                    Some('\\')
                }
                Some('n') => {
                    it.next();
                    Some('\n')
                }
                Some('"') if quoted => {
                    it.next();
                    Some('"')
                }
                _ => Some('\\'),
            }
        })
    }
}

impl PartialEq<str> for EscapedStr<'_> {
    fn eq(&self, other: &str) -> bool {
        if self.escaping == Escaping::None {
            self.raw == other
        } else {
            self.chars().eq(other.chars())
        }
    }
}

impl PartialEq<&str> for EscapedStr<'_> {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl fmt::Display for EscapedStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.unescape())
    }
}

/// Appends `s` with `\`, newline and (if `quote`) `"` escaped, as `expfmt` does for
/// label values and quoted names (`quote`) and for help text (not `quote`).
pub(crate) fn write_escaped(out: &mut Vec<u8>, s: &str, quote: bool) {
    let bytes = s.as_bytes();
    let mut last = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let rep: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'"' if quote => b"\\\"",
            _ => continue,
        };
        out.extend_from_slice(bytes.get(last..i).unwrap_or_default());
        out.extend_from_slice(rep);
        last = i + 1;
    }
    out.extend_from_slice(bytes.get(last..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_value_escapes() {
        let s = EscapedStr::new(r#"a\\b\"c\nd\xe\"#, Escaping::Quoted);
        assert!(s.has_escapes());
        assert_eq!(s.unescape(), "a\\b\"c\nd\\xe\\");
        assert_eq!(s, "a\\b\"c\nd\\xe\\");
        assert_ne!(s, "a\\b\"c\nd\\xe");
        assert_eq!(s.to_string(), "a\\b\"c\nd\\xe\\");
    }

    #[test]
    fn help_escapes_leave_quotes() {
        let s = EscapedStr::new(r#"say \"hi\"\n\\"#, Escaping::Help);
        assert_eq!(s.unescape(), "say \\\"hi\\\"\n\\");
        assert_eq!(s, "say \\\"hi\\\"\n\\");
    }

    #[test]
    fn double_backslash_then_n_is_backslash_and_n() {
        let s = EscapedStr::new(r"\\n", Escaping::Quoted);
        assert_eq!(s.unescape(), "\\n");
    }

    #[test]
    fn plain_text_is_borrowed() {
        let s = EscapedStr::new("plain", Escaping::Quoted);
        assert!(!s.has_escapes());
        assert!(matches!(s.unescape(), Cow::Borrowed("plain")));
    }

    #[test]
    fn writer_escaping() {
        let mut v = Vec::new();
        write_escaped(&mut v, "a\\b\"c\nd", true);
        assert_eq!(v, br#"a\\b\"c\nd"#);
        v.clear();
        write_escaped(&mut v, "a\\b\"c\nd", false);
        assert_eq!(v, br#"a\\b"c\nd"#);
    }
}
