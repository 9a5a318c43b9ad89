//! `turn`: the relay under load. coturn's own load client,
//! `turnutils_uclient`, runs the same command line against Mesh's relay
//! (`mesh turn`), coturn's `turnserver` and turn-rs's `turn-server`, one
//! after the other in the same run: UDP, client-to-client (`-y`: every
//! session sends through its allocation to another session's allocation on
//! the same relay and gets the other's messages back through its own), the
//! only mode turn-rs supports.
//!
//! A message counts as relayed when a session got it back (uclient's
//! `tot_recv_msgs`): one datagram in from the sender and one out to the
//! receiver at the server, whatever the server does in between (Mesh and
//! turn-rs hand it between their own allocations in process; coturn sends it
//! over loopback from one relay socket to the other).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;

use crate::netns::Network;
use crate::process::pin_generator;
use crate::relay::{Relay, Settings, System};
use crate::report::{Report, SystemFigures};
use crate::turn_rs;
use crate::uclient::{self, Load, Outcome};

#[derive(clap::Args, Debug, Clone, serde::Serialize)]
pub struct Params {
    /// uclient sessions (`-m`), each relayed to another one.
    #[arg(long, default_value_t = 20)]
    clients: u32,
    /// Messages each session sends (`-n`).
    #[arg(long, default_value_t = 5_000)]
    messages: u32,
    /// Message size in bytes (`-l`).
    #[arg(long, default_value_t = 200)]
    size: u32,
    /// Milliseconds between a session's messages (`-z`; 0 sends as fast as
    /// uclient can).
    #[arg(long, default_value_t = 1)]
    interval_ms: u32,
    /// Runs of every relay, interleaved (mesh, coturn, turn-server, mesh,
    /// ...); figures are over all of them.
    #[arg(long, default_value_t = 1)]
    rounds: u32,
    /// coturn's `--relay-threads`. Its default is one per CPU, and it is
    /// given one CPU, as every relay is.
    #[arg(long, default_value_t = 1)]
    coturn_relay_threads: u32,
    /// Another `mesh` binary to measure in the same rounds as
    /// `mesh-baseline` (a build before a change, say).
    #[arg(long)]
    baseline_mesh: Option<PathBuf>,
    /// Measure Mesh without coturn.
    #[arg(long)]
    skip_coturn: bool,
    /// Measure without turn-rs (otherwise a full run installs it when missing).
    #[arg(long)]
    skip_turn_rs: bool,
    /// A few seconds with two sessions, to check the benchmark still works.
    /// turn-rs is measured only if already installed.
    #[arg(long)]
    #[serde(skip)]
    smoke: bool,
}

impl Params {
    /// Refuses what cannot run, before anything is installed or started.
    fn check(&self) -> anyhow::Result<()> {
        if self.clients < 2 || self.messages == 0 || self.rounds == 0 {
            bail!(
                "need at least two clients (they relay to each other), one message and one round"
            );
        }
        if !uclient::installed() {
            bail!(
                "{} is not installed: run `apt-get install coturn` (`make test` installs it)",
                uclient::BINARY
            );
        }
        Ok(())
    }

    fn effective(mut self) -> Params {
        if self.smoke {
            self.clients = 2;
            self.messages = 200;
            self.interval_ms = 5;
            self.rounds = 1;
        }
        self
    }

    fn load(&self, secret: String) -> Load {
        Load {
            clients: self.clients,
            messages: self.messages,
            size: self.size,
            interval_ms: self.interval_ms,
            secret,
        }
    }

    /// uclient waits up to 6 s before it starts and a few seconds for late
    /// replies; beyond that a run is stuck.
    fn run_limit(&self) -> Duration {
        let sending = u64::from(self.messages) * u64::from(self.interval_ms.max(1));
        Duration::from_secs(60) + Duration::from_millis(3 * sending)
    }
}

/// What happened about turn-rs before the run, which has to be settled
/// before the benchmark leaves the machine's network namespace.
pub enum TurnRs {
    Ready { installed_in: Option<Duration> },
    Skipped(String),
}

/// Checks the parameters, then installs turn-rs for a full run if it is
/// missing. A smoke run never installs it.
pub fn prepare(params: &Params) -> anyhow::Result<TurnRs> {
    params.clone().effective().check()?;
    Ok(turn_rs_status(params))
}

fn turn_rs_status(params: &Params) -> TurnRs {
    if params.skip_turn_rs {
        return TurnRs::Skipped("skipped (--skip-turn-rs)".into());
    }
    if turn_rs::installed() {
        return TurnRs::Ready { installed_in: None };
    }
    if params.smoke {
        return TurnRs::Skipped(format!(
            "skipped: not installed at {} (the full run installs it: cargo install --locked {} --version {})",
            turn_rs::binary().display(),
            turn_rs::CRATE,
            turn_rs::VERSION
        ));
    }
    match turn_rs::install() {
        Ok(took) => TurnRs::Ready {
            installed_in: Some(took),
        },
        Err(err) => TurnRs::Skipped(format!("could not be installed: {err:#}")),
    }
}

/// Figures of one relay, summed over its rounds.
#[derive(Default)]
struct Measurement {
    sent: u64,
    received: u64,
    lost: u64,
    server_drops: u64,
    generator_drops: u64,
    cpu_s: f64,
    generator_cpu_s: f64,
    seconds: f64,
    /// Over the sending windows only (see [`sending_window`]).
    window_s: f64,
    window_sent: u64,
    window_received: u64,
    window_cpu_s: f64,
}

impl Measurement {
    fn add(&mut self, outcome: &Outcome) {
        self.sent += outcome.sent;
        self.received += outcome.received;
        self.lost += outcome.lost;
        self.server_drops += outcome.server_drops;
        self.generator_drops += outcome.generator_drops;
        self.cpu_s += outcome.server_cpu_s;
        self.generator_cpu_s += outcome.generator_cpu_s;
        self.seconds += outcome.seconds;
        if let Some(window) = sending_window(outcome) {
            self.window_s += window.seconds;
            self.window_sent += window.sent;
            self.window_received += window.received;
            self.window_cpu_s += window.cpu_s;
        }
    }

    fn relayed_per_cpu_s(&self) -> f64 {
        self.received as f64 / self.cpu_s.max(f64::EPSILON)
    }

    fn pkts_out_per_s(&self) -> f64 {
        self.window_received as f64 / self.window_s.max(f64::EPSILON)
    }
}

struct Window {
    seconds: f64,
    sent: u64,
    received: u64,
    cpu_s: f64,
}

/// From uclient's last report before any message went out to its first
/// report with every message sent: the load at full rate, to the second
/// (uclient reports once a second).
fn sending_window(outcome: &Outcome) -> Option<Window> {
    let samples = &outcome.samples;
    let first = samples.iter().rposition(|s| s.sent == 0)?;
    let last = samples[first..]
        .iter()
        .position(|s| s.sent == outcome.sent)
        .map_or(samples.len() - 1, |i| first + i);
    let (a, b) = (samples[first], samples[last]);
    let seconds = (b.at - a.at).as_secs_f64();
    (seconds > 0.0).then(|| Window {
        seconds,
        sent: b.sent - a.sent,
        received: b.received - a.received,
        cpu_s: b.server_cpu_s - a.server_cpu_s,
    })
}

pub async fn run(
    mesh: &Path,
    params: Params,
    turn_rs: TurnRs,
    network: Network,
) -> anyhow::Result<Report> {
    let params = params.effective();
    let mut report = Report::new("turn", serde_json::to_value(&params)?);
    if params.smoke {
        report.notes.push(
            "smoke size: it proves every relay still runs under the load; its few hundred \
             packets and CPU ticks of 10 ms make its figures and target meaningless"
                .into(),
        );
    }
    let secret = random_secret()?;
    let load = params.load(secret.clone());
    report.notes.push(format!(
        "{}; load: `{}` (pinned), the same against every relay",
        pin_generator(),
        load.command_line()
    ));
    match network {
        Network::Private => report.notes.push(
            "everything ran in a private network namespace (loopback only to the outside)".into(),
        ),
        Network::Shared { why } => report.notes.push(format!(
            "ran in the machine's namespace on 127.0.0.1: {why}"
        )),
    }

    let mut systems = vec![System::Mesh];
    if params.baseline_mesh.is_some() {
        systems.push(System::MeshBaseline);
    }
    if params.skip_coturn {
        report.notes.push("coturn: skipped (--skip-coturn)".into());
    } else {
        systems.push(System::Coturn);
    }
    match turn_rs {
        TurnRs::Ready { installed_in } => {
            systems.push(System::TurnRs);
            if let Some(took) = installed_in {
                report.notes.push(format!(
                    "turn-server: installed by this run (cargo install --locked {} --version {}) in {:.0} s",
                    turn_rs::CRATE,
                    turn_rs::VERSION,
                    took.as_secs_f64()
                ));
            }
        }
        TurnRs::Skipped(why) => report.notes.push(format!("turn-server: {why}")),
    }

    let settings = Settings {
        mesh_binary: mesh,
        baseline_mesh_binary: params.baseline_mesh.as_deref(),
        secret: &secret,
        coturn_relay_threads: params.coturn_relay_threads,
    };
    let mut measured: Vec<(System, Measurement)> = systems
        .iter()
        .map(|system| (*system, Measurement::default()))
        .collect();
    let mut failed: Vec<(System, String)> = Vec::new();
    for round in 0..params.rounds {
        for (system, measurement) in measured.iter_mut() {
            if failed.iter().any(|(s, _)| s == system) {
                continue;
            }
            match run_once(*system, &settings, &load, &params).await {
                Ok(outcome) => {
                    println!(
                        "round {}: {} relayed {} of {} messages with {:.2} CPU-s",
                        round + 1,
                        system.name(),
                        outcome.received,
                        outcome.sent,
                        outcome.server_cpu_s
                    );
                    measurement.add(&outcome);
                }
                // Mesh failing is the benchmark failing; a peer failing is
                // reported and the others still measured.
                Err(err) if *system == System::Mesh => return Err(err),
                Err(err) => failed.push((*system, format!("{err:#}"))),
            }
        }
    }
    for (system, why) in &failed {
        report
            .notes
            .push(format!("{}: could not be measured: {why}", system.name()));
    }
    measured.retain(|(system, _)| !failed.iter().any(|(s, _)| s == system));

    for (system, measurement) in &measured {
        report.systems.push(figures(system.name(), measurement));
    }
    let mesh = &measured[0].1;
    for (system, peer) in &measured[1..] {
        let mut ratio = SystemFigures::new(match system {
            System::MeshBaseline => "mesh/mesh-baseline",
            System::Coturn => "mesh/coturn",
            _ => "mesh/turn-server",
        });
        ratio.set(
            "relayed_pkts_per_cpu_s",
            mesh.relayed_per_cpu_s() / peer.relayed_per_cpu_s(),
        );
        ratio.set(
            "pkts_out_per_s",
            mesh.pkts_out_per_s() / peer.pkts_out_per_s(),
        );
        ratio.set("cpu_s", mesh.cpu_s / peer.cpu_s);
        report.systems.push(ratio);
        if *system == System::Coturn {
            report.target(
                "Mesh ahead of coturn in relayed packets per server CPU-second",
                mesh.relayed_per_cpu_s() > peer.relayed_per_cpu_s(),
            );
        }
    }
    report.notes.push(
        "relayed = messages a session got back through the relay (one datagram in, one out at \
         the server); relayed_pkts_per_cpu_s and cpu_s cover each relay's whole runs, every \
         thread of its process (/proc utime + stime); rates and cpu_pct cover the seconds \
         uclient was sending; *_rcvbuf_drops_pct = datagrams the kernel dropped at the server's or \
         uclient's full receive buffers (/proc/net/udp), as a share of messages sent"
            .into(),
    );
    Ok(report)
}

async fn run_once(
    system: System,
    settings: &Settings<'_>,
    load: &Load,
    params: &Params,
) -> anyhow::Result<Outcome> {
    let relay = Relay::start(system, settings).await?;
    let outcome = uclient::run(load, relay.port, relay.pid(), params.run_limit()).await;
    relay.stop().await;
    outcome.map_err(|err| err.context(format!("{} under load", system.name())))
}

fn figures(name: &'static str, m: &Measurement) -> SystemFigures {
    let window = m.window_s.max(f64::EPSILON);
    let mut figures = SystemFigures::new(name);
    figures.set("relayed_pkts_per_cpu_s", m.relayed_per_cpu_s());
    figures.set("pkts_in_per_s", m.window_sent as f64 / window);
    figures.set("pkts_out_per_s", m.pkts_out_per_s());
    let share = |count: u64| 100.0 * count as f64 / m.sent.max(1) as f64;
    figures.set("loss_pct", share(m.lost));
    figures.set("server_rcvbuf_drops_pct", share(m.server_drops));
    figures.set("generator_rcvbuf_drops_pct", share(m.generator_drops));
    figures.set("cpu_s", m.cpu_s);
    figures.set("cpu_pct", 100.0 * m.window_cpu_s / window);
    figures.set("relayed_pkts", m.received as f64);
    figures.set("sent_pkts", m.sent as f64);
    figures.set("seconds", m.seconds);
    figures.set(
        "generator_cpu_pct",
        100.0 * m.generator_cpu_s / m.seconds.max(f64::EPSILON),
    );
    figures
}

/// A fresh TURN REST secret for the run, 32 hex digits.
fn random_secret() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uclient::Progress;
    use std::time::Instant;

    #[test]
    fn the_sending_window_runs_from_the_last_idle_report_to_the_last_message() {
        let start = Instant::now();
        let sample = |second: u64, sent: u64, received: u64| Progress {
            at: start + Duration::from_secs(second),
            sent,
            received,
            server_cpu_s: second as f64 / 10.0,
            server_drops: 0,
            generator_drops: 0,
        };
        let outcome = Outcome {
            samples: vec![
                sample(0, 0, 0),
                sample(1, 0, 0),
                sample(2, 500, 490),
                sample(3, 1000, 990),
                sample(4, 1000, 1000),
            ],
            sent: 1000,
            received: 1000,
            lost: 0,
            server_drops: 0,
            generator_drops: 0,
            server_cpu_s: 0.5,
            generator_cpu_s: 0.1,
            seconds: 5.0,
        };
        let window = sending_window(&outcome).unwrap();
        assert_eq!(window.seconds, 2.0);
        assert_eq!((window.sent, window.received), (1000, 990));
        assert!((window.cpu_s - 0.2).abs() < 1e-9);
    }
}
