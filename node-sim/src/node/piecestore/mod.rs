//! Piece storage behind a small, object-safe trait.
//!
//! A piece is written through a [`PieceWriter`] and becomes visible only when it is
//! committed together with its [`PieceHeader`] (the order limit it was uploaded under and
//! the uplink-signed piece hash). Implementations:
//!
//! - [`DiskStore`]: one file per piece, the default.
//! - [`MemoryStore`]: in memory, for tests and simulations.
//!
//! Faults (lost pieces, corruption, full disks, slowness) are injected by wrapping a real
//! store in another [`PieceStore`] implementation, never by branches in these.
//! [`conformance::run_all`] is the one test suite every implementation must pass.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use uplink_core::protocol::piece::BlockHash;
use uplink_core::protocol::{NodeId, OrderLimit, PieceHash, PieceId};

pub mod conformance;
mod disk;
mod memory;

pub use disk::DiskStore;
pub use memory::MemoryStore;

/// Errors of a piece store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("piece not found")]
    NotFound,
    #[error("a piece with this id is already stored")]
    AlreadyExists,
    #[error("no space left on the storage device")]
    DiskFull,
    #[error("stored piece is corrupt: {0}")]
    Corrupt(String),
    #[error("piece store I/O error: {0}")]
    Io(std::io::Error),
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::StorageFull => StoreError::DiskFull,
            _ => StoreError::Io(e),
        }
    }
}

/// What a node keeps beside each piece's bytes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PieceHeader {
    /// The satellite-signed limit the piece was uploaded under.
    pub order_limit: OrderLimit,
    /// The uplink-signed hash of the piece.
    pub piece_hash: PieceHash,
    /// Hash of every `piece_hash.hash_block_size` block, so ranges can be verified.
    pub block_hashes: Vec<BlockHash>,
    /// Unix seconds at which the node committed the piece.
    pub stored_at: i64,
}

/// Stores pieces per satellite.
#[async_trait]
pub trait PieceStore: Send + Sync + 'static {
    /// Starts writing a piece. Fails with [`StoreError::AlreadyExists`] if a committed
    /// piece with this id exists for this satellite.
    async fn create(
        &self,
        satellite: NodeId,
        piece: PieceId,
    ) -> Result<Box<dyn PieceWriter>, StoreError>;

    /// Opens a committed piece; [`StoreError::NotFound`] if there is none.
    async fn open(
        &self,
        satellite: NodeId,
        piece: PieceId,
    ) -> Result<Box<dyn PieceReader>, StoreError>;

    /// Deletes a committed piece; `false` if it did not exist.
    async fn delete(&self, satellite: NodeId, piece: PieceId) -> Result<bool, StoreError>;

    /// Ids of the committed pieces of one satellite, in no particular order.
    async fn list(&self, satellite: NodeId) -> Result<Vec<PieceId>, StoreError>;

    /// Bytes occupied by committed pieces (data and headers). Writes in progress are
    /// not counted.
    async fn used_bytes(&self) -> Result<u64, StoreError>;
}

/// A piece being written. Nothing is visible to readers until [`PieceWriter::commit`];
/// dropping the writer without committing removes what was written (best effort).
#[async_trait]
pub trait PieceWriter: Send {
    async fn write(&mut self, data: &[u8]) -> Result<(), StoreError>;

    /// Bytes written so far.
    fn size(&self) -> u64;

    /// Makes the piece visible, atomically, with its header. Fails with
    /// [`StoreError::AlreadyExists`] if the same piece was committed meanwhile.
    async fn commit(self: Box<Self>, header: PieceHeader) -> Result<(), StoreError>;

    /// Discards the piece, leaving nothing behind.
    async fn cancel(self: Box<Self>) -> Result<(), StoreError>;
}

/// A committed piece, open for reading.
#[async_trait]
pub trait PieceReader: Send + Sync {
    fn header(&self) -> &PieceHeader;

    /// Size of the piece data in bytes.
    fn size(&self) -> u64;

    /// `len` bytes from `offset`. Ranges reaching past [`PieceReader::size`] are refused.
    async fn read_at(&self, offset: u64, len: usize) -> Result<Bytes, StoreError>;
}

/// Checks a requested range against a piece size; shared by the implementations.
pub(crate) fn check_range(offset: u64, len: usize, size: u64) -> Result<(), StoreError> {
    match offset.checked_add(len as u64) {
        Some(end) if end <= size => Ok(()),
        _ => Err(StoreError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("range {offset}+{len} reaches past the end of a {size}-byte piece"),
        ))),
    }
}

/// Forwarding impl so that an `Arc<dyn PieceStore>` can be wrapped like any store.
#[async_trait]
impl<S: PieceStore + ?Sized> PieceStore for Arc<S> {
    async fn create(
        &self,
        satellite: NodeId,
        piece: PieceId,
    ) -> Result<Box<dyn PieceWriter>, StoreError> {
        (**self).create(satellite, piece).await
    }
    async fn open(
        &self,
        satellite: NodeId,
        piece: PieceId,
    ) -> Result<Box<dyn PieceReader>, StoreError> {
        (**self).open(satellite, piece).await
    }
    async fn delete(&self, satellite: NodeId, piece: PieceId) -> Result<bool, StoreError> {
        (**self).delete(satellite, piece).await
    }
    async fn list(&self, satellite: NodeId) -> Result<Vec<PieceId>, StoreError> {
        (**self).list(satellite).await
    }
    async fn used_bytes(&self) -> Result<u64, StoreError> {
        (**self).used_bytes().await
    }
}
