//! The lifecycle of a container made by this process: create (set up, stopped before
//! the command's exec), start, stop, kill, wait, delete; plus PTY resize.
//!
//! Every call blocks; the server runs them on blocking threads.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{chown, DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use isolab_shared::{
    limits::Limits, ContainerSpec, ContainerStatus, ExitStatus, NamespaceKind, SetupPhase,
    HOST_IMAGE,
};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use super::cgroup::{ContainerCgroup, Controller};
use super::channel::{ControlChannel, ControlMessage};
use super::launch::{cgroup_join, single_threaded, start_helper, stdio_fds, write_id_maps};
use super::plan::{self, ContainerPaths, IdMapping, PlannedStep};
use super::state::{self, ContainerRecord};
use super::steps::StepLog;
use super::{RuntimeConfig, RuntimeError};

/// Where the command's stdin, stdout and stderr go when it has no terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stdio {
    /// This process's own 0, 1 and 2 (the CLI).
    Inherit,
    /// New pipes; take this side with [`Container::take_pipes`].
    Pipes,
    /// /dev/null for all three.
    Null,
}

/// This side of the pipes of a container run with [`Stdio::Pipes`].
#[derive(Debug)]
pub struct ContainerPipes {
    /// Write end of the command's stdin.
    pub stdin: OwnedFd,
    /// Read end of its stdout.
    pub stdout: OwnedFd,
    /// Read end of its stderr.
    pub stderr: OwnedFd,
}

/// A container created by this process (its init is our child).
#[derive(Debug)]
pub struct Container {
    /// PID 1 leaves the cgroup before it reports its command's end
    /// ([`RuntimeConfig::release_before_teardown`]).
    release_before_teardown: bool,
    record: ContainerRecord,
    channel: ControlChannel,
    cgroup: Option<ContainerCgroup>,
    tty: Option<OwnedFd>,
    pipes: Option<ContainerPipes>,
}

/// What PID 1 has said about its command's end so far.
#[derive(Default)]
struct EndReport {
    /// The command's exit code or signal.
    exited: Option<(Option<i32>, Option<i32>)>,
    /// The command could not be exec'd.
    exec_failed: Option<RuntimeError>,
}

impl EndReport {
    fn is_known(&self) -> bool {
        self.exited.is_some() || self.exec_failed.is_some()
    }
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

/// Checks what can fail before anything is created.
fn preflight(config: &RuntimeConfig, spec: &ContainerSpec) -> Result<(), RuntimeError> {
    if !nix::unistd::geteuid().is_root() {
        return Err(RuntimeError::NotRoot);
    }
    spec.validate()?;
    for kind in spec.namespaces.iter() {
        // lstat: the link's presence says the kernel has the kind; following it into
        // nsfs would cost more than the rest of this check.
        if std::fs::symlink_metadata(Path::new("/proc/self/ns").join(kind.name())).is_err() {
            return Err(RuntimeError::NamespaceUnsupported(kind));
        }
    }
    if spec.image != HOST_IMAGE && !Path::new(&spec.image).is_dir() {
        return Err(RuntimeError::ImageMissing(spec.image.clone()));
    }
    if let Some(name) = &spec.name {
        if state::list(&config.state_root)
            .iter()
            .any(|r| &r.name == name)
        {
            return Err(RuntimeError::NameTaken(name.clone()));
        }
    }
    Ok(())
}

fn new_id() -> String {
    format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

fn make_dir(path: &Path, mode: u32) -> Result<(), RuntimeError> {
    let io = |e| RuntimeError::StateDir(path.to_path_buf(), e);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io)
}

impl Container {
    /// Sets a container up: namespaces, root filesystem, cgroup, hardening. Its command
    /// is not started yet. On error nothing is left behind.
    pub fn create(
        config: &RuntimeConfig,
        spec: &ContainerSpec,
        stdio: Stdio,
    ) -> Result<Container, RuntimeError> {
        Self::make(config, spec, stdio, false)
    }

    /// Creates and starts in one go: init runs the command right after setup, without
    /// waiting for [`Container::start`] (one round trip less). An exec error then
    /// shows in [`Container::wait`].
    pub fn run(
        config: &RuntimeConfig,
        spec: &ContainerSpec,
        stdio: Stdio,
    ) -> Result<Container, RuntimeError> {
        Self::make(config, spec, stdio, true)
    }

    fn make(
        config: &RuntimeConfig,
        spec: &ContainerSpec,
        stdio: Stdio,
        start_now: bool,
    ) -> Result<Container, RuntimeError> {
        preflight(config, spec)?;
        let mut spec = spec.clone();
        if spec.image != HOST_IMAGE {
            spec.image = std::fs::canonicalize(&spec.image)
                .map_err(|_| RuntimeError::ImageMissing(spec.image.clone()))?
                .display()
                .to_string();
        }
        let id = new_id();
        let name = spec.name.clone().unwrap_or_else(|| id.clone());
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
        let mapping = user_ns.then_some(IdMapping {
            outside: config.id_map_base,
            count: config.id_map_count,
        });
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
        )
        .map_err(|e| RuntimeError::Cgroup(e.to_string()))?;
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
        if config.fork_when_single_threaded && single_threaded() {
            // No helper: PID 1 is cloned from here, and the plan is already in its memory.
            let pid =
                super::init_process::fork_init(&plan, their_stdio, theirs.into_fd(), &mut log)
                    .map_err(|e| RuntimeError::SetupFailed {
                        step: e.step,
                        error: e.error,
                    })?;
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
            guard.helper = Some(start_helper(config, theirs.into_fd())?);
        }

        let mut helper_steps = Vec::new();
        let mut created = None;
        let mut tty = None;
        let mut init_tty_fd = None;
        while init_pid.is_none() || created.is_none() {
            match ours.recv() {
                Ok((ControlMessage::UidMapNeeded { pid }, _)) => {
                    let m = mapping.ok_or_else(|| {
                        RuntimeError::Protocol("unexpected id map request".into())
                    })?;
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
                Ok((ControlMessage::Failed { step, error, .. }, _)) => {
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
                    if step == super::init_process::FIND_COMMAND_STEP {
                        return Err(RuntimeError::CommandNotFound(error));
                    }
                    if step == super::reaper::EXEC_STEP {
                        return Err(RuntimeError::CommandNotExecutable(error));
                    }
                    return Err(RuntimeError::SetupFailed { step, error });
                }
                Ok((other, _)) => {
                    return Err(RuntimeError::Protocol(format!("unexpected {other:?}")))
                }
                Err(e) => {
                    let status = guard.helper.take().map(|h| waitpid(h, None));
                    return Err(RuntimeError::Protocol(format!("{e} (helper: {status:?})")));
                }
            }
        }
        if let Some(helper) = guard.helper.take() {
            let _ = waitpid(helper, None);
        }
        let (init_pid, (steps, isolation)) = match (init_pid, created) {
            (Some(p), Some(c)) => (p, c),
            _ => return Err(RuntimeError::Protocol("setup ended early".into())),
        };
        log.extend(helper_steps);
        log.extend(steps);
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
        let now = state::now_ms();
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
            init_pid: Some(init_pid),
            init_start_time: state::process_start_time(init_pid),
            created_at_ms: now,
            started_at_ms: start_now.then_some(now),
            state_dir,
            owned_dirs,
            mounts,
            cgroup: guard.cgroup.clone(),
            setup: log.into_steps(),
            isolation,
            init_tty_fd,
        };
        record.save()?;
        let cgroup = guard.cgroup.take();
        guard.armed = false;
        Ok(Container {
            release_before_teardown: leaves_cgroup,
            record,
            channel: ours,
            cgroup,
            tty,
            pipes,
        })
    }

    /// The container's id.
    pub fn id(&self) -> &str {
        &self.record.id
    }

    /// What the state dir holds about it.
    pub fn record(&self) -> &ContainerRecord {
        &self.record
    }

    /// Host PID of its init.
    pub fn init_pid(&self) -> Option<u32> {
        self.record.init_pid
    }

    /// Its cgroup.
    pub fn cgroup(&self) -> Option<&ContainerCgroup> {
        self.cgroup.as_ref()
    }

    /// The PTY master (with a tty), once.
    pub fn take_tty(&mut self) -> Option<OwnedFd> {
        self.tty.take()
    }

    /// Our side of the pipes (with [`Stdio::Pipes`]), once.
    pub fn take_pipes(&mut self) -> Option<ContainerPipes> {
        self.pipes.take()
    }

    /// Runs the command. A command that cannot be exec'd is an error, and the container
    /// is then exited (status 127).
    pub fn start(&mut self) -> Result<(), RuntimeError> {
        self.channel.send(&ControlMessage::Start, &[])?;
        match self.channel.recv()? {
            (ControlMessage::Started { steps }, _) => self.record.mark_started(steps),
            (ControlMessage::Failed { step, error, steps }, _) => {
                self.record.setup.extend(steps);
                let _ = self.wait();
                Err(RuntimeError::SetupFailed { step, error })
            }
            (other, _) => Err(RuntimeError::Protocol(format!("unexpected {other:?}"))),
        }
    }

    /// Sends `signal` to the container's init, which forwards it to the command.
    pub fn kill(&self, signal: Signal) -> Result<(), RuntimeError> {
        if self.record.status == ContainerStatus::Exited || !self.record.init_alive() {
            return Err(RuntimeError::NotRunning(self.record.id.clone()));
        }
        let pid = self.record.init_pid.unwrap_or(0) as i32;
        nix::sys::signal::kill(Pid::from_raw(pid), signal).map_err(|e| RuntimeError::Sys("kill", e))
    }

    /// SIGTERM, then SIGKILL (to every process of the container) after `grace`.
    pub fn stop(&mut self, grace: Duration) -> Result<ExitStatus, RuntimeError> {
        if self.record.status != ContainerStatus::Exited {
            let _ = self.kill(Signal::SIGTERM);
            let ms = i32::try_from(grace.as_millis()).unwrap_or(i32::MAX);
            if !self.channel.readable_within(ms) {
                self.kill_everything();
            }
        }
        self.wait()
    }

    fn kill_everything(&self) {
        let _ = self.kill(Signal::SIGKILL);
        if let Some(cg) = &self.cgroup {
            let _ = cg.kill_all();
        }
    }

    /// Waits for the command to end; gives its exit code or signal, and whether the
    /// OOM killer struck.
    pub fn wait(&mut self) -> Result<ExitStatus, RuntimeError> {
        self.wait_inner(true)
    }

    /// Waits for the command to end, then deletes the container (`run --rm`); the exit
    /// status is not written to the state dir that is about to go.
    pub fn wait_and_delete(mut self) -> Result<ExitStatus, RuntimeError> {
        let waited = self.wait_inner(false);
        let deleted = self.delete();
        let exit = waited?;
        deleted.map(|()| exit)
    }

    fn wait_inner(&mut self, persist: bool) -> Result<ExitStatus, RuntimeError> {
        if let Some(exit) = &self.record.exit {
            return Ok(exit.clone());
        }
        let mut end = EndReport::default();
        // One message at a time until the command runs (or cannot); after that PID 1
        // sends only its command's end, which waits in the socket while we sleep in
        // waitpid. One wakeup at the end, not one per message and one more for EOF.
        // `run`'s PID 1 reports once, after its command started: no Started follows.
        if self.record.status != ContainerStatus::Running {
            self.read_until(&mut end, |m| matches!(m, ControlMessage::Started { .. }))?;
        }
        // With `release_before_teardown`, PID 1 reports the end once it has left the
        // container's groups: they can be removed while its namespaces are torn down,
        // and the caller, which exits next, need not reap it. Without a report (PID 1
        // failed or died) it is reaped as usual; a kept container always is, so that
        // its record says it is gone.
        let released = self.release_before_teardown
            && self.read_until(&mut end, |_| false)?
            && end.exec_failed.is_none();
        let waited = if released && !persist {
            None
        } else {
            let pid = Pid::from_raw(self.record.init_pid.unwrap_or(0) as i32);
            Some(loop {
                match waitpid(pid, None) {
                    Err(nix::Error::EINTR) => continue,
                    other => break other,
                }
            })
        };
        while self.channel.readable_within(0) {
            match self.channel.recv() {
                Ok((message, _)) => self.take_message(message, &mut end)?,
                Err(_) => break,
            }
        }
        let (code, signal) = match (end.exited, waited) {
            (Some(r), _) => r,
            (None, Some(Ok(WaitStatus::Exited(_, c)))) => (Some(c), None),
            (None, Some(Ok(WaitStatus::Signaled(_, s, _)))) => (None, Some(s as i32)),
            (None, _) => (None, None),
        };
        let oom_killed = self.cgroup.as_ref().is_some_and(|cg| cg.oom_kills() > 0);
        let exit = ExitStatus {
            code,
            signal,
            oom_killed,
        };
        if persist {
            self.record.mark_exited(exit.clone())?;
        } else {
            self.record.status = ContainerStatus::Exited;
            self.record.exit = Some(exit.clone());
        }
        if let Some(e) = end.exec_failed {
            return Err(e);
        }
        Ok(exit)
    }

    /// Reads PID 1's messages until one satisfies `stop` or the end is known; false
    /// when the channel closed first.
    fn read_until(
        &mut self,
        end: &mut EndReport,
        stop: fn(&ControlMessage) -> bool,
    ) -> Result<bool, RuntimeError> {
        while !end.is_known() {
            let Ok((message, _)) = self.channel.recv() else {
                return Ok(false);
            };
            let stop_here = stop(&message);
            self.take_message(message, end)?;
            if stop_here {
                break;
            }
        }
        Ok(true)
    }

    /// Folds one message from PID 1 into what `wait` reports.
    fn take_message(
        &mut self,
        message: ControlMessage,
        end: &mut EndReport,
    ) -> Result<(), RuntimeError> {
        match message {
            ControlMessage::Exited { code, signal } => end.exited = Some((code, signal)),
            ControlMessage::Started { steps } => {
                if self.record.status == ContainerStatus::Running {
                    self.record.setup.extend(steps);
                } else {
                    self.record.mark_started(steps)?;
                }
            }
            ControlMessage::Failed { step, error, steps } => {
                self.record.setup.extend(steps);
                end.exec_failed = Some(RuntimeError::SetupFailed { step, error });
            }
            _ => {}
        }
        Ok(())
    }

    /// Changes the cgroup limits of the running container.
    pub fn set_limits(&mut self, limits: &Limits) -> Result<(), RuntimeError> {
        limits
            .validate()
            .map_err(|e| RuntimeError::Spec(e.into()))?;
        let cg = self
            .cgroup
            .as_ref()
            .ok_or_else(|| RuntimeError::Cgroup("no cgroup".into()))?;
        let mut log = StepLog::new();
        cg.set_limits(limits, &mut log)
            .map_err(|e| RuntimeError::Cgroup(e.to_string()))?;
        self.record.spec.limits = limits.clone();
        self.record.setup.extend(log.into_steps());
        self.record.save()
    }

    /// Kills what still runs, reaps it, and removes the cgroup, the container's host
    /// directories and its state dir.
    pub fn delete(mut self) -> Result<(), RuntimeError> {
        if self.record.status != ContainerStatus::Exited {
            self.kill_everything();
            let _ = self.wait();
        }
        if let Some(cg) = self.cgroup.take() {
            cg.remove()
                .map_err(|e| RuntimeError::Cgroup(e.to_string()))?;
        }
        state::remove_state_dir(&self.record.state_dir)
    }
}

/// Takes back the PTY master that a running container's PID 1 keeps (see
/// [`ContainerRecord::init_tty_fd`]): for a server that adopts the container after a
/// restart. `None` when it has no terminal or its PID 1 is gone.
pub fn adopted_tty(record: &ContainerRecord) -> Option<OwnedFd> {
    let (pid, fd) = (record.init_pid?, record.init_tty_fd?);
    if !record.init_alive() {
        return None;
    }
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if pidfd < 0 {
        return None;
    }
    // SAFETY: pidfd_open returned a new fd that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd as i32) };
    // The pidfd pins the process; check that it is still the recorded PID 1.
    if !record.init_alive() {
        return None;
    }
    // SAFETY: pidfd_getfd takes a pidfd, a fd number and flags; it returns a new fd
    // (close-on-exec) or -1.
    let master = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) };
    if master < 0 {
        return None;
    }
    // SAFETY: pidfd_getfd returned a new fd that nothing else owns.
    Some(unsafe { OwnedFd::from_raw_fd(master as i32) })
}

/// Sets a PTY's window size (TIOCSWINSZ); the command gets SIGWINCH.
pub fn resize(master: BorrowedFd<'_>, cols: u16, rows: u16) -> Result<(), RuntimeError> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads the winsize we pass.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(RuntimeError::Sys("TIOCSWINSZ", nix::Error::last()));
    }
    Ok(())
}
