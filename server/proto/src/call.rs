//! Calls: membership, topology and the signaling relayed between participants.
//!
//! A call belongs to a room. Each browser tab in it is a *participant* with a
//! server-chosen `participant_id`; the server relays WebRTC signaling only
//! between participants of the same call, and tells every room member who is
//! in the call and which topology it uses.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// The participant id that stands for the server's SFU in `call.signal`.
pub const SFU_PARTICIPANT: &str = "sfu";

/// Largest SDP the server relays, in bytes. An SFU offer carries three
/// m-lines per other participant, about 1 KiB each.
pub const MAX_SDP_BYTES: usize = 128 * 1024;
/// Largest ICE candidate line the server relays, in bytes.
pub const MAX_CANDIDATE_BYTES: usize = 1024;

/// What a participant is sending. The others show muted states from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct MediaState {
    pub audio: bool,
    pub video: bool,
    pub screen: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TopologyMode {
    /// Every participant connects to every other.
    Mesh,
    /// Every participant connects to the server's SFU.
    Sfu,
}

/// How media flows in a call. `epoch` increases with every change, so a client
/// can tell a new decision from a late copy of an old one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct Topology {
    pub mode: TopologyMode,
    #[ts(type = "number")]
    pub epoch: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct CallParticipant {
    pub participant_id: String,
    #[ts(type = "number")]
    pub user_id: i64,
    pub username: String,
    pub media: MediaState,
    #[ts(type = "number")]
    pub joined_at: i64,
}

/// Who is in a room's call. No participants means no call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct CallState {
    #[ts(type = "number")]
    pub room_id: i64,
    /// Increases with every change on the server; a client keeps the state
    /// with the highest revision it has seen, so a late event never undoes a
    /// newer one.
    #[ts(type = "number")]
    pub revision: u64,
    pub participants: Vec<CallParticipant>,
    pub topology: Topology,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub started_at: Option<i64>,
}

/// One entry of `RTCConfiguration.iceServers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub username: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub credential: Option<String>,
}

/// The ICE servers a client should use; never a third party's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct IceServers {
    pub ice_servers: Vec<IceServer>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum SdpType {
    Offer,
    Answer,
    Pranswer,
    Rollback,
}

/// `RTCSessionDescriptionInit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SessionDescription {
    #[serde(rename = "type")]
    pub kind: SdpType,
    #[serde(default)]
    pub sdp: String,
}

/// `RTCIceCandidateInit`, field names as the browser spells them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    pub candidate: String,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub sdp_mid: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub sdp_m_line_index: Option<u16>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub username_fragment: Option<String>,
}

/// What one participant's browser tells another's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    Description(SessionDescription),
    Candidate(IceCandidate),
}

// Client → server payloads.

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct JoinCall {
    #[ts(type = "number")]
    pub room_id: i64,
    pub media: MediaState,
    /// After a reconnect: the participant id this tab had, to take its place
    /// again without the others seeing it leave.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub resume: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct LeaveCall {
    #[ts(type = "number")]
    pub room_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SendSignal {
    #[ts(type = "number")]
    pub room_id: i64,
    /// The participant it is for.
    pub to: String,
    pub signal: Signal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SetMedia {
    #[ts(type = "number")]
    pub room_id: i64,
    pub media: MediaState,
}

/// The best simulcast layer a subscriber wants of one publisher's video:
/// what its tile can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum VideoLayer {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SetLayer {
    #[ts(type = "number")]
    pub room_id: i64,
    /// Whose video.
    pub publisher: String,
    pub max_layer: VideoLayer,
}

// Server → client payloads.

/// Answer to `call.join`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CallJoined {
    pub participant_id: String,
    pub call: CallState,
    pub ice_servers: Vec<IceServer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SignalReceived {
    #[ts(type = "number")]
    pub room_id: i64,
    pub from: String,
    pub signal: Signal,
}

/// A call started in one of the user's rooms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CallRing {
    #[ts(type = "number")]
    pub room_id: i64,
    #[ts(type = "number")]
    pub user_id: i64,
    pub username: String,
}

/// The loudest participant of a call that uses the SFU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ActiveSpeaker {
    #[ts(type = "number")]
    pub room_id: i64,
    pub participant_id: String,
}
