//! A strict reader of asciicast v2 files, the `asciinema` package's own reader when
//! installed, and waiting for a recording to end, for the recording tests.

#![allow(dead_code)]

use std::time::Duration;

use futures::StreamExt;
use isolab_shared::TerminalNotice;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::support::server::{Socket, TestServer};

/// A recording as read: its header and its events.
#[derive(Debug)]
pub struct Cast {
    pub header: Value,
    pub events: Vec<(f64, String, String)>,
}

impl Cast {
    /// Reads a cast strictly: a header object with version 2 and a positive integer
    /// size, then lines of `[seconds, "o"|"r"|"m", text]` whose times never go back,
    /// every line ending in a newline; panics on anything else.
    pub fn parse(bytes: &[u8]) -> Cast {
        let text = std::str::from_utf8(bytes).expect("a cast is UTF-8");
        assert!(text.ends_with('\n'), "the last line has no newline");
        let mut lines = text.lines();
        let header: Value =
            serde_json::from_str(lines.next().expect("a header line")).expect("the header is JSON");
        assert!(header.is_object(), "the header is an object: {header}");
        assert_eq!(header["version"], 2, "{header}");
        for key in ["width", "height", "timestamp"] {
            assert!(
                header[key].as_u64().is_some_and(|n| n > 0),
                "header {key}: {header}"
            );
        }
        let mut events = Vec::new();
        let mut last = 0.0;
        for line in lines {
            let v: Value = serde_json::from_str(line).expect("an event line is JSON");
            let array = v.as_array().expect("an event is an array");
            assert_eq!(array.len(), 3, "{line}");
            let t = array[0].as_f64().expect("a time");
            assert!(t >= last, "time goes back at {line}");
            last = t;
            let kind = array[1].as_str().expect("a type").to_string();
            let data = array[2].as_str().expect("text data").to_string();
            match kind.as_str() {
                "o" | "m" => {}
                "r" => {
                    let (c, r) = data.split_once('x').expect("COLSxROWS");
                    assert!(
                        c.parse::<u16>().is_ok() && r.parse::<u16>().is_ok(),
                        "{line}"
                    );
                }
                other => panic!("unknown event type {other}"),
            }
            events.push((t, kind, data));
        }
        Cast { header, events }
    }

    /// The output, all `"o"` events joined.
    pub fn output(&self) -> String {
        self.events
            .iter()
            .filter(|e| e.1 == "o")
            .map(|e| e.2.as_str())
            .collect()
    }

    /// The labels of the markers.
    pub fn markers(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter(|e| e.1 == "m")
            .map(|e| e.2.as_str())
            .collect()
    }

    /// The events the markers carry after their label (`{"x_isolab":EVENT}` on the
    /// marker's second line), in order; panics on a payload that is not one.
    pub fn marked_events(&self) -> Vec<isolab_shared::EventKind> {
        self.markers()
            .into_iter()
            .filter_map(|m| m.split_once('\n'))
            .map(|(_, payload)| {
                let v: Value = serde_json::from_str(payload).expect("a marker's payload is JSON");
                serde_json::from_value(v["x_isolab"].clone())
                    .expect("a marker's payload is an event")
            })
            .collect()
    }

    /// The container as the header and the markers' events rebuild it at the end.
    pub fn rebuilt(&self) -> isolab_shared::Snapshot {
        let mut snapshot = isolab_shared::Snapshot::default();
        if let Some(c) = self.header["x_isolab"].get("container") {
            snapshot
                .containers
                .push(serde_json::from_value(c.clone()).expect("the header's container"));
        }
        for (n, kind) in self.marked_events().into_iter().enumerate() {
            snapshot.apply(&isolab_shared::Event {
                seq: n as u64 + 1,
                at_ms: 0,
                kind,
            });
        }
        snapshot
    }

    /// The data of the resizes.
    pub fn resizes(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter(|e| e.1 == "r")
            .map(|e| e.2.as_str())
            .collect()
    }
}

/// The output `asciinema cat` prints of `bytes`, or `None` when the package (or
/// `script`, which gives it the terminal it insists on) is not installed; panics if
/// it refuses the file.
pub fn asciinema_cat(bytes: &[u8], tag: &str) -> Option<Vec<u8>> {
    let which = std::process::Command::new("sh")
        .args(["-c", "command -v asciinema && command -v script"])
        .output()
        .ok()?;
    if !which.status.success() {
        eprintln!("asciinema is not installed: the strict reader alone checks the cast");
        return None;
    }
    let dir = std::env::temp_dir();
    let base = format!("isolab-cast-{tag}-{}", std::process::id());
    let (cast, out) = (
        dir.join(format!("{base}.cast")),
        dir.join(format!("{base}.out")),
    );
    std::fs::write(&cast, bytes).expect("write the cast");
    // It opens /dev/tty: `script` runs it on a PTY of its own, its output to a file
    // so that no terminal rewrites it.
    let command = format!("asciinema cat '{}' > '{}'", cast.display(), out.display());
    let status = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("LC_ALL", "C.UTF-8")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("script runs");
    let printed = std::fs::read(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&cast);
    let _ = std::fs::remove_file(&out);
    assert!(status.success(), "asciinema cat refused the cast");
    Some(printed)
}

/// Reads a terminal socket to its end, appending its output to `output`.
pub async fn read_to_end(ws: &mut Socket, output: &mut Vec<u8>, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Err(_) => panic!(
                "the terminal did not end; output {:?}",
                String::from_utf8_lossy(output)
            ),
            Ok(Some(Ok(Message::Binary(b)))) => output.extend_from_slice(&b),
            Ok(Some(Ok(Message::Text(t)))) => {
                if let Ok(TerminalNotice::Ended) = serde_json::from_str(&t) {
                    return;
                }
            }
            Ok(Some(Ok(_))) => {}
            Ok(None) | Ok(Some(Err(_))) => return,
        }
    }
}

/// Waits until the index says recording `id`'s terminal ended; its listing entry.
pub async fn wait_ended(server: &TestServer, id: &str, within: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let list: Value = server
            .get("/recordings")
            .send()
            .await
            .expect("GET /recordings")
            .json()
            .await
            .expect("json");
        let entry = list
            .as_array()
            .and_then(|l| l.iter().find(|r| r["id"] == id))
            .cloned();
        if let Some(entry) = entry.filter(|e| !e["ended_at_ms"].is_null()) {
            return entry;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "recording {id} did not end: {list}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The id of the newest recording of container `id` (its own terminal).
pub async fn recording_of(server: &TestServer, container: &str) -> String {
    let list: Value = server
        .get("/recordings")
        .send()
        .await
        .expect("GET /recordings")
        .json()
        .await
        .expect("json");
    list.as_array()
        .and_then(|l| {
            l.iter()
                .find(|r| r["container"] == container && r["exec_id"].is_null())
        })
        .and_then(|r| r["id"].as_str())
        .unwrap_or_else(|| panic!("no recording of {container}: {list}"))
        .to_string()
}
