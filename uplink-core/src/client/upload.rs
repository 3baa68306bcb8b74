//! Uploading an object: inline when small, otherwise segment by segment, each segment
//! encrypted, erasure coded and streamed to nodes in parallel ([`PieceSet`] decides
//! when a segment is stored, replacing nodes that fail).
//!
//! Memory is bounded by one batch per piece queue plus the segment spool's memory
//! budget, never by the object size, so streams of any length (stdin) upload with a
//! fixed budget. An upload that fails, or is dropped unfinished, is aborted on the
//! satellite so that its pieces are deleted now rather than in a day.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncRead;

use super::digest::Digests;
use super::error::{Result, Subject, UplinkError};
use super::input::{Input, read_full};
use super::objects::ObjectEntry;
use super::piece_set::{PieceSet, Settings};
use super::pieces::ping;
use super::spool::Spool;
use super::{Progress, Project};
use crate::crypto::Key;
use crate::crypto::content::{BlockCipher, content_key, metadata_key, seal, segment_wrap_key};
use crate::erasure::segment::SegmentEncoder;
use crate::protocol::ErrorCode;
use crate::protocol::metainfo::{
    AbortObjectRequest, BeginObjectRequest, BeginSegmentRequest, CommitObjectRequest,
    CommitSegmentRequest, InlineSegment, InlineSegmentRequest, Sealed, UploadInlineRequest,
};
use crate::protocol::{AddressedOrderLimit, Identity, NodeId, RedundancyScheme, SegmentPosition};

/// What an upload writes to, named and encrypted.
struct Target<'a> {
    bucket: &'a str,
    key: &'a str,
    encrypted_key: String,
    object_key: Key,
    subject: Subject,
}

/// An object's metadata, sealed; none when there is none.
pub(crate) fn sealed_metadata(object_key: &Key, metadata: &ObjectMetadata) -> Option<Sealed> {
    (*metadata != ObjectMetadata::default()).then(|| {
        seal(
            &metadata_key(object_key),
            &serde_json::to_vec(metadata).expect("metadata serializes"),
        )
    })
}

/// An object's only segment, encrypted under a fresh key wrapped for position 0:0.
fn sealed_inline(content_key: &Key, data: &[u8]) -> InlineSegment {
    let segment_key = Key::random();
    let mut sealed = Vec::with_capacity(data.len() + 16);
    sealed.extend_from_slice(data);
    sealed.extend_from_slice(&[0u8; 16]);
    BlockCipher::new(&segment_key).seal_block(0, &mut sealed);
    InlineSegment {
        plain_size: data.len() as u64,
        encrypted_key: seal(
            &segment_wrap_key(content_key, SegmentPosition::single(0)),
            segment_key.as_bytes(),
        ),
        data: sealed,
    }
}

/// How many times a segment's node set is re-requested when nodes do not answer.
const SELECTION_ATTEMPTS: usize = 3;

#[derive(Clone, Default)]
pub struct UploadOptions {
    /// Unix seconds at which the object disappears.
    pub expires_at: Option<i64>,
    pub content_type: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub progress: Option<Progress>,
    /// Commit only if no object exists at the key (S3 `If-None-Match: *`); otherwise
    /// the upload fails with a `precondition_failed` satellite error and stores nothing.
    pub if_absent: bool,
}

impl UploadOptions {
    /// What the object's sealed metadata holds, with the digests of its content.
    fn metadata(&self, digests: &Digests) -> ObjectMetadata {
        ObjectMetadata {
            content_type: self.content_type.clone(),
            user: self.metadata.clone(),
            etag: Some(digests.md5_hex()),
            sha256: digests.sha256_hex(),
        }
    }
}

/// What is sealed into an object's metadata.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct ObjectMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user: BTreeMap<String, String>,
    /// The S3 ETag: the content's MD5 in hex, or for an object made of parts the MD5 of
    /// their MD5s and `-N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The content's SHA-256 in hex (not for objects made of parts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// One upload in progress.
pub(crate) struct Upload<'a> {
    project: &'a Project,
    subject: Subject,
    stream_id: String,
    content_key: Key,
    /// 0 for a plain upload, else the multipart part being uploaded.
    part: u32,
    /// Of everything uploaded so far.
    digests: Digests,
    /// For a part: seals its ETag onto its last segment.
    etag_key: Option<Key>,
    progress: Option<Progress>,
    /// Nodes that failed earlier segments of this upload.
    failed_nodes: HashSet<NodeId>,
    /// Segment id of the segment begun and not yet committed, for an abort.
    begun: Arc<Mutex<Option<String>>>,
}

struct ReleaseOnDrop(Spool);

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// Aborts the pending object unless the upload completed: at once when it fails, and in
/// the background when the upload is dropped unfinished (see [`Project::close`]).
pub(crate) struct AbortGuard {
    pub project: Project,
    pub stream_id: String,
    pub subject: Subject,
    pub begun: Arc<Mutex<Option<String>>>,
    pub armed: bool,
    /// Only the begun segment is cleaned up (a failed part leaves its upload pending).
    pub segments_only: bool,
}

impl AbortGuard {
    fn request(&self) -> AbortObjectRequest {
        AbortObjectRequest {
            stream_id: self.stream_id.clone(),
            segment_ids: self.begun.lock().iter().cloned().collect(),
            segments_only: self.segments_only,
        }
    }

    /// Aborts now; the upload's own error is what the caller reports.
    pub async fn abort(mut self) {
        self.armed = false;
        let req = self.request();
        if let Err(e) = self
            .project
            .inner
            .metainfo
            .abort_object(&req, &self.subject)
            .await
        {
            tracing::warn!(error = %e, "could not abort the failed upload");
        }
    }
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let req = self.request();
        let (project, subject) = (self.project.clone(), self.subject.clone());
        let task = runtime.spawn(async move {
            if let Err(e) = project.inner.metainfo.abort_object(&req, &subject).await {
                tracing::warn!(error = %e, "could not abort a cancelled upload");
            }
        });
        let mut cleanups = self.project.inner.cleanups.lock();
        cleanups.retain(|t| !t.is_finished());
        cleanups.push(task);
    }
}

impl Project {
    /// Uploads everything `reader` yields as `bucket/key`, replacing any existing object.
    ///
    /// If the upload fails, its pending object is aborted (its pieces are deleted); if
    /// the returned future is dropped unfinished, the abort runs in the background and
    /// [`Project::close`] waits for it.
    pub async fn upload<R: AsyncRead + Unpin + Send>(
        &self,
        bucket: &str,
        key: &str,
        reader: R,
        options: UploadOptions,
    ) -> Result<ObjectEntry> {
        if key.is_empty() {
            return Err(UplinkError::InvalidArgument(
                "object key must not be empty".into(),
            ));
        }
        let (encrypted_key, subject) = self.object_name(bucket, key).await?;
        let object_key = self.inner.access.encryption.object_key(bucket, key)?;
        let target = Target {
            bucket,
            key,
            encrypted_key,
            object_key,
            subject,
        };
        // Once this project has learnt the satellite's inline limit, an object that
        // fits goes up in one request.
        let limit = self.inner.inline_limit.load(Ordering::Relaxed) as usize;
        if limit == 0 {
            return self.upload_begun(&target, reader, options).await;
        }
        let mut reader = reader;
        let mut head = vec![0u8; limit + 1];
        let n = read_full(&mut reader, &mut head).await?;
        head.truncate(n);
        if n <= limit {
            match self.upload_small(&target, &head, &options).await {
                Err(UplinkError::Satellite {
                    code: ErrorCode::BadRequest,
                    ..
                }) => {
                    // The satellite's limit may have shrunk: learn it again.
                    self.inner.inline_limit.store(0, Ordering::Relaxed);
                }
                other => return other,
            }
        }
        let reader = tokio::io::AsyncReadExt::chain(&head[..], reader);
        self.upload_begun(&target, reader, options).await
    }

    /// A whole small object in one request.
    async fn upload_small(
        &self,
        target: &Target<'_>,
        data: &[u8],
        options: &UploadOptions,
    ) -> Result<ObjectEntry> {
        let content_key = content_key(&target.object_key);
        let mut digests = Digests::new(true);
        digests.update(data);
        let metadata = options.metadata(&digests);
        let info = self
            .inner
            .metainfo
            .upload_inline(
                &UploadInlineRequest {
                    bucket: target.bucket.to_string(),
                    encrypted_key: target.encrypted_key.clone(),
                    expires_at: options.expires_at,
                    encrypted_metadata: sealed_metadata(&target.object_key, &metadata),
                    segment: (!data.is_empty()).then(|| sealed_inline(&content_key, data)),
                    if_absent: options.if_absent,
                },
                &target.subject,
            )
            .await?;
        if let Some(p) = &options.progress {
            p(data.len() as u64);
        }
        Ok(ObjectEntry::committed(target.key, &info, metadata))
    }

    /// The general path: begin, segments, commit.
    async fn upload_begun<R: AsyncRead + Unpin + Send>(
        &self,
        target: &Target<'_>,
        reader: R,
        options: UploadOptions,
    ) -> Result<ObjectEntry> {
        let subject = &target.subject;
        let begin = self
            .inner
            .metainfo
            .begin_object(
                &BeginObjectRequest {
                    bucket: target.bucket.to_string(),
                    encrypted_key: target.encrypted_key.clone(),
                    expires_at: options.expires_at,
                    encrypted_metadata: None,
                },
                subject,
            )
            .await?;
        self.inner
            .inline_limit
            .store(begin.max_inline_size, Ordering::Relaxed);
        let begun = Arc::new(Mutex::new(None));
        let guard = AbortGuard {
            project: self.clone(),
            stream_id: begin.stream_id.clone(),
            subject: subject.clone(),
            begun: begun.clone(),
            armed: true,
            segments_only: false,
        };
        let mut upload = Upload::new(
            self,
            subject.clone(),
            begin.stream_id.clone(),
            content_key(&target.object_key),
            options.progress.clone(),
            begun,
        );
        let result = upload
            .run(reader, &begin, &target.object_key, &options)
            .await;
        match result {
            Ok((info, metadata)) => {
                let mut guard = guard;
                guard.armed = false;
                Ok(ObjectEntry::committed(target.key, &info, metadata))
            }
            Err(e) => {
                guard.abort().await;
                Err(e)
            }
        }
    }
}

impl<'a> Upload<'a> {
    pub(crate) fn new(
        project: &'a Project,
        subject: Subject,
        stream_id: String,
        content_key: Key,
        progress: Option<Progress>,
        begun: Arc<Mutex<Option<String>>>,
    ) -> Self {
        Self {
            project,
            subject,
            stream_id,
            content_key,
            part: 0,
            digests: Digests::new(true),
            etag_key: None,
            progress,
            failed_nodes: HashSet::new(),
            begun,
        }
    }

    /// This upload is part `part` of a multipart upload: no inline segment, no
    /// whole-object SHA-256, and the part's ETag sealed under `etag_key`.
    pub(crate) fn for_part(mut self, part: u32, etag_key: Key) -> Self {
        self.part = part;
        self.digests = Digests::new(false);
        self.etag_key = Some(etag_key);
        self
    }

    /// The MD5 of what was uploaded, in hex.
    pub(crate) fn md5_hex(&self) -> String {
        self.digests.md5_hex()
    }

    /// Everything after `begin_object`: the segments, then the commit.
    async fn run<R: AsyncRead + Unpin + Send>(
        &mut self,
        reader: R,
        begin: &crate::protocol::metainfo::BeginObjectResponse,
        object_key: &Key,
        options: &UploadOptions,
    ) -> Result<(crate::protocol::metainfo::ObjectInfo, ObjectMetadata)> {
        self.segments(reader, begin).await?;
        let metadata = options.metadata(&self.digests);
        let info = self
            .project
            .inner
            .metainfo
            .commit_object(
                &CommitObjectRequest {
                    stream_id: self.stream_id.clone(),
                    encrypted_metadata: sealed_metadata(object_key, &metadata),
                    parts: None,
                    if_absent: options.if_absent,
                },
                &self.subject,
            )
            .await?;
        Ok((info, metadata))
    }

    /// Uploads everything `reader` yields as segments of this upload's part; returns
    /// the bytes uploaded.
    pub(crate) async fn segments<R: AsyncRead + Unpin + Send>(
        &mut self,
        reader: R,
        begin: &crate::protocol::metainfo::BeginObjectResponse,
    ) -> Result<u64> {
        let mut reader = reader;
        // Parts are never inline: the satellite keeps inline data for whole objects.
        let inline_limit = if self.part == 0 {
            begin.max_inline_size as usize
        } else {
            0
        };
        let mut head = vec![0u8; inline_limit + 1];
        let n = read_full(&mut reader, &mut head).await?;
        let mut total = 0u64;
        if n <= inline_limit {
            if n > 0 {
                self.digests.update(&head[..n]);
                self.inline_segment(&head[..n]).await?;
                total = n as u64;
            }
        } else {
            let config = &self.project.inner.config;
            let segment_size = config.segment_size.min(begin.max_segment_size);
            let mut input = Input::new(tokio::io::AsyncReadExt::chain(&head[..n], reader));
            let mut position = SegmentPosition::new(self.part, 0);
            loop {
                let (size, eof) = self
                    .remote_segment(&mut input, position, segment_size)
                    .await?;
                total += size;
                if eof {
                    break;
                }
                position = position.next().ok_or_else(|| {
                    UplinkError::InvalidArgument("more segments than a part can hold".into())
                })?;
            }
        }
        Ok(total)
    }

    async fn inline_segment(&mut self, data: &[u8]) -> Result<()> {
        let InlineSegment {
            plain_size,
            encrypted_key,
            data: sealed,
        } = sealed_inline(&self.content_key, data);
        self.project
            .inner
            .metainfo
            .inline_segment(
                &InlineSegmentRequest {
                    stream_id: self.stream_id.clone(),
                    position: SegmentPosition::single(0),
                    plain_size,
                    encrypted_key,
                    data: sealed,
                },
                &self.subject,
            )
            .await?;
        if let Some(p) = &self.progress {
            p(data.len() as u64);
        }
        Ok(())
    }

    /// Begins a segment on nodes that answer; re-asks the satellite for other nodes when
    /// too few do.
    async fn begin_segment(
        &mut self,
        position: SegmentPosition,
        segment_size: u64,
        piece_key: &Identity,
    ) -> Result<(String, RedundancyScheme, Vec<AddressedOrderLimit>)> {
        let inner = &self.project.inner;
        for attempt in 1..=SELECTION_ATTEMPTS {
            let begun = inner
                .metainfo
                .begin_segment(
                    &BeginSegmentRequest {
                        stream_id: self.stream_id.clone(),
                        position,
                        max_plain_size: segment_size,
                        piece_public_key: piece_key.public_key(),
                        exclude_nodes: self.failed_nodes.iter().copied().collect(),
                    },
                    &self.subject,
                )
                .await?;
            // Whatever happens next, this segment's pieces are named by its id.
            *self.begun.lock() = Some(begun.segment_id.clone());
            let answers = futures::future::join_all(begun.limits.iter().map(|l| {
                ping(
                    &inner.transport,
                    &l.limit.node_id,
                    &l.address,
                    inner.config.ping_timeout,
                )
            }))
            .await;
            let mut alive = Vec::new();
            for (limit, ok) in begun.limits.into_iter().zip(answers) {
                if ok {
                    alive.push(limit);
                } else {
                    self.failed_nodes.insert(limit.limit.node_id);
                }
            }
            if alive.len() >= begun.redundancy.optimal as usize {
                return Ok((begun.segment_id, begun.redundancy, alive));
            }
            tracing::warn!(
                attempt,
                alive = alive.len(),
                needed = begun.redundancy.optimal,
                "too few selected nodes answer; asking the satellite for others"
            );
        }
        Err(UplinkError::TooFewNodes(format!(
            "too few storage nodes answer: {} did not respond to this upload",
            self.failed_nodes.len()
        )))
    }

    /// Uploads the next segment; returns its size and whether the input has ended.
    async fn remote_segment<R: AsyncRead + Unpin + Send>(
        &mut self,
        input: &mut Input<R>,
        position: SegmentPosition,
        segment_size: u64,
    ) -> Result<(u64, bool)> {
        // One turn per segment, held until it is committed; a segment upload holds
        // no other turn, so waiting here cannot deadlock. The semaphore is never
        // closed.
        let turns = self.project.inner.segment_turns.clone();
        let _turn = turns
            .acquire_owned()
            .await
            .map_err(|_| UplinkError::UploadFailed("the client is shutting down".into()))?;
        let started = std::time::Instant::now();
        let piece_key = Identity::generate(0);
        let (segment_id, scheme, limits) = self
            .begin_segment(position, segment_size, &piece_key)
            .await?;
        let inner = &self.project.inner;
        let config = &inner.config;
        let segment_key = Key::random();
        let mut encoder = SegmentEncoder::new(scheme, &segment_key);
        let spool_dir = config.spool_dir.clone().unwrap_or_else(std::env::temp_dir);
        let spool = Spool::with_memory(
            scheme,
            inner.spool_memory.reserve(config.spool_memory),
            &spool_dir,
        );
        // Frees the spool when the segment is done, whatever way it ends.
        let _release = ReleaseOnDrop(spool.clone());
        let mut pieces = PieceSet::new(
            Settings {
                transport: inner.transport.clone(),
                piece_key,
                queue: config.piece_queue,
                idle_timeout: config.idle_timeout,
                replacement_rounds: config.replacement_rounds,
            },
            scheme,
            spool.clone(),
            position,
            segment_id,
            limits,
        );
        let begun = self.begun.clone();
        let mut remember = move |id: &str| *begun.lock() = Some(id.to_string());

        let block = scheme.block_plain_size() as usize;
        let batch = (config.upload_batch_size / block).max(1) * block;
        let mut buf = vec![0u8; batch];
        let mut plain_size: u64 = 0;
        let mut batch_index = 0usize;
        loop {
            let want = (batch as u64).min(segment_size - plain_size) as usize;
            let n = input.read_full(&mut buf[..want]).await?;
            self.digests.update(&buf[..n]);
            plain_size += n as u64;
            let last = n < want || plain_size == segment_size;
            let shares = encoder.encode_batch(&buf[..n], last)?;
            spool.push(&shares).await;
            pieces.collect_finished(&mut self.failed_nodes);
            pieces
                .ensure_viable(&inner.metainfo, &self.subject, &mut remember)
                .await?;
            pieces.distribute(&shares, batch_index).await;
            drop(shares);
            batch_index += 1;
            if let Some(p) = &self.progress {
                p(n as u64);
            }
            if last {
                break;
            }
        }
        spool.finish();
        let receipts = pieces
            .finish(
                started,
                &inner.metainfo,
                &self.subject,
                &mut self.failed_nodes,
                &mut remember,
            )
            .await?;
        let eof = plain_size < segment_size || input.at_eof().await?;
        // A part's last segment carries the part's ETag.
        let encrypted_etag = match (&self.etag_key, eof) {
            (Some(key), true) => Some(seal(key, self.digests.md5_hex().as_bytes())),
            _ => None,
        };
        inner
            .metainfo
            .commit_segment(
                &CommitSegmentRequest {
                    segment_id: pieces.segment_id.clone(),
                    plain_size,
                    encrypted_key: seal(
                        &segment_wrap_key(&self.content_key, position),
                        segment_key.as_bytes(),
                    ),
                    receipts,
                    encrypted_etag,
                },
                &self.subject,
            )
            .await?;
        *self.begun.lock() = None;
        drop(pieces);
        Ok((plain_size, eof))
    }
}
