//! Small statistics over measured durations: percentiles, rates, and the least-squares fit of a
//! growth exponent.

use std::time::Duration;

/// Latencies of repeated calls, in microseconds, kept sorted.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    sorted_us: Vec<f64>,
}

impl Latencies {
    /// From raw durations (any order).
    pub fn from_durations(d: &[Duration]) -> Latencies {
        let mut sorted_us: Vec<f64> = d.iter().map(|d| d.as_secs_f64() * 1e6).collect();
        sorted_us.sort_by(f64::total_cmp);
        Latencies { sorted_us }
    }

    pub fn count(&self) -> usize {
        self.sorted_us.len()
    }

    /// The `p`-th percentile (0..=100) by the nearest-rank method, in ms.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.sorted_us.is_empty() {
            return 0.0;
        }
        nearest_rank(&self.sorted_us, p) / 1000.0
    }

    pub fn p50_ms(&self) -> f64 {
        self.percentile_ms(50.0)
    }

    pub fn p99_ms(&self) -> f64 {
        self.percentile_ms(99.0)
    }

    pub fn max_ms(&self) -> f64 {
        self.sorted_us.last().copied().unwrap_or(0.0) / 1000.0
    }
}

/// The `p`-th percentile (0..=100) of `sorted` (ascending, not empty) by the nearest-rank
/// method: the value every percentile figure of the harness reports.
pub fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Items per second.
pub fn rate(items: u64, elapsed: Duration) -> f64 {
    items as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// The exponent `k` of `t ∝ n^k` that fits the points best (least squares on the logs).
pub fn growth_exponent(points: &[(f64, f64)]) -> f64 {
    let logs: Vec<(f64, f64)> = points
        .iter()
        .filter(|(n, t)| *n > 0.0 && *t > 0.0)
        .map(|(n, t)| (n.ln(), t.ln()))
        .collect();
    let m = logs.len() as f64;
    if m < 2.0 {
        return f64::NAN;
    }
    let mx = logs.iter().map(|p| p.0).sum::<f64>() / m;
    let my = logs.iter().map(|p| p.1).sum::<f64>() / m;
    let sxy: f64 = logs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = logs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    sxy / sxx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let l = Latencies::from_durations(&d);
        assert_eq!(l.p50_ms(), 50.0);
        assert_eq!(l.p99_ms(), 99.0);
        assert_eq!(l.max_ms(), 100.0);
    }

    #[test]
    fn a_linear_curve_has_exponent_one() {
        let k = growth_exponent(&[(1e4, 1.0), (1e5, 10.0), (1e6, 100.0)]);
        assert!((k - 1.0).abs() < 1e-9, "{k}");
        let k = growth_exponent(&[(1e4, 1.0), (1e5, 100.0)]);
        assert!((k - 2.0).abs() < 1e-9, "{k}");
    }
}
