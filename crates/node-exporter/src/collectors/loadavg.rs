//! `loadavg`: the 1, 5 and 15 minute load averages from `/proc/loadavg`.

use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::read_file;

pub(crate) struct Loadavg(pub(crate) Arc<Config>);

impl Collector for Loadavg {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let path = self.0.proc("loadavg");
        let text = read_file(&path)?;
        let loads = parse(&text)
            .ok_or_else(|| CollectError::invalid(&path, format!("unexpected content: {text:?}")))?;
        let names = [
            ("node_load1", "1m load average."),
            ("node_load5", "5m load average."),
            ("node_load15", "15m load average."),
        ];
        for ((name, help), v) in names.into_iter().zip(loads) {
            out.gauge(name, help, &[], v);
        }
        Ok(())
    }
}

fn parse(text: &str) -> Option<[f64; 3]> {
    let mut it = text.split_whitespace();
    let mut loads = [0.0; 3];
    for l in &mut loads {
        *l = it.next()?.parse().ok()?;
    }
    Some(loads)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        assert_eq!(
            samples(&collect_ok("loadavg", &[])),
            ["node_load1 0.21", "node_load15 1.75", "node_load5 0.5"]
        );
    }

    #[test]
    fn garbage_fails() {
        assert!(parse("0.1 0.2").is_none());
        assert!(parse("a b c").is_none());
        assert_eq!(parse("1 2 3 4/5 6"), Some([1.0, 2.0, 3.0]));
    }
}
