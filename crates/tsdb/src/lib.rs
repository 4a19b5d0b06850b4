//! Ember's time-series database, compatible with Prometheus's on-disk format.
//!
//! The head ([`head::Head`]) takes appends and serves recent data from memory; it
//! implements the `ember-storage` traits, which is all the rest of Ember sees. Its
//! label index ([`postings`]) answers matchers without scanning every value when a
//! regex reduces to literals or a prefix.
//!
//! Around it: the WAL (crash safety), `chunks_head/` files, and blocks in
//! Prometheus's format with compaction and retention ([`db::Db`]). Native
//! histograms (integer and float, exponential and custom buckets) go everywhere
//! float samples go, in Prometheus's chunk encodings and WAL records, so that
//! Prometheus's tools read Ember's data and the other way round.

pub mod agent;
pub mod block;
pub mod chunks;
pub mod compact;
pub mod db;
mod encoding;
pub mod exemplar;
pub mod head;
pub mod head_chunks;
mod hist;
pub mod index;
mod iter;
mod ooo;
pub mod postings;

pub use db::{Db, DbError, DbOptions, ReplayReport};
pub use head::{Head, HeadOptions};

/// Why a data directory's `lock` file could not be taken.
#[derive(Debug)]
pub(crate) enum LockFailure {
    /// Another process holds it.
    Held(std::path::PathBuf),
    /// Creating or locking it failed.
    Io(std::path::PathBuf, std::io::Error),
}

/// Takes `dir/lock` (an advisory lock held as long as the file stays open), as
/// Prometheus guards a data directory against a second process.
pub(crate) fn lock_dir(dir: &std::path::Path) -> Result<std::fs::File, LockFailure> {
    let path = dir.join("lock");
    let f = match std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) => return Err(LockFailure::Io(path, e)),
    };
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(LockFailure::Held(path)),
        Err(std::fs::TryLockError::Error(e)) => Err(LockFailure::Io(path, e)),
    }
}
