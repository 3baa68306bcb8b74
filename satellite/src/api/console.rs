//! The console API (`/api/v0`): accounts, projects, members, usage, API keys, buckets.
//!
//! Browsers authenticate with an HttpOnly, SameSite=Strict session cookie; scripts and
//! tests may send the same token as `Authorization: Bearer`. A cookie-authenticated
//! request that changes something must come from this origin (checked on `Origin`),
//! on top of what SameSite already guarantees.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uplink_core::protocol::metainfo::ListObjectsRequest;

use super::{AppState, ConsoleState};
use crate::accounting;
use crate::console::{Accounts, LoginOutcome, Session, UserInfo};
use crate::db::entities::{bucket, project, project_member};
use crate::error::{Result, SatelliteError};
use crate::projects;

pub const COOKIE: &str = "sj_session";
const OPENAPI: &str = include_str!("../../console/openapi.json");

type State = web::Data<AppState>;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v0")
            .route("/openapi.json", web::get().to(openapi))
            .route("/config", web::get().to(config))
            .route("/auth/signup", web::post().to(signup))
            .route("/auth/login", web::post().to(login))
            .route("/auth/logout", web::post().to(logout))
            .route("/auth/me", web::get().to(me))
            .route("/auth/password", web::post().to(change_password))
            .route("/projects", web::get().to(list_projects))
            .route("/projects", web::post().to(create_project))
            .route("/projects/{project}", web::get().to(get_project))
            .route("/projects/{project}", web::patch().to(update_project))
            .route("/projects/{project}", web::delete().to(delete_project))
            .route("/projects/{project}/members", web::get().to(list_members))
            .route("/projects/{project}/members", web::post().to(add_member))
            .route(
                "/projects/{project}/members/{user}",
                web::delete().to(remove_member),
            )
            .route("/projects/{project}/usage", web::get().to(usage))
            .route("/projects/{project}/api-keys", web::get().to(list_keys))
            .route("/projects/{project}/api-keys", web::post().to(create_key))
            .route(
                "/projects/{project}/api-keys/{key}",
                web::delete().to(delete_key),
            )
            .route("/projects/{project}/buckets", web::get().to(list_buckets))
            .route(
                "/projects/{project}/buckets/{bucket}/objects",
                web::get().to(list_objects),
            )
            .route("/admin/nodes", web::get().to(super::admin::nodes))
            .route("/admin/repair", web::get().to(super::admin::repair))
            .default_service(web::to(|| async {
                SatelliteError::NotFound("no such console API endpoint".into())
                    .error_response_public()
            })),
    );
}

/// The console's state. Its routes are only registered when the console is enabled,
/// so this fails only if that wiring is broken.
fn console(state: &State) -> Result<&ConsoleState> {
    state
        .console
        .as_ref()
        .ok_or_else(|| SatelliteError::NotFound("the console is disabled on this satellite".into()))
}

fn accounts(state: &State) -> Result<&Accounts> {
    Ok(&console(state)?.accounts)
}

/// Counts a request that verifies or sets a password against its client's allowance.
async fn admit_credentials(state: &State, req: &HttpRequest) -> Result<()> {
    let per_minute = console(state)?.credential_requests_per_minute;
    let client = req
        .peer_addr()
        .map_or_else(|| "unknown".to_string(), |a| a.ip().to_string());
    state
        .auth
        .rate()
        .admit_credentials(&client, per_minute)
        .await
}

/// The session of the request, from the bearer token or the cookie.
pub(super) async fn session(state: &State, req: &HttpRequest) -> Result<Session> {
    let accounts = accounts(state)?;
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::to_string);
    let token = match bearer {
        Some(t) => t,
        None => {
            let cookie = req.cookie(COOKIE).ok_or_else(|| {
                SatelliteError::Unauthenticated("log in first: no session".into())
            })?;
            check_same_origin(req)?;
            cookie.value().to_string()
        }
    };
    accounts
        .sessions()
        .check(state.metainfo.db(), token.trim())
        .await
}

/// Refuses a cookie-authenticated change sent from another origin.
fn check_same_origin(req: &HttpRequest) -> Result<()> {
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return Ok(());
    }
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
    else {
        return Ok(());
    };
    let host = req.connection_info().host().to_string();
    let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
    if origin_host != host {
        return Err(SatelliteError::PermissionDenied(
            "cross-origin request refused".into(),
        ));
    }
    Ok(())
}

fn session_cookie(req: &HttpRequest, token: &str, ttl_secs: i64) -> Cookie<'static> {
    Cookie::build(COOKIE, token.to_string())
        .path("/")
        .secure(req.connection_info().scheme() == "https")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::seconds(ttl_secs))
        .finish()
}

fn logged_in(
    state: &State,
    req: &HttpRequest,
    status: StatusCode,
    outcome: LoginOutcome,
) -> Result<HttpResponse> {
    let ttl = accounts(state)?.sessions().ttl_secs();
    Ok(HttpResponse::build(status)
        .cookie(session_cookie(req, &outcome.session.token, ttl))
        .json(json!({
            "user": UserInfo::from(&outcome.user),
            "token": outcome.session.token,
            "expires_at": outcome.session.expires_at,
        })))
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI)
}

async fn config(state: State) -> Result<HttpResponse> {
    let console = console(&state)?;
    Ok(HttpResponse::Ok().json(json!({
        "satellite_address": state.satellite.to_string(),
        "signup_enabled": console.signup_enabled,
        "session_ttl_seconds": console.accounts.sessions().ttl_secs(),
    })))
}

#[derive(Deserialize)]
struct SignupBody {
    email: String,
    password: String,
    #[serde(default)]
    full_name: String,
}

async fn signup(
    state: State,
    req: HttpRequest,
    body: web::Json<SignupBody>,
) -> Result<HttpResponse> {
    if !console(&state)?.signup_enabled {
        return Err(SatelliteError::PermissionDenied(
            "sign-up is disabled on this satellite; ask its operator for an account".into(),
        ));
    }
    admit_credentials(&state, &req).await?;
    let outcome = accounts(&state)?
        .signup(&body.email, &body.password, &body.full_name)
        .await?;
    logged_in(&state, &req, StatusCode::CREATED, outcome)
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

async fn login(state: State, req: HttpRequest, body: web::Json<LoginBody>) -> Result<HttpResponse> {
    admit_credentials(&state, &req).await?;
    let outcome = accounts(&state)?.login(&body.email, &body.password).await?;
    logged_in(&state, &req, StatusCode::OK, outcome)
}

async fn logout(state: State, req: HttpRequest) -> Result<HttpResponse> {
    let session = session(&state, &req).await?;
    accounts(&state)?.logout(&session).await?;
    let mut gone = session_cookie(&req, "", 0);
    gone.make_removal();
    Ok(HttpResponse::NoContent().cookie(gone).finish())
}

async fn me(state: State, req: HttpRequest) -> Result<HttpResponse> {
    let session = session(&state, &req).await?;
    Ok(HttpResponse::Ok().json(json!({ "user": UserInfo::from(&session.user) })))
}

#[derive(Deserialize)]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

async fn change_password(
    state: State,
    req: HttpRequest,
    body: web::Json<PasswordBody>,
) -> Result<HttpResponse> {
    let session = session(&state, &req).await?;
    admit_credentials(&state, &req).await?;
    let outcome = accounts(&state)?
        .change_password(&session, &body.current_password, &body.new_password)
        .await?;
    logged_in(&state, &req, StatusCode::OK, outcome)
}

#[derive(Serialize)]
struct ProjectView {
    id: String,
    name: String,
    description: String,
    owner_id: Option<String>,
    role: String,
    created_at: i64,
    /// Standard base64; browsers derive passphrase keys with it.
    salt: String,
}

fn project_view(p: &project::Model, role: &str) -> ProjectView {
    ProjectView {
        id: p.id.clone(),
        name: p.name.clone(),
        description: p.description.clone(),
        owner_id: p.owner_id.clone(),
        role: role.to_string(),
        created_at: p.created_at,
        salt: base64::engine::general_purpose::STANDARD.encode(&p.salt),
    }
}

/// The project and the session user's role in it. Projects the user does not belong
/// to are "not found", so that their existence is not revealed.
async fn membership(
    state: &State,
    session: &Session,
    project_id: &str,
) -> Result<(project::Model, String)> {
    let db = state.metainfo.db();
    let not_found = || SatelliteError::NotFound(format!("project {project_id} not found"));
    let role = projects::role_of(db, project_id, &session.user.id)
        .await?
        .ok_or_else(not_found)?;
    let project = projects::get_project(db, project_id)
        .await
        .map_err(|_| not_found())?;
    Ok((project, role))
}

async fn owner(state: &State, session: &Session, project_id: &str) -> Result<project::Model> {
    let (project, role) = membership(state, session, project_id).await?;
    if role != project_member::ROLE_OWNER {
        return Err(SatelliteError::PermissionDenied(
            "only the project's owner can do this".into(),
        ));
    }
    Ok(project)
}

async fn list_projects(state: State, req: HttpRequest) -> Result<HttpResponse> {
    let session = session(&state, &req).await?;
    let list = projects::projects_of_user(state.metainfo.db(), &session.user.id).await?;
    let views: Vec<ProjectView> = list.iter().map(|(p, r)| project_view(p, r)).collect();
    Ok(HttpResponse::Ok().json(json!({ "projects": views })))
}

#[derive(Deserialize)]
struct ProjectBody {
    name: Option<String>,
    description: Option<String>,
}

async fn create_project(
    state: State,
    req: HttpRequest,
    body: web::Json<ProjectBody>,
) -> Result<HttpResponse> {
    let session = session(&state, &req).await?;
    let db = state.metainfo.db();
    let owner = projects::Owner {
        user_id: &session.user.id,
        max_owned: console(&state)?.max_projects_per_user,
    };
    let project = projects::create_project(
        db,
        body.name.as_deref().unwrap_or(""),
        body.description.as_deref().unwrap_or(""),
        Some(owner),
    )
    .await?;
    Ok(HttpResponse::Created().json(project_view(&project, project_member::ROLE_OWNER)))
}

async fn get_project(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let session = session(&state, &req).await?;
    let (project, role) = membership(&state, &session, &path).await?;
    Ok(HttpResponse::Ok().json(project_view(&project, &role)))
}

async fn update_project(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<ProjectBody>,
) -> Result<HttpResponse> {
    let session = session(&state, &req).await?;
    owner(&state, &session, &path).await?;
    let project = projects::update_project(
        state.metainfo.db(),
        &path,
        body.name.as_deref(),
        body.description.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(project_view(&project, project_member::ROLE_OWNER)))
}

async fn delete_project(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let session = session(&state, &req).await?;
    owner(&state, &session, &path).await?;
    projects::delete_project(state.metainfo.db(), &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn list_members(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let session = session(&state, &req).await?;
    membership(&state, &session, &path).await?;
    let members = projects::list_members(state.metainfo.db(), &path).await?;
    Ok(HttpResponse::Ok().json(json!({ "members": members })))
}

#[derive(Deserialize)]
struct MemberBody {
    email: String,
}

async fn add_member(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<MemberBody>,
) -> Result<HttpResponse> {
    let session = session(&state, &req).await?;
    owner(&state, &session, &path).await?;
    let member = projects::add_member(state.metainfo.db(), &path, &body.email).await?;
    Ok(HttpResponse::Created().json(member))
}

#[derive(Deserialize)]
struct RemoveMemberQuery {
    /// What happens to the API keys the member created; deleted unless the owner says.
    #[serde(default)]
    keys: projects::MemberKeys,
}

async fn remove_member(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<RemoveMemberQuery>,
) -> Result<HttpResponse> {
    let (project_id, user_id) = path.into_inner();
    let session = session(&state, &req).await?;
    // Members may leave; only the owner removes others, and only the owner may keep a
    // member's keys working.
    if user_id != session.user.id || query.keys == projects::MemberKeys::Reassign {
        owner(&state, &session, &project_id).await?;
    } else {
        membership(&state, &session, &project_id).await?;
    }
    projects::remove_member(state.metainfo.db(), &project_id, &user_id, query.keys).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn usage(state: State, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse> {
    let session = session(&state, &req).await?;
    let (project, _) = membership(&state, &session, &path).await?;
    let db = state.metainfo.db();
    let limits = accounting::effective_limits(&project, &console(&state)?.default_limits);
    let mut usage = accounting::project_usage(db, &project.id).await?;
    usage.egress_bytes = accounting::egress_this_month(db, &project.id).await?;
    Ok(HttpResponse::Ok().json(json!({
        "month": accounting::current_month(),
        "limits": limits,
        "usage": usage,
    })))
}

/// Beyond any real table; keeps page arithmetic far from overflow.
const MAX_PAGE: u64 = 1_000_000;

#[derive(Deserialize)]
struct Paging {
    page: Option<u64>,
    limit: Option<u64>,
}

impl Paging {
    fn resolve(&self) -> (u64, u64) {
        (
            self.page.unwrap_or(1).clamp(1, MAX_PAGE),
            self.limit.unwrap_or(20).clamp(1, 100),
        )
    }
}

async fn list_keys(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    paging: web::Query<Paging>,
) -> Result<HttpResponse> {
    let session = session(&state, &req).await?;
    membership(&state, &session, &path).await?;
    let (page, limit) = paging.resolve();
    let (keys, total) = projects::list_api_keys(state.metainfo.db(), &path, page, limit).await?;
    Ok(HttpResponse::Ok().json(json!({
        "api_keys": keys, "total": total, "page": page, "limit": limit,
    })))
}

#[derive(Deserialize)]
struct KeyBody {
    name: String,
}

async fn create_key(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<KeyBody>,
) -> Result<HttpResponse> {
    let session = session(&state, &req).await?;
    membership(&state, &session, &path).await?;
    let key = projects::create_api_key_by(
        state.metainfo.db(),
        &path,
        &body.name,
        Some(&session.user.id),
    )
    .await?;
    Ok(HttpResponse::Created().json(json!({
        "id": key.id,
        "name": key.name,
        "created_at": key.created_at,
        "created_by": projects::KeyCreator {
            user_id: session.user.id.clone(),
            email: Some(session.user.email.clone()),
        },
        "api_key": key.serialized,
    })))
}

async fn delete_key(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let (project_id, key_id) = path.into_inner();
    let session = session(&state, &req).await?;
    // Deleting a key cuts off every grant made from it, whoever holds them.
    owner(&state, &session, &project_id).await?;
    projects::delete_api_key(state.metainfo.db(), &project_id, &key_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn list_buckets(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    paging: web::Query<Paging>,
) -> Result<HttpResponse> {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
    let session = session(&state, &req).await?;
    membership(&state, &session, &path).await?;
    let db = state.metainfo.db();
    let (page, limit) = paging.resolve();
    let paginator = bucket::Entity::find()
        .filter(bucket::Column::ProjectId.eq(path.as_str()))
        .order_by_asc(bucket::Column::Name)
        .paginate(db, limit);
    let total = paginator.num_items().await?;
    let mut buckets = Vec::new();
    for b in paginator.fetch_page(page - 1).await? {
        let (objects, bytes) = accounting::bucket_usage(db, &b.project_id, &b.name).await?;
        buckets.push(json!({
            "name": b.name, "created_at": b.created_at, "objects": objects, "bytes": bytes,
        }));
    }
    Ok(HttpResponse::Ok().json(json!({
        "buckets": buckets, "total": total, "page": page, "limit": limit,
    })))
}

#[derive(Deserialize)]
struct ObjectQuery {
    #[serde(default)]
    prefix: String,
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn list_objects(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<ObjectQuery>,
) -> Result<HttpResponse> {
    let (project_id, bucket_name) = path.into_inner();
    let session = session(&state, &req).await?;
    membership(&state, &session, &project_id).await?;
    let query = query.into_inner();
    let plain_names = state
        .metainfo
        .bucket_names_of(&project_id, &bucket_name)
        .await?
        .is_plain();
    let listing = state
        .metainfo
        .list_project_objects(
            &project_id,
            &ListObjectsRequest {
                bucket: bucket_name,
                prefix: query.prefix,
                delimiter: None,
                cursor: query.cursor,
                recursive: false,
                limit: Some(query.limit.unwrap_or(50).clamp(1, 200)),
                include_metadata: false,
                pending: false,
            },
        )
        .await?;
    let next_cursor = if listing.more {
        listing.items.last().map(|i| i.encrypted_key.clone())
    } else {
        None
    };
    let items: Vec<_> = listing
        .items
        .iter()
        .map(|i| {
            json!({
                "encrypted_key": i.encrypted_key,
                "is_prefix": i.is_prefix,
                "size": i.plain_size,
                "created_at": i.created_at,
                "expires_at": i.expires_at,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "items": items, "next_cursor": next_cursor, "plain_names": plain_names,
    })))
}
