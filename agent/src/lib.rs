//! The Mesh desktop agent: files, folders and terminals go straight from one
//! teammate's machine to another's over QUIC; the Mesh server only decides
//! who may talk to whom.
//!
//! # How a session comes about
//!
//! 1. `mesh-agent login` signs in with a password, makes the device's
//!    identity — an Ed25519 key and a self-signed certificate, in the agent
//!    [`home`] — and registers its SHA-256 fingerprint with the server
//!    ([`control::login`]).
//! 2. `mesh-agent run` opens a QUIC endpoint ([`transport`]), asks Mesh's
//!    STUN server for its address as seen from outside ([`stun`]), announces
//!    its addresses, and keeps a WebSocket to the server ([`agent::Agent`]).
//! 3. To send files or watch a terminal, a device asks the server for a
//!    session to a teammate's device. The server checks that the two people
//!    share a room and answers with a capability token: signed, valid two
//!    minutes, single use, naming the target device, the scope and the
//!    requester's fingerprint ([`path::Dialer::open`]).
//! 4. The requester dials the target, pinning the certificate fingerprint the
//!    server vouched for, and presents the token: directly, through a hole
//!    the target punched towards it, or through Mesh's TURN relay
//!    ([`path`], [`turn`]). The target has the server
//!    redeem it and requires the requester's certificate to have the
//!    fingerprint the token names ([`session::admit`]). Either check failing
//!    closes the connection with a reason ([`transport::close`]).
//!
//! # What travels
//!
//! - Files and folders ([`transfer`]): a [`manifest`] signed by the sender's
//!   device key, then each file as BLAKE3-hashed 1 MiB [`chunks`] verified
//!   before they are written; resumable; landed atomically.
//! - Terminals ([`terminal`]): one PTY fanned out to viewers, read-only
//!   unless the host grants control to one of them.
//!
//! Frames between agents are in [`wire`]; [`progress`] measures transfers.

pub mod agent;
pub mod chunks;
pub mod control;
pub mod home;
pub mod identity;
pub mod manifest;
pub mod path;
pub mod progress;
pub mod session;
pub mod stun;
pub mod terminal;
pub mod transfer;
pub mod transport;
pub mod turn;
pub mod wire;
