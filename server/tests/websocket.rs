//! The WebSocket protocol: authentication, real-time fan-out, typing,
//! presence, bad input, flooding, revocation and shutdown.

mod common;

use std::time::Duration;

use common::TestServer;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[tokio::test]
async fn the_first_frame_must_authenticate() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;

    let mut ws = common::Ws::open(&server.ws_url()).await;
    ws.send(json!({"v": 1, "id": "x", "type": "ping"})).await;
    let error = ws.next().await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["payload"]["code"], "unauthorized");
    assert_eq!(ws.closed_with().await, Some(4001));

    let mut ws = common::Ws::open(&server.ws_url()).await;
    ws.send(json!({"v": 1, "id": "a", "type": "auth", "payload": {"token": "forged.token.here"}}))
        .await;
    assert_eq!(ws.next().await["id"], "a");
    assert_eq!(ws.closed_with().await, Some(4001));

    let mut ws = server.connect(&alice).await;
    let reply = ws.call("p", "ping", json!(null)).await;
    assert_eq!(reply["type"], "ack");
}

#[tokio::test]
async fn messages_reach_every_member_in_real_time_and_only_members() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let eve = server.register("eve").await;
    let room = server.create_room(&alice, "general", "private").await;
    server.add_member(&alice, room, &bob, "member").await;
    let mut alice_ws = server.connect(&alice).await;
    let mut alice_tab2 = server.connect(&alice).await;
    let mut bob_ws = server.connect(&bob).await;
    let mut eve_ws = server.connect(&eve).await;

    let ack = alice_ws
        .call(
            "s1",
            "message.send",
            json!({"room_id": room, "client_id": "c1", "body": "hello bob"}),
        )
        .await;
    assert_eq!(ack["type"], "ack");
    assert_eq!(ack["payload"]["body"], "hello bob");
    let id = ack["payload"]["id"].clone();

    let received = bob_ws.next_of("message.new").await;
    assert_eq!(received["payload"]["id"], id);
    assert_eq!(received["payload"]["author"], "alice");
    assert_eq!(
        alice_tab2.next_of("message.new").await["payload"]["id"],
        id,
        "the sender's other tabs too"
    );
    assert!(
        !eve_ws
            .sees_within("message.new", Duration::from_millis(300))
            .await
    );

    let edit = bob_ws
        .call(
            "e1",
            "message.edit",
            json!({"room_id": room, "message_id": id, "body": "hijack"}),
        )
        .await;
    assert_eq!(edit["payload"]["code"], "forbidden");
    let edit = alice_ws
        .call(
            "e2",
            "message.edit",
            json!({"room_id": room, "message_id": id, "body": "hello, bob"}),
        )
        .await;
    assert_eq!(edit["payload"]["body"], "hello, bob");
    assert_eq!(
        bob_ws.next_of("message.updated").await["payload"]["body"],
        "hello, bob"
    );
    alice_ws
        .call(
            "d1",
            "message.delete",
            json!({"room_id": room, "message_id": id}),
        )
        .await;
    assert_eq!(
        bob_ws.next_of("message.deleted").await["payload"]["message_id"],
        id
    );
}

#[tokio::test]
async fn typing_reaches_the_others_but_not_the_typist() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let room = server.create_room(&alice, "general", "private").await;
    server.add_member(&alice, room, &bob, "member").await;
    let mut alice_ws = server.connect(&alice).await;
    let mut bob_ws = server.connect(&bob).await;
    alice_ws.call("t", "typing", json!({"room_id": room})).await;
    let typing = bob_ws.next_of("typing").await;
    assert_eq!(typing["payload"]["username"], "alice");
    assert_eq!(typing["payload"]["room_id"], room);
    assert!(
        !alice_ws
            .sees_within("typing", Duration::from_millis(300))
            .await
    );
}

#[tokio::test]
async fn presence_goes_online_busy_and_offline() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let room = server.create_room(&alice, "general", "private").await;
    server.add_member(&alice, room, &bob, "member").await;
    let presence_of = |members: serde_json::Value, id: i64| {
        members
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["user_id"] == id)
            .unwrap()["presence"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let members_path = format!("/api/v1/rooms/{room}/members");
    assert_eq!(
        presence_of(server.get(&members_path, &alice.token).await.1, bob.user_id),
        "offline"
    );

    let mut alice_ws = server.connect(&alice).await;
    let bob_ws = server.connect(&bob).await;
    let online = presence_event_of(&mut alice_ws, bob.user_id).await;
    assert_eq!(online, "online");
    assert_eq!(
        presence_of(server.get(&members_path, &alice.token).await.1, bob.user_id),
        "online"
    );

    let mut bob_ws = bob_ws;
    bob_ws
        .call("b", "presence.set", json!({"status": "busy"}))
        .await;
    assert_eq!(presence_event_of(&mut alice_ws, bob.user_id).await, "busy");
    let refused = bob_ws
        .call("o", "presence.set", json!({"status": "offline"}))
        .await;
    assert_eq!(refused["payload"]["code"], "validation");

    drop(bob_ws);
    assert_eq!(
        presence_event_of(&mut alice_ws, bob.user_id).await,
        "offline"
    );
}

/// The status in the next presence event about `user_id`.
async fn presence_event_of(ws: &mut common::Ws, user_id: i64) -> String {
    loop {
        let event = ws.next_of("presence").await;
        if event["payload"]["user_id"] == user_id {
            return event["payload"]["status"].as_str().unwrap().to_owned();
        }
    }
}

#[tokio::test]
async fn bad_frames_get_clear_errors_and_change_nothing() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let room = server.create_room(&alice, "general", "private").await;
    let mut ws = server.connect(&alice).await;
    let cases = [
        ("{not json".to_owned(), "invalid_json"),
        ("[]".to_owned(), "invalid_event"),
        (json!({"v": 1, "id": "u", "type": "room.nuke", "payload": {}}).to_string(), "invalid_event"),
        (json!({"v": 1, "id": "w", "type": "message.send", "payload": {"room_id": "one", "client_id": "x", "body": "x"}}).to_string(), "invalid_event"),
        (json!({"v": 1, "id": "m", "type": "message.send", "payload": {"room_id": room}}).to_string(), "invalid_event"),
        (json!({"v": 1, "id": "n", "type": "message.send", "payload": {"room_id": 987654, "client_id": "x", "body": "x"}}).to_string(), "not_found"),
        (json!({"v": 1, "id": "e", "type": "message.send", "payload": {"room_id": room, "client_id": "x", "body": " "}}).to_string(), "validation"),
        (json!({"v": 1, "id": "a", "type": "auth", "payload": {"token": "again"}}).to_string(), "invalid_event"),
    ];
    for (text, code) in cases {
        ws.send_text(text.clone()).await;
        let reply = ws.next_of("error").await;
        assert_eq!(reply["payload"]["code"], code, "{text}: {reply}");
    }
    ws.send_raw(WsMessage::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(
        ws.next_of("error").await["payload"]["code"],
        "invalid_event"
    );
    // The connection still works and nothing was stored.
    assert_eq!(ws.call("p", "ping", json!(null)).await["type"], "ack");
    let (_, page) = server
        .get(&format!("/api/v1/rooms/{room}/messages"), &alice.token)
        .await;
    assert!(page["messages"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_wrong_protocol_version_is_refused() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let mut ws = server.connect(&alice).await;
    ws.send(json!({"v": 99, "id": "v", "type": "ping"})).await;
    let reply = ws.next().await;
    assert_eq!(reply["payload"]["code"], "unsupported_version");
    assert_eq!(ws.closed_with().await, Some(1002));
}

#[tokio::test]
async fn oversized_frames_close_the_connection_and_the_server_carries_on() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let mut ws = server.connect(&alice).await;
    let huge = "x".repeat(mesh_proto::MAX_WS_FRAME_BYTES + 1);
    let _ = ws.send_raw(WsMessage::Text(huge.into())).await;
    let code = ws.closed_with().await;
    assert!(matches!(code, None | Some(1009)), "closed with {code:?}");
    let mut again = server.connect(&alice).await;
    assert_eq!(again.call("p", "ping", json!(null)).await["type"], "ack");
}

#[tokio::test]
async fn floods_are_rate_limited_then_disconnected() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let room = server.create_room(&alice, "general", "private").await;
    let mut ws = server.connect(&alice).await;
    for i in 0..200 {
        ws.send(
            json!({"v": 1, "id": format!("t{i}"), "type": "typing", "payload": {"room_id": room}}),
        )
        .await;
    }
    let mut acks = 0;
    let mut limited = 0;
    let code = loop {
        match ws.receive().await {
            common::Received::Frame(frame) if frame["type"] == "ack" => acks += 1,
            common::Received::Frame(frame) if frame["payload"]["code"] == "rate_limited" => {
                limited += 1
            }
            common::Received::Frame(_) => {}
            common::Received::Closed(frame) => break frame.map(|f| u16::from(f.code)),
        }
    };
    assert!(acks >= 20, "the burst allowance was honoured ({acks})");
    assert!(limited > 0, "excess frames were refused");
    assert_eq!(
        code,
        Some(1008),
        "a client that keeps flooding is disconnected"
    );
    // Other clients are unaffected.
    let mut other = server.connect(&alice).await;
    assert_eq!(other.call("p", "ping", json!(null)).await["type"], "ack");
}

#[tokio::test]
async fn logout_closes_that_sessions_websockets() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let phone = server.login("alice").await;
    let mut laptop_ws = server.connect(&alice).await;
    let mut phone_ws = server.connect(&phone).await;
    server
        .post("/api/v1/auth/logout", &alice.token, json!({}))
        .await;
    assert_eq!(laptop_ws.closed_with().await, Some(4001));
    assert_eq!(
        phone_ws.call("p", "ping", json!(null)).await["type"],
        "ack",
        "other sessions stay connected"
    );
}

#[tokio::test]
async fn removed_members_and_deleted_rooms_are_announced() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let room = server.create_room(&alice, "general", "private").await;
    let mut bob_ws = server.connect(&bob).await;
    server.add_member(&alice, room, &bob, "member").await;
    let joined = bob_ws.next_of("room.updated").await;
    assert_eq!(joined["payload"]["room_id"], room);
    assert_eq!(joined["payload"]["role"], "member");
    server
        .delete(
            &format!("/api/v1/rooms/{room}/members/{}", bob.user_id),
            &alice.token,
        )
        .await;
    let left = bob_ws.next_of("member.left").await;
    assert_eq!(
        left["payload"],
        json!({"room_id": room, "user_id": bob.user_id})
    );
    let reply = bob_ws
        .call(
            "s",
            "message.send",
            json!({"room_id": room, "client_id": "late", "body": "still here?"}),
        )
        .await;
    assert_eq!(reply["payload"]["code"], "not_found");

    let mut alice_ws = server.connect(&alice).await;
    server
        .delete(&format!("/api/v1/rooms/{room}"), &alice.token)
        .await;
    assert_eq!(
        alice_ws.next_of("room.deleted").await["payload"]["room_id"],
        room
    );
}

#[tokio::test]
async fn sigterm_closes_websockets_with_going_away_and_exits_cleanly() {
    let mut server = TestServer::start().await;
    let alice = server.register("alice").await;
    let room = server.create_room(&alice, "general", "private").await;
    server.send_message(&alice, room, "before shutdown").await;
    let mut ws = server.connect(&alice).await;
    let closing = tokio::spawn(async move { ws.closed_with().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let status = server.terminate();
    assert!(status.success(), "mesh exited with {status}");
    assert_eq!(closing.await.unwrap(), Some(1001));
    // The WAL was checkpointed into the main database file.
    let wal = common::data_path(&server, "mesh.db-wal");
    assert!(std::fs::metadata(&wal)
        .map(|m| m.len() == 0)
        .unwrap_or(true));
}
