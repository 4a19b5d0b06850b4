//! In-memory exemplar storage: one circular buffer of `storage.exemplars.max_exemplars`
//! slots shared by all series, as Prometheus keeps exemplars.
//!
//! Exemplars are best-effort trace references, not data to retain: when the buffer is
//! full the oldest exemplar (in order of arrival, whatever its series) makes room for
//! the new one. Within the buffer each series' exemplars form a doubly linked list in
//! timestamp order, and an index by series labels points at each list's oldest and
//! newest entries, so that a query walks only the series it matches and an append
//! checks only the series' newest exemplar.
//!
//! The head ([`crate::head`]) validates exemplars when they are appended, logs them to
//! the WAL at commit and adds them here after the samples, so that an exemplar is
//! visible exactly when its transaction is; start-up replays the WAL's exemplar
//! records into a new storage. The size changes on configuration reload
//! ([`ExemplarStorage::resize`]) keeping the newest exemplars.

use ember_model::value::Exemplar;
use ember_model::{Labels, Matcher};
use ember_storage::{Error, ExemplarSeries};
use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// OpenMetrics' limit on an exemplar's label set: names and values together, counted
/// in characters (not bytes, and without quotes, `=` or commas).
pub const MAX_LABEL_SET_RUNES: usize = 128;

/// "No entry" in the linked lists.
const NONE: usize = usize::MAX;

/// An exemplar as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredExemplar {
    /// Exemplar labels.
    pub labels: Labels,
    /// Observed value.
    pub value: f64,
    /// Timestamp in ms: the exposed one, or else the scrape's.
    pub ts: i64,
    /// Whether the timestamp was exposed. Exemplars without one are compared without
    /// their timestamps, so that one exposed unchanged over many scrapes is kept once.
    pub has_ts: bool,
}

impl StoredExemplar {
    /// Prometheus's `Exemplar.Equals`.
    fn same_as(&self, o: &StoredExemplar) -> bool {
        self.labels == o.labels && (!(self.has_ts || o.has_ts) || self.ts == o.ts) && {
            // Compared as floats, as Prometheus does: a NaN value is never a repeat.
            #[allow(clippy::float_cmp)]
            let eq = self.value == o.value;
            eq
        }
    }
}

/// One occupied slot of the buffer.
#[derive(Clone, Debug)]
struct Entry {
    ex: StoredExemplar,
    /// Index into [`Ring::series`].
    series: usize,
    /// Neighbours in the series' list (slot indices), older and newer.
    prev: usize,
    next: usize,
}

/// A series that has exemplars in the buffer.
#[derive(Clone, Debug)]
struct SeriesEntry {
    labels: Labels,
    oldest: usize,
    newest: usize,
}

#[derive(Debug, Default)]
struct Ring {
    slots: Vec<Option<Entry>>,
    /// The slot the next exemplar goes to: the oldest one once the buffer is full.
    next: usize,
    series: Vec<Option<SeriesEntry>>,
    free_series: Vec<usize>,
    by_labels: HashMap<Labels, usize>,
    /// Exemplars up to this much (ms) older than a series' newest are still taken.
    ooo_window: i64,
}

/// Counters and gauges, under Prometheus's `prometheus_tsdb_exemplar_*` names.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ExemplarStats {
    /// `exemplars_appended_total`.
    pub appended: u64,
    /// `out_of_order_exemplars_total`.
    pub out_of_order: u64,
    /// `exemplars_in_storage`.
    pub in_storage: usize,
    /// `series_with_exemplars_in_storage`.
    pub series: usize,
    /// `last_exemplars_timestamp_seconds`: the oldest exemplar's timestamp, which
    /// tells how far back the buffer reaches.
    pub oldest_timestamp_seconds: f64,
    /// `max_exemplars`.
    pub max_exemplars: usize,
}

/// The exemplar storage. Cheap when its size is 0: appends are then refused with
/// [`Error::ExemplarsDisabled`], which the head turns into a silent drop.
#[derive(Debug, Default)]
pub struct ExemplarStorage {
    ring: RwLock<Ring>,
    appended: AtomicU64,
    out_of_order: AtomicU64,
    /// A copy of the size, read without the lock on every append.
    size: AtomicI64,
}

impl Ring {
    fn entry(&self, slot: usize) -> &Entry {
        // Slots referenced by the lists and the index are always occupied.
        self.slots[slot]
            .as_ref()
            .expect("exemplar list points at an empty slot")
    }

    fn entry_mut(&mut self, slot: usize) -> &mut Entry {
        self.slots[slot]
            .as_mut()
            .expect("exemplar list points at an empty slot")
    }

    fn series(&self, i: usize) -> &SeriesEntry {
        self.series[i]
            .as_ref()
            .expect("exemplar entry points at a dropped series")
    }

    fn series_mut(&mut self, i: usize) -> &mut SeriesEntry {
        self.series[i]
            .as_mut()
            .expect("exemplar entry points at a dropped series")
    }

    fn add_series(&mut self, labels: Labels) -> usize {
        let s = SeriesEntry {
            labels: labels.clone(),
            oldest: NONE,
            newest: NONE,
        };
        let i = match self.free_series.pop() {
            Some(i) => {
                self.series[i] = Some(s);
                i
            }
            None => {
                self.series.push(Some(s));
                self.series.len() - 1
            }
        };
        self.by_labels.insert(labels, i);
        i
    }

    fn drop_series(&mut self, i: usize) {
        if let Some(s) = self.series[i].take() {
            self.by_labels.remove(&s.labels);
            self.free_series.push(i);
        }
    }

    /// Takes a removed entry out of its series' list; true when the list is now
    /// empty.
    fn unlink(&mut self, e: &Entry) -> bool {
        if e.prev != NONE {
            self.entry_mut(e.prev).next = e.next;
        } else {
            self.series_mut(e.series).oldest = e.next;
        }
        if e.next != NONE {
            self.entry_mut(e.next).prev = e.prev;
        } else {
            self.series_mut(e.series).newest = e.prev;
        }
        let s = self.series(e.series);
        s.oldest == NONE && s.newest == NONE
    }

    /// The newest entry of the series with a timestamp at or before `ts`, walking
    /// back from the newest (late exemplars are usually recent); the oldest if none.
    fn insertion_point(&self, series: usize, ts: i64) -> usize {
        let s = self.series(series);
        let mut i = s.newest;
        while i != NONE {
            let e = self.entry(i);
            if e.ex.ts <= ts {
                return i;
            }
            i = e.prev;
        }
        s.oldest
    }

    /// Prometheus's checks against the series' newest exemplar.
    fn validate(&self, series: Option<usize>, e: &StoredExemplar) -> Result<(), Error> {
        if self.slots.is_empty() {
            return Err(Error::ExemplarsDisabled);
        }
        let runes: usize = e
            .labels
            .iter()
            .map(|l| l.name.chars().count() + l.value.chars().count())
            .sum();
        if runes > MAX_LABEL_SET_RUNES {
            return Err(Error::ExemplarLabelLength);
        }
        let Some(series) = series else {
            return Ok(());
        };
        let newest = &self.entry(self.series(series).newest).ex;
        if newest.same_as(e) {
            return Err(Error::DuplicateExemplar);
        }
        // Exemplars at the same timestamp are kept in (value, label hash) order, so
        // that a repeat is found by comparing with the newest only: native histograms
        // have several exemplars per scrape.
        let too_old = e.ts < newest.ts && e.ts <= newest.ts.saturating_sub(self.ooo_window);
        let same_ts_lower = e.ts == newest.ts
            && (e.value < newest.value
                || (e.value == newest.value && e.labels.hash64() < newest.labels.hash64()));
        if too_old || same_ts_lower {
            return Err(Error::OutOfOrderExemplar);
        }
        Ok(())
    }

    fn in_storage(&self) -> usize {
        if self.slots.is_empty() {
            0
        } else if self.slots[self.next].is_some() {
            self.slots.len()
        } else {
            // Until the buffer is full, slots fill from 0 (a resize compacts them).
            self.next
        }
    }
}

impl ExemplarStorage {
    /// A storage of `max_exemplars` slots (0 or less: none) that takes exemplars up
    /// to `ooo_window` ms older than their series' newest.
    pub fn new(max_exemplars: i64, ooo_window: i64) -> Self {
        let len = max_exemplars.max(0) as usize;
        ExemplarStorage {
            ring: RwLock::new(Ring {
                slots: vec![None; len],
                ooo_window: ooo_window.max(0),
                ..Ring::default()
            }),
            appended: AtomicU64::new(0),
            out_of_order: AtomicU64::new(0),
            size: AtomicI64::new(len as i64),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Ring> {
        self.ring.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Ring> {
        self.ring.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether exemplars are kept at all (the size is above 0).
    pub fn enabled(&self) -> bool {
        self.size.load(Ordering::Relaxed) > 0
    }

    /// Sets the out-of-order window (ms), as `storage.tsdb.out_of_order_time_window`.
    pub fn set_out_of_order_window(&self, ms: i64) {
        self.write().ooo_window = ms.max(0);
    }

    /// Checks an exemplar for `series` without storing it: what an appender does
    /// before queueing it. Counts nothing.
    ///
    /// # Errors
    /// [`Error::ExemplarsDisabled`], [`Error::ExemplarLabelLength`],
    /// [`Error::DuplicateExemplar`] (the series' newest again) and
    /// [`Error::OutOfOrderExemplar`].
    pub fn validate(&self, series: &Labels, e: &StoredExemplar) -> Result<(), Error> {
        let ring = self.read();
        let idx = ring.by_labels.get(series).copied();
        ring.validate(idx, e)
    }

    /// Stores an exemplar of `series`, evicting the oldest exemplar when full. A
    /// repeat of the series' newest exemplar (or a late one at a timestamp already
    /// held) is accepted and dropped.
    ///
    /// # Errors
    /// As [`ExemplarStorage::validate`], except duplicates; out-of-order exemplars are
    /// also counted.
    pub fn add(&self, series: &Labels, e: StoredExemplar) -> Result<(), Error> {
        let mut guard = self.write();
        let ring = &mut *guard;
        let idx = ring.by_labels.get(series).copied();
        match ring.validate(idx, &e) {
            Ok(()) => {}
            Err(Error::DuplicateExemplar) => return Ok(()),
            Err(err) => {
                if matches!(err, Error::OutOfOrderExemplar) {
                    self.out_of_order.fetch_add(1, Ordering::Relaxed);
                }
                return Err(err);
            }
        }
        // A late exemplar (inside the window) goes after the newest entry not newer
        // than it; one at a timestamp already held is taken for a repeat, as
        // comparing values and labels along the list would be too slow.
        let mut late = false;
        let mut after = NONE;
        if let Some(i) = idx {
            let s = ring.series(i);
            let (oldest, newest) = (ring.entry(s.oldest).ex.ts, ring.entry(s.newest).ex.ts);
            late = e.ts >= oldest && e.ts < newest;
            if late {
                after = ring.insertion_point(i, e.ts);
                if ring.entry(after).ex.ts == e.ts {
                    return Ok(());
                }
            }
        }
        let sid = match idx {
            Some(i) => i,
            None => ring.add_series(series.clone()),
        };
        let mut has_list = idx.is_some();
        let pos = ring.next;
        if let Some(old) = ring.slots[pos].take() {
            if ring.unlink(&old) {
                if old.series == sid {
                    // The series' only exemplar was the evicted one: start afresh.
                    has_list = false;
                } else {
                    ring.drop_series(old.series);
                }
            } else if late && after == pos && old.series == sid {
                after = ring.insertion_point(sid, e.ts);
            }
        }
        let (prev, next) = if !has_list {
            let s = ring.series_mut(sid);
            s.oldest = pos;
            s.newest = pos;
            (NONE, NONE)
        } else {
            let s = ring.series(sid).clone();
            if e.ts >= ring.entry(s.newest).ex.ts {
                ring.entry_mut(s.newest).next = pos;
                ring.series_mut(sid).newest = pos;
                (s.newest, NONE)
            } else if e.ts < ring.entry(s.oldest).ex.ts {
                ring.entry_mut(s.oldest).prev = pos;
                ring.series_mut(sid).oldest = pos;
                (NONE, s.oldest)
            } else {
                let n = ring.entry(after).next;
                ring.entry_mut(after).next = pos;
                if n != NONE {
                    ring.entry_mut(n).prev = pos;
                }
                (after, n)
            }
        };
        ring.slots[pos] = Some(Entry {
            ex: e,
            series: sid,
            prev,
            next,
        });
        ring.next = (pos + 1) % ring.slots.len();
        self.appended.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Changes the size (0 or less: no exemplars), keeping the newest exemplars in
    /// order of arrival. Returns how many were kept.
    pub fn resize(&self, max_exemplars: i64) -> usize {
        let len = max_exemplars.max(0) as usize;
        let mut guard = self.write();
        let ring = &mut *guard;
        let old_len = ring.slots.len();
        if len == old_len {
            return ring.in_storage();
        }
        let order: Vec<usize> = (0..old_len)
            .map(|i| (ring.next + i) % old_len)
            .filter(|&p| ring.slots[p].is_some())
            .collect();
        let cut = order.len().saturating_sub(len);
        for &p in &order[..cut] {
            if let Some(old) = ring.slots[p].take()
                && ring.unlink(&old)
            {
                ring.drop_series(old.series);
            }
        }
        let kept = &order[cut..];
        let mut moved = vec![NONE; old_len];
        for (to, &from) in kept.iter().enumerate() {
            moved[from] = to;
        }
        let remap = |p: usize| if p == NONE { NONE } else { moved[p] };
        let mut slots = vec![None; len];
        for &from in kept {
            if let Some(mut e) = ring.slots[from].take() {
                e.prev = remap(e.prev);
                e.next = remap(e.next);
                slots[moved[from]] = Some(e);
            }
        }
        for s in ring.series.iter_mut().flatten() {
            s.oldest = remap(s.oldest);
            s.newest = remap(s.newest);
        }
        ring.slots = slots;
        ring.next = if len == 0 { 0 } else { kept.len() % len };
        self.size.store(len as i64, Ordering::Relaxed);
        kept.len()
    }

    /// Exemplars with timestamps in `[start, end]` of the series matching any of
    /// `matcher_sets`, sorted by series labels.
    pub fn select(
        &self,
        start: i64,
        end: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> Vec<ExemplarSeries> {
        let ring = self.read();
        let mut out = Vec::new();
        for s in ring.series.iter().flatten() {
            if ring.entry(s.oldest).ex.ts > end || ring.entry(s.newest).ex.ts < start {
                continue;
            }
            let matches = matcher_sets.iter().any(|set| {
                set.iter()
                    .all(|m| m.matches(s.labels.get_or_empty(&m.name)))
            });
            if !matches {
                continue;
            }
            let mut exemplars = Vec::new();
            let mut i = s.oldest;
            while i != NONE {
                let e = ring.entry(i);
                if e.ex.ts > end {
                    break;
                }
                if e.ex.ts >= start {
                    exemplars.push(Exemplar {
                        labels: e.ex.labels.clone(),
                        value: e.ex.value,
                        ts: Some(e.ex.ts),
                    });
                }
                i = e.next;
            }
            if !exemplars.is_empty() {
                out.push(ExemplarSeries {
                    series_labels: s.labels.clone(),
                    exemplars,
                });
            }
        }
        out.sort_by(|a, b| a.series_labels.cmp(&b.series_labels));
        out
    }

    /// The metrics' current values.
    pub fn stats(&self) -> ExemplarStats {
        let ring = self.read();
        let ts_of = |p: usize| ring.slots.get(p).and_then(|s| s.as_ref()).map(|e| e.ex.ts);
        let oldest = ts_of(ring.next).or_else(|| ts_of(0)).unwrap_or(0);
        ExemplarStats {
            appended: self.appended.load(Ordering::Relaxed),
            out_of_order: self.out_of_order.load(Ordering::Relaxed),
            in_storage: ring.in_storage(),
            series: ring.by_labels.len(),
            oldest_timestamp_seconds: oldest as f64 / 1000.0,
            max_exemplars: ring.slots.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_model::MatchType;

    fn series(name: &str) -> Labels {
        Labels::from_pairs([("__name__", name)])
    }

    fn ex(trace: &str, value: f64, ts: i64) -> StoredExemplar {
        StoredExemplar {
            labels: Labels::from_pairs([("trace_id", trace)]),
            value,
            ts,
            has_ts: true,
        }
    }

    fn all(s: &ExemplarStorage) -> Vec<(String, Vec<i64>)> {
        let m = vec![vec![
            Matcher::new(MatchType::RegexMatch, "__name__", ".+").unwrap(),
        ]];
        s.select(i64::MIN, i64::MAX, &m)
            .into_iter()
            .map(|r| {
                (
                    r.series_labels.metric_name().to_string(),
                    r.exemplars.iter().map(|e| e.ts.unwrap_or(0)).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn wraps_evicting_the_oldest_and_dropping_empty_series() {
        let s = ExemplarStorage::new(3, 0);
        s.add(&series("a"), ex("1", 1.0, 10)).unwrap();
        s.add(&series("b"), ex("2", 1.0, 11)).unwrap();
        s.add(&series("a"), ex("3", 1.0, 12)).unwrap();
        assert_eq!(s.stats().in_storage, 3);
        // Evicts a@10, then b@11 (b is gone), then a@12.
        s.add(&series("a"), ex("4", 1.0, 13)).unwrap();
        s.add(&series("c"), ex("5", 1.0, 14)).unwrap();
        assert_eq!(
            all(&s),
            vec![("a".into(), vec![12, 13]), ("c".into(), vec![14])]
        );
        s.add(&series("c"), ex("6", 1.0, 15)).unwrap();
        assert_eq!(
            all(&s),
            vec![("a".into(), vec![13]), ("c".into(), vec![14, 15])]
        );
        let st = s.stats();
        assert_eq!((st.appended, st.in_storage, st.series), (6, 3, 2));
        assert_eq!(st.oldest_timestamp_seconds, 0.013);
        assert_eq!(st.max_exemplars, 3);
    }

    #[test]
    fn label_length_is_counted_in_characters() {
        let s = ExemplarStorage::new(10, 0);
        // 8 ("trace_id") + 120 two-byte characters: 128, allowed.
        let ok = "é".repeat(120);
        s.add(&series("a"), ex(&ok, 1.0, 1)).unwrap();
        let long = "é".repeat(121);
        assert!(matches!(
            s.add(&series("a"), ex(&long, 1.0, 2)),
            Err(Error::ExemplarLabelLength)
        ));
        assert_eq!(s.stats().appended, 1);
    }

    #[test]
    fn duplicates_dropped_silently_out_of_order_counted() {
        let s = ExemplarStorage::new(10, 0);
        s.add(&series("a"), ex("1", 1.0, 100)).unwrap();
        // The same exemplar again: accepted, not stored.
        s.add(&series("a"), ex("1", 1.0, 100)).unwrap();
        assert!(matches!(
            s.validate(&series("a"), &ex("1", 1.0, 100)),
            Err(Error::DuplicateExemplar)
        ));
        // Without exposed timestamps a repeat is one whatever the scrape time.
        let mut a = ex("2", 2.0, 200);
        a.has_ts = false;
        s.add(&series("a"), a.clone()).unwrap();
        a.ts = 300;
        s.add(&series("a"), a).unwrap();
        assert_eq!(all(&s), vec![("a".into(), vec![100, 200])]);
        // Older than the newest: refused and counted; validate does not count.
        assert!(matches!(
            s.validate(&series("a"), &ex("3", 1.0, 150)),
            Err(Error::OutOfOrderExemplar)
        ));
        assert!(matches!(
            s.add(&series("a"), ex("3", 1.0, 150)),
            Err(Error::OutOfOrderExemplar)
        ));
        // Same timestamp, lower value: out of order too; higher value: taken.
        assert!(s.add(&series("a"), ex("4", 1.0, 200)).is_err());
        s.add(&series("a"), ex("5", 3.0, 200)).unwrap();
        assert_eq!(s.stats().out_of_order, 2);
        assert_eq!(all(&s), vec![("a".into(), vec![100, 200, 200])]);
    }

    #[test]
    fn out_of_order_window_inserts_in_time_order() {
        let s = ExemplarStorage::new(4, 50);
        s.add(&series("a"), ex("1", 1.0, 100)).unwrap();
        s.add(&series("a"), ex("2", 1.0, 130)).unwrap();
        s.add(&series("a"), ex("3", 1.0, 120)).unwrap();
        s.add(&series("a"), ex("4", 1.0, 90)).unwrap();
        assert_eq!(all(&s), vec![("a".into(), vec![90, 100, 120, 130])]);
        // Already held timestamp: a repeat. Too old: refused.
        s.add(&series("a"), ex("5", 2.0, 120)).unwrap();
        assert!(s.add(&series("a"), ex("6", 1.0, 80)).is_err());
        // Wrapping evicts by arrival (100 first), not by time.
        s.add(&series("a"), ex("7", 1.0, 140)).unwrap();
        assert_eq!(all(&s), vec![("a".into(), vec![90, 120, 130, 140])]);
    }

    #[test]
    fn resize_keeps_the_newest() {
        let s = ExemplarStorage::new(4, 0);
        for (i, name) in ["a", "b", "a", "b", "a", "c"].iter().enumerate() {
            s.add(&series(name), ex(&i.to_string(), 1.0, i as i64))
                .unwrap();
        }
        // Holds 2..=5 (a@2, b@3, a@4, c@5), wrapped.
        assert_eq!(s.resize(8), 4);
        assert_eq!(s.stats().in_storage, 4);
        s.add(&series("b"), ex("x", 1.0, 6)).unwrap();
        assert_eq!(
            all(&s),
            vec![
                ("a".into(), vec![2, 4]),
                ("b".into(), vec![3, 6]),
                ("c".into(), vec![5])
            ]
        );
        assert_eq!(s.resize(2), 2);
        assert_eq!(all(&s), vec![("b".into(), vec![6]), ("c".into(), vec![5])]);
        assert_eq!(s.stats().series, 2);
        // Keeps going round after a shrink.
        s.add(&series("c"), ex("y", 1.0, 7)).unwrap();
        assert_eq!(all(&s), vec![("b".into(), vec![6]), ("c".into(), vec![7])]);
        assert_eq!(s.resize(0), 0);
        assert!(all(&s).is_empty());
        assert!(matches!(
            s.add(&series("a"), ex("z", 1.0, 8)),
            Err(Error::ExemplarsDisabled)
        ));
        let st = s.stats();
        assert_eq!((st.in_storage, st.series, st.max_exemplars), (0, 0, 0));
    }

    #[test]
    fn select_by_matcher_sets_and_time() {
        let s = ExemplarStorage::new(10, 0);
        for t in [10, 20, 30] {
            s.add(&series("a"), ex("1", t as f64, t)).unwrap();
            s.add(&series("b"), ex("1", t as f64, t)).unwrap();
        }
        let eq = |v: &str| vec![Matcher::new(MatchType::Equal, "__name__", v).unwrap()];
        let r = s.select(15, 30, &[eq("b")]);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].exemplars.len(), 2);
        assert_eq!(r[0].exemplars[0].ts, Some(20));
        assert_eq!(s.select(0, 100, &[eq("a"), eq("b")]).len(), 2);
        assert!(s.select(31, 100, &[eq("a")]).is_empty());
        assert!(s.select(0, 100, &[]).is_empty());
    }
}
