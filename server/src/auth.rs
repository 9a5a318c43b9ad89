//! Accounts and sign-in: registration, login, refresh-token rotation with
//! reuse detection, logout, and checking an access token.

use std::sync::OnceLock;
use std::time::Instant;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use mesh_proto::{AuthResponse, LoginRequest, RegisterRequest, RegistrationMode, ServerInfo, User};
use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::store::{self, invites, rooms, sessions, users};
use crate::tokens::{hash_refresh_token, new_refresh_token, Actor};
use crate::{now_ms, App};

/// Close code sent to WebSockets whose session ended.
pub const CLOSE_SESSION_ENDED: u16 = 4001;

pub async fn server_info(app: &App) -> Result<ServerInfo> {
    let count = app.store.call(|conn| Ok(users::count(conn)?)).await?;
    Ok(ServerInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        registration: app.config.registration,
        first_account: count == 0,
    })
}

pub async fn register(app: &App, request: RegisterRequest) -> Result<AuthResponse> {
    let username = request.username.trim().to_owned();
    let email = request.email.trim().to_owned();
    validate_username(&username)?;
    validate_email(&email)?;
    validate_password(&request.password)?;
    let password_hash = hash_password(app, request.password).await?;
    let mode = app.config.registration;
    let invite_code = request.invite_code.filter(|code| !code.trim().is_empty());
    let refresh_ttl = app.config.refresh_token_ttl.as_millis() as i64;

    let (user, actor, refresh_token, invited_by) = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let now = now_ms();
            let first = users::count(&tx)? == 0;
            let invite = match &invite_code {
                Some(code) => {
                    let invite = invites::get(&tx, code)?
                        .filter(|invite| invite.is_usable(now))
                        .ok_or_else(|| {
                            Error::Gone(
                                "That invitation has expired or was revoked; ask for a new one."
                                    .into(),
                            )
                        })?;
                    Some(invite)
                }
                None => None,
            };
            if !first {
                match mode {
                    RegistrationMode::Open => {}
                    RegistrationMode::Invite if invite.is_some() => {}
                    RegistrationMode::Invite => {
                        return Err(Error::Forbidden(
                            "invite_required",
                            "This server only accepts new accounts with an invitation link.".into(),
                        ))
                    }
                    RegistrationMode::Closed => {
                        return Err(Error::Forbidden(
                            "registration_closed",
                            "This server does not accept new accounts. Ask its administrator."
                                .into(),
                        ))
                    }
                }
            }
            let user = users::insert(&tx, &username, &email, &password_hash, first, now).map_err(
                |err| {
                    if store::is_unique_violation(&err) {
                        Error::Conflict("That username or email is already taken.".into())
                    } else {
                        err.into()
                    }
                },
            )?;
            let invited_by = match invite {
                Some(invite) => {
                    rooms::add_member(&tx, invite.room_id, user.id, invite.role, now)?;
                    invites::count_use(&tx, &invite.code)?;
                    Some((invite.room_id, invite.created_by))
                }
                None => None,
            };
            let (actor, refresh_token) = start_session(&tx, user.id, now, refresh_ttl)?;
            tx.commit()?;
            Ok((user, actor, refresh_token, invited_by))
        })
        .await?;
    tracing::info!(user = user.id, admin = user.is_admin, "account registered");
    if let Some((room_id, inviter)) = invited_by {
        crate::notify::invitation_used(app, room_id, inviter, user.id).await;
    }
    Ok(auth_response(app, user, actor, refresh_token))
}

pub async fn login(app: &App, request: LoginRequest, address: &str) -> Result<AuthResponse> {
    let login = request.login.trim().to_owned();
    if login.is_empty() || login.len() > 254 || request.password.len() > MAX_PASSWORD_BYTES {
        return Err(invalid_credentials());
    }
    app.login_throttle
        .check(&login, address, Instant::now())
        .map_err(Error::RateLimited)?;

    let lookup = login.clone();
    let found = app
        .store
        .call(move |conn| Ok(users::find_by_login(conn, &lookup)?))
        .await?;
    // Verify against a fixed hash when the user does not exist, so the answer
    // takes as long either way and does not reveal which accounts exist.
    let (user, stored_hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, dummy_hash().to_owned()),
    };
    let password_ok = verify_password(app, request.password, stored_hash).await?;
    let Some(user) = user.filter(|_| password_ok) else {
        app.login_throttle
            .record_failure(&login, address, Instant::now());
        tracing::info!(address, "failed sign-in");
        return Err(invalid_credentials());
    };
    app.login_throttle.record_success(&login);

    let refresh_ttl = app.config.refresh_token_ttl.as_millis() as i64;
    let user_id = user.id;
    let (actor, refresh_token) = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let session = start_session(&tx, user_id, now_ms(), refresh_ttl)?;
            tx.commit()?;
            Ok(session)
        })
        .await?;
    Ok(auth_response(app, user, actor, refresh_token))
}

/// Exchanges a refresh token for a new access token and a new refresh token.
/// A token that was already exchanged means a copy exists elsewhere: the whole
/// session is revoked, unless the first exchange was within the reuse grace
/// (two tabs refreshing at once).
pub async fn refresh(app: &App, token: &str) -> Result<AuthResponse> {
    let hash = hash_refresh_token(token);
    let refresh_ttl = app.config.refresh_token_ttl.as_millis() as i64;
    let grace = app.config.refresh_reuse_grace.as_millis() as i64;
    enum Outcome {
        Rotated(User, Actor, String),
        Reused(i64),
    }
    let outcome = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let now = now_ms();
            let invalid = || {
                Error::Unauthorized(
                    "refresh_invalid",
                    "Your session has ended. Sign in again.".into(),
                )
            };
            let stored = sessions::find_refresh_token(&tx, &hash)?.ok_or_else(invalid)?;
            if stored.expires_at <= now {
                return Err(invalid());
            }
            let concurrent = match stored.rotated_at {
                Some(at) if now - at > grace => {
                    sessions::revoke(&tx, stored.session_id, "refresh_reused", now)?;
                    tx.commit()?;
                    return Ok(Outcome::Reused(stored.session_id));
                }
                Some(_) => true,
                None => false,
            };
            if !concurrent && !sessions::mark_rotated(&tx, &hash, now)? {
                return Err(invalid());
            }
            let user = users::get(&tx, stored.user_id)?.ok_or_else(invalid)?;
            let (refresh_token, new_hash) = new_refresh_token();
            sessions::insert_refresh_token(
                &tx,
                &new_hash,
                stored.session_id,
                now,
                now + refresh_ttl,
            )?;
            tx.commit()?;
            let actor = Actor {
                user_id: user.id,
                session_id: stored.session_id,
            };
            Ok(Outcome::Rotated(user, actor, refresh_token))
        })
        .await?;
    match outcome {
        Outcome::Rotated(user, actor, refresh_token) => {
            Ok(auth_response(app, user, actor, refresh_token))
        }
        Outcome::Reused(session_id) => {
            tracing::warn!(
                session = session_id,
                "refresh token reused; session revoked"
            );
            app.hub
                .close_session(session_id, CLOSE_SESSION_ENDED, "session revoked");
            Err(Error::Unauthorized(
                "refresh_reused",
                "This sign-in was used from somewhere else, so it has been ended for safety. Sign in again."
                    .into(),
            ))
        }
    }
}

pub async fn logout(app: &App, actor: Actor) -> Result<()> {
    app.store
        .call(move |conn| {
            sessions::revoke(conn, actor.session_id, "logout", now_ms())?;
            Ok(())
        })
        .await?;
    app.hub
        .close_session(actor.session_id, CLOSE_SESSION_ENDED, "signed out");
    Ok(())
}

/// The actor behind an access token, if the token is valid and its session
/// has not been revoked.
pub async fn authenticate(app: &App, token: &str) -> Result<Actor> {
    let actor = app.tokens.verify(token).ok_or_else(Error::unauthorized)?;
    let active = app
        .store
        .call(move |conn| Ok(sessions::is_active(conn, actor.session_id, actor.user_id)?))
        .await?;
    if active {
        Ok(actor)
    } else {
        Err(Error::unauthorized())
    }
}

pub async fn me(app: &App, actor: Actor) -> Result<User> {
    app.store
        .call(move |conn| users::get(conn, actor.user_id)?.ok_or_else(Error::unauthorized))
        .await
}

fn start_session(
    conn: &Connection,
    user_id: i64,
    now: i64,
    refresh_ttl: i64,
) -> Result<(Actor, String)> {
    let session_id = sessions::create(conn, user_id, now)?;
    let (refresh_token, hash) = new_refresh_token();
    sessions::insert_refresh_token(conn, &hash, session_id, now, now + refresh_ttl)?;
    Ok((
        Actor {
            user_id,
            session_id,
        },
        refresh_token,
    ))
}

fn auth_response(app: &App, user: User, actor: Actor, refresh_token: String) -> AuthResponse {
    AuthResponse {
        access_token: app.tokens.issue(actor, now_ms()),
        expires_in: app.tokens.ttl().as_secs() as i64,
        refresh_token,
        user,
    }
}

fn invalid_credentials() -> Error {
    Error::Unauthorized(
        "invalid_credentials",
        "Wrong username, email or password.".into(),
    )
}

const MAX_PASSWORD_BYTES: usize = 1024;

fn validate_username(username: &str) -> Result<()> {
    let ok = (3..=32).contains(&username.chars().count())
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::validation(
            "A username has 3 to 32 characters: letters, digits, '_', '-' or '.'.",
        ))
    }
}

fn validate_email(email: &str) -> Result<()> {
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::validation("That email address does not look right."))
    }
}

fn validate_password(password: &str) -> Result<()> {
    if password.chars().count() < 8 {
        return Err(Error::validation("A password needs at least 8 characters."));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::validation("A password can have at most 1024 bytes."));
    }
    Ok(())
}

async fn hash_password(app: &App, password: String) -> Result<String> {
    let _permit = app
        .password_hashing
        .acquire()
        .await
        .map_err(|err| Error::Internal(err.into()))?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| Error::Internal(anyhow::anyhow!("argon2: {err}")))
    })
    .await
    .map_err(|err| Error::Internal(err.into()))?
}

async fn verify_password(app: &App, password: String, hash: String) -> Result<bool> {
    let _permit = app
        .password_hashing
        .acquire()
        .await
        .map_err(|err| Error::Internal(err.into()))?;
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash)
            .map_err(|err| Error::Internal(anyhow::anyhow!("stored hash: {err}")))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|err| Error::Internal(err.into()))?
}

fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"not a real password", &salt)
            .expect("argon2 with default parameters")
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_restricted_to_a_safe_alphabet() {
        assert!(validate_username("alice_01").is_ok());
        assert!(validate_username("al").is_err());
        assert!(validate_username("<script>").is_err());
        assert!(validate_username("a b c").is_err());
        assert!(validate_username(&"x".repeat(33)).is_err());
    }

    #[test]
    fn emails_need_a_local_part_and_a_domain() {
        assert!(validate_email("a@example.org").is_ok());
        assert!(validate_email("a@localhost").is_err());
        assert!(validate_email("@example.org").is_err());
        assert!(validate_email("a b@example.org").is_err());
    }
}
