//! The task that owns the core and carries out its outputs.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, oneshot};
use tokio::task::{AbortHandle, JoinSet};

use crate::five_tuple::{FiveTuple, Transport};
use crate::server::{Event, Input, Output, Server, Transmit};

use super::udp;

/// The engine re-reads the wall clock at least this often, so a stepped
/// system clock reaches username-expiry checks within a minute.
const WALL_CLOCK_RESYNC: Duration = Duration::from_secs(60);

/// What reader tasks hand the engine.
#[derive(Debug)]
pub(super) enum Incoming {
    /// A datagram or stream frame from a client.
    Client { from: FiveTuple, data: Vec<u8> },
    /// A datagram on a relay socket.
    Peer {
        relay: SocketAddr,
        from: SocketAddr,
        data: Vec<u8>,
    },
    /// A client stream is ready; messages for it go to `writer`.
    StreamOpened {
        five_tuple: FiveTuple,
        writer: mpsc::Sender<Vec<u8>>,
    },
    /// A client stream closed.
    StreamClosed(FiveTuple),
}

/// A bound relay socket.
#[derive(Debug)]
struct Relay {
    sender: UdpSocket,
    reader: AbortHandle,
}

#[derive(Debug)]
pub(super) struct Engine {
    server: Server,
    /// Listening UDP sockets, for sending to UDP clients.
    listeners: HashMap<SocketAddr, UdpSocket>,
    relays: HashMap<SocketAddr, Relay>,
    streams: HashMap<FiveTuple, mpsc::Sender<Vec<u8>>>,
    incoming_tx: mpsc::Sender<Incoming>,
    incoming: mpsc::Receiver<Incoming>,
    /// Every reader and acceptor; dropping the engine aborts them all.
    tasks: JoinSet<()>,
}

impl Engine {
    pub(super) fn new(
        server: Server,
        listeners: Vec<(SocketAddr, UdpSocket)>,
        incoming_tx: mpsc::Sender<Incoming>,
        incoming: mpsc::Receiver<Incoming>,
        tasks: JoinSet<()>,
    ) -> Self {
        Self {
            server,
            listeners: listeners.into_iter().collect(),
            relays: HashMap::new(),
            streams: HashMap::new(),
            incoming_tx,
            incoming,
            tasks,
        }
    }

    pub(super) async fn run(mut self, mut stop: oneshot::Receiver<()>) {
        loop {
            let timeout = self.drain().min(Instant::now() + WALL_CLOCK_RESYNC);
            tokio::select! {
                _ = &mut stop => break,
                // The engine holds a sender itself, so this never yields None.
                Some(incoming) = self.incoming.recv() => self.handle(incoming),
                _ = tokio::time::sleep_until(timeout.into()) => {
                    let now = Instant::now();
                    self.server.set_wall_clock(now, SystemTime::now());
                    self.server.handle_input(now, Input::Timeout);
                }
                // Reap finished tasks so the set does not grow.
                Some(_) = self.tasks.join_next() => {}
            }
        }
        // Wait for every reader and acceptor to go, so their sockets are
        // closed (and their ports free) when `stop` returns.
        self.tasks.shutdown().await;
        tracing::info!("TURN relay stopped");
    }

    fn handle(&mut self, incoming: Incoming) {
        let now = Instant::now();
        match incoming {
            Incoming::Client { from, data } => {
                self.server
                    .handle_input(now, Input::Client { from, data: &data });
            }
            Incoming::Peer { relay, from, data } => {
                self.server.handle_input(
                    now,
                    Input::Peer {
                        relay,
                        from,
                        data: &data,
                    },
                );
            }
            Incoming::StreamOpened { five_tuple, writer } => {
                self.streams.insert(five_tuple, writer);
            }
            Incoming::StreamClosed(five_tuple) => {
                self.streams.remove(&five_tuple);
                self.server
                    .handle_input(now, Input::ClientClosed(five_tuple));
            }
        }
    }

    /// Carries out everything the core asks; returns its next deadline.
    fn drain(&mut self) -> Instant {
        loop {
            match self.server.poll_output() {
                Output::Transmit(transmit) => self.transmit(transmit),
                Output::Event(Event::BindRelay(relay)) => {
                    let bound = self.bind_relay(relay);
                    self.server
                        .handle_input(Instant::now(), Input::RelayBound { relay, bound });
                }
                Output::Event(Event::ReleaseRelay(relay)) => {
                    if let Some(relay) = self.relays.remove(&relay) {
                        relay.reader.abort();
                    }
                }
                Output::Timeout(at) => return at,
            }
        }
    }

    fn transmit(&mut self, transmit: Transmit) {
        let Transmit {
            transport,
            source,
            destination,
            data,
        } = transmit;
        match transport {
            Transport::Udp => {
                let socket = self
                    .relays
                    .get(&source)
                    .map(|relay| &relay.sender)
                    .or_else(|| self.listeners.get(&source));
                // Non-blocking: a full buffer or an ICMP error drops the
                // datagram, which UDP's users expect and retransmit around.
                if let Some(Err(e)) = socket.map(|s| s.send_to(&data, destination)) {
                    tracing::trace!(%source, %destination, "TURN datagram dropped: {e}");
                }
            }
            Transport::Tcp | Transport::Tls => {
                let five_tuple = FiveTuple {
                    transport,
                    client: destination,
                    server: source,
                };
                // A writer queue that is full belongs to a client that stopped
                // reading; its messages are dropped rather than stall the relay.
                if let Some(writer) = self.streams.get(&five_tuple) {
                    let _ = writer.try_send(data);
                }
            }
        }
    }

    fn bind_relay(&mut self, relay: SocketAddr) -> bool {
        match udp::bind(relay) {
            Ok((reader, sender)) => {
                let reader =
                    self.tasks
                        .spawn(udp::read_peers(reader, relay, self.incoming_tx.clone()));
                self.relays.insert(relay, Relay { sender, reader });
                true
            }
            Err(e) => {
                tracing::debug!(%relay, "TURN relay port unavailable: {e}");
                false
            }
        }
    }
}
