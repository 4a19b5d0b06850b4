//! `softnet`: per-CPU packet processing counters from `/proc/net/softnet_stat`.

use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::read_file;

pub(crate) struct Softnet(pub(crate) Arc<Config>);

impl Collector for Softnet {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let path = self.0.proc("net/softnet_stat");
        let text = read_file(&path)?;
        let rows = parse(&text).map_err(|m| CollectError::invalid(&path, m))?;
        for (cpu, [processed, dropped, squeezed]) in rows.into_iter().enumerate() {
            let cpu = cpu.to_string();
            let l = [("cpu", cpu.as_str())];
            out.counter(
                "node_softnet_processed_total",
                "Number of processed packets",
                &l,
                processed as f64,
            );
            out.counter(
                "node_softnet_dropped_total",
                "Number of dropped packets",
                &l,
                dropped as f64,
            );
            out.counter(
                "node_softnet_times_squeezed_total",
                "Number of times processing packets ran out of quota",
                &l,
                squeezed as f64,
            );
        }
        Ok(())
    }
}

/// The first three (hexadecimal) columns of each line; lines have at least 9.
fn parse(text: &str) -> Result<Vec<[u32; 3]>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 9 {
            return Err(format!(
                "{} columns were detected, but at least 9 were expected",
                cols.len()
            ));
        }
        let mut row = [0u32; 3];
        for (v, c) in row.iter_mut().zip(&cols) {
            *v = u32::from_str_radix(c, 16).map_err(|_| format!("invalid value {c:?}"))?;
        }
        out.push(row);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        assert_eq!(
            samples(&collect_ok("softnet", &[])),
            [
                "node_softnet_dropped_total{cpu=\"0\"} 0",
                "node_softnet_dropped_total{cpu=\"1\"} 2",
                "node_softnet_processed_total{cpu=\"0\"} 78691",
                "node_softnet_processed_total{cpu=\"1\"} 88413",
                "node_softnet_times_squeezed_total{cpu=\"0\"} 0",
                "node_softnet_times_squeezed_total{cpu=\"1\"} 3",
            ]
        );
    }

    #[test]
    fn garbage_fails() {
        assert!(parse("1 2 3\n").is_err());
        assert!(parse("zz 0 0 0 0 0 0 0 0\n").is_err());
    }
}
