//! Putting notifications in the outbox: deciding, per recipient, whether an
//! event is pushed at all (the event switched on, outside quiet hours, some
//! backend to push to), inside the caller's transaction.

use rusqlite::Connection;

use super::event::EventKind;
use crate::store::notifications::{self, NewRow};

/// What the outbox needs to know of the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// The server has a default backend for users without one.
    pub has_default: bool,
    pub coalesce_ms: i64,
}

/// Something that happened, to be pushed to some people.
pub struct Event {
    pub kind: EventKind,
    pub room_id: Option<i64>,
    pub room_name: String,
    /// Who caused it.
    pub actor_name: String,
    /// The message text, or the device name for files.
    pub preview: String,
}

/// Queues `event` for each recipient whose settings want it. Returns how many
/// were queued.
pub fn enqueue(
    conn: &Connection,
    rules: Rules,
    event: &Event,
    recipients: impl IntoIterator<Item = i64>,
    now: i64,
) -> rusqlite::Result<usize> {
    let mut queued = 0;
    for user_id in recipients {
        let settings = notifications::settings(conn, user_id)?;
        let wanted = event.kind.enabled_in(&settings.events)
            && !settings.quiet.is_some_and(|quiet| quiet.contains(now))
            && (rules.has_default || settings.backend != mesh_proto::NotificationBackend::None);
        if !wanted {
            continue;
        }
        let row = NewRow {
            user_id,
            room_id: event.room_id,
            kind: event.kind,
            room_name: &event.room_name,
            actor_name: &event.actor_name,
            preview: &event.preview,
        };
        notifications::enqueue(conn, &row, rules.coalesce_ms, now)?;
        queued += 1;
    }
    Ok(queued)
}
