//! Sign-in sessions and their refresh tokens (stored as SHA-256 hashes).

use rusqlite::{params, Connection, OptionalExtension};

pub fn create(conn: &Connection, user_id: i64, now: i64) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO sessions (user_id, created_at) VALUES (?1, ?2)",
        params![user_id, now],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Whether the session exists, belongs to `user_id` and is not revoked.
pub fn is_active(conn: &Connection, session_id: i64, user_id: i64) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sessions WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL)",
        params![session_id, user_id],
        |row| row.get(0),
    )
}

/// Revokes the session and deletes its refresh tokens. Returns false when it
/// was already revoked.
pub fn revoke(
    conn: &Connection,
    session_id: i64,
    reason: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE sessions SET revoked_at = ?2, revoke_reason = ?3 WHERE id = ?1 AND revoked_at IS NULL",
        params![session_id, now, reason],
    )?;
    conn.execute(
        "DELETE FROM refresh_tokens WHERE session_id = ?1",
        [session_id],
    )?;
    Ok(changed > 0)
}

pub fn insert_refresh_token(
    conn: &Connection,
    token_hash: &[u8],
    session_id: i64,
    now: i64,
    expires_at: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![token_hash, session_id, now, expires_at],
    )?;
    Ok(())
}

pub struct RefreshToken {
    pub session_id: i64,
    pub user_id: i64,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
}

/// The refresh token with this hash, if its session is still active.
pub fn find_refresh_token(
    conn: &Connection,
    token_hash: &[u8],
) -> rusqlite::Result<Option<RefreshToken>> {
    conn.query_row(
        "SELECT t.session_id, s.user_id, t.expires_at, t.rotated_at
         FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
         WHERE t.token_hash = ?1 AND s.revoked_at IS NULL",
        [token_hash],
        |row| {
            Ok(RefreshToken {
                session_id: row.get(0)?,
                user_id: row.get(1)?,
                expires_at: row.get(2)?,
                rotated_at: row.get(3)?,
            })
        },
    )
    .optional()
}

/// Marks a token as used. Returns false when another request rotated it first.
pub fn mark_rotated(conn: &Connection, token_hash: &[u8], now: i64) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE refresh_tokens SET rotated_at = ?2 WHERE token_hash = ?1 AND rotated_at IS NULL",
        params![token_hash, now],
    )?;
    Ok(changed > 0)
}

/// Records what a session was last seen with: on sign-in and on each refresh.
pub fn touch(
    conn: &Connection,
    session_id: i64,
    user_agent: Option<&str>,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE sessions SET last_seen_at = ?2, user_agent = COALESCE(?3, user_agent) WHERE id = ?1",
        params![session_id, now, user_agent],
    )?;
    Ok(())
}

pub struct SessionRow {
    pub id: i64,
    pub created_at: i64,
    pub last_seen_at: Option<i64>,
    pub user_agent: Option<String>,
}

/// The user's sessions that are not revoked, newest first.
pub fn list_active(conn: &Connection, user_id: i64) -> rusqlite::Result<Vec<SessionRow>> {
    let mut statement = conn.prepare(
        "SELECT id, created_at, last_seen_at, user_agent FROM sessions
         WHERE user_id = ?1 AND revoked_at IS NULL ORDER BY id DESC",
    )?;
    let rows = statement.query_map([user_id], |row| {
        Ok(SessionRow {
            id: row.get(0)?,
            created_at: row.get(1)?,
            last_seen_at: row.get(2)?,
            user_agent: row.get(3)?,
        })
    })?;
    rows.collect()
}
