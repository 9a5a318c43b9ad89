//! Active speaker detection from the audio levels browsers put in every audio
//! packet (RFC 6464 header extension).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::ids::ParticipantId;

/// Weight of the newest packet's level in the running average. At 50 audio
/// packets a second this averages over roughly the last 200 ms: long enough
/// to ride over the gaps between words, short enough to follow a dialogue.
const SMOOTHING: f32 = 0.1;

/// A level (dBov, 0 is loudest) above which someone counts as speaking.
/// Speech sits around -20 to -40 dBov, room noise well below -50.
const SPEECH_DBOV: f32 = -50.0;

/// How much louder (dB) someone must be to take over from a speaker who is
/// still talking, so two people talking at once do not flap.
const TAKEOVER_MARGIN_DB: f32 = 6.0;

/// Silence after which a participant's level no longer counts: browsers with
/// Opus DTX send nothing while quiet.
const STALE_AFTER: Duration = Duration::from_millis(500);

/// The quietest level the extension can carry.
const SILENCE_DBOV: f32 = -127.0;

#[derive(Debug)]
struct Loudness {
    average_dbov: f32,
    last_heard: Instant,
}

/// Tracks the loudness of everyone in a room and names the dominant speaker.
#[derive(Default, Debug)]
pub(crate) struct SpeakerDetector {
    loudness: HashMap<ParticipantId, Loudness>,
    current: Option<ParticipantId>,
}

impl SpeakerDetector {
    /// Records the level of one audio packet. The extension carries `-dBov`
    /// as 0..=127; str0m hands it over as a negative number.
    pub(crate) fn record(&mut self, participant: &ParticipantId, level: i8, now: Instant) {
        let dbov = -f32::from(level.unsigned_abs().min(127));
        match self.loudness.get_mut(participant) {
            Some(loudness) => {
                loudness.average_dbov += SMOOTHING * (dbov - loudness.average_dbov);
                loudness.last_heard = now;
            }
            None => {
                let loudness = Loudness {
                    average_dbov: SMOOTHING * dbov + (1.0 - SMOOTHING) * SILENCE_DBOV,
                    last_heard: now,
                };
                self.loudness.insert(participant.clone(), loudness);
            }
        }
    }

    /// Forgets a participant who left.
    pub(crate) fn remove(&mut self, participant: &ParticipantId) {
        self.loudness.remove(participant);
        if self.current.as_ref() == Some(participant) {
            self.current = None;
        }
    }

    /// The new dominant speaker, if it changed since the last call.
    pub(crate) fn evaluate(&mut self, now: Instant) -> Option<ParticipantId> {
        let speaking = |loudness: &Loudness| {
            let fresh = now.saturating_duration_since(loudness.last_heard) < STALE_AFTER;
            (fresh && loudness.average_dbov > SPEECH_DBOV).then_some(loudness.average_dbov)
        };

        let (loudest, loudest_dbov) = self
            .loudness
            .iter()
            .filter_map(|(participant, loudness)| Some((participant, speaking(loudness)?)))
            .max_by(|a, b| a.1.total_cmp(&b.1))?;

        let current_dbov = self
            .current
            .as_ref()
            .and_then(|current| self.loudness.get(current))
            .and_then(speaking);
        let takes_over = match current_dbov {
            Some(current_dbov) => loudest_dbov > current_dbov + TAKEOVER_MARGIN_DB,
            None => true,
        };

        if !takes_over || self.current.as_ref() == Some(loudest) {
            return None;
        }
        self.current = Some(loudest.clone());
        self.current.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds one second of 20 ms audio packets at the given levels.
    fn talk(detector: &mut SpeakerDetector, start: Instant, levels: &[(&ParticipantId, i8)]) {
        for packet in 0..50 {
            let now = start + Duration::from_millis(packet * 20);
            for (participant, level) in levels {
                detector.record(participant, *level, now);
            }
        }
    }

    #[test]
    fn names_the_loudest_and_switches_when_someone_else_talks() {
        let alice = ParticipantId::from("alice");
        let bob = ParticipantId::from("bob");
        let start = Instant::now();
        let mut detector = SpeakerDetector::default();

        talk(&mut detector, start, &[(&alice, -25), (&bob, -100)]);
        let t1 = start + Duration::from_secs(1);
        assert_eq!(detector.evaluate(t1), Some(alice.clone()));
        assert_eq!(detector.evaluate(t1), None, "reported once");

        talk(&mut detector, t1, &[(&alice, -110), (&bob, -30)]);
        assert_eq!(detector.evaluate(t1 + Duration::from_secs(1)), Some(bob));
    }

    #[test]
    fn keeps_the_speaker_when_another_is_only_slightly_louder() {
        let alice = ParticipantId::from("alice");
        let bob = ParticipantId::from("bob");
        let start = Instant::now();
        let mut detector = SpeakerDetector::default();

        talk(&mut detector, start, &[(&alice, -30)]);
        assert_eq!(
            detector.evaluate(start + Duration::from_secs(1)),
            Some(alice.clone())
        );

        let t1 = start + Duration::from_secs(1);
        talk(&mut detector, t1, &[(&alice, -30), (&bob, -27)]);
        assert_eq!(detector.evaluate(t1 + Duration::from_secs(1)), None);
    }

    #[test]
    fn nobody_speaks_in_silence() {
        let alice = ParticipantId::from("alice");
        let start = Instant::now();
        let mut detector = SpeakerDetector::default();
        talk(&mut detector, start, &[(&alice, -120)]);
        assert_eq!(detector.evaluate(start + Duration::from_secs(1)), None);
    }
}
