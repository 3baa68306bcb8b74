//! What an operator does with the trash of a stopped node (`node-sim trash ...`): see it,
//! restore it after a satellite sent a wrong filter, or empty it early to free space.
//!
//! These act on the node's [`DiskStore`] directly, so the node must not be running: the
//! store's space accounting belongs to one process at a time.

use std::path::Path;

use uplink_core::protocol::NodeId;

use super::piecestore::{DiskStore, PieceStore, StoreError, TrashTotals};

/// The trash of one satellite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SatelliteTrash {
    pub satellite: NodeId,
    pub pieces: u64,
    pub bytes: u64,
    /// Unix seconds of the first and last trashing, if any piece is in trash.
    pub oldest: Option<i64>,
    pub newest: Option<i64>,
}

/// Opens the piece store of the node data directory `dir`, refusing a directory that
/// holds no node (so that a mistyped path is not silently made into an empty store).
pub fn open_node_store(dir: &Path) -> Result<DiskStore, StoreError> {
    if !dir.join("pieces").is_dir() {
        return Err(StoreError::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "{} is not a node data directory (it has no pieces/ directory)",
                dir.display()
            ),
        )));
    }
    DiskStore::open(dir, true)
}

/// `only`, or every satellite with pieces or trash in `store`.
async fn satellites(
    store: &dyn PieceStore,
    only: Option<NodeId>,
) -> Result<Vec<NodeId>, StoreError> {
    match only {
        Some(s) => Ok(vec![s]),
        None => store.satellites().await,
    }
}

/// The trash of `only`, or of every satellite.
pub async fn list(
    store: &dyn PieceStore,
    only: Option<NodeId>,
) -> Result<Vec<SatelliteTrash>, StoreError> {
    let mut out = Vec::new();
    for satellite in satellites(store, only).await? {
        let trashed = store.list_trash(satellite).await?;
        out.push(SatelliteTrash {
            satellite,
            pieces: trashed.len() as u64,
            bytes: trashed.iter().map(|t| t.footprint).sum(),
            oldest: trashed.iter().map(|t| t.trashed_at).min(),
            newest: trashed.iter().map(|t| t.trashed_at).max(),
        });
    }
    Ok(out)
}

/// Restores the trash of `only`, or of every satellite.
pub async fn restore(
    store: &dyn PieceStore,
    only: Option<NodeId>,
) -> Result<Vec<(NodeId, TrashTotals)>, StoreError> {
    let mut out = Vec::new();
    for satellite in satellites(store, only).await? {
        out.push((satellite, store.restore_trash(satellite).await?));
    }
    Ok(out)
}

/// Removes for good what `only` (or every satellite) has had in trash since before
/// `trashed_before` (unix seconds; `i64::MAX` for everything).
pub async fn empty(
    store: &dyn PieceStore,
    only: Option<NodeId>,
    trashed_before: i64,
) -> Result<Vec<(NodeId, TrashTotals)>, StoreError> {
    let mut out = Vec::new();
    for satellite in satellites(store, only).await? {
        out.push((
            satellite,
            store.empty_trash(satellite, trashed_before).await?,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use uplink_core::protocol::{PieceId, now_unix};

    use super::*;
    use crate::node::piecestore::conformance::{test_data, test_header};

    #[tokio::test]
    async fn list_restore_and_empty_a_stopped_nodes_trash() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            open_node_store(&dir.path().join("typo"))
                .unwrap_err()
                .to_string()
                .contains("not a node data directory")
        );
        assert!(
            !dir.path().join("typo").exists(),
            "a mistyped path was created"
        );
        let (a, b) = (NodeId::random(), NodeId::random());
        {
            let store = DiskStore::open(dir.path(), false).unwrap();
            for (sat, n) in [(a, 3), (b, 2)] {
                for i in 0..n {
                    let piece = PieceId::random();
                    let data = test_data(1000 * (i + 1), i as u8);
                    let mut w = store.create(sat, piece).await.unwrap();
                    w.write(&data).await.unwrap();
                    w.commit(test_header(sat, piece, &data)).await.unwrap();
                    store.trash(sat, piece).await.unwrap();
                }
            }
        }
        let store = open_node_store(dir.path()).unwrap();
        let mut all = list(&store, None).await.unwrap();
        all.sort_by_key(|t| t.satellite);
        let mut expected = vec![(a, 3), (b, 2)];
        expected.sort();
        assert_eq!(
            all.iter()
                .map(|t| (t.satellite, t.pieces))
                .collect::<Vec<_>>(),
            expected
        );
        let now = now_unix();
        for t in &all {
            assert!(t.bytes > 1000 * t.pieces);
            assert!(t.oldest.unwrap() <= t.newest.unwrap() && t.newest.unwrap() <= now + 1);
        }
        let only_a = list(&store, Some(a)).await.unwrap();
        assert_eq!(only_a.len(), 1);
        assert_eq!(only_a[0].pieces, 3);

        let restored = restore(&store, Some(a)).await.unwrap();
        assert_eq!(
            restored,
            vec![(
                a,
                TrashTotals {
                    pieces: 3,
                    bytes: only_a[0].bytes
                }
            )]
        );
        assert_eq!(store.list(a).await.unwrap().len(), 3);
        let used = store.used_bytes().await.unwrap();
        let b_bytes = list(&store, Some(b)).await.unwrap()[0].bytes;
        let emptied = empty(&store, None, i64::MAX).await.unwrap();
        let total: u64 = emptied.iter().map(|(_, t)| t.bytes).sum();
        assert_eq!(total, b_bytes, "only b had trash left");
        assert_eq!(store.used_bytes().await.unwrap(), used - b_bytes);
        assert!(
            list(&store, None)
                .await
                .unwrap()
                .iter()
                .all(|t| t.pieces == 0)
        );
    }
}
