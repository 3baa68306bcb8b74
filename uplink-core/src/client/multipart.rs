//! Multipart uploads: an object written as numbered parts, in any order and in
//! parallel, then completed from the parts chosen, without copying any data.
//!
//! The upload id is the pending object's id. Each part asks the satellite for a fresh
//! stream id (an upload may live for days), uploads its segments at positions
//! (part, 0..), and seals its MD5 onto its last segment as the part's ETag. Completion
//! checks the ETags the caller names against those, orders the parts, and seals the
//! object's metadata with the `<md5 of md5s>-N` ETag.

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::io::AsyncRead;

use super::digest::multipart_etag;
use super::error::{Result, Subject, UplinkError};
use super::objects::ObjectEntry;
use super::upload::{AbortGuard, ObjectMetadata, Upload, UploadOptions, sealed_metadata};
use super::{Progress, Project};
use crate::crypto::Key;
use crate::crypto::content::{content_key, metadata_key, open};
use crate::protocol::metainfo::{
    AbortObjectRequest, BeginObjectRequest, CommitObjectRequest, ListObjectsRequest,
    ListPartsRequest, PartInfo, ResumeUploadRequest, ResumeUploadResponse,
};

/// Highest part number, as in S3.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// What an upload of one part stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadedPart {
    pub part: u32,
    pub size: u64,
    /// MD5 of the part's content, in hex.
    pub etag: String,
}

/// A part as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub part: u32,
    pub size: u64,
    pub last_modified: i64,
    /// None if it cannot be opened with this grant (or the part's upload did not finish).
    pub etag: Option<String>,
}

/// A pending multipart upload, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultipartUpload {
    pub key: String,
    pub upload_id: String,
    pub created_at: i64,
}

/// One page of pending uploads.
#[derive(Clone, Debug, Default)]
pub struct UploadPage {
    pub uploads: Vec<MultipartUpload>,
    /// Pass back as `cursor` for the next page.
    pub next_cursor: Option<String>,
}

/// A part a completion is to use, with the ETag the client was given for it (checked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletePart {
    pub part: u32,
    pub etag: Option<String>,
}

/// Why a completion was refused before anything changed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CompleteError {
    #[error("part {0} was not uploaded or its ETag does not match")]
    InvalidPart(u32),
    #[error("parts must be listed in ascending order without repeats")]
    InvalidPartOrder,
    #[error("part {part} is {size} bytes; every part but the last must be at least {min}")]
    PartTooSmall { part: u32, size: u64, min: u64 },
}

/// The ETag of a part, sealed or opened with the object's metadata key.
fn etag_key(object_key: &Key) -> Key {
    metadata_key(object_key)
}

impl Project {
    async fn multipart_target(&self, bucket: &str, key: &str) -> Result<(String, Key, Subject)> {
        if key.is_empty() {
            return Err(UplinkError::InvalidArgument(
                "object key must not be empty".into(),
            ));
        }
        let (encrypted_key, subject) = self.object_name(bucket, key).await?;
        let object_key = self.inner.access.encryption.object_key(bucket, key)?;
        Ok((encrypted_key, object_key, subject))
    }

    async fn resume(
        &self,
        bucket: &str,
        encrypted_key: &str,
        upload_id: &str,
        reset_part: Option<u32>,
        subject: &Subject,
    ) -> Result<ResumeUploadResponse> {
        self.inner
            .metainfo
            .resume_upload(
                &ResumeUploadRequest {
                    bucket: bucket.to_string(),
                    encrypted_key: encrypted_key.to_string(),
                    object_id: upload_id.to_string(),
                    reset_part,
                },
                subject,
            )
            .await
    }

    /// Starts a multipart upload of `bucket/key`; returns its upload id. The content
    /// type and user metadata of `options` are kept for the completed object.
    pub async fn begin_multipart(
        &self,
        bucket: &str,
        key: &str,
        options: &UploadOptions,
    ) -> Result<String> {
        let (encrypted_key, object_key, subject) = self.multipart_target(bucket, key).await?;
        let metadata = ObjectMetadata {
            content_type: options.content_type.clone(),
            user: options.metadata.clone(),
            ..Default::default()
        };
        let begun = self
            .inner
            .metainfo
            .begin_object(
                &BeginObjectRequest {
                    bucket: bucket.to_string(),
                    encrypted_key,
                    expires_at: options.expires_at,
                    encrypted_metadata: sealed_metadata(&object_key, &metadata),
                },
                &subject,
            )
            .await?;
        Ok(begun.object_id)
    }

    /// Uploads part `part` (1 to 10 000) of an upload from `reader`, replacing whatever
    /// was uploaded as that part before. A part that fails leaves the upload pending.
    pub async fn upload_part<R: AsyncRead + Unpin + Send>(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part: u32,
        reader: R,
        progress: Option<Progress>,
    ) -> Result<UploadedPart> {
        if part == 0 || part > MAX_PART_NUMBER {
            return Err(UplinkError::InvalidArgument(format!(
                "part numbers are 1 to {MAX_PART_NUMBER}, not {part}"
            )));
        }
        let (encrypted_key, object_key, subject) = self.multipart_target(bucket, key).await?;
        let resumed = self
            .resume(bucket, &encrypted_key, upload_id, Some(part), &subject)
            .await?;
        let begun = Arc::new(Mutex::new(None));
        let guard = AbortGuard {
            project: self.clone(),
            stream_id: resumed.upload.stream_id.clone(),
            subject: subject.clone(),
            begun: begun.clone(),
            armed: true,
            segments_only: true,
        };
        let mut upload = Upload::new(
            self,
            subject,
            resumed.upload.stream_id.clone(),
            content_key(&object_key),
            progress,
            begun,
        )
        .for_part(part, etag_key(&object_key));
        match upload.segments(reader, &resumed.upload).await {
            Ok(0) => {
                guard.abort().await;
                Err(UplinkError::InvalidArgument(format!(
                    "part {part} is empty; a part must hold at least one byte"
                )))
            }
            Ok(size) => {
                let mut guard = guard;
                guard.armed = false;
                Ok(UploadedPart {
                    part,
                    size,
                    etag: upload.md5_hex(),
                })
            }
            Err(e) => {
                guard.abort().await;
                Err(e)
            }
        }
    }

    /// The parts of an upload numbered above `cursor`, ascending; and whether more follow.
    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        cursor: u32,
        limit: Option<u32>,
    ) -> Result<(Vec<Part>, bool)> {
        let (encrypted_key, object_key, subject) = self.multipart_target(bucket, key).await?;
        let resp = self
            .inner
            .metainfo
            .list_parts(
                &ListPartsRequest {
                    bucket: bucket.to_string(),
                    encrypted_key,
                    object_id: upload_id.to_string(),
                    cursor,
                    limit,
                },
                &subject,
            )
            .await?;
        let key = etag_key(&object_key);
        let parts = resp.parts.iter().map(|p| open_part(&key, p)).collect();
        Ok((parts, resp.more))
    }

    /// Every part of an upload.
    async fn all_parts(&self, bucket: &str, key: &str, upload_id: &str) -> Result<Vec<Part>> {
        let mut all: Vec<Part> = Vec::new();
        loop {
            let cursor = all.last().map_or(0, |p| p.part);
            let (parts, more) = self
                .list_parts(bucket, key, upload_id, cursor, None)
                .await?;
            all.extend(parts);
            if !more {
                return Ok(all);
            }
        }
    }

    /// Completes an upload from `parts` (ascending). Each named ETag must match the
    /// part's; every part but the last must be at least `min_part_size` bytes. Parts
    /// not named are deleted. With `options.if_absent`, fails if the key holds an object.
    pub async fn complete_multipart(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletePart],
        min_part_size: u64,
        options: &UploadOptions,
    ) -> Result<std::result::Result<ObjectEntry, CompleteError>> {
        let (encrypted_key, object_key, subject) = self.multipart_target(bucket, key).await?;
        if parts.is_empty() || parts.windows(2).any(|w| w[0].part >= w[1].part) {
            return Ok(Err(CompleteError::InvalidPartOrder));
        }
        let resumed = self
            .resume(bucket, &encrypted_key, upload_id, None, &subject)
            .await?;
        let uploaded = self.all_parts(bucket, key, upload_id).await?;
        let mut etags = Vec::with_capacity(parts.len());
        for (i, wanted) in parts.iter().enumerate() {
            let Some(found) = uploaded.iter().find(|p| p.part == wanted.part) else {
                return Ok(Err(CompleteError::InvalidPart(wanted.part)));
            };
            let Some(etag) = &found.etag else {
                return Ok(Err(CompleteError::InvalidPart(wanted.part)));
            };
            if let Some(given) = &wanted.etag
                && given.trim_matches('"') != etag
            {
                return Ok(Err(CompleteError::InvalidPart(wanted.part)));
            }
            if i + 1 < parts.len() && found.size < min_part_size {
                return Ok(Err(CompleteError::PartTooSmall {
                    part: found.part,
                    size: found.size,
                    min: min_part_size,
                }));
            }
            etags.push(etag.clone());
        }
        let mut metadata: ObjectMetadata = resumed
            .encrypted_metadata
            .as_ref()
            .and_then(|s| open(&metadata_key(&object_key), s).ok())
            .and_then(|plain| serde_json::from_slice(&plain).ok())
            .unwrap_or_default();
        metadata.etag = multipart_etag(etags.iter().map(String::as_str));
        metadata.sha256 = None;
        let info = self
            .inner
            .metainfo
            .commit_object(
                &CommitObjectRequest {
                    stream_id: resumed.upload.stream_id,
                    encrypted_metadata: sealed_metadata(&object_key, &metadata),
                    parts: Some(parts.iter().map(|p| p.part).collect()),
                    if_absent: options.if_absent,
                },
                &subject,
            )
            .await?;
        Ok(Ok(ObjectEntry::committed(key, &info, metadata)))
    }

    /// Gives up an upload: its parts are deleted.
    pub async fn abort_multipart(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()> {
        let (encrypted_key, _, subject) = self.multipart_target(bucket, key).await?;
        let resumed = self
            .resume(bucket, &encrypted_key, upload_id, None, &subject)
            .await?;
        self.inner
            .metainfo
            .abort_object(
                &AbortObjectRequest {
                    stream_id: resumed.upload.stream_id,
                    segment_ids: Vec::new(),
                    segments_only: false,
                },
                &subject,
            )
            .await?;
        Ok(())
    }

    /// Pending uploads under `prefix` (empty or ending in `/`), a page at a time.
    pub async fn list_multipart_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<UploadPage> {
        let mode = self.bucket_names(bucket).await?;
        let names = self.inner.access.encryption.names(bucket, mode);
        let resp = self
            .inner
            .metainfo
            .list_objects(
                &ListObjectsRequest {
                    bucket: bucket.to_string(),
                    prefix: names.encrypt_prefix(prefix)?,
                    delimiter: None,
                    cursor,
                    recursive: true,
                    limit,
                    include_metadata: false,
                    pending: true,
                },
                &Subject::bucket(bucket).with_names(mode),
            )
            .await?;
        let mut page = UploadPage {
            next_cursor: if resp.more {
                resp.items.last().map(|i| i.encrypted_key.clone())
            } else {
                None
            },
            ..Default::default()
        };
        for item in resp.items {
            let (Ok(key), Some(upload_id)) =
                (names.decrypt_key(&item.encrypted_key), item.object_id)
            else {
                continue;
            };
            page.uploads.push(MultipartUpload {
                key,
                upload_id,
                created_at: item.created_at,
            });
        }
        Ok(page)
    }
}

fn open_part(key: &Key, p: &PartInfo) -> Part {
    Part {
        part: p.part,
        size: p.plain_size,
        last_modified: p.last_modified,
        etag: p
            .encrypted_etag
            .as_ref()
            .and_then(|s| open(key, s).ok())
            .and_then(|b| String::from_utf8(b).ok()),
    }
}
