//! `/raw/...`: an object's bytes as a web server would give a file, so that browsers,
//! `<video>` elements, ffmpeg and download managers work unchanged: one byte range per
//! request (seeking in a video is a range), validators (ETag, Last-Modified) with 304
//! and 412, caching bounded by the link's own lifetime, and `?download` for an
//! attachment.
//!
//! Served content is the sharer's, not ours: it is sandboxed (no script of a shared
//! HTML file runs with this service's origin) and never sniffed into another type.
//!
//! A pinned link (`?sha256=`) serves only the content it was made for: the object's
//! recorded SHA-256 must match, and a whole-object read is hashed as it streams, so
//! that bytes that do not match what was recorded never end in a complete response.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::{HeaderMap, Response, StatusCode, header};
use sha2::{Digest, Sha256};
use uplink_core::client::{ObjectEntry, ObjectReader, Project, UplinkError};

use super::request::{self, Link, Query};
use super::response::{self, Body, Failure, builder};
use super::{Request, content_type};

/// The validators and caching headers of an object (shared with pages).
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: String,
    pub cache: http::HeaderValue,
}

impl Validators {
    pub fn of(entry: &ObjectEntry, max_age: u64) -> Self {
        Self {
            etag: entry.etag.as_ref().map(|e| format!("\"{e}\"")),
            last_modified: httpdate::fmt_http_date(
                std::time::UNIX_EPOCH
                    + std::time::Duration::from_secs(entry.created_at.max(0) as u64),
            ),
            cache: response::cache_control(max_age),
        }
    }

    fn apply(&self, mut b: http::response::Builder) -> http::response::Builder {
        if let Some(etag) = &self.etag {
            b = b.header(header::ETAG, etag);
        }
        b.header(header::LAST_MODIFIED, &self.last_modified)
            .header(header::CACHE_CONTROL, self.cache.clone())
    }
}

/// What the conditional headers of a request decide.
#[derive(Debug, PartialEq, Eq)]
pub enum Conditional {
    Proceed,
    NotModified,
    Failed,
}

pub fn conditional(headers: &HeaderMap, entry: &ObjectEntry, etag: Option<&str>) -> Conditional {
    if let Some(list) = request::header(headers, header::IF_MATCH)
        && !request::etag_listed(list, etag)
    {
        return Conditional::Failed;
    }
    if let Some(since) =
        request::header(headers, header::IF_UNMODIFIED_SINCE).and_then(request::http_date)
        && entry.created_at > since
    {
        return Conditional::Failed;
    }
    if let Some(list) = request::header(headers, header::IF_NONE_MATCH) {
        if request::etag_listed(list, etag) {
            return Conditional::NotModified;
        }
    } else if let Some(since) =
        request::header(headers, header::IF_MODIFIED_SINCE).and_then(request::http_date)
        && entry.created_at <= since
    {
        return Conditional::NotModified;
    }
    Conditional::Proceed
}

/// Whether an `If-Range` (if any) lets the range apply to this version of the object.
fn range_applies(headers: &HeaderMap, etag: Option<&str>, last_modified: &str) -> bool {
    match request::header(headers, header::IF_RANGE) {
        None => true,
        Some(v) if v.trim_start().starts_with('"') => etag == Some(v.trim()),
        Some(v) => v.trim() == last_modified,
    }
}

/// The content's SHA-256 the link may serve, or why not.
pub fn check_pin(entry: &ObjectEntry, query: &Query) -> Result<(), Failure> {
    let Some(pin) = &query.pin else {
        return Ok(());
    };
    match &entry.sha256 {
        Some(recorded) if recorded.eq_ignore_ascii_case(pin) => Ok(()),
        Some(_) => Err(Failure::new(
            StatusCode::CONFLICT,
            "The object at this link has changed since the link was made: its SHA-256 is \
             not the one the link is pinned to, so it is not served.",
        )),
        None => Err(Failure::new(
            StatusCode::CONFLICT,
            "This link is pinned to a SHA-256, but the object has none recorded (it was \
             uploaded in parts), so it is not served.",
        )),
    }
}

/// The headers naming the content's SHA-256, if recorded.
pub fn digest_headers(
    mut b: http::response::Builder,
    entry: &ObjectEntry,
) -> http::response::Builder {
    use base64::Engine;
    if let Some(hex) = &entry.sha256
        && let Ok(raw) = hex::decode(hex)
    {
        b = b.header("x-content-sha256", hex.as_str()).header(
            "repr-digest",
            format!(
                "sha-256=:{}:",
                base64::engine::general_purpose::STANDARD.encode(raw)
            ),
        );
    }
    b
}

/// `inline` or `attachment`, with the key's last component as the file name.
fn disposition(key: &str, download: bool) -> String {
    let name = key.rsplit('/').next().unwrap_or(key);
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    let kind = if download { "attachment" } else { "inline" };
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

pub async fn serve(project: &Project, req: &Request<'_>) -> Result<Response<Body>, Failure> {
    let link = req.link;
    if link.is_prefix() {
        return Ok(redirect_to_page(link, req.raw_query));
    }
    let wanted = request::range(req.headers);
    // HEAD, and a range that may turn out not to apply, need the object's entry before
    // any bytes; everything else takes one round trip for both.
    let needs_entry_first = req.head || request::header(req.headers, header::IF_RANGE).is_some();
    let mut entry_first = None;
    if needs_entry_first {
        entry_first = Some(
            project
                .stat_object(&link.bucket, &link.key)
                .await
                .map_err(|e| response::failure_of(&e))?,
        );
    }
    let range = match (&entry_first, wanted) {
        (Some(entry), Some(r)) => {
            let v = Validators::of(entry, 0);
            range_applies(req.headers, v.etag.as_deref(), &v.last_modified).then_some(r)
        }
        (_, r) => r,
    };
    let (entry, reader) = if req.head {
        let entry = entry_first.expect("stat for HEAD");
        (entry, None)
    } else {
        match project.open_object(&link.bucket, &link.key, range).await {
            Ok(reader) => (reader.entry.clone(), Some(reader)),
            Err(UplinkError::RangeNotSatisfiable { size, .. }) => {
                return Ok(unsatisfiable(size));
            }
            Err(e) => return Err(response::failure_of(&e)),
        }
    };
    check_pin(&entry, req.query)?;
    let validators = Validators::of(&entry, req.max_age(&entry));
    match conditional(req.headers, &entry, validators.etag.as_deref()) {
        Conditional::Proceed => {}
        Conditional::NotModified => {
            let b = validators.apply(builder(StatusCode::NOT_MODIFIED));
            return Ok(b.body(response::empty()).expect("valid response"));
        }
        Conditional::Failed => {
            return Err(Failure::new(
                StatusCode::PRECONDITION_FAILED,
                "The object does not match the request's preconditions.",
            ));
        }
    }
    let size = entry.size;
    let (start, end) = match (&reader, range) {
        (Some(r), _) => r.range,
        (None, Some(r)) => match r.resolve(size) {
            Ok(span) => span,
            Err(_) => return Ok(unsatisfiable(size)),
        },
        (None, None) => (0, size),
    };
    let partial = range.is_some();
    let mut b = builder(if partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    })
    .header(header::CONTENT_TYPE, content_type::of(&link.key, entry.content_type.as_deref()))
    .header(header::CONTENT_LENGTH, end - start)
    .header(header::ACCEPT_RANGES, "bytes")
    .header(header::CONTENT_DISPOSITION, disposition(&link.key, req.query.download))
    .header(header::CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'");
    if partial {
        b = b.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", end.saturating_sub(1)),
        );
    }
    b = digest_headers(validators.apply(b), &entry);
    let body = match reader {
        None => response::empty(),
        Some(reader) => match (&req.query.pin, partial) {
            (Some(pin), false) => response::streaming(verified(reader, pin.clone())),
            _ => response::streaming(reader.map(|r| r.map_err(std::io::Error::other))),
        },
    };
    Ok(b.body(body).expect("valid response"))
}

fn unsatisfiable(size: u64) -> Response<Body> {
    builder(StatusCode::RANGE_NOT_SATISFIABLE)
        .header(header::CONTENT_RANGE, format!("bytes */{size}"))
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(response::full(format!(
            "The requested range is not within the object's {size} bytes.\n"
        )))
        .expect("valid response")
}

/// `/raw/` of a prefix is its listing page.
fn redirect_to_page(link: &Link, raw_query: Option<&str>) -> Response<Body> {
    let mut to = super::page::page_path(link, &link.key);
    if let Some(q) = raw_query.filter(|q| !q.is_empty()) {
        to = format!("{to}?{q}");
    }
    builder(StatusCode::FOUND)
        .header(header::LOCATION, to)
        .body(response::empty())
        .expect("valid response")
}

/// The object's bytes, hashed as they go; if they do not hash to `pin`, the stream
/// ends in an error instead of its last chunk, so the response never completes.
fn verified(
    reader: ObjectReader,
    pin: String,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    let state = (reader, Sha256::new(), Some(pin));
    futures::stream::unfold(state, |(mut reader, mut hasher, expected)| async move {
        let expected = expected?;
        match reader.next().await {
            Some(Ok(chunk)) => {
                hasher.update(&chunk);
                Some((Ok(chunk), (reader, hasher, Some(expected))))
            }
            Some(Err(e)) => Some((Err(std::io::Error::other(e)), (reader, hasher, None))),
            None => {
                let got = hex::encode(hasher.finalize_reset());
                if got == expected {
                    None
                } else {
                    tracing::warn!("a pinned object's bytes do not match its pin");
                    Some((
                        Err(std::io::Error::other(
                            "the content does not match the link's SHA-256",
                        )),
                        (reader, hasher, None),
                    ))
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(created_at: i64, etag: Option<&str>) -> ObjectEntry {
        ObjectEntry {
            key: "k".into(),
            is_prefix: false,
            size: 10,
            created_at,
            expires_at: None,
            content_type: None,
            metadata: Default::default(),
            etag: etag.map(str::to_string),
            sha256: Some("ab".repeat(32)),
        }
    }

    fn headers(pairs: &[(http::header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.insert(n.clone(), v.parse().unwrap());
        }
        h
    }

    #[test]
    fn conditionals_follow_rfc_9110_order() {
        let e = entry(1000, Some("abc"));
        let tag = Some("\"abc\"");
        assert_eq!(
            conditional(&HeaderMap::new(), &e, tag),
            Conditional::Proceed
        );
        assert_eq!(
            conditional(&headers(&[(header::IF_NONE_MATCH, "\"abc\"")]), &e, tag),
            Conditional::NotModified
        );
        assert_eq!(
            conditional(&headers(&[(header::IF_NONE_MATCH, "\"zzz\"")]), &e, tag),
            Conditional::Proceed
        );
        assert_eq!(
            conditional(&headers(&[(header::IF_MATCH, "\"zzz\"")]), &e, tag),
            Conditional::Failed
        );
        let later =
            httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(2000));
        let earlier =
            httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(10));
        assert_eq!(
            conditional(&headers(&[(header::IF_MODIFIED_SINCE, &later)]), &e, tag),
            Conditional::NotModified
        );
        assert_eq!(
            conditional(&headers(&[(header::IF_MODIFIED_SINCE, &earlier)]), &e, tag),
            Conditional::Proceed
        );
        assert_eq!(
            conditional(
                &headers(&[(header::IF_UNMODIFIED_SINCE, &earlier)]),
                &e,
                tag
            ),
            Conditional::Failed
        );
        // If-None-Match wins over If-Modified-Since.
        assert_eq!(
            conditional(
                &headers(&[
                    (header::IF_NONE_MATCH, "\"zzz\""),
                    (header::IF_MODIFIED_SINCE, &later)
                ]),
                &e,
                tag
            ),
            Conditional::Proceed
        );
    }

    #[test]
    fn pins_must_match_the_recorded_digest() {
        let e = entry(1, None);
        let ok = Query {
            pin: Some("ab".repeat(32)),
            ..Query::default()
        };
        let wrong = Query {
            pin: Some("cd".repeat(32)),
            ..Query::default()
        };
        assert!(check_pin(&e, &Query::default()).is_ok());
        assert!(check_pin(&e, &ok).is_ok());
        assert_eq!(
            check_pin(&e, &wrong).unwrap_err().status,
            StatusCode::CONFLICT
        );
        let unrecorded = ObjectEntry { sha256: None, ..e };
        assert_eq!(
            check_pin(&unrecorded, &ok).unwrap_err().status,
            StatusCode::CONFLICT
        );
    }

    #[test]
    fn dispositions_quote_safely() {
        assert_eq!(
            disposition("a/clip \"1\".mp4", true),
            "attachment; filename=\"clip _1_.mp4\"; filename*=UTF-8''clip%20%221%22%2Emp4"
        );
        assert!(disposition("é.txt", false).starts_with("inline; filename=\"_.txt\""));
    }

    #[test]
    fn if_range_takes_strong_etags_and_exact_dates() {
        let lm = "Thu, 01 Jan 1970 00:16:40 GMT";
        assert!(range_applies(&HeaderMap::new(), None, lm));
        assert!(range_applies(
            &headers(&[(header::IF_RANGE, "\"abc\"")]),
            Some("\"abc\""),
            lm
        ));
        assert!(!range_applies(
            &headers(&[(header::IF_RANGE, "\"old\"")]),
            Some("\"abc\""),
            lm
        ));
        assert!(range_applies(
            &headers(&[(header::IF_RANGE, lm)]),
            Some("\"abc\""),
            lm
        ));
        assert!(!range_applies(
            &headers(&[(header::IF_RANGE, "Thu, 01 Jan 1970 00:00:01 GMT")]),
            None,
            lm
        ));
    }
}
