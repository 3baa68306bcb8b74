//! Uploading an object: inline when small, otherwise segment by segment, each segment
//! encrypted, erasure coded and streamed to nodes in parallel, with the slowest pieces
//! cut once enough are stored.
//!
//! Memory is bounded by one batch per piece queue, never by the object or segment size,
//! so streams of any length (stdin) upload with a fixed budget.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncRead;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::JoinHandle;

use super::error::{PieceError, Result, Subject, UplinkError, summarize};
use super::input::{Input, read_full};
use super::objects::ObjectEntry;
use super::pieces::{ping, upload_piece};
use super::{Progress, Project};
use crate::crypto::Key;
use crate::crypto::content::{BlockCipher, content_key, metadata_key, seal, segment_wrap_key};
use crate::erasure::segment::SegmentEncoder;
use crate::protocol::metainfo::{
    BeginObjectRequest, BeginSegmentRequest, CommitObjectRequest, CommitSegmentRequest,
    InlineSegmentRequest, PieceReceipt,
};
use crate::protocol::{AddressedOrderLimit, Identity, NodeId, PieceHash, RedundancyScheme};

/// How many times a segment's node set is re-requested when nodes do not answer.
const SELECTION_ATTEMPTS: usize = 3;

#[derive(Clone, Default)]
pub struct UploadOptions {
    /// Unix seconds at which the object disappears.
    pub expires_at: Option<i64>,
    pub content_type: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub progress: Option<Progress>,
}

/// What is sealed into an object's metadata.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct ObjectMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user: BTreeMap<String, String>,
}

/// One upload in progress.
struct Upload<'a> {
    project: &'a Project,
    subject: Subject,
    stream_id: String,
    content_key: Key,
    progress: Option<Progress>,
    /// Nodes that failed earlier segments of this upload.
    failed_nodes: HashSet<NodeId>,
}

impl Project {
    /// Uploads everything `reader` yields as `bucket/key`, replacing any existing object.
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
        let store = &self.inner.access.encryption;
        let encrypted_key = store.encrypt_key(bucket, key)?;
        let object_key = store.object_key(bucket, key)?;
        let subject = Subject::object(bucket, key);
        let begin = self
            .inner
            .metainfo
            .begin_object(
                &BeginObjectRequest {
                    bucket: bucket.to_string(),
                    encrypted_key: encrypted_key.clone(),
                    expires_at: options.expires_at,
                },
                &subject,
            )
            .await?;
        let mut upload = Upload {
            project: self,
            subject: subject.clone(),
            stream_id: begin.stream_id.clone(),
            content_key: content_key(&object_key),
            progress: options.progress.clone(),
            failed_nodes: HashSet::new(),
        };
        let mut reader = reader;
        let inline_limit = begin.max_inline_size as usize;
        let mut head = vec![0u8; inline_limit + 1];
        let n = read_full(&mut reader, &mut head).await?;
        if n <= inline_limit {
            if n > 0 {
                upload.inline_segment(&head[..n]).await?;
            }
        } else {
            let segment_size = self.inner.config.segment_size.min(begin.max_segment_size);
            let mut input = Input::new(tokio::io::AsyncReadExt::chain(&head[..n], reader));
            let mut position = 0u32;
            loop {
                let eof = upload
                    .remote_segment(&mut input, position, segment_size)
                    .await?;
                position += 1;
                if eof {
                    break;
                }
            }
        }
        let metadata = ObjectMetadata {
            content_type: options.content_type.clone(),
            user: options.metadata.clone(),
        };
        let encrypted_metadata = (metadata != ObjectMetadata::default()).then(|| {
            seal(
                &metadata_key(&object_key),
                &serde_json::to_vec(&metadata).expect("metadata serializes"),
            )
        });
        let info = self
            .inner
            .metainfo
            .commit_object(
                &CommitObjectRequest {
                    stream_id: begin.stream_id,
                    encrypted_metadata,
                },
                &subject,
            )
            .await?;
        Ok(ObjectEntry {
            key: key.to_string(),
            is_prefix: false,
            size: info.plain_size,
            created_at: info.created_at,
            expires_at: info.expires_at,
            content_type: options.content_type,
            metadata: options.metadata,
        })
    }
}

impl Upload<'_> {
    async fn inline_segment(&mut self, data: &[u8]) -> Result<()> {
        let segment_key = Key::random();
        let mut sealed = Vec::with_capacity(data.len() + 16);
        sealed.extend_from_slice(data);
        sealed.extend_from_slice(&[0u8; 16]);
        BlockCipher::new(&segment_key).seal_block(0, &mut sealed);
        self.project
            .inner
            .metainfo
            .inline_segment(
                &InlineSegmentRequest {
                    stream_id: self.stream_id.clone(),
                    position: 0,
                    plain_size: data.len() as u64,
                    encrypted_key: seal(
                        &segment_wrap_key(&self.content_key, 0),
                        segment_key.as_bytes(),
                    ),
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
        position: u32,
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
            let answers = futures::future::join_all(
                begun
                    .limits
                    .iter()
                    .map(|l| ping(&inner.http, &l.address, inner.config.ping_timeout)),
            )
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

    /// Uploads the next segment; returns whether the input has ended.
    async fn remote_segment<R: AsyncRead + Unpin + Send>(
        &mut self,
        input: &mut Input<R>,
        position: u32,
        segment_size: u64,
    ) -> Result<bool> {
        let started = std::time::Instant::now();
        let piece_key = Identity::generate(0);
        let (segment_id, scheme, limits) = self
            .begin_segment(position, segment_size, &piece_key)
            .await?;
        let inner = &self.project.inner;
        let segment_key = Key::random();
        let mut encoder = SegmentEncoder::new(scheme, &segment_key);

        // One uploader per piece, each fed through a bounded queue.
        let mut pieces: Vec<LivePiece> = limits
            .into_iter()
            .map(|target| {
                let (tx, rx) = mpsc::channel(inner.config.piece_queue);
                let num = target.piece_num;
                let node = target.limit.node_id;
                let handle = tokio::spawn(upload_piece(
                    inner.http.clone(),
                    target,
                    rx,
                    piece_key.clone(),
                    inner.config.idle_timeout,
                ));
                LivePiece {
                    num,
                    node,
                    tx: Some(tx),
                    handle: Some(handle),
                }
            })
            .collect();

        let block = scheme.block_plain_size() as usize;
        let batch = (inner.config.upload_batch_size / block).max(1) * block;
        let mut buf = vec![0u8; batch];
        let mut plain_size: u64 = 0;
        let mut errors: Vec<String> = Vec::new();
        loop {
            let want = (batch as u64).min(segment_size - plain_size) as usize;
            let n = input.read_full(&mut buf[..want]).await?;
            plain_size += n as u64;
            let last = n < want || plain_size == segment_size;
            let shares = encoder.encode_batch(&buf[..n], last)?;
            distribute(
                &mut pieces,
                shares,
                scheme.optimal as usize,
                &mut errors,
                inner.config.idle_timeout,
            )
            .await?;
            if let Some(p) = &self.progress {
                p(n as u64);
            }
            if last {
                break;
            }
        }

        // Close every queue; collect receipts until `optimal` are in, then cut the rest.
        let mut aborts = AbortAll(Vec::new());
        let mut running: FuturesUnordered<_> = pieces
            .iter_mut()
            .filter_map(|p| {
                p.tx.take()?;
                let handle = p.handle.take()?;
                aborts.0.push(handle.abort_handle());
                let (num, node) = (p.num, p.node);
                Some(async move { (num, node, handle.await) })
            })
            .collect();
        let mut receipts: Vec<PieceReceipt> = Vec::new();
        // Once `optimal` pieces are stored, the others get a short grace (an eighth of
        // the segment's time so far): healthy nodes finishing together are all kept,
        // while a truly slow long tail is cut.
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            let next = match deadline {
                None => running.next().await,
                Some(d) => match tokio::time::timeout_at(d, running.next()).await {
                    Ok(n) => n,
                    Err(_) => break,
                },
            };
            let Some((num, node, joined)) = next else {
                break;
            };
            match joined {
                Ok(Ok(receipt)) => {
                    receipts.push(PieceReceipt {
                        piece_num: num,
                        receipt,
                    });
                    if receipts.len() >= scheme.optimal as usize && deadline.is_none() {
                        let grace = (started.elapsed() / 8)
                            .clamp(Duration::from_millis(50), Duration::from_secs(2));
                        deadline = Some(tokio::time::Instant::now() + grace);
                    }
                }
                Ok(Err(e)) => {
                    self.failed_nodes.insert(node);
                    errors.push(e.to_string());
                }
                Err(e) => errors.push(format!("piece {num}: {e}")),
            }
        }
        // The long tail: abort what is still running so that those connections close and
        // the nodes discard the partial pieces.
        drop(running);
        drop(aborts);
        if receipts.len() < scheme.optimal as usize {
            return Err(UplinkError::UploadFailed(format!(
                "segment {position}: only {} of the {} pieces needed were stored ({})",
                receipts.len(),
                scheme.optimal,
                summarize(&errors)
            )));
        }
        inner
            .metainfo
            .commit_segment(
                &CommitSegmentRequest {
                    segment_id,
                    plain_size,
                    encrypted_key: seal(
                        &segment_wrap_key(&self.content_key, position),
                        segment_key.as_bytes(),
                    ),
                    receipts,
                },
                &self.subject,
            )
            .await?;
        Ok(plain_size < segment_size || input.at_eof().await?)
    }
}

/// Aborts the tasks when dropped: on success (the long tail), on error, and when the
/// upload itself is cancelled.
struct AbortAll(Vec<tokio::task::AbortHandle>);

impl Drop for AbortAll {
    fn drop(&mut self) {
        for a in &self.0 {
            a.abort();
        }
    }
}

/// A piece upload in progress. Dropping it (an error anywhere in the segment) aborts
/// the transfer, so that no node completes a truncated piece.
struct LivePiece {
    num: u16,
    node: NodeId,
    tx: Option<mpsc::Sender<bytes::Bytes>>,
    handle: Option<JoinHandle<std::result::Result<PieceHash, PieceError>>>,
}

impl LivePiece {
    fn cut(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}

impl Drop for LivePiece {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}

/// Hands each live piece its next shares. A piece whose queue is full while at least
/// `optimal` others keep up is the long tail: it is cut. Otherwise the batch waits for
/// it (bounded by the idle timeout).
async fn distribute(
    pieces: &mut [LivePiece],
    shares: Vec<bytes::Bytes>,
    optimal: usize,
    errors: &mut Vec<String>,
    idle_timeout: std::time::Duration,
) -> Result<()> {
    let mut lagging = Vec::new();
    let mut accepted = 0usize;
    for piece in pieces.iter_mut() {
        let Some(tx) = &piece.tx else { continue };
        let data = shares[piece.num as usize].clone();
        match tx.try_send(data) {
            Ok(()) => accepted += 1,
            Err(TrySendError::Full(data)) => lagging.push((piece.num, data)),
            Err(TrySendError::Closed(_)) => {
                // The uploader ended early, so it failed: record why.
                piece.tx = None;
                if let Some(handle) = piece.handle.take() {
                    match handle.await {
                        Ok(Err(e)) => errors.push(e.to_string()),
                        Ok(Ok(_)) => errors.push(format!("piece {} ended early", piece.num)),
                        Err(e) => errors.push(e.to_string()),
                    }
                }
            }
        }
    }
    for (num, data) in lagging {
        let Some(piece) = pieces.iter_mut().find(|p| p.num == num) else {
            continue;
        };
        if accepted >= optimal {
            // Long tail: enough pieces keep up without this one.
            piece.cut();
            continue;
        }
        let Some(tx) = &piece.tx else { continue };
        match tokio::time::timeout(idle_timeout, tx.send(data)).await {
            Ok(Ok(())) => accepted += 1,
            _ => {
                piece.cut();
                errors.push(format!("piece {num} stalled"));
            }
        }
    }
    let live = pieces.iter().filter(|p| p.tx.is_some()).count();
    if live < optimal {
        return Err(UplinkError::UploadFailed(format!(
            "only {live} pieces are still uploading and {optimal} are needed ({})",
            summarize(errors)
        )));
    }
    Ok(())
}
