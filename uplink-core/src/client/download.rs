//! Downloading an object or a byte range of it.
//!
//! Per segment, `k + extra` piece fetches race; decoding proceeds in windows of stripes
//! from the first `k` pieces that have the window (data pieces first: they need no
//! decoding). After the first window the pieces not chosen go on standby: their
//! transfers stay open but are no longer read (flow control pauses the node), and when
//! a chosen piece fails a standby one takes over where decoding is. Only pieces that
//! failed (bad data, a refusal, no connection, no progress) are given up for good; the
//! satellite is asked for other pieces only once no standby piece is left, so a
//! download fails only when fewer than `k` verified pieces can be reached.
//! A range fetches only the stripes (and hash blocks) that cover it.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::task::Poll;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::error::{PieceError, Result, Subject, UplinkError, summarize};
use super::objects::ObjectEntry;
use super::pieces::{PieceFetch, VerifiedChunk, fetch_piece};
use super::{Progress, Project};
use crate::crypto::Key;
use crate::crypto::content::{BlockCipher, content_key, open, segment_wrap_key};
use crate::erasure::segment::SegmentDecoder;
use crate::protocol::metainfo::{
    DownloadObjectRequest, DownloadObjectResponse, DownloadSegmentRequest, DownloadSegmentResponse,
    SegmentInfo,
};
use crate::protocol::piece::DEFAULT_HASH_BLOCK_SIZE;
use crate::protocol::{AddressedOrderLimit, PublicKey, RedundancyScheme, SegmentPosition};

/// An inclusive byte range like HTTP's: `start-end`, `start-` or `-suffix`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// Bytes `start..=end`.
    Inclusive { start: u64, end: u64 },
    /// From `start` to the end of the object.
    From(u64),
    /// The last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The half-open `[start, end)` of this range within an object of `size` bytes.
    pub fn resolve(&self, size: u64) -> Result<(u64, u64)> {
        let (start, end) = match *self {
            ByteRange::Inclusive { start, end } => (start, end.saturating_add(1).min(size)),
            ByteRange::From(start) => (start, size),
            ByteRange::Suffix(n) => (size.saturating_sub(n), size),
        };
        if start >= size && !(size == 0 && start == 0) {
            return Err(UplinkError::RangeNotSatisfiable { start, size });
        }
        Ok((start, end))
    }
}

impl FromStr for ByteRange {
    type Err = UplinkError;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            UplinkError::InvalidArgument(format!(
                "range {s:?} must look like START-END (inclusive), START- or -LENGTH"
            ))
        };
        let (a, b) = s.trim().split_once('-').ok_or_else(bad)?;
        let num = |x: &str| x.trim().parse::<u64>().map_err(|_| bad());
        match (a.trim().is_empty(), b.trim().is_empty()) {
            (false, false) => {
                let (start, end) = (num(a)?, num(b)?);
                if end < start {
                    return Err(bad());
                }
                Ok(ByteRange::Inclusive { start, end })
            }
            (false, true) => Ok(ByteRange::From(num(a)?)),
            (true, false) => Ok(ByteRange::Suffix(num(b)?)),
            (true, true) => Err(bad()),
        }
    }
}

/// An object being read: what it is, the byte range being read, and the bytes as they
/// arrive (a [`Stream`](futures::Stream) of chunks; an error ends it). Dropping it
/// stops the download.
pub struct ObjectReader {
    pub entry: ObjectEntry,
    /// The half-open `[start, end)` being read.
    pub range: (u64, u64),
    rx: mpsc::Receiver<Bytes>,
    producer: Option<AbortOnDrop<Result<()>>>,
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader")
            .field("key", &self.entry.key)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

impl futures::Stream for ObjectReader {
    type Item = Result<Bytes>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(chunk) = std::task::ready!(this.rx.poll_recv(cx)) {
            return Poll::Ready(Some(Ok(chunk)));
        }
        // Everything sent: the producer's outcome says whether that was all.
        let Some(producer) = &mut this.producer else {
            return Poll::Ready(None);
        };
        let outcome = std::task::ready!(std::pin::Pin::new(&mut producer.0).poll(cx));
        this.producer = None;
        Poll::Ready(match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(Err(e)),
            Err(e) => Some(Err(UplinkError::DownloadFailed(e.to_string()))),
        })
    }
}

/// What the background half of a read needs.
struct Read {
    req: DownloadObjectRequest,
    first: DownloadObjectResponse,
    start: u64,
    end: u64,
    content_key: Key,
    subject: Subject,
}

impl Project {
    /// Opens `bucket/key` (or `range` of it) for reading. One satellite request gives
    /// the object's entry and its first segments; the bytes then stream from the nodes
    /// in the background, through a queue of `output_queue` chunks.
    pub async fn open_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<ObjectReader> {
        let (encrypted_key, subject) = self.object_name(bucket, key).await?;
        let content_key = content_key(&self.inner.access.encryption.object_key(bucket, key)?);
        // Where the read starts, so that its segment's download comes with the object.
        let first_at = match range {
            None => Some(0),
            Some(ByteRange::Inclusive { start, .. } | ByteRange::From(start)) => Some(start),
            Some(ByteRange::Suffix(_)) => None,
        };
        let req = DownloadObjectRequest {
            bucket: bucket.to_string(),
            encrypted_key,
            segment_cursor: SegmentPosition::default(),
            segment_limit: None,
            first_at,
        };
        let first = self.inner.metainfo.download_object(&req, &subject).await?;
        let entry = self.object_entry(bucket, key, &first.object);
        let size = first.object.plain_size;
        let (start, end) = match range {
            Some(r) => r.resolve(size)?,
            None => (0, size),
        };
        let (tx, rx) = mpsc::channel::<Bytes>(self.inner.config.output_queue);
        let this = self.clone();
        let read = Read {
            req,
            first,
            start,
            end,
            content_key,
            subject,
        };
        let producer = AbortOnDrop(tokio::spawn(async move { this.produce(read, tx).await }));
        Ok(ObjectReader {
            entry,
            range: (start, end),
            rx,
            producer: Some(producer),
        })
    }

    /// Writes the object (or `range` of it) to `writer`; returns the bytes written.
    pub async fn download<W: AsyncWrite + Unpin + Send>(
        &self,
        bucket: &str,
        key: &str,
        range: Option<ByteRange>,
        mut writer: W,
        progress: Option<Progress>,
    ) -> Result<u64> {
        use futures::StreamExt;
        let mut reader = self.open_object(bucket, key, range).await?;
        let mut written = 0u64;
        while let Some(chunk) = reader.next().await {
            let chunk = chunk?;
            writer.write_all(&chunk).await?;
            written += chunk.len() as u64;
            if let Some(p) = &progress {
                p(chunk.len() as u64);
            }
        }
        writer.flush().await?;
        Ok(written)
    }

    async fn produce(&self, read: Read, out: mpsc::Sender<Bytes>) -> Result<()> {
        let Read {
            mut req,
            first,
            start,
            end,
            content_key: ckey,
            subject,
        } = read;
        if start >= end {
            return Ok(());
        }
        let stream_id = first.stream_id.clone();
        let version = first.object.object_id.clone();
        let mut page = first;
        let mut prefetched = page.first_segment.take();
        req.first_at = None;
        // Bytes `[start, reached)` are on their way out. The segments must cover the
        // range without a gap: a read never ends quietly short.
        let mut reached = start;
        loop {
            for seg in &page.segments {
                let seg_end = seg.plain_offset + seg.plain_size;
                if seg_end <= start || seg.plain_offset >= end {
                    continue;
                }
                if seg.plain_offset > reached {
                    return Err(short_read(&subject, reached));
                }
                let a = reached - seg.plain_offset;
                let b = end.min(seg_end) - seg.plain_offset;
                let ready = prefetched.take_if(|p| p.info.position == seg.position);
                self.download_segment(&stream_id, seg, ready, a, b, &ckey, &subject, &out)
                    .await
                    .map_err(changed_while_read)?;
                reached = seg.plain_offset + b;
            }
            let past_range = page
                .segments
                .last()
                .is_some_and(|s| s.plain_offset + s.plain_size >= end);
            if !page.more || past_range {
                break;
            }
            req.segment_cursor = page
                .segments
                .last()
                .map(|s| s.position.successor())
                .unwrap_or_default();
            page = self
                .inner
                .metainfo
                .download_object(&req, &subject)
                .await
                .map_err(changed_while_read)?;
            // Later pages are looked up by key again: they must be of the same version.
            if page.object.object_id != version {
                return Err(changed_while_read(UplinkError::ObjectNotFound(
                    subject.key.clone().unwrap_or_default(),
                )));
            }
        }
        if reached < end {
            return Err(short_read(&subject, reached));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn download_segment(
        &self,
        stream_id: &str,
        seg: &SegmentInfo,
        ready: Option<DownloadSegmentResponse>,
        a: u64,
        b: u64,
        ckey: &Key,
        subject: &Subject,
        out: &mpsc::Sender<Bytes>,
    ) -> Result<()> {
        let info = match ready {
            Some(info) => info,
            None => {
                self.inner
                    .metainfo
                    .download_segment(
                        &DownloadSegmentRequest {
                            stream_id: stream_id.to_string(),
                            position: seg.position,
                            exclude: Vec::new(),
                        },
                        subject,
                    )
                    .await?
            }
        };
        if info.satellite_public_key.node_id() != self.inner.access.satellite.id {
            return Err(UplinkError::DownloadFailed(
                "the satellite's key does not match the satellite id in the access grant".into(),
            ));
        }
        let key_bytes: [u8; 32] = open(&segment_wrap_key(ckey, seg.position), &info.encrypted_key)?
            .as_slice()
            .try_into()
            .map_err(|_| UplinkError::DownloadFailed("segment key has the wrong length".into()))?;
        let segment_key = Key::from_bytes(key_bytes);
        if b > info.info.plain_size {
            return Err(UplinkError::DownloadFailed(format!(
                "segment {} holds {} bytes, the object's listing needs {b}",
                seg.position, info.info.plain_size
            )));
        }
        if let Some(data) = &info.inline_data {
            let mut data = data.clone();
            if data.len() as u64 != info.info.plain_size + 16 {
                return Err(UplinkError::DownloadFailed(format!(
                    "inline segment holds {} bytes, its recorded size needs {}",
                    data.len(),
                    info.info.plain_size + 16
                )));
            }
            BlockCipher::new(&segment_key).open_block(0, &mut data)?;
            data.truncate(data.len() - 16);
            if a < b {
                let _ = out
                    .send(Bytes::from(data).slice(a as usize..b as usize))
                    .await;
            }
            return Ok(());
        }
        SegmentDownload::new(self, stream_id, subject, &info, segment_key)?
            .run(a, b, out)
            .await
    }
}

/// An object that disappears after its read began was deleted or replaced meanwhile:
/// the read ends (a new read gets the new version), and says so.
fn changed_while_read(e: UplinkError) -> UplinkError {
    match e {
        UplinkError::ObjectNotFound(key) => UplinkError::DownloadFailed(format!(
            "object {key:?} was deleted or replaced while it was being read; read it again"
        )),
        other => other,
    }
}

/// The satellite's segments stop before the end of the range being read.
fn short_read(subject: &Subject, at: u64) -> UplinkError {
    let key = subject.key.as_deref().unwrap_or_default();
    UplinkError::DownloadFailed(format!(
        "object {key:?}: its segments end at byte {at}, before the end of the read; it may \
         have been replaced meanwhile: read it again"
    ))
}

/// Aborts the task when dropped, so that a cancelled download stops fetching.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Where a piece of a segment download stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// Read from: among the pieces decoding uses (or racing to be).
    Active,
    /// Lost the race: still open, not read until an active piece fails.
    Standby,
    /// Failed; its transfer is over.
    Failed,
}

/// One piece being fetched for a segment download.
struct Fetching {
    num: u16,
    rx: mpsc::Receiver<VerifiedChunk>,
    handle: JoinHandle<()>,
    /// Piece offset of `buf[0]`.
    buf_start: u64,
    buf: BytesMut,
    role: Role,
    /// Whether it delivered any verified data.
    delivered: bool,
}

impl Fetching {
    fn covers(&self, to: u64) -> bool {
        self.buf_start + self.buf.len() as u64 >= to
    }

    /// Drops buffered bytes before piece offset `from` (already decoded).
    fn discard_before(&mut self, from: u64) {
        if self.buf_start < from {
            let n = ((from - self.buf_start) as usize).min(self.buf.len());
            let _ = self.buf.split_to(n);
            self.buf_start += n as u64;
        }
    }
}

impl Drop for Fetching {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// How often a piece whose transfer broke after delivering verified data may be asked
/// for again (with a fresh limit) before it is given up.
const RETRIES_AFTER_BREAK: u8 = 1;

/// The state of one segment's download.
struct SegmentDownload<'a> {
    project: &'a Project,
    stream_id: &'a str,
    subject: &'a Subject,
    position: SegmentPosition,
    decoder: SegmentDecoder,
    scheme: RedundancyScheme,
    piece_size: u64,
    plain_size: u64,
    satellite_key: PublicKey,
    initial: Vec<AddressedOrderLimit>,
    pieces: Vec<Fetching>,
    /// Pieces given up for good: never asked for again.
    excluded: HashSet<u16>,
    /// Pieces whose transfer broke after delivering data, and how often that happened:
    /// they may be asked for again.
    broken: HashMap<u16, u8>,
    /// Every piece number the satellite named (the only ones `exclude` may list).
    known: HashSet<u16>,
    errors: Vec<String>,
    /// Last piece byte fetched.
    piece_end: u64,
}

impl<'a> SegmentDownload<'a> {
    fn new(
        project: &'a Project,
        stream_id: &'a str,
        subject: &'a Subject,
        info: &DownloadSegmentResponse,
        segment_key: Key,
    ) -> Result<Self> {
        info.redundancy.validate()?;
        Ok(Self {
            project,
            stream_id,
            subject,
            position: info.info.position,
            decoder: SegmentDecoder::new(info.redundancy, &segment_key),
            scheme: info.redundancy,
            piece_size: info.piece_size,
            plain_size: info.info.plain_size,
            satellite_key: info.satellite_public_key,
            initial: info.limits.clone(),
            pieces: Vec::new(),
            excluded: HashSet::new(),
            broken: HashMap::new(),
            known: HashSet::new(),
            errors: Vec::new(),
            piece_end: 0,
        })
    }

    /// Whether piece `num` is being fetched (actively or on standby).
    fn open(&self, num: u16) -> bool {
        self.pieces
            .iter()
            .any(|p| p.num == num && p.role != Role::Failed)
    }

    fn start(&mut self, target: AddressedOrderLimit, offset: u64) {
        let num = target.piece_num;
        if num >= self.scheme.total || self.excluded.contains(&num) || self.open(num) {
            return;
        }
        self.known.insert(num);
        let config = &self.project.inner.config;
        let (tx, rx) = mpsc::channel(config.download_queue);
        let fetch = PieceFetch {
            target,
            offset,
            length: self.piece_end - offset,
            piece_size: self.piece_size,
            satellite_key: self.satellite_key,
        };
        let handle = tokio::spawn(fetch_piece(
            self.project.inner.transport.clone(),
            fetch,
            tx,
            config.idle_timeout,
        ));
        self.pieces.push(Fetching {
            num,
            rx,
            handle,
            buf_start: offset,
            buf: BytesMut::new(),
            role: Role::Active,
            delivered: false,
        });
    }

    fn count(&self, role: Role) -> usize {
        self.pieces.iter().filter(|p| p.role == role).count()
    }

    /// Marks piece `i` failed; whether it may be asked for again depends on why.
    fn fail(&mut self, i: usize, why: Option<PieceError>) {
        let p = &mut self.pieces[i];
        p.role = Role::Failed;
        p.handle.abort();
        let num = p.num;
        let retry = match &why {
            // The transfer broke after the node had proven it holds good data: worth
            // another limit, once.
            Some(PieceError::Unreachable { .. }) if p.delivered => {
                let n = self.broken.entry(num).or_default();
                *n += 1;
                *n <= RETRIES_AFTER_BREAK
            }
            _ => false,
        };
        if !retry {
            self.excluded.insert(num);
        }
        match why {
            Some(PieceError::Cancelled) => {}
            Some(e) => {
                tracing::debug!(piece = num, error = %e, "piece download failed");
                self.errors.push(e.to_string());
            }
            None => self
                .errors
                .push(format!("piece {num} ended before the requested range")),
        }
    }

    /// Decodes plaintext bytes `[a, b)` of the segment onto `out`.
    async fn run(mut self, a: u64, b: u64, out: &mpsc::Sender<Bytes>) -> Result<()> {
        let share = self.scheme.share_size as u64;
        let block_plain = self.scheme.block_plain_size();
        let hash_block = DEFAULT_HASH_BLOCK_SIZE as u64;
        let (first_stripe, end_stripe) = self.scheme.stripes_covering(a, b - a);
        self.piece_end =
            ((end_stripe * share).div_ceil(hash_block) * hash_block).min(self.piece_size);
        if end_stripe * share > self.piece_size {
            return Err(UplinkError::DownloadFailed(format!(
                "segment {} is shorter than its recorded size",
                self.position
            )));
        }
        let start_offset = first_stripe * share / hash_block * hash_block;
        for target in std::mem::take(&mut self.initial) {
            self.start(target, start_offset);
        }
        let window = (hash_block / share).max(1);
        let k = self.scheme.k as usize;
        let mut next = first_stripe;
        let mut first_window = true;
        while next < end_stripe {
            let window_end = (next + window).min(end_stripe);
            let need = window_end * share;
            self.fill(need, next * share).await?;

            let mut chosen: Vec<usize> = (0..self.pieces.len())
                .filter(|&i| self.pieces[i].role == Role::Active && self.pieces[i].covers(need))
                .collect();
            chosen.sort_by_key(|&i| self.pieces[i].num);
            chosen.truncate(k);
            let mut shares: Vec<Option<Vec<u8>>> = vec![None; self.scheme.total as usize];
            for &i in &chosen {
                let p = &self.pieces[i];
                let from = (next * share - p.buf_start) as usize;
                let to = (need - p.buf_start) as usize;
                shares[p.num as usize] = Some(p.buf[from..to].to_vec());
            }
            let plain = self.decoder.decode_stripes(next, &mut shares)?;
            let window_start = next * block_plain;
            let lo = a.max(window_start) - window_start;
            let hi = b.min(window_end * block_plain).min(self.plain_size) - window_start;
            if lo < hi
                && out
                    .send(Bytes::from(plain).slice(lo as usize..hi as usize))
                    .await
                    .is_err()
            {
                return Ok(()); // the writer is gone; its error is reported there
            }
            for p in &mut self.pieces {
                p.discard_before(need);
            }
            if first_window {
                // The race is decided: read the winners, keep the others on standby.
                let keep: HashSet<u16> = chosen.iter().map(|&i| self.pieces[i].num).collect();
                for p in &mut self.pieces {
                    if p.role == Role::Active && !keep.contains(&p.num) {
                        p.role = Role::Standby;
                    }
                }
                first_window = false;
            }
            next = window_end;
        }
        Ok(())
    }

    /// Waits until at least `k` active pieces hold data up to piece byte `need`,
    /// bringing back standby pieces and then asking the satellite for others (from
    /// `restart_at` on) when active ones fail.
    async fn fill(&mut self, need: u64, restart_at: u64) -> Result<()> {
        let k = self.scheme.k as usize;
        loop {
            let ready = self
                .pieces
                .iter()
                .filter(|p| p.role == Role::Active && p.covers(need))
                .count();
            if ready >= k {
                return Ok(());
            }
            if self.count(Role::Active) < k {
                let standby = self
                    .pieces
                    .iter_mut()
                    .filter(|p| p.role == Role::Standby)
                    .min_by_key(|p| p.num);
                match standby {
                    Some(p) => {
                        tracing::debug!(piece = p.num, "a standby piece takes over");
                        p.role = Role::Active;
                    }
                    None => self.top_up(restart_at).await?,
                }
                continue;
            }
            let pieces = &mut self.pieces;
            let next = futures::future::poll_fn(|cx| {
                for (i, p) in pieces.iter_mut().enumerate() {
                    if p.role != Role::Active || p.covers(need) {
                        continue;
                    }
                    if let Poll::Ready(m) = p.rx.poll_recv(cx) {
                        return Poll::Ready((i, m));
                    }
                }
                Poll::Pending
            });
            // Every piece still needed must deliver a verified block within the idle
            // timeout, or it is given up as stalled.
            let Ok((i, msg)) =
                tokio::time::timeout(self.project.inner.config.idle_timeout, next).await
            else {
                let stalled: Vec<usize> = (0..self.pieces.len())
                    .filter(|&i| {
                        self.pieces[i].role == Role::Active && !self.pieces[i].covers(need)
                    })
                    .collect();
                for i in stalled {
                    let num = self.pieces[i].num;
                    self.fail(i, Some(PieceError::Cancelled));
                    self.errors
                        .push(format!("piece {num} delivered no verified data in time"));
                }
                continue;
            };
            match msg {
                Some(Ok(chunk)) => {
                    let p = &mut self.pieces[i];
                    p.buf.extend_from_slice(&chunk);
                    p.delivered = true;
                    // A piece back from standby may deliver what is already decoded.
                    p.discard_before(restart_at);
                }
                Some(Err(e)) => self.fail(i, Some(e)),
                None => self.fail(i, None),
            }
        }
    }

    /// Asks the satellite for pieces not tried yet (and for broken ones again), and
    /// starts them at `restart_at`.
    async fn top_up(&mut self, restart_at: u64) -> Result<()> {
        let hash_block = DEFAULT_HASH_BLOCK_SIZE as u64;
        self.pieces.retain(|p| p.role != Role::Failed);
        // Exclude what is open or given up; pieces that broke may come back.
        let mut exclude: Vec<u16> = self
            .known
            .iter()
            .copied()
            .filter(|&num| self.excluded.contains(&num) || self.open(num))
            .collect();
        exclude.sort_unstable();
        let more = self
            .project
            .inner
            .metainfo
            .download_segment(
                &DownloadSegmentRequest {
                    stream_id: self.stream_id.to_string(),
                    position: self.position,
                    exclude,
                },
                self.subject,
            )
            .await;
        let fresh: Vec<AddressedOrderLimit> = match more {
            Ok(resp) => resp
                .limits
                .into_iter()
                .filter(|l| !self.excluded.contains(&l.piece_num) && !self.open(l.piece_num))
                .collect(),
            Err(UplinkError::SegmentUnavailable(_)) => Vec::new(),
            Err(e) => return Err(e),
        };
        if fresh.is_empty() {
            let reachable = self.pieces.len();
            return Err(UplinkError::SegmentUnavailable(format!(
                "segment {} cannot be downloaded: {} pieces are needed, {} remain reachable and \
                 no other node holds one ({})",
                self.position,
                self.scheme.k,
                reachable,
                summarize(&self.errors)
            )));
        }
        let offset = restart_at / hash_block * hash_block;
        for target in fresh {
            self.start(target, offset);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_resolve() {
        let r: ByteRange = "10-19".parse().unwrap();
        assert_eq!(r.resolve(100).unwrap(), (10, 20));
        assert_eq!(r.resolve(15).unwrap(), (10, 15));
        let r: ByteRange = "90-".parse().unwrap();
        assert_eq!(r.resolve(100).unwrap(), (90, 100));
        let r: ByteRange = "-5".parse().unwrap();
        assert_eq!(r.resolve(100).unwrap(), (95, 100));
        assert!("5-1".parse::<ByteRange>().is_err());
        assert!("abc".parse::<ByteRange>().is_err());
        assert!("-".parse::<ByteRange>().is_err());
        assert!("100-".parse::<ByteRange>().unwrap().resolve(100).is_err());
    }
}
