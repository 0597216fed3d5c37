//! Named starting points for the simulator, the same in the browser and in `isolab sim`.

use crate::namespace::{NamespaceKind, NamespaceSet};
use crate::protocol::ContainerSpec;

/// Every scenario name, with a one-line description.
pub const SCENARIOS: &[(&str, &str)] = &[
    (
        "empty",
        "a host with a few daemons and your shell; no containers",
    ),
    (
        "two-containers",
        "two containers, web and db, each in its own namespaces",
    ),
    (
        "nested-pid",
        "a container whose shell made a nested pid namespace (three NSpid levels)",
    ),
    (
        "bridge",
        "two containers joined by veths to bridge br0 on the host: they can ping",
    ),
    ("pids-limit", "a container whose cgroup allows only 8 tasks"),
    (
        "rootless",
        "your shell runs as student (uid 1000): try unshare -r",
    ),
];

/// The host processes every scenario starts with: (argv, uid, reaps children).
pub const HOST_DAEMONS: &[(&str, u32)] = &[
    ("/lib/systemd/systemd-journald", 0),
    ("/lib/systemd/systemd-udevd", 0),
    ("/usr/sbin/cron -f", 0),
    ("/usr/sbin/sshd -D", 0),
    ("isolab serve", 0),
];

/// A spec for a scenario's container, with the default namespaces.
pub fn spec(name: &str) -> ContainerSpec {
    ContainerSpec {
        name: Some(name.to_string()),
        hostname: Some(name.to_string()),
        namespaces: NamespaceSet::default(),
        ..ContainerSpec::default()
    }
}

/// A spec with exactly `kinds`.
pub fn spec_with(name: &str, kinds: &[NamespaceKind]) -> ContainerSpec {
    ContainerSpec {
        namespaces: kinds.iter().copied().collect(),
        ..spec(name)
    }
}
