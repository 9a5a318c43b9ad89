//! `mesh`: the Mesh server binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mesh_server::config::{Config, LogFormat};
use mesh_server::relay;

/// mimalloc instead of glibc's allocator: the SFU allocates and frees a
/// buffer per forwarded packet, and glibc's malloc and free were a tenth of
/// its CPU time (`bench/README.md`, `sfu`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "mesh",
    version,
    about = "Mesh: self-hosted chat, calls and sharing for teams"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (HTTP API, WebSocket, web client).
    Serve {
        /// TOML configuration file; MESH_* environment variables override it.
        #[arg(long, short, env = "MESH_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Run only the TURN relay (on another machine, say), with the same secret.
    Turn {
        /// The same configuration `mesh serve` uses (its turn_* keys).
        #[arg(long, short, env = "MESH_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Check that a running server, its data and its media ports work as configured.
    Doctor {
        /// The same configuration `mesh serve` uses.
        #[arg(long, short, env = "MESH_CONFIG")]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    return_large_allocations_to_the_system();
    match Cli::parse().command {
        Command::Serve { config } => serve(config),
        Command::Doctor { config } => doctor(config),
        Command::Turn { config } => turn(config),
    }
}

fn serve(config: Option<PathBuf>) -> ExitCode {
    let Some(config) = load_config(config) else {
        return ExitCode::from(2);
    };
    init_logging(config.log_format);
    let runtime = tokio::runtime::Runtime::new().expect("cannot start the async runtime");
    match runtime.block_on(mesh_server::server::serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "mesh stopped");
            eprintln!("mesh: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn doctor(config: Option<PathBuf>) -> ExitCode {
    let Some(config) = load_config(config) else {
        return ExitCode::from(2);
    };
    let runtime = tokio::runtime::Runtime::new().expect("cannot start the async runtime");
    if runtime.block_on(mesh_server::doctor::run(&config)) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `mesh turn`: the relay alone. The secret must be the control server's:
/// the same `MESH_TURN_SECRET`, or a copy of its data directory's `turn.key`.
fn turn(config: Option<PathBuf>) -> ExitCode {
    let Some(config) = load_config(config) else {
        return ExitCode::from(2);
    };
    init_logging(config.log_format);
    let Some(settings) = &config.turn else {
        eprintln!("mesh: the TURN relay is disabled (MESH_TURN=false)");
        return ExitCode::from(2);
    };
    let public_ip = config.public_ip;
    let runtime = tokio::runtime::Runtime::new().expect("cannot start the async runtime");
    let result = runtime.block_on(async {
        let secret = relay::secret(settings, &config.data_dir)?;
        let turn_config = relay::turn_config(settings, secret, public_ip, None)?;
        mesh_turn::run(turn_config, mesh_server::server::wait_for_signal()).await?;
        anyhow::Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mesh turn: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(file: Option<PathBuf>) -> Option<Config> {
    match Config::load(file.as_deref(), |key| std::env::var(key).ok()) {
        Ok(config) => Some(config),
        Err(err) => {
            eprintln!("mesh: configuration error: {err:#}");
            None
        }
    }
}

/// glibc raises its mmap threshold after large blocks are freed, after which
/// each argon2 hash (19 MiB) lands in a per-thread arena that is never given
/// back: a burst of sign-ins would leave hundreds of MiB resident. A fixed
/// threshold keeps such blocks mmapped, so freeing them returns the memory.
fn return_large_allocations_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator tuning; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MESH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
