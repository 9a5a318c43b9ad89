//! A synthetic WebRTC client: a str0m `Rtc` on its own loopback UDP socket
//! playing the part of a browser tab, with no browser and no codec. It
//! publishes the pre-made media of [`frames`](crate::frames) (Opus plus VP8
//! in three simulcast layers), receives whatever the SFU forwards, and
//! records every frame's stamp on the way out and on the way in.
//!
//! A peer knows nothing of Mesh or Janus: session descriptions travel
//! through a [`PeerLink`], and a signaling task for the system under test
//! carries them to and from its server.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{
    Direction, Frequency, MediaKind, MediaTime, Mid, Pt, Rid, Simulcast, SimulcastLayer,
};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use crate::frames::{Kind, MediaSource, Stamp, AUDIO_INTERVAL, VIDEO_INTERVAL, VIDEO_LAYERS};

/// A session description on its way between a peer and its SFU.
#[derive(Debug)]
pub enum Sdp {
    Offer(String),
    Answer(String),
}

/// The peer's end of its signaling: descriptions out, descriptions in.
pub struct PeerLink {
    to_server: mpsc::UnboundedSender<Sdp>,
    from_server: mpsc::UnboundedReceiver<Sdp>,
}

/// The signaling task's end.
pub struct ServerLink {
    pub to_peer: mpsc::UnboundedSender<Sdp>,
    pub from_peer: mpsc::UnboundedReceiver<Sdp>,
}

pub fn link() -> (PeerLink, ServerLink) {
    let (to_server, from_peer) = mpsc::unbounded_channel();
    let (to_peer, from_server) = mpsc::unbounded_channel();
    (
        PeerLink {
            to_server,
            from_server,
        },
        ServerLink { to_peer, from_peer },
    )
}

/// Datagrams between all peers of a run and the server, counted at the
/// peers' sockets.
#[derive(Default)]
pub struct Traffic {
    pub sent_packets: AtomicU64,
    pub sent_bytes: AtomicU64,
    pub received_packets: AtomicU64,
    pub received_bytes: AtomicU64,
}

/// A frame as it arrived.
#[derive(Clone, Copy, Debug)]
pub struct Arrival {
    pub stamp: Stamp,
    /// When its last packet was read off the socket, in nanoseconds since
    /// the generator's epoch.
    pub arrived_ns: u64,
}

/// What one peer sent and received.
#[derive(Default)]
pub struct PeerRecord {
    /// One stamp per audio packet and per video frame (the lowest layer's:
    /// every layer carries the same frame numbers).
    pub sent: Vec<Stamp>,
    /// Every frame received, in order of arrival.
    pub received: Vec<Arrival>,
}

/// What a peer does.
pub struct PeerRole {
    /// Publishes audio and simulcast video as this publisher.
    pub publishes: Option<u32>,
    /// Makes the first offer. A peer that publishes nothing then offers a
    /// data channel, as a browser with nothing to send does; otherwise it
    /// waits for the server's offer.
    pub offers_first: bool,
}

struct Publishing {
    source: MediaSource,
    audio: Mid,
    video: Mid,
    /// Payload types, known once the answer is in.
    pts: Option<(Pt, Pt)>,
    next_audio: Instant,
    next_video: Instant,
}

pub struct Peer {
    name: String,
    rtc: Rtc,
    socket: UdpSocket,
    addr: SocketAddr,
    epoch: Instant,
    timeout: Instant,
    connected: bool,
    publishes: Option<u32>,
    /// Set up with the first offer.
    publishing: Option<Publishing>,
    offers_first: bool,
    pending: Option<SdpPendingOffer>,
    seen: HashSet<(u32, Kind)>,
    /// How many publisher streams (audio or video of one publisher) this peer
    /// has received at least one frame of.
    pub streams_seen: Arc<AtomicUsize>,
    traffic: Arc<Traffic>,
    record: PeerRecord,
}

impl Peer {
    pub async fn new(
        name: String,
        role: PeerRole,
        epoch: Instant,
        traffic: Arc<Traffic>,
    ) -> anyhow::Result<Peer> {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let addr = socket.local_addr()?;
        let now = Instant::now();
        let mut rtc = Rtc::new(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp")?);
        if role.publishes.is_some() && !role.offers_first {
            bail!("{name}: a publisher makes the first offer");
        }
        Ok(Peer {
            name,
            rtc,
            socket,
            addr,
            epoch,
            timeout: now,
            connected: false,
            publishes: role.publishes,
            publishing: None,
            offers_first: role.offers_first,
            pending: None,
            seen: HashSet::new(),
            streams_seen: Arc::default(),
            traffic,
            record: PeerRecord::default(),
        })
    }

    /// Negotiates, connects, sends and receives until `stop` turns true,
    /// then hands back what it sent and received.
    pub async fn run(
        mut self,
        mut link: PeerLink,
        mut stop: watch::Receiver<bool>,
    ) -> anyhow::Result<PeerRecord> {
        if self.offers_first {
            let offer = self.offer()?;
            let _ = link.to_server.send(Sdp::Offer(offer));
        }
        self.drain().await?;
        let mut buffer = vec![0u8; 2048];
        while !*stop.borrow() {
            tokio::select! {
                changed = stop.changed() => if changed.is_err() { break },
                Some(sdp) = link.from_server.recv() => self.on_signal(sdp, &link).await?,
                received = self.socket.recv_from(&mut buffer) => {
                    let (len, source) = received?;
                    self.receive(&buffer[..len], source).await?;
                    // Take a burst in one go rather than one select per datagram.
                    while let Ok((len, source)) = self.socket.try_recv_from(&mut buffer) {
                        self.receive(&buffer[..len], source).await?;
                    }
                }
                () = tokio::time::sleep_until(self.next_wakeup().into()) => {}
            }
            self.tick().await?;
        }
        Ok(self.record)
    }

    /// The first offer: audio and simulcast video (rids low to high), or a
    /// data channel.
    fn offer(&mut self) -> anyhow::Result<String> {
        let now = Instant::now();
        let mut change = self.rtc.sdp_api();
        match self.publishes {
            Some(publisher) => {
                let audio =
                    change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
                let mut simulcast = Simulcast::new();
                for layer in &VIDEO_LAYERS {
                    simulcast.add_send_layer(SimulcastLayer::new(layer.rid));
                }
                let video = change.add_media(
                    MediaKind::Video,
                    Direction::SendOnly,
                    None,
                    None,
                    Some(simulcast),
                );
                self.publishing = Some(Publishing {
                    source: MediaSource::new(publisher),
                    audio,
                    video,
                    pts: None,
                    next_audio: now,
                    next_video: now,
                });
            }
            None => {
                change.add_channel("mesh".into());
            }
        }
        let (offer, pending) = change.apply().context("nothing to offer")?;
        self.pending = Some(pending);
        Ok(offer.to_sdp_string())
    }

    async fn on_signal(&mut self, sdp: Sdp, link: &PeerLink) -> anyhow::Result<()> {
        match sdp {
            Sdp::Answer(answer) => {
                let Some(pending) = self.pending.take() else {
                    bail!("{}: an answer without an offer", self.name);
                };
                let answer = SdpAnswer::from_sdp_string(&answer)
                    .with_context(|| format!("{}: unparsable answer", self.name))?;
                self.rtc
                    .sdp_api()
                    .accept_answer(pending, answer)
                    .with_context(|| format!("{}: answer refused", self.name))?;
            }
            // Our own offer is outstanding: as the impolite side of perfect
            // negotiation we ignore theirs; the SFU offers again later.
            Sdp::Offer(_) if self.pending.is_some() => {}
            Sdp::Offer(offer) => {
                let offer = SdpOffer::from_sdp_string(&offer)
                    .with_context(|| format!("{}: unparsable offer", self.name))?;
                let answer = self
                    .rtc
                    .sdp_api()
                    .accept_offer(offer)
                    .with_context(|| format!("{}: offer refused", self.name))?;
                let _ = link.to_server.send(Sdp::Answer(answer.to_sdp_string()));
            }
        }
        self.drain().await
    }

    async fn receive(&mut self, contents: &[u8], source: SocketAddr) -> anyhow::Result<()> {
        self.traffic
            .received_packets
            .fetch_add(1, Ordering::Relaxed);
        self.traffic
            .received_bytes
            .fetch_add(contents.len() as u64, Ordering::Relaxed);
        let Ok(receive) = Receive::new(Protocol::Udp, source, self.addr, contents) else {
            return Ok(());
        };
        self.rtc
            .handle_input(Input::Receive(Instant::now(), receive))
            .with_context(|| format!("{}: input refused", self.name))?;
        self.drain().await
    }

    /// Handles str0m's timeout and writes the media that is due.
    async fn tick(&mut self) -> anyhow::Result<()> {
        let now = Instant::now();
        if self.timeout <= now {
            self.rtc
                .handle_input(Input::Timeout(now))
                .with_context(|| format!("{}: timeout refused", self.name))?;
            self.drain().await?;
        }
        let Some(publishing) = self.publishing.as_mut() else {
            return Ok(());
        };
        if !self.connected {
            publishing.next_audio = now;
            publishing.next_video = now;
            return Ok(());
        }
        let pts = match publishing.pts {
            Some(pts) => pts,
            None => {
                let pts = (
                    payload_type(&mut self.rtc, publishing.audio, Codec::Opus)?,
                    payload_type(&mut self.rtc, publishing.video, Codec::Vp8)?,
                );
                publishing.pts = Some(pts);
                pts
            }
        };
        while publishing.next_audio <= now {
            let sent_ns = nanos(self.epoch, now);
            let (packet, stamp) = publishing.source.next_audio(sent_ns);
            let time = MediaTime::new(u64::from(stamp.seq) * 960, Frequency::FORTY_EIGHT_KHZ);
            self.rtc
                .writer(publishing.audio)
                .context("no audio writer")?
                .audio_level(-30, true)
                .write(pts.0, now, time, packet)?;
            self.record.sent.push(stamp);
            publishing.next_audio += AUDIO_INTERVAL;
        }
        while publishing.next_video <= now {
            let sent_ns = nanos(self.epoch, now);
            let (frames, stamp) = publishing.source.next_video(sent_ns);
            for (index, (frame, layer)) in frames.into_iter().zip(&VIDEO_LAYERS).enumerate() {
                // Every layer runs its own RTP clock, as in a browser.
                let time = MediaTime::new(
                    index as u64 * 7_000_000 + u64::from(stamp.seq) * 6_000,
                    Frequency::NINETY_KHZ,
                );
                self.rtc
                    .writer(publishing.video)
                    .context("no video writer")?
                    .rid(Rid::from(layer.rid))
                    .write(pts.1, now, time, frame)?;
            }
            self.record.sent.push(stamp);
            publishing.next_video += VIDEO_INTERVAL;
        }
        self.drain().await
    }

    fn next_wakeup(&self) -> Instant {
        match &self.publishing {
            Some(p) if self.connected => self.timeout.min(p.next_audio).min(p.next_video),
            _ => self.timeout,
        }
    }

    /// Sends everything str0m has to send and acts on its events, until it
    /// says when to call again.
    async fn drain(&mut self) -> anyhow::Result<()> {
        loop {
            let output = self
                .rtc
                .poll_output()
                .with_context(|| format!("{}: str0m failed", self.name))?;
            match output {
                Output::Timeout(at) => {
                    self.timeout = at;
                    return Ok(());
                }
                Output::Transmit(transmit) => {
                    self.traffic.sent_packets.fetch_add(1, Ordering::Relaxed);
                    self.traffic
                        .sent_bytes
                        .fetch_add(transmit.contents.len() as u64, Ordering::Relaxed);
                    self.socket
                        .send_to(&transmit.contents, transmit.destination)
                        .await?;
                }
                Output::Event(event) => self.on_event(event),
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connected => self.connected = true,
            Event::KeyframeRequest(request) => {
                if let Some(publishing) = self.publishing.as_mut() {
                    publishing.source.want_keyframe(request.rid.as_deref());
                }
            }
            Event::MediaData(data) => {
                let Some(stamp) = Stamp::read(&data.data) else {
                    return;
                };
                let arrived_ns = nanos(self.epoch, data.network_time);
                self.record.received.push(Arrival { stamp, arrived_ns });
                if self.seen.insert((stamp.publisher, stamp.kind)) {
                    self.streams_seen.store(self.seen.len(), Ordering::Relaxed);
                }
            }
            _ => {}
        }
    }
}

fn nanos(epoch: Instant, at: Instant) -> u64 {
    at.saturating_duration_since(epoch).as_nanos() as u64
}

fn payload_type(rtc: &mut Rtc, mid: Mid, codec: Codec) -> anyhow::Result<Pt> {
    let writer = rtc.writer(mid).context("media not negotiated")?;
    let pt = writer
        .payload_params()
        .find(|params| params.spec().codec == codec)
        .map(|params| params.pt());
    pt.with_context(|| format!("{codec:?} not negotiated"))
}
