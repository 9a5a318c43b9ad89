//! Chunked BLAKE3 hashing: a file is cut into 1 MiB chunks, each hashed with
//! BLAKE3, and the entry's *root* is a BLAKE3 hash (in its own derive-key
//! domain) over the file size and the list of chunk hashes.
//!
//! The manifest carries only the root; the chunk list travels at the start
//! of each file stream and is checked against the signed root before any
//! chunk is accepted, and every chunk is checked against its hash before it
//! is written. So corruption is caught one chunk at a time, and a resumed
//! transfer starts after the last chunk that verified.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

pub const CHUNK_SIZE: u64 = 1024 * 1024;

pub type Hash = [u8; 32];

const ROOT_CONTEXT: &str = "mesh-agent 2026-11 chunk list v1";

pub fn chunk_count(size: u64) -> u64 {
    size.div_ceil(CHUNK_SIZE)
}

/// Length of chunk `index` of a file of `size` bytes.
pub fn chunk_len(size: u64, index: u64) -> usize {
    (size - index * CHUNK_SIZE).min(CHUNK_SIZE) as usize
}

pub fn hash_chunk(data: &[u8]) -> Hash {
    blake3::hash(data).into()
}

/// The root that binds a file's size to its chunk hashes.
pub fn root(size: u64, hashes: &[Hash]) -> Hash {
    let mut hasher = blake3::Hasher::new_derive_key(ROOT_CONTEXT);
    hasher.update(&size.to_le_bytes());
    for hash in hashes {
        hasher.update(hash);
    }
    hasher.finalize().into()
}

/// Hashes a whole file: its size, chunk hashes and root. Blocking.
pub fn hash_file(path: &Path) -> io::Result<(u64, Vec<Hash>, Hash)> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    let mut buffer = vec![0u8; CHUNK_SIZE as usize];
    let mut hashes = Vec::with_capacity(chunk_count(size) as usize);
    for index in 0..chunk_count(size) {
        let chunk = &mut buffer[..chunk_len(size, index)];
        file.read_exact(chunk)?;
        hashes.push(hash_chunk(chunk));
    }
    // A file that grew while being read would be sent short: refuse it.
    if file.read(&mut [0u8; 1])? != 0 {
        return Err(io::Error::other(format!(
            "{} changed while it was being read",
            path.display()
        )));
    }
    let root = root(size, &hashes);
    Ok((size, hashes, root))
}

/// How many leading chunks of a partly received file match `hashes`. Blocking.
pub fn verified_prefix(path: &Path, size: u64, hashes: &[Hash]) -> io::Result<u64> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(err),
    };
    let available = file.metadata()?.len();
    file.seek(SeekFrom::Start(0))?;
    let mut buffer = vec![0u8; CHUNK_SIZE as usize];
    let mut good = 0;
    for (index, expected) in hashes.iter().enumerate() {
        let index = index as u64;
        let len = chunk_len(size, index);
        if index * CHUNK_SIZE + len as u64 > available {
            break;
        }
        let chunk = &mut buffer[..len];
        file.read_exact(chunk)?;
        if hash_chunk(chunk) != *expected {
            break;
        }
        good += 1;
    }
    Ok(good)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_file_exactly() {
        assert_eq!(chunk_count(0), 0);
        assert_eq!(chunk_count(1), 1);
        assert_eq!(chunk_count(CHUNK_SIZE), 1);
        assert_eq!(chunk_count(CHUNK_SIZE + 1), 2);
        assert_eq!(chunk_len(CHUNK_SIZE + 1, 1), 1);
        assert_eq!(chunk_len(3 * CHUNK_SIZE, 2), CHUNK_SIZE as usize);
    }

    #[test]
    fn the_root_binds_size_and_every_chunk() {
        let a = hash_chunk(b"a");
        let b = hash_chunk(b"b");
        assert_ne!(root(2, &[a, b]), root(2, &[b, a]));
        assert_ne!(root(2, &[a, b]), root(3, &[a, b]));
        assert_ne!(root(1, &[a]), *blake3::hash(&a).as_bytes());
    }

    #[test]
    fn a_partial_file_verifies_up_to_its_first_bad_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let size = 3 * CHUNK_SIZE + 10;
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let (hashed_size, hashes, _) = hash_file(&path).unwrap();
        assert_eq!(hashed_size, size);
        assert_eq!(verified_prefix(&path, size, &hashes).unwrap(), 4);
        let mut damaged = data.clone();
        damaged[(2 * CHUNK_SIZE + 5) as usize] ^= 1;
        damaged.truncate((3 * CHUNK_SIZE) as usize);
        std::fs::write(&path, &damaged).unwrap();
        assert_eq!(verified_prefix(&path, size, &hashes).unwrap(), 2);
    }
}
