//! The live API against the real kernel: a real server on port 0, real containers,
//! driven with an HTTP client and WebSockets.

use crate::support::server as support;

use std::time::{Duration, Instant};

use futures::SinkExt;
use isolab_shared::{EventKind, StreamMessage};
use serde_json::json;
use support::*;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(15);

fn unique(tag: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{tag}-{}-{n}", std::process::id())
}

/// Starts `exec` in container `id` and attaches to its terminal.
async fn open_exec(server: &TestServer, id: &str, body: serde_json::Value) -> TerminalClient {
    let exec: serde_json::Value = server
        .post(&format!("/containers/{id}/exec"))
        .json(&body)
        .send()
        .await
        .expect("exec")
        .json()
        .await
        .expect("json");
    let exec_id = exec["id"].as_str().expect("exec id");
    TerminalClient::open(server, &format!("/containers/{id}/exec/{exec_id}/terminal")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_streams_events_terminal_and_process_events() {
    let server = TestServer::start("stream").await;
    let mut events = server.socket("/events").await;
    match next_message(&mut events, WAIT).await {
        Some(StreamMessage::Snapshot { snapshot }) => assert!(snapshot.containers.is_empty()),
        other => panic!("expected a snapshot first, got {other:?}"),
    }

    let name = unique("web");
    let id = server
        .create(json!({"name": name, "image": "host", "command": ["/bin/sh"], "tty": true}))
        .await;
    let seen = events_until(
        &mut events,
        WAIT,
        |e| matches!(&e.kind, EventKind::ContainerStarted { id: i, .. } if *i == id),
    )
    .await;
    assert!(
        seen.iter().any(|e| matches!(&e.kind,
        EventKind::ContainerCreated { container } if container.id == id && container.name == name))
    );
    let seqs: Vec<u64> = seen.iter().map(|e| e.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "sequence increases: {seqs:?}"
    );

    // A new subscriber sees it in the snapshot.
    let mut second = server.socket("/events").await;
    match next_message(&mut second, WAIT).await {
        Some(StreamMessage::Snapshot { snapshot }) => {
            assert!(snapshot.containers.iter().any(|c| c.id == id))
        }
        other => panic!("expected a snapshot, got {other:?}"),
    }

    let path = format!("/containers/{id}/terminal");
    let mut term = TerminalClient::open(&server, &path).await;
    term.type_text("echo he''llo\n").await;
    term.read_until("hello", WAIT).await;

    // A process started in the container is pushed within 150 ms.
    let typed = Instant::now();
    term.type_text("sleep 30 &\n").await;
    events_until(&mut events, WAIT, |e| {
        matches!(&e.kind, EventKind::ProcessStarted { container: Some(c), process }
            if *c == id && process.cmdline.contains("sleep 30"))
    })
    .await;
    let latency = typed.elapsed();
    println!("process event latency: {latency:?}");
    assert!(latency < Duration::from_millis(150), "took {latency:?}");

    // A reconnect replays the scrollback.
    drop(term);
    let mut again = TerminalClient::open(&server, &path).await;
    again.read_until("hello", WAIT).await;
    assert_eq!(again.attached_offset, Some(0));

    // A viewer's keystrokes are ignored.
    let mut viewer = TerminalClient::open(&server, &format!("{path}?mode=view")).await;
    viewer.type_text("echo from_vi''ewer\n").await;
    again.type_text("echo from_cont''roller\n").await;
    let seen = viewer.read_until("from_controller", WAIT).await;
    assert!(!seen.contains("from_viewer"), "viewer input ran: {seen}");

    // Full state: processes with NSpid, namespaces, setup steps, isolation facts.
    let state: serde_json::Value = server
        .get(&format!("/containers/{id}"))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(state["status"], "running");
    let processes = state["processes"].as_array().expect("processes");
    assert!(processes
        .iter()
        .any(|p| p["cmdline"].as_str().unwrap_or("").contains("sleep 30")));
    assert!(processes
        .iter()
        .any(|p| p["nspid"].as_array().is_some_and(|n| n.len() == 2)));
    assert!(state["namespaces"]["pid"].as_u64().is_some());
    assert!(!state["setup"].as_array().expect("steps").is_empty());
    assert_eq!(state["isolation"]["no_new_privs"], true);
    assert!(state["interfaces"]
        .as_array()
        .expect("ifaces")
        .iter()
        .any(|i| i["name"] == "lo"));

    // Limits change live; metrics show the container.
    let changed = server
        .patch(&format!("/containers/{id}/limits"))
        .json(&json!({"pids": 64, "memory_bytes": 67108864}))
        .send()
        .await
        .expect("PATCH");
    assert_eq!(changed.status(), 200);
    events_until(&mut events, WAIT, |e| {
        matches!(&e.kind, EventKind::LimitsChanged { id: i, limits } if *i == id && limits.pids == Some(64))
    })
    .await;
    let metrics = server
        .get("/metrics")
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(&format!("isolab_container_pids{{id=\"{id}\"")),
        "{metrics}"
    );
    assert!(metrics.contains("isolab_terminal_clients 2"), "{metrics}");

    // Exec, entering only the net namespace: it sees the container's interfaces
    // but the host's hostname.
    let mut exec_term = open_exec(
        &server,
        &id,
        json!({"command": ["/bin/sh"], "tty": true, "namespaces": ["net"]}),
    )
    .await;
    // The arithmetic marker only appears in the output, not in the echoed command.
    exec_term
        .type_text("echo lines=$(wc -l < /proc/net/dev) host=$(hostname) end$((40+2))\n")
        .await;
    let out = exec_term.read_until("end42", WAIT).await;
    // Two header lines and lo: the container's net namespace.
    assert!(out.contains("lines=3"), "{out}");
    // The uts namespace was not entered: the host's hostname.
    let host = isolab::sysinfo::hostname();
    assert!(out.contains(&format!("host={host}")), "{out}");

    // An exec into every namespace gets its terminal from the container's devpts:
    // `tty` names it, and the container's /dev/pts lists it.
    let mut inside = open_exec(&server, &id, json!({"command": ["/bin/sh"], "tty": true})).await;
    inside
        .type_text("t=$(tty); ls $t >/dev/null && echo tty=$t end$((40+3))\n")
        .await;
    let out = inside.read_until("end43", WAIT).await;
    assert!(out.contains("tty=/dev/pts/"), "{out}");
    assert!(!out.contains("not a tty"), "{out}");

    // Remove: gone from the API, the stream, the state dir and the cgroups.
    let removed = server
        .delete(&format!("/containers/{id}"))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(removed.status(), 204);
    events_until(
        &mut events,
        WAIT,
        |e| matches!(&e.kind, EventKind::ContainerRemoved { id: i } if *i == id),
    )
    .await;
    let gone = server
        .get(&format!("/containers/{id}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(gone.status(), 404);
    assert!(server.leftover_state_dirs().is_empty());
    assert!(!cgroup_left(&id));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_typed_errors_and_the_server_keeps_serving() {
    let server = TestServer::start("errors").await;
    let error_of = |v: &serde_json::Value| v["error"]["code"].as_str().unwrap_or("").to_string();

    // 401 without a token, everywhere.
    let r = server
        .http
        .get(server.url("/containers"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 401);
    let r = tokio_tungstenite::connect_async(format!("ws://{}/api/v1/events", server.addr)).await;
    assert!(
        matches!(r, Err(tokio_tungstenite::tungstenite::Error::Http(ref resp)) if resp.status() == 401)
    );

    // 403 for a foreign origin; the server's own origin is fine.
    assert_eq!(
        server
            .socket_from_origin("/events", "http://evil.example")
            .await
            .err(),
        Some(403)
    );
    let own = format!("http://{}", server.addr);
    assert!(server.socket_from_origin("/events", &own).await.is_ok());

    for (body, status, code) in [
        ("{not json", 400, "bad_json"),
        (r#"{"tty":"yes"}"#, 400, "bad_request"),
        (r#"{"imgae":"host"}"#, 400, "bad_request"),
        (r#"{"command":[]}"#, 400, "bad_request"),
        (r#"{"image":"/no/such/rootfs"}"#, 400, "image_not_found"),
        (r#"{"limits":{"pids":0}}"#, 400, "limit_out_of_range"),
        (
            r#"{"limits":{"memory_bytes":12}}"#,
            400,
            "limit_out_of_range",
        ),
    ] {
        let r = server
            .post("/containers")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), status, "{body}");
        let v: serde_json::Value = r.json().await.expect("json error");
        assert_eq!(error_of(&v), code, "{body}: {v}");
        assert!(!v["error"]["message"].as_str().unwrap_or("").is_empty());
    }
    for path in ["/containers/nope", "/containers/nope/terminal"] {
        let r = server.get(path).send().await.expect("GET");
        assert_eq!(r.status(), 404, "{path}");
        let v: serde_json::Value = r.json().await.expect("json");
        assert_eq!(error_of(&v), "not_found");
    }
    let r = server
        .delete("/containers/nope")
        .send()
        .await
        .expect("DELETE");
    assert_eq!(r.status(), 404);
    let r = server
        .post("/containers/nope/signal")
        .json(&json!({"signal": "SIGTERM"}))
        .send()
        .await
        .expect("signal");
    assert_eq!(r.status(), 404);

    // The events socket answers nonsense with error frames and stays open.
    let mut events = server.socket("/events").await;
    assert!(matches!(
        next_message(&mut events, WAIT).await,
        Some(StreamMessage::Snapshot { .. })
    ));
    events
        .send(Message::Text(r#"{"type":"dance"}"#.into()))
        .await
        .expect("send");
    match next_message(&mut events, WAIT).await {
        Some(StreamMessage::Error { error }) => {
            assert_eq!(error.code, isolab_shared::ErrorCode::UnknownMessage)
        }
        other => panic!("expected an error frame, got {other:?}"),
    }
    events
        .send(Message::Text(r#"{"type":"resync"}"#.into()))
        .await
        .expect("send");
    assert!(matches!(
        next_message(&mut events, WAIT).await,
        Some(StreamMessage::Snapshot { .. })
    ));

    // Still serving.
    let r = server.get("/version").send().await.expect("version");
    assert_eq!(r.status(), 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caps_limit_containers_per_server() {
    let server = TestServer::start_with("caps", |c| c.live.max_containers = 1).await;
    let id = server
        .create(json!({"command": ["/bin/sleep", "60"], "tty": false}))
        .await;
    let r = server
        .post("/containers")
        .json(&json!({"command": ["/bin/sleep", "60"], "tty": false}))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 429);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], "too_many_containers");
    let r = server
        .delete(&format!("/containers/{id}"))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(r.status(), 204);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_containers_with_a_subscriber_leave_nothing() {
    let server = std::sync::Arc::new(TestServer::start("twenty").await);
    let mut events = server.socket("/events").await;
    assert!(matches!(
        next_message(&mut events, WAIT).await,
        Some(StreamMessage::Snapshot { .. })
    ));

    let creates = (0..20).map(|_| {
        let server = server.clone();
        tokio::spawn(async move {
            server
                .create(json!({"command": ["/bin/sleep", "60"], "tty": false}))
                .await
        })
    });
    let mut ids = Vec::new();
    for c in creates {
        ids.push(c.await.expect("create task"));
    }
    let deletes = ids.iter().cloned().map(|id| {
        let server = server.clone();
        tokio::spawn(async move {
            let r = server
                .delete(&format!("/containers/{id}"))
                .send()
                .await
                .expect("DELETE");
            assert_eq!(r.status(), 204);
        })
    });
    for d in deletes {
        d.await.expect("delete task");
    }
    let mut created = std::collections::BTreeSet::new();
    let mut removed = std::collections::BTreeSet::new();
    let mut last_seq = 0;
    events_until(&mut events, Duration::from_secs(60), |e| {
        // A stats sample is not a numbered change: it carries the last event's seq.
        if matches!(e.kind, EventKind::Stats { .. }) {
            assert!(e.seq >= last_seq, "a stats sample went back to {}", e.seq);
            return false;
        }
        assert!(
            e.seq > last_seq,
            "sequence went from {last_seq} to {}",
            e.seq
        );
        last_seq = e.seq;
        match &e.kind {
            EventKind::ContainerCreated { container } => {
                created.insert(container.id.clone());
            }
            EventKind::ContainerRemoved { id } => {
                removed.insert(id.clone());
            }
            _ => {}
        }
        removed.len() == 20
    })
    .await;
    let all: std::collections::BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(created, all);
    assert_eq!(removed, all);
    assert!(server.leftover_state_dirs().is_empty());
    for id in &ids {
        assert!(!cgroup_left(id), "cgroup of {id} left");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_hits_and_oom_kills_are_events() {
    let server = TestServer::start("limits").await;
    let mut events = server.socket("/events").await;
    assert!(matches!(
        next_message(&mut events, WAIT).await,
        Some(StreamMessage::Snapshot { .. })
    ));

    // More sleepers than pids.max allows: forks fail, and the stream says so.
    let forker = server
        .create(json!({
            "command": ["/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 30 & done; wait"],
            "tty": false,
            "limits": {"pids": 6}
        }))
        .await;
    events_until(&mut events, WAIT, |e| {
        matches!(&e.kind, EventKind::LimitHit { id, limit: isolab_shared::LimitKind::Pids } if *id == forker)
    })
    .await;

    // A memory hog under 16 MiB is OOM-killed, and the exit says so.
    let hog = server
        .create(json!({
            "command": ["/bin/sh", "-c", "x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo survived"],
            "tty": false,
            "limits": {"memory_bytes": 16777216}
        }))
        .await;
    let seen = events_until(
        &mut events,
        Duration::from_secs(30),
        |e| matches!(&e.kind, EventKind::ContainerOomKilled { id } if *id == hog),
    )
    .await;
    assert!(seen.iter().any(|e| matches!(&e.kind,
        EventKind::ContainerExited { id, exit } if *id == hog && exit.oom_killed)));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_without_a_tty_streams_its_pipes() {
    let server = TestServer::start("pipes").await;
    // stdout and stderr both reach the terminal socket, and it writes to stdin.
    let id = server
        .create(json!({
            "command": ["/bin/sh", "-c",
                "echo to-out; echo to-err >&2; read line; echo got-$line; sleep 5"],
            "tty": false
        }))
        .await;
    let path = format!("/containers/{id}/terminal");
    let mut term = TerminalClient::open(&server, &path).await;
    let seen = term.read_until("to-err", WAIT).await;
    assert!(seen.contains("to-out"), "{seen:?}");
    term.type_text("abc\n").await;
    term.read_until("got-abc", WAIT).await;
    // Resizing a session on pipes is accepted and changes nothing.
    let resize = json!({"type": "resize", "cols": 100, "rows": 30}).to_string();
    term.ws
        .send(Message::Text(resize.into()))
        .await
        .expect("send a resize");
    // A reload gets the scrollback of both streams.
    let mut again = TerminalClient::open(&server, &path).await;
    let replay = again.read_until("got-abc", WAIT).await;
    assert!(
        replay.contains("to-out") && replay.contains("to-err"),
        "{replay:?}"
    );
    server.shutdown().await;
}
