//! The one error type of this crate.

use crate::ids::ParticipantId;

/// Why a call into the SFU failed. These reach the control server, which
/// decides what, if anything, to tell the user.
#[derive(Debug, thiserror::Error)]
pub enum SfuError {
    /// The participant never joined, has left, or was removed (see
    /// [`SfuEvent::Disconnected`](crate::SfuEvent::Disconnected)).
    #[error("participant {0} is not in any room on this SFU")]
    UnknownParticipant(ParticipantId),
    /// A participant id is in one room at a time.
    #[error("participant {0} has already joined a room")]
    AlreadyJoined(ParticipantId),
    /// The browser's SDP could not be parsed or negotiated.
    #[error("SDP from participant {participant} was rejected: {reason}")]
    Sdp {
        /// Whose SDP it was.
        participant: ParticipantId,
        /// What str0m objected to.
        reason: String,
    },
    /// An answer arrived while no offer from the SFU was outstanding, usually
    /// because the browser's own offer crossed it. The SFU re-offers; the
    /// answer can be dropped.
    #[error("participant {0} answered, but no offer was outstanding")]
    NoPendingOffer(ParticipantId),
    /// The configuration cannot work, e.g. a public IP no browser can use.
    #[error("invalid SFU configuration: {0}")]
    InvalidConfig(String),
    /// str0m could not set up a connection; a bug rather than bad input.
    #[error("could not set up the connection for participant {participant}: {reason}")]
    Internal {
        /// Whose connection.
        participant: ParticipantId,
        /// What str0m reported.
        reason: String,
    },
    /// The driver task has stopped, so the SFU cannot be reached.
    #[error("the SFU driver has stopped")]
    DriverStopped,
}
