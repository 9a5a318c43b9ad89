//! Talking to a running `mesh` the way its clients do: accounts and rooms
//! over REST, authenticated WebSocket connections, joining a call and
//! relaying its signals to and from the SFU, and the counters at `/metrics`.

use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::synthetic::{Sdp, ServerLink};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Waits this long for the server to answer a request over the WebSocket.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// Every benchmark account's password.
pub const PASSWORD: &str = "bench-password";

/// Registers `users` accounts (`bench0`, `bench1`, ...); returns their access
/// tokens.
pub async fn register_users(
    http: &reqwest::Client,
    url: &str,
    users: usize,
) -> anyhow::Result<Vec<String>> {
    let mut tokens = Vec::with_capacity(users);
    for index in 0..users {
        let name = format!("bench{index}");
        let response: Value = http
            .post(format!("{url}/api/v1/auth/register"))
            .json(&json!({"username": name, "email": format!("{name}@bench.invalid"), "password": PASSWORD}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = response["access_token"]
            .as_str()
            .context("no access token")?;
        tokens.push(token.to_owned());
    }
    Ok(tokens)
}

/// Public rooms; room `r` is owned by user `r % users`, and user `u` joins
/// room `u % rooms`.
pub async fn create_rooms(
    http: &reqwest::Client,
    url: &str,
    tokens: &[String],
    rooms: usize,
) -> anyhow::Result<Vec<i64>> {
    let mut ids = Vec::with_capacity(rooms);
    for index in 0..rooms {
        let room: Value = http
            .post(format!("{url}/api/v1/rooms"))
            .bearer_auth(&tokens[index % tokens.len()])
            .json(&json!({"name": format!("room {index}"), "visibility": "public"}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        ids.push(room["id"].as_i64().context("no room id")?);
    }
    for (user, token) in tokens.iter().enumerate() {
        let room = ids[user % rooms];
        http.post(format!("{url}/api/v1/rooms/{room}/join"))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?;
    }
    Ok(ids)
}

/// The room owner's choice of call topology: `auto`, `mesh` or `sfu`.
pub async fn set_call_topology(
    http: &reqwest::Client,
    url: &str,
    owner_token: &str,
    room_id: i64,
    topology: &str,
) -> anyhow::Result<()> {
    http.patch(format!("{url}/api/v1/rooms/{room_id}"))
        .bearer_auth(owner_token)
        .json(&json!({"call_topology": topology}))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

/// Opens a WebSocket and authenticates it.
pub async fn connect(ws_url: &str, token: &str) -> anyhow::Result<Ws> {
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await?;
    let auth = json!({"v": 1, "id": "auth", "type": "auth", "payload": {"token": token}});
    ws.send(WsMessage::Text(auth.to_string().into())).await?;
    match tokio::time::timeout(ANSWER_TIMEOUT, ws.next()).await {
        Ok(Some(Ok(WsMessage::Text(text)))) if text.contains("\"ready\"") => Ok(ws),
        other => bail!("no ready frame: {other:?}"),
    }
}

/// Joins the call of `room_id` on this connection; returns the participant
/// id. Events that arrive meanwhile (call states, presence) are skipped.
pub async fn join_call(ws: &mut Ws, room_id: i64, sends_media: bool) -> anyhow::Result<String> {
    let media = json!({"audio": sends_media, "video": sends_media, "screen": false});
    let join = json!({"v": 1, "id": "join", "type": "call.join", "payload": {"room_id": room_id, "media": media}});
    ws.send(WsMessage::Text(join.to_string().into())).await?;
    let answer = async {
        while let Some(message) = ws.next().await {
            let WsMessage::Text(text) = message? else {
                continue;
            };
            let frame: Value = serde_json::from_str(&text)?;
            if frame["id"] != "join" {
                continue;
            }
            if frame["type"] != "call.joined" {
                bail!("call.join refused: {frame}");
            }
            return frame["payload"]["participant_id"]
                .as_str()
                .map(str::to_owned)
                .context("no participant id");
        }
        bail!("the connection closed before call.joined")
    };
    tokio::time::timeout(ANSWER_TIMEOUT, answer)
        .await
        .context("no answer to call.join")?
}

/// Carries a participant's session descriptions to the SFU as `call.signal`
/// and the SFU's back, until the peer is done (then it leaves the call by
/// closing the connection) or the server refuses something.
pub async fn relay_sfu_signals(ws: Ws, room_id: i64, mut link: ServerLink) -> anyhow::Result<()> {
    let (mut sink, mut source) = ws.split();
    let mut sent = 0u64;
    loop {
        tokio::select! {
            sdp = link.from_peer.recv() => {
                let Some(sdp) = sdp else {
                    let _ = sink.send(WsMessage::Close(None)).await;
                    return Ok(());
                };
                let (kind, sdp) = match sdp {
                    Sdp::Offer(sdp) => ("offer", sdp),
                    Sdp::Answer(sdp) => ("answer", sdp),
                };
                sent += 1;
                let signal = json!({"description": {"type": kind, "sdp": sdp}});
                let frame = json!({"v": 1, "id": format!("s{sent}"), "type": "call.signal",
                    "payload": {"room_id": room_id, "to": "sfu", "signal": signal}});
                sink.send(WsMessage::Text(frame.to_string().into())).await?;
            }
            incoming = source.next() => {
                let text = match incoming {
                    Some(Ok(WsMessage::Text(text))) => text,
                    Some(Ok(_)) => continue,
                    Some(Err(err)) => return Err(err.into()),
                    None => bail!("the server closed the connection"),
                };
                let frame: Value = serde_json::from_str(&text)?;
                match frame["type"].as_str() {
                    Some("call.signal") if frame["payload"]["from"] == "sfu" => {
                        let description = &frame["payload"]["signal"]["description"];
                        let sdp = description["sdp"].as_str().unwrap_or_default().to_owned();
                        let sdp = match description["type"].as_str() {
                            Some("offer") => Sdp::Offer(sdp),
                            Some("answer") => Sdp::Answer(sdp),
                            _ => continue,
                        };
                        if link.to_peer.send(sdp).is_err() {
                            return Ok(());
                        }
                    }
                    Some("error") => bail!("the server refused a signal: {}", frame["payload"]),
                    _ => {}
                }
            }
        }
    }
}

/// The SFU's datagram counters since start, from `/metrics`.
#[derive(Clone, Copy, Debug)]
pub struct SfuCounters {
    pub packets_in: f64,
    pub packets_out: f64,
    pub bytes_in: f64,
    pub bytes_out: f64,
}

impl std::ops::Sub for SfuCounters {
    type Output = SfuCounters;

    fn sub(self, before: SfuCounters) -> SfuCounters {
        SfuCounters {
            packets_in: self.packets_in - before.packets_in,
            packets_out: self.packets_out - before.packets_out,
            bytes_in: self.bytes_in - before.bytes_in,
            bytes_out: self.bytes_out - before.bytes_out,
        }
    }
}

pub async fn sfu_counters(http: &reqwest::Client, url: &str) -> anyhow::Result<SfuCounters> {
    let text = http
        .get(format!("{url}/metrics"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let value = |name: &str| -> anyhow::Result<f64> {
        text.lines()
            .find_map(|line| {
                line.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix(' '))
                    .and_then(|number| number.trim().parse().ok())
            })
            .with_context(|| format!("no {name} in /metrics (is the SFU running?)"))
    };
    Ok(SfuCounters {
        packets_in: value("mesh_sfu_packets_in")?,
        packets_out: value("mesh_sfu_packets_out")?,
        bytes_in: value("mesh_sfu_bytes_in")?,
        bytes_out: value("mesh_sfu_bytes_out")?,
    })
}
