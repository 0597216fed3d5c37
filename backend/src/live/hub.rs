//! The event hub: numbers events, keeps the current snapshot and a bounded replay
//! buffer, and fans events out to subscribers.
//!
//! Publishing and subscribing take the same lock, so a subscriber's starting point
//! (snapshot or replay) and its live receiver join without a gap or an overlap.
//!
//! Memory stays flat however many clients watch: each event is serialized once and
//! its frame shared by every subscriber, and so is the snapshot (per change, not per
//! client). Stats do not pass through the replay buffer or the broadcast channel at
//! all: [`StatsBook`] keeps the latest figures and each client asks for what changed
//! since its last look, at its own rate (see [`super::feed`]).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use isolab_shared::{
    CgroupUsage, ContainerState, Event, EventKind, HostState, ProcessInfo, Snapshot,
};
use serde::Serialize;
use tokio::sync::broadcast;

use super::hub_stats::{StatsBook, StatsRates};
use crate::wall_clock::now_ms;

pub use super::hub_stats::StatsRate;

/// How many past events a reconnecting client can resume from.
pub const DEFAULT_REPLAY: usize = 4096;
/// How many events a slow subscriber may fall behind before it is resynced.
const CHANNEL_CAPACITY: usize = 1024;

/// One published event and its text frame (a `StreamMessage::Event`), made once.
#[derive(Debug)]
pub struct Published {
    /// The event.
    pub event: Event,
    /// Its JSON frame, shared by every subscriber.
    pub frame: Bytes,
}

/// Where a new subscriber starts.
#[derive(Debug)]
pub enum StartPoint {
    /// The whole state: a `StreamMessage::Snapshot` frame.
    Snapshot(Bytes),
    /// The events after the sequence number it asked to resume from.
    Replay(Vec<Arc<Published>>),
}

/// A subscriber: its start point, then live events in order.
pub struct Subscription {
    pub start: StartPoint,
    pub live: broadcast::Receiver<Arc<Published>>,
    /// The stats generation its start point already shows (0: none).
    pub stats_seen: u64,
}

/// The wire form of the stream's messages, borrowing what it sends (the same JSON
/// as `isolab_shared::StreamMessage`).
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Outgoing<'a> {
    Snapshot { snapshot: &'a Snapshot },
    Event { event: &'a Event },
}

/// Serializes a stream message; the shared types always serialize, so an error
/// would be a bug, and an empty frame is what the client then skips.
fn frame(message: &Outgoing<'_>) -> Bytes {
    serde_json::to_vec(message)
        .map(Bytes::from)
        .unwrap_or_default()
}

struct HubState {
    snapshot: Snapshot,
    /// The snapshot's frame, made on first demand after each change.
    snapshot_frame: Option<Bytes>,
    replay: VecDeque<Arc<Published>>,
    replay_capacity: usize,
    stats: StatsBook,
}

/// Numbers, records and broadcasts events.
pub struct EventHub {
    state: Mutex<HubState>,
    sender: broadcast::Sender<Arc<Published>>,
    rates: Arc<StatsRates>,
}

impl EventHub {
    /// A hub that keeps the last `replay_capacity` events for resuming clients.
    pub fn new(replay_capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        EventHub {
            state: Mutex::new(HubState {
                snapshot: Snapshot::default(),
                snapshot_frame: None,
                replay: VecDeque::with_capacity(replay_capacity.min(1024)),
                replay_capacity: replay_capacity.max(1),
                stats: StatsBook::default(),
            }),
            sender,
            rates: Arc::new(StatsRates::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        // A panic while holding the lock leaves a consistent state (every update is a
        // single assignment), so a poisoned lock is still safe to use.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Numbers `kind`, folds it into the snapshot, keeps it for replay and sends it.
    /// Containers and processes go out compact (see `isolab_shared::compact`); stats
    /// go to [`EventHub::publish_stats`].
    pub fn publish(&self, kind: EventKind) -> Event {
        let kind = match kind {
            EventKind::Stats { usage } => return self.publish_stats(usage),
            other => other,
        };
        let mut state = self.lock();
        let kind = compact(kind, &state.snapshot);
        let event = Event {
            seq: state.snapshot.seq + 1,
            at_ms: now_ms(),
            kind,
        };
        state.snapshot.apply(&event);
        state.snapshot_frame = None;
        if state.replay.len() == state.replay_capacity {
            state.replay.pop_front();
        }
        let published = Arc::new(Published {
            frame: frame(&Outgoing::Event { event: &event }),
            event: event.clone(),
        });
        state.replay.push_back(published.clone());
        // No subscribers is fine: the event is in the snapshot and the replay buffer.
        let _ = self.sender.send(published);
        event
    }

    /// Records a sample of every running container's usage: the snapshot shows it,
    /// and clients get the figures that changed at their next stats tick.
    pub fn publish_stats(&self, usage: BTreeMap<String, CgroupUsage>) -> Event {
        let mut state = self.lock();
        let changed = state.stats.record(usage);
        if !changed.is_empty() {
            for c in &mut state.snapshot.containers {
                if let Some(u) = changed.get(&c.id) {
                    c.cgroup = Some(u.clone());
                }
            }
            state.snapshot_frame = None;
        }
        Event {
            seq: state.snapshot.seq,
            at_ms: now_ms(),
            kind: EventKind::Stats { usage: changed },
        }
    }

    /// The frame of a stats event with the figures changed after generation `*seen`
    /// (all of them for 0), or `None` when nothing changed; moves `*seen` on.
    pub fn stats_frame_since(&self, seen: &mut u64) -> Option<Bytes> {
        let state = self.lock();
        let (generation, usage) = state.stats.since(*seen);
        *seen = generation;
        if usage.is_empty() {
            return None;
        }
        let event = Event {
            seq: state.snapshot.seq,
            at_ms: now_ms(),
            kind: EventKind::Stats { usage },
        };
        Some(frame(&Outgoing::Event { event: &event }))
    }

    /// How often the stats loop should sample: the fastest rate a client asked for,
    /// but no slower than `default`.
    pub fn stats_period(&self, default: Duration) -> Duration {
        self.rates
            .fastest()
            .map_or(default, |fast| fast.min(default))
    }

    /// Registers a client's stats period until the returned guard is dropped.
    pub fn stats_rate(&self, period: Duration) -> StatsRate {
        StatsRate::register(&self.rates, period)
    }

    /// Takes a new reading of the host. Host processes that started, changed (an exec)
    /// or ended since the last reading are published as process events about no
    /// container, so a dashboard's map follows the host too; the rest of the reading
    /// (counts, states) only replaces the snapshot's, as it changes at every tick. The
    /// first reading is the snapshot's alone: hundreds of "started" events would only
    /// repeat it.
    pub fn set_host(&self, host: HostState) {
        let changes = {
            let state = self.lock();
            let old = &state.snapshot.host;
            if old.hostname.is_empty() {
                Vec::new()
            } else {
                host_process_changes(&old.processes, &host.processes)
            }
        };
        for kind in changes {
            self.publish(kind);
        }
        let mut state = self.lock();
        if state.snapshot.host != host {
            state.snapshot.host = host;
            state.snapshot_frame = None;
        }
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Snapshot {
        self.lock().snapshot.clone()
    }

    /// One container of the current snapshot.
    pub fn container(&self, id: &str) -> Option<ContainerState> {
        self.lock().snapshot.container(id).cloned()
    }

    /// The current snapshot's frame (a `StreamMessage::Snapshot`), shared until the
    /// snapshot changes.
    pub fn snapshot_frame(&self) -> Bytes {
        snapshot_frame(&mut self.lock())
    }

    /// The sequence number of the last event.
    pub fn last_seq(&self) -> u64 {
        self.lock().snapshot.seq
    }

    /// How many clients are subscribed.
    pub fn subscriber_count(&self) -> usize {
        self.sender.receiver_count()
    }

    /// Subscribes. With `since` inside the replay buffer, the client gets the events
    /// after it; otherwise (first connect, or too far behind) a fresh snapshot.
    pub fn subscribe(&self, since: Option<u64>) -> Subscription {
        let mut state = self.lock();
        let live = self.sender.subscribe();
        let last = state.snapshot.seq;
        let replay = |s: u64| {
            state
                .replay
                .iter()
                .filter(|e| e.event.seq > s)
                .cloned()
                .collect()
        };
        let (start, stats_seen) = match since {
            Some(s) if s == last => (StartPoint::Replay(Vec::new()), 0),
            Some(s) if s < last && state.replay.front().is_some_and(|e| e.event.seq <= s + 1) => {
                // Its figures may be old: the first stats tick sends them all.
                (StartPoint::Replay(replay(s)), 0)
            }
            _ => (
                StartPoint::Snapshot(snapshot_frame(&mut state)),
                state.stats.generation(),
            ),
        };
        Subscription {
            start,
            live,
            stats_seen,
        }
    }
}

fn snapshot_frame(state: &mut HubState) -> Bytes {
    if let Some(f) = &state.snapshot_frame {
        return f.clone();
    }
    let f = frame(&Outgoing::Snapshot {
        snapshot: &state.snapshot,
    });
    state.snapshot_frame = Some(f.clone());
    f
}

/// The events that take a host process list from `old` to `new`: ends first, then
/// starts (a process whose command line, parent, user or namespaces changed starts
/// again under its PID). A change of state letter alone is no event.
fn host_process_changes(old: &[ProcessInfo], new: &[ProcessInfo]) -> Vec<EventKind> {
    let same = |a: &ProcessInfo, b: &ProcessInfo| {
        (a.ppid, &a.cmdline, a.uid, &a.nspid, &a.namespaces)
            == (b.ppid, &b.cmdline, b.uid, &b.nspid, &b.namespaces)
    };
    let before: HashMap<u32, &ProcessInfo> = old.iter().map(|p| (p.host_pid, p)).collect();
    let after: HashSet<u32> = new.iter().map(|p| p.host_pid).collect();
    let ended = old
        .iter()
        .filter(|p| !after.contains(&p.host_pid))
        .map(|p| EventKind::ProcessExited {
            container: None,
            host_pid: p.host_pid,
        });
    let started = new
        .iter()
        .filter(|p| before.get(&p.host_pid).is_none_or(|b| !same(b, p)))
        .map(|p| EventKind::ProcessStarted {
            container: None,
            process: p.clone(),
        });
    ended.chain(started).collect()
}

/// The event stream's form of `kind`: containers without their bulky details, and a
/// process's namespaces only where they differ from its container's.
fn compact(kind: EventKind, snapshot: &Snapshot) -> EventKind {
    match kind {
        EventKind::ContainerCreated { mut container } => {
            container.compact();
            EventKind::ContainerCreated { container }
        }
        EventKind::ContainerAdopted { mut container } => {
            container.compact();
            EventKind::ContainerAdopted { container }
        }
        EventKind::ProcessStarted {
            container: Some(id),
            mut process,
        } => {
            if let Some(c) = snapshot.container(&id) {
                isolab_shared::compact::compact_namespaces(&mut process.namespaces, &c.namespaces);
            }
            EventKind::ProcessStarted {
                container: Some(id),
                process,
            }
        }
        other => other,
    }
}

impl Default for EventHub {
    fn default() -> Self {
        EventHub::new(DEFAULT_REPLAY)
    }
}

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;
