//! The event stream: its messages, and how an [`Event`] changes a [`Snapshot`].
//!
//! The server keeps its snapshot current with [`Snapshot::apply`], and so does every
//! client, so both always agree on what the stream means.

use serde::{Deserialize, Serialize};

use crate::protocol::{
    ApiErrorBody, ContainerState, ContainerStatus, Event, EventKind, ExitStatus, Snapshot,
};

/// How often stats go to an events client that does not ask (`?stats_ms=`).
pub const STATS_MS_DEFAULT: u64 = 1000;
/// The shortest stats period a client may ask for.
pub const STATS_MS_FLOOR: u64 = 250;

/// A message from the server on the events WebSocket (a JSON text frame).
/// (Deserialize: [`crate::wire`].)
#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamMessage {
    /// The whole state; always the first message, and again after a gap.
    Snapshot { snapshot: Snapshot },
    /// One change, in sequence order.
    Event { event: Event },
    /// Something the client sent was refused; the socket stays open.
    Error { error: ApiErrorBody },
}

/// A message from a client on the events WebSocket.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Asks for a fresh snapshot.
    Resync,
    /// Keeps the connection alive; answered by nothing.
    Ping,
}

impl Snapshot {
    /// Folds one event into the snapshot. Events older than the snapshot are ignored,
    /// so replaying an overlap is harmless. Stats are samples, not numbered changes:
    /// they carry the number of the last event before them, always apply (each
    /// overwrites the figures it names) and leave `seq` as it is.
    pub fn apply(&mut self, event: &Event) {
        if let EventKind::Stats { usage } = &event.kind {
            for c in &mut self.containers {
                if let Some(u) = usage.get(&c.id) {
                    c.cgroup = Some(u.clone());
                }
            }
            return;
        }
        if event.seq <= self.seq && self.seq != 0 {
            return;
        }
        self.seq = event.seq;
        match &event.kind {
            EventKind::ContainerCreated { container }
            | EventKind::ContainerAdopted { container } => {
                self.upsert(container.as_ref().clone());
            }
            EventKind::ContainerStarted { id, init_pid } => {
                if let Some(c) = self.container_mut(id) {
                    c.status = ContainerStatus::Running;
                    c.init_pid = Some(*init_pid);
                    c.started_at_ms = Some(event.at_ms);
                }
            }
            EventKind::ContainerExited { id, exit } => {
                if let Some(c) = self.container_mut(id) {
                    c.status = ContainerStatus::Exited;
                    c.exit = Some(exit.clone());
                    c.processes.clear();
                }
            }
            EventKind::ContainerOomKilled { id } => {
                if let Some(c) = self.container_mut(id) {
                    c.exit.get_or_insert_with(ExitStatus::default).oom_killed = true;
                }
            }
            EventKind::ContainerRemoved { id } | EventKind::ContainerCleaned { id } => {
                self.containers.retain(|c| &c.id != id);
            }
            EventKind::ProcessStarted { container, process } => {
                let list = match container {
                    Some(id) => match self.container_mut(id) {
                        Some(c) => &mut c.processes,
                        None => return,
                    },
                    None => &mut self.host.processes,
                };
                list.retain(|p| p.host_pid != process.host_pid);
                list.push(process.clone());
            }
            EventKind::ProcessExited {
                container,
                host_pid,
            } => match container {
                Some(id) => {
                    if let Some(c) = self.container_mut(id) {
                        c.processes.retain(|p| p.host_pid != *host_pid);
                    }
                }
                None => self.host.processes.retain(|p| p.host_pid != *host_pid),
            },
            EventKind::LimitsChanged { id, limits } => {
                if let Some(c) = self.container_mut(id) {
                    c.spec.limits = limits.clone();
                }
            }
            EventKind::Stats { .. } | EventKind::LimitHit { .. } => {}
        }
    }

    /// The container with `id`, if present.
    pub fn container(&self, id: &str) -> Option<&ContainerState> {
        self.containers.iter().find(|c| c.id == id)
    }

    fn container_mut(&mut self, id: &str) -> Option<&mut ContainerState> {
        self.containers.iter_mut().find(|c| c.id == id)
    }

    fn upsert(&mut self, container: ContainerState) {
        match self.container_mut(&container.id) {
            Some(existing) => *existing = container,
            None => self.containers.push(container),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ContainerSpec, IsolationFacts, ProcessInfo};

    fn container(id: &str) -> ContainerState {
        ContainerState {
            id: id.into(),
            name: id.into(),
            spec: ContainerSpec::default(),
            status: ContainerStatus::Created,
            exit: None,
            init_pid: None,
            created_at_ms: 1,
            started_at_ms: None,
            processes: vec![],
            namespaces: Default::default(),
            cgroup: None,
            interfaces: vec![],
            setup: vec![],
            isolation: IsolationFacts::default(),
            owner: None,
            setup_us: 0,
        }
    }

    fn process(pid: u32) -> ProcessInfo {
        ProcessInfo {
            host_pid: pid,
            nspid: vec![pid, 1],
            ppid: 1,
            cmdline: "/bin/sh".into(),
            state: "S".into(),
            uid: 0,
            namespaces: Default::default(),
        }
    }

    fn ev(seq: u64, kind: EventKind) -> Event {
        Event {
            seq,
            at_ms: seq * 10,
            kind,
        }
    }

    #[test]
    fn a_container_lives_through_its_events() {
        let mut s = Snapshot::default();
        s.apply(&ev(
            1,
            EventKind::ContainerCreated {
                container: Box::new(container("a")),
            },
        ));
        s.apply(&ev(
            2,
            EventKind::ContainerStarted {
                id: "a".into(),
                init_pid: 42,
            },
        ));
        s.apply(&ev(
            3,
            EventKind::ProcessStarted {
                container: Some("a".into()),
                process: process(43),
            },
        ));
        let c = s.container("a").expect("created");
        assert_eq!(c.status, ContainerStatus::Running);
        assert_eq!(c.init_pid, Some(42));
        assert_eq!(c.started_at_ms, Some(20));
        assert_eq!(c.processes.len(), 1);
        s.apply(&ev(
            4,
            EventKind::ProcessExited {
                container: Some("a".into()),
                host_pid: 43,
            },
        ));
        assert!(s.container("a").expect("still there").processes.is_empty());
        s.apply(&ev(
            5,
            EventKind::ContainerExited {
                id: "a".into(),
                exit: ExitStatus {
                    code: None,
                    signal: Some(9),
                    oom_killed: false,
                },
            },
        ));
        s.apply(&ev(6, EventKind::ContainerOomKilled { id: "a".into() }));
        let exit = s
            .container("a")
            .and_then(|c| c.exit.clone())
            .expect("exited");
        assert!(exit.oom_killed);
        s.apply(&ev(7, EventKind::ContainerRemoved { id: "a".into() }));
        assert!(s.containers.is_empty());
        assert_eq!(s.seq, 7);
    }

    #[test]
    fn old_events_are_ignored() {
        let mut s = Snapshot {
            seq: 10,
            ..Default::default()
        };
        s.apply(&ev(
            3,
            EventKind::ContainerCreated {
                container: Box::new(container("old")),
            },
        ));
        assert!(s.containers.is_empty());
        assert_eq!(s.seq, 10);
    }

    #[test]
    fn stream_messages_are_tagged() {
        let m = StreamMessage::Event {
            event: ev(1, EventKind::ContainerRemoved { id: "x".into() }),
        };
        let v = serde_json::to_value(&m).expect("serializes");
        assert_eq!(v["type"], "event");
        assert_eq!(v["event"]["type"], "container_removed");
        let c: ClientMessage = serde_json::from_str(r#"{"type":"resync"}"#).expect("parses");
        assert_eq!(c, ClientMessage::Resync);
        assert!(serde_json::from_str::<ClientMessage>(r#"{"type":"dance"}"#).is_err());
    }
}
