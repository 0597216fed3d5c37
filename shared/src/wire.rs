//! Deserialisation of the API's tagged messages ([`Event`], [`StreamMessage`],
//! [`TerminalNotice`]) without serde's buffering.
//!
//! Derived `#[serde(tag = "type")]` and `#[serde(flatten)]` impls read a whole message
//! into serde's private `Content` tree and read every type inside again from that: a
//! second copy of the deserialisation code of each type a message can carry, which
//! the page's wasm paid for. Here each message is read as one flat struct of optional
//! fields, in any field order, and checked against its `type` afterwards. The JSON is
//! the same both ways; serialisation stays derived.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::limits::Limits;
use crate::protocol::{
    ApiErrorBody, CgroupUsage, ContainerState, Event, EventKind, ExitStatus, LimitKind,
    ProcessInfo, Snapshot, TerminalNotice,
};
use crate::stream::StreamMessage;

/// The value of a field a message of this `type` needs.
fn need<T, E: de::Error>(value: Option<T>, field: &'static str) -> Result<T, E> {
    value.ok_or_else(|| E::missing_field(field))
}

/// An event's `container`: a whole container (created, adopted) or the id of the one a
/// process belongs to (process events).
enum ContainerField {
    Id(String),
    State(Box<ContainerState>),
}

impl<'de> Deserialize<'de> for ContainerField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl<'de> Visitor<'de> for FieldVisitor {
            type Value = ContainerField;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a container id or a container")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ContainerField, E> {
                Ok(ContainerField::Id(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ContainerField, A::Error> {
                ContainerState::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|c| ContainerField::State(Box::new(c)))
            }
        }
        deserializer.deserialize_any(FieldVisitor)
    }
}

/// The container of a created or adopted event.
fn whole<E: de::Error>(field: Option<ContainerField>) -> Result<Box<ContainerState>, E> {
    match need(field, "container")? {
        ContainerField::State(c) => Ok(c),
        ContainerField::Id(_) => Err(E::custom("expected a container, found an id")),
    }
}

/// The container id of a process event (`null` for a host process).
fn id_of<E: de::Error>(field: Option<ContainerField>) -> Result<Option<String>, E> {
    match field {
        None => Ok(None),
        Some(ContainerField::Id(id)) => Ok(Some(id)),
        Some(ContainerField::State(_)) => Err(E::custom("expected a container id")),
    }
}

/// Every field any event has.
#[derive(Deserialize)]
struct EventFields {
    seq: u64,
    at_ms: u64,
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    container: Option<ContainerField>,
    init_pid: Option<u32>,
    exit: Option<ExitStatus>,
    process: Option<ProcessInfo>,
    host_pid: Option<u32>,
    limit: Option<LimitKind>,
    limits: Option<Limits>,
    usage: Option<BTreeMap<String, CgroupUsage>>,
}

const EVENT_TYPES: &[&str] = &[
    "container_created",
    "container_started",
    "container_exited",
    "container_oom_killed",
    "container_removed",
    "container_adopted",
    "container_cleaned",
    "process_started",
    "process_exited",
    "limit_hit",
    "limits_changed",
    "stats",
];

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let f = EventFields::deserialize(deserializer)?;
        let id = || need(f.id.clone(), "id");
        let kind = match f.kind.as_str() {
            "container_created" => EventKind::ContainerCreated {
                container: whole(f.container)?,
            },
            "container_adopted" => EventKind::ContainerAdopted {
                container: whole(f.container)?,
            },
            "container_started" => EventKind::ContainerStarted {
                id: id()?,
                init_pid: need(f.init_pid, "init_pid")?,
            },
            "container_exited" => EventKind::ContainerExited {
                id: id()?,
                exit: need(f.exit, "exit")?,
            },
            "container_oom_killed" => EventKind::ContainerOomKilled { id: id()? },
            "container_removed" => EventKind::ContainerRemoved { id: id()? },
            "container_cleaned" => EventKind::ContainerCleaned { id: id()? },
            "process_started" => EventKind::ProcessStarted {
                container: id_of(f.container)?,
                process: need(f.process, "process")?,
            },
            "process_exited" => EventKind::ProcessExited {
                container: id_of(f.container)?,
                host_pid: need(f.host_pid, "host_pid")?,
            },
            "limit_hit" => EventKind::LimitHit {
                id: id()?,
                limit: need(f.limit, "limit")?,
            },
            "limits_changed" => EventKind::LimitsChanged {
                id: id()?,
                limits: need(f.limits, "limits")?,
            },
            "stats" => EventKind::Stats {
                usage: need(f.usage, "usage")?,
            },
            other => return Err(de::Error::unknown_variant(other, EVENT_TYPES)),
        };
        Ok(Event {
            seq: f.seq,
            at_ms: f.at_ms,
            kind,
        })
    }
}

/// Every field any stream message has.
#[derive(Deserialize)]
struct StreamFields {
    #[serde(rename = "type")]
    kind: String,
    snapshot: Option<Snapshot>,
    event: Option<Event>,
    error: Option<ApiErrorBody>,
}

impl<'de> Deserialize<'de> for StreamMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let f = StreamFields::deserialize(deserializer)?;
        Ok(match f.kind.as_str() {
            "snapshot" => StreamMessage::Snapshot {
                snapshot: need(f.snapshot, "snapshot")?,
            },
            "event" => StreamMessage::Event {
                event: need(f.event, "event")?,
            },
            "error" => StreamMessage::Error {
                error: need(f.error, "error")?,
            },
            other => {
                return Err(de::Error::unknown_variant(
                    other,
                    &["snapshot", "event", "error"],
                ))
            }
        })
    }
}

/// Every field any terminal notice has.
#[derive(Deserialize)]
struct NoticeFields {
    #[serde(rename = "type")]
    kind: String,
    offset: Option<u64>,
    read_only: Option<bool>,
    error: Option<ApiErrorBody>,
}

impl<'de> Deserialize<'de> for TerminalNotice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let f = NoticeFields::deserialize(deserializer)?;
        Ok(match f.kind.as_str() {
            "attached" => TerminalNotice::Attached {
                offset: need(f.offset, "offset")?,
                read_only: need(f.read_only, "read_only")?,
            },
            "ended" => TerminalNotice::Ended,
            "error" => TerminalNotice::Error {
                error: need(f.error, "error")?,
            },
            other => {
                return Err(de::Error::unknown_variant(
                    other,
                    &["attached", "ended", "error"],
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ContainerSpec;

    fn container() -> ContainerState {
        let json = serde_json::json!({
            "id": "c1", "name": "web", "spec": ContainerSpec::default(), "status": "running",
            "exit": null, "init_pid": 7, "created_at_ms": 1, "started_at_ms": 2,
            "processes": [], "namespaces": {}, "cgroup": null, "interfaces": [],
        });
        serde_json::from_value(json).expect("a container parses")
    }

    fn every_kind() -> Vec<EventKind> {
        let process: ProcessInfo = serde_json::from_value(serde_json::json!({
            "host_pid": 9, "nspid": [9, 1], "ppid": 7, "cmdline": "sh", "state": "S", "uid": 0,
        }))
        .expect("a process parses");
        vec![
            EventKind::ContainerCreated {
                container: Box::new(container()),
            },
            EventKind::ContainerStarted {
                id: "c1".into(),
                init_pid: 7,
            },
            EventKind::ContainerExited {
                id: "c1".into(),
                exit: ExitStatus::default(),
            },
            EventKind::ContainerOomKilled { id: "c1".into() },
            EventKind::ContainerRemoved { id: "c1".into() },
            EventKind::ContainerAdopted {
                container: Box::new(container()),
            },
            EventKind::ContainerCleaned { id: "c1".into() },
            EventKind::ProcessStarted {
                container: Some("c1".into()),
                process: process.clone(),
            },
            EventKind::ProcessStarted {
                container: None,
                process,
            },
            EventKind::ProcessExited {
                container: None,
                host_pid: 9,
            },
            EventKind::LimitHit {
                id: "c1".into(),
                limit: LimitKind::Pids,
            },
            EventKind::LimitsChanged {
                id: "c1".into(),
                limits: Limits::default(),
            },
            EventKind::Stats {
                usage: BTreeMap::from([("c1".to_string(), CgroupUsage::default())]),
            },
        ]
    }

    #[test]
    fn every_event_survives_json_in_any_field_order() {
        for (seq, kind) in every_kind().into_iter().enumerate() {
            let event = Event {
                seq: seq as u64,
                at_ms: 5,
                kind,
            };
            let text = serde_json::to_string(&event).expect("serializes");
            assert_eq!(serde_json::from_str::<Event>(&text).expect("parses"), event);
            // A Value's object is sorted by key: `type` comes after the fields.
            let value = serde_json::to_value(&event).expect("serializes");
            assert_eq!(
                serde_json::from_value::<Event>(value).expect("parses"),
                event
            );
            let message = StreamMessage::Event { event };
            let text = serde_json::to_string(&message).expect("serializes");
            assert_eq!(
                serde_json::from_str::<StreamMessage>(&text).expect("parses"),
                message
            );
        }
    }

    #[test]
    fn wrong_or_missing_fields_are_refused() {
        let bad = [
            r#"{"seq":1,"at_ms":1,"type":"dance"}"#,
            r#"{"seq":1,"at_ms":1,"type":"container_started","id":"c1"}"#,
            r#"{"seq":1,"at_ms":1,"type":"container_created","container":"c1"}"#,
            r#"{"at_ms":1,"type":"container_removed","id":"c1"}"#,
        ];
        for text in bad {
            assert!(serde_json::from_str::<Event>(text).is_err(), "{text}");
        }
        assert!(serde_json::from_str::<StreamMessage>(r#"{"type":"event"}"#).is_err());
        let notice: TerminalNotice =
            serde_json::from_str(r#"{"read_only":true,"offset":3,"type":"attached"}"#)
                .expect("parses");
        assert_eq!(
            notice,
            TerminalNotice::Attached {
                offset: 3,
                read_only: true
            }
        );
        assert_eq!(
            serde_json::from_str::<TerminalNotice>(r#"{"type":"ended"}"#).expect("parses"),
            TerminalNotice::Ended
        );
    }
}
