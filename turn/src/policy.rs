//! Which peers the relay may send to: deny by default.
//!
//! An open relay inside a data centre is a gift to an attacker: a TURN client
//! could reach the metadata service (169.254.169.254), the host's own admin
//! ports on loopback, or the private network behind the server. So only public
//! unicast addresses are relayed to, plus two exceptions that are ours:
//!
//! - the one configured internal destination, the embedded SFU's media
//!   address (address *and* port);
//! - our own relay ports on the advertised relay address, which the core
//!   delivers in-process between two allocations and never sends on a socket.
//!
//! Every address is normalised before it is judged: IPv4-mapped
//! (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), SIIT (`::ffff:0:a.b.c.d`)
//! and NAT64 (`64:ff9b::a.b.c.d`) IPv6 addresses are judged as the IPv4 address
//! they carry. Forgetting that is the CVE-2020-26262 / CVE-2026-27624 class of
//! bug: `::ffff:127.0.0.1` looks like a harmless IPv6 address and reaches
//! loopback.
//!
//! The check runs on every relayed packet, not only when a permission is
//! installed: permissions are per IP address, but the SFU exception is per
//! port.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;

/// What an operator can configure about peers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyConfig {
    /// The one internal destination always allowed: the embedded SFU's media
    /// address and port.
    pub allowed_internal: Option<SocketAddr>,
    /// Relay to loopback addresses too. For tests only; the server should
    /// warn loudly when it is set.
    pub allow_loopback_peers: bool,
    /// More addresses of this host to refuse, besides the listening and relay
    /// addresses the relay already knows (e.g. interface addresses behind a
    /// wildcard listener).
    pub own_addresses: Vec<IpAddr>,
}

/// The verdict on one peer address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Send it on the relay socket.
    Relay,
    /// One of our own relay ports: deliver it to that allocation in-process.
    Internal,
    /// Refuse (403 for requests, a silent drop for data).
    Deny(DenyReason),
}

/// Why a peer was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DenyReason {
    /// 0.0.0.0/8 or `::`.
    Unspecified,
    /// 127.0.0.0/8 or `::1`.
    Loopback,
    /// RFC 1918 or IPv6 unique-local (fc00::/7).
    Private,
    /// 169.254.0.0/16 or fe80::/10, home of cloud metadata services.
    LinkLocal,
    /// Carrier-grade NAT space, 100.64.0.0/10.
    SharedAddressSpace,
    /// Multicast, either family.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// Documentation, benchmarking, protocol-assignment, 6to4/Teredo and
    /// reserved ranges, and IPv6 outside global unicast.
    Reserved,
    /// An address of this server other than its relay ports.
    OwnAddress,
}

/// The compiled policy the core consults.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    allowed_internal: Option<SocketAddr>,
    allow_loopback: bool,
    own: HashSet<IpAddr>,
    relay_public: HashSet<IpAddr>,
    relay_ports: RangeInclusive<u16>,
}

impl Policy {
    /// `own` are all addresses of this server; `relay_public` those advertised
    /// to clients as relay addresses, whose `relay_ports` are ours.
    pub(crate) fn new(
        config: &PolicyConfig,
        own: impl IntoIterator<Item = IpAddr>,
        relay_public: impl IntoIterator<Item = IpAddr>,
        relay_ports: RangeInclusive<u16>,
    ) -> Self {
        let relay_public: HashSet<IpAddr> = relay_public.into_iter().map(normalize).collect();
        let own = own
            .into_iter()
            .chain(config.own_addresses.iter().copied())
            .chain(relay_public.iter().copied())
            .map(normalize)
            .filter(|ip| !ip.is_unspecified())
            .collect();
        Self {
            allowed_internal: config
                .allowed_internal
                .map(|a| SocketAddr::new(normalize(a.ip()), a.port())),
            allow_loopback: config.allow_loopback_peers,
            own,
            relay_public,
            relay_ports,
        }
    }

    /// The verdict for sending to (or accepting from) `peer`.
    pub(crate) fn check(&self, peer: SocketAddr) -> Verdict {
        let ip = normalize(peer.ip());
        if self.allowed_internal == Some(SocketAddr::new(ip, peer.port())) {
            return Verdict::Relay;
        }
        if self.relay_public.contains(&ip) && self.relay_ports.contains(&peer.port()) {
            return Verdict::Internal;
        }
        self.check_ip(ip)
    }

    /// The verdict for a permission, which covers every port of `ip`: allowed
    /// when at least some port of it may be relayed to. [`Policy::check`]
    /// still judges each packet.
    pub(crate) fn check_permission(&self, ip: IpAddr) -> Verdict {
        let ip = normalize(ip);
        if self.allowed_internal.is_some_and(|a| a.ip() == ip) {
            return Verdict::Relay;
        }
        if self.relay_public.contains(&ip) {
            return Verdict::Internal;
        }
        self.check_ip(ip)
    }

    fn check_ip(&self, ip: IpAddr) -> Verdict {
        // Loopback first: with `allow_loopback` a test's peer on 127.0.0.1 is
        // allowed although 127.0.0.1 is also one of our own addresses.
        if ip.is_loopback() {
            return match self.allow_loopback {
                true => Verdict::Relay,
                false => Verdict::Deny(DenyReason::Loopback),
            };
        }
        if self.own.contains(&ip) {
            return Verdict::Deny(DenyReason::OwnAddress);
        }
        match special_range(ip) {
            Some(reason) => Verdict::Deny(reason),
            None => Verdict::Relay,
        }
    }
}

/// Whether `ip` is a public unicast address in whatever form it is written
/// (IPv4-mapped and the like included): the addresses the relay may reach,
/// and that anything else reaching out on a client's behalf may reach.
pub fn is_public_unicast(ip: IpAddr) -> bool {
    special_range(normalize(ip)).is_none()
}

/// The address `ip` really designates: the IPv4 address inside IPv4-mapped,
/// IPv4-compatible, SIIT-translated and NAT64 well-known-prefix IPv6 forms.
pub(crate) fn normalize(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else {
        return ip;
    };
    let s = v6.segments();
    let embedded = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let prefix = [s[0], s[1], s[2], s[3], s[4], s[5]];
    match prefix {
        // ::ffff:a.b.c.d (mapped) and ::ffff:0:a.b.c.d (SIIT, RFC 6145).
        [0, 0, 0, 0, 0, 0xffff] | [0, 0, 0, 0, 0xffff, 0] => IpAddr::V4(embedded),
        // ::a.b.c.d (deprecated IPv4-compatible); :: and ::1 stay IPv6.
        [0, 0, 0, 0, 0, 0] if v6 != Ipv6Addr::UNSPECIFIED && v6 != Ipv6Addr::LOCALHOST => {
            IpAddr::V4(embedded)
        }
        // 64:ff9b::/96, NAT64's well-known prefix (RFC 6052): a NAT64 gateway
        // on the server's network would translate it to the IPv4 inside.
        [0x64, 0xff9b, 0, 0, 0, 0] => IpAddr::V4(embedded),
        _ => ip,
    }
}

/// The reason `ip` (already normalised) is not a public unicast address, if it is not.
fn special_range(ip: IpAddr) -> Option<DenyReason> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<DenyReason> {
    let [a, b, c, _] = ip.octets();
    let reason = match (a, b, c) {
        (0, ..) => DenyReason::Unspecified,
        (127, ..) => DenyReason::Loopback,
        (10, ..) | (172, 16..=31, _) | (192, 168, _) => DenyReason::Private,
        (169, 254, _) => DenyReason::LinkLocal,
        (100, 64..=127, _) => DenyReason::SharedAddressSpace,
        (224..=239, ..) => DenyReason::Multicast,
        _ if ip == Ipv4Addr::BROADCAST => DenyReason::Broadcast,
        // 240/4 reserved; 192.0.0/24 IETF assignments; 192.0.2/24,
        // 198.51.100/24, 203.0.113/24 documentation; 198.18/15 benchmarking;
        // 192.88.99/24 the retired 6to4 relay anycast.
        (240..=255, ..)
        | (192, 0, 0 | 2)
        | (198, 51, 100)
        | (203, 0, 113)
        | (198, 18..=19, _)
        | (192, 88, 99) => DenyReason::Reserved,
        _ => return None,
    };
    Some(reason)
}

fn special_v6(ip: Ipv6Addr) -> Option<DenyReason> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some(DenyReason::Unspecified);
    }
    if ip.is_loopback() {
        return Some(DenyReason::Loopback);
    }
    // Allow-list rather than deny-list: only global unicast (2000::/3) can
    // be a legitimate peer; inside it, carve out the special blocks.
    let reason = match s[0] {
        0xff00..=0xffff => DenyReason::Multicast,
        0xfe80..=0xfebf => DenyReason::LinkLocal,
        0xfc00..=0xfdff => DenyReason::Private,
        0x2000..=0x3fff => {
            // 2001::/23 IETF protocol assignments (Teredo, ORCHID, ...),
            // 2001:db8::/32 and 3fff::/20 documentation, 2002::/16 6to4,
            // whose embedded IPv4 a 6to4 relay would reach for us.
            let ietf = s[0] == 0x2001 && s[1] < 0x0200;
            let documentation =
                (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] == 0x3fff && s[1] < 0x1000);
            let six_to_four = s[0] == 0x2002;
            if ietf || documentation || six_to_four {
                DenyReason::Reserved
            } else {
                return None;
            }
        }
        _ => DenyReason::Reserved,
    };
    Some(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn policy(config: PolicyConfig) -> Policy {
        Policy::new(
            &config,
            ["203.0.113.10".parse().unwrap(), "0.0.0.0".parse().unwrap()],
            ["198.51.100.7".parse().unwrap()],
            49152..=65535,
        )
    }

    fn denied(p: &Policy, peer: &str) -> Option<DenyReason> {
        match p.check(addr(peer)) {
            Verdict::Deny(reason) => Some(reason),
            _ => None,
        }
    }

    #[test]
    fn public_peers_are_relayed() {
        let p = policy(PolicyConfig::default());
        for peer in [
            "8.8.8.8:53",
            "1.1.1.1:3478",
            "[2606:4700::1111]:443",
            "[::ffff:8.8.8.8]:53",
        ] {
            assert_eq!(p.check(addr(peer)), Verdict::Relay, "{peer}");
        }
    }

    #[test]
    fn internal_and_special_peers_are_denied_with_the_right_reason() {
        let p = policy(PolicyConfig::default());
        let cases = [
            ("127.0.0.1:80", DenyReason::Loopback),
            ("127.8.9.10:80", DenyReason::Loopback),
            ("[::1]:80", DenyReason::Loopback),
            ("[::ffff:127.0.0.1]:80", DenyReason::Loopback),
            ("[::127.0.0.1]:80", DenyReason::Loopback),
            ("[::ffff:0:127.0.0.1]:80", DenyReason::Loopback),
            ("[64:ff9b::10.0.0.1]:80", DenyReason::Private),
            ("0.0.0.0:80", DenyReason::Unspecified),
            ("[::]:80", DenyReason::Unspecified),
            ("10.0.0.1:80", DenyReason::Private),
            ("172.16.0.1:80", DenyReason::Private),
            ("172.31.255.255:80", DenyReason::Private),
            ("192.168.1.1:80", DenyReason::Private),
            ("[::ffff:192.168.1.1]:80", DenyReason::Private),
            ("[fd00::1]:80", DenyReason::Private),
            ("169.254.169.254:80", DenyReason::LinkLocal),
            ("[::ffff:169.254.169.254]:80", DenyReason::LinkLocal),
            ("[fe80::1]:80", DenyReason::LinkLocal),
            ("100.64.0.1:80", DenyReason::SharedAddressSpace),
            ("100.127.255.255:80", DenyReason::SharedAddressSpace),
            ("224.0.0.1:80", DenyReason::Multicast),
            ("[ff02::1]:80", DenyReason::Multicast),
            ("255.255.255.255:80", DenyReason::Broadcast),
            ("240.0.0.1:80", DenyReason::Reserved),
            ("192.0.2.1:80", DenyReason::Reserved),
            ("198.18.0.1:80", DenyReason::Reserved),
            ("[2001:db8::1]:80", DenyReason::Reserved),
            ("[2001::1]:80", DenyReason::Reserved),
            ("[2002:7f00:1::]:80", DenyReason::Reserved),
            ("[64:ff9b:1::1]:80", DenyReason::Reserved),
            ("[100::1]:80", DenyReason::Reserved),
            ("203.0.113.10:22", DenyReason::OwnAddress),
        ];
        for (peer, reason) in cases {
            assert_eq!(denied(&p, peer), Some(reason), "{peer}");
        }
    }

    #[test]
    fn own_addresses_are_denied_even_when_public() {
        let p = Policy::new(
            &PolicyConfig {
                own_addresses: vec!["1.2.3.4".parse().unwrap()],
                ..Default::default()
            },
            ["5.6.7.8".parse().unwrap()],
            ["9.9.9.9".parse().unwrap()],
            50000..=50010,
        );
        assert_eq!(denied(&p, "1.2.3.4:80"), Some(DenyReason::OwnAddress));
        assert_eq!(
            denied(&p, "[::ffff:5.6.7.8]:3478"),
            Some(DenyReason::OwnAddress)
        );
        // The relay address outside the relay ports is just another own port.
        assert_eq!(denied(&p, "9.9.9.9:22"), Some(DenyReason::OwnAddress));
        assert_eq!(p.check(addr("9.9.9.9:50005")), Verdict::Internal);
        assert_eq!(p.check(addr("[::ffff:9.9.9.9]:50005")), Verdict::Internal);
        assert_eq!(
            p.check_permission("9.9.9.9".parse().unwrap()),
            Verdict::Internal
        );
    }

    #[test]
    fn the_sfu_address_is_allowed_but_only_on_its_port() {
        let p = policy(PolicyConfig {
            allowed_internal: Some(addr("10.1.2.3:4443")),
            ..Default::default()
        });
        assert_eq!(p.check(addr("10.1.2.3:4443")), Verdict::Relay);
        assert_eq!(p.check(addr("[::ffff:10.1.2.3]:4443")), Verdict::Relay);
        assert_eq!(denied(&p, "10.1.2.3:22"), Some(DenyReason::Private));
        assert_eq!(
            p.check_permission("10.1.2.3".parse().unwrap()),
            Verdict::Relay
        );
        assert!(matches!(
            p.check_permission("10.1.2.4".parse().unwrap()),
            Verdict::Deny(_)
        ));
    }

    #[test]
    fn loopback_opt_in_is_for_loopback_only() {
        let p = policy(PolicyConfig {
            allow_loopback_peers: true,
            ..Default::default()
        });
        assert_eq!(p.check(addr("127.0.0.1:9")), Verdict::Relay);
        assert_eq!(p.check(addr("[::ffff:127.0.0.1]:9")), Verdict::Relay);
        assert_eq!(p.check(addr("[::1]:9")), Verdict::Relay);
        assert_eq!(denied(&p, "10.0.0.1:9"), Some(DenyReason::Private));
        assert_eq!(
            denied(&p, "169.254.169.254:80"),
            Some(DenyReason::LinkLocal)
        );
    }

    #[test]
    fn normalize_unwraps_every_embedded_ipv4_form() {
        let v4: IpAddr = "1.2.3.4".parse().unwrap();
        for form in [
            "::ffff:1.2.3.4",
            "::1.2.3.4",
            "::ffff:0:1.2.3.4",
            "64:ff9b::1.2.3.4",
        ] {
            assert_eq!(normalize(form.parse().unwrap()), v4, "{form}");
        }
        for keep in ["::", "::1", "2001:4860::1", "1.2.3.4"] {
            let ip: IpAddr = keep.parse().unwrap();
            assert_eq!(normalize(ip), ip, "{keep}");
        }
    }
}
