//! The tokio driver: sockets and timers around the sans-IO [`Server`].
//!
//! One task, the engine, owns the [`Server`]. Every socket has a small reader
//! task that forwards what it receives to the engine over a bounded channel;
//! the engine feeds it to the core, then carries out the core's outputs:
//! datagrams are sent straight from the engine with non-blocking calls (a full
//! socket buffer drops the datagram, as the network would), stream messages go
//! to the connection's writer task. The driver makes no decisions of its own.

mod engine;
mod tcp;
pub mod tls;
mod udp;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::error::Error;
use crate::five_tuple::Transport;
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::server::Server;

use engine::Engine;

/// Room in the channel from reader tasks to the engine. When it is full,
/// readers wait and the kernel's socket buffers absorb (or drop) the rest.
const INCOMING_QUEUE: usize = 1024;

/// A running relay. Dropping it without [`TurnServer::stop`] leaves it
/// running until the tokio runtime shuts down.
#[derive(Debug)]
pub struct TurnServer {
    stop: oneshot::Sender<()>,
    engine: tokio::task::JoinHandle<()>,
    metrics: Arc<Metrics>,
    addrs: LocalAddrs,
}

/// The addresses the relay actually listens on (ports resolved when the
/// configuration asked for port 0).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalAddrs {
    /// UDP listeners.
    pub udp: Vec<SocketAddr>,
    /// TCP listeners.
    pub tcp: Vec<SocketAddr>,
    /// TLS listeners.
    pub tls: Vec<SocketAddr>,
}

impl TurnServer {
    /// Binds every configured listener and starts relaying on the current
    /// tokio runtime.
    pub async fn start(mut config: Config) -> Result<TurnServer, Error> {
        add_interface_addresses(&mut config);
        let server = Server::new(&config, Instant::now(), SystemTime::now())?;
        if config.policy.allow_loopback_peers {
            tracing::warn!(
                "TURN relays to loopback peers (allow_loopback_peers): for tests only, never in production"
            );
        }
        let metrics = server.metrics();
        let (incoming_tx, incoming_rx) = mpsc::channel(INCOMING_QUEUE);
        let mut tasks = JoinSet::new();
        let mut addrs = LocalAddrs::default();
        let mut udp_senders = Vec::new();

        for &addr in &config.listen_udp {
            let (reader, sender) =
                udp::bind_listener(addr).map_err(|source| Error::Listen { addr, source })?;
            let local = sender
                .local_addr()
                .map_err(|source| Error::Listen { addr, source })?;
            addrs.udp.push(local);
            udp_senders.push((local, sender));
            tasks.spawn(udp::read_clients(reader, local, incoming_tx.clone()));
        }

        let stream_limit = Arc::new(Semaphore::new(config.quotas.stream_connections as usize));
        let idle = config.lifetimes.allocation_max + tcp::IDLE_MARGIN;
        let tls = config.tls.clone().map(tokio_rustls::TlsAcceptor::from);
        let stream_listeners = config
            .listen_tcp
            .iter()
            .map(|&addr| (addr, Transport::Tcp))
            .chain(config.listen_tls.iter().map(|&addr| (addr, Transport::Tls)));
        for (addr, transport) in stream_listeners {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| Error::Listen { addr, source })?;
            let local = listener
                .local_addr()
                .map_err(|source| Error::Listen { addr, source })?;
            let acceptor = match transport {
                Transport::Tls => {
                    addrs.tls.push(local);
                    tls.clone()
                }
                _ => {
                    addrs.tcp.push(local);
                    None
                }
            };
            tasks.spawn(tcp::accept(tcp::Listener {
                listener,
                tls: acceptor,
                incoming: incoming_tx.clone(),
                limit: Arc::clone(&stream_limit),
                idle,
            }));
        }

        let engine = Engine::new(server, udp_senders, incoming_tx, incoming_rx, tasks);
        let (stop, stopped) = oneshot::channel();
        let engine = tokio::spawn(engine.run(stopped));
        tracing::info!(?addrs, "TURN relay listening");
        Ok(TurnServer {
            stop,
            engine,
            metrics,
            addrs,
        })
    }

    /// The addresses being listened on.
    pub fn local_addrs(&self) -> &LocalAddrs {
        &self.addrs
    }

    /// The relay's counters now.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.metrics.snapshot()
    }

    /// The live counters, to read later without holding the server.
    pub fn metrics_handle(&self) -> Arc<Metrics> {
        Arc::clone(&self.metrics)
    }

    /// Stops relaying, closes every socket and connection, and waits for it.
    pub async fn stop(self) {
        // The engine may already be gone if it panicked; nothing to stop then.
        let _ = self.stop.send(());
        if let Err(e) = self.engine.await {
            tracing::error!("TURN engine ended abnormally: {e}");
        }
    }
}

/// A wildcard listener or relay socket answers on every interface, so every
/// interface address is "our own" for the peer policy. Reading them is I/O,
/// hence here rather than in the core.
fn add_interface_addresses(config: &mut Config) {
    let wildcard = config
        .listen_udp
        .iter()
        .chain(&config.listen_tcp)
        .chain(&config.listen_tls)
        .map(|a| a.ip())
        .chain(config.relay.bind_v4.map(IpAddr::V4))
        .chain(config.relay.bind_v6.map(IpAddr::V6))
        .any(|ip| ip.is_unspecified());
    if !wildcard {
        return;
    }
    match if_addrs::get_if_addrs() {
        Ok(interfaces) => config
            .policy
            .own_addresses
            .extend(interfaces.iter().map(|i| i.ip())),
        Err(e) => tracing::warn!(
            "TURN cannot list this host's addresses ({e}); list public ones in policy.own_addresses"
        ),
    }
}

/// Runs a relay until `shutdown` completes: for `mesh turn` and other
/// standalone uses.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    let server = TurnServer::start(config).await?;
    shutdown.await;
    server.stop().await;
    Ok(())
}
