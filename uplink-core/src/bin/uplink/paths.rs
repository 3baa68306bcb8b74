//! `sj://bucket/key` and local paths.

use anyhow::{Result, bail};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// `sj://bucket/key` (key may be empty or end in `/`).
    Remote {
        bucket: String,
        key: String,
    },
    /// `-`: stdin or stdout.
    Std,
    Local(std::path::PathBuf),
}

impl Location {
    pub fn parse(s: &str) -> Result<Self> {
        if let Some(rest) = s.strip_prefix("sj://") {
            let (bucket, key) = match rest.split_once('/') {
                Some((b, k)) => (b, k),
                None => (rest, ""),
            };
            if bucket.is_empty() {
                bail!("{s:?} names no bucket; use sj://bucket/key");
            }
            return Ok(Location::Remote {
                bucket: bucket.to_string(),
                key: key.to_string(),
            });
        }
        if s.contains("://") {
            bail!("{s:?}: only sj:// URLs and local paths are supported");
        }
        if s == "-" {
            return Ok(Location::Std);
        }
        Ok(Location::Local(s.into()))
    }

    pub fn display(&self) -> String {
        match self {
            Location::Remote { bucket, key } => format!("sj://{bucket}/{key}"),
            Location::Std => "-".into(),
            Location::Local(p) => p.display().to_string(),
        }
    }
}

/// A bucket and nothing else (`sj://bucket` or `sj://bucket/`).
pub fn bucket_only(s: &str) -> Result<String> {
    match Location::parse(s)? {
        Location::Remote { bucket, key } if key.is_empty() => Ok(bucket),
        Location::Remote { .. } => bail!("{s:?} must name only a bucket, like sj://bucket"),
        _ => bail!("{s:?} is not a bucket URL; use sj://bucket"),
    }
}

/// The last component of a path, for `cp` into directories.
pub fn base_name(path: &str) -> Option<&str> {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        assert_eq!(
            Location::parse("sj://b/a/b.txt").unwrap(),
            Location::Remote {
                bucket: "b".into(),
                key: "a/b.txt".into()
            }
        );
        assert_eq!(
            Location::parse("sj://b").unwrap(),
            Location::Remote {
                bucket: "b".into(),
                key: "".into()
            }
        );
        assert_eq!(Location::parse("-").unwrap(), Location::Std);
        assert!(Location::parse("sj:///x").is_err());
        assert!(Location::parse("s3://b/x").is_err());
        assert_eq!(bucket_only("sj://b/").unwrap(), "b");
        assert!(bucket_only("sj://b/k").is_err());
        assert_eq!(base_name("a/b/c.txt"), Some("c.txt"));
        assert_eq!(base_name("dir/"), Some("dir"));
    }
}
