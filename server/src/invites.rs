//! Invite links: expiring, revocable, optionally limited in uses.

use mesh_proto::{CreateInviteRequest, Invite, InvitePreview, Role, Room};

use crate::error::{Error, Result};
use crate::rooms::{access, announce_joined, require};
use crate::store::invites::{self, InviteRow};
use crate::store::rooms;
use crate::tokens::{random_code, Actor};
use crate::{now_ms, App};

const DEFAULT_LIFETIME_SECS: i64 = 7 * 86_400;
const MIN_LIFETIME_SECS: i64 = 60;
const MAX_LIFETIME_SECS: i64 = 30 * 86_400;
const MAX_USES: i64 = 10_000;

fn to_wire(app: &App, row: InviteRow) -> Invite {
    Invite {
        url: format!("{}/invite/{}", app.public_url, row.code),
        code: row.code,
        room_id: row.room_id,
        role: row.role,
        created_by: row.created_by,
        created_at: row.created_at,
        expires_at: row.expires_at,
        max_uses: row.max_uses,
        uses: row.uses,
    }
}

fn expired() -> Error {
    Error::Gone(
        "That invitation has expired, was revoked or has been used up; ask for a new one.".into(),
    )
}

pub async fn create(
    app: &App,
    actor: Actor,
    room_id: i64,
    request: CreateInviteRequest,
) -> Result<Invite> {
    let lifetime = request.expires_in_secs.unwrap_or(DEFAULT_LIFETIME_SECS);
    if !(MIN_LIFETIME_SECS..=MAX_LIFETIME_SECS).contains(&lifetime) {
        return Err(Error::validation(
            "An invitation lasts between 1 minute and 30 days (expires_in_secs 60 to 2592000).",
        ));
    }
    if request
        .max_uses
        .is_some_and(|uses| !(1..=MAX_USES).contains(&uses))
    {
        return Err(Error::validation("max_uses must be between 1 and 10000."));
    }
    let role = request.role.unwrap_or(Role::Member);
    if role == Role::Owner {
        return Err(Error::validation(
            "An invitation gives the member or guest role; promote people to owner once they are in.",
        ));
    }
    let row = app
        .store
        .call(move |conn| {
            require(conn, room_id, actor.user_id, Role::Member, "invite people")?;
            let now = now_ms();
            let row = InviteRow {
                code: random_code(16),
                room_id,
                role,
                created_by: actor.user_id,
                created_at: now,
                expires_at: Some(now + lifetime * 1000),
                max_uses: request.max_uses,
                uses: 0,
                revoked: false,
            };
            invites::insert(conn, &row)?;
            Ok(row)
        })
        .await?;
    Ok(to_wire(app, row))
}

/// Owners see every live invite of the room; members see their own.
pub async fn list(app: &App, actor: Actor, room_id: i64) -> Result<Vec<Invite>> {
    let rows = app
        .store
        .call(move |conn| {
            let role = require(
                conn,
                room_id,
                actor.user_id,
                Role::Member,
                "see invitations",
            )?;
            let only_mine = (role != Role::Owner).then_some(actor.user_id);
            Ok(invites::list(conn, room_id, only_mine)?)
        })
        .await?;
    Ok(rows.into_iter().map(|row| to_wire(app, row)).collect())
}

pub async fn revoke(app: &App, actor: Actor, room_id: i64, code: String) -> Result<()> {
    app.store
        .call(move |conn| {
            let role = require(
                conn,
                room_id,
                actor.user_id,
                Role::Member,
                "revoke invitations",
            )?;
            let invite = invites::get(conn, &code)?
                .filter(|invite| invite.room_id == room_id && !invite.revoked)
                .ok_or_else(|| {
                    Error::NotFound("There is no such invitation in this room.".into())
                })?;
            if role != Role::Owner && invite.created_by != actor.user_id {
                return Err(Error::forbidden(
                    "Only the room's owners can revoke invitations made by others.",
                ));
            }
            invites::revoke(conn, &code, now_ms())?;
            Ok(())
        })
        .await
}

/// What the link shows before anyone accepts it. The code is the secret.
pub async fn preview(app: &App, code: String) -> Result<InvitePreview> {
    app.store
        .call(move |conn| {
            let invite = invites::get(conn, &code)?.ok_or_else(expired)?;
            if !invite.is_usable(now_ms()) {
                return Err(expired());
            }
            let room = rooms::get(conn, invite.room_id, 0)?.ok_or_else(expired)?;
            Ok(InvitePreview {
                room_id: room.id,
                room_name: room.name,
                role: invite.role,
                expires_at: invite.expires_at,
            })
        })
        .await
}

/// Joins the invite's room. Accepting again while already a member changes
/// nothing and uses nothing up.
pub async fn accept(app: &App, actor: Actor, code: String) -> Result<Room> {
    let (room, joined, inviter) = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let now = now_ms();
            let invite = invites::get(&tx, &code)?.ok_or_else(expired)?;
            if access(&tx, invite.room_id, actor.user_id).is_ok() {
                let room = rooms::get(&tx, invite.room_id, actor.user_id)?.ok_or_else(expired)?;
                return Ok((room, false, invite.created_by));
            }
            if !invite.is_usable(now) {
                return Err(expired());
            }
            rooms::add_member(&tx, invite.room_id, actor.user_id, invite.role, now)?;
            invites::count_use(&tx, &code)?;
            let room = rooms::get(&tx, invite.room_id, actor.user_id)?.ok_or_else(expired)?;
            tx.commit()?;
            Ok((room, true, invite.created_by))
        })
        .await?;
    if joined {
        announce_joined(app, actor.user_id, &room).await?;
        crate::notify::invitation_used(app, room.id, inviter, actor.user_id).await;
    }
    Ok(room)
}
