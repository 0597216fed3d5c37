//! [`ContainerScope`]: the part of a live event stream that concerns a few containers
//! (a lesson session's), so a picture of them is drawn by the same views and reducer
//! as the whole host's, from the same pushed snapshot and events.

use std::collections::BTreeSet;

use isolab_shared::{Event, EventKind, Snapshot};

use crate::state::Action;

/// The containers a picture shows, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerScope {
    ids: BTreeSet<String>,
}

impl ContainerScope {
    /// The scope of these container ids.
    pub fn new(ids: impl IntoIterator<Item = String>) -> ContainerScope {
        ContainerScope {
            ids: ids.into_iter().collect(),
        }
    }

    /// Whether container `id` is in the scope.
    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// `snapshot` with only the scope's containers, and none of the host's own
    /// processes (hundreds, on a real host). The host's facts stay: the map still
    /// names a namespace the host shares, and the NSpid labels give each process's
    /// host PID.
    pub fn snapshot(&self, mut snapshot: Snapshot) -> Snapshot {
        snapshot.containers.retain(|c| self.contains(&c.id));
        snapshot.host.processes.clear();
        snapshot
    }

    /// `event` if it concerns the scope (a sample keeps only the scope's figures);
    /// `None` otherwise, and for the host's processes.
    pub fn event(&self, mut event: Event) -> Option<Event> {
        let keep = match &mut event.kind {
            EventKind::Stats { usage } => {
                usage.retain(|id, _| self.contains(id));
                !usage.is_empty()
            }
            kind => kind.container_id().is_some_and(|id| self.contains(id)),
        };
        keep.then_some(event)
    }

    /// `action` as the scope's picture takes it, or `None` when nothing of it is left.
    pub fn action(&self, action: Action) -> Option<Action> {
        match action {
            Action::Snapshot(snapshot) => Some(Action::Snapshot(self.snapshot(snapshot))),
            Action::Event(event) => self.event(event).map(Action::Event),
            Action::Events(events) => {
                let kept: Vec<Event> = events.into_iter().filter_map(|e| self.event(e)).collect();
                (!kept.is_empty()).then_some(Action::Events(kept))
            }
            other => Some(other),
        }
    }
}

/// The newest event number in `action`, if it carries events (samples included: they
/// repeat the last number, so they move nothing).
pub fn newest_seq(action: &Action) -> Option<u64> {
    match action {
        Action::Snapshot(s) => Some(s.seq),
        Action::Event(e) => Some(e.seq),
        Action::Events(events) => events.iter().map(|e| e.seq).max(),
        _ => None,
    }
}
