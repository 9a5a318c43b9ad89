//! The tokio driver on real loopback sockets, without coturn: STUN over each
//! transport, stream hygiene, and a clean stop.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use mesh_turn::{Config, RelayConfig, TurnServer};
use stun_types::attribute::XorMappedAddress;
use stun_types::message::{Message, MessageClass, MessageWrite, MessageWriteVec, BINDING};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::time::timeout;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

const WAIT: Duration = Duration::from_secs(5);

struct Relay {
    server: TurnServer,
    /// The self-signed certificate the TLS listener presents.
    certificate: rcgen::Certificate,
}

async fn start() -> Relay {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let tls = mesh_turn::driver::tls::server_config(
        cert.cert.pem().as_bytes(),
        cert.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let config = Config {
        listen_udp: vec![loopback],
        listen_tcp: vec![loopback],
        listen_tls: vec![loopback],
        tls: Some(tls),
        relay: RelayConfig {
            bind_v4: Some(Ipv4Addr::LOCALHOST),
            ports: 41900..=41919,
            ..RelayConfig::default()
        },
        secret: "driver-secret".into(),
        ..Config::default()
    };
    Relay {
        server: TurnServer::start(config).await.unwrap(),
        certificate: cert.cert,
    }
}

fn binding_request() -> Vec<u8> {
    Message::builder_request(BINDING, MessageWriteVec::new()).finish()
}

/// The XOR-MAPPED-ADDRESS of a Binding success.
fn mapped_address(response: &[u8]) -> SocketAddr {
    let msg = Message::from_bytes(response).unwrap();
    assert_eq!(msg.class(), MessageClass::Success);
    msg.attribute::<XorMappedAddress>()
        .unwrap()
        .addr(msg.transaction_id())
}

/// Sends a Binding request on a stream and reads the whole response.
async fn binding_over_stream(stream: &mut (impl AsyncRead + AsyncWrite + Unpin)) -> Vec<u8> {
    stream.write_all(&binding_request()).await.unwrap();
    let mut header = [0; 20];
    timeout(WAIT, stream.read_exact(&mut header))
        .await
        .unwrap()
        .unwrap();
    let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let mut response = header.to_vec();
    response.resize(20 + length, 0);
    timeout(WAIT, stream.read_exact(&mut response[20..]))
        .await
        .unwrap()
        .unwrap();
    response
}

#[tokio::test]
async fn binding_answers_over_udp_tcp_and_tls() {
    let relay = start().await;
    let addrs = relay.server.local_addrs().clone();

    let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    udp.send_to(&binding_request(), addrs.udp[0]).await.unwrap();
    let mut buf = [0; 1500];
    let (len, _) = timeout(WAIT, udp.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mapped_address(&buf[..len]), udp.local_addr().unwrap());

    let mut tcp = TcpStream::connect(addrs.tcp[0]).await.unwrap();
    let response = binding_over_stream(&mut tcp).await;
    assert_eq!(mapped_address(&response), tcp.local_addr().unwrap());

    let mut roots = RootCertStore::empty();
    roots.add(relay.certificate.der().clone()).unwrap();
    let client = ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addrs.tls[0]).await.unwrap();
    let local = tcp.local_addr().unwrap();
    let mut tls = TlsConnector::from(Arc::new(client))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let response = binding_over_stream(&mut tls).await;
    assert_eq!(mapped_address(&response), local);

    relay.server.stop().await;
}

#[tokio::test]
async fn a_stream_that_is_not_stun_is_closed() {
    let relay = start().await;
    let mut tcp = TcpStream::connect(relay.server.local_addrs().tcp[0])
        .await
        .unwrap();
    tcp.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        .await
        .unwrap();
    let mut buf = [0; 16];
    let read = timeout(WAIT, tcp.read(&mut buf)).await.unwrap();
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "expected the relay to hang up, got {read:?}"
    );
    relay.server.stop().await;
}

#[tokio::test]
async fn stop_closes_every_listener() {
    let relay = start().await;
    let addrs = relay.server.local_addrs().clone();
    relay.server.stop().await;
    // The ports are free again as soon as stop returns.
    UdpSocket::bind(addrs.udp[0]).await.unwrap();
    TcpListener::bind(addrs.tcp[0]).await.unwrap();
    TcpListener::bind(addrs.tls[0]).await.unwrap();
}
