//! How the runtime makes a container's PID 1: the state dir, the plan and the cgroup;
//! then the helper (exec'd) or the caller's own clone, the stdio fds handed over, the
//! id maps, and the messages from init until the container is set up.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{chown, DirBuilderExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use isolab_shared::{
    limits::Limits, ContainerSpec, ContainerStatus, IsolationFacts, NamespaceKind, SetupPhase,
    SetupStep, UsernsMode, HOST_IMAGE,
};
use nix::sys::signal::Signal;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::cgroup::{ContainerCgroup, Controller};
use super::channel::{ControlChannel, ControlMessage};
use super::init_process::fork_init;
use super::plan::{self, ContainerPaths, IdMapping, PlannedStep};
use super::preflight::preflight;
use super::proc_title::environ_area;
use super::state::{self, made_up_name, make_dir, new_id, ContainerRecord};
use super::stdio::{stdio_fds, ContainerPipes, Stdio};
use super::steps::StepLog;
use super::userns_ranges;
use super::{RuntimeConfig, RuntimeError, INIT_ARGV0};

/// A container set up by [`launch`]: what a [`Container`](super::Container) is made of.
pub(super) struct Launched {
    /// PID 1 leaves the cgroup before it reports its command's end.
    pub(super) release_before_teardown: bool,
    pub(super) record: ContainerRecord,
    pub(super) channel: ControlChannel,
    pub(super) cgroup: Option<ContainerCgroup>,
    pub(super) tty: Option<OwnedFd>,
    pub(super) pipes: Option<ContainerPipes>,
}

/// Undoes a half-made container when setup fails: processes, cgroup, state dir.
struct SetupGuard {
    state_dir: PathBuf,
    helper: Option<Pid>,
    init_pid: Option<u32>,
    cgroup: Option<ContainerCgroup>,
    armed: bool,
}

impl Drop for SetupGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(helper) = self.helper.take() {
            let _ = nix::sys::signal::kill(helper, Signal::SIGKILL);
            let _ = waitpid(helper, None);
        }
        if let Some(pid) = self.init_pid {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid as i32), None);
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.kill_all();
            let _ = cg.remove();
        }
        let _ = state::remove_state_dir(&self.state_dir);
    }
}

/// The cgroup controllers a container gets: all of them, or what its limits need.
fn wanted_controllers(config: &RuntimeConfig, limits: &Limits) -> Vec<Controller> {
    if config.all_cgroup_controllers {
        return Controller::ALL.to_vec();
    }
    let mut wanted = vec![Controller::Pids];
    if limits.memory_bytes.is_some() {
        wanted.push(Controller::Memory);
    }
    if limits.cpus.is_some() {
        wanted.extend([Controller::Cpu, Controller::Cpuacct]);
    }
    wanted
}

/// Makes a container up to the command's exec (or, with `start_now`, through it):
/// checks, state dir, plan, cgroup, PID 1, and init's reports. On error nothing is
/// left behind.
pub(super) fn launch(
    config: &RuntimeConfig,
    spec: &ContainerSpec,
    stdio: Stdio,
    start_now: bool,
) -> Result<Launched, RuntimeError> {
    preflight(config, spec)?;
    let mut spec = spec.clone();
    // Recorded with the namespaces it gets: `userns: auto` adds the user namespace.
    spec.namespaces = spec.effective_namespaces();
    if spec.image != HOST_IMAGE {
        spec.image = std::fs::canonicalize(&spec.image)
            .map_err(|_| RuntimeError::ImageMissing(spec.image.clone()))?
            .display()
            .to_string();
    }
    let id = new_id();
    let name = spec.name.clone().unwrap_or_else(made_up_name);
    let hostname = spec.hostname.clone().unwrap_or_else(|| {
        name.chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(63)
            .collect()
    });
    make_dir(&config.state_root, 0o711)?;
    let state_dir = config.state_root.join(&id);
    let io = |e| RuntimeError::StateDir(state_dir.clone(), e);
    std::fs::DirBuilder::new()
        .mode(0o711)
        .create(&state_dir)
        .map_err(io)?;
    let mut guard = SetupGuard {
        state_dir: state_dir.clone(),
        helper: None,
        init_pid: None,
        cgroup: None,
        armed: true,
    };
    let paths = ContainerPaths::under(&state_dir);
    let user_ns = spec.namespaces.contains(NamespaceKind::User);
    let mapping = match (user_ns, spec.userns) {
        (false, _) => None,
        (true, UsernsMode::Default) => Some(IdMapping {
            outside: config.id_map_base,
            count: config.id_map_count,
        }),
        // Taken now that the state dir exists; the guard's removal of it gives it back.
        (true, UsernsMode::Auto) => {
            let range = userns_ranges::allocate(&config.state_root, &id)?;
            Some(IdMapping {
                outside: range.start,
                count: range.count,
            })
        }
    };
    let mut owned_dirs = Vec::new();
    if spec.namespaces.contains(NamespaceKind::Mnt) && spec.image != HOST_IMAGE {
        for dir in [&paths.upper, &paths.work] {
            make_dir(dir, 0o755)?;
            if let Some(m) = mapping {
                chown(dir, Some(m.outside), Some(m.outside)).map_err(io)?;
            }
            owned_dirs.push(dir.clone());
        }
    }
    let mut plan = plan::build(&id, &spec, &hostname, &paths, mapping, plan::host_facts());
    let mut log = StepLog::new();
    let cgroup = ContainerCgroup::create_with(
        &id,
        &spec.limits,
        &wanted_controllers(config, &spec.limits),
        &mut log,
    )?;
    plan.cgroup = cgroup_join(&cgroup);
    guard.cgroup = Some(cgroup);

    let (ours, theirs) = ControlChannel::pair()?;
    let (their_stdio, pipes) = stdio_fds(stdio, spec.tty)?;
    plan.start_now = start_now;
    // PID 1 can leave v1 groups cheaply ("0" to `tasks`); a cgroup2 move would
    // cost more than the wait it saves.
    plan.leave_cgroup_at_exit = config.release_before_teardown && plan.cgroup.v2_dir.is_none();
    let leaves_cgroup = plan.leave_cgroup_at_exit;
    let mut init_pid = None;
    // A forked PID 1 must name its state dir as the helper's does (`isolab gc` removes
    // an orphan only when its init names a state dir that is gone); it writes it over
    // the environment it inherits, and when that is too small the helper is used.
    let forked_environ = (config.fork_when_single_threaded && single_threaded())
        .then(|| forked_init_environ(&guard.state_dir))
        .flatten();
    if let Some(environ) = forked_environ {
        // No helper: PID 1 is cloned from here, and the plan is already in its memory.
        let pid = fork_init(&plan, their_stdio, theirs.into_fd(), &environ, &mut log)
            .map_err(|e| RuntimeError::init_failed(e.kind, e.step, e.error))?;
        init_pid = Some(pid);
        guard.init_pid = Some(pid);
        if let Some(m) = mapping {
            write_id_maps(pid, m)?;
            ours.send(&ControlMessage::UidMapped, &[])?;
        }
    } else {
        // The plan waits in the socket, so the helper reads it at once, with no
        // round trip through this process.
        let fds: Vec<BorrowedFd<'_>> = their_stdio.iter().map(|f| f.as_fd()).collect();
        ours.send(&ControlMessage::Plan(Box::new(plan.clone())), &fds)?;
        drop(fds);
        drop(their_stdio);
        guard.helper = Some(start_helper(config, theirs.into_fd(), &guard.state_dir)?);
    }

    let created = await_created(&ours, &mut guard, mapping, init_pid)?;
    log.extend(created.helper_steps);
    log.extend(created.steps);
    let mounts = plan
        .steps
        .iter()
        .filter(|s| {
            s.phase() == SetupPhase::Mounts
                && !matches!(
                    s,
                    PlannedStep::MakeDir { .. }
                        | PlannedStep::WriteFile { .. }
                        | PlannedStep::Symlink { .. }
                )
        })
        .map(|s| format!("{s:?}"))
        .collect();
    // Started by `run`: recorded as running now, so no second file write is needed.
    let now = crate::wall_clock::now_ms();
    let record = ContainerRecord {
        id,
        name,
        spec,
        status: if start_now {
            ContainerStatus::Running
        } else {
            ContainerStatus::Created
        },
        exit: None,
        init_pid: Some(created.init_pid),
        init_start_time: state::process_start_time(created.init_pid),
        created_at_ms: now,
        started_at_ms: start_now.then_some(now),
        state_dir,
        owned_dirs,
        mounts,
        cgroup: guard.cgroup.clone(),
        setup: log.into_steps(),
        isolation: IsolationFacts {
            devices: match &guard.cgroup {
                Some(cg) if cg.restricts_devices() => {
                    plan::DEVICE_RULES.iter().map(|r| r.to_string()).collect()
                }
                _ => Vec::new(),
            },
            ..created.isolation
        },
        init_tty_fd: created.init_tty_fd,
    };
    record.save()?;
    let cgroup = guard.cgroup.take();
    guard.armed = false;
    Ok(Launched {
        release_before_teardown: leaves_cgroup,
        record,
        channel: ours,
        cgroup,
        tty: created.tty,
        pipes,
    })
}

/// What init reports once the container is set up.
struct Created {
    init_pid: u32,
    /// The helper's steps (namespaces, id maps, clone), before PID 1's own.
    helper_steps: Vec<SetupStep>,
    steps: Vec<SetupStep>,
    isolation: IsolationFacts,
    /// The PTY master, with a tty.
    tty: Option<OwnedFd>,
    /// PID 1's own copy of the PTY master, by fd number.
    init_tty_fd: Option<i32>,
}

/// The runtime's side of the protocol with the helper and PID 1 until PID 1 is set
/// up: writes the id maps when asked, learns PID 1's pid, turns a reported failure
/// into its typed error. `init_pid` is known already when this process cloned PID 1.
fn await_created(
    ours: &ControlChannel,
    guard: &mut SetupGuard,
    mapping: Option<IdMapping>,
    init_pid: Option<u32>,
) -> Result<Created, RuntimeError> {
    let mut init_pid = init_pid;
    let mut helper_steps = Vec::new();
    let mut created = None;
    let mut tty = None;
    let mut init_tty_fd = None;
    while init_pid.is_none() || created.is_none() {
        match ours.recv() {
            Ok((ControlMessage::UidMapNeeded { pid }, _)) => {
                let m = mapping
                    .ok_or_else(|| RuntimeError::Protocol("unexpected id map request".into()))?;
                write_id_maps(pid, m)?;
                ours.send(&ControlMessage::UidMapped, &[])?;
            }
            Ok((
                ControlMessage::Spawned {
                    init_pid: pid,
                    steps,
                },
                _,
            )) => {
                helper_steps = steps;
                init_pid = Some(pid);
                guard.init_pid = Some(pid);
            }
            Ok((
                ControlMessage::Created {
                    steps,
                    isolation,
                    tty_fd_in_init,
                },
                mut fds,
            )) => {
                tty = fds.pop();
                init_tty_fd = tty_fd_in_init;
                created = Some((steps, isolation));
            }
            Ok((
                ControlMessage::Failed {
                    kind, step, error, ..
                },
                _,
            )) => {
                // PID 1 may fail before the helper's Spawned arrives: let the helper
                // finish, then find PID 1's pid in what it sent, so the guard reaps it.
                if guard.init_pid.is_none() {
                    if let Some(helper) = guard.helper.take() {
                        let _ = waitpid(helper, None);
                    }
                    while ours.readable_within(0) {
                        match ours.recv() {
                            Ok((ControlMessage::Spawned { init_pid: pid, .. }, _)) => {
                                guard.init_pid = Some(pid);
                            }
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                }
                return Err(RuntimeError::init_failed(kind, step, error));
            }
            Ok((other, _)) => return Err(RuntimeError::Protocol(format!("unexpected {other:?}"))),
            Err(e) => {
                let status = guard.helper.take().map(|h| waitpid(h, None));
                return Err(RuntimeError::Protocol(format!("{e} (helper: {status:?})")));
            }
        }
    }
    if let Some(helper) = guard.helper.take() {
        let _ = waitpid(helper, None);
    }
    match (init_pid, created) {
        (Some(init_pid), Some((steps, isolation))) => Ok(Created {
            init_pid,
            helper_steps,
            steps,
            isolation,
            tty,
            init_tty_fd,
        }),
        _ => Err(RuntimeError::Protocol("setup ended early".into())),
    }
}

/// Starts the init helper with `control` as its stdin: [`RuntimeConfig::helper_exe`]
/// re-exec'd through `std::process::Command`, so no code of ours runs between fork
/// and exec in a multi-threaded caller (the tokio server, the test harness). A
/// single-threaded caller (the CLI) skips the helper: see `fork_init`.
///
/// The helper's only environment names the state dir it was started for, so whoever
/// finds an `isolab-init` process on the host can tell which container, server or test
/// made it, even after its state dir is gone (`./x test` reports leftovers by it).
fn start_helper(
    config: &RuntimeConfig,
    control: OwnedFd,
    state_dir: &Path,
) -> Result<Pid, RuntimeError> {
    let child = std::process::Command::new(&config.helper_exe)
        .arg0(INIT_ARGV0)
        .env_clear()
        .env(super::orphans::STATE_DIR_ENV, state_dir)
        .stdin(std::process::Stdio::from(control))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| RuntimeError::Helper(config.helper_exe.clone(), e))?;
    // Reaped with waitpid by pid; dropping a Child neither kills nor waits.
    Ok(Pid::from_raw(child.id() as i32))
}

/// The environment a forked PID 1 shows (`ISOLAB_STATE_DIR=<state_dir>`, as the
/// helper's), if this process's own has room for it: PID 1 writes it over its copy.
fn forked_init_environ(state_dir: &Path) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let mut block = Vec::new();
    block.extend_from_slice(super::orphans::STATE_DIR_ENV.as_bytes());
    block.push(b'=');
    block.extend_from_slice(state_dir.as_os_str().as_bytes());
    block.push(0);
    let (start, end) = environ_area()?;
    (end.saturating_sub(start) >= block.len()).then_some(block)
}

/// Whether this process runs a single thread (the "Threads:" line of its status).
fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .is_some_and(|n| n.trim() == "1")
    })
}

/// Which directories the helper joins itself to (v1) or bears PID 1 into (v2).
fn cgroup_join(cg: &ContainerCgroup) -> plan::CgroupJoin {
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

/// Writes setgroups "deny" and the uid/gid maps of a helper in a new user namespace.
fn write_id_maps(pid: u32, m: IdMapping) -> Result<(), RuntimeError> {
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
