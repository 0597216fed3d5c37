//! Process hardening done in the container's init and in the command's process just
//! before exec: capabilities, no-dumpable, fd hygiene, the cwd check.

use std::collections::HashSet;
use std::str::FromStr;

use caps::{CapSet, Capability, CapsHashSet};

/// Cuts every capability set to `keep`: bounding first (needs CAP_SETPCAP, which we
/// still have), then inheritable, permitted and effective; ambient is cleared.
pub fn drop_capabilities(keep: &[String]) -> Result<(), String> {
    let keep: CapsHashSet = keep
        .iter()
        .map(|c| Capability::from_str(c).map_err(|e| format!("{c}: {e}")))
        .collect::<Result<HashSet<_>, _>>()?;
    let all = caps::all();
    for cap in all.difference(&keep) {
        caps::drop(None, CapSet::Bounding, *cap).map_err(|e| format!("bounding {cap}: {e}"))?;
    }
    caps::clear(None, CapSet::Ambient).map_err(|e| format!("ambient: {e}"))?;
    for set in [CapSet::Inheritable, CapSet::Effective, CapSet::Permitted] {
        let current = caps::read(None, set).map_err(|e| format!("{set:?}: {e}"))?;
        let kept: CapsHashSet = current.intersection(&keep).copied().collect();
        caps::set(None, set, &kept).map_err(|e| format!("{set:?}: {e}"))?;
    }
    Ok(())
}

/// Makes the process undumpable: its /proc/PID/exe and memory can then not be opened
/// by processes in the container until it execs the command (CVE-2019-5736).
pub fn set_not_dumpable() -> Result<(), nix::Error> {
    nix::sys::prctl::set_dumpable(false)
}

/// Marks every fd above 2 close-on-exec, so none reaches the command even if a library
/// forgot O_CLOEXEC (CVE-2024-21626). Keeps them open until exec so an exec error can
/// still be reported.
pub fn cloexec_fds_above_stdio() -> Result<(), nix::Error> {
    // SAFETY: close_range only changes fd flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r < 0 {
        return Err(nix::Error::last());
    }
    Ok(())
}

/// Checks that the working directory lies inside the container's root: a leaked fd to
/// a host directory would show as "(unreachable)" (CVE-2024-21626).
pub fn check_cwd_inside_root() -> Result<(), String> {
    let cwd = nix::unistd::getcwd().map_err(|e| format!("getcwd: {e}"))?;
    if !cwd.is_absolute() || cwd.to_string_lossy().starts_with("(unreachable)") {
        return Err(format!(
            "working directory {} is outside the container's root",
            cwd.display()
        ));
    }
    Ok(())
}

/// dup2(2) on raw fds (stdio numbers are not owned values).
pub fn dup2_raw(src: std::os::fd::RawFd, dst: std::os::fd::RawFd) -> Result<(), nix::Error> {
    // SAFETY: dup2 only manipulates the fd table.
    nix::errno::Errno::result(unsafe { libc::dup2(src, dst) }).map(drop)
}
