//! `vmstat`: the fields of `/proc/vmstat` matching `--collector.vmstat.fields`.

use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::read_file;

pub(crate) struct Vmstat(pub(crate) Arc<Config>);

impl Collector for Vmstat {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let path = self.0.proc("vmstat");
        let text = read_file(&path)?;
        let mut fields = self.0.vmstat_fields.matcher();
        for line in text.lines() {
            let mut f = line.split_whitespace();
            let (Some(name), Some(value)) = (f.next(), f.next()) else {
                return Err(CollectError::invalid(
                    &path,
                    format!("invalid line {line:?}"),
                ));
            };
            let v: f64 = value
                .parse()
                .map_err(|_| CollectError::invalid(&path, format!("invalid value in {line:?}")))?;
            if !fields.is_match(name) {
                continue;
            }
            out.untyped(
                &format!("node_vmstat_{name}"),
                &format!("/proc/vmstat information field {name}."),
                &[],
                v,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        let text = collect_ok("vmstat", &[]);
        assert_eq!(
            samples(&text),
            [
                "node_vmstat_oom_kill 1",
                "node_vmstat_pgfault 1.13957194e+08",
                "node_vmstat_pgmajfault 27761",
                "node_vmstat_pgpgin 1.1459065e+07",
                "node_vmstat_pgpgout 2.8855184e+07",
                "node_vmstat_pswpin 0",
                "node_vmstat_pswpout 0",
            ]
        );
        assert!(text.contains("# HELP node_vmstat_pgfault /proc/vmstat information field pgfault.\n# TYPE node_vmstat_pgfault untyped\n"));
    }
}
