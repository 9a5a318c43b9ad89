//! Devices, peer-to-peer sessions and redeemed capability tokens.

use mesh_proto::{Device, P2pSession, Scope, SessionKind};
use rusqlite::{params, Connection, OptionalExtension, Row};

const DEVICE_SELECT: &str = "
    SELECT d.id, d.user_id, u.username, d.name, d.fingerprint, d.addresses, d.created_at, d.seen_at
    FROM devices d JOIN users u ON u.id = d.user_id";

fn device_from_row(row: &Row) -> rusqlite::Result<Device> {
    let addresses: String = row.get(5)?;
    Ok(Device {
        id: row.get(0)?,
        user_id: row.get(1)?,
        username: row.get(2)?,
        name: row.get(3)?,
        fingerprint: row.get(4)?,
        // Written only by `set_addresses`; an unreadable value is treated as none.
        addresses: serde_json::from_str(&addresses).unwrap_or_default(),
        created_at: row.get(6)?,
        seen_at: row.get(7)?,
    })
}

pub fn insert(
    conn: &Connection,
    user_id: i64,
    name: &str,
    fingerprint: &str,
    now: i64,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO devices (user_id, name, fingerprint, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![user_id, name, fingerprint, now],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The owner, and whether it was revoked, of the device with this fingerprint.
pub fn by_fingerprint(
    conn: &Connection,
    fingerprint: &str,
) -> rusqlite::Result<Option<(i64, i64, bool)>> {
    conn.query_row(
        "SELECT id, user_id, revoked_at IS NOT NULL FROM devices WHERE fingerprint = ?1",
        [fingerprint],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )
    .optional()
}

pub fn rename(conn: &Connection, device_id: i64, name: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE devices SET name = ?2 WHERE id = ?1",
        params![device_id, name],
    )?;
    Ok(())
}

/// A device that has not been revoked.
pub fn get_active(conn: &Connection, device_id: i64) -> rusqlite::Result<Option<Device>> {
    conn.query_row(
        &format!("{DEVICE_SELECT} WHERE d.id = ?1 AND d.revoked_at IS NULL"),
        [device_id],
        device_from_row,
    )
    .optional()
}

/// A user's devices that have not been revoked, oldest first.
pub fn list_for_user(conn: &Connection, user_id: i64) -> rusqlite::Result<Vec<Device>> {
    let mut stmt = conn.prepare(&format!(
        "{DEVICE_SELECT} WHERE d.user_id = ?1 AND d.revoked_at IS NULL ORDER BY d.id"
    ))?;
    let devices = stmt.query_map([user_id], device_from_row)?.collect();
    devices
}

/// Active devices of everyone who shares a room with `user_id`, their own included.
pub fn list_shared(conn: &Connection, user_id: i64) -> rusqlite::Result<Vec<Device>> {
    let mut stmt = conn.prepare(&format!(
        "{DEVICE_SELECT} WHERE d.revoked_at IS NULL AND (d.user_id = ?1 OR d.user_id IN (
             SELECT other.user_id FROM members mine
             JOIN members other ON other.room_id = mine.room_id
             WHERE mine.user_id = ?1))
         ORDER BY u.username COLLATE NOCASE, d.id"
    ))?;
    let devices = stmt.query_map([user_id], device_from_row)?.collect();
    devices
}

/// Whether the two users are in at least one room together.
pub fn share_a_room(conn: &Connection, a: i64, b: i64) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM members x JOIN members y ON y.room_id = x.room_id
                        WHERE x.user_id = ?1 AND y.user_id = ?2)",
        params![a, b],
        |row| row.get(0),
    )
}

pub fn set_addresses(
    conn: &Connection,
    device_id: i64,
    addresses: &[String],
    now: i64,
) -> rusqlite::Result<()> {
    let json = serde_json::to_string(addresses).expect("strings serialize");
    conn.execute(
        "UPDATE devices SET addresses = ?2, seen_at = ?3 WHERE id = ?1",
        params![device_id, json, now],
    )?;
    Ok(())
}

/// Revokes a device and closes its open sessions. Returns false when it was
/// not an active device of `user_id`.
pub fn revoke(conn: &Connection, device_id: i64, user_id: i64, now: i64) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE devices SET revoked_at = ?3, addresses = '[]'
         WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
        params![device_id, user_id, now],
    )?;
    conn.execute(
        "UPDATE p2p_sessions SET closed_at = ?2
         WHERE (from_device = ?1 OR to_device = ?1) AND closed_at IS NULL",
        params![device_id, now],
    )?;
    Ok(changed > 0)
}

fn kind_to_sql(kind: SessionKind) -> &'static str {
    match kind {
        SessionKind::File => "file",
        SessionKind::Terminal => "terminal",
    }
}

fn kind_from_sql(text: &str) -> rusqlite::Result<SessionKind> {
    match text {
        "file" => Ok(SessionKind::File),
        "terminal" => Ok(SessionKind::Terminal),
        other => Err(rusqlite::Error::InvalidColumnType(
            0,
            format!("session kind `{other}`"),
            rusqlite::types::Type::Text,
        )),
    }
}

fn scope_to_sql(scope: Scope) -> &'static str {
    match scope {
        Scope::File => "file",
        Scope::TerminalView => "terminal:view",
        Scope::TerminalControl => "terminal:control",
    }
}

fn scope_from_sql(text: &str) -> rusqlite::Result<Scope> {
    match text {
        "file" => Ok(Scope::File),
        "terminal:view" => Ok(Scope::TerminalView),
        "terminal:control" => Ok(Scope::TerminalControl),
        other => Err(rusqlite::Error::InvalidColumnType(
            0,
            format!("scope `{other}`"),
            rusqlite::types::Type::Text,
        )),
    }
}

const SESSION_SELECT: &str =
    "SELECT id, kind, scope, from_device, to_device, created_at, accepted_at, closed_at FROM p2p_sessions";

fn session_from_row(row: &Row) -> rusqlite::Result<P2pSession> {
    Ok(P2pSession {
        id: row.get(0)?,
        kind: kind_from_sql(&row.get::<_, String>(1)?)?,
        scope: scope_from_sql(&row.get::<_, String>(2)?)?,
        from_device: row.get(3)?,
        to_device: row.get(4)?,
        created_at: row.get(5)?,
        accepted_at: row.get(6)?,
        closed_at: row.get(7)?,
    })
}

pub fn insert_session(
    conn: &Connection,
    scope: Scope,
    from_device: i64,
    to_device: i64,
    now: i64,
) -> rusqlite::Result<P2pSession> {
    conn.execute(
        "INSERT INTO p2p_sessions (kind, scope, from_device, to_device, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            kind_to_sql(scope.kind()),
            scope_to_sql(scope),
            from_device,
            to_device,
            now
        ],
    )?;
    Ok(P2pSession {
        id: conn.last_insert_rowid(),
        kind: scope.kind(),
        scope,
        from_device,
        to_device,
        created_at: now,
        accepted_at: None,
        closed_at: None,
    })
}

pub fn get_session(conn: &Connection, session_id: i64) -> rusqlite::Result<Option<P2pSession>> {
    conn.query_row(
        &format!("{SESSION_SELECT} WHERE id = ?1"),
        [session_id],
        session_from_row,
    )
    .optional()
}

/// Sessions from or to any device of `user_id`, newest first.
pub fn list_sessions(
    conn: &Connection,
    user_id: i64,
    limit: i64,
) -> rusqlite::Result<Vec<P2pSession>> {
    let mut stmt = conn.prepare(&format!(
        "{SESSION_SELECT} WHERE from_device IN (SELECT id FROM devices WHERE user_id = ?1)
            OR to_device IN (SELECT id FROM devices WHERE user_id = ?1)
         ORDER BY id DESC LIMIT ?2"
    ))?;
    let sessions = stmt
        .query_map(params![user_id, limit], session_from_row)?
        .collect();
    sessions
}

pub fn mark_accepted(conn: &Connection, session_id: i64, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE p2p_sessions SET accepted_at = COALESCE(accepted_at, ?2) WHERE id = ?1",
        params![session_id, now],
    )?;
    Ok(())
}

pub fn close_session(conn: &Connection, session_id: i64, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE p2p_sessions SET closed_at = COALESCE(closed_at, ?2) WHERE id = ?1",
        params![session_id, now],
    )?;
    Ok(())
}

/// Records a token as redeemed. Returns false when it already was (a replay).
pub fn use_capability(
    conn: &Connection,
    jti: &str,
    session_id: i64,
    now: i64,
    expires_at: i64,
) -> rusqlite::Result<bool> {
    conn.execute("DELETE FROM used_capabilities WHERE expires_at < ?1", [now])?;
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO used_capabilities (jti, session_id, used_at, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![jti, session_id, now, expires_at],
    )?;
    Ok(inserted > 0)
}
