//! What a sender offers: every entry of the files and folders it sends
//! (relative path, kind, size, mode, mtime, BLAKE3 root), signed with the
//! sender's device key.
//!
//! The sender builds it from the paths given ([`build`]) and refuses what
//! must not travel: symlinks that point outside the folder being sent,
//! device files, FIFOs and sockets. Setuid, setgid and sticky bits are
//! dropped. The receiver trusts nothing in it until [`Manifest::validate`]
//! has refused absolute paths, `..`, entries under anything but a listed
//! folder, duplicate paths, escaping symlinks and special mode bits.

use std::collections::HashSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::chunks::{self, Hash};
use crate::identity::{hex, unhex, Identity};

pub const VERSION: u32 = 1;
/// Most entries one transfer may carry.
pub const MAX_ENTRIES: usize = 1_000_000;
const MAX_PATH_BYTES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    /// The sending device's certificate fingerprint.
    pub sender: String,
    /// Parents before children; top-level entries are what was named.
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Relative, `/`-separated, no `.` or `..` components.
    pub path: String,
    #[serde(flatten)]
    pub kind: EntryKind,
    /// Permission bits only (`0o777`).
    pub mode: u32,
    /// Modification time, Unix seconds.
    pub mtime: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum EntryKind {
    File {
        size: u64,
        /// [`chunks::root`] of the content, hex.
        root: String,
    },
    Dir,
    /// A relative link that stays inside its top-level folder.
    Symlink {
        target: String,
    },
}

/// Where the sender reads each file entry from, and its chunk hashes.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub hashes: Vec<Hash>,
}

/// A manifest as sent: the exact JSON text and its signature.
#[derive(Debug, Clone)]
pub struct Signed {
    pub text: String,
    pub signature: Vec<u8>,
}

impl Manifest {
    pub fn sign(&self, identity: &Identity) -> anyhow::Result<Signed> {
        let text = serde_json::to_string(self)?;
        let signature = identity.sign(text.as_bytes())?;
        Ok(Signed { text, signature })
    }

    /// Parses a manifest after checking its signature against the sender's
    /// certificate, then validates it.
    pub fn open(
        text: &str,
        signature_hex: &str,
        sender: &rustls::pki_types::CertificateDer<'_>,
    ) -> Result<Manifest, String> {
        let signature = unhex(signature_hex).ok_or("the manifest signature is not hex")?;
        crate::identity::verify(sender, text.as_bytes(), &signature)
            .map_err(|_| "the manifest is not signed by the sending device".to_owned())?;
        let manifest: Manifest = serde_json::from_str(text)
            .map_err(|err| format!("the manifest is malformed: {err}"))?;
        if manifest.sender != crate::identity::fingerprint(sender) {
            return Err("the manifest names another sending device".into());
        }
        manifest.validate()?;
        Ok(manifest)
    }

    /// Identifies a transfer across attempts, for resuming.
    pub fn id(&self) -> String {
        let text = serde_json::to_string(self).expect("manifests serialize");
        hex(&blake3::hash(text.as_bytes()).as_bytes()[..16])
    }

    pub fn total_bytes(&self) -> u64 {
        self.entries
            .iter()
            .map(|entry| match entry.kind {
                EntryKind::File { size, .. } => size,
                _ => 0,
            })
            .sum()
    }

    /// Everything a receiver must refuse, with a sentence saying which entry and why.
    pub fn validate(&self) -> Result<(), String> {
        if self.version != VERSION {
            return Err(format!(
                "manifest version {} is not supported",
                self.version
            ));
        }
        if self.entries.len() > MAX_ENTRIES {
            return Err(format!("more than {MAX_ENTRIES} entries"));
        }
        let mut dirs: HashSet<&str> = HashSet::new();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut total: u64 = 0;
        for entry in &self.entries {
            let path = entry.path.as_str();
            let refuse = |why: &str| Err(format!("`{}` is refused: {why}", path.escape_debug()));
            if path.is_empty() || path.len() > MAX_PATH_BYTES {
                return refuse("empty or too long path");
            }
            if path.starts_with('/') || path.contains('\0') || path.contains('\\') {
                return refuse("absolute paths and NUL or backslash characters are not allowed");
            }
            if path
                .split('/')
                .any(|part| part.is_empty() || part == "." || part == "..")
            {
                return refuse("paths may not contain `..`, `.` or empty components");
            }
            if let Some((parent, _)) = path.rsplit_once('/') {
                if !dirs.contains(parent) {
                    return refuse("its parent is not a folder listed before it");
                }
            }
            if !seen.insert(path) {
                return refuse("listed twice");
            }
            if entry.mode & !0o777 != 0 {
                return refuse("setuid, setgid and sticky bits are not accepted");
            }
            match &entry.kind {
                EntryKind::Dir => {
                    dirs.insert(path);
                }
                EntryKind::File { size, root } => {
                    total = total
                        .checked_add(*size)
                        .ok_or("the sizes add up to more than 2^64 bytes")?;
                    if unhex(root).is_none_or(|r| r.len() != 32) {
                        return refuse("its BLAKE3 root is not 32 bytes of hex");
                    }
                }
                EntryKind::Symlink { target } => {
                    if !link_stays_inside(path, target) {
                        return refuse("the symlink points outside the folder being sent");
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether a relative link at `path` (inside its top-level entry) resolves,
/// lexically, to somewhere inside that same top-level entry.
fn link_stays_inside(path: &str, target: &str) -> bool {
    if target.is_empty() || target.starts_with('/') || target.contains('\0') {
        return false;
    }
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop();
    if parts.is_empty() {
        // A top-level symlink has no folder around it to stay inside.
        return false;
    }
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
                if parts.is_empty() {
                    return false;
                }
            }
            other => parts.push(other),
        }
    }
    true
}

/// Builds the manifest for `paths` (files or folders), hashing every file.
/// Blocking: run it off the async runtime.
pub fn build(paths: &[PathBuf], sender: &str) -> anyhow::Result<(Manifest, Vec<Option<Source>>)> {
    let mut entries = Vec::new();
    let mut sources = Vec::new();
    let mut names = HashSet::new();
    for path in paths {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{} has no usable file name", path.display()))?
            .to_owned();
        if !names.insert(name.clone()) {
            bail!("two of the paths are both called `{name}`; send them separately");
        }
        // A link named on the command line is what the person means to send.
        let path = if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            std::fs::canonicalize(path)
                .with_context(|| format!("{} is a broken link", path.display()))?
        } else {
            path.clone()
        };
        walk(&path, &name, &mut entries, &mut sources)?;
    }
    let manifest = Manifest {
        version: VERSION,
        sender: sender.to_owned(),
        entries,
    };
    manifest
        .validate()
        .map_err(|why| anyhow::anyhow!("cannot send this: {why}"))?;
    Ok((manifest, sources))
}

fn walk(
    path: &Path,
    relative: &str,
    entries: &mut Vec<Entry>,
    sources: &mut Vec<Option<Source>>,
) -> anyhow::Result<()> {
    let meta = std::fs::symlink_metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let kind = meta.file_type();
    let mode = meta.mode() & 0o777;
    let mtime = meta.mtime();
    if kind.is_dir() {
        entries.push(Entry {
            path: relative.to_owned(),
            kind: EntryKind::Dir,
            mode,
            mtime,
        });
        sources.push(None);
        let mut children: Vec<_> = std::fs::read_dir(path)
            .with_context(|| format!("cannot list {}", path.display()))?
            .collect::<Result<_, _>>()?;
        children.sort_by_key(|child| child.file_name());
        for child in children {
            let name = child.file_name();
            let name = name.to_str().with_context(|| {
                format!("{} has a name that is not UTF-8", child.path().display())
            })?;
            walk(
                &child.path(),
                &format!("{relative}/{name}"),
                entries,
                sources,
            )?;
        }
    } else if kind.is_file() {
        let (size, hashes, root) =
            chunks::hash_file(path).with_context(|| format!("cannot read {}", path.display()))?;
        entries.push(Entry {
            path: relative.to_owned(),
            kind: EntryKind::File {
                size,
                root: hex(&root),
            },
            mode,
            mtime,
        });
        sources.push(Some(Source {
            path: path.to_owned(),
            hashes,
        }));
    } else if kind.is_symlink() {
        let target = std::fs::read_link(path)?;
        let target = target
            .to_str()
            .with_context(|| format!("{} links to a name that is not UTF-8", path.display()))?;
        if !link_stays_inside(relative, target) {
            bail!(
                "{} is a symlink to {target}, outside the folder being sent; it is not sent",
                path.display()
            );
        }
        entries.push(Entry {
            path: relative.to_owned(),
            kind: EntryKind::Symlink {
                target: target.to_owned(),
            },
            mode: 0o777,
            mtime,
        });
        sources.push(None);
    } else {
        let what = if kind.is_block_device() || kind.is_char_device() {
            "a device file"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        bail!(
            "{} is {what}; only files, folders and links inside them are sent",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> Entry {
        Entry {
            path: path.into(),
            kind: EntryKind::File {
                size: 1,
                root: "00".repeat(32),
            },
            mode: 0o644,
            mtime: 0,
        }
    }

    fn dir(path: &str) -> Entry {
        Entry {
            path: path.into(),
            kind: EntryKind::Dir,
            mode: 0o755,
            mtime: 0,
        }
    }

    fn link(path: &str, target: &str) -> Entry {
        Entry {
            path: path.into(),
            kind: EntryKind::Symlink {
                target: target.into(),
            },
            mode: 0o777,
            mtime: 0,
        }
    }

    fn check(entries: Vec<Entry>) -> Result<(), String> {
        Manifest {
            version: VERSION,
            sender: String::new(),
            entries,
        }
        .validate()
    }

    #[test]
    fn traversal_and_absolute_paths_are_refused() {
        assert!(check(vec![file("a.txt")]).is_ok());
        assert!(check(vec![dir("d"), file("d/a.txt")]).is_ok());
        for bad in [
            "../a",
            "/etc/passwd",
            "d/../../a",
            "./a",
            "a//b",
            "",
            "a\\..\\b",
        ] {
            assert!(check(vec![dir("d"), file(bad)]).is_err(), "{bad}");
        }
        assert!(check(vec![file("d/a.txt")]).is_err(), "parent not listed");
        assert!(
            check(vec![link("d", "."), file("d/a")]).is_err(),
            "file under a link"
        );
        assert!(check(vec![file("a"), file("a")]).is_err(), "duplicate");
    }

    #[test]
    fn symlinks_must_stay_inside_their_folder() {
        assert!(check(vec![dir("d"), file("d/a"), link("d/l", "a")]).is_ok());
        assert!(check(vec![dir("d"), dir("d/e"), link("d/e/l", "../a")]).is_ok());
        assert!(check(vec![dir("d"), link("d/l", "../x")]).is_err());
        assert!(check(vec![dir("d"), link("d/l", "/etc/passwd")]).is_err());
        assert!(check(vec![link("l", "x")]).is_err());
    }

    #[test]
    fn special_mode_bits_are_refused() {
        let mut setuid = file("a");
        setuid.mode = 0o4755;
        assert!(check(vec![setuid]).is_err());
    }

    #[test]
    fn a_manifest_opens_only_with_its_senders_signature() {
        let alice = Identity::generate().unwrap();
        let mallory = Identity::generate().unwrap();
        let manifest = Manifest {
            version: VERSION,
            sender: alice.fingerprint().to_owned(),
            entries: vec![file("a")],
        };
        let signed = manifest.sign(&alice).unwrap();
        let signature = hex(&signed.signature);
        assert_eq!(
            Manifest::open(&signed.text, &signature, &alice.cert()).unwrap(),
            manifest
        );
        assert!(Manifest::open(&signed.text, &signature, &mallory.cert()).is_err());
        let tampered = signed.text.replace("\"size\":1", "\"size\":2");
        assert!(Manifest::open(&tampered, &signature, &alice.cert()).is_err());
    }

    #[test]
    fn building_refuses_links_that_leave_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tree");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("a"), b"x").unwrap();
        std::os::unix::fs::symlink("a", root.join("inside")).unwrap();
        assert!(build(std::slice::from_ref(&root), "f").is_ok());
        std::os::unix::fs::symlink("/etc/passwd", root.join("outside")).unwrap();
        let err = build(&[root], "f").unwrap_err().to_string();
        assert!(err.contains("outside the folder"), "{err}");
    }
}
