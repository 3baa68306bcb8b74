//! The `node-sim durability` command line, kept with the model so that the binary only
//! forwards to it.

use super::settings::{self, Churn, DelayKind, Detection, Settings};
use super::{DurabilityError, Options, Report, run};

/// Durability of the network under node churn, by the satellite's own repair rules:
/// segment loss probability over the horizon, repair traffic, and repair queue depth.
#[derive(Clone, Debug, clap::Args)]
pub struct DurabilityArgs {
    /// Erasure scheme k/repair/optimal/total.
    #[arg(long, default_value = "29/35/80/110")]
    pub scheme: String,
    /// Nodes in the network (constant: each departed node is replaced).
    #[arg(long, default_value_t = 10_000)]
    pub nodes: usize,
    /// Departure rate per node, e.g. 2%/month (exponential node lifetimes).
    #[arg(long, default_value = "2%/month")]
    pub churn: String,
    /// Horizon in years.
    #[arg(long, default_value = "10", allow_hyphen_values = true)]
    pub years: String,
    /// Time from detection to completed repair, e.g. 6h.
    #[arg(long, default_value = "6h")]
    pub repair_delay: String,
    /// Whether every repair takes exactly the delay, or an exponential time with the
    /// delay as its mean.
    #[arg(long, default_value = "exponential")]
    pub delay_distribution: String,
    /// How long a departure goes unnoticed: real (the satellite's default online window
    /// plus one checker interval), none, or a duration.
    #[arg(long, default_value = "real")]
    pub detection: String,
    /// Segments stored in the network (for queue depth and expected losses).
    #[arg(long, default_value_t = 1_000_000)]
    pub segments: u64,
    /// Also replay this many segments over the network with the Monte Carlo sampler.
    #[arg(long)]
    pub samples: Option<usize>,
    /// Seed of the sampler.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

impl DurabilityArgs {
    pub fn settings(&self) -> Result<Settings, DurabilityError> {
        let settings = Settings {
            scheme: settings::parse_scheme(&self.scheme)?,
            nodes: self.nodes,
            churn: self.churn.parse::<Churn>()?,
            years: settings::parse_years(&self.years)?,
            repair_delay: settings::parse_delay(&self.repair_delay)?,
            delay_kind: self.delay_distribution.parse::<DelayKind>()?,
            detection: self.detection.parse::<Detection>()?,
            segments: self.segments,
        };
        settings.validate()?;
        Ok(settings)
    }

    pub fn options(&self) -> Options {
        Options {
            samples: self.samples,
            seed: self.seed,
            ..Options::default()
        }
    }
}

/// Runs the command and returns what it prints.
pub fn execute(args: &DurabilityArgs) -> Result<String, DurabilityError> {
    let report: Report = run(&args.settings()?, &args.options())?;
    Ok(if args.json {
        serde_json::to_string_pretty(&report).expect("the report serialises") + "\n"
    } else {
        report.to_string()
    })
}
