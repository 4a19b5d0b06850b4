//! `diskstats`: per-device I/O counters from `/proc/diskstats`, device info from the
//! udev database (`--path.udev.data`), filtered by
//! `--collector.diskstats.device-exclude`/`-include`.

use std::collections::HashMap;
use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{read_file, read_limited, read_u64};

pub(crate) struct Diskstats(pub(crate) Arc<Config>);

/// Milliseconds per tick of /proc/diskstats' time fields, as seconds.
const SECONDS_PER_TICK: f64 = 1.0 / 1000.0;
/// Sectors are always 512 bytes in /proc/diskstats.
const SECTOR: f64 = 512.0;

/// The stats after major, minor and name, in the kernel's order: (name, help, is
/// counter, scale).
const STATS: [(&str, &str, bool, f64); 17] = [
    (
        "node_disk_reads_completed_total",
        "The total number of reads completed successfully.",
        true,
        1.0,
    ),
    (
        "node_disk_reads_merged_total",
        "The total number of reads merged.",
        true,
        1.0,
    ),
    (
        "node_disk_read_bytes_total",
        "The total number of bytes read successfully.",
        true,
        SECTOR,
    ),
    (
        "node_disk_read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        true,
        SECONDS_PER_TICK,
    ),
    (
        "node_disk_writes_completed_total",
        "The total number of writes completed successfully.",
        true,
        1.0,
    ),
    (
        "node_disk_writes_merged_total",
        "The number of writes merged.",
        true,
        1.0,
    ),
    (
        "node_disk_written_bytes_total",
        "The total number of bytes written successfully.",
        true,
        SECTOR,
    ),
    (
        "node_disk_write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        true,
        SECONDS_PER_TICK,
    ),
    (
        "node_disk_io_now",
        "The number of I/Os currently in progress.",
        false,
        1.0,
    ),
    (
        "node_disk_io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        true,
        SECONDS_PER_TICK,
    ),
    (
        "node_disk_io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        true,
        SECONDS_PER_TICK,
    ),
    (
        "node_disk_discards_completed_total",
        "The total number of discards completed successfully.",
        true,
        1.0,
    ),
    (
        "node_disk_discards_merged_total",
        "The total number of discards merged.",
        true,
        1.0,
    ),
    (
        "node_disk_discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        true,
        1.0,
    ),
    (
        "node_disk_discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        true,
        SECONDS_PER_TICK,
    ),
    (
        "node_disk_flush_requests_total",
        "The total number of flush requests completed successfully",
        true,
        1.0,
    ),
    (
        "node_disk_flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        true,
        SECONDS_PER_TICK,
    ),
];

const ATA: [(&str, &str, &str); 3] = [
    (
        "ID_ATA_WRITE_CACHE",
        "node_disk_ata_write_cache",
        "ATA disk has a write cache.",
    ),
    (
        "ID_ATA_WRITE_CACHE_ENABLED",
        "node_disk_ata_write_cache_enabled",
        "ATA disk has its write cache enabled.",
    ),
    (
        "ID_ATA_ROTATION_RATE_RPM",
        "node_disk_ata_rotation_rate_rpm",
        "ATA disk rotation rate in RPMs (0 for SSDs).",
    ),
];

/// One line of /proc/diskstats.
#[derive(Debug, PartialEq)]
struct Line<'a> {
    major: u32,
    minor: u32,
    name: &'a str,
    stats: Vec<u64>,
}

impl Collector for Diskstats {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let path = self.0.proc("diskstats");
        let text = read_file(&path)?;
        let lines = parse(&text).map_err(|m| CollectError::invalid(&path, m))?;
        for d in lines {
            if self.0.diskstats_filter.ignored(d.name) {
                continue;
            }
            let info = self.udev(d.major, d.minor);
            let get = |k: &str| info.get(k).map(String::as_str).unwrap_or("");
            let (major, minor) = (d.major.to_string(), d.minor.to_string());
            // The serial printed on the label, else the short serial, else the
            // whole one (what virtio disks have).
            let serial = ["SCSI_IDENT_SERIAL", "ID_SERIAL_SHORT", "ID_SERIAL"]
                .into_iter()
                .map(get)
                .find(|s| !s.is_empty())
                .unwrap_or("");
            // "1" for a spinning disk; "0" for anything else, unreadable included.
            let rotational = self.0.sys("block").join(d.name).join("queue/rotational");
            let rotational = if read_u64(&rotational).is_ok_and(|v| v == 1) {
                "1"
            } else {
                "0"
            };
            out.gauge(
                "node_disk_info",
                "Info of /sys/block/<block_device>.",
                &[
                    ("device", d.name),
                    ("major", &major),
                    ("minor", &minor),
                    ("path", get("ID_PATH")),
                    ("wwn", get("ID_WWN")),
                    ("model", get("ID_MODEL")),
                    ("serial", serial),
                    ("revision", get("ID_REVISION")),
                    ("rotational", rotational),
                ],
                1.0,
            );
            for ((name, help, counter, scale), v) in STATS.iter().zip(&d.stats) {
                let v = *v as f64 * scale;
                if *counter {
                    out.counter(name, help, &[("device", d.name)], v);
                } else {
                    out.gauge(name, help, &[("device", d.name)], v);
                }
            }
            if !get("ID_FS_TYPE").is_empty() {
                out.gauge(
                    "node_disk_filesystem_info",
                    "Info about disk filesystem.",
                    &[
                        ("device", d.name),
                        ("type", get("ID_FS_TYPE")),
                        ("usage", get("ID_FS_USAGE")),
                        ("uuid", get("ID_FS_UUID")),
                        ("version", get("ID_FS_VERSION")),
                    ],
                    1.0,
                );
            }
            if !get("DM_NAME").is_empty() {
                out.gauge(
                    "node_disk_device_mapper_info",
                    "Info about disk device mapper.",
                    &[
                        ("device", d.name),
                        ("name", get("DM_NAME")),
                        ("uuid", get("DM_UUID")),
                        ("vg_name", get("DM_VG_NAME")),
                        ("lv_name", get("DM_LV_NAME")),
                        ("lv_layer", get("DM_LV_LAYER")),
                    ],
                    1.0,
                );
            }
            if !get("ID_ATA").is_empty() {
                for (key, name, help) in ATA {
                    if let Some(Ok(v)) = info.get(key).map(|s| s.parse::<f64>()) {
                        out.gauge(name, help, &[("device", d.name)], v);
                    }
                }
            }
        }
        Ok(())
    }
}

impl Diskstats {
    /// The `E:` properties of udev's record for a block device, empty if none.
    fn udev(&self, major: u32, minor: u32) -> HashMap<String, String> {
        let path = self.0.udev_data.join(format!("b{major}:{minor}"));
        let Ok(text) = read_limited(&path, 1 << 20) else {
            return HashMap::new();
        };
        text.lines()
            .filter_map(|l| l.strip_prefix("E:"))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

/// Lines with at least 14 fields (11 stats), as procfs keeps them.
fn parse(text: &str) -> Result<Vec<Line<'_>>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 14 {
            continue;
        }
        let bad = || format!("invalid diskstats line {line:?}");
        let major = f[0].parse().map_err(|_| bad())?;
        let minor = f[1].parse().map_err(|_| bad())?;
        let stats = f[3..f.len().min(20)]
            .iter()
            .map(|s| s.parse::<u64>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| bad())?;
        out.push(Line {
            major,
            minor,
            name: f[2],
            stats,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        let text = collect_ok("diskstats", &[]);
        let s = samples(&text);
        // loop0 and sda1 are excluded by default, sdb has too few fields.
        assert!(!text.contains("loop0") && !text.contains("sda1") && !text.contains("sdb"));
        assert!(s.contains(&"node_disk_info{device=\"sda\",major=\"8\",minor=\"0\",model=\"EXAMPLE_SSD_1TB\",path=\"pci-0000:00:1f.2-ata-1\",revision=\"1B2QEXM7\",rotational=\"0\",serial=\"S0000000000\",wwn=\"0x5002538e00000000\"} 1"));
        assert!(s.contains(&"node_disk_read_bytes_total{device=\"sda\"} 5.13713216512e+11"));
        assert!(s.contains(&"node_disk_io_time_weighted_seconds_total{device=\"sda\"} 82621.804"));
        assert!(s.contains(&"node_disk_flush_requests_total{device=\"nvme0n1\"} 1200"));
        assert!(s.contains(&"node_disk_discarded_sectors_total{device=\"nvme0n1\"} 4096"));
        assert!(s.contains(&"node_disk_ata_rotation_rate_rpm{device=\"sda\"} 0"));
        assert!(s.contains(&"node_disk_ata_write_cache_enabled{device=\"sda\"} 1"));
        assert!(s.contains(&"node_disk_device_mapper_info{device=\"dm-0\",lv_layer=\"\",lv_name=\"root\",name=\"vg0-root\",uuid=\"LVM-abcdef\",vg_name=\"vg0\"} 1"));
        assert!(s.contains(&"node_disk_filesystem_info{device=\"dm-0\",type=\"ext4\",usage=\"filesystem\",uuid=\"0000-1111\",version=\"1.0\"} 1"));
        // dm-0 has 15 stats: discards but no flushes.
        assert!(s.contains(&"node_disk_discard_time_seconds_total{device=\"dm-0\"} 0.004"));
        assert!(
            !s.iter()
                .any(|l| l.starts_with("node_disk_flush_requests_total{device=\"dm-0\""))
        );
    }

    #[test]
    fn include_filter() {
        let text = collect_ok(
            "diskstats",
            &["--collector.diskstats.device-include=^sda1$"],
        );
        assert!(text.contains("device=\"sda1\""));
        assert!(!text.contains("device=\"sda\""));
    }

    #[test]
    fn garbage_fails() {
        assert!(parse("8 0 sda 1 2 3 4 5 6 7 8 9 10 x\n").is_err());
        assert!(parse("x 0 sda 1 2 3 4 5 6 7 8 9 10 11\n").is_err());
    }
}
