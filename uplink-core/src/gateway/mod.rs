//! An S3-compatible gateway over the uplink library: existing S3 tools (aws cli,
//! boto3, rclone, restic) read and write the network, and encryption happens here, in
//! the gateway's process, exactly as for any other uplink.
//!
//! The protocol (SigV4 header and query auth, aws-chunked bodies, XML, error bodies)
//! is the kept `s3s` library on its own hyper listener; this module maps its
//! operations onto a [`Project`](crate::client::Project) and adds what the protocol
//! layer leaves to the implementation: digests of bodies, conditional requests,
//! listings that encrypted names cannot answer directly, and error codes. The same
//! service runs self-hosted (`uplink gateway`, one grant) or hosted (one project per
//! access key, through [`Tenants`]).

mod auth;
mod checksums;
mod conditions;
mod copy;
mod cors;
mod errors;
pub mod listener;
mod listing;
mod multipart;
mod service;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use s3s::auth::S3Auth;
use s3s::service::S3ServiceBuilder;

pub use auth::{SingleTenant, Tenants};
pub use listener::{HttpListener, ListenOptions};
pub use service::{S3Settings, UplinkS3};

/// Where and how a gateway listens.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    pub listen: SocketAddr,
    /// Domains for virtual-hosted-style requests (`bucket.domain`, port included if
    /// clients send it); without any, every request is path-style.
    pub domains: Vec<String>,
    pub settings: S3Settings,
    /// Time a client has to send a request's headers (slow clients hold no slot).
    pub header_timeout: Duration,
    /// Serve HTTPS with this configuration (see [`listener`]); plain HTTP without.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl GatewayConfig {
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            domains: Vec::new(),
            settings: S3Settings::default(),
            header_timeout: Duration::from_secs(30),
            tls: None,
        }
    }
}

/// Why a gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("invalid gateway domain: {0}")]
    Domain(String),
}

/// A running gateway; dropping it does not stop it, [`Gateway::stop`] does.
pub struct Gateway {
    listener: HttpListener,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// Binds and starts serving S3 with `auth` checking signatures and `tenants`
    /// choosing each caller's project.
    pub async fn start<A: S3Auth>(
        config: &GatewayConfig,
        auth: Arc<A>,
        tenants: Arc<dyn Tenants>,
    ) -> Result<Self, GatewayError> {
        let s3 = UplinkS3::new(tenants.clone(), config.settings.clone());
        let rules = s3.cors.clone();
        let mut builder = S3ServiceBuilder::new(s3);
        builder.set_auth(auth::SharedAuth(auth));
        if !config.domains.is_empty() {
            let host = s3s::host::MultiDomain::new(&config.domains)
                .map_err(|e| GatewayError::Domain(e.to_string()))?;
            builder.set_host(host);
        }
        let mut s3_config = s3s::config::S3Config::default();
        // Browser form uploads (POST object) would be read into memory before any
        // check; the gateway does not offer them.
        s3_config.post_object_max_file_size = 0;
        builder.set_config(Arc::new(s3s::config::StaticConfigProvider::new(Arc::new(
            s3_config,
        ))));
        let service = cors::CorsLayer::new(builder.build(), tenants, rules, config.domains.clone());
        let options = ListenOptions {
            header_timeout: config.header_timeout,
            tls: config.tls.clone(),
            ..ListenOptions::default()
        };
        let listener = HttpListener::start(config.listen, service, options)
            .await
            .map_err(|source| GatewayError::Listen {
                addr: config.listen,
                source,
            })?;
        Ok(Self { listener })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr()
    }

    /// The endpoint URL on this host (`http://` or `https://` and the bound address).
    pub fn url(&self) -> String {
        self.listener.url()
    }

    /// Stops accepting, lets requests in flight finish (at most 10 s), and returns.
    pub async fn stop(self) {
        self.listener.stop().await
    }

    /// Runs until stopped from elsewhere (the task ends).
    pub async fn wait(self) {
        self.listener.wait().await
    }
}
