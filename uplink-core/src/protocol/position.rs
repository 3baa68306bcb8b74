//! Where a segment sits in its object: a part and an index within the part.
//!
//! Multipart uploads send parts in any order and in parallel, each numbering its
//! segments from 0, and commit without copying; an object's segments are read in
//! (part, index) order, and a plain upload is part 0. Encryption binds both numbers
//! (see `crypto::content::segment_wrap_key`), so a segment's key opens nowhere else.
//! The database keeps the pair as one integer, `part << 32 | index`, which sorts the
//! same way; parts stop below 2^31 so that it fits a signed 64-bit column.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ProtocolError;

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SegmentPosition {
    pub part: u32,
    pub index: u32,
}

impl SegmentPosition {
    /// The largest part number.
    pub const MAX_PART: u32 = i32::MAX as u32;

    pub const fn new(part: u32, index: u32) -> Self {
        Self { part, index }
    }

    /// Segment `index` of a plain (single-part) upload.
    pub const fn single(index: u32) -> Self {
        Self { part: 0, index }
    }

    /// The next segment of the same part, if there is one.
    pub fn next(self) -> Option<Self> {
        Some(Self {
            part: self.part,
            index: self.index.checked_add(1)?,
        })
    }

    /// The smallest position after this one (in the next part after an index of
    /// `u32::MAX`): where a listing that ended here continues.
    pub fn successor(self) -> Self {
        match self.index.checked_add(1) {
            Some(index) => Self {
                part: self.part,
                index,
            },
            None => Self {
                part: self.part.saturating_add(1),
                index: 0,
            },
        }
    }

    /// The pair as the database stores it; order-preserving. A part past
    /// [`Self::MAX_PART`] is clamped: positions from outside are [`Self::check`]ed first.
    pub fn encode(self) -> i64 {
        (i64::from(self.part.min(Self::MAX_PART)) << 32) | i64::from(self.index)
    }

    /// The pair from its stored form; negative values are not positions.
    pub fn decode(value: i64) -> Result<Self, ProtocolError> {
        if value < 0 {
            return Err(ProtocolError::Malformed(format!(
                "{value} is not a segment position"
            )));
        }
        Ok(Self {
            part: (value >> 32) as u32,
            index: value as u32,
        })
    }

    /// Refuses parts past [`Self::MAX_PART`] (they would not fit the stored form).
    pub fn check(self) -> Result<Self, ProtocolError> {
        if self.part > Self::MAX_PART {
            return Err(ProtocolError::Malformed(format!(
                "part {} is past the largest part number {}",
                self.part,
                Self::MAX_PART
            )));
        }
        Ok(self)
    }
}

impl fmt::Display for SegmentPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.part, self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_form_round_trips_and_keeps_the_order() {
        let positions = [
            SegmentPosition::new(0, 0),
            SegmentPosition::new(0, 1),
            SegmentPosition::new(0, u32::MAX),
            SegmentPosition::new(1, 0),
            SegmentPosition::new(7, 3),
            SegmentPosition::new(SegmentPosition::MAX_PART, u32::MAX),
        ];
        for pair in positions.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(pair[0].encode() < pair[1].encode(), "{pair:?}");
        }
        for p in positions {
            assert_eq!(SegmentPosition::decode(p.encode()).unwrap(), p);
        }
        assert!(SegmentPosition::decode(-1).is_err());
        assert!(
            SegmentPosition::new(SegmentPosition::MAX_PART + 1, 0)
                .check()
                .is_err()
        );
        assert_eq!(SegmentPosition::new(0, u32::MAX).next(), None);
        assert_eq!(
            SegmentPosition::new(0, u32::MAX).successor(),
            SegmentPosition::new(1, 0)
        );
        assert_eq!(
            SegmentPosition::new(3, 9).successor(),
            SegmentPosition::new(3, 10)
        );
        assert_eq!(
            SegmentPosition::single(4).next(),
            Some(SegmentPosition::new(0, 5))
        );
    }

    #[test]
    fn the_wire_form_names_both_numbers() {
        let json = serde_json::to_string(&SegmentPosition::new(2, 5)).unwrap();
        assert_eq!(json, r#"{"part":2,"index":5}"#);
        assert_eq!(SegmentPosition::new(2, 5).to_string(), "2:5");
    }
}
