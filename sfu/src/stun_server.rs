//! A plain STUN server on the media port: a Binding request without a
//! USERNAME (so not an ICE check for a participant) is answered with the
//! address it came from (RFC 8489 §7.3.1). `mesh doctor` uses it to prove the
//! media port is reachable over UDP and TCP, and it tells a client its
//! server-reflexive address. The answer is no larger than the request plus
//! twelve bytes, so the port cannot be used to amplify traffic.

use std::net::{IpAddr, SocketAddr};

use crate::demux::binding_request_ufrag;

const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const MAGIC_COOKIE: u32 = 0x2112_a442;
const HEADER_LEN: usize = 20;
const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;

/// The Binding success response to `request` from `source`, if `request` is
/// a Binding request that is not an ICE connectivity check.
pub(crate) fn binding_response(request: &[u8], source: SocketAddr) -> Option<Vec<u8>> {
    let header = request.get(..HEADER_LEN)?;
    let message_type = u16::from_be_bytes([header[0], header[1]]);
    let body_len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if message_type != BINDING_REQUEST
        || u32::from_be_bytes([header[4], header[5], header[6], header[7]]) != MAGIC_COOKIE
        || request.len() != HEADER_LEN + body_len
        || binding_request_ufrag(request).is_some()
    {
        return None;
    }
    let transaction_id = &header[8..20];
    let port = source.port() ^ (MAGIC_COOKIE >> 16) as u16;
    let mut value = Vec::with_capacity(20);
    match source.ip() {
        IpAddr::V4(ip) => {
            value.extend_from_slice(&[0, 0x01]);
            value.extend_from_slice(&port.to_be_bytes());
            let xored = u32::from(ip) ^ MAGIC_COOKIE;
            value.extend_from_slice(&xored.to_be_bytes());
        }
        IpAddr::V6(ip) => {
            value.extend_from_slice(&[0, 0x02]);
            value.extend_from_slice(&port.to_be_bytes());
            let mut key = [0u8; 16];
            key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
            key[4..].copy_from_slice(transaction_id);
            value.extend(ip.octets().iter().zip(key).map(|(byte, k)| byte ^ k));
        }
    }
    let mut response = Vec::with_capacity(HEADER_LEN + 4 + value.len());
    response.extend_from_slice(&BINDING_SUCCESS.to_be_bytes());
    response.extend_from_slice(&((4 + value.len()) as u16).to_be_bytes());
    response.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    response.extend_from_slice(transaction_id);
    response.extend_from_slice(&ATTR_XOR_MAPPED_ADDRESS.to_be_bytes());
    response.extend_from_slice(&(value.len() as u16).to_be_bytes());
    response.extend_from_slice(&value);
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(attributes: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0x00, 0x01];
        bytes.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
        bytes.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        bytes.extend_from_slice(&[7; 12]);
        bytes.extend_from_slice(attributes);
        bytes
    }

    #[test]
    fn answers_a_plain_binding_request_with_the_xored_source() {
        let source: SocketAddr = "192.0.2.1:32853".parse().unwrap();
        let response = binding_response(&request(&[]), source).unwrap();
        assert_eq!(&response[..2], &[0x01, 0x01]);
        assert_eq!(&response[8..20], &[7; 12], "same transaction");
        // RFC 5769 §2.2: 192.0.2.1:32853 xors to 0xa147 / 0xe112a643.
        assert_eq!(
            &response[24..32],
            &[0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43]
        );
    }

    #[test]
    fn leaves_ice_checks_and_garbage_alone() {
        let source: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let username = b"abcd:efgh";
        let mut attribute = vec![0x00, 0x06, 0x00, username.len() as u8];
        attribute.extend_from_slice(username);
        attribute.extend_from_slice(&[0, 0, 0]);
        assert!(
            binding_response(&request(&attribute), source).is_none(),
            "an ICE check is a participant's"
        );
        assert!(binding_response(&[0u8; 10], source).is_none());
        let mut truncated = request(&[0, 0x20, 0, 8]);
        truncated.truncate(22);
        assert!(binding_response(&truncated, source).is_none());
        let mut response = request(&[]);
        response[1] = 0x11;
        assert!(binding_response(&response, source).is_none());
    }
}
