//! Progress bars on transfers (only when stderr is a terminal) and transfer summaries.

use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use uplink_core::client::Progress;

pub struct Transfer {
    bar: ProgressBar,
    started: Instant,
}

impl Transfer {
    /// `total` is unknown for streams from stdin.
    pub fn new(label: &str, total: Option<u64>, quiet: bool) -> Self {
        let bar = if quiet {
            ProgressBar::hidden()
        } else {
            match total {
                Some(t) => ProgressBar::new(t),
                None => ProgressBar::new_spinner(),
            }
        };
        let style = match total {
            Some(_) => ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            ),
            None => ProgressStyle::with_template("{msg} {spinner} {bytes} {bytes_per_sec}"),
        }
        .expect("valid template")
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(label.to_string());
        Self {
            bar,
            started: Instant::now(),
        }
    }

    pub fn callback(&self) -> Progress {
        let bar = self.bar.clone();
        Arc::new(move |n| bar.inc(n))
    }

    /// Clears the bar and returns `(bytes/s, seconds)` for a summary line.
    pub fn finish(&self, bytes: u64) -> (f64, f64) {
        self.bar.finish_and_clear();
        let secs = self.started.elapsed().as_secs_f64().max(1e-6);
        (bytes as f64 / secs, secs)
    }
}

pub fn human_bytes(n: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
