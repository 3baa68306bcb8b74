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

/// Accepts any certificate and keeps it, to see what a server presents.
#[derive(Debug)]
struct Recorder(std::sync::Mutex<Option<rustls::pki_types::CertificateDer<'static>>>);

impl rustls::client::danger::ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        *self.0.lock().unwrap() = Some(end_entity.clone().into_owned());
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The certificate a server at `address` presents for `name`.
fn presented(
    address: &str,
    name: rustls::pki_types::ServerName<'static>,
) -> CertificateDer<'static> {
    let recorder = Arc::new(Recorder(std::sync::Mutex::new(None)));
    let config = rustls::ClientConfig::builder_with_provider(super::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut sock = std::net::TcpStream::connect(address).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).unwrap();
    }
    recorder.0.lock().unwrap().clone().expect("a certificate")
}

use rustls::pki_types::CertificateDer;

#[test]
fn browsers_get_a_certificate_they_accept_and_peers_the_identity() {
    let identity = Identity::generate(0);
    let address = serve(&identity, 2);
    let (peer_name, _) = names::peer_host(&Expected::Id(identity.node_id()), &address).unwrap();
    let peer = presented(
        &address,
        rustls::pki_types::ServerName::try_from(peer_name).unwrap(),
    );
    assert_eq!(cert::node_id_of(&peer).unwrap(), identity.node_id());
    // By IP (no server name), as a browser opening https://127.0.0.1:port/ does: not the
    // ed25519 identity certificate, which browsers refuse.
    let browser = presented(
        &address,
        rustls::pki_types::ServerName::IpAddress(
            "127.0.0.1".parse::<std::net::IpAddr>().unwrap().into(),
        ),
    );
    assert!(matches!(
        cert::node_id_of(&browser),
        Err(TransportError::Certificate(_))
    ));
}
