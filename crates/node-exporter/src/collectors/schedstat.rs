//! `schedstat`: per-CPU run and wait time and timeslices from `/proc/schedstat`.

use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::read_proc;

pub(crate) struct Schedstat(pub(crate) Arc<Config>);

const NS_PER_SEC: f64 = 1e9;

impl Collector for Schedstat {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let path = self.0.proc("schedstat");
        let text = match read_proc(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CollectError::NoData("schedstat file does not exist".into()));
            }
            Err(e) => return Err(CollectError::io(&path, e)),
        };
        for (cpu, running, waiting, slices) in parse(&text) {
            let l = [("cpu", cpu)];
            out.counter(
                "node_schedstat_running_seconds_total",
                "Number of seconds CPU spent running a process.",
                &l,
                running as f64 / NS_PER_SEC,
            );
            out.counter(
                "node_schedstat_waiting_seconds_total",
                "Number of seconds spent by processing waiting for this CPU.",
                &l,
                waiting as f64 / NS_PER_SEC,
            );
            out.counter(
                "node_schedstat_timeslices_total",
                "Number of timeslices executed by CPU.",
                &l,
                slices as f64,
            );
        }
        Ok(())
    }
}

/// `cpuN` lines with at least nine numbers: fields 7, 8 and 9 are running and waiting
/// nanoseconds and timeslices. Other lines, and lines that don't parse, are skipped,
/// as procfs skips them.
fn parse(text: &str) -> Vec<(&str, u64, u64, u64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let Some(cpu) = f.first().and_then(|k| k.strip_prefix("cpu")) else {
            continue;
        };
        if cpu.is_empty() || !cpu.bytes().all(|b| b.is_ascii_digit()) || f.len() < 10 {
            continue;
        }
        let num = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok());
        if (1..10).any(|i| num(i).is_none()) {
            continue;
        }
        if let (Some(r), Some(w), Some(t)) = (num(7), num(8), num(9)) {
            out.push((cpu, r, w, t));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        assert_eq!(
            samples(&collect_ok("schedstat", &[])),
            [
                "node_schedstat_running_seconds_total{cpu=\"0\"} 2.045936778163039e+06",
                "node_schedstat_running_seconds_total{cpu=\"1\"} 2.04021528",
                "node_schedstat_timeslices_total{cpu=\"0\"} 4.767485306e+09",
                "node_schedstat_timeslices_total{cpu=\"1\"} 4.767485e+06",
                "node_schedstat_waiting_seconds_total{cpu=\"0\"} 343796.328169361",
                "node_schedstat_waiting_seconds_total{cpu=\"1\"} 0.343796328",
            ]
        );
    }

    #[test]
    fn skips_garbage() {
        assert!(parse("cpu0 1 2 x 4 5 6 7 8 9\ncpuX 1 2 3 4 5 6 7 8 9\n").is_empty());
    }
}
