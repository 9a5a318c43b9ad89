//! Limits that keep one user, or everyone together, from exhausting the relay.

use std::time::Instant;

/// Limits on what clients may hold and send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quotas {
    /// Allocations one user id may hold at once; past it Allocate answers
    /// 486 Allocation Quota Reached. A browser in a call holds one or two per
    /// peer connection and TURN URL, so keep this well above a handful.
    pub allocations_per_user: u32,
    /// Allocations the whole relay may hold; past it Allocate answers
    /// 508 Insufficient Capacity.
    pub total_allocations: u32,
    /// Payload bytes per second one allocation may relay, both directions
    /// together; `None` for no limit. Packets over the limit are dropped.
    pub bandwidth_per_allocation: Option<u64>,
    /// Peers one allocation may hold permissions for; past it CreatePermission
    /// and ChannelBind answer 508.
    pub permissions_per_allocation: u32,
    /// Open TCP and TLS connections across all listeners; further ones are
    /// closed on accept.
    pub stream_connections: u32,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            allocations_per_user: 32,
            total_allocations: 2_000,
            // 16 Mbit/s: a 1080p screen share plus audio, with headroom.
            bandwidth_per_allocation: Some(2_000_000),
            permissions_per_allocation: 64,
            stream_connections: 4_000,
        }
    }
}

/// A token bucket measured in bytes, refilled from the `now` it is given.
///
/// It holds at most one second's worth, so an idle allocation may burst for a
/// second and no more.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    rate: u64,
    tokens: u64,
    /// Nanoseconds of refill time not yet turned into a whole token.
    carry_nanos: u128,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn new(bytes_per_second: u64, now: Instant) -> Self {
        Self {
            rate: bytes_per_second,
            tokens: bytes_per_second,
            carry_nanos: 0,
            last: now,
        }
    }

    /// Takes `bytes` if the bucket holds them; `false` means drop the packet.
    pub(crate) fn take(&mut self, now: Instant, bytes: usize) -> bool {
        self.refill(now);
        let bytes = bytes as u64;
        if bytes > self.tokens {
            return false;
        }
        self.tokens -= bytes;
        true
    }

    fn refill(&mut self, now: Instant) {
        if now <= self.last || self.rate == 0 {
            return;
        }
        // Integer arithmetic with a carry, so slow rates and frequent calls
        // neither round the refill away nor drift.
        let elapsed = now.duration_since(self.last).as_nanos() + self.carry_nanos;
        let earned = elapsed * u128::from(self.rate) / 1_000_000_000;
        self.carry_nanos = elapsed - earned * 1_000_000_000 / u128::from(self.rate);
        self.last = now;
        let earned = u64::try_from(earned).unwrap_or(u64::MAX);
        self.tokens = self.tokens.saturating_add(earned).min(self.rate);
        if self.tokens == self.rate {
            self.carry_nanos = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_allows_a_second_of_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(1_000, start);
        assert!(bucket.take(start, 600));
        assert!(bucket.take(start, 400));
        assert!(!bucket.take(start, 1));
        assert!(!bucket.take(start + Duration::from_millis(99), 100));
        assert!(bucket.take(start + Duration::from_millis(100), 100));
        // A long idle period refills to one second's worth, not more.
        let later = start + Duration::from_secs(60);
        assert!(bucket.take(later, 1_000));
        assert!(!bucket.take(later, 1));
    }

    #[test]
    fn slow_frequent_refills_do_not_round_away() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, start);
        assert!(bucket.take(start, 10));
        // 10 bytes/s polled every 10 ms earns 0.1 byte each time; after one
        // second the carry must have added up to the full 10.
        for ms in (10..=1000).step_by(10) {
            let _ = bucket.take(start + Duration::from_millis(ms), 0);
        }
        assert!(bucket.take(start + Duration::from_secs(1), 10));
    }
}
