//! Processes under test: started on loopback with a throwaway data directory,
//! pinned to a CPU, measured from `/proc`, and always stopped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The CPU the server under test runs on; the load generator takes the other.
pub const SERVER_CPU: usize = 0;
pub const GENERATOR_CPU: usize = 1;

/// `mesh` built into the same target directory as this benchmark.
pub fn sibling_mesh_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("mesh")))
        .unwrap_or_else(|| PathBuf::from("mesh"))
}

/// Pins this process (the load generator) to [`GENERATOR_CPU`]. Returns a note
/// for the report saying what happened.
pub fn pin_generator() -> String {
    let pid = std::process::id().to_string();
    let pinned = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", &GENERATOR_CPU.to_string(), &pid])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if pinned {
        format!("server pinned to cpu{SERVER_CPU}, load generator to cpu{GENERATOR_CPU}")
    } else {
        "taskset unavailable: server and generator not pinned".into()
    }
}

pub struct MeshServer {
    child: Child,
    pub url: String,
    _data: tempfile::TempDir,
}

impl MeshServer {
    pub async fn start(binary: &Path, env: &[(&str, &str)]) -> anyhow::Result<MeshServer> {
        Self::start_in(binary, env, tempfile::tempdir()?).await
    }

    /// Stops the server and starts a fresh process on the same data: the
    /// same accounts, rooms, sessions and secrets, none of the memory the
    /// first process used to make them.
    pub async fn restart(self, binary: &Path, env: &[(&str, &str)]) -> anyhow::Result<MeshServer> {
        let MeshServer {
            mut child,
            _data: data,
            ..
        } = self;
        terminate(&mut child).await;
        Self::start_in(binary, env, data).await
    }

    async fn start_in(
        binary: &Path,
        env: &[(&str, &str)],
        data: tempfile::TempDir,
    ) -> anyhow::Result<MeshServer> {
        if !binary.exists() {
            bail!(
                "{} does not exist: build it first (`cargo build --release --bin mesh`, or pass --mesh)",
                binary.display()
            );
        }
        let mut command = Command::new("taskset");
        command
            .arg("-c")
            .arg(SERVER_CPU.to_string())
            .arg(binary)
            .arg("serve")
            .env("MESH_HTTP_ADDR", "127.0.0.1:0")
            .env("MESH_MEDIA_PORT", "0")
            .env("MESH_TURN_PORT", "0")
            .env("MESH_PUBLIC_IP", "127.0.0.1")
            .env("MESH_DATA_DIR", data.path())
            .env("MESH_LOG", "error")
            .env("MESH_REGISTRATION", "open")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().context("cannot start mesh under taskset")?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("mesh did not start within 30 s")??
            .context("mesh exited before printing its address")?;
        let url = line
            .split("running at ")
            .nth(1)
            .with_context(|| format!("unexpected first line from mesh: {line}"))?
            .trim()
            .to_owned();
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(MeshServer {
            child,
            url,
            _data: data,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    pub fn ws_url(&self) -> String {
        format!("{}/api/v1/ws", self.url.replacen("http", "ws", 1))
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// Stops a process under test with SIGTERM, as a service manager would, and
/// kills it if it is still there after 5 s.
pub async fn terminate(child: &mut Child) {
    if let Some(pid) = child.id() {
        // SAFETY: a signal to a process this benchmark started and still owns.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        if tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .is_ok()
        {
            return;
        }
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
}

/// A TCP port on 127.0.0.1 nobody listens on now, for a peer that must be
/// told its port.
pub fn free_tcp_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
pub fn free_udp_port() -> anyhow::Result<u16> {
    Ok(std::net::UdpSocket::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// User plus system CPU time of a process, in seconds.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("bad /proc stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11).context("no utime")?.parse()?;
    let stime: f64 = fields.get(12).context("no stime")?.parse()?;
    Ok((utime + stime) / clock_ticks_per_second())
}

/// Resident memory of a process, in kilobytes.
pub fn rss_kb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("bad VmRSS")?
        .parse()?)
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}
