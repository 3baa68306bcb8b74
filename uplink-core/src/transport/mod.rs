//! The one way every party talks to every other: TLS bound to identities.
//!
//! A satellite's and a node's certificates are self-signed with their ed25519 identity
//! keys, so a peer is verified against the id it was addressed by (the satellite id in
//! the grant, the node id in the order limit) and no certificate authority is needed.
//! The expected id travels in the TLS server name: a peer at `host:port` with id `X` is
//! dialled as `https://<X in base32>.<host>.peer.invalid:port/` ([`names`]); a resolver
//! maps that name back to `host` ([`resolve`]), and the verifier ([`verify`]) accepts
//! the handshake only from the key whose id is `X`. Because the id is part of the host
//! name, the shared connection pool can never hand a connection verified for one id to
//! a request for another at the same address.
//!
//! One [`Transport`] per process (see [`Transport::shared`]) holds the only HTTP client
//! and so the only connection pool. Plain HTTP is available only when configured
//! explicitly, for loopback development.

pub mod cert;
mod error;
pub mod names;
mod resolve;
pub mod server;
pub mod verify;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use error::TransportError;
pub use names::Expected;

use crate::protocol::{NodeId, NodeUrl};

/// How a process speaks to its peers.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// TLS 1.3, every peer verified against its identity. The default.
    #[default]
    Tls,
    /// Unencrypted HTTP: API keys and order limits travel in clear. Only for loopback
    /// development, and only when configured explicitly.
    PlainHttp,
}

impl Mode {
    /// `Tls`, or `PlainHttp` when `plain_http` is set (the shape every config takes).
    pub fn from_plain_http(plain_http: bool) -> Self {
        if plain_http {
            Mode::PlainHttp
        } else {
            Mode::Tls
        }
    }

    pub fn scheme(self) -> &'static str {
        match self {
            Mode::Tls => "https",
            Mode::PlainHttp => "http",
        }
    }
}

/// The process's HTTP client, verifying peers by identity.
#[derive(Clone, Debug)]
pub struct Transport {
    mode: Mode,
    http: reqwest::Client,
}

/// How long a new connection may take to open (TCP and TLS).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Transport {
    /// A new client with its own connection pool. Most code wants [`Transport::shared`].
    pub fn new(mode: Mode) -> Result<Self, TransportError> {
        Self::build(mode, None)
    }

    /// A new client whose connections leave from `local` (a host with several
    /// addresses; tests that need to come from distinct addresses).
    pub fn bound_to(mode: Mode, local: std::net::IpAddr) -> Result<Self, TransportError> {
        Self::build(mode, Some(local))
    }

    fn build(mode: Mode, local: Option<std::net::IpAddr>) -> Result<Self, TransportError> {
        let builder = reqwest::Client::builder()
            .local_address(local)
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            // Below the servers' default keep-alive (5 s): a connection the server is
            // about to close is never reused for a request it would then cut off
            // ("connection closed before message completed" on a commit).
            .pool_idle_timeout(Duration::from_secs(4))
            // Peers never redirect, and a hostile one must not send us elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(resolve::PeerResolver))
            // Also in plain mode, so that no other TLS configuration can ever be used.
            .use_preconfigured_tls(verify::client_config());
        let builder = match mode {
            Mode::Tls => builder.https_only(true).tls_info(true),
            Mode::PlainHttp => builder,
        };
        let http = builder
            .build()
            .map_err(|e| TransportError::Setup(format!("building the HTTP client: {e}")))?;
        Ok(Self { mode, http })
    }

    /// The process-wide transport for `mode`: one connection pool shared by every
    /// client, worker and node in the process.
    pub fn shared(mode: Mode) -> Self {
        static TLS: OnceLock<Transport> = OnceLock::new();
        static PLAIN: OnceLock<Transport> = OnceLock::new();
        let cell = match mode {
            Mode::Tls => &TLS,
            Mode::PlainHttp => &PLAIN,
        };
        cell.get_or_init(|| Transport::new(mode).expect("the HTTP client builds"))
            .clone()
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The URL of `path` on the peer with id `id` at `address` (`host:port`).
    pub fn url(&self, id: &NodeId, address: &str, path: &str) -> Result<String, TransportError> {
        self.url_expecting(Expected::Id(*id), address, path)
    }

    /// The URL of `path` on a satellite or node addressed as `id@host:port`.
    pub fn node_url(&self, node: &NodeUrl, path: &str) -> Result<String, TransportError> {
        self.url(&node.id, &node.address, path)
    }

    /// As [`Transport::url`], also for a peer whose id is not known yet
    /// ([`Expected::AnyIdentity`]: trust on first use; read the id it proved with
    /// [`peer_identity`]).
    pub fn url_expecting(
        &self,
        expected: Expected,
        address: &str,
        path: &str,
    ) -> Result<String, TransportError> {
        debug_assert!(path.is_empty() || path.starts_with('/'));
        match self.mode {
            Mode::Tls => {
                let (host, port) = names::peer_host(&expected, address)?;
                Ok(format!("https://{host}:{port}{path}"))
            }
            Mode::PlainHttp => {
                let (host, port) = names::split_address(address)?;
                let host = if host.contains(':') {
                    format!("[{host}]")
                } else {
                    host.to_string()
                };
                Ok(format!("http://{host}:{port}{path}"))
            }
        }
    }
}

/// The identity a TLS peer proved in the handshake of `response`, if any.
pub fn peer_identity(response: &reqwest::Response) -> Option<NodeId> {
    let info = response.extensions().get::<reqwest::tls::TlsInfo>()?;
    let der = rustls::pki_types::CertificateDer::from(info.peer_certificate()?.to_vec());
    cert::node_id_of(&der).ok()
}

/// The crypto provider of every TLS endpoint: ring, TLS 1.3 only.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    static PROVIDER: OnceLock<Arc<rustls::crypto::CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

#[cfg(test)]
mod tests;
