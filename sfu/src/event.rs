//! What the SFU tells the control server.

use crate::ids::{ParticipantId, RoomId, TrackId, TrackKind};
use crate::layers::Layer;

/// Something the control server should know or act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SfuEvent {
    /// Send this SDP offer to the participant's browser and hand its answer to
    /// [`Sfu::accept_answer`](crate::Sfu::accept_answer). The SFU offers when
    /// tracks are added to or removed from what the participant receives.
    ///
    /// An offer is only ever made after the answer to the participant's latest
    /// offer was returned, so the server must deliver that answer first (keep
    /// one ordered outgoing queue per participant).
    OfferNeeded {
        /// Whose browser gets the offer.
        participant: ParticipantId,
        /// The offer, as SDP text.
        sdp: String,
    },
    /// ICE and DTLS are up; media flows.
    Connected {
        /// Who connected.
        participant: ParticipantId,
    },
    /// The SFU removed the participant on its own; its id is free to join
    /// again. Not emitted for [`Sfu::leave`](crate::Sfu::leave).
    Disconnected {
        /// Who was removed.
        participant: ParticipantId,
        /// Why.
        reason: DisconnectReason,
    },
    /// A participant started publishing a track; everyone else in the room
    /// will receive it.
    TrackPublished {
        /// The new track.
        track: TrackId,
        /// Audio or video.
        kind: TrackKind,
        /// How many simulcast layers it arrives in (1 without simulcast).
        layers: usize,
    },
    /// A track is gone: its publisher stopped sending it or left.
    TrackUnpublished {
        /// The track that is gone.
        track: TrackId,
    },
    /// A subscriber now receives a different simulcast layer of a track.
    LayerChanged {
        /// Who receives the track.
        subscriber: ParticipantId,
        /// Which track.
        track: TrackId,
        /// The layer forwarded from now on.
        layer: Layer,
    },
    /// The SFU asked a publisher for a keyframe (PLI): for a new subscriber, a
    /// layer switch, or a subscriber's own request.
    KeyframeRequested {
        /// The track asked for.
        track: TrackId,
        /// The simulcast layer asked for, `None` without simulcast.
        rid: Option<String>,
    },
    /// The loudest participant of a room changed.
    ActiveSpeaker {
        /// The room.
        room: RoomId,
        /// Who speaks now.
        participant: ParticipantId,
    },
}

/// Why the SFU removed a participant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DisconnectReason {
    /// It never connected within
    /// [`SfuConfig::connect_timeout`](crate::SfuConfig::connect_timeout).
    ConnectTimeout,
    /// The browser stopped sending ICE consent checks: str0m's ICE-lite agent
    /// gives a path up after 15 s without a binding request, which is longer
    /// than browsers take to give up themselves.
    IceTimeout,
    /// The browser closed the connection (DTLS close_notify).
    ClosedByPeer,
    /// str0m closed the connection after a protocol error.
    ProtocolError(String),
    /// A bug in the SFU or str0m panicked while handling this participant.
    /// Only this participant was affected.
    InternalError,
}
