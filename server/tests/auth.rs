//! Accounts and sessions over real HTTP against a real server.

mod common;

use common::{data_path, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn first_account_is_admin_and_later_ones_are_not() {
    let server = TestServer::start().await;
    let (_, info) = server
        .request(Method::GET, "/api/v1/server", None, None)
        .await;
    assert_eq!(info["first_account"], true);
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let (_, me) = server.get("/api/v1/me", &alice.token).await;
    assert_eq!(me["is_admin"], true);
    let (_, me) = server.get("/api/v1/me", &bob.token).await;
    assert_eq!(me["is_admin"], false);
    assert_eq!(me["username"], "bob");
    let (_, info) = server
        .request(Method::GET, "/api/v1/server", None, None)
        .await;
    assert_eq!(info["first_account"], false);
}

#[tokio::test]
async fn registration_rejects_bad_and_duplicate_input_without_creating_anything() {
    let server = TestServer::start().await;
    server.register("alice").await;
    let cases = [
        (
            json!({"username": "al", "email": "x@example.org", "password": "password1"}),
            "validation",
        ),
        (
            json!({"username": "<b>x</b>", "email": "x@example.org", "password": "password1"}),
            "validation",
        ),
        (
            json!({"username": "carol", "email": "nope", "password": "password1"}),
            "validation",
        ),
        (
            json!({"username": "carol", "email": "c@example.org", "password": "short"}),
            "validation",
        ),
        (
            json!({"username": "ALICE", "email": "c@example.org", "password": "password1"}),
            "conflict",
        ),
        (
            json!({"username": "carol", "email": "Alice@Example.org", "password": "password1"}),
            "conflict",
        ),
        (
            json!({"username": 5, "email": "c@example.org", "password": "password1"}),
            "invalid_json",
        ),
        (json!({"username": "carol"}), "invalid_json"),
    ];
    for (body, code) in cases {
        let (status, error) = server
            .request(
                Method::POST,
                "/api/v1/auth/register",
                None,
                Some(body.clone()),
            )
            .await;
        assert!(status.is_client_error(), "{body} -> {status}");
        assert_eq!(error["code"], code, "{body} -> {error}");
        assert!(error["message"].as_str().unwrap().len() > 10);
    }
    // Nothing was created: carol can register cleanly now.
    server.register("carol").await;
}

#[tokio::test]
async fn login_works_with_username_or_email_and_rejects_wrong_passwords() {
    let server = TestServer::start().await;
    server.register("alice").await;
    server.login("alice").await;
    let (status, body) = server
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"login": "Alice@Example.org", "password": "password-alice"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["username"], "alice");
    let (status, error) = server
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"login": "alice", "password": "wrong-password"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["code"], "invalid_credentials");
    let (status, error) = server
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"login": "nobody", "password": "whatever1"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["code"], "invalid_credentials");
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled() {
    let server = TestServer::start().await;
    server.register("alice").await;
    for _ in 0..5 {
        let (status, _) = server
            .request(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"login": "alice", "password": "wrong-password"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let response = server
        .http
        .post(format!("{}/api/v1/auth/login", server.url))
        .json(&json!({"login": "alice", "password": "password-alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get("retry-after").is_some());
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["code"], "rate_limited");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_address_is_the_one_the_proxy_appended() {
    let server = TestServer::start_with(&[("MESH_TRUST_PROXY", "true")]).await;
    let attempt = |login: String, forwarded: String| {
        let request = server
            .http
            .post(format!("{}/api/v1/auth/login", server.url))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"login": login, "password": "wrong-password"}));
        async move { request.send().await.unwrap().status() }
    };
    // Twenty failures from one client, each forging a different first entry:
    // the address throttled is still the one the proxy appended.
    for i in 0..20 {
        let status = attempt(format!("nobody{i}"), format!("10.9.8.{i}, 203.0.113.7")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let status = attempt("nobody-else".into(), "10.9.9.9, 203.0.113.7".into()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same proxy is not affected.
    let status = attempt("nobody-else".into(), "203.0.113.8".into()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_session() {
    let server = TestServer::start_with(&[("MESH_REFRESH_REUSE_GRACE", "0")]).await;
    let alice = server.register("alice").await;

    let (status, first) = server
        .request(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": alice.refresh})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let rotated = first["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rotated, alice.refresh);
    let new_access = first["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        server.get("/api/v1/me", &new_access).await.0,
        StatusCode::OK
    );

    // Someone replays the old token: the session is revoked for everyone.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (status, error) = server
        .request(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": alice.refresh})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["code"], "refresh_reused");
    let (status, _) = server
        .request(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": rotated})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the rotated token died with its session"
    );
    assert_eq!(
        server.get("/api/v1/me", &new_access).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.get("/api/v1/me", &alice.token).await.0,
        StatusCode::UNAUTHORIZED
    );

    // A fresh login is unaffected.
    let again = server.login("alice").await;
    assert_eq!(
        server.get("/api/v1/me", &again.token).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn refresh_works_from_the_http_only_cookie() {
    let server = TestServer::start().await;
    let response = server
        .http
        .post(format!("{}/api/v1/auth/register", server.url))
        .json(&json!({"username": "alice", "email": "alice@example.org", "password": "password-alice"}))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/api/v1/auth")
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let response = server
        .http
        .post(format!("{}/api/v1/auth/refresh", server.url))
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["user"]["username"], "alice");
}

#[tokio::test]
async fn logout_revokes_access_and_refresh_tokens() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let other_device = server.login("alice").await;
    let (status, _) = server
        .post("/api/v1/auth/logout", &alice.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        server.get("/api/v1/me", &alice.token).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, error) = server
        .request(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": alice.refresh})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["code"], "refresh_invalid");
    // Other sessions of the same user live on.
    assert_eq!(
        server.get("/api/v1/me", &other_device.token).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn forged_and_expired_tokens_are_rejected() {
    use jsonwebtoken::{encode, EncodingKey, Header};
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let key = std::fs::read(data_path(&server, "token.key")).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let sign = |key: &[u8], exp: i64| {
        encode(
            &Header::default(),
            &json!({"iss": "mesh", "sub": alice.user_id.to_string(), "sid": 1, "iat": exp - 600, "exp": exp}),
            &EncodingKey::from_secret(key),
        )
        .unwrap()
    };
    // Signed with the real key but an hour expired.
    assert_eq!(
        server.get("/api/v1/me", &sign(&key, now - 3600)).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Valid times, wrong key.
    assert_eq!(
        server
            .get("/api/v1/me", &sign(&[7u8; 32], now + 600))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // Control: the real key and a live session work.
    assert_eq!(
        server.get("/api/v1/me", &sign(&key, now + 600)).await.0,
        StatusCode::OK
    );
    // Tampered payload.
    let mut parts: Vec<String> = alice.token.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].chars().rev().collect();
    assert_eq!(
        server.get("/api/v1/me", &parts.join(".")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server
            .request(Method::GET, "/api/v1/me", None, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn closed_registration_admits_only_the_first_account() {
    let server = TestServer::start_with(&[("MESH_REGISTRATION", "closed")]).await;
    server.register("admin").await;
    let (status, error) = server
        .request(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(
                json!({"username": "bob", "email": "bob@example.org", "password": "password-bob"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error["code"], "registration_closed");
}

#[tokio::test]
async fn invite_registration_requires_a_valid_invite_and_joins_its_room() {
    let server = TestServer::start_with(&[("MESH_REGISTRATION", "invite")]).await;
    let admin = server.register("admin").await;
    let room = server.create_room(&admin, "team", "private").await;
    let register = |invite_code: Option<&str>| {
        let mut body =
            json!({"username": "bob", "email": "bob@example.org", "password": "password-bob"});
        if let Some(code) = invite_code {
            body["invite_code"] = json!(code);
        }
        server.request(Method::POST, "/api/v1/auth/register", None, Some(body))
    };
    let (status, error) = register(None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error["code"], "invite_required");
    let (status, error) = register(Some("made-up-code")).await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(error["code"], "invite_expired");

    let (_, invite) = server
        .post(
            &format!("/api/v1/rooms/{room}/invites"),
            &admin.token,
            json!({"max_uses": 1}),
        )
        .await;
    let (status, body) = register(invite["code"].as_str()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let bob = common::Session::from_auth(&body);
    let (_, rooms) = server.get("/api/v1/rooms", &bob.token).await;
    assert_eq!(rooms[0]["id"], room);
    assert_eq!(rooms[0]["role"], "member");
}

#[tokio::test]
async fn secrets_are_generated_on_first_start_with_owner_only_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let mut server = TestServer::start().await;
    let key_path = data_path(&server, "token.key");
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(server.data_dir.path())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);
    let key = std::fs::read(&key_path).unwrap();
    let alice = server.register("alice").await;
    server.restart();
    assert_eq!(
        std::fs::read(&key_path).unwrap(),
        key,
        "the key survives restarts"
    );
    assert_eq!(
        server.get("/api/v1/me", &alice.token).await.0,
        StatusCode::OK,
        "so do sessions"
    );
}
