//! NAT traversal with real NATs: network namespaces of the test's own, two
//! private networks behind masquerading Linux routers (iptables), and the
//! Mesh server on the "public" network between them. Needs root and Debian's
//! `iptables`; without them the tests fail saying so.
//!
//! ```text
//!  10.1.0.2 ── ra ── 198.51.100.11 ┐
//!  (alice)     NAT                 ├─ bridge, 198.51.100.1: mesh (HTTP, STUN, TURN)
//!  10.2.0.2 ── rb ── 198.51.100.12 ┘
//!  (bob)       NAT
//! ```
//!
//! No namespace has a link to the machine's own network, so nothing leaves
//! the machine (checked before anything is started). The 198.51.100.0/24
//! addresses (TEST-NET-2) exist only inside these namespaces.
//!
//! - Direct: Bob's agent announces only its interface address and the one
//!   Mesh's STUN server saw (his router's); Alice's reaches it because Bob
//!   punches towards her candidates when the session is offered.
//! - Relayed: the routers drop UDP between each other's public addresses;
//!   the transfer goes through Mesh's TURN relay and both ends say so.

mod common;

use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{digest, password, write_random_file, Server};

const SERVER_IP: &str = "198.51.100.1";
const ROUTER_A: &str = "198.51.100.11";
const ROUTER_B: &str = "198.51.100.12";
/// Every wait in these tests is bounded by this.
const PATIENCE: Duration = Duration::from_secs(30);

#[test]
fn agents_behind_two_nats_connect_directly_by_punching_holes() {
    let outcome = transfer_between_nats("d", false);
    assert!(
        outcome
            .sender
            .contains(&format!("path: direct ({ROUTER_B}:")),
        "the sender did not go direct to Bob's router mapping:\n{}",
        outcome.sender
    );
    assert!(
        outcome
            .receiver
            .contains(&format!("path: direct ({ROUTER_A}:")),
        "the receiver did not see Alice's router mapping directly:\n{}",
        outcome.receiver
    );
}

#[test]
fn agents_fall_back_to_meshs_turn_relay_when_no_direct_path_exists() {
    let outcome = transfer_between_nats("r", true);
    assert!(
        outcome.sender.contains("path: relayed via TURN"),
        "the sender did not report the relay:\n{}",
        outcome.sender
    );
    assert!(
        outcome.receiver.contains("path: relayed via TURN"),
        "the receiver did not report the relay:\n{}",
        outcome.receiver
    );
    assert!(
        outcome.blocked_packets > 0,
        "the block between the routers saw no packet: the direct path was never tried"
    );
}

/// Candidates travel through the server to the target, so the server checks
/// them: anything but `ip:port` (or too many) is refused and opens nothing.
#[tokio::test]
async fn malformed_candidates_are_refused_and_open_no_session() {
    use mesh_proto::{CreateSessionRequest, Scope};

    let server = Server::start();
    let (alice, bob) = common::alice_and_bob(&server).await;
    let control = alice.control();
    for candidates in [
        vec!["bob.example.org:4433".to_owned()],
        vec!["198.51.100.11:4433".to_owned(); mesh_proto::MAX_DEVICE_ADDRESSES + 1],
    ] {
        let err = control
            .create_session(&CreateSessionRequest {
                from_device: alice.device_id(),
                to_device: bob.device_id(),
                kind: Scope::File.kind(),
                scope: Scope::File,
                candidates,
            })
            .await
            .expect_err("bad candidates were accepted");
        let refused = err
            .downcast_ref::<mesh_agent::control::Refused>()
            .unwrap_or_else(|| panic!("not a refusal: {err:#}"));
        assert_eq!(refused.status, 400, "{refused}");
    }
    let sessions: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/v1/sessions", server.url))
        .bearer_auth(control.access_token().await.unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        sessions,
        serde_json::json!([]),
        "a refused request opened a session"
    );
}

/// QUIC between two allocations on Mesh's relay, on loopback (no root
/// needed): the relay joins its own allocations, pinned mutual TLS holds,
/// and bulk data arrives intact (the relay polices each allocation to
/// 2 MB/s, so this is not a speed test).
#[tokio::test]
async fn quic_runs_between_two_allocations_on_meshs_relay() {
    use mesh_agent::transport::{self, Congestion};
    use mesh_agent::turn::Allocation;

    let server = Server::start_with_stun();
    let (alice, bob) = common::alice_and_bob(&server).await;
    let relay = alice
        .agent
        .control
        .relay_server()
        .await
        .expect("ice servers");
    let listening = Allocation::new(&relay).await.expect("bob's allocation");
    listening
        .permit(listening.relayed().ip())
        .await
        .expect("permission");
    let dialling = Allocation::new(&relay).await.expect("alice's allocation");
    let target = listening.relayed();
    assert_ne!(dialling.relayed(), target);
    dialling.bind_channel(target).await.expect("channel");

    let server_config = transport::server_config(&bob.agent.identity, Congestion::Cubic).unwrap();
    let bob_end = transport::relayed(listening.into_socket(), Some(server_config)).unwrap();
    let alice_end = transport::relayed(dialling.into_socket(), None).unwrap();
    const SIZE: usize = 4 << 20;
    let echo = tokio::spawn(async move {
        let connection = bob_end.accept().await.unwrap().await.unwrap();
        let (mut send, mut recv) = connection.accept_bi().await.unwrap();
        let data = recv.read_to_end(SIZE).await.unwrap();
        send.write_all(blake3::hash(&data).as_bytes())
            .await
            .unwrap();
        send.finish().unwrap();
        connection.closed().await;
        data.len()
    });
    let connection = transport::dial(
        &alice_end,
        &alice.agent.identity,
        &[target],
        &bob.fingerprint(),
        Congestion::Cubic,
    )
    .await
    .expect("QUIC through the relay");
    let data: Vec<u8> = (0..SIZE).map(|i| (i * 7 % 251) as u8).collect();
    let started = Instant::now();
    let (mut send, mut recv) = connection.open_bi().await.unwrap();
    send.write_all(&data).await.unwrap();
    send.finish().unwrap();
    let answer = recv.read_to_end(64).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(answer, blake3::hash(&data).as_bytes());
    connection.close(0u32.into(), b"done");
    assert_eq!(echo.await.unwrap(), SIZE);
    eprintln!(
        "4 MiB through the relay in {:.2} s ({:.1} MiB/s)",
        elapsed.as_secs_f64(),
        4.0 / elapsed.as_secs_f64()
    );
    alice_end.wait_idle().await;
}

struct Outcome {
    /// What `mesh-agent send` printed (both streams).
    sender: String,
    /// What Bob's `mesh-agent run` printed.
    receiver: String,
    /// UDP packets the routers dropped between their public addresses.
    blocked_packets: u64,
}

/// Alice (behind router A) sends 8 MiB to Bob (behind router B); the file
/// must arrive bit-identical. With `block_direct`, the routers drop UDP
/// between each other's public addresses first.
fn transfer_between_nats(case: &str, block_direct: bool) -> Outcome {
    require_root_and_iptables();
    let net = Topology::build(&format!("mn{}{case}", std::process::id()));
    net.assert_isolated();
    if block_direct {
        net.block_between_routers();
    }
    let public = net.ns("pub");
    let (sender, receiver) = in_netns(&public, {
        let net_a = net.ns("a");
        let net_b = net.ns("b");
        move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(send_across(&net_a, &net_b))
        }
    });
    eprintln!("--- mesh-agent send ---\n{sender}--- mesh-agent run ---\n{receiver}");
    Outcome {
        sender,
        receiver,
        blocked_packets: if block_direct {
            net.blocked_packets()
        } else {
            0
        },
    }
}

/// Runs in the public namespace: the server, two sign-ins, Bob's agent, and
/// Alice's `send`. Returns what the sender and the receiver printed.
async fn send_across(net_a: &str, net_b: &str) -> (String, String) {
    let server = Server::start_on(SERVER_IP);
    let alice_token = server.register("alice").await;
    let bob_token = server.register("bob").await;
    server.share_room("alice", &alice_token, &bob_token).await;

    let homes = tempfile::tempdir().unwrap();
    let alice_home = homes.path().join("alice");
    let bob_home = homes.path().join("bob");
    let inbox = homes.path().join("inbox");
    login(&server, net_a, &alice_home, "alice", "alice-laptop");
    login(&server, net_b, &bob_home, "bob", "bob-desktop");

    let mut run = agent(net_b, &bob_home);
    run.args(["run", "--accept-from", "alice", "--inbox"])
        .arg(&inbox)
        .env("MESH_AGENT_LOG", "mesh_agent=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let bob = Running::start(run);
    bob.wait_for("online: the Mesh server will announce sessions");

    let file = homes.path().join("payload.bin");
    write_random_file(&file, 8 << 20, 7);
    let mut send = agent(net_a, &alice_home);
    send.args(["send", "bob"]).arg(&file);
    let sent = bounded_output(send);
    let sender = format!(
        "{}{}",
        String::from_utf8_lossy(&sent.stdout),
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(sent.status.success(), "send failed:\n{sender}");
    assert!(sender.contains("sent 8.0 MiB"), "{sender}");
    bob.wait_for("received 8.0 MiB from alice");
    assert_eq!(
        digest(&inbox.join("payload.bin")),
        digest(&file),
        "the file arrived different"
    );
    (sender, bob.output())
}

fn login(server: &Server, netns: &str, home: &Path, user: &str, device: &str) {
    let mut command = agent(netns, home);
    command
        .args([
            "login",
            "--server",
            &server.url,
            "--user",
            user,
            "--name",
            device,
        ])
        .env("MESH_AGENT_PASSWORD", password(user));
    let out = bounded_output(command);
    assert!(
        out.status.success(),
        "login in {netns}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `mesh-agent` inside `netns`.
fn agent(netns: &str, home: &Path) -> Command {
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", netns, env!("CARGO_BIN_EXE_mesh-agent")])
        .env("MESH_AGENT_HOME", home)
        .env_remove("MESH_AGENT_LOG");
    command
}

/// Runs `command` to completion, killing it after [`PATIENCE`].
fn bounded_output(mut command: Command) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start mesh-agent");
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let output = child.wait_with_output();
        let _ = done.send(());
        output
    });
    if finished.recv_timeout(PATIENCE).is_err() {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
    waiter.join().unwrap().expect("mesh-agent output")
}

/// A long-running agent whose output is collected; killed when dropped.
struct Running {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Running {
    fn start(mut command: Command) -> Running {
        let mut child = command.spawn().expect("cannot start mesh-agent run");
        let output = Arc::new(Mutex::new(String::new()));
        let streams: [Box<dyn std::io::Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for stream in streams {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut output = output.lock().unwrap();
                    output.push_str(&line);
                    output.push('\n');
                }
            });
        }
        Running { child, output }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    fn wait_for(&self, words: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.output().contains(words) {
            assert!(
                Instant::now() < deadline,
                "the agent never said `{words}`:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn require_root_and_iptables() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(
        root,
        "the NAT tests build network namespaces and need root (CI runs them as root)"
    );
    let iptables = Command::new("iptables").arg("-V").output();
    assert!(
        iptables.is_ok_and(|out| out.status.success()),
        "the NAT tests need Debian's iptables: apt-get install -y iptables"
    );
}

/// Runs `work` on a thread that joined the network namespace `netns`;
/// threads and processes it starts are in that namespace too.
fn in_netns<T: Send + 'static>(netns: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{netns}");
    let thread = std::thread::spawn(move || {
        let handle = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: setns on a namespace file we hold open; it moves only
        // this thread, which nothing else uses.
        let joined = unsafe { libc::setns(handle.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(
            joined,
            0,
            "setns {path}: {}",
            std::io::Error::last_os_error()
        );
        work()
    });
    match thread.join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The namespaces and links; all deleted when dropped.
struct Topology {
    prefix: String,
    created: Vec<String>,
}

/// Namespace roles, in creation order.
const ROLES: [&str; 5] = ["pub", "ra", "rb", "a", "b"];

impl Topology {
    fn build(prefix: &str) -> Topology {
        let mut net = Topology {
            prefix: prefix.to_owned(),
            created: Vec::new(),
        };
        for role in ROLES {
            let name = net.ns(role);
            let _ = Command::new("ip").args(["netns", "del", &name]).output();
            run("ip", &["netns", "add", &name]);
            net.created.push(name.clone());
            net.exec(role, "ip link set lo up");
        }
        net.exec("pub", "ip link add br0 type bridge");
        net.exec("pub", &format!("ip addr add {SERVER_IP}/24 dev br0"));
        net.exec("pub", "ip link set br0 up");
        for (router, wan_ip, lan, host) in [
            ("ra", ROUTER_A, "10.1.0", "a"),
            ("rb", ROUTER_B, "10.2.0", "b"),
        ] {
            // Router's public side, on the bridge.
            run(
                "ip",
                &[
                    "link",
                    "add",
                    router,
                    "netns",
                    &net.ns("pub"),
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "wan",
                    "netns",
                    &net.ns(router),
                ],
            );
            net.exec("pub", &format!("ip link set {router} master br0"));
            net.exec("pub", &format!("ip link set {router} up"));
            net.exec(router, &format!("ip addr add {wan_ip}/24 dev wan"));
            net.exec(router, "ip link set wan up");
            // Router's private side and the host behind it.
            run(
                "ip",
                &[
                    "link",
                    "add",
                    "lan",
                    "netns",
                    &net.ns(router),
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "eth0",
                    "netns",
                    &net.ns(host),
                ],
            );
            net.exec(router, &format!("ip addr add {lan}.1/24 dev lan"));
            net.exec(router, "ip link set lan up");
            net.exec(host, &format!("ip addr add {lan}.2/24 dev eth0"));
            net.exec(host, "ip link set eth0 up");
            net.exec(host, &format!("ip route add default via {lan}.1"));
            // A home router: forwards and masquerades out of its public side,
            // and its firewall drops what nobody asked for.
            net.exec(router, "sysctl -qw net.ipv4.ip_forward=1");
            net.exec(
                router,
                "iptables -t nat -A POSTROUTING -o wan -j MASQUERADE",
            );
            net.exec(
                router,
                "iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
            );
            net.exec(router, "iptables -A INPUT -i lo -j ACCEPT");
            net.exec(router, "iptables -P INPUT DROP");
        }
        net
    }

    fn ns(&self, role: &str) -> String {
        format!("{}-{role}", self.prefix)
    }

    fn exec(&self, role: &str, command: &str) {
        let mut args = vec!["netns", "exec"];
        let name = self.ns(role);
        args.push(&name);
        args.extend(command.split(' '));
        run("ip", &args);
    }

    /// Every namespace holds only the links made here: no way out of the
    /// machine, whatever an agent or the server tries.
    fn assert_isolated(&self) {
        for role in ROLES {
            let out = Command::new("ip")
                .args(["netns", "exec", &self.ns(role), "ip", "-o", "link", "show"])
                .output()
                .unwrap();
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let name = line.split(':').nth(1).unwrap_or("").trim();
                let name = name.split('@').next().unwrap_or("");
                assert!(
                    ["lo", "br0", "ra", "rb", "wan", "lan", "eth0"].contains(&name),
                    "unexpected link `{name}` in {role}: {line}"
                );
            }
        }
    }

    /// Each router drops UDP to and from the other's public address (its
    /// traffic with the server still passes).
    fn block_between_routers(&self) {
        for (router, other) in [("ra", ROUTER_B), ("rb", ROUTER_A)] {
            self.exec(
                router,
                &format!("iptables -I FORWARD -p udp -d {other} -j DROP"),
            );
            self.exec(
                router,
                &format!("iptables -I FORWARD -p udp -s {other} -j DROP"),
            );
        }
    }

    /// Packets the blocking rules dropped, over both routers.
    fn blocked_packets(&self) -> u64 {
        let mut total = 0;
        for router in ["ra", "rb"] {
            let out = Command::new("ip")
                .args(["netns", "exec", &self.ns(router)])
                .args(["iptables", "-L", "FORWARD", "-v", "-n", "-x"])
                .output()
                .unwrap();
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                if line.contains("DROP") {
                    total += line
                        .split_whitespace()
                        .next()
                        .and_then(|packets| packets.parse::<u64>().ok())
                        .unwrap_or(0);
                }
            }
        }
        total
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for name in self.created.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}
