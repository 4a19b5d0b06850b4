//! `sockstat`: socket counts per protocol and state from `/proc/net/sockstat` and
//! `/proc/net/sockstat6`.

use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::read_proc;

pub(crate) struct Sockstat(pub(crate) Arc<Config>);

/// The states node_exporter exports, in its order.
const STATES: [&str; 6] = ["inuse", "orphan", "tw", "alloc", "mem", "memory"];

impl Collector for Sockstat {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let page = page_size();
        for (file, ipv6) in [("net/sockstat", false), ("net/sockstat6", true)] {
            let path = self.0.proc(file);
            let text = match read_proc(&path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(CollectError::io(&path, e)),
            };
            let lines = parse(&text).map_err(|m| CollectError::invalid(&path, m))?;
            for (proto, kvs) in lines {
                let get = |k: &str| kvs.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
                if proto == "sockets" {
                    if !ipv6 {
                        out.gauge(
                            "node_sockstat_sockets_used",
                            "Number of IPv4 sockets in use.",
                            &[],
                            get("used").unwrap_or(0) as f64,
                        );
                    }
                    continue;
                }
                let mut pairs: Vec<(&str, i64)> = Vec::new();
                // `inuse` is always there (0 if the kernel left it out).
                pairs.push(("inuse", get("inuse").unwrap_or(0)));
                for state in &STATES[1..] {
                    if let Some(v) = get(state) {
                        pairs.push((state, v));
                    }
                }
                if let Some(mem) = get("mem") {
                    pairs.push(("mem_bytes", mem.saturating_mul(page)));
                }
                for (state, v) in pairs {
                    out.gauge(
                        &format!("node_sockstat_{proto}_{state}"),
                        &format!("Number of {proto} sockets in state {state}."),
                        &[],
                        v as f64,
                    );
                }
            }
        }
        Ok(())
    }
}

/// The system's page size.
pub(crate) fn page_size() -> i64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n } else { 4096 }
}

/// One line: the protocol and its `key value` pairs.
type Line<'a> = (&'a str, Vec<(&'a str, i64)>);

/// Lines `PROTO: key value key value ...`.
fn parse(text: &str) -> Result<Vec<Line<'_>>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 3 || fields.len().is_multiple_of(2) {
            return Err(format!("malformed sockstat line: {line:?}"));
        }
        let proto = fields[0].strip_suffix(':').unwrap_or(fields[0]);
        let mut kvs = Vec::new();
        for kv in fields[1..].chunks(2) {
            let [k, v] = kv else { continue };
            let v: i64 = v
                .parse()
                .map_err(|_| format!("invalid value in sockstat line: {line:?}"))?;
            kvs.push((*k, v));
        }
        out.push((proto, kvs));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        let text = collect_ok("sockstat", &[]);
        let s = samples(&text);
        assert!(s.contains(&"node_sockstat_sockets_used 230"));
        assert!(s.contains(&"node_sockstat_TCP_tw 58"));
        assert!(
            s.contains(
                &format!(
                    "node_sockstat_TCP_mem_bytes {}",
                    crate::metrics::go_float((70 * page_size()) as f64)
                )
                .as_str()
            )
        );
        assert!(s.contains(&"node_sockstat_FRAG6_memory 0"));
        assert!(s.contains(&"node_sockstat_TCP6_inuse 2"));
        assert!(
            text.contains("# HELP node_sockstat_UDP_mem Number of UDP sockets in state mem.\n")
        );
        assert_eq!(s.len(), 20);
    }

    #[test]
    fn garbage_fails() {
        assert!(parse("TCP: inuse\n").is_err());
        assert!(parse("TCP: inuse x\n").is_err());
    }
}
