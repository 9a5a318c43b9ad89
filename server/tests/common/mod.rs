//! A real `mesh` process on an ephemeral loopback port with a temporary data
//! directory, and small HTTP and WebSocket clients to drive it.

#![allow(dead_code)] // each test binary uses part of the harness

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub struct TestServer {
    pub url: String,
    pub data_dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    child: Option<Child>,
    pub http: reqwest::Client,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(&[]).await
    }

    /// Starts a server with extra `MESH_*` variables.
    pub async fn start_with(env: &[(&str, &str)]) -> TestServer {
        let mut server = TestServer {
            url: String::new(),
            data_dir: tempfile::tempdir().unwrap(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mesh"));
        command
            .arg("serve")
            .env("MESH_HTTP_ADDR", "127.0.0.1:0")
            .env("MESH_MEDIA_PORT", "0")
            .env("MESH_TURN_PORT", "0")
            .env("MESH_PUBLIC_IP", "127.0.0.1")
            .env("MESH_DATA_DIR", self.data_dir.path())
            .env("MESH_LOG", "warn")
            .env_remove("MESH_PUBLIC_URL")
            .env_remove("MESH_REGISTRATION")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("cannot start mesh");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let line = lines
            .next()
            .expect("mesh exited before printing its address")
            .unwrap();
        let url = line
            .split("running at ")
            .nth(1)
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .trim()
            .to_owned();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        self.url = url;
        self.child = Some(child);
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server not running");
        unsafe_sigterm(child.id());
        for _ in 0..200 {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill().unwrap();
        panic!("mesh did not exit within 10 s of SIGTERM");
    }

    /// Stops the server (gracefully) and starts it again on the same data.
    pub fn restart(&mut self) {
        if self.child.is_some() {
            assert!(self.terminate().success());
        }
        self.spawn();
    }

    /// Starts the server again after [`kill`](Self::kill).
    pub fn start_again(&mut self) {
        assert!(self.child.is_none());
        self.spawn();
    }

    pub fn ws_url(&self) -> String {
        format!("{}/api/v1/ws", self.url.replacen("http", "ws", 1))
    }

    /// Any request; returns the status and the JSON body (Null when empty).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request failed");
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::POST, path, Some(token), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.request(Method::DELETE, path, Some(token), None).await
    }

    /// Registers `name` (password `password-<name>`) and returns the session.
    pub async fn register(&self, name: &str) -> Session {
        let (status, body) = self
            .request(
                Method::POST,
                "/api/v1/auth/register",
                None,
                Some(json!({"username": name, "email": format!("{name}@example.org"), "password": format!("password-{name}")})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "register {name}: {body}");
        Session::from_auth(&body)
    }

    pub async fn login(&self, name: &str) -> Session {
        let (status, body) = self
            .request(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"login": name, "password": format!("password-{name}")})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login {name}: {body}");
        Session::from_auth(&body)
    }

    /// Creates a room owned by `owner` and returns its id.
    pub async fn create_room(&self, owner: &Session, name: &str, visibility: &str) -> i64 {
        let (status, body) = self
            .post(
                "/api/v1/rooms",
                &owner.token,
                json!({"name": name, "visibility": visibility}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_i64().unwrap()
    }

    /// Brings `user` into `room` with `role` through an invite made by `owner`.
    pub async fn add_member(&self, owner: &Session, room: i64, user: &Session, role: &str) {
        let (status, invite) = self
            .post(
                &format!("/api/v1/rooms/{room}/invites"),
                &owner.token,
                json!({"role": role}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{invite}");
        let code = invite["code"].as_str().unwrap();
        let (status, body) = self
            .post(
                &format!("/api/v1/invites/{code}/accept"),
                &user.token,
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    pub async fn send_message(&self, user: &Session, room: i64, body: &str) -> Value {
        let (status, message) = self
            .post(
                &format!("/api/v1/rooms/{room}/messages"),
                &user.token,
                json!({"client_id": uuid_like(), "body": body}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{message}");
        message
    }

    pub async fn connect(&self, session: &Session) -> Ws {
        let mut ws = Ws::open(&self.ws_url()).await;
        ws.send(json!({"v": 1, "id": "auth", "type": "auth", "payload": {"token": session.token}}))
            .await;
        let ready = ws.next().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        ws
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn unsafe_sigterm(pid: u32) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

pub fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "c-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

#[derive(Clone, Debug)]
pub struct Session {
    pub token: String,
    pub refresh: String,
    pub user_id: i64,
}

impl Session {
    pub fn from_auth(body: &Value) -> Session {
        Session {
            token: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
            user_id: body["user"]["id"].as_i64().unwrap(),
        }
    }
}

/// A WebSocket client speaking the JSON envelope.
pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

const WS_WAIT: Duration = Duration::from_secs(10);

pub enum Received {
    Frame(Value),
    Closed(Option<CloseFrame>),
}

impl Ws {
    pub async fn open(url: &str) -> Ws {
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connect");
        Ws { stream }
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_text(frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        self.stream
            .send(WsMessage::Text(text.into()))
            .await
            .expect("websocket send");
    }

    pub async fn send_raw(
        &mut self,
        message: WsMessage,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        self.stream.send(message).await
    }

    /// Closes with `code` and waits for the server's answering close.
    pub async fn close_with(&mut self, code: u16) {
        let frame = CloseFrame {
            code: code.into(),
            reason: "".into(),
        };
        self.stream
            .close(Some(frame))
            .await
            .expect("websocket close");
        while let Some(Ok(_)) = self.stream.next().await {}
    }

    /// The next frame or the close, skipping pings.
    pub async fn receive(&mut self) -> Received {
        loop {
            let next = tokio::time::timeout(WS_WAIT, self.stream.next())
                .await
                .expect("no websocket frame within 10 s");
            match next {
                Some(Ok(WsMessage::Text(text))) => {
                    return Received::Frame(serde_json::from_str(&text).unwrap())
                }
                Some(Ok(WsMessage::Close(frame))) => return Received::Closed(frame),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Received::Closed(None),
            }
        }
    }

    pub async fn next(&mut self) -> Value {
        match self.receive().await {
            Received::Frame(frame) => frame,
            Received::Closed(frame) => panic!("websocket closed: {frame:?}"),
        }
    }

    /// The next frame of `kind`, skipping others (presence, typing, ...).
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// The answer to request `id`, skipping pushed events.
    pub async fn reply_to(&mut self, id: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["id"] == id {
                return frame;
            }
        }
    }

    /// Sends a request and waits for its answer.
    pub async fn call(&mut self, id: &str, kind: &str, payload: Value) -> Value {
        self.send(json!({"v": 1, "id": id, "type": kind, "payload": payload}))
            .await;
        self.reply_to(id).await
    }

    /// Waits for the close frame, skipping other frames; returns its code.
    pub async fn closed_with(&mut self) -> Option<u16> {
        loop {
            match self.receive().await {
                Received::Frame(_) => continue,
                Received::Closed(frame) => return frame.map(|f| u16::from(f.code)),
            }
        }
    }

    /// Whether any frame of `kind` arrives within `wait`.
    pub async fn sees_within(&mut self, kind: &str, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.stream.next()).await {
                Err(_) => return false,
                Ok(Some(Ok(WsMessage::Text(text)))) => {
                    let frame: Value = serde_json::from_str(&text).unwrap();
                    if frame["type"] == kind {
                        return true;
                    }
                }
                Ok(Some(Ok(_))) => continue,
                Ok(_) => return false,
            }
        }
    }
}

pub fn data_path(server: &TestServer, name: &str) -> PathBuf {
    server.data_dir.path().join(name)
}
