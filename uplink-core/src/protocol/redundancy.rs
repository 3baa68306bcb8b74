//! The erasure scheme and the segment layout that follows from it.
//!
//! A remote segment's plaintext is cut into encryption blocks; each block is sealed with
//! AES-256-GCM so that its ciphertext is exactly one stripe of `k * share_size` bytes.
//! Each stripe is erasure coded into `total` shares of `share_size` bytes, and piece `i`
//! is the concatenation of share `i` of every stripe. So a plaintext byte range maps to a
//! run of whole stripes, and to the same byte run in every piece: range reads fetch only
//! what covers them. All three parties use this arithmetic, so it lives here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ProtocolError;

/// Bytes of authentication tag added to each encryption block.
pub const GCM_TAG_SIZE: u64 = 16;

/// `RS(k, repair, optimal, total)` plus the share size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RedundancyScheme {
    /// Pieces needed to decode.
    pub k: u16,
    /// Repair is scheduled when healthy pieces fall to this many.
    pub repair: u16,
    /// An upload succeeds once this many pieces are stored.
    pub optimal: u16,
    /// Pieces attempted on upload.
    pub total: u16,
    /// Bytes of each erasure share (one stripe = `k * share_size` bytes).
    pub share_size: u32,
}

pub const DEFAULT_SHARE_SIZE: u32 = 1024;

impl Default for RedundancyScheme {
    /// The development default, 4/6/8/10.
    fn default() -> Self {
        Self {
            k: 4,
            repair: 6,
            optimal: 8,
            total: 10,
            share_size: DEFAULT_SHARE_SIZE,
        }
    }
}

impl RedundancyScheme {
    pub fn new(
        k: u16,
        repair: u16,
        optimal: u16,
        total: u16,
        share_size: u32,
    ) -> Result<Self, ProtocolError> {
        let scheme = Self {
            k,
            repair,
            optimal,
            total,
            share_size,
        };
        scheme.validate()?;
        Ok(scheme)
    }

    pub fn validate(&self) -> Result<(), ProtocolError> {
        let Self {
            k,
            repair,
            optimal,
            total,
            share_size,
        } = *self;
        if !(1 <= k && k <= repair && repair <= optimal && optimal <= total) {
            return Err(ProtocolError::Malformed(format!(
                "redundancy {k}/{repair}/{optimal}/{total} must satisfy 1 <= k <= repair <= optimal <= total"
            )));
        }
        if total > 255 {
            return Err(ProtocolError::Malformed(format!(
                "redundancy total {total} exceeds the maximum of 255 pieces"
            )));
        }
        if share_size == 0 || share_size > 1 << 20 {
            return Err(ProtocolError::Malformed(format!(
                "share size {share_size} must be between 1 byte and 1 MiB"
            )));
        }
        if self.stripe_size() <= GCM_TAG_SIZE {
            return Err(ProtocolError::Malformed(format!(
                "stripe of {} bytes is too small to hold an encryption block",
                self.stripe_size()
            )));
        }
        Ok(())
    }

    /// Ciphertext bytes per stripe (= per encryption block).
    pub fn stripe_size(&self) -> u64 {
        self.k as u64 * self.share_size as u64
    }

    /// Plaintext bytes per encryption block.
    pub fn block_plain_size(&self) -> u64 {
        self.stripe_size() - GCM_TAG_SIZE
    }

    /// Stripes (= encryption blocks) of a segment of `plain_size` bytes.
    pub fn stripes_for(&self, plain_size: u64) -> u64 {
        plain_size.div_ceil(self.block_plain_size())
    }

    /// Bytes of each piece of a segment of `plain_size` bytes.
    pub fn piece_size(&self, plain_size: u64) -> u64 {
        self.stripes_for(plain_size) * self.share_size as u64
    }

    /// Ciphertext bytes of a segment of `plain_size` bytes (before erasure coding).
    pub fn encrypted_size(&self, plain_size: u64) -> u64 {
        self.stripes_for(plain_size) * self.stripe_size()
    }

    /// The stripes `[first, end)` that cover the plaintext range `[offset, offset + len)`
    /// of a segment. `len` must be positive.
    pub fn stripes_covering(&self, offset: u64, len: u64) -> (u64, u64) {
        let block = self.block_plain_size();
        let first = offset / block;
        let end = (offset + len).div_ceil(block);
        (first, end)
    }
}

impl fmt::Display for RedundancyScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.k, self.repair, self.optimal, self.total
        )
    }
}

impl FromStr for RedundancyScheme {
    type Err = ProtocolError;

    /// Parses `k/repair/optimal/total`, optionally followed by `@share_size`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (counts, share) = match s.split_once('@') {
            Some((c, sh)) => (c, Some(sh)),
            None => (s, None),
        };
        let nums: Vec<u16> = counts
            .split('/')
            .map(|p| p.trim().parse::<u16>())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                ProtocolError::Malformed(format!(
                    "redundancy {s:?} must look like k/repair/optimal/total, e.g. 4/6/8/10"
                ))
            })?;
        let [k, repair, optimal, total] = nums[..] else {
            return Err(ProtocolError::Malformed(format!(
                "redundancy {s:?} must have four numbers: k/repair/optimal/total"
            )));
        };
        let share_size = match share {
            Some(sh) => sh.trim().parse().map_err(|_| {
                ProtocolError::Malformed(format!("share size in {s:?} is not a number"))
            })?,
            None => DEFAULT_SHARE_SIZE,
        };
        Self::new(k, repair, optimal, total, share_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        let s: RedundancyScheme = "29/35/80/110".parse().unwrap();
        assert_eq!((s.k, s.repair, s.optimal, s.total), (29, 35, 80, 110));
        assert_eq!(s.to_string(), "29/35/80/110");
        let s: RedundancyScheme = "4/6/8/10@256".parse().unwrap();
        assert_eq!(s.share_size, 256);
        assert!("4/6/8".parse::<RedundancyScheme>().is_err());
        assert!("8/6/8/10".parse::<RedundancyScheme>().is_err());
        assert!("4/6/8/300".parse::<RedundancyScheme>().is_err());
        assert!("1/1/1/1@8".parse::<RedundancyScheme>().is_err());
    }

    #[test]
    fn layout_arithmetic() {
        let s = RedundancyScheme::default();
        assert_eq!(s.stripe_size(), 4096);
        assert_eq!(s.block_plain_size(), 4080);
        assert_eq!(s.stripes_for(1), 1);
        assert_eq!(s.stripes_for(4080), 1);
        assert_eq!(s.stripes_for(4081), 2);
        assert_eq!(s.piece_size(4081), 2048);
        assert_eq!(s.encrypted_size(4081), 8192);
        assert_eq!(s.stripes_covering(0, 1), (0, 1));
        assert_eq!(s.stripes_covering(4079, 2), (0, 2));
        assert_eq!(s.stripes_covering(4080, 4080), (1, 2));
    }
}
