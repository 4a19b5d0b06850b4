//! The exporter's own process metrics (`process_*`), as client_golang's process
//! collector exposes them, read from the real `/proc/self` (not `--path.procfs`: they
//! describe this process, not the monitored host).

use std::path::Path;

use ember_exposition::MetricFamily;

use crate::metrics::Out;
use crate::read::read_proc;

/// client_golang divides /proc tick counts by a fixed USER_HZ of 100.
const USER_HZ: f64 = 100.0;

/// The `process_*` families; whatever cannot be read is left out.
pub(crate) fn families() -> Vec<MetricFamily> {
    let mut out = Out::default();
    let proc = Path::new("/proc");
    if let Ok(stat) = read_proc(&proc.join("self/stat"))
        && let Some(f) = stat_fields(&stat)
    {
        let num = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
        // Fields counted from `state` (the third field of the line) as 0.
        let (utime, stime, start, vsize, rss) = (num(11), num(12), num(19), num(20), num(21));
        out.counter(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            &[],
            (utime + stime) / USER_HZ,
        );
        out.gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            &[],
            vsize,
        );
        out.gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            &[],
            rss * crate::collectors::page_size() as f64,
        );
        if let Some(btime) = boot_time(proc) {
            out.gauge(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                &[],
                start / USER_HZ + btime,
            );
        }
    }
    if let Ok(rd) = std::fs::read_dir(proc.join("self/fd")) {
        out.gauge(
            "process_open_fds",
            "Number of open file descriptors.",
            &[],
            rd.count() as f64,
        );
    }
    if let Ok(limits) = read_proc(&proc.join("self/limits")) {
        if let Some(v) = limit(&limits, "Max open files") {
            out.gauge(
                "process_max_fds",
                "Maximum number of open file descriptors.",
                &[],
                v,
            );
        }
        if let Some(v) = limit(&limits, "Max address space") {
            out.gauge(
                "process_virtual_memory_max_bytes",
                "Maximum amount of virtual memory available in bytes.",
                &[],
                v,
            );
        }
    }
    out.into_families()
}

/// The fields of /proc/self/stat after the command name, starting with the state.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let close = stat.rfind(')')?;
    Some(stat[close + 1..].split_whitespace().collect())
}

/// The boot time from /proc/stat, read once: it does not change while the system
/// runs, and /proc/stat (a line per CPU, a count per interrupt) is among the
/// costlier files to generate, too costly to read on every scrape for one number.
fn boot_time(proc: &Path) -> Option<f64> {
    static BOOT_TIME: std::sync::OnceLock<Option<f64>> = std::sync::OnceLock::new();
    *BOOT_TIME.get_or_init(|| {
        let stat = read_proc(&proc.join("stat")).ok()?;
        stat.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse().ok())
    })
}

/// The soft limit of a /proc/self/limits row; "unlimited" is 2^64-1.
fn limit(limits: &str, row: &str) -> Option<f64> {
    let rest = limits.lines().find_map(|l| l.strip_prefix(row))?;
    let soft = rest.split_whitespace().next()?;
    if soft == "unlimited" {
        return Some(u64::MAX as f64);
    }
    soft.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process() {
        let fams = families();
        let names: Vec<&str> = fams.iter().map(|f| f.name.as_str()).collect();
        for n in [
            "process_cpu_seconds_total",
            "process_max_fds",
            "process_open_fds",
            "process_resident_memory_bytes",
            "process_start_time_seconds",
            "process_virtual_memory_bytes",
            "process_virtual_memory_max_bytes",
        ] {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }
    }

    #[test]
    fn parses() {
        assert_eq!(
            stat_fields("1 (a b) c) S 0 1").unwrap(),
            vec!["S", "0", "1"]
        );
        let l = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\nMax address space         unlimited            unlimited            bytes\n";
        assert_eq!(limit(l, "Max open files"), Some(1024.0));
        assert_eq!(limit(l, "Max address space"), Some(u64::MAX as f64));
        assert_eq!(limit(l, "Max nothing"), None);
    }
}
