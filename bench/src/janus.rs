//! Janus (Debian package `janus`) as the peer system, set up the way
//! `/work/shared/PEERS.md` describes: Debian's configuration copied to a
//! temporary folder with only the VideoRoom plugin and the plain HTTP API
//! loaded, ICE on loopback only, pinned to the server CPU, always stopped.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

use crate::process::{free_tcp_port, terminate, SERVER_CPU};

const BINARY: &str = "/usr/bin/janus";
const DEBIAN_CONFIG: &str = "/etc/janus";
/// The libraries Janus needs here; every other plugin, transport, logger
/// and event handler is disabled.
const KEEP: [&str; 2] = ["libjanus_videoroom.so", "libjanus_http.so"];
/// Warnings and errors only, like `MESH_LOG=error` plus warnings: Janus's
/// default (4) logs every session and handle, which Mesh does not.
const DEBUG_LEVEL: u8 = 3;

pub fn installed() -> bool {
    Path::new(BINARY).exists() && Path::new(DEBIAN_CONFIG).join("janus.jcfg").exists()
}

pub struct JanusServer {
    child: Child,
    /// The HTTP API, `http://127.0.0.1:PORT/janus`.
    pub url: String,
    dir: tempfile::TempDir,
}

impl JanusServer {
    pub async fn start() -> anyhow::Result<JanusServer> {
        let dir = tempfile::tempdir()?;
        let port = free_tcp_port()?;
        write_config(dir.path(), port)?;
        let child = Command::new("taskset")
            .arg("-c")
            .arg(SERVER_CPU.to_string())
            .arg(BINARY)
            .arg("-F")
            .arg(dir.path())
            .arg("-C")
            .arg(dir.path().join("janus.jcfg"))
            .args(["-N", "-o", "-i", "127.0.0.1", "-L"])
            .arg(dir.path().join("janus.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start janus under taskset")?;
        let mut janus = JanusServer {
            child,
            url: format!("http://127.0.0.1:{port}/janus"),
            dir,
        };
        janus.wait_ready().await?;
        Ok(janus)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "janus exited ({status}); its log ends:\n{}",
                    self.log_tail()
                );
            }
            let info = http
                .get(format!("{}/info", self.url))
                .timeout(Duration::from_secs(1))
                .send()
                .await;
            if info.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!(
            "janus did not answer within 15 s; its log ends:\n{}",
            self.log_tail()
        )
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// The last lines of Janus's log, to explain a failure.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("janus.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Stops Janus with SIGTERM, as its service does, and kills it if it is
    /// still there after 5 s.
    pub async fn stop(mut self) {
        terminate(&mut self.child).await;
    }
}

/// Debian's `janus.jcfg`, `janus.transport.http.jcfg` and
/// `janus.plugin.videoroom.jcfg` in `dir`, changed as PEERS.md says.
fn write_config(dir: &Path, port: u16) -> anyhow::Result<()> {
    let debian = Path::new(DEBIAN_CONFIG);
    let core = std::fs::read_to_string(debian.join("janus.jcfg"))?;
    let folder = |key: &str| -> anyhow::Result<String> {
        setting(&core, key).with_context(|| format!("no {key} in janus.jcfg"))
    };
    let disable = |key: &str| -> anyhow::Result<String> {
        Ok(format!("\tdisable = \"{}\"", others_in(&folder(key)?)?))
    };
    let core = edit(
        &core,
        &[
            (
                "configs_folder",
                format!("\tconfigs_folder = \"{}\"", dir.display()),
            ),
            ("debug_level", format!("\tdebug_level = {DEBUG_LEVEL}")),
        ],
        &[
            ("media: {", "\trtp_port_range = \"20000-20999\"".to_owned()),
            ("nat: {", "\tice_enforce_list = \"127.0.0.1\"".to_owned()),
            ("plugins: {", disable("plugins_folder")?),
            ("transports: {", disable("transports_folder")?),
            ("loggers: {", disable("loggers_folder")?),
            ("events: {", disable("events_folder")?),
        ],
    );
    std::fs::write(dir.join("janus.jcfg"), core)?;

    let http = std::fs::read_to_string(debian.join("janus.transport.http.jcfg"))?;
    let http = edit(
        &http,
        &[
            ("port", format!("\tport = {port}")),
            ("https", "\thttps = false".to_owned()),
            ("admin_http", "\tadmin_http = false".to_owned()),
        ],
        &[("general: {", "\tip = \"127.0.0.1\"".to_owned())],
    );
    std::fs::write(dir.join("janus.transport.http.jcfg"), http)?;

    std::fs::copy(
        debian.join("janus.plugin.videoroom.jcfg"),
        dir.join("janus.plugin.videoroom.jcfg"),
    )?;
    Ok(())
}

/// The value of an uncommented `key = "value"` line.
fn setting(config: &str, key: &str) -> Option<String> {
    config.lines().find_map(|line| {
        let (name, value) = line.split('#').next()?.split_once('=')?;
        (name.trim() == key).then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// `config` with uncommented `key = ...` lines replaced and lines added at
/// the top of groups. Debian's file leaves every added setting commented
/// out, so none is set twice.
fn edit(config: &str, replace: &[(&str, String)], add: &[(&str, String)]) -> String {
    let mut out = String::new();
    for line in config.lines() {
        let trimmed = line.trim_start();
        let key = trimmed.split(['=', ' ', '\t']).next().unwrap_or_default();
        match replace
            .iter()
            .find(|(name, _)| !trimmed.starts_with('#') && *name == key)
        {
            Some((_, replacement)) => out.push_str(replacement),
            None => out.push_str(line),
        }
        out.push('\n');
        for (_, setting) in add.iter().filter(|(group, _)| line.trim() == *group) {
            let _ = writeln!(out, "{setting}");
        }
    }
    out
}

/// Every Janus library in `folder` except those in [`KEEP`], comma-separated.
fn others_in(folder: &str) -> anyhow::Result<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".so") && !KEEP.contains(&name.as_str()))
        .collect();
    names.sort();
    Ok(names.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_comments_and_replace_live_settings() {
        let config = "general: {\n\t#port = 1\n\tport = 8088\n}\nnat: {\n}\n";
        let edited = edit(
            config,
            &[("port", "\tport = 9".into())],
            &[("nat: {", "\tice_enforce_list = \"lo\"".into())],
        );
        assert_eq!(
            edited,
            "general: {\n\t#port = 1\n\tport = 9\n}\nnat: {\n\tice_enforce_list = \"lo\"\n}\n"
        );
        assert_eq!(setting(config, "port").as_deref(), Some("8088"));
    }
}
