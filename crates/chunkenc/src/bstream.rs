//! Bit streams, most significant bit first within each byte, as Prometheus's
//! `bstream` lays them out; chunk bytes must match it bit for bit.

/// Appends bits to a byte vector.
#[derive(Clone, Debug, Default)]
pub struct BitWriter {
    bytes: Vec<u8>,
    /// Bits still free in the last byte (0 when a new byte is needed).
    free: u8,
}

impl BitWriter {
    /// Continues writing after `bytes`, whose last byte has `free` unused low bits.
    pub fn from_bytes(bytes: Vec<u8>, free: u8) -> Self {
        BitWriter { bytes, free }
    }

    /// The bytes written so far (the last one may be partly filled).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Mutable access, for headers patched in place.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    /// Consumes the writer.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Unused bits in the last byte.
    pub fn free_bits(&self) -> u8 {
        self.free
    }

    /// Appends a byte, growing the buffer by about a quarter at a time (rather than
    /// doubling it) to sizes malloc hands out whole: a head keeps one open chunk per
    /// series, and doubling left a third of each unused on average.
    #[inline]
    fn push(&mut self, b: u8) {
        if self.bytes.len() == self.bytes.capacity() {
            self.grow();
        }
        self.bytes.push(b);
    }

    #[cold]
    fn grow(&mut self) {
        let cap = self.bytes.capacity();
        let want = cap + (cap / 4).max(16);
        // Allocations of 16n + 8 bytes fill glibc's 16-byte granules exactly.
        let want = ((want + 8 + 15) & !15) - 8;
        self.bytes.reserve_exact(want - self.bytes.len());
    }

    /// Writes one bit.
    #[inline]
    pub fn write_bit(&mut self, bit: bool) {
        if self.free == 0 {
            self.push(0);
            self.free = 8;
        }
        if bit {
            let last = self.bytes.len() - 1;
            self.bytes[last] |= 1 << (self.free - 1);
        }
        self.free -= 1;
    }

    /// Writes a whole byte (bit-aligned wherever the stream stands).
    #[inline]
    pub fn write_byte(&mut self, b: u8) {
        if self.free == 0 {
            self.push(b);
            return;
        }
        let last = self.bytes.len() - 1;
        self.bytes[last] |= b >> (8 - self.free);
        self.push(b << self.free);
    }

    /// Writes the low `n` bits of `v`, most significant first (`n <= 64`).
    #[inline]
    pub fn write_bits(&mut self, v: u64, n: u8) {
        debug_assert!(n <= 64);
        let mut v = if n == 64 { v } else { v << (64 - n) };
        let mut n = n;
        while n >= 8 {
            self.write_byte((v >> 56) as u8);
            v <<= 8;
            n -= 8;
        }
        while n > 0 {
            self.write_bit(v >> 63 == 1);
            v <<= 1;
            n -= 1;
        }
    }
}

/// Reads bits from a byte slice.
#[derive(Clone, Debug)]
pub struct BitReader<'a> {
    bytes: &'a [u8],
    /// Position in bits from the start.
    pos: usize,
}

/// The stream ended before the bits asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eof;

impl<'a> BitReader<'a> {
    /// Reads `bytes` from the first bit.
    pub fn new(bytes: &'a [u8]) -> Self {
        BitReader { bytes, pos: 0 }
    }

    /// Bits consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bits left to read.
    pub fn remaining_bits(&self) -> usize {
        (self.bytes.len() * 8).saturating_sub(self.pos)
    }

    /// Reads one bit.
    #[inline]
    pub fn read_bit(&mut self) -> Result<bool, Eof> {
        let byte = *self.bytes.get(self.pos / 8).ok_or(Eof)?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1 == 1;
        self.pos += 1;
        Ok(bit)
    }

    /// The 64 bits from byte `i` on, zeros past the end.
    #[inline(always)]
    fn word(&self, i: usize) -> u64 {
        match self.bytes.get(i..i + 8) {
            Some(b) => u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
            None => {
                let mut w = [0u8; 8];
                let rest = self.bytes.get(i..).unwrap_or(&[]);
                w[..rest.len()].copy_from_slice(rest);
                u64::from_be_bytes(w)
            }
        }
    }

    /// Reads `n <= 64` bits as the low bits of a `u64`.
    #[inline]
    pub fn read_bits(&mut self, n: u8) -> Result<u64, Eof> {
        debug_assert!(n <= 64);
        if self.pos + n as usize > self.bytes.len() * 8 {
            return Err(Eof);
        }
        if n == 0 {
            return Ok(0);
        }
        let take = |r: &mut Self, n: u32| {
            let w = r.word(r.pos / 8) << (r.pos % 8);
            r.pos += n as usize;
            w >> (64 - n)
        };
        if n <= 56 {
            return Ok(take(self, n as u32));
        }
        let hi = take(self, 32);
        let lo = take(self, n as u32 - 32);
        Ok(hi << (n - 32) | lo)
    }

    /// Reads a Go `binary.Uvarint` from the bit stream.
    pub fn read_uvarint(&mut self) -> Result<u64, Eof> {
        let mut x = 0u64;
        let mut s = 0u32;
        for i in 0..10 {
            let b = self.read_bits(8)? as u8;
            if b < 0x80 {
                if i == 9 && b > 1 {
                    return Err(Eof);
                }
                return Ok(x | (b as u64) << s);
            }
            x |= ((b & 0x7f) as u64) << s;
            s += 7;
        }
        Err(Eof)
    }

    /// Reads a Go `binary.Varint` (zig-zag) from the bit stream.
    pub fn read_varint(&mut self) -> Result<i64, Eof> {
        let ux = self.read_uvarint()?;
        let x = (ux >> 1) as i64;
        Ok(if ux & 1 != 0 { !x } else { x })
    }
}

/// Appends Go's `binary.PutUvarint` encoding of `v` bit-wise.
pub fn write_uvarint(w: &mut BitWriter, mut v: u64) {
    while v >= 0x80 {
        w.write_byte((v as u8) | 0x80);
        v >>= 7;
    }
    w.write_byte(v as u8);
}

/// Appends Go's `binary.PutVarint` (zig-zag) encoding of `v` bit-wise.
pub fn write_varint(w: &mut BitWriter, v: i64) {
    let ux = ((v as u64) << 1) ^ ((v >> 63) as u64);
    write_uvarint(w, ux);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip() {
        let mut w = BitWriter::default();
        w.write_bit(true);
        w.write_bits(0b1011, 4);
        w.write_bits(u64::MAX, 64);
        w.write_byte(0xA5);
        write_varint(&mut w, -300);
        write_uvarint(&mut w, 1 << 40);
        w.write_bits(5, 3);
        let b = w.into_bytes();
        let mut r = BitReader::new(&b);
        assert!(r.read_bit().unwrap());
        assert_eq!(r.read_bits(4).unwrap(), 0b1011);
        assert_eq!(r.read_bits(64).unwrap(), u64::MAX);
        assert_eq!(r.read_bits(8).unwrap(), 0xA5);
        assert_eq!(r.read_varint().unwrap(), -300);
        assert_eq!(r.read_uvarint().unwrap(), 1 << 40);
        assert_eq!(r.read_bits(3).unwrap(), 5);
        assert!(r.read_bits(8).is_err());
    }

    #[test]
    fn msb_first_layout() {
        let mut w = BitWriter::default();
        w.write_bit(true);
        w.write_bits(1, 2);
        assert_eq!(w.bytes(), &[0b1010_0000]);
    }
}
