//! Namespace identity and lifetime: inode-like numbers, and reference counts held by
//! processes, bind mounts and child namespaces (namespaces(7): "a namespace is torn
//! down when the last process leaves it, unless something else holds it open").

use crate::namespace::NamespaceKind;

/// A namespace's identity, the inode number `/proc/PID/ns/KIND` links to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NsId(pub u64);

impl std::fmt::Display for NsId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The initial namespaces' inode numbers, as on a real kernel (they are fixed there).
pub fn initial_ns_id(kind: NamespaceKind) -> NsId {
    NsId(match kind {
        NamespaceKind::Cgroup => 4026531835,
        NamespaceKind::Ipc => 4026531839,
        NamespaceKind::Mnt => 4026531841,
        NamespaceKind::Net => 4026531840,
        NamespaceKind::Pid => 4026531836,
        NamespaceKind::User => 4026531837,
        NamespaceKind::Uts => 4026531838,
    })
}

/// What the registry knows of one namespace, whatever its kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NsMeta {
    pub kind: NamespaceKind,
    /// The user namespace that owns it (itself for the initial user ns).
    pub owner: NsId,
    /// How many processes are members (or, for pid, will put children in it).
    pub processes: u32,
    /// How many bind mounts of its `/proc/PID/ns` file hold it open.
    pub bind_mounts: u32,
    /// How many other namespaces hold it (child pid/user ns, owned namespaces).
    pub held_by_namespaces: u32,
}

impl NsMeta {
    /// Whether anything still holds the namespace alive.
    pub fn is_held(&self) -> bool {
        self.processes + self.bind_mounts + self.held_by_namespaces > 0
    }
}

/// Every live namespace, with its reference counts.
#[derive(Clone, Debug, Default)]
pub struct NsRegistry {
    /// Sorted by id. A machine holds a few dozen namespaces and every fork and exit
    /// takes or drops eight references: a sorted list is searched faster than a
    /// tree, and copied with the machine in one piece.
    live: Vec<(NsId, NsMeta)>,
    next_inode: u64,
}

/// Which counter a reference is taken on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NsRef {
    Process,
    BindMount,
    Namespace,
}

impl NsRegistry {
    /// An empty registry; new namespaces get inode numbers from 4026532160 on.
    pub fn new() -> Self {
        NsRegistry {
            live: Vec::new(),
            next_inode: 4026532160,
        }
    }

    fn find(&self, id: NsId) -> Result<usize, usize> {
        self.live.binary_search_by_key(&id, |(i, _)| *i)
    }

    fn meta_mut(&mut self, id: NsId) -> Option<&mut NsMeta> {
        let at = self.find(id).ok()?;
        self.live.get_mut(at).map(|(_, m)| m)
    }

    /// Registers a namespace with a fixed id (the initial ones).
    pub fn register(&mut self, id: NsId, kind: NamespaceKind, owner: NsId) {
        let meta = NsMeta {
            kind,
            owner,
            processes: 0,
            bind_mounts: 0,
            held_by_namespaces: 0,
        };
        match self.find(id) {
            Ok(at) => self.live[at].1 = meta,
            Err(at) => self.live.insert(at, (id, meta)),
        }
    }

    /// Allocates a fresh id for a new namespace of `kind`, owned by `owner`.
    pub fn create(&mut self, kind: NamespaceKind, owner: NsId) -> NsId {
        let id = NsId(self.next_inode);
        self.next_inode += 1;
        self.register(id, kind, owner);
        id
    }

    /// The namespace's metadata, if it lives.
    pub fn get(&self, id: NsId) -> Option<&NsMeta> {
        let at = self.find(id).ok()?;
        self.live.get(at).map(|(_, m)| m)
    }

    /// Whether the namespace still exists.
    pub fn is_live(&self, id: NsId) -> bool {
        self.find(id).is_ok()
    }

    /// Takes one reference of `how` on `id`.
    pub fn hold(&mut self, id: NsId, how: NsRef) {
        if let Some(m) = self.meta_mut(id) {
            match how {
                NsRef::Process => m.processes += 1,
                NsRef::BindMount => m.bind_mounts += 1,
                NsRef::Namespace => m.held_by_namespaces += 1,
            }
        }
    }

    /// Drops one reference; returns the metadata when that was the last one, after
    /// removing the namespace (the caller then frees its kind-specific state).
    pub fn release(&mut self, id: NsId, how: NsRef) -> Option<NsMeta> {
        let at = self.find(id).ok()?;
        let m = &mut self.live[at].1;
        let counter = match how {
            NsRef::Process => &mut m.processes,
            NsRef::BindMount => &mut m.bind_mounts,
            NsRef::Namespace => &mut m.held_by_namespaces,
        };
        *counter = counter.saturating_sub(1);
        if m.is_held() {
            return None;
        }
        Some(self.live.remove(at).1)
    }

    /// All live namespaces, by id.
    pub fn iter(&self) -> impl Iterator<Item = (NsId, &NsMeta)> {
        self.live.iter().map(|(id, m)| (*id, m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_lives_while_a_process_or_bind_mount_holds_it() {
        let mut reg = NsRegistry::new();
        let owner = initial_ns_id(NamespaceKind::User);
        let id = reg.create(NamespaceKind::Net, owner);
        reg.hold(id, NsRef::Process);
        reg.hold(id, NsRef::BindMount);
        assert!(reg.release(id, NsRef::Process).is_none());
        assert!(reg.is_live(id), "the bind mount keeps it");
        assert!(reg.release(id, NsRef::BindMount).is_some());
        assert!(!reg.is_live(id));
    }
}
