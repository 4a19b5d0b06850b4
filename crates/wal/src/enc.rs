//! Byte-level helpers mirroring the Go `encoding` package Prometheus uses: big-endian
//! fixed-width integers and Go varints.

/// Appends Go's `binary.PutUvarint` encoding.
pub(crate) fn put_uvarint(b: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        b.push((v as u8) | 0x80);
        v >>= 7;
    }
    b.push(v as u8);
}

/// Appends Go's `binary.PutVarint` (zig-zag) encoding.
pub(crate) fn put_varint(b: &mut Vec<u8>, v: i64) {
    put_uvarint(b, ((v as u64) << 1) ^ ((v >> 63) as u64));
}

pub(crate) fn put_be64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_str(b: &mut Vec<u8>, s: &str) {
    put_uvarint(b, s.len() as u64);
    b.extend_from_slice(s.as_bytes());
}

/// Reads from a byte slice; every read reports running out as an error.
pub(crate) struct Dec<'a> {
    b: &'a [u8],
}

impl<'a> Dec<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Dec { b }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.b.is_empty()
    }

    fn short(what: &str) -> crate::Error {
        crate::Error::InvalidRecord(format!("unexpected end of record reading {what}"))
    }

    pub(crate) fn byte(&mut self) -> Result<u8, crate::Error> {
        let (&x, rest) = self.b.split_first().ok_or_else(|| Self::short("byte"))?;
        self.b = rest;
        Ok(x)
    }

    pub(crate) fn be64(&mut self) -> Result<u64, crate::Error> {
        if self.b.len() < 8 {
            return Err(Self::short("64-bit integer"));
        }
        let (head, rest) = self.b.split_at(8);
        self.b = rest;
        let mut a = [0u8; 8];
        a.copy_from_slice(head);
        Ok(u64::from_be_bytes(a))
    }

    pub(crate) fn uvarint(&mut self) -> Result<u64, crate::Error> {
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
        Err(crate::Error::InvalidRecord(
            "varint overflows 64 bits".into(),
        ))
    }

    pub(crate) fn varint(&mut self) -> Result<i64, crate::Error> {
        let ux = self.uvarint()?;
        let x = (ux >> 1) as i64;
        Ok(if ux & 1 != 0 { !x } else { x })
    }

    pub(crate) fn str(&mut self) -> Result<String, crate::Error> {
        let n = self.uvarint()? as usize;
        if self.b.len() < n {
            return Err(Self::short("string"));
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        String::from_utf8(head.to_vec())
            .map_err(|_| crate::Error::InvalidRecord("string is not UTF-8".into()))
    }
}
