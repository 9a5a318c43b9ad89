use std::time::Duration;

use mesh_sfu::Protocol;
use str0m::media::MediaKind;

use crate::harness::{Publish, Sim};

#[test]
fn a_participant_on_ice_tcp_exchanges_media_with_one_on_udp() {
    let mut sim = Sim::new();
    sim.join("standup", "alice", Publish::audio_video());
    sim.join_over("standup", "bob", Publish::audio_video(), Protocol::Tcp);
    sim.connect_all();
    sim.run_for(Duration::from_secs(2));

    for (subscriber, publisher) in [("alice", "bob"), ("bob", "alice")] {
        let client = sim.client(subscriber);
        let video = client.frames_from(publisher, MediaKind::Video).len();
        let audio = client.frames_from(publisher, MediaKind::Audio).len();
        assert!(video >= 50, "{subscriber} got {video} video frames");
        assert!(audio >= 90, "{subscriber} got {audio} audio frames");
    }
}
