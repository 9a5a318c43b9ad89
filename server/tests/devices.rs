//! Devices, peer-to-peer sessions and capability tokens: who may open a
//! session to whom, and every way a token can be refused.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{Session, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn fingerprint(seed: &str) -> String {
    hex(&Sha256::digest(seed.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn register_device(server: &TestServer, owner: &Session, name: &str) -> Value {
    let (status, device) = server
        .post(
            "/api/v1/devices",
            &owner.token,
            json!({"name": name, "fingerprint": fingerprint(name)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{device}");
    device
}

async fn open_session(
    server: &TestServer,
    requester: &Session,
    from: &Value,
    to: &Value,
) -> (StatusCode, Value) {
    server
        .post(
            "/api/v1/sessions",
            &requester.token,
            json!({"from_device": from["id"], "to_device": to["id"], "kind": "file", "scope": "file"}),
        )
        .await
}

async fn redeem(
    server: &TestServer,
    owner: &Session,
    device: &Value,
    token: &str,
) -> (StatusCode, Value) {
    server
        .post(
            "/api/v1/sessions/redeem",
            &owner.token,
            json!({"device_id": device["id"], "token": token}),
        )
        .await
}

/// Alice and Bob share a room; each has one device.
async fn teammates(server: &TestServer) -> (Session, Value, Session, Value) {
    let alice = server.register("alice").await;
    let bob = server.register("bobby").await;
    let room = server.create_room(&alice, "team", "private").await;
    server.add_member(&alice, room, &bob, "member").await;
    let laptop = register_device(server, &alice, "alice-laptop").await;
    let desktop = register_device(server, &bob, "bob-desktop").await;
    (alice, laptop, bob, desktop)
}

/// Signs claims with the server's capability key, as only the server should.
fn mint(server: &TestServer, claims: &Value) -> String {
    let token_key = std::fs::read(common::data_path(server, "token.key")).unwrap();
    let mut hasher = Sha256::new();
    hasher.update(b"mesh capability tokens v1\0");
    hasher.update(&token_key);
    let key = hasher.finalize();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(&key),
    )
    .unwrap()
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn a_device_registers_once_per_key_and_only_for_its_owner() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let bob = server.register("bobby").await;
    let first = register_device(&server, &alice, "laptop").await;
    let (status, again) = server
        .post(
            "/api/v1/devices",
            &alice.token,
            json!({"name": "renamed", "fingerprint": fingerprint("laptop").to_uppercase()}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["name"], "renamed");

    let (status, body) = server
        .post(
            "/api/v1/devices",
            &bob.token,
            json!({"name": "stolen", "fingerprint": fingerprint("laptop")}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = server
        .post(
            "/api/v1/devices",
            &bob.token,
            json!({"name": "x", "fingerprint": "not-hex"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (_, mine) = server.get("/api/v1/devices", &alice.token).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let (_, theirs) = server.get("/api/v1/devices", &bob.token).await;
    assert!(theirs.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_device_announces_its_addresses() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let bob = server.register("bobby").await;
    let device = register_device(&server, &alice, "laptop").await;
    let path = format!("/api/v1/devices/{}", device["id"]);
    let (status, updated) = server
        .patch(
            &path,
            &alice.token,
            json!({"addresses": ["127.0.0.1:4433"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["addresses"], json!(["127.0.0.1:4433"]));
    assert!(updated["seen_at"].is_i64());
    let (status, _) = server
        .patch(&path, &alice.token, json!({"addresses": ["nowhere"]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = server
        .patch(&path, &bob.token, json!({"addresses": ["127.0.0.1:1"]}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "only the owner announces");
}

#[tokio::test]
async fn users_sharing_no_room_cannot_open_sessions() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let bob = server.register("bobby").await;
    let laptop = register_device(&server, &alice, "alice-laptop").await;
    let desktop = register_device(&server, &bob, "bob-desktop").await;

    let (status, body) = open_session(&server, &alice, &laptop, &desktop).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["message"].as_str().unwrap().contains("shares no room"));
    let (_, shared) = server
        .get("/api/v1/devices?scope=shared", &alice.token)
        .await;
    let names: Vec<&str> = shared
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice-laptop"]);

    // A public room they are both in is enough.
    let room = server.create_room(&alice, "lobby", "public").await;
    let (status, _) = server
        .post(&format!("/api/v1/rooms/{room}/join"), &bob.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, shared) = server
        .get("/api/v1/devices?scope=shared", &alice.token)
        .await;
    assert_eq!(shared.as_array().unwrap().len(), 2);
    let (status, grant) = open_session(&server, &alice, &laptop, &desktop).await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    assert_eq!(grant["target"]["fingerprint"], desktop["fingerprint"]);

    // Once Bob leaves, the door closes again.
    let (status, _) = server
        .post(
            &format!("/api/v1/rooms/{room}/leave"),
            &bob.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = open_session(&server, &alice, &laptop, &desktop).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_session_needs_my_own_device_and_a_matching_scope() {
    let server = TestServer::start().await;
    let (alice, laptop, bob, desktop) = teammates(&server).await;
    // Bob cannot speak for Alice's laptop.
    let (status, _) = open_session(&server, &bob, &laptop, &desktop).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = server
        .post(
            "/api/v1/sessions",
            &alice.token,
            json!({"from_device": laptop["id"], "to_device": desktop["id"], "kind": "file", "scope": "terminal:control"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, grant) = server
        .post(
            "/api/v1/sessions",
            &alice.token,
            json!({"from_device": laptop["id"], "to_device": desktop["id"], "kind": "terminal", "scope": "terminal:view"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    assert_eq!(grant["session"]["kind"], "terminal");
    assert_eq!(grant["session"]["scope"], "terminal:view");
}

#[tokio::test]
async fn the_target_redeems_a_token_once_and_learns_whom_to_pin() {
    let server = TestServer::start().await;
    let (alice, laptop, bob, desktop) = teammates(&server).await;
    let mut bob_ws = server.connect(&bob).await;
    let (status, grant) = open_session(&server, &alice, &laptop, &desktop).await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    let token = grant["token"].as_str().unwrap();

    let claims = claims_of(token);
    assert_eq!(claims["aud"], desktop["id"].to_string());
    assert_eq!(claims["fpr"], laptop["fingerprint"]);
    assert_eq!(claims["scope"], "file");
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert!((60..=180).contains(&lifetime), "{lifetime}");

    let offer = bob_ws.next_of("device.session_offer").await;
    assert_eq!(offer["payload"]["session"]["id"], grant["session"]["id"]);
    assert_eq!(
        offer["payload"]["from"]["fingerprint"],
        laptop["fingerprint"]
    );
    assert_eq!(offer["payload"]["from"]["username"], "alice");

    let (status, capability) = redeem(&server, &bob, &desktop, token).await;
    assert_eq!(status, StatusCode::OK, "{capability}");
    assert_eq!(
        capability["requester"]["fingerprint"],
        laptop["fingerprint"]
    );
    assert_eq!(capability["scope"], "file");
    assert!(capability["session"]["accepted_at"].is_i64());

    let (status, replay) = redeem(&server, &bob, &desktop, token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(replay["code"], "capability_used", "{replay}");

    let (_, sessions) = server.get("/api/v1/sessions", &alice.token).await;
    assert_eq!(sessions[0]["id"], grant["session"]["id"]);
    let (_, sessions) = server.get("/api/v1/sessions", &bob.token).await;
    assert_eq!(sessions.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn forged_tokens_are_refused() {
    let server = TestServer::start().await;
    let (alice, laptop, bob, desktop) = teammates(&server).await;
    let (_, grant) = open_session(&server, &alice, &laptop, &desktop).await;
    let token = grant["token"].as_str().unwrap();

    // Claims changed after signing: a wider scope.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims = claims_of(token);
    claims["scope"] = json!("terminal:control");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let (status, body) = redeem(&server, &bob, &desktop, &parts.join(".")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "capability_invalid", "{body}");

    // Signed with some other key.
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims_of(token),
        &jsonwebtoken::EncodingKey::from_secret(b"guessed"),
    )
    .unwrap();
    let (status, body) = redeem(&server, &bob, &desktop, &forged).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("capability_invalid"))
    );

    // An access token is not a capability, and a capability is not an access token.
    let (status, body) = redeem(&server, &bob, &desktop, &alice.token).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("capability_invalid"))
    );
    let (status, _) = server.get("/api/v1/me", token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, body) = redeem(&server, &bob, &desktop, "garbage").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("capability_invalid"))
    );

    // The untouched token still works: refusals did not consume it.
    let (status, _) = redeem(&server, &bob, &desktop, token).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let server = TestServer::start().await;
    let (alice, laptop, bob, desktop) = teammates(&server).await;
    let (_, grant) = open_session(&server, &alice, &laptop, &desktop).await;
    let mut claims = claims_of(grant["token"].as_str().unwrap());
    let now = claims["iat"].as_i64().unwrap();
    claims["iat"] = json!(now - 300);
    claims["exp"] = json!(now - 180);
    claims["jti"] = json!("expired-one");
    let (status, body) = redeem(&server, &bob, &desktop, &mint(&server, &claims)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "capability_expired", "{body}");
    assert!(body["message"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn tokens_for_another_device_are_refused() {
    let server = TestServer::start().await;
    let (alice, laptop, bob, desktop) = teammates(&server).await;
    let other = register_device(&server, &bob, "bob-phone").await;
    let (_, grant) = open_session(&server, &alice, &laptop, &desktop).await;
    let token = grant["token"].as_str().unwrap();

    let (status, body) = redeem(&server, &bob, &other, token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "capability_wrong_device", "{body}");
    // Alice cannot redeem at Bob's device, even holding the token.
    let (status, _) = redeem(&server, &alice, &desktop, token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A token the server signed for one session cannot be re-aimed at another
    // session's target by editing its session id.
    let (_, second) = open_session(&server, &alice, &laptop, &other).await;
    let mut claims = claims_of(token);
    claims["sid"] = second["session"]["id"].clone();
    claims["jti"] = json!("re-aimed");
    let (status, body) = redeem(&server, &bob, &desktop, &mint(&server, &claims)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("capability_invalid"))
    );
}

#[tokio::test]
async fn revoked_devices_and_closed_sessions_end_their_tokens() {
    let server = TestServer::start().await;
    let (alice, laptop, bob, desktop) = teammates(&server).await;
    let (_, grant) = open_session(&server, &alice, &laptop, &desktop).await;
    let session = grant["session"]["id"].as_i64().unwrap();
    let (status, closed) = server
        .post(
            &format!("/api/v1/sessions/{session}/close"),
            &bob.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert!(closed["closed_at"].is_i64());
    let (status, body) = redeem(&server, &bob, &desktop, grant["token"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("capability_invalid"))
    );

    let (_, grant) = open_session(&server, &alice, &laptop, &desktop).await;
    let (status, _) = server
        .delete(&format!("/api/v1/devices/{}", laptop["id"]), &bob.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "only the owner revokes");
    let (status, _) = server
        .delete(&format!("/api/v1/devices/{}", laptop["id"]), &alice.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = redeem(&server, &bob, &desktop, grant["token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = open_session(&server, &alice, &laptop, &desktop).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = server
        .post(
            "/api/v1/devices",
            &alice.token,
            json!({"name": "again", "fingerprint": laptop["fingerprint"]}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a revoked key stays revoked: {body}"
    );
}
