//! Check-in's dial-back against whatever may listen at a claimed address: only a node
//! that proves its identity there is accepted, and every other outcome (nothing there,
//! something that is not HTTP, an HTTP service without the endpoint, a wrong key, no
//! answer at all) gets byte for byte the same answer, so check-in cannot be used to
//! probe ports. The dial-back happens only for check-ins that are themselves valid, and
//! is bounded per node id and per host.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use satellite::{RunningSatellite, SatelliteConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uplink_core::protocol::wire::{
    CHECKIN_PATH, CheckInRequest, CheckInResponse, IDENTITY_CHALLENGE_PATH, IdentityChallenge,
    IdentityProof, NodeCapacity,
};
use uplink_core::protocol::{ErrorBody, ErrorCode, Identity, NodeId, Signature, now_unix};

/// Outer bound on one check-in; far above the dial-back's own timeout.
const PATIENCE: Duration = Duration::from_secs(60);

async fn satellite(
    edit: impl FnOnce(&mut SatelliteConfig),
) -> (tempfile::TempDir, RunningSatellite) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SatelliteConfig {
        data_dir: dir.path().to_path_buf(),
        listen_addr: "127.0.0.1:0".into(),
        // The listeners below speak HTTP written by hand. Over TLS the handshake
        // itself would also have to prove the node's id (see the end-to-end tests).
        plain_http: true,
        ..Default::default()
    };
    edit(&mut config);
    let satellite = satellite::start(config).await.expect("satellite starts");
    (dir, satellite)
}

fn signed_check_in(node: &Identity, address: &str) -> CheckInRequest {
    let mut req = CheckInRequest {
        node_id: node.node_id(),
        public_key: node.public_key(),
        address: address.into(),
        capacity: NodeCapacity {
            free_bytes: 1 << 30,
            used_bytes: 0,
        },
        version: "test".into(),
        timestamp: now_unix(),
        signature: Signature::default(),
    };
    req.signature = node.sign(&req);
    req
}

/// Posts a check-in; status and raw body.
async fn post(satellite: &RunningSatellite, req: &CheckInRequest) -> (u16, Vec<u8>) {
    let url = format!("http://{}{CHECKIN_PATH}", satellite.url.address);
    let send = async {
        let resp = reqwest::Client::new()
            .post(&url)
            .json(req)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.bytes().await.unwrap().to_vec())
    };
    tokio::time::timeout(PATIENCE, send)
        .await
        .expect("check-in answered")
}

async fn check_in(satellite: &RunningSatellite, node: &Identity, address: &str) -> (u16, Vec<u8>) {
    post(satellite, &signed_check_in(node, address)).await
}

/// What listens at a claimed address.
#[derive(Clone)]
enum Behaviour {
    /// Sends a banner of another protocol and hangs up.
    NotHttp,
    /// Accepts and never answers.
    Silent,
    /// Answers every request with 404.
    HttpWithoutEndpoint,
    /// Answers challenges, signing with this identity.
    Prover(Identity),
    /// Signs a challenge other than the one received (another satellite's).
    WrongChallenge(Identity),
}

/// A listener on loopback that counts connections and behaves as told.
struct Listener {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    challenges: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    async fn start(ip: &str, behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let challenges = Arc::new(AtomicUsize::new(0));
        let (c, ch) = (connections.clone(), challenges.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                c.fetch_add(1, Ordering::SeqCst);
                let (behaviour, ch) = (behaviour.clone(), ch.clone());
                tokio::spawn(serve(stream, behaviour, ch));
            }
        });
        Self {
            addr,
            connections,
            challenges,
            task,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Reads one HTTP request; its path and body.
async fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let path = head.split(' ').nth(1)?.to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((path, buf[head_end..head_end + length].to_vec()))
}

async fn respond(stream: &mut TcpStream, status: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
}

async fn serve(mut stream: TcpStream, behaviour: Behaviour, challenges: Arc<AtomicUsize>) {
    let wrong = matches!(behaviour, Behaviour::WrongChallenge(_));
    match behaviour {
        Behaviour::NotHttp => {
            let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
        }
        Behaviour::Silent => {
            tokio::time::sleep(PATIENCE).await;
        }
        Behaviour::HttpWithoutEndpoint => {
            if read_request(&mut stream).await.is_some() {
                respond(&mut stream, "404 Not Found", b"{}").await;
            }
        }
        Behaviour::Prover(identity) | Behaviour::WrongChallenge(identity) => {
            let Some((path, body)) = read_request(&mut stream).await else {
                return;
            };
            if path != IDENTITY_CHALLENGE_PATH {
                respond(&mut stream, "404 Not Found", b"{}").await;
                return;
            }
            challenges.fetch_add(1, Ordering::SeqCst);
            let mut challenge: IdentityChallenge = serde_json::from_slice(&body).unwrap();
            if wrong {
                challenge.satellite_id = NodeId::random();
            }
            let proof = IdentityProof {
                signature: identity.sign(&challenge),
            };
            respond(&mut stream, "200 OK", &serde_json::to_vec(&proof).unwrap()).await;
        }
    }
}

/// An address on loopback where nothing listens.
async fn closed_port(ip: &str) -> String {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr.to_string()
}

fn error_of(body: &[u8]) -> ErrorBody {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not an error body ({e}): {}", String::from_utf8_lossy(body)))
}

#[tokio::test]
async fn every_failed_dial_back_gets_the_same_answer_and_a_real_prover_passes() {
    let (_dir, sat) = satellite(|_| {}).await;
    let node = Identity::generate(0);
    let other = Identity::generate(0);
    let not_http = Listener::start("127.0.0.1", Behaviour::NotHttp).await;
    let silent = Listener::start("127.0.0.1", Behaviour::Silent).await;
    let no_endpoint = Listener::start("127.0.0.1", Behaviour::HttpWithoutEndpoint).await;
    let wrong_key = Listener::start("127.0.0.1", Behaviour::Prover(other)).await;
    let wrong_challenge =
        Listener::start("127.0.0.1", Behaviour::WrongChallenge(node.clone())).await;
    let closed = closed_port("127.0.0.1").await;
    // Each claim comes from its own node id: the per-node bound is not what is tested.
    let fresh = || Identity::generate(0);
    let cases = [
        ("closed port", closed, fresh()),
        ("not HTTP", not_http.addr.to_string(), fresh()),
        ("no answer", silent.addr.to_string(), fresh()),
        (
            "HTTP without the endpoint",
            no_endpoint.addr.to_string(),
            fresh(),
        ),
        ("another node's key", wrong_key.addr.to_string(), fresh()),
        // The right key, over a challenge the satellite did not send.
        (
            "a proof for another challenge",
            wrong_challenge.addr.to_string(),
            node,
        ),
    ];
    let answers = futures::future::join_all(cases.iter().map(|(what, address, node)| {
        let sat = &sat;
        async move { (*what, check_in(sat, node, address).await) }
    }))
    .await;
    let (first_what, first) = &answers[0];
    assert_eq!(first.0, 400, "{first_what}");
    let body = error_of(&first.1);
    assert_eq!(body.error.code, ErrorCode::BadRequest);
    assert_eq!(
        body.error.message,
        "could not verify the node at its claimed address"
    );
    for (what, answer) in &answers {
        assert_eq!(
            answer,
            first,
            "{what} is answered differently from {first_what}: {}",
            String::from_utf8_lossy(&answer.1)
        );
    }
    assert!(silent.connections() >= 1, "the silent listener was dialed");
    assert!(
        not_http.connections() >= 1,
        "the banner listener was dialed"
    );
    assert!(no_endpoint.connections() >= 1);
    assert_eq!(wrong_key.challenges.load(Ordering::SeqCst), 1);
    assert!(sat.overlay.snapshot().is_empty(), "no node was recorded");

    // A node that proves its identity at its address is accepted.
    let node = Identity::generate(0);
    let prover = Listener::start("127.0.0.1", Behaviour::Prover(node.clone())).await;
    let (status, body) = check_in(&sat, &node, &prover.addr.to_string()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let answer: CheckInResponse = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer.satellite_id, sat.id());
    assert_eq!(
        sat.overlay.get(&node.node_id()).map(|n| n.address),
        Some(prover.addr.to_string())
    );
    assert_eq!(prover.challenges.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn invalid_check_ins_dial_nothing() {
    let (_dir, sat) = satellite(|c| c.identity_difficulty = 4).await;
    let listener = Listener::start("127.0.0.1", Behaviour::HttpWithoutEndpoint).await;
    let address = listener.addr.to_string();

    // A bad signature.
    let node = Identity::generate(4);
    let mut req = signed_check_in(&node, &address);
    req.capacity.free_bytes += 1;
    let (status, body) = post(&sat, &req).await;
    assert_eq!(error_of(&body).error.code, ErrorCode::Unauthenticated);
    assert_eq!(status, 401);

    // Too little proof of work.
    let weak = loop {
        let id = Identity::generate(0);
        if id.node_id().difficulty() < 4 {
            break id;
        }
    };
    let (status, body) = check_in(&sat, &weak, &address).await;
    assert_eq!(error_of(&body).error.code, ErrorCode::PermissionDenied);
    assert_eq!(status, 403);

    // A stale timestamp.
    let mut req = signed_check_in(&node, &address);
    req.timestamp -= 3600;
    req.signature = node.sign(&req);
    let (status, body) = post(&sat, &req).await;
    assert_eq!(error_of(&body).error.code, ErrorCode::BadRequest);
    assert_eq!(status, 400);
    // Timestamps at the ends of the range are stale too, not an overflow.
    for timestamp in [i64::MIN, i64::MAX] {
        let mut req = signed_check_in(&node, &address);
        req.timestamp = timestamp;
        req.signature = node.sign(&req);
        let (status, body) = post(&sat, &req).await;
        assert_eq!(
            error_of(&body).error.code,
            ErrorCode::BadRequest,
            "{timestamp}"
        );
        assert_eq!(status, 400);
    }

    assert_eq!(
        listener.connections(),
        0,
        "an invalid check-in made the satellite dial"
    );
    // A valid one does dial.
    check_in(&sat, &node, &address).await;
    assert_eq!(listener.connections(), 1);
}

#[tokio::test]
async fn one_node_id_is_dialed_back_at_most_once_per_interval() {
    let (_dir, sat) = satellite(|_| {}).await;
    let node = Identity::generate(0);
    let prover = Listener::start("127.0.0.1", Behaviour::Prover(node.clone())).await;
    let good = prover.addr.to_string();

    // Verified once, a node checking in again from the same address is not dialed again
    // within the interval (several at once wait for the one dial-back).
    let answers = futures::future::join_all((0..3).map(|_| check_in(&sat, &node, &good))).await;
    for (status, body) in answers {
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }
    assert_eq!(prover.connections(), 1);

    // Claiming another address within the interval is refused without dialing.
    let elsewhere = Listener::start("127.0.0.1", Behaviour::Prover(node.clone())).await;
    let (status, body) = check_in(&sat, &node, &elsewhere.addr.to_string()).await;
    assert_eq!(error_of(&body).error.code, ErrorCode::TooManyRequests);
    assert_eq!(status, 429);
    assert_eq!(elsewhere.connections(), 0);

    // So is a node id whose dial-back just failed, whatever address it names next.
    let prober = Identity::generate(0);
    let (status, _) = check_in(&sat, &prober, &closed_port("127.0.0.1").await).await;
    assert_eq!(status, 400);
    let target = Listener::start("127.0.0.1", Behaviour::HttpWithoutEndpoint).await;
    let (status, body) = check_in(&sat, &prober, &target.addr.to_string()).await;
    assert_eq!(error_of(&body).error.code, ErrorCode::TooManyRequests);
    assert_eq!(status, 429);
    assert_eq!(target.connections(), 0);
}

#[tokio::test]
async fn one_host_receives_a_bounded_number_of_dial_backs() {
    let (_dir, sat) = satellite(|_| {}).await;
    // Fresh node ids, all naming ports of one host: the per-node bound does not apply.
    let silent = Listener::start("127.0.0.9", Behaviour::Silent).await;
    let address = silent.addr.to_string();
    let answers = futures::future::join_all(
        (0..48).map(|_| async { check_in(&sat, &Identity::generate(0), &address).await }),
    )
    .await;
    let limited = answers.iter().filter(|(status, _)| *status == 429).count();
    let unverified = answers.iter().filter(|(status, _)| *status == 400).count();
    assert_eq!(limited + unverified, 48);
    assert!(limited >= 1, "48 dial-backs to one host were all made");
    assert!(
        unverified >= 32,
        "the burst of 32 was not granted: {unverified}"
    );
    // Another host is unaffected.
    let node = Identity::generate(0);
    let prover = Listener::start("127.0.0.10", Behaviour::Prover(node.clone())).await;
    let (status, body) = check_in(&sat, &node, &prover.addr.to_string()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}
