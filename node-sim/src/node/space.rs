//! How much a node can still take: the smaller of what its operator allows
//! (`capacity_bytes` less what is stored) and what its file system really has free
//! (less a reserve for piece headers, the identity and the rest of the system).
//!
//! A node that counted only its allowance would report a terabyte free on a nearly full
//! disk, keep being selected, and fail every upload half-way. So check-ins report the
//! smaller figure, and every upload reserves the whole size its order limit allows
//! before the first byte is written: an upload that could not fit is refused while
//! nothing has been written, and concurrent uploads cannot together overrun the disk.
//!
//! The file system is measured through [`SpaceProbe`], so a simulation can make a node's
//! disk look full by wrapping the real probe.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use super::error::NodeError;
use super::piecestore::PieceStore;

/// Free space of the file system that holds a node's pieces.
#[async_trait]
pub trait SpaceProbe: Send + Sync + 'static {
    /// Bytes that this process can still allocate there.
    async fn available(&self) -> std::io::Result<u64>;
}

/// Asks the operating system (`statvfs`) about the file system holding a path.
#[derive(Clone, Debug)]
pub struct FsSpace {
    path: PathBuf,
}

impl FsSpace {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
}

#[async_trait]
impl SpaceProbe for FsSpace {
    async fn available(&self) -> std::io::Result<u64> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || statvfs_available(&path))
            .await
            .map_err(|e| std::io::Error::other(format!("free-space probe failed: {e}")))?
    }
}

#[cfg(unix)]
fn statvfs_available(path: &std::path::Path) -> std::io::Result<u64> {
    let st = rustix::fs::statvfs(path).map_err(std::io::Error::from)?;
    // Blocks available to unprivileged users, in fragment-size units.
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

#[cfg(not(unix))]
fn statvfs_available(_path: &std::path::Path) -> std::io::Result<u64> {
    Ok(u64::MAX)
}

/// No file system behind the pieces (the memory backend): only the allowance counts.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unlimited;

#[async_trait]
impl SpaceProbe for Unlimited {
    async fn available(&self) -> std::io::Result<u64> {
        Ok(u64::MAX)
    }
}

#[async_trait]
impl<S: SpaceProbe + ?Sized> SpaceProbe for Arc<S> {
    async fn available(&self) -> std::io::Result<u64> {
        (**self).available().await
    }
}

/// The figures behind a free-space answer, for messages and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpaceReport {
    /// Bytes committed pieces occupy.
    pub used: u64,
    /// Bytes a new piece may still take.
    pub free: u64,
}

/// The space accounting of one node.
pub struct Space {
    store: Arc<dyn PieceStore>,
    probe: Arc<dyn SpaceProbe>,
    capacity: u64,
    reserve: u64,
    /// Sum of the order-limit sizes of uploads in progress.
    reserved: AtomicU64,
    /// Bytes those uploads have written so far (already gone from the file system's
    /// free space, not yet counted as used).
    written: AtomicU64,
}

impl std::fmt::Debug for Space {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Space")
            .field("capacity", &self.capacity)
            .field("reserve", &self.reserve)
            .field("reserved", &self.reserved.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Space {
    /// `capacity` is the operator's allowance; `reserve` is kept free on the file system.
    pub fn new(
        store: Arc<dyn PieceStore>,
        probe: Arc<dyn SpaceProbe>,
        capacity: u64,
        reserve: u64,
    ) -> Self {
        Self {
            store,
            probe,
            capacity,
            reserve,
            reserved: AtomicU64::new(0),
            written: AtomicU64::new(0),
        }
    }

    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// What a new piece may take now, beside the uploads in progress. A file system that
    /// cannot be measured counts as full (and the failure is logged).
    pub async fn report(&self) -> Result<SpaceReport, NodeError> {
        self.report_besides(0).await
    }

    /// As [`Space::report`], but as if `own` bytes of the reservations were not there.
    async fn report_besides(&self, own: u64) -> Result<SpaceReport, NodeError> {
        // Read written before reserved: an upload that ends in between then looks as if
        // it had written less, which errs on the side of less free space.
        let written = self.written.load(Ordering::Acquire);
        let others = self.reserved.load(Ordering::Acquire).saturating_sub(own);
        let used = self.store.used_bytes().await?;
        let on_disk = match self.probe.available().await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("measuring the free space of the piece store: {e}");
                0
            }
        };
        let by_allowance = self.capacity.saturating_sub(used).saturating_sub(others);
        let by_disk = on_disk
            .saturating_sub(self.reserve)
            .saturating_sub(others.saturating_sub(written));
        Ok(SpaceReport {
            used,
            free: by_allowance.min(by_disk),
        })
    }

    /// Reserves room for a piece of up to `size` bytes, or refuses with
    /// [`NodeError::DiskFull`] if it might not fit.
    pub async fn reserve(&self, size: u64) -> Result<Reservation<'_>, NodeError> {
        self.reserved.fetch_add(size, Ordering::AcqRel);
        let reservation = Reservation {
            space: self,
            size,
            written: 0,
        };
        let report = self.report_besides(size).await?;
        if size > report.free {
            return Err(NodeError::DiskFull(format!(
                "this node has room for {} more bytes and the order limit allows {size}",
                report.free
            )));
        }
        Ok(reservation)
    }
}

/// Room held for one upload; released when dropped.
pub struct Reservation<'a> {
    space: &'a Space,
    size: u64,
    written: u64,
}

impl Reservation<'_> {
    /// Records `n` more bytes written to the file system.
    pub fn wrote(&mut self, n: u64) {
        self.written += n;
        self.space.written.fetch_add(n, Ordering::AcqRel);
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        // Written first, then reserved (see `report_besides`).
        self.space.written.fetch_sub(self.written, Ordering::AcqRel);
        self.space.reserved.fetch_sub(self.size, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;
    use crate::node::MemoryStore;

    /// A file system whose free space the test sets.
    #[derive(Default)]
    struct Disk(AtomicU64);

    #[async_trait]
    impl SpaceProbe for Disk {
        async fn available(&self) -> std::io::Result<u64> {
            Ok(self.0.load(Ordering::Relaxed))
        }
    }

    struct Broken;

    #[async_trait]
    impl SpaceProbe for Broken {
        async fn available(&self) -> std::io::Result<u64> {
            Err(std::io::Error::other("no such file system"))
        }
    }

    #[tokio::test]
    async fn free_space_is_the_smaller_of_allowance_and_disk_and_counts_reservations() {
        let disk = Arc::new(Disk::default());
        disk.0.store(10_000, Ordering::Relaxed);
        let space = Space::new(Arc::new(MemoryStore::new()), disk.clone(), 1 << 40, 1_000);
        assert_eq!(
            space.report().await.unwrap().free,
            9_000,
            "disk less reserve"
        );

        let mut first = space.reserve(5_000).await.unwrap();
        assert_eq!(space.report().await.unwrap().free, 4_000);
        // Bytes written leave the disk's free space and the reservation alike.
        first.wrote(2_000);
        disk.0.store(8_000, Ordering::Relaxed);
        assert_eq!(space.report().await.unwrap().free, 4_000);
        let err = space.reserve(4_001).await.err().expect("does not fit");
        assert!(matches!(err, NodeError::DiskFull(_)), "{err}");
        assert!(
            err.to_string().contains("room for 4000 more bytes"),
            "{err}"
        );
        // A refused reservation holds nothing.
        assert_eq!(space.report().await.unwrap().free, 4_000);
        let second = space.reserve(4_000).await.unwrap();
        assert_eq!(space.report().await.unwrap().free, 0);
        drop(first);
        drop(second);
        assert_eq!(space.report().await.unwrap().free, 7_000);

        let small = Space::new(Arc::new(MemoryStore::new()), disk, 3_000, 1_000);
        assert_eq!(small.report().await.unwrap().free, 3_000, "allowance");
    }

    #[tokio::test]
    async fn an_unmeasurable_disk_counts_as_full() {
        let space = Space::new(Arc::new(MemoryStore::new()), Arc::new(Broken), 1 << 40, 0);
        assert_eq!(space.report().await.unwrap().free, 0);
        assert!(matches!(
            space.reserve(1).await,
            Err(NodeError::DiskFull(_))
        ));
    }

    #[tokio::test]
    async fn the_file_system_probe_reads_a_real_file_system() {
        let dir = tempfile::tempdir().unwrap();
        let free = FsSpace::new(dir.path()).available().await.unwrap();
        assert!(free > 0, "a temporary directory has some room");
        let err = FsSpace::new(dir.path().join("missing"))
            .available()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
