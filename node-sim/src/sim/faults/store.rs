//! A piece store that is slow, fills up or breaks mid-transfer ([`FaultyStore`]),
//! wrapping a real one. Faults are switched at run time through a shared [`Faults`]
//! handle, so a node keeps its identity, data and address while its behaviour changes,
//! and one handle can drive many nodes (say, "the next three pieces created anywhere
//! fail").

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::watch;
use uplink_core::protocol::{NodeId, PieceId};

use crate::node::piecestore::{PieceInfo, TrashTotals, TrashedPiece};
use crate::node::{PieceHeader, PieceReader, PieceStore, PieceWriter, StoreError};

/// Faults shared by any number of [`FaultyStore`]s. All off at first.
#[derive(Debug)]
pub struct Faults {
    write_delay_us: AtomicU64,
    read_delay_us: AtomicU64,
    refuse_writes: AtomicBool,
    refuse_commits: AtomicBool,
    dead: AtomicBool,
    doomed_pieces: AtomicUsize,
    doomed_after: AtomicU64,
    fail_reads_from: AtomicU64,
    reads: watch::Sender<u64>,
    writes: watch::Sender<u64>,
    failed: Mutex<Vec<(usize, PieceId)>>,
}

impl Faults {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            write_delay_us: AtomicU64::new(0),
            read_delay_us: AtomicU64::new(0),
            refuse_writes: AtomicBool::new(false),
            refuse_commits: AtomicBool::new(false),
            dead: AtomicBool::new(false),
            doomed_pieces: AtomicUsize::new(0),
            doomed_after: AtomicU64::new(0),
            fail_reads_from: AtomicU64::new(u64::MAX),
            reads: watch::Sender::new(0),
            writes: watch::Sender::new(0),
            failed: Mutex::new(Vec::new()),
        })
    }

    /// Each write of piece data first waits this long (a slow disk or link).
    pub fn set_write_delay(&self, d: Duration) {
        self.write_delay_us
            .store(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// Each read of piece data first waits this long.
    pub fn set_read_delay(&self, d: Duration) {
        self.read_delay_us
            .store(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// Every write fails as if the disk were full.
    pub fn set_refuse_writes(&self, on: bool) {
        self.refuse_writes.store(on, Ordering::Relaxed);
    }

    /// Pieces are received in full, then committing them fails as if the disk were
    /// full: the node refuses each upload only at its very end.
    pub fn set_refuse_commits(&self, on: bool) {
        self.refuse_commits.store(on, Ordering::Relaxed);
    }

    /// Every operation on piece data fails, transfers in progress included: with the
    /// node's server stopped, a node that died (stopping the server alone lets
    /// responses already streaming run to their end).
    pub fn set_dead(&self, on: bool) {
        self.dead.store(on, Ordering::Relaxed);
    }

    fn check_alive(&self) -> Result<(), StoreError> {
        if self.dead.load(Ordering::Relaxed) {
            return Err(StoreError::Io(std::io::Error::other(
                "injected: the node is dead",
            )));
        }
        Ok(())
    }

    /// The next `n` pieces created (on any store sharing this handle) fail once they
    /// would hold more than `after` bytes: uploads that break mid-stream.
    pub fn fail_next_pieces(&self, n: usize, after: u64) {
        self.doomed_after.store(after, Ordering::Relaxed);
        self.doomed_pieces.store(n, Ordering::Relaxed);
    }

    /// Reads reaching piece offset `offset` or beyond fail (`None`: never), so that a
    /// download breaks after its first bytes.
    pub fn set_fail_reads_from(&self, offset: Option<u64>) {
        self.fail_reads_from
            .store(offset.unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Pieces failed by [`Faults::fail_next_pieces`], with the label of their store.
    pub fn failed_pieces(&self) -> Vec<(usize, PieceId)> {
        self.failed.lock().clone()
    }

    /// Reads of piece data so far.
    pub fn reads_so_far(&self) -> u64 {
        *self.reads.borrow()
    }

    /// Waits until at least `n` reads of piece data happened.
    pub async fn wait_for_reads(&self, n: u64) {
        let _ = self.reads.subscribe().wait_for(|r| *r >= n).await;
    }

    /// Waits until at least `n` writes of piece data happened.
    pub async fn wait_for_writes(&self, n: u64) {
        let _ = self.writes.subscribe().wait_for(|w| *w >= n).await;
    }

    fn take_doomed(&self) -> bool {
        self.doomed_pieces
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }
}

async fn pause(us: &AtomicU64) {
    let us = us.load(Ordering::Relaxed);
    if us > 0 {
        tokio::time::sleep(Duration::from_micros(us)).await;
    }
}

/// A real store with [`Faults`] in front of it. `label` names it in
/// [`Faults::failed_pieces`] (the node's index, say).
pub struct FaultyStore {
    inner: Arc<dyn PieceStore>,
    faults: Arc<Faults>,
    label: usize,
}

impl std::fmt::Debug for FaultyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyStore")
            .field("label", &self.label)
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn PieceStore>, faults: Arc<Faults>, label: usize) -> Self {
        Self {
            inner,
            faults,
            label,
        }
    }
}

#[async_trait]
impl PieceStore for FaultyStore {
    async fn create(
        &self,
        satellite: NodeId,
        piece: PieceId,
    ) -> Result<Box<dyn PieceWriter>, StoreError> {
        self.faults.check_alive()?;
        let inner = self.inner.create(satellite, piece).await?;
        Ok(Box::new(FaultyWriter {
            inner,
            faults: self.faults.clone(),
            label: self.label,
            piece,
            doomed: self.faults.take_doomed(),
        }))
    }

    async fn open(
        &self,
        satellite: NodeId,
        piece: PieceId,
    ) -> Result<Box<dyn PieceReader>, StoreError> {
        self.faults.check_alive()?;
        let inner = self.inner.open(satellite, piece).await?;
        Ok(Box::new(FaultyReader {
            inner,
            faults: self.faults.clone(),
        }))
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
    ) -> futures::stream::BoxStream<'static, Result<PieceInfo, StoreError>> {
        self.inner.pieces(satellite)
    }
    async fn satellites(&self) -> Result<Vec<NodeId>, StoreError> {
        self.inner.satellites().await
    }
    async fn trash(&self, satellite: NodeId, piece: PieceId) -> Result<bool, StoreError> {
        self.inner.trash(satellite, piece).await
    }
    async fn list_trash(&self, satellite: NodeId) -> Result<Vec<TrashedPiece>, StoreError> {
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

struct FaultyWriter {
    inner: Box<dyn PieceWriter>,
    faults: Arc<Faults>,
    label: usize,
    piece: PieceId,
    doomed: bool,
}

#[async_trait]
impl PieceWriter for FaultyWriter {
    async fn write(&mut self, data: &[u8]) -> Result<(), StoreError> {
        let f = &self.faults;
        pause(&f.write_delay_us).await;
        f.writes.send_modify(|w| *w += 1);
        f.check_alive()?;
        if f.refuse_writes.load(Ordering::Relaxed) {
            return Err(StoreError::DiskFull);
        }
        if self.doomed
            && self.inner.size() + data.len() as u64 > f.doomed_after.load(Ordering::Relaxed)
        {
            self.doomed = false;
            f.failed.lock().push((self.label, self.piece));
            return Err(StoreError::Io(std::io::Error::other(
                "injected write failure",
            )));
        }
        self.inner.write(data).await
    }

    fn size(&self) -> u64 {
        self.inner.size()
    }

    async fn commit(self: Box<Self>, header: PieceHeader) -> Result<(), StoreError> {
        if self.faults.dead.load(Ordering::Relaxed) {
            self.inner.cancel().await?;
            return self.faults.check_alive();
        }
        if self.faults.refuse_commits.load(Ordering::Relaxed) {
            self.inner.cancel().await?;
            return Err(StoreError::DiskFull);
        }
        self.inner.commit(header).await
    }

    async fn cancel(self: Box<Self>) -> Result<(), StoreError> {
        self.inner.cancel().await
    }
}

struct FaultyReader {
    inner: Box<dyn PieceReader>,
    faults: Arc<Faults>,
}

#[async_trait]
impl PieceReader for FaultyReader {
    fn header(&self) -> &PieceHeader {
        self.inner.header()
    }

    fn size(&self) -> u64 {
        self.inner.size()
    }

    async fn read_at(&self, offset: u64, len: usize) -> Result<Bytes, StoreError> {
        let f = &self.faults;
        f.reads.send_modify(|r| *r += 1);
        pause(&f.read_delay_us).await;
        f.check_alive()?;
        if offset + len as u64 > f.fail_reads_from.load(Ordering::Relaxed) {
            return Err(StoreError::Io(std::io::Error::other(
                "injected read failure",
            )));
        }
        self.inner.read_at(offset, len).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::MemoryStore;
    use crate::node::piecestore::conformance::test_header;

    #[tokio::test]
    async fn doomed_pieces_fail_once_they_grow_and_others_pass() {
        let faults = Faults::new();
        let store = FaultyStore::new(Arc::new(MemoryStore::new()), faults.clone(), 3);
        faults.fail_next_pieces(1, 10);
        let sat = NodeId::random();
        let (a, b) = (PieceId::random(), PieceId::random());
        let mut w = store.create(sat, a).await.unwrap();
        w.write(&[0; 10]).await.unwrap();
        assert!(matches!(w.write(&[0; 1]).await, Err(StoreError::Io(_))));
        let mut w = store.create(sat, b).await.unwrap();
        w.write(&[0; 100]).await.unwrap();
        assert_eq!(faults.failed_pieces(), vec![(3, a)]);
        faults.set_refuse_writes(true);
        let mut w = store.create(sat, PieceId::random()).await.unwrap();
        assert!(matches!(w.write(&[0]).await, Err(StoreError::DiskFull)));
        faults.wait_for_writes(4).await;
    }

    #[tokio::test]
    async fn refused_commits_leave_nothing() {
        let faults = Faults::new();
        let inner = Arc::new(MemoryStore::new());
        let store = FaultyStore::new(inner.clone(), faults.clone(), 1);
        faults.set_refuse_commits(true);
        let sat = NodeId::random();
        let piece = PieceId::random();
        let mut w = store.create(sat, piece).await.unwrap();
        w.write(&[1; 10]).await.unwrap();
        let header = test_header(sat, piece, &[1; 10]);
        assert!(matches!(w.commit(header).await, Err(StoreError::DiskFull)));
        assert!(inner.list(sat).await.unwrap().is_empty());
    }
}
