//! A TCP forwarder that keeps a copy of every byte it carries, both ways: what an
//! eavesdropper on the network between two parties would capture.

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Forwards connections on `address()` to a target and records the traffic.
pub struct Wiretap {
    address: String,
    captured: Arc<Mutex<Vec<u8>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Wiretap {
    /// Listens on `listen` (`ip:0` picks a port) and forwards to `target`.
    pub async fn start(listen: &str, target: &str) -> Self {
        let listener = TcpListener::bind(listen).await.expect("wiretap listens");
        let address = listener.local_addr().unwrap().to_string();
        let captured = Arc::new(Mutex::new(Vec::new()));
        let target = target.to_string();
        let sink = captured.clone();
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let (target, sink) = (target.clone(), sink.clone());
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (ri, wi) = inbound.into_split();
                    let (ro, wo) = outbound.into_split();
                    tokio::join!(pump(ri, wo, sink.clone()), pump(ro, wi, sink));
                });
            }
        });
        Self {
            address,
            captured,
            task,
        }
    }

    /// `ip:port` to dial instead of the target.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Everything carried so far, both directions concatenated per read.
    pub fn captured(&self) -> Vec<u8> {
        self.captured.lock().clone()
    }
}

impl Drop for Wiretap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    sink: Arc<Mutex<Vec<u8>>>,
) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                sink.lock().extend_from_slice(&buf[..n]);
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
