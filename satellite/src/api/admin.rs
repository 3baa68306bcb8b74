//! The console's nodes and repair pages (`/api/v0/admin/...`, routed with the rest of
//! the console API in [`super::console`]), for administrator
//! accounts only: they show every node of the network and the repair state, which no
//! project's member should see. The figures come from [`crate::operators`], the same
//! code behind `satellite admin nodes|repair`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::console::session;
use crate::console::Session;
use crate::error::{Result, SatelliteError};
use crate::operators;

type State = web::Data<AppState>;

/// The request's session, if its account is an administrator.
async fn admin(state: &State, req: &HttpRequest) -> Result<Session> {
    let session = session(state, req).await?;
    if !session.user.is_admin {
        return Err(SatelliteError::PermissionDenied(
            "only administrators see the network's nodes and repair state; an operator \
             can make this account one with `satellite admin set-admin --email <email>`"
                .into(),
        ));
    }
    Ok(session)
}

pub(super) async fn nodes(state: State, req: HttpRequest) -> Result<HttpResponse> {
    admin(&state, &req).await?;
    let window = state.overlay.config().online_window;
    let nodes = operators::nodes(&state.db, window.as_secs() as i64).await?;
    Ok(HttpResponse::Ok().json(json!({
        "summary": operators::summary(&nodes),
        "online_window_seconds": window.as_secs(),
        "nodes": nodes,
    })))
}

pub(super) async fn repair(state: State, req: HttpRequest) -> Result<HttpResponse> {
    admin(&state, &req).await?;
    let repair = operators::repair(&state.db).await?;
    Ok(HttpResponse::Ok().json(json!({
        "repair": repair,
        // This process's workers; another satellite process may run the exclusive ones.
        "workers": state.workers.snapshot(),
    })))
}
