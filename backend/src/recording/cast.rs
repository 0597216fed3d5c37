//! The asciicast v2 format: a JSON header line, then one JSON array per event,
//! `[seconds, "o" | "r" | "m", data]`. Pure: no IO.
//!
//! The header carries the cap in a key of its own (`x_isolab`); readers ignore keys
//! they do not know. Its `truncated` is written as `false` and, should the cap be
//! reached, overwritten in place with `true ` (the same length; JSON allows the space),
//! so a header never has to be rewritten whole.
//!
//! So that a player can rebuild the container as it was at any moment, the header's
//! `x_isolab.container` holds the container's state when the recording began (when the
//! server knew it then), and each marker's text is its label, then a newline and
//! `{"x_isolab":EVENT}` with the event it marks ([`marker_data`]). Players of the format
//! show the text as the marker's label; the label alone is what a file written before
//! had.

use isolab_shared::{ContainerState, EventKind};
use serde::Serialize;

/// The media type recordings are served as.
pub const CONTENT_TYPE: &str = "application/x-asciicast";

/// Terminal size of a recording whose terminal has none (pipes).
pub const DEFAULT_SIZE: (u16, u16) = (80, 24);

/// Where `"truncated":false` is found in a header line, to be overwritten.
const TRUNCATED_FALSE: &str = "\"truncated\":false";

/// What a recording's header says.
#[derive(Clone, Debug, PartialEq)]
pub struct CastHeader {
    pub width: u16,
    pub height: u16,
    /// Unix seconds of the first event's time zero.
    pub timestamp: u64,
    pub title: String,
    pub cap_bytes: u64,
    /// The container as the server knew it when the recording began; `None` for a
    /// container being created (its `container created` marker carries it then).
    pub container: Option<ContainerState>,
}

#[derive(Serialize)]
struct HeaderJson<'a> {
    version: u8,
    width: u16,
    height: u16,
    timestamp: u64,
    title: &'a str,
    env: Env,
    x_isolab: Extension<'a>,
}

#[derive(Serialize)]
struct Env {
    #[serde(rename = "TERM")]
    term: &'static str,
}

#[derive(Serialize)]
struct Extension<'a> {
    // Before `truncated`, so the last `"truncated":false` of the line is the extension's.
    #[serde(skip_serializing_if = "Option::is_none")]
    container: Option<&'a ContainerState>,
    cap_bytes: u64,
    truncated: bool,
}

impl CastHeader {
    /// The header line (with its newline), and the offset of the `false` in it that
    /// [`TRUNCATED_MARK`] overwrites when the cap is reached.
    pub fn line(&self) -> (Vec<u8>, u64) {
        let json = HeaderJson {
            version: 2,
            width: self.width,
            height: self.height,
            timestamp: self.timestamp,
            title: &self.title,
            env: Env {
                term: "xterm-256color",
            },
            x_isolab: Extension {
                container: self.container.as_ref(),
                cap_bytes: self.cap_bytes,
                truncated: false,
            },
        };
        // A struct of strings and numbers always serializes.
        let mut line = serde_json::to_vec(&json).unwrap_or_default();
        let text = String::from_utf8_lossy(&line);
        // The title is escaped JSON, so the last match is the extension's own key.
        let at = text
            .rfind(TRUNCATED_FALSE)
            .map_or(0, |i| i + TRUNCATED_FALSE.len() - "false".len());
        line.push(b'\n');
        (line, at as u64)
    }
}

/// What overwrites the header's `false` once a recording is cut at its cap.
pub const TRUNCATED_MARK: &[u8; 5] = b"true ";

/// One event line (with its newline): `[t, "kind", "data"]`, `t` in seconds.
pub fn event_line(seconds: f64, kind: &str, data: &str) -> Vec<u8> {
    // Microseconds, as the format's own writers keep.
    let t = format!("{seconds:.6}");
    let data = serde_json::to_string(data).unwrap_or_else(|_| "\"\"".to_string());
    format!("[{t}, \"{kind}\", {data}]\n").into_bytes()
}

/// The text of a marker: `label`, then a newline and `{"x_isolab":EVENT}` with the
/// event it marks, from which a player rebuilds the container's state at that moment.
pub fn marker_data(label: &str, event: &EventKind) -> String {
    #[derive(Serialize)]
    struct Payload<'a> {
        x_isolab: &'a EventKind,
    }
    match serde_json::to_string(&Payload { x_isolab: event }) {
        Ok(payload) => format!("{label}\n{payload}"),
        Err(_) => label.to_string(),
    }
}

/// Turns terminal bytes into text across chunk boundaries: a character split between
/// two reads is held until its rest comes; bytes that are no UTF-8 become U+FFFD
/// (JSON strings hold text only).
#[derive(Default, Debug)]
pub struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    /// The text of `bytes` after what was held back, holding back an unfinished
    /// character at the end.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::with_capacity(self.pending.len());
        let mut rest: &[u8] = &self.pending;
        loop {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    out.push_str(text);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (good, bad) = rest.split_at(e.valid_up_to());
                    // from_utf8 vouched for `good`.
                    out.push_str(std::str::from_utf8(good).unwrap_or_default());
                    match e.error_len() {
                        Some(n) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            rest = &bad[n..];
                        }
                        // An unfinished character at the end: wait for its rest.
                        None => {
                            rest = bad;
                            break;
                        }
                    }
                }
            }
        }
        self.pending = rest.to_vec();
        out
    }

    /// What is still held back, as text (an unfinished character at the end).
    pub fn finish(&mut self) -> String {
        let held = std::mem::take(&mut self.pending);
        String::from_utf8_lossy(&held).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_one_json_line_and_its_mark_keeps_it_json() {
        let header = CastHeader {
            width: 120,
            height: 40,
            timestamp: 1_700_000_000,
            title: "web \"truncated\":false".into(),
            cap_bytes: 16 << 20,
            container: None,
        };
        let (mut line, at) = header.line();
        assert_eq!(line.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&line).expect("json");
        assert_eq!(v["version"], 2);
        assert_eq!(v["width"], 120);
        assert_eq!(v["x_isolab"]["cap_bytes"], 16 << 20);
        assert_eq!(v["x_isolab"]["truncated"], false);
        let at = at as usize;
        line[at..at + 5].copy_from_slice(TRUNCATED_MARK);
        let v: serde_json::Value = serde_json::from_slice(&line).expect("still json");
        assert_eq!(v["x_isolab"]["truncated"], true);
        assert_eq!(v["title"], "web \"truncated\":false");
    }

    #[test]
    fn the_header_carries_the_container_before_its_truncated_flag() {
        let mut container = isolab_shared::ContainerState {
            id: "c1".into(),
            name: "web".into(),
            spec: Default::default(),
            status: isolab_shared::ContainerStatus::Running,
            exit: None,
            init_pid: Some(42),
            created_at_ms: 1,
            started_at_ms: Some(2),
            processes: vec![],
            namespaces: Default::default(),
            cgroup: None,
            interfaces: vec![],
            setup: vec![],
            isolation: Default::default(),
            setup_us: 0,
            owner: None,
        };
        container.spec.hostname = Some("\"truncated\":false".into());
        let header = CastHeader {
            width: 80,
            height: 24,
            timestamp: 1,
            title: "web".into(),
            cap_bytes: 1024,
            container: Some(container.clone()),
        };
        let (mut line, at) = header.line();
        let at = at as usize;
        line[at..at + 5].copy_from_slice(TRUNCATED_MARK);
        let v: serde_json::Value = serde_json::from_slice(&line).expect("still json");
        assert_eq!(v["x_isolab"]["truncated"], true);
        let back: isolab_shared::ContainerState =
            serde_json::from_value(v["x_isolab"]["container"].clone()).expect("a container");
        assert_eq!(back, container);
    }

    #[test]
    fn a_marker_is_its_label_then_the_event_it_marks() {
        let event = EventKind::LimitsChanged {
            id: "c1".into(),
            limits: isolab_shared::limits::Limits {
                pids: Some(64),
                memory_bytes: Some(1 << 26),
                cpus: Some(0.5),
            },
        };
        let data = marker_data("limits changed", &event);
        let (label, payload) = data.split_once('\n').expect("two lines");
        assert_eq!(label, "limits changed");
        let v: serde_json::Value = serde_json::from_str(payload).expect("json");
        let back: EventKind = serde_json::from_value(v["x_isolab"].clone()).expect("an event");
        assert_eq!(back, event);
        // As an asciicast line, the marker stays one line of JSON.
        let line = event_line(0.5, "m", &data);
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
    }

    #[test]
    fn events_are_json_arrays() {
        let line = event_line(1.5, "o", "a\"b\n\u{1b}[0m");
        let v: serde_json::Value = serde_json::from_slice(&line).expect("json");
        assert_eq!(v[0].as_f64(), Some(1.5));
        assert_eq!(v[1], "o");
        assert_eq!(v[2], "a\"b\n\u{1b}[0m");
    }

    #[test]
    fn characters_split_between_reads_are_kept_whole() {
        let text = "héllo ✓ ok";
        let bytes = text.as_bytes();
        for cut in 0..bytes.len() {
            let mut stream = Utf8Stream::default();
            let mut out = stream.push(&bytes[..cut]);
            out += &stream.push(&bytes[cut..]);
            out += &stream.finish();
            assert_eq!(out, text, "cut at {cut}");
        }
        let mut stream = Utf8Stream::default();
        assert_eq!(stream.push(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(stream.push(b"\xe2\x9c"), "");
        assert_eq!(stream.finish(), "\u{fffd}");
    }
}
