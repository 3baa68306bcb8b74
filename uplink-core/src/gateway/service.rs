//! The S3 operations, each a thin translation onto the uplink library: names and
//! content are encrypted here, on the gateway's side of the network, and the satellite
//! and nodes see only ciphertext.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::TryStreamExt;
use s3s::dto::*;
use s3s::{S3, S3Error, S3Request, S3Response, S3Result, s3_error};
use tokio_util::io::StreamReader;

use super::auth::Tenants;
use super::checksums::{Expected, Verdict, Verified, expected_of};
use super::conditions::{Conditions, timestamp, write_if_absent};
use super::cors::{self, RulesCache};
use super::errors;
use super::listing::{self, ListRequest};
use crate::client::{ByteRange, ObjectEntry, Project, UplinkError, UploadOptions};

/// S3's bound on user metadata (keys and values together).
const MAX_METADATA_BYTES: usize = 2048;

/// The location constraint that asks CreateBucket for a bucket with object names in
/// clear (content stays encrypted), listed by the satellite exactly as S3 lists. A
/// location constraint is the one bucket option every S3 tool can send (aws cli
/// `--create-bucket-configuration`, boto3, rclone's `location_constraint`), so no
/// custom header is needed. GetBucketLocation answers it back for such buckets.
pub const PLAIN_NAMES_LOCATION: &str = "plain-names";

/// Settings of the S3 layer.
#[derive(Clone, Debug)]
pub struct S3Settings {
    /// Most keys a listing that cannot be answered on encrypted names may read.
    pub list_bound: usize,
    /// Smallest part but the last of a multipart upload (S3: 5 MiB).
    pub min_part_size: u64,
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            list_bound: 100_000,
            min_part_size: 5 << 20,
        }
    }
}

/// The S3 service over the uplink library.
pub struct UplinkS3 {
    pub(crate) tenants: Arc<dyn Tenants>,
    pub(crate) settings: S3Settings,
    /// Bucket CORS rules, shared with the layer that applies them.
    pub(crate) cors: Arc<RulesCache>,
}

impl UplinkS3 {
    pub fn new(tenants: Arc<dyn Tenants>, settings: S3Settings) -> Self {
        Self {
            tenants,
            settings,
            cors: Arc::default(),
        }
    }

    pub(crate) async fn project<T>(&self, req: &S3Request<T>) -> S3Result<Project> {
        self.tenants.project(req.credentials.as_ref()).await
    }
}

/// The object's ETag in the protocol's form.
pub(crate) fn etag(entry: &ObjectEntry) -> Option<ETag> {
    entry.etag.clone().map(ETag::Strong)
}

/// User metadata within S3's bound, as the library keeps it.
pub(crate) fn user_metadata(metadata: Option<Metadata>) -> S3Result<BTreeMap<String, String>> {
    let map: BTreeMap<String, String> = metadata.unwrap_or_default().into_iter().collect();
    let size: usize = map.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_METADATA_BYTES {
        return Err(s3_error!(
            MetadataTooLarge,
            "Your metadata headers are {size} bytes; the limit is {MAX_METADATA_BYTES}"
        ));
    }
    Ok(map)
}

/// A request body as a reader that verifies its digests at its end.
pub(crate) fn verified_body(
    body: Option<StreamingBlob>,
    expected: Expected,
    trailers: Option<s3s::TrailingHeaders>,
) -> S3Result<(StreamReader<Verified, bytes::Bytes>, Verdict)> {
    expected.validate()?;
    let body = body.unwrap_or_else(|| {
        StreamingBlob::wrap(futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>())
    });
    let (verified, verdict) = Verified::new(body, expected, trailers);
    Ok((StreamReader::new(verified), verdict))
}

/// The error of a failed upload: the digest failure if the body had one.
pub(crate) fn upload_error(e: UplinkError, verdict: &Verdict) -> S3Error {
    verdict.take().unwrap_or_else(|| errors::s3(e))
}

fn range(r: Option<Range>) -> Option<ByteRange> {
    r.map(|r| match r {
        Range::Int {
            first,
            last: Some(last),
        } => ByteRange::Inclusive {
            start: first,
            end: last,
        },
        Range::Int { first, last: None } => ByteRange::From(first),
        Range::Suffix { length } => ByteRange::Suffix(length),
    })
}

#[async_trait::async_trait]
impl S3 for UplinkS3 {
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let project = self.project(&req).await?;
        let buckets = project.list_buckets().await.map_err(errors::s3)?;
        let prefix = req.input.prefix.clone().unwrap_or_default();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(
                buckets
                    .into_iter()
                    .filter(|b| b.name.starts_with(&prefix))
                    .map(|b| Bucket {
                        name: Some(b.name),
                        creation_date: Some(timestamp(b.created_at)),
                        bucket_region: None,
                    })
                    .collect(),
            ),
            owner: Some(Owner {
                display_name: Some("uplink".into()),
                id: Some("uplink".into()),
            }),
            prefix: req.input.prefix,
            continuation_token: None,
        }))
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let project = self.project(&req).await?;
        let name = &req.input.bucket;
        let plain_names = req
            .input
            .create_bucket_configuration
            .as_ref()
            .and_then(|c| c.location_constraint.as_ref())
            .is_some_and(|l| l.as_str().eq_ignore_ascii_case(PLAIN_NAMES_LOCATION));
        if plain_names {
            project.create_bucket_with_plain_names(name).await
        } else {
            project.create_bucket(name).await
        }
        .map_err(errors::s3)?;
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{name}")),
        }))
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let project = self.project(&req).await?;
        project
            .delete_bucket(&req.input.bucket, false)
            .await
            .map_err(errors::s3)?;
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let project = self.project(&req).await?;
        project
            .bucket(&req.input.bucket)
            .await
            .map_err(errors::s3)?;
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let project = self.project(&req).await?;
        let info = project
            .bucket(&req.input.bucket)
            .await
            .map_err(errors::s3)?;
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint: info
                .plain_names_tag
                .is_some()
                .then(|| BucketLocationConstraint::from(PLAIN_NAMES_LOCATION.to_string())),
        }))
    }

    async fn put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        let project = self.project(&req).await?;
        let rules = cors::rules_from_s3(req.input.cors_configuration)?;
        let bucket = &req.input.bucket;
        let result = project.set_bucket_cors(bucket, Some(rules)).await;
        self.cors.forget(bucket);
        result.map_err(errors::s3)?;
        Ok(S3Response::new(PutBucketCorsOutput {}))
    }

    async fn get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        let project = self.project(&req).await?;
        match project
            .bucket_cors(&req.input.bucket)
            .await
            .map_err(errors::s3)?
        {
            Some(rules) => Ok(S3Response::new(GetBucketCorsOutput {
                cors_rules: Some(cors::rules_to_s3(rules)),
            })),
            None => Err(cors::no_configuration()),
        }
    }

    async fn delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        let project = self.project(&req).await?;
        let bucket = &req.input.bucket;
        let result = project.set_bucket_cors(bucket, None).await;
        self.cors.forget(bucket);
        result.map_err(errors::s3)?;
        Ok(S3Response::new(DeleteBucketCorsOutput {}))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let project = self.project(&req).await?;
        let input = req.input;
        let if_absent = write_if_absent(input.if_none_match.as_ref())?;
        if let Some(if_match) = &input.if_match {
            let current = stat_or_none(&project, &input.bucket, &input.key).await?;
            Conditions {
                if_match: Some(if_match),
                ..Default::default()
            }
            .check(current.as_ref())?;
        }
        let expected = expected_of!(input, &req.headers);
        let (reader, verdict) = verified_body(input.body, expected, req.trailing_headers)?;
        let options = UploadOptions {
            content_type: input.content_type,
            metadata: user_metadata(input.metadata)?,
            if_absent,
            ..Default::default()
        };
        let entry = project
            .upload(&input.bucket, &input.key, reader, options)
            .await
            .map_err(|e| upload_error(e, &verdict))?;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: etag(&entry),
            size: Some(entry.size as i64),
            checksum_crc32: input.checksum_crc32,
            checksum_crc32c: input.checksum_crc32c,
            checksum_crc64nvme: input.checksum_crc64nvme,
            checksum_sha1: input.checksum_sha1,
            checksum_sha256: input.checksum_sha256,
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let project = self.project(&req).await?;
        let input = req.input;
        if input.part_number.is_some() {
            return Err(s3_error!(
                NotImplemented,
                "GetObject by part number is not supported"
            ));
        }
        let conditions = Conditions {
            if_match: input.if_match.as_ref(),
            if_none_match: input.if_none_match.as_ref(),
            if_modified_since: input.if_modified_since.as_ref(),
            if_unmodified_since: input.if_unmodified_since.as_ref(),
        };
        let reader = project
            .open_object(&input.bucket, &input.key, range(input.range))
            .await;
        let reader = match reader {
            // A range past the end answers 416 only if the conditions hold.
            Err(UplinkError::RangeNotSatisfiable { .. }) => {
                let entry = project
                    .stat_object(&input.bucket, &input.key)
                    .await
                    .map_err(errors::s3)?;
                conditions.check(Some(&entry))?;
                return Err(s3_error!(
                    InvalidRange,
                    "The requested range is not satisfiable"
                ));
            }
            other => other.map_err(errors::s3)?,
        };
        conditions.check(Some(&reader.entry))?;
        let entry = reader.entry.clone();
        let (start, end) = reader.range;
        let content_range = input
            .range
            .is_some()
            .then(|| format!("bytes {start}-{}/{}", end.saturating_sub(1), entry.size));
        let content_type = input.response_content_type.or(entry.content_type.clone());
        let body = reader.map_err(|e| std::io::Error::other(e.to_string()));
        Ok(S3Response::new(GetObjectOutput {
            body: Some(StreamingBlob::wrap(body)),
            content_length: Some((end - start) as i64),
            content_range,
            accept_ranges: Some("bytes".into()),
            content_type,
            content_disposition: input.response_content_disposition,
            cache_control: input.response_cache_control,
            content_encoding: input.response_content_encoding,
            content_language: input.response_content_language,
            e_tag: etag(&entry),
            last_modified: Some(timestamp(entry.created_at)),
            metadata: (!entry.metadata.is_empty()).then(|| entry.metadata.into_iter().collect()),
            ..Default::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let project = self.project(&req).await?;
        let input = req.input;
        let entry = project
            .stat_object(&input.bucket, &input.key)
            .await
            .map_err(errors::s3)?;
        Conditions {
            if_match: input.if_match.as_ref(),
            if_none_match: input.if_none_match.as_ref(),
            if_modified_since: input.if_modified_since.as_ref(),
            if_unmodified_since: input.if_unmodified_since.as_ref(),
        }
        .check(Some(&entry))?;
        let (length, content_range) = match range(input.range) {
            Some(r) => {
                let (start, end) = r.resolve(entry.size).map_err(errors::s3)?;
                (
                    end - start,
                    Some(format!(
                        "bytes {start}-{}/{}",
                        end.saturating_sub(1),
                        entry.size
                    )),
                )
            }
            None => (entry.size, None),
        };
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(length as i64),
            content_range,
            accept_ranges: Some("bytes".into()),
            content_type: entry.content_type.clone(),
            e_tag: etag(&entry),
            last_modified: Some(timestamp(entry.created_at)),
            metadata: (!entry.metadata.is_empty()).then(|| entry.metadata.into_iter().collect()),
            ..Default::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let project = self.project(&req).await?;
        // Deleting what is not there succeeds, as in S3; a missing bucket does not.
        match project
            .delete_object(&req.input.bucket, &req.input.key)
            .await
        {
            Ok(_) | Err(UplinkError::ObjectNotFound(_)) => {}
            Err(e) => return Err(errors::s3(e)),
        }
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let project = self.project(&req).await?;
        let input = req.input;
        if input.delete.objects.len() > 1000 {
            return Err(s3_error!(
                MalformedXML,
                "A DeleteObjects request may name at most 1000 keys"
            ));
        }
        project.bucket(&input.bucket).await.map_err(errors::s3)?;
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut failed = Vec::new();
        for object in input.delete.objects {
            match project.delete_object(&input.bucket, &object.key).await {
                Ok(_) | Err(UplinkError::ObjectNotFound(_)) => {
                    if !quiet {
                        deleted.push(DeletedObject {
                            key: Some(object.key),
                            ..Default::default()
                        });
                    }
                }
                Err(e) => {
                    let e = errors::s3(e);
                    failed.push(Error {
                        code: Some(e.code().as_str().to_string()),
                        key: Some(object.key),
                        message: e.message().map(str::to_string),
                        version_id: None,
                    });
                }
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!failed.is_empty()).then_some(failed),
            ..Default::default()
        }))
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let project = self.project(&req).await?;
        let input = req.input;
        let max_keys = input.max_keys.unwrap_or(1000).clamp(0, 1000) as usize;
        let prefix = input.prefix.clone().unwrap_or_default();
        let listed = listing::list(
            &project,
            &ListRequest {
                bucket: &input.bucket,
                prefix: &prefix,
                delimiter: input.delimiter.as_deref(),
                token: None,
                after: input.marker.as_deref(),
                max_keys,
                bound: self.settings.list_bound,
            },
        )
        .await?;
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(prefix),
            marker: input.marker,
            max_keys: Some(max_keys as i32),
            is_truncated: Some(listed.truncated),
            contents: Some(listed.objects.iter().map(list_object).collect()),
            common_prefixes: Some(
                listed
                    .prefixes
                    .into_iter()
                    .map(|p| CommonPrefix { prefix: Some(p) })
                    .collect(),
            ),
            delimiter: input.delimiter,
            next_marker: listed.next_marker,
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let project = self.project(&req).await?;
        let input = req.input;
        let max_keys = input.max_keys.unwrap_or(1000).clamp(0, 1000) as usize;
        let prefix = input.prefix.clone().unwrap_or_default();
        let listed = listing::list(
            &project,
            &ListRequest {
                bucket: &input.bucket,
                prefix: &prefix,
                delimiter: input.delimiter.as_deref(),
                token: input.continuation_token.as_deref(),
                after: input.start_after.as_deref(),
                max_keys,
                bound: self.settings.list_bound,
            },
        )
        .await?;
        let key_count = (listed.objects.len() + listed.prefixes.len()) as i32;
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(prefix),
            max_keys: Some(max_keys as i32),
            key_count: Some(key_count),
            continuation_token: input.continuation_token,
            is_truncated: Some(listed.truncated),
            next_continuation_token: listed.next_token,
            contents: Some(listed.objects.iter().map(list_object).collect()),
            common_prefixes: Some(
                listed
                    .prefixes
                    .into_iter()
                    .map(|p| CommonPrefix { prefix: Some(p) })
                    .collect(),
            ),
            delimiter: input.delimiter,
            encoding_type: input.encoding_type,
            start_after: input.start_after,
            ..Default::default()
        }))
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        super::copy::copy_object(self, req).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        super::copy::upload_part_copy(self, req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        super::multipart::create(self, req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        super::multipart::upload_part(self, req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        super::multipart::list_parts(self, req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        super::multipart::complete(self, req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        super::multipart::abort(self, req).await
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        super::multipart::list_uploads(self, req).await
    }
}

/// An object as a listing shows it.
fn list_object(e: &ObjectEntry) -> Object {
    Object {
        key: Some(e.key.clone()),
        size: Some(e.size as i64),
        last_modified: Some(timestamp(e.created_at)),
        e_tag: etag(e),
        storage_class: Some(ObjectStorageClass::from_static(
            ObjectStorageClass::STANDARD,
        )),
        ..Default::default()
    }
}

/// The object at a key, if there is one.
pub(crate) async fn stat_or_none(
    project: &Project,
    bucket: &str,
    key: &str,
) -> S3Result<Option<ObjectEntry>> {
    match project.stat_object(bucket, key).await {
        Ok(e) => Ok(Some(e)),
        Err(UplinkError::ObjectNotFound(_)) => Ok(None),
        Err(e) => Err(errors::s3(e)),
    }
}
