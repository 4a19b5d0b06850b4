//! `xfs`: per-filesystem XFS statistics from `/sys/fs/xfs/<device>/stats/stats`
//! (kernel 4.4 and later), as node_exporter's counters labelled by `device`:
//! extent allocation, allocation and block-map B-trees, block mapping, directory
//! and inode operations, read/write calls and vnodes.
//!
//! Every row of the file is checked as procfs parses it (unsigned 32-bit values,
//! 64-bit for `xpc`, `defer_relog` and `gc xpc`); the value count is checked for the
//! rows reported. Deliberate difference: procfs also checks the value count of rows
//! node_exporter does not report (log, buffer, quota... counters), so a kernel that
//! changes one of those fails the collector there and not here.

use std::path::Path;
use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{dir_entries, is_absent, read_file};

pub(crate) struct Xfs(pub(crate) Arc<Config>);

/// One reported value: metric suffix (after `node_xfs_`) and help.
type Metric = (&'static str, &'static str);

/// The rows node_exporter reports: row label, allowed value counts, and the metric
/// of each leading value, in node_exporter's order.
const ROWS: &[(&str, &[usize], &[Metric])] = &[
    (
        "extent_alloc",
        &[4],
        &[
            (
                "extent_allocation_extents_allocated_total",
                "Number of extents allocated for a filesystem.",
            ),
            (
                "extent_allocation_blocks_allocated_total",
                "Number of blocks allocated for a filesystem.",
            ),
            (
                "extent_allocation_extents_freed_total",
                "Number of extents freed for a filesystem.",
            ),
            (
                "extent_allocation_blocks_freed_total",
                "Number of blocks freed for a filesystem.",
            ),
        ],
    ),
    (
        "abt",
        &[4],
        &[
            (
                "allocation_btree_lookups_total",
                "Number of allocation B-tree lookups for a filesystem.",
            ),
            (
                "allocation_btree_compares_total",
                "Number of allocation B-tree compares for a filesystem.",
            ),
            (
                "allocation_btree_records_inserted_total",
                "Number of allocation B-tree records inserted for a filesystem.",
            ),
            (
                "allocation_btree_records_deleted_total",
                "Number of allocation B-tree records deleted for a filesystem.",
            ),
        ],
    ),
    (
        "blk_map",
        &[7],
        &[
            (
                "block_mapping_reads_total",
                "Number of block map for read operations for a filesystem.",
            ),
            (
                "block_mapping_writes_total",
                "Number of block map for write operations for a filesystem.",
            ),
            (
                "block_mapping_unmaps_total",
                "Number of block unmaps (deletes) for a filesystem.",
            ),
            (
                "block_mapping_extent_list_insertions_total",
                "Number of extent list insertions for a filesystem.",
            ),
            (
                "block_mapping_extent_list_deletions_total",
                "Number of extent list deletions for a filesystem.",
            ),
            (
                "block_mapping_extent_list_lookups_total",
                "Number of extent list lookups for a filesystem.",
            ),
            (
                "block_mapping_extent_list_compares_total",
                "Number of extent list compares for a filesystem.",
            ),
        ],
    ),
    (
        "bmbt",
        &[4],
        &[
            (
                "block_map_btree_lookups_total",
                "Number of block map B-tree lookups for a filesystem.",
            ),
            (
                "block_map_btree_compares_total",
                "Number of block map B-tree compares for a filesystem.",
            ),
            (
                "block_map_btree_records_inserted_total",
                "Number of block map B-tree records inserted for a filesystem.",
            ),
            (
                "block_map_btree_records_deleted_total",
                "Number of block map B-tree records deleted for a filesystem.",
            ),
        ],
    ),
    (
        "dir",
        &[4],
        &[
            (
                "directory_operation_lookup_total",
                "Number of file name directory lookups which miss the operating systems directory name lookup cache.",
            ),
            (
                "directory_operation_create_total",
                "Number of times a new directory entry was created for a filesystem.",
            ),
            (
                "directory_operation_remove_total",
                "Number of times an existing directory entry was created for a filesystem.",
            ),
            (
                "directory_operation_getdents_total",
                "Number of times the directory getdents operation was performed for a filesystem.",
            ),
        ],
    ),
    (
        "ig",
        &[7],
        &[
            (
                "inode_operation_attempts_total",
                "Number of times the OS looked for an XFS inode in the inode cache.",
            ),
            (
                "inode_operation_found_total",
                "Number of times the OS looked for and found an XFS inode in the inode cache.",
            ),
            (
                "inode_operation_recycled_total",
                "Number of times the OS found an XFS inode in the cache, but could not use it as it was being recycled.",
            ),
            (
                "inode_operation_missed_total",
                "Number of times the OS looked for an XFS inode in the cache, but did not find it.",
            ),
            (
                "inode_operation_duplicates_total",
                "Number of times the OS tried to add a missing XFS inode to the inode cache, but found it had already been added by another process.",
            ),
            (
                "inode_operation_reclaims_total",
                "Number of times the OS reclaimed an XFS inode from the inode cache to free memory for another purpose.",
            ),
            (
                "inode_operation_attribute_changes_total",
                "Number of times the OS explicitly changed the attributes of an XFS inode.",
            ),
        ],
    ),
    (
        // The kernel writes the write count first.
        "rw",
        &[2],
        &[
            (
                "write_calls_total",
                "Number of write(2) system calls made to files in a filesystem.",
            ),
            (
                "read_calls_total",
                "Number of read(2) system calls made to files in a filesystem.",
            ),
        ],
    ),
    (
        // Older kernels have no eighth (`free`) value, which is not reported.
        "vnodes",
        &[7, 8],
        &[
            (
                "vnode_active_total",
                "Number of vnodes not on free lists for a filesystem.",
            ),
            (
                "vnode_allocate_total",
                "Number of times vn_alloc called for a filesystem.",
            ),
            (
                "vnode_get_total",
                "Number of times vn_get called for a filesystem.",
            ),
            (
                "vnode_hold_total",
                "Number of times vn_hold called for a filesystem.",
            ),
            (
                "vnode_release_total",
                "Number of times vn_rele called for a filesystem.",
            ),
            (
                "vnode_reclaim_total",
                "Number of times vn_reclaim called for a filesystem.",
            ),
            (
                "vnode_remove_total",
                "Number of times vn_remove called for a filesystem.",
            ),
        ],
    ),
];

impl Collector for Xfs {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let root = self.0.sys("fs/xfs");
        let entries = match dir_entries(&root) {
            Ok(e) => e,
            // No XFS module: no filesystems, as node_exporter's glob finds none.
            Err(e) if is_absent(&e) => return Ok(()),
            Err(e) => return Err(CollectError::io(&root, e)),
        };
        for (device, _) in entries {
            let path = root.join(&device).join("stats/stats");
            // `/sys/fs/xfs/stats` (the global file's directory) has no such file.
            if path.symlink_metadata().is_err() {
                continue;
            }
            let text = read_file(&path)?;
            let rows = parse(&text).map_err(|m| CollectError::invalid(&path, m))?;
            emit(out, &device, &rows, &path)?;
        }
        Ok(())
    }
}

/// The rows of a stats file, label to values (wider than 32 bits only for the
/// extended-precision rows).
fn parse(text: &str) -> Result<Vec<(&str, Vec<u64>)>, String> {
    let mut rows = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 2 {
            continue;
        }
        // `gc xpc` is the one two-word label.
        let (label, values) = if f[0] == "gc" && f.len() >= 3 && f[1] == "xpc" {
            ("gc xpc", &f[2..])
        } else {
            (f[0], &f[1..])
        };
        let wide = matches!(label, "xpc" | "defer_relog" | "gc xpc");
        let mut parsed = Vec::with_capacity(values.len());
        for v in values {
            let n = if wide {
                v.parse::<u64>().ok()
            } else {
                v.parse::<u32>().ok().map(u64::from)
            };
            parsed.push(n.ok_or_else(|| format!("{label}: bad value {v:?}"))?);
        }
        rows.push((label, parsed));
    }
    Ok(rows)
}

/// Writes one filesystem's counters; rows it lacks are reported as 0, as procfs
/// leaves them zero.
fn emit(
    out: &mut Out,
    device: &str,
    rows: &[(&str, Vec<u64>)],
    path: &Path,
) -> Result<(), CollectError> {
    for (label, counts, metrics) in ROWS {
        // The last row of a label wins, as procfs overwrites its fields.
        let values = rows.iter().rev().find(|(l, _)| l == label).map(|(_, v)| v);
        if let Some(v) = values
            && !counts.contains(&v.len())
        {
            return Err(CollectError::invalid(
                path,
                format!("{label}: {} values, expected {counts:?}", v.len()),
            ));
        }
        for (i, (name, help)) in metrics.iter().enumerate() {
            let v = values.and_then(|v| v.get(i)).copied().unwrap_or(0);
            out.counter(
                &format!("node_xfs_{name}"),
                help,
                &[("device", device)],
                v as f64,
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        let text = collect_ok("xfs", &[]);
        let has = |l: &str| assert!(text.lines().any(|x| x == l), "missing {l:?} in\n{text}");
        has("node_xfs_extent_allocation_extents_allocated_total{device=\"sda1\"} 1");
        has("node_xfs_block_mapping_extent_list_compares_total{device=\"sda1\"} 0");
        has("node_xfs_write_calls_total{device=\"sda1\"} 28");
        has("node_xfs_read_calls_total{device=\"sda1\"} 0");
        has("node_xfs_vnode_remove_total{device=\"sda1\"} 92");
        has("# TYPE node_xfs_vnode_remove_total counter");
        has(
            "# HELP node_xfs_inode_operation_recycled_total Number of times the OS found an XFS inode in the cache, but could not use it as it was being recycled.",
        );
        assert_eq!(samples(&text).len(), 39);
    }

    #[test]
    fn checks_rows() {
        assert!(parse("abt 1 x\n").is_err());
        assert!(parse("abt 4294967296\n").is_err());
        assert!(parse("xpc 4294967296 0 0\n").is_ok());
        let rows = parse("abt 1 2 3\n").unwrap();
        let mut out = Out::default();
        assert!(emit(&mut out, "d", &rows, Path::new("x")).is_err());
    }
}
