//! Applies [`PlannedStep`]s inside the container's init, recording each one with the
//! name and call text the plan gives it (`isolab_shared::plan::steps`). Runs only in
//! the single-threaded init helper.

use std::os::unix::fs::{symlink, DirBuilderExt, PermissionsExt};
use std::path::Path;

use isolab_shared::IsolationFacts;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};

use super::channel::FailureKind;
use super::plan::{
    device_paths, overlay_options, CgroupJoin, HostCgroups, PlannedStep, CGROUP_ROOT,
};
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

/// Applies `step`, recording it in `log` under the plan's own name (the simulator
/// records the same); masked and read-only paths that exist are noted in `facts`.
/// `cgroup` names the container's groups (for its /sys/fs/cgroup). A step that
/// worked is recorded without its call text, for the caller to write in with
/// [`PlannedStep::call`] at the returned index once the command has started.
pub fn apply(
    step: &PlannedStep,
    cgroup: &CgroupJoin,
    log: &mut StepLog,
    facts: &mut IsolationFacts,
) -> Result<usize, StepFailed> {
    let name = step.name();
    let at = log.len();
    let result = log.record(step.phase(), name, String::new(), || perform(step, cgroup));
    match result {
        Ok(found) => {
            note_facts(step, found, facts);
            Ok(at)
        }
        Err(error) => {
            let call = step.call();
            log.set_call(at, call.clone());
            Err(StepFailed {
                kind: FailureKind::Setup,
                step: format!("{name} [{call}]"),
                error,
            })
        }
    }
}

/// Makes the step's syscalls; the error text is what the step records. Gives false
/// for a masked or read-only path that does not exist (nothing to do), so the facts
/// need not look it up again.
fn perform(step: &PlannedStep, cgroup: &CgroupJoin) -> Result<bool, String> {
    let done = |r: Result<(), nix::Error>| r.map(|()| true).map_err(|e| e.to_string());
    match step {
        PlannedStep::DropCapabilities { keep } => {
            super::security::drop_capabilities(keep).map(|()| true)
        }
        PlannedStep::MountCgroup { target, cgroups } => {
            mount_cgroup(target, cgroups, cgroup).map(|()| true)
        }
        PlannedStep::MaskPath { path } => mask(path).map_err(|e| e.to_string()),
        PlannedStep::ReadOnlyPath { path } => match path.exists() {
            true => done(bind_read_only(path, path)),
            false => Ok(false),
        },
        _ => done(syscalls(step)),
    }
}

/// The steps that are nix calls (all but the capability drop, which has its own).
fn syscalls(step: &PlannedStep) -> Result<(), nix::Error> {
    match step {
        PlannedStep::MakeRootSlave => mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_SLAVE,
            None::<&str>,
        ),
        PlannedStep::MountTmpfsRoot { target } => mount(
            Some("tmpfs"),
            target,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=755,size=64m"),
        ),
        PlannedStep::MountOverlayRoot {
            target,
            lower,
            upper,
            work,
        } => {
            let data = overlay_options(lower, upper, work);
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
        }
        PlannedStep::MakeDir { path, mode } => make_dir(path, *mode),
        PlannedStep::BindReadOnly { source, target } => {
            make_dir(target, 0o755)?;
            bind_read_only(source, target)
        }
        PlannedStep::Symlink { link, points_to } => symlink(points_to, link).map_err(errno),
        PlannedStep::WriteFile { path, contents } => std::fs::write(path, contents).map_err(errno),
        PlannedStep::MountProc { target } => mount(
            Some("proc"),
            target,
            Some("proc"),
            nosuid_noexec_nodev(),
            None::<&str>,
        ),
        PlannedStep::BindHostProc { target } => mount(
            Some("/proc"),
            target,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        ),
        PlannedStep::MountSysfs { target } => mount(
            Some("sysfs"),
            target,
            Some("sysfs"),
            nosuid_noexec_nodev() | MsFlags::MS_RDONLY,
            None::<&str>,
        ),
        PlannedStep::BindSysReadOnly { target } => bind_read_only(Path::new("/sys"), target),
        PlannedStep::MountDevTmpfs { target } => mount(
            Some("tmpfs"),
            target,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
            Some("mode=755,size=64k"),
        ),
        PlannedStep::BindDevice { name, dev_dir } => {
            let (source, target) = device_paths(name, dev_dir);
            std::fs::File::create(&target).map_err(errno)?;
            mount(
                Some(&source),
                &target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        }
        PlannedStep::MountDevpts { dev_dir } => {
            let pts = dev_dir.join("pts");
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
            Ok(())
        }
        PlannedStep::MountShm { dev_dir } => {
            let shm = dev_dir.join("shm");
            make_dir(&shm, 0o1777)?;
            mount(
                Some("shm"),
                &shm,
                Some("tmpfs"),
                nosuid_noexec_nodev(),
                Some("mode=1777,size=64m"),
            )
        }
        PlannedStep::PivotRoot { new_root } => pivot_into(new_root),
        // `perform` applies these, for it tells whether the path was there.
        PlannedStep::MaskPath { .. } | PlannedStep::ReadOnlyPath { .. } => Ok(()),
        PlannedStep::SetHostname { hostname } => nix::unistd::sethostname(hostname),
        PlannedStep::LoopbackUp => loopback_up(),
        PlannedStep::DropCapabilities { .. } | PlannedStep::MountCgroup { .. } => Ok(()),
        // The runtime attaches it with the group (`cgroup::devices`); PID 1 skips it.
        PlannedStep::DeviceProgram { .. } => Ok(()),
        PlannedStep::NoNewPrivs => nix::sys::prctl::set_no_new_privs(),
        // Reserved: recorded, and nothing applied yet.
        // PID 1 compiles it (`super::seccomp::prepare`), the command installs it.
        PlannedStep::Seccomp { .. } => Ok(()),
    }
}

/// Notes what an applied step makes true of the container, for the UI to show;
/// `found`: the masked or read-only path was there.
fn note_facts(step: &PlannedStep, found: bool, facts: &mut IsolationFacts) {
    match step {
        PlannedStep::MaskPath { path } if found => {
            facts.masked_paths.push(path.display().to_string());
        }
        PlannedStep::ReadOnlyPath { path } if found => {
            facts.readonly_paths.push(path.display().to_string());
        }
        PlannedStep::DropCapabilities { keep } => {
            facts.capabilities = keep.clone();
            facts.bounding = keep.clone();
        }
        PlannedStep::NoNewPrivs => facts.no_new_privs = true,
        _ => {}
    }
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

/// The container's own groups at `target`, read-only: on a v2 host its cgroup2
/// directory bound there; on v1 and hybrid hosts a tmpfs holding its group of each
/// hierarchy (named as under /sys/fs/cgroup), the tmpfs made read-only last.
fn mount_cgroup(target: &Path, cgroups: &HostCgroups, join: &CgroupJoin) -> Result<(), String> {
    let fail = |what: &str, e: nix::Error| format!("{what}: {e}");
    match cgroups {
        HostCgroups::None => Ok(()),
        HostCgroups::V2 => {
            let own = join
                .v2_dir
                .as_deref()
                .ok_or("the container has no cgroup2 directory")?;
            bind_read_only(own, target).map_err(|e| fail("bind", e))
        }
        HostCgroups::V1 { .. } => {
            let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
            mount(
                Some("tmpfs"),
                target,
                Some("tmpfs"),
                flags,
                Some("mode=755,size=16k"),
            )
            .map_err(|e| fail("tmpfs", e))?;
            for own in join.v1_dirs.iter().chain(&join.v2_dir) {
                // `…/sys/fs/cgroup/pids/isolab/<id>` is the group of hierarchy `pids`.
                let Some(name) = own
                    .strip_prefix(CGROUP_ROOT)
                    .ok()
                    .and_then(|rest| rest.components().next())
                else {
                    continue;
                };
                let at = target.join(name);
                make_dir(&at, 0o755).map_err(|e| fail("mkdir", e))?;
                bind_read_only(own, &at).map_err(|e| fail("bind", e))?;
            }
            mount(
                None::<&str>,
                target,
                None::<&str>,
                flags | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                None::<&str>,
            )
            .map_err(|e| fail("remount read-only", e))
        }
    }
}

/// Hides `path`: /dev/null over a file, an empty read-only tmpfs over a directory.
/// Paths this kernel does not have are skipped.
fn mask(path: &Path) -> Result<bool, nix::Error> {
    match std::fs::metadata(path) {
        Err(_) => Ok(false),
        Ok(m) if m.is_dir() => mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            MsFlags::MS_RDONLY | nosuid_noexec_nodev(),
            Some("size=0"),
        )
        .map(|()| true),
        Ok(_) => mount(
            Some("/dev/null"),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map(|()| true),
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
