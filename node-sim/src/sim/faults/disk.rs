//! Faults of a node's disk, made by wrapping the real components: a disk that looks
//! (nearly) full to the free-space probe, and a disk that runs out while pieces are
//! being written, as when another program fills the same file system.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use uplink_core::protocol::{NodeId, PieceId};

use crate::node::piecestore::{PieceInfo, TrashTotals, TrashedPiece};
use crate::node::{PieceHeader, PieceReader, PieceStore, PieceWriter, SpaceProbe, StoreError};

/// A file system with at most `limit` bytes free (or what the real one has, if less).
pub struct LimitedSpace {
    inner: Arc<dyn SpaceProbe>,
    limit: AtomicU64,
}

impl LimitedSpace {
    pub fn new(inner: Arc<dyn SpaceProbe>, limit: u64) -> Self {
        Self {
            inner,
            limit: AtomicU64::new(limit),
        }
    }

    /// Changes the free space the disk shows from now on.
    pub fn set(&self, limit: u64) {
        self.limit.store(limit, Ordering::Relaxed);
    }
}

#[async_trait]
impl SpaceProbe for LimitedSpace {
    async fn available(&self) -> std::io::Result<u64> {
        let real = self.inner.available().await?;
        Ok(real.min(self.limit.load(Ordering::Relaxed)))
    }
}

/// A store whose disk runs out after `budget` more bytes of piece data have been
/// written through it: the write that crosses the line fails with the operating
/// system's "no space left on device".
pub struct FillingDisk {
    inner: Arc<dyn PieceStore>,
    budget: Arc<AtomicU64>,
}

impl FillingDisk {
    pub fn new(inner: Arc<dyn PieceStore>, budget: u64) -> Self {
        Self {
            inner,
            budget: Arc::new(AtomicU64::new(budget)),
        }
    }

    /// Makes room for `bytes` more.
    pub fn set_budget(&self, bytes: u64) {
        self.budget.store(bytes, Ordering::Relaxed);
    }
}

fn no_space() -> StoreError {
    // ENOSPC, as the kernel reports it.
    StoreError::from(std::io::Error::from_raw_os_error(28))
}

#[async_trait]
impl PieceStore for FillingDisk {
    async fn create(
        &self,
        satellite: NodeId,
        piece: PieceId,
    ) -> Result<Box<dyn PieceWriter>, StoreError> {
        let inner = self.inner.create(satellite, piece).await?;
        Ok(Box::new(FillingWriter {
            inner,
            budget: self.budget.clone(),
        }))
    }
    async fn open(
        &self,
        satellite: NodeId,
        piece: PieceId,
    ) -> Result<Box<dyn PieceReader>, StoreError> {
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

struct FillingWriter {
    inner: Box<dyn PieceWriter>,
    budget: Arc<AtomicU64>,
}

#[async_trait]
impl PieceWriter for FillingWriter {
    async fn write(&mut self, data: &[u8]) -> Result<(), StoreError> {
        let len = data.len() as u64;
        let took = self
            .budget
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(len)
            });
        match took {
            Ok(_) => self.inner.write(data).await,
            Err(left) => {
                // What still fits is written, as a real file system would.
                self.budget.store(0, Ordering::Release);
                self.inner.write(&data[..left as usize]).await?;
                Err(no_space())
            }
        }
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    async fn commit(self: Box<Self>, header: PieceHeader) -> Result<(), StoreError> {
        self.inner.commit(header).await
    }
    async fn cancel(self: Box<Self>) -> Result<(), StoreError> {
        self.inner.cancel().await
    }
}
