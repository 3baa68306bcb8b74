//! Copying and moving objects on the satellite: no data is downloaded or uploaded.
//!
//! Keys derive from paths, so a copy under another name needs every segment key opened
//! with the source path's key and sealed with the destination's, and the metadata
//! sealed anew; that happens here, and the satellite only swaps sealed blobs.

use std::collections::BTreeMap;

use super::Project;
use super::error::{Result, UplinkError};
use super::objects::ObjectEntry;
use super::upload::{ObjectMetadata, sealed_metadata};
use crate::crypto::content::{content_key, metadata_key, open, seal, segment_wrap_key};
use crate::protocol::metainfo::{CopyObjectRequest, ObjectRequest, SegmentKeyInfo};

/// What a copy changes besides the name.
#[derive(Clone, Debug, Default)]
pub struct CopyOptions {
    /// Replace the content type and user metadata (S3's `REPLACE` directive); none
    /// keeps the source's.
    pub replace_metadata: Option<(Option<String>, BTreeMap<String, String>)>,
    /// Fail with `precondition_failed` if the destination holds an object.
    pub if_absent: bool,
}

impl Project {
    /// Copies `bucket/key` to `new_bucket/new_key` on the satellite (the copy shares the
    /// source's pieces); returns the new object.
    pub async fn copy_object(
        &self,
        bucket: &str,
        key: &str,
        new_bucket: &str,
        new_key: &str,
        options: &CopyOptions,
    ) -> Result<ObjectEntry> {
        self.server_copy(bucket, key, new_bucket, new_key, options, false)
            .await
    }

    /// Moves `bucket/key` to `new_bucket/new_key` on the satellite.
    pub async fn move_object(
        &self,
        bucket: &str,
        key: &str,
        new_bucket: &str,
        new_key: &str,
        options: &CopyOptions,
    ) -> Result<ObjectEntry> {
        if bucket == new_bucket && key == new_key {
            return Err(UplinkError::InvalidArgument(
                "an object cannot be moved onto itself".into(),
            ));
        }
        self.server_copy(bucket, key, new_bucket, new_key, options, true)
            .await
    }

    async fn server_copy(
        &self,
        bucket: &str,
        key: &str,
        new_bucket: &str,
        new_key: &str,
        options: &CopyOptions,
        delete_source: bool,
    ) -> Result<ObjectEntry> {
        if new_key.is_empty() {
            return Err(UplinkError::InvalidArgument(
                "object key must not be empty".into(),
            ));
        }
        let store = &self.inner.access.encryption;
        let (encrypted_key, subject) = self.object_name(bucket, key).await?;
        let (new_encrypted_key, new_subject) = self.object_name(new_bucket, new_key).await?;
        if subject.names != new_subject.names {
            return Err(UplinkError::InvalidArgument(format!(
                "bucket {bucket:?} keeps its names {} and {new_bucket:?} {}: a server-side copy \
                 or move stays between buckets of one kind (download and upload instead)",
                subject.names.describe(),
                new_subject.names.describe()
            )));
        }
        let old_object_key = store.object_key(bucket, key)?;
        let new_object_key = store.object_key(new_bucket, new_key)?;
        let source = self
            .inner
            .metainfo
            .copy_begin(
                &ObjectRequest {
                    bucket: bucket.to_string(),
                    encrypted_key: encrypted_key.clone(),
                },
                &subject,
            )
            .await?;
        let (old_content, new_content) =
            (content_key(&old_object_key), content_key(&new_object_key));
        let mut segment_keys = Vec::with_capacity(source.segment_keys.len());
        for k in &source.segment_keys {
            let plain = open(
                &segment_wrap_key(&old_content, k.position),
                &k.encrypted_key,
            )?;
            segment_keys.push(SegmentKeyInfo {
                position: k.position,
                encrypted_key: seal(&segment_wrap_key(&new_content, k.position), &plain),
            });
        }
        let mut metadata: ObjectMetadata = source
            .object
            .encrypted_metadata
            .as_ref()
            .map(|s| open(&metadata_key(&old_object_key), s))
            .transpose()?
            .and_then(|plain| serde_json::from_slice(&plain).ok())
            .unwrap_or_default();
        if let Some((content_type, user)) = &options.replace_metadata {
            metadata.content_type = content_type.clone();
            metadata.user = user.clone();
        }
        let info = self
            .inner
            .metainfo
            .copy_object(
                &CopyObjectRequest {
                    bucket: bucket.to_string(),
                    encrypted_key,
                    object_id: source.object.object_id.clone(),
                    new_bucket: new_bucket.to_string(),
                    new_encrypted_key,
                    encrypted_metadata: sealed_metadata(&new_object_key, &metadata),
                    segment_keys,
                    delete_source,
                    if_absent: options.if_absent,
                },
                &new_subject,
            )
            .await?;
        Ok(ObjectEntry::committed(new_key, &info, metadata))
    }
}
