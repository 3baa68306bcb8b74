//! The satellite's metainfo API, as typed calls.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{Result, Subject, UplinkError};
use crate::protocol::ErrorBody;
use crate::protocol::metainfo::*;

#[derive(Clone)]
pub struct MetainfoClient {
    http: reqwest::Client,
    address: String,
    api_key: String,
}

impl std::fmt::Debug for MetainfoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetainfoClient")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl MetainfoClient {
    pub fn new(http: reqwest::Client, address: String, api_key: String) -> Self {
        Self {
            http,
            address,
            api_key,
        }
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    pub(crate) async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
        subject: &Subject,
    ) -> Result<Resp> {
        let unreachable = |reason: String| UplinkError::SatelliteUnreachable {
            address: self.address.clone(),
            reason,
        };
        let resp = self
            .http
            .post(format!("http://{}{path}", self.address))
            .bearer_auth(&self.api_key)
            .json(body)
            .send()
            .await
            .map_err(|e| unreachable(describe(&e)))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| unreachable(describe(&e)))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| UplinkError::Satellite {
                status: status.as_u16(),
                code: crate::protocol::ErrorCode::Internal,
                message: format!("unexpected response to {path}: {e}"),
            });
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(UplinkError::from_satellite(status.as_u16(), body, subject)),
            Err(_) => Err(UplinkError::Satellite {
                status: status.as_u16(),
                code: crate::protocol::ErrorCode::Unknown,
                message: String::from_utf8_lossy(&bytes).chars().take(300).collect(),
            }),
        }
    }

    pub async fn project_info(&self) -> Result<ProjectInfoResponse> {
        self.call(PROJECT_INFO_PATH, &Empty {}, &Subject::default())
            .await
    }

    pub async fn create_bucket(&self, name: &str) -> Result<BucketInfo> {
        let req = BucketRequest {
            name: name.to_string(),
        };
        self.call(BUCKET_CREATE_PATH, &req, &Subject::bucket(name))
            .await
    }

    pub async fn get_bucket(&self, name: &str) -> Result<BucketInfo> {
        let req = BucketRequest {
            name: name.to_string(),
        };
        self.call(BUCKET_GET_PATH, &req, &Subject::bucket(name))
            .await
    }

    pub async fn list_buckets(&self, req: &ListBucketsRequest) -> Result<ListBucketsResponse> {
        self.call(BUCKET_LIST_PATH, req, &Subject::default()).await
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

    pub async fn commit_object(
        &self,
        req: &CommitObjectRequest,
        subject: &Subject,
    ) -> Result<ObjectInfo> {
        self.call(OBJECT_COMMIT_PATH, req, subject).await
    }

    pub async fn get_object(&self, req: &ObjectRequest, subject: &Subject) -> Result<ObjectInfo> {
        self.call(OBJECT_GET_PATH, req, subject).await
    }

    pub async fn download_object(
        &self,
        req: &DownloadObjectRequest,
        subject: &Subject,
    ) -> Result<DownloadObjectResponse> {
        self.call(OBJECT_DOWNLOAD_PATH, req, subject).await
    }

    pub async fn download_segment(
        &self,
        req: &DownloadSegmentRequest,
        subject: &Subject,
    ) -> Result<DownloadSegmentResponse> {
        self.call(SEGMENT_DOWNLOAD_PATH, req, subject).await
    }

    pub async fn list_objects(
        &self,
        req: &ListObjectsRequest,
        subject: &Subject,
    ) -> Result<ListObjectsResponse> {
        self.call(OBJECT_LIST_PATH, req, subject).await
    }

    pub async fn delete_object(
        &self,
        req: &ObjectRequest,
        subject: &Subject,
    ) -> Result<DeleteObjectResponse> {
        self.call(OBJECT_DELETE_PATH, req, subject).await
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
/// people who only know the address. Pin the returned `id@address` where it matters.
pub async fn discover_satellite(
    http: &reqwest::Client,
    address: &str,
) -> Result<crate::protocol::NodeUrl> {
    let unreachable = |reason: String| UplinkError::SatelliteUnreachable {
        address: address.to_string(),
        reason,
    };
    let health: serde_json::Value = http
        .get(format!("http://{address}/health"))
        .send()
        .await
        .map_err(|e| unreachable(describe(&e)))?
        .json()
        .await
        .map_err(|e| unreachable(format!("its /health answer is not JSON: {e}")))?;
    let id = health["satellite_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| unreachable("its /health answer names no satellite id".into()))?;
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
