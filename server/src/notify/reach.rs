//! Which receivers a user's own notification settings may reach.
//!
//! Any signed-in user chooses a URL and the server makes the request, so
//! without a limit anyone could make Mesh probe or post into its own
//! network: localhost, the LAN, a cloud's metadata service. A receiver a
//! user chose must therefore be at a public unicast address, checked on the
//! URL's IP literal and on every address its name resolves to, at the moment
//! of connecting (so a name cannot be re-pointed between check and use). The
//! server-wide default, which only the administrator sets, may be anywhere,
//! and so may everything when `MESH_NOTIFY_ALLOW_PRIVATE` says so (a Gotify
//! on the LAN).

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A user's receiver is at a private or reserved address.
#[derive(Debug)]
pub struct PrivateAddress;

impl fmt::Display for PrivateAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the notification URL leads to a private or reserved address \
             (an administrator can allow that with MESH_NOTIFY_ALLOW_PRIVATE)",
        )
    }
}

impl StdError for PrivateAddress {}

/// Resolves names to their public addresses only, and refuses names that
/// have none.
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found
                .filter(|address| mesh_turn::is_public_unicast(address.ip()))
                .collect();
            if public.is_empty() {
                return Err(Box::new(PrivateAddress) as Box<dyn StdError + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// Whether `url` names its host by an IP address that is not public (such
/// URLs never reach the resolver).
pub fn private_literal(url: &str) -> bool {
    let Some(host) = reqwest::Url::parse(url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
    else {
        return false;
    };
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok_and(|ip| !mesh_turn::is_public_unicast(ip))
}

/// Whether a failed request was refused by [`PublicOnly`].
pub fn refused(error: &reqwest::Error) -> bool {
    let mut source = error.source();
    while let Some(cause) = source {
        if cause.is::<PrivateAddress>() {
            return true;
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_reserved_literals_are_recognised() {
        for url in [
            "http://127.0.0.1:8080",
            "http://10.1.2.3/hook",
            "http://192.168.1.10",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:80",
            "http://[::ffff:127.0.0.1]/",
            "http://[fd00::1]/",
            "http://0.0.0.0/",
        ] {
            assert!(private_literal(url), "{url}");
        }
        for url in [
            "https://gotify.example.org",
            "http://8.8.8.8/",
            "http://[2606:4700::1]/",
            "not a url",
        ] {
            assert!(!private_literal(url), "{url}");
        }
    }
}
