//! `switch`: a growing call as the people in it see it. Headless Debian
//! Chromium pages (fake camera and microphone) join one call past the mesh
//! limit and leave again, driven by `bench/switch/run.mjs` on the same
//! steps as the browser test `web/e2e/growth.test.mjs`: the time from a
//! newcomer's "Join now" to its first remote frame, in mesh and in SFU mode,
//! and the longest freeze of any remote video during each switch: the
//! longest time its tile showed no new frame, from frames timed off the
//! page's main thread (`web/e2e/media.mjs`, `videoGaps`). The longest stall
//! of the pages' frame callbacks, which also counts main threads too busy to
//! run while the videos kept playing, is reported beside it.
//!
//! The browsers gather ICE candidates on every interface, so the run needs
//! the private network namespace `main` sets up (see
//! [`netns`](crate::netns)); without one it refuses to start. Nothing is
//! pinned: the server and every browser share both cores, as they would on
//! a small machine hosting a call and its participants.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;
use tokio::process::Command;

use crate::netns::Network;
use crate::report::{Report, SystemFigures};

/// Whole-run bound, whatever the browsers do.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);
const TARGET_FIRST_FRAME_MS: f64 = 1000.0;
const TARGET_SWITCH_GAP_MS: f64 = 200.0;

#[derive(clap::Args, Debug, Clone, serde::Serialize)]
pub struct Params {
    /// People who join the call, one after the other.
    #[arg(long, default_value_t = 6)]
    participants: usize,
    /// The server's mesh limit: one more moves the call to the SFU.
    #[arg(long, default_value_t = 4)]
    mesh_limit: usize,
    /// Seconds the call stays at the limit before it returns to mesh.
    #[arg(long, default_value_t = 1)]
    hysteresis: u64,
    /// Three people and a mesh limit of two, to check the benchmark still works.
    #[arg(long)]
    #[serde(skip)]
    smoke: bool,
}

impl Params {
    fn effective(mut self) -> Params {
        if self.smoke {
            self.participants = 3;
            self.mesh_limit = 2;
        }
        self
    }
}

/// What `run.mjs` measured, each list in the order it happened.
#[derive(Debug, Deserialize)]
struct Figures {
    first_frame_ms_mesh: Vec<f64>,
    first_frame_ms_sfu: Vec<f64>,
    switch_gap_ms_to_sfu: Vec<f64>,
    switch_gap_ms_to_mesh: Vec<f64>,
    page_stall_ms_to_sfu: Vec<f64>,
    page_stall_ms_to_mesh: Vec<f64>,
}

pub async fn run(mesh: &Path, params: Params, network: Network) -> anyhow::Result<Report> {
    let params = params.effective();
    if let Network::Shared { why } = network {
        bail!("browsers must run in a private network namespace: {why}");
    }
    let repo = repo_root()?;
    let mut report = Report::new("switch", serde_json::to_value(&params)?);
    let out = tempfile::NamedTempFile::new()?;
    let mut command = Command::new("node");
    command
        .arg(repo.join("bench/switch/run.mjs"))
        .args(["--participants", &params.participants.to_string()])
        .args(["--mesh-limit", &params.mesh_limit.to_string()])
        .args(["--hysteresis", &params.hysteresis.to_string()])
        .arg("--out")
        .arg(out.path())
        .env("MESH_BIN", mesh)
        .kill_on_drop(true);
    let status = tokio::time::timeout(RUN_TIMEOUT, command.status())
        .await
        .context("the browsers did not finish in time")?
        .context("cannot run node (Node.js is needed for the browser scenario)")?;
    if !status.success() {
        bail!("bench/switch/run.mjs failed ({status})");
    }
    let figures: Figures = serde_json::from_slice(&std::fs::read(out.path())?)
        .context("bench/switch/run.mjs wrote no figures")?;

    let mut system = SystemFigures::new("mesh");
    let worst = |values: &[f64]| values.iter().copied().fold(f64::NAN, f64::max);
    let first_mesh = worst(&figures.first_frame_ms_mesh);
    let first_sfu = worst(&figures.first_frame_ms_sfu);
    let gap_to_sfu = worst(&figures.switch_gap_ms_to_sfu);
    let gap_to_mesh = worst(&figures.switch_gap_ms_to_mesh);
    system.set("first_frame_ms_mesh", first_mesh);
    system.set("first_frame_ms_sfu", first_sfu);
    system.set("switch_gap_ms_to_sfu", gap_to_sfu);
    system.set("switch_gap_ms_to_mesh", gap_to_mesh);
    system.set("page_stall_ms_to_sfu", worst(&figures.page_stall_ms_to_sfu));
    system.set(
        "page_stall_ms_to_mesh",
        worst(&figures.page_stall_ms_to_mesh),
    );
    report.systems.push(system);
    report.target(
        format!("first remote frame under {TARGET_FIRST_FRAME_MS} ms in both modes"),
        first_mesh < TARGET_FIRST_FRAME_MS && first_sfu < TARGET_FIRST_FRAME_MS,
    );
    report.target(
        format!("switch gap under {TARGET_SWITCH_GAP_MS} ms both ways"),
        gap_to_sfu < TARGET_SWITCH_GAP_MS && gap_to_mesh < TARGET_SWITCH_GAP_MS,
    );
    report.notes.push(format!(
        "worst of each: first frames {:?} ms (mesh) and {:?} ms (sfu); one Chromium, \
         a page per person, fake 320x180 15 fps cameras; server and browsers unpinned",
        figures.first_frame_ms_mesh, figures.first_frame_ms_sfu
    ));
    Ok(report)
}

/// The repository this benchmark was built from (the browser half lives in it).
fn repo_root() -> anyhow::Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("bench/ has no parent")?
        .to_path_buf();
    if !root.join("web/dist/index.html").exists() {
        bail!("web/dist is missing: build the web client first (make web)");
    }
    Ok(root)
}
