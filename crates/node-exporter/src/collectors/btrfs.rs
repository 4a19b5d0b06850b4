//! `btrfs`: Btrfs filesystems from `/sys/fs/btrfs/<uuid>`: `node_btrfs_info` (its
//! label), the global reserve, commit statistics (`commit_stats`, absent before
//! Linux 5.x: then 0), per block group type (`data`, `metadata`, `system`) the
//! reserved bytes and per RAID profile the used and allocated bytes and the
//! allocation ratio, and the size of every device (`devices/<name>/size`, in
//! 512-byte sectors).
//!
//! Not implemented: node_exporter also opens every mounted Btrfs filesystem and asks
//! the kernel through ioctls (`BTRFS_IOC_FS_INFO`, `BTRFS_IOC_DEV_INFO`,
//! `BTRFS_IOC_GET_DEV_STATS`) for per-device usage and error counters. With those it
//! reports `node_btrfs_device_size_bytes` with a `btrfs_dev_uuid` label,
//! `node_btrfs_device_unused_bytes` and `node_btrfs_device_errors_total`; without
//! them (as when it cannot open the mount point, and always here) it reports the
//! sysfs device sizes labelled by `device` only, which is what its test fixtures
//! cover.
//!
//! As procfs, a missing attribute or one that does not parse reads as 0, and the
//! filesystem's UUID label is `metadata_uuid` when that is set, else the directory
//! name.

use std::io;
use std::path::Path;
use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{dir_entries, read_limited};

pub(crate) struct Btrfs(pub(crate) Arc<Config>);

/// The block group types of `allocation/`.
const GROUP_TYPES: [&str; 3] = ["data", "metadata", "system"];

/// The bytes in a sysfs device sector (`size` counts them).
const SECTOR_SIZE: u64 = 512;

impl Collector for Btrfs {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let root = self.0.sys("fs/btrfs");
        let entries = match dir_entries(&root) {
            Ok(e) => e,
            // No Btrfs module: no filesystems.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(CollectError::io(&root, e)),
        };
        // Filesystems are named by UUID (the glob `*-*`); `features` is not one.
        for (name, _) in entries.iter().filter(|(n, _)| n.contains('-')) {
            filesystem(out, &root.join(name), name)?;
        }
        Ok(())
    }
}

/// A layout's used and allocated bytes.
struct Layout {
    mode: String,
    used: u64,
    total: u64,
}

/// One filesystem: everything is read before anything is written, so a filesystem
/// that fails to read contributes nothing.
fn filesystem(out: &mut Out, dir: &Path, name: &str) -> Result<(), CollectError> {
    let devices_dir = dir.join("devices");
    let devices = dir_entries(&devices_dir).map_err(|e| CollectError::io(&devices_dir, e))?;
    let mut sizes = Vec::with_capacity(devices.len());
    for (dev, _) in &devices {
        let size = value(&devices_dir.join(dev).join("size"))?;
        sizes.push((dev.as_str(), size.saturating_mul(SECTOR_SIZE)));
    }
    let label = text(&dir.join("label"))?;
    let uuid = match text(&dir.join("metadata_uuid"))? {
        u if u.is_empty() => name.to_owned(),
        u => u,
    };
    let global_rsv_size = value(&dir.join("allocation/global_rsv_size"))?;
    let mut groups = Vec::with_capacity(GROUP_TYPES.len());
    for group in GROUP_TYPES {
        let gdir = dir.join("allocation").join(group);
        let reserved = value(&gdir.join("bytes_reserved"))?;
        let mut layouts = Vec::new();
        for (mode, kind) in dir_entries(&gdir).map_err(|e| CollectError::io(&gdir, e))? {
            if kind.is_dir() {
                layouts.push(Layout {
                    used: value(&gdir.join(&mode).join("used_bytes"))?,
                    total: value(&gdir.join(&mode).join("total_bytes"))?,
                    mode,
                });
            }
        }
        groups.push((group, reserved, layouts));
    }
    let commits = commit_stats(&dir.join("commit_stats"))?;

    let u = uuid.as_str();
    out.gauge(
        "node_btrfs_info",
        "Filesystem information",
        &[("uuid", u), ("label", &label)],
        1.0,
    );
    out.gauge(
        "node_btrfs_global_rsv_size_bytes",
        "Size of global reserve.",
        &[("uuid", u)],
        global_rsv_size as f64,
    );
    out.counter(
        "node_btrfs_commits_total",
        "The total number of commits that have occurred.",
        &[("uuid", u)],
        commits.commits as f64,
    );
    out.gauge(
        "node_btrfs_last_commit_seconds",
        "Duration of the most recent commit, in seconds.",
        &[("uuid", u)],
        commits.last_ms as f64 / 1000.0,
    );
    out.gauge(
        "node_btrfs_max_commit_seconds",
        "Duration of the slowest commit, in seconds.",
        &[("uuid", u)],
        commits.max_ms as f64 / 1000.0,
    );
    out.counter(
        "node_btrfs_commit_seconds_total",
        "Sum of the duration of all commits, in seconds.",
        &[("uuid", u)],
        commits.total_ms as f64 / 1000.0,
    );
    for (group, reserved, layouts) in &groups {
        out.gauge(
            "node_btrfs_reserved_bytes",
            "Amount of space reserved for a data type",
            &[("uuid", u), ("block_group_type", group)],
            *reserved as f64,
        );
        for l in layouts {
            let labels = [("uuid", u), ("block_group_type", group), ("mode", &l.mode)];
            out.gauge(
                "node_btrfs_used_bytes",
                "Amount of used space by a layout/data type",
                &labels,
                l.used as f64,
            );
            out.gauge(
                "node_btrfs_size_bytes",
                "Amount of space allocated for a layout/data type",
                &labels,
                l.total as f64,
            );
            out.gauge(
                "node_btrfs_allocation_ratio",
                "Data allocation ratio for a layout/data type",
                &labels,
                ratio(&l.mode, devices.len()),
            );
        }
    }
    for (dev, size) in sizes {
        out.gauge(
            "node_btrfs_device_size_bytes",
            "Size of a device that is part of the filesystem.",
            &[("uuid", u), ("device", dev)],
            size as f64,
        );
    }
    Ok(())
}

/// How many bytes of disk a byte of data takes under a RAID profile, given the
/// number of devices (parity profiles depend on it); 0 for an unknown profile.
fn ratio(mode: &str, devices: usize) -> f64 {
    let n = devices as f64;
    match mode {
        "single" | "raid0" => 1.0,
        "dup" | "raid1" | "raid10" => 2.0,
        "raid1c3" => 3.0,
        "raid1c4" => 4.0,
        "raid5" => n / (n - 1.0),
        "raid6" => n / (n - 2.0),
        _ => 0.0,
    }
}

/// A small attribute, trimmed; empty when missing.
fn text(path: &Path) -> Result<String, CollectError> {
    match read_limited(path, 4096) {
        Ok(s) => Ok(s.trim().to_owned()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(CollectError::io(path, e)),
    }
}

/// A numeric attribute; 0 when missing or not a number, as procfs reads it.
fn value(path: &Path) -> Result<u64, CollectError> {
    Ok(text(path)?.parse().unwrap_or(0))
}

#[derive(Default)]
struct Commits {
    commits: u64,
    last_ms: u64,
    max_ms: u64,
    total_ms: u64,
}

/// `commit_stats`: `name value` lines; all zero when the file is missing.
fn commit_stats(path: &Path) -> Result<Commits, CollectError> {
    let mut c = Commits::default();
    let text = match read_limited(path, 4096) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(c),
        Err(e) => return Err(CollectError::io(path, e)),
    };
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [name, v] = f[..] else {
            return Err(CollectError::invalid(
                path,
                format!("invalid commit_stats line {line:?}"),
            ));
        };
        let v: u64 = v.parse().map_err(|_| {
            CollectError::invalid(path, format!("invalid commit_stats line {line:?}"))
        })?;
        match name {
            "commits" => c.commits = v,
            "last_commit_ms" => c.last_ms = v,
            "max_commit_ms" => c.max_ms = v,
            "total_commit_ms" => c.total_ms = v,
            _ => {}
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        let text = collect_ok("btrfs", &[]);
        let has = |l: &str| assert!(text.lines().any(|x| x == l), "missing {l:?} in\n{text}");
        let u = "uuid=\"5d5c2a6e-0c4b-4a36-9a47-1f2e3d4c5b6a\"";
        has(&format!("node_btrfs_info{{label=\"home\",{u}}} 1"));
        has(&format!("node_btrfs_commits_total{{{u}}} 42"));
        has(&format!("node_btrfs_max_commit_seconds{{{u}}} 1.5"));
        has(&format!(
            "node_btrfs_allocation_ratio{{block_group_type=\"data\",mode=\"raid5\",{u}}} 1.5"
        ));
        has(&format!(
            "node_btrfs_used_bytes{{block_group_type=\"metadata\",mode=\"dup\",{u}}} 16384"
        ));
        has(&format!(
            "node_btrfs_reserved_bytes{{block_group_type=\"system\",{u}}} 0"
        ));
        has(&format!(
            "node_btrfs_device_size_bytes{{device=\"sdb\",{u}}} 1.073741824e+09"
        ));
        has(&format!(
            "node_btrfs_global_rsv_size_bytes{{{u}}} 1.6777216e+07"
        ));
    }

    #[test]
    fn ratios() {
        assert_eq!(ratio("raid6", 4), 2.0);
        assert_eq!(ratio("raid10", 4), 2.0);
        assert_eq!(ratio("unknown", 4), 0.0);
    }
}
