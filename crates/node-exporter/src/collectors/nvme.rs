//! `nvme`: NVMe controllers and their namespaces, from `/sys/class/nvme`.
//!
//! As procfs reads them for node_exporter: every controller attribute
//! (`firmware_rev`, `model`, `serial`, `state`, `cntlid`) is required; namespaces
//! are the `nvme<C>n<N>` entries, whose `nuse`, `size` and
//! `queue/logical_block_size` are required (an unparsable number reads as 0) and
//! `ana_state` optional (`unknown`). Sizes are block counts times the logical block
//! size, as node_exporter computes them.

use std::io;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use regex::Regex;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{dir_names, read_sys};

pub(crate) struct Nvme(pub(crate) Arc<Config>);

static NAMESPACE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"nvme\d+n(\d+)").ok());

fn attr(dir: &Path, file: &str) -> Result<String, CollectError> {
    let p = dir.join(file);
    read_sys(&p).map_err(|e| CollectError::io(&p, e))
}

impl Collector for Nvme {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let root = self.0.sys("class/nvme");
        let devices = match dir_names(&root) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(CollectError::NoData("nvme statistics not found".into()));
            }
            Err(e) => return Err(CollectError::io(&root, e)),
        };
        let Some(ns_re) = NAMESPACE.as_ref() else {
            return Err(CollectError::invalid(
                &root,
                "internal regexp failed to compile",
            ));
        };
        for dev in devices {
            let dir = root.join(&dev);
            let fw = attr(&dir, "firmware_rev")?;
            let model = attr(&dir, "model")?;
            let serial = attr(&dir, "serial")?;
            let state = attr(&dir, "state")?;
            let cntlid = attr(&dir, "cntlid")?;
            out.gauge(
                "node_nvme_info",
                "Non-numeric data from /sys/class/nvme/<device>, value is always 1.",
                &[
                    ("device", &dev),
                    ("firmware_revision", &fw),
                    ("model", &model),
                    ("serial", &serial),
                    ("state", &state),
                    ("cntlid", &cntlid),
                ],
                1.0,
            );
            for entry in dir_names(&dir).map_err(|e| CollectError::io(&dir, e))? {
                let Some(nsid) = ns_re.captures(&entry).and_then(|c| c.get(1)) else {
                    continue;
                };
                let nsid = nsid.as_str();
                let ns = dir.join(&entry);
                let num = |f: &str| -> Result<u64, CollectError> {
                    Ok(attr(&ns, f)?.parse().unwrap_or(0))
                };
                let used = num("nuse")?;
                let size = num("size")?;
                let block = num("queue/logical_block_size")?;
                let ana = read_sys(&ns.join("ana_state")).unwrap_or_else(|_| "unknown".into());
                out.gauge(
                    "node_nvme_namespace_info",
                    "Information about NVMe namespaces. Value is always 1",
                    &[("device", &dev), ("nsid", nsid), ("ana_state", &ana)],
                    1.0,
                );
                let l = [("device", dev.as_str()), ("nsid", nsid)];
                out.gauge(
                    "node_nvme_namespace_capacity_bytes",
                    "Capacity of the NVMe namespace in bytes. Computed as namespace_size * namespace_logical_block_size",
                    &l,
                    size.wrapping_mul(block) as f64,
                );
                out.gauge(
                    "node_nvme_namespace_size_bytes",
                    "Size of the NVMe namespace in bytes. Available in /sys/class/nvme/<device>/<namespace>/size",
                    &l,
                    size.wrapping_mul(block) as f64,
                );
                out.gauge(
                    "node_nvme_namespace_used_bytes",
                    "Used space of the NVMe namespace in bytes. Available in /sys/class/nvme/<device>/<namespace>/nuse",
                    &l,
                    used.wrapping_mul(block) as f64,
                );
                out.gauge(
                    "node_nvme_namespace_logical_block_size_bytes",
                    "Logical block size of the NVMe namespace in bytes. Usually 4Kb. Available in /sys/class/nvme/<device>/<namespace>/queue/logical_block_size",
                    &l,
                    block as f64,
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
            samples(&collect_ok("nvme", &[])),
            [
                "node_nvme_info{cntlid=\"7\",device=\"nvme0\",firmware_revision=\"FW1.0\",model=\"Example NVMe 1TB\",serial=\"SN0001\",state=\"live\"} 1",
                "node_nvme_namespace_capacity_bytes{device=\"nvme0\",nsid=\"1\"} 1.024e+06",
                "node_nvme_namespace_info{ana_state=\"unknown\",device=\"nvme0\",nsid=\"1\"} 1",
                "node_nvme_namespace_logical_block_size_bytes{device=\"nvme0\",nsid=\"1\"} 512",
                "node_nvme_namespace_size_bytes{device=\"nvme0\",nsid=\"1\"} 1.024e+06",
                "node_nvme_namespace_used_bytes{device=\"nvme0\",nsid=\"1\"} 512000",
            ]
        );
    }

    #[test]
    fn absent_class_is_no_data() {
        let (r, text) = collect("nvme", &["--path.sysfs=/nonexistent"]);
        assert!(matches!(r, Err(crate::collectors::CollectError::NoData(_))));
        assert!(text.is_empty());
    }
}
