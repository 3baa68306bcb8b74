//! The exact figures for one segment, whose pieces fail independently at the node
//! departure rate λ (a departed node is replaced by an empty one, so every piece,
//! original or rebuilt, lives an exponential time on a memoryless node).
//!
//! - Exponential delay: a continuous-time chain over healthy-piece counts. From `h`
//!   pieces a failure leads to `h-1` at rate `hλ`; from every count the satellite's
//!   `verdict` queues, a repair leads to `h + pieces_to_rebuild(h)` at rate `1/D`
//!   (memorylessness makes a clock started at queueing equal to one running in every
//!   queued state); counts the verdict calls lost merge into one absorbing state.
//!   Loss within the horizon, expected repairs and time spent queued come from
//!   `exp(QH)` and its integral ([`super::matrix`]).
//! - Fixed delay: a segment descends from `optimal` to the repair threshold (a pure
//!   death chain), then waits exactly `D`; during the wait the number of its pieces that
//!   fail is binomial, and too many lose it. Cycles (descent + `D`) repeat; the loss
//!   probability is the per-window binomial summed over the repair cycles that start
//!   within the horizon, each weighted by the chance of surviving the earlier ones,
//!   with the last window cut at the horizon. The cycle distribution lives on a grid
//!   of `cells` cells over the horizon; rounding every cycle up or down to the grid
//!   gives a lower and an upper bound (reported), the estimate is their midpoint.

use satellite::repair::health::{Verdict, verdict};

use super::matrix::{Matrix, transient};
use super::settings::Settings;
use super::window::{Window, repair_pieces};
use super::{Method, Outcome};

/// Grid cells of the fixed-delay calculation: the loss bracket's relative width is
/// about (repair cycles in the horizon) / cells.
pub const DEFAULT_CELLS: usize = 20_000;

/// An exact figure with its accuracy.
#[derive(Clone, Debug)]
pub struct Exact {
    pub outcome: Outcome,
    /// The true loss probability lies between these (up to rounding of the bounds).
    pub loss_bounds: [f64; 2],
    pub method: Method,
}

/// The exponential-delay chain.
pub fn exponential(s: &Settings) -> Exact {
    let scheme = &s.scheme;
    let lambda = s.rate();
    let nu = 1.0 / s.delay_seconds();
    let horizon = s.horizon_seconds();
    // States: every healthy count the verdict does not call lost, then one lost state.
    let alive: Vec<u16> = (0..=scheme.optimal)
        .filter(|&h| verdict(scheme, h) != Verdict::Lost)
        .collect();
    let lost = alive.len();
    let index = |h: u16| alive.iter().position(|&a| a == h).unwrap_or(lost);
    let mut q = Matrix::zeros(lost + 1);
    let mut queued = Vec::new();
    for (i, &h) in alive.iter().enumerate() {
        if h > 0 {
            let rate = h as f64 * lambda;
            q[(i, index(h - 1))] += rate;
            q[(i, i)] -= rate;
        }
        if verdict(scheme, h) == Verdict::Repair {
            queued.push(i);
            let (_, up) = repair_pieces(scheme, h);
            if up > 0 {
                q[(i, index(h + up))] += nu;
                q[(i, i)] -= nu;
            }
        }
    }
    let start = index(scheme.optimal);
    let tr = transient(&q, horizon);
    let p = tr.p.row(start);
    let time_in = tr.j.row(start);
    let loss = p[lost];
    let (mut repairs, mut down, mut up) = (0.0, 0.0, 0.0);
    let mut waiting = 0.0;
    for &i in &queued {
        waiting += time_in[i];
        let (d, u) = repair_pieces(scheme, alive[i]);
        if u > 0 {
            let n = nu * time_in[i];
            repairs += n;
            down += n * d as f64;
            up += n * u as f64;
        }
    }
    Exact {
        outcome: Outcome {
            loss_probability: loss,
            repairs,
            pieces_downloaded: down,
            pieces_uploaded: up,
            queued_fraction: waiting / horizon,
        },
        loss_bounds: [
            loss * (1.0 - tr.relative_error),
            loss * (1.0 + tr.relative_error),
        ],
        method: Method::ExactChain {
            states: lost + 1,
            relative_error: tr.relative_error,
        },
    }
}

/// The fixed-delay renewal calculation on a grid of `cells` cells.
pub fn fixed(s: &Settings, cells: usize) -> Exact {
    let cells = cells.max(16);
    let lambda = s.rate();
    let delay = s.delay_seconds();
    let horizon = s.horizon_seconds();
    let window = Window::new(&s.scheme, lambda);
    let q = window.loss(delay);
    let survive = 1.0 - q;
    // Everything is measured on the grid [0, horizon + delay]: window n starts at
    // E_n - delay, where E_n is the end of the n-th cycle.
    let end = horizon + delay;
    let h = end / cells as f64;
    let (cycle, chain_error) = cycle_cells(s, &window, cells, h);
    let late = &cycle; // cell j's mass at j·h
    let mut early = vec![0.0; cells + 1]; // at (j-1)·h
    early[..cells].copy_from_slice(&cycle[1..]);
    // Loss and waiting as functions of the time left between a window's start and the
    // horizon, x = end - epoch, at the grid points.
    let partial = ((delay / h).ceil() as usize).min(cells + 1);
    let mut loss_at = Vec::with_capacity(partial);
    let mut wait_at = Vec::with_capacity(partial);
    let mut waited = 0.0;
    for m in 0..partial {
        let x = m as f64 * h;
        if m > 0 {
            waited += window.waiting_between((m - 1) as f64 * h, x);
        }
        loss_at.push(window.loss(x));
        wait_at.push(waited);
    }
    let full_wait = waited + window.waiting_between((partial.max(1) - 1) as f64 * h, delay);
    let loss_of = |m: usize| loss_at.get(m).copied().unwrap_or(q);
    let wait_of = |m: usize| wait_at.get(m).copied().unwrap_or(full_wait);
    let last_repair_epoch = ((horizon / h) * (1.0 + 1e-12)).floor() as usize;
    let evaluate = |cycle: &[f64]| {
        let weights = weighted_renewals(cycle, survive);
        let (mut loss, mut repairs, mut waiting) = (0.0, 0.0, 0.0);
        for (i, &w) in weights.iter().enumerate() {
            let m = cells - i;
            loss += w * loss_of(m);
            waiting += w * wait_of(m);
            if i <= last_repair_epoch {
                repairs += w * survive;
            }
        }
        (loss, repairs, waiting / horizon)
    };
    // "repairs" here are windows that end in a repair, whether or not it rebuilds.
    let (loss_lo, repairs_lo, wait_lo) = evaluate(late);
    let (loss_hi, repairs_hi, wait_hi) = evaluate(&early);
    let cost = window.repair_cost(delay);
    let windows = (repairs_lo + repairs_hi) / 2.0;
    let err = 1.0 + chain_error;
    Exact {
        outcome: Outcome {
            loss_probability: (loss_lo + loss_hi) / 2.0,
            repairs: windows * cost.rebuilds,
            pieces_downloaded: windows * cost.downloaded,
            pieces_uploaded: windows * cost.uploaded,
            queued_fraction: (wait_lo + wait_hi) / 2.0,
        },
        loss_bounds: [loss_lo / err, loss_hi * err],
        method: Method::ExactRenewal {
            cells,
            window_loss: q,
            threshold: window.start,
        },
    }
}

/// The distribution of one cycle (descent to the threshold, then the delay) on the
/// grid: entry `j` is P(cycle ∈ ((j-1)h, jh]), entry 0 is zero. Also the relative error
/// of the chain solution.
fn cycle_cells(s: &Settings, window: &Window, cells: usize, h: f64) -> (Vec<f64>, f64) {
    let delay = s.delay_seconds();
    let mut out = vec![0.0; cells + 1];
    let first = ((delay / h).ceil() as usize).max(1);
    if first > cells {
        return (out, 0.0);
    }
    // Descent states: optimal, optimal-1, ..., threshold (absorbing, last).
    let top = s.scheme.optimal;
    let steps = (top - window.start) as usize;
    if steps == 0 {
        out[first] = 1.0;
        return (out, 0.0);
    }
    let mut q = Matrix::zeros(steps + 1);
    for i in 0..steps {
        let rate = (top as usize - i) as f64 * s.rate();
        q[(i, i)] = -rate;
        q[(i, i + 1)] = rate;
    }
    let step = transient(&q, h);
    let offset = transient(&q, first as f64 * h - delay);
    let mut v = offset.p.row(0).to_vec();
    out[first] = v[steps];
    v[steps] = 0.0;
    for cell in out.iter_mut().skip(first + 1) {
        if v.iter().sum::<f64>() < 1e-18 {
            break;
        }
        let next = step.p.left_mul(&v);
        *cell = next[steps];
        v = next;
        v[steps] = 0.0;
    }
    (
        out,
        step.relative_error.max(offset.relative_error) * cells as f64,
    )
}

/// `M[i] = Σₙ zⁿ⁻¹ P(Eₙ = i)` for the renewal epochs `Eₙ` of a lattice cycle
/// distribution `c` (`c[0]` may be positive): `M = c + z·(c ∗ M)`.
fn weighted_renewals(c: &[f64], z: f64) -> Vec<f64> {
    let n = c.len();
    let lo = c.iter().skip(1).position(|&x| x > 0.0).map_or(n, |p| p + 1);
    let hi = c.iter().rposition(|&x| x > 0.0).unwrap_or(0);
    let norm = 1.0 - z * c[0];
    let mut m = vec![0.0; n];
    for i in 0..n {
        let mut acc = c[i];
        let top = hi.min(i);
        if lo <= top {
            // Σ_{j=lo..=top} c[j]·m[i-j]
            let conv: f64 = c[lo..=top]
                .iter()
                .zip(m[i - top..=i - lo].iter().rev())
                .map(|(a, b)| a * b)
                .sum();
            acc += z * conv;
        }
        m[i] = acc / norm;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The weights are the chance of reaching each epoch, discounted by z per earlier
    /// cycle.
    #[test]
    fn renewal_weights_count_epochs() {
        // Cycles of exactly 2 cells: epochs at 2, 4, 6, 8, 10 on a lattice of 11.
        let mut c = vec![0.0; 11];
        c[2] = 1.0;
        let m = weighted_renewals(&c, 0.5);
        let expect = [0.0, 0.0, 1.0, 0.0, 0.5, 0.0, 0.25, 0.0, 0.125, 0.0, 0.0625];
        for (a, b) in m.iter().zip(expect) {
            assert!((a - b).abs() < 1e-15, "{m:?}");
        }
        // A cycle that may take no cell at all is solved implicitly.
        let c = [0.5, 0.5, 0.0];
        let m = weighted_renewals(&c, 1.0);
        // Σₙ P(Eₙ = 0) = Σₙ 0.5ⁿ = 1.
        assert!((m[0] - 1.0).abs() < 1e-15);
    }
}
