//! `mesh-bench`: bounded load runs against Mesh and, where one exists, the
//! peer system a self-hoster would pick instead, measured in the same run on
//! the same machine. Every scenario starts what it needs on loopback, stops
//! it again (also on failure), prints a table and can write a JSON report.
//!
//! Figures are per server CPU-second where that applies, so they do not
//! depend on how busy the load generator kept the other core.

mod agent;
mod agent_cli;
mod chat;
mod frames;
mod janus;
mod janus_api;
mod load;
mod mesh_client;
mod netns;
mod process;
mod reception;
mod relay;
mod report;
mod scp;
mod sfu;
mod switch;
mod synthetic;
mod terminal_echo;
mod transfer;
mod turn;
mod turn_rs;
mod uclient;
mod wormhole;

use std::future::Future;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use report::Report;

#[derive(Parser)]
#[command(name = "mesh-bench", about = "Load benchmarks for Mesh")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    /// Write the report as JSON to this file.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    /// The `mesh` binary to measure (default: next to this one).
    #[arg(long, global = true)]
    mesh: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Scenario {
    /// Control plane: WebSocket clients in rooms exchanging chat messages.
    Chat(chat::Params),
    /// Media plane: synthetic WebRTC clients publishing simulcast through
    /// the SFU, then the same load against Janus's VideoRoom.
    Sfu(sfu::Params),
    /// TURN relay: coturn's load client against Mesh's relay, coturn and
    /// turn-rs, client-to-client over UDP.
    Turn(turn::Params),
    /// The user's view of a growing call: headless Chromium participants
    /// join past the mesh limit and leave again.
    Switch(switch::Params),
    /// The desktop agent: file transfer throughput against scp and
    /// magic-wormhole, and a controller's keystroke-to-echo latency.
    Agent(agent::Params),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Built together with the whole workspace, reqwest gets rustls without a
    // crypto provider (another member asks for that feature), and would
    // panic building a client. Installing one is harmless otherwise.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mesh = cli.mesh.unwrap_or_else(process::sibling_mesh_binary);
    let report = match cli.scenario {
        Scenario::Chat(params) => run(chat::run(&mesh, params))?,
        Scenario::Sfu(params) => {
            // Before the runtime starts any thread (see `netns::isolate`).
            let network = netns::isolate()?;
            run(sfu::run(&mesh, params, network))?
        }
        Scenario::Turn(params) => {
            // Installing turn-rs needs crates.io: before the namespace.
            let turn_rs = turn::prepare(&params)?;
            let network = netns::isolate()?;
            run(turn::run(&mesh, params, turn_rs, network))?
        }
        Scenario::Switch(params) => {
            let network = netns::isolate()?;
            run(switch::run(&mesh, params, network))?
        }
        Scenario::Agent(params) => {
            let network = netns::isolate()?;
            run(agent::run(&mesh, params, network))?
        }
    };
    report.print();
    if let Some(path) = cli.json {
        report.write_json(&path)?;
        println!("report written to {}", path.display());
    }
    Ok(())
}

/// Runs a scenario on one worker thread. On Ctrl-C the scenario is dropped,
/// and with it every process it started (they are killed on drop) and every
/// temporary folder.
fn run(scenario: impl Future<Output = anyhow::Result<Report>>) -> anyhow::Result<Report> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        tokio::select! {
            report = scenario => report,
            _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
        }
    })
}
