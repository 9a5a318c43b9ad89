//! Relay ports held for a later Allocate (EVEN-PORT with the R bit).
//!
//! RTP/RTCP clients (coturn's `turnutils_uclient` among them) allocate an even
//! port and ask the relay to hold the next one; the second Allocate redeems it
//! with the RESERVATION-TOKEN from the first response (RFC 8656 §7.2). The
//! held socket stays bound in the driver until redeemed or expired.

use std::collections::HashMap;
use std::net::SocketAddr;

use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::credentials;

/// Reserved relay sockets by token.
#[derive(Debug)]
pub(crate) struct Reservations {
    held: HashMap<u64, SocketAddr>,
    /// Tokens are a keyed MAC of a counter: unique, and unguessable by a
    /// client who has seen its own tokens.
    mac: Hmac<Sha1>,
    issued: u64,
}

impl Reservations {
    /// `seed` starts the counter, so tokens differ across restarts that share a secret.
    pub(crate) fn new(secret: &str, seed: u64) -> Self {
        Self {
            held: HashMap::new(),
            mac: credentials::derived_mac(secret, "mesh-turn reservation tokens"),
            issued: seed,
        }
    }

    /// Holds `relay` and returns the token that redeems it.
    pub(crate) fn hold(&mut self, relay: SocketAddr) -> u64 {
        loop {
            self.issued = self.issued.wrapping_add(1);
            let mut mac = self.mac.clone();
            mac.update(&self.issued.to_be_bytes());
            let digest = mac.finalize().into_bytes();
            let mut token = [0; 8];
            token.copy_from_slice(&digest[..8]);
            let token = u64::from_be_bytes(token);
            // Zero is what clients send when they have no token.
            if token != 0 && !self.held.contains_key(&token) {
                self.held.insert(token, relay);
                return token;
            }
        }
    }

    /// Takes the socket held under `token`.
    pub(crate) fn redeem(&mut self, token: u64) -> Option<SocketAddr> {
        self.held.remove(&token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_redeems_its_socket_once() {
        let mut reservations = Reservations::new("secret", 42);
        let relay: SocketAddr = "192.0.2.1:50001".parse().unwrap();
        let token = reservations.hold(relay);
        let other = reservations.hold("192.0.2.1:50003".parse().unwrap());
        assert_ne!(token, other);
        assert_eq!(reservations.redeem(token), Some(relay));
        assert_eq!(reservations.redeem(token), None);
        assert_eq!(reservations.redeem(0), None);
    }
}
