//! `hwmon`: hardware sensors (temperatures, fans, voltages, currents, power, energy,
//! humidity, frequencies, alarms) from `/sys/class/hwmon/hwmon*` and their `device`
//! directories, named and scaled as node_exporter names and scales them.
//!
//! Chips are named after their device (`platform_coretemp_0`). Several hwmon
//! directories can hang off one device (asus-nb-wmi has one for fans and one for
//! WMI sensors); their names would collide, so, as node_exporter does, each then
//! gets its `name` file's content appended, or its `hwmonN` directory name when that
//! does not tell them apart. `--collector.hwmon.chip-include`/`-exclude` filter on
//! the final chip name, `--collector.hwmon.sensor-include`/`-exclude` on
//! `<chip>;<sensor>`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, LazyLock};

use ember_exposition::MetricType;
use regex::Regex;

use super::{CollectError, Collector, Config, DeviceFilter};
use crate::metrics::Out;
use crate::read::{dir_names, read_limited};

pub(crate) struct Hwmon(pub(crate) Arc<Config>);

const SENSOR_TYPES: [&str; 14] = [
    "vrm",
    "beep_enable",
    "update_interval",
    "in",
    "cpu",
    "fan",
    "pwm",
    "temp",
    "curr",
    "power",
    "energy",
    "humidity",
    "intrusion",
    "freq",
];

static FILENAME: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^(?P<type>[^0-9]+)(?P<id>[0-9]*)?(_(?P<property>.+))?$").ok());

/// sensor ("temp1") -> property ("input", "" for the bare file) -> raw value.
type SensorData = BTreeMap<String, BTreeMap<String, String>>;

impl Collector for Hwmon {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let root = self.0.sys("class/hwmon");
        let names = match dir_names(&root) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CollectError::NoData(
                    "hwmon collector metrics are not available for this system".into(),
                ));
            }
            Err(e) => return Err(CollectError::io(&root, e)),
        };
        // First pass: every chip's base name, and how often each base name (and
        // each base name with `name` file) occurs.
        let mut entries = Vec::new();
        let mut chip_counts: HashMap<String, usize> = HashMap::new();
        let mut name_counts: HashMap<(String, String), usize> = HashMap::new();
        for name in names {
            let dir = root.join(&name);
            // Follows symlinks; broken links and plain files are skipped.
            if !std::fs::metadata(&dir).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            let Ok(base) = hwmon_name(&dir) else {
                continue;
            };
            let name_file = read_limited(&dir.join("name"), 4096)
                .map(|s| s.trim().to_owned())
                .unwrap_or_default();
            *chip_counts.entry(base.clone()).or_default() += 1;
            *name_counts
                .entry((base.clone(), name_file.clone()))
                .or_default() += 1;
            entries.push((dir, name, base, name_file));
        }
        // Second pass: a unique chip name for each, then the filter, then the sensors.
        let mut result = Ok(());
        for (dir, dir_name, base, name_file) in entries {
            let mut chip = base.clone();
            if chip_counts.get(&base).copied().unwrap_or(0) > 1 {
                let mut suffix = clean_name(&name_file);
                if suffix.is_empty()
                    || name_counts
                        .get(&(base.clone(), name_file))
                        .copied()
                        .unwrap_or(0)
                        > 1
                {
                    suffix = clean_name(&dir_name);
                }
                chip = format!("{base}_{suffix}");
            }
            if self.0.hwmon_chip_filter.ignored(&chip) {
                continue;
            }
            if let Err(e) = update_hwmon(out, &dir, &chip, &self.0.hwmon_sensor_filter) {
                result = Err(e);
            }
        }
        result
    }
}

fn update_hwmon(
    out: &mut Out,
    dir: &Path,
    chip: &str,
    sensors: &DeviceFilter,
) -> Result<(), CollectError> {
    let mut data = SensorData::new();
    collect_sensor_data(dir, &mut data)?;
    let device = dir.join("device");
    if device.exists() {
        collect_sensor_data(&device, &mut data)?;
    }
    if let Some(chip_name) = human_readable_name(dir) {
        out.gauge(
            "node_hwmon_chip_names",
            "Annotation metric for human-readable chip names",
            &[("chip", chip), ("chip_name", &chip_name)],
            1.0,
        );
    }
    for (sensor, props) in &data {
        if sensors.ignored(&format!("{chip};{sensor}")) {
            continue;
        }
        let Some((sensor_type, _, _)) = explode(sensor) else {
            continue;
        };
        let labels = [("chip", chip), ("sensor", sensor.as_str())];
        if let Some(label) = props.get("label") {
            out.gauge(
                "node_hwmon_sensor_label",
                "Label for given chip and sensor",
                &[("chip", chip), ("sensor", sensor), ("label", label)],
                1.0,
            );
        }
        let bare = props.get("");
        match sensor_type {
            "beep_enable" => {
                let v = if bare.is_some_and(|v| v == "1") {
                    1.0
                } else {
                    0.0
                };
                out.gauge(
                    "node_hwmon_beep_enabled",
                    "Hardware beep enabled",
                    &labels,
                    v,
                );
                continue;
            }
            "vrm" => {
                if let Some(Ok(v)) = bare.map(|s| s.parse::<f64>()) {
                    out.gauge(
                        "node_hwmon_voltage_regulator_version",
                        "Hardware voltage regulator",
                        &labels,
                        v,
                    );
                }
                continue;
            }
            "update_interval" => {
                if let Some(Ok(v)) = bare.map(|s| s.parse::<f64>()) {
                    out.gauge(
                        "node_hwmon_update_interval_seconds",
                        "Hardware monitor update interval",
                        &labels,
                        v * 0.001,
                    );
                }
                continue;
            }
            _ => {}
        }
        let prefix = format!("node_hwmon_{sensor_type}");
        for (element, value) in props {
            if element == "label" {
                continue;
            }
            let mut name = prefix.clone();
            if element == "input" {
                if bare.is_some() {
                    name.push_str("_input");
                }
            } else if !element.is_empty() {
                name.push('_');
                name.push_str(&clean_name(element));
            }
            let Ok(v) = value.parse::<f64>() else {
                continue;
            };
            // A (GPU) frequency is named after its label, which replaces the sensor
            // label; without a label it is not exported.
            if sensor_type == "freq" && element == "input" {
                if let Some(label) = props.get("label") {
                    out.gauge(
                        &format!("{name}_freq_mhz"),
                        "Hardware monitor for GPU frequency in MHz",
                        &[("chip", chip), ("sensor", &clean_name(label))],
                        v / 1_000_000.0,
                    );
                }
                continue;
            }
            let (name, help, metric_type, v) = describe(sensor_type, element, name, v);
            out.add(&name, &help, metric_type, &labels, v);
        }
    }
    Ok(())
}

/// The metric name, help, type and scaled value of one sensor element.
fn describe(
    sensor_type: &str,
    element: &str,
    name: String,
    v: f64,
) -> (String, String, MetricType, f64) {
    use MetricType::{Counter, Gauge};
    if element == "fault" || element == "alarm" {
        let help = format!("Hardware sensor {element} status ({sensor_type})");
        return (name, help, Gauge, v);
    }
    if element == "beep" {
        let help = "Hardware monitor sensor has beeping enabled".to_owned();
        return (format!("{name}_enabled"), help, Gauge, v);
    }
    match sensor_type {
        "in" | "cpu" => (
            format!("{name}_volts"),
            format!("Hardware monitor for voltage ({element})"),
            Gauge,
            v * 0.001,
        ),
        "temp" if element != "type" => {
            let element = if element.is_empty() { "input" } else { element };
            (
                format!("{name}_celsius"),
                format!("Hardware monitor for temperature ({element})"),
                Gauge,
                v * 0.001,
            )
        }
        "curr" => (
            format!("{name}_amps"),
            format!("Hardware monitor for current ({element})"),
            Gauge,
            v * 0.001,
        ),
        "energy" => (
            format!("{name}_joule_total"),
            format!("Hardware monitor for joules used so far ({element})"),
            Counter,
            v / 1_000_000.0,
        ),
        "power" if element == "accuracy" => (
            name,
            "Hardware monitor power meter accuracy, as a ratio".to_owned(),
            Gauge,
            v / 1_000_000.0,
        ),
        "power"
            if matches!(
                element,
                "average_interval" | "average_interval_min" | "average_interval_max"
            ) =>
        {
            (
                format!("{name}_seconds"),
                format!("Hardware monitor power usage update interval ({element})"),
                Gauge,
                v * 0.001,
            )
        }
        "power" => (
            format!("{name}_watt"),
            format!("Hardware monitor for power usage in watts ({element})"),
            Gauge,
            v / 1_000_000.0,
        ),
        "humidity" => (
            name,
            format!(
                "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) ({element})"
            ),
            Gauge,
            v / 1_000_000.0,
        ),
        "fan" if matches!(element, "input" | "min" | "max" | "target") => (
            format!("{name}_rpm"),
            format!("Hardware monitor for fan revolutions per minute ({element})"),
            Gauge,
            v,
        ),
        _ => (
            name,
            format!("Hardware monitor {sensor_type} element {element}"),
            Gauge,
            v,
        ),
    }
}

/// Splits `temp1_crit_alarm` into ("temp", 1, "crit_alarm").
fn explode(filename: &str) -> Option<(&str, u64, &str)> {
    let c = FILENAME.as_ref()?.captures(filename)?;
    let t = c.name("type")?.as_str();
    let id = match c.name("id").map(|m| m.as_str()) {
        Some(s) if !s.is_empty() => s.parse().ok()?,
        _ => 0,
    };
    let prop = c.name("property").map(|m| m.as_str()).unwrap_or("");
    Some((t, id, prop))
}

fn collect_sensor_data(dir: &Path, data: &mut SensorData) -> Result<(), CollectError> {
    let names = dir_names(dir).map_err(|e| CollectError::io(dir, e))?;
    for file in names {
        let Some((t, id, prop)) = explode(&file) else {
            continue;
        };
        if !SENSOR_TYPES.contains(&t) {
            continue;
        }
        let Ok(raw) = read_first(&dir.join(&file)) else {
            continue;
        };
        data.entry(format!("{t}{id}"))
            .or_default()
            .insert(prop.to_owned(), raw.trim_matches('\n').to_owned());
    }
    Ok(())
}

/// The first 128 bytes of a file (what node_exporter's single read returns).
fn read_first(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut buf = [0u8; 128];
    let n = std::fs::File::open(path)?.read(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Lower case, anything but `[a-z0-9:_]` replaced by `_`, no `_` at either end.
fn clean_name(s: &str) -> String {
    let replaced: String = s
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    replaced.trim_matches('_').to_owned()
}

/// The chip label: `<bus type>_<device>` from the `device` link, else the `name`
/// file, else the directory's own name.
fn hwmon_name(dir: &Path) -> Result<String, CollectError> {
    if let Ok(dev) = std::fs::canonicalize(dir.join("device")) {
        let dev_name = dev
            .file_name()
            .map(|n| clean_name(&n.to_string_lossy()))
            .unwrap_or_default();
        let dev_type = dev
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| clean_name(&n.to_string_lossy()))
            .unwrap_or_default();
        if !dev_type.is_empty() && !dev_name.is_empty() {
            return Ok(format!("{dev_type}_{dev_name}"));
        }
        if !dev_name.is_empty() {
            return Ok(dev_name);
        }
    }
    if let Some(n) = human_readable_name(dir) {
        return Ok(n);
    }
    let real = std::fs::canonicalize(dir).map_err(|e| CollectError::io(dir, e))?;
    let n = real
        .file_name()
        .map(|n| clean_name(&n.to_string_lossy()))
        .unwrap_or_default();
    if n.is_empty() {
        return Err(CollectError::invalid(
            dir,
            "could not derive a monitoring name",
        ));
    }
    Ok(n)
}

/// The cleaned contents of the `name` file.
fn human_readable_name(dir: &Path) -> Option<String> {
    let raw = read_limited(&dir.join("name"), 4096).ok()?;
    let n = clean_name(&raw);
    (!n.is_empty()).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        let text = collect_ok("hwmon", &[]);
        let has = |l: &str| assert!(text.lines().any(|x| x == l), "missing {l:?} in\n{text}");
        let c = "chip=\"platform_coretemp_0\"";
        has("node_hwmon_chip_names{chip=\"acpitz\",chip_name=\"acpitz\"} 1");
        has("node_hwmon_chip_names{chip=\"platform_coretemp_0\",chip_name=\"coretemp\"} 1");
        has("node_hwmon_temp_celsius{chip=\"acpitz\",sensor=\"temp1\"} 45");
        has("node_hwmon_temp_crit_celsius{chip=\"acpitz\",sensor=\"temp1\"} 105");
        has(&format!(
            "node_hwmon_temp_celsius{{{c},sensor=\"temp1\"}} 55"
        ));
        has(&format!(
            "node_hwmon_temp_celsius{{{c},sensor=\"temp2\"}} 20"
        ));
        has(&format!(
            "node_hwmon_temp_max_celsius{{{c},sensor=\"temp1\"}} 100"
        ));
        has(&format!(
            "node_hwmon_temp_crit_alarm_celsius{{{c},sensor=\"temp1\"}} 0"
        ));
        has(&format!("node_hwmon_temp_type{{{c},sensor=\"temp1\"}} 5"));
        has(&format!(
            "node_hwmon_sensor_label{{{c},label=\"Package id 0\",sensor=\"temp1\"}} 1"
        ));
        has(&format!("node_hwmon_fan_rpm{{{c},sensor=\"fan1\"}} 1200"));
        has(&format!(
            "node_hwmon_fan_min_rpm{{{c},sensor=\"fan1\"}} 300"
        ));
        has(&format!("node_hwmon_fan_alarm{{{c},sensor=\"fan1\"}} 1"));
        has(&format!(
            "node_hwmon_fan_beep_enabled{{{c},sensor=\"fan1\"}} 0"
        ));
        has(&format!("node_hwmon_fan_pulses{{{c},sensor=\"fan1\"}} 2"));
        has(&format!("node_hwmon_in_volts{{{c},sensor=\"in0\"}} 1.1"));
        has(&format!("node_hwmon_curr_amps{{{c},sensor=\"curr1\"}} 0.5"));
        has(&format!(
            "node_hwmon_power_average_watt{{{c},sensor=\"power1\"}} 15"
        ));
        has(&format!(
            "node_hwmon_power_average_interval_seconds{{{c},sensor=\"power1\"}} 1"
        ));
        has(&format!(
            "node_hwmon_energy_joule_total{{{c},sensor=\"energy1\"}} 2"
        ));
        has(&format!(
            "node_hwmon_humidity{{{c},sensor=\"humidity1\"}} 0.04"
        ));
        has(&format!("node_hwmon_pwm{{{c},sensor=\"pwm1\"}} 128"));
        has(&format!("node_hwmon_pwm_enable{{{c},sensor=\"pwm1\"}} 2"));
        has(&format!(
            "node_hwmon_beep_enabled{{{c},sensor=\"beep_enable0\"}} 1"
        ));
        has(&format!(
            "node_hwmon_update_interval_seconds{{{c},sensor=\"update_interval0\"}} 1"
        ));
        has(&format!(
            "node_hwmon_intrusion_alarm{{{c},sensor=\"intrusion0\"}} 0"
        ));
        assert!(!text.contains("offset"), "unparsable values are skipped");
        assert!(
            text.contains(
                "# HELP node_hwmon_temp_celsius Hardware monitor for temperature (input)\n"
            )
        );
        assert!(text.contains("# HELP node_hwmon_fan_alarm Hardware sensor alarm status (fan)\n"));
        assert!(text.contains("# TYPE node_hwmon_energy_joule_total counter\n"));
    }

    #[test]
    fn names() {
        assert_eq!(explode("temp1_crit_alarm"), Some(("temp", 1, "crit_alarm")));
        assert_eq!(explode("pwm1"), Some(("pwm", 1, "")));
        assert_eq!(explode("beep_enable"), Some(("beep_enable", 0, "")));
        assert_eq!(explode("in0_input"), Some(("in", 0, "input")));
        assert_eq!(clean_name("Coretemp.0\n"), "coretemp_0");
        assert_eq!(clean_name("__A-b__"), "a_b");
    }
}
