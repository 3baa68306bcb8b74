//! Garbage collection on the node: applying a satellite's retain requests, and emptying
//! trash after its retention period.
//!
//! A satellite sends a signed bloom filter of the pieces this node should keep as of a
//! snapshot ([`RetainRequest`]). A *retain pass* ([`retain_pass`]) moves to trash every
//! piece of that satellite which is not in the filter and was stored before the snapshot
//! less a grace period; a bloom filter has no false negatives, so a live piece is never
//! trashed. Trash is kept, restorable by the operator, for `trash_retention`, then
//! removed for good ([`empty_expired_trash`]).
//!
//! The passes are plain functions over a [`PieceStore`]; the scheduling around them is
//! separate: [`Retainer`] accepts requests (one pass at a time per satellite, a newer
//! request replacing one still waiting) and [`TrashSweeper`], a worker of the node's
//! runtime, empties trash periodically.
//!
//! A request already applied cannot be applied again: the node refuses any request of a
//! satellite not newer than the last it accepted. That memory does not survive a restart,
//! which is safe: a replayed filter can only trash pieces that were garbage at its
//! snapshot (garbage stays garbage), and pieces stored since are protected by their
//! storage time; requests older than `retain_max_age` are refused anyway.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use parking_lot::Mutex;
use tokio::sync::watch;
use uplink_core::background::{Cancel, Worker, WorkerError, WorkerState};
use uplink_core::protocol::{ErrorCode, NodeId, RetainRequest, RetainResponse, now_unix};

use super::error::{NodeError, fmt_unix};
use super::metrics::NodeMetrics;
use super::piecestore::{PieceStore, StoreError, TrashTotals};
use super::verify::OrderVerifier;

/// Unfinished writes last written longer ago than this are removed by the trash sweep.
pub const PARTIAL_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// What one retain pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetainStats {
    /// Pieces of the satellite looked at.
    pub checked: u64,
    /// Kept because the filter holds them.
    pub kept_in_filter: u64,
    /// Kept because they were stored at or after the cutoff (snapshot less grace).
    pub kept_recent: u64,
    /// Moved to trash.
    pub trashed: TrashTotals,
    /// Pieces that could not be read or moved (left in place) and store errors.
    pub errors: u64,
}

/// Moves to trash every piece of `request.satellite_id` that is not in the filter and
/// was stored before `request.created_before - grace`. The request must have been
/// verified. Errors on single pieces are logged and counted; the pass goes on.
pub async fn retain_pass(
    store: &dyn PieceStore,
    request: &RetainRequest,
    grace: Duration,
) -> RetainStats {
    let satellite = request.satellite_id;
    let grace = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
    let cutoff = request.created_before.saturating_sub(grace);
    let mut stats = RetainStats::default();
    let mut pieces = store.pieces(satellite);
    while let Some(item) = pieces.next().await {
        let info = match item {
            Ok(info) => info,
            Err(e) => {
                tracing::warn!(%satellite, "retain pass: skipping what cannot be read: {e}");
                stats.errors += 1;
                continue;
            }
        };
        stats.checked += 1;
        if info.stored_at >= cutoff {
            stats.kept_recent += 1;
        } else if request.filter.contains(&info.piece_id) {
            stats.kept_in_filter += 1;
        } else {
            match store.trash(satellite, info.piece_id).await {
                Ok(true) => stats.trashed.add(info.footprint),
                // Deleted meanwhile.
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(%satellite, piece = %info.piece_id, "retain pass: trash: {e}");
                    stats.errors += 1;
                }
            }
        }
    }
    stats
}

/// What one sweep of expired trash removed.
#[derive(Debug, Default)]
pub struct TrashSweep {
    pub emptied: TrashTotals,
    /// Satellites whose trash could not be (fully) emptied, with why.
    pub errors: Vec<(Option<NodeId>, StoreError)>,
}

/// Removes for good, for every satellite, the pieces trashed more than `retention`
/// before `now` (unix seconds).
pub async fn empty_expired_trash(
    store: &dyn PieceStore,
    now: i64,
    retention: Duration,
) -> TrashSweep {
    let retention = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
    let trashed_before = now.saturating_sub(retention);
    let mut sweep = TrashSweep::default();
    let satellites = match store.satellites().await {
        Ok(s) => s,
        Err(e) => {
            sweep.errors.push((None, e));
            return sweep;
        }
    };
    for satellite in satellites {
        match store.empty_trash(satellite, trashed_before).await {
            Ok(t) => {
                sweep.emptied.pieces += t.pieces;
                sweep.emptied.bytes += t.bytes;
            }
            Err(e) => sweep.errors.push((Some(satellite), e)),
        }
    }
    sweep
}

/// One sweep as the periodic task runs it: expired trash, then stale unfinished writes;
/// logged and counted in `metrics`.
pub async fn sweep_once(
    store: &dyn PieceStore,
    now: i64,
    retention: Duration,
    metrics: &NodeMetrics,
) -> TrashSweep {
    let sweep = empty_expired_trash(store, now, retention).await;
    for (satellite, e) in &sweep.errors {
        match satellite {
            Some(s) => tracing::warn!(satellite = %s, "emptying trash: {e}"),
            None => tracing::warn!("emptying trash: {e}"),
        }
    }
    if sweep.emptied.pieces > 0 {
        tracing::info!(
            pieces = sweep.emptied.pieces,
            bytes = sweep.emptied.bytes,
            "emptied expired trash"
        );
        metrics.trash_emptied_pieces.inc_by(sweep.emptied.pieces);
        metrics.trash_emptied_bytes.inc_by(sweep.emptied.bytes);
    }
    let stale_before = now.saturating_sub(PARTIAL_MAX_AGE.as_secs() as i64);
    match store.remove_stale_partials(stale_before).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(files = n, "removed unfinished writes older than a day"),
        Err(e) => tracing::warn!("removing stale unfinished writes: {e}"),
    }
    if let Ok(used) = store.used_bytes().await {
        metrics
            .used_bytes
            .set(i64::try_from(used).unwrap_or(i64::MAX));
    }
    sweep
}

/// The periodic trash sweep, a worker of the node's runtime: [`sweep_once`] at start
/// and every `interval` after, with its last result in the worker's status.
pub struct TrashSweeper {
    pub store: Arc<dyn PieceStore>,
    pub retention: Duration,
    pub interval: Duration,
    pub metrics: NodeMetrics,
}

#[async_trait::async_trait]
impl Worker for TrashSweeper {
    fn name(&self) -> String {
        "trash-sweep".into()
    }

    fn idle_period(&self) -> Duration {
        self.interval.max(Duration::from_secs(1))
    }

    async fn step(
        &mut self,
        _cancel: &Cancel,
    ) -> Result<(WorkerState, Option<String>), WorkerError> {
        let sweep = sweep_once(&*self.store, now_unix(), self.retention, &self.metrics).await;
        let summary = format!(
            "emptied {} pieces ({} bytes) of expired trash",
            sweep.emptied.pieces, sweep.emptied.bytes
        );
        match sweep.errors.first() {
            // Logged by the sweep; the runtime backs off and retries.
            Some((_, e)) => Err(WorkerError::new(format!(
                "{summary}; {} errors, the first: {e}",
                sweep.errors.len()
            ))),
            None => Ok((WorkerState::Idle, Some(summary))),
        }
    }
}

/// How a node applies retain requests; see [`Retainer::new`].
#[derive(Clone, Copy, Debug)]
pub struct RetainSettings {
    /// See `NodeConfig::retain_grace`.
    pub grace: Duration,
    /// See `NodeConfig::retain_max_age`.
    pub max_age: Duration,
}

#[derive(Debug, Default)]
struct SatelliteQueue {
    /// `created_at` of the newest request accepted.
    last_accepted: Option<i64>,
    running: bool,
    /// The request to apply when the running pass ends.
    waiting: Option<RetainRequest>,
}

/// Accepts verified retain requests and applies them in the background: one pass at a
/// time per satellite, a newer request replacing one still waiting.
pub struct Retainer {
    store: Arc<dyn PieceStore>,
    verifier: Arc<OrderVerifier>,
    settings: RetainSettings,
    metrics: NodeMetrics,
    /// Where passes run: the node's runtime, not the HTTP worker that took the request.
    runtime: tokio::runtime::Handle,
    queues: Mutex<HashMap<NodeId, SatelliteQueue>>,
    last_stats: Mutex<HashMap<NodeId, RetainStats>>,
    /// Passes completed so far.
    passes: watch::Sender<u64>,
    /// Set when the node stops: running passes end at their next piece.
    stopping: watch::Sender<bool>,
}

impl std::fmt::Debug for Retainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retainer")
            .field("settings", &self.settings)
            .field("passes", &*self.passes.borrow())
            .finish_non_exhaustive()
    }
}

impl Retainer {
    /// A retainer whose passes run on the current tokio runtime.
    pub fn new(
        store: Arc<dyn PieceStore>,
        verifier: Arc<OrderVerifier>,
        settings: RetainSettings,
        metrics: NodeMetrics,
    ) -> Self {
        Self {
            store,
            verifier,
            settings,
            metrics,
            runtime: tokio::runtime::Handle::current(),
            queues: Mutex::new(HashMap::new()),
            last_stats: Mutex::new(HashMap::new()),
            passes: watch::Sender::new(0),
            stopping: watch::Sender::new(false),
        }
    }

    /// Verifies `request` (see [`OrderVerifier::verify_retain`]), refuses it unless it is
    /// newer than every request of its satellite accepted before, and queues its pass.
    pub fn submit(self: &Arc<Self>, request: RetainRequest) -> Result<RetainResponse, NodeError> {
        self.verifier
            .verify_retain(&request, now_unix(), self.settings.max_age)?;
        let satellite = request.satellite_id;
        let mut queues = self.queues.lock();
        let queue = queues.entry(satellite).or_default();
        if let Some(last) = queue.last_accepted
            && request.created_at <= last
        {
            return Err(NodeError::Retain {
                code: ErrorCode::Conflict,
                message: format!(
                    "it was created at {}, not after the last request of satellite \
                     {satellite} this node accepted (created at {}): a replay or out of order",
                    fmt_unix(request.created_at),
                    fmt_unix(last)
                ),
            });
        }
        queue.last_accepted = Some(request.created_at);
        tracing::info!(
            %satellite,
            created_before = %fmt_unix(request.created_before),
            pieces_in_filter = request.piece_count,
            filter_bytes = request.filter.len_bytes(),
            "retain request accepted"
        );
        if queue.running {
            let replaced = queue.waiting.replace(request).is_some();
            return Ok(RetainResponse {
                queued: true,
                replaced,
            });
        }
        queue.running = true;
        drop(queues);
        let this = self.clone();
        self.runtime.spawn(async move { this.run(request).await });
        Ok(RetainResponse {
            queued: true,
            replaced: false,
        })
    }

    /// Applies `request`, then whatever request of the same satellite is waiting.
    async fn run(self: Arc<Self>, mut request: RetainRequest) {
        let satellite = request.satellite_id;
        let mut stopping = self.stopping.subscribe();
        loop {
            let pass = retain_pass(&*self.store, &request, self.settings.grace);
            let stats = tokio::select! {
                stats = pass => stats,
                _ = stopping.wait_for(|s| *s) => return,
            };
            tracing::info!(
                %satellite,
                checked = stats.checked,
                kept_in_filter = stats.kept_in_filter,
                kept_recent = stats.kept_recent,
                trashed = stats.trashed.pieces,
                trashed_bytes = stats.trashed.bytes,
                errors = stats.errors,
                "retain pass done"
            );
            self.metrics.retain_passes.inc();
            self.metrics.pieces_trashed.inc_by(stats.trashed.pieces);
            self.metrics.bytes_trashed.inc_by(stats.trashed.bytes);
            self.last_stats.lock().insert(satellite, stats);
            self.passes.send_modify(|n| *n += 1);
            let mut queues = self.queues.lock();
            let queue = queues.entry(satellite).or_default();
            match queue.waiting.take() {
                Some(next) => request = next,
                None => {
                    queue.running = false;
                    return;
                }
            }
        }
    }

    /// Passes completed so far, for all satellites.
    pub fn passes_completed(&self) -> u64 {
        *self.passes.borrow()
    }

    /// Waits until at least `n` passes have completed.
    pub async fn wait_for_passes(&self, n: u64) {
        let _ = self.passes.subscribe().wait_for(|done| *done >= n).await;
    }

    /// What the last completed pass for `satellite` did.
    pub fn last_stats(&self, satellite: &NodeId) -> Option<RetainStats> {
        self.last_stats.lock().get(satellite).copied()
    }

    /// Ends running passes (at their next piece) and runs no more.
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use uplink_core::protocol::retain::BloomFilter;
    use uplink_core::protocol::{Identity, PieceId};

    use super::*;
    use crate::node::piecestore::MemoryStore;
    use crate::node::piecestore::conformance::{collect_pieces, test_data, test_header};

    async fn put(store: &MemoryStore, sat: NodeId, stored_at: i64) -> PieceId {
        let piece = PieceId::random();
        let data = test_data(1000, 1);
        let mut header = test_header(sat, piece, &data);
        header.stored_at = stored_at;
        let mut w = store.create(sat, piece).await.unwrap();
        w.write(&data).await.unwrap();
        w.commit(header).await.unwrap();
        piece
    }

    #[tokio::test]
    async fn a_pass_trashes_only_old_pieces_outside_the_filter() {
        let store = MemoryStore::new();
        let sat = Identity::generate(0);
        let other = NodeId::random();
        let snapshot = 1_800_000_000;
        let grace = Duration::from_secs(600);
        // Live and old; garbage and old; garbage but within the grace period; garbage
        // stored after the snapshot; another satellite's garbage.
        let mut live = Vec::new();
        for _ in 0..300 {
            live.push(put(&store, sat.node_id(), snapshot - 10_000).await);
        }
        let mut garbage = Vec::new();
        for _ in 0..300 {
            garbage.push(put(&store, sat.node_id(), snapshot - 10_000).await);
        }
        let in_grace = put(&store, sat.node_id(), snapshot - 600).await;
        let just_before_grace = put(&store, sat.node_id(), snapshot - 601).await;
        let after = put(&store, sat.node_id(), snapshot + 5).await;
        let theirs = put(&store, other, 0).await;

        let mut filter = BloomFilter::new(live.len(), 0.1);
        live.iter().for_each(|p| filter.insert(p));
        let request = RetainRequest::signed(
            &sat,
            NodeId::random(),
            snapshot,
            snapshot + 60,
            filter.clone(),
            live.len() as u64,
        );
        let stats = retain_pass(&store, &request, grace).await;

        let left = collect_pieces(
            &(Arc::new(store.clone()) as Arc<dyn PieceStore>),
            sat.node_id(),
        )
        .await;
        for p in &live {
            assert!(left.contains_key(p), "a live piece was trashed");
        }
        for p in [in_grace, after] {
            assert!(
                left.contains_key(&p),
                "a piece within the grace period was trashed"
            );
        }
        assert_eq!(store.list(other).await.unwrap(), vec![theirs]);
        let expected_trashed: Vec<&PieceId> = garbage
            .iter()
            .chain([&just_before_grace])
            .filter(|p| !filter.contains(p))
            .collect();
        assert!(
            expected_trashed.len() > 200,
            "most garbage is outside the filter"
        );
        for p in &expected_trashed {
            assert!(!left.contains_key(p), "garbage outside the filter was kept");
        }
        assert_eq!(stats.trashed.pieces, expected_trashed.len() as u64);
        assert_eq!(stats.checked, 603);
        assert_eq!(stats.kept_recent, 2);
        assert_eq!(stats.kept_in_filter, 603 - 2 - stats.trashed.pieces);
        assert_eq!(stats.errors, 0);
        let trash = store.list_trash(sat.node_id()).await.unwrap();
        assert_eq!(trash.len() as u64, stats.trashed.pieces);
        assert_eq!(
            stats.trashed.bytes,
            trash.iter().map(|t| t.footprint).sum::<u64>()
        );

        // Emptying: nothing before the retention has passed, everything after.
        let now = now_unix();
        let week = Duration::from_secs(7 * 86_400);
        let used = store.used_bytes().await.unwrap();
        let sweep = empty_expired_trash(&store, now, week).await;
        assert_eq!(sweep.emptied, TrashTotals::default());
        assert!(sweep.errors.is_empty());
        let sweep = empty_expired_trash(&store, now + 7 * 86_400 + 60, week).await;
        assert_eq!(sweep.emptied, stats.trashed);
        assert_eq!(
            store.used_bytes().await.unwrap(),
            used - stats.trashed.bytes
        );
        assert!(store.list_trash(sat.node_id()).await.unwrap().is_empty());
    }

    /// A real store whose [`PieceStore::pieces`] waits for a permit: a pass that
    /// starts stays running until the test lets it go on.
    struct Gated {
        inner: MemoryStore,
        gate: Arc<tokio::sync::Semaphore>,
    }

    #[async_trait::async_trait]
    impl PieceStore for Gated {
        async fn create(
            &self,
            satellite: NodeId,
            piece: PieceId,
        ) -> Result<Box<dyn crate::node::PieceWriter>, StoreError> {
            self.inner.create(satellite, piece).await
        }
        async fn open(
            &self,
            satellite: NodeId,
            piece: PieceId,
        ) -> Result<Box<dyn crate::node::PieceReader>, StoreError> {
            self.inner.open(satellite, piece).await
        }
        async fn delete(&self, satellite: NodeId, piece: PieceId) -> Result<bool, StoreError> {
            self.inner.delete(satellite, piece).await
        }
        async fn list(&self, satellite: NodeId) -> Result<Vec<PieceId>, StoreError> {
            self.inner.list(satellite).await
        }
        async fn used_bytes(&self) -> Result<u64, StoreError> {
            self.inner.used_bytes().await
        }
        fn pieces(
            &self,
            satellite: NodeId,
        ) -> futures::stream::BoxStream<'static, Result<crate::node::PieceInfo, StoreError>>
        {
            let gate = self.gate.clone();
            let inner = self.inner.pieces(satellite);
            futures::stream::once(async move {
                gate.acquire().await.expect("gate open").forget();
                inner
            })
            .flatten()
            .boxed()
        }
        async fn satellites(&self) -> Result<Vec<NodeId>, StoreError> {
            self.inner.satellites().await
        }
        async fn trash(&self, satellite: NodeId, piece: PieceId) -> Result<bool, StoreError> {
            self.inner.trash(satellite, piece).await
        }
        async fn list_trash(
            &self,
            satellite: NodeId,
        ) -> Result<Vec<crate::node::TrashedPiece>, StoreError> {
            self.inner.list_trash(satellite).await
        }
        async fn restore_trash(&self, satellite: NodeId) -> Result<TrashTotals, StoreError> {
            self.inner.restore_trash(satellite).await
        }
        async fn empty_trash(
            &self,
            satellite: NodeId,
            trashed_before: i64,
        ) -> Result<TrashTotals, StoreError> {
            self.inner.empty_trash(satellite, trashed_before).await
        }
        async fn remove_stale_partials(&self, modified_before: i64) -> Result<u64, StoreError> {
            self.inner.remove_stale_partials(modified_before).await
        }
    }

    #[tokio::test]
    async fn one_pass_at_a_time_and_a_newer_request_replaces_a_waiting_one() {
        let inner = MemoryStore::new();
        let sat = Identity::generate(0);
        let node = NodeId::random();
        let now = now_unix();
        let mut pieces = Vec::new();
        for _ in 0..50 {
            pieces.push(put(&inner, sat.node_id(), now - 86_400).await);
        }
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let store: Arc<dyn PieceStore> = Arc::new(Gated {
            inner: inner.clone(),
            gate: gate.clone(),
        });
        let verifier = Arc::new(OrderVerifier::new(
            node,
            [sat.node_id()],
            Duration::from_secs(300),
        ));
        verifier.add_satellite_key(sat.public_key()).unwrap();
        let retainer = Arc::new(Retainer::new(
            store,
            verifier,
            RetainSettings {
                grace: Duration::ZERO,
                max_age: Duration::from_secs(86_400),
            },
            NodeMetrics::new("test"),
        ));
        let keep_all = {
            let mut f = BloomFilter::new(pieces.len(), 0.1);
            pieces.iter().for_each(|p| f.insert(p));
            f
        };
        let keep_none = BloomFilter::new(0, 0.1);
        let request = |created_at: i64, filter: &BloomFilter| {
            RetainRequest::signed(&sat, node, now - 60, created_at, filter.clone(), 0)
        };

        let first = retainer.submit(request(now - 30, &keep_all)).unwrap();
        assert_eq!(
            first,
            RetainResponse {
                queued: true,
                replaced: false
            }
        );
        // Would trash everything, but is replaced before it runs.
        let second = retainer.submit(request(now - 20, &keep_none)).unwrap();
        assert_eq!(
            second,
            RetainResponse {
                queued: true,
                replaced: false
            }
        );
        let third = retainer.submit(request(now - 10, &keep_all)).unwrap();
        assert_eq!(
            third,
            RetainResponse {
                queued: true,
                replaced: true
            }
        );
        assert_eq!(
            retainer.passes_completed(),
            0,
            "the first pass is held at the gate"
        );

        gate.add_permits(10);
        tokio::time::timeout(Duration::from_secs(60), retainer.wait_for_passes(2))
            .await
            .expect("two passes complete");
        // Passes run in order: had the replaced request run, it would have been the
        // second, and trashed pieces.
        assert_eq!(
            inner.list_trash(sat.node_id()).await.unwrap(),
            Vec::new(),
            "the replaced request ran"
        );
        let stats = retainer.last_stats(&sat.node_id()).unwrap();
        assert_eq!(stats.kept_in_filter, 50);
        // And the queue is free again: the next request starts a pass of its own.
        retainer.submit(request(now, &keep_none)).unwrap();
        tokio::time::timeout(Duration::from_secs(60), retainer.wait_for_passes(3))
            .await
            .expect("third pass completes");
        assert_eq!(inner.list_trash(sat.node_id()).await.unwrap().len(), 50);
        assert_eq!(retainer.passes_completed(), 3);
    }
}
