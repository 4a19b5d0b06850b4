//! `infiniband`: InfiniBand (and RoCE) adapters from `/sys/class/infiniband`:
//! `node_infiniband_info` per device (board, firmware, HCA type), and per port its
//! state, physical state, rate, the `counters/` and `counters_ext/` port counters
//! and the `hw_counters/` driver counters, filtered by
//! `--collector.infiniband.device-include`/`-exclude`.
//!
//! As procfs: the data counters count 4-byte words and are reported in bytes; a
//! counter file that is absent, unreadable or answers `N/A (no PMA)` is left out;
//! the rate (`40 Gb/sec (4X QDR)`) is read as a 32-bit float and converted to bytes
//! per second; `lifespan` is milliseconds reported as whole seconds.
//!
//! Deliberate difference: a device whose attributes cannot be read is an error for
//! the collector, as in node_exporter, but a port directory whose name is not a
//! number is skipped rather than failing the scrape.

use std::io;
use std::path::Path;
use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{dir_entries, is_absent, parse_uint_base0, read_limited, read_sys};

pub(crate) struct Infiniband(pub(crate) Arc<Config>);

/// Counter files: (file, metric suffix, help, whether in 4-byte words).
type Counter = (&'static str, &'static str, &'static str, bool);

/// `counters_ext/`: the 64-bit "legacy" port counters.
const COUNTERS_EXT: &[Counter] = &[
    (
        "port_multicast_rcv_packets",
        "legacy_multicast_packets_received_total",
        "Number of multicast packets received",
        false,
    ),
    (
        "port_multicast_xmit_packets",
        "legacy_multicast_packets_transmitted_total",
        "Number of multicast packets transmitted",
        false,
    ),
    (
        "port_rcv_data_64",
        "legacy_data_received_bytes_total",
        "Number of data octets received on all links",
        true,
    ),
    (
        "port_rcv_packets_64",
        "legacy_packets_received_total",
        "Number of data packets received on all links",
        false,
    ),
    (
        "port_unicast_rcv_packets",
        "legacy_unicast_packets_received_total",
        "Number of unicast packets received",
        false,
    ),
    (
        "port_unicast_xmit_packets",
        "legacy_unicast_packets_transmitted_total",
        "Number of unicast packets transmitted",
        false,
    ),
    (
        "port_xmit_data_64",
        "legacy_data_transmitted_bytes_total",
        "Number of data octets transmitted on all links",
        true,
    ),
    (
        "port_xmit_packets_64",
        "legacy_packets_transmitted_total",
        "Number of data packets received on all links",
        false,
    ),
];

/// `counters/`: the port counters.
const COUNTERS: &[Counter] = &[
    (
        "excessive_buffer_overrun_errors",
        "excessive_buffer_overrun_errors_total",
        "Number of times that OverrunErrors consecutive flow control update periods occurred, each having at least one overrun error.",
        false,
    ),
    (
        "link_downed",
        "link_downed_total",
        "Number of times the link failed to recover from an error state and went down",
        false,
    ),
    (
        "link_error_recovery",
        "link_error_recovery_total",
        "Number of times the link successfully recovered from an error state",
        false,
    ),
    (
        "local_link_integrity_errors",
        "local_link_integrity_errors_total",
        "Number of times that the count of local physical errors exceeded the threshold specified by LocalPhyErrors.",
        false,
    ),
    (
        "multicast_rcv_packets",
        "multicast_packets_received_total",
        "Number of multicast packets received (including errors)",
        false,
    ),
    (
        "multicast_xmit_packets",
        "multicast_packets_transmitted_total",
        "Number of multicast packets transmitted (including errors)",
        false,
    ),
    (
        "port_rcv_constraint_errors",
        "port_constraint_errors_received_total",
        "Number of packets received on the switch physical port that are discarded",
        false,
    ),
    (
        "port_xmit_constraint_errors",
        "port_constraint_errors_transmitted_total",
        "Number of packets not transmitted from the switch physical port",
        false,
    ),
    (
        "port_rcv_data",
        "port_data_received_bytes_total",
        "Number of data octets received on all links",
        true,
    ),
    (
        "port_xmit_data",
        "port_data_transmitted_bytes_total",
        "Number of data octets transmitted on all links",
        true,
    ),
    (
        "port_rcv_discards",
        "port_discards_received_total",
        "Number of inbound packets discarded by the port because the port is down or congested",
        false,
    ),
    (
        "port_xmit_discards",
        "port_discards_transmitted_total",
        "Number of outbound packets discarded by the port because the port is down or congested",
        false,
    ),
    (
        "port_rcv_errors",
        "port_errors_received_total",
        "Number of packets containing an error that were received on this port",
        false,
    ),
    (
        "port_rcv_packets",
        "port_packets_received_total",
        "Number of packets received on all VLs by this port (including errors)",
        false,
    ),
    (
        "port_xmit_packets",
        "port_packets_transmitted_total",
        "Number of packets transmitted on all VLs from this port (including errors)",
        false,
    ),
    (
        "port_xmit_wait",
        "port_transmit_wait_total",
        "Number of ticks during which the port had data to transmit but no data was sent during the entire tick",
        false,
    ),
    (
        "unicast_rcv_packets",
        "unicast_packets_received_total",
        "Number of unicast packets received (including errors)",
        false,
    ),
    (
        "unicast_xmit_packets",
        "unicast_packets_transmitted_total",
        "Number of unicast packets transmitted (including errors)",
        false,
    ),
    (
        "port_rcv_remote_physical_errors",
        "port_receive_remote_physical_errors_total",
        "Number of packets marked with the EBP (End of Bad Packet) delimiter received on the port.",
        false,
    ),
    (
        "port_rcv_switch_relay_errors",
        "port_receive_switch_relay_errors_total",
        "Number of packets that could not be forwarded by the switch.",
        false,
    ),
    (
        "symbol_error",
        "symbol_error_total",
        "Number of minor link errors detected on one or more physical lanes.",
        false,
    ),
    (
        "VL15_dropped",
        "vl15_dropped_total",
        "Number of incoming VL15 packets dropped due to resource limitations.",
        false,
    ),
];

/// `hw_counters/`: driver counters (mlx5's, documented by NVIDIA).
const HW_COUNTERS: &[Counter] = &[
    (
        "duplicate_request",
        "duplicate_requests_packets_total",
        "The number of received packets. A duplicate request is a request that had been previously executed.",
        false,
    ),
    (
        "implied_nak_seq_err",
        "implied_nak_seq_errors_total",
        "The number of time the requested decided an ACK. with a PSN larger than the expected PSN for an RDMA read or response.",
        false,
    ),
    (
        "local_ack_timeout_err",
        "local_ack_timeout_errors_total",
        "The number of times QP's ack timer expired for RC, XRC, DCT QPs at the sender side. The QP retry limit was not exceed, therefore it is still recoverable error.",
        false,
    ),
    (
        "np_cnp_sent",
        "np_cnp_packets_sent_total",
        "The number of CNP packets sent by the Notification Point when it noticed congestion experienced in the RoCEv2 IP header (ECN bits). The counters was added in MLNX_OFED 4.1",
        false,
    ),
    (
        "np_ecn_marked_roce_packets",
        "np_ecn_marked_roce_packets_received_total",
        "The number of RoCEv2 packets received by the notification point which were marked for experiencing the congestion (ECN bits where '11' on the ingress RoCE traffic) . The counters was added in MLNX_OFED 4.1",
        false,
    ),
    (
        "out_of_buffer",
        "out_of_buffer_drops_total",
        "The number of drops occurred due to lack of WQE for the associated QPs.",
        false,
    ),
    (
        "out_of_sequence",
        "out_of_sequence_packets_received_total",
        "The number of out of sequence packets received.",
        false,
    ),
    (
        "packet_seq_err",
        "packet_sequence_errors_total",
        "The number of received NAK sequence error packets. The QP retry limit was not exceeded.",
        false,
    ),
    (
        "req_cqe_error",
        "req_cqes_errors_total",
        "The number of times requester detected CQEs completed with errors. The counters was added in MLNX_OFED 4.1",
        false,
    ),
    (
        "req_cqe_flush_error",
        "req_cqes_flush_errors_total",
        "The number of times requester detected CQEs completed with flushed errors. The counters was added in MLNX_OFED 4.1",
        false,
    ),
    (
        "req_remote_access_errors",
        "req_remote_access_errors_total",
        "The number of times requester detected remote access errors. The counters was added in MLNX_OFED 4.1",
        false,
    ),
    (
        "req_remote_invalid_request",
        "req_remote_invalid_request_errors_total",
        "The number of times requester detected remote invalid request errors. The counters was added in MLNX_OFED 4.1",
        false,
    ),
    (
        "resp_cqe_error",
        "resp_cqes_errors_total",
        "The number of times responder detected CQEs completed with errors. The counters was added in MLNX_OFED 4.1",
        false,
    ),
    (
        "resp_cqe_flush_error",
        "resp_cqes_flush_errors_total",
        "The number of times responder detected CQEs completed with flushed errors. The counters was added in MLNX_OFED 4.1",
        false,
    ),
    (
        "resp_local_length_error",
        "resp_local_length_errors_total",
        "The number of times responder detected local length errors. The counters was added in MLNX_OFED 4.1",
        false,
    ),
    (
        "resp_remote_access_errors",
        "resp_remote_access_errors_total",
        "The number of times responder detected remote access errors. The counters was added in MLNX_OFED 4.1",
        false,
    ),
    (
        "rnr_nak_retry_err",
        "rnr_nak_retry_packets_received_total",
        "The number of received RNR NAK packets. The QP retry limit was not exceeded.",
        false,
    ),
    (
        "roce_adp_retrans",
        "roce_adp_retransmits_total",
        "The number of adaptive retransmissions for RoCE traffic. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0",
        false,
    ),
    (
        "roce_adp_retrans_to",
        "roce_adp_retransmits_timeout_total",
        "The number of times RoCE traffic reached timeout due to adaptive retransmission. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0",
        false,
    ),
    (
        "roce_slow_restart",
        "roce_slow_restart_used_total",
        "The number of times RoCE slow restart was used. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0",
        false,
    ),
    (
        "roce_slow_restart_cnps",
        "roce_slow_restart_cnps_total",
        "The number of times RoCE slow restart generated CNP packets. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0",
        false,
    ),
    (
        "roce_slow_restart_trans",
        "roce_slow_restart_total",
        "The number of times RoCE slow restart changed state to slow restart. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0",
        false,
    ),
    (
        "rp_cnp_handled",
        "rp_cnp_packets_handled_total",
        "The number of CNP packets handled by the Reaction Point HCA to throttle the transmission rate. The counters was added in MLNX_OFED 4.1",
        false,
    ),
    (
        "rp_cnp_ignored",
        "rp_cnp_ignored_packets_received_total",
        "The number of CNP packets received and ignored by the Reaction Point HCA. This counter should not raise if RoCE Congestion Control was enabled in the network. If this counter raise, verify that ECN was enabled on the adapter.",
        false,
    ),
    (
        "rx_atomic_requests",
        "rx_atomic_requests_total",
        "The number of received ATOMIC request for the associated QPs.",
        false,
    ),
    (
        "rx_dct_connect",
        "rx_dct_connect_requests_total",
        "The number of received connection requests for the associated DCTs.",
        false,
    ),
    (
        "rx_read_requests",
        "rx_read_requests_total",
        "The number of received READ requests for the associated QPs.",
        false,
    ),
    (
        "rx_write_requests",
        "rx_write_requests_total",
        "The number of received WRITE requests for the associated QPs.",
        false,
    ),
    (
        "rx_icrc_encapsulated",
        "rx_icrc_encapsulated_errors_total",
        "The number of RoCE packets with ICRC errors. This counter was added in MLNX_OFED 4.4 and kernel 4.19",
        false,
    ),
];

const LIFESPAN_HELP: &str = "The maximum period in ms which defines the aging of the counter reads. Two consecutive reads within this period might return the same values.";

impl Collector for Infiniband {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let root = self.0.sys("class/infiniband");
        let devices = match dir_entries(&root) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(CollectError::NoData(format!(
                    "infiniband statistics not found: {e}"
                )));
            }
            Err(e) => return Err(CollectError::io(&root, e)),
        };
        for (name, _) in devices {
            if self.0.infiniband_filter.ignored(&name) {
                continue;
            }
            device(out, &root.join(&name), &name)?;
        }
        Ok(())
    }
}

/// One adapter: its info and every port.
fn device(out: &mut Out, dir: &Path, name: &str) -> Result<(), CollectError> {
    let fw = dir.join("fw_ver");
    let firmware = read_sys(&fw).map_err(|e| CollectError::io(&fw, e))?;
    let optional = |f: &str| -> Result<String, CollectError> {
        let p = dir.join(f);
        match read_sys(&p) {
            Ok(s) => Ok(s),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(CollectError::io(&p, e)),
        }
    };
    let board = optional("board_id")?;
    let hca = optional("hca_type")?;
    optional("node_guid")?;
    out.gauge(
        "node_infiniband_info",
        "Non-numeric data from /sys/class/infiniband/<device>, value is always 1.",
        &[
            ("device", name),
            ("board_id", &board),
            ("firmware_version", &firmware),
            ("hca_type", &hca),
        ],
        1.0,
    );
    let ports_dir = dir.join("ports");
    let mut ports = Vec::new();
    for (p, _) in dir_entries(&ports_dir).map_err(|e| CollectError::io(&ports_dir, e))? {
        if let Ok(n) = p.parse::<u32>() {
            ports.push((n, p));
        }
    }
    ports.sort();
    for (number, p) in ports {
        port(out, &ports_dir.join(&p), name, &number.to_string())?;
    }
    Ok(())
}

/// One port: state, rate and counters.
fn port(out: &mut Out, dir: &Path, device: &str, port: &str) -> Result<(), CollectError> {
    let read = |f: &str| -> Result<String, CollectError> {
        let p = dir.join(f);
        read_limited(&p, 4096).map_err(|e| CollectError::io(&p, e))
    };
    read("link_layer")?;
    let state =
        state_id(&read("state")?).map_err(|m| CollectError::invalid(&dir.join("state"), m))?;
    let phys = state_id(&read("phys_state")?)
        .map_err(|m| CollectError::invalid(&dir.join("phys_state"), m))?;
    let rate = rate(&read("rate")?).map_err(|m| CollectError::invalid(&dir.join("rate"), m))?;
    let l = [("device", device), ("port", port)];
    out.gauge(
        "node_infiniband_state_id",
        "State of the InfiniBand port (0: no change, 1: down, 2: init, 3: armed, 4: active, 5: act defer)",
        &l,
        state as f64,
    );
    out.gauge(
        "node_infiniband_physical_state_id",
        "Physical state of the InfiniBand port (0: no change, 1: sleep, 2: polling, 3: disable, 4: shift, 5: link up, 6: link error recover, 7: phytest)",
        &l,
        phys as f64,
    );
    out.gauge(
        "node_infiniband_rate_bytes_per_second",
        "Maximum signal transfer rate",
        &l,
        rate as f64,
    );
    // procfs reads counters_ext only when counters/ exists.
    if dir.join("counters").exists() {
        counters(out, &dir.join("counters"), COUNTERS, &l, true)?;
        counters(out, &dir.join("counters_ext"), COUNTERS_EXT, &l, false)?;
    }
    let hw = dir.join("hw_counters");
    if hw.exists() {
        if let Some(ms) = counter_value(&hw, "lifespan")? {
            out.gauge(
                "node_infiniband_lifespan_seconds",
                LIFESPAN_HELP,
                &l,
                (ms / 1000) as f64,
            );
        }
        counters(out, &hw, HW_COUNTERS, &l, true)?;
    }
    Ok(())
}

/// The counters of one directory that exist; a missing directory has none unless
/// `required`.
fn counters(
    out: &mut Out,
    dir: &Path,
    table: &[Counter],
    labels: &[(&str, &str)],
    required: bool,
) -> Result<(), CollectError> {
    let files = match dir_entries(dir) {
        Ok(f) => f,
        Err(e) if !required && e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(CollectError::io(dir, e)),
    };
    for (file, suffix, help, words) in table {
        // Only regular files count, as procfs lists them.
        if !files.iter().any(|(n, t)| n == file && t.is_file()) {
            continue;
        }
        if let Some(v) = counter_value(dir, file)? {
            let v = if *words { v.wrapping_mul(4) } else { v };
            out.counter(&format!("node_infiniband_{suffix}"), help, labels, v as f64);
        }
    }
    Ok(())
}

/// A counter file's value; `None` when it cannot be read or has no value.
fn counter_value(dir: &Path, file: &str) -> Result<Option<u64>, CollectError> {
    let p = dir.join(file);
    let text = match read_sys(&p) {
        Ok(t) => t,
        Err(e) if is_absent(&e) => return Ok(None),
        Err(e) => return Err(CollectError::io(&p, e)),
    };
    match parse_uint_base0(&text) {
        Some(v) => Ok(Some(v)),
        // The port has no performance management agent.
        None if text.contains("N/A (no PMA)") => Ok(None),
        None => Err(CollectError::invalid(
            &p,
            format!("not an unsigned integer: {text:?}"),
        )),
    }
}

/// The number of a `state`/`phys_state` file (`4: ACTIVE`).
fn state_id(s: &str) -> Result<u32, String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 2 {
        return Err(format!("failed to split {s:?} into 'ID: NAME'"));
    }
    parts[0]
        .trim()
        .parse()
        .map_err(|_| format!("bad state number in {s:?}"))
}

/// The `rate` file (`40 Gb/sec (4X QDR)`) in bytes per second. procfs parses the
/// number as a 32-bit float, so a fractional rate rounds as it does there.
fn rate(s: &str) -> Result<u64, String> {
    let Some((num, _)) = s.split_once(' ') else {
        return Err(format!("failed to split {s:?}"));
    };
    let v: f32 = num
        .trim()
        .parse()
        .map_err(|_| format!("bad rate in {s:?}"))?;
    Ok((f64::from(v) * 125_000_000.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        let text = collect_ok("infiniband", &[]);
        let has = |l: &str| assert!(text.lines().any(|x| x == l), "missing {l:?} in\n{text}");
        has(
            "node_infiniband_info{board_id=\"SM_1141000001000\",device=\"mlx4_0\",firmware_version=\"2.31.5050\",hca_type=\"MT4099\"} 1",
        );
        has("node_infiniband_state_id{device=\"mlx4_0\",port=\"1\"} 4");
        has("node_infiniband_physical_state_id{device=\"mlx4_0\",port=\"1\"} 5");
        has("node_infiniband_rate_bytes_per_second{device=\"mlx4_0\",port=\"1\"} 5e+09");
        has("node_infiniband_port_data_received_bytes_total{device=\"mlx4_0\",port=\"1\"} 8");
        has("node_infiniband_legacy_data_transmitted_bytes_total{device=\"mlx4_0\",port=\"1\"} 40");
        has("node_infiniband_link_downed_total{device=\"mlx4_0\",port=\"1\"} 16");
        has("node_infiniband_lifespan_seconds{device=\"mlx4_0\",port=\"1\"} 0");
        has("node_infiniband_out_of_buffer_drops_total{device=\"mlx4_0\",port=\"1\"} 3");
        // `N/A (no PMA)` counters are left out.
        assert!(!text.contains("node_infiniband_symbol_error_total"));
        let text = collect_ok("infiniband", &["--collector.infiniband.device-exclude=mlx"]);
        assert!(samples(&text).is_empty());
    }

    #[test]
    fn parsing() {
        assert_eq!(rate("2.5 Gb/sec (1X SDR)"), Ok(312_500_000));
        assert_eq!(rate("14.0625 Gb/sec"), Ok(1_757_812_500));
        assert!(rate("40").is_err());
        assert_eq!(state_id("4: ACTIVE"), Ok(4));
        assert!(state_id("ACTIVE").is_err());
    }
}
