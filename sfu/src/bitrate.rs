//! Measuring the bitrate of an incoming stream.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How far back the meter looks. Long enough to smooth over a keyframe,
/// short enough that a paused layer stops counting as arriving within a
/// second.
const WINDOW: Duration = Duration::from_secs(1);

/// The shortest span a rate is computed over, so a stream's first frame (a
/// large keyframe) does not read as a huge bitrate.
const MIN_SPAN: Duration = Duration::from_millis(200);

/// Bytes of media seen over the last [`WINDOW`].
#[derive(Default, Debug)]
pub(crate) struct BitrateMeter {
    samples: VecDeque<(Instant, usize)>,
    bytes_in_window: usize,
    /// When the stream (re)started: a stream younger than [`WINDOW`] is
    /// measured over its age, not over a window it was silent for.
    started: Option<Instant>,
}

impl BitrateMeter {
    /// Records `bytes` of media arriving at `now`.
    pub(crate) fn record(&mut self, now: Instant, bytes: usize) {
        self.forget_before(now);
        if self.samples.is_empty() {
            self.started = Some(now);
        }
        self.samples.push_back((now, bytes));
        self.bytes_in_window += bytes;
    }

    /// The bitrate over the last second, or `None` if nothing arrived in it.
    pub(crate) fn bps(&mut self, now: Instant) -> Option<u64> {
        self.forget_before(now);
        let started = self.started.filter(|_| !self.samples.is_empty())?;
        let span = now
            .saturating_duration_since(started)
            .clamp(MIN_SPAN, WINDOW);
        Some(self.bytes_in_window as u64 * 8 * 1000 / span.as_millis() as u64)
    }

    fn forget_before(&mut self, now: Instant) {
        while let Some(&(at, bytes)) = self.samples.front() {
            if now.saturating_duration_since(at) < WINDOW {
                break;
            }
            self.samples.pop_front();
            self.bytes_in_window -= bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_the_last_second_and_notices_a_pause() {
        let start = Instant::now();
        let mut meter = BitrateMeter::default();
        assert_eq!(meter.bps(start), None);

        // 1000 bytes every 100 ms for two seconds: 80 kbit/s.
        for tick in 0..=20 {
            meter.record(start + Duration::from_millis(tick * 100), 1000);
        }
        assert_eq!(meter.bps(start + Duration::from_secs(2)), Some(80_000));

        assert_eq!(meter.bps(start + Duration::from_secs(4)), None);
    }

    #[test]
    fn measures_a_young_stream_over_its_age() {
        let start = Instant::now();
        let mut meter = BitrateMeter::default();
        // 1000 bytes every 100 ms is 80 kbit/s, from the first half second on.
        for tick in 0..5 {
            meter.record(start + Duration::from_millis(tick * 100), 1000);
        }
        assert_eq!(meter.bps(start + Duration::from_millis(500)), Some(80_000));
        // A lone first frame is spread over at least 200 ms.
        let mut fresh = BitrateMeter::default();
        fresh.record(start, 5000);
        assert_eq!(fresh.bps(start), Some(200_000));
    }
}
