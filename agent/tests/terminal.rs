//! Terminal sharing between agents through a real Mesh server, on loopback:
//! what viewers see, and that only the viewer the host chose can type.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{assert_refused, close, Server, TestAgent};
use mesh_agent::terminal::host::TerminalHost;
use mesh_agent::terminal::view::Viewer;
use mesh_proto::Scope;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

/// Bob shares a shell; Alice and Carol are in a room with him.
async fn setup(server: &Server) -> (TestAgent, Arc<TerminalHost>, TestAgent, TestAgent) {
    let bob_token = server.register("bob").await;
    let alice_token = server.register("alice").await;
    let carol_token = server.register("carol").await;
    let room = server
        .post(
            "/api/v1/rooms",
            Some(&bob_token),
            json!({"name": "ops", "visibility": "private"}),
        )
        .await;
    for token in [&alice_token, &carol_token] {
        let invite = server
            .post(
                &format!("/api/v1/rooms/{}/invites", room["id"]),
                Some(&bob_token),
                json!({}),
            )
            .await;
        server
            .post(
                &format!(
                    "/api/v1/invites/{}/accept",
                    invite["code"].as_str().unwrap()
                ),
                Some(token),
                json!({}),
            )
            .await;
    }
    let bob = TestAgent::start(server, "bob", "bob-desktop", &[]).await;
    let alice = TestAgent::start(server, "alice", "alice-laptop", &[]).await;
    let carol = TestAgent::start(server, "carol", "carol-pc", &[]).await;
    let host = TerminalHost::spawn(&["/bin/sh".to_owned()], 80, 24).unwrap();
    bob.agent.share_terminal(host.clone());
    (bob, host, alice, carol)
}

async fn watch(viewer: &TestAgent, host: &TestAgent, scope: Scope) -> (Viewer, quinn::Endpoint) {
    let endpoint = viewer.dialer();
    let session = viewer
        .open(&endpoint, host, scope)
        .await
        .expect("terminal session");
    (Viewer::join(session).await.expect("join"), endpoint)
}

/// A viewer's output so far, read until `needle` shows up.
struct Screen {
    seen: String,
}

impl Screen {
    fn new() -> Screen {
        Screen {
            seen: String::new(),
        }
    }

    async fn wait_for(&mut self, viewer: &mut Viewer, needle: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !self.seen.contains(needle) {
            match tokio::time::timeout_at(deadline, viewer.output().recv()).await {
                Ok(Some(bytes)) => self.seen.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(None) => panic!(
                    "the terminal ended before `{needle}` appeared: {:?}",
                    self.seen
                ),
                Err(_) => panic!("`{needle}` did not appear within 10 s: {:?}", self.seen),
            }
        }
    }

    /// Takes everything already delivered, without waiting.
    fn drain(&mut self, viewer: &mut Viewer) {
        while let Ok(bytes) = viewer.output().try_recv() {
            self.seen.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
}

async fn wait_for_control(viewer: &Viewer, control: bool) {
    let mut status = viewer.status();
    tokio::time::timeout(WAIT, status.wait_for(|s| s.control == control))
        .await
        .expect("the host did not tell the viewer in time")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_viewer_the_host_grants_control_can_type() {
    let server = Server::start();
    let (bob, host, alice, _carol) = setup(&server).await;
    let (mut viewer, _endpoint) = watch(&alice, &bob, Scope::TerminalControl).await;
    let mut screen = Screen::new();

    // The viewer sees what happens in the host's terminal.
    host.host_input(b"echo host-$((6*7))\n").unwrap();
    screen.wait_for(&mut viewer, "host-42").await;

    // Read-only: the viewer's keys are dropped and it is told so.
    viewer.input(b"echo viewer-$((5*5))\n").await.unwrap();
    let mut status = viewer.status();
    tokio::time::timeout(WAIT, status.wait_for(|s| s.notice.is_some()))
        .await
        .unwrap()
        .unwrap();
    assert!(status
        .borrow()
        .notice
        .as_deref()
        .unwrap()
        .contains("Read-only"));
    host.host_input(b"echo mark-$((2*2))\n").unwrap();
    screen.wait_for(&mut viewer, "mark-4").await;
    assert!(
        !screen.seen.contains("viewer"),
        "read-only input reached the shell: {:?}",
        screen.seen
    );

    // Granted: keystrokes reach the shell.
    host.grant(viewer.id).unwrap();
    wait_for_control(&viewer, true).await;
    viewer.input(b"echo viewer-$((5*5))\n").await.unwrap();
    screen.wait_for(&mut viewer, "viewer-25").await;

    // Revoked: they no longer do.
    assert_eq!(host.revoke(), Some(viewer.id));
    wait_for_control(&viewer, false).await;
    viewer.input(b"echo again-$((3*3))\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    host.host_input(b"echo mark2-$((4*4))\n").unwrap();
    screen.wait_for(&mut viewer, "mark2-16").await;
    assert!(
        !screen.seen.contains("again"),
        "input after revoke reached the shell: {:?}",
        screen.seen
    );

    let audit = host.audit();
    assert!(
        audit
            .iter()
            .any(|l| l == "control granted to viewer 1 (alice)"),
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .any(|l| l == "control revoked from viewer 1 (alice)"),
        "{audit:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_viewers_see_the_same_output_and_a_late_one_catches_up() {
    let server = Server::start();
    let (bob, host, alice, carol) = setup(&server).await;
    host.host_input(b"echo early-$((7*3))\n").unwrap();
    let mut host_view = host.subscribe();
    let mut early = String::new();
    while !early.contains("early-21") {
        let bytes = tokio::time::timeout(WAIT, host_view.recv())
            .await
            .unwrap()
            .unwrap();
        early.push_str(&String::from_utf8_lossy(&bytes));
    }

    // Joining after the fact, each viewer still sees the screen.
    let (mut first, _e1) = watch(&alice, &bob, Scope::TerminalControl).await;
    let (mut second, _e2) = watch(&carol, &bob, Scope::TerminalControl).await;
    let (mut a, mut c) = (Screen::new(), Screen::new());
    a.wait_for(&mut first, "early-21").await;
    c.wait_for(&mut second, "early-21").await;

    host.host_input(b"echo both-$((8*8))\n").unwrap();
    a.wait_for(&mut first, "both-64").await;
    c.wait_for(&mut second, "both-64").await;

    // One controller at a time: granting Carol takes control from Alice.
    host.grant(first.id).unwrap();
    wait_for_control(&first, true).await;
    host.grant(second.id).unwrap();
    wait_for_control(&first, false).await;
    wait_for_control(&second, true).await;
    first.input(b"echo from-alice-$((1+1))\n").await.unwrap();
    second.input(b"echo from-carol-$((2+1))\n").await.unwrap();
    c.wait_for(&mut second, "from-carol-3").await;
    a.wait_for(&mut first, "from-carol-3").await;
    a.drain(&mut first);
    assert!(!a.seen.contains("from-alice"), "{:?}", a.seen);

    // When the controller leaves, control ends with it.
    second.leave();
    for _ in 0..100 {
        if host.controller().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(host.controller(), None);
    assert_eq!(host.viewers().len(), 1);
}

#[tokio::test]
async fn the_controllers_window_size_wins() {
    let server = Server::start();
    let (bob, host, alice, _carol) = setup(&server).await;
    let (mut viewer, _endpoint) = watch(&alice, &bob, Scope::TerminalControl).await;
    let mut screen = Screen::new();
    viewer.resize(132, 40).await.unwrap();
    host.host_input(b"echo size-$(stty size | tr ' ' x)\n")
        .unwrap();
    screen.wait_for(&mut viewer, "size-24x80").await;

    host.grant(viewer.id).unwrap();
    let mut status = viewer.status();
    tokio::time::timeout(
        WAIT,
        status.wait_for(|s| s.control && (s.cols, s.rows) == (132, 40)),
    )
    .await
    .unwrap()
    .unwrap();
    host.host_input(b"echo size-$(stty size | tr ' ' x)\n")
        .unwrap();
    screen.wait_for(&mut viewer, "size-40x132").await;

    host.revoke();
    tokio::time::timeout(
        WAIT,
        status.wait_for(|s| !s.control && (s.cols, s.rows) == (80, 24)),
    )
    .await
    .unwrap()
    .unwrap();
}

#[tokio::test]
async fn read_only_viewers_cannot_be_given_control() {
    let server = Server::start();
    let (bob, host, alice, _carol) = setup(&server).await;
    let (viewer, _endpoint) = watch(&alice, &bob, Scope::TerminalView).await;
    let err = host.grant(viewer.id).unwrap_err();
    assert!(err.contains("read-only"), "{err}");
    assert_eq!(host.controller(), None);
    assert!(host.grant(999).unwrap_err().contains("no viewer"));
}

#[tokio::test]
async fn a_device_that_shares_no_terminal_refuses_viewers() {
    let server = Server::start();
    let (_bob, _host, alice, carol) = setup(&server).await;
    let endpoint = alice.dialer();
    // The refusal may arrive before or after the welcome is read.
    let joined = async {
        let session = alice.open(&endpoint, &carol, Scope::TerminalView).await?;
        Viewer::join(session).await.map_err(anyhow::Error::from)
    }
    .await;
    assert_refused(joined, close::REFUSED, "no terminal is shared");
}
