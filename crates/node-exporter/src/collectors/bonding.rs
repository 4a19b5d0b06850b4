//! `bonding`: configured and active slaves of each bonding interface, from
//! `/sys/class/net/bonding_masters` and each slave's `mii_status`.
//!
//! As node_exporter: without `bonding_masters` (no bonding driver) there is no
//! data; a missing `lower_<slave>` directory falls back to the `slave_<slave>`
//! spelling of older kernels; any other missing file fails the collector.

use std::io;
use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::read_limited;

pub(crate) struct Bonding(pub(crate) Arc<Config>);

impl Collector for Bonding {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let root = self.0.sys("class/net");
        let read = |rel: &str| -> io::Result<String> { read_limited(&root.join(rel), 1 << 16) };
        let no_data = |e: io::Error, rel: &str| {
            if e.kind() == io::ErrorKind::NotFound {
                CollectError::NoData(format!("{} does not exist", root.join(rel).display()))
            } else {
                CollectError::io(&root.join(rel), e)
            }
        };
        let masters = read("bonding_masters").map_err(|e| no_data(e, "bonding_masters"))?;
        for master in masters.split_whitespace() {
            let rel = format!("{master}/bonding/slaves");
            let slaves = read(&rel).map_err(|e| no_data(e, &rel))?;
            let (mut configured, mut active) = (0u32, 0u32);
            for slave in slaves.split_whitespace() {
                let lower = format!("{master}/lower_{slave}/bonding_slave/mii_status");
                let state = match read(&lower) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        let old = format!("{master}/slave_{slave}/bonding_slave/mii_status");
                        read(&old).map_err(|e| no_data(e, &old))?
                    }
                    r => r.map_err(|e| no_data(e, &lower))?,
                };
                configured += 1;
                if state.trim() == "up" {
                    active += 1;
                }
            }
            let l = [("master", master)];
            out.gauge(
                "node_bonding_slaves",
                "Number of configured slaves per bonding interface.",
                &l,
                f64::from(configured),
            );
            out.gauge(
                "node_bonding_active",
                "Number of active slaves per bonding interface.",
                &l,
                f64::from(active),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::collectors::testutil::*;

    #[test]
    fn no_bonds() {
        assert_eq!(collect_ok("bonding", &[]), "");
    }

    #[test]
    fn counts_slaves() {
        let dir = std::env::temp_dir().join(format!("ember-ne-bonding-{}", std::process::id()));
        let net = dir.join("class/net");
        let write = |rel: &str, s: &str| {
            let p = net.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, s).unwrap();
        };
        write("bonding_masters", "bond0\n");
        write("bond0/bonding/slaves", "eth0 eth1\n");
        write("bond0/lower_eth0/bonding_slave/mii_status", "up\n");
        write("bond0/slave_eth1/bonding_slave/mii_status", "down\n");
        let text = collect_ok("bonding", &[&format!("--path.sysfs={}", dir.display())]);
        assert!(text.contains("node_bonding_slaves{master=\"bond0\"} 2\n"));
        assert!(text.contains("node_bonding_active{master=\"bond0\"} 1\n"));
        write("bond0/bonding/slaves", "eth0 eth2\n");
        let (r, _) = collect("bonding", &[&format!("--path.sysfs={}", dir.display())]);
        assert!(matches!(r, Err(crate::collectors::CollectError::NoData(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
