//! What the runtime knows about each worker, for status pages and metrics.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StateName {
    Busy,
    Throttled,
    Idle,
    /// Waiting after failures.
    BackingOff,
    Done,
    Stopped,
}

impl StateName {
    pub fn as_str(self) -> &'static str {
        match self {
            StateName::Busy => "busy",
            StateName::Throttled => "throttled",
            StateName::Idle => "idle",
            StateName::BackingOff => "backing_off",
            StateName::Done => "done",
            StateName::Stopped => "stopped",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct WorkerStatus {
    pub name: String,
    pub state: StateName,
    /// Steps completed, successful or not.
    pub steps: u64,
    pub failures: u64,
    pub consecutive_failures: u32,
    pub last_step_unix: Option<i64>,
    pub last_step_ms: Option<u64>,
    pub last_result: Option<String>,
    pub last_error: Option<String>,
}

impl WorkerStatus {
    pub(crate) fn new(name: String) -> Self {
        Self {
            name,
            state: StateName::Idle,
            steps: 0,
            failures: 0,
            consecutive_failures: 0,
            last_step_unix: None,
            last_step_ms: None,
            last_result: None,
            last_error: None,
        }
    }
}
