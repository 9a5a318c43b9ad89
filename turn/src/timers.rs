//! The core's deadlines: one per key, ordered by time.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::time::Instant;

/// At most one deadline per key; setting it again moves it.
#[derive(Debug)]
pub(crate) struct Timers<K> {
    order: BTreeSet<(Instant, K)>,
    at: HashMap<K, Instant>,
}

impl<K: Copy + Ord + Hash> Timers<K> {
    pub(crate) fn new() -> Self {
        Self {
            order: BTreeSet::new(),
            at: HashMap::new(),
        }
    }

    /// Sets (or moves) `key`'s deadline.
    pub(crate) fn set(&mut self, key: K, when: Instant) {
        if let Some(old) = self.at.insert(key, when) {
            self.order.remove(&(old, key));
        }
        self.order.insert((when, key));
    }

    /// Forgets `key`'s deadline.
    pub(crate) fn cancel(&mut self, key: K) {
        if let Some(old) = self.at.remove(&key) {
            self.order.remove(&(old, key));
        }
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.order.first().map(|(when, _)| *when)
    }

    /// Removes and returns a key whose deadline is at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<K> {
        let &(when, key) = self.order.first()?;
        if when > now {
            return None;
        }
        self.order.pop_first();
        self.at.remove(&key);
        Some(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn moving_a_deadline_replaces_it() {
        let t0 = Instant::now();
        let mut timers = Timers::new();
        timers.set(1, t0 + Duration::from_secs(10));
        timers.set(2, t0 + Duration::from_secs(5));
        timers.set(2, t0 + Duration::from_secs(20));
        assert_eq!(timers.next(), Some(t0 + Duration::from_secs(10)));
        assert_eq!(timers.pop_due(t0 + Duration::from_secs(15)), Some(1));
        assert_eq!(timers.pop_due(t0 + Duration::from_secs(15)), None);
        timers.cancel(2);
        assert_eq!(timers.next(), None);
    }
}
