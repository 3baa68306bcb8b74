//! A small HTTP API to read and change the faults of a running network's nodes, for
//! `node-sim network up --control ADDR`.
//!
//! It listens on loopback only and answers only requests that carry its bearer token
//! (random per run, written to a file only the user can read), since whoever can call
//! it can take nodes offline or corrupt their data.
//!
//! | Route                    | Does                                                   |
//! |--------------------------|--------------------------------------------------------|
//! | `GET /faults`            | `{"nodes": {"1": {...}, ...}}`: every node's faults    |
//! | `GET /faults/{i}`        | node `i`'s faults                                       |
//! | `PUT /faults/{i}` (or `POST`) | replaces node `i`'s faults with the JSON body      |
//! | `DELETE /faults/{i}`     | clears node `i`'s faults                                |
//! | `GET /counts`            | what the faults did so far, per node                    |
//!
//! A body is a node's faults as in a plan's `[nodes.i]` table, in JSON:
//! `{"offline": true}`, `{"slow": {"latency": "200ms", "bandwidth": "128KiB"}}`.
//! Errors are `{"error": "..."}` with 400 (naming the bad field), 401 or 404.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use actix_web::dev::{ServerHandle, Service};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use rand::RngCore;
use serde_json::json;

use super::FaultError;
use super::node::FaultRegistry;
use super::spec::FaultSpec;

/// Largest request body accepted.
const MAX_BODY: usize = 64 << 10;

/// The secret a caller of the control API must present (`Authorization: Bearer ...`).
#[derive(Clone)]
pub struct ControlToken(String);

impl std::fmt::Debug for ControlToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ControlToken(..)")
    }
}

impl ControlToken {
    /// 256 random bits.
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Writes the token to `path`, readable by this user only (a file left from an
    /// earlier run is replaced, not reused with its old permissions).
    pub fn write_to(&self, path: &Path) -> Result<(), FaultError> {
        let io = |source| FaultError::Io {
            context: format!("writing the control token to {}", path.display()),
            source,
        };
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        uplink_core::protocol::identity::write_private_file(path, self.0.as_bytes()).map_err(io)
    }

    /// Whether `presented` is this token, in time independent of where they differ.
    fn matches(&self, presented: &str) -> bool {
        // blake3's hash comparison is constant-time.
        blake3::hash(self.0.as_bytes()) == blake3::hash(presented.as_bytes())
    }
}

struct ControlState {
    registry: Arc<FaultRegistry>,
}

/// The running control API.
pub struct ControlServer {
    address: SocketAddr,
    handle: ServerHandle,
}

impl std::fmt::Debug for ControlServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlServer")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl ControlServer {
    /// Serves the faults of `registry` on `listen`, which must be a loopback address
    /// (port 0 picks one).
    pub fn start(
        listen: SocketAddr,
        registry: Arc<FaultRegistry>,
        token: ControlToken,
    ) -> Result<Self, FaultError> {
        if !listen.ip().is_loopback() {
            return Err(FaultError::Invalid {
                field: "control".into(),
                message: format!(
                    "{listen} is not a loopback address; the control API serves this machine \
                     only (use 127.0.0.1:PORT)"
                ),
            });
        }
        let io = |context: String| move |source| FaultError::Io { context, source };
        let listener = std::net::TcpListener::bind(listen)
            .map_err(io(format!("binding the control API to {listen}")))?;
        let address = listener
            .local_addr()
            .map_err(io("reading the control API's address".into()))?;
        let state = web::Data::new(ControlState { registry });
        let token = Arc::new(token);
        let server = HttpServer::new(move || {
            let token = token.clone();
            App::new()
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(MAX_BODY))
                .wrap_fn(move |req, srv| {
                    let presented = req
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.strip_prefix("Bearer "))
                        .map(str::trim);
                    let allowed = presented.is_some_and(|p| token.matches(p));
                    let call = allowed.then(|| srv.call(req));
                    async move {
                        match call {
                            Some(call) => call.await,
                            None => Err(actix_web::error::InternalError::from_response(
                                "unauthorized",
                                HttpResponse::Unauthorized()
                                    .insert_header(("WWW-Authenticate", "Bearer"))
                                    .json(json!({
                                        "error": "a valid `Authorization: Bearer <token>` \
                                                  header is required (the token is in the \
                                                  file `network up` printed)"
                                    })),
                            )
                            .into()),
                        }
                    }
                })
                .route("/faults", web::get().to(all_faults))
                .route("/faults/{index}", web::get().to(node_faults))
                .route("/faults/{index}", web::put().to(set_faults))
                .route("/faults/{index}", web::post().to(set_faults))
                .route("/faults/{index}", web::delete().to(clear_faults))
                .route("/counts", web::get().to(counts))
                .default_service(web::to(|| async {
                    error(
                        HttpResponse::NotFound(),
                        "no such route; see `node-sim --help`",
                    )
                }))
        })
        .workers(1)
        .shutdown_timeout(2)
        .disable_signals()
        .listen(listener)
        .map_err(io(format!("serving the control API on {address}")))?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self { address, handle })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

fn error(mut builder: actix_web::HttpResponseBuilder, message: &str) -> HttpResponse {
    builder.json(json!({ "error": message }))
}

/// The node index of the path; the message for a bad one.
fn index_of(req: &HttpRequest) -> Result<usize, String> {
    let raw = req.match_info().get("index").unwrap_or_default();
    raw.parse()
        .map_err(|_| format!("{raw:?} is not a node index"))
}

async fn all_faults(state: web::Data<ControlState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "nodes": state.registry.snapshot() }))
}

async fn node_faults(req: HttpRequest, state: web::Data<ControlState>) -> HttpResponse {
    let index = match index_of(&req) {
        Ok(i) => i,
        Err(message) => return error(HttpResponse::BadRequest(), &message),
    };
    match state.registry.get(index) {
        Some(f) => HttpResponse::Ok().json(f.get()),
        None => unknown(index),
    }
}

fn unknown(index: usize) -> HttpResponse {
    error(
        HttpResponse::NotFound(),
        &FaultError::UnknownNode(index).to_string(),
    )
}

async fn set_faults(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<ControlState>,
) -> HttpResponse {
    let index = match index_of(&req) {
        Ok(i) => i,
        Err(message) => return error(HttpResponse::BadRequest(), &message),
    };
    let Some(faults) = state.registry.get(index) else {
        return unknown(index);
    };
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error(
                HttpResponse::BadRequest(),
                &format!("the body is not JSON: {e}"),
            );
        }
    };
    let spec = match FaultSpec::from_value(&value, &format!("nodes.{index}")) {
        Ok(s) => s,
        Err(e) => return error(HttpResponse::BadRequest(), &e.to_string()),
    };
    if let Err(e) = faults.set(spec) {
        return error(HttpResponse::BadRequest(), &e.to_string());
    }
    tracing::info!(node = index, faults = ?faults.get(), "faults changed through the control API");
    HttpResponse::Ok().json(faults.get())
}

async fn clear_faults(req: HttpRequest, state: web::Data<ControlState>) -> HttpResponse {
    let index = match index_of(&req) {
        Ok(i) => i,
        Err(message) => return error(HttpResponse::BadRequest(), &message),
    };
    match state.registry.get(index) {
        Some(f) => {
            f.clear();
            HttpResponse::Ok().json(f.get())
        }
        None => unknown(index),
    }
}

async fn counts(state: web::Data<ControlState>) -> HttpResponse {
    let counts: std::collections::BTreeMap<usize, _> = state
        .registry
        .all()
        .iter()
        .map(|f| (f.index(), f.counts()))
        .collect();
    HttpResponse::Ok().json(json!({ "nodes": counts }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{MemoryStore, PieceStore};
    use crate::sim::faults::node::NodeFaults;
    use crate::sim::faults::node_store::NodeFaultStore;
    use uplink_core::protocol::{NodeId, PieceId};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_need_the_token_and_reach_the_wrapped_store_at_once() {
        let registry = FaultRegistry::new();
        let faults = NodeFaults::new(2);
        registry.insert(faults.clone());
        let store = NodeFaultStore::new(Arc::new(MemoryStore::new()), faults.clone());
        let token = ControlToken::random();
        let server =
            ControlServer::start("127.0.0.1:0".parse().unwrap(), registry, token.clone()).unwrap();
        let base = format!("http://{}", server.address());
        let http = reqwest::Client::new();
        let bearer = format!("Bearer {}", token.as_str());

        // Without the token, or with another, nothing is read or changed.
        let r = http.get(format!("{base}/faults")).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = http
            .put(format!("{base}/faults/2"))
            .header("authorization", "Bearer not-the-token")
            .body(r#"{"refuse_uploads": true}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert!(faults.get().is_clear());

        // With it, a change is seen by the store's next operation.
        let sat = NodeId::random();
        assert!(store.create(sat, PieceId::random()).await.is_ok());
        let r = http
            .put(format!("{base}/faults/2"))
            .header("authorization", &bearer)
            .body(r#"{"refuse_uploads": true, "slow": {"latency": "20ms"}}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(faults.get().refuse_uploads);
        let e = store.create(sat, PieceId::random()).await.err().unwrap();
        assert!(e.to_string().contains("refuses uploads"), "{e}");

        // A bad body names its field and changes nothing.
        let r = http
            .post(format!("{base}/faults/2"))
            .header("authorization", &bearer)
            .body(r#"{"slow": {"bandwidth": "lots"}}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let body: serde_json::Value = r.json().await.unwrap();
        let message = body["error"].as_str().unwrap();
        assert!(message.starts_with("nodes.2.slow.bandwidth: "), "{message}");
        assert!(faults.get().refuse_uploads);

        // What GET returns can be sent back.
        let all: serde_json::Value = http
            .get(format!("{base}/faults"))
            .header("authorization", &bearer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let two = all["nodes"]["2"].clone();
        assert_eq!(two["slow"]["ingress"]["latency"], "20ms");
        assert_eq!(FaultSpec::from_value(&two, "x").unwrap(), faults.get());

        let r = http
            .get(format!("{base}/faults/9"))
            .header("authorization", &bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let r = http
            .delete(format!("{base}/faults/2"))
            .header("authorization", &bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(faults.get().is_clear());
        let counts: serde_json::Value = http
            .get(format!("{base}/counts"))
            .header("authorization", &bearer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(counts["nodes"]["2"]["uploads_refused"], 1);
        server.stop().await;
    }

    #[test]
    fn only_loopback_and_a_private_token_file() {
        let e = ControlServer::start(
            "0.0.0.0:0".parse().unwrap(),
            FaultRegistry::new(),
            ControlToken::random(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("not a loopback address"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.token");
        std::fs::write(&path, "old").unwrap();
        let token = ControlToken::random();
        token.write_to(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), token.as_str());
        assert_ne!(token.as_str(), ControlToken::random().as_str());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
