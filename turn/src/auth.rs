//! The long-term credential mechanism (RFC 8489 §9.2) over REST credentials.
//!
//! Every TURN request but Binding must carry USERNAME, REALM, NONCE and a
//! MESSAGE-INTEGRITY computed with `MD5(username:realm:password)`, where the
//! password is derived from the username and the shared secret
//! ([`crate::credentials`]). The relay stores no user list and no nonces.
//!
//! Checking a username's expiry is left to the caller, because it applies to
//! Allocate only: a call that outlives its credentials keeps its allocation.

use stun_types::attribute::{MessageIntegrity, MessageIntegritySha256, Nonce, Realm, Username};
use stun_types::message::{
    IntegrityAlgorithm, LongTermKeyCredentials, Message, MessageIntegrityCredentials, ValidateError,
};
use stun_types::prelude::*;

use crate::credentials::{self, RestUsername};
use crate::five_tuple::FiveTuple;
use crate::nonce::Nonces;

/// Verifies requests and issues the challenges that lead to them.
#[derive(Debug)]
pub(crate) struct Auth {
    secret: String,
    realm: String,
    nonces: Nonces,
}

/// A request whose integrity checked out.
#[derive(Debug)]
pub(crate) struct Authenticated {
    pub(crate) username: String,
    pub(crate) user_id: String,
    /// Unix time after which the username may not open new allocations.
    pub(crate) expires_at: u64,
    /// Signs the responses to this request with the same key.
    pub(crate) signer: Signer,
}

/// How to sign a response: the request's credentials and algorithm.
#[derive(Debug, Clone)]
pub(crate) struct Signer {
    credentials: MessageIntegrityCredentials,
    algorithm: IntegrityAlgorithm,
}

impl Signer {
    /// Adds MESSAGE-INTEGRITY (or -SHA256) to `message`.
    pub(crate) fn sign(
        &self,
        message: &mut impl MessageWrite,
    ) -> Result<(), stun_types::message::StunWriteError> {
        message.add_message_integrity(&self.credentials, self.algorithm)
    }
}

/// Why a request was not authenticated, and so how to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// No MESSAGE-INTEGRITY: the normal first round trip. 401 with REALM and NONCE.
    Challenge,
    /// Integrity attributes incomplete or malformed: 400.
    BadRequest,
    /// The nonce is expired, forged or for another client: 438 with a fresh one.
    StaleNonce,
    /// Wrong realm, a username that is not ours, or a wrong password: 401.
    Unauthorized,
}

impl Auth {
    pub(crate) fn new(secret: &str, realm: &str, nonce_ttl_secs: u64) -> Self {
        Self {
            secret: secret.to_owned(),
            realm: realm.to_owned(),
            nonces: Nonces::new(secret, nonce_ttl_secs),
        }
    }

    /// A nonce for a challenge to `client`.
    pub(crate) fn nonce(&self, client: &FiveTuple, unix_now: u64) -> String {
        self.nonces.issue(client, unix_now)
    }

    /// Checks `msg` from `client` at unix time `unix_now`, in the order of
    /// RFC 8489 §9.2.4.
    pub(crate) fn authenticate(
        &self,
        msg: &Message<'_>,
        client: &FiveTuple,
        unix_now: u64,
    ) -> Result<Authenticated, Rejection> {
        if !msg.has_attribute(MessageIntegrity::TYPE)
            && !msg.has_attribute(MessageIntegritySha256::TYPE)
        {
            return Err(Rejection::Challenge);
        }
        let (Ok(username), Ok(realm), Ok(nonce)) = (
            msg.attribute::<Username>(),
            msg.attribute::<Realm>(),
            msg.attribute::<Nonce>(),
        ) else {
            return Err(Rejection::BadRequest);
        };
        if !self.nonces.is_valid(nonce.nonce(), client, unix_now) {
            return Err(Rejection::StaleNonce);
        }
        if realm.realm() != self.realm {
            return Err(Rejection::Unauthorized);
        }
        let username = username.username();
        let rest = RestUsername::parse(username).ok_or(Rejection::Unauthorized)?;
        let password = credentials::password(&self.secret, username);
        let credentials: MessageIntegrityCredentials =
            LongTermKeyCredentials::new(username.to_owned(), password, self.realm.clone()).into();
        let algorithm = match msg.validate_integrity(&credentials) {
            Ok(algorithm) => algorithm,
            Err(ValidateError::IntegrityFailed) => return Err(Rejection::Unauthorized),
            Err(ValidateError::Parse(_)) => return Err(Rejection::BadRequest),
        };
        Ok(Authenticated {
            username: username.to_owned(),
            user_id: rest.user_id.to_owned(),
            expires_at: rest.expires_at,
            signer: Signer {
                credentials,
                algorithm,
            },
        })
    }
}
