//! In-memory piece store, for tests and simulations.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use parking_lot::RwLock;
use uplink_core::protocol::{NodeId, PieceId, now_unix};

use super::{
    PieceHeader, PieceInfo, PieceReader, PieceStore, PieceWriter, StoreError, TrashTotals,
    TrashedPiece, check_range,
};

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
    /// Trashed pieces with the time they were trashed.
    trash: HashMap<(NodeId, PieceId), (i64, Arc<StoredPiece>)>,
    /// Committed and trashed pieces.
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

    fn pieces(&self, satellite: NodeId) -> BoxStream<'static, Result<PieceInfo, StoreError>> {
        let infos: Vec<Result<PieceInfo, StoreError>> = self
            .inner
            .read()
            .pieces
            .iter()
            .filter(|((s, _), _)| *s == satellite)
            .map(|((_, piece), stored)| {
                Ok(PieceInfo {
                    piece_id: *piece,
                    stored_at: stored.header.stored_at,
                    footprint: stored.footprint,
                })
            })
            .collect();
        Box::pin(futures::stream::iter(infos))
    }

    async fn satellites(&self) -> Result<Vec<NodeId>, StoreError> {
        let inner = self.inner.read();
        let mut sats: Vec<NodeId> = inner
            .pieces
            .keys()
            .chain(inner.trash.keys())
            .map(|(s, _)| *s)
            .collect();
        sats.sort();
        sats.dedup();
        Ok(sats)
    }

    async fn trash(&self, satellite: NodeId, piece: PieceId) -> Result<bool, StoreError> {
        let mut inner = self.inner.write();
        let Some(stored) = inner.pieces.remove(&(satellite, piece)) else {
            return Ok(false);
        };
        if let Some((_, older)) = inner.trash.insert((satellite, piece), (now_unix(), stored)) {
            inner.used -= older.footprint;
        }
        Ok(true)
    }

    async fn list_trash(&self, satellite: NodeId) -> Result<Vec<TrashedPiece>, StoreError> {
        Ok(self
            .inner
            .read()
            .trash
            .iter()
            .filter(|((s, _), _)| *s == satellite)
            .map(|((_, piece), (trashed_at, stored))| TrashedPiece {
                piece_id: *piece,
                trashed_at: *trashed_at,
                footprint: stored.footprint,
            })
            .collect())
    }

    async fn restore_trash(&self, satellite: NodeId) -> Result<TrashTotals, StoreError> {
        let mut inner = self.inner.write();
        let Inner { pieces, trash, .. } = &mut *inner;
        let mut restored = TrashTotals::default();
        trash.retain(|key, (_, stored)| {
            if key.0 != satellite || pieces.contains_key(key) {
                return true;
            }
            restored.add(stored.footprint);
            pieces.insert(*key, stored.clone());
            false
        });
        Ok(restored)
    }

    async fn empty_trash(
        &self,
        satellite: NodeId,
        trashed_before: i64,
    ) -> Result<TrashTotals, StoreError> {
        let mut inner = self.inner.write();
        let mut emptied = TrashTotals::default();
        inner.trash.retain(|(s, _), (trashed_at, stored)| {
            if *s != satellite || *trashed_at >= trashed_before {
                return true;
            }
            emptied.add(stored.footprint);
            false
        });
        inner.used -= emptied.bytes;
        Ok(emptied)
    }

    async fn remove_stale_partials(&self, _modified_before: i64) -> Result<u64, StoreError> {
        // Unfinished writes live in their writers and go with them.
        Ok(0)
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
