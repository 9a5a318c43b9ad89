//! Everything an operator (or the Mesh server) sets about the relay.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use stun_types::attribute::Realm;

use crate::error::Error;
use crate::policy::PolicyConfig;
use crate::quota::Quotas;

/// The relay's configuration. Start from [`Config::default`] and set at least
/// [`Config::secret`] and a relay address clients can reach.
#[derive(Clone)]
pub struct Config {
    /// UDP listening addresses for STUN/TURN (usually port 3478).
    pub listen_udp: Vec<SocketAddr>,
    /// TCP listening addresses (usually port 3478).
    pub listen_tcp: Vec<SocketAddr>,
    /// TLS-over-TCP listening addresses (usually port 5349 or 443); needs [`Config::tls`].
    pub listen_tls: Vec<SocketAddr>,
    /// Certificate and key for the TLS listeners; see [`crate::driver::tls::server_config`].
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    /// Where relay sockets live and which address clients are told.
    pub relay: RelayConfig,
    /// The long-term credential realm (default "mesh").
    pub realm: String,
    /// The TURN REST secret shared with the control server.
    pub secret: String,
    /// Which peers may be relayed to.
    pub policy: PolicyConfig,
    /// Per-user and global limits.
    pub quotas: Quotas,
    /// How long allocations, permissions, channels and nonces live.
    pub lifetimes: Lifetimes,
}

/// Relay sockets: one UDP socket per allocation, on a port from `ports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// Address IPv4 relay sockets bind to; `None` refuses IPv4 allocations
    /// (440 Address Family not Supported).
    pub bind_v4: Option<Ipv4Addr>,
    /// The IPv4 address advertised to clients (XOR-RELAYED-ADDRESS), e.g. the
    /// public address of a 1:1 NAT. Defaults to `bind_v4`; required when that
    /// is unspecified (0.0.0.0).
    pub public_v4: Option<Ipv4Addr>,
    /// Address IPv6 relay sockets bind to; `None` refuses IPv6 allocations.
    pub bind_v6: Option<Ipv6Addr>,
    /// The IPv6 address advertised to clients; defaults to `bind_v6`.
    pub public_v6: Option<Ipv6Addr>,
    /// Ports for relay sockets, shared by both families.
    pub ports: RangeInclusive<u16>,
}

/// Lifetimes, RFC 8656 defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifetimes {
    /// An allocation's lifetime when the client asks for less or nothing.
    pub allocation_default: Duration,
    /// The longest lifetime granted on Allocate or Refresh.
    pub allocation_max: Duration,
    /// A permission's lifetime, fixed by RFC 8656.
    pub permission: Duration,
    /// A channel binding's lifetime.
    pub channel: Duration,
    /// How long a nonce stays valid before the client gets 438 Stale Nonce.
    pub nonce: Duration,
    /// How long a port reserved by EVEN-PORT waits for its RESERVATION-TOKEN.
    pub reservation: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            allocation_default: Duration::from_secs(600),
            allocation_max: Duration::from_secs(3600),
            permission: Duration::from_secs(300),
            channel: Duration::from_secs(600),
            nonce: Duration::from_secs(600),
            reservation: Duration::from_secs(30),
        }
    }
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            bind_v4: Some(Ipv4Addr::UNSPECIFIED),
            public_v4: None,
            bind_v6: None,
            public_v6: None,
            ports: 49152..=65535,
        }
    }
}

impl RelayConfig {
    /// The address relay sockets of this family bind to.
    pub(crate) fn bind_ip(&self, ipv6: bool) -> Option<IpAddr> {
        match ipv6 {
            false => self.bind_v4.map(IpAddr::V4),
            true => self.bind_v6.map(IpAddr::V6),
        }
    }

    /// The address clients are told for this family.
    pub(crate) fn public_ip(&self, ipv6: bool) -> Option<IpAddr> {
        match ipv6 {
            false => self.public_v4.or(self.bind_v4).map(IpAddr::V4),
            true => self.public_v6.or(self.bind_v6).map(IpAddr::V6),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        let any = |port| SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
        Self {
            listen_udp: vec![any(3478)],
            listen_tcp: vec![any(3478)],
            listen_tls: Vec::new(),
            tls: None,
            relay: RelayConfig::default(),
            realm: "mesh".to_owned(),
            secret: String::new(),
            policy: PolicyConfig::default(),
            quotas: Quotas::default(),
            lifetimes: Lifetimes::default(),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen_udp", &self.listen_udp)
            .field("listen_tcp", &self.listen_tcp)
            .field("listen_tls", &self.listen_tls)
            .field("tls", &self.tls.is_some())
            .field("relay", &self.relay)
            .field("realm", &self.realm)
            .field("secret", &"<redacted>")
            .field("policy", &self.policy)
            .field("quotas", &self.quotas)
            .field("lifetimes", &self.lifetimes)
            .finish()
    }
}

impl Config {
    /// Checks the configuration for mistakes that would make the relay useless
    /// or unsafe, with a message that says what to set.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |msg: &str| Err(Error::InvalidConfig(msg.to_owned()));
        if self.secret.is_empty() {
            return invalid("the TURN secret is empty: set the shared REST secret");
        }
        if self.realm.is_empty() || Realm::new(&self.realm).is_err() {
            return invalid("the TURN realm must be a non-empty string under 128 characters");
        }
        if self.relay.bind_v4.is_none() && self.relay.bind_v6.is_none() {
            return invalid("no relay address: set relay.bind_v4 and/or relay.bind_v6");
        }
        for ipv6 in [false, true] {
            if self.relay.bind_ip(ipv6).is_some()
                && self
                    .relay
                    .public_ip(ipv6)
                    .is_none_or(|ip| ip.is_unspecified())
            {
                return invalid(
                    "the relay binds to a wildcard address: set relay.public_v4 / relay.public_v6 \
                     to the address clients can reach",
                );
            }
        }
        if self.relay.ports.is_empty() || *self.relay.ports.start() == 0 {
            return invalid("the relay port range is empty or starts at 0");
        }
        if !self.listen_tls.is_empty() && self.tls.is_none() {
            return invalid("TLS listeners need a certificate: set tls");
        }
        let l = &self.lifetimes;
        if l.allocation_default.is_zero() || l.allocation_default > l.allocation_max {
            return invalid("allocation lifetimes: need 0 < default <= max");
        }
        if [l.permission, l.channel, l.nonce, l.reservation]
            .iter()
            .any(Duration::is_zero)
        {
            return invalid(
                "permission, channel, nonce and reservation lifetimes must be positive",
            );
        }
        Ok(())
    }

    /// Addresses of this server peers must not be sent to.
    pub(crate) fn own_addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.listen_udp
            .iter()
            .chain(&self.listen_tcp)
            .chain(&self.listen_tls)
            .map(SocketAddr::ip)
            .chain(
                [false, true]
                    .into_iter()
                    .filter_map(|v6| self.relay.bind_ip(v6)),
            )
    }

    /// Addresses advertised as relay addresses.
    pub(crate) fn relay_public_addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        [false, true]
            .into_iter()
            .filter_map(|v6| self.relay.public_ip(v6))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(config: &Config) -> String {
        config.validate().unwrap_err().to_string()
    }

    #[test]
    fn defaults_need_a_secret_and_a_reachable_relay_address() {
        let mut config = Config::default();
        assert!(message(&config).contains("secret"));
        config.secret = "s".into();
        assert!(
            message(&config).contains("relay.public_v4"),
            "wildcard relay without a public address"
        );
        config.relay.public_v4 = Some(Ipv4Addr::new(203, 0, 113, 10));
        config.validate().unwrap();
    }

    #[test]
    fn inconsistent_settings_are_refused() {
        let valid = Config {
            secret: "s".into(),
            relay: RelayConfig {
                bind_v4: Some(Ipv4Addr::new(192, 0, 2, 1)),
                ..RelayConfig::default()
            },
            ..Config::default()
        };
        valid.validate().unwrap();
        let mut tls_without_cert = valid.clone();
        tls_without_cert.listen_tls = vec!["0.0.0.0:5349".parse().unwrap()];
        assert!(message(&tls_without_cert).contains("certificate"));
        let mut no_ports = valid.clone();
        no_ports.relay.ports = 0..=0;
        assert!(message(&no_ports).contains("port range"));
        let mut lifetimes = valid.clone();
        lifetimes.lifetimes.allocation_default = Duration::from_secs(7200);
        assert!(message(&lifetimes).contains("lifetimes"));
        let mut realm = valid;
        realm.realm = String::new();
        assert!(message(&realm).contains("realm"));
    }
}
