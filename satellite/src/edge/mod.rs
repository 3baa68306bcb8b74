//! The edge services: what users get without running anything themselves.
//!
//! - [`credentials`]: the auth service's store: a grant registered with
//!   `uplink access register` becomes an S3 access key id and secret; the store alone
//!   opens nothing.
//! - [`tenants`]: the hosted S3 gateway's callers, each on its own registered grant;
//!   the S3 layer itself is the uplink library's gateway, the same code `uplink
//!   gateway` runs on a user's machine.
//! - [`links`]: share links, pages and bytes over plain HTTP(S) for public
//!   registrations.
//!
//! Both listeners face the public: with a certificate (`edge.tls_certificate_file`, or
//! the satellite's own operator certificate) they serve HTTPS, TLS 1.2 and 1.3.
//!
//! Hosting means the satellite's operator can read what a registered grant can: users
//! who must not allow that run the self-hosted gateway instead.

pub mod credentials;
pub mod links;
pub mod tenants;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uplink_core::client::ClientConfig;
use uplink_core::gateway::{Gateway, GatewayConfig, ListenOptions};

use crate::db::Db;
use crate::error::{Result, SatelliteError};
use crate::metrics::Metrics;

/// The edge role's settings (`[edge]` in the configuration).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EdgeConfig {
    /// Where the hosted S3 gateway listens (e.g. `0.0.0.0:7777`); none: not served.
    pub s3_listen: Option<String>,
    /// The S3 endpoint URL given to users at registration (default: from `s3_listen`).
    pub s3_public_url: Option<String>,
    /// How long an opened registration is reused before it is read again.
    #[serde(with = "humantime_serde")]
    pub cache_ttl: Duration,
    /// Most keys a listing the gateway must answer exhaustively may read.
    pub list_bound: usize,
    /// Where the share-link service listens (e.g. `0.0.0.0:7780`); none: not served.
    pub links_listen: Option<String>,
    /// The URL share links are handed out under (default: from `links_listen`).
    pub links_public_url: Option<String>,
    /// Longest time browsers and caches may keep a link's answer; bounds how long a
    /// revoked link's content stays visible from caches.
    #[serde(with = "humantime_serde")]
    pub links_max_age: Duration,
    /// Certificate chain (PEM) for the edge listeners' HTTPS (default: the satellite's
    /// `tls_certificate_file`, if any; without either they serve plain HTTP).
    pub tls_certificate_file: Option<PathBuf>,
    /// The private key (PEM) of `tls_certificate_file`.
    pub tls_key_file: Option<PathBuf>,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            s3_listen: None,
            s3_public_url: None,
            cache_ttl: Duration::from_secs(60),
            list_bound: 100_000,
            links_listen: None,
            links_public_url: None,
            links_max_age: Duration::from_secs(60),
            tls_certificate_file: None,
            tls_key_file: None,
        }
    }
}

/// The running edge services of this process.
#[derive(Debug)]
pub struct Edge {
    pub s3: Option<Gateway>,
    pub s3_url: Option<String>,
    pub links: Option<links::Links>,
}

/// What the edge services need from the rest of the satellite.
#[derive(Clone, Debug)]
pub struct EdgeContext {
    pub db: Db,
    pub client: ClientConfig,
    pub metrics: Metrics,
    /// The certificate for HTTPS, if the edge serves it.
    pub tls: Option<Arc<uplink_core::transport::server::ServerConfig>>,
}

fn parse_addr(setting: &str, value: &str) -> Result<std::net::SocketAddr> {
    value
        .parse()
        .map_err(|e| SatelliteError::Config(format!("edge.{setting} {value:?}: {e}")))
}

fn warn_if_exposed(what: &str, addr: std::net::SocketAddr, tls: bool) {
    if !tls && !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "the {what} serves plain HTTP on a non-loopback address: configure \
             edge.tls_certificate_file, or put a TLS proxy in front"
        );
    }
}

impl Edge {
    /// No edge services (a process without the edge role).
    pub fn none() -> Self {
        Self {
            s3: None,
            s3_url: None,
            links: None,
        }
    }

    pub async fn start(config: &EdgeConfig, ctx: EdgeContext) -> Result<Self> {
        let tenants = tenants::EdgeTenants::new(ctx.db, ctx.client, config.cache_ttl);
        let options = ListenOptions {
            tls: ctx.tls.clone(),
            ..ListenOptions::default()
        };
        let mut edge = Self::none();
        if let Some(listen) = &config.s3_listen {
            let addr = parse_addr("s3_listen", listen)?;
            warn_if_exposed("hosted S3 gateway", addr, ctx.tls.is_some());
            let mut gateway = GatewayConfig::new(addr);
            gateway.settings.list_bound = config.list_bound;
            gateway.tls = ctx.tls.clone();
            let s3 = Gateway::start(&gateway, tenants.clone(), tenants.clone())
                .await
                .map_err(|e| SatelliteError::Config(format!("edge S3 gateway: {e}")))?;
            let url = config.s3_public_url.clone().unwrap_or_else(|| s3.url());
            tracing::info!(url = %url, "hosted S3 gateway listening");
            edge.s3 = Some(s3);
            edge.s3_url = Some(url);
        }
        if let Some(listen) = &config.links_listen {
            let addr = parse_addr("links_listen", listen)?;
            warn_if_exposed("share-link service", addr, ctx.tls.is_some());
            let settings = links::LinkSettings {
                public_url: config.links_public_url.clone(),
                max_age: config.links_max_age,
            };
            let service = links::Links::start(addr, options, tenants, settings, ctx.metrics)
                .await
                .map_err(|e| SatelliteError::Config(format!("edge.links_listen {addr}: {e}")))?;
            tracing::info!(url = %service.url(), "share-link service listening");
            edge.links = Some(service);
        }
        Ok(edge)
    }

    /// The base URL of share links, if this process serves them.
    pub fn links_url(&self) -> Option<String> {
        self.links.as_ref().map(|l| l.url().to_string())
    }

    pub async fn stop(self) {
        if let Some(s3) = self.s3 {
            s3.stop().await;
        }
        if let Some(links) = self.links {
            links.stop().await;
        }
    }
}
