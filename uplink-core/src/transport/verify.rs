//! The client side of the handshake: a peer is accepted only if it proves the key of
//! the identity named in the server name (or, for [`Expected::AnyIdentity`], some
//! identity, which the caller then reads back).

use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::names::{Expected, parse_peer_host};
use super::{cert, provider};

/// The TLS client configuration every party dials with.
pub fn client_config() -> rustls::ClientConfig {
    let provider = provider();
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("ring supports TLS 1.3")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(IdentityVerifier { provider }))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

#[derive(Debug)]
pub struct IdentityVerifier {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

fn refuse(reason: String) -> rustls::Error {
    rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
        Arc::new(std::io::Error::other(reason)),
    )))
}

impl ServerCertVerifier for IdentityVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let ServerName::DnsName(name) = server_name else {
            return Err(refuse(
                "peers are dialled by identity, not by IP address".into(),
            ));
        };
        let Some((expected, _)) = parse_peer_host(name.as_ref()) else {
            return Err(refuse(format!("{} is not a peer name", name.as_ref())));
        };
        let proven = cert::node_id_of(end_entity).map_err(|e| refuse(e.to_string()))?;
        match expected {
            Expected::Id(want) if want != proven => Err(refuse(format!(
                "the peer is not {want}: it proved identity {proven}"
            ))),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        vec![rustls::SignatureScheme::ED25519]
    }
}
