//! The embedded TURN relay as clients meet it: credentials from the API that
//! coturn's own client can allocate with, a secret generated on first start,
//! and `mesh doctor` allocating end to end.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use common::TestServer;
use reqwest::StatusCode;

/// The relay's port, from the TURN URL the API hands out.
fn turn_port(servers: &serde_json::Value) -> u16 {
    let url = servers["ice_servers"][0]["urls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u.as_str())
        .find(|u| u.starts_with("turn:") && u.ends_with("transport=udp"))
        .unwrap()
        .to_owned();
    url.trim_start_matches("turn:127.0.0.1:")
        .trim_end_matches("?transport=udp")
        .parse()
        .unwrap()
}

#[tokio::test]
async fn clients_get_ephemeral_credentials_for_mesh_own_relay_only() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let (status, servers) = server.get("/api/v1/ice-servers", &alice.token).await;
    assert_eq!(status, StatusCode::OK);
    let entries = servers["ice_servers"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{servers}");
    let urls: Vec<&str> = entries[0]["urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert!(
        urls.iter().all(|u| u.contains("127.0.0.1:")),
        "only Mesh's own address: {urls:?}"
    );
    assert!(urls
        .iter()
        .any(|u| u.starts_with("turn:") && u.ends_with("transport=tcp")));

    // username = "<expiry>:<user id>", password = base64(HMAC-SHA1(secret, username)).
    let username = entries[0]["username"].as_str().unwrap();
    let (expiry, user) = username.split_once(':').unwrap();
    assert_eq!(user, alice.user_id.to_string());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expiry: u64 = expiry.parse().unwrap();
    assert!(
        expiry > now + 3 * 3600 && expiry <= now + 4 * 3600 + 5,
        "default lifetime is 4 h"
    );
    let key_path = common::data_path(&server, "turn.key");
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode, 0o600,
        "the secret is generated on first start, owner-only"
    );
    let secret = STANDARD_NO_PAD.encode(std::fs::read(&key_path).unwrap());
    assert_eq!(
        entries[0]["credential"],
        mesh_turn::credentials::password(&secret, username)
    );

    let (status, _) = server
        .request(reqwest::Method::GET, "/api/v1/ice-servers", None, None)
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "credentials only for signed-in users"
    );
}

#[tokio::test]
async fn coturn_client_relays_through_mesh_with_credentials_from_the_api() {
    assert!(
        Command::new("turnutils_uclient").arg("-h").output().is_ok(),
        "turnutils_uclient is not installed: run `apt-get install coturn` (`make test` installs it)"
    );
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let (_, servers) = server.get("/api/v1/ice-servers", &alice.token).await;
    let port = turn_port(&servers);
    let username = servers["ice_servers"][0]["username"]
        .as_str()
        .unwrap()
        .to_owned();
    let password = servers["ice_servers"][0]["credential"]
        .as_str()
        .unwrap()
        .to_owned();

    // Client-to-client: two allocations on Mesh's relay talk to each other.
    let run = |user: &str, pass: &str| {
        Command::new("timeout")
            .args([
                "30",
                "turnutils_uclient",
                "-u",
                user,
                "-w",
                pass,
                "-p",
                &port.to_string(),
            ])
            .args([
                "-y",
                "-c",
                "-m",
                "1",
                "-n",
                "20",
                "-l",
                "120",
                "-z",
                "5",
                "127.0.0.1",
            ])
            .output()
            .unwrap()
    };
    let output = run(&username, &password);
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("Total lost packets 0 (0.000000%)"), "{text}");

    let wrong = run(&username, "not-the-password");
    let text = String::from_utf8_lossy(&wrong.stdout).into_owned()
        + &String::from_utf8_lossy(&wrong.stderr);
    assert!(
        !wrong.status.success() && text.contains("Cannot complete Allocation"),
        "{text}"
    );

    let metrics = server
        .http
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let relayed = metrics
        .lines()
        .find(|l| l.starts_with("mesh_turn_packets_relayed "))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap();
    assert!(
        relayed >= 40,
        "the relay counted what it relayed: {relayed}"
    );
    assert!(metrics.contains(r#"mesh_turn_refusals{reason="unauthorized"}"#));
}

#[tokio::test]
async fn doctor_allocates_on_the_relay() {
    // Fixed ports, so `mesh doctor` can be given the same configuration.
    let free_port = || {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (turn_port, media_port) = (free_port(), free_port());
    let http = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let server = TestServer::start_with(&[
        ("MESH_HTTP_ADDR", &http),
        ("MESH_TURN_PORT", &turn_port.to_string()),
        ("MESH_MEDIA_PORT", &media_port.to_string()),
    ])
    .await;
    let output = Command::new(env!("CARGO_BIN_EXE_mesh"))
        .arg("doctor")
        .env("MESH_HTTP_ADDR", &http)
        .env("MESH_TURN_PORT", turn_port.to_string())
        .env("MESH_MEDIA_PORT", media_port.to_string())
        .env("MESH_PUBLIC_IP", "127.0.0.1")
        .env("MESH_DATA_DIR", server.data_dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains(&format!(
            "ok    turn: turn:127.0.0.1:{turn_port} allocated relay 127.0.0.1:"
        )),
        "{text}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let metrics = server
        .http
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("mesh_turn_allocations 0"),
        "the probe freed its allocation:\n{metrics}"
    );
}

#[tokio::test]
async fn mesh_turn_runs_the_relay_alone_with_a_shared_secret() {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = tempfile::tempdir().unwrap();
    let mut relay = Command::new(env!("CARGO_BIN_EXE_mesh"))
        .arg("turn")
        .env("MESH_TURN_PORT", port.to_string())
        .env("MESH_TURN_SECRET", "a shared secret of some length")
        .env("MESH_PUBLIC_IP", "127.0.0.1")
        .env("MESH_DATA_DIR", data.path())
        .env("MESH_LOG", "warn")
        .spawn()
        .unwrap();
    // Credentials as the control server on another machine would issue them.
    let (username, password) = mesh_turn::credentials::issue(
        "a shared secret of some length",
        "7",
        SystemTime::now(),
        Duration::from_secs(600),
    );
    let server = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut relayed = Err(mesh_turn::probe::ProbeError::NoAnswer(server));
    for _ in 0..20 {
        relayed =
            mesh_turn::probe::allocate(server, &username, &password, Duration::from_secs(1)).await;
        if relayed.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = relay.kill();
    let _ = relay.wait();
    let relayed = relayed.expect("mesh turn allocates with the shared secret");
    assert_eq!(relayed.ip().to_string(), "127.0.0.1");
}
