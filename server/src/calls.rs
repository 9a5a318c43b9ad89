//! Calls: who is in each room's call, the topology, and the relay of WebRTC
//! signaling between participants of the same call.
//!
//! Call membership lives in memory: a call is made of live browser tabs and
//! does not outlive the process. Each participant is one tab, bound to one
//! WebSocket connection. When a connection is lost without a clean close, the
//! participant stays in the call for the resume grace, so a tab that
//! reconnects (`call.join` with `resume`) takes its place again without the
//! others seeing it leave.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use mesh_proto::{
    CallJoined, CallParticipant, CallRing, CallState, IceServer, JoinCall, MediaState, SendSignal,
    ServerEvent, ServerFrame, Signal, SignalReceived, Topology, TopologyMode, MAX_CANDIDATE_BYTES,
    MAX_SDP_BYTES,
};

use crate::error::{Error, Result};
use crate::hub::ConnectionId;
use crate::rooms::access;
use crate::store::{rooms, users};
use crate::tokens::{random_code, Actor};
use crate::{now_ms, presence, App};

#[derive(Default)]
pub struct Calls {
    inner: Mutex<HashMap<i64, Call>>,
    revision: AtomicU64,
}

struct Call {
    participants: Vec<Participant>,
    topology: Topology,
    started_at: i64,
}

struct Participant {
    id: String,
    user_id: i64,
    username: String,
    media: MediaState,
    joined_at: i64,
    /// `None` while the tab is reconnecting.
    connection: Option<ConnectionId>,
    /// Bumped on every disconnect, so a stale grace timer does nothing.
    disconnects: u64,
}

impl Participant {
    fn to_wire(&self) -> CallParticipant {
        CallParticipant {
            participant_id: self.id.clone(),
            user_id: self.user_id,
            username: self.username.clone(),
            media: self.media,
            joined_at: self.joined_at,
        }
    }
}

/// What a change did, for the caller to announce once the lock is released.
struct Change {
    state: CallState,
    /// Users whose count of tabs in a call went up (true) or down (false).
    presence: Vec<(i64, bool)>,
    started_by: Option<(i64, String)>,
}

impl Calls {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Call>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn snapshot(&self, room_id: i64, call: Option<&Call>) -> CallState {
        let revision = self.revision.fetch_add(1, Ordering::Relaxed) + 1;
        match call {
            Some(call) => CallState {
                room_id,
                revision,
                participants: call.participants.iter().map(Participant::to_wire).collect(),
                topology: call.topology,
                started_at: Some(call.started_at),
            },
            None => CallState {
                room_id,
                revision,
                participants: Vec::new(),
                topology: Topology {
                    mode: TopologyMode::Mesh,
                    epoch: 0,
                },
                started_at: None,
            },
        }
    }

    /// The current state of a room's call (empty when there is none).
    pub fn state(&self, room_id: i64) -> CallState {
        let calls = self.lock();
        self.snapshot(room_id, calls.get(&room_id))
    }

    /// Active calls among `room_ids`.
    pub fn active_in(&self, room_ids: &[i64]) -> Vec<CallState> {
        let calls = self.lock();
        room_ids
            .iter()
            .filter_map(|id| calls.get(id).map(|call| self.snapshot(*id, Some(call))))
            .collect()
    }

    /// Removes the participants matching `which` from a room's call.
    fn remove_where(&self, room_id: i64, which: impl Fn(&Participant) -> bool) -> Option<Change> {
        let mut calls = self.lock();
        let call = calls.get_mut(&room_id)?;
        let before = call.participants.len();
        let mut presence = Vec::new();
        call.participants.retain(|p| {
            let gone = which(p);
            if gone {
                presence.push((p.user_id, false));
            }
            !gone
        });
        if call.participants.len() == before {
            return None;
        }
        let state = if call.participants.is_empty() {
            calls.remove(&room_id);
            self.snapshot(room_id, None)
        } else {
            self.snapshot(room_id, calls.get(&room_id))
        };
        Some(Change {
            state,
            presence,
            started_by: None,
        })
    }

    /// The room of the call this connection is in, if any.
    fn room_of_connection(&self, connection: ConnectionId) -> Option<i64> {
        self.lock()
            .iter()
            .find(|(_, call)| {
                call.participants
                    .iter()
                    .any(|p| p.connection == Some(connection))
            })
            .map(|(room_id, _)| *room_id)
    }
}

/// ICE servers for clients. None until Mesh's own TURN relay exists: on
/// loopback and LAN, host candidates connect directly; a third party's
/// server is never handed out.
pub fn ice_servers(_app: &App) -> Vec<IceServer> {
    Vec::new()
}

pub async fn join(
    app: &App,
    actor: Actor,
    connection: ConnectionId,
    request: JoinCall,
) -> Result<CallJoined> {
    let room_id = request.room_id;
    let (username, members) = app
        .store
        .call(move |conn| {
            access(conn, room_id, actor.user_id)?;
            let user = users::get(conn, actor.user_id)?.ok_or_else(Error::unauthorized)?;
            Ok((user.username, rooms::member_ids(conn, room_id)?))
        })
        .await?;

    // A tab is in at most one call: joining another leaves the first.
    if let Some(other) = app
        .calls
        .room_of_connection(connection)
        .filter(|r| *r != room_id)
    {
        leave(app, connection, other).await?;
    }

    let (participant_id, change) = {
        let mut calls = app.calls.lock();
        let now = now_ms();
        let call = calls.entry(room_id).or_insert_with(|| Call {
            participants: Vec::new(),
            topology: Topology {
                mode: TopologyMode::Mesh,
                epoch: 1,
            },
            started_at: now,
        });
        let existing = call.participants.iter_mut().find(|p| {
            p.user_id == actor.user_id
                && (p.connection == Some(connection)
                    || (p.connection.is_none() && request.resume.as_deref() == Some(p.id.as_str())))
        });
        match existing {
            Some(participant) => {
                participant.connection = Some(connection);
                participant.media = request.media;
                (participant.id.clone(), None)
            }
            None => {
                let started = call.participants.is_empty();
                let id = random_code(9);
                call.participants.push(Participant {
                    id: id.clone(),
                    user_id: actor.user_id,
                    username: username.clone(),
                    media: request.media,
                    joined_at: now,
                    connection: Some(connection),
                    disconnects: 0,
                });
                (id, Some((started, vec![(actor.user_id, true)])))
            }
        }
    };
    let state = app.calls.state(room_id);
    if let Some((started, presence)) = change {
        let started_by = started.then_some((actor.user_id, username));
        announce(
            app,
            &members,
            Change {
                state: state.clone(),
                presence,
                started_by,
            },
        )
        .await;
    } else {
        // A resumed tab: only it needs the current state.
        app.hub.send_to_connection(
            connection,
            &ServerFrame::event(ServerEvent::CallState(state.clone())),
        );
    }
    Ok(CallJoined {
        participant_id,
        call: state,
        ice_servers: ice_servers(app),
    })
}

/// Leaves the call of `room_id` that this connection is in.
pub async fn leave(app: &App, connection: ConnectionId, room_id: i64) -> Result<()> {
    let change = app
        .calls
        .remove_where(room_id, |p| p.connection == Some(connection))
        .ok_or_else(not_in_call)?;
    announce_to_room(app, change).await
}

/// Relays a signal to another participant of the same call.
pub fn signal(app: &App, connection: ConnectionId, request: SendSignal) -> Result<()> {
    match &request.signal {
        Signal::Description(description) if description.sdp.len() > MAX_SDP_BYTES => {
            return Err(Error::PayloadTooLarge(format!(
                "An SDP can have at most {MAX_SDP_BYTES} bytes."
            )))
        }
        Signal::Candidate(candidate) if candidate.candidate.len() > MAX_CANDIDATE_BYTES => {
            return Err(Error::PayloadTooLarge(format!(
                "An ICE candidate can have at most {MAX_CANDIDATE_BYTES} bytes."
            )))
        }
        _ => {}
    }
    let (from, target) = {
        let calls = app.calls.lock();
        let call = calls.get(&request.room_id).ok_or_else(not_in_call)?;
        let from = call
            .participants
            .iter()
            .find(|p| p.connection == Some(connection))
            .ok_or_else(not_in_call)?;
        let target = call
            .participants
            .iter()
            .find(|p| p.id == request.to)
            .ok_or_else(|| Error::NotFound("That participant is not in this call.".into()))?;
        if target.id == from.id {
            return Err(Error::validation("A participant cannot signal itself."));
        }
        let target = target.connection.ok_or_else(|| {
            Error::Conflict("That participant is reconnecting; try again in a moment.".into())
        })?;
        (from.id.clone(), target)
    };
    let frame = ServerFrame::event(ServerEvent::Signal(SignalReceived {
        room_id: request.room_id,
        from,
        signal: request.signal,
    }));
    if !app.hub.send_to_connection(target, &frame) {
        return Err(Error::Conflict(
            "That participant is reconnecting; try again in a moment.".into(),
        ));
    }
    Ok(())
}

/// Updates what this connection's participant sends (mute states, screen).
pub async fn set_media(
    app: &App,
    connection: ConnectionId,
    room_id: i64,
    media: MediaState,
) -> Result<()> {
    {
        let mut calls = app.calls.lock();
        let participant = calls
            .get_mut(&room_id)
            .and_then(|call| {
                call.participants
                    .iter_mut()
                    .find(|p| p.connection == Some(connection))
            })
            .ok_or_else(not_in_call)?;
        participant.media = media;
    }
    let state = app.calls.state(room_id);
    announce_to_room(
        app,
        Change {
            state,
            presence: Vec::new(),
            started_by: None,
        },
    )
    .await
}

/// A connection ended. A clean close (the tab went away or signed out) leaves
/// its call at once; a lost connection keeps its place for the resume grace.
pub async fn connection_closed(app: &App, connection: ConnectionId, clean: bool) {
    let Some(room_id) = app.calls.room_of_connection(connection) else {
        return;
    };
    if clean {
        let _ = leave(app, connection, room_id).await;
        return;
    }
    let lost = {
        let mut calls = app.calls.lock();
        calls.get_mut(&room_id).and_then(|call| {
            call.participants
                .iter_mut()
                .find(|p| p.connection == Some(connection))
                .map(|p| {
                    p.connection = None;
                    p.disconnects += 1;
                    (p.id.clone(), p.disconnects)
                })
        })
    };
    let Some((participant_id, disconnects)) = lost else {
        return;
    };
    tokio::time::sleep(app.config.call_resume_grace).await;
    let expired = app.calls.remove_where(room_id, |p| {
        p.id == participant_id && p.connection.is_none() && p.disconnects == disconnects
    });
    if let Some(change) = expired {
        tracing::info!(room = room_id, participant = %participant_id, "participant did not come back; removed from call");
        let _ = announce_to_room(app, change).await;
    }
}

/// Takes a user out of a room's call (they were removed from the room).
pub async fn remove_user(app: &App, room_id: i64, user_id: i64) -> Result<()> {
    match app.calls.remove_where(room_id, |p| p.user_id == user_id) {
        Some(change) => announce_to_room(app, change).await,
        None => Ok(()),
    }
}

/// Ends a room's call (the room was deleted).
pub async fn end(app: &App, room_id: i64) {
    if let Some(change) = app.calls.remove_where(room_id, |_| true) {
        // The members were told the room is gone; only presence changes.
        for (user_id, joined) in change.presence {
            update_presence(app, user_id, joined).await;
        }
    }
}

async fn announce_to_room(app: &App, change: Change) -> Result<()> {
    let room_id = change.state.room_id;
    let members = app
        .store
        .call(move |conn| Ok(rooms::member_ids(conn, room_id)?))
        .await?;
    announce(app, &members, change).await;
    Ok(())
}

async fn announce(app: &App, members: &[i64], change: Change) {
    let room_id = change.state.room_id;
    if let Some((user_id, username)) = change.started_by {
        let ring = ServerFrame::event(ServerEvent::CallRing(CallRing {
            room_id,
            user_id,
            username,
        }));
        app.hub
            .send_to_users(members.iter().copied().filter(|id| *id != user_id), &ring);
    }
    app.hub.send_to_users(
        members.iter().copied(),
        &ServerFrame::event(ServerEvent::CallState(change.state)),
    );
    for (user_id, joined) in change.presence {
        update_presence(app, user_id, joined).await;
    }
}

async fn update_presence(app: &App, user_id: i64, joined: bool) {
    if let Some(status) = app.hub.set_in_call(user_id, joined) {
        let _ = presence::announce(app, user_id, status).await;
    }
}

fn not_in_call() -> Error {
    Error::Forbidden("not_in_call", "Join the call first.".into())
}
