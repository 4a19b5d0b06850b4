//! The persistence file (`--persistence.file`): every group, written atomically
//! (a temporary file in the same directory, synced, then renamed over the old one)
//! and read back at start-up. The layout is in `docs/format/persistence.md`.
//!
//! The original writes Go's `gob` encoding of its in-memory maps, a format tied to Go
//! types; Ember's file is a checksummed protobuf of the same content (the
//! `MetricFamily` messages pushes arrive in), so a torn or damaged file is detected
//! rather than half-loaded.
//!
//! So that a user switching from the original keeps every pushed group, [`load`]
//! also reads the original's file (through the hand-written `gob` module) when it
//! is not Ember's, and [`keep_original`] keeps a copy of it before Ember's first
//! write replaces it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use ember_exposition::proto::{LabelPair, MetricFamily};
use prost::Message;

use crate::gob::{self, Value};
use crate::store::{Group, Stored};

const MAGIC: &[u8; 8] = b"EMBERPGW";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 4 + 8;

#[derive(Clone, PartialEq, prost::Message)]
struct Snapshot {
    #[prost(message, repeated, tag = "1")]
    groups: Vec<SavedGroup>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SavedGroup {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<LabelPair>,
    #[prost(message, repeated, tag = "2")]
    families: Vec<SavedFamily>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SavedFamily {
    #[prost(int64, tag = "1")]
    pushed_at_unix_nanos: i64,
    #[prost(message, optional, tag = "2")]
    family: Option<MetricFamily>,
}

/// Why the persistence file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// Reading, writing or renaming failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not one Ember wrote, or it is damaged.
    #[error("{path}: corrupt persistence file: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Encodes `groups` in the file's layout.
pub fn encode<'a>(groups: impl Iterator<Item = &'a Group>) -> Vec<u8> {
    let snapshot = Snapshot {
        groups: groups
            .map(|g| SavedGroup {
                labels: g
                    .labels
                    .iter()
                    .map(|(n, v)| LabelPair::new(n.clone(), v.clone()))
                    .collect(),
                families: g
                    .families
                    .values()
                    .map(|s| SavedFamily {
                        pushed_at_unix_nanos: s.pushed_at,
                        family: Some(s.family.clone()),
                    })
                    .collect(),
            })
            .collect(),
    };
    let body = snapshot.encode_to_vec();
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
    out.extend_from_slice(&(body.len() as u64).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Decodes a file's bytes into groups.
pub fn decode(bytes: &[u8]) -> Result<Vec<Group>, String> {
    if bytes.len() < HEADER_LEN {
        return Err(format!("{} bytes is shorter than the header", bytes.len()));
    }
    let (header, body) = bytes.split_at(HEADER_LEN);
    if &header[..8] != MAGIC {
        return Err("not an Ember Pushgateway persistence file (bad magic)".into());
    }
    let word =
        |i: usize| u32::from_be_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let version = word(8);
    if version != VERSION {
        return Err(format!("unsupported version {version}"));
    }
    let mut len_bytes = [0u8; 8];
    len_bytes.copy_from_slice(&header[16..24]);
    let len = u64::from_be_bytes(len_bytes);
    if len != body.len() as u64 {
        return Err(format!(
            "body is {} bytes, the header says {len} (truncated?)",
            body.len()
        ));
    }
    if crc32c::crc32c(body) != word(12) {
        return Err("checksum mismatch".into());
    }
    let snapshot = Snapshot::decode(body).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(snapshot.groups.len());
    for g in snapshot.groups {
        let labels: BTreeMap<String, String> = g
            .labels
            .into_iter()
            .map(|l| (l.name.unwrap_or_default(), l.value.unwrap_or_default()))
            .collect();
        if !labels.contains_key("job") {
            return Err("a group without a job label".into());
        }
        let mut families = BTreeMap::new();
        for f in g.families {
            let family = f.family.ok_or("a saved family without its family")?;
            families.insert(
                family.name().to_string(),
                Stored {
                    pushed_at: f.pushed_at_unix_nanos,
                    family,
                },
            );
        }
        out.push(Group { labels, families });
    }
    Ok(out)
}

/// Writes `bytes` to `path` atomically: readers see the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PersistError> {
    let io = |source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pushgateway.data".into());
    let tmp = dir.join(format!("{file_name}.in_progress.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename is durable once the directory is synced.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Which program wrote a file [`load`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    /// Ember, in the layout of `docs/format/persistence.md` (or there was no file).
    #[default]
    Ember,
    /// Prometheus's Pushgateway, in Go's `gob`.
    Original,
}

/// What [`load`] found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The groups, as saved.
    pub groups: Vec<Group>,
    /// Which program wrote them.
    pub origin: Origin,
}

/// Decodes a file's bytes, Ember's layout or the original's: a file is Ember's when
/// it starts with Ember's magic, and then only Ember's rules apply; otherwise it
/// must decode completely as the original's.
pub fn decode_any(bytes: &[u8]) -> Result<Loaded, String> {
    if bytes.starts_with(MAGIC) {
        return decode(bytes).map(|groups| Loaded {
            groups,
            origin: Origin::Ember,
        });
    }
    decode_original(bytes)
        .map(|groups| Loaded {
            groups,
            origin: Origin::Original,
        })
        .map_err(|why| {
            format!(
                "neither Ember's format (no {} magic) nor the original Pushgateway's ({why})",
                String::from_utf8_lossy(MAGIC)
            )
        })
}

/// Decodes the original Pushgateway's file: the `gob` of its
/// `map[string]MetricGroup`, each `MetricGroup{Labels map[string]string; Metrics
/// map[string]TimestampedMetricFamily}`, each `TimestampedMetricFamily{Timestamp
/// time.Time; GobbableMetricFamily}` whose second field is the protobuf of a
/// `MetricFamily` (its `GobEncode`). The map's keys are derived from the labels,
/// so they are not read; `push_time_seconds` and `push_failure_time_seconds` are
/// families among the others there, as in Ember's store.
pub fn decode_original(bytes: &[u8]) -> Result<Vec<Group>, String> {
    fn utf8(v: &Value, what: &str) -> Result<String, String> {
        match v {
            Value::String(b) => String::from_utf8(b.clone())
                .map_err(|_| format!("{what} {:?} is not UTF-8", String::from_utf8_lossy(b))),
            other => Err(format!("{what} is a {}, not a string", other.kind())),
        }
    }
    fn entries<'v>(v: Option<&'v Value>, what: &str) -> Result<&'v [(Value, Value)], String> {
        match v {
            // gob omits a nil or empty map.
            None => Ok(&[]),
            Some(Value::Map(e)) => Ok(e),
            Some(other) => Err(format!("{what} is a {}, not a map", other.kind())),
        }
    }
    let top = gob::decode_first(bytes).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for (_, group) in entries(Some(&top), "the top-level value")? {
        let mut labels = BTreeMap::new();
        for (n, v) in entries(group.field("Labels"), "a group's Labels")? {
            labels.insert(utf8(n, "a label name")?, utf8(v, "a label value")?);
        }
        if !labels.contains_key("job") {
            return Err("a group without a job label".into());
        }
        let mut families = BTreeMap::new();
        for (name, tmf) in entries(group.field("Metrics"), "a group's Metrics")? {
            let name = utf8(name, "a metric name")?;
            let family = match tmf.field("GobbableMetricFamily") {
                Some(Value::Encoded(pb)) => MetricFamily::decode(pb.as_slice())
                    .map_err(|e| format!("metric family {name:?}: {e}"))?,
                // A nil family: nothing to expose (the original would fail on it).
                None => continue,
                Some(other) => {
                    return Err(format!(
                        "metric family {name:?} is a {}, not protobuf bytes",
                        other.kind()
                    ));
                }
            };
            let pushed_at = match tmf.field("Timestamp") {
                Some(Value::Encoded(t)) => gob::go_time_unix_nanos(t)
                    .map_err(|e| format!("metric family {name:?}: {e}"))?,
                // Omitted when zero.
                None => None,
                Some(other) => {
                    return Err(format!(
                        "metric family {name:?}: the timestamp is a {}",
                        other.kind()
                    ));
                }
            };
            // Go's zero time has no Unix nanoseconds; the original never stores
            // it (every family carries its push's time), so the epoch stands in.
            let pushed_at = pushed_at.unwrap_or(0);
            families.insert(name, Stored { pushed_at, family });
        }
        out.push(Group { labels, families });
    }
    Ok(out)
}

/// Reads the file at `path`, Ember's or the original's (see [`decode_any`]): no
/// file is an empty store; a file that was read but does not decode is
/// [`PersistError::Corrupt`] (the caller moves it aside and starts empty); any other
/// read failure (permission denied, a directory, an I/O error) is
/// [`PersistError::Io`], never taken for damage.
pub fn load(path: &Path) -> Result<Loaded, PersistError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::default()),
        Err(source) => {
            return Err(PersistError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    decode_any(&bytes).map_err(|reason| PersistError::Corrupt {
        path: path.to_path_buf(),
        reason,
    })
}

/// Keeps a copy of the original Pushgateway's file at `path` as
/// `<path>.gob-imported` (or `.gob-imported.1`, `.2`, … when that name holds
/// something else), so that the user can go back to the original after Ember's
/// first write has replaced `path`; the copy's name. A copy with the same bytes
/// already there is reused, so restarts before that first write do not pile up
/// copies. A copy rather than a rename: until Ember writes, `path` stays the file
/// both programs read.
pub fn keep_original(path: &Path) -> Result<PathBuf, PersistError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| PersistError::Io { path: p, source }
    };
    let bytes = std::fs::read(path).map_err(io(path))?;
    let base = {
        let mut name = path.as_os_str().to_owned();
        name.push(".gob-imported");
        name
    };
    let mut dest = PathBuf::from(&base);
    let mut n = 0u32;
    loop {
        match std::fs::read(&dest) {
            Ok(existing) if existing == bytes => return Ok(dest),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) => return Err(io(&dest)(e)),
        }
        n += 1;
        let mut name = base.clone();
        name.push(format!(".{n}"));
        dest = PathBuf::from(name);
    }
    write_atomic(&dest, &bytes)?;
    Ok(dest)
}

/// Moves a damaged file out of the way, keeping it for inspection; the new name.
/// An earlier damaged file kept under the same name is not replaced: a counter is
/// added instead, so repeated failures within a second keep every copy.
pub fn move_aside(path: &Path) -> Result<PathBuf, PersistError> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let base = {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".corrupt-{stamp}"));
        name
    };
    let mut dest = PathBuf::from(&base);
    let mut n = 0u32;
    while dest.symlink_metadata().is_ok() {
        n += 1;
        let mut name = base.clone();
        name.push(format!(".{n}"));
        dest = PathBuf::from(name);
    }
    std::fs::rename(path, &dest).map_err(|source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(dest)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::Store;
    use ember_exposition::{Format, parse, proto::from_flat};

    fn store() -> Store {
        let mut s = Store::new(Vec::new());
        let fams =
            |t: &str| from_flat(parse(t.as_bytes(), Format::Text).expect("parse")).expect("conv");
        let k1: crate::grouping::GroupingKey =
            [("job".to_string(), "a".to_string())].into_iter().collect();
        let k2: crate::grouping::GroupingKey = [
            ("job".to_string(), "b".to_string()),
            ("e".to_string(), String::new()),
        ]
        .into_iter()
        .collect();
        s.push(
            &k1,
            fams("# HELP x h\n# TYPE x histogram\nx_bucket{le=\"1\"} 1\nx_sum 1\nx_count 1\n"),
            true,
            true,
            5,
        )
        .expect("push");
        s.push(&k2, fams("y 2\n"), true, true, 6).expect("push");
        s
    }

    #[test]
    fn round_trip_and_damage() {
        let s = store();
        let bytes = encode(s.groups());
        let groups = decode(&bytes).expect("decodes");
        assert_eq!(groups, s.groups().cloned().collect::<Vec<_>>());
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(decode(&flipped).expect_err("crc"), "checksum mismatch");
        assert!(decode(b"garbage").is_err());
    }

    #[test]
    fn atomic_write_load_and_move_aside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("pg.data");
        assert!(load(&p).expect("missing is empty").groups.is_empty());
        write_atomic(&p, &encode(store().groups())).expect("write");
        let loaded = load(&p).expect("load");
        assert_eq!((loaded.groups.len(), loaded.origin), (2, Origin::Ember));
        std::fs::write(&p, b"EMBERPGW\0\0\0\x01junk").expect("damage");
        assert!(matches!(load(&p), Err(PersistError::Corrupt { .. })));
        let aside = move_aside(&p).expect("moved");
        assert!(aside.exists() && !p.exists());
        // A second damaged file does not replace the first one kept aside.
        std::fs::write(&p, b"second").expect("damage again");
        let again = move_aside(&p).expect("moved");
        assert_ne!(again, aside);
        assert_eq!(std::fs::read(&again).expect("kept"), b"second");
        assert_eq!(
            std::fs::read(&aside).expect("kept"),
            b"EMBERPGW\0\0\0\x01junk"
        );
    }

    /// One group of the original's file: grouping labels, and per family the push
    /// time in Unix nanoseconds and the family.
    pub(crate) type OriginalGroup<'a> = (Vec<(&'a str, &'a str)>, Vec<(i64, MetricFamily)>);

    /// The original's file for `groups`, built from gob's documented encoding with
    /// the original's type names and made-up type ids.
    pub(crate) fn original_file(groups: &[OriginalGroup<'_>]) -> Vec<u8> {
        use crate::gob::build::{W, encoder_def, map_def, struct_def};
        const STRING: i64 = 6;
        // Types named before they are defined, as Go's encoder sends them.
        let mut out = map_def(65, STRING, 66);
        out.extend(struct_def(
            66,
            "MetricGroup",
            &[("Labels", 67), ("Metrics", 68)],
        ));
        out.extend(map_def(67, STRING, STRING));
        out.extend(map_def(68, STRING, 69));
        out.extend(struct_def(
            69,
            "TimestampedMetricFamily",
            &[("Timestamp", 70), ("GobbableMetricFamily", 71)],
        ));
        out.extend(encoder_def(70, "Time"));
        out.extend(encoder_def(71, "GobbableMetricFamily"));
        let mut w = W::default().int(65).uint(0).uint(groups.len() as u64);
        for (labels, families) in groups {
            let key: Vec<String> = labels
                .iter()
                .map(|(n, v)| format!("{n}\u{ff}{v}"))
                .collect();
            w = w
                .str(key.join("\u{ff}").as_bytes())
                .delta(1)
                .uint(labels.len() as u64);
            for (n, v) in labels {
                w = w.str(n.as_bytes()).str(v.as_bytes());
            }
            w = w.delta(1).uint(families.len() as u64);
            for (nanos, f) in families {
                let mut t = vec![1];
                t.extend_from_slice(
                    &(nanos.div_euclid(1_000_000_000) + 62_135_596_800).to_be_bytes(),
                );
                t.extend_from_slice(&(nanos.rem_euclid(1_000_000_000) as u32).to_be_bytes());
                t.extend_from_slice(&0i16.to_be_bytes());
                w = w
                    .str(f.name().as_bytes())
                    .delta(1)
                    .str(&t)
                    .delta(1)
                    .str(&f.encode_to_vec())
                    .end();
            }
            w = w.end();
        }
        out.extend(w.message());
        out
    }

    #[test]
    fn the_originals_file_is_read_and_kept() {
        let s = store();
        let groups: Vec<Group> = s.groups().cloned().collect();
        let spec: Vec<_> = groups
            .iter()
            .map(|g| {
                (
                    g.labels
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str()))
                        .collect(),
                    g.families
                        .values()
                        .map(|st| (st.pushed_at + 1_700_000_000_123_456_789, st.family.clone()))
                        .collect(),
                )
            })
            .collect();
        let bytes = original_file(&spec);
        let mut want = groups.clone();
        for g in &mut want {
            for st in g.families.values_mut() {
                st.pushed_at += 1_700_000_000_123_456_789;
            }
        }
        assert_eq!(decode_original(&bytes).expect("decodes"), want);
        let loaded = decode_any(&bytes).expect("decodes");
        assert_eq!((loaded.groups, loaded.origin), (want, Origin::Original));
        // Neither format: both reasons are given.
        let e = decode_any(&bytes[..bytes.len() - 3]).expect_err("truncated");
        assert!(e.starts_with("neither Ember's format"), "{e}");
        assert!(e.contains("gob: unexpected end"), "{e}");

        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("pg.data");
        std::fs::write(&p, &bytes).expect("write");
        assert_eq!(load(&p).expect("load").origin, Origin::Original);
        let kept = keep_original(&p).expect("kept");
        assert_eq!(kept, dir.path().join("pg.data.gob-imported"));
        assert_eq!(std::fs::read(&kept).expect("copy"), bytes);
        assert_eq!(std::fs::read(&p).expect("still there"), bytes);
        // The same file again reuses the copy; another one gets a new name.
        assert_eq!(keep_original(&p).expect("kept"), kept);
        std::fs::write(&p, &bytes[..bytes.len() - 1]).expect("write");
        let second = keep_original(&p).expect("kept");
        assert_eq!(second, dir.path().join("pg.data.gob-imported.1"));
        assert_eq!(std::fs::read(&kept).expect("first copy kept"), bytes);
    }

    #[test]
    fn a_read_error_is_not_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("pg.data");
        std::fs::create_dir(&p).expect("mkdir");
        assert!(matches!(load(&p), Err(PersistError::Io { .. })));
    }
}
