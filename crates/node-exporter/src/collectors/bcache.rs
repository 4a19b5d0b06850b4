//! `bcache`: bcache cache sets from `/sys/fs/bcache/<uuid>`: the set's own
//! attributes and `internal/` ones, each backing device's (`bdev<N>`) dirty data,
//! `writeback_rate_debug` and `stats_total/` counters, and each cache device's
//! (`cache<N>`) I/O errors and bytes written. `--collector.bcache.priorityStats`
//! adds the cache devices' `priority_stats` (expensive for the kernel to produce).
//!
//! Sizes are read as the kernel prints them with `bch_hprint` (`1.5M`, the
//! fraction in 1024ths scaled to two decimal digits) and converted back as procfs
//! does, including its approximations. As node_exporter, the btree read duration
//! (a microsecond file) is multiplied by 1e-9, and a backing device's readahead
//! counter is reported only when non-zero. A missing attribute reads as 0.

use std::io;
use std::path::Path;
use std::sync::Arc;

use ember_exposition::MetricType;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{dir_entries, read_limited};

pub(crate) struct Bcache(pub(crate) Arc<Config>);

const GAUGE: MetricType = MetricType::Gauge;
const COUNTER: MetricType = MetricType::Counter;

/// A set's metrics from one of its files: (file under the set, metric suffix, help,
/// type, scale).
const SET_METRICS: [(&str, &str, &str, MetricType, f64); 10] = [
    (
        "average_key_size",
        "average_key_size_sectors",
        "Average data per key in the btree (sectors).",
        GAUGE,
        1.0,
    ),
    (
        "btree_cache_size",
        "btree_cache_size_bytes",
        "Amount of memory currently used by the btree cache.",
        GAUGE,
        1.0,
    ),
    (
        "cache_available_percent",
        "cache_available_percent",
        "Percentage of cache device without dirty data, usable for writeback (may contain clean cached data).",
        GAUGE,
        1.0,
    ),
    ("congested", "congested", "Congestion.", GAUGE, 1.0),
    (
        "root_usage_percent",
        "root_usage_percent",
        "Percentage of the root btree node in use (tree depth increases if too high).",
        GAUGE,
        1.0,
    ),
    (
        "tree_depth",
        "tree_depth",
        "Depth of the btree.",
        GAUGE,
        1.0,
    ),
    (
        "internal/active_journal_entries",
        "active_journal_entries",
        "Number of journal entries that are newer than the index.",
        GAUGE,
        1.0,
    ),
    (
        "internal/btree_nodes",
        "btree_nodes",
        "Total nodes in the btree.",
        GAUGE,
        1.0,
    ),
    (
        // node_exporter's scale, although the file holds microseconds.
        "internal/btree_read_average_duration_us",
        "btree_read_average_duration_seconds",
        "Average btree read duration.",
        GAUGE,
        1e-9,
    ),
    (
        "internal/cache_read_races",
        "cache_read_races_total",
        "Counts instances where while data was being read from the cache, the bucket was reused and invalidated - i.e. where the pointer was stale after the read completed.",
        COUNTER,
        1.0,
    ),
];

/// A backing device's `stats_total/` counters: (file, metric suffix, help).
const PERIOD_METRICS: [(&str, &str, &str); 7] = [
    (
        "bypassed",
        "bypassed_bytes_total",
        "Amount of IO (both reads and writes) that has bypassed the cache.",
    ),
    (
        "cache_hits",
        "cache_hits_total",
        "Hits counted per individual IO as bcache sees them.",
    ),
    (
        "cache_misses",
        "cache_misses_total",
        "Misses counted per individual IO as bcache sees them.",
    ),
    (
        "cache_bypass_hits",
        "cache_bypass_hits_total",
        "Hits for IO intended to skip the cache.",
    ),
    (
        "cache_bypass_misses",
        "cache_bypass_misses_total",
        "Misses for IO intended to skip the cache.",
    ),
    (
        "cache_miss_collisions",
        "cache_miss_collisions_total",
        "Instances where data insertion from cache miss raced with write (data already present).",
    ),
    (
        "cache_readaheads",
        "cache_readaheads_total",
        "Count of times readahead occurred.",
    ),
];

/// A cache device's counters: (file, metric suffix, help, type).
const CACHE_METRICS: [(&str, &str, &str, MetricType); 3] = [
    (
        "io_errors",
        "io_errors",
        "Number of errors that have occurred, decayed by io_error_halflife.",
        GAUGE,
    ),
    (
        "metadata_written",
        "metadata_written_bytes_total",
        "Sum of all non data writes (btree writes and all other metadata).",
        COUNTER,
    ),
    (
        "written",
        "written_bytes_total",
        "Sum of all data that has been written to the cache.",
        COUNTER,
    ),
];

impl Collector for Bcache {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let root = self.0.sys("fs/bcache");
        let entries = match dir_entries(&root) {
            Ok(e) => e,
            // No bcache module: no cache sets.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(CollectError::io(&root, e)),
        };
        // Cache sets are named by UUID (the glob `*-*`); `register` and friends
        // are files without a dash.
        for (uuid, _) in entries.iter().filter(|(n, _)| n.contains('-')) {
            let set = root.join(uuid);
            if !set.is_dir() {
                continue;
            }
            self.cache_set(out, &set, uuid)?;
        }
        Ok(())
    }
}

impl Bcache {
    fn cache_set(&self, out: &mut Out, set: &Path, uuid: &str) -> Result<(), CollectError> {
        // Read everything first: a cache set that fails to read contributes nothing,
        // as procfs returns no stats for it.
        let mut set_values = Vec::with_capacity(SET_METRICS.len());
        for (file, ..) in SET_METRICS {
            set_values.push(value(&set.join(file))?);
        }
        let mut bdevs = Vec::new();
        for name in numbered(set, "bdev")? {
            let dir = set.join(&name);
            let dirty = value(&dir.join("dirty_data"))?;
            let wb = writeback_rate_debug(&dir.join("writeback_rate_debug"))?;
            let mut totals = [0u64; PERIOD_METRICS.len()];
            for (slot, (file, ..)) in totals.iter_mut().zip(PERIOD_METRICS) {
                *slot = value(&dir.join("stats_total").join(file))?;
            }
            bdevs.push((name, dirty, wb, totals));
        }
        let mut caches = Vec::new();
        for name in numbered(set, "cache")? {
            let dir = set.join(&name);
            let mut values = [0u64; CACHE_METRICS.len()];
            for (slot, (file, ..)) in values.iter_mut().zip(CACHE_METRICS) {
                *slot = value(&dir.join(file))?;
            }
            let priority = if self.0.bcache_priority_stats {
                Some(priority_stats(&dir.join("priority_stats"))?)
            } else {
                None
            };
            caches.push((name, values, priority));
        }

        let set_label = [("uuid", uuid)];
        for ((_, suffix, help, kind, scale), v) in SET_METRICS.iter().zip(set_values) {
            let name = format!("node_bcache_{suffix}");
            out.add(&name, help, *kind, &set_label, v as f64 * scale);
        }
        for (bdev, dirty, wb, totals) in &bdevs {
            let l = [("uuid", uuid), ("backing_device", bdev.as_str())];
            for (suffix, help, v) in [
                (
                    "dirty_data_bytes",
                    "Amount of dirty data for this backing device in the cache.",
                    *dirty as f64,
                ),
                (
                    "dirty_target_bytes",
                    "Current dirty data target threshold for this backing device in bytes.",
                    wb.target as f64,
                ),
                (
                    "writeback_rate",
                    "Current writeback rate for this backing device in bytes.",
                    wb.rate as f64,
                ),
                (
                    "writeback_rate_proportional_term",
                    "Current result of proportional controller, part of writeback rate",
                    wb.proportional as f64,
                ),
                (
                    "writeback_rate_integral_term",
                    "Current result of integral controller, part of writeback rate",
                    wb.integral as f64,
                ),
                (
                    "writeback_change",
                    "Last writeback rate change step for this backing device.",
                    wb.change as f64,
                ),
            ] {
                out.gauge(&format!("node_bcache_{suffix}"), help, &l, v);
            }
            for ((file, suffix, help), v) in PERIOD_METRICS.iter().zip(totals) {
                if *file == "cache_readaheads" && *v == 0 {
                    continue;
                }
                out.counter(&format!("node_bcache_{suffix}"), help, &l, *v as f64);
            }
        }
        for (cache, values, priority) in &caches {
            let l = [("uuid", uuid), ("cache_device", cache.as_str())];
            for ((_, suffix, help, kind), v) in CACHE_METRICS.iter().zip(values) {
                out.add(&format!("node_bcache_{suffix}"), help, *kind, &l, *v as f64);
            }
            if let Some((unused, metadata)) = priority {
                out.gauge(
                    "node_bcache_priority_stats_unused_percent",
                    "The percentage of the cache that doesn't contain any data.",
                    &l,
                    *unused as f64,
                );
                out.gauge(
                    "node_bcache_priority_stats_metadata_percent",
                    "Bcache's metadata overhead.",
                    &l,
                    *metadata as f64,
                );
            }
        }
        Ok(())
    }
}

/// The entries of `dir` named `prefix` and a digit (`bdev0`, `cache1`), sorted.
fn numbered(dir: &Path, prefix: &str) -> Result<Vec<String>, CollectError> {
    let entries = dir_entries(dir).map_err(|e| CollectError::io(dir, e))?;
    Ok(entries
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| {
            n.strip_prefix(prefix)
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        })
        .collect())
}

/// Reads a small sysfs file; `None` when it does not exist.
fn read_optional(path: &Path) -> Result<Option<String>, CollectError> {
    match read_limited(path, 64 * 1024) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CollectError::io(path, e)),
    }
}

/// A numeric attribute, 0 when the file is missing (procfs's `readValue`).
fn value(path: &Path) -> Result<u64, CollectError> {
    let Some(text) = read_optional(path)? else {
        return Ok(0);
    };
    // procfs drops the last byte (the newline) and nothing else.
    let text = text.strip_suffix('\n').unwrap_or(&text);
    dehumanize(text).map_err(|m| CollectError::invalid(path, m))
}

/// Reverses `bch_hprint`: digits, an optional `.` fraction (in 1024ths printed as
/// hundredths, so `.5` means 5/10.24), and an optional unit suffix (`k`, `M`, ...).
fn dehumanize(s: &str) -> Result<u64, String> {
    let Some(last) = s.bytes().last() else {
        return Err("zero-length value".into());
    };
    let bad = || format!("not a bcache size: {s:?}");
    // A last byte past '9' is a unit; an unknown one multiplies by 0, as in procfs.
    let (mantissa, mul) = if last > b'9' {
        let mul = match last {
            b'k' => 1u64 << 10,
            b'M' => 1 << 20,
            b'G' => 1 << 30,
            b'T' => 1 << 40,
            b'P' => 1 << 50,
            b'E' => 1 << 60,
            _ => 0,
        } as f64;
        // Z and Y overflow 64 bits; as floats they are exact powers of two.
        let mul = match last {
            b'Z' => 2f64.powi(70),
            b'Y' => 2f64.powi(80),
            _ => mul,
        };
        let body = &s[..s.len() - 1];
        let mut parts = body.split('.');
        let int: f64 = parts.next().unwrap_or("").parse().map_err(|_| bad())?;
        let mantissa = match parts.next() {
            None => int,
            Some(frac) => int + frac.parse::<f64>().map_err(|_| bad())? / 10.24,
        };
        (mantissa, mul)
    } else {
        (s.parse::<f64>().map_err(|_| bad())?, 1.0)
    };
    // Go's float-to-uint conversion of a finite non-negative value truncates.
    Ok((mantissa * mul) as u64)
}

/// A signed `bch_hprint` value (`-1.2M`).
fn dehumanize_signed(s: &str) -> Result<i64, String> {
    match s.strip_prefix('-') {
        Some(rest) => dehumanize(rest).map(|v| (v as i64).wrapping_neg()),
        None => dehumanize(s).map(|v| v as i64),
    }
}

/// The values node_exporter reports from `writeback_rate_debug`.
#[derive(Default)]
struct WritebackRate {
    rate: u64,
    target: u64,
    proportional: i64,
    integral: i64,
    change: i64,
}

/// Parses `writeback_rate_debug` (`rate: 1.1M/sec`, `target: 20.4G`, ...); the
/// file must exist.
fn writeback_rate_debug(path: &Path) -> Result<WritebackRate, CollectError> {
    let text = read_limited(path, 64 * 1024).map_err(|e| CollectError::io(path, e))?;
    let mut wb = WritebackRate::default();
    let bad = |m: String| CollectError::invalid(path, m);
    for line in text.lines() {
        let Some(last) = line.split_whitespace().last() else {
            continue;
        };
        if line.starts_with("rate:") {
            wb.rate = dehumanize(last.trim_end_matches("/sec")).map_err(bad)?;
        } else if line.starts_with("dirty:") {
            dehumanize(last).map_err(bad)?;
        } else if line.starts_with("target:") {
            wb.target = dehumanize(last).map_err(bad)?;
        } else if line.starts_with("proportional:") {
            wb.proportional = dehumanize_signed(last).map_err(bad)?;
        } else if line.starts_with("integral:") {
            wb.integral = dehumanize_signed(last).map_err(bad)?;
        } else if line.starts_with("change:") {
            wb.change = dehumanize_signed(last.trim_end_matches("/sec")).map_err(bad)?;
        } else if line.starts_with("next io:") {
            last.trim_end_matches("ms")
                .parse::<i64>()
                .map_err(|_| bad(format!("bad next io {last:?}")))?;
        }
    }
    Ok(wb)
}

/// The unused and metadata percentages of `priority_stats`; the file must exist.
fn priority_stats(path: &Path) -> Result<(u64, u64), CollectError> {
    let text = read_limited(path, 64 * 1024).map_err(|e| CollectError::io(path, e))?;
    let (mut unused, mut metadata) = (0, 0);
    for line in text.lines() {
        let slot = if line.starts_with("Unused:") {
            &mut unused
        } else if line.starts_with("Metadata:") {
            &mut metadata
        } else {
            continue;
        };
        let last = line.split_whitespace().last().unwrap_or("");
        *slot = last
            .trim_end_matches('%')
            .parse()
            .map_err(|_| CollectError::invalid(path, format!("bad percentage {last:?}")))?;
    }
    Ok((unused, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn bch_hprint_values() {
        assert_eq!(dehumanize("0"), Ok(0));
        assert_eq!(dehumanize("512"), Ok(512));
        assert_eq!(dehumanize("1.5k"), Ok(1524));
        assert_eq!(dehumanize("20.4G"), Ok(21894266880));
        assert_eq!(dehumanize("1.1M"), Ok(1150976));
        assert_eq!(dehumanize_signed("-1.1M"), Ok(-1150976));
        assert_eq!(dehumanize("3x"), Ok(0));
        assert!(dehumanize("").is_err());
        assert!(dehumanize("k").is_err());
        assert!(dehumanize("1.xk").is_err());
    }

    #[test]
    fn fixture() {
        let text = collect_ok("bcache", &["--collector.bcache.priorityStats"]);
        let has = |l: &str| assert!(text.lines().any(|x| x == l), "missing {l:?} in\n{text}");
        let u = "uuid=\"4f4b2f5e-1d8c-4c6a-9b7e-3a2d1c0b9a87\"";
        has(&format!("node_bcache_cache_available_percent{{{u}}} 97"));
        has(&format!(
            "node_bcache_btree_read_average_duration_seconds{{{u}}} 1.5e-06"
        ));
        has(&format!(
            "node_bcache_writeback_rate{{backing_device=\"bdev0\",{u}}} 1.150976e+06"
        ));
        has(&format!(
            "node_bcache_writeback_rate_proportional_term{{backing_device=\"bdev0\",{u}}} -437748"
        ));
        has(&format!(
            "node_bcache_cache_hits_total{{backing_device=\"bdev0\",{u}}} 1524"
        ));
        has(&format!(
            "node_bcache_written_bytes_total{{cache_device=\"cache0\",{u}}} 1.048576e+06"
        ));
        has(&format!(
            "node_bcache_priority_stats_unused_percent{{cache_device=\"cache0\",{u}}} 98"
        ));
        has(&format!(
            "node_bcache_cache_readaheads_total{{backing_device=\"bdev0\",{u}}} 13"
        ));

        let text = collect_ok("bcache", &[]);
        assert!(!text.contains("priority_stats"));

        // A zero readahead counter is left out (node_exporter 1.5 reported it).
        let [_, sysfs] = newer();
        let text = collect_ok("bcache", &[&sysfs]);
        assert!(text.contains("node_bcache_cache_hits_total"));
        assert!(!text.contains("node_bcache_cache_readaheads_total"));
    }
}
