//! Desktop agents: devices, the peer-to-peer sessions between them, and the
//! capability tokens that authorise one session each.
//!
//! Rules:
//! - a device belongs to one person and is known by its certificate
//!   fingerprint; only its owner may rename, announce or revoke it;
//! - a session may be opened to a device of anyone the caller shares a room
//!   with (or to the caller's own devices), from one of the caller's devices;
//! - its capability token names the target device (audience), the scope, the
//!   requester's fingerprint and the session; it expires after
//!   [`CAPABILITY_TTL_SECS`] and is redeemed once, by the target's owner
//!   ([`redeem`]), which is where it is verified: the signing key never leaves
//!   the server, and single use needs one authority anyway.

use std::net::SocketAddr;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use mesh_proto::{
    Capability, CapabilityClaims, CreateSessionRequest, Device, P2pSession, RedeemRequest,
    RegisterDeviceRequest, ServerEvent, ServerFrame, SessionGrant, SessionOffer,
    UpdateDeviceRequest, CAPABILITY_TTL_SECS, MAX_DEVICE_ADDRESSES,
};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::store::{self, devices};
use crate::tokens::{random_code, Actor};
use crate::{now_ms, secrets, App};

/// `iss` of every capability token, so one is never taken for an access token.
const ISSUER: &str = "mesh-capability";
/// The server's token key, created at start-up (see `server::serve`).
const TOKEN_KEY_FILE: &str = "token.key";
/// Sessions listed by `GET /sessions`.
const SESSION_LIST_LIMIT: i64 = 100;

pub async fn register(app: &App, actor: Actor, request: RegisterDeviceRequest) -> Result<Device> {
    let name = validate_name(&request.name)?;
    let fingerprint = validate_fingerprint(&request.fingerprint)?;
    let device = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            // Logging in again with the same key re-registers the same device.
            let id = match devices::by_fingerprint(&tx, &fingerprint)? {
                Some((id, owner, false)) if owner == actor.user_id => {
                    devices::rename(&tx, id, &name)?;
                    id
                }
                Some(_) => {
                    return Err(Error::Conflict(
                        "That device key is already registered or was revoked; the agent must make a new one."
                            .into(),
                    ))
                }
                None => devices::insert(&tx, actor.user_id, &name, &fingerprint, now_ms())
                    .map_err(|err| {
                        if store::is_unique_violation(&err) {
                            Error::Conflict("That device key is already registered.".into())
                        } else {
                            err.into()
                        }
                    })?,
            };
            let device = devices::get_active(&tx, id)?.ok_or_else(device_not_found)?;
            tx.commit()?;
            Ok(device)
        })
        .await?;
    tracing::info!(
        user = actor.user_id,
        device = device.id,
        "device registered"
    );
    Ok(device)
}

pub async fn list_mine(app: &App, actor: Actor) -> Result<Vec<Device>> {
    app.store
        .call(move |conn| Ok(devices::list_for_user(conn, actor.user_id)?))
        .await
}

/// Devices the caller may open sessions to: their own and those of everyone
/// they share a room with.
pub async fn list_shared(app: &App, actor: Actor) -> Result<Vec<Device>> {
    app.store
        .call(move |conn| Ok(devices::list_shared(conn, actor.user_id)?))
        .await
}

/// A device announces where its QUIC endpoint listens.
pub async fn update(
    app: &App,
    actor: Actor,
    device_id: i64,
    request: UpdateDeviceRequest,
) -> Result<Device> {
    let addresses = validate_addresses(&request.addresses)?;
    app.store
        .call(move |conn| {
            let tx = conn.transaction()?;
            own_device(&tx, actor, device_id)?;
            devices::set_addresses(&tx, device_id, &addresses, now_ms())?;
            let device = devices::get_active(&tx, device_id)?.ok_or_else(device_not_found)?;
            tx.commit()?;
            Ok(device)
        })
        .await
}

/// Revokes one of the caller's devices; its open sessions are closed.
pub async fn revoke(app: &App, actor: Actor, device_id: i64) -> Result<()> {
    let revoked = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let revoked = devices::revoke(&tx, device_id, actor.user_id, now_ms())?;
            tx.commit()?;
            Ok(revoked)
        })
        .await?;
    if !revoked {
        return Err(device_not_found());
    }
    tracing::info!(user = actor.user_id, device = device_id, "device revoked");
    Ok(())
}

/// Opens a session from one of the caller's devices to a device of someone
/// they share a room with, and issues its capability token.
pub async fn create_session(
    app: &App,
    actor: Actor,
    request: CreateSessionRequest,
) -> Result<SessionGrant> {
    if request.scope.kind() != request.kind {
        return Err(Error::validation(
            "The scope does not belong to the session kind: `file` sessions take the `file` scope, \
             `terminal` sessions `terminal:view` or `terminal:control`.",
        ));
    }
    if request.from_device == request.to_device {
        return Err(Error::validation(
            "A device cannot open a session to itself.",
        ));
    }
    let candidates = validate_addresses(&request.candidates)?;
    let (session, requester, target) = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let requester = own_device(&tx, actor, request.from_device)?;
            let target = devices::get_active(&tx, request.to_device)?;
            let reachable = match &target {
                Some(target) => {
                    target.user_id == actor.user_id
                        || devices::share_a_room(&tx, actor.user_id, target.user_id)?
                }
                None => false,
            };
            let target = target.filter(|_| reachable).ok_or_else(|| {
                Error::NotFound(
                    "That device does not exist, or its owner shares no room with you: \
                         only people who share a room can open sessions to each other's devices."
                        .into(),
                )
            })?;
            let session =
                devices::insert_session(&tx, request.scope, requester.id, target.id, now_ms())?;
            tx.commit()?;
            Ok((session, requester, target))
        })
        .await?;
    let now = now_ms() / 1000;
    let claims = CapabilityClaims {
        iss: ISSUER.into(),
        aud: target.id.to_string(),
        scope: session.scope,
        fpr: requester.fingerprint.clone(),
        from_device: requester.id,
        sid: session.id,
        iat: now,
        exp: now + CAPABILITY_TTL_SECS,
        jti: random_code(16),
    };
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&capability_key(app)?),
    )
    .map_err(|err| Error::Internal(err.into()))?;
    tracing::info!(session = session.id, from = requester.id, to = target.id, scope = ?session.scope,
        "p2p session opened");
    app.hub.send_to_users(
        [target.user_id],
        &ServerFrame::event(ServerEvent::SessionOffer(SessionOffer {
            session: session.clone(),
            from: requester,
            candidates,
        })),
    );
    if session.scope == mesh_proto::Scope::File {
        crate::notify::file_offered(app, actor.user_id, target.user_id, &target.name).await;
    }
    Ok(SessionGrant {
        session,
        token,
        expires_at: claims.exp * 1000,
        target,
    })
}

pub async fn list_sessions(app: &App, actor: Actor) -> Result<Vec<P2pSession>> {
    app.store
        .call(move |conn| {
            Ok(devices::list_sessions(
                conn,
                actor.user_id,
                SESSION_LIST_LIMIT,
            )?)
        })
        .await
}

/// Either end closes a session (for the audit trail; tokens are single use anyway).
pub async fn close_session(app: &App, actor: Actor, session_id: i64) -> Result<P2pSession> {
    app.store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let session = session_of(&tx, actor, session_id)?;
            devices::close_session(&tx, session.id, now_ms())?;
            let session = devices::get_session(&tx, session_id)?.ok_or_else(session_not_found)?;
            tx.commit()?;
            Ok(session)
        })
        .await
}

/// The target device checks and consumes a token it was shown. Refused when
/// forged, expired, meant for another device, already used, or when its
/// session was closed or either device revoked.
pub async fn redeem(app: &App, actor: Actor, request: RedeemRequest) -> Result<Capability> {
    let key = capability_key(app)?;
    let mut validation = Validation::new(Algorithm::HS256);
    // Tokens live two minutes; clocks are the server's own, so no leeway.
    validation.leeway = 0;
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[request.device_id.to_string()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let claims = match jsonwebtoken::decode::<CapabilityClaims>(
        &request.token,
        &DecodingKey::from_secret(&key),
        &validation,
    ) {
        Ok(data) => data.claims,
        Err(err) => {
            let refusal = match err.kind() {
                ErrorKind::ExpiredSignature => Error::Forbidden(
                    "capability_expired",
                    "This session token has expired; the sender must start again.".into(),
                ),
                ErrorKind::InvalidAudience => Error::Forbidden(
                    "capability_wrong_device",
                    "This session token is for another device.".into(),
                ),
                _ => Error::Forbidden(
                    "capability_invalid",
                    "This session token is not one the server issued.".into(),
                ),
            };
            tracing::warn!(device = request.device_id, error = %err, "capability refused");
            return Err(refusal);
        }
    };
    let device_id = request.device_id;
    let capability = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            own_device(&tx, actor, device_id)?;
            let closed = || {
                Error::Forbidden(
                    "capability_invalid",
                    "That session was closed, or one of its devices was revoked.".into(),
                )
            };
            let now = now_ms();
            // Replays are named as such even once their session has closed.
            let session = devices::get_session(&tx, claims.sid)?.ok_or_else(closed)?;
            if !devices::use_capability(&tx, &claims.jti, session.id, now, claims.exp * 1000)? {
                return Err(Error::Forbidden(
                    "capability_used",
                    "This session token was already used; a token opens one session only.".into(),
                ));
            }
            if session.closed_at.is_some() || session.to_device != device_id {
                return Err(closed());
            }
            let requester = devices::get_active(&tx, session.from_device)?
                .filter(|d| d.fingerprint == claims.fpr && d.id == claims.from_device)
                .ok_or_else(closed)?;
            devices::mark_accepted(&tx, session.id, now)?;
            let session = devices::get_session(&tx, session.id)?.ok_or_else(closed)?;
            tx.commit()?;
            Ok(Capability {
                scope: session.scope,
                session,
                requester,
            })
        })
        .await;
    match &capability {
        Ok(c) => tracing::info!(
            session = c.session.id,
            device = device_id,
            "capability redeemed"
        ),
        Err(err) => tracing::warn!(device = device_id, error = %err, "capability refused"),
    }
    capability
}

/// The HS256 key for capability tokens, derived from the server's token key
/// so there is one secret to keep and rotating it ends both kinds of token.
/// A distinct key (and issuer) means neither kind can stand in for the other.
fn capability_key(app: &App) -> Result<Vec<u8>> {
    let token_key = secrets::load_or_create(&app.config.data_dir.join(TOKEN_KEY_FILE))?;
    let mut hasher = Sha256::new();
    hasher.update(b"mesh capability tokens v1\0");
    hasher.update(&token_key);
    Ok(hasher.finalize().to_vec())
}

fn own_device(conn: &rusqlite::Connection, actor: Actor, device_id: i64) -> Result<Device> {
    devices::get_active(conn, device_id)?
        .filter(|device| device.user_id == actor.user_id)
        .ok_or_else(device_not_found)
}

/// A session one of the caller's devices takes part in.
fn session_of(conn: &rusqlite::Connection, actor: Actor, session_id: i64) -> Result<P2pSession> {
    let session = devices::get_session(conn, session_id)?.ok_or_else(session_not_found)?;
    let mine = |id| -> Result<bool> {
        Ok(devices::get_active(conn, id)?.is_some_and(|d| d.user_id == actor.user_id))
    };
    if mine(session.from_device)? || mine(session.to_device)? {
        Ok(session)
    } else {
        Err(session_not_found())
    }
}

fn device_not_found() -> Error {
    Error::NotFound("That device does not exist or is not yours.".into())
}

fn session_not_found() -> Error {
    Error::NotFound("That session does not exist or is not yours.".into())
}

fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    let length = name.chars().count();
    if length == 0 || length > 64 || name.chars().any(char::is_control) {
        return Err(Error::validation(
            "A device name has 1 to 64 characters and no control characters.",
        ));
    }
    Ok(name.to_owned())
}

fn validate_fingerprint(fingerprint: &str) -> Result<String> {
    let fingerprint = fingerprint.trim().to_ascii_lowercase();
    if fingerprint.len() == 64 && fingerprint.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(fingerprint)
    } else {
        Err(Error::validation(
            "A device fingerprint is the SHA-256 of its certificate: 64 hex digits.",
        ))
    }
}

fn validate_addresses(addresses: &[String]) -> Result<Vec<String>> {
    if addresses.len() > MAX_DEVICE_ADDRESSES {
        return Err(Error::validation(format!(
            "A device announces at most {MAX_DEVICE_ADDRESSES} addresses."
        )));
    }
    addresses
        .iter()
        .map(|address| {
            address
                .trim()
                .parse::<SocketAddr>()
                .map(|parsed| parsed.to_string())
                .map_err(|_| Error::validation(format!("`{address}` is not an `ip:port` address.")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_64_hex_digits_normalised_to_lowercase() {
        let upper = "AB".repeat(32);
        assert_eq!(validate_fingerprint(&upper).unwrap(), "ab".repeat(32));
        assert!(validate_fingerprint("abc").is_err());
        assert!(validate_fingerprint(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn addresses_must_be_socket_addresses() {
        let ok = validate_addresses(&["127.0.0.1:4433".into(), "[::1]:4433".into()]).unwrap();
        assert_eq!(ok, ["127.0.0.1:4433", "[::1]:4433"]);
        assert!(validate_addresses(&["localhost:4433".into()]).is_err());
        assert!(validate_addresses(&vec!["127.0.0.1:1".to_string(); 9]).is_err());
    }
}
