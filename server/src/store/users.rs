//! Accounts.

use mesh_proto::User;
use rusqlite::{params, Connection, OptionalExtension, Row};

const COLUMNS: &str = "id, username, email, is_admin, created_at";

fn from_row(row: &Row) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        email: row.get(2)?,
        is_admin: row.get(3)?,
        created_at: row.get(4)?,
    })
}

pub fn count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COUNT(*) FROM users", [], |row| row.get(0))
}

pub fn insert(
    conn: &Connection,
    username: &str,
    email: &str,
    password_hash: &str,
    is_admin: bool,
    now: i64,
) -> rusqlite::Result<User> {
    conn.execute(
        "INSERT INTO users (username, email, password_hash, is_admin, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![username, email, password_hash, is_admin, now],
    )?;
    Ok(User {
        id: conn.last_insert_rowid(),
        username: username.to_owned(),
        email: email.to_owned(),
        is_admin,
        created_at: now,
    })
}

/// The user whose username or email is `login` (case-insensitive), with their password hash.
pub fn find_by_login(conn: &Connection, login: &str) -> rusqlite::Result<Option<(User, String)>> {
    conn.query_row(
        &format!("SELECT {COLUMNS}, password_hash FROM users WHERE username = ?1 OR email = ?1"),
        [login],
        |row| Ok((from_row(row)?, row.get(5)?)),
    )
    .optional()
}

pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<User>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM users WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()
}
