//! A subset of Go's `fmt` and `strconv`: what `print`, `printf`, `println`, `%v` printing
//! and error texts need.
//!
//! Covered verbs: `%v %s %q %d %b %o %O %x %X %c %U %e %E %f %F %g %G %t %%`, with flags
//! `- + # 0 space`, width, precision, `*` and explicit argument indexes `%[n]d`. Wrong
//! verbs and argument counts produce Go's inline diagnostics (`%!d(string=x)`,
//! `%!d(MISSING)`, `%!(EXTRA int=1)`).

use crate::value::Value;

/// Go's `strconv.Quote`.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_quoted_char(&mut out, c, '"');
    }
    out.push('"');
    out
}

fn push_quoted_char(out: &mut String, c: char, q: char) {
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == q => {
            out.push('\\');
            out.push(c);
        }
        c if is_print(c) => out.push(c),
        c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// An approximation of Go's `unicode.IsPrint`: not a control or format character and
/// not a separator other than the ASCII space.
fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(c as u32, 0xad | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0xfeff | 0xfff9..=0xfffb)
}

/// `%#U` of a character: `U+0041 'A'`.
pub(crate) fn unicode_u(c: char) -> String {
    if is_print(c) {
        format!("U+{:04X} '{}'", c as u32, c)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

/// Decimal digits of a finite, non-negative float: `0.d1d2… × 10^dp`, trailing zeros
/// removed. `sig` = None asks for the shortest digits that round-trip.
fn float_digits(x: f64, sig: Option<usize>) -> (Vec<u8>, i32) {
    if x == 0.0 {
        return (Vec::new(), 0);
    }
    let s = match sig {
        None => format!("{x:e}"),
        Some(p) => format!("{:.*e}", p.max(1) - 1, x),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    (digits, exp + 1)
}

fn exp_suffix(out: &mut String, e: i32, upper: bool) {
    out.push(if upper { 'E' } else { 'e' });
    out.push(if e < 0 { '-' } else { '+' });
    let a = e.unsigned_abs();
    if a < 10 {
        out.push('0');
    }
    out.push_str(&a.to_string());
}

/// `%e` body (no sign) for a finite non-negative number.
fn fmt_e(x: f64, prec: usize, upper: bool) -> String {
    let s = format!("{x:.prec$e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let mut out = mant.to_string();
    exp_suffix(&mut out, exp.parse().unwrap_or(0), upper);
    out
}

/// `%g` body (no sign) for a finite non-negative number; `prec` None = shortest.
fn fmt_g(x: f64, prec: Option<usize>, upper: bool) -> String {
    let prec = prec.map(|p| p.max(1));
    let (digits, dp) = float_digits(x, prec);
    let nd = digits.len() as i32;
    let mut eprec = match prec {
        Some(p) => p as i32,
        None => 6,
    };
    if prec.is_some() && eprec > nd && nd >= dp {
        eprec = nd;
    }
    let exp = dp - 1;
    let d = |i: i32| -> char {
        if i >= 0 && i < nd {
            digits[i as usize] as char
        } else {
            '0'
        }
    };
    let mut out = String::new();
    if digits.is_empty() {
        return "0".into();
    }
    if exp < -4 || exp >= eprec {
        out.push(d(0));
        if nd > 1 {
            out.push('.');
            for i in 1..nd {
                out.push(d(i));
            }
        }
        exp_suffix(&mut out, exp, upper);
        return out;
    }
    // Fixed notation with exactly the significant digits.
    if dp <= 0 {
        out.push_str("0.");
        for _ in 0..-dp {
            out.push('0');
        }
        for i in 0..nd {
            out.push(d(i));
        }
    } else {
        for i in 0..dp {
            out.push(d(i));
        }
        if nd > dp {
            out.push('.');
            for i in dp..nd {
                out.push(d(i));
            }
        }
    }
    out
}

/// Go's `%v` for a float64 (`strconv.FormatFloat(x, 'g', -1, 64)`).
pub(crate) fn format_float_g(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let body = fmt_g(x.abs(), None, false);
    if x.is_sign_negative() {
        format!("-{body}")
    } else {
        body
    }
}

/// Go's `fmt.Sprint`: spaces between operands when neither side is a string.
pub(crate) fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = |v: &Value| matches!(v, Value::String(_) | Value::Safe(..));
        if i > 0 && !is_str(a) && !is_str(&args[i - 1]) {
            out.push(' ');
        }
        out.push_str(&plain(a));
    }
    out
}

/// Go's `fmt.Sprintln`.
pub(crate) fn sprintln(args: &[Value]) -> String {
    let mut out = args.iter().map(plain).collect::<Vec<_>>().join(" ");
    out.push('\n');
    out
}

/// `%v` of a value handed to fmt: a missing value is a nil interface there.
fn plain(v: &Value) -> String {
    match v {
        Value::NoValue => "<nil>".into(),
        v => v.to_string(),
    }
}

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Go's `fmt.Sprintf`.
pub(crate) fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut argi = 0;
    let mut reordered = false;
    let mut chars = format.char_indices().peekable();
    let bytes = format.as_bytes();
    while let Some((i, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let _ = i;
        let mut spec = Spec::default();
        // Flags.
        while let Some(&(_, f)) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                _ => break,
            }
            chars.next();
        }
        // Argument index, width, precision.
        let arg_index = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
                         argi: &mut usize,
                         reordered: &mut bool|
         -> bool {
            if let Some(&(j, '[')) = chars.peek() {
                if let Some(close) = format[j..].find(']')
                    && let Ok(n) = format[j + 1..j + close].parse::<usize>()
                    && n >= 1
                {
                    *argi = n - 1;
                    *reordered = true;
                    while let Some(&(k, _)) = chars.peek() {
                        if k > j + close {
                            break;
                        }
                        chars.next();
                    }
                    return true;
                }
                return false;
            }
            true
        };
        let mut bad_index = !arg_index(&mut chars, &mut argi, &mut reordered);
        let num = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>| {
            let mut n: Option<usize> = None;
            while let Some(&(_, d)) = chars.peek() {
                if let Some(v) = d.to_digit(10) {
                    n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(v as usize));
                    chars.next();
                } else {
                    break;
                }
            }
            n
        };
        if let Some(&(_, '*')) = chars.peek() {
            chars.next();
            match args.get(argi) {
                Some(Value::Int(w)) => {
                    if *w < 0 {
                        spec.minus = true;
                    }
                    spec.width = Some(w.unsigned_abs() as usize);
                }
                _ => out.push_str("%!(BADWIDTH)"),
            }
            argi += 1;
        } else {
            spec.width = num(&mut chars);
        }
        if let Some(&(_, '.')) = chars.peek() {
            chars.next();
            bad_index |= !arg_index(&mut chars, &mut argi, &mut reordered);
            if let Some(&(_, '*')) = chars.peek() {
                chars.next();
                match args.get(argi) {
                    Some(Value::Int(p)) if *p >= 0 => spec.prec = Some(*p as usize),
                    _ => out.push_str("%!(BADPREC)"),
                }
                argi += 1;
            } else {
                spec.prec = Some(num(&mut chars).unwrap_or(0));
            }
        }
        bad_index |= !arg_index(&mut chars, &mut argi, &mut reordered);
        let Some((_, verb)) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        if bad_index {
            out.push_str(&format!("%!{verb}(BADINDEX)"));
            continue;
        }
        match args.get(argi) {
            None => out.push_str(&format!("%!{verb}(MISSING)")),
            Some(a) => {
                out.push_str(&format_one(a, verb, spec));
            }
        }
        argi += 1;
    }
    let _ = bytes;
    if !reordered && argi < args.len() {
        out.push_str("%!(EXTRA ");
        for (k, a) in args[argi..].iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            match a {
                Value::Nil | Value::NoValue => out.push_str("<nil>"),
                a => out.push_str(&format!("{}={}", a.type_name(), plain(a))),
            }
        }
        out.push(')');
    }
    out
}

fn bad_verb(v: &Value, verb: char) -> String {
    match v {
        Value::Nil | Value::NoValue => format!("%!{verb}(<nil>)"),
        v => format!("%!{verb}({}={})", v.type_name(), plain(v)),
    }
}

fn pad(s: String, spec: Spec) -> String {
    let len = s.chars().count();
    match spec.width {
        Some(w) if w > len => {
            let fill = " ".repeat(w - len);
            if spec.minus { s + &fill } else { fill + &s }
        }
        _ => s,
    }
}

/// Pads a number: zero padding goes between the sign and the digits.
fn pad_num(sign: &str, body: String, spec: Spec) -> String {
    let len = sign.len() + body.chars().count();
    match spec.width {
        Some(w) if w > len && spec.zero && !spec.minus => {
            format!("{sign}{}{body}", "0".repeat(w - len))
        }
        _ => pad(format!("{sign}{body}"), spec),
    }
}

fn sign_of(neg: bool, spec: Spec) -> &'static str {
    if neg {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

fn format_one(v: &Value, verb: char, spec: Spec) -> String {
    match v {
        Value::Object(o) => {
            if matches!(verb, 'v' | 's' | 'q' | 'x' | 'X') {
                return format_one(&Value::String(o.to_text()), verb, spec);
            }
            match o.as_value() {
                Some(inner) => format_one(inner, verb, spec),
                None => bad_verb(v, verb),
            }
        }
        Value::List(l) => {
            if matches!(verb, 's' | 'q' | 'x' | 'X') && l.is_empty() {
                return pad("[]".into(), spec);
            }
            let inner: Vec<String> = l
                .iter()
                .map(|e| {
                    format_one(
                        e,
                        verb,
                        Spec {
                            width: spec.width,
                            ..spec
                        },
                    )
                })
                .collect();
            format!("[{}]", inner.join(" "))
        }
        Value::Map(m) => {
            let inner: Vec<String> = m
                .iter()
                .map(|(k, e)| {
                    format!(
                        "{}:{}",
                        format_one(&Value::String(k.clone()), verb, spec),
                        format_one(e, verb, spec)
                    )
                })
                .collect();
            format!("map[{}]", inner.join(" "))
        }
        Value::Nil | Value::NoValue => match verb {
            'v' => pad("<nil>".into(), spec),
            _ => bad_verb(v, verb),
        },
        Value::Bool(b) => match verb {
            'v' | 't' => pad(b.to_string(), spec),
            _ => bad_verb(v, verb),
        },
        Value::String(s) | Value::Safe(_, s) => match verb {
            'v' | 's' => {
                let s = match spec.prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s.clone(),
                };
                pad(s, spec)
            }
            'q' => {
                if spec.sharp && !s.contains('`') && s.chars().all(|c| c == '\t' || is_print(c)) {
                    pad(format!("`{s}`"), spec)
                } else {
                    pad(quote(s), spec)
                }
            }
            'x' | 'X' => {
                let mut out = String::new();
                for (i, b) in s.bytes().enumerate() {
                    if spec.space && i > 0 {
                        out.push(' ');
                    }
                    if spec.sharp && (spec.space || i == 0) {
                        out.push_str(if verb == 'x' { "0x" } else { "0X" });
                    }
                    if verb == 'x' {
                        out.push_str(&format!("{b:02x}"));
                    } else {
                        out.push_str(&format!("{b:02X}"));
                    }
                }
                pad(out, spec)
            }
            _ => bad_verb(v, verb),
        },
        Value::Int(i) => format_int(*i, verb, spec).unwrap_or_else(|| bad_verb(v, verb)),
        Value::Float(f) => format_float(*f, verb, spec).unwrap_or_else(|| bad_verb(v, verb)),
        Value::Func(_) => bad_verb(v, verb),
    }
}

fn format_int(i: i64, verb: char, spec: Spec) -> Option<String> {
    let neg = i < 0;
    let u = i.unsigned_abs();
    let (prefix, mut body) = match verb {
        'v' | 'd' => ("", u.to_string()),
        'b' => (if spec.sharp { "0b" } else { "" }, format!("{u:b}")),
        'o' => (if spec.sharp { "0" } else { "" }, format!("{u:o}")),
        'O' => ("0o", format!("{u:o}")),
        'x' => (if spec.sharp { "0x" } else { "" }, format!("{u:x}")),
        'X' => (if spec.sharp { "0X" } else { "" }, format!("{u:X}")),
        'c' => {
            let c = char::from_u32(u32::try_from(i).ok()?).unwrap_or('\u{fffd}');
            return Some(pad(c.to_string(), spec));
        }
        'q' => {
            let c = char::from_u32(u32::try_from(i).ok()?).unwrap_or('\u{fffd}');
            let mut s = String::from("'");
            push_quoted_char(&mut s, c, '\'');
            s.push('\'');
            return Some(pad(s, spec));
        }
        'U' => {
            let mut s = format!("U+{u:04X}");
            if spec.sharp
                && let Some(c) = char::from_u32(u32::try_from(i).ok()?)
                && is_print(c)
            {
                s.push_str(&format!(" '{c}'"));
            }
            return Some(pad(s, spec));
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' | 's' | 't' => return None,
        _ => return None,
    };
    if let Some(p) = spec.prec {
        if body.len() < p {
            body = "0".repeat(p - body.len()) + &body;
        }
        if p == 0 && u == 0 {
            body.clear();
        }
    }
    let spec = Spec {
        // A precision turns zero padding off, as in Go.
        zero: spec.zero && spec.prec.is_none(),
        ..spec
    };
    Some(pad_num(
        &format!("{}{prefix}", sign_of(neg, spec)),
        body,
        spec,
    ))
}

fn format_float(f: f64, verb: char, spec: Spec) -> Option<String> {
    if !matches!(verb, 'v' | 'e' | 'E' | 'f' | 'F' | 'g' | 'G') {
        return None;
    }
    let neg = f.is_sign_negative() && !f.is_nan();
    if f.is_nan() || f.is_infinite() {
        let body = if f.is_nan() { "NaN" } else { "Inf" };
        let sign = if f.is_nan() {
            if spec.plus {
                "+"
            } else if spec.space {
                " "
            } else {
                ""
            }
        } else if neg {
            "-"
        } else if spec.plus || verb == 'v' && !spec.space {
            "+"
        } else if spec.space {
            " "
        } else {
            ""
        };
        let s = format!("{sign}{body}");
        // Go never zero-pads infinities and NaN.
        return Some(pad(
            s,
            Spec {
                zero: false,
                ..spec
            },
        ));
    }
    let a = f.abs();
    let body = match verb {
        'v' | 'g' => fmt_g(a, spec.prec, false),
        'G' => fmt_g(a, spec.prec, true),
        'e' => fmt_e(a, spec.prec.unwrap_or(6), false),
        'E' => fmt_e(a, spec.prec.unwrap_or(6), true),
        _ => format!("{:.*}", spec.prec.unwrap_or(6), a),
    };
    Some(pad_num(sign_of(neg, spec), body, spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_go() {
        assert_eq!(format_float_g(1e6), "1e+06");
        assert_eq!(format_float_g(123456.0), "123456");
        assert_eq!(format_float_g(1234567.0), "1.234567e+06");
        assert_eq!(format_float_g(0.0001), "0.0001");
        assert_eq!(format_float_g(0.00001), "1e-05");
        assert_eq!(format_float_g(3.0), "3");
        assert_eq!(format_float_g(-2.5), "-2.5");
        assert_eq!(format_float_g(0.1), "0.1");
        assert_eq!(format_float_g(f64::INFINITY), "+Inf");
    }

    #[test]
    fn printf_verbs() {
        let p = |f: &str, a: &[Value]| sprintf(f, a);
        assert_eq!(
            p(
                "%5.2f|%-5d|%05d",
                &[1.23456.into(), 42.into(), (-42).into()]
            ),
            " 1.23|42   |-0042"
        );
        assert_eq!(
            p(
                "%x %X %#x %o %b",
                &[255.into(), 255.into(), 255.into(), 8.into(), 5.into()]
            ),
            "ff FF 0xff 10 101"
        );
        assert_eq!(
            p(
                "%e %E %.2e",
                &[1234.5678.into(), 0.000123.into(), 1234.5678.into()]
            ),
            "1.234568e+03 1.230000E-04 1.23e+03"
        );
        assert_eq!(
            p(
                "%g %.3g %g",
                &[100000.0.into(), 1.23456.into(), 1e21.into()]
            ),
            "100000 1.23 1e+21"
        );
        assert_eq!(
            p("%q %v %t", &["a\"b".into(), Value::Nil, true.into()]),
            "\"a\\\"b\" <nil> true"
        );
        assert_eq!(
            p("%d %s", &["x".into(), 1.into()]),
            "%!d(string=x) %!s(int=1)"
        );
        assert_eq!(p("%d %d", &[1.into()]), "1 %!d(MISSING)");
        assert_eq!(p("%d", &[1.into(), "a".into()]), "1%!(EXTRA string=a)");
        assert_eq!(
            p("%c%q%U", &[65.into(), 97.into(), 0x1F600.into()]),
            "A'a'U+1F600"
        );
        assert_eq!(p("%x % x", &["hi".into(), "hi".into()]), "6869 68 69");
        assert_eq!(p("%6.2f%%", &[99.5.into()]), " 99.50%");
        assert_eq!(p("%[2]d %[1]d", &[1.into(), 2.into()]), "2 1");
        assert_eq!(p("%*d", &[4.into(), 7.into()]), "   7");
        assert_eq!(p("%+d % d", &[5.into(), 5.into()]), "+5  5");
        assert_eq!(p("%.2s", &["hello".into()]), "he");
        assert_eq!(p("%v", &[Value::list([1, 2])]), "[1 2]");
        assert_eq!(p("%s", &[Value::list(["a", "b"])]), "[a b]");
    }
}
