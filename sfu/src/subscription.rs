//! A track a participant receives from someone else in its room, and where
//! it is in SDP negotiation.

use str0m::media::{MediaKind, Mid};

use crate::forward::{LayerGate, Timeline};
use crate::ids::TrackId;

/// Where the m-line carrying a subscription stands.
///
/// str0m allows one local offer at a time, so additions and removals wait in
/// `ToOpen`/`ToStop` until the current offer is answered, and then all go
/// out together in the next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Negotiation {
    /// Needs an m-line in the next offer.
    ToOpen,
    /// Offered on `Mid`, waiting for the answer.
    Opening(Mid),
    /// Negotiated; media flows on `Mid`.
    Open(Mid),
    /// The source is gone; the m-line must be stopped in the next offer.
    ToStop(Mid),
    /// Stopped in an offer that is waiting for its answer.
    Stopping(Mid),
}

/// One track sent to one subscriber.
#[derive(Debug)]
pub(crate) struct Subscription {
    pub source: TrackId,
    pub kind: MediaKind,
    pub negotiation: Negotiation,
    /// The source left while its m-line was being offered: stop it once the
    /// answer is in.
    orphaned: bool,
    pub gate: LayerGate,
    pub timeline: Timeline,
}

impl Subscription {
    pub(crate) fn new(source: TrackId, kind: MediaKind) -> Self {
        Subscription {
            source,
            kind,
            negotiation: Negotiation::ToOpen,
            orphaned: false,
            gate: LayerGate::default(),
            timeline: Timeline::default(),
        }
    }

    /// The m-line media flows on, once negotiated.
    pub(crate) fn open_mid(&self) -> Option<Mid> {
        match self.negotiation {
            Negotiation::Open(mid) => Some(mid),
            _ => None,
        }
    }

    /// Whether the next offer must carry a change for this subscription.
    pub(crate) fn needs_offer(&self) -> bool {
        matches!(
            self.negotiation,
            Negotiation::ToOpen | Negotiation::ToStop(_)
        )
    }

    /// The source track is gone. Returns false if the subscription can simply
    /// be dropped because the browser never heard of it.
    pub(crate) fn source_gone(&mut self) -> bool {
        match self.negotiation {
            Negotiation::ToOpen => false,
            Negotiation::Opening(_) => {
                self.orphaned = true;
                true
            }
            Negotiation::Open(mid) => {
                self.negotiation = Negotiation::ToStop(mid);
                true
            }
            Negotiation::ToStop(_) | Negotiation::Stopping(_) => true,
        }
    }

    /// The answer to the offer carrying this subscription's change arrived.
    /// Returns false once the subscription is finished with.
    pub(crate) fn offer_answered(&mut self) -> bool {
        match self.negotiation {
            Negotiation::Opening(mid) if self.orphaned => {
                self.negotiation = Negotiation::ToStop(mid);
                true
            }
            Negotiation::Opening(mid) => {
                self.negotiation = Negotiation::Open(mid);
                true
            }
            Negotiation::Stopping(_) => false,
            Negotiation::ToOpen | Negotiation::Open(_) | Negotiation::ToStop(_) => true,
        }
    }

    /// The browser's own offer replaced the SFU's outstanding one. Returns
    /// false once the subscription is finished with.
    pub(crate) fn offer_abandoned(&mut self) -> bool {
        match self.negotiation {
            // The m-line only enters the session with the answer: offer it again.
            Negotiation::Opening(_) if self.orphaned => false,
            Negotiation::Opening(_) => {
                self.negotiation = Negotiation::ToOpen;
                true
            }
            // `SdpApi::stop_media` stops the m-line in the session at once, so
            // the answer to the browser's offer already carries the stop.
            Negotiation::Stopping(_) => false,
            Negotiation::ToOpen | Negotiation::Open(_) | Negotiation::ToStop(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ids::ParticipantId;

    use super::*;

    fn subscription() -> Subscription {
        let source = TrackId {
            publisher: ParticipantId::from("alice"),
            mid: Mid::from("0"),
        };
        Subscription::new(source, MediaKind::Video)
    }

    #[test]
    fn opens_after_the_answer() {
        let mut sub = subscription();
        assert!(sub.needs_offer());
        sub.negotiation = Negotiation::Opening(Mid::from("3"));
        assert!(!sub.needs_offer());
        assert!(sub.offer_answered());
        assert_eq!(sub.open_mid(), Some(Mid::from("3")));
    }

    #[test]
    fn a_source_leaving_mid_offer_is_stopped_after_the_answer() {
        let mut sub = subscription();
        sub.negotiation = Negotiation::Opening(Mid::from("3"));
        assert!(sub.source_gone());
        assert!(sub.offer_answered());
        assert_eq!(sub.negotiation, Negotiation::ToStop(Mid::from("3")));

        sub.negotiation = Negotiation::Stopping(Mid::from("3"));
        assert!(!sub.offer_answered(), "finished once the stop is answered");
    }

    #[test]
    fn a_crossing_browser_offer_requeues_additions() {
        let mut sub = subscription();
        sub.negotiation = Negotiation::Opening(Mid::from("3"));
        assert!(sub.offer_abandoned());
        assert_eq!(sub.negotiation, Negotiation::ToOpen);

        let mut never_seen = subscription();
        assert!(!never_seen.source_gone());
    }
}
