//! Property tests: whatever arrives, decoding and handling never panic.
//!
//! Inputs are random bytes, well-formed TURN messages with random field
//! values (signed, so they reach the deep paths: policy, channels, quotas),
//! the same messages mutated, ChannelData, and TCP streams cut at random
//! points. Every case runs against a relay that already holds an allocation
//! and a channel, in simulated time.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use mesh_turn::framing::Framer;
use mesh_turn::{Config, Event, FiveTuple, Input, Output, RelayConfig, Server, Transport};
use proptest::prelude::*;
use stun_types::attribute::{Nonce, Realm, Username};
use stun_types::message::{
    IntegrityAlgorithm, LongTermKeyCredentials, Message, MessageClass, MessageType,
    MessageWriteVec, Method, TransactionId, BINDING,
};
use stun_types::prelude::*;
use stun_types::AddressFamily;
use turn_types::attribute::{
    ChannelNumber, Data, EvenPort, Lifetime, RequestedAddressFamily, RequestedTransport,
    ReservationToken, XorPeerAddress,
};
use turn_types::message::{ALLOCATE, CHANNEL_BIND, CREATE_PERMISSION, REFRESH, SEND};

const SECRET: &str = "fuzz secret";
const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(5, 5, 5, 5)), 3478);

/// A relay with one UDP and one TCP client holding an allocation and a
/// channel, and a UDP client without one (to exercise Allocate).
struct Relay {
    server: Server,
    now: Instant,
    clients: [Client; 3],
}

struct Client {
    tuple: FiveTuple,
    username: String,
    password: String,
    nonce: String,
}

impl Relay {
    fn new() -> Self {
        let config = Config {
            listen_udp: vec![SERVER],
            listen_tcp: vec![SERVER],
            relay: RelayConfig {
                bind_v4: Some(Ipv4Addr::new(5, 5, 5, 5)),
                bind_v6: Some(Ipv6Addr::new(0x2600, 0, 0, 0, 0, 0, 0, 5)),
                ports: 50000..=50063,
                ..RelayConfig::default()
            },
            secret: SECRET.into(),
            ..Config::default()
        };
        let now = Instant::now();
        let server = Server::new(&config, now, SystemTime::now()).unwrap();
        let client = |transport, port| {
            let (username, password) = mesh_turn::credentials::issue(
                SECRET,
                "fuzzer",
                SystemTime::now(),
                Duration::from_secs(3600),
            );
            Client {
                tuple: FiveTuple {
                    transport,
                    client: SocketAddr::from(([1, 1, 1, 1], port)),
                    server: SERVER,
                },
                username,
                password,
                nonce: String::new(),
            }
        };
        let mut relay = Self {
            server,
            now,
            clients: [
                client(Transport::Udp, 40000),
                client(Transport::Tcp, 40001),
                client(Transport::Udp, 40002),
            ],
        };
        for i in 0..3 {
            // The challenge carries the nonce (`send` keeps it).
            relay.send(
                i,
                &relay.request(i, ALLOCATE, &[&RequestedTransport::new(17)], false),
            );
            if i == 2 {
                break;
            }
            let allocated = relay.send(
                i,
                &relay.request(i, ALLOCATE, &[&RequestedTransport::new(17)], true),
            );
            assert_eq!(
                Message::from_bytes(&allocated[0]).unwrap().class(),
                MessageClass::Success
            );
            let tid = TransactionId::generate();
            let peer = XorPeerAddress::new(SocketAddr::from(([8, 8, 8, 8], 4000)), tid);
            let bind = relay.request_with_id(
                i,
                CHANNEL_BIND,
                tid,
                &[&ChannelNumber::new(0x4000), &peer],
                true,
            );
            relay.send(i, &bind);
        }
        relay
    }

    fn request(
        &self,
        i: usize,
        method: Method,
        attributes: &[&dyn AttributeWrite],
        sign: bool,
    ) -> Vec<u8> {
        self.request_with_id(i, method, TransactionId::generate(), attributes, sign)
    }

    fn request_with_id(
        &self,
        i: usize,
        method: Method,
        tid: TransactionId,
        attributes: &[&dyn AttributeWrite],
        sign: bool,
    ) -> Vec<u8> {
        let client = &self.clients[i];
        let mtype = MessageType::from_class_method(MessageClass::Request, method);
        let mut msg = Message::builder(mtype, tid, MessageWriteVec::new());
        for attribute in attributes {
            // Random combinations may repeat an attribute; skipping is fine.
            let _ = msg.add_attribute(*attribute);
        }
        if sign {
            let _ = msg.add_attribute(&Username::new(&client.username).unwrap());
            let _ = msg.add_attribute(&Realm::new("mesh").unwrap());
            let _ = msg.add_attribute(&Nonce::new(&client.nonce).unwrap());
            let credentials = LongTermKeyCredentials::new(
                client.username.clone(),
                client.password.clone(),
                "mesh".into(),
            );
            msg.add_message_integrity(&credentials.into(), IntegrityAlgorithm::Sha1)
                .unwrap();
        }
        msg.finish()
    }

    /// Feeds one input and plays the driver; returns what went to clients.
    fn input(&mut self, input: Input<'_>) -> Vec<Vec<u8>> {
        self.server.handle_input(self.now, input);
        let mut to_clients = Vec::new();
        loop {
            match self.server.poll_output() {
                Output::Transmit(t) => {
                    if t.source == SERVER {
                        to_clients.push(t.data);
                    }
                }
                Output::Event(Event::BindRelay(relay)) => {
                    let bound = relay.port() % 7 != 0;
                    self.server
                        .handle_input(self.now, Input::RelayBound { relay, bound });
                }
                Output::Event(Event::ReleaseRelay(_)) => {}
                Output::Timeout(_) => return to_clients,
            }
        }
    }

    /// Sends as client `i`, which keeps any fresh nonce it is given, like a
    /// real client answering 401 and 438.
    fn send(&mut self, i: usize, data: &[u8]) -> Vec<Vec<u8>> {
        let from = self.clients[i].tuple;
        let responses = self.input(Input::Client { from, data });
        for response in &responses {
            if let Ok(msg) = Message::from_bytes(response) {
                if let Ok(nonce) = msg.attribute::<Nonce>() {
                    self.clients[i].nonce = nonce.nonce().to_owned();
                }
            }
        }
        responses
    }

    fn relay_socket(&self) -> SocketAddr {
        SocketAddr::from(([5, 5, 5, 5], 50000))
    }
}

/// Field values for a request that authenticates and then exercises the logic.
#[derive(Debug, Clone)]
struct RequestShape {
    method: u8,
    peers: Vec<SocketAddr>,
    channel: u16,
    lifetime: Option<u32>,
    family: Option<bool>,
    even_port: Option<bool>,
    token: Option<u64>,
    transport: u8,
    payload: Vec<u8>,
    sign: bool,
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
        // Addresses the policy has opinions about.
        prop::sample::select(vec![
            "127.0.0.1:1",
            "[::ffff:127.0.0.1]:1",
            "[::127.0.0.1]:1",
            "10.0.0.1:1",
            "169.254.169.254:80",
            "6.6.6.6:50001",
            "5.5.5.5:50000",
            "8.8.8.8:4000",
            "[64:ff9b::a00:1]:1",
            "[2600::5]:50001",
        ])
        .prop_map(|s| s.parse().unwrap()),
    ]
}

fn request_shape() -> impl Strategy<Value = RequestShape> {
    (
        (
            0u8..6,
            prop::collection::vec(socket_addr(), 0..4),
            any::<u16>(),
        ),
        (
            prop::option::of(any::<u32>()),
            prop::option::of(any::<bool>()),
            prop::option::of(any::<bool>()),
            prop::option::of(any::<u64>()),
        ),
        (
            prop_oneof![8 => Just(RequestedTransport::UDP), 1 => any::<u8>()],
            prop::collection::vec(any::<u8>(), 0..64),
            prop::bool::weighted(0.8),
        ),
    )
        .prop_map(
            |(
                (method, peers, channel),
                (lifetime, family, even_port, token),
                (transport, payload, sign),
            )| {
                RequestShape {
                    method,
                    peers,
                    channel,
                    lifetime,
                    family,
                    even_port,
                    token,
                    transport,
                    payload,
                    sign,
                }
            },
        )
}

impl RequestShape {
    fn encode(&self, relay: &Relay, client: usize) -> Vec<u8> {
        let tid = TransactionId::generate();
        let peers: Vec<XorPeerAddress> = self
            .peers
            .iter()
            .map(|&p| XorPeerAddress::new(p, tid))
            .collect();
        let channel = ChannelNumber::new(self.channel);
        let lifetime = self.lifetime.map(Lifetime::new);
        let family = self.family.map(|v6| {
            RequestedAddressFamily::new(if v6 {
                AddressFamily::IPV6
            } else {
                AddressFamily::IPV4
            })
        });
        let even = self.even_port.map(EvenPort::new);
        let token = self.token.map(ReservationToken::new);
        let transport = RequestedTransport::new(self.transport);
        let data = Data::new(&self.payload);
        let mut attributes: Vec<&dyn AttributeWrite> =
            peers.iter().map(|p| p as &dyn AttributeWrite).collect();
        let optional: [Option<&dyn AttributeWrite>; 4] = [
            lifetime.as_ref().map(|a| a as _),
            family.as_ref().map(|a| a as _),
            even.as_ref().map(|a| a as _),
            token.as_ref().map(|a| a as _),
        ];
        attributes.extend(optional.into_iter().flatten());
        let method = match self.method {
            0 => ALLOCATE,
            1 => REFRESH,
            2 => CREATE_PERMISSION,
            3 => CHANNEL_BIND,
            4 => BINDING,
            _ => {
                // A Send indication rather than a request.
                let mtype = MessageType::from_class_method(MessageClass::Indication, SEND);
                let mut msg = Message::builder(mtype, tid, MessageWriteVec::new());
                for peer in &peers {
                    let _ = msg.add_attribute(peer);
                }
                let _ = msg.add_attribute(&data);
                return msg.finish();
            }
        };
        match method {
            ALLOCATE => attributes.push(&transport),
            CHANNEL_BIND => attributes.push(&channel),
            _ => {}
        }
        relay.request_with_id(client, method, tid, &attributes, self.sign)
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip {
        at: usize,
        bit: u8,
    },
    Set {
        at: usize,
        byte: u8,
    },
    Truncate(usize),
    Append(Vec<u8>),
    /// Rewrite the STUN (or ChannelData) length field.
    Length(u16),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        any::<usize>().prop_map(Mutation::Truncate),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Mutation::Append),
        any::<u16>().prop_map(Mutation::Length),
    ]
}

fn mutate(mut data: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        match m {
            Mutation::Flip { at, bit } if !data.is_empty() => {
                let at = at % data.len();
                data[at] ^= 1 << bit;
            }
            Mutation::Set { at, byte } if !data.is_empty() => {
                let at = at % data.len();
                data[at] = *byte;
            }
            Mutation::Truncate(len) => {
                let len = len % (data.len() + 1);
                data.truncate(len);
            }
            Mutation::Append(bytes) => data.extend_from_slice(bytes),
            Mutation::Length(length) if data.len() >= 4 => {
                data[2..4].copy_from_slice(&length.to_be_bytes());
            }
            _ => {}
        }
    }
    data
}

/// Every way a byte string can reach the core.
fn feed_everywhere(relay: &mut Relay, data: &[u8]) {
    relay.send(0, data);
    relay.send(1, data);
    let from = SocketAddr::from(([8, 8, 8, 8], 4000));
    let relay_socket = relay.relay_socket();
    relay.input(Input::Peer {
        relay: relay_socket,
        from,
        data,
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..700)) {
        let mut relay = Relay::new();
        feed_everywhere(&mut relay, &data);
        // Also with a valid STUN or ChannelData first byte pattern.
        let mut stun = data.clone();
        if stun.len() >= 8 {
            stun[0] &= 0x3f;
            stun[4..8].copy_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
        }
        feed_everywhere(&mut relay, &stun);
    }

    #[test]
    fn well_formed_requests_with_random_fields_never_panic(
        shapes in prop::collection::vec(request_shape(), 1..12),
        steps in prop::collection::vec(prop_oneof![4 => 0u64..60, 1 => 0u64..700], 12),
    ) {
        let mut relay = Relay::new();
        for (i, shape) in shapes.iter().enumerate() {
            let request = shape.encode(&relay, i % 3);
            relay.send(i % 3, &request);
            // Time passes between requests: permissions, channels,
            // reservations and allocations expire along the way.
            relay.now += Duration::from_secs(steps[i]);
            relay.input(Input::Timeout);
        }
    }

    #[test]
    fn mutated_messages_never_panic(
        shape in request_shape(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut relay = Relay::new();
        let request = shape.encode(&relay, 0);
        feed_everywhere(&mut relay, &mutate(request, &mutations));
        let mut channel = vec![0x40, 0x00, 0x00, shape.payload.len() as u8];
        channel.extend_from_slice(&shape.payload);
        feed_everywhere(&mut relay, &mutate(channel, &mutations));
    }

    #[test]
    fn tcp_streams_cut_anywhere_never_panic(
        shapes in prop::collection::vec(request_shape(), 1..6),
        garbage in prop::collection::vec(any::<u8>(), 0..64),
        cuts in prop::collection::vec(1usize..97, 1..40),
        mutations in prop::collection::vec(mutation(), 0..3),
    ) {
        let mut relay = Relay::new();
        let mut stream = Vec::new();
        for shape in &shapes {
            stream.extend(shape.encode(&relay, 1));
            // ChannelData, padded as over TCP.
            stream.extend_from_slice(&[0x40, 0x00, 0x00, 0x03, 1, 2, 3, 0]);
        }
        stream = mutate(stream, &mutations);
        stream.extend_from_slice(&garbage);
        let mut framer = Framer::new();
        let mut rest = stream.as_slice();
        for cut in cuts.iter().cycle().take(stream.len()) {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at((*cut).min(rest.len()));
            rest = tail;
            framer.push(chunk);
            let mut frames = Vec::new();
            let broken = loop {
                match framer.next_frame() {
                    Ok(Some(frame)) => frames.push(frame.to_vec()),
                    Ok(None) => break false,
                    Err(_) => break true,
                }
            };
            for frame in frames {
                relay.send(1, &frame);
            }
            if broken {
                // The driver closes the connection here.
                let from = relay.clients[1].tuple;
                relay.input(Input::ClientClosed(from));
                break;
            }
        }
    }
}
