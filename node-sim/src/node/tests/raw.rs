//! HTTP/1.1 by hand, for clients that misbehave on purpose: a request whose head and
//! body the test sends piece by piece, while the response is read as it comes.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::task::JoinHandle;

/// Outer bound on anything a test waits for; generous, so a slow machine cannot lose.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// One connection: the test writes, a task reads until the server closes.
pub struct RawConnection {
    write: OwnedWriteHalf,
    read: JoinHandle<Vec<u8>>,
}

impl RawConnection {
    pub async fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut read, write) = stream.into_split();
        let read = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 16 << 10];
            loop {
                match read.read(&mut buf).await {
                    Ok(0) | Err(_) => return got,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
        });
        Self { write, read }
    }

    /// Opens a connection and sends the head of a POST with a body of `content_length`.
    pub async fn post(addr: SocketAddr, path: &str, content_length: usize) -> Self {
        let mut conn = Self::open(addr).await;
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: node\r\nconnection: close\r\n\
             content-type: application/json\r\ncontent-length: {content_length}\r\n\r\n"
        );
        conn.send(head.as_bytes()).await.unwrap();
        conn
    }

    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write.write_all(bytes).await?;
        self.write.flush().await
    }

    /// Sends `bytes` one at a time, `every` apart, until the server closes the
    /// connection (within [`PATIENCE`]); returns all the server sent.
    pub async fn dribble(mut self, bytes: Vec<u8>, every: Duration) -> Vec<u8> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        for b in bytes {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server kept a dribbling connection open for {PATIENCE:?}"
            );
            if self.is_closed() || self.send(&[b]).await.is_err() {
                break;
            }
            tokio::time::sleep(every).await;
        }
        self.closed().await
    }

    /// Whether the server has closed the connection yet.
    pub fn is_closed(&self) -> bool {
        self.read.is_finished()
    }

    /// Waits (within [`PATIENCE`]) for the server to close the connection; returns all
    /// it sent.
    pub async fn closed(self) -> Vec<u8> {
        let Self { write, read } = self;
        let got = tokio::time::timeout(PATIENCE, read)
            .await
            .unwrap_or_else(|_| panic!("the server kept the connection open for {PATIENCE:?}"))
            .unwrap();
        drop(write);
        got
    }
}

/// Status code and body of a raw HTTP/1.1 response.
pub fn parse_response(raw: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
