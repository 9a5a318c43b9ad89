//! Rooms and membership.

use mesh_proto::{CallTopology, Presence, Role, Room, Visibility};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{
    call_topology_from_sql, call_topology_to_sql, role_from_sql, role_to_sql, visibility_from_sql,
    visibility_to_sql,
};

/// A room as seen by the viewer bound to `?1`; unread counts only what others wrote.
const ROOM_SELECT: &str = "
    SELECT r.id, r.name, r.visibility, m.role, r.created_at, r.call_topology,
           (SELECT COUNT(*) FROM members WHERE room_id = r.id),
           (SELECT COUNT(*) FROM messages
             WHERE room_id = r.id AND id > m.last_read_id
               AND author_id != m.user_id AND deleted_at IS NULL),
           (SELECT MAX(created_at) FROM messages WHERE room_id = r.id AND deleted_at IS NULL)
    FROM rooms r LEFT JOIN members m ON m.room_id = r.id AND m.user_id = ?1";

fn room_from_row(row: &Row) -> rusqlite::Result<Room> {
    let role: Option<String> = row.get(3)?;
    Ok(Room {
        id: row.get(0)?,
        name: row.get(1)?,
        visibility: visibility_from_sql(&row.get::<_, String>(2)?)?,
        role: role.as_deref().map(role_from_sql).transpose()?,
        created_at: row.get(4)?,
        call_topology: call_topology_from_sql(&row.get::<_, String>(5)?)?,
        member_count: row.get(6)?,
        unread: row.get::<_, Option<i64>>(7)?.unwrap_or(0),
        last_message_at: row.get(8)?,
    })
}

pub fn insert(
    conn: &Connection,
    name: &str,
    visibility: Visibility,
    created_by: i64,
    now: i64,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO rooms (name, visibility, created_by, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![name, visibility_to_sql(visibility), created_by, now],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The room as `viewer` sees it, whether or not they are a member.
pub fn get(conn: &Connection, room_id: i64, viewer: i64) -> rusqlite::Result<Option<Room>> {
    conn.query_row(
        &format!("{ROOM_SELECT} WHERE r.id = ?2"),
        params![viewer, room_id],
        room_from_row,
    )
    .optional()
}

/// Rooms `user_id` belongs to, most recently active first.
pub fn list_for_member(conn: &Connection, user_id: i64) -> rusqlite::Result<Vec<Room>> {
    let mut stmt = conn.prepare(&format!(
        "{ROOM_SELECT} WHERE m.user_id IS NOT NULL
         ORDER BY COALESCE((SELECT MAX(created_at) FROM messages WHERE room_id = r.id), r.created_at) DESC"
    ))?;
    let rooms = stmt.query_map([user_id], room_from_row)?.collect();
    rooms
}

pub fn list_public(conn: &Connection, viewer: i64) -> rusqlite::Result<Vec<Room>> {
    let mut stmt = conn.prepare(&format!(
        "{ROOM_SELECT} WHERE r.visibility = 'public' ORDER BY r.name COLLATE NOCASE"
    ))?;
    let rooms = stmt.query_map([viewer], room_from_row)?.collect();
    rooms
}

pub fn rename(conn: &Connection, room_id: i64, name: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE rooms SET name = ?2 WHERE id = ?1",
        params![room_id, name],
    )?;
    Ok(())
}

pub fn set_visibility(
    conn: &Connection,
    room_id: i64,
    visibility: Visibility,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE rooms SET visibility = ?2 WHERE id = ?1",
        params![room_id, visibility_to_sql(visibility)],
    )?;
    Ok(())
}

pub fn set_call_topology(
    conn: &Connection,
    room_id: i64,
    topology: CallTopology,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE rooms SET call_topology = ?2 WHERE id = ?1",
        params![room_id, call_topology_to_sql(topology)],
    )?;
    Ok(())
}

pub fn call_topology(conn: &Connection, room_id: i64) -> rusqlite::Result<CallTopology> {
    let text: String = conn.query_row(
        "SELECT call_topology FROM rooms WHERE id = ?1",
        [room_id],
        |row| row.get(0),
    )?;
    call_topology_from_sql(&text)
}

pub fn delete(conn: &Connection, room_id: i64) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM rooms WHERE id = ?1", [room_id])?;
    Ok(())
}

/// Adds a member whose read marker starts at the newest message, so joining
/// does not flood them with unread history. Returns false if already a member.
pub fn add_member(
    conn: &Connection,
    room_id: i64,
    user_id: i64,
    role: Role,
    now: i64,
) -> rusqlite::Result<bool> {
    let added = conn.execute(
        "INSERT OR IGNORE INTO members (room_id, user_id, role, joined_at, last_read_id)
         VALUES (?1, ?2, ?3, ?4, (SELECT COALESCE(MAX(id), 0) FROM messages WHERE room_id = ?1))",
        params![room_id, user_id, role_to_sql(role), now],
    )?;
    Ok(added > 0)
}

pub fn role_of(conn: &Connection, room_id: i64, user_id: i64) -> rusqlite::Result<Option<Role>> {
    let role: Option<String> = conn
        .query_row(
            "SELECT role FROM members WHERE room_id = ?1 AND user_id = ?2",
            params![room_id, user_id],
            |row| row.get(0),
        )
        .optional()?;
    role.as_deref().map(role_from_sql).transpose()
}

pub fn set_role(conn: &Connection, room_id: i64, user_id: i64, role: Role) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE members SET role = ?3 WHERE room_id = ?1 AND user_id = ?2",
        params![room_id, user_id, role_to_sql(role)],
    )?;
    Ok(())
}

pub fn remove_member(conn: &Connection, room_id: i64, user_id: i64) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM members WHERE room_id = ?1 AND user_id = ?2",
        params![room_id, user_id],
    )?;
    Ok(())
}

pub fn owner_count(conn: &Connection, room_id: i64) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM members WHERE room_id = ?1 AND role = 'owner'",
        [room_id],
        |row| row.get(0),
    )
}

/// A member without presence, which only the hub knows.
pub struct MemberRow {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub joined_at: i64,
}

impl MemberRow {
    pub fn with_presence(self, presence: Presence) -> mesh_proto::Member {
        mesh_proto::Member {
            user_id: self.user_id,
            username: self.username,
            role: self.role,
            presence,
            joined_at: self.joined_at,
        }
    }
}

fn member_from_row(row: &Row) -> rusqlite::Result<MemberRow> {
    Ok(MemberRow {
        user_id: row.get(0)?,
        username: row.get(1)?,
        role: role_from_sql(&row.get::<_, String>(2)?)?,
        joined_at: row.get(3)?,
    })
}

pub fn members(conn: &Connection, room_id: i64) -> rusqlite::Result<Vec<MemberRow>> {
    let mut stmt = conn.prepare(
        "SELECT m.user_id, u.username, m.role, m.joined_at
         FROM members m JOIN users u ON u.id = m.user_id
         WHERE m.room_id = ?1 ORDER BY u.username COLLATE NOCASE",
    )?;
    let members = stmt.query_map([room_id], member_from_row)?.collect();
    members
}

pub fn member(
    conn: &Connection,
    room_id: i64,
    user_id: i64,
) -> rusqlite::Result<Option<MemberRow>> {
    conn.query_row(
        "SELECT m.user_id, u.username, m.role, m.joined_at
         FROM members m JOIN users u ON u.id = m.user_id
         WHERE m.room_id = ?1 AND m.user_id = ?2",
        params![room_id, user_id],
        member_from_row,
    )
    .optional()
}

pub fn member_ids(conn: &Connection, room_id: i64) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT user_id FROM members WHERE room_id = ?1")?;
    let ids = stmt.query_map([room_id], |row| row.get(0))?.collect();
    ids
}

/// Everyone who shares at least one room with `user_id`, themselves included.
pub fn co_member_ids(conn: &Connection, user_id: i64) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT other.user_id FROM members mine
         JOIN members other ON other.room_id = mine.room_id
         WHERE mine.user_id = ?1",
    )?;
    let ids = stmt.query_map([user_id], |row| row.get(0))?.collect();
    ids
}

/// Moves the read marker forward, never back.
pub fn mark_read(
    conn: &Connection,
    room_id: i64,
    user_id: i64,
    message_id: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE members SET last_read_id = MAX(last_read_id, ?3) WHERE room_id = ?1 AND user_id = ?2",
        params![room_id, user_id, message_id],
    )?;
    Ok(())
}
