//! Numbers as Prometheus reads and writes them.
//!
//! Reading follows Go's `strconv.ParseFloat` minus what Prometheus rejects (`_`, hex
//! floats), because a value that Prometheus refuses must fail here too and the other
//! way round. Writing follows `strconv.AppendFloat(f, 'g', -1, 64)`, which is what
//! `expfmt` emits: shortest round-trip digits, exponent form (`1e+06`) from 10^6 up
//! and below 10^-4. Rust's own `{}` picks the same digits but lays them out
//! differently, so the digits are taken from `{:e}` and laid out again.

use std::fmt::Write as _;

/// The NaN bit pattern Prometheus stores for every parsed NaN (`value.NormalNaN`), so
/// that a scraped NaN is never mistaken for the staleness marker.
pub const NORMAL_NAN: u64 = 0x7ff8_0000_0000_0001;

/// Why a number did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NumError {
    /// `_`, `p` or `P` in a float.
    Unsupported,
    /// Not a number at all.
    Syntax,
    /// A number too large for its type.
    Range,
}

impl NumError {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            NumError::Range => "value out of range",
            NumError::Syntax | NumError::Unsupported => "invalid syntax",
        }
    }
}

/// Parses a float as Prometheus does; NaN comes back as [`NORMAL_NAN`].
pub(crate) fn parse_float(s: &[u8]) -> Result<f64, NumError> {
    // Most sample values are small integers: skip the general algorithm for them.
    if !s.is_empty() && s.len() <= 15 && s.iter().all(u8::is_ascii_digit) {
        let n = s
            .iter()
            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
        // Below 10^15, so exact in an f64.
        return Ok(n as f64);
    }
    if s.iter().any(|&b| matches!(b, b'_' | b'p' | b'P')) {
        return Err(NumError::Unsupported);
    }
    let text = std::str::from_utf8(s).map_err(|_| NumError::Syntax)?;
    let unsigned = text.strip_prefix(['+', '-']);
    // Rust accepts a signed NaN, Go does not.
    if unsigned.is_some_and(|u| u.eq_ignore_ascii_case("nan")) {
        return Err(NumError::Syntax);
    }
    let v: f64 = text.parse().map_err(|_| NumError::Syntax)?;
    if v.is_nan() {
        return Ok(f64::from_bits(NORMAL_NAN));
    }
    if v.is_infinite() {
        let body = unsigned.unwrap_or(text);
        // An infinity spelled out is fine; one reached by overflow is Go's ErrRange.
        if !body.starts_with(['i', 'I']) {
            return Err(NumError::Range);
        }
    }
    Ok(v)
}

/// Parses a text-format timestamp: decimal digits only, milliseconds.
pub(crate) fn parse_int_timestamp(s: &[u8]) -> Result<i64, NumError> {
    let mut n: i64 = 0;
    for &d in s {
        if !d.is_ascii_digit() {
            return Err(NumError::Syntax);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(i64::from(d - b'0')))
            .ok_or(NumError::Range)?;
    }
    if s.is_empty() {
        return Err(NumError::Syntax);
    }
    Ok(n)
}

/// Converts an OpenMetrics timestamp (float seconds) to milliseconds.
///
/// Prometheus computes `int64(seconds * 1000)`, which loses a millisecond whenever
/// the product rounds down (`1.001 * 1000` is `1000.9999999999999`). Decimal spellings are
/// converted exactly instead (truncating below a millisecond, as Prometheus does), so
/// that what a writer prints as milliseconds reads back unchanged; other spellings
/// and values beyond `i64` fall back to the float product, saturating.
pub(crate) fn seconds_to_ms(text: &[u8], seconds: f64) -> i64 {
    // The fallback saturates, where Go's conversion is implementation-defined.
    exact_decimal_ms(text).unwrap_or((seconds * 1000.0) as i64)
}

/// `text × 1000` truncated toward zero, computed on the decimal digits, when `text`
/// is `[sign] digits [. digits] [e [sign] digits]` and the result fits in an `i64`.
fn exact_decimal_ms(text: &[u8]) -> Option<i64> {
    let (negative, rest) = match text.split_first() {
        Some((b'-', r)) => (true, r),
        Some((b'+', r)) => (false, r),
        _ => (false, text),
    };
    let (mantissa, exponent) = match rest.iter().position(|&b| b == b'e' || b == b'E') {
        Some(i) => (rest.get(..i)?, Some(rest.get(i + 1..)?)),
        None => (rest, None),
    };
    let exponent: i64 = match exponent {
        None => 0,
        Some(e) => {
            let (neg, digits) = match e.split_first() {
                Some((b'-', r)) => (true, r),
                Some((b'+', r)) => (false, r),
                _ => (false, e),
            };
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            // Anything this large under- or overflows; let the float path decide.
            if digits.len() > 6 {
                return None;
            }
            let v = digits
                .iter()
                .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'));
            if neg { -v } else { v }
        }
    };
    let (int_part, frac_part) = match mantissa.iter().position(|&b| b == b'.') {
        Some(i) => (mantissa.get(..i)?, mantissa.get(i + 1..)?),
        None => (mantissa, &[][..]),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.iter().chain(frac_part).all(u8::is_ascii_digit) {
        return None;
    }
    // value = digits × 10^(shift) milliseconds.
    let digit_count = i64::try_from(int_part.len() + frac_part.len()).ok()?;
    let shift = i64::try_from(int_part.len()).ok()? - digit_count + exponent + 3;
    let keep = if shift >= 0 {
        digit_count
    } else {
        (digit_count + shift).max(0)
    };
    let mut acc: i128 = 0;
    for &d in int_part
        .iter()
        .chain(frac_part)
        .take(usize::try_from(keep).ok()?)
    {
        acc = acc * 10 + i128::from(d - b'0');
        if acc > i128::from(i64::MAX) + 1 {
            return None;
        }
    }
    if shift > 0 && acc != 0 {
        for _ in 0..shift {
            acc *= 10;
            if acc > i128::from(i64::MAX) + 1 {
                return None;
            }
        }
    }
    let signed = if negative { -acc } else { acc };
    i64::try_from(signed).ok()
}

/// A fixed buffer for `{:e}` output, so formatting a float allocates nothing.
struct StackBuf {
    buf: [u8; 40],
    len: usize,
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Appends `f` as Go's `strconv.AppendFloat(f, 'g', -1, 64)` would.
pub(crate) fn write_go_float(out: &mut Vec<u8>, f: f64) {
    if f.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if f.is_infinite() {
        out.extend_from_slice(if f > 0.0 { b"+Inf" } else { b"-Inf" });
        return;
    }
    let mut sb = StackBuf {
        buf: [0; 40],
        len: 0,
    };
    // `{:e}` of a finite f64 is at most 24 bytes ("-2.2250738585072014e-308").
    if write!(sb, "{f:e}").is_err() {
        out.extend_from_slice(b"NaN");
        return;
    }
    let s = sb.buf.get(..sb.len).unwrap_or_default();
    let (negative, s) = match s.split_first() {
        Some((b'-', r)) => (true, r),
        _ => (false, s),
    };
    let e_at = s.iter().position(|&b| b == b'e').unwrap_or(s.len());
    let (mantissa, exp_text) = s.split_at(e_at);
    let exp_text = exp_text.get(1..).unwrap_or_default();
    let exp: i32 = std::str::from_utf8(exp_text)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let mut digits = [0u8; 24];
    let mut nd = 0;
    for &b in mantissa {
        if b.is_ascii_digit()
            && let Some(slot) = digits.get_mut(nd)
        {
            *slot = b;
            nd += 1;
        }
    }
    let digits = digits.get(..nd).unwrap_or_default();
    if negative {
        out.push(b'-');
    }
    if !(-4..6).contains(&exp) {
        if let Some((first, rest)) = digits.split_first() {
            out.push(*first);
            if !rest.is_empty() {
                out.push(b'.');
                out.extend_from_slice(rest);
            }
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push(b'0');
        }
        let _ = write_u64(out, u64::from(a));
    } else if exp >= 0 {
        // 0 <= exp < 6: the integer part has exp+1 digits.
        let int_len = usize::try_from(exp).unwrap_or(0) + 1;
        if digits.len() <= int_len {
            out.extend_from_slice(digits);
            out.extend(std::iter::repeat_n(b'0', int_len - digits.len()));
        } else {
            let (i, frac) = digits.split_at(int_len);
            out.extend_from_slice(i);
            out.push(b'.');
            out.extend_from_slice(frac);
        }
    } else {
        out.extend_from_slice(b"0.");
        let zeros = usize::try_from(-exp - 1).unwrap_or(0);
        out.extend(std::iter::repeat_n(b'0', zeros));
        out.extend_from_slice(digits);
    }
}

/// Appends a sample value in the text format: as Go, but zero is always `0`, as
/// `expfmt` writes it.
pub(crate) fn write_text_float(out: &mut Vec<u8>, f: f64) {
    if f == 0.0 {
        out.push(b'0');
    } else {
        write_go_float(out, f);
    }
}

/// Appends a float in OpenMetrics spelling: Go's form with `.0` added when it would
/// otherwise read as an integer (`labels.FormatOpenMetricsFloat`).
pub(crate) fn write_om_float(out: &mut Vec<u8>, f: f64) {
    if f == 0.0 {
        out.extend_from_slice(b"0.0");
        return;
    }
    let start = out.len();
    write_go_float(out, f);
    if f.is_finite()
        && !out
            .get(start..)
            .unwrap_or_default()
            .iter()
            .any(|&b| b == b'.' || b == b'e')
    {
        out.extend_from_slice(b".0");
    }
}

/// The OpenMetrics spelling of `f` as a string (used to normalise `le` and
/// `quantile` label values, as Prometheus does).
pub(crate) fn om_float_string(f: f64) -> String {
    let mut v = Vec::with_capacity(24);
    write_om_float(&mut v, f);
    String::from_utf8(v).unwrap_or_default()
}

/// Appends an integer in decimal.
pub(crate) fn write_u64(out: &mut Vec<u8>, mut n: u64) -> usize {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        if let Some(slot) = tmp.get_mut(i) {
            // n % 10 < 10, so this fits a byte.
            let d = (n % 10) as u8;
            *slot = b'0' + d;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    let digits = tmp.get(i..).unwrap_or_default();
    out.extend_from_slice(digits);
    digits.len()
}

/// Appends a signed integer in decimal.
pub(crate) fn write_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    write_u64(out, n.unsigned_abs());
}

/// Appends a millisecond timestamp as OpenMetrics float seconds.
///
/// Uses `expfmt`'s spelling (`ms / 1000` as a Go float) whenever that reads back as
/// the same millisecond, and an exact `seconds.millis` otherwise (beyond 2^53 ms).
pub(crate) fn write_om_timestamp(out: &mut Vec<u8>, ms: i64) {
    let start = out.len();
    // Exact for |ms| < 2^53; checked below for the rest.
    let seconds = ms as f64 / 1000.0;
    write_om_float(out, seconds);
    if exact_decimal_ms(out.get(start..).unwrap_or_default()) == Some(ms) {
        return;
    }
    out.truncate(start);
    if ms < 0 {
        out.push(b'-');
    }
    let a = ms.unsigned_abs();
    write_u64(out, a / 1000);
    out.push(b'.');
    let frac = a % 1000;
    if frac < 100 {
        out.push(b'0');
    }
    if frac < 10 {
        out.push(b'0');
    }
    write_u64(out, frac);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(f: f64) -> String {
        let mut v = Vec::new();
        write_go_float(&mut v, f);
        String::from_utf8(v).unwrap()
    }

    fn om(f: f64) -> String {
        om_float_string(f)
    }

    #[test]
    fn formats_like_go_g_shortest() {
        // Expected strings are what Go's strconv.FormatFloat(f, 'g', -1, 64) returns.
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (-1.0, "-1"),
            (0.5, "0.5"),
            (100.0, "100"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (4.059092e6, "4.059092e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (4.9351e-05, "4.9351e-05"),
            (7.424100000000001e-05, "7.424100000000001e-05"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (-0.000123, "-0.000123"),
            (1520879607.789, "1.520879607789e+09"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (f, want) in cases {
            assert_eq!(go(*f), *want, "{f:e}");
        }
    }

    #[test]
    fn formats_openmetrics_floats() {
        assert_eq!(om(0.0), "0.0");
        assert_eq!(om(-0.0), "0.0");
        assert_eq!(om(1.0), "1.0");
        assert_eq!(om(-1.0), "-1.0");
        assert_eq!(om(100.0), "100.0");
        assert_eq!(om(0.25), "0.25");
        assert_eq!(om(1e6), "1e+06");
        assert_eq!(om(f64::INFINITY), "+Inf");
        assert_eq!(om(f64::NAN), "NaN");
        let mut v = Vec::new();
        write_text_float(&mut v, -0.0);
        assert_eq!(v, b"0");
    }

    #[test]
    fn parses_like_go() {
        assert_eq!(parse_float(b"1"), Ok(1.0));
        assert_eq!(parse_float(b"-1.5e3"), Ok(-1500.0));
        assert_eq!(parse_float(b".5"), Ok(0.5));
        assert_eq!(parse_float(b"1."), Ok(1.0));
        assert_eq!(parse_float(b"+Inf"), Ok(f64::INFINITY));
        assert_eq!(parse_float(b"-inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(parse_float(b"Infinity"), Ok(f64::INFINITY));
        assert_eq!(parse_float(b"nan").map(f64::to_bits), Ok(NORMAL_NAN));
        assert_eq!(parse_float(b"NaN").map(f64::to_bits), Ok(NORMAL_NAN));
        assert_eq!(parse_float(b"+NaN"), Err(NumError::Syntax));
        assert_eq!(parse_float(b"1e400"), Err(NumError::Range));
        assert_eq!(parse_float(b"-1e400"), Err(NumError::Range));
        assert_eq!(parse_float(b"1e-400"), Ok(0.0));
        assert_eq!(parse_float(b"1_2"), Err(NumError::Unsupported));
        assert_eq!(parse_float(b"0x1p-3"), Err(NumError::Unsupported));
        assert_eq!(parse_float(b"0x10"), Err(NumError::Syntax));
        assert_eq!(parse_float(b"true"), Err(NumError::Syntax));
        assert_eq!(parse_float(b""), Err(NumError::Syntax));
        assert_eq!(parse_float(b"\xff"), Err(NumError::Syntax));
        assert_eq!(parse_float(b"123456789012345"), Ok(123456789012345.0));
        assert_eq!(
            parse_float(b"12345678901234567890"),
            Ok(1.2345678901234567e19)
        );
    }

    #[test]
    fn parses_text_timestamps() {
        assert_eq!(parse_int_timestamp(b"123123"), Ok(123123));
        assert_eq!(parse_int_timestamp(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(
            parse_int_timestamp(b"9223372036854775808"),
            Err(NumError::Range)
        );
        assert_eq!(parse_int_timestamp(b"1a"), Err(NumError::Syntax));
    }

    #[test]
    fn converts_seconds_exactly() {
        let ms = |s: &str| seconds_to_ms(s.as_bytes(), s.parse().unwrap());
        assert_eq!(ms("1520879607.789"), 1520879607789);
        assert_eq!(ms("123.123"), 123123);
        assert_eq!(ms("0.29"), 290);
        // Prometheus's int64(1.001 * 1000) gives 1000.
        assert_eq!(ms("1.001"), 1001);
        assert_eq!(ms("1.520879607789e+09"), 1520879607789);
        assert_eq!(ms("1.7268398142239082e+09"), 1726839814223);
        assert_eq!(ms("-1.5"), -1500);
        assert_eq!(ms("-0.0005"), 0);
        assert_eq!(ms("1e-10"), 0);
        assert_eq!(ms("5"), 5000);
        assert_eq!(ms("1e300"), i64::MAX);
        assert_eq!(ms("-1e300"), i64::MIN);
    }

    #[test]
    fn om_timestamps_read_back_exactly() {
        for ms in [
            0,
            1,
            -1,
            999,
            1520879607789,
            123123,
            -1520879607789,
            i64::MAX,
            i64::MIN,
            9_007_199_254_740_993,
        ] {
            let mut v = Vec::new();
            write_om_timestamp(&mut v, ms);
            let s = std::str::from_utf8(&v).unwrap();
            let f: f64 = s.parse().unwrap();
            assert_eq!(seconds_to_ms(&v, f), ms, "{s}");
        }
        let mut v = Vec::new();
        write_om_timestamp(&mut v, 1520879607789);
        assert_eq!(v, b"1.520879607789e+09");
    }
}
