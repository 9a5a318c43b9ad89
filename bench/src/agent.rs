//! `agent`: the desktop agent's two jobs, measured through the real
//! `mesh-agent` binary against a real `mesh` server on loopback.
//!
//! - File transfer throughput: the same file sent with `mesh-agent send`,
//!   scp (default cipher and AES-128-GCM) and magic-wormhole, in turns, each
//!   timed from starting the command until the received file is verified
//!   and on disk (see `transfer`).
//! - Keystroke-to-echo latency of a controller in a shared terminal (see
//!   `terminal_echo`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};

use crate::agent_cli::{AgentHome, Online};
use crate::mesh_client::{create_rooms, register_users};
use crate::netns::Network;
use crate::process::{cpu_seconds, MeshServer};
use crate::report::{quantile, Report};
use crate::scp::{self, Sshd};
use crate::terminal_echo;
use crate::transfer::{
    check_and_remove, digest, ended_children_cpu_seconds, figures, median_mib_per_s,
    write_test_file, Transfer,
};
use crate::wormhole::{self, Wormhole};

#[derive(clap::Args, Debug, Clone, serde::Serialize)]
pub struct Params {
    /// Size of the file every system transfers, in MiB.
    #[arg(long, default_value_t = 1024)]
    size_mib: u64,
    /// Transfers per system, taken in turns (Mesh, scp, scp AES-GCM,
    /// wormhole, then again).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Keystrokes typed into the shared terminal.
    #[arg(long, default_value_t = 500)]
    keystrokes: usize,
    /// Where the test file and the received copies go (deleted after).
    #[arg(long, default_value = "/tmp")]
    dir: PathBuf,
    /// The `mesh-agent` binary (default: next to `mesh`).
    #[arg(long)]
    agent: Option<PathBuf>,
    /// The Python of the virtual environment holding the wormhole mailbox
    /// server (default: target/wormhole-venv/bin/python).
    #[arg(long)]
    wormhole_python: Option<PathBuf>,
    /// The sending agent's QUIC congestion control (`mesh-agent
    /// --congestion`): cubic (its default), bbr or new-reno.
    #[arg(long, default_value = "cubic")]
    congestion: String,
    /// Measure Mesh only.
    #[arg(long)]
    skip_peers: bool,
    /// A file of a few MiB and a few keystrokes, to check the benchmark
    /// still works.
    #[arg(long)]
    #[serde(skip)]
    smoke: bool,
}

impl Params {
    fn effective(mut self) -> Params {
        if self.smoke {
            self.size_mib = 24;
            self.runs = 1;
            self.keystrokes = 50;
        }
        self
    }
}

const ECHO_P99_TARGET_MS: f64 = 5.0;
const SCP_CIPHERS: [(&str, Option<&str>); 2] = [
    ("scp", None),
    ("scp-aes128-gcm", Some("aes128-gcm@openssh.com")),
];
const RECEIVER_DEVICE: &str = "bench-receiver";
const SHELL_DEVICE: &str = "bench-shell";

/// A peer system's turns: its transfers so far, or why it stopped.
struct Peer {
    name: &'static str,
    transfers: Vec<Transfer>,
    failed: Option<String>,
}

impl Peer {
    fn new(name: &'static str, unavailable: Option<String>) -> Peer {
        Peer {
            name,
            transfers: Vec::new(),
            failed: unavailable,
        }
    }

    fn record(&mut self, result: anyhow::Result<Transfer>) {
        match result {
            Ok(transfer) => self.transfers.push(transfer),
            Err(err) => self.failed = Some(format!("{err:#}")),
        }
    }
}

pub async fn run(mesh: &Path, params: Params, network: Network) -> anyhow::Result<Report> {
    let params = params.effective();
    if params.size_mib == 0 || params.runs == 0 || params.keystrokes == 0 {
        bail!("--size-mib, --runs and --keystrokes must be at least 1");
    }
    let agent_binary = params
        .agent
        .clone()
        .unwrap_or_else(|| mesh.with_file_name("mesh-agent"));
    let mut report = Report::new("agent", serde_json::to_value(&params)?);
    let work = tempfile::Builder::new()
        .prefix("mesh-bench-agent")
        .tempdir_in(&params.dir)
        .with_context(|| format!("cannot create a folder in {}", params.dir.display()))?;
    let server = MeshServer::start(mesh, &[("MESH_SFU", "false")]).await?;
    let result = measure(
        &server,
        &agent_binary,
        work.path(),
        &params,
        &network,
        &mut report,
    )
    .await;
    server.stop().await;
    result.map(|()| report)
}

async fn measure(
    server: &MeshServer,
    agent_binary: &Path,
    work: &Path,
    params: &Params,
    network: &Network,
    report: &mut Report,
) -> anyhow::Result<()> {
    let bytes = params.size_mib << 20;
    let file = work.join("payload.bin");
    write_test_file(&file, bytes)?;
    let sent = digest(&file)?;

    let http = reqwest::Client::new();
    let tokens = register_users(&http, &server.url, 2).await?;
    create_rooms(&http, &server.url, &tokens, 1).await?;
    let sender = AgentHome::login(agent_binary, &server.url, "bench0", "bench-sender").await?;
    let receiver_home =
        AgentHome::login(agent_binary, &server.url, "bench1", RECEIVER_DEVICE).await?;
    let inbox = work.join("inbox");
    let receiver = receiver_home.receive(&inbox, "bench0").await?;

    let skipped = params
        .skip_peers
        .then(|| "not measured (--skip-peers)".to_owned());
    let sshd = match skipped.clone().or_else(scp::missing) {
        Some(why) => Err(why),
        None => Sshd::prepare().map_err(|err| format!("{err:#}")),
    };
    let mut scp_peers: Vec<(Peer, Option<&str>)> = SCP_CIPHERS
        .iter()
        .map(|(name, cipher)| (Peer::new(name, sshd.as_ref().err().cloned()), *cipher))
        .collect();
    let direct = matches!(network, Network::Private);
    let venv_python = params
        .wormhole_python
        .clone()
        .unwrap_or_else(wormhole::default_venv_python);
    let mut wormhole = match skipped.or_else(|| wormhole::missing(&venv_python)) {
        Some(why) => Err(why),
        None => Wormhole::start(&venv_python, direct)
            .await
            .map_err(|err| format!("{err:#}")),
    };
    let mut wormhole_peer = Peer::new("wormhole", wormhole.as_ref().err().cloned());
    let (scp_dest, wormhole_dest) = (work.join("scp"), work.join("wormhole"));
    std::fs::create_dir_all(&scp_dest)?;
    std::fs::create_dir_all(&wormhole_dest)?;

    let mut mesh_transfers = Vec::with_capacity(params.runs);
    for run in 0..params.runs {
        let transfer = after_a_warm_up(async |_| {
            let transfer =
                send_with_mesh(&sender, &receiver, server, &file, bytes, &params.congestion)
                    .await?;
            check_and_remove(&inbox.join("payload.bin"), &sent)?;
            Ok(transfer)
        })
        .await?;
        mesh_transfers.push(transfer);
        if let Ok(sshd) = &sshd {
            for (peer, cipher) in scp_peers.iter_mut().filter(|(p, _)| p.failed.is_none()) {
                let result = after_a_warm_up(async |_| {
                    let (received, transfer) = sshd.copy(&file, &scp_dest, *cipher).await?;
                    check_and_remove(&received, &sent)?;
                    Ok(transfer)
                });
                peer.record(result.await);
            }
        }
        if let (Ok(wormhole), None) = (&mut wormhole, &wormhole_peer.failed) {
            let result = after_a_warm_up(async |attempt| {
                // A nameplate of its own for each transfer.
                let code = format!("{}-mesh-bench", 2 * run + attempt + 1);
                let (received, transfer) = wormhole.transfer(&file, &wormhole_dest, &code).await?;
                check_and_remove(&received, &sent)?;
                Ok(transfer)
            });
            wormhole_peer.record(result.await);
        }
    }
    if let Ok(wormhole) = wormhole {
        wormhole.stop().await;
    }
    receiver.stop().await;
    std::fs::remove_file(&file)?;

    let mut latencies = echo_latencies(agent_binary, server, &sender, params.keystrokes).await?;
    latencies.sort_by(f64::total_cmp);
    let mut mesh = figures("mesh", bytes, &mesh_transfers);
    mesh.set("echo_keystrokes", latencies.len() as f64);
    mesh.set("echo_p50_ms", quantile(&latencies, 0.5));
    mesh.set("echo_p99_ms", quantile(&latencies, 0.99));
    mesh.set("echo_max_ms", latencies[latencies.len() - 1]);
    let mesh_rate = median_mib_per_s(&mesh_transfers, bytes);
    report.systems.push(mesh);

    let wormhole_measured = !wormhole_peer.transfers.is_empty();
    let peers = scp_peers
        .into_iter()
        .map(|(peer, _)| peer)
        .chain([wormhole_peer]);
    for peer in peers {
        if !peer.transfers.is_empty() {
            report
                .systems
                .push(figures(peer.name, bytes, &peer.transfers));
        }
        if let Some(why) = &peer.failed {
            report.notes.push(format!("{}: {why}", peer.name));
            continue;
        }
        if peer.name.starts_with("scp") {
            let scp_rate = median_mib_per_s(&peer.transfers, bytes);
            report.target(
                format!(
                    "Mesh's median throughput, verified and on disk, at least {}'s ({:.0} against {:.0} MiB/s)",
                    peer.name, mesh_rate, scp_rate
                ),
                mesh_rate >= scp_rate,
            );
        }
    }
    let echo_p99 = quantile(&latencies, 0.99);
    report.target(
        format!("keystroke-to-echo p99 under {ECHO_P99_TARGET_MS} ms ({echo_p99:.2} ms)"),
        echo_p99 < ECHO_P99_TARGET_MS,
    );
    report
        .notes
        .extend(notes(network, wormhole_measured.then_some(direct)));
    Ok(())
}

/// Runs a transfer twice (`transfer(0)`, `transfer(1)`) and keeps the
/// second's figures. This VM's balloon driver hands every free page back to
/// the host at once (virtio free page reporting), after which the guest's
/// next write to it costs a fault in the host: writing a GiB into the page
/// cache took the receiving agent 2.4 CPU-s more (in the kernel's
/// `copy_folio_from_iter_atomic`) when the pages were not those of a file
/// deleted moments before, so whichever system went first after a pause paid
/// for all. A desktop has no such cost; the untimed transfer leaves the timed
/// one the pages of the file it has just deleted.
async fn after_a_warm_up(
    mut transfer: impl AsyncFnMut(usize) -> anyhow::Result<Transfer>,
) -> anyhow::Result<Transfer> {
    transfer(0).await?;
    transfer(1).await
}

/// One `mesh-agent send`, timed until it exits: by then the receiver has
/// checked every chunk against its BLAKE3 hash, fsynced the file, landed it
/// in the inbox and answered. CPU of the sender, the receiver and the server.
async fn send_with_mesh(
    sender: &AgentHome,
    receiver: &Online,
    server: &MeshServer,
    file: &Path,
    bytes: u64,
    congestion: &str,
) -> anyhow::Result<Transfer> {
    let running_before = cpu_seconds(receiver.pid()?)? + cpu_seconds(server.pid())?;
    let ended_before = ended_children_cpu_seconds();
    let started = Instant::now();
    let sent = sender.send(RECEIVER_DEVICE, file, congestion).await?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu_s = ended_children_cpu_seconds() - ended_before
        + cpu_seconds(receiver.pid()?)?
        + cpu_seconds(server.pid())?
        - running_before;
    if sent != bytes {
        bail!("mesh-agent sent {sent} bytes of {bytes}: the receiver had part of it already");
    }
    Ok(Transfer { seconds, cpu_s })
}

/// A third device, of the receiving account, shares a shell; the
/// sender's agent views it and types.
async fn echo_latencies(
    agent_binary: &Path,
    server: &MeshServer,
    viewer: &AgentHome,
    keystrokes: usize,
) -> anyhow::Result<Vec<f64>> {
    let host = AgentHome::login(agent_binary, &server.url, "bench1", SHELL_DEVICE).await?;
    let sharing = host.share(&terminal_echo::SHELL).await?;
    let latencies = terminal_echo::measure(viewer, &host, SHELL_DEVICE, keystrokes).await;
    sharing.stop().await;
    latencies
}

/// What a reader must know; `wormhole_direct`: how the wormhole clients
/// connected, if they ran.
fn notes(network: &Network, wormhole_direct: Option<bool>) -> Vec<String> {
    let mut notes = vec![
        "timed from starting the sending command until the file is verified and on disk: Mesh's \
         receiver checks each 1 MiB chunk against its BLAKE3 hash before writing it and fsyncs \
         before it answers; for scp and wormhole the benchmark fsyncs the received file inside \
         their timing (neither does it itself). Session set-up is included for all (Mesh: \
         capability from the server, QUIC handshake; scp: SSH handshake and key \
         authentication; wormhole: mailbox and PAKE)"
            .to_owned(),
        "the source file is in the page cache for every system; after each transfer the \
         benchmark compares the received file's BLAKE3 with the source's (outside the timing), \
         deletes it and syncs; each timed transfer follows an untimed one of the same system, \
         so that all write into memory the VM has not handed back to its host"
            .to_owned(),
        "cpu_s_per_gib: sender, receiver and any server or relay (Mesh: mesh-agent send, the \
         receiving mesh-agent run, mesh; scp: scp, ssh and every sshd process; wormhole: both \
         clients, the mailbox server and the transit relay)"
            .to_owned(),
        "mesh is pinned to cpu0 as in every scenario; the agents and the peers are not pinned"
            .to_owned(),
    ];
    notes.push(match network {
        Network::Private => {
            "in a private network namespace: 127.0.0.1 is the only address".to_owned()
        }
        Network::Shared { why } => format!("{why}; loopback addresses only"),
    });
    match wormhole_direct {
        Some(true) => notes
            .push("wormhole clients connect directly (their only address is 127.0.0.1)".to_owned()),
        Some(false) => notes.push(
            "wormhole clients go through the local transit relay (--no-listen), as outside a \
             private namespace they would offer the machine's other addresses"
                .to_owned(),
        ),
        None => {}
    }
    notes
}
