//! Listing objects by encrypted prefix, with or without collapsing at the delimiter.
//!
//! Encrypted keys keep the plaintext's `/` structure, so prefixes and "directories" are
//! found on ciphertext. Keys compare bytewise, and the cursor is the last key (or
//! collapsed prefix) returned: a prefix cursor skips everything beneath it. A bucket
//! that keeps its names in clear is listed as S3 lists: any prefix, any delimiter.

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uplink_core::access::caveat::Operation;
use uplink_core::protocol::metainfo::{
    ListItem, ListObjectsRequest, ListObjectsResponse, NameMode,
};
use uplink_core::protocol::now_unix;

use super::{Metainfo, bucket_names, sealed_metadata};
use crate::auth::Caller;
use crate::db::entities::object;
use crate::error::{Result, SatelliteError};

const MAX_LIST: u32 = 1000;
const DELIMITER: &str = "/";
/// Longest delimiter accepted (S3 sets no bound; a name is at most 1 KiB anyway).
const MAX_DELIMITER: usize = 64;

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The listing's delimiter, refusing what `names` cannot be listed by: encrypted
/// names only by an empty or `/`-ended prefix, at `/`.
fn delimiter(req: &ListObjectsRequest, names: NameMode) -> Result<&str> {
    let delimiter = req.delimiter.as_deref().unwrap_or(DELIMITER);
    match names {
        NameMode::Encrypted => {
            if !req.prefix.is_empty() && !req.prefix.ends_with('/') {
                return Err(SatelliteError::BadRequest(
                    "a listing prefix must be empty or end with '/' (this bucket's names are \
                     encrypted)"
                        .into(),
                ));
            }
            if delimiter != DELIMITER {
                return Err(SatelliteError::BadRequest(
                    "encrypted names can only be listed with the '/' delimiter".into(),
                ));
            }
        }
        NameMode::Plain => {
            if delimiter.is_empty() || delimiter.len() > MAX_DELIMITER {
                return Err(SatelliteError::BadRequest(format!(
                    "a delimiter must be 1 to {MAX_DELIMITER} bytes long (list recursively \
                     for none)"
                )));
            }
        }
    }
    Ok(delimiter)
}

/// The smallest byte string greater than every string starting with `prefix`.
fn prefix_upper_bound(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut upper = prefix.to_vec();
    while let Some(last) = upper.pop() {
        if last < u8::MAX {
            upper.push(last + 1);
            return Some(upper);
        }
    }
    None
}

/// Where to continue strictly after `cursor`.
enum Start {
    After(Vec<u8>),
    AtOrAfter(Vec<u8>),
}

impl Metainfo {
    pub async fn list_objects(
        &self,
        caller: &Caller,
        req: &ListObjectsRequest,
    ) -> Result<ListObjectsResponse> {
        let bucket = self.require_names(caller, &req.bucket).await?;
        let delimiter = delimiter(req, caller.names)?;
        caller.authorize(
            Operation::List,
            Some(&req.bucket),
            (!req.prefix.is_empty()).then_some(req.prefix.as_str()),
            None,
        )?;
        self.list_rows(&bucket.project_id, req, delimiter).await
    }

    /// Lists a project's objects without an API key (for the console, whose session
    /// was checked against the project's members).
    pub async fn list_project_objects(
        &self,
        project_id: &str,
        req: &ListObjectsRequest,
    ) -> Result<ListObjectsResponse> {
        let bucket = self.require_bucket(project_id, &req.bucket).await?;
        let delimiter = delimiter(req, bucket_names(&bucket))?;
        self.list_rows(project_id, req, delimiter).await
    }

    async fn list_rows(
        &self,
        project_id: &str,
        req: &ListObjectsRequest,
        delimiter: &str,
    ) -> Result<ListObjectsResponse> {
        let delimiter = delimiter.as_bytes();
        let limit = req.limit.unwrap_or(MAX_LIST).clamp(1, MAX_LIST) as usize;
        let prefix = req.prefix.as_bytes();
        let upper = prefix_upper_bound(prefix);
        let status = if req.pending {
            object::STATUS_PENDING
        } else {
            object::STATUS_COMMITTED
        };
        let now = now_unix();

        let mut start = match &req.cursor {
            Some(c) if !c.is_empty() => {
                let c = c.as_bytes().to_vec();
                // A collapsed prefix is the listing's prefix, then up to and including
                // the first delimiter after it, and nothing more.
                let collapsed = c.strip_prefix(prefix).is_some_and(|rest| {
                    find(rest, delimiter).is_some_and(|i| i + delimiter.len() == rest.len())
                });
                if !req.recursive && collapsed {
                    // A collapsed prefix: skip everything under it.
                    match prefix_upper_bound(&c) {
                        Some(u) => Start::AtOrAfter(u),
                        None => {
                            return Ok(ListObjectsResponse {
                                items: vec![],
                                more: false,
                            });
                        }
                    }
                } else if c.as_slice() < prefix {
                    Start::AtOrAfter(prefix.to_vec())
                } else {
                    Start::After(c)
                }
            }
            _ => Start::AtOrAfter(prefix.to_vec()),
        };

        let mut items: Vec<ListItem> = Vec::new();
        let mut more = false;
        'outer: loop {
            let mut query = object::Entity::find()
                .filter(object::Column::ProjectId.eq(project_id))
                .filter(object::Column::BucketName.eq(req.bucket.clone()))
                .filter(object::Column::Status.eq(status))
                .filter(
                    Condition::any()
                        .add(object::Column::ExpiresAt.is_null())
                        .add(object::Column::ExpiresAt.gt(now)),
                );
            query = match &start {
                Start::After(k) => query.filter(object::Column::ObjectKey.gt(k.clone())),
                Start::AtOrAfter(k) => query.filter(object::Column::ObjectKey.gte(k.clone())),
            };
            if let Some(u) = &upper {
                query = query.filter(object::Column::ObjectKey.lt(u.clone()));
            }
            let batch_size = (limit - items.len() + 1).max(16) as u64;
            let rows = query
                .order_by_asc(object::Column::ObjectKey)
                .limit(batch_size)
                .all(&self.db)
                .await?;
            let exhausted = (rows.len() as u64) < batch_size;
            if rows.is_empty() {
                break;
            }
            let mut last_key = Vec::new();
            for row in &rows {
                last_key.clone_from(&row.object_key);
                if !row.object_key.starts_with(prefix) {
                    continue;
                }
                let rest = &row.object_key[prefix.len()..];
                let collapsed = (!req.recursive).then(|| find(rest, delimiter)).flatten();
                if items.len() == limit {
                    more = true;
                    break 'outer;
                }
                match collapsed {
                    Some(i) => {
                        let dir = row.object_key[..prefix.len() + i + delimiter.len()].to_vec();
                        items.push(ListItem {
                            encrypted_key: String::from_utf8_lossy(&dir).into_owned(),
                            object_id: None,
                            is_prefix: true,
                            created_at: 0,
                            expires_at: None,
                            plain_size: 0,
                            encrypted_metadata: None,
                        });
                        // Continue after everything under this prefix.
                        match prefix_upper_bound(&dir) {
                            Some(u) => start = Start::AtOrAfter(u),
                            None => break 'outer,
                        }
                        continue 'outer;
                    }
                    None => {
                        items.push(ListItem {
                            encrypted_key: String::from_utf8_lossy(&row.object_key).into_owned(),
                            object_id: Some(row.id.clone()),
                            is_prefix: false,
                            created_at: row.committed_at.unwrap_or(row.created_at),
                            expires_at: row.expires_at,
                            plain_size: row.plain_size.max(0) as u64,
                            encrypted_metadata: if req.include_metadata {
                                sealed_metadata(row)
                            } else {
                                None
                            },
                        });
                    }
                }
            }
            if exhausted {
                break;
            }
            start = Start::After(last_key);
        }
        Ok(ListObjectsResponse { items, more })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_bounds() {
        assert_eq!(prefix_upper_bound(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_upper_bound(b""), None);
        assert_eq!(prefix_upper_bound(&[b'a', 0xff]), Some(b"b".to_vec()));
    }
}
