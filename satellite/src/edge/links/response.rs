//! Answers of the link service: the body type, the headers every answer carries, and
//! the one place where a library error becomes an HTTP status. Nodes or the satellite
//! being unreachable or busy is 503 with Retry-After (players and browsers retry),
//! never 500.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use uplink_core::client::UplinkError;
use uplink_core::protocol::ErrorCode;

pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

pub fn empty() -> Body {
    http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn full(bytes: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn streaming<S>(stream: S) -> Body
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
{
    http_body_util::StreamBody::new(stream.map(|r| r.map(hyper::body::Frame::data))).boxed_unsync()
}

/// A response builder with the headers every answer carries: nothing is sniffed into
/// another type, and the link (which holds its access key id) is never sent on as a
/// referrer.
pub fn builder(status: StatusCode) -> http::response::Builder {
    Response::builder()
        .status(status)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::REFERRER_POLICY, "no-referrer")
}

/// A request that cannot be answered, and what to tell the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub status: StatusCode,
    pub message: String,
}

impl Failure {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "There is nothing at this link: it may have expired, or the object was removed.",
        )
    }

    /// As plain text (for `/raw/`, and anything that is not a page).
    pub fn text(&self) -> Response<Body> {
        let mut b = builder(self.status)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .header(header::CACHE_CONTROL, "no-store");
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            b = b.header(header::RETRY_AFTER, "2");
        }
        b.body(full(format!("{}\n", self.message)))
            .expect("valid response")
    }
}

/// The status and message for a library error.
pub fn failure_of(e: &UplinkError) -> Failure {
    use StatusCode as S;
    match e {
        UplinkError::BucketNotFound(_) | UplinkError::ObjectNotFound(_) => Failure::not_found(),
        UplinkError::Satellite {
            code: ErrorCode::NotFound,
            ..
        } => Failure::not_found(),
        // Outside what the link's grant can decrypt: to the link, nothing is there.
        UplinkError::Crypto(uplink_core::crypto::CryptoError::NoKeyForPath { .. }) => {
            Failure::not_found()
        }
        UplinkError::Unauthenticated(_)
        | UplinkError::PermissionDenied(_)
        | UplinkError::Access(_) => Failure::new(
            S::FORBIDDEN,
            "This link no longer works: its access has expired or been revoked, or it does \
             not reach this object.",
        ),
        UplinkError::RangeNotSatisfiable { start, size } => Failure::new(
            S::RANGE_NOT_SATISFIABLE,
            format!("The range starts at byte {start}, but the object has {size} bytes."),
        ),
        UplinkError::InvalidArgument(m) => Failure::new(S::BAD_REQUEST, m.clone()),
        UplinkError::LimitExceeded(_) => Failure::new(
            S::TOO_MANY_REQUESTS,
            "The project behind this link has reached its download limit.",
        ),
        UplinkError::TooFewNodes(_)
        | UplinkError::SegmentUnavailable(_)
        | UplinkError::Unavailable { .. }
        | UplinkError::SatelliteUnreachable { .. }
        | UplinkError::DownloadFailed(_)
        | UplinkError::Satellite {
            code: ErrorCode::TooManyRequests | ErrorCode::Unavailable,
            ..
        } => Failure::new(
            S::SERVICE_UNAVAILABLE,
            "The network cannot serve this right now; try again in a moment.",
        ),
        other => {
            tracing::warn!(error = %other, "share link request failed");
            Failure::new(S::INTERNAL_SERVER_ERROR, "The link service failed.")
        }
    }
}

/// `Cache-Control` for content that may be kept for `max_age` seconds (0: revalidate
/// every time).
pub fn cache_control(max_age: u64) -> HeaderValue {
    if max_age == 0 {
        HeaderValue::from_static("no-cache")
    } else {
        HeaderValue::from_str(&format!("public, max-age={max_age}")).expect("ascii")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_is_503_never_500() {
        for e in [
            UplinkError::TooFewNodes("x".into()),
            UplinkError::SegmentUnavailable("x".into()),
            UplinkError::DownloadFailed("x".into()),
            UplinkError::Unavailable {
                message: "x".into(),
                attempts: 3,
            },
            UplinkError::SatelliteUnreachable {
                address: "a".into(),
                reason: "r".into(),
            },
        ] {
            let f = failure_of(&e);
            assert_eq!(f.status, StatusCode::SERVICE_UNAVAILABLE, "{e}");
            assert!(f.text().headers().contains_key(header::RETRY_AFTER));
        }
        assert_eq!(
            failure_of(&UplinkError::ObjectNotFound("k".into())).status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            failure_of(&UplinkError::Unauthenticated("revoked".into())).status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            failure_of(&UplinkError::RangeNotSatisfiable { start: 9, size: 3 }).status,
            StatusCode::RANGE_NOT_SATISFIABLE
        );
    }

    #[test]
    fn cache_control_values() {
        assert_eq!(cache_control(0), "no-cache");
        assert_eq!(cache_control(60), "public, max-age=60");
    }
}
