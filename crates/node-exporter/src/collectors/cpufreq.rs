//! `cpufreq`: per-CPU frequencies from `/sys/devices/system/cpu/cpu*/cpufreq` (kHz in
//! sysfs, hertz here).

use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{glob_numbered, read_u64};

pub(crate) struct CpuFreq(pub(crate) Arc<Config>);

const FILES: [(&str, &str, &str); 6] = [
    (
        "cpuinfo_cur_freq",
        "node_cpu_frequency_hertz",
        "Current cpu thread frequency in hertz.",
    ),
    (
        "cpuinfo_min_freq",
        "node_cpu_frequency_min_hertz",
        "Minimum cpu thread frequency in hertz.",
    ),
    (
        "cpuinfo_max_freq",
        "node_cpu_frequency_max_hertz",
        "Maximum cpu thread frequency in hertz.",
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

impl Collector for CpuFreq {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        for cpu in glob_numbered(&self.0.sys("devices/system/cpu"), "cpu")? {
            let dir = cpu.join("cpufreq");
            if !dir.exists() {
                continue;
            }
            let name = cpu
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("cpu"))
                .unwrap_or("")
                .to_owned();
            for (file, metric, help) in FILES {
                match read_u64(&dir.join(file)) {
                    Ok(khz) => out.gauge(metric, help, &[("cpu", &name)], khz as f64 * 1000.0),
                    Err(CollectError::Io { source, .. })
                        if matches!(
                            source.kind(),
                            std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                        ) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
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
            ]
        );
    }
}
