//! Reading an asciicast v2 recording: the header line, then `[seconds, code, data]`
//! lines. isolab's markers carry, after their label's line, `{"x_isolab":EVENT}` with
//! the container event they mark, and its header may carry the container as it was
//! when the recording began (docs/api.md, "Recordings"); files without them (older
//! ones, or another tool's) still read, with labels only.

use isolab_shared::{ContainerState, EventKind};
use serde::Deserialize;

/// One event of a recording.
#[derive(Clone, Debug, PartialEq)]
pub enum CastEvent {
    /// Terminal output.
    Output(String),
    /// The terminal's new size (columns, rows).
    Resize(u16, u16),
    /// A marker: its label, and the container event it marks when it says.
    Marker {
        label: String,
        event: Option<Box<EventKind>>,
    },
}

/// A recording, read whole.
#[derive(Clone, Debug, PartialEq)]
pub struct Cast {
    pub width: u16,
    pub height: u16,
    pub title: String,
    /// Unix seconds of time zero.
    pub timestamp: u64,
    /// Whether the server cut it at its cap.
    pub truncated: bool,
    /// The container when the recording began (isolab's header extension).
    pub container: Option<ContainerState>,
    /// Events in time order, each with its time in seconds.
    pub events: Vec<(f64, CastEvent)>,
}

#[derive(Deserialize)]
struct Header {
    version: u8,
    width: u16,
    height: u16,
    #[serde(default)]
    timestamp: u64,
    #[serde(default)]
    title: String,
    #[serde(default)]
    x_isolab: Option<Extension>,
}

#[derive(Deserialize)]
struct Extension {
    #[serde(default)]
    truncated: bool,
    #[serde(default)]
    container: Option<ContainerState>,
}

#[derive(Deserialize)]
struct MarkerPayload {
    x_isolab: EventKind,
}

/// Splits a marker's text into its label and the event its last line carries.
pub fn read_marker(data: &str) -> (String, Option<Box<EventKind>>) {
    if let Some((label, payload)) = data.rsplit_once('\n') {
        if let Ok(p) = serde_json::from_str::<MarkerPayload>(payload) {
            return (label.to_string(), Some(Box::new(p.x_isolab)));
        }
    }
    (data.to_string(), None)
}

impl Cast {
    /// Reads `text`; the error names the line that is not asciicast v2.
    pub fn parse(text: &str) -> Result<Cast, String> {
        let mut lines = text.lines().enumerate();
        let (_, first) = lines.next().ok_or("the recording is empty")?;
        let header: Header = serde_json::from_str(first)
            .map_err(|e| format!("line 1 is no asciicast header: {e}"))?;
        if header.version != 2 {
            return Err(format!(
                "asciicast version {} (only 2 is read)",
                header.version
            ));
        }
        let (truncated, container) = header
            .x_isolab
            .map_or((false, None), |x| (x.truncated, x.container));
        let mut events = Vec::new();
        let mut last = 0.0f64;
        for (n, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let (at, code, data): (f64, String, String) = serde_json::from_str(line)
                .map_err(|e| format!("line {} is no asciicast event: {e}", n + 1))?;
            // Times never go back; a writer's rounding that does is clamped.
            let at = at.max(last);
            last = at;
            let event = match code.as_str() {
                "o" => CastEvent::Output(data),
                "r" => match data.split_once('x').map(|(c, r)| (c.parse(), r.parse())) {
                    Some((Ok(c), Ok(r))) => CastEvent::Resize(c, r),
                    _ => return Err(format!("line {}: a resize is COLSxROWS", n + 1)),
                },
                "m" => {
                    let (label, event) = read_marker(&data);
                    CastEvent::Marker { label, event }
                }
                // Input ("i") and codes of later versions do not change the screen.
                _ => continue,
            };
            events.push((at, event));
        }
        Ok(Cast {
            width: header.width,
            height: header.height,
            title: header.title,
            timestamp: header.timestamp,
            truncated,
            container,
            events,
        })
    }

    /// The time of the last event, in seconds.
    pub fn duration(&self) -> f64 {
        self.events.last().map_or(0.0, |e| e.0)
    }

    /// The markers: (index of the event, time, label).
    pub fn markers(&self) -> Vec<(usize, f64, &str)> {
        self.events
            .iter()
            .enumerate()
            .filter_map(|(i, (at, e))| match e {
                CastEvent::Marker { label, .. } => Some((i, *at, label.as_str())),
                _ => None,
            })
            .collect()
    }
}
