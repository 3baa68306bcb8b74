//! Piece storage behind a small, object-safe trait.
//!
//! A piece is written through a [`PieceWriter`] and becomes visible only when it is
//! committed together with its [`PieceHeader`] (the order limit it was uploaded under and
//! the uplink-signed piece hash).
//!
//! Garbage collection moves pieces to a per-satellite *trash* ([`PieceStore::trash`])
//! rather than deleting them: a trashed piece is no longer served, but it still takes its
//! space until the trash is emptied ([`PieceStore::empty_trash`], after a retention
//! period), and an operator can restore it ([`PieceStore::restore_trash`]) if a
//! satellite's filter turns out to have been wrong. Implementations:
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
use futures::stream::BoxStream;
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

/// A committed piece as a garbage-collection pass sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PieceInfo {
    pub piece_id: PieceId,
    /// From the piece's header: unix seconds at which the node committed it.
    pub stored_at: i64,
    /// What the piece counts toward [`PieceStore::used_bytes`].
    pub footprint: u64,
}

/// A piece in trash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrashedPiece {
    pub piece_id: PieceId,
    /// Unix seconds at which the piece was moved to trash.
    pub trashed_at: i64,
    /// What the piece counts toward [`PieceStore::used_bytes`].
    pub footprint: u64,
}

/// Pieces and bytes a trash operation moved or removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrashTotals {
    pub pieces: u64,
    pub bytes: u64,
}

impl TrashTotals {
    pub fn add(&mut self, footprint: u64) {
        self.pieces += 1;
        self.bytes += footprint;
    }
}

/// Stores pieces per satellite.
///
/// Every method is required (none has a default), so that a wrapping store cannot
/// silently miss one.
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

    /// Bytes occupied by committed pieces (data and headers), trashed ones included until
    /// the trash is emptied. Writes in progress are not counted.
    async fn used_bytes(&self) -> Result<u64, StoreError>;

    /// The committed pieces of one satellite with the time each was stored, in no
    /// particular order, read a part at a time. An item that is an error concerns one
    /// piece or one part of the store (say, a corrupt header); the stream goes on past
    /// it.
    fn pieces(&self, satellite: NodeId) -> BoxStream<'static, Result<PieceInfo, StoreError>>;

    /// The satellites that have committed or trashed pieces here.
    async fn satellites(&self) -> Result<Vec<NodeId>, StoreError>;

    /// Moves a committed piece to its satellite's trash: no longer served ([`open`]
    /// answers [`StoreError::NotFound`], [`list`] and [`pieces`] leave it out), still
    /// counted in [`used_bytes`]. `false` if there was no such piece. A piece of the same
    /// id may be stored again meanwhile; an older trashed copy of it is replaced.
    ///
    /// [`open`]: PieceStore::open
    /// [`list`]: PieceStore::list
    /// [`pieces`]: PieceStore::pieces
    /// [`used_bytes`]: PieceStore::used_bytes
    async fn trash(&self, satellite: NodeId, piece: PieceId) -> Result<bool, StoreError>;

    /// The trashed pieces of one satellite, in no particular order.
    async fn list_trash(&self, satellite: NodeId) -> Result<Vec<TrashedPiece>, StoreError>;

    /// Moves every trashed piece of `satellite` back, byte for byte. A piece whose id was
    /// stored again since it was trashed stays in trash: the live piece is never
    /// replaced. Returns what was restored.
    async fn restore_trash(&self, satellite: NodeId) -> Result<TrashTotals, StoreError>;

    /// Removes for good the pieces of `satellite` trashed before `trashed_before` (unix
    /// seconds), freeing their space. Returns what was removed.
    async fn empty_trash(
        &self,
        satellite: NodeId,
        trashed_before: i64,
    ) -> Result<TrashTotals, StoreError>;

    /// Removes what unfinished writes left behind (a crash, a failed removal) that was
    /// last written before `modified_before` (unix seconds). Returns the number removed.
    async fn remove_stale_partials(&self, modified_before: i64) -> Result<u64, StoreError>;
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
    fn pieces(&self, satellite: NodeId) -> BoxStream<'static, Result<PieceInfo, StoreError>> {
        (**self).pieces(satellite)
    }
    async fn satellites(&self) -> Result<Vec<NodeId>, StoreError> {
        (**self).satellites().await
    }
    async fn trash(&self, satellite: NodeId, piece: PieceId) -> Result<bool, StoreError> {
        (**self).trash(satellite, piece).await
    }
    async fn list_trash(&self, satellite: NodeId) -> Result<Vec<TrashedPiece>, StoreError> {
        (**self).list_trash(satellite).await
    }
    async fn restore_trash(&self, satellite: NodeId) -> Result<TrashTotals, StoreError> {
        (**self).restore_trash(satellite).await
    }
    async fn empty_trash(
        &self,
        satellite: NodeId,
        trashed_before: i64,
    ) -> Result<TrashTotals, StoreError> {
        (**self).empty_trash(satellite, trashed_before).await
    }
    async fn remove_stale_partials(&self, modified_before: i64) -> Result<u64, StoreError> {
        (**self).remove_stale_partials(modified_before).await
    }
}
