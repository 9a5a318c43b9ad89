//! The sans-IO TURN server: one state machine, bytes and time in, transmits out.
//!
//! [`Server`] never touches a socket or reads a clock. The driver feeds it
//! [`Input`]s with the current [`Instant`], then drains [`Server::poll_output`]
//! until it returns [`Output::Timeout`]: the moment to call again with
//! [`Input::Timeout`] if nothing else arrives first. Every change is followed
//! by that drain (str0m's single-mutation rule), so outputs are never stale.
//!
//! Relay sockets are the one resource the core cannot create itself. It picks
//! the port and asks with [`Event::BindRelay`]; the driver binds it and answers
//! with [`Input::RelayBound`], and only then does the Allocate succeed.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use stun_types::attribute::{
    AttributeType, MessageIntegrity, MessageIntegritySha256, Nonce, Realm, UnknownAttributes,
    Username, XorMappedAddress,
};
use stun_types::message::{
    Message, MessageClass, MessageHeader, StunParseError, TransactionId, BINDING,
};
use stun_types::prelude::*;
use stun_types::AddressFamily;
use turn_types::attribute::{
    ChannelNumber, Data, EvenPort, Lifetime, RequestedAddressFamily, RequestedTransport,
    ReservationToken, XorPeerAddress, XorRelayedAddress,
};
use turn_types::channel::ChannelData;
use turn_types::message::{ALLOCATE, CHANNEL_BIND, CREATE_PERMISSION, REFRESH, SEND};

use crate::allocation::{Allocation, Peers, CHANNEL_NUMBERS};
use crate::auth::{Auth, Authenticated, Rejection};
use crate::config::{Config, Lifetimes, RelayConfig};
use crate::error::Error;
use crate::five_tuple::{FiveTuple, Transport};
use crate::message::{channel_data, data_indication, Reply};
use crate::metrics::{Metrics, Refusal};
use crate::policy::{normalize, DenyReason, Policy, Verdict};
use crate::ports::{PortShape, Ports};
use crate::quota::{Quotas, TokenBucket};
use crate::reservation::Reservations;
use crate::rng::Rng;
use crate::timers::Timers;

/// Binding a relay port can fail (another program holds it); this many tries
/// at different ports before Allocate answers 508.
const MAX_BIND_ATTEMPTS: u8 = 8;

/// With no timer set, the driver still wakes this often (cheaply).
const IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// Comprehension-required attributes this relay understands; any other in a
/// request earns 420 Unknown Attribute. DONT-FRAGMENT is deliberately absent:
/// the relay cannot set DF, and RFC 8656 §7.2 says to refuse it this way.
const UNDERSTOOD: &[AttributeType] = &[
    Username::TYPE,
    MessageIntegrity::TYPE,
    MessageIntegritySha256::TYPE,
    Realm::TYPE,
    Nonce::TYPE,
    XorMappedAddress::TYPE,
    ChannelNumber::TYPE,
    Lifetime::TYPE,
    XorPeerAddress::TYPE,
    Data::TYPE,
    XorRelayedAddress::TYPE,
    RequestedAddressFamily::TYPE,
    EvenPort::TYPE,
    RequestedTransport::TYPE,
    ReservationToken::TYPE,
];

/// Something that happened to the relay, from outside.
#[derive(Debug)]
pub enum Input<'a> {
    /// A datagram from a client (UDP), or one framed message from a client
    /// stream (TCP, TLS; see [`crate::framing`]).
    Client {
        /// Who sent it, and over what.
        from: FiveTuple,
        /// One STUN message or ChannelData.
        data: &'a [u8],
    },
    /// A datagram that arrived on a relay socket.
    Peer {
        /// The relay socket's local address.
        relay: SocketAddr,
        /// The peer that sent it.
        from: SocketAddr,
        /// The payload.
        data: &'a [u8],
    },
    /// A client's TCP or TLS connection closed: its allocation goes with it.
    ClientClosed(FiveTuple),
    /// The answer to [`Event::BindRelay`].
    RelayBound {
        /// The address that was to be bound.
        relay: SocketAddr,
        /// Whether the socket is now bound there.
        bound: bool,
    },
    /// The deadline from [`Output::Timeout`] has passed.
    Timeout,
}

/// What the relay wants done.
#[derive(Debug)]
pub enum Output {
    /// Send bytes.
    Transmit(Transmit),
    /// Manage a relay socket.
    Event(Event),
    /// Nothing more to do: call again with [`Input::Timeout`] at this instant
    /// unless another input comes first.
    Timeout(Instant),
}

/// Bytes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// UDP for relay sockets and UDP clients; TCP or TLS for stream clients.
    pub transport: Transport,
    /// The local socket to send from: a listening address or a relay socket.
    pub source: SocketAddr,
    /// Where to: a client or a peer.
    pub destination: SocketAddr,
    /// One datagram, or one message to write to the stream.
    pub data: Vec<u8>,
}

/// A relay socket to open or close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Bind a UDP socket to exactly this address, start reading it into
    /// [`Input::Peer`], and answer with [`Input::RelayBound`].
    BindRelay(SocketAddr),
    /// Close the relay socket at this address.
    ReleaseRelay(SocketAddr),
}

/// Deadlines the core keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Timer {
    /// An allocation's expiry or its next permission/channel purge.
    Allocation(FiveTuple),
    /// A reserved port nobody redeemed.
    Reservation(u64),
}

/// An Allocate waiting for its relay socket.
#[derive(Debug)]
struct PendingAllocation {
    five_tuple: FiveTuple,
    reply: Reply,
    username: String,
    user_id: String,
    lifetime: Duration,
    shape: PortShape,
    attempts: u8,
    /// For an even/odd pair: the even socket, already bound, while the odd
    /// one (this entry's key) is being bound.
    even_half: Option<SocketAddr>,
    /// The client's stream closed meanwhile: undo instead of answering.
    abandoned: bool,
}

/// The wall clock, derived from the monotonic `now` and one reading the
/// driver hands in (REST usernames and nonces carry unix times).
#[derive(Debug, Clone, Copy)]
struct WallClock {
    at: Instant,
    unix: Duration,
}

impl WallClock {
    fn new(at: Instant, wall: SystemTime) -> Self {
        Self {
            at,
            unix: wall.duration_since(UNIX_EPOCH).unwrap_or_default(),
        }
    }

    fn unix_secs(&self, now: Instant) -> u64 {
        (self.unix + now.saturating_duration_since(self.at)).as_secs()
    }
}

/// The TURN relay's state machine. See the [crate documentation](crate).
#[derive(Debug)]
pub struct Server {
    auth: Auth,
    realm: Realm,
    policy: Policy,
    relay: RelayConfig,
    lifetimes: Lifetimes,
    quotas: Quotas,
    rng: Rng,
    ports: Ports,
    reservations: Reservations,
    allocations: HashMap<FiveTuple, Allocation>,
    /// Relay socket address → owner.
    by_relay: HashMap<SocketAddr, FiveTuple>,
    /// Relay socket address being bound → the Allocate waiting for it.
    pending: HashMap<SocketAddr, PendingAllocation>,
    /// Allocations (held and pending) per user id.
    users: HashMap<String, u32>,
    timers: Timers<Timer>,
    outputs: VecDeque<Output>,
    metrics: Arc<Metrics>,
    clock: WallClock,
    last_now: Instant,
}

impl Server {
    /// A relay with no allocations. `now` and `wall_clock` are the same moment
    /// on the monotonic and the wall clock.
    pub fn new(config: &Config, now: Instant, wall_clock: SystemTime) -> Result<Self, Error> {
        config.validate()?;
        let clock = WallClock::new(now, wall_clock);
        // Seed from the secret and the start time: ports and tokens differ on
        // every start, and tests with a fixed clock are reproducible.
        let mut seed = std::collections::hash_map::DefaultHasher::new();
        config.secret.hash(&mut seed);
        clock.unix.hash(&mut seed);
        let mut rng = Rng::new(seed.finish());
        let policy = Policy::new(
            &config.policy,
            config.own_addresses(),
            config.relay_public_addresses(),
            config.relay.ports.clone(),
        );
        Ok(Self {
            auth: Auth::new(
                &config.secret,
                &config.realm,
                config.lifetimes.nonce.as_secs(),
            ),
            realm: Realm::new(&config.realm).map_err(|e| Error::InvalidConfig(e.to_string()))?,
            policy,
            relay: config.relay.clone(),
            lifetimes: config.lifetimes.clone(),
            quotas: config.quotas.clone(),
            ports: Ports::new(config.relay.ports.clone()),
            reservations: Reservations::new(&config.secret, rng.next_u64()),
            rng,
            allocations: HashMap::new(),
            by_relay: HashMap::new(),
            pending: HashMap::new(),
            users: HashMap::new(),
            timers: Timers::new(),
            outputs: VecDeque::new(),
            metrics: Arc::default(),
            clock,
            last_now: now,
        })
    }

    /// The counters this relay updates, to read from anywhere.
    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.metrics)
    }

    /// Re-reads the wall clock, so a stepped system clock is followed. The
    /// driver calls it now and then; without it the wall clock is derived
    /// from the monotonic one.
    pub fn set_wall_clock(&mut self, now: Instant, wall_clock: SystemTime) {
        self.clock = WallClock::new(now, wall_clock);
    }

    /// Feeds one input. Drain [`Server::poll_output`] afterwards.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        self.last_now = self.last_now.max(now);
        match input {
            Input::Client { from, data } => self.on_client(now, from, data),
            Input::Peer { relay, from, data } => self.on_peer(now, relay, from, data),
            Input::ClientClosed(five_tuple) => self.on_client_closed(five_tuple),
            Input::RelayBound { relay, bound } => self.on_relay_bound(now, relay, bound),
            Input::Timeout => self.on_timeout(now),
        }
    }

    /// The next thing to do; [`Output::Timeout`] once there is nothing.
    pub fn poll_output(&mut self) -> Output {
        if let Some(output) = self.outputs.pop_front() {
            return output;
        }
        Output::Timeout(self.timers.next().unwrap_or(self.last_now + IDLE_TIMEOUT))
    }

    /// How many allocations are held (not counting those waiting for a socket).
    pub fn allocation_count(&self) -> usize {
        self.allocations.len()
    }

    // ----- client side -----

    fn on_client(&mut self, now: Instant, from: FiveTuple, data: &[u8]) {
        // RFC 8656 §12: the top two bits tell STUN (00) from ChannelData (01).
        match data.first().map(|b| b >> 6) {
            Some(0b00) => self.on_stun(now, from, data),
            Some(0b01) => self.on_client_channel_data(now, from, data),
            _ => {}
        }
    }

    fn on_stun(&mut self, now: Instant, from: FiveTuple, data: &[u8]) {
        let Ok(header) = MessageHeader::from_bytes(data) else {
            return;
        };
        // Parse exactly the message: trailing bytes (UDP padding, a stream
        // framer's slack) are not attributes.
        let Some(data) = data.get(..MessageHeader::LENGTH + usize::from(header.data_length()))
        else {
            return;
        };
        let Ok(msg) = Message::from_bytes(data) else {
            return;
        };
        match msg.class() {
            MessageClass::Request => self.on_request(now, from, &msg),
            MessageClass::Indication if msg.has_method(SEND) => self.on_send(now, from, &msg),
            _ => {}
        }
    }

    fn on_request(&mut self, now: Instant, from: FiveTuple, msg: &Message<'_>) {
        let reply = Reply::to(msg);
        let method = msg.method();
        if method == BINDING {
            if !self.refuse_unknown_attributes(&from, msg, &reply) {
                let mapped = XorMappedAddress::new(from.client, msg.transaction_id());
                self.respond(&from, reply.success(&[&mapped]));
            }
            return;
        }
        if ![ALLOCATE, REFRESH, CREATE_PERMISSION, CHANNEL_BIND].contains(&method) {
            self.refuse(&from, &reply, 400, Refusal::BadRequest);
            return;
        }
        let auth = match self
            .auth
            .authenticate(msg, &from, self.clock.unix_secs(now))
        {
            Ok(auth) => auth,
            Err(rejection) => return self.reject(now, &from, &reply, rejection),
        };
        let reply = reply.signed(auth.signer.clone());
        if self.refuse_unknown_attributes(&from, msg, &reply) {
            return;
        }
        if method == ALLOCATE {
            return self.on_allocate(now, from, msg, auth, reply);
        }
        // Every other request acts on the caller's own allocation.
        let Some(is_ipv6) = self.owned_allocation(&from, &auth, &reply) else {
            return;
        };
        match method {
            REFRESH => self.on_refresh(now, from, msg, is_ipv6, &reply),
            CREATE_PERMISSION => self.on_create_permission(now, from, msg, is_ipv6, &reply),
            _ => self.on_channel_bind(now, from, msg, is_ipv6, &reply),
        }
    }

    fn on_allocate(
        &mut self,
        now: Instant,
        from: FiveTuple,
        msg: &Message<'_>,
        auth: Authenticated,
        reply: Reply,
    ) {
        if let Some(allocation) = self.allocations.get(&from) {
            // A retransmission gets the success again; anything else is a
            // second allocation on one 5-tuple.
            if allocation.transaction == msg.transaction_id() {
                let success = self.allocate_success(&reply, allocation);
                self.respond(&from, success);
            } else {
                self.refuse(&from, &reply, 437, Refusal::BadRequest);
            }
            return;
        }
        if let Some(pending) = self.pending.values().find(|p| p.five_tuple == from) {
            // The answer to a retransmission is on its way.
            if pending.reply.transaction() != msg.transaction_id() {
                self.refuse(&from, &reply, 437, Refusal::BadRequest);
            }
            return;
        }
        // The one place credential expiry matters: a new allocation.
        if auth.expires_at < self.clock.unix_secs(now) {
            self.metrics.refused(Refusal::ExpiredCredentials);
            return self.challenge(now, &from, &reply.unsigned(), 401);
        }
        let Ok(Some(transport)) = optional::<RequestedTransport>(msg) else {
            return self.refuse(&from, &reply, 400, Refusal::BadRequest);
        };
        if transport.protocol() != RequestedTransport::UDP {
            return self.refuse(&from, &reply, 442, Refusal::BadRequest);
        }
        let (Ok(token), Ok(even), Ok(family), Ok(lifetime)) = (
            optional::<ReservationToken>(msg),
            optional::<EvenPort>(msg),
            optional::<RequestedAddressFamily>(msg),
            optional::<Lifetime>(msg),
        ) else {
            return self.refuse(&from, &reply, 400, Refusal::BadRequest);
        };
        // RFC 8656 §7.2: a token names its own port and family.
        if token.is_some() && (even.is_some() || family.is_some()) {
            return self.refuse(&from, &reply, 400, Refusal::BadRequest);
        }
        let ipv6 = family.is_some_and(|f| f.family() == AddressFamily::IPV6);
        if token.is_none() && self.relay.bind_ip(ipv6).is_none() {
            return self.refuse(&from, &reply, 440, Refusal::BadRequest);
        }
        let held_by_user = self.users.get(&auth.user_id).copied().unwrap_or(0);
        if held_by_user >= self.quotas.allocations_per_user {
            return self.refuse(&from, &reply, 486, Refusal::UserQuota);
        }
        let total = self.allocations.len() + self.pending.len();
        if total >= self.quotas.total_allocations as usize {
            return self.refuse(&from, &reply, 508, Refusal::Capacity);
        }
        let lifetime = self.granted_lifetime(lifetime.map(|l| l.seconds()));
        let pending = PendingAllocation {
            five_tuple: from,
            reply,
            username: auth.username,
            user_id: auth.user_id,
            lifetime,
            shape: match even {
                None => PortShape::Any,
                Some(even) if even.requested() => PortShape::EvenPair,
                Some(_) => PortShape::Even,
            },
            attempts: 0,
            even_half: None,
            abandoned: false,
        };
        let reserved = match token.map(|t| t.token()) {
            Some(token) => match self.reservations.redeem(token) {
                Some(relay) => {
                    self.timers.cancel(Timer::Reservation(token));
                    Some(relay)
                }
                None => return self.refuse(&from, &pending.reply, 508, Refusal::Capacity),
            },
            None => None,
        };
        *self.users.entry(pending.user_id.clone()).or_default() += 1;
        match reserved {
            // The reserved socket is already bound: no need to ask the driver.
            Some(relay) => self.complete_allocation(now, pending, relay, None),
            None => self.bind_next_port(pending, ipv6),
        }
    }

    fn on_refresh(
        &mut self,
        now: Instant,
        from: FiveTuple,
        msg: &Message<'_>,
        is_ipv6: bool,
        reply: &Reply,
    ) {
        let (Ok(lifetime), Ok(family)) = (
            optional::<Lifetime>(msg),
            optional::<RequestedAddressFamily>(msg),
        ) else {
            return self.refuse(&from, reply, 400, Refusal::BadRequest);
        };
        if family.is_some_and(|f| (f.family() == AddressFamily::IPV6) != is_ipv6) {
            return self.refuse(&from, reply, 443, Refusal::BadRequest);
        }
        if lifetime.as_ref().is_some_and(|l| l.seconds() == 0) {
            self.delete_allocation(&from);
            return self.respond(&from, reply.success(&[&Lifetime::new(0)]));
        }
        let granted = self.granted_lifetime(lifetime.map(|l| l.seconds()));
        if let Some(allocation) = self.allocations.get_mut(&from) {
            allocation.expires = now + granted;
        }
        self.schedule(&from);
        self.respond(
            &from,
            reply.success(&[&Lifetime::new(granted.as_secs() as u32)]),
        );
    }

    fn on_create_permission(
        &mut self,
        now: Instant,
        from: FiveTuple,
        msg: &Message<'_>,
        is_ipv6: bool,
        reply: &Reply,
    ) {
        let tid = msg.transaction_id();
        let mut peers = Vec::new();
        loop {
            match msg.nth_attribute::<XorPeerAddress>(peers.len()) {
                Ok(peer) => peers.push(peer.addr(tid).ip()),
                Err(StunParseError::MissingAttribute(_)) => break,
                Err(_) => return self.refuse(&from, reply, 400, Refusal::BadRequest),
            }
        }
        if peers.is_empty() {
            return self.refuse(&from, reply, 400, Refusal::BadRequest);
        }
        if peers.iter().any(|ip| ip.is_ipv6() != is_ipv6) {
            return self.refuse(&from, reply, 443, Refusal::BadRequest);
        }
        // All or nothing: one refused peer refuses the request.
        let refused = peers
            .iter()
            .find_map(|&ip| match self.policy.check_permission(ip) {
                Verdict::Deny(reason) => Some((ip, reason)),
                _ => None,
            });
        if let Some((ip, reason)) = refused {
            return self.refuse_peer(&from, reply, ip, reason);
        }
        let limit = self.quotas.permissions_per_allocation as usize;
        let until = now + self.lifetimes.permission;
        let Some(allocation) = self.allocations.get_mut(&from) else {
            return;
        };
        if !allocation.has_room_for(&peers, limit, now) {
            return self.refuse(&from, reply, 508, Refusal::Capacity);
        }
        for ip in peers {
            allocation.grant_permission(ip, until);
        }
        self.schedule(&from);
        self.respond(&from, reply.success(&[]));
    }

    fn on_channel_bind(
        &mut self,
        now: Instant,
        from: FiveTuple,
        msg: &Message<'_>,
        is_ipv6: bool,
        reply: &Reply,
    ) {
        let (Ok(number), Ok(peer)) = (
            msg.attribute::<ChannelNumber>(),
            msg.attribute::<XorPeerAddress>(),
        ) else {
            return self.refuse(&from, reply, 400, Refusal::BadRequest);
        };
        let (number, peer) = (number.channel(), peer.addr(msg.transaction_id()));
        if !CHANNEL_NUMBERS.contains(&number) {
            return self.refuse(&from, reply, 400, Refusal::BadRequest);
        }
        if peer.is_ipv6() != is_ipv6 {
            return self.refuse(&from, reply, 443, Refusal::BadRequest);
        }
        if let Verdict::Deny(reason) = self.policy.check(peer) {
            return self.refuse_peer(&from, reply, peer.ip(), reason);
        }
        let limit = self.quotas.permissions_per_allocation as usize;
        let (channel_until, permission_until) = (
            now + self.lifetimes.channel,
            now + self.lifetimes.permission,
        );
        let Some(allocation) = self.allocations.get_mut(&from) else {
            return;
        };
        if !allocation.has_room_for(&[peer.ip()], limit, now) {
            return self.refuse(&from, reply, 508, Refusal::Capacity);
        }
        if allocation
            .bind_channel(number, peer, channel_until)
            .is_err()
        {
            return self.refuse(&from, reply, 400, Refusal::BadRequest);
        }
        allocation.grant_permission(peer.ip(), permission_until);
        self.schedule(&from);
        self.respond(&from, reply.success(&[]));
    }

    fn on_send(&mut self, now: Instant, from: FiveTuple, msg: &Message<'_>) {
        let (Ok(peer), Some(data)) = (
            msg.attribute::<XorPeerAddress>(),
            msg.raw_attribute(Data::TYPE),
        ) else {
            return;
        };
        let peer = peer.addr(msg.transaction_id());
        let Some(allocation) = self.allocations.get(&from) else {
            return;
        };
        if peer.is_ipv6() != allocation.is_ipv6() || !allocation.permits(peer.ip(), now) {
            return;
        }
        self.relay_to_peer(now, from, peer, &data.value);
    }

    fn on_client_channel_data(&mut self, now: Instant, from: FiveTuple, data: &[u8]) {
        let Ok(channel) = ChannelData::parse(data) else {
            return;
        };
        // A channel outlives its permission unless the client refreshes it;
        // without one, nothing is relayed (RFC 8656 §9).
        let Some(peer) = self.allocations.get(&from).and_then(|a| {
            a.channel_peer(channel.id(), now)
                .filter(|peer| a.permits(peer.ip(), now))
        }) else {
            return;
        };
        self.relay_to_peer(now, from, peer, channel.data());
    }

    fn on_client_closed(&mut self, five_tuple: FiveTuple) {
        self.delete_allocation(&five_tuple);
        for pending in self.pending.values_mut() {
            if pending.five_tuple == five_tuple {
                pending.abandoned = true;
            }
        }
    }

    // ----- relaying -----

    /// Forwards `payload` from `owner`'s client to `peer`, which the caller
    /// has checked holds a permission.
    fn relay_to_peer(&mut self, now: Instant, owner: FiveTuple, peer: SocketAddr, payload: &[u8]) {
        let verdict = self.policy.check(peer);
        if let Verdict::Deny(_) = verdict {
            return self.metrics.refused(Refusal::ForbiddenPeer);
        }
        let Some(allocation) = self.allocations.get_mut(&owner) else {
            return;
        };
        if now >= allocation.expires {
            return;
        }
        if !allocation.admit(payload.len(), now) {
            return self.metrics.refused(Refusal::Bandwidth);
        }
        let (relay, public) = (allocation.relay, allocation.public);
        if verdict == Verdict::Internal {
            // Another allocation on this relay: hand it over in-process rather
            // than send to our own address.
            let ip = normalize(peer.ip());
            if let Some(bind) = self.relay.bind_ip(ip.is_ipv6()) {
                self.relay_to_client(now, SocketAddr::new(bind, peer.port()), public, payload);
            }
            return;
        }
        self.metrics.relayed(payload.len());
        self.outputs.push_back(Output::Transmit(Transmit {
            transport: Transport::Udp,
            source: relay,
            destination: peer,
            data: payload.to_vec(),
        }));
    }

    fn on_peer(&mut self, now: Instant, relay: SocketAddr, from: SocketAddr, data: &[u8]) {
        // Only real peers arrive on sockets; our own relay ports talk in-process.
        if self.policy.check(from) != Verdict::Relay {
            return self.metrics.refused(Refusal::ForbiddenPeer);
        }
        self.relay_to_client(now, relay, from, data);
    }

    /// Delivers `payload` from `peer` to the client owning the relay socket
    /// `relay`, as ChannelData if a channel is bound, else a Data indication.
    fn relay_to_client(
        &mut self,
        now: Instant,
        relay: SocketAddr,
        peer: SocketAddr,
        payload: &[u8],
    ) {
        let Some(owner) = self.by_relay.get(&relay).copied() else {
            return;
        };
        let Some(allocation) = self.allocations.get_mut(&owner) else {
            return;
        };
        if now >= allocation.expires || !allocation.permits(peer.ip(), now) {
            return;
        }
        if !allocation.admit(payload.len(), now) {
            return self.metrics.refused(Refusal::Bandwidth);
        }
        let message = match allocation.channel_for(peer, now) {
            Some(number) => channel_data(number, payload, owner.transport.is_stream()),
            None => data_indication(random_transaction(&mut self.rng), peer, payload),
        };
        let Some(message) = message else {
            return;
        };
        self.metrics.relayed(payload.len());
        self.respond(&owner, message);
    }

    // ----- relay sockets -----

    /// Picks a port for `pending` and asks the driver to bind it, or answers
    /// 508 when the range (or the patience) is exhausted.
    fn bind_next_port(&mut self, mut pending: PendingAllocation, ipv6: bool) {
        let bind_ip = self.relay.bind_ip(ipv6);
        let port = match (pending.attempts < MAX_BIND_ATTEMPTS, bind_ip) {
            (true, Some(_)) => self.ports.take(&mut self.rng, ipv6, pending.shape),
            _ => None,
        };
        let (Some(bind_ip), Some(port)) = (bind_ip, port) else {
            self.forget_user_allocation(&pending.user_id);
            if !pending.abandoned {
                self.refuse(&pending.five_tuple, &pending.reply, 508, Refusal::Capacity);
            }
            return;
        };
        pending.attempts += 1;
        let relay = SocketAddr::new(bind_ip, port);
        self.pending.insert(relay, pending);
        self.emit(Event::BindRelay(relay));
    }

    fn on_relay_bound(&mut self, now: Instant, relay: SocketAddr, bound: bool) {
        let Some(mut pending) = self.pending.remove(&relay) else {
            // Not ours (any more): never leave a socket open by mistake.
            if bound {
                self.emit(Event::ReleaseRelay(relay));
            }
            return;
        };
        let ipv6 = relay.is_ipv6();
        if pending.abandoned || !bound {
            // Give back the whole pair, bound or merely marked.
            self.release_port(relay, bound);
            match pending.even_half.take() {
                Some(even) => self.release_port(even, true),
                None if pending.shape == PortShape::EvenPair => {
                    self.ports.release(ipv6, relay.port() + 1);
                }
                None => {}
            }
            if pending.abandoned {
                return self.forget_user_allocation(&pending.user_id);
            }
            // The next attempt picks afresh.
            return self.bind_next_port(pending, ipv6);
        }
        match (pending.shape, pending.even_half) {
            (PortShape::EvenPair, None) => {
                // The even port is bound; now the odd one to hold.
                let odd = SocketAddr::new(relay.ip(), relay.port() + 1);
                pending.even_half = Some(relay);
                self.pending.insert(odd, pending);
                self.emit(Event::BindRelay(odd));
            }
            (PortShape::EvenPair, Some(even)) => {
                let token = self.reservations.hold(relay);
                self.timers
                    .set(Timer::Reservation(token), now + self.lifetimes.reservation);
                self.complete_allocation(now, pending, even, Some(token));
            }
            _ => self.complete_allocation(now, pending, relay, None),
        }
    }

    fn complete_allocation(
        &mut self,
        now: Instant,
        pending: PendingAllocation,
        relay: SocketAddr,
        reservation: Option<u64>,
    ) {
        // With no public address configured, the bound one is advertised.
        let public_ip = self.relay.public_ip(relay.is_ipv6()).unwrap_or(relay.ip());
        let five_tuple = pending.five_tuple;
        let allocation = Allocation {
            five_tuple,
            relay,
            public: SocketAddr::new(public_ip, relay.port()),
            username: pending.username,
            user_id: pending.user_id,
            transaction: pending.reply.transaction(),
            reservation,
            expires: now + pending.lifetime,
            bucket: self
                .quotas
                .bandwidth_per_allocation
                .map(|rate| TokenBucket::new(rate, now)),
            peers: Peers::default(),
        };
        let success = self.allocate_success(&pending.reply, &allocation);
        self.by_relay.insert(relay, five_tuple);
        self.allocations.insert(five_tuple, allocation);
        self.metrics.set_allocations(self.allocations.len());
        self.schedule(&five_tuple);
        self.respond(&five_tuple, success);
    }

    fn allocate_success(&self, reply: &Reply, allocation: &Allocation) -> Vec<u8> {
        let tid = reply.transaction();
        let relayed = XorRelayedAddress::new(allocation.public, tid);
        let mapped = XorMappedAddress::new(allocation.five_tuple.client, tid);
        let remaining = allocation.expires.saturating_duration_since(self.last_now);
        let lifetime = Lifetime::new(remaining.as_secs() as u32);
        match allocation.reservation.map(ReservationToken::new) {
            Some(token) => reply.success(&[&relayed, &lifetime, &token, &mapped]),
            None => reply.success(&[&relayed, &lifetime, &mapped]),
        }
    }

    fn delete_allocation(&mut self, five_tuple: &FiveTuple) {
        let Some(allocation) = self.allocations.remove(five_tuple) else {
            return;
        };
        self.by_relay.remove(&allocation.relay);
        self.timers.cancel(Timer::Allocation(*five_tuple));
        self.release_port(allocation.relay, true);
        self.forget_user_allocation(&allocation.user_id);
        self.metrics.set_allocations(self.allocations.len());
    }

    /// Returns a port to the pool, closing its socket if one was bound.
    fn release_port(&mut self, relay: SocketAddr, bound: bool) {
        self.ports.release(relay.is_ipv6(), relay.port());
        if bound {
            self.emit(Event::ReleaseRelay(relay));
        }
    }

    fn forget_user_allocation(&mut self, user_id: &str) {
        if let Some(count) = self.users.get_mut(user_id) {
            *count -= 1;
            if *count == 0 {
                self.users.remove(user_id);
            }
        }
    }

    // ----- time -----

    fn on_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_due(now) {
            match timer {
                Timer::Allocation(five_tuple) => {
                    let Some(allocation) = self.allocations.get_mut(&five_tuple) else {
                        continue;
                    };
                    if now >= allocation.expires {
                        self.delete_allocation(&five_tuple);
                    } else {
                        allocation.purge(now);
                        self.schedule(&five_tuple);
                    }
                }
                Timer::Reservation(token) => {
                    if let Some(relay) = self.reservations.redeem(token) {
                        self.release_port(relay, true);
                    }
                }
            }
        }
    }

    /// Sets the allocation's timer to its next deadline.
    fn schedule(&mut self, five_tuple: &FiveTuple) {
        if let Some(allocation) = self.allocations.get(five_tuple) {
            self.timers
                .set(Timer::Allocation(*five_tuple), allocation.next_deadline());
        }
    }

    /// RFC 8656 §7.2: the requested lifetime capped at the maximum, but never
    /// below the default.
    fn granted_lifetime(&self, requested: Option<u32>) -> Duration {
        let default = self.lifetimes.allocation_default;
        requested
            .map(|secs| Duration::from_secs(secs.into()).min(self.lifetimes.allocation_max))
            .map_or(default, |d| d.max(default))
    }

    // ----- answering -----

    /// Whether the caller's allocation is IPv6, if it has one and made it
    /// with the same username; otherwise answers 437 or 441.
    fn owned_allocation(
        &mut self,
        from: &FiveTuple,
        auth: &Authenticated,
        reply: &Reply,
    ) -> Option<bool> {
        match self.allocations.get(from) {
            None => self.refuse(from, reply, 437, Refusal::BadRequest),
            Some(a) if a.username != auth.username => {
                self.refuse(from, reply, 441, Refusal::BadRequest)
            }
            Some(a) => return Some(a.is_ipv6()),
        }
        None
    }

    /// Answers 420 if `msg` carries comprehension-required attributes we do
    /// not understand; `true` if it did.
    fn refuse_unknown_attributes(
        &mut self,
        from: &FiveTuple,
        msg: &Message<'_>,
        reply: &Reply,
    ) -> bool {
        let unknown: Vec<AttributeType> = msg
            .iter_attributes()
            .map(|(_, attribute)| attribute.get_type())
            .filter(|t| t.comprehension_required() && !UNDERSTOOD.contains(t))
            .collect();
        if unknown.is_empty() {
            return false;
        }
        self.metrics.refused(Refusal::BadRequest);
        self.respond(from, reply.error(420, &[&UnknownAttributes::new(&unknown)]));
        true
    }

    fn reject(&mut self, now: Instant, from: &FiveTuple, reply: &Reply, rejection: Rejection) {
        match rejection {
            Rejection::Challenge => self.challenge(now, from, reply, 401),
            Rejection::StaleNonce => self.challenge(now, from, reply, 438),
            Rejection::Unauthorized => {
                self.metrics.refused(Refusal::Unauthorized);
                self.challenge(now, from, reply, 401);
            }
            Rejection::BadRequest => self.refuse(from, reply, 400, Refusal::BadRequest),
        }
    }

    /// 401 or 438 with REALM and a fresh NONCE, unsigned (RFC 8489 §9.2.4).
    fn challenge(&mut self, now: Instant, from: &FiveTuple, reply: &Reply, code: u16) {
        let nonce = self.auth.nonce(from, self.clock.unix_secs(now));
        let response = match Nonce::new(&nonce) {
            Ok(nonce) => reply.error(code, &[&self.realm, &nonce]),
            Err(_) => reply.error(code, &[&self.realm]),
        };
        self.respond(from, response);
    }

    /// 403 for a peer the policy refuses, logged so operators can see why.
    fn refuse_peer(&mut self, to: &FiveTuple, reply: &Reply, peer: IpAddr, reason: DenyReason) {
        tracing::debug!(client = %to.client, %peer, ?reason, "TURN peer refused");
        self.refuse(to, reply, 403, Refusal::ForbiddenPeer);
    }

    fn refuse(&mut self, to: &FiveTuple, reply: &Reply, code: u16, why: Refusal) {
        self.metrics.refused(why);
        self.respond(to, reply.error(code, &[]));
    }

    fn respond(&mut self, to: &FiveTuple, data: Vec<u8>) {
        self.outputs.push_back(Output::Transmit(Transmit {
            transport: to.transport,
            source: to.server,
            destination: to.client,
            data,
        }));
    }

    fn emit(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }
}

#[cfg(test)]
mod tests;

/// An attribute that may be absent: `Err` only when present but malformed.
fn optional<'a, A>(msg: &'a Message<'a>) -> Result<Option<A>, StunParseError>
where
    A: AttributeFromRaw<'a> + AttributeStaticType,
{
    match msg.attribute::<A>() {
        Ok(attribute) => Ok(Some(attribute)),
        Err(StunParseError::MissingAttribute(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A transaction id for an indication the relay originates.
fn random_transaction(rng: &mut Rng) -> TransactionId {
    let id = (u128::from(rng.next_u64()) << 32) ^ u128::from(rng.next_u64());
    // 96 bits: the rest of the 128 is the magic cookie.
    TransactionId::from(id & ((1 << 96) - 1))
}
