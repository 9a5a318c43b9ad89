//! The turn-rs project's `turn-server` (crates.io, MIT): installed by the
//! benchmark itself with `cargo install` into the target directory, pinned
//! to one version, UDP only.
//!
//! It relays only between allocations on itself (its relay ports are
//! virtual), so it is measured in client-to-client mode, as every relay in
//! the `turn` scenario is.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

pub const CRATE: &str = "turn-server";
/// The version measured; `--locked` takes its own dependency versions too.
pub const VERSION: &str = "4.1.5";
/// UDP only: the gRPC API, Prometheus exporter, TCP and TLS listeners are
/// not used by the load and would only lengthen the build.
const FEATURES: &str = "udp";

/// Where `cargo install --root` puts it: `target/bench-tools/bin`, next to
/// the profile directory this benchmark runs from.
pub fn binary() -> PathBuf {
    tools_root().join("bin").join(CRATE)
}

fn tools_root() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("bench-tools")))
        .unwrap_or_else(|| PathBuf::from("target/bench-tools"))
}

pub fn installed() -> bool {
    binary().is_file()
}

/// `cargo install --locked turn-server --version VERSION` into
/// `target/bench-tools`; returns how long it took. Runs before the
/// benchmark moves into its own network namespace, as it needs crates.io.
pub fn install() -> anyhow::Result<Duration> {
    let started = Instant::now();
    let root = tools_root();
    println!(
        "installing {CRATE} {VERSION} into {} (cargo install, a few minutes)...",
        root.display()
    );
    let status = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .args(["install", "--locked", CRATE, "--version", VERSION])
        .args(["--no-default-features", "--features", FEATURES])
        .arg("--root")
        .arg(&root)
        .stdin(Stdio::null())
        .status()
        .context("cannot run cargo install")?;
    if !status.success() || !installed() {
        bail!("cargo install {CRATE} --version {VERSION} failed ({status})");
    }
    Ok(started.elapsed())
}

/// A configuration for one UDP listener on 127.0.0.1:`port`, relay ports
/// `relay_ports` (inclusive), the TURN REST `secret`, one worker thread (it
/// is pinned to one CPU, which is also its own default there) and no
/// logging, written to `dir`.
pub fn write_config(
    dir: &Path,
    port: u16,
    relay_ports: (u16, u16),
    secret: &str,
) -> anyhow::Result<PathBuf> {
    let (first, last) = relay_ports;
    let config = format!(
        r#"[server]
realm = "mesh-bench"
port-range = "{first}..{last}"
max-threads = 1

[[server.interfaces]]
transport = "udp"
listen = "127.0.0.1:{port}"
external = "127.0.0.1:{port}"

[log]
level = "error"
stdout = false

[auth]
static-auth-secret = "{secret}"
"#
    );
    let path = dir.join("turn-server.toml");
    std::fs::write(&path, config)?;
    Ok(path)
}
