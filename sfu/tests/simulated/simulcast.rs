use std::time::{Duration, Instant};

use mesh_sfu::{Layer, SfuEvent};
use str0m::media::MediaKind;
use str0m_netem::{Bitrate, DataSize, NetemConfig};

use crate::harness::{Publish, Sim};

/// Frame sizes alice's simulcast layers are written with.
const HIGH: usize = 3_500;
const LOW: usize = 300;

/// The layers bob was switched to after `since`, with when.
fn layer_changes(sim: &Sim, since: Instant) -> Vec<(Instant, Layer)> {
    sim.events_since(since, |e| match e {
        SfuEvent::LayerChanged {
            subscriber, layer, ..
        } if subscriber.as_str() == "bob" => Some(*layer),
        _ => None,
    })
}

fn last_layer(sim: &Sim, since: Instant) -> Option<Layer> {
    layer_changes(sim, since).last().map(|(_, layer)| *layer)
}

/// A room where alice publishes three simulcast layers and bob watches.
fn alice_simulcasts_to_bob() -> Sim {
    let mut sim = Sim::new();
    sim.join("standup", "alice", Publish::simulcast());
    sim.join("standup", "bob", Publish::nothing());
    sim.connect_all();
    sim
}

/// The size of the latest frame of alice's video bob received.
fn latest_frame_size(sim: &Sim) -> usize {
    let frames = sim.client("bob").frames_from("alice", MediaKind::Video);
    frames.last().map(|frame| frame.size).unwrap_or(0)
}

#[test]
fn a_subscriber_moves_down_a_layer_when_bandwidth_drops_and_back_up() {
    let mut sim = alice_simulcasts_to_bob();

    let start = sim.now;
    sim.run_until(Duration::from_secs(10), |sim| {
        latest_frame_size(sim) == HIGH
    });
    assert_eq!(last_layer(&sim, start), Some(Layer::High));

    // Bob's downlink shrinks to 250 kbit/s: only the 72 kbit/s layer fits.
    let squeezed = sim.now;
    let narrow = NetemConfig::new()
        .latency(Duration::from_millis(10))
        .link(Bitrate::kbps(250), DataSize::bytes(20_000));
    sim.client_mut("bob").downlink.set_config(narrow);
    let lost_before = sim.sfu.metrics().snapshot().packets_reported_lost;
    sim.run_until(Duration::from_secs(15), |sim| latest_frame_size(sim) == LOW);
    assert_eq!(last_layer(&sim, squeezed), Some(Layer::Low));
    // Bob's receiver reports told the SFU what the narrow link lost.
    assert!(sim.sfu.metrics().snapshot().packets_reported_lost > lost_before);

    // On the low layer the picture keeps moving.
    let at_low = sim.now;
    sim.run_for(Duration::from_secs(2));
    let frames = sim
        .client("bob")
        .frames_since("alice", MediaKind::Video, at_low);
    assert!(frames >= 50, "only {frames} frames in 2 s on the low layer");

    let relieved = sim.now;
    sim.client_mut("bob")
        .downlink
        .set_config(NetemConfig::new().latency(Duration::from_millis(10)));
    sim.run_until(Duration::from_secs(30), |sim| {
        latest_frame_size(sim) == HIGH
    });
    assert_eq!(last_layer(&sim, relieved), Some(Layer::High));

    // Every switch waited for a keyframe of its layer that the SFU asked for.
    let changes = layer_changes(&sim, start);
    for (switched_at, layer) in &changes {
        let rid = match layer {
            Layer::Low => "q",
            Layer::Medium => "h",
            Layer::High => "f",
        };
        let asked = sim.events_since(*switched_at - Duration::from_secs(2), |e| match e {
            SfuEvent::KeyframeRequested { rid: Some(r), .. } if r == rid => Some(()),
            _ => None,
        });
        assert!(
            asked.iter().any(|(at, _)| at <= switched_at),
            "switch to {layer:?} at {:?} without a keyframe request",
            *switched_at - start
        );
    }
    assert_eq!(
        sim.sfu.metrics().snapshot().layer_switches,
        changes.len() as u64
    );

    // RTP time runs on across every switch, although alice's layers run
    // clocks 7,000,000 ticks apart. Gaps up to a second or two are frames
    // lost while the link was congested.
    let frames = sim.client("bob").frames_from("alice", MediaKind::Video);
    for pair in frames.windows(2) {
        let step = pair[1].rtp_time as i64 - pair[0].rtp_time as i64;
        assert!((1..=180_000).contains(&step), "RTP time jumped by {step}");
    }
}

#[test]
fn a_subscribers_max_layer_caps_what_it_receives() {
    let mut sim = alice_simulcasts_to_bob();
    sim.run_until(Duration::from_secs(10), |sim| {
        latest_frame_size(sim) == HIGH
    });

    // Bob shows alice in a small tile.
    let (bob, alice) = ("bob".into(), "alice".into());
    sim.sfu
        .set_max_layer(&bob, &alice, Layer::for_tile_height(120))
        .unwrap();
    sim.run_until(Duration::from_secs(2), |sim| latest_frame_size(sim) == LOW);

    sim.sfu.set_max_layer(&bob, &alice, Layer::High).unwrap();
    sim.run_until(Duration::from_secs(2), |sim| latest_frame_size(sim) == HIGH);

    // On a clean network, both switches left no gap in sequence numbers and
    // none in RTP time.
    let frames = sim.client("bob").frames_from("alice", MediaKind::Video);
    assert!(frames[1..].iter().all(|frame| frame.contiguous));
    for pair in frames.windows(2) {
        let step = pair[1].rtp_time as i64 - pair[0].rtp_time as i64;
        assert!(
            (1..=3 * 3_000).contains(&step),
            "RTP time stepped by {step}"
        );
    }
}

#[test]
fn a_new_subscriber_starts_on_the_lowest_layer_and_rises_once_the_others_flow_steadily() {
    let mut sim = alice_simulcasts_to_bob();

    sim.run_until(Duration::from_secs(5), |sim| latest_frame_size(sim) > 0);
    let first = sim.client("bob").frames_from("alice", MediaKind::Video)[0];
    assert_eq!(first.size, LOW, "the first picture is the lowest layer's");

    sim.run_until(Duration::from_secs(10), |sim| {
        latest_frame_size(sim) == HIGH
    });
    let frames = sim.client("bob").frames_from("alice", MediaKind::Video);
    let risen = frames.iter().find(|frame| frame.size == HIGH).unwrap();
    assert!(
        risen.at - first.at >= Duration::from_millis(900),
        "rose to the top layer {:?} after the first picture, before it had flowed a second",
        risen.at - first.at
    );
    // Rising left no gap: the low layer played until the keyframe above.
    for pair in frames.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap < Duration::from_millis(100),
            "{gap:?} between two frames"
        );
    }
}

#[test]
fn a_subscriber_whose_layer_pauses_moves_down_before_the_window_forgets_it() {
    let mut sim = alice_simulcasts_to_bob();
    sim.run_until(Duration::from_secs(10), |sim| {
        latest_frame_size(sim) == HIGH
    });
    sim.run_for(Duration::from_secs(1));

    // Alice's browser stops sending its top layer, without a word.
    let paused = sim.now;
    sim.client_mut("alice").paused.push("f");
    sim.run_until(Duration::from_secs(5), |sim| {
        latest_frame_size(sim) == 1_000
    });
    sim.run_for(Duration::from_secs(1));

    let frames = sim.client("bob").frames_from("alice", MediaKind::Video);
    let longest = frames
        .windows(2)
        .filter(|pair| pair[1].at > paused)
        .map(|pair| pair[1].at - pair[0].at)
        .max()
        .unwrap();
    // The layer's bitrate window is a second long; the stall is noticed
    // after 300 ms (plus up to one 250 ms housekeeping round).
    assert!(
        longest < Duration::from_millis(600),
        "bob's picture froze for {longest:?}"
    );
    assert_eq!(last_layer(&sim, paused), Some(Layer::Medium));
}
