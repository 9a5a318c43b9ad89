//! Names the control server gives to rooms and participants, and the name of a
//! published track.

use std::fmt;
use std::sync::Arc;

pub use str0m::media::Mid;

/// A room, named by the control server. The SFU creates a room on the first
/// [`join`](crate::Sfu::join) and forgets it when its last participant leaves.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomId(Arc<str>);

/// A participant, named by the control server. One participant is one browser
/// PeerConnection, so a user with two tabs is two participants.
///
/// The id is also the `msid` stream id of every track forwarded from this
/// participant, which is how a subscribing browser tells whose track arrived
/// (`RTCTrackEvent.streams[0].id`). Keep ids to RFC 8830 token characters
/// (letters, digits, `-`, `.`, ...) such as UUIDs; other characters are dropped
/// from the stream id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(Arc<str>);

macro_rules! string_id {
    ($name:ident) => {
        impl $name {
            /// The id as the control server wrote it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.into())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value.into())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }
    };
}

string_id!(RoomId);
string_id!(ParticipantId);

/// One track a participant publishes: the publisher and the `mid` of the m-line
/// it sends on, as the publishing browser knows it (`RTCRtpTransceiver.mid`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct TrackId {
    /// Who publishes the track.
    pub publisher: ParticipantId,
    /// The m-line of the publisher's PeerConnection that carries it.
    pub mid: Mid,
}

/// Whether a track carries audio or video.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TrackKind {
    /// Opus.
    Audio,
    /// VP8 or H.264, possibly simulcast.
    Video,
}

impl From<str0m::media::MediaKind> for TrackKind {
    fn from(kind: str0m::media::MediaKind) -> Self {
        match kind {
            str0m::media::MediaKind::Audio => TrackKind::Audio,
            str0m::media::MediaKind::Video => TrackKind::Video,
        }
    }
}
