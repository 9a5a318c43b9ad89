//! The built-in TURN relay (`mesh-turn`) as the control plane sees it:
//! starting it with a secret generated on first start, and handing each
//! signed-in client ephemeral credentials for it (TURN REST style).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::SystemTime;

use anyhow::Context;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use mesh_proto::IceServer;
use mesh_turn::{MetricsSnapshot, TurnServer};

use crate::config::TurnSettings;
use crate::secrets;

pub struct Relay {
    server: TurnServer,
    secret: String,
    settings: TurnSettings,
    /// The host part of the URLs handed to clients.
    host: String,
    /// The hostname for `turns:` URLs, which must match the certificate.
    tls_host: Option<String>,
}

/// The REST secret: the configured one, or one generated in the data
/// directory on first start and kept there (owner-only).
pub fn secret(settings: &TurnSettings, data_dir: &Path) -> anyhow::Result<String> {
    match &settings.secret {
        Some(secret) => Ok(secret.clone()),
        None => Ok(STANDARD_NO_PAD.encode(secrets::load_or_create(&data_dir.join("turn.key"))?)),
    }
}

/// The relay's configuration from Mesh's.
pub fn turn_config(
    settings: &TurnSettings,
    secret: String,
    public_ip: IpAddr,
    sfu_media: Option<SocketAddr>,
) -> anyhow::Result<mesh_turn::Config> {
    let any_v4 = |port| SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    let tls = match &settings.tls {
        Some(tls) => {
            let cert = std::fs::read(&tls.cert).with_context(|| {
                format!("cannot read MESH_TURN_TLS_CERT {}", tls.cert.display())
            })?;
            let key = std::fs::read(&tls.key)
                .with_context(|| format!("cannot read MESH_TURN_TLS_KEY {}", tls.key.display()))?;
            Some(mesh_turn::driver::tls::server_config(&cert, &key)?)
        }
        None => None,
    };
    // On a loopback-only setup the relay binds loopback; otherwise every
    // interface, advertising the public address.
    let (bind_v4, public_v4, bind_v6, public_v6) = match public_ip {
        IpAddr::V4(ip) if ip.is_loopback() => (Some(ip), Some(ip), None, None),
        IpAddr::V4(ip) => (Some(Ipv4Addr::UNSPECIFIED), Some(ip), None, None),
        IpAddr::V6(ip) => (None, None, Some(Ipv6Addr::UNSPECIFIED), Some(ip)),
    };
    Ok(mesh_turn::Config {
        listen_udp: vec![any_v4(settings.port)],
        listen_tcp: vec![any_v4(settings.port)],
        listen_tls: settings.tls.iter().map(|tls| any_v4(tls.port)).collect(),
        tls,
        relay: mesh_turn::RelayConfig {
            bind_v4,
            public_v4,
            bind_v6,
            public_v6,
            ports: settings.relay_ports.clone(),
        },
        secret,
        policy: mesh_turn::PolicyConfig {
            allowed_internal: sfu_media,
            allow_loopback_peers: settings.allow_loopback_peers,
            own_addresses: Vec::new(),
        },
        ..mesh_turn::Config::default()
    })
}

impl Relay {
    pub async fn start(
        settings: &TurnSettings,
        data_dir: &Path,
        public_ip: IpAddr,
        public_url: &str,
        sfu_media: Option<SocketAddr>,
    ) -> anyhow::Result<Relay> {
        let secret = secret(settings, data_dir)?;
        let config = turn_config(settings, secret.clone(), public_ip, sfu_media)?;
        let server = TurnServer::start(config).await?;
        let addrs = server.local_addrs();
        // Ports resolved when the configuration asked for port 0.
        let mut settings = settings.clone();
        settings.port = addrs.udp.first().map_or(settings.port, SocketAddr::port);
        if let (Some(tls), Some(bound)) = (settings.tls.as_mut(), addrs.tls.first()) {
            tls.port = bound.port();
        }
        let host = match public_ip {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        let tls_host = settings
            .tls
            .as_ref()
            .map(|_| url_host(public_url).unwrap_or_else(|| host.clone()));
        tracing::info!(udp = ?addrs.udp, tcp = ?addrs.tcp, tls = ?addrs.tls, "TURN relay listening");
        Ok(Relay {
            server,
            secret,
            settings,
            host,
            tls_host,
        })
    }

    /// ICE servers with credentials for `user_id`, valid for the configured TTL.
    pub fn ice_servers(&self, user_id: i64) -> Vec<IceServer> {
        let (username, password) = mesh_turn::credentials::issue(
            &self.secret,
            &user_id.to_string(),
            SystemTime::now(),
            self.settings.credential_ttl,
        );
        let port = self.settings.port;
        let mut urls = vec![
            format!("stun:{}:{port}", self.host),
            format!("turn:{}:{port}?transport=udp", self.host),
            format!("turn:{}:{port}?transport=tcp", self.host),
        ];
        if let (Some(tls), Some(host)) = (&self.settings.tls, &self.tls_host) {
            urls.push(format!("turns:{host}:{}?transport=tcp", tls.port));
        }
        vec![IceServer {
            urls,
            username: Some(username),
            credential: Some(password),
        }]
    }

    pub fn metrics(&self) -> MetricsSnapshot {
        self.server.metrics()
    }

    /// The UDP/TCP port clients reach the relay on.
    pub fn port(&self) -> u16 {
        self.settings.port
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// The host of an `https://host[:port]/...` URL.
fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host);
    (!host.is_empty()).then(|| host.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_host_comes_from_the_public_url() {
        assert_eq!(
            url_host("https://chat.example.org").as_deref(),
            Some("chat.example.org")
        );
        assert_eq!(
            url_host("https://chat.example.org:8443/x").as_deref(),
            Some("chat.example.org")
        );
        assert_eq!(url_host("nonsense"), None);
    }
}
