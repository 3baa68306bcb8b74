//! The edge services: what users get without running anything themselves.
//!
//! - [`credentials`]: the auth service's store: a grant registered with
//!   `uplink access register` becomes an S3 access key id and secret; the store alone
//!   opens nothing.
//! - [`tenants`]: the hosted S3 gateway's callers, each on its own registered grant;
//!   the S3 layer itself is the uplink library's gateway, the same code `uplink
//!   gateway` runs on a user's machine.
//!
//! Hosting means the satellite's operator can read what a registered grant can: users
//! who must not allow that run the self-hosted gateway instead.

pub mod credentials;
pub mod tenants;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use uplink_core::client::ClientConfig;
use uplink_core::gateway::{Gateway, GatewayConfig};

use crate::db::Db;
use crate::error::{Result, SatelliteError};

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
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            s3_listen: None,
            s3_public_url: None,
            cache_ttl: Duration::from_secs(60),
            list_bound: 100_000,
        }
    }
}

/// The running edge services of this process.
#[derive(Debug)]
pub struct Edge {
    pub s3: Option<Gateway>,
    pub s3_url: Option<String>,
}

impl Edge {
    pub async fn start(config: &EdgeConfig, db: Db, client: ClientConfig) -> Result<Self> {
        let Some(listen) = &config.s3_listen else {
            return Ok(Self {
                s3: None,
                s3_url: None,
            });
        };
        let addr = listen
            .parse()
            .map_err(|e| SatelliteError::Config(format!("edge.s3_listen {listen:?}: {e}")))?;
        let mut gateway = GatewayConfig::new(addr);
        gateway.settings.list_bound = config.list_bound;
        let tenants = tenants::EdgeTenants::new(db, client, config.cache_ttl);
        let s3 = Gateway::start(&gateway, tenants.clone(), tenants)
            .await
            .map_err(|e| SatelliteError::Config(format!("edge S3 gateway: {e}")))?;
        let url = config
            .s3_public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", s3.local_addr()));
        tracing::info!(url = %url, "hosted S3 gateway listening");
        Ok(Self {
            s3: Some(s3),
            s3_url: Some(url),
        })
    }

    pub async fn stop(self) {
        if let Some(s3) = self.s3 {
            s3.stop().await;
        }
    }
}
