//! The one HTTP/1.1 listener behind the network's public web faces: the S3 gateways
//! and the share-link service. They face browsers, SDKs and whoever else finds the
//! port, so they share one hardened accept loop: a deadline for each request's
//! headers (a slow client holds no slot), a deadline for the TLS handshake, keep-alive,
//! and a graceful stop that lets requests in flight finish.
//!
//! A request that asked `Expect: 100-continue` and is refused before its body was
//! read closes its connection after the answer: the client may or may not send the
//! body it announced, so the connection's next bytes are ambiguous. Keeping it alive
//! let the HTTP layer read the first bytes of the client's *next* request as the
//! refused one's body (a later request then arrived as `ELETE /...` and failed its
//! signature). RFC 9110 §10.1.1 leaves the server the choice of reading the body or
//! closing; closing costs one reconnect after an error.
//!
//! TLS here is the public kind (a certificate from a CA for the service's domain,
//! TLS 1.2 and 1.3, as browsers and media players expect), not the identity
//! certificates the network's own parties use with each other.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How a listener treats its connections.
#[derive(Clone, Debug)]
pub struct ListenOptions {
    /// Time a client has to send a request's headers (and to finish a TLS handshake).
    pub header_timeout: Duration,
    /// Serve HTTPS with this configuration; plain HTTP without.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// How long requests in flight may take to finish once the listener stops.
    pub stop_deadline: Duration,
}

impl Default for ListenOptions {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(30),
            tls: None,
            stop_deadline: Duration::from_secs(10),
        }
    }
}

/// A running listener; dropping it does not stop it, [`HttpListener::stop`] does.
pub struct HttpListener {
    local_addr: SocketAddr,
    tls: bool,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for HttpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpListener")
            .field("local_addr", &self.local_addr)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl HttpListener {
    /// Binds `addr` and serves `service` on every connection.
    pub async fn start<S, B>(
        addr: SocketAddr,
        service: S,
        options: ListenOptions,
    ) -> std::io::Result<Self>
    where
        S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let tls = options.tls.clone().map(tokio_rustls::TlsAcceptor::from);
        let is_tls = tls.is_some();
        let task = tokio::spawn(async move {
            let graceful = hyper_util::server::graceful::GracefulShutdown::new();
            loop {
                let (socket, _) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                    _ = stopped.changed() => break,
                };
                let _ = socket.set_nodelay(true);
                let service = service.clone();
                let watcher = graceful.watcher();
                let timeout = options.header_timeout;
                match tls.clone() {
                    None => serve_connection(socket, service, timeout, watcher),
                    Some(acceptor) => {
                        tokio::spawn(async move {
                            match tokio::time::timeout(timeout, acceptor.accept(socket)).await {
                                Ok(Ok(stream)) => {
                                    serve_connection(stream, service, timeout, watcher)
                                }
                                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                                Err(_) => tracing::debug!("TLS handshake timed out"),
                            }
                        });
                    }
                }
            }
            // Requests in flight finish (up to a deadline); new ones are refused.
            let _ = tokio::time::timeout(options.stop_deadline, graceful.shutdown()).await;
        });
        Ok(Self {
            local_addr,
            tls: is_tls,
            stop,
            task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `https` or `http`, with the bound address: the URL to reach it on this host.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// Stops accepting, lets requests in flight finish (up to the deadline), and returns.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Runs until stopped from elsewhere (the task ends).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Most bytes one connection buffers ahead of its handler. The HTTP layer keeps reading a
/// request body into this buffer while the handler waits (for an upload turn, say), so
/// with hyper's default (about 400 KiB, doubling as it grows) 160 waiting part uploads
/// held over 100 MiB of a gateway's memory (measured: peak 288 MiB, 193 MiB with this).
/// Smaller reads mean more system calls. The gateway's CPU did not grow beyond this
/// machine's run-to-run noise: one 16-upload run took 24.5 s against 21.4 s, and the
/// three-run PUT benchmark with this bound (and ring's AES-GCM for content) measured
/// 9.5–10.8 s per GiB against 11.1 before. The bound is far above any request head we
/// accept.
const READ_BUFFER_MAX: usize = 64 << 10;

fn serve_connection<I, S, B>(
    io: I,
    service: S,
    header_timeout: Duration,
    graceful: hyper_util::server::graceful::Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true)
        .max_buf_size(READ_BUFFER_MAX);
    let service = CloseAfterRefusedExpect(service);
    let conn = graceful.watch(http.serve_connection(TokioIo::new(io), service));
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    });
}

/// Answers a refused `Expect: 100-continue` request with `Connection: close` (see the
/// module comment for why).
struct CloseAfterRefusedExpect<S>(S);

impl<S, B> Service<Request<Incoming>> for CloseAfterRefusedExpect<S>
where
    S: Service<Request<Incoming>, Response = Response<B>>,
    S::Future: Send + 'static,
{
    type Response = Response<B>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<B>, S::Error>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let expects_continue = req
            .headers()
            .get(hyper::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let response = self.0.call(req);
        Box::pin(async move {
            let mut response = response.await?;
            if expects_continue && !response.status().is_success() {
                response.headers_mut().insert(
                    hyper::header::CONNECTION,
                    hyper::header::HeaderValue::from_static("close"),
                );
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Refuses every PUT without reading its body (as a gateway refuses a bad signature
    /// or oversized metadata), and answers anything else 200 with its method. The
    /// refused body is let go only a moment after the answer, as on a busy server: the
    /// HTTP layer then drains it from whatever the client sent next.
    async fn refusing_listener() -> HttpListener {
        let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
            let method = req.method().clone();
            let (_, body) = req.into_parts();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                drop(body);
            });
            let status = if method == hyper::Method::PUT {
                hyper::StatusCode::BAD_REQUEST
            } else {
                hyper::StatusCode::OK
            };
            let body = http_body_util::Full::new(bytes::Bytes::from(method.to_string()));
            Ok::<_, std::convert::Infallible>(
                Response::builder().status(status).body(body).unwrap(),
            )
        });
        HttpListener::start(
            "127.0.0.1:0".parse().unwrap(),
            service,
            ListenOptions::default(),
        )
        .await
        .unwrap()
    }

    async fn read_all(socket: &mut tokio::net::TcpStream) -> String {
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), socket.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn a_refused_expect_continue_request_closes_its_connection() {
        let listener = refusing_listener().await;
        let mut socket = tokio::net::TcpStream::connect(listener.local_addr())
            .await
            .unwrap();
        // The client announces one byte of body, is refused, and (as the RFC allows)
        // never sends it; its next request follows on the same connection.
        socket
            .write_all(b"PUT /b/k HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n")
            .await
            .unwrap();
        let mut head = vec![0u8; 4096];
        let n = socket.read(&mut head).await.unwrap();
        let head = String::from_utf8_lossy(&head[..n]).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 400"), "{head}");
        assert!(
            head.contains("connection: close"),
            "the refusal must close: {head}"
        );
        let _ = socket
            .write_all(b"DELETE /b/k HTTP/1.1\r\nHost: h\r\n\r\n")
            .await;
        let rest = read_all(&mut socket).await;
        assert!(
            !rest.contains("HTTP/1.1"),
            "the next request must not be answered as a mangled one (`ELETE`): {rest}"
        );
        listener.stop().await;
    }

    #[tokio::test]
    async fn accepted_and_plain_requests_keep_their_connection() {
        let listener = refusing_listener().await;
        let mut socket = tokio::net::TcpStream::connect(listener.local_addr())
            .await
            .unwrap();
        // A refused PUT without Expect whose body came along, then a GET: both answered
        // on one connection, the GET as a GET.
        socket
            .write_all(b"PUT /b/k HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx")
            .await
            .unwrap();
        socket
            .write_all(b"GET /b/k HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let all = read_all(&mut socket).await;
        assert_eq!(all.matches("HTTP/1.1 ").count(), 2, "{all}");
        assert!(
            all.contains("HTTP/1.1 400") && all.ends_with("GET"),
            "{all}"
        );
        listener.stop().await;
    }

    /// Counts the bytes the HTTP layer takes from the connection.
    struct CountingIo<I> {
        inner: I,
        read: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl<I: AsyncRead + Unpin> AsyncRead for CountingIo<I> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            let before = buf.filled().len();
            let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
            let n = buf.filled().len() - before;
            self.read.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            poll
        }
    }

    impl<I: AsyncWrite + Unpin> AsyncWrite for CountingIo<I> {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            Pin::new(&mut self.inner).poll_write(cx, buf)
        }
        fn poll_flush(
            mut self: Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }
        fn poll_shutdown(
            mut self: Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    /// A handler that pauses in the middle of a body (an upload part waiting for its turn)
    /// must not let the connection buffer much more of it: with hundreds of such
    /// requests, that buffering was most of a gateway's memory. The handler reads 2 MiB
    /// first, so that the HTTP layer's adaptive reads have grown to their largest.
    #[tokio::test]
    async fn a_paused_handler_leaves_its_body_unread_beyond_the_buffer_bound() {
        use http_body_util::BodyExt;
        let (client, server) = tokio::io::duplex(8 << 20);
        let read = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let io = CountingIo {
            inner: server,
            read: read.clone(),
        };
        let (consumed_tx, consumed_rx) = tokio::sync::oneshot::channel();
        let consumed_tx = Arc::new(parking_lot::Mutex::new(Some(consumed_tx)));
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let consumed_tx = consumed_tx.clone();
            async move {
                let mut body = req.into_body();
                let mut consumed = 0usize;
                while consumed < 2 << 20 {
                    match body.frame().await {
                        Some(Ok(frame)) => consumed += frame.data_ref().map_or(0, |d| d.len()),
                        _ => break,
                    }
                }
                if let Some(tx) = consumed_tx.lock().take() {
                    let _ = tx.send(consumed);
                }
                std::future::pending::<()>().await;
                Ok::<_, std::convert::Infallible>(Response::new(http_body_util::Full::new(
                    bytes::Bytes::new(),
                )))
            }
        });
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        serve_connection(io, service, Duration::from_secs(30), graceful.watcher());

        let body_len = 16usize << 20;
        let writer = tokio::spawn(async move {
            let mut client = client;
            let head =
                format!("PUT /b/k HTTP/1.1\r\nHost: h\r\nContent-Length: {body_len}\r\n\r\n");
            client.write_all(head.as_bytes()).await?;
            let chunk = vec![7u8; 64 << 10];
            for _ in 0..body_len / chunk.len() {
                client.write_all(&chunk).await?;
            }
            Ok::<_, std::io::Error>(client)
        });
        let consumed = tokio::time::timeout(Duration::from_secs(10), consumed_rx)
            .await
            .expect("the handler reads its first 2 MiB")
            .unwrap();
        // Let the HTTP layer read all it wants: until its count stops moving.
        let mut last = usize::MAX;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = read.load(std::sync::atomic::Ordering::Relaxed);
            if now == last {
                break;
            }
            last = now;
        }
        let ahead = read.load(std::sync::atomic::Ordering::Relaxed) - consumed;
        // One read waiting in the buffer, one chunk handed to the body, and the head.
        let bound = 2 * READ_BUFFER_MAX + (4 << 10);
        assert!(
            ahead <= bound,
            "the connection read {ahead} bytes ahead of a paused handler (bound {bound})"
        );
        assert!(
            !writer.is_finished(),
            "the client must still be blocked sending"
        );
        writer.abort();
    }
}
