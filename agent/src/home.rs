//! The agent's home: its device key and certificate, and what `login`
//! remembered (server, device, refresh token). Everything in it is readable
//! by its owner only.
//!
//! `$MESH_AGENT_HOME`, or `~/.config/mesh-agent` (`$XDG_CONFIG_HOME` respected).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

const STATE_FILE: &str = "state.json";
const LOCK_FILE: &str = "state.lock";

/// What `login` remembers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// The control server's base URL, e.g. `https://mesh.example.org`.
    pub server: String,
    pub username: String,
    pub user_id: i64,
    pub device_id: i64,
    /// Single use: replaced after every refresh (see [`Home::update_state`]).
    pub refresh_token: String,
}

#[derive(Debug, Clone)]
pub struct Home {
    dir: PathBuf,
}

impl Home {
    /// `$MESH_AGENT_HOME`, else `$XDG_CONFIG_HOME/mesh-agent`, else `~/.config/mesh-agent`.
    pub fn default_dir() -> anyhow::Result<PathBuf> {
        if let Some(dir) = std::env::var_os("MESH_AGENT_HOME") {
            return Ok(PathBuf::from(dir));
        }
        if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
            return Ok(PathBuf::from(dir).join("mesh-agent"));
        }
        let home = std::env::var_os("HOME").context("HOME is not set; set MESH_AGENT_HOME")?;
        Ok(PathBuf::from(home).join(".config").join("mesh-agent"))
    }

    /// Opens (creating if needed) the home at `dir`, restricted to its owner.
    pub fn open(dir: impl Into<PathBuf>) -> anyhow::Result<Home> {
        let dir = dir.into();
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", dir.display()))?;
        Ok(Home { dir })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn state(&self) -> anyhow::Result<State> {
        let path = self.path(STATE_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                bail!("this agent is not signed in: run `mesh-agent login --server URL` first")
            }
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        };
        serde_json::from_str(&text).with_context(|| format!("{} is damaged", path.display()))
    }

    pub fn save_state(&self, state: &State) -> anyhow::Result<()> {
        write_private(&self.path(STATE_FILE), &serde_json::to_vec_pretty(state)?)
    }

    /// Reads the state, lets `change` update it, and saves it, holding an
    /// exclusive lock throughout. Refresh tokens are single use and several
    /// agent processes (`run`, `send`) share one: without the lock two of them
    /// could present the same token, which the server treats as theft and
    /// answers by ending the session.
    pub async fn update_state<F, Fut>(&self, change: F) -> anyhow::Result<State>
    where
        F: FnOnce(State) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<State>>,
    {
        let lock = self.lock().await?;
        let state = change(self.state()?).await?;
        self.save_state(&state)?;
        drop(lock);
        Ok(state)
    }

    async fn lock(&self) -> anyhow::Result<FileLock> {
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(self.path(LOCK_FILE))?;
        let file = tokio::task::spawn_blocking(move || -> std::io::Result<fs::File> {
            use std::os::fd::AsRawFd;
            // SAFETY: flock on a descriptor we own; it is released when the file closes.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(file)
        })
        .await??;
        Ok(FileLock { _file: file })
    }
}

/// Held while the state is being updated; the lock ends with the file.
struct FileLock {
    _file: fs::File,
}

/// Writes `bytes` to `path` with mode 0600, replacing it atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let temp = path.with_extension("tmp");
    let _ = fs::remove_file(&temp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .with_context(|| format!("cannot write {}", temp.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&temp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
