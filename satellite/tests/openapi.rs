//! The console API's OpenAPI document (`console/openapi.json`) against the server.
//!
//! The document must be well-formed OpenAPI 3.1 whose references all resolve; it must
//! name exactly the routes `src/api/console.rs` registers, so that neither can change
//! without the other; every documented operation must be served, and refuse callers
//! without a session unless it is documented as public; and a walk through the API
//! (accounts, projects, members, keys, buckets, errors) must get only documented
//! statuses, with bodies that match the documented schemas field for field.

use std::collections::BTreeSet;
use uplink_core::transport::Transport;

use satellite::SatelliteConfig;
use serde_json::{Value, json};
use uplink_core::access::{ApiKey, Caveat};

const DOCUMENT: &str = include_str!("../console/openapi.json");
const ROUTES_SOURCE: &str = include_str!("../src/api/console.rs");
const SCOPE: &str = "/api/v0";
const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("console/openapi.json is JSON")
}

/// The value a local reference (`#/components/...`) names.
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

/// `value`, or what it refers to when it is a `{"$ref": ...}`.
fn deref<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        value = resolve(doc, reference).unwrap_or_else(|| panic!("unresolved $ref {reference}"));
    }
    value
}

/// Every `$ref` in the document, with where it occurs.
fn references(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref" {
                    out.push((at.to_string(), child.as_str().unwrap_or("").to_string()));
                } else {
                    references(child, &format!("{at}/{key}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                references(child, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// One documented operation.
struct Operation<'a> {
    /// Upper case, as on the wire.
    method: String,
    /// The path as documented, relative to the server URL.
    template: String,
    /// The full path template, server URL included (`/api/v0/projects/{project}`).
    route: String,
    spec: &'a Value,
    /// Documented with `security: []`.
    public: bool,
}

fn server_url(doc: &Value) -> &str {
    doc["servers"][0]["url"]
        .as_str()
        .expect("the document names its server URL")
}

fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let global_public = doc["security"].as_array().is_none_or(Vec::is_empty);
    let base = server_url(doc);
    let mut out = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        for (method, spec) in item.as_object().expect("path item") {
            if !HTTP_METHODS.contains(&method.as_str()) {
                continue;
            }
            let public = match spec.get("security") {
                Some(s) => s.as_array().expect("security is a list").is_empty(),
                None => global_public,
            };
            out.push(Operation {
                method: method.to_uppercase(),
                template: template.clone(),
                route: format!("{base}{template}"),
                spec,
                public,
            });
        }
    }
    out
}

/// `(METHOD, path)` of every route in the `/api/v0` scope of `src/api/console.rs`, read
/// from `.route("<path>", web::<method>()...)` calls.
fn registered_routes() -> BTreeSet<(String, String)> {
    let opening = format!("web::scope(\"{SCOPE}\")");
    let start = ROUTES_SOURCE
        .find(&opening)
        .unwrap_or_else(|| panic!("console.rs has no {opening}"));
    let scope = &ROUTES_SOURCE[start + opening.len()..];
    let scope = &scope[..scope.find(".default_service(").unwrap_or(scope.len())];
    let mut routes = BTreeSet::new();
    for call in scope.split(".route(").skip(1) {
        let path = call
            .split('"')
            .nth(1)
            .unwrap_or_else(|| panic!("a route without a path literal: {call}"));
        let method = call
            .split("web::")
            .nth(1)
            .and_then(|m| m.split('(').next())
            .unwrap_or_else(|| panic!("a route without web::<method>(): {call}"));
        assert!(
            HTTP_METHODS.contains(&method),
            "route {path}: {method} is not an HTTP method"
        );
        routes.insert((method.to_uppercase(), format!("{SCOPE}{path}")));
    }
    routes
}

/// The `{name}` parameters of a path template, in order.
fn template_params(template: &str) -> Vec<&str> {
    template
        .split('{')
        .skip(1)
        .map(|s| s.split('}').next().expect("closing brace"))
        .collect()
}

/// The template with its parameters replaced, in order, by `args`.
fn fill(template: &str, args: &[&str]) -> String {
    let params = template_params(template);
    assert_eq!(params.len(), args.len(), "arguments for {template}");
    let mut path = template.to_string();
    for (name, arg) in params.iter().zip(args) {
        path = path.replacen(&format!("{{{name}}}"), arg, 1);
    }
    path
}

/// Keywords that only annotate. `pattern` is among them because no regex engine is at
/// hand; the patterns in use are checked by the walk-through instead.
const ANNOTATIONS: [&str; 11] = [
    "description",
    "format",
    "example",
    "examples",
    "default",
    "contentEncoding",
    "writeOnly",
    "readOnly",
    "title",
    "pattern",
    "summary",
];

/// Checks `value` against the part of JSON Schema the document uses, and also that an
/// object has no property its schema leaves undeclared, so that a field the server
/// adds cannot go undocumented. A keyword this checker does not know fails the check
/// rather than being ignored.
fn check_schema(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = deref(doc, schema);
    let map = schema.as_object().expect("a schema is an object");
    for key in map.keys() {
        let known = matches!(
            key.as_str(),
            "type"
                | "enum"
                | "properties"
                | "required"
                | "items"
                | "minimum"
                | "maximum"
                | "minLength"
                | "maxLength"
        ) || ANNOTATIONS.contains(&key.as_str());
        assert!(known, "schema keyword {key:?} at {at} is not checked");
    }
    if let Some(types) = map.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            other => panic!("type {other} at {at}"),
        };
        let fits = types.iter().any(|t| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            other => panic!("unknown type {other} at {at}"),
        });
        if !fits {
            errors.push(format!("{at}: {value} is not of type {types:?}"));
            return;
        }
    }
    if let Some(allowed) = map.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = map.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            errors.push(format!("{at}: {n} < minimum {min}"));
        }
        if let Some(max) = map.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            errors.push(format!("{at}: {n} > maximum {max}"));
        }
    }
    if let Some(s) = value.as_str() {
        let chars = s.chars().count() as u64;
        if let Some(min) = map.get("minLength").and_then(Value::as_u64)
            && chars < min
        {
            errors.push(format!("{at}: {s:?} is shorter than {min}"));
        }
        if let Some(max) = map.get("maxLength").and_then(Value::as_u64)
            && chars > max
        {
            errors.push(format!("{at}: {s:?} is longer than {max}"));
        }
    }
    if let Some(object) = value.as_object() {
        for name in map
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().expect("required names");
            if !object.contains_key(name) {
                errors.push(format!("{at}: required property {name:?} is missing"));
            }
        }
        if let Some(properties) = map.get("properties").and_then(Value::as_object) {
            for (name, child) in object {
                match properties.get(name) {
                    Some(s) => check_schema(doc, s, child, &format!("{at}.{name}"), errors),
                    None => errors.push(format!("{at}: property {name:?} is not documented")),
                }
            }
        }
    }
    if let (Some(items), Some(array)) = (map.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check_schema(doc, items, item, &format!("{at}[{i}]"), errors);
        }
    }
}

fn assert_matches(doc: &Value, schema: &Value, value: &Value, what: &str) {
    let mut errors = Vec::new();
    check_schema(doc, schema, value, what, &mut errors);
    assert!(
        errors.is_empty(),
        "{what} does not match its schema:\n{}\n{value:#}",
        errors.join("\n")
    );
}

#[test]
fn the_document_is_openapi_3_1_and_every_reference_resolves() {
    let doc = document();
    let version = doc["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3.1."), "openapi {version}");
    for field in ["title", "version"] {
        assert!(
            doc["info"][field]
                .as_str()
                .is_some_and(|s| !s.trim().is_empty()),
            "info.{field} is missing"
        );
    }
    assert_eq!(server_url(&doc), SCOPE);

    let mut refs = Vec::new();
    references(&doc, "#", &mut refs);
    assert!(refs.len() > 20, "suspiciously few $refs: {}", refs.len());
    for (at, reference) in &refs {
        assert!(
            reference.starts_with("#/") && resolve(&doc, reference).is_some(),
            "{at}: $ref {reference:?} does not resolve"
        );
    }

    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    assert_eq!(schemes["sessionCookie"]["type"], "apiKey");
    assert_eq!(schemes["sessionCookie"]["in"], "cookie");
    assert_eq!(schemes["sessionCookie"]["name"], "sj_session");
    assert_eq!(schemes["bearerAuth"]["type"], "http");
    assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
    let global = doc["security"].as_array().expect("global security");
    assert!(
        !global.is_empty(),
        "the API must be authenticated by default"
    );

    let mut operation_ids = BTreeSet::new();
    for op in operations(&doc) {
        let name = format!("{} {}", op.method, op.route);
        let id = op.spec["operationId"].as_str().expect("operationId");
        assert!(
            operation_ids.insert(id),
            "{name}: duplicate operationId {id}"
        );
        for requirement in op.spec["security"]
            .as_array()
            .unwrap_or(global)
            .iter()
            .flat_map(|r| r.as_object().expect("security requirement").keys())
        {
            assert!(schemes.contains_key(requirement), "{name}: {requirement}");
        }

        // Every path parameter is declared, and every declared one is in the path.
        let item = &doc["paths"][&op.template];
        let declared: Vec<&Value> = [&item["parameters"], &op.spec["parameters"]]
            .into_iter()
            .filter_map(Value::as_array)
            .flatten()
            .map(|p| deref(&doc, p))
            .collect();
        let in_path: BTreeSet<&str> = declared
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| {
                assert_eq!(p["required"], true, "{name}: path parameters are required");
                p["name"].as_str().expect("parameter name")
            })
            .collect();
        let wanted: BTreeSet<&str> = template_params(&op.template).into_iter().collect();
        assert_eq!(in_path, wanted, "{name}: path parameters");

        let responses = op.spec["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{name}: no success response"
        );
        for (status, response) in responses {
            let response = deref(&doc, response);
            assert!(
                response["description"].is_string(),
                "{name} {status}: description"
            );
            for (media, content) in response["content"].as_object().into_iter().flatten() {
                if let Some(example) = content.get("example") {
                    assert_matches(
                        &doc,
                        &content["schema"],
                        example,
                        &format!("{name} {status} {media} example"),
                    );
                }
            }
        }
        let needs_session = !op.public;
        assert_eq!(
            responses.contains_key("401"),
            needs_session || op.route.ends_with("/auth/login"),
            "{name}: 401 is documented exactly where a session is needed (and for login)"
        );
        if let Some(body) = op.spec.get("requestBody") {
            let content = &deref(&doc, body)["content"]["application/json"];
            assert_matches(
                &doc,
                &content["schema"],
                &content["example"],
                &format!("{name} request example"),
            );
        }
    }

    for (name, schema) in doc["components"]["schemas"].as_object().expect("schemas") {
        if let Some(example) = schema.get("example") {
            assert_matches(&doc, schema, example, &format!("schema {name} example"));
        }
    }
}

#[test]
fn the_document_names_exactly_the_registered_routes() {
    let doc = document();
    let registered = registered_routes();
    assert!(
        registered.contains(&("GET".into(), format!("{SCOPE}/openapi.json"))),
        "reading the routes of console.rs failed: {registered:?}"
    );
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|op| (op.method, op.route))
        .collect();
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes of console.rs missing from openapi.json: {undocumented:?}"
    );
    let unserved: Vec<_> = documented.difference(&registered).collect();
    assert!(
        unserved.is_empty(),
        "operations of openapi.json that console.rs does not register: {unserved:?}"
    );
}

/// A client that checks every answer against the document.
struct Api<'a> {
    doc: &'a Value,
    http: reqwest::Client,
    origin: String,
}

/// An answer: status, and the JSON body (`Null` when empty, a string when plain text).
struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// A request to send.
#[derive(Default)]
struct Call<'r> {
    token: Option<&'r str>,
    cookie: Option<&'r str>,
    origin: Option<&'r str>,
    query: &'r [(&'r str, &'r str)],
    body: Option<Value>,
}

impl Api<'_> {
    fn operation(&self, method: &str, template: &str) -> &Value {
        self.doc["paths"][template]
            .get(method.to_lowercase())
            .unwrap_or_else(|| panic!("{method} {template} is not documented"))
    }

    /// Sends a request to a documented operation and checks that its status is
    /// documented and its body matches the documented content.
    async fn call(&self, method: &str, template: &str, args: &[&str], call: Call<'_>) -> Answer {
        let spec = self.operation(method, template);
        let url = format!(
            "{}{}{}",
            self.origin,
            server_url(self.doc),
            fill(template, args)
        );
        let mut req = self
            .http
            .request(method.parse().expect("method"), &url)
            .query(call.query);
        if let Some(token) = call.token {
            req = req.bearer_auth(token);
        }
        if let Some(cookie) = call.cookie {
            req = req.header("cookie", format!("sj_session={cookie}"));
        }
        if let Some(origin) = call.origin {
            req = req.header("origin", origin);
        }
        if let Some(body) = &call.body {
            req = req.json(body);
        }
        let res = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
        let status = res.status().as_u16();
        let media = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_string());
        let text = res.text().await.expect("response body");
        let what = format!("{method} {template} -> {status}");
        let response = spec["responses"]
            .get(status.to_string())
            .map(|r| deref(self.doc, r))
            .unwrap_or_else(|| panic!("{what} is not a documented status: {text}"));
        let body = match (&media, response.get("content")) {
            (_, None) => {
                assert!(text.is_empty(), "{what}: undocumented body {text}");
                Value::Null
            }
            (None, Some(_)) => panic!("{what}: a body is documented but none came"),
            (Some(media), Some(content)) => {
                let content = content
                    .get(media)
                    .unwrap_or_else(|| panic!("{what}: {media} is not documented: {text}"));
                let body = if media == "application/json" {
                    serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"))
                } else {
                    Value::String(text)
                };
                assert_matches(self.doc, &content["schema"], &body, &what);
                body
            }
        };
        Answer { status, body }
    }

    async fn get(&self, template: &str, args: &[&str], token: &str) -> Answer {
        let call = Call {
            token: Some(token),
            ..Call::default()
        };
        self.call("GET", template, args, call).await
    }

    async fn send(
        &self,
        method: &str,
        template: &str,
        args: &[&str],
        token: &str,
        body: Option<Value>,
    ) -> Answer {
        let call = Call {
            token: Some(token),
            body,
            ..Call::default()
        };
        self.call(method, template, args, call).await
    }

    /// Signs up and returns the session token and user id.
    async fn signup(&self, email: &str) -> (String, String) {
        let body = json!({"email": email, "password": "correct horse battery"});
        let call = Call {
            body: Some(body),
            ..Call::default()
        };
        let answer = self.call("POST", "/auth/signup", &[], call).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        (
            answer.body["token"].as_str().expect("token").to_string(),
            answer.body["user"]["id"].as_str().expect("id").to_string(),
        )
    }

    /// A metainfo call (not part of the console API) with an API key.
    async fn metainfo(&self, path: &str, key: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .post(format!("{}{path}", self.origin))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .expect("metainfo reachable");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

/// The request body example documented for an operation.
fn example_body(doc: &Value, op: &Value) -> Option<Value> {
    let body = deref(doc, op.get("requestBody")?);
    Some(body["content"]["application/json"]["example"].clone())
}

/// A satellite on SQLite; with `TEST_DATABASE_URL` (a PostgreSQL server) on a new
/// database there, and with `TEST_REDIS_URL` its caches in that Redis.
async fn start() -> (tempfile::TempDir, satellite::RunningSatellite) {
    let dir = tempfile::tempdir().expect("temp dir");
    let satellite = satellite::start(SatelliteConfig {
        data_dir: dir.path().to_path_buf(),
        listen_addr: "127.0.0.1:0".into(),
        database_url: fresh_postgres_database().await,
        redis_url: std::env::var("TEST_REDIS_URL").ok(),
        ..Default::default()
    })
    .await
    .expect("satellite starts");
    (dir, satellite)
}

async fn fresh_postgres_database() -> Option<String> {
    use sea_orm::ConnectionTrait;
    let admin_url = std::env::var("TEST_DATABASE_URL").ok()?;
    let admin = sea_orm::Database::connect(admin_url.as_str())
        .await
        .expect("TEST_DATABASE_URL must be a reachable PostgreSQL server");
    let name = format!("openapi_test_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("CREATE DATABASE");
    let _ = admin.close().await;
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin_url.as_str(), String::new()),
    };
    let (server, _) = base.rsplit_once('/').expect("URL with a database path");
    Some(format!("{server}/{name}{query}"))
}

/// The satellite's transport (TLS unless it was configured otherwise).
fn transport(satellite: &satellite::RunningSatellite) -> Transport {
    Transport::shared(satellite.transport_mode())
}

fn api<'a>(doc: &'a Value, satellite: &satellite::RunningSatellite) -> Api<'a> {
    Api {
        doc,
        http: transport(satellite).http().clone(),
        origin: transport(satellite)
            .node_url(&satellite.url, "")
            .expect("the satellite's URL"),
    }
}

#[tokio::test]
async fn every_documented_operation_is_served_and_guarded() {
    let doc = document();
    let (_dir, satellite) = start().await;
    let api = api(&doc, &satellite);

    // The served document is this file, byte for byte.
    let res = api
        .http
        .get(format!("{}{SCOPE}/openapi.json", api.origin))
        .send()
        .await
        .expect("openapi.json reachable");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(res.text().await.unwrap(), DOCUMENT);

    // The login example must log in, so its account has to exist first.
    let login = api.operation("POST", "/auth/login");
    let credentials = example_body(&doc, login).expect("login example");
    let signup = example_body(&doc, api.operation("POST", "/auth/signup")).expect("example");
    assert_eq!(signup["email"], credentials["email"]);
    assert_eq!(signup["password"], credentials["password"]);
    let call = Call {
        body: Some(signup),
        ..Call::default()
    };
    let answer = api.call("POST", "/auth/signup", &[], call).await;
    assert_eq!(answer.status, 201, "{}", answer.body);

    let ops = operations(&doc);
    assert!(ops.len() >= 20, "only {} operations", ops.len());
    for op in &ops {
        let name = format!("{} {}", op.method, op.route);
        let dummies: Vec<&str> = template_params(&op.template)
            .iter()
            .map(|p| match *p {
                "bucket" => "no-such-bucket",
                _ => "00000000-0000-4000-8000-000000000000",
            })
            .collect();
        let call = Call {
            body: example_body(&doc, op.spec),
            ..Call::default()
        };
        // `call` also fails on any status the document does not list for the operation.
        let answer = api.call(&op.method, &op.template, &dummies, call).await;
        assert_ne!(
            answer.body["error"]["message"], "no such console API endpoint",
            "{name} is documented but not served"
        );
        if op.public {
            assert_ne!(answer.status, 401, "{name} is public: {}", answer.body);
        } else {
            assert_eq!(
                answer.status, 401,
                "{name} needs a session: {}",
                answer.body
            );
            assert_eq!(answer.code(), "unauthenticated", "{name}");
        }
    }

    // Anything else under /api/v0 is not served, as documented.
    let res = api
        .http
        .put(format!("{}{SCOPE}/projects", api.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
    satellite.stop().await;
}

#[tokio::test]
async fn the_api_answers_as_documented() {
    let doc = document();
    let (_dir, satellite) = start().await;
    let api = api(&doc, &satellite);
    let project_t = "/projects/{project}";
    let members_t = "/projects/{project}/members";
    let member_t = "/projects/{project}/members/{user}";
    let keys_t = "/projects/{project}/api-keys";
    let key_t = "/projects/{project}/api-keys/{key}";
    let buckets_t = "/projects/{project}/buckets";
    let objects_t = "/projects/{project}/buckets/{bucket}/objects";

    let config = Call::default();
    let answer = api.call("GET", "/config", &[], config).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["satellite_address"], satellite.url.to_string());

    let (ann, ann_id) = api.signup("ann@example.com").await;
    let (bob, bob_id) = api.signup("bob@example.com").await;
    let (carol, _) = api.signup("carol@example.com").await;
    let again = Call {
        body: Some(json!({"email": "Ann@Example.com", "password": "another password"})),
        ..Call::default()
    };
    assert_eq!(
        api.call("POST", "/auth/signup", &[], again).await.status,
        409
    );
    let short = Call {
        body: Some(json!({"email": "dan@example.com", "password": "short"})),
        ..Call::default()
    };
    assert_eq!(
        api.call("POST", "/auth/signup", &[], short).await.status,
        400
    );
    let me = api.get("/auth/me", &[], &ann).await;
    assert_eq!(me.body["user"]["email"], "ann@example.com");

    // Projects: create, read, update; names and descriptions are checked.
    let created = api
        .send(
            "POST",
            "/projects",
            &[],
            &ann,
            Some(json!({"name": " Photos "})),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.body["role"], "owner");
    assert_eq!(created.body["name"], "Photos");
    assert_eq!(created.body["owner_id"], ann_id.as_str());
    let project = created.body["id"].as_str().unwrap().to_string();
    let p = project.as_str();
    for bad in [json!({"name": ""}), json!({"name": "x".repeat(101)})] {
        let answer = api.send("POST", "/projects", &[], &ann, Some(bad)).await;
        assert_eq!(answer.status, 400);
    }
    let long = json!({"description": "d".repeat(501)});
    assert_eq!(
        api.send("PATCH", project_t, &[p], &ann, Some(long))
            .await
            .status,
        400
    );
    let update = json!({"description": "holidays", "name": null});
    let updated = api.send("PATCH", project_t, &[p], &ann, Some(update)).await;
    assert_eq!(updated.status, 200);
    assert_eq!(updated.body["description"], "holidays");
    assert_eq!(updated.body["name"], "Photos");
    assert_eq!(api.get(project_t, &[p], &ann).await.status, 200);
    let list = api.get("/projects", &[], &ann).await;
    assert_eq!(list.body["projects"].as_array().unwrap().len(), 1);
    for _ in 0..2 {
        let more = json!({"name": "more"});
        assert_eq!(
            api.send("POST", "/projects", &[], &ann, Some(more))
                .await
                .status,
            201
        );
    }
    let over = json!({"name": "one too many"});
    let answer = api.send("POST", "/projects", &[], &ann, Some(over)).await;
    assert_eq!((answer.status, answer.code()), (429, "limit_exceeded"));

    // Members: the owner adds; members see but do not manage; others see nothing.
    let add = |email: &str| Some(json!({ "email": email }));
    let answer = api
        .send("POST", members_t, &[p], &ann, add(" BOB@example.com"))
        .await;
    assert_eq!(answer.status, 201);
    assert_eq!(answer.body["role"], "member");
    let answer = api
        .send("POST", members_t, &[p], &ann, add("bob@example.com"))
        .await;
    assert_eq!(answer.status, 409);
    let answer = api
        .send("POST", members_t, &[p], &ann, add("nobody@example.com"))
        .await;
    assert_eq!(answer.status, 404);
    let members = api.get(members_t, &[p], &bob).await;
    assert_eq!(members.body["members"].as_array().unwrap().len(), 2);
    assert_eq!(api.get(project_t, &[p], &bob).await.body["role"], "member");
    let rename = Some(json!({"name": "mine now"}));
    assert_eq!(
        api.send("PATCH", project_t, &[p], &bob, rename)
            .await
            .status,
        403
    );
    assert_eq!(
        api.send("DELETE", project_t, &[p], &bob, None).await.status,
        403
    );
    assert_eq!(
        api.send("POST", members_t, &[p], &bob, add("carol@example.com"))
            .await
            .status,
        403
    );
    assert_eq!(
        api.send("DELETE", member_t, &[p, &ann_id], &bob, None)
            .await
            .status,
        403
    );
    for template in [project_t, members_t, "/projects/{project}/usage", keys_t] {
        let answer = api.get(template, &[p], &carol).await;
        assert_eq!(
            (answer.status, answer.code()),
            (404, "not_found"),
            "{template}"
        );
    }
    assert_eq!(
        api.send("DELETE", project_t, &[p], &carol, None)
            .await
            .status,
        404
    );

    // Usage of an empty project.
    let usage = api.get("/projects/{project}/usage", &[p], &bob).await;
    assert_eq!(usage.status, 200);
    let month = usage.body["month"].as_str().unwrap();
    assert!(
        month.len() == 7 && month.as_bytes()[4] == b'-',
        "month {month}"
    );
    assert_eq!(usage.body["usage"]["buckets"], 0);

    // API keys: any member creates them; the key is shown once.
    let key_body = Some(json!({"name": "backups"}));
    let new_key = api.send("POST", keys_t, &[p], &bob, key_body.clone()).await;
    assert_eq!(new_key.status, 201);
    let key_id = new_key.body["id"].as_str().unwrap().to_string();
    let serialized = new_key.body["api_key"].as_str().unwrap().to_string();
    assert_eq!(
        api.send("POST", keys_t, &[p], &ann, key_body).await.status,
        409
    );
    let blank = Some(json!({"name": "  "}));
    assert_eq!(
        api.send("POST", keys_t, &[p], &ann, blank).await.status,
        400
    );
    let second = Some(json!({"name": "spare"}));
    assert_eq!(
        api.send("POST", keys_t, &[p], &ann, second).await.status,
        201
    );
    let page = Call {
        token: Some(&ann),
        query: &[("page", "2"), ("limit", "1")],
        ..Call::default()
    };
    let keys = api.call("GET", keys_t, &[p], page).await;
    assert_eq!(keys.status, 200);
    assert_eq!(
        (&keys.body["total"], &keys.body["page"], &keys.body["limit"]),
        (&json!(2), &json!(2), &json!(1))
    );
    assert_eq!(keys.body["api_keys"].as_array().unwrap().len(), 1);
    assert!(keys.body["api_keys"][0].get("api_key").is_none());
    let clamped = Call {
        token: Some(&ann),
        query: &[("page", "0"), ("limit", "1000")],
        ..Call::default()
    };
    let keys = api.call("GET", keys_t, &[p], clamped).await;
    assert_eq!(
        (&keys.body["page"], &keys.body["limit"]),
        (&json!(1), &json!(100))
    );
    let malformed = Call {
        token: Some(&ann),
        query: &[("page", "abc")],
        ..Call::default()
    };
    assert_eq!(api.call("GET", keys_t, &[p], malformed).await.status, 400);

    // Data through the key: a bucket with an object and a "directory".
    let grant = ApiKey::parse(&serialized)
        .expect("api_key parses")
        .restrict(&Caveat {
            disallow_deletes: true,
            nonce: vec![7; 16],
            ..Caveat::default()
        })
        .serialize();
    let (status, body) = api
        .metainfo("/v1/buckets/create", &serialized, json!({"name": "photos"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let in_a_day = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 86_400) as i64;
    for (key, expires_at) in [
        ("ZW5jLWRpcg/ZW5jLWEx", None),
        ("ZW5jLWRpcg/ZW5jLWEy", None),
        ("ZW5jLXRvcA", Some(in_a_day)),
    ] {
        let begin = json!({"bucket": "photos", "encrypted_key": key, "expires_at": expires_at});
        let (status, body) = api.metainfo("/v1/objects/begin", &grant, begin).await;
        assert_eq!(status, 200, "{body}");
        let commit = json!({"stream_id": body["stream_id"], "encrypted_metadata": null});
        let (status, body) = api.metainfo("/v1/objects/commit", &grant, commit).await;
        assert_eq!(status, 200, "{body}");
    }
    let buckets = api.get(buckets_t, &[p], &bob).await;
    assert_eq!(buckets.status, 200);
    assert_eq!(buckets.body["buckets"][0]["name"], "photos");
    assert_eq!(buckets.body["buckets"][0]["objects"], 3);
    let listing = api.get(objects_t, &[p, "photos"], &bob).await;
    assert_eq!(listing.status, 200);
    let items = listing.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", listing.body);
    assert_eq!(items[0]["encrypted_key"], "ZW5jLWRpcg/");
    assert_eq!(items[0]["is_prefix"], true);
    assert_eq!(items[1]["expires_at"], in_a_day);
    assert_eq!(listing.body["next_cursor"], Value::Null);
    let first = Call {
        token: Some(&bob),
        query: &[("prefix", "ZW5jLWRpcg/"), ("limit", "1")],
        ..Call::default()
    };
    let listing = api.call("GET", objects_t, &[p, "photos"], first).await;
    assert_eq!(
        listing.body["items"][0]["encrypted_key"],
        "ZW5jLWRpcg/ZW5jLWEx"
    );
    let cursor = listing.body["next_cursor"]
        .as_str()
        .expect("a cursor")
        .to_string();
    let next = Call {
        token: Some(&bob),
        query: &[
            ("prefix", "ZW5jLWRpcg/"),
            ("limit", "1"),
            ("cursor", &cursor),
        ],
        ..Call::default()
    };
    let listing = api.call("GET", objects_t, &[p, "photos"], next).await;
    assert_eq!(
        listing.body["items"][0]["encrypted_key"],
        "ZW5jLWRpcg/ZW5jLWEy"
    );
    assert_eq!(listing.body["next_cursor"], Value::Null);
    let bad_prefix = Call {
        token: Some(&bob),
        query: &[("prefix", "ZW5jLWRpcg")],
        ..Call::default()
    };
    let answer = api.call("GET", objects_t, &[p, "photos"], bad_prefix).await;
    assert_eq!((answer.status, answer.code()), (400, "bad_request"));
    let answer = api.get(objects_t, &[p, "videos"], &bob).await;
    assert_eq!((answer.status, answer.code()), (404, "bucket_not_found"));
    let usage = api.get("/projects/{project}/usage", &[p], &bob).await;
    assert_eq!(usage.body["usage"]["objects"], 3);
    let answer = api.send("DELETE", project_t, &[p], &ann, None).await;
    assert_eq!((answer.status, answer.code()), (409, "conflict"));

    // Deleting a key refuses it and every grant made from it.
    let info = json!({});
    assert_eq!(
        api.metainfo("/v1/project/info", &grant, info.clone())
            .await
            .0,
        200
    );
    // Only the owner deletes keys: it cuts off every grant made from them.
    let answer = api.send("DELETE", key_t, &[p, &key_id], &bob, None).await;
    assert_eq!((answer.status, answer.code()), (403, "permission_denied"));
    assert_eq!(
        api.send("DELETE", key_t, &[p, &key_id], &ann, None)
            .await
            .status,
        204
    );
    assert_eq!(
        api.send("DELETE", key_t, &[p, &key_id], &ann, None)
            .await
            .status,
        404
    );
    for key in [&serialized, &grant] {
        let (status, body) = api.metainfo("/v1/project/info", key, info.clone()).await;
        assert_eq!(status, 401, "{body}");
    }

    // Leaving, and the owner who cannot be removed.
    let answer = api
        .send("DELETE", member_t, &[p, &ann_id], &ann, None)
        .await;
    assert_eq!((answer.status, answer.code()), (409, "conflict"));
    assert_eq!(
        api.send("DELETE", member_t, &[p, &bob_id], &bob, None)
            .await
            .status,
        204
    );
    assert_eq!(api.get(project_t, &[p], &bob).await.status, 404);
    assert_eq!(
        api.send("DELETE", member_t, &[p, &bob_id], &ann, None)
            .await
            .status,
        404
    );

    // The cookie authenticates too, but not a change sent from another site.
    let by_cookie = Call {
        cookie: Some(&ann),
        ..Call::default()
    };
    assert_eq!(
        api.call("GET", "/auth/me", &[], by_cookie).await.status,
        200
    );
    let cross_site = Call {
        cookie: Some(&ann),
        origin: Some("http://elsewhere.example"),
        body: Some(json!({"name": "csrf"})),
        ..Call::default()
    };
    let answer = api.call("POST", "/projects", &[], cross_site).await;
    assert_eq!((answer.status, answer.code()), (403, "permission_denied"));

    // A password change ends every session; logging out ends one.
    let login = |email: &str, password: &str| Call {
        body: Some(json!({"email": email, "password": password})),
        ..Call::default()
    };
    let other = api
        .call(
            "POST",
            "/auth/login",
            &[],
            login("ann@example.com", "correct horse battery"),
        )
        .await;
    assert_eq!(other.status, 200);
    let other = other.body["token"].as_str().unwrap().to_string();
    let wrong =
        Some(json!({"current_password": "not it at all", "new_password": "new password 1"}));
    let answer = api.send("POST", "/auth/password", &[], &ann, wrong).await;
    assert_eq!((answer.status, answer.code()), (403, "permission_denied"));
    let change = Some(
        json!({"current_password": "correct horse battery", "new_password": "new password 1"}),
    );
    let changed = api.send("POST", "/auth/password", &[], &ann, change).await;
    assert_eq!(changed.status, 200);
    let fresh = changed.body["token"].as_str().unwrap().to_string();
    for old in [&ann, &other] {
        let answer = api.get("/auth/me", &[], old).await;
        assert_eq!((answer.status, answer.code()), (401, "unauthenticated"));
    }
    assert_eq!(api.get("/auth/me", &[], &fresh).await.status, 200);
    assert_eq!(
        api.send("POST", "/auth/logout", &[], &fresh, None)
            .await
            .status,
        204
    );
    assert_eq!(api.get("/auth/me", &[], &fresh).await.status, 401);

    // Failed logins: the same answer with or without an account, then a lockout.
    let unknown = api
        .call(
            "POST",
            "/auth/login",
            &[],
            login("nobody@example.com", "whatever"),
        )
        .await;
    let wrong = api
        .call(
            "POST",
            "/auth/login",
            &[],
            login("carol@example.com", "whatever"),
        )
        .await;
    assert_eq!((unknown.status, wrong.status), (401, 401));
    assert_eq!(unknown.body, wrong.body);
    // From the fifth failure on, the email is locked out, even for the right password.
    // The first lockout lasts a second; should it end before the next attempt (which
    // then succeeds and clears the count), start over.
    let mut failures = 1;
    let mut locked = None;
    for _ in 0..3 {
        while failures < 5 {
            let answer = api
                .call(
                    "POST",
                    "/auth/login",
                    &[],
                    login("carol@example.com", "whatever"),
                )
                .await;
            assert_eq!(answer.status, 401, "{}", answer.body);
            failures += 1;
        }
        let right = login("carol@example.com", "correct horse battery");
        let answer = api.call("POST", "/auth/login", &[], right).await;
        if answer.status == 429 {
            locked = Some(answer);
            break;
        }
        assert_eq!(answer.status, 200, "{}", answer.body);
        failures = 0;
    }
    let locked = locked.expect("repeated failures lock the email out");
    assert_eq!(locked.code(), "too_many_requests");
    satellite.stop().await;
}

#[tokio::test]
async fn the_admin_pages_answer_as_documented_and_only_to_administrators() {
    use satellite::db::entities::node;
    use satellite::metabase::SegmentKey;
    use satellite::repair::queue;
    use sea_orm::{ActiveModelTrait, Set};

    let doc = document();
    let (_dir, satellite) = start().await;
    let api = api(&doc, &satellite);
    let now = uplink_core::protocol::now_unix();
    // A node, a queued segment and a completed repair, so that every list has an item
    // to check against its schema.
    node::ActiveModel {
        id: Set(vec![7; 32]),
        public_key: Set(vec![1; 32]),
        address: Set("127.0.0.1:7777".into()),
        last_net: Set("127.0.0".into()),
        free_bytes: Set(1 << 30),
        used_bytes: Set(1 << 20),
        version: Set("test".into()),
        created_at: Set(now),
        last_contact_success: Set(now),
        last_contact_failure: Set(None),
        vetted_at: Set(None),
        disqualified_at: Set(None),
        suspended_at: Set(None),
        exit_initiated_at: Set(None),
    }
    .insert(&satellite.db)
    .await
    .unwrap();
    let key = SegmentKey {
        object_id: "00000000-0000-4000-8000-000000000001".into(),
        position: uplink_core::protocol::SegmentPosition::single(0),
    };
    queue::push(&satellite.db, &[(key, 5)]).await.unwrap();
    queue::log_repair(&satellite.db, 3, 3 << 20).await.unwrap();

    let (ann, _) = api.signup("ann@example.com").await;
    let me = api.get("/auth/me", &[], &ann).await;
    assert_eq!(me.body["user"]["admin"], false);
    for page in ["/admin/nodes", "/admin/repair"] {
        let answer = api.get(page, &[], &ann).await;
        assert_eq!(
            (answer.status, answer.code()),
            (403, "permission_denied"),
            "{page} for a user: {}",
            answer.body
        );
    }
    let missing = satellite::admin::set_admin(&satellite.db, "nobody@example.com", true).await;
    assert!(
        matches!(missing, Err(satellite::error::SatelliteError::NotFound(_))),
        "{missing:?}"
    );
    // The change applies to the open session at once.
    let user = satellite::admin::set_admin(&satellite.db, " Ann@Example.com ", true)
        .await
        .unwrap();
    assert!(user.is_admin);
    assert_eq!(
        api.get("/auth/me", &[], &ann).await.body["user"]["admin"],
        true
    );

    let nodes = api.get("/admin/nodes", &[], &ann).await;
    assert_eq!(nodes.status, 200, "{}", nodes.body);
    assert_eq!(nodes.body["summary"]["total"], 1);
    assert_eq!(nodes.body["summary"]["online"], 1);
    assert_eq!(nodes.body["summary"]["by_status"]["unvetted"], 1);
    assert_eq!(nodes.body["nodes"][0]["address"], "127.0.0.1:7777");
    assert_eq!(nodes.body["nodes"][0]["status"], "unvetted");
    assert_eq!(nodes.body["nodes"][0]["free_bytes"], 1u64 << 30);

    let repair = api.get("/admin/repair", &[], &ann).await;
    assert_eq!(repair.status, 200, "{}", repair.body);
    let r = &repair.body["repair"];
    assert_eq!(r["queue_length"], 1);
    assert_eq!(r["queue_head"][0]["healthy"], 5);
    assert_eq!(r["queue_head"][0]["in_progress"], false);
    assert_eq!(r["repaired_last_hour"], 1);
    assert_eq!(r["repaired_per_hour"][0]["pieces"], 3);
    assert_eq!(r["repaired_per_hour"][0]["bytes"], 3u64 << 20);
    assert!(
        repair.body["workers"]["segment-loop"].is_object(),
        "{}",
        repair.body
    );

    let user = satellite::admin::set_admin(&satellite.db, "ann@example.com", false)
        .await
        .unwrap();
    assert!(!user.is_admin);
    assert_eq!(api.get("/admin/nodes", &[], &ann).await.status, 403);
    satellite.stop().await;
}
