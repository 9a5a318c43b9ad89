//! `mesh-bench`: bounded load runs against Mesh and, where one exists, the
//! peer system a self-hoster would pick instead, measured in the same run on
//! the same machine. Every scenario starts what it needs on loopback, stops
//! it again (also on failure), prints a table and can write a JSON report.
//!
//! Figures are per server CPU-second where that applies, so they do not
//! depend on how busy the load generator kept the other core.

mod chat;
mod process;
mod report;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mesh = cli.mesh.unwrap_or_else(process::sibling_mesh_binary);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        match cli.scenario {
            Scenario::Chat(params) => chat::run(&mesh, params).await,
        }
    })?;
    report.print();
    if let Some(path) = cli.json {
        report.write_json(&path)?;
        println!("report written to {}", path.display());
    }
    Ok(())
}
