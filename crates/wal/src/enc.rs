//! Byte-level helpers mirroring the Go `encoding` package Prometheus uses: big-endian
//! fixed-width integers, Go varints and length-prefixed strings, plus a bounds-checked
//! decoder. Public because the block formats in `ember-tsdb` speak the same dialect; one
//! implementation serves both the WAL records and the index/chunk files.

use std::fmt;

/// Appends Go's `binary.PutUvarint` encoding.
pub fn put_uvarint(b: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        b.push((v as u8) | 0x80);
        v >>= 7;
    }
    b.push(v as u8);
}

/// Appends Go's `binary.PutVarint` (zig-zag) encoding.
pub fn put_varint(b: &mut Vec<u8>, v: i64) {
    put_uvarint(b, ((v as u64) << 1) ^ ((v >> 63) as u64));
}

/// Appends a big-endian `u32`.
pub fn put_be32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian `u64`.
pub fn put_be64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_be_bytes());
}

/// Appends a uvarint length and the string's bytes.
pub fn put_str(b: &mut Vec<u8>, s: &str) {
    put_uvarint(b, s.len() as u64);
    b.extend_from_slice(s.as_bytes());
}

/// Appends zero bytes until `b.len()` is a multiple of `align`.
pub fn pad(b: &mut Vec<u8>, align: usize) {
    let rem = b.len() % align;
    if rem != 0 {
        b.resize(b.len() + align - rem, 0);
    }
}

/// A decoding failure: what was being read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

impl From<DecodeError> for crate::Error {
    fn from(e: DecodeError) -> Self {
        crate::Error::InvalidRecord(e.0)
    }
}

/// Reads from a byte slice; every read reports running out as an error.
#[derive(Clone, Debug)]
pub struct Dec<'a> {
    /// What is left to read.
    pub b: &'a [u8],
}

impl<'a> Dec<'a> {
    /// A decoder over `b`.
    pub fn new(b: &'a [u8]) -> Self {
        Dec { b }
    }

    /// Whether everything has been read.
    pub fn is_empty(&self) -> bool {
        self.b.is_empty()
    }

    /// How many bytes are left.
    pub fn len(&self) -> usize {
        self.b.len()
    }

    fn short(what: &str) -> DecodeError {
        DecodeError(format!("unexpected end of data reading {what}"))
    }

    /// One byte.
    pub fn byte(&mut self) -> Result<u8, DecodeError> {
        let (&x, rest) = self.b.split_first().ok_or_else(|| Self::short("byte"))?;
        self.b = rest;
        Ok(x)
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.b.len() < n {
            return Err(Self::short("bytes"));
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }

    /// A big-endian `u32`.
    pub fn be32(&mut self) -> Result<u32, DecodeError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A big-endian `u64`.
    pub fn be64(&mut self) -> Result<u64, DecodeError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// A Go uvarint; more than 64 bits is an error, as in Go.
    pub fn uvarint(&mut self) -> Result<u64, DecodeError> {
        let mut x = 0u64;
        let mut s = 0u32;
        for i in 0..10 {
            let b = self.byte()?;
            if b < 0x80 {
                if i == 9 && b > 1 {
                    break;
                }
                return Ok(x | (b as u64) << s);
            }
            x |= ((b & 0x7f) as u64) << s;
            s += 7;
        }
        Err(DecodeError("varint overflows 64 bits".into()))
    }

    /// A Go zig-zag varint.
    pub fn varint(&mut self) -> Result<i64, DecodeError> {
        let ux = self.uvarint()?;
        let x = (ux >> 1) as i64;
        Ok(if ux & 1 != 0 { !x } else { x })
    }

    /// A uvarint-length-prefixed UTF-8 string.
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = self.uvarint()? as usize;
        let b = self.bytes(n)?;
        std::str::from_utf8(b).map_err(|_| DecodeError("string is not UTF-8".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_overflow_is_an_error() {
        let mut b = Vec::new();
        for v in [0i64, 1, -1, 63, -64, 1 << 40, i64::MIN, i64::MAX] {
            put_varint(&mut b, v);
        }
        put_str(&mut b, "héllo");
        let mut d = Dec::new(&b);
        for v in [0i64, 1, -1, 63, -64, 1 << 40, i64::MIN, i64::MAX] {
            assert_eq!(d.varint().unwrap(), v);
        }
        assert_eq!(d.str().unwrap(), "héllo");
        assert!(d.is_empty());
        assert!(Dec::new(&[0xff; 11]).uvarint().is_err());
        assert!(Dec::new(&[0x80]).uvarint().is_err());
    }
}
