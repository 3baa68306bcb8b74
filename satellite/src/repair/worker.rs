//! Repair workers: take the most urgent queued segment under a lease, download `k`
//! verified pieces (GET_REPAIR), rebuild the missing ones on ciphertext alone, upload
//! them to new nodes in networks the segment does not use (PUT_REPAIR), and swap the
//! segment's piece set only if it did not change meanwhile. A segment deleted or
//! overwritten during the repair is dropped; the pieces uploaded for it are queued for
//! deletion (and garbage collection catches any a node misses).
//!
//! Repair traffic is throttled per worker to its share of `max_bytes_per_second`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::join_all;
use tokio::sync::mpsc;
use uplink_core::background::{Cancel, Worker, WorkerError, WorkerState};
use uplink_core::client::error::PieceError;
use uplink_core::client::pieces::{PieceFetch, fetch_piece, upload_piece};
use uplink_core::erasure::rebuild_pieces;
use uplink_core::protocol::{
    AddressedOrderLimit, Identity, NodeId, PieceAction, PieceHash, Signable, now_unix,
};
use uplink_core::transport::Transport;

use super::RepairConfig;
use super::checker::assess;
use super::health::{Verdict, pieces_to_rebuild};
use super::queue::{self, Job};
use crate::db::Db;
use crate::error::{Result, SatelliteError};
use crate::metabase::{Piece, PieceSet, Segment, segments};
use crate::metainfo::queue_assigned_pieces;
use crate::metrics::Metrics;
use crate::orders::{LimitTarget, OrderSigner};
use crate::overlay::{NodeInfo, Overlay, SelectionRequest};
use crate::segment_loop::Pass;

/// Everything a repair worker needs.
#[derive(Clone)]
pub struct Repairer {
    pub db: Db,
    pub overlay: Arc<Overlay>,
    pub orders: OrderSigner,
    pub transport: Transport,
    pub config: RepairConfig,
    pub metrics: Metrics,
    /// This process's lease holder name.
    pub holder: String,
}

/// How one repair ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// New pieces stored and recorded.
    Repaired { uploaded: u16, bytes: u64 },
    /// Nothing to do: the segment is healthy again (or has no remote pieces).
    NotNeeded,
    /// The segment is gone, or changed while it was repaired; new pieces are garbage.
    Dropped(&'static str),
}

impl Repairer {
    /// Repairs one segment (whatever the queue says) and reports the outcome.
    pub async fn repair(&self, key: &crate::metabase::SegmentKey) -> Result<Outcome> {
        let Some(segment) = segments::get(&self.db, key).await? else {
            return Ok(Outcome::Dropped("the segment no longer exists"));
        };
        let Some(remote) = segment.remote() else {
            return Ok(Outcome::NotNeeded);
        };
        self.overlay.refresh().await?;
        let pass = Pass {
            started_at: now_unix(),
            nodes: self.overlay.snapshot(),
            overlay: self.overlay.clone(),
        };
        let health = assess(&pass, remote);
        let exiting = remote
            .pieces
            .iter()
            .any(|p| pass.nodes.get(&p.node).is_some_and(|n| n.exiting));
        if health.verdict == Verdict::Healthy && !exiting {
            return Ok(Outcome::NotNeeded);
        }
        let scheme = remote.scheme;
        // Pieces that still count stay; one per network.
        let mut networks = HashSet::new();
        let mut keep: Vec<Piece> = Vec::new();
        let mut readable: Vec<(Piece, NodeInfo)> = Vec::new();
        for piece in remote.pieces.iter() {
            let Some(node) = pass.nodes.get(&piece.node) else {
                continue;
            };
            let online = pass.online(node);
            if online && !node.disqualified {
                readable.push((*piece, node.clone()));
            }
            if online
                && !node.disqualified
                && !node.suspended
                && !node.exiting
                && networks.insert(node.last_net.clone())
            {
                keep.push(*piece);
            }
        }
        if pieces_to_rebuild(&scheme, keep.len() as u16) == 0 {
            // At optimal without the exiting pieces: drop them, nothing to rebuild.
            return self.drop_unhealthy(&segment, keep).await;
        }
        // Read healthy pieces first, then exiting and suspended ones.
        readable.sort_by_key(|(p, _)| !keep.contains(p));
        let (pieces_read, bad, read_bytes) = self.download(&segment, &readable).await?;
        let keep: Vec<Piece> = keep.into_iter().filter(|p| !bad.contains(&p.num)).collect();
        let needed = pieces_to_rebuild(&scheme, keep.len() as u16);
        if needed == 0 {
            return Ok(Outcome::NotNeeded);
        }
        let used: HashSet<u16> = keep.iter().map(|p| p.num).collect();
        let free_nums: Vec<u16> = (0..scheme.total).filter(|n| !used.contains(n)).collect();
        // Upload a couple more than needed in case some fail; keep the first `needed`.
        let extra = (needed / 4).max(1);
        let want = (needed + extra).min(free_nums.len() as u16) as usize;
        let mut exclude: HashSet<NodeId> = remote.pieces.nodes().collect();
        let mut exclude_networks: HashSet<String> = HashSet::new();
        for p in &keep {
            if let Some(n) = pass.nodes.get(&p.node) {
                exclude_networks.insert(n.last_net.clone());
            }
        }
        exclude.extend(keep.iter().map(|p| p.node));
        let targets = self.overlay.select(&SelectionRequest {
            wanted: want,
            minimum: 1,
            min_free_bytes: remote.piece_size,
            exclude,
            exclude_networks,
        })?;
        let nums: Vec<u16> = free_nums.iter().copied().take(targets.len()).collect();
        // Coding is CPU work: off the async threads, consuming the downloaded pieces.
        let rebuilt = {
            let nums = nums.clone();
            tokio::task::spawn_blocking(move || {
                let refs: Vec<(u16, &[u8])> = pieces_read
                    .iter()
                    .map(|(n, b)| (*n, b.as_slice()))
                    .collect();
                rebuild_pieces(&scheme, &refs, &nums)
            })
            .await
            .map_err(|e| SatelliteError::Internal(e.to_string()))?
            .map_err(|e| SatelliteError::Internal(format!("rebuilding pieces: {e}")))?
        };
        let stored = self.upload(&segment, &targets, rebuilt).await;
        let mut added: Vec<Piece> = stored.iter().map(|(p, _)| *p).collect();
        added.truncate(needed as usize);
        let surplus: Vec<Piece> = stored.iter().map(|(p, _)| *p).skip(added.len()).collect();
        let uploaded_bytes: u64 = remote.piece_size * stored.len() as u64;
        if added.is_empty() {
            return Err(SatelliteError::TooFewNodes(format!(
                "repair of {} stored no new piece ({} nodes tried)",
                segment.key,
                targets.len()
            )));
        }
        let swap = self.swap(&segment, &keep, &added, &surplus).await?;
        let bytes = read_bytes + uploaded_bytes;
        self.metrics
            .repair_bytes
            .with_label_values(&["download"])
            .inc_by(read_bytes);
        self.metrics
            .repair_bytes
            .with_label_values(&["upload"])
            .inc_by(uploaded_bytes);
        match swap {
            segments::Swap::Done => {
                queue::log_repair(&self.db, added.len() as u32, bytes).await?;
                tracing::info!(segment = %segment.key, healthy_before = health.healthy, uploaded = added.len(), "segment repaired");
                Ok(Outcome::Repaired {
                    uploaded: added.len() as u16,
                    bytes,
                })
            }
            segments::Swap::Gone => Ok(Outcome::Dropped("the segment was deleted during repair")),
            segments::Swap::Changed => Ok(Outcome::Dropped("the segment changed during repair")),
        }
    }

    /// Removes every piece but `keep` from the segment (compare-and-swap); the removed
    /// pieces are queued for deletion.
    async fn drop_unhealthy(&self, segment: &Segment, keep: Vec<Piece>) -> Result<Outcome> {
        Ok(match self.swap(segment, &keep, &[], &[]).await? {
            segments::Swap::Done => Outcome::Repaired {
                uploaded: 0,
                bytes: 0,
            },
            segments::Swap::Gone => Outcome::Dropped("the segment was deleted during repair"),
            segments::Swap::Changed => Outcome::Dropped("the segment changed during repair"),
        })
    }

    /// Sets the segment's pieces to `keep` + `added` if they did not change since
    /// `segment` was read, and queues what is garbage for deletion in the same
    /// transaction: on success the pieces no longer in the set and `surplus`, otherwise
    /// everything uploaded for this repair (`added` and `surplus`).
    async fn swap(
        &self,
        segment: &Segment,
        keep: &[Piece],
        added: &[Piece],
        surplus: &[Piece],
    ) -> Result<segments::Swap> {
        let remote = segment.remote().expect("remote segment");
        let new_set = PieceSet::new(keep.iter().chain(added).copied().collect())?;
        let dropped: Vec<Piece> = remote
            .pieces
            .iter()
            .filter(|p| !new_set.iter().any(|q| q == *p))
            .copied()
            .collect();
        let root = remote.root_piece_id;
        crate::db::write_txn!(self.db, |txn| {
            let swap = segments::swap_pieces(&txn, segment, &new_set, Some(now_unix())).await?;
            let garbage: Vec<(u16, NodeId)> = match swap {
                segments::Swap::Done => dropped.iter().chain(surplus),
                _ => added.iter().chain(surplus),
            }
            .map(|p| (p.num, p.node))
            .collect();
            queue_assigned_pieces(&txn, &segment.key.object_id, root, &garbage).await?;
            Ok(swap)
        })
    }

    /// Downloads whole pieces until `k` verified ones are in hand. Returns them, the
    /// numbers of pieces that turned out corrupt or missing, and the bytes read.
    async fn download(
        &self,
        segment: &Segment,
        readable: &[(Piece, NodeInfo)],
    ) -> Result<(Vec<(u16, Vec<u8>)>, HashSet<u16>, u64)> {
        let remote = segment.remote().expect("remote segment");
        let k = remote.scheme.k as usize;
        let mut got: Vec<(u16, Vec<u8>)> = Vec::new();
        let mut bad = HashSet::new();
        let mut errors = Vec::new();
        let mut bytes = 0u64;
        let mut next = 0usize;
        while got.len() < k && next < readable.len() {
            let batch_size =
                (k - got.len() + self.config.extra_downloads as usize).min(readable.len() - next);
            let batch = &readable[next..next + batch_size];
            next += batch_size;
            let targets: Vec<LimitTarget> = batch
                .iter()
                .map(|(p, n)| LimitTarget {
                    piece_num: p.num,
                    node_id: n.id,
                    address: n.address.clone(),
                })
                .collect();
            let limits = self.orders.limits(
                PieceAction::GetRepair,
                remote.root_piece_id,
                &targets,
                remote.piece_size,
                self.orders.public_key(),
                None,
            );
            let results = join_all(
                limits
                    .into_iter()
                    .map(|limit| self.fetch_whole(limit, remote.piece_size)),
            )
            .await;
            for (num, result) in results {
                match result {
                    Ok(data) => {
                        bytes += data.len() as u64;
                        if got.len() < k {
                            got.push((num, data));
                        }
                    }
                    Err(e) => {
                        use uplink_core::client::error::PieceOutcome;
                        if matches!(e.outcome(), PieceOutcome::Corrupt | PieceOutcome::Missing) {
                            bad.insert(num);
                        }
                        errors.push(e.to_string());
                    }
                }
            }
        }
        if got.len() < k {
            return Err(SatelliteError::SegmentUnavailable(format!(
                "repair of {} could read only {} of the {} pieces it needs: {}",
                segment.key,
                got.len(),
                k,
                errors.join("; ")
            )));
        }
        Ok((got, bad, bytes))
    }

    async fn fetch_whole(
        &self,
        target: AddressedOrderLimit,
        piece_size: u64,
    ) -> (u16, Result<Vec<u8>, PieceError>) {
        let num = target.piece_num;
        let (tx, mut rx) = mpsc::channel(16);
        let fetch = PieceFetch {
            target,
            offset: 0,
            length: piece_size,
            piece_size,
            satellite_key: self.orders.public_key(),
        };
        let task = tokio::spawn(fetch_piece(
            self.transport.clone(),
            fetch,
            tx,
            self.config.piece_timeout,
        ));
        let mut data = Vec::with_capacity(piece_size as usize);
        let mut failure = None;
        while let Some(chunk) = rx.recv().await {
            match chunk {
                Ok(bytes) => data.extend_from_slice(&bytes),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        task.abort();
        match failure {
            Some(e) => (num, Err(e)),
            None if data.len() as u64 == piece_size => (num, Ok(data)),
            None => (
                num,
                Err(PieceError::Invalid {
                    address: String::new(),
                    reason: format!("piece ended after {} of {piece_size} bytes", data.len()),
                }),
            ),
        }
    }

    /// Uploads rebuilt pieces, one per target; returns those stored with a valid receipt.
    async fn upload(
        &self,
        segment: &Segment,
        targets: &[NodeInfo],
        rebuilt: Vec<(u16, Vec<u8>)>,
    ) -> Vec<(Piece, PieceHash)> {
        let remote = segment.remote().expect("remote segment");
        let piece_key = Identity::generate(0);
        let limit_targets: Vec<LimitTarget> = targets
            .iter()
            .zip(&rebuilt)
            .map(|(n, (num, _))| LimitTarget {
                piece_num: *num,
                node_id: n.id,
                address: n.address.clone(),
            })
            .collect();
        let limits = self.orders.limits(
            PieceAction::PutRepair,
            remote.root_piece_id,
            &limit_targets,
            remote.piece_size,
            piece_key.public_key(),
            segment.expires_at,
        );
        let uploads = limits.into_iter().zip(rebuilt).zip(targets).map(
            |((limit, (num, data)), node)| {
                let transport = self.transport.clone();
                let key = piece_key.clone();
                let timeout = self.config.piece_timeout;
                let expected = limit.limit.piece_id;
                let size = remote.piece_size;
                let node = node.clone();
                async move {
                    let (tx, rx) = mpsc::channel(4);
                    let send = async move {
                        let data = Bytes::from(data);
                        let mut offset = 0;
                        while offset < data.len() {
                            let end = (offset + (256 << 10)).min(data.len());
                            if tx.send(data.slice(offset..end)).await.is_err() {
                                break;
                            }
                            offset = end;
                        }
                    };
                    let (receipt, ()) =
                        tokio::join!(upload_piece(transport, limit, rx, key, timeout), send);
                    match receipt {
                        Ok(r)
                            if r.piece_id == expected
                                && r.piece_size == size
                                && node
                                    .public_key
                                    .verify(&r.signing_bytes(), &r.signature)
                                    .is_ok() =>
                        {
                            Some((Piece { num, node: node.id }, r))
                        }
                        Ok(_) => {
                            tracing::warn!(node = %node.id, "repair upload: invalid receipt");
                            None
                        }
                        Err(e) => {
                            tracing::debug!(node = %node.id, error = %e, "repair upload failed");
                            None
                        }
                    }
                }
            },
        );
        join_all(uploads).await.into_iter().flatten().collect()
    }
}

/// A repair worker of the runtime: one queued segment per step.
pub struct RepairWorker {
    pub repairer: Repairer,
    pub index: usize,
}

#[async_trait::async_trait]
impl Worker for RepairWorker {
    fn name(&self) -> String {
        format!("repair-{}", self.index)
    }

    fn idle_period(&self) -> Duration {
        self.repairer.config.checker_interval
    }

    async fn step(
        &mut self,
        _cancel: &Cancel,
    ) -> Result<(WorkerState, Option<String>), WorkerError> {
        let r = &self.repairer;
        let lease = r.config.job_lease.as_secs().max(1) as i64;
        let Some(Job {
            key,
            healthy,
            attempts,
        }) = queue::claim(&r.db, &r.holder, lease)
            .await
            .map_err(WorkerError::new)?
        else {
            return Ok((WorkerState::Idle, None));
        };
        let started = Instant::now();
        match r.repair(&key).await {
            Ok(outcome) => {
                queue::complete(&r.db, &key, &r.holder)
                    .await
                    .map_err(WorkerError::new)?;
                let (label, bytes) = match &outcome {
                    Outcome::Repaired { bytes, .. } => ("repaired", *bytes),
                    Outcome::NotNeeded => ("not_needed", 0),
                    Outcome::Dropped(_) => ("dropped", 0),
                };
                r.metrics.repairs.with_label_values(&[label]).inc();
                let summary = format!("{key} ({healthy} healthy): {outcome:?}");
                // Keep to this worker's share of the repair bandwidth.
                let share =
                    (r.config.max_bytes_per_second / r.config.concurrency.max(1) as u64).max(1);
                let due = Duration::from_secs_f64(bytes as f64 / share as f64);
                Ok(match due.checked_sub(started.elapsed()) {
                    Some(pause) if !pause.is_zero() => {
                        (WorkerState::Throttled(pause), Some(summary))
                    }
                    _ => (WorkerState::Busy, Some(summary)),
                })
            }
            Err(e) => {
                r.metrics.repairs.with_label_values(&["failed"]).inc();
                let retry = (30i64 << attempts.min(6)).min(3600);
                queue::fail(&r.db, &key, &r.holder, &e.to_string(), retry)
                    .await
                    .map_err(WorkerError::new)?;
                tracing::warn!(segment = %key, error = %e, "repair failed");
                // Other jobs may still succeed: not a failure of the worker.
                Ok((WorkerState::Busy, Some(format!("{key}: failed: {e}"))))
            }
        }
    }
}
