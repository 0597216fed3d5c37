//! How the runtime side starts a container's PID 1: the helper (exec'd) or the
//! caller's own clone, the stdio fds handed over, the id maps, the cgroup to join.

use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use nix::unistd::Pid;

use super::cgroup::ContainerCgroup;
use super::container::{ContainerPipes, Stdio};
use super::plan::{self, IdMapping};
use super::{RuntimeConfig, RuntimeError, INIT_ARGV0};

/// Starts the init helper with `control` as its stdin: [`RuntimeConfig::helper_exe`]
/// re-exec'd through `std::process::Command`, so no code of ours runs between fork
/// and exec in a multi-threaded caller (the tokio server, the test harness). A
/// single-threaded caller (the CLI) skips the helper: see `fork_init`.
pub(super) fn start_helper(config: &RuntimeConfig, control: OwnedFd) -> Result<Pid, RuntimeError> {
    let child = std::process::Command::new(&config.helper_exe)
        .arg0(INIT_ARGV0)
        .env_clear()
        .stdin(std::process::Stdio::from(control))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| RuntimeError::Helper(config.helper_exe.clone(), e))?;
    // Reaped with waitpid by pid; dropping a Child neither kills nor waits.
    Ok(Pid::from_raw(child.id() as i32))
}

/// Whether this process runs a single thread (the "Threads:" line of its status).
pub(super) fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .is_some_and(|n| n.trim() == "1")
    })
}

/// Which directories the helper joins itself to (v1) or bears PID 1 into (v2).
pub(super) fn cgroup_join(cg: &ContainerCgroup) -> plan::CgroupJoin {
    use super::cgroup::CgroupVersion;
    let mut join = plan::CgroupJoin::default();
    for dir in cg.dirs() {
        match dir.version {
            CgroupVersion::V1 => {
                join.v1_dirs.push(dir.path.clone());
                join.v1_roots
                    .extend(dir.hierarchy_root().map(Path::to_path_buf));
            }
            CgroupVersion::V2 => join.v2_dir = Some(dir.path.clone()),
        }
    }
    join
}

/// The fds the command gets (sent to the helper) and, for pipes, our ends.
pub(super) fn stdio_fds(
    stdio: Stdio,
    tty: bool,
) -> Result<(Vec<OwnedFd>, Option<ContainerPipes>), RuntimeError> {
    if tty {
        return Ok((Vec::new(), None));
    }
    let sys = |e| RuntimeError::Sys("stdio", e);
    match stdio {
        Stdio::Inherit => {
            let fds = (0..3)
                .map(|fd| {
                    // SAFETY: 0, 1 and 2 are open for the life of the process.
                    let b = unsafe { BorrowedFd::borrow_raw(fd) };
                    b.try_clone_to_owned().map_err(|e| {
                        RuntimeError::Sys(
                            "dup stdio",
                            nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EBADF)),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((fds, None))
        }
        Stdio::Null => {
            let null = std::fs::File::options()
                .read(true)
                .write(true)
                .open("/dev/null")
                .map_err(|_| sys(nix::Error::ENOENT))?;
            let fd = OwnedFd::from(null);
            let a = fd.try_clone().map_err(|_| sys(nix::Error::EMFILE))?;
            let b = fd.try_clone().map_err(|_| sys(nix::Error::EMFILE))?;
            Ok((vec![fd, a, b], None))
        }
        Stdio::Pipes => {
            let cloexec = nix::fcntl::OFlag::O_CLOEXEC;
            let (in_r, in_w) = nix::unistd::pipe2(cloexec).map_err(sys)?;
            let (out_r, out_w) = nix::unistd::pipe2(cloexec).map_err(sys)?;
            let (err_r, err_w) = nix::unistd::pipe2(cloexec).map_err(sys)?;
            Ok((
                vec![in_r, out_w, err_w],
                Some(ContainerPipes {
                    stdin: in_w,
                    stdout: out_r,
                    stderr: err_r,
                }),
            ))
        }
    }
}

/// Writes setgroups "deny" and the uid/gid maps of a helper in a new user namespace.
pub(super) fn write_id_maps(pid: u32, m: IdMapping) -> Result<(), RuntimeError> {
    let line = format!("0 {} {}\n", m.outside, m.count);
    for (file, text) in [
        ("setgroups", "deny"),
        ("uid_map", line.as_str()),
        ("gid_map", line.as_str()),
    ] {
        let path = PathBuf::from(format!("/proc/{pid}/{file}"));
        std::fs::write(&path, text).map_err(|e| RuntimeError::StateDir(path, e))?;
    }
    Ok(())
}
