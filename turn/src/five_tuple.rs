//! How the relay names a client: its transport and both addresses.

use std::net::SocketAddr;

/// The transport between a client and the relay.
///
/// Relaying to peers is always UDP; this is only the client's leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// Datagrams: one STUN message or ChannelData per datagram.
    Udp,
    /// A TCP stream carrying framed STUN messages and padded ChannelData.
    Tcp,
    /// The same framing inside TLS.
    Tls,
}

impl Transport {
    /// Whether messages travel in a byte stream, where ChannelData must be
    /// padded to a multiple of four bytes (RFC 8656 §12.5).
    pub fn is_stream(self) -> bool {
        !matches!(self, Transport::Udp)
    }
}

/// The 5-tuple of RFC 8656 §2: it identifies a client, and so its allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FiveTuple {
    /// UDP, TCP or TLS.
    pub transport: Transport,
    /// The client's address as the relay sees it (after any NAT).
    pub client: SocketAddr,
    /// The relay's own listening address the client talks to.
    pub server: SocketAddr,
}
