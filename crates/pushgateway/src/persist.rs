//! The persistence file (`--persistence.file`): every group, written atomically
//! (a temporary file in the same directory, synced, then renamed over the old one)
//! and read back at start-up. The layout is in `docs/format/persistence.md`.
//!
//! The original writes Go's `gob` encoding of its in-memory maps, a format tied to Go
//! types; Ember's file is a checksummed protobuf of the same content (the
//! `MetricFamily` messages pushes arrive in), so a torn or damaged file is detected
//! rather than half-loaded.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use ember_exposition::proto::{LabelPair, MetricFamily};
use prost::Message;

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

/// Reads the file at `path`: no file is an empty store; a file that was read but
/// does not decode is [`PersistError::Corrupt`] (the caller moves it aside and
/// starts empty); any other read failure (permission denied, a directory, an I/O
/// error) is [`PersistError::Io`], never taken for damage.
pub fn load(path: &Path) -> Result<Vec<Group>, PersistError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(PersistError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    decode(&bytes).map_err(|reason| PersistError::Corrupt {
        path: path.to_path_buf(),
        reason,
    })
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
mod tests {
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
        assert!(load(&p).expect("missing is empty").is_empty());
        write_atomic(&p, &encode(store().groups())).expect("write");
        assert_eq!(load(&p).expect("load").len(), 2);
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

    #[test]
    fn a_read_error_is_not_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("pg.data");
        std::fs::create_dir(&p).expect("mkdir");
        assert!(matches!(load(&p), Err(PersistError::Io { .. })));
    }
}
