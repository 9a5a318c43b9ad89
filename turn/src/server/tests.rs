//! The core in simulated time: no sockets, no clock, every packet inspected.
//!
//! Peer addresses here are public-looking, but nothing is ever sent: the
//! "network" is the list of transmits the core returns.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use stun_types::attribute::{
    ErrorCode, MessageIntegrity, Nonce, RawAttribute, Realm, UnknownAttributes, Username,
    XorMappedAddress,
};
use stun_types::message::{
    IntegrityAlgorithm, LongTermKeyCredentials, Message, MessageClass, MessageIntegrityCredentials,
    MessageType, MessageWriteVec, Method, TransactionId, BINDING,
};
use stun_types::prelude::*;
use turn_types::attribute::{
    ChannelNumber, Data, EvenPort, Lifetime, RequestedAddressFamily, RequestedTransport,
    ReservationToken, XorPeerAddress, XorRelayedAddress,
};
use turn_types::channel::ChannelData;
use turn_types::message::{ALLOCATE, CHANNEL_BIND, CREATE_PERMISSION, DATA, REFRESH, SEND};
use turn_types::AddressFamily;

use super::*;
use crate::config::{Config, RelayConfig};
use crate::credentials;
use crate::policy::PolicyConfig;

const SECRET: &str = "simulated secret";
/// The relay's listening address; also its relay bind address, so "own address".
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(5, 5, 5, 5);
const PUBLIC_IP: Ipv4Addr = Ipv4Addr::new(6, 6, 6, 6);
const SERVER_V6: Ipv6Addr = Ipv6Addr::new(0x2600, 0, 0, 0, 0, 0, 0, 5);
const SFU: &str = "10.9.9.9:5000";
const PEER: &str = "8.8.8.8:4000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn config() -> Config {
    let server = SocketAddr::from((SERVER_IP, 3478));
    Config {
        listen_udp: vec![server],
        listen_tcp: vec![server],
        relay: RelayConfig {
            bind_v4: Some(SERVER_IP),
            public_v4: Some(PUBLIC_IP),
            bind_v6: Some(SERVER_V6),
            public_v6: None,
            ports: 50000..=50009,
        },
        secret: SECRET.into(),
        policy: PolicyConfig {
            allowed_internal: Some(addr(SFU)),
            ..Default::default()
        },
        ..Config::default()
    }
}

/// The core plus a pretend driver that binds whatever it is asked to.
struct Sim {
    server: Server,
    now: Instant,
    start: Instant,
    wall: SystemTime,
    bound: BTreeSet<SocketAddr>,
    /// Addresses the pretend driver fails to bind.
    unbindable: BTreeSet<SocketAddr>,
    /// When set, bind requests wait here instead of being answered at once.
    deferred: Option<Vec<SocketAddr>>,
}

impl Sim {
    fn new(config: Config) -> Self {
        let now = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        Self {
            server: Server::new(&config, now, wall).unwrap(),
            now,
            start: now,
            wall,
            bound: BTreeSet::new(),
            unbindable: BTreeSet::new(),
            deferred: None,
        }
    }

    fn unix_now(&self) -> u64 {
        (self.wall + (self.now - self.start))
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn input(&mut self, input: Input<'_>) -> Vec<Transmit> {
        self.server.handle_input(self.now, input);
        self.drain()
    }

    fn advance(&mut self, by: Duration) -> Vec<Transmit> {
        self.now += by;
        self.input(Input::Timeout)
    }

    fn drain(&mut self) -> Vec<Transmit> {
        let mut sent = Vec::new();
        loop {
            match self.server.poll_output() {
                Output::Transmit(t) => sent.push(t),
                Output::Event(Event::BindRelay(relay)) if self.deferred.is_some() => {
                    self.deferred.as_mut().unwrap().push(relay);
                }
                Output::Event(Event::BindRelay(relay)) => {
                    let bound = !self.unbindable.contains(&relay);
                    if bound {
                        assert!(self.bound.insert(relay), "{relay} bound twice");
                    }
                    self.server
                        .handle_input(self.now, Input::RelayBound { relay, bound });
                }
                Output::Event(Event::ReleaseRelay(relay)) => {
                    assert!(self.bound.remove(&relay), "{relay} released but not bound");
                }
                Output::Timeout(_) => return sent,
            }
        }
    }

    fn peer_sends(&mut self, relay: SocketAddr, peer: &str, data: &[u8]) -> Vec<Transmit> {
        self.input(Input::Peer {
            relay,
            from: addr(peer),
            data,
        })
    }
}

/// A TURN client speaking through the simulator.
struct Client {
    tuple: FiveTuple,
    username: String,
    password: String,
    realm: String,
    nonce: Option<String>,
}

impl Client {
    fn new(sim: &Sim, transport: Transport, client: &str, user: &str) -> Self {
        let wall = UNIX_EPOCH + Duration::from_secs(sim.unix_now());
        let (username, password) =
            credentials::issue(SECRET, user, wall, Duration::from_secs(3600));
        Self {
            tuple: FiveTuple {
                transport,
                client: addr(client),
                server: SocketAddr::from((SERVER_IP, 3478)),
            },
            username,
            password,
            realm: String::new(),
            nonce: None,
        }
    }

    fn udp(sim: &Sim, port: u16) -> Self {
        Self::new(sim, Transport::Udp, &format!("1.1.1.1:{port}"), "alice")
    }

    fn credentials(&self) -> MessageIntegrityCredentials {
        LongTermKeyCredentials::new(
            self.username.clone(),
            self.password.clone(),
            self.realm.clone(),
        )
        .into()
    }

    /// A request, signed once the client knows a nonce.
    fn request(&self, method: Method, attributes: &[&dyn AttributeWrite]) -> Vec<u8> {
        self.request_with_id(method, TransactionId::generate(), attributes)
    }

    fn request_with_id(
        &self,
        method: Method,
        tid: TransactionId,
        attributes: &[&dyn AttributeWrite],
    ) -> Vec<u8> {
        let mtype = MessageType::from_class_method(MessageClass::Request, method);
        let mut msg = Message::builder(mtype, tid, MessageWriteVec::new());
        for attribute in attributes {
            msg.add_attribute(*attribute).unwrap();
        }
        if let Some(nonce) = &self.nonce {
            msg.add_attribute(&Username::new(&self.username).unwrap())
                .unwrap();
            msg.add_attribute(&Realm::new(&self.realm).unwrap())
                .unwrap();
            msg.add_attribute(&Nonce::new(nonce).unwrap()).unwrap();
            msg.add_message_integrity(&self.credentials(), IntegrityAlgorithm::Sha1)
                .unwrap();
        }
        msg.add_fingerprint().unwrap();
        msg.finish()
    }

    fn send_raw(&self, sim: &mut Sim, data: &[u8]) -> Vec<Transmit> {
        sim.input(Input::Client {
            from: self.tuple,
            data,
        })
    }

    /// Sends a request and returns the response, answering one 401/438
    /// challenge on the way like a real client.
    fn call(
        &mut self,
        sim: &mut Sim,
        method: Method,
        attributes: &[&dyn AttributeWrite],
    ) -> Vec<u8> {
        let response = self.call_once(sim, method, attributes);
        match error_code(&response) {
            Some(401 | 438) if self.learn_challenge(&response) => {
                self.call_once(sim, method, attributes)
            }
            _ => response,
        }
    }

    fn call_once(
        &mut self,
        sim: &mut Sim,
        method: Method,
        attributes: &[&dyn AttributeWrite],
    ) -> Vec<u8> {
        let request = self.request(method, attributes);
        let mut sent = self.send_raw(sim, &request);
        assert_eq!(sent.len(), 1, "one response per request: {sent:?}");
        let response = sent.pop().unwrap();
        assert_eq!(response.destination, self.tuple.client);
        assert_eq!(response.source, self.tuple.server);
        response.data
    }

    /// Takes REALM and NONCE from a challenge; `false` if it carried none.
    fn learn_challenge(&mut self, response: &[u8]) -> bool {
        let msg = Message::from_bytes(response).unwrap();
        let (Ok(realm), Ok(nonce)) = (msg.attribute::<Realm>(), msg.attribute::<Nonce>()) else {
            return false;
        };
        let changed = self.nonce.as_deref() != Some(nonce.nonce());
        self.realm = realm.realm().to_owned();
        self.nonce = Some(nonce.nonce().to_owned());
        changed
    }

    fn allocate(&mut self, sim: &mut Sim) -> SocketAddr {
        self.allocate_with(sim, &[])
    }

    fn allocate_with(&mut self, sim: &mut Sim, extra: &[&dyn AttributeWrite]) -> SocketAddr {
        let transport = RequestedTransport::new(RequestedTransport::UDP);
        let mut attributes: Vec<&dyn AttributeWrite> = vec![&transport];
        attributes.extend_from_slice(extra);
        let response = self.call(sim, ALLOCATE, &attributes);
        assert_success(&response);
        relayed_address(&response)
    }

    fn permit(&mut self, sim: &mut Sim, peer: &str) -> Vec<u8> {
        let tid = TransactionId::generate();
        let peer = XorPeerAddress::new(addr(peer), tid);
        let request = self.request_with_id(CREATE_PERMISSION, tid, &[&peer]);
        let mut sent = self.send_raw(sim, &request);
        assert_eq!(sent.len(), 1);
        sent.pop().unwrap().data
    }

    fn bind_channel(&mut self, sim: &mut Sim, number: u16, peer: &str) -> Vec<u8> {
        let tid = TransactionId::generate();
        let peer = XorPeerAddress::new(addr(peer), tid);
        let request =
            self.request_with_id(CHANNEL_BIND, tid, &[&ChannelNumber::new(number), &peer]);
        let mut sent = self.send_raw(sim, &request);
        assert_eq!(sent.len(), 1);
        sent.pop().unwrap().data
    }

    fn send_indication(&self, sim: &mut Sim, peer: &str, payload: &[u8]) -> Vec<Transmit> {
        let tid = TransactionId::generate();
        let mtype = MessageType::from_class_method(MessageClass::Indication, SEND);
        let mut msg = Message::builder(mtype, tid, MessageWriteVec::new());
        msg.add_attribute(&XorPeerAddress::new(addr(peer), tid))
            .unwrap();
        msg.add_attribute(&Data::new(payload)).unwrap();
        self.send_raw(sim, &msg.finish())
    }

    fn refresh(&mut self, sim: &mut Sim, seconds: u32) -> Vec<u8> {
        self.call(sim, REFRESH, &[&Lifetime::new(seconds)])
    }
}

fn error_code(response: &[u8]) -> Option<u16> {
    let msg = Message::from_bytes(response).unwrap();
    msg.attribute::<ErrorCode>().ok().map(|e| e.code())
}

#[track_caller]
fn assert_success(response: &[u8]) {
    let msg = Message::from_bytes(response).unwrap();
    assert_eq!(
        msg.class(),
        MessageClass::Success,
        "expected success, got error {:?}",
        error_code(response)
    );
}

#[track_caller]
fn assert_error(response: &[u8], code: u16) {
    assert_eq!(error_code(response), Some(code));
}

fn relayed_address(response: &[u8]) -> SocketAddr {
    let msg = Message::from_bytes(response).unwrap();
    let relayed = msg.attribute::<XorRelayedAddress>().unwrap();
    relayed.addr(msg.transaction_id())
}

fn lifetime(response: &[u8]) -> u32 {
    let msg = Message::from_bytes(response).unwrap();
    msg.attribute::<Lifetime>().unwrap().seconds()
}

/// The relay socket behind an advertised relay address.
fn relay_socket(relayed: SocketAddr) -> SocketAddr {
    let ip = match relayed.ip() {
        IpAddr::V4(_) => IpAddr::V4(SERVER_IP),
        IpAddr::V6(_) => IpAddr::V6(SERVER_V6),
    };
    SocketAddr::new(ip, relayed.port())
}

/// The one transmit in `sent`, which must go to `to`.
#[track_caller]
fn only_to(sent: Vec<Transmit>, to: SocketAddr) -> Transmit {
    assert_eq!(sent.len(), 1, "{sent:?}");
    let transmit = sent.into_iter().next().unwrap();
    assert_eq!(transmit.destination, to);
    transmit
}

#[track_caller]
fn data_indication_payload(transmit: &Transmit, from_peer: SocketAddr) -> Vec<u8> {
    let msg = Message::from_bytes(&transmit.data).unwrap();
    assert!(msg.has_method(DATA) && msg.has_class(MessageClass::Indication));
    assert_eq!(
        msg.attribute::<XorPeerAddress>()
            .unwrap()
            .addr(msg.transaction_id()),
        from_peer
    );
    msg.attribute::<Data>().unwrap().data().to_vec()
}

// ----- STUN and the auth flow -----

#[test]
fn binding_request_reports_the_mapped_address_without_auth() {
    let mut sim = Sim::new(config());
    let client = Client::udp(&sim, 40000);
    let request = client.request(BINDING, &[]);
    let response = only_to(client.send_raw(&mut sim, &request), client.tuple.client);
    let msg = Message::from_bytes(&response.data).unwrap();
    assert_eq!(msg.class(), MessageClass::Success);
    let mapped = msg.attribute::<XorMappedAddress>().unwrap();
    assert_eq!(mapped.addr(msg.transaction_id()), client.tuple.client);
}

#[test]
fn allocate_is_challenged_then_succeeds_with_credentials() {
    let mut sim = Sim::new(config());
    let mut client = Client::udp(&sim, 40000);

    let first = client.call_once(&mut sim, ALLOCATE, &[&RequestedTransport::new(17)]);
    assert_error(&first, 401);
    let msg = Message::from_bytes(&first).unwrap();
    assert_eq!(msg.attribute::<Realm>().unwrap().realm(), "mesh");
    assert!(msg.attribute::<Nonce>().is_ok());
    assert!(
        !msg.has_attribute(MessageIntegrity::TYPE),
        "challenges are unsigned"
    );

    assert!(client.learn_challenge(&first));
    let second = client.call_once(&mut sim, ALLOCATE, &[&RequestedTransport::new(17)]);
    assert_success(&second);
    let msg = Message::from_bytes(&second).unwrap();
    // The success is signed with the client's key, as coturn's client checks.
    assert!(msg.validate_integrity(&client.credentials()).is_ok());
    let relayed = relayed_address(&second);
    assert_eq!(
        relayed.ip(),
        IpAddr::V4(PUBLIC_IP),
        "the advertised address, not the bind one"
    );
    assert!((50000..=50009).contains(&relayed.port()));
    assert_eq!(lifetime(&second), 600);
    assert_eq!(
        msg.attribute::<XorMappedAddress>()
            .unwrap()
            .addr(msg.transaction_id()),
        client.tuple.client
    );
    assert!(sim.bound.contains(&relay_socket(relayed)));
    assert_eq!(sim.server.metrics().snapshot().allocations, 1);
}

#[test]
fn wrong_secret_is_refused_with_401() {
    let mut sim = Sim::new(config());
    let mut client = Client::udp(&sim, 40000);
    client.password = credentials::password("not the secret", &client.username);
    let response = client.call(&mut sim, ALLOCATE, &[&RequestedTransport::new(17)]);
    assert_error(&response, 401);
    assert!(sim.bound.is_empty());
    assert_eq!(sim.server.metrics().snapshot().refusals.unauthorized, 1);
}

#[test]
fn wrong_realm_and_foreign_usernames_are_refused_with_401() {
    let mut sim = Sim::new(config());
    let mut other_realm = Client::udp(&sim, 40001);
    let challenge = other_realm.call_once(&mut sim, ALLOCATE, &[&RequestedTransport::new(17)]);
    other_realm.learn_challenge(&challenge);
    other_realm.realm = "elsewhere".into();
    let response = other_realm.call_once(&mut sim, ALLOCATE, &[&RequestedTransport::new(17)]);
    assert_error(&response, 401);

    let mut not_rest = Client::udp(&sim, 40002);
    not_rest.username = "alice".into();
    not_rest.password = credentials::password(SECRET, "alice");
    let response = not_rest.call(&mut sim, ALLOCATE, &[&RequestedTransport::new(17)]);
    assert_error(&response, 401);
}

#[test]
fn malformed_message_integrity_is_refused() {
    let mut sim = Sim::new(config());
    let mut client = Client::udp(&sim, 40000);
    let challenge = client.call_once(&mut sim, ALLOCATE, &[&RequestedTransport::new(17)]);
    client.learn_challenge(&challenge);

    // A flipped bit in the HMAC: integrity fails, 401.
    let mut request = client.request(ALLOCATE, &[&RequestedTransport::new(17)]);
    let mi = find_attribute(&request, MessageIntegrity::TYPE.value()).unwrap();
    request[mi + 4] ^= 0x01;
    strip_fingerprint(&mut request);
    let response = only_to(client.send_raw(&mut sim, &request), client.tuple.client);
    assert_error(&response.data, 401);

    // A MESSAGE-INTEGRITY of the wrong length cannot even be checked: 400.
    let mtype = MessageType::from_class_method(MessageClass::Request, ALLOCATE);
    let mut msg = Message::builder(mtype, TransactionId::generate(), MessageWriteVec::new());
    msg.add_attribute(&RequestedTransport::new(17)).unwrap();
    msg.add_attribute(&Username::new(&client.username).unwrap())
        .unwrap();
    msg.add_attribute(&Realm::new("mesh").unwrap()).unwrap();
    msg.add_attribute(&Nonce::new(client.nonce.as_ref().unwrap()).unwrap())
        .unwrap();
    // stun-types will not write a bad MESSAGE-INTEGRITY; append it by hand.
    let mut request = msg.finish();
    request.extend_from_slice(&[0x00, 0x08, 0x00, 0x0a]);
    request.extend_from_slice(&[0; 12]);
    let length = (request.len() - 20) as u16;
    request[2..4].copy_from_slice(&length.to_be_bytes());
    let response = only_to(client.send_raw(&mut sim, &request), client.tuple.client);
    assert_error(&response.data, 400);

    // Credentials without a NONCE: 400.
    let mut msg = Message::builder(mtype, TransactionId::generate(), MessageWriteVec::new());
    msg.add_attribute(&RequestedTransport::new(17)).unwrap();
    msg.add_attribute(&Username::new(&client.username).unwrap())
        .unwrap();
    msg.add_message_integrity(&client.credentials(), IntegrityAlgorithm::Sha1)
        .unwrap();
    let response = only_to(
        client.send_raw(&mut sim, &msg.finish()),
        client.tuple.client,
    );
    assert_error(&response.data, 400);
    assert!(sim.bound.is_empty());
}

/// Byte offset of the first attribute of type `atype` in a message.
fn find_attribute(message: &[u8], atype: u16) -> Option<usize> {
    let mut offset = 20;
    while offset + 4 <= message.len() {
        let t = u16::from_be_bytes([message[offset], message[offset + 1]]);
        let len = usize::from(u16::from_be_bytes([
            message[offset + 2],
            message[offset + 3],
        ]));
        if t == atype {
            return Some(offset);
        }
        offset += 4 + len.next_multiple_of(4);
    }
    None
}

/// Drops a trailing FINGERPRINT (so a deliberately corrupted body still parses).
fn strip_fingerprint(message: &mut Vec<u8>) {
    let at = find_attribute(message, 0x8028).unwrap();
    message.truncate(at);
    let length = (message.len() - 20) as u16;
    message[2..4].copy_from_slice(&length.to_be_bytes());
}

#[test]
fn stale_nonce_gets_438_with_a_fresh_nonce() {
    let mut sim = Sim::new(config());
    let mut client = Client::udp(&sim, 40000);
    client.allocate(&mut sim);
    let old_nonce = client.nonce.clone();

    sim.advance(Duration::from_secs(599));
    assert_success(&client.refresh(&mut sim, 600));
    sim.advance(Duration::from_secs(2));
    let stale = client.call_once(&mut sim, REFRESH, &[&Lifetime::new(600)]);
    assert_error(&stale, 438);
    assert!(client.learn_challenge(&stale));
    assert_ne!(client.nonce, old_nonce);
    assert_success(&client.call_once(&mut sim, REFRESH, &[&Lifetime::new(600)]));
}

#[test]
fn expired_username_cannot_allocate() {
    let mut sim = Sim::new(config());
    let mut client = Client::udp(&sim, 40000);
    let wall = UNIX_EPOCH + Duration::from_secs(sim.unix_now());
    (client.username, client.password) = credentials::issue(
        SECRET,
        "alice",
        wall - Duration::from_secs(3600),
        Duration::from_secs(60),
    );
    let response = client.call(&mut sim, ALLOCATE, &[&RequestedTransport::new(17)]);
    assert_error(&response, 401);
    assert!(sim.bound.is_empty());
    assert_eq!(
        sim.server.metrics().snapshot().refusals.expired_credentials,
        1
    );
}

#[test]
fn refresh_keeps_an_allocation_alive_past_its_username_expiry() {
    let mut sim = Sim::new(config());
    let mut client = Client::udp(&sim, 40000);
    let wall = UNIX_EPOCH + Duration::from_secs(sim.unix_now());
    (client.username, client.password) =
        credentials::issue(SECRET, "alice", wall, Duration::from_secs(60));
    let relayed = client.allocate(&mut sim);

    // Well past the username's expiry, a long call refreshes as usual.
    for _ in 0..3 {
        sim.advance(Duration::from_secs(500));
        let response = client.refresh(&mut sim, 600);
        assert_success(&response);
        assert_eq!(lifetime(&response), 600);
    }
    assert!(sim.bound.contains(&relay_socket(relayed)));

    // But the same username cannot open a new allocation.
    let mut again = Client::udp(&sim, 40001);
    (again.username, again.password) = (client.username.clone(), client.password.clone());
    assert_error(
        &again.call(&mut sim, ALLOCATE, &[&RequestedTransport::new(17)]),
        401,
    );
}

#[test]
fn only_the_user_who_allocated_may_use_the_allocation() {
    let mut sim = Sim::new(config());
    let mut alice = Client::udp(&sim, 40000);
    alice.allocate(&mut sim);
    // Same 5-tuple, valid credentials, another user: 441 Wrong Credentials.
    let mut mallory = Client::new(&sim, Transport::Udp, "1.1.1.1:40000", "mallory");
    (mallory.realm, mallory.nonce) = (alice.realm.clone(), alice.nonce.clone());
    assert_error(&mallory.refresh(&mut sim, 0), 441);
    assert_error(&mallory.permit(&mut sim, PEER), 441);
    assert_eq!(sim.server.allocation_count(), 1);
}

#[test]
fn unknown_comprehension_required_attribute_gets_420() {
    let mut sim = Sim::new(config());
    let mut client = Client::udp(&sim, 40000);
    let dont_fragment = RawAttribute::new(0x001A.into(), &[]);
    let response = client.call(
        &mut sim,
        ALLOCATE,
        &[&RequestedTransport::new(17), &dont_fragment],
    );
    assert_error(&response, 420);
    let msg = Message::from_bytes(&response).unwrap();
    let unknown = msg.attribute::<UnknownAttributes>().unwrap();
    assert!(unknown.has_attribute(0x001A.into()));
}

#[test]
fn allocate_without_requested_transport_or_for_tcp_is_refused() {
    let mut sim = Sim::new(config());
    let mut client = Client::udp(&sim, 40000);
    assert_error(&client.call(&mut sim, ALLOCATE, &[]), 400);
    assert_error(
        &client.call(
            &mut sim,
            ALLOCATE,
            &[&RequestedTransport::new(RequestedTransport::TCP)],
        ),
        442,
    );
}

#[test]
fn retransmitted_allocate_gets_the_same_answer_and_a_second_one_437() {
    let mut sim = Sim::new(config());
    let mut client = Client::udp(&sim, 40000);
    let challenge = client.call_once(&mut sim, ALLOCATE, &[&RequestedTransport::new(17)]);
    client.learn_challenge(&challenge);
    let tid = TransactionId::generate();
    let request = client.request_with_id(ALLOCATE, tid, &[&RequestedTransport::new(17)]);
    let first = only_to(client.send_raw(&mut sim, &request), client.tuple.client);
    let again = only_to(client.send_raw(&mut sim, &request), client.tuple.client);
    assert_eq!(relayed_address(&first.data), relayed_address(&again.data));
    assert_eq!(sim.bound.len(), 1);
    assert_error(
        &client.call(&mut sim, ALLOCATE, &[&RequestedTransport::new(17)]),
        437,
    );
}

// ----- lifetimes -----

#[test]
fn refresh_extends_and_lifetime_zero_deletes() {
    let mut sim = Sim::new(config());
    let mut client = Client::udp(&sim, 40000);
    let relayed = client.allocate(&mut sim);

    // Asking for more than the maximum gets the maximum, less than the
    // default gets the default.
    assert_eq!(lifetime(&client.refresh(&mut sim, 99_999)), 3600);
    assert_eq!(lifetime(&client.refresh(&mut sim, 10)), 600);
    sim.advance(Duration::from_secs(599));
    assert!(sim.bound.contains(&relay_socket(relayed)));

    let response = client.refresh(&mut sim, 0);
    assert_success(&response);
    assert_eq!(lifetime(&response), 0);
    assert!(sim.bound.is_empty(), "the relay socket is released at once");
    assert_eq!(sim.server.metrics().snapshot().allocations, 0);
    assert_error(&client.refresh(&mut sim, 600), 437);
}

#[test]
fn allocation_expires_and_releases_its_relay() {
    let mut sim = Sim::new(config());
    let mut client = Client::udp(&sim, 40000);
    let relayed = client.allocate(&mut sim);
    assert_eq!(
        sim.server.poll_output_timeout(),
        sim.now + Duration::from_secs(600)
    );

    sim.advance(Duration::from_secs(599));
    assert!(sim.bound.contains(&relay_socket(relayed)));
    sim.advance(Duration::from_secs(1));
    assert!(sim.bound.is_empty());
    assert_eq!(sim.server.allocation_count(), 0);
    // Peer data for the dead allocation goes nowhere.
    assert!(sim
        .peer_sends(relay_socket(relayed), PEER, b"late")
        .is_empty());
}

#[test]
fn permissions_expire_after_five_minutes_unless_refreshed() {
    let mut sim = Sim::new(config());
    let mut client = Client::udp(&sim, 40000);
    let relayed = client.allocate(&mut sim);
    assert_success(&client.permit(&mut sim, PEER));
    client.refresh(&mut sim, 3600);

    sim.advance(Duration::from_secs(299));
    assert_eq!(client.send_indication(&mut sim, PEER, b"still").len(), 1);
    sim.advance(Duration::from_secs(1));
    assert!(client.send_indication(&mut sim, PEER, b"gone").is_empty());
    assert!(sim
        .peer_sends(relay_socket(relayed), PEER, b"gone")
        .is_empty());

    // A new CreatePermission restores it.
    assert_success(&client.permit(&mut sim, PEER));
    assert_eq!(client.send_indication(&mut sim, PEER, b"back").len(), 1);
}

#[test]
fn channel_bindings_expire_after_ten_minutes() {
    let mut sim = Sim::new(config());
    let mut client = Client::udp(&sim, 40000);
    let relayed = client.allocate(&mut sim);
    client.refresh(&mut sim, 3600);
    assert_success(&client.bind_channel(&mut sim, 0x4000, PEER));
    let channel = channel_data(0x4000, b"x", false).unwrap();
    // The permission the binding installed lapses first and stops the channel.
    sim.advance(Duration::from_secs(300));
    assert!(client.send_raw(&mut sim, &channel).is_empty());
    // Keep the permission alive, but not the channel.
    assert_success(&client.permit(&mut sim, PEER));
    assert_success(&client.permit(&mut sim, PEER));
    sim.advance(Duration::from_secs(290));
    assert_success(&client.permit(&mut sim, PEER));
    assert_eq!(client.send_raw(&mut sim, &channel).len(), 1);
    sim.advance(Duration::from_secs(10));
    assert!(client.send_raw(&mut sim, &channel).is_empty());
    // The peer now reaches the client as a Data indication instead.
    let to_client = only_to(
        sim.peer_sends(relay_socket(relayed), PEER, b"y"),
        client.tuple.client,
    );
    assert_eq!(data_indication_payload(&to_client, addr(PEER)), b"y");
}

// ----- relaying -----

#[test]
fn send_and_data_indications_relay_both_ways() {
    let mut sim = Sim::new(config());
    let mut client = Client::udp(&sim, 40000);
    let relayed = client.allocate(&mut sim);

    // No permission yet: dropped.
    assert!(client.send_indication(&mut sim, PEER, b"hello").is_empty());
    assert!(sim
        .peer_sends(relay_socket(relayed), PEER, b"hi")
        .is_empty());

    assert_success(&client.permit(&mut sim, PEER));
    let out = only_to(client.send_indication(&mut sim, PEER, b"hello"), addr(PEER));
    assert_eq!(out.source, relay_socket(relayed));
    assert_eq!(out.transport, Transport::Udp);
    assert_eq!(out.data, b"hello");

    // Permissions are per IP: another port of the same peer gets through.
    let to_client = only_to(
        sim.peer_sends(relay_socket(relayed), "8.8.8.8:4001", b"hi"),
        client.tuple.client,
    );
    assert_eq!(to_client.source, client.tuple.server);
    assert_eq!(
        data_indication_payload(&to_client, addr("8.8.8.8:4001")),
        b"hi"
    );
    // Another IP does not.
    assert!(sim
        .peer_sends(relay_socket(relayed), "9.9.9.9:4000", b"no")
        .is_empty());

    let metrics = sim.server.metrics().snapshot();
    assert_eq!(metrics.packets_relayed, 2);
    assert_eq!(metrics.bytes_relayed, 7);
}

#[test]
fn channel_data_relays_both_ways() {
    let mut sim = Sim::new(config());
    let mut client = Client::udp(&sim, 40000);
    let relayed = client.allocate(&mut sim);
    assert_success(&client.bind_channel(&mut sim, 0x4001, PEER));

    let out = only_to(
        client.send_raw(&mut sim, &channel_data(0x4001, b"media", false).unwrap()),
        addr(PEER),
    );
    assert_eq!(
        (out.source, out.data.as_slice()),
        (relay_socket(relayed), &b"media"[..])
    );

    let back = only_to(
        sim.peer_sends(relay_socket(relayed), PEER, b"reply"),
        client.tuple.client,
    );
    let channel = ChannelData::parse(&back.data).unwrap();
    assert_eq!((channel.id(), channel.data()), (0x4001, &b"reply"[..]));
    assert_eq!(back.data.len(), 9, "no padding over UDP");

    // An unbound channel number goes nowhere.
    assert!(client
        .send_raw(&mut sim, &channel_data(0x4002, b"x", false).unwrap())
        .is_empty());
}

#[test]
fn channel_bind_conflicts_and_bad_numbers_are_refused() {
    let mut sim = Sim::new(config());
    let mut client = Client::udp(&sim, 40000);
    client.allocate(&mut sim);
    assert_success(&client.bind_channel(&mut sim, 0x4001, PEER));
    assert_success(&client.bind_channel(&mut sim, 0x4001, PEER));
    assert_error(&client.bind_channel(&mut sim, 0x4001, "8.8.4.4:1"), 400);
    assert_error(&client.bind_channel(&mut sim, 0x4002, PEER), 400);
    assert_error(&client.bind_channel(&mut sim, 0x3FFF, "8.8.4.4:1"), 400);
    assert_error(&client.bind_channel(&mut sim, 0x8000, "8.8.4.4:1"), 400);
    // RFC 5766's upper range, which coturn 4.6's client uses, is accepted.
    assert_success(&client.bind_channel(&mut sim, 0x7ABC, "8.8.4.4:1"));
}

#[test]
fn stream_clients_get_padded_channel_data_and_lose_allocations_on_close() {
    let mut sim = Sim::new(config());
    let mut client = Client::new(&sim, Transport::Tcp, "1.1.1.1:40000", "alice");
    let relayed = client.allocate(&mut sim);
    assert_success(&client.bind_channel(&mut sim, 0x4001, PEER));
    let back = only_to(
        sim.peer_sends(relay_socket(relayed), PEER, b"reply"),
        client.tuple.client,
    );
    assert_eq!(back.transport, Transport::Tcp);
    assert_eq!(
        back.data.len(),
        12,
        "ChannelData padded to 4 bytes over TCP"
    );

    sim.input(Input::ClientClosed(client.tuple));
    assert!(sim.bound.is_empty());
    assert_eq!(sim.server.allocation_count(), 0);
}

#[test]
fn a_stream_closing_while_its_relay_is_bound_gives_the_ports_back() {
    let mut config = config();
    config.relay.ports = 50000..=50003;
    let mut sim = Sim::new(config);
    let mut client = Client::new(&sim, Transport::Tcp, "1.1.1.1:40000", "alice");
    let challenge = client.call_once(&mut sim, ALLOCATE, &[&RequestedTransport::new(17)]);
    client.learn_challenge(&challenge);
    sim.deferred = Some(Vec::new());
    let request = client.request(
        ALLOCATE,
        &[&RequestedTransport::new(17), &EvenPort::new(true)],
    );
    assert!(
        client.send_raw(&mut sim, &request).is_empty(),
        "no answer before the socket"
    );
    let even = sim.deferred.as_mut().unwrap().pop().unwrap();
    sim.input(Input::ClientClosed(client.tuple));
    // The driver's late answer is undone, not turned into an allocation.
    sim.bound.insert(even);
    assert!(sim
        .input(Input::RelayBound {
            relay: even,
            bound: true
        })
        .is_empty());
    assert!(sim.bound.is_empty(), "the bound socket is released");
    assert_eq!(sim.server.allocation_count(), 0);

    // Every port, the reserved odd one included, is free again.
    sim.deferred = None;
    for port in 40001..40005 {
        Client::new(
            &sim,
            Transport::Udp,
            &format!("1.1.1.1:{port}"),
            &format!("u{port}"),
        )
        .allocate(&mut sim);
    }
    assert_eq!(sim.bound.len(), 4);
}

#[test]
fn two_allocations_on_this_relay_talk_in_process() {
    let mut sim = Sim::new(config());
    let mut alice = Client::udp(&sim, 40000);
    let mut bob = Client::new(&sim, Transport::Tcp, "2.2.2.2:40000", "bob");
    let alice_relay = alice.allocate(&mut sim);
    let bob_relay = bob.allocate(&mut sim);
    assert_success(&alice.bind_channel(&mut sim, 0x4000, &bob_relay.to_string()));
    assert_success(&bob.permit(&mut sim, &alice_relay.to_string()));

    // Nothing goes to the relay's own public address on the wire: Bob's
    // client gets it straight from Alice's allocation.
    let sent = alice.send_raw(&mut sim, &channel_data(0x4000, b"hi bob", false).unwrap());
    let to_bob = only_to(sent, bob.tuple.client);
    assert_eq!(to_bob.transport, Transport::Tcp);
    assert_eq!(data_indication_payload(&to_bob, alice_relay), b"hi bob");
    assert_eq!(sim.server.metrics().snapshot().packets_relayed, 1);

    // A relay port nobody holds is a dead end, not a packet to ourselves.
    let unused = (50000..=50009)
        .find(|p| ![alice_relay.port(), bob_relay.port()].contains(p))
        .unwrap();
    let unused = SocketAddr::new(IpAddr::V4(PUBLIC_IP), unused);
    assert_success(&alice.permit(&mut sim, &unused.to_string()));
    assert!(alice
        .send_indication(&mut sim, &unused.to_string(), b"x")
        .is_empty());
}

#[test]
fn even_port_with_reservation_hands_out_an_rtp_rtcp_pair() {
    let mut sim = Sim::new(config());
    let mut rtp = Client::udp(&sim, 40000);
    let transport = RequestedTransport::new(17);
    let response = rtp.call(&mut sim, ALLOCATE, &[&transport, &EvenPort::new(true)]);
    assert_success(&response);
    let even = relayed_address(&response);
    assert_eq!(even.port() % 2, 0);
    let msg = Message::from_bytes(&response).unwrap();
    let token = msg.attribute::<ReservationToken>().unwrap().token();
    assert_eq!(sim.bound.len(), 2, "the odd port is held");

    let mut rtcp = Client::udp(&sim, 40001);
    let response = rtcp.call(
        &mut sim,
        ALLOCATE,
        &[&transport, &ReservationToken::new(token)],
    );
    assert_success(&response);
    assert_eq!(relayed_address(&response).port(), even.port() + 1);
    assert_eq!(sim.bound.len(), 2);

    // A token works once.
    let mut late = Client::udp(&sim, 40002);
    assert_error(
        &late.call(
            &mut sim,
            ALLOCATE,
            &[&transport, &ReservationToken::new(token)],
        ),
        508,
    );
    // And not together with EVEN-PORT.
    assert_error(
        &late.call(
            &mut sim,
            ALLOCATE,
            &[
                &transport,
                &ReservationToken::new(token),
                &EvenPort::new(false),
            ],
        ),
        400,
    );
}

#[test]
fn unredeemed_reservation_is_released_after_thirty_seconds() {
    let mut sim = Sim::new(config());
    let mut rtp = Client::udp(&sim, 40000);
    rtp.allocate_with(&mut sim, &[&EvenPort::new(true)]);
    assert_eq!(sim.bound.len(), 2);
    sim.advance(Duration::from_secs(30));
    assert_eq!(sim.bound.len(), 1);
}

#[test]
fn a_busy_port_is_skipped_and_exhaustion_answers_508() {
    let mut config = config();
    config.relay.ports = 50000..=50001;
    let mut sim = Sim::new(config);
    sim.unbindable.insert(SocketAddr::from((SERVER_IP, 50000)));
    let mut first = Client::udp(&sim, 40000);
    assert_eq!(first.allocate(&mut sim).port(), 50001);
    let mut second = Client::udp(&sim, 40001);
    assert_error(
        &second.call(&mut sim, ALLOCATE, &[&RequestedTransport::new(17)]),
        508,
    );
    assert_eq!(sim.server.metrics().snapshot().refusals.capacity, 1);
}

#[test]
fn ipv6_allocations_relay_to_ipv6_peers_only() {
    let mut sim = Sim::new(config());
    let mut client = Client::udp(&sim, 40000);
    let family = RequestedAddressFamily::new(AddressFamily::IPV6);
    let relayed = client.allocate_with(&mut sim, &[&family]);
    assert_eq!(relayed.ip(), IpAddr::V6(SERVER_V6));
    assert_success(&client.permit(&mut sim, "[2606:4700::1111]:53"));
    assert_error(&client.permit(&mut sim, PEER), 443);
    let out = only_to(
        client.send_indication(&mut sim, "[2606:4700::1111]:53", b"q"),
        addr("[2606:4700::1111]:53"),
    );
    assert_eq!(out.source, relayed);
}

// ----- policy -----

#[test]
fn internal_peers_are_refused_with_403() {
    let mut sim = Sim::new(config());
    let mut v4 = Client::udp(&sim, 40000);
    let v4_relay = v4.allocate(&mut sim);
    let own = SocketAddr::from((SERVER_IP, 22)).to_string();
    for peer in [
        "127.0.0.1:80",
        "10.0.0.1:80",
        "192.168.1.1:80",
        "169.254.169.254:80",
        "100.64.0.1:80",
        "0.0.0.0:80",
        "224.0.0.1:80",
        own.as_str(),
    ] {
        assert_error(&v4.permit(&mut sim, peer), 403);
        assert_error(&v4.bind_channel(&mut sim, 0x4000, peer), 403);
    }
    // The relay's public address outside the relay ports is ours too.
    assert_error(
        &v4.bind_channel(
            &mut sim,
            0x4000,
            &SocketAddr::from((PUBLIC_IP, 22)).to_string(),
        ),
        403,
    );

    let mut v6 = Client::udp(&sim, 40001);
    v6.allocate_with(
        &mut sim,
        &[&RequestedAddressFamily::new(AddressFamily::IPV6)],
    );
    for peer in [
        "[::1]:80",
        "[::ffff:127.0.0.1]:80",
        "[::127.0.0.1]:80",
        "[::ffff:10.0.0.1]:80",
        "[fe80::1]:80",
        "[fd00::1]:80",
    ] {
        assert_error(&v6.permit(&mut sim, peer), 403);
        assert_error(&v6.bind_channel(&mut sim, 0x4000, peer), 403);
    }
    assert!(sim
        .peer_sends(relay_socket(v4_relay), "127.0.0.1:80", b"x")
        .is_empty());
    assert!(sim.server.metrics().snapshot().refusals.forbidden_peer >= 30);
}

#[test]
fn the_sfu_is_the_one_internal_destination_allowed() {
    let mut sim = Sim::new(config());
    let mut client = Client::udp(&sim, 40000);
    let relayed = client.allocate(&mut sim);
    assert_success(&client.bind_channel(&mut sim, 0x4000, SFU));
    let out = only_to(
        client.send_raw(&mut sim, &channel_data(0x4000, b"rtp", false).unwrap()),
        addr(SFU),
    );
    assert_eq!(out.source, relay_socket(relayed));
    let back = only_to(
        sim.peer_sends(relay_socket(relayed), SFU, b"rtcp"),
        client.tuple.client,
    );
    assert_eq!(ChannelData::parse(&back.data).unwrap().data(), b"rtcp");

    // The permission covers the SFU's IP, but only its media port is relayed.
    assert!(client
        .send_indication(&mut sim, "10.9.9.9:22", b"ssh")
        .is_empty());
    assert!(sim
        .peer_sends(relay_socket(relayed), "10.9.9.9:22", b"x")
        .is_empty());
    assert_error(&client.bind_channel(&mut sim, 0x4001, "10.9.9.9:22"), 403);
}

// ----- quotas -----

#[test]
fn allocations_per_user_are_capped_with_486() {
    let mut config = config();
    config.quotas.allocations_per_user = 2;
    let mut sim = Sim::new(config);
    Client::udp(&sim, 40000).allocate(&mut sim);
    Client::udp(&sim, 40001).allocate(&mut sim);
    let mut third = Client::udp(&sim, 40002);
    assert_error(
        &third.call(&mut sim, ALLOCATE, &[&RequestedTransport::new(17)]),
        486,
    );
    // Another user is not affected.
    Client::new(&sim, Transport::Udp, "1.1.1.1:40003", "bob").allocate(&mut sim);
    assert_eq!(sim.server.metrics().snapshot().refusals.user_quota, 1);

    // Freeing one makes room again.
    let mut first = Client::udp(&sim, 40000);
    first.nonce = third.nonce.clone();
    first.realm = "mesh".into();
    let response = first.refresh(&mut sim, 0);
    assert_success(&response);
    third.allocate(&mut sim);
}

#[test]
fn total_allocations_are_capped_with_508() {
    let mut config = config();
    config.quotas.total_allocations = 2;
    let mut sim = Sim::new(config);
    Client::udp(&sim, 40000).allocate(&mut sim);
    Client::new(&sim, Transport::Udp, "1.1.1.1:40001", "bob").allocate(&mut sim);
    let mut third = Client::new(&sim, Transport::Udp, "1.1.1.1:40002", "carol");
    assert_error(
        &third.call(&mut sim, ALLOCATE, &[&RequestedTransport::new(17)]),
        508,
    );
    assert_eq!(sim.server.metrics().snapshot().refusals.capacity, 1);
}

#[test]
fn permissions_per_allocation_are_capped_with_508() {
    let mut config = config();
    config.quotas.permissions_per_allocation = 2;
    let mut sim = Sim::new(config);
    let mut client = Client::udp(&sim, 40000);
    client.allocate(&mut sim);
    assert_success(&client.permit(&mut sim, "8.8.8.8:1"));
    assert_success(&client.permit(&mut sim, "8.8.4.4:1"));
    assert_error(&client.permit(&mut sim, "9.9.9.9:1"), 508);
    assert_success(&client.permit(&mut sim, "8.8.8.8:2"));
}

#[test]
fn bandwidth_over_the_quota_is_dropped() {
    let mut config = config();
    config.quotas.bandwidth_per_allocation = Some(1000);
    let mut sim = Sim::new(config);
    let mut client = Client::udp(&sim, 40000);
    let relayed = client.allocate(&mut sim);
    assert_success(&client.bind_channel(&mut sim, 0x4000, PEER));
    let packet = channel_data(0x4000, &[0; 400], false).unwrap();
    assert_eq!(client.send_raw(&mut sim, &packet).len(), 1);
    assert_eq!(client.send_raw(&mut sim, &packet).len(), 1);
    // Both directions draw on the same bucket.
    assert!(sim
        .peer_sends(relay_socket(relayed), PEER, &[0; 400])
        .is_empty());
    assert!(client.send_raw(&mut sim, &packet).is_empty());
    sim.now += Duration::from_millis(400);
    assert_eq!(client.send_raw(&mut sim, &packet).len(), 1);
    assert_eq!(sim.server.metrics().snapshot().refusals.bandwidth, 2);
}

impl Server {
    /// The deadline `poll_output` reports once outputs are drained.
    fn poll_output_timeout(&mut self) -> Instant {
        match self.poll_output() {
            Output::Timeout(at) => at,
            other => panic!("expected a timeout, got {other:?}"),
        }
    }
}
