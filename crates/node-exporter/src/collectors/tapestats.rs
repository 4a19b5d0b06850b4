//! `tapestats`: SCSI tape drive statistics from `/sys/class/scsi_tape/st<N>/stats`
//! (the `st<N>` devices only, not their `nst`/mode variants), skipping
//! `--collector.tapestats.ignored-devices`. Times are kernel nanoseconds reported
//! in seconds.
//!
//! A counter file missing from `stats/` reads as 0, as procfs leaves it; a
//! malformed one is an error for the collector (node_exporter would panic on it).

use std::io;
use std::path::Path;
use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{dir_entries, parse_uint_base0, read_sys};

pub(crate) struct TapeStats(pub(crate) Arc<Config>);

/// (file in `stats/`, metric suffix, help, is a counter, scale).
const STATS: [(&str, &str, &str, bool, f64); 10] = [
    (
        "in_flight",
        "io_now",
        "The number of I/Os currently outstanding to this device.",
        false,
        1.0,
    ),
    (
        "io_ns",
        "io_time_seconds_total",
        "The amount of time spent waiting for all I/O to complete (including read and write). This includes tape movement commands such as seeking between file or set marks and implicit tape movement such as when rewind on close tape devices are used.",
        true,
        1e-9,
    ),
    (
        "other_cnt",
        "io_others_total",
        "The number of I/Os issued to the tape drive other than read or write commands. The time taken to complete these commands uses the following calculation io_time_seconds_total-read_time_seconds_total-write_time_seconds_total",
        true,
        1.0,
    ),
    (
        "read_byte_cnt",
        "read_bytes_total",
        "The number of bytes read from the tape drive.",
        true,
        1.0,
    ),
    (
        "read_cnt",
        "reads_completed_total",
        "The number of read requests issued to the tape drive.",
        true,
        1.0,
    ),
    (
        "read_ns",
        "read_time_seconds_total",
        "The amount of time spent waiting for read requests to complete.",
        true,
        1e-9,
    ),
    (
        "resid_cnt",
        "residual_total",
        "The number of times during a read or write we found the residual amount to be non-zero. This should mean that a program is issuing a read larger thean the block size on tape. For write not all data made it to tape.",
        true,
        1.0,
    ),
    (
        "write_byte_cnt",
        "written_bytes_total",
        "The number of bytes written to the tape drive.",
        true,
        1.0,
    ),
    (
        "write_cnt",
        "writes_completed_total",
        "The number of write requests issued to the tape drive.",
        true,
        1.0,
    ),
    (
        "write_ns",
        "write_time_seconds_total",
        "The amount of time spent waiting for write requests to complete.",
        true,
        1e-9,
    ),
];

impl Collector for TapeStats {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let root = self.0.sys("class/scsi_tape");
        let tapes = match dir_entries(&root) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(CollectError::NoData(format!(
                    "scsi_tape stats not found: {e}"
                )));
            }
            Err(e) => return Err(CollectError::io(&root, e)),
        };
        for (name, _) in tapes {
            // `st0` only: `st0a`, `nst0`... are the same drive's other modes.
            let is_tape = name
                .strip_prefix("st")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if !is_tape || self.0.tapestats_ignored.is_match(&name) {
                continue;
            }
            let values = stats(&root.join(&name).join("stats"))?;
            for ((_, suffix, help, counter, scale), v) in STATS.iter().zip(values) {
                let name_label = [("device", name.as_str())];
                let metric = format!("node_tape_{suffix}");
                let v = v as f64 * scale;
                if *counter {
                    out.counter(&metric, help, &name_label, v);
                } else {
                    out.gauge(&metric, help, &name_label, v);
                }
            }
        }
        Ok(())
    }
}

/// The counters of a `stats/` directory, in [`STATS`] order.
fn stats(dir: &Path) -> Result<[u64; STATS.len()], CollectError> {
    let files = dir_entries(dir).map_err(|e| CollectError::io(dir, e))?;
    let mut values = [0u64; STATS.len()];
    for (slot, (file, ..)) in values.iter_mut().zip(STATS) {
        if !files.iter().any(|(n, _)| n == file) {
            continue;
        }
        let p = dir.join(file);
        let text = read_sys(&p).map_err(|e| CollectError::io(&p, e))?;
        *slot = parse_uint_base0(&text).ok_or_else(|| {
            CollectError::invalid(&p, format!("not an unsigned integer: {text:?}"))
        })?;
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        let text = collect_ok("tapestats", &[]);
        let has = |l: &str| assert!(text.lines().any(|x| x == l), "missing {l:?} in\n{text}");
        has("node_tape_io_now{device=\"st0\"} 1");
        has("# TYPE node_tape_io_now gauge");
        has("node_tape_io_time_seconds_total{device=\"st0\"} 9247.01108772");
        has("node_tape_read_bytes_total{device=\"st0\"} 9.79383912e+08");
        has("node_tape_write_time_seconds_total{device=\"st0\"} 0");
        assert!(!text.contains("st0a") && !text.contains("nst0"));
        let text = collect_ok("tapestats", &["--collector.tapestats.ignored-devices=st0"]);
        assert!(samples(&text).is_empty());
    }
}
