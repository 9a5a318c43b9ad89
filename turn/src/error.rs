//! The crate's one error type: what can stop the relay from starting.
//!
//! Once running, the relay reports problems to clients as STUN error codes and
//! to operators as metrics and logs; nothing is returned to the embedder.

use std::net::SocketAddr;

/// Why the relay could not be configured or started.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is unusable; the message says what to set.
    #[error("invalid TURN configuration: {0}")]
    InvalidConfig(String),
    /// A listening socket could not be opened.
    #[error("TURN cannot listen on {addr}: {source} (is another process using the port?)")]
    Listen {
        /// The address from the configuration.
        addr: SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The certificate or key could not be loaded.
    #[error("TURN TLS certificate: {0}")]
    Tls(String),
}
