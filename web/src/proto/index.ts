// Generated from server/proto (mesh-proto) by `make proto`. Do not edit.

export type ApiError = { code: string, message: string, };

export type RegistrationMode = "open" | "invite" | "closed";

export type ServerInfo = { version: string, registration: RegistrationMode, 
/**
 * True until the first account exists; that account becomes the admin.
 */
first_account: boolean, };

export type User = { id: number, username: string, email: string, is_admin: boolean, created_at: number, };

export type RegisterRequest = { 
/**
 * 3–32 characters: letters, digits, `_`, `-`, `.`.
 */
username: string, email: string, 
/**
 * At least 8 characters.
 */
password: string, 
/**
 * Required when registration is `invite`; the new account joins that room.
 */
invite_code?: string, };

export type LoginRequest = { 
/**
 * Username or email.
 */
login: string, password: string, };

export type RefreshRequest = { refresh_token?: string, };

export type AuthResponse = { 
/**
 * Short-lived JWT for `Authorization: Bearer`.
 */
access_token: string, 
/**
 * Seconds until `access_token` expires.
 */
expires_in: number, 
/**
 * Single-use refresh token; also set as an `HttpOnly` cookie.
 */
refresh_token: string, user: User, };

export type Visibility = "public" | "private";

export type CallTopology = "auto" | "mesh" | "sfu";

export type Role = "guest" | "member" | "owner";

export type Presence = "online" | "busy" | "offline";

export type Room = { id: number, name: string, visibility: Visibility, call_topology: CallTopology, 
/**
 * The viewer's role; absent when the viewer is not a member (public rooms).
 */
role?: Role, member_count: number, 
/**
 * Messages from others after the viewer's read marker.
 */
unread: number, created_at: number, last_message_at?: number, };

export type CreateRoomRequest = { 
/**
 * 1–80 characters.
 */
name: string, visibility: Visibility, };

export type UpdateRoomRequest = { name?: string, visibility?: Visibility, call_topology?: CallTopology, };

export type Member = { user_id: number, username: string, role: Role, presence: Presence, joined_at: number, };

export type UpdateMemberRequest = { role: Role, };

export type Message = { 
/**
 * Increases with every message on the server; the paging cursor.
 */
id: number, room_id: number, author_id: number, author: string, 
/**
 * The sender's idempotency key.
 */
client_id: string, 
/**
 * Markdown source. Clients render it as text, never as HTML.
 */
body: string, created_at: number, edited_at?: number, };

export type MessagePage = { messages: Array<Message>, 
/**
 * More messages exist beyond this page in the direction asked for.
 */
has_more: boolean, };

export type SendMessageRequest = { 
/**
 * Chosen by the client (a UUID, say); resending the same id never
 * creates a second message.
 */
client_id: string, body: string, };

export type EditMessageRequest = { body: string, };

export type MarkReadRequest = { message_id: number, };

export type Invite = { code: string, room_id: number, 
/**
 * The role given to whoever accepts.
 */
role: Role, created_by: number, created_at: number, expires_at?: number, max_uses?: number, uses: number, 
/**
 * Link to share: `{public_url}/invite/{code}`.
 */
url: string, };

export type CreateInviteRequest = { 
/**
 * Lifetime in seconds (60 s to 30 days); default 7 days.
 */
expires_in_secs?: number, 
/**
 * How many accounts may use it; default unlimited.
 */
max_uses?: number, 
/**
 * `member` (default) or `guest`.
 */
role?: Role, };

export type InvitePreview = { room_id: number, room_name: string, role: Role, expires_at?: number, };

export type NotificationBackend = "none" | "gotify" | "ntfy" | "webhook";

export type NotificationEvents = { 
/**
 * Chat messages in a room the user is not looking at.
 */
messages: boolean, 
/**
 * A call starting in one of the user's rooms.
 */
calls: boolean, 
/**
 * A file offered to one of the user's devices.
 */
files: boolean, 
/**
 * Someone joining a room through an invitation link the user made.
 */
invitations: boolean, };

export type QuietHours = { 
/**
 * `HH:MM`, local time.
 */
start: string, 
/**
 * `HH:MM`, local time; before `start` when the window spans midnight.
 */
end: string, 
/**
 * The user's offset from UTC when saved, in minutes (60 for UTC+1).
 */
utc_offset_minutes: number, };

export type NotificationSettings = { backend: NotificationBackend, 
/**
 * Gotify or ntfy server base URL, or the webhook URL; `""` for none.
 */
url: string, 
/**
 * The ntfy topic; `""` otherwise.
 */
topic: string, 
/**
 * Whether a Gotify app token, ntfy access token or webhook bearer is stored.
 */
token_set: boolean, events: NotificationEvents, quiet_hours: QuietHours | null, 
/**
 * What the server-wide configuration provides (`none` if nothing).
 */
server_default: NotificationBackend, };

export type NotificationSettingsUpdate = { backend: NotificationBackend, url: string, topic: string, 
/**
 * Absent or `null`: keep the stored token; `""`: clear it; otherwise replace it.
 */
token?: string | null, events: NotificationEvents, quiet_hours: QuietHours | null, };

export type NotificationTestResult = { 
/**
 * The receiver answered 2xx.
 */
delivered: boolean, 
/**
 * Why not, for people (never contains the token).
 */
error: string | null, };

export type SessionInfo = { id: number, created_at: number, 
/**
 * The last sign-in or token refresh.
 */
last_seen_at: number | null, user_agent: string | null, 
/**
 * The session making this request.
 */
current: boolean, };

export type ClientFrame = { v: number, id?: string, } & ({ "type": "auth", "payload": AuthPayload } | { "type": "message.send", "payload": SendMessage } | { "type": "message.edit", "payload": EditMessage } | { "type": "message.delete", "payload": DeleteMessage } | { "type": "typing", "payload": TypingPayload } | { "type": "room.read", "payload": MarkRead } | { "type": "presence.set", "payload": SetPresence } | { "type": "focus", "payload": SetFocus } | { "type": "call.join", "payload": JoinCall } | { "type": "call.leave", "payload": LeaveCall } | { "type": "call.signal", "payload": SendSignal } | { "type": "call.media", "payload": SetMedia } | { "type": "call.layer", "payload": SetLayer } | { "type": "ping" });

export type ClientEvent = { "type": "auth", "payload": AuthPayload } | { "type": "message.send", "payload": SendMessage } | { "type": "message.edit", "payload": EditMessage } | { "type": "message.delete", "payload": DeleteMessage } | { "type": "typing", "payload": TypingPayload } | { "type": "room.read", "payload": MarkRead } | { "type": "presence.set", "payload": SetPresence } | { "type": "focus", "payload": SetFocus } | { "type": "call.join", "payload": JoinCall } | { "type": "call.leave", "payload": LeaveCall } | { "type": "call.signal", "payload": SendSignal } | { "type": "call.media", "payload": SetMedia } | { "type": "call.layer", "payload": SetLayer } | { "type": "ping" };

export type ServerFrame = { v: number, 
/**
 * The `id` of the client frame this answers; absent on pushed events.
 */
id?: string, } & ({ "type": "ready", "payload": Ready } | { "type": "ack", "payload": Message | null } | { "type": "error", "payload": ApiError } | { "type": "message.new", "payload": Message } | { "type": "message.updated", "payload": Message } | { "type": "message.deleted", "payload": MessageDeleted } | { "type": "typing", "payload": Typing } | { "type": "presence", "payload": PresenceChanged } | { "type": "room.updated", "payload": RoomChanged } | { "type": "room.deleted", "payload": RoomDeleted } | { "type": "member.joined", "payload": MemberEvent } | { "type": "member.updated", "payload": MemberEvent } | { "type": "member.left", "payload": MemberLeft } | { "type": "call.joined", "payload": CallJoined } | { "type": "call.state", "payload": CallState } | { "type": "call.ring", "payload": CallRing } | { "type": "call.signal", "payload": SignalReceived } | { "type": "call.speaker", "payload": ActiveSpeaker } | { "type": "device.session_offer", "payload": SessionOffer });

export type ServerEvent = { "type": "ready", "payload": Ready } | { "type": "ack", "payload": Message | null } | { "type": "error", "payload": ApiError } | { "type": "message.new", "payload": Message } | { "type": "message.updated", "payload": Message } | { "type": "message.deleted", "payload": MessageDeleted } | { "type": "typing", "payload": Typing } | { "type": "presence", "payload": PresenceChanged } | { "type": "room.updated", "payload": RoomChanged } | { "type": "room.deleted", "payload": RoomDeleted } | { "type": "member.joined", "payload": MemberEvent } | { "type": "member.updated", "payload": MemberEvent } | { "type": "member.left", "payload": MemberLeft } | { "type": "call.joined", "payload": CallJoined } | { "type": "call.state", "payload": CallState } | { "type": "call.ring", "payload": CallRing } | { "type": "call.signal", "payload": SignalReceived } | { "type": "call.speaker", "payload": ActiveSpeaker } | { "type": "device.session_offer", "payload": SessionOffer };

export type AuthPayload = { 
/**
 * The access token (never put in the URL).
 */
token: string, };

export type SendMessage = { room_id: number, client_id: string, body: string, };

export type EditMessage = { room_id: number, message_id: number, body: string, };

export type DeleteMessage = { room_id: number, message_id: number, };

export type TypingPayload = { room_id: number, };

export type MarkRead = { room_id: number, message_id: number, };

export type SetPresence = { 
/**
 * `online` or `busy`; `offline` is only ever derived by the server.
 */
status: Presence, };

export type SetFocus = { room_id: number | null, visible: boolean, };

export type Ready = { user: User, protocol: number, };

export type MessageDeleted = { room_id: number, message_id: number, };

export type Typing = { room_id: number, user_id: number, username: string, };

export type PresenceChanged = { user_id: number, status: Presence, };

export type RoomChanged = { room_id: number, name: string, visibility: Visibility, call_topology: CallTopology, 
/**
 * The viewer's role in the room.
 */
role: Role, };

export type RoomDeleted = { room_id: number, };

export type MemberEvent = { room_id: number, member: Member, };

export type MemberLeft = { room_id: number, user_id: number, };

export type MediaState = { audio: boolean, video: boolean, screen: boolean, };

export type TopologyMode = "mesh" | "sfu";

export type Topology = { mode: TopologyMode, epoch: number, };

export type CallParticipant = { participant_id: string, user_id: number, username: string, media: MediaState, joined_at: number, };

export type CallState = { room_id: number, 
/**
 * Increases with every change on the server; a client keeps the state
 * with the highest revision it has seen, so a late event never undoes a
 * newer one.
 */
revision: number, participants: Array<CallParticipant>, topology: Topology, started_at?: number, };

export type IceServer = { urls: Array<string>, username?: string, credential?: string, };

export type IceServers = { ice_servers: Array<IceServer>, };

export type SdpType = "offer" | "answer" | "pranswer" | "rollback";

export type SessionDescription = { type: SdpType, sdp: string, };

export type IceCandidate = { candidate: string, sdpMid?: string, sdpMLineIndex?: number, usernameFragment?: string, };

export type Signal = { "description": SessionDescription } | { "candidate": IceCandidate };

export type JoinCall = { room_id: number, media: MediaState, 
/**
 * After a reconnect: the participant id this tab had, to take its place
 * again without the others seeing it leave.
 */
resume?: string, };

export type LeaveCall = { room_id: number, };

export type SendSignal = { room_id: number, 
/**
 * The participant it is for.
 */
to: string, signal: Signal, };

export type SetMedia = { room_id: number, media: MediaState, };

export type CallJoined = { participant_id: string, call: CallState, ice_servers: Array<IceServer>, };

export type SignalReceived = { room_id: number, from: string, signal: Signal, };

export type CallRing = { room_id: number, user_id: number, username: string, };

export type VideoLayer = "low" | "medium" | "high";

export type SetLayer = { room_id: number, 
/**
 * Whose video.
 */
publisher: string, max_layer: VideoLayer, };

export type ActiveSpeaker = { room_id: number, participant_id: string, };

export type Device = { id: number, 
/**
 * The person it belongs to.
 */
user_id: number, username: string, 
/**
 * Chosen by its owner, e.g. the host name.
 */
name: string, 
/**
 * SHA-256 of the device certificate (DER), lowercase hex.
 */
fingerprint: string, 
/**
 * Where its QUIC endpoint listens (`ip:port`), as last announced.
 */
addresses: Array<string>, created_at: number, 
/**
 * When it last announced its addresses.
 */
seen_at?: number, };

export type RegisterDeviceRequest = { 
/**
 * 1–64 characters.
 */
name: string, 
/**
 * SHA-256 of the device's self-signed certificate (DER), 64 hex digits.
 */
fingerprint: string, };

export type UpdateDeviceRequest = { 
/**
 * `ip:port` socket addresses, at most 8.
 */
addresses: Array<string>, };

export type SessionKind = "file" | "terminal";

export type Scope = "file" | "terminal:view" | "terminal:control";

export type P2pSession = { id: number, kind: SessionKind, scope: Scope, 
/**
 * The requesting device.
 */
from_device: number, 
/**
 * The device the token is for.
 */
to_device: number, created_at: number, 
/**
 * When the target redeemed the token.
 */
accepted_at?: number, closed_at?: number, };

export type CreateSessionRequest = { 
/**
 * Which of the caller's devices will connect.
 */
from_device: number, to_device: number, kind: SessionKind, 
/**
 * Must belong to `kind`.
 */
scope: Scope, 
/**
 * Where the requester's dialling socket can be reached (`ip:port`, at
 * most 8: its interface addresses and the reflexive address Mesh's STUN
 * server saw). Forwarded to the target in [`SessionOffer::candidates`]
 * so it can punch a hole in its NAT towards them.
 */
candidates: Array<string>, };

export type SessionGrant = { session: P2pSession, 
/**
 * The capability token to present to the target, once.
 */
token: string, expires_at: number, 
/**
 * The target, with the fingerprint to pin and the addresses to dial.
 */
target: Device, };

export type CapabilityClaims = { 
/**
 * Always `mesh-capability`: never mistaken for an access token.
 */
iss: string, 
/**
 * The target device id, in decimal (JWT audiences are strings).
 */
aud: string, scope: Scope, 
/**
 * The requester's certificate fingerprint the target must see.
 */
fpr: string, 
/**
 * The requesting device.
 */
from_device: number, 
/**
 * The session id.
 */
sid: number, 
/**
 * Issued at, Unix seconds.
 */
iat: number, 
/**
 * Expires at, Unix seconds (60–180 s after `iat`).
 */
exp: number, 
/**
 * Unique id; redeemed once.
 */
jti: string, };

export type RedeemRequest = { 
/**
 * The redeeming device: must be the token's audience and the caller's.
 */
device_id: number, token: string, };

export type Capability = { session: P2pSession, scope: Scope, 
/**
 * The requesting device; its `fingerprint` is the certificate to pin.
 */
requester: Device, };

export type SessionOffer = { session: P2pSession, 
/**
 * The requesting device and its owner, as the server knows them.
 */
from: Device, 
/**
 * The requester's candidate addresses for this session (validated
 * `ip:port`s), which the target sends punch datagrams to.
 */
candidates: Array<string>, };
