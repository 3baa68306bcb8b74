//! Which way a bucket writes its object names, found out once per bucket and client.
//!
//! A grant's own entries say it for the buckets they cover (whoever shared them
//! checked). A grant with the root key asks the satellite, and believes "in clear"
//! only from a tag made with the bucket's key; otherwise names stay encrypted. Every
//! request then says which way its names are written, and the satellite refuses a
//! mismatch (a bucket deleted and made again the other way), so a stale answer here
//! never stores a name the wrong way.

use super::Project;
use super::error::{Result, Subject, UplinkError};
use crate::crypto::names::{NameMode, plain_names_tag, verify_plain_names_tag};
use crate::protocol::metainfo::BucketInfo;

impl Project {
    /// How `bucket` writes its object names.
    pub async fn bucket_names(&self, bucket: &str) -> Result<NameMode> {
        let store = &self.inner.access.encryption;
        if let Some(mode) = store.entry_mode(bucket) {
            return Ok(mode);
        }
        // Without the root key this grant cannot name anything there anyway.
        if store.default_key.is_none() {
            return Ok(NameMode::Encrypted);
        }
        let metainfo = &self.inner.metainfo;
        if let Some(mode) = metainfo.known_names(bucket) {
            return Ok(mode);
        }
        let info = metainfo.get_bucket(bucket).await?;
        let mode = match &info.plain_names_tag {
            None => NameMode::Encrypted,
            Some(tag) => {
                let proven = store.bucket_key(bucket).is_some_and(|key| {
                    hex::decode(tag).is_ok_and(|tag| verify_plain_names_tag(&key, bucket, &tag))
                });
                if !proven {
                    return Err(UplinkError::UnprovenPlainNames(bucket.to_string()));
                }
                NameMode::Plain
            }
        };
        metainfo.remember_names(bucket, mode);
        Ok(mode)
    }

    /// `key` in `bucket` as the satellite stores it, and the subject of requests about
    /// it (which tells the satellite how the name is written).
    pub(crate) async fn object_name(&self, bucket: &str, key: &str) -> Result<(String, Subject)> {
        let mode = self.bucket_names(bucket).await?;
        let stored = self
            .inner
            .access
            .encryption
            .names(bucket, mode)
            .encrypt_key(key)?;
        Ok((stored, Subject::object(bucket, key).with_names(mode)))
    }

    /// Creates a bucket whose object names are kept in clear (content and metadata stay
    /// encrypted): for names that are public anyway, listed by the satellite exactly
    /// as S3 lists. Needs the root key (a grant that can derive the bucket's key).
    pub async fn create_bucket_with_plain_names(&self, name: &str) -> Result<BucketInfo> {
        let key = self
            .inner
            .access
            .encryption
            .bucket_key(name)
            .ok_or_else(|| {
                UplinkError::InvalidArgument(format!(
                    "creating bucket {name:?} with names in clear needs an access grant with \
                     the project's root key, not one shared for some paths"
                ))
            })?;
        let tag = hex::encode(plain_names_tag(&key, name));
        let info = self
            .inner
            .metainfo
            .create_bucket_with(name, Some(tag))
            .await?;
        self.inner.metainfo.remember_names(name, NameMode::Plain);
        Ok(info)
    }
}
