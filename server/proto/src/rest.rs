//! REST bodies under `/api/v1`.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// Every error, on REST and on the WebSocket. `code` is stable and meant for
/// programs; `message` is English meant for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

/// Who may create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationMode {
    /// Anyone who can reach the server.
    Open,
    /// Only someone holding a valid room invite code.
    Invite,
    /// Nobody (except the very first account, which becomes the admin).
    Closed,
}

/// Public facts about the server, readable without an account.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct ServerInfo {
    pub version: String,
    pub registration: RegistrationMode,
    /// True until the first account exists; that account becomes the admin.
    pub first_account: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct User {
    #[ts(type = "number")]
    pub id: i64,
    pub username: String,
    pub email: String,
    pub is_admin: bool,
    #[ts(type = "number")]
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct RegisterRequest {
    /// 3–32 characters: letters, digits, `_`, `-`, `.`.
    pub username: String,
    pub email: String,
    /// At least 8 characters.
    pub password: String,
    /// Required when registration is `invite`; the new account joins that room.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub invite_code: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct LoginRequest {
    /// Username or email.
    pub login: String,
    pub password: String,
}

/// Browsers send an empty body and rely on the `HttpOnly` refresh cookie;
/// other clients send the token they were given.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, ToSchema)]
pub struct RefreshRequest {
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub refresh_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct AuthResponse {
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Seconds until `access_token` expires.
    #[ts(type = "number")]
    pub expires_in: i64,
    /// Single-use refresh token; also set as an `HttpOnly` cookie.
    pub refresh_token: String,
    pub user: User,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Listed to everyone on the server; anyone may join.
    Public,
    /// Joined only through an invite.
    Private,
}

/// A member's role in a room. Ordered: `Guest < Member < Owner`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Chat and call; cannot invite or manage.
    Guest,
    /// Chat, call, share and invite.
    Member,
    /// Everything, including managing members and deleting the room.
    Owner,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    Online,
    /// In a call, or set by the user.
    Busy,
    Offline,
}

/// How a room's calls carry media, chosen by its owner.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CallTopology {
    /// Peer-to-peer up to the server's mesh limit, the SFU above it.
    #[default]
    Auto,
    /// Always peer-to-peer.
    Mesh,
    /// Always through the server's SFU.
    Sfu,
}

/// A room as one user sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct Room {
    #[ts(type = "number")]
    pub id: i64,
    pub name: String,
    pub visibility: Visibility,
    pub call_topology: CallTopology,
    /// The viewer's role; absent when the viewer is not a member (public rooms).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub role: Option<Role>,
    #[ts(type = "number")]
    pub member_count: i64,
    /// Messages from others after the viewer's read marker.
    #[ts(type = "number")]
    pub unread: i64,
    #[ts(type = "number")]
    pub created_at: i64,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub last_message_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct CreateRoomRequest {
    /// 1–80 characters.
    pub name: String,
    pub visibility: Visibility,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, ToSchema)]
pub struct UpdateRoomRequest {
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub name: Option<String>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub visibility: Option<Visibility>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub call_topology: Option<CallTopology>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct Member {
    #[ts(type = "number")]
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub presence: Presence,
    #[ts(type = "number")]
    pub joined_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct UpdateMemberRequest {
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct Message {
    /// Increases with every message on the server; the paging cursor.
    #[ts(type = "number")]
    pub id: i64,
    #[ts(type = "number")]
    pub room_id: i64,
    #[ts(type = "number")]
    pub author_id: i64,
    pub author: String,
    /// The sender's idempotency key.
    pub client_id: String,
    /// Markdown source. Clients render it as text, never as HTML.
    pub body: String,
    #[ts(type = "number")]
    pub created_at: i64,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub edited_at: Option<i64>,
}

/// Messages in ascending id order.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    /// More messages exist beyond this page in the direction asked for.
    pub has_more: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct SendMessageRequest {
    /// Chosen by the client (a UUID, say); resending the same id never
    /// creates a second message.
    pub client_id: String,
    pub body: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct EditMessageRequest {
    pub body: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct MarkReadRequest {
    #[ts(type = "number")]
    pub message_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct Invite {
    pub code: String,
    #[ts(type = "number")]
    pub room_id: i64,
    /// The role given to whoever accepts.
    pub role: Role,
    #[ts(type = "number")]
    pub created_by: i64,
    #[ts(type = "number")]
    pub created_at: i64,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub expires_at: Option<i64>,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub max_uses: Option<i64>,
    #[ts(type = "number")]
    pub uses: i64,
    /// Link to share: `{public_url}/invite/{code}`.
    pub url: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS, ToSchema)]
pub struct CreateInviteRequest {
    /// Lifetime in seconds (60 s to 30 days); default 7 days.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub expires_in_secs: Option<i64>,
    /// How many accounts may use it; default unlimited.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub max_uses: Option<i64>,
    /// `member` (default) or `guest`.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub role: Option<Role>,
}

/// What an invite link shows before it is accepted.
#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct InvitePreview {
    #[ts(type = "number")]
    pub room_id: i64,
    pub room_name: String,
    pub role: Role,
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub expires_at: Option<i64>,
}

/// Where a user's push notifications go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NotificationBackend {
    /// No backend of the user's own: the server default, if one is configured.
    #[default]
    None,
    /// A Gotify server: `POST {url}/message` with the application token.
    Gotify,
    /// An ntfy server: JSON published to `{url}` with the topic inside.
    Ntfy,
    /// Any URL that takes a JSON `POST`.
    Webhook,
}

impl NotificationBackend {
    /// The name on the wire and in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationBackend::None => "none",
            NotificationBackend::Gotify => "gotify",
            NotificationBackend::Ntfy => "ntfy",
            NotificationBackend::Webhook => "webhook",
        }
    }

    pub fn parse(name: &str) -> Option<NotificationBackend> {
        [
            NotificationBackend::None,
            NotificationBackend::Gotify,
            NotificationBackend::Ntfy,
            NotificationBackend::Webhook,
        ]
        .into_iter()
        .find(|backend| backend.as_str() == name)
    }
}

/// Which events are pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct NotificationEvents {
    /// Chat messages in a room the user is not looking at.
    pub messages: bool,
    /// A call starting in one of the user's rooms.
    pub calls: bool,
    /// A file offered to one of the user's devices.
    pub files: bool,
    /// Someone joining a room through an invitation link the user made.
    pub invitations: bool,
}

impl Default for NotificationEvents {
    fn default() -> Self {
        NotificationEvents {
            messages: true,
            calls: true,
            files: true,
            invitations: true,
        }
    }
}

/// A daily window in which nothing is pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct QuietHours {
    /// `HH:MM`, local time.
    pub start: String,
    /// `HH:MM`, local time; before `start` when the window spans midnight.
    pub end: String,
    /// The user's offset from UTC when saved, in minutes (60 for UTC+1).
    #[ts(type = "number")]
    pub utc_offset_minutes: i64,
}

/// A user's push notification settings. The token is never returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct NotificationSettings {
    pub backend: NotificationBackend,
    /// Gotify or ntfy server base URL, or the webhook URL; `""` for none.
    pub url: String,
    /// The ntfy topic; `""` otherwise.
    pub topic: String,
    /// Whether a Gotify app token, ntfy access token or webhook bearer is stored.
    pub token_set: bool,
    pub events: NotificationEvents,
    pub quiet_hours: Option<QuietHours>,
    /// What the server-wide configuration provides (`none` if nothing).
    pub server_default: NotificationBackend,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS, ToSchema)]
pub struct NotificationSettingsUpdate {
    pub backend: NotificationBackend,
    pub url: String,
    pub topic: String,
    /// Absent or `null`: keep the stored token; `""`: clear it; otherwise replace it.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional = nullable)]
    pub token: Option<String>,
    pub events: NotificationEvents,
    pub quiet_hours: Option<QuietHours>,
}

/// The outcome of `POST /me/notifications/test`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct NotificationTestResult {
    /// The receiver answered 2xx.
    pub delivered: bool,
    /// Why not, for people (never contains the token).
    pub error: Option<String>,
}

/// A signed-in browser or client (not revoked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct SessionInfo {
    #[ts(type = "number")]
    pub id: i64,
    #[ts(type = "number")]
    pub created_at: i64,
    /// The last sign-in or token refresh.
    #[ts(type = "number | null")]
    pub last_seen_at: Option<i64>,
    pub user_agent: Option<String>,
    /// The session making this request.
    pub current: bool,
}
