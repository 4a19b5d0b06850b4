//! `zfs`: the ZFS kernel statistics of `/proc/spl/kstat/zfs` (OpenZFS on Linux).
//!
//! - The module-wide kstat files (`arcstats`, `abdstats`, `dbufstats`, `dmu_tx`,
//!   `dnodestats`, `fm`, `vdev_cache_stats`, `vdev_mirror_stats`, `xuio_stats`,
//!   `zfetchstats`, `zil`): every 64-bit integer row (kstat types 3 and 4) becomes the
//!   untyped `node_zfs_<subsystem>_<name>`, its help the kstat's dotted name, as
//!   node_exporter does. A file this ZFS version lacks is skipped.
//! - Per pool, `<pool>/io` (`node_zfs_zpool_<field>`), every `<pool>/objset-*`
//!   (`node_zfs_zpool_dataset_<name>` by dataset) and `<pool>/state`
//!   (`node_zfs_zpool_state`, one series per known state, 1 for the current one).
//!
//! Without `/proc/spl/kstat/zfs` (no ZFS module) the collector reports no data.
//!
//! Deliberate differences: a pool file that disappears between listing and reading
//! (a pool being exported) is skipped where node_exporter fails the scrape, and a
//! short row in a pool's `io` file is an error where node_exporter would panic.

use std::path::Path;
use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{dir_entries, is_absent, read_proc};

pub(crate) struct Zfs(pub(crate) Arc<Config>);

/// The metric subsystem of each kstat file node_exporter reads, by file.
const SUBSYSTEMS: [(&str, &str); 11] = [
    ("zfs_abd", "abdstats"),
    ("zfs_arc", "arcstats"),
    ("zfs_dbuf", "dbufstats"),
    ("zfs_dmu_tx", "dmu_tx"),
    ("zfs_dnode", "dnodestats"),
    ("zfs_fm", "fm"),
    // Deprecated in OpenZFS, still read when present.
    ("zfs_vdev_cache", "vdev_cache_stats"),
    ("zfs_vdev_mirror", "vdev_mirror_stats"),
    ("zfs_xuio", "xuio_stats"),
    ("zfs_zfetch", "zfetchstats"),
    ("zfs_zil", "zil"),
];

/// The pool states `node_zfs_zpool_state` reports, in `zpool status` spelling.
const POOL_STATES: [&str; 7] = [
    "online",
    "degraded",
    "faulted",
    "offline",
    "removed",
    "unavail",
    "suspended",
];

/// kstat data types holding a signed and an unsigned 64-bit integer
/// (`KSTAT_DATA_INT64`, `KSTAT_DATA_UINT64`); other rows are skipped.
const KSTAT_INT64: &str = "3";
const KSTAT_UINT64: &str = "4";

impl Collector for Zfs {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let base = self.0.proc("spl/kstat/zfs");
        if let Err(e) = std::fs::metadata(&base) {
            return Err(CollectError::NoData(format!(
                "ZFS statistics are not available ({}: {e})",
                base.display()
            )));
        }
        for (subsystem, file) in SUBSYSTEMS {
            let path = base.join(file);
            // Files come with ZFS features; a missing one is not an error.
            let Some(text) = read_optional(&path)? else {
                continue;
            };
            let rows = kstat_rows(&text)
                .ok_or_else(|| CollectError::invalid(&path, format!("no {file:?} kstat header")))?;
            for row in rows {
                let (name, value) = row.map_err(|m| CollectError::invalid(&path, m))?;
                let metric = format!("node_{subsystem}_{}", name.replace('-', "_"));
                if valid_name(&metric) {
                    let help = format!("kstat.zfs.misc.{file}.{name}");
                    out.untyped(&metric, &help, &[], value);
                }
            }
        }
        self.pools(out, &base)
    }
}

impl Zfs {
    /// The per-pool files: every pool's `io`, then its datasets, then its state.
    fn pools(&self, out: &mut Out, base: &Path) -> Result<(), CollectError> {
        let mut pools = Vec::new();
        for (name, kind) in dir_entries(base).map_err(|e| CollectError::io(base, e))? {
            // A pool is a directory; symlinks are followed as a glob does.
            if kind.is_dir() || (kind.is_symlink() && base.join(&name).is_dir()) {
                pools.push(name);
            }
        }
        for pool in &pools {
            let path = base.join(pool).join("io");
            if let Some(text) = read_optional(&path)? {
                pool_io(out, pool, &text).map_err(|m| CollectError::invalid(&path, m))?;
            }
        }
        for pool in &pools {
            let dir = base.join(pool);
            let names = dir_entries(&dir).map_err(|e| CollectError::io(&dir, e))?;
            for (name, _) in names.iter().filter(|(n, _)| n.starts_with("objset-")) {
                let path = dir.join(name);
                if let Some(text) = read_optional(&path)? {
                    objset(out, pool, &text).map_err(|m| CollectError::invalid(&path, m))?;
                }
            }
        }
        for pool in &pools {
            let path = base.join(pool).join("state");
            if let Some(text) = read_optional(&path)? {
                let current = text.lines().next().unwrap_or("").to_lowercase();
                for state in POOL_STATES {
                    out.gauge(
                        "node_zfs_zpool_state",
                        "kstat.zfs.misc.state",
                        &[("zpool", pool), ("state", state)],
                        if current == state { 1.0 } else { 0.0 },
                    );
                }
            }
        }
        Ok(())
    }
}

/// Reads a kstat file, `None` when it is absent.
fn read_optional(path: &Path) -> Result<Option<String>, CollectError> {
    match read_proc(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if is_absent(&e) => Ok(None),
        Err(e) => Err(CollectError::io(path, e)),
    }
}

type Row<'a> = Result<(&'a str, f64), String>;

/// The integer rows after a kstat's `name type data` header, `None` without one.
fn kstat_rows(text: &str) -> Option<Vec<Row<'_>>> {
    let mut lines = text.lines();
    lines.find(|l| is_header(l))?;
    let rows = lines
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 3 {
                return None;
            }
            let value = match f[1] {
                KSTAT_UINT64 => f[2].parse::<u64>().map(|v| v as f64),
                KSTAT_INT64 => f[2].parse::<i64>().map(|v| v as f64),
                _ => return None,
            };
            Some(
                value
                    .map(|v| (f[0], v))
                    .map_err(|_| format!("{}: expected an integer, got {:?}", f[0], f[2])),
            )
        })
        .collect();
    Some(rows)
}

fn is_header(line: &str) -> bool {
    let f: Vec<&str> = line.split_whitespace().collect();
    f == ["name", "type", "data"]
}

/// A pool's `io` kstat: a header row of field names starting with `nread`, then
/// one row of values.
fn pool_io(out: &mut Out, pool: &str, text: &str) -> Result<(), String> {
    let mut fields: Option<Vec<&str>> = None;
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let Some(names) = &fields else {
            if cols.len() >= 12 && cols[0] == "nread" {
                fields = Some(cols);
            }
            continue;
        };
        if cols.is_empty() {
            continue;
        }
        if cols.len() < names.len() {
            return Err(format!("{} values for {} fields", cols.len(), names.len()));
        }
        for (name, v) in names.iter().zip(&cols) {
            let v: u64 = v
                .parse()
                .map_err(|_| format!("{name}: expected an integer, got {v:?}"))?;
            let metric = format!("node_zfs_zpool_{}", name.replace('-', "_"));
            if valid_name(&metric) {
                out.untyped(
                    &metric,
                    &format!("kstat.zfs.misc.io.{name}"),
                    &[("zpool", pool)],
                    v as f64,
                );
            }
        }
    }
    Ok(())
}

/// A dataset's `objset-*` kstat: its `dataset_name` row, then unsigned counters.
fn objset(out: &mut Out, pool: &str, text: &str) -> Result<(), String> {
    let mut lines = text.lines();
    if lines.find(|l| is_header(l)).is_none() {
        return Err("no objset kstat header".into());
    }
    let mut dataset = "";
    for line in lines {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 {
            continue;
        }
        if f[0] == "dataset_name" {
            // The name runs to the end of the line and may hold spaces.
            dataset = third_field_on(line);
            continue;
        }
        if f[1] == KSTAT_UINT64 {
            let v: u64 = f[2]
                .parse()
                .map_err(|_| format!("{}: expected an integer, got {:?}", f[0], f[2]))?;
            let metric = format!("node_zfs_zpool_dataset_{}", f[0].replace('-', "_"));
            if valid_name(&metric) {
                out.untyped(
                    &metric,
                    &format!("kstat.zfs.misc.objset.{}", f[0]),
                    &[("zpool", pool), ("dataset", dataset)],
                    v as f64,
                );
            }
        }
    }
    Ok(())
}

/// The line from its third whitespace-separated field on.
fn third_field_on(line: &str) -> &str {
    let mut rest = line;
    for _ in 0..2 {
        rest = rest.trim_start();
        rest = &rest[rest.find(char::is_whitespace).unwrap_or(rest.len())..];
    }
    rest.trim_start()
}

/// Whether a kstat name makes a valid metric name (node_exporter would fail the
/// whole scrape on one that does not; such a row is skipped).
fn valid_name(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        let text = collect_ok("zfs", &[]);
        let has = |l: &str| assert!(text.lines().any(|x| x == l), "missing {l:?} in\n{text}");
        has("# HELP node_zfs_arc_hits kstat.zfs.misc.arcstats.hits");
        has("# TYPE node_zfs_arc_hits untyped");
        has("node_zfs_arc_hits 8.772612e+06");
        has("# HELP node_zfs_fm_erpt_dropped kstat.zfs.misc.fm.erpt-dropped");
        has("node_zfs_fm_erpt_dropped 18");
        has("node_zfs_zpool_nread{zpool=\"tank\"} 1.88416e+06");
        has("# HELP node_zfs_zpool_nread kstat.zfs.misc.io.nread");
        has("node_zfs_zpool_dataset_nread{dataset=\"tank/a\",zpool=\"tank\"} 28");
        has("node_zfs_zpool_state{state=\"online\",zpool=\"tank\"} 1");
        has("node_zfs_zpool_state{state=\"suspended\",zpool=\"tank\"} 0");
        has("node_zfs_zpool_state{state=\"suspended\",zpool=\"gone\"} 1");
        // String rows are not metrics.
        assert!(!text.contains("node_zfs_arc_label"));
        assert!(!text.contains("dataset_name"));
    }

    #[test]
    fn signed_rows_and_spaced_datasets() {
        // Both newer than node_exporter 1.5, which read only unsigned rows and the
        // first word of a dataset name.
        let [procfs, _] = newer();
        let text = collect_ok("zfs", &[&procfs]);
        let has = |l: &str| assert!(text.lines().any(|x| x == l), "missing {l:?} in\n{text}");
        has("node_zfs_arc_c_min -1");
        has("node_zfs_zpool_dataset_nread{dataset=\"tank/a b\",zpool=\"tank\"} 28");
    }

    #[test]
    fn parsing() {
        assert_eq!(third_field_on("dataset_name  7    a  b "), "a  b ");
        assert!(kstat_rows("12 1 0x01\nfoo 4 1\n").is_none());
        let rows = kstat_rows("x\nname type data\nhits 4 x\n").unwrap();
        assert!(rows[0].is_err());
        let mut out = Out::default();
        assert!(pool_io(&mut out, "p", "nread a b c d e f g h i j k\n1 2\n").is_err());
        assert!(!valid_name("node_zfs_a.b"));
    }

    #[test]
    fn no_zfs_is_no_data() {
        let (r, _) = collect("zfs", &["--path.procfs=/nonexistent"]);
        assert!(matches!(r, Err(CollectError::NoData(_))));
    }
}
