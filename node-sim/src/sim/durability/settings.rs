//! The model's settings, parsed from what a person types and checked once, so that the
//! models below can assume them sane.
//!
//! Units: churn is a departure *rate* per node ("2%/month" = on average 2% of the nodes
//! leave per month, lifetimes exponential with mean 50 months); time is kept in seconds;
//! a month is 365.25/12 days and a year 365.25 days. The detection delay that real
//! settings imply is read from the satellite's own configuration defaults.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use satellite::SatelliteConfig;
use serde::Serialize;
use uplink_core::protocol::RedundancyScheme;

use super::DurabilityError;

pub const SECONDS_PER_DAY: f64 = 86_400.0;
pub const SECONDS_PER_YEAR: f64 = 365.25 * SECONDS_PER_DAY;
pub const SECONDS_PER_MONTH: f64 = SECONDS_PER_YEAR / 12.0;

/// Node departures: each node leaves at this rate (exponential lifetimes) and is
/// replaced by a new, empty node, so the node count stays constant.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Churn {
    /// Departures per node per second.
    pub per_second: f64,
    /// The rate as typed, in its own unit (e.g. 0.02 for "2%/month").
    pub per_unit: f64,
    pub unit: TimeUnit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl TimeUnit {
    pub fn seconds(self) -> f64 {
        match self {
            Self::Hour => 3600.0,
            Self::Day => SECONDS_PER_DAY,
            Self::Week => 7.0 * SECONDS_PER_DAY,
            Self::Month => SECONDS_PER_MONTH,
            Self::Year => SECONDS_PER_YEAR,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
        }
    }
}

impl FromStr for Churn {
    type Err = DurabilityError;

    /// `<rate>%/<unit>` or `<fraction>/<unit>`, unit one of hour, day, week, month, year.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            DurabilityError::Churn(format!(
                "{s:?}: {why}; expected e.g. 2%/month or 0.02/month (units: hour, day, week, month, year)"
            ))
        };
        let (amount, unit) = s.split_once('/').ok_or_else(|| bad("no /unit"))?;
        let amount = amount.trim();
        let (number, scale) = match amount.strip_suffix('%') {
            Some(n) => (n.trim(), 0.01),
            None => (amount, 1.0),
        };
        let value: f64 = number.parse().map_err(|_| bad("rate is not a number"))?;
        if !value.is_finite() || value <= 0.0 {
            return Err(bad("rate must be positive"));
        }
        let unit = match unit.trim().trim_end_matches('s') {
            "hour" | "h" => TimeUnit::Hour,
            "day" | "d" => TimeUnit::Day,
            "week" | "w" => TimeUnit::Week,
            "month" | "mo" => TimeUnit::Month,
            "year" | "y" | "yr" => TimeUnit::Year,
            _ => return Err(bad("unknown unit")),
        };
        let per_unit = value * scale;
        Ok(Self {
            per_second: per_unit / unit.seconds(),
            per_unit,
            unit,
        })
    }
}

impl fmt::Display for Churn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%/{}", self.per_unit * 100.0, self.unit.name())
    }
}

/// How long a repair takes from the moment it is due (after detection).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DelayKind {
    /// Every repair takes exactly the delay.
    Fixed,
    /// Repair times are exponential with the delay as their mean.
    Exponential,
}

impl FromStr for DelayKind {
    type Err = DurabilityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "fixed" => Ok(Self::Fixed),
            "exponential" | "exp" => Ok(Self::Exponential),
            _ => Err(DurabilityError::Delay(format!(
                "delay distribution {s:?} must be fixed or exponential"
            ))),
        }
    }
}

impl fmt::Display for DelayKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Fixed => "fixed",
            Self::Exponential => "exponential",
        })
    }
}

/// How long a departed node goes unnoticed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detection {
    /// What the satellite's default settings imply: a node counts as online until the
    /// online window has passed since its last check-in, and the checker then sees it
    /// within one pass. We take the *full* values (window + one whole checker
    /// interval), the longest a departure can go unnoticed: loss grows with delay, so
    /// the bound errs on the safe side, and the difference from the average (about half
    /// an interval less) is seconds against repair delays of hours.
    Real,
    /// Departures are noticed at once.
    None,
    /// A given detection delay.
    Given(Duration),
}

impl Detection {
    pub fn delay(&self) -> Duration {
        match self {
            Self::Real => {
                let config = SatelliteConfig::default();
                config.node_online_window + config.repair.checker_interval
            }
            Self::None => Duration::ZERO,
            Self::Given(d) => *d,
        }
    }
}

impl FromStr for Detection {
    type Err = DurabilityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "real" => Ok(Self::Real),
            "none" => Ok(Self::None),
            other => humantime::parse_duration(other)
                .map(Self::Given)
                .map_err(|e| {
                    DurabilityError::Detection(format!(
                        "{s:?} must be real, none or a duration such as 5m ({e})"
                    ))
                }),
        }
    }
}

impl fmt::Display for Detection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = humantime::format_duration(self.delay());
        match self {
            Self::Real => {
                let c = SatelliteConfig::default();
                write!(
                    f,
                    "{d} (real: online window {} + checker interval {})",
                    humantime::format_duration(c.node_online_window),
                    humantime::format_duration(c.repair.checker_interval)
                )
            }
            Self::None => f.write_str("none"),
            Self::Given(_) => write!(f, "{d}"),
        }
    }
}

/// Parses a repair delay such as `6h` or `30m`.
pub fn parse_delay(s: &str) -> Result<Duration, DurabilityError> {
    humantime::parse_duration(s.trim())
        .map_err(|e| DurabilityError::Delay(format!("repair delay {s:?}: {e} (e.g. 6h, 30m)")))
}

/// Parses the horizon in years: a positive, finite number.
pub fn parse_years(s: &str) -> Result<f64, DurabilityError> {
    let years: f64 = s
        .trim()
        .parse()
        .map_err(|_| DurabilityError::Years(format!("{s:?} is not a number of years")))?;
    if !years.is_finite() || years <= 0.0 {
        return Err(DurabilityError::Years(format!(
            "{s:?}: the horizon must be a positive number of years"
        )));
    }
    Ok(years)
}

/// Parses an erasure scheme `k/repair/optimal/total`.
pub fn parse_scheme(s: &str) -> Result<RedundancyScheme, DurabilityError> {
    s.parse()
        .map_err(|e| DurabilityError::Scheme(format!("{s:?}: {e}")))
}

/// Everything the models need, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub scheme: RedundancyScheme,
    /// Nodes in the network (constant: each departure is replaced).
    pub nodes: usize,
    pub churn: Churn,
    pub years: f64,
    pub repair_delay: Duration,
    pub delay_kind: DelayKind,
    pub detection: Detection,
    /// Segments the network stores (scales queue depth and expected losses).
    pub segments: u64,
}

impl Settings {
    /// Checks what parsing alone cannot.
    pub fn validate(&self) -> Result<(), DurabilityError> {
        self.scheme
            .validate()
            .map_err(|e| DurabilityError::Scheme(e.to_string()))?;
        if self.nodes < self.scheme.total as usize {
            return Err(DurabilityError::Nodes(format!(
                "{} nodes cannot hold {} pieces of a segment on distinct nodes",
                self.nodes, self.scheme.total
            )));
        }
        if self.segments == 0 {
            return Err(DurabilityError::Segments("must be at least 1".into()));
        }
        if !self.years.is_finite() || self.years <= 0.0 {
            return Err(DurabilityError::Years(format!(
                "{}: the horizon must be a positive number of years",
                self.years
            )));
        }
        if !(self.churn.per_second.is_finite() && self.churn.per_second > 0.0) {
            return Err(DurabilityError::Churn("rate must be positive".into()));
        }
        if self.delay_seconds() <= 0.0 {
            return Err(DurabilityError::Delay(
                "repair delay plus detection delay must be positive".into(),
            ));
        }
        Ok(())
    }

    /// λ: departures per node (= failures per piece) per second.
    pub fn rate(&self) -> f64 {
        self.churn.per_second
    }

    pub fn horizon_seconds(&self) -> f64 {
        self.years * SECONDS_PER_YEAR
    }

    /// From the departure that brings a segment to its repair threshold to the end of
    /// its repair: detection plus repair delay. For exponential delays this is the
    /// mean of one exponential (detection is folded into the mean, not kept as a
    /// separate fixed phase; with real detection it is minutes against hours).
    pub fn delay_seconds(&self) -> f64 {
        (self.detection.delay() + self.repair_delay).as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn churn_parses_percent_and_fraction() {
        let c: Churn = "2%/month".parse().unwrap();
        assert!((c.per_unit - 0.02).abs() < 1e-15);
        assert!((c.per_second * SECONDS_PER_MONTH - 0.02).abs() < 1e-15);
        let c: Churn = "0.5/ years".parse().unwrap();
        assert!((c.per_second * SECONDS_PER_YEAR - 0.5).abs() < 1e-15);
        assert_eq!(c.unit, TimeUnit::Year);
    }

    #[test]
    fn bad_arguments_are_named_in_the_error() {
        for bad in [
            "abc",
            "2%",
            "x%/month",
            "-1%/month",
            "0%/day",
            "2%/fortnight",
        ] {
            let e = bad.parse::<Churn>().unwrap_err();
            assert!(matches!(e, DurabilityError::Churn(_)), "{bad}: {e}");
            assert!(e.to_string().contains(bad), "{bad}: {e}");
        }
        assert!(matches!(parse_years("-3"), Err(DurabilityError::Years(_))));
        assert!(matches!(parse_years("0"), Err(DurabilityError::Years(_))));
        assert!(matches!(parse_years("ten"), Err(DurabilityError::Years(_))));
        assert!(matches!(parse_years("inf"), Err(DurabilityError::Years(_))));
        for bad in ["29/35/80", "abc", "35/29/80/110", "29/35/80/300"] {
            let e = parse_scheme(bad).unwrap_err();
            assert!(matches!(e, DurabilityError::Scheme(_)), "{bad}: {e}");
            assert!(e.to_string().contains(bad), "{bad}: {e}");
        }
        assert!(matches!(parse_delay("-6h"), Err(DurabilityError::Delay(_))));
        assert!(matches!(
            parse_delay("soon"),
            Err(DurabilityError::Delay(_))
        ));
        assert!(matches!(
            "lognormal".parse::<DelayKind>(),
            Err(DurabilityError::Delay(_))
        ));
        assert!(matches!(
            "later".parse::<Detection>(),
            Err(DurabilityError::Detection(_))
        ));
    }

    #[test]
    fn real_detection_comes_from_the_satellite_defaults() {
        let c = SatelliteConfig::default();
        assert_eq!(
            Detection::Real.delay(),
            c.node_online_window + c.repair.checker_interval
        );
        assert!(Detection::Real.delay() > Duration::ZERO);
        assert_eq!(Detection::None.delay(), Duration::ZERO);
        assert_eq!(
            "90s".parse::<Detection>().unwrap().delay(),
            Duration::from_secs(90)
        );
    }
}
