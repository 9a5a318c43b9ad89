//! scp (Debian `openssh-client`) to a private `sshd` (Debian
//! `openssh-server`) on 127.0.0.1, set up as `/work/shared/PEERS.md` says:
//! its own host key, client key and `authorized_keys` in a temporary folder,
//! no password, PAM or logging, and a client told with `-F /dev/null` and
//! `-o` options to use none of `~/.ssh` or the system's known hosts.
//!
//! Every transfer starts its own `sshd` and stops it afterwards, so the CPU
//! time of the connection's processes (children of `sshd`, reaped by it) is
//! counted when `sshd` itself is waited for.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

use crate::process::{free_tcp_port, terminate};
use crate::transfer::{ended_children_cpu_seconds, land, Transfer};

const SSHD: &str = "/usr/sbin/sshd";
const SCP: &str = "/usr/bin/scp";
/// Debian's SFTP server, which its own `sshd_config` names; scp speaks SFTP
/// by default since OpenSSH 9.0.
const SFTP_SERVER: &str = "/usr/lib/openssh/sftp-server";
/// OpenSSH's privilege separation directory, which Debian creates only when
/// the service starts.
const PRIVSEP_DIR: &str = "/run/sshd";

/// Why scp cannot run here, if it cannot.
pub fn missing() -> Option<String> {
    [SSHD, SCP, SFTP_SERVER, "/usr/bin/ssh-keygen"]
        .iter()
        .find(|path| !Path::new(path).exists())
        .map(|path| {
            format!("{path} is missing (Debian packages openssh-server and openssh-client)")
        })
}

/// The keys and configuration of a throwaway `sshd`.
pub struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    user: String,
}

impl Sshd {
    pub fn prepare() -> anyhow::Result<Sshd> {
        let dir = tempfile::tempdir()?;
        let path = dir.path();
        for key in ["host_key", "client_key"] {
            let status = std::process::Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", ""])
                .arg("-f")
                .arg(path.join(key))
                .stdin(Stdio::null())
                .status()
                .context("cannot run ssh-keygen")?;
            if !status.success() {
                bail!("ssh-keygen could not make {key}");
            }
        }
        std::fs::copy(path.join("client_key.pub"), path.join("authorized_keys"))?;
        let port = free_tcp_port()?;
        let host_key = std::fs::read_to_string(path.join("host_key.pub"))?;
        std::fs::write(
            path.join("known_hosts"),
            format!("[127.0.0.1]:{port} {host_key}"),
        )?;
        let config = format!(
            "Port {port}\n\
             ListenAddress 127.0.0.1\n\
             HostKey {dir}/host_key\n\
             AuthorizedKeysFile {dir}/authorized_keys\n\
             PidFile {dir}/sshd.pid\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\n\
             UsePAM no\n\
             StrictModes no\n\
             LogLevel QUIET\n\
             Subsystem sftp {SFTP_SERVER}\n",
            dir = path.display()
        );
        std::fs::write(path.join("sshd_config"), config)?;
        if !Path::new(PRIVSEP_DIR).is_dir() {
            std::fs::create_dir_all(PRIVSEP_DIR).with_context(|| {
                format!("sshd needs {PRIVSEP_DIR}, which cannot be created without root")
            })?;
        }
        Ok(Sshd {
            dir,
            port,
            user: current_user()?,
        })
    }

    /// Copies `file` into `dest_dir` with `cipher` (None: OpenSSH's default)
    /// and returns the received file's path with the transfer's figures:
    /// from starting scp to the file being on disk, CPU of scp, ssh and
    /// every `sshd` process.
    pub async fn copy(
        &self,
        file: &Path,
        dest_dir: &Path,
        cipher: Option<&str>,
    ) -> anyhow::Result<(PathBuf, Transfer)> {
        let cpu_before = ended_children_cpu_seconds();
        let mut server = self.start().await?;
        let key = |name: &str| self.dir.path().join(name);
        let mut command = Command::new(SCP);
        command
            .args(["-q", "-F", "/dev/null", "-P", &self.port.to_string(), "-i"])
            .arg(key("client_key"))
            .args(["-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"])
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                key("known_hosts").display()
            ))
            .args([
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
            ]);
        if let Some(cipher) = cipher {
            command.args(["-c", cipher]);
        }
        command
            .arg(file)
            .arg(format!("{}@127.0.0.1:{}/", self.user, dest_dir.display()))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let started = Instant::now();
        let output = command.output().await.context("cannot run scp")?;
        if !output.status.success() {
            stop(&mut server).await;
            bail!(
                "scp failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let received = dest_dir.join(file.file_name().context("no file name")?);
        land(&received)?;
        let seconds = started.elapsed().as_secs_f64();
        stop(&mut server).await;
        let cpu_s = ended_children_cpu_seconds() - cpu_before;
        Ok((received, Transfer { seconds, cpu_s }))
    }

    /// Starts `sshd` and waits for its pid file, which it writes once it
    /// listens (a probe connection would leave a child of its own).
    async fn start(&self) -> anyhow::Result<Child> {
        let pid_file = self.dir.path().join("sshd.pid");
        let _ = std::fs::remove_file(&pid_file);
        let mut child = Command::new(SSHD)
            .arg("-D")
            .arg("-f")
            .arg(self.dir.path().join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start sshd")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pid_file.exists() {
            if let Some(status) = child.try_wait()? {
                let output = child.wait_with_output().await?;
                bail!(
                    "sshd exited ({status}): {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                );
            }
            if Instant::now() > deadline {
                bail!("sshd did not start within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(child)
    }
}

/// Stops `sshd` once it has reaped its connection's processes (so their CPU
/// time reaches this process when it is waited for), with SIGTERM as its
/// service does.
async fn stop(server: &mut Child) {
    if let Some(pid) = server.id() {
        let children = format!("/proc/{pid}/task/{pid}/children");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline
            && std::fs::read_to_string(&children).is_ok_and(|list| !list.trim().is_empty())
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    terminate(server).await;
}

fn current_user() -> anyhow::Result<String> {
    let output = std::process::Command::new("id").arg("-un").output()?;
    let user = String::from_utf8(output.stdout)?.trim().to_owned();
    if user.is_empty() {
        bail!("cannot tell which user this is (id -un)");
    }
    Ok(user)
}
