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
    /// When a keyframe of each layer was last asked for.
    last_keyframe_request: Vec<Option<Instant>>,
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
            last_keyframe_request: vec![None; count],
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

    /// Whether a keyframe of `layer` may be requested now: one keyframe
    /// serves every subscriber waiting for it, so requests are spaced by
    /// `interval`.
    pub(crate) fn keyframe_request_allowed(
        &self,
        layer: usize,
        now: Instant,
        interval: Duration,
    ) -> bool {
        match self.last_keyframe_request.get(layer) {
            Some(Some(at)) => now.saturating_duration_since(*at) >= interval,
            Some(None) => true,
            None => false,
        }
    }

    /// Records that a keyframe of `layer` was requested at `now`.
    pub(crate) fn keyframe_requested(&mut self, layer: usize, now: Instant) {
        if let Some(last) = self.last_keyframe_request.get_mut(layer) {
            *last = Some(now);
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
    fn throttles_keyframe_requests_per_layer() {
        let start = Instant::now();
        let interval = Duration::from_millis(500);
        let rids: Vec<Rid> = ["q", "h", "f"].into_iter().map(Rid::from).collect();
        let mut publication = Publication::new(Mid::from("1"), MediaKind::Video, &rids);

        assert!(publication.keyframe_request_allowed(0, start, interval));
        publication.keyframe_requested(0, start);
        assert!(!publication.keyframe_request_allowed(0, start + interval / 2, interval));
        assert!(publication.keyframe_request_allowed(2, start + interval / 2, interval));
        assert!(publication.keyframe_request_allowed(0, start + interval, interval));
        assert!(
            !publication.keyframe_request_allowed(3, start, interval),
            "no such layer"
        );
    }
}
