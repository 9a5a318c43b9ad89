//! `mesh-agent`: the command line of the Mesh desktop agent.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use mesh_agent::agent::{self, Agent, Options};
use mesh_agent::control::{self, Control};
use mesh_agent::home::Home;
use mesh_agent::identity::Identity;
use mesh_agent::path::Dialer;
use mesh_agent::progress::{size, Progress};
use mesh_agent::terminal::host::TerminalHost;
use mesh_agent::terminal::view::Viewer;
use mesh_agent::transfer::{send, Policy};
use mesh_agent::transport::Congestion;
use mesh_proto::Scope;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

#[derive(Parser)]
#[command(
    name = "mesh-agent",
    version,
    about = "Send files and share terminals with your Mesh teammates, directly"
)]
struct Cli {
    /// The agent's folder (device key, sign-in). Default: ~/.config/mesh-agent.
    #[arg(long, env = "MESH_AGENT_HOME", global = true)]
    home: Option<PathBuf>,
    /// Congestion control for QUIC transfers.
    #[arg(long, value_enum, default_value_t = Congestion::Cubic, global = true)]
    congestion: Congestion,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in to a Mesh server and register this device.
    Login {
        /// The server's address, e.g. https://mesh.example.org
        #[arg(long)]
        server: String,
        /// Username or email (asked when absent).
        #[arg(long)]
        user: Option<String>,
        /// This device's name as teammates see it (default: the host name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Stay online and receive files.
    Run {
        #[command(flatten)]
        endpoint: EndpointArgs,
        /// Where received files go (default: ~/Downloads, or the agent folder's inbox).
        #[arg(long)]
        inbox: Option<PathBuf>,
        /// Accept files from this person without asking (repeatable; `*` for anyone in your rooms).
        #[arg(long = "accept-from")]
        accept_from: Vec<String>,
    },
    /// Send files or folders to a teammate's device (a username, device name or id).
    Send {
        to: String,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Share this terminal (or run a command in a shared terminal).
    Share {
        #[command(flatten)]
        endpoint: EndpointArgs,
        /// The command to run instead of your shell.
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Watch a teammate's shared terminal (a username, device name or id).
    View {
        device: String,
        /// Never ask for control.
        #[arg(long)]
        read_only: bool,
    },
    /// Manage the viewers of the terminal you are sharing.
    Control {
        #[command(subcommand)]
        action: ControlAction,
    },
    /// List the devices you can reach.
    Devices,
}

#[derive(clap::Args)]
struct EndpointArgs {
    /// Where the QUIC endpoint listens.
    #[arg(long, default_value = "0.0.0.0:0")]
    listen: SocketAddr,
    /// Announce these addresses instead of the interfaces' (repeatable).
    #[arg(long)]
    announce: Vec<SocketAddr>,
}

#[derive(Subcommand)]
enum ControlAction {
    /// Who is watching, and who has control.
    List,
    /// Let one viewer type (taking control from anyone else).
    Grant { viewer: u64 },
    /// Take control back.
    Revoke,
}

const SHARE_SOCKET: &str = "share.sock";
/// Ctrl-]: leaves `view`, as in telnet.
const DETACH: u8 = 0x1d;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MESH_AGENT_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mesh-agent: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let home = Home::open(match cli.home {
        Some(dir) => dir,
        None => Home::default_dir()?,
    })?;
    let congestion = cli.congestion;
    match cli.command {
        Command::Login { server, user, name } => login(&home, &server, user, name).await,
        Command::Run {
            endpoint,
            inbox,
            accept_from,
        } => {
            let inbox = match inbox {
                Some(inbox) => inbox,
                None => default_inbox(&home),
            };
            let options = options(&endpoint, inbox, accept_from, true, congestion);
            let agent = Agent::start(home, options).await?;
            eprintln!(
                "mesh-agent is online; receiving on {} into {}",
                agent.local_addr(),
                agent.inbox().display()
            );
            let online = agent.clone();
            tokio::spawn(async move { online.stay_online().await });
            tokio::spawn(print_events(agent.subscribe()));
            tokio::select! {
                _ = agent.serve() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            Ok(())
        }
        Command::Send { to, paths } => send_paths(&home, &to, paths, congestion).await,
        Command::Share { endpoint, command } => share(home, &endpoint, command, congestion).await,
        Command::View { device, read_only } => view(&home, &device, read_only, congestion).await,
        Command::Control { action } => control_share(&home, action).await,
        Command::Devices => {
            let control = Control::new(home.clone())?;
            let me = home.state()?.device_id;
            for device in control.shared_devices().await? {
                let mine = if device.id == me {
                    " (this device)"
                } else {
                    ""
                };
                println!(
                    "{:>5}  {:<16} {}{mine}",
                    device.id, device.username, device.name
                );
            }
            Ok(())
        }
    }
}

/// What `run` tells its person about incoming sessions.
async fn print_events(mut events: tokio::sync::broadcast::Receiver<agent::Event>) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(agent::Event::Received {
                from,
                paths,
                bytes_total,
                ..
            }) => {
                let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                eprintln!(
                    "received {} from {from}: {}",
                    size(bytes_total),
                    names.join(", ")
                );
            }
            Ok(agent::Event::Connected { from, path }) => {
                eprintln!("session from {from}, path: {path}")
            }
            Ok(agent::Event::Failed { message, .. }) => {
                eprintln!("an incoming session ended: {message}")
            }
            Ok(agent::Event::ViewerLeft { .. }) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => break,
        }
    }
}

/// `ask`: whether offers from people not in `accept_from` are asked about on
/// the terminal (not while it is shared: its keys belong to the shell then).
fn options(
    endpoint: &EndpointArgs,
    inbox: PathBuf,
    accept_from: Vec<String>,
    ask: bool,
    congestion: Congestion,
) -> Options {
    Options {
        listen: endpoint.listen,
        announce: endpoint.announce.clone(),
        inbox,
        policy: Policy { accept_from, ask },
        congestion,
        show_progress: ask,
    }
}

fn default_inbox(home: &Home) -> PathBuf {
    match std::env::var_os("HOME").map(PathBuf::from) {
        Some(user) if user.join("Downloads").is_dir() => user.join("Downloads"),
        _ => home.path("inbox"),
    }
}

async fn login(
    home: &Home,
    server: &str,
    user: Option<String>,
    name: Option<String>,
) -> anyhow::Result<()> {
    let user = match user {
        Some(user) => user,
        None => {
            eprint!("Username or email: ");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim().to_owned()
        }
    };
    let password = match std::env::var("MESH_AGENT_PASSWORD") {
        Ok(password) => password,
        Err(_) => rpassword::prompt_password("Password: ").context("cannot read the password")?,
    };
    let name = name.unwrap_or_else(host_name);
    let (state, device) = control::login(home, server, &user, &password, &name).await?;
    println!(
        "Signed in to {} as {}; this device is `{}` (id {}, fingerprint {}).",
        state.server, state.username, device.name, device.id, device.fingerprint
    );
    Ok(())
}

fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "desktop".into())
}

/// An endpoint for dialling out, on every interface, that knows its
/// candidate addresses.
async fn dialer(control: &Control) -> anyhow::Result<Dialer> {
    Dialer::new(control, SocketAddr::from(([0, 0, 0, 0], 0))).await
}

async fn send_paths(
    home: &Home,
    to: &str,
    paths: Vec<PathBuf>,
    congestion: Congestion,
) -> anyhow::Result<()> {
    for path in &paths {
        if std::fs::symlink_metadata(path).is_err() {
            bail!("{} does not exist", path.display());
        }
    }
    let state = home.state()?;
    let identity = Identity::load_or_create(home)?;
    let control = Control::new(home.clone())?;
    let target = agent::resolve(&control, state.device_id, to).await?;
    let dialer = dialer(&control).await?;
    eprintln!("sending to {} ({})...", target.username, target.name);
    let session = dialer
        .open(
            &control,
            &identity,
            state.device_id,
            &target,
            Scope::File,
            congestion,
        )
        .await?;
    eprintln!("path: {}", session.path);
    let path = session.path;
    let progress = Progress::new();
    let reporter = agent::spawn_reporter(progress.clone(), format!("to {}", target.username));
    let result = send::send(session, &identity, paths, progress).await;
    reporter.abort();
    let report = result?;
    let seconds = report.elapsed.as_secs_f64().max(1e-3);
    println!(
        "sent {} ({} bytes) to {} ({}) in {seconds:.1} s, {}/s; {} were already there; path: {path}",
        size(report.bytes_sent),
        report.bytes_sent,
        target.username,
        target.name,
        size((report.bytes_sent as f64 / seconds) as u64),
        size(report.bytes_skipped),
    );
    dialer.wait_idle().await;
    Ok(())
}

/// Puts the terminal in raw mode until dropped.
struct RawMode(Option<libc::termios>);

impl RawMode {
    fn enable() -> RawMode {
        if !std::io::stdin().is_terminal() {
            return RawMode(None);
        }
        // SAFETY: termios calls on standard input with a struct they fill in.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut saved) != 0 {
                return RawMode(None);
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            libc::tcsetattr(0, libc::TCSANOW, &raw);
            RawMode(Some(saved))
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            // SAFETY: restores what `enable` read.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, saved);
            }
        }
    }
}

fn window_size() -> (u16, u16) {
    // SAFETY: TIOCGWINSZ fills a winsize.
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        if libc::ioctl(1, libc::TIOCGWINSZ, &mut size) == 0 && size.ws_col > 0 {
            (size.ws_col, size.ws_row)
        } else {
            (80, 24)
        }
    }
}

/// Standard input, read on its own thread (it blocks), as a channel.
fn stdin_channel() -> tokio::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buffer = [0u8; 4096];
        let mut stdin = std::io::stdin();
        while let Ok(n) = stdin.read(&mut buffer) {
            if n == 0 || tx.blocking_send(buffer[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    rx
}

async fn share(
    home: Home,
    endpoint: &EndpointArgs,
    command: Vec<String>,
    congestion: Congestion,
) -> anyhow::Result<()> {
    let socket_path = home.path(SHARE_SOCKET);
    let options = options(
        endpoint,
        default_inbox(&home),
        Vec::new(),
        false,
        congestion,
    );
    let agent = Agent::start(home, options).await?;
    let (cols, rows) = window_size();
    let host = TerminalHost::spawn(&command, cols, rows)?;
    agent.share_terminal(host.clone());
    let serving = agent.clone();
    tokio::spawn(async move { serving.serve().await });
    let online = agent.clone();
    tokio::spawn(async move { online.stay_online().await });
    let mut events = agent.subscribe();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if let agent::Event::Connected { from, path } = event {
                eprint!("\r\n[mesh] {from} is watching, path: {path}\r\n");
            }
        }
    });

    let _ = std::fs::remove_file(&socket_path);
    let listener = tokio::net::UnixListener::bind(&socket_path)
        .with_context(|| format!("cannot create {}", socket_path.display()))?;
    let controlled = host.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let host = controlled.clone();
            tokio::spawn(async move { answer_control(stream, &host).await });
        }
    });

    eprintln!(
        "Sharing this terminal. Teammates watch with `mesh-agent view <your username or device>`;\r\n\
         give one of them control with `mesh-agent control grant <viewer>`, take it back with `mesh-agent control revoke`.\r"
    );
    let _raw = RawMode::enable();
    let mut output = host.subscribe();
    let mut input = stdin_channel();
    let mut resized =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())?;
    let mut stdout = tokio::io::stdout();
    loop {
        tokio::select! {
            chunk = output.recv() => match chunk {
                Ok(bytes) => { stdout.write_all(&bytes).await?; stdout.flush().await?; }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            },
            keys = input.recv() => match keys {
                Some(keys) => host.host_input(&keys)?,
                None => break,
            },
            _ = resized.recv() => {
                let (cols, rows) = window_size();
                host.host_resized(cols, rows);
            }
            _ = host.ended() => break,
        }
    }
    let _ = std::fs::remove_file(&socket_path);
    Ok(())
}

async fn answer_control(stream: tokio::net::UnixStream, host: &Arc<TerminalHost>) {
    let (read, mut write) = stream.into_split();
    let mut lines = tokio::io::BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut words = line.split_whitespace();
        let answer = match (words.next(), words.next().map(str::parse::<u64>)) {
            (Some("list"), _) => {
                let viewers = host.viewers();
                if viewers.is_empty() {
                    "nobody is watching\n".to_owned()
                } else {
                    viewers
                        .iter()
                        .map(|v| {
                            format!(
                                "{:>3}  {} on {}{}\n",
                                v.id,
                                v.username,
                                v.device,
                                if v.controlling {
                                    "  (has control)"
                                } else if v.may_control {
                                    ""
                                } else {
                                    "  (read-only)"
                                }
                            )
                        })
                        .collect()
                }
            }
            (Some("grant"), Some(Ok(viewer))) => match host.grant(viewer) {
                Ok(()) => format!("viewer {viewer} has control\n"),
                Err(err) => format!("error: {err}\n"),
            },
            (Some("revoke"), _) => match host.revoke() {
                Some(viewer) => format!("control taken back from viewer {viewer}\n"),
                None => "nobody had control\n".to_owned(),
            },
            _ => "error: say `list`, `grant <viewer>` or `revoke`\n".to_owned(),
        };
        if write.write_all(answer.as_bytes()).await.is_err() {
            break;
        }
        let _ = write.shutdown().await;
    }
}

async fn control_share(home: &Home, action: ControlAction) -> anyhow::Result<()> {
    let path = home.path(SHARE_SOCKET);
    let stream = tokio::net::UnixStream::connect(&path)
        .await
        .context("no terminal is being shared from this agent (start `mesh-agent share` first)")?;
    let (read, mut write) = stream.into_split();
    let request = match action {
        ControlAction::List => "list\n".to_owned(),
        ControlAction::Grant { viewer } => format!("grant {viewer}\n"),
        ControlAction::Revoke => "revoke\n".to_owned(),
    };
    write.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut tokio::io::BufReader::new(read), &mut answer)
        .await?;
    print!("{answer}");
    if answer.starts_with("error:") {
        bail!("{}", answer.trim_start_matches("error:").trim());
    }
    Ok(())
}

async fn view(
    home: &Home,
    device: &str,
    read_only: bool,
    congestion: Congestion,
) -> anyhow::Result<()> {
    let state = home.state()?;
    let identity = Identity::load_or_create(home)?;
    let control = Control::new(home.clone())?;
    let target = agent::resolve(&control, state.device_id, device).await?;
    let dialer = dialer(&control).await?;
    let scope = if read_only {
        Scope::TerminalView
    } else {
        Scope::TerminalControl
    };
    let session = dialer
        .open(
            &control,
            &identity,
            state.device_id,
            &target,
            scope,
            congestion,
        )
        .await?;
    eprintln!("path: {}\r", session.path);
    let mut viewer = Viewer::join(session).await?;
    eprintln!(
        "Watching {}'s terminal as viewer {} (read-only until they grant you control). Ctrl-] leaves.\r",
        target.username, viewer.id
    );
    let _raw = RawMode::enable();
    let (cols, rows) = window_size();
    viewer.resize(cols, rows).await?;
    let mut status = viewer.status();
    let mut input = stdin_channel();
    let mut stdout = std::io::stdout();
    loop {
        tokio::select! {
            chunk = viewer.output().recv() => match chunk {
                Some(bytes) => { stdout.write_all(&bytes)?; stdout.flush()?; }
                None => break,
            },
            keys = input.recv() => match keys {
                Some(keys) if keys.contains(&DETACH) => break,
                Some(keys) => viewer.input(&keys).await?,
                None => break,
            },
            changed = status.changed() => {
                if changed.is_err() { break; }
                let now = status.borrow_and_update().clone();
                if let Some(reason) = now.ended {
                    eprint!("\r\n[mesh] {reason}\r\n");
                    break;
                }
                let notice = if now.control { "you have control" } else { "read-only" };
                eprint!("\r\n[mesh] {notice}\r\n");
            }
        }
    }
    viewer.leave();
    dialer.wait_idle().await;
    Ok(())
}
