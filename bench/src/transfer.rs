//! What every file transfer in the `agent` scenario is measured with, the
//! same way for Mesh and its peers: a test file, the wall time from starting
//! the command until the received file is verified and on disk, the CPU time
//! of every process that took part, and a check that what arrived is what
//! was sent.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::net::TcpStream;

use crate::report::{quantile, SystemFigures};

/// One completed transfer.
#[derive(Debug, Clone, Copy)]
pub struct Transfer {
    pub seconds: f64,
    /// CPU time of the sending and receiving processes (and of any server or
    /// relay that took part), user plus system.
    pub cpu_s: f64,
}

/// User plus system CPU time of this process's children that have ended and
/// been waited for (and of their own waited-for children). The delta around
/// a command covers it and everything it started, however short-lived.
pub fn ended_children_cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Forces a received file to disk. Mesh's receiver does this itself before
/// it reports the transfer done; scp and magic-wormhole do not, so the
/// benchmark does it for them inside their timing.
pub fn land(path: &Path) -> anyhow::Result<()> {
    std::fs::File::open(path)
        .and_then(|file| file.sync_all())
        .with_context(|| format!("cannot fsync {}", path.display()))
}

/// Writes `size` bytes that do not compress (xorshift), then fsyncs them so
/// the first transfer does not pay for their write-back.
pub fn write_test_file(path: &Path, size: u64) -> anyhow::Result<()> {
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        file.write_all(&block[..n])?;
        left -= n as u64;
    }
    file.into_inner()?.sync_all()?;
    Ok(())
}

/// BLAKE3 of a file's content.
pub fn digest(path: &Path) -> anyhow::Result<blake3::Hash> {
    let mut hasher = blake3::Hasher::new();
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    hasher.update_reader(std::io::BufReader::with_capacity(1 << 20, file))?;
    Ok(hasher.finalize())
}

/// Checks that `received` has the content of the file sent, then deletes it
/// and flushes the file system, so the next transfer starts from the same
/// state.
pub fn check_and_remove(received: &Path, sent: &blake3::Hash) -> anyhow::Result<()> {
    let got = digest(received)?;
    std::fs::remove_file(received)?;
    // SAFETY: sync takes no arguments.
    unsafe { libc::sync() };
    if got != *sent {
        bail!("{} arrived with different content", received.display());
    }
    Ok(())
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
pub async fn wait_for_port(port: u16, what: &str, limit: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{what} did not listen on 127.0.0.1:{port} within {limit:?}")
}

/// The figures of a system's transfers of `bytes` each.
pub fn figures(name: &'static str, bytes: u64, transfers: &[Transfer]) -> SystemFigures {
    let seconds = sorted_seconds(transfers);
    let mib = bytes as f64 / (1024.0 * 1024.0);
    let mut system = SystemFigures::new(name);
    system.set("runs", transfers.len() as f64);
    system.set("seconds_median", quantile(&seconds, 0.5));
    system.set("mib_per_s_median", median_mib_per_s(transfers, bytes));
    system.set("mib_per_s_best", mib / seconds[0]);
    system.set("mib_per_s_worst", mib / seconds[seconds.len() - 1]);
    // In run order: on a shared machine one slow run says more than a median.
    system.set_each("mib_per_s_each", transfers.iter().map(|t| mib / t.seconds));
    let cpu: f64 = transfers.iter().map(|t| t.cpu_s).sum::<f64>() / transfers.len() as f64;
    system.set("cpu_s_per_gib", cpu / (mib / 1024.0));
    system
}

/// Throughput of the median transfer.
pub fn median_mib_per_s(transfers: &[Transfer], bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / quantile(&sorted_seconds(transfers), 0.5)
}

fn sorted_seconds(transfers: &[Transfer]) -> Vec<f64> {
    let mut seconds: Vec<f64> = transfers.iter().map(|t| t.seconds).collect();
    seconds.sort_by(f64::total_cmp);
    seconds
}
