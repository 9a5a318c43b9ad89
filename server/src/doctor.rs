//! `mesh doctor`: checks, from the server's own machine, that what the
//! configuration promises works: the data directory and its secrets, the
//! HTTP endpoint, and that the media port answers at the advertised address
//! over UDP and TCP. Each check prints one line; the exit status says whether
//! all passed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use rand::RngCore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

use crate::config::{Config, TurnSettings};
use crate::relay;

const WAIT: Duration = Duration::from_secs(2);

/// Runs every check, printing as it goes. Returns whether all passed.
pub async fn run(config: &Config) -> bool {
    let mut all_ok = true;
    let mut report = |name: &str, result: anyhow::Result<String>| match result {
        Ok(detail) => println!("ok    {name}: {detail}"),
        Err(err) => {
            all_ok = false;
            println!("FAIL  {name}: {err:#}");
        }
    };

    report("data directory", check_data_dir(config));
    report("http", check_http(config).await);
    match &config.sfu {
        Some(sfu) => {
            let media = SocketAddr::new(sfu.public_ip, sfu.media_port);
            report(
                "media address",
                Ok(format!(
                    "browsers are given {media} (MESH_PUBLIC_IP, MESH_MEDIA_PORT)"
                )),
            );
            report("media udp", check_media_udp(media).await);
            report("media tcp", check_media_tcp(media).await);
        }
        None => report(
            "media",
            Ok("the SFU is disabled (MESH_SFU=false): every call is peer-to-peer".into()),
        ),
    }
    match &config.turn {
        Some(turn) => report("turn", check_turn(config, turn).await),
        None => report(
            "turn",
            Ok("the relay is disabled (MESH_TURN=false): browsers behind strict NATs cannot connect".into()),
        ),
    }
    all_ok
}

fn check_data_dir(config: &Config) -> anyhow::Result<String> {
    let dir = &config.data_dir;
    let mode = std::fs::metadata(dir)
        .with_context(|| {
            format!(
                "{} is missing: start `mesh serve` once to create it",
                dir.display()
            )
        })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        bail!(
            "{} is readable by others (mode {:o}); run `chmod 700 {}`",
            dir.display(),
            mode & 0o777,
            dir.display()
        );
    }
    let key = dir.join("token.key");
    let key_mode = std::fs::metadata(&key)
        .with_context(|| format!("{} is missing", key.display()))?
        .permissions()
        .mode();
    if key_mode & 0o077 != 0 {
        bail!(
            "{} is readable by others; run `chmod 600 {}`",
            key.display(),
            key.display()
        );
    }
    let db = rusqlite::Connection::open_with_flags(
        dir.join("mesh.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .context("cannot open the database")?;
    let schema: i64 = db.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    Ok(format!(
        "{} (owner-only), database schema {schema}",
        dir.display()
    ))
}

/// The address to reach the HTTP listener from this machine.
fn local_http_addr(config: &Config) -> SocketAddr {
    let addr = config.http_addr;
    if addr.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
    } else {
        addr
    }
}

async fn check_http(config: &Config) -> anyhow::Result<String> {
    let addr = local_http_addr(config);
    let started = Instant::now();
    let mut stream = timeout(WAIT, TcpStream::connect(addr))
        .await
        .with_context(|| format!("no answer from {addr}"))?
        .with_context(|| format!("nothing listens on {addr}: is `mesh serve` running?"))?;
    stream
        .write_all(
            format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut response = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .context("no HTTP answer")??;
    let response = String::from_utf8_lossy(&response);
    if !response.starts_with("HTTP/1.1 200") {
        bail!(
            "/healthz answered: {}",
            response.lines().next().unwrap_or_default()
        );
    }
    Ok(format!(
        "http://{addr}/healthz answered in {} ms",
        started.elapsed().as_millis()
    ))
}

/// A STUN Binding request (RFC 8489) with a random transaction id.
fn binding_request() -> ([u8; 20], [u8; 12]) {
    let mut transaction = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut transaction);
    let mut request = [0u8; 20];
    request[..2].copy_from_slice(&[0x00, 0x01]);
    request[4..8].copy_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
    request[8..].copy_from_slice(&transaction);
    (request, transaction)
}

fn is_binding_success(response: &[u8], transaction: &[u8; 12]) -> bool {
    response.len() >= 20 && response[..2] == [0x01, 0x01] && &response[8..20] == transaction
}

async fn check_media_udp(media: SocketAddr) -> anyhow::Result<String> {
    let bind: SocketAddr = if media.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()?;
    let socket = UdpSocket::bind(bind).await?;
    let (request, transaction) = binding_request();
    let mut buffer = [0u8; 512];
    for attempt in 1..=3 {
        let started = Instant::now();
        socket.send_to(&request, media).await?;
        if let Ok(Ok((len, _))) =
            timeout(Duration::from_millis(700), socket.recv_from(&mut buffer)).await
        {
            if is_binding_success(&buffer[..len], &transaction) {
                return Ok(format!(
                    "STUN answered in {} ms (attempt {attempt})",
                    started.elapsed().as_millis()
                ));
            }
        }
    }
    bail!(
        "no STUN answer from udp {media}: is the SFU running, and is UDP {} open in the firewall?",
        media.port()
    )
}

/// Allocates on the relay with credentials made from the server's own secret,
/// at the address browsers are given.
async fn check_turn(config: &Config, turn: &TurnSettings) -> anyhow::Result<String> {
    if turn.secret.is_none() && !config.data_dir.join("turn.key").exists() {
        bail!(
            "no TURN secret yet: start `mesh serve` once to generate it, or set MESH_TURN_SECRET"
        );
    }
    let secret = relay::secret(turn, &config.data_dir)?;
    let (username, password) = mesh_turn::credentials::issue(
        &secret,
        "mesh-doctor",
        SystemTime::now(),
        Duration::from_secs(60),
    );
    let server = SocketAddr::new(config.public_ip, turn.port);
    let started = Instant::now();
    let relayed = mesh_turn::probe::allocate(server, &username, &password, WAIT)
        .await
        .with_context(|| format!("allocating on turn:{server}"))?;
    Ok(format!(
        "turn:{server} allocated relay {relayed} in {} ms",
        started.elapsed().as_millis()
    ))
}

async fn check_media_tcp(media: SocketAddr) -> anyhow::Result<String> {
    let started = Instant::now();
    let mut stream = timeout(WAIT, TcpStream::connect(media))
        .await
        .with_context(|| format!("no answer from tcp {media}"))?
        .with_context(|| {
            format!(
                "cannot connect to tcp {media}: is TCP {} open in the firewall?",
                media.port()
            )
        })?;
    let (request, transaction) = binding_request();
    // ICE-TCP frames every message with a two-byte length (RFC 4571).
    stream
        .write_all(&(request.len() as u16).to_be_bytes())
        .await?;
    stream.write_all(&request).await?;
    let mut length = [0u8; 2];
    timeout(WAIT, stream.read_exact(&mut length))
        .await
        .context("no STUN answer over tcp")??;
    let mut response = vec![0u8; usize::from(u16::from_be_bytes(length))];
    timeout(WAIT, stream.read_exact(&mut response))
        .await
        .context("a truncated STUN answer")??;
    if !is_binding_success(&response, &transaction) {
        bail!("tcp {media} answered something that is not a STUN Binding success");
    }
    Ok(format!(
        "STUN answered in {} ms",
        started.elapsed().as_millis()
    ))
}
