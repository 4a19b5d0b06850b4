//! `meminfo`: every field of `/proc/meminfo` as `node_memory_<Field>[_bytes]`.

use std::sync::Arc;

use ember_exposition::MetricType;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::read_file;

pub(crate) struct Meminfo(pub(crate) Arc<Config>);

impl Collector for Meminfo {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let path = self.0.proc("meminfo");
        let text = read_file(&path)?;
        for (key, value) in parse(&text).map_err(|m| CollectError::invalid(&path, m))? {
            let name = format!("node_memory_{key}");
            let help = format!("Memory information field {key}.");
            let t = if key.ends_with("_total") {
                MetricType::Counter
            } else {
                MetricType::Gauge
            };
            out.add(&name, &help, t, &[], value);
        }
        Ok(())
    }
}

/// Parses meminfo lines into (key, value): `Active(anon):  12 kB` becomes
/// `("Active_anon_bytes", 12288)`, `HugePages_Total:  0` stays `("HugePages_Total", 0)`.
fn parse(text: &str) -> Result<Vec<(String, f64)>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.is_empty() {
            continue;
        }
        let (Some(raw), Some(num)) = (parts.first(), parts.get(1)) else {
            return Err(format!("invalid line in meminfo: {line:?}"));
        };
        let mut v: f64 = num
            .parse()
            .map_err(|_| format!("invalid value in meminfo: {line:?}"))?;
        let raw = raw.strip_suffix(':').unwrap_or(raw);
        // `Key(sub)` -> `Key_sub`, as node_exporter's `\((.*)\)` -> `_${1}`.
        let mut key = match (raw.find('('), raw.rfind(')')) {
            (Some(open), Some(close)) if open < close => format!(
                "{}_{}{}",
                &raw[..open],
                &raw[open + 1..close],
                &raw[close + 1..]
            ),
            _ => raw.to_owned(),
        };
        match parts.len() {
            2 => {}
            3 => {
                v *= 1024.0;
                key.push_str("_bytes");
            }
            _ => return Err(format!("invalid line in meminfo: {line:?}")),
        }
        out.push((key, v));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        let text = collect_ok("meminfo", &[]);
        let s = samples(&text);
        assert!(s.contains(&"node_memory_MemTotal_bytes 8.253014016e+09"));
        assert!(s.contains(&"node_memory_Active_anon_bytes 1.2288e+06"));
        assert!(s.contains(&"node_memory_HugePages_Total 0"));
        assert!(text.contains("# HELP node_memory_MemFree_bytes Memory information field MemFree_bytes.\n# TYPE node_memory_MemFree_bytes gauge\n"));
        assert_eq!(s.len(), 12);
    }

    #[test]
    fn garbage_fails() {
        assert!(parse("MemTotal: x kB\n").is_err());
        assert!(parse("MemTotal:\n").is_err());
        assert!(parse("A: 1 kB extra\n").is_err());
        assert!(parse("\n").unwrap().is_empty());
    }
}
