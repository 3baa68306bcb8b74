//! Library errors as S3 errors: the one place where an `UplinkError` becomes an S3 code
//! and status. Load and unreachable nodes are 503 (clients retry), never 500.

use s3s::{S3Error, S3ErrorCode, s3_error};

use crate::client::UplinkError;
use crate::protocol::ErrorCode;

pub(crate) fn s3(e: UplinkError) -> S3Error {
    match e {
        UplinkError::BucketNotFound(b) => {
            s3_error!(NoSuchBucket, "The specified bucket {b:?} does not exist")
        }
        UplinkError::BucketExists(b) => s3_error!(
            BucketAlreadyOwnedByYou,
            "The bucket {b:?} exists already and is yours"
        ),
        UplinkError::BucketNotEmpty(b) => {
            s3_error!(BucketNotEmpty, "The bucket {b:?} is not empty")
        }
        UplinkError::ObjectNotFound(_) => s3_error!(NoSuchKey, "The specified key does not exist"),
        UplinkError::PermissionDenied(m) => s3_error!(AccessDenied, "Access denied: {m}"),
        UplinkError::Unauthenticated(m) => {
            s3_error!(
                AccessDenied,
                "The satellite refused this gateway's grant: {m}"
            )
        }
        UplinkError::LimitExceeded(m) => s3_error!(AccessDenied, "Project limit reached: {m}"),
        UplinkError::TooFewNodes(m) | UplinkError::SegmentUnavailable(m) => {
            s3_error!(ServiceUnavailable, "{m}")
        }
        UplinkError::Unavailable { message, .. } => s3_error!(SlowDown, "{message}"),
        UplinkError::SatelliteUnreachable { reason, .. } => {
            s3_error!(
                ServiceUnavailable,
                "The satellite cannot be reached: {reason}"
            )
        }
        UplinkError::RangeNotSatisfiable { .. } => {
            s3_error!(InvalidRange, "The requested range is not satisfiable")
        }
        UplinkError::InvalidArgument(m) => s3_error!(InvalidArgument, "{m}"),
        UplinkError::Satellite { code, message, .. } => match code {
            ErrorCode::PreconditionFailed => {
                s3_error!(
                    PreconditionFailed,
                    "At least one of the preconditions did not hold"
                )
            }
            ErrorCode::BadRequest => s3_error!(InvalidArgument, "{message}"),
            ErrorCode::Conflict => s3_error!(OperationAborted, "{message}"),
            ErrorCode::TooManyRequests => s3_error!(SlowDown, "{message}"),
            ErrorCode::NotFound => s3_error!(NoSuchKey, "{message}"),
            _ => internal(message),
        },
        UplinkError::Access(e) => s3_error!(AccessDenied, "{e}"),
        // The gateway learnt the bucket's mode afresh: the client's retry goes through.
        e @ UplinkError::NameModeMismatch { .. } => s3_error!(OperationAborted, "{e}"),
        e @ UplinkError::UnprovenPlainNames(_) => s3_error!(AccessDenied, "{e}"),
        UplinkError::UploadFailed(m) => s3_error!(ServiceUnavailable, "Upload failed: {m}"),
        UplinkError::DownloadFailed(m) => s3_error!(ServiceUnavailable, "Download failed: {m}"),
        other => internal(other.to_string()),
    }
}

/// A satellite "not found" in a multipart call means the upload id is unknown.
pub(crate) fn upload(e: UplinkError) -> S3Error {
    match e {
        UplinkError::Satellite {
            code: ErrorCode::NotFound,
            ..
        } => s3_error!(
            NoSuchUpload,
            "The specified upload does not exist (it may have been completed or aborted)"
        ),
        other => s3(other),
    }
}

fn internal(message: String) -> S3Error {
    tracing::warn!(error = %message, "gateway request failed");
    S3Error::with_message(S3ErrorCode::InternalError, message)
}
