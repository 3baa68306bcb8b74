//! The satellite's metainfo API, as typed calls.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{Result, Subject, UplinkError};
use crate::protocol::metainfo::*;
use crate::protocol::{ErrorBody, ErrorCode, NodeUrl};
use crate::transport::{Expected, Mode, Transport};

/// How metainfo calls are retried when the satellite is briefly unavailable.
///
/// A 503 with the `Unavailable` code means the satellite did nothing (its write was
/// rolled back), so every call may be repeated; so may any call whose connection could
/// not even be opened. Other transport failures (a reset or timeout after the request
/// was sent) are retried only for idempotent calls: reads, listings, download limits,
/// deletes and aborts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included (1 disables retries).
    pub attempts: u32,
    /// Ceiling of the first pause; it doubles per attempt, with full jitter.
    pub base_delay: Duration,
    /// Ceiling of any one pause, a `Retry-After` included.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Six attempts within about ten seconds at most.
    fn default() -> Self {
        Self {
            attempts: 6,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The pause before attempt `attempt + 1`: exponential with full jitter, at least
    /// what the satellite asked for in `Retry-After`, at most `max_delay`.
    fn pause(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        let jitter = ceiling.mul_f64(rand::random::<f64>());
        jitter
            .max(retry_after.unwrap_or_default())
            .min(self.max_delay)
    }
}

/// Whether a call may be repeated after a failure that left its fate unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Idempotent {
    Yes,
    No,
}

#[derive(Clone)]
pub struct MetainfoClient {
    transport: Transport,
    satellite: NodeUrl,
    api_key: String,
    retry: RetryPolicy,
    /// How each bucket used so far writes its names (checked once, see
    /// `Project::bucket_names`); an entry is forgotten when the satellite says the
    /// bucket keeps them the other way.
    names: Arc<parking_lot::Mutex<HashMap<String, NameMode>>>,
}

impl std::fmt::Debug for MetainfoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetainfoClient")
            .field("satellite", &self.satellite.to_string())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// One failed attempt, and whether another may follow.
struct Failure {
    error: UplinkError,
    retry: Retry,
}

enum Retry {
    Never,
    /// Nothing reached the satellite or it did nothing: always safe.
    Always(Option<Duration>),
    /// The request may have been processed: only for idempotent calls.
    IfIdempotent,
}

impl MetainfoClient {
    /// A client of the satellite `satellite` (`id@host:port`; over TLS it must prove
    /// that id), authenticating with `api_key`.
    pub fn new(transport: Transport, satellite: NodeUrl, api_key: String) -> Self {
        Self {
            transport,
            satellite,
            api_key,
            retry: RetryPolicy::default(),
            names: Arc::default(),
        }
    }

    /// What is known of how `bucket` writes its names.
    pub(crate) fn known_names(&self, bucket: &str) -> Option<NameMode> {
        self.names.lock().get(bucket).copied()
    }

    pub(crate) fn remember_names(&self, bucket: &str, mode: NameMode) {
        let mut names = self.names.lock();
        // Bounded: a gateway serving many buckets forgets them all now and then.
        if names.len() >= 10_000 {
            names.clear();
        }
        names.insert(bucket.to_string(), mode);
    }

    /// The same client with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn address(&self) -> &str {
        &self.satellite.address
    }

    pub(crate) async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
        subject: &Subject,
    ) -> Result<Resp> {
        self.call_with(path, body, subject, Idempotent::No).await
    }

    async fn idempotent<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
        subject: &Subject,
    ) -> Result<Resp> {
        self.call_with(path, body, subject, Idempotent::Yes).await
    }

    async fn call_with<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
        subject: &Subject,
        idempotent: Idempotent,
    ) -> Result<Resp> {
        let body = serde_json::to_vec(body).map_err(|e| {
            UplinkError::InvalidArgument(format!("cannot encode the request to {path}: {e}"))
        })?;
        let attempts = self.retry.attempts.max(1);
        let mut attempt = 1;
        loop {
            let failure = match self.attempt(path, &body, subject).await {
                Ok(resp) => return Ok(resp),
                Err(f) => f,
            };
            let retry_after = match failure.retry {
                Retry::Always(after) => Some(after),
                Retry::IfIdempotent if idempotent == Idempotent::Yes => Some(None),
                _ => None,
            };
            match retry_after {
                Some(after) if attempt < attempts => {
                    let pause = self.retry.pause(attempt, after);
                    tracing::debug!(path, attempt, ?pause, error = %failure.error, "retrying");
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                Some(_) => return Err(failure.error.after_attempts(attempt)),
                None => return Err(failure.error),
            }
        }
    }

    async fn attempt<Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &[u8],
        subject: &Subject,
    ) -> std::result::Result<Resp, Failure> {
        let unreachable = |e: &reqwest::Error| Failure {
            error: UplinkError::SatelliteUnreachable {
                address: self.satellite.address.clone(),
                reason: describe(e),
            },
            retry: if e.is_connect() {
                Retry::Always(None)
            } else {
                Retry::IfIdempotent
            },
        };
        let url = self
            .transport
            .node_url(&self.satellite, path)
            .map_err(|e| Failure {
                error: UplinkError::InvalidArgument(e.to_string()),
                retry: Retry::Never,
            })?;
        let resp = self
            .transport
            .http()
            .post(url)
            .bearer_auth(&self.api_key)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        let resp = if subject.names.is_plain() {
            resp.header(NAMES_HEADER, NAMES_PLAIN)
        } else {
            resp
        };
        let resp = resp
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = resp.bytes().await.map_err(|e| unreachable(&e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| Failure {
                error: UplinkError::Satellite {
                    status: status.as_u16(),
                    code: ErrorCode::Internal,
                    message: format!("unexpected response to {path}: {e}"),
                },
                retry: Retry::Never,
            });
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => {
                let retry = if body.error.code == ErrorCode::Unavailable {
                    Retry::Always(retry_after)
                } else {
                    Retry::Never
                };
                if body.error.code == ErrorCode::NameModeMismatch
                    && let Some(bucket) = &subject.bucket
                {
                    self.names.lock().remove(bucket);
                }
                Err(Failure {
                    error: UplinkError::from_satellite(status.as_u16(), body, subject),
                    retry,
                })
            }
            Err(_) => {
                let message: String = String::from_utf8_lossy(&bytes).chars().take(300).collect();
                // A 503 that is not the satellite's own answer (a proxy in between, say)
                // is as transient as the satellite's.
                if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
                    return Err(Failure {
                        error: UplinkError::Unavailable {
                            message: format!("HTTP 503 {}", message.trim()),
                            attempts: 1,
                        },
                        retry: Retry::Always(retry_after),
                    });
                }
                Err(Failure {
                    error: UplinkError::Satellite {
                        status: status.as_u16(),
                        code: ErrorCode::Unknown,
                        message,
                    },
                    retry: Retry::Never,
                })
            }
        }
    }

    pub async fn project_info(&self) -> Result<ProjectInfoResponse> {
        self.idempotent(PROJECT_INFO_PATH, &Empty {}, &Subject::default())
            .await
    }

    pub async fn create_bucket(&self, name: &str) -> Result<BucketInfo> {
        self.create_bucket_with(name, None).await
    }

    /// Creates a bucket; with `plain_names_tag` (hex), one that keeps names in clear.
    pub async fn create_bucket_with(
        &self,
        name: &str,
        plain_names_tag: Option<String>,
    ) -> Result<BucketInfo> {
        let req = BucketRequest {
            name: name.to_string(),
            plain_names_tag,
        };
        self.call(BUCKET_CREATE_PATH, &req, &Subject::bucket(name))
            .await
    }

    pub async fn get_bucket(&self, name: &str) -> Result<BucketInfo> {
        let req = BucketRequest {
            name: name.to_string(),
            plain_names_tag: None,
        };
        self.idempotent(BUCKET_GET_PATH, &req, &Subject::bucket(name))
            .await
    }

    pub async fn bucket_cors(&self, name: &str) -> Result<BucketCors> {
        let req = BucketRequest {
            name: name.to_string(),
            plain_names_tag: None,
        };
        self.idempotent(BUCKET_CORS_GET_PATH, &req, &Subject::bucket(name))
            .await
    }

    /// Setting the same rules twice leaves the same state, so a retry is safe.
    pub async fn set_bucket_cors(&self, req: &SetBucketCorsRequest) -> Result<BucketCors> {
        self.idempotent(BUCKET_CORS_SET_PATH, req, &Subject::bucket(&req.name))
            .await
    }

    pub async fn list_buckets(&self, req: &ListBucketsRequest) -> Result<ListBucketsResponse> {
        self.idempotent(BUCKET_LIST_PATH, req, &Subject::default())
            .await
    }

    pub async fn delete_bucket(&self, name: &str, force: bool) -> Result<DeleteBucketResponse> {
        let req = DeleteBucketRequest {
            name: name.to_string(),
            force,
        };
        self.call(BUCKET_DELETE_PATH, &req, &Subject::bucket(name))
            .await
    }

    pub async fn begin_object(
        &self,
        req: &BeginObjectRequest,
        subject: &Subject,
    ) -> Result<BeginObjectResponse> {
        self.call(OBJECT_BEGIN_PATH, req, subject).await
    }

    pub async fn begin_segment(
        &self,
        req: &BeginSegmentRequest,
        subject: &Subject,
    ) -> Result<BeginSegmentResponse> {
        self.call(SEGMENT_BEGIN_PATH, req, subject).await
    }

    pub async fn commit_segment(
        &self,
        req: &CommitSegmentRequest,
        subject: &Subject,
    ) -> Result<()> {
        let _: Empty = self.call(SEGMENT_COMMIT_PATH, req, subject).await?;
        Ok(())
    }

    pub async fn inline_segment(
        &self,
        req: &InlineSegmentRequest,
        subject: &Subject,
    ) -> Result<()> {
        let _: Empty = self.call(SEGMENT_INLINE_PATH, req, subject).await?;
        Ok(())
    }

    /// A whole small object in one request; like a commit, not idempotent.
    pub async fn upload_inline(
        &self,
        req: &UploadInlineRequest,
        subject: &Subject,
    ) -> Result<ObjectInfo> {
        self.call(OBJECT_UPLOAD_INLINE_PATH, req, subject).await
    }

    pub async fn commit_object(
        &self,
        req: &CommitObjectRequest,
        subject: &Subject,
    ) -> Result<ObjectInfo> {
        self.call(OBJECT_COMMIT_PATH, req, subject).await
    }

    pub async fn get_object(&self, req: &ObjectRequest, subject: &Subject) -> Result<ObjectInfo> {
        self.idempotent(OBJECT_GET_PATH, req, subject).await
    }

    pub async fn download_object(
        &self,
        req: &DownloadObjectRequest,
        subject: &Subject,
    ) -> Result<DownloadObjectResponse> {
        self.idempotent(OBJECT_DOWNLOAD_PATH, req, subject).await
    }

    pub async fn download_segment(
        &self,
        req: &DownloadSegmentRequest,
        subject: &Subject,
    ) -> Result<DownloadSegmentResponse> {
        self.idempotent(SEGMENT_DOWNLOAD_PATH, req, subject).await
    }

    pub async fn list_objects(
        &self,
        req: &ListObjectsRequest,
        subject: &Subject,
    ) -> Result<ListObjectsResponse> {
        self.idempotent(OBJECT_LIST_PATH, req, subject).await
    }

    pub async fn delete_object(
        &self,
        req: &ObjectRequest,
        subject: &Subject,
    ) -> Result<DeleteObjectResponse> {
        self.idempotent(OBJECT_DELETE_PATH, req, subject).await
    }

    /// A fresh stream id for a pending upload (each part of a multipart upload).
    pub async fn resume_upload(
        &self,
        req: &ResumeUploadRequest,
        subject: &Subject,
    ) -> Result<ResumeUploadResponse> {
        self.idempotent(OBJECT_RESUME_PATH, req, subject).await
    }

    /// Registers this client's grant with the satellite's edge services (the grant is
    /// sent, so the satellite can read what it can); returns S3 credentials.
    pub async fn register_edge(
        &self,
        req: &crate::protocol::edge::RegisterRequest,
    ) -> Result<crate::protocol::edge::RegisterResponse> {
        self.call(
            crate::protocol::edge::EDGE_REGISTER_PATH,
            req,
            &Subject::default(),
        )
        .await
    }

    /// What a server-side copy needs of its source.
    pub async fn copy_begin(
        &self,
        req: &ObjectRequest,
        subject: &Subject,
    ) -> Result<CopyBeginResponse> {
        self.idempotent(OBJECT_COPY_BEGIN_PATH, req, subject).await
    }

    /// A server-side copy or move; like a commit, not idempotent.
    pub async fn copy_object(
        &self,
        req: &CopyObjectRequest,
        subject: &Subject,
    ) -> Result<ObjectInfo> {
        self.call(OBJECT_COPY_PATH, req, subject).await
    }

    pub async fn list_parts(
        &self,
        req: &ListPartsRequest,
        subject: &Subject,
    ) -> Result<ListPartsResponse> {
        self.idempotent(OBJECT_LIST_PARTS_PATH, req, subject).await
    }

    /// New nodes for pieces of a begun segment whose uploads failed.
    pub async fn retry_pieces(
        &self,
        req: &RetryPiecesRequest,
        subject: &Subject,
    ) -> Result<RetryPiecesResponse> {
        self.call(SEGMENT_RETRY_PIECES_PATH, req, subject).await
    }

    /// Gives up an upload (idempotent: a second abort finds nothing to do).
    pub async fn abort_object(
        &self,
        req: &AbortObjectRequest,
        subject: &Subject,
    ) -> Result<AbortObjectResponse> {
        self.idempotent(OBJECT_ABORT_PATH, req, subject).await
    }

    /// Revokes `api_key` and every key derived from it. This client's own key is the
    /// revoker: the satellite accepts it only if it is `api_key` itself or an ancestor
    /// of it, so a grant can take back what was shared from it but never a sibling's
    /// or a parent's key.
    pub async fn revoke_api_key(&self, api_key: &crate::access::ApiKey) -> Result<()> {
        let req = RevokeRequest {
            api_key: api_key.serialize(),
        };
        let _: Empty = self
            .call(ACCESS_REVOKE_PATH, &req, &Subject::default())
            .await?;
        Ok(())
    }
}

/// Asks the satellite at `address` (`host:port`) for its id: trust on first use, for
/// people who only know the address. Over TLS the id is the one the satellite proved in
/// the handshake (and must match what it says). Pin the returned `id@address` where it
/// matters.
pub async fn discover_satellite(
    transport: &Transport,
    address: &str,
) -> Result<crate::protocol::NodeUrl> {
    let unreachable = |reason: String| UplinkError::SatelliteUnreachable {
        address: address.to_string(),
        reason,
    };
    let url = transport
        .url_expecting(Expected::AnyIdentity, address, "/health")
        .map_err(|e| UplinkError::InvalidArgument(e.to_string()))?;
    let resp = transport
        .http()
        .get(url)
        .send()
        .await
        .map_err(|e| unreachable(describe(&e)))?;
    let proven = crate::transport::peer_identity(&resp);
    let health: serde_json::Value = resp
        .json()
        .await
        .map_err(|e| unreachable(format!("its /health answer is not JSON: {e}")))?;
    let id: crate::protocol::NodeId = health["satellite_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| unreachable("its /health answer names no satellite id".into()))?;
    match (transport.mode(), proven) {
        (Mode::PlainHttp, _) => {}
        (Mode::Tls, Some(proven)) if proven == id => {}
        (Mode::Tls, _) => {
            return Err(unreachable(format!(
                "it says it is {id} but did not prove that identity"
            )));
        }
    }
    Ok(crate::protocol::NodeUrl {
        id,
        address: address.to_string(),
    })
}

/// A short, human description of a transport error (reqwest's own Display omits the
/// underlying cause).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_honour_retry_after_and_stay_bounded() {
        let policy = RetryPolicy::default();
        for attempt in 1..20 {
            let ceiling = (policy.base_delay * (1 << (attempt - 1).min(16))).min(policy.max_delay);
            for _ in 0..50 {
                assert!(policy.pause(attempt, None) <= ceiling);
            }
            // A Retry-After is waited for at least, within the bound.
            let after = policy.pause(attempt, Some(Duration::from_secs(1)));
            assert!(after >= Duration::from_secs(1) && after <= policy.max_delay);
            let capped = policy.pause(attempt, Some(Duration::from_secs(3600)));
            assert_eq!(capped, policy.max_delay);
        }
        // The whole default schedule of pauses stays within about ten seconds.
        let worst: Duration = (1..policy.attempts)
            .map(|a| policy.pause(a, Some(policy.max_delay)))
            .sum();
        assert!(worst <= Duration::from_secs(10), "{worst:?}");
    }
}
