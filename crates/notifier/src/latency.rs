//! How long successful requests to one Alertmanager took, kept the way Prometheus
//! exports it: the summary `prometheus_notifications_latency_seconds` (the 0.5, 0.9
//! and 0.99 quantiles of the last ten minutes, with a total sum and count) and the
//! classic buckets of `prometheus_notifications_latency_histogram_seconds`.
//!
//! Go's summary estimates quantiles with a bounded-error stream; notifications are
//! few (one request per batch and Alertmanager), so keeping the observations of the
//! window and reading the quantiles from them exactly is both simpler and cheap.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The quantiles Prometheus's summary reports.
pub const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];
/// The upper bounds of Prometheus's latency histogram buckets (`+Inf` aside).
pub const BUCKETS: [f64; 4] = [0.01, 0.1, 1.0, 10.0];
/// Go's default `MaxAge` of summary observations.
const MAX_AGE: Duration = Duration::from_secs(600);
/// Observations kept at most, whatever their age, so memory stays bounded even if
/// an Alertmanager takes thousands of requests in ten minutes.
const MAX_KEPT: usize = 4096;

/// One Alertmanager's request latencies.
#[derive(Debug, Clone, Default)]
pub struct Latency {
    /// Requests observed since the start.
    pub count: u64,
    /// Their seconds, summed.
    pub sum: f64,
    /// Per bound of [`BUCKETS`], the requests that took at most that long.
    pub buckets: [u64; BUCKETS.len()],
    window: VecDeque<(Instant, f64)>,
}

impl Latency {
    /// Records one request of `seconds`.
    pub fn observe(&mut self, seconds: f64) {
        self.observe_at(Instant::now(), seconds);
    }

    fn observe_at(&mut self, now: Instant, seconds: f64) {
        self.count += 1;
        self.sum += seconds;
        for (b, n) in BUCKETS.iter().zip(self.buckets.iter_mut()) {
            if seconds <= *b {
                *n += 1;
            }
        }
        self.expire(now);
        if self.window.len() >= MAX_KEPT {
            self.window.pop_front();
        }
        self.window.push_back((now, seconds));
    }

    fn expire(&mut self, now: Instant) {
        while let Some((t, _)) = self.window.front() {
            if now.saturating_duration_since(*t) <= MAX_AGE {
                break;
            }
            self.window.pop_front();
        }
    }

    /// The values of [`QUANTILES`] over the last ten minutes; NaN when nothing
    /// was observed in that time, as Go's summary reports.
    pub fn quantiles(&self) -> [f64; QUANTILES.len()] {
        self.quantiles_at(Instant::now())
    }

    fn quantiles_at(&self, now: Instant) -> [f64; QUANTILES.len()] {
        let mut v: Vec<f64> = self
            .window
            .iter()
            .filter(|(t, _)| now.saturating_duration_since(*t) <= MAX_AGE)
            .map(|(_, s)| *s)
            .collect();
        v.sort_by(f64::total_cmp);
        QUANTILES.map(|q| {
            if v.is_empty() {
                return f64::NAN;
            }
            // The smallest observation with at least a share `q` of them at or
            // below it (the rank Go's estimator targets).
            let rank = (q * v.len() as f64).ceil() as usize;
            v[rank.clamp(1, v.len()) - 1]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_buckets_and_expiry() {
        let start = Instant::now();
        let mut l = Latency::default();
        assert!(l.quantiles_at(start).iter().all(|q| q.is_nan()));
        for i in 1..=100 {
            l.observe_at(start, f64::from(i) / 100.0);
        }
        assert_eq!(l.quantiles_at(start), [0.5, 0.9, 0.99]);
        assert_eq!(l.count, 100);
        assert!((l.sum - 50.5).abs() < 1e-9);
        assert_eq!(l.buckets, [1, 10, 100, 100]);
        // Ten minutes later the old observations no longer count for the
        // quantiles; the sum, count and buckets stay.
        let later = start + MAX_AGE + Duration::from_secs(1);
        assert!(l.quantiles_at(later).iter().all(|q| q.is_nan()));
        l.observe_at(later, 20.0);
        assert_eq!(l.quantiles_at(later), [20.0, 20.0, 20.0]);
        assert_eq!(l.count, 101);
        assert_eq!(l.buckets, [1, 10, 100, 100]);
    }
}
