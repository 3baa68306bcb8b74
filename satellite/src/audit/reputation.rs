//! Reputation per node, as a beta model with forgetting: after each audit
//! `alpha = λ·alpha + w·[success]`, `beta = λ·beta + w·[failure]`, and the score is
//! `alpha / (alpha + beta)`. New nodes start at `alpha = 1/(1-λ)`, the steady state of
//! a node that always passes, so a handful of failures (about 4 at λ = 0.99) take a
//! new node below 0.96 while an occasional failure of a long-good node does not.
//! Unknown errors (neither success nor a clear failure) feed a second score of the same
//! kind that suspends rather than disqualifies.

use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde::Serialize;
use uplink_core::protocol::{NodeId, now_unix};

use super::AuditConfig;
use crate::db::Db;
use crate::db::entities::{node, reputation};
use crate::error::Result;

/// What one audit of one piece on one node found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Success,
    /// Corrupt or missing piece, or a contained node that kept timing out.
    Failure,
    /// The node could not be reached: not held against it (offline nodes are repaired
    /// around, not disqualified).
    Offline,
    /// Timed out or another error: counts towards suspension only.
    Unknown,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Failure => "failure",
            AuditOutcome::Offline => "offline",
            AuditOutcome::Unknown => "unknown",
        }
    }
}

/// A node's standing after an update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Standing {
    pub audit_score: f64,
    pub unknown_score: f64,
    pub disqualified: bool,
    pub suspended: bool,
    pub vetted: bool,
}

fn fresh(node: &NodeId, config: &AuditConfig) -> reputation::Model {
    let alpha = 1.0 / (1.0 - config.lambda.clamp(0.0, 0.999_999));
    reputation::Model {
        node_id: node.0.to_vec(),
        audit_alpha: alpha,
        audit_beta: 0.0,
        unknown_alpha: alpha,
        unknown_beta: 0.0,
        audits_total: 0,
        audits_success: 0,
        audits_failed: 0,
        audits_offline: 0,
        audits_unknown: 0,
        last_audit_at: None,
    }
}

pub fn score(alpha: f64, beta: f64) -> f64 {
    if alpha + beta <= 0.0 {
        1.0
    } else {
        alpha / (alpha + beta)
    }
}

/// Records the outcomes of one segment's audits in one write transaction instead of
/// one per piece.
pub async fn record_all(
    db: &Db,
    outcomes: &[(NodeId, AuditOutcome)],
    config: &AuditConfig,
) -> Result<Vec<Standing>> {
    crate::db::write_txn!(db, |txn| {
        let mut standings = Vec::with_capacity(outcomes.len());
        for (node_id, outcome) in outcomes {
            standings.push(apply(&txn, node_id, *outcome, config).await?);
        }
        Ok(standings)
    })
}

/// One outcome applied to the node's reputation and its consequences to the node's
/// status, inside `txn`.
async fn apply<C: ConnectionTrait>(
    txn: &C,
    node_id: &NodeId,
    outcome: AuditOutcome,
    config: &AuditConfig,
) -> Result<Standing> {
    {
        let existing = reputation::Entity::find_by_id(node_id.0.to_vec())
            .one(txn)
            .await?;
        let is_new = existing.is_none();
        let mut r = existing.unwrap_or_else(|| fresh(node_id, config));
        let (l, w) = (config.lambda, config.weight);
        r.audits_total += 1;
        r.last_audit_at = Some(now_unix());
        match outcome {
            AuditOutcome::Success => {
                r.audit_alpha = l * r.audit_alpha + w;
                r.audit_beta *= l;
                r.unknown_alpha = l * r.unknown_alpha + w;
                r.unknown_beta *= l;
                r.audits_success += 1;
            }
            AuditOutcome::Failure => {
                r.audit_alpha *= l;
                r.audit_beta = l * r.audit_beta + w;
                r.audits_failed += 1;
            }
            AuditOutcome::Unknown => {
                r.unknown_alpha *= l;
                r.unknown_beta = l * r.unknown_beta + w;
                r.audits_unknown += 1;
            }
            AuditOutcome::Offline => r.audits_offline += 1,
        }
        let audit_score = score(r.audit_alpha, r.audit_beta);
        let unknown_score = score(r.unknown_alpha, r.unknown_beta);
        let vetted_now = r.audits_success as u64 >= config.vetting_audits;
        let active = reputation::ActiveModel::from(r.clone()).reset_all();
        if is_new {
            reputation::Entity::insert(active).exec(txn).await?;
        } else {
            active.update(txn).await?;
        }
        let Some(n) = node::Entity::find_by_id(node_id.0.to_vec())
            .one(txn)
            .await?
        else {
            return Ok(Standing {
                audit_score,
                unknown_score,
                disqualified: false,
                suspended: false,
                vetted: false,
            });
        };
        let now = now_unix();
        let disqualify =
            n.disqualified_at.is_none() && audit_score < config.disqualification_threshold;
        let suspend = unknown_score < config.suspension_threshold;
        let mut changed: node::ActiveModel = n.clone().into();
        let mut dirty = false;
        if disqualify {
            changed.disqualified_at = Set(Some(now));
            dirty = true;
            tracing::warn!(node = %node_id, audit_score, "node disqualified by audits");
        }
        if suspend && n.suspended_at.is_none() {
            changed.suspended_at = Set(Some(now));
            dirty = true;
            tracing::warn!(node = %node_id, unknown_score, "node suspended for unknown audit errors");
        } else if !suspend && n.suspended_at.is_some() {
            changed.suspended_at = Set(None);
            dirty = true;
            tracing::info!(node = %node_id, unknown_score, "node suspension lifted");
        }
        if vetted_now && n.vetted_at.is_none() {
            changed.vetted_at = Set(Some(now));
            dirty = true;
        }
        if dirty {
            changed.update(txn).await?;
        }
        Ok(Standing {
            audit_score,
            unknown_score,
            disqualified: n.disqualified_at.is_some() || disqualify,
            suspended: suspend,
            vetted: vetted_now || n.vetted_at.is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The thresholds as the module doc states them.
    #[test]
    fn a_new_node_is_disqualified_after_a_few_failures_and_not_one() {
        let c = AuditConfig::default();
        let mut r = fresh(&NodeId::random(), &c);
        let mut failures = 0;
        while score(r.audit_alpha, r.audit_beta) >= c.disqualification_threshold {
            r.audit_alpha *= c.lambda;
            r.audit_beta = c.lambda * r.audit_beta + c.weight;
            failures += 1;
            assert!(failures < 10);
        }
        assert!((3..=6).contains(&failures), "{failures} failures");
        // A long-good node survives one failure.
        let mut good = fresh(&NodeId::random(), &c);
        for _ in 0..1000 {
            good.audit_alpha = c.lambda * good.audit_alpha + c.weight;
            good.audit_beta *= c.lambda;
        }
        good.audit_alpha *= c.lambda;
        good.audit_beta = c.lambda * good.audit_beta + c.weight;
        assert!(score(good.audit_alpha, good.audit_beta) > c.disqualification_threshold);
    }
}
