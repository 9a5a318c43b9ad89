//! Ephemeral TURN credentials in the "TURN REST API" style.
//!
//! The control server and the relay share one secret and never talk to each
//! other about users: the server hands a client
//!
//! ```text
//! username = "<expiry unix time>:<user id>"
//! password = base64(HMAC-SHA1(secret, username))
//! ```
//!
//! and the relay recomputes the password from the username alone. This is the
//! scheme coturn calls `use-auth-secret`, so browsers, coturn's own tools and
//! Mesh all agree on it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The separator between expiry and user id; coturn's default, so its tools
/// (`turnutils_uclient -W`) produce usernames we accept.
const SEPARATOR: char = ':';

/// Issues a username and password valid until `now + ttl`, for `user_id`.
///
/// The control server calls this when it hands a client its ICE servers.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// let (username, password) =
///     mesh_turn::credentials::issue("s3cret", "alice", SystemTime::now(), Duration::from_secs(3600));
/// assert!(username.ends_with(":alice"));
/// assert_eq!(password, mesh_turn::credentials::password("s3cret", &username));
/// ```
pub fn issue(secret: &str, user_id: &str, now: SystemTime, ttl: Duration) -> (String, String) {
    let expiry = (now + ttl)
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let username = format!("{expiry}{SEPARATOR}{user_id}");
    let password = password(secret, &username);
    (username, password)
}

/// The password that belongs to `username`: `base64(HMAC-SHA1(secret, username))`.
pub fn password(secret: &str, username: &str) -> String {
    let mut mac = hmac(secret.as_bytes());
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A MAC keyed for one `purpose` with a key derived from the shared secret,
/// so the relay's own tokens (nonces, reservations) never double as passwords
/// or as each other.
pub(crate) fn derived_mac(secret: &str, purpose: &str) -> Hmac<Sha1> {
    let mut derive = hmac(secret.as_bytes());
    derive.update(purpose.as_bytes());
    hmac(&derive.finalize().into_bytes())
}

fn hmac(key: &[u8]) -> Hmac<Sha1> {
    Hmac::new_from_slice(key).expect("HMAC accepts keys of any length")
}

/// A username the relay has taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestUsername<'a> {
    /// Unix time (seconds) after which the credentials no longer open an allocation.
    pub expires_at: u64,
    /// Who the allocation counts against for quotas; empty when the username
    /// carried only an expiry (coturn's tools allow that form).
    pub user_id: &'a str,
}

impl<'a> RestUsername<'a> {
    /// Parses `"<expiry>:<user id>"` or a bare `"<expiry>"`; `None` for anything else.
    pub fn parse(username: &'a str) -> Option<Self> {
        let (expiry, user_id) = username.split_once(SEPARATOR).unwrap_or((username, ""));
        let expires_at = expiry.parse().ok()?;
        Some(Self {
            expires_at,
            user_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_username_carries_expiry_and_user() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let (username, password) = issue("secret", "u42", now, Duration::from_secs(60));
        assert_eq!(username, "1060:u42");
        let parsed = RestUsername::parse(&username).unwrap();
        assert_eq!(parsed.expires_at, 1060);
        assert_eq!(parsed.user_id, "u42");
        assert_eq!(password, super::password("secret", "1060:u42"));
    }

    #[test]
    fn password_matches_the_turn_rest_reference() {
        // Computed independently: printf '1060:u42' | openssl dgst -sha1 -hmac secret -binary | base64
        assert_eq!(
            password("secret", "1060:u42"),
            "Z+NbdENREi7PrhKTj3belX1lBYc="
        );
    }

    #[test]
    fn user_id_may_contain_the_separator() {
        let parsed = RestUsername::parse("99:team:alice").unwrap();
        assert_eq!(parsed.expires_at, 99);
        assert_eq!(parsed.user_id, "team:alice");
    }

    #[test]
    fn bare_expiry_is_accepted_and_garbage_is_not() {
        assert_eq!(RestUsername::parse("77").unwrap().user_id, "");
        assert!(RestUsername::parse("alice").is_none());
        assert!(RestUsername::parse(":alice").is_none());
        assert!(RestUsername::parse("").is_none());
    }
}
