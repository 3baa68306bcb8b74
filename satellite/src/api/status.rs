//! `/health` for load balancers and operators, `/metrics` for Prometheus.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/metrics", web::get().to(metrics));
}

async fn health(state: web::Data<AppState>) -> HttpResponse {
    let (known, online) = state.overlay.counts();
    let workers = state.workers.snapshot();
    HttpResponse::Ok().json(json!({
        "ok": true,
        "satellite_id": state.satellite.id.to_string(),
        "satellite_url": state.satellite.to_string(),
        "version": env!("CARGO_PKG_VERSION"),
        "roles": state.roles.to_string(),
        // A process that keeps no view of the nodes (the edge alone) has no count.
        "nodes": state
            .roles
            .keeps_nodes()
            .then(|| json!({ "known": known, "online": online })),
        "workers": workers,
    }))
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
