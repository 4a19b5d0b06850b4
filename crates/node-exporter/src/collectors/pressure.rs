//! `pressure`: pressure stall information totals from
//! `/proc/pressure/{cpu,io,memory,irq}`.
//!
//! As node_exporter: a resource whose file is missing is skipped (IRQ pressure needs
//! Linux 6.1), the collector reports no data only when none is there or PSI is
//! switched off (`EOPNOTSUPP`), and a file lacking a line its metrics need (`some`
//! for all but irq, `full` for all but cpu) means no data too.

use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::read_proc;

pub(crate) struct Pressure(pub(crate) Arc<Config>);

/// (resource, line, metric, help).
const METRICS: [(&str, &str, &str, &str); 6] = [
    (
        "cpu",
        "some",
        "node_pressure_cpu_waiting_seconds_total",
        "Total time in seconds that processes have waited for CPU time",
    ),
    (
        "io",
        "some",
        "node_pressure_io_waiting_seconds_total",
        "Total time in seconds that processes have waited due to IO congestion",
    ),
    (
        "io",
        "full",
        "node_pressure_io_stalled_seconds_total",
        "Total time in seconds no process could make progress due to IO congestion",
    ),
    (
        "memory",
        "some",
        "node_pressure_memory_waiting_seconds_total",
        "Total time in seconds that processes have waited for memory",
    ),
    (
        "memory",
        "full",
        "node_pressure_memory_stalled_seconds_total",
        "Total time in seconds no process could make progress due to memory congestion",
    ),
    (
        "irq",
        "full",
        "node_pressure_irq_stalled_seconds_total",
        "Total time in seconds no process could make progress due to IRQ congestion",
    ),
];

impl Collector for Pressure {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let mut found = 0;
        for resource in ["cpu", "io", "memory", "irq"] {
            let path = self.0.proc(&format!("pressure/{resource}"));
            let text = match read_proc(&path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {
                    return Err(CollectError::NoData(
                        "pressure information is disabled, add psi=1 to the kernel command line"
                            .into(),
                    ));
                }
                Err(e) => return Err(CollectError::io(&path, e)),
            };
            for (res, line, name, help) in METRICS {
                if res != resource {
                    continue;
                }
                let total = total(&text, line).map_err(|m| CollectError::invalid(&path, m))?;
                let Some(us) = total else {
                    return Err(CollectError::NoData(format!(
                        "{}: no '{line}' data",
                        path.display()
                    )));
                };
                out.counter(name, help, &[], us as f64 / 1000.0 / 1000.0);
            }
            found += 1;
        }
        if found == 0 {
            return Err(CollectError::NoData(
                "pressure information is unavailable (needs Linux >= 4.20 with CONFIG_PSI)".into(),
            ));
        }
        Ok(())
    }
}

/// The `total=` of the `some` or `full` line, in microseconds.
fn total(text: &str, which: &str) -> Result<Option<u64>, String> {
    for line in text.lines() {
        let mut f = line.split_whitespace();
        if f.next() != Some(which) {
            continue;
        }
        let total = f
            .find_map(|kv| kv.strip_prefix("total="))
            .ok_or_else(|| format!("no total in {line:?}"))?;
        return total
            .parse()
            .map(Some)
            .map_err(|_| format!("invalid total in {line:?}"));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        assert_eq!(
            samples(&collect_ok("pressure", &[])),
            [
                // As node_exporter: microseconds / 1000 / 1000, rounding included.
                "node_pressure_cpu_waiting_seconds_total 591.9245960000001",
                "node_pressure_io_stalled_seconds_total 9.810945",
                "node_pressure_io_waiting_seconds_total 14.647611999999999",
                "node_pressure_memory_stalled_seconds_total 1",
                "node_pressure_memory_waiting_seconds_total 2",
            ]
        );
    }

    #[test]
    fn garbage_fails() {
        assert!(total("some avg10=1 total=x\n", "some").is_err());
        assert!(total("some avg10=1\n", "some").is_err());
        assert_eq!(total("full total=3\n", "some"), Ok(None));
    }
}
