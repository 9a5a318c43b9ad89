use std::time::Duration;

use mesh_sfu::{DisconnectReason, ParticipantId, RoomId, SfuError, SfuEvent};
use str0m::media::MediaKind;

use crate::harness::{Publish, Sim};

fn disconnects(sim: &Sim) -> Vec<(String, DisconnectReason)> {
    sim.events
        .iter()
        .filter_map(|(_, e)| match e {
            SfuEvent::Disconnected {
                participant,
                reason,
            } => Some((participant.to_string(), reason.clone())),
            _ => None,
        })
        .collect()
}

fn offers_to(sim: &Sim, name: &str) -> usize {
    sim.events
        .iter()
        .filter(|(_, e)| {
            matches!(e, SfuEvent::OfferNeeded { participant, .. } if participant.as_str() == name)
        })
        .count()
}

#[test]
fn a_participant_whose_network_vanishes_is_disconnected() {
    let mut sim = Sim::new();
    sim.join("standup", "alice", Publish::audio_video());
    sim.join("standup", "bob", Publish::audio_video());
    sim.connect_all();
    sim.run_for(Duration::from_secs(1));

    let vanished = sim.now;
    sim.client_mut("bob").cut_off = true;
    sim.run_until(Duration::from_secs(20), |sim| !disconnects(sim).is_empty());

    assert_eq!(
        disconnects(&sim),
        [("bob".to_string(), DisconnectReason::IceTimeout)]
    );
    // str0m's ICE-lite agent gives a path up after 15 s without consent checks.
    assert!(sim.now - vanished >= Duration::from_secs(14));
    let unpublished = sim.events_since(vanished, |e| match e {
        SfuEvent::TrackUnpublished { track } => Some(track.publisher.to_string()),
        _ => None,
    });
    assert_eq!(unpublished.len(), 2);

    let metrics = sim.sfu.metrics().snapshot();
    assert_eq!(metrics.participants, 1);
    assert_eq!(metrics.participants_failed, 1);
    assert!(sim.client("alice").rtc.is_alive());
}

#[test]
fn a_participant_that_never_connects_is_dropped() {
    let mut sim = Sim::with_config(|config| config.connect_timeout = Duration::from_secs(2));
    sim.sfu
        .join(RoomId::from("standup"), ParticipantId::from("ghost"))
        .unwrap();
    sim.join("standup", "alice", Publish::audio_video());
    sim.connect_all();
    sim.run_for(Duration::from_secs(3));

    assert_eq!(
        disconnects(&sim),
        [("ghost".to_string(), DisconnectReason::ConnectTimeout)]
    );
    assert_eq!(sim.sfu.metrics().snapshot().participants, 1);
}

#[test]
fn changes_made_while_an_offer_is_out_go_in_the_next_one() {
    let mut sim = Sim::new();
    sim.join("standup", "alice", Publish::nothing());
    sim.connect_all();

    // Alice's browser is slow to answer while three others arrive. (A
    // track is published once its publisher has connected.)
    sim.held_offers.push(ParticipantId::from("alice"));
    sim.join("standup", "bob", Publish::audio_video());
    sim.connect_all();
    assert_eq!(offers_to(&sim, "alice"), 1);
    for name in ["carol", "dave"] {
        sim.join("standup", name, Publish::audio_video());
    }
    sim.connect_all();
    sim.run_for(Duration::from_millis(100));
    assert_eq!(offers_to(&sim, "alice"), 1, "one offer out at a time");

    sim.release_offers("alice");
    assert_eq!(offers_to(&sim, "alice"), 2, "the rest queued into one more");
    sim.run_for(Duration::from_secs(2));

    let alice = sim.client("alice");
    for publisher in ["bob", "carol", "dave"] {
        assert!(alice.frames_from(publisher, MediaKind::Audio).len() > 50);
        assert!(alice.frames_from(publisher, MediaKind::Video).len() > 25);
    }
}

#[test]
fn a_browser_offer_crossing_the_sfus_offer_wins_and_the_sfu_offers_again() {
    let mut sim = Sim::new();
    sim.join("standup", "alice", Publish::audio_video());
    sim.connect_all();

    sim.held_offers.push(ParticipantId::from("alice"));
    sim.join("standup", "bob", Publish::audio_video());
    sim.connect_all();
    assert_eq!(offers_to(&sim, "alice"), 1);

    // Alice starts a screen share before the SFU's offer reaches her: her
    // offer crosses the SFU's, and the SFU gives way.
    sim.offer_another_video("alice").unwrap();
    assert_eq!(
        offers_to(&sim, "alice"),
        2,
        "the SFU offers bob's tracks again"
    );

    sim.release_offers("alice");
    sim.connect_all();
    sim.run_for(Duration::from_secs(2));

    // Alice gets bob's tracks; bob gets both of alice's videos.
    assert!(
        sim.client("alice")
            .frames_from("bob", MediaKind::Video)
            .len()
            > 25
    );
    let bob = sim.client("bob");
    let alices_videos = bob
        .received
        .values()
        .filter(|r| r.publisher == "alice" && r.kind == Some(MediaKind::Video))
        .count();
    assert_eq!(alices_videos, 2);
}

#[test]
fn calls_that_cannot_work_are_refused_without_harm() {
    let mut sim = Sim::new();
    sim.join("standup", "alice", Publish::audio_video());
    sim.connect_all();
    let alice = ParticipantId::from("alice");
    let nobody = ParticipantId::from("nobody");

    let again = sim.sfu.join(RoomId::from("other"), alice.clone());
    assert!(matches!(again, Err(SfuError::AlreadyJoined(_))));
    assert!(matches!(
        sim.sfu.leave(&nobody),
        Err(SfuError::UnknownParticipant(_))
    ));
    assert!(matches!(
        sim.sfu.accept_offer(&nobody, "v=0"),
        Err(SfuError::UnknownParticipant(_))
    ));
    assert!(matches!(
        sim.sfu.accept_offer(&alice, "not sdp"),
        Err(SfuError::Sdp { .. })
    ));
    assert!(matches!(
        sim.sfu.accept_answer(&alice, "v=0"),
        Err(SfuError::NoPendingOffer(_))
    ));

    // Alice is none the worse for it.
    sim.join("standup", "bob", Publish::nothing());
    sim.connect_all();
    sim.run_for(Duration::from_secs(1));
    assert!(
        sim.client("bob")
            .frames_from("alice", MediaKind::Video)
            .len()
            > 20
    );
    assert!(disconnects(&sim).is_empty());
}
