//! The satellite's configuration: one documented struct with defaults.
//!
//! Sources, later ones winning: built-in defaults, `<data dir>/config.toml` (written by
//! `satellite setup`), environment variables `SATELLITE_<FIELD>` (and `DATABASE_URL`),
//! then command-line flags. Secrets (database passwords) belong in the environment or in
//! the database URL file, never in logs: `Debug` of this struct redacts the URL.

use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use uplink_core::protocol::RedundancyScheme;

use crate::error::SatelliteError;

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SatelliteConfig {
    /// Directory for the identity, the SQLite database and config.toml.
    pub data_dir: PathBuf,
    /// The services this process runs (see [`crate::roles`]): `"api,edge"`, or
    /// `"all"` (the default).
    pub roles: crate::roles::Roles,
    /// Address the HTTP API listens on.
    pub listen_addr: String,
    /// Address advertised in access grants (default: the bound listen address).
    pub external_address: Option<String>,
    /// Serve and dial plain HTTP instead of TLS. Only for a network run that way for
    /// loopback development: API keys and order limits then travel in clear.
    pub plain_http: bool,
    /// A certificate chain (PEM) the satellite presents to clients that ask for a
    /// public name, such as browsers opening the web console; peers that dial it by
    /// identity always get its identity certificate. Needs `tls_key_file`.
    pub tls_certificate_file: Option<PathBuf>,
    /// The private key (PEM) of `tls_certificate_file`.
    pub tls_key_file: Option<PathBuf>,
    /// Database URL; default `sqlite://<data_dir>/satellite.db`. PostgreSQL:
    /// `postgres://user:pass@host/db`.
    pub database_url: Option<String>,
    /// File holding the database URL (keeps passwords out of config and process lists).
    pub database_url_file: Option<PathBuf>,
    /// Proof-of-work difficulty of the satellite identity and required of nodes.
    pub identity_difficulty: u32,
    /// Erasure scheme for new segments, `k/repair/optimal/total[@share_size]`.
    pub redundancy: String,
    /// Largest plaintext segment accepted.
    pub max_segment_size: u64,
    /// Largest object stored inline in the database instead of on nodes.
    pub max_inline_size: u64,
    /// How long signed order limits stay valid.
    #[serde(with = "humantime_serde")]
    pub order_expiration: Duration,
    /// A node counts as online if it checked in within this window.
    #[serde(with = "humantime_serde")]
    pub node_online_window: Duration,
    /// Refresh interval of the in-memory node selection cache.
    #[serde(with = "humantime_serde")]
    pub selection_refresh_interval: Duration,
    /// Check that a node answers at the address it claims before accepting its check-in.
    pub checkin_ping: bool,
    /// Extra download order limits beyond `k` (long tail); `None` = `max(2, k/3)`.
    pub download_extra_pieces: Option<u16>,
    /// Pending objects never committed are removed after this long.
    #[serde(with = "humantime_serde")]
    pub pending_object_expiration: Duration,
    /// How often expired and abandoned objects are removed.
    #[serde(with = "humantime_serde")]
    pub expiry_interval: Duration,
    /// How often queued piece deletions are sent to nodes.
    #[serde(with = "humantime_serde")]
    pub piece_deletion_interval: Duration,
    /// How long pieces of a deleted or replaced object stay on their nodes before the
    /// deletion is sent: downloads already under way (a video being watched, an S3 GET
    /// racing an overwrite) finish with the bytes they started. Garbage collection
    /// removes what is left either way.
    #[serde(with = "humantime_serde")]
    pub piece_deletion_grace: Duration,
    /// Give up deleting a piece after this many failed attempts (garbage collection
    /// removes it later).
    pub piece_deletion_max_attempts: u32,
    /// HTTP worker threads.
    pub http_workers: usize,
    /// Redis URL for caches shared between satellite processes (revocations, request
    /// rates); also read from `REDIS_URL`. Without it they live in this process.
    pub redis_url: Option<String>,
    /// How long a process may keep using a cached revocation list. Revoking through a
    /// process updates its own cache (and Redis) at once; others follow within this.
    #[serde(with = "humantime_serde")]
    pub revocation_cache_ttl: Duration,
    /// Revoked access grants a project may hold. Any holder of a grant can revoke
    /// grants derived from it, so the rows are bounded; deleting an API key drops its
    /// revocations.
    pub max_revocations_per_project: u64,
    /// Revocations a project may make per minute.
    pub revocations_per_minute: u64,
    /// Timeouts and size limits of the HTTP server, which bound what a slow or hostile
    /// client can hold before it is authenticated.
    pub http: HttpConfig,
    /// Limits of projects that have no limits of their own.
    pub default_limits: ProjectLimits,
    /// Web console and its API (`/` and `/api/v0`).
    pub console: ConsoleConfig,
    /// The one pass over all segments that feeds repair, audit and garbage collection.
    pub segment_loop: crate::segment_loop::SegmentLoopConfig,
    /// The repair checker and repair workers.
    pub repair: crate::repair::RepairConfig,
    /// Garbage collection (bloom filters of the pieces each node should keep).
    pub gc: crate::gc::GcConfig,
    /// Audits, node reputation and vetting.
    pub audit: crate::audit::AuditConfig,
    /// The hosted edge services (`[edge]`).
    pub edge: crate::edge::EdgeConfig,
}

/// How long the HTTP server waits for clients, and how much it reads from them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// A request's headers must have arrived this long after the connection opened
    /// or, on a kept-alive connection, after the idle `keep_alive` that follows the
    /// previous response. Otherwise the connection is closed (408 on a first request).
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// How long an idle connection is kept open for another request.
    #[serde(with = "humantime_serde")]
    pub keep_alive: Duration,
    /// How long a closing connection may take to shut down cleanly.
    #[serde(with = "humantime_serde")]
    pub disconnect_timeout: Duration,
    /// A request body must deliver at least this many bytes in every `body_window`
    /// (until it ends), or the request is answered 408 and the connection closed.
    pub body_min_bytes: u64,
    #[serde(with = "humantime_serde")]
    pub body_window: Duration,
    /// Largest request body accepted (every body is JSON).
    pub max_body_size: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            keep_alive: Duration::from_secs(5),
            disconnect_timeout: Duration::from_secs(2),
            body_min_bytes: 1024,
            body_window: Duration::from_secs(10),
            max_body_size: 4 << 20,
        }
    }
}

impl HttpConfig {
    pub fn validate(&self) -> Result<(), SatelliteError> {
        for (name, value) in [
            ("http.header_timeout", self.header_timeout),
            ("http.keep_alive", self.keep_alive),
            ("http.disconnect_timeout", self.disconnect_timeout),
            ("http.body_window", self.body_window),
        ] {
            if value.is_zero() {
                return Err(SatelliteError::Config(format!(
                    "{name} must be longer than zero: without it a client can hold a \
                     connection open for ever"
                )));
            }
        }
        if self.max_body_size < 64 << 10 {
            return Err(SatelliteError::Config(
                "http.max_body_size below 64 KiB would refuse ordinary requests".into(),
            ));
        }
        Ok(())
    }
}

/// What one project may use. Each project can override each value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProjectLimits {
    pub buckets: u64,
    /// Bytes stored (plaintext size of committed segments).
    pub storage_bytes: u64,
    /// Bytes downloaded per calendar month (UTC).
    pub egress_bytes: u64,
    pub segments: u64,
    /// Metainfo requests per second, over all of the project's keys.
    pub requests_per_second: u64,
}

impl Default for ProjectLimits {
    fn default() -> Self {
        Self {
            buckets: 100,
            storage_bytes: 1 << 40,
            egress_bytes: 1 << 40,
            segments: 1_000_000,
            requests_per_second: 1000,
        }
    }
}

/// Accounts and console sessions.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Serve the web console and its API.
    pub enabled: bool,
    /// Whether anyone may sign up (otherwise accounts exist only as created by operators).
    pub signup_enabled: bool,
    /// Secret that signs session tokens (at least 32 bytes). Better: `session_secret_file`
    /// or the `SATELLITE_CONSOLE__SESSION_SECRET` environment variable. Without either,
    /// a random secret is generated once into `<data_dir>/session.key`.
    pub session_secret: Option<String>,
    pub session_secret_file: Option<PathBuf>,
    /// How long a console session lasts.
    #[serde(with = "humantime_serde")]
    pub session_ttl: Duration,
    /// Projects a user may own.
    pub max_projects_per_user: u64,
    /// Failed logins for one email before further attempts are refused for a while
    /// (the wait doubles with each further failure, up to 15 minutes).
    pub login_failures_before_lockout: u32,
    /// Sign-up, login and password-change requests allowed per client address and
    /// minute.
    pub credential_requests_per_minute: u64,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            signup_enabled: true,
            session_secret: None,
            session_secret_file: None,
            session_ttl: Duration::from_secs(3600),
            max_projects_per_user: 3,
            login_failures_before_lockout: 5,
            credential_requests_per_minute: 60,
        }
    }
}

impl std::fmt::Debug for ConsoleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleConfig")
            .field("enabled", &self.enabled)
            .field("signup_enabled", &self.signup_enabled)
            .field(
                "session_secret",
                &self.session_secret.as_ref().map(|_| "***"),
            )
            .field("session_secret_file", &self.session_secret_file)
            .field("session_ttl", &self.session_ttl)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SatelliteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SatelliteConfig")
            .field("data_dir", &self.data_dir)
            .field("listen_addr", &self.listen_addr)
            .field("external_address", &self.external_address)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|u| redact_url(u)),
            )
            .field("redundancy", &self.redundancy)
            .field("max_segment_size", &self.max_segment_size)
            .field("redis_url", &self.redis_url.as_ref().map(|u| redact_url(u)))
            .field("default_limits", &self.default_limits)
            .field("console", &self.console)
            .finish_non_exhaustive()
    }
}

/// Hides the password of a database URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

impl Default for SatelliteConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("satellite-data"),
            roles: crate::roles::Roles::all(),
            listen_addr: "127.0.0.1:7777".into(),
            external_address: None,
            plain_http: false,
            tls_certificate_file: None,
            tls_key_file: None,
            database_url: None,
            database_url_file: None,
            identity_difficulty: 0,
            redundancy: "4/6/8/10".into(),
            max_segment_size: 64 << 20,
            max_inline_size: 4 << 10,
            order_expiration: Duration::from_secs(3600),
            node_online_window: Duration::from_secs(5 * 60),
            selection_refresh_interval: Duration::from_secs(30),
            checkin_ping: true,
            download_extra_pieces: None,
            pending_object_expiration: Duration::from_secs(24 * 3600),
            expiry_interval: Duration::from_secs(60),
            piece_deletion_interval: Duration::from_secs(10),
            piece_deletion_grace: Duration::from_secs(300),
            piece_deletion_max_attempts: 5,
            http_workers: 2,
            redis_url: None,
            revocation_cache_ttl: Duration::from_secs(30),
            max_revocations_per_project: 1000,
            revocations_per_minute: 60,
            http: HttpConfig::default(),
            default_limits: ProjectLimits::default(),
            console: ConsoleConfig::default(),
            segment_loop: crate::segment_loop::SegmentLoopConfig::default(),
            repair: crate::repair::RepairConfig::default(),
            gc: crate::gc::GcConfig::default(),
            audit: crate::audit::AuditConfig::default(),
            edge: crate::edge::EdgeConfig::default(),
        }
    }
}

pub const CONFIG_FILE: &str = "config.toml";

impl SatelliteConfig {
    /// Defaults, then `<data_dir>/config.toml` if present, then the environment.
    pub fn load(data_dir: &Path) -> Result<Self, SatelliteError> {
        let defaults = SatelliteConfig {
            data_dir: data_dir.to_path_buf(),
            ..Default::default()
        };
        let figment = Figment::from(Serialized::defaults(defaults))
            .merge(Toml::file(data_dir.join(CONFIG_FILE)))
            .merge(Env::prefixed("SATELLITE_").split("__"))
            .merge(Env::raw().only(&["DATABASE_URL", "REDIS_URL"]));
        let mut config: SatelliteConfig = figment
            .extract()
            .map_err(|e| SatelliteError::Config(e.to_string()))?;
        config.data_dir = data_dir.to_path_buf();
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), SatelliteError> {
        let scheme = self.redundancy_scheme()?;
        if self.max_segment_size < scheme.stripe_size() {
            return Err(SatelliteError::Config(format!(
                "max_segment_size {} is smaller than one stripe ({} bytes)",
                self.max_segment_size,
                scheme.stripe_size()
            )));
        }
        if self.max_inline_size > 64 << 10 {
            return Err(SatelliteError::Config(
                "max_inline_size above 64 KiB would bloat the database".into(),
            ));
        }
        match (&self.tls_certificate_file, &self.tls_key_file) {
            (Some(_), None) | (None, Some(_)) => {
                return Err(SatelliteError::Config(
                    "tls_certificate_file and tls_key_file go together".into(),
                ));
            }
            (Some(_), Some(_)) if self.plain_http => {
                return Err(SatelliteError::Config(
                    "tls_certificate_file is set but plain_http turns TLS off".into(),
                ));
            }
            _ => {}
        }
        self.http.validate()
    }

    /// TLS or plain HTTP, for this satellite's server and its own connections.
    pub fn transport_mode(&self) -> uplink_core::transport::Mode {
        uplink_core::transport::Mode::from_plain_http(self.plain_http)
    }

    /// The TLS server configuration: the identity certificate, and the operator's for
    /// public names if configured; `None` with `plain_http`.
    pub fn tls_server(
        &self,
        identity: &uplink_core::protocol::Identity,
    ) -> Result<Option<uplink_core::transport::server::ServerConfig>, SatelliteError> {
        use uplink_core::transport::server::{OperatorCertificate, server_config};
        if self.plain_http {
            return Ok(None);
        }
        let operator = match (&self.tls_certificate_file, &self.tls_key_file) {
            (Some(chain), Some(key)) => Some(
                OperatorCertificate::from_pem_files(chain, key)
                    .map_err(|e| SatelliteError::Config(e.to_string()))?,
            ),
            _ => None,
        };
        server_config(identity, operator)
            .map(Some)
            .map_err(|e| SatelliteError::Config(e.to_string()))
    }

    /// The HTTPS configuration of the edge listeners: the edge's own certificate, else
    /// the satellite's operator certificate when the satellite serves TLS; `None` for
    /// plain HTTP.
    pub fn edge_tls(
        &self,
    ) -> Result<Option<std::sync::Arc<uplink_core::transport::server::ServerConfig>>, SatelliteError>
    {
        use uplink_core::transport::server::{OperatorCertificate, public_config};
        let (chain, key) = match (&self.edge.tls_certificate_file, &self.edge.tls_key_file) {
            (Some(c), Some(k)) => (c, k),
            (None, None) if !self.plain_http => {
                match (&self.tls_certificate_file, &self.tls_key_file) {
                    (Some(c), Some(k)) => (c, k),
                    _ => return Ok(None),
                }
            }
            (None, None) => return Ok(None),
            _ => {
                return Err(SatelliteError::Config(
                    "edge.tls_certificate_file and edge.tls_key_file go together".into(),
                ));
            }
        };
        let certificate = OperatorCertificate::from_pem_files(chain, key)
            .map_err(|e| SatelliteError::Config(format!("edge TLS: {e}")))?;
        public_config(&certificate)
            .map(|c| Some(std::sync::Arc::new(c)))
            .map_err(|e| SatelliteError::Config(format!("edge TLS: {e}")))
    }

    pub fn redundancy_scheme(&self) -> Result<RedundancyScheme, SatelliteError> {
        self.redundancy
            .parse()
            .map_err(|e| SatelliteError::Config(format!("redundancy: {e}")))
    }

    /// The database URL from the configuration, the URL file, or the SQLite default.
    pub fn resolved_database_url(&self) -> Result<String, SatelliteError> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone());
        }
        if let Some(file) = &self.database_url_file {
            let url = std::fs::read_to_string(file)
                .map_err(|e| SatelliteError::Config(format!("reading {}: {e}", file.display())))?;
            return Ok(url.trim().to_string());
        }
        Ok(format!(
            "sqlite://{}?mode=rwc",
            self.data_dir.join("satellite.db").display()
        ))
    }

    pub fn identity_path(&self) -> PathBuf {
        self.data_dir.join("identity.key")
    }

    /// The config file with every field at its current value, for `satellite setup`.
    pub fn to_toml(&self) -> String {
        let mut doc = toml::to_string_pretty(self).expect("config serializes");
        doc.insert_str(
            0,
            "# Satellite configuration. Every field can also be set with an environment\n\
             # variable SATELLITE_<FIELD> (upper case), and the database with DATABASE_URL.\n\n",
        );
        doc
    }

    /// The key that signs console sessions: from the configuration, its file, or
    /// generated once into the data directory (readable by the owner only).
    pub fn session_secret(&self) -> Result<Vec<u8>, SatelliteError> {
        let secret = if let Some(secret) = &self.console.session_secret {
            secret.trim().as_bytes().to_vec()
        } else {
            let file = self
                .console
                .session_secret_file
                .clone()
                .unwrap_or_else(|| self.data_dir.join("session.key"));
            if !file.exists() && self.console.session_secret_file.is_none() {
                generate_secret_file(&file)?;
            }
            let text = std::fs::read_to_string(&file)
                .map_err(|e| SatelliteError::Config(format!("reading {}: {e}", file.display())))?;
            text.trim().as_bytes().to_vec()
        };
        if secret.len() < 32 {
            return Err(SatelliteError::Config(
                "the console session secret must be at least 32 bytes".into(),
            ));
        }
        Ok(secret)
    }

    pub fn download_extra(&self, k: u16) -> u16 {
        self.download_extra_pieces.unwrap_or((k / 3).max(2))
    }
}

fn generate_secret_file(path: &Path) -> Result<(), SatelliteError> {
    use rand::RngCore;
    use std::io::Write;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| SatelliteError::Config(format!("creating {}: {e}", path.display())))?;
    writeln!(file, "{}", hex::encode(bytes))
        .map_err(|e| SatelliteError::Config(format!("writing {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_round_trip_through_toml() {
        let config = SatelliteConfig::default();
        config.validate().unwrap();
        let text = config.to_toml();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), text).unwrap();
        let loaded = SatelliteConfig::load(dir.path()).unwrap();
        assert_eq!(loaded.redundancy, "4/6/8/10");
        assert_eq!(loaded.order_expiration, Duration::from_secs(3600));
    }

    #[test]
    fn bad_redundancy_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "redundancy = \"4/6\"\n").unwrap();
        let err = SatelliteConfig::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("redundancy"), "{err}");
    }

    #[test]
    fn session_secret_is_generated_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let config = SatelliteConfig {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        let first = config.session_secret().unwrap();
        assert_eq!(first, config.session_secret().unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("session.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "session.key is readable by others");
        }
        let short = SatelliteConfig {
            console: ConsoleConfig {
                session_secret: Some("too short".into()),
                ..Default::default()
            },
            ..config.clone()
        };
        assert!(short.session_secret().is_err());
        assert!(!format!("{short:?}").contains("too short"));
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail fixes the closure's error type
    fn nested_settings_come_from_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        figment::Jail::expect_with(|jail| {
            jail.set_env("SATELLITE_DEFAULT_LIMITS__BUCKETS", "7");
            jail.set_env("SATELLITE_CONSOLE__SIGNUP_ENABLED", "false");
            jail.set_env("SATELLITE_ROLES", "edge,gc");
            let config = SatelliteConfig::load(dir.path()).unwrap();
            assert_eq!(config.default_limits.buckets, 7);
            assert!(!config.console.signup_enabled);
            assert_eq!(config.roles.to_string(), "edge,gc");
            Ok(())
        });
    }

    #[test]
    fn http_deadlines_cannot_be_switched_off() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "[http]\nbody_window = \"0s\"\n",
        )
        .unwrap();
        let err = SatelliteConfig::load(dir.path()).unwrap_err();
        assert!(
            matches!(&err, SatelliteError::Config(why) if why.contains("http.body_window")),
            "{err}"
        );
        let defaults = SatelliteConfig::default();
        assert_eq!(defaults.http.body_min_bytes, 1024);
        assert_eq!(defaults.max_revocations_per_project, 1000);
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://sat:hunter2@db:5432/sat"),
            "postgres://sat:***@db:5432/sat"
        );
        let config = SatelliteConfig {
            database_url: Some("postgres://sat:hunter2@db/sat".into()),
            ..Default::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
