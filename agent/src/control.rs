//! The control plane as the agent sees it: REST calls to the Mesh server
//! (signing in, registering the device, opening and redeeming sessions) and
//! the WebSocket that keeps the person online and brings session offers.
//!
//! Access tokens are short; the refresh token lives in the agent home and is
//! rotated under a file lock (see [`Home::update_state`]).

use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use mesh_proto::{
    ApiError, AuthResponse, Capability, CreateSessionRequest, Device, IceServers, LoginRequest,
    RedeemRequest, RefreshRequest, RegisterDeviceRequest, ServerEvent, ServerFrame, SessionGrant,
    UpdateDeviceRequest,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::home::{Home, State};
use crate::identity::Identity;

/// Refresh the access token when it has less than this left.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The server said no. `code` is the stable code of `docs/protocol.md`.
#[derive(Debug, thiserror::Error)]
#[error("{message} ({code})")]
pub struct Refused {
    pub status: u16,
    pub code: String,
    pub message: String,
}

pub struct Control {
    http: reqwest::Client,
    home: Home,
    server: String,
    access: Mutex<Option<(String, Instant)>>,
}

fn http_client() -> anyhow::Result<reqwest::Client> {
    // The HTTP client looks for the process-wide provider when it is built.
    crate::identity::crypto();
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(tls_client_config())
        .timeout(HTTP_TIMEOUT)
        .build()?)
}

/// HTTPS to the control server: the usual web PKI, with the agent's crypto.
fn tls_client_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    rustls::ClientConfig::builder_with_provider(crate::identity::crypto())
        .with_safe_default_protocol_versions()
        .expect("the default provider supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// Signs in with a password, registers this device and remembers both.
pub async fn login(
    home: &Home,
    server: &str,
    login: &str,
    password: &str,
    device_name: &str,
) -> anyhow::Result<(State, Device)> {
    let server = server.trim_end_matches('/').to_owned();
    let http = http_client()?;
    let auth: AuthResponse = call(http.post(format!("{server}/api/v1/auth/login")).json(
        &LoginRequest {
            login: login.to_owned(),
            password: password.to_owned(),
        },
    ))
    .await?;
    let register = |identity: &Identity| {
        call::<Device>(
            http.post(format!("{server}/api/v1/devices"))
                .bearer_auth(&auth.access_token)
                .json(&RegisterDeviceRequest {
                    name: device_name.to_owned(),
                    fingerprint: identity.fingerprint().to_owned(),
                }),
        )
    };
    let device = match register(&Identity::load_or_create(home)?).await {
        // This key was revoked (or the home was copied from another
        // account): a new device needs a new key.
        Err(err)
            if err
                .downcast_ref::<Refused>()
                .is_some_and(|r| r.status == 409) =>
        {
            register(&Identity::replace(home)?).await?
        }
        other => other?,
    };
    let state = State {
        server,
        username: auth.user.username,
        user_id: auth.user.id,
        device_id: device.id,
        refresh_token: auth.refresh_token,
    };
    home.save_state(&state)?;
    Ok((state, device))
}

async fn call<T: DeserializeOwned>(request: reqwest::RequestBuilder) -> anyhow::Result<T> {
    let response = request
        .send()
        .await
        .context("cannot reach the Mesh server")?;
    let status = response.status();
    if status.is_success() {
        return response
            .json()
            .await
            .context("the Mesh server sent an answer this agent does not understand");
    }
    let error: ApiError = response.json().await.unwrap_or_else(|_| ApiError {
        code: "http".into(),
        message: format!("The Mesh server answered {status}."),
    });
    Err(Refused {
        status: status.as_u16(),
        code: error.code,
        message: error.message,
    }
    .into())
}

impl Control {
    pub fn new(home: Home) -> anyhow::Result<Control> {
        let state = home.state()?;
        Ok(Control {
            http: http_client()?,
            server: state.server,
            home,
            access: Mutex::new(None),
        })
    }

    /// A valid access token, refreshing it when it is about to expire.
    pub async fn access_token(&self) -> anyhow::Result<String> {
        let mut access = self.access.lock().await;
        if let Some((token, expires)) = access.as_ref() {
            if Instant::now() + REFRESH_MARGIN < *expires {
                return Ok(token.clone());
            }
        }
        let http = self.http.clone();
        let server = self.server.clone();
        let mut fresh = None;
        self.home
            .update_state(|mut state| async {
                let auth: AuthResponse = call(
                    http.post(format!("{server}/api/v1/auth/refresh"))
                        .json(&RefreshRequest {
                            refresh_token: Some(state.refresh_token.clone()),
                        }),
                )
                .await
                .map_err(|err| match err.downcast::<Refused>() {
                    Ok(refused) if refused.status == 401 => anyhow::anyhow!(
                        "this agent's sign-in has ended ({}): run `mesh-agent login` again",
                        refused.message
                    ),
                    Ok(refused) => refused.into(),
                    Err(err) => err,
                })?;
                state.refresh_token = auth.refresh_token;
                fresh = Some((
                    auth.access_token,
                    Instant::now() + Duration::from_secs(auth.expires_in.max(0) as u64),
                ));
                Ok(state)
            })
            .await?;
        let (token, expires) = fresh.expect("set by a successful refresh");
        *access = Some((token.clone(), expires));
        Ok(token)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let token = self.access_token().await?;
        call(
            self.http
                .get(format!("{}{path}", self.server))
                .bearer_auth(token),
        )
        .await
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let token = self.access_token().await?;
        call(
            self.http
                .request(method, format!("{}{path}", self.server))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    /// Announces where this device's QUIC endpoint listens.
    pub async fn announce(&self, device_id: i64, addresses: &[String]) -> anyhow::Result<Device> {
        self.send(
            reqwest::Method::PATCH,
            &format!("/api/v1/devices/{device_id}"),
            &UpdateDeviceRequest {
                addresses: addresses.to_vec(),
            },
        )
        .await
    }

    /// Mesh's TURN relay over UDP and a credential for it, from the ICE
    /// servers it hands out.
    pub async fn relay_server(&self) -> anyhow::Result<crate::turn::RelayServer> {
        let servers: IceServers = self.get("/api/v1/ice-servers").await?;
        for server in servers.ice_servers {
            let (Some(username), Some(password)) = (server.username, server.credential) else {
                continue;
            };
            for host in server
                .urls
                .iter()
                .filter_map(|u| crate::turn::udp_server_of(u))
            {
                if let Some(address) = tokio::net::lookup_host(&host).await?.next() {
                    return Ok(crate::turn::RelayServer {
                        address,
                        username,
                        password,
                    });
                }
            }
        }
        anyhow::bail!("the Mesh server offers no TURN relay over UDP (is MESH_TURN off?)")
    }

    /// Mesh's STUN servers (`host:port`), from the ICE servers it hands out.
    pub async fn stun_servers(&self) -> anyhow::Result<Vec<String>> {
        let servers: IceServers = self.get("/api/v1/ice-servers").await?;
        Ok(servers
            .ice_servers
            .iter()
            .flat_map(|server| &server.urls)
            .filter_map(|url| crate::stun::server_of(url))
            .collect())
    }

    /// Devices this person may open sessions to.
    pub async fn shared_devices(&self) -> anyhow::Result<Vec<Device>> {
        self.get("/api/v1/devices?scope=shared").await
    }

    pub async fn create_session(
        &self,
        request: &CreateSessionRequest,
    ) -> anyhow::Result<SessionGrant> {
        self.send(reqwest::Method::POST, "/api/v1/sessions", request)
            .await
    }

    /// Has the server check and consume a token a peer presented to `device_id`.
    pub async fn redeem(&self, device_id: i64, token: &str) -> anyhow::Result<Capability> {
        self.send(
            reqwest::Method::POST,
            "/api/v1/sessions/redeem",
            &RedeemRequest {
                device_id,
                token: token.to_owned(),
            },
        )
        .await
    }

    pub async fn close_session(&self, session_id: i64) -> anyhow::Result<()> {
        let _: serde_json::Value = self
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/sessions/{session_id}/close"),
                &serde_json::json!({}),
            )
            .await?;
        Ok(())
    }

    /// Connects the WebSocket and hands every pushed event to `on_event`
    /// until the connection ends. Being connected is what makes the person
    /// show as online while only the agent runs.
    pub async fn listen(&self, mut on_event: impl FnMut(ServerEvent)) -> anyhow::Result<()> {
        let url = format!(
            "{}/api/v1/ws",
            self.server
                .replacen("https://", "wss://", 1)
                .replacen("http://", "ws://", 1)
        );
        let connector =
            tokio_tungstenite::Connector::Rustls(std::sync::Arc::new(tls_client_config()));
        let (mut socket, _) =
            tokio_tungstenite::connect_async_tls_with_config(url, None, false, Some(connector))
                .await
                .context("cannot open the WebSocket to the Mesh server")?;
        let auth = serde_json::json!({"v": 1, "id": "auth", "type": "auth",
            "payload": {"token": self.access_token().await?}});
        socket
            .send(WsMessage::Text(auth.to_string().into()))
            .await?;
        while let Some(message) = socket.next().await {
            match message? {
                WsMessage::Text(text) => {
                    let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) else {
                        continue;
                    };
                    if let ServerEvent::Error(error) = &frame.event {
                        anyhow::bail!("the Mesh server refused the agent: {}", error.message);
                    }
                    on_event(frame.event);
                }
                WsMessage::Close(_) => break,
                _ => {}
            }
        }
        Ok(())
    }
}
