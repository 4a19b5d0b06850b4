//! `conntrack`: connection tracking table size and statistics from
//! `/proc/sys/net/netfilter` and `/proc/net/stat/nf_conntrack` (summed over CPUs).

use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{read_file, read_u64};

pub(crate) struct Conntrack(pub(crate) Arc<Config>);

/// (column of /proc/net/stat/nf_conntrack, metric, help).
const STATS: [(usize, &str, &str); 8] = [
    (
        2,
        "node_nf_conntrack_stat_found",
        "Number of searched entries which were successful.",
    ),
    (
        4,
        "node_nf_conntrack_stat_invalid",
        "Number of packets seen which can not be tracked.",
    ),
    (
        5,
        "node_nf_conntrack_stat_ignore",
        "Number of packets seen which are already connected to a conntrack entry.",
    ),
    (
        8,
        "node_nf_conntrack_stat_insert",
        "Number of entries inserted into the list.",
    ),
    (
        9,
        "node_nf_conntrack_stat_insert_failed",
        "Number of entries for which list insertion was attempted but failed.",
    ),
    (
        10,
        "node_nf_conntrack_stat_drop",
        "Number of packets dropped due to conntrack failure.",
    ),
    (
        11,
        "node_nf_conntrack_stat_early_drop",
        "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.",
    ),
    (
        16,
        "node_nf_conntrack_stat_search_restart",
        "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
    ),
];

impl Collector for Conntrack {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let no_data = |e: CollectError| {
            if e.is_not_found() {
                CollectError::NoData("conntrack probably not loaded".into())
            } else {
                e
            }
        };
        let count =
            read_u64(&self.0.proc("sys/net/netfilter/nf_conntrack_count")).map_err(no_data)?;
        out.gauge(
            "node_nf_conntrack_entries",
            "Number of currently allocated flow entries for connection tracking.",
            &[],
            count as f64,
        );
        let max = read_u64(&self.0.proc("sys/net/netfilter/nf_conntrack_max")).map_err(no_data)?;
        out.gauge(
            "node_nf_conntrack_entries_limit",
            "Maximum size of connection tracking table.",
            &[],
            max as f64,
        );
        let path = self.0.proc("net/stat/nf_conntrack");
        let text = read_file(&path).map_err(no_data)?;
        let sums = parse(&text).map_err(|m| CollectError::invalid(&path, m))?;
        for ((_, name, help), v) in STATS.iter().zip(sums) {
            out.gauge(name, help, &[], v as f64);
        }
        Ok(())
    }
}

/// The per-CPU lines (hexadecimal, 17 columns) summed, in the order of [`STATS`].
fn parse(text: &str) -> Result<[u64; 8], String> {
    let mut sums = [0u64; 8];
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() != 17 {
            return Err("invalid conntrackstat entry, missing fields".into());
        }
        for ((col, _, _), sum) in STATS.iter().zip(&mut sums) {
            let v = u64::from_str_radix(fields[*col], 16)
                .map_err(|_| format!("couldn't parse {:?} field", fields[*col]))?;
            *sum = sum.wrapping_add(v);
        }
    }
    Ok(sums)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        assert_eq!(
            samples(&collect_ok("conntrack", &[])),
            [
                "node_nf_conntrack_entries 17",
                "node_nf_conntrack_entries_limit 262144",
                "node_nf_conntrack_stat_drop 1",
                "node_nf_conntrack_stat_early_drop 1",
                "node_nf_conntrack_stat_found 3",
                "node_nf_conntrack_stat_ignore 21",
                "node_nf_conntrack_stat_insert 4",
                "node_nf_conntrack_stat_insert_failed 2",
                "node_nf_conntrack_stat_invalid 2",
                "node_nf_conntrack_stat_search_restart 11",
            ]
        );
    }

    #[test]
    fn garbage_fails() {
        assert!(parse("h\n1 2 3\n").is_err());
        assert!(parse(&format!("h\n{}\n", ["zz"; 17].join(" "))).is_err());
    }
}
