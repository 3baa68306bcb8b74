//! A fault plan: the faults of chosen nodes (by index) and the churn of a network, read
//! from a TOML or JSON file (`node-sim network up --faults FILE`) or built in code.
//!
//! ```toml
//! [nodes.3]
//! offline = true
//!
//! [nodes.4]
//! refuse_uploads = true
//!
//! [nodes.5.slow]
//! latency = "150ms"          # both directions ...
//! bandwidth = "256KiB"       # ... in bytes per second
//! egress = { bandwidth = "64KiB" }   # per direction, as the node sees it
//!
//! [nodes.6]
//! corrupt = { share = 0.1, seed = 7, on = "read" }   # or "write"
//! lose = { share = 0.05, seed = 8 }
//! disk_full = true
//!
//! [churn]
//! leave_per_hour = 2
//! join_per_hour = 2
//! seed = 42
//! min_nodes = 8
//! events = [ { at = "10m", leave = 2 }, { at = "20m", join = 1 } ]
//! ```
//!
//! A plan with any bad value is refused as a whole, with the path of that value.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::FaultError;
use super::churn::{ChurnSpec, MAX_NODE_INDEX};
use super::spec::{FaultSpec, Fields};

/// Faults per node and churn over time.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FaultPlan {
    /// Faults by node index (1-based, as in `127.0.i.1`).
    pub nodes: BTreeMap<usize, FaultSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub churn: Option<ChurnSpec>,
}

/// The text formats a plan may be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanFormat {
    Toml,
    Json,
}

impl FaultPlan {
    /// Reads a plan file: JSON if its name ends in `.json`, TOML otherwise.
    pub fn load(path: &Path) -> Result<Self, FaultError> {
        let text = std::fs::read_to_string(path).map_err(|source| FaultError::Io {
            context: format!("reading the fault plan {}", path.display()),
            source,
        })?;
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => PlanFormat::Json,
            _ => PlanFormat::Toml,
        };
        Self::parse(&text, format).map_err(|e| match e {
            FaultError::Invalid { field, message } => FaultError::Invalid {
                field: format!("{}: {field}", path.display()),
                message,
            },
            other => other,
        })
    }

    pub fn parse(text: &str, format: PlanFormat) -> Result<Self, FaultError> {
        let value: Value = match format {
            PlanFormat::Json => serde_json::from_str(text).map_err(|e| FaultError::Invalid {
                field: "plan".into(),
                message: format!("not valid JSON: {e}"),
            })?,
            PlanFormat::Toml => {
                let table: toml::Table = toml::from_str(text).map_err(|e| FaultError::Invalid {
                    field: "plan".into(),
                    message: format!("not valid TOML: {}", e.to_string().trim_end()),
                })?;
                serde_json::to_value(table).map_err(|e| FaultError::Invalid {
                    field: "plan".into(),
                    message: e.to_string(),
                })?
            }
        };
        Self::from_value(&value)
    }

    pub fn from_value(value: &Value) -> Result<Self, FaultError> {
        let f = Fields::new(value, "")?;
        f.allow(&["nodes", "churn"])?;
        let mut nodes = BTreeMap::new();
        if let Some(n) = f.object("nodes")? {
            for (key, spec) in n.entries() {
                let path = format!("nodes.{key}");
                let index = key
                    .parse::<usize>()
                    .ok()
                    .filter(|i| (1..=MAX_NODE_INDEX).contains(i))
                    .ok_or_else(|| FaultError::Invalid {
                        field: path.clone(),
                        message: format!(
                            "{key:?} is not a node index (a number from 1 to {MAX_NODE_INDEX})"
                        ),
                    })?;
                nodes.insert(index, FaultSpec::from_value(spec, &path)?);
            }
        }
        let churn = match value.get("churn") {
            Some(c) => Some(ChurnSpec::from_value(c, "churn")?),
            None => None,
        };
        Ok(Self { nodes, churn })
    }

    /// Whether the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.nodes.values().all(FaultSpec::is_clear)
            && self.churn.as_ref().is_none_or(ChurnSpec::is_idle)
    }
}

impl<'de> Deserialize<'de> for FaultPlan {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Self::from_value(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::faults::churn::ChurnAction;
    use crate::sim::faults::spec::CorruptOn;
    use std::time::Duration;

    const EXAMPLE: &str = r#"
        [nodes.3]
        offline = true

        [nodes.5.slow]
        latency = "150ms"
        bandwidth = "256KiB"
        egress = { bandwidth = "64KiB" }

        [nodes.6]
        corrupt = { share = 0.1, seed = 7, on = "write" }
        lose = { share = 0.05, seed = 8 }

        [churn]
        leave_per_hour = 2
        join_per_hour = 1.5
        seed = 42
        min_nodes = 8
        events = [ { at = "10m", leave = 2 }, { at = "20m", join = 1 } ]
    "#;

    #[test]
    fn the_documented_example_reads_and_round_trips_through_json() {
        let plan = FaultPlan::parse(EXAMPLE, PlanFormat::Toml).unwrap();
        assert!(plan.nodes[&3].offline);
        let slow = plan.nodes[&5].slow.unwrap();
        assert_eq!(slow.ingress.bandwidth, Some(256 << 10));
        assert_eq!(slow.egress.bandwidth, Some(64 << 10));
        assert_eq!(slow.egress.latency, Duration::from_millis(150));
        assert_eq!(plan.nodes[&6].corrupt.unwrap().on, CorruptOn::Write);
        let churn = plan.churn.as_ref().unwrap();
        assert_eq!(churn.join_per_hour, 1.5);
        assert_eq!(churn.events[0].action, ChurnAction::Leave(2));
        assert_eq!(churn.events[1].at, Duration::from_secs(1200));
        let json = serde_json::to_string(&plan).unwrap();
        assert_eq!(FaultPlan::parse(&json, PlanFormat::Json).unwrap(), plan);
        let via_serde: FaultPlan = toml::from_str(EXAMPLE).unwrap();
        assert_eq!(via_serde, plan);
        assert!(!plan.is_empty());
        assert!(FaultPlan::parse("", PlanFormat::Toml).unwrap().is_empty());
    }

    #[test]
    fn a_bad_plan_is_refused_naming_the_field() {
        let err = |text: &str, format| FaultPlan::parse(text, format).unwrap_err().to_string();
        let e = err("[nodes.3]\nofline = true", PlanFormat::Toml);
        assert!(e.starts_with("nodes.3.ofline: unknown setting"), "{e}");
        let e = err("[nodes.0]\noffline = true", PlanFormat::Toml);
        assert!(e.starts_with("nodes.0: \"0\" is not a node index"), "{e}");
        let e = err("[nodes.x]\noffline = true", PlanFormat::Toml);
        assert!(e.starts_with("nodes.x: "), "{e}");
        let e = err(
            r#"{"nodes": {"2": {"slow": {"latency": 5}}}}"#,
            PlanFormat::Json,
        );
        assert!(
            e.starts_with("nodes.2.slow.latency: expected a duration as text"),
            "{e}"
        );
        let e = err("[churn]\nseed = \"x\"", PlanFormat::Toml);
        assert!(e.starts_with("churn.seed: expected a whole number"), "{e}");
        let e = err("[node.3]\noffline = true", PlanFormat::Toml);
        assert!(e.starts_with("node: unknown setting"), "{e}");
        let e = err("[nodes.3\noffline = true", PlanFormat::Toml);
        assert!(e.starts_with("plan: not valid TOML"), "{e}");
        let e = err("{", PlanFormat::Json);
        assert!(e.starts_with("plan: not valid JSON"), "{e}");
    }

    #[test]
    fn load_reads_by_extension_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("plan.json");
        std::fs::write(&json, r#"{"nodes": {"1": {"disk_full": true}}}"#).unwrap();
        assert!(FaultPlan::load(&json).unwrap().nodes[&1].disk_full);
        let toml = dir.path().join("plan.toml");
        std::fs::write(&toml, "[nodes.1]\ndisk_full = 1").unwrap();
        let e = FaultPlan::load(&toml).unwrap_err().to_string();
        assert!(
            e.contains("plan.toml: nodes.1.disk_full: expected true or false"),
            "{e}"
        );
        let e = FaultPlan::load(&dir.path().join("missing.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("reading the fault plan"), "{e}");
    }
}
