//! `/me/notifications`: the caller's push notification settings and a test push.

use axum::extract::State;
use mesh_proto::{
    ApiError, NotificationSettings, NotificationSettingsUpdate, NotificationTestResult,
};

use super::{Auth, Json};
use crate::error::Result;
use crate::{notify, SharedApp};

/// The caller's notification settings (the token is never returned).
#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = NotificationSettings), (status = 401, body = ApiError)))]
pub async fn get(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
) -> Result<Json<NotificationSettings>> {
    Ok(Json(notify::settings::get(&app, actor).await?))
}

/// Replaces the caller's notification settings.
#[utoipa::path(put, path = "/api/v1/me/notifications", tag = "notifications", request_body = NotificationSettingsUpdate,
    security(("bearer" = [])),
    responses((status = 200, body = NotificationSettings), (status = 400, body = ApiError), (status = 401, body = ApiError)))]
pub async fn update(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Json(update): Json<NotificationSettingsUpdate>,
) -> Result<Json<NotificationSettings>> {
    Ok(Json(notify::settings::update(&app, actor, update).await?))
}

/// Sends one notification now through the saved settings (or the server
/// default) and reports whether the receiver accepted it.
#[utoipa::path(post, path = "/api/v1/me/notifications/test", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = NotificationTestResult), (status = 401, body = ApiError)))]
pub async fn test(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
) -> Result<Json<NotificationTestResult>> {
    Ok(Json(notify::send_test(&app, actor.user_id).await?))
}
