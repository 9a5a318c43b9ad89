//! REST under `/api/v1`: the router, the OpenAPI document generated from the
//! handlers, and the extractors that turn bad input into [`Error`]s.
//!
//! Handlers live beside the domain module they call (`api::rooms` calls
//! `crate::rooms`) and do nothing but translate.

mod auth;
mod calls;
mod devices;
mod invites;
mod messages;
mod notifications;
mod rooms;

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::Error;
use crate::metrics::RequestLabels;
use crate::tokens::Actor;
use crate::SharedApp;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Mesh",
        description = "The Mesh control-plane REST API. The WebSocket protocol is described in docs/protocol.md."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "rooms", description = "Rooms and membership"),
        (name = "messages", description = "Chat history and messages"),
        (name = "invites", description = "Invitation links"),
        (name = "calls", description = "Calls; signaling itself is on the WebSocket"),
        (name = "devices", description = "Desktop agents and their peer-to-peer sessions"),
        (name = "notifications", description = "Push notifications to Gotify, ntfy or a webhook")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Every REST route, and the OpenAPI document describing exactly those routes.
pub fn router() -> (Router<SharedApp>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::server_info))
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(auth::sessions))
        .routes(routes!(auth::revoke_session))
        .routes(routes!(notifications::get, notifications::update))
        .routes(routes!(notifications::test))
        .routes(routes!(rooms::list, rooms::create))
        .routes(routes!(rooms::get, rooms::update, rooms::delete))
        .routes(routes!(rooms::join))
        .routes(routes!(rooms::leave))
        .routes(routes!(rooms::members))
        .routes(routes!(rooms::update_member, rooms::remove_member))
        .routes(routes!(rooms::mark_read))
        .routes(routes!(messages::history, messages::send))
        .routes(routes!(messages::edit, messages::delete))
        .routes(routes!(invites::list, invites::create))
        .routes(routes!(invites::revoke))
        .routes(routes!(invites::preview))
        .routes(routes!(invites::accept))
        .routes(routes!(calls::state))
        .routes(routes!(calls::ice_servers))
        .routes(routes!(devices::list, devices::register))
        .routes(routes!(devices::update, devices::revoke))
        .routes(routes!(devices::list_sessions, devices::create_session))
        .routes(routes!(devices::close_session))
        .routes(routes!(devices::redeem))
        .split_for_parts()
}

/// JSON bodies, with every rejection turned into a JSON error.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(Error))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct Path<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct Query<T>(pub T);

impl From<JsonRejection> for Error {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => {
                Error::PayloadTooLarge("The request body is larger than 64 KiB.".into())
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Error::UnsupportedMediaType(
                "Send the body as JSON with `Content-Type: application/json`.".into(),
            ),
            _ => Error::BadRequest(
                "invalid_json",
                format!(
                    "The body is not what this endpoint takes: {}",
                    rejection.body_text()
                ),
            ),
        }
    }
}

impl From<PathRejection> for Error {
    fn from(rejection: PathRejection) -> Self {
        Error::BadRequest(
            "invalid_request",
            format!("Bad path: {}", rejection.body_text()),
        )
    }
}

impl From<QueryRejection> for Error {
    fn from(rejection: QueryRejection) -> Self {
        Error::BadRequest(
            "invalid_request",
            format!("Bad query: {}", rejection.body_text()),
        )
    }
}

/// The signed-in caller, from `Authorization: Bearer <access token>`.
pub struct Auth(pub Actor);

impl FromRequestParts<SharedApp> for Auth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &SharedApp) -> Result<Self, Error> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(Error::unauthorized)?;
        crate::auth::authenticate(app, token.trim()).await.map(Auth)
    }
}

/// The client's address: the socket peer, or the last `X-Forwarded-For`
/// entry when the server is configured to trust its reverse proxy. The last
/// entry is the one that proxy appended; anything before it came from the
/// client and may be forged.
pub struct ClientAddress(pub String);

impl FromRequestParts<SharedApp> for ClientAddress {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &SharedApp) -> Result<Self, Error> {
        if app.config.trust_proxy {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.rsplit(',').next())
                .map(|value| value.trim().to_owned());
            if let Some(address) = forwarded.filter(|a| !a.is_empty()) {
                return Ok(ClientAddress(address));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip().to_string())
            .unwrap_or_else(|| "unknown".into());
        Ok(ClientAddress(peer))
    }
}

/// Records every request's route, status and latency.
pub async fn observe(State(app): State<SharedApp>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    app.metrics.observe_request(
        RequestLabels {
            method,
            route,
            status: response.status().as_u16(),
        },
        started.elapsed(),
    );
    response
}

/// Headers every response carries.
pub async fn harden(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Invite links carry their code in the path: never leak it to other sites.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

pub async fn not_found() -> Error {
    Error::NotFound("There is no such endpoint.".into())
}
