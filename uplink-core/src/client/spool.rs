//! The current segment's ciphertext, kept until the segment is committed, so that any
//! of its pieces can be produced again: for a piece that fell behind the others (it
//! catches up at its own pace instead of being cut) and for a replacement node that
//! takes over a failed piece (it starts from the segment's first byte).
//!
//! What is kept is the `k` data shares of every batch, which together are exactly the
//! batch's ciphertext; parity pieces are coded again from them when asked for. Up to a
//! memory budget the shares are copied into one buffer reserved for the spool (so that
//! the encoder keeps reusing its own buffers); beyond it they go to an unlinked
//! temporary file, which the
//! system removes when it is closed, even if the process is killed. Only ciphertext
//! ever reaches the disk. So memory stays bounded for a stream of any length, stdin
//! included, without having to read the input twice.
//!
//! The memory of all spools of one client comes from one [`SpoolMemory`] pool: a
//! gateway with a hundred parts in flight holds what the pool allows, and the spools
//! that find it empty spill from their first batch.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::erasure::{ErasureCodec, codec_for};
use crate::protocol::RedundancyScheme;

/// Why a piece cannot be produced again.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct SpoolError(String);

/// Memory that the spools of one client share.
#[derive(Debug)]
pub(crate) struct SpoolMemory {
    available: AtomicUsize,
}

impl SpoolMemory {
    pub fn new(total: usize) -> Arc<Self> {
        Arc::new(Self {
            available: AtomicUsize::new(total),
        })
    }

    /// Up to `want` bytes of the pool (less, or none, when others hold it), given back
    /// when the reservation is dropped.
    pub fn reserve(self: &Arc<Self>, want: usize) -> Reservation {
        let mut got = 0;
        let _ = self
            .available
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |free| {
                got = want.min(free);
                Some(free - got)
            });
        Reservation {
            pool: self.clone(),
            bytes: got,
        }
    }

    #[cfg(test)]
    pub fn available(&self) -> usize {
        self.available.load(Ordering::Acquire)
    }
}

/// Bytes taken from a [`SpoolMemory`] pool.
#[derive(Debug)]
pub(crate) struct Reservation {
    pool: Arc<SpoolMemory>,
    bytes: usize,
}

impl Reservation {
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.pool.available.fetch_add(self.bytes, Ordering::AcqRel);
    }
}

/// Where a batch's `k` data shares are, each `share_len` bytes, one after the other.
enum Stored {
    Memory { offset: usize, share_len: usize },
    File { offset: u64, share_len: usize },
}

struct State {
    batches: Vec<Stored>,
    /// In-memory part; reserved at the budget's size on first use, so it never moves
    /// (pages are only touched as it fills).
    memory: Vec<u8>,
    memory_used: usize,
    file: Option<Arc<std::fs::File>>,
    file_len: u64,
    /// Set when spilling failed: batches from then on cannot be produced again.
    broken: Option<String>,
    /// The pool memory this spool may fill; given back on release.
    reservation: Option<Reservation>,
}

/// How far the spool is: batches stored, and whether the segment is complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Progress {
    batches: usize,
    finished: bool,
}

struct Shared {
    scheme: RedundancyScheme,
    codec: Arc<dyn ErasureCodec>,
    memory_budget: usize,
    dir: PathBuf,
    state: Mutex<State>,
    progress: watch::Sender<Progress>,
}

/// A handle on one segment's spool; cheap to clone.
#[derive(Clone)]
pub(crate) struct Spool {
    shared: Arc<Shared>,
}

impl Spool {
    /// A spool that keeps up to `memory_budget` bytes in memory and spills the rest to
    /// a temporary file in `dir`.
    #[cfg(test)]
    pub fn new(scheme: RedundancyScheme, memory_budget: usize, dir: &Path) -> Self {
        Self::with_memory(
            scheme,
            SpoolMemory::new(memory_budget).reserve(memory_budget),
            dir,
        )
    }

    /// A spool that keeps what `reservation` allows in memory and spills the rest to a
    /// temporary file in `dir`.
    pub fn with_memory(scheme: RedundancyScheme, reservation: Reservation, dir: &Path) -> Self {
        let memory_budget = reservation.bytes();
        Self {
            shared: Arc::new(Shared {
                scheme,
                codec: codec_for(&scheme),
                memory_budget,
                dir: dir.to_path_buf(),
                state: Mutex::new(State {
                    batches: Vec::new(),
                    memory: Vec::new(),
                    memory_used: 0,
                    file: None,
                    file_len: 0,
                    broken: None,
                    reservation: Some(reservation),
                }),
                progress: watch::Sender::new(Progress {
                    batches: 0,
                    finished: false,
                }),
            }),
        }
    }

    /// Bytes held in memory.
    #[cfg(test)]
    pub fn memory_used(&self) -> usize {
        self.shared.state.lock().memory_used
    }

    /// Whether every batch so far can be produced again.
    pub fn complete(&self) -> Result<(), SpoolError> {
        match &self.shared.state.lock().broken {
            Some(why) => Err(SpoolError(why.clone())),
            None => Ok(()),
        }
    }

    /// Stores the next batch, given as all of its shares (only the data shares are
    /// kept). Never fails: if the temporary file cannot be written, the spool stops
    /// keeping batches and [`Spool::complete`] says why.
    pub async fn push(&self, shares: &[Bytes]) {
        let k = self.shared.scheme.k as usize;
        let data = &shares[..k];
        let share_len = data.first().map_or(0, Bytes::len);
        let len = share_len * k;
        let in_memory = {
            let mut st = self.shared.state.lock();
            if st.broken.is_some() {
                None
            } else if data.iter().all(|d| d.len() == share_len)
                && st.memory_used + len <= self.shared.memory_budget
            {
                if st.memory.capacity() == 0 {
                    st.memory = Vec::with_capacity(self.shared.memory_budget);
                }
                let offset = st.memory.len();
                for d in data {
                    st.memory.extend_from_slice(d);
                }
                st.memory_used += len;
                st.batches.push(Stored::Memory { offset, share_len });
                Some(true)
            } else {
                Some(false)
            }
        };
        if in_memory == Some(false)
            && let Err(e) = self.spill(data).await
        {
            tracing::warn!(error = %e, "cannot spool the segment to a temporary file");
            self.shared.state.lock().broken = Some(format!(
                "the segment could not be kept for replacement nodes: {e}"
            ));
        }
        self.shared.progress.send_modify(|p| p.batches += 1);
    }

    async fn spill(&self, data: &[Bytes]) -> std::io::Result<()> {
        let share_len = data.first().map_or(0, Bytes::len);
        if data.iter().any(|d| d.len() != share_len) {
            return Err(std::io::Error::other(
                "shares of one batch differ in length",
            ));
        }
        let (file, offset) = {
            let mut st = self.shared.state.lock();
            if st.file.is_none() {
                st.file = Some(Arc::new(unlinked_temp_file(&self.shared.dir)?));
            }
            let offset = st.file_len;
            st.file_len += (share_len * data.len()) as u64;
            (st.file.clone().expect("just set"), offset)
        };
        let mut bytes = BytesMut::with_capacity(share_len * data.len());
        for d in data {
            bytes.extend_from_slice(d);
        }
        tokio::task::spawn_blocking(move || write_at(&file, &bytes, offset))
            .await
            .map_err(std::io::Error::other)??;
        self.shared
            .state
            .lock()
            .batches
            .push(Stored::File { offset, share_len });
        Ok(())
    }

    /// Frees the memory and the file now, while tasks that still hold a handle wind down
    /// (reading from a released spool fails).
    pub fn release(&self) {
        let mut st = self.shared.state.lock();
        st.memory = Vec::new();
        st.reservation = None;
        st.file = None;
        st.batches.clear();
        st.broken = Some("the segment's spool was released".into());
    }

    /// Marks the segment complete: no batch follows.
    pub fn finish(&self) {
        self.shared.progress.send_modify(|p| p.finished = true);
    }

    /// Waits until batch `batch` is stored (`true`) or the segment ended before it
    /// (`false`).
    pub async fn wait_for(&self, batch: usize) -> bool {
        let mut rx = self.shared.progress.subscribe();
        match rx
            .wait_for(|p| p.batches > batch || p.finished)
            .await
            .map(|p| *p)
        {
            Ok(p) => p.batches > batch,
            Err(_) => false,
        }
    }

    /// Piece `piece`'s share of batch `batch`, exactly as it was first produced.
    pub async fn piece(&self, batch: usize, piece: u16) -> Result<Bytes, SpoolError> {
        self.complete()?;
        let k = self.shared.scheme.k as usize;
        let total = self.shared.scheme.total as usize;
        let piece = piece as usize;
        if piece >= total {
            return Err(SpoolError(format!("piece {piece} is outside the scheme")));
        }
        // A data piece needs only its own share; a parity piece needs them all.
        let (first, count) = if piece < k { (piece, 1) } else { (0, k) };
        let (bytes, share_len) = {
            let st = self.shared.state.lock();
            match st.batches.get(batch) {
                Some(Stored::Memory { offset, share_len }) => {
                    let at = offset + first * share_len;
                    let bytes = Bytes::copy_from_slice(&st.memory[at..at + count * share_len]);
                    (Ok(bytes), *share_len)
                }
                Some(Stored::File { offset, share_len }) => (
                    Err((st.file.clone(), offset + (first * share_len) as u64)),
                    *share_len,
                ),
                None => return Err(SpoolError(format!("batch {batch} was never stored"))),
            }
        };
        let bytes = match bytes {
            Ok(bytes) => bytes,
            Err((file, at)) => {
                let file = file.ok_or_else(|| SpoolError("the spool file is gone".into()))?;
                let buf = tokio::task::spawn_blocking(move || {
                    let mut buf = vec![0u8; share_len * count];
                    read_at(&file, &mut buf, at).map(|()| buf)
                })
                .await
                .map_err(|e| SpoolError(e.to_string()))?
                .map_err(|e| SpoolError(format!("reading the spool file: {e}")))?;
                Bytes::from(buf)
            }
        };
        if piece < k {
            return Ok(bytes);
        }
        let data: Vec<Bytes> = (0..k)
            .map(|i| bytes.slice(i * share_len..(i + 1) * share_len))
            .collect();
        let codec = self.shared.codec.clone();
        tokio::task::spawn_blocking(move || parity(&*codec, &data, piece))
            .await
            .map_err(|e| SpoolError(e.to_string()))?
    }
}

/// Codes the parity of one batch again and returns piece `piece` of it.
fn parity(codec: &dyn ErasureCodec, data: &[Bytes], piece: usize) -> Result<Bytes, SpoolError> {
    let len = data.first().map_or(0, Bytes::len);
    let mut shards: Vec<Vec<u8>> = data.iter().map(|d| d.to_vec()).collect();
    shards.resize(codec.total_shards(), vec![0u8; len]);
    let mut refs: Vec<&mut [u8]> = shards.iter_mut().map(|s| s.as_mut_slice()).collect();
    codec
        .encode(&mut refs)
        .map_err(|e| SpoolError(format!("coding parity again: {e}")))?;
    Ok(Bytes::from(std::mem::take(&mut shards[piece])))
}

/// A new file in `dir` that only this process can reach: created exclusively, readable
/// by its owner only, and unlinked at once, so nothing is left behind.
fn unlinked_temp_file(dir: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    for _ in 0..16 {
        let path = dir.join(format!(".uplink-spool-{:016x}", rand::random::<u64>()));
        match options.open(&path) {
            Ok(file) => {
                // On systems that cannot unlink an open file the name stays until the
                // file is closed; removing it is best effort.
                let _ = std::fs::remove_file(&path);
                return Ok(file);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!(
        "no free temporary file name in {}",
        dir.display()
    )))
}

#[cfg(unix)]
fn write_at(file: &std::fs::File, data: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, data, offset)
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn write_at(file: &std::fs::File, mut data: &[u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !data.is_empty() {
        let n = file.seek_write(data, offset)?;
        data = &data[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(windows)]
fn read_at(file: &std::fs::File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = file.seek_read(buf, offset)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Key;
    use crate::erasure::SegmentEncoder;
    use rand::{RngCore, SeedableRng};

    /// Every piece of every batch comes back byte for byte, from memory and from the
    /// file, and memory stays within the budget.
    #[tokio::test]
    async fn pieces_come_back_exactly_from_memory_and_file() {
        let seed = 7;
        println!("seed {seed}");
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let scheme = RedundancyScheme::default();
        let mut encoder = SegmentEncoder::new(scheme, &Key::random());
        let dir = tempfile::tempdir().unwrap();
        let budget = 300 << 10;
        let spool = Spool::new(scheme, budget, dir.path());
        let block = scheme.block_plain_size() as usize;
        let mut originals = Vec::new();
        for i in 0..8 {
            let last = i == 7;
            let len = if last { 1000 } else { 64 * block };
            let mut plain = vec![0u8; len];
            rng.fill_bytes(&mut plain);
            let shares = encoder.encode_batch(&plain, last).unwrap();
            spool.push(&shares).await;
            originals.push(shares);
        }
        spool.finish();
        assert!(spool.memory_used() <= budget, "{}", spool.memory_used());
        spool.complete().unwrap();
        // The temporary file is unlinked: nothing is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        for (b, shares) in originals.iter().enumerate() {
            for p in 0..scheme.total {
                let got = spool.piece(b, p).await.unwrap();
                assert!(got == shares[p as usize], "batch {b} piece {p}");
            }
        }
        assert!(spool.wait_for(7).await);
        assert!(!spool.wait_for(8).await);
    }

    /// Spools share one pool: what one holds the next cannot have (it spills from the
    /// start and still gives every piece back), and a released spool gives it back.
    #[tokio::test]
    async fn spools_share_one_memory_pool() {
        let scheme = RedundancyScheme::default();
        let dir = tempfile::tempdir().unwrap();
        let pool = SpoolMemory::new(1 << 20);
        let first = Spool::with_memory(scheme, pool.reserve(1 << 20), dir.path());
        assert_eq!(pool.available(), 0);
        let second = Spool::with_memory(scheme, pool.reserve(1 << 20), dir.path());
        let mut encoder = SegmentEncoder::new(scheme, &Key::random());
        let plain = vec![5u8; 16 * scheme.block_plain_size() as usize];
        let shares = encoder.encode_batch(&plain, true).unwrap();
        first.push(&shares).await;
        second.push(&shares).await;
        assert!(first.memory_used() > 0);
        assert_eq!(second.memory_used(), 0, "the pool was empty: it spilled");
        for p in 0..scheme.total {
            assert!(second.piece(0, p).await.unwrap() == shares[p as usize]);
        }
        first.release();
        assert_eq!(pool.available(), 1 << 20);
        drop(second);
        assert_eq!(pool.available(), 1 << 20);
    }

    #[tokio::test]
    async fn a_spool_that_cannot_spill_says_so() {
        let scheme = RedundancyScheme::default();
        let mut encoder = SegmentEncoder::new(scheme, &Key::random());
        let spool = Spool::new(scheme, 0, Path::new("/nonexistent/spool/dir"));
        let shares = encoder
            .encode_batch(&vec![1u8; scheme.block_plain_size() as usize], true)
            .unwrap();
        spool.push(&shares).await;
        let err = spool.piece(0, 0).await.unwrap_err();
        assert!(err.to_string().contains("could not be kept"), "{err}");
        assert!(spool.complete().is_err());
    }
}
