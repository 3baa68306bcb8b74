//! The one place where satellite errors become HTTP statuses and wire codes.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use uplink_core::protocol::{ErrorBody, ErrorCode};

use crate::error::SatelliteError;

impl ResponseError for SatelliteError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            // Do not leak database details to clients; they are logged instead.
            SatelliteError::Db(e) => {
                tracing::error!(error = %e, "database error");
                "internal database error".to_string()
            }
            SatelliteError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                "internal error".to_string()
            }
            SatelliteError::Unavailable(e) => {
                tracing::warn!(error = %e, "answering 503: transient database failure");
                e.clone()
            }
            other => other.to_string(),
        };
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, SatelliteError::Unavailable(_)) {
            // Transient: tell well-behaved clients when to come back.
            response.insert_header((actix_web::http::header::RETRY_AFTER, "1"));
        }
        response.json(ErrorBody::new(self.code(), message))
    }
}

impl SatelliteError {
    /// The JSON error response, for handlers that return a plain `HttpResponse`.
    pub fn error_response_public(&self) -> HttpResponse {
        ResponseError::error_response(self)
    }
}

/// Turns a request the framework could not parse (its `what`: body, query string or
/// path) into the same JSON error shape as every other error.
pub fn bad_request<E>(what: &str, err: E) -> actix_web::Error
where
    E: std::fmt::Display + std::fmt::Debug + 'static,
{
    let body = ErrorBody::new(ErrorCode::BadRequest, format!("invalid {what}: {err}"));
    actix_web::error::InternalError::from_response(err, HttpResponse::BadRequest().json(body))
        .into()
}
