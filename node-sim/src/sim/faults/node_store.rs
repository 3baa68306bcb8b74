//! A node's real piece store and free-space probe, wrapped so that they obey the node's
//! [`NodeFaults`]: refused uploads, a full disk, corrupted and lost pieces. Every call
//! reads the faults afresh, so a change applies to the next byte.
//!
//! Which pieces are corrupted or lost is decided by piece id and the fault's seed
//! ([`super::spec::chosen`]), so a run can be repeated exactly.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use uplink_core::protocol::{NodeId, PieceId};

use super::node::NodeFaults;
use super::spec::{CorruptOn, FaultSpec, chosen};
use crate::node::{
    PieceHeader, PieceInfo, PieceReader, PieceStore, PieceWriter, SpaceProbe, StoreError,
    TrashTotals, TrashedPiece,
};

/// A piece store that obeys a node's faults.
pub struct NodeFaultStore {
    inner: Arc<dyn PieceStore>,
    faults: Arc<NodeFaults>,
}

impl std::fmt::Debug for NodeFaultStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeFaultStore")
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

impl NodeFaultStore {
    pub fn new(inner: Arc<dyn PieceStore>, faults: Arc<NodeFaults>) -> Self {
        Self { inner, faults }
    }

    /// Whether `piece` is lost under `spec`.
    fn lost(spec: &FaultSpec, piece: &PieceId) -> bool {
        spec.lose
            .is_some_and(|l| l.share > 0.0 && chosen(l.seed, &piece.0, l.share))
    }

    /// Removes a lost piece for good.
    async fn vanish(&self, satellite: NodeId, piece: PieceId) {
        match self.inner.delete(satellite, piece).await {
            Ok(true) => self.faults.count_lost(),
            Ok(false) => {}
            Err(e) => tracing::warn!(%piece, "removing a lost piece: {e}"),
        }
    }
}

/// The seed of the corruption of `piece` on `on`, if it is corrupted.
fn corruption(spec: &FaultSpec, piece: &PieceId, on: CorruptOn) -> Option<u64> {
    let c = spec.corrupt?;
    (c.on == on && c.share > 0.0 && chosen(c.seed, &piece.0, c.share)).then_some(c.seed)
}

/// `data` with one byte flipped, at a place given by `seed`, the piece and `offset`.
fn flip(data: &[u8], seed: u64, piece: &PieceId, offset: u64) -> Bytes {
    let mut out = BytesMut::from(data);
    if !out.is_empty() {
        let mut h = blake3::Hasher::new();
        h.update(b"sj-fault-flip");
        h.update(&seed.to_le_bytes());
        h.update(&piece.0);
        h.update(&offset.to_le_bytes());
        let hash = h.finalize();
        let x = u64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("8 bytes"));
        let at = (x % out.len() as u64) as usize;
        // Never zero, so the byte always changes.
        out[at] ^= hash.as_bytes()[8] | 1;
    }
    out.freeze()
}

fn refused() -> StoreError {
    StoreError::Io(std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        "injected: this node refuses uploads",
    ))
}

#[async_trait]
impl PieceStore for NodeFaultStore {
    async fn create(
        &self,
        satellite: NodeId,
        piece: PieceId,
    ) -> Result<Box<dyn PieceWriter>, StoreError> {
        let spec = self.faults.get();
        if spec.refuse_uploads {
            self.faults.count_refused_upload();
            return Err(refused());
        }
        if spec.disk_full {
            self.faults.count_failed_write();
            return Err(StoreError::DiskFull);
        }
        let inner = self.inner.create(satellite, piece).await?;
        Ok(Box::new(NodeFaultWriter {
            inner,
            faults: self.faults.clone(),
            piece,
        }))
    }

    async fn open(
        &self,
        satellite: NodeId,
        piece: PieceId,
    ) -> Result<Box<dyn PieceReader>, StoreError> {
        if Self::lost(&self.faults.get(), &piece) {
            self.vanish(satellite, piece).await;
            return Err(StoreError::NotFound);
        }
        let inner = self.inner.open(satellite, piece).await?;
        Ok(Box::new(NodeFaultReader {
            inner,
            faults: self.faults.clone(),
            piece,
        }))
    }

    async fn delete(&self, satellite: NodeId, piece: PieceId) -> Result<bool, StoreError> {
        self.inner.delete(satellite, piece).await
    }

    async fn list(&self, satellite: NodeId) -> Result<Vec<PieceId>, StoreError> {
        let pieces = self.inner.list(satellite).await?;
        let spec = self.faults.get();
        if spec.lose.is_none() {
            return Ok(pieces);
        }
        let mut kept = Vec::with_capacity(pieces.len());
        for piece in pieces {
            if Self::lost(&spec, &piece) {
                self.vanish(satellite, piece).await;
            } else {
                kept.push(piece);
            }
        }
        Ok(kept)
    }

    async fn used_bytes(&self) -> Result<u64, StoreError> {
        self.inner.used_bytes().await
    }

    // Trash and garbage collection see the store as it is: a lost piece vanishes only
    // when something opens or lists it.
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

struct NodeFaultWriter {
    inner: Box<dyn PieceWriter>,
    faults: Arc<NodeFaults>,
    piece: PieceId,
}

#[async_trait]
impl PieceWriter for NodeFaultWriter {
    async fn write(&mut self, data: &[u8]) -> Result<(), StoreError> {
        let spec = self.faults.get();
        if spec.disk_full {
            self.faults.count_failed_write();
            // ENOSPC, as the kernel reports it.
            return Err(StoreError::from(std::io::Error::from_raw_os_error(28)));
        }
        match corruption(&spec, &self.piece, CorruptOn::Write) {
            Some(seed) if !data.is_empty() => {
                let bad = flip(data, seed, &self.piece, self.inner.size());
                self.faults.count_corrupted(1);
                self.inner.write(&bad).await
            }
            _ => self.inner.write(data).await,
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

struct NodeFaultReader {
    inner: Box<dyn PieceReader>,
    faults: Arc<NodeFaults>,
    piece: PieceId,
}

#[async_trait]
impl PieceReader for NodeFaultReader {
    fn header(&self) -> &PieceHeader {
        self.inner.header()
    }

    fn size(&self) -> u64 {
        self.inner.size()
    }

    async fn read_at(&self, offset: u64, len: usize) -> Result<Bytes, StoreError> {
        let data = self.inner.read_at(offset, len).await?;
        match corruption(&self.faults.get(), &self.piece, CorruptOn::Read) {
            Some(seed) if !data.is_empty() => {
                self.faults.count_corrupted(1);
                Ok(flip(&data, seed, &self.piece, offset))
            }
            _ => Ok(data),
        }
    }
}

/// A free-space probe that reports nothing free while the node's disk is full.
pub struct NodeFaultSpace {
    inner: Arc<dyn SpaceProbe>,
    faults: Arc<NodeFaults>,
}

impl NodeFaultSpace {
    pub fn new(inner: Arc<dyn SpaceProbe>, faults: Arc<NodeFaults>) -> Self {
        Self { inner, faults }
    }
}

#[async_trait]
impl SpaceProbe for NodeFaultSpace {
    async fn available(&self) -> std::io::Result<u64> {
        if self.faults.get().disk_full {
            return Ok(0);
        }
        self.inner.available().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::MemoryStore;
    use crate::node::piecestore::conformance::test_header;
    use crate::sim::faults::spec::{Corrupt, Lose};

    async fn put(store: &dyn PieceStore, sat: NodeId, piece: PieceId, data: &[u8]) {
        let mut w = store.create(sat, piece).await.unwrap();
        w.write(data).await.unwrap();
        w.commit(test_header(sat, piece, data)).await.unwrap();
    }

    async fn get(store: &dyn PieceStore, sat: NodeId, piece: PieceId) -> Bytes {
        let r = store.open(sat, piece).await.unwrap();
        r.read_at(0, r.size() as usize).await.unwrap()
    }

    #[tokio::test]
    async fn refused_uploads_and_a_full_disk() {
        let faults = NodeFaults::new(1);
        let store = NodeFaultStore::new(Arc::new(MemoryStore::new()), faults.clone());
        let space = NodeFaultSpace::new(Arc::new(crate::node::Unlimited), faults.clone());
        let sat = NodeId::random();
        faults.set_refuse_uploads(true);
        let e = store.create(sat, PieceId::random()).await.err().unwrap();
        assert!(e.to_string().contains("refuses uploads"), "{e}");
        faults.set_refuse_uploads(false);
        // A write already under way fails once the disk fills.
        let mut w = store.create(sat, PieceId::random()).await.unwrap();
        w.write(&[1; 10]).await.unwrap();
        assert_eq!(space.available().await.unwrap(), u64::MAX);
        faults.set_disk_full(true);
        assert!(matches!(w.write(&[1; 10]).await, Err(StoreError::DiskFull)));
        assert_eq!(space.available().await.unwrap(), 0);
        assert!(matches!(
            store.create(sat, PieceId::random()).await.err().unwrap(),
            StoreError::DiskFull
        ));
        let c = faults.counts();
        assert_eq!((c.uploads_refused, c.writes_failed), (1, 2));
    }

    #[tokio::test]
    async fn corruption_on_read_is_seeded_and_leaves_the_disk_alone() {
        let faults = NodeFaults::new(1);
        let inner = Arc::new(MemoryStore::new());
        let store = NodeFaultStore::new(inner.clone(), faults.clone());
        let sat = NodeId::random();
        let data = vec![7u8; 5000];
        let pieces: Vec<PieceId> = (0..40).map(|_| PieceId::random()).collect();
        for p in &pieces {
            put(&store, sat, *p, &data).await;
        }
        faults
            .update(|s| {
                s.corrupt = Some(Corrupt {
                    share: 0.5,
                    seed: 11,
                    on: CorruptOn::Read,
                })
            })
            .unwrap();
        let mut bad = Vec::new();
        for p in &pieces {
            let got = get(&store, sat, *p).await;
            assert_eq!(got.len(), data.len());
            let differing = got.iter().zip(&data).filter(|(a, b)| a != b).count();
            assert!(differing <= 1);
            if differing == 1 {
                bad.push(*p);
                // The same flip every time.
                assert_eq!(get(&store, sat, *p).await, got);
            }
            assert_eq!(get(&*inner, sat, *p).await, data, "the disk is intact");
        }
        assert!(!bad.is_empty() && bad.len() < pieces.len(), "{}", bad.len());
        let expected: Vec<PieceId> = pieces
            .iter()
            .copied()
            .filter(|p| chosen(11, &p.0, 0.5))
            .collect();
        assert_eq!(bad, expected);
        faults.clear();
        for p in &bad {
            assert_eq!(get(&store, sat, *p).await, data);
        }
    }

    #[tokio::test]
    async fn corruption_on_write_stays() {
        let faults = NodeFaults::new(1);
        let inner = Arc::new(MemoryStore::new());
        let store = NodeFaultStore::new(inner.clone(), faults.clone());
        faults
            .update(|s| {
                s.corrupt = Some(Corrupt {
                    share: 1.0,
                    seed: 1,
                    on: CorruptOn::Write,
                })
            })
            .unwrap();
        let sat = NodeId::random();
        let piece = PieceId::random();
        let data = vec![3u8; 1000];
        put(&store, sat, piece, &data).await;
        faults.clear();
        let stored = get(&*inner, sat, piece).await;
        assert_eq!(stored.iter().zip(&data).filter(|(a, b)| a != b).count(), 1);
    }

    #[tokio::test]
    async fn lost_pieces_vanish_for_good() {
        let faults = NodeFaults::new(1);
        let inner = Arc::new(MemoryStore::new());
        let store = NodeFaultStore::new(inner.clone(), faults.clone());
        let sat = NodeId::random();
        let pieces: Vec<PieceId> = (0..30).map(|_| PieceId::random()).collect();
        for p in &pieces {
            put(&store, sat, *p, b"data").await;
        }
        faults
            .update(|s| {
                s.lose = Some(Lose {
                    share: 0.5,
                    seed: 5,
                })
            })
            .unwrap();
        let doomed: Vec<PieceId> = pieces
            .iter()
            .copied()
            .filter(|p| chosen(5, &p.0, 0.5))
            .collect();
        assert!(!doomed.is_empty() && doomed.len() < pieces.len());
        assert!(matches!(
            store.open(sat, doomed[0]).await.err().unwrap(),
            StoreError::NotFound
        ));
        let listed = store.list(sat).await.unwrap();
        assert_eq!(listed.len(), pieces.len() - doomed.len());
        assert!(doomed.iter().all(|p| !listed.contains(p)));
        faults.clear();
        // Gone from the real store, not hidden.
        let mut left = inner.list(sat).await.unwrap();
        left.sort();
        let mut expect = listed;
        expect.sort();
        assert_eq!(left, expect);
        assert_eq!(faults.counts().pieces_lost, doomed.len() as u64);
    }
}
