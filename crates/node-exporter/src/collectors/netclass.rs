//! `netclass`: interface properties from `/sys/class/net/<iface>` (state, MTU,
//! speed, carrier changes, ...), skipping `--collector.netclass.ignored-devices`.
//!
//! `--collector.netclass.netlink` (off by default in node_exporter, which then reads
//! the same properties over rtnetlink) is accepted and ignored: Ember always reads
//! sysfs.

use std::sync::Arc;

use ember_exposition::MetricType;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{Dir, is_absent, parse_int_base0};

pub(crate) struct NetClass(pub(crate) Arc<Config>);

/// A numeric property: the sysfs file, the family and its help (node_exporter's
/// `node_network_<suffix>` and "Network device property: <suffix>", spelled out so a
/// scrape does not format them for every interface), and whether it is a counter.
struct Property {
    file: &'static str,
    name: &'static str,
    help: &'static str,
    counter: bool,
}

/// Builds a [`Property`] from the file and the family's suffix.
macro_rules! property {
    ($file:literal, $suffix:literal, $counter:literal) => {
        Property {
            file: $file,
            name: concat!("node_network_", $suffix),
            help: concat!("Network device property: ", $suffix),
            counter: $counter,
        }
    };
}

/// The numeric properties, in node_exporter's order.
const NUMERIC: [Property; 15] = [
    property!("addr_assign_type", "address_assign_type", false),
    property!("carrier", "carrier", false),
    property!("carrier_changes", "carrier_changes_total", true),
    property!("carrier_up_count", "carrier_up_changes_total", true),
    property!("carrier_down_count", "carrier_down_changes_total", true),
    property!("dev_id", "device_id", false),
    property!("dormant", "dormant", false),
    property!("flags", "flags", false),
    property!("ifindex", "iface_id", false),
    property!("iflink", "iface_link", false),
    property!("link_mode", "iface_link_mode", false),
    property!("mtu", "mtu_bytes", false),
    property!("name_assign_type", "name_assign_type", false),
    property!("netdev_group", "net_dev_group", false),
    property!("tx_queue_len", "transmit_queue_length", false),
];

/// `speed`, as bytes per second.
const SPEED: Property = property!("speed", "speed_bytes", false);
/// `type`.
const PROTOCOL_TYPE: Property = property!("type", "protocol_type", false);

impl Collector for NetClass {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let root = self.0.sys("class/net");
        let entries = match std::fs::read_dir(&root) {
            Ok(rd) => rd,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                ) =>
            {
                return Err(CollectError::NoData(format!(
                    "could not read {}: {e}",
                    root.display()
                )));
            }
            Err(e) => return Err(CollectError::io(&root, e)),
        };
        let mut devices = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| CollectError::io(&root, e))?;
            // Interfaces are symlinks (or directories); `bonding_masters` is a file.
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            if let Some(name) = entry.file_name().to_str() {
                devices.push(name.to_owned());
            }
        }
        devices.sort();
        for dev in devices {
            if self.0.netclass_ignored.is_match(&dev) {
                continue;
            }
            let path = root.join(&dev);
            // An interface removed since the listing reads as one whose attributes
            // are all absent, as reading them one by one by path would find them.
            let dir = match Dir::open(&path) {
                Ok(d) => Some(d),
                Err(e) if is_absent(&e) => None,
                Err(e) => return Err(CollectError::io(&path, e)),
            };
            self.update_device(out, dir.as_ref(), &dev)?;
        }
        Ok(())
    }
}

impl NetClass {
    fn update_device(
        &self,
        out: &mut Out,
        dir: Option<&Dir>,
        dev: &str,
    ) -> Result<(), CollectError> {
        let text = |f: &str| -> Result<Option<String>, CollectError> {
            let Some(dir) = dir else { return Ok(None) };
            match dir.read_sys(f) {
                Ok(s) => Ok(Some(s)),
                Err(e) if is_absent(&e) => Ok(None),
                Err(e) => Err(CollectError::io(&dir.join(f), e)),
            }
        };
        let num = |f: &str| -> Result<Option<i64>, CollectError> {
            Ok(text(f)?.and_then(|s| parse_int_base0(&s)))
        };
        let operstate = text("operstate")?.unwrap_or_default();
        out.gauge(
            "node_network_up",
            "Value is 1 if operstate is 'up', 0 otherwise.",
            &[("device", dev)],
            if operstate == "up" { 1.0 } else { 0.0 },
        );
        let address = text("address")?.unwrap_or_default();
        let broadcast = text("broadcast")?.unwrap_or_default();
        let duplex = text("duplex")?.unwrap_or_default();
        let ifalias = text("ifalias")?.unwrap_or_default();
        // The administrative state is the IFF_UP bit of the flags.
        let adminstate = match num("flags")? {
            None => "unknown",
            Some(f) if f & libc::IFF_UP as i64 != 0 => "up",
            Some(_) => "down",
        };
        out.gauge(
            "node_network_info",
            "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
            &[
                ("device", dev),
                ("address", &address),
                ("broadcast", &broadcast),
                ("duplex", &duplex),
                ("operstate", &operstate),
                ("adminstate", adminstate),
                ("ifalias", &ifalias),
            ],
            1.0,
        );
        let mut emit = |p: &Property, v: i64| {
            out.add(
                p.name,
                p.help,
                if p.counter {
                    MetricType::Counter
                } else {
                    MetricType::Gauge
                },
                &[("device", dev)],
                v as f64,
            );
        };
        for p in &NUMERIC {
            if let Some(v) = num(p.file)? {
                emit(p, v);
            }
        }
        if let Some(speed) = num(SPEED.file)?
            && (speed >= 0 || !self.0.netclass_ignore_invalid_speed)
        {
            emit(&SPEED, speed.saturating_mul(1000 * 1000) / 8);
        }
        if let Some(t) = num(PROTOCOL_TYPE.file)? {
            emit(&PROTOCOL_TYPE, t);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        let text = collect_ok("netclass", &[]);
        let has = |l: &str| assert!(text.lines().any(|x| x == l), "missing {l:?} in\n{text}");
        has("node_network_up{device=\"eth0\"} 1");
        has("node_network_up{device=\"lo\"} 0");
        has(
            "node_network_info{address=\"52:54:00:12:34:56\",adminstate=\"up\",broadcast=\"ff:ff:ff:ff:ff:ff\",device=\"eth0\",duplex=\"full\",ifalias=\"\",operstate=\"up\"} 1",
        );
        has(
            "node_network_info{address=\"00:00:00:00:00:00\",adminstate=\"up\",broadcast=\"00:00:00:00:00:00\",device=\"lo\",duplex=\"\",ifalias=\"uplink to switch\",operstate=\"unknown\"} 1",
        );
        has("node_network_flags{device=\"eth0\"} 4099");
        has("node_network_speed_bytes{device=\"eth0\"} 1.25e+08");
        has("node_network_speed_bytes{device=\"lo\"} -125000");
        has("node_network_carrier_changes_total{device=\"eth0\"} 2");
        has("node_network_protocol_type{device=\"lo\"} 772");
        has("node_network_mtu_bytes{device=\"lo\"} 65536");
        assert!(text.contains("# TYPE node_network_carrier_up_changes_total counter\n"));
        assert!(
            text.contains("# HELP node_network_iface_link Network device property: iface_link\n")
        );
        assert!(!text.contains("bonding_masters"));
        assert!(!text.contains("node_network_dormant{device=\"lo\"}"));

        let text = collect_ok(
            "netclass",
            &[
                "--collector.netclass.ignore-invalid-speed",
                "--collector.netclass.ignored-devices=^eth",
            ],
        );
        assert!(!text.contains("speed_bytes") && !text.contains("eth0"));
    }
}
