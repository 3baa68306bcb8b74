//! The satellite: the network's coordinator.
//!
//! It holds accounts, API keys, bucket and object metadata (all object keys and metadata
//! encrypted by uplinks), the node registry, and the signing key that authorises every
//! piece transfer. It never sees plaintext data or names.
//!
//! - [`config`]: one configuration struct, from file, environment and flags.
//! - [`db`]: SQLite or PostgreSQL through sea-orm; schema in the `migrations` crate.
//! - [`auth`]: API keys (macaroons) checked on every call.
//! - [`overlay`]: node check-ins and node selection.
//! - [`orders`]: signed order limits; [`tokens`]: signed upload/download handles.
//! - [`metabase`]: segments and their piece sets (typed, fallible, compare-and-swap).
//! - [`metainfo`]: buckets, objects, segments: the uplink's API.
//! - [`segment_loop`]: one pass over all segments for the observers below.
//! - [`repair`]: the checker, the repair queue and the repair workers.
//! - [`gc`]: bloom filters of the pieces each node should keep.
//! - [`audit`]: sampling, piece audits, reputation, disqualification.
//! - [`exit`]: graceful exit of nodes.
//! - [`workers`]: background jobs on the shared runtime, leases between processes.
//! - [`edge`]: the hosted edge services (auth service, S3 gateway, share links).
//! - [`api`]: the HTTP edge.

pub mod accounting;
pub mod admin;
pub mod api;
pub mod audit;
pub mod auth;
pub mod cache;
pub mod config;
pub mod console;
pub mod db;
pub mod edge;
pub mod error;
pub mod exit;
pub mod gc;
pub mod metabase;
pub mod metainfo;
pub mod metrics;
pub mod operators;
pub mod orders;
pub mod overlay;
pub mod projects;
pub mod repair;
pub mod reports;
pub mod roles;
pub mod segment_loop;
pub mod signals;
pub mod tokens;
pub mod workers;

use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use uplink_core::protocol::{Identity, NodeId, NodeUrl};
use uplink_core::transport::Transport;

pub use config::SatelliteConfig;
pub use error::SatelliteError;

use crate::api::AppState;
use crate::auth::{Authenticator, RevocationLimits};
use crate::db::Db;
use crate::metainfo::{Metainfo, MetainfoConfig};
use crate::metrics::Metrics;
use crate::orders::OrderSigner;
use crate::overlay::{Overlay, OverlayConfig};
use crate::roles::Role;
use crate::tokens::TokenSigner;
use crate::workers::{ExpiryWorker, Leases, PieceDeleter, SelectionRefresh, WorkerGroup};

/// A satellite running in this process.
pub struct RunningSatellite {
    pub url: NodeUrl,
    pub db: Db,
    pub metrics: Metrics,
    pub overlay: Arc<Overlay>,
    mode: uplink_core::transport::Mode,
    roles: roles::Roles,
    workers: WorkerGroup,
    edge: edge::Edge,
    server: actix_web::dev::ServerHandle,
    server_task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for RunningSatellite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSatellite")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl RunningSatellite {
    pub fn id(&self) -> NodeId {
        self.url.id
    }

    /// `host:port` of the HTTP API.
    pub fn address(&self) -> &str {
        &self.url.address
    }

    /// Whether it serves TLS (the default) or plain HTTP.
    pub fn transport_mode(&self) -> uplink_core::transport::Mode {
        self.mode
    }

    /// The services this process runs.
    pub fn roles(&self) -> &roles::Roles {
        &self.roles
    }

    pub fn workers(&self) -> &WorkerGroup {
        &self.workers
    }

    /// The hosted S3 gateway's URL, if this process serves one.
    pub fn edge_s3_url(&self) -> Option<&str> {
        self.edge.s3_url.as_deref()
    }

    /// The base URL of this satellite's share links, if it serves them.
    pub fn edge_links_url(&self) -> Option<String> {
        self.edge.links_url()
    }

    /// Stops serving and lets the background workers finish their current run.
    pub async fn stop(self) {
        self.server.stop(true).await;
        let _ = self.server_task.await;
        self.edge.stop().await;
        self.workers.shutdown().await;
    }

    /// Runs until the server stops (for the binary).
    pub async fn wait(self) -> std::io::Result<()> {
        let result = match self.server_task.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        };
        self.workers.shutdown().await;
        result
    }
}

/// Starts a satellite with `config`: identity, database (migrated), workers, HTTP API.
pub async fn start(config: SatelliteConfig) -> Result<RunningSatellite, SatelliteError> {
    config.validate()?;
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        SatelliteError::Config(format!("creating {}: {e}", config.data_dir.display()))
    })?;
    let roles = config.roles.clone();
    // Only the API creates the identity: a process of other roles that made its own
    // would sign orders and present certificates nobody trusts.
    let identity = if roles.has(Role::Api) {
        Identity::load_or_create(&config.identity_path(), config.identity_difficulty)
    } else {
        Identity::load(&config.identity_path())
    }
    .map_err(|e| {
        SatelliteError::Config(format!(
            "{e}; a process without the api role uses the satellite's identity: copy \
             {} from the data directory of its api process",
            config.identity_path().display()
        ))
    })?;
    let db = db::connect(&config.resolved_database_url()?).await?;
    let metrics = Metrics::new();
    let cache = cache::open(config.redis_url.as_deref(), &identity.node_id())
        .await
        .map_err(|e| SatelliteError::Config(e.to_string()))?;

    let overlay = Arc::new(
        Overlay::new(
            db.clone(),
            OverlayConfig {
                online_window: config.node_online_window,
                new_node_fraction: config.audit.new_node_fraction,
                identity_difficulty: config.identity_difficulty,
                checkin_ping: config.checkin_ping,
                max_clock_skew: Duration::from_secs(600),
                transport: config.transport_mode(),
            },
            (identity.node_id(), identity.public_key()),
        )
        .await?,
    );
    let orders = OrderSigner::new(identity.clone(), config.order_expiration);
    let metainfo = Arc::new(Metainfo::new(
        db.clone(),
        overlay.clone(),
        orders.clone(),
        TokenSigner::new(identity.clone()),
        MetainfoConfig {
            redundancy: config.redundancy_scheme()?,
            max_segment_size: config.max_segment_size,
            max_inline_size: config.max_inline_size,
            pending_object_expiration: config.pending_object_expiration,
            token_expiration: config.order_expiration,
            download_extra: config.download_extra_pieces,
        },
        metrics.clone(),
    ));

    let leases = Leases::new(db.clone(), Leases::process_holder());
    let mut workers = WorkerGroup::new(metrics.clone());
    if roles.keeps_nodes() {
        workers.spawn_periodic(Arc::new(SelectionRefresh {
            overlay: overlay.clone(),
            interval: config.selection_refresh_interval,
            metrics: metrics.clone(),
        }));
    }
    if roles.has(Role::Gc) {
        workers.spawn_exclusive(
            Arc::new(ExpiryWorker {
                db: db.clone(),
                interval: config.expiry_interval,
                batch: 500,
            }),
            &leases,
        );
        workers.spawn_exclusive(
            Arc::new(PieceDeleter {
                db: db.clone(),
                overlay: overlay.clone(),
                orders: orders.clone(),
                transport: Transport::shared(config.transport_mode()),
                interval: config.piece_deletion_interval,
                grace: config.piece_deletion_grace,
                max_attempts: config.piece_deletion_max_attempts,
                batch: 1000,
                metrics: metrics.clone(),
            }),
            &leases,
        );
    }

    let transport = Transport::shared(config.transport_mode());
    // The one pass over all segments, with the observers of this process's roles.
    let mut observers: Vec<Box<dyn segment_loop::Observer>> = Vec::new();
    if roles.has(Role::Repair) {
        observers.push(Box::new(repair::checker::Checker::new(
            db.clone(),
            metrics.clone(),
        )));
        observers.push(Box::new(exit::ExitObserver::new(db.clone())));
    }
    if roles.has(Role::Gc) {
        observers.push(Box::new(gc::GcObserver::new(
            db.clone(),
            identity.clone(),
            transport.clone(),
            config.gc,
            config.order_expiration,
        )));
    }
    if roles.has(Role::Audit) {
        let audit_queue = audit::AuditQueue::default();
        let audit_worker = workers.spawn(audit::AuditWorker {
            verifier: audit::Verifier {
                db: db.clone(),
                overlay: overlay.clone(),
                orders: orders.clone(),
                transport: transport.clone(),
                config: config.audit,
                metrics: metrics.clone(),
            },
            queue: audit_queue.clone(),
        });
        let audit_sample = if config.audit.enabled {
            config.audit.segments_per_pass
        } else {
            0
        };
        observers.push(Box::new(
            audit::Sampler::new(audit_sample, audit_queue).waking(audit_worker),
        ));
    }
    if !observers.is_empty() {
        workers.spawn(workers::Exclusive::new(
            segment_loop::SegmentLoop::new(
                db.clone(),
                overlay.clone(),
                config.segment_loop,
                observers,
                metrics.clone(),
            ),
            leases.for_job(
                "segment-loop",
                config.segment_loop.interval * 2 + Duration::from_secs(60),
            ),
        ));
    }
    if roles.has(Role::Repair) {
        let repairer = repair::Repairer {
            db: db.clone(),
            overlay: overlay.clone(),
            orders: orders.clone(),
            transport: transport.clone(),
            config: config.repair,
            metrics: metrics.clone(),
            holder: leases.holder().to_string(),
        };
        for index in 0..config.repair.concurrency {
            workers.spawn(repair::RepairWorker {
                repairer: repairer.clone(),
                index,
            });
        }
    }

    let console = if config.console.enabled && roles.has(Role::Api) {
        let sessions =
            console::SessionSigner::new(&config.session_secret()?, config.console.session_ttl);
        Some(api::ConsoleState {
            accounts: console::Accounts::new(
                db.clone(),
                sessions,
                config.console.login_failures_before_lockout,
            )
            .await?,
            signup_enabled: config.console.signup_enabled,
            max_projects_per_user: config.console.max_projects_per_user,
            default_limits: config.default_limits,
            credential_requests_per_minute: config.console.credential_requests_per_minute,
        })
    } else {
        None
    };

    let listener = std::net::TcpListener::bind(&config.listen_addr).map_err(|e| {
        SatelliteError::Config(format!("cannot listen on {}: {e}", config.listen_addr))
    })?;
    let bound = listener
        .local_addr()
        .map_err(|e| SatelliteError::Internal(e.to_string()))?;
    let address = config
        .external_address
        .clone()
        .unwrap_or_else(|| bound.to_string());
    let url = NodeUrl {
        id: identity.node_id(),
        address,
    };
    let edge = if roles.has(Role::Edge) {
        edge::Edge::start(
            &config.edge,
            edge::EdgeContext {
                db: db.clone(),
                client: uplink_core::client::ClientConfig {
                    transport: config.transport_mode(),
                    ..Default::default()
                },
                metrics: metrics.clone(),
                tls: config.edge_tls()?,
            },
        )
        .await?
    } else {
        edge::Edge::none()
    };
    let state = web::Data::new(AppState {
        edge_s3_url: edge.s3_url.clone(),
        edge_links_url: edge.links_url(),
        db: db.clone(),
        metainfo,
        auth: Authenticator::new(
            db.clone(),
            cache.clone(),
            config.revocation_cache_ttl,
            config.default_limits,
            RevocationLimits {
                max_per_project: config.max_revocations_per_project,
                per_minute: config.revocations_per_minute,
            },
        ),
        overlay: overlay.clone(),
        metrics: metrics.clone(),
        satellite: url.clone(),
        workers: workers.status_handle(),
        console,
        http: config.http,
        roles: roles.clone(),
    });
    let http = config.http;
    let server = HttpServer::new(move || {
        App::new()
            .wrap(actix_web::middleware::from_fn(api::deadlines::guard))
            .wrap(actix_web::middleware::from_fn(api::observe))
            .configure(api::configure(state.clone()))
    })
    // Small frames (a piece's header, a short answer) go out at once: with Nagle's
    // algorithm the second write of a response waits for the client's delayed ACK,
    // 40 ms a request.
    .tcp_nodelay(true)
    .workers(config.http_workers.max(1))
    .client_request_timeout(http.header_timeout)
    .client_disconnect_timeout(http.disconnect_timeout)
    .keep_alive(actix_web::http::KeepAlive::Timeout(http.keep_alive))
    .on_connect(uplink_core::transport::server::deadlines::on_connect(
        http.keep_alive + http.header_timeout,
    ))
    .disable_signals()
    .shutdown_timeout(5);
    let server = match config.tls_server(&identity)? {
        Some(tls) => server.listen_rustls_0_23(listener, tls),
        None => server.listen(listener),
    }
    .map_err(|e| SatelliteError::Config(format!("cannot serve on {bound}: {e}")))?
    .run();
    let handle = server.handle();
    let server_task = tokio::spawn(server);
    tracing::info!(satellite = %url, roles = %roles, "satellite started");
    Ok(RunningSatellite {
        url,
        db,
        metrics,
        overlay,
        mode: config.transport_mode(),
        roles,
        workers,
        edge,
        server: handle,
        server_task,
    })
}
