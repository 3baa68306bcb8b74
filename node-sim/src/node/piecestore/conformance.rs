//! The one test suite every [`PieceStore`] implementation must pass.
//!
//! Always compiled, so that stores (and fault-injecting wrappers) in other crates can run
//! it too:
//!
//! ```ignore
//! #[tokio::test]
//! async fn conformance() {
//!     run_all(|| Arc::new(MyStore::new())).await;
//! }
//! ```
//!
//! Failures panic with a message naming the property that broke.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use uplink_core::protocol::piece::DEFAULT_HASH_BLOCK_SIZE;
use uplink_core::protocol::{
    BlockHasher, Identity, NodeId, OrderLimit, PieceAction, PieceHash, PieceId, SerialNumber,
    Signature, now_unix,
};

use super::{PieceHeader, PieceInfo, PieceReader, PieceStore, StoreError, TrashTotals};

/// Runs every check, each against a fresh store from `make`.
pub async fn run_all(make: impl Fn() -> Arc<dyn PieceStore>) {
    round_trip(make()).await;
    empty_piece(make()).await;
    ranges(make()).await;
    out_of_range_reads_are_refused(make()).await;
    uncommitted_writes_are_invisible(make()).await;
    cancel_and_drop_leave_nothing(make()).await;
    already_exists(make()).await;
    delete_then_not_found(make()).await;
    list_per_satellite(make()).await;
    used_bytes_accounting(make()).await;
    header_preserved_exactly(make()).await;
    trash_hides_pieces_and_restore_brings_them_back(make()).await;
    empty_trash_removes_what_was_trashed_before(make()).await;
    trashed_ids_can_be_stored_again(make()).await;
    pieces_report_stored_at_and_footprint(make()).await;
    satellites_with_pieces_or_trash(make()).await;
    stale_partial_cleanup_spares_writes_in_progress(make()).await;
}

/// Deterministic pseudo-random test bytes.
pub fn test_data(len: usize, seed: u8) -> Vec<u8> {
    let mut x = 0x9e37_79b9u32 ^ seed as u32;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A realistic header for `data` stored as `piece` for `satellite`, signed by throwaway
/// satellite and uplink keys.
pub fn test_header(satellite: NodeId, piece: PieceId, data: &[u8]) -> PieceHeader {
    let sat_key = Identity::generate(0);
    let piece_key = Identity::generate(0);
    let now = now_unix();
    let mut order_limit = OrderLimit {
        serial_number: SerialNumber::random(),
        satellite_id: satellite,
        node_id: NodeId::random(),
        piece_id: piece,
        action: PieceAction::Put,
        limit: data.len() as u64,
        piece_public_key: piece_key.public_key(),
        order_creation: now,
        order_expiration: now + 3600,
        piece_expiration: Some(now + 86_400),
        satellite_signature: Signature::default(),
    };
    order_limit.satellite_signature = sat_key.sign(&order_limit);
    let mut hasher = BlockHasher::new(DEFAULT_HASH_BLOCK_SIZE);
    hasher.update(data);
    let (block_hashes, root) = hasher.finish();
    let mut piece_hash = PieceHash {
        piece_id: piece,
        piece_size: data.len() as u64,
        hash_block_size: DEFAULT_HASH_BLOCK_SIZE,
        root,
        timestamp: now,
        signature: Signature::default(),
    };
    piece_hash.signature = piece_key.sign(&piece_hash);
    PieceHeader {
        order_limit,
        piece_hash,
        block_hashes,
        stored_at: now,
    }
}

async fn put(store: &Arc<dyn PieceStore>, sat: NodeId, piece: PieceId, data: &[u8]) -> PieceHeader {
    let header = test_header(sat, piece, data);
    let mut w = store
        .create(sat, piece)
        .await
        .unwrap_or_else(|e| panic!("create {piece}: {e}"));
    w.write(data).await.expect("write");
    w.commit(header.clone()).await.expect("commit");
    header
}

async fn open(store: &Arc<dyn PieceStore>, sat: NodeId, piece: PieceId) -> Box<dyn PieceReader> {
    store
        .open(sat, piece)
        .await
        .unwrap_or_else(|e| panic!("open {piece}: {e}"))
}

async fn assert_not_found(store: &Arc<dyn PieceStore>, sat: NodeId, piece: PieceId, why: &str) {
    match store.open(sat, piece).await {
        Err(StoreError::NotFound) => {}
        Err(e) => panic!("{why}: expected NotFound, got {e}"),
        Ok(r) => panic!("{why}: expected NotFound, opened a {}-byte piece", r.size()),
    }
}

async fn used(store: &Arc<dyn PieceStore>) -> u64 {
    store.used_bytes().await.expect("used_bytes")
}

async fn round_trip(store: Arc<dyn PieceStore>) {
    let (sat, piece) = (NodeId::random(), PieceId::random());
    let data = test_data(300_000, 1);
    let header = test_header(sat, piece, &data);
    let mut w = store.create(sat, piece).await.expect("create");
    let mut written = 0u64;
    for chunk in [&data[..1], &data[1..1], &data[1..70_000], &data[70_000..]] {
        w.write(chunk).await.expect("write");
        written += chunk.len() as u64;
        assert_eq!(w.size(), written, "round trip: writer size counts bytes");
    }
    w.commit(header.clone()).await.expect("commit");
    let r = open(&store, sat, piece).await;
    assert_eq!(r.size(), data.len() as u64, "round trip: size");
    assert_eq!(r.header(), &header, "round trip: header");
    assert!(
        r.read_at(0, data.len()).await.expect("read") == data,
        "round trip: data differs"
    );
}

async fn empty_piece(store: Arc<dyn PieceStore>) {
    let (sat, piece) = (NodeId::random(), PieceId::random());
    let header = put(&store, sat, piece, &[]).await;
    let r = open(&store, sat, piece).await;
    assert_eq!(r.size(), 0, "empty piece: size");
    assert_eq!(r.header(), &header, "empty piece: header");
    assert!(r.read_at(0, 0).await.expect("read").is_empty());
}

async fn ranges(store: Arc<dyn PieceStore>) {
    let (sat, piece) = (NodeId::random(), PieceId::random());
    let data = test_data(200_000, 2);
    put(&store, sat, piece, &data).await;
    let r = open(&store, sat, piece).await;
    for (offset, len) in [
        (0usize, 1usize),
        (0, 65_536),
        (65_536, 65_536),
        (1, 199_999),
        (123_457, 1000),
        (199_999, 1),
        (200_000, 0),
        (77, 0),
    ] {
        let got = r.read_at(offset as u64, len).await.expect("read_at");
        assert!(
            got[..] == data[offset..offset + len],
            "ranges: read_at({offset}, {len}) returned other bytes"
        );
    }
}

async fn out_of_range_reads_are_refused(store: Arc<dyn PieceStore>) {
    let (sat, piece) = (NodeId::random(), PieceId::random());
    put(&store, sat, piece, &test_data(1000, 3)).await;
    let r = open(&store, sat, piece).await;
    for (offset, len) in [
        (999u64, 2usize),
        (1000, 1),
        (1001, 0),
        (0, 1001),
        (u64::MAX, 1),
    ] {
        assert!(
            r.read_at(offset, len).await.is_err(),
            "out of range: read_at({offset}, {len}) of a 1000-byte piece must fail"
        );
    }
}

async fn uncommitted_writes_are_invisible(store: Arc<dyn PieceStore>) {
    let (sat, piece) = (NodeId::random(), PieceId::random());
    let data = test_data(50_000, 4);
    let mut w = store.create(sat, piece).await.expect("create");
    w.write(&data).await.expect("write");
    assert_not_found(&store, sat, piece, "uncommitted piece").await;
    assert!(
        store.list(sat).await.expect("list").is_empty(),
        "uncommitted piece is listed"
    );
    assert_eq!(used(&store).await, 0, "uncommitted piece counts as used");
    w.commit(test_header(sat, piece, &data))
        .await
        .expect("commit");
    assert_eq!(open(&store, sat, piece).await.size(), 50_000);
    assert_eq!(store.list(sat).await.expect("list"), vec![piece]);
}

async fn cancel_and_drop_leave_nothing(store: Arc<dyn PieceStore>) {
    let sat = NodeId::random();
    let kept = PieceId::random();
    put(&store, sat, kept, &test_data(1000, 5)).await;
    let before = used(&store).await;
    for how in ["cancel", "drop"] {
        let piece = PieceId::random();
        let mut w = store.create(sat, piece).await.expect("create");
        w.write(&test_data(20_000, 6)).await.expect("write");
        if how == "cancel" {
            w.cancel().await.expect("cancel");
        } else {
            drop(w);
        }
        assert_not_found(&store, sat, piece, how).await;
        assert_eq!(
            store.list(sat).await.expect("list"),
            vec![kept],
            "{how}: only the committed piece is listed"
        );
        assert_eq!(used(&store).await, before, "{how}: used bytes changed");
        // The id is free again.
        let data = test_data(10, 7);
        put(&store, sat, piece, &data).await;
        assert!(
            open(&store, sat, piece)
                .await
                .read_at(0, 10)
                .await
                .expect("read")
                == data
        );
        assert!(store.delete(sat, piece).await.expect("delete"));
    }
}

async fn already_exists(store: Arc<dyn PieceStore>) {
    let (sat, piece) = (NodeId::random(), PieceId::random());
    let first = test_data(1000, 8);
    // Two writers racing for the same id: the first commit wins.
    let mut a = store.create(sat, piece).await.expect("create a");
    let mut b = store.create(sat, piece).await.expect("create b");
    a.write(&first).await.expect("write a");
    b.write(&test_data(2000, 9)).await.expect("write b");
    let header = test_header(sat, piece, &first);
    a.commit(header.clone()).await.expect("commit a");
    match b.commit(test_header(sat, piece, &test_data(2000, 9))).await {
        Err(StoreError::AlreadyExists) => {}
        other => panic!("second commit of one piece id: expected AlreadyExists, got {other:?}"),
    }
    match store.create(sat, piece).await {
        Err(StoreError::AlreadyExists) => {}
        Err(e) => panic!("create of a stored piece: expected AlreadyExists, got {e}"),
        Ok(_) => panic!("create of a stored piece: expected AlreadyExists, got a writer"),
    }
    let r = open(&store, sat, piece).await;
    assert_eq!(r.header(), &header, "already exists: first piece replaced");
    assert!(r.read_at(0, 1000).await.expect("read") == first);
    // The same id under another satellite is another piece.
    put(&store, NodeId::random(), piece, &test_data(10, 10)).await;
}

async fn delete_then_not_found(store: Arc<dyn PieceStore>) {
    let (sat, piece) = (NodeId::random(), PieceId::random());
    put(&store, sat, piece, &test_data(5000, 11)).await;
    let other_sat = NodeId::random();
    put(&store, other_sat, piece, &test_data(10, 12)).await;
    assert!(
        store.delete(sat, piece).await.expect("delete"),
        "delete of a stored piece"
    );
    assert_not_found(&store, sat, piece, "deleted piece").await;
    assert!(
        !store.delete(sat, piece).await.expect("delete again"),
        "second delete must report absence"
    );
    assert!(
        !store.delete(sat, PieceId::random()).await.expect("delete"),
        "delete of a never stored piece"
    );
    assert_eq!(
        open(&store, other_sat, piece).await.size(),
        10,
        "delete removed another satellite's piece"
    );
}

async fn list_per_satellite(store: Arc<dyn PieceStore>) {
    let (a, b) = (NodeId::random(), NodeId::random());
    assert!(store.list(a).await.expect("list").is_empty());
    let mut of_a: Vec<PieceId> = (0..5).map(|_| PieceId::random()).collect();
    let mut of_b: Vec<PieceId> = (0..3).map(|_| PieceId::random()).collect();
    for (i, p) in of_a.iter().enumerate() {
        put(&store, a, *p, &test_data(100 + i, 13)).await;
    }
    for p in &of_b {
        put(&store, b, *p, &test_data(7, 14)).await;
    }
    store.delete(a, of_a[4]).await.expect("delete");
    of_a.pop();
    let mut listed_a = store.list(a).await.expect("list a");
    let mut listed_b = store.list(b).await.expect("list b");
    of_a.sort();
    of_b.sort();
    listed_a.sort();
    listed_b.sort();
    assert_eq!(listed_a, of_a, "list of satellite a");
    assert_eq!(listed_b, of_b, "list of satellite b");
}

async fn used_bytes_accounting(store: Arc<dyn PieceStore>) {
    let sat = NodeId::random();
    assert_eq!(used(&store).await, 0, "a new store uses nothing");
    let mut total = 0;
    let mut pieces = Vec::new();
    for (i, len) in [100_000usize, 1, 0, 70_000].into_iter().enumerate() {
        let piece = PieceId::random();
        let before = used(&store).await;
        let header = put(&store, sat, piece, &test_data(len, 15 + i as u8)).await;
        let overhead = postcard::to_allocvec(&header).expect("encode").len() as u64 + 64;
        let delta = used(&store).await - before;
        assert!(
            delta >= len as u64 && delta <= len as u64 + overhead,
            "used bytes grew by {delta} for a {len}-byte piece (header overhead at most {overhead})"
        );
        total += delta;
        pieces.push((piece, delta));
    }
    assert_eq!(used(&store).await, total);
    for (piece, delta) in pieces {
        let before = used(&store).await;
        store.delete(sat, piece).await.expect("delete");
        assert_eq!(
            before - used(&store).await,
            delta,
            "delete frees what commit used"
        );
    }
    assert_eq!(used(&store).await, 0, "all deleted, nothing used");
}

async fn header_preserved_exactly(store: Arc<dyn PieceStore>) {
    let (sat, piece) = (NodeId::random(), PieceId::random());
    // Many block hashes, an unusual expiration and extreme field values.
    let data = test_data(1_000_000, 20);
    let mut header = test_header(sat, piece, &data);
    header.order_limit.piece_expiration = None;
    header.order_limit.limit = u64::MAX;
    header.order_limit.order_creation = i64::MIN;
    header.piece_hash.timestamp = i64::MAX;
    header.stored_at = -1;
    let mut w = store.create(sat, piece).await.expect("create");
    w.write(&data).await.expect("write");
    w.commit(header.clone()).await.expect("commit");
    let r = open(&store, sat, piece).await;
    assert_eq!(r.header(), &header, "header changed in storage");
    assert_eq!(r.header().block_hashes.len(), 16);
}

/// Everything [`PieceStore::pieces`] yields for `sat`, by id; panics on an error item.
pub async fn collect_pieces(
    store: &Arc<dyn PieceStore>,
    sat: NodeId,
) -> HashMap<PieceId, PieceInfo> {
    let mut out = HashMap::new();
    let mut stream = store.pieces(sat);
    while let Some(item) = stream.next().await {
        let info = item.unwrap_or_else(|e| panic!("pieces: {e}"));
        assert!(
            out.insert(info.piece_id, info).is_none(),
            "pieces: {} yielded twice",
            info.piece_id
        );
    }
    out
}

async fn put_at(
    store: &Arc<dyn PieceStore>,
    sat: NodeId,
    piece: PieceId,
    data: &[u8],
    stored_at: i64,
) -> PieceHeader {
    let mut header = test_header(sat, piece, data);
    header.stored_at = stored_at;
    let mut w = store.create(sat, piece).await.expect("create");
    w.write(data).await.expect("write");
    w.commit(header.clone()).await.expect("commit");
    header
}

async fn trash_hides_pieces_and_restore_brings_them_back(store: Arc<dyn PieceStore>) {
    let (sat, other_sat) = (NodeId::random(), NodeId::random());
    let pieces: Vec<(PieceId, Vec<u8>)> = (0..4)
        .map(|i| (PieceId::random(), test_data(10_000 * (i + 1), 30 + i as u8)))
        .collect();
    let mut headers = Vec::new();
    for (piece, data) in &pieces {
        headers.push(put(&store, sat, *piece, data).await);
    }
    let other = PieceId::random();
    put(&store, other_sat, other, &test_data(100, 40)).await;
    let before = used(&store).await;
    let footprints = collect_pieces(&store, sat).await;

    for (piece, _) in &pieces[..3] {
        assert!(
            store.trash(sat, *piece).await.expect("trash"),
            "trash of a stored piece"
        );
        assert_not_found(&store, sat, *piece, "trashed piece").await;
    }
    assert!(
        !store.trash(sat, pieces[0].0).await.expect("trash again"),
        "trash of a trashed piece must report absence"
    );
    assert!(
        !store.trash(sat, PieceId::random()).await.expect("trash"),
        "trash of a never stored piece"
    );
    assert!(
        !store.trash(other_sat, pieces[3].0).await.expect("trash"),
        "trash under another satellite"
    );
    assert!(
        !store.delete(sat, pieces[0].0).await.expect("delete"),
        "delete acts on committed pieces, not trash"
    );
    assert_eq!(
        used(&store).await,
        before,
        "trashed pieces still use their space"
    );
    assert_eq!(
        store.list(sat).await.expect("list"),
        vec![pieces[3].0],
        "trashed pieces are listed"
    );
    let live = collect_pieces(&store, sat).await;
    assert_eq!(
        live.keys().collect::<Vec<_>>(),
        vec![&pieces[3].0],
        "pieces() after trash"
    );

    let mut trashed = store.list_trash(sat).await.expect("list_trash");
    trashed.sort_by_key(|t| t.piece_id);
    let mut expected: Vec<PieceId> = pieces[..3].iter().map(|(p, _)| *p).collect();
    expected.sort();
    assert_eq!(
        trashed.iter().map(|t| t.piece_id).collect::<Vec<_>>(),
        expected,
        "list_trash"
    );
    let now = now_unix();
    for t in &trashed {
        assert_eq!(
            t.footprint, footprints[&t.piece_id].footprint,
            "trashed footprint differs from the stored one"
        );
        assert!(
            (now - 60..=now + 1).contains(&t.trashed_at),
            "trashed_at {} is not the time of trashing ({now})",
            t.trashed_at
        );
    }
    assert!(
        store
            .list_trash(other_sat)
            .await
            .expect("list_trash")
            .is_empty(),
        "another satellite's trash"
    );
    assert_eq!(
        store.restore_trash(other_sat).await.expect("restore"),
        TrashTotals::default(),
        "restoring an empty trash"
    );

    let restored = store.restore_trash(sat).await.expect("restore");
    assert_eq!(restored.pieces, 3, "restored pieces");
    assert_eq!(
        restored.bytes,
        trashed.iter().map(|t| t.footprint).sum::<u64>(),
        "restored bytes"
    );
    assert_eq!(used(&store).await, before, "restore changes no space");
    assert!(store.list_trash(sat).await.expect("list_trash").is_empty());
    for ((piece, data), header) in pieces.iter().zip(&headers) {
        let r = open(&store, sat, *piece).await;
        assert_eq!(r.header(), header, "restored header");
        assert!(
            r.read_at(0, data.len()).await.expect("read") == *data,
            "restored piece differs"
        );
    }
    assert_eq!(open(&store, other_sat, other).await.size(), 100);
}

async fn empty_trash_removes_what_was_trashed_before(store: Arc<dyn PieceStore>) {
    let (sat, other_sat) = (NodeId::random(), NodeId::random());
    let (a, b, kept) = (PieceId::random(), PieceId::random(), PieceId::random());
    put(&store, sat, a, &test_data(5000, 50)).await;
    put(&store, sat, b, &test_data(7000, 51)).await;
    put(&store, sat, kept, &test_data(3000, 52)).await;
    let theirs = PieceId::random();
    put(&store, other_sat, theirs, &test_data(100, 53)).await;
    let infos = collect_pieces(&store, sat).await;
    let before = used(&store).await;
    store.trash(sat, a).await.expect("trash");
    store.trash(sat, b).await.expect("trash");
    store.trash(other_sat, theirs).await.expect("trash");

    let now = now_unix();
    assert_eq!(
        store.empty_trash(sat, now - 3600).await.expect("empty"),
        TrashTotals::default(),
        "nothing was trashed an hour ago"
    );
    assert_eq!(used(&store).await, before);
    let emptied = store.empty_trash(sat, now + 3600).await.expect("empty");
    assert_eq!(
        emptied,
        TrashTotals {
            pieces: 2,
            bytes: infos[&a].footprint + infos[&b].footprint
        },
        "emptied"
    );
    assert_eq!(
        used(&store).await,
        before - emptied.bytes,
        "emptying frees exactly the trashed bytes"
    );
    assert!(store.list_trash(sat).await.expect("list_trash").is_empty());
    assert_eq!(
        store.restore_trash(sat).await.expect("restore").pieces,
        0,
        "emptied pieces cannot be restored"
    );
    assert_not_found(&store, sat, a, "emptied piece").await;
    assert_eq!(
        open(&store, sat, kept).await.size(),
        3000,
        "a live piece was removed"
    );
    assert_eq!(
        store.list_trash(other_sat).await.expect("list_trash").len(),
        1,
        "another satellite's trash was emptied"
    );
    assert_eq!(
        store
            .restore_trash(other_sat)
            .await
            .expect("restore")
            .pieces,
        1
    );
}

async fn trashed_ids_can_be_stored_again(store: Arc<dyn PieceStore>) {
    let (sat, piece) = (NodeId::random(), PieceId::random());
    let old = test_data(4000, 60);
    put(&store, sat, piece, &old).await;
    let base = used(&store).await;
    store.trash(sat, piece).await.expect("trash");
    // The satellite stores the same id again (repair to a node that held it once).
    let new = test_data(6000, 61);
    let header = put(&store, sat, piece, &new).await;
    let both = used(&store).await;
    assert!(
        both > base,
        "the new piece and the trashed one both use space"
    );
    // Restoring never replaces the live piece; the trashed copy stays in trash.
    assert_eq!(store.restore_trash(sat).await.expect("restore").pieces, 0);
    let r = open(&store, sat, piece).await;
    assert_eq!(r.header(), &header, "restore replaced a live piece");
    assert!(r.read_at(0, new.len()).await.expect("read") == new);
    assert_eq!(store.list_trash(sat).await.expect("list_trash").len(), 1);
    // Trashing the new piece replaces the older trashed copy.
    store.trash(sat, piece).await.expect("trash");
    let trashed = store.list_trash(sat).await.expect("list_trash");
    assert_eq!(trashed.len(), 1, "one trashed copy per piece id");
    assert_eq!(
        used(&store).await,
        both - base,
        "the replaced trashed copy freed its space"
    );
    store.restore_trash(sat).await.expect("restore");
    assert!(
        open(&store, sat, piece)
            .await
            .read_at(0, new.len())
            .await
            .expect("read")
            == new
    );
}

async fn pieces_report_stored_at_and_footprint(store: Arc<dyn PieceStore>) {
    let sat = NodeId::random();
    assert!(
        collect_pieces(&store, sat).await.is_empty(),
        "a new store has no pieces"
    );
    let mut expected = HashMap::new();
    for i in 0..40u8 {
        let piece = PieceId::random();
        let before = used(&store).await;
        let stored_at = 1_600_000_000 + i as i64 * 1000;
        put_at(
            &store,
            sat,
            piece,
            &test_data(i as usize * 37, 70 + i),
            stored_at,
        )
        .await;
        let footprint = used(&store).await - before;
        expected.insert(
            piece,
            PieceInfo {
                piece_id: piece,
                stored_at,
                footprint,
            },
        );
    }
    put(
        &store,
        NodeId::random(),
        PieceId::random(),
        &test_data(10, 1),
    )
    .await;
    assert_eq!(collect_pieces(&store, sat).await, expected, "pieces()");
}

async fn satellites_with_pieces_or_trash(store: Arc<dyn PieceStore>) {
    let (a, b) = (NodeId::random(), NodeId::random());
    assert!(store.satellites().await.expect("satellites").is_empty());
    let piece = PieceId::random();
    put(&store, a, piece, &test_data(10, 80)).await;
    put(&store, b, PieceId::random(), &test_data(10, 81)).await;
    store.trash(a, piece).await.expect("trash");
    let mut expected = vec![a, b];
    expected.sort();
    let mut got = store.satellites().await.expect("satellites");
    got.sort();
    assert_eq!(got, expected, "a satellite with only trash is listed too");
}

async fn stale_partial_cleanup_spares_writes_in_progress(store: Arc<dyn PieceStore>) {
    let (sat, piece) = (NodeId::random(), PieceId::random());
    let data = test_data(600_000, 90);
    let mut w = store.create(sat, piece).await.expect("create");
    w.write(&data[..300_000]).await.expect("write");
    assert_eq!(
        store
            .remove_stale_partials(now_unix() - 86_400)
            .await
            .expect("remove_stale_partials"),
        0,
        "a write in progress is not stale"
    );
    w.write(&data[300_000..]).await.expect("write");
    w.commit(test_header(sat, piece, &data))
        .await
        .expect("commit");
    assert!(
        open(&store, sat, piece)
            .await
            .read_at(0, data.len())
            .await
            .expect("read")
            == data
    );
}
