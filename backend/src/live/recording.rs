//! Recording a server's terminals: the recordings opened with the supervisor, and each
//! container's events as markers in its recordings under way. Each terminal session's
//! recording is begun by the supervisor ([`super::Supervisor::record`]).

use std::collections::HashMap;
use std::sync::Arc;

use isolab_shared::{EventKind, LimitKind};
use tokio::sync::broadcast::error::RecvError;

use super::hub::EventHub;
use crate::recording::cast::marker_data;
use crate::recording::{RecordingConfig, Recordings};

/// Opens the recordings of `state_root` and starts marking `hub`'s events in them;
/// `None` (and a warning) when its index cannot be opened.
pub(super) fn open(
    config: &RecordingConfig,
    state_root: &std::path::Path,
    hub: &EventHub,
) -> Option<Arc<Recordings>> {
    match Recordings::open(state_root, config.clone()) {
        Ok(recordings) => {
            spawn_markers(hub, recordings.clone());
            recordings.spawn_retention();
            Some(recordings)
        }
        Err(e) => {
            tracing::warn!("terminals are not recorded: {e}");
            None
        }
    }
}

/// Marks each container event in that container's recordings under way: the label,
/// and the event itself for players that rebuild the container at each moment.
fn spawn_markers(hub: &EventHub, recordings: Arc<Recordings>) {
    let mut live = hub.subscribe(None).live;
    tokio::spawn(async move {
        // Exits name only the host PID: remember what each PID ran.
        let mut commands: HashMap<u32, String> = HashMap::new();
        loop {
            match live.recv().await {
                Ok(event) => {
                    let kind = &event.event.kind;
                    if let Some((container, label)) = marker_of(kind, &mut commands) {
                        recordings.marker(container, &marker_data(&label, kind));
                    }
                }
                // Markers are notes beside the output: missing a few is no harm.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    });
}

/// The container an event is about and the marker's label, for the events a
/// recording marks.
fn marker_of<'a>(
    kind: &'a EventKind,
    commands: &mut HashMap<u32, String>,
) -> Option<(&'a str, String)> {
    match kind {
        // Carries the whole container: a recording that began with its creation has
        // no container in its header.
        EventKind::ContainerCreated { container } => Some((
            &container.id,
            format!("container created ({})", container.spec.image),
        )),
        EventKind::ContainerStarted { id, init_pid } => {
            Some((id, format!("container started (init: host pid {init_pid})")))
        }
        EventKind::ProcessStarted {
            container: Some(id),
            process,
        } => {
            let pid = process.nspid.last().copied().unwrap_or(process.host_pid);
            if commands.len() > 65_536 {
                // Exits that never came: drop the notes rather than grow forever.
                commands.clear();
            }
            commands.insert(process.host_pid, process.cmdline.clone());
            Some((
                id,
                format!("process started: pid {pid}: {}", process.cmdline),
            ))
        }
        EventKind::ProcessExited {
            container: Some(id),
            host_pid,
        } => {
            let command = commands.remove(host_pid).unwrap_or_default();
            Some((
                id,
                format!("process exited: host pid {host_pid}: {command}"),
            ))
        }
        EventKind::ContainerExited { id, exit } => {
            let how = match (exit.code, exit.signal) {
                (Some(code), _) => format!("code {code}"),
                (None, Some(signal)) => format!("signal {signal}"),
                (None, None) => "status unknown".to_string(),
            };
            Some((id, format!("container exited: {how}")))
        }
        EventKind::ContainerOomKilled { id } => Some((id, "OOM kill".to_string())),
        EventKind::LimitHit { id, limit } => {
            let limit = match limit {
                LimitKind::Pids => "pids",
                LimitKind::Memory => "memory",
                LimitKind::Cpu => "cpu",
            };
            Some((id, format!("limit hit: {limit}")))
        }
        EventKind::LimitsChanged { id, .. } => Some((id, "limits changed".to_string())),
        _ => None,
    }
}
