//! Prometheus's `varbit` integers: a unary prefix of up to eight bits picks one of
//! nine value widths (0, 3, 6, 9, 12, 18, 25, 56 or 64 bits). Histogram chunks use
//! them for the layout, the first sample and every delta-of-delta, so their bucket
//! boundaries must match Prometheus's exactly.
//!
//! | prefix     | signed range                 | unsigned range |
//! | ---------- | ---------------------------- | -------------- |
//! | `0`        | 0                            | 0              |
//! | `10`       | -3 ..= 4                     | ..= 7          |
//! | `110`      | -31 ..= 32                   | ..= 63         |
//! | `1110`     | -255 ..= 256                 | ..= 511        |
//! | `11110`    | -2047 ..= 2048               | ..= 4095       |
//! | `111110`   | -131071 ..= 131072           | ..= 2^18-1     |
//! | `1111110`  | -16777215 ..= 16777216       | ..= 2^25-1     |
//! | `11111110` | -(2^55-1) ..= 2^55           | ..= 2^56-1     |
//! | `11111111` | anything (64 raw bits)       | anything       |

use crate::bstream::{BitReader, BitWriter, Eof};

/// Widths after each prefix, indexed by the number of leading one bits (0..=7);
/// eight ones mean 64 raw bits.
const WIDTHS: [u8; 8] = [0, 3, 6, 9, 12, 18, 25, 56];

/// Whether `x` fits the signed `nbits` range Prometheus uses (asymmetric: one more
/// positive value than negative, kept for byte compatibility).
fn fits_signed(x: i64, nbits: u8) -> bool {
    -((1i64 << (nbits - 1)) - 1) <= x && x <= 1i64 << (nbits - 1)
}

/// Appends `v` as a signed varbit.
pub fn put_varbit_int(w: &mut BitWriter, v: i64) {
    if v == 0 {
        w.write_bit(false);
        return;
    }
    for (ones, &width) in WIDTHS.iter().enumerate().skip(1) {
        if fits_signed(v, width) {
            write_prefix(w, ones as u8);
            w.write_bits(v as u64, width);
            return;
        }
    }
    w.write_bits(0xff, 8);
    w.write_bits(v as u64, 64);
}

/// Appends `v` as an unsigned varbit.
pub fn put_varbit_uint(w: &mut BitWriter, v: u64) {
    if v == 0 {
        w.write_bit(false);
        return;
    }
    for (ones, &width) in WIDTHS.iter().enumerate().skip(1) {
        if v >> width == 0 {
            write_prefix(w, ones as u8);
            w.write_bits(v, width);
            return;
        }
    }
    w.write_bits(0xff, 8);
    w.write_bits(v, 64);
}

/// `ones` one bits and a terminating zero.
fn write_prefix(w: &mut BitWriter, ones: u8) {
    w.write_bits(((1u64 << ones) - 1) << 1, ones + 1);
}

/// Counts the prefix's one bits (a zero ends it; the eighth one ends it too).
fn read_prefix(r: &mut BitReader<'_>) -> Result<u8, Eof> {
    let mut ones = 0u8;
    while ones < 8 && r.read_bit()? {
        ones += 1;
    }
    Ok(ones)
}

/// Reads a signed varbit.
pub fn read_varbit_int(r: &mut BitReader<'_>) -> Result<i64, Eof> {
    let ones = read_prefix(r)?;
    let Some(&width) = WIDTHS.get(ones as usize) else {
        return Ok(r.read_bits(64)? as i64);
    };
    if width == 0 {
        return Ok(0);
    }
    let mut bits = r.read_bits(width)?;
    // Negative values were written as their low `width` two's-complement bits.
    if bits > 1 << (width - 1) {
        bits = bits.wrapping_sub(1 << width);
    }
    Ok(bits as i64)
}

/// Reads an unsigned varbit.
pub fn read_varbit_uint(r: &mut BitReader<'_>) -> Result<u64, Eof> {
    let ones = read_prefix(r)?;
    let width = WIDTHS.get(ones as usize).copied().unwrap_or(64);
    if width == 0 {
        return Ok(0);
    }
    r.read_bits(width)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    // The boundary values of Prometheus's varbit_test.go.
    const INT_BOUNDARIES: [i64; 35] = [
        i64::MIN,
        -36028797018963968,
        -36028797018963967,
        -16777216,
        -16777215,
        -131072,
        -131071,
        -2048,
        -2047,
        -256,
        -255,
        -32,
        -31,
        -4,
        -3,
        -1,
        0,
        1,
        4,
        5,
        32,
        33,
        256,
        257,
        2048,
        2049,
        131072,
        131073,
        16777216,
        16777217,
        36028797018963968,
        36028797018963969,
        i64::MAX,
        7,
        -7,
    ];

    #[test]
    fn int_boundaries_round_trip() {
        let mut w = BitWriter::default();
        for v in INT_BOUNDARIES {
            put_varbit_int(&mut w, v);
        }
        let b = w.into_bytes();
        let mut r = BitReader::new(&b);
        for v in INT_BOUNDARIES {
            assert_eq!(read_varbit_int(&mut r).unwrap(), v);
        }
    }

    #[test]
    fn uint_boundaries_round_trip() {
        let values = [
            0,
            1,
            7,
            8,
            63,
            64,
            511,
            512,
            4095,
            4096,
            262143,
            262144,
            33554431,
            33554432,
            72057594037927935,
            72057594037927936,
            u64::MAX,
        ];
        let mut w = BitWriter::default();
        for v in values {
            put_varbit_uint(&mut w, v);
        }
        let b = w.into_bytes();
        let mut r = BitReader::new(&b);
        for v in values {
            assert_eq!(read_varbit_uint(&mut r).unwrap(), v);
        }
    }

    #[test]
    fn widths_at_each_boundary() {
        // Bits used by each value: prefix plus payload, from the table in the module doc.
        let cases: [(i64, usize); 16] = [
            (0, 1),
            (4, 5),
            (-3, 5),
            (5, 9),
            (-4, 9),
            (32, 9),
            (33, 13),
            (-256, 17),
            (2048, 17),
            (2049, 24),
            (131073, 32),
            (16777216, 32),
            (16777217, 64),
            (36028797018963968, 64),
            (36028797018963969, 72),
            (i64::MIN, 72),
        ];
        for (v, bits) in cases {
            let mut w = BitWriter::default();
            put_varbit_int(&mut w, v);
            let used = w.bytes().len() * 8 - w.free_bits() as usize;
            assert_eq!(used, bits, "{v}");
        }
    }

    #[test]
    fn golden_bits() {
        // 0 → '0'; 1 → '10' '001'; -1 → '10' '111'; 9 → '110' '001001';
        // uint 8 → '110' '001000'. Concatenated:
        // 0100 0110 1111 1000 1001 1100 0100 0 → 46 f8 9c 40.
        let mut w = BitWriter::default();
        put_varbit_int(&mut w, 0);
        put_varbit_int(&mut w, 1);
        put_varbit_int(&mut w, -1);
        put_varbit_int(&mut w, 9);
        put_varbit_uint(&mut w, 8);
        assert_eq!(hex(w.bytes()), "46f89c40");
    }

    #[test]
    fn truncated_input_is_eof() {
        let mut w = BitWriter::default();
        put_varbit_int(&mut w, 1 << 40);
        let b = w.into_bytes();
        for n in 0..b.len() {
            let mut r = BitReader::new(&b[..n]);
            assert!(read_varbit_int(&mut r).is_err());
            let mut r = BitReader::new(&b[..n]);
            assert!(read_varbit_uint(&mut r).is_err());
        }
        // A run of ones is a 64-bit value whose payload is missing.
        let mut r = BitReader::new(&[0xff]);
        assert!(read_varbit_int(&mut r).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(ints in prop::collection::vec(any::<i64>(), 0..50), small in prop::collection::vec(-70_000i64..70_000, 0..50), uints in prop::collection::vec(any::<u64>(), 0..50)) {
            let mut w = BitWriter::default();
            for v in ints.iter().chain(&small) {
                put_varbit_int(&mut w, *v);
            }
            for v in &uints {
                put_varbit_uint(&mut w, *v);
            }
            let b = w.into_bytes();
            let mut r = BitReader::new(&b);
            for v in ints.iter().chain(&small) {
                prop_assert_eq!(read_varbit_int(&mut r).unwrap(), *v);
            }
            for v in &uints {
                prop_assert_eq!(read_varbit_uint(&mut r).unwrap(), *v);
            }
        }
    }
}
