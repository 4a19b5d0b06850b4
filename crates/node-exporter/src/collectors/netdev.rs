//! `netdev`: per-interface traffic counters, filtered by
//! `--collector.netdev.device-include`/`-exclude`.
//!
//! As node_exporter, the counters come over rtnetlink by default
//! (`--collector.netdev.netlink`, see [`crate::rtnetlink`]): the interfaces of the
//! exporter's network namespace, whatever `--path.procfs` says, with
//! `receive_nohandler`. `--no-collector.netdev.netlink` reads
//! `<procfs>/net/dev` instead. Unless `--collector.netdev.enable-detailed-metrics`,
//! netlink's detailed error counters are folded into /proc/net/dev's columns the way
//! the kernel folds them there (`receive_drop` = dropped + missed, and so on), and
//! either source's `errors`/`dropped` are spelled `errs`/`drop`.
//!
//! `--collector.netdev.address-info` adds `node_network_address_info` per IPv4
//! and IPv6 address of the (filtered) interfaces, from `getifaddrs(3)`: like the
//! netlink counters, those of the exporter's network namespace.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{read_file, read_sys};
use crate::rtnetlink;

pub(crate) struct NetDev(pub(crate) Arc<Config>);

/// /proc/net/dev's columns, under node_exporter's keys.
const COLUMNS: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errors",
    "receive_dropped",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errors",
    "transmit_dropped",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

/// node_exporter's keys for the fields of `rtnl_link_stats64` it exports.
const NETLINK_KEYS: [(&str, &str); 24] = [
    ("rx_packets", "receive_packets"),
    ("tx_packets", "transmit_packets"),
    ("rx_bytes", "receive_bytes"),
    ("tx_bytes", "transmit_bytes"),
    ("rx_errors", "receive_errors"),
    ("tx_errors", "transmit_errors"),
    ("rx_dropped", "receive_dropped"),
    ("tx_dropped", "transmit_dropped"),
    ("multicast", "multicast"),
    ("collisions", "collisions"),
    ("rx_length_errors", "receive_length_errors"),
    ("rx_over_errors", "receive_over_errors"),
    ("rx_crc_errors", "receive_crc_errors"),
    ("rx_frame_errors", "receive_frame_errors"),
    ("rx_fifo_errors", "receive_fifo_errors"),
    ("rx_missed_errors", "receive_missed_errors"),
    ("tx_aborted_errors", "transmit_aborted_errors"),
    ("tx_carrier_errors", "transmit_carrier_errors"),
    ("tx_fifo_errors", "transmit_fifo_errors"),
    ("tx_heartbeat_errors", "transmit_heartbeat_errors"),
    ("tx_window_errors", "transmit_window_errors"),
    ("rx_compressed", "receive_compressed"),
    ("tx_compressed", "transmit_compressed"),
    ("rx_nohandler", "receive_nohandler"),
];

/// One device's counters by key.
type Stats = Vec<(String, u64)>;

impl Collector for NetDev {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let devices = if self.0.netdev_netlink {
            self.netlink()?
        } else {
            self.proc_net_dev()?
        };
        for (dev, mut stats) in devices {
            if !self.0.netdev_detailed {
                legacy(&mut stats);
            }
            let ifalias = if self.0.netdev_label_ifalias {
                let p = self.0.sys("class/net").join(&dev).join("ifalias");
                Some(read_sys(&p).unwrap_or_default())
            } else {
                None
            };
            for (key, v) in stats {
                let mut labels = vec![("device", dev.as_str())];
                if let Some(a) = &ifalias {
                    labels.push(("ifalias", a));
                }
                out.counter(
                    &format!("node_network_{key}_total"),
                    &format!("Network device statistic {key}."),
                    &labels,
                    v as f64,
                );
            }
        }
        if self.0.netdev_address_info {
            let addrs = addresses().map_err(|e| CollectError::Io {
                path: "getifaddrs".into(),
                source: e,
            })?;
            for a in addrs {
                if self.0.netdev_filter.ignored(&a.device) {
                    continue;
                }
                out.gauge(
                    "node_network_address_info",
                    "node network address by device",
                    &[
                        ("device", &a.device),
                        ("address", &a.address),
                        ("netmask", &a.netmask),
                        ("scope", a.scope),
                    ],
                    1.0,
                );
            }
        }
        Ok(())
    }
}

/// One interface address, as node_exporter labels it.
#[derive(Debug, PartialEq)]
struct AddrInfo {
    device: String,
    address: String,
    /// The prefix length.
    netmask: String,
    scope: &'static str,
}

/// The IPv4 and IPv6 addresses of this network namespace's interfaces.
fn addresses() -> io::Result<Vec<AddrInfo>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        // SAFETY: the name and addresses, when not null, point into the same list.
        let (name, addr, mask) = unsafe {
            if ifa.ifa_name.is_null() {
                continue;
            }
            let name = std::ffi::CStr::from_ptr(ifa.ifa_name).to_string_lossy();
            (
                name,
                sockaddr_ip(ifa.ifa_addr),
                sockaddr_ip(ifa.ifa_netmask),
            )
        };
        let Some(addr) = addr else { continue };
        // glibc names an IPv4 address by its label (`eth0:1` for an alias);
        // node_exporter names the interface, and `:` is not allowed in one.
        let device = name.split(':').next().unwrap_or_default().to_owned();
        out.push(AddrInfo {
            device,
            address: go_ip_string(addr),
            netmask: mask.map_or(0, prefix_len).to_string(),
            scope: scope(addr),
        });
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// The IP address of an `AF_INET`/`AF_INET6` socket address.
///
/// # Safety
///
/// `sa` is null or points to a socket address as large as its family says.
unsafe fn sockaddr_ip(sa: *const libc::sockaddr) -> Option<IpAddr> {
    if sa.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees `sa` is valid for its family's size.
    unsafe {
        match i32::from((*sa).sa_family) {
            libc::AF_INET => {
                let sin = &*(sa as *const libc::sockaddr_in);
                Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                    sin.sin_addr.s_addr,
                ))))
            }
            libc::AF_INET6 => {
                let sin6 = &*(sa as *const libc::sockaddr_in6);
                Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
            }
            _ => None,
        }
    }
}

/// A netmask's prefix length; 0 for a non-contiguous one (Go's `IPMask.Size`).
fn prefix_len(mask: IpAddr) -> u32 {
    let (bits, ones) = match mask {
        IpAddr::V4(m) => (u128::from(u32::from(m)) << 96, u32::from(m).count_ones()),
        IpAddr::V6(m) => (u128::from(m), u128::from(m).count_ones()),
    };
    if bits.leading_ones() == ones { ones } else { 0 }
}

/// An address as Go's `net.IP.String` writes it (an IPv4-mapped IPv6 address in
/// dotted form).
fn go_ip_string(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// node_exporter's scope of an address.
fn scope(ip: IpAddr) -> &'static str {
    let (loopback, link_local_unicast, link_local_multicast, iface_local_multicast, global) =
        match ip {
            IpAddr::V4(a) => {
                let o = a.octets();
                let link_local = o[0] == 169 && o[1] == 254;
                (
                    a.is_loopback(),
                    link_local,
                    o[0] == 224 && o[1] == 0 && o[2] == 0,
                    false,
                    !a.is_broadcast()
                        && !a.is_unspecified()
                        && !a.is_loopback()
                        && !a.is_multicast()
                        && !link_local,
                )
            }
            IpAddr::V6(a) => {
                let o = a.octets();
                let link_local = o[0] == 0xfe && o[1] & 0xc0 == 0x80;
                let multicast = o[0] == 0xff;
                (
                    a.is_loopback(),
                    link_local,
                    multicast && o[1] & 0x0f == 0x02,
                    multicast && o[1] & 0x0f == 0x01,
                    !a.is_unspecified() && !a.is_loopback() && !multicast && !link_local,
                )
            }
        };
    if loopback || link_local_unicast || link_local_multicast {
        "link-local"
    } else if iface_local_multicast {
        "interface-local"
    } else if global {
        "global"
    } else {
        ""
    }
}

impl NetDev {
    fn netlink(&self) -> Result<Vec<(String, Stats)>, CollectError> {
        let links = rtnetlink::links().map_err(|e| CollectError::Io {
            path: "rtnetlink".into(),
            source: e,
        })?;
        let mut out = Vec::new();
        for link in links {
            if self.0.netdev_filter.ignored(&link.name) {
                continue;
            }
            let Some(v) = link.stats else { continue };
            let stats = NETLINK_KEYS
                .iter()
                .map(|(field, key)| ((*key).to_owned(), v[rtnetlink::field(field)]))
                .collect();
            out.push((link.name, stats));
        }
        Ok(out)
    }

    fn proc_net_dev(&self) -> Result<Vec<(String, Stats)>, CollectError> {
        let path = self.0.proc("net/dev");
        let text = read_file(&path)?;
        let mut out = Vec::new();
        for (dev, values) in parse(&text).map_err(|m| CollectError::invalid(&path, m))? {
            if self.0.netdev_filter.ignored(dev) {
                continue;
            }
            let stats = COLUMNS
                .iter()
                .zip(values)
                .map(|(k, v)| ((*k).to_owned(), v))
                .collect();
            out.push((dev.to_owned(), stats));
        }
        Ok(out)
    }
}

/// Folds the detailed counters into /proc/net/dev's, as the kernel's
/// `dev_seq_printf_stats` does, and renames them as node_exporter's `legacy` does.
fn legacy(stats: &mut Stats) {
    let mut take = |key: &str| -> Option<u64> {
        let i = stats.iter().position(|(k, _)| k == key)?;
        Some(stats.remove(i).1)
    };
    let mut folded: Vec<(&str, u64)> = Vec::new();
    if let Some(v) = take("receive_errors") {
        folded.push(("receive_errs", v));
    }
    if let Some(v) = take("receive_dropped") {
        folded.push((
            "receive_drop",
            v + take("receive_missed_errors").unwrap_or(0),
        ));
    }
    if let Some(v) = take("receive_fifo_errors") {
        folded.push(("receive_fifo", v));
    }
    if let Some(v) = take("receive_frame_errors") {
        let sum = [
            "receive_length_errors",
            "receive_over_errors",
            "receive_crc_errors",
        ]
        .iter()
        .map(|k| take(k).unwrap_or(0))
        .sum::<u64>();
        folded.push(("receive_frame", v + sum));
    }
    if let Some(v) = take("multicast") {
        folded.push(("receive_multicast", v));
    }
    if let Some(v) = take("transmit_errors") {
        folded.push(("transmit_errs", v));
    }
    if let Some(v) = take("transmit_dropped") {
        folded.push(("transmit_drop", v));
    }
    if let Some(v) = take("transmit_fifo_errors") {
        folded.push(("transmit_fifo", v));
    }
    if let Some(v) = take("collisions") {
        folded.push(("transmit_colls", v));
    }
    if let Some(v) = take("transmit_carrier_errors") {
        let sum = [
            "transmit_aborted_errors",
            "transmit_heartbeat_errors",
            "transmit_window_errors",
        ]
        .iter()
        .map(|k| take(k).unwrap_or(0))
        .sum::<u64>();
        folded.push(("transmit_carrier", v + sum));
    }
    stats.extend(folded.into_iter().map(|(k, v)| (k.to_owned(), v)));
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

    const PROC: &str = "--collector.netdev.netlink=false";

    #[test]
    fn fixture() {
        let text = collect_ok("netdev", &[PROC]);
        let s = samples(&text);
        assert!(s.contains(&"node_network_receive_bytes_total{device=\"eth0\"} 2.52761432e+08"));
        assert!(s.contains(&"node_network_transmit_carrier_total{device=\"eth0\"} 11"));
        assert!(s.contains(&"node_network_receive_errs_total{device=\"eth0\"} 1"));
        assert!(s.contains(&"node_network_receive_multicast_total{device=\"lo\"} 0"));
        assert!(text.contains("# HELP node_network_transmit_colls_total Network device statistic transmit_colls.\n# TYPE node_network_transmit_colls_total counter\n"));
        // /proc/net/dev has no rx_nohandler.
        assert!(!text.contains("nohandler"));
        assert_eq!(s.len(), 32);
    }

    #[test]
    fn detailed_and_ifalias() {
        let text = collect_ok(
            "netdev",
            &[
                PROC,
                "--collector.netdev.enable-detailed-metrics",
                "--collector.netdev.label-ifalias",
            ],
        );
        assert!(text.contains(
            "node_network_receive_errors_total{device=\"lo\",ifalias=\"uplink to switch\"} 0"
        ));
    }

    #[test]
    fn address_info() {
        let text = collect_ok(
            "netdev",
            &[
                PROC,
                "--collector.netdev.address-info",
                "--collector.netdev.device-include=^lo$",
            ],
        );
        assert!(text.contains("# HELP node_network_address_info node network address by device\n"));
        assert!(text.contains(
            "node_network_address_info{address=\"127.0.0.1\",device=\"lo\",netmask=\"8\",scope=\"link-local\"} 1"
        ));
        assert!(!text.contains("device=\"eth"));
        let text = collect_ok("netdev", &[PROC]);
        assert!(!text.contains("node_network_address_info"));
    }

    #[test]
    fn scopes_and_masks() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(scope(ip("10.0.0.1")), "global");
        assert_eq!(scope(ip("169.254.1.1")), "link-local");
        assert_eq!(scope(ip("224.0.0.251")), "link-local");
        assert_eq!(scope(ip("255.255.255.255")), "");
        assert_eq!(scope(ip("fe80::1")), "link-local");
        assert_eq!(scope(ip("ff01::1")), "interface-local");
        assert_eq!(scope(ip("2001:db8::1")), "global");
        assert_eq!(scope(ip("::")), "");
        assert_eq!(prefix_len(ip("255.255.255.0")), 24);
        assert_eq!(prefix_len(ip("255.0.255.0")), 0);
        assert_eq!(prefix_len(ip("ffff:ffff:ffff:ffff::")), 64);
        assert_eq!(go_ip_string(ip("::ffff:10.0.0.1")), "10.0.0.1");
    }

    #[test]
    fn netlink_reads_this_namespace() {
        let text = collect_ok("netdev", &["--collector.netdev.device-include=^lo$"]);
        assert!(text.contains("node_network_receive_nohandler_total{device=\"lo\"}"));
        assert!(text.contains("node_network_transmit_colls_total{device=\"lo\"}"));
        assert!(!text.contains("_errors_total"));
    }

    #[test]
    fn folds_like_the_kernel() {
        let mut stats: Stats = NETLINK_KEYS
            .iter()
            .enumerate()
            .map(|(i, (_, k))| ((*k).to_owned(), i as u64))
            .collect();
        legacy(&mut stats);
        let get = |k: &str| stats.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
        // dropped (6) + missed (15); frame (13) + length (10) + over (11) + crc (12).
        assert_eq!(get("receive_drop"), Some(21));
        assert_eq!(get("receive_frame"), Some(46));
        // carrier (17) + aborted (16) + heartbeat (19) + window (20).
        assert_eq!(get("transmit_carrier"), Some(72));
        assert_eq!(stats.len(), 17);
    }

    #[test]
    fn filters() {
        let text = collect_ok("netdev", &[PROC, "--collector.netdev.device-exclude=^lo$"]);
        assert!(!text.contains("\"lo\""));
        let text = collect_ok("netdev", &[PROC, "--collector.netdev.device-include=^lo$"]);
        assert!(!text.contains("\"eth0\""));
    }

    #[test]
    fn garbage_fails() {
        assert!(parse("h\nh\neth0 1 2\n").is_err());
        assert!(parse("h\nh\neth0: 1 2 3\n").is_err());
        assert!(parse("h\nh\n: 1\n").is_err());
    }
}
