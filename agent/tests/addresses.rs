//! Where a device can be reached: the reflexive address Mesh's STUN server
//! reports, and dialling every announced address at once.

mod common;

use common::{alice_and_bob, Server};

#[tokio::test]
async fn an_agent_learns_its_outside_address_from_meshs_stun_server() {
    let server = Server::start_with_stun();
    let (alice, bob) = alice_and_bob(&server).await;
    // On loopback, outside and inside are the same address.
    assert_eq!(bob.agent.reflexive, Some(bob.agent.local_addr()));
    assert_eq!(alice.agent.reflexive, Some(alice.agent.local_addr()));
}

#[tokio::test]
async fn a_device_is_reached_through_whichever_announced_address_answers() {
    let server = Server::start();
    let (alice, bob) = alice_and_bob(&server).await;
    assert_eq!(
        bob.agent.reflexive, None,
        "no STUN server, no reflexive address"
    );
    // Nothing listens on the first address (port 9, discard).
    let addresses = ["127.0.0.1:9".to_owned(), bob.agent.local_addr().to_string()];
    bob.control()
        .announce(bob.device_id(), &addresses)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hello.txt");
    std::fs::write(&file, "hello").unwrap();
    let started = std::time::Instant::now();
    alice.send(&bob, vec![file]).await.expect("send");
    assert!(
        started.elapsed().as_secs() < 5,
        "the dead address did not hold it up"
    );
    assert_eq!(
        std::fs::read_to_string(bob.inbox.join("hello.txt")).unwrap(),
        "hello"
    );
}
