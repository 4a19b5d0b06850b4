//! `time`: the system clock, the local time zone's offset, and the clock sources from
//! `/sys/devices/system/clocksource`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{CollectError, Collector, Config};
use crate::metrics::Out;
use crate::read::{glob_numbered, read_sys};

pub(crate) struct Time(pub(crate) Arc<Config>);

impl Collector for Time {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        out.gauge(
            "node_time_seconds",
            "System time in seconds since epoch (1970).",
            &[],
            now,
        );
        let (zone, offset) = local_zone();
        out.gauge(
            "node_time_zone_offset_seconds",
            "System time zone offset in seconds.",
            &[("time_zone", &zone)],
            offset as f64,
        );
        let dirs = glob_numbered(&self.0.sys("devices/system/clocksource"), "clocksource")?;
        for (i, dir) in dirs.iter().enumerate() {
            let device = i.to_string();
            let read = |f: &str| {
                let p = dir.join(f);
                read_sys(&p).map_err(|e| CollectError::io(&p, e))
            };
            let available = read("available_clocksource")?;
            let current = read("current_clocksource")?;
            for cs in available.split_whitespace() {
                out.gauge(
                    "node_time_clocksource_available_info",
                    "Available clocksources read from '/sys/devices/system/clocksource'.",
                    &[("device", &device), ("clocksource", cs)],
                    1.0,
                );
            }
            out.gauge(
                "node_time_clocksource_current_info",
                "Current clocksource read from '/sys/devices/system/clocksource'.",
                &[("device", &device), ("clocksource", &current)],
                1.0,
            );
        }
        Ok(())
    }
}

/// The local time zone's abbreviation and offset from UTC in seconds, as the C
/// library sees them (`TZ`, else `/etc/localtime`).
fn local_zone() -> (String, i64) {
    // SAFETY: `time` accepts a null pointer and only returns the time.
    let now = unsafe { libc::time(std::ptr::null_mut()) };
    // SAFETY: `tm` is plain old data; all-zero bytes are a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; `localtime_r` writes only `tm`.
    let r = unsafe { libc::localtime_r(&now, &mut tm) };
    if r.is_null() {
        return ("UTC".into(), 0);
    }
    let name = if tm.tm_zone.is_null() {
        "UTC".to_owned()
    } else {
        // SAFETY: glibc points `tm_zone` at a NUL-terminated string that lives as long
        // as the time zone data, which is never freed while the process runs.
        unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }
            .to_string_lossy()
            .into_owned()
    };
    (name, tm.tm_gmtoff)
}

#[cfg(test)]
mod tests {
    use crate::collectors::testutil::*;

    #[test]
    fn fixture() {
        let text = collect_ok("time", &[]);
        let s = samples(&text);
        assert!(s.contains(
            &"node_time_clocksource_available_info{clocksource=\"acpi_pm\",device=\"0\"} 1"
        ));
        assert!(s.contains(
            &"node_time_clocksource_available_info{clocksource=\"hpet\",device=\"0\"} 1"
        ));
        assert!(
            s.contains(&"node_time_clocksource_current_info{clocksource=\"tsc\",device=\"0\"} 1")
        );
        assert!(s.iter().any(|l| l.starts_with("node_time_seconds 1.")));
        assert!(
            s.iter()
                .any(|l| l.starts_with("node_time_zone_offset_seconds{time_zone=\""))
        );
    }
}
