//! S3 multipart uploads onto the library's native ones: parts are stored as the
//! upload's segments where they land, and completion commits them without copying.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::checksums::expected_of;
use super::conditions::{timestamp, write_if_absent};
use super::errors;
use super::service::{UplinkS3, user_metadata, verified_body};
use crate::client::{CompleteError, CompletePart, MAX_PART_NUMBER, UploadOptions};

pub(crate) fn part_number(n: i32) -> S3Result<u32> {
    u32::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive"
            )
        })
}

pub(crate) async fn create(
    s3: &UplinkS3,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let project = s3.project(&req).await?;
    let input = req.input;
    let options = UploadOptions {
        content_type: input.content_type,
        metadata: user_metadata(input.metadata)?,
        ..Default::default()
    };
    let id = project
        .begin_multipart(&input.bucket, &input.key, &options)
        .await
        .map_err(errors::s3)?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(id),
        ..Default::default()
    }))
}

pub(crate) async fn upload_part(
    s3: &UplinkS3,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let project = s3.project(&req).await?;
    let input = req.input;
    let part = part_number(input.part_number)?;
    let expected = expected_of!(input, &req.headers);
    let (reader, verdict) = verified_body(input.body, expected, req.trailing_headers)?;
    let uploaded = project
        .upload_part(
            &input.bucket,
            &input.key,
            &input.upload_id,
            part,
            reader,
            None,
        )
        .await
        .map_err(|e| match verdict.take() {
            Some(digest) => digest,
            None => errors::upload(e),
        })?;
    Ok(S3Response::new(UploadPartOutput {
        e_tag: Some(ETag::Strong(uploaded.etag)),
        checksum_crc32: input.checksum_crc32,
        checksum_crc32c: input.checksum_crc32c,
        checksum_crc64nvme: input.checksum_crc64nvme,
        checksum_sha1: input.checksum_sha1,
        checksum_sha256: input.checksum_sha256,
        ..Default::default()
    }))
}

pub(crate) async fn list_parts(
    s3: &UplinkS3,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let project = s3.project(&req).await?;
    let input = req.input;
    let marker = match input.part_number_marker {
        None => 0,
        Some(m) => u32::try_from(m)
            .map_err(|_| s3_error!(InvalidArgument, "Invalid part number marker {m}"))?,
    };
    let max = input.max_parts.unwrap_or(1000).clamp(1, 1000) as u32;
    let (parts, more) = project
        .list_parts(
            &input.bucket,
            &input.key,
            &input.upload_id,
            marker,
            Some(max),
        )
        .await
        .map_err(errors::upload)?;
    let next = parts.last().map(|p| p.part as i32);
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(input.upload_id),
        max_parts: Some(max as i32),
        is_truncated: Some(more),
        part_number_marker: input.part_number_marker,
        next_part_number_marker: next.filter(|_| more),
        parts: Some(
            parts
                .into_iter()
                .map(|p| Part {
                    part_number: Some(p.part as i32),
                    size: Some(p.size as i64),
                    last_modified: Some(timestamp(p.last_modified)),
                    e_tag: p.etag.map(ETag::Strong),
                    ..Default::default()
                })
                .collect(),
        ),
        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
        ..Default::default()
    }))
}

pub(crate) async fn complete(
    s3: &UplinkS3,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let project = s3.project(&req).await?;
    let input = req.input;
    let if_absent = write_if_absent(input.if_none_match.as_ref())?;
    let requested = input
        .multipart_upload
        .and_then(|m| m.parts)
        .unwrap_or_default();
    if requested.is_empty() {
        return Err(s3_error!(
            MalformedXML,
            "The XML you provided did not name any parts"
        ));
    }
    let mut parts = Vec::with_capacity(requested.len());
    for p in requested {
        let n = p
            .part_number
            .ok_or_else(|| s3_error!(MalformedXML, "A part has no PartNumber"))?;
        parts.push(CompletePart {
            part: part_number(n)?,
            etag: p.e_tag.map(|e| e.into_value()),
        });
    }
    let options = UploadOptions {
        if_absent,
        ..Default::default()
    };
    let done = project
        .complete_multipart(
            &input.bucket,
            &input.key,
            &input.upload_id,
            &parts,
            s3.settings.min_part_size,
            &options,
        )
        .await
        .map_err(errors::upload)?;
    let entry = done.map_err(|e| match e {
        CompleteError::InvalidPart(n) => s3_error!(
            InvalidPart,
            "Part {n} could not be found or its ETag does not match"
        ),
        CompleteError::InvalidPartOrder => s3_error!(
            InvalidPartOrder,
            "The list of parts was not in ascending order"
        ),
        CompleteError::PartTooSmall { part, size, min } => s3_error!(
            EntityTooSmall,
            "Part {part} is {size} bytes; every part but the last must be at least {min}"
        ),
    })?;
    Ok(S3Response::new(CompleteMultipartUploadOutput {
        bucket: Some(input.bucket.clone()),
        key: Some(input.key.clone()),
        e_tag: entry.etag.map(ETag::Strong),
        location: Some(format!("/{}/{}", input.bucket, input.key)),
        ..Default::default()
    }))
}

pub(crate) async fn abort(
    s3: &UplinkS3,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let project = s3.project(&req).await?;
    let input = req.input;
    project
        .abort_multipart(&input.bucket, &input.key, &input.upload_id)
        .await
        .map_err(errors::upload)?;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

/// `uploads` in S3's order (key, then initiation, then id), from just after the
/// markers: after every upload of keys up to `key_marker`, or, with `upload_id_marker`,
/// after that upload of `key_marker` (uploads of that key with an id greater than the
/// marker's, if it is gone).
fn after_markers(
    mut uploads: Vec<crate::client::MultipartUpload>,
    key_marker: Option<&str>,
    upload_id_marker: Option<&str>,
) -> Vec<crate::client::MultipartUpload> {
    uploads.sort_by(|a, b| {
        (a.key.as_str(), a.created_at, a.upload_id.as_str()).cmp(&(
            b.key.as_str(),
            b.created_at,
            b.upload_id.as_str(),
        ))
    });
    let Some(key_marker) = key_marker.filter(|k| !k.is_empty()) else {
        return uploads;
    };
    let start = match upload_id_marker.filter(|id| !id.is_empty()) {
        None => uploads.partition_point(|u| u.key.as_str() <= key_marker),
        Some(id) => match uploads
            .iter()
            .position(|u| u.key == key_marker && u.upload_id == id)
        {
            Some(i) => i + 1,
            None => {
                return uploads
                    .into_iter()
                    .filter(|u| {
                        u.key.as_str() > key_marker
                            || (u.key == key_marker && u.upload_id.as_str() > id)
                    })
                    .collect();
            }
        },
    };
    uploads.split_off(start)
}

pub(crate) async fn list_uploads(
    s3: &UplinkS3,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let project = s3.project(&req).await?;
    let input = req.input;
    let prefix = input.prefix.clone().unwrap_or_default();
    // Pending uploads are listed on the satellite from the prefix's last '/'.
    let base = match prefix.rfind('/') {
        Some(i) => prefix[..=i].to_string(),
        None => String::new(),
    };
    let max = input.max_uploads.unwrap_or(1000).clamp(1, 1000) as usize;
    // Names come back in ciphertext order: every pending upload under the base is read
    // (up to the list bound), then sorted as S3 sorts them (by key, then initiation).
    let mut uploads = Vec::new();
    let mut cursor = None;
    let mut read = 0usize;
    loop {
        let page = project
            .list_multipart_uploads(&input.bucket, &base, cursor, Some(1000))
            .await
            .map_err(errors::s3)?;
        read += page.uploads.len();
        if read > s3.settings.list_bound {
            return Err(s3_error!(
                InvalidArgument,
                "There are more than {} pending uploads under {base:?}; list them with a \
                 longer prefix, or raise the gateway's list bound.",
                s3.settings.list_bound
            ));
        }
        uploads.extend(
            page.uploads
                .into_iter()
                .filter(|u| u.key.starts_with(&prefix)),
        );
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut uploads = after_markers(
        uploads,
        input.key_marker.as_deref(),
        input.upload_id_marker.as_deref(),
    );
    let truncated = uploads.len() > max;
    uploads.truncate(max);
    let last = uploads.last().map(|u| (u.key.clone(), u.upload_id.clone()));
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(input.bucket),
        prefix: input.prefix,
        key_marker: input.key_marker,
        upload_id_marker: input.upload_id_marker,
        max_uploads: Some(max as i32),
        is_truncated: Some(truncated),
        next_key_marker: last.as_ref().filter(|_| truncated).map(|l| l.0.clone()),
        next_upload_id_marker: last.filter(|_| truncated).map(|l| l.1),
        uploads: Some(
            uploads
                .into_iter()
                .map(|u| MultipartUpload {
                    key: Some(u.key),
                    upload_id: Some(u.upload_id),
                    initiated: Some(timestamp(u.created_at)),
                    storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::MultipartUpload as Upload;

    fn upload(key: &str, id: &str, created_at: i64) -> Upload {
        Upload {
            key: key.into(),
            upload_id: id.into(),
            created_at,
        }
    }

    fn ids(uploads: &[Upload]) -> Vec<&str> {
        uploads.iter().map(|u| u.upload_id.as_str()).collect()
    }

    #[test]
    fn markers_page_through_several_uploads_of_one_key() {
        // In ciphertext order; the same key three times, started at different times.
        let all = vec![
            upload("b", "b1", 5),
            upload("a", "a-late", 9),
            upload("a", "a-early", 1),
            upload("a", "a-mid", 4),
            upload("c", "c1", 2),
        ];
        let sorted = after_markers(all.clone(), None, None);
        assert_eq!(ids(&sorted), ["a-early", "a-mid", "a-late", "b1", "c1"]);
        // Page by page, two at a time, with the markers S3 hands out: each once.
        let mut seen = Vec::new();
        let (mut key, mut id) = (None::<String>, None::<String>);
        loop {
            let mut page = after_markers(all.clone(), key.as_deref(), id.as_deref());
            let more = page.len() > 2;
            page.truncate(2);
            seen.extend(page.iter().map(|u| u.upload_id.clone()));
            if !more {
                break;
            }
            let last = page.last().unwrap();
            (key, id) = (Some(last.key.clone()), Some(last.upload_id.clone()));
        }
        assert_eq!(seen, ["a-early", "a-mid", "a-late", "b1", "c1"]);
        // A key marker alone skips every upload of that key.
        assert_eq!(
            ids(&after_markers(all.clone(), Some("a"), None)),
            ["b1", "c1"]
        );
        // An upload id marker that is gone: that key's uploads with greater ids.
        assert_eq!(
            ids(&after_markers(all.clone(), Some("a"), Some("a-f"))),
            ["a-mid", "a-late", "b1", "c1"]
        );
        // Without a key marker the id marker means nothing.
        assert_eq!(after_markers(all.clone(), None, Some("zzz")).len(), 5);
    }
}
