//! The TURN relays under test, each started the way its documentation says,
//! on 127.0.0.1 with the same TURN REST secret, logging off, pinned to the
//! server CPU, and stopped at the end (killed on drop, so also on failure
//! and Ctrl-C).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

use crate::process::{free_udp_port, terminate, SERVER_CPU};
use crate::turn_rs;

/// How long a relay may take to answer its first Allocate.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    /// `mesh turn`: Mesh's relay without the control server.
    Mesh,
    /// `mesh turn` of another build (`--baseline-mesh`), to measure a
    /// change before and after in the same run.
    MeshBaseline,
    /// coturn's `turnserver` (Debian `coturn`).
    Coturn,
    /// turn-rs's `turn-server`.
    TurnRs,
}

impl System {
    pub fn name(self) -> &'static str {
        match self {
            System::Mesh => "mesh",
            System::MeshBaseline => "mesh-baseline",
            System::Coturn => "coturn",
            System::TurnRs => "turn-server",
        }
    }
}

/// What every relay is given.
pub struct Settings<'a> {
    pub mesh_binary: &'a Path,
    pub baseline_mesh_binary: Option<&'a Path>,
    pub secret: &'a str,
    /// coturn's `--relay-threads`.
    pub coturn_relay_threads: u32,
}

pub struct Relay {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Relay {
    pub async fn start(system: System, settings: &Settings<'_>) -> anyhow::Result<Relay> {
        let dir = tempfile::tempdir()?;
        let port = free_udp_port()?;
        let relay_ports = (50_000, 59_999);
        let mut command = Command::new("taskset");
        command.arg("-c").arg(SERVER_CPU.to_string());
        match system {
            System::Mesh | System::MeshBaseline => {
                let binary = match system {
                    System::MeshBaseline => settings
                        .baseline_mesh_binary
                        .context("no --baseline-mesh given")?,
                    _ => settings.mesh_binary,
                };
                if !binary.exists() {
                    bail!(
                        "{} does not exist: build it first (`cargo build --release --bin mesh`, or pass --mesh)",
                        binary.display()
                    );
                }
                command
                    .arg(binary)
                    .arg("turn")
                    .env("MESH_DATA_DIR", dir.path())
                    .env("MESH_TURN_PORT", port.to_string())
                    .env(
                        "MESH_TURN_RELAY_PORTS",
                        format!("{}-{}", relay_ports.0, relay_ports.1),
                    )
                    .env("MESH_TURN_SECRET", settings.secret)
                    .env("MESH_PUBLIC_IP", "127.0.0.1")
                    .env("MESH_LOG", "error");
            }
            System::Coturn => {
                let config = dir.path().join("turnserver.conf");
                std::fs::write(&config, coturn_config(port, relay_ports, settings))?;
                command.arg("turnserver").arg("-c").arg(config);
            }
            System::TurnRs => {
                let config = turn_rs::write_config(dir.path(), port, relay_ports, settings.secret)?;
                command.arg(turn_rs::binary()).arg("--config").arg(config);
            }
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {} under taskset", system.name()))?;
        let mut relay = Relay {
            child,
            port,
            _dir: dir,
        };
        relay.wait_ready(system, settings.secret).await?;
        Ok(relay)
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// Waits until the relay grants an Allocate with REST credentials made
    /// from `secret`, which also proves it accepts them.
    async fn wait_ready(&mut self, system: System, secret: &str) -> anyhow::Result<()> {
        let (username, password) = mesh_turn::credentials::issue(
            secret,
            "bench-probe",
            SystemTime::now(),
            Duration::from_secs(600),
        );
        let server = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}): {}",
                    system.name(),
                    self.stderr().await
                );
            }
            let probe = mesh_turn::probe::allocate(
                server,
                &username,
                &password,
                Duration::from_millis(500),
            )
            .await;
            match probe {
                Ok(_) => return Ok(()),
                Err(err) if Instant::now() > deadline => {
                    bail!(
                        "{} did not allocate within {READY_TIMEOUT:?}: {err}",
                        system.name()
                    )
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    async fn stderr(&mut self) -> String {
        use tokio::io::AsyncReadExt;
        let mut text = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), stderr.read_to_string(&mut text))
                .await;
        }
        text
    }

    /// SIGTERM, as a service manager would stop it; SIGKILL after 5 s.
    pub async fn stop(mut self) {
        terminate(&mut self.child).await;
    }
}

/// coturn's configuration: PEERS.md's loopback relay with the REST secret,
/// TLS/DTLS and the CLI off, logging off, and `--relay-threads` set.
fn coturn_config(port: u16, relay_ports: (u16, u16), settings: &Settings<'_>) -> String {
    format!(
        "listening-ip=127.0.0.1\n\
         relay-ip=127.0.0.1\n\
         listening-port={port}\n\
         min-port={}\n\
         max-port={}\n\
         use-auth-secret\n\
         static-auth-secret={}\n\
         realm=mesh-bench\n\
         allow-loopback-peers\n\
         no-cli\n\
         no-tls\n\
         no-dtls\n\
         relay-threads={}\n\
         log-file=/dev/null\n\
         no-stdout-log\n\
         simple-log\n",
        relay_ports.0, relay_ports.1, settings.secret, settings.coturn_relay_threads
    )
}
