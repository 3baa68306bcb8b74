//! Clients that hold connections open by sending slowly, before anything about them is
//! authenticated: the node closes such connections. The tests assert that the close
//! happens (within a generous outer timeout), not how long it took.

use super::raw::{RawConnection, parse_response};
use super::*;

async fn start_strict() -> Net {
    start_strict_with(|_| {}).await
}

async fn start_strict_with(edit: impl FnOnce(&mut NodeConfig)) -> Net {
    start_with(|c| {
        // The requests are written by hand, so plain HTTP.
        c.plain_http = true;
        c.header_timeout = Duration::from_secs(1);
        c.keep_alive = Duration::from_secs(1);
        c.disconnect_timeout = Duration::from_secs(1);
        c.body_min_bytes = 1000;
        c.body_rate_window = Duration::from_secs(1);
        edit(c);
    })
    .await
}

const EVERY: Duration = Duration::from_millis(50);

/// Plenty of bytes to dribble: longer than any test waits.
fn filler(prefix: &[u8]) -> Vec<u8> {
    let mut bytes = prefix.to_vec();
    bytes.resize(prefix.len() + 100_000, b'a');
    bytes
}

#[tokio::test]
async fn a_request_head_sent_byte_by_byte_is_cut_off() {
    let net = start_strict().await;
    let conn = RawConnection::open(net.node.listen_addr()).await;
    let got = conn
        .dribble(
            filler(b"POST /v1/pieces/upload HTTP/1.1\r\nhost: node\r\nx-padding: "),
            EVERY,
        )
        .await;
    if !got.is_empty() {
        let (status, _) = parse_response(&got);
        assert_eq!(status, 408);
    }
}

#[tokio::test]
async fn a_body_sent_byte_by_byte_is_cut_off_on_every_endpoint() {
    let net = start_strict().await;
    let upload_start = wire::frame_header(FrameKind::OrderLimit, 50_000).to_vec();
    let cases: [(&str, Vec<u8>); 4] = [
        (UPLOAD_PATH, upload_start),
        (DOWNLOAD_PATH, b"{\"order_limit\": ".to_vec()),
        (DELETE_PATH, b"{".to_vec()),
        (wire::IDENTITY_CHALLENGE_PATH, b"{ ".to_vec()),
    ];
    let runs = cases.into_iter().map(|(path, start)| {
        let addr = net.node.listen_addr();
        async move {
            let conn = RawConnection::post(addr, path, 200_000).await;
            let mut body = start;
            body.resize(200_000, b' ');
            let got = conn.dribble(body, EVERY).await;
            let (status, text) = parse_response(&got);
            assert_eq!(status, 400, "{path}: {text}");
            assert!(text.contains("too slowly"), "{path}: {text}");
        }
    });
    futures::future::join_all(runs).await;
    assert_eq!(tmp_files(&net.node), 0, "the cut-off upload left nothing");
}

#[tokio::test]
async fn a_body_that_stops_is_cut_off_and_its_upload_leaves_nothing() {
    // In memory: only the node's own accounting moves the free space.
    let net = start_strict_with(|c| c.storage = StorageBackend::Memory).await;
    let free = net.node.space().report().await.unwrap().free;
    let piece = PieceId::random();
    let t = net.transfer(PieceAction::Put, piece, 1 << 20);
    let body = upload_body(&t.limit, &data(100_000, 1), None);
    let mut conn = RawConnection::post(net.node.listen_addr(), UPLOAD_PATH, body.len() + 1).await;
    conn.send(&body).await.unwrap();
    let (status, text) = parse_response(&conn.closed().await);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("too slowly"), "{text}");
    net.assert_not_stored(piece, "stalled upload").await;
    assert_eq!(
        net.node.space().report().await.unwrap().free,
        free,
        "the stalled upload's room is released"
    );
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_its_keep_alive() {
    let net = start_strict().await;
    let mut conn = RawConnection::open(net.node.listen_addr()).await;
    conn.send(b"GET /health HTTP/1.1\r\nhost: node\r\n\r\n")
        .await
        .unwrap();
    let (status, text) = parse_response(&conn.closed().await);
    assert_eq!(status, 200, "{text}");
}

#[tokio::test]
async fn a_later_request_head_sent_byte_by_byte_is_cut_off_too() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The server's own header timer only covers a connection's first request.
    let net = start_strict().await;
    let run = async {
        let mut stream = tokio::net::TcpStream::connect(net.node.listen_addr())
            .await
            .unwrap();
        stream
            .write_all(b"GET /health HTTP/1.1\r\nhost: node\r\n\r\n")
            .await
            .unwrap();
        // The whole first answer, then a second request that never completes.
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains("\"ok\":true") {
            let n = stream.read(&mut buf).await.unwrap();
            assert_ne!(n, 0, "the first request was not answered");
            got.extend_from_slice(&buf[..n]);
        }
        stream
            .write_all(b"GET /health HTTP/1.1\r\nhost: node\r\nx-slow: ")
            .await
            .unwrap();
        loop {
            if stream.write_all(b"a").await.is_err() {
                return;
            }
            match tokio::time::timeout(Duration::from_millis(250), stream.read(&mut buf)).await {
                Err(_) => {}
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Ok(Ok(n)) => panic!(
                    "the unfinished request was answered: {}",
                    String::from_utf8_lossy(&buf[..n])
                ),
            }
        }
    };
    tokio::time::timeout(super::raw::PATIENCE, run)
        .await
        .expect("the node kept a kept-alive connection with a slow head open");
}
