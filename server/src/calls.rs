//! Calls: who is in each room's call, the topology, and the relay of WebRTC
//! signaling between participants of the same call.
//!
//! Call membership lives in memory: a call is made of live browser tabs and
//! does not outlive the process. Each participant is one tab, bound to one
//! WebSocket connection. When a connection is lost without a clean close, the
//! participant stays in the call for the resume grace, so a tab that
//! reconnects (`call.join` with `resume`) takes its place again without the
//! others seeing it leave.
//!
//! Each call has a topology (mesh or SFU, see [`crate::topology`]) with an
//! epoch that increases on every switch. Participants of a call on the SFU
//! are joined to it; after a switch back to mesh they stay joined for
//! [`SFU_RELEASE_GRACE`], so clients can keep showing SFU media until their
//! mesh connections decode (make-before-break).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mesh_proto::{
    CallJoined, CallParticipant, CallRing, CallState, CallTopology, IceServer, JoinCall,
    MediaState, SendSignal, ServerEvent, ServerFrame, SetLayer, Signal, SignalReceived, Topology,
    TopologyMode, MAX_CANDIDATE_BYTES, MAX_SDP_BYTES, SFU_PARTICIPANT,
};

use crate::error::{Error, Result};
use crate::hub::ConnectionId;
use crate::rooms::access;
use crate::store::{rooms, users};
use crate::tokens::{random_code, Actor};
use crate::topology::{self, Policy};
use crate::{media, now_ms, presence, App, SharedApp};

/// After a call returns to mesh, how long its participants keep their SFU
/// connection, so clients switch without a gap.
pub const SFU_RELEASE_GRACE: Duration = Duration::from_secs(10);
/// How often calls waiting on the hysteresis or the release grace are checked.
const CLOCK_TICK: Duration = Duration::from_millis(250);

#[derive(Default)]
pub struct Calls {
    inner: Mutex<HashMap<i64, Call>>,
    revision: AtomicU64,
}

struct Call {
    participants: Vec<Participant>,
    topology: Topology,
    started_at: i64,
    /// The room owner's choice: auto, mesh or sfu.
    preference: CallTopology,
    /// Since when the call has had at most the mesh limit of participants.
    within_limit_since: Option<Instant>,
    /// Participants joined to the SFU.
    on_sfu: HashSet<String>,
    /// When the call last went back to mesh, until its SFU joins are released.
    mesh_since: Option<Instant>,
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

impl Call {
    /// The participant this connection is, or "join the call first".
    fn participant_on(&self, connection: ConnectionId) -> Result<&Participant> {
        self.participants
            .iter()
            .find(|p| p.connection == Some(connection))
            .ok_or_else(not_in_call)
    }

    fn participant_on_mut(&mut self, connection: ConnectionId) -> Result<&mut Participant> {
        self.participants
            .iter_mut()
            .find(|p| p.connection == Some(connection))
            .ok_or_else(not_in_call)
    }
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
    /// Participants who left and must leave the SFU too.
    off_sfu: Vec<String>,
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
        let mut off_sfu = Vec::new();
        call.participants.retain(|p| {
            let gone = which(p);
            if gone {
                presence.push((p.user_id, false));
                if call.on_sfu.remove(&p.id) {
                    off_sfu.push(p.id.clone());
                }
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
            off_sfu,
            presence,
            started_by: None,
        })
    }

    /// The room and live connection of a participant.
    pub fn locate(&self, participant_id: &str) -> Option<(i64, ConnectionId)> {
        self.lock().iter().find_map(|(room_id, call)| {
            call.participants
                .iter()
                .find(|p| p.id == participant_id)
                .and_then(|p| p.connection)
                .map(|connection| (*room_id, connection))
        })
    }

    /// The live connections in a room's call.
    pub fn connections(&self, room_id: i64) -> Vec<ConnectionId> {
        self.lock()
            .get(&room_id)
            .map(|call| {
                call.participants
                    .iter()
                    .filter_map(|p| p.connection)
                    .collect()
            })
            .unwrap_or_default()
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

/// ICE servers for a client: Mesh's own STUN/TURN with credentials for this
/// user, never a third party's. Empty when the relay is disabled.
pub fn ice_servers(app: &App, user_id: i64) -> Vec<IceServer> {
    app.relay
        .as_ref()
        .map(|relay| relay.ice_servers(user_id))
        .unwrap_or_default()
}

pub async fn join(
    app: &App,
    actor: Actor,
    connection: ConnectionId,
    request: JoinCall,
) -> Result<CallJoined> {
    let room_id = request.room_id;
    let (username, members, preference) = app
        .store
        .call(move |conn| {
            access(conn, room_id, actor.user_id)?;
            let user = users::get(conn, actor.user_id)?.ok_or_else(Error::unauthorized)?;
            Ok((
                user.username,
                rooms::member_ids(conn, room_id)?,
                rooms::call_topology(conn, room_id)?,
            ))
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
            preference,
            within_limit_since: None,
            on_sfu: HashSet::new(),
            mesh_since: None,
        });
        // A resume takes the place over even if the server has not yet noticed
        // the old connection is gone (a half-open TCP connection).
        let existing = call.participants.iter_mut().find(|p| {
            p.user_id == actor.user_id
                && (p.connection == Some(connection)
                    || request.resume.as_deref() == Some(p.id.as_str()))
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
    // Decide the topology (and join the SFU if it is used) before answering,
    // so the new participant's first offer finds everything in place.
    apply_topology(app, room_id).await;
    if let Some(speaker) = app
        .media
        .as_ref()
        .and_then(|media| media.speaker_event(room_id))
    {
        app.hub.send_to_connection(connection, &speaker);
    }
    let state = app.calls.state(room_id);
    if let Some((started, presence)) = change {
        if started {
            crate::notify::call_started(app, room_id, actor.user_id, &members).await;
        }
        let started_by = started.then_some((actor.user_id, username));
        let change = Change {
            state: state.clone(),
            off_sfu: Vec::new(),
            presence,
            started_by,
        };
        announce(app, &members, change).await;
    } else {
        // A resumed tab: the others see no one leave or arrive, but a fresh
        // state tells them it is reachable again (and its media flags).
        let change = Change {
            state: state.clone(),
            off_sfu: Vec::new(),
            presence: Vec::new(),
            started_by: None,
        };
        announce(app, &members, change).await;
    }
    Ok(CallJoined {
        participant_id,
        call: state,
        ice_servers: ice_servers(app, actor.user_id),
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

/// The policy every topology decision follows.
fn policy(app: &App) -> Policy {
    Policy {
        mesh_limit: app.config.mesh_limit,
        hysteresis: app
            .config
            .sfu
            .as_ref()
            .map(|sfu| sfu.hysteresis)
            .unwrap_or_default(),
        sfu_available: app.media.is_some(),
    }
}

/// Decides a call's topology again, announces a switch with a new epoch, and
/// joins its participants to the SFU when it is used.
async fn apply_topology(app: &App, room_id: i64) {
    let policy = policy(app);
    let (switched, to_join) = {
        let mut calls = app.calls.lock();
        let Some(call) = calls.get_mut(&room_id) else {
            return;
        };
        let now = Instant::now();
        if call.participants.len() <= policy.mesh_limit {
            call.within_limit_since.get_or_insert(now);
        } else {
            call.within_limit_since = None;
        }
        let within_limit_for = call.within_limit_since.map(|since| now - since);
        let decision = topology::decide(
            &policy,
            call.preference,
            call.participants.len(),
            call.topology.mode,
            within_limit_for,
        );
        let switched = decision.mode != call.topology.mode;
        if switched {
            call.topology = Topology {
                mode: decision.mode,
                epoch: call.topology.epoch + 1,
            };
            call.mesh_since = (decision.mode == TopologyMode::Mesh).then_some(now);
            tracing::info!(room = room_id, mode = ?decision.mode, epoch = call.topology.epoch, participants = call.participants.len(), "call topology switched");
        }
        let to_join: Vec<String> = if decision.mode == TopologyMode::Sfu {
            let newcomers: Vec<String> = call
                .participants
                .iter()
                .map(|p| p.id.clone())
                .filter(|id| !call.on_sfu.contains(id))
                .collect();
            call.on_sfu.extend(newcomers.iter().cloned());
            newcomers
        } else {
            Vec::new()
        };
        (switched, to_join)
    };
    if let Some(media) = &app.media {
        for participant in to_join {
            if let Err(err) = media.join(room_id, &participant).await {
                tracing::error!(room = room_id, participant, error = %err, "could not join the SFU");
                if let Some(call) = app.calls.lock().get_mut(&room_id) {
                    call.on_sfu.remove(&participant);
                }
            }
        }
    }
    if switched {
        let members = app
            .store
            .call(move |conn| Ok(rooms::member_ids(conn, room_id)?))
            .await;
        match members {
            Ok(members) => {
                let state = app.calls.state(room_id);
                let change = Change {
                    state,
                    off_sfu: Vec::new(),
                    presence: Vec::new(),
                    started_by: None,
                };
                announce(app, &members, change).await;
            }
            Err(err) => {
                tracing::error!(room = room_id, error = %err, "could not announce a topology switch")
            }
        }
    }
}

/// Moves calls whose hysteresis has run out back to mesh, and releases SFU
/// connections once the release grace after such a switch has passed.
pub async fn run_clock(app: SharedApp) {
    let mut tick = tokio::time::interval(CLOCK_TICK);
    let mut shutdown = app.shutdown.clone();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now = Instant::now();
        let (waiting, releasing): (Vec<i64>, Vec<(i64, Vec<String>)>) = {
            let mut calls = app.calls.lock();
            let waiting = calls
                .iter()
                .filter(|(_, call)| {
                    call.topology.mode == TopologyMode::Sfu && call.within_limit_since.is_some()
                })
                .map(|(room_id, _)| *room_id)
                .collect();
            let releasing = calls
                .iter_mut()
                .filter(|(_, call)| {
                    call.mesh_since
                        .is_some_and(|since| now - since >= SFU_RELEASE_GRACE)
                })
                .map(|(room_id, call)| {
                    call.mesh_since = None;
                    (*room_id, call.on_sfu.drain().collect())
                })
                .collect();
            (waiting, releasing)
        };
        for room_id in waiting {
            apply_topology(&app, room_id).await;
        }
        if let Some(media) = &app.media {
            for (_, participants) in releasing {
                for participant in participants {
                    media.leave(&participant).await;
                }
            }
        }
    }
}

/// The room owner changed how the room's calls carry media.
pub async fn preference_changed(app: &App, room_id: i64, preference: CallTopology) {
    let exists = {
        let mut calls = app.calls.lock();
        calls
            .get_mut(&room_id)
            .map(|call| call.preference = preference)
            .is_some()
    };
    if exists {
        apply_topology(app, room_id).await;
    }
}

/// The SFU dropped a participant (its connection failed). If the call still
/// uses the SFU, the participant is joined again so its browser can reconnect
/// with a fresh offer.
pub async fn sfu_dropped(app: &App, participant_id: &str) {
    let room_id = {
        let mut calls = app.calls.lock();
        calls
            .iter_mut()
            .find_map(|(room_id, call)| call.on_sfu.remove(participant_id).then_some(*room_id))
    };
    if let Some(room_id) = room_id {
        apply_topology(app, room_id).await;
    }
}

/// In SFU mode: the best layer a tab wants of one publisher's video.
pub async fn set_layer(app: &App, connection: ConnectionId, request: SetLayer) -> Result<()> {
    let subscriber = {
        let calls = app.calls.lock();
        let call = calls.get(&request.room_id).ok_or_else(not_in_call)?;
        let subscriber = call.participant_on(connection)?;
        if !call.on_sfu.contains(&subscriber.id) || !call.on_sfu.contains(&request.publisher) {
            return Err(Error::Conflict(
                "Layers apply to calls on the SFU only.".into(),
            ));
        }
        subscriber.id.clone()
    };
    let media = app.media.as_ref().ok_or_else(not_in_call)?;
    media
        .set_max_layer(&subscriber, &request.publisher, request.max_layer)
        .await
}

/// Relays a signal to another participant of the same call, or hands it to
/// the SFU when it is addressed to `"sfu"`.
pub async fn signal(app: &SharedApp, connection: ConnectionId, request: SendSignal) -> Result<()> {
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
    if request.to == SFU_PARTICIPANT {
        let from = {
            let calls = app.calls.lock();
            let call = calls.get(&request.room_id).ok_or_else(not_in_call)?;
            let from = call.participant_on(connection)?;
            if !call.on_sfu.contains(&from.id) {
                return Err(media::not_on_sfu());
            }
            from.id.clone()
        };
        return media::signal(app, connection, request.room_id, &from, request.signal).await;
    }
    let (from, target) = {
        let calls = app.calls.lock();
        let call = calls.get(&request.room_id).ok_or_else(not_in_call)?;
        let from = call.participant_on(connection)?;
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
        let call = calls.get_mut(&room_id).ok_or_else(not_in_call)?;
        call.participant_on_mut(connection)?.media = media;
    }
    let state = app.calls.state(room_id);
    let change = Change {
        state,
        off_sfu: Vec::new(),
        presence: Vec::new(),
        started_by: None,
    };
    announce_to_room(app, change).await
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
            let participant = call.participant_on_mut(connection).ok()?;
            participant.connection = None;
            participant.disconnects += 1;
            Some((participant.id.clone(), participant.disconnects))
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
        if let Some(media) = &app.media {
            for participant in &change.off_sfu {
                media.leave(participant).await;
            }
        }
        // The members were told the room is gone; only presence changes.
        for (user_id, joined) in change.presence {
            update_presence(app, user_id, joined).await;
        }
    }
}

/// Tells the room about a change, and re-decides the topology when people left.
async fn announce_to_room(app: &App, change: Change) -> Result<()> {
    let room_id = change.state.room_id;
    let someone_left = change.presence.iter().any(|(_, joined)| !joined);
    let members = app
        .store
        .call(move |conn| Ok(rooms::member_ids(conn, room_id)?))
        .await?;
    announce(app, &members, change).await;
    if someone_left {
        apply_topology(app, room_id).await;
    }
    Ok(())
}

async fn announce(app: &App, members: &[i64], change: Change) {
    let room_id = change.state.room_id;
    if let Some(media) = &app.media {
        for participant in &change.off_sfu {
            media.leave(participant).await;
        }
    }
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
