//! What `node-sim durability` prints: the settings, the method, and the figures in the
//! units people ask about (loss over the horizon and its nines, repair traffic per
//! stored byte per year, queue depth), as text or JSON.

use std::fmt;

use serde::Serialize;

use super::exact::Exact;
use super::sampler::Sampled;
use super::settings::{SECONDS_PER_DAY, SECONDS_PER_YEAR, Settings};
use super::{Method, Outcome};

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub settings: SettingsSummary,
    pub exact: ExactReport,
    pub sampler: Option<SamplerReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SettingsSummary {
    pub scheme: String,
    pub nodes: usize,
    pub churn: String,
    /// Departures per node per year (λ).
    pub churn_per_node_per_year: f64,
    pub mean_node_lifetime_years: f64,
    pub network_departures_per_day: f64,
    pub years: f64,
    pub repair_delay_seconds: f64,
    pub delay_distribution: String,
    pub detection: String,
    pub detection_seconds: f64,
    /// Detection plus repair delay: the fixed delay, or the exponential's mean.
    pub total_delay_seconds: f64,
    pub segments: u64,
}

/// Figures in reporting units.
#[derive(Clone, Debug, Serialize)]
pub struct Figures {
    /// P(a segment is lost within the horizon).
    pub loss_probability: f64,
    /// `-log10(loss_probability)`; absent when no loss was found.
    pub nines: Option<f64>,
    /// Of `segments`.
    pub expected_lost_segments: f64,
    pub repairs_per_segment_per_year: f64,
    pub pieces_uploaded_per_repair: f64,
    /// Bytes downloaded plus uploaded by repair, per byte of segment (user data), per year.
    pub repair_bytes_per_segment_byte_per_year: f64,
    /// The same per byte held on nodes (segment bytes times optimal/k).
    pub repair_bytes_per_node_byte_per_year: f64,
    /// Expected segments waiting for repair at a time, of `segments` (time average).
    pub queue_depth: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ExactReport {
    pub method: Method,
    #[serde(flatten)]
    pub figures: Figures,
    pub loss_bounds: [f64; 2],
    pub runtime_seconds: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct SamplerReport {
    pub samples: usize,
    pub seed: u64,
    pub lost: u64,
    pub departures: u64,
    #[serde(flatten)]
    pub figures: Figures,
    pub loss_standard_error: f64,
    /// A 95% upper bound on the loss probability: `3/samples` when nothing was lost
    /// (the rule of three), else the estimate plus 1.96 standard errors.
    pub loss_upper_95: f64,
    /// (sampled − exact) loss in standard errors of a binomial sample at the exact p;
    /// absent when fewer than 5 losses are expected (too few to compare).
    pub loss_deviation_sigmas: Option<f64>,
    pub repair_bytes_per_segment_byte_per_year_standard_error: f64,
    pub queue_depth_standard_error: f64,
    pub runtime_seconds: f64,
}

fn figures(s: &Settings, o: &Outcome) -> Figures {
    let k = s.scheme.k as f64;
    let per_segment_byte = (o.pieces_downloaded + o.pieces_uploaded) / k / s.years;
    Figures {
        loss_probability: o.loss_probability,
        nines: (o.loss_probability > 0.0).then(|| (-o.loss_probability.log10()).max(0.0)),
        expected_lost_segments: o.loss_probability * s.segments as f64,
        repairs_per_segment_per_year: o.repairs / s.years,
        pieces_uploaded_per_repair: if o.repairs > 0.0 {
            o.pieces_uploaded / o.repairs
        } else {
            0.0
        },
        repair_bytes_per_segment_byte_per_year: per_segment_byte,
        repair_bytes_per_node_byte_per_year: per_segment_byte * k / s.scheme.optimal as f64,
        queue_depth: o.queued_fraction * s.segments as f64,
    }
}

impl Report {
    pub fn new(
        s: &Settings,
        exact: &Exact,
        exact_seconds: f64,
        sampled: Option<(Sampled, f64)>,
    ) -> Self {
        let lambda_year = s.rate() * SECONDS_PER_YEAR;
        let settings = SettingsSummary {
            scheme: s.scheme.to_string(),
            nodes: s.nodes,
            churn: s.churn.to_string(),
            churn_per_node_per_year: lambda_year,
            mean_node_lifetime_years: 1.0 / lambda_year,
            network_departures_per_day: s.nodes as f64 * s.rate() * SECONDS_PER_DAY,
            years: s.years,
            repair_delay_seconds: s.repair_delay.as_secs_f64(),
            delay_distribution: s.delay_kind.to_string(),
            detection: s.detection.to_string(),
            detection_seconds: s.detection.delay().as_secs_f64(),
            total_delay_seconds: s.delay_seconds(),
            segments: s.segments,
        };
        let p = exact.outcome.loss_probability;
        let sampler = sampled.map(|(m, seconds)| {
            let binomial_se = (p * (1.0 - p) / m.samples as f64).sqrt();
            let k = s.scheme.k as f64;
            SamplerReport {
                samples: m.samples,
                seed: m.seed,
                lost: m.lost,
                departures: m.departures,
                figures: figures(s, &m.outcome),
                loss_standard_error: m.loss_standard_error,
                loss_upper_95: if m.lost == 0 {
                    3.0 / m.samples as f64
                } else {
                    m.outcome.loss_probability + 1.96 * m.loss_standard_error
                },
                loss_deviation_sigmas: (p * m.samples as f64 >= 5.0)
                    .then(|| (m.outcome.loss_probability - p) / binomial_se),
                repair_bytes_per_segment_byte_per_year_standard_error: m
                    .pieces_moved_standard_error
                    / k
                    / s.years,
                queue_depth_standard_error: m.queued_standard_error * s.segments as f64,
                runtime_seconds: seconds,
            }
        });
        Self {
            settings,
            exact: ExactReport {
                method: exact.method.clone(),
                figures: figures(s, &exact.outcome),
                loss_bounds: exact.loss_bounds,
                runtime_seconds: exact_seconds,
            },
            sampler,
        }
    }
}

fn nines(f: &Figures) -> String {
    match f.nines {
        Some(n) => format!("{n:.2} nines"),
        None => "no loss".into(),
    }
}

fn seconds(s: f64) -> String {
    let d = std::time::Duration::from_secs_f64(s.max(0.0));
    humantime::format_duration(std::time::Duration::from_secs(d.as_secs())).to_string()
}

fn write_figures(f: &mut fmt::Formatter<'_>, x: &Figures, s: &SettingsSummary) -> fmt::Result {
    writeln!(
        f,
        "  P(segment lost within {} years)  {:.3e}  ({})",
        s.years,
        x.loss_probability,
        nines(x)
    )?;
    writeln!(
        f,
        "  expected lost segments          {:.3e} of {}",
        x.expected_lost_segments, s.segments
    )?;
    writeln!(
        f,
        "  repair traffic                  {:.4} bytes per byte of segment per year ({:.4} per byte held on nodes)",
        x.repair_bytes_per_segment_byte_per_year, x.repair_bytes_per_node_byte_per_year
    )?;
    writeln!(
        f,
        "  repairs                         {:.4} per segment per year, {:.2} pieces uploaded each",
        x.repairs_per_segment_per_year, x.pieces_uploaded_per_repair
    )?;
    writeln!(
        f,
        "  queue depth                     {:.4} segments waiting for repair on average, of {}",
        x.queue_depth, s.segments
    )
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        writeln!(f, "Durability of RS {} on {} nodes", s.scheme, s.nodes)?;
        writeln!(
            f,
            "  churn          {} per node (mean node lifetime {:.2} years; {:.1} departures per day in the network), each replaced by an empty node",
            s.churn, s.mean_node_lifetime_years, s.network_departures_per_day
        )?;
        writeln!(f, "  horizon        {} years", s.years)?;
        writeln!(
            f,
            "  repair delay   {} ({}) after detection {}: {} in all{}",
            seconds(s.repair_delay_seconds),
            s.delay_distribution,
            s.detection,
            seconds(s.total_delay_seconds),
            if s.delay_distribution == "exponential" {
                " (mean of one exponential)"
            } else {
                ""
            }
        )?;
        writeln!(f)?;
        let e = &self.exact;
        match &e.method {
            Method::ExactChain {
                states,
                relative_error,
            } => writeln!(
                f,
                "Exact: continuous-time chain over healthy pieces ({states} states), uniformised matrix exponential; relative error < {relative_error:.1e}; {:.3}s",
                e.runtime_seconds
            )?,
            Method::ExactRenewal {
                cells,
                window_loss,
                threshold,
            } => writeln!(
                f,
                "Exact: binomial per repair window (queued at {threshold} pieces; P(loss in one window) = {window_loss:.3e}) over repair cycles, renewal on {cells} cells; loss between {:.3e} and {:.3e}; {:.3}s",
                e.loss_bounds[0], e.loss_bounds[1], e.runtime_seconds
            )?,
        }
        write_figures(f, &e.figures, s)?;
        if let Some(m) = &self.sampler {
            writeln!(f)?;
            writeln!(
                f,
                "Sampler: {} segments on {} nodes, {} departures replayed, seed {}; {:.2}s",
                m.samples, s.nodes, m.departures, m.seed, m.runtime_seconds
            )?;
            write_figures(f, &m.figures, s)?;
            write!(
                f,
                "  lost {} of {} (standard error {:.2e}, 95% upper bound {:.2e})",
                m.lost, m.samples, m.loss_standard_error, m.loss_upper_95
            )?;
            match m.loss_deviation_sigmas {
                Some(z) => writeln!(f, "; {z:+.2} standard errors from the exact figure")?,
                None => writeln!(
                    f,
                    "; too few losses expected to compare with the exact figure"
                )?,
            }
            writeln!(
                f,
                "  standard errors: traffic {:.2e}, queue depth {:.2e}",
                m.repair_bytes_per_segment_byte_per_year_standard_error,
                m.queue_depth_standard_error
            )?;
        }
        Ok(())
    }
}
