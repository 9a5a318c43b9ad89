//! `/devices` and `/sessions`: desktop agents and their peer-to-peer sessions.

use axum::extract::State;
use axum::http::StatusCode;
use mesh_proto::{
    ApiError, Capability, CreateSessionRequest, Device, P2pSession, RedeemRequest,
    RegisterDeviceRequest, SessionGrant, UpdateDeviceRequest,
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{Auth, Json, Path, Query};
use crate::error::Result;
use crate::{devices, SharedApp};

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    /// `mine` (default): my devices. `shared`: devices I may open sessions
    /// to — mine and those of everyone I share a room with.
    scope: Option<Scope>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum Scope {
    Mine,
    Shared,
}

/// Registers this agent's device by its certificate fingerprint; registering
/// the same fingerprint again returns the same device.
#[utoipa::path(post, path = "/api/v1/devices", tag = "devices", request_body = RegisterDeviceRequest,
    security(("bearer" = [])),
    responses((status = 201, body = Device), (status = 400, body = ApiError), (status = 409, body = ApiError)))]
pub async fn register(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Json(request): Json<RegisterDeviceRequest>,
) -> Result<(StatusCode, Json<Device>)> {
    Ok((
        StatusCode::CREATED,
        Json(devices::register(&app, actor, request).await?),
    ))
}

/// My devices, or every device I may open a session to.
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = [Device]), (status = 401, body = ApiError)))]
pub async fn list(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Device>>> {
    let devices = match query.scope.unwrap_or(Scope::Mine) {
        Scope::Mine => devices::list_mine(&app, actor).await?,
        Scope::Shared => devices::list_shared(&app, actor).await?,
    };
    Ok(Json(devices))
}

/// Announces where one of my devices' QUIC endpoint listens.
#[utoipa::path(patch, path = "/api/v1/devices/{id}", tag = "devices", params(("id" = i64, Path)),
    request_body = UpdateDeviceRequest, security(("bearer" = [])),
    responses((status = 200, body = Device), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn update(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    Json(request): Json<UpdateDeviceRequest>,
) -> Result<Json<Device>> {
    Ok(Json(devices::update(&app, actor, id, request).await?))
}

/// Revokes one of my devices: it can no longer open or accept sessions.
#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "devices", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ApiError)))]
pub async fn revoke(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    devices::revoke(&app, actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Opens a session to a device of someone I share a room with; answers with
/// the single-use capability token to present to it.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "devices", request_body = CreateSessionRequest,
    security(("bearer" = [])),
    responses((status = 201, body = SessionGrant), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn create_session(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Json(request): Json<CreateSessionRequest>,
) -> Result<(StatusCode, Json<SessionGrant>)> {
    Ok((
        StatusCode::CREATED,
        Json(devices::create_session(&app, actor, request).await?),
    ))
}

/// Sessions from or to my devices, newest first (at most 100).
#[utoipa::path(get, path = "/api/v1/sessions", tag = "devices", security(("bearer" = [])),
    responses((status = 200, body = [P2pSession]), (status = 401, body = ApiError)))]
pub async fn list_sessions(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
) -> Result<Json<Vec<P2pSession>>> {
    Ok(Json(devices::list_sessions(&app, actor).await?))
}

/// Closes a session one of my devices takes part in.
#[utoipa::path(post, path = "/api/v1/sessions/{id}/close", tag = "devices", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = P2pSession), (status = 404, body = ApiError)))]
pub async fn close_session(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<P2pSession>> {
    Ok(Json(devices::close_session(&app, actor, id).await?))
}

/// The target device checks and consumes a capability token it was shown.
#[utoipa::path(post, path = "/api/v1/sessions/redeem", tag = "devices", request_body = RedeemRequest,
    security(("bearer" = [])),
    responses((status = 200, body = Capability), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn redeem(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Json(request): Json<RedeemRequest>,
) -> Result<Json<Capability>> {
    Ok(Json(devices::redeem(&app, actor, request).await?))
}
