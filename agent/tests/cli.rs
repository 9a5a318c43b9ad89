//! The `mesh-agent` command line end to end: log in, run, send, list, share,
//! view and hand over control.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use common::{password, write_random_file, Server};

fn agent(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mesh-agent"));
    command
        .env("MESH_AGENT_HOME", home)
        .env_remove("MESH_AGENT_LOG");
    command
}

async fn output(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

async fn login(server: &Server, home: &Path, user: &str, device: &str) {
    let mut command = agent(home);
    command
        .args([
            "login",
            "--server",
            &server.url,
            "--user",
            user,
            "--name",
            device,
        ])
        .env("MESH_AGENT_PASSWORD", password(user));
    let out = output(command).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("as {user}; this device is `{device}`")),
        "{stdout}"
    );
}

/// Kills the agent when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_run_and_send_from_the_command_line() {
    let server = Server::start();
    let alice_token = server.register("alice").await;
    let bob_token = server.register("bob").await;
    server.share_room("alice", &alice_token, &bob_token).await;
    let (alice_home, bob_home, inbox, files) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    login(&server, alice_home.path(), "alice", "alice-laptop").await;
    login(&server, bob_home.path(), "bob", "bob-desktop").await;
    let key = bob_home.path().join("device.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let mut run = agent(bob_home.path());
    run.args([
        "run",
        "--listen",
        "127.0.0.1:0",
        "--accept-from",
        "alice",
        "--inbox",
    ])
    .arg(inbox.path())
    .stdin(Stdio::null())
    .stderr(Stdio::piped());
    let mut child = run.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let running = Running(child);
    let online = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stderr).lines();
        let first = lines.next().unwrap().unwrap();
        std::thread::spawn(move || for _ in lines {});
        first
    })
    .await
    .unwrap();
    assert!(online.contains("mesh-agent is online"), "{online}");

    let mut devices = agent(alice_home.path());
    devices.arg("devices");
    let listed = String::from_utf8(output(devices).await.stdout).unwrap();
    assert!(
        listed.contains("bob-desktop") && listed.contains("(this device)"),
        "{listed}"
    );

    let file = files.path().join("report.bin");
    write_random_file(&file, 5 * 1024 * 1024 + 3, 9);
    let mut send = agent(alice_home.path());
    send.args(["send", "bob"]).arg(&file);
    let out = output(send).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("sent 5.0 MiB (5242883 bytes) to bob (bob-desktop)"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read(inbox.path().join("report.bin")).unwrap(),
        std::fs::read(&file).unwrap()
    );

    let mut nobody = agent(alice_home.path());
    nobody.args(["send", "mallory"]).arg(&file);
    let out = output(nobody).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no device called `mallory`"), "{stderr}");
    drop(running);
}

#[tokio::test]
async fn commands_that_need_a_login_say_so() {
    let home = tempfile::tempdir().unwrap();
    let mut send = agent(home.path());
    send.args(["send", "bob", "/etc/hostname"]);
    let out = output(send).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("run `mesh-agent login --server URL` first"),
        "{stderr}"
    );
}

/// Collects a child's output on a thread, for waiting on what it prints.
struct Captured {
    text: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Captured {
    fn collect(stream: impl std::io::Read + Send + 'static) -> Captured {
        let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = text.clone();
        std::thread::spawn(move || {
            let mut stream = stream;
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        Captured { text }
    }

    async fn wait_for(&self, needle: &str) {
        for _ in 0..500 {
            if self.text.lock().unwrap().contains(needle) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!(
            "`{needle}` never appeared in {:?}",
            self.text.lock().unwrap()
        );
    }

    fn contains(&self, needle: &str) -> bool {
        self.text.lock().unwrap().contains(needle)
    }
}

async fn control(home: &Path, args: &[&str]) -> String {
    let mut command = agent(home);
    command.arg("control").args(args);
    let out = output(command).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_view_and_grant_from_the_command_line() {
    let server = Server::start();
    let alice_token = server.register("alice").await;
    let bob_token = server.register("bob").await;
    server.share_room("bob", &bob_token, &alice_token).await;
    let (alice_home, bob_home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    login(&server, alice_home.path(), "alice", "alice-laptop").await;
    login(&server, bob_home.path(), "bob", "bob-desktop").await;

    let mut share = agent(bob_home.path());
    share
        .args(["share", "--listen", "127.0.0.1:0", "--", "/bin/sh"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut host = share.spawn().unwrap();
    let mut host_keys = host.stdin.take().unwrap();
    let host_screen = Captured::collect(host.stdout.take().unwrap());
    let host_notes = Captured::collect(host.stderr.take().unwrap());
    let _host = Running(host);
    host_notes.wait_for("Sharing this terminal").await;

    let mut view = agent(alice_home.path());
    view.args(["view", "bob"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut viewer = view.spawn().unwrap();
    let mut viewer_keys = viewer.stdin.take().unwrap();
    let viewer_screen = Captured::collect(viewer.stdout.take().unwrap());
    let viewer_notes = Captured::collect(viewer.stderr.take().unwrap());
    viewer_notes.wait_for("as viewer 1").await;

    host_keys.write_all(b"echo host-$((6*7))\n").unwrap();
    viewer_screen.wait_for("host-42").await;

    viewer_keys.write_all(b"echo early-$((5*5))\n").unwrap();
    viewer_notes.wait_for("read-only").await;
    assert!(control(bob_home.path(), &["list"])
        .await
        .contains("1  alice on alice-laptop"));
    assert_eq!(
        control(bob_home.path(), &["grant", "1"]).await,
        "viewer 1 has control\n"
    );
    viewer_notes.wait_for("you have control").await;
    viewer_keys.write_all(b"echo viewer-$((5*5))\n").unwrap();
    host_screen.wait_for("viewer-25").await;
    assert!(
        !host_screen.contains("early"),
        "keys typed before the grant were dropped"
    );
    assert!(control(bob_home.path(), &["list"])
        .await
        .contains("(has control)"));

    // Ctrl-] leaves.
    viewer_keys.write_all(&[0x1d]).unwrap();
    let status = tokio::task::spawn_blocking(move || viewer.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());
}
