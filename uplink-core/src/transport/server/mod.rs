//! The server side: every listener presents the party's identity certificate to peers,
//! which always ask for a peer name (see [`super::names`]). Any other client (a browser
//! opening the web console, `curl`) gets the operator's certificate if one is configured
//! (say, from a public CA, for the console's public name), or else a self-signed ECDSA
//! certificate made at start-up: browsers do not accept ed25519 certificates at all,
//! and this way they at least reach a page they can choose to trust.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

#[cfg(feature = "server")]
pub mod body_rate;
#[cfg(feature = "server")]
pub mod deadlines;

pub use rustls::ServerConfig;

use super::{TransportError, cert, names, provider};
use crate::protocol::Identity;

/// A certificate chain and key from PEM files, for public names.
#[derive(Clone, Debug)]
pub struct OperatorCertificate(Arc<CertifiedKey>);

impl OperatorCertificate {
    /// A certificate chain and its key, as DER.
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TransportError> {
        Ok(Self(Arc::new(certified(chain, key)?)))
    }

    /// A fresh self-signed ECDSA P-256 certificate for `names` (DNS names or IPs).
    pub fn self_signed(names: &[String]) -> Result<Self, TransportError> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| TransportError::Certificate(format!("generating a key: {e}")))?;
        let params = rcgen::CertificateParams::new(names.to_vec())
            .map_err(|e| TransportError::Certificate(format!("certificate names: {e}")))?;
        let cert = params
            .self_signed(&key)
            .map_err(|e| TransportError::Certificate(format!("signing: {e}")))?;
        let der = PrivateKeyDer::try_from(key.serialize_der())
            .map_err(|e| TransportError::Certificate(e.to_string()))?;
        Self::from_der(vec![cert.der().clone()], der)
    }

    pub fn from_pem_files(chain: &Path, key: &Path) -> Result<Self, TransportError> {
        let certs = CertificateDer::pem_file_iter(chain)
            .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
            .map_err(|e| {
                TransportError::Certificate(format!("reading {}: {e}", chain.display()))
            })?;
        if certs.is_empty() {
            return Err(TransportError::Certificate(format!(
                "{} holds no certificate",
                chain.display()
            )));
        }
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| TransportError::Certificate(format!("reading {}: {e}", key.display())))?;
        Ok(Self(Arc::new(certified(certs, key)?)))
    }
}

fn certified(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<CertifiedKey, TransportError> {
    let key = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| TransportError::Certificate(format!("unusable private key: {e}")))?;
    Ok(CertifiedKey::new(certs, key))
}

/// The TLS server configuration of a public web face (gateway, share links): only the
/// operator's certificate, TLS 1.2 and 1.3, HTTP/1.1, for browsers, players and SDKs.
pub fn public_config(certificate: &OperatorCertificate) -> Result<ServerConfig, TransportError> {
    #[derive(Debug)]
    struct Always(Arc<CertifiedKey>);
    impl ResolvesServerCert for Always {
        fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
            Some(self.0.clone())
        }
    }
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TransportError::Setup(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Always(certificate.0.clone())));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The TLS server configuration for a party with `identity`.
pub fn server_config(
    identity: &Identity,
    operator: Option<OperatorCertificate>,
) -> Result<rustls::ServerConfig, TransportError> {
    let (cert, key) = cert::self_signed(identity)?;
    let public = match operator {
        Some(operator) => operator,
        None => OperatorCertificate::self_signed(&[
            "localhost".into(),
            "127.0.0.1".into(),
            "::1".into(),
        ])?,
    };
    let resolver = CertificateChoice {
        identity: Arc::new(certified(vec![cert], key)?),
        public: public.0,
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TransportError::Setup(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[derive(Debug)]
struct CertificateChoice {
    identity: Arc<CertifiedKey>,
    public: Arc<CertifiedKey>,
}

impl ResolvesServerCert for CertificateChoice {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        match hello.server_name() {
            Some(name) if names::is_peer_host(name) => Some(self.identity.clone()),
            _ => Some(self.public.clone()),
        }
    }
}
