//! Applies [`PlannedStep`]s inside the container's init, recording each one with the
//! syscall it made. Runs only in the single-threaded init helper.

use std::os::unix::fs::{symlink, DirBuilderExt, PermissionsExt};
use std::path::Path;

use isolab_shared::IsolationFacts;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};

use super::channel::FailureKind;
use super::plan::PlannedStep;
use super::steps::StepLog;

/// A setup step that failed, named for the user.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {error}")]
pub struct StepFailed {
    /// Whether it was setup, or the command that could not be found or run.
    pub kind: FailureKind,
    /// The step's name.
    pub step: String,
    /// What went wrong.
    pub error: String,
}

/// Applies `step`, recording it in `log`; masked and read-only paths that exist are
/// noted in `facts`.
pub fn apply(
    step: &PlannedStep,
    log: &mut StepLog,
    facts: &mut IsolationFacts,
) -> Result<(), StepFailed> {
    let phase = step.phase();
    let (name, call, result): (String, String, Result<(), String>) = match step {
        PlannedStep::MakeRootSlave => timed(
            log,
            phase,
            "make / rslave",
            "mount(NULL, \"/\", NULL, MS_REC|MS_SLAVE)",
            || {
                mount(
                    None::<&str>,
                    "/",
                    None::<&str>,
                    MsFlags::MS_REC | MsFlags::MS_SLAVE,
                    None::<&str>,
                )
            },
        ),
        PlannedStep::MountTmpfsRoot { target } => {
            let call = format!("mount(\"tmpfs\", {target:?}, \"tmpfs\", MS_NOSUID|MS_NODEV, \"mode=755,size=64m\")");
            timed(log, phase, "tmpfs root", call, || {
                mount(
                    Some("tmpfs"),
                    target,
                    Some("tmpfs"),
                    MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                    Some("mode=755,size=64m"),
                )
            })
        }
        PlannedStep::MountOverlayRoot {
            target,
            lower,
            upper,
            work,
        } => {
            // `volatile`: the writable layer dies with the container, so syncing it to
            // disk at unmount (tens of milliseconds on a busy disk) buys nothing.
            let data = format!(
                "lowerdir={},upperdir={},workdir={},volatile",
                lower.display(),
                upper.display(),
                work.display()
            );
            let call = format!("mount(\"overlay\", {target:?}, \"overlay\", 0, {data:?})");
            timed(log, phase, "overlay root", call, || {
                let overlay = |opts: &str| {
                    mount(
                        Some("overlay"),
                        target,
                        Some("overlay"),
                        MsFlags::empty(),
                        Some(opts),
                    )
                };
                // Kernels before 5.10 lack `volatile`.
                overlay(&data).or_else(|_| overlay(data.trim_end_matches(",volatile")))
            })
        }
        PlannedStep::MakeDir { path, mode } => {
            let call = format!("mkdir({path:?}, {mode:#o})");
            timed(log, phase, "mkdir", call, || make_dir(path, *mode))
        }
        PlannedStep::BindReadOnly { source, target } => {
            let call =
                format!("mount({source:?}, {target:?}, NULL, MS_BIND|MS_REC) + remount MS_RDONLY");
            timed(log, phase, "bind read-only", call, || {
                make_dir(target, 0o755)?;
                bind_read_only(source, target)
            })
        }
        PlannedStep::Symlink { link, points_to } => {
            let call = format!("symlink({points_to:?}, {link:?})");
            timed(log, phase, "symlink", call, || {
                symlink(points_to, link).map_err(errno)
            })
        }
        PlannedStep::WriteFile { path, contents } => {
            let call = format!("write({path:?}, {} bytes)", contents.len());
            timed(log, phase, "write file", call, || {
                std::fs::write(path, contents).map_err(errno)
            })
        }
        PlannedStep::MountProc { target } => {
            let call =
                format!("mount(\"proc\", {target:?}, \"proc\", MS_NOSUID|MS_NOEXEC|MS_NODEV)");
            timed(log, phase, "fresh /proc", call, || {
                mount(
                    Some("proc"),
                    target,
                    Some("proc"),
                    nosuid_noexec_nodev(),
                    None::<&str>,
                )
            })
        }
        PlannedStep::BindHostProc { target } => {
            let call = format!("mount(\"/proc\", {target:?}, NULL, MS_BIND|MS_REC)");
            timed(log, phase, "host /proc", call, || {
                mount(
                    Some("/proc"),
                    target,
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                )
            })
        }
        PlannedStep::MountSysfs { target } => {
            let call = format!(
                "mount(\"sysfs\", {target:?}, \"sysfs\", MS_RDONLY|MS_NOSUID|MS_NOEXEC|MS_NODEV)"
            );
            timed(log, phase, "read-only /sys", call, || {
                mount(
                    Some("sysfs"),
                    target,
                    Some("sysfs"),
                    nosuid_noexec_nodev() | MsFlags::MS_RDONLY,
                    None::<&str>,
                )
            })
        }
        PlannedStep::BindSysReadOnly { target } => {
            let call =
                format!("mount(\"/sys\", {target:?}, NULL, MS_BIND|MS_REC) + remount MS_RDONLY");
            timed(log, phase, "host /sys read-only", call, || {
                bind_read_only(Path::new("/sys"), target)
            })
        }
        PlannedStep::MountDevTmpfs { target } => {
            let call = format!("mount(\"tmpfs\", {target:?}, \"tmpfs\", MS_NOSUID|MS_STRICTATIME, \"mode=755,size=64k\")");
            timed(log, phase, "/dev tmpfs", call, || {
                mount(
                    Some("tmpfs"),
                    target,
                    Some("tmpfs"),
                    MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
                    Some("mode=755,size=64k"),
                )
            })
        }
        PlannedStep::BindDevice { name, dev_dir } => {
            let target = dev_dir.join(name);
            let source = Path::new("/dev").join(name);
            let call = format!("mount({source:?}, {target:?}, NULL, MS_BIND)");
            timed(log, phase, "bind device", call, || {
                std::fs::File::create(&target).map_err(errno)?;
                mount(
                    Some(&source),
                    &target,
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
            })
        }
        PlannedStep::MountDevpts { dev_dir } => {
            let pts = dev_dir.join("pts");
            let call = format!("mount(\"devpts\", {pts:?}, \"devpts\", MS_NOSUID|MS_NOEXEC, \"newinstance,ptmxmode=0666,mode=0620\")");
            timed(log, phase, "devpts", call, || {
                make_dir(&pts, 0o755)?;
                mount(
                    Some("devpts"),
                    &pts,
                    Some("devpts"),
                    MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
                    Some("newinstance,ptmxmode=0666,mode=0620"),
                )?;
                symlink("pts/ptmx", dev_dir.join("ptmx")).map_err(errno)?;
                for (link, to) in [
                    ("fd", "/proc/self/fd"),
                    ("stdin", "/proc/self/fd/0"),
                    ("stdout", "/proc/self/fd/1"),
                    ("stderr", "/proc/self/fd/2"),
                ] {
                    symlink(to, dev_dir.join(link)).map_err(errno)?;
                }
                Ok::<(), nix::Error>(())
            })
        }
        PlannedStep::MountShm { dev_dir } => {
            let shm = dev_dir.join("shm");
            let call = format!("mount(\"shm\", {shm:?}, \"tmpfs\", MS_NOSUID|MS_NOEXEC|MS_NODEV, \"mode=1777,size=64m\")");
            timed(log, phase, "/dev/shm", call, || {
                make_dir(&shm, 0o1777)?;
                mount(
                    Some("shm"),
                    &shm,
                    Some("tmpfs"),
                    nosuid_noexec_nodev(),
                    Some("mode=1777,size=64m"),
                )
            })
        }
        PlannedStep::PivotRoot { new_root } => {
            let call = format!("chdir({new_root:?}); pivot_root(\".\", \".\"); umount2(\".\", MNT_DETACH); chdir(\"/\")");
            timed(log, phase, "pivot_root", call, || pivot_into(new_root))
        }
        PlannedStep::MaskPath { path } => {
            let call = format!("mount(\"/dev/null\" or tmpfs, {path:?}, MS_RDONLY)");
            let r = timed(log, phase, "mask path", call, || mask(path));
            if r.2.is_ok() && path.exists() {
                facts.masked_paths.push(path.display().to_string());
            }
            r
        }
        PlannedStep::ReadOnlyPath { path } => {
            let call =
                format!("mount({path:?}, {path:?}, NULL, MS_BIND|MS_REC) + remount MS_RDONLY");
            let r = timed(log, phase, "read-only path", call, || {
                if path.exists() {
                    bind_read_only(path, path)
                } else {
                    Ok(())
                }
            });
            if r.2.is_ok() && path.exists() {
                facts.readonly_paths.push(path.display().to_string());
            }
            r
        }
        PlannedStep::SetHostname { hostname } => {
            let call = format!("sethostname({hostname:?})");
            timed(log, phase, "hostname", call, || {
                nix::unistd::sethostname(hostname)
            })
        }
        PlannedStep::LoopbackUp => timed(
            log,
            phase,
            "lo up",
            "ioctl(SIOCSIFFLAGS, \"lo\", IFF_UP)",
            loopback_up,
        ),
        PlannedStep::DropCapabilities { keep } => {
            let call = format!("capset + prctl(PR_CAPBSET_DROP) keeping {}", keep.join(","));
            let r = timed(log, phase, "drop capabilities", call, || {
                super::security::drop_capabilities(keep)
            });
            if r.2.is_ok() {
                facts.capabilities = keep.clone();
                facts.bounding = keep.clone();
            }
            r
        }
        PlannedStep::NoNewPrivs => {
            let r = timed(
                log,
                phase,
                "no_new_privs",
                "prctl(PR_SET_NO_NEW_PRIVS, 1)",
                nix::sys::prctl::set_no_new_privs,
            );
            facts.no_new_privs = r.2.is_ok();
            r
        }
        PlannedStep::Seccomp => {
            facts.seccomp = "disabled".to_string();
            (
                "seccomp".to_string(),
                "none yet (reserved step)".to_string(),
                Ok(()),
            )
        }
    };
    result.map_err(|error| StepFailed {
        kind: FailureKind::Setup,
        step: format!("{name} [{call}]"),
        error,
    })
}

/// Records `f` in the log and gives back (name, call, result as text).
fn timed<E: std::fmt::Display>(
    log: &mut StepLog,
    phase: isolab_shared::SetupPhase,
    name: &str,
    call: impl Into<String>,
    f: impl FnOnce() -> Result<(), E>,
) -> (String, String, Result<(), String>) {
    let call = call.into();
    let r = log
        .record(phase, name, call.clone(), f)
        .map_err(|e| e.to_string());
    (name.to_string(), call, r)
}

fn errno(e: std::io::Error) -> nix::Error {
    nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

fn nosuid_noexec_nodev() -> MsFlags {
    MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV
}

fn make_dir(path: &Path, mode: u32) -> Result<(), nix::Error> {
    match std::fs::DirBuilder::new().mode(mode).create(path) {
        Ok(()) => {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(errno)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(errno(e)),
    }
}

/// Binds `source` at `target` and remounts it read-only. The remount keeps the
/// flags the kernel locks in a user namespace (nosuid, nodev, noexec), or it fails.
fn bind_read_only(source: &Path, target: &Path) -> Result<(), nix::Error> {
    mount(
        Some(source),
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )?;
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    if let Ok(st) = statvfs(target) {
        let f = st.flags();
        for (fs, ms) in [
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if f.contains(fs) {
                flags |= ms;
            }
        }
    }
    mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
}

/// Hides `path`: /dev/null over a file, an empty read-only tmpfs over a directory.
/// Paths this kernel does not have are skipped.
fn mask(path: &Path) -> Result<(), nix::Error> {
    match std::fs::metadata(path) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() => mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            MsFlags::MS_RDONLY | nosuid_noexec_nodev(),
            Some("size=0"),
        ),
        Ok(_) => mount(
            Some("/dev/null"),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        ),
    }
}

/// pivot_root(".", ".") stacks the old root on top of the new one; detaching it then
/// leaves only the new root, with no directory for the old one to clean up.
fn pivot_into(new_root: &Path) -> Result<(), nix::Error> {
    nix::unistd::chdir(new_root)?;
    nix::unistd::pivot_root(".", ".")?;
    umount2(".", MntFlags::MNT_DETACH)?;
    nix::unistd::chdir("/")
}

/// Sets IFF_UP on `lo` through an ioctl on a throwaway socket.
fn loopback_up() -> Result<(), nix::Error> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    use std::os::fd::AsRawFd;
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: ifreq is plain data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq we own.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(nix::Error::last());
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(nix::Error::last());
        }
    }
    Ok(())
}
