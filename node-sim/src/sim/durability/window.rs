//! One repair window: a segment has just been queued for repair and waits a while.
//!
//! The segment enters the window with the healthy count at which the checker first
//! queues it (found by asking the satellite's `verdict`, descending from `optimal`).
//! While it waits, each of those pieces fails independently with probability
//! `1 - e^{-λw}` by elapsed time `w`; which outcomes lose the segment and how much a
//! repair then moves are again the satellite's `verdict` and `pieces_to_rebuild`.

use satellite::repair::health::{Verdict, pieces_to_rebuild, verdict};
use uplink_core::protocol::RedundancyScheme;

/// What the repair at the end of a window does, in expectation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RepairCost {
    /// P(the repair rebuilds at least one piece).
    pub rebuilds: f64,
    pub downloaded: f64,
    pub uploaded: f64,
}

#[derive(Clone, Debug)]
pub struct Window {
    scheme: RedundancyScheme,
    /// Healthy pieces when the segment is queued.
    pub start: u16,
    rate: f64,
    /// ln(n!) for n = 0..=start.
    ln_fact: Vec<f64>,
}

/// Pieces moved by one repair of a segment with `healthy` pieces: it reads `k` pieces
/// and uploads the missing ones; a repair with nothing to rebuild moves nothing.
pub fn repair_pieces(scheme: &RedundancyScheme, healthy: u16) -> (u16, u16) {
    match pieces_to_rebuild(scheme, healthy) {
        0 => (0, 0),
        missing => (scheme.k, missing),
    }
}

/// The healthy count at which a segment that loses pieces one at a time from
/// `optimal` is first queued (or lost).
pub fn threshold(scheme: &RedundancyScheme) -> u16 {
    let mut h = scheme.optimal;
    while h > 0 && verdict(scheme, h) == Verdict::Healthy {
        h -= 1;
    }
    h
}

impl Window {
    /// `rate`: failures per piece per second.
    pub fn new(scheme: &RedundancyScheme, rate: f64) -> Self {
        let start = threshold(scheme);
        let mut ln_fact = vec![0.0; start as usize + 1];
        for n in 1..ln_fact.len() {
            ln_fact[n] = ln_fact[n - 1] + (n as f64).ln();
        }
        Self {
            scheme: *scheme,
            start,
            rate,
            ln_fact,
        }
    }

    /// P(exactly `x` of the `start` pieces fail within `w` seconds), in log space so
    /// that tiny values keep their precision.
    pub fn pmf(&self, x: u16, w: f64) -> f64 {
        let n = self.start;
        if w <= 0.0 {
            return if x == 0 { 1.0 } else { 0.0 };
        }
        let lw = self.rate * w;
        let ln_p = (-(-lw).exp_m1()).ln();
        let (n, x) = (n as usize, x as usize);
        let ln_choose = self.ln_fact[n] - self.ln_fact[x] - self.ln_fact[n - x];
        (ln_choose + x as f64 * ln_p - (n - x) as f64 * lw).exp()
    }

    /// P(the segment is lost within `w` seconds of being queued).
    pub fn loss(&self, w: f64) -> f64 {
        (0..=self.start)
            .filter(|&x| verdict(&self.scheme, self.start - x) == Verdict::Lost)
            .map(|x| self.pmf(x, w))
            .sum()
    }

    /// For the repair that ends a window of `w` seconds, given that the segment
    /// survived it: the probability that it rebuilds anything (a repair with nothing
    /// to rebuild does not count as one), and the expected pieces it downloads and
    /// uploads.
    pub fn repair_cost(&self, w: f64) -> RepairCost {
        let (mut weight, mut moving, mut down, mut up) = (0.0, 0.0, 0.0, 0.0);
        for x in 0..=self.start {
            let healthy = self.start - x;
            if verdict(&self.scheme, healthy) == Verdict::Lost {
                continue;
            }
            let p = self.pmf(x, w);
            let (d, u) = repair_pieces(&self.scheme, healthy);
            weight += p;
            if u > 0 {
                moving += p;
            }
            down += p * d as f64;
            up += p * u as f64;
        }
        if weight > 0.0 {
            RepairCost {
                rebuilds: moving / weight,
                downloaded: down / weight,
                uploaded: up / weight,
            }
        } else {
            RepairCost::default()
        }
    }

    /// `∫₀ʷ (1 - loss(s)) ds` between `a` and `b`: expected time a queued segment
    /// spends waiting rather than lost (Simpson's rule; `1 - loss` is smooth and
    /// monotone, and this feeds only the queue depth).
    pub fn waiting_between(&self, a: f64, b: f64) -> f64 {
        if b <= a {
            return 0.0;
        }
        const INTERVALS: usize = 16;
        let step = (b - a) / INTERVALS as f64;
        let f = |s: f64| 1.0 - self.loss(s);
        let mut sum = f(a) + f(b);
        for i in 1..INTERVALS {
            let weight = if i % 2 == 1 { 4.0 } else { 2.0 };
            sum += weight * f(a + i as f64 * step);
        }
        sum * step / 3.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scheme() -> RedundancyScheme {
        "4/6/8/10".parse().unwrap()
    }

    #[test]
    fn the_window_opens_at_the_repair_threshold() {
        let w = Window::new(&scheme(), 1.0);
        assert_eq!(w.start, 6);
        let all: f64 = (0..=6).map(|x| w.pmf(x, 0.3)).sum();
        assert!((all - 1.0).abs() < 1e-12);
        // Lost when 3 or more of 6 fail: compare with the direct sum.
        let p = 1.0 - (-0.3f64).exp();
        let direct: f64 = (3..=6u32)
            .map(|x| {
                let c = [1.0, 6.0, 15.0, 20.0, 15.0, 6.0, 1.0][x as usize];
                c * p.powi(x as i32) * (1.0 - p).powi(6 - x as i32)
            })
            .sum();
        assert!((w.loss(0.3) - direct).abs() < 1e-12);
        assert_eq!(w.loss(0.0), 0.0);
        // A repair after no further failures reads 4 and uploads 2.
        let c = w.repair_cost(1e-9);
        assert!((c.downloaded - 4.0).abs() < 1e-6, "{c:?}");
        assert!((c.uploaded - 2.0).abs() < 1e-6, "{c:?}");
        assert!((c.rebuilds - 1.0).abs() < 1e-12, "{c:?}");
        // With the threshold at optimal, a repair after no failure rebuilds nothing.
        let w = Window::new(&"4/8/8/10".parse().unwrap(), 1.0);
        assert_eq!(w.start, 8);
        let c = w.repair_cost(0.1);
        assert!(c.rebuilds < 1.0 && c.rebuilds > 0.0, "{c:?}");
        assert!((c.downloaded - 4.0 * c.rebuilds).abs() < 1e-12, "{c:?}");
    }

    #[test]
    fn waiting_time_is_at_most_the_window() {
        let w = Window::new(&scheme(), 1.0);
        let t = w.waiting_between(0.0, 0.5);
        assert!(t < 0.5 && t > 0.5 * (1.0 - w.loss(0.5)), "{t}");
    }
}
