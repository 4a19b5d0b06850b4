//! `mdadm`: state, disks and sync progress of software RAID devices from
//! `/proc/mdstat`, and the raid disk and degraded disk counts from
//! `/sys/block/md*/md`.
//!
//! As node_exporter (and procfs's `Mdraids`), the sysfs part reads every attribute
//! of every array first and emits nothing of it if one read fails; a missing
//! attribute makes the collector report no data, any other failure an error.

use std::sync::{Arc, LazyLock};

use regex::Regex;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{dir_names, read_proc, read_sys};

pub(crate) struct Mdadm(pub(crate) Arc<Config>);

static STATUS_LINE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(\d+) blocks .*\[(\d+)/(\d+)\] \[([U_]+)\]").ok());
static RECOVERY_BLOCKS: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\((\d+)/\d+\)").ok());

/// One md device.
#[derive(Debug, Default, PartialEq)]
struct MdStat {
    name: String,
    state: String,
    disks_active: i64,
    disks_total: i64,
    disks_failed: i64,
    disks_spare: i64,
    blocks_total: i64,
    blocks_synced: i64,
}

impl Collector for Mdadm {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let path = self.0.proc("mdstat");
        let text = match read_proc(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CollectError::NoData("mdstat file does not exist".into()));
            }
            Err(e) => return Err(CollectError::io(&path, e)),
        };
        let stats = parse(&text).map_err(|m| CollectError::invalid(&path, m))?;
        for md in &stats {
            let dev = md.name.as_str();
            out.gauge(
                "node_md_disks_required",
                "Total number of disks of device.",
                &[("device", dev)],
                md.disks_total as f64,
            );
            for (state, v) in [
                ("active", md.disks_active),
                ("failed", md.disks_failed),
                ("spare", md.disks_spare),
            ] {
                out.gauge(
                    "node_md_disks",
                    "Number of active/failed/spare disks of device.",
                    &[("device", dev), ("state", state)],
                    v as f64,
                );
            }
            for (label, state) in [
                ("active", "active"),
                ("inactive", "inactive"),
                ("recovering", "recovering"),
                ("resync", "resyncing"),
                ("check", "checking"),
            ] {
                out.gauge(
                    "node_md_state",
                    "Indicates the state of md-device.",
                    &[("device", dev), ("state", label)],
                    if md.state == state { 1.0 } else { 0.0 },
                );
            }
            out.gauge(
                "node_md_blocks",
                "Total number of blocks on device.",
                &[("device", dev)],
                md.blocks_total as f64,
            );
            out.gauge(
                "node_md_blocks_synced",
                "Number of blocks synced on device.",
                &[("device", dev)],
                md.blocks_synced as f64,
            );
        }
        for raid in mdraids(&self.0)? {
            let dev = [("device", raid.device.as_str())];
            if let Some(n) = raid.disks {
                out.gauge(
                    "node_md_raid_disks",
                    "Number of raid disks on device.",
                    &dev,
                    n as f64,
                );
            }
            out.gauge(
                "node_md_degraded",
                "Number of degraded disks on device.",
                &dev,
                raid.degraded as f64,
            );
        }
        Ok(())
    }
}

/// What the collector uses of an array's sysfs directory.
#[derive(Debug, PartialEq)]
struct Mdraid {
    device: String,
    /// `raid_disks`: devices in the complete array; none for containers, or when
    /// the level or the count is unknown.
    disks: Option<u64>,
    /// `degraded`, for the levels with redundancy; 0 for the others.
    degraded: u64,
}

/// The arrays under `/sys/block/md*/md`, in name order.
fn mdraids(cfg: &Config) -> Result<Vec<Mdraid>, CollectError> {
    let block = cfg.sys("block");
    let names = match dir_names(&block) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CollectError::io(&block, e)),
    };
    let mut out = Vec::new();
    for name in names.into_iter().filter(|n| n.starts_with("md")) {
        let dir = block.join(&name).join("md");
        if dir.symlink_metadata().is_err() {
            continue;
        }
        // A missing attribute is "no data", as node_exporter maps ErrNotExist.
        let sys = |file: &str| -> Result<String, CollectError> {
            let p = dir.join(file);
            read_sys(&p).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    CollectError::NoData(format!("{} does not exist", p.display()))
                } else {
                    CollectError::io(&p, e)
                }
            })
        };
        let uint = |file: &str| -> Result<u64, CollectError> {
            let v = sys(file)?;
            v.parse()
                .map_err(|_| CollectError::invalid(&dir.join(file), format!("not a number: {v:?}")))
        };
        let level = sys("level")?;
        sys("array_state")?;
        sys("metadata_version")?;
        let disks = match level.as_str() {
            "container" | "imsm" | "ddf" | "" => None,
            _ => {
                let raw = sys("raid_disks")?;
                // While reshaping the file reads "current (previous)".
                raw.split(' ').next().and_then(|n| n.parse().ok())
            }
        };
        sys("uuid")?;
        let mut components = dir_names(&dir).map_err(|e| CollectError::io(&dir, e))?;
        components.retain(|c| c.starts_with("dev-"));
        for c in &components {
            sys(&format!("{c}/state"))?;
        }
        if matches!(
            level.as_str(),
            "raid0" | "raid4" | "raid5" | "raid6" | "raid10"
        ) {
            uint("chunk_size")?;
        }
        let mut degraded = 0;
        if matches!(
            level.as_str(),
            "raid1" | "raid4" | "raid5" | "raid6" | "raid10"
        ) {
            degraded = uint("degraded")?;
            sys("sync_action")?;
            let completed = sys("sync_completed")?;
            if completed != "none" {
                let mut parts = completed.split(" / ");
                let ok = parts.next().is_some_and(|a| a.parse::<u64>().is_ok())
                    && parts.next().is_some_and(|b| b.parse::<u64>().is_ok());
                if !ok {
                    return Err(CollectError::invalid(
                        &dir.join("sync_completed"),
                        format!("expected \"done / total\": {completed:?}"),
                    ));
                }
            }
        }
        out.push(Mdraid {
            device: name,
            disks,
            degraded,
        });
    }
    Ok(out)
}

/// Parses /proc/mdstat as procfs does.
fn parse(text: &str) -> Result<Vec<MdStat>, String> {
    let (Some(status_re), Some(blocks_re)) = (STATUS_LINE.as_ref(), RECOVERY_BLOCKS.as_ref())
    else {
        return Err("internal regexp failed to compile".into());
    };
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty()
            || line.starts_with(' ')
            || line.starts_with('\t')
            || line.starts_with("Personalities")
            || line.starts_with("unused")
        {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 3 {
            return Err(format!(
                "not enough fields in mdline (expected at least 3): {line}"
            ));
        }
        let name = fields[0].to_owned();
        let mut state = fields[2].to_owned();
        if lines.len() <= i + 3 {
            return Err(format!("too few lines for md device {name}"));
        }
        let failed = line.matches("(F)").count() as i64;
        let spare = line.matches("(S)").count() as i64;
        let status = lines[i + 1];
        let size: i64 = status
            .split_whitespace()
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("unexpected status line {status:?}"))?;
        let (active, total) = if line.contains("raid0") || line.contains("linear") {
            let n = line.matches('[').count() as i64;
            (n, n)
        } else if line.contains("inactive") {
            (0, 0)
        } else {
            let c = status_re
                .captures(status)
                .ok_or_else(|| format!("couldn't find all the substring matches: {status}"))?;
            let total = c[2].parse().map_err(|_| format!("bad status {status:?}"))?;
            let active = c[3].parse().map_err(|_| format!("bad status {status:?}"))?;
            (active, total)
        };
        let mut sync_idx = i + 2;
        if lines[i + 2].contains("bitmap") {
            sync_idx += 1;
        }
        let sync_line = lines.get(sync_idx).copied().unwrap_or("");
        let mut synced = size;
        let recovering = sync_line.contains("recovery");
        let resyncing = sync_line.contains("resync");
        let checking = sync_line.contains("check");
        if recovering || resyncing || checking {
            state = if recovering {
                "recovering"
            } else if checking {
                "checking"
            } else {
                "resyncing"
            }
            .to_owned();
            if sync_line.contains("PENDING") || sync_line.contains("DELAYED") {
                synced = 0;
            } else {
                synced = blocks_re
                    .captures(sync_line)
                    .and_then(|c| c[1].parse().ok())
                    .ok_or_else(|| format!("unexpected recovery line: {sync_line}"))?;
            }
        }
        out.push(MdStat {
            name,
            state,
            disks_active: active,
            disks_total: total,
            disks_failed: failed,
            disks_spare: spare,
            blocks_total: size,
            blocks_synced: synced,
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
        let text = collect_ok("mdadm", &[]);
        let has = |l: &str| assert!(text.lines().any(|x| x == l), "missing {l:?} in\n{text}");
        has("node_md_disks_required{device=\"md0\"} 2");
        has("node_md_state{device=\"md0\",state=\"active\"} 1");
        has("node_md_blocks_synced{device=\"md0\"} 1.953382464e+09");
        has("node_md_disks{device=\"md1\",state=\"active\"} 3");
        has("node_md_disks{device=\"md1\",state=\"failed\"} 1");
        has("node_md_disks{device=\"md1\",state=\"spare\"} 1");
        has("node_md_disks_required{device=\"md1\"} 4");
        has("node_md_state{device=\"md1\",state=\"recovering\"} 1");
        has("node_md_state{device=\"md1\",state=\"active\"} 0");
        has("node_md_blocks_synced{device=\"md1\"} 2.46817664e+08");
        has("node_md_disks{device=\"md2\",state=\"active\"} 2");
        has("node_md_state{device=\"md3\",state=\"inactive\"} 1");
        has("node_md_disks{device=\"md3\",state=\"spare\"} 1");
        has("node_md_state{device=\"md4\",state=\"resync\"} 1");
        has("node_md_blocks_synced{device=\"md4\"} 0");
    }

    #[test]
    fn garbage_fails() {
        assert!(parse("md0 : active\n").is_err());
        assert!(parse("md0 : active raid1 sda[0]\nxx\n\n\n").is_err());
        assert!(parse("md0 : active raid1 sda[0]\n  10 blocks\n\n\n").is_err());
        assert_eq!(
            parse("Personalities : \nunused devices: <none>\n").unwrap(),
            vec![]
        );
    }
}
