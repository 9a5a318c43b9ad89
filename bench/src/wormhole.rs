//! magic-wormhole (Debian `magic-wormhole` 0.12) with its own mailbox server
//! and transit relay on 127.0.0.1, so it never contacts the public ones.
//!
//! The transit relay is Debian's `magic-wormhole-transit-relay`. Debian has
//! no mailbox server, so it comes from PyPI (`magic-wormhole-mailbox-server`)
//! in a virtual environment that sees Debian's Twisted and Autobahn
//! (`--system-site-packages`), by default `target/wormhole-venv`. Both run
//! with Twisted's `twist` runner and its logging off.
//!
//! Inside the benchmark's private network namespace the only address is
//! 127.0.0.1, which is what the clients offer each other, so they connect
//! directly as on a LAN. Outside one they would offer the machine's own
//! addresses, so they are told `--no-listen` and go through the local relay.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

use crate::process::cpu_seconds;
use crate::process::free_tcp_port;
use crate::transfer::{ended_children_cpu_seconds, land, wait_for_port, Transfer};

const WORMHOLE: &str = "/usr/bin/wormhole";
const DEBIAN_PYTHON: &str = "/usr/bin/python3";
/// The mailbox server and the transit relay start slowly on a busy machine.
const START_LIMIT: Duration = Duration::from_secs(60);

/// `target/wormhole-venv/bin/python` beside this benchmark's build folder.
pub fn default_venv_python() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("wormhole-venv/bin/python")
}

/// Why magic-wormhole cannot run here, if it cannot.
pub fn missing(venv_python: &Path) -> Option<String> {
    if !Path::new(WORMHOLE).exists() {
        return Some(format!(
            "{WORMHOLE} is missing (Debian package magic-wormhole)"
        ));
    }
    let imports = |python: &Path, module: &str| {
        std::process::Command::new(python)
            .args(["-c", &format!("import {module}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    if !imports(Path::new(DEBIAN_PYTHON), "wormhole_transit_relay") {
        return Some("no transit relay (Debian package magic-wormhole-transit-relay)".into());
    }
    if !imports(venv_python, "wormhole_mailbox_server") {
        return Some(format!(
            "no mailbox server at {} (Debian has none; `python3 -m venv --system-site-packages \
             target/wormhole-venv && target/wormhole-venv/bin/pip install \
             magic-wormhole-mailbox-server`)",
            venv_python.display()
        ));
    }
    None
}

pub struct Wormhole {
    mailbox: Child,
    relay: Child,
    relay_url: String,
    transit_helper: String,
    /// Whether the clients may connect to each other directly.
    direct: bool,
    _dir: tempfile::TempDir,
}

impl Wormhole {
    pub async fn start(venv_python: &Path, direct: bool) -> anyhow::Result<Wormhole> {
        let dir = tempfile::tempdir()?;
        let (mailbox_port, relay_port) = (free_tcp_port()?, free_tcp_port()?);
        let mailbox = twist(
            venv_python,
            dir.path(),
            &[
                "wormhole-mailbox",
                &format!("--port=tcp:{mailbox_port}:interface=127.0.0.1"),
                "--channel-db=channel.sqlite",
            ],
        )?;
        let relay = twist(
            Path::new(DEBIAN_PYTHON),
            dir.path(),
            &[
                "transitrelay",
                &format!("--port=tcp:{relay_port}:interface=127.0.0.1"),
            ],
        )?;
        let wormhole = Wormhole {
            mailbox,
            relay,
            relay_url: format!("ws://127.0.0.1:{mailbox_port}/v1"),
            transit_helper: format!("tcp:127.0.0.1:{relay_port}"),
            direct,
            _dir: dir,
        };
        wait_for_port(mailbox_port, "the wormhole mailbox server", START_LIMIT).await?;
        wait_for_port(relay_port, "the wormhole transit relay", START_LIMIT).await?;
        Ok(wormhole)
    }

    /// Sends `file` into `dest_dir` under wormhole code `code` and returns
    /// the received file's path with the transfer's figures: from starting
    /// the sender (the receiver starts right after it) until the received
    /// file is on disk, CPU of both clients, the mailbox server and the relay.
    pub async fn transfer(
        &mut self,
        file: &Path,
        dest_dir: &Path,
        code: &str,
    ) -> anyhow::Result<(PathBuf, Transfer)> {
        let received = dest_dir.join(file.file_name().context("no file name")?);
        let servers_before = self.servers_cpu_seconds()?;
        let clients_before = ended_children_cpu_seconds();
        let started = Instant::now();
        let sender = self
            .client("send")
            .args(["--code", code])
            .arg(file)
            .spawn()
            .context("cannot start wormhole send")?;
        let receiver = self
            .client("receive")
            .arg("--accept-file")
            .arg("--output-file")
            .arg(&received)
            .arg(code)
            .spawn()
            .context("cannot start wormhole receive")?;
        let (sent, got) = tokio::join!(sender.wait_with_output(), receiver.wait_with_output());
        for (side, output) in [("send", sent?), ("receive", got?)] {
            if !output.status.success() {
                bail!(
                    "wormhole {side} failed ({}): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                );
            }
        }
        land(&received)?;
        let seconds = started.elapsed().as_secs_f64();
        let cpu_s = ended_children_cpu_seconds() - clients_before + self.servers_cpu_seconds()?
            - servers_before;
        Ok((received, Transfer { seconds, cpu_s }))
    }

    fn client(&self, verb: &str) -> Command {
        let mut command = Command::new(WORMHOLE);
        command
            .args(["--relay-url", &self.relay_url])
            .args(["--transit-helper", &self.transit_helper])
            .arg(verb)
            .arg("--hide-progress");
        if !self.direct {
            command.arg("--no-listen");
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    fn servers_cpu_seconds(&self) -> anyhow::Result<f64> {
        let pid = |child: &Child| child.id().context("a wormhole server exited");
        Ok(cpu_seconds(pid(&self.mailbox)?)? + cpu_seconds(pid(&self.relay)?)?)
    }

    pub async fn stop(mut self) {
        for child in [&mut self.mailbox, &mut self.relay] {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }
}

/// A Twisted plugin under `twist` in `dir`, logging nothing.
fn twist(python: &Path, dir: &Path, plugin: &[&str]) -> anyhow::Result<Child> {
    Command::new(python)
        .args([
            "-m",
            "twisted",
            "--log-file=/dev/null",
            "--log-level=critical",
        ])
        .args(plugin)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {} -m twisted {}", python.display(), plugin[0]))
}
