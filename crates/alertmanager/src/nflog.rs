//! The notification log: what was last notified for each aggregation group and
//! integration, so that an unchanged group is not notified again before its
//! `repeat_interval` (Alertmanager's `nflog` and `DedupStage`).
//!
//! Entries expire after `--data.retention` and are persisted under
//! `--storage.path` (`nflog.json`, Ember's own format, described in
//! `docs/format/nflog.md`) so that a restart re-sends nothing already notified.
//!
//! Ember adds one rule to Alertmanager's (prometheus/alertmanager#3367, on by
//! default, off with `--notify.on-unmute=false`): an entry also records which of the
//! firing alerts it reported were later seen *muted* at a flush — silenced,
//! inhibited, or in a route's mute (or outside its active) time interval. Such an
//! alert firing unmuted again is news, as a new alert would be, so the receiver is
//! told at once instead of at the next `repeat_interval` (or never, when the
//! firing set is the one notified before the muting). The record is cleared by the
//! next notification, so one unmuting yields one notification. Muting is observed
//! at flushes: a silence shorter than `group_interval` that no flush saw held
//! nothing back and causes no renotification.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What was notified last for one group and integration.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// When the notification went out.
    pub timestamp: Timestamp,
    /// Fingerprints of the firing alerts it carried.
    pub firing: BTreeSet<u64>,
    /// Fingerprints of the resolved alerts it carried.
    pub resolved: BTreeSet<u64>,
    /// Fingerprints among `firing` seen muted at a flush since (Ember's
    /// notify-on-unmute rule; always empty when it is off).
    pub muted: BTreeSet<u64>,
    /// When the entry may be forgotten.
    pub expires_at: Timestamp,
}

/// Identifies an integration of a receiver: `receiver/integration/index`, as
/// Alertmanager's `nflogpb.Receiver` does.
pub fn receiver_key(receiver: &str, integration: &str, index: usize) -> String {
    format!("{receiver}/{integration}/{index}")
}

/// Alertmanager's `DedupStage.needsUpdate`: whether a group whose alerts are now
/// `firing` and `resolved` (unmuted ones only) must be notified, given the last
/// `entry` — plus Ember's rule that an alert of `entry.muted` firing again is news.
pub fn needs_update(
    entry: Option<&Entry>,
    firing: &BTreeSet<u64>,
    resolved: &BTreeSet<u64>,
    send_resolved: bool,
    repeat: Duration,
    now: Timestamp,
) -> bool {
    let Some(entry) = entry else {
        // Never notified: only firing alerts are news.
        return !firing.is_empty();
    };
    if !firing.is_subset(&entry.firing) {
        return true;
    }
    // Ember: an alert reported firing, muted since, and now firing unmuted again.
    if !firing.is_disjoint(&entry.muted) {
        return true;
    }
    if firing.is_empty() {
        // Everything resolved: tell the receiver if it was told about firing
        // alerts; alerts that fired and resolved between two flushes are not news.
        return !entry.firing.is_empty();
    }
    if send_resolved && !resolved.is_subset(&entry.resolved) {
        return true;
    }
    let repeat = jiff::SignedDuration::try_from(repeat).unwrap_or(jiff::SignedDuration::MAX);
    match entry.timestamp.checked_add(repeat) {
        Ok(due) => due <= now,
        Err(_) => false,
    }
}

/// The log.
#[derive(Debug, Default)]
pub struct NotificationLog {
    entries: HashMap<(String, String), Entry>,
    path: Option<PathBuf>,
    dirty: bool,
}

/// The notification log's file name under `--storage.path`.
pub const NFLOG_FILE: &str = "nflog.json";

impl NotificationLog {
    /// An empty, in-memory log.
    pub fn new() -> NotificationLog {
        NotificationLog::default()
    }

    /// Loads the log persisted in `dir` (empty when there is none yet).
    pub fn open(dir: &Path) -> std::io::Result<NotificationLog> {
        let path = dir.join(NFLOG_FILE);
        let mut log = NotificationLog {
            entries: HashMap::new(),
            path: Some(path.clone()),
            dirty: false,
        };
        match std::fs::read(&path) {
            Ok(bytes) => {
                let invalid = |e: String| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: {e}", path.display()),
                    )
                };
                let file: NflogFile =
                    serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
                if file.version != 1 {
                    return Err(invalid(format!("unknown format version {}", file.version)));
                }
                for e in file.entries {
                    let t = |s: &str| {
                        s.parse::<Timestamp>()
                            .map_err(|err| invalid(format!("bad time {s:?}: {err}")))
                    };
                    let fps = |v: &[String]| {
                        v.iter()
                            .map(|s| {
                                u64::from_str_radix(s, 16)
                                    .map_err(|_| invalid(format!("bad fingerprint {s:?}")))
                            })
                            .collect::<Result<BTreeSet<u64>, _>>()
                    };
                    log.entries.insert(
                        (e.group_key, e.receiver),
                        Entry {
                            timestamp: t(&e.timestamp)?,
                            firing: fps(&e.firing_alerts)?,
                            resolved: fps(&e.resolved_alerts)?,
                            muted: fps(&e.muted_alerts)?,
                            expires_at: t(&e.expires_at)?,
                        },
                    );
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(log)
    }

    /// The last entry for a group and integration.
    pub fn query(&self, group_key: &str, receiver: &str) -> Option<&Entry> {
        self.entries
            .get(&(group_key.to_string(), receiver.to_string()))
    }

    /// Records a notification.
    pub fn log(&mut self, group_key: &str, receiver: &str, entry: Entry) {
        self.entries
            .insert((group_key.to_string(), receiver.to_string()), entry);
        self.dirty = true;
    }

    /// Records that the alerts `muted` (fingerprints of firing alerts) were muted at
    /// a flush of the group, for the integration's entry: those the entry reported
    /// firing join its `muted` set. Returns whether the entry changed.
    pub fn record_muted(&mut self, group_key: &str, receiver: &str, muted: &BTreeSet<u64>) -> bool {
        let Some(e) = self
            .entries
            .get_mut(&(group_key.to_string(), receiver.to_string()))
        else {
            return false;
        };
        let before = e.muted.len();
        e.muted
            .extend(muted.iter().filter(|f| e.firing.contains(f)).copied());
        let changed = e.muted.len() != before;
        self.dirty |= changed;
        changed
    }

    /// Drops expired entries; returns how many.
    pub fn gc(&mut self, now: Timestamp) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, e| e.expires_at > now);
        let n = before - self.entries.len();
        if n > 0 {
            self.dirty = true;
        }
        n
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Writes the log if it changed since the last write. The caller decides when
    /// (after each notification round and on shutdown), so that a burst of
    /// notifications costs one write.
    pub fn flush(&mut self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if !self.dirty {
            return Ok(());
        }
        let hex = |s: &BTreeSet<u64>| s.iter().map(|f| format!("{f:016x}")).collect();
        let mut entries: Vec<NflogFileEntry> = self
            .entries
            .iter()
            .map(|((g, r), e)| NflogFileEntry {
                group_key: g.clone(),
                receiver: r.clone(),
                timestamp: e.timestamp.to_string(),
                firing_alerts: hex(&e.firing),
                resolved_alerts: hex(&e.resolved),
                muted_alerts: hex(&e.muted),
                expires_at: e.expires_at.to_string(),
            })
            .collect();
        entries.sort_by(|a, b| (&a.group_key, &a.receiver).cmp(&(&b.group_key, &b.receiver)));
        let bytes = serde_json::to_vec_pretty(&NflogFile {
            version: 1,
            entries,
        })
        .map_err(std::io::Error::other)?;
        crate::silence::write_atomic(path, &bytes)?;
        self.dirty = false;
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
struct NflogFile {
    version: u32,
    entries: Vec<NflogFileEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NflogFileEntry {
    group_key: String,
    receiver: String,
    timestamp: String,
    firing_alerts: Vec<String>,
    resolved_alerts: Vec<String>,
    /// Ember's notify-on-unmute record; absent when empty, so that files without
    /// muting look as before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    muted_alerts: Vec<String>,
    expires_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn set(v: &[u64]) -> BTreeSet<u64> {
        v.iter().copied().collect()
    }

    fn entry(at: i64, firing: &[u64], resolved: &[u64]) -> Entry {
        Entry {
            timestamp: ts(at),
            firing: set(firing),
            resolved: set(resolved),
            muted: BTreeSet::new(),
            expires_at: ts(at + 1000),
        }
    }

    #[test]
    fn dedup_rules() {
        let rep = Duration::from_secs(100);
        // First notification: only when something fires.
        assert!(needs_update(None, &set(&[1]), &set(&[]), true, rep, ts(0)));
        assert!(!needs_update(None, &set(&[]), &set(&[1]), true, rep, ts(0)));
        let e = entry(10, &[1], &[]);
        // Unchanged: not before repeat_interval.
        assert!(!needs_update(
            Some(&e),
            &set(&[1]),
            &set(&[]),
            true,
            rep,
            ts(50)
        ));
        assert!(needs_update(
            Some(&e),
            &set(&[1]),
            &set(&[]),
            true,
            rep,
            ts(110)
        ));
        // A new firing alert is news.
        assert!(needs_update(
            Some(&e),
            &set(&[1, 2]),
            &set(&[]),
            true,
            rep,
            ts(50)
        ));
        // A resolution is news with send_resolved only...
        let e2 = entry(10, &[1, 2], &[]);
        assert!(needs_update(
            Some(&e2),
            &set(&[1]),
            &set(&[2]),
            true,
            rep,
            ts(50)
        ));
        assert!(!needs_update(
            Some(&e2),
            &set(&[1]),
            &set(&[2]),
            false,
            rep,
            ts(50)
        ));
        // ...but all resolved always is, when firing alerts were notified.
        assert!(needs_update(
            Some(&e2),
            &set(&[]),
            &set(&[1, 2]),
            false,
            rep,
            ts(50)
        ));
        let e3 = entry(10, &[], &[1]);
        assert!(!needs_update(
            Some(&e3),
            &set(&[]),
            &set(&[1]),
            true,
            rep,
            ts(500)
        ));
    }

    #[test]
    fn unmuted_alerts_are_news_once() {
        let rep = Duration::from_secs(100);
        let mut log = NotificationLog::new();
        log.log("g", "r/webhook/0", entry(10, &[1, 2], &[]));
        // Alert 3 was never reported: nothing to record.
        assert!(!log.record_muted("g", "r/webhook/0", &set(&[3])));
        // Unknown group or integration: nothing to record.
        assert!(!log.record_muted("other", "r/webhook/0", &set(&[1])));
        // 1 is seen muted at a flush (while 2 keeps firing): no news yet.
        assert!(log.record_muted("g", "r/webhook/0", &set(&[1])));
        assert!(
            !log.record_muted("g", "r/webhook/0", &set(&[1])),
            "recorded once"
        );
        let e = log.query("g", "r/webhook/0").unwrap().clone();
        assert_eq!(e.muted, set(&[1]));
        assert!(!needs_update(
            Some(&e),
            &set(&[2]),
            &set(&[]),
            true,
            rep,
            ts(50)
        ));
        // Still muted: the unmuted firing set is {2}, unchanged.
        assert!(!needs_update(
            Some(&e),
            &set(&[2]),
            &set(&[]),
            true,
            rep,
            ts(60)
        ));
        // Unmuted and firing again: news, before repeat_interval, although the
        // firing set is the one notified before the muting.
        assert!(needs_update(
            Some(&e),
            &set(&[1, 2]),
            &set(&[]),
            true,
            rep,
            ts(60)
        ));
        // Resolved while muted: not firing, so not news by this rule (and not
        // news without send_resolved).
        assert!(!needs_update(
            Some(&e),
            &set(&[2]),
            &set(&[1]),
            false,
            rep,
            ts(60)
        ));
        // Notifying clears the record: the next flush is quiet again.
        log.log("g", "r/webhook/0", entry(60, &[1, 2], &[]));
        let e = log.query("g", "r/webhook/0").unwrap();
        assert!(!needs_update(
            Some(e),
            &set(&[1, 2]),
            &set(&[]),
            true,
            rep,
            ts(70)
        ));
    }

    #[test]
    fn muted_alerts_persist() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut l = NotificationLog::open(dir.path()).unwrap();
            l.log("{}:{}", "r/webhook/0", entry(10, &[0xabc, 0xdef], &[]));
            l.record_muted("{}:{}", "r/webhook/0", &set(&[0xabc]));
            l.flush().unwrap();
        }
        let text = std::fs::read_to_string(dir.path().join(NFLOG_FILE)).unwrap();
        assert!(
            text.contains("\"mutedAlerts\": [\n        \"0000000000000abc\"\n      ],"),
            "{text}"
        );
        let l = NotificationLog::open(dir.path()).unwrap();
        assert_eq!(
            l.query("{}:{}", "r/webhook/0").unwrap().muted,
            set(&[0xabc])
        );
    }

    #[test]
    fn persists_and_expires() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut l = NotificationLog::open(dir.path()).unwrap();
            l.log("{}:{}", "r/webhook/0", entry(10, &[0xabc], &[7]));
            l.flush().unwrap();
        }
        let mut l = NotificationLog::open(dir.path()).unwrap();
        assert_eq!(
            l.query("{}:{}", "r/webhook/0"),
            Some(&entry(10, &[0xabc], &[7]))
        );
        assert_eq!(l.gc(ts(2000)), 1);
        assert!(l.is_empty());
    }

    #[test]
    fn file_format_is_pinned() {
        // docs/format/nflog.md describes these bytes.
        let dir = tempfile::tempdir().unwrap();
        let mut l = NotificationLog::open(dir.path()).unwrap();
        l.log("{}:{}", "r/webhook/0", entry(10, &[0xabc], &[]));
        l.flush().unwrap();
        let text = std::fs::read_to_string(dir.path().join(NFLOG_FILE)).unwrap();
        assert_eq!(
            text,
            r#"{
  "version": 1,
  "entries": [
    {
      "groupKey": "{}:{}",
      "receiver": "r/webhook/0",
      "timestamp": "1970-01-01T00:00:10Z",
      "firingAlerts": [
        "0000000000000abc"
      ],
      "resolvedAlerts": [],
      "expiresAt": "1970-01-01T00:16:50Z"
    }
  ]
}"#
        );
    }
}
