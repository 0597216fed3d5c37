//! One container the supervisor knows: its record, its runtime handle (when this server
//! made it), its terminals and the limit hits already announced. The supervisor and the
//! files that extend it (exec, adopt) share this, so it sits below
//! them all.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use isolab_shared::LimitKind;

use super::terminal::TerminalSession;
use crate::runtime::{Container, ContainerRecord};

/// One container the supervisor knows.
pub(super) struct Entry {
    pub(super) id: String,
    /// The owning student's id (`None`: the teacher's or admin's).
    pub(super) owner: Option<String>,
    pub(super) record: Mutex<ContainerRecord>,
    /// `None` for a container adopted from a previous server, or once deleted.
    pub(super) container: Mutex<Option<Container>>,
    pub(super) terminal: Option<Arc<TerminalSession>>,
    pub(super) execs: Mutex<BTreeMap<String, ExecSession>>,
    pub(super) removed: AtomicBool,
    /// Refused forks and OOM kills already announced as limit hits.
    pub(super) limit_marks: Mutex<(u64, u64)>,
}

/// Locks `m`, poisoned or not.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the data consistent, so poisoning is survivable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Entry {
    pub(super) fn record(&self) -> ContainerRecord {
        lock(&self.record).clone()
    }

    /// The limits `usage` shows were hit since the last call.
    pub(super) fn new_limit_hits(&self, usage: &isolab_shared::CgroupUsage) -> Vec<LimitKind> {
        let now = (
            usage.pids_rejected.unwrap_or(0),
            usage.oom_kills.unwrap_or(0),
        );
        let mut marks = lock(&self.limit_marks);
        let mut hits = Vec::new();
        if now.0 > marks.0 {
            hits.push(LimitKind::Pids);
        }
        if now.1 > marks.1 {
            hits.push(LimitKind::Memory);
        }
        *marks = (now.0.max(marks.0), now.1.max(marks.1));
        hits
    }

    pub(super) fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Relaxed)
    }
}

/// A process started by `Supervisor::exec`, on a terminal of its own.
pub(super) struct ExecSession {
    pub(super) terminal: Arc<TerminalSession>,
}
