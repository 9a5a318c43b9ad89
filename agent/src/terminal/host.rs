//! The host side of a shared terminal.
//!
//! `portable-pty`'s reader blocks, so it runs on its own thread and feeds a
//! bounded channel; one task drains it into the catch-up buffer and the
//! broadcast every viewer (and the host's own screen) subscribes to, both
//! under one lock, so a viewer that joins gets the buffer and then exactly
//! the output that follows it.

use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use mesh_proto::{Capability, Scope};
use portable_pty::{CommandBuilder, MasterPty, PtySize};
use tokio::sync::{broadcast, mpsc, watch};

use crate::session::{Failure, Session};
use crate::transport::close;
use crate::wire::{self, Frame, Packet};

/// Output kept for viewers who join late: enough to repaint a screen.
const CATCH_UP_BYTES: usize = 256 * 1024;
/// PTY reads in flight between the reader thread and the fan-out task.
const READ_QUEUE: usize = 64;
/// Output chunks a viewer may fall behind before it is dropped.
const VIEWER_QUEUE: usize = 4096;

/// Who controls the terminal and its size, as viewers are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub controller: Option<u64>,
    pub cols: u16,
    pub rows: u16,
}

/// A viewer, as the host sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewerInfo {
    pub id: u64,
    pub username: String,
    pub device: String,
    /// Joined with the `terminal:control` scope: the host may grant control.
    pub may_control: bool,
    pub controlling: bool,
}

struct Viewer {
    username: String,
    device: String,
    may_control: bool,
    size: Option<(u16, u16)>,
}

struct State {
    screen: VecDeque<u8>,
    viewers: BTreeMap<u64, Viewer>,
    controller: Option<u64>,
    host_size: (u16, u16),
    size: (u16, u16),
    /// Joins, leaves, grants and revocations, in order.
    audit: Vec<String>,
}

pub struct TerminalHost {
    state: Mutex<State>,
    output: broadcast::Sender<Arc<[u8]>>,
    status: watch::Sender<Status>,
    ended: watch::Sender<bool>,
    writer: Mutex<Box<dyn Write + Send>>,
    master: Mutex<Box<dyn MasterPty + Send>>,
    next_viewer: AtomicU64,
}

impl TerminalHost {
    /// Starts `command` (default: `$SHELL`, else `/bin/sh`) in a new PTY.
    pub fn spawn(command: &[String], cols: u16, rows: u16) -> anyhow::Result<Arc<TerminalHost>> {
        let pair = portable_pty::native_pty_system().openpty(pty_size(cols, rows))?;
        let mut builder = match command.split_first() {
            Some((program, args)) => {
                let mut builder = CommandBuilder::new(program);
                builder.args(args);
                builder
            }
            None => {
                CommandBuilder::new(std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into()))
            }
        };
        if let Ok(dir) = std::env::current_dir() {
            builder.cwd(dir);
        }
        builder.env(
            "TERM",
            std::env::var("TERM").unwrap_or_else(|_| "xterm-256color".into()),
        );
        let mut child = pair.slave.spawn_command(builder)?;
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader()?;
        // Taken once and kept: dropping it would send EOF to the shell.
        let writer = pair.master.take_writer()?;
        let (status, _) = watch::channel(Status {
            controller: None,
            cols,
            rows,
        });
        let host = Arc::new(TerminalHost {
            state: Mutex::new(State {
                screen: VecDeque::with_capacity(CATCH_UP_BYTES),
                viewers: BTreeMap::new(),
                controller: None,
                host_size: (cols, rows),
                size: (cols, rows),
                audit: Vec::new(),
            }),
            output: broadcast::channel(VIEWER_QUEUE).0,
            status,
            ended: watch::channel(false).0,
            writer: Mutex::new(writer),
            master: Mutex::new(pair.master),
            next_viewer: AtomicU64::new(1),
        });

        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(READ_QUEUE);
        std::thread::Builder::new()
            .name("pty-reader".into())
            .spawn(move || {
                let mut buffer = [0u8; 16 * 1024];
                loop {
                    match reader.read(&mut buffer) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if tx.blocking_send(buffer[..n].to_vec()).is_err() {
                                break;
                            }
                        }
                    }
                }
            })?;
        std::thread::Builder::new()
            .name("pty-child".into())
            .spawn(move || {
                let _ = child.wait();
            })?;
        let pump = host.clone();
        tokio::spawn(async move {
            while let Some(bytes) = rx.recv().await {
                pump.publish(bytes);
            }
            tracing::info!("the shared terminal ended");
            pump.ended.send_replace(true);
        });
        Ok(host)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, bytes: Vec<u8>) {
        let mut state = self.lock();
        state.screen.extend(&bytes);
        let excess = state.screen.len().saturating_sub(CATCH_UP_BYTES);
        state.screen.drain(..excess);
        let _ = self.output.send(bytes.into());
    }

    /// The host's own view: everything output from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<[u8]>> {
        self.output.subscribe()
    }

    /// Resolves when the shell has exited.
    pub async fn ended(&self) {
        let mut ended = self.ended.subscribe();
        while !*ended.borrow_and_update() {
            if ended.changed().await.is_err() {
                break;
            }
        }
    }

    /// The host's own keyboard: always accepted.
    pub fn host_input(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        writer.write_all(bytes)?;
        writer.flush()
    }

    /// The host's window changed size: it applies while nobody has control.
    pub fn host_resized(&self, cols: u16, rows: u16) {
        let mut state = self.lock();
        state.host_size = (cols, rows);
        if state.controller.is_none() {
            self.apply_size(&mut state, (cols, rows));
        }
    }

    pub fn viewers(&self) -> Vec<ViewerInfo> {
        let state = self.lock();
        state
            .viewers
            .iter()
            .map(|(id, viewer)| ViewerInfo {
                id: *id,
                username: viewer.username.clone(),
                device: viewer.device.clone(),
                may_control: viewer.may_control,
                controlling: state.controller == Some(*id),
            })
            .collect()
    }

    pub fn controller(&self) -> Option<u64> {
        self.lock().controller
    }

    /// Every join, leave, grant and revocation so far.
    pub fn audit(&self) -> Vec<String> {
        self.lock().audit.clone()
    }

    /// Gives control to one viewer (taking it from whoever had it). Their
    /// window size becomes the terminal's.
    pub fn grant(&self, viewer: u64) -> Result<(), String> {
        let mut state = self.lock();
        let Some(info) = state.viewers.get(&viewer) else {
            return Err(format!("there is no viewer {viewer}"));
        };
        if !info.may_control {
            return Err(format!(
                "viewer {viewer} ({}) joined read-only and cannot be given control",
                info.username
            ));
        }
        let line = format!("control granted to viewer {viewer} ({})", info.username);
        let size = info.size.unwrap_or(state.host_size);
        state.controller = Some(viewer);
        self.record(&mut state, line);
        self.apply_size(&mut state, size);
        Ok(())
    }

    /// Takes control back. Returns who had it.
    pub fn revoke(&self) -> Option<u64> {
        let mut state = self.lock();
        let previous = state.controller.take()?;
        let name = state
            .viewers
            .get(&previous)
            .map(|v| v.username.clone())
            .unwrap_or_default();
        self.record(
            &mut state,
            format!("control revoked from viewer {previous} ({name})"),
        );
        let size = state.host_size;
        self.apply_size(&mut state, size);
        Some(previous)
    }

    fn record(&self, state: &mut State, line: String) {
        tracing::info!(target: "mesh_agent::terminal::audit", "{line}");
        state.audit.push(line);
    }

    fn apply_size(&self, state: &mut State, size: (u16, u16)) {
        state.size = size;
        let master = self.master.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(err) = master.resize(pty_size(size.0, size.1)) {
            tracing::warn!(error = %err, "cannot resize the terminal");
        }
        self.status.send_replace(Status {
            controller: state.controller,
            cols: size.0,
            rows: size.1,
        });
    }

    /// Keystrokes from a viewer: written only while it holds control, under
    /// the same lock as grants and revocations, so nothing slips in after a
    /// revocation. Returns whether they were written.
    fn viewer_input(&self, viewer: u64, bytes: &[u8]) -> std::io::Result<bool> {
        let state = self.lock();
        if state.controller != Some(viewer) {
            return Ok(false);
        }
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        writer.write_all(bytes)?;
        writer.flush()?;
        drop(state);
        Ok(true)
    }

    fn viewer_resized(&self, viewer: u64, cols: u16, rows: u16) {
        let mut state = self.lock();
        if let Some(info) = state.viewers.get_mut(&viewer) {
            info.size = Some((cols, rows));
        }
        if state.controller == Some(viewer) {
            self.apply_size(&mut state, (cols, rows));
        }
    }

    fn leave(&self, viewer: u64) {
        let mut state = self.lock();
        let Some(info) = state.viewers.remove(&viewer) else {
            return;
        };
        if state.controller == Some(viewer) {
            state.controller = None;
            self.record(
                &mut state,
                format!(
                    "control revoked from viewer {viewer} ({}): left",
                    info.username
                ),
            );
            let size = state.host_size;
            self.apply_size(&mut state, size);
        }
        self.record(
            &mut state,
            format!("viewer {viewer} ({}) left", info.username),
        );
    }

    /// Serves one viewer until it leaves or the shell exits. Returns its id.
    pub async fn serve_viewer(
        self: &Arc<Self>,
        session: Session,
        capability: &Capability,
    ) -> Result<u64, Failure> {
        let id = self.next_viewer.fetch_add(1, Ordering::Relaxed);
        let Session {
            connection,
            mut send,
            recv,
            ..
        } = session;
        let (snapshot, mut output, first) = {
            let mut state = self.lock();
            let requester = &capability.requester;
            state.viewers.insert(
                id,
                Viewer {
                    username: requester.username.clone(),
                    device: requester.name.clone(),
                    may_control: capability.scope == Scope::TerminalControl,
                    size: None,
                },
            );
            let line = format!(
                "viewer {id} ({} on {}) joined{}",
                requester.username,
                requester.name,
                if capability.scope == Scope::TerminalControl {
                    ""
                } else {
                    " read-only"
                }
            );
            self.record(&mut state, line);
            let screen: Vec<u8> = state.screen.iter().copied().collect();
            (screen, self.output.subscribe(), *self.status.borrow())
        };
        let mut status = self.status.subscribe();
        let mut ended = self.ended.subscribe();
        let mut input = spawn_input_reader(recv);
        let result = async {
            wire::write_frame(&mut send, &terminal_frame(id, first)).await?;
            wire::write_data(&mut send, &snapshot).await?;
            let mut told_read_only = false;
            loop {
                tokio::select! {
                    chunk = output.recv() => match chunk {
                        Ok(bytes) => wire::write_data(&mut send, &bytes).await?,
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            return Err(Failure::new(close::FAILED, "the viewer fell too far behind the terminal"));
                        }
                        Err(broadcast::error::RecvError::Closed) => return Ok(()),
                    },
                    changed = status.changed() => {
                        if changed.is_err() {
                            return Ok(());
                        }
                        let now = *status.borrow_and_update();
                        told_read_only = false;
                        wire::write_frame(&mut send, &terminal_frame(id, now)).await?;
                    }
                    packet = input.recv() => match packet {
                        None => return Ok(()),
                        Some(Err(failure)) => return Err(failure),
                        Some(Ok(Packet::Data(bytes))) => {
                            let written = self.viewer_input(id, &bytes).map_err(|err| {
                                Failure::new(close::FAILED, format!("cannot write to the terminal: {err}"))
                            })?;
                            if !written && !told_read_only {
                                told_read_only = true;
                                let message = "Read-only: the host has not given you control; your keys are ignored.".to_owned();
                                wire::write_frame(&mut send, &Frame::Notice { message }).await?;
                            }
                        }
                        Some(Ok(Packet::Frame(Frame::Resize { cols, rows }))) => {
                            self.viewer_resized(id, cols.max(1), rows.max(1));
                        }
                        Some(Ok(Packet::Frame(other))) => {
                            return Err(Failure::new(close::INVALID, format!("unexpected {other:?} from a viewer")));
                        }
                    },
                    changed = ended.changed() => {
                        if changed.is_err() || *ended.borrow() {
                            return Err(Failure::new(close::DONE, "the shared terminal ended"));
                        }
                    }
                }
            }
        }
        .await;
        self.leave(id);
        match result {
            Ok(()) => {
                connection.close(close::DONE.into(), b"bye");
                Ok(id)
            }
            Err(failure) => {
                failure.close(&connection);
                if failure.code == close::DONE || failure.remote {
                    Ok(id)
                } else {
                    Err(failure)
                }
            }
        }
    }
}

fn terminal_frame(viewer: u64, status: Status) -> Frame {
    Frame::Terminal {
        viewer,
        control: status.controller == Some(viewer),
        cols: status.cols,
        rows: status.rows,
    }
}

/// Reads a viewer's packets on their own task: a frame half-read must never
/// be abandoned by a `select!`.
fn spawn_input_reader(mut recv: quinn::RecvStream) -> mpsc::Receiver<Result<Packet, Failure>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let packet = match wire::read_packet(&mut recv).await {
                Ok(Some(packet)) => Ok(packet),
                Ok(None) => break,
                Err(err) => Err(Failure::from(err)),
            };
            let stop = packet.is_err();
            if tx.send(packet).await.is_err() || stop {
                break;
            }
        }
    });
    rx
}

fn pty_size(cols: u16, rows: u16) -> PtySize {
    PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}
