//! Silences: matchers and a time window during which matching alerts are not
//! notified, with Alertmanager 0.25's rules for creating, updating in place and
//! expiring them, and persistence under `--storage.path`.
//!
//! A silence is *pending* before its start, *active* until its end, *expired*
//! afterwards. Updating a silence changes it in place only where that cannot rewrite
//! history (same matchers; an active one keeps its start and may not end in the
//! past; a pending one may not start in the past; an expired one never changes);
//! otherwise the old silence is expired and a new one created with a new id, as
//! Alertmanager's `Silences.Set` does. Expired silences are kept for
//! `--data.retention`, then dropped.
//!
//! The file format (`silences.json`, JSON with a version) is Ember's own and is
//! described in `docs/format/silences.md`; it is rewritten atomically (temporary
//! file, then rename) on every change, so a restart loses no silence.
//!
//! The set also keeps an *expiry mark*: the instant up to which the ends of
//! silences have been acted on (groups they muted flushed, `silence_notifications`
//! sent). It is persisted with the silences, so that silences that ended while
//! Ember was down are acted on once after the restart, and never twice.

use crate::matcher::Matcher;
use ember_model::{Labels, MatchType};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The state of a silence at some instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SilenceState {
    /// Not started yet.
    Pending,
    /// In force.
    Active,
    /// Ended.
    Expired,
}

impl SilenceState {
    /// API v2's name for the state.
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
            SilenceState::Expired => "expired",
        }
    }
}

/// One silence.
#[derive(Clone, Debug)]
pub struct Silence {
    /// UUID.
    pub id: String,
    /// Matchers that must all match an alert's labels.
    pub matchers: Vec<Matcher>,
    /// Start of the window.
    pub starts_at: Timestamp,
    /// End of the window.
    pub ends_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Author.
    pub created_by: String,
    /// Why.
    pub comment: String,
}

impl Silence {
    /// The state at `now`.
    pub fn state(&self, now: Timestamp) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now < self.ends_at {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }

    /// Whether every matcher matches `labels`.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matchers
            .iter()
            .all(|m| m.matches(labels.get_or_empty(&m.name)))
    }
}

/// Why a silence could not be set or expired.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SilenceError {
    /// No silence has this id.
    #[error("silence not found")]
    NotFound,
    /// The silence is malformed.
    #[error("{0}")]
    Invalid(String),
    /// Expiring an expired silence.
    #[error("silence {0} already expired")]
    AlreadyExpired(String),
}

/// The set of silences.
#[derive(Debug, Default)]
pub struct Silences {
    by_id: HashMap<String, Silence>,
    path: Option<PathBuf>,
    expiry_mark: Option<Timestamp>,
}

fn same_matchers(a: &[Matcher], b: &[Matcher]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.kind == y.kind && x.name == y.name && x.value == y.value)
}

/// Alertmanager's `canUpdate`: whether `new` may replace `old` in place.
fn can_update(old: &Silence, new: &Silence, now: Timestamp) -> bool {
    if !same_matchers(&old.matchers, &new.matchers) {
        return false;
    }
    match old.state(now) {
        SilenceState::Active => new.starts_at == old.starts_at && new.ends_at >= now,
        SilenceState::Pending => new.starts_at >= now,
        SilenceState::Expired => false,
    }
}

fn validate(s: &Silence) -> Result<(), SilenceError> {
    let bad = |m: &str| Err(SilenceError::Invalid(m.to_string()));
    if s.matchers.is_empty() {
        return bad("at least one matcher required");
    }
    for (i, m) in s.matchers.iter().enumerate() {
        if !crate::is_valid_label_name(&m.name) {
            return Err(SilenceError::Invalid(format!(
                "invalid label matcher {i}: invalid label name {:?}",
                m.name
            )));
        }
    }
    if s.matchers.iter().all(|m| m.matches("")) {
        return bad("at least one matcher must not match the empty string");
    }
    if s.ends_at < s.starts_at {
        return bad("end time must not be before start time");
    }
    Ok(())
}

/// A random version 4 UUID. The randomness comes from the standard library's
/// per-process random hash keys mixed with the clock and a counter: silence ids must
/// be unique, not secret.
pub fn new_uuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let word = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_i128(Timestamp::now().as_nanosecond());
        h.finish()
    };
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&word().to_le_bytes());
    b[8..].copy_from_slice(&word().to_le_bytes());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Whether `s` is a UUID in the 8-4-4-4-12 hex form (what API v2 accepts in paths).
pub fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Silences {
    /// An empty, in-memory set.
    pub fn new() -> Silences {
        Silences::default()
    }

    /// Loads the set persisted in `dir` (empty when there is no file yet); changes
    /// are written back there.
    pub fn open(dir: &Path) -> Result<Silences, std::io::Error> {
        let path = dir.join(SILENCES_FILE);
        let mut s = Silences {
            by_id: HashMap::new(),
            path: Some(path.clone()),
            expiry_mark: None,
        };
        match std::fs::read(&path) {
            Ok(bytes) => {
                let file: SilencesFile = serde_json::from_slice(&bytes).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: {e}", path.display()),
                    )
                })?;
                if file.version != 1 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "{}: unknown format version {}",
                            path.display(),
                            file.version
                        ),
                    ));
                }
                s.expiry_mark = match file.expiries_handled_through.as_deref() {
                    None => None,
                    Some(t) => Some(t.parse::<Timestamp>().map_err(|e| {
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!("{}: bad time {t:?}: {e}", path.display()),
                        )
                    })?),
                };
                for f in file.silences {
                    let sil = f.into_silence().map_err(|e| {
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!("{}: {e}", path.display()),
                        )
                    })?;
                    s.by_id.insert(sil.id.clone(), sil);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(s)
    }

    /// Creates or updates a silence (an empty `id` creates), returning its id.
    pub fn set(&mut self, mut sil: Silence, now: Timestamp) -> Result<String, SilenceError> {
        sil.updated_at = now;
        let prev = if sil.id.is_empty() {
            None
        } else {
            Some(
                self.by_id
                    .get(&sil.id)
                    .cloned()
                    .ok_or(SilenceError::NotFound)?,
            )
        };
        if let Some(prev) = &prev
            && can_update(prev, &sil, now)
        {
            validate(&sil)?;
            self.by_id.insert(sil.id.clone(), sil.clone());
            self.persist();
            return Ok(sil.id);
        }
        // A new silence never starts in the past.
        if sil.starts_at < now {
            sil.starts_at = now;
        }
        validate(&sil)?;
        if let Some(prev) = prev
            && prev.state(now) != SilenceState::Expired
        {
            self.expire_inner(&prev.id, now)?;
        }
        sil.id = new_uuid();
        let id = sil.id.clone();
        self.by_id.insert(id.clone(), sil);
        self.persist();
        Ok(id)
    }

    fn expire_inner(&mut self, id: &str, now: Timestamp) -> Result<(), SilenceError> {
        let s = self.by_id.get_mut(id).ok_or(SilenceError::NotFound)?;
        match s.state(now) {
            SilenceState::Expired => return Err(SilenceError::AlreadyExpired(id.to_string())),
            SilenceState::Active => s.ends_at = now,
            SilenceState::Pending => {
                s.starts_at = now;
                s.ends_at = now;
            }
        }
        s.updated_at = now;
        Ok(())
    }

    /// Expires a silence now (a pending one both starts and ends now).
    pub fn expire(&mut self, id: &str, now: Timestamp) -> Result<(), SilenceError> {
        self.expire_inner(id, now)?;
        self.persist();
        Ok(())
    }

    /// The silence with this id.
    pub fn get(&self, id: &str) -> Option<&Silence> {
        self.by_id.get(id)
    }

    /// All silences, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Silence> {
        self.by_id.values()
    }

    /// Ids of the active silences matching `labels`, sorted.
    pub fn mutes(&self, labels: &Labels, now: Timestamp) -> Vec<String> {
        let mut ids: Vec<String> = self
            .by_id
            .values()
            .filter(|s| s.state(now) == SilenceState::Active && s.matches(labels))
            .map(|s| s.id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// The instant up to which silence ends have been acted on (`None`: never, for
    /// a new set or a file written before Ember kept the mark).
    pub fn expiry_mark(&self) -> Option<Timestamp> {
        self.expiry_mark
    }

    /// Moves the expiry mark to `t` and persists it.
    pub fn set_expiry_mark(&mut self, t: Timestamp) {
        self.expiry_mark = Some(t);
        self.persist();
    }

    /// Moves the expiry mark to `t` in memory only: for when no silence ended since
    /// the persisted mark, which therefore still selects the same ends after a
    /// restart (and the file is not rewritten every time the watcher wakes).
    pub fn advance_expiry_mark(&mut self, t: Timestamp) {
        self.expiry_mark = Some(t);
    }

    /// The silences that ended in `(after, until]`: those that expired at their end
    /// time and those expired early (`expire`, or replaced by an update), pending
    /// ones expired before they started included. Sorted by end, then id.
    pub fn ended_between(&self, after: Timestamp, until: Timestamp) -> Vec<Silence> {
        let mut out: Vec<Silence> = self
            .by_id
            .values()
            .filter(|s| s.ends_at > after && s.ends_at <= until)
            .cloned()
            .collect();
        out.sort_by(|a, b| a.ends_at.cmp(&b.ends_at).then_with(|| a.id.cmp(&b.id)));
        out
    }

    /// The earliest end of a silence after `t`, if any: when the next one expires.
    pub fn next_end_after(&self, t: Timestamp) -> Option<Timestamp> {
        self.by_id
            .values()
            .map(|s| s.ends_at)
            .filter(|e| *e > t)
            .min()
    }

    /// Drops silences expired longer than `retention` ago; returns how many.
    pub fn gc(&mut self, now: Timestamp, retention: Duration) -> usize {
        let before = self.by_id.len();
        let horizon = now
            .checked_sub(jiff::SignedDuration::try_from(retention).unwrap_or_default())
            .unwrap_or(now);
        self.by_id.retain(|_, s| s.ends_at > horizon);
        let n = before - self.by_id.len();
        if n > 0 {
            self.persist();
        }
        n
    }

    fn persist(&self) {
        if let Some(path) = &self.path
            && let Err(e) = self.save_to(path)
        {
            tracing::error!(file = %path.display(), err = %e, "writing silences failed");
        }
    }

    /// Writes the set to `path` atomically.
    pub fn save_to(&self, path: &Path) -> std::io::Result<()> {
        let mut list: Vec<SilenceFileEntry> =
            self.by_id.values().map(SilenceFileEntry::from).collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        let file = SilencesFile {
            version: 1,
            expiries_handled_through: self.expiry_mark.map(|t| t.to_string()),
            silences: list,
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
        write_atomic(path, &bytes)
    }
}

/// The silences file's name under `--storage.path`.
pub const SILENCES_FILE: &str = "silences.json";

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SilencesFile {
    version: u32,
    /// The expiry mark; absent until Ember set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expiries_handled_through: Option<String>,
    silences: Vec<SilenceFileEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SilenceFileEntry {
    id: String,
    matchers: Vec<MatcherEntry>,
    starts_at: String,
    ends_at: String,
    updated_at: String,
    created_by: String,
    comment: String,
}

#[derive(Serialize, Deserialize)]
struct MatcherEntry {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

pub(crate) fn op_str(k: MatchType) -> &'static str {
    match k {
        MatchType::Equal => "=",
        MatchType::NotEqual => "!=",
        MatchType::RegexMatch => "=~",
        MatchType::RegexNoMatch => "!~",
    }
}

impl From<&Silence> for SilenceFileEntry {
    fn from(s: &Silence) -> Self {
        SilenceFileEntry {
            id: s.id.clone(),
            matchers: s
                .matchers
                .iter()
                .map(|m| MatcherEntry {
                    name: m.name.clone(),
                    kind: op_str(m.kind).into(),
                    value: m.value.clone(),
                })
                .collect(),
            starts_at: s.starts_at.to_string(),
            ends_at: s.ends_at.to_string(),
            updated_at: s.updated_at.to_string(),
            created_by: s.created_by.clone(),
            comment: s.comment.clone(),
        }
    }
}

impl SilenceFileEntry {
    fn into_silence(self) -> Result<Silence, String> {
        let t = |s: &str| {
            s.parse::<Timestamp>()
                .map_err(|e| format!("bad time {s:?}: {e}"))
        };
        let matchers = self
            .matchers
            .into_iter()
            .map(|m| {
                let kind = match m.kind.as_str() {
                    "=" => MatchType::Equal,
                    "!=" => MatchType::NotEqual,
                    "=~" => MatchType::RegexMatch,
                    "!~" => MatchType::RegexNoMatch,
                    k => return Err(format!("bad matcher type {k:?}")),
                };
                Matcher::new(kind, m.name, m.value).map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Silence {
            id: self.id,
            matchers,
            starts_at: t(&self.starts_at)?,
            ends_at: t(&self.ends_at)?,
            updated_at: t(&self.updated_at)?,
            created_by: self.created_by,
            comment: self.comment,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn sil(id: &str, start: i64, end: i64) -> Silence {
        Silence {
            id: id.into(),
            matchers: vec![Matcher::new(MatchType::Equal, "sev", "x").unwrap()],
            starts_at: ts(start),
            ends_at: ts(end),
            updated_at: ts(0),
            created_by: "me".into(),
            comment: "c".into(),
        }
    }

    #[test]
    fn states_and_muting() {
        let mut s = Silences::new();
        let id = s.set(sil("", 100, 200), ts(150)).unwrap();
        assert!(is_uuid(&id));
        let l = Labels::from_pairs([("alertname", "A"), ("sev", "x")]);
        assert_eq!(s.mutes(&l, ts(150)), vec![id.clone()]);
        assert!(s.mutes(&l, ts(250)).is_empty());
        assert!(
            s.mutes(&Labels::from_pairs([("sev", "y")]), ts(150))
                .is_empty()
        );
        s.expire(&id, ts(160)).unwrap();
        assert_eq!(s.get(&id).unwrap().state(ts(160)), SilenceState::Expired);
        assert_eq!(
            s.expire(&id, ts(170)),
            Err(SilenceError::AlreadyExpired(id.clone()))
        );
        assert_eq!(s.gc(ts(170), Duration::from_secs(5)), 1);
    }

    #[test]
    fn update_in_place_or_replace() {
        let mut s = Silences::new();
        let id = s.set(sil("", 100, 200), ts(100)).unwrap();
        // Extending an active silence keeps its id.
        let mut upd = s.get(&id).unwrap().clone();
        upd.ends_at = ts(300);
        assert_eq!(s.set(upd, ts(150)).unwrap(), id);
        // Changing the matchers expires it and creates another.
        let mut upd = s.get(&id).unwrap().clone();
        upd.matchers = vec![Matcher::new(MatchType::Equal, "sev", "y").unwrap()];
        let id2 = s.set(upd, ts(160)).unwrap();
        assert_ne!(id2, id);
        assert_eq!(s.get(&id).unwrap().state(ts(160)), SilenceState::Expired);
        assert_eq!(s.get(&id2).unwrap().starts_at, ts(160));
        assert_eq!(s.set(sil("nope", 1, 2), ts(0)), Err(SilenceError::NotFound));
    }

    #[test]
    fn rejects_matchers_matching_everything() {
        let mut s = Silences::new();
        let mut bad = sil("", 100, 200);
        bad.matchers = vec![Matcher::new(MatchType::RegexMatch, "a", ".*").unwrap()];
        assert!(matches!(s.set(bad, ts(100)), Err(SilenceError::Invalid(_))));
    }

    #[test]
    fn persists_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let mut s = Silences::open(dir.path()).unwrap();
            s.set(sil("", 100, 200), ts(100)).unwrap()
        };
        let s = Silences::open(dir.path()).unwrap();
        let got = s.get(&id).unwrap();
        assert_eq!(got.ends_at, ts(200));
        assert_eq!(got.matchers[0].to_string(), r#"sev="x""#);
    }

    #[test]
    fn ended_between_and_next_end() {
        let mut s = Silences::new();
        let a = s.set(sil("", 100, 200), ts(100)).unwrap();
        let b = s.set(sil("", 100, 300), ts(100)).unwrap();
        let c = s.set(sil("", 150, 400), ts(100)).unwrap();
        assert_eq!(s.next_end_after(ts(100)), Some(ts(200)));
        assert_eq!(s.next_end_after(ts(200)), Some(ts(300)));
        assert_eq!(s.next_end_after(ts(400)), None);
        let ids = |v: Vec<Silence>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
        assert!(s.ended_between(ts(100), ts(199)).is_empty());
        // The end is inclusive, the start exclusive: each end is seen once by
        // consecutive windows.
        assert_eq!(ids(s.ended_between(ts(100), ts(200))), vec![a.clone()]);
        assert!(s.ended_between(ts(200), ts(250)).is_empty());
        // Expired early (b active, c pending): they end now.
        s.expire(&b, ts(260)).unwrap();
        s.expire(&c, ts(260)).unwrap();
        let mut both = vec![b.clone(), c.clone()];
        both.sort();
        assert_eq!(ids(s.ended_between(ts(250), ts(260))), both);
        assert!(s.ended_between(ts(260), ts(1000)).is_empty());
    }

    #[test]
    fn expiry_mark_persists() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = Silences::open(dir.path()).unwrap();
            assert_eq!(s.expiry_mark(), None);
            s.set(sil("", 100, 200), ts(100)).unwrap();
            s.set_expiry_mark(ts(150));
        }
        let text = std::fs::read_to_string(dir.path().join(SILENCES_FILE)).unwrap();
        assert!(
            text.starts_with(
                "{\n  \"version\": 1,\n  \"expiriesHandledThrough\": \"1970-01-01T00:02:30Z\",\n  \"silences\": ["
            ),
            "{text}"
        );
        let s = Silences::open(dir.path()).unwrap();
        assert_eq!(s.expiry_mark(), Some(ts(150)));
    }

    #[test]
    fn file_format_is_pinned() {
        // docs/format/silences.md describes these bytes; a change here is a format
        // change.
        let dir = tempfile::tempdir().unwrap();
        let mut s = Silences::new();
        let mut sil = sil("8a7c2f0e-5a55-4c0b-9d0e-7f0e4b1f4f3a", 100, 200);
        sil.updated_at = ts(100);
        s.by_id.insert(sil.id.clone(), sil);
        let path = dir.path().join(SILENCES_FILE);
        s.save_to(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            r#"{
  "version": 1,
  "silences": [
    {
      "id": "8a7c2f0e-5a55-4c0b-9d0e-7f0e4b1f4f3a",
      "matchers": [
        {
          "name": "sev",
          "type": "=",
          "value": "x"
        }
      ],
      "startsAt": "1970-01-01T00:01:40Z",
      "endsAt": "1970-01-01T00:03:20Z",
      "updatedAt": "1970-01-01T00:01:40Z",
      "createdBy": "me",
      "comment": "c"
    }
  ]
}"#
        );
    }
}
