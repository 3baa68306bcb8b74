//! The web console's static files, built into the binary from `satellite/console/`,
//! so users install nothing beyond the satellite. Client-side routes fall back to
//! `index.html`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use include_dir::{Dir, include_dir};

static CONSOLE: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/console");

/// Scripts only from this origin, no framing, no MIME sniffing: the console handles
/// passphrases and keys.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; object-src 'none'; \
                   base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// Files that are part of the source tree but not of the served console.
fn served(path: &str) -> bool {
    !path.starts_with("tests/") && !path.split('/').any(|c| c.starts_with('.'))
}

pub async fn serve(req: HttpRequest) -> HttpResponse {
    if req.method() != actix_web::http::Method::GET && req.method() != actix_web::http::Method::HEAD
    {
        return crate::error::SatelliteError::NotFound(format!(
            "no endpoint {} {}",
            req.method(),
            req.path()
        ))
        .error_response_public();
    }
    let path = req.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    let file = CONSOLE.get_file(path).filter(|_| served(path));
    let (path, file) = match file {
        Some(f) => (path, f),
        // A client-side route such as `/projects/x`: let the app handle it.
        None if !path.rsplit('/').next().unwrap_or("").contains('.') => {
            match CONSOLE.get_file("index.html") {
                Some(f) => ("index.html", f),
                None => return HttpResponse::NotFound().finish(),
            }
        }
        None => return HttpResponse::NotFound().finish(),
    };
    let cache = if path == "index.html" {
        "no-cache"
    } else {
        "public, max-age=300"
    };
    HttpResponse::Ok()
        .content_type(content_type(path))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .body(file.contents())
}
