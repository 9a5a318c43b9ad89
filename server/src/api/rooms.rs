//! `/rooms`, `/rooms/{id}`, membership and read markers.

use axum::extract::State;
use axum::http::StatusCode;
use mesh_proto::{
    ApiError, CreateRoomRequest, MarkReadRequest, Member, Room, UpdateMemberRequest,
    UpdateRoomRequest,
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{Auth, Json, Path, Query};
use crate::error::Result;
use crate::{rooms, SharedApp};

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    /// `mine` (default): rooms I belong to. `public`: every public room.
    scope: Option<Scope>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum Scope {
    Mine,
    Public,
}

/// My rooms with role and unread count, or every public room.
#[utoipa::path(get, path = "/api/v1/rooms", tag = "rooms", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = [Room]), (status = 401, body = ApiError)))]
pub async fn list(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Room>>> {
    let rooms = match query.scope.unwrap_or(Scope::Mine) {
        Scope::Mine => rooms::list_mine(&app, actor).await?,
        Scope::Public => rooms::list_public(&app, actor).await?,
    };
    Ok(Json(rooms))
}

/// Creates a room; the creator is its owner.
#[utoipa::path(post, path = "/api/v1/rooms", tag = "rooms", request_body = CreateRoomRequest, security(("bearer" = [])),
    responses((status = 201, body = Room), (status = 400, body = ApiError)))]
pub async fn create(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Json(request): Json<CreateRoomRequest>,
) -> Result<(StatusCode, Json<Room>)> {
    Ok((
        StatusCode::CREATED,
        Json(rooms::create(&app, actor, request).await?),
    ))
}

/// A room I am in, or any public room.
#[utoipa::path(get, path = "/api/v1/rooms/{id}", tag = "rooms", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Room), (status = 404, body = ApiError)))]
pub async fn get(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Room>> {
    Ok(Json(rooms::get(&app, actor, id).await?))
}

/// Renames a room or changes its visibility (owners).
#[utoipa::path(patch, path = "/api/v1/rooms/{id}", tag = "rooms", params(("id" = i64, Path)), request_body = UpdateRoomRequest,
    security(("bearer" = [])),
    responses((status = 200, body = Room), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn update(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    Json(request): Json<UpdateRoomRequest>,
) -> Result<Json<Room>> {
    Ok(Json(rooms::update(&app, actor, id, request).await?))
}

/// Deletes a room with its history and invites (owners).
#[utoipa::path(delete, path = "/api/v1/rooms/{id}", tag = "rooms", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn delete(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    rooms::delete(&app, actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Joins a public room as a member.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/join", tag = "rooms", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Room), (status = 404, body = ApiError)))]
pub async fn join(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Room>> {
    Ok(Json(rooms::join(&app, actor, id).await?))
}

/// Leaves a room. The last owner must hand over or delete the room instead.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/leave", tag = "rooms", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn leave(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    rooms::remove_member(&app, actor, id, actor.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Members with their role and presence.
#[utoipa::path(get, path = "/api/v1/rooms/{id}/members", tag = "rooms", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = [Member]), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn members(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Member>>> {
    Ok(Json(rooms::members(&app, actor, id).await?))
}

/// Changes a member's role (owners).
#[utoipa::path(patch, path = "/api/v1/rooms/{id}/members/{user_id}", tag = "rooms",
    params(("id" = i64, Path), ("user_id" = i64, Path)), request_body = UpdateMemberRequest, security(("bearer" = [])),
    responses((status = 200, body = Member), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn update_member(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path((id, user_id)): Path<(i64, i64)>,
    Json(request): Json<UpdateMemberRequest>,
) -> Result<Json<Member>> {
    Ok(Json(
        rooms::set_role(&app, actor, id, user_id, request.role).await?,
    ))
}

/// Removes a member (owners), or oneself.
#[utoipa::path(delete, path = "/api/v1/rooms/{id}/members/{user_id}", tag = "rooms",
    params(("id" = i64, Path), ("user_id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn remove_member(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path((id, user_id)): Path<(i64, i64)>,
) -> Result<StatusCode> {
    rooms::remove_member(&app, actor, id, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Moves my read marker forward to `message_id`.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/read", tag = "rooms", params(("id" = i64, Path)), request_body = MarkReadRequest,
    security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ApiError)))]
pub async fn mark_read(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    Json(request): Json<MarkReadRequest>,
) -> Result<StatusCode> {
    rooms::mark_read(&app, actor, id, request.message_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
