//! What the control server tells the SFU at start-up.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Configuration of an [`Sfu`](crate::Sfu).
///
/// Every participant is offered the same candidates: for each public IP, one
/// UDP host candidate on `udp_port` and, when `tcp_port` is set, one passive
/// ICE-TCP candidate on it. The SFU is ICE-lite, so these must be addresses
/// browsers can reach directly (or through TURN).
#[derive(Clone, Debug)]
pub struct SfuConfig {
    /// Addresses browsers reach the SFU on. One IPv4 and one IPv6 at most is
    /// the usual setup; a datagram is attributed to the first address of its
    /// family.
    pub public_ips: Vec<IpAddr>,
    /// The UDP port all participants share.
    pub udp_port: u16,
    /// The TCP port for ICE-TCP (RFC 6544 passive, RFC 4571 framing), usually
    /// the same number as `udp_port`. `None` offers no TCP candidates.
    pub tcp_port: Option<u16>,
    /// Egress budget of a new subscriber, before its receiver reports have
    /// said anything about its link.
    pub initial_bitrate_bps: u64,
    /// How long a keyframe asked of one publisher's layer may take to come
    /// before it is asked for again; until it comes, nobody asks again (one
    /// keyframe serves every subscriber waiting for it, so many subscribers
    /// joining or switching at once cost one keyframe). Also the fewest time
    /// between two requests that repair a broken picture.
    pub keyframe_request_interval: Duration,
    /// How long a participant may stay unconnected after joining.
    pub connect_timeout: Duration,
    /// How often layers are re-chosen, keyframes re-requested for waiting
    /// subscribers, active speakers re-evaluated and timeouts checked.
    pub housekeeping_interval: Duration,
}

impl SfuConfig {
    /// A configuration with one public IP and the same port number for UDP
    /// and TCP, and defaults for everything else.
    pub fn new(public_ip: IpAddr, port: u16) -> Self {
        SfuConfig {
            public_ips: vec![public_ip],
            udp_port: port,
            tcp_port: Some(port),
            initial_bitrate_bps: 1_000_000,
            keyframe_request_interval: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(30),
            housekeeping_interval: Duration::from_millis(250),
        }
    }

    /// The local address str0m is told a datagram arrived on: the first public
    /// address of the sender's family. Drivers bind wildcard sockets and cannot
    /// always tell which address a datagram was sent to; str0m only answers
    /// binding requests that arrive on one of its candidates.
    pub(crate) fn local_addr(&self, tcp: bool, remote: SocketAddr) -> Option<SocketAddr> {
        let port = if tcp { self.tcp_port? } else { self.udp_port };
        self.public_ips
            .iter()
            .find(|ip| ip.is_ipv4() == remote.is_ipv4())
            .map(|ip| SocketAddr::new(*ip, port))
    }
}
