//! The tokio driver: one task owns the [`Sfu`] core, its UDP socket and its
//! ICE-TCP listener, and does nothing clever.
//!
//! The task waits for whichever comes first: a datagram, a TCP frame, a
//! command from the control server, or the core's next deadline. It feeds
//! that to the core, sends what the core wants sent, forwards its events,
//! and waits again. One task owns everything, so the core needs no locks
//! and forwarding a frame to every subscriber is plain function calls.
//!
//! Each TCP connection gets a reader task, which de-frames (RFC 4571) into a
//! channel to the core task, and a writer task fed by a channel from it.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};

use crate::config::SfuConfig;
use crate::error::SfuError;
use crate::event::SfuEvent;
use crate::gso;
use crate::ids::{ParticipantId, RoomId};
use crate::io::{Datagram, Input, Output, Protocol, Transmit, MAX_DATAGRAM_LEN};
use crate::layers::Layer;
use crate::metrics::Metrics;
use crate::sfu::Sfu;
use crate::tcp_framing::{encode_frame, FrameDecoder};

/// Attempts to find a port number free for both UDP and TCP when the
/// operating system picks the UDP port.
const BIND_ATTEMPTS: usize = 8;
/// Datagrams read in one go before the core's output is sent.
const RECEIVE_BATCH: usize = 64;
/// ICE-TCP connections open at once; more are refused.
const MAX_TCP_CONNECTIONS: usize = 1024;
/// Frames queued towards one TCP connection before more are dropped, as a
/// full UDP socket buffer would drop them.
const TCP_SEND_QUEUE: usize = 256;
/// Commands queued from the control server.
const COMMAND_QUEUE: usize = 64;

/// Starts the SFU on `bind_ip`, UDP on `config.udp_port` and, if set, TCP
/// on `config.tcp_port`. Port 0 picks a free port (the TCP listener then
/// takes the UDP port's number); the ports actually bound are what browsers
/// are offered.
///
/// Returns a handle for the control server's calls and the SFU's events.
/// The SFU stops when every handle is dropped.
pub async fn spawn(
    bind_ip: IpAddr,
    mut config: SfuConfig,
) -> io::Result<(SfuHandle, mpsc::UnboundedReceiver<SfuEvent>)> {
    let (udp, tcp) = bind(bind_ip, config.udp_port, config.tcp_port).await?;
    let udp_addr = udp.local_addr()?;
    config.udp_port = udp_addr.port();
    let tcp_addr = tcp.as_ref().map(TcpListener::local_addr).transpose()?;
    config.tcp_port = tcp_addr.map(|addr| addr.port());

    let sfu = Sfu::new(config, Instant::now())
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
    let metrics = sfu.metrics();
    let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
    let (event_tx, events) = mpsc::unbounded_channel();

    let task = CoreTask {
        sfu,
        udp,
        udp_sender: gso::Sender::new(),
        udp_addr,
        event_tx,
        tcp_writers: HashMap::new(),
    };
    tokio::spawn(task.run(tcp, command_rx));

    let handle = SfuHandle {
        commands,
        metrics,
        udp_addr,
        tcp_addr,
    };
    Ok((handle, events))
}

/// Binds the UDP socket and, if wanted, the TCP listener. With both ports 0
/// the listener takes the UDP port's number, so browsers see one port; if
/// that number is taken for TCP, another UDP port is tried.
async fn bind(
    ip: IpAddr,
    udp_port: u16,
    tcp_port: Option<u16>,
) -> io::Result<(UdpSocket, Option<TcpListener>)> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let udp = UdpSocket::bind((ip, udp_port)).await?;
        enlarge_buffers(&udp);
        let Some(tcp_port) = tcp_port else {
            return Ok((udp, None));
        };
        let same_number = tcp_port == 0;
        let tcp_port = if same_number {
            udp.local_addr()?.port()
        } else {
            tcp_port
        };
        match TcpListener::bind((ip, tcp_port)).await {
            Ok(listener) => return Ok((udp, Some(listener))),
            Err(error)
                if error.kind() == io::ErrorKind::AddrInUse
                    && same_number
                    && udp_port == 0
                    && attempts < BIND_ATTEMPTS => {}
            Err(error) => return Err(error),
        }
    }
}

/// Socket buffers for the one UDP socket every participant shares. The
/// kernel's default (208 KiB, counted in per-packet memory, so a few hundred
/// small audio packets) overflows whenever the SFU is off the CPU for a
/// moment; browsers then see loss, lower their estimates and drop simulcast
/// layers. Measured with six browsers in one call on a loaded 2-core
/// machine (web/e2e/growth.test.mjs): 2,001 datagrams dropped by the kernel
/// and 9–12 % of publishers' audio reported lost with the default buffer;
/// none with this one.
const UDP_BUFFER: usize = 4 << 20;

fn enlarge_buffers(udp: &UdpSocket) {
    let socket = socket2::SockRef::from(udp);
    let _ = socket.set_recv_buffer_size(UDP_BUFFER);
    let _ = socket.set_send_buffer_size(UDP_BUFFER);
    // Linux caps both at net.core.{r,w}mem_max and reports twice what it keeps.
    let received = socket.recv_buffer_size().unwrap_or(0) / 2;
    let sent = socket.send_buffer_size().unwrap_or(0) / 2;
    if received < UDP_BUFFER || sent < UDP_BUFFER {
        tracing::warn!(
            receive = received,
            send = sent,
            wanted = UDP_BUFFER,
            "media socket buffers are smaller than wanted: raise net.core.rmem_max and net.core.wmem_max"
        );
    }
}

/// The control server's way to reach a running SFU. Cheap to clone.
#[derive(Clone)]
pub struct SfuHandle {
    commands: mpsc::Sender<Command>,
    metrics: Arc<Metrics>,
    udp_addr: SocketAddr,
    tcp_addr: Option<SocketAddr>,
}

impl SfuHandle {
    /// See [`Sfu::join`].
    pub async fn join(&self, room: RoomId, participant: ParticipantId) -> Result<(), SfuError> {
        self.call(|reply| Command::Join {
            room,
            participant,
            reply,
        })
        .await
    }

    /// See [`Sfu::accept_offer`].
    pub async fn accept_offer(
        &self,
        participant: ParticipantId,
        sdp: String,
    ) -> Result<String, SfuError> {
        self.call(|reply| Command::AcceptOffer {
            participant,
            sdp,
            reply,
        })
        .await
    }

    /// See [`Sfu::accept_answer`].
    pub async fn accept_answer(
        &self,
        participant: ParticipantId,
        sdp: String,
    ) -> Result<(), SfuError> {
        self.call(|reply| Command::AcceptAnswer {
            participant,
            sdp,
            reply,
        })
        .await
    }

    /// See [`Sfu::set_max_layer`].
    pub async fn set_max_layer(
        &self,
        subscriber: ParticipantId,
        publisher: ParticipantId,
        layer: Layer,
    ) -> Result<(), SfuError> {
        self.call(|reply| Command::SetMaxLayer {
            subscriber,
            publisher,
            layer,
            reply,
        })
        .await
    }

    /// See [`Sfu::leave`].
    pub async fn leave(&self, participant: ParticipantId) -> Result<(), SfuError> {
        self.call(|reply| Command::Leave { participant, reply })
            .await
    }

    /// The SFU's counters.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// The UDP address bound.
    pub fn udp_addr(&self) -> SocketAddr {
        self.udp_addr
    }

    /// The ICE-TCP address bound, if any.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp_addr
    }

    async fn call<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T, SfuError>>) -> Command,
    ) -> Result<T, SfuError> {
        let (reply, response) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| SfuError::DriverStopped)?;
        response.await.map_err(|_| SfuError::DriverStopped)?
    }
}

type Reply<T> = oneshot::Sender<Result<T, SfuError>>;

enum Command {
    Join {
        room: RoomId,
        participant: ParticipantId,
        reply: Reply<()>,
    },
    AcceptOffer {
        participant: ParticipantId,
        sdp: String,
        reply: Reply<String>,
    },
    AcceptAnswer {
        participant: ParticipantId,
        sdp: String,
        reply: Reply<()>,
    },
    SetMaxLayer {
        subscriber: ParticipantId,
        publisher: ParticipantId,
        layer: Layer,
        reply: Reply<()>,
    },
    Leave {
        participant: ParticipantId,
        reply: Reply<()>,
    },
}

/// What a TCP connection's reader task tells the core task.
enum TcpMessage {
    Frame(SocketAddr, Vec<u8>),
    Closed(SocketAddr),
}

struct CoreTask {
    sfu: Sfu,
    udp: UdpSocket,
    udp_sender: gso::Sender,
    udp_addr: SocketAddr,
    event_tx: mpsc::UnboundedSender<SfuEvent>,
    tcp_writers: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
}

impl CoreTask {
    async fn run(mut self, tcp: Option<TcpListener>, mut commands: mpsc::Receiver<Command>) {
        let (tcp_tx, mut tcp_rx) = mpsc::channel(1024);
        // One byte more than any valid datagram, so an oversized one shows.
        let mut buffer = vec![0; MAX_DATAGRAM_LEN + 1];
        let mut deadline = self.flush().await;

        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.execute(command),
                    // Every handle is gone: nobody can reach this SFU.
                    None => break,
                },
                received = self.udp.recv_from(&mut buffer) => match received {
                    Ok((len, source)) => {
                        self.feed_udp(source, &buffer[..len]);
                        // Take what else has arrived before sending anything.
                        for _ in 1..RECEIVE_BATCH {
                            let Ok((len, source)) = self.udp.try_recv_from(&mut buffer) else {
                                break;
                            };
                            self.feed_udp(source, &buffer[..len]);
                        }
                    }
                    // E.g. an ICMP port unreachable for an earlier send.
                    Err(error) => tracing::debug!(%error, "UDP receive failed"),
                },
                accepted = accept(tcp.as_ref()) => match accepted {
                    Ok((stream, remote)) => self.open_tcp(stream, remote, &tcp_tx),
                    Err(error) => tracing::debug!(%error, "TCP accept failed"),
                },
                // Never closes: this task holds a sender itself.
                Some(message) = tcp_rx.recv() => match message {
                    TcpMessage::Frame(source, frame) => {
                        let datagram = Datagram {
                            protocol: Protocol::Tcp,
                            source,
                            destination: self.udp_addr,
                            contents: &frame,
                        };
                        self.sfu.handle_input(Instant::now(), Input::Datagram(datagram));
                    }
                    TcpMessage::Closed(source) => {
                        self.tcp_writers.remove(&source);
                    }
                },
                () = tokio::time::sleep_until(deadline.into()) => {
                    self.sfu.handle_input(Instant::now(), Input::Timeout);
                }
            }
            deadline = self.flush().await;
        }
    }

    fn feed_udp(&mut self, source: SocketAddr, contents: &[u8]) {
        let datagram = Datagram {
            protocol: Protocol::Udp,
            source: canonical(source),
            destination: self.udp_addr,
            contents,
        };
        self.sfu
            .handle_input(Instant::now(), Input::Datagram(datagram));
    }

    fn execute(&mut self, command: Command) {
        // Calls use the core's clock; bring it up to date first.
        self.sfu.handle_input(Instant::now(), Input::Timeout);
        // A dropped reply only means the caller stopped waiting.
        match command {
            Command::Join {
                room,
                participant,
                reply,
            } => {
                let _ = reply.send(self.sfu.join(room, participant));
            }
            Command::AcceptOffer {
                participant,
                sdp,
                reply,
            } => {
                let _ = reply.send(self.sfu.accept_offer(&participant, &sdp));
            }
            Command::AcceptAnswer {
                participant,
                sdp,
                reply,
            } => {
                let _ = reply.send(self.sfu.accept_answer(&participant, &sdp));
            }
            Command::SetMaxLayer {
                subscriber,
                publisher,
                layer,
                reply,
            } => {
                let _ = reply.send(self.sfu.set_max_layer(&subscriber, &publisher, layer));
            }
            Command::Leave { participant, reply } => {
                let _ = reply.send(self.sfu.leave(&participant));
            }
        }
    }

    /// Sends everything the core has queued; returns its next deadline.
    ///
    /// Consecutive UDP datagrams to one destination are gathered into a
    /// [`gso::Run`] and leave in one segmented send.
    async fn flush(&mut self) -> Instant {
        let mut run: Option<gso::Run> = None;
        loop {
            match self.sfu.poll_output() {
                Output::Transmit(Transmit {
                    protocol: Protocol::Udp,
                    destination,
                    contents,
                    ..
                }) => {
                    let rest = match run.as_mut() {
                        Some(run) => run.push(destination, contents),
                        None => Err(contents),
                    };
                    if let Err(contents) = rest {
                        if let Some(full) = run.replace(gso::Run::new(destination, contents)) {
                            self.send_udp(&full).await;
                        }
                    }
                }
                Output::Transmit(transmit) => self.send_tcp(transmit),
                Output::Event(event) => {
                    // Nobody listening is the server's choice.
                    let _ = self.event_tx.send(event);
                }
                Output::Timeout(deadline) => {
                    if let Some(run) = run {
                        self.send_udp(&run).await;
                    }
                    return deadline;
                }
            }
        }
    }

    async fn send_udp(&mut self, run: &gso::Run) {
        let destination = socket_form(self.udp_addr, run.destination());
        self.udp_sender.send(&self.udp, run, destination).await;
    }

    fn send_tcp(&self, transmit: Transmit) {
        let Some(writer) = self.tcp_writers.get(&transmit.destination) else {
            return;
        };
        // A full queue drops the datagram, as a full socket would.
        let _ = writer.try_send(transmit.contents);
    }

    fn open_tcp(
        &mut self,
        stream: TcpStream,
        remote: SocketAddr,
        frames: &mpsc::Sender<TcpMessage>,
    ) {
        let remote = canonical(remote);
        if self.tcp_writers.len() >= MAX_TCP_CONNECTIONS {
            tracing::warn!(%remote, "too many ICE-TCP connections; refusing");
            return;
        }
        let _ = stream.set_nodelay(true);
        let (reader, writer) = stream.into_split();
        let (queue, queued) = mpsc::channel(TCP_SEND_QUEUE);
        self.tcp_writers.insert(remote, queue);
        tokio::spawn(read_frames(reader, remote, frames.clone()));
        tokio::spawn(write_frames(writer, queued));
    }
}

/// IPv4 peers of a dual-stack socket arrive as IPv4-mapped IPv6 addresses;
/// the core and str0m know them as IPv4.
fn canonical(address: SocketAddr) -> SocketAddr {
    SocketAddr::new(address.ip().to_canonical(), address.port())
}

/// The form of `address` a socket bound to `local` sends to: a dual-stack
/// IPv6 socket needs IPv4 peers as IPv4-mapped addresses.
fn socket_form(local: SocketAddr, address: SocketAddr) -> SocketAddr {
    match address.ip() {
        IpAddr::V4(ip) if local.is_ipv6() => {
            SocketAddr::new(ip.to_ipv6_mapped().into(), address.port())
        }
        _ => address,
    }
}

async fn accept(listener: Option<&TcpListener>) -> io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// Reads RFC 4571 frames from one connection until it ends or breaks the
/// framing, then tells the core task it is gone (which ends the writer and
/// so closes the socket).
async fn read_frames(
    mut reader: OwnedReadHalf,
    remote: SocketAddr,
    frames: mpsc::Sender<TcpMessage>,
) {
    let mut decoder = FrameDecoder::default();
    let mut buffer = vec![0; 4096];
    'connection: loop {
        let len = match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(len) => len,
        };
        decoder.extend(&buffer[..len]);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    if frames.send(TcpMessage::Frame(remote, frame)).await.is_err() {
                        break 'connection;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::debug!(%remote, %error, "closing ICE-TCP connection");
                    break 'connection;
                }
            }
        }
    }
    let _ = frames.send(TcpMessage::Closed(remote)).await;
}

/// Writes framed datagrams to one connection until the core task drops its
/// queue or the connection fails.
async fn write_frames(mut writer: OwnedWriteHalf, mut queued: mpsc::Receiver<Vec<u8>>) {
    while let Some(payload) = queued.recv().await {
        let Ok(frame) = encode_frame(&payload) else {
            continue;
        };
        if writer.write_all(&frame).await.is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_peers_of_a_dual_stack_socket_look_like_ipv4_to_the_core() {
        let mapped: SocketAddr = "[::ffff:192.0.2.1]:5000".parse().unwrap();
        let plain: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        assert_eq!(canonical(mapped), plain);

        let dual_stack: SocketAddr = "[::]:3478".parse().unwrap();
        let ipv4_only: SocketAddr = "0.0.0.0:3478".parse().unwrap();
        assert_eq!(socket_form(dual_stack, plain), mapped);
        assert_eq!(socket_form(ipv4_only, plain), plain);
    }
}
