//! The pieces of one segment being uploaded, one task per node, and the rules that
//! decide when a segment is stored.
//!
//! - A piece that falls behind is never cut while the segment streams: once `optimal`
//!   others keep up it stops holding them back and is fed from the segment's
//!   [`Spool`] at its own pace instead (a slow node is still a good node). Only when
//!   fewer than `optimal` keep up does the batch wait for it, bounded by the idle
//!   timeout.
//! - A piece that fails is replaced: the satellite names a node the segment has not
//!   used and the piece starts over on it from the spool, for a bounded number of
//!   rounds, whenever the pieces still running or stored are fewer than `optimal`.
//! - The long tail is cut only once `optimal` receipts have actually been received.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::AbortHandle;

use super::error::{Result, Subject, UplinkError, summarize};
use super::metainfo::MetainfoClient;
use super::pieces::upload_piece;
use super::spool::Spool;
use crate::protocol::metainfo::{PieceReceipt, RetryPiecesRequest};
use crate::protocol::{
    AddressedOrderLimit, Identity, NodeId, PieceHash, RedundancyScheme, SegmentPosition,
};

#[derive(Debug, PartialEq, Eq)]
enum State {
    Running,
    Stored(PieceHash),
    Failed,
}

enum Feed {
    /// Fed by [`PieceSet::distribute`] as batches are coded.
    Live(mpsc::Sender<Bytes>),
    /// Fed from the spool by its own task.
    Spool,
    /// Fed no more (the segment is complete).
    Done,
}

struct Slot {
    num: u16,
    node: NodeId,
    state: State,
    feed: Feed,
    uploader: AbortHandle,
    feeder: Option<AbortHandle>,
    /// Why this slot's uploader was stopped on purpose, if it was.
    stopped: Option<String>,
}

impl Drop for Slot {
    /// An unfinished piece is aborted, so that its node discards the partial piece.
    fn drop(&mut self) {
        self.uploader.abort();
        if let Some(f) = &self.feeder {
            f.abort();
        }
    }
}

type Completion = (usize, std::result::Result<PieceHash, String>);

/// Settings of a piece set, from the client configuration.
pub(super) struct Settings {
    pub transport: crate::transport::Transport,
    pub piece_key: Identity,
    pub queue: usize,
    pub idle_timeout: Duration,
    pub replacement_rounds: u32,
}

pub(super) struct PieceSet {
    settings: Settings,
    scheme: RedundancyScheme,
    spool: Spool,
    position: SegmentPosition,
    /// The satellite's handle of the segment; replaced with each replacement round.
    pub segment_id: String,
    slots: Vec<Slot>,
    /// Slot of the current assignment of each piece number.
    latest: HashMap<u16, usize>,
    completions: FuturesUnordered<Pin<Box<dyn Future<Output = Completion> + Send>>>,
    errors: Vec<String>,
    rounds: u32,
    /// The satellite has no further node for this segment.
    out_of_nodes: bool,
}

impl PieceSet {
    pub fn new(
        settings: Settings,
        scheme: RedundancyScheme,
        spool: Spool,
        position: SegmentPosition,
        segment_id: String,
        limits: Vec<AddressedOrderLimit>,
    ) -> Self {
        let mut set = Self {
            settings,
            scheme,
            spool,
            position,
            segment_id,
            slots: Vec::new(),
            latest: HashMap::new(),
            completions: FuturesUnordered::new(),
            errors: Vec::new(),
            rounds: 0,
            out_of_nodes: false,
        };
        for target in limits {
            set.start(target, None);
        }
        set
    }

    /// Starts uploading a piece: fed live, or from the spool from batch `from` on.
    fn start(&mut self, target: AddressedOrderLimit, from: Option<usize>) {
        let (tx, rx) = mpsc::channel(self.settings.queue);
        let num = target.piece_num;
        let node = target.limit.node_id;
        let handle = tokio::spawn(upload_piece(
            self.settings.transport.clone(),
            target,
            rx,
            self.settings.piece_key.clone(),
            self.settings.idle_timeout,
        ));
        let idx = self.slots.len();
        let uploader = handle.abort_handle();
        self.completions.push(Box::pin(async move {
            let result = match handle.await {
                Ok(Ok(hash)) => Ok(hash),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(format!("piece {num}: {e}")),
            };
            (idx, result)
        }));
        self.slots.push(Slot {
            num,
            node,
            state: State::Running,
            feed: Feed::Live(tx.clone()),
            uploader,
            feeder: None,
            stopped: None,
        });
        self.latest.insert(num, idx);
        match from {
            Some(batch) => self.feed_from_spool(idx, tx, batch),
            None => drop(tx),
        }
    }

    /// From now on slot `idx` is fed from the spool, starting with batch `batch`.
    fn feed_from_spool(&mut self, idx: usize, tx: mpsc::Sender<Bytes>, batch: usize) {
        let slot = &mut self.slots[idx];
        let spool = self.spool.clone();
        let (num, uploader) = (slot.num, slot.uploader.clone());
        let feeder = tokio::spawn(async move {
            let mut batch = batch;
            while spool.wait_for(batch).await {
                match spool.piece(batch, num).await {
                    Ok(data) => {
                        if tx.send(data).await.is_err() {
                            return; // the upload ended
                        }
                    }
                    Err(e) => {
                        // Never let a piece end short: a truncated piece would be
                        // stored and then refused at commit.
                        tracing::warn!(piece = num, error = %e, "cannot feed a piece");
                        uploader.abort();
                        return;
                    }
                }
                batch += 1;
            }
            // The segment is complete: dropping `tx` lets the uploader send the hash.
        });
        slot.feeder = Some(feeder.abort_handle());
        slot.feed = Feed::Spool;
    }

    fn count(&self, f: impl Fn(&State) -> bool) -> usize {
        self.latest
            .values()
            .filter(|&&i| f(&self.slots[i].state))
            .count()
    }

    pub fn stored(&self) -> usize {
        self.count(|s| matches!(s, State::Stored(_)))
    }

    fn running(&self) -> usize {
        self.count(|s| *s == State::Running)
    }

    /// Pieces that are stored or may still be.
    fn viable(&self) -> usize {
        self.count(|s| *s != State::Failed)
    }

    /// Hands the shares of batch `batch` to the pieces fed live. A piece whose queue is
    /// full while `optimal` others took theirs goes on from the spool; otherwise the
    /// batch waits for it, up to the idle timeout.
    pub async fn distribute(&mut self, shares: &[Bytes], batch: usize) {
        let optimal = self.scheme.optimal as usize;
        let mut lagging = Vec::new();
        let mut accepted = 0usize;
        for (idx, slot) in self.slots.iter_mut().enumerate() {
            let Feed::Live(tx) = &slot.feed else { continue };
            if slot.state != State::Running {
                continue;
            }
            match tx.try_send(shares[slot.num as usize].clone()) {
                Ok(()) => accepted += 1,
                Err(TrySendError::Full(data)) => lagging.push((idx, data)),
                // The uploader ended early; its completion says why.
                Err(TrySendError::Closed(_)) => {}
            }
        }
        for (idx, data) in lagging {
            if accepted >= optimal {
                let Feed::Live(tx) = std::mem::replace(&mut self.slots[idx].feed, Feed::Spool)
                else {
                    continue;
                };
                tracing::debug!(piece = self.slots[idx].num, batch, "piece falls behind");
                self.feed_from_spool(idx, tx, batch);
                continue;
            }
            let Feed::Live(tx) = &self.slots[idx].feed else {
                continue;
            };
            match tokio::time::timeout(self.settings.idle_timeout, tx.send(data)).await {
                Ok(Ok(())) => accepted += 1,
                Ok(Err(_)) => {}
                Err(_) => self.stop(idx, "stalled: took no data within the idle timeout"),
            }
        }
    }

    /// Stops a piece that is not healthy (it then counts as failed).
    fn stop(&mut self, idx: usize, why: &str) {
        let slot = &mut self.slots[idx];
        slot.stopped = Some(format!("piece {}: {why}", slot.num));
        slot.uploader.abort();
    }

    /// Ends the live feeds: every piece fed live gets its piece hash now.
    pub fn close_live_feeds(&mut self) {
        for slot in &mut self.slots {
            if matches!(slot.feed, Feed::Live(_)) {
                slot.feed = Feed::Done;
            }
        }
    }

    fn record(&mut self, (idx, result): Completion, failed_nodes: &mut HashSet<NodeId>) {
        let slot = &mut self.slots[idx];
        if slot.state != State::Running {
            return;
        }
        match result {
            Ok(hash) => slot.state = State::Stored(hash),
            Err(e) => {
                slot.state = State::Failed;
                failed_nodes.insert(slot.node);
                let why = slot.stopped.clone().unwrap_or(e);
                tracing::debug!(piece = slot.num, error = %why, "piece upload failed");
                self.errors.push(why);
            }
        }
    }

    /// Takes in the pieces that have finished, without waiting.
    pub fn collect_finished(&mut self, failed_nodes: &mut HashSet<NodeId>) {
        while let Some(Some(done)) = futures::FutureExt::now_or_never(self.completions.next()) {
            self.record(done, failed_nodes);
        }
    }

    /// Makes sure at least `optimal` pieces are stored or still running, asking the
    /// satellite for replacement nodes while that helps.
    pub async fn ensure_viable(
        &mut self,
        metainfo: &MetainfoClient,
        subject: &Subject,
        on_new_segment_id: &mut (dyn FnMut(&str) + Send),
    ) -> Result<()> {
        let optimal = self.scheme.optimal as usize;
        while self.viable() < optimal {
            let short = |set: &Self, why: &str| {
                UplinkError::UploadFailed(format!(
                    "segment {}: only {} of the {} pieces needed can still be stored{why} ({})",
                    set.position,
                    set.viable(),
                    optimal,
                    summarize(&set.errors)
                ))
            };
            if self.out_of_nodes {
                return Err(short(self, " and the satellite has no other nodes"));
            }
            if self.rounds >= self.settings.replacement_rounds {
                return Err(short(
                    self,
                    &format!(" after {} rounds of replacement nodes", self.rounds),
                ));
            }
            if let Err(e) = self.spool.complete() {
                return Err(short(self, &format!("; {e}")));
            }
            let mut failed: Vec<u16> = self
                .latest
                .iter()
                .filter(|&(_, &i)| self.slots[i].state == State::Failed)
                .map(|(&num, _)| num)
                .collect();
            failed.sort_unstable();
            if failed.is_empty() {
                return Err(short(self, ""));
            }
            self.rounds += 1;
            let resp = metainfo
                .retry_pieces(
                    &RetryPiecesRequest {
                        segment_id: self.segment_id.clone(),
                        pieces: failed.clone(),
                    },
                    subject,
                )
                .await;
            let resp = match resp {
                Ok(resp) => resp,
                Err(UplinkError::TooFewNodes(why)) => {
                    tracing::debug!(%why, "no replacement nodes");
                    self.out_of_nodes = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            tracing::debug!(
                position = %self.position,
                round = self.rounds,
                asked = failed.len(),
                got = resp.limits.len(),
                "replacement nodes"
            );
            self.segment_id = resp.segment_id;
            on_new_segment_id(&self.segment_id);
            for target in resp.limits {
                if failed.contains(&target.piece_num) {
                    self.start(target, Some(0));
                }
            }
        }
        Ok(())
    }

    /// Waits for the pieces still running: until all are done, or, once `optimal`
    /// receipts are in, for a grace of an eighth of the segment's time so far (50 ms
    /// to 2 s), after which the long tail is cut. Replaces failed pieces while that is
    /// needed.
    pub async fn finish(
        &mut self,
        started: std::time::Instant,
        metainfo: &MetainfoClient,
        subject: &Subject,
        failed_nodes: &mut HashSet<NodeId>,
        on_new_segment_id: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Vec<PieceReceipt>> {
        self.close_live_feeds();
        let optimal = self.scheme.optimal as usize;
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            self.ensure_viable(metainfo, subject, on_new_segment_id)
                .await?;
            if self.stored() >= optimal && deadline.is_none() {
                let grace = (started.elapsed() / 8)
                    .clamp(Duration::from_millis(50), Duration::from_secs(2));
                deadline = Some(tokio::time::Instant::now() + grace);
            }
            if self.running() == 0 {
                break;
            }
            let next = match deadline {
                None => self.completions.next().await,
                Some(d) => match tokio::time::timeout_at(d, self.completions.next()).await {
                    Ok(n) => n,
                    Err(_) => break,
                },
            };
            match next {
                Some(done) => self.record(done, failed_nodes),
                None => break,
            }
        }
        // The long tail: stop what still runs, so those nodes discard partial pieces.
        for slot in &self.slots {
            if slot.state == State::Running {
                slot.uploader.abort();
                if let Some(f) = &slot.feeder {
                    f.abort();
                }
            }
        }
        if self.stored() < optimal {
            return Err(UplinkError::UploadFailed(format!(
                "segment {}: only {} of the {} pieces needed were stored ({})",
                self.position,
                self.stored(),
                optimal,
                summarize(&self.errors)
            )));
        }
        let mut receipts: Vec<PieceReceipt> = self
            .latest
            .iter()
            .filter_map(|(&num, &i)| match &self.slots[i].state {
                State::Stored(hash) => Some(PieceReceipt {
                    piece_num: num,
                    receipt: hash.clone(),
                }),
                _ => None,
            })
            .collect();
        receipts.sort_by_key(|r| r.piece_num);
        Ok(receipts)
    }
}
