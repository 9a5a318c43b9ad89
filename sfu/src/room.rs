//! A room: who is in it, and who is speaking.
//!
//! Everyone in a room receives every track everyone else in it publishes.

use crate::ids::ParticipantId;
use crate::speaker::SpeakerDetector;

#[derive(Default, Debug)]
pub(crate) struct Room {
    /// In joining order.
    pub members: Vec<ParticipantId>,
    pub speakers: SpeakerDetector,
}

impl Room {
    /// Everyone in the room except `participant`.
    pub(crate) fn others(&self, participant: &ParticipantId) -> Vec<ParticipantId> {
        self.members
            .iter()
            .filter(|member| *member != participant)
            .cloned()
            .collect()
    }
}
