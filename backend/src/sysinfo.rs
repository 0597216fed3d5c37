//! Facts about the host that decide what isolab can do here.

use isolab_shared::{CgroupMode, LiveStatus};

/// The kernel release, as `uname -r` prints it.
pub fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// The host's hostname.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// Reads how cgroups are mounted, from this process's mount table.
pub fn cgroup_mode() -> CgroupMode {
    match procfs::process::Process::myself().and_then(|p| p.mountinfo()) {
        Ok(mounts) => cgroup_mode_from_mounts(
            mounts
                .into_iter()
                .map(|m| (m.fs_type, m.mount_point.to_string_lossy().into_owned())),
        ),
        Err(_) => CgroupMode::None,
    }
}

/// Classifies a mount table given as (fs type, mount point) pairs.
///
/// cgroup2 at /sys/fs/cgroup is v2; cgroup2 elsewhere beside v1 controllers is hybrid
/// (as systemd sets up with /sys/fs/cgroup/unified); v1 controllers alone are v1.
pub fn cgroup_mode_from_mounts(mounts: impl IntoIterator<Item = (String, String)>) -> CgroupMode {
    let mut v1 = false;
    let mut v2_at_root = false;
    let mut v2_elsewhere = false;
    for (fs_type, mount_point) in mounts {
        match fs_type.as_str() {
            "cgroup" => v1 = true,
            "cgroup2" if mount_point == "/sys/fs/cgroup" => v2_at_root = true,
            "cgroup2" => v2_elsewhere = true,
            _ => {}
        }
    }
    match (v1, v2_at_root, v2_elsewhere) {
        (false, true, _) => CgroupMode::V2,
        (true, _, true) | (true, true, _) => CgroupMode::Hybrid,
        (true, false, false) => CgroupMode::V1,
        (false, false, true) => CgroupMode::V2,
        (false, false, false) => CgroupMode::None,
    }
}

/// Whether real containers can be made by this process, and why not.
pub fn live_status() -> LiveStatus {
    if !nix::unistd::geteuid().is_root() {
        return LiveStatus {
            available: false,
            reason: Some(
                "not running as root: real containers need root (start isolab with sudo); \
                 the simulator still works"
                    .to_string(),
            ),
        };
    }
    if !std::path::Path::new("/proc/self/ns/pid").exists() {
        return LiveStatus {
            available: false,
            reason: Some("this kernel does not expose namespaces in /proc/self/ns".to_string()),
        };
    }
    LiveStatus {
        available: true,
        reason: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mounts(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn classifies_the_three_layouts() {
        let v2 = mounts(&[("cgroup2", "/sys/fs/cgroup"), ("proc", "/proc")]);
        assert_eq!(cgroup_mode_from_mounts(v2), CgroupMode::V2);
        let hybrid = mounts(&[
            ("tmpfs", "/sys/fs/cgroup"),
            ("cgroup", "/sys/fs/cgroup/memory"),
            ("cgroup2", "/sys/fs/cgroup/unified"),
        ]);
        assert_eq!(cgroup_mode_from_mounts(hybrid), CgroupMode::Hybrid);
        let v1 = mounts(&[("cgroup", "/sys/fs/cgroup/pids")]);
        assert_eq!(cgroup_mode_from_mounts(v1), CgroupMode::V1);
        assert_eq!(cgroup_mode_from_mounts(mounts(&[])), CgroupMode::None);
    }

    #[test]
    fn reads_this_host() {
        assert!(!kernel_release().is_empty());
        // Whatever the host runs, the reading is consistent with its mount table.
        let mode = cgroup_mode();
        let text = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo readable");
        if text.contains(" - cgroup2 ") || text.contains(" - cgroup ") {
            assert_ne!(mode, CgroupMode::None);
        }
    }
}
