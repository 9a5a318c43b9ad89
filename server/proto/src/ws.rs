//! The WebSocket protocol at `/api/v1/ws`.
//!
//! Every frame is a JSON text frame holding one envelope:
//!
//! ```json
//! { "v": 1, "id": "c42", "type": "message.send", "payload": { ... } }
//! ```
//!
//! `id` is optional and chosen by the client; when present, the server answers
//! that frame with exactly one `ack` (or `ready` for `auth`) or `error` frame
//! carrying the same `id`. Server-initiated events carry no `id`.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::agent::SessionOffer;
use crate::call::{
    ActiveSpeaker, CallJoined, CallRing, CallState, JoinCall, LeaveCall, SendSignal, SetLayer,
    SetMedia, SignalReceived,
};
use crate::rest::{ApiError, CallTopology, Member, Message, Presence, Role, User, Visibility};
use crate::PROTOCOL_VERSION;

/// A frame from client to server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ClientFrame {
    pub v: u32,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub id: Option<String>,
    #[serde(flatten)]
    pub event: ClientEvent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", content = "payload")]
pub enum ClientEvent {
    /// Must be the first frame, within 10 seconds of connecting.
    #[serde(rename = "auth")]
    Auth(AuthPayload),
    #[serde(rename = "message.send")]
    SendMessage(SendMessage),
    #[serde(rename = "message.edit")]
    EditMessage(EditMessage),
    #[serde(rename = "message.delete")]
    DeleteMessage(DeleteMessage),
    #[serde(rename = "typing")]
    Typing(TypingPayload),
    #[serde(rename = "room.read")]
    MarkRead(MarkRead),
    #[serde(rename = "presence.set")]
    SetPresence(SetPresence),
    /// Which room this tab shows and whether it is visible; decides whether
    /// the user is pushed notifications for that room.
    #[serde(rename = "focus")]
    SetFocus(SetFocus),
    /// Answered by `call.joined`.
    #[serde(rename = "call.join")]
    JoinCall(JoinCall),
    #[serde(rename = "call.leave")]
    LeaveCall(LeaveCall),
    /// Relayed to one participant of the same call as `call.signal`.
    #[serde(rename = "call.signal")]
    SendSignal(SendSignal),
    #[serde(rename = "call.media")]
    SetMedia(SetMedia),
    /// In SFU mode: the best layer this tab wants of a publisher's video.
    #[serde(rename = "call.layer")]
    SetLayer(SetLayer),
    #[serde(rename = "ping")]
    Ping,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AuthPayload {
    /// The access token (never put in the URL).
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SendMessage {
    #[ts(type = "number")]
    pub room_id: i64,
    pub client_id: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EditMessage {
    #[ts(type = "number")]
    pub room_id: i64,
    #[ts(type = "number")]
    pub message_id: i64,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct DeleteMessage {
    #[ts(type = "number")]
    pub room_id: i64,
    #[ts(type = "number")]
    pub message_id: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TypingPayload {
    #[ts(type = "number")]
    pub room_id: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct MarkRead {
    #[ts(type = "number")]
    pub room_id: i64,
    #[ts(type = "number")]
    pub message_id: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SetPresence {
    /// `online` or `busy`; `offline` is only ever derived by the server.
    pub status: Presence,
}

/// The room a tab shows (`null` for none) and whether the page is visible.
/// A user is active in a room, and gets no pushes for it, while some tab of
/// theirs reports it focused and visible.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SetFocus {
    #[ts(type = "number | null")]
    pub room_id: Option<i64>,
    pub visible: bool,
}

/// A frame from server to client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ServerFrame {
    pub v: u32,
    /// The `id` of the client frame this answers; absent on pushed events.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub id: Option<String>,
    #[serde(flatten)]
    pub event: ServerEvent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", content = "payload")]
pub enum ServerEvent {
    /// Answer to `auth`: the connection is live.
    #[serde(rename = "ready")]
    Ready(Ready),
    /// Answer to a request that succeeded. `message.send` and `message.edit`
    /// carry the committed message.
    #[serde(rename = "ack")]
    Ack(Option<Message>),
    /// Answer to a request that failed, or (without `id`) a protocol error.
    #[serde(rename = "error")]
    Error(ApiError),
    #[serde(rename = "message.new")]
    MessageNew(Message),
    #[serde(rename = "message.updated")]
    MessageUpdated(Message),
    #[serde(rename = "message.deleted")]
    MessageDeleted(MessageDeleted),
    #[serde(rename = "typing")]
    Typing(Typing),
    #[serde(rename = "presence")]
    Presence(PresenceChanged),
    /// A room's name or visibility changed, or the viewer joined a room.
    #[serde(rename = "room.updated")]
    RoomUpdated(RoomChanged),
    #[serde(rename = "room.deleted")]
    RoomDeleted(RoomDeleted),
    #[serde(rename = "member.joined")]
    MemberJoined(MemberEvent),
    #[serde(rename = "member.updated")]
    MemberUpdated(MemberEvent),
    /// A member left or was removed; when `user_id` is the viewer, the room is
    /// gone from their list.
    #[serde(rename = "member.left")]
    MemberLeft(MemberLeft),
    /// Answer to `call.join`.
    #[serde(rename = "call.joined")]
    CallJoined(CallJoined),
    /// Who is in a room's call, sent to every member on every change and on
    /// connecting. An empty participant list means the call ended.
    #[serde(rename = "call.state")]
    CallState(CallState),
    /// A call started in one of the viewer's rooms.
    #[serde(rename = "call.ring")]
    CallRing(CallRing),
    #[serde(rename = "call.signal")]
    Signal(SignalReceived),
    /// In SFU mode: who is speaking loudest now.
    #[serde(rename = "call.speaker")]
    ActiveSpeaker(ActiveSpeaker),
    /// Someone opened a session to one of the viewer's devices.
    #[serde(rename = "device.session_offer")]
    SessionOffer(SessionOffer),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Ready {
    pub user: User,
    pub protocol: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct MessageDeleted {
    #[ts(type = "number")]
    pub room_id: i64,
    #[ts(type = "number")]
    pub message_id: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Typing {
    #[ts(type = "number")]
    pub room_id: i64,
    #[ts(type = "number")]
    pub user_id: i64,
    pub username: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PresenceChanged {
    #[ts(type = "number")]
    pub user_id: i64,
    pub status: Presence,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct RoomChanged {
    #[ts(type = "number")]
    pub room_id: i64,
    pub name: String,
    pub visibility: Visibility,
    pub call_topology: CallTopology,
    /// The viewer's role in the room.
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct RoomDeleted {
    #[ts(type = "number")]
    pub room_id: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct MemberEvent {
    #[ts(type = "number")]
    pub room_id: i64,
    pub member: Member,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct MemberLeft {
    #[ts(type = "number")]
    pub room_id: i64,
    #[ts(type = "number")]
    pub user_id: i64,
}

/// Why a client frame could not be decoded. `id` is recovered whenever the
/// frame was a JSON object with a string `id`, so the error can be matched to
/// the request that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub id: Option<String>,
    pub error: ApiError,
}

impl ClientFrame {
    /// Decodes one text frame. Never panics; every failure is a
    /// [`DecodeError`] with a stable code (`invalid_json`,
    /// `unsupported_version`, `invalid_event`) and a message naming the problem.
    pub fn decode(text: &str) -> Result<ClientFrame, DecodeError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| DecodeError {
            id: None,
            error: ApiError {
                code: "invalid_json".into(),
                message: format!("The frame is not valid JSON: {e}."),
            },
        })?;
        let id = value
            .get("id")
            .and_then(|id| id.as_str())
            .map(str::to_owned);
        let fail = |code: &str, message: String| DecodeError {
            id: id.clone(),
            error: ApiError {
                code: code.into(),
                message,
            },
        };
        if !value.is_object() {
            return Err(fail(
                "invalid_event",
                "A frame must be a JSON object with `v`, `type` and `payload`.".into(),
            ));
        }
        match value.get("v").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(PROTOCOL_VERSION) => {}
            Some(v) => {
                return Err(fail(
                    "unsupported_version",
                    format!(
                    "Protocol version {v} is not supported; this server speaks {PROTOCOL_VERSION}."
                ),
                ))
            }
            None => {
                return Err(fail(
                    "invalid_event",
                    "The frame has no numeric protocol version `v`.".into(),
                ))
            }
        }
        serde_json::from_value(value).map_err(|e| {
            fail(
                "invalid_event",
                format!("The frame is not a valid event: {e}."),
            )
        })
    }
}

impl ServerFrame {
    pub fn event(event: ServerEvent) -> Self {
        ServerFrame {
            v: PROTOCOL_VERSION,
            id: None,
            event,
        }
    }

    pub fn reply(id: Option<String>, event: ServerEvent) -> Self {
        ServerFrame {
            v: PROTOCOL_VERSION,
            id,
            event,
        }
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("server frames always serialize")
    }
}
