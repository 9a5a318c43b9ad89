//! Which way a session's packets go: straight between the two agents
//! (possibly through a hole both punched in their NATs), or through Mesh's
//! TURN relay when nothing direct answers.
//!
//! The requester ([`Dialer`]) learns its own reflexive address from Mesh's
//! STUN server on the socket QUIC will use and sends its candidates with the
//! session request; the server hands them to the target with the session
//! offer, and the target [`punch`]es towards them from its QUIC socket, so
//! its NAT expects the requester's handshake. The requester dials every
//! address the target announced; if no handshake completes within
//! [`DIRECT_WINDOW`] it also allocates on Mesh's relay and dials the
//! target's relayed address (which the target allocated when the offer
//! arrived) through it, and the first session to open wins.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use mesh_proto::{CreateSessionRequest, Device, Scope, SessionGrant};
use quinn::Endpoint;

use crate::control::Control;
use crate::identity::Identity;
use crate::session::{self, Session};
use crate::transport::{self, Congestion};
use crate::turn::Allocation;

/// How long direct and punched addresses get before the relay is tried.
pub const DIRECT_WINDOW: Duration = Duration::from_secs(2);
/// How long the target punches, and how often.
const PUNCH_FOR: Duration = Duration::from_secs(3);
const PUNCH_EVERY: Duration = Duration::from_millis(100);
/// A punch datagram: the first byte has QUIC's fixed bit clear, so the
/// peer's QUIC stack drops it as not QUIC without answering.
const PUNCH: &[u8] = b"\0mesh-punch";
/// How long the requester waits for the target to announce a relayed address.
const RELAYED_ADDRESS_WAIT: Duration = Duration::from_secs(5);

/// The path a session took, as the person is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Straight to (or from) the peer at this address.
    Direct(SocketAddr),
    /// Through Mesh's TURN relay, reached at this address.
    Relayed(SocketAddr),
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Direct(peer) => write!(f, "direct ({peer})"),
            Path::Relayed(relay) => write!(f, "relayed via TURN ({relay})"),
        }
    }
}

/// Sends punch datagrams from `socket` (a clone of the QUIC endpoint's) to
/// every candidate for a few seconds, so this side's NAT opens a mapping
/// towards them and lets the peer's QUIC handshake in.
pub fn punch(socket: UdpSocket, candidates: Vec<SocketAddr>) {
    if candidates.is_empty() {
        return;
    }
    tracing::info!(?candidates, "punching towards the requester");
    tokio::task::spawn_blocking(move || {
        let rounds = PUNCH_FOR.as_millis() / PUNCH_EVERY.as_millis();
        for _ in 0..rounds {
            for candidate in &candidates {
                // Unreachable candidates (another network's private address)
                // fail here or in silence; either is fine.
                let _ = socket.send_to(PUNCH, candidate);
            }
            std::thread::sleep(PUNCH_EVERY);
        }
    });
}

/// The requesting side of sessions: a dial-only QUIC endpoint whose
/// candidate addresses (interfaces and reflexive) are known.
pub struct Dialer {
    pub endpoint: Endpoint,
    /// Sent with each session request, for the target to punch towards.
    pub candidates: Vec<SocketAddr>,
    /// Endpoints over a relay allocation, kept to close them gracefully.
    relayed: Mutex<Vec<Endpoint>>,
}

impl Dialer {
    /// A dial-only endpoint on `listen`, which first asks Mesh's STUN server
    /// for its reflexive address (on the same socket, so the mapping learnt
    /// is the one QUIC uses).
    pub async fn new(control: &Control, listen: SocketAddr) -> anyhow::Result<Dialer> {
        let socket = transport::socket(listen)?;
        let bound = socket.local_addr()?;
        let reflexive = crate::agent::discover(control, &socket).await;
        let mut candidates: Vec<SocketAddr> = crate::agent::local_addresses(bound)
            .iter()
            .filter_map(|address| address.parse().ok())
            .collect();
        if let Some(reflexive) = reflexive.filter(|r| !candidates.contains(r)) {
            candidates.push(reflexive);
        }
        candidates.truncate(mesh_proto::MAX_DEVICE_ADDRESSES);
        Ok(Dialer {
            endpoint: transport::quic(socket, None)?,
            candidates,
            relayed: Mutex::new(Vec::new()),
        })
    }

    /// Asks the server for a session to `target` and connects to it, direct
    /// if possible, relayed otherwise.
    pub async fn open(
        &self,
        control: &Control,
        identity: &Identity,
        from_device: i64,
        target: &Device,
        scope: Scope,
        congestion: Congestion,
    ) -> anyhow::Result<Session> {
        let grant = control
            .create_session(&CreateSessionRequest {
                from_device,
                to_device: target.id,
                kind: scope.kind(),
                scope,
                candidates: self.candidates.iter().map(ToString::to_string).collect(),
            })
            .await?;
        let direct = session::connect(identity, &self.endpoint, &grant, congestion);
        tokio::pin!(direct);
        match tokio::time::timeout(DIRECT_WINDOW, &mut direct).await {
            Ok(Ok(session)) => return Ok(session),
            // The target answered and refused: the relay would not change that.
            Ok(Err(err)) if err.downcast_ref::<session::Failure>().is_some() => return Err(err),
            Ok(Err(err)) => {
                tracing::info!(reason = %format!("{err:#}"), "no direct path; trying Mesh's TURN relay");
                return self
                    .open_relayed(control, identity, &grant, congestion)
                    .await
                    .with_context(|| format!("no direct path ({err:#}), and the relay failed"));
            }
            Err(_) => {}
        }
        // Direct handshakes may still complete (a slow peer, a hole opened
        // late): they keep going while the relay is set up, and the first
        // session to open wins.
        tracing::info!("no direct answer yet; trying Mesh's TURN relay too");
        let relayed = self.open_relayed(control, identity, &grant, congestion);
        tokio::pin!(relayed);
        tokio::select! {
            result = &mut direct => match result {
                Ok(session) => Ok(session),
                Err(direct_err) => relayed.await.with_context(|| {
                    format!("no direct path ({direct_err:#}), and the relay failed")
                }),
            },
            result = &mut relayed => match result {
                Ok(session) => Ok(session),
                Err(relay_err) => direct.await.with_context(|| {
                    format!("the relay failed ({relay_err:#}), and no direct path")
                }),
            },
        }
    }

    /// Dials the target's relayed address through an allocation of our own.
    async fn open_relayed(
        &self,
        control: &Control,
        identity: &Identity,
        grant: &SessionGrant,
        congestion: Congestion,
    ) -> anyhow::Result<Session> {
        let relay = control.relay_server().await?;
        let allocation = Allocation::new(&relay).await?;
        let relay_ip = allocation.relayed().ip();
        let target = relayed_address(control, grant.target.id, relay_ip).await?;
        allocation.bind_channel(target).await?;
        let endpoint = transport::relayed(allocation.into_socket(), None)?;
        lock(&self.relayed).push(endpoint.clone());
        let connection = transport::dial(
            &endpoint,
            identity,
            &[target],
            &grant.target.fingerprint,
            congestion,
        )
        .await?;
        let mut session = session::hello(connection, &grant.token).await?;
        session.path = Path::Relayed(relay.address);
        Ok(session)
    }

    /// Waits until every connection, direct or relayed, has closed cleanly.
    pub async fn wait_idle(&self) {
        self.endpoint.wait_idle().await;
        let relayed: Vec<Endpoint> = lock(&self.relayed).clone();
        for endpoint in relayed {
            endpoint.wait_idle().await;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The target's address on the relay (`relay_ip`): it allocates when the
/// session offer reaches it and announces the relayed address, so this
/// polls its announced addresses for a little while.
async fn relayed_address(
    control: &Control,
    device_id: i64,
    relay_ip: std::net::IpAddr,
) -> anyhow::Result<SocketAddr> {
    let deadline = tokio::time::Instant::now() + RELAYED_ADDRESS_WAIT;
    loop {
        let found = control
            .shared_devices()
            .await?
            .into_iter()
            .find(|device| device.id == device_id)
            .and_then(|device| {
                device
                    .addresses
                    .iter()
                    .filter_map(|address| address.parse::<SocketAddr>().ok())
                    .find(|address| address.ip() == relay_ip)
            });
        if let Some(address) = found {
            return Ok(address);
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!(
                "the device announced no address on Mesh's relay: is its agent running a version that supports relaying?"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
