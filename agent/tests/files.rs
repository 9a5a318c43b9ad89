//! Files and folders between two agents through a real Mesh server, on
//! loopback: integrity, resume, atomic landing, and every way a sender (or
//! someone holding a token) can be refused.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{
    alice_and_bob, assert_refused, close, digest, hex, next_failure_within, write_random_file,
    Server, TestAgent,
};
use mesh_agent::chunks::{self, CHUNK_SIZE};
use mesh_agent::manifest::{self, Entry, EntryKind, Manifest};
use mesh_agent::progress::Progress;
use mesh_agent::session::{self, Failure, Session};
use mesh_agent::transport::Congestion;
use mesh_agent::wire::{self, Frame, PeerError};
use mesh_proto::Scope;
use serde_json::json;

const MIB: u64 = 1024 * 1024;

/// The test suite moves 256 MiB to keep `make test` quick. For the figure a
/// person would quote, run it bigger:
/// `MESH_AGENT_LARGE_FILE_MIB=1024 cargo test -p mesh-agent --test files large -- --nocapture`.
fn large_file() -> u64 {
    std::env::var("MESH_AGENT_LARGE_FILE_MIB")
        .ok()
        .and_then(|mib| mib.parse::<u64>().ok())
        .unwrap_or(256)
        * MIB
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_arrives_bit_identical() {
    let server = Server::start();
    let (alice, bob) = alice_and_bob(&server).await;
    let source = tempfile::tempdir().unwrap();
    let path = source.path().join("large.bin");
    let size = large_file();
    write_random_file(&path, size, 7);

    let started = Instant::now();
    let report = alice.send(&bob, vec![path.clone()]).await.expect("send");
    let wall = started.elapsed();
    assert_eq!(report.bytes_total, size);
    assert_eq!(report.bytes_sent, size);
    assert_eq!(report.bytes_skipped, 0);
    let received = bob.inbox.join("large.bin");
    assert_eq!(digest(&received), digest(&path));
    assert_eq!(bob.inbox_entries(), ["large.bin"], "no staging left behind");
    let mib = size as f64 / MIB as f64;
    eprintln!(
        "{mib} MiB over loopback: {:.0} MiB/s on the wire ({:.2} s sending), {:.0} MiB/s end to end \
         including hashing, session set-up and landing ({:.2} s)",
        mib / report.elapsed.as_secs_f64(),
        report.elapsed.as_secs_f64(),
        mib / wall.as_secs_f64(),
        wall.as_secs_f64(),
    );
}

fn build_tree(root: &Path) {
    std::fs::create_dir_all(root.join("src/deep/deeper")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::fs::write(root.join("README.md"), "# project\n").unwrap();
    std::fs::write(root.join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(root.join("src/deep/empty.txt"), "").unwrap();
    write_random_file(&root.join("src/deep/deeper/blob.bin"), 3 * MIB + 17, 3);
    std::fs::write(root.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink("src/main.rs", root.join("main-link")).unwrap();
}

/// Every path under `root` with its kind and content digest.
fn describe(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let relative = path.strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                out.push(format!(
                    "{relative} -> {}",
                    std::fs::read_link(&path).unwrap().display()
                ));
            } else if meta.is_dir() {
                out.push(format!("{relative}/ {:o}", meta.mode() & 0o777));
                walk(root, &path, out);
            } else {
                out.push(format!(
                    "{relative} {:o} {} {}",
                    meta.mode() & 0o777,
                    meta.mtime(),
                    digest(&path)
                ));
            }
        }
    }
    walk(root, root, &mut out);
    out
}

#[tokio::test]
async fn a_nested_folder_arrives_bit_identical() {
    let server = Server::start();
    let (alice, bob) = alice_and_bob(&server).await;
    let source = tempfile::tempdir().unwrap();
    let tree = source.path().join("project");
    build_tree(&tree);
    let single = source.path().join("notes.txt");
    std::fs::write(&single, "a note").unwrap();

    let report = alice
        .send(&bob, vec![tree.clone(), single])
        .await
        .expect("send");
    assert_eq!(report.bytes_sent, report.bytes_total);
    assert_eq!(bob.inbox_entries(), ["notes.txt", "project"]);
    assert_eq!(describe(&bob.inbox.join("project")), describe(&tree));
    assert_eq!(
        std::fs::read_to_string(bob.inbox.join("notes.txt")).unwrap(),
        "a note"
    );

    // Sending again never overwrites what is there.
    alice
        .send(&bob, vec![tree.clone()])
        .await
        .expect("send again");
    assert_eq!(bob.inbox_entries(), ["notes.txt", "project", "project (2)"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_transfer_resumes_without_resending_verified_chunks() {
    let server = Server::start();
    let (alice, bob) = alice_and_bob(&server).await;
    let source = tempfile::tempdir().unwrap();
    let path = source.path().join("video.bin");
    let size = 96 * MIB + 123;
    write_random_file(&path, size, 11);
    let mut events = bob.agent.subscribe();

    // Kill the sender once at least a quarter has gone out.
    let progress = Progress::new();
    let sending = {
        let progress = progress.clone();
        let path = path.clone();
        let alice = &alice;
        let bob = &bob;
        async move { alice.send_with(bob, vec![path], progress).await }
    };
    let interrupted = tokio::select! {
        result = sending => panic!("the transfer finished before it could be interrupted: {result:?}"),
        _ = async {
            while progress.done() < size / 4 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        } => progress.done(),
    };
    // The sender vanished as a killed process does. Its endpoint's parting
    // CONNECTION_CLOSE usually arrives; when it is lost (a full socket buffer
    // on a busy machine), the receiver notices by the 30 s idle timeout.
    let (code, message) = next_failure_within(&mut events, Duration::from_secs(45)).await;
    assert!(
        code == close::DONE || (code == close::FAILED && message.contains("connection was lost")),
        "the sender went away: {code} {message}"
    );
    assert!(interrupted < size);
    assert!(
        bob.inbox_entries()
            .iter()
            .all(|name| name.starts_with(".mesh-incoming-")),
        "only the hidden staging folder exists: {:?}",
        bob.inbox_entries()
    );

    let report = alice.send(&bob, vec![path.clone()]).await.expect("resume");
    assert!(
        report.bytes_skipped > 0,
        "some verified chunks were kept: {report:?}"
    );
    assert_eq!(report.bytes_skipped % CHUNK_SIZE, 0);
    assert_eq!(
        report.bytes_sent + report.bytes_skipped,
        size,
        "no verified chunk was sent twice"
    );
    eprintln!(
        "interrupted after {} MiB sent; the resume skipped {} MiB and sent {} MiB",
        interrupted / MIB,
        report.bytes_skipped / MIB,
        report.bytes_sent / MIB
    );
    assert_eq!(digest(&bob.inbox.join("video.bin")), digest(&path));
    assert_eq!(bob.inbox_entries(), ["video.bin"]);
}

/// Opens a file session from `alice` to `bob` and offers `manifest` signed
/// by Alice's device, as a (possibly hostile) sender would.
async fn offer(
    alice: &TestAgent,
    bob: &TestAgent,
    endpoint: &quinn::Endpoint,
    manifest: &Manifest,
) -> Result<(Session, Vec<u64>), Failure> {
    let mut session = alice
        .open(endpoint, bob, Scope::File)
        .await
        .map_err(|e| Failure::new(0, e.to_string()))?;
    let signed = manifest.sign(&alice.agent.identity).unwrap();
    wire::write_frame(
        &mut session.send,
        &Frame::Offer {
            manifest: signed.text,
            signature: hex(&signed.signature),
        },
    )
    .await?;
    match wire::read_frame(&mut session.recv).await? {
        Frame::Accept { have } => Ok((session, have)),
        other => panic!("unexpected {other:?}"),
    }
}

/// Streams one file entry by hand: header, `hashes`, then `data`.
async fn stream_file(
    session: &Session,
    entry: u32,
    first: u64,
    hashes: &[chunks::Hash],
    data: &[u8],
) {
    let mut stream = session.connection.open_uni().await.unwrap();
    let _ = wire::write_frame(
        &mut stream,
        &Frame::File {
            entry,
            first_chunk: first,
        },
    )
    .await;
    let list: Vec<u8> = hashes.iter().flatten().copied().collect();
    let _ = stream.write_all(&list).await;
    let _ = stream.write_all(data).await;
    let _ = stream.finish();
}

/// What the receiver says when it closes the session.
async fn verdict(session: &mut Session) -> (u32, String) {
    match tokio::time::timeout(Duration::from_secs(10), wire::read_frame(&mut session.recv)).await {
        Ok(Err(PeerError::Closed { code, reason })) => (code, reason),
        other => panic!("expected the receiver to close the session, got {other:?}"),
    }
}

/// The inbox ends up empty: no file, no staging folder.
async fn assert_nothing_landed(bob: &TestAgent) {
    for _ in 0..100 {
        if bob.inbox_entries().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("left behind: {:?}", bob.inbox_entries());
}

fn real_file(dir: &Path, size: u64) -> (PathBuf, Manifest, Vec<chunks::Hash>, Vec<u8>) {
    let path = dir.join("data.bin");
    write_random_file(&path, size, 5);
    let (manifest, sources) = manifest::build(std::slice::from_ref(&path), "").unwrap();
    let hashes = sources[0].as_ref().unwrap().hashes.clone();
    let data = std::fs::read(&path).unwrap();
    (path, manifest, hashes, data)
}

fn signed_by(alice: &TestAgent, mut manifest: Manifest) -> Manifest {
    manifest.sender = alice.fingerprint();
    manifest
}

#[tokio::test]
async fn a_corrupted_chunk_is_detected_and_nothing_lands() {
    let server = Server::start();
    let (alice, bob) = alice_and_bob(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let (_, manifest, hashes, mut data) = real_file(dir.path(), 5 * MIB);
    let manifest = signed_by(&alice, manifest);
    let endpoint = alice.dialer();
    let (mut session, have) = offer(&alice, &bob, &endpoint, &manifest).await.unwrap();
    assert_eq!(have, [0]);
    data[(2 * CHUNK_SIZE + 99) as usize] ^= 0x40;
    stream_file(&session, 0, 0, &hashes, &data).await;
    let (code, reason) = verdict(&mut session).await;
    assert_eq!(code, close::INTEGRITY, "{reason}");
    assert!(
        reason.contains("chunk 2 of `data.bin` failed verification"),
        "{reason}"
    );
    assert_nothing_landed(&bob).await;
}

#[tokio::test]
async fn lying_about_sizes_or_hashes_is_refused() {
    let server = Server::start();
    let (alice, bob) = alice_and_bob(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let (_, manifest, hashes, data) = real_file(dir.path(), 3 * MIB + 5);
    let manifest = signed_by(&alice, manifest);
    let endpoint = alice.dialer();

    // Less data than the size says, then the end of the stream.
    let (mut session, _) = offer(&alice, &bob, &endpoint, &manifest).await.unwrap();
    stream_file(&session, 0, 0, &hashes, &data[..(2 * CHUNK_SIZE) as usize]).await;
    let (code, reason) = verdict(&mut session).await;
    assert_eq!(code, close::INVALID, "{reason}");
    assert!(
        reason.contains("less of `data.bin` than its size says"),
        "{reason}"
    );
    assert_nothing_landed(&bob).await;

    // More data than the size says.
    let (mut session, _) = offer(&alice, &bob, &endpoint, &manifest).await.unwrap();
    let mut longer = data.clone();
    longer.extend_from_slice(b"and a little extra");
    stream_file(&session, 0, 0, &hashes, &longer).await;
    let (code, reason) = verdict(&mut session).await;
    assert_eq!(code, close::INVALID, "{reason}");
    assert!(
        reason.contains("more of `data.bin` than its size says"),
        "{reason}"
    );
    assert_nothing_landed(&bob).await;

    // A chunk list that does not add up to the signed root.
    let (mut session, _) = offer(&alice, &bob, &endpoint, &manifest).await.unwrap();
    let mut forged = hashes.clone();
    forged[1] = chunks::hash_chunk(b"something else");
    stream_file(&session, 0, 0, &forged, &data).await;
    let (code, reason) = verdict(&mut session).await;
    assert_eq!(code, close::INTEGRITY, "{reason}");
    assert!(
        reason.contains("chunk list of `data.bin` does not match"),
        "{reason}"
    );
    assert_nothing_landed(&bob).await;

    // Starting somewhere the receiver did not ask for.
    let (mut session, _) = offer(&alice, &bob, &endpoint, &manifest).await.unwrap();
    stream_file(&session, 0, 1, &hashes, &data[CHUNK_SIZE as usize..]).await;
    let (code, _) = verdict(&mut session).await;
    assert_eq!(code, close::INVALID);
    assert_nothing_landed(&bob).await;
}

fn entry(path: &str, kind: EntryKind, mode: u32) -> Entry {
    Entry {
        path: path.into(),
        kind,
        mode,
        mtime: 0,
    }
}

#[tokio::test]
async fn traversal_paths_links_and_special_bits_are_refused() {
    let server = Server::start();
    let (alice, bob) = alice_and_bob(&server).await;
    let endpoint = alice.dialer();
    let one_byte = EntryKind::File {
        size: 1,
        root: hex(&chunks::root(1, &[chunks::hash_chunk(b"x")])),
    };
    let cases = [
        (vec![entry("../evil.sh", one_byte.clone(), 0o644)], "`..`"),
        (
            vec![entry("/tmp/evil.sh", one_byte.clone(), 0o644)],
            "absolute",
        ),
        (
            vec![
                entry("d", EntryKind::Dir, 0o755),
                entry("d/../../evil", one_byte.clone(), 0o644),
            ],
            "`..`",
        ),
        (
            vec![
                entry("d", EntryKind::Dir, 0o755),
                entry(
                    "d/l",
                    EntryKind::Symlink {
                        target: "../../../etc/passwd".into(),
                    },
                    0o777,
                ),
            ],
            "outside the folder",
        ),
        (
            vec![
                entry(
                    "l",
                    EntryKind::Symlink {
                        target: "/etc".into(),
                    },
                    0o777,
                ),
                entry("l/x", one_byte.clone(), 0o644),
            ],
            "outside the folder",
        ),
        (
            vec![entry("root-shell", one_byte.clone(), 0o4755)],
            "setuid",
        ),
    ];
    for (entries, words) in cases {
        let manifest = Manifest {
            version: manifest::VERSION,
            sender: alice.fingerprint(),
            entries,
        };
        let result = offer(&alice, &bob, &endpoint, &manifest).await;
        let failure = result.expect_err("the offer must be refused");
        assert_eq!(failure.code, close::INVALID, "{failure}");
        assert!(
            failure.message.contains(words),
            "`{failure}` does not say `{words}`"
        );
        assert_nothing_landed(&bob).await;
    }
    assert!(!bob.inbox.parent().unwrap().join("evil.sh").exists());
}

#[tokio::test]
async fn a_manifest_signed_by_another_device_is_refused() {
    let server = Server::start();
    let (alice, bob) = alice_and_bob(&server).await;
    let endpoint = alice.dialer();
    let mut session = alice.open(&endpoint, &bob, Scope::File).await.unwrap();
    let mallory = mesh_agent::identity::Identity::generate().unwrap();
    let manifest = Manifest {
        version: manifest::VERSION,
        sender: alice.fingerprint(),
        entries: vec![entry("a", EntryKind::Dir, 0o755)],
    };
    let signed = manifest.sign(&mallory).unwrap();
    wire::write_frame(
        &mut session.send,
        &Frame::Offer {
            manifest: signed.text,
            signature: hex(&signed.signature),
        },
    )
    .await
    .unwrap();
    let (code, reason) = verdict(&mut session).await;
    assert_eq!(code, close::INVALID);
    assert!(
        reason.contains("not signed by the sending device"),
        "{reason}"
    );
}

#[tokio::test]
async fn offers_are_declined_unless_the_receiver_accepts_them() {
    let server = Server::start();
    let (alice, bob) = alice_and_bob(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.txt");
    std::fs::write(&file, "hello").unwrap();
    // Alice's own agent accepts nobody.
    let result = bob.send(&alice, vec![file.clone()]).await;
    assert_refused(result, close::DECLINED, "declined");
    assert!(alice.inbox_entries().is_empty());
}

#[tokio::test]
async fn people_who_share_no_room_cannot_send_to_each_other() {
    let server = Server::start();
    let (alice, _bob) = alice_and_bob(&server).await;
    server.register("dave").await;
    let dave = TestAgent::start(&server, "dave", "dave-pc", &["*"]).await;
    let err = mesh_agent::agent::resolve(&alice.agent.control, alice.device_id(), "dave-pc")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("share a room"), "{err}");
    let err = alice
        .agent
        .control
        .create_session(&mesh_proto::CreateSessionRequest {
            from_device: alice.device_id(),
            to_device: dave.device_id(),
            kind: mesh_proto::SessionKind::File,
            scope: Scope::File,
            candidates: Vec::new(),
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("shares no room"), "{err}");
}

fn claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64_decode(payload);
    serde_json::from_slice(&bytes).unwrap()
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let values: Vec<u32> = text
        .bytes()
        .map(|c| ALPHABET.iter().position(|a| *a == c).unwrap() as u32)
        .collect();
    let mut out = Vec::new();
    for group in values.chunks(4) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, v)| acc | (v << (18 - 6 * i)));
        for i in 0..group.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

#[tokio::test]
async fn replayed_forged_expired_and_misdirected_tokens_are_refused() {
    let server = Server::start();
    let (alice, bob) = alice_and_bob(&server).await;
    let bob_phone = TestAgent::start(&server, "bob", "bob-phone", &["alice"]).await;
    let endpoint = alice.dialer();
    let identity = &alice.agent.identity;

    // Used once, the token opens the session; shown again, it is refused.
    let grant = alice.grant(&bob, Scope::File).await;
    let session = session::connect(identity, &endpoint, &grant, Congestion::Cubic)
        .await
        .unwrap();
    session.connection.close(0u32.into(), b"bye");
    let replay = session::connect(identity, &endpoint, &grant, Congestion::Cubic).await;
    assert_refused(replay, close::REFUSED, "already used");

    // Claims edited after signing.
    let mut grant = alice.grant(&bob, Scope::File).await;
    let mut parts: Vec<String> = grant.token.split('.').map(str::to_owned).collect();
    let mut edited = claims(&grant.token);
    edited["scope"] = json!("terminal:control");
    parts[1] = common_base64(&edited.to_string());
    grant.token = parts.join(".");
    let forged = session::connect(identity, &endpoint, &grant, Congestion::Cubic).await;
    assert_refused(forged, close::REFUSED, "not one the server issued");

    // Expired two minutes ago (signed with the server's own key).
    let mut grant = alice.grant(&bob, Scope::File).await;
    let mut old = claims(&grant.token);
    let now = old["iat"].as_i64().unwrap();
    old["iat"] = json!(now - 300);
    old["exp"] = json!(now - 120);
    grant.token = server.mint(&old);
    let expired = session::connect(identity, &endpoint, &grant, Congestion::Cubic).await;
    assert_refused(expired, close::REFUSED, "expired");

    // A token for Bob's desktop shown to Bob's phone.
    let mut grant = alice.grant(&bob, Scope::File).await;
    let phone = alice.grant(&bob_phone, Scope::File).await;
    grant.target = phone.target;
    let misdirected = session::connect(identity, &endpoint, &grant, Congestion::Cubic).await;
    assert_refused(misdirected, close::REFUSED, "for another device");

    assert!(bob.inbox_entries().is_empty() && bob_phone.inbox_entries().is_empty());
}

fn common_base64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | *b as u32) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn a_mismatched_certificate_is_refused_on_either_side() {
    let server = Server::start();
    let (alice, bob) = alice_and_bob(&server).await;

    // Someone holding Alice's token but not her device key.
    let grant = alice.grant(&bob, Scope::File).await;
    let thief = mesh_agent::identity::Identity::generate().unwrap();
    let endpoint = mesh_agent::transport::dialer("127.0.0.1:0".parse().unwrap()).unwrap();
    let stolen = session::connect(&thief, &endpoint, &grant, Congestion::Cubic).await;
    assert_refused(stolen, close::REFUSED, "certificate is not the one");

    // A target whose certificate is not the one the server vouched for.
    let mut grant = alice.grant(&bob, Scope::File).await;
    grant.target.fingerprint = mesh_agent::identity::Identity::generate()
        .unwrap()
        .fingerprint()
        .to_owned();
    let endpoint = alice.dialer();
    let err = session::connect(&alice.agent.identity, &endpoint, &grant, Congestion::Cubic)
        .await
        .expect_err("the handshake must fail");
    assert!(format!("{err:#}").contains("vouched for"), "{err:#}");
}
