//! `/rooms/{id}/call` and `/ice-servers`.

use axum::extract::State;
use mesh_proto::{ApiError, CallState, IceServers};

use super::{Auth, Json, Path};
use crate::error::Result;
use crate::{calls, rooms, SharedApp};

/// Who is in a room's call right now (an empty list when there is no call).
#[utoipa::path(get, path = "/api/v1/rooms/{id}/call", tag = "calls", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = CallState), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn state(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<CallState>> {
    rooms::role(&app, actor, id).await?;
    Ok(Json(app.calls.state(id)))
}

/// The STUN/TURN servers to put in `RTCConfiguration.iceServers`.
#[utoipa::path(get, path = "/api/v1/ice-servers", tag = "calls", security(("bearer" = [])),
    responses((status = 200, body = IceServers), (status = 401, body = ApiError)))]
pub async fn ice_servers(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
) -> Result<Json<IceServers>> {
    Ok(Json(IceServers {
        ice_servers: calls::ice_servers(&app, actor.user_id),
    }))
}
