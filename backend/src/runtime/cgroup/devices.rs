//! The device cgroup: the container may open only the devices isolab gives it
//! (`isolab_shared::plan::DEVICE_RULES`: null, zero, full, random, urandom, tty,
//! /dev/ptmx and its own ptys). Its root keeps CAP_MKNOD, so without this rule it
//! could make a node for the host's disk (b 8:0) or /dev/mem (c 1:1) and open it;
//! with it, mknod still works and open(2) of such a node fails with EPERM.
//!
//! On a host with the v1 `devices` controller, the container gets a group there:
//! `devices.deny` "a", then each rule to `devices.allow`. A pure cgroup2 host has no
//! such files: there the rule is a BPF_PROG_TYPE_CGROUP_DEVICE program attached to
//! the container's group, which isolab does not build yet; on such a host no device
//! rule applies, no step is recorded and the isolation facts list no `devices`.

use std::path::PathBuf;

use isolab_shared::plan::DEVICE_RULES;
use isolab_shared::SetupPhase;

use super::{mkdir, write_file, CgroupError, CgroupVersion, ContainerCgroup, GroupDir, PARENT};
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
        if !parent.is_dir() {
            log.record(
                SetupPhase::Cgroup,
                "make isolab's parent group",
                format!("mkdir(\"{}\")", parent.display()),
                || mkdir(&parent, true),
            )?;
        }
        let path = parent.join(&self.id);
        log.record(
            SetupPhase::Cgroup,
            "make the container's group",
            format!("mkdir(\"{}\")", path.display()),
            || mkdir(&path, false),
        )?;
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
                DEVICE_RULES
                    .iter()
                    .try_for_each(|rule| write_file(&allow, rule))
            },
        )
    }
}
