//! Janus's plain HTTP API as a VideoRoom client uses it. Each synthetic peer
//! gets its own session with one plugin handle: requests to the plugin are
//! acknowledged at once and answered later by an event on the session's
//! long poll, which also keeps the session alive.

use std::collections::VecDeque;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::synthetic::{Sdp, ServerLink};

/// Janus holds a long poll for up to 30 s before answering with a keepalive.
const LONG_POLL_TIMEOUT: Duration = Duration::from_secs(45);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a VideoRoom request may take to be answered by an event.
const EVENT_TIMEOUT: Duration = Duration::from_secs(15);

/// A session with the VideoRoom plugin attached.
pub struct Handle {
    http: reqwest::Client,
    session_url: String,
    handle_url: String,
    transactions: u64,
    events: VecDeque<Value>,
}

impl Handle {
    pub async fn attach(http: &reqwest::Client, url: &str) -> anyhow::Result<Handle> {
        let session = post(
            http,
            url,
            json!({"janus": "create", "transaction": "create"}),
        )
        .await?;
        let session_id = session["data"]["id"].as_u64().context("no session id")?;
        let session_url = format!("{url}/{session_id}");
        let attach =
            json!({"janus": "attach", "plugin": "janus.plugin.videoroom", "transaction": "attach"});
        let handle = post(http, &session_url, attach).await?;
        let handle_id = handle["data"]["id"].as_u64().context("no handle id")?;
        Ok(Handle {
            http: http.clone(),
            handle_url: format!("{session_url}/{handle_id}"),
            session_url,
            transactions: 0,
            events: VecDeque::new(),
        })
    }

    /// A request the plugin answers at once (`create`); returns its data.
    pub async fn request(&mut self, body: Value) -> anyhow::Result<Value> {
        let message = self.message(body, None);
        let answer = post(&self.http, &self.handle_url, message).await?;
        plugin_data(&answer)
    }

    /// A request the plugin answers with an event (`join`, `start`); returns
    /// the event.
    pub async fn request_event(
        &mut self,
        body: Value,
        jsep: Option<Value>,
    ) -> anyhow::Result<Value> {
        let message = self.message(body, jsep);
        let transaction = message["transaction"].clone();
        let ack = post(&self.http, &self.handle_url, message).await?;
        if ack["janus"] != "ack" {
            bail!("janus did not acknowledge: {ack}");
        }
        let wait = async {
            loop {
                let event = self.next_event().await?;
                if event["janus"] == "event" && event["transaction"] == transaction {
                    plugin_data(&event)?;
                    return Ok(event);
                }
            }
        };
        tokio::time::timeout(EVENT_TIMEOUT, wait)
            .await
            .context("no event from the VideoRoom plugin")?
    }

    fn message(&mut self, body: Value, jsep: Option<Value>) -> Value {
        self.transactions += 1;
        let mut message = json!({"janus": "message", "transaction": format!("t{}", self.transactions), "body": body});
        if let Some(jsep) = jsep {
            message["jsep"] = jsep;
        }
        message
    }

    /// The next event of this session, long-polling for more when none is
    /// buffered. A hangup is an error: the peer connection is gone.
    pub async fn next_event(&mut self) -> anyhow::Result<Value> {
        loop {
            if let Some(event) = self.events.pop_front() {
                if event["janus"] == "hangup" {
                    bail!("janus hung up: {}", event["reason"]);
                }
                return Ok(event);
            }
            let polled: Value = self
                .http
                .get(format!("{}?maxev=10", self.session_url))
                .timeout(LONG_POLL_TIMEOUT)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            match polled {
                Value::Array(events) => self.events.extend(events),
                event => self.events.push_back(event),
            }
        }
    }
}

async fn post(http: &reqwest::Client, url: &str, body: Value) -> anyhow::Result<Value> {
    let answer: Value = http
        .post(url)
        .timeout(REQUEST_TIMEOUT)
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    if answer["janus"] == "error" {
        bail!("janus refused {}: {}", body["janus"], answer["error"]);
    }
    Ok(answer)
}

/// The plugin's part of an answer or event, or its error.
fn plugin_data(answer: &Value) -> anyhow::Result<Value> {
    let data = &answer["plugindata"]["data"];
    if data["error"].is_string() {
        bail!("videoroom: {} ({})", data["error"], data["error_code"]);
    }
    Ok(data.clone())
}

/// Creates a room for `publishers` publishers with Janus's defaults
/// otherwise (VP8 and Opus, no bitrate cap).
pub async fn create_room(handle: &mut Handle, room: u64, publishers: usize) -> anyhow::Result<()> {
    let created = handle
        .request(json!({"request": "create", "room": room, "publishers": publishers}))
        .await?;
    if created["videoroom"] != "created" {
        bail!("room {room} not created: {created}");
    }
    Ok(())
}

/// Joins `room` as publisher `feed` with the peer's offer and hands it the
/// answer. Returns once the peer connection is up: only then does Janus
/// accept subscriptions to the feed.
pub async fn publish(
    http: &reqwest::Client,
    url: &str,
    room: u64,
    feed: u64,
    mut link: ServerLink,
) -> anyhow::Result<(Handle, ServerLink)> {
    let mut handle = Handle::attach(http, url).await?;
    let Some(Sdp::Offer(offer)) = link.from_peer.recv().await else {
        bail!("publisher {feed} made no offer");
    };
    // Candidates are all in the SDP; rids are listed low to high.
    let jsep = json!({"type": "offer", "sdp": offer, "trickle": false, "rid_order": "lmh"});
    let joined = handle
        .request_event(
            json!({"request": "join", "ptype": "publisher", "room": room, "id": feed}),
            Some(jsep),
        )
        .await?;
    let answer = joined["jsep"]["sdp"]
        .as_str()
        .with_context(|| format!("no answer for publisher {feed}: {joined}"))?;
    let _ = link.to_peer.send(Sdp::Answer(answer.to_owned()));
    let up = async {
        while handle.next_event().await?["janus"] != "webrtcup" {}
        anyhow::Ok(())
    };
    tokio::time::timeout(EVENT_TIMEOUT, up)
        .await
        .with_context(|| format!("publisher {feed} did not connect to janus"))??;
    Ok((handle, link))
}

/// Subscribes to `feeds` of `room` in one peer connection: Janus offers,
/// the peer answers, and `start` sends the answer back.
pub async fn subscribe(
    http: &reqwest::Client,
    url: &str,
    room: u64,
    feeds: &[u64],
    mut link: ServerLink,
) -> anyhow::Result<(Handle, ServerLink)> {
    let mut handle = Handle::attach(http, url).await?;
    let streams: Vec<Value> = feeds.iter().map(|feed| json!({"feed": feed})).collect();
    let attached = handle
        .request_event(
            json!({"request": "join", "ptype": "subscriber", "room": room, "streams": streams}),
            None,
        )
        .await?;
    let offer = attached["jsep"]["sdp"]
        .as_str()
        .with_context(|| format!("no offer from janus: {attached}"))?;
    let _ = link.to_peer.send(Sdp::Offer(offer.to_owned()));
    let Some(Sdp::Answer(answer)) = link.from_peer.recv().await else {
        bail!("the subscriber did not answer janus's offer");
    };
    let jsep = json!({"type": "answer", "sdp": answer, "trickle": false});
    handle
        .request_event(json!({"request": "start"}), Some(jsep))
        .await?;
    Ok((handle, link))
}

/// Keeps the session alive by long-polling until the peer is done. Any
/// further negotiation or a hangup ends it with an error.
pub async fn keep_alive(mut handle: Handle, mut link: ServerLink) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            sdp = link.from_peer.recv() => match sdp {
                None => return Ok(()),
                Some(sdp) => bail!("unexpected renegotiation: {sdp:?}"),
            },
            event = handle.next_event() => {
                event?;
            }
        }
    }
}
