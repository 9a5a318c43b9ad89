//! One client's allocation: its relay address, permissions and channels.
//!
//! Everything here is plain data keyed by time the caller passes in. Expired
//! permissions and channels stop relaying at once (every check compares with
//! `now`) and are purged when the core's timer for the allocation fires.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use stun_types::message::TransactionId;

use crate::five_tuple::FiveTuple;
use crate::quota::TokenBucket;

/// After a channel binding expires, its number and peer stay reserved this
/// long so late packets are not delivered to a new binding (RFC 8656 §12).
const CHANNEL_COOLDOWN: Duration = Duration::from_secs(300);

/// Channel numbers a client may bind. RFC 8656 narrowed the range to
/// 0x4000–0x4FFF; RFC 5766 clients (coturn 4.6's own client among them) still
/// pick from 0x4000–0x7FFF, and this relay does not multiplex DTLS or QUIC on
/// its ports, so the old range is accepted.
pub(crate) const CHANNEL_NUMBERS: std::ops::RangeInclusive<u16> = 0x4000..=0x7FFF;

/// A channel number bound to a peer.
#[derive(Debug, Clone, Copy)]
struct Channel {
    peer: SocketAddr,
    expires: Instant,
}

/// Why a channel could not be bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChannelConflict {
    /// The number is bound (or cooling down) to another peer.
    NumberTaken,
    /// The peer is bound (or cooling down) to another number.
    PeerTaken,
}

/// A live allocation.
#[derive(Debug)]
pub(crate) struct Allocation {
    pub(crate) five_tuple: FiveTuple,
    /// The relay socket's local address.
    pub(crate) relay: SocketAddr,
    /// The relay address clients and peers see.
    pub(crate) public: SocketAddr,
    /// The username that created it; later requests must carry the same.
    pub(crate) username: String,
    pub(crate) user_id: String,
    /// The Allocate transaction, so a retransmission gets the same success.
    pub(crate) transaction: TransactionId,
    /// The reservation token handed out with it, if it reserved the next port.
    pub(crate) reservation: Option<u64>,
    pub(crate) expires: Instant,
    /// The bandwidth quota; `None` for no limit.
    pub(crate) bucket: Option<TokenBucket>,
    /// Starts as `Peers::default()`: nobody may talk through it yet.
    pub(crate) peers: Peers,
}

/// Who an allocation may exchange data with.
#[derive(Debug, Default)]
pub(crate) struct Peers {
    permissions: HashMap<IpAddr, Instant>,
    channels: HashMap<u16, Channel>,
    channel_by_peer: HashMap<SocketAddr, u16>,
}

impl Allocation {
    /// Whether the relay address is IPv6 (peers must be of the same family).
    pub(crate) fn is_ipv6(&self) -> bool {
        self.public.is_ipv6()
    }

    /// Whether `peer` holds a live permission.
    pub(crate) fn permits(&self, peer: IpAddr, now: Instant) -> bool {
        self.peers
            .permissions
            .get(&peer)
            .is_some_and(|&until| now < until)
    }

    /// Whether installing permissions for `peers` keeps the allocation within
    /// `limit` distinct peers.
    pub(crate) fn has_room_for(&mut self, peers: &[IpAddr], limit: usize, now: Instant) -> bool {
        self.peers.permissions.retain(|_, until| now < *until);
        let new = peers
            .iter()
            .enumerate()
            .filter(|(i, ip)| !self.peers.permissions.contains_key(ip) && !peers[..*i].contains(ip))
            .count();
        self.peers.permissions.len() + new <= limit
    }

    /// Installs or refreshes a permission; check [`Allocation::has_room_for`] first.
    pub(crate) fn grant_permission(&mut self, peer: IpAddr, until: Instant) {
        self.peers.permissions.insert(peer, until);
    }

    /// Binds `number` to `peer` until `until`, or refreshes that binding.
    pub(crate) fn bind_channel(
        &mut self,
        number: u16,
        peer: SocketAddr,
        until: Instant,
    ) -> Result<(), ChannelConflict> {
        if self
            .peers
            .channels
            .get(&number)
            .is_some_and(|c| c.peer != peer)
        {
            return Err(ChannelConflict::NumberTaken);
        }
        if self
            .peers
            .channel_by_peer
            .get(&peer)
            .is_some_and(|&n| n != number)
        {
            return Err(ChannelConflict::PeerTaken);
        }
        self.peers.channels.insert(
            number,
            Channel {
                peer,
                expires: until,
            },
        );
        self.peers.channel_by_peer.insert(peer, number);
        Ok(())
    }

    /// The peer a live channel `number` leads to.
    pub(crate) fn channel_peer(&self, number: u16, now: Instant) -> Option<SocketAddr> {
        self.peers
            .channels
            .get(&number)
            .filter(|c| now < c.expires)
            .map(|c| c.peer)
    }

    /// The live channel bound to `peer`, if any.
    pub(crate) fn channel_for(&self, peer: SocketAddr, now: Instant) -> Option<u16> {
        let number = *self.peers.channel_by_peer.get(&peer)?;
        self.channel_peer(number, now).map(|_| number)
    }

    /// Charges `bytes` to the bandwidth quota; `false` means drop the packet.
    pub(crate) fn admit(&mut self, bytes: usize, now: Instant) -> bool {
        self.bucket.as_mut().is_none_or(|b| b.take(now, bytes))
    }

    /// When this allocation next needs the core's attention: its own expiry,
    /// or the earliest permission or channel to purge.
    pub(crate) fn next_deadline(&self) -> Instant {
        let permissions = self.peers.permissions.values().copied();
        let channels = self
            .peers
            .channels
            .values()
            .map(|c| c.expires + CHANNEL_COOLDOWN);
        permissions.chain(channels).fold(self.expires, Instant::min)
    }

    /// Forgets permissions and channel bindings that are over.
    pub(crate) fn purge(&mut self, now: Instant) {
        self.peers.permissions.retain(|_, until| now < *until);
        let channel_by_peer = &mut self.peers.channel_by_peer;
        self.peers.channels.retain(|_, c| {
            let keep = now < c.expires + CHANNEL_COOLDOWN;
            if !keep {
                channel_by_peer.remove(&c.peer);
            }
            keep
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::five_tuple::Transport;

    fn allocation(now: Instant) -> Allocation {
        Allocation {
            five_tuple: FiveTuple {
                transport: Transport::Udp,
                client: "192.0.2.1:5000".parse().unwrap(),
                server: "192.0.2.2:3478".parse().unwrap(),
            },
            relay: "192.0.2.2:50000".parse().unwrap(),
            public: "198.51.100.2:50000".parse().unwrap(),
            username: "1:u".into(),
            user_id: "u".into(),
            transaction: 1.into(),
            reservation: None,
            expires: now + Duration::from_secs(600),
            bucket: None,
            peers: Peers::default(),
        }
    }

    #[test]
    fn channel_numbers_and_peers_pair_one_to_one() {
        let now = Instant::now();
        let mut a = allocation(now);
        let p1: SocketAddr = "8.8.8.8:1".parse().unwrap();
        let p2: SocketAddr = "8.8.8.8:2".parse().unwrap();
        let until = now + Duration::from_secs(600);
        a.bind_channel(0x4000, p1, until).unwrap();
        a.bind_channel(0x4000, p1, until).unwrap();
        assert_eq!(
            a.bind_channel(0x4000, p2, until),
            Err(ChannelConflict::NumberTaken)
        );
        assert_eq!(
            a.bind_channel(0x4001, p1, until),
            Err(ChannelConflict::PeerTaken)
        );
        assert_eq!(a.channel_peer(0x4000, now), Some(p1));
        assert_eq!(a.channel_for(p1, now), Some(0x4000));
    }

    #[test]
    fn expired_channel_stops_relaying_but_cools_down_before_reuse() {
        let now = Instant::now();
        let mut a = allocation(now);
        let p1: SocketAddr = "8.8.8.8:1".parse().unwrap();
        let p2: SocketAddr = "8.8.8.8:2".parse().unwrap();
        a.bind_channel(0x4000, p1, now + Duration::from_secs(10))
            .unwrap();
        let expired = now + Duration::from_secs(10);
        assert_eq!(a.channel_peer(0x4000, expired), None);
        a.purge(expired);
        assert_eq!(
            a.bind_channel(0x4000, p2, expired + Duration::from_secs(600)),
            Err(ChannelConflict::NumberTaken)
        );
        let cooled = expired + CHANNEL_COOLDOWN;
        assert_eq!(a.next_deadline(), cooled);
        a.purge(cooled);
        a.bind_channel(0x4000, p2, cooled + Duration::from_secs(600))
            .unwrap();
    }

    #[test]
    fn permission_room_counts_distinct_new_peers_only() {
        let now = Instant::now();
        let mut a = allocation(now);
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        a.grant_permission(ip("8.8.8.8"), now + Duration::from_secs(300));
        assert!(a.has_room_for(&[ip("8.8.8.8"), ip("1.1.1.1"), ip("1.1.1.1")], 2, now));
        assert!(!a.has_room_for(&[ip("1.1.1.1"), ip("9.9.9.9")], 2, now));
        // An expired permission frees its slot.
        assert!(a.has_room_for(
            &[ip("1.1.1.1"), ip("9.9.9.9")],
            2,
            now + Duration::from_secs(300)
        ));
    }
}
