//! `netdev`: per-interface traffic counters from `/proc/net/dev`, filtered by
//! `--collector.netdev.device-include`/`-exclude`.
//!
//! node_exporter 1.5 reads these over rtnetlink and folds the detailed error
//! counters into /proc/net/dev's columns (`receive_drop` = dropped + missed, and so
//! on); /proc/net/dev is the kernel's own such folding, so the values are the same.
//! The one counter netlink adds, `receive_nohandler`, comes from
//! `/sys/class/net/<dev>/statistics/rx_nohandler`.

use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{read_file, read_u64};

pub(crate) struct NetDev(pub(crate) Arc<Config>);

const COLUMNS: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errs",
    "receive_drop",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errs",
    "transmit_drop",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

impl Collector for NetDev {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let path = self.0.proc("net/dev");
        let text = read_file(&path)?;
        for (dev, values) in parse(&text).map_err(|m| CollectError::invalid(&path, m))? {
            if self.0.netdev_filter.ignored(dev) {
                continue;
            }
            for (key, v) in COLUMNS.iter().zip(values) {
                emit(out, dev, key, v as f64);
            }
            let nohandler = self
                .0
                .sys("class/net")
                .join(dev)
                .join("statistics/rx_nohandler");
            if let Ok(v) = read_u64(&nohandler) {
                emit(out, dev, "receive_nohandler", v as f64);
            }
        }
        Ok(())
    }
}

fn emit(out: &mut Out, dev: &str, key: &str, v: f64) {
    out.counter(
        &format!("node_network_{key}_total"),
        &format!("Network device statistic {key}."),
        &[("device", dev)],
        v,
    );
}

/// The interface lines of /proc/net/dev: name and its 16 counters.
fn parse(text: &str) -> Result<Vec<(&str, [u64; 16])>, String> {
    let mut out = Vec::new();
    for line in text.lines().skip(2) {
        if line.trim().is_empty() {
            continue;
        }
        let Some(idx) = line.rfind(':') else {
            return Err(format!("invalid net/dev line, missing colon: {line:?}"));
        };
        let name = line[..idx].trim();
        if name.is_empty() {
            return Err(format!(
                "invalid net/dev line, empty interface name: {line:?}"
            ));
        }
        let mut values = [0u64; 16];
        let mut fields = line[idx + 1..].split_whitespace();
        for v in &mut values {
            *v = fields
                .next()
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| format!("invalid net/dev line: {line:?}"))?;
        }
        out.push((name, values));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        let text = collect_ok("netdev", &[]);
        let s = samples(&text);
        assert!(s.contains(&"node_network_receive_bytes_total{device=\"eth0\"} 2.52761432e+08"));
        assert!(s.contains(&"node_network_transmit_carrier_total{device=\"eth0\"} 11"));
        assert!(s.contains(&"node_network_receive_nohandler_total{device=\"eth0\"} 13"));
        assert!(s.contains(&"node_network_receive_multicast_total{device=\"lo\"} 0"));
        assert!(text.contains("# HELP node_network_transmit_colls_total Network device statistic transmit_colls.\n# TYPE node_network_transmit_colls_total counter\n"));
        assert_eq!(s.len(), 33);
    }

    #[test]
    fn filters() {
        let text = collect_ok("netdev", &["--collector.netdev.device-exclude=^lo$"]);
        assert!(!text.contains("\"lo\""));
        let text = collect_ok("netdev", &["--collector.netdev.device-include=^lo$"]);
        assert!(!text.contains("\"eth0\""));
    }

    #[test]
    fn garbage_fails() {
        assert!(parse("h\nh\neth0 1 2\n").is_err());
        assert!(parse("h\nh\neth0: 1 2 3\n").is_err());
        assert!(parse("h\nh\n: 1\n").is_err());
    }
}
