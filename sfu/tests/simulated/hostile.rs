use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use mesh_sfu::{Protocol, SfuEvent, MAX_DATAGRAM_LEN};
use str0m::media::MediaKind;

use crate::harness::{Publish, Sim};

/// A deterministic source of junk (xorshift64).
struct Junk(u64);

impl Junk {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// A STUN Binding request with a USERNAME and a bogus MESSAGE-INTEGRITY: it
/// names a participant but cannot prove it knows the password.
fn forged_binding_request(username: &str) -> Vec<u8> {
    let mut attributes = Vec::new();
    attributes.extend_from_slice(&0x0006u16.to_be_bytes());
    attributes.extend_from_slice(&(username.len() as u16).to_be_bytes());
    attributes.extend_from_slice(username.as_bytes());
    while attributes.len() % 4 != 0 {
        attributes.push(0);
    }
    // PRIORITY
    attributes.extend_from_slice(&[0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x1e, 0xff]);
    // MESSAGE-INTEGRITY, 20 bytes of nonsense.
    attributes.extend_from_slice(&[0x00, 0x08, 0x00, 0x14]);
    attributes.extend_from_slice(&[0x42; 20]);

    let mut message = vec![0x00, 0x01];
    message.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
    message.extend_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
    message.extend_from_slice(&[0x99; 12]);
    message.extend_from_slice(&attributes);
    message
}

fn stranger(port: u16) -> SocketAddr {
    (Ipv4Addr::LOCALHOST, port).into()
}

#[test]
fn garbage_datagrams_are_dropped_without_disturbing_anyone() {
    let mut sim = Sim::new();
    sim.join("standup", "alice", Publish::audio_video());
    sim.join("standup", "bob", Publish::audio_video());
    sim.connect_all();
    sim.run_for(Duration::from_secs(1));

    let alice_addr = sim.client("alice").addr;
    let alice_ufrag = sim.client("alice").sfu_ufrag.clone();
    let mut junk = Junk(0x5eed);
    let mut unroutable = 0;
    let start = sim.now;

    // Interleave the attack with normal traffic for two seconds.
    for round in 0..100 {
        // Random bytes from strangers, over UDP and TCP.
        for i in 0..10 {
            let len = (junk.next() % 1_500) as usize;
            let protocol = if i % 2 == 0 {
                Protocol::Udp
            } else {
                Protocol::Tcp
            };
            sim.inject(protocol, stranger(50_000 + i), &junk.bytes(len));
            unroutable += 1;
        }
        // Random bytes from alice's own address reach her Rtc, which must
        // shrug them off.
        let len = (junk.next() % 300) as usize;
        sim.inject(Protocol::Udp, alice_addr, &junk.bytes(len));

        // STUN claiming to be for alice, truncated at every length.
        let forged = forged_binding_request(&format!("{alice_ufrag}:evil"));
        let cut = round % forged.len();
        sim.inject(Protocol::Udp, stranger(51_000), &forged[..cut]);
        // Complete, but its integrity is wrong.
        sim.inject(Protocol::Udp, stranger(51_001), &forged);
        // For nobody at all.
        sim.inject(
            Protocol::Udp,
            stranger(51_002),
            &forged_binding_request("nobody:evil"),
        );
        unroutable += 1;

        // Oversized: a TCP frame larger than any datagram, and a jumbo UDP one.
        sim.inject(Protocol::Tcp, stranger(51_003), &vec![0; 65_535]);
        sim.inject(Protocol::Udp, alice_addr, &vec![0x80; MAX_DATAGRAM_LEN + 1]);
        unroutable += 2;

        sim.run_for(Duration::from_millis(20));
    }

    // Nobody was hurt and media kept flowing at full rate.
    assert!(sim
        .events
        .iter()
        .all(|(_, e)| !matches!(e, SfuEvent::Disconnected { .. })));
    for (subscriber, publisher) in [("alice", "bob"), ("bob", "alice")] {
        let client = sim.client(subscriber);
        let video = client.frames_since(publisher, MediaKind::Video, start);
        let audio = client.frames_since(publisher, MediaKind::Audio, start);
        assert!(video >= 58, "{subscriber} got {video} video frames");
        assert!(audio >= 97, "{subscriber} got {audio} audio frames");
    }

    // No stranger got a single byte back: no STUN answer, no learned address.
    let strangers: Vec<SocketAddr> = (50_000..=51_003).map(stranger).collect();
    assert!(!sim.sent.iter().any(|(_, to)| strangers.contains(to)));

    let metrics = sim.sfu.metrics().snapshot();
    assert!(metrics.packets_dropped >= unroutable, "{metrics:?}");
    assert_eq!(metrics.participants, 2);
    assert_eq!(metrics.participants_failed, 0);
}
