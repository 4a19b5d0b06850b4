//! The in-memory storage promtool's rule unit tests run on.

use ember_model::Labels;
use ember_model::value::{Exemplar, Metadata, is_stale_nan};
use ember_promql::series_notation::ChunkHints;
use ember_storage::list::MemStorage;
use ember_storage::{
    Appendable, Appender, Error as StorageError, HistogramRef, Querier, Queryable, SeriesRef,
    Timestamp,
};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// An in-memory store whose histograms read back with the counter-reset hints
/// Prometheus's TSDB gives them ([`ChunkHints`]), which promtool's expected
/// histograms spell out. Input series and rule results both go through it, as both
/// go through the TSDB in promtool.
#[derive(Debug, Default)]
pub(crate) struct TestStorage {
    mem: MemStorage,
    hints: Mutex<Hints>,
}

struct TestAppender<'a> {
    inner: Box<dyn Appender + 'a>,
    hints: &'a Mutex<Hints>,
}

type Hints = HashMap<Labels, ChunkHints>;

fn lock(hints: &Mutex<Hints>) -> Result<MutexGuard<'_, Hints>, StorageError> {
    hints
        .lock()
        .map_err(|_| StorageError::Io("lock poisoned".into()))
}

impl Appender for TestAppender<'_> {
    fn append(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        t: Timestamp,
        v: f64,
    ) -> Result<SeriesRef, StorageError> {
        let res = self.inner.append(r, labels, t, v);
        // A float cuts a histogram chunk; a stale marker does not, as the TSDB
        // stores it in a histogram series as a histogram marker.
        if res.is_ok()
            && !is_stale_nan(v)
            && let Some(h) = lock(self.hints)?.get_mut(labels)
        {
            h.float();
        }
        res
    }
    fn append_histogram(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        t: Timestamp,
        h: HistogramRef<'_>,
    ) -> Result<SeriesRef, StorageError> {
        let fh = match h {
            HistogramRef::Int(h) => h.to_float(),
            HistogramRef::Float(h) => h.clone(),
        };
        let mut hints = lock(self.hints)?;
        // The hints advance only when the sample is stored, on a copy until then.
        let mut series = hints.get(labels).cloned().unwrap_or_default();
        let fh = series.hist(&fh);
        let res = self
            .inner
            .append_histogram(r, labels, t, HistogramRef::Float(&fh));
        if res.is_ok() {
            hints.insert(labels.clone(), series);
        }
        res
    }
    fn append_exemplar(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        e: &Exemplar,
    ) -> Result<SeriesRef, StorageError> {
        self.inner.append_exemplar(r, labels, e)
    }
    fn update_metadata(
        &mut self,
        r: Option<SeriesRef>,
        labels: &Labels,
        m: &Metadata,
    ) -> Result<SeriesRef, StorageError> {
        self.inner.update_metadata(r, labels, m)
    }
    fn commit(self: Box<Self>) -> Result<(), StorageError> {
        self.inner.commit()
    }
    fn rollback(self: Box<Self>) -> Result<(), StorageError> {
        self.inner.rollback()
    }
}

impl Appendable for TestStorage {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(TestAppender {
            inner: self.mem.appender(),
            hints: &self.hints,
        })
    }
}

impl Queryable for TestStorage {
    fn querier(
        &self,
        mint: Timestamp,
        maxt: Timestamp,
    ) -> Result<Box<dyn Querier + '_>, StorageError> {
        self.mem.querier(mint, maxt)
    }
}
