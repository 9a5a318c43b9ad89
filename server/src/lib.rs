//! The Mesh control server.
//!
//! `mesh serve` starts one process that holds the whole control plane:
//!
//! - [`api`]: REST under `/api/v1` (thin handlers, OpenAPI generated from them),
//! - [`ws`]: the WebSocket protocol at `/api/v1/ws`,
//! - the domain: [`auth`], [`rooms`], [`invites`], [`chat`], [`presence`],
//!   [`calls`] with [`topology`], with fan-out in the [`hub`],
//! - [`media`]: the embedded SFU (`mesh-sfu`) as the control plane drives it,
//! - [`relay`]: the built-in TURN relay (`mesh-turn`) and its credentials,
//! - [`store`]: the embedded SQLite database,
//! - [`web`]: the built web client, embedded in release builds.
//!
//! Handlers translate between the wire ([`mesh_proto`]) and the domain; the
//! domain knows nothing of HTTP; errors become responses in [`error`] only.

pub mod api;
pub mod auth;
pub mod calls;
pub mod chat;
pub mod config;
pub mod devices;
pub mod doctor;
pub mod error;
pub mod hub;
pub mod invites;
pub mod media;
pub mod metrics;
pub mod notify;
pub mod presence;
pub mod relay;
pub mod rooms;
pub mod secrets;
pub mod server;
pub mod store;
pub mod throttle;
pub mod tokens;
pub mod topology;
pub mod web;
pub mod ws;

use std::sync::Arc;

use crate::calls::Calls;
use crate::config::Config;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::throttle::LoginThrottle;
use crate::tokens::AccessTokens;

/// Everything a request handler or connection may need, shared by reference.
pub struct App {
    pub config: Config,
    /// The URL invite links are built on.
    pub public_url: String,
    pub store: Store,
    pub hub: Hub,
    pub calls: Calls,
    /// The embedded SFU, unless disabled or unable to start.
    pub media: Option<media::Media>,
    /// The built-in TURN relay, unless disabled or unable to start.
    pub relay: Option<relay::Relay>,
    pub tokens: AccessTokens,
    pub login_throttle: LoginThrottle,
    /// Argon2 takes 19 MiB and tens of milliseconds per hash: at most one
    /// hash per core runs at a time, so a burst of sign-ins cannot exhaust
    /// memory or starve everything else.
    pub password_hashing: tokio::sync::Semaphore,
    pub metrics: Metrics,
    /// Push notifications: who looks at what, and the outbox worker's wake-up.
    pub notify: notify::Notifier,
    /// Flips to true when the server begins shutting down.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

pub type SharedApp = Arc<App>;

/// Wall-clock time in Unix milliseconds, the unit of every stored timestamp.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
