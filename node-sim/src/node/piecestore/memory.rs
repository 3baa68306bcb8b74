//! In-memory piece store, for tests and simulations.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::RwLock;
use uplink_core::protocol::{NodeId, PieceId};

use super::{PieceHeader, PieceReader, PieceStore, PieceWriter, StoreError, check_range};

#[derive(Debug)]
struct StoredPiece {
    header: PieceHeader,
    data: Bytes,
    /// What the piece counts toward `used_bytes`: data plus encoded header.
    footprint: u64,
}

#[derive(Debug, Default)]
struct Inner {
    pieces: HashMap<(NodeId, PieceId), Arc<StoredPiece>>,
    used: u64,
}

/// Keeps pieces in memory. Cloning gives another handle to the same pieces.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    inner: Arc<RwLock<Inner>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl PieceStore for MemoryStore {
    async fn create(
        &self,
        satellite: NodeId,
        piece: PieceId,
    ) -> Result<Box<dyn PieceWriter>, StoreError> {
        if self.inner.read().pieces.contains_key(&(satellite, piece)) {
            return Err(StoreError::AlreadyExists);
        }
        Ok(Box::new(MemoryWriter {
            store: self.inner.clone(),
            key: (satellite, piece),
            data: Vec::new(),
        }))
    }

    async fn open(
        &self,
        satellite: NodeId,
        piece: PieceId,
    ) -> Result<Box<dyn PieceReader>, StoreError> {
        let stored = self
            .inner
            .read()
            .pieces
            .get(&(satellite, piece))
            .cloned()
            .ok_or(StoreError::NotFound)?;
        Ok(Box::new(MemoryReader(stored)))
    }

    async fn delete(&self, satellite: NodeId, piece: PieceId) -> Result<bool, StoreError> {
        let mut inner = self.inner.write();
        match inner.pieces.remove(&(satellite, piece)) {
            Some(p) => {
                inner.used -= p.footprint;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn list(&self, satellite: NodeId) -> Result<Vec<PieceId>, StoreError> {
        Ok(self
            .inner
            .read()
            .pieces
            .keys()
            .filter(|(s, _)| *s == satellite)
            .map(|(_, p)| *p)
            .collect())
    }

    async fn used_bytes(&self) -> Result<u64, StoreError> {
        Ok(self.inner.read().used)
    }
}

struct MemoryWriter {
    store: Arc<RwLock<Inner>>,
    key: (NodeId, PieceId),
    data: Vec<u8>,
}

#[async_trait]
impl PieceWriter for MemoryWriter {
    async fn write(&mut self, data: &[u8]) -> Result<(), StoreError> {
        self.data.extend_from_slice(data);
        Ok(())
    }

    fn size(&self) -> u64 {
        self.data.len() as u64
    }

    async fn commit(self: Box<Self>, header: PieceHeader) -> Result<(), StoreError> {
        let header_len = postcard::to_allocvec(&header)
            .map_err(|e| StoreError::Corrupt(format!("piece header does not encode: {e}")))?
            .len() as u64;
        let this = *self;
        let footprint = this.data.len() as u64 + header_len;
        let mut inner = this.store.write();
        if inner.pieces.contains_key(&this.key) {
            return Err(StoreError::AlreadyExists);
        }
        inner.used += footprint;
        inner.pieces.insert(
            this.key,
            Arc::new(StoredPiece {
                header,
                data: Bytes::from(this.data),
                footprint,
            }),
        );
        Ok(())
    }

    async fn cancel(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }
}

struct MemoryReader(Arc<StoredPiece>);

#[async_trait]
impl PieceReader for MemoryReader {
    fn header(&self) -> &PieceHeader {
        &self.0.header
    }

    fn size(&self) -> u64 {
        self.0.data.len() as u64
    }

    async fn read_at(&self, offset: u64, len: usize) -> Result<Bytes, StoreError> {
        check_range(offset, len, self.size())?;
        let start = offset as usize;
        Ok(self.0.data.slice(start..start + len))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn conformance() {
        super::super::conformance::run_all(|| Arc::new(MemoryStore::new())).await;
    }
}
