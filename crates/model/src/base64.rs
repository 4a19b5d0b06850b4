//! Base64 (RFC 4648), the standard and the URL-safe alphabet, as Go's
//! `encoding/base64` encodes and (non-strictly) decodes: Basic auth headers, SMTP
//! AUTH, YAML's `!!binary`, and the Pushgateway's `@base64` URL segments all use it.

/// Which alphabet: `+/` or `-_` for the last two digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alphabet {
    /// `A–Z a–z 0–9 + /`.
    Standard,
    /// `A–Z a–z 0–9 - _`.
    UrlSafe,
}

impl Alphabet {
    fn digits(self) -> &'static [u8; 64] {
        match self {
            Alphabet::Standard => {
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
            }
            Alphabet::UrlSafe => {
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            }
        }
    }

    fn value(self, c: u8) -> Option<u8> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' if self == Alphabet::Standard => 62,
            b'/' if self == Alphabet::Standard => 63,
            b'-' if self == Alphabet::UrlSafe => 62,
            b'_' if self == Alphabet::UrlSafe => 63,
            _ => return None,
        })
    }
}

/// Encodes `data`; with `pad`, the output is a multiple of four characters (`=`).
pub fn encode(data: &[u8], alphabet: Alphabet, pad: bool) -> String {
    let digits = alphabet.digits();
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(digits[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes unpadded base64 (strip any `=` first). As Go's non-strict decoding, the
/// unused low bits of the last digit are ignored; a lone last digit (six bits, no
/// whole byte) is an error. The error is Go's: `illegal base64 data at input byte N`.
pub fn decode(s: &str, alphabet: Alphabet) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for (i, c) in s.bytes().enumerate() {
        let v = alphabet
            .value(c)
            .ok_or_else(|| format!("illegal base64 data at input byte {i}"))?;
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if bits == 6 {
        return Err(format!("illegal base64 data at input byte {}", s.len() - 1));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors_and_go_leniency() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("ab", "YWI="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("Aladdin:open sesame", "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
        ] {
            assert_eq!(encode(plain.as_bytes(), Alphabet::Standard, true), enc);
            assert_eq!(
                decode(enc.trim_end_matches('='), Alphabet::Standard).as_deref(),
                Ok(plain.as_bytes())
            );
        }
        assert_eq!(encode(b"/var/tmp", Alphabet::UrlSafe, false), "L3Zhci90bXA");
        assert_eq!(encode(&[0xfb, 0xff], Alphabet::UrlSafe, false), "-_8");
        // Unused trailing bits are ignored, as Go's default (non-strict) decoding.
        assert_eq!(decode("Zh", Alphabet::Standard).as_deref(), Ok(&b"f"[..]));
        assert!(decode("Z", Alphabet::Standard).is_err());
        assert_eq!(
            decode("a+b", Alphabet::UrlSafe),
            Err("illegal base64 data at input byte 1".into())
        );
    }
}
