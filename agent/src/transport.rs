//! QUIC between agents: quinn over rustls (TLS 1.3 only), mutual
//! authentication with the device certificates, and transport settings for
//! fast links.
//!
//! Trust works like WebRTC's DTLS fingerprints: the certificates are
//! self-signed, so no CA is consulted. The dialling side pins the target's
//! fingerprint as the server vouched for it; the accepting side takes any
//! well-formed certificate during the handshake (the handshake still proves
//! the peer holds its key) and then requires its fingerprint to be the one
//! the redeemed capability token names ([`peer_fingerprint`]).

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use quinn::congestion::{BbrConfig, CubicConfig, NewRenoConfig};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{Connection, Endpoint, EndpointConfig, IdleTimeout, TransportConfig, VarInt};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CipherSuite, DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::identity::{crypto, fingerprint, Identity};
use crate::turn::TurnSocket;

/// The application protocol on the wire; a peer speaking another is refused.
pub const ALPN: &[u8] = b"mesh-agent/1";

/// quinn's defaults aim at 100 Mbit/s over 100 ms (a 1.25 MB stream window),
/// which caps a LAN or loopback transfer well below what the link carries.
/// These windows keep about 400 MiB/s flowing at 40 ms of round trip.
const STREAM_WINDOW: u32 = 16 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 32 * 1024 * 1024;
const SEND_WINDOW: u64 = 32 * 1024 * 1024;
/// Kernel socket buffers, so bursts at those windows are not dropped before
/// quinn reads them (the kernel caps them at `net.core.[rw]mem_max`).
const SOCKET_BUFFER: usize = 8 * 1024 * 1024;
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one address gets to answer a handshake.
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);
const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// quinn assumes 333 ms before the first sample, so a handshake packet lost
/// while the peer's NAT is not yet open is resent only after about a second;
/// hole punching has a window of two (see [`crate::path`]).
const INITIAL_RTT: Duration = Duration::from_millis(100);

/// Congestion control, chosen per agent (`--congestion`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Congestion {
    /// quinn's default; fair to other traffic.
    #[default]
    Cubic,
    /// Model-based; keeps throughput up on lossy long paths.
    Bbr,
    NewReno,
}

/// Why a connection was closed, as QUIC application error codes. The close
/// reason carries the sentence for the person.
pub mod close {
    /// The work finished.
    pub const DONE: u32 = 0;
    /// The capability token or the peer's certificate was refused.
    pub const REFUSED: u32 = 1;
    /// The receiving person declined.
    pub const DECLINED: u32 = 2;
    /// The peer sent something invalid: paths, sizes, frames.
    pub const INVALID: u32 = 3;
    /// Data did not match its signed hash.
    pub const INTEGRITY: u32 = 4;
    /// Something failed on this side (disk full, I/O error).
    pub const FAILED: u32 = 5;
}

/// The crypto of connections between agents: the process's provider with
/// AES-128-GCM first (rustls puts AES-256-GCM first). Both ends are agents,
/// the data is integrity-checked by BLAKE3 on top, and 128-bit AES is what
/// QUIC itself protects its first packets with; ten AES rounds instead of
/// fourteen is CPU a file transfer keeps.
fn peer_crypto() -> Arc<CryptoProvider> {
    let mut provider = (*crypto()).clone();
    provider
        .cipher_suites
        .sort_by_key(|suite| suite.suite() != CipherSuite::TLS13_AES_128_GCM_SHA256);
    Arc::new(provider)
}

fn transport(congestion: Congestion) -> Arc<TransportConfig> {
    let mut config = TransportConfig::default();
    config
        .stream_receive_window(VarInt::from_u32(STREAM_WINDOW))
        .receive_window(VarInt::from_u32(CONNECTION_WINDOW))
        .send_window(SEND_WINDOW)
        .max_concurrent_uni_streams(VarInt::from_u32(64))
        .max_concurrent_bidi_streams(VarInt::from_u32(16))
        .keep_alive_interval(Some(KEEP_ALIVE))
        .initial_rtt(INITIAL_RTT)
        .max_idle_timeout(Some(
            IdleTimeout::try_from(IDLE_TIMEOUT).expect("30 s fits a QUIC idle timeout"),
        ));
    match congestion {
        Congestion::Cubic => config.congestion_controller_factory(Arc::new(CubicConfig::default())),
        Congestion::Bbr => config.congestion_controller_factory(Arc::new(BbrConfig::default())),
        Congestion::NewReno => {
            config.congestion_controller_factory(Arc::new(NewRenoConfig::default()))
        }
    };
    Arc::new(config)
}

/// An endpoint on `socket` (see [`socket`]) that accepts connections from
/// any agent (checked after the handshake, see [`peer_fingerprint`]) and can
/// dial others.
pub fn endpoint(
    identity: &Identity,
    socket: UdpSocket,
    congestion: Congestion,
) -> anyhow::Result<Endpoint> {
    quic(socket, Some(server_config(identity, congestion)?))
}

/// How this agent answers handshakes: its certificate, any client
/// certificate (checked against the capability afterwards).
pub fn server_config(
    identity: &Identity,
    congestion: Congestion,
) -> anyhow::Result<quinn::ServerConfig> {
    let mut tls = rustls::ServerConfig::builder_with_provider(peer_crypto())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(Arc::new(AnyClientCert))
        .with_single_cert(vec![identity.cert()], identity.key())?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(QuicServerConfig::try_from(tls)?));
    server.transport_config(transport(congestion));
    Ok(server)
}

/// An endpoint over a TURN allocation: peers are relayed addresses, and
/// quinn runs unchanged on top (see [`crate::turn`]).
pub fn relayed(
    socket: Arc<TurnSocket>,
    server: Option<quinn::ServerConfig>,
) -> anyhow::Result<Endpoint> {
    Endpoint::new_with_abstract_socket(
        EndpointConfig::default(),
        server,
        socket,
        Arc::new(quinn::TokioRuntime),
    )
    .context("cannot start the QUIC endpoint on the relay")
}

/// An endpoint that only dials out (`send`, `view`).
pub fn dialer(address: SocketAddr) -> anyhow::Result<Endpoint> {
    quic(socket(address)?, None)
}

/// A UDP socket bound to `address`, with buffers sized for fast transfers.
pub fn socket(address: SocketAddr) -> anyhow::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // Best effort: an unprivileged process gets at most the system maximum.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    socket
        .bind(&address.into())
        .with_context(|| format!("cannot listen on {address} (UDP)"))?;
    Ok(socket.into())
}

pub(crate) fn quic(
    socket: UdpSocket,
    server: Option<quinn::ServerConfig>,
) -> anyhow::Result<Endpoint> {
    Endpoint::new(
        EndpointConfig::default(),
        server,
        socket,
        Arc::new(quinn::TokioRuntime),
    )
    .context("cannot start the QUIC endpoint")
}

/// Dials every address at once (a device announces its interface and
/// reflexive addresses, and only some are reachable from here) and returns
/// the first connection whose certificate has the `expected` fingerprint.
pub async fn dial(
    endpoint: &Endpoint,
    identity: &Identity,
    addresses: &[SocketAddr],
    expected: &str,
    congestion: Congestion,
) -> anyhow::Result<Connection> {
    let mut tls = rustls::ClientConfig::builder_with_provider(peer_crypto())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServer {
            fingerprint: expected.to_owned(),
        }))
        .with_client_auth_cert(vec![identity.cert()], identity.key())?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let mut client = quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(tls)?));
    client.transport_config(transport(congestion));

    if addresses.is_empty() {
        anyhow::bail!("the device announced no address; is `mesh-agent run` running there?");
    }
    let attempts = addresses.iter().map(|address| {
        let client = client.clone();
        Box::pin(async move {
            let connecting = endpoint.connect_with(client, *address, "mesh-agent")?;
            match tokio::time::timeout(DIAL_TIMEOUT, connecting).await {
                Ok(Ok(connection)) => Ok(connection),
                Ok(Err(err)) => {
                    Err(anyhow::Error::from(err).context(format!("cannot connect to {address}")))
                }
                Err(_) => Err(anyhow::anyhow!("no answer from {address} within 10 s")),
            }
        })
    });
    // The losers are dropped, which abandons their handshakes.
    let (connection, _) = futures_util::future::select_ok(attempts).await?;
    Ok(connection)
}

/// The certificate the peer authenticated with.
pub fn peer_certificate(connection: &Connection) -> Option<CertificateDer<'static>> {
    let identity = connection.peer_identity()?;
    let certs = identity.downcast::<Vec<CertificateDer<'static>>>().ok()?;
    certs.first().cloned()
}

/// The fingerprint of the certificate the peer authenticated with.
pub fn peer_fingerprint(connection: &Connection) -> Option<String> {
    peer_certificate(connection).map(|cert| fingerprint(&cert))
}

/// The dialling side: the target must present exactly the pinned certificate.
#[derive(Debug)]
struct PinnedServer {
    fingerprint: String,
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if fingerprint(end_entity) == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the peer's certificate is not the one the Mesh server vouched for".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(no_tls12())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        verify_schemes()
    }
}

/// The accepting side: a client certificate is mandatory and must prove its
/// key in the handshake; which one is acceptable is decided afterwards, from
/// the capability token.
#[derive(Debug)]
struct AnyClientCert;

impl ClientCertVerifier for AnyClientCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        webpki::EndEntityCert::try_from(end_entity)
            .map(|_| ClientCertVerified::assertion())
            .map_err(|_| rustls::Error::General("unreadable client certificate".into()))
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(no_tls12())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        verify_schemes()
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }
}

// What both sides' certificate verifiers share: agents speak TLS 1.3 only,
// and check handshake signatures with the crypto provider's algorithms.

fn no_tls12() -> rustls::Error {
    rustls::Error::General("TLS 1.2 is not used between agents".into())
}

fn verify_tls13(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    rustls::crypto::verify_tls13_signature(
        message,
        cert,
        dss,
        &crypto().signature_verification_algorithms,
    )
}

fn verify_schemes() -> Vec<SignatureScheme> {
    crypto()
        .signature_verification_algorithms
        .supported_schemes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_offer_aes_128_gcm_first_and_keep_the_other_suites() {
        let suites: Vec<CipherSuite> = peer_crypto()
            .cipher_suites
            .iter()
            .map(|suite| suite.suite())
            .collect();
        assert_eq!(suites[0], CipherSuite::TLS13_AES_128_GCM_SHA256);
        assert!(suites.contains(&CipherSuite::TLS13_AES_256_GCM_SHA384));
        assert_eq!(suites.len(), crypto().cipher_suites.len());
    }
}
