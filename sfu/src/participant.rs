//! One participant: its str0m `Rtc` (one PeerConnection carrying what it
//! publishes and what it receives), its tracks, and its negotiation state.
//!
//! Every method that mutates the `Rtc` ends by draining `poll_output` until
//! `Output::Timeout` (str0m's single-mutation invariant). What the drain
//! produces that concerns other participants is handed back in [`Effects`];
//! the caller applies it after this participant's borrow has ended.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::config::{CryptoProvider, DtlsCert};
use str0m::media::{Direction, KeyframeRequestKind, MediaData, MediaKind, Mid, Rid, Rids};
use str0m::net::{Receive, Transmit};
use str0m::{Candidate, Event, IceConnectionState, IceCreds, Input, Output, Rtc, RtcError};

use crate::bitrate::BitrateMeter;
use crate::budget::EgressBudget;
use crate::event::DisconnectReason;
use crate::forward::Admit;
use crate::ids::{ParticipantId, RoomId, TrackId};
use crate::io::{Datagram, Protocol};
use crate::layers::Layer;
use crate::publication::{KeyframeNeed, Publication};
use crate::subscription::{Negotiation, Subscription};

/// How often str0m reports each outgoing stream's receiver-report loss.
const STATS_INTERVAL: Duration = Duration::from_millis(500);

/// Something a participant's `Rtc` did that the rest of the SFU acts on.
// Frames are by far the most common event; boxing them would allocate once
// per frame for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum PeerEvent {
    /// ICE and DTLS are up.
    Connected,
    /// The connection is over.
    Closed(DisconnectReason),
    /// The browser started sending a track on `mid`.
    Published(Mid),
    /// The browser stopped sending the track on `mid`.
    Unpublished(Mid),
    /// A frame of a published track.
    Media(MediaData),
    /// The browser asked for a keyframe of what it receives on `mid`.
    KeyframeWanted(Mid),
    /// The browser's receiver reports covered `packets` more of what it is
    /// sent, of which it lost `lost`.
    ReceptionReported { packets: u64, lost: u64 },
    /// An offer for the browser.
    Offer(String),
}

/// What one call into a participant produced for the rest of the SFU.
#[derive(Default)]
pub(crate) struct Effects {
    pub transmits: Vec<Transmit>,
    pub events: Vec<PeerEvent>,
}

/// An error after which the participant's connection cannot go on.
#[derive(Debug)]
pub(crate) struct Fatal(pub String);

impl From<RtcError> for Fatal {
    fn from(error: RtcError) -> Self {
        Fatal(error.to_string())
    }
}

/// Why an answer from the browser was not applied.
#[derive(Debug)]
pub(crate) enum AnswerError {
    NoPendingOffer,
    Sdp(String),
}

/// A keyframe request that went out to the browser.
#[derive(Debug)]
pub(crate) struct KeyframeAsked {
    /// The simulcast layer asked for; `None` without simulcast.
    pub rid: Option<Rid>,
}

/// What forwarding one frame to a subscriber did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Forwarded {
    /// Not sent: not subscribed, not negotiated yet, or not this layer.
    No,
    /// Sent on the layer already being forwarded.
    Yes,
    /// Sent, and it started a new simulcast layer.
    Switched,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Connection {
    Joining { since: Instant },
    Connected,
}

pub(crate) struct Participant {
    pub id: ParticipantId,
    pub room: RoomId,
    rtc: Rtc,
    ufrag: String,
    connection: Connection,
    /// The browser's first offer has been answered; the SFU may offer now.
    negotiated: bool,
    pending_offer: Option<SdpPendingOffer>,
    pub publications: Vec<Publication>,
    pub subscriptions: Vec<Subscription>,
    /// What may be sent to this participant (see `budget`).
    pub budget: EgressBudget,
    /// What is forwarded to this participant.
    pub egress: BitrateMeter,
    /// The highest layer wanted per publisher, as the browser reported it.
    pub max_layers: HashMap<ParticipantId, Layer>,
    /// When the `Rtc` next wants `Input::Timeout`.
    timeout: Instant,
}

impl Participant {
    /// A participant whose `Rtc` knows the SFU's candidates and waits for the
    /// browser's first offer.
    pub(crate) fn new(
        id: ParticipantId,
        room: RoomId,
        candidates: &[Candidate],
        certificate: &DtlsCert,
        initial_bitrate_bps: u64,
        now: Instant,
        fx: &mut Effects,
    ) -> Result<Self, Fatal> {
        let credentials = IceCreds::new();
        let ufrag = credentials.ufrag.clone();
        let mut config = Rtc::builder()
            .set_ice_lite(true)
            .set_dtls_cert(certificate.clone())
            .set_local_ice_credentials(credentials)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true);
        // One H.264 variant (constrained baseline, packetization mode 1, what
        // every browser can send) instead of str0m's seven: every forwarded
        // video m-line lists every payload type, and the SDP of a large call
        // grows with participants × m-lines × payload types.
        config
            .codec_config()
            .add_h264(108.into(), Some(109.into()), true, 0x42e01f);
        // No bandwidth estimator: it would pace what is forwarded (see
        // `budget`). Receiver-report statistics feed the budget instead.
        let rtc = config.set_stats_interval(Some(STATS_INTERVAL)).build(now);
        let mut participant = Participant {
            id,
            room,
            rtc,
            ufrag,
            connection: Connection::Joining { since: now },
            negotiated: false,
            pending_offer: None,
            publications: Vec::new(),
            subscriptions: Vec::new(),
            budget: EgressBudget::new(initial_bitrate_bps),
            egress: BitrateMeter::default(),
            max_layers: HashMap::new(),
            timeout: now,
        };
        for candidate in candidates {
            participant.rtc.add_local_candidate(candidate.clone());
            participant.drain(fx)?;
        }
        Ok(participant)
    }

    /// The SFU-side ICE username fragment, which names this participant in
    /// STUN binding requests.
    pub(crate) fn ufrag(&self) -> &str {
        &self.ufrag
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.rtc.is_alive()
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.connection == Connection::Connected
    }

    /// When the `Rtc` next needs [`Participant::handle_timeout`].
    pub(crate) fn timeout(&self) -> Instant {
        self.timeout
    }

    /// The earliest keyframe request deferred for a waiting subscriber:
    /// when it is due, and for which track and layer.
    pub(crate) fn deferred_keyframe(&self) -> Option<(Instant, Mid, usize)> {
        self.publications
            .iter()
            .filter_map(|p| {
                p.deferred_keyframe_due()
                    .map(|(due, layer)| (due, p.mid, layer))
            })
            .min()
    }

    /// Whether it has had `limit` to connect and has not.
    pub(crate) fn failed_to_connect(&self, now: Instant, limit: Duration) -> bool {
        match self.connection {
            Connection::Joining { since } => now.saturating_duration_since(since) > limit,
            Connection::Connected => false,
        }
    }

    pub(crate) fn publication(&self, mid: Mid) -> Option<&Publication> {
        self.publications.iter().find(|p| p.mid == mid)
    }

    pub(crate) fn publication_mut(&mut self, mid: Mid) -> Option<&mut Publication> {
        self.publications.iter_mut().find(|p| p.mid == mid)
    }

    pub(crate) fn subscription(&self, source: &TrackId) -> Option<&Subscription> {
        self.subscriptions.iter().find(|s| &s.source == source)
    }

    pub(crate) fn subscription_mut(&mut self, source: &TrackId) -> Option<&mut Subscription> {
        self.subscriptions.iter_mut().find(|s| &s.source == source)
    }

    /// Feeds one datagram to the `Rtc`. Returns false if str0m could not even
    /// classify it (not STUN, DTLS, RTP or RTCP).
    pub(crate) fn handle_datagram(
        &mut self,
        now: Instant,
        datagram: &Datagram<'_>,
        local: std::net::SocketAddr,
        fx: &mut Effects,
    ) -> Result<bool, Fatal> {
        let Ok(receive) = Receive::new(
            datagram.protocol.into(),
            datagram.source,
            local,
            datagram.contents,
        ) else {
            return Ok(false);
        };
        // A bad packet is not the participant's end: str0m closes the `Rtc`
        // itself when the connection cannot go on, which `is_alive` reports.
        if let Err(error) = self.rtc.handle_input(Input::Receive(now, receive)) {
            tracing::debug!(participant = %self.id, %error, "datagram rejected");
        }
        self.drain(fx)?;
        Ok(true)
    }

    /// Moves the `Rtc`'s clock on if its timeout has come.
    pub(crate) fn handle_timeout(&mut self, now: Instant, fx: &mut Effects) -> Result<(), Fatal> {
        if now < self.timeout {
            return Ok(());
        }
        if let Err(error) = self.rtc.handle_input(Input::Timeout(now)) {
            tracing::debug!(participant = %self.id, %error, "timeout handling failed");
        }
        self.drain(fx)
    }

    /// Answers an offer from the browser. The inner error is for bad SDP,
    /// which leaves the connection as it was.
    pub(crate) fn accept_offer(
        &mut self,
        sdp: &str,
        fx: &mut Effects,
    ) -> Result<Result<String, String>, Fatal> {
        let offer = match SdpOffer::from_sdp_string(sdp) {
            Ok(offer) => offer,
            Err(error) => return Ok(Err(error.to_string())),
        };
        let answer = self.rtc.sdp_api().accept_offer(offer);
        // str0m voids our outstanding offer whether or not it accepted theirs.
        if self.pending_offer.take().is_some() {
            self.subscriptions.retain_mut(Subscription::offer_abandoned);
        }
        self.drain(fx)?;
        match answer {
            Ok(answer) => {
                self.negotiated = true;
                Ok(Ok(answer.to_sdp_string()))
            }
            Err(error) => Ok(Err(error.to_string())),
        }
    }

    /// Applies the browser's answer to the SFU's outstanding offer.
    pub(crate) fn accept_answer(
        &mut self,
        sdp: &str,
        fx: &mut Effects,
    ) -> Result<Result<(), AnswerError>, Fatal> {
        let Some(pending) = self.pending_offer.take() else {
            return Ok(Err(AnswerError::NoPendingOffer));
        };
        let answer = match SdpAnswer::from_sdp_string(sdp) {
            Ok(answer) => answer,
            Err(error) => {
                self.pending_offer = Some(pending);
                return Ok(Err(AnswerError::Sdp(error.to_string())));
            }
        };
        let result = self.rtc.sdp_api().accept_answer(pending, answer);
        match &result {
            Ok(()) => self.subscriptions.retain_mut(Subscription::offer_answered),
            // The offer is spent either way; its changes go into the next one.
            Err(_) => self.subscriptions.retain_mut(Subscription::offer_abandoned),
        }
        self.drain(fx)?;
        Ok(result.map_err(|error| AnswerError::Sdp(error.to_string())))
    }

    /// Offers the browser every queued subscription change, unless an offer
    /// is already out or the browser has not made its first offer yet.
    pub(crate) fn negotiate(&mut self, fx: &mut Effects) -> Result<(), Fatal> {
        if !self.negotiated
            || self.pending_offer.is_some()
            || !self.subscriptions.iter().any(Subscription::needs_offer)
        {
            return Ok(());
        }

        let mut change = self.rtc.sdp_api();
        for subscription in &mut self.subscriptions {
            match subscription.negotiation {
                Negotiation::ToOpen => {
                    let publisher = subscription.source.publisher.to_string();
                    let track = format!("{publisher}-{}", subscription.source.mid);
                    let mid = change.add_media(
                        subscription.kind,
                        Direction::SendOnly,
                        Some(publisher),
                        Some(track),
                        None,
                    );
                    subscription.negotiation = Negotiation::Opening(mid);
                }
                Negotiation::ToStop(mid) => {
                    change.stop_media(mid);
                    subscription.negotiation = Negotiation::Stopping(mid);
                }
                Negotiation::Opening(_) | Negotiation::Open(_) | Negotiation::Stopping(_) => {}
            }
        }
        match change.apply() {
            Some((offer, pending)) => {
                self.pending_offer = Some(pending);
                fx.events.push(PeerEvent::Offer(offer.to_sdp_string()));
            }
            // Only stops of m-lines str0m already had stopped: nothing to offer.
            None => self.subscriptions.retain_mut(Subscription::offer_answered),
        }
        self.drain(fx)
    }

    /// Sends one frame of `source` on `layer` to this participant if it
    /// subscribes to it and the layer gate admits it.
    pub(crate) fn forward(
        &mut self,
        source: &TrackId,
        data: &MediaData,
        layer: usize,
        fx: &mut Effects,
    ) -> Result<Forwarded, Fatal> {
        if !self.is_connected() {
            return Ok(Forwarded::No);
        }
        let Some(subscription) = self.subscriptions.iter_mut().find(|s| &s.source == source) else {
            return Ok(Forwarded::No);
        };
        let Some(mid) = subscription.open_mid() else {
            return Ok(Forwarded::No);
        };
        let switched = match subscription.kind {
            MediaKind::Audio => false,
            MediaKind::Video => match subscription.gate.admit(layer, data.is_keyframe()) {
                Admit::Drop => return Ok(Forwarded::No),
                Admit::Forward => false,
                Admit::Switch => true,
            },
        };
        let time = subscription
            .timeline
            .map(data.time, data.network_time, switched);

        let Some(writer) = self.rtc.writer(mid) else {
            return Ok(Forwarded::No);
        };
        // The subscriber's browser may lack the publisher's codec (H.264
        // profiles differ between browsers); it then gets nothing of it.
        let Some(pt) = writer.match_params(data.params) else {
            return Ok(Forwarded::No);
        };
        let mut writer = writer;
        if let Some(level) = data.ext_vals.audio_level {
            writer = writer.audio_level(level, data.ext_vals.voice_activity.unwrap_or(false));
        }
        if let Some(orientation) = data.ext_vals.video_orientation {
            writer = writer.video_orientation(orientation);
        }
        let written = writer.write(pt, data.network_time, time, data.data.clone());
        self.drain(fx)?;

        if written.is_ok() {
            self.egress.record(data.network_time, data.data.len());
        }
        match written {
            Ok(()) if switched => Ok(Forwarded::Switched),
            Ok(()) => Ok(Forwarded::Yes),
            Err(error) => {
                tracing::debug!(participant = %self.id, %error, "forwarding a frame failed");
                Ok(Forwarded::No)
            }
        }
    }

    /// Asks the browser for a keyframe of `layer` of the track it publishes
    /// on `mid`, unless [`Publication::keyframe_request_allowed`] says no.
    pub(crate) fn request_keyframe(
        &mut self,
        mid: Mid,
        layer: usize,
        need: KeyframeNeed,
        now: Instant,
        interval: Duration,
        fx: &mut Effects,
    ) -> Result<Option<KeyframeAsked>, Fatal> {
        let Some(publication) = self.publications.iter_mut().find(|p| p.mid == mid) else {
            return Ok(None);
        };
        if !publication.keyframe_request_allowed(layer, need, now, interval) {
            return Ok(None);
        }
        let rid = publication.rid_of(layer);
        let Some(mut writer) = self.rtc.writer(mid) else {
            return Ok(None);
        };
        let kind = if writer.is_request_keyframe_possible(KeyframeRequestKind::Pli) {
            KeyframeRequestKind::Pli
        } else {
            KeyframeRequestKind::Fir
        };
        let sent = writer.request_keyframe(rid, kind);
        self.drain(fx)?;

        match sent {
            Ok(()) => {
                if let Some(publication) = self.publication_mut(mid) {
                    publication.keyframe_requested(layer, now);
                }
                Ok(Some(KeyframeAsked { rid }))
            }
            // The layer's stream is not known yet (no packet of it arrived).
            Err(error) => {
                tracing::debug!(participant = %self.id, %error, "keyframe request failed");
                Ok(None)
            }
        }
    }

    /// Closes the connection: RTCP BYE and DTLS close_notify go out so the
    /// browser learns at once instead of after its ICE timeout.
    pub(crate) fn close(&mut self, fx: &mut Effects) -> Result<(), Fatal> {
        if let Err(error) = self.rtc.close() {
            tracing::debug!(participant = %self.id, %error, "closing failed");
        }
        self.drain(fx)
    }

    /// Polls the `Rtc` until it has nothing more to do before its timeout.
    fn drain(&mut self, fx: &mut Effects) -> Result<(), Fatal> {
        loop {
            match self.rtc.poll_output()? {
                Output::Timeout(at) => {
                    self.timeout = at;
                    return Ok(());
                }
                Output::Transmit(transmit) => fx.transmits.push(transmit),
                Output::Event(event) => self.on_event(event, fx),
            }
        }
    }

    fn on_event(&mut self, event: Event, fx: &mut Effects) {
        match event {
            Event::Connected => {
                self.connection = Connection::Connected;
                fx.events.push(PeerEvent::Connected);
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected)
                if self.is_connected() =>
            {
                fx.events
                    .push(PeerEvent::Closed(DisconnectReason::IceTimeout));
            }
            Event::Closed => fx
                .events
                .push(PeerEvent::Closed(DisconnectReason::ClosedByPeer)),
            Event::MediaAdded(added) => self.sync_publication(added.mid, added.direction, fx),
            Event::MediaChanged(changed) => {
                self.sync_publication(changed.mid, changed.direction, fx)
            }
            Event::MediaData(data) if self.publication(data.mid).is_some() => {
                fx.events.push(PeerEvent::Media(data));
            }
            Event::KeyframeRequest(request) => {
                fx.events.push(PeerEvent::KeyframeWanted(request.mid));
            }
            Event::MediaEgressStats(stats) => {
                if let Some(loss) = stats.loss {
                    let (packets, lost) =
                        self.budget
                            .report(stats.mid, stats.rid, stats.packets, loss);
                    fx.events
                        .push(PeerEvent::ReceptionReported { packets, lost });
                }
            }
            _ => {}
        }
    }

    /// Publishes or unpublishes the browser's m-line `mid` to match whether
    /// the SFU receives on it. The SFU's own m-lines (subscriptions) are
    /// send-only and never count.
    fn sync_publication(&mut self, mid: Mid, direction: Direction, fx: &mut Effects) {
        let published = self.publication(mid).is_some();
        if direction.is_receiving() && !published {
            let Some(media) = self.rtc.media(mid) else {
                return;
            };
            let rids = match media.rids_rx() {
                Rids::Specific(rids) => rids.clone(),
                Rids::None | Rids::Any => Vec::new(),
            };
            self.publications
                .push(Publication::new(mid, media.kind(), &rids));
            fx.events.push(PeerEvent::Published(mid));
        } else if !direction.is_receiving() && published {
            self.publications.retain(|p| p.mid != mid);
            fx.events.push(PeerEvent::Unpublished(mid));
        }
    }
}

/// The DTLS certificate every participant's `Rtc` presents, made once when
/// the SFU starts: its fingerprint travels in each answer over the
/// authenticated signaling channel, as one certificate per process does
/// for Janus and mediasoup. Making the first certificate of a process also
/// initialises the crypto library, 21 ms on an idle machine and 96 ms on one
/// busy with a call; per `Rtc`, that fell on the first SFU join, which is
/// the moment a call switches to the SFU.
pub(crate) fn dtls_certificate() -> Result<DtlsCert, String> {
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(str0m::crypto::from_feature_flags);
    provider
        .dtls_provider
        .generate_certificate()
        .ok_or_else(|| "the crypto provider cannot make a DTLS certificate".into())
}

/// The candidates every participant's `Rtc` is given.
pub(crate) fn local_candidates(config: &crate::SfuConfig) -> Result<Vec<Candidate>, String> {
    let mut candidates = Vec::new();
    for ip in &config.public_ips {
        let udp = std::net::SocketAddr::new(*ip, config.udp_port);
        candidates.push(Candidate::host(udp, "udp").map_err(|e| e.to_string())?);
        if let Some(port) = config.tcp_port {
            let tcp = std::net::SocketAddr::new(*ip, port);
            let candidate = Candidate::builder()
                .tcp()
                .host(tcp)
                .tcptype(str0m::net::TcpType::Passive)
                .build()
                .map_err(|e| e.to_string())?;
            candidates.push(candidate);
        }
    }
    Ok(candidates)
}

/// The protocol of a datagram str0m wants sent.
pub(crate) fn transmit_protocol(transmit: &Transmit) -> Protocol {
    match transmit.proto {
        str0m::net::Protocol::Udp => Protocol::Udp,
        // Only UDP and passive TCP candidates are offered.
        _ => Protocol::Tcp,
    }
}
