//! Presence: online while a user has a live connection, busy when they say so,
//! offline otherwise. Changes are told to everyone who shares a room with them.

use mesh_proto::{Presence, PresenceChanged, ServerEvent, ServerFrame};

use crate::error::{Error, Result};
use crate::store::rooms;
use crate::tokens::Actor;
use crate::App;

pub async fn announce(app: &App, user_id: i64, status: Presence) -> Result<()> {
    let audience = app
        .store
        .call(move |conn| Ok(rooms::co_member_ids(conn, user_id)?))
        .await?;
    app.hub.send_to_users(
        audience,
        &ServerFrame::event(ServerEvent::Presence(PresenceChanged { user_id, status })),
    );
    Ok(())
}

/// A connected user marks themselves busy or back online.
pub async fn set(app: &App, actor: Actor, status: Presence) -> Result<()> {
    let busy = match status {
        Presence::Busy => true,
        Presence::Online => false,
        Presence::Offline => {
            return Err(Error::validation(
                "Presence can be set to online or busy; offline follows from disconnecting.",
            ))
        }
    };
    if let Some(status) = app.hub.set_busy(actor.user_id, busy) {
        announce(app, actor.user_id, status).await?;
    }
    Ok(())
}
