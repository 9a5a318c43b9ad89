//! The receiving side of a file transfer: validate, decide, verify every
//! chunk, and land the tree complete or not at all.

use std::collections::BTreeSet;
use std::io::Seek;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mesh_proto::Capability;

use super::disk::{ChunkWriter, DiskError};
use super::Policy;
use crate::chunks::{self, chunk_count, chunk_len, Hash, CHUNK_SIZE};
use crate::identity::unhex;
use crate::manifest::{EntryKind, Manifest};
use crate::progress::{size, Progress};
use crate::session::{Failure, Session};
use crate::transport::{self, close};
use crate::wire::{self, Frame, PeerError};

/// Staging folders are hidden beside the destination, named by manifest.
const STAGING_PREFIX: &str = ".mesh-incoming-";
/// Free space to leave on the disk beyond the transfer itself.
const SPACE_MARGIN: u64 = 64 * 1024 * 1024;
/// How long to wait for the sender to read `Done` and close.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// What arrived.
#[derive(Debug, Clone)]
pub struct Received {
    /// The top-level files and folders, where they landed.
    pub paths: Vec<PathBuf>,
    pub bytes_total: u64,
    /// File bytes that came over the wire in this attempt.
    pub bytes_received: u64,
}

/// Runs the receiving side of `session` into `inbox`. The connection is
/// closed with the failure when there is one.
pub async fn receive(
    session: Session,
    capability: &Capability,
    inbox: &Path,
    policy: &Policy,
    progress: Arc<Progress>,
) -> Result<Received, Failure> {
    let Session {
        connection,
        mut send,
        mut recv,
        ..
    } = session;
    let mut staging = None;
    let result = async {
        let manifest = offered_manifest(&connection, &mut recv).await?;
        let from = &capability.requester;
        let summary = summary(&manifest);
        if !policy.decide(from, &summary).await {
            return Err(Failure::new(
                close::DECLINED,
                "the receiver declined the transfer",
            ));
        }
        tracing::info!(from = %from.username, device = %from.name, %summary, "receiving");
        let area = Staging::prepare(inbox, &manifest).await?;
        staging = Some(area.root.clone());
        let have = area.resume_points(&manifest).await?;
        let held: u64 = manifest
            .entries
            .iter()
            .zip(&have)
            .map(|(entry, held)| match entry.kind {
                EntryKind::File { size, .. } => (held * CHUNK_SIZE).min(size),
                _ => 0,
            })
            .sum();
        let needed = manifest.total_bytes() - held;
        check_free_space(inbox, needed)?;
        progress.set_total(needed);
        wire::write_frame(&mut send, &Frame::Accept { have: have.clone() }).await?;

        let mut pending: BTreeSet<usize> = manifest
            .entries
            .iter()
            .enumerate()
            .filter(|(index, entry)| match entry.kind {
                EntryKind::File { size, .. } => have[*index] < chunk_count(size),
                _ => false,
            })
            .map(|(index, _)| index)
            .collect();
        while !pending.is_empty() {
            let mut stream = connection.accept_uni().await.map_err(PeerError::from)?;
            let (entry, first) = match wire::read_frame(&mut stream).await? {
                Frame::File { entry, first_chunk } => (entry as usize, first_chunk),
                other => {
                    return Err(Failure::new(
                        close::INVALID,
                        format!("expected a file header, got {other:?}"),
                    ))
                }
            };
            if !pending.remove(&entry) || first != have[entry] {
                return Err(Failure::new(
                    close::INVALID,
                    "the sender sent a file that was not asked for, or from the wrong place",
                ));
            }
            area.receive_file(&manifest, entry, first, &mut stream, &progress)
                .await?;
        }
        let landed = area.land(&manifest, inbox).await?;
        wire::write_frame(
            &mut send,
            &Frame::Done {
                bytes: progress.done(),
            },
        )
        .await?;
        let _ = send.finish();
        Ok(Received {
            paths: landed,
            bytes_total: manifest.total_bytes(),
            bytes_received: progress.done(),
        })
    }
    .await;
    match result {
        Ok(received) => {
            // The sender closes once it has read `Done`.
            let _ = tokio::time::timeout(CLOSE_WAIT, connection.closed()).await;
            Ok(received)
        }
        Err(failure) => {
            failure.close(&connection);
            // An interrupted transfer (or one this side could not finish,
            // such as a full disk) keeps its verified chunks for a retry; a
            // refused one leaves nothing behind.
            let refused = !failure.remote && failure.code != close::FAILED;
            if let (Some(root), true) = (staging, refused) {
                let _ = tokio::fs::remove_dir_all(root).await;
            }
            Err(failure)
        }
    }
}

async fn offered_manifest(
    connection: &quinn::Connection,
    recv: &mut quinn::RecvStream,
) -> Result<Manifest, Failure> {
    let (text, signature) = match wire::read_frame(recv).await? {
        Frame::Offer {
            manifest,
            signature,
        } => (manifest, signature),
        other => {
            return Err(Failure::new(
                close::INVALID,
                format!("expected an offer, got {other:?}"),
            ))
        }
    };
    let sender = transport::peer_certificate(connection)
        .ok_or_else(|| Failure::new(close::REFUSED, "the sender presented no certificate"))?;
    Manifest::open(&text, &signature, &sender)
        .map_err(|why| Failure::new(close::INVALID, format!("the offer is refused: {why}")))
}

/// `3 files in 1 folder (256.0 MiB): photos`
fn summary(manifest: &Manifest) -> String {
    let files = manifest
        .entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::File { .. }))
        .count();
    let top: Vec<&str> = manifest
        .entries
        .iter()
        .filter(|e| !e.path.contains('/'))
        .map(|e| e.path.as_str())
        .collect();
    format!(
        "{files} file{} ({}): {}",
        if files == 1 { "" } else { "s" },
        size(manifest.total_bytes()),
        top.join(", ")
    )
}

fn check_free_space(inbox: &Path, needed: u64) -> Result<(), Failure> {
    let free = free_space(inbox).map_err(|err| {
        Failure::new(
            close::FAILED,
            format!("cannot check free space in {}: {err}", inbox.display()),
        )
    })?;
    if needed.saturating_add(SPACE_MARGIN) > free {
        return Err(Failure::new(
            close::FAILED,
            format!(
                "not enough free space at the receiver: {} needed, {} free",
                size(needed),
                size(free)
            ),
        ));
    }
    Ok(())
}

fn free_space(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string and a statvfs the call fills in.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(stat.f_bavail as u64 * stat.f_frsize as u64)
}

/// `inbox/.mesh-incoming-<manifest id>/`: `tree/` holds the entries as they
/// arrive, `hashes/<entry>` each file's verified chunk list (for resuming).
struct Staging {
    root: PathBuf,
}

fn io_failure(what: &str, path: &Path, err: std::io::Error) -> Failure {
    Failure::new(
        close::FAILED,
        format!("the receiver cannot {what} {}: {err}", path.display()),
    )
}

impl Staging {
    async fn prepare(inbox: &Path, manifest: &Manifest) -> Result<Staging, Failure> {
        let root = inbox.join(format!("{STAGING_PREFIX}{}", manifest.id()));
        for dir in [root.join("tree"), root.join("hashes")] {
            tokio::fs::create_dir_all(&dir)
                .await
                .map_err(|err| io_failure("create", &dir, err))?;
        }
        for entry in &manifest.entries {
            if let EntryKind::Dir = entry.kind {
                let dir = root.join("tree").join(&entry.path);
                tokio::fs::create_dir_all(&dir)
                    .await
                    .map_err(|err| io_failure("create", &dir, err))?;
            }
        }
        Ok(Staging { root })
    }

    fn file_path(&self, manifest: &Manifest, entry: usize) -> PathBuf {
        self.root.join("tree").join(&manifest.entries[entry].path)
    }

    fn hashes_path(&self, entry: usize) -> PathBuf {
        self.root.join("hashes").join(entry.to_string())
    }

    /// For each entry, the chunks an earlier attempt already verified.
    async fn resume_points(&self, manifest: &Manifest) -> Result<Vec<u64>, Failure> {
        let mut have = vec![0; manifest.entries.len()];
        for (index, entry) in manifest.entries.iter().enumerate() {
            let EntryKind::File { size, root } = &entry.kind else {
                continue;
            };
            let Ok(list) = tokio::fs::read(self.hashes_path(index)).await else {
                continue;
            };
            let Some(hashes) = parse_hashes(&list, *size, root) else {
                continue;
            };
            let path = self.file_path(manifest, index);
            let size = *size;
            have[index] = tokio::task::spawn_blocking(move || {
                let good = chunks::verified_prefix(&path, size, &hashes)?;
                // Drop whatever follows the verified prefix.
                if let Ok(file) = std::fs::OpenOptions::new().write(true).open(&path) {
                    file.set_len((good * CHUNK_SIZE).min(size))?;
                }
                Ok::<_, std::io::Error>(good)
            })
            .await
            .map_err(|err| Failure::new(close::FAILED, err.to_string()))?
            .unwrap_or(0);
        }
        Ok(have)
    }

    async fn receive_file(
        &self,
        manifest: &Manifest,
        entry: usize,
        first: u64,
        stream: &mut quinn::RecvStream,
        progress: &Progress,
    ) -> Result<(), Failure> {
        let info = &manifest.entries[entry];
        let EntryKind::File { size, root } = &info.kind else {
            return Err(Failure::new(
                close::INVALID,
                "data sent for an entry that is not a file",
            ));
        };
        let size = *size;
        let count = chunk_count(size);
        let mut list = vec![0u8; count as usize * 32];
        stream
            .read_exact(&mut list)
            .await
            .map_err(PeerError::from)?;
        let hashes = parse_hashes(&list, size, root).ok_or_else(|| {
            Failure::new(
                close::INTEGRITY,
                format!(
                    "the chunk list of `{}` does not match its signed hash",
                    info.path
                ),
            )
        })?;
        let hashes_path = self.hashes_path(entry);
        tokio::fs::write(&hashes_path, &list)
            .await
            .map_err(|err| io_failure("write", &hashes_path, err))?;

        let path = self.file_path(manifest, entry);
        let open = {
            let path = path.clone();
            move || -> std::io::Result<std::fs::File> {
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)?;
                file.set_len(first * CHUNK_SIZE)?;
                file.seek(std::io::SeekFrom::Start(first * CHUNK_SIZE))?;
                Ok(file)
            }
        };
        let file = tokio::task::spawn_blocking(open)
            .await
            .map_err(|err| Failure::new(close::FAILED, err.to_string()))?
            .map_err(|err| io_failure("write", &path, err))?;
        // Chunks are verified and written on the disk thread while the next
        // ones arrive.
        let mut writer = ChunkWriter::start(file, hashes);
        let streamed = async {
            for index in first..count {
                let mut chunk = writer.buffer(chunk_len(size, index));
                stream
                    .read_exact(&mut chunk)
                    .await
                    .map_err(|err| match err {
                        quinn::ReadExactError::FinishedEarly(_) => Failure::new(
                            close::INVALID,
                            format!("the sender sent less of `{}` than its size says", info.path),
                        ),
                        other => PeerError::from(other).into(),
                    })?;
                let len = chunk.len() as u64;
                if !writer.write(index, chunk).await {
                    break;
                }
                progress.add(len);
            }
            Ok::<(), Failure>(())
        }
        .await;
        // Also when the stream failed: the disk thread finishes (and syncs)
        // what it was given before anything else touches the file, so an
        // interrupted transfer keeps its verified chunks for the next attempt.
        let written = writer.finish().await;
        streamed?;
        match written {
            Ok(()) => {}
            Err(DiskError::Mismatch(index)) => {
                return Err(Failure::new(
                    close::INTEGRITY,
                    format!(
                        "chunk {index} of `{}` failed verification; nothing was kept",
                        info.path
                    ),
                ))
            }
            Err(DiskError::Io(err)) => return Err(io_failure("write", &path, err)),
        }
        match stream.read(&mut [0u8; 1]).await.map_err(PeerError::from)? {
            None => {}
            Some(_) => {
                return Err(Failure::new(
                    close::INVALID,
                    format!("the sender sent more of `{}` than its size says", info.path),
                ))
            }
        }
        Ok(())
    }

    /// Creates the remaining entries, applies modes and times, then moves
    /// each top-level entry into the inbox (never over an existing name).
    async fn land(&self, manifest: &Manifest, inbox: &Path) -> Result<Vec<PathBuf>, Failure> {
        let tree = self.root.join("tree");
        let manifest = manifest.clone();
        let inbox = inbox.to_owned();
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || -> Result<Vec<PathBuf>, Failure> {
            let fail = |path: &Path, err: std::io::Error| io_failure("finish", path, err);
            for entry in &manifest.entries {
                let path = tree.join(&entry.path);
                match &entry.kind {
                    EntryKind::File { size: 0, .. } => {
                        std::fs::File::create(&path).map_err(|e| fail(&path, e))?;
                    }
                    EntryKind::Symlink { target } => {
                        let _ = std::fs::remove_file(&path);
                        std::os::unix::fs::symlink(target, &path).map_err(|e| fail(&path, e))?;
                    }
                    _ => {}
                }
            }
            // Children before parents, so setting a folder's time sticks.
            for entry in manifest.entries.iter().rev() {
                if matches!(entry.kind, EntryKind::Symlink { .. }) {
                    continue;
                }
                let path = tree.join(&entry.path);
                use std::os::unix::fs::PermissionsExt;
                let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(entry.mtime.max(0) as u64);
                let file = std::fs::File::open(&path).map_err(|e| fail(&path, e))?;
                file.set_modified(mtime).map_err(|e| fail(&path, e))?;
                std::fs::set_permissions(
                    &path,
                    std::fs::Permissions::from_mode(entry.mode & 0o777),
                )
                .map_err(|e| fail(&path, e))?;
            }
            let mut landed = Vec::new();
            for entry in manifest.entries.iter().filter(|e| !e.path.contains('/')) {
                let from = tree.join(&entry.path);
                let to = free_name(&inbox, &entry.path);
                std::fs::rename(&from, &to).map_err(|e| fail(&to, e))?;
                landed.push(to);
            }
            let _ = std::fs::remove_dir_all(&root);
            Ok(landed)
        })
        .await
        .map_err(|err| Failure::new(close::FAILED, err.to_string()))?
    }
}

/// The chunk list in `bytes`, if it has the right length and matches `root`.
fn parse_hashes(bytes: &[u8], size: u64, root: &str) -> Option<Vec<Hash>> {
    if bytes.len() as u64 != chunk_count(size) * 32 {
        return None;
    }
    let hashes: Vec<Hash> = bytes
        .chunks_exact(32)
        .map(|h| h.try_into().expect("32 bytes"))
        .collect();
    let expected = unhex(root)?;
    (chunks::root(size, &hashes)[..] == expected[..]).then_some(hashes)
}

/// `name`, or `name (2)`, `name (3)`, ... whichever does not exist yet.
fn free_name(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if std::fs::symlink_metadata(&first).is_err() {
        return first;
    }
    let (stem, extension) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    (2..)
        .map(|n| dir.join(format!("{stem} ({n}){extension}")))
        .find(|path| std::fs::symlink_metadata(path).is_err())
        .expect("some number is free")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn existing_names_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(free_name(dir.path(), "a.txt"), dir.path().join("a.txt"));
        std::fs::write(dir.path().join("a.txt"), b"").unwrap();
        assert_eq!(free_name(dir.path(), "a.txt"), dir.path().join("a (2).txt"));
        std::fs::create_dir(dir.path().join("photos")).unwrap();
        assert_eq!(
            free_name(dir.path(), "photos"),
            dir.path().join("photos (2)")
        );
    }
}
