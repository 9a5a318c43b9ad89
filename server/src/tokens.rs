//! Access tokens (short-lived JWTs) and refresh tokens (random, stored hashed).

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What an access token proves: this user, signed in through this session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user_id: i64,
    pub session_id: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    sid: i64,
    iat: i64,
    exp: i64,
}

const ISSUER: &str = "mesh";

pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl AccessTokens {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        AccessTokens {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(&self, actor: Actor, now_ms: i64) -> String {
        let iat = now_ms / 1000;
        let claims = Claims {
            iss: ISSUER.into(),
            sub: actor.user_id.to_string(),
            sid: actor.session_id,
            iat,
            exp: iat + self.ttl.as_secs() as i64,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }

    /// The actor a token names, if its signature, issuer and expiry are valid.
    /// Whether the session is still active is the caller's question.
    pub fn verify(&self, token: &str) -> Option<Actor> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        Some(Actor {
            user_id: data.claims.sub.parse().ok()?,
            session_id: data.claims.sid,
        })
    }
}

/// A new refresh token and the hash under which it is stored.
pub fn new_refresh_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

pub fn hash_refresh_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A random URL-safe code of `bytes` bytes of entropy (invite codes).
pub fn random_code(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTOR: Actor = Actor {
        user_id: 7,
        session_id: 3,
    };

    #[test]
    fn a_token_verifies_with_its_key_only() {
        let now = 1_700_000_000_000;
        let tokens = AccessTokens::new(&[1; 32], Duration::from_secs(600));
        let other = AccessTokens::new(&[2; 32], Duration::from_secs(600));
        let token = tokens.issue(ACTOR, crate::now_ms());
        assert_eq!(tokens.verify(&token), Some(ACTOR));
        assert_eq!(other.verify(&token), None);
        let expired = tokens.issue(ACTOR, now);
        assert_eq!(tokens.verify(&expired), None);
        assert_eq!(tokens.verify("not.a.token"), None);
    }

    #[test]
    fn refresh_tokens_are_unique_and_hashed() {
        let (a, hash_a) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(hash_refresh_token(&a), hash_a);
        assert!(a.len() >= 43);
    }
}
