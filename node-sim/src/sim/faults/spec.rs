//! What can be wrong with one storage node, as plain data: the faults a plan file, the
//! control endpoint and tests describe, and a [`super::NodeFaults`] handle holds.
//!
//! Plans are written by people, so every value is read with the path of its field
//! (`nodes.3.slow.ingress.bandwidth`) and a bad one is refused with that path and what
//! was expected; nothing is applied from a plan with any error in it.
//!
//! The same shape is read from TOML and JSON and written back as JSON, so what the
//! control endpoint returns can be sent back to it unchanged.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::FaultError;

/// Longest latency a link may add in one direction.
pub const MAX_LATENCY: Duration = Duration::from_secs(3600);

/// The faults of one node. All off by default.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FaultSpec {
    /// The node stops answering: connections to it are refused, open ones dropped, and
    /// its check-ins no longer reach the satellite.
    #[serde(skip_serializing_if = "is_false")]
    pub offline: bool,
    /// Every upload is refused (the node answers, but stores nothing new).
    #[serde(skip_serializing_if = "is_false")]
    pub refuse_uploads: bool,
    /// The disk is full: the node reports no free space and writes fail with "no space
    /// left on device", uploads in progress included.
    #[serde(skip_serializing_if = "is_false")]
    pub disk_full: bool,
    /// The node's network link is slow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slow: Option<Slow>,
    /// A share of the node's pieces has flipped bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrupt: Option<Corrupt>,
    /// A share of the node's pieces is lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lose: Option<Lose>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Latency and bandwidth of a node's link, per direction as the node sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Slow {
    /// Bytes towards the node: upload bodies, requests, the satellite's answers.
    pub ingress: Shape,
    /// Bytes from the node: download bodies, responses, check-ins.
    pub egress: Shape,
}

impl Slow {
    /// The same shape both ways; `bandwidth` in bytes per second, `None` for unlimited.
    pub fn symmetric(latency: Duration, bandwidth: Option<u64>) -> Self {
        let shape = Shape { latency, bandwidth };
        Self {
            ingress: shape,
            egress: shape,
        }
    }
}

/// One direction of a link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Shape {
    /// Added to every byte's way through the link.
    #[serde(serialize_with = "duration_text")]
    pub latency: Duration,
    /// Bytes per second the link carries at most; `None` for no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<u64>,
}

impl Shape {
    /// Whether this direction is shaped at all.
    pub fn is_shaped(&self) -> bool {
        !self.latency.is_zero() || self.bandwidth.is_some()
    }
}

fn duration_text<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

/// When stored pieces are corrupted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CorruptOn {
    /// The bytes on disk are right; every read of a chosen piece returns one flipped
    /// byte per read (a bad cable, bad memory).
    #[default]
    Read,
    /// Chosen pieces are stored with flipped bytes (bit rot): they stay corrupt after
    /// the fault is cleared.
    Write,
}

/// A share of the node's pieces, chosen by piece id and `seed`, is corrupted.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Corrupt {
    /// Between 0 and 1.
    pub share: f64,
    pub seed: u64,
    pub on: CorruptOn,
}

/// A share of the node's pieces, chosen by piece id and `seed`, vanishes: when the
/// node next looks for one (serving, listing), it is gone for good.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Lose {
    /// Between 0 and 1.
    pub share: f64,
    pub seed: u64,
}

/// Whether the piece with id `piece` is among the `share` chosen by `seed`: the same
/// answer every time, independent for different seeds.
pub fn chosen(seed: u64, piece: &[u8], share: f64) -> bool {
    if share >= 1.0 {
        return true;
    }
    if share <= 0.0 {
        return false;
    }
    let mut h = blake3::Hasher::new();
    h.update(b"sj-fault-choice");
    h.update(&seed.to_le_bytes());
    h.update(piece);
    let x = u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().expect("8 bytes"));
    (x as f64) < share * (u64::MAX as f64)
}

impl FaultSpec {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether any fault is on.
    pub fn is_clear(&self) -> bool {
        *self == Self::default()
    }

    /// Whether a fault needs the node's network link (offline, slow).
    pub fn needs_link(&self) -> bool {
        self.offline || self.slow.is_some()
    }

    /// Checks values built in code the way a plan's values are checked.
    pub fn validate(&self) -> Result<(), FaultError> {
        let value = serde_json::to_value(self).map_err(|e| FaultError::Invalid {
            field: "faults".into(),
            message: e.to_string(),
        })?;
        let back = Self::from_value(&value, "faults")?;
        // Serialisation rounds nothing that matters; a mismatch means a value that the
        // text form cannot carry (a NaN share, say).
        if back != *self {
            return Err(FaultError::Invalid {
                field: "faults".into(),
                message: format!("{self:?} cannot be expressed (check shares and seeds)"),
            });
        }
        Ok(())
    }

    /// Reads a node's faults from a JSON value; `path` names it in errors.
    pub fn from_value(value: &Value, path: &str) -> Result<Self, FaultError> {
        let f = Fields::new(value, path)?;
        f.allow(&[
            "offline",
            "refuse_uploads",
            "disk_full",
            "slow",
            "corrupt",
            "lose",
        ])?;
        Ok(Self {
            offline: f.bool("offline")?.unwrap_or(false),
            refuse_uploads: f.bool("refuse_uploads")?.unwrap_or(false),
            disk_full: f.bool("disk_full")?.unwrap_or(false),
            slow: f.object("slow")?.map(|s| slow(&s)).transpose()?,
            corrupt: f.object("corrupt")?.map(|c| corrupt(&c)).transpose()?,
            lose: f.object("lose")?.map(|l| lose(&l)).transpose()?,
        })
    }
}

impl<'de> Deserialize<'de> for FaultSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Self::from_value(&value, "faults").map_err(serde::de::Error::custom)
    }
}

fn slow(f: &Fields<'_>) -> Result<Slow, FaultError> {
    f.allow(&["latency", "bandwidth", "ingress", "egress"])?;
    let both = shape(f, Shape::default())?;
    let ingress = match f.object("ingress")? {
        Some(d) => {
            d.allow(&["latency", "bandwidth"])?;
            shape(&d, both)?
        }
        None => both,
    };
    let egress = match f.object("egress")? {
        Some(d) => {
            d.allow(&["latency", "bandwidth"])?;
            shape(&d, both)?
        }
        None => both,
    };
    if !ingress.is_shaped() && !egress.is_shaped() {
        return Err(f.error(
            "",
            "gives neither a latency nor a bandwidth (write `latency = \"100ms\"` or \
             `bandwidth = \"256KiB\"`, or leave `slow` out)",
        ));
    }
    Ok(Slow { ingress, egress })
}

/// A shape from `latency` and `bandwidth`, each defaulting to `base`'s.
fn shape(f: &Fields<'_>, base: Shape) -> Result<Shape, FaultError> {
    let latency = f.duration("latency")?.unwrap_or(base.latency);
    if latency > MAX_LATENCY {
        return Err(f.error(
            "latency",
            &format!(
                "{} is more than the most a link may add ({})",
                humantime::format_duration(latency),
                humantime::format_duration(MAX_LATENCY)
            ),
        ));
    }
    let bandwidth = match f.size("bandwidth")? {
        Some(0) => {
            return Err(f.error(
                "bandwidth",
                "must be at least 1 byte per second (a node that passes nothing is `offline`)",
            ));
        }
        Some(b) => Some(b),
        None => base.bandwidth,
    };
    Ok(Shape { latency, bandwidth })
}

fn corrupt(f: &Fields<'_>) -> Result<Corrupt, FaultError> {
    f.allow(&["share", "seed", "on"])?;
    let on = match f.str("on")? {
        None | Some("read") => CorruptOn::Read,
        Some("write") => CorruptOn::Write,
        Some(other) => {
            return Err(f.error(
                "on",
                &format!("{other:?} is neither \"read\" nor \"write\""),
            ));
        }
    };
    Ok(Corrupt {
        share: f.share("share")?,
        seed: f.u64("seed")?.unwrap_or(0),
        on,
    })
}

fn lose(f: &Fields<'_>) -> Result<Lose, FaultError> {
    f.allow(&["share", "seed"])?;
    Ok(Lose {
        share: f.share("share")?,
        seed: f.u64("seed")?.unwrap_or(0),
    })
}

/// The fields of one object of a plan, read with their path.
pub(crate) struct Fields<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(value: &'a Value, path: &str) -> Result<Self, FaultError> {
        match value {
            Value::Object(map) => Ok(Self {
                path: path.to_string(),
                map,
            }),
            other => Err(FaultError::Invalid {
                field: path.to_string(),
                message: format!("expected a table of settings, found {}", kind(other)),
            }),
        }
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = (&'a String, &'a Value)> {
        self.map.iter()
    }

    fn child(&self, name: &str) -> String {
        match (self.path.is_empty(), name.is_empty()) {
            (_, true) => self.path.clone(),
            (true, false) => name.to_string(),
            (false, false) => format!("{}.{name}", self.path),
        }
    }

    pub(crate) fn error(&self, name: &str, message: &str) -> FaultError {
        FaultError::Invalid {
            field: self.child(name),
            message: message.to_string(),
        }
    }

    /// Refuses any field but `known`.
    pub(crate) fn allow(&self, known: &[&str]) -> Result<(), FaultError> {
        for key in self.map.keys() {
            if !known.contains(&key.as_str()) {
                return Err(self.error(
                    key,
                    &format!("unknown setting; expected one of: {}", known.join(", ")),
                ));
            }
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name)
    }

    fn expected(&self, name: &str, what: &str, found: &Value) -> FaultError {
        self.error(name, &format!("expected {what}, found {}", kind(found)))
    }

    pub(crate) fn bool(&self, name: &str) -> Result<Option<bool>, FaultError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.expected(name, "true or false", other)),
        }
    }

    pub(crate) fn u64(&self, name: &str) -> Result<Option<u64>, FaultError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(other) => Err(self.expected(name, "a whole number of 0 or more", other)),
        }
    }

    pub(crate) fn f64(&self, name: &str) -> Result<Option<f64>, FaultError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(x) if x.is_finite() => Ok(Some(x)),
                _ => Err(self.error(name, "expected a finite number")),
            },
            Some(other) => Err(self.expected(name, "a number", other)),
        }
    }

    pub(crate) fn str(&self, name: &str) -> Result<Option<&'a str>, FaultError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.expected(name, "a string", other)),
        }
    }

    pub(crate) fn object(&self, name: &str) -> Result<Option<Fields<'a>>, FaultError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => Fields::new(v, &self.child(name)).map(Some),
        }
    }

    pub(crate) fn array(&self, name: &str) -> Result<Option<&'a Vec<Value>>, FaultError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(other) => Err(self.expected(name, "a list", other)),
        }
    }

    /// A duration written as text: `"250ms"`, `"2s"`, `"1h 30m"`.
    pub(crate) fn duration(&self, name: &str) -> Result<Option<Duration>, FaultError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => humantime::parse_duration(s).map(Some).map_err(|e| {
                self.error(
                    name,
                    &format!("{s:?} is not a duration like \"250ms\" or \"5m\": {e}"),
                )
            }),
            Some(other) => {
                Err(self.expected(name, "a duration as text, like \"250ms\" or \"5m\"", other))
            }
        }
    }

    /// A size: a whole number of bytes or text like `"256KiB"`.
    pub(crate) fn size(&self, name: &str) -> Result<Option<u64>, FaultError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(Value::String(s)) => uplink_core::units::parse_size(s)
                .map(Some)
                .map_err(|e| self.error(name, &e)),
            Some(other) => Err(self.expected(
                name,
                "bytes per second, as a number or like \"256KiB\"",
                other,
            )),
        }
    }

    /// A required share between 0 and 1.
    fn share(&self, name: &str) -> Result<f64, FaultError> {
        match self.f64(name)? {
            None => Err(self.error(name, "missing: the share of pieces, between 0 and 1")),
            Some(x) if (0.0..=1.0).contains(&x) => Ok(x),
            Some(x) => Err(self.error(name, &format!("{x} is not a share between 0 and 1"))),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: Value) -> String {
        FaultSpec::from_value(&v, "nodes.3")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_full_spec_reads_and_round_trips() {
        let v = json!({
            "offline": false,
            "refuse_uploads": true,
            "disk_full": true,
            "slow": { "latency": "100ms", "bandwidth": "256KiB",
                      "egress": { "bandwidth": 1000 } },
            "corrupt": { "share": 0.25, "seed": 7, "on": "write" },
            "lose": { "share": 1, "seed": 3 },
        });
        let spec = FaultSpec::from_value(&v, "nodes.3").unwrap();
        let slow = spec.slow.unwrap();
        assert_eq!(slow.ingress.latency, Duration::from_millis(100));
        assert_eq!(slow.ingress.bandwidth, Some(256 << 10));
        assert_eq!(slow.egress.latency, Duration::from_millis(100));
        assert_eq!(slow.egress.bandwidth, Some(1000));
        assert_eq!(spec.corrupt.unwrap().on, CorruptOn::Write);
        assert_eq!(spec.lose.unwrap().share, 1.0);
        let back = serde_json::to_value(&spec).unwrap();
        assert_eq!(FaultSpec::from_value(&back, "x").unwrap(), spec);
        spec.validate().unwrap();
        assert!(FaultSpec::from_value(&json!({}), "x").unwrap().is_clear());
    }

    #[test]
    fn bad_values_name_their_field() {
        let e = err(json!({ "ofline": true }));
        assert!(e.starts_with("nodes.3.ofline: unknown setting"), "{e}");
        assert!(e.contains("offline"), "{e}");
        let e = err(json!({ "offline": "yes" }));
        assert!(
            e.starts_with("nodes.3.offline: expected true or false"),
            "{e}"
        );
        let e = err(json!({ "slow": { "ingress": { "bandwidth": "fast" } } }));
        assert!(e.starts_with("nodes.3.slow.ingress.bandwidth: "), "{e}");
        let e = err(json!({ "slow": { "bandwidth": 0 } }));
        assert!(
            e.starts_with("nodes.3.slow.bandwidth: must be at least"),
            "{e}"
        );
        let e = err(json!({ "slow": { "latency": "soon" } }));
        assert!(
            e.starts_with("nodes.3.slow.latency: \"soon\" is not a duration"),
            "{e}"
        );
        let e = err(json!({ "slow": {} }));
        assert!(e.starts_with("nodes.3.slow: gives neither"), "{e}");
        let e = err(json!({ "corrupt": { "share": 1.5 } }));
        assert!(
            e.starts_with("nodes.3.corrupt.share: 1.5 is not a share"),
            "{e}"
        );
        let e = err(json!({ "corrupt": { "share": 0.5, "on": "sometimes" } }));
        assert!(e.starts_with("nodes.3.corrupt.on: "), "{e}");
        let e = err(json!({ "lose": { "seed": 1 } }));
        assert!(e.starts_with("nodes.3.lose.share: missing"), "{e}");
        let e = err(json!({ "lose": 0.5 }));
        assert!(e.starts_with("nodes.3.lose: expected a table"), "{e}");
        let e = err(json!({ "lose": { "share": 0.5, "seed": -1 } }));
        assert!(
            e.starts_with("nodes.3.lose.seed: expected a whole number"),
            "{e}"
        );
    }

    #[test]
    fn validate_refuses_what_text_could_not_say() {
        let spec = FaultSpec {
            lose: Some(Lose {
                share: f64::NAN,
                seed: 1,
            }),
            ..Default::default()
        };
        assert!(spec.validate().is_err());
        let spec = FaultSpec {
            slow: Some(Slow::symmetric(Duration::ZERO, Some(0))),
            ..Default::default()
        };
        assert!(spec.validate().is_err());
    }

    #[test]
    fn choice_is_stable_per_seed_and_near_its_share() {
        let ids: Vec<[u8; 32]> = (0..2000u32)
            .map(|i| *blake3::hash(&i.to_le_bytes()).as_bytes())
            .collect();
        let pick = |seed| -> Vec<bool> { ids.iter().map(|p| chosen(seed, p, 0.3)).collect() };
        assert_eq!(pick(1), pick(1));
        assert_ne!(pick(1), pick(2));
        let n = pick(1).iter().filter(|c| **c).count();
        assert!((450..750).contains(&n), "{n} of 2000 chosen at 0.3");
        assert!(ids.iter().all(|p| chosen(9, p, 1.0)));
        assert!(!ids.iter().any(|p| chosen(9, p, 0.0)));
    }
}
