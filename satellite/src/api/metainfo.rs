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
        .route(BUCKET_CORS_GET_PATH, web::post().to(bucket_cors))
        .route(BUCKET_CORS_SET_PATH, web::post().to(set_bucket_cors))
        .route(OBJECT_BEGIN_PATH, web::post().to(begin_object))
        .route(OBJECT_COMMIT_PATH, web::post().to(commit_object))
        .route(OBJECT_UPLOAD_INLINE_PATH, web::post().to(upload_inline))
        .route(OBJECT_GET_PATH, web::post().to(get_object))
        .route(OBJECT_DOWNLOAD_PATH, web::post().to(download_object))
        .route(OBJECT_LIST_PATH, web::post().to(list_objects))
        .route(OBJECT_DELETE_PATH, web::post().to(delete_object))
        .route(OBJECT_ABORT_PATH, web::post().to(abort_object))
        .route(OBJECT_RESUME_PATH, web::post().to(resume_upload))
        .route(OBJECT_LIST_PARTS_PATH, web::post().to(list_parts))
        .route(OBJECT_COPY_BEGIN_PATH, web::post().to(copy_begin))
        .route(OBJECT_COPY_PATH, web::post().to(copy_object))
        .route(SEGMENT_BEGIN_PATH, web::post().to(begin_segment))
        .route(SEGMENT_COMMIT_PATH, web::post().to(commit_segment))
        .route(SEGMENT_INLINE_PATH, web::post().to(inline_segment))
        .route(SEGMENT_DOWNLOAD_PATH, web::post().to(download_segment))
        .route(SEGMENT_RETRY_PIECES_PATH, web::post().to(retry_pieces))
        .route(ACCESS_REVOKE_PATH, web::post().to(revoke));
}

async fn revoke(req: HttpRequest, state: State, body: web::Json<RevokeRequest>) -> Reply<Empty> {
    let caller = state.caller(&req).await?;
    state.auth.revoke(&caller, &body.api_key).await?;
    Ok(web::Json(Empty {}))
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

/// Each metainfo endpoint: authenticate the bearer key, call the service, reply JSON.
/// (Authorisation of the specific operation happens inside the service.)
macro_rules! endpoints {
    ($($name:ident($req:ty) -> $resp:ty = |$m:ident, $c:ident, $b:ident| $call:expr;)*) => {$(
        async fn $name(req: HttpRequest, state: State, $b: web::Json<$req>) -> Reply<$resp> {
            let $c = state.caller(&req).await?;
            let $m = &state.metainfo;
            Ok(web::Json($call.await?))
        }
    )*};
}

endpoints! {
    create_bucket(BucketRequest) -> BucketInfo = |m, c, b| m.create_bucket(&c, &b.name, b.plain_names_tag.as_deref());
    get_bucket(BucketRequest) -> BucketInfo = |m, c, b| m.get_bucket(&c, &b.name);
    list_buckets(ListBucketsRequest) -> ListBucketsResponse = |m, c, b| m.list_buckets(&c, &b);
    bucket_cors(BucketRequest) -> BucketCors = |m, c, b| m.bucket_cors(&c, &b.name);
    set_bucket_cors(SetBucketCorsRequest) -> BucketCors = |m, c, b| m.set_bucket_cors(&c, &b);
    delete_bucket(DeleteBucketRequest) -> DeleteBucketResponse = |m, c, b| m.delete_bucket(&c, &b);
    begin_object(BeginObjectRequest) -> BeginObjectResponse = |m, c, b| m.begin_object(&c, &b);
    commit_object(CommitObjectRequest) -> ObjectInfo = |m, c, b| m.commit_object(&c, &b);
    upload_inline(UploadInlineRequest) -> ObjectInfo = |m, c, b| m.upload_inline(&c, &b);
    get_object(ObjectRequest) -> ObjectInfo =
        |m, c, b| m.get_object(&c, &b.bucket, &b.encrypted_key);
    download_object(DownloadObjectRequest) -> DownloadObjectResponse =
        |m, c, b| m.download_object(&c, &b);
    list_objects(ListObjectsRequest) -> ListObjectsResponse = |m, c, b| m.list_objects(&c, &b);
    delete_object(ObjectRequest) -> DeleteObjectResponse =
        |m, c, b| m.delete_object(&c, &b.bucket, &b.encrypted_key);
    abort_object(AbortObjectRequest) -> AbortObjectResponse = |m, c, b| m.abort_object(&c, &b);
    resume_upload(ResumeUploadRequest) -> ResumeUploadResponse =
        |m, c, b| m.resume_upload(&c, &b);
    list_parts(ListPartsRequest) -> ListPartsResponse = |m, c, b| m.list_parts(&c, &b);
    copy_begin(ObjectRequest) -> CopyBeginResponse = |m, c, b| m.copy_begin(&c, &b);
    copy_object(CopyObjectRequest) -> ObjectInfo = |m, c, b| m.copy_object(&c, &b);
    begin_segment(BeginSegmentRequest) -> BeginSegmentResponse =
        |m, c, b| m.begin_segment(&c, &b);
    retry_pieces(RetryPiecesRequest) -> RetryPiecesResponse = |m, c, b| m.retry_pieces(&c, &b);
    commit_segment(CommitSegmentRequest) -> Empty =
        |m, c, b| async { m.commit_segment(&c, &b).await.map(|()| Empty {}) };
    inline_segment(InlineSegmentRequest) -> Empty =
        |m, c, b| async { m.inline_segment(&c, &b).await.map(|()| Empty {}) };
    download_segment(DownloadSegmentRequest) -> DownloadSegmentResponse =
        |m, c, b| m.download_segment(&c, &b);
}
