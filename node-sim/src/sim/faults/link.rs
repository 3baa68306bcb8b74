//! A node's network link: a TCP forwarder that stands in front of the node's server
//! (the address the node advertises) or between the node and its satellite (where its
//! check-ins go), and obeys the node's [`NodeFaults`] on every chunk of bytes.
//!
//! - Offline: the listening socket is closed, so connecting is refused as with a
//!   node that is down, and connections already open are reset.
//! - Slow: each direction is shaped by [`LinkClock`]: latency and bandwidth.
//!
//! It forwards bytes only, so TLS passes through untouched and the parties still
//! authenticate each other end to end. The link outlives the node behind it: while
//! the node restarts, connections wait for it ([`Target::Pending`]); while it is
//! stopped, they are refused ([`Target::Down`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::node::{Direction, NodeFaults};
use super::shape::{LinkClock, quantum};

/// Bytes read from a socket at once.
const READ_SIZE: usize = 16 << 10;
/// Chunks read but not yet delivered, per direction: room for a second's worth at a
/// few MiB/s of latency without lowering throughput.
const IN_FLIGHT: usize = 256;
/// How long a connection waits for a restarting node before it is reset.
const PENDING_WAIT: Duration = Duration::from_secs(15);

/// Where a link forwards to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The node is starting: hold connections until it listens.
    Pending,
    /// Nothing is there: refuse connections.
    Down,
    Up(SocketAddr),
}

/// What the link stands in front of, which decides which way is which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Facing {
    /// Clients dial the link to reach the node: bytes towards the target are ingress.
    Node,
    /// The node dials the link to reach the satellite: bytes towards it are egress.
    Satellite,
}

/// A running link. Dropping it closes the listener and cuts every connection.
#[derive(Debug)]
pub struct Link {
    address: SocketAddr,
    faults: Arc<NodeFaults>,
    target: watch::Sender<Target>,
    /// Whether the listener is open now.
    listening: watch::Receiver<bool>,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Link {
    /// Listens on `listen` (port 0 picks one) and forwards to `target`.
    pub async fn start(
        listen: SocketAddr,
        facing: Facing,
        faults: Arc<NodeFaults>,
        target: Target,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let address = listener.local_addr()?;
        let (tx, rx) = watch::channel(target);
        let (listening_tx, listening) = watch::channel(true);
        let cancel = CancellationToken::new();
        let task = tokio::spawn(accept_loop(
            Listener {
                first: listener,
                address,
                listening: listening_tx,
            },
            facing,
            faults.clone(),
            rx,
            cancel.clone(),
        ));
        Ok(Self {
            address,
            faults,
            target: tx,
            listening,
            cancel,
            task: Some(task),
        })
    }

    /// Waits until the listener is open or closed as the faults and the target say
    /// now: after a node goes offline (or comes back), the next connection is then
    /// sure to be refused (or accepted).
    pub async fn settled(&self) {
        let mut listening = self.listening.clone();
        let mut faults = self.faults.subscribe();
        let mut target = self.target.subscribe();
        loop {
            faults.mark_unchanged();
            let wanted = !self.faults.is_offline() && *target.borrow_and_update() != Target::Down;
            if *listening.borrow_and_update() == wanted {
                return;
            }
            tokio::select! {
                changed = listening.changed() => if changed.is_err() { return },
                _ = faults.changed() => {}
                _ = target.changed() => {}
            }
        }
    }

    /// The address to dial instead of the target's.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn target(&self) -> Target {
        *self.target.borrow()
    }

    /// Forwards new connections to `target` from now on.
    pub fn set_target(&self, target: Target) {
        self.target.send_replace(target);
    }

    /// Closes the listener and cuts every connection.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// The listening side of a link.
struct Listener {
    first: TcpListener,
    address: SocketAddr,
    /// Told whether the listener is open, after every change.
    listening: watch::Sender<bool>,
}

async fn accept_loop(
    Listener {
        first,
        address,
        listening,
    }: Listener,
    facing: Facing,
    faults: Arc<NodeFaults>,
    mut target: watch::Receiver<Target>,
    cancel: CancellationToken,
) {
    let mut listener = Some(first);
    let mut changes = faults.subscribe();
    loop {
        let open = !faults.is_offline() && *target.borrow_and_update() != Target::Down;
        if !open {
            // Closed, so that connecting is refused, as with a node that is down.
            listener = None;
        } else if listener.is_none() {
            match TcpListener::bind(address).await {
                Ok(l) => listener = Some(l),
                Err(e) => {
                    tracing::warn!(%address, "link cannot listen again: {e}; retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    }
                    continue;
                }
            }
        }
        listening.send_if_modified(|open| {
            let now = listener.is_some();
            std::mem::replace(open, now) != now
        });
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            changed = changes.changed() => if changed.is_err() { return },
            changed = target.changed() => if changed.is_err() { return },
            accepted = accept(listener.as_ref()) => match accepted {
                Ok(stream) => {
                    tokio::spawn(serve(
                        stream,
                        facing,
                        faults.clone(),
                        target.clone(),
                        cancel.child_token(),
                    ));
                }
                Err(e) => {
                    // Out of file descriptors, say: do not spin.
                    tracing::debug!(%address, "link accept: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        }
    }
}

async fn accept(listener: Option<&TcpListener>) -> std::io::Result<TcpStream> {
    match listener {
        Some(l) => l.accept().await.map(|(s, _)| s),
        None => std::future::pending().await,
    }
}

/// Ends a connection with a reset, as a peer that vanished does.
fn reset(stream: &TcpStream) {
    let _ = stream.set_zero_linger();
}

/// The target once it is up; `None` if it is down or does not come up in time.
async fn wait_up(target: &mut watch::Receiver<Target>) -> Option<SocketAddr> {
    let deadline = tokio::time::sleep(PENDING_WAIT);
    tokio::pin!(deadline);
    loop {
        match *target.borrow_and_update() {
            Target::Up(addr) => return Some(addr),
            Target::Down => return None,
            Target::Pending => {}
        }
        tokio::select! {
            _ = &mut deadline => return None,
            changed = target.changed() => if changed.is_err() { return None },
        }
    }
}

/// Resolves once the node is offline.
async fn offline(faults: &NodeFaults, changes: &mut watch::Receiver<u64>) {
    loop {
        if faults.is_offline() {
            return;
        }
        if changes.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ended {
    /// Both sides closed (or one broke): the connection is done.
    Done,
    /// The link was stopped.
    Cut,
    /// The node went offline.
    Offline,
}

async fn serve(
    mut client: TcpStream,
    facing: Facing,
    faults: Arc<NodeFaults>,
    mut target: watch::Receiver<Target>,
    cancel: CancellationToken,
) {
    let mut changes = faults.subscribe();
    let _ = client.set_nodelay(true);
    let addr = tokio::select! {
        _ = cancel.cancelled() => None,
        _ = offline(&faults, &mut changes) => None,
        addr = wait_up(&mut target) => addr,
    };
    let Some(addr) = addr else {
        reset(&client);
        return;
    };
    let mut server = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(%addr, "link: the target refuses: {e}");
            reset(&client);
            return;
        }
    };
    let _ = server.set_nodelay(true);
    let (towards, back) = match facing {
        Facing::Node => (Direction::Ingress, Direction::Egress),
        Facing::Satellite => (Direction::Egress, Direction::Ingress),
    };
    let ended = {
        let (client_read, client_write) = client.split();
        let (server_read, server_write) = server.split();
        let carry = futures::future::try_join(
            pump(client_read, server_write, &faults, towards),
            pump(server_read, client_write, &faults, back),
        );
        tokio::select! {
            _ = carry => Ended::Done,
            _ = cancel.cancelled() => Ended::Cut,
            _ = offline(&faults, &mut changes) => Ended::Offline,
        }
    };
    if ended != Ended::Done {
        if ended == Ended::Offline {
            faults.count_dropped();
        }
        reset(&client);
        reset(&server);
    }
}

/// Carries one direction until its reader ends, shaping it as the faults say now.
/// `Err` if either side broke (the connection is then cut both ways).
async fn pump(
    mut from: ReadHalf<'_>,
    mut to: WriteHalf<'_>,
    faults: &NodeFaults,
    direction: Direction,
) -> std::io::Result<()> {
    let (tx, mut rx) = mpsc::channel::<(Bytes, Instant)>(IN_FLIGHT);
    let read = async move {
        loop {
            let mut buf = BytesMut::with_capacity(READ_SIZE);
            tokio::select! {
                read = from.read_buf(&mut buf) => match read? {
                    0 => return Ok(()),
                    _ => {
                        if tx.send((buf.freeze(), Instant::now())).await.is_err() {
                            return Err(std::io::ErrorKind::BrokenPipe.into());
                        }
                    }
                },
                // The writer gave up: stop reading too.
                _ = tx.closed() => return Err(std::io::ErrorKind::BrokenPipe.into()),
            }
        }
    };
    let write = async move {
        let mut clock = LinkClock::default();
        while let Some((mut data, arrived)) = rx.recv().await {
            match faults.shape(direction) {
                None => to.write_all(&data).await?,
                Some(shape) => {
                    let q = quantum(&shape);
                    while !data.is_empty() {
                        let piece = data.split_to(q.min(data.len()));
                        tokio::time::sleep_until(clock.deliver_at(arrived, piece.len(), &shape))
                            .await;
                        to.write_all(&piece).await?;
                    }
                }
            }
        }
        to.shutdown().await
    };
    let (read, write) = tokio::join!(read, write);
    read.and(write)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::faults::spec::{FaultSpec, Shape, Slow};

    /// A server that echoes everything back, and closes when the client does.
    async fn echo_server() -> (SocketAddr, JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        (addr, task)
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// Sends `data` through `addr` and reads the echo; the echo and the (virtual) time
    /// the round took.
    async fn round(addr: SocketAddr, data: &[u8]) -> (Vec<u8>, Duration) {
        let started = Instant::now();
        let mut s = TcpStream::connect(addr).await.unwrap();
        let (mut r, mut w) = s.split();
        let send = async {
            w.write_all(data).await.unwrap();
            w.shutdown().await.unwrap();
        };
        let mut back = Vec::new();
        let recv = r.read_to_end(&mut back);
        let (_, got) = tokio::join!(send, recv);
        got.unwrap();
        (back, started.elapsed())
    }

    // The clock is paused: sleeps end when nothing else can happen, so the time a
    // round takes is what the link's schedule says, however busy the machine is.
    #[tokio::test(start_paused = true)]
    async fn a_slow_link_delivers_every_byte_in_order_no_faster_than_its_shape() {
        let (echo, _server) = echo_server().await;
        let faults = NodeFaults::new(1);
        let link = Link::start(
            "127.0.0.1:0".parse().unwrap(),
            Facing::Node,
            faults.clone(),
            Target::Up(echo),
        )
        .await
        .unwrap();
        let data = pattern(200_000);

        let (back, unshaped) = round(link.address(), &data).await;
        assert!(back == data, "an unshaped link changes nothing");

        let latency = Duration::from_millis(300);
        let rate = 50_000u64;
        faults
            .set(FaultSpec {
                slow: Some(Slow {
                    ingress: Shape {
                        latency,
                        bandwidth: Some(rate),
                    },
                    egress: Shape {
                        latency,
                        bandwidth: None,
                    },
                }),
                ..Default::default()
            })
            .unwrap();
        let (back, shaped) = round(link.address(), &data).await;
        assert_eq!(back.len(), data.len());
        assert!(back == data, "bytes arrive whole and in order");
        // 200 000 bytes at 50 000 B/s towards the node, plus the latency both ways.
        let least = Duration::from_secs(4) + 2 * latency;
        assert!(
            shaped >= least,
            "took {shaped:?}, the link allows no less than {least:?}"
        );
        assert!(unshaped < least, "unshaped took {unshaped:?}");
    }

    #[tokio::test]
    async fn an_offline_link_refuses_and_cuts_then_comes_back_at_its_address() {
        let (echo, _server) = echo_server().await;
        let faults = NodeFaults::new(2);
        let link = Link::start(
            "127.0.0.1:0".parse().unwrap(),
            Facing::Node,
            faults.clone(),
            Target::Up(echo),
        )
        .await
        .unwrap();
        let addr = link.address();
        let mut open = TcpStream::connect(addr).await.unwrap();
        open.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        open.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");

        faults.set_offline(true);
        // The open connection is cut ...
        let mut rest = Vec::new();
        let cut = tokio::time::timeout(Duration::from_secs(30), open.read_to_end(&mut rest))
            .await
            .expect("the cut is seen");
        assert!(cut.is_err() || rest.is_empty(), "{cut:?}");
        // ... and new ones are refused, once the link has closed its listener.
        link.settled().await;
        let refused = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
        assert_eq!(faults.counts().connections_dropped, 1);

        faults.set_offline(false);
        link.settled().await;
        let (echoed, _) = round(addr, b"again").await;
        assert_eq!(echoed, b"again");

        // A stopped node is refused too; a starting one is waited for.
        link.set_target(Target::Down);
        link.settled().await;
        assert!(TcpStream::connect(addr).await.is_err());
        link.set_target(Target::Pending);
        link.settled().await;
        let mut held = TcpStream::connect(addr).await.unwrap();
        held.write_all(b"held").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        link.set_target(Target::Up(echo));
        let mut buf = [0u8; 4];
        held.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"held");
        link.stop().await;
        // Stopped for good: refused.
        assert!(TcpStream::connect(addr).await.is_err());
    }
}
