//! What a subscriber is sent of one publisher's video: the layer gate that
//! switches simulcast layers only on keyframes, and the timeline that keeps
//! RTP time continuous across a switch.
//!
//! In frame mode str0m re-packetizes every forwarded frame on the
//! subscriber's own send stream, so sequence numbers and the VP8 picture id
//! stay continuous by themselves. RTP time does not: each simulcast layer has
//! its own random timestamp offset, so the SFU re-bases it on a switch.

use std::time::Instant;

use str0m::media::MediaTime;

/// Decides which frames of a video track a subscriber gets.
#[derive(Debug, Default)]
pub(crate) struct LayerGate {
    forwarding: Option<usize>,
    target: Option<usize>,
}

/// What to do with one incoming frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Not for this subscriber.
    Drop,
    /// Forward it on the layer already being forwarded.
    Forward,
    /// A keyframe of the target layer: forward it, and it starts a new layer.
    Switch,
}

impl LayerGate {
    /// The layer (index, low to high) being forwarded.
    pub(crate) fn forwarding(&self) -> Option<usize> {
        self.forwarding
    }

    /// The layer the subscriber should get. Until it is what is forwarded,
    /// the gate waits for a keyframe of it (see [`LayerGate::waiting_for`]).
    pub(crate) fn set_target(&mut self, target: Option<usize>) {
        self.target = target;
    }

    /// The layer whose keyframe the gate waits for, if it waits.
    pub(crate) fn waiting_for(&self) -> Option<usize> {
        self.target
            .filter(|target| Some(*target) != self.forwarding)
    }

    /// Admits or drops one frame of `layer`. The old layer keeps flowing
    /// until the new one has a keyframe, so a switch never freezes the
    /// picture; a new subscriber sees nothing until its first keyframe,
    /// which its decoder could not use anyway.
    pub(crate) fn admit(&mut self, layer: usize, keyframe: bool) -> Admit {
        if keyframe && self.waiting_for() == Some(layer) {
            self.forwarding = Some(layer);
            Admit::Switch
        } else if self.forwarding == Some(layer) {
            Admit::Forward
        } else {
            Admit::Drop
        }
    }
}

/// Maps incoming RTP time to outgoing RTP time for one forwarded track.
#[derive(Debug, Default)]
pub(crate) struct Timeline {
    offset: i64,
    last: Option<(u64, Instant)>,
}

impl Timeline {
    /// The outgoing time for a frame of incoming time `time` that arrived at
    /// `arrival`. With `rebase`, the frame starts a new source timeline (a
    /// layer switch) and is placed after the last frame sent by the time
    /// that passed between their arrivals.
    pub(crate) fn map(&mut self, time: MediaTime, arrival: Instant, rebase: bool) -> MediaTime {
        let frequency = time.frequency();
        let incoming = time.numer() as i64;
        if let (true, Some((last_out, last_arrival))) = (rebase, self.last) {
            let elapsed = arrival.saturating_duration_since(last_arrival);
            let ticks = (elapsed.as_micros() * u128::from(frequency.get()) / 1_000_000) as i64;
            // Equal timestamps would merge two frames into one at the receiver.
            let out = last_out as i64 + ticks.max(1);
            self.offset = out - incoming;
        }
        let out = (incoming + self.offset).max(0) as u64;
        self.last = Some((out, arrival));
        MediaTime::new(out, frequency)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use str0m::media::Frequency;

    use super::*;

    #[test]
    fn a_new_subscriber_waits_for_a_keyframe() {
        let mut gate = LayerGate::default();
        gate.set_target(Some(0));
        assert_eq!(gate.waiting_for(), Some(0));
        assert_eq!(gate.admit(0, false), Admit::Drop);
        assert_eq!(gate.admit(0, true), Admit::Switch);
        assert_eq!(gate.admit(0, false), Admit::Forward);
        assert_eq!(gate.waiting_for(), None);
    }

    #[test]
    fn switches_layers_only_on_a_keyframe_of_the_target() {
        let mut gate = LayerGate::default();
        gate.set_target(Some(2));
        assert_eq!(gate.admit(2, true), Admit::Switch);

        gate.set_target(Some(0));
        assert_eq!(gate.waiting_for(), Some(0));
        assert_eq!(
            gate.admit(2, false),
            Admit::Forward,
            "old layer flows meanwhile"
        );
        assert_eq!(gate.admit(0, false), Admit::Drop);
        assert_eq!(gate.admit(1, true), Admit::Drop, "not the target");
        assert_eq!(gate.admit(0, true), Admit::Switch);
        assert_eq!(gate.admit(2, false), Admit::Drop);
        assert_eq!(gate.forwarding(), Some(0));
        assert_eq!(gate.waiting_for(), None);
    }

    #[test]
    fn keeps_rtp_time_continuous_across_a_switch() {
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let time = |ticks| MediaTime::new(ticks, Frequency::NINETY_KHZ);
        let mut timeline = Timeline::default();

        assert_eq!(timeline.map(time(1_000), at(0), true).numer(), 1_000);
        assert_eq!(timeline.map(time(4_000), at(33), false).numer(), 4_000);

        // The new layer's clock is somewhere else entirely.
        let switched = timeline.map(time(900_000), at(66), true);
        assert_eq!(switched.numer(), 4_000 + 33 * 90);
        let next = timeline.map(time(903_000), at(99), false);
        assert_eq!(next.numer(), 4_000 + 33 * 90 + 3_000);
    }
}
