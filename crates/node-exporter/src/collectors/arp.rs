//! `arp`: ARP table entries per device from `/proc/net/arp`, filtered by
//! `--collector.arp.device-include`/`-exclude`.
//!
//! node_exporter reads the neighbour table over rtnetlink by default
//! (`--collector.arp.netlink`) and `/proc/net/arp` with `--no-collector.arp.netlink`.
//! Ember takes both flags and always reads `/proc/net/arp`: both list the IPv4
//! neighbours without the `NUD_NOARP` entries, so the counts are the same, but for
//! proxy-ARP entries (`ip neigh add proxy`), which only `/proc/net/arp` lists, and
//! for `--path.procfs`, which netlink ignores.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::read_file;

pub(crate) struct Arp(pub(crate) Arc<Config>);

impl Collector for Arp {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let path = self.0.proc("net/arp");
        let text = read_file(&path)?;
        let entries = parse(&text).map_err(|m| CollectError::invalid(&path, m))?;
        for (dev, n) in entries {
            if self.0.arp_filter.ignored(dev) {
                continue;
            }
            out.gauge(
                "node_arp_entries",
                "ARP entries by device",
                &[("device", dev)],
                n as f64,
            );
        }
        Ok(())
    }
}

/// Entries per device (the last column); the header starts with `IP`.
fn parse(text: &str) -> Result<BTreeMap<&str, u32>, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 6 {
            return Err("unexpected ARP table format".into());
        }
        if cols[0] != "IP"
            && let Some(dev) = cols.last()
        {
            *out.entry(*dev).or_insert(0) += 1;
        }
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
            samples(&collect_ok("arp", &[])),
            [
                "node_arp_entries{device=\"eth0\"} 2",
                "node_arp_entries{device=\"eth1\"} 1"
            ]
        );
        assert_eq!(
            samples(&collect_ok("arp", &["--collector.arp.device-exclude=eth0"])),
            ["node_arp_entries{device=\"eth1\"} 1"]
        );
    }

    #[test]
    fn garbage_fails() {
        assert!(parse("IP address\n").is_err());
    }
}
