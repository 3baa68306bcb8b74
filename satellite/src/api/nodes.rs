//! Node check-in and graceful exit.

use actix_web::web;
use uplink_core::protocol::exit::{EXIT_PATH, ExitRequest, ExitStatus};
use uplink_core::protocol::wire::{CHECKIN_PATH, CheckInRequest, CheckInResponse};

use super::AppState;
use crate::error::Result;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(CHECKIN_PATH, web::post().to(check_in))
        .route(EXIT_PATH, web::post().to(graceful_exit));
}

async fn graceful_exit(
    state: web::Data<AppState>,
    body: web::Json<ExitRequest>,
) -> Result<web::Json<ExitStatus>> {
    Ok(web::Json(
        crate::exit::handle(
            &state.db,
            &state.overlay,
            state.satellite.id,
            &body.into_inner(),
        )
        .await?,
    ))
}

async fn check_in(
    state: web::Data<AppState>,
    body: web::Json<CheckInRequest>,
) -> Result<web::Json<CheckInResponse>> {
    let result = state.overlay.check_in(body.into_inner()).await;
    state
        .metrics
        .checkins
        .with_label_values(&[if result.is_ok() { "ok" } else { "refused" }])
        .inc();
    Ok(web::Json(result?))
}
