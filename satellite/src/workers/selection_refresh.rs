//! Reloads the node selection cache from the database and publishes node counts.

use std::sync::Arc;
use std::time::Duration;

use super::PeriodicJob;
use crate::error::SatelliteError;
use crate::metrics::Metrics;
use crate::overlay::Overlay;

pub struct SelectionRefresh {
    pub overlay: Arc<Overlay>,
    pub interval: Duration,
    pub metrics: Metrics,
}

#[async_trait::async_trait]
impl PeriodicJob for SelectionRefresh {
    fn name(&self) -> &'static str {
        "selection-refresh"
    }
    fn interval(&self) -> Duration {
        self.interval
    }
    async fn run_once(&self) -> Result<String, SatelliteError> {
        self.overlay.refresh().await?;
        let (known, online) = self.overlay.counts();
        self.metrics
            .nodes
            .with_label_values(&["known"])
            .set(known as i64);
        self.metrics
            .nodes
            .with_label_values(&["online"])
            .set(online as i64);
        let nodes = self.overlay.snapshot();
        for (state, count) in [
            ("vetted", nodes.values().filter(|n| n.vetted).count()),
            ("suspended", nodes.values().filter(|n| n.suspended).count()),
            (
                "disqualified",
                nodes.values().filter(|n| n.disqualified).count(),
            ),
            ("exiting", nodes.values().filter(|n| n.exiting).count()),
        ] {
            self.metrics
                .nodes
                .with_label_values(&[state])
                .set(count as i64);
        }
        Ok(format!("{known} nodes known, {online} online"))
    }
}
