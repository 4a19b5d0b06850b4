//! The block index, format v2 of Prometheus's `tsdb/docs/format/index.md` (Ember's own
//! description: `docs/format/index.md` in this crate): symbols, series with their chunk
//! metadata, label indices, postings and the postings offset table, closed by a table
//! of contents.
//!
//! The writer builds the file in memory from series given in label order; the reader
//! maps the file and keeps only the postings offset table and symbol offsets in memory.

use crate::encoding::{
    Dec, DecodeError, pad, put_be32, put_be64, put_str, put_uvarint, put_varint,
};
use crate::postings::{PostingsIndex, Ref};
use ember_model::{Label, Labels};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const MAGIC: u32 = 0xBAAA_D700;
const FORMAT_V2: u8 = 2;
const SERIES_ALIGN: usize = 16;
const TOC_LEN: usize = 6 * 8 + 4;

/// Where one chunk of a series lives and what it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkMeta {
    /// First sample time.
    pub min_t: i64,
    /// Last sample time.
    pub max_t: i64,
    /// Chunk reference: segment number in the upper 32 bits, offset in the lower.
    pub r: u64,
}

fn crc(b: &[u8]) -> u32 {
    crc32c::crc32c(b)
}

/// Writes the section `body` preceded by its 4-byte length and followed by its CRC.
fn section(out: &mut Vec<u8>, body: &[u8]) {
    put_be32(out, body.len() as u32);
    out.extend_from_slice(body);
    put_be32(out, crc(body));
}

/// Builds an index from series sorted by labels, each with its chunks in time order.
pub fn build_index(series: &[(Labels, Vec<ChunkMeta>)]) -> Result<Vec<u8>, String> {
    for w in series.windows(2) {
        if w[0].0 >= w[1].0 {
            return Err(format!("series out of order: {} before {}", w[0].0, w[1].0));
        }
    }
    let mut symbols = BTreeSet::new();
    for (l, _) in series {
        for x in l {
            symbols.insert(x.name.as_str());
            symbols.insert(x.value.as_str());
        }
    }
    let sym_idx: BTreeMap<&str, u32> = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| (*s, i as u32))
        .collect();

    let mut out = Vec::new();
    put_be32(&mut out, MAGIC);
    out.push(FORMAT_V2);

    // Symbols.
    let toc_symbols = out.len() as u64;
    let mut body = Vec::new();
    put_be32(&mut body, symbols.len() as u32);
    for s in &symbols {
        put_str(&mut body, s);
    }
    section(&mut out, &body);

    // Series, 16-byte aligned; a series' id is its offset / 16.
    let toc_series = out.len() as u64;
    let mut ids = Vec::with_capacity(series.len());
    let mut postings: BTreeMap<(&str, &str), Vec<u32>> = BTreeMap::new();
    for (labels, chunks) in series {
        pad(&mut out, SERIES_ALIGN);
        let id = (out.len() / SERIES_ALIGN) as u32;
        ids.push(id);
        let mut b = Vec::new();
        put_uvarint(&mut b, labels.len() as u64);
        for l in labels {
            put_uvarint(&mut b, sym_idx[l.name.as_str()] as u64);
            put_uvarint(&mut b, sym_idx[l.value.as_str()] as u64);
            postings
                .entry((l.name.as_str(), l.value.as_str()))
                .or_default()
                .push(id);
        }
        put_uvarint(&mut b, chunks.len() as u64);
        let mut prev_max = 0i64;
        let mut prev_ref = 0i64;
        for (i, c) in chunks.iter().enumerate() {
            if c.max_t < c.min_t || (i > 0 && c.min_t <= prev_max) {
                return Err(format!("chunks of {labels} overlap or are out of order"));
            }
            if i == 0 {
                put_varint(&mut b, c.min_t);
                put_uvarint(&mut b, (c.max_t - c.min_t) as u64);
                put_uvarint(&mut b, c.r);
            } else {
                put_uvarint(&mut b, (c.min_t - prev_max) as u64);
                put_uvarint(&mut b, (c.max_t - c.min_t) as u64);
                put_varint(&mut b, c.r as i64 - prev_ref);
            }
            prev_max = c.max_t;
            prev_ref = c.r as i64;
        }
        put_uvarint(&mut out, b.len() as u64);
        out.extend_from_slice(&b);
        put_be32(&mut out, crc(&b));
    }

    // Label indices (unused by format-v2 readers, kept so that older tools that look
    // for them find them): one per name, listing its values' symbol numbers.
    let mut values_by_name: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, value) in postings.keys() {
        values_by_name.entry(name).or_default().insert(value);
    }
    pad(&mut out, 4);
    let toc_label_indices = out.len() as u64;
    let mut label_index_offsets = Vec::new();
    for (name, values) in &values_by_name {
        pad(&mut out, 4);
        label_index_offsets.push((*name, out.len() as u64));
        let mut b = Vec::new();
        put_be32(&mut b, 1);
        put_be32(&mut b, values.len() as u32);
        for v in values {
            put_be32(&mut b, sym_idx[v]);
        }
        section(&mut out, &b);
    }
    let toc_label_table = out.len() as u64;
    let mut b = Vec::new();
    put_be32(&mut b, label_index_offsets.len() as u32);
    for (name, off) in &label_index_offsets {
        put_uvarint(&mut b, 1);
        put_str(&mut b, name);
        put_uvarint(&mut b, *off);
    }
    section(&mut out, &b);

    // Postings: the list of all series under the empty name and value first, then one
    // list per label pair in order; each starts on a 4-byte boundary.
    pad(&mut out, 4);
    let toc_postings = out.len() as u64;
    let mut offsets: Vec<(&str, &str, u64)> = Vec::new();
    let write_list = |out: &mut Vec<u8>, list: &[u32]| {
        pad(out, 4);
        let off = out.len() as u64;
        let mut b = Vec::with_capacity(4 + 4 * list.len());
        put_be32(&mut b, list.len() as u32);
        for r in list {
            put_be32(&mut b, *r);
        }
        section(out, &b);
        off
    };
    offsets.push(("", "", write_list(&mut out, &ids)));
    for ((name, value), list) in &postings {
        offsets.push((name, value, write_list(&mut out, list)));
    }

    let toc_postings_table = out.len() as u64;
    let mut b = Vec::new();
    put_be32(&mut b, offsets.len() as u32);
    for (name, value, off) in &offsets {
        put_uvarint(&mut b, 2);
        put_str(&mut b, name);
        put_str(&mut b, value);
        put_uvarint(&mut b, *off);
    }
    section(&mut out, &b);

    let mut toc = Vec::with_capacity(TOC_LEN);
    for v in [
        toc_symbols,
        toc_series,
        toc_label_indices,
        toc_label_table,
        toc_postings,
        toc_postings_table,
    ] {
        put_be64(&mut toc, v);
    }
    let c = crc(&toc);
    out.extend_from_slice(&toc);
    put_be32(&mut out, c);
    Ok(out)
}

/// Errors reading an index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The file could not be opened or mapped.
    #[error("index {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The bytes are not a valid index.
    #[error("index {path}: {msg}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        msg: String,
    },
}

/// Anything that derefs to the index bytes (a memory map, or a vector in tests).
pub trait IndexBytes: std::ops::Deref<Target = [u8]> + Send + Sync + std::fmt::Debug {}
impl<T: std::ops::Deref<Target = [u8]> + Send + Sync + std::fmt::Debug> IndexBytes for T {}

/// A read-only view of an index file.
#[derive(Debug)]
pub struct IndexReader {
    data: Box<dyn IndexBytes>,
    /// Byte offset of each symbol's length prefix.
    symbols: Vec<u32>,
    /// name -> value -> offset of the postings list.
    postings: BTreeMap<String, BTreeMap<String, u64>>,
    all_postings: u64,
}

impl IndexReader {
    /// Maps and checks the index at `path`.
    pub fn open(path: &Path) -> Result<IndexReader, IndexError> {
        let p = path.display().to_string();
        let f = std::fs::File::open(path).map_err(|e| IndexError::Io {
            path: p.clone(),
            source: e,
        })?;
        // SAFETY: block files are written once and never modified in place; a block is
        // removed only after it is closed.
        let map = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| IndexError::Io {
            path: p.clone(),
            source: e,
        })?;
        Self::from_bytes(Box::new(map)).map_err(|e| IndexError::Corrupt { path: p, msg: e.0 })
    }

    /// Reads an index held in memory.
    pub fn from_bytes(data: Box<dyn IndexBytes>) -> Result<IndexReader, DecodeError> {
        let b: &[u8] = &data;
        if b.len() < 5 + TOC_LEN {
            return Err(DecodeError("index too short".into()));
        }
        let mut d = Dec::new(b);
        if d.be32()? != MAGIC {
            return Err(DecodeError("not an index file (bad magic number)".into()));
        }
        let version = d.byte()?;
        if version != FORMAT_V2 {
            return Err(DecodeError(format!(
                "index format version {version} is not supported (only 2)"
            )));
        }
        let toc_at = b.len() - TOC_LEN;
        let toc_bytes = &b[toc_at..toc_at + 48];
        let want = u32::from_be_bytes([
            b[toc_at + 48],
            b[toc_at + 49],
            b[toc_at + 50],
            b[toc_at + 51],
        ]);
        if crc(toc_bytes) != want {
            return Err(DecodeError("table of contents checksum mismatch".into()));
        }
        let mut t = Dec::new(toc_bytes);
        let toc: Vec<u64> = (0..6).map(|_| t.be64()).collect::<Result<_, _>>()?;
        let (sym_at, postings_table_at) = (toc[0] as usize, toc[5] as usize);

        let sym_body = checked_section(b, sym_at, "symbol table")?;
        let mut d = Dec::new(sym_body);
        let n = d.be32()? as usize;
        let mut symbols = Vec::with_capacity(n.min(1 << 24));
        for _ in 0..n {
            let off = (sym_at + 4 + (sym_body.len() - d.len())) as u32;
            symbols.push(off);
            d.str()?;
        }

        let mut postings: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        let mut all_postings = 0;
        if postings_table_at != 0 {
            let body = checked_section(b, postings_table_at, "postings offset table")?;
            let mut d = Dec::new(body);
            let n = d.be32()?;
            for _ in 0..n {
                if d.uvarint()? != 2 {
                    return Err(DecodeError(
                        "postings offset table entry without two keys".into(),
                    ));
                }
                let name = d.str()?;
                let value = d.str()?;
                let off = d.uvarint()?;
                if name.is_empty() && value.is_empty() {
                    all_postings = off;
                } else {
                    postings
                        .entry(name.to_string())
                        .or_default()
                        .insert(value.to_string(), off);
                }
            }
        }
        Ok(IndexReader {
            data,
            symbols,
            postings,
            all_postings,
        })
    }

    fn bytes(&self) -> &[u8] {
        &self.data
    }

    fn symbol(&self, i: u64) -> Result<&str, DecodeError> {
        let off = *self
            .symbols
            .get(i as usize)
            .ok_or_else(|| DecodeError(format!("unknown symbol {i}")))?;
        Dec::new(&self.bytes()[off as usize..]).str()
    }

    fn read_postings(&self, off: u64) -> Vec<Ref> {
        let Ok(body) = checked_section(self.bytes(), off as usize, "postings list") else {
            return Vec::new();
        };
        let mut d = Dec::new(body);
        let Ok(n) = d.be32() else { return Vec::new() };
        (0..n)
            .filter_map(|_| d.be32().ok().map(u64::from))
            .collect()
    }

    /// Labels and chunk metadata of series `id` (as found in postings).
    pub fn series(&self, id: Ref) -> Result<(Labels, Vec<ChunkMeta>), DecodeError> {
        let b = self.bytes();
        let at = (id as usize) * SERIES_ALIGN;
        if at >= b.len() {
            return Err(DecodeError(format!(
                "series {id} beyond the end of the index"
            )));
        }
        let mut d = Dec::new(&b[at..]);
        let len = d.uvarint()? as usize;
        let body = d.bytes(len)?;
        let want = d.be32()?;
        if crc(body) != want {
            return Err(DecodeError(format!("series {id}: checksum mismatch")));
        }
        let mut d = Dec::new(body);
        let nl = d.uvarint()?;
        let mut labels = Vec::with_capacity(nl as usize);
        for _ in 0..nl {
            let name = self.symbol(d.uvarint()?)?.to_string();
            let value = self.symbol(d.uvarint()?)?.to_string();
            labels.push(Label { name, value });
        }
        let nc = d.uvarint()?;
        let mut chunks = Vec::with_capacity(nc as usize);
        let (mut prev_max, mut prev_ref) = (0i64, 0i64);
        for i in 0..nc {
            let min_t = if i == 0 {
                d.varint()?
            } else {
                prev_max + d.uvarint()? as i64
            };
            let max_t = min_t + d.uvarint()? as i64;
            let r = if i == 0 {
                d.uvarint()? as i64
            } else {
                prev_ref + d.varint()?
            };
            prev_max = max_t;
            prev_ref = r;
            chunks.push(ChunkMeta {
                min_t,
                max_t,
                r: r as u64,
            });
        }
        let mut lbls = labels;
        lbls.sort();
        lbls.dedup_by(|a, b| a.name == b.name);
        Ok((
            Labels::from_sorted_unchecked(
                lbls.into_iter().filter(|l| !l.value.is_empty()).collect(),
            ),
            chunks,
        ))
    }

    /// Label names present, sorted.
    pub fn label_names(&self) -> Vec<&str> {
        self.postings.keys().map(String::as_str).collect()
    }
}

impl PostingsIndex for IndexReader {
    fn label_values_of(&self, name: &str) -> Vec<&str> {
        self.postings
            .get(name)
            .map(|v| v.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }
    fn label_values_with_prefix(&self, name: &str, prefix: &str) -> Vec<&str> {
        let Some(values) = self.postings.get(name) else {
            return Vec::new();
        };
        values
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(v, _)| v.starts_with(prefix))
            .map(|(v, _)| v.as_str())
            .collect()
    }
    fn postings_for(&self, name: &str, value: &str) -> Vec<Ref> {
        match self.postings.get(name).and_then(|v| v.get(value)) {
            Some(off) => self.read_postings(*off),
            None => Vec::new(),
        }
    }
    fn all_postings(&self) -> Vec<Ref> {
        if self.all_postings == 0 {
            return Vec::new();
        }
        self.read_postings(self.all_postings)
    }
}

/// The body of the length-prefixed, CRC-suffixed section at `at`, checked.
fn checked_section<'a>(b: &'a [u8], at: usize, what: &str) -> Result<&'a [u8], DecodeError> {
    if at + 4 > b.len() {
        return Err(DecodeError(format!("{what} offset out of range")));
    }
    let len = u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
    let end = at + 4 + len;
    if end + 4 > b.len() {
        return Err(DecodeError(format!("{what} runs past the end of the file")));
    }
    let body = &b[at + 4..end];
    let want = u32::from_be_bytes([b[end], b[end + 1], b[end + 2], b[end + 3]]);
    if crc(body) != want {
        return Err(DecodeError(format!("{what}: checksum mismatch")));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_model::{MatchType, Matcher};

    #[test]
    fn write_then_read() {
        let series: Vec<(Labels, Vec<ChunkMeta>)> = (0..50)
            .map(|i| {
                let l = Labels::from_pairs([
                    ("__name__", "m".to_string()),
                    ("i", format!("{i:03}")),
                    ("odd", (i % 2).to_string()),
                ]);
                let chunks = vec![
                    ChunkMeta {
                        min_t: i,
                        max_t: i + 10,
                        r: (1 << 32) + 8 + i as u64 * 100,
                    },
                    ChunkMeta {
                        min_t: i + 11,
                        max_t: i + 20,
                        r: (1 << 32) + 58 + i as u64 * 100,
                    },
                ];
                (l, chunks)
            })
            .collect();
        let bytes = build_index(&series).unwrap();
        let r = IndexReader::from_bytes(Box::new(bytes)).unwrap();
        let all = r.all_postings();
        assert_eq!(all.len(), 50);
        for (id, want) in all.iter().zip(&series) {
            assert_eq!(&r.series(*id).unwrap(), want);
        }
        let odd = r.select_postings(&[Matcher::new(MatchType::Equal, "odd", "1").unwrap()]);
        assert_eq!(odd.len(), 25);
        let re = r.select_postings(&[Matcher::new(MatchType::RegexMatch, "i", "00.*").unwrap()]);
        assert_eq!(re.len(), 10);
        assert_eq!(r.label_names(), ["__name__", "i", "odd"]);
        assert_eq!(r.label_values_of("odd"), ["0", "1"]);
    }

    #[test]
    fn corruption_is_an_error() {
        let series = vec![(
            Labels::from_pairs([("a", "b")]),
            vec![ChunkMeta {
                min_t: 0,
                max_t: 1,
                r: 8,
            }],
        )];
        let mut bytes = build_index(&series).unwrap();
        assert!(IndexReader::from_bytes(Box::new(bytes.clone())).is_ok());
        let n = bytes.len();
        bytes[n - 10] ^= 1;
        assert!(IndexReader::from_bytes(Box::new(bytes)).is_err());
        assert!(IndexReader::from_bytes(Box::new(vec![0u8; 3])).is_err());
    }
}
