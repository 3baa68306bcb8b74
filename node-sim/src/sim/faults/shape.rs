//! When a slow link delivers each chunk of bytes, as a pure function of when the chunks
//! arrived and the link's [`Shape`]: the forwarder ([`super::link`]) only sleeps until
//! the times this computes, so the timing model is tested without a clock.
//!
//! The model is a real link's: a chunk is sent once the link has finished sending the
//! previous ones (at `bandwidth` bytes per second, so sending takes `len / bandwidth`),
//! then travels for `latency`. Chunks keep their order, a busy link queues them, and
//! latency does not lower throughput.

use std::time::Duration;

use tokio::time::Instant;

use super::spec::Shape;

/// Largest piece a slow link sends at once.
pub const MAX_QUANTUM: usize = 16 << 10;
/// Smallest piece a slow link sends at once (unless fewer bytes are waiting).
pub const MIN_QUANTUM: usize = 256;

/// How many bytes a link with `shape` sends at once: about a twentieth of a second's
/// worth, so that pacing is smooth at low rates and cheap at high ones.
pub fn quantum(shape: &Shape) -> usize {
    match shape.bandwidth {
        None => MAX_QUANTUM,
        Some(b) => ((b / 20) as usize).clamp(MIN_QUANTUM, MAX_QUANTUM),
    }
}

/// The sending side of one direction of a link.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkClock {
    /// When the link finishes sending what it was given so far.
    busy_until: Option<Instant>,
}

impl LinkClock {
    /// When a chunk of `len` bytes that reached the link at `arrived` is delivered.
    pub fn deliver_at(&mut self, arrived: Instant, len: usize, shape: &Shape) -> Instant {
        let start = match self.busy_until {
            Some(busy) if busy > arrived => busy,
            _ => arrived,
        };
        let sent = match shape.bandwidth {
            Some(rate) if rate > 0 => start + transmit_time(len, rate),
            _ => start,
        };
        self.busy_until = Some(sent);
        sent + shape.latency
    }
}

/// How long sending `len` bytes takes at `rate` bytes per second (rounded up to whole
/// nanoseconds, so a link is never faster than its rate).
fn transmit_time(len: usize, rate: u64) -> Duration {
    let nanos = (len as u128 * 1_000_000_000).div_ceil(u128::from(rate));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(latency_ms: u64, bandwidth: Option<u64>) -> Shape {
        Shape {
            latency: Duration::from_millis(latency_ms),
            bandwidth,
        }
    }

    #[test]
    fn latency_alone_delays_every_chunk_by_itself() {
        let t0 = Instant::now();
        let s = shape(80, None);
        let mut clock = LinkClock::default();
        for i in 0..5u64 {
            let at = t0 + Duration::from_millis(i * 10);
            assert_eq!(clock.deliver_at(at, 1 << 20, &s), at + s.latency);
        }
    }

    #[test]
    fn bandwidth_bounds_the_bytes_delivered_by_any_time() {
        let t0 = Instant::now();
        let rate = 10_000u64; // bytes per second
        let s = shape(50, Some(rate));
        let q = quantum(&s);
        assert_eq!(q, 500);
        let mut clock = LinkClock::default();
        // 100 000 bytes arrive at once, in quanta.
        let deliveries: Vec<(Instant, usize)> =
            (0..200).map(|_| (clock.deliver_at(t0, q, &s), q)).collect();
        // In order ...
        assert!(deliveries.windows(2).all(|w| w[0].0 <= w[1].0));
        // ... and by any delivery time t, no more than rate × (t - t0 - latency) bytes.
        let mut total = 0u64;
        for (t, n) in &deliveries {
            total += *n as u64;
            let window = t.duration_since(t0) - s.latency;
            let allowed = (window.as_nanos() * u128::from(rate)).div_ceil(1_000_000_000);
            assert!(u128::from(total) <= allowed, "{total} bytes by {window:?}");
        }
        // The last byte: all the sending, then the latency.
        let last = deliveries.last().unwrap().0;
        assert_eq!(last, t0 + Duration::from_secs(10) + s.latency);
    }

    #[test]
    fn an_idle_link_starts_afresh_and_a_busy_one_queues() {
        let t0 = Instant::now();
        let s = shape(0, Some(1000));
        let mut clock = LinkClock::default();
        assert_eq!(
            clock.deliver_at(t0, 500, &s),
            t0 + Duration::from_millis(500)
        );
        // Arrives while the link is still busy: waits its turn.
        let at = t0 + Duration::from_millis(100);
        assert_eq!(clock.deliver_at(at, 500, &s), t0 + Duration::from_secs(1));
        // Arrives long after: only its own sending time.
        let at = t0 + Duration::from_secs(5);
        assert_eq!(
            clock.deliver_at(at, 100, &s),
            at + Duration::from_millis(100)
        );
    }

    #[test]
    fn quanta_stay_within_bounds() {
        assert_eq!(quantum(&shape(0, None)), MAX_QUANTUM);
        assert_eq!(quantum(&shape(0, Some(1))), MIN_QUANTUM);
        assert_eq!(quantum(&shape(0, Some(1 << 30))), MAX_QUANTUM);
    }
}
