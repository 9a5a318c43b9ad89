//! The hub: every live WebSocket connection, who it belongs to, and fan-out of
//! events to users. Presence is derived from it (a user with a connection is
//! online, or busy if they said so).
//!
//! This is the in-process event bus. Its surface (register, unregister,
//! send to users, close a session) is what a multi-node bus would implement.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use mesh_proto::{Presence, ServerFrame};
use tokio::sync::mpsc;

use crate::tokens::Actor;

pub type ConnectionId = u64;

/// What the hub asks a connection's task to do.
#[derive(Debug)]
pub enum Outbound {
    Frame(Arc<str>),
    Close(u16, &'static str),
}

/// Frames a connection may have queued before it is considered too slow and dropped.
pub const OUTBOUND_QUEUE: usize = 512;

#[derive(Default)]
pub struct Hub {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
}

#[derive(Default)]
struct Inner {
    connections: HashMap<ConnectionId, Connection>,
    by_user: HashMap<i64, HashSet<ConnectionId>>,
    /// Users who marked themselves busy.
    busy: HashSet<i64>,
    /// Users in a call, with how many of their tabs are in one.
    in_call: HashMap<i64, usize>,
}

impl Inner {
    fn presence(&self, user_id: i64) -> Presence {
        if !self.by_user.contains_key(&user_id) {
            Presence::Offline
        } else if self.busy.contains(&user_id) || self.in_call.contains_key(&user_id) {
            Presence::Busy
        } else {
            Presence::Online
        }
    }
}

struct Connection {
    actor: Actor,
    tx: mpsc::Sender<Outbound>,
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a connection. Returns its id and whether the user just came online.
    pub fn register(&self, actor: Actor, tx: mpsc::Sender<Outbound>) -> (ConnectionId, bool) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.lock();
        inner.connections.insert(id, Connection { actor, tx });
        let user_connections = inner.by_user.entry(actor.user_id).or_default();
        user_connections.insert(id);
        (id, user_connections.len() == 1)
    }

    /// Removes a connection. Returns true when that was the user's last one
    /// (they are now offline).
    pub fn unregister(&self, id: ConnectionId) -> bool {
        let mut inner = self.lock();
        let Some(connection) = inner.connections.remove(&id) else {
            return false;
        };
        let user_id = connection.actor.user_id;
        let now_offline = match inner.by_user.get_mut(&user_id) {
            Some(ids) => {
                ids.remove(&id);
                ids.is_empty()
            }
            None => true,
        };
        if now_offline {
            inner.by_user.remove(&user_id);
            inner.busy.remove(&user_id);
        }
        now_offline
    }

    pub fn presence(&self, user_id: i64) -> Presence {
        self.lock().presence(user_id)
    }

    /// Applies `change` and returns the user's presence if it changed.
    fn update_presence(&self, user_id: i64, change: impl FnOnce(&mut Inner)) -> Option<Presence> {
        let mut inner = self.lock();
        let before = inner.presence(user_id);
        change(&mut inner);
        let after = inner.presence(user_id);
        (before != after).then_some(after)
    }

    /// Sets an online user's own busy flag. Returns the new presence if it changed.
    pub fn set_busy(&self, user_id: i64, busy: bool) -> Option<Presence> {
        self.update_presence(user_id, |inner| {
            if !inner.by_user.contains_key(&user_id) {
                return;
            }
            if busy {
                inner.busy.insert(user_id);
            } else {
                inner.busy.remove(&user_id);
            }
        })
    }

    /// Counts one of the user's tabs into (or out of) a call. Returns the new
    /// presence if it changed.
    pub fn set_in_call(&self, user_id: i64, joined: bool) -> Option<Presence> {
        self.update_presence(user_id, |inner| {
            if joined {
                *inner.in_call.entry(user_id).or_default() += 1;
            } else if let Some(count) = inner.in_call.get_mut(&user_id) {
                *count -= 1;
                if *count == 0 {
                    inner.in_call.remove(&user_id);
                }
            }
        })
    }

    /// Sends one event to one connection. Returns false if it is gone or full.
    pub fn send_to_connection(&self, id: ConnectionId, frame: &ServerFrame) -> bool {
        let inner = self.lock();
        match inner.connections.get(&id) {
            Some(connection) => connection
                .tx
                .try_send(Outbound::Frame(frame.encode().into()))
                .is_ok(),
            None => false,
        }
    }

    /// Sends one event to every connection of every listed user. A connection
    /// whose queue is full is dropped rather than slowing everyone else down.
    pub fn send_to_users(&self, users: impl IntoIterator<Item = i64>, frame: &ServerFrame) {
        let text: Arc<str> = frame.encode().into();
        let mut inner = self.lock();
        let mut too_slow = Vec::new();
        for user_id in users {
            let Some(ids) = inner.by_user.get(&user_id) else {
                continue;
            };
            for id in ids {
                let connection = &inner.connections[id];
                if connection
                    .tx
                    .try_send(Outbound::Frame(text.clone()))
                    .is_err()
                {
                    too_slow.push(*id);
                }
            }
        }
        for id in too_slow {
            // Dropping the sender ends the connection's task, which unregisters it.
            if let Some(connection) = inner.connections.get_mut(&id) {
                let (closed, _) = mpsc::channel(1);
                connection.tx = closed;
            }
            tracing::warn!(connection = id, "dropping a connection that cannot keep up");
        }
    }

    /// Closes every connection of a session (after logout or token reuse).
    pub fn close_session(&self, session_id: i64, code: u16, reason: &'static str) {
        let inner = self.lock();
        for connection in inner.connections.values() {
            if connection.actor.session_id == session_id {
                let _ = connection.tx.try_send(Outbound::Close(code, reason));
            }
        }
    }

    pub fn connection_count(&self) -> usize {
        self.lock().connections.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_proto::{PresenceChanged, ServerEvent};

    fn actor(user_id: i64, session_id: i64) -> Actor {
        Actor {
            user_id,
            session_id,
        }
    }

    #[test]
    fn presence_follows_connections_and_busy_flag() {
        let hub = Hub::default();
        let (tx, _rx) = mpsc::channel(8);
        let (a, first) = hub.register(actor(1, 1), tx.clone());
        assert!(first);
        let (b, first) = hub.register(actor(1, 2), tx);
        assert!(!first);
        assert_eq!(hub.set_busy(1, true), Some(Presence::Busy));
        assert_eq!(hub.presence(1), Presence::Busy);
        assert!(!hub.unregister(a));
        assert!(hub.unregister(b));
        assert_eq!(hub.presence(1), Presence::Offline);
        assert_eq!(hub.set_busy(1, true), None);
    }

    #[test]
    fn being_in_a_call_makes_a_user_busy_until_their_last_tab_leaves() {
        let hub = Hub::default();
        let (tx, _rx) = mpsc::channel(8);
        hub.register(actor(1, 1), tx);
        assert_eq!(hub.set_in_call(1, true), Some(Presence::Busy));
        assert_eq!(hub.set_in_call(1, true), None);
        assert_eq!(hub.set_in_call(1, false), None);
        assert_eq!(hub.set_busy(1, true), None, "already busy");
        assert_eq!(hub.set_in_call(1, false), None, "still busy by choice");
        assert_eq!(hub.set_busy(1, false), Some(Presence::Online));
    }

    #[test]
    fn fan_out_reaches_only_listed_users_and_drops_slow_connections() {
        let hub = Hub::default();
        let (fast_tx, mut fast_rx) = mpsc::channel(8);
        let (slow_tx, mut slow_rx) = mpsc::channel(1);
        let (other_tx, mut other_rx) = mpsc::channel(8);
        hub.register(actor(1, 1), fast_tx);
        hub.register(actor(2, 2), slow_tx);
        hub.register(actor(3, 3), other_tx);
        let frame = ServerFrame::event(ServerEvent::Presence(PresenceChanged {
            user_id: 9,
            status: Presence::Online,
        }));
        hub.send_to_users([1, 2], &frame);
        hub.send_to_users([1, 2], &frame);
        assert!(fast_rx.try_recv().is_ok());
        assert!(fast_rx.try_recv().is_ok());
        assert!(other_rx.try_recv().is_err());
        assert!(slow_rx.try_recv().is_ok());
        // The second frame did not fit: the slow connection's sender was dropped.
        assert!(matches!(
            slow_rx.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
    }
}
