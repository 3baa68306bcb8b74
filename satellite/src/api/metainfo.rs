//! Metainfo endpoints: thin JSON adapters over [`crate::metainfo::Metainfo`].

use actix_web::{HttpRequest, web};
use uplink_core::access::caveat::Operation;
use uplink_core::protocol::metainfo::*;

use super::AppState;
use crate::db::entities::project;
use crate::error::{Result, SatelliteError};

type State = web::Data<AppState>;
type Reply<T> = Result<web::Json<T>>;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(PROJECT_INFO_PATH, web::post().to(project_info))
        .route(BUCKET_CREATE_PATH, web::post().to(create_bucket))
        .route(BUCKET_GET_PATH, web::post().to(get_bucket))
        .route(BUCKET_LIST_PATH, web::post().to(list_buckets))
        .route(BUCKET_DELETE_PATH, web::post().to(delete_bucket))
        .route(OBJECT_BEGIN_PATH, web::post().to(begin_object))
        .route(OBJECT_COMMIT_PATH, web::post().to(commit_object))
        .route(OBJECT_GET_PATH, web::post().to(get_object))
        .route(OBJECT_DOWNLOAD_PATH, web::post().to(download_object))
        .route(OBJECT_LIST_PATH, web::post().to(list_objects))
        .route(OBJECT_DELETE_PATH, web::post().to(delete_object))
        .route(SEGMENT_BEGIN_PATH, web::post().to(begin_segment))
        .route(SEGMENT_COMMIT_PATH, web::post().to(commit_segment))
        .route(SEGMENT_INLINE_PATH, web::post().to(inline_segment))
        .route(SEGMENT_DOWNLOAD_PATH, web::post().to(download_segment));
}

async fn project_info(req: HttpRequest, state: State) -> Reply<ProjectInfoResponse> {
    use sea_orm::EntityTrait;
    let caller = state.caller(&req).await?;
    caller.authorize(Operation::Read, None, None, None)?;
    let project = project::Entity::find_by_id(caller.project_id.clone())
        .one(state.metainfo.db())
        .await?
        .ok_or_else(|| SatelliteError::NotFound("the API key's project no longer exists".into()))?;
    Ok(web::Json(ProjectInfoResponse {
        project_id: project.id,
        salt: project.salt,
    }))
}

async fn create_bucket(
    req: HttpRequest,
    state: State,
    body: web::Json<BucketRequest>,
) -> Reply<BucketInfo> {
    let caller = state.caller(&req).await?;
    Ok(web::Json(
        state.metainfo.create_bucket(&caller, &body.name).await?,
    ))
}

async fn get_bucket(
    req: HttpRequest,
    state: State,
    body: web::Json<BucketRequest>,
) -> Reply<BucketInfo> {
    let caller = state.caller(&req).await?;
    Ok(web::Json(
        state.metainfo.get_bucket(&caller, &body.name).await?,
    ))
}

async fn list_buckets(
    req: HttpRequest,
    state: State,
    body: web::Json<ListBucketsRequest>,
) -> Reply<ListBucketsResponse> {
    let caller = state.caller(&req).await?;
    Ok(web::Json(
        state.metainfo.list_buckets(&caller, &body).await?,
    ))
}

async fn delete_bucket(
    req: HttpRequest,
    state: State,
    body: web::Json<DeleteBucketRequest>,
) -> Reply<DeleteBucketResponse> {
    let caller = state.caller(&req).await?;
    Ok(web::Json(
        state.metainfo.delete_bucket(&caller, &body).await?,
    ))
}

async fn begin_object(
    req: HttpRequest,
    state: State,
    body: web::Json<BeginObjectRequest>,
) -> Reply<BeginObjectResponse> {
    let caller = state.caller(&req).await?;
    Ok(web::Json(
        state.metainfo.begin_object(&caller, &body).await?,
    ))
}

async fn commit_object(
    req: HttpRequest,
    state: State,
    body: web::Json<CommitObjectRequest>,
) -> Reply<ObjectInfo> {
    let caller = state.caller(&req).await?;
    Ok(web::Json(
        state.metainfo.commit_object(&caller, &body).await?,
    ))
}

async fn get_object(
    req: HttpRequest,
    state: State,
    body: web::Json<ObjectRequest>,
) -> Reply<ObjectInfo> {
    let caller = state.caller(&req).await?;
    Ok(web::Json(
        state
            .metainfo
            .get_object(&caller, &body.bucket, &body.encrypted_key)
            .await?,
    ))
}

async fn download_object(
    req: HttpRequest,
    state: State,
    body: web::Json<DownloadObjectRequest>,
) -> Reply<DownloadObjectResponse> {
    let caller = state.caller(&req).await?;
    Ok(web::Json(
        state.metainfo.download_object(&caller, &body).await?,
    ))
}

async fn list_objects(
    req: HttpRequest,
    state: State,
    body: web::Json<ListObjectsRequest>,
) -> Reply<ListObjectsResponse> {
    let caller = state.caller(&req).await?;
    Ok(web::Json(
        state.metainfo.list_objects(&caller, &body).await?,
    ))
}

async fn delete_object(
    req: HttpRequest,
    state: State,
    body: web::Json<ObjectRequest>,
) -> Reply<DeleteObjectResponse> {
    let caller = state.caller(&req).await?;
    Ok(web::Json(
        state
            .metainfo
            .delete_object(&caller, &body.bucket, &body.encrypted_key)
            .await?,
    ))
}

async fn begin_segment(
    req: HttpRequest,
    state: State,
    body: web::Json<BeginSegmentRequest>,
) -> Reply<BeginSegmentResponse> {
    let caller = state.caller(&req).await?;
    Ok(web::Json(
        state.metainfo.begin_segment(&caller, &body).await?,
    ))
}

async fn commit_segment(
    req: HttpRequest,
    state: State,
    body: web::Json<CommitSegmentRequest>,
) -> Reply<Empty> {
    let caller = state.caller(&req).await?;
    state.metainfo.commit_segment(&caller, &body).await?;
    Ok(web::Json(Empty {}))
}

async fn inline_segment(
    req: HttpRequest,
    state: State,
    body: web::Json<InlineSegmentRequest>,
) -> Reply<Empty> {
    let caller = state.caller(&req).await?;
    state.metainfo.inline_segment(&caller, &body).await?;
    Ok(web::Json(Empty {}))
}

async fn download_segment(
    req: HttpRequest,
    state: State,
    body: web::Json<DownloadSegmentRequest>,
) -> Reply<DownloadSegmentResponse> {
    let caller = state.caller(&req).await?;
    Ok(web::Json(
        state.metainfo.download_segment(&caller, &body).await?,
    ))
}
