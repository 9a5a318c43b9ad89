//! The sending side of a file transfer.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use std::io::Seek;

use super::disk::{ChunkReader, DiskError};
use crate::chunks::{chunk_count, CHUNK_SIZE};
use crate::identity::{hex, Identity};
use crate::manifest::{self, EntryKind};
use crate::progress::Progress;
use crate::session::{Failure, Session};
use crate::transport::close;
use crate::wire::{self, Frame, PeerError};

/// What a finished send moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReport {
    pub entries: usize,
    /// Size of every file in the manifest.
    pub bytes_total: u64,
    /// File bytes put on the wire in this attempt.
    pub bytes_sent: u64,
    /// File bytes the receiver already held, verified, from an earlier attempt.
    pub bytes_skipped: u64,
    pub elapsed: Duration,
}

/// Offers `paths` over `session` and sends what the receiver accepts.
pub async fn send(
    session: Session,
    identity: &Identity,
    paths: Vec<PathBuf>,
    progress: Arc<Progress>,
) -> anyhow::Result<SendReport> {
    let sender = identity.fingerprint().to_owned();
    let (manifest, sources) =
        tokio::task::spawn_blocking(move || manifest::build(&paths, &sender)).await??;
    let signed = manifest.sign(identity)?;
    let Session {
        connection,
        mut send,
        mut recv,
        ..
    } = session;
    let result = async {
        wire::write_frame(
            &mut send,
            &Frame::Offer {
                manifest: signed.text,
                signature: hex(&signed.signature),
            },
        )
        .await?;
        let have = match wire::read_frame(&mut recv).await? {
            Frame::Accept { have } if have.len() == manifest.entries.len() => have,
            other => {
                return Err(Failure::new(
                    close::INVALID,
                    format!("expected an acceptance, got {other:?}"),
                ))
            }
        };
        let mut bytes_skipped = 0;
        let mut todo = Vec::new();
        for (index, entry) in manifest.entries.iter().enumerate() {
            let EntryKind::File { size, .. } = entry.kind else {
                continue;
            };
            let count = chunk_count(size);
            let held = have[index];
            if held > count {
                return Err(Failure::new(
                    close::INVALID,
                    format!(
                        "the receiver claims more chunks of {} than exist",
                        entry.path
                    ),
                ));
            }
            bytes_skipped += (held * CHUNK_SIZE).min(size);
            if held < count {
                todo.push((index, size, held));
            }
        }
        progress.set_total(manifest.total_bytes() - bytes_skipped);
        for (index, size, first) in todo {
            let source = sources[index].as_ref().expect("file entries have a source");
            send_file(&connection, index as u32, size, first, source, &progress).await?;
        }
        match wire::read_frame(&mut recv).await? {
            Frame::Done { .. } => Ok(bytes_skipped),
            other => Err(Failure::new(
                close::INVALID,
                format!("expected the receiver to finish, got {other:?}"),
            )),
        }
    }
    .await;
    match result {
        Ok(bytes_skipped) => {
            connection.close(close::DONE.into(), b"done");
            Ok(SendReport {
                entries: manifest.entries.len(),
                bytes_total: manifest.total_bytes(),
                bytes_sent: progress.done(),
                bytes_skipped,
                elapsed: progress.elapsed(),
            })
        }
        Err(failure) => {
            failure.close(&connection);
            Err(failure.into())
        }
    }
}

async fn send_file(
    connection: &quinn::Connection,
    entry: u32,
    size: u64,
    first: u64,
    source: &manifest::Source,
    progress: &Progress,
) -> Result<(), Failure> {
    let mut stream = connection.open_uni().await.map_err(PeerError::from)?;
    wire::write_frame(
        &mut stream,
        &Frame::File {
            entry,
            first_chunk: first,
        },
    )
    .await?;
    let list: Vec<u8> = source.hashes.iter().flatten().copied().collect();
    stream.write_all(&list).await.map_err(PeerError::from)?;

    let unreadable = |err: std::io::Error| {
        Failure::new(
            close::FAILED,
            format!("the sender cannot read {}: {err}", source.path.display()),
        )
    };
    let open = {
        let path = source.path.clone();
        move || -> std::io::Result<std::fs::File> {
            let mut file = std::fs::File::open(path)?;
            file.seek(std::io::SeekFrom::Start(first * CHUNK_SIZE))?;
            Ok(file)
        }
    };
    let file = tokio::task::spawn_blocking(open)
        .await
        .map_err(|err| Failure::new(close::FAILED, err.to_string()))?
        .map_err(unreadable)?;
    // Chunks are read and checked on the disk thread while earlier ones are
    // on their way.
    let mut reader = ChunkReader::start(file, size, first, source.hashes.clone());
    while let Some(read) = reader.next().await {
        let chunk = match read {
            Ok(chunk) => chunk,
            Err(DiskError::Io(err)) => return Err(unreadable(err)),
            // Never send what no longer matches the signed manifest.
            Err(DiskError::Mismatch(_)) => {
                return Err(Failure::new(
                    close::FAILED,
                    format!(
                        "{} changed while it was being sent; send it again",
                        source.path.display()
                    ),
                ))
            }
        };
        stream.write_all(&chunk).await.map_err(PeerError::from)?;
        progress.add(chunk.len() as u64);
        reader.recycle(chunk);
    }
    stream
        .finish()
        .map_err(|_| Failure::new(close::FAILED, "the stream was closed early"))?;
    Ok(())
}
