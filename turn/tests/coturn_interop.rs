//! Interop with coturn's test client, `turnutils_uclient` (Debian `coturn`).
//!
//! Each test starts our relay on loopback (127.0.0.1, or ::1 for the IPv6
//! case) with ephemeral listening ports and `allow_loopback_peers`, then runs
//! uclient twice at once: client-to-client (`-y`, relayed between two
//! allocations) and client-to-peer (`-e`, through `turnutils_peer`, coturn's
//! UDP echo peer). uclient authenticates with the REST secret (`-W`),
//! allocates RTP/RTCP pairs (EVEN-PORT and RESERVATION-TOKEN), binds channels
//! and reports the packets it lost.
//!
//! Everything stays on loopback, and every process runs under a timeout.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use mesh_turn::{Config, PolicyConfig, RelayConfig, TurnServer};
use tokio::process::{Child, Command};

const SECRET: &str = "interop-secret";
/// uclient sleeps 1–6 s before it starts, then sends 50 messages 5 ms apart.
const UCLIENT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
enum Transport {
    Udp,
    Tcp,
    Tls,
}

const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

#[test]
fn uclient_over_udp_relays_every_packet() {
    interop(Transport::Udp, V4, 41000..=41199);
}

#[test]
fn uclient_over_tcp_relays_every_packet() {
    interop(Transport::Tcp, V4, 41200..=41399);
}

#[test]
fn uclient_over_tls_relays_every_packet() {
    interop(Transport::Tls, V4, 41400..=41599);
}

#[test]
fn uclient_over_ipv6_relays_every_packet() {
    interop(Transport::Udp, V6, 41600..=41799);
}

#[test]
fn uclient_with_a_wrong_secret_cannot_allocate() {
    require_coturn_tools();
    runtime().block_on(async {
        let relay = start_relay(V4, 41800..=41819).await;
        let port = relay.local_addrs().udp[0].port();
        let mut args = uclient_args("wrong-secret", port);
        args.extend(["-y".to_owned(), "127.0.0.1".to_owned()]);
        let (status, output) = uclient(&args).await;
        println!("turnutils_uclient {}: {status}", args.join(" "));
        for line in output
            .lines()
            .filter(|l| l.contains("error") || l.contains("Cannot"))
        {
            println!("{line}");
        }
        assert!(
            !status.success(),
            "uclient succeeded with a wrong secret:\n{output}"
        );
        assert!(
            output.contains("Cannot complete Allocation"),
            "uclient did not report the refused allocation:\n{output}"
        );
        let metrics = relay.metrics();
        assert!(metrics.refusals.unauthorized > 0, "{metrics:?}");
        assert_eq!(metrics.allocations, 0);
        relay.stop().await;
    });
}

fn interop(transport: Transport, ip: IpAddr, relay_ports: RangeInclusive<u16>) {
    require_coturn_tools();
    runtime().block_on(async {
        let relay = start_relay(ip, relay_ports).await;
        let addrs = relay.local_addrs().clone();
        let port = match transport {
            Transport::Udp => addrs.udp[0].port(),
            Transport::Tcp => addrs.tcp[0].port(),
            Transport::Tls => addrs.tls[0].port(),
        };
        let peer_port = free_udp_port(ip);
        let _peer = spawn_peer(ip, peer_port);

        let mut client_to_client = uclient_args(SECRET, port);
        if ip.is_ipv6() {
            // Ask for an IPv6 relay address.
            client_to_client.push("-x".into());
        }
        let mut client_to_peer = client_to_client.clone();
        client_to_client.push("-y".into());
        client_to_peer.extend([
            "-e".into(),
            ip.to_string(),
            "-r".into(),
            peer_port.to_string(),
        ]);
        for args in [&mut client_to_client, &mut client_to_peer] {
            match transport {
                Transport::Udp => {}
                Transport::Tcp => args.push("-t".into()),
                Transport::Tls => args.extend(["-t".into(), "-S".into()]),
            }
            args.push(ip.to_string());
        }

        let (c2c, c2p) = tokio::join!(uclient(&client_to_client), uclient(&client_to_peer));
        for (mode, args, (status, output)) in [
            ("client-to-client", &client_to_client, c2c),
            ("client-to-peer", &client_to_peer, c2p),
        ] {
            let command = format!("turnutils_uclient {}", args.join(" "));
            assert!(
                status.success(),
                "{mode} ({command}) failed: {status}\n{output}"
            );
            let lost = lost_packets(&output)
                .unwrap_or_else(|| panic!("{mode} ({command}) printed no loss report:\n{output}"));
            assert_eq!(lost, 0, "{mode} ({command}) lost packets:\n{output}");
            println!("{transport:?}/{ip} {mode}: {command}\n{}", summary(&output));
        }
        let metrics = relay.metrics();
        assert!(metrics.packets_relayed > 0, "{metrics:?}");
        println!("{transport:?}/{ip} relay metrics: {metrics:?}");
        relay.stop().await;
    });
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Never pass silently without the client: say how to get it.
fn require_coturn_tools() {
    // Look on PATH rather than run the tools: turnutils_peer without
    // arguments would start serving.
    let path = std::env::var_os("PATH").unwrap_or_default();
    for tool in ["turnutils_uclient", "turnutils_peer"] {
        let found = std::env::split_paths(&path).any(|dir| dir.join(tool).is_file());
        assert!(
            found,
            "{tool} is not installed: run `apt-get install coturn` (`make test` installs it)"
        );
    }
}

async fn start_relay(ip: IpAddr, ports: RangeInclusive<u16>) -> TurnServer {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let tls = mesh_turn::driver::tls::server_config(
        cert.cert.pem().as_bytes(),
        cert.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let listen = SocketAddr::new(ip, 0);
    let config = Config {
        listen_udp: vec![listen],
        listen_tcp: vec![listen],
        listen_tls: vec![listen],
        tls: Some(tls),
        relay: RelayConfig {
            bind_v4: Some(Ipv4Addr::LOCALHOST),
            bind_v6: Some(Ipv6Addr::LOCALHOST),
            ports,
            ..RelayConfig::default()
        },
        secret: SECRET.to_owned(),
        policy: PolicyConfig {
            allow_loopback_peers: true,
            ..PolicyConfig::default()
        },
        ..Config::default()
    };
    TurnServer::start(config).await.unwrap()
}

/// Options shared by every run: REST secret, 2 clients, 50 messages of
/// 200 bytes each, 5 ms apart, to the relay's `port`.
fn uclient_args(secret: &str, port: u16) -> Vec<String> {
    [
        "-W", secret, "-u", "interop", "-m", "2", "-n", "50", "-l", "200", "-z", "5", "-p",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([port.to_string()])
    .collect()
}

async fn uclient(args: &[String]) -> (ExitStatus, String) {
    let child = Command::new("turnutils_uclient")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("turnutils_uclient starts");
    let output = tokio::time::timeout(UCLIENT_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "turnutils_uclient {} ran over {UCLIENT_TIMEOUT:?}",
                args.join(" ")
            )
        })
        .expect("turnutils_uclient runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status, text)
}

fn spawn_peer(ip: IpAddr, port: u16) -> Child {
    Command::new("turnutils_peer")
        .args(["-L", &ip.to_string(), "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("turnutils_peer starts")
}

/// A UDP port on loopback that was free a moment ago.
fn free_udp_port(ip: IpAddr) -> u16 {
    UdpSocket::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The N in uclient's `Total lost packets N (P%)`.
fn lost_packets(output: &str) -> Option<u64> {
    let line = output.lines().find(|l| l.contains("Total lost packets"))?;
    let after = line.split("Total lost packets").nth(1)?;
    after.split_whitespace().next()?.parse().ok()
}

/// uclient's closing report, for the test log.
fn summary(output: &str) -> String {
    output
        .lines()
        .filter(|l| l.contains("Total") || l.contains("Average"))
        .collect::<Vec<_>>()
        .join("\n")
}
