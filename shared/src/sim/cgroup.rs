//! The cgroup tree (cgroups(7)) with the pids and memory controllers.

use std::sync::Arc;

use super::errno::{Errno, SysResult};

/// Index of a cgroup in the tree; 0 is the root.
pub type CgroupId = usize;

/// One cgroup: limits, hierarchical usage and event counters.
#[derive(Clone, Debug, Default)]
pub struct Cgroup {
    /// The absolute path, `/` for the root.
    pub path: String,
    pub parent: Option<CgroupId>,
    pub pids_max: Option<u64>,
    /// Tasks in this cgroup and its descendants (pids.current).
    pub pids_current: u64,
    /// Forks refused here (pids.events `max`).
    pub pids_rejected: u64,
    pub memory_max: Option<u64>,
    /// Bytes charged here and below (memory.current).
    pub memory_current: u64,
    /// OOM kills triggered here (memory.events `oom_kill`).
    pub oom_kills: u64,
    /// Removed by rmdir; the slot stays so ids remain stable.
    pub removed: bool,
    /// The rules of the device program attached here (none: every device); shared
    /// with copies of the machine, as they change only when a program is attached.
    pub device_rules: Arc<[String]>,
}

/// The whole hierarchy.
#[derive(Clone, Debug)]
pub struct CgroupTree {
    nodes: Vec<Cgroup>,
}

impl Default for CgroupTree {
    fn default() -> Self {
        CgroupTree {
            nodes: vec![Cgroup {
                path: "/".to_string(),
                ..Cgroup::default()
            }],
        }
    }
}

impl CgroupTree {
    /// The cgroup with id `id`.
    pub fn get(&self, id: CgroupId) -> Option<&Cgroup> {
        self.nodes.get(id).filter(|c| !c.removed)
    }

    /// Attaches a device program allowing `rules` (BPF_CGROUP_DEVICE).
    pub fn attach_device_rules(&mut self, id: CgroupId, rules: &[String]) -> SysResult<()> {
        let group = self
            .nodes
            .get_mut(id)
            .filter(|c| !c.removed)
            .ok_or(Errno::ENOENT)?;
        group.device_rules = rules.into();
        Ok(())
    }

    /// The cgroup at `path`, if it exists.
    pub fn find(&self, path: &str) -> Option<CgroupId> {
        self.nodes.iter().position(|c| !c.removed && c.path == path)
    }

    /// mkdir: creates `path` (its parent must exist).
    pub fn create(&mut self, path: &str) -> SysResult<CgroupId> {
        if self.find(path).is_some() {
            return Err(Errno::EEXIST);
        }
        let parent_path = match path.rsplit_once('/') {
            Some(("", _)) => "/",
            Some((p, _)) => p,
            None => return Err(Errno::EINVAL),
        };
        let parent = self.find(parent_path).ok_or(Errno::ENOENT)?;
        self.nodes.push(Cgroup {
            path: path.to_string(),
            parent: Some(parent),
            ..Cgroup::default()
        });
        Ok(self.nodes.len() - 1)
    }

    /// rmdir: only an empty cgroup can go.
    pub fn remove(&mut self, id: CgroupId) -> SysResult<()> {
        let busy = self
            .nodes
            .iter()
            .any(|c| !c.removed && c.parent == Some(id));
        let node = self.nodes.get_mut(id).ok_or(Errno::ENOENT)?;
        if id == 0 || node.pids_current > 0 || busy {
            return Err(Errno::EBUSY);
        }
        node.removed = true;
        Ok(())
    }

    /// Writes pids.max / memory.max (`None` is "max").
    pub fn set_limits(&mut self, id: CgroupId, pids: Option<u64>, memory: Option<u64>) {
        if let Some(c) = self.nodes.get_mut(id) {
            c.pids_max = pids;
            c.memory_max = memory;
        }
    }

    /// `id` and its ancestors, innermost first. An iterator, walked in place: every
    /// fork, exit and reap goes up the tree, and a list made each time cost more
    /// than the walk.
    pub fn ancestry(&self, id: CgroupId) -> impl Iterator<Item = CgroupId> + '_ {
        std::iter::successors(Some(id), |&c| self.nodes.get(c).and_then(|n| n.parent))
    }

    /// Applies `change` to `id` and each of its ancestors.
    fn for_each_level(&mut self, id: CgroupId, mut change: impl FnMut(&mut Cgroup)) {
        let mut cur = Some(id);
        while let Some(c) = cur {
            let n = &mut self.nodes[c];
            change(n);
            cur = n.parent;
        }
    }

    /// Charges one task, as fork does: EAGAIN when any level is at pids.max.
    pub fn charge_task(&mut self, id: CgroupId) -> SysResult<()> {
        let full = self.ancestry(id).find(|&c| {
            let n = &self.nodes[c];
            n.pids_max.is_some_and(|max| n.pids_current >= max)
        });
        if let Some(full) = full {
            self.nodes[full].pids_rejected += 1;
            return Err(Errno::EAGAIN);
        }
        self.for_each_level(id, |n| n.pids_current += 1);
        Ok(())
    }

    /// Moves a task's charge (and its memory) from one cgroup to another; moving is
    /// allowed even past pids.max, as in the kernel.
    pub fn move_task(&mut self, from: CgroupId, to: CgroupId, memory: u64) {
        self.uncharge_task(from, memory);
        self.for_each_level(to, |n| {
            n.pids_current += 1;
            n.memory_current += memory;
        });
    }

    /// Releases one task and its memory.
    pub fn uncharge_task(&mut self, id: CgroupId, memory: u64) {
        self.for_each_level(id, |n| {
            n.pids_current = n.pids_current.saturating_sub(1);
            n.memory_current = n.memory_current.saturating_sub(memory);
        });
    }

    /// Releases `bytes` of memory.
    pub fn uncharge_memory(&mut self, id: CgroupId, bytes: u64) {
        self.for_each_level(id, |n| {
            n.memory_current = n.memory_current.saturating_sub(bytes);
        });
    }

    /// Charges memory; on a breach returns the cgroup whose memory.max was hit.
    pub fn charge_memory(&mut self, id: CgroupId, bytes: u64) -> Result<(), CgroupId> {
        let full = self.ancestry(id).find(|&c| {
            let n = &self.nodes[c];
            n.memory_max
                .is_some_and(|max| n.memory_current.saturating_add(bytes) > max)
        });
        if let Some(full) = full {
            self.nodes[full].oom_kills += 1;
            return Err(full);
        }
        self.for_each_level(id, |n| n.memory_current += bytes);
        Ok(())
    }

    /// Whether `id` is `ancestor` or below it.
    pub fn is_within(&self, id: CgroupId, ancestor: CgroupId) -> bool {
        self.ancestry(id).any(|c| c == ancestor)
    }

    /// The path of `id` as seen from a cgroup namespace rooted at `root`.
    pub fn path_from(&self, id: CgroupId, root: CgroupId) -> String {
        let (Some(node), Some(base)) = (self.get(id), self.get(root)) else {
            return "/".to_string();
        };
        if base.path == "/" {
            return node.path.clone();
        }
        match node.path.strip_prefix(&base.path) {
            Some("") => "/".to_string(),
            Some(rest) if rest.starts_with('/') => rest.to_string(),
            // Outside the namespace's root: the kernel shows it relative with "..".
            _ => format!("/..{}", node.path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_max_refuses_the_extra_task_with_eagain() {
        let mut t = CgroupTree::default();
        let c = t.create("/isolab").expect("mkdir");
        t.set_limits(c, Some(2), None);
        t.charge_task(c).expect("first");
        t.charge_task(c).expect("second");
        assert_eq!(t.charge_task(c), Err(Errno::EAGAIN));
        assert_eq!(t.get(c).map(|n| n.pids_rejected), Some(1));
        assert_eq!(t.get(0).map(|n| n.pids_current), Some(2));
    }

    #[test]
    fn memory_past_max_names_the_limiting_cgroup() {
        let mut t = CgroupTree::default();
        let parent = t.create("/isolab").expect("mkdir");
        let child = t.create("/isolab/c1").expect("mkdir");
        t.set_limits(parent, None, Some(10 << 20));
        assert!(t.charge_memory(child, 8 << 20).is_ok());
        assert_eq!(t.charge_memory(child, 4 << 20), Err(parent));
        assert_eq!(t.path_from(child, parent), "/c1");
    }
}
