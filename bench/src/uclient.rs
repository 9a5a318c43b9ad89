//! coturn's load client, `turnutils_uclient` (Debian `coturn`), as the relay
//! load generator: the same command line against every relay, pinned to the
//! generator CPU, its once-a-second progress read as it comes so the
//! server's CPU time can be sampled at the same moments.

use std::collections::HashSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

use crate::process::{cpu_seconds, GENERATOR_CPU};

pub const BINARY: &str = "turnutils_uclient";

/// Whether uclient is on `PATH` (without running it: it has no harmless
/// invocation).
pub fn installed() -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(BINARY).is_file())
}

/// One uclient run: `clients` sessions in client-to-client mode (`-y`, each
/// relayed to another session's allocation on the same server), UDP, no RTCP
/// sessions (`-c`), each sending `messages` of `size` bytes `interval_ms`
/// apart, authenticated with the TURN REST `secret`.
#[derive(Debug, Clone)]
pub struct Load {
    pub clients: u32,
    pub messages: u32,
    pub size: u32,
    pub interval_ms: u32,
    pub secret: String,
}

impl Load {
    /// uclient's arguments against a relay on 127.0.0.1:`port`.
    pub fn args(&self, port: u16) -> Vec<String> {
        let mut args: Vec<String> = ["-y", "-c", "-u", "bench", "-W", &self.secret]
            .iter()
            .map(|arg| arg.to_string())
            .collect();
        for (flag, value) in [
            ("-m", self.clients),
            ("-n", self.messages),
            ("-l", self.size),
            ("-z", self.interval_ms),
        ] {
            args.push(flag.into());
            args.push(value.to_string());
        }
        args.extend(["-p".into(), port.to_string(), "127.0.0.1".into()]);
        args
    }

    /// The command line as a reader would type it, secret left out.
    pub fn command_line(&self) -> String {
        let shown = self
            .args(0)
            .into_iter()
            .map(|arg| {
                if arg == self.secret {
                    "SECRET".into()
                } else {
                    arg
                }
            })
            .collect::<Vec<_>>();
        format!("{BINARY} {}", shown.join(" ")).replace("-p 0", "-p PORT")
    }
}

/// uclient's running totals at one moment, with the server's CPU time then.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub at: Instant,
    pub sent: u64,
    pub received: u64,
    pub server_cpu_s: f64,
    /// Datagrams the kernel dropped so far for want of room in the
    /// receive buffers of the server's sockets, and of uclient's.
    pub server_drops: u64,
    pub generator_drops: u64,
}

/// What a finished run reports.
#[derive(Debug)]
pub struct Outcome {
    pub samples: Vec<Progress>,
    /// Messages every session sent, and messages every session got back
    /// through the relay.
    pub sent: u64,
    pub received: u64,
    /// uclient's own count of messages that never arrived.
    pub lost: u64,
    /// Receive-buffer drops at the last report (see [`Progress`]).
    pub server_drops: u64,
    pub generator_drops: u64,
    pub server_cpu_s: f64,
    pub generator_cpu_s: f64,
    pub seconds: f64,
}

/// Runs `load` against the relay on 127.0.0.1:`port` whose process is
/// `server_pid`, for at most `limit`. uclient is killed if it runs over, or
/// if this future is dropped.
pub async fn run(
    load: &Load,
    port: u16,
    server_pid: u32,
    limit: Duration,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let cpu_before = cpu_seconds(server_pid)?;
    // `stdbuf -oL`: uclient's progress lines arrive as printed, not when a
    // pipe buffer fills.
    let mut child = Command::new("taskset")
        .arg("-c")
        .arg(GENERATOR_CPU.to_string())
        .args(["stdbuf", "-oL", BINARY])
        .args(load.args(port))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {BINARY} under taskset and stdbuf"))?;
    let pid = child.id().unwrap_or(0);
    let mut stderr = child.stderr.take().expect("piped stderr");
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let mut samples = Vec::new();
    let mut totals = None;
    let mut lost = None;
    let mut generator_cpu_s = 0.0;
    let mut transcript = Vec::new();
    let reading = async {
        while let Some(line) = lines.next_line().await? {
            if let Some((sent, received)) = progress(&line) {
                samples.push(Progress {
                    at: Instant::now(),
                    sent,
                    received,
                    server_cpu_s: cpu_seconds(server_pid)? - cpu_before,
                    server_drops: receive_drops(server_pid),
                    generator_drops: receive_drops(pid),
                });
                // uclient's own CPU, while it is still there to be read.
                generator_cpu_s = cpu_seconds(pid).unwrap_or(generator_cpu_s);
            } else if let Some(final_totals) = final_totals(&line) {
                totals = Some(final_totals);
            } else if let Some(count) = lost_packets(&line) {
                lost = Some(count);
            }
            transcript.push(line);
        }
        anyhow::Ok(())
    };
    match tokio::time::timeout(limit, reading).await {
        Ok(result) => result?,
        Err(_) => bail!("{BINARY} ran over {limit:?}; stopped"),
    }
    let status = child.wait().await?;
    let server_cpu_s = cpu_seconds(server_pid)? - cpu_before;
    let errors = errors.await.unwrap_or_default();
    let explain = || format!("{}\n{errors}", tail(&transcript));
    let (sent, received) = totals.with_context(|| {
        format!(
            "{BINARY} exited ({status}) without its totals:\n{}",
            explain()
        )
    })?;
    let lost = lost.with_context(|| format!("{BINARY} printed no loss report:\n{}", explain()))?;
    if received == 0 {
        bail!("nothing was relayed:\n{}", explain());
    }
    let last = samples.last();
    Ok(Outcome {
        sent,
        received,
        lost,
        server_drops: last.map_or(0, |s| s.server_drops),
        generator_drops: last.map_or(0, |s| s.generator_drops),
        samples,
        server_cpu_s,
        generator_cpu_s,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Receive-buffer drops on the UDP sockets process `pid` holds: the
/// `drops` column of `/proc/net/udp{,6}` (this namespace's sockets) for the
/// inodes among its file descriptors. 0 when it cannot be read.
fn receive_drops(pid: u32) -> u64 {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    let inodes: HashSet<String> = fds
        .filter_map(|fd| {
            let target = std::fs::read_link(fd.ok()?.path()).ok()?;
            let target = target.to_str()?;
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_owned(),
            )
        })
        .collect();
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .map(|table| socket_drops(&table, &inodes))
        .sum()
}

/// The summed `drops` of the rows of a `/proc/net/udp` table whose inode
/// (10th column) is in `inodes`.
fn socket_drops(table: &str, inodes: &HashSet<String>) -> u64 {
    table
        .lines()
        .skip(1) // the column headings
        .filter_map(|row| {
            let columns: Vec<&str> = row.split_whitespace().collect();
            inodes
                .contains(*columns.get(9)?)
                .then(|| columns.last()?.parse::<u64>().ok())?
        })
        .sum()
}

/// The totals of a progress line, `... start_mclient: msz=N,
/// tot_send_msgs=S, tot_recv_msgs=R, tot_send_bytes ~ ...`.
fn progress(line: &str) -> Option<(u64, u64)> {
    if !line.contains("msz=") {
        return None;
    }
    Some((
        field(line, "tot_send_msgs=")?,
        field(line, "tot_recv_msgs=")?,
    ))
}

/// The closing totals, `... start_mclient: tot_send_msgs=S, tot_recv_msgs=R`.
fn final_totals(line: &str) -> Option<(u64, u64)> {
    if line.contains("msz=") || line.contains("bytes") {
        return None;
    }
    Some((
        field(line, "tot_send_msgs=")?,
        field(line, "tot_recv_msgs=")?,
    ))
}

/// The N in `Total lost packets N (P%)`.
fn lost_packets(line: &str) -> Option<u64> {
    let after = line.split("Total lost packets").nth(1)?;
    after.split_whitespace().next()?.parse().ok()
}

/// The number after `name` in `line`, up to the next comma or space.
fn field(line: &str, name: &str) -> Option<u64> {
    let after = line.split(name).nth(1)?;
    after.split([',', ' ']).next()?.parse().ok()
}

fn tail(lines: &[String]) -> String {
    lines[lines.len().saturating_sub(10)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_uclient_progress_totals_and_loss() {
        let line = "3: : start_mclient: msz=10, tot_send_msgs=15000, tot_recv_msgs=13116, \
                    tot_send_bytes ~ 3000000, tot_recv_bytes ~ 2623200";
        assert_eq!(progress(line), Some((15000, 13116)));
        assert_eq!(final_totals(line), None);
        let closing = "16: : start_mclient: tot_send_msgs=50000, tot_recv_msgs=46437";
        assert_eq!(final_totals(closing), Some((50000, 46437)));
        assert_eq!(progress(closing), None);
        assert_eq!(
            final_totals(
                "16: : start_mclient: tot_send_bytes ~ 10000000, tot_recv_bytes ~ 9287400"
            ),
            None
        );
        let loss = "16: : Total lost packets 3563 (7.126000%), total send dropped 0 (0.000000%)";
        assert_eq!(lost_packets(loss), Some(3563));
    }

    #[test]
    fn drops_are_summed_over_the_given_sockets_only() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
             1: 0100007F:87D0 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 953396 2 0000000000000000 3906\n\
             2: 0100007F:C350 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 953397 2 0000000000000000 5\n\
             3: 0100007F:C351 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 953398 2 0000000000000000 7\n";
        let inodes: HashSet<String> = ["953396", "953398"].map(String::from).into();
        assert_eq!(socket_drops(table, &inodes), 3913);
        assert_eq!(socket_drops(table, &HashSet::new()), 0);
    }

    #[test]
    fn the_shown_command_line_hides_the_secret() {
        let load = Load {
            clients: 2,
            messages: 50,
            size: 200,
            interval_ms: 5,
            secret: "s3cret-of-some-length".into(),
        };
        assert_eq!(
            load.command_line(),
            "turnutils_uclient -y -c -u bench -W SECRET -m 2 -n 50 -l 200 -z 5 -p PORT 127.0.0.1"
        );
        assert!(load.args(3478).contains(&load.secret));
    }
}
