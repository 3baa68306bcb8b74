//! The satellite's HTTP API: metainfo, node check-in, health and metrics.
//!
//! Every request passes one middleware that records metrics and a tracing span labelled
//! by the matched route, so endpoints need no instrumentation of their own, and one that
//! holds slow clients to deadlines ([`deadlines`]).

mod admin;
mod assets;
mod console;
pub mod deadlines;
mod edge;
mod error;
mod metainfo;
mod nodes;
mod status;

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, web};
use tracing::Instrument;
use uplink_core::protocol::NodeUrl;
use uplink_core::protocol::metainfo::{NAMES_HEADER, NAMES_PLAIN, NameMode};

use crate::auth::{Authenticator, Caller};
use crate::config::{HttpConfig, ProjectLimits};
use crate::console::Accounts;
use crate::error::{Result, SatelliteError};
use crate::metainfo::Metainfo;
use crate::metrics::Metrics;
use crate::overlay::Overlay;
use crate::roles::Role;
use crate::workers::StatusHandle;

/// Shared by all HTTP workers.
pub struct AppState {
    /// For the services without a handle of their own (graceful exit, operator pages).
    pub db: crate::db::Db,
    pub metainfo: Arc<Metainfo>,
    pub auth: Authenticator,
    pub overlay: Arc<Overlay>,
    pub metrics: Metrics,
    pub satellite: NodeUrl,
    pub workers: StatusHandle,
    /// Accounts and the web console; `None` when disabled.
    pub console: Option<ConsoleState>,
    /// Body size and rate limits.
    pub http: HttpConfig,
    /// The hosted S3 gateway's URL, told to users who register a grant.
    pub edge_s3_url: Option<String>,
    /// The base URL of share links, if this process serves them.
    pub edge_links_url: Option<String>,
    /// The services this process runs; routes of the others are not served here.
    pub roles: crate::roles::Roles,
}

/// What the console API needs beyond the rest of the API.
#[derive(Debug)]
pub struct ConsoleState {
    pub accounts: Accounts,
    pub signup_enabled: bool,
    pub max_projects_per_user: u64,
    pub default_limits: ProjectLimits,
    pub credential_requests_per_minute: u64,
}

impl AppState {
    /// The caller named by the request's bearer API key.
    pub async fn caller(&self, req: &HttpRequest) -> Result<Caller> {
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                SatelliteError::Unauthenticated("missing API key (Authorization header)".into())
            })?
            .to_str()
            .map_err(|_| {
                SatelliteError::Unauthenticated("malformed Authorization header".into())
            })?;
        let key = header.strip_prefix("Bearer ").ok_or_else(|| {
            SatelliteError::Unauthenticated("Authorization must be 'Bearer <API key>'".into())
        })?;
        let mut caller = self.auth.authenticate(key).await?;
        caller.names = match req.headers().get(NAMES_HEADER) {
            None => NameMode::Encrypted,
            Some(v) if v.as_bytes() == NAMES_PLAIN.as_bytes() => NameMode::Plain,
            Some(_) => {
                return Err(SatelliteError::BadRequest(format!(
                    "header {NAMES_HEADER} must be {NAMES_PLAIN:?} (names in clear) or absent \
                     (names encrypted)"
                )));
            }
        };
        Ok(caller)
    }
}

/// Registers every route on an actix `App`.
pub fn configure(state: web::Data<AppState>) -> impl FnOnce(&mut web::ServiceConfig) {
    let console_enabled = state.console.is_some();
    let api = state.roles.has(Role::Api);
    let edge = state.roles.has(Role::Edge);
    let max_body = usize::try_from(state.http.max_body_size).unwrap_or(usize::MAX);
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(state)
            .app_data(
                web::JsonConfig::default()
                    .limit(max_body)
                    .error_handler(|err, _| error::bad_request("request body", err)),
            )
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|err, _| error::bad_request("query string", err)),
            )
            .app_data(
                web::PathConfig::default().error_handler(|err, _| error::bad_request("path", err)),
            )
            .configure(status::routes);
        if api {
            cfg.configure(metainfo::routes).configure(nodes::routes);
        }
        if edge {
            cfg.configure(edge::routes);
        }
        if console_enabled {
            cfg.configure(console::routes)
                .default_service(web::route().to(assets::serve));
        }
    }
}

/// Metrics and a tracing span for every request, labelled by route pattern.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> std::result::Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let endpoint = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let span = tracing::info_span!("request", method = %req.method(), %endpoint);
    let started = Instant::now();
    let res = next.call(req).instrument(span).await;
    if let Some(metrics) = metrics {
        let status = match &res {
            Ok(r) => r.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        metrics
            .http_requests
            .with_label_values(&[endpoint.as_str(), status.to_string().as_str()])
            .inc();
        metrics
            .http_duration
            .with_label_values(&[endpoint.as_str()])
            .observe(started.elapsed().as_secs_f64());
    }
    res
}
