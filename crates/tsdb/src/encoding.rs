//! The byte helpers of the block formats: the same Go-compatible varints, big-endian
//! integers and bounds-checked decoder as the WAL records, shared from `ember-wal`.

pub(crate) use ember_wal::enc::{
    Dec, DecodeError, pad, put_be32, put_be64, put_str, put_uvarint, put_varint,
};
