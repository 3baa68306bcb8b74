//! Share links: plain HTTP(S) URLs for objects and prefixes, for people and programs
//! that speak neither S3 nor the network's protocol (a browser, a chat preview, a video
//! player, an NFT marketplace).
//!
//! A link names a *public* registration of the auth service (a read-only grant, see
//! `uplink share --url`): `/s/{access key id}/{bucket}/{key}` is a page, `/raw/...` the
//! bytes. The access key id is the link's only secret; the service opens the grant it
//! names exactly as the hosted S3 gateway does (the same [`EdgeTenants`] and cache), so
//! a link reaches only what its grant reaches, stops at the grant's not-after time, and
//! stops at once when the grant is revoked (the satellite refuses the key; only what
//! browsers cached, at most `links_max_age`, outlives that).
//!
//! [`serve`] is the one choke point: method and path checks, the registration, the
//! tracing span and the metrics by endpoint; [`page`] and [`raw`] answer.

mod content_type;
mod page;
mod raw;
mod request;
mod response;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderMap, Method, Request as HttpRequest, Response, StatusCode, header};
use tracing::Instrument;
use uplink_core::client::ObjectEntry;
use uplink_core::gateway::{HttpListener, ListenOptions};
use uplink_core::protocol::now_unix;

use self::request::{Link, Query, View};
use self::response::{Body, Failure};
use super::tenants::{EdgeTenants, OpenError};
use crate::metrics::Metrics;

/// How the link service answers.
#[derive(Clone, Debug)]
pub struct LinkSettings {
    /// The URL links are handed out under (`https://link.example.com`); without one,
    /// pages build absolute URLs (for Open Graph) from the request's Host header.
    pub public_url: Option<String>,
    /// The longest browsers and CDNs may keep an answer (never past the link's own
    /// not-after or the object's expiry): the bound on how long a revoked link's
    /// content can still be seen from caches.
    pub max_age: Duration,
}

/// A running link service.
#[derive(Debug)]
pub struct Links {
    listener: HttpListener,
    url: String,
}

impl Links {
    pub async fn start(
        addr: SocketAddr,
        options: ListenOptions,
        tenants: Arc<EdgeTenants>,
        settings: LinkSettings,
        metrics: Metrics,
    ) -> std::io::Result<Self> {
        let tls = options.tls.is_some();
        let service = Arc::new(Service {
            tenants,
            settings: settings.clone(),
            metrics,
            scheme: if tls { "https" } else { "http" },
        });
        let svc = hyper::service::service_fn(move |req| {
            let service = service.clone();
            async move { Ok::<_, Infallible>(service.serve(req).await) }
        });
        let listener = HttpListener::start(addr, svc, options).await?;
        let url = settings
            .public_url
            .map(|u| u.trim_end_matches('/').to_string())
            .unwrap_or_else(|| listener.url());
        Ok(Self { listener, url })
    }

    /// Where links point (the public URL, or this host's address).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub async fn stop(self) {
        self.listener.stop().await
    }
}

struct Service {
    tenants: Arc<EdgeTenants>,
    settings: LinkSettings,
    metrics: Metrics,
    scheme: &'static str,
}

/// One request, parsed, with what its answer may depend on.
pub(crate) struct Request<'a> {
    link: &'a Link,
    query: &'a Query,
    raw_query: Option<&'a str>,
    headers: &'a HeaderMap,
    head: bool,
    /// The registration's not-after time.
    not_after: Option<i64>,
    settings: &'a LinkSettings,
    scheme: &'static str,
}

impl Request<'_> {
    /// How long an answer about the link itself may be cached.
    fn max_age_of_link(&self) -> u64 {
        let mut age = self.settings.max_age.as_secs();
        if let Some(t) = self.not_after {
            age = age.min((t - now_unix()).max(0) as u64);
        }
        age
    }

    /// How long an answer about `entry` may be cached.
    fn max_age(&self, entry: &ObjectEntry) -> u64 {
        let age = self.max_age_of_link();
        match entry.expires_at {
            Some(t) => age.min((t - now_unix()).max(0) as u64),
            None => age,
        }
    }

    /// The scheme and host links are served under, for absolute URLs.
    fn base_url(&self) -> String {
        if let Some(url) = &self.settings.public_url {
            return url.trim_end_matches('/').to_string();
        }
        let host = request::header(self.headers, header::HOST)
            .filter(|h| h.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or("localhost");
        format!("{}://{host}", self.scheme)
    }
}

impl Service {
    async fn serve<B>(&self, req: HttpRequest<B>) -> Response<Body> {
        let started = Instant::now();
        let (parts, _body) = req.into_parts();
        let link = request::parse_path(parts.uri.path());
        let endpoint = match &link {
            Ok(l) if l.view == View::Raw => "links:raw",
            Ok(l) if l.is_prefix() => "links:list",
            Ok(_) => "links:page",
            Err(_) => "links:unmatched",
        };
        let span = tracing::info_span!("request", method = %parts.method, endpoint);
        let response = self.answer(&parts, link).instrument(span).await;
        let status = response.status().as_u16().to_string();
        self.metrics
            .http_requests
            .with_label_values(&[endpoint, status.as_str()])
            .inc();
        self.metrics
            .http_duration
            .with_label_values(&[endpoint])
            .observe(started.elapsed().as_secs_f64());
        response
    }

    async fn answer(
        &self,
        parts: &http::request::Parts,
        link: Result<Link, request::BadLink>,
    ) -> Response<Body> {
        let view = link.as_ref().map(|l| l.view).unwrap_or(View::Raw);
        let render = |f: Failure| match view {
            View::Page => page::failure(&f),
            View::Raw => f.text(),
        };
        let head = match parts.method {
            Method::GET => false,
            Method::HEAD => true,
            _ => {
                let mut r = render(Failure::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "Share links are read-only: only GET and HEAD.",
                ));
                r.headers_mut()
                    .insert(header::ALLOW, http::HeaderValue::from_static("GET, HEAD"));
                return r;
            }
        };
        let link = match link {
            Ok(l) => l,
            Err(request::BadLink::NotALink) => return render(Failure::not_found()),
            Err(e) => return render(Failure::new(StatusCode::BAD_REQUEST, e.to_string())),
        };
        let query = match request::parse_query(parts.uri.query()) {
            Ok(q) => q,
            Err(m) => return render(Failure::new(StatusCode::BAD_REQUEST, m)),
        };
        let opened = match self.tenants.open(&link.access).await {
            Ok(Some(o)) if o.registered.public => o,
            // A registration that is not public needs its secret: to a link it does
            // not exist, and neither does an unknown or expired one.
            Ok(_) => return render(Failure::not_found()),
            Err(OpenError::Unavailable) => {
                return render(Failure::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The link service cannot reach its records right now; try again.",
                ));
            }
            Err(e @ OpenError::Unreadable) => {
                return render(Failure::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    e.to_string(),
                ));
            }
        };
        let req = Request {
            link: &link,
            query: &query,
            raw_query: parts.uri.query(),
            headers: &parts.headers,
            head,
            not_after: opened.registered.not_after,
            settings: &self.settings,
            scheme: self.scheme,
        };
        let answered = match view {
            View::Page => page::serve(&opened.project, &req).await,
            View::Raw => raw::serve(&opened.project, &req).await,
        };
        answered.unwrap_or_else(render)
    }
}
