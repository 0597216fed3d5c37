//! permessage-deflate on the WebSockets, read off the wire: a client that offers it
//! gets it, and compressed messages that inflate to the right ones; a client that does
//! not gets plain frames. Both kinds watch the same server side by side.

use crate::support::raw_ws::{RawMessage, RawSocket};
use crate::support::server as support;

use std::time::Duration;

use isolab_shared::{EventKind, StreamMessage, TerminalNotice};
use serde_json::json;
use support::*;

const WAIT: Duration = Duration::from_secs(15);

async fn next(ws: &mut RawSocket) -> RawMessage {
    tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("a message in time")
        .expect("a message")
}

fn stream_message(m: &RawMessage) -> StreamMessage {
    assert_eq!(m.opcode, 1, "a text message");
    serde_json::from_str(m.text()).expect("a StreamMessage")
}

/// Reads until a stats event comes (containers' figures change as they start).
async fn until_stats(ws: &mut RawSocket) -> Vec<RawMessage> {
    let mut seen = Vec::new();
    loop {
        let m = next(ws).await;
        let is_stats = matches!(
            stream_message(&m),
            StreamMessage::Event { event } if matches!(event.kind, EventKind::Stats { .. })
        );
        seen.push(m);
        if is_stats {
            return seen;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_deflated_for_clients_that_offer_it_and_plain_for_the_others() {
    let server = TestServer::start("deflate-events").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            server
                .create(json!({"command": ["/bin/sh"], "tty": true}))
                .await,
        );
    }
    let addr = server.addr.to_string();
    let path = format!("/api/v1/events?token={TOKEN}");
    let mut deflated = RawSocket::connect(&addr, &path, true)
        .await
        .expect("upgrade with deflate offered");
    let mut plain = RawSocket::connect(&addr, &path, false)
        .await
        .expect("upgrade without an offer");

    let deflated_snapshot = next(&mut deflated).await;
    let plain_snapshot = next(&mut plain).await;
    let deflated_later = until_stats(&mut deflated).await;
    let plain_later = until_stats(&mut plain).await;
    // A resync answers with a snapshot, inflated with the context the stream kept.
    deflated
        .send_text(r#"{"type":"resync"}"#)
        .await
        .expect("send");
    let resynced = loop {
        let m = next(&mut deflated).await;
        if matches!(stream_message(&m), StreamMessage::Snapshot { .. }) {
            break m;
        }
    };
    server.shutdown().await;

    assert!(
        deflated
            .extensions
            .as_deref()
            .is_some_and(|e| e.starts_with("permessage-deflate")),
        "the offer was taken: {:?}",
        deflated.extensions
    );
    assert_eq!(
        plain.extensions, None,
        "nothing was offered, nothing agreed"
    );
    for snapshot in [&deflated_snapshot, &resynced] {
        assert!(snapshot.compressed, "the snapshot comes deflated");
        match stream_message(snapshot) {
            StreamMessage::Snapshot { snapshot } => {
                let mut got: Vec<_> = snapshot.containers.iter().map(|c| c.id.clone()).collect();
                got.sort();
                let mut want = ids.clone();
                want.sort();
                assert_eq!(got, want);
            }
            other => panic!("expected a snapshot, got {other:?}"),
        }
    }
    assert_eq!(
        deflated_snapshot.payload, plain_snapshot.payload,
        "the same snapshot, inflated"
    );
    eprintln!(
        "snapshot: {} bytes plain, {} on the wire deflated",
        plain_snapshot.wire_bytes, deflated_snapshot.wire_bytes
    );
    assert!(deflated_snapshot.wire_bytes * 2 < plain_snapshot.wire_bytes);
    assert!(deflated_later.iter().any(|m| m.compressed));
    assert!(
        plain_later
            .iter()
            .chain([&plain_snapshot])
            .all(|m| !m.compressed),
        "no compressed frame without the extension"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_output_is_deflated_for_a_viewer_that_offers_it() {
    let server = TestServer::start("deflate-terminal").await;
    let id = server
        .create(json!({"command": ["/bin/sh"], "tty": true}))
        .await;
    let addr = server.addr.to_string();
    let path = format!("/api/v1/containers/{id}/terminal?mode=view&token={TOKEN}");
    let mut viewer = RawSocket::connect(&addr, &path, true)
        .await
        .expect("upgrade with deflate offered");
    let mut control = TerminalClient::open(&server, &format!("/containers/{id}/terminal")).await;
    control.type_text("seq 1 2000; echo done-$((6*7))\n").await;
    control.read_until("done-42", WAIT).await;

    let attached = next(&mut viewer).await;
    let mut output = Vec::new();
    let mut compressed = 0;
    while !String::from_utf8_lossy(&output).contains("done-42") {
        let m = next(&mut viewer).await;
        assert_eq!(m.opcode, 2, "terminal output is binary");
        compressed += usize::from(m.compressed);
        output.extend_from_slice(&m.payload);
    }
    server.shutdown().await;

    assert!(viewer.deflate());
    assert!(
        !attached.compressed,
        "a short notice goes out as it is (under the threshold)"
    );
    assert!(matches!(
        serde_json::from_slice::<TerminalNotice>(&attached.payload),
        Ok(TerminalNotice::Attached {
            read_only: true,
            ..
        })
    ));
    let text = String::from_utf8_lossy(&output);
    assert!(text.contains("1999\r\n2000\r\n"), "the output, inflated");
    assert!(compressed > 0, "some output came deflated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_get_on_a_websocket_route_is_a_bad_request() {
    let server = TestServer::start("not-upgrade").await;
    let status = server.get("/events").send().await.expect("GET").status();
    let body: serde_json::Value = server
        .get("/events")
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("a JSON error");
    server.shutdown().await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "bad_request");
}
