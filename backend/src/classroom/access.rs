//! Who may see and touch what: the one place the answer is given. The server's auth
//! middleware turns a token into a [`Principal`]; every container route, socket and
//! the event stream ask here.
//!
//! A student sees only their own containers; someone else's is answered as if it did
//! not exist. Of the host, a student gets the namespaces and the process counts, not
//! the host's process list (its command lines may hold secrets, such as the teacher's
//! `--token`).

use std::collections::BTreeSet;

use isolab_shared::{Event, EventKind, HostState, Snapshot};

/// Who a request comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// The server's token on a server without a class: full access.
    Admin,
    /// The server's token in a class: full access and the class's controls.
    Teacher,
    /// A student of the class, by id.
    Student { id: String },
}

impl Principal {
    /// The student id, for a student.
    pub fn student(&self) -> Option<&str> {
        match self {
            Principal::Student { id } => Some(id),
            _ => None,
        }
    }

    /// Whether this caller holds the server's own token (teacher or admin).
    pub fn is_staff(&self) -> bool {
        !matches!(self, Principal::Student { .. })
    }

    /// Whether this caller may see and touch a container owned by `owner` (a
    /// student id; `None` for the teacher's or admin's).
    pub fn may_touch(&self, owner: Option<&str>) -> bool {
        match self {
            Principal::Admin | Principal::Teacher => true,
            Principal::Student { id } => owner == Some(id.as_str()),
        }
    }

    /// The owner a container made by this caller gets.
    pub fn owner_of_new(&self) -> Option<String> {
        self.student().map(str::to_string)
    }
}

/// What of the host a caller may see.
pub fn host_for(principal: &Principal, host: HostState) -> HostState {
    if principal.is_staff() {
        return host;
    }
    HostState {
        processes: Vec::new(),
        ..host
    }
}

/// One subscriber's view of the event stream: a snapshot and events cut down to the
/// containers its caller may see. Keeps the ids it has shown, so events that name
/// only an id can be told apart.
pub struct EventView {
    principal: Principal,
    visible: BTreeSet<String>,
}

impl EventView {
    /// A view for `principal`.
    pub fn new(principal: Principal) -> Self {
        EventView {
            principal,
            visible: BTreeSet::new(),
        }
    }

    /// Whether this view lets everything through (staff), so frames need no cutting.
    pub fn sees_everything(&self) -> bool {
        self.principal.is_staff()
    }

    /// The snapshot as this caller may see it; starts the view over from it.
    pub fn snapshot(&mut self, mut snapshot: Snapshot) -> Snapshot {
        if self.principal.is_staff() {
            return snapshot;
        }
        snapshot
            .containers
            .retain(|c| self.principal.may_touch(c.owner.as_deref()));
        self.visible = snapshot.containers.iter().map(|c| c.id.clone()).collect();
        snapshot.host = host_for(&self.principal, snapshot.host);
        snapshot
    }

    /// The event as this caller may see it, or `None` when it is not theirs.
    pub fn event(&mut self, mut event: Event) -> Option<Event> {
        if self.principal.is_staff() {
            return Some(event);
        }
        let shown = match &mut event.kind {
            EventKind::ContainerCreated { container }
            | EventKind::ContainerAdopted { container } => {
                let mine = self.principal.may_touch(container.owner.as_deref());
                if mine {
                    self.visible.insert(container.id.clone());
                }
                mine
            }
            EventKind::ContainerRemoved { id } | EventKind::ContainerCleaned { id } => {
                self.visible.remove(id.as_str())
            }
            EventKind::Stats { usage } => {
                usage.retain(|id, _| self.visible.contains(id.as_str()));
                true
            }
            // Host processes (about no container) are not a student's to see.
            kind => kind
                .container_id()
                .is_some_and(|id| self.visible.contains(id)),
        };
        shown.then_some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isolab_shared::{ContainerSpec, ContainerState, ContainerStatus, ProcessInfo};

    fn container(id: &str, owner: Option<&str>) -> ContainerState {
        ContainerState {
            id: id.into(),
            name: id.into(),
            spec: ContainerSpec::default(),
            status: ContainerStatus::Running,
            exit: None,
            init_pid: None,
            created_at_ms: 1,
            started_at_ms: None,
            processes: vec![],
            namespaces: Default::default(),
            cgroup: None,
            interfaces: vec![],
            setup: vec![],
            isolation: Default::default(),
            setup_us: 0,
            owner: owner.map(str::to_string),
        }
    }

    fn event(kind: EventKind) -> Event {
        Event {
            seq: 1,
            at_ms: 1,
            kind,
        }
    }

    fn student(id: &str) -> Principal {
        Principal::Student { id: id.into() }
    }

    #[test]
    fn students_touch_only_their_own() {
        assert!(Principal::Teacher.may_touch(Some("a")));
        assert!(Principal::Admin.may_touch(None));
        assert!(student("a").may_touch(Some("a")));
        assert!(!student("a").may_touch(Some("b")));
        assert!(!student("a").may_touch(None));
    }

    #[test]
    fn a_students_stream_holds_only_their_containers() {
        let mut snapshot = Snapshot {
            containers: vec![
                container("mine", Some("a")),
                container("theirs", Some("b")),
                container("teachers", None),
            ],
            ..Default::default()
        };
        snapshot.host.processes = vec![ProcessInfo {
            host_pid: 1,
            nspid: vec![1],
            ppid: 0,
            cmdline: "isolab serve --token secret".into(),
            state: "S".into(),
            uid: 0,
            namespaces: Default::default(),
        }];
        snapshot.host.process_count = 1;
        let mut view = EventView::new(student("a"));
        let seen = view.snapshot(snapshot.clone());
        assert_eq!(seen.containers.len(), 1);
        assert_eq!(seen.containers[0].id, "mine");
        assert!(seen.host.processes.is_empty());
        assert_eq!(seen.host.process_count, 1);

        let created = |id: &str, owner| {
            event(EventKind::ContainerCreated {
                container: Box::new(container(id, owner)),
            })
        };
        assert!(view.event(created("new", Some("a"))).is_some());
        assert!(view.event(created("other", Some("b"))).is_none());
        let started = |id: &str| {
            event(EventKind::ContainerStarted {
                id: id.into(),
                init_pid: 1,
            })
        };
        assert!(view.event(started("new")).is_some());
        assert!(view.event(started("other")).is_none());
        let host_process = event(EventKind::ProcessExited {
            container: None,
            host_pid: 1,
        });
        assert!(view.event(host_process.clone()).is_none());
        let stats = event(EventKind::Stats {
            usage: [
                ("mine".to_string(), Default::default()),
                ("theirs".to_string(), Default::default()),
            ]
            .into_iter()
            .collect(),
        });
        match view.event(stats).map(|e| e.kind) {
            Some(EventKind::Stats { usage }) => {
                assert_eq!(usage.keys().collect::<Vec<_>>(), vec!["mine"])
            }
            other => panic!("expected stats, got {other:?}"),
        }
        let removed = event(EventKind::ContainerRemoved { id: "new".into() });
        assert!(view.event(removed.clone()).is_some());
        assert!(view.event(started("new")).is_none());

        let mut teacher = EventView::new(Principal::Teacher);
        assert_eq!(teacher.snapshot(snapshot.clone()), snapshot);
        assert!(teacher.event(host_process).is_some());
    }
}
