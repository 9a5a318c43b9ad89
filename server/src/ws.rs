//! One WebSocket connection: authenticate with the first frame, then turn
//! client frames into domain calls and hub events into frames, until either
//! side closes or the server shuts down.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket};
use mesh_proto::{
    ApiError, ClientEvent, ClientFrame, Presence, Ready, ServerEvent, ServerFrame, PROTOCOL_VERSION,
};
use tokio::sync::mpsc;
use tokio::time::{interval, timeout, Instant, MissedTickBehavior};

use crate::auth::{self, CLOSE_SESSION_ENDED};
use crate::chat;
use crate::error::{Error, Result};
use crate::hub::{ConnectionId, Outbound, OUTBOUND_QUEUE};
use crate::tokens::Actor;
use crate::{calls, notify, presence, rooms, SharedApp};

const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
const PING_EVERY: Duration = Duration::from_secs(25);
/// A connection that sends nothing (not even a pong) for this long is dead.
const IDLE_LIMIT: Duration = Duration::from_secs(70);

const CLOSE_HANDSHAKE: Duration = Duration::from_secs(2);

const CLOSE_NORMAL: u16 = 1000;
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_PROTOCOL: u16 = 1002;
const CLOSE_POLICY: u16 = 1008;

/// A token bucket: `burst` frames at once, then `per_second`.
struct RateLimit {
    burst: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    fn new(burst: f64, per_second: f64) -> Self {
        RateLimit {
            burst,
            per_second,
            tokens: burst,
            last: Instant::now(),
        }
    }

    fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Chat, typing and other actions: people, not machines, send these.
const ACTIONS_BURST: f64 = 20.0;
const ACTIONS_PER_SECOND: f64 = 10.0;
/// WebRTC signaling: a negotiation trickles dozens of ICE candidates per peer.
const SIGNALS_BURST: f64 = 200.0;
const SIGNALS_PER_SECOND: f64 = 50.0;
/// Refused frames in a row before a flooding client is disconnected.
const REFUSALS_BEFORE_CLOSE: u32 = 50;

/// How a connection ended, which decides whether its call place is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Departure {
    /// The client closed deliberately (tab closed, signed out) or was closed
    /// by the server for cause: it is gone.
    Clean,
    /// The connection broke: the client may come back.
    Lost,
}

pub async fn serve(app: SharedApp, mut socket: WebSocket) {
    let (actor, auth_id) = match authenticate(&app, &mut socket).await {
        Ok(authenticated) => authenticated,
        Err((id, error, code)) => {
            let _ = send_frame(
                &mut socket,
                &ServerFrame::reply(id, ServerEvent::Error(error)),
            )
            .await;
            close(&mut socket, code, "authentication failed").await;
            return;
        }
    };
    let user = match auth::me(&app, actor).await {
        Ok(user) => user,
        Err(_) => return close(&mut socket, CLOSE_SESSION_ENDED, "authentication failed").await,
    };
    let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
    let (connection, came_online) = app.hub.register(actor, tx);
    app.metrics.ws_connections.inc();
    let ready = ServerFrame::reply(
        auth_id,
        ServerEvent::Ready(Ready {
            user,
            protocol: PROTOCOL_VERSION,
        }),
    );
    let departure = if send_frame(&mut socket, &ready).await.is_ok() {
        if came_online {
            let status = app.hub.presence(actor.user_id);
            let _ = presence::announce(&app, actor.user_id, status).await;
        }
        send_active_calls(&app, actor, connection).await;
        run(&app, actor, connection, &mut socket, rx).await
    } else {
        Departure::Lost
    };
    app.metrics.ws_connections.dec();
    app.notify.attention.forget(connection);
    if app.hub.unregister(connection) {
        let _ = presence::announce(&app, actor.user_id, Presence::Offline).await;
    }
    // The resume grace outlives this task.
    tokio::spawn(async move {
        calls::connection_closed(&app, connection, departure == Departure::Clean).await
    });
}

/// Tells a new connection about calls going on in its user's rooms.
async fn send_active_calls(app: &SharedApp, actor: Actor, connection: ConnectionId) {
    let Ok(rooms) = rooms::list_mine(app, actor).await else {
        return;
    };
    let ids: Vec<i64> = rooms.iter().map(|room| room.id).collect();
    for state in app.calls.active_in(&ids) {
        app.hub.send_to_connection(
            connection,
            &ServerFrame::event(ServerEvent::CallState(state)),
        );
    }
}

/// Waits for the `auth` frame. On failure: the request id, the error and the close code.
async fn authenticate(
    app: &SharedApp,
    socket: &mut WebSocket,
) -> std::result::Result<(Actor, Option<String>), (Option<String>, ApiError, u16)> {
    let unauthenticated = |id, message: &str| {
        (
            id,
            ApiError {
                code: "unauthorized".into(),
                message: message.into(),
            },
            CLOSE_SESSION_ENDED,
        )
    };
    let text = loop {
        match timeout(AUTH_TIMEOUT, socket.recv()).await {
            Err(_) => {
                return Err((
                    None,
                    ApiError {
                        code: "auth_timeout".into(),
                        message: "Send `auth` within 10 seconds of connecting.".into(),
                    },
                    CLOSE_POLICY,
                ))
            }
            Ok(Some(Ok(WsMessage::Text(text)))) => break text,
            Ok(Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_)))) => continue,
            Ok(_) => {
                return Err(unauthenticated(
                    None,
                    "The first frame must be an `auth` text frame.",
                ))
            }
        }
    };
    let frame = ClientFrame::decode(&text).map_err(|e| {
        let code = if e.error.code == "unsupported_version" {
            CLOSE_PROTOCOL
        } else {
            CLOSE_SESSION_ENDED
        };
        (e.id, e.error, code)
    })?;
    let ClientEvent::Auth(payload) = frame.event else {
        return Err(unauthenticated(
            frame.id,
            "The first frame must be `auth` with an access token.",
        ));
    };
    match auth::authenticate(app, &payload.token).await {
        Ok(actor) => Ok((actor, frame.id)),
        Err(err) => Err((frame.id, err.to_api(), CLOSE_SESSION_ENDED)),
    }
}

async fn run(
    app: &SharedApp,
    actor: Actor,
    connection: ConnectionId,
    socket: &mut WebSocket,
    mut rx: mpsc::Receiver<Outbound>,
) -> Departure {
    let mut shutdown = app.shutdown.clone();
    let mut actions = RateLimit::new(ACTIONS_BURST, ACTIONS_PER_SECOND);
    let mut signals = RateLimit::new(SIGNALS_BURST, SIGNALS_PER_SECOND);
    let mut refusals = 0u32;
    let mut ping = interval(PING_EVERY);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let text = match incoming {
                    Some(Ok(WsMessage::Text(text))) => text,
                    Some(Ok(WsMessage::Binary(_))) => {
                        let error = ApiError { code: "invalid_event".into(), message: "Frames are JSON text, not binary.".into() };
                        if send_frame(socket, &ServerFrame::reply(None, ServerEvent::Error(error))).await.is_err() {
                            return Departure::Lost;
                        }
                        continue;
                    }
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => { last_heard = Instant::now(); continue; }
                    Some(Ok(WsMessage::Close(frame))) => {
                        // A tab that is closed or navigates away says "going away".
                        let going_away = frame.is_some_and(|f| f.code == CLOSE_GOING_AWAY || f.code == CLOSE_NORMAL);
                        return if going_away { Departure::Clean } else { Departure::Lost };
                    }
                    None => return Departure::Lost,
                    Some(Err(err)) => {
                        // Oversized frames and broken streams end up here.
                        tracing::debug!(error = %err, "websocket read failed");
                        return Departure::Lost;
                    }
                };
                last_heard = Instant::now();
                let reply = match ClientFrame::decode(&text) {
                    Ok(frame) => {
                        let bucket = if matches!(frame.event, ClientEvent::SendSignal(_)) { &mut signals } else { &mut actions };
                        if bucket.allow(last_heard) {
                            refusals = 0;
                            let result = dispatch(app, actor, connection, frame.event).await;
                            ServerFrame::reply(frame.id, result.unwrap_or_else(|err| ServerEvent::Error(err.to_api())))
                        } else {
                            refusals += 1;
                            if refusals > REFUSALS_BEFORE_CLOSE {
                                close(socket, CLOSE_POLICY, "too many frames").await;
                                return Departure::Lost;
                            }
                            ServerFrame::reply(frame.id, ServerEvent::Error(Error::RateLimited(1).to_api()))
                        }
                    }
                    Err(err) => {
                        let fatal = err.error.code == "unsupported_version";
                        let reply = ServerFrame::reply(err.id, ServerEvent::Error(err.error));
                        if fatal {
                            let _ = send_frame(socket, &reply).await;
                            close(socket, CLOSE_PROTOCOL, "unsupported protocol version").await;
                            return Departure::Clean;
                        }
                        reply
                    }
                };
                if send_frame(socket, &reply).await.is_err() {
                    return Departure::Lost;
                }
            }
            outbound = rx.recv() => match outbound {
                Some(Outbound::Frame(text)) => {
                    if socket.send(WsMessage::Text(Utf8Bytes::from(&*text))).await.is_err() {
                        return Departure::Lost;
                    }
                }
                Some(Outbound::Close(code, reason)) => {
                    close(socket, code, reason).await;
                    return Departure::Clean;
                }
                None => {
                    close(socket, CLOSE_POLICY, "connection too slow").await;
                    return Departure::Lost;
                }
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > IDLE_LIMIT {
                    return Departure::Lost;
                }
                if socket.send(WsMessage::Ping(Default::default())).await.is_err() {
                    return Departure::Lost;
                }
            }
            _ = async { shutdown.wait_for(|stopping| *stopping).await.map(|_| ()) } => {
                close(socket, CLOSE_GOING_AWAY, "server shutting down").await;
                return Departure::Lost;
            }
        }
    }
}

/// Carries out one request; the event is the answer (`ack` unless said otherwise).
async fn dispatch(
    app: &SharedApp,
    actor: Actor,
    connection: ConnectionId,
    event: ClientEvent,
) -> Result<ServerEvent> {
    let ack = ServerEvent::Ack(None);
    match event {
        ClientEvent::Auth(_) => Err(Error::BadRequest(
            "invalid_event",
            "Already authenticated.".into(),
        )),
        ClientEvent::SendMessage(send) => {
            let (message, _) =
                chat::send(app, actor, send.room_id, send.client_id, &send.body).await?;
            Ok(ServerEvent::Ack(Some(message)))
        }
        ClientEvent::EditMessage(edit) => {
            let message = chat::edit(app, actor, edit.room_id, edit.message_id, &edit.body).await?;
            Ok(ServerEvent::Ack(Some(message)))
        }
        ClientEvent::DeleteMessage(delete) => {
            chat::delete(app, actor, delete.room_id, delete.message_id).await?;
            Ok(ack)
        }
        ClientEvent::Typing(typing) => {
            chat::typing(app, actor, typing.room_id).await?;
            Ok(ack)
        }
        ClientEvent::MarkRead(read) => {
            rooms::mark_read(app, actor, read.room_id, read.message_id).await?;
            Ok(ack)
        }
        ClientEvent::SetPresence(set) => {
            presence::set(app, actor, set.status).await?;
            Ok(ack)
        }
        ClientEvent::JoinCall(join) => Ok(ServerEvent::CallJoined(
            calls::join(app, actor, connection, join).await?,
        )),
        ClientEvent::LeaveCall(leave) => {
            calls::leave(app, connection, leave.room_id).await?;
            Ok(ack)
        }
        ClientEvent::SendSignal(signal) => {
            calls::signal(app, connection, signal).await?;
            Ok(ack)
        }
        ClientEvent::SetLayer(layer) => {
            calls::set_layer(app, connection, layer).await?;
            Ok(ack)
        }
        ClientEvent::SetMedia(media) => {
            calls::set_media(app, connection, media.room_id, media.media).await?;
            Ok(ack)
        }
        ClientEvent::SetFocus(focus) => {
            notify::focus(app, actor, connection, focus).await?;
            Ok(ack)
        }
        ClientEvent::Ping => Ok(ack),
    }
}

async fn send_frame(
    socket: &mut WebSocket,
    frame: &ServerFrame,
) -> std::result::Result<(), axum::Error> {
    socket.send(WsMessage::Text(frame.encode().into())).await
}

/// Sends a close frame, then discards what the client still sends until it
/// answers the close (or 2 s pass), so unread input never turns the close into
/// a TCP reset that would destroy frames the client has not read yet.
async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    if socket.send(WsMessage::Close(Some(frame))).await.is_err() {
        return;
    }
    let _ = timeout(CLOSE_HANDSHAKE, async {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, WsMessage::Close(_)) {
                break;
            }
        }
    })
    .await;
}
