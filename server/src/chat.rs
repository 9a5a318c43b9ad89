//! Chat messages: send (idempotent, acknowledged after commit), history, edit,
//! delete, typing and read markers.

use mesh_proto::{
    Message, MessageDeleted, MessagePage, Role, ServerEvent, ServerFrame, Typing, MAX_MESSAGE_CHARS,
};

use crate::error::{Error, Result};
use crate::rooms::access;
use crate::store::{messages, rooms, users};
use crate::tokens::Actor;
use crate::{now_ms, App};

pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 100;

fn validate_body(body: &str) -> Result<String> {
    let body = body.trim();
    if body.is_empty() {
        return Err(Error::validation("A message cannot be empty."));
    }
    if body.chars().count() > MAX_MESSAGE_CHARS {
        return Err(Error::PayloadTooLarge(format!(
            "A message can have at most {MAX_MESSAGE_CHARS} characters; split it up."
        )));
    }
    Ok(body.to_owned())
}

fn validate_client_id(client_id: &str) -> Result<()> {
    let ok = (1..=64).contains(&client_id.len()) && client_id.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(Error::validation(
            "client_id is 1 to 64 printable ASCII characters (a UUID, say).",
        ))
    }
}

/// Stores a message and tells the room. Returns the message and whether it is
/// new; resending a `client_id` returns the original and notifies no one.
/// When this returns, the message is on disk.
pub async fn send(
    app: &App,
    actor: Actor,
    room_id: i64,
    client_id: String,
    body: &str,
) -> Result<(Message, bool)> {
    let body = validate_body(body)?;
    validate_client_id(&client_id)?;
    let notice = app.notify.for_room(room_id);
    let (message, created, member_ids) = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            access(&tx, room_id, actor.user_id)?;
            if let Some(existing) = messages::by_client_id(&tx, actor.user_id, &client_id)? {
                if existing.message.room_id != room_id {
                    return Err(Error::Conflict(
                        "That client_id was already used for a message in another room.".into(),
                    ));
                }
                return Ok((existing.message, false, Vec::new()));
            }
            let id = messages::insert(&tx, room_id, actor.user_id, &client_id, &body, now_ms())?;
            // The sender has read their own message.
            rooms::mark_read(&tx, room_id, actor.user_id, id)?;
            let message = messages::get(&tx, id)?
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("message {id} vanished")))?
                .message;
            let member_ids = rooms::member_ids(&tx, room_id)?;
            notice.message(&tx, actor.user_id, &body, &member_ids, message.created_at)?;
            tx.commit()?;
            Ok((message, true, member_ids))
        })
        .await?;
    if created {
        app.notify.wake();
        app.metrics.messages.inc();
        app.hub.send_to_users(
            member_ids,
            &ServerFrame::event(ServerEvent::MessageNew(message.clone())),
        );
    }
    Ok((message, created))
}

pub enum Cursor {
    Before(Option<i64>),
    After(i64),
}

pub async fn history(
    app: &App,
    actor: Actor,
    room_id: i64,
    cursor: Cursor,
    limit: Option<i64>,
) -> Result<MessagePage> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::validation(format!(
            "limit must be between 1 and {MAX_PAGE}."
        )));
    }
    app.store
        .call(move |conn| {
            access(conn, room_id, actor.user_id)?;
            let (messages, has_more) = match cursor {
                Cursor::Before(before) => messages::page_before(conn, room_id, before, limit)?,
                Cursor::After(after) => messages::page_after(conn, room_id, after, limit)?,
            };
            Ok(MessagePage { messages, has_more })
        })
        .await
}

/// The live message `message_id` of `room_id`, checked inside the caller's transaction.
fn live_message(conn: &rusqlite::Connection, room_id: i64, message_id: i64) -> Result<Message> {
    messages::get(conn, message_id)?
        .filter(|stored| stored.message.room_id == room_id && !stored.deleted)
        .map(|stored| stored.message)
        .ok_or_else(|| Error::NotFound("That message does not exist or was deleted.".into()))
}

pub async fn edit(
    app: &App,
    actor: Actor,
    room_id: i64,
    message_id: i64,
    body: &str,
) -> Result<Message> {
    let body = validate_body(body)?;
    let (message, member_ids) = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            access(&tx, room_id, actor.user_id)?;
            let message = live_message(&tx, room_id, message_id)?;
            if message.author_id != actor.user_id {
                return Err(Error::forbidden("You can only edit your own messages."));
            }
            messages::edit(&tx, message_id, &body, now_ms())?;
            let message = live_message(&tx, room_id, message_id)?;
            let member_ids = rooms::member_ids(&tx, room_id)?;
            tx.commit()?;
            Ok((message, member_ids))
        })
        .await?;
    app.hub.send_to_users(
        member_ids,
        &ServerFrame::event(ServerEvent::MessageUpdated(message.clone())),
    );
    Ok(message)
}

/// Authors delete their own messages; owners may delete any (moderation).
pub async fn delete(app: &App, actor: Actor, room_id: i64, message_id: i64) -> Result<()> {
    let member_ids = app
        .store
        .call(move |conn| {
            let tx = conn.transaction()?;
            let role = access(&tx, room_id, actor.user_id)?;
            let message = live_message(&tx, room_id, message_id)?;
            if message.author_id != actor.user_id && role != Role::Owner {
                return Err(Error::forbidden(
                    "You can only delete your own messages; owners can delete any.",
                ));
            }
            messages::delete(&tx, message_id, now_ms())?;
            let member_ids = rooms::member_ids(&tx, room_id)?;
            tx.commit()?;
            Ok(member_ids)
        })
        .await?;
    app.hub.send_to_users(
        member_ids,
        &ServerFrame::event(ServerEvent::MessageDeleted(MessageDeleted {
            room_id,
            message_id,
        })),
    );
    Ok(())
}

/// Tells the others in the room that the actor is typing.
pub async fn typing(app: &App, actor: Actor, room_id: i64) -> Result<()> {
    let (username, member_ids) = app
        .store
        .call(move |conn| {
            access(conn, room_id, actor.user_id)?;
            let user = users::get(conn, actor.user_id)?.ok_or_else(Error::unauthorized)?;
            Ok((user.username, rooms::member_ids(conn, room_id)?))
        })
        .await?;
    let others = member_ids.into_iter().filter(|id| *id != actor.user_id);
    app.hub.send_to_users(
        others,
        &ServerFrame::event(ServerEvent::Typing(Typing {
            room_id,
            user_id: actor.user_id,
            username,
        })),
    );
    Ok(())
}
