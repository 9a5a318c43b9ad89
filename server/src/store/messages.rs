//! Chat messages. Deleted messages keep their row (so ids are never reused and
//! a resent `client_id` still dedupes) but lose their body.

use mesh_proto::Message;
use rusqlite::{params, Connection, OptionalExtension, Row};

const SELECT: &str = "
    SELECT m.id, m.room_id, m.author_id, u.username, m.client_id, m.body, m.created_at, m.edited_at, m.deleted_at
    FROM messages m JOIN users u ON u.id = m.author_id";

pub struct StoredMessage {
    pub message: Message,
    pub deleted: bool,
}

fn from_row(row: &Row) -> rusqlite::Result<StoredMessage> {
    Ok(StoredMessage {
        message: Message {
            id: row.get(0)?,
            room_id: row.get(1)?,
            author_id: row.get(2)?,
            author: row.get(3)?,
            client_id: row.get(4)?,
            body: row.get(5)?,
            created_at: row.get(6)?,
            edited_at: row.get(7)?,
        },
        deleted: row.get::<_, Option<i64>>(8)?.is_some(),
    })
}

pub fn insert(
    conn: &Connection,
    room_id: i64,
    author_id: i64,
    client_id: &str,
    body: &str,
    now: i64,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO messages (room_id, author_id, client_id, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![room_id, author_id, client_id, body, now],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<StoredMessage>> {
    conn.query_row(&format!("{SELECT} WHERE m.id = ?1"), [id], from_row)
        .optional()
}

pub fn by_client_id(
    conn: &Connection,
    author_id: i64,
    client_id: &str,
) -> rusqlite::Result<Option<StoredMessage>> {
    conn.query_row(
        &format!("{SELECT} WHERE m.author_id = ?1 AND m.client_id = ?2"),
        params![author_id, client_id],
        from_row,
    )
    .optional()
}

/// Up to `limit` live messages older than `before` (or the newest), ascending,
/// and whether older ones exist.
pub fn page_before(
    conn: &Connection,
    room_id: i64,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<(Vec<Message>, bool)> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE m.room_id = ?1 AND m.id < ?2 AND m.deleted_at IS NULL ORDER BY m.id DESC LIMIT ?3"
    ))?;
    let mut messages = stmt
        .query_map(
            params![room_id, before.unwrap_or(i64::MAX), limit + 1],
            from_row,
        )?
        .map(|row| row.map(|stored| stored.message))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let has_more = messages.len() as i64 > limit;
    messages.truncate(limit as usize);
    messages.reverse();
    Ok((messages, has_more))
}

/// Up to `limit` live messages newer than `after`, ascending, and whether newer ones remain.
pub fn page_after(
    conn: &Connection,
    room_id: i64,
    after: i64,
    limit: i64,
) -> rusqlite::Result<(Vec<Message>, bool)> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE m.room_id = ?1 AND m.id > ?2 AND m.deleted_at IS NULL ORDER BY m.id ASC LIMIT ?3"
    ))?;
    let mut messages = stmt
        .query_map(params![room_id, after, limit + 1], from_row)?
        .map(|row| row.map(|stored| stored.message))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let has_more = messages.len() as i64 > limit;
    messages.truncate(limit as usize);
    Ok((messages, has_more))
}

pub fn edit(conn: &Connection, id: i64, body: &str, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE messages SET body = ?2, edited_at = ?3 WHERE id = ?1",
        params![id, body, now],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, id: i64, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE messages SET body = '', deleted_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}
