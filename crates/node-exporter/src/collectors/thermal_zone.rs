//! `thermal_zone`: zone temperatures and cooling device states from
//! `/sys/class/thermal`.

use std::sync::Arc;

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{glob_numbered, read_i64, read_sys};

pub(crate) struct ThermalZone(pub(crate) Arc<Config>);

impl Collector for ThermalZone {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let root = self.0.sys("class/thermal");
        for zone in glob_numbered(&root, "thermal_zone")? {
            let name = suffix(&zone, "thermal_zone");
            let zone_type = match read_sys(&zone.join("type")) {
                Ok(t) => t,
                Err(e) if e.raw_os_error() == Some(libc::ENODATA) => continue,
                Err(e) => return Err(CollectError::io(&zone.join("type"), e)),
            };
            let temp = match read_i64(&zone.join("temp")) {
                Ok(t) => t,
                Err(CollectError::Io { source, .. })
                    if source.raw_os_error() == Some(libc::ENODATA) =>
                {
                    continue;
                }
                Err(e) => return Err(e),
            };
            out.gauge(
                "node_thermal_zone_temp",
                "Zone temperature in Celsius",
                &[("zone", &name), ("type", &zone_type)],
                temp as f64 / 1000.0,
            );
        }
        for dev in glob_numbered(&root, "cooling_device")? {
            let name = suffix(&dev, "cooling_device");
            let dev_type = read_sys(&dev.join("type")).map_err(|e| CollectError::io(&dev, e))?;
            let max = read_i64(&dev.join("max_state"))?;
            let cur = read_i64(&dev.join("cur_state"))?;
            let l = [("name", name.as_str()), ("type", dev_type.as_str())];
            out.gauge(
                "node_cooling_device_cur_state",
                "Current throttle state of the cooling device",
                &l,
                cur as f64,
            );
            out.gauge(
                "node_cooling_device_max_state",
                "Maximum throttle state of the cooling device",
                &l,
                max as f64,
            );
        }
        Ok(())
    }
}

fn suffix(path: &std::path::Path, prefix: &str) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix(prefix))
        .unwrap_or("")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        assert_eq!(
            samples(&collect_ok("thermal_zone", &[])),
            [
                "node_cooling_device_cur_state{name=\"0\",type=\"Processor\"} 1",
                "node_cooling_device_max_state{name=\"0\",type=\"Processor\"} 3",
                "node_thermal_zone_temp{type=\"acpitz\",zone=\"1\"} 27.8",
                "node_thermal_zone_temp{type=\"x86_pkg_temp\",zone=\"0\"} 48",
            ]
        );
    }
}
