//! A private network namespace for a media run, so no datagram can leave
//! the machine whatever a server under test advertises.
//!
//! Inside, loopback is up and a veth pair (`bench0`, `bench1`, connected only
//! to each other) carries 127.0.0.1 as well. That second copy is for Janus:
//! 1.1.2 skips every interface flagged as loopback when it gathers ICE
//! candidates (`janus_ice_setup_local` in `src/ice.c`), and libnice then
//! falls back to the machine's real addresses, or fails where there are
//! none. On the veth, 127.0.0.1 is an ordinary interface address that Janus
//! gathers, while the kernel still delivers it locally.

use std::process::Command;

use anyhow::{bail, Context};

/// Where a run's sockets live.
pub enum Network {
    /// A namespace of this process's own, set up as above.
    Private,
    /// The machine's own namespace: loopback is still all Mesh uses, but
    /// Janus cannot be kept on it.
    Shared { why: String },
}

/// Moves this process into a new network namespace and sets it up. Must run
/// before any thread is started: the change applies to the calling thread
/// and whatever it starts afterwards. Without root, stays where it is; a
/// failure once inside is an error, as there is no way back.
pub fn isolate() -> anyhow::Result<Network> {
    // SAFETY: unshare takes no pointers; it only changes this thread's
    // namespace membership, and no other thread exists yet.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        let why = format!(
            "no private network namespace ({}; it needs root)",
            std::io::Error::last_os_error()
        );
        return Ok(Network::Shared { why });
    }
    for args in [
        "link set lo up",
        "link add bench0 type veth peer name bench1",
        "link set bench0 up",
        "link set bench1 up",
        "addr add 127.0.0.1/32 dev bench0",
    ] {
        let status = Command::new("ip")
            .args(args.split(' '))
            .status()
            .context("cannot run ip (iproute2)")?;
        if !status.success() {
            bail!("ip {args} failed in the private network namespace");
        }
    }
    Ok(Network::Private)
}
