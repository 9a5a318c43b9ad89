//! Chat history, idempotency, unread counts and durability.

mod common;

use std::time::Duration;

use common::TestServer;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn history_pages_backwards_and_catches_up_forwards() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let room = server.create_room(&alice, "general", "public").await;
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(
            server
                .send_message(&alice, room, &format!("message {i}"))
                .await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    let path = format!("/api/v1/rooms/{room}/messages");

    let (_, newest) = server.get(&format!("{path}?limit=10"), &alice.token).await;
    let page: Vec<i64> = newest["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(page, ids[15..]);
    assert_eq!(newest["has_more"], true);

    let (_, older) = server
        .get(&format!("{path}?limit=10&before={}", ids[15]), &alice.token)
        .await;
    let page: Vec<i64> = older["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(page, ids[5..15]);
    assert_eq!(older["has_more"], true);

    let (_, oldest) = server
        .get(&format!("{path}?limit=10&before={}", ids[5]), &alice.token)
        .await;
    assert_eq!(oldest["messages"].as_array().unwrap().len(), 5);
    assert_eq!(oldest["has_more"], false);
    assert_eq!(oldest["messages"][0]["body"], "message 0");

    let (_, after) = server
        .get(&format!("{path}?after={}&limit=3", ids[20]), &alice.token)
        .await;
    let page: Vec<i64> = after["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(page, ids[21..24]);
    assert_eq!(after["has_more"], true);

    for bad in [
        "?limit=0",
        "?limit=101",
        "?limit=abc",
        "?before=1&after=2",
        "?before=x",
    ] {
        let (status, error) = server.get(&format!("{path}{bad}"), &alice.token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {error}");
    }
}

#[tokio::test]
async fn resending_a_client_id_never_duplicates() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let room = server.create_room(&alice, "general", "private").await;
    let path = format!("/api/v1/rooms/{room}/messages");
    let (first, original) = server
        .post(
            &path,
            &alice.token,
            json!({"client_id": "same", "body": "once"}),
        )
        .await;
    let (second, again) = server
        .post(
            &path,
            &alice.token,
            json!({"client_id": "same", "body": "once"}),
        )
        .await;
    assert_eq!(first, StatusCode::CREATED);
    assert_eq!(second, StatusCode::OK);
    assert_eq!(original, again);
    let mut ws = server.connect(&alice).await;
    let ack = ws
        .call(
            "r1",
            "message.send",
            json!({"room_id": room, "client_id": "same", "body": "once"}),
        )
        .await;
    assert_eq!(ack["type"], "ack");
    assert_eq!(ack["payload"]["id"], original["id"]);
    let (_, page) = server.get(&path, &alice.token).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn message_bodies_are_validated_and_stored_as_text() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let room = server.create_room(&alice, "general", "private").await;
    let path = format!("/api/v1/rooms/{room}/messages");
    let html = "<script>alert(1)</script> **bold** <img src=x onerror=alert(1)>";
    let (status, message) = server
        .post(&path, &alice.token, json!({"client_id": "h", "body": html}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(message["body"], html, "stored verbatim, as text");
    let too_long = "x".repeat(mesh_proto::MAX_MESSAGE_CHARS + 1);
    let (status, error) = server
        .post(
            &path,
            &alice.token,
            json!({"client_id": "l", "body": too_long}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{error}");
    for bad in [
        json!({"client_id": "e", "body": "   "}),
        json!({"client_id": "", "body": "x"}),
        json!({"client_id": "x".repeat(65), "body": "x"}),
    ] {
        let (status, error) = server.post(&path, &alice.token, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {error}");
        assert_eq!(error["code"], "validation");
    }
    let (_, page) = server.get(&path, &alice.token).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn unread_counts_what_others_wrote_since_the_read_marker() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let room = server.create_room(&alice, "general", "private").await;
    server.send_message(&alice, room, "before bob joined").await;
    server.add_member(&alice, room, &bob, "member").await;
    let unread = |rooms: serde_json::Value| rooms[0]["unread"].as_i64().unwrap();
    assert_eq!(
        unread(server.get("/api/v1/rooms", &bob.token).await.1),
        0,
        "joining starts with nothing unread"
    );

    server.send_message(&bob, room, "bob's own").await;
    assert_eq!(unread(server.get("/api/v1/rooms", &alice.token).await.1), 1);
    server.send_message(&alice, room, "one").await;
    let last = server.send_message(&alice, room, "two").await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(unread(server.get("/api/v1/rooms", &bob.token).await.1), 2);
    assert_eq!(
        unread(server.get("/api/v1/rooms", &alice.token).await.1),
        0,
        "writing in a room reads it"
    );

    let (status, _) = server
        .post(
            &format!("/api/v1/rooms/{room}/read"),
            &bob.token,
            json!({"message_id": last}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(unread(server.get("/api/v1/rooms", &bob.token).await.1), 0);
    // The marker never moves back.
    server
        .post(
            &format!("/api/v1/rooms/{room}/read"),
            &bob.token,
            json!({"message_id": 1}),
        )
        .await;
    assert_eq!(unread(server.get("/api/v1/rooms", &bob.token).await.1), 0);
}

#[tokio::test]
async fn history_survives_a_restart() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice").await;
    let room = server.create_room(&alice, "general", "private").await;
    for i in 0..5 {
        server
            .send_message(&alice, room, &format!("kept {i}"))
            .await;
    }
    server.restart();
    let alice = server.login("alice").await;
    let (_, page) = server
        .get(&format!("/api/v1/rooms/{room}/messages"), &alice.token)
        .await;
    let bodies: Vec<_> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        bodies,
        (0..5).map(|i| format!("kept {i}")).collect::<Vec<_>>()
    );
}

/// Acknowledged means durable: SIGKILL in the middle of a burst loses none of
/// the messages the server had acknowledged.
#[tokio::test]
async fn no_acknowledged_message_is_lost_when_the_server_is_killed() {
    const CONNECTIONS: usize = 20;
    // Each connection's burst stays within the per-connection rate limit.
    const PER_CONNECTION: usize = 20;
    let mut server = TestServer::start().await;
    let alice = server.register("alice").await;
    let room = server.create_room(&alice, "general", "private").await;

    let acked_so_far = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut connections = Vec::new();
    for _ in 0..CONNECTIONS {
        connections.push(server.connect(&alice).await);
    }
    let mut writers = Vec::new();
    for (c, mut ws) in connections.into_iter().enumerate() {
        let acked_so_far = acked_so_far.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..PER_CONNECTION {
                ws.send(json!({"v": 1, "id": format!("m{i}"), "type": "message.send",
                    "payload": {"room_id": room, "client_id": format!("burst-{c}-{i}"), "body": format!("burst {c} {i}")}}))
                    .await;
            }
            let mut acked = Vec::new();
            loop {
                match ws.receive().await {
                    common::Received::Frame(frame) if frame["type"] == "ack" => {
                        acked.push(frame["payload"]["client_id"].as_str().unwrap().to_owned());
                        acked_so_far.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        if acked.len() == PER_CONNECTION {
                            return acked;
                        }
                    }
                    common::Received::Frame(frame) if frame["type"] == "error" => panic!("unexpected error {frame}"),
                    common::Received::Frame(_) => continue,
                    common::Received::Closed(_) => return acked,
                }
            }
        }));
    }
    // Let part of the burst through, then pull the plug.
    while acked_so_far.load(std::sync::atomic::Ordering::SeqCst) < 40 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    server.kill();
    let mut acks = Vec::new();
    for writer in writers {
        acks.extend(writer.await.unwrap());
    }
    let sent = CONNECTIONS * PER_CONNECTION;
    eprintln!(
        "acknowledged {} of {sent} messages before SIGKILL",
        acks.len()
    );
    assert!(
        acks.len() >= 40 && acks.len() < sent,
        "the kill landed mid-burst"
    );

    server.start_again();
    let alice = server.login("alice").await;
    let mut stored = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let cursor = before.map(|b| format!("&before={b}")).unwrap_or_default();
        let (_, page) = server
            .get(
                &format!("/api/v1/rooms/{room}/messages?limit=100{cursor}"),
                &alice.token,
            )
            .await;
        let messages = page["messages"].as_array().unwrap();
        stored.extend(
            messages
                .iter()
                .map(|m| m["client_id"].as_str().unwrap().to_owned()),
        );
        if page["has_more"] != true {
            break;
        }
        before = messages.first().and_then(|m| m["id"].as_i64());
    }
    for acked in &acks {
        assert!(
            stored.contains(acked),
            "acknowledged message {acked} was lost"
        );
    }
    assert!(stored.len() <= sent, "nothing was duplicated");
}
