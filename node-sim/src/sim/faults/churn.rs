//! Churn: nodes that leave the network for good (stopped, their data gone) and new
//! nodes that join, over time.
//!
//! A [`ChurnSpec`] gives rates (random arrivals, a Poisson process per kind, from a
//! seed) and explicit events at given times; [`ChurnSchedule`] turns it into one
//! ordered stream of [`ChurnEvent`]s. The stream depends only on the spec, so the same
//! seed gives the same churn on every run; which node a random leave takes is drawn
//! too, and resolved against the nodes alive when it happens.
//!
//! The network applies the events ([`crate::sim::Network::run_churn`]).

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::FaultError;
use super::spec::Fields;

/// Highest node index a network on one machine can have (node `i` is `127.0.i.1`).
pub const MAX_NODE_INDEX: usize = 254;

/// How nodes come and go.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChurnSpec {
    /// Nodes leaving per hour, on average, at random times.
    pub leave_per_hour: f64,
    /// Nodes joining per hour, on average, at random times.
    pub join_per_hour: f64,
    pub seed: u64,
    /// Random leaves never take the network below this many nodes.
    pub min_nodes: usize,
    /// Joins never take it above this many.
    pub max_nodes: usize,
    /// Random churn ends this long after the start (`None`: never).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_duration"
    )]
    pub duration: Option<Duration>,
    /// Events at given times after the start.
    pub events: Vec<ChurnEvent>,
}

impl Default for ChurnSpec {
    fn default() -> Self {
        Self {
            leave_per_hour: 0.0,
            join_per_hour: 0.0,
            seed: 0,
            min_nodes: 0,
            max_nodes: MAX_NODE_INDEX,
            duration: None,
            events: Vec::new(),
        }
    }
}

fn opt_duration<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
        None => s.serialize_none(),
    }
}

/// One change of the network's membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChurnEvent {
    /// Time after the start of the churn.
    pub at: Duration,
    pub action: ChurnAction,
}

/// As in a plan: `{"at": "10m", "leave": 3}`, `{"at": "20m", "join": 1}`.
impl Serialize for ChurnEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("at", &humantime::format_duration(self.at).to_string())?;
        match self.action {
            ChurnAction::Leave(node) => m.serialize_entry("leave", &node)?,
            ChurnAction::LeaveRandom(pick) => m.serialize_entry("leave_random", &pick)?,
            ChurnAction::Join => m.serialize_entry("join", &1)?,
        }
        m.end()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChurnAction {
    /// This node leaves.
    Leave(usize),
    /// One of the live nodes leaves: the `n mod live`-th by index.
    LeaveRandom(u64),
    /// A new node joins.
    Join,
}

impl ChurnSpec {
    /// Reads churn settings; `path` names them in errors.
    pub fn from_value(value: &Value, path: &str) -> Result<Self, FaultError> {
        let f = Fields::new(value, path)?;
        f.allow(&[
            "leave_per_hour",
            "join_per_hour",
            "seed",
            "min_nodes",
            "max_nodes",
            "duration",
            "events",
        ])?;
        let rate = |name: &str| -> Result<f64, FaultError> {
            match f.f64(name)? {
                None => Ok(0.0),
                Some(r) if r >= 0.0 => Ok(r),
                Some(r) => Err(f.error(name, &format!("{r} is negative"))),
            }
        };
        let count = |name: &str, default: usize| -> Result<usize, FaultError> {
            match f.u64(name)? {
                None => Ok(default),
                Some(n) if n as usize <= MAX_NODE_INDEX => Ok(n as usize),
                Some(n) => Err(f.error(
                    name,
                    &format!("{n} is more nodes than one machine holds ({MAX_NODE_INDEX})"),
                )),
            }
        };
        let mut spec = Self {
            leave_per_hour: rate("leave_per_hour")?,
            join_per_hour: rate("join_per_hour")?,
            seed: f.u64("seed")?.unwrap_or(0),
            min_nodes: count("min_nodes", 0)?,
            max_nodes: count("max_nodes", MAX_NODE_INDEX)?,
            duration: f.duration("duration")?,
            events: Vec::new(),
        };
        if spec.min_nodes > spec.max_nodes {
            return Err(f.error(
                "min_nodes",
                &format!(
                    "{} is more than max_nodes ({})",
                    spec.min_nodes, spec.max_nodes
                ),
            ));
        }
        for (i, event) in f.array("events")?.into_iter().flatten().enumerate() {
            let e = Fields::new(event, &format!("{}.events[{i}]", f.path()))?;
            e.allow(&["at", "leave", "join"])?;
            let at = e
                .duration("at")?
                .ok_or_else(|| e.error("at", "missing: when, like \"90s\" or \"10m\""))?;
            match (e.u64("leave")?, e.u64("join")?) {
                (Some(node), None) if (1..=MAX_NODE_INDEX as u64).contains(&node) => {
                    spec.events.push(ChurnEvent {
                        at,
                        action: ChurnAction::Leave(node as usize),
                    });
                }
                (Some(node), None) => {
                    return Err(e.error(
                        "leave",
                        &format!("{node} is not a node index (1..={MAX_NODE_INDEX})"),
                    ));
                }
                (None, Some(n)) if (1..=MAX_NODE_INDEX as u64).contains(&n) => {
                    spec.events.extend((0..n).map(|_| ChurnEvent {
                        at,
                        action: ChurnAction::Join,
                    }));
                }
                (None, Some(n)) => {
                    return Err(e.error(
                        "join",
                        &format!("{n}: between 1 and {MAX_NODE_INDEX} nodes join at once"),
                    ));
                }
                _ => {
                    return Err(e.error(
                        "",
                        "needs exactly one of `leave = <node index>` or `join = <count>`",
                    ));
                }
            }
        }
        Ok(spec)
    }

    /// Whether anything ever happens.
    pub fn is_idle(&self) -> bool {
        self.events.is_empty() && self.leave_per_hour == 0.0 && self.join_per_hour == 0.0
    }
}

/// SplitMix64: small, fast, and the same on every platform and version, so that a
/// seed means the same churn forever.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Random arrival times at a rate: exponential gaps.
#[derive(Clone, Debug)]
struct Arrivals {
    rng: SplitMix64,
    per_second: f64,
    next: Option<Duration>,
}

impl Arrivals {
    fn new(seed: u64, salt: u64, per_hour: f64) -> Self {
        let mut a = Self {
            rng: SplitMix64(seed ^ salt),
            per_second: per_hour / 3600.0,
            next: None,
        };
        a.next = a.after(Duration::ZERO);
        a
    }

    fn after(&mut self, t: Duration) -> Option<Duration> {
        if self.per_second <= 0.0 {
            return None;
        }
        let u = self.rng.next_f64();
        let gap = -(1.0 - u).ln() / self.per_second;
        Duration::try_from_secs_f64(gap).ok().map(|g| t + g)
    }

    fn peek(&self) -> Option<Duration> {
        self.next
    }

    fn take(&mut self) -> Option<Duration> {
        let t = self.next?;
        self.next = self.after(t);
        Some(t)
    }
}

/// The events of a [`ChurnSpec`], in time order. Endless if a rate is set and no
/// `duration` bounds it.
#[derive(Clone, Debug)]
pub struct ChurnSchedule {
    explicit: VecDeque<ChurnEvent>,
    leaves: Arrivals,
    joins: Arrivals,
    picks: SplitMix64,
    until: Option<Duration>,
}

const LEAVE_SALT: u64 = 0x6c65_6176_6573_0001;
const JOIN_SALT: u64 = 0x6a6f_696e_7300_0002;
const PICK_SALT: u64 = 0x7069_636b_7300_0003;

impl ChurnSchedule {
    pub fn new(spec: &ChurnSpec) -> Self {
        let mut explicit: Vec<ChurnEvent> = spec.events.clone();
        // Stable: events at the same time keep the plan's order.
        explicit.sort_by_key(|e| e.at);
        Self {
            explicit: explicit.into(),
            leaves: Arrivals::new(spec.seed, LEAVE_SALT, spec.leave_per_hour),
            joins: Arrivals::new(spec.seed, JOIN_SALT, spec.join_per_hour),
            picks: SplitMix64(spec.seed ^ PICK_SALT),
            until: spec.duration,
        }
    }

    /// The events up to `horizon` (for showing a plan, and for tests).
    pub fn until(mut self, horizon: Duration) -> Vec<ChurnEvent> {
        let mut out = Vec::new();
        while self.peek_time().is_some_and(|t| t <= horizon) {
            out.extend(self.next());
        }
        out
    }

    fn in_time(&self, t: Option<Duration>) -> Option<Duration> {
        t.filter(|t| self.until.is_none_or(|u| *t <= u))
    }

    fn peek_time(&self) -> Option<Duration> {
        [
            self.explicit.front().map(|e| e.at),
            self.in_time(self.leaves.peek()),
            self.in_time(self.joins.peek()),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

impl Iterator for ChurnSchedule {
    type Item = ChurnEvent;

    fn next(&mut self) -> Option<ChurnEvent> {
        let explicit = self.explicit.front().map(|e| e.at);
        let leave = self.in_time(self.leaves.peek());
        let join = self.in_time(self.joins.peek());
        // Ties: the plan's own events first, then leaves, then joins.
        let first = [explicit, leave, join]
            .into_iter()
            .enumerate()
            .filter_map(|(i, t)| t.map(|t| (t, i)))
            .min()?;
        match first.1 {
            0 => self.explicit.pop_front(),
            1 => self.leaves.take().map(|at| ChurnEvent {
                at,
                action: ChurnAction::LeaveRandom(self.picks.next_u64()),
            }),
            _ => self.joins.take().map(|at| ChurnEvent {
                at,
                action: ChurnAction::Join,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(seed: u64) -> ChurnSpec {
        ChurnSpec::from_value(
            &json!({ "leave_per_hour": 30, "join_per_hour": 20, "seed": seed }),
            "churn",
        )
        .unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_churn_and_another_seed_another() {
        let hour = Duration::from_secs(3600);
        let a = ChurnSchedule::new(&spec(42)).until(10 * hour);
        let b = ChurnSchedule::new(&spec(42)).until(10 * hour);
        let c = ChurnSchedule::new(&spec(43)).until(10 * hour);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.windows(2).all(|w| w[0].at <= w[1].at), "in time order");
        let leaves = a
            .iter()
            .filter(|e| matches!(e.action, ChurnAction::LeaveRandom(_)))
            .count();
        let joins = a.iter().filter(|e| e.action == ChurnAction::Join).count();
        // 300 and 200 expected; a Poisson count is within a few of its square root.
        assert!(
            (230..370).contains(&leaves),
            "{leaves} leaves in 10 h at 30/h"
        );
        assert!((140..260).contains(&joins), "{joins} joins in 10 h at 20/h");
    }

    #[test]
    fn explicit_events_come_in_time_and_random_ones_stop_after_the_duration() {
        let s = ChurnSpec::from_value(
            &json!({
                "leave_per_hour": 3600, "seed": 1, "duration": "10s",
                "events": [ { "at": "1m", "join": 2 }, { "at": "5s", "leave": 3 } ],
            }),
            "churn",
        )
        .unwrap();
        let events: Vec<ChurnEvent> = ChurnSchedule::new(&s).collect();
        assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(events.contains(&ChurnEvent {
            at: Duration::from_secs(5),
            action: ChurnAction::Leave(3)
        }));
        let tail: Vec<_> = events
            .iter()
            .filter(|e| e.at > Duration::from_secs(10))
            .collect();
        assert_eq!(tail.len(), 2, "only the two joins after the duration");
        assert!(tail.iter().all(|e| e.action == ChurnAction::Join));
        assert!(events.len() > 3, "random leaves within the first 10 s");
        assert!(ChurnSpec::default().is_idle());
        assert_eq!(ChurnSchedule::new(&ChurnSpec::default()).next(), None);
    }

    #[test]
    fn bad_churn_names_the_field() {
        let err = |v: Value| ChurnSpec::from_value(&v, "churn").unwrap_err().to_string();
        let e = err(json!({ "leave_per_hour": -1 }));
        assert!(e.starts_with("churn.leave_per_hour: -1 is negative"), "{e}");
        let e = err(json!({ "events": [ { "at": "1m", "leave": 2 }, { "leave": 2 } ] }));
        assert!(e.starts_with("churn.events[1].at: missing"), "{e}");
        let e = err(json!({ "events": [ { "at": "1m", "leave": 2, "join": 1 } ] }));
        assert!(e.starts_with("churn.events[0]: needs exactly one"), "{e}");
        let e = err(json!({ "events": [ { "at": "1m", "leave": 300 } ] }));
        assert!(
            e.starts_with("churn.events[0].leave: 300 is not a node index"),
            "{e}"
        );
        let e = err(json!({ "min_nodes": 9, "max_nodes": 8 }));
        assert!(
            e.starts_with("churn.min_nodes: 9 is more than max_nodes"),
            "{e}"
        );
        let e = err(json!({ "rate": 1 }));
        assert!(e.starts_with("churn.rate: unknown setting"), "{e}");
    }
}
