//! The uplink library: store and fetch objects on the network.
//!
//! A [`Project`] is opened from an [`AccessGrant`]. Everything the satellite sees is
//! encrypted here first: object keys (per path component, so listing by prefix still
//! works), metadata, and content. Pieces move directly between this process and the
//! nodes; the satellite only hands out metadata and signed order limits.

mod digest;
mod download;
pub mod error;
mod input;
mod metainfo;
mod multipart;
mod names;
mod objects;
mod piece_set;
pub mod pieces;
mod server_copy;
mod spool;
mod upload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use download::{ByteRange, ObjectReader};
pub use error::{PieceError, Result, Subject, UplinkError};
pub use metainfo::{MetainfoClient, RetryPolicy, discover_satellite};
pub use multipart::{
    CompleteError, CompletePart, MAX_PART_NUMBER, MultipartUpload, Part, UploadPage, UploadedPart,
};
pub use objects::{ListOptions, ObjectEntry, ObjectPage};
pub use server_copy::CopyOptions;
pub use upload::UploadOptions;

use crate::access::AccessGrant;
use crate::transport::{Mode, Transport};

/// Called with the number of bytes just transferred (for progress bars).
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// Tunables of the client. Defaults suit both a local network and the Internet.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Plaintext bytes per segment (capped by the satellite's maximum).
    pub segment_size: u64,
    /// Plaintext bytes encrypted and erasure coded per step of an upload.
    pub upload_batch_size: usize,
    /// Batches queued per piece upload before it counts as lagging.
    pub piece_queue: usize,
    /// Verified chunks queued per piece download.
    pub download_queue: usize,
    /// Decoded chunks queued between the decoder and the writer.
    pub output_queue: usize,
    /// A piece transfer with no progress for this long is abandoned.
    pub idle_timeout: Duration,
    /// How long to wait for a node's health answer before an upload.
    pub ping_timeout: Duration,
    /// Ciphertext of the segment being uploaded kept in memory, so that a piece that
    /// falls behind or moves to a replacement node can be produced again; beyond this
    /// the segment spills to an unlinked temporary file in `spool_dir`.
    pub spool_memory: usize,
    /// Most spool memory all uploads of this client hold together (many parts at once
    /// through a gateway); a spool that finds none left spills from the start.
    pub spool_memory_total: usize,
    /// Where the spool spills (the system's temporary directory if unset).
    pub spool_dir: Option<PathBuf>,
    /// Most segment uploads of this client in flight at once. Each holds up to
    /// `piece_queue` coded batches per piece besides its spool, so this bounds the
    /// memory of a gateway that receives hundreds of parts at once; further segments
    /// wait for a turn before they ask the satellite for nodes (in arrival order).
    pub segment_uploads: usize,
    /// Rounds of replacement nodes per segment before an upload gives up.
    pub replacement_rounds: u32,
    /// Retries of metainfo calls when the satellite is briefly unavailable.
    pub metainfo_retry: RetryPolicy,
    /// TLS with every peer verified by identity, or plain HTTP (loopback development
    /// only, and only when the whole network runs that way).
    pub transport: Mode,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            segment_size: 64 << 20,
            upload_batch_size: 256 << 10,
            piece_queue: 8,
            download_queue: 8,
            output_queue: 8,
            idle_timeout: Duration::from_secs(60),
            ping_timeout: Duration::from_secs(3),
            spool_memory: 8 << 20,
            spool_memory_total: 64 << 20,
            spool_dir: None,
            segment_uploads: 16,
            replacement_rounds: 3,
            metainfo_retry: RetryPolicy::default(),
            transport: Mode::Tls,
        }
    }
}

struct Inner {
    access: AccessGrant,
    metainfo: MetainfoClient,
    transport: Transport,
    config: ClientConfig,
    /// The satellite's inline limit as its last begin-object answer gave it (0: not
    /// known yet): objects up to it are uploaded in one request.
    inline_limit: std::sync::atomic::AtomicU64,
    /// Aborts of uploads that were dropped before they finished (see [`Project::close`]).
    cleanups: parking_lot::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The memory all upload spools share.
    spool_memory: Arc<spool::SpoolMemory>,
    /// Turns for segment uploads (`ClientConfig::segment_uploads`).
    segment_turns: Arc<tokio::sync::Semaphore>,
}

/// A project on a satellite, as reachable with one access grant. Cheap to clone.
#[derive(Clone)]
pub struct Project {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Project {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Project")
            .field("satellite", &self.inner.access.satellite.to_string())
            .finish_non_exhaustive()
    }
}

impl Project {
    pub fn open(access: AccessGrant, config: ClientConfig) -> Result<Self> {
        let transport = Transport::shared(config.transport);
        let metainfo = MetainfoClient::new(
            transport.clone(),
            access.satellite.clone(),
            access.api_key.serialize(),
        )
        .with_retry(config.metainfo_retry);
        let spool_memory = spool::SpoolMemory::new(config.spool_memory_total);
        let segment_turns = Arc::new(tokio::sync::Semaphore::new(config.segment_uploads.max(1)));
        Ok(Self {
            inner: Arc::new(Inner {
                access,
                metainfo,
                transport,
                config,
                inline_limit: std::sync::atomic::AtomicU64::new(0),
                cleanups: parking_lot::Mutex::new(Vec::new()),
                spool_memory,
                segment_turns,
            }),
        })
    }

    /// Waits (up to `timeout`) for the background work of uploads that were dropped
    /// unfinished: each asks the satellite to abort its pending object, so that its
    /// pieces are deleted now rather than when the pending object expires. Call before
    /// the process exits, e.g. after Ctrl-C.
    pub async fn close(&self, timeout: Duration) {
        let pending: Vec<_> = std::mem::take(&mut *self.inner.cleanups.lock());
        let all = futures::future::join_all(pending);
        if tokio::time::timeout(timeout, all).await.is_err() {
            tracing::warn!("gave up waiting for aborted uploads to be cleaned up");
        }
    }

    pub fn access(&self) -> &AccessGrant {
        &self.inner.access
    }

    pub fn metainfo(&self) -> &MetainfoClient {
        &self.inner.metainfo
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Revokes `api_key`, and with it every grant derived from it, using this project's
    /// grant as the revoker (which must be the same key or one `api_key` was derived
    /// from). Grants already in use may keep working for as long as the satellite caches
    /// revocations.
    pub async fn revoke(&self, api_key: &crate::access::ApiKey) -> Result<()> {
        self.inner.metainfo.revoke_api_key(api_key).await
    }
}
