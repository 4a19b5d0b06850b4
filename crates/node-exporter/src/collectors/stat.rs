//! `stat`: interrupts, context switches, forks, boot time and process counts from
//! `/proc/stat` (and softirqs per vector with `--collector.stat.softirq`).

use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::read_file;

pub(crate) struct Stat(pub(crate) Arc<Config>);

const SOFTIRQ_VECTORS: [&str; 10] = [
    "hi",
    "timer",
    "net_tx",
    "net_rx",
    "block",
    "block_iopoll",
    "tasklet",
    "sched",
    "hrtimer",
    "rcu",
];

impl Collector for Stat {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let path = self.0.proc("stat");
        let text = read_file(&path)?;
        let mut vals = [0u64; 6];
        let mut softirq: Option<Vec<u64>> = None;
        for line in text.lines() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let (Some(&key), Some(&first)) = (parts.first(), parts.get(1)) else {
                continue;
            };
            let slot = match key {
                "intr" => 0,
                "ctxt" => 1,
                "processes" => 2,
                "btime" => 3,
                "procs_running" => 4,
                "procs_blocked" => 5,
                "softirq" => {
                    let nums: Result<Vec<u64>, _> =
                        parts.iter().skip(2).map(|s| s.parse::<u64>()).collect();
                    let nums = nums.map_err(|_| {
                        CollectError::invalid(&path, format!("couldn't parse {line:?} (softirq)"))
                    })?;
                    softirq = Some(nums);
                    continue;
                }
                _ => continue,
            };
            vals[slot] = first.parse().map_err(|_| {
                CollectError::invalid(&path, format!("couldn't parse {first:?} ({key})"))
            })?;
        }
        let [intr, ctxt, forks, btime, running, blocked] = vals.map(|v| v as f64);
        out.counter(
            "node_intr_total",
            "Total number of interrupts serviced.",
            &[],
            intr,
        );
        out.counter(
            "node_context_switches_total",
            "Total number of context switches.",
            &[],
            ctxt,
        );
        out.counter("node_forks_total", "Total number of forks.", &[], forks);
        out.gauge(
            "node_boot_time_seconds",
            "Node boot time, in unixtime.",
            &[],
            btime,
        );
        out.gauge(
            "node_procs_running",
            "Number of processes in runnable state.",
            &[],
            running,
        );
        out.gauge(
            "node_procs_blocked",
            "Number of processes blocked waiting for I/O to complete.",
            &[],
            blocked,
        );
        if self.0.stat_softirq {
            let si = softirq.unwrap_or_default();
            for (i, vector) in SOFTIRQ_VECTORS.iter().enumerate() {
                let v = si.get(i).copied().unwrap_or(0) as f64;
                out.counter(
                    "node_softirqs_total",
                    "Number of softirq calls.",
                    &[("vector", vector)],
                    v,
                );
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
            samples(&collect_ok("stat", &[])),
            [
                "node_boot_time_seconds 1.795654763e+09",
                "node_context_switches_total 3.899334e+06",
                "node_forks_total 142452",
                "node_intr_total 2.785653e+06",
                "node_procs_blocked 1",
                "node_procs_running 6",
            ]
        );
    }

    #[test]
    fn softirqs() {
        let text = collect_ok("stat", &["--collector.stat.softirq"]);
        assert!(text.contains("node_softirqs_total{vector=\"net_rx\"} 166877\n"));
        assert!(text.contains("node_softirqs_total{vector=\"rcu\"} 287407\n"));
    }
}
