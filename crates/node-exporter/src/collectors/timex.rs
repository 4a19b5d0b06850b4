//! `timex`: the kernel's clock discipline state from `adjtimex(2)` (offset,
//! frequency, errors, PPS counters, synchronisation status).

use super::{CollectError, Collector};
use crate::metrics::Out;

pub(crate) struct Timex;

/// `adjtimex` returns this when the clock is not synchronised.
const TIME_ERROR: i32 = 5;
/// Status bit: offsets are in nanoseconds rather than microseconds.
const STA_NANO: i32 = 0x2000;
const PPM16FRAC: f64 = 1_000_000.0 * 65536.0;

impl Collector for Timex {
    fn update(&self, out: &mut Out) -> Result<(), CollectError> {
        // SAFETY: `timex` is plain old data; all-zero (modes = 0) is a read-only query.
        let mut tx: libc::timex = unsafe { std::mem::zeroed() };
        // SAFETY: `tx` is a valid, writable `timex` for the duration of the call.
        let status = unsafe { libc::adjtimex(&mut tx) };
        if status < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                return Err(CollectError::NoData("not allowed to call adjtimex".into()));
            }
            return Err(CollectError::io(std::path::Path::new("adjtimex(2)"), e));
        }
        let sync = if status == TIME_ERROR { 0.0 } else { 1.0 };
        let divisor = if tx.status & STA_NANO != 0 { 1e9 } else { 1e6 };
        let g = |out: &mut Out, name: &str, help: &str, v: f64| out.gauge(name, help, &[], v);
        let c = |out: &mut Out, name: &str, help: &str, v: f64| out.counter(name, help, &[], v);
        g(
            out,
            "node_timex_sync_status",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            sync,
        );
        g(
            out,
            "node_timex_offset_seconds",
            "Time offset in between local system and reference clock.",
            tx.offset as f64 / divisor,
        );
        g(
            out,
            "node_timex_frequency_adjustment_ratio",
            "Local clock frequency adjustment.",
            1.0 + tx.freq as f64 / PPM16FRAC,
        );
        g(
            out,
            "node_timex_maxerror_seconds",
            "Maximum error in seconds.",
            tx.maxerror as f64 / 1e6,
        );
        g(
            out,
            "node_timex_estimated_error_seconds",
            "Estimated error in seconds.",
            tx.esterror as f64 / 1e6,
        );
        g(
            out,
            "node_timex_status",
            "Value of the status array bits.",
            f64::from(tx.status),
        );
        g(
            out,
            "node_timex_loop_time_constant",
            "Phase-locked loop time constant.",
            tx.constant as f64,
        );
        g(
            out,
            "node_timex_tick_seconds",
            "Seconds between clock ticks.",
            tx.tick as f64 / 1e6,
        );
        g(
            out,
            "node_timex_pps_frequency_hertz",
            "Pulse per second frequency.",
            tx.ppsfreq as f64 / PPM16FRAC,
        );
        g(
            out,
            "node_timex_pps_jitter_seconds",
            "Pulse per second jitter.",
            tx.jitter as f64 / divisor,
        );
        g(
            out,
            "node_timex_pps_shift_seconds",
            "Pulse per second interval duration.",
            f64::from(tx.shift),
        );
        g(
            out,
            "node_timex_pps_stability_hertz",
            "Pulse per second stability, average of recent frequency changes.",
            tx.stabil as f64 / PPM16FRAC,
        );
        c(
            out,
            "node_timex_pps_jitter_total",
            "Pulse per second count of jitter limit exceeded events.",
            tx.jitcnt as f64,
        );
        c(
            out,
            "node_timex_pps_calibration_total",
            "Pulse per second count of calibration intervals.",
            tx.calcnt as f64,
        );
        c(
            out,
            "node_timex_pps_error_total",
            "Pulse per second count of calibration errors.",
            tx.errcnt as f64,
        );
        c(
            out,
            "node_timex_pps_stability_exceeded_total",
            "Pulse per second count of stability limit exceeded events.",
            tx.stbcnt as f64,
        );
        g(
            out,
            "node_timex_tai_offset_seconds",
            "International Atomic Time (TAI) offset.",
            f64::from(tx.tai),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kernel_clock() {
        let mut out = Out::default();
        match Timex.update(&mut out) {
            Ok(()) => assert_eq!(out.into_families().len(), 17),
            Err(CollectError::NoData(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
}
