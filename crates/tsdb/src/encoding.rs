//! Byte helpers shared by the block formats: Go-compatible varints, big-endian
//! integers, and a bounds-checked decoder over a byte slice.

use std::fmt;

pub(crate) fn put_uvarint(b: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        b.push((v as u8) | 0x80);
        v >>= 7;
    }
    b.push(v as u8);
}

pub(crate) fn put_varint(b: &mut Vec<u8>, v: i64) {
    put_uvarint(b, ((v as u64) << 1) ^ ((v >> 63) as u64));
}

pub(crate) fn put_be32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_be64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_str(b: &mut Vec<u8>, s: &str) {
    put_uvarint(b, s.len() as u64);
    b.extend_from_slice(s.as_bytes());
}

/// A decoding failure: what was being read and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads from a slice; every read checks bounds.
#[derive(Clone, Debug)]
pub(crate) struct Dec<'a> {
    pub(crate) b: &'a [u8],
}

impl<'a> Dec<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Dec { b }
    }

    fn short(what: &str) -> DecodeError {
        DecodeError(format!("unexpected end of data reading {what}"))
    }

    pub(crate) fn len(&self) -> usize {
        self.b.len()
    }

    pub(crate) fn byte(&mut self) -> Result<u8, DecodeError> {
        let (&x, rest) = self.b.split_first().ok_or_else(|| Self::short("byte"))?;
        self.b = rest;
        Ok(x)
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.b.len() < n {
            return Err(Self::short("bytes"));
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }

    pub(crate) fn be32(&mut self) -> Result<u32, DecodeError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn be64(&mut self) -> Result<u64, DecodeError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    pub(crate) fn uvarint(&mut self) -> Result<u64, DecodeError> {
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

    pub(crate) fn varint(&mut self) -> Result<i64, DecodeError> {
        let ux = self.uvarint()?;
        let x = (ux >> 1) as i64;
        Ok(if ux & 1 != 0 { !x } else { x })
    }

    pub(crate) fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = self.uvarint()? as usize;
        let b = self.bytes(n)?;
        std::str::from_utf8(b).map_err(|_| DecodeError("string is not UTF-8".into()))
    }
}

/// Appends zero bytes until `b.len()` is a multiple of `align`.
pub(crate) fn pad(b: &mut Vec<u8>, align: usize) {
    let rem = b.len() % align;
    if rem != 0 {
        b.resize(b.len() + align - rem, 0);
    }
}
