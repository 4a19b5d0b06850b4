//! Go's `strconv` behaviours that leak into PromQL's texts: how strings and runes are
//! quoted in error messages and in the printer, how PromQL string literals are
//! unquoted, how numbers are parsed (`strconv.ParseInt` with base 0, then
//! `strconv.ParseFloat`), and how floats are formatted by `%v`, `%f` and
//! `FormatFloat(f, 'f', -1)`.
//!
//! Prometheus's users see these texts (`/api/v1/format_query`, rule files rewritten by
//! tools, error messages in the UI), so they follow Go byte for byte rather than
//! Rust's own `{:?}` conventions.

use std::fmt::Write as _;

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII
/// space. Unassigned code points are not tabulated here; everything else Go treats as
/// non-printing (controls, format characters, separators, private use, noncharacters)
/// is.
pub(crate) fn is_print(c: char) -> bool {
    let u = c as u32;
    if u < 0x20 || (0x7f..=0x9f).contains(&u) {
        return false;
    }
    if u < 0x7f {
        return true;
    }
    !matches!(u,
        // Space separators other than U+0020, line and paragraph separators.
        0x00a0 | 0x1680 | 0x2000..=0x200a | 0x2028 | 0x2029 | 0x202f | 0x205f | 0x3000
        // Format characters.
        | 0x00ad | 0x0600..=0x0605 | 0x061c | 0x06dd | 0x070f | 0x0890 | 0x0891 | 0x08e2
        | 0x180e | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f
        | 0xfeff | 0xfff9..=0xfffb | 0x110bd | 0x110cd | 0x13430..=0x1343f
        | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f
        // Private use.
        | 0xe000..=0xf8ff | 0xf0000..=0xffffd | 0x100000..=0x10fffd
        // Noncharacters.
        | 0xfdd0..=0xfdef)
        && (u & 0xfffe) != 0xfffe
}

fn push_escaped(out: &mut String, c: char, quote: char) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if is_print(c) {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

/// Go's `strconv.Quote` over arbitrary bytes: invalid UTF-8 bytes become `\xNN`.
pub fn go_quote_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push('"');
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_escaped(&mut out, c, '"');
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.Quote` (what `%q` prints for a string).
pub fn go_quote(s: &str) -> String {
    go_quote_bytes(s.as_bytes())
}

/// Go's `%.Nq`: the first `n` runes of `s`, quoted.
pub(crate) fn go_quote_prefix(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => go_quote(&s[..i]),
        None => go_quote(s),
    }
}

/// Go's `%q` for a rune; `None` stands for the lexer's end-of-input marker, which Go
/// prints as the replacement character.
pub(crate) fn go_quote_rune(c: Option<char>) -> String {
    let c = c.unwrap_or('\u{fffd}');
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}

/// Go's `%#U` for a rune: `U+0063 'c'`, or just `U+000A` when not printable.
pub(crate) fn go_unicode_rune(c: char) -> String {
    if is_print(c) {
        format!("U+{:04X} '{}'", c as u32, c)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

/// Unquotes a PromQL string literal (double, single or back quotes) into its bytes, as
/// Prometheus's `strutil.Unquote` does: Go's escapes, single quotes treated like double
/// quotes, `\x` escapes free to produce bytes that are not UTF-8.
pub(crate) fn unquote(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let n = b.len();
    if n < 2 {
        return None;
    }
    let quote = b[0];
    if quote != b[n - 1] {
        return None;
    }
    let inner = &b[1..n - 1];
    if quote == b'`' {
        if inner.contains(&b'`') {
            return None;
        }
        return Some(inner.to_vec());
    }
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    if inner.contains(&b'\n') {
        return None;
    }
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        let c = inner[i];
        if c == quote {
            return None;
        }
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let esc = *inner.get(i + 1)?;
        i += 2;
        match esc {
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'\\' => out.push(b'\\'),
            b'\'' | b'"' => {
                if esc != quote {
                    return None;
                }
                out.push(esc);
            }
            b'x' | b'u' | b'U' => {
                let len = match esc {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let digits = inner.get(i..i + len)?;
                let mut v: u32 = 0;
                for d in digits {
                    v = (v << 4) | (*d as char).to_digit(16)?;
                }
                i += len;
                if esc == b'x' {
                    out.push(v as u8);
                } else {
                    let ch = char::from_u32(v)?;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
            }
            b'0'..=b'7' => {
                let digits = inner.get(i..i + 2)?;
                let mut v = u32::from(esc - b'0');
                for d in digits {
                    if !(b'0'..=b'7').contains(d) {
                        return None;
                    }
                    v = (v << 3) | u32::from(d - b'0');
                }
                i += 2;
                if v > 255 {
                    return None;
                }
                out.push(v as u8);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Go's `underscoreOK`: underscores only between digits, or between a base prefix and a
/// digit.
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if !b.is_empty() && (b[0] == b'-' || b[0] == b'+') {
        i = 1;
    }
    let mut saw = b'^';
    let mut hex = false;
    if b.len() >= i + 2
        && b[i] == b'0'
        && matches!(b[i + 1].to_ascii_lowercase(), b'b' | b'o' | b'x')
    {
        hex = b[i + 1].eq_ignore_ascii_case(&b'x');
        i += 2;
        saw = b'0';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Go's `strconv.ParseInt(s, 0, 64)`; `None` on any error.
pub(crate) fn parse_int_base0(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let bytes = body.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    let (base, digits) = if bytes[0] == b'0' {
        let lower = bytes.get(1).map(u8::to_ascii_lowercase);
        match lower {
            Some(b'b') if bytes.len() >= 3 => (2, &bytes[2..]),
            Some(b'o') if bytes.len() >= 3 => (8, &bytes[2..]),
            Some(b'x') if bytes.len() >= 3 => (16, &bytes[2..]),
            _ => (8, &bytes[1..]),
        }
    } else {
        (10, bytes)
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for &c in digits {
        if c == b'_' {
            underscores = true;
            continue;
        }
        let d = (c as char).to_digit(16)?;
        if d >= base {
            return None;
        }
        n = n.checked_mul(u64::from(base))?.checked_add(u64::from(d))?;
    }
    if underscores && !underscore_ok(s) {
        return None;
    }
    if neg {
        if n > 1 << 63 {
            return None;
        }
        Some((n as i64).wrapping_neg())
    } else {
        i64::try_from(n).ok()
    }
}

/// Why Go's `strconv.ParseFloat` rejected its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FloatError {
    Syntax,
    /// Too large: Go returns ±Inf along with this error.
    Range,
}

impl FloatError {
    /// Go's `*strconv.NumError` text for `ParseFloat`.
    pub(crate) fn message(self, input: &str) -> String {
        let what = match self {
            FloatError::Syntax => "invalid syntax",
            FloatError::Range => "value out of range",
        };
        format!("strconv.ParseFloat: parsing {}: {what}", go_quote(input))
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for the decimal forms PromQL's lexer can produce,
/// plus `Inf`/`Infinity`/`NaN` in any case. Hexadecimal input never carries the `p`
/// exponent Go requires for hexadecimal floats here, so it is a syntax error.
pub(crate) fn parse_float(s: &str) -> Result<f64, FloatError> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    match lower.as_str() {
        "inf" | "infinity" => {
            return Ok(if neg {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        "nan" => return Ok(f64::NAN),
        _ => {}
    }
    if lower.starts_with("0x") {
        return Err(FloatError::Syntax);
    }
    let b = body.as_bytes();
    let mut i = 0;
    let mut saw_digits = false;
    let mut saw_dot = false;
    let mut underscores = false;
    while i < b.len() {
        match b[i] {
            b'_' => underscores = true,
            b'.' if !saw_dot => saw_dot = true,
            c if c.is_ascii_digit() => saw_digits = true,
            _ => break,
        }
        i += 1;
    }
    if !saw_digits {
        return Err(FloatError::Syntax);
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            if b[i] == b'_' {
                underscores = true;
            }
            i += 1;
        }
        if i == start {
            return Err(FloatError::Syntax);
        }
    }
    if i != b.len() || (underscores && !underscore_ok(s)) {
        return Err(FloatError::Syntax);
    }
    let cleaned: String = body.chars().filter(|c| *c != '_').collect();
    let v: f64 = cleaned.parse().map_err(|_| FloatError::Syntax)?;
    if v.is_infinite() {
        return Err(FloatError::Range);
    }
    Ok(if neg { -v } else { v })
}

/// Shortest decimal digits of a finite, non-zero `f` and its exponent `e` such that
/// `f = 0.d1d2… × 10^e`, as Go's `strconv` computes them.
fn shortest_digits(f: f64) -> (String, i32) {
    // Rust's `{:e}` gives the shortest round-trip digits, as Go's shortest mode does.
    let s = format!("{:e}", f.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    (digits, exp + 1)
}

/// Go's `%v` (shortest `%g`) for a float64: `5`, `0.5`, `1e+06`, `+Inf`, `NaN`.
pub(crate) fn format_go_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if f == 0.0 {
        return format!("{sign}0");
    }
    let (digits, dp) = shortest_digits(f);
    let exp = dp - 1;
    if !(-4..6).contains(&exp) {
        let mut out = format!("{sign}{}", &digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let (esign, eabs) = if exp < 0 { ('-', -exp) } else { ('+', exp) };
        let _ = write!(out, "e{esign}{eabs:02}");
        return out;
    }
    format!("{sign}{}", f.abs())
}

/// Go's `%f` (six decimals), with Go's spellings of the special values.
pub(crate) fn format_go_f6(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    format!("{f:.6}")
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: shortest digits, never an exponent.
pub fn format_go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    format!("{f}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_matches_go() {
        assert_eq!(go_quote("a\"b\\\n\t"), r#""a\"b\\\n\t""#);
        assert_eq!(go_quote("\u{0}\u{7f}"), r#""\x00\x7f""#);
        assert_eq!(go_quote("\u{a0}\u{2028}"), r#""\u00a0\u2028""#);
        assert_eq!(go_quote("äöü☺"), "\"äöü☺\"");
        assert_eq!(go_quote_bytes(b"a\xc5z"), r#""a\xc5z""#);
        assert_eq!(go_quote_prefix("\"abcdefghijklm\"", 10), r#""\"abcdefghi""#);
        assert_eq!(go_quote_rune(Some('x')), "'x'");
        assert_eq!(go_quote_rune(Some('\'')), r"'\''");
        assert_eq!(go_quote_rune(Some('"')), "'\"'");
        assert_eq!(go_quote_rune(None), "'\u{fffd}'");
        assert_eq!(go_quote_rune(Some('台')), "'台'");
        assert_eq!(go_unicode_rune('c'), "U+0063 'c'");
        assert_eq!(go_unicode_rune('\n'), "U+000A");
    }

    #[test]
    fn unquoting_matches_prometheus() {
        assert_eq!(unquote(r#""a\tb""#).as_deref(), Some(&b"a\tb"[..]));
        assert_eq!(unquote(r"'it\'s'").as_deref(), Some(&b"it's"[..]));
        assert_eq!(unquote(r#"'\"'"#), None);
        assert_eq!(unquote("`a\\b`").as_deref(), Some(&b"a\\b"[..]));
        assert_eq!(unquote(r#""\xFF\377""#).as_deref(), Some(&b"\xff\xff"[..]));
        assert_eq!(
            unquote(r#""\u1234\U00010111""#).as_deref(),
            Some("\u{1234}\u{10111}".as_bytes())
        );
        assert_eq!(unquote(r#""\400""#), None);
        assert_eq!(unquote(r#""\uD800""#), None);
        assert_eq!(unquote(r#""\c""#), None);
        assert_eq!(unquote("\"a"), None);
    }

    #[test]
    fn ints_like_go_base0() {
        assert_eq!(parse_int_base0("0755"), Some(493));
        assert_eq!(parse_int_base0("0x1f"), Some(31));
        assert_eq!(parse_int_base0("0x1_2_34"), Some(0x1234));
        assert_eq!(parse_int_base0("1_000"), Some(1000));
        assert_eq!(parse_int_base0("1__0"), None);
        assert_eq!(parse_int_base0("08"), None);
        assert_eq!(parse_int_base0("0"), Some(0));
        assert_eq!(parse_int_base0("0x"), None);
        assert_eq!(parse_int_base0("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int_base0("9223372036854775808"), None);
        assert_eq!(parse_int_base0("1.5"), None);
    }

    #[test]
    fn floats_like_go() {
        assert_eq!(parse_float("1.5"), Ok(1.5));
        assert_eq!(parse_float(".5"), Ok(0.5));
        assert_eq!(parse_float("5."), Ok(5.0));
        assert_eq!(parse_float("1.e2"), Ok(100.0));
        assert_eq!(parse_float("00_1_23_4.56_7_8"), Ok(1234.5678));
        assert_eq!(parse_float("1e1_2"), Ok(1e12));
        assert_eq!(parse_float("iNf"), Ok(f64::INFINITY));
        assert!(parse_float("NaN").is_ok_and(f64::is_nan));
        assert_eq!(parse_float("1e400"), Err(FloatError::Range));
        assert_eq!(parse_float("1e-400"), Ok(0.0));
        assert_eq!(parse_float("0x"), Err(FloatError::Syntax));
        assert_eq!(parse_float("1_e2"), Err(FloatError::Syntax));
        assert_eq!(
            FloatError::Range.message("1e400"),
            r#"strconv.ParseFloat: parsing "1e400": value out of range"#
        );
    }

    #[test]
    fn float_formats_like_go() {
        assert_eq!(format_go_g(5.0), "5");
        assert_eq!(format_go_g(-23.0), "-23");
        assert_eq!(format_go_g(0.5), "0.5");
        assert_eq!(format_go_g(123456.0), "123456");
        assert_eq!(format_go_g(1e6), "1e+06");
        assert_eq!(format_go_g(1234567.0), "1.234567e+06");
        assert_eq!(format_go_g(0.0001), "0.0001");
        assert_eq!(format_go_g(0.00001), "1e-05");
        assert_eq!(format_go_g(1e21), "1e+21");
        assert_eq!(format_go_g(f64::INFINITY), "+Inf");
        assert_eq!(format_go_float(1e21), "1000000000000000000000");
        assert_eq!(format_go_float(0.1), "0.1");
        assert_eq!(format_go_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(
            format_go_f6(9223372036854775808.0),
            "9223372036854775808.000000"
        );
        assert_eq!(format_go_f6(f64::INFINITY), "+Inf");
    }
}
