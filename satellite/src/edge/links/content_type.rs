//! The type a link serves an object as: the one recorded at upload, or else a guess
//! from the key's extension (S3 tools record types, `uplink cp` and many scripts do
//! not), so that a shared video plays and an image previews.

const BY_EXTENSION: &[(&str, &str)] = &[
    ("mp4", "video/mp4"),
    ("m4v", "video/mp4"),
    ("mov", "video/quicktime"),
    ("webm", "video/webm"),
    ("mkv", "video/x-matroska"),
    ("ogv", "video/ogg"),
    ("mp3", "audio/mpeg"),
    ("m4a", "audio/mp4"),
    ("ogg", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("opus", "audio/opus"),
    ("wav", "audio/wav"),
    ("flac", "audio/flac"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("svg", "image/svg+xml"),
    ("ico", "image/x-icon"),
    ("json", "application/json"),
    ("pdf", "application/pdf"),
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("tar", "application/x-tar"),
    ("txt", "text/plain; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"),
    ("csv", "text/csv; charset=utf-8"),
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("css", "text/css"),
    ("js", "text/javascript"),
    ("xml", "application/xml"),
    ("wasm", "application/wasm"),
];

/// The type to serve `key` as, given what was recorded.
pub fn of(key: &str, recorded: Option<&str>) -> String {
    if let Some(t) = recorded.map(str::trim).filter(|t| !t.is_empty())
        && http::HeaderValue::from_str(t).is_ok()
    {
        return t.to_string();
    }
    let name = key.rsplit('/').next().unwrap_or(key);
    let extension = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    BY_EXTENSION
        .iter()
        .find(|(e, _)| *e == extension)
        .map(|(_, t)| t.to_string())
        .unwrap_or_else(|| "application/octet-stream".to_string())
}

/// What a page can preview for a type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preview {
    Image,
    Video,
    Audio,
    None,
}

pub fn preview(content_type: &str) -> Preview {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    match essence.split('/').next() {
        Some("image") => Preview::Image,
        Some("video") => Preview::Video,
        Some("audio") => Preview::Audio,
        _ => Preview::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_types_win_and_extensions_guess() {
        assert_eq!(
            of("a/b.mp4", Some("application/x-custom")),
            "application/x-custom"
        );
        assert_eq!(of("a/b.MP4", None), "video/mp4");
        assert_eq!(of("a/b.mp4", Some("  ")), "video/mp4");
        assert_eq!(of("a/b.mp4", Some("bad\nvalue")), "video/mp4");
        assert_eq!(of("noext", None), "application/octet-stream");
        assert_eq!(of("dir.d/noext", None), "application/octet-stream");
        assert_eq!(preview("video/mp4"), Preview::Video);
        assert_eq!(preview("image/png"), Preview::Image);
        assert_eq!(preview("audio/ogg; codecs=opus"), Preview::Audio);
        assert_eq!(preview("text/html; charset=utf-8"), Preview::None);
    }
}
