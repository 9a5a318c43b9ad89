//! What subscribers got against what publishers sent, over the measured
//! window: loss, jitter, latency, and which simulcast layer was forwarded.
//! Only frames *sent* within the window count, whenever they arrived, so
//! frames in flight at either edge are neither lost nor extra.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use crate::frames::{Kind, Stamp, VIDEO_LAYERS};
use crate::report::quantile;
use crate::synthetic::Arrival;

/// One receiving peer: the publishers it should hear and see, and what came.
pub struct Receiver<'a> {
    pub expects: &'a [u32],
    pub arrivals: &'a [Arrival],
}

#[derive(Debug)]
pub struct Reception {
    /// Audio packets plus video frames that should have arrived.
    pub expected: u64,
    pub received: u64,
    pub loss_pct: f64,
    /// RFC 3550 interarrival jitter, averaged over the window, then over
    /// every stream (one publisher's audio or video at one receiver).
    pub jitter_ms: f64,
    /// From the publisher's write to the subscriber's read of the last
    /// packet of the frame.
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    /// Share of video frames received in the highest simulcast layer.
    pub top_layer_pct: f64,
}

/// RFC 3550 6.4.1 from send and arrival times, both on the generator's
/// clock: J += (|D| - J) / 16, where D is the change in transit time.
#[derive(Default)]
struct Jitter {
    last_transit_ms: Option<f64>,
    jitter_ms: f64,
    sum_ms: f64,
    samples: u64,
}

impl Jitter {
    fn add(&mut self, transit_ms: f64) {
        if let Some(last) = self.last_transit_ms {
            self.jitter_ms += ((transit_ms - last).abs() - self.jitter_ms) / 16.0;
            self.sum_ms += self.jitter_ms;
            self.samples += 1;
        }
        self.last_transit_ms = Some(transit_ms);
    }

    fn mean_ms(&self) -> Option<f64> {
        (self.samples > 0).then(|| self.sum_ms / self.samples as f64)
    }
}

pub fn analyse(sent: &[Stamp], receivers: &[Receiver], window: Range<u64>) -> Reception {
    let mut sent_in_window: HashMap<(u32, Kind), u64> = HashMap::new();
    for stamp in sent.iter().filter(|s| window.contains(&s.sent_ns)) {
        *sent_in_window
            .entry((stamp.publisher, stamp.kind))
            .or_default() += 1;
    }
    let top_layer = (VIDEO_LAYERS.len() - 1) as u8;
    let (mut expected, mut received) = (0u64, 0u64);
    let (mut video, mut video_top) = (0u64, 0u64);
    let mut latencies = Vec::new();
    let mut stream_jitters = Vec::new();
    for receiver in receivers {
        for publisher in receiver.expects {
            for kind in [Kind::Audio, Kind::Video] {
                expected += sent_in_window
                    .get(&(*publisher, kind))
                    .copied()
                    .unwrap_or(0);
            }
        }
        let mut seen = HashSet::new();
        let mut jitters: HashMap<(u32, Kind), Jitter> = HashMap::new();
        for arrival in receiver.arrivals {
            let stamp = arrival.stamp;
            if !window.contains(&stamp.sent_ns)
                || !receiver.expects.contains(&stamp.publisher)
                || !seen.insert((stamp.publisher, stamp.kind, stamp.seq))
            {
                continue;
            }
            received += 1;
            let transit_ms = arrival.arrived_ns.saturating_sub(stamp.sent_ns) as f64 / 1e6;
            latencies.push(transit_ms);
            jitters
                .entry((stamp.publisher, stamp.kind))
                .or_default()
                .add(transit_ms);
            if stamp.kind == Kind::Video {
                video += 1;
                video_top += u64::from(stamp.layer == top_layer);
            }
        }
        stream_jitters.extend(jitters.values().filter_map(Jitter::mean_ms));
    }
    latencies.sort_by(f64::total_cmp);
    Reception {
        expected,
        received,
        loss_pct: 100.0 * (1.0 - received as f64 / expected.max(1) as f64),
        jitter_ms: stream_jitters.iter().sum::<f64>() / stream_jitters.len().max(1) as f64,
        latency_p50_ms: quantile(&latencies, 0.50),
        latency_p99_ms: quantile(&latencies, 0.99),
        top_layer_pct: 100.0 * video_top as f64 / video.max(1) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(publisher: u32, kind: Kind, seq: u32, sent_ns: u64) -> Stamp {
        Stamp {
            publisher,
            kind,
            layer: 2,
            seq,
            sent_ns,
        }
    }

    #[test]
    fn counts_loss_within_the_window_only() {
        let sent: Vec<Stamp> = (0..10)
            .map(|seq| stamp(1, Kind::Audio, seq, u64::from(seq) * 20_000_000))
            .collect();
        // Frame 3 is lost, frame 9 is outside the window, frame 5 came twice.
        let arrivals: Vec<Arrival> = [0, 1, 2, 4, 5, 5, 6, 7, 8, 9]
            .iter()
            .map(|&seq| Arrival {
                stamp: sent[seq],
                arrived_ns: sent[seq].sent_ns + 1_000_000,
            })
            .collect();
        let receivers = [Receiver {
            expects: &[1],
            arrivals: &arrivals,
        }];
        let reception = analyse(&sent, &receivers, 0..180_000_000);
        assert_eq!((reception.expected, reception.received), (9, 8));
        assert!((reception.loss_pct - 100.0 / 9.0).abs() < 1e-9);
        assert_eq!(reception.jitter_ms, 0.0, "constant transit time");
        assert_eq!(reception.latency_p50_ms, 1.0);
    }

    #[test]
    fn jitter_follows_rfc_3550() {
        let mut jitter = Jitter::default();
        for transit in [10.0, 26.0, 10.0] {
            jitter.add(transit);
        }
        // 16/16 = 1, then 1 + (16 - 1)/16 = 1.9375; mean of the two.
        assert!((jitter.mean_ms().unwrap() - (1.0 + 1.9375) / 2.0).abs() < 1e-9);
    }
}
