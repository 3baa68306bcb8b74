//! The shape of a load as written on the command line: which operations in what
//! proportion (`put=40,get=40,list=15,delete=5`) and which object sizes (`1KiB..8MiB`).

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::Serialize;
use uplink_core::units::{format_size, parse_size};

use super::LoadError;

/// One kind of operation a client runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// Upload a new object of a random size.
    Put,
    /// Download a whole object and compare it byte for byte.
    Get,
    /// Download a random byte range of an object and compare it.
    Range,
    /// List one client's prefix and check it holds every object known to be there.
    List,
    /// Delete an object.
    Delete,
}

impl OpKind {
    pub const ALL: [OpKind; 5] = [
        OpKind::Put,
        OpKind::Get,
        OpKind::Range,
        OpKind::List,
        OpKind::Delete,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OpKind::Put => "put",
            OpKind::Get => "get",
            OpKind::Range => "range",
            OpKind::List => "list",
            OpKind::Delete => "delete",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Relative weights of the operations.
///
/// When `range` is not named, a quarter of `get`'s weight goes to range reads, so that
/// the documented `put=40,get=40,list=15,delete=5` reads ranges too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mix {
    weights: [u32; 5],
}

impl Mix {
    /// A mix with these weights (indexed as [`OpKind::ALL`]); at least one must be > 0.
    pub fn new(weights: [u32; 5]) -> Result<Self, LoadError> {
        if weights.iter().all(|&w| w == 0) {
            return Err(LoadError::InvalidArgument(
                "the mix needs at least one operation with a weight above 0".into(),
            ));
        }
        if weights.iter().map(|&w| w as u64).sum::<u64>() > u32::MAX as u64 {
            return Err(LoadError::InvalidArgument(
                "mix weights are too large".into(),
            ));
        }
        Ok(Self { weights })
    }

    pub fn weight(&self, op: OpKind) -> u32 {
        self.weights[op.index()]
    }

    /// An operation drawn with probability proportional to its weight.
    pub fn choose<R: Rng>(&self, rng: &mut R) -> OpKind {
        let total: u32 = self.weights.iter().sum();
        let mut pick = rng.gen_range(0..total);
        for op in OpKind::ALL {
            let w = self.weight(op);
            if pick < w {
                return op;
            }
            pick -= w;
        }
        unreachable!("the pick is below the total weight")
    }
}

impl Default for Mix {
    fn default() -> Self {
        "put=40,get=40,list=15,delete=5"
            .parse()
            .expect("the default mix parses")
    }
}

impl FromStr for Mix {
    type Err = LoadError;
    fn from_str(s: &str) -> Result<Self, LoadError> {
        let bad = |why: String| {
            LoadError::InvalidArgument(format!(
                "mix {s:?}: {why}; write it like put=40,get=40,list=15,delete=5 \
                 (operations: put, get, range, list, delete)"
            ))
        };
        let mut weights = [0u32; 5];
        let mut named = [false; 5];
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("{part:?} has no '='")))?;
            let op = OpKind::ALL
                .into_iter()
                .find(|op| op.name() == name.trim())
                .ok_or_else(|| bad(format!("unknown operation {:?}", name.trim())))?;
            if named[op.index()] {
                return Err(bad(format!("{op} is named twice")));
            }
            named[op.index()] = true;
            weights[op.index()] = weight
                .trim()
                .parse()
                .map_err(|_| bad(format!("weight {:?} is not a whole number", weight.trim())))?;
        }
        if !named[OpKind::Range.index()] {
            let get = &mut weights[OpKind::Get.index()];
            let range = *get / 4;
            *get -= range;
            weights[OpKind::Range.index()] = range;
        }
        Mix::new(weights).map_err(|e| bad(e.to_string()))
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = OpKind::ALL
            .into_iter()
            .map(|op| format!("{op}={}", self.weight(op)))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Object sizes from `min` to `max` bytes inclusive, drawn log-uniformly so that small
/// and large objects both occur.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeRange {
    min: u64,
    max: u64,
}

impl SizeRange {
    pub fn new(min: u64, max: u64) -> Result<Self, LoadError> {
        if min > max {
            return Err(LoadError::InvalidArgument(format!(
                "sizes: the smallest ({}) is larger than the largest ({})",
                format_size(min),
                format_size(max)
            )));
        }
        Ok(Self { min, max })
    }

    pub fn min(&self) -> u64 {
        self.min
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    pub fn sample<R: Rng>(&self, rng: &mut R) -> u64 {
        if self.min == self.max {
            return self.min;
        }
        // Log-uniform over [min + 1, max + 1], shifted back by one so that 0 may occur.
        let lo = ((self.min + 1) as f64).ln();
        let hi = ((self.max + 1) as f64).ln();
        let x = rng.gen_range(lo..=hi).exp() - 1.0;
        (x.round() as u64).clamp(self.min, self.max)
    }
}

impl FromStr for SizeRange {
    type Err = LoadError;
    fn from_str(s: &str) -> Result<Self, LoadError> {
        let size = |t: &str| {
            parse_size(t).map_err(|e| {
                LoadError::InvalidArgument(format!(
                    "sizes {s:?}: {e}; write a range like 1KiB..8MiB or one size"
                ))
            })
        };
        match s.split_once("..") {
            Some((a, b)) => SizeRange::new(size(a)?, size(b)?),
            None => {
                let n = size(s)?;
                SizeRange::new(n, n)
            }
        }
    }
}

impl fmt::Display for SizeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = |n: u64| format_size(n).replace(' ', "");
        if self.min == self.max {
            f.write_str(&short(self.min))
        } else {
            write!(f, "{}..{}", short(self.min), short(self.max))
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn mixes_parse_and_carve_ranges_out_of_gets() {
        let mix: Mix = "put=40,get=40,list=15,delete=5".parse().unwrap();
        assert_eq!(mix.to_string(), "put=40,get=30,range=10,list=15,delete=5");
        let mix: Mix = "put=1, range=2".parse().unwrap();
        assert_eq!(mix.to_string(), "put=1,get=0,range=2,list=0,delete=0");
        for bad in ["", "put=0", "put=x", "copy=3", "put=1,put=2", "put"] {
            let err = bad.parse::<Mix>().unwrap_err();
            assert!(
                matches!(err, LoadError::InvalidArgument(_)),
                "{bad:?} gave {err:?}"
            );
        }
    }

    #[test]
    fn choices_follow_the_weights() {
        let mix: Mix = "put=1,get=0,range=0,list=3,delete=0".parse().unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        let mut counts = [0u32; 5];
        for _ in 0..4000 {
            counts[mix.choose(&mut rng).index()] += 1;
        }
        assert_eq!(counts[OpKind::Get.index()], 0);
        assert_eq!(counts[OpKind::Delete.index()], 0);
        // Expected 1000 and 3000; a fixed seed makes this exact, the bound says why.
        assert!(
            (800..1200).contains(&counts[OpKind::Put.index()]),
            "{counts:?}"
        );
    }

    #[test]
    fn sizes_parse_and_cover_small_and_large() {
        let sizes: SizeRange = "1KiB..8MiB".parse().unwrap();
        assert_eq!((sizes.min(), sizes.max()), (1024, 8 << 20));
        assert_eq!(sizes.to_string(), "1KiB..8MiB");
        assert_eq!(
            "4096".parse::<SizeRange>().unwrap(),
            SizeRange::new(4096, 4096).unwrap()
        );
        assert!(matches!(
            "8MiB..1KiB".parse::<SizeRange>(),
            Err(LoadError::InvalidArgument(_))
        ));
        assert!(matches!(
            "1KiB..lots".parse::<SizeRange>(),
            Err(LoadError::InvalidArgument(_))
        ));
        let mut rng = StdRng::seed_from_u64(1);
        let drawn: Vec<u64> = (0..2000).map(|_| sizes.sample(&mut rng)).collect();
        assert!(drawn.iter().all(|&s| (1024..=8 << 20).contains(&s)));
        // Log-uniform: each factor of 8 in size gets about a quarter of the draws.
        let small = drawn.iter().filter(|&&s| s < 8 << 10).count();
        let large = drawn.iter().filter(|&&s| s >= 1 << 20).count();
        assert!(small > 300 && large > 300, "small {small}, large {large}");
        let zero = SizeRange::new(0, 10).unwrap();
        assert!((0..500).map(|_| zero.sample(&mut rng)).any(|s| s == 0));
    }
}
