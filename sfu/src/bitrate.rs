//! Measuring the bitrate of an incoming stream.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How far back the meter looks. Long enough to smooth over a keyframe.
const WINDOW: Duration = Duration::from_secs(1);

/// The shortest span a rate is computed over, so a stream's first frame (a
/// large keyframe) does not read as a huge bitrate.
const MIN_SPAN: Duration = Duration::from_millis(200);

/// A stream silent for this long, or for [`STALL_FRAMES`] of its own frame
/// intervals if that is longer, has stopped: Chromium pauses an upper
/// simulcast layer without notice when its bandwidth estimate drops (and
/// often right after sending the layer's first keyframe), and a subscriber
/// left on it sees a frozen picture until the SFU notices.
const STALL_MIN: Duration = Duration::from_millis(300);
const STALL_FRAMES: u32 = 3;

/// How long a stream must have flowed without stopping before it is steady:
/// worth moving a subscriber up to.
const STEADY_AFTER: Duration = Duration::from_secs(1);

/// What a meter says about its stream now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Flow {
    /// Bits per second over the last [`WINDOW`] (or the stream's age).
    pub bps: u64,
    /// Whether it has flowed for [`STEADY_AFTER`] without stopping.
    pub steady: bool,
}

/// Frames of media seen over the last [`WINDOW`].
#[derive(Default, Debug)]
pub(crate) struct BitrateMeter {
    samples: VecDeque<(Instant, usize)>,
    bytes_in_window: usize,
    /// When the stream (re)started: a stream younger than [`WINDOW`] is
    /// measured over its age, not over a window it was silent for.
    started: Option<Instant>,
}

impl BitrateMeter {
    /// Records a frame of `bytes` arriving at `now`.
    pub(crate) fn record(&mut self, now: Instant, bytes: usize) {
        if self.stopped(now) {
            self.samples.clear();
            self.bytes_in_window = 0;
        }
        self.forget_before(now);
        if self.samples.is_empty() {
            self.started = Some(now);
        }
        self.samples.push_back((now, bytes));
        self.bytes_in_window += bytes;
    }

    /// How the stream flows now, or `None` if it has stopped.
    pub(crate) fn flow(&mut self, now: Instant) -> Option<Flow> {
        if self.stopped(now) {
            return None;
        }
        self.forget_before(now);
        let started = self.started.filter(|_| !self.samples.is_empty())?;
        let age = now.saturating_duration_since(started);
        let span = age.clamp(MIN_SPAN, WINDOW);
        Some(Flow {
            bps: self.bytes_in_window as u64 * 8 * 1000 / span.as_millis() as u64,
            steady: age >= STEADY_AFTER,
        })
    }

    /// Whether nothing arrived for longer than the stream's stall limit.
    fn stopped(&self, now: Instant) -> bool {
        let Some(&(last, _)) = self.samples.back() else {
            return false;
        };
        now.saturating_duration_since(last) > self.stall_limit()
    }

    /// [`STALL_MIN`] or [`STALL_FRAMES`] frame intervals; a stream of one
    /// frame has no interval yet and stops only when its window empties.
    fn stall_limit(&self) -> Duration {
        let intervals = self.samples.len().saturating_sub(1);
        let (Some(&(first, _)), Some(&(last, _))) = (self.samples.front(), self.samples.back())
        else {
            return WINDOW;
        };
        if intervals == 0 {
            return WINDOW;
        }
        let frame_interval = last.saturating_duration_since(first) / intervals as u32;
        STALL_MIN.max(frame_interval * STALL_FRAMES)
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

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    fn bps(meter: &mut BitrateMeter, now: Instant) -> Option<u64> {
        meter.flow(now).map(|flow| flow.bps)
    }

    #[test]
    fn measures_the_last_second_and_notices_a_pause() {
        let start = Instant::now();
        let mut meter = BitrateMeter::default();
        assert_eq!(meter.flow(start), None);

        // 1000 bytes every 100 ms for two seconds: 80 kbit/s.
        for tick in 0..=20 {
            meter.record(start + ms(tick * 100), 1000);
        }
        assert_eq!(bps(&mut meter, start + ms(2000)), Some(80_000));

        assert_eq!(meter.flow(start + ms(4000)), None);
    }

    #[test]
    fn measures_a_young_stream_over_its_age() {
        let start = Instant::now();
        let mut meter = BitrateMeter::default();
        // 1000 bytes every 100 ms is 80 kbit/s, from the first half second on.
        for tick in 0..5 {
            meter.record(start + ms(tick * 100), 1000);
        }
        assert_eq!(bps(&mut meter, start + ms(500)), Some(80_000));
        // A lone first frame is spread over at least 200 ms.
        let mut fresh = BitrateMeter::default();
        fresh.record(start, 5000);
        assert_eq!(bps(&mut fresh, start), Some(200_000));
    }

    #[test]
    fn a_stream_that_goes_silent_stops_well_before_its_window_empties() {
        let start = Instant::now();
        // 15 frames a second, then nothing.
        let mut camera = BitrateMeter::default();
        for frame in 0..15 {
            camera.record(start + ms(frame * 66), 1000);
        }
        let last = start + ms(14 * 66);
        assert!(camera.flow(last + ms(250)).is_some());
        assert_eq!(camera.flow(last + ms(301)), None);

        // Two frames a second still flow 900 ms after the last one: their
        // limit is three of their intervals, not 300 ms.
        let mut slow = BitrateMeter::default();
        slow.record(start, 1000);
        slow.record(start + ms(500), 1000);
        assert!(slow.flow(start + ms(500 + 900)).is_some());
    }

    #[test]
    fn a_stream_is_steady_after_a_second_of_flowing_and_again_after_a_stop() {
        let start = Instant::now();
        let mut meter = BitrateMeter::default();
        // 15 frames a second: young until the frame at 1056 ms.
        let mut flow_one_second_from = |from: Instant| {
            for frame in 0..=16 {
                let at = from + ms(frame * 66);
                meter.record(at, 1000);
                let steady = meter.flow(at).unwrap().steady;
                assert_eq!(steady, frame == 16, "frame {frame}");
            }
        };
        flow_one_second_from(start);
        // It stops for half a second and comes back: young again.
        flow_one_second_from(start + ms(16 * 66 + 500));
    }
}
