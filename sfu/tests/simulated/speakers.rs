use std::time::Duration;

use mesh_sfu::SfuEvent;
use str0m::media::MediaKind;

use crate::harness::{Publish, Sim};

fn speakers(sim: &Sim) -> Vec<String> {
    sim.events_since(sim.events[0].0, |e| match e {
        SfuEvent::ActiveSpeaker { room, participant } => {
            assert_eq!(room.as_str(), "standup");
            Some(participant.to_string())
        }
        _ => None,
    })
    .into_iter()
    .map(|(_, participant)| participant)
    .collect()
}

#[test]
fn the_active_speaker_follows_the_loudest_voice() {
    let mut sim = Sim::new();
    for name in ["alice", "bob", "carol"] {
        sim.join("standup", name, Publish::audio_video());
        sim.client_mut(name).audio_level = -110;
    }
    sim.connect_all();
    sim.run_for(Duration::from_secs(1));
    assert!(speakers(&sim).is_empty(), "silence has no speaker");

    sim.client_mut("bob").audio_level = -25;
    sim.run_for(Duration::from_secs(1));
    assert_eq!(speakers(&sim), ["bob"]);

    // Carol answers while bob falls silent.
    sim.client_mut("bob").audio_level = -110;
    sim.client_mut("carol").audio_level = -30;
    sim.run_for(Duration::from_secs(1));
    assert_eq!(speakers(&sim), ["bob", "carol"]);

    // The levels are forwarded too, for the browsers' own meters.
    let heard = sim.client("alice").frames_from("carol", MediaKind::Audio);
    assert_eq!(heard.last().and_then(|frame| frame.audio_level), Some(-30));
}
