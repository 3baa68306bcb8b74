//! Real handshakes on loopback: a rustls server presenting an identity certificate,
//! dialled through [`Transport`].

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

use super::*;
use crate::protocol::Identity;

/// Serves `answers` HTTPS requests as `identity`, each answered `200 ok`.
fn serve(identity: &Identity, answers: usize) -> String {
    let config = Arc::new(server::server_config(identity, None).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(answers) {
            let Ok(stream) = stream else { continue };
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = tls
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    address
}

#[tokio::test]
async fn a_peer_is_accepted_only_with_the_identity_it_was_addressed_by() {
    let identity = Identity::generate(0);
    let address = serve(&identity, 3);
    let transport = Transport::new(Mode::Tls).unwrap();

    let url = transport
        .url(&identity.node_id(), &address, "/health")
        .unwrap();
    let response = transport.http().get(&url).send().await.unwrap();
    assert_eq!(peer_identity(&response), Some(identity.node_id()));
    assert_eq!(response.text().await.unwrap(), "ok");

    let impostor = Identity::generate(0).node_id();
    let url = transport.url(&impostor, &address, "/health").unwrap();
    let err = transport.http().get(&url).send().await.unwrap_err();
    let chain = error_chain(&err);
    assert!(
        chain.contains(&format!("the peer is not {impostor}")),
        "{chain}"
    );

    // Trust on first use: any identity, which the caller reads back.
    let url = transport
        .url_expecting(Expected::AnyIdentity, &address, "/")
        .unwrap();
    let response = transport.http().get(&url).send().await.unwrap();
    assert_eq!(peer_identity(&response), Some(identity.node_id()));
}

#[tokio::test]
async fn plain_http_is_refused_in_tls_mode() {
    let transport = Transport::new(Mode::Tls).unwrap();
    let err = transport
        .http()
        .get("http://127.0.0.1:9/")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_builder(), "{err:?}");
}

#[test]
fn urls_by_mode() {
    let id = Identity::generate(0).node_id();
    let tls = Transport::new(Mode::Tls).unwrap();
    let url = tls.url(&id, "127.0.3.1:28967", "/v1/pieces").unwrap();
    assert!(url.starts_with("https://"), "{url}");
    assert!(
        url.ends_with(".127-0-3-1.v4.peer.invalid:28967/v1/pieces"),
        "{url}"
    );
    let plain = Transport::new(Mode::PlainHttp).unwrap();
    assert_eq!(
        plain.url(&id, "127.0.3.1:28967", "/v1/pieces").unwrap(),
        "http://127.0.3.1:28967/v1/pieces"
    );
    assert_eq!(plain.url(&id, "[::1]:80", "/").unwrap(), "http://[::1]:80/");
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
