//! UDP sockets: client listeners and relay sockets.
//!
//! Each socket is opened once and split in two handles on the same file
//! descriptor: a tokio socket its reader task awaits on, and a plain
//! non-blocking std socket the engine sends from. Sending with a direct
//! syscall never waits and needs no readiness bookkeeping.

use std::io;
use std::net::{SocketAddr, UdpSocket};

use tokio::sync::mpsc;

use super::engine::Incoming;
use crate::five_tuple::{FiveTuple, Transport};

/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

/// Receive buffer asked for on client listeners (the kernel caps it at
/// `net.core.rmem_max`). Every UDP client of a listener sends to that one
/// socket, and the kernel's default (208 KiB: a few hundred small
/// datagrams, milliseconds of traffic at a few thousand packets per second)
/// overflowed whenever the relay was off the CPU for a moment: `mesh-bench
/// turn` lost 2–6 % of uclient's packets at 8,000 per second, all at the
/// listener, where coturn, with a socket per client, lost none.
const LISTENER_RECEIVE_BUFFER: usize = 4 << 20;

/// Binds `addr` and returns (reader, sender) handles of one socket.
pub(super) fn bind(addr: SocketAddr) -> io::Result<(tokio::net::UdpSocket, UdpSocket)> {
    let socket = UdpSocket::bind(addr)?;
    socket.set_nonblocking(true)?;
    let sender = socket.try_clone()?;
    Ok((tokio::net::UdpSocket::from_std(socket)?, sender))
}

/// [`bind`] for a client listener, with a receive buffer for bursts from
/// every client at once.
pub(super) fn bind_listener(addr: SocketAddr) -> io::Result<(tokio::net::UdpSocket, UdpSocket)> {
    let (reader, sender) = bind(addr)?;
    if let Err(e) = socket2::SockRef::from(&sender).set_recv_buffer_size(LISTENER_RECEIVE_BUFFER) {
        tracing::warn!(%addr, "TURN listener keeps the default receive buffer: {e}");
    }
    Ok((reader, sender))
}

/// Forwards datagrams from clients on the listener `local` to the engine.
pub(super) async fn read_clients(
    socket: tokio::net::UdpSocket,
    local: SocketAddr,
    incoming: mpsc::Sender<Incoming>,
) {
    read(socket, incoming, |from, data| Incoming::Client {
        from: FiveTuple {
            transport: Transport::Udp,
            client: from,
            server: local,
        },
        data,
    })
    .await;
}

/// Forwards datagrams from peers on the relay socket `relay` to the engine.
pub(super) async fn read_peers(
    socket: tokio::net::UdpSocket,
    relay: SocketAddr,
    incoming: mpsc::Sender<Incoming>,
) {
    read(socket, incoming, |from, data| Incoming::Peer {
        relay,
        from,
        data,
    })
    .await;
}

async fn read(
    socket: tokio::net::UdpSocket,
    incoming: mpsc::Sender<Incoming>,
    wrap: impl Fn(SocketAddr, Vec<u8>) -> Incoming,
) {
    // Room for any datagram, but never zeroed: an idle relay socket (there is
    // one per allocation) keeps only the pages its datagrams touched.
    let mut buf = Vec::with_capacity(MAX_DATAGRAM);
    // Ends when the engine goes away (the send fails) or aborts this task.
    loop {
        buf.clear();
        match socket.recv_buf_from(&mut buf).await {
            Ok((_, from)) => {
                if incoming.send(wrap(from, buf.to_vec())).await.is_err() {
                    return;
                }
            }
            // Linux reports ICMP errors for earlier sends here (e.g. port
            // unreachable); they concern one peer, not the socket.
            Err(e) if is_icmp_report(&e) => tracing::trace!("TURN UDP peer error: {e}"),
            Err(e) => {
                tracing::warn!("TURN UDP socket failed, no longer reading it: {e}");
                return;
            }
        }
    }
}

fn is_icmp_report(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
    )
}
