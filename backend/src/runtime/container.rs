//! The lifecycle of a container made by this process: create (set up, stopped before
//! the command's exec; the making is in [`super::launch`]), start, stop, kill, wait,
//! delete; and the terminal of an adopted container.
//!
//! Every call blocks; the server runs them on blocking threads.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use isolab_shared::{limits::Limits, ContainerSpec, ContainerStatus, ExitStatus};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use super::cgroup::ContainerCgroup;
use super::channel::{ControlChannel, ControlMessage};
use super::launch::launch;
use super::state::{self, ContainerRecord};
use super::stdio::{ContainerPipes, Stdio};
use super::steps::StepLog;
use super::{RuntimeConfig, RuntimeError};

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
        let launched = launch(config, spec, stdio, start_now)?;
        Ok(Container {
            release_before_teardown: launched.release_before_teardown,
            record: launched.record,
            channel: launched.channel,
            cgroup: launched.cgroup,
            tty: launched.tty,
            pipes: launched.pipes,
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
            (
                ControlMessage::Failed {
                    kind,
                    step,
                    error,
                    steps,
                },
                _,
            ) => {
                self.record.setup.extend(steps);
                let _ = self.wait();
                Err(RuntimeError::init_failed(kind, step, error))
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
            ControlMessage::Failed {
                kind,
                step,
                error,
                steps,
            } => {
                self.record.setup.extend(steps);
                end.exec_failed = Some(RuntimeError::init_failed(kind, step, error));
            }
            _ => {}
        }
        Ok(())
    }

    /// Changes the cgroup limits of the running container.
    pub fn set_limits(&mut self, limits: &Limits) -> Result<(), RuntimeError> {
        limits.validate()?;
        let cg = self
            .cgroup
            .as_ref()
            .ok_or_else(|| RuntimeError::NoCgroup(self.record.id.clone()))?;
        let mut log = StepLog::new();
        cg.set_limits(limits, &mut log)?;
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
            cg.remove()?;
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
