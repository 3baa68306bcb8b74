//! The uplink's errors: what a user of the library or CLI is told.

use crate::access::AccessError;
use crate::crypto::CryptoError;
use crate::erasure::ErasureError;
use crate::protocol::metainfo::NameMode;
use crate::protocol::{ErrorBody, ErrorCode, ProtocolError};

#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    #[error("bucket {0:?} does not exist")]
    BucketNotFound(String),
    #[error("bucket {0:?} already exists")]
    BucketExists(String),
    #[error("bucket {0:?} is not empty (use --force to delete it with its objects)")]
    BucketNotEmpty(String),
    #[error("object {0:?} not found")]
    ObjectNotFound(String),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    #[error("the satellite refused the access grant's API key: {0}")]
    Unauthenticated(String),
    #[error("{0}")]
    TooFewNodes(String),
    #[error("{0}")]
    SegmentUnavailable(String),
    #[error("project limit reached: {0}")]
    LimitExceeded(String),
    #[error("the satellite answered {status}: {message}")]
    Satellite {
        status: u16,
        code: ErrorCode,
        message: String,
    },
    #[error("cannot reach the satellite at {address}: {reason}")]
    SatelliteUnreachable { address: String, reason: String },
    /// The satellite is overloaded for the moment (HTTP 503); it did nothing, and the
    /// call was retried with backoff before giving up.
    #[error(
        "the satellite is temporarily unavailable ({message}); gave up after {attempts} \
         attempt{}", if *attempts == 1 { "" } else { "s" }
    )]
    Unavailable { message: String, attempts: u32 },
    /// This client wrote the bucket's names one way and the bucket keeps them the
    /// other (it was recreated meanwhile, say); nothing was done.
    #[error("bucket {bucket:?}: {message}")]
    NameModeMismatch { bucket: String, message: String },
    /// The satellite says a bucket keeps its names in clear, but its tag does not
    /// prove it: no name is sent in clear.
    #[error(
        "bucket {0:?} is marked as keeping object names in clear, but the mark was not made \
         with this project's keys; refusing to send names in clear"
    )]
    UnprovenPlainNames(String),
    #[error("upload failed: {0}")]
    UploadFailed(String),
    #[error("download failed: {0}")]
    DownloadFailed(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A byte range that starts at or past the end of the object (HTTP 416).
    #[error("range starts at byte {start} but the object has {size} bytes")]
    RangeNotSatisfiable { start: u64, size: u64 },
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Erasure(#[from] ErasureError),
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl UplinkError {
    /// Maps a satellite error body, naming the bucket or object where it helps.
    pub(crate) fn from_satellite(status: u16, body: ErrorBody, subject: &Subject) -> Self {
        let ErrorBody { error } = body;
        match error.code {
            ErrorCode::BucketNotFound => {
                UplinkError::BucketNotFound(subject.bucket.clone().unwrap_or_default())
            }
            ErrorCode::BucketExists => {
                UplinkError::BucketExists(subject.bucket.clone().unwrap_or_default())
            }
            ErrorCode::BucketNotEmpty => {
                UplinkError::BucketNotEmpty(subject.bucket.clone().unwrap_or_default())
            }
            ErrorCode::ObjectNotFound => UplinkError::ObjectNotFound(
                subject.key.clone().unwrap_or_else(|| error.message.clone()),
            ),
            ErrorCode::PermissionDenied => UplinkError::PermissionDenied(error.message),
            ErrorCode::Unauthenticated => UplinkError::Unauthenticated(error.message),
            ErrorCode::TooFewNodes => UplinkError::TooFewNodes(error.message),
            ErrorCode::SegmentUnavailable => UplinkError::SegmentUnavailable(error.message),
            ErrorCode::LimitExceeded | ErrorCode::TooManyRequests => {
                UplinkError::LimitExceeded(error.message)
            }
            ErrorCode::NameModeMismatch => UplinkError::NameModeMismatch {
                bucket: subject.bucket.clone().unwrap_or_default(),
                message: error.message,
            },
            ErrorCode::Unavailable => UplinkError::Unavailable {
                message: error.message,
                attempts: 1,
            },
            code => UplinkError::Satellite {
                status,
                code,
                message: error.message,
            },
        }
    }
}

impl UplinkError {
    /// The error of the last of `attempts` tries of one call, saying how many there were.
    pub(crate) fn after_attempts(self, attempts: u32) -> Self {
        match self {
            UplinkError::Unavailable { message, .. } => {
                UplinkError::Unavailable { message, attempts }
            }
            UplinkError::SatelliteUnreachable { address, reason } if attempts > 1 => {
                UplinkError::SatelliteUnreachable {
                    address,
                    reason: format!("{reason} (gave up after {attempts} attempts)"),
                }
            }
            other => other,
        }
    }
}

/// What a request was about, to make error messages specific.
#[derive(Clone, Debug, Default)]
pub struct Subject {
    pub bucket: Option<String>,
    pub key: Option<String>,
    /// How the request writes the bucket's object names (sent to the satellite with
    /// the request, which refuses a mismatch).
    pub names: NameMode,
}

impl Subject {
    pub fn bucket(bucket: &str) -> Self {
        Self {
            bucket: Some(bucket.to_string()),
            ..Default::default()
        }
    }
    pub fn object(bucket: &str, key: &str) -> Self {
        Self {
            bucket: Some(bucket.to_string()),
            key: Some(key.to_string()),
            ..Default::default()
        }
    }
    /// The same subject, its names written as `names` says.
    pub fn with_names(mut self, names: NameMode) -> Self {
        self.names = names;
        self
    }
}

/// Why one piece transfer with one node failed. Never surfaced on its own: the uplink
/// routes around failed nodes and reports only when too few pieces succeed.
#[derive(Debug, thiserror::Error, Clone)]
pub enum PieceError {
    #[error("node {address} unreachable: {reason}")]
    Unreachable { address: String, reason: String },
    #[error("node {address} refused ({code:?}): {message}")]
    Refused {
        address: String,
        code: ErrorCode,
        message: String,
    },
    /// The node did not answer, or stopped sending, within the timeout.
    #[error("node {address} timed out: {reason}")]
    TimedOut { address: String, reason: String },
    /// Data or hashes that do not match what the uploader signed.
    #[error("node {address} sent corrupt data: {reason}")]
    Corrupt { address: String, reason: String },
    /// Anything else the protocol does not allow (bad framing, too much data).
    #[error("node {address} sent invalid data: {reason}")]
    Invalid { address: String, reason: String },
    #[error("cancelled")]
    Cancelled,
}

/// What an auditor or a repairer makes of a failed piece transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PieceOutcome {
    /// No connection could be made.
    Offline,
    TimedOut,
    /// The node says it does not have the piece.
    Missing,
    /// The node sent data that fails verification.
    Corrupt,
    /// The node refused for another reason, or broke the protocol.
    Other,
}

impl PieceError {
    pub fn outcome(&self) -> PieceOutcome {
        match self {
            PieceError::Unreachable { .. } => PieceOutcome::Offline,
            PieceError::TimedOut { .. } => PieceOutcome::TimedOut,
            PieceError::Refused {
                code: ErrorCode::PieceNotFound,
                ..
            } => PieceOutcome::Missing,
            PieceError::Corrupt { .. } => PieceOutcome::Corrupt,
            PieceError::Refused { .. } | PieceError::Invalid { .. } | PieceError::Cancelled => {
                PieceOutcome::Other
            }
        }
    }
}

pub type Result<T, E = UplinkError> = std::result::Result<T, E>;

/// A short summary of the distinct node errors behind a failed transfer.
pub(crate) fn summarize(errors: &[String]) -> String {
    if errors.is_empty() {
        return "no node reported an error".into();
    }
    let mut unique: Vec<&str> = Vec::new();
    for e in errors {
        if !unique.contains(&e.as_str()) {
            unique.push(e);
        }
    }
    let shown = unique[..unique.len().min(3)].join("; ");
    match unique.len().saturating_sub(3) {
        0 => shown,
        more => format!("{shown}; and {more} more"),
    }
}
