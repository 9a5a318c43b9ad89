//! A file's disk work on a thread of its own, a few chunks ahead of (when
//! sending) or behind (when receiving) the QUIC stream. Done in line,
//! hashing and reading or writing each 1 MiB chunk stopped the stream every
//! time, and tokio's file I/O added a copy of every chunk on top.
//!
//! Chunk buffers go round between the two sides, so a transfer allocates a
//! handful of them whatever its size.

use std::fs::File;
use std::io::{self, Read, Write};

use tokio::sync::mpsc;

use crate::chunks::{self, chunk_count, chunk_len, Hash};

/// Chunks in flight between the stream and the disk thread.
const DEPTH: usize = 4;

/// Why a file's disk work stopped.
#[derive(Debug)]
pub enum DiskError {
    /// This chunk does not match its hash: nothing of it was written (when
    /// receiving), or the file changed since it was offered (when sending).
    Mismatch(u64),
    Io(io::Error),
}

/// Verifies received chunks against their hashes and writes them, in order,
/// from the file's current position; syncs the file at the end.
pub struct ChunkWriter {
    to_disk: Option<mpsc::Sender<(u64, Vec<u8>)>>,
    spare: mpsc::Receiver<Vec<u8>>,
    done: tokio::task::JoinHandle<Result<(), DiskError>>,
}

impl ChunkWriter {
    pub fn start(mut file: File, hashes: Vec<Hash>) -> ChunkWriter {
        let (to_disk, mut received) = mpsc::channel::<(u64, Vec<u8>)>(DEPTH);
        let (give_back, spare) = mpsc::channel(DEPTH + 2);
        let done = tokio::task::spawn_blocking(move || {
            while let Some((index, chunk)) = received.blocking_recv() {
                if hashes.get(index as usize) != Some(&chunks::hash_chunk(&chunk)) {
                    return Err(DiskError::Mismatch(index));
                }
                file.write_all(&chunk).map_err(DiskError::Io)?;
                let _ = give_back.try_send(chunk);
            }
            file.sync_all().map_err(DiskError::Io)
        });
        ChunkWriter {
            to_disk: Some(to_disk),
            spare,
            done,
        }
    }

    /// A buffer of `len` bytes to receive the next chunk into.
    pub fn buffer(&mut self, len: usize) -> Vec<u8> {
        let mut buffer = self.spare.try_recv().unwrap_or_default();
        buffer.resize(len, 0);
        buffer
    }

    /// Hands chunk `index` to the disk thread. `false` when the thread has
    /// stopped: [`ChunkWriter::finish`] says why.
    pub async fn write(&mut self, index: u64, chunk: Vec<u8>) -> bool {
        match &self.to_disk {
            Some(to_disk) => to_disk.send((index, chunk)).await.is_ok(),
            None => false,
        }
    }

    /// Waits until every chunk handed over is verified, written and synced.
    pub async fn finish(mut self) -> Result<(), DiskError> {
        self.to_disk = None;
        self.done
            .await
            .unwrap_or_else(|err| Err(DiskError::Io(io::Error::other(err))))
    }
}

/// Reads a file's chunks from the file's current position, starting at chunk
/// `first`, each checked against the hash it was offered with.
pub struct ChunkReader {
    from_disk: mpsc::Receiver<Result<Vec<u8>, DiskError>>,
    give_back: mpsc::Sender<Vec<u8>>,
}

impl ChunkReader {
    pub fn start(mut file: File, size: u64, first: u64, hashes: Vec<Hash>) -> ChunkReader {
        let (to_stream, from_disk) = mpsc::channel(DEPTH);
        let (give_back, mut spare) = mpsc::channel::<Vec<u8>>(DEPTH + 2);
        tokio::task::spawn_blocking(move || {
            for index in first..chunk_count(size) {
                let mut chunk = spare.try_recv().unwrap_or_default();
                chunk.resize(chunk_len(size, index), 0);
                let read = match file.read_exact(&mut chunk) {
                    Err(err) => Err(DiskError::Io(err)),
                    Ok(()) if hashes.get(index as usize) != Some(&chunks::hash_chunk(&chunk)) => {
                        Err(DiskError::Mismatch(index))
                    }
                    Ok(()) => Ok(chunk),
                };
                let failed = read.is_err();
                // The stream side stopped listening: nothing more to read for.
                if to_stream.blocking_send(read).is_err() || failed {
                    return;
                }
            }
        });
        ChunkReader {
            from_disk,
            give_back,
        }
    }

    /// The next chunk, in order; `None` after the last.
    pub async fn next(&mut self) -> Option<Result<Vec<u8>, DiskError>> {
        self.from_disk.recv().await
    }

    /// Returns a sent chunk's buffer for reuse.
    pub fn recycle(&self, buffer: Vec<u8>) {
        let _ = self.give_back.try_send(buffer);
    }
}
