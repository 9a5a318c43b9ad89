//! The synthetic peers of one measured run and their signaling tasks:
//! started, watched until every subscriber receives every stream it should,
//! and stopped together.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::synthetic::{self, Peer, PeerRecord, PeerRole, ServerLink, Traffic};

struct RunningPeer {
    name: String,
    /// Publishers whose audio and video this peer should receive.
    expects: Vec<u32>,
    streams_seen: Arc<AtomicUsize>,
    task: JoinHandle<anyhow::Result<PeerRecord>>,
}

/// What one peer sent and received, with what it should have received.
pub struct Finished {
    pub expects: Vec<u32>,
    pub record: PeerRecord,
}

pub struct Load {
    /// The clock every stamp is relative to.
    pub epoch: Instant,
    pub traffic: Arc<Traffic>,
    stop: watch::Sender<bool>,
    peers: Vec<RunningPeer>,
    signaling: Vec<JoinHandle<anyhow::Result<()>>>,
}

impl Load {
    pub fn new() -> Load {
        Load {
            epoch: Instant::now(),
            traffic: Arc::default(),
            stop: watch::channel(false).0,
            peers: Vec::new(),
            signaling: Vec::new(),
        }
    }

    /// Starts a peer; returns the end of its signaling link that the
    /// system's signaling task holds.
    pub async fn add_peer(
        &mut self,
        name: String,
        role: PeerRole,
        expects: Vec<u32>,
    ) -> anyhow::Result<ServerLink> {
        let peer = Peer::new(name.clone(), role, self.epoch, self.traffic.clone()).await?;
        let streams_seen = peer.streams_seen.clone();
        let (peer_link, server_link) = synthetic::link();
        let task = tokio::spawn(peer.run(peer_link, self.stop.subscribe()));
        self.peers.push(RunningPeer {
            name,
            expects,
            streams_seen,
            task,
        });
        Ok(server_link)
    }

    pub fn add_signaling(&mut self, task: JoinHandle<anyhow::Result<()>>) {
        self.signaling.push(task);
    }

    /// Waits until every peer has received audio and video from every
    /// publisher it expects, failing with the first error of a peer or a
    /// signaling task, or after `limit`.
    pub async fn wait_until_flowing(&mut self, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            let mut index = 0;
            while index < self.signaling.len() {
                if self.signaling[index].is_finished() {
                    self.signaling.swap_remove(index).await??;
                } else {
                    index += 1;
                }
            }
            if let Some(peer) = self.peers.iter_mut().find(|p| p.task.is_finished()) {
                (&mut peer.task).await??;
                bail!("{} stopped early", peer.name);
            }
            let missing: Vec<String> = self
                .peers
                .iter()
                .filter_map(|peer| {
                    let seen = peer.streams_seen.load(Ordering::Relaxed);
                    let wanted = 2 * peer.expects.len();
                    (seen < wanted).then(|| format!("{} {seen}/{wanted}", peer.name))
                })
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "media did not reach every subscriber within {limit:?}; streams received: {}",
                    missing.join(", ")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops every peer and signaling task; returns what the peers recorded.
    pub async fn finish(self) -> anyhow::Result<Vec<Finished>> {
        let _ = self.stop.send(true);
        let mut finished = Vec::with_capacity(self.peers.len());
        for peer in self.peers {
            let record = peer
                .task
                .await?
                .with_context(|| format!("{} failed", peer.name))?;
            finished.push(Finished {
                expects: peer.expects,
                record,
            });
        }
        // With their peers gone, signaling tasks end on their own (Mesh's
        // leave the call); a long poll to Janus is cut short.
        for mut task in self.signaling {
            match tokio::time::timeout(Duration::from_secs(2), &mut task).await {
                Ok(outcome) => outcome??,
                Err(_) => task.abort(),
            }
        }
        Ok(finished)
    }
}
