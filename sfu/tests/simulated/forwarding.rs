use std::time::Duration;

use str0m::media::MediaKind;

use mesh_sfu::SfuEvent;
use str0m_netem::{NetemConfig, Probability, RandomLoss};

use crate::harness::{Publish, Sim};

#[test]
fn every_subscriber_receives_every_track() {
    let mut sim = Sim::new();
    for name in ["alice", "bob", "carol"] {
        sim.join("standup", name, Publish::audio_video());
    }
    sim.join("standup", "dave", Publish::nothing());
    sim.connect_all();
    sim.run_for(Duration::from_secs(2));

    let window_start = sim.now;
    sim.run_for(Duration::from_secs(2));

    // Two seconds of 50 audio and 30 video frames a second, allowing for
    // frames in flight at either end of the window.
    for subscriber in ["alice", "bob", "carol", "dave"] {
        for publisher in ["alice", "bob", "carol"] {
            if subscriber == publisher {
                continue;
            }
            let client = sim.client(subscriber);
            let audio = client.frames_since(publisher, MediaKind::Audio, window_start);
            let video = client.frames_since(publisher, MediaKind::Video, window_start);
            let audio_ok = (97..=103).contains(&audio);
            let video_ok = (58..=63).contains(&video);
            assert!(
                audio_ok,
                "{subscriber} got {audio} audio frames of {publisher}"
            );
            assert!(
                video_ok,
                "{subscriber} got {video} video frames of {publisher}"
            );
        }
    }

    let metrics = sim.sfu.metrics().snapshot();
    assert_eq!(metrics.participants, 4);
    assert_eq!(metrics.rooms, 1);
    assert_eq!(metrics.tracks_published, 6);
    // Each of 6 tracks goes to the 3 other participants.
    assert_eq!(metrics.tracks_forwarded, 18);
    assert_eq!(metrics.participants_failed, 0);
    // The subscribers' receiver reports came back, and reported no loss.
    assert!(metrics.packets_reported > 500, "{metrics:?}");
    assert_eq!(metrics.packets_reported_lost, 0);
}

#[test]
fn a_participant_who_leaves_is_removed_everywhere() {
    let mut sim = Sim::new();
    for name in ["alice", "bob", "carol"] {
        sim.join("standup", name, Publish::audio_video());
    }
    sim.connect_all();
    sim.run_for(Duration::from_secs(1));
    let bob_addr = sim.client("bob").addr;

    let left_at = sim.now;
    sim.leave("bob");
    sim.run_for(Duration::from_secs(3));

    let unpublished = sim.events_since(left_at, |e| match e {
        SfuEvent::TrackUnpublished { track } => Some(track.publisher.to_string()),
        _ => None,
    });
    assert_eq!(unpublished.len(), 2, "bob's audio and video");
    assert!(unpublished.iter().all(|(_, publisher)| publisher == "bob"));

    // The SFU said goodbye at once and never sent bob anything after.
    assert!(sim
        .sent
        .iter()
        .any(|(at, to)| *at == left_at && *to == bob_addr));
    assert!(!sim
        .sent
        .iter()
        .any(|(at, to)| *at > left_at && *to == bob_addr));

    for name in ["alice", "carol"] {
        let client = sim.client(name);
        // The m-lines that carried bob's tracks were stopped by a new offer.
        let bobs: Vec<_> = client
            .received
            .iter()
            .filter(|(_, r)| r.publisher == "bob")
            .collect();
        assert_eq!(bobs.len(), 2);
        for (mid, _) in bobs {
            assert!(
                client.rtc.media(*mid).unwrap().disabled(),
                "{name}'s m-line {mid}"
            );
        }
        let settled = left_at + Duration::from_millis(100);
        assert_eq!(client.frames_since("bob", MediaKind::Video, settled), 0);
        assert_eq!(client.frames_since("bob", MediaKind::Audio, settled), 0);
    }
    // The others still hear and see each other.
    let since = sim.now - Duration::from_secs(1);
    assert!(
        sim.client("alice")
            .frames_since("carol", MediaKind::Video, since)
            >= 28
    );
    assert!(
        sim.client("carol")
            .frames_since("alice", MediaKind::Audio, since)
            >= 48
    );

    let metrics = sim.sfu.metrics().snapshot();
    assert_eq!(metrics.participants, 2);
    assert_eq!(metrics.tracks_published, 4);
    assert_eq!(metrics.tracks_forwarded, 4);
    assert_eq!(metrics.participants_failed, 0, "leaving is not a failure");
    // The goodbye (DTLS close_notify) closed bob's end too.
    assert!(!sim.client("bob").rtc.is_alive());
    assert!(sim
        .events
        .iter()
        .all(|(_, e)| !matches!(e, SfuEvent::Disconnected { .. })));
}

#[test]
fn lost_packets_are_repaired_by_retransmission() {
    let mut sim = Sim::new();
    sim.join("standup", "alice", Publish::audio_video());
    sim.join("standup", "bob", Publish::nothing());
    let lossy = NetemConfig::new()
        .latency(Duration::from_millis(20))
        .loss(RandomLoss::new(Probability::new(0.10)))
        .seed(7);
    sim.client_mut("alice").uplink.set_config(lossy);
    sim.client_mut("bob").downlink.set_config(lossy);
    sim.connect_all();
    sim.run_for(Duration::from_secs(1));

    let start = sim.now;
    sim.run_for(Duration::from_secs(5));

    // Each leg loses 10 % of packets, which would cost about 30 of 150
    // one-packet frames; NACK and RTX (str0m's, on each leg) bring them back.
    let video = sim
        .client("bob")
        .frames_since("alice", MediaKind::Video, start);
    assert!(video >= 145, "{video} of ~150 video frames arrived");
}
