//! mount namespaces: a mount table per namespace, with propagation types
//! (mount_namespaces(7)): private, shared (a peer group), slave (receives only).

use std::sync::Arc;

use super::ns::NsId;

/// How mount events under a mount spread to its copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    Private,
    /// Member of peer group N: events go to and come from every peer.
    Shared(u32),
    /// Receives events from peer group N, sends none back.
    Slave(u32),
}

impl Propagation {
    /// The optional field of /proc/PID/mountinfo: `shared:N`, `master:N` or nothing.
    pub fn mountinfo_tag(self) -> String {
        match self {
            Propagation::Private => String::new(),
            Propagation::Shared(g) => format!("shared:{g}"),
            Propagation::Slave(g) => format!("master:{g}"),
        }
    }

    /// The peer group whose events this mount receives, if any.
    pub fn receives_from(self) -> Option<u32> {
        match self {
            Propagation::Private => None,
            Propagation::Shared(g) | Propagation::Slave(g) => Some(g),
        }
    }
}

/// One mount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub id: u32,
    pub parent: u32,
    pub source: String,
    /// Where it is mounted, as an absolute path in its namespace.
    pub target: String,
    pub fstype: String,
    pub options: String,
    pub propagation: Propagation,
    /// For a proc mount: the pid namespace whose processes it lists.
    pub proc_pidns: Option<NsId>,
    /// For a bind mount of `/proc/PID/ns/X`: the namespace it holds open.
    pub holds_ns: Option<NsId>,
}

/// One mount namespace.
#[derive(Clone, Debug, Default)]
pub struct MntNs {
    /// Mounts in mount order; a later mount on the same target hides earlier ones.
    /// Shared by copies of the machine until one of them changes it: a container's
    /// table has dozens of mounts, and copying them made up most of a machine's clone.
    mounts: Arc<Vec<Mount>>,
}

impl MntNs {
    /// The mounts, in mount order.
    pub fn mounts(&self) -> &[Mount] {
        &self.mounts
    }

    /// The mounts, to change (copied first if another machine shares them).
    pub fn mounts_mut(&mut self) -> &mut Vec<Mount> {
        Arc::make_mut(&mut self.mounts)
    }

    /// The visible mount exactly at `target`, if any.
    pub fn at(&self, target: &str) -> Option<&Mount> {
        self.mounts.iter().rev().find(|m| m.target == target)
    }

    /// The mount a path lives on: the visible mount with the longest matching target.
    pub fn containing(&self, path: &str) -> Option<&Mount> {
        self.mounts
            .iter()
            .rev()
            .filter(|m| is_under(path, &m.target))
            .max_by_key(|m| m.target.len())
    }

    /// The pid namespace that `/proc` shows, when proc is mounted there.
    pub fn proc_pidns(&self) -> Option<NsId> {
        self.at("/proc").and_then(|m| m.proc_pidns)
    }
}

/// Whether `path` is `base` or below it.
pub fn is_under(path: &str, base: &str) -> bool {
    base == "/"
        || path == base
        || (path.starts_with(base) && path.as_bytes().get(base.len()) == Some(&b'/'))
}

/// Normalises a path: absolute, no trailing slash, no `.` or empty parts.
pub fn clean_path(cwd: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{cwd}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned_and_compared_by_component() {
        assert_eq!(clean_path("/root", "../tmp/./x/"), "/tmp/x");
        assert!(is_under("/proc/1", "/proc"));
        assert!(!is_under("/procx", "/proc"));
        assert!(is_under("/anything", "/"));
    }
}
