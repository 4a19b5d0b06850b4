//! `edac`: correctable and uncorrectable memory errors per memory controller and
//! csrow from `/sys/devices/system/edac/mc`.

use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{glob_numbered, read_u64};

pub(crate) struct Edac(pub(crate) Arc<Config>);

const CE: &str = "node_edac_correctable_errors_total";
const UE: &str = "node_edac_uncorrectable_errors_total";
const CSROW_CE: &str = "node_edac_csrow_correctable_errors_total";
const CSROW_UE: &str = "node_edac_csrow_uncorrectable_errors_total";
const CE_HELP: &str = "Total correctable memory errors.";
const UE_HELP: &str = "Total uncorrectable memory errors.";
const CSROW_CE_HELP: &str = "Total correctable memory errors for this csrow.";
const CSROW_UE_HELP: &str = "Total uncorrectable memory errors for this csrow.";

impl Collector for Edac {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        for mc in glob_numbered(&self.0.sys("devices/system/edac/mc"), "mc")? {
            let ctl = number(&mc, "mc");
            let c = [("controller", ctl.as_str())];
            let cu = [("controller", ctl.as_str()), ("csrow", "unknown")];
            out.counter(CE, CE_HELP, &c, read_u64(&mc.join("ce_count"))? as f64);
            out.counter(
                CSROW_CE,
                CSROW_CE_HELP,
                &cu,
                read_u64(&mc.join("ce_noinfo_count"))? as f64,
            );
            out.counter(UE, UE_HELP, &c, read_u64(&mc.join("ue_count"))? as f64);
            out.counter(
                CSROW_UE,
                CSROW_UE_HELP,
                &cu,
                read_u64(&mc.join("ue_noinfo_count"))? as f64,
            );
            for row in glob_numbered(&mc, "csrow")? {
                let n = number(&row, "csrow");
                let l = [("controller", ctl.as_str()), ("csrow", n.as_str())];
                out.counter(
                    CSROW_CE,
                    CSROW_CE_HELP,
                    &l,
                    read_u64(&row.join("ce_count"))? as f64,
                );
                out.counter(
                    CSROW_UE,
                    CSROW_UE_HELP,
                    &l,
                    read_u64(&row.join("ue_count"))? as f64,
                );
            }
        }
        Ok(())
    }
}

/// The leading digits after `prefix` in the file name (`mc12` -> `12`).
fn number(path: &std::path::Path, prefix: &str) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix(prefix))
        .map(|n| n.chars().take_while(char::is_ascii_digit).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        assert_eq!(
            samples(&collect_ok("edac", &[])),
            [
                "node_edac_correctable_errors_total{controller=\"0\"} 1",
                "node_edac_csrow_correctable_errors_total{controller=\"0\",csrow=\"0\"} 5",
                "node_edac_csrow_correctable_errors_total{controller=\"0\",csrow=\"unknown\"} 2",
                "node_edac_csrow_uncorrectable_errors_total{controller=\"0\",csrow=\"0\"} 6",
                "node_edac_csrow_uncorrectable_errors_total{controller=\"0\",csrow=\"unknown\"} 4",
                "node_edac_uncorrectable_errors_total{controller=\"0\"} 3",
            ]
        );
    }
}
