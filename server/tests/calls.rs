//! Call membership and signaling: only participants of the same call can
//! reach each other, bad signals are refused, and a dropped connection can
//! come back without the others seeing it leave.

mod common;

use std::time::Duration;

use common::{Session, TestServer, Ws};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn media() -> Value {
    json!({"audio": true, "video": true, "screen": false})
}

async fn join(ws: &mut Ws, room: i64) -> String {
    let joined = ws
        .call(
            "join",
            "call.join",
            json!({"room_id": room, "media": media()}),
        )
        .await;
    assert_eq!(joined["type"], "call.joined", "{joined}");
    joined["payload"]["participant_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn participant_ids(state: &Value) -> Vec<String> {
    state["payload"]["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["participant_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits for a call.state of `room` listing exactly `expected`, and returns it.
async fn wait_for_state(ws: &mut Ws, room: i64, expected: &[&str]) -> Value {
    loop {
        let state = ws.next_of("call.state").await;
        if state["payload"]["room_id"] == room && participant_ids(&state) == expected {
            return state;
        }
    }
}

struct Trio {
    alice: Session,
    bob: Session,
    carol: Session,
    outsider: Session,
    room: i64,
}

async fn trio(server: &TestServer) -> Trio {
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let carol = server.register("carol").await;
    let outsider = server.register("outsider").await;
    let room = server.create_room(&alice, "standup", "private").await;
    server.add_member(&alice, room, &bob, "member").await;
    server.add_member(&alice, room, &carol, "guest").await;
    Trio {
        alice,
        bob,
        carol,
        outsider,
        room,
    }
}

fn offer(sdp_len: usize) -> Value {
    json!({"description": {"type": "offer", "sdp": "v=0\r\n".to_owned() + &"a".repeat(sdp_len)}})
}

#[tokio::test]
async fn joining_rings_the_room_and_everyone_sees_who_is_in() {
    let server = TestServer::start().await;
    let t = trio(&server).await;
    let mut alice = server.connect(&t.alice).await;
    let mut bob = server.connect(&t.bob).await;

    let joined = alice
        .call(
            "j",
            "call.join",
            json!({"room_id": t.room, "media": media()}),
        )
        .await;
    assert_eq!(joined["type"], "call.joined");
    assert_eq!(joined["payload"]["call"]["topology"]["mode"], "mesh");
    assert!(joined["payload"]["ice_servers"].is_array());
    let alice_id = joined["payload"]["participant_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The ring comes first, then the state it announces.
    let ring = bob.next_of("call.ring").await;
    assert_eq!(ring["payload"]["username"], "alice");
    wait_for_state(&mut bob, t.room, &[&alice_id]).await;
    let bob_id = join(&mut bob, t.room).await;
    wait_for_state(&mut alice, t.room, &[&alice_id, &bob_id]).await;

    let (status, state) = server
        .get(&format!("/api/v1/rooms/{}/call", t.room), &t.carol.token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["participants"].as_array().unwrap().len(), 2);
    assert_eq!(
        server
            .get(&format!("/api/v1/rooms/{}/call", t.room), &t.outsider.token)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (_, members) = server
        .get(&format!("/api/v1/rooms/{}/members", t.room), &t.carol.token)
        .await;
    let alice_presence = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["username"] == "alice")
        .unwrap()["presence"]
        .clone();
    assert_eq!(alice_presence, "busy", "in a call shows as busy");

    // A late connection learns about the call on connecting.
    let mut carol = server.connect(&t.carol).await;
    wait_for_state(&mut carol, t.room, &[&alice_id, &bob_id]).await;

    let reply = alice
        .call("l", "call.leave", json!({"room_id": t.room}))
        .await;
    assert_eq!(reply["type"], "ack");
    wait_for_state(&mut bob, t.room, &[&bob_id]).await;
}

#[tokio::test]
async fn outsiders_cannot_join_or_signal() {
    let server = TestServer::start().await;
    let t = trio(&server).await;
    let mut alice = server.connect(&t.alice).await;
    let alice_id = join(&mut alice, t.room).await;
    let mut outsider = server.connect(&t.outsider).await;
    let reply = outsider
        .call(
            "j",
            "call.join",
            json!({"room_id": t.room, "media": media()}),
        )
        .await;
    assert_eq!(reply["payload"]["code"], "not_found");
    let reply = outsider
        .call(
            "s",
            "call.signal",
            json!({"room_id": t.room, "to": alice_id, "signal": offer(10)}),
        )
        .await;
    assert_eq!(reply["payload"]["code"], "not_in_call");
    assert!(
        !alice
            .sees_within("call.signal", Duration::from_millis(300))
            .await
    );
}

#[tokio::test]
async fn signals_go_only_to_their_target_within_the_same_call() {
    let server = TestServer::start().await;
    let t = trio(&server).await;
    let mut alice = server.connect(&t.alice).await;
    let mut bob = server.connect(&t.bob).await;
    let mut carol = server.connect(&t.carol).await;
    let alice_id = join(&mut alice, t.room).await;
    let bob_id = join(&mut bob, t.room).await;

    // Carol is a member of the room but not in the call.
    let reply = carol
        .call(
            "s",
            "call.signal",
            json!({"room_id": t.room, "to": alice_id, "signal": offer(10)}),
        )
        .await;
    assert_eq!(reply["payload"]["code"], "not_in_call");
    let carol_id = join(&mut carol, t.room).await;

    let candidate = json!({"candidate": {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}});
    let reply = bob
        .call(
            "s1",
            "call.signal",
            json!({"room_id": t.room, "to": alice_id, "signal": candidate}),
        )
        .await;
    assert_eq!(reply["type"], "ack", "{reply}");
    let received = alice.next_of("call.signal").await;
    assert_eq!(received["payload"]["from"], bob_id);
    assert_eq!(received["payload"]["signal"], candidate);
    assert!(
        !carol
            .sees_within("call.signal", Duration::from_millis(300))
            .await,
        "only the target gets it"
    );

    let reply = bob
        .call(
            "s2",
            "call.signal",
            json!({"room_id": t.room, "to": "nobody", "signal": offer(10)}),
        )
        .await;
    assert_eq!(reply["payload"]["code"], "not_found");
    let reply = bob
        .call(
            "s3",
            "call.signal",
            json!({"room_id": t.room, "to": bob_id, "signal": offer(10)}),
        )
        .await;
    assert_eq!(reply["payload"]["code"], "validation");

    // A participant of another room's call cannot reach into this one.
    let other_room = server.create_room(&t.carol, "elsewhere", "private").await;
    let mut carol_tab = server.connect(&t.carol).await;
    join(&mut carol_tab, other_room).await;
    let reply = carol_tab
        .call(
            "x",
            "call.signal",
            json!({"room_id": other_room, "to": alice_id, "signal": offer(10)}),
        )
        .await;
    assert_eq!(reply["payload"]["code"], "not_found");
    let _ = carol_id;
}

#[tokio::test]
async fn malformed_and_oversized_signals_are_refused_and_the_call_goes_on() {
    let server = TestServer::start().await;
    let t = trio(&server).await;
    let mut alice = server.connect(&t.alice).await;
    let mut bob = server.connect(&t.bob).await;
    let alice_id = join(&mut alice, t.room).await;
    join(&mut bob, t.room).await;

    let cases = [
        (
            json!({"description": {"type": "bogus", "sdp": "x"}}),
            "invalid_event",
        ),
        (json!({"telepathy": true}), "invalid_event"),
        (json!({"candidate": {"candidate": 5}}), "invalid_event"),
        (offer(mesh_proto::MAX_SDP_BYTES + 1), "payload_too_large"),
        (
            json!({"candidate": {"candidate": "x".repeat(mesh_proto::MAX_CANDIDATE_BYTES + 1)}}),
            "payload_too_large",
        ),
    ];
    for (signal, code) in cases {
        let reply = bob
            .call(
                "bad",
                "call.signal",
                json!({"room_id": t.room, "to": alice_id, "signal": signal}),
            )
            .await;
        assert_eq!(reply["payload"]["code"], code, "{reply}");
    }
    assert!(
        !alice
            .sees_within("call.signal", Duration::from_millis(200))
            .await
    );
    let reply = bob
        .call(
            "ok",
            "call.signal",
            json!({"room_id": t.room, "to": alice_id, "signal": offer(2000)}),
        )
        .await;
    assert_eq!(reply["type"], "ack");
    assert_eq!(
        alice.next_of("call.signal").await["payload"]["signal"]["description"]["type"],
        "offer"
    );
}

#[tokio::test]
async fn a_dropped_connection_resumes_its_place_without_the_others_seeing_it_leave() {
    let server = TestServer::start().await;
    let t = trio(&server).await;
    let mut alice = server.connect(&t.alice).await;
    let mut bob = server.connect(&t.bob).await;
    let alice_id = join(&mut alice, t.room).await;
    let bob_id = join(&mut bob, t.room).await;
    wait_for_state(&mut alice, t.room, &[&alice_id, &bob_id]).await;

    drop(bob); // the TCP connection dies without a close frame
    assert!(
        !alice
            .sees_within("call.state", Duration::from_millis(700))
            .await,
        "nobody saw bob leave"
    );

    let mut bob = server.connect(&t.bob).await;
    let joined = bob
        .call(
            "r",
            "call.join",
            json!({"room_id": t.room, "media": media(), "resume": bob_id}),
        )
        .await;
    assert_eq!(
        joined["payload"]["participant_id"], bob_id,
        "same participant"
    );
    // Signaling reaches the resumed tab.
    alice
        .call(
            "s",
            "call.signal",
            json!({"room_id": t.room, "to": bob_id, "signal": offer(10)}),
        )
        .await;
    assert_eq!(
        bob.next_of("call.signal").await["payload"]["from"],
        alice_id
    );

    // Closing the tab ("going away") leaves at once.
    bob.close_with(1001).await;
    wait_for_state(&mut alice, t.room, &[&alice_id]).await;
}

#[tokio::test]
async fn a_connection_that_does_not_come_back_leaves_after_the_grace() {
    let server = TestServer::start_with(&[("MESH_CALL_RESUME_GRACE", "1")]).await;
    let t = trio(&server).await;
    let mut alice = server.connect(&t.alice).await;
    let mut bob = server.connect(&t.bob).await;
    let alice_id = join(&mut alice, t.room).await;
    let bob_id = join(&mut bob, t.room).await;
    wait_for_state(&mut alice, t.room, &[&alice_id, &bob_id]).await;
    drop(bob);
    wait_for_state(&mut alice, t.room, &[&alice_id]).await;
    let (_, members) = server
        .get(&format!("/api/v1/rooms/{}/members", t.room), &t.alice.token)
        .await;
    let bob_presence = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["username"] == "bob")
        .unwrap()["presence"]
        .clone();
    assert_eq!(bob_presence, "offline");
}

#[tokio::test]
async fn removing_a_member_takes_them_out_of_the_call() {
    let server = TestServer::start().await;
    let t = trio(&server).await;
    let mut alice = server.connect(&t.alice).await;
    let mut bob = server.connect(&t.bob).await;
    let alice_id = join(&mut alice, t.room).await;
    let bob_id = join(&mut bob, t.room).await;
    wait_for_state(&mut alice, t.room, &[&alice_id, &bob_id]).await;
    server
        .delete(
            &format!("/api/v1/rooms/{}/members/{}", t.room, t.bob.user_id),
            &t.alice.token,
        )
        .await;
    wait_for_state(&mut alice, t.room, &[&alice_id]).await;
    let reply = bob
        .call(
            "j",
            "call.join",
            json!({"room_id": t.room, "media": media()}),
        )
        .await;
    assert_eq!(reply["payload"]["code"], "not_found");
}

#[tokio::test]
async fn media_changes_are_announced() {
    let server = TestServer::start().await;
    let t = trio(&server).await;
    let mut alice = server.connect(&t.alice).await;
    let mut bob = server.connect(&t.bob).await;
    let alice_id = join(&mut alice, t.room).await;
    let bob_id = join(&mut bob, t.room).await;
    wait_for_state(&mut alice, t.room, &[&alice_id, &bob_id]).await;
    bob.call(
        "m",
        "call.media",
        json!({"room_id": t.room, "media": {"audio": false, "video": true, "screen": true}}),
    )
    .await;
    let state = alice.next_of("call.state").await;
    let bob_media = state["payload"]["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["username"] == "bob")
        .unwrap()["media"]
        .clone();
    assert_eq!(
        bob_media,
        json!({"audio": false, "video": true, "screen": true})
    );
    let (status, servers) = server.get("/api/v1/ice-servers", &t.alice.token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(servers["ice_servers"].is_array());
}
