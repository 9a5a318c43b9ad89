//! Asking Mesh's own STUN server (the one `GET /ice-servers` names) which
//! address the agent's UDP socket has as seen from outside: its
//! server-reflexive address, announced beside the interface addresses so a
//! peer outside the local network can dial a device behind a NAT that keeps
//! one mapping per socket (or a forwarded port).
//!
//! Only a Binding request and its success response (RFC 8489) are spoken;
//! the query runs on the endpoint's socket before QUIC takes it over, so the
//! mapping learnt is the one QUIC traffic will use.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const MAGIC_COOKIE: u32 = 0x2112_A442;
const MAPPED_ADDRESS: u16 = 0x0001;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;
const HEADER: usize = 20;

/// Tries per server, and how long each waits for the answer.
const ATTEMPTS: u32 = 3;
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(300);

/// A Binding request with this transaction id.
pub fn binding_request(transaction: &[u8; 12]) -> Vec<u8> {
    let mut packet = Vec::with_capacity(HEADER);
    packet.extend_from_slice(&BINDING_REQUEST.to_be_bytes());
    packet.extend_from_slice(&0u16.to_be_bytes());
    packet.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    packet.extend_from_slice(transaction);
    packet
}

/// The mapped address in a Binding success response to `transaction`, if
/// `packet` is one.
pub fn parse_binding_response(packet: &[u8], transaction: &[u8; 12]) -> Option<SocketAddr> {
    if packet.len() < HEADER
        || u16::from_be_bytes([packet[0], packet[1]]) != BINDING_SUCCESS
        || u32::from_be_bytes(packet[4..8].try_into().ok()?) != MAGIC_COOKIE
        || &packet[8..20] != transaction
    {
        return None;
    }
    let length = u16::from_be_bytes([packet[2], packet[3]]) as usize;
    let attributes = packet.get(HEADER..HEADER + length)?;
    let mut plain = None;
    let mut offset = 0;
    while offset + 4 <= attributes.len() {
        let kind = u16::from_be_bytes([attributes[offset], attributes[offset + 1]]);
        let size = u16::from_be_bytes([attributes[offset + 2], attributes[offset + 3]]) as usize;
        let value = attributes.get(offset + 4..offset + 4 + size)?;
        match kind {
            XOR_MAPPED_ADDRESS => return address(value, Some(&packet[4..20])),
            MAPPED_ADDRESS => plain = address(value, None),
            _ => {}
        }
        // Attributes are padded to four bytes.
        offset += 4 + size.div_ceil(4) * 4;
    }
    plain
}

/// Decodes an address attribute; `xor` is the magic cookie and transaction
/// id that XOR-MAPPED-ADDRESS masks it with.
fn address(value: &[u8], xor: Option<&[u8]>) -> Option<SocketAddr> {
    let mask = |i: usize| xor.map_or(0, |key| key[i]);
    let port = u16::from_be_bytes([value.get(2)? ^ mask(0), value.get(3)? ^ mask(1)]);
    let ip = match value.get(1)? {
        0x01 => {
            let raw: [u8; 4] = value.get(4..8)?.try_into().ok()?;
            IpAddr::V4(Ipv4Addr::from(std::array::from_fn::<u8, 4, _>(|i| {
                raw[i] ^ mask(i)
            })))
        }
        0x02 => {
            let raw: [u8; 16] = value.get(4..20)?.try_into().ok()?;
            IpAddr::V6(Ipv6Addr::from(std::array::from_fn::<u8, 16, _>(|i| {
                raw[i] ^ mask(i)
            })))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// The host and port of a `stun:` URL (`stun:host:port`, `stun:[v6]:port`;
/// port 3478 when absent). Other schemes give `None`.
pub fn server_of(url: &str) -> Option<String> {
    let rest = url.strip_prefix("stun:")?;
    let rest = rest.split('?').next()?;
    let has_port = match rest.rfind(']') {
        Some(bracket) => rest[bracket..].contains(':'),
        None => rest.contains(':'),
    };
    Some(if has_port {
        rest.to_owned()
    } else {
        format!("{rest}:3478")
    })
}

/// Asks `server` for this socket's reflexive address. Blocking, at most
/// about a second; the socket's read timeout is restored to none.
pub fn query(
    socket: &UdpSocket,
    server: SocketAddr,
    transaction: [u8; 12],
) -> io::Result<Option<SocketAddr>> {
    let request = binding_request(&transaction);
    let mut buffer = [0u8; 1500];
    let result = (|| {
        for _ in 0..ATTEMPTS {
            socket.send_to(&request, server)?;
            let deadline = Instant::now() + ATTEMPT_TIMEOUT;
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                socket.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
                match socket.recv_from(&mut buffer) {
                    Ok((n, from)) if from == server => {
                        if let Some(mapped) = parse_binding_response(&buffer[..n], &transaction) {
                            return Ok(Some(mapped));
                        }
                    }
                    Ok(_) => {}
                    Err(err)
                        if matches!(
                            err.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) =>
                    {
                        break
                    }
                    Err(err) => return Err(err),
                }
            }
        }
        Ok(None)
    })();
    socket.set_read_timeout(None)?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Binding success response as a server would send it.
    fn response(transaction: &[u8; 12], mapped: SocketAddr) -> Vec<u8> {
        let mut key = MAGIC_COOKIE.to_be_bytes().to_vec();
        key.extend_from_slice(transaction);
        let mut value = vec![0u8];
        let port = mapped.port().to_be_bytes();
        match mapped.ip() {
            IpAddr::V4(ip) => {
                value.push(1);
                value.extend([port[0] ^ key[0], port[1] ^ key[1]]);
                value.extend(ip.octets().iter().enumerate().map(|(i, b)| b ^ key[i]));
            }
            IpAddr::V6(ip) => {
                value.push(2);
                value.extend([port[0] ^ key[0], port[1] ^ key[1]]);
                value.extend(ip.octets().iter().enumerate().map(|(i, b)| b ^ key[i]));
            }
        }
        // An unknown attribute first, padded, to exercise the walk.
        let mut attributes = vec![0x80, 0x22, 0x00, 0x03, b'm', b'e', b's', 0];
        attributes.extend(XOR_MAPPED_ADDRESS.to_be_bytes());
        attributes.extend((value.len() as u16).to_be_bytes());
        attributes.extend(value);
        let mut packet = BINDING_SUCCESS.to_be_bytes().to_vec();
        packet.extend((attributes.len() as u16).to_be_bytes());
        packet.extend(MAGIC_COOKIE.to_be_bytes());
        packet.extend(transaction);
        packet.extend(attributes);
        packet
    }

    #[test]
    fn reflexive_addresses_decode_for_both_families() {
        let transaction = [7u8; 12];
        for mapped in ["203.0.113.9:40123", "[2001:db8::5]:3478"] {
            let mapped: SocketAddr = mapped.parse().unwrap();
            let packet = response(&transaction, mapped);
            assert_eq!(parse_binding_response(&packet, &transaction), Some(mapped));
            assert_eq!(
                parse_binding_response(&packet, &[8u8; 12]),
                None,
                "another transaction"
            );
            assert_eq!(
                parse_binding_response(&packet[..packet.len() - 2], &transaction),
                None
            );
        }
        assert_eq!(
            parse_binding_response(&binding_request(&transaction), &transaction),
            None
        );
    }

    #[test]
    fn stun_urls_name_a_server() {
        assert_eq!(
            server_of("stun:mesh.example.org:3478").as_deref(),
            Some("mesh.example.org:3478")
        );
        assert_eq!(
            server_of("stun:mesh.example.org").as_deref(),
            Some("mesh.example.org:3478")
        );
        assert_eq!(server_of("stun:[::1]:5000").as_deref(), Some("[::1]:5000"));
        assert_eq!(server_of("turn:mesh.example.org:3478?transport=udp"), None);
    }

    #[test]
    fn a_query_learns_the_address_a_server_sees() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let server_addr = server.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 1500];
            let (n, from) = server.recv_from(&mut buffer).unwrap();
            let transaction: [u8; 12] = buffer[8..20].try_into().unwrap();
            assert_eq!(n, HEADER);
            server.send_to(&response(&transaction, from), from).unwrap();
        });
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mapped = query(&client, server_addr, [3u8; 12]).unwrap();
        assert_eq!(mapped, Some(client.local_addr().unwrap()));
    }
}
