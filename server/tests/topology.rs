//! Calls move between mesh and the SFU as the server decides, and a browser
//! (here a str0m peer standing in for one) negotiates with the SFU through
//! `call.signal` and connects to it over loopback UDP.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Session, TestServer, Ws};
use reqwest::StatusCode;
use serde_json::{json, Value};
use str0m::change::SdpAnswer;
use str0m::media::{Direction, MediaKind};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

fn media() -> Value {
    json!({"audio": true, "video": true, "screen": false})
}

async fn join(ws: &mut Ws, room: i64) -> Value {
    let joined = ws
        .call(
            "join",
            "call.join",
            json!({"room_id": room, "media": media()}),
        )
        .await;
    assert_eq!(joined["type"], "call.joined", "{joined}");
    joined["payload"].clone()
}

/// Waits for a call.state of `room` whose topology is `mode`; returns it.
async fn wait_for_mode(ws: &mut Ws, room: i64, mode: &str) -> Value {
    loop {
        let state = ws.next_of("call.state").await;
        if state["payload"]["room_id"] == room && state["payload"]["topology"]["mode"] == mode {
            return state["payload"].clone();
        }
    }
}

async fn room_with(server: &TestServer, names: &[&str]) -> (Vec<Session>, i64) {
    let mut sessions = Vec::new();
    for name in names {
        sessions.push(server.register(name).await);
    }
    let room = server.create_room(&sessions[0], "standup", "private").await;
    for session in &sessions[1..] {
        server
            .add_member(&sessions[0], room, session, "member")
            .await;
    }
    (sessions, room)
}

#[tokio::test]
async fn switches_to_sfu_past_the_mesh_limit_and_back_after_the_hysteresis() {
    let server =
        TestServer::start_with(&[("MESH_MESH_LIMIT", "2"), ("MESH_SFU_HYSTERESIS", "1")]).await;
    let (people, room) = room_with(&server, &["alice", "bob", "carol"]).await;
    let mut alice = server.connect(&people[0]).await;
    let mut bob = server.connect(&people[1]).await;
    let mut carol = server.connect(&people[2]).await;

    let first = join(&mut alice, room).await;
    assert_eq!(
        first["call"]["topology"],
        json!({"mode": "mesh", "epoch": 1})
    );
    join(&mut bob, room).await;
    let third = join(&mut carol, room).await;
    assert_eq!(
        third["call"]["topology"],
        json!({"mode": "sfu", "epoch": 2}),
        "the third participant finds the SFU ready"
    );
    let seen = wait_for_mode(&mut alice, room, "sfu").await;
    assert_eq!(seen["topology"]["epoch"], 2);
    assert_eq!(seen["participants"].as_array().unwrap().len(), 3);

    // Mesh signals are still relayed during the switch (make-before-break).
    let bob_id = seen["participants"][1]["participant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let candidate = json!({"candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}});
    let reply = alice
        .call(
            "mesh",
            "call.signal",
            json!({"room_id": room, "to": bob_id, "signal": candidate}),
        )
        .await;
    assert_eq!(reply["type"], "ack");

    let left_at = Instant::now();
    carol
        .call("leave", "call.leave", json!({"room_id": room}))
        .await;
    let back = wait_for_mode(&mut alice, room, "mesh").await;
    let waited = left_at.elapsed();
    assert_eq!(back["topology"]["epoch"], 3);
    assert!(
        waited >= Duration::from_millis(800),
        "returned to mesh after {waited:?}, before the hysteresis"
    );
    assert!(
        waited < Duration::from_secs(5),
        "returned to mesh only after {waited:?}"
    );
}

#[tokio::test]
async fn a_rejoin_within_the_hysteresis_keeps_the_call_on_the_sfu() {
    let server =
        TestServer::start_with(&[("MESH_MESH_LIMIT", "2"), ("MESH_SFU_HYSTERESIS", "2")]).await;
    let (people, room) = room_with(&server, &["alice", "bob", "carol"]).await;
    let mut alice = server.connect(&people[0]).await;
    let mut bob = server.connect(&people[1]).await;
    let mut carol = server.connect(&people[2]).await;
    join(&mut alice, room).await;
    join(&mut bob, room).await;
    join(&mut carol, room).await;
    wait_for_mode(&mut alice, room, "sfu").await;
    // A reload: leave and come straight back.
    carol
        .call("leave", "call.leave", json!({"room_id": room}))
        .await;
    let again = join(&mut carol, room).await;
    assert_eq!(again["call"]["topology"]["mode"], "sfu");
    // Past the hysteresis: had the leave started the clock for good, the call
    // would be back on mesh by now.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let (_, state) = server
        .get(&format!("/api/v1/rooms/{room}/call"), &people[0].token)
        .await;
    assert_eq!(
        state["topology"],
        json!({"mode": "sfu", "epoch": 2}),
        "no flapping: still the same epoch"
    );
}

#[tokio::test]
async fn the_room_owner_chooses_the_topology() {
    let server = TestServer::start().await;
    let (people, room) = room_with(&server, &["alice", "bob"]).await;
    let mut alice = server.connect(&people[0]).await;
    join(&mut alice, room).await;
    let (status, _) = server
        .patch(
            &format!("/api/v1/rooms/{room}"),
            &people[1].token,
            json!({"call_topology": "sfu"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, updated) = server
        .patch(
            &format!("/api/v1/rooms/{room}"),
            &people[0].token,
            json!({"call_topology": "sfu"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["call_topology"], "sfu");
    let state = wait_for_mode(&mut alice, room, "sfu").await;
    assert_eq!(
        state["participants"].as_array().unwrap().len(),
        1,
        "even a call of one"
    );
    server
        .patch(
            &format!("/api/v1/rooms/{room}"),
            &people[0].token,
            json!({"call_topology": "mesh"}),
        )
        .await;
    wait_for_mode(&mut alice, room, "mesh").await;
}

#[tokio::test]
async fn signals_for_the_sfu_need_a_call_on_the_sfu() {
    let server = TestServer::start().await;
    let (people, room) = room_with(&server, &["alice"]).await;
    let mut alice = server.connect(&people[0]).await;
    join(&mut alice, room).await;
    let offer = json!({"description": {"type": "offer", "sdp": "v=0\r\n"}});
    let reply = alice
        .call(
            "s",
            "call.signal",
            json!({"room_id": room, "to": "sfu", "signal": offer}),
        )
        .await;
    assert_eq!(reply["payload"]["code"], "conflict", "{reply}");
}

#[tokio::test]
async fn garbage_sdp_for_the_sfu_is_refused_and_the_call_goes_on() {
    let server = TestServer::start().await;
    let (people, room) = room_with(&server, &["alice"]).await;
    server
        .patch(
            &format!("/api/v1/rooms/{room}"),
            &people[0].token,
            json!({"call_topology": "sfu"}),
        )
        .await;
    let mut alice = server.connect(&people[0]).await;
    join(&mut alice, room).await;
    let offer = json!({"description": {"type": "offer", "sdp": "v=0\r\nthis is not sdp\r\n"}});
    let reply = alice
        .call(
            "s",
            "call.signal",
            json!({"room_id": room, "to": "sfu", "signal": offer}),
        )
        .await;
    assert_eq!(reply["payload"]["code"], "invalid_sdp", "{reply}");
    let rollback = json!({"description": {"type": "rollback", "sdp": ""}});
    let reply = alice
        .call(
            "r",
            "call.signal",
            json!({"room_id": room, "to": "sfu", "signal": rollback}),
        )
        .await;
    assert_eq!(reply["payload"]["code"], "validation");
    assert_eq!(alice.call("p", "ping", json!(null)).await["type"], "ack");
}

/// A str0m peer on a loopback UDP socket, standing in for a browser.
struct Peer {
    rtc: Rtc,
    socket: tokio::net::UdpSocket,
    addr: SocketAddr,
}

impl Peer {
    async fn new() -> Peer {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let mut rtc = Rtc::new(Instant::now());
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        Peer { rtc, socket, addr }
    }

    /// Runs the peer until it reports being connected, or fails after `limit`.
    async fn connect(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut buffer = vec![0u8; 2000];
        loop {
            let timeout = loop {
                match self.rtc.poll_output().unwrap() {
                    Output::Timeout(at) => break at,
                    Output::Transmit(t) => {
                        self.socket
                            .send_to(&t.contents, t.destination)
                            .await
                            .unwrap();
                    }
                    Output::Event(Event::Connected) => return,
                    Output::Event(_) => {}
                }
            };
            assert!(
                Instant::now() < deadline,
                "no connection to the SFU within {limit:?}"
            );
            let wait = timeout
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50));
            match tokio::time::timeout(wait, self.socket.recv_from(&mut buffer)).await {
                Ok(Ok((len, source))) => {
                    let receive =
                        Receive::new(Protocol::Udp, source, self.addr, &buffer[..len]).unwrap();
                    self.rtc
                        .handle_input(Input::Receive(Instant::now(), receive))
                        .unwrap();
                }
                _ => self
                    .rtc
                    .handle_input(Input::Timeout(Instant::now()))
                    .unwrap(),
            }
        }
    }
}

#[tokio::test]
async fn a_participant_negotiates_with_the_sfu_and_connects_over_loopback() {
    let server = TestServer::start().await;
    let (people, room) = room_with(&server, &["alice"]).await;
    server
        .patch(
            &format!("/api/v1/rooms/{room}"),
            &people[0].token,
            json!({"call_topology": "sfu"}),
        )
        .await;
    let mut alice = server.connect(&people[0]).await;
    let joined = join(&mut alice, room).await;
    assert_eq!(joined["call"]["topology"]["mode"], "sfu");

    let mut peer = Peer::new().await;
    let mut change = peer.rtc.sdp_api();
    change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let (offer, pending) = change.apply().unwrap();
    let signal = json!({"description": {"type": "offer", "sdp": offer.to_sdp_string()}});
    let reply = alice
        .call(
            "o",
            "call.signal",
            json!({"room_id": room, "to": "sfu", "signal": signal}),
        )
        .await;
    assert_eq!(reply["type"], "ack", "{reply}");
    let answer = alice.next_of("call.signal").await;
    assert_eq!(answer["payload"]["from"], "sfu");
    assert_eq!(answer["payload"]["signal"]["description"]["type"], "answer");
    let sdp = answer["payload"]["signal"]["description"]["sdp"]
        .as_str()
        .unwrap();
    assert!(sdp.contains("a=ice-lite"), "the SFU is ICE-lite");
    assert!(sdp.contains("127.0.0.1"), "it advertises MESH_PUBLIC_IP");
    peer.rtc
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(sdp).unwrap())
        .unwrap();

    peer.connect(Duration::from_secs(10)).await;

    let metrics = server
        .http
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("mesh_sfu_participants 1"), "{metrics}");
    assert!(
        metrics.contains("mesh_sfu_subscriber_packets_lost "),
        "{metrics}"
    );
}

/// Two ports free for both UDP and TCP on loopback, for a server whose
/// addresses `mesh doctor` must know in advance.
fn free_ports() -> (u16, u16) {
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return (http.local_addr().unwrap().port(), port);
        }
    }
}

fn doctor(env: &[(&str, String)]) -> (bool, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mesh"));
    command.arg("doctor");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn doctor_checks_data_http_and_both_media_ports() {
    let (http_port, media_port) = free_ports();
    let http_addr = format!("127.0.0.1:{http_port}");
    let media_port = media_port.to_string();
    // The relay has its own doctor test (tests/turn.rs).
    let server = TestServer::start_with(&[
        ("MESH_HTTP_ADDR", &http_addr),
        ("MESH_MEDIA_PORT", &media_port),
        ("MESH_TURN", "false"),
    ])
    .await;
    let env = [
        ("MESH_TURN", "false".to_owned()),
        ("MESH_HTTP_ADDR", http_addr.clone()),
        ("MESH_MEDIA_PORT", media_port.clone()),
        ("MESH_PUBLIC_IP", "127.0.0.1".to_owned()),
        (
            "MESH_DATA_DIR",
            server.data_dir.path().display().to_string(),
        ),
    ];
    let (healthy, output) = doctor(&env);
    assert!(healthy, "{output}");
    for line in [
        "ok    data directory",
        "ok    http",
        "ok    media udp",
        "ok    media tcp",
    ] {
        assert!(output.contains(line), "missing `{line}` in:\n{output}");
    }
    assert!(output.contains(&format!("127.0.0.1:{media_port}")));

    // A media port nothing answers on is reported, with what to do.
    let (_, dead_port) = free_ports();
    let mut wrong = env.clone();
    wrong[2] = ("MESH_MEDIA_PORT", dead_port.to_string());
    let (healthy, output) = doctor(&wrong);
    assert!(!healthy);
    assert!(
        output.contains("FAIL  media udp") && output.contains("firewall"),
        "{output}"
    );
    drop(server);
}
