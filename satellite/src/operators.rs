//! What operators of a network see about its nodes and its repair state, in one place
//! for `satellite admin nodes|repair` and the console's nodes and repair pages, so that
//! the two never disagree.

use std::collections::{BTreeMap, HashMap};

use sea_orm::EntityTrait;
use serde::Serialize;
use uplink_core::protocol::{NodeId, now_unix};

use crate::audit::reputation::score;
use crate::db::Db;
use crate::db::entities::{graceful_exit, node, reputation};
use crate::error::Result;
use crate::repair::checker::{CheckerReport, REPORT};
use crate::repair::queue::{self, HourOfRepairs, QueuedJob};

/// One node as an operator sees it.
#[derive(Clone, Debug, Serialize)]
pub struct NodeOverview {
    pub id: String,
    /// [`NodeOverview::status`], for readers of the JSON.
    pub status: &'static str,
    pub address: String,
    pub online: bool,
    pub last_check_in: i64,
    pub free_bytes: u64,
    pub used_bytes: u64,
    pub audit_score: f64,
    pub unknown_score: f64,
    pub audits_total: i64,
    pub audits_failed: i64,
    pub audits_offline: i64,
    pub audits_unknown: i64,
    pub vetted: bool,
    pub suspended: bool,
    pub disqualified: bool,
    pub exiting: bool,
    pub exit_finished: bool,
}

impl NodeOverview {
    /// The one word an operator wants first.
    pub fn status(&self) -> &'static str {
        if self.disqualified {
            "disqualified"
        } else if self.exit_finished {
            "exited"
        } else if self.exiting {
            "exiting"
        } else if self.suspended {
            "suspended"
        } else if !self.online {
            "offline"
        } else if !self.vetted {
            "unvetted"
        } else {
            "ok"
        }
    }
}

/// Every known node, with its reputation.
pub async fn nodes(db: &Db, online_window_secs: i64) -> Result<Vec<NodeOverview>> {
    let reps: HashMap<Vec<u8>, reputation::Model> = reputation::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.node_id.clone(), r))
        .collect();
    let exits: HashMap<Vec<u8>, graceful_exit::Model> = graceful_exit::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.node_id.clone(), e))
        .collect();
    let now = now_unix();
    let mut out: Vec<NodeOverview> = node::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|n| {
            let rep = reps.get(&n.id);
            let id = NodeId::from_slice(&n.id)
                .map(|i| i.to_string())
                .unwrap_or_else(|_| "?".into());
            let mut overview = NodeOverview {
                id,
                status: "",
                address: n.address.clone(),
                online: now - n.last_contact_success <= online_window_secs,
                last_check_in: n.last_contact_success,
                free_bytes: n.free_bytes.max(0) as u64,
                used_bytes: n.used_bytes.max(0) as u64,
                audit_score: rep.map_or(1.0, |r| score(r.audit_alpha, r.audit_beta)),
                unknown_score: rep.map_or(1.0, |r| score(r.unknown_alpha, r.unknown_beta)),
                audits_total: rep.map_or(0, |r| r.audits_total),
                audits_failed: rep.map_or(0, |r| r.audits_failed),
                audits_offline: rep.map_or(0, |r| r.audits_offline),
                audits_unknown: rep.map_or(0, |r| r.audits_unknown),
                vetted: n.vetted_at.is_some(),
                suspended: n.suspended_at.is_some(),
                disqualified: n.disqualified_at.is_some(),
                exiting: n.exit_initiated_at.is_some(),
                exit_finished: exits.get(&n.id).is_some_and(|e| e.finished_at.is_some()),
            };
            overview.status = overview.status();
            overview
        })
        .collect();
    out.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(out)
}

/// The repair state of the network.
#[derive(Clone, Debug, Serialize)]
pub struct RepairOverview {
    pub queue_length: u64,
    pub repaired_last_hour: u64,
    pub lost_segments: u64,
    pub lost_samples: Vec<String>,
    /// Remote segments by healthy piece count, from the last checker pass.
    pub segments_by_healthy: BTreeMap<u16, u64>,
    pub last_pass_at: Option<i64>,
    pub last_pass_segments_per_second: Option<f64>,
    /// Completed repairs per hour over the last day, oldest first.
    pub repaired_per_hour: Vec<HourOfRepairs>,
    /// The most urgent queued jobs, in the order workers take them.
    pub queue_head: Vec<QueuedJob>,
}

/// How many queued jobs [`repair`] lists.
pub const QUEUE_HEAD: u64 = 20;

pub async fn repair(db: &Db) -> Result<RepairOverview> {
    let report = crate::reports::get::<_, CheckerReport>(db, REPORT).await?;
    let now = now_unix();
    Ok(RepairOverview {
        queue_length: queue::length(db).await?,
        repaired_last_hour: queue::repaired_since(db, now - 3600).await?,
        lost_segments: report.as_ref().map_or(0, |(r, _)| r.lost),
        lost_samples: report
            .as_ref()
            .map(|(r, _)| r.lost_samples.clone())
            .unwrap_or_default(),
        segments_by_healthy: report
            .as_ref()
            .map(|(r, _)| r.by_healthy.clone())
            .unwrap_or_default(),
        last_pass_at: report.as_ref().map(|(r, _)| r.pass_started_at),
        last_pass_segments_per_second: report.as_ref().map(|(r, _)| r.segments_per_second),
        repaired_per_hour: queue::repaired_per_hour(db, now - 24 * 3600).await?,
        queue_head: queue::head(db, QUEUE_HEAD).await?,
    })
}

/// The network at a glance.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NodesSummary {
    pub total: u64,
    pub online: u64,
    /// Nodes by [`NodeOverview::status`].
    pub by_status: BTreeMap<&'static str, u64>,
    pub free_bytes: u64,
    pub used_bytes: u64,
}

pub fn summary(nodes: &[NodeOverview]) -> NodesSummary {
    let mut s = NodesSummary::default();
    for n in nodes {
        s.total += 1;
        s.online += u64::from(n.online);
        *s.by_status.entry(n.status).or_default() += 1;
        s.free_bytes += n.free_bytes;
        s.used_bytes += n.used_bytes;
    }
    s
}
