//! Terminal recordings on a real server: the cast's output is byte for byte what the
//! terminal's clients got (across a reconnect), its header and events are valid
//! asciicast v2 (by a strict reader and by `asciinema cat` when installed), container
//! events are markers, the cap cuts a recording and says so, exec sessions have their
//! own, and the retention removes old ones.

use crate::support::recording as recording_support;
use crate::support::server as support;

use std::time::Duration;

use futures::SinkExt;
use recording_support::{asciinema_cat, read_to_end, recording_of, wait_ended, Cast};
use serde_json::{json, Value};
use support::{TerminalClient, TestServer};
use tokio_tungstenite::tungstenite::Message;

const WITHIN: Duration = Duration::from_secs(15);

async fn fetch(server: &TestServer, path: &str) -> (u16, String, Vec<u8>) {
    let response = server.get(path).send().await.expect("GET");
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response.bytes().await.expect("body").to_vec();
    (status, kind, body)
}

#[tokio::test]
async fn the_cast_holds_exactly_what_the_terminal_sent_across_a_reconnect() {
    let server = TestServer::start("rec-exact").await;
    let id = server
        .create(json!({"command": ["/bin/sh"], "tty": true}))
        .await;
    let mut first = TerminalClient::open(&server, &format!("/containers/{id}/terminal")).await;
    first
        .ws
        .send(Message::Text(
            r#"{"type":"resize","cols":100,"rows":30}"#.into(),
        ))
        .await
        .expect("resize");
    // Multi-byte characters, so a character split between two reads is tested too.
    first
        .type_text("printf 'h\\303\\251llo \\342\\234\\223 %s\\n' one-done; sleep 0.3\n")
        .await;
    first.read_until("héllo ✓ one-done", WITHIN).await;
    let mut received = first.output.clone();
    let _ = first.ws.close(None).await;
    // The reconnecting client says what it has; it gets exactly what follows.
    let offset = received.len();
    let mut second = TerminalClient::open(
        &server,
        &format!("/containers/{id}/terminal?offset={offset}"),
    )
    .await;
    second.type_text("seq 1 3000; exit 3\n").await;
    read_to_end(&mut second.ws, &mut second.output, WITHIN).await;
    received.extend_from_slice(&second.output);
    let rid = recording_of(&server, &id).await;
    wait_ended(&server, &rid, WITHIN).await;

    let (status, kind, body) = fetch(&server, &format!("/containers/{id}/recording")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(kind, "application/x-asciicast");
    let cast = Cast::parse(&body);
    let sent = String::from_utf8(received).expect("the shell wrote UTF-8");
    assert_eq!(
        cast.output(),
        sent,
        "the cast's output differs from the client's"
    );
    assert!(sent.contains("2999\r\n3000"), "{sent}");
    assert_eq!(cast.header["x_isolab"]["cap_bytes"], 16 << 20);
    assert_eq!(cast.header["x_isolab"]["truncated"], false);
    assert_eq!(cast.resizes(), vec!["100x30"]);
    let markers = cast.markers();
    for wanted in [
        "process started",
        "process exited",
        "container exited: code 3",
    ] {
        assert!(
            markers.iter().any(|m| m.starts_with(wanted)),
            "no marker {wanted:?} in {markers:?}"
        );
    }
    // Every marker carries its event: the container is created in the recording (so
    // the header has none), and rebuilt from the markers it ends exited, with code 3.
    assert!(cast.header["x_isolab"].get("container").is_none());
    assert_eq!(cast.marked_events().len(), markers.len(), "{markers:?}");
    let rebuilt = cast.rebuilt();
    let container = rebuilt.container(&id).expect("the container, rebuilt");
    assert_eq!(container.status, isolab_shared::ContainerStatus::Exited);
    assert_eq!(container.exit.as_ref().and_then(|e| e.code), Some(3));
    // The same file by its id, and as asciinema's own reader prints it.
    let (status, _, by_id) = fetch(&server, &format!("/recordings/{rid}")).await;
    assert_eq!((status, &by_id), (200, &body));
    if let Some(printed) = asciinema_cat(&body, "exact") {
        assert_eq!(String::from_utf8_lossy(&printed), cast.output());
    }
    server.shutdown().await;
}

#[tokio::test]
async fn an_exec_session_has_a_recording_of_its_own() {
    let server = TestServer::start("rec-exec").await;
    let id = server
        .create(json!({"command": ["/bin/sh"], "tty": true}))
        .await;
    let exec: Value = server
        .post(&format!("/containers/{id}/exec"))
        .json(&json!({"command": ["/bin/sh", "-c", "echo in-the-exec"]}))
        .send()
        .await
        .expect("exec")
        .json()
        .await
        .expect("json");
    let exec_id = exec["id"].as_str().expect("an exec id");
    let path = format!("/containers/{id}/exec/{exec_id}/recording");
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let (status, _, body) = fetch(&server, &path).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let cast = Cast::parse(&body);
        if cast.output().contains("in-the-exec") {
            // Begun in a running container, it starts from the container as it was.
            let state = cast.rebuilt();
            let container = state.containers.first().expect("the header's container");
            assert_eq!(container.id, id);
            assert!(container.spec.limits.pids.is_some(), "{container:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no exec output");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, _, _) = fetch(&server, &format!("/containers/{id}/exec/x0/recording")).await;
    assert_eq!(status, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn a_recording_past_its_cap_is_cut_and_says_so() {
    const CAP: u64 = 64 * 1024;
    let server = TestServer::start_with("rec-cap", |c| c.live.recording.cap_bytes = CAP).await;
    let id = server
        .create(json!({
            "command": ["/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a"],
            "tty": false
        }))
        .await;
    let rid = recording_of(&server, &id).await;
    let entry = wait_ended(&server, &rid, WITHIN).await;
    assert_eq!(entry["truncated"], true, "{entry}");
    let (status, _, body) = fetch(&server, &format!("/containers/{id}/recording")).await;
    assert_eq!(status, 200);
    assert!(body.len() as u64 <= CAP, "{} bytes", body.len());
    assert_eq!(entry["bytes"], body.len());
    let cast = Cast::parse(&body);
    assert_eq!(cast.header["x_isolab"]["truncated"], true);
    assert_eq!(cast.header["x_isolab"]["cap_bytes"], CAP);
    let output = cast.output();
    assert!(output.len() > 32 * 1024 && output.bytes().all(|b| b == b'a'));
    assert!(cast
        .markers()
        .last()
        .is_some_and(|m| m.starts_with("recording cut")));
    if let Some(printed) = asciinema_cat(&body, "cap") {
        assert_eq!(printed.len(), output.len());
    }
    server.shutdown().await;
}

#[tokio::test]
async fn recordings_past_their_retention_are_removed() {
    let server = TestServer::start_with("rec-keep", |c| {
        c.live.recording.keep = Some(Duration::from_secs(1));
    })
    .await;
    let id = server
        .create(json!({"command": ["/bin/sh", "-c", "echo short-lived"], "tty": true}))
        .await;
    let rid = recording_of(&server, &id).await;
    wait_ended(&server, &rid, WITHIN).await;
    let file = server.state_root.join(format!("recording-{rid}.cast"));
    assert!(file.exists(), "{}", file.display());
    let deadline = tokio::time::Instant::now() + WITHIN;
    while fetch(&server, &format!("/recordings/{rid}")).await.0 != 404 {
        assert!(tokio::time::Instant::now() < deadline, "still kept");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!file.exists(), "the file outlived its index row");
    server.shutdown().await;
}
