//! What goes into and comes out of the sans-IO core.

use std::net::SocketAddr;
use std::time::Instant;

use crate::event::SfuEvent;

/// The largest datagram the SFU accepts. str0m never sends more than 2000
/// bytes and browsers stay within their path MTU; anything larger is dropped
/// unread.
pub const MAX_DATAGRAM_LEN: usize = 2000;

/// The transport a datagram travelled on.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Protocol {
    /// The shared UDP port.
    Udp,
    /// One ICE-TCP connection, already de-framed (RFC 4571): one frame is one
    /// datagram.
    Tcp,
}

impl From<Protocol> for str0m::net::Protocol {
    fn from(protocol: Protocol) -> Self {
        match protocol {
            Protocol::Udp => str0m::net::Protocol::Udp,
            Protocol::Tcp => str0m::net::Protocol::Tcp,
        }
    }
}

/// A datagram received on the SFU's port.
#[derive(Clone, Copy, Debug)]
pub struct Datagram<'a> {
    /// UDP, or one frame of a TCP connection.
    pub protocol: Protocol,
    /// The remote address: a browser's UDP socket or TCP connection.
    pub source: SocketAddr,
    /// The local address it arrived on, as far as the driver knows.
    pub destination: SocketAddr,
    /// The datagram's bytes.
    pub contents: &'a [u8],
}

/// Input to [`Sfu::handle_input`](crate::Sfu::handle_input).
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// A datagram arrived.
    Datagram(Datagram<'a>),
    /// The deadline from [`Output::Timeout`] has passed (early is fine too).
    Timeout,
}

/// A datagram to send.
#[derive(Clone, PartialEq, Eq)]
pub struct Transmit {
    /// UDP, or a frame to send on the TCP connection whose remote address is
    /// `destination` (the driver adds the RFC 4571 length prefix).
    pub protocol: Protocol,
    /// The SFU's address it is sent from: one of the configured candidates.
    pub source: SocketAddr,
    /// Where to send it.
    pub destination: SocketAddr,
    /// The bytes.
    pub contents: Vec<u8>,
}

impl std::fmt::Debug for Transmit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transmit")
            .field("protocol", &self.protocol)
            .field("destination", &self.destination)
            .field("len", &self.contents.len())
            .finish()
    }
}

/// Output of [`Sfu::poll_output`](crate::Sfu::poll_output).
#[derive(Debug)]
pub enum Output {
    /// Send this datagram.
    Transmit(Transmit),
    /// Tell the control server.
    Event(SfuEvent),
    /// Nothing more to do until this time, new input or a call from the
    /// control server.
    Timeout(Instant),
}
