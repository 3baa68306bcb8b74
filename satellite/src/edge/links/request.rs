//! What a share-link request asks for, parsed once: the view (`/s/` page or `/raw/`
//! bytes), the registration, bucket and key from the path, the query's options, and
//! the HTTP headers that shape the answer (Range, conditionals).
//!
//! Anything malformed is a clear 400 or is ignored where HTTP says a server may ignore
//! it (an unparsable or multi-part Range is answered with the whole object).

use http::HeaderMap;
use percent_encoding::percent_decode_str;
use uplink_core::client::ByteRange;

/// Which face of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// `/s/...`: an HTML page (preview, download button, or a prefix's listing).
    Page,
    /// `/raw/...`: the bytes themselves.
    Raw,
}

/// A link's path: `/{s|raw}/{access key id}/{bucket}/{key}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub view: View,
    pub access: String,
    pub bucket: String,
    /// The object's key; empty or ending in `/` for a prefix.
    pub key: String,
}

impl Link {
    pub fn is_prefix(&self) -> bool {
        self.key.is_empty() || self.key.ends_with('/')
    }
}

/// Why a path is not a link.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadLink {
    #[error("not a share link")]
    NotALink,
    #[error("the link's path is not valid UTF-8 once decoded")]
    NotUtf8,
}

/// Parses a request path (without the query).
pub fn parse_path(path: &str) -> Result<Link, BadLink> {
    let (view, rest) = if let Some(rest) = path.strip_prefix("/s/") {
        (View::Page, rest)
    } else if let Some(rest) = path.strip_prefix("/raw/") {
        (View::Raw, rest)
    } else {
        return Err(BadLink::NotALink);
    };
    let (access, rest) = rest.split_once('/').ok_or(BadLink::NotALink)?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    let decode = |s: &str| {
        percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| BadLink::NotUtf8)
    };
    let (access, bucket, key) = (decode(access)?, decode(bucket)?, decode(key)?);
    if access.is_empty() || bucket.is_empty() {
        return Err(BadLink::NotALink);
    }
    Ok(Link {
        view,
        access,
        bucket,
        key,
    })
}

/// The query options of a link.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// `?download`: an attachment rather than inline.
    pub download: bool,
    /// `?sha256=HEX`: the content the link was made for (lower-case hex).
    pub pin: Option<String>,
    /// `?cursor=...`: the next page of a prefix listing.
    pub cursor: Option<String>,
}

/// Parses a query string; a pin that is not 64 hex digits is an error.
pub fn parse_query(query: Option<&str>) -> Result<Query, String> {
    let mut out = Query::default();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode_str(&value.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        match name {
            "download" => out.download = true,
            "sha256" => {
                let hex = value.to_ascii_lowercase();
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err("sha256 must be 64 hexadecimal digits".into());
                }
                out.pin = Some(hex);
            }
            "cursor" if !value.is_empty() => out.cursor = Some(value),
            _ => {}
        }
    }
    Ok(out)
}

/// The one byte range a `Range` header asks for, if it asks for exactly one that this
/// server understands; anything else means the whole object.
pub fn range(headers: &HeaderMap) -> Option<ByteRange> {
    let value = headers.get(http::header::RANGE)?.to_str().ok()?;
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    spec.parse().ok()
}

/// A header's value as text, if it has one that is text.
pub fn header(headers: &HeaderMap, name: http::header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether an `If-None-Match`/`If-Match` list names `etag` (quoted), or is `*`.
pub fn etag_listed(list: &str, etag: Option<&str>) -> bool {
    list.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || etag.is_some_and(|e| candidate.trim_start_matches("W/") == e)
    })
}

/// An HTTP date as Unix seconds.
pub fn http_date(value: &str) -> Option<i64> {
    let t = httpdate::parse_http_date(value.trim()).ok()?;
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_into_view_access_bucket_and_key() {
        let link = parse_path("/s/ACCESS/bucket/videos/a%20b.mp4").unwrap();
        assert_eq!(link.view, View::Page);
        assert_eq!(link.access, "ACCESS");
        assert_eq!(link.bucket, "bucket");
        assert_eq!(link.key, "videos/a b.mp4");
        assert!(!link.is_prefix());
        let raw = parse_path("/raw/A/b/dir/").unwrap();
        assert_eq!(raw.view, View::Raw);
        assert!(raw.is_prefix());
        let bucket_only = parse_path("/s/A/b").unwrap();
        assert_eq!(bucket_only.key, "");
        assert!(bucket_only.is_prefix());
        assert_eq!(parse_path("/x/A/b/c"), Err(BadLink::NotALink));
        assert_eq!(parse_path("/s/A"), Err(BadLink::NotALink));
        assert_eq!(parse_path("/s//b/c"), Err(BadLink::NotALink));
        assert_eq!(parse_path("/s/A/b/%ff"), Err(BadLink::NotUtf8));
    }

    #[test]
    fn queries_parse_and_bad_pins_are_refused() {
        let pin = "ab".repeat(32);
        let q = parse_query(Some(&format!("download&sha256={}", pin.to_uppercase()))).unwrap();
        assert!(q.download);
        assert_eq!(q.pin.as_deref(), Some(pin.as_str()));
        assert!(parse_query(Some("sha256=abc")).is_err());
        assert!(parse_query(Some(&format!("sha256={}", "zz".repeat(32)))).is_err());
        let q = parse_query(Some("cursor=a%2Bb&other=1")).unwrap();
        assert_eq!(q.cursor.as_deref(), Some("a+b"));
        assert_eq!(parse_query(None).unwrap(), Query::default());
    }

    #[test]
    fn only_single_byte_ranges_are_taken() {
        let mut h = HeaderMap::new();
        h.insert(http::header::RANGE, "bytes=10-19".parse().unwrap());
        assert_eq!(range(&h), Some(ByteRange::Inclusive { start: 10, end: 19 }));
        h.insert(http::header::RANGE, "bytes=-5".parse().unwrap());
        assert_eq!(range(&h), Some(ByteRange::Suffix(5)));
        h.insert(http::header::RANGE, "bytes=0-1,5-6".parse().unwrap());
        assert_eq!(range(&h), None);
        h.insert(http::header::RANGE, "items=0-1".parse().unwrap());
        assert_eq!(range(&h), None);
        h.insert(http::header::RANGE, "bytes=9-3".parse().unwrap());
        assert_eq!(range(&h), None);
    }

    #[test]
    fn etag_lists_and_dates() {
        assert!(etag_listed("\"a\", \"b\"", Some("\"b\"")));
        assert!(etag_listed("W/\"b\"", Some("\"b\"")));
        assert!(etag_listed("*", None));
        assert!(!etag_listed("\"a\"", Some("\"b\"")));
        assert!(!etag_listed("\"a\"", None));
        assert_eq!(http_date("Thu, 01 Jan 1970 00:01:40 GMT"), Some(100));
        assert_eq!(http_date("yesterday"), None);
    }
}
