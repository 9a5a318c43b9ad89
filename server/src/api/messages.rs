//! `/rooms/{id}/messages`.

use axum::extract::State;
use axum::http::StatusCode;
use mesh_proto::{ApiError, EditMessageRequest, Message, MessagePage, SendMessageRequest};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{Auth, Json, Path, Query};
use crate::chat::{self, Cursor};
use crate::error::{Error, Result};
use crate::SharedApp;

#[derive(Deserialize, IntoParams)]
pub struct HistoryQuery {
    /// Messages older than this id (default: the newest).
    before: Option<i64>,
    /// Messages newer than this id (catch-up); not with `before`.
    after: Option<i64>,
    /// 1 to 100, default 50.
    limit: Option<i64>,
}

/// A page of history, ascending.
#[utoipa::path(get, path = "/api/v1/rooms/{id}/messages", tag = "messages", params(("id" = i64, Path), HistoryQuery),
    security(("bearer" = [])),
    responses((status = 200, body = MessagePage), (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn history(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<MessagePage>> {
    let cursor = match (query.before, query.after) {
        (Some(_), Some(_)) => return Err(Error::validation("Use `before` or `after`, not both.")),
        (before, None) => Cursor::Before(before),
        (None, Some(after)) => Cursor::After(after),
    };
    Ok(Json(
        chat::history(&app, actor, id, cursor, query.limit).await?,
    ))
}

/// Posts a message. Idempotent by `client_id`: a resend returns the original with 200.
#[utoipa::path(post, path = "/api/v1/rooms/{id}/messages", tag = "messages", params(("id" = i64, Path)),
    request_body = SendMessageRequest, security(("bearer" = [])),
    responses((status = 201, body = Message), (status = 200, body = Message, description = "Already sent with this client_id"),
              (status = 400, body = ApiError), (status = 413, body = ApiError), (status = 404, body = ApiError)))]
pub async fn send(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    Json(request): Json<SendMessageRequest>,
) -> Result<(StatusCode, Json<Message>)> {
    let (message, created) = chat::send(&app, actor, id, request.client_id, &request.body).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(message)))
}

/// Edits one of my messages.
#[utoipa::path(patch, path = "/api/v1/rooms/{id}/messages/{message_id}", tag = "messages",
    params(("id" = i64, Path), ("message_id" = i64, Path)), request_body = EditMessageRequest, security(("bearer" = [])),
    responses((status = 200, body = Message), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn edit(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path((id, message_id)): Path<(i64, i64)>,
    Json(request): Json<EditMessageRequest>,
) -> Result<Json<Message>> {
    Ok(Json(
        chat::edit(&app, actor, id, message_id, &request.body).await?,
    ))
}

/// Deletes one of my messages (owners: any message).
#[utoipa::path(delete, path = "/api/v1/rooms/{id}/messages/{message_id}", tag = "messages",
    params(("id" = i64, Path), ("message_id" = i64, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn delete(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path((id, message_id)): Path<(i64, i64)>,
) -> Result<StatusCode> {
    chat::delete(&app, actor, id, message_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
