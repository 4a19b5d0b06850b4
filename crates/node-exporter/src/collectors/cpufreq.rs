//! `cpufreq`: per-CPU frequencies from `/sys/devices/system/cpu/cpu*/cpufreq` (kHz in
//! sysfs, hertz here) and the scaling governor.
//!
//! As procfs reads them for node_exporter: offline CPUs (the `offline` list) are
//! skipped; a CPU without a `cpufreq` directory has nothing; the frequency files
//! are optional (absent or unreadable ones are left out, `cpuinfo_cur_freq` is
//! root-only), but the governor, driver, related CPUs and setspeed files are
//! required, and so is `offline`.

use std::path::Path;
use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{glob_numbered, read_file, read_sys, read_u64};

pub(crate) struct CpuFreq(pub(crate) Arc<Config>);

/// (file, metric, help), in node_exporter's order.
const FILES: [(&str, &str, &str); 7] = [
    (
        "cpuinfo_cur_freq",
        "node_cpu_frequency_hertz",
        "Current CPU thread frequency in hertz.",
    ),
    (
        "cpuinfo_avg_freq",
        "node_cpu_frequency_avg_hertz",
        "Average CPU thread frequency in hertz.",
    ),
    (
        "cpuinfo_min_freq",
        "node_cpu_frequency_min_hertz",
        "Minimum CPU thread frequency in hertz.",
    ),
    (
        "cpuinfo_max_freq",
        "node_cpu_frequency_max_hertz",
        "Maximum CPU thread frequency in hertz.",
    ),
    (
        "scaling_cur_freq",
        "node_cpu_scaling_frequency_hertz",
        "Current scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_min_freq",
        "node_cpu_scaling_frequency_min_hertz",
        "Minimum scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_max_freq",
        "node_cpu_scaling_frequency_max_hertz",
        "Maximum scaled CPU thread frequency in hertz.",
    ),
];

/// The text attributes procfs requires of every cpufreq directory.
const REQUIRED: [&str; 5] = [
    "scaling_available_governors",
    "scaling_driver",
    "scaling_governor",
    "related_cpus",
    "scaling_setspeed",
];

impl Collector for CpuFreq {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let root = self.0.sys("devices/system/cpu");
        let offline = read_file(&root.join("offline"))?;
        let offline = parse_cpu_range(offline.trim())
            .ok_or_else(|| CollectError::invalid(&root.join("offline"), "invalid CPU list"))?;
        for cpu in glob_numbered(&root, "cpu")? {
            let name = cpu
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("cpu"))
                .unwrap_or("")
                .to_owned();
            if name.parse::<u32>().is_ok_and(|n| offline.contains(&n)) {
                continue;
            }
            let dir = cpu.join("cpufreq");
            if !dir.exists() {
                continue;
            }
            self.update_cpu(out, &dir, &name)?;
        }
        Ok(())
    }
}

impl CpuFreq {
    fn update_cpu(&self, out: &mut Out, dir: &Path, cpu: &str) -> Result<(), CollectError> {
        let mut text = Vec::with_capacity(REQUIRED.len());
        for f in REQUIRED {
            let p = dir.join(f);
            text.push(read_sys(&p).map_err(|e| CollectError::io(&p, e))?);
        }
        let (available, governor) = (&text[0], &text[2]);
        for (file, metric, help) in FILES {
            match read_u64(&dir.join(file)) {
                Ok(khz) => out.gauge(metric, help, &[("cpu", cpu)], khz as f64 * 1000.0),
                Err(CollectError::Io { source, .. })
                    if matches!(
                        source.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                    ) => {}
                Err(e) => return Err(e),
            }
        }
        if !governor.is_empty() {
            for g in available.split(' ') {
                out.gauge(
                    "node_cpu_scaling_governor",
                    "Current enabled CPU frequency governor.",
                    &[("cpu", cpu), ("governor", g)],
                    if g == governor { 1.0 } else { 0.0 },
                );
            }
        }
        Ok(())
    }
}

/// A kernel CPU list (`0-3,8,10-11`) as numbers; empty for an empty list.
fn parse_cpu_range(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    if s.is_empty() {
        return Some(out);
    }
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if b < a || b - a > 65536 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        assert_eq!(
            samples(&collect_ok("cpufreq", &[])),
            [
                "node_cpu_frequency_hertz{cpu=\"0\"} 1.8e+09",
                "node_cpu_frequency_max_hertz{cpu=\"0\"} 4e+09",
                "node_cpu_frequency_min_hertz{cpu=\"0\"} 4e+08",
                "node_cpu_scaling_frequency_hertz{cpu=\"0\"} 1.799998e+09",
                "node_cpu_scaling_frequency_max_hertz{cpu=\"0\"} 4e+09",
                "node_cpu_scaling_frequency_min_hertz{cpu=\"0\"} 4e+08",
                "node_cpu_scaling_governor{cpu=\"0\",governor=\"performance\"} 0",
                "node_cpu_scaling_governor{cpu=\"0\",governor=\"powersave\"} 1",
            ]
        );
    }

    #[test]
    fn cpu_ranges() {
        assert_eq!(parse_cpu_range(""), Some(vec![]));
        assert_eq!(parse_cpu_range("0-2,5"), Some(vec![0, 1, 2, 5]));
        assert_eq!(parse_cpu_range("3-1"), None);
        assert_eq!(parse_cpu_range("x"), None);
    }
}
