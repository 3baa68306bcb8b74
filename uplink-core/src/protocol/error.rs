//! Errors of the protocol layer, and the JSON error body every HTTP API returns.
//!
//! Each party has its own error enum; at its HTTP edge it maps them to an [`ErrorCode`]
//! and a status, and clients map the code back. The code is the contract; the message
//! is for people.

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("hash mismatch: {0}")]
    HashMismatch(String),
    #[error("{0}")]
    Io(String),
}

/// Machine-readable error codes shared by satellite, nodes and uplink.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    BucketNotFound,
    BucketExists,
    BucketNotEmpty,
    ObjectNotFound,
    /// A concurrent change won; retrying is safe.
    Conflict,
    /// A conditional request's condition does not hold (an object exists already).
    PreconditionFailed,
    TooFewNodes,
    SegmentUnavailable,
    LimitExceeded,
    TooManyRequests,
    OrderLimitInvalid,
    OrderLimitExpired,
    SerialReused,
    WrongNode,
    UntrustedSatellite,
    PieceTooLarge,
    PieceNotFound,
    HashMismatch,
    DiskFull,
    /// The request's object names are not written the way the bucket keeps them
    /// (encrypted or in clear).
    NameModeMismatch,
    /// The service is briefly overloaded or its database busy; retrying is safe.
    Unavailable,
    Internal,
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The HTTP status that goes with the code.
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            BadRequest | OrderLimitInvalid | HashMismatch | PieceTooLarge => 400,
            Unauthenticated => 401,
            PermissionDenied | UntrustedSatellite | WrongNode | OrderLimitExpired
            | SerialReused => 403,
            NotFound | BucketNotFound | ObjectNotFound | PieceNotFound => 404,
            BucketExists | BucketNotEmpty | Conflict | NameModeMismatch => 409,
            PreconditionFailed => 412,
            LimitExceeded | TooManyRequests => 429,
            DiskFull => 507,
            TooFewNodes | SegmentUnavailable | Unavailable => 503,
            Internal | Unknown => 500,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
}

/// `{"error": {"code": "...", "message": "..."}}`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code,
                message: message.into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_shape_and_unknown_codes() {
        let body = ErrorBody::new(ErrorCode::BucketNotFound, "bucket \"x\" does not exist");
        let json = serde_json::to_string(&body).unwrap();
        assert_eq!(
            json,
            r#"{"error":{"code":"bucket_not_found","message":"bucket \"x\" does not exist"}}"#
        );
        let future: ErrorBody =
            serde_json::from_str(r#"{"error":{"code":"brand_new_code","message":"m"}}"#).unwrap();
        assert_eq!(future.error.code, ErrorCode::Unknown);
        assert_eq!(ErrorCode::DiskFull.http_status(), 507);
    }
}
