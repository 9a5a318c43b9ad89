//! Stateless nonces for the long-term credential mechanism.
//!
//! A nonce is `hex(issued_at) || hex(HMAC-SHA1(key, issued_at || client))`,
//! truncated to 96 bits of MAC. The relay keeps nothing per client: a nonce
//! proves by itself that we issued it, to that client, and when. So a flood of
//! unauthenticated requests costs no memory, and nonces stay valid across a
//! restart or on another Mesh node that shares the secret.

use std::net::SocketAddr;

use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::credentials;
use crate::five_tuple::{FiveTuple, Transport};

type HmacSha1 = Hmac<Sha1>;

/// Hex digits of the issue time (a u64).
const TIME_HEX: usize = 16;
/// Bytes of MAC kept: 96 bits is plenty for a value that expires in minutes.
const MAC_BYTES: usize = 12;
/// A nonce from slightly in the future is accepted, so nodes whose clocks
/// differ by a few seconds can share nonces.
const CLOCK_SKEW_SECS: u64 = 5;

/// Issues and checks nonces.
#[derive(Debug)]
pub(crate) struct Nonces {
    /// Keyed once; each use clones the keyed state instead of re-deriving it.
    mac: HmacSha1,
    ttl_secs: u64,
}

impl Nonces {
    /// Nonces keyed from the relay's shared secret, valid for `ttl_secs`.
    pub(crate) fn new(secret: &str, ttl_secs: u64) -> Self {
        Self {
            mac: credentials::derived_mac(secret, "mesh-turn nonces"),
            ttl_secs,
        }
    }

    /// A fresh nonce for `client` at unix time `now`.
    pub(crate) fn issue(&self, client: &FiveTuple, now: u64) -> String {
        let tag = self.tag(client, now);
        let mut nonce = format!("{now:016x}");
        for byte in &tag[..MAC_BYTES] {
            nonce.push_str(&format!("{byte:02x}"));
        }
        nonce
    }

    /// Whether `nonce` is one we issued to `client` and has not expired.
    pub(crate) fn is_valid(&self, nonce: &str, client: &FiveTuple, now: u64) -> bool {
        let Some(issued_at) = nonce
            .get(..TIME_HEX)
            .and_then(|h| u64::from_str_radix(h, 16).ok())
        else {
            return false;
        };
        let Some(claimed) = nonce.get(TIME_HEX..).and_then(decode_hex) else {
            return false;
        };
        if claimed.len() != MAC_BYTES {
            return false;
        }
        let fresh = issued_at <= now.saturating_add(CLOCK_SKEW_SECS)
            && now.saturating_sub(issued_at) < self.ttl_secs;
        // Constant-time comparison: the MAC is the secret-derived part.
        let authentic = self
            .keyed(client, issued_at)
            .verify_truncated_left(&claimed)
            .is_ok();
        fresh && authentic
    }

    fn keyed(&self, client: &FiveTuple, issued_at: u64) -> HmacSha1 {
        let mut mac = self.mac.clone();
        mac.update(&issued_at.to_be_bytes());
        mac.update(&[match client.transport {
            Transport::Udp => 0,
            Transport::Tcp => 1,
            Transport::Tls => 2,
        }]);
        update_addr(&mut mac, client.client);
        mac
    }

    fn tag(&self, client: &FiveTuple, issued_at: u64) -> [u8; 20] {
        self.keyed(client, issued_at).finalize().into_bytes().into()
    }
}

fn update_addr(mac: &mut HmacSha1, addr: SocketAddr) {
    match addr {
        SocketAddr::V4(v4) => mac.update(&v4.ip().octets()),
        SocketAddr::V6(v6) => mac.update(&v6.ip().octets()),
    }
    mac.update(&addr.port().to_be_bytes());
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 || !hex.is_ascii() {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(port: u16) -> FiveTuple {
        FiveTuple {
            transport: Transport::Udp,
            client: SocketAddr::from(([192, 0, 2, 1], port)),
            server: SocketAddr::from(([192, 0, 2, 100], 3478)),
        }
    }

    #[test]
    fn issued_nonce_is_valid_until_it_expires() {
        let nonces = Nonces::new("secret", 600);
        let nonce = nonces.issue(&client(1), 1_000);
        assert_eq!(nonce.len(), TIME_HEX + 2 * MAC_BYTES);
        assert!(nonces.is_valid(&nonce, &client(1), 1_000));
        assert!(nonces.is_valid(&nonce, &client(1), 1_599));
        assert!(!nonces.is_valid(&nonce, &client(1), 1_600));
    }

    #[test]
    fn nonce_is_bound_to_client_and_secret() {
        let nonces = Nonces::new("secret", 600);
        let nonce = nonces.issue(&client(1), 1_000);
        assert!(!nonces.is_valid(&nonce, &client(2), 1_000));
        assert!(!Nonces::new("other", 600).is_valid(&nonce, &client(1), 1_000));
    }

    #[test]
    fn forged_or_garbled_nonces_are_refused() {
        let nonces = Nonces::new("secret", 600);
        let nonce = nonces.issue(&client(1), 1_000);
        // Moving the timestamp forward breaks the MAC.
        let forged = format!("{:016x}{}", 1_500, &nonce[TIME_HEX..]);
        assert!(!nonces.is_valid(&forged, &client(1), 1_500));
        for garbage in [
            "",
            "zz",
            "0000000000000000",
            &nonce[..nonce.len() - 1],
            "é€",
        ] {
            assert!(!nonces.is_valid(garbage, &client(1), 1_000), "{garbage:?}");
        }
    }

    #[test]
    fn nonce_from_a_clock_far_ahead_is_refused() {
        let nonces = Nonces::new("secret", 600);
        let nonce = nonces.issue(&client(1), 2_000);
        assert!(nonces.is_valid(&nonce, &client(1), 2_000 - CLOCK_SKEW_SECS));
        assert!(!nonces.is_valid(&nonce, &client(1), 1_000));
    }
}
