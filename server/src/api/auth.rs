//! `/auth/*`, `/me`, `/server`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use mesh_proto::{
    ApiError, AuthResponse, LoginRequest, RefreshRequest, RegisterRequest, ServerInfo, SessionInfo,
    User,
};

use super::{Auth, ClientAddress, Json, Path};
use crate::auth::CLOSE_SESSION_ENDED;
use crate::error::{Error, Result};
use crate::store::sessions;
use crate::{auth, now_ms, SharedApp};

const REFRESH_COOKIE: &str = "mesh_refresh";

/// The refresh token as an `HttpOnly` cookie only the auth endpoints receive.
fn refresh_cookie(app: &SharedApp, value: &str, max_age_secs: u64) -> HeaderValue {
    let secure = if app.config.is_https() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{REFRESH_COOKIE}={value}; Path=/api/v1/auth; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    );
    HeaderValue::from_str(&cookie).expect("cookie values are URL-safe base64")
}

fn with_session(app: &SharedApp, status: StatusCode, body: AuthResponse) -> Response {
    let cookie = refresh_cookie(
        app,
        &body.refresh_token,
        app.config.refresh_token_ttl.as_secs(),
    );
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Longest `User-Agent` kept for the sessions list.
const MAX_USER_AGENT_CHARS: usize = 256;

/// Notes when and with what browser the session of `body` was last used.
async fn touch_session(app: &SharedApp, body: &AuthResponse, headers: &HeaderMap) -> Result<()> {
    let Some(actor) = app.tokens.verify(&body.access_token) else {
        return Ok(());
    };
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.chars().take(MAX_USER_AGENT_CHARS).collect::<String>());
    app.store
        .call(move |conn| {
            sessions::touch(conn, actor.session_id, user_agent.as_deref(), now_ms())?;
            Ok(())
        })
        .await
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Public facts: version, registration mode, whether the first account exists.
#[utoipa::path(get, path = "/api/v1/server", tag = "auth",
    responses((status = 200, body = ServerInfo)))]
pub async fn server_info(State(app): State<SharedApp>) -> Result<Json<ServerInfo>> {
    Ok(Json(auth::server_info(&app).await?))
}

/// Creates an account and signs it in. The first account becomes the admin.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = AuthResponse), (status = 400, body = ApiError),
              (status = 403, body = ApiError), (status = 409, body = ApiError), (status = 410, body = ApiError)))]
pub async fn register(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    Json(request): Json<RegisterRequest>,
) -> Result<Response> {
    let body = auth::register(&app, request).await?;
    touch_session(&app, &body, &headers).await?;
    Ok(with_session(&app, StatusCode::CREATED, body))
}

/// Signs in with a username or email and a password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = AuthResponse), (status = 401, body = ApiError), (status = 429, body = ApiError)))]
pub async fn login(
    State(app): State<SharedApp>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Json(request): Json<LoginRequest>,
) -> Result<Response> {
    let body = auth::login(&app, request, &address).await?;
    touch_session(&app, &body, &headers).await?;
    Ok(with_session(&app, StatusCode::OK, body))
}

/// Exchanges a refresh token (body or cookie) for new tokens. Each refresh
/// token works once; reusing one ends the session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body(content = RefreshRequest, description = "Optional: browsers rely on the cookie"),
    responses((status = 200, body = AuthResponse), (status = 401, body = ApiError)))]
pub async fn refresh(
    State(app): State<SharedApp>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let request: RefreshRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RefreshRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            Error::BadRequest(
                "invalid_json",
                format!("The body is not a refresh request: {e}"),
            )
        })?
    };
    let token = request
        .refresh_token
        .or_else(|| cookie_value(&headers, REFRESH_COOKIE).map(str::to_owned))
        .ok_or_else(|| Error::Unauthorized("refresh_invalid", "You are not signed in.".into()))?;
    match auth::refresh(&app, &token).await {
        Ok(body) => {
            touch_session(&app, &body, &headers).await?;
            Ok(with_session(&app, StatusCode::OK, body))
        }
        Err(err) => {
            let mut response = err.into_response();
            response
                .headers_mut()
                .insert(header::SET_COOKIE, refresh_cookie(&app, "", 0));
            Ok(response)
        }
    }
}

/// Ends this session everywhere: tokens stop working, WebSockets close.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ApiError)))]
pub async fn logout(State(app): State<SharedApp>, Auth(actor): Auth) -> Result<Response> {
    auth::logout(&app, actor).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, refresh_cookie(&app, "", 0));
    Ok(response)
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = ApiError)))]
pub async fn me(State(app): State<SharedApp>, Auth(actor): Auth) -> Result<Json<User>> {
    Ok(Json(auth::me(&app, actor).await?))
}

/// The caller's signed-in browsers and clients.
#[utoipa::path(get, path = "/api/v1/auth/sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = [SessionInfo]), (status = 401, body = ApiError)))]
pub async fn sessions(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
) -> Result<Json<Vec<SessionInfo>>> {
    let rows = app
        .store
        .call(move |conn| Ok(sessions::list_active(conn, actor.user_id)?))
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| SessionInfo {
                id: row.id,
                created_at: row.created_at,
                last_seen_at: row.last_seen_at,
                user_agent: row.user_agent,
                current: row.id == actor.session_id,
            })
            .collect(),
    ))
}

/// Ends one of the caller's sessions: its refresh token and access tokens
/// stop working and its WebSockets close.
#[utoipa::path(delete, path = "/api/v1/auth/sessions/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Session id")),
    responses((status = 204), (status = 401, body = ApiError), (status = 404, body = ApiError)))]
pub async fn revoke_session(
    State(app): State<SharedApp>,
    Auth(actor): Auth,
    Path(session_id): Path<i64>,
) -> Result<StatusCode> {
    app.store
        .call(move |conn| {
            let tx = conn.transaction()?;
            if !sessions::is_active(&tx, session_id, actor.user_id)? {
                return Err(Error::NotFound("You have no such session.".into()));
            }
            sessions::revoke(&tx, session_id, "revoked", now_ms())?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    app.hub
        .close_session(session_id, CLOSE_SESSION_ENDED, "session revoked");
    tracing::info!(
        user = actor.user_id,
        session = session_id,
        "session revoked"
    );
    Ok(StatusCode::NO_CONTENT)
}
