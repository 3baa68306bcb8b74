//! Periodic check-in with every trusted satellite: the node announces its address and
//! capacity, and learns (and checks) each satellite's public key from the answer.

use std::sync::Arc;
use std::time::Duration;

use uplink_core::protocol::wire::{CHECKIN_PATH, CheckInRequest, CheckInResponse, NodeCapacity};
use uplink_core::protocol::{ErrorBody, Identity, NodeUrl, Signature, now_unix};

use uplink_core::transport::Transport;

use super::error::NodeError;
use super::space::Space;
use super::verify::OrderVerifier;

/// Time allowed for one check-in request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Retry interval until the first successful check-in with a satellite.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// Checks in with the trusted satellites on behalf of one node.
pub struct CheckIn {
    identity: Identity,
    satellites: Vec<NodeUrl>,
    verifier: Arc<OrderVerifier>,
    space: Arc<Space>,
    address: String,
    transport: Transport,
}

impl CheckIn {
    pub fn new(
        identity: Identity,
        satellites: Vec<NodeUrl>,
        verifier: Arc<OrderVerifier>,
        space: Arc<Space>,
        address: String,
        transport: Transport,
    ) -> Self {
        Self {
            identity,
            satellites,
            verifier,
            space,
            address,
            transport,
        }
    }

    /// The signed request this node sends now. The free space it states is what a new
    /// piece could take: the smaller of the allowance and the file system's free space.
    pub async fn request(&self) -> Result<CheckInRequest, NodeError> {
        let space = self.space.report().await?;
        let mut req = CheckInRequest {
            node_id: self.identity.node_id(),
            public_key: self.identity.public_key(),
            address: self.address.clone(),
            capacity: NodeCapacity {
                free_bytes: space.free,
                used_bytes: space.used,
            },
            version: env!("CARGO_PKG_VERSION").to_string(),
            timestamp: now_unix(),
            signature: Signature::default(),
        };
        req.signature = self.identity.sign(&req);
        Ok(req)
    }

    /// Checks in with one satellite and registers its key.
    pub async fn check_in(&self, satellite: &NodeUrl) -> Result<(), NodeError> {
        let fail = |message: String| NodeError::CheckIn {
            satellite: satellite.id,
            message,
        };
        let req = self.request().await?;
        let url = self
            .transport
            .node_url(satellite, CHECKIN_PATH)
            .map_err(|e| fail(e.to_string()))?;
        let response = self
            .transport
            .http()
            .post(&url)
            .timeout(REQUEST_TIMEOUT)
            .json(&req)
            .send()
            .await
            .map_err(|e| fail(format!("could not reach {url}: {}", error_chain(&e))))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            let message = serde_json::from_str::<ErrorBody>(&text)
                .map(|b| format!("{:?}: {}", b.error.code, b.error.message))
                .unwrap_or(text);
            return Err(fail(format!("{url} answered {status}: {message}")));
        }
        let answer: CheckInResponse = response
            .json()
            .await
            .map_err(|e| fail(format!("{url} sent an unreadable answer: {e}")))?;
        if answer.satellite_id != satellite.id {
            return Err(fail(format!(
                "{url} answered as satellite {}",
                answer.satellite_id
            )));
        }
        self.verifier
            .learn_key(satellite.id, answer.satellite_public_key)
            .map_err(|e| fail(e.to_string()))
    }

    /// Checks in with every satellite; the first error, if any, after trying them all.
    pub async fn check_in_all(&self) -> Result<(), NodeError> {
        let results =
            futures::future::join_all(self.satellites.iter().map(|s| self.check_in(s))).await;
        results.into_iter().collect()
    }

    /// Checks in now and then every `interval`; until the first success with a satellite,
    /// retries it every second. Runs until the task is aborted.
    pub async fn run(self: Arc<Self>, interval: Duration) {
        let n = self.satellites.len();
        if n == 0 {
            return;
        }
        let start = tokio::time::Instant::now();
        let mut due = vec![start; n];
        let mut succeeded = vec![false; n];
        let mut failures = vec![0u32; n];
        loop {
            let now = tokio::time::Instant::now();
            let ready: Vec<usize> = (0..n).filter(|&i| due[i] <= now).collect();
            let results = futures::future::join_all(
                ready.iter().map(|&i| self.check_in(&self.satellites[i])),
            )
            .await;
            let now = tokio::time::Instant::now();
            for (i, result) in ready.into_iter().zip(results) {
                match result {
                    Ok(()) => {
                        if failures[i] > 0 || !succeeded[i] {
                            tracing::info!(satellite = %self.satellites[i], "checked in");
                        }
                        succeeded[i] = true;
                        failures[i] = 0;
                        due[i] = now + interval;
                    }
                    Err(e) => {
                        failures[i] += 1;
                        // Say it once, then only now and then.
                        if failures[i] == 1 || failures[i].is_multiple_of(60) {
                            tracing::warn!(failures = failures[i], "{e}");
                        } else {
                            tracing::debug!(failures = failures[i], "{e}");
                        }
                        due[i] = now
                            + if succeeded[i] {
                                interval
                            } else {
                                FIRST_RETRY.min(interval)
                            };
                    }
                }
            }
            let next = due.iter().min().copied().unwrap_or(now + interval);
            tokio::time::sleep_until(next).await;
        }
    }
}

/// An error and its causes, `a: b: c`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
