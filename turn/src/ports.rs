//! Which relay ports are in use, and picking free ones at random.
//!
//! The core chooses the port and the driver only binds it, so port
//! bookkeeping, EVEN-PORT pairs and exhaustion (508) are decided here without
//! sockets. Ports are picked at random (RFC 8656 §7.2 and RFC 6056: a
//! predictable relay port helps an off-path attacker).

use std::collections::HashSet;
use std::ops::RangeInclusive;

use crate::rng::Rng;

/// What an Allocate asked of its port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PortShape {
    /// Any port.
    Any,
    /// An even port (EVEN-PORT without the R bit).
    Even,
    /// An even port whose successor is also free, to be reserved for a later
    /// Allocate with the RESERVATION-TOKEN (EVEN-PORT with the R bit: RTP and RTCP).
    EvenPair,
}

/// Ports in use, per address family, within the configured range.
#[derive(Debug)]
pub(crate) struct Ports {
    range: RangeInclusive<u16>,
    used: [HashSet<u16>; 2],
}

impl Ports {
    pub(crate) fn new(range: RangeInclusive<u16>) -> Self {
        Self {
            range,
            used: [HashSet::new(), HashSet::new()],
        }
    }

    /// Picks and marks a free port (for `EvenPair`, the even one; its
    /// successor is marked too). `None` when the range is exhausted.
    pub(crate) fn take(&mut self, rng: &mut Rng, ipv6: bool, shape: PortShape) -> Option<u16> {
        let (start, end) = (u32::from(*self.range.start()), u32::from(*self.range.end()));
        let len = end - start + 1;
        let first = rng.next_u64() % u64::from(len);
        let used = &mut self.used[usize::from(ipv6)];
        let fits = |port: u32| match shape {
            PortShape::Any => !used.contains(&(port as u16)),
            PortShape::Even => port % 2 == 0 && !used.contains(&(port as u16)),
            PortShape::EvenPair => {
                port % 2 == 0
                    && port < end
                    && !used.contains(&(port as u16))
                    && !used.contains(&(port as u16 + 1))
            }
        };
        // One pass over the range from a random start: bounded, and finds a
        // port whenever one is free.
        let port = (0..len)
            .map(|i| start + (first as u32 + i) % len)
            .find(|&p| fits(p))? as u16;
        used.insert(port);
        if shape == PortShape::EvenPair {
            used.insert(port + 1);
        }
        Some(port)
    }

    /// Returns `port` to the pool.
    pub(crate) fn release(&mut self, ipv6: bool, port: u16) {
        self.used[usize::from(ipv6)].remove(&port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_port_is_handed_out_once_then_exhausted() {
        let mut rng = Rng::new(7);
        let mut ports = Ports::new(50000..=50009);
        let mut seen: Vec<u16> = (0..10)
            .map(|_| ports.take(&mut rng, false, PortShape::Any).unwrap())
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (50000..=50009).collect::<Vec<_>>());
        assert_eq!(ports.take(&mut rng, false, PortShape::Any), None);
        // The other family has its own ports.
        assert!(ports.take(&mut rng, true, PortShape::Any).is_some());
        ports.release(false, 50004);
        assert_eq!(ports.take(&mut rng, false, PortShape::Any), Some(50004));
    }

    #[test]
    fn even_pairs_take_two_ports_and_fit_in_the_range() {
        let mut rng = Rng::new(3);
        let mut ports = Ports::new(50001..=50004);
        // Only 50002/50003 can form a pair inside the range.
        assert_eq!(
            ports.take(&mut rng, false, PortShape::EvenPair),
            Some(50002)
        );
        assert_eq!(ports.take(&mut rng, false, PortShape::EvenPair), None);
        assert_eq!(ports.take(&mut rng, false, PortShape::Even), Some(50004));
        assert_eq!(ports.take(&mut rng, false, PortShape::Even), None);
        assert_eq!(ports.take(&mut rng, false, PortShape::Any), Some(50001));
    }
}
