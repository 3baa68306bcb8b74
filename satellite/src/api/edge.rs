//! The auth service's endpoint: `uplink access register` sends a grant, gets S3
//! credentials for the hosted gateway (and, for public ones, share links).

use actix_web::web;
use uplink_core::access::AccessGrant;
use uplink_core::protocol::edge::{EDGE_REGISTER_PATH, RegisterRequest, RegisterResponse};

use super::AppState;
use crate::edge::credentials;
use crate::error::{Result, SatelliteError};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(EDGE_REGISTER_PATH, web::post().to(register));
}

async fn register(
    state: web::Data<AppState>,
    body: web::Json<RegisterRequest>,
) -> Result<web::Json<RegisterResponse>> {
    let grant = AccessGrant::parse(body.access_grant.trim())
        .map_err(|e| SatelliteError::BadRequest(format!("the access grant does not parse: {e}")))?;
    if grant.satellite.id != state.satellite.id {
        return Err(SatelliteError::BadRequest(
            "the access grant is for another satellite".into(),
        ));
    }
    // The grant's key must work here (and is counted against its project's rate).
    let caller = state.auth.authenticate(&grant.api_key.serialize()).await?;
    let caveats = grant
        .api_key
        .caveats()
        .map_err(|e| SatelliteError::BadRequest(format!("the API key's caveats: {e}")))?;
    if body.public
        && !caveats
            .iter()
            .any(|c| c.disallow_writes && c.disallow_deletes)
    {
        return Err(SatelliteError::BadRequest(
            "a public grant must be read-only (share it with writes and deletes disallowed)".into(),
        ));
    }
    let not_after = caveats.iter().filter_map(|c| c.not_after).min();
    let issued = credentials::register(
        &state.db,
        &grant.serialize(),
        &caller.project_id,
        body.public,
        not_after,
    )
    .await?;
    Ok(web::Json(RegisterResponse {
        access_key_id: issued.access_key_id,
        secret_key: issued.secret.to_string(),
        endpoint: state.edge_s3_url.clone(),
        links_url: state.edge_links_url.clone().filter(|_| body.public),
        not_after,
    }))
}
