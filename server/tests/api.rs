//! The HTTP surface as a whole: OpenAPI coverage, operator endpoints, error
//! format for bad input, and the web client fallback.

mod common;

use common::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn openapi_documents_every_rest_endpoint() {
    let server = TestServer::start().await;
    let (status, doc) = server
        .request(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let expected = [
        ("post", "/api/v1/auth/register"),
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/auth/refresh"),
        ("post", "/api/v1/auth/logout"),
        ("get", "/api/v1/me"),
        ("get", "/api/v1/server"),
        ("get", "/api/v1/rooms"),
        ("post", "/api/v1/rooms"),
        ("get", "/api/v1/rooms/{id}"),
        ("patch", "/api/v1/rooms/{id}"),
        ("delete", "/api/v1/rooms/{id}"),
        ("post", "/api/v1/rooms/{id}/join"),
        ("post", "/api/v1/rooms/{id}/leave"),
        ("post", "/api/v1/rooms/{id}/read"),
        ("get", "/api/v1/rooms/{id}/members"),
        ("patch", "/api/v1/rooms/{id}/members/{user_id}"),
        ("delete", "/api/v1/rooms/{id}/members/{user_id}"),
        ("get", "/api/v1/rooms/{id}/messages"),
        ("post", "/api/v1/rooms/{id}/messages"),
        ("patch", "/api/v1/rooms/{id}/messages/{message_id}"),
        ("delete", "/api/v1/rooms/{id}/messages/{message_id}"),
        ("get", "/api/v1/rooms/{id}/invites"),
        ("post", "/api/v1/rooms/{id}/invites"),
        ("delete", "/api/v1/rooms/{id}/invites/{code}"),
        ("get", "/api/v1/invites/{code}"),
        ("post", "/api/v1/invites/{code}/accept"),
        ("get", "/api/v1/rooms/{id}/call"),
        ("get", "/api/v1/ice-servers"),
        ("get", "/api/v1/devices"),
        ("post", "/api/v1/devices"),
        ("patch", "/api/v1/devices/{id}"),
        ("delete", "/api/v1/devices/{id}"),
        ("get", "/api/v1/sessions"),
        ("post", "/api/v1/sessions"),
        ("post", "/api/v1/sessions/{id}/close"),
        ("post", "/api/v1/sessions/redeem"),
        ("get", "/api/v1/auth/sessions"),
        ("delete", "/api/v1/auth/sessions/{id}"),
        ("get", "/api/v1/me/notifications"),
        ("put", "/api/v1/me/notifications"),
        ("post", "/api/v1/me/notifications/test"),
    ];
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from OpenAPI"
        );
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        expected.len(),
        "every documented operation is in the expected list"
    );
    // And every documented operation is really served (not 404/405).
    let alice = server.register("alice").await;
    for (method, path) in expected {
        let concrete = path
            .replace("{id}", "1")
            .replace("{user_id}", "1")
            .replace("{message_id}", "1")
            .replace("{code}", "c");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let (status, body) = server
            .request(
                method.clone(),
                &concrete,
                Some(&alice.token),
                Some(json!({})),
            )
            .await;
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {concrete}"
        );
        if status == StatusCode::NOT_FOUND {
            assert_ne!(
                body["message"], "There is no such endpoint.",
                "{method} {concrete} is not routed"
            );
        }
    }
}

#[tokio::test]
async fn health_and_metrics_answer() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    server.create_room(&alice, "general", "public").await;
    let _ws = server.connect(&alice).await;
    let health = server
        .http
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let metrics = server
        .http
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "mesh_ws_connections 1",
        "mesh_rooms 1",
        "mesh_messages_total",
        "mesh_http_requests_total",
        "mesh_http_request_duration_seconds_bucket",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }
    assert!(
        metrics.contains(r#"route="/api/v1/rooms""#),
        "routes are labelled by pattern"
    );
}

#[tokio::test]
async fn bad_input_gets_json_errors_never_a_server_error() {
    let server = TestServer::start().await;
    let alice = server.register("alice").await;
    let post_raw = |path: &str, content_type: &str, body: Vec<u8>| {
        server
            .http
            .post(format!("{}{path}", server.url))
            .bearer_auth(&alice.token)
            .header("content-type", content_type.to_owned())
            .body(body)
            .send()
    };
    let cases = [
        (
            post_raw("/api/v1/rooms", "application/json", b"{\"name\":".to_vec())
                .await
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            post_raw(
                "/api/v1/rooms",
                "application/json",
                b"{\"name\":3,\"visibility\":\"public\"}".to_vec(),
            )
            .await
            .unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            post_raw(
                "/api/v1/rooms",
                "application/json",
                b"{\"name\":\"x\",\"visibility\":\"secret\"}".to_vec(),
            )
            .await
            .unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            post_raw("/api/v1/rooms", "text/plain", b"hello".to_vec())
                .await
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            post_raw("/api/v1/rooms", "application/json", vec![b' '; 70 * 1024])
                .await
                .unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            server
                .http
                .get(format!("{}/api/v1/rooms/abc", server.url))
                .bearer_auth(&alice.token)
                .send()
                .await
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            server
                .http
                .get(format!("{}/api/v1/rooms?scope=all", server.url))
                .bearer_auth(&alice.token)
                .send()
                .await
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            server
                .http
                .get(format!("{}/api/v1/nothing-here", server.url))
                .send()
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (response, status, code) in cases {
        assert_eq!(response.status(), status);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], code, "{body}");
    }
    let (status, error) = server
        .post(
            "/api/v1/rooms",
            &alice.token,
            json!({"name": "", "visibility": "public"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["code"], "validation");
    let (_, rooms) = server.get("/api/v1/rooms", &alice.token).await;
    assert!(
        rooms.as_array().unwrap().is_empty(),
        "no bad request created a room"
    );
}

#[tokio::test]
async fn unknown_pages_get_the_web_client_with_a_strict_policy() {
    let server = TestServer::start().await;
    let response = server
        .http
        .get(format!("{}/rooms/3", server.url))
        .send()
        .await
        .unwrap();
    // 200 with index.html when the client is built, 503 with instructions when not.
    assert!(matches!(
        response.status(),
        StatusCode::OK | StatusCode::SERVICE_UNAVAILABLE
    ));
    if response.status() == StatusCode::OK {
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"));
        assert!(response.text().await.unwrap().contains("<div id=\"root\">"));
    }
}
