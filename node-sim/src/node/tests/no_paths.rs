//! Failures of the node's own storage are answered without saying where the node keeps
//! its files: the details go to the node's log, the client gets a fixed text.

use super::*;

/// Asserts an internal error whose body names no local path.
async fn expect_internal_without_paths(resp: reqwest::Response, data_dir: &Path, what: &str) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body: ErrorBody = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{what}: not an error body ({e}): {status} {text}"));
    assert_eq!(body.error.code, ErrorCode::Internal, "{what}: {text}");
    assert_eq!(status, 500, "{what}");
    let dir = data_dir.display().to_string();
    let canonical = data_dir.canonicalize().unwrap().display().to_string();
    for path in [
        dir.as_str(),
        canonical.as_str(),
        "/pieces/",
        "/tmp/",
        ".partial",
    ] {
        assert!(
            !text.contains(path),
            "{what}: the answer names {path:?}: {text}"
        );
    }
    assert_eq!(body.error.message, error::INTERNAL_MESSAGE, "{what}");
}

#[tokio::test]
async fn storage_failures_put_no_local_path_on_the_wire() {
    let net = start().await;
    let data_dir = net.node.data_dir().to_path_buf();
    let sat = net.sat.node_id();
    let disk = DiskStore::open(&data_dir, false).unwrap();

    // A damaged piece file: the download is refused as an internal error.
    let damaged = PieceId::random();
    net.upload(damaged, &data(5_000, 1)).await;
    let path = disk.piece_path(&sat, &damaged);
    std::fs::write(&path, b"not a piece any more").unwrap();
    let t = net.transfer(PieceAction::Get, damaged, 100);
    let resp = net
        .post_json(
            DOWNLOAD_PATH,
            &DownloadRequest {
                order_limit: t.limit,
                offset: 0,
                length: 100,
            },
        )
        .await;
    expect_internal_without_paths(resp, &data_dir, "damaged piece").await;

    // A piece file that cannot be removed (a directory stands in its place).
    let stuck = PieceId::random();
    net.upload(stuck, &data(5_000, 2)).await;
    let path = disk.piece_path(&sat, &stuck);
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("keep"), b"x").unwrap();
    let t = net.transfer(PieceAction::Delete, stuck, 0);
    let resp = net
        .post_json(
            DELETE_PATH,
            &DeleteRequest {
                order_limit: t.limit,
            },
        )
        .await;
    expect_internal_without_paths(resp, &data_dir, "undeletable piece").await;

    // The directory for writes in progress is gone.
    std::fs::remove_dir_all(data_dir.join("tmp")).unwrap();
    let piece = PieceId::random();
    let content = data(5_000, 3);
    let t = net.transfer(PieceAction::Put, piece, content.len() as u64);
    let hash = piece_hash(&t.piece_key, piece, &content);
    let resp = net
        .post(UPLOAD_PATH, upload_body(&t.limit, &content, Some(&hash)))
        .await;
    expect_internal_without_paths(resp, &data_dir, "no directory for uploads").await;
}
