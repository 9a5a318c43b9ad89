//! How much the SFU may send one subscriber: a loss-based budget from the
//! subscriber's RTCP receiver reports.
//!
//! The SFU does not pace what it forwards. str0m's bandwidth estimator comes
//! with a leaky-bucket pacer that sends at 1.1 × its estimate, and its
//! delay-based estimate of a browser's downlink drops to a few hundred
//! kbit/s when the browser's machine is busy (probably because its receive
//! timestamps jitter), so the pacer held forwarded frames back for up to
//! half a second, freezing every picture on that connection, even on
//! loopback (decision record 0009).
//! Publishers' browsers already pace what they send; the SFU forwards frames
//! as they come, like Janus and mediasoup, and keeps a subscriber within its
//! link by choosing layers against this budget:
//!
//! - loss above [`HIGH_LOSS`] cuts the budget to what got through (what was
//!   sent, less the loss) and holds it there for [`HOLD_AFTER_CUT`];
//! - loss below [`LOW_LOSS`] raises it by [`GROWTH_PER_SECOND`] (by
//!   [`STARTUP_GROWTH_PER_SECOND`] until the first cut, so a new subscriber
//!   on a good link reaches the top layers in seconds), up to
//!   [`HEADROOM_OVER_WANTED`] times what the wanted layers need (an idle
//!   budget does not grow without bound, so a cut after it still means
//!   something);
//! - loss in between keeps it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use str0m::media::{Mid, Rid};

/// Loss (fraction of packets) that counts as congestion.
const HIGH_LOSS: f64 = 0.10;
/// Loss below which the link is taken to have room.
const LOW_LOSS: f64 = 0.02;
/// How fast a budget with room grows.
const GROWTH_PER_SECOND: f64 = 1.10;
/// How fast it grows before loss has ever cut it.
const STARTUP_GROWTH_PER_SECOND: f64 = 1.5;
/// How long a cut budget stays before it may grow again.
const HOLD_AFTER_CUT: Duration = Duration::from_secs(3);
/// A budget never grows beyond this multiple of what the wanted layers need
/// (upgrades need 1.25; see `layers`).
const HEADROOM_OVER_WANTED: f64 = 1.5;
/// The smallest budget: an audio stream and a low layer.
const MIN_BPS: u64 = 100_000;
/// Reports covering fewer packets than this wait for more.
const MIN_PACKETS: u64 = 20;

/// The egress budget towards one subscriber.
#[derive(Debug)]
pub(crate) struct EgressBudget {
    bps: u64,
    initial_bps: u64,
    /// Packets the subscriber reported on, and how many of them it lost,
    /// since the budget was last updated.
    packets: u64,
    lost: f64,
    /// Packets sent per stream at its previous report.
    sent_before: HashMap<(Mid, Option<Rid>), u64>,
    last_update: Option<Instant>,
    hold_until: Option<Instant>,
    /// Whether loss has ever cut the budget.
    cut_before: bool,
}

impl EgressBudget {
    pub(crate) fn new(initial_bps: u64) -> Self {
        EgressBudget {
            bps: initial_bps,
            initial_bps,
            packets: 0,
            lost: 0.0,
            sent_before: HashMap::new(),
            last_update: None,
            hold_until: None,
            cut_before: false,
        }
    }

    /// What may be sent now, in bits per second.
    pub(crate) fn bps(&self) -> u64 {
        self.bps
    }

    /// Takes one stream's report: `packets_sent` in all so far, and the
    /// fraction the subscriber lost since its previous report. Returns how
    /// many packets the report covered and about how many of them were lost.
    pub(crate) fn report(
        &mut self,
        mid: Mid,
        rid: Option<Rid>,
        packets_sent: u64,
        loss: f32,
    ) -> (u64, u64) {
        let before = self
            .sent_before
            .insert((mid, rid), packets_sent)
            .unwrap_or(0);
        let packets = packets_sent.saturating_sub(before);
        let lost = packets as f64 * f64::from(loss).clamp(0.0, 1.0);
        self.packets += packets;
        self.lost += lost;
        (packets, lost.round() as u64)
    }

    /// Updates the budget from the reports taken since the last update.
    /// `sent_bps` is what was forwarded lately, `wanted_bps` what the
    /// subscriber's wanted layers need.
    pub(crate) fn update(&mut self, now: Instant, sent_bps: u64, wanted_bps: u64) {
        let elapsed = self
            .last_update
            .map_or(Duration::ZERO, |last| now.saturating_duration_since(last));
        self.last_update = Some(now);
        let ceiling = self
            .initial_bps
            .max((wanted_bps as f64 * HEADROOM_OVER_WANTED) as u64);

        if self.packets >= MIN_PACKETS {
            let loss = self.lost / self.packets as f64;
            self.packets = 0;
            self.lost = 0.0;
            if loss > HIGH_LOSS {
                let cut = (sent_bps as f64 * (1.0 - loss)).round() as u64;
                self.bps = cut.min(self.bps).max(MIN_BPS);
                self.hold_until = Some(now + HOLD_AFTER_CUT);
                self.cut_before = true;
                return;
            }
            if loss >= LOW_LOSS {
                return;
            }
        }
        if self.hold_until.is_some_and(|until| now < until) {
            return;
        }
        let growth = if self.cut_before {
            GROWTH_PER_SECOND
        } else {
            STARTUP_GROWTH_PER_SECOND
        };
        let grown = self.bps as f64 * growth.powf(elapsed.as_secs_f64());
        self.bps = (grown as u64).min(ceiling);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mid() -> Mid {
        Mid::from("1")
    }

    #[test]
    fn heavy_loss_cuts_to_what_got_through_and_holds() {
        let start = Instant::now();
        let mut budget = EgressBudget::new(1_000_000);
        budget.report(mid(), None, 100, 0.4);
        budget.update(start, 800_000, 2_000_000);
        // 800 kbit/s sent, 40 % lost: 480 kbit/s got through.
        assert_eq!(budget.bps(), 480_000);

        // Clean reports do not raise it while it holds.
        budget.report(mid(), None, 200, 0.0);
        budget.update(start + Duration::from_secs(2), 600_000, 2_000_000);
        assert_eq!(budget.bps(), 480_000);
    }

    #[test]
    fn a_clean_link_grows_the_budget_up_to_what_is_wanted() {
        let start = Instant::now();
        let mut budget = EgressBudget::new(1_000_000);
        budget.update(start, 0, 3_000_000);
        let mut sent = 0;
        let mut clean_second = |budget: &mut EgressBudget, second: u64| {
            sent += 100;
            budget.report(mid(), None, sent, 0.0);
            budget.update(start + Duration::from_secs(second), 900_000, 3_000_000);
        };
        // Before any loss it grows half again each second...
        clean_second(&mut budget, 1);
        assert_eq!(budget.bps(), 1_500_000);
        for second in 2..=5 {
            clean_second(&mut budget, second);
        }
        assert_eq!(budget.bps(), 4_500_000, "1.5 × the 3 Mbit/s wanted");

        // Wanting less lowers the ceiling but never below the initial budget.
        budget.update(start + Duration::from_secs(6), 300_000, 200_000);
        assert_eq!(budget.bps(), 1_000_000);

        // ...and after a cut, a tenth each second.
        budget.report(mid(), None, sent + 100, 0.5);
        budget.update(start + Duration::from_secs(7), 1_000_000, 3_000_000);
        assert_eq!(budget.bps(), 500_000);
        budget.report(mid(), None, sent + 200, 0.0);
        budget.update(start + Duration::from_secs(10), 500_000, 3_000_000);
        assert_eq!(
            budget.bps(),
            665_500,
            "three seconds at 10 %, once the hold is over"
        );
    }

    #[test]
    fn moderate_loss_keeps_the_budget_and_few_packets_wait_for_more() {
        let start = Instant::now();
        let mut budget = EgressBudget::new(1_000_000);
        budget.update(start, 0, 5_000_000);
        budget.report(mid(), None, 100, 0.05);
        budget.update(start + Duration::from_secs(1), 900_000, 5_000_000);
        assert_eq!(budget.bps(), 1_000_000);

        // Ten packets with five lost say nothing yet; the link grows meanwhile.
        budget.report(mid(), None, 110, 0.5);
        budget.update(start + Duration::from_secs(2), 900_000, 5_000_000);
        assert_eq!(budget.bps(), 1_500_000);
        // With ten more, half of twenty lost is congestion.
        budget.report(Mid::from("2"), None, 10, 0.5);
        budget.update(start + Duration::from_secs(3), 900_000, 5_000_000);
        assert_eq!(budget.bps(), 450_000);
    }
}
