//! Asking a satellite to let this node leave gracefully, and how far it has got.
//!
//! The request is signed with the node's identity; the satellite moves the node's
//! pieces to other nodes while it keeps serving them, and answers `may_shut_down`
//! once nothing of it is left on this node.

use std::time::Duration;

use uplink_core::protocol::exit::{EXIT_PATH, ExitRequest, ExitStatus};
use uplink_core::protocol::{ErrorBody, Identity, NodeUrl};
use uplink_core::transport::Transport;

use super::NodeError;

/// Starts the exit (`start`, idempotent) or only asks for its status.
pub async fn request_exit(
    identity: &Identity,
    satellite: &NodeUrl,
    transport: &Transport,
    start: bool,
) -> Result<ExitStatus, NodeError> {
    let fail = |message: String| NodeError::CheckIn {
        satellite: satellite.id,
        message,
    };
    let url = transport
        .node_url(satellite, EXIT_PATH)
        .map_err(|e| fail(e.to_string()))?;
    let body = ExitRequest::signed(identity, satellite.id, start);
    let response = transport
        .http()
        .post(&url)
        .timeout(Duration::from_secs(30))
        .json(&body)
        .send()
        .await
        .map_err(|e| fail(format!("could not reach {url}: {e}")))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        let message = serde_json::from_str::<ErrorBody>(&text)
            .map(|b| format!("{:?}: {}", b.error.code, b.error.message))
            .unwrap_or(text);
        return Err(fail(format!("graceful exit refused ({status}): {message}")));
    }
    serde_json::from_str(&text).map_err(|e| fail(format!("unreadable exit status: {e}")))
}
