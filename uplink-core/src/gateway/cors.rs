//! Per-bucket CORS, so that web pages can upload and read through the gateway.
//!
//! Two halves: the bucket operations (`PutBucketCors`, `GetBucketCors`,
//! `DeleteBucketCors`), which keep the rules on the satellite beside the bucket, and a
//! layer in front of the protocol service that answers preflights (`OPTIONS` with
//! `Origin` and `Access-Control-Request-Method`) and adds the `Access-Control-*` headers
//! to answers for an allowed origin, errors included, as S3 does.
//!
//! A preflight carries no signature, so the layer finds the bucket's owner from the
//! access key id the request names (the `X-Amz-Credential` of a presigned URL, which
//! browsers repeat in the preflight, or an `Authorization` header) and, in the
//! self-hosted gateway, from its one tenant. The hosted gateway cannot tell whose bucket
//! a preflight without either means (bucket names are per project); it lets such a
//! preflight through for the S3 methods, and the bucket's rules still decide on the
//! signed request itself whether the page may read the answer. That gives away nothing:
//! S3 requests carry their authority in a signature, never in cookies a browser adds.
//!
//! Rules are cached per tenant and bucket for [`RULES_TTL`], so that a page's requests
//! do not each cost a satellite round trip; a change made through this gateway applies
//! at once, one made elsewhere within the TTL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::service::Service;
use hyper::{Method, Request, Response, StatusCode};
use s3s::dto::{CORSConfiguration, CORSRule};
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

use super::auth::Tenants;
use super::errors;
use crate::client::{Project, UplinkError};
use crate::protocol::cors::{self, CorsRule, METHODS};

/// How long a bucket's rules are reused before they are read again.
pub const RULES_TTL: Duration = Duration::from_secs(30);
/// Most (tenant, bucket) pairs whose rules are cached.
const MAX_CACHED: usize = 10_000;
/// How long a browser may cache a preflight that no rule of a known bucket decided.
const UNKNOWN_TENANT_MAX_AGE: u32 = 60;

type CachedRules = Option<Arc<Vec<CorsRule>>>;

/// The rules of buckets, as the layer and the bucket operations share them.
#[derive(Default)]
pub(crate) struct RulesCache {
    entries: Mutex<HashMap<(String, String), (Instant, CachedRules)>>,
}

impl RulesCache {
    fn get(&self, tenant: &str, bucket: &str) -> Option<CachedRules> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (at, rules) = entries.get(&(tenant.to_string(), bucket.to_string()))?;
        (at.elapsed() < RULES_TTL).then(|| rules.clone())
    }

    fn put(&self, tenant: &str, bucket: &str, rules: CachedRules) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_CACHED {
            entries.retain(|_, (at, _)| at.elapsed() < RULES_TTL);
            if entries.len() >= MAX_CACHED {
                entries.clear();
            }
        }
        entries.insert(
            (tenant.to_string(), bucket.to_string()),
            (Instant::now(), rules),
        );
    }

    /// Forgets a bucket's rules for every tenant (a change was made through here).
    pub(crate) fn forget(&self, bucket: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|(_, b), _| b != bucket);
    }
}

// ---- the bucket operations ----

pub(crate) fn rules_from_s3(config: CORSConfiguration) -> S3Result<Vec<CorsRule>> {
    let rules: Vec<CorsRule> = config
        .cors_rules
        .into_iter()
        .map(|r| -> S3Result<CorsRule> {
            let max_age_seconds =
                match r.max_age_seconds {
                    None => None,
                    Some(s) => Some(u32::try_from(s).map_err(|_| {
                        s3_error!(MalformedXML, "MaxAgeSeconds must not be negative")
                    })?),
                };
            Ok(CorsRule {
                id: r.id,
                allowed_origins: r.allowed_origins,
                allowed_methods: r.allowed_methods,
                allowed_headers: r.allowed_headers.unwrap_or_default(),
                expose_headers: r.expose_headers.unwrap_or_default(),
                max_age_seconds,
            })
        })
        .collect::<S3Result<_>>()?;
    cors::validate(&rules).map_err(|e| s3_error!(MalformedXML, "{e}"))?;
    Ok(rules)
}

pub(crate) fn rules_to_s3(rules: Vec<CorsRule>) -> Vec<CORSRule> {
    let some = |v: Vec<String>| (!v.is_empty()).then_some(v);
    rules
        .into_iter()
        .map(|r| CORSRule {
            allowed_headers: some(r.allowed_headers),
            allowed_methods: r.allowed_methods,
            allowed_origins: r.allowed_origins,
            expose_headers: some(r.expose_headers),
            id: r.id,
            max_age_seconds: r
                .max_age_seconds
                .map(|s| i32::try_from(s).unwrap_or(i32::MAX)),
        })
        .collect()
}

pub(crate) fn no_configuration() -> S3Error {
    s3_error!(
        NoSuchCORSConfiguration,
        "The CORS configuration does not exist"
    )
}

// ---- the layer ----

/// Answers preflights and adds `Access-Control-*` headers, in front of `inner`.
#[derive(Clone)]
pub(crate) struct CorsLayer<S> {
    inner: S,
    shared: Arc<Shared>,
}

struct Shared {
    tenants: Arc<dyn Tenants>,
    cache: Arc<RulesCache>,
    /// Virtual-hosted-style domains (`bucket.domain`).
    domains: Vec<String>,
}

impl<S> CorsLayer<S> {
    pub(crate) fn new(
        inner: S,
        tenants: Arc<dyn Tenants>,
        cache: Arc<RulesCache>,
        domains: Vec<String>,
    ) -> Self {
        Self {
            inner,
            shared: Arc::new(Shared {
                tenants,
                cache,
                domains,
            }),
        }
    }
}

/// What the layer learned about a bucket's rules.
enum Lookup {
    /// The bucket's owner is known; its rules, if it has any.
    Known(CachedRules),
    /// No way to tell whose bucket this is (hosted gateway, nothing signed).
    UnknownTenant,
    /// The satellite could not be asked.
    Failed(S3Error),
}

impl Shared {
    async fn rules(&self, access_key: Option<&str>, bucket: &str) -> Lookup {
        let tenant = access_key.unwrap_or("");
        if let Some(rules) = self.cache.get(tenant, bucket) {
            return Lookup::Known(rules);
        }
        let Some(project) = self.tenants.project_for_cors(access_key).await else {
            return Lookup::UnknownTenant;
        };
        match fetch(&project, bucket).await {
            Ok(rules) => {
                self.cache.put(tenant, bucket, rules.clone());
                Lookup::Known(rules)
            }
            Err(e) => Lookup::Failed(e),
        }
    }

    /// The bucket a request addresses, virtual-hosted or path style.
    fn bucket_of(&self, req: &Request<Incoming>) -> Option<String> {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        for domain in &self.domains {
            if let Some(bucket) = host
                .strip_suffix(domain.as_str())
                .and_then(|b| b.strip_suffix('.'))
                && !bucket.is_empty()
            {
                return Some(bucket.to_string());
            }
        }
        let first = req.uri().path().trim_start_matches('/').split('/').next()?;
        (!first.is_empty()).then(|| first.to_string())
    }
}

async fn fetch(project: &Project, bucket: &str) -> Result<CachedRules, S3Error> {
    match project.bucket_cors(bucket).await {
        Ok(rules) => Ok(rules.map(Arc::new)),
        // A missing bucket, or one this grant may not read, has no rules for the page.
        Err(UplinkError::BucketNotFound(_) | UplinkError::PermissionDenied(_)) => Ok(None),
        Err(e) => Err(errors::s3(e)),
    }
}

/// The access key id a request names, without checking its signature (the protocol
/// layer does that for everything but the preflight, which is never signed).
fn access_key_of(req: &Request<Incoming>) -> Option<String> {
    if let Some(auth) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some((_, rest)) = auth.split_once("Credential=")
    {
        return rest.split('/').next().map(str::to_string);
    }
    if let Some(auth) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(rest) = auth.strip_prefix("AWS ")
    {
        return rest.split(':').next().map(str::to_string);
    }
    access_key_in_query(req.uri().query()?)
}

/// `X-Amz-Credential` (SigV4) or `AWSAccessKeyId` (SigV2) of a presigned URL.
fn access_key_in_query(query: &str) -> Option<String> {
    for pair in query.split('&') {
        if let Some(value) = pair.strip_prefix("X-Amz-Credential=") {
            let decoded = percent_decode(value);
            return decoded.split('/').next().map(str::to_string);
        }
        if let Some(value) = pair.strip_prefix("AWSAccessKeyId=") {
            return Some(percent_decode(value));
        }
    }
    None
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The header names a preflight asks for, lower-case.
fn requested_headers(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

/// The headers that let `origin` read an answer under `rule`.
fn allow(headers: &mut HeaderMap, rule: &CorsRule, origin: &str) {
    let allowed_origin = if rule.any_origin() { "*" } else { origin };
    set(headers, header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed_origin);
    set(
        headers,
        header::ACCESS_CONTROL_ALLOW_METHODS,
        &rule.allowed_methods.join(", "),
    );
    if !rule.expose_headers.is_empty() {
        set(
            headers,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            &rule.expose_headers.join(", "),
        );
    }
    if let Some(age) = rule.max_age_seconds {
        set(headers, header::ACCESS_CONTROL_MAX_AGE, &age.to_string());
    }
    set(headers, header::VARY, VARY);
}

fn forbidden(message: &'static str) -> S3Error {
    let mut e = S3Error::with_message(S3ErrorCode::Custom("AccessForbidden".into()), message);
    e.set_status_code(StatusCode::FORBIDDEN);
    e
}

fn error_response(e: S3Error) -> Response<s3s::Body> {
    e.to_http_response().unwrap_or_else(|_| {
        let mut r = Response::new(s3s::Body::empty());
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

async fn preflight(
    shared: &Shared,
    req: &Request<Incoming>,
    origin: &str,
    method: &str,
    bucket: &str,
) -> Response<s3s::Body> {
    let asked = requested_headers(req.headers());
    let access_key = access_key_of(req);
    let mut response = Response::new(s3s::Body::empty());
    match shared.rules(access_key.as_deref(), bucket).await {
        Lookup::Known(None) => {
            return error_response(forbidden(
                "CORSResponse: CORS is not enabled for this bucket.",
            ));
        }
        Lookup::Known(Some(rules)) => {
            let Some(rule) =
                cors::matching(&rules, origin, method, asked.iter().map(String::as_str))
            else {
                return error_response(forbidden(
                    "CORSResponse: This CORS request is not allowed: no rule of the bucket \
                     allows this origin, method and headers.",
                ));
            };
            allow(response.headers_mut(), rule, origin);
        }
        Lookup::UnknownTenant => {
            if !METHODS.contains(&method) {
                return error_response(forbidden(
                    "CORSResponse: This CORS request is not allowed: not an S3 method.",
                ));
            }
            let headers = response.headers_mut();
            set(headers, header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            set(headers, header::ACCESS_CONTROL_ALLOW_METHODS, method);
            set(
                headers,
                header::ACCESS_CONTROL_MAX_AGE,
                &UNKNOWN_TENANT_MAX_AGE.to_string(),
            );
            set(headers, header::VARY, VARY);
        }
        Lookup::Failed(e) => return error_response(e),
    }
    if !asked.is_empty() {
        set(
            response.headers_mut(),
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            &asked.join(", "),
        );
    }
    response
}

impl<S> Service<Request<Incoming>> for CorsLayer<S>
where
    S: Service<Request<Incoming>, Response = Response<s3s::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<s3s::Body>;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response<s3s::Body>, S::Error>> + Send>,
    >;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let shared = self.shared.clone();
        let inner = self.inner.clone();
        Box::pin(async move {
            let origin = header_str(req.headers(), &header::ORIGIN).map(str::to_string);
            let (Some(origin), Some(bucket)) = (origin, shared.bucket_of(&req)) else {
                return inner.call(req).await;
            };
            if req.method() == Method::OPTIONS
                && let Some(method) =
                    header_str(req.headers(), &header::ACCESS_CONTROL_REQUEST_METHOD)
            {
                let method = method.to_string();
                return Ok(preflight(&shared, &req, &origin, &method, &bucket).await);
            }
            let method = req.method().as_str().to_string();
            let access_key = access_key_of(&req);
            let mut response = inner.call(req).await?;
            if let Lookup::Known(Some(rules)) = shared.rules(access_key.as_deref(), &bucket).await
                && let Some(rule) = cors::matching(&rules, &origin, &method, std::iter::empty())
            {
                allow(response.headers_mut(), rule, &origin);
            } else {
                set(response.headers_mut(), header::VARY, VARY);
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_read_from_the_query_percent_decoded() {
        assert_eq!(
            percent_decode("AKID%2F20261202%2Fus-east-1%2Fs3%2Faws4_request"),
            "AKID/20261202/us-east-1/s3/aws4_request"
        );
        assert_eq!(percent_decode("a%2"), "a%2", "a cut escape stays as is");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn presigned_urls_of_both_versions_name_their_key() {
        let v4 = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK1%2F20261202%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=00";
        assert_eq!(access_key_in_query(v4).as_deref(), Some("AK1"));
        let v2 = "AWSAccessKeyId=AK2&Signature=abc%3D&Expires=1";
        assert_eq!(access_key_in_query(v2).as_deref(), Some("AK2"));
        assert_eq!(access_key_in_query("prefix=a&list-type=2"), None);
    }

    #[test]
    fn the_cache_forgets_a_bucket_for_every_tenant() {
        let cache = RulesCache::default();
        cache.put("a", "b", None);
        cache.put("c", "b", Some(Arc::new(Vec::new())));
        cache.put("a", "other", None);
        cache.forget("b");
        assert!(cache.get("a", "b").is_none());
        assert!(cache.get("c", "b").is_none());
        assert!(cache.get("a", "other").is_some());
    }

    #[test]
    fn s3_rules_are_validated_on_the_way_in() {
        let rule = |methods: Vec<&str>, age: Option<i32>| CORSRule {
            allowed_origins: vec!["https://app.example".into()],
            allowed_methods: methods.into_iter().map(String::from).collect(),
            allowed_headers: None,
            expose_headers: Some(vec!["ETag".into()]),
            id: None,
            max_age_seconds: age,
        };
        let ok = rules_from_s3(CORSConfiguration {
            cors_rules: vec![rule(vec!["GET", "PUT"], Some(600))],
        })
        .unwrap();
        assert_eq!(ok[0].expose_headers, vec!["ETag"]);
        assert_eq!(rules_to_s3(ok)[0].max_age_seconds, Some(600));
        for bad in [rule(vec!["PATCH"], None), rule(vec!["GET"], Some(-1))] {
            let e = rules_from_s3(CORSConfiguration {
                cors_rules: vec![bad],
            })
            .unwrap_err();
            assert_eq!(e.code(), &S3ErrorCode::MalformedXML);
        }
    }
}
