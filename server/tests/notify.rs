//! Push notifications against real HTTP receivers on loopback: each
//! backend's wire format, retries that deliver exactly once, coalescing,
//! who is not pushed (active in the room, event switched off, quiet hours),
//! the settings API's checks, and the sessions list with revocation.

mod common;

use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode as AxumStatus, Uri};
use common::{Session, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Coalescing window the test servers use: long enough for ten sends in a row.
const COALESCE_MS: u64 = 1000;
/// Longest a notification that is coming takes to arrive in these tests.
const ARRIVAL: Duration = Duration::from_secs(10);
/// How long the tests watch for a notification that must not come.
const SILENCE: Duration = Duration::from_millis(COALESCE_MS + 1500);

/// The receivers here are on loopback, which users may only choose when the
/// administrator allows private addresses (see
/// `users_cannot_point_notifications_into_the_servers_network`).
const NOTIFY_ENV: &[(&str, &str)] = &[
    ("MESH_NOTIFY_COALESCE_MS", "1000"),
    ("MESH_NOTIFY_RETRY_BASE_MS", "100"),
    ("MESH_NOTIFY_TIMEOUT_MS", "2000"),
    ("MESH_NOTIFY_ALLOW_PRIVATE", "true"),
];

/// [`NOTIFY_ENV`] with private addresses refused, as by default.
fn private_refused_env() -> Vec<(&'static str, &'static str)> {
    NOTIFY_ENV
        .iter()
        .copied()
        .filter(|(key, _)| *key != "MESH_NOTIFY_ALLOW_PRIVATE")
        .collect()
}

/// One request a receiver took.
#[derive(Debug, Clone)]
struct Received {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Value,
}

#[derive(Default)]
struct ReceiverState {
    /// Requests answered 2xx, in order.
    accepted: Mutex<Vec<Received>>,
    /// Every request, answered or refused.
    attempts: AtomicUsize,
    /// Refuse this many more requests with `refuse_with`.
    refuse_next: AtomicUsize,
    refuse_with: AtomicU16,
}

/// An HTTP server on 127.0.0.1 that records what it is sent and can be told
/// to answer errors.
struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Receiver {
        let state = Arc::new(ReceiverState::default());
        let app = axum::Router::new()
            .fallback(record)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { url, state, task }
    }

    fn refuse(&self, times: usize, status: u16) {
        self.state.refuse_with.store(status, Ordering::SeqCst);
        self.state.refuse_next.store(times, Ordering::SeqCst);
    }

    fn accepted(&self) -> Vec<Received> {
        self.state.accepted.lock().unwrap().clone()
    }

    fn attempts(&self) -> usize {
        self.state.attempts.load(Ordering::SeqCst)
    }

    /// Waits until `count` requests were accepted; returns them.
    async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + ARRIVAL;
        loop {
            let accepted = self.accepted();
            if accepted.len() >= count {
                return accepted;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {count} notifications within {ARRIVAL:?}, got {}: {accepted:?}",
                accepted.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(
    State(state): State<Arc<ReceiverState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> AxumStatus {
    state.attempts.fetch_add(1, Ordering::SeqCst);
    let refuse = state
        .refuse_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if refuse {
        return AxumStatus::from_u16(state.refuse_with.load(Ordering::SeqCst)).unwrap();
    }
    state.accepted.lock().unwrap().push(Received {
        method,
        path: uri.path().to_owned(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    AxumStatus::OK
}

/// Alice and Bob in `#general`.
struct Team {
    alice: Session,
    bob: Session,
    room: i64,
}

async fn team(server: &TestServer) -> Team {
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let room = server.create_room(&alice, "general", "private").await;
    server.add_member(&alice, room, &bob, "member").await;
    Team { alice, bob, room }
}

fn all_events() -> Value {
    json!({"messages": true, "calls": true, "files": true, "invitations": true})
}

async fn save_settings(server: &TestServer, user: &Session, settings: Value) -> Value {
    let (status, body) = server
        .request(
            reqwest::Method::PUT,
            "/api/v1/me/notifications",
            Some(&user.token),
            Some(settings),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn use_webhook(server: &TestServer, user: &Session, receiver: &Receiver, token: &str) {
    save_settings(
        server,
        user,
        json!({"backend": "webhook", "url": format!("{}/hook", receiver.url), "topic": "",
               "token": token, "events": all_events(), "quiet_hours": null}),
    )
    .await;
}

fn bearer(received: &Received) -> &str {
    received.headers["authorization"].to_str().unwrap()
}

#[tokio::test]
async fn gotify_gets_its_documented_format_for_messages_and_calls() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(NOTIFY_ENV).await;
    let t = team(&server).await;
    let saved = save_settings(
        &server,
        &t.bob,
        json!({"backend": "gotify", "url": format!("{}/", receiver.url), "topic": "",
               "token": "AgotifyAppToken1", "events": all_events(), "quiet_hours": null}),
    )
    .await;
    assert_eq!(saved["token_set"], true);
    assert!(!saved.to_string().contains("AgotifyAppToken1"));

    server
        .send_message(&t.alice, t.room, "lunch at noon?")
        .await;
    let got = receiver.wait_for(1).await;
    let push = &got[0];
    assert_eq!(push.method, Method::POST);
    assert_eq!(push.path, "/message");
    assert_eq!(push.headers["x-gotify-key"], "AgotifyAppToken1");
    assert_eq!(push.headers["content-type"], "application/json");
    assert_eq!(push.body["title"], "alice in #general");
    assert_eq!(push.body["message"], "lunch at noon?");
    assert_eq!(push.body["priority"], 5);
    let room_url = format!("{}/rooms/{}", server.url, t.room);
    assert_eq!(
        push.body["extras"]["client::notification"]["click"]["url"],
        room_url.as_str()
    );

    // A call ringing is the most urgent thing Mesh pushes.
    let mut alice_ws = server.connect(&t.alice).await;
    let joined = alice_ws
        .call(
            "join",
            "call.join",
            json!({"room_id": t.room, "media": {"audio": true, "video": false, "screen": false}}),
        )
        .await;
    assert_eq!(joined["type"], "call.joined", "{joined}");
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].body["title"], "alice is calling in #general");
    assert_eq!(got[1].body["priority"], 9);
    assert_eq!(receiver.attempts(), 2, "the author is never pushed");
}

#[tokio::test]
async fn ntfy_gets_json_published_to_the_server_root_with_topic_priority_and_click() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(NOTIFY_ENV).await;
    let t = team(&server).await;
    save_settings(
        &server,
        &t.bob,
        json!({"backend": "ntfy", "url": receiver.url, "topic": "bob-mesh_1",
               "token": "tk_ntfyaccesstoken", "events": all_events(), "quiet_hours": null}),
    )
    .await;

    server.send_message(&t.alice, t.room, "deploy done").await;
    let got = receiver.wait_for(1).await;
    let push = &got[0];
    assert_eq!(push.method, Method::POST);
    assert_eq!(push.path, "/");
    assert_eq!(bearer(push), "Bearer tk_ntfyaccesstoken");
    assert_eq!(push.body["topic"], "bob-mesh_1");
    assert_eq!(push.body["title"], "alice in #general");
    assert_eq!(push.body["message"], "deploy done");
    assert_eq!(push.body["priority"], 3);
    assert_eq!(
        push.body["click"],
        format!("{}/rooms/{}", server.url, t.room).as_str()
    );
    assert_eq!(push.body["actions"][0]["action"], "view");
    assert_eq!(
        push.body["actions"][0]["url"],
        format!("mesh://room/{}", t.room).as_str()
    );
}

#[tokio::test]
async fn the_webhook_gets_the_event_as_json_including_invitations() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(NOTIFY_ENV).await;
    let t = team(&server).await;
    use_webhook(&server, &t.bob, &receiver, "hook-secret-1").await;

    server.send_message(&t.alice, t.room, "hello bob").await;
    let got = receiver.wait_for(1).await;
    let push = &got[0];
    assert_eq!(push.path, "/hook");
    assert_eq!(bearer(push), "Bearer hook-secret-1");
    assert_eq!(
        push.body,
        json!({
            "event": "message",
            "title": "alice in #general",
            "message": "hello bob",
            "priority": "normal",
            "room_id": t.room,
            "url": format!("{}/rooms/{}", server.url, t.room),
            "app_url": format!("mesh://room/{}", t.room),
            "count": 1,
        })
    );

    // Carol joins through Bob's invitation link: Bob hears of it.
    let carol = server.register("carol").await;
    server.add_member(&t.bob, t.room, &carol, "member").await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].body["event"], "invitation");
    assert_eq!(got[1].body["title"], "carol joined #general");
    assert_eq!(got[1].body["priority"], "low");

    // So does an account created with his invitation link.
    let (status, invite) = server
        .post(
            &format!("/api/v1/rooms/{}/invites", t.room),
            &t.bob.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invite}");
    let (status, body) = server
        .request(
            reqwest::Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"username": "dave", "email": "dave@example.org",
                        "password": "password-dave", "invite_code": invite["code"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let got = receiver.wait_for(3).await;
    assert_eq!(got[2].body["title"], "dave joined #general");
}

#[tokio::test]
async fn a_file_offered_to_a_device_is_pushed_to_its_owner() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(NOTIFY_ENV).await;
    let t = team(&server).await;
    use_webhook(&server, &t.bob, &receiver, "hook-secret-files").await;
    let register = |owner: &Session, name: &str, digit: char| {
        let body = json!({"name": name, "fingerprint": digit.to_string().repeat(64)});
        let token = owner.token.clone();
        let server = &server;
        async move {
            let (status, device) = server.post("/api/v1/devices", &token, body).await;
            assert_eq!(status, StatusCode::CREATED, "{device}");
            device
        }
    };
    let laptop = register(&t.alice, "alice-laptop", 'a').await;
    let desktop = register(&t.bob, "bob-desktop", 'b').await;

    let (status, grant) = server
        .post(
            "/api/v1/sessions",
            &t.alice.token,
            json!({"from_device": laptop["id"], "to_device": desktop["id"], "kind": "file", "scope": "file"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].body["event"], "file");
    assert_eq!(got[0].body["title"], "alice is sending you a file");
    assert_eq!(got[0].body["message"], "To your device bob-desktop.");
    assert_eq!(got[0].body["priority"], "high");
    assert_eq!(got[0].body["room_id"], Value::Null);
    assert_eq!(got[0].body["url"], format!("{}/", server.url).as_str());
}

#[tokio::test]
async fn a_receiver_that_fails_twice_then_recovers_gets_the_notification_exactly_once() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(NOTIFY_ENV).await;
    let t = team(&server).await;
    use_webhook(&server, &t.bob, &receiver, "hook-secret-2").await;
    receiver.refuse(2, 500);

    server
        .send_message(&t.alice, t.room, "are you there?")
        .await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].body["message"], "are you there?");
    assert_eq!(receiver.attempts(), 3, "two refusals, then the delivery");
    // Nothing more comes: the delivered row is never sent again.
    tokio::time::sleep(SILENCE).await;
    assert_eq!(receiver.accepted().len(), 1);
    assert_eq!(receiver.attempts(), 3);
}

#[tokio::test]
async fn an_undelivered_notification_is_retried_after_a_restart() {
    let receiver = Receiver::start().await;
    let mut server = TestServer::start_with(NOTIFY_ENV).await;
    let t = team(&server).await;
    use_webhook(&server, &t.bob, &receiver, "hook-secret-3").await;
    receiver.refuse(usize::MAX, 503);

    server
        .send_message(&t.alice, t.room, "before the crash")
        .await;
    let deadline = tokio::time::Instant::now() + ARRIVAL;
    while receiver.attempts() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no attempt at all");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    server.kill();
    receiver.refuse(0, 503);
    server.start_again();

    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].body["message"], "before the crash");
    tokio::time::sleep(SILENCE).await;
    assert_eq!(receiver.accepted().len(), 1);
}

#[tokio::test]
async fn a_burst_of_ten_messages_becomes_one_notification() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(NOTIFY_ENV).await;
    let t = team(&server).await;
    use_webhook(&server, &t.bob, &receiver, "hook-secret-4").await;

    let started = std::time::Instant::now();
    for n in 1..=10 {
        server
            .send_message(&t.alice, t.room, &format!("message {n}"))
            .await;
    }
    assert!(
        started.elapsed() < Duration::from_millis(COALESCE_MS),
        "the burst took {:?}, longer than the coalescing window",
        started.elapsed()
    );
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].body["title"], "10 new messages in #general");
    assert_eq!(got[0].body["message"], "alice: message 10");
    assert_eq!(got[0].body["count"], 10);
    tokio::time::sleep(SILENCE).await;
    assert_eq!(receiver.accepted().len(), 1);
}

#[tokio::test]
async fn a_user_looking_at_the_room_is_not_pushed_until_the_page_is_hidden() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(NOTIFY_ENV).await;
    let t = team(&server).await;
    use_webhook(&server, &t.bob, &receiver, "hook-secret-5").await;
    let mut bob_ws = server.connect(&t.bob).await;
    let ack = bob_ws
        .call("f1", "focus", json!({"room_id": t.room, "visible": true}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");

    server
        .send_message(&t.alice, t.room, "you see this live")
        .await;
    tokio::time::sleep(SILENCE).await;
    assert_eq!(receiver.attempts(), 0, "{:?}", receiver.accepted());

    // The tab goes to the background: now Bob is pushed.
    let ack = bob_ws
        .call("f2", "focus", json!({"room_id": t.room, "visible": false}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    server.send_message(&t.alice, t.room, "now you don't").await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].body["message"], "now you don't");

    // Focusing a room one is not a member of is refused.
    let other = server.create_room(&t.alice, "secret", "private").await;
    let refused = bob_ws
        .call("f3", "focus", json!({"room_id": other, "visible": true}))
        .await;
    assert_eq!(refused["type"], "error", "{refused}");
}

/// Carol, in the room with the same webhook, shows what Bob would have got.
async fn with_carol(server: &TestServer, t: &Team, receiver: &Receiver) -> Session {
    let carol = server.register("carol").await;
    server.add_member(&t.alice, t.room, &carol, "member").await;
    use_webhook(server, &carol, receiver, "carol-token").await;
    carol
}

#[tokio::test]
async fn a_switched_off_event_type_sends_nothing() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(NOTIFY_ENV).await;
    let t = team(&server).await;
    with_carol(&server, &t, &receiver).await;
    save_settings(
        &server,
        &t.bob,
        json!({"backend": "webhook", "url": receiver.url, "topic": "", "token": "bob-token",
               "events": {"messages": false, "calls": true, "files": true, "invitations": true},
               "quiet_hours": null}),
    )
    .await;

    server
        .send_message(&t.alice, t.room, "only carol hears")
        .await;
    let got = receiver.wait_for(1).await;
    assert_eq!(bearer(&got[0]), "Bearer carol-token");
    tokio::time::sleep(SILENCE).await;
    assert_eq!(receiver.attempts(), 1, "{:?}", receiver.accepted());
}

#[tokio::test]
async fn quiet_hours_suppress_pushes() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(NOTIFY_ENV).await;
    let t = team(&server).await;
    with_carol(&server, &t, &receiver).await;
    // A window from an hour ago to an hour from now, in UTC.
    let now_minutes = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 60
        % (24 * 60)) as i64;
    let clock = |m: i64| {
        let m = m.rem_euclid(24 * 60);
        format!("{:02}:{:02}", m / 60, m % 60)
    };
    let saved = save_settings(
        &server,
        &t.bob,
        json!({"backend": "webhook", "url": receiver.url, "topic": "", "token": "bob-token",
               "events": all_events(),
               "quiet_hours": {"start": clock(now_minutes - 60), "end": clock(now_minutes + 60), "utc_offset_minutes": 0}}),
    )
    .await;
    assert_eq!(
        saved["quiet_hours"]["start"],
        clock(now_minutes - 60).as_str()
    );

    server.send_message(&t.alice, t.room, "shh").await;
    let got = receiver.wait_for(1).await;
    assert_eq!(bearer(&got[0]), "Bearer carol-token");
    tokio::time::sleep(SILENCE).await;
    assert_eq!(receiver.attempts(), 1, "{:?}", receiver.accepted());
}

#[tokio::test]
async fn bad_settings_are_refused_and_change_nothing() {
    let server = TestServer::start_with(NOTIFY_ENV).await;
    let alice = server.register("alice").await;
    let (status, defaults) = server.get("/api/v1/me/notifications", &alice.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        defaults,
        json!({"backend": "none", "url": "", "topic": "", "token_set": false,
               "events": all_events(), "quiet_hours": null, "server_default": "none"})
    );
    let good = save_settings(
        &server,
        &alice,
        json!({"backend": "gotify", "url": "https://push.example.org", "topic": "",
               "token": "AkeepThisToken", "events": all_events(), "quiet_hours": null}),
    )
    .await;

    let bad = [
        (json!({"backend": "gotify", "url": "", "topic": ""}), "URL"),
        (
            json!({"backend": "webhook", "url": "ftp://example.org/x", "topic": ""}),
            "http",
        ),
        (
            json!({"backend": "webhook", "url": "javascript:alert(1)", "topic": ""}),
            "http",
        ),
        (
            json!({"backend": "ntfy", "url": "https://ntfy.example.org", "topic": ""}),
            "topic",
        ),
        (
            json!({"backend": "ntfy", "url": "https://ntfy.example.org", "topic": "a/b"}),
            "topic",
        ),
        (
            json!({"backend": "pigeon", "url": "https://example.org", "topic": ""}),
            "backend",
        ),
    ];
    for (partial, mentions) in bad {
        let mut update = partial.clone();
        update["events"] = all_events();
        update["quiet_hours"] = Value::Null;
        update["token"] = json!("AnotherToken");
        let (status, body) = server
            .request(
                reqwest::Method::PUT,
                "/api/v1/me/notifications",
                Some(&alice.token),
                Some(update),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{partial}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(mentions),
            "{partial}: {body}"
        );
    }
    for quiet in [
        json!({"start": "25:00", "end": "07:00", "utc_offset_minutes": 0}),
        json!({"start": "22:00", "end": "22:00", "utc_offset_minutes": 0}),
        json!({"start": "22:00", "end": "07:00", "utc_offset_minutes": 5000}),
    ] {
        let (status, body) = server
            .request(
                reqwest::Method::PUT,
                "/api/v1/me/notifications",
                Some(&alice.token),
                Some(json!({"backend": "none", "url": "", "topic": "", "events": all_events(), "quiet_hours": quiet})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{quiet}: {body}");
    }
    let (_, after) = server.get("/api/v1/me/notifications", &alice.token).await;
    assert_eq!(after, good, "a refused update changed the settings");

    // `null` keeps the stored token, `""` clears it.
    let mut keep = json!({"backend": "gotify", "url": "https://push.example.org", "topic": "",
                          "token": null, "events": all_events(), "quiet_hours": null});
    assert_eq!(
        save_settings(&server, &alice, keep.clone()).await["token_set"],
        true
    );
    keep["token"] = json!("");
    assert_eq!(
        save_settings(&server, &alice, keep).await["token_set"],
        false
    );
}

#[tokio::test]
async fn settings_are_private_to_their_owner() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(NOTIFY_ENV).await;
    let t = team(&server).await;
    use_webhook(&server, &t.bob, &receiver, "bob-private").await;

    let (status, _) = server
        .request(reqwest::Method::GET, "/api/v1/me/notifications", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = server
        .request(
            reqwest::Method::PUT,
            "/api/v1/me/notifications",
            None,
            Some(json!({"backend": "none", "url": "", "topic": "", "events": all_events(), "quiet_hours": null})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Alice only ever sees and changes her own.
    let (_, alice_view) = server.get("/api/v1/me/notifications", &t.alice.token).await;
    assert_eq!(alice_view["backend"], "none");
    save_settings(
        &server,
        &t.alice,
        json!({"backend": "none", "url": "", "topic": "", "token": "", "events":
               {"messages": false, "calls": false, "files": false, "invitations": false}, "quiet_hours": null}),
    )
    .await;
    let (_, bob_view) = server.get("/api/v1/me/notifications", &t.bob.token).await;
    assert_eq!(bob_view["backend"], "webhook");
    assert_eq!(bob_view["token_set"], true);
    assert_eq!(bob_view["events"], all_events());
    server
        .send_message(&t.alice, t.room, "still reaches bob")
        .await;
    let got = receiver.wait_for(1).await;
    assert_eq!(bearer(&got[0]), "Bearer bob-private");
}

#[tokio::test]
async fn the_test_button_reports_what_the_receiver_answered() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(NOTIFY_ENV).await;
    let alice = server.register("alice").await;
    let (status, result) = server
        .post("/api/v1/me/notifications/test", &alice.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(result["delivered"], false);
    assert!(result["error"]
        .as_str()
        .unwrap()
        .contains("No notification backend"));

    use_webhook(&server, &alice, &receiver, "secret-test-token").await;
    let (_, result) = server
        .post("/api/v1/me/notifications/test", &alice.token, json!({}))
        .await;
    assert_eq!(result, json!({"delivered": true, "error": null}));
    assert_eq!(receiver.accepted()[0].body["event"], "test");

    receiver.refuse(1, 401);
    let (_, result) = server
        .post("/api/v1/me/notifications/test", &alice.token, json!({}))
        .await;
    assert_eq!(
        result,
        json!({"delivered": false, "error": "receiver answered 401"})
    );
}

#[tokio::test]
async fn users_cannot_point_notifications_into_the_servers_network() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(&private_refused_env()).await;
    let alice = server.register("alice").await;
    let webhook = |url: String| {
        json!({"backend": "webhook", "url": url, "topic": "", "token": "tk",
               "events": all_events(), "quiet_hours": null})
    };

    // An address: refused when saved, and nothing changes.
    for url in [
        format!("{}/hook", receiver.url),
        "http://169.254.169.254/latest".into(),
        "http://[::ffff:10.0.0.1]/".into(),
    ] {
        let (status, body) = server
            .request(
                reqwest::Method::PUT,
                "/api/v1/me/notifications",
                Some(&alice.token),
                Some(webhook(url.clone())),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains("private"),
            "{body}"
        );
    }
    let (_, after) = server.get("/api/v1/me/notifications", &alice.token).await;
    assert_eq!(after["backend"], "none");

    // A name that resolves to one: refused when the request is made.
    let port = receiver.url.rsplit(':').next().unwrap();
    save_settings(
        &server,
        &alice,
        webhook(format!("http://localhost:{port}/hook")),
    )
    .await;
    let (_, result) = server
        .post("/api/v1/me/notifications/test", &alice.token, json!({}))
        .await;
    assert_eq!(result["delivered"], false);
    assert!(
        result["error"]
            .as_str()
            .unwrap()
            .contains("private or reserved address"),
        "{result}"
    );
    assert_eq!(receiver.attempts(), 0, "the receiver was reached");
}

#[tokio::test]
async fn the_server_default_pushes_users_without_settings_of_their_own() {
    let receiver = Receiver::start().await;
    // The administrator's receiver may be on a private address even when
    // users' may not.
    let mut env = private_refused_env();
    let url = receiver.url.clone();
    env.extend([
        ("MESH_NOTIFY_BACKEND", "ntfy"),
        ("MESH_NOTIFY_URL", url.as_str()),
        ("MESH_NOTIFY_TOPIC", "team-{username}"),
        ("MESH_NOTIFY_TOKEN", "tk_serverwide"),
    ]);
    let server = TestServer::start_with(&env).await;
    let t = team(&server).await;
    let (_, bob_view) = server.get("/api/v1/me/notifications", &t.bob.token).await;
    assert_eq!(bob_view["server_default"], "ntfy");
    assert_eq!(bob_view["backend"], "none");

    server
        .send_message(&t.alice, t.room, "via the default")
        .await;
    // Alice hears that Bob used her invitation; Bob hears of her message.
    let got = receiver.wait_for(2).await;
    let to = |topic: &str| got.iter().find(|r| r.body["topic"] == topic).unwrap();
    assert_eq!(to("team-alice").body["title"], "bob joined #general");
    assert_eq!(to("team-bob").body["message"], "via the default");
    assert_eq!(bearer(to("team-bob")), "Bearer tk_serverwide");
}

#[tokio::test]
async fn sessions_are_listed_and_a_revoked_one_stops_working_everywhere() {
    let server = TestServer::start().await;
    let first = server.register("alice").await;
    let (status, body) = server
        .http
        .post(format!("{}/api/v1/auth/login", server.url))
        .header("user-agent", "Firefox/140 test")
        .json(&json!({"login": "alice", "password": "password-alice"}))
        .send()
        .await
        .map(|r| (r.status(), r))
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    let second = Session::from_auth(&body.json::<Value>().await.unwrap());

    let (status, list) = server.get("/api/v1/auth/sessions", &first.token).await;
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 2, "{list:?}");
    let mine = list.iter().find(|s| s["current"] == true).unwrap();
    let other = list.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(other["user_agent"], "Firefox/140 test");
    assert!(other["last_seen_at"].as_i64().unwrap() >= other["created_at"].as_i64().unwrap());
    assert!(mine["created_at"].as_i64().unwrap() > 0);
    let other_id = other["id"].as_i64().unwrap();

    // Bob cannot see or end Alice's sessions.
    let bob = server.register("bob").await;
    let (_, bobs) = server.get("/api/v1/auth/sessions", &bob.token).await;
    assert_eq!(bobs.as_array().unwrap().len(), 1);
    let (status, _) = server
        .delete(&format!("/api/v1/auth/sessions/{other_id}"), &bob.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let mut ws = server.connect(&second).await;
    let (status, _) = server
        .delete(&format!("/api/v1/auth/sessions/{other_id}"), &first.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(ws.closed_with().await, Some(4001));
    let (status, _) = server.get("/api/v1/me", &second.token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = server
        .request(
            reqwest::Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": second.refresh})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, list) = server.get("/api/v1/auth/sessions", &first.token).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (status, _) = server
        .delete(&format!("/api/v1/auth/sessions/{other_id}"), &first.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "already revoked");
}

/// Starts a server whose standard error goes to `log` instead of the test's:
/// the child inherits file descriptor 2 while it is redirected.
async fn start_logging_to(log: &std::fs::File, env: &[(&str, &str)]) -> TestServer {
    use std::os::fd::AsRawFd;
    static STDERR: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _only_one = STDERR.lock().await;
    // SAFETY: dup/dup2 on valid descriptors; fd 2 is restored right after.
    let saved = unsafe { libc::dup(2) };
    assert!(saved >= 0);
    assert!(unsafe { libc::dup2(log.as_raw_fd(), 2) } >= 0);
    let server = TestServer::start_with(env).await;
    unsafe {
        libc::dup2(saved, 2);
        libc::close(saved);
    }
    server
}

#[tokio::test]
async fn tokens_never_appear_in_the_log() {
    let receiver = Receiver::start().await;
    let log_file = tempfile::NamedTempFile::new().unwrap();
    let mut env = NOTIFY_ENV.to_vec();
    env.push(("MESH_LOG", "debug"));
    let server = start_logging_to(log_file.as_file(), &env).await;
    let t = team(&server).await;
    const TOKEN: &str = "Zq9-never-log-this-token";
    // The token in a header and, carelessly, in the URL too.
    save_settings(
        &server,
        &t.bob,
        json!({"backend": "gotify", "url": format!("{}/gotify?token={TOKEN}", receiver.url),
               "topic": "", "token": TOKEN, "events": all_events(), "quiet_hours": null}),
    )
    .await;
    receiver.refuse(2, 500);
    server.send_message(&t.alice, t.room, "log me not").await;
    receiver.wait_for(1).await;
    server
        .post("/api/v1/me/notifications/test", &t.bob.token, json!({}))
        .await;
    drop(server);

    let log = std::fs::read_to_string(log_file.path()).unwrap();
    assert!(
        log.contains("notification delivered"),
        "the log was not captured: {log}"
    );
    assert!(log.contains("will retry"), "{log}");
    assert!(!log.contains(TOKEN), "the token is in the log:\n{log}");
}
