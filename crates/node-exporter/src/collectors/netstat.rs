//! `netstat`: protocol counters from `/proc/net/netstat`, `/proc/net/snmp` and
//! `/proc/net/snmp6`, as `node_netstat_<Protocol>_<Field>`, those matching
//! `--collector.netstat.fields`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{read_file, read_proc};

pub(crate) struct NetStat(pub(crate) Arc<Config>);

/// protocol -> field -> raw value, borrowed from the files' text (a few hundred
/// fields: copying each name and value was most of this collector's user time).
type Stats<'a> = BTreeMap<&'a str, BTreeMap<&'a str, &'a str>>;

impl Collector for NetStat {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let mut texts = Vec::with_capacity(2);
        for file in ["net/netstat", "net/snmp"] {
            let path = self.0.proc(file);
            let text = read_file(&path)?;
            texts.push((path, text));
        }
        let path = self.0.proc("net/snmp6");
        let snmp6 = match read_proc(&path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(CollectError::io(&path, e)),
        };
        let mut stats = Stats::new();
        for (path, text) in &texts {
            let parsed = parse_pairs(text).map_err(|m| CollectError::invalid(path, m))?;
            stats.extend(parsed);
        }
        if let Some(text) = &snmp6 {
            stats.extend(parse_snmp6(text));
        }
        let mut fields_filter = self.0.netstat_fields.matcher();
        let mut key = String::new();
        for (protocol, fields) in &stats {
            for (name, value) in fields {
                key.clear();
                key.push_str(protocol);
                key.push('_');
                key.push_str(name);
                let v: f64 = value.parse().map_err(|_| {
                    CollectError::invalid(&path, format!("invalid value {value} in netstats"))
                })?;
                if !fields_filter.is_match(&key) {
                    continue;
                }
                out.untyped(
                    &format!("node_netstat_{key}"),
                    &format!("Statistic {protocol}{name}."),
                    &[],
                    v,
                );
            }
        }
        Ok(())
    }
}

/// Parses the header/values line pairs of /proc/net/netstat and /proc/net/snmp.
fn parse_pairs(text: &str) -> Result<Stats<'_>, String> {
    let mut stats = Stats::new();
    let mut lines = text.lines();
    while let Some(names) = lines.next() {
        let values = lines.next().unwrap_or("");
        let names: Vec<&str> = names.split(' ').collect();
        let values: Vec<&str> = values.split(' ').collect();
        let protocol = names
            .first()
            .and_then(|p| p.strip_suffix(':'))
            .ok_or_else(|| format!("invalid header line {names:?}"))?;
        if names.len() != values.len() {
            return Err(format!("field count mismatch: {protocol}"));
        }
        let fields = stats.entry(protocol).or_default();
        fields.clear();
        for (n, v) in names.iter().zip(&values).skip(1) {
            fields.insert(*n, *v);
        }
    }
    Ok(stats)
}

/// Parses /proc/net/snmp6: `Ip6InReceives 100` is protocol `Ip6`, field `InReceives`.
fn parse_snmp6(text: &str) -> Stats<'_> {
    let mut stats = Stats::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(key), Some(value)) = (f.next(), f.next()) else {
            continue;
        };
        if let Some(i) = key.find('6') {
            stats
                .entry(&key[..=i])
                .or_default()
                .insert(&key[i + 1..], value);
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        let text = collect_ok("netstat", &[]);
        let s = samples(&text);
        assert!(s.contains(&"node_netstat_TcpExt_ListenDrops 4"));
        assert!(s.contains(&"node_netstat_Tcp_CurrEstab 3"));
        assert!(s.contains(&"node_netstat_Ip6_InOctets 8000"));
        assert!(s.contains(&"node_netstat_UdpLite6_InErrors 0"));
        assert!(s.contains(&"node_netstat_IpExt_InOctets 2.52761432e+08"));
        assert!(!text.contains("DelayedACKs") && !text.contains("MaxConn"));
        assert!(text.contains("# HELP node_netstat_Icmp_InMsgs Statistic IcmpInMsgs.\n# TYPE node_netstat_Icmp_InMsgs untyped\n"));
    }

    #[test]
    fn all_fields() {
        let text = collect_ok("netstat", &["--collector.netstat.fields=.*"]);
        assert!(text.contains("node_netstat_Tcp_MaxConn -1\n"));
    }

    #[test]
    fn garbage_fails() {
        assert!(parse_pairs("Ip: A B\nIp: 1\n").is_err());
        assert!(parse_pairs("Ip A\nIp 1\n").is_err());
        assert!(parse_pairs("Ip: A\n").is_err());
    }
}
