//! CopyObject on the satellite (no data moves) and UploadPartCopy (a range of an object
//! streamed into a part through the gateway).

use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::conditions::{Conditions, timestamp};
use super::errors;
use super::service::{UplinkS3, etag, user_metadata};
use crate::client::{ByteRange, CopyOptions, ObjectEntry, Project};

fn source(s: &CopySource) -> S3Result<(&str, &str)> {
    match s {
        CopySource::Bucket {
            bucket,
            key,
            version_id: None,
        } => Ok((bucket, key)),
        CopySource::Bucket { .. } => Err(s3_error!(
            NotImplemented,
            "Copying a specific version is not supported"
        )),
        _ => Err(s3_error!(
            NotImplemented,
            "Access point copy sources are not supported"
        )),
    }
}

/// The copy-source conditions; any that fails is a 412 (never a 304).
async fn check_source(
    project: &Project,
    bucket: &str,
    key: &str,
    conditions: Conditions<'_>,
) -> S3Result<ObjectEntry> {
    let entry = project.stat_object(bucket, key).await.map_err(errors::s3)?;
    conditions.check(Some(&entry)).map_err(|e| {
        if *e.code() == S3ErrorCode::NotModified {
            s3_error!(
                PreconditionFailed,
                "At least one of the preconditions you specified did not hold"
            )
        } else {
            e
        }
    })?;
    Ok(entry)
}

pub(crate) async fn copy_object(
    s3: &UplinkS3,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let project = s3.project(&req).await?;
    let input = req.input;
    let (src_bucket, src_key) = source(&input.copy_source)?;
    let conditions = Conditions {
        if_match: input.copy_source_if_match.as_ref(),
        if_none_match: input.copy_source_if_none_match.as_ref(),
        if_modified_since: input.copy_source_if_modified_since.as_ref(),
        if_unmodified_since: input.copy_source_if_unmodified_since.as_ref(),
    };
    let has_conditions = conditions.if_match.is_some()
        || conditions.if_none_match.is_some()
        || conditions.if_modified_since.is_some()
        || conditions.if_unmodified_since.is_some();
    if has_conditions {
        check_source(&project, src_bucket, src_key, conditions).await?;
    }
    let replace = input
        .metadata_directive
        .as_ref()
        .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
    let same = src_bucket == input.bucket && src_key == input.key;
    if same && !replace {
        return Err(s3_error!(
            InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself \
             without changing the object's metadata"
        ));
    }
    let options = CopyOptions {
        replace_metadata: if replace {
            Some((input.content_type, user_metadata(input.metadata)?))
        } else {
            None
        },
        if_absent: false,
    };
    let entry = project
        .copy_object(src_bucket, src_key, &input.bucket, &input.key, &options)
        .await
        .map_err(errors::s3)?;
    Ok(S3Response::new(CopyObjectOutput {
        copy_object_result: Some(CopyObjectResult {
            e_tag: etag(&entry),
            last_modified: Some(timestamp(entry.created_at)),
            ..Default::default()
        }),
        ..Default::default()
    }))
}

/// `bytes=first-last` of a copy source.
fn source_range(range: Option<&str>) -> S3Result<Option<ByteRange>> {
    let Some(r) = range else { return Ok(None) };
    let bad = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last"
        )
    };
    let (a, b) = r
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(bad)?;
    let (start, end) = (
        a.parse::<u64>().map_err(|_| bad())?,
        b.parse::<u64>().map_err(|_| bad())?,
    );
    if end < start {
        return Err(bad());
    }
    Ok(Some(ByteRange::Inclusive { start, end }))
}

pub(crate) async fn upload_part_copy(
    s3: &UplinkS3,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let project = s3.project(&req).await?;
    let input = req.input;
    let (src_bucket, src_key) = source(&input.copy_source)?;
    let part = super::multipart::part_number(input.part_number)?;
    let entry = check_source(
        &project,
        src_bucket,
        src_key,
        Conditions {
            if_match: input.copy_source_if_match.as_ref(),
            if_none_match: input.copy_source_if_none_match.as_ref(),
            if_modified_since: input.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: input.copy_source_if_unmodified_since.as_ref(),
        },
    )
    .await?;
    let range = source_range(input.copy_source_range.as_deref())?;
    if let Some(ByteRange::Inclusive { end, .. }) = range
        && end >= entry.size
    {
        return Err(s3_error!(
            InvalidRange,
            "The copy source range is not within the object"
        ));
    }
    let reader = project
        .open_object(src_bucket, src_key, range)
        .await
        .map_err(errors::s3)?;
    let body = tokio_util::io::StreamReader::new(futures::TryStreamExt::map_err(reader, |e| {
        std::io::Error::other(e.to_string())
    }));
    let uploaded = project
        .upload_part(
            &input.bucket,
            &input.key,
            &input.upload_id,
            part,
            body,
            None,
        )
        .await
        .map_err(errors::upload)?;
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_part_result: Some(CopyPartResult {
            e_tag: Some(ETag::Strong(uploaded.etag)),
            last_modified: Some(timestamp(crate::protocol::now_unix())),
            ..Default::default()
        }),
        ..Default::default()
    }))
}
