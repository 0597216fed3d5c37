//! Named starting points for the simulator, the same in the browser and in `isolab sim`.

use crate::namespace::{NamespaceKind, NamespaceSet};
use crate::protocol::ContainerSpec;

use super::errno::Errno;
use super::process::WaitStatus;
use super::simulator::{SimError, Simulator};

/// Every scenario name, with a one-line description (kept beside the worker protocol,
/// so the page lists them without linking the simulator).
pub use crate::sim_protocol::SCENARIOS;

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

impl Simulator {
    /// Builds the named scenario's containers and processes on a fresh host.
    pub(super) fn build_scenario(&mut self, name: &str) -> Result<(), SimError> {
        match name {
            "two-containers" => {
                self.create_container(spec("web"))?;
                self.create_container(spec("db"))?;
            }
            "nested-pid" => {
                // As if the container ran privileged: unconfined, all capabilities. A
                // default one may not unshare (its seccomp filter and capabilities).
                let mut outer = spec("outer");
                outer.security.seccomp = crate::seccomp::SeccompSetting::Unconfined;
                let c = self.create_container(outer)?;
                let outer_sh = self.container(&c.id)?.command_pid;
                let k = &mut self.kernel;
                let unshare = k.spawn(
                    outer_sh,
                    &["unshare", "-p", "-f", "--mount-proc", "sh"],
                    false,
                )?;
                k.proc_mut(unshare)?.caps = super::process::CAPS_FULL;
                k.unshare(unshare, &[NamespaceKind::Pid, NamespaceKind::Mnt])?;
                let inner = k.spawn(unshare, &["sh"], false)?;
                if let Ok(p) = k.proc_mut(unshare) {
                    p.reaps_children = true;
                }
                if let Ok(p) = k.proc_mut(inner) {
                    p.reaps_children = true;
                }
                k.spawn(inner, &["sleep", "1000"], false)?;
            }
            "bridge" => {
                let a = self.create_container(spec("left"))?;
                let b = self.create_container(spec("right"))?;
                let host = self.runtime_pid;
                let k = &mut self.kernel;
                k.add_bridge(host, "br0")?;
                k.set_link_up(host, "br0", true)?;
                for (i, c) in [a, b].iter().enumerate() {
                    let init = c.init_pid.ok_or(Errno::ESRCH)?;
                    let (outside, inside) = (format!("veth{i}"), format!("ceth{i}"));
                    k.add_veth(host, &outside, &inside)?;
                    k.set_master(host, &outside, Some("br0"))?;
                    k.set_link_up(host, &outside, true)?;
                    let net = k.proc(init)?.ns.net;
                    k.move_link(host, &inside, net)?;
                    let tmp = k.fork(host)?;
                    k.setns(tmp, init, &[NamespaceKind::Net])?;
                    k.set_link_up(tmp, &inside, true)?;
                    let addr = super::net::Cidr::parse(&format!("10.10.0.{}/24", i + 2))
                        .ok_or(Errno::EINVAL)?;
                    k.add_addr(tmp, &inside, addr)?;
                    k.exit(tmp, WaitStatus::Exited(0));
                }
            }
            "pids-limit" => {
                let mut s = spec("tiny");
                s.limits.pids = Some(8);
                self.create_container(s)?;
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_scenario_builds_and_no_other_name_does() {
        for (name, _) in SCENARIOS {
            assert!(Simulator::new(name).is_ok(), "{name}");
        }
        let err = Simulator::new("no-such").err().map(|e| e.to_string());
        let listed = SCENARIOS
            .iter()
            .all(|(n, _)| err.as_deref().is_some_and(|e| e.contains(n)));
        assert!(listed, "{err:?}");
    }
}
