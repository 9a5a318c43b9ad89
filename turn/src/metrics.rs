//! Counters the Mesh server reads to export or display.
//!
//! The core updates them as it works; anyone holding the `Arc<Metrics>` can
//! take a [`MetricsSnapshot`] at any time from another thread.

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a request or packet was refused, for [`Refusals`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Credentials were present but wrong (401 after the challenge).
    Unauthorized,
    /// The REST username had expired at Allocate (401).
    ExpiredCredentials,
    /// The peer policy refused a destination (403, or a dropped packet).
    ForbiddenPeer,
    /// A user reached their allocation quota (486).
    UserQuota,
    /// The relay reached a capacity limit (508).
    Capacity,
    /// An allocation exceeded its bandwidth; the packet was dropped.
    Bandwidth,
    /// A malformed or unsupported request (400, 420, 437, 440, 441, 442, 443).
    BadRequest,
}

/// Live counters, shared between the core and whoever reports them.
#[derive(Debug, Default)]
pub struct Metrics {
    allocations: AtomicU64,
    packets_relayed: AtomicU64,
    bytes_relayed: AtomicU64,
    unauthorized: AtomicU64,
    expired_credentials: AtomicU64,
    forbidden_peer: AtomicU64,
    user_quota: AtomicU64,
    capacity: AtomicU64,
    bandwidth: AtomicU64,
    bad_request: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Allocations currently held.
    pub allocations: u64,
    /// Packets forwarded, counted once where they leave the relay (to a peer,
    /// or to a client).
    pub packets_relayed: u64,
    /// Application payload bytes in those packets.
    pub bytes_relayed: u64,
    /// Refusals since start, by reason.
    pub refusals: Refusals,
}

/// Refusal counts since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refusals {
    /// See [`Refusal::Unauthorized`].
    pub unauthorized: u64,
    /// See [`Refusal::ExpiredCredentials`].
    pub expired_credentials: u64,
    /// See [`Refusal::ForbiddenPeer`].
    pub forbidden_peer: u64,
    /// See [`Refusal::UserQuota`].
    pub user_quota: u64,
    /// See [`Refusal::Capacity`].
    pub capacity: u64,
    /// See [`Refusal::Bandwidth`].
    pub bandwidth: u64,
    /// See [`Refusal::BadRequest`].
    pub bad_request: u64,
}

impl Metrics {
    /// Reads every counter.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            allocations: get(&self.allocations),
            packets_relayed: get(&self.packets_relayed),
            bytes_relayed: get(&self.bytes_relayed),
            refusals: Refusals {
                unauthorized: get(&self.unauthorized),
                expired_credentials: get(&self.expired_credentials),
                forbidden_peer: get(&self.forbidden_peer),
                user_quota: get(&self.user_quota),
                capacity: get(&self.capacity),
                bandwidth: get(&self.bandwidth),
                bad_request: get(&self.bad_request),
            },
        }
    }

    pub(crate) fn set_allocations(&self, count: usize) {
        self.allocations.store(count as u64, Ordering::Relaxed);
    }

    pub(crate) fn relayed(&self, payload_bytes: usize) {
        self.packets_relayed.fetch_add(1, Ordering::Relaxed);
        self.bytes_relayed
            .fetch_add(payload_bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn refused(&self, why: Refusal) {
        let counter = match why {
            Refusal::Unauthorized => &self.unauthorized,
            Refusal::ExpiredCredentials => &self.expired_credentials,
            Refusal::ForbiddenPeer => &self.forbidden_peer,
            Refusal::UserQuota => &self.user_quota,
            Refusal::Capacity => &self.capacity,
            Refusal::Bandwidth => &self.bandwidth,
            Refusal::BadRequest => &self.bad_request,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
