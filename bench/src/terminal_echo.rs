//! Keystroke-to-echo latency of a controller in a shared terminal, as the
//! person typing sees it: `mesh-agent view` runs in a pseudo-terminal, is
//! granted control by the host with `mesh-agent control grant`, and gets
//! one keystroke at a time written to its terminal. The latency is from that
//! write until the character comes back on the viewer's terminal: viewer
//! agent, QUIC to the host agent, the host's shell echoing it, and back.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use portable_pty::{native_pty_system, Child, PtySize};
use tokio::sync::mpsc;

use crate::agent_cli::AgentHome;

/// The shell the host shares: bash with readline (it echoes what is typed
/// itself, as a person's shell does), no start-up files, no history file.
pub const SHELL: [&str; 5] = ["/bin/bash", "--norc", "--noprofile", "+o", "history"];
/// Characters typed on one line before it is cleared (Ctrl-U), so the line
/// never wraps and every echo is just the character.
const LINE: usize = 40;
const CLEAR_LINE: u8 = 0x15;
/// Ctrl-]: how a person leaves `mesh-agent view`.
const DETACH: u8 = 0x1d;
/// Typed before control is granted; the viewer prints no digits meanwhile.
const PROBE: u8 = b'7';
/// A person types a few keys per second at most; this pause between an echo
/// and the next key keeps the run short while never queueing keys.
const THINK: Duration = Duration::from_millis(10);
const ECHO_LIMIT: Duration = Duration::from_secs(2);
const SETUP_LIMIT: Duration = Duration::from_secs(30);

/// What the viewer's terminal printed, and when it was read.
type Output = mpsc::UnboundedReceiver<(Instant, Vec<u8>)>;

/// Types `keystrokes` keys into `host_device`'s shared terminal from
/// `viewer`'s agent, once `host` has granted it control; returns each key's
/// echo latency in milliseconds.
pub async fn measure(
    viewer: &AgentHome,
    host: &AgentHome,
    host_device: &str,
    keystrokes: usize,
) -> anyhow::Result<Vec<f64>> {
    let pty = native_pty_system().openpty(PtySize {
        rows: 24,
        cols: 80,
        pixel_width: 0,
        pixel_height: 0,
    })?;
    let child = pty.slave.spawn_command(viewer.view_command(host_device))?;
    let mut view = ViewProcess(child);
    drop(pty.slave);
    let mut keys = pty.master.take_writer()?;
    let mut output = read_on_a_thread(pty.master.try_clone_reader()?);

    let viewer_id = wait_for(&mut output, "its viewer id", viewer_id).await?;
    // A read-only viewer's keys are dropped by the host: if this one came
    // back, something local echoes and the figures would not be the host's.
    keys.write_all(&[PROBE])?;
    if wait_for_byte(&mut output, PROBE, Duration::from_millis(300))
        .await
        .is_ok()
    {
        bail!("a key was echoed before the host granted control: the echo is not the host's");
    }
    host.grant(viewer_id).await?;
    wait_for(&mut output, "you have control", |seen| {
        seen.contains("you have control").then_some(())
    })
    .await?;
    wait_for_quiet(&mut output, Duration::from_millis(300)).await?;

    let mut latencies = Vec::with_capacity(keystrokes);
    for index in 0..keystrokes {
        if index > 0 && index % LINE == 0 {
            keys.write_all(&[CLEAR_LINE])?;
            wait_for_quiet(&mut output, Duration::from_millis(50)).await?;
        }
        let key = b'a' + (index % 26) as u8;
        let typed = Instant::now();
        keys.write_all(&[key])?;
        keys.flush()?;
        let echoed = wait_for_byte(&mut output, key, ECHO_LIMIT)
            .await
            .with_context(|| format!("keystroke {index} (`{}`)", key as char))?;
        latencies.push(echoed.duration_since(typed).as_secs_f64() * 1000.0);
        tokio::time::sleep(THINK).await;
    }
    keys.write_all(&[DETACH])?;
    view.wait_or_kill(Duration::from_secs(5)).await;
    Ok(latencies)
}

/// The viewer process, killed if still there when dropped.
struct ViewProcess(Box<dyn Child + Send + Sync>);

impl ViewProcess {
    async fn wait_or_kill(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ViewProcess {
    fn drop(&mut self) {
        if !matches!(self.0.try_wait(), Ok(Some(_))) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Reads the terminal on its own thread (the reads block), stamping each
/// chunk the moment it is read. Ends when the terminal closes.
fn read_on_a_thread(mut reader: Box<dyn Read + Send>) -> Output {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buffer) {
            if n == 0 || tx.send((Instant::now(), buffer[..n].to_vec())).is_err() {
                break;
            }
        }
    });
    rx
}

/// The viewer id in "Watching ...'s terminal as viewer N", once N is complete.
fn viewer_id(seen: &str) -> Option<u64> {
    let rest = seen.split("as viewer ").nth(1)?;
    let digits = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..digits].parse().ok()
}

/// Reads the viewer's terminal until `found` finds what it looks for
/// (`what`) in everything printed so far.
async fn wait_for<T>(
    output: &mut Output,
    what: &str,
    found: impl Fn(&str) -> Option<T>,
) -> anyhow::Result<T> {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + SETUP_LIMIT;
    loop {
        match tokio::time::timeout_at(deadline, output.recv()).await {
            Ok(Some((_, chunk))) => {
                seen.push_str(&String::from_utf8_lossy(&chunk));
                if let Some(value) = found(&seen) {
                    return Ok(value);
                }
            }
            Ok(None) => bail!("mesh-agent view ended: {:?}", seen),
            Err(_) => bail!("mesh-agent view did not say {what} within {SETUP_LIMIT:?}: {seen:?}"),
        }
    }
}

/// When the chunk holding `key` was read.
async fn wait_for_byte(output: &mut Output, key: u8, limit: Duration) -> anyhow::Result<Instant> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, output.recv()).await {
            Ok(Some((at, chunk))) if chunk.contains(&key) => return Ok(at),
            Ok(Some(_)) => {}
            Ok(None) => bail!("mesh-agent view ended"),
            Err(_) => bail!("no echo within {limit:?}"),
        }
    }
}

/// Drops output until nothing has been printed for `quiet`.
async fn wait_for_quiet(output: &mut Output, quiet: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + SETUP_LIMIT;
    while Instant::now() < deadline {
        match tokio::time::timeout(quiet, output.recv()).await {
            Ok(Some(_)) => {}
            Ok(None) => bail!("mesh-agent view ended"),
            Err(_) => return Ok(()),
        }
    }
    bail!("the shared terminal kept printing for {SETUP_LIMIT:?}")
}

#[cfg(test)]
mod tests {
    use super::viewer_id;

    #[test]
    fn viewer_id_is_read_only_once_the_number_is_complete() {
        // stderr arrives in pieces: "as viewer 1" may be followed by "2 (".
        assert_eq!(
            viewer_id("path: direct\r\nWatching bench1's terminal as viewer "),
            None
        );
        assert_eq!(viewer_id("Watching bench1's terminal as viewer 1"), None);
        assert_eq!(
            viewer_id("Watching bench1's terminal as viewer 12 (read-only until"),
            Some(12)
        );
    }
}
