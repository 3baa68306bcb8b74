//! The satellite's error type. Mapped to HTTP status and wire code only in `api::error`.

use uplink_core::protocol::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum SatelliteError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthenticated(String),
    /// The reason alone; the code already says that permission was denied.
    #[error("{0}")]
    PermissionDenied(String),
    #[error("bucket {0:?} does not exist")]
    BucketNotFound(String),
    #[error("bucket {0:?} already exists")]
    BucketExists(String),
    #[error("bucket {0:?} is not empty (delete its objects first, or force the deletion)")]
    BucketNotEmpty(String),
    #[error("object not found")]
    ObjectNotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    PreconditionFailed(String),
    /// The request writes object names one way, its bucket keeps them the other.
    #[error("{0}")]
    NameModeMismatch(String),
    #[error("{0}")]
    TooFewNodes(String),
    #[error("{0}")]
    SegmentUnavailable(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// Transient: the database was busy or a connection could not be had in time, and
    /// retrying did not help within its bound. Safe for the client to retry.
    #[error("{0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Db(sea_orm::DbErr),
    #[error("internal error: {0}")]
    Internal(String),
}

impl SatelliteError {
    pub fn code(&self) -> ErrorCode {
        use SatelliteError::*;
        match self {
            Config(_) | Internal(_) | Db(_) => ErrorCode::Internal,
            BadRequest(_) => ErrorCode::BadRequest,
            Unauthenticated(_) => ErrorCode::Unauthenticated,
            PermissionDenied(_) => ErrorCode::PermissionDenied,
            BucketNotFound(_) => ErrorCode::BucketNotFound,
            BucketExists(_) => ErrorCode::BucketExists,
            BucketNotEmpty(_) => ErrorCode::BucketNotEmpty,
            ObjectNotFound => ErrorCode::ObjectNotFound,
            Conflict(_) => ErrorCode::Conflict,
            NameModeMismatch(_) => ErrorCode::NameModeMismatch,
            NotFound(_) => ErrorCode::NotFound,
            PreconditionFailed(_) => ErrorCode::PreconditionFailed,
            TooFewNodes(_) => ErrorCode::TooFewNodes,
            SegmentUnavailable(_) => ErrorCode::SegmentUnavailable,
            LimitExceeded(_) => ErrorCode::LimitExceeded,
            TooManyRequests(_) => ErrorCode::TooManyRequests,
            Unavailable(_) => ErrorCode::Unavailable,
        }
    }
}

impl From<sea_orm::DbErr> for SatelliteError {
    /// Transient failures (busy, deadlock, pool exhausted) become `Unavailable`, so that
    /// write transactions retry them and clients see 503 rather than 500.
    fn from(e: sea_orm::DbErr) -> Self {
        if crate::db::is_transient(&e) {
            tracing::debug!(error = %e, "transient database error");
            SatelliteError::Unavailable("the satellite's database is busy; retry shortly".into())
        } else {
            SatelliteError::Db(e)
        }
    }
}

impl From<crate::cache::CacheError> for SatelliteError {
    fn from(e: crate::cache::CacheError) -> Self {
        SatelliteError::Internal(e.to_string())
    }
}

pub type Result<T, E = SatelliteError> = std::result::Result<T, E>;

/// Whether a database error is a unique-constraint violation (a concurrent insert won).
pub fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
