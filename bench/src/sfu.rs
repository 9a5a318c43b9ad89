//! `sfu`: the media plane under load. Synthetic WebRTC clients (str0m, no
//! browser, no codec; see [`synthetic`](crate::synthetic)) join calls on a
//! `mesh` server whose rooms are set to the SFU topology. In every room,
//! publishers send Opus and three-layer VP8 simulcast and receive each
//! other; subscribers only receive. After a warm-up, a fixed window is
//! measured: the server's datagrams and CPU time, and what subscribers got
//! against what publishers sent.
//!
//! The same load from the same generator then runs against Janus's
//! VideoRoom, when Janus is installed, and Mesh's figures are set against
//! its. Both run inside the private network namespace `main` sets up (see
//! [`netns`](crate::netns)); without one, Janus is left out.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::frames::Stamp;
use crate::janus::{self, JanusServer};
use crate::janus_api;
use crate::load::Load;
use crate::mesh_client::{
    connect, create_rooms, join_call, register_users, relay_sfu_signals, set_call_topology,
    sfu_counters, SfuCounters,
};
use crate::netns::Network;
use crate::process::{cpu_seconds, pin_generator, MeshServer};
use crate::reception::{analyse, Receiver, Reception};
use crate::report::{Report, SystemFigures};
use crate::synthetic::{PeerRole, Traffic};

#[derive(clap::Args, Debug, Clone, serde::Serialize)]
pub struct Params {
    /// Calls, each in its own room.
    #[arg(long, default_value_t = 4)]
    rooms: usize,
    /// Participants per room that send audio and simulcast video (and
    /// receive each other).
    #[arg(long, default_value_t = 2)]
    publishers: usize,
    /// Participants per room that only receive.
    #[arg(long, default_value_t = 6)]
    subscribers: usize,
    /// Length of the measured window, in seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Seconds of load before the window, for bandwidth estimates and
    /// simulcast layers to settle.
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    /// Rounds, each measuring Mesh and then Janus; each system is reported
    /// by its median round, so that one slow moment of this shared machine
    /// does not decide the comparison.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Measure Mesh only.
    #[arg(long)]
    skip_janus: bool,
    /// A few seconds with a few clients, to check the benchmark still works.
    #[arg(long)]
    #[serde(skip)]
    smoke: bool,
}

impl Params {
    fn effective(mut self) -> Params {
        if self.smoke {
            self.rooms = 1;
            self.publishers = 2;
            self.subscribers = 2;
            self.seconds = 3;
            self.warmup = 0;
            self.rounds = 1;
        }
        self
    }

    /// Publishers are numbered across the whole run, room by room.
    fn publisher_id(&self, room: usize, seat: usize) -> u32 {
        (room * self.publishers + seat) as u32
    }

    fn room_publishers(&self, room: usize) -> Vec<u32> {
        (0..self.publishers)
            .map(|seat| self.publisher_id(room, seat))
            .collect()
    }
}

const FORWARDED_TARGET: f64 = 100_000.0;
/// How long every subscriber may take to receive its first frame of every
/// stream once all peers are set up.
const FLOW_TIMEOUT: Duration = Duration::from_secs(20);
/// Frames sent at the end of the window still arrive and count.
const DRAIN: Duration = Duration::from_millis(500);
/// Above this share of its core the generator may be what limits the load.
const GENERATOR_BUSY_PCT: f64 = 90.0;

/// Figures of one system over the measured window.
struct Measurement {
    seconds: f64,
    cpu_s: f64,
    generator_cpu_s: f64,
    /// Datagrams and bytes into and out of the server.
    server: SfuCounters,
    /// Datagrams the generator's sockets read from the server.
    generator_received: f64,
    reception: Reception,
}

pub async fn run(mesh: &Path, params: Params, network: Network) -> anyhow::Result<Report> {
    let params = params.effective();
    if params.rooms == 0 || params.publishers == 0 || params.seconds == 0 || params.rounds == 0 {
        bail!("need at least one room, one publisher, one second of load and one round");
    }
    let mut report = Report::new("sfu", serde_json::to_value(&params)?);
    report.notes.push(pin_generator());
    if let Network::Private = network {
        report.notes.push(
            "everything ran in a private network namespace: loopback, plus a veth pair that \
             also carries 127.0.0.1 because Janus gathers no candidates on loopback interfaces"
                .into(),
        );
    }

    let mut janus = if params.skip_janus {
        Err("skipped (--skip-janus)".to_owned())
    } else if !janus::installed() {
        Err("not installed (Debian package janus); Mesh measured alone".to_owned())
    } else if let Network::Shared { why } = &network {
        Err(format!(
            "not measured: {why}, and outside one Janus 1.1.2 would put media on the \
             machine's real addresses, as it never gathers candidates on loopback"
        ))
    } else {
        Ok(Vec::with_capacity(params.rounds))
    };
    let mut mesh_rounds = Vec::with_capacity(params.rounds);
    for _ in 0..params.rounds {
        mesh_rounds.push(run_mesh(mesh, &params).await?);
        if let Ok(rounds) = &mut janus {
            match run_janus(&params).await {
                Ok(measured) => rounds.push(measured),
                Err(err) => janus = Err(format!("could not be measured: {err:#}")),
            }
        }
    }
    if params.rounds > 1 {
        report.notes.push(format!(
            "{} rounds, Mesh then Janus in each; every system's figures are those of its median \
             round by forwarded packets per CPU-second, `_each` lists every round's",
            params.rounds
        ));
    }
    let (mesh, mesh_each) = median_round(mesh_rounds);
    report.systems.push(figures("mesh", &mesh, mesh_each));
    report.notes.push(format!(
        "mesh: datagrams from the SFU's counters at /metrics; the generator read {:.1} % of those it sent",
        100.0 * mesh.generator_received / mesh.server.packets_out.max(1.0)
    ));
    report.target(
        format!("≥ {FORWARDED_TARGET} forwarded packets per server CPU-second"),
        forwarded_per_cpu_s(&mesh) >= FORWARDED_TARGET,
    );

    match janus.map(median_round) {
        Ok((janus, janus_each)) => {
            report.systems.push(figures("janus", &janus, janus_each));
            let mut ratio = SystemFigures::new("mesh/janus");
            ratio.set(
                "forwarded_pkts_per_cpu_s",
                forwarded_per_cpu_s(&mesh) / forwarded_per_cpu_s(&janus),
            );
            ratio.set("cpu_s", mesh.cpu_s / janus.cpu_s);
            ratio.set(
                "pkts_out_per_s",
                mesh.server.packets_out / mesh.seconds / (janus.server.packets_out / janus.seconds),
            );
            report.systems.push(ratio);
            report.target(
                "ahead of Janus in forwarded packets per server CPU-second",
                forwarded_per_cpu_s(&mesh) > forwarded_per_cpu_s(&janus),
            );
            report.notes.push(
                "janus: VideoRoom 1.1.2 over its HTTP API; datagrams counted at the generator's \
                 sockets (Janus has no such counters without its admin API); each publisher \
                 receives the others over a second peer connection, as VideoRoom subscriptions \
                 are separate handles"
                    .into(),
            );
            push_generator_note(&mut report, "janus", &janus);
        }
        Err(why) => report.notes.push(format!("janus: {why}")),
    }
    push_generator_note(&mut report, "mesh", &mesh);
    Ok(report)
}

fn forwarded_per_cpu_s(measurement: &Measurement) -> f64 {
    measurement.server.packets_out / measurement.cpu_s.max(f64::EPSILON)
}

/// The round in the middle by forwarded packets per CPU-second (the higher
/// of the two middle ones of an even number), with every round's figure in
/// the order they ran.
fn median_round(mut rounds: Vec<Measurement>) -> (Measurement, Vec<f64>) {
    let each = rounds.iter().map(forwarded_per_cpu_s).collect();
    rounds.sort_by(|a, b| forwarded_per_cpu_s(a).total_cmp(&forwarded_per_cpu_s(b)));
    let middle = rounds.swap_remove(rounds.len() / 2);
    (middle, each)
}

/// A system's figures from its median round `m`, and the headline of each round.
fn figures(name: &'static str, m: &Measurement, each: Vec<f64>) -> SystemFigures {
    let per_s = |value: f64| value / m.seconds;
    let mut figures = SystemFigures::new(name);
    figures.set("forwarded_pkts_per_cpu_s", forwarded_per_cpu_s(m));
    figures.set_each("forwarded_pkts_per_cpu_s_each", each);
    figures.set("pkts_in_per_s", per_s(m.server.packets_in));
    figures.set("pkts_out_per_s", per_s(m.server.packets_out));
    figures.set("bytes_in_per_s", per_s(m.server.bytes_in));
    figures.set("bytes_out_per_s", per_s(m.server.bytes_out));
    figures.set("loss_pct", m.reception.loss_pct);
    figures.set("jitter_ms", m.reception.jitter_ms);
    figures.set("latency_p50_ms", m.reception.latency_p50_ms);
    figures.set("latency_p99_ms", m.reception.latency_p99_ms);
    figures.set("video_top_layer_pct", m.reception.top_layer_pct);
    figures.set("frames_expected", m.reception.expected as f64);
    figures.set("cpu_s", m.cpu_s);
    figures.set("cpu_pct", 100.0 * m.cpu_s / m.seconds);
    figures.set("generator_cpu_pct", 100.0 * m.generator_cpu_s / m.seconds);
    figures
}

fn push_generator_note(report: &mut Report, name: &str, m: &Measurement) {
    let busy = 100.0 * m.generator_cpu_s / m.seconds;
    if busy > GENERATOR_BUSY_PCT {
        report.notes.push(format!(
            "{name}: the generator used {busy:.0} % of its core: it may be what limits the load; use fewer rooms"
        ));
    }
}

async fn run_mesh(binary: &Path, params: &Params) -> anyhow::Result<Measurement> {
    let server = MeshServer::start(binary, &[]).await?;
    let result = load_mesh(&server, params).await;
    server.stop().await;
    result
}

/// One account per participant (user `u` in room `u % rooms`), one
/// WebSocket and one peer each; every room's owner sets it to the SFU.
async fn load_mesh(server: &MeshServer, params: &Params) -> anyhow::Result<Measurement> {
    let http = reqwest::Client::new();
    let per_room = params.publishers + params.subscribers;
    let tokens = register_users(&http, &server.url, params.rooms * per_room).await?;
    let rooms = create_rooms(&http, &server.url, &tokens, params.rooms).await?;
    for (owner, room_id) in rooms.iter().enumerate() {
        set_call_topology(&http, &server.url, &tokens[owner], *room_id, "sfu").await?;
    }
    let mut load = Load::new();
    for (user, token) in tokens.iter().enumerate() {
        let (room, seat) = (user % params.rooms, user / params.rooms);
        let publishes = (seat < params.publishers).then(|| params.publisher_id(room, seat));
        let expects = params
            .room_publishers(room)
            .into_iter()
            .filter(|publisher| Some(*publisher) != publishes)
            .collect();
        let mut ws = connect(&server.ws_url(), token).await?;
        join_call(&mut ws, rooms[room], publishes.is_some()).await?;
        let role = PeerRole {
            publishes,
            offers_first: true,
        };
        let link = load
            .add_peer(format!("mesh room {room} seat {seat}"), role, expects)
            .await?;
        load.add_signaling(tokio::spawn(relay_sfu_signals(ws, rooms[room], link)));
    }
    let counting = Counting::Metrics {
        http: &http,
        url: &server.url,
    };
    measure(load, server.pid(), counting, params).await
}

async fn run_janus(params: &Params) -> anyhow::Result<Measurement> {
    let server = JanusServer::start().await?;
    let result = load_janus(&server, params)
        .await
        .map_err(|err| err.context(format!("janus's log ends:\n{}", server.log_tail())));
    server.stop().await;
    result
}

/// Publishers first, since a subscription names feeds that must already
/// publish; then everyone who receives: the subscribers, and each
/// publisher's view of the others.
async fn load_janus(server: &JanusServer, params: &Params) -> anyhow::Result<Measurement> {
    let http = reqwest::Client::new();
    let room_id = |room: usize| 1000 + room as u64;
    let feed = |publisher: u32| u64::from(publisher) + 1;
    let mut admin = janus_api::Handle::attach(&http, &server.url).await?;
    for room in 0..params.rooms {
        janus_api::create_room(&mut admin, room_id(room), params.publishers).await?;
    }
    let mut load = Load::new();
    for room in 0..params.rooms {
        for publisher in params.room_publishers(room) {
            let role = PeerRole {
                publishes: Some(publisher),
                offers_first: true,
            };
            let name = format!("janus publisher {publisher}");
            let link = load.add_peer(name, role, Vec::new()).await?;
            let (handle, link) =
                janus_api::publish(&http, &server.url, room_id(room), feed(publisher), link)
                    .await?;
            load.add_signaling(tokio::spawn(janus_api::keep_alive(handle, link)));
        }
    }
    for room in 0..params.rooms {
        let publishers = params.room_publishers(room);
        let mut receivers: Vec<(String, Vec<u32>)> = publishers
            .iter()
            .map(|me| {
                let others = publishers.iter().copied().filter(|p| p != me).collect();
                (format!("janus publisher {me} view"), others)
            })
            .filter(|(_, others): &(String, Vec<u32>)| !others.is_empty())
            .collect();
        receivers.extend((0..params.subscribers).map(|seat| {
            (
                format!("janus room {room} subscriber {seat}"),
                publishers.clone(),
            )
        }));
        for (name, expects) in receivers {
            let feeds: Vec<u64> = expects.iter().map(|p| feed(*p)).collect();
            let role = PeerRole {
                publishes: None,
                offers_first: false,
            };
            let link = load.add_peer(name, role, expects).await?;
            let (handle, link) =
                janus_api::subscribe(&http, &server.url, room_id(room), &feeds, link).await?;
            load.add_signaling(tokio::spawn(janus_api::keep_alive(handle, link)));
        }
    }
    measure(load, server.pid(), Counting::AtGenerator, params).await
}

/// Where the server's datagram counts come from.
enum Counting<'a> {
    /// Mesh's own counters at `/metrics`.
    Metrics {
        http: &'a reqwest::Client,
        url: &'a str,
    },
    /// The generator's sockets: what they sent went in, what they read came out.
    AtGenerator,
}

struct Sample {
    at: Instant,
    cpu_s: f64,
    generator_cpu_s: f64,
    server: SfuCounters,
    generator_received: f64,
}

async fn sample(
    server_pid: u32,
    counting: &Counting<'_>,
    traffic: &Traffic,
) -> anyhow::Result<Sample> {
    let count = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed) as f64;
    let server = match counting {
        Counting::Metrics { http, url } => sfu_counters(http, url).await?,
        Counting::AtGenerator => SfuCounters {
            packets_in: count(&traffic.sent_packets),
            packets_out: count(&traffic.received_packets),
            bytes_in: count(&traffic.sent_bytes),
            bytes_out: count(&traffic.received_bytes),
        },
    };
    Ok(Sample {
        at: Instant::now(),
        cpu_s: cpu_seconds(server_pid)?,
        generator_cpu_s: cpu_seconds(std::process::id())?,
        server,
        generator_received: count(&traffic.received_packets),
    })
}

/// Waits for media to reach everyone, lets it settle, measures the window
/// and stops the peers.
async fn measure(
    mut load: Load,
    server_pid: u32,
    counting: Counting<'_>,
    params: &Params,
) -> anyhow::Result<Measurement> {
    load.wait_until_flowing(FLOW_TIMEOUT).await?;
    tokio::time::sleep(Duration::from_secs(params.warmup)).await;
    let traffic = load.traffic.clone();
    let before = sample(server_pid, &counting, &traffic).await?;
    tokio::time::sleep(Duration::from_secs(params.seconds)).await;
    let after = sample(server_pid, &counting, &traffic).await?;
    tokio::time::sleep(DRAIN).await;

    let nanos = |at: Instant| at.saturating_duration_since(load.epoch).as_nanos() as u64;
    let window = nanos(before.at)..nanos(after.at);
    let finished = load.finish().await?;
    let sent: Vec<Stamp> = finished
        .iter()
        .flat_map(|peer| peer.record.sent.iter().copied())
        .collect();
    let receivers: Vec<Receiver> = finished
        .iter()
        .filter(|peer| !peer.expects.is_empty())
        .map(|peer| Receiver {
            expects: &peer.expects,
            arrivals: &peer.record.received,
        })
        .collect();
    let reception = analyse(&sent, &receivers, window);
    if reception.received == 0 {
        bail!("no media arrived in the measured window");
    }
    Ok(Measurement {
        seconds: (after.at - before.at).as_secs_f64(),
        cpu_s: after.cpu_s - before.cpu_s,
        generator_cpu_s: after.generator_cpu_s - before.generator_cpu_s,
        server: after.server - before.server,
        generator_received: after.generator_received - before.generator_received,
        reception,
    })
}
