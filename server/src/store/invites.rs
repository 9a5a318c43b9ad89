//! Invite codes for rooms.

use mesh_proto::Role;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{role_from_sql, role_to_sql};

pub struct InviteRow {
    pub code: String,
    pub room_id: i64,
    pub role: Role,
    pub created_by: i64,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub revoked: bool,
}

impl InviteRow {
    /// Whether accepting it now would work.
    pub fn is_usable(&self, now: i64) -> bool {
        !self.revoked
            && self.expires_at.is_none_or(|at| now < at)
            && self.max_uses.is_none_or(|max| self.uses < max)
    }
}

const SELECT: &str =
    "SELECT code, room_id, role, created_by, created_at, expires_at, max_uses, uses, revoked_at FROM invites";

fn from_row(row: &Row) -> rusqlite::Result<InviteRow> {
    Ok(InviteRow {
        code: row.get(0)?,
        room_id: row.get(1)?,
        role: role_from_sql(&row.get::<_, String>(2)?)?,
        created_by: row.get(3)?,
        created_at: row.get(4)?,
        expires_at: row.get(5)?,
        max_uses: row.get(6)?,
        uses: row.get(7)?,
        revoked: row.get::<_, Option<i64>>(8)?.is_some(),
    })
}

pub fn insert(conn: &Connection, invite: &InviteRow) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO invites (code, room_id, role, created_by, created_at, expires_at, max_uses)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            invite.code,
            invite.room_id,
            role_to_sql(invite.role),
            invite.created_by,
            invite.created_at,
            invite.expires_at,
            invite.max_uses
        ],
    )?;
    Ok(())
}

pub fn get(conn: &Connection, code: &str) -> rusqlite::Result<Option<InviteRow>> {
    conn.query_row(&format!("{SELECT} WHERE code = ?1"), [code], from_row)
        .optional()
}

/// Live (not revoked) invites of a room, optionally only those `created_by` made.
pub fn list(
    conn: &Connection,
    room_id: i64,
    created_by: Option<i64>,
) -> rusqlite::Result<Vec<InviteRow>> {
    let mut stmt = conn.prepare(&format!(
        "{SELECT} WHERE room_id = ?1 AND revoked_at IS NULL AND (?2 IS NULL OR created_by = ?2)
         ORDER BY created_at DESC"
    ))?;
    let rows = stmt
        .query_map(params![room_id, created_by], from_row)?
        .collect();
    rows
}

pub fn revoke(conn: &Connection, code: &str, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE invites SET revoked_at = ?2 WHERE code = ?1",
        params![code, now],
    )?;
    Ok(())
}

pub fn count_use(conn: &Connection, code: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE invites SET uses = uses + 1 WHERE code = ?1", [code])?;
    Ok(())
}
