//! Which room each connection is showing, so people are not pushed what they
//! are looking at. A user is active in a room while at least one of their
//! connections reports (`focus`) that room focused and the page visible.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use crate::hub::ConnectionId;

#[derive(Default)]
pub struct Attention {
    /// Connection → (user, the room it shows while visible).
    watching: Mutex<HashMap<ConnectionId, (i64, i64)>>,
}

impl Attention {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ConnectionId, (i64, i64)>> {
        self.watching.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records what a connection shows; `None` when no room or hidden.
    pub fn set(&self, connection: ConnectionId, user_id: i64, room_id: Option<i64>) {
        let mut watching = self.lock();
        match room_id {
            Some(room_id) => watching.insert(connection, (user_id, room_id)),
            None => watching.remove(&connection),
        };
    }

    pub fn forget(&self, connection: ConnectionId) {
        self.lock().remove(&connection);
    }

    /// The users active in `room_id`.
    pub fn active_in(&self, room_id: i64) -> HashSet<i64> {
        self.lock()
            .values()
            .filter(|(_, room)| *room == room_id)
            .map(|(user, _)| *user)
            .collect()
    }

    pub fn is_active(&self, user_id: i64, room_id: i64) -> bool {
        self.lock()
            .values()
            .any(|watched| *watched == (user_id, room_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_active_while_any_connection_shows_the_room() {
        let attention = Attention::default();
        attention.set(1, 10, Some(5));
        attention.set(2, 10, Some(6));
        assert!(attention.is_active(10, 5));
        attention.set(1, 10, None);
        assert!(!attention.is_active(10, 5));
        assert_eq!(attention.active_in(6), HashSet::from([10]));
        attention.forget(2);
        assert!(attention.active_in(6).is_empty());
    }
}
