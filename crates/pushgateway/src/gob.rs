//! A reader for Go's `encoding/gob` streams, enough to load the persistence file of
//! Prometheus's Pushgateway (see "Reading the original's file" in
//! `docs/format/persistence.md`); [`crate::persist`] maps the decoded value onto
//! Ember's groups.
//!
//! Written by hand because no Rust crate reads gob: the format is Go's own, defined
//! by the `encoding/gob` package documentation. Only decoding is needed, and only
//! what that file can hold: type definitions (array, slice, struct, map and the
//! three "encodes itself" kinds: `GobEncoder`, `BinaryMarshaler`, `TextMarshaler`),
//! and values of the predeclared types, arrays, slices, maps, structs and
//! self-encoded values (kept as their bytes; `time.Time` is one, decoded by
//! [`go_time_unix_nanos`]). Interface values never occur in that file and are
//! refused rather than guessed at.
//!
//! The decoder is generic over the stream's own type definitions rather than
//! hard-wired to the Pushgateway's byte layout, because the original's encoder also
//! defines types it never sends values of (the protobuf structs behind its
//! `GobEncoder`), and numbers its types from a process-wide counter: ids and the
//! order of definitions differ between builds, the field names do not.

use std::collections::HashMap;

/// Why a gob stream could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq)]
pub(crate) enum GobError {
    /// The input ended inside an item.
    #[error("gob: unexpected end of data at byte {0}")]
    Truncated(usize),
    /// An unsigned integer announced more than eight bytes.
    #[error("gob: invalid integer encoding at byte {0}")]
    BadInteger(usize),
    /// A value of a type the stream never defined.
    #[error("gob: value of undefined type id {0}")]
    UnknownType(i64),
    /// A type definition this reader does not understand.
    #[error("gob: bad type definition for id {id}: {reason}")]
    BadType {
        /// The id being defined.
        id: i64,
        /// What is wrong with it.
        reason: String,
    },
    /// A struct value names a field its type does not have.
    #[error("gob: field {field} out of range for a struct of {fields} fields")]
    BadField {
        /// The field number reached.
        field: u64,
        /// How many fields the type has.
        fields: usize,
    },
    /// Something well-formed this reader does not decode (interface values).
    #[error("gob: unsupported: {0}")]
    Unsupported(&'static str),
    /// A structural rule was broken.
    #[error("gob: {0}")]
    Invalid(String),
}

/// A decoded gob value. Strings stay bytes: Go strings need not be UTF-8, and the
/// Pushgateway's map keys are not (they join labels with 0xFF).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// `bool`.
    Bool(bool),
    /// Any signed integer type.
    Int(i64),
    /// Any unsigned integer type.
    Uint(u64),
    /// `float32` and `float64`.
    Float(f64),
    /// `complex64` and `complex128`: real and imaginary parts.
    Complex(f64, f64),
    /// `[]byte`.
    Bytes(Vec<u8>),
    /// `string`.
    String(Vec<u8>),
    /// An array or slice.
    List(Vec<Value>),
    /// A map, entries in stream order.
    Map(Vec<(Value, Value)>),
    /// A struct: the fields that were sent (gob omits zero values), by name.
    Struct(Vec<(String, Value)>),
    /// The bytes of a value that encoded itself (`GobEncode`, `MarshalBinary`,
    /// `MarshalText`); what they mean is up to the caller, who knows the field.
    Encoded(Vec<u8>),
}

impl Value {
    /// A struct's field by name; `None` when absent (zero) or not a struct.
    pub(crate) fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(fields) => fields.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short name of the value's kind, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Uint(_) => "uint",
            Value::Float(_) => "float",
            Value::Complex(..) => "complex",
            Value::Bytes(_) => "[]byte",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Struct(_) => "struct",
            Value::Encoded(_) => "self-encoded value",
        }
    }
}

// The predeclared type ids every stream starts with.
const BOOL: i64 = 1;
const INT: i64 = 2;
const UINT: i64 = 3;
const FLOAT: i64 = 4;
const BYTES: i64 = 5;
const STRING: i64 = 6;
const COMPLEX: i64 = 7;
const INTERFACE: i64 = 8;

/// Nesting deeper than this is refused: recursive types could otherwise exhaust
/// the stack on crafted input. Real files nest four levels.
const MAX_DEPTH: u32 = 64;

/// A type as the stream defined it.
#[derive(Debug, Clone, PartialEq)]
enum WireType {
    Array {
        elem: i64,
        len: u64,
    },
    Slice {
        elem: i64,
    },
    Map {
        key: i64,
        elem: i64,
    },
    Struct {
        fields: Vec<(String, i64)>,
    },
    /// `GobEncoder`, `BinaryMarshaler` or `TextMarshaler`: a byte string.
    Encoded,
}

/// A cursor over a byte slice with gob's primitive encodings.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], GobError> {
        if n > self.remaining() {
            return Err(GobError::Truncated(self.buf.len()));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Below 128 a single byte; otherwise the negated byte count, then that many
    /// big-endian bytes.
    fn uint(&mut self) -> Result<u64, GobError> {
        let at = self.pos;
        let first = self.take(1)?[0];
        if first < 0x80 {
            return Ok(u64::from(first));
        }
        let n = (first as i8).unsigned_abs() as usize;
        if n > 8 {
            return Err(GobError::BadInteger(at));
        }
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// Bit 0 says whether the rest is complemented.
    fn int(&mut self) -> Result<i64, GobError> {
        let u = self.uint()?;
        let magnitude = (u >> 1) as i64;
        Ok(if u & 1 == 1 { !magnitude } else { magnitude })
    }

    /// An IEEE-754 double, byte-reversed so that the usually-zero low mantissa
    /// bytes come last and are dropped by the integer encoding.
    fn float(&mut self) -> Result<f64, GobError> {
        Ok(f64::from_bits(self.uint()?.swap_bytes()))
    }

    /// A count, checked against what is left: every element takes at least one
    /// byte, so a larger count is damage, not a reason to allocate.
    fn count(&mut self) -> Result<usize, GobError> {
        let n = self.uint()?;
        if n > self.remaining() as u64 {
            return Err(GobError::Truncated(self.buf.len()));
        }
        Ok(n as usize)
    }

    fn byte_string(&mut self) -> Result<&'a [u8], GobError> {
        let n = self.count()?;
        self.take(n)
    }

    /// Walks a struct's (field delta, value) pairs up to the terminating zero
    /// delta, handing each field number to `each`, which must consume the value.
    fn fields(
        &mut self,
        mut each: impl FnMut(&mut Self, u64) -> Result<(), GobError>,
    ) -> Result<(), GobError> {
        let mut field: i64 = -1;
        loop {
            let delta = self.uint()?;
            if delta == 0 {
                return Ok(());
            }
            field = i64::try_from(delta)
                .ok()
                .and_then(|d| field.checked_add(d))
                .ok_or_else(|| GobError::Invalid("field number overflows".into()))?;
            each(self, field as u64)?;
        }
    }
}

/// The `CommonType` every definition starts with: name and id. Both are only
/// informative here (the defining message carries the id that counts).
fn common_type(r: &mut Reader<'_>) -> Result<(), GobError> {
    r.fields(|r, f| match f {
        0 => r.byte_string().map(drop),
        1 => r.int().map(drop),
        _ => Err(GobError::Invalid(format!("CommonType has no field {f}"))),
    })
}

/// Decodes one `wireType` value: a struct whose single set field says the kind.
fn wire_type(id: i64, r: &mut Reader<'_>) -> Result<WireType, GobError> {
    let bad = |reason: String| GobError::BadType { id, reason };
    let mut out = None;
    r.fields(|r, kind| {
        let mut elem = None;
        let mut key = None;
        let mut len = None;
        let mut fields = Vec::new();
        match kind {
            // arrayType { CommonType; Elem typeId; Len int }
            0 => r.fields(|r, f| match f {
                0 => common_type(r),
                1 => r.int().map(|v| elem = Some(v)),
                2 => r.int().map(|v| len = Some(v)),
                _ => Err(bad(format!("arrayType has no field {f}"))),
            })?,
            // sliceType { CommonType; Elem typeId }
            1 => r.fields(|r, f| match f {
                0 => common_type(r),
                1 => r.int().map(|v| elem = Some(v)),
                _ => Err(bad(format!("sliceType has no field {f}"))),
            })?,
            // structType { CommonType; Field []fieldType{ Name string; Id int } }
            2 => r.fields(|r, f| match f {
                0 => common_type(r),
                1 => {
                    for _ in 0..r.count()? {
                        let mut name = String::new();
                        let mut ty = None;
                        r.fields(|r, g| match g {
                            0 => {
                                name = String::from_utf8_lossy(r.byte_string()?).into_owned();
                                Ok(())
                            }
                            1 => r.int().map(|v| ty = Some(v)),
                            _ => Err(bad(format!("fieldType has no field {g}"))),
                        })?;
                        let ty = ty.ok_or_else(|| bad(format!("field {name:?} has no type")))?;
                        fields.push((name, ty));
                    }
                    Ok(())
                }
                _ => Err(bad(format!("structType has no field {f}"))),
            })?,
            // mapType { CommonType; Key typeId; Elem typeId }
            3 => r.fields(|r, f| match f {
                0 => common_type(r),
                1 => r.int().map(|v| key = Some(v)),
                2 => r.int().map(|v| elem = Some(v)),
                _ => Err(bad(format!("mapType has no field {f}"))),
            })?,
            // gobEncoderType { CommonType }, for the three self-encoding kinds.
            4..=6 => r.fields(|r, f| match f {
                0 => common_type(r),
                _ => Err(bad(format!("gobEncoderType has no field {f}"))),
            })?,
            _ => return Err(bad(format!("unknown wireType field {kind}"))),
        }
        let missing = |what: &str| bad(format!("no {what}"));
        let wt = match kind {
            0 => WireType::Array {
                elem: elem.ok_or_else(|| missing("element type"))?,
                // A zero length is omitted like any zero field.
                len: u64::try_from(len.unwrap_or(0)).map_err(|_| bad("negative length".into()))?,
            },
            1 => WireType::Slice {
                elem: elem.ok_or_else(|| missing("element type"))?,
            },
            2 => WireType::Struct { fields },
            3 => WireType::Map {
                key: key.ok_or_else(|| missing("key type"))?,
                elem: elem.ok_or_else(|| missing("element type"))?,
            },
            _ => WireType::Encoded,
        };
        if out.replace(wt).is_some() {
            return Err(bad("more than one kind".into()));
        }
        Ok(())
    })?;
    out.ok_or_else(|| bad("no kind".into()))
}

/// The state of one stream: the types defined so far.
#[derive(Default)]
struct Decoder {
    types: HashMap<i64, WireType>,
}

impl Decoder {
    fn value(&self, r: &mut Reader<'_>, ty: i64, depth: u32) -> Result<Value, GobError> {
        if depth > MAX_DEPTH {
            return Err(GobError::Invalid("values nested too deeply".into()));
        }
        let list = |r: &mut Reader<'_>, n: usize, elem: i64| -> Result<Vec<Value>, GobError> {
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                out.push(self.value(r, elem, depth + 1)?);
            }
            Ok(out)
        };
        Ok(match ty {
            BOOL => Value::Bool(r.uint()? != 0),
            INT => Value::Int(r.int()?),
            UINT => Value::Uint(r.uint()?),
            FLOAT => Value::Float(r.float()?),
            BYTES => Value::Bytes(r.byte_string()?.to_vec()),
            STRING => Value::String(r.byte_string()?.to_vec()),
            COMPLEX => Value::Complex(r.float()?, r.float()?),
            INTERFACE => return Err(GobError::Unsupported("interface values")),
            _ => match self.types.get(&ty).ok_or(GobError::UnknownType(ty))? {
                WireType::Array { elem, len } => {
                    let n = r.count()?;
                    if n as u64 != *len {
                        return Err(GobError::Invalid(format!(
                            "array of {len} elements sent with {n}"
                        )));
                    }
                    Value::List(list(r, n, *elem)?)
                }
                WireType::Slice { elem } => {
                    let n = r.count()?;
                    Value::List(list(r, n, *elem)?)
                }
                WireType::Map { key, elem } => {
                    let n = r.count()?;
                    let mut out = Vec::with_capacity(n);
                    for _ in 0..n {
                        let k = self.value(r, *key, depth + 1)?;
                        let v = self.value(r, *elem, depth + 1)?;
                        out.push((k, v));
                    }
                    Value::Map(out)
                }
                WireType::Struct { fields } => {
                    let mut out = Vec::new();
                    r.fields(|r, f| {
                        let (name, fty) = usize::try_from(f)
                            .ok()
                            .and_then(|i| fields.get(i))
                            .ok_or(GobError::BadField {
                                field: f,
                                fields: fields.len(),
                            })?;
                        out.push((name.clone(), self.value(r, *fty, depth + 1)?));
                        Ok(())
                    })?;
                    Value::Struct(out)
                }
                WireType::Encoded => Value::Encoded(r.byte_string()?.to_vec()),
            },
        })
    }
}

/// Decodes the first value of a gob stream, with the type definitions before it.
///
/// Each message is a byte count, then a type id: negative, it defines that type
/// (a `wireType`); positive, it is a value of that type. A struct value starts with
/// its fields; any other top-level value is sent as the single field of an
/// implicit struct (a zero delta first). What follows the first value is ignored,
/// as Go's `Decoder.Decode` does when called once, as the original Pushgateway does.
pub(crate) fn decode_first(bytes: &[u8]) -> Result<Value, GobError> {
    let mut stream = Reader::new(bytes);
    let mut dec = Decoder::default();
    loop {
        if stream.remaining() == 0 {
            return Err(GobError::Invalid("stream ends before any value".into()));
        }
        let len = stream.count()?;
        let mut msg = Reader::new(stream.take(len)?);
        let id = msg.int()?;
        if id < 0 {
            let id = id
                .checked_neg()
                .ok_or_else(|| GobError::Invalid("type id out of range".into()))?;
            if id <= INTERFACE {
                return Err(GobError::BadType {
                    id,
                    reason: "redefines a predeclared type".into(),
                });
            }
            let wt = wire_type(id, &mut msg)?;
            dec.types.insert(id, wt);
            continue;
        }
        if id == 0 {
            return Err(GobError::Invalid("value of type id 0".into()));
        }
        let is_struct = matches!(dec.types.get(&id), Some(WireType::Struct { .. }));
        if !is_struct {
            let delta = msg.uint()?;
            if delta != 0 {
                return Err(GobError::Invalid(format!(
                    "top-level value starts with field delta {delta}, not 0"
                )));
            }
        }
        let v = dec.value(&mut msg, id, 0)?;
        if msg.remaining() != 0 {
            return Err(GobError::Invalid(format!(
                "{} bytes left over in the value's message",
                msg.remaining()
            )));
        }
        return Ok(v);
    }
}

/// Seconds from 0001-01-01 (where Go's `time.Time` counts from) to 1970-01-01.
const UNIX_TO_GO: i64 = 62_135_596_800;

/// Unix nanoseconds of a `time.Time` in its `MarshalBinary`/`GobEncode` form:
/// a version byte (1, or 2 when the zone offset has seconds), seconds since
/// 0001-01-01 UTC (8 bytes), nanoseconds (4 bytes), the zone offset in minutes
/// (2 bytes, -1 for UTC) and, in version 2, the offset's seconds (1 byte), all
/// big-endian. The zone does not change the instant, so it is checked and dropped.
/// `None` for Go's zero time (0001-01-01), which Unix nanoseconds cannot hold.
pub(crate) fn go_time_unix_nanos(b: &[u8]) -> Result<Option<i64>, GobError> {
    let bad = |why: String| GobError::Invalid(format!("time.Time: {why}"));
    let want = match b.first() {
        Some(1) => 15,
        Some(2) => 16,
        Some(v) => return Err(bad(format!("unsupported version {v}"))),
        None => return Err(bad("empty".into())),
    };
    if b.len() != want {
        return Err(bad(format!("{} bytes, want {want}", b.len())));
    }
    let mut secs = [0u8; 8];
    secs.copy_from_slice(&b[1..9]);
    let secs = i64::from_be_bytes(secs);
    let nanos = u32::from_be_bytes([b[9], b[10], b[11], b[12]]);
    if nanos >= 1_000_000_000 {
        return Err(bad(format!("{nanos} nanoseconds")));
    }
    if secs == 0 && nanos == 0 {
        return Ok(None);
    }
    secs.checked_sub(UNIX_TO_GO)
        .and_then(|s| s.checked_mul(1_000_000_000))
        .and_then(|n| n.checked_add(i64::from(nanos)))
        .map(Some)
        .ok_or_else(|| bad("outside the range of Unix nanoseconds".into()))
}

/// Gob bytes built from the documented primitive encodings, so that tests state
/// their input at the level of the specification rather than as opaque dumps.
#[cfg(test)]
pub(crate) mod build {
    /// Builds gob bytes from the documented primitive encodings, so the tests
    /// state their input at the level of the specification.
    #[derive(Default)]
    pub(crate) struct W(pub(crate) Vec<u8>);

    impl W {
        pub(crate) fn uint(mut self, v: u64) -> Self {
            if v < 0x80 {
                self.0.push(v as u8);
            } else {
                let bytes = v.to_be_bytes();
                let skip = bytes.iter().take_while(|&&b| b == 0).count();
                self.0.push((-((8 - skip) as i8)) as u8);
                self.0.extend_from_slice(&bytes[skip..]);
            }
            self
        }
        pub(crate) fn int(self, v: i64) -> Self {
            let u = if v < 0 {
                ((!v as u64) << 1) | 1
            } else {
                (v as u64) << 1
            };
            self.uint(u)
        }
        pub(crate) fn str(self, s: &[u8]) -> Self {
            let mut w = self.uint(s.len() as u64);
            w.0.extend_from_slice(s);
            w
        }
        pub(crate) fn raw(mut self, b: &[u8]) -> Self {
            self.0.extend_from_slice(b);
            self
        }
        /// A field delta, then nothing: the caller appends the value.
        pub(crate) fn delta(self, d: u64) -> Self {
            self.uint(d)
        }
        pub(crate) fn end(self) -> Self {
            self.uint(0)
        }
        /// `CommonType{Name, Id}` as a nested struct (field 0 of each kind).
        pub(crate) fn common(self, name: &str, id: i64) -> Self {
            self.delta(1)
                .delta(1)
                .str(name.as_bytes())
                .delta(1)
                .int(id)
                .end()
        }
        /// Wraps `self` as one message: its length first.
        pub(crate) fn message(self) -> Vec<u8> {
            let mut out = W::default().uint(self.0.len() as u64).0;
            out.extend_from_slice(&self.0);
            out
        }
    }

    pub(crate) fn struct_def(id: i64, name: &str, fields: &[(&str, i64)]) -> Vec<u8> {
        let mut w = W::default().int(-id).delta(3).common(name, id);
        w = w.delta(1).uint(fields.len() as u64);
        for (n, t) in fields {
            w = w.delta(1).str(n.as_bytes()).delta(1).int(*t).end();
        }
        w.end().end().message()
    }

    pub(crate) fn map_def(id: i64, key: i64, elem: i64) -> Vec<u8> {
        W::default()
            .int(-id)
            .delta(4)
            .common("m", id)
            .delta(1)
            .int(key)
            .delta(1)
            .int(elem)
            .end()
            .end()
            .message()
    }

    pub(crate) fn encoder_def(id: i64, name: &str) -> Vec<u8> {
        W::default()
            .int(-id)
            .delta(5)
            .common(name, id)
            .end()
            .end()
            .message()
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;

    #[test]
    fn primitive_integers_and_floats() {
        // 0, 7, 256 and -129 as the documentation spells them.
        let b = [
            0x00, 0x07, 0xFE, 0x01, 0x00, 0xFE, 0x01, 0x01, 0xFE, 0x31, 0x40,
        ];
        let mut r = Reader::new(&b);
        assert_eq!(r.uint(), Ok(0));
        assert_eq!(r.uint(), Ok(7));
        assert_eq!(r.uint(), Ok(256));
        assert_eq!(r.int(), Ok(-129));
        assert_eq!(r.float(), Ok(17.0));
        assert_eq!(r.uint(), Err(GobError::Truncated(b.len())));
        let mut r = Reader::new(&[0xF7, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(r.uint(), Err(GobError::BadInteger(0)));
        for v in [0, 1, -1, 63, -64, 1 << 40, i64::MIN, i64::MAX] {
            assert_eq!(Reader::new(&W::default().int(v).0).int(), Ok(v), "{v}");
        }
    }

    #[test]
    fn a_struct_value_with_its_definition() {
        // type Point struct{ X, Y int } sent as Point{22, 33}, id 65.
        let mut s = struct_def(65, "Point", &[("X", INT), ("Y", INT)]);
        s.extend(
            W::default()
                .int(65)
                .delta(1)
                .int(22)
                .delta(1)
                .int(33)
                .end()
                .message(),
        );
        assert_eq!(
            decode_first(&s),
            Ok(Value::Struct(vec![
                ("X".into(), Value::Int(22)),
                ("Y".into(), Value::Int(33))
            ]))
        );
        // Zero fields are omitted: only Y is sent, with a delta of 2.
        let mut s = struct_def(65, "Point", &[("X", INT), ("Y", INT)]);
        s.extend(W::default().int(65).delta(2).int(-5).end().message());
        let v = decode_first(&s).expect("decodes");
        assert_eq!(v.field("X"), None);
        assert_eq!(v.field("Y"), Some(&Value::Int(-5)));
    }

    #[test]
    fn maps_slices_and_encoded_values_referring_to_later_definitions() {
        // map[string]S where S{ Tags []string; T <GobEncoder>; F float; B bool }, the
        // map defined first and naming S (id 66) before S itself is defined, as
        // Go's encoder does.
        let mut s = map_def(70, STRING, 66);
        s.extend(struct_def(
            66,
            "",
            &[("Tags", 67), ("T", 68), ("F", FLOAT), ("B", BOOL)],
        ));
        s.extend(
            W::default()
                .int(-67)
                .delta(2)
                .common("[]string", 67)
                .delta(1)
                .int(STRING)
                .end()
                .end()
                .message(),
        );
        s.extend(encoder_def(68, "Time"));
        s.extend(
            W::default()
                .int(70)
                .uint(0) // the singleton's field delta
                .uint(2)
                .str(b"a\xffb")
                .delta(1)
                .uint(2)
                .str(b"x")
                .str(b"")
                .delta(1)
                .str(&[9, 8, 7])
                .delta(1)
                .raw(&[0xFE, 0x31, 0x40])
                .delta(1)
                .uint(1)
                .end()
                .str(b"")
                .end()
                .message(),
        );
        // A second value after the first is not read.
        s.extend(W::default().int(70).uint(0).uint(0).message());
        let v = decode_first(&s).expect("decodes");
        let Value::Map(entries) = v else {
            panic!("{v:?}")
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].0, Value::String(b"a\xffb".to_vec()));
        let first = &entries[0].1;
        assert_eq!(
            first.field("Tags"),
            Some(&Value::List(vec![
                Value::String(b"x".to_vec()),
                Value::String(Vec::new())
            ]))
        );
        assert_eq!(first.field("T"), Some(&Value::Encoded(vec![9, 8, 7])));
        assert_eq!(first.field("F"), Some(&Value::Float(17.0)));
        assert_eq!(first.field("B"), Some(&Value::Bool(true)));
        assert_eq!(entries[1].1, Value::Struct(Vec::new()));
    }

    #[test]
    fn damage_is_reported_not_guessed() {
        let mut s = struct_def(65, "P", &[("X", INT)]);
        let good = {
            let mut s = s.clone();
            s.extend(W::default().int(65).delta(1).int(1).end().message());
            s
        };
        assert!(decode_first(&good).is_ok());
        // Cut anywhere: an error, never a value.
        for cut in 0..good.len() {
            assert!(decode_first(&good[..cut]).is_err(), "cut at {cut}");
        }
        // A field the type does not have.
        let mut bad = s.clone();
        bad.extend(W::default().int(65).delta(2).int(1).end().message());
        assert_eq!(
            decode_first(&bad),
            Err(GobError::BadField {
                field: 1,
                fields: 1
            })
        );
        // A value of a type never defined.
        s.extend(W::default().int(99).uint(0).uint(0).message());
        assert_eq!(decode_first(&s), Err(GobError::UnknownType(99)));
        // A huge count is refused before allocating.
        let mut huge = map_def(70, STRING, STRING);
        huge.extend(W::default().int(70).uint(0).uint(u64::MAX).message());
        assert!(matches!(decode_first(&huge), Err(GobError::Truncated(_))));
        // An interface value.
        let mut iface = W::default().int(INTERFACE).uint(0).str(b"T").message();
        assert_eq!(
            decode_first(&iface),
            Err(GobError::Unsupported("interface values"))
        );
        iface.clear();
        assert!(decode_first(&iface).is_err());
        // Recursion deeper than the limit: type 65 is a slice of itself.
        let mut deep = W::default()
            .int(-65)
            .delta(2)
            .common("R", 65)
            .delta(1)
            .int(65)
            .end()
            .end()
            .message();
        let mut v = W::default().int(65).uint(0);
        for _ in 0..100 {
            v = v.uint(1);
        }
        deep.extend(v.uint(0).message());
        assert!(matches!(decode_first(&deep), Err(GobError::Invalid(_))));
    }

    #[test]
    fn go_times() {
        // 2009-11-10T23:00:00.5Z: Unix 1257894000, Go seconds that plus the offset.
        let go_secs: i64 = 1_257_894_000 + UNIX_TO_GO;
        let mut b = vec![1];
        b.extend_from_slice(&go_secs.to_be_bytes());
        b.extend_from_slice(&500_000_000u32.to_be_bytes());
        b.extend_from_slice(&(-1i16).to_be_bytes());
        assert_eq!(go_time_unix_nanos(&b), Ok(Some(1_257_894_000_500_000_000)));
        // Version 2 carries offset seconds; the instant is the same.
        let mut v2 = b.clone();
        v2[0] = 2;
        v2[13..15].copy_from_slice(&60i16.to_be_bytes());
        v2.push(30);
        assert_eq!(go_time_unix_nanos(&v2), Ok(Some(1_257_894_000_500_000_000)));
        let mut zero = vec![1];
        zero.extend_from_slice(&[0; 12]);
        zero.extend_from_slice(&(-1i16).to_be_bytes());
        assert_eq!(go_time_unix_nanos(&zero), Ok(None));
        assert!(go_time_unix_nanos(&b[..14]).is_err());
        assert!(go_time_unix_nanos(&[3; 15]).is_err());
        assert!(go_time_unix_nanos(&[]).is_err());
    }
}
