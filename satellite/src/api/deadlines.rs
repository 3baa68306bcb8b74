//! Deadlines for slow clients, so that a connection costs its holder a steady stream of
//! bytes rather than nothing: the satellite's use of the network's shared server
//! hardening (`uplink_core::transport::server`).
//!
//! - every connection is watched (`deadlines::on_connect`, installed in `lib.rs`): the
//!   next request's headers must be in within `keep_alive + header_timeout`;
//! - every request body is read at a minimum rate ([`guard`]): fewer than
//!   `body_min_bytes` in any `body_window` of waiting fails the read, and the answer is
//!   408 with the connection closed, whatever the handler made of the failed read.

use std::pin::Pin;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use bytes::Bytes;
use futures::Stream;
use uplink_core::protocol::{ErrorBody, ErrorCode};
use uplink_core::transport::server::body_rate::{BodyRate, MinRate};
use uplink_core::transport::server::deadlines::{Watched, conn_watch};

use super::AppState;

fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

fn too_slow() -> HttpResponse {
    let mut response = HttpResponse::build(StatusCode::REQUEST_TIMEOUT).json(ErrorBody::new(
        ErrorCode::BadRequest,
        "the request body arrived too slowly; the connection is closed",
    ));
    response
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    response
}

/// The middleware: marks the connection busy, reads the body through a rate guard,
/// answers 408 if the body stalled.
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<Watched<BoxBody>>, actix_web::Error> {
    let conn = conn_watch(&req);
    if let Some(conn) = &conn {
        conn.busy();
    }
    let limits = req
        .app_data::<web::Data<AppState>>()
        .map(|s| (s.http.body_min_bytes.max(1), s.http.body_window));
    let mut stalled = None;
    if let Some((min_bytes, window)) = limits
        && has_body(&req)
    {
        let guarded = MinRate::new(req.take_payload(), BodyRate { min_bytes, window });
        stalled = Some(guarded.stalled());
        let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(guarded);
        req.set_payload(Payload::from(stream));
    }
    let res = match next.call(req).await {
        Ok(res) => res,
        Err(e) => {
            if let Some(conn) = &conn {
                conn.waiting();
            }
            return Err(e);
        }
    };
    let res = if stalled.is_some_and(|s| s.get()) {
        res.into_response(too_slow())
    } else {
        res.map_into_boxed_body()
    };
    Ok(res.map_body(|_, inner| Watched::new(inner, conn)))
}
