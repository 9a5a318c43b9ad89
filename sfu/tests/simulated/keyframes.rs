use std::time::Duration;

use mesh_sfu::SfuEvent;
use str0m::media::{KeyframeRequestKind, MediaKind};

use crate::harness::{Publish, Sim};

/// Keyframe requests the SFU sent for alice's video, as times.
fn requests_for_alice(sim: &Sim, since: std::time::Instant) -> Vec<std::time::Instant> {
    sim.events_since(since, |e| match e {
        SfuEvent::KeyframeRequested { track, .. } if track.publisher.as_str() == "alice" => {
            Some(())
        }
        _ => None,
    })
    .into_iter()
    .map(|(at, _)| at)
    .collect()
}

#[test]
fn a_new_subscriber_gets_a_keyframe_and_simultaneous_ones_share_it() {
    let mut sim = Sim::new();
    sim.join("standup", "alice", Publish::audio_video());
    sim.connect_all();
    // Long enough that alice's one keyframe at the start is long gone.
    sim.run_for(Duration::from_secs(3));
    assert!(requests_for_alice(&sim, sim.now - Duration::from_secs(3)).is_empty());

    let joined = sim.now;
    for name in ["bob", "carol", "dave"] {
        sim.join("standup", name, Publish::nothing());
    }
    sim.connect_all();
    sim.run_for(Duration::from_secs(1));

    // All three connected within a few milliseconds; one keyframe serves all.
    let requests = requests_for_alice(&sim, joined);
    assert_eq!(requests.len(), 1, "{requests:?}");
    let seen_by_alice = &sim.client("alice").keyframe_requests;
    assert_eq!(seen_by_alice.len(), 1);
    for name in ["bob", "carol", "dave"] {
        let frames = sim.client(name).frames_from("alice", MediaKind::Video);
        assert!(frames.len() >= 25, "{name} got {} frames", frames.len());
        // The first frame forwarded is the keyframe: nothing undecodable
        // was sent before it.
        assert!(frames[0].at >= requests[0]);
    }

    // A later subscriber triggers its own request.
    let late = sim.now;
    sim.join("standup", "erin", Publish::nothing());
    sim.connect_all();
    sim.run_for(Duration::from_secs(1));
    assert_eq!(requests_for_alice(&sim, late).len(), 1);
    assert!(
        sim.client("erin")
            .frames_from("alice", MediaKind::Video)
            .len()
            >= 25
    );
}

/// Browsers ignore a keyframe request within 300 ms of the previous one; the
/// SFU spaces its requests for a layer by this much.
const REQUEST_SPACING: Duration = Duration::from_millis(350);

#[test]
fn a_subscriber_arriving_just_after_a_keyframe_is_asked_for_as_soon_as_the_browser_listens() {
    let mut sim = Sim::with_config(|config| {
        config.keyframe_request_interval = Duration::from_millis(500);
    });
    sim.join("standup", "alice", Publish::audio_video());
    sim.connect_all();
    sim.run_for(Duration::from_secs(3));

    let bob_joined = sim.now;
    sim.join("standup", "bob", Publish::nothing());
    sim.connect_all();
    sim.run_for(Duration::from_millis(150));
    let bobs_frames = sim.client("bob").frames_from("alice", MediaKind::Video);
    assert!(!bobs_frames.is_empty(), "bob's keyframe came");

    // Carol arrives well within the interval of bob's request, after his
    // keyframe: nothing is on its way that would serve her, and alice's
    // browser would ignore a request right now.
    let carol_joined = sim.now;
    sim.join("standup", "carol", Publish::nothing());
    sim.connect_all();
    sim.run_for(Duration::from_secs(1));

    let requests = requests_for_alice(&sim, bob_joined);
    assert_eq!(requests.len(), 2, "{requests:?}");
    let spacing = requests[1] - requests[0];
    assert!(
        spacing >= REQUEST_SPACING && spacing < REQUEST_SPACING + Duration::from_millis(20),
        "carol's request came {spacing:?} after bob's"
    );
    let carols_frames = sim.client("carol").frames_from("alice", MediaKind::Video);
    assert!(
        carols_frames[0].at >= requests[1],
        "her first frame is the keyframe she waited for"
    );
    let waited = carols_frames[0].at - carol_joined;
    assert!(
        waited < REQUEST_SPACING,
        "carol saw alice {waited:?} after joining"
    );
}

#[test]
fn a_subscribers_keyframe_requests_reach_the_publisher_throttled() {
    let mut sim = Sim::with_config(|config| {
        config.keyframe_request_interval = Duration::from_millis(500);
    });
    sim.join("standup", "alice", Publish::audio_video());
    sim.join("standup", "bob", Publish::nothing());
    sim.connect_all();
    sim.run_for(Duration::from_secs(2));

    let bob = sim.client("bob");
    let (mid, _) = bob
        .received
        .iter()
        .find(|(_, r)| r.kind == Some(MediaKind::Video))
        .expect("bob receives alice's video");
    let mid = *mid;

    // Bob's decoder asks for a keyframe every 100 ms for two seconds (a
    // browser does this when frames are lost).
    let start = sim.now;
    let before = sim.client("alice").keyframe_requests.len();
    for _ in 0..20 {
        let bob = sim.client_mut("bob");
        bob.rtc
            .writer(mid)
            .unwrap()
            .request_keyframe(None, KeyframeRequestKind::Pli)
            .unwrap();
        sim.run_for(Duration::from_millis(100));
    }

    let requests = requests_for_alice(&sim, start);
    assert!(
        (3..=5).contains(&requests.len()),
        "20 PLIs in 2 s became {} requests",
        requests.len()
    );
    for pair in requests.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(500));
    }
    let received = sim.client("alice").keyframe_requests.len() - before;
    assert_eq!(received, requests.len());
}
