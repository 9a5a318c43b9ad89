//! Notification settings per user, and the outbox of notifications to push.

use mesh_proto::{NotificationBackend, NotificationEvents};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::notify::event::EventKind;
use crate::notify::quiet::QuietWindow;

/// What a user saved. Users without a row have [`StoredSettings::default`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredSettings {
    pub backend: NotificationBackend,
    pub url: String,
    pub topic: String,
    pub token: Option<String>,
    pub events: NotificationEvents,
    pub quiet: Option<QuietWindow>,
}

fn settings_from_row(row: &Row<'_>) -> rusqlite::Result<StoredSettings> {
    let backend: String = row.get(0)?;
    let quiet = match (row.get(8)?, row.get(9)?, row.get(10)?) {
        (Some(start), Some(end), Some(utc_offset)) => Some(QuietWindow {
            start,
            end,
            utc_offset,
        }),
        _ => None,
    };
    Ok(StoredSettings {
        backend: NotificationBackend::parse(&backend).ok_or_else(|| {
            rusqlite::Error::InvalidColumnType(
                0,
                format!("notification backend `{backend}`"),
                rusqlite::types::Type::Text,
            )
        })?,
        url: row.get(1)?,
        topic: row.get(2)?,
        token: row.get(3)?,
        events: NotificationEvents {
            messages: row.get(4)?,
            calls: row.get(5)?,
            files: row.get(6)?,
            invitations: row.get(7)?,
        },
        quiet,
    })
}

const SETTINGS_COLUMNS: &str = "backend, url, topic, token, notify_messages, notify_calls, \
     notify_files, notify_invitations, quiet_start, quiet_end, quiet_utc_offset";

pub fn settings(conn: &Connection, user_id: i64) -> rusqlite::Result<StoredSettings> {
    // Cached: a chat message looks up every member's settings.
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {SETTINGS_COLUMNS} FROM notification_settings WHERE user_id = ?1"
        ))?
        .query_row([user_id], settings_from_row)
        .optional()?
        .unwrap_or_default())
}

pub fn save_settings(
    conn: &Connection,
    user_id: i64,
    settings: &StoredSettings,
    now: i64,
) -> rusqlite::Result<()> {
    let quiet = settings.quiet.as_ref();
    conn.execute(
        &format!(
            "INSERT OR REPLACE INTO notification_settings (user_id, {SETTINGS_COLUMNS}, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        ),
        params![
            user_id,
            settings.backend.as_str(),
            settings.url,
            settings.topic,
            settings.token,
            settings.events.messages,
            settings.events.calls,
            settings.events.files,
            settings.events.invitations,
            quiet.map(|q| q.start),
            quiet.map(|q| q.end),
            quiet.map(|q| q.utc_offset),
            now,
        ],
    )?;
    Ok(())
}

/// One notification waiting in (or taken from) the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub user_id: i64,
    pub room_id: Option<i64>,
    pub kind: EventKind,
    pub room_name: String,
    pub actor_name: String,
    pub preview: String,
    pub count: i64,
    /// Attempts started, this one included once claimed.
    pub attempts: u32,
}

/// A new notification for one user.
pub struct NewRow<'a> {
    pub user_id: i64,
    pub room_id: Option<i64>,
    pub kind: EventKind,
    pub room_name: &'a str,
    pub actor_name: &'a str,
    pub preview: &'a str,
}

/// Adds a notification, or — for chat messages — folds it into the same
/// user's not-yet-attempted notification for that room, which keeps its due
/// time: a burst becomes one push, sent `coalesce_ms` after its first message.
pub fn enqueue(
    conn: &Connection,
    row: &NewRow<'_>,
    coalesce_ms: i64,
    now: i64,
) -> rusqlite::Result<()> {
    if row.kind == EventKind::Message {
        let merged = conn.execute(
            "UPDATE notification_outbox
             SET count = count + 1, preview = ?3, actor_name = ?4, room_name = ?5
             WHERE user_id = ?1 AND room_id = ?2 AND kind = 'message' AND attempts = 0
               AND delivered_at IS NULL AND skipped_at IS NULL AND failed_at IS NULL",
            params![
                row.user_id,
                row.room_id,
                row.preview,
                row.actor_name,
                row.room_name
            ],
        )?;
        if merged > 0 {
            return Ok(());
        }
    }
    let delay = if row.kind == EventKind::Message {
        coalesce_ms
    } else {
        0
    };
    conn.execute(
        "INSERT INTO notification_outbox
             (user_id, room_id, kind, room_name, actor_name, preview, created_at, due_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            row.user_id,
            row.room_id,
            row.kind.as_str(),
            row.room_name,
            row.actor_name,
            row.preview,
            now,
            now + delay
        ],
    )?;
    Ok(())
}

/// Takes up to `limit` due notifications for delivery: counts the attempt and
/// pushes their due time `lease_ms` ahead, so a row whose delivery never
/// reports back (the server died) is tried again after a restart, and so no
/// later message is folded into a row already on its way.
pub fn claim_due(
    conn: &mut Connection,
    now: i64,
    lease_ms: i64,
    limit: i64,
) -> rusqlite::Result<Vec<OutboxRow>> {
    let tx = conn.transaction()?;
    let rows = {
        let mut statement = tx.prepare(
            "UPDATE notification_outbox SET attempts = attempts + 1, due_at = ?2
             WHERE id IN (
                 SELECT id FROM notification_outbox
                 WHERE delivered_at IS NULL AND skipped_at IS NULL AND failed_at IS NULL
                   AND due_at <= ?1
                 ORDER BY due_at LIMIT ?3)
             RETURNING id, user_id, room_id, kind, room_name, actor_name, preview, count, attempts",
        )?;
        let rows = statement.query_map(params![now, now + lease_ms, limit], |row| {
            let kind: String = row.get(3)?;
            Ok(OutboxRow {
                id: row.get(0)?,
                user_id: row.get(1)?,
                room_id: row.get(2)?,
                kind: EventKind::parse(&kind).ok_or_else(|| {
                    rusqlite::Error::InvalidColumnType(
                        3,
                        format!("notification kind `{kind}`"),
                        rusqlite::types::Type::Text,
                    )
                })?,
                room_name: row.get(4)?,
                actor_name: row.get(5)?,
                preview: row.get(6)?,
                count: row.get(7)?,
                attempts: row.get(8)?,
            })
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    tx.commit()?;
    Ok(rows)
}

/// When the next pending notification is due, if any is pending.
pub fn next_due(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT MIN(due_at) FROM notification_outbox
         WHERE delivered_at IS NULL AND skipped_at IS NULL AND failed_at IS NULL",
        [],
        |row| row.get(0),
    )
}

/// How a delivery attempt ended.
pub enum Outcome {
    Delivered,
    /// Nothing to send: no backend, or the user saw the room meanwhile.
    Skipped(&'static str),
    /// Try again at `due_at`.
    Retry {
        due_at: i64,
        error: String,
    },
    /// Out of attempts, or the receiver can never accept it.
    Failed(String),
}

pub fn record(conn: &Connection, id: i64, outcome: &Outcome, now: i64) -> rusqlite::Result<()> {
    match outcome {
        Outcome::Delivered => conn.execute(
            "UPDATE notification_outbox SET delivered_at = ?2, last_error = NULL WHERE id = ?1",
            params![id, now],
        ),
        Outcome::Skipped(reason) => conn.execute(
            "UPDATE notification_outbox SET skipped_at = ?2, last_error = ?3 WHERE id = ?1",
            params![id, now, reason],
        ),
        Outcome::Retry { due_at, error } => conn.execute(
            "UPDATE notification_outbox SET due_at = ?2, last_error = ?3 WHERE id = ?1",
            params![id, due_at, error],
        ),
        Outcome::Failed(error) => conn.execute(
            "UPDATE notification_outbox SET failed_at = ?2, last_error = ?3 WHERE id = ?1",
            params![id, now, error],
        ),
    }?;
    Ok(())
}

/// Deletes finished notifications created before `before`. Returns how many.
pub fn prune(conn: &Connection, before: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM notification_outbox WHERE created_at < ?1
           AND (delivered_at IS NOT NULL OR skipped_at IS NOT NULL OR failed_at IS NOT NULL)",
        [before],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{rooms, users};

    /// A migrated in-memory database with one user and one room.
    fn database() -> (Connection, i64, i64) {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
        super::super::migrate(&conn).unwrap();
        let user = users::insert(&conn, "bob", "bob@example.org", "x", false, 0).unwrap();
        let room =
            rooms::insert(&conn, "general", mesh_proto::Visibility::Public, user.id, 0).unwrap();
        (conn, user.id, room)
    }

    fn message<'a>(user_id: i64, room_id: i64, preview: &'a str) -> NewRow<'a> {
        NewRow {
            user_id,
            room_id: Some(room_id),
            kind: EventKind::Message,
            room_name: "general",
            actor_name: "alice",
            preview,
        }
    }

    #[test]
    fn messages_fold_until_the_row_is_claimed_then_start_a_new_one() {
        let (mut conn, user, room) = database();
        for preview in ["one", "two", "three"] {
            enqueue(&conn, &message(user, room, preview), 1000, 10).unwrap();
        }
        assert!(
            claim_due(&mut conn, 500, 100, 10).unwrap().is_empty(),
            "not due before the window ends"
        );
        let claimed = claim_due(&mut conn, 1010, 100, 10).unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(
            (
                claimed[0].count,
                claimed[0].preview.as_str(),
                claimed[0].attempts
            ),
            (3, "three", 1)
        );
        assert!(
            claim_due(&mut conn, 1050, 100, 10).unwrap().is_empty(),
            "leased"
        );

        enqueue(&conn, &message(user, room, "four"), 1000, 1020).unwrap();
        record(&conn, claimed[0].id, &Outcome::Delivered, 1030).unwrap();
        let next = claim_due(&mut conn, 2020, 100, 10).unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!((next[0].count, next[0].preview.as_str()), (1, "four"));
        assert_ne!(next[0].id, claimed[0].id);

        // Only finished rows are pruned.
        assert_eq!(prune(&conn, 10_000).unwrap(), 1);
        assert_eq!(next_due(&conn).unwrap(), Some(2120));
    }

    #[test]
    fn settings_round_trip_and_default_when_unsaved() {
        let (conn, user, _) = database();
        assert_eq!(settings(&conn, user).unwrap(), StoredSettings::default());
        let saved = StoredSettings {
            backend: NotificationBackend::Ntfy,
            url: "https://ntfy.example.org".into(),
            topic: "bob".into(),
            token: Some("tk_x".into()),
            events: NotificationEvents {
                messages: false,
                ..NotificationEvents::default()
            },
            quiet: Some(QuietWindow {
                start: 1320,
                end: 420,
                utc_offset: 60,
            }),
        };
        save_settings(&conn, user, &saved, 5).unwrap();
        assert_eq!(settings(&conn, user).unwrap(), saved);
    }
}
