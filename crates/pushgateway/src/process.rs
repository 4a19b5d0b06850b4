//! The `process_*` families client_golang's process collector exposes, for the
//! gateway's own process, read from `/proc/self` (Linux; elsewhere they are left out).

use ember_exposition::proto::{Counter, Gauge, Metric, MetricFamily, MetricType};

pub(crate) const HELP: &[(&str, MetricType, &str)] = &[
    (
        "process_cpu_seconds_total",
        MetricType::Counter,
        "Total user and system CPU time spent in seconds.",
    ),
    (
        "process_max_fds",
        MetricType::Gauge,
        "Maximum number of open file descriptors.",
    ),
    (
        "process_open_fds",
        MetricType::Gauge,
        "Number of open file descriptors.",
    ),
    (
        "process_resident_memory_bytes",
        MetricType::Gauge,
        "Resident memory size in bytes.",
    ),
    (
        "process_start_time_seconds",
        MetricType::Gauge,
        "Start time of the process since unix epoch in seconds.",
    ),
    (
        "process_virtual_memory_bytes",
        MetricType::Gauge,
        "Virtual memory size in bytes.",
    ),
];

fn family(name: &str, value: f64) -> Option<MetricFamily> {
    let (_, ty, help) = HELP.iter().find(|(n, _, _)| *n == name)?;
    let mut m = Metric::default();
    if *ty == MetricType::Counter {
        m.counter = Some(Counter {
            value: Some(value),
            ..Counter::default()
        });
    } else {
        m.gauge = Some(Gauge { value: Some(value) });
    }
    Some(MetricFamily {
        name: Some(name.to_string()),
        help: Some(help.to_string()),
        r#type: Some(*ty as i32),
        metric: vec![m],
        unit: None,
    })
}

/// Clock ticks per second and page size as Linux reports them on every common
/// platform; `/proc` gives times in ticks and memory in pages.
const TICKS: f64 = 100.0;
const PAGE: f64 = 4096.0;

/// The families, or none when `/proc/self` cannot be read.
pub(crate) fn families() -> Vec<MetricFamily> {
    let mut out = Vec::new();
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return out;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return out;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    // Indexes are the stat(5) field numbers minus 3 (pid and comm come first).
    if let (Some(ut), Some(st)) = (num(11), num(12)) {
        out.extend(family("process_cpu_seconds_total", (ut + st) / TICKS));
    }
    if let Some(v) = num(20) {
        out.extend(family("process_virtual_memory_bytes", v));
    }
    if let Some(v) = num(21) {
        out.extend(family("process_resident_memory_bytes", v * PAGE));
    }
    if let (Some(start), Some(boot)) = (num(19), boot_time()) {
        out.extend(family("process_start_time_seconds", boot + start / TICKS));
    }
    if let Ok(d) = std::fs::read_dir("/proc/self/fd") {
        out.extend(family("process_open_fds", d.count() as f64));
    }
    if let Some(max) = max_fds() {
        out.extend(family("process_max_fds", max));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn boot_time() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn max_fds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = s.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}
