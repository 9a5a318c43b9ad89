//! Signing an agent in: its device key, and what happens after a revocation.

mod common;

use common::{password, Server};
use mesh_agent::control;
use mesh_agent::home::Home;
use mesh_agent::identity::Identity;

#[tokio::test]
async fn a_revoked_device_gets_a_new_key_when_it_logs_in_again() {
    let server = Server::start();
    let token = server.register("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let home = Home::open(dir.path()).unwrap();
    let (state, first) = control::login(&home, &server.url, "alice", &password("alice"), "laptop")
        .await
        .unwrap();
    assert_eq!(
        first.fingerprint,
        Identity::load_or_create(&home).unwrap().fingerprint()
    );
    assert_eq!(state.device_id, first.id);

    // Logging in again keeps the device.
    let (_, again) = control::login(&home, &server.url, "alice", &password("alice"), "laptop")
        .await
        .unwrap();
    assert_eq!(again.id, first.id);

    let response = reqwest::Client::new()
        .delete(format!("{}/api/v1/devices/{}", server.url, first.id))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let (state, renewed) =
        control::login(&home, &server.url, "alice", &password("alice"), "laptop")
            .await
            .unwrap();
    assert_ne!(renewed.id, first.id);
    assert_ne!(renewed.fingerprint, first.fingerprint);
    assert_eq!(
        renewed.fingerprint,
        Identity::load_or_create(&home).unwrap().fingerprint()
    );
    assert_eq!(state.device_id, renewed.id);
}

#[tokio::test]
async fn a_wrong_password_is_reported_as_such() {
    let server = Server::start();
    server.register("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let home = Home::open(dir.path()).unwrap();
    let err = control::login(&home, &server.url, "alice", "not-her-password", "laptop")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Wrong username, email or password"),
        "{err}"
    );
    assert!(home.state().is_err(), "nothing remembered");
}
