//! The event stream at scale, against a real server and real containers: compact
//! snapshots, stats deltas at the client's rate, and a client that stops reading.

use crate::support::server as support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use isolab_shared::{EventKind, ProcessInfo, StreamMessage};
use serde_json::json;
use support::*;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(15);

/// The text of the first snapshot frame on `ws`.
async fn snapshot_text(ws: &mut Socket) -> String {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("a frame");
        if let Message::Text(t) = frame {
            if t.starts_with(r#"{"type":"snapshot""#) {
                return t.to_string();
            }
        }
    }
}

/// The stats events received on `ws` during `span`: per event, the ids it names.
async fn stats_during(ws: &mut Socket, span: Duration) -> Vec<Vec<String>> {
    let deadline = Instant::now() + span;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match next_message(ws, left).await {
            Some(StreamMessage::Event { event }) => {
                if let EventKind::Stats { usage } = event.kind {
                    seen.push(usage.into_keys().collect());
                }
            }
            Some(_) => {}
            None => break,
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_are_compact_and_steps_come_on_demand() {
    let server = TestServer::start("compact").await;
    const N: usize = 8;
    let mut ids = Vec::new();
    for _ in 0..N {
        ids.push(
            server
                .create(json!({"command": ["/bin/sh"], "tty": true}))
                .await,
        );
    }
    let mut events = server.socket("/events").await;
    let text = snapshot_text(&mut events).await;
    let snapshot: StreamMessage = serde_json::from_str(&text).expect("a snapshot");
    let StreamMessage::Snapshot { snapshot } = snapshot else {
        panic!("expected a snapshot");
    };
    let containers_bytes =
        text.len() - serde_json::to_string(&snapshot.host).map_or(0, |h| h.len());
    let per_container = containers_bytes / N;
    let steps = server
        .get(&format!("/containers/{}/steps", ids[0]))
        .send()
        .await
        .expect("GET steps");
    let steps_status = steps.status();
    let steps: serde_json::Value = steps.json().await.expect("json");
    let missing = server
        .get("/containers/no-such/steps")
        .send()
        .await
        .expect("GET steps")
        .status();
    server.shutdown().await;

    eprintln!(
        "snapshot: {} bytes, {per_container} bytes per container",
        text.len()
    );
    assert!(per_container <= 1100, "{per_container} bytes per container");
    assert_eq!(snapshot.containers.len(), N);
    for c in &snapshot.containers {
        assert!(
            c.setup.is_empty() && c.setup_us > 0,
            "steps on demand, their time kept"
        );
        assert!(!c.processes.is_empty());
        for p in &c.processes {
            assert_eq!(c.process_namespaces(p).len(), c.namespaces.len());
        }
    }
    assert_eq!(steps_status, 200);
    assert!(!steps["setup"].as_array().expect("steps").is_empty());
    assert_eq!(steps["isolation"]["no_new_privs"], true);
    assert_eq!(missing, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_name_only_what_changed_at_the_rate_asked_with_a_floor() {
    let server = TestServer::start("stats").await;
    // One container forks every 100 ms (its figures change); one only sleeps.
    let busy = server
        .create(json!({"command": ["/bin/sh", "-c", "while :; do sleep 0.1; done"], "tty": false}))
        .await;
    let idle = server
        .create(json!({"command": ["/bin/sleep", "1000"], "tty": false}))
        .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut fast = server.socket("/events?stats_ms=10").await;
    let mut default = server.socket("/events").await;
    let (fast_stats, default_stats) = tokio::join!(
        stats_during(&mut fast, Duration::from_secs(3)),
        stats_during(&mut default, Duration::from_secs(3)),
    );
    server.shutdown().await;

    let count =
        |all: &[Vec<String>], id: &str| all.iter().filter(|s| s.contains(&id.to_string())).count();
    eprintln!(
        "stats_ms=10: {} events, busy in {}, idle in {}; default: {} events",
        fast_stats.len(),
        count(&fast_stats, &busy),
        count(&fast_stats, &idle),
        default_stats.len()
    );
    // The floor is 250 ms: at most 12 in 3 s (a tick at connect, then every 250 ms).
    assert!(fast_stats.len() <= 13, "{} stats in 3 s", fast_stats.len());
    assert!(fast_stats.len() >= 6, "{} stats in 3 s", fast_stats.len());
    assert!(
        default_stats.len() <= 4,
        "{} stats in 3 s by default",
        default_stats.len()
    );
    assert!(
        count(&fast_stats, &busy) >= 5,
        "the busy one changes: {fast_stats:?}"
    );
    assert!(
        count(&fast_stats, &idle) <= 1,
        "the idle one does not: {fast_stats:?}"
    );
    assert!(
        fast_stats.iter().all(|s| !s.is_empty()),
        "no empty stats are sent"
    );
}

/// This process's resident memory, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_costs_bounded_memory_and_gets_a_snapshot() {
    let server = TestServer::start("slow").await;
    let mut slow = server.socket("/events").await;
    let _ = snapshot_text(&mut slow).await;
    let process = |pid: u32| ProcessInfo {
        host_pid: pid,
        nspid: vec![pid],
        ppid: 1,
        cmdline: "x".repeat(4096),
        state: "S".into(),
        uid: 0,
        namespaces: BTreeMap::new(),
    };
    const EVENTS: u32 = 30_000;
    let before = rss_kib();
    // 30000 events of about 4 KB (120 MB in all) while the client reads nothing.
    for i in 0..EVENTS {
        server.state.hub().publish(EventKind::ProcessStarted {
            container: None,
            process: process(1_000_000 + i),
        });
        server.state.hub().publish(EventKind::ProcessExited {
            container: None,
            host_pid: 1_000_000 + i,
        });
        if i % 1000 == 0 {
            tokio::task::yield_now().await;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let grown_mib = rss_kib().saturating_sub(before) / 1024;
    // Now it reads: what the kernel's buffers held, then a fresh snapshot.
    let mut frames_before_snapshot = 0u32;
    let mut got_snapshot = false;
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        let Ok(Some(Ok(frame))) = tokio::time::timeout(WAIT, slow.next()).await else {
            break;
        };
        if let Message::Text(t) = frame {
            if t.starts_with(r#"{"type":"snapshot""#) {
                got_snapshot = true;
                break;
            }
            frames_before_snapshot += 1;
        }
    }
    server.shutdown().await;

    eprintln!("rss grew {grown_mib} MiB; {frames_before_snapshot} frames before the snapshot");
    assert!(
        got_snapshot,
        "the slow client is started over with a snapshot"
    );
    assert!(
        frames_before_snapshot < EVENTS,
        "{frames_before_snapshot} frames were queued for it"
    );
    // The replay buffer (4096 events) and the broadcast ring (1024) hold about 40 MB
    // of these events; 240 MB would be queued for the client without a bound.
    assert!(grown_mib < 100, "memory grew {grown_mib} MiB");
}
