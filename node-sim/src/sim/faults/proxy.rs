//! A proxy in front of the satellite that answers some calls with errors.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use uplink_core::protocol::{ErrorBody, ErrorCode, Identity, NodeUrl};
use uplink_core::transport::server::server_config;
use uplink_core::transport::{Mode, Transport};

/// What [`FaultyProxy`] answers instead of forwarding.
#[derive(Clone, Debug)]
struct Rule {
    path: String,
    /// Requests to forward before the rule applies.
    skip: u32,
    /// Requests to answer with the error.
    times: u32,
    status: u16,
    retry_after: Option<u32>,
}

/// An HTTP proxy in front of the satellite that forwards every request, except that it
/// answers chosen calls with chosen errors (a 503 with `Retry-After`, say) and counts
/// the requests per path.
pub struct FaultyProxy {
    address: String,
    rules: Arc<Mutex<Vec<Rule>>>,
    counts: Arc<Mutex<HashMap<String, u64>>>,
    handle: actix_web::dev::ServerHandle,
}

impl std::fmt::Debug for FaultyProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyProxy")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

struct ProxyState {
    target: NodeUrl,
    transport: Transport,
    rules: Arc<Mutex<Vec<Rule>>>,
    counts: Arc<Mutex<HashMap<String, u64>>>,
}

impl FaultyProxy {
    /// Starts a proxy on a free loopback port, forwarding to the satellite `target`.
    /// Over TLS it presents `identity`, which must be the satellite's own (so clients
    /// that pin the satellite's id accept it), and dials the satellite as any client.
    pub async fn start(target: &NodeUrl, mode: Mode, identity: &Identity) -> std::io::Result<Self> {
        use actix_web::{App, HttpServer, web};
        let rules: Arc<Mutex<Vec<Rule>>> = Arc::default();
        let counts: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
        let state = web::Data::new(ProxyState {
            target: target.clone(),
            transport: Transport::shared(mode),
            rules: rules.clone(),
            counts: counts.clone(),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?.to_string();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(64 << 20))
                .default_service(web::to(forward))
        })
        .workers(1);
        let server = match mode {
            Mode::Tls => {
                let tls = server_config(identity, None).map_err(std::io::Error::other)?;
                server.listen_rustls_0_23(listener, tls)?
            }
            Mode::PlainHttp => server.listen(listener)?,
        }
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self {
            address,
            rules,
            counts,
            handle,
        })
    }

    /// `host:port` to give clients instead of the satellite's.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// After forwarding `skip` requests to `path`, answers the next `times` with
    /// `status` (and `Retry-After: retry_after` seconds, if given).
    pub fn fail(&self, path: &str, skip: u32, times: u32, status: u16, retry_after: Option<u32>) {
        self.rules.lock().push(Rule {
            path: path.to_string(),
            skip,
            times,
            status,
            retry_after,
        });
    }

    /// Requests to `path` seen so far, answered or forwarded.
    pub fn requests(&self, path: &str) -> u64 {
        self.counts.lock().get(path).copied().unwrap_or(0)
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

async fn forward(
    req: actix_web::HttpRequest,
    body: Bytes,
    state: actix_web::web::Data<ProxyState>,
) -> actix_web::HttpResponse {
    use actix_web::HttpResponse;
    use actix_web::http::StatusCode;
    let path = req.path().to_string();
    *state.counts.lock().entry(path.clone()).or_default() += 1;
    let injected = {
        let mut rules = state.rules.lock();
        rules.iter_mut().find(|r| r.path == path).and_then(|r| {
            if r.skip > 0 {
                r.skip -= 1;
                None
            } else if r.times > 0 {
                r.times -= 1;
                Some((r.status, r.retry_after))
            } else {
                None
            }
        })
    };
    if let Some((status, retry_after)) = injected {
        let code = if status == 503 {
            ErrorCode::Unavailable
        } else {
            ErrorCode::Internal
        };
        let mut resp = HttpResponse::build(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        );
        if let Some(secs) = retry_after {
            resp.insert_header(("Retry-After", secs.to_string()));
        }
        return resp.json(ErrorBody::new(code, format!("injected HTTP {status}")));
    }
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let url = match state.transport.node_url(&state.target, path) {
        Ok(url) => url,
        Err(e) => return HttpResponse::BadGateway().body(e.to_string()),
    };
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
        .unwrap_or(reqwest::Method::POST);
    let mut out = state.transport.http().request(method, url).body(body);
    for name in ["authorization", "content-type", "cookie", "origin"] {
        if let Some(v) = req.headers().get(name) {
            out = out.header(name, v.as_bytes());
        }
    }
    match out.send().await {
        Ok(resp) => {
            let status =
                StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut builder = HttpResponse::build(status);
            for name in ["content-type", "retry-after"] {
                if let Some(v) = resp.headers().get(name) {
                    builder.insert_header((name, v.as_bytes()));
                }
            }
            match resp.bytes().await {
                Ok(bytes) => builder.body(bytes),
                Err(e) => HttpResponse::BadGateway().body(e.to_string()),
            }
        }
        Err(e) => HttpResponse::BadGateway().body(e.to_string()),
    }
}
