//! `uplink cp --recursive`: a directory tree up to a prefix, a prefix down to a
//! directory, or a prefix to another prefix (on the satellite), with `--parallelism`
//! objects in flight and one progress bar for the whole transfer.
//!
//! A failed object does not stop the others: every failure is reported at the end and
//! the command fails, so a script knows. Object names are never trusted as paths: a
//! key that would leave the target directory (`..`, an absolute path, an empty
//! component) is skipped and reported, never written.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use uplink_core::client::{Project, UploadOptions};

use crate::paths::Location;
use crate::progress::{Transfer, human_bytes};

pub struct RecursiveOptions {
    pub parallelism: usize,
    pub expires_at: Option<i64>,
    pub quiet: bool,
}

/// One object to move.
enum Job {
    Upload { path: PathBuf, key: String },
    Download { key: String, path: PathBuf },
    Copy { key: String, to: String },
}

/// `prefix` as a listing prefix: empty or ending in `/`.
fn as_prefix(key: &str) -> String {
    if key.is_empty() || key.ends_with('/') {
        key.to_string()
    } else {
        format!("{key}/")
    }
}

/// A file found under a directory.
struct LocalFile {
    path: PathBuf,
    /// Relative to the directory, `/`-separated.
    rel: String,
    size: u64,
}

/// Every regular file under `root`, and how many entries were skipped: symbolic links
/// and special files are counted, not followed.
fn walk(root: &Path) -> Result<(Vec<LocalFile>, usize)> {
    let mut files = Vec::new();
    let mut skipped = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let rel = path.strip_prefix(root).expect("under root");
                let Some(rel) = rel.to_str() else {
                    eprintln!("skipping {}: the name is not UTF-8", path.display());
                    skipped += 1;
                    continue;
                };
                let rel = rel.replace(std::path::MAIN_SEPARATOR, "/");
                let size = entry.metadata()?.len();
                files.push(LocalFile { path, rel, size });
            } else {
                skipped += 1;
            }
        }
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok((files, skipped))
}

/// Where a key below the listed prefix lands under `dir`, if it stays inside it.
pub fn safe_local_path(dir: &Path, relative: &str) -> Option<PathBuf> {
    if relative.is_empty() || relative.ends_with('/') {
        return None;
    }
    let mut out = dir.to_path_buf();
    for part in relative.split('/') {
        // Each part must be one plain name (no `..`, no root, no prefix).
        let mut components = Path::new(part).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(name)), None) if name == part => out.push(part),
            _ => return None,
        }
    }
    Some(out)
}

pub async fn copy_recursive(
    project: &Project,
    src: &str,
    dst: &str,
    opts: RecursiveOptions,
) -> Result<()> {
    let parallelism = opts.parallelism.max(1);
    let from = Location::parse(src)?;
    let to = Location::parse(dst)?;
    let (jobs, total, skipped, bucket_from, bucket_to) = match (&from, &to) {
        (Location::Local(dir), Location::Remote { bucket, key }) => {
            if !dir.is_dir() {
                bail!(
                    "{} is not a directory (--recursive copies directories)",
                    dir.display()
                );
            }
            let prefix = as_prefix(key);
            let (files, skipped) = walk(dir)?;
            let total = files.iter().map(|f| f.size).sum();
            let jobs = files
                .into_iter()
                .map(|f| Job::Upload {
                    path: f.path,
                    key: format!("{prefix}{}", f.rel),
                })
                .collect::<Vec<_>>();
            (jobs, total, skipped, String::new(), bucket.clone())
        }
        (Location::Remote { bucket, key }, Location::Local(dir)) => {
            let prefix = as_prefix(key);
            let entries = project.list_objects(bucket, &prefix, true).await?;
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let mut skipped = 0;
            let mut total = 0;
            let mut jobs = Vec::new();
            for e in entries.into_iter().filter(|e| !e.is_prefix) {
                let rel = &e.key[prefix.len()..];
                match safe_local_path(dir, rel) {
                    Some(path) => {
                        total += e.size;
                        jobs.push(Job::Download {
                            key: e.key.clone(),
                            path,
                        });
                    }
                    None => {
                        eprintln!(
                            "skipping sj://{bucket}/{}: its name is not a safe local path",
                            e.key
                        );
                        skipped += 1;
                    }
                }
            }
            (jobs, total, skipped, bucket.clone(), String::new())
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
            let (from_prefix, to_prefix) = (as_prefix(sk), as_prefix(dk));
            let entries = project.list_objects(sb, &from_prefix, true).await?;
            let total = entries
                .iter()
                .filter(|e| !e.is_prefix)
                .map(|e| e.size)
                .sum();
            let jobs = entries
                .into_iter()
                .filter(|e| !e.is_prefix)
                .map(|e| Job::Copy {
                    to: format!("{to_prefix}{}", &e.key[from_prefix.len()..]),
                    key: e.key,
                })
                .collect();
            (jobs, total, 0, sb.clone(), db.clone())
        }
        _ => bail!(
            "--recursive copies a directory to sj://, sj:// to a directory, or sj:// to sj://"
        ),
    };
    let count = jobs.len();
    let transfer = Transfer::new(&format!("{count} objects"), Some(total), opts.quiet);
    let done = Arc::new(AtomicU64::new(0));
    let work = futures::stream::iter(jobs.into_iter().map(|job| {
        let project = project.clone();
        let progress = transfer.callback();
        let (bucket_from, bucket_to) = (bucket_from.clone(), bucket_to.clone());
        let done = done.clone();
        let expires_at = opts.expires_at;
        async move {
            let (name, result) = match job {
                Job::Upload { path, key } => {
                    let name = format!("{} -> sj://{bucket_to}/{key}", path.display());
                    let result = async {
                        let file = tokio::fs::File::open(&path)
                            .await
                            .with_context(|| format!("cannot open {}", path.display()))?;
                        let object = project
                            .upload(
                                &bucket_to,
                                &key,
                                tokio::io::BufReader::with_capacity(1 << 20, file),
                                UploadOptions {
                                    expires_at,
                                    progress: Some(progress),
                                    ..Default::default()
                                },
                            )
                            .await?;
                        anyhow::Ok(object.size)
                    }
                    .await;
                    (name, result)
                }
                Job::Download { key, path } => {
                    let name = format!("sj://{bucket_from}/{key} -> {}", path.display());
                    let result = async {
                        if let Some(parent) = path.parent() {
                            tokio::fs::create_dir_all(parent)
                                .await
                                .with_context(|| format!("cannot create {}", parent.display()))?;
                        }
                        crate::copy::download_to_file(
                            &project,
                            &bucket_from,
                            &key,
                            None,
                            &path,
                            progress,
                        )
                        .await
                    }
                    .await;
                    (name, result)
                }
                Job::Copy { key, to } => {
                    let name = format!("sj://{bucket_from}/{key} -> sj://{bucket_to}/{to}");
                    let result = project
                        .copy_object(&bucket_from, &key, &bucket_to, &to, &Default::default())
                        .await
                        .map(|o| {
                            progress(o.size);
                            o.size
                        })
                        .map_err(anyhow::Error::from);
                    (name, result)
                }
            };
            if result.is_ok() {
                done.fetch_add(1, Ordering::Relaxed);
            }
            (name, result)
        }
    }))
    .buffer_unordered(parallelism)
    .collect::<Vec<_>>();
    let interrupted = std::pin::pin!(crate::interrupt::interrupted());
    let results = match futures::future::select(Box::pin(work), interrupted).await {
        futures::future::Either::Left((results, _)) => results,
        futures::future::Either::Right(((), work)) => {
            drop(work);
            project.close(std::time::Duration::from_secs(5)).await;
            bail!(
                "interrupted after {} of {count} objects; uploads in flight were aborted",
                done.load(Ordering::Relaxed)
            );
        }
    };
    let mut bytes = 0;
    let mut failures = Vec::new();
    for (name, result) in results {
        match result {
            Ok(n) => bytes += n,
            Err(e) => failures.push(format!("{name}: {e:#}")),
        }
    }
    let (rate, secs) = transfer.finish(bytes);
    if !opts.quiet {
        eprintln!(
            "copied {} of {count} objects ({} in {secs:.2}s, {}/s, {parallelism} at a time)",
            count - failures.len(),
            human_bytes(bytes as f64),
            human_bytes(rate)
        );
    }
    if skipped > 0 {
        eprintln!("skipped {skipped} entries (not regular files, or unsafe names)");
    }
    if !failures.is_empty() {
        for f in &failures {
            eprintln!("failed: {f}");
        }
        bail!("{} of {count} objects failed", failures.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_leave_the_target_directory() {
        let dir = Path::new("/tmp/target");
        assert_eq!(
            safe_local_path(dir, "a/b.txt"),
            Some(dir.join("a").join("b.txt"))
        );
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "a/./b",
            "",
            "dir/",
            "..",
        ] {
            assert_eq!(safe_local_path(dir, bad), None, "{bad:?}");
        }
        assert_eq!(as_prefix("photos"), "photos/");
        assert_eq!(as_prefix(""), "");
        assert_eq!(as_prefix("a/"), "a/");
    }
}
