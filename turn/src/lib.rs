//! # mesh-turn: Mesh's STUN/TURN relay
//!
//! When two browsers cannot reach each other or the SFU directly (symmetric
//! NATs, UDP-hostile firewalls), media goes through this relay. It speaks STUN
//! Binding and TURN (RFC 8656: Allocate, Refresh, CreatePermission,
//! ChannelBind, Send/Data indications, ChannelData) to clients over UDP, TCP
//! and TLS, IPv4 and IPv6, and relays to peers over UDP.
//!
//! ## Two layers
//!
//! - [`Server`] is the protocol: a plain state machine that takes bytes and
//!   the time and returns bytes to send and the next deadline. It never
//!   touches a socket or reads a clock, so its tests run in simulated time.
//! - [`TurnServer`] (in [`driver`]) is the tokio glue: it owns the sockets,
//!   feeds the core and carries out what it says. The Mesh server embeds it
//!   with [`TurnServer::start`]; `mesh turn` runs it alone with [`run`].
//!
//! ## Using the core
//!
//! Feed an [`Input`], then drain [`Server::poll_output`] until it returns
//! [`Output::Timeout`] — after *every* input, so nothing waits in the queue:
//!
//! ```
//! use std::time::{Instant, SystemTime};
//! use mesh_turn::{Config, FiveTuple, Input, Output, Server, Transport};
//!
//! let config = Config {
//!     secret: "shared with the control server".into(),
//!     listen_udp: vec!["198.51.100.1:3478".parse().unwrap()],
//!     relay: mesh_turn::RelayConfig {
//!         bind_v4: Some("198.51.100.1".parse().unwrap()),
//!         ..Default::default()
//!     },
//!     ..Config::default()
//! };
//! let mut server = Server::new(&config, Instant::now(), SystemTime::now()).unwrap();
//!
//! // A STUN Binding request, as a browser sends to learn its public address.
//! let binding = [
//!     0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, // Binding request, no attributes
//!     1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,           // transaction id
//! ];
//! let client = FiveTuple {
//!     transport: Transport::Udp,
//!     client: "203.0.113.7:50000".parse().unwrap(),
//!     server: "198.51.100.1:3478".parse().unwrap(),
//! };
//! server.handle_input(Instant::now(), Input::Client { from: client, data: &binding });
//!
//! let Output::Transmit(response) = server.poll_output() else { panic!() };
//! assert_eq!(response.destination, client.client);
//! // Send `response.data` from `response.source`, then keep draining:
//! assert!(matches!(server.poll_output(), Output::Timeout(_)));
//! ```
//!
//! TURN requests go the same way. The core answers the first Allocate with
//! 401 and a nonce, checks the retried one against the REST secret, picks a
//! relay port and asks the driver to bind it ([`Event::BindRelay`], answered
//! with [`Input::RelayBound`]); only then does the client get its relay
//! address. Datagrams arriving on relay sockets come back as [`Input::Peer`].
//!
//! ## The rules, each enforced in one place
//!
//! - **Credentials** ([`credentials`]): `username = "<expiry>:<user id>"`,
//!   `password = base64(HMAC-SHA1(secret, username))`. The expiry is checked
//!   at Allocate only, so a call that outlives its credentials keeps relaying.
//!   Nonces are stateless HMACs with a timestamp.
//! - **Peers** ([`PolicyConfig`]): deny by default. Loopback, private, link-local,
//!   CGNAT, multicast, reserved and the server's own addresses are refused
//!   after unwrapping IPv4-mapped and similar IPv6 forms; the embedded SFU's
//!   media address is the one internal destination allowed. Two allocations
//!   on this relay talk to each other in-process.
//! - **Quotas** ([`Quotas`]): allocations per user (486), in total (508),
//!   bandwidth per allocation (dropped packets), permissions per allocation.
//! - **Lifetimes** ([`Lifetimes`]): allocations 600 s by default and
//!   3600 s at most, permissions 300 s, channels 600 s.
//!
//! ## Running it
//!
//! ```no_run
//! # async fn example() -> Result<(), mesh_turn::Error> {
//! let config = mesh_turn::Config {
//!     secret: "shared with the control server".into(),
//!     relay: mesh_turn::RelayConfig {
//!         public_v4: Some("203.0.113.10".parse().unwrap()),
//!         ..Default::default()
//!     },
//!     ..Default::default()
//! };
//! let turn = mesh_turn::TurnServer::start(config).await?;
//! println!("relayed so far: {} bytes", turn.metrics().bytes_relayed);
//! turn.stop().await;
//! # Ok(()) }
//! ```
//!
//! The design choices (why a core of our own on `stun-types`/`turn-types`, a
//! socket per allocation, the policy) are recorded in `docs/decisions/0006-turn-relay.md`.

mod allocation;
mod auth;
mod config;
pub mod credentials;
pub mod driver;
mod error;
mod five_tuple;
pub mod framing;
mod message;
mod metrics;
mod nonce;
mod policy;
mod ports;
pub mod probe;
mod quota;
mod reservation;
mod rng;
mod server;
mod timers;

pub use config::{Config, Lifetimes, RelayConfig};
pub use driver::{run, LocalAddrs, TurnServer};
pub use error::Error;
pub use five_tuple::{FiveTuple, Transport};
pub use metrics::{Metrics, MetricsSnapshot, Refusal, Refusals};
pub use policy::{is_public_unicast, PolicyConfig};
pub use quota::Quotas;
pub use server::{Event, Input, Output, Server, Transmit};
