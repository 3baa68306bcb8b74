//! `mb`, `rb`, `ls` and `rm`.

use anyhow::{Result, bail};
use uplink_core::client::{Project, UplinkError};

use crate::paths::{Location, bucket_only};
use crate::progress::human_bytes;

pub async fn make_bucket(project: &Project, url: &str, plain_names: bool) -> Result<()> {
    let bucket = bucket_only(url)?;
    if plain_names {
        project.create_bucket_with_plain_names(&bucket).await?;
        println!(
            "bucket sj://{bucket} created; its object names are kept in clear (content stays \
             encrypted)"
        );
    } else {
        project.create_bucket(&bucket).await?;
        println!("bucket sj://{bucket} created");
    }
    Ok(())
}

pub async fn remove_bucket(project: &Project, url: &str, force: bool) -> Result<()> {
    let bucket = bucket_only(url)?;
    let deleted = project.delete_bucket(&bucket, force).await?;
    if deleted > 0 {
        println!("bucket sj://{bucket} deleted with {deleted} objects");
    } else {
        println!("bucket sj://{bucket} deleted");
    }
    Ok(())
}

fn when(unix: i64) -> String {
    if unix <= 0 {
        return String::new();
    }
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix as u64);
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_string()
}

pub async fn list(project: &Project, url: Option<&str>, recursive: bool) -> Result<()> {
    let Some(url) = url else {
        let buckets = project.list_buckets().await?;
        if buckets.is_empty() {
            eprintln!("no buckets yet; create one with `uplink mb sj://<name>`");
        }
        println!("{:<20} NAME", "CREATED");
        for b in buckets {
            println!("{:<20} {}", when(b.created_at), b.name);
        }
        return Ok(());
    };
    let Location::Remote { bucket, key } = Location::parse(url)? else {
        bail!("{url:?} is not an sj:// URL");
    };
    // Names are encrypted per path component, so the satellite can only list whole
    // directories; a partial name is filtered here.
    let (dir, partial) = match key.rfind('/') {
        Some(i) => (key[..=i].to_string(), key[i + 1..].to_string()),
        None => (String::new(), key.clone()),
    };
    let entries = project.list_objects(&bucket, &dir, recursive).await?;
    let mut shown = 0;
    println!("{:<4} {:<20} {:>12} KEY", "KIND", "CREATED", "SIZE");
    for e in entries {
        if !e.key[dir.len()..].starts_with(&partial) {
            continue;
        }
        shown += 1;
        if e.is_prefix {
            println!("{:<4} {:<20} {:>12} {}", "PRE", "", "", e.key);
        } else {
            println!(
                "{:<4} {:<20} {:>12} {}",
                "OBJ",
                when(e.created_at),
                e.size,
                e.key
            );
        }
    }
    if shown == 0 && !partial.is_empty() {
        // Help the user see that the key is a file, not a directory.
        if let Ok(obj) = project.stat_object(&bucket, &key).await {
            println!(
                "{:<4} {:<20} {:>12} {}",
                "OBJ",
                when(obj.created_at),
                obj.size,
                obj.key
            );
        }
    }
    Ok(())
}

pub async fn remove(project: &Project, url: &str, recursive: bool) -> Result<()> {
    let Location::Remote { bucket, key } = Location::parse(url)? else {
        bail!("{url:?} is not an sj:// URL");
    };
    if recursive {
        let prefix = if key.is_empty() || key.ends_with('/') {
            key.clone()
        } else {
            format!("{key}/")
        };
        let entries = project.list_objects(&bucket, &prefix, true).await?;
        let mut count = 0u64;
        let mut bytes = 0u64;
        for e in entries {
            if let Some(d) = project.delete_object(&bucket, &e.key).await? {
                count += 1;
                bytes += d.size;
                println!("removed sj://{bucket}/{}", e.key);
            }
        }
        println!("{count} objects removed ({})", human_bytes(bytes as f64));
        return Ok(());
    }
    if key.is_empty() {
        bail!("{url:?} names a bucket; use `uplink rb` to remove buckets, or rm --recursive");
    }
    match project.delete_object(&bucket, &key).await? {
        Some(_) => {
            println!("removed sj://{bucket}/{key}");
            Ok(())
        }
        None => Err(UplinkError::ObjectNotFound(format!("sj://{bucket}/{key}")).into()),
    }
}
