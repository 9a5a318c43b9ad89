//! `/rooms/{id}/invites` and `/invites/{code}`.

use axum::extract::State;
use axum::http::StatusCode;
use mesh_proto::{ApiError, CreateInviteRequest, Invite, InvitePreview, Room};

use super::{Auth, Json, Path};
use crate::error::Result;
use crate::{invites, SharedApp};

/// Invites of a room: all of them for owners, one's own for members.
#[utoipa::path(get, path = "/api/v1/rooms/{id}/invites", tag = "invites", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = [Invite]), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn list(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Invite>>> {
    Ok(Json(invites::list(&app, actor, id).await?))
}

/// Creates an invite link (members and owners).
#[utoipa::path(post, path = "/api/v1/rooms/{id}/invites", tag = "invites", params(("id" = i64, Path)),
    request_body = CreateInviteRequest, security(("bearer" = [])),
    responses((status = 201, body = Invite), (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn create(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    Json(request): Json<CreateInviteRequest>,
) -> Result<(StatusCode, Json<Invite>)> {
    Ok((
        StatusCode::CREATED,
        Json(invites::create(&app, actor, id, request).await?),
    ))
}

/// Revokes an invite (its creator, or an owner).
#[utoipa::path(delete, path = "/api/v1/rooms/{id}/invites/{code}", tag = "invites",
    params(("id" = i64, Path), ("code" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn revoke(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path((id, code)): Path<(i64, String)>,
) -> Result<StatusCode> {
    invites::revoke(&app, actor, id, code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What an invite leads to. No account needed: the code is the secret.
#[utoipa::path(get, path = "/api/v1/invites/{code}", tag = "invites", params(("code" = String, Path)),
    responses((status = 200, body = InvitePreview), (status = 410, body = ApiError)))]
pub async fn preview(
    State(app): State<SharedApp>,
    Path(code): Path<String>,
) -> Result<Json<InvitePreview>> {
    Ok(Json(invites::preview(&app, code).await?))
}

/// Joins the invite's room.
#[utoipa::path(post, path = "/api/v1/invites/{code}/accept", tag = "invites", params(("code" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Room), (status = 410, body = ApiError)))]
pub async fn accept(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path(code): Path<String>,
) -> Result<Json<Room>> {
    Ok(Json(invites::accept(&app, actor, code).await?))
}
