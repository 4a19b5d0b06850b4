//! The XOR chunk: Gorilla-style compression of float samples (delta-of-delta
//! timestamps, XOR-ed values), byte-compatible with Prometheus's `EncXOR` chunks.

use crate::bstream::{BitReader, BitWriter, Eof, write_uvarint, write_varint};

/// Prometheus cuts a new chunk at this many samples (its head's target).
pub const TARGET_SAMPLES: u16 = 120;
/// Largest an XOR chunk may grow.
pub const MAX_BYTES: usize = 1024;

/// A float chunk being written or read.
#[derive(Clone, Debug)]
pub struct XorChunk {
    w: BitWriter,
    // Appender state, kept with the chunk so appends can continue after reads.
    t: i64,
    v: f64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
}

impl Default for XorChunk {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `x` fits the signed `nbits` ranges Prometheus uses for timestamp
/// delta-of-deltas (note the asymmetric upper bound, kept for byte compatibility).
fn bit_range(x: i64, nbits: u8) -> bool {
    -((1i64 << (nbits - 1)) - 1) <= x && x <= 1i64 << (nbits - 1)
}

impl XorChunk {
    /// An empty chunk.
    pub fn new() -> Self {
        XorChunk {
            w: BitWriter::from_bytes(vec![0, 0], 0),
            t: i64::MIN,
            v: 0.0,
            t_delta: 0,
            leading: 0xff,
            trailing: 0,
        }
    }

    /// Reopens encoded chunk bytes for appending, replaying them to restore the
    /// encoder state.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, crate::Error> {
        let mut it = XorIterator::new(bytes)?;
        let mut c = XorChunk {
            w: BitWriter::default(),
            ..XorChunk::new()
        };
        while it.advance() {
            c.t = it.t;
            c.v = it.v;
            c.t_delta = it.t_delta;
        }
        if let Some(e) = it.err {
            return Err(e);
        }
        c.leading = it.leading;
        c.trailing = it.trailing;
        // The reader started after the two header bytes.
        let used_bits = 16 + it.r.position();
        let len = used_bits.div_ceil(8);
        let free = (len * 8 - used_bits) as u8;
        let mut v = bytes[..len].to_vec();
        if free > 0 {
            // Clear any padding so later bits OR in cleanly.
            let last = v.len() - 1;
            v[last] &= !((1u8 << free) - 1);
        }
        c.w = BitWriter::from_bytes(v, free);
        Ok(c)
    }

    /// Number of samples.
    pub fn num_samples(&self) -> u16 {
        let b = self.w.bytes();
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The encoded bytes (header and bit stream, padding zeroed).
    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    /// Whether the chunk should be cut before the next append.
    pub fn is_full(&self) -> bool {
        self.num_samples() == u16::MAX || self.w.bytes().len() > MAX_BYTES - 19
    }

    /// Appends a sample; `t` must be greater than the previous timestamp.
    pub fn append(&mut self, t: i64, v: f64) {
        let num = self.num_samples();
        let mut t_delta = 0u64;
        match num {
            0 => {
                write_varint(&mut self.w, t);
                self.w.write_bits(v.to_bits(), 64);
            }
            1 => {
                t_delta = t.wrapping_sub(self.t) as u64;
                write_uvarint(&mut self.w, t_delta);
                self.write_value(v);
            }
            _ => {
                t_delta = t.wrapping_sub(self.t) as u64;
                let dod = t_delta.wrapping_sub(self.t_delta) as i64;
                if dod == 0 {
                    self.w.write_bit(false);
                } else if bit_range(dod, 14) {
                    self.w.write_bits(0b10, 2);
                    self.w.write_bits(dod as u64, 14);
                } else if bit_range(dod, 17) {
                    self.w.write_bits(0b110, 3);
                    self.w.write_bits(dod as u64, 17);
                } else if bit_range(dod, 20) {
                    self.w.write_bits(0b1110, 4);
                    self.w.write_bits(dod as u64, 20);
                } else {
                    self.w.write_bits(0b1111, 4);
                    self.w.write_bits(dod as u64, 64);
                }
                self.write_value(v);
            }
        }
        self.t = t;
        self.v = v;
        self.t_delta = t_delta;
        let n = (num + 1).to_be_bytes();
        self.w.bytes_mut()[..2].copy_from_slice(&n);
    }

    fn write_value(&mut self, v: f64) {
        xor_write(
            &mut self.w,
            v,
            self.v,
            &mut self.leading,
            &mut self.trailing,
        );
    }

    /// Iterates the samples.
    pub fn iter(&self) -> XorIterator<'_> {
        XorIterator::new(self.w.bytes()).unwrap_or_else(|_| XorIterator::empty())
    }
}

/// Decodes an XOR chunk.
#[derive(Clone, Debug)]
pub struct XorIterator<'a> {
    r: BitReader<'a>,
    total: u16,
    read: u16,
    t: i64,
    v: f64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
    err: Option<crate::Error>,
}

impl<'a> XorIterator<'a> {
    /// Iterates encoded chunk bytes (header included).
    pub fn new(bytes: &'a [u8]) -> Result<Self, crate::Error> {
        if bytes.len() < 2 {
            return Err(crate::Error::Corrupt(
                "XOR chunk shorter than its header".into(),
            ));
        }
        Ok(XorIterator {
            r: BitReader::new(&bytes[2..]),
            total: u16::from_be_bytes([bytes[0], bytes[1]]),
            read: 0,
            t: i64::MIN,
            v: 0.0,
            t_delta: 0,
            leading: 0,
            trailing: 0,
            err: None,
        })
    }

    fn empty() -> Self {
        XorIterator {
            r: BitReader::new(&[]),
            total: 0,
            read: 0,
            t: i64::MIN,
            v: 0.0,
            t_delta: 0,
            leading: 0,
            trailing: 0,
            err: None,
        }
    }

    /// Moves to the next sample; false at the end or on corruption (see [`Self::err`]).
    pub fn advance(&mut self) -> bool {
        if self.err.is_some() || self.read >= self.total {
            return false;
        }
        match self.decode() {
            Ok(()) => {
                self.read += 1;
                true
            }
            Err(Eof) => {
                self.err = Some(crate::Error::Corrupt(format!(
                    "XOR chunk ends after {} of {} samples",
                    self.read, self.total
                )));
                false
            }
        }
    }

    fn decode(&mut self) -> Result<(), Eof> {
        match self.read {
            0 => {
                self.t = self.r.read_varint()?;
                self.v = f64::from_bits(self.r.read_bits(64)?);
            }
            1 => {
                self.t_delta = self.r.read_uvarint()?;
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.read_value()?;
            }
            _ => {
                let mut prefix = 0u8;
                for _ in 0..4 {
                    prefix <<= 1;
                    if !self.r.read_bit()? {
                        break;
                    }
                    prefix |= 1;
                }
                let size = match prefix {
                    0b0 => 0,
                    0b10 => 14,
                    0b110 => 17,
                    0b1110 => 20,
                    _ => 64,
                };
                let dod = if size == 0 {
                    0
                } else if size == 64 {
                    self.r.read_bits(64)? as i64
                } else {
                    let mut bits = self.r.read_bits(size)?;
                    // Negative values come back as large unsigned ones.
                    if bits > 1 << (size - 1) {
                        bits = bits.wrapping_sub(1 << size);
                    }
                    bits as i64
                };
                self.t_delta = self.t_delta.wrapping_add(dod as u64);
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.read_value()?;
            }
        }
        Ok(())
    }

    fn read_value(&mut self) -> Result<(), Eof> {
        xor_read(
            &mut self.r,
            &mut self.v,
            &mut self.leading,
            &mut self.trailing,
        )
    }

    /// The current sample.
    pub fn at(&self) -> (i64, f64) {
        (self.t, self.v)
    }

    /// The corruption that stopped iteration, if any.
    pub fn err(&self) -> Option<&crate::Error> {
        self.err.as_ref()
    }
}

/// Writes `new` XOR-ed against `cur` (Gorilla value compression), reusing the
/// previous leading/trailing-zero window when it still fits. `leading == 0xff` means
/// no window yet. Shared by XOR and histogram chunks, which encode it identically.
pub(crate) fn xor_write(
    w: &mut BitWriter,
    new: f64,
    cur: f64,
    leading: &mut u8,
    trailing: &mut u8,
) {
    let delta = new.to_bits() ^ cur.to_bits();
    if delta == 0 {
        w.write_bit(false);
        return;
    }
    w.write_bit(true);
    let mut new_leading = delta.leading_zeros() as u8;
    let new_trailing = delta.trailing_zeros() as u8;
    // Five bits hold the leading-zero count.
    if new_leading >= 32 {
        new_leading = 31;
    }
    if *leading != 0xff && new_leading >= *leading && new_trailing >= *trailing {
        w.write_bit(false);
        w.write_bits(delta >> *trailing, 64 - *leading - *trailing);
        return;
    }
    *leading = new_leading;
    *trailing = new_trailing;
    w.write_bit(true);
    w.write_bits(new_leading as u64, 5);
    // 64 significant bits do not fit in six bits; 0 stands for 64 (0 itself never
    // occurs, since a zero delta took the branch above).
    let sig = 64 - new_leading - new_trailing;
    w.write_bits(sig as u64, 6);
    w.write_bits(delta >> new_trailing, sig);
}

/// Reads a value written by [`xor_write`], updating `v` and the window in place.
/// Corrupt windows (more than 64 bits) read garbage rather than panicking.
pub(crate) fn xor_read(
    r: &mut BitReader<'_>,
    v: &mut f64,
    leading: &mut u8,
    trailing: &mut u8,
) -> Result<(), Eof> {
    if !r.read_bit()? {
        return Ok(());
    }
    if r.read_bit()? {
        *leading = r.read_bits(5)? as u8;
        let mut sig = r.read_bits(6)? as u8;
        if sig == 0 {
            sig = 64;
        }
        *trailing = 64u8.saturating_sub(*leading + sig);
    }
    let sig = 64u8.saturating_sub(leading.saturating_add(*trailing));
    let bits = r.read_bits(sig)?;
    let shifted = if *trailing >= 64 {
        0
    } else {
        bits << *trailing
    };
    *v = f64::from_bits(v.to_bits() ^ shifted);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn collect(c: &XorChunk) -> Vec<(i64, u64)> {
        let mut it = c.iter();
        let mut v = Vec::new();
        while it.advance() {
            let (t, x) = it.at();
            v.push((t, x.to_bits()));
        }
        assert!(it.err().is_none());
        v
    }

    #[test]
    fn golden_bytes_match_prometheus() {
        // (1000,1.0) (2000,1.0) (3000,2.0) (4010,2.5), derived bit by bit from the
        // format in Prometheus's chunks.md: header 0004; varint(1000)=d00f; 1.0;
        // uvarint(1000)=e807; then '0' (same value), '0' (dod 0), '11 00001 001011'
        // + 11 ones (2.0 xor 1.0), '10' + 14-bit dod 10, '11 01101 000001 1'.
        let mut c = XorChunk::new();
        for (t, v) in [(1000, 1.0), (2000, 1.0), (3000, 2.0), (4010, 2.5)] {
            c.append(t, v);
        }
        assert_eq!(c.num_samples(), 4);
        let hex: String = c.bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, GOLDEN);
        assert_eq!(collect(&c).len(), 4);
    }

    const GOLDEN: &str = "0004d00f3ff0000000000000e8073097ffe002b683";

    #[test]
    fn reopen_and_continue() {
        let mut c = XorChunk::new();
        for i in 0..50 {
            c.append(i * 15_000 + (i % 3), (i as f64).sin());
        }
        let mut d = XorChunk::from_bytes(c.bytes()).unwrap();
        for i in 50..100 {
            c.append(i * 15_000 + (i % 3), (i as f64).sin());
            d.append(i * 15_000 + (i % 3), (i as f64).sin());
        }
        assert_eq!(c.bytes(), d.bytes());
    }

    #[test]
    fn truncated_chunk_is_an_error_not_a_panic() {
        let mut c = XorChunk::new();
        for i in 0..10 {
            c.append(i * 1000, i as f64 * 1.5);
        }
        let b = &c.bytes()[..c.bytes().len() - 3];
        let mut it = XorIterator::new(b).unwrap();
        while it.advance() {}
        assert!(it.err().is_some());
    }

    proptest! {
        #[test]
        fn round_trip(deltas in prop::collection::vec((1i64..10_000_000_000, any::<u64>()), 1..300), start in -1_000_000_000_000i64..1_000_000_000_000) {
            let mut c = XorChunk::new();
            let mut t = start;
            let mut want = Vec::new();
            for (d, bits) in deltas {
                t += d;
                let v = f64::from_bits(bits);
                c.append(t, v);
                want.push((t, bits));
            }
            prop_assert_eq!(collect(&c), want);
        }

        #[test]
        fn regular_series_round_trip(n in 1usize..500, step in 1i64..60_000, jitter in 0i64..50) {
            let mut c = XorChunk::new();
            let mut want = Vec::new();
            for i in 0..n as i64 {
                let t = i * step + (i * 7919) % (jitter + 1);
                let v = (i / 3) as f64 * 0.25;
                if want.last().is_some_and(|(lt, _)| *lt >= t) { continue; }
                c.append(t, v);
                want.push((t, v.to_bits()));
            }
            prop_assert_eq!(collect(&c), want);
        }
    }
}
