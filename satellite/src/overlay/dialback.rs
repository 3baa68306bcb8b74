//! Check-in's dial-back: the satellite connects to the address a node claims, and only
//! to have whoever answers there prove that it holds the key of the node that checked
//! in (a signed [`IdentityChallenge`]).
//!
//! Anyone can send a check-in, so the dial-back must not become a way to probe other
//! hosts. It therefore runs only after the check-in's own signature and proof of work
//! are verified, at most once per `per_node_interval` for one node id and within a
//! budget per target host, and every failure (refused, timed out, not HTTP, no such
//! endpoint, wrong key) gives the same answer, [`UNVERIFIED`], after the same time: the
//! full `timeout`. What went wrong is logged at debug level only.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rand::RngCore;
use tokio::time::Instant;
use uplink_core::protocol::wire::{
    CheckInRequest, IDENTITY_CHALLENGE_PATH, IdentityChallenge, IdentityProof,
};
use uplink_core::protocol::{NodeId, Signable};
use uplink_core::transport::Transport;

use crate::error::{Result, SatelliteError};

/// The one answer to a check-in whose node could not be verified at its address.
pub const UNVERIFIED: &str = "could not verify the node at its claimed address";

/// Largest answer read from a dial-back.
const MAX_PROOF_BODY: usize = 4096;
/// Node entries kept before stale ones are dropped.
const PRUNE_ABOVE: usize = 4096;

/// How check-in dials back.
#[derive(Clone, Debug)]
pub struct DialBackLimits {
    /// Time for one dial-back (connect, challenge, proof). A failed one is answered when
    /// this has passed, however fast it failed.
    pub timeout: Duration,
    /// Least time between two dial-backs for one node id. A check-in within it from a
    /// node verified at the same address is accepted without dialing; others are told
    /// to retry later.
    pub per_node_interval: Duration,
    /// Dial-backs one host (the IP of claimed addresses) may receive at once.
    pub per_host_burst: u32,
    /// After the burst, one more dial-back per host every this long.
    pub per_host_refill: Duration,
}

impl Default for DialBackLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            per_node_interval: Duration::from_secs(10),
            per_host_burst: 32,
            per_host_refill: Duration::from_secs(2),
        }
    }
}

#[derive(Default)]
struct NodeState {
    last_attempt: Option<Instant>,
    /// The address verified at `last_attempt`, if the attempt succeeded.
    verified: Option<String>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Dials nodes back to verify their identity; one per satellite.
pub struct DialBack {
    satellite: NodeId,
    limits: DialBackLimits,
    transport: Transport,
    nodes: parking_lot::Mutex<HashMap<NodeId, Arc<tokio::sync::Mutex<NodeState>>>>,
    hosts: parking_lot::Mutex<HashMap<IpAddr, Bucket>>,
}

impl std::fmt::Debug for DialBack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DialBack")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl DialBack {
    /// Dials through `transport`, which follows no redirects and uses no proxy; over
    /// TLS the node must also prove its id in the handshake.
    pub fn new(satellite: NodeId, transport: Transport, limits: DialBackLimits) -> Self {
        Self {
            satellite,
            limits,
            transport,
            nodes: parking_lot::Mutex::new(HashMap::new()),
            hosts: parking_lot::Mutex::new(HashMap::new()),
        }
    }

    /// Verifies that the node of `req` answers at `target` (the resolved claimed
    /// address). `req` must be signature-verified already.
    pub async fn verify(&self, req: &CheckInRequest, target: SocketAddr) -> Result<()> {
        let entry = self.node_entry(req.node_id);
        // One dial-back per node id at a time; concurrent check-ins wait for its result.
        let mut state = entry.lock().await;
        if let Some(last) = state.last_attempt
            && last.elapsed() < self.limits.per_node_interval
        {
            if state.verified.as_deref() == Some(req.address.as_str()) {
                return Ok(());
            }
            return Err(SatelliteError::TooManyRequests(format!(
                "node {} was dialed back less than {} s ago; retry later",
                req.node_id,
                self.limits.per_node_interval.as_secs()
            )));
        }
        self.take_host_token(target.ip())?;
        let started = Instant::now();
        state.last_attempt = Some(started);
        state.verified = None;
        let outcome = tokio::time::timeout(self.limits.timeout, self.challenge(req, target))
            .await
            .unwrap_or_else(|_| Err("timed out".into()));
        match outcome {
            Ok(()) => {
                state.verified = Some(req.address.clone());
                Ok(())
            }
            Err(detail) => {
                tracing::debug!(node = %req.node_id, address = %req.address, "dial-back failed: {detail}");
                tokio::time::sleep_until(started + self.limits.timeout).await;
                Err(SatelliteError::BadRequest(UNVERIFIED.into()))
            }
        }
    }

    /// Sends a fresh challenge to `target` and checks the proof; the failure in words.
    async fn challenge(
        &self,
        req: &CheckInRequest,
        target: SocketAddr,
    ) -> std::result::Result<(), String> {
        let mut nonce = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let challenge = IdentityChallenge {
            nonce,
            satellite_id: self.satellite,
            address: req.address.clone(),
        };
        // The resolved address, so the host dialed is the one the check-in was judged by.
        let url = self
            .transport
            .url(&req.node_id, &target.to_string(), IDENTITY_CHALLENGE_PATH)
            .map_err(|e| e.to_string())?;
        let response = self
            .transport
            .http()
            .post(&url)
            .timeout(self.limits.timeout)
            .json(&challenge)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("{url} answered {status}"));
        }
        let mut body = Vec::new();
        let mut chunks = response.bytes_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| format!("{url}: reading the answer: {e}"))?;
            if body.len() + chunk.len() > MAX_PROOF_BODY {
                return Err(format!("{url}: answer longer than {MAX_PROOF_BODY} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let proof: IdentityProof =
            serde_json::from_slice(&body).map_err(|e| format!("{url}: not a proof: {e}"))?;
        req.public_key
            .verify(&challenge.signing_bytes(), &proof.signature)
            .map_err(|e| format!("{url}: proof does not verify under the node's key: {e}"))
    }

    fn node_entry(&self, id: NodeId) -> Arc<tokio::sync::Mutex<NodeState>> {
        let mut nodes = self.nodes.lock();
        if nodes.len() > PRUNE_ABOVE {
            let interval = self.limits.per_node_interval;
            // Entries in use, or that still hold back a dial-back, stay.
            nodes.retain(|_, e| {
                Arc::strong_count(e) > 1
                    || e.try_lock().map_or(true, |s| {
                        s.last_attempt.is_some_and(|t| t.elapsed() < interval)
                    })
            });
        }
        nodes.entry(id).or_default().clone()
    }

    fn take_host_token(&self, host: IpAddr) -> Result<()> {
        let now = Instant::now();
        let burst = f64::from(self.limits.per_host_burst.max(1));
        let refill = self.limits.per_host_refill.as_secs_f64().max(1e-3);
        let mut hosts = self.hosts.lock();
        if hosts.len() > PRUNE_ABOVE {
            hosts.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() / refill < burst
            });
        }
        let bucket = hosts.entry(host).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        bucket.tokens =
            (bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() / refill).min(burst);
        bucket.updated = now;
        if bucket.tokens < 1.0 {
            return Err(SatelliteError::TooManyRequests(format!(
                "too many nodes at {host} were dialed back recently; retry later"
            )));
        }
        bucket.tokens -= 1.0;
        Ok(())
    }
}
