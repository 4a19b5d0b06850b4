//! `fibrechannel`: Fibre Channel host adapters from `/sys/class/fc_host/<host>`:
//! `node_fibrechannel_info` with the host's attributes (the `0x` of the WWN-style
//! ones taken off, as procfs does) and the `statistics/` counters. A counter reading
//! all ones (`0xffffffffffffffff`) is one the HBA firmware does not implement and is
//! left out; a host whose port state is missing or `Unknown` reports its counters as
//! 0, as node_exporter does for a disabled host.
//!
//! Deliberate difference: a counter file missing on an enabled host is left out,
//! where node_exporter dereferences a nil pointer and crashes.

use std::io;
use std::path::Path;
use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{dir_entries, is_absent, parse_uint_base0, read_sys};

pub(crate) struct FibreChannel(pub(crate) Arc<Config>);

/// Statistics files: (file, metric suffix, help), in node_exporter's order.
const COUNTERS: [(&str, &str, &str); 14] = [
    (
        "dumped_frames",
        "dumped_frames_total",
        "Number of dumped frames",
    ),
    (
        "error_frames",
        "error_frames_total",
        "Number of errors in frames",
    ),
    (
        "invalid_crc_count",
        "invalid_crc_total",
        "Invalid Cyclic Redundancy Check count",
    ),
    ("rx_frames", "rx_frames_total", "Number of frames received"),
    (
        "rx_words",
        "rx_words_total",
        "Number of words received by host port",
    ),
    (
        "tx_frames",
        "tx_frames_total",
        "Number of frames transmitted by host port",
    ),
    (
        "tx_words",
        "tx_words_total",
        "Number of words transmitted by host port",
    ),
    (
        "seconds_since_last_reset",
        "seconds_since_last_reset_total",
        "Number of seconds since last host port reset",
    ),
    (
        "invalid_tx_word_count",
        "invalid_tx_words_total",
        "Number of invalid words transmitted by host port",
    ),
    (
        "link_failure_count",
        "link_failure_total",
        "Number of times the host port link has failed",
    ),
    (
        "loss_of_sync_count",
        "loss_of_sync_total",
        "Number of failures on either bit or transmission word boundaries",
    ),
    (
        "loss_of_signal_count",
        "loss_of_signal_total",
        "Number of times signal has been lost",
    ),
    (
        "nos_count",
        "nos_total",
        "Number Not_Operational Primitive Sequence received by host port",
    ),
    (
        "fcp_packet_aborts",
        "fcp_packet_aborts_total",
        "Number of aborted packets",
    ),
];

/// The info labels after `fc_host`, each the host attribute of the same name.
const INFO: [&str; 10] = [
    "speed",
    "port_state",
    "port_type",
    "port_id",
    "port_name",
    "fabric_name",
    "symbolic_name",
    "supported_classes",
    "supported_speeds",
    "dev_loss_tmo",
];

/// Attributes holding a `0x`-prefixed identifier.
const HEX_IDS: [&str; 4] = ["node_name", "port_id", "port_name", "fabric_name"];

impl Collector for FibreChannel {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let root = self.0.sys("class/fc_host");
        let hosts = match dir_entries(&root) {
            Ok(h) => h,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(CollectError::NoData(format!(
                    "fibrechannel statistics not found: {e}"
                )));
            }
            Err(e) => return Err(CollectError::io(&root, e)),
        };
        for (host, _) in hosts {
            self.host(out, &root.join(&host), &host)?;
        }
        Ok(())
    }
}

impl FibreChannel {
    fn host(&self, out: &mut Out, dir: &Path, host: &str) -> Result<(), CollectError> {
        let mut info: Vec<(&str, Option<String>)> = Vec::with_capacity(INFO.len() + 1);
        for attr in INFO.iter().chain(["node_name"].iter()) {
            let p = dir.join(attr);
            let value = match read_sys(&p) {
                Ok(v) => Some(v),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(CollectError::io(&p, e)),
            };
            let value = value.map(|v| {
                if HEX_IDS.contains(attr) && v.len() > 2 {
                    v[2..].to_owned()
                } else {
                    v
                }
            });
            info.push((attr, value));
        }
        let counters = statistics(&dir.join("statistics"))?;

        let mut labels: Vec<(&str, &str)> = vec![("fc_host", host)];
        for (attr, value) in info.iter().take(INFO.len()) {
            labels.push((attr, value.as_deref().unwrap_or("")));
        }
        out.gauge(
            "node_fibrechannel_info",
            "Non-numeric data from /sys/class/fc_host/<host>, value is always 1.",
            &labels,
            1.0,
        );
        let port_state = info.iter().find(|(a, _)| *a == "port_state");
        let disabled = !matches!(port_state, Some((_, Some(s))) if s != "Unknown");
        for ((_, suffix, help), value) in COUNTERS.iter().zip(counters) {
            let value = if disabled { Some(0) } else { value };
            // All ones: not implemented by the HBA firmware.
            if let Some(v) = value.filter(|v| *v != u64::MAX) {
                out.counter(
                    &format!("node_fibrechannel_{suffix}"),
                    help,
                    &[("fc_host", host)],
                    v as f64,
                );
            }
        }
        Ok(())
    }
}

/// The counters of a host's `statistics/` directory, in [`COUNTERS`] order; none
/// when the directory is missing.
fn statistics(dir: &Path) -> Result<[Option<u64>; COUNTERS.len()], CollectError> {
    let mut values = [None; COUNTERS.len()];
    let files = match dir_entries(dir) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(values),
        Err(e) => return Err(CollectError::io(dir, e)),
    };
    for (slot, (file, ..)) in values.iter_mut().zip(COUNTERS) {
        if !files.iter().any(|(n, t)| n == file && t.is_file()) {
            continue;
        }
        let p = dir.join(file);
        let text = match read_sys(&p) {
            Ok(t) => t,
            Err(e) if is_absent(&e) => continue,
            Err(e) => return Err(CollectError::io(&p, e)),
        };
        *slot = Some(parse_uint_base0(&text).ok_or_else(|| {
            CollectError::invalid(&p, format!("not an unsigned integer: {text:?}"))
        })?);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        let text = collect_ok("fibrechannel", &[]);
        let has = |l: &str| assert!(text.lines().any(|x| x == l), "missing {l:?} in\n{text}");
        has(
            "node_fibrechannel_info{dev_loss_tmo=\"30\",fabric_name=\"0\",fc_host=\"host0\",port_id=\"000002\",port_name=\"1000e0071bce95f2\",port_state=\"Online\",port_type=\"Point-To-Point (direct nport connection)\",speed=\"16 Gbit\",supported_classes=\"Class 3\",supported_speeds=\"4 Gbit, 8 Gbit, 16 Gbit\",symbolic_name=\"Emulex SN1100E2P\"} 1",
        );
        has("node_fibrechannel_fcp_packet_aborts_total{fc_host=\"host0\"} 19");
        has("node_fibrechannel_rx_frames_total{fc_host=\"host0\"} 3");
        has("node_fibrechannel_tx_words_total{fc_host=\"host0\"} 0");
        // All ones is not implemented.
        assert!(!text.contains("node_fibrechannel_dumped_frames_total{fc_host=\"host0\"}"));
    }

    #[test]
    fn disabled_host() {
        // A host without a port state (node_exporter 1.5 failed on the missing
        // attributes) reports zeros.
        let [_, sysfs] = newer();
        let text = collect_ok("fibrechannel", &[&sysfs]);
        let has = |l: &str| assert!(text.lines().any(|x| x == l), "missing {l:?} in\n{text}");
        has("node_fibrechannel_rx_frames_total{fc_host=\"host1\"} 0");
        has("node_fibrechannel_dumped_frames_total{fc_host=\"host1\"} 0");
        has(
            "node_fibrechannel_info{dev_loss_tmo=\"30\",fabric_name=\"\",fc_host=\"host1\",port_id=\"\",port_name=\"\",port_state=\"\",port_type=\"\",speed=\"\",supported_classes=\"\",supported_speeds=\"\",symbolic_name=\"\"} 1",
        );
    }
}
