//! The steps around the plan's own: the container's groups made, PID 1 cloned into its
//! namespaces, its identity inside, its terminal and the command started. Who takes
//! them differs (the runtime's parent, its helper, PID 1; the simulator's model of
//! each), so they are not [`super::PlannedStep`]s, but both interpreters record them
//! with the names and call texts made here, so the two stay word for word alike.

use std::path::Path;

use crate::namespace::NamespaceKind;
use crate::protocol::SetupPhase;

/// One recorded step's phase, name and call text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepText {
    pub phase: SetupPhase,
    pub name: &'static str,
    pub call: String,
}

impl StepText {
    fn new(phase: SetupPhase, name: &'static str, call: impl Into<String>) -> StepText {
        StepText {
            phase,
            name,
            call: call.into(),
        }
    }
}

/// isolab's parent group in a hierarchy, made once for every container.
pub fn make_parent_group(dir: &Path) -> StepText {
    let call = format!("mkdir(\"{}\")", dir.display());
    StepText::new(SetupPhase::Cgroup, "make isolab's parent group", call)
}

/// The container's own group in a hierarchy.
pub fn make_group(dir: &Path) -> StepText {
    let call = format!("mkdir(\"{}\")", dir.display());
    StepText::new(SetupPhase::Cgroup, "make the container's group", call)
}

/// On cgroup2: the controllers (`+pids +memory`) enabled for isolab's groups in the
/// parent's `cgroup.subtree_control` file.
pub fn enable_controllers(subtree_control: &Path, value: &str) -> StepText {
    let call = format!("write(\"{}\", \"{value}\")", subtree_control.display());
    StepText::new(
        SetupPhase::Cgroup,
        "enable controllers for isolab's groups",
        call,
    )
}

/// PID 1 cloned into the new namespaces: all but cgroup (which PID 1 unshares once it
/// is in its group), as the runtime's child (`for_parent`: its helper's sibling,
/// `CLONE_PARENT`), born in its cgroup2 group when it has one (`CLONE_INTO_CGROUP`).
pub fn clone_pid1(
    namespaces: impl IntoIterator<Item = NamespaceKind>,
    for_parent: bool,
    into_cgroup: bool,
) -> StepText {
    let mut flags: Vec<&str> = Vec::new();
    if for_parent {
        flags.push("CLONE_PARENT");
    }
    flags.extend(
        namespaces
            .into_iter()
            .filter(|k| *k != NamespaceKind::Cgroup)
            .map(|k| k.clone_flag_name()),
    );
    if into_cgroup {
        flags.push("CLONE_INTO_CGROUP");
    }
    let call = format!("clone3({})", flags.join("|"));
    StepText::new(
        SetupPhase::Namespaces,
        "create PID 1 in new namespaces",
        call,
    )
}

/// In a user namespace, once its maps are written: root inside.
pub fn become_root() -> StepText {
    StepText::new(
        SetupPhase::Namespaces,
        "become root inside",
        "setresgid(0,0,0); setresuid(0,0,0)",
    )
}

/// The cgroup namespace, unshared by PID 1 in its group, which becomes its root.
pub fn cgroup_namespace() -> StepText {
    StepText::new(
        SetupPhase::Namespaces,
        "cgroup namespace",
        "unshare(CLONE_NEWCGROUP)",
    )
}

/// A terminal from the container's own devpts.
pub fn open_pty() -> StepText {
    StepText::new(
        SetupPhase::Process,
        "open pty",
        "open(\"/dev/ptmx\", O_RDWR|O_NOCTTY|O_CLOEXEC); unlockpt; open(ptsname)",
    )
}

/// The command started as PID 2, on the terminal (`tty`) or the pipes.
pub fn exec_command(tty: bool, command: &[String]) -> StepText {
    let stdio = if tty {
        "ioctl(TIOCSCTTY); dup2(pty slave -> 0,1,2); "
    } else {
        "dup2(stdio -> 0,1,2); "
    };
    let call = format!(
        "clone(CLONE_VM|CLONE_VFORK); setsid(); {stdio}close_range(3, ~0, CLOSE_RANGE_CLOEXEC); execve({:?})",
        command.join(" ")
    );
    StepText::new(SetupPhase::Process, "exec the command as PID 2", call)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone3_names_its_flags_in_order_and_leaves_cgroup_to_pid_1() {
        let all = NamespaceKind::ALL;
        let step = clone_pid1(all, true, true);
        assert!(
            step.call.starts_with("clone3(CLONE_PARENT|"),
            "{}",
            step.call
        );
        assert!(step.call.ends_with("|CLONE_INTO_CGROUP)"), "{}", step.call);
        assert!(!step.call.contains("CLONE_NEWCGROUP"), "{}", step.call);
        assert_eq!(clone_pid1([], false, false).call, "clone3()");
    }
}
