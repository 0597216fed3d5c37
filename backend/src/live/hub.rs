//! The event hub: numbers events, keeps the current snapshot and a bounded replay
//! buffer, and fans events out to subscribers.
//!
//! Publishing and subscribing take the same lock, so a subscriber's starting point
//! (snapshot or replay) and its live receiver join without a gap or an overlap.

use std::collections::VecDeque;
use std::sync::Mutex;

use isolab_shared::{Event, EventKind, HostState, Snapshot};
use tokio::sync::broadcast;

use crate::runtime::state::now_ms;

/// How many past events a reconnecting client can resume from.
pub const DEFAULT_REPLAY: usize = 4096;
/// How many events a slow subscriber may fall behind before it is resynced.
const CHANNEL_CAPACITY: usize = 1024;

/// Where a new subscriber starts.
#[derive(Debug)]
pub enum StartPoint {
    /// The whole state.
    Snapshot(Snapshot),
    /// The events after the sequence number it asked to resume from.
    Replay(Vec<Event>),
}

/// A subscriber: its start point, then live events in order.
pub struct Subscription {
    pub start: StartPoint,
    pub live: broadcast::Receiver<Event>,
}

struct HubState {
    snapshot: Snapshot,
    replay: VecDeque<Event>,
    replay_capacity: usize,
}

/// Numbers, records and broadcasts events.
pub struct EventHub {
    state: Mutex<HubState>,
    sender: broadcast::Sender<Event>,
}

impl EventHub {
    /// A hub that keeps the last `replay_capacity` events for resuming clients.
    pub fn new(replay_capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        EventHub {
            state: Mutex::new(HubState {
                snapshot: Snapshot::default(),
                replay: VecDeque::with_capacity(replay_capacity.min(1024)),
                replay_capacity: replay_capacity.max(1),
            }),
            sender,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        // A panic while holding the lock leaves a consistent state (every update is a
        // single assignment), so a poisoned lock is still safe to use.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Numbers `kind`, folds it into the snapshot, keeps it for replay and sends it.
    pub fn publish(&self, kind: EventKind) -> Event {
        let mut state = self.lock();
        let event = Event {
            seq: state.snapshot.seq + 1,
            at_ms: now_ms(),
            kind,
        };
        state.snapshot.apply(&event);
        if state.replay.len() == state.replay_capacity {
            state.replay.pop_front();
        }
        state.replay.push_back(event.clone());
        // No subscribers is fine: the event is in the snapshot and the replay buffer.
        let _ = self.sender.send(event.clone());
        event
    }

    /// Replaces the host part of the snapshot (it changes too often to be events).
    pub fn set_host(&self, host: HostState) {
        self.lock().snapshot.host = host;
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Snapshot {
        self.lock().snapshot.clone()
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
        let state = self.lock();
        let live = self.sender.subscribe();
        let last = state.snapshot.seq;
        let start = match since {
            Some(s) if s == last => StartPoint::Replay(Vec::new()),
            Some(s) if s < last && state.replay.front().is_some_and(|e| e.seq <= s + 1) => {
                StartPoint::Replay(state.replay.iter().filter(|e| e.seq > s).cloned().collect())
            }
            _ => StartPoint::Snapshot(state.snapshot.clone()),
        };
        Subscription { start, live }
    }
}

impl Default for EventHub {
    fn default() -> Self {
        EventHub::new(DEFAULT_REPLAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn removed(id: &str) -> EventKind {
        EventKind::ContainerRemoved { id: id.into() }
    }

    #[test]
    fn sequence_numbers_only_increase() {
        let hub = EventHub::new(8);
        let a = hub.publish(removed("a"));
        let b = hub.publish(removed("b"));
        assert_eq!((a.seq, b.seq), (1, 2));
        assert_eq!(hub.last_seq(), 2);
    }

    #[test]
    fn first_connect_gets_a_snapshot_then_live_events() {
        let hub = EventHub::new(8);
        hub.publish(removed("a"));
        let mut sub = hub.subscribe(None);
        match sub.start {
            StartPoint::Snapshot(s) => assert_eq!(s.seq, 1),
            other => panic!("expected a snapshot, got {other:?}"),
        }
        hub.publish(removed("b"));
        let e = sub.live.try_recv().expect("live event");
        assert_eq!(e.seq, 2);
    }

    #[test]
    fn resume_inside_the_buffer_replays_exactly_the_missed_events() {
        let hub = EventHub::new(8);
        for i in 0..5 {
            hub.publish(removed(&i.to_string()));
        }
        match hub.subscribe(Some(2)).start {
            StartPoint::Replay(events) => {
                assert_eq!(
                    events.iter().map(|e| e.seq).collect::<Vec<_>>(),
                    vec![3, 4, 5]
                )
            }
            other => panic!("expected a replay, got {other:?}"),
        }
        match hub.subscribe(Some(5)).start {
            StartPoint::Replay(events) => assert!(events.is_empty()),
            other => panic!("expected an empty replay, got {other:?}"),
        }
    }

    #[test]
    fn resume_outside_the_buffer_or_from_the_future_gets_a_snapshot() {
        let hub = EventHub::new(3);
        for i in 0..10 {
            hub.publish(removed(&i.to_string()));
        }
        assert!(matches!(
            hub.subscribe(Some(2)).start,
            StartPoint::Snapshot(_)
        ));
        assert!(matches!(
            hub.subscribe(Some(99)).start,
            StartPoint::Snapshot(_)
        ));
        // The oldest kept event is 8, so resuming from 7 still works.
        assert!(matches!(hub.subscribe(Some(7)).start, StartPoint::Replay(ref v) if v.len() == 3));
    }
}
