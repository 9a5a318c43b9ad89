//! Simulcast layers: which rid is which quality, and which layer of each
//! track a subscriber gets for its bandwidth.

use str0m::media::Rid;

use crate::bitrate::Flow;

/// Headroom a layer *above* the one currently forwarded needs: its extra
/// bitrate times this must fit. Staying on a layer needs no headroom, so an
/// estimate that wobbles around one layer's rate does not flap between two.
const UPGRADE_HEADROOM: f64 = 1.25;

/// A simulcast quality. Subscribers cap it per publisher with
/// [`Sfu::set_max_layer`](crate::Sfu::set_max_layer); the SFU picks at most
/// that, and less when the subscriber's bandwidth is short.
///
/// With fewer than three layers, `Medium` means the lower of two and `High`
/// always means the best one.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Layer {
    /// The smallest encoding, e.g. a quarter of the camera resolution.
    Low,
    /// The middle encoding, e.g. half the resolution.
    Medium,
    /// The full encoding.
    High,
}

impl Layer {
    /// The layer worth receiving for a video tile `height` CSS pixels tall,
    /// assuming the usual 1/4, 1/2, 1/1 simulcast of a 720p camera.
    pub fn for_tile_height(height: u32) -> Layer {
        match height {
            0..=180 => Layer::Low,
            181..=360 => Layer::Medium,
            _ => Layer::High,
        }
    }

    /// The highest layer index (low to high) this layer allows among `count`.
    pub(crate) fn max_index(self, count: usize) -> usize {
        let top = count.saturating_sub(1);
        match self {
            Layer::High => top,
            // The middle of three; of two, the lower one.
            Layer::Medium => usize::from(count >= 3),
            Layer::Low => 0,
        }
    }

    /// The layer that index `index` (low to high) of `count` layers is.
    pub(crate) fn of_index(index: usize, count: usize) -> Layer {
        if index + 1 >= count {
            Layer::High
        } else if index == 0 {
            Layer::Low
        } else {
            Layer::Medium
        }
    }
}

/// Orders simulcast rids from lowest to highest quality.
///
/// Rids are free-form; Chromium applications use `q`/`h`/`f` (quarter, half,
/// full) or `l`/`m`/`h`, others number them. `h` means half in the first
/// scheme and high in the second, so the scheme is recognised from the whole
/// set. Anything unrecognised keeps the SDP's order, which by convention
/// (and in Chromium's own examples) is low to high.
pub(crate) fn order_low_to_high(rids: &[Rid]) -> Vec<Rid> {
    let has = |name: &str| rids.iter().any(|rid| &**rid == name);
    let rank = |rid: &Rid| -> Option<u32> {
        let name: &str = rid;
        if has("q") || has("f") {
            ["q", "h", "f"]
                .iter()
                .position(|n| *n == name)
                .map(|p| p as u32)
        } else if has("l") || has("m") {
            ["l", "m", "h"]
                .iter()
                .position(|n| *n == name)
                .map(|p| p as u32)
        } else {
            let digits = name.trim_start_matches(|c: char| !c.is_ascii_digit());
            digits.parse().ok()
        }
    };

    let mut ordered = rids.to_vec();
    if rids.iter().all(|rid| rank(rid).is_some()) {
        ordered.sort_by_key(|rid| rank(rid));
    }
    ordered
}

/// One simulcast video track a subscriber receives, as the allocator sees it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct VideoDemand {
    /// How each layer flows, low to high; `None` while a layer is not
    /// arriving (the publisher paused it, or it never existed).
    pub flows: Vec<Option<Flow>>,
    /// The highest layer index the subscriber wants.
    pub max_index: usize,
    /// The layer index forwarded now, if any.
    pub current: Option<usize>,
}

impl VideoDemand {
    fn rate(&self, index: usize) -> u64 {
        self.flows[index].map_or(0, |flow| flow.bps)
    }

    fn lowest_arriving(&self) -> Option<usize> {
        self.flows.iter().position(Option::is_some)
    }

    /// The next layer above `index`, within the subscriber's cap, that
    /// `eligible` accepts.
    fn next_above(&self, index: usize, eligible: impl Fn(usize) -> bool) -> Option<usize> {
        (index + 1..=self.max_index.min(self.flows.len().saturating_sub(1))).find(|i| eligible(*i))
    }

    /// Whether a subscriber may be moved up to layer `index`: it arrives, and
    /// it is forwarded already or has flowed steadily. A layer that just
    /// (re)started is often paused again at once by the publisher's browser,
    /// which would leave the subscriber waiting on a frozen picture.
    fn can_rise_to(&self, index: usize) -> bool {
        self.flows[index].is_some_and(|flow| flow.steady || self.current == Some(index))
    }

    fn best_wanted(&self) -> Option<usize> {
        let lowest = self.lowest_arriving()?;
        let mut best = lowest;
        while let Some(next) = self.next_above(best, |i| self.flows[i].is_some()) {
            best = next;
        }
        Some(best)
    }
}

/// The layers chosen for one subscriber, and what they need.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Allocation {
    /// The layer index for each demand, `None` if nothing of it arrives.
    pub layers: Vec<Option<usize>>,
    /// The bitrate the chosen layers need.
    pub used_bps: u64,
    /// The bitrate every track at its wanted layer would need.
    pub wanted_bps: u64,
}

/// Chooses a layer for each video track within `budget_bps`.
///
/// Every track first gets its lowest arriving layer, even over budget: a
/// small picture beats a frozen one, and the budget will say if even that
/// is too much. Then tracks are raised one layer at a time, round robin, so
/// bandwidth is shared rather than spent on the first track, and only onto
/// layers that flow steadily (see [`VideoDemand::can_rise_to`]).
pub(crate) fn allocate(budget_bps: u64, demands: &[VideoDemand]) -> Allocation {
    let mut layers: Vec<Option<usize>> = demands.iter().map(VideoDemand::lowest_arriving).collect();
    let mut used_bps: u64 = demands
        .iter()
        .zip(&layers)
        .filter_map(|(demand, layer)| layer.map(|l| demand.rate(l)))
        .sum();

    let step = |demand: &VideoDemand, from: usize| -> Option<(usize, u64, u64)> {
        let next = demand.next_above(from, |i| demand.can_rise_to(i))?;
        let extra = demand.rate(next).saturating_sub(demand.rate(from));
        let is_upgrade = demand.current.is_none_or(|current| next > current);
        let needed = if is_upgrade {
            (extra as f64 * UPGRADE_HEADROOM) as u64
        } else {
            extra
        };
        Some((next, extra, needed))
    };

    // Each pass raises at least one track or stops; a track rises at most
    // once per layer, so this ends.
    loop {
        let mut raised = false;
        for (demand, layer) in demands.iter().zip(layers.iter_mut()) {
            let Some(from) = *layer else { continue };
            let Some((next, extra, needed)) = step(demand, from) else {
                continue;
            };
            if used_bps + needed <= budget_bps {
                *layer = Some(next);
                used_bps += extra;
                raised = true;
            }
        }
        if !raised {
            break;
        }
    }

    let wanted_bps = demands
        .iter()
        .filter_map(|demand| demand.best_wanted().map(|best| demand.rate(best)))
        .sum();

    Allocation {
        layers,
        used_bps,
        wanted_bps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rids(names: &[&str]) -> Vec<Rid> {
        names.iter().map(|n| Rid::from(*n)).collect()
    }

    fn steady(bps: u64) -> Option<Flow> {
        Some(Flow { bps, steady: true })
    }

    fn starting(bps: u64) -> Option<Flow> {
        Some(Flow { bps, steady: false })
    }

    fn three_layers(current: Option<usize>) -> VideoDemand {
        VideoDemand {
            flows: vec![steady(150_000), steady(500_000), steady(1_500_000)],
            max_index: 2,
            current,
        }
    }

    #[test]
    fn orders_known_rid_schemes_low_to_high() {
        assert_eq!(
            order_low_to_high(&rids(&["f", "h", "q"])),
            rids(&["q", "h", "f"])
        );
        assert_eq!(
            order_low_to_high(&rids(&["h", "m", "l"])),
            rids(&["l", "m", "h"])
        );
        assert_eq!(
            order_low_to_high(&rids(&["r2", "r0", "r1"])),
            rids(&["r0", "r1", "r2"])
        );
        assert_eq!(order_low_to_high(&rids(&["b", "a"])), rids(&["b", "a"]));
    }

    #[test]
    fn maps_layers_onto_fewer_encodings() {
        assert_eq!(Layer::High.max_index(3), 2);
        assert_eq!(Layer::Medium.max_index(3), 1);
        assert_eq!(Layer::Medium.max_index(2), 0);
        assert_eq!(Layer::High.max_index(1), 0);
        assert_eq!(Layer::of_index(0, 3), Layer::Low);
        assert_eq!(Layer::of_index(1, 3), Layer::Medium);
        assert_eq!(Layer::of_index(1, 2), Layer::High);
        assert_eq!(Layer::of_index(0, 1), Layer::High);
        assert_eq!(Layer::for_tile_height(120), Layer::Low);
        assert_eq!(Layer::for_tile_height(1080), Layer::High);
    }

    #[test]
    fn picks_the_best_layer_that_fits() {
        let generous = allocate(5_000_000, &[three_layers(Some(2))]);
        assert_eq!(generous.layers, vec![Some(2)]);
        assert_eq!(generous.used_bps, 1_500_000);
        assert_eq!(generous.wanted_bps, 1_500_000);

        let middling = allocate(800_000, &[three_layers(Some(2))]);
        assert_eq!(middling.layers, vec![Some(1)]);

        let starved = allocate(50_000, &[three_layers(Some(1))]);
        assert_eq!(
            starved.layers,
            vec![Some(0)],
            "lowest layer even over budget"
        );
    }

    #[test]
    fn moves_down_when_bandwidth_drops_and_back_up_with_headroom() {
        let down = allocate(1_000_000, &[three_layers(Some(2))]);
        assert_eq!(down.layers, vec![Some(1)]);

        // 1.5 Mbit/s would fit exactly, but rising from layer 1 needs headroom.
        let not_yet = allocate(1_500_000, &[three_layers(Some(1))]);
        assert_eq!(not_yet.layers, vec![Some(1)]);

        let up = allocate(1_800_000, &[three_layers(Some(1))]);
        assert_eq!(up.layers, vec![Some(2)]);

        // Staying on layer 2 at the same 1.5 Mbit/s needs no headroom.
        let stay = allocate(1_500_000, &[three_layers(Some(2))]);
        assert_eq!(stay.layers, vec![Some(2)]);
    }

    #[test]
    fn respects_the_subscribers_max_layer_and_missing_layers() {
        let capped = VideoDemand {
            max_index: 1,
            ..three_layers(Some(1))
        };
        assert_eq!(allocate(10_000_000, &[capped]).layers, vec![Some(1)]);

        let middle_paused = VideoDemand {
            flows: vec![steady(150_000), None, steady(1_500_000)],
            ..three_layers(Some(0))
        };
        assert_eq!(allocate(10_000_000, &[middle_paused]).layers, vec![Some(2)]);

        let nothing = VideoDemand {
            flows: vec![None, None, None],
            ..three_layers(None)
        };
        assert_eq!(allocate(10_000_000, &[nothing]).layers, vec![None]);
    }

    #[test]
    fn rises_only_onto_layers_that_flow_steadily() {
        // A publisher that just started: every layer sent its first frames.
        let fresh = VideoDemand {
            flows: vec![starting(150_000), starting(500_000), starting(1_500_000)],
            ..three_layers(None)
        };
        assert_eq!(allocate(10_000_000, &[fresh]).layers, vec![Some(0)]);

        // The middle layer has flowed for a while, the top one restarted.
        let settling = VideoDemand {
            flows: vec![steady(150_000), steady(500_000), starting(1_500_000)],
            ..three_layers(Some(0))
        };
        let allocation = allocate(10_000_000, std::slice::from_ref(&settling));
        assert_eq!(allocation.layers, vec![Some(1)]);
        assert_eq!(
            allocation.wanted_bps, 1_500_000,
            "the top layer is still wanted"
        );

        // A layer already forwarded is kept while it flows, steady or not.
        let kept = VideoDemand {
            current: Some(2),
            ..settling
        };
        assert_eq!(allocate(10_000_000, &[kept]).layers, vec![Some(2)]);
    }

    #[test]
    fn shares_bandwidth_between_tracks() {
        let demands = [three_layers(Some(0)), three_layers(Some(0))];
        // Enough to raise both to the middle layer, not one to the top.
        let allocation = allocate(1_400_000, &demands);
        assert_eq!(allocation.layers, vec![Some(1), Some(1)]);
    }
}
