//! Errors of the storage node, and how they appear on the wire.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use uplink_core::protocol::{ErrorBody, ErrorCode, NodeId, PieceId, ProtocolError, SerialNumber};

use super::piecestore::StoreError;

/// What a client is told about an internal error.
pub const INTERNAL_MESSAGE: &str =
    "internal error in the storage node (the details are in its log)";

/// Everything that can go wrong in a storage node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("order limit is for node {limit_node}, this is node {this_node}")]
    WrongNode {
        limit_node: NodeId,
        this_node: NodeId,
    },
    #[error("{0}")]
    UntrustedSatellite(String),
    #[error("invalid order limit: {0}")]
    OrderLimitInvalid(String),
    #[error("{0}")]
    OrderLimitExpired(String),
    #[error("order limit serial {serial} from satellite {satellite} was already used")]
    SerialReused {
        satellite: NodeId,
        serial: SerialNumber,
    },
    #[error("{0}")]
    PieceTooLarge(String),
    /// A retain request (garbage collection) that is not applied.
    #[error("retain request refused: {message}")]
    Retain { code: ErrorCode, message: String },
    #[error("piece {piece} of satellite {satellite} is not stored on this node")]
    PieceNotFound { satellite: NodeId, piece: PieceId },
    #[error("piece {piece} of satellite {satellite} is already stored on this node")]
    PieceExists { satellite: NodeId, piece: PieceId },
    #[error("hash mismatch: {0}")]
    HashMismatch(String),
    #[error("disk full: {0}")]
    DiskFull(String),
    #[error("bad request: {0}")]
    BadRequest(String),
    /// An HTTP path this node does not serve.
    #[error("{0}")]
    NotFoundEndpoint(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("identity: {0}")]
    Identity(ProtocolError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("check-in with satellite {satellite} failed: {message}")]
    CheckIn { satellite: NodeId, message: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl NodeError {
    /// The machine-readable code sent to clients.
    pub fn code(&self) -> ErrorCode {
        match self {
            NodeError::WrongNode { .. } => ErrorCode::WrongNode,
            NodeError::UntrustedSatellite(_) => ErrorCode::UntrustedSatellite,
            NodeError::OrderLimitInvalid(_) => ErrorCode::OrderLimitInvalid,
            NodeError::OrderLimitExpired(_) => ErrorCode::OrderLimitExpired,
            NodeError::SerialReused { .. } => ErrorCode::SerialReused,
            NodeError::PieceTooLarge(_) => ErrorCode::PieceTooLarge,
            NodeError::Retain { code, .. } => *code,
            NodeError::PieceNotFound { .. } => ErrorCode::PieceNotFound,
            // There is no "conflict" code for pieces; a repeated upload is a bad request.
            NodeError::PieceExists { .. } => ErrorCode::BadRequest,
            NodeError::HashMismatch(_) => ErrorCode::HashMismatch,
            NodeError::DiskFull(_) => ErrorCode::DiskFull,
            NodeError::BadRequest(_) => ErrorCode::BadRequest,
            NodeError::NotFoundEndpoint(_) => ErrorCode::NotFound,
            NodeError::Store(StoreError::NotFound) => ErrorCode::PieceNotFound,
            NodeError::Store(StoreError::AlreadyExists) => ErrorCode::BadRequest,
            NodeError::Store(StoreError::DiskFull) => ErrorCode::DiskFull,
            NodeError::Store(_) => ErrorCode::Internal,
            NodeError::Identity(_)
            | NodeError::Config(_)
            | NodeError::CheckIn { .. }
            | NodeError::Io { .. }
            | NodeError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The JSON body sent to clients. Internal errors are described by a fixed text:
    /// their details (I/O errors, file paths of the piece store) stay in the node's log.
    pub fn body(&self) -> ErrorBody {
        match self.code() {
            ErrorCode::Internal => ErrorBody::new(ErrorCode::Internal, INTERNAL_MESSAGE),
            code => ErrorBody::new(code, self.to_string()),
        }
    }

    /// Maps a store error for one piece to a node error that names the piece.
    pub fn from_store(e: StoreError, satellite: NodeId, piece: PieceId) -> Self {
        match e {
            StoreError::NotFound => NodeError::PieceNotFound { satellite, piece },
            StoreError::AlreadyExists => NodeError::PieceExists { satellite, piece },
            StoreError::DiskFull => {
                NodeError::DiskFull(format!("no space left while storing piece {piece}"))
            }
            other => NodeError::Store(other),
        }
    }
}

impl actix_web::ResponseError for NodeError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if self.code() == ErrorCode::Internal {
            tracing::error!("request failed: {self}");
        }
        HttpResponse::build(self.status_code()).json(self.body())
    }
}

/// Unix seconds as RFC 3339, for messages people read.
pub fn fmt_unix(secs: i64) -> String {
    let Ok(secs_u) = u64::try_from(secs) else {
        return format!("{secs} (unix seconds)");
    };
    match std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs_u)) {
        Some(t) if secs_u < 253_402_300_800 => humantime::format_rfc3339_seconds(t).to_string(),
        _ => format!("{secs} (unix seconds)"),
    }
}
