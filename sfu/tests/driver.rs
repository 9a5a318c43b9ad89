//! The tokio driver over real loopback sockets (127.0.0.1 only), with two
//! str0m clients standing in for browsers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use mesh_sfu::driver::{self, SfuHandle};
use mesh_sfu::{ParticipantId, RoomId, SfuConfig, SfuEvent};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A str0m peer on its own loopback UDP socket, publishing audio and video.
struct Peer {
    name: &'static str,
    rtc: Rtc,
    socket: UdpSocket,
    addr: SocketAddr,
    timeout: Instant,
    audio: Mid,
    video: Mid,
    next_audio: Instant,
    next_video: Instant,
    frame: u64,
    connected: bool,
    audio_frames: usize,
    video_frames: usize,
}

impl Peer {
    async fn join(sfu: &SfuHandle, name: &'static str) -> Peer {
        let socket = UdpSocket::bind((LOOPBACK, 0)).await.unwrap();
        let addr = socket.local_addr().unwrap();
        let now = Instant::now();
        let mut rtc = Rtc::new(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());

        let mut change = rtc.sdp_api();
        let audio = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let video = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        let (offer, pending) = change.apply().unwrap();

        let id = ParticipantId::from(name);
        sfu.join(RoomId::from("standup"), id.clone()).await.unwrap();
        let answer = sfu.accept_offer(id, offer.to_sdp_string()).await.unwrap();
        rtc.sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
            .unwrap();

        let mut peer = Peer {
            name,
            rtc,
            socket,
            addr,
            timeout: now,
            audio,
            video,
            next_audio: now,
            next_video: now,
            frame: 0,
            connected: false,
            audio_frames: 0,
            video_frames: 0,
        };
        peer.drain().await;
        peer
    }

    async fn drain(&mut self) {
        loop {
            match self.rtc.poll_output().unwrap() {
                Output::Timeout(at) => {
                    self.timeout = at;
                    return;
                }
                Output::Transmit(t) => {
                    assert!(t.destination.ip().is_loopback());
                    self.socket
                        .send_to(&t.contents, t.destination)
                        .await
                        .unwrap();
                }
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(Event::MediaData(data)) => {
                    match self.rtc.media(data.mid).map(|m| m.kind()) {
                        Some(MediaKind::Audio) => self.audio_frames += 1,
                        Some(MediaKind::Video) => self.video_frames += 1,
                        None => {}
                    }
                }
                Output::Event(_) => {}
            }
        }
    }

    async fn receive(&mut self, contents: &[u8], source: SocketAddr) {
        let receive = Receive::new(Protocol::Udp, source, self.addr, contents).unwrap();
        self.rtc
            .handle_input(Input::Receive(Instant::now(), receive))
            .unwrap();
        self.drain().await;
    }

    async fn tick(&mut self) {
        let now = Instant::now();
        if self.timeout <= now {
            self.rtc.handle_input(Input::Timeout(now)).unwrap();
            self.drain().await;
        }
        if !self.connected {
            self.next_audio = now;
            self.next_video = now;
            return;
        }
        if self.next_audio <= now {
            let writer = self.rtc.writer(self.audio).unwrap();
            let pt = pt_of(writer.payload_params(), Codec::Opus);
            let time = MediaTime::new(self.frame * 960, Frequency::FORTY_EIGHT_KHZ);
            writer.write(pt, now, time, vec![0xab; 60]).unwrap();
            self.drain().await;
            self.next_audio = now + Duration::from_millis(20);
        }
        if self.next_video <= now {
            let writer = self.rtc.writer(self.video).unwrap();
            let pt = pt_of(writer.payload_params(), Codec::Vp8);
            let time = MediaTime::new(self.frame * 3_000, Frequency::NINETY_KHZ);
            // Every frame a keyframe: no need to answer keyframe requests.
            let mut frame = vec![0x5a; 1_000];
            frame[0] = 0x00;
            writer.write(pt, now, time, frame).unwrap();
            self.drain().await;
            self.frame += 1;
            self.next_video = now + Duration::from_millis(33);
        }
    }

    fn next_wakeup(&self) -> Instant {
        let media = if self.connected {
            self.next_audio.min(self.next_video)
        } else {
            self.timeout
        };
        self.timeout.min(media)
    }

    async fn answer(&mut self, sfu: &SfuHandle, sdp: &str) {
        let offer = SdpOffer::from_sdp_string(sdp).unwrap();
        let answer = self.rtc.sdp_api().accept_offer(offer).unwrap();
        self.drain().await;
        sfu.accept_answer(ParticipantId::from(self.name), answer.to_sdp_string())
            .await
            .unwrap();
    }
}

fn pt_of<'a>(
    mut params: impl Iterator<Item = &'a str0m::format::PayloadParams>,
    codec: Codec,
) -> str0m::media::Pt {
    params.find(|p| p.spec().codec == codec).unwrap().pt()
}

#[tokio::test]
async fn two_clients_exchange_media_through_the_driver_over_loopback() {
    let config = SfuConfig::new(LOOPBACK, 0);
    let (sfu, mut events) = driver::spawn(LOOPBACK, config).await.unwrap();
    let mut alice = Peer::join(&sfu, "alice").await;
    let mut bob = Peer::join(&sfu, "bob").await;
    let (mut alice_buffer, mut bob_buffer) = (vec![0; 2_000], vec![0; 2_000]);

    let exchanged = async {
        // Bounded by the timeout around this future.
        loop {
            let done = [&alice, &bob]
                .iter()
                .all(|peer| peer.audio_frames >= 50 && peer.video_frames >= 30);
            if done {
                return;
            }
            let wakeup = alice.next_wakeup().min(bob.next_wakeup());
            tokio::select! {
                received = alice.socket.recv_from(&mut alice_buffer) => {
                    let (len, source) = received.unwrap();
                    alice.receive(&alice_buffer[..len], source).await;
                }
                received = bob.socket.recv_from(&mut bob_buffer) => {
                    let (len, source) = received.unwrap();
                    bob.receive(&bob_buffer[..len], source).await;
                }
                Some(event) = events.recv() => {
                    if let SfuEvent::OfferNeeded { participant, sdp } = event {
                        let peer = if participant.as_str() == "alice" { &mut alice } else { &mut bob };
                        peer.answer(&sfu, &sdp).await;
                    }
                }
                () = tokio::time::sleep_until(wakeup.into()) => {}
            }
            alice.tick().await;
            bob.tick().await;
        }
    };
    let outcome = tokio::time::timeout(Duration::from_secs(10), exchanged).await;
    assert!(
        outcome.is_ok(),
        "media did not flow both ways within 10 s: alice connected {} got {}/{}, \
         bob connected {} got {}/{} audio/video frames",
        alice.connected,
        alice.audio_frames,
        alice.video_frames,
        bob.connected,
        bob.audio_frames,
        bob.video_frames
    );

    let metrics = sfu.metrics().snapshot();
    assert_eq!(metrics.participants, 2);
    assert_eq!(metrics.tracks_forwarded, 4);
    assert!(metrics.packets_out > 100);

    // A stranger on the ICE-TCP port who breaks the framing is cut off.
    let tcp_addr = sfu.tcp_addr().expect("ICE-TCP listening");
    assert_eq!(
        tcp_addr.port(),
        sfu.udp_addr().port(),
        "one port number for both"
    );
    let mut stranger = TcpStream::connect(tcp_addr).await.unwrap();
    stranger.write_all(&[0x00, 0x04, 1, 2, 3, 4]).await.unwrap();
    stranger.write_all(&[0xff, 0xff, 0, 0]).await.unwrap();
    let mut byte = [0; 1];
    let closed = tokio::time::timeout(Duration::from_secs(2), stranger.read(&mut byte)).await;
    assert!(matches!(closed, Ok(Ok(0))), "the connection was closed");

    sfu.leave(ParticipantId::from("bob")).await.unwrap();
    assert_eq!(sfu.metrics().snapshot().participants, 1);
}
