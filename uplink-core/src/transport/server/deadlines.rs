//! Deadlines for the next request on a connection, so that a connection costs its
//! holder a steady stream of requests rather than nothing.
//!
//! actix bounds the headers of a connection's first request (`client_request_timeout`)
//! and an idle connection (`keep_alive`), but not the headers of a later request on a
//! kept-alive connection: the header timer starts once per connection, and the
//! keep-alive timer stops at the first byte. So every connection gets a watchdog
//! ([`on_connect`]): from the end of one response (or from the connection's start) the
//! next request's headers must be in within `keep_alive + header_timeout`, or the
//! socket is shut down. A server marks each request with [`ConnWatch::busy`] (see
//! [`conn_watch`]) and wraps its response body in [`Watched`], which starts the next
//! wait when the response is done.

use std::any::Any;
use std::cell::Cell;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{Extensions, ServiceRequest};
use bytes::Bytes;
use tokio::time::Instant;

/// One connection, as its watchdog sees it.
#[derive(Debug)]
pub struct ConnWatch {
    /// A second handle on the connection's socket, to shut it down from outside actix.
    #[cfg(unix)]
    socket: std::net::TcpStream,
    /// Since when the connection has been waiting for a request's headers; `None` while
    /// a request is being served.
    waiting_since: Cell<Option<Instant>>,
}

impl ConnWatch {
    /// A request is being served: no deadline until its response is done.
    pub fn busy(&self) {
        self.waiting_since.set(None);
    }

    /// The connection waits for the next request from now.
    pub fn waiting(&self) {
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

/// A response body that tells the connection's watch when it has been sent (or
/// dropped), so that waiting for the next request starts then.
pub struct Watched<B> {
    inner: B,
    conn: Option<Rc<ConnWatch>>,
}

impl<B> Watched<B> {
    pub fn new(inner: B, conn: Option<Rc<ConnWatch>>) -> Self {
        Self { inner, conn }
    }
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

/// The watch of the connection `req` came on, if the server watches its connections.
pub fn conn_watch(req: &ServiceRequest) -> Option<Rc<ConnWatch>> {
    req.conn_data::<Rc<ConnWatch>>().cloned()
}
