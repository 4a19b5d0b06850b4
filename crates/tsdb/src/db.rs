//! A TSDB directory: opening it (replaying and, when needed, repairing the WAL) and
//! the appendable/queryable handle the server uses.

use crate::head::{Head, HeadOptions};
use ember_storage::{Appendable, Appender, Error as StorageError, Querier, Queryable, Timestamp};
use ember_wal::reader::{Reader, Repair, repair};
use ember_wal::record::{Record, decode};
use ember_wal::segment::{Wal, WalOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Errors opening a TSDB directory.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The WAL could not be read or written (other than a repairable corruption).
    #[error("WAL: {0}")]
    Wal(#[from] ember_wal::Error),
    /// Replaying a record into the head failed.
    #[error("replaying WAL: {0}")]
    Replay(#[from] StorageError),
}

/// Settings for a TSDB directory.
#[derive(Clone, Debug, Default)]
pub struct DbOptions {
    /// Head settings.
    pub head: HeadOptions,
    /// WAL settings.
    pub wal: WalOptions,
}

/// What start-up found in the WAL.
#[derive(Clone, Debug, Default)]
pub struct ReplayReport {
    /// Records read.
    pub records: u64,
    /// Series definitions replayed.
    pub series: u64,
    /// Samples replayed.
    pub samples: u64,
    /// Records of kinds not replayed yet (histograms, exemplars, tombstones).
    pub skipped_records: u64,
    /// The corruption found, if any, and how it was repaired.
    pub repaired: Option<(String, Repair)>,
    /// Time spent.
    pub duration: Duration,
}

/// An open TSDB directory.
#[derive(Debug)]
pub struct Db {
    dir: PathBuf,
    head: Head,
    replay: ReplayReport,
}

impl Db {
    /// Opens (or creates) the TSDB in `dir`: replays `dir/wal` into the head,
    /// repairing a torn or corrupt tail (the damage is reported, the good prefix is
    /// kept, and start-up goes on), then starts a new WAL segment.
    pub fn open(dir: &Path, opts: DbOptions) -> Result<Db, DbError> {
        let wal_dir = dir.join("wal");
        std::fs::create_dir_all(&wal_dir).map_err(|e| ember_wal::Error::Io {
            op: "create dir",
            path: wal_dir.clone(),
            source: e,
        })?;
        let mut head = Head::new(opts.head);
        let replay = replay(&wal_dir, &head)?;
        head.set_wal(Wal::open(&wal_dir, opts.wal)?);
        Ok(Db {
            dir: dir.to_path_buf(),
            head,
            replay,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The head.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// What start-up replayed.
    pub fn replay_report(&self) -> &ReplayReport {
        &self.replay
    }
}

/// Reads the WAL record by record — memory stays bounded by the largest record, not
/// the WAL's size — and applies series and samples to the head.
fn replay(wal_dir: &Path, head: &Head) -> Result<ReplayReport, DbError> {
    let start = Instant::now();
    let mut rep = ReplayReport::default();
    let mut reader = Reader::open(wal_dir, 0)?;
    while let Some(rec) = reader.next() {
        let rec = match rec {
            Ok(r) => r,
            Err(ember_wal::Error::Corruption {
                segment,
                offset,
                reason,
            }) => {
                let r = repair(wal_dir, segment, offset)?;
                head.stats()
                    .wal_corruptions
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                rep.repaired = Some((reason, r));
                break;
            }
            Err(e) => return Err(e.into()),
        };
        rep.records += 1;
        match decode(&rec) {
            Ok(Record::Series(series)) => {
                for s in series {
                    head.replay_series(s.r, &s.labels)?;
                    rep.series += 1;
                }
            }
            Ok(Record::Samples(samples)) => {
                for s in samples {
                    head.replay_sample(s.r, s.t, s.v);
                    rep.samples += 1;
                }
            }
            // A record that passed its CRC but does not decode is skipped and counted,
            // rather than refusing to start.
            Ok(_) | Err(_) => rep.skipped_records += 1,
        }
    }
    rep.duration = start.elapsed();
    Ok(rep)
}

impl Appendable for Db {
    fn appender(&self) -> Box<dyn Appender + '_> {
        self.head.appender()
    }
}

impl Queryable for Db {
    fn querier(
        &self,
        mint: Timestamp,
        maxt: Timestamp,
    ) -> Result<Box<dyn Querier + '_>, StorageError> {
        self.head.querier(mint, maxt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ember_model::{Labels, MatchType, Matcher};
    use ember_storage::ValueType;

    fn count(db: &Db) -> usize {
        let q = db.querier(i64::MIN, i64::MAX).unwrap();
        let m = Matcher::new(MatchType::RegexMatch, "__name__", ".+").unwrap();
        q.select(false, None, &[m])
            .map(|s| {
                let s = s.unwrap();
                let mut it = s.iter();
                let mut n = 0;
                while it.next() == ValueType::Float {
                    n += 1;
                }
                n
            })
            .sum()
    }

    #[test]
    fn restart_replays_everything() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Db::open(dir.path(), DbOptions::default()).unwrap();
            for i in 0..300 {
                let mut app = db.appender();
                for s in 0..20 {
                    let l =
                        Labels::from_pairs([("__name__", format!("m{s}")), ("i", "x".to_string())]);
                    app.append(None, &l, i * 15_000, i as f64).unwrap();
                }
                app.commit().unwrap();
            }
            // Rolled back: must not come back.
            let mut app = db.appender();
            app.append(
                None,
                &Labels::from_pairs([("__name__", "gone")]),
                1_000_000,
                1.0,
            )
            .unwrap();
            app.rollback().unwrap();
            assert_eq!(count(&db), 6000);
        }
        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        assert_eq!(db.replay_report().samples, 6000);
        assert_eq!(count(&db), 6000);
        // New appends continue after the replayed ones and survive another restart.
        let mut app = db.appender();
        app.append(
            None,
            &Labels::from_pairs([("__name__", "m0"), ("i", "x")]),
            300 * 15_000,
            1.0,
        )
        .unwrap();
        app.commit().unwrap();
        drop(db);
        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        assert_eq!(count(&db), 6001);
    }

    #[test]
    fn corrupt_tail_is_repaired_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Db::open(dir.path(), DbOptions::default()).unwrap();
            for i in 0..100 {
                let mut app = db.appender();
                app.append(None, &Labels::from_pairs([("__name__", "a")]), i, i as f64)
                    .unwrap();
                app.commit().unwrap();
            }
        }
        let seg = ember_wal::segment::segments(&dir.path().join("wal"))
            .unwrap()
            .pop()
            .unwrap()
            .1;
        let len = std::fs::metadata(&seg).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(len - 5)
            .unwrap();
        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        assert!(db.replay_report().repaired.is_some());
        assert_eq!(
            db.head()
                .stats()
                .wal_corruptions
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert_eq!(count(&db), 99);
    }
}
