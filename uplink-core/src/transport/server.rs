//! The server side: every listener presents the party's identity certificate; a
//! satellite may add an operator's certificate (say, from a public CA) that it presents
//! to clients asking for a public name, such as browsers opening the web console.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::{TransportError, cert, names, provider};
use crate::protocol::Identity;

/// A certificate chain and key from PEM files, for public names.
#[derive(Clone, Debug)]
pub struct OperatorCertificate(Arc<CertifiedKey>);

impl OperatorCertificate {
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

/// The TLS server configuration for a party with `identity`.
pub fn server_config(
    identity: &Identity,
    operator: Option<OperatorCertificate>,
) -> Result<rustls::ServerConfig, TransportError> {
    let (cert, key) = cert::self_signed(identity)?;
    let resolver = CertificateChoice {
        identity: Arc::new(certified(vec![cert], key)?),
        operator: operator.map(|o| o.0),
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
    operator: Option<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for CertificateChoice {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        match (&self.operator, hello.server_name()) {
            (Some(operator), Some(name)) if !names::is_peer_host(name) => Some(operator.clone()),
            _ => Some(self.identity.clone()),
        }
    }
}
