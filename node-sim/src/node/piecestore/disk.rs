//! One file per piece on a local file system.
//!
//! Layout under the store directory:
//!
//! ```text
//! pieces/<satellite id>/<first 2 chars of piece id>/<piece id>.piece   committed pieces
//! tmp/<random>.partial                                                  writes in progress
//! ```
//!
//! (ids in base58). A piece is written to `tmp/` and renamed into `pieces/` when it is
//! committed, so a piece file is either absent or complete. Leftovers in `tmp/` (from a
//! crash) are removed when the store is opened; a data directory is used by one process
//! at a time.
//!
//! # Piece file format
//!
//! ```text
//! piece data | postcard(PieceHeader) | header length: u32 big endian | b"SJPIECE1"
//! ```
//!
//! The header is a *trailer*: pieces arrive as streams whose length (and whose signed
//! hash) is only known after the last byte, so the data is written first and the header
//! last. A reader finds the header from the end of the file. A file whose magic, length
//! or header does not check out is reported as [`StoreError::Corrupt`], never served as
//! data.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use rand::RngCore;
use uplink_core::protocol::{NodeId, PieceId};

use super::{PieceHeader, PieceReader, PieceStore, PieceWriter, StoreError, check_range};

/// Last 8 bytes of every piece file.
pub const PIECE_MAGIC: &[u8; 8] = b"SJPIECE1";
/// Header length (4 bytes) plus magic (8 bytes).
const TAIL_LEN: u64 = 12;
/// Upper bound on an encoded header: an order limit, a hash, and block hashes of a large
/// piece at the smallest block size.
const MAX_HEADER_LEN: u64 = 64 << 20;
/// Writes smaller than this are buffered in memory instead of going to a blocking thread.
const WRITE_BUFFER: usize = 256 << 10;

struct Inner {
    pieces_dir: PathBuf,
    tmp_dir: PathBuf,
    sync_writes: bool,
    used: AtomicU64,
    /// Serialises the exists-check-and-rename of commits with deletes.
    lock: Mutex<()>,
}

impl Inner {
    fn satellite_dir(&self, satellite: &NodeId) -> PathBuf {
        self.pieces_dir.join(satellite.to_string())
    }

    fn piece_path(&self, satellite: &NodeId, piece: &PieceId) -> PathBuf {
        let name = piece.to_string();
        self.satellite_dir(satellite)
            .join(&name[..2])
            .join(format!("{name}.piece"))
    }
}

/// Pieces as files under a directory; see the module documentation for the format.
#[derive(Clone)]
pub struct DiskStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DiskStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskStore")
            .field("pieces_dir", &self.inner.pieces_dir)
            .finish()
    }
}

impl DiskStore {
    /// Opens (creating if needed) the store under `dir`, removes unfinished writes and
    /// counts the bytes used. Blocking: call it from `spawn_blocking` in async code if the
    /// store may be large. With `sync_writes`, commits fsync the piece and its directory.
    pub fn open(dir: &Path, sync_writes: bool) -> Result<Self, StoreError> {
        let pieces_dir = dir.join("pieces");
        let tmp_dir = dir.join("tmp");
        std::fs::create_dir_all(&pieces_dir).map_err(|e| io_context(e, "creating", &pieces_dir))?;
        std::fs::create_dir_all(&tmp_dir).map_err(|e| io_context(e, "creating", &tmp_dir))?;
        for entry in std::fs::read_dir(&tmp_dir).map_err(|e| io_context(e, "reading", &tmp_dir))? {
            let path = entry?.path();
            if path.is_file() {
                let _ = std::fs::remove_file(&path);
            }
        }
        let mut used = 0;
        for sat in std::fs::read_dir(&pieces_dir)? {
            let sat = sat?;
            if !sat.file_type()?.is_dir() {
                continue;
            }
            for prefix in std::fs::read_dir(sat.path())? {
                let prefix = prefix?;
                if !prefix.file_type()?.is_dir() {
                    continue;
                }
                for file in std::fs::read_dir(prefix.path())? {
                    let file = file?;
                    if file.path().extension().is_some_and(|e| e == "piece") {
                        used += file.metadata()?.len();
                    }
                }
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                pieces_dir,
                tmp_dir,
                sync_writes,
                used: AtomicU64::new(used),
                lock: Mutex::new(()),
            }),
        })
    }

    /// Where the committed piece lives (whether or not it exists).
    pub fn piece_path(&self, satellite: &NodeId, piece: &PieceId) -> PathBuf {
        self.inner.piece_path(satellite, piece)
    }
}

fn io_context(e: std::io::Error, what: &str, path: &Path) -> StoreError {
    StoreError::from(std::io::Error::new(
        e.kind(),
        format!("{what} {}: {e}", path.display()),
    ))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(format!("blocking task failed: {e}"))))?
}

#[async_trait]
impl PieceStore for DiskStore {
    async fn create(
        &self,
        satellite: NodeId,
        piece: PieceId,
    ) -> Result<Box<dyn PieceWriter>, StoreError> {
        let inner = self.inner.clone();
        blocking(move || {
            let final_path = inner.piece_path(&satellite, &piece);
            if final_path.exists() {
                return Err(StoreError::AlreadyExists);
            }
            let mut name = [0u8; 12];
            rand::rngs::OsRng.fill_bytes(&mut name);
            let tmp_path = inner.tmp_dir.join(format!("{}.partial", hex::encode(name)));
            let file = File::options()
                .write(true)
                .create_new(true)
                .open(&tmp_path)
                .map_err(|e| io_context(e, "creating", &tmp_path))?;
            Ok(Box::new(DiskWriter {
                inner,
                tmp_path,
                final_path,
                file: Some(BufWriter::with_capacity(WRITE_BUFFER, file)),
                size: 0,
                done: false,
            }) as Box<dyn PieceWriter>)
        })
        .await
    }

    async fn open(
        &self,
        satellite: NodeId,
        piece: PieceId,
    ) -> Result<Box<dyn PieceReader>, StoreError> {
        let path = self.inner.piece_path(&satellite, &piece);
        blocking(move || {
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(StoreError::NotFound);
                }
                Err(e) => return Err(io_context(e, "opening", &path)),
            };
            let (header, size) = read_trailer(&file, &path)?;
            Ok(Box::new(DiskReader {
                file: Arc::new(file),
                header,
                size,
            }) as Box<dyn PieceReader>)
        })
        .await
    }

    async fn delete(&self, satellite: NodeId, piece: PieceId) -> Result<bool, StoreError> {
        let inner = self.inner.clone();
        blocking(move || {
            let path = inner.piece_path(&satellite, &piece);
            let _guard = inner.lock.lock();
            let len = match std::fs::metadata(&path) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(io_context(e, "inspecting", &path)),
            };
            std::fs::remove_file(&path).map_err(|e| io_context(e, "removing", &path))?;
            inner.used.fetch_sub(len, Ordering::Relaxed);
            Ok(true)
        })
        .await
    }

    async fn list(&self, satellite: NodeId) -> Result<Vec<PieceId>, StoreError> {
        let dir = self.inner.satellite_dir(&satellite);
        blocking(move || {
            let prefixes = match std::fs::read_dir(&dir) {
                Ok(p) => p,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(io_context(e, "reading", &dir)),
            };
            let mut ids = Vec::new();
            for prefix in prefixes {
                let prefix = prefix?;
                if !prefix.file_type()?.is_dir() {
                    continue;
                }
                for file in std::fs::read_dir(prefix.path())? {
                    let path = file?.path();
                    if path.extension().is_some_and(|e| e == "piece")
                        && let Some(id) = path
                            .file_stem()
                            .and_then(|s| s.to_str())
                            .and_then(|s| s.parse::<PieceId>().ok())
                    {
                        ids.push(id);
                    }
                }
            }
            Ok(ids)
        })
        .await
    }

    async fn used_bytes(&self) -> Result<u64, StoreError> {
        Ok(self.inner.used.load(Ordering::Relaxed))
    }
}

/// Reads and checks the trailer; returns the header and the size of the piece data.
fn read_trailer(file: &File, path: &Path) -> Result<(PieceHeader, u64), StoreError> {
    let corrupt = |what: String| StoreError::Corrupt(format!("{}: {what}", path.display()));
    let len = file.metadata()?.len();
    if len < TAIL_LEN {
        return Err(corrupt(format!(
            "file of {len} bytes is too short to hold a piece trailer"
        )));
    }
    let mut tail = [0u8; TAIL_LEN as usize];
    read_exact_at(file, &mut tail, len - TAIL_LEN)?;
    if &tail[4..] != PIECE_MAGIC {
        return Err(corrupt("piece trailer magic is missing".into()));
    }
    let header_len = u32::from_be_bytes(tail[..4].try_into().expect("4 bytes")) as u64;
    if header_len > MAX_HEADER_LEN || header_len > len - TAIL_LEN {
        return Err(corrupt(format!(
            "header length {header_len} does not fit a {len}-byte file"
        )));
    }
    let data_len = len - TAIL_LEN - header_len;
    let mut encoded = vec![0u8; header_len as usize];
    read_exact_at(file, &mut encoded, data_len)?;
    let (header, rest) = postcard::take_from_bytes::<PieceHeader>(&encoded)
        .map_err(|e| corrupt(format!("piece header does not decode: {e}")))?;
    if !rest.is_empty() {
        return Err(corrupt(format!(
            "{} stray bytes after the piece header",
            rest.len()
        )));
    }
    Ok((header, data_len))
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

struct DiskWriter {
    inner: Arc<Inner>,
    tmp_path: PathBuf,
    final_path: PathBuf,
    /// `None` only while a blocking write holds it, or after commit/cancel.
    file: Option<BufWriter<File>>,
    size: u64,
    done: bool,
}

impl DiskWriter {
    fn take_file(&mut self) -> Result<BufWriter<File>, StoreError> {
        self.file.take().ok_or_else(|| {
            StoreError::Io(std::io::Error::other(
                "piece writer was interrupted by an earlier failure",
            ))
        })
    }
}

#[async_trait]
impl PieceWriter for DiskWriter {
    async fn write(&mut self, data: &[u8]) -> Result<(), StoreError> {
        let file = self.file.as_mut().ok_or_else(|| {
            StoreError::Io(std::io::Error::other(
                "piece writer was interrupted by an earlier failure",
            ))
        })?;
        if file.capacity() - file.buffer().len() >= data.len() {
            // Fits the buffer: no system call, no need for a blocking thread.
            file.write_all(data)?;
        } else {
            let mut file = self.take_file()?;
            let data = data.to_vec();
            let file = blocking(move || {
                file.write_all(&data)?;
                Ok(file)
            })
            .await?;
            self.file = Some(file);
        }
        self.size += data.len() as u64;
        Ok(())
    }

    fn size(&self) -> u64 {
        self.size
    }

    async fn commit(mut self: Box<Self>, header: PieceHeader) -> Result<(), StoreError> {
        let file = self.take_file()?;
        let encoded = postcard::to_allocvec(&header)
            .map_err(|e| StoreError::Corrupt(format!("piece header does not encode: {e}")))?;
        let inner = self.inner.clone();
        let (tmp, dst) = (self.tmp_path.clone(), self.final_path.clone());
        let result = blocking(move || {
            let mut file = file;
            file.write_all(&encoded)?;
            file.write_all(&(encoded.len() as u32).to_be_bytes())?;
            file.write_all(PIECE_MAGIC)?;
            let file = file
                .into_inner()
                .map_err(|e| StoreError::from(e.into_error()))?;
            if inner.sync_writes {
                file.sync_all()?;
            }
            let len = file.metadata()?.len();
            drop(file);
            let dir = dst.parent().expect("piece paths have a parent");
            std::fs::create_dir_all(dir).map_err(|e| io_context(e, "creating", dir))?;
            {
                let _guard = inner.lock.lock();
                if dst.exists() {
                    return Err(StoreError::AlreadyExists);
                }
                std::fs::rename(&tmp, &dst).map_err(|e| io_context(e, "renaming into", &dst))?;
                inner.used.fetch_add(len, Ordering::Relaxed);
            }
            if inner.sync_writes {
                // Make the rename itself durable.
                File::open(dir).and_then(|d| d.sync_all())?;
            }
            Ok(())
        })
        .await;
        // After a successful rename there is nothing left to clean up; after a failure,
        // dropping `self` removes the temporary file.
        if result.is_ok() {
            self.done = true;
        }
        result
    }

    async fn cancel(mut self: Box<Self>) -> Result<(), StoreError> {
        self.done = true;
        drop(self.file.take());
        let tmp = self.tmp_path.clone();
        blocking(move || match std::fs::remove_file(&tmp) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_context(e, "removing", &tmp)),
        })
        .await
    }
}

impl Drop for DiskWriter {
    fn drop(&mut self) {
        if !self.done {
            drop(self.file.take());
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

struct DiskReader {
    file: Arc<File>,
    header: PieceHeader,
    size: u64,
}

#[async_trait]
impl PieceReader for DiskReader {
    fn header(&self) -> &PieceHeader {
        &self.header
    }

    fn size(&self) -> u64 {
        self.size
    }

    async fn read_at(&self, offset: u64, len: usize) -> Result<Bytes, StoreError> {
        check_range(offset, len, self.size)?;
        if len == 0 {
            return Ok(Bytes::new());
        }
        let file = self.file.clone();
        blocking(move || {
            let mut buf = vec![0u8; len];
            read_exact_at(&file, &mut buf, offset)?;
            Ok(Bytes::from(buf))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::conformance;
    use super::*;

    #[tokio::test]
    async fn conformance() {
        let dirs = Arc::new(Mutex::new(Vec::new()));
        let keep = dirs.clone();
        conformance::run_all(move || {
            let dir = tempfile::tempdir().unwrap();
            let store = DiskStore::open(dir.path(), false).unwrap();
            keep.lock().push(dir);
            Arc::new(store)
        })
        .await;
    }

    #[tokio::test]
    async fn conformance_with_sync_writes() {
        let dir = tempfile::tempdir().unwrap();
        let n = AtomicU64::new(0);
        let root = dir.path().to_path_buf();
        conformance::run_all(move || {
            let sub = root.join(n.fetch_add(1, Ordering::Relaxed).to_string());
            Arc::new(DiskStore::open(&sub, true).unwrap())
        })
        .await;
    }

    #[tokio::test]
    async fn pieces_survive_reopening_and_unfinished_writes_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let (sat, piece) = (NodeId::random(), PieceId::random());
        let data = conformance::test_data(100_000, 3);
        let header = conformance::test_header(sat, piece, &data);
        let used;
        {
            let store = DiskStore::open(dir.path(), true).unwrap();
            let mut w = store.create(sat, piece).await.unwrap();
            w.write(&data).await.unwrap();
            w.commit(header.clone()).await.unwrap();
            // An unfinished write, as a crash would leave it.
            let mut w = store.create(sat, PieceId::random()).await.unwrap();
            w.write(b"half a piece").await.unwrap();
            std::mem::forget(w);
            used = store.used_bytes().await.unwrap();
            assert_eq!(
                std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
                1
            );
        }
        let store = DiskStore::open(dir.path(), true).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        assert_eq!(store.used_bytes().await.unwrap(), used);
        assert_eq!(store.list(sat).await.unwrap(), vec![piece]);
        let r = store.open(sat, piece).await.unwrap();
        assert_eq!(r.header(), &header);
        assert_eq!(r.read_at(0, data.len()).await.unwrap(), data);
    }

    #[tokio::test]
    async fn cancel_and_drop_remove_partial_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path(), false).unwrap();
        let tmp_files = || std::fs::read_dir(dir.path().join("tmp")).unwrap().count();
        let sat = NodeId::random();
        // Larger than the write buffer, so part of it reaches the file.
        let data = conformance::test_data(3 * WRITE_BUFFER, 4);
        let mut w = store.create(sat, PieceId::random()).await.unwrap();
        w.write(&data).await.unwrap();
        assert_eq!(tmp_files(), 1);
        w.cancel().await.unwrap();
        assert_eq!(tmp_files(), 0, "cancel left a partial file");
        let mut w = store.create(sat, PieceId::random()).await.unwrap();
        w.write(&data).await.unwrap();
        drop(w);
        assert_eq!(tmp_files(), 0, "drop left a partial file");
        // A commit that loses the race leaves nothing either.
        let piece = PieceId::random();
        let mut a = store.create(sat, piece).await.unwrap();
        let mut b = store.create(sat, piece).await.unwrap();
        a.write(b"a").await.unwrap();
        b.write(b"b").await.unwrap();
        a.commit(conformance::test_header(sat, piece, b"a"))
            .await
            .unwrap();
        assert!(matches!(
            b.commit(conformance::test_header(sat, piece, b"b")).await,
            Err(StoreError::AlreadyExists)
        ));
        assert_eq!(tmp_files(), 0, "losing commit left a partial file");
    }

    #[tokio::test]
    async fn damaged_files_read_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path(), false).unwrap();
        let sat = NodeId::random();
        let data = conformance::test_data(10_000, 5);

        type Damage = Box<dyn Fn(&mut Vec<u8>)>;
        let damage: Vec<(&str, Damage)> = vec![
            (
                "truncated by one byte",
                Box::new(|f| f.truncate(f.len() - 1)),
            ),
            ("truncated into the data", Box::new(|f| f.truncate(5000))),
            ("emptied", Box::new(|f| f.clear())),
            (
                "magic garbled",
                Box::new(|f| {
                    let n = f.len();
                    f[n - 3] ^= 0xff;
                }),
            ),
            (
                "header length garbled",
                Box::new(|f| {
                    let n = f.len();
                    f[n - 12] = 0x7f;
                }),
            ),
            (
                "header garbled",
                Box::new(|f| {
                    let n = f.len();
                    let header_len =
                        u32::from_be_bytes(f[n - 12..n - 8].try_into().unwrap()) as usize;
                    for b in &mut f[n - 12 - header_len..n - 12] {
                        *b = 0xff;
                    }
                }),
            ),
        ];
        for (what, damage) in damage {
            let piece = PieceId::random();
            let mut w = store.create(sat, piece).await.unwrap();
            w.write(&data).await.unwrap();
            w.commit(conformance::test_header(sat, piece, &data))
                .await
                .unwrap();
            let path = store.piece_path(&sat, &piece);
            let mut bytes = std::fs::read(&path).unwrap();
            damage(&mut bytes);
            std::fs::write(&path, &bytes).unwrap();
            match store.open(sat, piece).await {
                Err(StoreError::Corrupt(msg)) => {
                    assert!(msg.contains(&piece.to_string()), "{what}: {msg}")
                }
                Err(e) => panic!("{what}: expected Corrupt, got {e}"),
                Ok(r) => panic!("{what}: damaged file opened as a {}-byte piece", r.size()),
            }
        }
    }

    #[tokio::test]
    async fn piece_files_follow_the_documented_layout() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path(), false).unwrap();
        let (sat, piece) = (NodeId::random(), PieceId::random());
        let data = conformance::test_data(1000, 1);
        let header = conformance::test_header(sat, piece, &data);
        let mut w = store.create(sat, piece).await.unwrap();
        w.write(&data).await.unwrap();
        w.commit(header.clone()).await.unwrap();
        let name = piece.to_string();
        let path = dir
            .path()
            .join("pieces")
            .join(sat.to_string())
            .join(&name[..2])
            .join(format!("{name}.piece"));
        let bytes = std::fs::read(&path).unwrap();
        let encoded = postcard::to_allocvec(&header).unwrap();
        assert_eq!(&bytes[..1000], &data[..]);
        assert_eq!(&bytes[1000..1000 + encoded.len()], &encoded[..]);
        let n = bytes.len();
        assert_eq!(&bytes[n - 12..n - 8], &(encoded.len() as u32).to_be_bytes());
        assert_eq!(&bytes[n - 8..], PIECE_MAGIC);
        assert_eq!(store.used_bytes().await.unwrap(), n as u64);
    }
}
