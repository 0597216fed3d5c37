//! The seven Linux namespace kinds and sets of them.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One kind of Linux namespace, as named under `/proc/PID/ns/`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum NamespaceKind {
    Pid,
    Net,
    Ipc,
    Uts,
    Mnt,
    User,
    Cgroup,
}

impl NamespaceKind {
    /// Every kind, in the order the UI lists them.
    pub const ALL: [NamespaceKind; 7] = [
        NamespaceKind::Pid,
        NamespaceKind::Net,
        NamespaceKind::Mnt,
        NamespaceKind::Uts,
        NamespaceKind::Ipc,
        NamespaceKind::User,
        NamespaceKind::Cgroup,
    ];

    /// The short name, which is also the file name under `/proc/PID/ns/`.
    pub fn name(self) -> &'static str {
        match self {
            NamespaceKind::Pid => "pid",
            NamespaceKind::Net => "net",
            NamespaceKind::Ipc => "ipc",
            NamespaceKind::Uts => "uts",
            NamespaceKind::Mnt => "mnt",
            NamespaceKind::User => "user",
            NamespaceKind::Cgroup => "cgroup",
        }
    }

    /// The clone(2)/unshare(2) flag that creates one.
    pub fn clone_flag_name(self) -> &'static str {
        match self {
            NamespaceKind::Pid => "CLONE_NEWPID",
            NamespaceKind::Net => "CLONE_NEWNET",
            NamespaceKind::Ipc => "CLONE_NEWIPC",
            NamespaceKind::Uts => "CLONE_NEWUTS",
            NamespaceKind::Mnt => "CLONE_NEWNS",
            NamespaceKind::User => "CLONE_NEWUSER",
            NamespaceKind::Cgroup => "CLONE_NEWCGROUP",
        }
    }

    /// What the kind isolates, in one line for a student.
    pub fn description(self) -> &'static str {
        match self {
            NamespaceKind::Pid => {
                "process IDs: the container sees its own PID 1 and none of the host's processes"
            }
            NamespaceKind::Net => "network stack: its own interfaces, addresses, routes and ports",
            NamespaceKind::Ipc => "System V IPC and POSIX message queues",
            NamespaceKind::Uts => "hostname and domain name",
            NamespaceKind::Mnt => "the mount table: its own root filesystem and mounts",
            NamespaceKind::User => {
                "user and group IDs: root inside maps to an unprivileged user outside"
            }
            NamespaceKind::Cgroup => {
                "the view of the cgroup tree: its own cgroup appears as the root"
            }
        }
    }

    /// Whether a new container gets this namespace unless told otherwise.
    pub fn on_by_default(self) -> bool {
        !matches!(self, NamespaceKind::User | NamespaceKind::Cgroup)
    }
}

impl fmt::Display for NamespaceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A namespace kind name that isolab does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown namespace kind '{0}' (expected one of pid, net, ipc, uts, mnt, user, cgroup)")]
pub struct UnknownNamespaceKind(pub String);

impl FromStr for NamespaceKind {
    type Err = UnknownNamespaceKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "pid" => Ok(NamespaceKind::Pid),
            "net" => Ok(NamespaceKind::Net),
            "ipc" => Ok(NamespaceKind::Ipc),
            "uts" => Ok(NamespaceKind::Uts),
            "mnt" | "mount" => Ok(NamespaceKind::Mnt),
            "user" => Ok(NamespaceKind::User),
            "cgroup" => Ok(NamespaceKind::Cgroup),
            other => Err(UnknownNamespaceKind(other.to_string())),
        }
    }
}

/// A set of namespace kinds, serialized as a list such as `["pid","net"]`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(transparent)]
pub struct NamespaceSet(pub BTreeSet<NamespaceKind>);

impl NamespaceSet {
    /// No namespaces at all.
    pub fn none() -> Self {
        NamespaceSet(BTreeSet::new())
    }

    /// Whether `kind` is in the set.
    pub fn contains(&self, kind: NamespaceKind) -> bool {
        self.0.contains(&kind)
    }

    /// The kinds in the set, in a stable order.
    pub fn iter(&self) -> impl Iterator<Item = NamespaceKind> + '_ {
        self.0.iter().copied()
    }

    /// Parses a comma-separated list such as `pid,net,uts`.
    pub fn parse_list(list: &str) -> Result<Self, UnknownNamespaceKind> {
        list.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(NamespaceKind::from_str)
            .collect::<Result<BTreeSet<_>, _>>()
            .map(NamespaceSet)
    }
}

impl Default for NamespaceSet {
    /// pid, net, ipc, uts and mnt, as a container runtime does by default.
    fn default() -> Self {
        NamespaceSet(
            NamespaceKind::ALL
                .into_iter()
                .filter(|k| k.on_by_default())
                .collect(),
        )
    }
}

impl FromIterator<NamespaceKind> for NamespaceSet {
    fn from_iter<T: IntoIterator<Item = NamespaceKind>>(iter: T) -> Self {
        NamespaceSet(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_set_leaves_out_user_and_cgroup() {
        let set = NamespaceSet::default();
        assert!(set.contains(NamespaceKind::Pid));
        assert!(set.contains(NamespaceKind::Mnt));
        assert!(!set.contains(NamespaceKind::User));
        assert!(!set.contains(NamespaceKind::Cgroup));
        assert_eq!(set.iter().count(), 5);
    }

    #[test]
    fn parses_lists_and_rejects_unknown_kinds() {
        let set = NamespaceSet::parse_list("pid, net,user").expect("valid list");
        assert_eq!(set.iter().count(), 3);
        let err = NamespaceSet::parse_list("pid,time").expect_err("time is not supported");
        assert_eq!(err.0, "time");
        assert_eq!(
            NamespaceSet::parse_list("").expect("empty").iter().count(),
            0
        );
    }

    #[test]
    fn serializes_as_a_list_of_names() {
        let set: NamespaceSet = [NamespaceKind::Uts, NamespaceKind::Pid]
            .into_iter()
            .collect();
        let json = serde_json::to_string(&set).expect("serializes");
        assert_eq!(json, r#"["pid","uts"]"#);
        let back: NamespaceSet = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, set);
    }
}
