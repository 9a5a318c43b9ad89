//! Counters the control server reads, e.g. to export to Prometheus.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters of one SFU. The core updates them; any thread may read them
/// through the `Arc` from [`Sfu::metrics`](crate::Sfu::metrics).
#[derive(Debug, Default)]
pub struct Metrics {
    pub(crate) participants: AtomicU64,
    pub(crate) rooms: AtomicU64,
    pub(crate) tracks_published: AtomicU64,
    pub(crate) tracks_forwarded: AtomicU64,
    pub(crate) packets_in: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) packets_out: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) packets_dropped: AtomicU64,
    pub(crate) layer_switches: AtomicU64,
    pub(crate) packets_reported: AtomicU64,
    pub(crate) packets_reported_lost: AtomicU64,
    pub(crate) keyframe_requests: AtomicU64,
    pub(crate) participants_failed: AtomicU64,
}

/// A copy of [`Metrics`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Participants joined now.
    pub participants: u64,
    /// Rooms with at least one participant now.
    pub rooms: u64,
    /// Tracks published now.
    pub tracks_published: u64,
    /// Tracks being sent to subscribers now (one per subscriber and track).
    pub tracks_forwarded: u64,
    /// Datagrams received since start.
    pub packets_in: u64,
    /// Bytes received since start.
    pub bytes_in: u64,
    /// Datagrams sent since start.
    pub packets_out: u64,
    /// Bytes sent since start.
    pub bytes_out: u64,
    /// Datagrams dropped since start: no participant, malformed or oversized.
    pub packets_dropped: u64,
    /// Simulcast layer switches since start.
    pub layer_switches: u64,
    /// Packets sent to subscribers that their RTCP receiver reports have
    /// covered since start.
    pub packets_reported: u64,
    /// Of those, how many the subscribers reported lost (before any
    /// retransmission repaired them): the SFU-to-browser loss.
    pub packets_reported_lost: u64,
    /// Keyframe requests sent to publishers since start.
    pub keyframe_requests: u64,
    /// Participants removed by the SFU since start (timeouts, errors, panics).
    pub participants_failed: u64,
}

impl Metrics {
    /// Reads every counter.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        MetricsSnapshot {
            participants: get(&self.participants),
            rooms: get(&self.rooms),
            tracks_published: get(&self.tracks_published),
            tracks_forwarded: get(&self.tracks_forwarded),
            packets_in: get(&self.packets_in),
            bytes_in: get(&self.bytes_in),
            packets_out: get(&self.packets_out),
            bytes_out: get(&self.bytes_out),
            packets_dropped: get(&self.packets_dropped),
            layer_switches: get(&self.layer_switches),
            packets_reported: get(&self.packets_reported),
            packets_reported_lost: get(&self.packets_reported_lost),
            keyframe_requests: get(&self.keyframe_requests),
            participants_failed: get(&self.participants_failed),
        }
    }
}

pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}
