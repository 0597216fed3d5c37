//! The device cgroup: the container may open only the devices isolab gives it
//! (`isolab_shared::plan::DEVICE_RULES`: null, zero, full, random, urandom, tty,
//! /dev/ptmx and its own ptys). Its root keeps CAP_MKNOD, so without this rule it
//! could make a node for the host's disk (b 8:0) or /dev/mem (c 1:1) and open it;
//! with it, mknod still works and open(2) of such a node fails with EPERM.
//!
//! On a host with the v1 `devices` controller, the container gets a group there:
//! `devices.deny` "a", then each rule to `devices.allow`. cgroup2 has no such files:
//! where the container has a cgroup2 group (always on a pure cgroup2 host; on a
//! hybrid host when it gets one, as the server's containers do) the same rules
//! become a BPF_PROG_TYPE_CGROUP_DEVICE program attached to it ([`super::device_bpf`]).
//! On a hybrid host both then apply, and a device must pass both.

use std::path::PathBuf;

use isolab_shared::plan::{PlannedStep, DEVICE_RULES};
use isolab_shared::SetupPhase;

use super::{
    device_bpf, make_group, make_parent, write_file, CgroupError, CgroupVersion, ContainerCgroup,
    GroupDir, PARENT,
};
use crate::runtime::steps::StepLog;

/// Where the v1 `devices` hierarchy is mounted, if it is.
pub fn v1_devices_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [_, target, "cgroup", options, ..] if options.split(',').any(|o| o == "devices") => {
                Some(PathBuf::from(target))
            }
            _ => None,
        }
    })
}

impl ContainerCgroup {
    /// Limits the devices the container may open; the v1 group joins the others (PID 1
    /// enters it with them). Does nothing on a host without the v1 controller.
    pub(super) fn restrict_devices(&mut self, log: &mut StepLog) -> Result<(), CgroupError> {
        let Some(mount) = v1_devices_mount() else {
            return Ok(());
        };
        let parent = mount.join(PARENT);
        make_parent(&parent, log)?;
        let path = parent.join(&self.id);
        make_group(&path, log)?;
        self.dirs.push(GroupDir {
            version: CgroupVersion::V1,
            path: path.clone(),
            controllers: Vec::new(),
        });
        let deny = path.join("devices.deny");
        let allow = path.join("devices.allow");
        let call = format!(
            "write({deny:?}, \"a\"); write({allow:?}, each of {})",
            DEVICE_RULES.join(", ")
        );
        log.record(
            SetupPhase::Limits,
            "allow only isolab's devices",
            call,
            || {
                write_file(&deny, "a")?;
                write_each(&allow, &DEVICE_RULES)
            },
        )
    }

    /// Attaches the device program to the container's cgroup2 group, if it has one.
    /// Recorded under the plan's step ([`PlannedStep::DeviceProgram`]), which the
    /// plan carries on a pure cgroup2 host; PID 1 finds it done.
    pub(super) fn attach_device_program(&mut self, log: &mut StepLog) -> Result<(), CgroupError> {
        let Some(group) = self
            .dirs
            .iter()
            .find(|d| d.version == CgroupVersion::V2)
            .map(|d| d.path.clone())
        else {
            return Ok(());
        };
        let step = PlannedStep::DeviceProgram {
            rules: DEVICE_RULES.iter().map(|r| r.to_string()).collect(),
        };
        log.record(step.phase(), step.name(), step.call(), || {
            device_bpf::restrict(&group)
        })?;
        self.device_program = true;
        Ok(())
    }
}

/// Writes each of `values` to the cgroup file at `path` with a write(2) of its own
/// (the kernel takes one rule per write), through one open file: ten opens of the
/// same file would cost a path walk each.
fn write_each(path: &std::path::Path, values: &[&str]) -> Result<(), CgroupError> {
    use std::io::Write;
    let failed = |value: &str, source| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| failed(values.first().copied().unwrap_or(""), e))?;
    for value in values {
        // A single write(2): a cgroup file takes the whole buffer or fails.
        file.write_all(value.as_bytes())
            .map_err(|e| failed(value, e))?;
    }
    Ok(())
}
