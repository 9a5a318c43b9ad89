//! A track a participant publishes, as the SFU receives it.

use std::time::{Duration, Instant};

use str0m::media::{MediaKind, Mid, Rid};

use crate::bitrate::{BitrateMeter, Flow};
use crate::layers;

/// One incoming track and what the SFU measures about it.
#[derive(Debug)]
pub(crate) struct Publication {
    pub mid: Mid,
    pub kind: MediaKind,
    /// Simulcast rids, lowest quality first; empty without simulcast.
    rids: Vec<Rid>,
    /// One per layer (one in all without simulcast).
    meters: Vec<BitrateMeter>,
    /// Keyframe requests, per layer.
    keyframes: Vec<KeyframeRequests>,
}

/// Why a subscriber needs a keyframe.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum KeyframeNeed {
    /// It waits to start on a layer or to switch to it.
    Start,
    /// Its picture broke: frames were lost, or its browser asked (PLI).
    Repair,
}

/// Browsers ignore a keyframe request that comes within this long of the
/// previous one (Chromium's encoder feedback: 300 ms, per layer); the extra
/// 50 ms absorb the two requests' different journeys.
const KEYFRAME_REQUEST_SPACING: Duration = Duration::from_millis(350);

/// The keyframe requests sent for one layer.
#[derive(Clone, Copy, Default, Debug)]
struct KeyframeRequests {
    /// When the keyframe asked for and not yet arrived was asked for.
    on_its_way: Option<Instant>,
    /// When one was last asked for.
    last_asked: Option<Instant>,
    /// A subscriber waits to start, and the request waits out the spacing.
    deferred: bool,
}

impl Publication {
    pub(crate) fn new(mid: Mid, kind: MediaKind, rids: &[Rid]) -> Self {
        let rids = layers::order_low_to_high(rids);
        let count = rids.len().max(1);
        Publication {
            mid,
            kind,
            rids,
            meters: (0..count).map(|_| BitrateMeter::default()).collect(),
            keyframes: vec![KeyframeRequests::default(); count],
        }
    }

    /// How many layers the track arrives in: 1 without simulcast.
    pub(crate) fn layer_count(&self) -> usize {
        self.meters.len()
    }

    /// The layer index (low to high) of a frame carrying `rid`.
    pub(crate) fn layer_of(&self, rid: Option<Rid>) -> Option<usize> {
        match rid {
            None if self.rids.is_empty() => Some(0),
            None => None,
            Some(rid) => self.rids.iter().position(|r| *r == rid),
        }
    }

    /// The rid of a layer index, `None` without simulcast.
    pub(crate) fn rid_of(&self, layer: usize) -> Option<Rid> {
        self.rids.get(layer).copied()
    }

    /// Records a frame of `bytes` on `layer`.
    pub(crate) fn record(&mut self, layer: usize, now: Instant, bytes: usize) {
        self.meters[layer].record(now, bytes);
    }

    /// How each layer flows, `None` for layers not arriving.
    pub(crate) fn flows(&mut self, now: Instant) -> Vec<Option<Flow>> {
        self.meters
            .iter_mut()
            .map(|meter| meter.flow(now))
            .collect()
    }

    /// Whether a keyframe of `layer` is to be requested now.
    ///
    /// One keyframe serves every subscriber waiting for it, so nobody asks
    /// while one is on its way, unless it has not come within `interval`
    /// (the request or the keyframe was lost). Nobody asks within
    /// [`KEYFRAME_REQUEST_SPACING`] of the last request either, because the
    /// browser would ignore it: a subscriber waiting to start is then asked
    /// for at the end of the spacing ([`Publication::deferred_keyframe_due`]).
    /// Repairs are spaced by `interval`, so that browsers asking again and
    /// again while they lose packets cannot make the publisher send nothing
    /// but keyframes.
    pub(crate) fn keyframe_request_allowed(
        &mut self,
        layer: usize,
        need: KeyframeNeed,
        now: Instant,
        interval: Duration,
    ) -> bool {
        let Some(requests) = self.keyframes.get_mut(layer) else {
            return false;
        };
        let since = |at: Option<Instant>, spacing: Duration| {
            at.is_none_or(|at| now.saturating_duration_since(at) >= spacing)
        };
        if !since(requests.on_its_way, interval) {
            return false;
        }
        match need {
            KeyframeNeed::Start if since(requests.last_asked, KEYFRAME_REQUEST_SPACING) => {
                // Asked now; if asking fails, the next reallocation tries again.
                requests.deferred = false;
                true
            }
            KeyframeNeed::Start => {
                requests.deferred = true;
                false
            }
            KeyframeNeed::Repair => since(requests.last_asked, interval),
        }
    }

    /// When the earliest deferred request for a waiting subscriber is due,
    /// with its layer.
    pub(crate) fn deferred_keyframe_due(&self) -> Option<(Instant, usize)> {
        self.keyframes
            .iter()
            .enumerate()
            .filter(|(_, requests)| requests.deferred)
            .filter_map(|(layer, requests)| {
                Some((requests.last_asked? + KEYFRAME_REQUEST_SPACING, layer))
            })
            .min()
    }

    /// Records that a keyframe of `layer` was requested at `now`.
    pub(crate) fn keyframe_requested(&mut self, layer: usize, now: Instant) {
        if let Some(requests) = self.keyframes.get_mut(layer) {
            *requests = KeyframeRequests {
                on_its_way: Some(now),
                last_asked: Some(now),
                deferred: false,
            };
        }
    }

    /// Records that a keyframe of `layer` arrived: none is on its way, and
    /// whoever waited has it.
    pub(crate) fn keyframe_arrived(&mut self, layer: usize) {
        if let Some(requests) = self.keyframes.get_mut(layer) {
            requests.on_its_way = None;
            requests.deferred = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_rids_to_layers_low_to_high() {
        let rids: Vec<Rid> = ["f", "h", "q"].into_iter().map(Rid::from).collect();
        let publication = Publication::new(Mid::from("1"), MediaKind::Video, &rids);
        assert_eq!(publication.layer_count(), 3);
        assert_eq!(publication.layer_of(Some(Rid::from("q"))), Some(0));
        assert_eq!(publication.layer_of(Some(Rid::from("f"))), Some(2));
        assert_eq!(publication.layer_of(Some(Rid::from("x"))), None);
        assert_eq!(publication.layer_of(None), None);
        assert_eq!(publication.rid_of(1), Some(Rid::from("h")));

        let plain = Publication::new(Mid::from("0"), MediaKind::Audio, &[]);
        assert_eq!(plain.layer_count(), 1);
        assert_eq!(plain.layer_of(None), Some(0));
        assert_eq!(plain.rid_of(0), None);
    }

    #[test]
    fn one_keyframe_request_per_layer_is_on_its_way_at_a_time() {
        use KeyframeNeed::{Repair, Start};
        let start = Instant::now();
        let interval = Duration::from_millis(500);
        let rids: Vec<Rid> = ["q", "h", "f"].into_iter().map(Rid::from).collect();
        let mut publication = Publication::new(Mid::from("1"), MediaKind::Video, &rids);

        assert!(publication.keyframe_request_allowed(0, Start, start, interval));
        publication.keyframe_requested(0, start);
        let soon = start + Duration::from_millis(100);
        for need in [Start, Repair] {
            assert!(
                !publication.keyframe_request_allowed(0, need, soon, interval),
                "one is on its way"
            );
            assert!(
                publication.keyframe_request_allowed(2, need, soon, interval),
                "another layer"
            );
            assert!(
                publication.keyframe_request_allowed(0, need, start + interval, interval),
                "lost: asked again after the interval"
            );
        }
        assert_eq!(
            publication.deferred_keyframe_due(),
            None,
            "nothing deferred: one is on its way"
        );
        assert!(
            !publication.keyframe_request_allowed(3, Start, start, interval),
            "no such layer"
        );
    }

    #[test]
    fn a_waiting_subscriber_asks_once_the_browser_listens_again_and_repairs_wait_longer() {
        use KeyframeNeed::{Repair, Start};
        let start = Instant::now();
        let interval = Duration::from_millis(500);
        let mut publication = Publication::new(Mid::from("1"), MediaKind::Video, &[]);
        publication.keyframe_requested(0, start);
        publication.keyframe_arrived(0);

        // The keyframe came 50 ms later; a new subscriber 100 ms after that.
        let soon = start + Duration::from_millis(150);
        assert!(!publication.keyframe_request_allowed(0, Start, soon, interval));
        let due = start + KEYFRAME_REQUEST_SPACING;
        assert_eq!(publication.deferred_keyframe_due(), Some((due, 0)));
        assert!(publication.keyframe_request_allowed(0, Start, due, interval));
        publication.keyframe_requested(0, due);
        assert_eq!(publication.deferred_keyframe_due(), None);

        publication.keyframe_arrived(0);
        let after = due + KEYFRAME_REQUEST_SPACING;
        assert!(
            !publication.keyframe_request_allowed(0, Repair, after, interval),
            "repairs: the interval"
        );
        assert!(publication.keyframe_request_allowed(0, Repair, due + interval, interval));
        assert_eq!(
            publication.deferred_keyframe_due(),
            None,
            "a repair is never deferred"
        );
    }
}
