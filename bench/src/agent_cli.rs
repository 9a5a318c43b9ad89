//! The real `mesh-agent` binary, driven through its command line the way a
//! person uses it: `login`, `run` to receive, `send`, `share` and `control
//! grant`, each agent with its own home folder. Logging is off
//! (`MESH_AGENT_LOG=error`); the progress lines the agent always prints are
//! read and dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::mesh_client::PASSWORD;
use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStderr, Command};

/// The password `mesh_client::register_users` gives every bench account.
const START_LIMIT: Duration = Duration::from_secs(30);

/// One signed-in device: a home folder holding its key and sign-in.
pub struct AgentHome {
    binary: PathBuf,
    dir: tempfile::TempDir,
}

impl AgentHome {
    /// `mesh-agent login` as `user` on a new device called `device`.
    pub async fn login(
        binary: &Path,
        server_url: &str,
        user: &str,
        device: &str,
    ) -> anyhow::Result<AgentHome> {
        if !binary.exists() {
            bail!(
                "{} does not exist: build it first (`cargo build --release --bin mesh-agent`)",
                binary.display()
            );
        }
        let home = AgentHome {
            binary: binary.to_owned(),
            dir: tempfile::tempdir()?,
        };
        let output = home
            .command()
            .args([
                "login", "--server", server_url, "--user", user, "--name", device,
            ])
            .env("MESH_AGENT_PASSWORD", PASSWORD)
            .output()
            .await?;
        if !output.status.success() {
            bail!(
                "mesh-agent login as {user} failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(home)
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg("--home")
            .arg(self.dir.path())
            .env("MESH_AGENT_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// `mesh-agent run` on 127.0.0.1, taking files from `accept_from` into
    /// `inbox`; returns once it is online.
    pub async fn receive(&self, inbox: &Path, accept_from: &str) -> anyhow::Result<Online> {
        let mut command = self.command();
        command
            .args([
                "run",
                "--listen",
                "127.0.0.1:0",
                "--accept-from",
                accept_from,
            ])
            .arg("--inbox")
            .arg(inbox)
            .stdout(Stdio::null());
        Online::start(command, "mesh-agent is online").await
    }

    /// `mesh-agent --congestion congestion send to file`; returns once the
    /// receiver has verified and landed the file, with the number of bytes
    /// sent.
    pub async fn send(&self, to: &str, file: &Path, congestion: &str) -> anyhow::Result<u64> {
        let output = self
            .command()
            .args(["--congestion", congestion, "send"])
            .arg(to)
            .arg(file)
            .output()
            .await?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "mesh-agent send failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        // "sent 1.0 GiB (1073741824 bytes) to ..."
        stdout
            .split_once(" (")
            .and_then(|(_, rest)| rest.split_once(" bytes)"))
            .and_then(|(bytes, _)| bytes.parse().ok())
            .with_context(|| format!("unexpected output from mesh-agent send: {stdout}"))
    }

    /// `mesh-agent share -- command` on 127.0.0.1; returns once it shares.
    /// Its standard input stays open (closing it ends the share), its own
    /// copy of the terminal's output is dropped.
    pub async fn share(&self, shell: &[&str]) -> anyhow::Result<Online> {
        let mut command = self.command();
        command
            .args(["share", "--listen", "127.0.0.1:0", "--"])
            .args(shell)
            .stdin(Stdio::piped())
            .stdout(Stdio::null());
        Online::start(command, "Sharing this terminal").await
    }

    /// `mesh-agent control grant viewer` for the terminal this home shares.
    pub async fn grant(&self, viewer: u64) -> anyhow::Result<()> {
        let output = self
            .command()
            .args(["control", "grant", &viewer.to_string()])
            .output()
            .await?;
        if !output.status.success() {
            bail!(
                "mesh-agent control grant {viewer} failed: {}{}",
                String::from_utf8_lossy(&output.stdout).trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// The command line of `mesh-agent view device`, for a pseudo-terminal.
    pub fn view_command(&self, device: &str) -> portable_pty::CommandBuilder {
        let mut command = portable_pty::CommandBuilder::new(&self.binary);
        command.arg("--home");
        command.arg(self.dir.path());
        command.args(["view", device]);
        command.env("MESH_AGENT_LOG", "error");
        command.env("TERM", "xterm-256color");
        command
    }
}

/// A long-running agent (`run` or `share`), killed when dropped.
pub struct Online {
    child: Child,
}

impl Online {
    /// Starts `command` and waits for `ready` on its standard error; then
    /// keeps reading it so the agent never blocks on a full pipe.
    async fn start(mut command: Command, ready: &str) -> anyhow::Result<Online> {
        let mut child = command.spawn().context("cannot start mesh-agent")?;
        let mut lines = BufReader::new(child.stderr.take().context("no stderr")?).lines();
        let said = tokio::time::timeout(START_LIMIT, wait_for(&mut lines, ready))
            .await
            .with_context(|| format!("mesh-agent did not say `{ready}` within {START_LIMIT:?}"))?;
        if let Err(err) = said {
            let status = child.wait().await?;
            bail!("mesh-agent exited ({status}): {err:#}");
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Online { child })
    }

    pub fn pid(&self) -> anyhow::Result<u32> {
        self.child.id().context("mesh-agent exited")
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

async fn wait_for(
    lines: &mut tokio::io::Lines<BufReader<ChildStderr>>,
    ready: &str,
) -> anyhow::Result<()> {
    let mut said = Vec::new();
    while let Some(line) = lines.next_line().await? {
        if line.contains(ready) {
            return Ok(());
        }
        said.push(line);
    }
    bail!("{}", said.join("\n"))
}
