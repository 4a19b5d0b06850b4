//! `powersupplyclass`: batteries, mains adapters and USB supplies from
//! `/sys/class/power_supply/<supply>`, skipping
//! `--collector.powersupply.ignored-supplies`. Each numeric attribute present becomes
//! `node_power_supply_<name>` (µA, µV, µWh and µW attributes in amperes, volts,
//! watt-hours and watts; tenths of a degree in degrees), and the text attributes
//! present make the labels of `node_power_supply_info` (invalid UTF-8 replaced as
//! Go's `strings.ToValidUTF8` does).
//!
//! Deliberate difference: an attribute the driver refuses to read (EACCES, EINVAL,
//! ENODATA, as an absent battery's do on some laptops) is skipped, where procfs
//! fails the whole collector; a malformed number is still an error.

use std::io;
use std::path::Path;
use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{dir_entries, go_valid_utf8, is_absent, parse_int_base0, read_sys_bytes};

pub(crate) struct PowerSupplyClass(pub(crate) Arc<Config>);

/// Numeric attributes reported: (file, metric suffix, divisor).
const NUMERIC: [(&str, &str, f64); 49] = [
    ("authentic", "authentic", 1.0),
    ("calibrate", "calibrate", 1.0),
    ("capacity", "capacity", 1.0),
    ("capacity_alert_max", "capacity_alert_max", 1.0),
    ("capacity_alert_min", "capacity_alert_min", 1.0),
    ("cycle_count", "cyclecount", 1.0),
    ("online", "online", 1.0),
    ("present", "present", 1.0),
    ("time_to_empty_now", "time_to_empty_seconds", 1.0),
    ("time_to_full_now", "time_to_full_seconds", 1.0),
    ("current_boot", "current_boot", 1e6),
    ("current_max", "current_max", 1e6),
    ("current_now", "current_ampere", 1e6),
    ("energy_empty", "energy_empty", 1e6),
    ("energy_empty_design", "energy_empty_design", 1e6),
    ("energy_full", "energy_full", 1e6),
    ("energy_full_design", "energy_full_design", 1e6),
    ("energy_now", "energy_watthour", 1e6),
    ("voltage_boot", "voltage_boot", 1e6),
    ("voltage_max", "voltage_max", 1e6),
    ("voltage_max_design", "voltage_max_design", 1e6),
    ("voltage_min", "voltage_min", 1e6),
    ("voltage_min_design", "voltage_min_design", 1e6),
    ("voltage_now", "voltage_volt", 1e6),
    ("voltage_ocv", "voltage_ocv", 1e6),
    ("charge_control_limit", "charge_control_limit", 1e6),
    ("charge_control_limit_max", "charge_control_limit_max", 1e6),
    ("charge_counter", "charge_counter", 1e6),
    ("charge_empty", "charge_empty", 1e6),
    ("charge_empty_design", "charge_empty_design", 1e6),
    ("charge_full", "charge_full", 1e6),
    ("charge_full_design", "charge_full_design", 1e6),
    ("charge_now", "charge_ampere", 1e6),
    ("charge_term_current", "charge_term_current", 1e6),
    ("constant_charge_current", "constant_charge_current", 1e6),
    (
        "constant_charge_current_max",
        "constant_charge_current_max",
        1e6,
    ),
    ("constant_charge_voltage", "constant_charge_voltage", 1e6),
    (
        "constant_charge_voltage_max",
        "constant_charge_voltage_max",
        1e6,
    ),
    ("precharge_current", "precharge_current", 1e6),
    ("input_current_limit", "input_current_limit", 1e6),
    ("power_now", "power_watt", 1e6),
    ("temp", "temp_celsius", 10.0),
    ("temp_alert_max", "temp_alert_max_celsius", 10.0),
    ("temp_alert_min", "temp_alert_min_celsius", 10.0),
    ("temp_ambient", "temp_ambient_celsius", 10.0),
    ("temp_ambient_max", "temp_ambient_max_celsius", 10.0),
    ("temp_ambient_min", "temp_ambient_min_celsius", 10.0),
    ("temp_max", "temp_max_celsius", 10.0),
    ("temp_min", "temp_min_celsius", 10.0),
];

/// Numeric attributes procfs parses (so a malformed one is an error) that
/// node_exporter does not report.
const UNREPORTED: [&str; 7] = [
    "charge_avg",
    "current_avg",
    "energy_avg",
    "power_avg",
    "time_to_empty_avg",
    "time_to_full_avg",
    "voltage_avg",
];

/// Text attributes, each an info label of the same name.
const TEXT: [&str; 11] = [
    "capacity_level",
    "charge_type",
    "health",
    "manufacturer",
    "model_name",
    "scope",
    "serial_number",
    "status",
    "technology",
    "type",
    "usb_type",
];

impl Collector for PowerSupplyClass {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let root = self.0.sys("class/power_supply");
        let supplies = match dir_entries(&root) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(CollectError::NoData(format!("no power_supply class: {e}")));
            }
            Err(e) => return Err(CollectError::io(&root, e)),
        };
        for (name, _) in supplies {
            if self.0.powersupply_ignored.is_match(&name) {
                continue;
            }
            supply(out, &root.join(&name), &name)?;
        }
        Ok(())
    }
}

/// One supply: its regular files, parsed, then written.
fn supply(out: &mut Out, dir: &Path, name: &str) -> Result<(), CollectError> {
    let files = dir_entries(dir).map_err(|e| CollectError::io(dir, e))?;
    let mut numbers: Vec<(&str, f64)> = Vec::new();
    let mut info: Vec<(&str, String)> = vec![("power_supply", name.to_owned())];
    for (file, kind) in &files {
        if !kind.is_file() {
            continue;
        }
        let reported = NUMERIC.iter().find(|(f, ..)| f == file);
        let text_label = TEXT.iter().find(|t| *t == file);
        if reported.is_none() && text_label.is_none() && !UNREPORTED.contains(&file.as_str()) {
            continue;
        }
        let p = dir.join(file);
        let raw = match read_sys_bytes(&p) {
            Ok(b) => b,
            Err(e) if is_absent(&e) || e.raw_os_error() == Some(libc::ENODEV) => continue,
            Err(e) => return Err(CollectError::io(&p, e)),
        };
        let raw = raw.trim_ascii();
        if let Some(label) = text_label {
            info.push((label, go_valid_utf8(raw)));
            continue;
        }
        let text = String::from_utf8_lossy(raw);
        let v = parse_int_base0(&text)
            .ok_or_else(|| CollectError::invalid(&p, format!("not an integer: {text:?}")))?;
        if let Some((_, suffix, divisor)) = reported {
            numbers.push((suffix, v as f64 / divisor));
        }
    }
    for (suffix, v) in numbers {
        out.gauge(
            &format!("node_power_supply_{suffix}"),
            &format!("{suffix} value of /sys/class/power_supply/<power_supply>."),
            &[("power_supply", name)],
            v,
        );
    }
    // Only the attributes with a value become labels.
    let labels: Vec<(&str, &str)> = info
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    out.gauge(
        "node_power_supply_info",
        "info of /sys/class/power_supply/<power_supply>.",
        &labels,
        1.0,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        let text = collect_ok("powersupplyclass", &[]);
        let has = |l: &str| assert!(text.lines().any(|x| x == l), "missing {l:?} in\n{text}");
        has("node_power_supply_info{power_supply=\"AC\",type=\"Mains\"} 1");
        has(
            "node_power_supply_info{capacity_level=\"Normal\",manufacturer=\"LGC\",model_name=\"LNV-45N1\u{FFFD}\",power_supply=\"BAT0\",status=\"Discharging\",technology=\"Li-ion\",type=\"Battery\"} 1",
        );
        has("node_power_supply_online{power_supply=\"AC\"} 0");
        has("node_power_supply_energy_full{power_supply=\"BAT0\"} 45.07");
        has("node_power_supply_voltage_volt{power_supply=\"BAT0\"} 11.66");
        has("node_power_supply_temp_celsius{power_supply=\"BAT0\"} 30.5");
        has("node_power_supply_cyclecount{power_supply=\"BAT0\"} 0");
        has(
            "# HELP node_power_supply_capacity capacity value of /sys/class/power_supply/<power_supply>.",
        );
        assert!(!text.contains("voltage_avg"));
        let text = collect_ok(
            "powersupplyclass",
            &["--collector.powersupply.ignored-supplies=^BAT"],
        );
        assert!(!text.contains("BAT0"));
    }
}
