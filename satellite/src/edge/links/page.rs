//! `/s/...`: the page a person opens. An object's page previews it (image, video or
//! audio player) with a download button; a prefix's page lists what is under it, a
//! page at a time. Open Graph and Twitter card tags let chat and social apps show a
//! preview of a shared link.
//!
//! Pages are built from escaped text only and load nothing from elsewhere (a strict
//! Content-Security-Policy says so to the browser), so a hostile object name cannot
//! inject markup and a page view tells no third party about the link.

use std::fmt::Write;

use http::{Response, StatusCode, header};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use uplink_core::client::{ListOptions, ObjectEntry, Project};
use uplink_core::units::format_size;

use super::Request;
use super::content_type::{self, Preview};
use super::raw::{self, Conditional, Validators};
use super::request::Link;
use super::response::{self, Body, Failure, builder};

/// Keys and names in a path: everything but unreserved characters and `/` escaped.
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Objects per listing page.
const PAGE_SIZE: u32 = 100;

const PAGE_CSP: &str = "default-src 'none'; img-src 'self'; media-src 'self'; \
                        style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; \
                        form-action 'none'";

pub fn page_path(link: &Link, key: &str) -> String {
    format!(
        "/s/{}/{}/{}",
        utf8_percent_encode(&link.access, PATH),
        utf8_percent_encode(&link.bucket, PATH),
        utf8_percent_encode(key, PATH)
    )
}

pub fn raw_path(link: &Link, key: &str) -> String {
    format!(
        "/raw/{}/{}/{}",
        utf8_percent_encode(&link.access, PATH),
        utf8_percent_encode(&link.bucket, PATH),
        utf8_percent_encode(key, PATH)
    )
}

/// Text safe in HTML content and in quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn date(unix: i64) -> String {
    httpdate::fmt_http_date(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0) as u64),
    )
}

/// The last component of a key (or prefix, without its `/`).
fn name_of(key: &str) -> &str {
    let trimmed = key.strip_suffix('/').unwrap_or(key);
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// A whole HTML document around `body`, with Open Graph `meta` tags.
fn document(title: &str, meta: &[(&str, String)], body: &str) -> String {
    let mut head = String::new();
    for (property, content) in meta {
        let attr = if property.starts_with("twitter:") {
            "name"
        } else {
            "property"
        };
        let _ = writeln!(
            head,
            "<meta {attr}=\"{}\" content=\"{}\">",
            escape(property),
            escape(content)
        );
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">\n\
         <title>{title}</title>\n{head}<style>\
         body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}\
         img,video{{max-width:100%;max-height:70vh;display:block;margin:1rem 0}}\
         audio{{width:100%;margin:1rem 0}}\
         a.button{{display:inline-block;padding:.6rem 1.2rem;background:#0b5fff;color:#fff;border-radius:.3rem;text-decoration:none}}\
         table{{border-collapse:collapse;width:100%}}td,th{{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd}}\
         .meta{{color:#555}}code{{word-break:break-all}}\
         </style></head>\n<body>\n{body}\n</body></html>\n",
        title = escape(title)
    )
}

fn html(status: StatusCode, text: String, cache: http::HeaderValue) -> Response<Body> {
    builder(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CONTENT_SECURITY_POLICY, PAGE_CSP)
        .header(header::CACHE_CONTROL, cache)
        .body(response::full(text))
        .expect("valid response")
}

/// A failure as a page.
pub fn failure(f: &Failure) -> Response<Body> {
    let body = format!(
        "<h1>{}</h1>\n<p>{}</p>",
        escape(f.status.canonical_reason().unwrap_or("Error")),
        escape(&f.message)
    );
    let mut r = html(
        f.status,
        document("Share link", &[], &body),
        http::HeaderValue::from_static("no-store"),
    );
    if f.status == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut()
            .insert(header::RETRY_AFTER, http::HeaderValue::from_static("2"));
    }
    r
}

pub async fn serve(project: &Project, req: &Request<'_>) -> Result<Response<Body>, Failure> {
    if req.link.is_prefix() {
        return listing(project, req).await;
    }
    let entry = project
        .stat_object(&req.link.bucket, &req.link.key)
        .await
        .map_err(|e| response::failure_of(&e))?;
    raw::check_pin(&entry, req.query)?;
    let validators = Validators::of(&entry, req.max_age(&entry));
    match raw::conditional(req.headers, &entry, validators.etag.as_deref()) {
        Conditional::NotModified => {
            let mut b =
                builder(StatusCode::NOT_MODIFIED).header(header::CACHE_CONTROL, validators.cache);
            if let Some(etag) = &validators.etag {
                b = b.header(header::ETAG, etag);
            }
            return Ok(b.body(response::empty()).expect("valid response"));
        }
        Conditional::Failed => {
            return Err(Failure::new(
                StatusCode::PRECONDITION_FAILED,
                "The object does not match the request's preconditions.",
            ));
        }
        Conditional::Proceed => {}
    }
    let text = object_page(req, &entry);
    let mut response = html(StatusCode::OK, text, validators.cache.clone());
    if let Some(etag) = &validators.etag {
        // The page changes with the object: its validator is the object's, weakened.
        if let Ok(v) = http::HeaderValue::from_str(&format!("W/{etag}")) {
            response.headers_mut().insert(header::ETAG, v);
        }
    }
    if req.head {
        *response.body_mut() = response::empty();
    }
    Ok(response)
}

fn pin_query(req: &Request<'_>) -> String {
    match &req.query.pin {
        Some(pin) => format!("?sha256={pin}"),
        None => String::new(),
    }
}

fn object_page(req: &Request<'_>, entry: &ObjectEntry) -> String {
    let link = req.link;
    let name = name_of(&link.key);
    let kind = content_type::of(&link.key, entry.content_type.as_deref());
    let pin = pin_query(req);
    let raw = format!("{}{pin}", raw_path(link, &link.key));
    let download = if pin.is_empty() {
        format!("{raw}?download")
    } else {
        format!("{raw}&download")
    };
    let base = req.base_url();
    let absolute_raw = format!("{base}{raw}");
    let preview = content_type::preview(&kind);
    let mut meta = vec![
        ("og:title", name.to_string()),
        ("og:site_name", "Shared file".to_string()),
        (
            "og:url",
            format!("{base}{}{pin}", page_path(link, &link.key)),
        ),
        (
            "og:description",
            format!("{} · {}", format_size(entry.size), kind),
        ),
    ];
    let element = match preview {
        Preview::Image => {
            meta.push(("og:type", "website".into()));
            meta.push(("og:image", absolute_raw.clone()));
            meta.push(("og:image:type", kind.clone()));
            meta.push(("twitter:card", "summary_large_image".into()));
            meta.push(("twitter:image", absolute_raw.clone()));
            format!("<img src=\"{}\" alt=\"{}\">", escape(&raw), escape(name))
        }
        Preview::Video => {
            meta.push(("og:type", "video.other".into()));
            meta.push(("og:video", absolute_raw.clone()));
            meta.push(("og:video:type", kind.clone()));
            meta.push(("twitter:card", "player".into()));
            format!(
                "<video controls preload=\"metadata\" src=\"{}\"></video>",
                escape(&raw)
            )
        }
        Preview::Audio => {
            meta.push(("og:type", "music.song".into()));
            meta.push(("og:audio", absolute_raw.clone()));
            meta.push(("og:audio:type", kind.clone()));
            meta.push(("twitter:card", "summary".into()));
            format!(
                "<audio controls preload=\"metadata\" src=\"{}\"></audio>",
                escape(&raw)
            )
        }
        Preview::None => {
            meta.push(("og:type", "website".into()));
            meta.push(("twitter:card", "summary".into()));
            String::new()
        }
    };
    let mut details = format!(
        "{} · {} · uploaded {}",
        escape(&format_size(entry.size)),
        escape(&kind),
        escape(&date(entry.created_at))
    );
    if let Some(sha) = &entry.sha256 {
        let _ = write!(details, "<br>SHA-256 <code>{}</code>", escape(sha));
        if req.query.pin.is_some() {
            details.push_str(" (pinned: this link serves only this content)");
        }
    }
    let body = format!(
        "<h1>{}</h1>\n{element}\n<p><a class=\"button\" href=\"{}\" download>Download</a></p>\n\
         <p class=\"meta\">{details}</p>",
        escape(name),
        escape(&download)
    );
    document(name, &meta, &body)
}

async fn listing(project: &Project, req: &Request<'_>) -> Result<Response<Body>, Failure> {
    let link = req.link;
    let page = project
        .list_objects_page(
            &link.bucket,
            &ListOptions {
                prefix: link.key.clone(),
                delimiter: None,
                recursive: false,
                cursor: req.query.cursor.clone(),
                limit: Some(PAGE_SIZE),
                include_metadata: false,
            },
        )
        .await
        .map_err(|e| response::failure_of(&e))?;
    let title = if link.key.is_empty() {
        link.bucket.clone()
    } else {
        format!("{}/{}", link.bucket, link.key)
    };
    let mut rows = String::new();
    if let Some(parent) = parent_of(&link.key) {
        let _ = writeln!(
            rows,
            "<tr><td><a href=\"{}\">../</a></td><td></td><td></td></tr>",
            escape(&page_path(link, parent))
        );
    }
    for item in &page.items {
        let shown = item.key.strip_prefix(&link.key).unwrap_or(&item.key);
        if item.is_prefix {
            let _ = writeln!(
                rows,
                "<tr><td><a href=\"{}\">{}</a></td><td></td><td></td></tr>",
                escape(&page_path(link, &item.key)),
                escape(shown)
            );
        } else {
            let _ = writeln!(
                rows,
                "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td></tr>",
                escape(&page_path(link, &item.key)),
                escape(shown),
                escape(&format_size(item.size)),
                escape(&date(item.created_at))
            );
        }
    }
    let mut body = format!(
        "<h1>{}</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Uploaded</th></tr>\n{rows}</table>",
        escape(&title)
    );
    if page.items.is_empty() {
        body.push_str("\n<p class=\"meta\">Nothing here.</p>");
    }
    if let Some(cursor) = &page.next_cursor {
        let next = format!(
            "{}?cursor={}",
            page_path(link, &link.key),
            utf8_percent_encode(cursor, NON_ALPHANUMERIC)
        );
        let _ = write!(body, "\n<p><a href=\"{}\">Next page</a></p>", escape(&next));
    }
    let meta = [
        ("og:title", title.clone()),
        ("og:type", "website".to_string()),
        (
            "og:url",
            format!("{}{}", req.base_url(), page_path(link, &link.key)),
        ),
        ("og:description", "Shared folder".to_string()),
        ("twitter:card", "summary".to_string()),
    ];
    let mut response = html(
        StatusCode::OK,
        document(&title, &meta, &body),
        response::cache_control(req.max_age_of_link()),
    );
    if req.head {
        *response.body_mut() = response::empty();
    }
    Ok(response)
}

/// The prefix above `prefix` (`a/b/` → `a/`, `a/` → ``), or none at the top.
fn parent_of(prefix: &str) -> Option<&str> {
    let trimmed = prefix.strip_suffix('/')?;
    Some(match trimmed.rfind('/') {
        Some(i) => &prefix[..=i],
        None => "",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_paths() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let link = Link {
            view: super::super::request::View::Page,
            access: "ACC".into(),
            bucket: "b".into(),
            key: String::new(),
        };
        assert_eq!(
            page_path(&link, "a b/c?d#e.mp4"),
            "/s/ACC/b/a%20b/c%3Fd%23e.mp4"
        );
        assert_eq!(raw_path(&link, "x/"), "/raw/ACC/b/x/");
        assert_eq!(parent_of("a/b/"), Some("a/"));
        assert_eq!(parent_of("a/"), Some(""));
        assert_eq!(parent_of(""), None);
        assert_eq!(name_of("a/b/c.mp4"), "c.mp4");
        assert_eq!(name_of("a/b/"), "b");
    }
}
