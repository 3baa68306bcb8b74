//! Buckets and object metadata: create, list, stat and delete, decrypting names and
//! metadata on the way back.

use std::collections::BTreeMap;

use super::Project;
use super::error::{Result, Subject, UplinkError};
use super::upload::ObjectMetadata;
use crate::crypto::content::{metadata_key, open};
use crate::protocol::cors::CorsRule;
use crate::protocol::metainfo::{
    BucketInfo, ListBucketsRequest, ListObjectsRequest, ObjectInfo, ObjectRequest, Sealed,
    SetBucketCorsRequest,
};

/// An object (or, in a non-recursive listing, a common prefix) with its name decrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectEntry {
    pub key: String,
    pub is_prefix: bool,
    pub size: u64,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub content_type: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// The S3 ETag (MD5 of the content, or `<md5 of part md5s>-N`), if recorded.
    pub etag: Option<String>,
    /// The content's SHA-256 in hex, if recorded (not for objects made of parts).
    pub sha256: Option<String>,
}

impl ObjectEntry {
    /// The entry of a committed object with its opened metadata.
    pub(crate) fn committed(key: &str, info: &ObjectInfo, metadata: ObjectMetadata) -> Self {
        Self {
            key: key.to_string(),
            is_prefix: false,
            size: info.plain_size,
            created_at: info.created_at,
            expires_at: info.expires_at,
            content_type: metadata.content_type,
            metadata: metadata.user,
            etag: metadata.etag,
            sha256: metadata.sha256,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// Plaintext prefix: empty, or ending in `/` (any string in a bucket with names in
    /// clear).
    pub prefix: String,
    /// Where a non-recursive listing collapses names (`/` unless given; another only in
    /// a bucket with names in clear).
    pub delimiter: Option<String>,
    pub recursive: bool,
    /// Opaque cursor from a previous page.
    pub cursor: Option<String>,
    pub limit: Option<u32>,
    /// Decrypt content type and user metadata too.
    pub include_metadata: bool,
}

#[derive(Clone, Debug, Default)]
pub struct ObjectPage {
    pub items: Vec<ObjectEntry>,
    /// Pass as `cursor` to get the next page.
    pub next_cursor: Option<String>,
    /// Entries skipped because this grant cannot decrypt their names.
    pub undecryptable: usize,
}

impl Project {
    pub async fn create_bucket(&self, name: &str) -> Result<BucketInfo> {
        self.inner.metainfo.create_bucket(name).await
    }

    pub async fn bucket(&self, name: &str) -> Result<BucketInfo> {
        self.inner.metainfo.get_bucket(name).await
    }

    /// The bucket's cross-origin rules, `None` if it has none.
    pub async fn bucket_cors(&self, name: &str) -> Result<Option<Vec<CorsRule>>> {
        Ok(self.inner.metainfo.bucket_cors(name).await?.rules)
    }

    /// Replaces the bucket's cross-origin rules; `None` removes them.
    pub async fn set_bucket_cors(&self, name: &str, rules: Option<Vec<CorsRule>>) -> Result<()> {
        let req = SetBucketCorsRequest {
            name: name.to_string(),
            rules,
        };
        self.inner.metainfo.set_bucket_cors(&req).await.map(|_| ())
    }

    /// Deletes a bucket; with `force`, its objects too. Returns the objects deleted.
    pub async fn delete_bucket(&self, name: &str, force: bool) -> Result<u64> {
        Ok(self
            .inner
            .metainfo
            .delete_bucket(name, force)
            .await?
            .deleted_objects)
    }

    pub async fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        let mut all = Vec::new();
        let mut req = ListBucketsRequest::default();
        loop {
            let page = self.inner.metainfo.list_buckets(&req).await?;
            req.cursor = page.items.last().map(|b| b.name.clone());
            all.extend(page.items);
            if !page.more {
                return Ok(all);
            }
        }
    }

    /// One page of a listing.
    pub async fn list_objects_page(
        &self,
        bucket: &str,
        options: &ListOptions,
    ) -> Result<ObjectPage> {
        let mode = self.bucket_names(bucket).await?;
        let names = self.inner.access.encryption.names(bucket, mode);
        if options.delimiter.as_deref().is_some_and(|d| d != "/") && !mode.is_plain() {
            return Err(UplinkError::InvalidArgument(format!(
                "bucket {bucket:?} keeps its names encrypted: listings collapse only at '/'"
            )));
        }
        let prefix = names.encrypt_prefix(&options.prefix)?;
        let resp = self
            .inner
            .metainfo
            .list_objects(
                &ListObjectsRequest {
                    bucket: bucket.to_string(),
                    prefix,
                    delimiter: options.delimiter.clone(),
                    cursor: options.cursor.clone(),
                    recursive: options.recursive,
                    limit: options.limit,
                    include_metadata: options.include_metadata,
                    pending: false,
                },
                &Subject::bucket(bucket).with_names(mode),
            )
            .await?;
        let mut page = ObjectPage {
            next_cursor: if resp.more {
                resp.items.last().map(|i| i.encrypted_key.clone())
            } else {
                None
            },
            ..Default::default()
        };
        for item in resp.items {
            let key = if item.is_prefix {
                names.decrypt_prefix(&item.encrypted_key)
            } else {
                names.decrypt_key(&item.encrypted_key)
            };
            let Ok(key) = key else {
                page.undecryptable += 1;
                continue;
            };
            let meta = match (&item.encrypted_metadata, item.is_prefix) {
                (Some(sealed), false) => self.open_metadata(bucket, &key, sealed),
                _ => ObjectMetadata::default(),
            };
            page.items.push(ObjectEntry {
                key,
                is_prefix: item.is_prefix,
                size: item.plain_size,
                created_at: item.created_at,
                expires_at: item.expires_at,
                content_type: meta.content_type,
                metadata: meta.user,
                etag: meta.etag,
                sha256: meta.sha256,
            });
        }
        Ok(page)
    }

    /// Every entry under `prefix` (all pages).
    pub async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        recursive: bool,
    ) -> Result<Vec<ObjectEntry>> {
        let mut options = ListOptions {
            prefix: prefix.to_string(),
            recursive,
            ..Default::default()
        };
        let mut all = Vec::new();
        loop {
            let page = self.list_objects_page(bucket, &options).await?;
            all.extend(page.items);
            match page.next_cursor {
                Some(c) => options.cursor = Some(c),
                None => return Ok(all),
            }
        }
    }

    pub async fn stat_object(&self, bucket: &str, key: &str) -> Result<ObjectEntry> {
        let (encrypted_key, subject) = self.object_name(bucket, key).await?;
        let info = self
            .inner
            .metainfo
            .get_object(
                &ObjectRequest {
                    bucket: bucket.to_string(),
                    encrypted_key,
                },
                &subject,
            )
            .await?;
        Ok(self.object_entry(bucket, key, &info))
    }

    /// Deletes an object; returns what was deleted, or `None` if there was nothing.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectEntry>> {
        let (encrypted_key, subject) = self.object_name(bucket, key).await?;
        let resp = self
            .inner
            .metainfo
            .delete_object(
                &ObjectRequest {
                    bucket: bucket.to_string(),
                    encrypted_key,
                },
                &subject,
            )
            .await?;
        Ok(resp
            .deleted
            .map(|info| self.object_entry(bucket, key, &info)))
    }

    pub(crate) fn object_entry(&self, bucket: &str, key: &str, info: &ObjectInfo) -> ObjectEntry {
        let meta = info
            .encrypted_metadata
            .as_ref()
            .map(|s| self.open_metadata(bucket, key, s))
            .unwrap_or_default();
        ObjectEntry::committed(key, info, meta)
    }

    pub(crate) fn open_metadata(&self, bucket: &str, key: &str, sealed: &Sealed) -> ObjectMetadata {
        let store = &self.inner.access.encryption;
        store
            .object_key(bucket, key)
            .ok()
            .and_then(|k| open(&metadata_key(&k), sealed).ok())
            .and_then(|plain| serde_json::from_slice(&plain).ok())
            .unwrap_or_default()
    }
}
