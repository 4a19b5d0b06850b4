//! `edac`: correctable and uncorrectable memory errors per memory controller, csrow
//! and channel from `/sys/devices/system/edac/mc`.
//!
//! Channels are the `ch<N>_ce_count` files of a csrow; the channel's
//! uncorrectable count is optional (skipped when unreadable, as node_exporter does),
//! and its DIMM label is `ch<N>_dimm_label` with `#` removed and `csrow`/`channel`
//! prefixed with `_` (`mc#0csrow#0channel#0` -> `mc0_csrow0_channel0`), or `unknown`.

use std::path::Path;
use std::sync::{Arc, LazyLock};

use regex::Regex;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{dir_names, glob_numbered, read_limited, read_u64};

pub(crate) struct Edac(pub(crate) Arc<Config>);

const CE: &str = "node_edac_correctable_errors_total";
const UE: &str = "node_edac_uncorrectable_errors_total";
const CSROW_CE: &str = "node_edac_csrow_correctable_errors_total";
const CSROW_UE: &str = "node_edac_csrow_uncorrectable_errors_total";
const CHANNEL_CE: &str = "node_edac_channel_correctable_errors_total";
const CHANNEL_UE: &str = "node_edac_channel_uncorrectable_errors_total";
const CE_HELP: &str = "Total correctable memory errors.";
const UE_HELP: &str = "Total uncorrectable memory errors.";
const CSROW_CE_HELP: &str = "Total correctable memory errors for this csrow.";
const CSROW_UE_HELP: &str = "Total uncorrectable memory errors for this csrow.";
const CHANNEL_CE_HELP: &str = "Total correctable memory errors for this channel.";
const CHANNEL_UE_HELP: &str = "Total uncorrectable memory errors for this channel.";

/// A channel's correctable-error file, as node_exporter matches it (unanchored).
static CHANNEL_FILE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"ch([0-9]+)_ce_count").ok());

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
                channels(out, &row, &ctl, &n)?;
            }
        }
        Ok(())
    }
}

/// The per-channel counters of one csrow directory.
fn channels(out: &mut Out, row: &Path, ctl: &str, csrow: &str) -> Result<(), CollectError> {
    let Some(re) = CHANNEL_FILE.as_ref() else {
        return Err(CollectError::invalid(
            row,
            "internal regexp failed to compile",
        ));
    };
    let mut names = dir_names(row).map_err(|e| CollectError::io(row, e))?;
    names.retain(|n| n.starts_with("ch") && n.ends_with("_ce_count"));
    for name in names {
        let Some(ch) = re.captures(&name).and_then(|c| c.get(1)) else {
            continue;
        };
        let ch = ch.as_str();
        let label = dimm_label(row, ch);
        let l = [
            ("controller", ctl),
            ("csrow", csrow),
            ("channel", ch),
            ("dimm_label", label.as_str()),
        ];
        let ce = read_u64(&row.join(&name))?;
        out.counter(CHANNEL_CE, CHANNEL_CE_HELP, &l, ce as f64);
        if let Ok(ue) = read_u64(&row.join(format!("ch{ch}_ue_count"))) {
            out.counter(CHANNEL_UE, CHANNEL_UE_HELP, &l, ue as f64);
        }
    }
    Ok(())
}

/// The DIMM label of a channel, cleaned up as node_exporter does.
fn dimm_label(row: &Path, ch: &str) -> String {
    match read_limited(&row.join(format!("ch{ch}_dimm_label")), 4096) {
        Ok(s) => s
            .trim()
            .replace('#', "")
            .replace("csrow", "_csrow")
            .replace("channel", "_channel"),
        Err(_) => "unknown".into(),
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
