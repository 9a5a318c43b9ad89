//! One WebSocket connection: authenticate with the first frame, then turn
//! client frames into domain calls and hub events into frames, until either
//! side closes or the server shuts down.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket};
use mesh_proto::{
    ApiError, ClientEvent, ClientFrame, Message, Presence, Ready, ServerEvent, ServerFrame,
    PROTOCOL_VERSION,
};
use tokio::sync::mpsc;
use tokio::time::{interval, timeout, Instant, MissedTickBehavior};

use crate::auth::{self, CLOSE_SESSION_ENDED};
use crate::chat;
use crate::error::{Error, Result};
use crate::hub::{Outbound, OUTBOUND_QUEUE};
use crate::tokens::Actor;
use crate::{presence, rooms, SharedApp};

const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
const PING_EVERY: Duration = Duration::from_secs(25);
/// A connection that sends nothing (not even a pong) for this long is dead.
const IDLE_LIMIT: Duration = Duration::from_secs(70);

const CLOSE_HANDSHAKE: Duration = Duration::from_secs(2);

const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_PROTOCOL: u16 = 1002;
const CLOSE_POLICY: u16 = 1008;

/// A token bucket: `BURST` frames at once, then `PER_SECOND`.
struct RateLimit {
    tokens: f64,
    last: Instant,
    /// Frames refused in a row; a client that keeps flooding is disconnected.
    refused: u32,
}

const BURST: f64 = 20.0;
const PER_SECOND: f64 = 10.0;
const REFUSALS_BEFORE_CLOSE: u32 = 50;

impl RateLimit {
    fn new() -> Self {
        RateLimit {
            tokens: BURST,
            last: Instant::now(),
            refused: 0,
        }
    }

    fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * PER_SECOND).min(BURST);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.refused = 0;
            true
        } else {
            self.refused += 1;
            false
        }
    }
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
    let (connection_id, came_online) = app.hub.register(actor, tx);
    app.metrics.ws_connections.inc();
    let ready = ServerFrame::reply(
        auth_id,
        ServerEvent::Ready(Ready {
            user,
            protocol: PROTOCOL_VERSION,
        }),
    );
    if send_frame(&mut socket, &ready).await.is_ok() {
        if came_online {
            let status = app.hub.presence(actor.user_id);
            let _ = presence::announce(&app, actor.user_id, status).await;
        }
        run(&app, actor, &mut socket, rx).await;
    }
    app.metrics.ws_connections.dec();
    if app.hub.unregister(connection_id) {
        let _ = presence::announce(&app, actor.user_id, Presence::Offline).await;
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
    socket: &mut WebSocket,
    mut rx: mpsc::Receiver<Outbound>,
) {
    let mut shutdown = app.shutdown.clone();
    let mut limit = RateLimit::new();
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
                        if send_frame(socket, &ServerFrame::reply(None, ServerEvent::Error(error))).await.is_err() { return; }
                        continue;
                    }
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => { last_heard = Instant::now(); continue; }
                    Some(Ok(WsMessage::Close(_))) | None => return,
                    Some(Err(err)) => {
                        // Oversized frames and broken streams end up here.
                        tracing::debug!(error = %err, "websocket read failed");
                        return;
                    }
                };
                last_heard = Instant::now();
                if !limit.allow(last_heard) {
                    if limit.refused > REFUSALS_BEFORE_CLOSE {
                        return close(socket, CLOSE_POLICY, "too many frames").await;
                    }
                    let id = ClientFrame::decode(&text).ok().and_then(|f| f.id);
                    let reply = ServerFrame::reply(id, ServerEvent::Error(Error::RateLimited(1).to_api()));
                    if send_frame(socket, &reply).await.is_err() { return; }
                    continue;
                }
                let reply = match ClientFrame::decode(&text) {
                    Ok(frame) => {
                        let result = dispatch(app, actor, frame.event).await;
                        ServerFrame::reply(frame.id, match result {
                            Ok(message) => ServerEvent::Ack(message),
                            Err(err) => ServerEvent::Error(err.to_api()),
                        })
                    }
                    Err(err) => {
                        let fatal = err.error.code == "unsupported_version";
                        let reply = ServerFrame::reply(err.id, ServerEvent::Error(err.error));
                        if fatal {
                            let _ = send_frame(socket, &reply).await;
                            return close(socket, CLOSE_PROTOCOL, "unsupported protocol version").await;
                        }
                        reply
                    }
                };
                if send_frame(socket, &reply).await.is_err() { return; }
            }
            outbound = rx.recv() => match outbound {
                Some(Outbound::Frame(text)) => {
                    if socket.send(WsMessage::Text(Utf8Bytes::from(&*text))).await.is_err() { return; }
                }
                Some(Outbound::Close(code, reason)) => return close(socket, code, reason).await,
                None => return close(socket, CLOSE_POLICY, "connection too slow").await,
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > IDLE_LIMIT { return; }
                if socket.send(WsMessage::Ping(Default::default())).await.is_err() { return; }
            }
            _ = async { shutdown.wait_for(|stopping| *stopping).await.map(|_| ()) } => {
                return close(socket, CLOSE_GOING_AWAY, "server shutting down").await;
            }
        }
    }
}

async fn dispatch(app: &SharedApp, actor: Actor, event: ClientEvent) -> Result<Option<Message>> {
    match event {
        ClientEvent::Auth(_) => Err(Error::BadRequest(
            "invalid_event",
            "Already authenticated.".into(),
        )),
        ClientEvent::SendMessage(send) => {
            let (message, _) =
                chat::send(app, actor, send.room_id, send.client_id, &send.body).await?;
            Ok(Some(message))
        }
        ClientEvent::EditMessage(edit) => Ok(Some(
            chat::edit(app, actor, edit.room_id, edit.message_id, &edit.body).await?,
        )),
        ClientEvent::DeleteMessage(delete) => {
            chat::delete(app, actor, delete.room_id, delete.message_id).await?;
            Ok(None)
        }
        ClientEvent::Typing(typing) => {
            chat::typing(app, actor, typing.room_id).await?;
            Ok(None)
        }
        ClientEvent::MarkRead(read) => {
            rooms::mark_read(app, actor, read.room_id, read.message_id).await?;
            Ok(None)
        }
        ClientEvent::SetPresence(set) => {
            presence::set(app, actor, set.status).await?;
            Ok(None)
        }
        ClientEvent::Ping => Ok(None),
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
