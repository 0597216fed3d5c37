//! kill -9 of a server with containers running, then a restart on the same state
//! dir: every container is adopted (alive) or cleaned (dead), with nothing leaked.

use crate::support::server as support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::server::StateRootGuard;
use serde_json::json;
use support::{cgroup_left, fresh_state_root, TOKEN};

/// `isolab serve` as its own process; killed on drop.
struct ServerProcess {
    child: Child,
    base: String,
}

impl ServerProcess {
    fn start(state_root: &std::path::Path) -> ServerProcess {
        Self::start_with(state_root, &[])
    }

    fn start_with(state_root: &std::path::Path, extra: &[&str]) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_isolab"))
            .args(["serve", "--port", "0", "--token", TOKEN])
            .args(extra)
            .env("ISOLAB_STATE_ROOT", state_root)
            .env("ISOLAB_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("isolab serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("the server printed its URL")
                .expect("readable stdout");
            if let Some(start) = line.find("http://") {
                break line[start..].to_string();
            }
        };
        let base = url
            .split("/?token=")
            .next()
            .expect("a base URL")
            .to_string();
        ServerProcess { child, base }
    }

    fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill_9();
    }
}

async fn create(http: &reqwest::Client, base: &str, body: serde_json::Value) -> String {
    let r = http
        .post(format!("{base}/api/v1/containers"))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.expect("json");
    v["id"].as_str().expect("id").to_string()
}

async fn ids(http: &reqwest::Client, base: &str) -> Vec<(String, String)> {
    let v: serde_json::Value = http
        .get(format!("{base}/api/v1/containers"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    v.as_array()
        .expect("a list")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_string(),
                c["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn restart_after_kill_9_adopts_the_living_and_cleans_the_dead() {
    let state_root = fresh_state_root("restart");
    let _guard = StateRootGuard(state_root.clone());
    let http = reqwest::Client::new();

    let mut first = ServerProcess::start(&state_root);
    let alive = create(
        &http,
        &first.base,
        json!({"command": ["/bin/sleep", "600"], "tty": false}),
    )
    .await;
    let dead = create(
        &http,
        &first.base,
        json!({"command": ["/bin/sleep", "600"], "tty": false}),
    )
    .await;
    let shell = create(
        &http,
        &first.base,
        json!({"command": ["/bin/sh"], "tty": true}),
    )
    .await;
    first.kill_9();

    // The second container dies while no server watches it.
    let record = isolab::runtime::list(&state_root)
        .into_iter()
        .find(|r| r.id == dead)
        .expect("a record of the second container");
    let dead_pid = record.init_pid.expect("an init pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(dead_pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the second container's init");
    for _ in 0..100 {
        if !record.init_alive() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let second = ServerProcess::start(&state_root);
    let listed = ids(&http, &second.base).await;
    assert!(
        listed
            .iter()
            .any(|(id, status)| *id == alive && status == "running"),
        "the living container is adopted: {listed:?}"
    );
    assert!(
        !listed.iter().any(|(id, _)| *id == dead),
        "the dead one is gone: {listed:?}"
    );
    assert!(!state_root.join(&dead).exists(), "its state dir is removed");
    assert!(!cgroup_left(&dead), "its cgroup is removed");

    // The adopted shell's terminal comes back: its PID 1 kept the PTY master.
    let url = format!(
        "{}/api/v1/containers/{shell}/terminal?token={TOKEN}",
        second.base.replacen("http://", "ws://", 1)
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("the adopted container has a terminal");
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    ws.send(Message::Binary(b"echo adop''ted\n".to_vec().into()))
        .await
        .expect("type");
    let mut output = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !String::from_utf8_lossy(&output).contains("adopted") {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => output.extend_from_slice(&b),
            Ok(Some(Ok(_))) => {}
            other => panic!(
                "no echo from the adopted shell ({other:?}): {:?}",
                String::from_utf8_lossy(&output)
            ),
        }
    }

    // The adopted one can still be removed, leaving nothing.
    let r = http
        .delete(format!("{}/api/v1/containers/{alive}", second.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(r.status(), 204);
    assert!(!state_root.join(&alive).exists());
    assert!(!cgroup_left(&alive));
}

#[tokio::test]
async fn sigterm_removes_the_containers_and_keep_leaves_them() {
    let state_root = fresh_state_root("sigterm");
    let _guard = StateRootGuard(state_root.clone());
    let http = reqwest::Client::new();

    let mut server = ServerProcess::start(&state_root);
    let id = create(
        &http,
        &server.base,
        json!({"command": ["/bin/sleep", "600"], "tty": false}),
    )
    .await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM the server");
    let status = server.child.wait().expect("the server exits");
    assert_eq!(status.code(), Some(0));
    assert!(
        !state_root.join(&id).exists(),
        "SIGTERM removed the container"
    );
    assert!(!cgroup_left(&id));

    // With --keep the container stays for the next server.
    let mut keeping = ServerProcess::start_with(&state_root, &["--keep"]);
    let base = keeping.base.clone();
    let kept = create(
        &http,
        &base,
        json!({"command": ["/bin/sleep", "600"], "tty": false}),
    )
    .await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(keeping.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    assert_eq!(keeping.child.wait().expect("exits").code(), Some(0));
    let record = isolab::runtime::list(&state_root)
        .into_iter()
        .find(|r| r.id == kept)
        .expect("the kept container's record");
    assert!(record.init_alive(), "--keep left the container running");
}
