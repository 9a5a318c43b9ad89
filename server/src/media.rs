//! The embedded SFU as the control plane sees it: starting it, relaying a
//! participant's SDP to and from it, and acting on what it reports.
//!
//! The SFU knows rooms and participants only as opaque ids; this module maps
//! them to calls and connections. Signals between a browser and the SFU use
//! the ordinary `call.signal` with the reserved participant id `"sfu"`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use mesh_proto::{
    ActiveSpeaker, SdpType, ServerEvent, ServerFrame, SessionDescription, Signal, SignalReceived,
    VideoLayer, SFU_PARTICIPANT,
};
use mesh_sfu::driver::SfuHandle;
use mesh_sfu::{Layer, MetricsSnapshot, ParticipantId, RoomId, SfuConfig, SfuError, SfuEvent};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::config::SfuSettings;
use crate::error::{Error, Result};
use crate::hub::ConnectionId;
use crate::SharedApp;

pub struct Media {
    handle: SfuHandle,
    /// One lock per participant, held while an answer from the SFU is on its
    /// way to the browser, so an offer the SFU makes right after cannot
    /// overtake it.
    signal_order: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The latest active speaker of each room, for participants who join later.
    speakers: Mutex<HashMap<i64, String>>,
}

pub type Events = UnboundedReceiver<SfuEvent>;

impl Media {
    /// Starts the SFU on every interface, advertising `settings.public_ip`.
    pub async fn start(settings: &SfuSettings) -> anyhow::Result<(Media, Events)> {
        let config = SfuConfig::new(settings.public_ip, settings.media_port);
        let bind_ip = match settings.public_ip {
            IpAddr::V4(ip) if ip.is_loopback() => IpAddr::V4(ip),
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        };
        let (handle, events) = mesh_sfu::driver::spawn(bind_ip, config).await?;
        tracing::info!(udp = %handle.udp_addr(), tcp = ?handle.tcp_addr(), public_ip = %settings.public_ip, "SFU listening");
        let media = Media {
            handle,
            signal_order: Mutex::default(),
            speakers: Mutex::default(),
        };
        Ok((media, events))
    }

    pub fn metrics(&self) -> MetricsSnapshot {
        self.handle.metrics().snapshot()
    }

    /// The UDP (and same-numbered TCP) port the SFU listens on.
    pub fn port(&self) -> u16 {
        self.handle.udp_addr().port()
    }

    pub async fn join(&self, room_id: i64, participant: &str) -> Result<()> {
        self.handle
            .join(
                RoomId::from(room_id.to_string()),
                ParticipantId::from(participant),
            )
            .await
            .map_err(internal)
    }

    pub async fn leave(&self, participant: &str) {
        self.forget(participant);
        if let Err(err) = self.handle.leave(ParticipantId::from(participant)).await {
            tracing::debug!(participant, error = %err, "SFU leave");
        }
    }

    pub async fn set_max_layer(
        &self,
        subscriber: &str,
        publisher: &str,
        layer: VideoLayer,
    ) -> Result<()> {
        let layer = match layer {
            VideoLayer::Low => Layer::Low,
            VideoLayer::Medium => Layer::Medium,
            VideoLayer::High => Layer::High,
        };
        self.handle
            .set_max_layer(
                ParticipantId::from(subscriber),
                ParticipantId::from(publisher),
                layer,
            )
            .await
            .map_err(sfu_error)
    }

    /// The current active speaker of a room's call, as `call.speaker`.
    pub fn speaker_event(&self, room_id: i64) -> Option<ServerFrame> {
        let speakers = self.speakers.lock().unwrap_or_else(|p| p.into_inner());
        speakers.get(&room_id).map(|participant_id| {
            ServerFrame::event(ServerEvent::ActiveSpeaker(ActiveSpeaker {
                room_id,
                participant_id: participant_id.clone(),
            }))
        })
    }

    fn order_lock(&self, participant: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.signal_order.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(participant.to_owned()).or_default().clone()
    }

    fn forget(&self, participant: &str) {
        self.signal_order
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(participant);
    }
}

/// A browser's signal for the SFU. Offers are answered on the same
/// connection; candidates need no relaying, because the ICE-lite SFU learns
/// the browser's address from its connectivity checks.
pub async fn signal(
    app: &SharedApp,
    connection: ConnectionId,
    room_id: i64,
    from: &str,
    signal: Signal,
) -> Result<()> {
    let media = app.media.as_ref().ok_or_else(not_on_sfu)?;
    let Signal::Description(description) = signal else {
        return Ok(());
    };
    let order = media.order_lock(from);
    let _in_order = order.lock().await;
    let participant = ParticipantId::from(from);
    match description.kind {
        SdpType::Offer => {
            let answer = media
                .handle
                .accept_offer(participant, description.sdp)
                .await
                .map_err(sfu_error)?;
            let frame = sfu_signal(
                room_id,
                Signal::Description(SessionDescription {
                    kind: SdpType::Answer,
                    sdp: answer,
                }),
            );
            app.hub.send_to_connection(connection, &frame);
            Ok(())
        }
        SdpType::Answer => media
            .handle
            .accept_answer(participant, description.sdp)
            .await
            .map_err(sfu_error),
        SdpType::Pranswer | SdpType::Rollback => Err(Error::validation(
            "The SFU takes offers and answers only; it gives way itself when offers cross.",
        )),
    }
}

/// Acts on what the SFU reports, for as long as it runs.
pub async fn run_events(app: SharedApp, mut events: Events) {
    while let Some(event) = events.recv().await {
        match event {
            SfuEvent::OfferNeeded { participant, sdp } => {
                let Some((room_id, connection)) = app.calls.locate(participant.as_str()) else {
                    continue;
                };
                let Some(media) = app.media.as_ref() else {
                    continue;
                };
                let order = media.order_lock(participant.as_str());
                let _in_order = order.lock().await;
                let offer = Signal::Description(SessionDescription {
                    kind: SdpType::Offer,
                    sdp,
                });
                app.hub
                    .send_to_connection(connection, &sfu_signal(room_id, offer));
            }
            SfuEvent::Disconnected {
                participant,
                reason,
            } => {
                tracing::info!(
                    participant = participant.as_str(),
                    ?reason,
                    "SFU dropped a participant"
                );
                if let Some(media) = app.media.as_ref() {
                    media.forget(participant.as_str());
                }
                crate::calls::sfu_dropped(&app, participant.as_str()).await;
            }
            SfuEvent::ActiveSpeaker { room, participant } => {
                let Ok(room_id) = room.as_str().parse::<i64>() else {
                    continue;
                };
                let frame = ServerFrame::event(ServerEvent::ActiveSpeaker(ActiveSpeaker {
                    room_id,
                    participant_id: participant.as_str().to_owned(),
                }));
                for connection in app.calls.connections(room_id) {
                    app.hub.send_to_connection(connection, &frame);
                }
            }
            SfuEvent::Connected { participant } => {
                tracing::debug!(participant = participant.as_str(), "SFU connected");
            }
            other => tracing::trace!(?other, "SFU event"),
        }
    }
}

fn sfu_signal(room_id: i64, signal: Signal) -> ServerFrame {
    ServerFrame::event(ServerEvent::Signal(SignalReceived {
        room_id,
        from: SFU_PARTICIPANT.to_owned(),
        signal,
    }))
}

pub(crate) fn not_on_sfu() -> Error {
    Error::Conflict(
        "This call is not using the SFU right now; follow the latest call.state.".into(),
    )
}

/// Errors the browser's SDP caused are the client's; the rest are ours.
fn sfu_error(err: SfuError) -> Error {
    match err {
        SfuError::UnknownParticipant(_) => not_on_sfu(),
        // The browser's offer crossed the SFU's; the SFU offers again.
        SfuError::NoPendingOffer(_) => {
            Error::Conflict("No offer from the SFU is waiting for an answer.".into())
        }
        SfuError::Sdp { reason, .. } => Error::BadRequest(
            "invalid_sdp",
            format!("The SFU refused that SDP: {reason}."),
        ),
        other => internal(other),
    }
}

fn internal(err: SfuError) -> Error {
    Error::Internal(anyhow::anyhow!("SFU: {err}"))
}
