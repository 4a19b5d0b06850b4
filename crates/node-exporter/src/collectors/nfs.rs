//! `nfs`: the NFS client's RPC statistics from `/proc/net/rpc/nfs`: network
//! packets and connections, RPC calls, retransmissions and credential refreshes,
//! and `node_nfs_requests_total` for every NFSv2, v3 and v4 procedure (all of them,
//! 0 when the kernel has no line for that version, as node_exporter reports them).
//!
//! Lines are checked as procfs checks them (the count that leads a `proc` line must
//! match its values; NFSv2 needs 18 and v3 22; an NFSv4 line shorter than the 59
//! procedures known is padded with zeros). Deliberate difference: a line with an
//! unknown label is skipped, where procfs fails the whole file, so a kernel that adds
//! a line does not take the collector down.
//!
//! Without the file (no NFS client module) the collector reports no data.

use std::io;
use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::read_proc;

pub(crate) struct Nfs(pub(crate) Arc<Config>);

/// NFSv2 procedures, from the first value after the count.
pub(super) const V2: [&str; 18] = [
    "Null", "GetAttr", "SetAttr", "Root", "Lookup", "ReadLink", "Read", "WrCache", "Write",
    "Create", "Remove", "Rename", "Link", "SymLink", "MkDir", "RmDir", "ReadDir", "FsStat",
];

/// NFSv3 procedures, from the first value after the count.
pub(super) const V3: [&str; 22] = [
    "Null",
    "GetAttr",
    "SetAttr",
    "Lookup",
    "Access",
    "ReadLink",
    "Read",
    "Write",
    "Create",
    "MkDir",
    "SymLink",
    "MkNod",
    "Remove",
    "RmDir",
    "Rename",
    "Link",
    "ReadDir",
    "ReadDirPlus",
    "FsStat",
    "FsInfo",
    "PathConf",
    "Commit",
];

/// The NFSv4 client operations, from the first value after the count, under
/// procfs's field names.
const V4: [&str; 59] = [
    "Null",
    "Read",
    "Write",
    "Commit",
    "Open",
    "OpenConfirm",
    "OpenNoattr",
    "OpenDowngrade",
    "Close",
    "Setattr",
    "FsInfo",
    "Renew",
    "SetClientID",
    "SetClientIDConfirm",
    "Lock",
    "Lockt",
    "Locku",
    "Access",
    "Getattr",
    "Lookup",
    "LookupRoot",
    "Remove",
    "Rename",
    "Link",
    "Symlink",
    "Create",
    "Pathconf",
    "StatFs",
    "ReadLink",
    "ReadDir",
    "ServerCaps",
    "DelegReturn",
    "GetACL",
    "SetACL",
    "FsLocations",
    "ReleaseLockowner",
    "Secinfo",
    "FsidPresent",
    "ExchangeID",
    "CreateSession",
    "DestroySession",
    "Sequence",
    "GetLeaseTime",
    "ReclaimComplete",
    "GetDeviceInfo",
    "LayoutGet",
    "LayoutCommit",
    "LayoutReturn",
    "SecinfoNoName",
    "TestStateID",
    "FreeStateID",
    "GetDeviceList",
    "BindConnToSession",
    "DestroyClientID",
    "Seek",
    "Allocate",
    "DeAllocate",
    "LayoutStats",
    "Clone",
];

const REQUESTS_HELP: &str = "Number of NFS procedures invoked.";

impl Collector for Nfs {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let path = self.0.proc("net/rpc/nfs");
        let text = match read_proc(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(CollectError::NoData(format!(
                    "not collecting NFS metrics: {e}"
                )));
            }
            Err(e) => return Err(CollectError::io(&path, e)),
        };
        let bad = |m: String| CollectError::invalid(&path, m);
        let mut net = [0u64; 4];
        let mut rpc = [0u64; 3];
        let mut v2 = [0u64; V2.len()];
        let mut v3 = [0u64; V3.len()];
        let mut v4 = [0u64; V4.len()];
        for (label, values) in
            lines(&text, &["net", "rpc", "proc2", "proc3", "proc4"], &[]).map_err(bad)?
        {
            match label {
                "net" => net = exactly(label, &values).map_err(bad)?,
                "rpc" => rpc = exactly(label, &values).map_err(bad)?,
                "proc2" => v2 = procedures(label, &values, V2.len()).map_err(bad)?,
                "proc3" => v3 = procedures(label, &values, V3.len()).map_err(bad)?,
                "proc4" => v4 = procedures(label, &values, 0).map_err(bad)?,
                _ => {}
            }
        }
        out.counter(
            "node_nfs_packets_total",
            "Total NFSd network packets (sent+received) by protocol type.",
            &[("protocol", "udp")],
            net[1] as f64,
        );
        out.counter(
            "node_nfs_packets_total",
            "Total NFSd network packets (sent+received) by protocol type.",
            &[("protocol", "tcp")],
            net[2] as f64,
        );
        out.counter(
            "node_nfs_connections_total",
            "Total number of NFSd TCP connections.",
            &[],
            net[3] as f64,
        );
        out.counter(
            "node_nfs_rpcs_total",
            "Total number of RPCs performed.",
            &[],
            rpc[0] as f64,
        );
        out.counter(
            "node_nfs_rpc_retransmissions_total",
            "Number of RPC transmissions performed.",
            &[],
            rpc[1] as f64,
        );
        out.counter(
            "node_nfs_rpc_authentication_refreshes_total",
            "Number of RPC authentication refreshes performed.",
            &[],
            rpc[2] as f64,
        );
        for (proto, names, values) in [
            ("2", &V2[..], &v2[..]),
            ("3", &V3[..], &v3[..]),
            ("4", &V4[..], &v4[..]),
        ] {
            for (method, v) in names.iter().zip(values) {
                out.counter(
                    "node_nfs_requests_total",
                    REQUESTS_HELP,
                    &[("proto", proto), ("method", method)],
                    *v as f64,
                );
            }
        }
        Ok(())
    }
}

/// The lines of an RPC statistics file with a `known` label: label and unsigned
/// values. Lines whose label is in `first_two` keep only their first two values
/// (the others are not integers).
pub(super) fn lines<'a>(
    text: &'a str,
    known: &[&str],
    first_two: &[&str],
) -> Result<Vec<(&'a str, Vec<u64>)>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() || !known.contains(&f[0]) {
            continue;
        }
        if f.len() < 2 {
            return Err(format!("invalid metric line {line:?}"));
        }
        let values = if first_two.contains(&f[0]) {
            if f.len() < 3 {
                return Err(format!("invalid metric line {line:?}"));
            }
            &f[1..3]
        } else {
            &f[1..]
        };
        let values = values
            .iter()
            .map(|v| v.parse::<u64>())
            .collect::<Result<Vec<u64>, _>>()
            .map_err(|_| format!("invalid values in line {line:?}"))?;
        out.push((f[0], values));
    }
    Ok(out)
}

/// A line that must have exactly `N` values.
pub(super) fn exactly<const N: usize>(label: &str, values: &[u64]) -> Result<[u64; N], String> {
    values
        .try_into()
        .map_err(|_| format!("{label}: {} values, expected {N}", values.len()))
}

/// A `procN` line: a count, then that many values. At least `min` are required;
/// the result is padded with zeros or cut to `N`.
pub(super) fn procedures<const N: usize>(
    label: &str,
    values: &[u64],
    min: usize,
) -> Result<[u64; N], String> {
    let (count, rest) = values
        .split_first()
        .ok_or_else(|| format!("{label}: no values"))?;
    if rest.len() as u64 != *count || rest.len() < min {
        return Err(format!("{label}: invalid procedure counts {values:?}"));
    }
    let mut out = [0u64; N];
    for (slot, v) in out.iter_mut().zip(rest) {
        *slot = *v;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        let text = collect_ok("nfs", &[]);
        let has = |l: &str| assert!(text.lines().any(|x| x == l), "missing {l:?} in\n{text}");
        has("node_nfs_packets_total{protocol=\"udp\"} 70");
        has("node_nfs_connections_total 45");
        has("node_nfs_rpcs_total 1218");
        has("node_nfs_requests_total{method=\"Null\",proto=\"2\"} 16");
        has("node_nfs_requests_total{method=\"Commit\",proto=\"3\"} 23729");
        has("node_nfs_requests_total{method=\"Read\",proto=\"4\"} 98");
        // Past the kernel's count: zero.
        has("node_nfs_requests_total{method=\"Clone\",proto=\"4\"} 0");
        assert_eq!(
            samples(&text)
                .iter()
                .filter(|l| l.starts_with("node_nfs_requests_total"))
                .count(),
            99
        );
    }

    #[test]
    fn checks_lines() {
        assert!(procedures::<18>("proc2", &[3, 1, 2, 3], 18).is_err());
        assert!(procedures::<18>("proc2", &[2, 1, 2, 3], 0).is_err());
        assert_eq!(procedures::<3>("proc4", &[1, 7], 0), Ok([7, 0, 0]));
        assert!(exactly::<3>("rpc", &[1, 2]).is_err());
        assert!(lines("net 1 x\n", &["net"], &[]).is_err());
        assert!(lines("net\n", &["net"], &[]).is_err());
        assert!(lines("new 1 x\n", &["net"], &[]).unwrap().is_empty());
        assert_eq!(
            lines("th 8 0 0.000\n", &["th"], &["th"]).unwrap()[0].1,
            vec![8, 0]
        );
    }
}
