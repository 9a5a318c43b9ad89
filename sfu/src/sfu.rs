//! The sans-IO core: rooms of participants and the routing between them.

use std::collections::{HashMap, VecDeque};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use str0m::config::DtlsCert;
use str0m::media::MediaKind;
use str0m::net::Transmit as RtcTransmit;
use str0m::Candidate;

use crate::config::SfuConfig;
use crate::demux::Demux;
use crate::error::SfuError;
use crate::event::{DisconnectReason, SfuEvent};
use crate::ids::{ParticipantId, RoomId, TrackId};
use crate::io::{Datagram, Input, Output, Protocol, Transmit, MAX_DATAGRAM_LEN};
use crate::layers::{self, Layer, VideoDemand};
use crate::metrics::{self, Metrics};
use crate::participant::{
    self, AnswerError, Effects, Fatal, Forwarded, KeyframeAsked, Participant, PeerEvent,
};
use crate::publication::KeyframeNeed;
use crate::room::Room;
use crate::subscription::Subscription;

/// The selective forwarding unit. See the [crate documentation](crate) for
/// how to drive it.
pub struct Sfu {
    config: SfuConfig,
    candidates: Vec<Candidate>,
    certificate: DtlsCert,
    /// The latest time handed in; calls without a `now` of their own use it.
    now: Instant,
    participants: HashMap<ParticipantId, Participant>,
    rooms: HashMap<RoomId, Room>,
    demux: Demux,
    /// Events from participants' `Rtc`s not yet acted on.
    work: VecDeque<(ParticipantId, PeerEvent)>,
    /// Participants with subscription changes to offer.
    to_negotiate: Vec<ParticipantId>,
    outputs: VecDeque<Output>,
    metrics: Arc<Metrics>,
    next_housekeeping: Instant,
}

impl Sfu {
    /// An SFU with no rooms. `now` starts its clock; it never reads one.
    pub fn new(config: SfuConfig, now: Instant) -> Result<Sfu, SfuError> {
        let candidates = participant::local_candidates(&config).map_err(SfuError::InvalidConfig)?;
        if candidates.is_empty() {
            return Err(SfuError::InvalidConfig("no public IP configured".into()));
        }
        let certificate = participant::dtls_certificate().map_err(SfuError::InvalidConfig)?;
        let next_housekeeping = now + config.housekeeping_interval;
        Ok(Sfu {
            config,
            candidates,
            certificate,
            now,
            participants: HashMap::new(),
            rooms: HashMap::new(),
            demux: Demux::default(),
            work: VecDeque::new(),
            to_negotiate: Vec::new(),
            outputs: VecDeque::new(),
            metrics: Arc::default(),
            next_housekeeping,
        })
    }

    /// Counters any thread may read while the SFU runs.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Admits `participant` to `room` (created if new). Its browser must
    /// make the first offer next ([`Sfu::accept_offer`]); the SFU then
    /// offers it every track already in the room.
    pub fn join(&mut self, room: RoomId, participant: ParticipantId) -> Result<(), SfuError> {
        if self.participants.contains_key(&participant) {
            return Err(SfuError::AlreadyJoined(participant));
        }
        let mut fx = Effects::default();
        let created = panic::catch_unwind(AssertUnwindSafe(|| {
            Participant::new(
                participant.clone(),
                room.clone(),
                &self.candidates,
                &self.certificate,
                self.config.initial_bitrate_bps,
                self.now,
                &mut fx,
            )
        }));
        let internal = |reason: String| SfuError::Internal {
            participant: participant.clone(),
            reason,
        };
        let mut joined = match created {
            Ok(Ok(joined)) => joined,
            Ok(Err(Fatal(reason))) => return Err(internal(reason)),
            Err(_) => return Err(internal("str0m panicked".into())),
        };

        // Everything already published in the room is offered once the
        // browser's first offer is answered.
        let state = self.rooms.entry(room).or_default();
        for member in &state.members {
            let Some(publisher) = self.participants.get(member) else {
                continue;
            };
            for publication in &publisher.publications {
                let track = TrackId {
                    publisher: member.clone(),
                    mid: publication.mid,
                };
                joined
                    .subscriptions
                    .push(Subscription::new(track, publication.kind));
            }
        }
        state.members.push(participant.clone());
        self.demux
            .add_participant(joined.ufrag().to_owned(), participant.clone());
        self.participants.insert(participant.clone(), joined);
        self.apply_effects(&participant, fx);
        self.settle();
        self.refresh_gauges();
        Ok(())
    }

    /// Answers an SDP offer from the participant's browser: the first one,
    /// or a later one when it adds or removes tracks. Returns the answer.
    pub fn accept_offer(
        &mut self,
        participant: &ParticipantId,
        sdp: &str,
    ) -> Result<String, SfuError> {
        let answer = self
            .guarded(participant, |p, fx| p.accept_offer(sdp, fx))
            .ok_or_else(|| SfuError::UnknownParticipant(participant.clone()))?;
        self.negotiate_later(participant);
        self.settle();
        self.refresh_gauges();
        answer.map_err(|reason| SfuError::Sdp {
            participant: participant.clone(),
            reason,
        })
    }

    /// Applies the browser's answer to the latest
    /// [`SfuEvent::OfferNeeded`].
    pub fn accept_answer(
        &mut self,
        participant: &ParticipantId,
        sdp: &str,
    ) -> Result<(), SfuError> {
        let accepted = self
            .guarded(participant, |p, fx| p.accept_answer(sdp, fx))
            .ok_or_else(|| SfuError::UnknownParticipant(participant.clone()))?;
        // Newly opened tracks need a layer and a keyframe; changes queued
        // while the offer was out can go now.
        self.reallocate(participant);
        self.negotiate_later(participant);
        self.settle();
        self.refresh_gauges();
        accepted.map_err(|error| match error {
            AnswerError::NoPendingOffer => SfuError::NoPendingOffer(participant.clone()),
            AnswerError::Sdp(reason) => SfuError::Sdp {
                participant: participant.clone(),
                reason,
            },
        })
    }

    /// Caps the simulcast layer `subscriber` receives of `publisher`'s video,
    /// e.g. from the size of the tile the video is shown in
    /// ([`Layer::for_tile_height`]). The default is [`Layer::High`].
    pub fn set_max_layer(
        &mut self,
        subscriber: &ParticipantId,
        publisher: &ParticipantId,
        layer: Layer,
    ) -> Result<(), SfuError> {
        let participant = self
            .participants
            .get_mut(subscriber)
            .ok_or_else(|| SfuError::UnknownParticipant(subscriber.clone()))?;
        participant.max_layers.insert(publisher.clone(), layer);
        self.reallocate(subscriber);
        self.settle();
        Ok(())
    }

    /// Removes a participant: its connection is closed, its tracks are
    /// withdrawn from everyone else.
    pub fn leave(&mut self, participant: &ParticipantId) -> Result<(), SfuError> {
        if !self.participants.contains_key(participant) {
            return Err(SfuError::UnknownParticipant(participant.clone()));
        }
        self.remove_participant(participant, None);
        self.settle();
        Ok(())
    }

    /// Feeds a datagram or the passing of time. Then drain
    /// [`Sfu::poll_output`] until it returns [`Output::Timeout`].
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        self.now = self.now.max(now);
        match input {
            Input::Datagram(datagram) => self.handle_datagram(now, &datagram),
            Input::Timeout => self.handle_timeout(),
        }
        self.settle();
    }

    /// The next thing to send or tell, or when to call
    /// [`Sfu::handle_input`] with [`Input::Timeout`] next.
    pub fn poll_output(&mut self) -> Output {
        if let Some(output) = self.outputs.pop_front() {
            return output;
        }
        let deadline = self
            .participants
            .values()
            .map(|p| match p.deferred_keyframe() {
                Some((due, ..)) => due.min(p.timeout()),
                None => p.timeout(),
            })
            .fold(self.next_housekeeping, Instant::min);
        Output::Timeout(deadline)
    }

    fn handle_datagram(&mut self, now: Instant, datagram: &Datagram<'_>) {
        metrics::add(&self.metrics.packets_in, 1);
        metrics::add(&self.metrics.bytes_in, datagram.contents.len() as u64);

        let tcp = datagram.protocol == Protocol::Tcp;
        let local = self.config.local_addr(tcp, datagram.source);
        let owner = if datagram.contents.len() <= MAX_DATAGRAM_LEN {
            self.demux.route(datagram).cloned()
        } else {
            None
        };
        let accepted = match (local, owner) {
            (Some(local), Some(participant)) => self
                .guarded(&participant, |p, fx| {
                    p.handle_datagram(now, datagram, local, fx)
                })
                .unwrap_or(false),
            (Some(local), None) => {
                match crate::stun_server::binding_response(datagram.contents, datagram.source) {
                    Some(response) => {
                        metrics::add(&self.metrics.packets_out, 1);
                        metrics::add(&self.metrics.bytes_out, response.len() as u64);
                        self.outputs.push_back(Output::Transmit(Transmit {
                            protocol: datagram.protocol,
                            source: local,
                            destination: datagram.source,
                            contents: response,
                        }));
                        true
                    }
                    None => false,
                }
            }
            _ => false,
        };
        if !accepted {
            metrics::add(&self.metrics.packets_dropped, 1);
        }
    }

    fn handle_timeout(&mut self) {
        let now = self.now;
        let due: Vec<ParticipantId> = self
            .participants
            .values()
            .filter(|p| p.timeout() <= now)
            .map(|p| p.id.clone())
            .collect();
        for participant in due {
            self.guarded(&participant, |p, fx| p.handle_timeout(now, fx));
        }
        let deferred: Vec<(TrackId, usize)> = self
            .participants
            .values()
            .filter_map(|p| {
                let (due, mid, layer) = p.deferred_keyframe()?;
                let track = TrackId {
                    publisher: p.id.clone(),
                    mid,
                };
                (due <= now).then_some((track, layer))
            })
            .collect();
        for (track, layer) in deferred {
            self.request_keyframe(&track, layer, KeyframeNeed::Start);
        }
        if now >= self.next_housekeeping {
            self.housekeeping();
            self.next_housekeeping = now + self.config.housekeeping_interval;
        }
    }

    /// The periodic work: give up on participants that never connected,
    /// re-choose layers (bandwidth and layer availability change all the
    /// time), re-request keyframes nobody has delivered yet, and name active
    /// speakers.
    fn housekeeping(&mut self) {
        let now = self.now;
        let never_connected: Vec<ParticipantId> = self
            .participants
            .values()
            .filter(|p| p.failed_to_connect(now, self.config.connect_timeout))
            .map(|p| p.id.clone())
            .collect();
        for participant in never_connected {
            self.remove_participant(&participant, Some(DisconnectReason::ConnectTimeout));
        }

        let everyone: Vec<ParticipantId> = self.participants.keys().cloned().collect();
        for participant in everyone {
            self.reallocate(&participant);
        }

        for (room, state) in &mut self.rooms {
            if let Some(participant) = state.speakers.evaluate(now) {
                self.outputs
                    .push_back(Output::Event(SfuEvent::ActiveSpeaker {
                        room: room.clone(),
                        participant,
                    }));
            }
        }
        self.refresh_gauges();
    }

    /// Acts on everything the `Rtc`s produced until nothing is left, then
    /// sends the offers that became necessary. Ends because every event
    /// comes from a finite batch of `Rtc` output, and each participant makes
    /// at most one offer until it is answered.
    fn settle(&mut self) {
        loop {
            while let Some((participant, event)) = self.work.pop_front() {
                self.on_peer_event(participant, event);
            }
            if self.to_negotiate.is_empty() {
                break;
            }
            for participant in std::mem::take(&mut self.to_negotiate) {
                self.guarded(&participant, |p, fx| p.negotiate(fx));
            }
        }
    }

    fn on_peer_event(&mut self, participant: ParticipantId, event: PeerEvent) {
        match event {
            PeerEvent::Connected => {
                self.emit(SfuEvent::Connected {
                    participant: participant.clone(),
                });
                self.reallocate(&participant);
            }
            PeerEvent::Closed(reason) => self.remove_participant(&participant, Some(reason)),
            PeerEvent::Published(mid) => self.publish(TrackId {
                publisher: participant,
                mid,
            }),
            PeerEvent::Unpublished(mid) => {
                let room = self.participants.get(&participant).map(|p| p.room.clone());
                if let Some(room) = room {
                    self.unpublish(
                        &room,
                        TrackId {
                            publisher: participant,
                            mid,
                        },
                    );
                }
            }
            PeerEvent::Media(data) => self.route_media(participant, data),
            PeerEvent::ReceptionReported { packets, lost } => {
                metrics::add(&self.metrics.packets_reported, packets);
                metrics::add(&self.metrics.packets_reported_lost, lost);
            }
            PeerEvent::KeyframeWanted(mid) => {
                let wanted = self.participants.get(&participant).and_then(|p| {
                    let subscription =
                        p.subscriptions.iter().find(|s| s.open_mid() == Some(mid))?;
                    let layer = subscription
                        .gate
                        .forwarding()
                        .or(subscription.gate.waiting_for())?;
                    Some((subscription.source.clone(), layer))
                });
                if let Some((track, layer)) = wanted {
                    self.request_keyframe(&track, layer, KeyframeNeed::Repair);
                }
            }
            PeerEvent::Offer(sdp) => self.emit(SfuEvent::OfferNeeded { participant, sdp }),
        }
    }

    /// A new track: everyone else in the room subscribes to it.
    fn publish(&mut self, track: TrackId) {
        let Some(publisher) = self.participants.get(&track.publisher) else {
            return;
        };
        let Some(publication) = publisher.publication(track.mid) else {
            return;
        };
        let (kind, layer_count) = (publication.kind, publication.layer_count());
        let others = self
            .rooms
            .get(&publisher.room)
            .map(|room| room.others(&track.publisher))
            .unwrap_or_default();

        for member in others {
            if let Some(subscriber) = self.participants.get_mut(&member) {
                subscriber
                    .subscriptions
                    .push(Subscription::new(track.clone(), kind));
                self.negotiate_later(&member);
            }
        }
        self.emit(SfuEvent::TrackPublished {
            track,
            kind: kind.into(),
            layers: layer_count,
        });
    }

    /// A track is gone: every subscriber's m-line for it is stopped.
    fn unpublish(&mut self, room: &RoomId, track: TrackId) {
        let others = self
            .rooms
            .get(room)
            .map(|room| room.others(&track.publisher))
            .unwrap_or_default();
        for member in others {
            if let Some(subscriber) = self.participants.get_mut(&member) {
                subscriber
                    .subscriptions
                    .retain_mut(|s| s.source != track || s.source_gone());
                self.negotiate_later(&member);
            }
        }
        self.emit(SfuEvent::TrackUnpublished { track });
    }

    /// Forwards one frame from its publisher to everyone else in the room.
    fn route_media(&mut self, publisher: ParticipantId, data: str0m::media::MediaData) {
        let now = self.now;
        let Some(source) = self.participants.get_mut(&publisher) else {
            return;
        };
        let room_id = source.room.clone();
        let Some(publication) = source.publication_mut(data.mid) else {
            return;
        };
        let Some(layer) = publication.layer_of(data.rid) else {
            return;
        };
        publication.record(layer, now, data.data.len());
        if data.is_keyframe() {
            publication.keyframe_arrived(layer);
        }
        let (kind, layer_count) = (publication.kind, publication.layer_count());
        let track = TrackId {
            publisher,
            mid: data.mid,
        };

        let Some(room) = self.rooms.get_mut(&room_id) else {
            return;
        };
        if let (MediaKind::Audio, Some(level)) = (kind, data.ext_vals.audio_level) {
            room.speakers.record(&track.publisher, level, now);
        }
        let mut watched = false;
        for subscriber in room.others(&track.publisher) {
            let forwarded = self.guarded(&subscriber, |s, fx| s.forward(&track, &data, layer, fx));
            watched |= matches!(forwarded, Some(Forwarded::Yes | Forwarded::Switched));
            if forwarded == Some(Forwarded::Switched) && layer_count > 1 {
                metrics::add(&self.metrics.layer_switches, 1);
                self.emit(SfuEvent::LayerChanged {
                    subscriber,
                    track: track.clone(),
                    layer: Layer::of_index(layer, layer_count),
                });
            }
        }

        // Frames were lost beyond what NACK recovered: the decoder of
        // everyone watching this layer is broken until the next keyframe.
        if kind == MediaKind::Video && !data.contiguous && watched {
            self.request_keyframe(&track, layer, KeyframeNeed::Repair);
        }
    }

    /// Asks a publisher for a keyframe of one layer when
    /// [`Publication::keyframe_request_allowed`](crate::publication::Publication::keyframe_request_allowed)
    /// says so.
    fn request_keyframe(&mut self, track: &TrackId, layer: usize, need: KeyframeNeed) {
        let (now, interval) = (self.now, self.config.keyframe_request_interval);
        let sent = self.guarded(&track.publisher, |p, fx| {
            p.request_keyframe(track.mid, layer, need, now, interval, fx)
        });
        if let Some(Some(KeyframeAsked { rid })) = sent {
            metrics::add(&self.metrics.keyframe_requests, 1);
            self.emit(SfuEvent::KeyframeRequested {
                track: track.clone(),
                rid: rid.map(|rid| rid.to_string()),
            });
        }
    }

    /// Re-chooses the layer of every video track `subscriber` receives
    /// within its egress budget, asks for keyframes where the layer changes,
    /// and updates the budget from what was sent and what is wanted.
    fn reallocate(&mut self, subscriber: &ParticipantId) {
        let now = self.now;
        let Some(participant) = self.participants.get(subscriber) else {
            return;
        };
        if !participant.is_connected() {
            return;
        }
        let open: Vec<(TrackId, MediaKind, Layer)> = participant
            .subscriptions
            .iter()
            .filter(|s| s.open_mid().is_some())
            .map(|s| {
                let cap = participant.max_layers.get(&s.source.publisher);
                (
                    s.source.clone(),
                    s.kind,
                    cap.copied().unwrap_or(Layer::High),
                )
            })
            .collect();
        let budget_bps = participant.budget.bps();

        // Rates are measured at the publishers.
        let mut audio_bps = 0;
        let mut video = Vec::new();
        for (track, kind, cap) in open {
            let flows = self
                .participants
                .get_mut(&track.publisher)
                .and_then(|p| p.publication_mut(track.mid))
                .map(|publication| publication.flows(now))
                .unwrap_or_default();
            match kind {
                MediaKind::Audio => audio_bps += flows.iter().flatten().map(|f| f.bps).sum::<u64>(),
                MediaKind::Video => video.push((track, cap, flows)),
            }
        }

        let Some(participant) = self.participants.get_mut(subscriber) else {
            return;
        };
        let demands: Vec<VideoDemand> = video
            .iter()
            .map(|(track, cap, flows)| VideoDemand {
                max_index: cap.max_index(flows.len()),
                current: participant
                    .subscription(track)
                    .and_then(|s| s.gate.forwarding()),
                flows: flows.clone(),
            })
            .collect();
        let allocation = layers::allocate(budget_bps.saturating_sub(audio_bps), &demands);
        let sent_bps = participant.egress.flow(now).map_or(0, |flow| flow.bps);
        participant
            .budget
            .update(now, sent_bps, allocation.wanted_bps + audio_bps);

        let mut keyframes = Vec::new();
        for ((track, _, _), layer) in video.into_iter().zip(allocation.layers) {
            if let Some(subscription) = participant.subscription_mut(&track) {
                subscription.gate.set_target(layer);
                if let Some(waiting) = subscription.gate.waiting_for() {
                    keyframes.push((track, waiting));
                }
            }
        }

        for (track, layer) in keyframes {
            self.request_keyframe(&track, layer, KeyframeNeed::Start);
        }
    }

    /// Removes a participant and everything it published. `reason` is set
    /// when the SFU decided this itself, and is reported to the server.
    fn remove_participant(&mut self, id: &ParticipantId, reason: Option<DisconnectReason>) {
        let Some(mut participant) = self.participants.remove(id) else {
            return;
        };
        // Say goodbye (DTLS close_notify) unless the connection is broken.
        if reason != Some(DisconnectReason::InternalError) {
            let mut fx = Effects::default();
            let closed = panic::catch_unwind(AssertUnwindSafe(|| participant.close(&mut fx)));
            if matches!(closed, Ok(Ok(()))) {
                for transmit in fx.transmits {
                    self.queue_transmit(transmit);
                }
            }
        }

        self.demux.remove_participant(id);
        self.work.retain(|(owner, _)| owner != id);
        self.to_negotiate.retain(|owner| owner != id);
        if let Some(room) = self.rooms.get_mut(&participant.room) {
            room.members.retain(|member| member != id);
            room.speakers.remove(id);
            for member in &room.members {
                if let Some(other) = self.participants.get_mut(member) {
                    other.max_layers.remove(id);
                }
            }
        }
        for publication in &participant.publications {
            let track = TrackId {
                publisher: id.clone(),
                mid: publication.mid,
            };
            self.unpublish(&participant.room, track);
        }
        if self
            .rooms
            .get(&participant.room)
            .is_some_and(|room| room.members.is_empty())
        {
            self.rooms.remove(&participant.room);
        }

        if let Some(reason) = reason {
            tracing::info!(participant = %id, ?reason, "participant removed");
            metrics::add(&self.metrics.participants_failed, 1);
            self.emit(SfuEvent::Disconnected {
                participant: id.clone(),
                reason,
            });
        }
        self.refresh_gauges();
    }

    /// Runs `f` on one participant, contained: a panic, or an error after
    /// which its connection cannot go on, removes that participant and
    /// nobody else. `None` if the participant is unknown or was removed.
    fn guarded<R>(
        &mut self,
        id: &ParticipantId,
        f: impl FnOnce(&mut Participant, &mut Effects) -> Result<R, Fatal>,
    ) -> Option<R> {
        let participant = self.participants.get_mut(id)?;
        let mut fx = Effects::default();
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| f(participant, &mut fx)));
        match outcome {
            Ok(Ok(value)) => {
                let alive = participant.is_alive();
                self.apply_effects(id, fx);
                if !alive {
                    let reason = DisconnectReason::ProtocolError("connection closed".into());
                    self.remove_participant(id, Some(reason));
                }
                Some(value)
            }
            Ok(Err(Fatal(reason))) => {
                tracing::warn!(participant = %id, %reason, "participant connection failed");
                self.remove_participant(id, Some(DisconnectReason::ProtocolError(reason)));
                None
            }
            Err(_) => {
                tracing::error!(participant = %id, "panic while handling participant");
                self.remove_participant(id, Some(DisconnectReason::InternalError));
                None
            }
        }
    }

    /// Sends what a participant's `Rtc` transmitted, learning the addresses
    /// it sent to (see [`crate::demux`]), and queues its events.
    fn apply_effects(&mut self, id: &ParticipantId, fx: Effects) {
        for transmit in fx.transmits {
            let protocol = participant::transmit_protocol(&transmit);
            self.demux.learn_address(protocol, transmit.destination, id);
            self.queue_transmit(transmit);
        }
        self.work
            .extend(fx.events.into_iter().map(|event| (id.clone(), event)));
    }

    fn queue_transmit(&mut self, transmit: RtcTransmit) {
        metrics::add(&self.metrics.packets_out, 1);
        metrics::add(&self.metrics.bytes_out, transmit.contents.len() as u64);
        self.outputs.push_back(Output::Transmit(Transmit {
            protocol: participant::transmit_protocol(&transmit),
            source: transmit.source,
            destination: transmit.destination,
            contents: transmit.contents.into(),
        }));
    }

    fn emit(&mut self, event: SfuEvent) {
        self.outputs.push_back(Output::Event(event));
    }

    fn negotiate_later(&mut self, participant: &ParticipantId) {
        if !self.to_negotiate.contains(participant) {
            self.to_negotiate.push(participant.clone());
        }
    }

    /// Recounts the gauges in [`Metrics`].
    fn refresh_gauges(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let published = self.participants.values().map(|p| p.publications.len());
        let forwarded = self.participants.values().map(|p| {
            p.subscriptions
                .iter()
                .filter(|s| s.open_mid().is_some())
                .count()
        });
        let m = &self.metrics;
        m.participants
            .store(self.participants.len() as u64, Relaxed);
        m.rooms.store(self.rooms.len() as u64, Relaxed);
        m.tracks_published
            .store(published.sum::<usize>() as u64, Relaxed);
        m.tracks_forwarded
            .store(forwarded.sum::<usize>() as u64, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use str0m::media::{Direction, MediaKind};
    use str0m::{Candidate, Rtc};

    use super::*;

    fn events(sfu: &mut Sfu) -> Vec<SfuEvent> {
        let mut events = Vec::new();
        // Bounded by what the calls above queued.
        loop {
            match sfu.poll_output() {
                Output::Event(event) => events.push(event),
                Output::Transmit(_) => {}
                Output::Timeout(_) => return events,
            }
        }
    }

    #[test]
    fn a_panic_in_one_participant_removes_only_that_participant() {
        let now = Instant::now();
        let config = SfuConfig::new(Ipv4Addr::LOCALHOST.into(), 3478);
        let mut sfu = Sfu::new(config, now).unwrap();
        let room = RoomId::from("standup");
        let (alice, bob) = (ParticipantId::from("alice"), ParticipantId::from("bob"));
        sfu.join(room.clone(), alice.clone()).unwrap();
        sfu.join(room, bob.clone()).unwrap();

        let outcome: Option<()> = sfu.guarded(&alice, |_, _| panic!("a bug in str0m"));

        assert_eq!(outcome, None);
        let disconnected = SfuEvent::Disconnected {
            participant: alice.clone(),
            reason: DisconnectReason::InternalError,
        };
        assert_eq!(events(&mut sfu), [disconnected]);
        assert!(matches!(
            sfu.accept_offer(&alice, "v=0"),
            Err(SfuError::UnknownParticipant(_))
        ));

        // Bob carries on: his browser's offer is answered.
        let answer = answer_to_audio(&mut sfu, &bob, now);
        assert!(answer.contains("a=ice-lite"));

        let metrics = sfu.metrics().snapshot();
        assert_eq!(metrics.participants, 1);
        assert_eq!(metrics.participants_failed, 1);
    }

    /// The SFU's answer to a browser of `participant` offering audio.
    fn answer_to_audio(sfu: &mut Sfu, participant: &ParticipantId, now: Instant) -> String {
        let mut browser = Rtc::new(now);
        let addr = (Ipv4Addr::LOCALHOST, 40_000).into();
        browser.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        let mut change = browser.sdp_api();
        change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let (offer, _pending) = change.apply().unwrap();
        sfu.accept_offer(participant, &offer.to_sdp_string())
            .unwrap()
    }

    /// The `a=fingerprint` line of the SFU's answer to a browser offering audio.
    fn answered_fingerprint(sfu: &mut Sfu, participant: &ParticipantId, now: Instant) -> String {
        let answer = answer_to_audio(sfu, participant, now);
        let fingerprint = answer
            .lines()
            .find(|line| line.starts_with("a=fingerprint:"));
        fingerprint
            .expect("the answer has a fingerprint")
            .to_owned()
    }

    #[test]
    fn participants_share_a_certificate_made_when_the_sfu_starts() {
        let now = Instant::now();
        let config = SfuConfig::new(Ipv4Addr::LOCALHOST.into(), 3478);
        let mut sfu = Sfu::new(config.clone(), now).unwrap();
        let (alice, bob) = (ParticipantId::from("alice"), ParticipantId::from("bob"));
        sfu.join(RoomId::from("standup"), alice.clone()).unwrap();
        sfu.join(RoomId::from("retro"), bob.clone()).unwrap();
        let fingerprint = answered_fingerprint(&mut sfu, &alice, now);
        assert_eq!(answered_fingerprint(&mut sfu, &bob, now), fingerprint);

        let mut restarted = Sfu::new(config, now).unwrap();
        restarted
            .join(RoomId::from("standup"), alice.clone())
            .unwrap();
        assert_ne!(
            answered_fingerprint(&mut restarted, &alice, now),
            fingerprint,
            "each start makes its own certificate"
        );
    }

    #[test]
    fn rejects_a_configuration_without_usable_addresses() {
        let now = Instant::now();
        let mut config = SfuConfig::new(Ipv4Addr::UNSPECIFIED.into(), 3478);
        assert!(matches!(
            Sfu::new(config.clone(), now),
            Err(SfuError::InvalidConfig(_))
        ));
        config.public_ips.clear();
        assert!(matches!(
            Sfu::new(config, now),
            Err(SfuError::InvalidConfig(_))
        ));
    }
}
