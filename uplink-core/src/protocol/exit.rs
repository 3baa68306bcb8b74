//! Graceful exit: a node asks its satellite to let it leave without losing anything.
//!
//! The node signs each request with its identity (the satellite checks it against the
//! key the node checked in with); starting is idempotent and the status is read-only,
//! so a replayed request can do no harm. While exiting, the node gets no new pieces,
//! its pieces are rebuilt on other nodes, and it keeps serving downloads; the status
//! says when it may shut down.

use serde::{Deserialize, Serialize};

use super::identity::{Identity, PublicKey, Signable, Signature};
use super::ids::NodeId;
use super::{ProtocolError, now_unix};

/// `POST` an [`ExitRequest`] with `start = true` to begin, `false` to ask how it goes.
pub const EXIT_PATH: &str = "/v1/nodes/exit";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRequest {
    pub node_id: NodeId,
    pub satellite_id: NodeId,
    /// Begin the exit (idempotent), or only report on it.
    pub start: bool,
    /// Unix seconds.
    pub timestamp: i64,
    pub signature: Signature,
}

impl Signable for ExitRequest {
    const DOMAIN: &'static [u8] = b"sj-graceful-exit-v1";
    fn signed_fields(&self) -> Vec<u8> {
        postcard::to_allocvec(&(
            &self.node_id,
            &self.satellite_id,
            self.start,
            self.timestamp,
        ))
        .expect("postcard encoding of plain fields cannot fail")
    }
}

impl ExitRequest {
    pub fn signed(node: &Identity, satellite_id: NodeId, start: bool) -> Self {
        let mut request = Self {
            node_id: node.node_id(),
            satellite_id,
            start,
            timestamp: now_unix(),
            signature: Signature::default(),
        };
        request.signature = node.sign(&request);
        request
    }

    pub fn verify(&self, node_key: &PublicKey) -> Result<(), ProtocolError> {
        if node_key.node_id() != self.node_id {
            return Err(ProtocolError::Malformed(
                "exit request names another node than the key given".into(),
            ));
        }
        node_key.verify(&self.signing_bytes(), &self.signature)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitState {
    NotStarted,
    InProgress,
    /// Every piece has been moved: the node may shut down.
    Completed,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    pub state: ExitState,
    pub initiated_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// Pieces the satellite's last full pass still found on the node.
    pub pieces_remaining: Option<u64>,
    pub pieces_at_start: Option<u64>,
    pub may_shut_down: bool,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_signed() {
        let node = Identity::generate(0);
        let sat = NodeId::random();
        let good = ExitRequest::signed(&node, sat, true);
        good.verify(&node.public_key()).unwrap();
        let mut other = good.clone();
        other.start = false;
        assert!(other.verify(&node.public_key()).is_err());
        let mut other = good.clone();
        other.satellite_id = NodeId::random();
        assert!(other.verify(&node.public_key()).is_err());
        let mut other = good.clone();
        other.timestamp += 1;
        assert!(other.verify(&node.public_key()).is_err());
        assert!(good.verify(&Identity::generate(0).public_key()).is_err());
    }
}
