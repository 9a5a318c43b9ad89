//! The last-resort path: QUIC through Mesh's TURN relay (RFC 8656).
//!
//! An [`Allocation`] is a relayed address on the Mesh server, obtained over
//! UDP with the long-term credential `GET /ice-servers` hands out. Wrapped in
//! a [`TurnSocket`] it is a `quinn::AsyncUdpSocket`: QUIC datagrams to a
//! peer go to the relay as ChannelData (or Send indications before a channel
//! is bound) and come back unwrapped with the peer's relayed address as
//! their source, so QUIC, its mutual certificate pinning and the transfers
//! above it run unchanged; the relay only ever sees ciphertext.
//!
//! Mesh's relay refuses private, loopback and reserved peers, except its own
//! relayed addresses, which it connects in-process. So both agents of a
//! relayed session allocate, and each permits the relay's own address: the
//! path is agent → relay → relay → agent, and works whatever either NAT does
//! as long as each agent reaches the Mesh server.
//!
//! One task reads the relay socket: STUN responses go to whoever waits for
//! them (allocation, permissions, refreshes), relayed datagrams to quinn.

use std::collections::HashMap;
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use stun_types::attribute::{ErrorCode, Nonce, Realm, Username};
use stun_types::message::{
    IntegrityAlgorithm, LongTermKeyCredentials, Message, MessageClass, MessageType,
    MessageWriteVec, Method, TransactionId,
};
use stun_types::prelude::*;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use turn_types::attribute::{
    ChannelNumber, Data, Lifetime, RequestedTransport, XorPeerAddress, XorRelayedAddress,
};
use turn_types::channel::ChannelData;
use turn_types::message::{ALLOCATE, CHANNEL_BIND, CREATE_PERMISSION, DATA, REFRESH, SEND};

/// How long one request waits for its answer, and how often it is sent.
const ANSWER_TIMEOUT: Duration = Duration::from_millis(500);
const ATTEMPTS: u32 = 3;
/// Allocations live 10 minutes and permissions 5 unless refreshed; this
/// renews both (and channel bindings) well before.
const REFRESH_EVERY: Duration = Duration::from_secs(120);
const LIFETIME_SECS: u32 = 600;
/// Relayed datagrams waiting for quinn; beyond that they are dropped, as a
/// congested link would.
const QUEUE: usize = 1024;
/// Channel numbers are 0x4000–0x4FFF (RFC 8656 §12).
const FIRST_CHANNEL: u16 = 0x4000;
const LAST_CHANNEL: u16 = 0x4FFF;
/// The receive buffer: the largest UDP datagram.
const MAX_DATAGRAM: usize = 65536;

/// Mesh's relay and the credential to use it, from `GET /ice-servers`.
#[derive(Debug, Clone)]
pub struct RelayServer {
    pub address: SocketAddr,
    pub username: String,
    pub password: String,
}

/// The host and port of a `turn:` URL over UDP (`turn:host:port?transport=udp`,
/// port 3478 when absent). TCP-only and `turns:` URLs give `None`.
pub fn udp_server_of(url: &str) -> Option<String> {
    let rest = url.strip_prefix("turn:")?;
    let (host, query) = rest.split_once('?').unwrap_or((rest, ""));
    if !query.is_empty() && query != "transport=udp" {
        return None;
    }
    crate::stun::server_of(&format!("stun:{host}"))
}

/// Why the relay could not be used, in words for the person.
#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    #[error("no answer from Mesh's TURN relay at {0}")]
    NoAnswer(SocketAddr),
    #[error("Mesh's TURN relay refused: {code} {reason}")]
    Refused { code: u16, reason: String },
    #[error("Mesh's TURN relay sent an answer this agent does not understand: {0}")]
    Garbled(String),
    #[error("the TURN allocation has ended")]
    Ended,
    #[error("socket error towards the TURN relay: {0}")]
    Io(#[from] io::Error),
}

fn garbled(err: impl std::fmt::Display) -> TurnError {
    TurnError::Garbled(err.to_string())
}

/// The long-term credential as the relay's challenge completed it.
#[derive(Debug, Clone)]
struct Signing {
    username: String,
    password: String,
    realm: String,
    nonce: String,
}

#[derive(Debug, Default)]
struct Channels {
    by_peer: HashMap<SocketAddr, u16>,
    by_number: HashMap<u16, SocketAddr>,
}

#[derive(Debug)]
struct Shared {
    socket: UdpSocket,
    server: SocketAddr,
    signing: Mutex<Option<Signing>>,
    channels: Mutex<Channels>,
    /// Permitted peer addresses, renewed by the refresh task.
    permitted: Mutex<Vec<IpAddr>>,
    pending: Mutex<HashMap<[u8; 12], oneshot::Sender<Vec<u8>>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A relayed address on Mesh's TURN relay.
#[derive(Debug)]
pub struct Allocation {
    shared: Arc<Shared>,
    relayed: SocketAddr,
    incoming: mpsc::Receiver<(SocketAddr, Vec<u8>)>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Allocation {
    /// Allocates a UDP relay on `server`: Allocate, the 401 challenge, then
    /// Allocate again signed with the long-term credential.
    pub async fn new(server: &RelayServer) -> Result<Allocation, TurnError> {
        let bind: SocketAddr = if server.address.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        // Buffers sized like the direct path's, so bursts are not dropped.
        let socket = crate::transport::socket(bind).map_err(io::Error::other)?;
        socket.set_nonblocking(true)?;
        let socket = UdpSocket::from_std(socket)?;
        socket.connect(server.address).await?;
        let shared = Arc::new(Shared {
            socket,
            server: server.address,
            signing: Mutex::new(None),
            channels: Mutex::default(),
            permitted: Mutex::default(),
            pending: Mutex::default(),
        });
        let (queue, incoming) = mpsc::channel(QUEUE);
        let reader = tokio::spawn(read_relay(shared.clone(), queue));
        let mut allocation = Allocation {
            shared: shared.clone(),
            relayed: server.address,
            incoming,
            tasks: vec![reader],
        };

        let transport = RequestedTransport::new(RequestedTransport::UDP);
        let mut unsigned = Message::builder_request(ALLOCATE, MessageWriteVec::new());
        unsigned.add_attribute(&transport).map_err(garbled)?;
        let challenge = shared.exchange(unsigned.finish()).await?;
        let challenge = Message::from_bytes(&challenge).map_err(garbled)?;
        let realm = challenge.attribute::<Realm>().map_err(garbled)?;
        let nonce = challenge.attribute::<Nonce>().map_err(garbled)?;
        *lock(&shared.signing) = Some(Signing {
            username: server.username.clone(),
            password: server.password.clone(),
            realm: realm.realm().to_owned(),
            nonce: nonce.nonce().to_owned(),
        });
        let lifetime = Lifetime::new(LIFETIME_SECS);
        let answer = shared
            .request(ALLOCATE, None, &[&transport, &lifetime])
            .await?;
        let answer = Message::from_bytes(&answer).map_err(garbled)?;
        allocation.relayed = answer
            .attribute::<XorRelayedAddress>()
            .map_err(garbled)?
            .addr(answer.transaction_id());
        allocation
            .tasks
            .push(tokio::spawn(keep_alive(Arc::downgrade(&shared))));
        tracing::info!(relay = %server.address, relayed = %allocation.relayed, "TURN allocation made");
        Ok(allocation)
    }

    /// The address peers reach this allocation at (on the relay).
    pub fn relayed(&self) -> SocketAddr {
        self.relayed
    }

    /// Lets `ip` send to this allocation (every port of it).
    pub async fn permit(&self, ip: IpAddr) -> Result<(), TurnError> {
        let peer = SocketAddr::new(ip, 0);
        self.shared
            .request(CREATE_PERMISSION, Some(peer), &[])
            .await?;
        let mut permitted = lock(&self.shared.permitted);
        if !permitted.contains(&ip) {
            permitted.push(ip);
        }
        Ok(())
    }

    /// Binds a channel to `peer`, so datagrams to and from it carry a 4-byte
    /// header instead of a STUN one (this also permits its address).
    pub async fn bind_channel(&self, peer: SocketAddr) -> Result<(), TurnError> {
        let number = {
            let channels = lock(&self.shared.channels);
            match channels.by_peer.get(&peer) {
                Some(number) => *number,
                None => FIRST_CHANNEL + channels.by_peer.len() as u16,
            }
        };
        if number > LAST_CHANNEL {
            return Err(TurnError::Refused {
                code: 508,
                reason: "no channel number left".into(),
            });
        }
        self.shared.bind(peer, number).await?;
        let mut channels = lock(&self.shared.channels);
        channels.by_peer.insert(peer, number);
        channels.by_number.insert(number, peer);
        Ok(())
    }

    /// The allocation as a socket quinn can run on.
    pub fn into_socket(self) -> Arc<TurnSocket> {
        Arc::new(TurnSocket {
            relayed: self.relayed,
            shared: self.shared.clone(),
            allocation: Mutex::new(self),
        })
    }
}

impl Drop for Allocation {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        // Free the relay's resources now rather than at expiry; best effort.
        if let Some(release) = self.shared.signed(REFRESH, None, &[&Lifetime::new(0)]) {
            let _ = self.shared.socket.try_send(&release);
        }
    }
}

impl Shared {
    /// A request signed with the current credential; `None` before the
    /// challenge was answered. `peer` becomes its XOR-PEER-ADDRESS, which is
    /// masked with the request's own transaction id (for IPv6).
    fn signed(
        &self,
        method: Method,
        peer: Option<SocketAddr>,
        attributes: &[&dyn AttributeWrite],
    ) -> Option<Vec<u8>> {
        let signing = lock(&self.signing).clone()?;
        let transaction = TransactionId::generate();
        let mut message = Message::builder(
            MessageType::from_class_method(MessageClass::Request, method),
            transaction,
            MessageWriteVec::new(),
        );
        if let Some(peer) = peer {
            message
                .add_attribute(&XorPeerAddress::new(peer, transaction))
                .ok()?;
        }
        for attribute in attributes {
            message.add_attribute(*attribute).ok()?;
        }
        message
            .add_attribute(&Username::new(&signing.username).ok()?)
            .ok()?;
        message
            .add_attribute(&Realm::new(&signing.realm).ok()?)
            .ok()?;
        message
            .add_attribute(&Nonce::new(&signing.nonce).ok()?)
            .ok()?;
        let key = LongTermKeyCredentials::new(signing.username, signing.password, signing.realm);
        message
            .add_message_integrity(&key.into(), IntegrityAlgorithm::Sha1)
            .ok()?;
        Some(message.finish())
    }

    /// A signed request and its success answer. A stale nonce (438) is
    /// replaced by the one the relay sends and the request signed again once.
    async fn request(
        &self,
        method: Method,
        peer: Option<SocketAddr>,
        attributes: &[&dyn AttributeWrite],
    ) -> Result<Vec<u8>, TurnError> {
        for _ in 0..2 {
            let request = self
                .signed(method, peer, attributes)
                .ok_or_else(|| garbled("the request could not be signed"))?;
            let answer = self.exchange(request).await?;
            let message = Message::from_bytes(&answer).map_err(garbled)?;
            if message.class() == MessageClass::Success {
                return Ok(answer);
            }
            let (code, reason) = match message.attribute::<ErrorCode>() {
                Ok(error) => (error.code(), error.reason().to_owned()),
                Err(_) => (0, "an error without ERROR-CODE".to_owned()),
            };
            match message.attribute::<Nonce>() {
                Ok(nonce) if code == 438 => {
                    if let Some(signing) = lock(&self.signing).as_mut() {
                        signing.nonce = nonce.nonce().to_owned();
                    }
                }
                _ => return Err(TurnError::Refused { code, reason }),
            }
        }
        Err(TurnError::Refused {
            code: 438,
            reason: "the nonce went stale twice".into(),
        })
    }

    /// Sends `request` until its answer comes back (UDP may drop either).
    async fn exchange(&self, request: Vec<u8>) -> Result<Vec<u8>, TurnError> {
        let transaction: [u8; 12] = request[8..20].try_into().expect("a STUN header");
        for _ in 0..ATTEMPTS {
            let (answered, answer) = oneshot::channel();
            lock(&self.pending).insert(transaction, answered);
            self.socket.send(&request).await?;
            match tokio::time::timeout(ANSWER_TIMEOUT, answer).await {
                Ok(Ok(answer)) => return Ok(answer),
                Ok(Err(_)) => return Err(TurnError::Ended),
                Err(_) => {}
            }
        }
        lock(&self.pending).remove(&transaction);
        Err(TurnError::NoAnswer(self.server))
    }

    async fn bind(&self, peer: SocketAddr, number: u16) -> Result<(), TurnError> {
        let channel = ChannelNumber::new(number);
        self.request(CHANNEL_BIND, Some(peer), &[&channel]).await?;
        Ok(())
    }

    /// One datagram for `peer` as the relay expects it.
    fn wrap(&self, peer: SocketAddr, datagram: &[u8]) -> Option<Vec<u8>> {
        if let Some(number) = lock(&self.channels).by_peer.get(&peer) {
            let mut framed = vec![0u8; 4 + datagram.len()];
            ChannelData::new(*number, datagram).write_into_unchecked(&mut framed);
            return Some(framed);
        }
        let mut message = Message::builder_indication(SEND, MessageWriteVec::new());
        let transaction = message.transaction_id();
        message
            .add_attribute(&XorPeerAddress::new(peer, transaction))
            .ok()?;
        message.add_attribute(&Data::new(datagram)).ok()?;
        Some(message.finish())
    }

    /// The peer and datagram inside a relayed packet, if it is one.
    fn unwrap(&self, packet: &[u8]) -> Option<(SocketAddr, Vec<u8>)> {
        // ChannelData starts with the channel number, STUN with two zero bits.
        if packet.first().is_some_and(|first| first & 0xC0 == 0x40) {
            let channel = ChannelData::parse(packet).ok()?;
            let peer = *lock(&self.channels).by_number.get(&channel.id())?;
            return Some((peer, channel.data().to_vec()));
        }
        let message = Message::from_bytes(packet).ok()?;
        if message.class() != MessageClass::Indication || message.method() != DATA {
            return None;
        }
        let peer = message
            .attribute::<XorPeerAddress>()
            .ok()?
            .addr(message.transaction_id());
        let data = message.attribute::<Data>().ok()?;
        Some((peer, data.data().to_vec()))
    }
}

/// Reads the relay socket until the allocation is dropped: answers to
/// pending requests, relayed datagrams to quinn.
async fn read_relay(shared: Arc<Shared>, queue: mpsc::Sender<(SocketAddr, Vec<u8>)>) {
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    loop {
        let len = match shared.socket.recv(&mut buffer).await {
            Ok(len) => len,
            // ICMP errors (the relay restarting) surface here; keep reading.
            Err(err) => {
                tracing::debug!(error = %err, "TURN socket error");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let packet = &buffer[..len];
        if let Some(relayed) = shared.unwrap(packet) {
            // A full queue drops the datagram, as a congested link would.
            let _ = queue.try_send(relayed);
            continue;
        }
        if let Ok(message) = Message::from_bytes(packet) {
            if message.is_response() {
                let transaction: [u8; 12] = packet[8..20].try_into().expect("a STUN header");
                if let Some(waiting) = lock(&shared.pending).remove(&transaction) {
                    let _ = waiting.send(packet.to_vec());
                }
            }
        }
    }
}

/// Renews the allocation, its permissions and its channels until dropped.
async fn keep_alive(shared: std::sync::Weak<Shared>) {
    loop {
        tokio::time::sleep(REFRESH_EVERY).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let lifetime = Lifetime::new(LIFETIME_SECS);
        if let Err(err) = shared.request(REFRESH, None, &[&lifetime]).await {
            tracing::warn!(error = %err, "cannot refresh the TURN allocation");
        }
        let permitted = lock(&shared.permitted).clone();
        for ip in permitted {
            let peer = SocketAddr::new(ip, 0);
            if let Err(err) = shared.request(CREATE_PERMISSION, Some(peer), &[]).await {
                tracing::warn!(error = %err, %ip, "cannot refresh a TURN permission");
            }
        }
        let channels: Vec<(SocketAddr, u16)> = lock(&shared.channels)
            .by_peer
            .iter()
            .map(|(peer, number)| (*peer, *number))
            .collect();
        for (peer, number) in channels {
            if let Err(err) = shared.bind(peer, number).await {
                tracing::warn!(error = %err, %peer, "cannot refresh a TURN channel");
            }
        }
    }
}

/// An [`Allocation`] as quinn's socket: peers are relayed addresses.
#[derive(Debug)]
pub struct TurnSocket {
    /// This socket's address as peers see it.
    relayed: SocketAddr,
    shared: Arc<Shared>,
    /// The allocation: its tasks and the queue of relayed datagrams.
    allocation: Mutex<Allocation>,
}

impl AsyncUdpSocket for TurnSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(Writable {
            shared: self.shared.clone(),
            waiting: None,
        })
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        let segment = transmit.segment_size.unwrap_or(transmit.contents.len());
        for datagram in transmit.contents.chunks(segment.max(1)) {
            let Some(packet) = self.shared.wrap(transmit.destination, datagram) else {
                continue;
            };
            match self.shared.socket.try_send(&packet) {
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Err(err),
                // Like quinn's own socket: a datagram that cannot be sent
                // (too big for the path, ICMP error) is lost, not fatal.
                Err(err) => tracing::debug!(error = %err, "a relayed datagram was not sent"),
            }
        }
        Ok(())
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let mut allocation = lock(&self.allocation);
        let mut count = 0;
        while count < bufs.len().min(meta.len()) {
            match allocation.incoming.poll_recv(cx) {
                Poll::Ready(Some((peer, datagram))) => {
                    let len = datagram.len().min(bufs[count].len());
                    bufs[count][..len].copy_from_slice(&datagram[..len]);
                    meta[count] = RecvMeta {
                        addr: peer,
                        len,
                        stride: len,
                        ecn: None,
                        dst_ip: None,
                    };
                    count += 1;
                }
                Poll::Ready(None) if count == 0 => {
                    return Poll::Ready(Err(io::Error::other(TurnError::Ended)))
                }
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        if count > 0 {
            Poll::Ready(Ok(count))
        } else {
            Poll::Pending
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.relayed)
    }
}

/// Waits for the relay socket to be writable again after a `WouldBlock`.
struct Writable {
    shared: Arc<Shared>,
    waiting: Option<Pin<Box<dyn Future<Output = io::Result<()>> + Send + Sync>>>,
}

impl std::fmt::Debug for Writable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writable").finish_non_exhaustive()
    }
}

impl UdpPoller for Writable {
    fn poll_writable(mut self: Pin<&mut Self>, cx: &mut Context) -> Poll<io::Result<()>> {
        if self.waiting.is_none() {
            let shared = self.shared.clone();
            self.waiting = Some(Box::pin(async move { shared.socket.writable().await }));
        }
        let result = self.waiting.as_mut().expect("set above").as_mut().poll(cx);
        if result.is_ready() {
            self.waiting = None;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_urls_name_a_udp_relay() {
        assert_eq!(
            udp_server_of("turn:198.51.100.1:3478?transport=udp").as_deref(),
            Some("198.51.100.1:3478")
        );
        assert_eq!(
            udp_server_of("turn:mesh.example.org").as_deref(),
            Some("mesh.example.org:3478")
        );
        assert_eq!(
            udp_server_of("turn:mesh.example.org:3478?transport=tcp"),
            None
        );
        assert_eq!(
            udp_server_of("turns:mesh.example.org:5349?transport=tcp"),
            None
        );
        assert_eq!(udp_server_of("stun:mesh.example.org:3478"), None);
    }
}
