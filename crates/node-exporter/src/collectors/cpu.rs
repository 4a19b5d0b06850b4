//! `cpu`: seconds per CPU and mode from `/proc/stat`, guest seconds, thermal
//! throttle counts and isolated CPUs from sysfs, and with `--collector.cpu.info`
//! `node_cpu_info` (and the flag and bug infos) from `/proc/cpuinfo`.
//!
//! As node_exporter, the collector remembers the last values per CPU and never lets
//! a counter go backwards: a value lower than the last one is ignored, and an idle
//! count more than 3 s below the last one is taken for a CPU hot-plug and resets the
//! CPU's memory.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{glob_numbered, read_file, read_proc, read_u64};

/// USER_HZ: /proc/stat counts in hundredths of a second on every Linux architecture.
const USER_HZ: f64 = 100.0;
/// An idle count that goes back more than this many seconds resets the CPU's state.
const JUMP_BACK_SECONDS: f64 = 3.0;

const SECONDS_HELP: &str = "Seconds the CPUs spent in each mode.";
const GUEST_HELP: &str = "Seconds the CPUs spent in guests (VMs) for each mode.";

/// One CPU's line of /proc/stat, in seconds, in the kernel's order.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct CpuStat([f64; 10]);

const MODES: [&str; 8] = [
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];
const IDLE: usize = 3;

pub(crate) struct Cpu {
    cfg: Arc<Config>,
    last: Mutex<Vec<CpuStat>>,
}

impl Cpu {
    pub(crate) fn new(cfg: Arc<Config>) -> Self {
        Cpu {
            cfg,
            last: Mutex::new(Vec::new()),
        }
    }
}

impl Collector for Cpu {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        if self.cfg.cpu_info {
            self.update_info(out)?;
        }
        self.update_stat(out)?;
        self.update_isolated(out)?;
        self.update_thermal_throttle(out)
    }
}

impl Cpu {
    fn update_stat(&self, out: &mut Out) -> Result<(), CollectError> {
        let path = self.cfg.proc("stat");
        let text = read_file(&path)?;
        let new = parse_cpu_lines(&text).map_err(|m| CollectError::invalid(&path, m))?;
        let stats = {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            merge(&mut last, &new);
            last.clone()
        };
        for (i, s) in stats.iter().enumerate() {
            let cpu = i.to_string();
            for (m, mode) in MODES.iter().enumerate() {
                out.counter(
                    "node_cpu_seconds_total",
                    SECONDS_HELP,
                    &[("cpu", &cpu), ("mode", mode)],
                    s.0[m],
                );
            }
            if self.cfg.cpu_guest {
                out.counter(
                    "node_cpu_guest_seconds_total",
                    GUEST_HELP,
                    &[("cpu", &cpu), ("mode", "user")],
                    s.0[8],
                );
                out.counter(
                    "node_cpu_guest_seconds_total",
                    GUEST_HELP,
                    &[("cpu", &cpu), ("mode", "nice")],
                    s.0[9],
                );
            }
        }
        Ok(())
    }

    fn update_info(&self, out: &mut Out) -> Result<(), CollectError> {
        let path = self.cfg.proc("cpuinfo");
        let text = read_file(&path)?;
        let cpus = parse_cpuinfo(&text).map_err(|m| CollectError::invalid(&path, m))?;
        for c in &cpus {
            let get = |k: &str| c.get(k).map(String::as_str).unwrap_or("");
            out.gauge(
                "node_cpu_info",
                "CPU information from /proc/cpuinfo.",
                &[
                    ("package", get("physical id")),
                    ("core", get("core id")),
                    ("cpu", get("processor")),
                    ("vendor", get("vendor_id")),
                    ("family", get("cpu family")),
                    ("model", get("model")),
                    ("model_name", get("model name")),
                    ("microcode", get("microcode")),
                    ("stepping", get("stepping")),
                    ("cachesize", get("cache size")),
                ],
                1.0,
            );
        }
        // The clock /proc/cpuinfo reports, only while the cpufreq collector is on
        // (node_exporter ties them so).
        if self.cfg.cpufreq_enabled {
            for c in &cpus {
                let get = |k: &str| c.get(k).map(String::as_str).unwrap_or("");
                let mhz = match c.get("cpu MHz") {
                    None => 0.0,
                    Some(v) => v.parse::<f64>().map_err(|_| {
                        CollectError::invalid(&path, format!("invalid cpu MHz {v:?}"))
                    })?,
                };
                out.gauge(
                    "node_cpu_frequency_hertz",
                    "CPU frequency in hertz from /proc/cpuinfo.",
                    &[
                        ("package", get("physical id")),
                        ("core", get("core id")),
                        ("cpu", get("processor")),
                    ],
                    mhz * 1e6,
                );
            }
        }
        if let Some(first) = cpus.first() {
            let fields = [
                (
                    "flags",
                    &self.cfg.cpu_flags_include,
                    "node_cpu_flag_info",
                    "flag",
                    "The `flags` field of CPU information from /proc/cpuinfo taken from the first core.",
                ),
                (
                    "bugs",
                    &self.cfg.cpu_bugs_include,
                    "node_cpu_bug_info",
                    "bug",
                    "The `bugs` field of CPU information from /proc/cpuinfo taken from the first core.",
                ),
            ];
            for (key, filter, name, label, help) in fields {
                let Some(re) = filter else { continue };
                let values = first.get(key).map(String::as_str).unwrap_or("");
                for v in values.split_whitespace() {
                    if re.is_match(v) {
                        out.gauge(name, help, &[(label, v)], 1.0);
                    }
                }
            }
        }
        Ok(())
    }

    fn update_isolated(&self, out: &mut Out) -> Result<(), CollectError> {
        let path = self.cfg.sys("devices/system/cpu/isolated");
        let text = match read_proc(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(CollectError::io(&path, e)),
        };
        let cpus = parse_cpu_list(text.trim_end_matches('\n'))
            .ok_or_else(|| CollectError::invalid(&path, format!("invalid cpu list {text:?}")))?;
        for cpu in cpus {
            out.gauge(
                "node_cpu_isolated",
                "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.",
                &[("cpu", &cpu.to_string())],
                1.0,
            );
        }
        Ok(())
    }

    fn update_thermal_throttle(&self, out: &mut Out) -> Result<(), CollectError> {
        let cpus = glob_numbered(&self.cfg.sys("devices/system/cpu"), "cpu")?;
        let mut package: BTreeMap<u64, u64> = BTreeMap::new();
        let mut core: BTreeMap<(u64, u64), Option<u64>> = BTreeMap::new();
        for cpu in &cpus {
            let Ok(pkg) = read_u64(&cpu.join("topology/physical_package_id")) else {
                continue;
            };
            let Ok(core_id) = read_u64(&cpu.join("topology/core_id")) else {
                continue;
            };
            core.entry((pkg, core_id)).or_insert_with(|| {
                read_u64(&cpu.join("thermal_throttle/core_throttle_count")).ok()
            });
            if !package.contains_key(&pkg)
                && let Ok(n) = read_u64(&cpu.join("thermal_throttle/package_throttle_count"))
            {
                package.insert(pkg, n);
            }
        }
        for (pkg, n) in package {
            out.counter(
                "node_cpu_package_throttles_total",
                "Number of times this CPU package has been throttled.",
                &[("package", &pkg.to_string())],
                n as f64,
            );
        }
        for ((pkg, core_id), n) in core {
            let Some(n) = n else { continue };
            out.counter(
                "node_cpu_core_throttles_total",
                "Number of times this CPU core has been throttled.",
                &[
                    ("package", &pkg.to_string()),
                    ("core", &core_id.to_string()),
                ],
                n as f64,
            );
        }
        Ok(())
    }
}

/// Applies node_exporter's monotonicity rules to the remembered stats.
fn merge(last: &mut Vec<CpuStat>, new: &[CpuStat]) {
    if last.len() != new.len() {
        *last = vec![CpuStat::default(); new.len()];
    }
    for (old, n) in last.iter_mut().zip(new) {
        if old.0[IDLE] - n.0[IDLE] >= JUMP_BACK_SECONDS {
            *old = CpuStat::default();
        }
        for (o, v) in old.0.iter_mut().zip(n.0) {
            if v >= *o {
                *o = v;
            }
        }
    }
}

/// The `cpuN` lines of /proc/stat, indexed by N (missing CPUs are zeros).
fn parse_cpu_lines(text: &str) -> Result<Vec<CpuStat>, String> {
    let mut cpus: Vec<CpuStat> = Vec::new();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let Some(key) = parts.next() else { continue };
        let Some(id) = key.strip_prefix("cpu") else {
            continue;
        };
        if id.is_empty() {
            continue; // the total line
        }
        let id: usize = id
            .parse()
            .map_err(|_| format!("couldn't parse {line:?} (cpu/cpuid)"))?;
        if id > 65_536 {
            return Err(format!("cpu id out of range in {line:?}"));
        }
        let mut stat = CpuStat::default();
        for (slot, field) in stat.0.iter_mut().zip(parts) {
            let v: f64 = field
                .parse()
                .map_err(|_| format!("couldn't parse {line:?} (cpu)"))?;
            *slot = v / USER_HZ;
        }
        if cpus.len() <= id {
            cpus.resize(id + 1, CpuStat::default());
        }
        cpus[id] = stat;
    }
    Ok(cpus)
}

/// The processors of /proc/cpuinfo, each as its `key: value` pairs.
fn parse_cpuinfo(text: &str) -> Result<Vec<BTreeMap<String, String>>, String> {
    let mut cpus: Vec<BTreeMap<String, String>> = Vec::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let k = k.trim();
        let v = v.strip_prefix(' ').unwrap_or(v);
        if k == "processor" {
            if v.trim().parse::<u32>().is_err() {
                return Err(format!("invalid processor line {line:?}"));
            }
            cpus.push(BTreeMap::new());
        }
        if let Some(c) = cpus.last_mut() {
            c.insert(k.to_owned(), v.to_owned());
        }
    }
    if cpus.is_empty() && !text.trim().is_empty() {
        return Err("invalid cpuinfo file: no processor line".into());
    }
    Ok(cpus)
}

/// A kernel CPU list (`0-2,5`).
fn parse_cpu_list(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        if part.is_empty() {
            continue;
        }
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if b < a || b - a > 65_536 {
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
        let text = collect_ok("cpu", &[]);
        let s = samples(&text);
        assert!(s.contains(&"node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 2556.85"));
        assert!(s.contains(&"node_cpu_seconds_total{cpu=\"1\",mode=\"user\"} 20.5"));
        assert!(s.contains(&"node_cpu_guest_seconds_total{cpu=\"1\",mode=\"nice\"} 0.01"));
        assert!(s.contains(&"node_cpu_isolated{cpu=\"1\"} 1"));
        assert!(s.contains(&"node_cpu_package_throttles_total{package=\"0\"} 30"));
        assert!(s.contains(&"node_cpu_core_throttles_total{core=\"0\",package=\"0\"} 5"));
        assert!(s.contains(&"node_cpu_core_throttles_total{core=\"1\",package=\"0\"} 7"));
        assert!(!text.contains("node_cpu_info"));
        assert_eq!(
            s.iter()
                .filter(|l| l.starts_with("node_cpu_seconds_total"))
                .count(),
            16
        );
    }

    #[test]
    fn no_guest() {
        let text = collect_ok("cpu", &["--collector.cpu.guest=false"]);
        assert!(!text.contains("node_cpu_guest_seconds_total"));
    }

    #[test]
    fn info() {
        let text = collect_ok(
            "cpu",
            &[
                "--collector.cpu.info",
                "--collector.cpu.info.flags-include=^(sse2|avx)$",
            ],
        );
        assert!(text.contains(
            "node_cpu_info{cachesize=\"8192 KB\",core=\"0\",cpu=\"0\",family=\"6\",microcode=\"0xb4\",model=\"142\",model_name=\"Intel(R) Core(TM) i7-8550U CPU @ 1.80GHz\",package=\"0\",stepping=\"10\",vendor=\"GenuineIntel\"} 1\n"
        ));
        assert!(text.contains("node_cpu_flag_info{flag=\"avx\"} 1\n"));
        assert!(text.contains("node_cpu_flag_info{flag=\"sse2\"} 1\n"));
        assert!(!text.contains("node_cpu_bug_info"));
        // An include filter alone turns info on.
        let text = collect_ok("cpu", &["--collector.cpu.info.bugs-include=."]);
        assert!(text.contains("node_cpu_bug_info{bug=\"spectre_v1\"} 1\n"));
        assert!(text.contains("node_cpu_info{"));
    }

    #[test]
    fn counters_never_go_back() {
        let mut last = Vec::new();
        let mut a = CpuStat::default();
        a.0[0] = 10.0;
        a.0[IDLE] = 100.0;
        merge(&mut last, &[a]);
        let mut b = a;
        b.0[0] = 9.0; // user went back a little: keep 10
        b.0[IDLE] = 99.0; // idle back by 1s: keep 100
        merge(&mut last, &[b]);
        assert_eq!(last[0].0[0], 10.0);
        assert_eq!(last[0].0[IDLE], 100.0);
        let mut c = a;
        c.0[0] = 1.0;
        c.0[IDLE] = 5.0; // hot-plug: reset
        merge(&mut last, &[c]);
        assert_eq!(last[0].0[0], 1.0);
        assert_eq!(last[0].0[IDLE], 5.0);
    }

    #[test]
    fn garbage() {
        assert!(parse_cpu_lines("cpu0 1 2 x\n").is_err());
        assert!(parse_cpu_lines("cpuX 1 2 3\n").is_err());
        assert_eq!(parse_cpu_lines("cpu 1 2\ncpu1 100 200\n").unwrap().len(), 2);
        assert!(parse_cpuinfo("processor : x\n").is_err());
        assert_eq!(parse_cpu_list("0-2,5"), Some(vec![0, 1, 2, 5]));
        assert_eq!(parse_cpu_list(""), Some(vec![]));
        assert_eq!(parse_cpu_list("3-1"), None);
    }
}
