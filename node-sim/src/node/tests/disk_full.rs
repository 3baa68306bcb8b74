//! Full disks: what a node reports at check-in and how it refuses uploads, with the
//! simulator's disk faults and on a real, small file system.

use std::io::Write;
use std::process::Command;

use super::raw::{RawConnection, parse_response};
use super::*;
use crate::sim::faults::{FillingDisk, LimitedSpace};

/// A node whose check-ins go to a recording stand-in satellite.
struct Recorded {
    net: Net,
    seen: Arc<parking_lot::Mutex<Vec<wire::CheckInRequest>>>,
    satellite: actix_web::dev::ServerHandle,
}

impl Recorded {
    async fn start(
        dir: TempDir,
        data_dir: PathBuf,
        edit: impl FnOnce(&mut NodeConfig),
        parts: impl FnOnce(&NodeConfig) -> (Arc<dyn PieceStore>, Arc<dyn SpaceProbe>),
    ) -> Self {
        let sat = Identity::generate(0);
        let mut config = test_config(&data_dir, &sat);
        edit(&mut config);
        let mode = Mode::from_plain_http(config.plain_http);
        let (addr, satellite, seen) = fake_satellite(sat.clone(), sat.node_id(), mode).await;
        config.satellites[0].address = addr;
        let (store, space) = parts(&config);
        let node = StorageNode::start_with(config, store, space).await.unwrap();
        let net = Net {
            sat,
            base: base_of(&node),
            client: client_for(&node),
            node,
            _dir: dir,
        };
        Self {
            net,
            seen,
            satellite,
        }
    }

    /// Checks in now; the free space the node stated.
    async fn free_at_check_in(&self) -> u64 {
        self.net.node.check_in_now().await.unwrap();
        self.seen
            .lock()
            .last()
            .expect("the satellite saw a check-in")
            .capacity
            .free_bytes
    }

    async fn stop(self) {
        self.net.node.stop().await;
        self.satellite.stop(false).await;
    }
}

impl Net {
    /// Sends an upload of `content` under a limit of `max` bytes; the raw response.
    async fn try_upload(&self, piece: PieceId, content: &[u8], max: u64) -> reqwest::Response {
        let t = self.transfer(PieceAction::Put, piece, max);
        let hash = piece_hash(&t.piece_key, piece, content);
        self.post(UPLOAD_PATH, upload_body(&t.limit, content, Some(&hash)))
            .await
    }
}

async fn disk_store(config: &NodeConfig) -> Arc<dyn PieceStore> {
    StorageNode::open_store(config).await.unwrap()
}

#[tokio::test]
async fn a_disk_that_looks_full_is_reported_at_check_in_and_refuses_uploads_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_path_buf();
    let config = test_config(&data_dir, &Identity::generate(0));
    let store = disk_store(&config).await;
    let space = Arc::new(LimitedSpace::new(
        StorageNode::space_probe(&config),
        1_000_000,
    ));
    let probe = space.clone();
    let r = Recorded::start(
        dir,
        data_dir,
        |c| {
            c.disk_reserve_bytes = 100_000;
            // Raw HTTP below.
            c.plain_http = true;
        },
        move |_| (store, probe),
    )
    .await;
    assert_eq!(
        r.free_at_check_in().await,
        900_000,
        "the disk's free space less the reserve, not the 1 TiB allowance"
    );

    let piece = PieceId::random();
    let resp = r.net.try_upload(piece, &data(1000, 1), 900_001).await;
    expect_error(
        resp,
        ErrorCode::DiskFull,
        "room for 900000 more bytes and the order limit allows 900001",
        "limit larger than the disk",
    )
    .await;
    r.net
        .assert_not_stored(piece, "limit larger than the disk")
        .await;

    // An upload in progress holds the room its limit allows: a second one that would
    // not fit beside it is refused, and fits again once the first is gone.
    let first = r.net.transfer(PieceAction::Put, PieceId::random(), 600_000);
    let frame = wire::control_frame(FrameKind::OrderLimit, &first.limit);
    let mut open = RawConnection::post(r.net.node.listen_addr(), UPLOAD_PATH, 700_000).await;
    open.send(&frame).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    // The room is reserved before the piece's temporary file is made: wait for both.
    while r.net.node.space().report().await.unwrap().free != 300_000 || tmp_files(&r.net.node) != 1
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first upload never reserved its room and began writing"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let second = PieceId::random();
    let resp = r.net.try_upload(second, &data(1000, 2), 300_001).await;
    expect_error(
        resp,
        ErrorCode::DiskFull,
        "room for 300000 more bytes",
        "beside an upload in progress",
    )
    .await;
    assert_eq!(
        tmp_files(&r.net.node),
        1,
        "only the first upload is being written"
    );
    drop(open);
    while r.net.node.space().report().await.unwrap().free != 900_000 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the abandoned upload still holds its room"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    r.net
        .assert_not_stored(second, "beside an upload in progress")
        .await;
    r.net.upload(second, &data(300_001, 2)).await;

    // The disk fills up (another program): check-ins say so, and nothing more is taken.
    space.set(50_000);
    assert_eq!(
        r.free_at_check_in().await,
        0,
        "less than the reserve is left"
    );
    let piece = PieceId::random();
    let resp = r.net.try_upload(piece, &data(10, 3), 10).await;
    expect_error(resp, ErrorCode::DiskFull, "room for 0 more bytes", "full").await;
    r.net.assert_not_stored(piece, "full").await;
    r.stop().await;
}

#[tokio::test]
async fn a_disk_that_runs_out_during_an_upload_answers_disk_full_and_keeps_nothing() {
    let net = start().await;
    let config = test_config(net.node.data_dir(), &net.sat);
    net.node.stop().await;
    let filling = Arc::new(FillingDisk::new(disk_store(&config).await, 150_000));
    let node = StorageNode::start_with(
        config.clone(),
        filling.clone(),
        StorageNode::space_probe(&config),
    )
    .await
    .unwrap();
    let net = Net {
        base: base_of(&node),
        node,
        ..net
    };

    let piece = PieceId::random();
    let resp = net.try_upload(piece, &data(400_000, 4), 400_000).await;
    expect_error(
        resp,
        ErrorCode::DiskFull,
        &format!("no space left while storing piece {piece}"),
        "disk ran out",
    )
    .await;
    net.assert_not_stored(piece, "disk ran out").await;
    assert_eq!(net.node.store().used_bytes().await.unwrap(), 0);

    filling.set_budget(u64::MAX);
    let (_, receipt) = net.upload(piece, &data(400_000, 4)).await;
    assert_eq!(receipt.piece_size, 400_000);
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    dir: TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let needs = "this test mounts a tmpfs: run it as root (or with CAP_SYS_ADMIN) where \
                     `mount -t tmpfs` is allowed";
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .unwrap_or_else(|e| panic!("{needs}; `mount` could not be run: {e}"));
        assert!(
            out.status.success(),
            "{needs}; `mount` said: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn pieces_in(dir: &Path) -> usize {
    fn walk(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        let path = e.path();
                        if path.is_dir() {
                            walk(&path)
                        } else {
                            usize::from(path.extension().is_some_and(|x| x == "piece"))
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(&dir.join("pieces"))
}

#[tokio::test]
#[ignore = "mounts a 50 MiB tmpfs: needs root; run with `cargo test -p node-sim --lib \
            on_a_real_small_file_system -- --ignored`"]
async fn on_a_real_small_file_system() {
    const MIB: u64 = 1 << 20;
    const RESERVE: u64 = 4 * MIB;
    let fs = Tmpfs::mount("50m");
    let data_dir = fs.path().join("node");
    let r = Recorded::start(
        tempfile::tempdir().unwrap(),
        data_dir.clone(),
        |c| {
            c.disk_reserve_bytes = RESERVE;
            // Raw HTTP below.
            c.plain_http = true;
        },
        |c| {
            let store = DiskStore::open(&c.data_dir, c.sync_writes).unwrap();
            (Arc::new(store), StorageNode::space_probe(c))
        },
    )
    .await;

    let free = r.free_at_check_in().await;
    assert!(
        (49 * MIB - RESERVE..=50 * MIB - RESERVE).contains(&free),
        "a fresh 50 MiB file system less the reserve, not the 1 TiB allowance: {free}"
    );

    // Larger than the file system: refused before anything is written.
    let piece = PieceId::random();
    let resp = r.net.try_upload(piece, &data(1000, 5), 47 * MIB).await;
    expect_error(
        resp,
        ErrorCode::DiskFull,
        "room for",
        "larger than the disk",
    )
    .await;
    r.net.assert_not_stored(piece, "larger than the disk").await;

    // 20 MiB fits, and is counted.
    let stored = PieceId::random();
    r.net.upload(stored, &data(20 * MIB as usize, 6)).await;
    let free = r.free_at_check_in().await;
    assert!(
        free <= 30 * MIB - RESERVE,
        "free space after 20 MiB: {free}"
    );

    // The disk fills while a piece is being written (another program takes the rest):
    // the upload is refused as disk full and leaves no partial piece.
    let piece = PieceId::random();
    let content = data(20 * MIB as usize, 7);
    let t = r.net.transfer(PieceAction::Put, piece, 20 * MIB);
    let body = upload_body(
        &t.limit,
        &content,
        Some(&piece_hash(&t.piece_key, piece, &content)),
    );
    let mut conn = RawConnection::post(r.net.node.listen_addr(), UPLOAD_PATH, body.len()).await;
    conn.send(&body[..MIB as usize]).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tmp_files(&r.net.node) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "upload never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let filler_path = fs.path().join("filler");
    let mut filler = std::fs::File::create(&filler_path).unwrap();
    let chunk = vec![0u8; 1 << 16];
    let err = loop {
        if let Err(e) = filler.write_all(&chunk) {
            break e;
        }
    };
    assert_eq!(err.kind(), std::io::ErrorKind::StorageFull, "{err}");
    drop(filler);
    // The rest of the body; the node may stop reading it once it has answered.
    let _ = conn.send(&body[MIB as usize..]).await;
    let (status, text) = parse_response(&conn.closed().await);
    assert_eq!(status, 507, "{text}");
    let answer: ErrorBody = serde_json::from_str(&text).unwrap();
    assert_eq!(answer.error.code, ErrorCode::DiskFull, "{text}");
    assert!(
        !text.contains(&fs.path().display().to_string()),
        "a local path on the wire: {text}"
    );
    r.net.assert_not_stored(piece, "disk ran out").await;
    assert_eq!(pieces_in(&data_dir), 1, "only the first piece is stored");
    let (_, got) = r.net.download(stored, 0, 20 * MIB).await.unwrap();
    assert!(
        got == data(20 * MIB as usize, 6),
        "the stored piece is intact"
    );

    // With the filler gone, the node takes pieces again.
    std::fs::remove_file(&filler_path).unwrap();
    r.net
        .upload(PieceId::random(), &data(MIB as usize, 8))
        .await;
    r.stop().await;
    drop(fs);
}
