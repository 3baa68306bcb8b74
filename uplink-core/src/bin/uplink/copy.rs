//! `uplink cp`: local file or stdin to sj://, sj:// to local file or stdout, sj:// to sj://
//! (on the satellite unless a range or a new expiry needs the bytes); and `uplink mv`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::future::Either;
use tokio::io::AsyncWriteExt;
use uplink_core::client::{ByteRange, ObjectEntry, Progress, Project, UploadOptions};

use crate::paths::{Location, base_name};
use crate::progress::{Transfer, human_bytes};
use uplink_core::resources::peak_rss_bytes;

pub struct CopyOptions {
    pub range: Option<ByteRange>,
    pub expires_at: Option<i64>,
    pub content_type: Option<String>,
    pub quiet: bool,
    pub stats: bool,
}

pub async fn copy(project: &Project, src: &str, dst: &str, opts: CopyOptions) -> Result<()> {
    let from = Location::parse(src)?;
    let to = Location::parse(dst)?;
    match (&from, &to) {
        (Location::Remote { .. }, _) | (_, Location::Remote { .. }) => {}
        _ => bail!("one side of cp must be an sj:// URL"),
    }
    if opts.range.is_some() && !matches!(from, Location::Remote { .. }) {
        bail!("--range applies to downloads only");
    }
    let (bytes, label, transfer) = match (from, to) {
        (source, Location::Remote { bucket, key })
            if !matches!(source, Location::Remote { .. }) =>
        {
            let key = target_key(&source, &key)?;
            let (reader, size): (Box<dyn tokio::io::AsyncRead + Unpin + Send>, Option<u64>) =
                match &source {
                    Location::Std => (Box::new(tokio::io::stdin()), None),
                    Location::Local(path) => {
                        let file = tokio::fs::File::open(path)
                            .await
                            .with_context(|| format!("cannot open {}", path.display()))?;
                        let len = file.metadata().await?.len();
                        (Box::new(file), Some(len))
                    }
                    Location::Remote { .. } => unreachable!(),
                };
            let transfer = Transfer::new("upload", size, opts.quiet);
            let object = interruptible(
                project,
                project.upload(
                    &bucket,
                    &key,
                    tokio::io::BufReader::with_capacity(1 << 20, reader),
                    UploadOptions {
                        expires_at: opts.expires_at,
                        content_type: opts.content_type.clone(),
                        progress: Some(transfer.callback()),
                        ..Default::default()
                    },
                ),
            )
            .await?;
            (
                object.size,
                format!("uploaded {} to sj://{bucket}/{key}", source.display()),
                transfer,
            )
        }
        (Location::Remote { bucket, key }, dest) if !matches!(dest, Location::Remote { .. }) => {
            if key.is_empty() || key.ends_with('/') {
                bail!("sj://{bucket}/{key} is not an object key");
            }
            let stat = project.stat_object(&bucket, &key).await?;
            let total = match opts.range {
                Some(r) => r.resolve(stat.size).map(|(a, b)| b - a)?,
                None => stat.size,
            };
            let transfer = Transfer::new("download", Some(total), opts.quiet);
            let bytes = match &dest {
                Location::Std => {
                    let mut out = tokio::io::stdout();
                    let n = project
                        .download(
                            &bucket,
                            &key,
                            opts.range,
                            &mut out,
                            Some(transfer.callback()),
                        )
                        .await?;
                    out.flush().await?;
                    n
                }
                Location::Local(path) => {
                    let path = local_target(path, &key)?;
                    download_to_file(
                        project,
                        &bucket,
                        &key,
                        opts.range,
                        &path,
                        transfer.callback(),
                    )
                    .await?
                }
                Location::Remote { .. } => unreachable!(),
            };
            (
                bytes,
                format!("downloaded sj://{bucket}/{key} to {}", dest.display()),
                transfer,
            )
        }
        (
            Location::Remote {
                bucket: sb,
                key: sk,
            },
            Location::Remote {
                bucket: db,
                key: dk,
            },
        ) => {
            let dk = if dk.is_empty() || dk.ends_with('/') {
                format!(
                    "{dk}{}",
                    base_name(&sk).context("source has no object name")?
                )
            } else {
                dk
            };
            let stat = project.stat_object(&sb, &sk).await?;
            if opts.range.is_none() && opts.expires_at.is_none() {
                // On the satellite: the keys are re-wrapped, no byte moves.
                let options = uplink_core::client::CopyOptions {
                    replace_metadata: opts
                        .content_type
                        .clone()
                        .map(|ct| (Some(ct), stat.metadata.clone())),
                    if_absent: false,
                };
                let object = project.copy_object(&sb, &sk, &db, &dk, &options).await?;
                if !opts.quiet {
                    eprintln!(
                        "copied sj://{sb}/{sk} to sj://{db}/{dk} ({}, on the satellite)",
                        human_bytes(object.size as f64)
                    );
                }
                return Ok(());
            }
            let transfer = Transfer::new("copy", Some(stat.size), opts.quiet);
            let (mut w, r) = tokio::io::duplex(1 << 20);
            let progress = transfer.callback();
            let p2 = project.clone();
            let (sb2, sk2, range) = (sb.clone(), sk.clone(), opts.range);
            let reader = tokio::spawn(async move {
                let n = p2.download(&sb2, &sk2, range, &mut w, Some(progress)).await;
                let _ = w.shutdown().await;
                n
            });
            let object = interruptible(
                project,
                project.upload(
                    &db,
                    &dk,
                    r,
                    UploadOptions {
                        expires_at: opts.expires_at,
                        content_type: opts.content_type.clone().or(stat.content_type),
                        ..Default::default()
                    },
                ),
            )
            .await?;
            reader.await??;
            (
                object.size,
                format!("copied sj://{sb}/{sk} to sj://{db}/{dk}"),
                transfer,
            )
        }
        _ => unreachable!(),
    };
    let (rate, secs) = transfer.finish(bytes);
    if !opts.quiet {
        eprintln!(
            "{label} ({} in {secs:.2}s, {}/s)",
            human_bytes(bytes as f64),
            human_bytes(rate)
        );
    }
    if opts.stats {
        eprintln!(
            "stats: bytes={bytes} seconds={secs:.3} MBps={:.1} peak_rss_bytes={}",
            rate / 1e6,
            peak_rss_bytes().unwrap_or(0)
        );
    }
    Ok(())
}

/// `uplink mv`: renames an object on the satellite (no data moves).
pub async fn move_object(project: &Project, src: &str, dst: &str) -> Result<()> {
    let (
        Location::Remote {
            bucket: sb,
            key: sk,
        },
        Location::Remote {
            bucket: db,
            key: dk,
        },
    ) = (Location::parse(src)?, Location::parse(dst)?)
    else {
        bail!("mv moves between sj:// URLs");
    };
    if sk.is_empty() || sk.ends_with('/') {
        bail!("sj://{sb}/{sk} is not an object key");
    }
    let dk = if dk.is_empty() || dk.ends_with('/') {
        format!(
            "{dk}{}",
            base_name(&sk).context("source has no object name")?
        )
    } else {
        dk
    };
    project
        .move_object(&sb, &sk, &db, &dk, &Default::default())
        .await?;
    eprintln!("moved sj://{sb}/{sk} to sj://{db}/{dk}");
    Ok(())
}

/// Runs an upload until it ends or the user interrupts; an interrupted upload is
/// dropped, which aborts its pending object, and this waits (briefly) for that.
async fn interruptible<F>(project: &Project, upload: F) -> Result<ObjectEntry>
where
    F: std::future::Future<Output = uplink_core::client::Result<ObjectEntry>>,
{
    // Boxed, so that dropping it below really drops the upload (and starts its abort).
    let upload = Box::pin(upload);
    let interrupted = std::pin::pin!(crate::interrupt::interrupted());
    match futures::future::select(upload, interrupted).await {
        Either::Left((result, _)) => Ok(result?),
        Either::Right(((), upload)) => {
            drop(upload);
            project.close(Duration::from_secs(5)).await;
            bail!("interrupted; the partial upload was aborted")
        }
    }
}

/// The key to upload to: `sj://b/dir/` + file name, or the key as given.
fn target_key(source: &Location, key: &str) -> Result<String> {
    if !key.is_empty() && !key.ends_with('/') {
        return Ok(key.to_string());
    }
    match source {
        Location::Local(p) => {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .with_context(|| format!("{} has no file name", p.display()))?;
            Ok(format!("{key}{name}"))
        }
        _ => bail!("uploading from stdin needs a full object key, like sj://bucket/name"),
    }
}

fn local_target(path: &Path, key: &str) -> Result<PathBuf> {
    if path.is_dir() {
        Ok(path.join(base_name(key).context("object key has no name")?))
    } else {
        Ok(path.to_path_buf())
    }
}

/// Downloads into a temporary file beside the target and renames it when complete, so a
/// failed download never leaves a truncated file under the real name. Targets that are
/// not regular files (devices such as /dev/null, pipes) are written in place.
pub(crate) async fn download_to_file(
    project: &Project,
    bucket: &str,
    key: &str,
    range: Option<ByteRange>,
    path: &Path,
    progress: Progress,
) -> Result<u64> {
    if let Ok(meta) = tokio::fs::metadata(path).await
        && !meta.is_file()
    {
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .await
            .with_context(|| format!("cannot open {}", path.display()))?;
        let mut writer = tokio::io::BufWriter::with_capacity(1 << 20, file);
        let n = project
            .download(bucket, key, range, &mut writer, Some(progress.clone()))
            .await?;
        writer.flush().await?;
        return Ok(n);
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.part-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("download"),
        std::process::id()
    ));
    let file = tokio::fs::File::create(&tmp)
        .await
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut writer = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let result = project
        .download(bucket, key, range, &mut writer, Some(progress))
        .await;
    match result {
        Ok(n) => {
            // Like cp, no fsync: the object is still safe on the network, and the rename
            // already guarantees that a failed download leaves no partial file.
            writer.flush().await?;
            drop(writer);
            tokio::fs::rename(&tmp, path)
                .await
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(n)
        }
        Err(e) => {
            drop(writer);
            let _ = tokio::fs::remove_file(&tmp).await;
            Err(e.into())
        }
    }
}
