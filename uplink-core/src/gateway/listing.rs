//! S3 listings over encrypted names.
//!
//! Encrypted keys keep their `/` structure, so a prefix that ends in `/` with the `/`
//! delimiter (or none) is listed by the satellite, a page at a time, in ciphertext
//! order; continuation tokens carry the satellite's cursor. Anything else (a prefix
//! that ends mid-name, another delimiter) cannot be answered on ciphertext: the gateway
//! lists everything below the prefix's last `/`, decrypts, filters and collapses in
//! plaintext, in S3's lexicographic order, up to a configured number of keys, and says
//! so clearly past it. A bucket that keeps its names in clear is listed by the
//! satellite whatever the prefix and delimiter.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use s3s::{S3Result, s3_error};

use super::errors;
use crate::client::{ListOptions, ObjectEntry, Project};
use crate::crypto::names::NameMode;

pub(crate) struct ListRequest<'a> {
    pub bucket: &'a str,
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    /// Continuation token from an earlier page.
    pub token: Option<&'a str>,
    /// Plaintext key to list after (v1 marker, v2 start-after).
    pub after: Option<&'a str>,
    pub max_keys: usize,
    /// Most keys an exhaustive listing may read.
    pub bound: usize,
}

pub(crate) struct Listed {
    pub objects: Vec<ObjectEntry>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
    /// Continuation token for the next page.
    pub next_token: Option<String>,
    /// The last key or prefix returned (v1's next marker).
    pub next_marker: Option<String>,
}

const CURSOR: &str = "c:";
const KEY: &str = "k:";

fn encode_token(kind: &str, value: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}{value}"))
}

fn decode_token(token: &str) -> S3Result<String> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "The continuation token provided is incorrect"
            )
        })
}

pub(crate) async fn list(project: &Project, req: &ListRequest<'_>) -> S3Result<Listed> {
    if req.max_keys == 0 {
        return Ok(Listed {
            objects: Vec::new(),
            prefixes: Vec::new(),
            truncated: false,
            next_token: None,
            next_marker: None,
        });
    }
    let names = project.bucket_names(req.bucket).await.map_err(errors::s3)?;
    let on_satellite = names.is_plain()
        || ((req.prefix.is_empty() || req.prefix.ends_with('/'))
            && matches!(req.delimiter, None | Some("/")));
    if on_satellite {
        satellite_page(project, req, names).await
    } else {
        exhaustive(project, req).await
    }
}

/// The satellite's listing, one page.
async fn satellite_page(
    project: &Project,
    req: &ListRequest<'_>,
    mode: NameMode,
) -> S3Result<Listed> {
    let names = project.access().encryption.names(req.bucket, mode);
    let cursor = match (req.token, req.after) {
        (Some(t), _) => {
            let t = decode_token(t)?;
            Some(
                t.strip_prefix(CURSOR)
                    .ok_or_else(|| {
                        s3_error!(
                            InvalidArgument,
                            "The continuation token provided is incorrect"
                        )
                    })?
                    .to_string(),
            )
        }
        (None, Some(after)) if !after.is_empty() => Some(if mode.is_plain() {
            after.to_string()
        } else if after.ends_with('/') {
            names
                .encrypt_prefix(after)
                .map_err(|e| errors::s3(e.into()))?
        } else {
            names.encrypt_key(after).map_err(|e| errors::s3(e.into()))?
        }),
        _ => None,
    };
    let delimiter = req.delimiter.filter(|d| !d.is_empty());
    let page = project
        .list_objects_page(
            req.bucket,
            &ListOptions {
                prefix: req.prefix.to_string(),
                delimiter: delimiter.map(str::to_string),
                recursive: delimiter.is_none(),
                cursor,
                limit: Some(req.max_keys.min(1000) as u32),
                include_metadata: true,
            },
        )
        .await
        .map_err(errors::s3)?;
    let next_marker = page.items.last().map(|e| e.key.clone());
    let (prefixes, objects): (Vec<ObjectEntry>, Vec<ObjectEntry>) =
        page.items.into_iter().partition(|e| e.is_prefix);
    Ok(Listed {
        objects,
        prefixes: prefixes.into_iter().map(|p| p.key).collect(),
        truncated: page.next_cursor.is_some(),
        next_token: page.next_cursor.as_deref().map(|c| encode_token(CURSOR, c)),
        next_marker: next_marker.filter(|_| page.next_cursor.is_some()),
    })
}

enum Entry {
    Object(ObjectEntry),
    Prefix(String),
}

impl Entry {
    fn name(&self) -> &str {
        match self {
            Entry::Object(o) => &o.key,
            Entry::Prefix(p) => p,
        }
    }
}

/// Everything below the prefix's last `/`, filtered and collapsed in plaintext.
async fn exhaustive(project: &Project, req: &ListRequest<'_>) -> S3Result<Listed> {
    let base = match req.prefix.rfind('/') {
        Some(i) => &req.prefix[..=i],
        None => "",
    };
    let after = match req.token {
        Some(t) => Some(
            decode_token(t)?
                .strip_prefix(KEY)
                .ok_or_else(|| {
                    s3_error!(
                        InvalidArgument,
                        "The continuation token provided is incorrect"
                    )
                })?
                .to_string(),
        ),
        None => req.after.map(str::to_string),
    };
    let mut options = ListOptions {
        prefix: base.to_string(),
        delimiter: None,
        recursive: true,
        cursor: None,
        limit: Some(1000),
        include_metadata: true,
    };
    let mut entries: Vec<Entry> = Vec::new();
    let mut read = 0usize;
    loop {
        let page = project
            .list_objects_page(req.bucket, &options)
            .await
            .map_err(errors::s3)?;
        read += page.items.len() + page.undecryptable;
        if read > req.bound {
            return Err(s3_error!(
                InvalidArgument,
                "This listing (prefix {:?}, delimiter {:?}) cannot be answered on encrypted names \
                 without reading every key under {base:?}, and there are more than {} of them. \
                 List with a prefix that ends in '/' and the '/' delimiter, or raise the \
                 gateway's list bound.",
                req.prefix,
                req.delimiter.unwrap_or(""),
                req.bound
            ));
        }
        for e in page.items {
            let Some(rest) = e.key.strip_prefix(req.prefix) else {
                continue;
            };
            let collapsed = req.delimiter.filter(|d| !d.is_empty()).and_then(|d| {
                rest.find(d)
                    .map(|i| format!("{}{}", req.prefix, &rest[..i + d.len()]))
            });
            match collapsed {
                Some(p) => entries.push(Entry::Prefix(p)),
                None => entries.push(Entry::Object(e)),
            }
        }
        match page.next_cursor {
            Some(c) => options.cursor = Some(c),
            None => break,
        }
    }
    entries.sort_by(|a, b| a.name().cmp(b.name()));
    entries.dedup_by(|a, b| matches!((&*a, &*b), (Entry::Prefix(x), Entry::Prefix(y)) if x == y));
    let start = match &after {
        Some(a) => entries.partition_point(|e| e.name() <= a.as_str()),
        None => 0,
    };
    let rest = &mut entries.drain(start..).collect::<Vec<_>>();
    let truncated = rest.len() > req.max_keys;
    rest.truncate(req.max_keys);
    let last = rest.last().map(|e| e.name().to_string());
    let mut listed = Listed {
        objects: Vec::new(),
        prefixes: Vec::new(),
        truncated,
        next_token: last
            .as_deref()
            .filter(|_| truncated)
            .map(|l| encode_token(KEY, l)),
        next_marker: last.filter(|_| truncated),
    };
    for e in rest.drain(..) {
        match e {
            Entry::Object(o) => listed.objects.push(o),
            Entry::Prefix(p) => listed.prefixes.push(p),
        }
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let t = encode_token(KEY, "a/b c");
        assert_eq!(decode_token(&t).unwrap(), "k:a/b c");
        assert!(decode_token("not base64!").is_err());
    }
}
