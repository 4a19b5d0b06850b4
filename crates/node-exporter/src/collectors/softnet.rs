//! `softnet`: per-CPU packet processing counters from `/proc/net/softnet_stat`.
//!
//! The file has grown columns over kernel releases: 9 since 2.6.23, `received_rps`
//! (10th) since 2.6.39, `flow_limit_count` (11th) since 4.18, and the backlog length
//! and the CPU index (12th, 13th) since 5.14. Missing columns read as 0, and before
//! 5.14 the CPU is the line's position, as procfs reads them.

use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::read_file;

pub(crate) struct Softnet(pub(crate) Arc<Config>);

/// One line of softnet_stat.
#[derive(Debug, Default, PartialEq)]
struct Row {
    processed: u32,
    dropped: u32,
    time_squeezed: u32,
    cpu_collision: u32,
    received_rps: u32,
    flow_limit_count: u32,
    backlog_len: u32,
    cpu: u32,
}

impl Collector for Softnet {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let path = self.0.proc("net/softnet_stat");
        let text = read_file(&path)?;
        let rows = parse(&text).map_err(|m| CollectError::invalid(&path, m))?;
        for r in rows {
            let cpu = r.cpu.to_string();
            let l = [("cpu", cpu.as_str())];
            let counters = [
                (
                    "node_softnet_processed_total",
                    "Number of processed packets",
                    r.processed,
                ),
                (
                    "node_softnet_dropped_total",
                    "Number of dropped packets",
                    r.dropped,
                ),
                (
                    "node_softnet_times_squeezed_total",
                    "Number of times processing packets ran out of quota",
                    r.time_squeezed,
                ),
                (
                    "node_softnet_cpu_collision_total",
                    "Number of collision occur while obtaining device lock while transmitting",
                    r.cpu_collision,
                ),
                (
                    "node_softnet_received_rps_total",
                    "Number of times cpu woken up received_rps",
                    r.received_rps,
                ),
                (
                    "node_softnet_flow_limit_count_total",
                    "Number of times flow limit has been reached",
                    r.flow_limit_count,
                ),
            ];
            for (name, help, v) in counters {
                out.counter(name, help, &l, f64::from(v));
            }
            out.gauge(
                "node_softnet_backlog_len",
                "Softnet backlog status",
                &l,
                f64::from(r.backlog_len),
            );
        }
        Ok(())
    }
}

/// The (hexadecimal) columns of each line; lines have at least 9.
fn parse(text: &str) -> Result<Vec<Row>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 9 {
            return Err(format!(
                "{} columns were detected, but at least 9 were expected",
                cols.len()
            ));
        }
        let hex = |i: usize| -> Result<u32, String> {
            match cols.get(i) {
                None => Ok(0),
                Some(c) => u32::from_str_radix(c, 16).map_err(|_| format!("invalid value {c:?}")),
            }
        };
        // Columns 3 to 7 are unused by the kernel (always 0); they are still
        // checked, as procfs parses the first nine together.
        for c in 3..8 {
            hex(c)?;
        }
        out.push(Row {
            processed: hex(0)?,
            dropped: hex(1)?,
            time_squeezed: hex(2)?,
            cpu_collision: hex(8)?,
            received_rps: hex(9)?,
            flow_limit_count: hex(10)?,
            backlog_len: if cols.len() >= 13 { hex(11)? } else { 0 },
            cpu: if cols.len() >= 13 {
                hex(12)?
            } else {
                u32::try_from(i).unwrap_or(u32::MAX)
            },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        let text = collect_ok("softnet", &[]);
        let s = samples(&text);
        assert_eq!(s.len(), 14);
        for l in [
            "node_softnet_dropped_total{cpu=\"1\"} 2",
            "node_softnet_processed_total{cpu=\"0\"} 78691",
            "node_softnet_times_squeezed_total{cpu=\"1\"} 3",
            "node_softnet_backlog_len{cpu=\"0\"} 0",
        ] {
            assert!(s.contains(&l), "{l} in {s:?}");
        }
        assert!(text.contains("# TYPE node_softnet_backlog_len gauge\n"));
    }

    #[test]
    fn older_kernels_number_cpus_by_line() {
        let rows = parse("1 0 0 0 0 0 0 0 5\n2 0 0 0 0 0 0 0 0 a\n").unwrap();
        assert_eq!(rows[0].cpu_collision, 5);
        assert_eq!((rows[1].cpu, rows[1].received_rps), (1, 10));
    }

    #[test]
    fn garbage_fails() {
        assert!(parse("1 2 3\n").is_err());
        assert!(parse("zz 0 0 0 0 0 0 0 0\n").is_err());
    }
}
