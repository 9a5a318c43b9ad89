//! A real `mesh` server process on loopback and in-process agents signed in
//! to it, each with its own temporary home and inbox.

#![allow(dead_code)] // each test binary uses part of the harness

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mesh_agent::agent::{Agent, Event, Options};
use mesh_agent::control::{self, Control};
use mesh_agent::home::Home;

use mesh_agent::progress::Progress;
use mesh_agent::session::{self, Session};
use mesh_agent::transfer::{send, Policy};
use mesh_agent::transport::{self, Congestion};
use mesh_proto::{CreateSessionRequest, Scope, SessionGrant};
use serde_json::{json, Value};

/// The `mesh` binary: `$MESH_BIN` when set (`make test` points it at the
/// binary the workspace build made, so it is not rebuilt with other
/// features), otherwise built once per test process.
fn mesh_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            if let Some(binary) = std::env::var_os("MESH_BIN") {
                return PathBuf::from(binary);
            }
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "-q", "-p", "mesh-server", "--bin", "mesh"])
                .current_dir(workspace)
                .status()
                .expect("cannot run cargo to build the mesh server");
            assert!(status.success(), "building the mesh server failed");
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace.join("target"));
            target.join("debug").join("mesh")
        })
        .clone()
}

pub struct Server {
    pub url: String,
    pub data_dir: tempfile::TempDir,
    child: Child,
    http: reqwest::Client,
}

impl Server {
    /// A server without media: no SFU, no TURN relay (so no STUN either).
    pub fn start() -> Server {
        Server::start_with(&[("MESH_TURN", "false")])
    }

    /// A server whose TURN relay (and so STUN) listens on a free port.
    pub fn start_with_stun() -> Server {
        Server::start_with(&[("MESH_TURN_PORT", "0"), ("MESH_PUBLIC_IP", "127.0.0.1")])
    }

    /// A server with its TURN relay (and STUN) on `ip`, an address of the
    /// network namespace the calling thread is in (see `tests/nat.rs`).
    pub fn start_on(ip: &str) -> Server {
        let http = format!("{ip}:0");
        Server::start_with(&[
            ("MESH_HTTP_ADDR", &http),
            ("MESH_TURN_PORT", "0"),
            ("MESH_PUBLIC_IP", ip),
        ])
    }

    fn start_with(env: &[(&str, &str)]) -> Server {
        // The agent's TLS provider, which the harness's HTTP client needs too.
        mesh_agent::identity::crypto();
        let data_dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(mesh_binary());
        command
            .arg("serve")
            .env("MESH_HTTP_ADDR", "127.0.0.1:0")
            .env("MESH_SFU", "false")
            .env("MESH_DATA_DIR", data_dir.path())
            .env("MESH_LOG", "warn")
            .env_remove("MESH_PUBLIC_URL")
            .env_remove("MESH_REGISTRATION");
        // The caller's settings win over the defaults above.
        command.envs(env.iter().copied());
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start mesh");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines.next().expect("mesh printed nothing").unwrap();
        let url = line
            .split("running at ")
            .nth(1)
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .trim()
            .to_owned();
        std::thread::spawn(move || for _ in lines {});
        Server {
            url,
            data_dir,
            child,
            http: reqwest::Client::new(),
        }
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let mut request = self.http.post(format!("{}{path}", self.url)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// Registers `name` (password `password-<name>`); returns its access token.
    pub async fn register(&self, name: &str) -> String {
        let body = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({"username": name, "email": format!("{name}@example.org"), "password": password(name)}),
            )
            .await;
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Puts the two people in a room together.
    pub async fn share_room(&self, owner: &str, owner_token: &str, other_token: &str) {
        let room = self
            .post(
                "/api/v1/rooms",
                Some(owner_token),
                json!({"name": format!("{owner}'s team"), "visibility": "private"}),
            )
            .await;
        let invite = self
            .post(
                &format!("/api/v1/rooms/{}/invites", room["id"]),
                Some(owner_token),
                json!({}),
            )
            .await;
        self.post(
            &format!(
                "/api/v1/invites/{}/accept",
                invite["code"].as_str().unwrap()
            ),
            Some(other_token),
            json!({}),
        )
        .await;
    }

    /// Signs claims with the server's capability key, as only the server should.
    pub fn mint(&self, claims: &Value) -> String {
        use sha2::Digest;
        let token_key = std::fs::read(self.data_dir.path().join("token.key")).unwrap();
        let mut hasher = sha2::Sha256::new();
        hasher.update(b"mesh capability tokens v1\0");
        hasher.update(&token_key);
        let key = hasher.finalize();
        let header = base64url(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = base64url(claims.to_string().as_bytes());
        let input = format!("{header}.{payload}");
        let signature = hmac_sha256(&key, input.as_bytes());
        format!("{input}.{}", base64url(&signature))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn password(name: &str) -> String {
    format!("password-{name}")
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | *b as u32) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let inner: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner_hash = sha2::Sha256::new()
        .chain_update(&inner)
        .chain_update(message)
        .finalize();
    sha2::Sha256::new()
        .chain_update(&outer)
        .chain_update(inner_hash)
        .finalize()
        .to_vec()
}

/// One person's agent: signed in, listening on loopback, with an inbox.
pub struct TestAgent {
    pub name: String,
    pub home: Home,
    pub agent: Arc<Agent>,
    pub inbox: PathBuf,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl TestAgent {
    /// Signs `user` in on a new device and starts its agent. `accept_from`
    /// lists whose files it takes without asking (nobody else's).
    pub async fn start(
        server: &Server,
        user: &str,
        device: &str,
        accept_from: &[&str],
    ) -> TestAgent {
        let home_dir = tempfile::tempdir().unwrap();
        let inbox_dir = tempfile::tempdir().unwrap();
        let home = Home::open(home_dir.path()).unwrap();
        control::login(&home, &server.url, user, &password(user), device)
            .await
            .expect("login");
        let inbox = inbox_dir.path().join("inbox");
        let agent = Agent::start(
            home.clone(),
            Options {
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                announce: Vec::new(),
                inbox: inbox.clone(),
                policy: Policy {
                    accept_from: accept_from.iter().map(|s| s.to_string()).collect(),
                    ask: false,
                },
                congestion: Congestion::Cubic,
                show_progress: false,
            },
        )
        .await
        .expect("agent start");
        let serving = agent.clone();
        tokio::spawn(async move { serving.serve().await });
        TestAgent {
            name: user.to_owned(),
            home,
            agent,
            inbox,
            _dirs: (home_dir, inbox_dir),
        }
    }

    pub fn device_id(&self) -> i64 {
        self.agent.device_id
    }

    pub fn fingerprint(&self) -> String {
        self.agent.identity.fingerprint().to_owned()
    }

    /// An endpoint for dialling out (the identity is chosen per connection).
    pub fn dialer(&self) -> quinn::Endpoint {
        transport::dialer(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap()
    }

    /// Asks the server for a session to `to` and returns the grant, unused.
    pub async fn grant(&self, to: &TestAgent, scope: Scope) -> SessionGrant {
        self.agent
            .control
            .create_session(&CreateSessionRequest {
                from_device: self.device_id(),
                to_device: to.device_id(),
                kind: scope.kind(),
                scope,
                candidates: Vec::new(),
            })
            .await
            .expect("session grant")
    }

    /// Opens a session to `to` the normal way.
    pub async fn open(
        &self,
        endpoint: &quinn::Endpoint,
        to: &TestAgent,
        scope: Scope,
    ) -> anyhow::Result<Session> {
        let grant = self.grant(to, scope).await;
        session::connect(&self.agent.identity, endpoint, &grant, Congestion::Cubic).await
    }

    /// Sends `paths` to `to`, reporting progress into `progress`.
    pub async fn send_with(
        &self,
        to: &TestAgent,
        paths: Vec<PathBuf>,
        progress: Arc<Progress>,
    ) -> anyhow::Result<send::SendReport> {
        let endpoint = self.dialer();
        let session = self.open(&endpoint, to, Scope::File).await?;
        let report = send::send(session, &self.agent.identity, paths, progress).await;
        endpoint.wait_idle().await;
        report
    }

    pub async fn send(
        &self,
        to: &TestAgent,
        paths: Vec<PathBuf>,
    ) -> anyhow::Result<send::SendReport> {
        self.send_with(to, paths, Progress::new()).await
    }

    pub fn control(&self) -> Control {
        Control::new(self.home.clone()).unwrap()
    }

    /// Everything in the inbox, hidden staging folders included.
    pub fn inbox_entries(&self) -> Vec<String> {
        match std::fs::read_dir(&self.inbox) {
            Ok(entries) => {
                let mut names: Vec<String> = entries
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                names
            }
            Err(_) => Vec::new(),
        }
    }
}

/// Alice and Bob share a room; Bob accepts Alice's files.
pub async fn alice_and_bob(server: &Server) -> (TestAgent, TestAgent) {
    let alice_token = server.register("alice").await;
    let bob_token = server.register("bob").await;
    server.share_room("alice", &alice_token, &bob_token).await;
    let alice = TestAgent::start(server, "alice", "alice-laptop", &[]).await;
    let bob = TestAgent::start(server, "bob", "bob-desktop", &["alice"]).await;
    (alice, bob)
}

/// The next failure the agent reports, within `wait`.
pub async fn next_failure_within(
    events: &mut tokio::sync::broadcast::Receiver<Event>,
    wait: Duration,
) -> (u32, String) {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(Event::Failed { code, message })) => return (code, message),
            Ok(Ok(_)) => continue,
            Ok(Err(err)) => panic!("agent events: {err}"),
            Err(_) => panic!("the agent reported no failure within {wait:?}"),
        }
    }
}

/// Writes `size` bytes of deterministic pseudo-random data (xorshift).
pub fn write_random_file(path: &Path, size: u64, seed: u64) {
    use std::io::Write;
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut state = seed | 1;
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    file.flush().unwrap();
}

/// BLAKE3 of a file's content.
pub fn digest(path: &Path) -> blake3::Hash {
    let mut hasher = blake3::Hasher::new();
    hasher
        .update_reader(std::fs::File::open(path).unwrap())
        .unwrap();
    hasher.finalize()
}

/// Expects the attempt to have failed with the receiver closing `code`,
/// saying something that contains `words`.
pub fn assert_refused<T>(result: anyhow::Result<T>, code: u32, words: &str) {
    let Err(err) = result else {
        panic!("expected a refusal, it went through");
    };
    let failure = err
        .downcast_ref::<session::Failure>()
        .unwrap_or_else(|| panic!("not a peer failure: {err:#}"));
    assert_eq!(failure.code, code, "{failure}");
    assert!(
        failure.message.contains(words),
        "`{failure}` does not say `{words}`"
    );
}

#[allow(unused_imports)]
pub use mesh_agent::{identity::hex, transport::close};
