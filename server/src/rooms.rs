//! Rooms, membership and the permission rules of `docs/protocol.md`.

use mesh_proto::{
    CreateRoomRequest, Member, MemberEvent, MemberLeft, Role, Room, RoomChanged, RoomDeleted,
    ServerEvent, ServerFrame, UpdateRoomRequest, Visibility,
};
use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::store::rooms;
use crate::tokens::Actor;
use crate::{now_ms, App};

/// The caller's role in a room, or the error that hides or refuses it:
/// private rooms the caller is not in do not exist for them.
pub fn access(conn: &Connection, room_id: i64, user_id: i64) -> Result<Role> {
    if let Some(role) = rooms::role_of(conn, room_id, user_id)? {
        return Ok(role);
    }
    match rooms::get(conn, room_id, user_id)? {
        Some(room) if room.visibility == Visibility::Public => Err(Error::Forbidden(
            "not_a_member",
            "Join this room first.".into(),
        )),
        _ => Err(Error::room_not_found()),
    }
}

/// Like [`access`], and the role must be at least `min` to do `what`.
pub fn require(
    conn: &Connection,
    room_id: i64,
    user_id: i64,
    min: Role,
    what: &str,
) -> Result<Role> {
    let role = access(conn, room_id, user_id)?;
    if role >= min {
        Ok(role)
    } else {
        let needed = match min {
            Role::Owner => "the room's owners",
            Role::Member => "members",
            Role::Guest => "members",
        };
        Err(Error::forbidden(format!("Only {needed} can {what}.")))
    }
}

/// The caller's role in a room (see [`access`]).
pub async fn role(app: &App, actor: Actor, room_id: i64) -> Result<Role> {
    app.store
        .call(move |conn| access(conn, room_id, actor.user_id))
        .await
}

pub fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    let length = name.chars().count();
    if length == 0 || length > 80 || name.chars().any(char::is_control) {
        return Err(Error::validation(
            "A room name has 1 to 80 characters and no control characters.",
        ));
    }
    Ok(name.to_owned())
}

pub async fn create(app: &App, actor: Actor, request: CreateRoomRequest) -> Result<Room> {
    let name = validate_name(&request.name)?;
    let room = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let now = now_ms();
            let id = rooms::insert(&tx, &name, request.visibility, actor.user_id, now)?;
            rooms::add_member(&tx, id, actor.user_id, Role::Owner, now)?;
            let room = rooms::get(&tx, id, actor.user_id)?.ok_or_else(Error::room_not_found)?;
            tx.commit()?;
            Ok(room)
        })
        .await?;
    app.metrics.rooms_created.inc();
    Ok(room)
}

pub async fn list_mine(app: &App, actor: Actor) -> Result<Vec<Room>> {
    app.store
        .call(move |conn| Ok(rooms::list_for_member(conn, actor.user_id)?))
        .await
}

pub async fn list_public(app: &App, actor: Actor) -> Result<Vec<Room>> {
    app.store
        .call(move |conn| Ok(rooms::list_public(conn, actor.user_id)?))
        .await
}

/// A room the caller is in, or any public room.
pub async fn get(app: &App, actor: Actor, room_id: i64) -> Result<Room> {
    app.store
        .call(move |conn| {
            let room =
                rooms::get(conn, room_id, actor.user_id)?.ok_or_else(Error::room_not_found)?;
            if room.role.is_none() && room.visibility == Visibility::Private {
                return Err(Error::room_not_found());
            }
            Ok(room)
        })
        .await
}

pub async fn update(
    app: &App,
    actor: Actor,
    room_id: i64,
    request: UpdateRoomRequest,
) -> Result<Room> {
    let name = request.name.as_deref().map(validate_name).transpose()?;
    let (room, members) = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            require(&tx, room_id, actor.user_id, Role::Owner, "change the room")?;
            if let Some(name) = &name {
                rooms::rename(&tx, room_id, name)?;
            }
            if let Some(visibility) = request.visibility {
                rooms::set_visibility(&tx, room_id, visibility)?;
            }
            if let Some(topology) = request.call_topology {
                rooms::set_call_topology(&tx, room_id, topology)?;
            }
            let room =
                rooms::get(&tx, room_id, actor.user_id)?.ok_or_else(Error::room_not_found)?;
            let members = rooms::members(&tx, room_id)?;
            tx.commit()?;
            Ok((room, members))
        })
        .await?;
    if let Some(topology) = request.call_topology {
        crate::calls::preference_changed(app, room_id, topology).await;
    }
    for member in members {
        let event = ServerEvent::RoomUpdated(RoomChanged {
            room_id,
            name: room.name.clone(),
            visibility: room.visibility,
            call_topology: room.call_topology,
            role: member.role,
        });
        app.hub
            .send_to_users([member.user_id], &ServerFrame::event(event));
    }
    Ok(room)
}

pub async fn delete(app: &App, actor: Actor, room_id: i64) -> Result<()> {
    let members = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            require(&tx, room_id, actor.user_id, Role::Owner, "delete the room")?;
            let members = rooms::member_ids(&tx, room_id)?;
            rooms::delete(&tx, room_id)?;
            tx.commit()?;
            Ok(members)
        })
        .await?;
    tracing::info!(room = room_id, user = actor.user_id, "room deleted");
    crate::calls::end(app, room_id).await;
    app.hub.send_to_users(
        members,
        &ServerFrame::event(ServerEvent::RoomDeleted(RoomDeleted { room_id })),
    );
    Ok(())
}

/// Joins a public room as a member.
pub async fn join(app: &App, actor: Actor, room_id: i64) -> Result<Room> {
    let room = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let room =
                rooms::get(&tx, room_id, actor.user_id)?.ok_or_else(Error::room_not_found)?;
            if room.role.is_some() {
                return Ok(room);
            }
            if room.visibility != Visibility::Public {
                return Err(Error::room_not_found());
            }
            rooms::add_member(&tx, room_id, actor.user_id, Role::Member, now_ms())?;
            let room =
                rooms::get(&tx, room_id, actor.user_id)?.ok_or_else(Error::room_not_found)?;
            tx.commit()?;
            Ok(room)
        })
        .await?;
    announce_joined(app, actor.user_id, &room).await?;
    Ok(room)
}

/// Tells the room a member arrived, and the member's other tabs about the room.
pub async fn announce_joined(app: &App, user_id: i64, room: &Room) -> Result<()> {
    let room_id = room.id;
    let (member, member_ids) = app
        .store
        .call(move |conn| {
            let member =
                rooms::member(conn, room_id, user_id)?.ok_or_else(Error::room_not_found)?;
            Ok((member, rooms::member_ids(conn, room_id)?))
        })
        .await?;
    let member = member.with_presence(app.hub.presence(user_id));
    app.hub.send_to_users(
        member_ids,
        &ServerFrame::event(ServerEvent::MemberJoined(MemberEvent { room_id, member })),
    );
    if let Some(role) = room.role {
        let changed = RoomChanged {
            room_id,
            name: room.name.clone(),
            visibility: room.visibility,
            call_topology: room.call_topology,
            role,
        };
        app.hub.send_to_users(
            [user_id],
            &ServerFrame::event(ServerEvent::RoomUpdated(changed)),
        );
    }
    Ok(())
}

pub async fn members(app: &App, actor: Actor, room_id: i64) -> Result<Vec<Member>> {
    let rows = app
        .store
        .call(move |conn| {
            access(conn, room_id, actor.user_id)?;
            Ok(rooms::members(conn, room_id)?)
        })
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let presence = app.hub.presence(row.user_id);
            row.with_presence(presence)
        })
        .collect())
}

pub async fn set_role(
    app: &App,
    actor: Actor,
    room_id: i64,
    user_id: i64,
    role: Role,
) -> Result<Member> {
    let (member, member_ids) = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            require(&tx, room_id, actor.user_id, Role::Owner, "change roles")?;
            let current = rooms::role_of(&tx, room_id, user_id)?
                .ok_or_else(|| Error::NotFound("That person is not in this room.".into()))?;
            if current == Role::Owner
                && role != Role::Owner
                && rooms::owner_count(&tx, room_id)? == 1
            {
                return Err(last_owner());
            }
            rooms::set_role(&tx, room_id, user_id, role)?;
            let member = rooms::member(&tx, room_id, user_id)?.ok_or_else(Error::room_not_found)?;
            let member_ids = rooms::member_ids(&tx, room_id)?;
            tx.commit()?;
            Ok((member, member_ids))
        })
        .await?;
    let member = member.with_presence(app.hub.presence(user_id));
    app.hub.send_to_users(
        member_ids,
        &ServerFrame::event(ServerEvent::MemberUpdated(MemberEvent {
            room_id,
            member: member.clone(),
        })),
    );
    Ok(member)
}

/// Removes `user_id` from the room: owners may remove anyone, anyone may remove
/// themselves (leave). The last owner cannot go while others remain.
pub async fn remove_member(app: &App, actor: Actor, room_id: i64, user_id: i64) -> Result<()> {
    let notify = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            if user_id == actor.user_id {
                access(&tx, room_id, actor.user_id)?;
            } else {
                require(&tx, room_id, actor.user_id, Role::Owner, "remove members")?;
            }
            let role = rooms::role_of(&tx, room_id, user_id)?
                .ok_or_else(|| Error::NotFound("That person is not in this room.".into()))?;
            if role == Role::Owner && rooms::owner_count(&tx, room_id)? == 1 {
                return Err(last_owner());
            }
            let notify = rooms::member_ids(&tx, room_id)?;
            rooms::remove_member(&tx, room_id, user_id)?;
            tx.commit()?;
            Ok(notify)
        })
        .await?;
    app.hub.send_to_users(
        notify,
        &ServerFrame::event(ServerEvent::MemberLeft(MemberLeft { room_id, user_id })),
    );
    crate::calls::remove_user(app, room_id, user_id).await
}

pub async fn mark_read(app: &App, actor: Actor, room_id: i64, message_id: i64) -> Result<()> {
    app.store
        .call(move |conn| {
            access(conn, room_id, actor.user_id)?;
            rooms::mark_read(conn, room_id, actor.user_id, message_id)?;
            Ok(())
        })
        .await
}

fn last_owner() -> Error {
    Error::Conflict(
        "A room needs an owner: make someone else owner first, or delete the room.".into(),
    )
}
