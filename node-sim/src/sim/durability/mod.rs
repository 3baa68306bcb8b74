//! `node-sim durability`: how likely a segment is to be lost over years of node churn,
//! what repair costs, and how many segments wait for repair, under the satellite's own
//! repair rules.
//!
//! Why here and why this way: durability claims are only worth what the model behind
//! them is, and a model that restates the checker's thresholds drifts from the checker.
//! So every rule comes from the satellite: which healthy counts are queued or lost is
//! `satellite::repair::health::verdict`, what a repair uploads is `pieces_to_rebuild`,
//! and the detection delay of real settings is read from `SatelliteConfig::default()`.
//!
//! Two methods answer the same question. [`exact`] solves the per-segment Markov model
//! (exponential delay: a chain and its matrix exponential; fixed delay: a binomial per
//! repair window summed over repair cycles), runs in under a second and resolves loss
//! probabilities of 1e-20. [`sampler`] replays node departures over a whole network
//! with a seeded generator; it cannot see such small probabilities but checks the
//! exact figures where losses are frequent.
//!
//! Traffic unit: a repair downloads `k` pieces and uploads the missing ones, each piece
//! `1/k` of the segment, so a repair moves `(k + missing)/k` bytes per byte of the
//! segment. Reported per byte of segment (user data before erasure expansion) per
//! year, and per byte held on nodes (that divided by `optimal/k`).

pub mod cli;
pub mod exact;
pub mod matrix;
pub mod report;
pub mod sampler;
pub mod settings;
pub mod window;

#[cfg(test)]
mod tests;

use std::time::Instant;

use serde::Serialize;

pub use report::Report;
pub use settings::{Churn, DelayKind, Detection, Settings};

/// Bad settings, each naming what was wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DurabilityError {
    #[error("invalid --scheme: {0}")]
    Scheme(String),
    #[error("invalid --churn: {0}")]
    Churn(String),
    #[error("invalid --years: {0}")]
    Years(String),
    #[error("invalid repair delay: {0}")]
    Delay(String),
    #[error("invalid --detection: {0}")]
    Detection(String),
    #[error("invalid --nodes: {0}")]
    Nodes(String),
    #[error("invalid --segments: {0}")]
    Segments(String),
    #[error("invalid --samples: {0}")]
    Samples(String),
}

/// Per segment, over the whole horizon.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Outcome {
    /// P(the segment is lost within the horizon).
    pub loss_probability: f64,
    /// Expected repairs.
    pub repairs: f64,
    /// Expected pieces downloaded and uploaded by repairs.
    pub pieces_downloaded: f64,
    pub pieces_uploaded: f64,
    /// Expected fraction of the horizon spent waiting for repair (from the departure
    /// that reaches the threshold, detection included, until the repair or the loss).
    pub queued_fraction: f64,
}

/// How a figure was computed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Method {
    /// Exponential delay: transient solution of the healthy-count chain.
    ExactChain { states: usize, relative_error: f64 },
    /// Fixed delay: binomial per repair window, renewal over cycles on a grid.
    ExactRenewal {
        cells: usize,
        /// P(loss within one full repair window).
        window_loss: f64,
        /// Healthy pieces when a segment is queued.
        threshold: u16,
    },
}

/// How to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Also replay this many segments with the sampler.
    pub samples: Option<usize>,
    pub seed: u64,
    /// Grid cells of the fixed-delay calculation.
    pub cells: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            samples: None,
            seed: 1,
            cells: exact::DEFAULT_CELLS,
        }
    }
}

/// The exact figures for `settings` (the method follows the delay distribution).
pub fn exact_figures(settings: &Settings, cells: usize) -> exact::Exact {
    match settings.delay_kind {
        DelayKind::Exponential => exact::exponential(settings),
        DelayKind::Fixed => exact::fixed(settings, cells),
    }
}

/// Checks the settings, computes the exact figures and, if asked, samples.
pub fn run(settings: &Settings, options: &Options) -> Result<Report, DurabilityError> {
    settings.validate()?;
    if options.samples == Some(0) {
        return Err(DurabilityError::Samples("must be at least 1".into()));
    }
    let started = Instant::now();
    let exact = exact_figures(settings, options.cells);
    let exact_seconds = started.elapsed().as_secs_f64();
    let sampled = options.samples.map(|n| {
        let started = Instant::now();
        let s = sampler::run(settings, n, options.seed);
        (s, started.elapsed().as_secs_f64())
    });
    Ok(Report::new(settings, &exact, exact_seconds, sampled))
}
