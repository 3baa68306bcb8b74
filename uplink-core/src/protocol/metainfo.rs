//! Request and response bodies of the satellite's metainfo API (JSON over HTTP).
//!
//! Every call carries the API key as `Authorization: Bearer <key>`. Object keys only
//! ever appear encrypted (`encrypted_key`, `prefix`, `cursor`): the satellite lists and
//! compares ciphertext and never learns a name.

use serde::{Deserialize, Serialize};

use super::identity::PublicKey;
use super::ids::{NodeId, PieceId};
use super::order::AddressedOrderLimit;
use super::piece::PieceHash;
use super::position::SegmentPosition;
use super::redundancy::RedundancyScheme;

pub const PROJECT_INFO_PATH: &str = "/v1/project/info";
pub const BUCKET_CREATE_PATH: &str = "/v1/buckets/create";
pub const BUCKET_GET_PATH: &str = "/v1/buckets/get";
pub const BUCKET_LIST_PATH: &str = "/v1/buckets/list";
pub const BUCKET_DELETE_PATH: &str = "/v1/buckets/delete";
pub const BUCKET_CORS_GET_PATH: &str = "/v1/buckets/cors/get";
pub const BUCKET_CORS_SET_PATH: &str = "/v1/buckets/cors/set";
pub const OBJECT_BEGIN_PATH: &str = "/v1/objects/begin";
pub const OBJECT_COMMIT_PATH: &str = "/v1/objects/commit";
pub const OBJECT_UPLOAD_INLINE_PATH: &str = "/v1/objects/upload-inline";
pub const OBJECT_GET_PATH: &str = "/v1/objects/get";
pub const OBJECT_DOWNLOAD_PATH: &str = "/v1/objects/download";
pub const OBJECT_LIST_PATH: &str = "/v1/objects/list";
pub const OBJECT_DELETE_PATH: &str = "/v1/objects/delete";
pub const OBJECT_ABORT_PATH: &str = "/v1/objects/abort";
pub const OBJECT_RESUME_PATH: &str = "/v1/objects/resume";
pub const OBJECT_LIST_PARTS_PATH: &str = "/v1/objects/list-parts";
pub const OBJECT_COPY_BEGIN_PATH: &str = "/v1/objects/copy-begin";
pub const OBJECT_COPY_PATH: &str = "/v1/objects/copy";
pub const SEGMENT_BEGIN_PATH: &str = "/v1/segments/begin";
pub const SEGMENT_COMMIT_PATH: &str = "/v1/segments/commit";
pub const SEGMENT_INLINE_PATH: &str = "/v1/segments/inline";
pub const SEGMENT_DOWNLOAD_PATH: &str = "/v1/segments/download";
pub const SEGMENT_RETRY_PIECES_PATH: &str = "/v1/segments/retry-pieces";
pub const ACCESS_REVOKE_PATH: &str = "/v1/access/revoke";

/// Serde helper: `Vec<u8>` as standard base64 in JSON.
pub mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD
            .decode(s.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

/// Serde helper: `Option<Vec<u8>>` as base64 or null.
pub mod b64_opt {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(&STANDARD.encode(v)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| {
                STANDARD
                    .decode(s.as_bytes())
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
    }
}

/// Ciphertext plus the nonce it was sealed with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Sealed {
    #[serde(with = "b64")]
    pub ciphertext: Vec<u8>,
    #[serde(with = "b64")]
    pub nonce: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectInfoResponse {
    pub project_id: String,
    /// Salt for deriving a root encryption key from a passphrase.
    #[serde(with = "b64")]
    pub salt: Vec<u8>,
}

/// Revokes `api_key` and every key derived from it. The caller's own key (in the
/// `Authorization` header) must be the same key or one it was derived from: holding a
/// grant is enough to revoke what was shared from it, never a sibling or a parent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeRequest {
    /// The serialized API key to revoke.
    pub api_key: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketRequest {
    pub name: String,
    /// On creation: keep object names in clear, proven by this tag (hex; see
    /// `crypto::names`). Ignored by other bucket requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plain_names_tag: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketInfo {
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Set when the bucket keeps object names in clear: the tag its creator stored
    /// (hex). Clients check it before they send a name in clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plain_names_tag: Option<String>,
}

/// How a bucket's object names travel to the satellite.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NameMode {
    /// Each `/`-separated component encrypted (the default).
    #[default]
    Encrypted,
    /// As they are.
    Plain,
}

impl NameMode {
    pub fn is_plain(self) -> bool {
        self == NameMode::Plain
    }

    /// "encrypted" or "in clear", for messages.
    pub fn describe(self) -> &'static str {
        match self {
            NameMode::Encrypted => "encrypted",
            NameMode::Plain => "in clear",
        }
    }
}

/// The request header by which a client says that the object names in its request
/// are in clear (value [`NAMES_PLAIN`]); without it they are encrypted. The satellite
/// refuses a request whose names are not written the way its bucket keeps them, so a
/// client that is wrong about a bucket never stores a name the wrong way.
pub const NAMES_HEADER: &str = "x-object-names";
/// The value of [`NAMES_HEADER`] for names in clear.
pub const NAMES_PLAIN: &str = "plain";

/// A bucket's cross-origin rules; `None` is no configuration (S3's
/// `NoSuchCORSConfiguration`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketCors {
    pub rules: Option<Vec<super::cors::CorsRule>>,
}

/// Replaces a bucket's cross-origin rules (`rules: None` removes them). Needs write
/// permission on the bucket; reading them needs read permission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetBucketCorsRequest {
    pub name: String,
    pub rules: Option<Vec<super::cors::CorsRule>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ListBucketsRequest {
    /// List buckets whose name sorts after this one.
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListBucketsResponse {
    pub items: Vec<BucketInfo>,
    pub more: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteBucketRequest {
    pub name: String,
    /// Delete the bucket's objects too.
    #[serde(default)]
    pub force: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteBucketResponse {
    pub deleted_objects: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeginObjectRequest {
    pub bucket: String,
    pub encrypted_key: String,
    /// Unix seconds at which the object disappears, if any.
    pub expires_at: Option<i64>,
    /// Sealed metadata kept with the pending object (a multipart upload's content type
    /// and user metadata, given at its start and sealed again at completion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_metadata: Option<Sealed>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeginObjectResponse {
    /// Opaque, satellite-signed handle of the pending object.
    pub stream_id: String,
    /// The pending object's id (a multipart upload's id).
    #[serde(default)]
    pub object_id: String,
    /// The scheme this object's remote segments will use.
    pub redundancy: RedundancyScheme,
    /// Largest plaintext segment the satellite accepts.
    pub max_segment_size: u64,
    /// Largest object stored inline in the satellite database.
    pub max_inline_size: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeginSegmentRequest {
    pub stream_id: String,
    /// Where the segment goes in the object.
    pub position: SegmentPosition,
    /// Upper bound of the segment's plaintext size; sizes the order limits.
    pub max_plain_size: u64,
    /// The uplink's fresh per-segment key; piece hashes must be signed by it.
    pub piece_public_key: PublicKey,
    /// Nodes not to select (they just failed this uplink).
    #[serde(default)]
    pub exclude_nodes: Vec<NodeId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeginSegmentResponse {
    /// Opaque, satellite-signed handle of the pending segment.
    pub segment_id: String,
    pub root_piece_id: PieceId,
    pub redundancy: RedundancyScheme,
    /// One PUT limit per selected node (`redundancy.total`, or fewer but at least
    /// `redundancy.optimal` when the network is small).
    pub limits: Vec<AddressedOrderLimit>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PieceReceipt {
    pub piece_num: u16,
    /// The node-signed piece hash returned by the node.
    pub receipt: PieceHash,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitSegmentRequest {
    pub segment_id: String,
    pub plain_size: u64,
    /// The segment's content key, sealed under a key derived from the object's path.
    pub encrypted_key: Sealed,
    pub receipts: Vec<PieceReceipt>,
    /// On the last segment of a multipart part: the part's ETag, sealed by the uplink,
    /// returned by [`ListPartsResponse`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_etag: Option<Sealed>,
}

/// Asks for new nodes for pieces of a begun segment whose uploads failed. The satellite
/// picks nodes the segment has not used yet and signs PUT limits for the same piece
/// numbers under the segment's root piece id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPiecesRequest {
    pub segment_id: String,
    /// Piece numbers (of the current assignment) to move to other nodes, each once.
    pub pieces: Vec<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPiecesResponse {
    /// Replaces the old segment id: commit with this one. Receipts from the nodes that
    /// were replaced are no longer accepted.
    pub segment_id: String,
    /// One PUT limit per piece that got a new node; fewer than asked when the network
    /// has no more suitable nodes.
    pub limits: Vec<AddressedOrderLimit>,
}

/// Gives up an upload: the pending object and its committed segments are deleted and
/// their pieces queued for deletion on the nodes. A committed object is left alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbortObjectRequest {
    pub stream_id: String,
    /// Segment ids of segments that were begun but not committed: the pieces they name
    /// are queued for deletion too.
    #[serde(default)]
    pub segment_ids: Vec<String>,
    /// Only clean up after the named segments and leave the pending object and its
    /// committed segments (a failed part of a multipart upload, which may be retried).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub segments_only: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbortObjectResponse {
    /// Whether a pending object was deleted (false: it was already gone or committed).
    pub aborted: bool,
    /// Pieces queued for deletion on nodes.
    pub pieces_queued: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InlineSegmentRequest {
    pub stream_id: String,
    pub position: SegmentPosition,
    pub plain_size: u64,
    pub encrypted_key: Sealed,
    #[serde(with = "b64")]
    pub data: Vec<u8>,
}

/// A whole small object in one request: begin, its one inline segment, commit. Small
/// objects are many (messages, metadata files), and each round trip is most of their
/// cost. Answered with the committed object's info.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadInlineRequest {
    pub bucket: String,
    pub encrypted_key: String,
    pub expires_at: Option<i64>,
    pub encrypted_metadata: Option<Sealed>,
    /// The object's only segment (position 0:0); none for an empty object.
    pub segment: Option<InlineSegment>,
    /// As in [`CommitObjectRequest::if_absent`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub if_absent: bool,
}

/// An inline segment's content, as in [`InlineSegmentRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InlineSegment {
    pub plain_size: u64,
    pub encrypted_key: Sealed,
    #[serde(with = "b64")]
    pub data: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitObjectRequest {
    pub stream_id: String,
    /// Content type and user metadata, sealed by the uplink.
    pub encrypted_metadata: Option<Sealed>,
    /// A multipart completion: the parts that make the object, ascending. Segments of
    /// other parts are deleted. Absent: every part uploaded, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<u32>>,
    /// Commit only if no committed object holds the key (S3 `If-None-Match: *`);
    /// otherwise the upload stays pending and the call fails with `precondition_failed`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub if_absent: bool,
}

/// Asks again for the handle of a pending upload (a multipart upload lives longer than
/// one stream id): answered like `objects/begin`, with a fresh `stream_id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeUploadRequest {
    pub bucket: String,
    pub encrypted_key: String,
    /// The pending object's id (an S3 upload id).
    pub object_id: String,
    /// Drop what was uploaded of this part before (a part uploaded again replaces it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_part: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeUploadResponse {
    #[serde(flatten)]
    pub upload: BeginObjectResponse,
    /// What `objects/begin` was given.
    pub encrypted_metadata: Option<Sealed>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

/// The parts of a pending multipart upload, ascending, after `cursor`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPartsRequest {
    pub bucket: String,
    pub encrypted_key: String,
    pub object_id: String,
    /// List parts numbered above this one.
    #[serde(default)]
    pub cursor: u32,
    pub limit: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartInfo {
    pub part: u32,
    pub plain_size: u64,
    pub segment_count: u32,
    /// When its last segment was committed.
    pub last_modified: i64,
    pub encrypted_etag: Option<Sealed>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPartsResponse {
    pub parts: Vec<PartInfo>,
    pub more: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectStatus {
    Pending,
    Committed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    pub bucket: String,
    pub encrypted_key: String,
    /// Identifies this version of the object (changes when it is overwritten).
    pub object_id: String,
    pub status: ObjectStatus,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub plain_size: u64,
    pub segment_count: u32,
    pub encrypted_metadata: Option<Sealed>,
}

/// A segment's key, sealed for its path and position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentKeyInfo {
    pub position: SegmentPosition,
    pub encrypted_key: Sealed,
}

/// What a server-side copy needs of its source (`objects/copy-begin`, given an
/// [`ObjectRequest`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyBeginResponse {
    pub object: ObjectInfo,
    pub segment_keys: Vec<SegmentKeyInfo>,
}

/// A server-side copy (or, with `delete_source`, a move): the source's pieces under
/// the destination's name, with every segment key re-wrapped by the uplink.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyObjectRequest {
    pub bucket: String,
    pub encrypted_key: String,
    /// The source version the keys were taken from (`copy-begin`'s object id).
    pub object_id: String,
    pub new_bucket: String,
    pub new_encrypted_key: String,
    pub encrypted_metadata: Option<Sealed>,
    pub segment_keys: Vec<SegmentKeyInfo>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_source: bool,
    /// As in [`CommitObjectRequest::if_absent`], for the destination.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub if_absent: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRequest {
    pub bucket: String,
    pub encrypted_key: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadObjectRequest {
    pub bucket: String,
    pub encrypted_key: String,
    /// Return segments from this position on.
    #[serde(default)]
    pub segment_cursor: SegmentPosition,
    pub segment_limit: Option<u32>,
    /// Also return the download of the listed segment holding this plaintext offset
    /// (where the read starts), saving a round trip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_at: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentInfo {
    pub position: SegmentPosition,
    pub plain_offset: u64,
    pub plain_size: u64,
    pub inline: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadObjectResponse {
    pub object: ObjectInfo,
    /// Opaque, satellite-signed handle for `segments/download`.
    pub stream_id: String,
    pub segments: Vec<SegmentInfo>,
    /// More segments follow after the last one listed.
    pub more: bool,
    /// The download of the segment at the request's `first_at`, if asked and listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_segment: Option<DownloadSegmentResponse>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadSegmentRequest {
    pub stream_id: String,
    pub position: SegmentPosition,
    /// Pieces already tried and failed; the satellite returns limits for others.
    #[serde(default)]
    pub exclude: Vec<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadSegmentResponse {
    pub info: SegmentInfo,
    pub encrypted_key: Sealed,
    pub redundancy: RedundancyScheme,
    pub piece_size: u64,
    /// Set for inline segments; then there are no limits.
    #[serde(default, with = "b64_opt")]
    pub inline_data: Option<Vec<u8>>,
    /// GET limits for `k + extra` pieces, healthiest first.
    pub limits: Vec<AddressedOrderLimit>,
    /// The satellite's public key (it must hash to the satellite id in the access grant);
    /// used to verify the PUT limits that nodes present with each piece.
    pub satellite_public_key: PublicKey,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListObjectsRequest {
    pub bucket: String,
    /// Encrypted prefix: empty, or ending in `/`. In a bucket with names in clear, any
    /// string.
    #[serde(default)]
    pub prefix: String,
    /// Where a non-recursive listing collapses names: `/` unless given; another
    /// delimiter only in a bucket with names in clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// Continue after this encrypted key (exclusive).
    pub cursor: Option<String>,
    /// List every key under the prefix instead of collapsing at the next `/`.
    #[serde(default)]
    pub recursive: bool,
    pub limit: Option<u32>,
    #[serde(default)]
    pub include_metadata: bool,
    /// List pending (uncommitted) objects instead of committed ones.
    #[serde(default)]
    pub pending: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListItem {
    /// Full encrypted key, or for a prefix, the encrypted prefix ending in `/`.
    pub encrypted_key: String,
    /// The object's id (a pending object's is its upload id); none for a prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    pub is_prefix: bool,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub plain_size: u64,
    pub encrypted_metadata: Option<Sealed>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListObjectsResponse {
    pub items: Vec<ListItem>,
    pub more: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteObjectResponse {
    pub deleted: Option<ObjectInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}
