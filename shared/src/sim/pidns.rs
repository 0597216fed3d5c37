//! pid namespaces (pid_namespaces(7)): nested numbering, an init per namespace.

use std::collections::BTreeMap;

use super::ns::NsId;
use super::process::Pid;

/// The kernel's default pid_max: numbers wrap (skipping used ones) past it.
pub const PID_MAX: u32 = 4_194_304;

/// One pid namespace.
#[derive(Clone, Debug)]
pub struct PidNs {
    pub id: NsId,
    /// The enclosing namespace; `None` for the host's.
    pub parent: Option<NsId>,
    /// 0 for the host's, 1 for a child of it, and so on.
    pub level: usize,
    /// PIDs in this namespace -> host PIDs, of every process visible here.
    pub members: BTreeMap<u32, Pid>,
    /// The next number to try.
    next: u32,
    /// Whether its init has been started (the first fork into it).
    pub had_init: bool,
    /// Set when its init died: no process can be created in it any more.
    pub dead: bool,
}

impl PidNs {
    /// A fresh namespace whose first process will be PID 1.
    pub fn new(id: NsId, parent: Option<NsId>, level: usize) -> Self {
        PidNs {
            id,
            parent,
            level,
            members: BTreeMap::new(),
            next: 1,
            had_init: false,
            dead: false,
        }
    }

    /// Takes the next free number, like alloc_pid(): increasing, wrapping to 300.
    pub fn allocate(&mut self) -> Option<u32> {
        for _ in 0..PID_MAX {
            let candidate = self.next;
            self.next = if self.next >= PID_MAX {
                300
            } else {
                self.next + 1
            };
            if !self.members.contains_key(&candidate) {
                return Some(candidate);
            }
        }
        None
    }

    /// The host PID of this namespace's init, if it runs.
    pub fn init(&self) -> Option<Pid> {
        self.members.get(&1).copied()
    }
}
