//! A simulated network for driving the SFU core with str0m clients standing
//! in for browsers. Time is simulated: nothing sleeps, nothing touches a
//! socket, and every address is 127.0.0.1 only by convention.
//!
//! Each client has an uplink and a downlink (`str0m-netem`), so a test can
//! add latency, loss or a bandwidth limit to one participant. Signalling is
//! instant: the SFU's offers are answered by the client as soon as they
//! appear, as the control server would relay them.

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use mesh_sfu::{
    Datagram, Input, Output, ParticipantId, Protocol, RoomId, Sfu, SfuConfig, SfuEvent,
};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::SimulcastLayer;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Rid, Simulcast};
use str0m::net::{Receive, TcpType};
use str0m::{Candidate, Event, Rtc};
use str0m_netem::{Input as NetInput, Netem, NetemConfig, Output as NetOutput};

/// The SFU's public address in the simulation.
pub const SFU_PORT: u16 = 3478;

/// Nothing in the simulation happens at a finer grain than this.
const MIN_STEP: Duration = Duration::from_millis(1);

/// Audio is written every 20 ms, video every 33 ms.
const AUDIO_INTERVAL: Duration = Duration::from_millis(20);
const VIDEO_INTERVAL: Duration = Duration::from_millis(33);
const AUDIO_FRAME: usize = 60;
const VIDEO_FRAME: usize = 1_000;

/// What a client sends.
#[derive(Clone, Debug)]
pub struct Publish {
    pub audio: bool,
    /// Video layers as (rid, frame size); one layer with rid `None` is plain
    /// video, an empty list no video.
    pub video: Vec<(Option<&'static str>, usize)>,
}

impl Publish {
    pub fn nothing() -> Self {
        Publish {
            audio: false,
            video: vec![],
        }
    }

    pub fn audio_video() -> Self {
        Publish {
            audio: true,
            video: vec![(None, VIDEO_FRAME)],
        }
    }

    /// Audio plus three simulcast layers named the way Chromium apps
    /// commonly do, listed high to low to check the SFU orders them itself.
    pub fn simulcast() -> Self {
        Publish {
            audio: true,
            video: vec![(Some("f"), 3_500), (Some("h"), 1_000), (Some("q"), 300)],
        }
    }
}

/// A datagram in flight.
#[derive(Clone)]
pub struct Packet {
    protocol: Protocol,
    source: SocketAddr,
    destination: SocketAddr,
    contents: Vec<u8>,
}

impl AsRef<[u8]> for Packet {
    fn as_ref(&self) -> &[u8] {
        &self.contents
    }
}

/// One frame a client received.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    pub at: Instant,
    pub size: usize,
    /// RTP time (90 kHz for video, 48 kHz for audio), unwrapped.
    pub rtp_time: u64,
    /// The RFC 6464 audio level, for audio.
    pub audio_level: Option<i8>,
    /// No packet was missing between this frame and the previous one.
    pub contiguous: bool,
}

/// What one client received on one m-line.
#[derive(Debug, Default, Clone)]
pub struct Reception {
    pub publisher: String,
    pub kind: Option<MediaKind>,
    pub frames: Vec<Frame>,
}

/// A str0m peer playing a browser.
pub struct Client {
    pub id: ParticipantId,
    pub rtc: Rtc,
    pub addr: SocketAddr,
    /// How the client's packets look to the SFU: its own address for UDP, a
    /// connection's address for simulated ICE-TCP.
    wire_addr: SocketAddr,
    protocol: Protocol,
    pub uplink: Netem<Packet>,
    pub downlink: Netem<Packet>,
    /// Drops everything both ways, as if the network vanished.
    pub cut_off: bool,
    /// Whether the client still plays its part (false after it left).
    pub active: bool,
    /// The simulation's time when the client last acted.
    now: Instant,
    timeout: Instant,
    pending_offer: Option<SdpPendingOffer>,
    publish: Publish,
    audio_mid: Option<Mid>,
    video_mid: Option<Mid>,
    next_audio: Instant,
    next_video: Instant,
    frame: u64,
    /// Level written in the RFC 6464 extension, -dBov.
    pub audio_level: i8,
    /// Layers the SFU asked a keyframe of (rid `None` for plain video).
    keyframe_wanted: Vec<Option<Rid>>,
    /// Simulcast layers the client stopped sending, as a browser does with
    /// an upper layer when its bandwidth estimate drops.
    pub paused: Vec<&'static str>,
    pub keyframe_requests: Vec<(Instant, Option<Rid>)>,
    pub connected: bool,
    pub received: HashMap<Mid, Reception>,
    /// The ICE ufrag of the SFU side, from the answer.
    pub sfu_ufrag: String,
}

impl Client {
    /// Frames received from `publisher`'s track of `kind`.
    pub fn frames_from(&self, publisher: &str, kind: MediaKind) -> Vec<Frame> {
        self.received
            .values()
            .filter(|r| r.publisher == publisher && r.kind == Some(kind))
            .flat_map(|r| r.frames.iter().copied())
            .collect()
    }

    /// Frames received from `publisher`'s track of `kind` after `since`.
    pub fn frames_since(&self, publisher: &str, kind: MediaKind, since: Instant) -> usize {
        self.frames_from(publisher, kind)
            .iter()
            .filter(|frame| frame.at > since)
            .count()
    }

    fn drain(&mut self) {
        loop {
            match self.rtc.poll_output().expect("client poll_output") {
                str0m::Output::Timeout(at) => {
                    self.timeout = at;
                    return;
                }
                str0m::Output::Transmit(t) => {
                    if self.cut_off {
                        continue;
                    }
                    let packet = Packet {
                        protocol: self.protocol,
                        source: self.wire_addr,
                        destination: t.destination,
                        contents: t.contents.into(),
                    };
                    self.uplink.handle_input(NetInput::Packet(self.now, packet));
                }
                str0m::Output::Event(event) => self.on_event(event),
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connected => self.connected = true,
            Event::MediaAdded(added) => {
                let media = self.rtc.media(added.mid).expect("added media");
                let reception = self.received.entry(added.mid).or_default();
                reception.publisher = media.stream_id().to_string();
                reception.kind = Some(media.kind());
            }
            Event::MediaData(data) => {
                let reception = self.received.entry(data.mid).or_default();
                reception.frames.push(Frame {
                    at: data.network_time,
                    size: data.data.len(),
                    rtp_time: data.time.numer(),
                    audio_level: data.ext_vals.audio_level,
                    contiguous: data.contiguous,
                });
            }
            Event::KeyframeRequest(request) => {
                let rids: Vec<Option<Rid>> = match request.rid {
                    Some(rid) => vec![Some(rid)],
                    None => self
                        .publish
                        .video
                        .iter()
                        .map(|(r, _)| r.map(Rid::from))
                        .collect(),
                };
                for rid in rids {
                    self.keyframe_requests.push((self.now, rid));
                    if !self.keyframe_wanted.contains(&rid) {
                        self.keyframe_wanted.push(rid);
                    }
                }
            }
            _ => {}
        }
    }

    fn write_audio(&mut self, now: Instant) {
        let Some(mid) = self.audio_mid else { return };
        let writer = self.rtc.writer(mid).expect("audio writer");
        let pt = writer
            .payload_params()
            .find(|p| p.spec().codec == Codec::Opus)
            .expect("opus negotiated")
            .pt();
        let time = MediaTime::new(self.frame * 960, Frequency::FORTY_EIGHT_KHZ);
        writer
            .audio_level(self.audio_level, true)
            .write(pt, now, time, vec![0xab; AUDIO_FRAME])
            .expect("audio write");
        self.drain();
    }

    fn write_video(&mut self, now: Instant) {
        let Some(mid) = self.video_mid else { return };
        let layers = self.publish.video.clone();
        for (index, (name, size)) in layers.into_iter().enumerate() {
            if name.is_some_and(|name| self.paused.contains(&name)) {
                continue;
            }
            let rid = name.map(Rid::from);
            let keyframe = self.frame == 0 || self.keyframe_wanted.contains(&rid);
            self.keyframe_wanted.retain(|wanted| *wanted != rid);
            // VP8 payload header: the lowest bit clear marks a keyframe.
            let mut frame = vec![0x5a; size];
            frame[0] = if keyframe { 0x00 } else { 0x01 };
            // Every layer runs its own RTP clock, as in a browser.
            let time = MediaTime::new(
                index as u64 * 7_000_000 + self.frame * 3_000,
                Frequency::NINETY_KHZ,
            );
            let mut writer = self.rtc.writer(mid).expect("video writer");
            let pt = writer
                .payload_params()
                .find(|p| p.spec().codec == Codec::Vp8)
                .expect("vp8 negotiated")
                .pt();
            if let Some(rid) = rid {
                writer = writer.rid(rid);
            }
            writer.write(pt, now, time, frame).expect("video write");
            self.drain();
        }
    }
}

/// The SFU, its clients and the simulated network between them.
pub struct Sim {
    pub now: Instant,
    pub sfu: Sfu,
    sfu_timeout: Instant,
    sfu_addr: SocketAddr,
    pub clients: Vec<Client>,
    /// Every SFU event with the time it came out.
    pub events: Vec<(Instant, SfuEvent)>,
    /// Every datagram the SFU sent: time and destination.
    pub sent: Vec<(Instant, SocketAddr)>,
    /// Offers not yet answered, in order.
    offers: VecDeque<(ParticipantId, String)>,
    /// Participants whose offers are held back, to cross them on purpose.
    pub held_offers: Vec<ParticipantId>,
    next_port: u16,
}

impl Sim {
    pub fn new() -> Self {
        Self::with_config(|_| {})
    }

    pub fn with_config(configure: impl FnOnce(&mut SfuConfig)) -> Self {
        let now = Instant::now();
        let mut config = SfuConfig::new(Ipv4Addr::LOCALHOST.into(), SFU_PORT);
        configure(&mut config);
        Sim {
            now,
            sfu: Sfu::new(config, now).expect("valid config"),
            sfu_timeout: now,
            sfu_addr: (Ipv4Addr::LOCALHOST, SFU_PORT).into(),
            clients: Vec::new(),
            events: Vec::new(),
            sent: Vec::new(),
            offers: VecDeque::new(),
            held_offers: Vec::new(),
            next_port: 40_000,
        }
    }

    /// Joins a new participant over UDP and makes its first offer.
    pub fn join(&mut self, room: &str, name: &str, publish: Publish) {
        self.join_over(room, name, publish, Protocol::Udp);
    }

    /// Joins over simulated ICE-TCP: the client offers only an active TCP
    /// candidate, and its packets reach the SFU from a connection address.
    pub fn join_over(&mut self, room: &str, name: &str, publish: Publish, protocol: Protocol) {
        let id = ParticipantId::from(name);
        self.sfu.join(RoomId::from(room), id.clone()).expect("join");
        self.drain_sfu();

        let port = self.next_port;
        self.next_port += 1;
        let addr: SocketAddr = (Ipv4Addr::LOCALHOST, port).into();
        let mut rtc = Rtc::new(self.now);
        let wire_addr = match protocol {
            Protocol::Udp => {
                rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
                addr
            }
            Protocol::Tcp => {
                let active = Candidate::builder()
                    .tcp()
                    .host(addr)
                    .tcptype(TcpType::Active)
                    .build()
                    .unwrap();
                rtc.add_local_candidate(active);
                // The port the OS would pick for the outgoing connection.
                (Ipv4Addr::LOCALHOST, port + 10_000).into()
            }
        };

        let mut change = rtc.sdp_api();
        let audio_mid = publish
            .audio
            .then(|| change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None));
        let video_mid = (!publish.video.is_empty()).then(|| {
            let simulcast = publish.video[0].0.is_some().then(|| {
                let mut simulcast = Simulcast::new();
                for (rid, _) in &publish.video {
                    simulcast.add_send_layer(SimulcastLayer::new(rid.unwrap()));
                }
                simulcast
            });
            change.add_media(MediaKind::Video, Direction::SendOnly, None, None, simulcast)
        });
        if audio_mid.is_none() && video_mid.is_none() {
            // A browser that only receives offers a data channel.
            change.add_channel("mesh".into());
        }
        let (offer, pending) = change.apply().expect("an offer");

        let answer = self
            .sfu
            .accept_offer(&id, &offer.to_sdp_string())
            .expect("the SFU answers");
        self.drain_sfu();
        let sfu_ufrag = answer
            .lines()
            .find_map(|line| line.strip_prefix("a=ice-ufrag:"))
            .expect("ufrag in answer")
            .to_string();
        rtc.sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
            .expect("client accepts answer");

        let mut client = Client {
            id,
            rtc,
            addr,
            wire_addr,
            protocol,
            uplink: Netem::new(NetemConfig::new().latency(Duration::from_millis(10))),
            downlink: Netem::new(NetemConfig::new().latency(Duration::from_millis(10))),
            cut_off: false,
            active: true,
            now: self.now,
            timeout: self.now,
            pending_offer: None,
            publish,
            audio_mid,
            video_mid,
            next_audio: self.now,
            next_video: self.now,
            frame: 0,
            audio_level: -30,
            keyframe_wanted: Vec::new(),
            paused: Vec::new(),
            keyframe_requests: Vec::new(),
            connected: false,
            received: HashMap::new(),
            sfu_ufrag,
        };
        client.drain();
        self.clients.push(client);
        self.answer_offers();
    }

    /// The server calls leave; the client stops playing its part but its
    /// `Rtc` keeps running, as a closed tab's might for a moment.
    pub fn leave(&mut self, name: &str) {
        self.sfu.leave(&ParticipantId::from(name)).expect("leave");
        self.client_mut(name).active = false;
        self.drain_sfu();
    }

    pub fn client(&self, name: &str) -> &Client {
        self.clients
            .iter()
            .find(|c| c.id.as_str() == name)
            .unwrap_or_else(|| panic!("no client {name}"))
    }

    pub fn client_mut(&mut self, name: &str) -> &mut Client {
        self.clients
            .iter_mut()
            .find(|c| c.id.as_str() == name)
            .unwrap_or_else(|| panic!("no client {name}"))
    }

    /// Feeds one datagram straight to the SFU, as if it arrived on its port.
    pub fn inject(&mut self, protocol: Protocol, source: SocketAddr, contents: &[u8]) {
        let datagram = Datagram {
            protocol,
            source,
            destination: self.sfu_addr,
            contents,
        };
        self.sfu.handle_input(self.now, Input::Datagram(datagram));
        self.drain_sfu();
    }

    /// SFU events after `since` matching `pick`.
    pub fn events_since<T>(
        &self,
        since: Instant,
        pick: impl Fn(&SfuEvent) -> Option<T>,
    ) -> Vec<(Instant, T)> {
        self.events
            .iter()
            .filter(|(at, _)| *at >= since)
            .filter_map(|(at, e)| pick(e).map(|t| (*at, t)))
            .collect()
    }

    /// Runs until `condition` holds, panicking after `limit` of simulated time.
    pub fn run_until(&mut self, limit: Duration, mut condition: impl FnMut(&Sim) -> bool) {
        let end = self.now + limit;
        while !condition(self) {
            assert!(self.now < end, "condition not met within {limit:?}");
            self.step();
        }
    }

    /// Runs for `duration` of simulated time.
    pub fn run_for(&mut self, duration: Duration) {
        let end = self.now + duration;
        while self.now < end {
            self.step();
        }
    }

    /// Connects everyone who has joined.
    pub fn connect_all(&mut self) {
        self.run_until(Duration::from_secs(5), |sim| {
            sim.clients.iter().filter(|c| c.active).all(|c| c.connected)
        });
    }

    /// Moves time to the next thing that happens and does everything due.
    fn step(&mut self) {
        let mut next = self.sfu_timeout;
        for client in &self.clients {
            next = next
                .min(client.timeout)
                .min(client.uplink.poll_timeout())
                .min(client.downlink.poll_timeout());
            if client.active && client.connected {
                next = next.min(client.next_audio).min(client.next_video);
            }
        }
        self.now = next.max(self.now + MIN_STEP);
        let now = self.now;

        for index in 0..self.clients.len() {
            self.clients[index].now = now;
            // Uplink: client to SFU.
            self.clients[index]
                .uplink
                .handle_input(NetInput::Timeout(now));
            while let Some(NetOutput::Packet(packet)) = self.clients[index].uplink.poll_output() {
                if self.clients[index].cut_off {
                    continue;
                }
                let datagram = Datagram {
                    protocol: packet.protocol,
                    source: packet.source,
                    destination: packet.destination,
                    contents: &packet.contents,
                };
                self.sfu.handle_input(now, Input::Datagram(datagram));
                self.drain_sfu();
            }

            // Downlink: SFU to client.
            let client = &mut self.clients[index];
            client.downlink.handle_input(NetInput::Timeout(now));
            while let Some(NetOutput::Packet(packet)) = client.downlink.poll_output() {
                if client.cut_off {
                    continue;
                }
                let receive = Receive::new(
                    packet.protocol.into(),
                    packet.source,
                    client.addr,
                    &packet.contents,
                )
                .expect("SFU sends well-formed datagrams");
                client
                    .rtc
                    .handle_input(str0m::Input::Receive(now, receive))
                    .expect("client handles input");
                client.drain();
            }

            if client.timeout <= now {
                client
                    .rtc
                    .handle_input(str0m::Input::Timeout(now))
                    .expect("client handles timeout");
                client.drain();
            }

            if client.active && client.connected {
                while client.next_audio <= now {
                    client.write_audio(now);
                    client.next_audio += AUDIO_INTERVAL;
                }
                while client.next_video <= now {
                    client.write_video(now);
                    client.frame += 1;
                    client.next_video += VIDEO_INTERVAL;
                }
            } else {
                client.next_audio = now;
                client.next_video = now;
            }
        }

        if self.sfu_timeout <= now {
            self.sfu.handle_input(now, Input::Timeout);
            self.drain_sfu();
        }
        self.answer_offers();
    }

    fn drain_sfu(&mut self) {
        loop {
            match self.sfu.poll_output() {
                Output::Timeout(at) => {
                    self.sfu_timeout = at;
                    return;
                }
                Output::Transmit(transmit) => {
                    self.sent.push((self.now, transmit.destination));
                    let client = self.clients.iter_mut().find(|c| {
                        c.wire_addr == transmit.destination && c.protocol == transmit.protocol
                    });
                    if let Some(client) = client {
                        let packet = Packet {
                            protocol: transmit.protocol,
                            source: transmit.source,
                            destination: transmit.destination,
                            contents: transmit.contents,
                        };
                        client
                            .downlink
                            .handle_input(NetInput::Packet(self.now, packet));
                    }
                }
                Output::Event(event) => {
                    if let SfuEvent::OfferNeeded { participant, sdp } = &event {
                        self.offers.push_back((participant.clone(), sdp.clone()));
                    }
                    self.events.push((self.now, event));
                }
            }
        }
    }

    /// Relays the SFU's offers to the clients and their answers back.
    fn answer_offers(&mut self) {
        let mut held = VecDeque::new();
        while let Some((participant, sdp)) = self.offers.pop_front() {
            if self.held_offers.contains(&participant) {
                held.push_back((participant, sdp));
                continue;
            }
            let Some(client) = self
                .clients
                .iter_mut()
                .find(|c| c.id == participant && c.active)
            else {
                continue;
            };
            client.now = self.now;
            let offer = SdpOffer::from_sdp_string(&sdp).expect("SFU offer parses");
            let answer = client
                .rtc
                .sdp_api()
                .accept_offer(offer)
                .expect("client accepts the SFU's offer");
            client.drain();
            self.sfu
                .accept_answer(&participant, &answer.to_sdp_string())
                .expect("SFU accepts the answer");
            self.drain_sfu();
        }
        self.offers = held;
    }

    /// Delivers offers held back for `name`, oldest first.
    pub fn release_offers(&mut self, name: &str) {
        self.held_offers.retain(|p| p.as_str() != name);
        self.answer_offers();
    }

    /// The client makes a new offer adding a video track, as a browser does
    /// when screen sharing starts. Returns whether the SFU accepted it.
    pub fn offer_another_video(&mut self, name: &str) -> Result<(), mesh_sfu::SfuError> {
        // A browser with its own offer outstanding ignores the SFU's offers
        // that cross it (perfect negotiation: the browser is the impolite
        // side); the SFU offers again after answering.
        self.offers
            .retain(|(participant, _)| participant.as_str() != name);
        let now = self.now;
        let client = self.client_mut(name);
        client.now = now;
        let mut change = client.rtc.sdp_api();
        change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        let (offer, pending) = change.apply().expect("an offer");
        client.pending_offer = Some(pending);
        let id = client.id.clone();
        let answer = self.sfu.accept_offer(&id, &offer.to_sdp_string())?;
        self.drain_sfu();
        let client = self.client_mut(name);
        let pending = client.pending_offer.take().expect("pending offer");
        client
            .rtc
            .sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
            .expect("client accepts answer");
        client.drain();
        Ok(())
    }
}
