//! Audit: proving that nodes still hold what they were paid to hold, and the
//! reputation that follows from it.
//!
//! The sampler (a segment-loop observer) picks segments weighted by bytes; the audit
//! worker checks a random block of each of their pieces ([`verifier`]) and records
//! the outcome in the node's reputation ([`reputation`]): corrupt or missing pieces
//! lead to disqualification, whose pieces the repair checker then counts as lost;
//! unknown errors to suspension; a node that is only offline is not penalised.

mod config;
pub mod reputation;
pub mod sampler;
pub mod verifier;

use std::time::Duration;

use uplink_core::background::{Cancel, Worker, WorkerError, WorkerState};

pub use config::AuditConfig;
pub use reputation::AuditOutcome;
pub use sampler::{AuditQueue, Sampler};
pub use verifier::Verifier;

/// Audits the sampled segments, one per step.
pub struct AuditWorker {
    pub verifier: Verifier,
    pub queue: AuditQueue,
}

#[async_trait::async_trait]
impl Worker for AuditWorker {
    fn name(&self) -> String {
        "audit".into()
    }

    fn idle_period(&self) -> Duration {
        Duration::from_secs(60)
    }

    async fn step(
        &mut self,
        _cancel: &Cancel,
    ) -> Result<(WorkerState, Option<String>), WorkerError> {
        let next = self.queue.lock().pop_front();
        let Some(key) = next else {
            return Ok((WorkerState::Idle, None));
        };
        let findings = self.verifier.audit(&key).await.map_err(WorkerError::new)?;
        let failed = findings
            .iter()
            .filter(|(_, o)| *o == AuditOutcome::Failure)
            .count();
        Ok((
            WorkerState::Busy,
            Some(format!(
                "{key}: {} pieces audited, {failed} failed",
                findings.len()
            )),
        ))
    }
}
