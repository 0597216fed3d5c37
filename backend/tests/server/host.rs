//! The host's own processes on the event stream: what starts and ends outside any
//! container reaches a dashboard as process events about no container.

use crate::support::server as support;

use std::time::Duration;

use isolab_shared::{EventKind, StreamMessage};
use support::*;

const WAIT: Duration = Duration::from_secs(15);

/// An events socket whose snapshot holds the server's first reading of the host: a
/// process started before that reading would be in it, not an event.
async fn after_first_host_reading(server: &TestServer) -> Socket {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut events = server.socket("/events").await;
        match next_message(&mut events, WAIT).await {
            Some(StreamMessage::Snapshot { snapshot }) if !snapshot.host.hostname.is_empty() => {
                return events
            }
            Some(StreamMessage::Snapshot { .. }) => {}
            other => panic!("expected a snapshot first, got {other:?}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the host was never read"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A process started on the host (outside any container) reaches the dashboard as a
/// process event about no container, and so does its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_processes_that_start_and_end_are_events() {
    let server = TestServer::start_with("hostproc", |c| {
        c.live.host_interval = Duration::from_millis(200);
    })
    .await;
    let mut events = after_first_host_reading(&server).await;
    // A command line no other process has: sleep takes a fraction.
    let seconds = format!("900.{}", std::process::id());
    /// Ends the host's sleep however the test ends.
    struct Reaped(std::process::Child);
    impl Drop for Reaped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let child = Reaped(
        std::process::Command::new("sleep")
            .arg(&seconds)
            .spawn()
            .expect("sleep starts on the host"),
    );
    let pid = child.0.id();
    let mine = |e: &isolab_shared::Event| match &e.kind {
        EventKind::ProcessStarted {
            container: None,
            process,
        } => process.host_pid == pid && process.cmdline.contains(&seconds),
        _ => false,
    };
    events_until(&mut events, WAIT, mine).await;
    drop(child);
    let ended = events_until(&mut events, WAIT, |e| {
        matches!(&e.kind, EventKind::ProcessExited { container: None, host_pid } if *host_pid == pid)
    })
    .await;
    assert!(!ended.is_empty());
    let snapshot: isolab_shared::HostState = server
        .get("/host")
        .send()
        .await
        .expect("GET /host")
        .json()
        .await
        .expect("json");
    assert!(snapshot.processes.iter().all(|p| p.host_pid != pid));
}
