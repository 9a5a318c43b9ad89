//! Configuration: defaults, then a TOML file (`mesh serve --config FILE`), then
//! `MESH_*` environment variables. Every key is documented in
//! `docs/configuration.md`.

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use mesh_proto::RegistrationMode;
use serde::Deserialize;

#[derive(Debug, Clone)]
pub struct Config {
    pub http_addr: SocketAddr,
    pub data_dir: PathBuf,
    /// The URL people use to reach the server; invite links are built on it.
    /// `None` means "derive from the listening address".
    pub public_url: Option<String>,
    pub registration: RegistrationMode,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// A rotated refresh token presented again within this window is taken as
    /// two tabs refreshing at once, not as theft.
    pub refresh_reuse_grace: Duration,
    /// How long a call participant whose connection dropped keeps its place.
    pub call_resume_grace: Duration,
    /// Trust `X-Forwarded-For` from the reverse proxy for client addresses.
    pub trust_proxy: bool,
    /// The address clients send media to, for the SFU and the TURN relay alike.
    pub public_ip: IpAddr,
    /// The embedded SFU; `None` when disabled.
    pub sfu: Option<SfuSettings>,
    /// Largest call that stays peer-to-peer (rooms may force mesh or SFU).
    pub mesh_limit: usize,
    /// The built-in TURN relay; `None` when disabled.
    pub turn: Option<TurnSettings>,
    pub log_format: LogFormat,
    /// Push notifications: the server-wide default and the delivery timings.
    pub notify: NotifySettings,
}

#[derive(Clone)]
pub struct NotifySettings {
    /// Where users without a backend of their own are pushed; `None` for nowhere.
    pub default: Option<NotifyDefault>,
    /// Messages to one user in one room within this window become one push.
    pub coalesce: Duration,
    /// The first retry waits about this long; each further one twice as long.
    pub retry_base: Duration,
    /// Delivery attempts before a notification is given up.
    pub max_attempts: u32,
    /// How long one delivery may take (connect and answer).
    pub timeout: Duration,
    /// Whether receivers users choose may be at private or reserved
    /// addresses (see `notify::reach`).
    pub allow_private: bool,
}

/// The server-wide notification backend (`MESH_NOTIFY_*`).
#[derive(Clone)]
pub struct NotifyDefault {
    pub backend: mesh_proto::NotificationBackend,
    pub url: String,
    /// Gotify app token, ntfy access token or webhook bearer.
    pub token: Option<String>,
    /// ntfy topic; `{username}` is replaced by the recipient's username.
    pub topic: String,
}

impl std::fmt::Debug for NotifySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifySettings")
            .field(
                "default",
                &self
                    .default
                    .as_ref()
                    .map(|d| (d.backend, d.token.is_some())),
            )
            .field("coalesce", &self.coalesce)
            .field("retry_base", &self.retry_base)
            .field("max_attempts", &self.max_attempts)
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct SfuSettings {
    /// UDP port, and the same number over TCP for ICE-TCP (0 picks one).
    pub media_port: u16,
    /// The address browsers reach the SFU on.
    pub public_ip: IpAddr,
    /// How long a call must stay within the mesh limit before leaving the SFU.
    pub hysteresis: Duration,
}

#[derive(Clone)]
pub struct TurnSettings {
    /// STUN/TURN over UDP and TCP (0 picks a port).
    pub port: u16,
    /// TURN over TLS, with its certificate chain and key (PEM files).
    pub tls: Option<TurnTls>,
    /// The REST secret; `None` means the one generated in the data directory.
    pub secret: Option<String>,
    pub relay_ports: RangeInclusive<u16>,
    /// How long the credentials handed to a client stay valid for Allocate.
    pub credential_ttl: Duration,
    /// Relay to loopback peers: tests only.
    pub allow_loopback_peers: bool,
}

#[derive(Debug, Clone)]
pub struct TurnTls {
    pub port: u16,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl std::fmt::Debug for TurnSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnSettings")
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("secret", &self.secret.as_ref().map(|_| "<set>"))
            .field("relay_ports", &self.relay_ports)
            .field("credential_ttl", &self.credential_ttl)
            .field("allow_loopback_peers", &self.allow_loopback_peers)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The file form: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    http_addr: Option<String>,
    data_dir: Option<PathBuf>,
    public_url: Option<String>,
    registration: Option<String>,
    access_token_ttl_secs: Option<u64>,
    refresh_token_ttl_days: Option<u64>,
    refresh_reuse_grace_secs: Option<u64>,
    call_resume_grace_secs: Option<u64>,
    trust_proxy: Option<bool>,
    log_format: Option<String>,
    sfu: Option<bool>,
    media_port: Option<u16>,
    public_ip: Option<String>,
    mesh_limit: Option<u64>,
    sfu_hysteresis_secs: Option<u64>,
    turn: Option<bool>,
    turn_port: Option<u16>,
    turn_tls_port: Option<u16>,
    turn_tls_cert: Option<PathBuf>,
    turn_tls_key: Option<PathBuf>,
    turn_secret: Option<String>,
    turn_relay_ports: Option<String>,
    turn_credential_ttl_secs: Option<u64>,
    turn_allow_loopback_peers: Option<bool>,
    notify_backend: Option<String>,
    notify_url: Option<String>,
    notify_token: Option<String>,
    notify_topic: Option<String>,
    notify_coalesce_ms: Option<u64>,
    notify_retry_base_ms: Option<u64>,
    notify_max_attempts: Option<u64>,
    notify_timeout_ms: Option<u64>,
    notify_allow_private: Option<bool>,
}

const MAX_ACCESS_TOKEN_TTL: u64 = 15 * 60;

impl Config {
    /// Loads the configuration, with `env` standing in for the process
    /// environment so tests can pass their own.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Config> {
        let from_file = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("invalid config file {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let turn = turn_settings(&env, &from_file)?;
        let notify = notify_settings(&env, &from_file)?;
        let pick = |key: &str, file_value: Option<String>| env(key).or(file_value);

        let http_addr =
            pick("MESH_HTTP_ADDR", from_file.http_addr).unwrap_or_else(|| "0.0.0.0:8080".into());
        let http_addr = http_addr.parse().with_context(|| {
            format!("MESH_HTTP_ADDR: `{http_addr}` is not an address like 0.0.0.0:8080")
        })?;

        let data_dir = env("MESH_DATA_DIR")
            .map(PathBuf::from)
            .or(from_file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./data"));

        let public_url = pick("MESH_PUBLIC_URL", from_file.public_url)
            .map(|url| url.trim_end_matches('/').to_owned())
            .filter(|url| !url.is_empty());
        if let Some(url) = &public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("MESH_PUBLIC_URL: `{url}` must start with http:// or https://");
            }
        }

        let registration = match pick("MESH_REGISTRATION", from_file.registration)
            .as_deref()
            .unwrap_or("open")
        {
            "open" => RegistrationMode::Open,
            "invite" => RegistrationMode::Invite,
            "closed" => RegistrationMode::Closed,
            other => bail!("MESH_REGISTRATION: `{other}` is not one of open, invite, closed"),
        };

        let number = |key: &str, file_value: Option<u64>, default: u64| -> anyhow::Result<u64> {
            match env(key) {
                Some(text) => text
                    .parse()
                    .with_context(|| format!("{key}: `{text}` is not a whole number")),
                None => Ok(file_value.unwrap_or(default)),
            }
        };
        let access_secs = number(
            "MESH_ACCESS_TOKEN_TTL",
            from_file.access_token_ttl_secs,
            600,
        )?;
        if !(10..=MAX_ACCESS_TOKEN_TTL).contains(&access_secs) {
            bail!(
                "MESH_ACCESS_TOKEN_TTL: {access_secs} s is outside 10..={MAX_ACCESS_TOKEN_TTL} s"
            );
        }
        let refresh_days = number(
            "MESH_REFRESH_TOKEN_TTL_DAYS",
            from_file.refresh_token_ttl_days,
            30,
        )?;
        if !(1..=365).contains(&refresh_days) {
            bail!("MESH_REFRESH_TOKEN_TTL_DAYS: {refresh_days} is outside 1..=365");
        }
        let grace = number(
            "MESH_REFRESH_REUSE_GRACE",
            from_file.refresh_reuse_grace_secs,
            5,
        )?;
        if grace > 60 {
            bail!("MESH_REFRESH_REUSE_GRACE: {grace} s is more than 60 s");
        }

        let call_grace = number(
            "MESH_CALL_RESUME_GRACE",
            from_file.call_resume_grace_secs,
            10,
        )?;
        if !(1..=120).contains(&call_grace) {
            bail!("MESH_CALL_RESUME_GRACE: {call_grace} s is outside 1..=120 s");
        }

        let trust_proxy = match pick("MESH_TRUST_PROXY", None) {
            Some(text) => parse_bool("MESH_TRUST_PROXY", &text)?,
            None => from_file.trust_proxy.unwrap_or(false),
        };

        let sfu_enabled = match env("MESH_SFU") {
            Some(text) => parse_bool("MESH_SFU", &text)?,
            None => from_file.sfu.unwrap_or(true),
        };
        let media_port = number("MESH_MEDIA_PORT", from_file.media_port.map(u64::from), 7881)?;
        let media_port = u16::try_from(media_port)
            .with_context(|| format!("MESH_MEDIA_PORT: {media_port} is not a port number"))?;
        let public_ip = match pick("MESH_PUBLIC_IP", from_file.public_ip) {
            Some(text) => text
                .parse()
                .with_context(|| format!("MESH_PUBLIC_IP: `{text}` is not an IP address"))?,
            None => default_public_ip(),
        };
        let mesh_limit = number("MESH_MESH_LIMIT", from_file.mesh_limit, 4)?;
        if !(1..=50).contains(&mesh_limit) {
            bail!("MESH_MESH_LIMIT: {mesh_limit} is outside 1..=50");
        }
        let hysteresis = number("MESH_SFU_HYSTERESIS", from_file.sfu_hysteresis_secs, 5)?;
        if hysteresis > 300 {
            bail!("MESH_SFU_HYSTERESIS: {hysteresis} s is more than 300 s");
        }
        let sfu = sfu_enabled.then(|| SfuSettings {
            media_port,
            public_ip,
            hysteresis: Duration::from_secs(hysteresis),
        });

        let log_format = match pick("MESH_LOG_FORMAT", from_file.log_format)
            .as_deref()
            .unwrap_or("text")
        {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => bail!("MESH_LOG_FORMAT: `{other}` is not one of text, json"),
        };

        Ok(Config {
            http_addr,
            data_dir,
            public_url,
            registration,
            access_token_ttl: Duration::from_secs(access_secs),
            refresh_token_ttl: Duration::from_secs(refresh_days * 86_400),
            refresh_reuse_grace: Duration::from_secs(grace),
            call_resume_grace: Duration::from_secs(call_grace),
            trust_proxy,
            public_ip,
            sfu,
            mesh_limit: mesh_limit as usize,
            turn,
            log_format,
            notify,
        })
    }

    /// Whether cookies must carry `Secure`.
    pub fn is_https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
    }
}

fn turn_settings(
    env: &impl Fn(&str) -> Option<String>,
    file: &FileConfig,
) -> anyhow::Result<Option<TurnSettings>> {
    let flag = |key: &str, file_value: Option<bool>, default: bool| -> anyhow::Result<bool> {
        match env(key) {
            Some(text) => parse_bool(key, &text),
            None => Ok(file_value.unwrap_or(default)),
        }
    };
    let port = |key: &str, file_value: Option<u16>, default: u16| -> anyhow::Result<u16> {
        match env(key) {
            Some(text) => text
                .parse()
                .with_context(|| format!("{key}: `{text}` is not a port number")),
            None => Ok(file_value.unwrap_or(default)),
        }
    };
    if !flag("MESH_TURN", file.turn, true)? {
        return Ok(None);
    }
    let tls_cert = env("MESH_TURN_TLS_CERT")
        .map(PathBuf::from)
        .or(file.turn_tls_cert.clone());
    let tls_key = env("MESH_TURN_TLS_KEY")
        .map(PathBuf::from)
        .or(file.turn_tls_key.clone());
    let tls = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => Some(TurnTls {
            port: port("MESH_TURN_TLS_PORT", file.turn_tls_port, 5349)?,
            cert,
            key,
        }),
        (None, None) => None,
        _ => bail!("MESH_TURN_TLS_CERT and MESH_TURN_TLS_KEY go together: set both, or neither"),
    };
    let ranges = env("MESH_TURN_RELAY_PORTS")
        .or(file.turn_relay_ports.clone())
        .unwrap_or_else(|| "49152-65535".into());
    let relay_ports = ranges
        .split_once('-')
        .and_then(|(low, high)| {
            Some(low.trim().parse::<u16>().ok()?..=high.trim().parse::<u16>().ok()?)
        })
        .filter(|range| !range.is_empty() && *range.start() > 0)
        .with_context(|| {
            format!("MESH_TURN_RELAY_PORTS: `{ranges}` is not a range like 49152-65535")
        })?;
    let ttl = match env("MESH_TURN_CREDENTIAL_TTL") {
        Some(text) => text
            .parse()
            .with_context(|| format!("MESH_TURN_CREDENTIAL_TTL: `{text}` is not a whole number"))?,
        None => file.turn_credential_ttl_secs.unwrap_or(4 * 3600),
    };
    if !(60..=7 * 86_400).contains(&ttl) {
        bail!("MESH_TURN_CREDENTIAL_TTL: {ttl} s is outside 60 s to 7 days");
    }
    let secret = env("MESH_TURN_SECRET")
        .or(file.turn_secret.clone())
        .filter(|s| !s.is_empty());
    if secret.as_ref().is_some_and(|s| s.len() < 16) {
        bail!("MESH_TURN_SECRET: use at least 16 characters (or leave it unset to have one generated)");
    }
    Ok(Some(TurnSettings {
        port: port("MESH_TURN_PORT", file.turn_port, 3478)?,
        tls,
        secret,
        relay_ports,
        credential_ttl: Duration::from_secs(ttl),
        allow_loopback_peers: flag(
            "MESH_TURN_ALLOW_LOOPBACK_PEERS",
            file.turn_allow_loopback_peers,
            false,
        )?,
    }))
}

fn notify_settings(
    env: &impl Fn(&str) -> Option<String>,
    file: &FileConfig,
) -> anyhow::Result<NotifySettings> {
    use mesh_proto::NotificationBackend;
    let text = |key: &str, file_value: &Option<String>| {
        env(key)
            .or(file_value.clone())
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    };
    let bounded = |key: &str, file_value: Option<u64>, default: u64, range: RangeInclusive<u64>| {
        let value = match env(key) {
            Some(text) => text
                .parse()
                .with_context(|| format!("{key}: `{text}` is not a whole number"))?,
            None => file_value.unwrap_or(default),
        };
        if !range.contains(&value) {
            bail!(
                "{key}: {value} is outside {}..={}",
                range.start(),
                range.end()
            );
        }
        Ok(value)
    };
    let name = text("MESH_NOTIFY_BACKEND", &file.notify_backend).unwrap_or_else(|| "none".into());
    let backend = NotificationBackend::parse(&name).with_context(|| {
        format!("MESH_NOTIFY_BACKEND: `{name}` is not one of none, gotify, ntfy, webhook")
    })?;
    let default = if backend == NotificationBackend::None {
        None
    } else {
        let url = text("MESH_NOTIFY_URL", &file.notify_url)
            .map(|url| url.trim_end_matches('/').to_owned())
            .with_context(|| {
                format!(
                    "MESH_NOTIFY_URL is required with MESH_NOTIFY_BACKEND={}",
                    backend.as_str()
                )
            })?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("MESH_NOTIFY_URL must start with http:// or https://");
        }
        let topic = text("MESH_NOTIFY_TOPIC", &file.notify_topic).unwrap_or_default();
        if backend == NotificationBackend::Ntfy && topic.is_empty() {
            bail!("MESH_NOTIFY_TOPIC is required with MESH_NOTIFY_BACKEND=ntfy (for example mesh-{{username}})");
        }
        Some(NotifyDefault {
            backend,
            url,
            token: text("MESH_NOTIFY_TOKEN", &file.notify_token),
            topic,
        })
    };
    Ok(NotifySettings {
        default,
        coalesce: Duration::from_millis(bounded(
            "MESH_NOTIFY_COALESCE_MS",
            file.notify_coalesce_ms,
            10_000,
            0..=600_000,
        )?),
        retry_base: Duration::from_millis(bounded(
            "MESH_NOTIFY_RETRY_BASE_MS",
            file.notify_retry_base_ms,
            5_000,
            10..=3_600_000,
        )?),
        max_attempts: bounded(
            "MESH_NOTIFY_MAX_ATTEMPTS",
            file.notify_max_attempts,
            10,
            1..=50,
        )? as u32,
        timeout: Duration::from_millis(bounded(
            "MESH_NOTIFY_TIMEOUT_MS",
            file.notify_timeout_ms,
            5_000,
            100..=60_000,
        )?),
        allow_private: match env("MESH_NOTIFY_ALLOW_PRIVATE") {
            Some(text) => parse_bool("MESH_NOTIFY_ALLOW_PRIVATE", &text)?,
            None => file.notify_allow_private.unwrap_or(false),
        },
    })
}

/// The first address of this host that others can reach: a non-loopback,
/// non-link-local IPv4 address, else loopback (a single-machine setup).
fn default_public_ip() -> IpAddr {
    if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|interface| interface.ip())
        .find(|ip| match ip {
            IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_link_local() && !v4.is_unspecified(),
            IpAddr::V6(_) => false,
        })
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

fn parse_bool(key: &str, text: &str) -> anyhow::Result<bool> {
    match text {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        other => bail!("{key}: `{other}` is not true or false"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |key| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn defaults_work_without_any_configuration() {
        let config = Config::load(None, env_of(&[])).unwrap();
        assert_eq!(config.http_addr.port(), 8080);
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.registration, RegistrationMode::Open);
        assert!(config.access_token_ttl <= Duration::from_secs(15 * 60));
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mesh.toml");
        std::fs::write(
            &path,
            "registration = \"closed\"\nhttp_addr = \"127.0.0.1:9000\"\n",
        )
        .unwrap();
        let config = Config::load(Some(&path), env_of(&[("MESH_REGISTRATION", "invite")])).unwrap();
        assert_eq!(config.registration, RegistrationMode::Invite);
        assert_eq!(config.http_addr.port(), 9000);
    }

    #[test]
    fn a_notification_default_needs_its_url_and_ntfy_its_topic() {
        let config = Config::load(None, env_of(&[])).unwrap();
        assert!(config.notify.default.is_none());
        assert_eq!(config.notify.coalesce, Duration::from_secs(10));
        let err = Config::load(None, env_of(&[("MESH_NOTIFY_BACKEND", "gotify")])).unwrap_err();
        assert!(err.to_string().contains("MESH_NOTIFY_URL"), "{err}");
        let err = Config::load(
            None,
            env_of(&[
                ("MESH_NOTIFY_BACKEND", "ntfy"),
                ("MESH_NOTIFY_URL", "https://n.example"),
            ]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("MESH_NOTIFY_TOPIC"), "{err}");
        let err = Config::load(None, env_of(&[("MESH_NOTIFY_BACKEND", "pager")])).unwrap_err();
        assert!(err.to_string().contains("MESH_NOTIFY_BACKEND"), "{err}");
        let err = Config::load(None, env_of(&[("MESH_NOTIFY_MAX_ATTEMPTS", "0")])).unwrap_err();
        assert!(
            err.to_string().contains("MESH_NOTIFY_MAX_ATTEMPTS"),
            "{err}"
        );
        let config = Config::load(
            None,
            env_of(&[
                ("MESH_NOTIFY_BACKEND", "gotify"),
                ("MESH_NOTIFY_URL", "https://push.example.org/"),
                ("MESH_NOTIFY_TOKEN", "secret-app-token"),
            ]),
        )
        .unwrap();
        let default = config.notify.default.as_ref().unwrap();
        assert_eq!(default.url, "https://push.example.org");
        assert!(!format!("{config:?}").contains("secret-app-token"));
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values_with_the_key_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mesh.toml");
        std::fs::write(&path, "registraton = \"open\"\n").unwrap();
        assert!(Config::load(Some(&path), env_of(&[])).is_err());
        let err = Config::load(None, env_of(&[("MESH_REGISTRATION", "sometimes")])).unwrap_err();
        assert!(err.to_string().contains("MESH_REGISTRATION"));
        let err = Config::load(None, env_of(&[("MESH_ACCESS_TOKEN_TTL", "3600")])).unwrap_err();
        assert!(err.to_string().contains("MESH_ACCESS_TOKEN_TTL"));
    }
}
