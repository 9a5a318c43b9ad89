//! Mesh's selective forwarding unit (SFU).
//!
//! Once a call outgrows the browser-to-browser mesh, every browser sends its
//! audio and video once, to the SFU, and the SFU forwards it to everyone else
//! in the room. It is built on [str0m] and written the way str0m is: a
//! sans-IO core that is told the time and handed datagrams, and a thin
//! driver that owns the sockets.
//!
//! The SFU knows nothing of users, permissions or HTTP. The control server
//! decides who is in which room and relays SDP between browsers and the SFU;
//! the SFU moves media and says what happened.
//!
//! # Two layers
//!
//! * [`Sfu`], the core: a plain struct. [`Sfu::handle_input`] takes
//!   `(now, datagram)` or `(now, timeout)`; [`Sfu::poll_output`] gives back
//!   datagrams to send, [`SfuEvent`]s for the control server, and the time
//!   to call again. It never reads a clock or touches a socket, so tests
//!   drive it with simulated time and a simulated network.
//! * [`driver`], tokio glue: one task owns the core, a UDP socket and an
//!   ICE-TCP listener on the same port number, and [`driver::SfuHandle`]
//!   carries the control server's calls to it.
//!
//! # A participant's life
//!
//! 1. The server calls [`Sfu::join`]`(room, participant)`. A participant is
//!    one browser `RTCPeerConnection`; it carries what the browser sends and
//!    everything it receives.
//! 2. The browser adds its tracks (video with simulcast `sendEncodings`, rids
//!    such as `q`/`h`/`f`) and makes the first offer. A browser with nothing
//!    to send offers a data channel. The server hands the offer to
//!    [`Sfu::accept_offer`] and sends the returned answer back.
//! 3. The browser connects: the SFU is ICE-lite and offers one UDP and one
//!    passive ICE-TCP candidate per public IP. [`SfuEvent::Connected`]
//!    follows once DTLS is up, and [`SfuEvent::TrackPublished`] for each
//!    track it sends.
//! 4. Whenever the set of tracks a participant should receive changes, the
//!    SFU makes an offer: [`SfuEvent::OfferNeeded`]. The server relays it and
//!    hands the browser's answer to [`Sfu::accept_answer`]. Every forwarded
//!    track's `msid` stream id is its publisher's [`ParticipantId`], which is
//!    how the browser tells whose track arrived.
//! 5. [`Sfu::leave`] removes the participant; its tracks are withdrawn from
//!    everyone else by new offers. If the SFU removes a participant itself
//!    (ICE gone for 15 s, never connected, the browser closed, or a bug), it
//!    says so with [`SfuEvent::Disconnected`].
//!
//! # Signalling rules for the server
//!
//! * The browser makes the first offer; the SFU offers only after answering
//!   it.
//! * The SFU has at most one offer outstanding per participant and queues
//!   further changes into the next one (str0m allows one pending offer).
//! * If the browser's offer crosses an SFU offer, the SFU gives way: it
//!   answers the browser and offers again afterwards. The browser must be the
//!   *impolite* side of perfect negotiation and ignore an SFU offer that
//!   arrives while its own offer is outstanding.
//! * Deliver each participant's answers and offers in the order the SFU
//!   produced them (one ordered queue per participant).
//!
//! # Running the core
//!
//! Str0m's single-mutation invariant holds inside: every change to a
//! participant's `Rtc` is followed by draining its output. Unlike an `Rtc`,
//! the `Sfu` accepts several inputs before being polled; its output queues.
//!
//! ```no_run
//! use std::net::UdpSocket;
//! use std::time::Instant;
//!
//! use mesh_sfu::{Datagram, Input, Output, Protocol, Sfu, SfuConfig, SfuEvent};
//!
//! let public_ip = "198.51.100.7".parse().unwrap();
//! let socket = UdpSocket::bind("0.0.0.0:3478").unwrap();
//! let mut sfu = Sfu::new(SfuConfig::new(public_ip, 3478), Instant::now()).unwrap();
//!
//! // The control server, elsewhere: sfu.join(..), sfu.accept_offer(..), ...
//!
//! let mut buffer = vec![0; 2048];
//! loop {
//!     // Send and tell everything, learn the next deadline.
//!     let deadline = loop {
//!         match sfu.poll_output() {
//!             Output::Transmit(t) => {
//!                 socket.send_to(&t.contents, t.destination).unwrap();
//!             }
//!             Output::Event(SfuEvent::OfferNeeded { participant, sdp }) => {
//!                 // Relay to the participant's browser.
//!             }
//!             Output::Event(_) => {}
//!             Output::Timeout(deadline) => break deadline,
//!         }
//!     };
//!
//!     // Wait for a datagram or the deadline, whichever is first.
//!     let wait = deadline.saturating_duration_since(Instant::now());
//!     socket.set_read_timeout(Some(wait.max(std::time::Duration::from_millis(1)))).unwrap();
//!     match socket.recv_from(&mut buffer) {
//!         Ok((len, source)) => {
//!             let datagram = Datagram {
//!                 protocol: Protocol::Udp,
//!                 source,
//!                 destination: socket.local_addr().unwrap(),
//!                 contents: &buffer[..len],
//!             };
//!             sfu.handle_input(Instant::now(), Input::Datagram(datagram));
//!         }
//!         Err(_) => sfu.handle_input(Instant::now(), Input::Timeout),
//!     }
//! }
//! ```
//!
//! The [`driver`] is this loop done properly: tokio, ICE-TCP, batching, and
//! a command channel for the server's calls.
//!
//! # What is forwarded, and how
//!
//! * Codecs are Opus, VP8 and H.264, which every browser has.
//! * Frames, not packets: str0m reassembles each incoming frame and
//!   re-packetizes it on every subscriber's own send stream, so sequence
//!   numbers and NACK/RTX are str0m's per subscriber (see `DESIGN.md` in
//!   this crate for why). Frames are forwarded as they come, unpaced.
//! * Simulcast: each subscriber gets one layer of each video track, the best
//!   that fits its egress budget (loss-based, from its RTCP receiver reports)
//!   and the cap it asked for with [`Sfu::set_max_layer`]. Only layers that
//!   have flowed steadily for a second are moved up to. A switch waits for a keyframe of
//!   the new layer, which the SFU requests (PLI); RTP time is re-based so it
//!   runs on smoothly. [`SfuEvent::LayerChanged`] reports switches.
//! * Keyframe requests to a publisher are coalesced per layer: while one is
//!   on its way nobody asks again, for at most
//!   [`SfuConfig::keyframe_request_interval`]. Once it has come, a new
//!   subscriber or a layer switch asks again 350 ms after the last request
//!   (browsers ignore one sooner); repairs (a subscriber's own PLI, frames
//!   lost) stay spaced by the interval.
//! * The loudest speaker in a room, from the RFC 6464 audio levels browsers
//!   put on every audio packet, is reported with [`SfuEvent::ActiveSpeaker`].
//!
//! # Containment
//!
//! Every call into one participant's `Rtc` runs under `catch_unwind`. A panic,
//! or an error after which str0m closes the connection, removes that
//! participant ([`DisconnectReason::InternalError`] or
//! [`DisconnectReason::ProtocolError`]) and nobody else. Datagrams are routed
//! by a map from remote address, learned only from addresses str0m has
//! verified (see `demux.rs`), and by the ICE username of a STUN binding
//! request; anything else, or anything over [`MAX_DATAGRAM_LEN`] bytes, is
//! dropped and counted in [`Metrics`].
//!
//! # Where things live
//!
//! | module | concept |
//! |---|---|
//! | `sfu` | the core: participants, rooms, routing between them |
//! | `participant` | one browser's `Rtc`, its tracks and SDP negotiation |
//! | `publication`, `subscription` | a track as received, a track as sent to one subscriber |
//! | `room` | who is in a room |
//! | `forward` | the keyframe-gated layer switch and RTP time re-basing |
//! | `layers` | rid ordering and the per-subscriber layer allocation |
//! | `bitrate` | measuring each incoming layer and each subscriber's egress |
//! | `budget` | the loss-based egress budget of each subscriber |
//! | `speaker` | active speaker detection |
//! | `demux` | which participant a datagram is for |
//! | [`tcp_framing`] | RFC 4571 framing for ICE-TCP |
//! | [`driver`] | tokio sockets, timers and the command channel |
//!
//! [str0m]: https://docs.rs/str0m

mod bitrate;
mod budget;
mod config;
mod demux;
pub mod driver;
mod error;
mod event;
mod forward;
mod gso;
mod ids;
mod io;
mod layers;
mod metrics;
mod participant;
mod publication;
mod room;
mod sfu;
mod speaker;
mod stun_server;
mod subscription;
pub mod tcp_framing;

pub use config::SfuConfig;
pub use error::SfuError;
pub use event::{DisconnectReason, SfuEvent};
pub use ids::{Mid, ParticipantId, RoomId, TrackId, TrackKind};
pub use io::{Datagram, Input, Output, Protocol, Transmit, MAX_DATAGRAM_LEN};
pub use layers::Layer;
pub use metrics::{Metrics, MetricsSnapshot};
pub use sfu::Sfu;
