//! Desktop agents: devices, peer-to-peer sessions and the capability tokens
//! that let one device open a session to another.
//!
//! A *device* is one `mesh-agent` installation, known by the SHA-256
//! fingerprint of its self-signed certificate. To send files to a teammate's
//! device (or watch its terminal), a device asks the server for a *session*;
//! the server checks that the two people share a room and answers with a
//! short-lived, single-use *capability token* whose audience is the target
//! device. The requester dials the target directly over QUIC and presents the
//! token; the target has the server redeem it (which is what makes it single
//! use) and pins the requester's certificate to the fingerprint it names.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// How long a capability token is valid, in seconds.
pub const CAPABILITY_TTL_SECS: i64 = 120;

/// Most addresses a device may announce.
pub const MAX_DEVICE_ADDRESSES: usize = 8;

/// One `mesh-agent` installation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct Device {
    #[ts(type = "number")]
    pub id: i64,
    /// The person it belongs to.
    #[ts(type = "number")]
    pub user_id: i64,
    pub username: String,
    /// Chosen by its owner, e.g. the host name.
    pub name: String,
    /// SHA-256 of the device certificate (DER), lowercase hex.
    pub fingerprint: String,
    /// Where its QUIC endpoint listens (`ip:port`), as last announced.
    pub addresses: Vec<String>,
    #[ts(type = "number")]
    pub created_at: i64,
    /// When it last announced its addresses.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub seen_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct RegisterDeviceRequest {
    /// 1–64 characters.
    pub name: String,
    /// SHA-256 of the device's self-signed certificate (DER), 64 hex digits.
    pub fingerprint: String,
}

/// A device announces where its QUIC endpoint can be reached.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct UpdateDeviceRequest {
    /// `ip:port` socket addresses, at most 8.
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionKind {
    /// Files and folders, from the requester to the target.
    File,
    /// The requester watches (and, if granted, types into) the target's terminal.
    Terminal,
}

/// What a capability token allows at the target device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, ToSchema)]
pub enum Scope {
    /// Offer files and folders (the target still accepts or declines).
    #[serde(rename = "file")]
    File,
    /// Watch a shared terminal, read-only.
    #[serde(rename = "terminal:view")]
    TerminalView,
    /// Watch a shared terminal and be eligible for control, which the host
    /// grants and revokes explicitly.
    #[serde(rename = "terminal:control")]
    TerminalControl,
}

impl Scope {
    /// The session kind this scope belongs to.
    pub fn kind(self) -> SessionKind {
        match self {
            Scope::File => SessionKind::File,
            Scope::TerminalView | Scope::TerminalControl => SessionKind::Terminal,
        }
    }
}

/// A peer-to-peer session, kept for audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct P2pSession {
    #[ts(type = "number")]
    pub id: i64,
    pub kind: SessionKind,
    pub scope: Scope,
    /// The requesting device.
    #[ts(type = "number")]
    pub from_device: i64,
    /// The device the token is for.
    #[ts(type = "number")]
    pub to_device: i64,
    #[ts(type = "number")]
    pub created_at: i64,
    /// When the target redeemed the token.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub accepted_at: Option<i64>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub closed_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct CreateSessionRequest {
    /// Which of the caller's devices will connect.
    #[ts(type = "number")]
    pub from_device: i64,
    #[ts(type = "number")]
    pub to_device: i64,
    pub kind: SessionKind,
    /// Must belong to `kind`.
    pub scope: Scope,
    /// Where the requester's dialling socket can be reached (`ip:port`, at
    /// most 8: its interface addresses and the reflexive address Mesh's STUN
    /// server saw). Forwarded to the target in [`SessionOffer::candidates`]
    /// so it can punch a hole in its NAT towards them.
    #[serde(default)]
    pub candidates: Vec<String>,
}

/// Answer to `POST /sessions`: what the requester needs to dial the target.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct SessionGrant {
    pub session: P2pSession,
    /// The capability token to present to the target, once.
    pub token: String,
    #[ts(type = "number")]
    pub expires_at: i64,
    /// The target, with the fingerprint to pin and the addresses to dial.
    pub target: Device,
}

/// What a capability token says. Signed by the server (HS256 with a key
/// derived from its token key); only the server verifies it, when the target
/// redeems it, so the key never leaves the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct CapabilityClaims {
    /// Always `mesh-capability`: never mistaken for an access token.
    pub iss: String,
    /// The target device id, in decimal (JWT audiences are strings).
    pub aud: String,
    pub scope: Scope,
    /// The requester's certificate fingerprint the target must see.
    pub fpr: String,
    /// The requesting device.
    #[ts(type = "number")]
    pub from_device: i64,
    /// The session id.
    #[ts(type = "number")]
    pub sid: i64,
    /// Issued at, Unix seconds.
    #[ts(type = "number")]
    pub iat: i64,
    /// Expires at, Unix seconds (60–180 s after `iat`).
    #[ts(type = "number")]
    pub exp: i64,
    /// Unique id; redeemed once.
    pub jti: String,
}

/// The target device asks the server to check and consume a token it was shown.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct RedeemRequest {
    /// The redeeming device: must be the token's audience and the caller's.
    #[ts(type = "number")]
    pub device_id: i64,
    pub token: String,
}

/// A redeemed token: what the requester may do, and who it must be.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct Capability {
    pub session: P2pSession,
    pub scope: Scope,
    /// The requesting device; its `fingerprint` is the certificate to pin.
    pub requester: Device,
}

/// Pushed to the target user's connections when a session to one of their
/// devices is created, so the agent (or a browser tab) can tell the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SessionOffer {
    pub session: P2pSession,
    /// The requesting device and its owner, as the server knows them.
    pub from: Device,
    /// The requester's candidate addresses for this session (validated
    /// `ip:port`s), which the target sends punch datagrams to.
    #[serde(default)]
    pub candidates: Vec<String>,
}
