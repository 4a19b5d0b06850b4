//! `udp_queues`: bytes queued in UDP sockets' send and receive buffers, summed over
//! `/proc/net/udp` and `/proc/net/udp6`.
//!
//! These tables have a line per socket and can be large, so they are read line by
//! line rather than whole.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;

pub(crate) struct UdpQueues(pub(crate) Arc<Config>);

impl Collector for UdpQueues {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let mut absent = 0;
        for (file, ip) in [("net/udp", "v4"), ("net/udp6", "v6")] {
            let path = self.0.proc(file);
            let Some((tx, rx)) = summary(&path)? else {
                absent += 1;
                continue;
            };
            for (queue, v) in [("tx", tx), ("rx", rx)] {
                out.gauge(
                    "node_udp_queues",
                    "Number of allocated memory in the kernel for UDP datagrams in bytes.",
                    &[("queue", queue), ("ip", ip)],
                    v as f64,
                );
            }
        }
        if absent == 2 {
            return Err(CollectError::NoData("no UDP socket tables".into()));
        }
        Ok(())
    }
}

/// The summed tx and rx queues of a socket table; `None` if it does not exist.
fn summary(path: &Path) -> Result<Option<(u64, u64)>, CollectError> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CollectError::io(path, e)),
    };
    let (mut tx, mut rx) = (0u64, 0u64);
    let mut lines = BufReader::new(f).lines();
    // The header.
    lines.next();
    for line in lines {
        let line = line.map_err(|e| CollectError::io(path, e))?;
        let Some((t, r)) = queues(&line) else {
            return Err(CollectError::invalid(
                path,
                format!("cannot parse tx/rx queues in socket line {line:?}"),
            ));
        };
        tx = tx.saturating_add(t);
        rx = rx.saturating_add(r);
    }
    Ok(Some((tx, rx)))
}

/// The `tx_queue:rx_queue` column (the fifth), in hexadecimal.
fn queues(line: &str) -> Option<(u64, u64)> {
    let col = line.split_whitespace().nth(4)?;
    let (t, r) = col.split_once(':')?;
    Some((
        u64::from_str_radix(t, 16).ok()?,
        u64::from_str_radix(r, 16).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        assert_eq!(
            samples(&collect_ok("udp_queues", &[])),
            [
                "node_udp_queues{ip=\"v4\",queue=\"rx\"} 512",
                "node_udp_queues{ip=\"v4\",queue=\"tx\"} 17",
                "node_udp_queues{ip=\"v6\",queue=\"rx\"} 768",
                "node_udp_queues{ip=\"v6\",queue=\"tx\"} 0",
            ]
        );
    }

    #[test]
    fn garbage() {
        assert_eq!(queues("0: a b 07 00000001:00000002 x"), Some((1, 2)));
        assert_eq!(queues("0: a b 07 zz:00000002 x"), None);
        assert_eq!(queues("0: a b"), None);
    }
}
