//! A running agent: its QUIC endpoint accepting sessions (files in, terminal
//! viewers) and its WebSocket to the server (online presence, offers).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use mesh_proto::{Device, Scope, ServerEvent};
use quinn::Endpoint;
use tokio::sync::broadcast;

use crate::control::Control;
use crate::home::Home;
use crate::identity::Identity;
use crate::path::{self, Path};
use crate::progress::Progress;
use crate::session::{self, Failure};
use crate::terminal::host::TerminalHost;
use crate::transfer::{receive, Policy};
use crate::transport::{self, close, Congestion};
use crate::turn::Allocation;

#[derive(Debug, Clone)]
pub struct Options {
    /// Where the QUIC endpoint listens.
    pub listen: SocketAddr,
    /// Addresses to announce; empty: the listening address, or every
    /// interface address when listening on all of them.
    pub announce: Vec<SocketAddr>,
    /// Where received files land.
    pub inbox: PathBuf,
    pub policy: Policy,
    pub congestion: Congestion,
    /// Print transfer progress on stderr.
    pub show_progress: bool,
}

/// What happened to an incoming session, for whoever watches the agent.
#[derive(Debug, Clone)]
pub enum Event {
    /// A session was admitted; which way its packets go.
    Connected {
        /// `username (device)`.
        from: String,
        path: Path,
    },
    Received {
        /// `username (device)`.
        from: String,
        /// The top-level files and folders, where they landed.
        paths: Vec<PathBuf>,
        bytes_total: u64,
        /// What came over the wire this time (less after a resume).
        bytes_received: u64,
    },
    /// A session was refused or a transfer failed, with the reason.
    Failed { code: u32, message: String },
    /// A terminal viewer left.
    ViewerLeft { viewer: u64 },
}

pub struct Agent {
    pub control: Control,
    pub identity: Identity,
    pub endpoint: Endpoint,
    pub device_id: i64,
    /// This endpoint's address as Mesh's STUN server saw it, if it answered.
    pub reflexive: Option<SocketAddr>,
    /// The endpoint's socket, for punch datagrams beside quinn's traffic.
    punch_socket: std::net::UdpSocket,
    /// What `start` announced; a relayed address is added to these.
    addresses: Vec<String>,
    /// The relayed address, once a session offer made this agent allocate.
    relayed: tokio::sync::Mutex<Option<SocketAddr>>,
    options: Options,
    terminal: Mutex<Option<Arc<TerminalHost>>>,
    events: broadcast::Sender<Event>,
}

impl Agent {
    /// Opens the endpoint and announces it to the server.
    pub async fn start(home: Home, options: Options) -> anyhow::Result<Arc<Agent>> {
        let state = home.state()?;
        let identity = Identity::load_or_create(&home)?;
        let control = Control::new(home)?;
        let socket = transport::socket(options.listen)?;
        let bound = socket.local_addr()?;
        let reflexive = if options.announce.is_empty() {
            discover(&control, &socket).await
        } else {
            None
        };
        let punch_socket = socket.try_clone()?;
        let endpoint = transport::endpoint(&identity, socket, options.congestion)?;
        let addresses = announced(&options, bound, reflexive);
        control
            .announce(state.device_id, &addresses)
            .await
            .context(
                "cannot announce this device to the Mesh server (if it was revoked, run `mesh-agent login` again)",
            )?;
        tokio::fs::create_dir_all(&options.inbox)
            .await
            .with_context(|| format!("cannot create {}", options.inbox.display()))?;
        tracing::info!(addresses = ?addresses, device = state.device_id, "agent listening");
        Ok(Arc::new(Agent {
            control,
            identity,
            endpoint,
            device_id: state.device_id,
            reflexive,
            punch_socket,
            addresses,
            relayed: tokio::sync::Mutex::new(None),
            options,
            terminal: Mutex::new(None),
            events: broadcast::channel(64).0,
        }))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.endpoint.local_addr().expect("a bound endpoint")
    }

    pub fn inbox(&self) -> &std::path::Path {
        &self.options.inbox
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Lets viewers with a terminal capability watch `host`.
    pub fn share_terminal(&self, host: Arc<TerminalHost>) {
        *self.terminal.lock().unwrap_or_else(|p| p.into_inner()) = Some(host);
    }

    /// Accepts sessions until the endpoint closes.
    pub async fn serve(self: &Arc<Self>) {
        self.serve_on(&self.endpoint, None).await
    }

    /// Accepts sessions on `endpoint`; `relay` is the TURN relay it runs
    /// over, if it does.
    async fn serve_on(self: &Arc<Self>, endpoint: &quinn::Endpoint, relay: Option<SocketAddr>) {
        while let Some(incoming) = endpoint.accept().await {
            let agent = self.clone();
            tokio::spawn(async move {
                let connection = match incoming.await {
                    Ok(connection) => connection,
                    Err(err) => {
                        tracing::info!(error = %err, "a peer failed to connect");
                        return;
                    }
                };
                if let Err(failure) = agent.handle(connection, relay).await {
                    let _ = agent.events.send(Event::Failed {
                        code: failure.code,
                        message: failure.message,
                    });
                }
            });
        }
    }

    async fn handle(
        &self,
        connection: quinn::Connection,
        relay: Option<SocketAddr>,
    ) -> Result<(), Failure> {
        let (mut session, capability) =
            session::admit(&self.control, self.device_id, connection).await?;
        if let Some(relay) = relay {
            session.path = Path::Relayed(relay);
        }
        let from = format!(
            "{} ({})",
            capability.requester.username, capability.requester.name
        );
        tracing::info!(%from, path = %session.path, "session admitted");
        let _ = self.events.send(Event::Connected {
            from: from.clone(),
            path: session.path,
        });
        let session_id = session.id;
        let result = match capability.scope {
            Scope::File => {
                let progress = Progress::new();
                let reporter = self
                    .options
                    .show_progress
                    .then(|| spawn_reporter(progress.clone(), format!("from {from}")));
                let result = receive::receive(
                    session,
                    &capability,
                    &self.options.inbox,
                    &self.options.policy,
                    progress.clone(),
                )
                .await;
                if let Some(reporter) = reporter {
                    reporter.abort();
                }
                result.map(|received| {
                    tracing::info!(%from, bytes = received.bytes_total, "files received");
                    let _ = self.events.send(Event::Received {
                        from: from.clone(),
                        paths: received.paths,
                        bytes_total: received.bytes_total,
                        bytes_received: received.bytes_received,
                    });
                })
            }
            Scope::TerminalView | Scope::TerminalControl => {
                let host = self
                    .terminal
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                match host {
                    Some(host) => {
                        let result = host.serve_viewer(session, &capability).await;
                        if let Ok(viewer) = &result {
                            let _ = self.events.send(Event::ViewerLeft { viewer: *viewer });
                        }
                        result.map(|_| ())
                    }
                    None => {
                        let failure =
                            Failure::new(close::REFUSED, "no terminal is shared on that device");
                        failure.close(&session.connection);
                        Err(failure)
                    }
                }
            }
        };
        if let Err(err) = self.control.close_session(session_id).await {
            tracing::debug!(error = %err, "could not record the end of the session");
        }
        if let Err(failure) = &result {
            tracing::info!(%from, reason = %failure, "session ended");
        }
        result
    }

    /// Keeps the WebSocket to the server open (reconnecting with backoff),
    /// reporting offers to this person's devices.
    pub async fn stay_online(self: &Arc<Self>) {
        let mut backoff = Duration::from_millis(500);
        loop {
            let device_id = self.device_id;
            let result = self
                .control
                .listen(|event| {
                    if let ServerEvent::Ready(_) = event {
                        tracing::info!(
                            "online: the Mesh server will announce sessions to this device"
                        );
                    }
                    if let ServerEvent::SessionOffer(offer) = event {
                        if offer.session.to_device == device_id {
                            tracing::info!(from = %offer.from.username, device = %offer.from.name,
                                scope = ?offer.session.scope, "incoming session");
                            self.prepare_path(&offer.candidates);
                        }
                    }
                })
                .await;
            if let Err(err) = result {
                tracing::warn!(error = %format!("{err:#}"), "lost the connection to the Mesh server");
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(15));
        }
    }
}

impl Agent {
    /// A session is about to be dialled: punch towards the requester's
    /// candidates so this side's NAT lets its handshake in, and make sure a
    /// relayed address is announced in case nothing direct gets through.
    fn prepare_path(self: &Arc<Self>, candidates: &[String]) {
        let candidates: Vec<SocketAddr> = candidates
            .iter()
            .filter_map(|candidate| candidate.parse().ok())
            .filter(|candidate: &SocketAddr| punchable(*candidate, self.local_addr()))
            .collect();
        match self.punch_socket.try_clone() {
            Ok(socket) => path::punch(socket, candidates),
            Err(err) => tracing::warn!(error = %err, "cannot punch: no socket"),
        }
        let agent = self.clone();
        tokio::spawn(async move {
            if let Err(err) = agent.ensure_relayed().await {
                tracing::warn!(error = %format!("{err:#}"), "cannot allocate on Mesh's TURN relay");
            }
        });
    }

    /// Allocates on Mesh's relay (once), accepts sessions on the relayed
    /// address and announces it beside the other addresses. The relay's own
    /// address is permitted, which is where other agents' allocations are.
    async fn ensure_relayed(self: &Arc<Self>) -> anyhow::Result<()> {
        let mut relayed = self.relayed.lock().await;
        if relayed.is_some() || !self.options.announce.is_empty() {
            return Ok(());
        }
        let relay = match self.control.relay_server().await {
            Ok(relay) => relay,
            // No relay on this server: direct paths only, nothing to warn about.
            Err(err) => {
                tracing::info!(error = %format!("{err:#}"), "no relayed address");
                return Ok(());
            }
        };
        let allocation = Allocation::new(&relay).await?;
        allocation.permit(allocation.relayed().ip()).await?;
        let address = allocation.relayed();
        let endpoint = transport::relayed(
            allocation.into_socket(),
            Some(transport::server_config(
                &self.identity,
                self.options.congestion,
            )?),
        )?;
        let mut addresses = self.addresses.clone();
        addresses.truncate(mesh_proto::MAX_DEVICE_ADDRESSES - 1);
        addresses.push(address.to_string());
        self.control.announce(self.device_id, &addresses).await?;
        tracing::info!(%address, "announced a relayed address");
        *relayed = Some(address);
        let agent = self.clone();
        tokio::spawn(async move {
            agent.serve_on(&endpoint, Some(relay.address)).await;
            // The allocation ended (the relay went away): allocate again next time.
            *agent.relayed.lock().await = None;
            if let Err(err) = agent
                .control
                .announce(agent.device_id, &agent.addresses)
                .await
            {
                tracing::info!(error = %format!("{err:#}"), "cannot withdraw the relayed address");
            }
        });
        Ok(())
    }
}

/// Whether punching towards `candidate` from a socket bound to `bound`
/// makes sense: same family, a unicast address a peer could hold, and never
/// loopback (a requester must not make this agent send to its own host).
fn punchable(candidate: SocketAddr, bound: SocketAddr) -> bool {
    let ip = candidate.ip();
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    candidate.is_ipv4() == bound.is_ipv4()
        && candidate.port() != 0
        && !ip.is_loopback()
        && !ip.is_unspecified()
        && !ip.is_multicast()
        && !broadcast
}

/// Prints the transfer's progress on stderr every second.
pub fn spawn_reporter(progress: Arc<Progress>, label: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            tick.tick().await;
            eprintln!("{label}: {}", progress.line());
        }
    })
}

/// Asks Mesh's STUN servers for the socket's reflexive address. Best effort:
/// without an answer the interface addresses are announced alone.
pub(crate) async fn discover(
    control: &Control,
    socket: &std::net::UdpSocket,
) -> Option<SocketAddr> {
    let servers = match control.stun_servers().await {
        Ok(servers) => servers,
        Err(err) => {
            tracing::info!(error = %format!("{err:#}"), "no STUN server to ask");
            return None;
        }
    };
    let socket = socket.try_clone().ok()?;
    let ipv4 = socket.local_addr().ok()?.is_ipv4();
    for server in servers {
        let found = tokio::net::lookup_host(&server).await;
        let Some(server) = found
            .ok()
            .and_then(|mut all| all.find(|a| a.is_ipv4() == ipv4))
        else {
            continue;
        };
        let mut transaction = [0u8; 12];
        crate::identity::crypto()
            .secure_random
            .fill(&mut transaction)
            .ok()?;
        let probe = socket.try_clone().ok()?;
        let answer =
            tokio::task::spawn_blocking(move || crate::stun::query(&probe, server, transaction))
                .await
                .ok()?;
        match answer {
            Ok(Some(mapped)) => {
                tracing::info!(%server, %mapped, "learnt the reflexive address");
                return Some(mapped);
            }
            Ok(None) => tracing::info!(%server, "the STUN server did not answer"),
            Err(err) => tracing::info!(%server, error = %err, "cannot ask the STUN server"),
        }
    }
    None
}

/// The addresses peers should dial: the ones given, else the bound address
/// (every interface's when bound to all), plus the reflexive one.
fn announced(options: &Options, bound: SocketAddr, reflexive: Option<SocketAddr>) -> Vec<String> {
    if !options.announce.is_empty() {
        return options.announce.iter().map(ToString::to_string).collect();
    }
    let mut addresses = local_addresses(bound);
    if let Some(reflexive) = reflexive.map(|a| a.to_string()) {
        if !addresses.contains(&reflexive) {
            addresses.push(reflexive);
        }
    }
    addresses.truncate(mesh_proto::MAX_DEVICE_ADDRESSES);
    addresses
}

pub(crate) fn local_addresses(bound: SocketAddr) -> Vec<String> {
    if !bound.ip().is_unspecified() {
        return vec![bound.to_string()];
    }
    let mut addresses: Vec<String> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|interface| interface.ip())
        .filter(|ip| !ip.is_loopback() && ip.is_ipv4() == bound.is_ipv4())
        .filter(|ip| !matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80))
        .map(|ip| SocketAddr::new(ip, bound.port()).to_string())
        .collect();
    if addresses.is_empty() {
        addresses.push(SocketAddr::new(IpAddr::from([127, 0, 0, 1]), bound.port()).to_string());
    }
    addresses
}

/// The device `name` refers to among those this person may reach: a device
/// id, a device name, or a username with exactly one device (other than `me`).
pub async fn resolve(control: &Control, me: i64, name: &str) -> anyhow::Result<Device> {
    let devices: Vec<Device> = control
        .shared_devices()
        .await?
        .into_iter()
        .filter(|device| device.id != me)
        .collect();
    if let Some(device) = devices
        .iter()
        .find(|d| d.id.to_string() == name || d.name.eq_ignore_ascii_case(name))
    {
        return Ok(device.clone());
    }
    let theirs: Vec<&Device> = devices
        .iter()
        .filter(|d| d.username.eq_ignore_ascii_case(name))
        .collect();
    match theirs.as_slice() {
        [one] => Ok((*one).clone()),
        [] => bail!(
            "no device called `{name}` that you can reach: you can only reach the devices of people who share a room with you"
        ),
        several => bail!(
            "{name} has several devices; name one: {}",
            several.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punches_go_only_to_unicast_peers_of_the_sockets_family() {
        let bound: SocketAddr = "0.0.0.0:4433".parse().unwrap();
        for (candidate, expected) in [
            ("198.51.100.11:5000", true),
            ("10.1.0.2:5000", true),
            ("127.0.0.1:5000", false),
            ("0.0.0.0:5000", false),
            ("224.0.0.1:5000", false),
            ("255.255.255.255:5000", false),
            ("198.51.100.11:0", false),
            ("[2001:db8::1]:5000", false),
        ] {
            assert_eq!(
                punchable(candidate.parse().unwrap(), bound),
                expected,
                "{candidate}"
            );
        }
    }
}
