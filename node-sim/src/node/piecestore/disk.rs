//! One file per piece on a local file system.
//!
//! Layout under the store directory:
//!
//! ```text
//! pieces/<satellite id>/<first 2 chars of piece id>/<piece id>.piece   committed pieces
//! trash/<satellite id>/<first 2 chars of piece id>/<piece id>.piece    trashed pieces
//! tmp/<random>.partial                                                  writes in progress
//! ```
//!
//! (ids in base58). A piece is written to `tmp/` and renamed into `pieces/` when it is
//! committed, so a piece file is either absent or complete. Leftovers in `tmp/` (from a
//! crash) are removed when the store is opened, and those older than a day by
//! [`PieceStore::remove_stale_partials`]; a data directory is used by one process at a
//! time.
//!
//! Trashing renames a piece file from `pieces/` to `trash/` (restoring renames it back),
//! after setting its modification time to the time of trashing: that time is what
//! [`PieceStore::empty_trash`] compares. It is set before the move, so a trashed file
//! never carries its older commit time. Copying a data directory without preserving
//! times only makes trash last longer.
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

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use parking_lot::Mutex;
use rand::RngCore;
use uplink_core::protocol::{NodeId, PieceId};

use super::{
    PieceHeader, PieceInfo, PieceReader, PieceStore, PieceWriter, StoreError, TrashTotals,
    TrashedPiece, check_range,
};

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
    trash_dir: PathBuf,
    tmp_dir: PathBuf,
    sync_writes: bool,
    used: AtomicU64,
    /// Serialises the exists-check-and-rename of commits with deletes and with moves
    /// in and out of trash.
    lock: Mutex<()>,
}

impl Inner {
    fn satellite_dir(&self, satellite: &NodeId) -> PathBuf {
        self.pieces_dir.join(satellite.to_string())
    }

    fn trash_satellite_dir(&self, satellite: &NodeId) -> PathBuf {
        self.trash_dir.join(satellite.to_string())
    }

    fn piece_path(&self, satellite: &NodeId, piece: &PieceId) -> PathBuf {
        piece_file(&self.satellite_dir(satellite), piece)
    }

    fn trash_path(&self, satellite: &NodeId, piece: &PieceId) -> PathBuf {
        piece_file(&self.trash_satellite_dir(satellite), piece)
    }
}

fn piece_file(satellite_dir: &Path, piece: &PieceId) -> PathBuf {
    let name = piece.to_string();
    satellite_dir.join(&name[..2]).join(format!("{name}.piece"))
}

/// The prefix directories under a satellite's directory; none if it does not exist.
fn prefix_dirs(satellite_dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let entries = match std::fs::read_dir(satellite_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_context(e, "reading", satellite_dir)),
    };
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_context(e, "reading", satellite_dir))?;
        if entry.file_type()?.is_dir() {
            dirs.push(entry.path());
        }
    }
    Ok(dirs)
}

/// The piece files in one prefix directory, with their ids; none if it does not exist.
fn piece_files(prefix_dir: &Path) -> Result<Vec<(PieceId, PathBuf)>, StoreError> {
    let entries = match std::fs::read_dir(prefix_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_context(e, "reading", prefix_dir)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| io_context(e, "reading", prefix_dir))?
            .path();
        if path.extension().is_some_and(|e| e == "piece")
            && let Some(id) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<PieceId>().ok())
        {
            files.push((id, path));
        }
    }
    Ok(files)
}

/// Every piece file under a satellite's directory (of `pieces/` or `trash/`).
fn all_piece_files(satellite_dir: &Path) -> Result<Vec<(PieceId, PathBuf)>, StoreError> {
    let mut files = Vec::new();
    for prefix in prefix_dirs(satellite_dir)? {
        files.extend(piece_files(&prefix)?);
    }
    Ok(files)
}

/// Satellite ids named by the directories under `dir`.
fn satellite_dirs(dir: &Path) -> Result<Vec<NodeId>, StoreError> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_context(e, "reading", dir))? {
        let entry = entry.map_err(|e| io_context(e, "reading", dir))?;
        if entry.file_type()?.is_dir()
            && let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<NodeId>().ok())
        {
            ids.push(id);
        }
    }
    Ok(ids)
}

fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn modified_secs(meta: &std::fs::Metadata) -> Result<i64, StoreError> {
    Ok(unix_secs(meta.modified()?))
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
        let trash_dir = dir.join("trash");
        let tmp_dir = dir.join("tmp");
        for d in [&pieces_dir, &trash_dir, &tmp_dir] {
            std::fs::create_dir_all(d).map_err(|e| io_context(e, "creating", d))?;
        }
        for entry in std::fs::read_dir(&tmp_dir).map_err(|e| io_context(e, "reading", &tmp_dir))? {
            let path = entry?.path();
            if path.is_file() {
                let _ = std::fs::remove_file(&path);
            }
        }
        let mut used = 0;
        for top in [&pieces_dir, &trash_dir] {
            for sat in satellite_dirs(top)? {
                for (_, path) in all_piece_files(&top.join(sat.to_string()))? {
                    used += std::fs::metadata(&path)
                        .map_err(|e| io_context(e, "inspecting", &path))?
                        .len();
                }
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                pieces_dir,
                trash_dir,
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

    /// Where the piece lives while in trash (whether or not it is there).
    pub fn trash_path(&self, satellite: &NodeId, piece: &PieceId) -> PathBuf {
        self.inner.trash_path(satellite, piece)
    }

    /// The directory of unfinished writes.
    pub fn tmp_dir(&self) -> &Path {
        &self.inner.tmp_dir
    }
}

/// Reads the headers of the pieces in one prefix directory.
fn piece_infos(prefix_dir: &Path) -> Vec<Result<PieceInfo, StoreError>> {
    let files = match piece_files(prefix_dir) {
        Ok(f) => f,
        Err(e) => return vec![Err(e)],
    };
    let mut infos = Vec::with_capacity(files.len());
    for (piece_id, path) in files {
        let file = match File::open(&path) {
            Ok(f) => f,
            // Deleted or trashed since the directory was read.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                infos.push(Err(io_context(e, "opening", &path)));
                continue;
            }
        };
        let info = file
            .metadata()
            .map_err(|e| io_context(e, "inspecting", &path))
            .and_then(|meta| {
                let (header, _) = read_trailer(&file, &path)?;
                Ok(PieceInfo {
                    piece_id,
                    stored_at: header.stored_at,
                    footprint: meta.len(),
                })
            });
        infos.push(info);
    }
    infos
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
            Ok(all_piece_files(&dir)?
                .into_iter()
                .map(|(id, _)| id)
                .collect())
        })
        .await
    }

    async fn used_bytes(&self) -> Result<u64, StoreError> {
        Ok(self.inner.used.load(Ordering::Relaxed))
    }

    fn pieces(&self, satellite: NodeId) -> BoxStream<'static, Result<PieceInfo, StoreError>> {
        // One prefix directory at a time: memory holds one directory's pieces, not all.
        let dir = self.inner.satellite_dir(&satellite);
        futures::stream::unfold(None::<VecDeque<PathBuf>>, move |pending| {
            let dir = dir.clone();
            async move {
                let mut pending = match pending {
                    Some(p) => p,
                    None => match blocking(move || prefix_dirs(&dir)).await {
                        Ok(dirs) => VecDeque::from(dirs),
                        Err(e) => return Some((vec![Err(e)], Some(VecDeque::new()))),
                    },
                };
                let prefix = pending.pop_front()?;
                let infos = match blocking(move || Ok(piece_infos(&prefix))).await {
                    Ok(infos) => infos,
                    Err(e) => vec![Err(e)],
                };
                Some((infos, Some(pending)))
            }
        })
        .flat_map(futures::stream::iter)
        .boxed()
    }

    async fn satellites(&self) -> Result<Vec<NodeId>, StoreError> {
        let inner = self.inner.clone();
        blocking(move || {
            let mut ids = satellite_dirs(&inner.pieces_dir)?;
            ids.extend(satellite_dirs(&inner.trash_dir)?);
            ids.sort();
            ids.dedup();
            Ok(ids)
        })
        .await
    }

    async fn trash(&self, satellite: NodeId, piece: PieceId) -> Result<bool, StoreError> {
        let inner = self.inner.clone();
        blocking(move || {
            let src = inner.piece_path(&satellite, &piece);
            let dst = inner.trash_path(&satellite, &piece);
            let _guard = inner.lock.lock();
            let file = match File::open(&src) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(io_context(e, "opening", &src)),
            };
            file.set_modified(SystemTime::now())
                .map_err(|e| io_context(e, "setting the trash time of", &src))?;
            drop(file);
            let dir = dst.parent().expect("piece paths have a parent");
            std::fs::create_dir_all(dir).map_err(|e| io_context(e, "creating", dir))?;
            let replaced = match std::fs::metadata(&dst) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(e) => return Err(io_context(e, "inspecting", &dst)),
            };
            std::fs::rename(&src, &dst).map_err(|e| io_context(e, "moving to trash", &src))?;
            inner.used.fetch_sub(replaced, Ordering::Relaxed);
            Ok(true)
        })
        .await
    }

    async fn list_trash(&self, satellite: NodeId) -> Result<Vec<TrashedPiece>, StoreError> {
        let dir = self.inner.trash_satellite_dir(&satellite);
        blocking(move || {
            let mut out = Vec::new();
            for (piece_id, path) in all_piece_files(&dir)? {
                let meta = match std::fs::metadata(&path) {
                    Ok(m) => m,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io_context(e, "inspecting", &path)),
                };
                out.push(TrashedPiece {
                    piece_id,
                    trashed_at: modified_secs(&meta)?,
                    footprint: meta.len(),
                });
            }
            Ok(out)
        })
        .await
    }

    async fn restore_trash(&self, satellite: NodeId) -> Result<TrashTotals, StoreError> {
        let inner = self.inner.clone();
        blocking(move || {
            let mut restored = TrashTotals::default();
            let mut kept = 0u64;
            for (piece, src) in all_piece_files(&inner.trash_satellite_dir(&satellite))? {
                let dst = inner.piece_path(&satellite, &piece);
                let _guard = inner.lock.lock();
                let len = match std::fs::metadata(&src) {
                    Ok(m) => m.len(),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io_context(e, "inspecting", &src)),
                };
                if dst.exists() {
                    kept += 1;
                    continue;
                }
                let dir = dst.parent().expect("piece paths have a parent");
                std::fs::create_dir_all(dir).map_err(|e| io_context(e, "creating", dir))?;
                std::fs::rename(&src, &dst)
                    .map_err(|e| io_context(e, "restoring from trash", &src))?;
                restored.add(len);
            }
            if kept > 0 {
                tracing::warn!(
                    %satellite,
                    kept,
                    "trashed pieces not restored: pieces of the same ids were stored since"
                );
            }
            Ok(restored)
        })
        .await
    }

    async fn empty_trash(
        &self,
        satellite: NodeId,
        trashed_before: i64,
    ) -> Result<TrashTotals, StoreError> {
        let inner = self.inner.clone();
        blocking(move || {
            let mut emptied = TrashTotals::default();
            for (_, path) in all_piece_files(&inner.trash_satellite_dir(&satellite))? {
                let _guard = inner.lock.lock();
                let meta = match std::fs::metadata(&path) {
                    Ok(m) => m,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io_context(e, "inspecting", &path)),
                };
                if modified_secs(&meta)? >= trashed_before {
                    continue;
                }
                std::fs::remove_file(&path).map_err(|e| io_context(e, "removing", &path))?;
                inner.used.fetch_sub(meta.len(), Ordering::Relaxed);
                emptied.add(meta.len());
            }
            Ok(emptied)
        })
        .await
    }

    async fn remove_stale_partials(&self, modified_before: i64) -> Result<u64, StoreError> {
        let tmp = self.inner.tmp_dir.clone();
        blocking(move || {
            let mut removed = 0;
            for entry in std::fs::read_dir(&tmp).map_err(|e| io_context(e, "reading", &tmp))? {
                let entry = entry.map_err(|e| io_context(e, "reading", &tmp))?;
                let path = entry.path();
                let Ok(meta) = entry.metadata() else { continue };
                if !meta.is_file() || modified_secs(&meta)? >= modified_before {
                    continue;
                }
                match std::fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_context(e, "removing", &path)),
                }
            }
            Ok(removed)
        })
        .await
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

    #[tokio::test]
    async fn trash_follows_the_documented_layout_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let (sat, piece) = (NodeId::random(), PieceId::random());
        let data = conformance::test_data(20_000, 6);
        let header = conformance::test_header(sat, piece, &data);
        let used;
        {
            let store = DiskStore::open(dir.path(), false).unwrap();
            let mut w = store.create(sat, piece).await.unwrap();
            w.write(&data).await.unwrap();
            w.commit(header.clone()).await.unwrap();
            let live = store.piece_path(&sat, &piece);
            // As if committed long ago: the trash time must not be the commit time.
            File::open(&live)
                .unwrap()
                .set_modified(SystemTime::now() - std::time::Duration::from_secs(30 * 86_400))
                .unwrap();
            used = store.used_bytes().await.unwrap();
            assert!(store.trash(sat, piece).await.unwrap());
            let name = piece.to_string();
            let trashed = dir
                .path()
                .join("trash")
                .join(sat.to_string())
                .join(&name[..2])
                .join(format!("{name}.piece"));
            assert_eq!(store.trash_path(&sat, &piece), trashed);
            assert!(!live.exists() && trashed.exists());
            let mtime = unix_secs(std::fs::metadata(&trashed).unwrap().modified().unwrap());
            let now = uplink_core::protocol::now_unix();
            assert!(
                (now - 60..=now + 1).contains(&mtime),
                "trash time {mtime}, now {now}"
            );
            assert_eq!(
                store.empty_trash(sat, now - 3600).await.unwrap(),
                TrashTotals::default(),
                "a piece trashed now is emptied by its commit time"
            );
        }
        let store = DiskStore::open(dir.path(), false).unwrap();
        assert_eq!(
            store.used_bytes().await.unwrap(),
            used,
            "trash counted on reopening"
        );
        assert_eq!(store.list_trash(sat).await.unwrap().len(), 1);
        assert_eq!(store.restore_trash(sat).await.unwrap().pieces, 1);
        let r = store.open(sat, piece).await.unwrap();
        assert_eq!(r.header(), &header);
        assert_eq!(r.read_at(0, data.len()).await.unwrap(), data);
    }

    #[tokio::test]
    async fn stale_partial_files_are_removed_and_fresh_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path(), false).unwrap();
        let tmp = store.tmp_dir().to_path_buf();
        // Left behind by a write whose removal failed, two days ago.
        let stale = tmp.join("0123.partial");
        std::fs::write(&stale, b"half a piece").unwrap();
        File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(SystemTime::now() - std::time::Duration::from_secs(2 * 86_400))
            .unwrap();
        let fresh = tmp.join("4567.partial");
        std::fs::write(&fresh, b"being written").unwrap();
        let day_ago = uplink_core::protocol::now_unix() - 86_400;
        assert_eq!(store.remove_stale_partials(day_ago).await.unwrap(), 1);
        assert!(!stale.exists(), "stale partial file kept");
        assert!(fresh.exists(), "fresh partial file removed");
        assert_eq!(store.remove_stale_partials(day_ago).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn pieces_reports_corrupt_files_and_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn PieceStore> = Arc::new(DiskStore::open(dir.path(), false).unwrap());
        let sat = NodeId::random();
        let mut ids = Vec::new();
        for i in 0..30u8 {
            let piece = PieceId::random();
            let data = conformance::test_data(100, i);
            let mut w = store.create(sat, piece).await.unwrap();
            w.write(&data).await.unwrap();
            w.commit(conformance::test_header(sat, piece, &data))
                .await
                .unwrap();
            ids.push(piece);
        }
        let disk = DiskStore::open(dir.path(), false).unwrap();
        std::fs::write(disk.piece_path(&sat, &ids[0]), b"garbage").unwrap();
        let mut stream = store.pieces(sat);
        let (mut ok, mut errors) = (Vec::new(), Vec::new());
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => ok.push(info.piece_id),
                Err(e) => errors.push(e.to_string()),
            }
        }
        assert_eq!(ok.len(), 29);
        assert!(!ok.contains(&ids[0]));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains(&ids[0].to_string()), "{}", errors[0]);
    }
}
