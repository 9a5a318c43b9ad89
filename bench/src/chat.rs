//! `chat`: the control plane under load. Many WebSocket clients, logged in
//! across rooms, exchange messages at a fixed total rate; every receiving
//! connection measures how long each message took from send to delivery.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Mutex};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::mesh_client::{connect as connect_ws, create_rooms, register_users};
use crate::process::{cpu_seconds, pin_generator, rss_kb, MeshServer};
use crate::report::{quantile, Report, SystemFigures};

#[derive(clap::Args, Debug, Clone, serde::Serialize)]
pub struct Params {
    /// WebSocket connections.
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Accounts the connections belong to (several tabs each).
    #[arg(long, default_value_t = 200)]
    users: usize,
    #[arg(long, default_value_t = 50)]
    rooms: usize,
    /// Messages per second, in total.
    #[arg(long, default_value_t = 500)]
    rate: u32,
    /// Length of the load, in seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// A few seconds with a few clients, to check the benchmark still works.
    #[arg(long)]
    #[serde(skip)]
    smoke: bool,
}

impl Params {
    fn effective(mut self) -> Params {
        if self.smoke {
            self.clients = 60;
            self.users = 20;
            self.rooms = 5;
            self.rate = 50;
            self.seconds = 2;
        }
        self
    }
}

const P99_TARGET_MS: f64 = 20.0;
const MEMORY_TARGET_KB: f64 = 50.0;

struct Client {
    room_id: i64,
    outgoing: mpsc::Sender<String>,
}

#[derive(Default)]
struct Tally {
    latencies_ms: Vec<f64>,
    acks: u64,
    errors: u64,
}

pub async fn run(mesh: &Path, params: Params) -> anyhow::Result<Report> {
    let params = params.effective();
    if params.users == 0 || params.rooms == 0 || params.clients < params.users.max(2) {
        bail!("need at least one user and one room, and two clients and as many as users");
    }
    let mut report = Report::new("chat", serde_json::to_value(&params)?);
    report.notes.push(pin_generator());
    let server = MeshServer::start(mesh, &[]).await?;
    let http = reqwest::Client::new();
    let accounts = async {
        let tokens = register_users(&http, &server.url, params.users).await?;
        let rooms = create_rooms(&http, &server.url, &tokens, params.rooms).await?;
        anyhow::Ok((tokens, rooms))
    }
    .await;
    let (tokens, rooms) = match accounts {
        Ok(accounts) => accounts,
        Err(error) => {
            server.stop().await;
            return Err(error);
        }
    };
    // The clients connect to a fresh process: the one that registered the
    // accounts holds what hashing their passwords (Argon2, 19 MiB each) left
    // to the allocator, which it gives back at its own pace — enough to make
    // the growth from any point to another negative.
    let server = server.restart(mesh, &[]).await?;
    let result = measure(&server, &params, &tokens, &rooms, &mut report).await;
    server.stop().await;
    result.map(|()| report)
}

async fn measure(
    server: &MeshServer,
    params: &Params,
    tokens: &[String],
    rooms: &[i64],
    report: &mut Report,
) -> anyhow::Result<()> {
    // What the first connections bring up once per process (runtime
    // workers' heaps, the hub's maps, the database's cache) is not a cost
    // per connection: memory is counted from the tenth connection on.
    let warm_up = (params.clients / 10).max(1);
    let mut rss_warm = None;

    let epoch = Instant::now();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut clients = Vec::with_capacity(params.clients);
    let mut tasks = Vec::with_capacity(params.clients);
    for index in 0..params.clients {
        if index == warm_up {
            tokio::time::sleep(Duration::from_secs(1)).await;
            rss_warm = Some(rss_kb(server.pid())?);
        }
        let user = index % params.users;
        let room_id = rooms[user % params.rooms];
        let (outgoing, task) = connect(&server.ws_url(), &tokens[user], epoch, tally.clone())
            .await
            .with_context(|| format!("client {index} could not connect"))?;
        clients.push(Client { room_id, outgoing });
        tasks.push(task);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = rss_kb(server.pid())?;
    let listeners_per_room: Vec<usize> = rooms
        .iter()
        .map(|room| clients.iter().filter(|c| c.room_id == *room).count())
        .collect();

    let cpu_before = cpu_seconds(server.pid())?;
    let started = Instant::now();
    let total = params.rate as u64 * params.seconds;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(params.rate)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut expected_deliveries = 0u64;
    for seq in 0..total {
        tick.tick().await;
        // Spread senders over all clients, in a fixed pseudo-random order.
        let client = &clients[(seq as usize * 7919) % clients.len()];
        let sent_at = epoch.elapsed().as_nanos();
        let frame = json!({"v": 1, "id": format!("m{seq}"), "type": "message.send",
            "payload": {"room_id": client.room_id, "client_id": format!("bench-{seq}"), "body": format!("t={sent_at}")}});
        client
            .outgoing
            .send(frame.to_string())
            .await
            .context("a client's connection ended")?;
        let room_index = rooms.iter().position(|r| *r == client.room_id).unwrap_or(0);
        expected_deliveries += listeners_per_room[room_index] as u64;
    }
    let load_seconds = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu = cpu_seconds(server.pid())? - cpu_before;
    drop(clients);
    for task in tasks {
        task.await?;
    }

    let mut tally = tally.lock().await;
    tally.latencies_ms.sort_by(f64::total_cmp);
    let delivered = tally.latencies_ms.len() as u64;
    let p50 = quantile(&tally.latencies_ms, 0.50);
    let p99 = quantile(&tally.latencies_ms, 0.99);
    let rss_warm = rss_warm.context("fewer connections than the warm-up")?;
    let memory_per_connection = (rss_idle - rss_warm) / (params.clients - warm_up) as f64;

    let mut mesh = SystemFigures::new("mesh");
    mesh.set("msgs_per_s", total as f64 / load_seconds);
    mesh.set("deliveries_per_s", delivered as f64 / load_seconds);
    mesh.set("fanout_p50_ms", p50);
    mesh.set("fanout_p99_ms", p99);
    mesh.set(
        "fanout_max_ms",
        tally.latencies_ms.last().copied().unwrap_or(f64::NAN),
    );
    mesh.set(
        "loss_pct",
        100.0 * (1.0 - delivered as f64 / expected_deliveries.max(1) as f64),
    );
    mesh.set("acks", tally.acks as f64);
    mesh.set("errors", tally.errors as f64);
    mesh.set("cpu_s", cpu);
    mesh.set(
        "deliveries_per_cpu_s",
        delivered as f64 / cpu.max(f64::EPSILON),
    );
    mesh.set("mem_per_conn_kb", memory_per_connection);
    mesh.set("rss_idle_mb", rss_idle / 1024.0);
    report.systems.push(mesh);
    report.target(
        format!(
            "fan-out p99 under {P99_TARGET_MS} ms at {} messages/s",
            params.rate
        ),
        p99 < P99_TARGET_MS,
    );
    report.target(
        format!("under {MEMORY_TARGET_KB} KB of server memory per idle connection"),
        memory_per_connection < MEMORY_TARGET_KB,
    );
    report.notes.push(
        "no peer system: the chat planes of Jitsi/Janus are not comparable; figures are Mesh's own"
            .into(),
    );
    if delivered == 0 || tally.errors > 0 {
        bail!(
            "{delivered} deliveries and {} errors: the run is not valid",
            tally.errors
        );
    }
    Ok(())
}

/// Opens one authenticated connection. Its task records the latency of every
/// message it receives until the returned sender is dropped.
async fn connect(
    url: &str,
    token: &str,
    epoch: Instant,
    tally: Arc<Mutex<Tally>>,
) -> anyhow::Result<(mpsc::Sender<String>, tokio::task::JoinHandle<()>)> {
    let (mut sink, mut source) = connect_ws(url, token).await?.split();
    let (tx, mut rx) = mpsc::channel::<String>(64);
    let task = tokio::spawn(async move {
        let mut latencies = Vec::new();
        let (mut acks, mut errors) = (0, 0);
        loop {
            tokio::select! {
                outgoing = rx.recv() => match outgoing {
                    Some(text) => if sink.send(WsMessage::Text(text.into())).await.is_err() { break },
                    None => break,
                },
                incoming = source.next() => match incoming {
                    Some(Ok(WsMessage::Text(text))) => {
                        let received_at = epoch.elapsed().as_nanos();
                        let Ok(frame) = serde_json::from_str::<Value>(&text) else { continue };
                        match frame["type"].as_str() {
                            Some("message.new") => {
                                let sent_at = frame["payload"]["body"].as_str()
                                    .and_then(|body| body.strip_prefix("t="))
                                    .and_then(|nanos| nanos.parse::<u128>().ok());
                                if let Some(sent_at) = sent_at {
                                    latencies.push(received_at.saturating_sub(sent_at) as f64 / 1e6);
                                }
                            }
                            Some("ack") => acks += 1,
                            Some("error") => errors += 1,
                            _ => {}
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => break,
                },
            }
        }
        let mut tally = tally.lock().await;
        tally.latencies_ms.extend(latencies);
        tally.acks += acks;
        tally.errors += errors;
    });
    Ok((tx, task))
}
