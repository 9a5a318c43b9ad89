//! Which participant a datagram belongs to.
//!
//! All participants share one port, so every datagram is looked up by its
//! remote address (protocol + source). An address is learned only when a
//! participant's `Rtc` sends to it: str0m answers a STUN binding request only
//! after checking its MESSAGE-INTEGRITY against that participant's ICE
//! password, so a learned address has proven it holds the credentials from
//! the SDP. Until then, a STUN binding request is routed by the ICE username
//! fragment in its USERNAME attribute (`sfu_ufrag:browser_ufrag`), which
//! names the participant whose `Rtc` owns `sfu_ufrag`.
//!
//! This replaces str0m's `Rtc::accepts`, which would have every datagram
//! tried against every connection in turn.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::ids::ParticipantId;
use crate::io::{Datagram, Protocol};

/// STUN message type of a Binding request (RFC 8489 §5).
const BINDING_REQUEST: u16 = 0x0001;
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
const HEADER_LEN: usize = 20;
const ATTR_USERNAME: u16 = 0x0006;

/// Remote address and ICE ufrag maps to participants.
#[derive(Default)]
pub(crate) struct Demux {
    by_address: HashMap<(Protocol, SocketAddr), ParticipantId>,
    by_ufrag: HashMap<String, ParticipantId>,
}

impl Demux {
    /// The participant a datagram is for, if any.
    ///
    /// Binding requests go by ufrag even from a known address: the ufrag is
    /// what the browser says it is talking to, and an address can move to a
    /// new PeerConnection after the old one left.
    pub(crate) fn route(&self, datagram: &Datagram<'_>) -> Option<&ParticipantId> {
        match binding_request_ufrag(datagram.contents) {
            Some(ufrag) => self.by_ufrag.get(ufrag),
            None => self.by_address.get(&(datagram.protocol, datagram.source)),
        }
    }

    /// Registers the SFU-side ufrag of a new participant's `Rtc`.
    pub(crate) fn add_participant(&mut self, ufrag: String, participant: ParticipantId) {
        self.by_ufrag.insert(ufrag, participant);
    }

    /// Records that `participant`'s `Rtc` sent to this address, so it has
    /// verified the remote end (see the module docs).
    pub(crate) fn learn_address(
        &mut self,
        protocol: Protocol,
        address: SocketAddr,
        participant: &ParticipantId,
    ) {
        let key = (protocol, address);
        if self.by_address.get(&key) != Some(participant) {
            self.by_address.insert(key, participant.clone());
        }
    }

    /// Forgets everything about a participant that is gone.
    pub(crate) fn remove_participant(&mut self, participant: &ParticipantId) {
        self.by_ufrag.retain(|_, owner| owner != participant);
        self.by_address.retain(|_, owner| owner != participant);
    }

    #[cfg(test)]
    fn address_count(&self) -> usize {
        self.by_address.len()
    }
}

/// The SFU's own ufrag from a STUN Binding request's USERNAME attribute, or
/// `None` if the bytes are not a well-formed Binding request with one.
pub(crate) fn binding_request_ufrag(bytes: &[u8]) -> Option<&str> {
    let header = bytes.get(..HEADER_LEN)?;
    let message_type = u16::from_be_bytes([header[0], header[1]]);
    let body_len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if message_type != BINDING_REQUEST || header[4..8] != MAGIC_COOKIE {
        return None;
    }
    let mut attributes = bytes.get(HEADER_LEN..HEADER_LEN + body_len)?;

    while let Some(attribute_header) = attributes.get(..4) {
        let kind = u16::from_be_bytes([attribute_header[0], attribute_header[1]]);
        let len = usize::from(u16::from_be_bytes([
            attribute_header[2],
            attribute_header[3],
        ]));
        let value = attributes.get(4..4 + len)?;
        if kind == ATTR_USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            let (local, _remote) = username.split_once(':')?;
            return Some(local);
        }
        // Attribute values are padded to a multiple of four bytes.
        let padded = (len + 3) & !3;
        attributes = attributes.get(4 + padded..).unwrap_or_default();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Binding request with a USERNAME and one more attribute after it, as
    /// browsers send (PRIORITY, ICE-CONTROLLING etc. are omitted).
    fn binding_request(username: &str) -> Vec<u8> {
        let mut attributes = Vec::new();
        attributes.extend_from_slice(&ATTR_USERNAME.to_be_bytes());
        attributes.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attributes.extend_from_slice(username.as_bytes());
        while attributes.len() % 4 != 0 {
            attributes.push(0);
        }
        // PRIORITY, 4 bytes.
        attributes.extend_from_slice(&[0x00, 0x24, 0x00, 0x04, 1, 2, 3, 4]);

        let mut message = Vec::new();
        message.extend_from_slice(&BINDING_REQUEST.to_be_bytes());
        message.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
        message.extend_from_slice(&MAGIC_COOKIE);
        message.extend_from_slice(&[7; 12]);
        message.extend_from_slice(&attributes);
        message
    }

    fn datagram(source: SocketAddr, contents: &[u8]) -> Datagram<'_> {
        Datagram {
            protocol: Protocol::Udp,
            source,
            destination: "127.0.0.1:3478".parse().unwrap(),
            contents,
        }
    }

    #[test]
    fn reads_the_sfu_side_ufrag_from_username() {
        let request = binding_request("sfuUfrag:browserUfrag");
        assert_eq!(binding_request_ufrag(&request), Some("sfuUfrag"));
    }

    #[test]
    fn rejects_truncated_and_malformed_stun() {
        let request = binding_request("abcd:efgh");
        for len in 0..request.len() {
            assert_eq!(binding_request_ufrag(&request[..len]), None, "length {len}");
        }

        let mut not_a_request = request.clone();
        not_a_request[1] = 0x11; // Binding indication
        assert_eq!(binding_request_ufrag(&not_a_request), None);

        let mut bad_cookie = request.clone();
        bad_cookie[4] = 0;
        assert_eq!(binding_request_ufrag(&bad_cookie), None);

        let no_colon = binding_request("abcdefgh");
        assert_eq!(binding_request_ufrag(&no_colon), None);

        let mut overlong_attribute = request;
        overlong_attribute[22..24].copy_from_slice(&0xffffu16.to_be_bytes());
        assert_eq!(binding_request_ufrag(&overlong_attribute), None);
    }

    #[test]
    fn routes_binding_requests_by_ufrag_and_the_rest_by_learned_address() {
        let alice = ParticipantId::from("alice");
        let browser: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let mut demux = Demux::default();
        demux.add_participant("aliceUfrag".into(), alice.clone());

        let request = binding_request("aliceUfrag:remote");
        assert_eq!(demux.route(&datagram(browser, &request)), Some(&alice));

        let dtls = [22u8, 254, 253, 0, 0];
        assert_eq!(demux.route(&datagram(browser, &dtls)), None);
        demux.learn_address(Protocol::Udp, browser, &alice);
        assert_eq!(demux.route(&datagram(browser, &dtls)), Some(&alice));

        let unknown = binding_request("nobodysUfrag:remote");
        assert_eq!(demux.route(&datagram(browser, &unknown)), None);
    }

    #[test]
    fn forgets_a_removed_participant() {
        let alice = ParticipantId::from("alice");
        let bob = ParticipantId::from("bob");
        let mut demux = Demux::default();
        demux.add_participant("a".into(), alice.clone());
        demux.add_participant("b".into(), bob.clone());
        demux.learn_address(Protocol::Udp, "127.0.0.1:1".parse().unwrap(), &alice);
        demux.learn_address(Protocol::Tcp, "127.0.0.1:2".parse().unwrap(), &alice);
        demux.learn_address(Protocol::Udp, "127.0.0.1:3".parse().unwrap(), &bob);

        demux.remove_participant(&alice);

        assert_eq!(demux.address_count(), 1);
        let request = binding_request("a:remote");
        let source = "127.0.0.1:1".parse().unwrap();
        assert_eq!(demux.route(&datagram(source, &request)), None);
    }
}
