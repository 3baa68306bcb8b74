//! Ctrl-C: the first one asks the running command to stop cleanly (an upload then
//! aborts its pending object, so its pieces are deleted at once); the process exits
//! when the command has stopped, or after a short wait.

use std::sync::OnceLock;

use tokio::sync::watch;

fn flag() -> &'static watch::Sender<bool> {
    static FLAG: OnceLock<watch::Sender<bool>> = OnceLock::new();
    FLAG.get_or_init(|| watch::Sender::new(false))
}

/// Records that the user interrupted.
pub fn trigger() {
    flag().send_replace(true);
}

/// Resolves once the user has interrupted.
pub async fn interrupted() {
    let _ = flag().subscribe().wait_for(|on| *on).await;
}
