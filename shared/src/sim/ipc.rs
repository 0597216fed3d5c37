//! ipc namespaces: System V objects and POSIX message queues, per namespace.

/// A System V IPC object (shared memory segment, message queue or semaphore set).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysvObject {
    pub key: u32,
    pub id: u32,
    /// Owner uid as the initial user namespace sees it.
    pub owner: u32,
    pub perms: u32,
    /// Bytes for shm, semaphores for a set, 0 for a queue.
    pub size: u64,
}

/// Which kind of System V object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysvKind {
    Shm,
    Msg,
    Sem,
}

/// One ipc namespace.
#[derive(Clone, Debug, Default)]
pub struct IpcNs {
    pub shm: Vec<SysvObject>,
    pub msg: Vec<SysvObject>,
    pub sem: Vec<SysvObject>,
    /// POSIX message queue names (as under /dev/mqueue).
    pub mqueues: Vec<String>,
    next_id: u32,
    next_key: u32,
}

impl IpcNs {
    /// Creates an object, like shmget/msgget/semget with IPC_PRIVATE-like random keys.
    pub fn create(&mut self, kind: SysvKind, owner: u32, size: u64) -> u32 {
        // A fixed sequence of keys stands in for ipcmk's random ones.
        self.next_key = self
            .next_key
            .wrapping_mul(1_103_515_245)
            .wrapping_add(12345);
        let key = 0x6b8b_4567u32.wrapping_add(self.next_key);
        let id = self.next_id;
        self.next_id += 1;
        let obj = SysvObject {
            key,
            id,
            owner,
            perms: 0o644,
            size,
        };
        match kind {
            SysvKind::Shm => self.shm.push(obj),
            SysvKind::Msg => self.msg.push(obj),
            SysvKind::Sem => self.sem.push(obj),
        }
        id
    }
}
