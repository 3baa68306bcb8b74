//! A minimum transfer rate for request bodies, for every server of the network.
//!
//! The HTTP server bounds the time to receive a request head, but nothing bounds the
//! body: a client that sends a byte now and then holds a connection (and, on a node, an
//! upload's reservation of disk space) for as long as it likes, before anything about
//! it is authenticated. [`MinRate`] cuts such a body off: while the handler waits for body bytes, at
//! least `min_bytes` must arrive within every `window` of waiting. Time the handler
//! spends on what it already has (writing to disk) is not held against the client.

use std::cell::Cell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::error::PayloadError;
use bytes::Bytes;
use futures::Stream;
use tokio::time::{Instant, Sleep};

/// The slowest body accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyRate {
    pub min_bytes: u64,
    pub window: Duration,
}

impl BodyRate {
    /// The error a body gets when it is cut off.
    fn error(&self) -> PayloadError {
        PayloadError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "the request body arrived too slowly (fewer than {} bytes in {} s)",
                self.min_bytes,
                self.window.as_secs_f64()
            ),
        ))
    }
}

/// A body stream that fails once it falls below a [`BodyRate`].
pub struct MinRate<S> {
    inner: S,
    rate: BodyRate,
    /// Bytes received in the current window.
    bytes: u64,
    /// Time spent waiting in the current window, up to the start of the current wait.
    waited: Duration,
    /// When the current wait for the client began.
    waiting_since: Option<Instant>,
    timer: Pin<Box<Sleep>>,
    failed: bool,
    /// Set when the body is cut off, for servers that answer that case themselves.
    stalled: Rc<Cell<bool>>,
}

impl<S> MinRate<S> {
    pub fn new(inner: S, rate: BodyRate) -> Self {
        Self {
            inner,
            rate,
            bytes: 0,
            waited: Duration::ZERO,
            waiting_since: None,
            timer: Box::pin(tokio::time::sleep(rate.window)),
            failed: false,
            stalled: Rc::new(Cell::new(false)),
        }
    }

    /// Becomes true when the body is cut off for being too slow.
    pub fn stalled(&self) -> Rc<Cell<bool>> {
        self.stalled.clone()
    }
}

impl<S> Stream for MinRate<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(since) = this.waiting_since.take() {
                    this.waited += since.elapsed();
                }
                this.bytes += chunk.len() as u64;
                if this.bytes >= this.rate.min_bytes {
                    this.bytes = 0;
                    this.waited = Duration::ZERO;
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(other) => Poll::Ready(other),
            Poll::Pending => {
                let now = Instant::now();
                let since = *this.waiting_since.get_or_insert(now);
                let deadline = since + this.rate.window.saturating_sub(this.waited);
                if now < deadline {
                    if this.timer.deadline() != deadline {
                        this.timer.as_mut().reset(deadline);
                    }
                    if this.timer.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
                this.failed = true;
                this.stalled.set(true);
                Poll::Ready(Some(Err(this.rate.error())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    const RATE: BodyRate = BodyRate {
        min_bytes: 100,
        window: Duration::from_secs(10),
    };

    /// A body whose chunks arrive at the given offsets from the start.
    fn body(chunks: Vec<(u64, usize)>) -> impl Stream<Item = Result<Bytes, PayloadError>> + Unpin {
        let start = Instant::now();
        Box::pin(
            futures::stream::iter(chunks).then(move |(at, len)| async move {
                tokio::time::sleep_until(start + Duration::from_secs(at)).await;
                Ok(Bytes::from(vec![0u8; len]))
            }),
        )
    }

    async fn received(
        stream: impl Stream<Item = Result<Bytes, PayloadError>> + Unpin,
    ) -> Result<usize, PayloadError> {
        let mut stream = MinRate::new(stream, RATE);
        let mut total = 0;
        while let Some(chunk) = stream.next().await {
            total += chunk?.len();
        }
        Ok(total)
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_at_the_minimum_rate_passes() {
        // 100 bytes every 9 s, for 90 s.
        let chunks = (1..=10).map(|i| (i * 9, 100)).collect();
        assert_eq!(received(body(chunks)).await.unwrap(), 1000);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dribbling_body_is_cut_off() {
        // 5 bytes a second: 50 bytes in the first window.
        let chunks = (1..=100).map(|i| (i, 5)).collect();
        let err = received(body(chunks)).await.unwrap_err();
        assert!(err.to_string().contains("too slowly"), "{err}");
        // A body that stops altogether, too.
        let chunks = vec![(1, 100), (1000, 100)];
        let err = received(body(chunks)).await.unwrap_err();
        assert!(err.to_string().contains("too slowly"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn time_the_reader_spends_elsewhere_is_not_counted() {
        // 50 bytes at once, then the reader is busy for 60 s, then 50 more 5 s later.
        let mut stream = MinRate::new(body(vec![(0, 50), (65, 50)]), RATE);
        assert_eq!(stream.next().await.unwrap().unwrap().len(), 50);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(stream.next().await.unwrap().unwrap().len(), 50);
        assert!(stream.next().await.is_none());
    }
}
