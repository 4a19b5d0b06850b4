//! Out-of-order samples: with `storage.tsdb.out_of_order_time_window` set, a sample
//! older than its series' newest (but no older than the head's newest sample minus
//! the window) is kept apart from the in-order chunks, as in Prometheus: it goes to
//! the write-behind log (`wbl/`, the WAL's format) and to the series' out-of-order
//! buffer, which is queried merged with the in-order data and compacted into blocks
//! of its own (marked `from-out-of-order`) that overlap the others until leveled
//! compaction merges them.
//!
//! Each series keeps a small sorted buffer (Prometheus's `OOOChunk`, 32 samples by
//! default); a full buffer is encoded into a chunk. Chunks may overlap each other
//! and the in-order data, so a query decodes the series' out-of-order samples in
//! its range and merges them — out-of-order data is the exception, and this keeps
//! the in-order read path untouched.

use crate::block::ChunkData;
use crate::compact::{decode, encode_unsplit};
use crate::head::Value;

/// Samples buffered before a series' out-of-order data is encoded into a chunk
/// (Prometheus's `out_of_order_cap_max` default).
pub(crate) const OOO_CAP: usize = 32;

/// A series' out-of-order samples.
#[derive(Debug, Default)]
pub(crate) struct OooData {
    /// Sorted, distinct timestamps.
    open: Vec<(i64, Value)>,
    /// Encoded, each sorted; they may overlap one another.
    chunks: Vec<ChunkData>,
}

impl OooData {
    /// Adds a sample; false when the buffer already holds its timestamp (the
    /// sample is dropped, as Prometheus drops it).
    pub(crate) fn insert(&mut self, t: i64, v: Value) -> bool {
        match self.open.binary_search_by_key(&t, |x| x.0) {
            Ok(_) => false,
            Err(i) => {
                self.open.insert(i, (t, v));
                if self.open.len() >= OOO_CAP {
                    self.cut();
                }
                true
            }
        }
    }

    fn cut(&mut self) {
        let samples = std::mem::take(&mut self.open);
        match encode_unsplit(samples.iter().cloned()) {
            Ok(c) => self.chunks.extend(c),
            // Encoding sorted samples of known kinds does not fail; if it ever
            // did, the samples stay buffered rather than being lost.
            Err(_) => self.open = samples,
        }
    }

    /// Oldest and newest timestamps held.
    pub(crate) fn bounds(&self) -> Option<(i64, i64)> {
        let open = self
            .open
            .first()
            .map(|f| (f.0, self.open[self.open.len() - 1].0));
        self.chunks
            .iter()
            .map(|c| (c.min_t, c.max_t))
            .chain(open)
            .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
    }

    /// The samples in `[mint, maxt]`, sorted by time, one per timestamp (the
    /// earliest written wins).
    pub(crate) fn samples(&self, mint: i64, maxt: i64) -> Result<Vec<(i64, Value)>, String> {
        let in_range = self
            .chunks
            .iter()
            .filter(|c| c.max_t >= mint && c.min_t <= maxt);
        let mut out: Vec<(i64, Value)> = decode(in_range)?
            .into_iter()
            .map(|(t, _, v)| (t, v))
            .chain(self.open.iter().cloned())
            .filter(|(t, _)| *t >= mint && *t <= maxt)
            .collect();
        // Stable: among equal timestamps the earlier chunk's sample stays first.
        out.sort_by_key(|x| x.0);
        out.dedup_by_key(|x| x.0);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(d: &OooData, a: i64, b: i64) -> Vec<(i64, f64)> {
        d.samples(a, b)
            .unwrap()
            .into_iter()
            .map(|(t, v)| match v {
                Value::Float(f) => (t, f),
                _ => panic!("not a float"),
            })
            .collect()
    }

    #[test]
    fn buffers_sorts_encodes_and_merges() {
        let mut d = OooData::default();
        // Descending, more than one buffer's worth: chunks overlap nothing here,
        // but arrive in reverse order.
        for t in (0..100).rev() {
            assert!(d.insert(t * 10, Value::Float(t as f64)));
        }
        assert!(
            !d.insert(20, Value::Float(-1.0)),
            "same timestamp in the buffer"
        );
        assert_eq!(d.chunks.len(), 3);
        assert_eq!(d.bounds(), Some((0, 990)));
        let all = floats(&d, i64::MIN, i64::MAX);
        assert_eq!(all.len(), 100);
        assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(
            floats(&d, 95, 125),
            vec![(100, 10.0), (110, 11.0), (120, 12.0)]
        );
        // A timestamp already encoded in a chunk is accepted into the buffer, and
        // the chunk's sample wins on read.
        assert!(d.insert(990, Value::Float(7.0)));
        assert_eq!(floats(&d, 990, 990), vec![(990, 99.0)]);
    }
}
