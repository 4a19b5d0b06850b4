//! `ipvs`: IP Virtual Server totals from `/proc/net/ip_vs_stats` and per-backend
//! connections and weights from `/proc/net/ip_vs`.
//!
//! Backends are summed over the labels `--collector.ipvs.backend-labels` keeps
//! (all six by default), as node_exporter sums them. A firewall-mark service
//! (`FWM`) has no local address or port: they read "" and 0. Addresses are printed
//! as Go prints them (an IPv4-mapped IPv6 address in dotted form).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::Error;
use crate::metrics::Out;
use crate::read::read_proc;

pub(crate) struct Ipvs(pub(crate) Arc<Config>);

/// Every backend label, in node_exporter's order.
pub(crate) const BACKEND_LABELS: [&str; 6] = [
    "local_address",
    "local_port",
    "remote_address",
    "remote_port",
    "proto",
    "local_mark",
];

/// The labels of `--collector.ipvs.backend-labels`, in node_exporter's order.
pub(crate) fn backend_labels(flag: &str) -> Result<Vec<&'static str>, Error> {
    let asked: Vec<&str> = flag.split(',').filter(|l| !l.is_empty()).collect();
    let mut unknown: Vec<&str> = asked
        .iter()
        .copied()
        .filter(|l| !BACKEND_LABELS.contains(l))
        .collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        unknown.dedup();
        return Err(Error::Flags(format!(
            "unknown IPVS backend labels: {:?}",
            unknown.join(", ")
        )));
    }
    Ok(BACKEND_LABELS
        .iter()
        .copied()
        .filter(|l| asked.contains(l))
        .collect())
}

/// One `->` line of /proc/net/ip_vs with its service.
#[derive(Debug, PartialEq)]
struct Backend {
    local_address: String,
    local_port: u16,
    local_mark: String,
    remote_address: String,
    remote_port: u16,
    proto: String,
    weight: u64,
    active: u64,
    inactive: u64,
}

impl Collector for Ipvs {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let stats_path = self.0.proc("net/ip_vs_stats");
        let text = match read_proc(&stats_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CollectError::NoData(
                    "ipvs collector metrics are not available for this system".into(),
                ));
            }
            Err(e) => return Err(CollectError::io(&stats_path, e)),
        };
        let totals = parse_stats(&text).map_err(|m| CollectError::invalid(&stats_path, m))?;
        let totals_meta = [
            (
                "node_ipvs_connections_total",
                "The total number of connections made.",
            ),
            (
                "node_ipvs_incoming_packets_total",
                "The total number of incoming packets.",
            ),
            (
                "node_ipvs_outgoing_packets_total",
                "The total number of outgoing packets.",
            ),
            (
                "node_ipvs_incoming_bytes_total",
                "The total amount of incoming data.",
            ),
            (
                "node_ipvs_outgoing_bytes_total",
                "The total amount of outgoing data.",
            ),
        ];
        for ((name, help), v) in totals_meta.iter().zip(totals) {
            out.counter(name, help, &[], v as f64);
        }

        let path = self.0.proc("net/ip_vs");
        let text = read_proc(&path).map_err(|e| CollectError::io(&path, e))?;
        let backends = parse_backends(&text).map_err(|m| CollectError::invalid(&path, m))?;
        let labels = &self.0.ipvs_labels;
        // Summed by the kept label values.
        let mut sums: BTreeMap<Vec<String>, (u64, u64, u64)> = BTreeMap::new();
        for b in backends {
            let values: Vec<String> = labels
                .iter()
                .map(|l| match *l {
                    "local_address" => b.local_address.clone(),
                    "local_port" => b.local_port.to_string(),
                    "remote_address" => b.remote_address.clone(),
                    "remote_port" => b.remote_port.to_string(),
                    "proto" => b.proto.clone(),
                    _ => b.local_mark.clone(),
                })
                .collect();
            let s = sums.entry(values).or_default();
            s.0 += b.active;
            s.1 += b.inactive;
            s.2 += b.weight;
        }
        for (values, (active, inactive, weight)) in sums {
            let l: Vec<(&str, &str)> = labels
                .iter()
                .copied()
                .zip(values.iter().map(String::as_str))
                .collect();
            out.gauge(
                "node_ipvs_backend_connections_active",
                "The current active connections by local and remote address.",
                &l,
                active as f64,
            );
            out.gauge(
                "node_ipvs_backend_connections_inactive",
                "The current inactive connections by local and remote address.",
                &l,
                inactive as f64,
            );
            out.gauge(
                "node_ipvs_backend_weight",
                "The current backend weight by local and remote address.",
                &l,
                weight as f64,
            );
        }
        Ok(())
    }
}

/// The five hexadecimal totals on the third line of ip_vs_stats.
fn parse_stats(text: &str) -> Result<[u64; 5], String> {
    let lines: Vec<&str> = text.splitn(4, '\n').collect();
    if lines.len() != 4 {
        return Err("ip_vs_stats corrupt: too short".into());
    }
    let fields: Vec<&str> = lines[2].split_whitespace().collect();
    if fields.len() != 5 {
        return Err("ip_vs_stats corrupt: unexpected number of fields".into());
    }
    let mut out = [0u64; 5];
    for (v, f) in out.iter_mut().zip(&fields) {
        *v = u64::from_str_radix(f, 16).map_err(|_| format!("invalid number {f:?}"))?;
    }
    Ok(out)
}

fn parse_backends(text: &str) -> Result<Vec<Backend>, String> {
    let mut out = Vec::new();
    let (mut proto, mut mark, mut addr, mut port) = (String::new(), String::new(), None, 0);
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(first), second) = (f.first(), f.get(1)) else {
            continue;
        };
        match (*first, second) {
            ("IP" | "Prot", _) | (_, Some(&"RemoteAddress:Port")) => {}
            ("TCP" | "UDP", Some(s)) => {
                proto = (*first).to_owned();
                mark.clear();
                let (a, p) = ip_port(s)?;
                (addr, port) = (Some(a), p);
            }
            ("FWM", Some(s)) => {
                proto = "FWM".into();
                mark = (*s).to_owned();
                (addr, port) = (None, 0);
            }
            ("->", _) if f.len() >= 6 => {
                let (remote, remote_port) = ip_port(f[1])?;
                let num = |s: &str| {
                    s.parse::<u64>()
                        .map_err(|_| format!("invalid number {s:?}"))
                };
                out.push(Backend {
                    local_address: addr.map(go_ip).unwrap_or_default(),
                    local_port: port,
                    local_mark: mark.clone(),
                    remote_address: go_ip(remote),
                    remote_port,
                    proto: proto.clone(),
                    weight: num(f[3])?,
                    active: num(f[4])?,
                    inactive: num(f[5])?,
                });
            }
            _ => {}
        }
    }
    Ok(out)
}

/// `C0A80016:0CEA` (IPv4) or `[2001:0db8:...:0001]:0CEA` (IPv6).
fn ip_port(s: &str) -> Result<(IpAddr, u16), String> {
    let bad = || format!("unexpected IP:Port {s:?}");
    let ip = match s.len() {
        13 => {
            let v = u32::from_str_radix(s.get(..8).ok_or_else(bad)?, 16).map_err(|_| bad())?;
            IpAddr::V4(Ipv4Addr::from(v))
        }
        46 => IpAddr::V6(
            s.get(1..40)
                .and_then(|a| a.parse::<Ipv6Addr>().ok())
                .ok_or_else(bad)?,
        ),
        _ => return Err(bad()),
    };
    let port = s
        .get(s.len() - 4..)
        .and_then(|p| u16::from_str_radix(p, 16).ok())
        .ok_or_else(bad)?;
    Ok((ip, port))
}

/// An address as Go's `net.IP.String` prints it.
fn go_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_backends() {
        let text = "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\nTCP  C0A80016:0CEA wlc\n  -> C0A85216:0CEA      Tunnel  100    248        2\nFWM  10001000 wlc\n  -> [2620:0000:0000:0000:0000:0000:0000:0001]:0CEA Route 20 64 1\n";
        let b = parse_backends(text).unwrap();
        assert_eq!(b[0].local_address, "192.168.0.22");
        assert_eq!(
            (b[0].local_port, b[0].weight, b[0].active),
            (3306, 100, 248)
        );
        assert_eq!(
            (b[1].local_address.as_str(), b[1].local_mark.as_str()),
            ("", "10001000")
        );
        assert_eq!(b[1].remote_address, "2620::1");
        assert!(parse_backends("TCP  zz:0CEA wlc\n").is_err());
    }

    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        let text = collect_ok("ipvs", &[]);
        let s = samples(&text);
        assert!(s.contains(&"node_ipvs_connections_total 42"));
        assert!(s.contains(&"node_ipvs_outgoing_bytes_total 128000"));
        assert!(s.contains(&"node_ipvs_backend_weight{local_address=\"10.0.0.1\",local_mark=\"\",local_port=\"80\",proto=\"TCP\",remote_address=\"10.0.1.2\",remote_port=\"8080\"} 1"));
        // Summed over the remote side when only the local labels are kept.
        let text = collect_ok(
            "ipvs",
            &["--collector.ipvs.backend-labels=local_address,local_port"],
        );
        assert!(text.contains(
            "node_ipvs_backend_connections_active{local_address=\"10.0.0.1\",local_port=\"80\"} 7\n"
        ));
        assert!(text.contains("node_ipvs_backend_connections_inactive{local_address=\"10.0.0.1\",local_port=\"80\"} 7\n"));
    }

    #[test]
    fn labels_flag() {
        assert_eq!(
            backend_labels("proto,local_port").unwrap(),
            ["local_port", "proto"]
        );
        assert!(backend_labels("proto,bogus").is_err());
        assert!(backend_labels("").unwrap().is_empty());
    }

    #[test]
    fn stats() {
        let t = "a\nb\n 16AA370 E33656E5 0 51D8C8883AB3 0\n\nrest";
        assert_eq!(parse_stats(t).unwrap()[0], 0x16AA370);
        assert!(parse_stats("a\nb\n").is_err());
    }
}
