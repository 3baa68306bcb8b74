//! What the metabase reports besides database errors.

use super::SegmentKey;

#[derive(Debug, thiserror::Error)]
pub enum MetabaseError {
    /// A row that cannot be read as a segment. Never treated as "no pieces".
    #[error("segment {key} is unreadable: {reason}")]
    Corrupt { key: SegmentKey, reason: String },
    /// A piece set that breaks an invariant (a number or a node twice).
    #[error("invalid piece set: {0}")]
    InvalidPieces(String),
}

impl From<MetabaseError> for crate::error::SatelliteError {
    fn from(e: MetabaseError) -> Self {
        tracing::error!(error = %e, "metabase integrity error");
        crate::error::SatelliteError::Internal(e.to_string())
    }
}
