//! [`ContainerScope`]: the part of a live event stream that concerns a few containers
//! (a lesson session's), so a picture of them is drawn by the same views and reducer
//! as the whole host's, from the same pushed snapshot and events.

use std::cell::RefCell;
use std::collections::BTreeSet;

use isolab_shared::{Event, EventKind, ProcessInfo, Snapshot};

use crate::state::Action;

/// The containers a picture shows, by id, and the host processes that descend from
/// one host process (what a lesson's shell on the host started: namespaces made by
/// hand), the root itself left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerScope {
    ids: BTreeSet<String>,
    host_root: Option<u32>,
    /// The root and its descendants seen so far (the root is not shown).
    kept: RefCell<BTreeSet<u32>>,
}

impl ContainerScope {
    /// The scope of these container ids.
    pub fn new(ids: impl IntoIterator<Item = String>) -> ContainerScope {
        ContainerScope {
            ids: ids.into_iter().collect(),
            ..ContainerScope::default()
        }
    }

    /// The scope, with the host processes that descend from `root` (not `root` itself).
    pub fn with_host_root(mut self, root: Option<u32>) -> ContainerScope {
        self.host_root = root;
        self
    }

    /// Whether container `id` is in the scope.
    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// `snapshot` with only the scope's containers, and of the host's own processes
    /// (hundreds, on a real host) only the host root's tree. The host's facts stay:
    /// the map still names a namespace the host shares, and the NSpid labels give each
    /// process's host PID.
    pub fn snapshot(&self, mut snapshot: Snapshot) -> Snapshot {
        snapshot.containers.retain(|c| self.contains(&c.id));
        let tree = self.host_tree(&snapshot.host.processes);
        snapshot
            .host
            .processes
            .retain(|p| tree.contains(&p.host_pid) && Some(p.host_pid) != self.host_root);
        *self.kept.borrow_mut() = tree;
        snapshot
    }

    /// The host root and its descendants among `processes`.
    fn host_tree(&self, processes: &[ProcessInfo]) -> BTreeSet<u32> {
        let mut tree: BTreeSet<u32> = self.host_root.into_iter().collect();
        // Parents may come after their children in the list: repeat until nothing joins.
        loop {
            let before = tree.len();
            for p in processes {
                if tree.contains(&p.ppid) {
                    tree.insert(p.host_pid);
                }
            }
            if tree.len() == before {
                return tree;
            }
        }
    }

    /// `event` if it concerns the scope (a sample keeps only the scope's figures);
    /// `None` otherwise, and for host processes outside the host root's tree.
    pub fn event(&self, mut event: Event) -> Option<Event> {
        let keep = match &mut event.kind {
            EventKind::Stats { usage } => {
                usage.retain(|id, _| self.contains(id));
                !usage.is_empty()
            }
            EventKind::ProcessStarted {
                container: None,
                process,
            } => {
                let mut kept = self.kept.borrow_mut();
                if self.host_root == Some(process.host_pid) {
                    kept.insert(process.host_pid);
                    false
                } else if kept.contains(&process.ppid) {
                    kept.insert(process.host_pid);
                    true
                } else {
                    false
                }
            }
            EventKind::ProcessExited {
                container: None,
                host_pid,
            } => self.kept.borrow_mut().remove(host_pid) && Some(*host_pid) != self.host_root,
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
