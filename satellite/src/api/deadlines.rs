//! Deadlines for slow clients, so that a connection costs its holder a steady stream of
//! bytes rather than nothing.
//!
//! actix bounds the headers of a connection's first request (`client_request_timeout`)
//! and an idle connection (`keep_alive`), but neither the headers of a later request
//! on a kept-alive connection (the header timer starts once per connection, and the
//! keep-alive timer stops at the first byte) nor a request body. So:
//!
//! - every connection gets a watchdog ([`on_connect`]): from the end of one response
//!   (or from the connection's start) the next request's headers must be in within
//!   `keep_alive + header_timeout`, or the socket is shut down;
//! - every request body is read through a minimum-rate guard ([`guard`]): fewer than
//!   `body_min_bytes` in any `body_window` fails the read, and the answer is 408 with
//!   the connection closed, whatever the handler made of the failed read.

use std::any::Any;
use std::cell::Cell;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Extensions, Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use bytes::Bytes;
use futures::Stream;
use tokio::time::{Instant, Sleep};
use uplink_core::protocol::{ErrorBody, ErrorCode};

use super::AppState;

/// One connection, as its watchdog sees it.
#[derive(Debug)]
struct ConnWatch {
    /// A second handle on the connection's socket, to shut it down from outside actix.
    #[cfg(unix)]
    socket: std::net::TcpStream,
    /// Since when the connection has been waiting for a request's headers; `None` while
    /// a request is being served.
    waiting_since: Cell<Option<Instant>>,
}

impl ConnWatch {
    fn busy(&self) {
        self.waiting_since.set(None);
    }

    fn waiting(&self) {
        self.waiting_since.set(Some(Instant::now()));
    }
}

/// For `HttpServer::on_connect`: watches each plain TCP connection, shutting it down
/// when no request's headers have arrived within `bound` of it starting to wait.
pub fn on_connect(bound: Duration) -> impl Fn(&dyn Any, &mut Extensions) + Send + Sync + 'static {
    move |conn, extensions| {
        #[cfg(unix)]
        {
            use actix_tls::accept::rustls_0_23::TlsStream;
            use actix_web::rt::net::TcpStream;
            use std::os::fd::AsFd;
            let tcp = if let Some(tcp) = conn.downcast_ref::<TcpStream>() {
                tcp
            } else if let Some(tls) = conn.downcast_ref::<TlsStream<TcpStream>>() {
                tls.get_ref().0
            } else {
                tracing::warn!("a connection of an unknown kind has no header deadline");
                return;
            };
            let socket = match tcp.as_fd().try_clone_to_owned() {
                Ok(fd) => std::net::TcpStream::from(fd),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch a connection for slow headers");
                    return;
                }
            };
            let watch = Rc::new(ConnWatch {
                socket,
                waiting_since: Cell::new(Some(Instant::now())),
            });
            actix_web::rt::spawn(watchdog(Rc::downgrade(&watch), bound));
            extensions.insert(watch);
        }
        #[cfg(not(unix))]
        {
            let _ = (conn, extensions, bound);
        }
    }
}

/// Ends with the connection (its watch is dropped with the connection's extensions),
/// or shuts the socket down once it has waited `bound` for a request.
async fn watchdog(conn: Weak<ConnWatch>, bound: Duration) {
    loop {
        let wait = {
            let Some(conn) = conn.upgrade() else { return };
            match conn.waiting_since.get() {
                None => bound,
                Some(since) => {
                    let now = Instant::now();
                    let deadline = since + bound;
                    if now >= deadline {
                        tracing::debug!(
                            "closing a connection whose request did not arrive in time"
                        );
                        #[cfg(unix)]
                        let _ = conn.socket.shutdown(std::net::Shutdown::Both);
                        return;
                    }
                    deadline - now
                }
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// A request body that must deliver `min_bytes` in every `window`.
struct RateGuard {
    inner: Payload,
    min_bytes: u64,
    window: Duration,
    received: u64,
    deadline: Pin<Box<Sleep>>,
    stalled: Rc<Cell<bool>>,
    done: bool,
}

impl Stream for RateGuard {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.received += chunk.len() as u64;
                if this.received >= this.min_bytes {
                    this.received = 0;
                    let next = Instant::now() + this.window;
                    this.deadline.as_mut().reset(next);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(()) => {
                    this.done = true;
                    this.stalled.set(true);
                    Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the request body arrived too slowly",
                    )))))
                }
            },
        }
    }
}

/// A response body that tells the connection's watch when it has been sent (or
/// dropped), so that waiting for the next request starts then.
pub struct Watched<B> {
    inner: B,
    conn: Option<Rc<ConnWatch>>,
}

impl<B> Drop for Watched<B> {
    fn drop(&mut self) {
        if let Some(conn) = &self.conn {
            conn.waiting();
        }
    }
}

impl<B: MessageBody + Unpin> MessageBody for Watched<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.inner.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_next(cx)
    }
}

fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

fn too_slow() -> HttpResponse {
    let mut response = HttpResponse::build(StatusCode::REQUEST_TIMEOUT).json(ErrorBody::new(
        ErrorCode::BadRequest,
        "the request body arrived too slowly; the connection is closed",
    ));
    response
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    response
}

/// The middleware: marks the connection busy, reads the body through a rate guard,
/// answers 408 if the body stalled.
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<Watched<BoxBody>>, actix_web::Error> {
    let conn = req.conn_data::<Rc<ConnWatch>>().cloned();
    if let Some(conn) = &conn {
        conn.busy();
    }
    let limits = req
        .app_data::<web::Data<AppState>>()
        .map(|s| (s.http.body_min_bytes.max(1), s.http.body_window));
    let stalled = Rc::new(Cell::new(false));
    if let Some((min_bytes, window)) = limits
        && has_body(&req)
    {
        let inner = req.take_payload();
        let guarded = RateGuard {
            inner,
            min_bytes,
            window,
            received: 0,
            deadline: Box::pin(tokio::time::sleep(window)),
            stalled: stalled.clone(),
            done: false,
        };
        let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(guarded);
        req.set_payload(Payload::from(stream));
    }
    let res = match next.call(req).await {
        Ok(res) => res,
        Err(e) => {
            if let Some(conn) = &conn {
                conn.waiting();
            }
            return Err(e);
        }
    };
    let res = if stalled.get() {
        res.into_response(too_slow())
    } else {
        res.map_into_boxed_body()
    };
    Ok(res.map_body(|_, inner| Watched { inner, conn }))
}
